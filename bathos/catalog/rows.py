"""`Rows`, the result of every catalog query, and the columns a listing (`bth ls`, `find`) shows."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, SupportsFloat

from bathos.timespec import iso_utc, parse_iso_utc

if TYPE_CHECKING:
    import duckdb
    import polars as pl
    import pyarrow as pa

LISTING_COLUMNS = (
    "id", "project", "status", "name", "script", "started_at", "ended_at", "duration_s",
    "exit_code", "signal", "hostname", "user", "commit", "branch", "dirty", "slurm_job_id",
    "slurm_array_job_id", "slurm_array_task_id", "tags", "parent_run_id", "campaign_id",
    "agent_mode", "argv", "params", "results",
)


class Rows:
    """A query result: iterate it (or `to_dicts()`) for one dict per row, or take it whole as
    `to_polars()` / `to_arrow()`.

    >>> rows = bathos.Catalog().runs(status="failed")
    >>> len(rows), rows.columns[:3]
    >>> rows[0]["id"]
    >>> rows.to_polars().group_by("script").len()

    Dicts are JSON-ready (what `bth ls --json` prints): times as ISO-8601 UTC strings, JSON columns
    (`params`, `results`, `record`, …) parsed. Frames keep the DuckDB types (times as datetimes,
    JSON columns as text).
    """

    def __init__(self, columns: Sequence[str], types: Sequence[str],
                 tuples: list[tuple[Any, ...]]) -> None:
        self.columns: tuple[str, ...] = tuple(columns)
        self.types: tuple[str, ...] = tuple(types)  # DuckDB type names, one per column
        self._tuples = tuples

    @classmethod
    def from_relation(cls, rel: duckdb.DuckDBPyRelation) -> Rows:
        """Fetch a DuckDB relation."""
        return cls(rel.columns, [str(t) for t in rel.types], rel.fetchall())

    @classmethod
    def from_dicts(cls, columns: Sequence[str], types: Sequence[str],
                   data: list[dict[str, Any]]) -> Rows:
        """Rows from JSON-ready dicts of the given columns and DuckDB types (the inverse of
        `to_dicts` for the types of the `runs` view)."""
        return cls(columns, types, [
            tuple(_from_plain(row[name], kind) for name, kind in zip(columns, types, strict=True))
            for row in data
        ])

    def __len__(self) -> int:
        return len(self._tuples)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.to_dicts())

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self._as_dict(self._tuples[index])

    def __repr__(self) -> str:
        first = Rows(self.columns, self.types, self._tuples[:10])  # only what is shown is built
        shown = first.to_polars() if self._tuples else "(no rows)"
        return f"Rows: {len(self)} row(s), {len(self.columns)} column(s)\n{shown}"

    def _repr_html_(self) -> str:
        """The frame's table, as a notebook shows it."""
        html: str = self.to_polars()._repr_html_()
        return html

    def tuples(self) -> list[tuple[Any, ...]]:
        """The rows as tuples of the values DuckDB gives (datetimes, JSON columns as text)."""
        return self._tuples

    def to_dicts(self) -> list[dict[str, Any]]:
        """One JSON-ready dict per row: times as ISO-8601 UTC, JSON columns parsed."""
        return [self._as_dict(row) for row in self._tuples]

    def to_polars(self) -> pl.DataFrame:
        """A polars DataFrame with one column per result column, typed as DuckDB typed it."""
        import polars as pl

        types = _polars_types()
        known = {name: types[kind] for name, kind in zip(self.columns, self.types, strict=True)
                 if kind in types}
        return pl.DataFrame(self._tuples, schema=list(self.columns), orient="row",
                            schema_overrides=known, infer_schema_length=None)

    def to_arrow(self) -> pa.Table:
        """A pyarrow Table (the polars frame's)."""
        return self.to_polars().to_arrow()

    def _as_dict(self, row: tuple[Any, ...]) -> dict[str, Any]:
        return {
            name: (json.loads(v) if kind == "JSON" and v is not None else plain(v))
            for name, kind, v in zip(self.columns, self.types, row, strict=True)
        }


def plain(value: Any) -> Any:
    """A DuckDB value as JSON-ready data: times as ISO-8601 (UTC), intervals in seconds."""
    if value is None or isinstance(value, str | int | float):
        return value
    if isinstance(value, dt.datetime):
        return iso_utc(value)
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, SupportsFloat):
        return float(value)  # DECIMAL columns (decimal.Decimal, not imported unless used)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def _from_plain(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind == "TIMESTAMP":
        return parse_iso_utc(value).replace(tzinfo=None)
    if kind == "JSON":
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return value


def _polars_types() -> dict[str, Any]:
    """DuckDB type name -> polars type, for the types whose values polars would not infer as
    DuckDB typed them (all-null columns, JSON text, narrow integers)."""
    import polars as pl

    return {
        "VARCHAR": pl.String, "JSON": pl.String, "BOOLEAN": pl.Boolean,
        "TINYINT": pl.Int8, "SMALLINT": pl.Int16, "INTEGER": pl.Int32, "BIGINT": pl.Int64,
        "UTINYINT": pl.UInt8, "USMALLINT": pl.UInt16, "UINTEGER": pl.UInt32,
        "UBIGINT": pl.UInt64, "FLOAT": pl.Float32, "DOUBLE": pl.Float64,
        "DATE": pl.Date, "TIME": pl.Time, "TIMESTAMP": pl.Datetime("us"),
        "TIMESTAMP WITH TIME ZONE": pl.Datetime("us", "UTC"), "INTERVAL": pl.Duration("us"),
        "VARCHAR[]": pl.List(pl.String),
    }


"""`Rows`, the result of every catalog query, and the columns a listing (`bth ls`, `find`) shows."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, SupportsFloat, Union

from bathos.errors import ConfigError
from bathos.timespec import iso_utc, parse_iso_utc

if TYPE_CHECKING:
    import duckdb
    import polars as pl
    import pyarrow as pa

LISTING_COLUMNS = (
    "id", "project", "status", "name", "script", "started_at", "ended_at", "duration_s",
    "exit_code", "signal", "hostname", "user", "commit", "branch", "dirty", "slurm_job_id",
    "slurm_array_job_id", "slurm_array_task_id", "tags", "parent_run_id", "campaign_id",
    "agent_mode", "argv", "params", "results", "outcome",
)
# The JSON columns of a listing whose objects frames type key by key (see `Rows.objects`).
OBJECT_COLUMNS = ("params", "results")
# Params hold the text a command line gave; their values are read as numbers and booleans.
_TEXT_VALUED = "params"
# A key's type (a DuckDB type name), or the shape of the objects it holds.
Shape = dict[str, Union[str, "Shape"]]


class Rows:
    """A query result: iterate it (or `to_dicts()`) for one dict per row, or take it whole as
    `to_polars()` / `to_arrow()`.

    >>> rows = bathos.Catalog().runs(status="failed")
    >>> len(rows), rows.columns[:3]
    >>> rows[0]["id"]
    >>> rows.to_polars().group_by("script").len()

    Dicts are JSON-ready (what `bth ls --json` prints): times as ISO-8601 UTC strings, JSON columns
    (`params`, `results`, `record`, …) parsed, params as the text they were given. Frames keep the
    DuckDB types (times as datetimes, JSON columns as text), but the `objects` columns (`params`
    and `results` of `Catalog.runs`) are typed key by key (see `to_polars`).
    """

    def __init__(self, columns: Sequence[str], types: Sequence[str],
                 tuples: list[tuple[Any, ...]], *, objects: Sequence[str] = ()) -> None:
        self.columns: tuple[str, ...] = tuple(columns)
        self.types: tuple[str, ...] = tuple(types)  # DuckDB type names, one per column
        self.objects: tuple[str, ...] = tuple(objects)  # JSON columns typed key by key
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
        first = self._like(self._tuples[:10])  # only what is shown is built
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
        """A polars DataFrame with one column per result column, typed as DuckDB typed it; an
        `objects` column is a Struct over the union of its keys, each key typed by its values
        (as `flattened` types them), so `pl.col("params").struct.field("lr")` sorts as numbers.
        """
        import polars as pl

        types = _polars_types()
        known = {name: types[kind] for name, kind in zip(self.columns, self.types, strict=True)
                 if kind in types}
        frame = pl.DataFrame(self._tuples, schema=list(self.columns), orient="row",
                             schema_overrides=known, infer_schema_length=None)
        for name in self.objects:
            values = self._parsed(name)
            shape = _shape(values, text=name == _TEXT_VALUED)
            frame = frame.with_columns(pl.Series(
                name, [_typed(v, shape, text=name == _TEXT_VALUED) for v in values],
                dtype=_struct(shape, types)))
        return frame

    def to_arrow(self) -> pa.Table:
        """A pyarrow Table (the polars frame's)."""
        return self.to_polars().to_arrow()

    def flattened(self) -> Rows:
        """These rows with each `objects` column replaced by one column per key (`params.lr`,
        `results.loss`), keys sorted, each typed by all its values: params (recorded as text)
        that all read as integers are BIGINT, as numbers DOUBLE, as true/false BOOLEAN; results
        keep their JSON types (integers with floats are DOUBLE); a key of mixed types is text
        (VARCHAR), a list is JSON, and a nested object stays one column (a Struct in frames).

        >>> cat.runs(since="7d").flattened().to_polars().sort("results.loss")
        """
        columns: list[tuple[str, str, list[Any]]] = []
        objects = []
        for i, (name, kind) in enumerate(zip(self.columns, self.types, strict=True)):
            if name not in self.objects:
                columns.append((name, kind, [row[i] for row in self._tuples]))
                continue
            values = self._parsed(name)
            text = name == _TEXT_VALUED
            for key, sub in _shape(values, text=text).items():
                cells = [v.get(key) if isinstance(v, dict) else None for v in values]
                if isinstance(sub, dict):  # kept whole, typed when a frame is made
                    objects.append(f"{name}.{key}")
                    sub, cells = "JSON", [_json_text(c) for c in cells]
                else:
                    cells = [_typed(c, sub, text=text) for c in cells]
                columns.append((f"{name}.{key}", sub, cells))
        return Rows([c[0] for c in columns], [c[1] for c in columns],
                    list(zip(*(c[2] for c in columns), strict=True)), objects=objects)

    def select(self, names: Sequence[str]) -> Rows:
        """Only the columns `names`, in that order: columns of these rows, or keys of an
        `objects` column as `flattened` names them (`params.lr`). A name no column or key has
        is a ConfigError naming those there are (with no rows, any key is an empty column).

        >>> cat.runs(limit=5).select(["id", "params.lr", "results.loss"]).to_dicts()
        """
        names = list(dict.fromkeys(names))
        flat = self.flattened() if any(n not in self.columns for n in names) else self
        picked: list[tuple[Rows, int]] = []
        for name in names:
            source = self if name in self.columns else flat
            if name in source.columns:
                picked.append((source, source.columns.index(name)))
            elif not self and name.partition(".")[0] in self.objects:
                picked.append((Rows([name], ["VARCHAR"], []), 0))
            else:
                there = [*self.columns, *(c for c in flat.columns if c not in self.columns)]
                raise ConfigError(f"no column {name!r} in these rows (they have: "
                                  f"{', '.join(there)})")
        tuples = [tuple(rows._tuples[n][i] for rows, i in picked) for n in range(len(self))]
        return Rows(names, [rows.types[i] for rows, i in picked], tuples,
                    objects=[n for (rows, i), n in zip(picked, names, strict=True)
                             if rows.columns[i] in rows.objects])

    def sorted_by(self, name: str, *, descending: bool = False,
                  limit: int | None = None) -> Rows:
        """These rows ordered by column `name` (or a key, as `select` names them), numbers as
        numbers, rows without a value last, ties in their order here; the first `limit`.

        >>> cat.runs(since="7d", limit=None).sorted_by("results.loss", limit=5)
        """
        values = [row[0] for row in self.select([name])._tuples]
        present = sorted((n for n, v in enumerate(values) if v is not None),
                         key=lambda n: values[n], reverse=descending)
        order = [*present, *(n for n, v in enumerate(values) if v is None)][:limit]
        return self._like([self._tuples[n] for n in order])

    def _like(self, tuples: list[tuple[Any, ...]]) -> Rows:
        return Rows(self.columns, self.types, tuples, objects=self.objects)

    def _parsed(self, name: str) -> list[Any]:
        i = self.columns.index(name)
        return [None if row[i] is None else json.loads(row[i]) for row in self._tuples]

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
    return _json_text(value) if kind == "JSON" else value


def _shape(objects: Iterable[Any], *, text: bool) -> Shape:
    """The keys of `objects` (dicts; anything else counts as none), sorted, each with the one type
    all its values have (None aside); `text` values are read as `param_value` reads them."""
    kinds: dict[str, set[str]] = {}
    nested: dict[str, list[dict[str, Any]]] = {}
    for obj in objects:
        if not isinstance(obj, dict):
            continue
        for key, value in obj.items():
            found = kinds.setdefault(key, set())
            if value is not None:
                found.add(_kind(value, text=text))
            if isinstance(value, dict):
                nested.setdefault(key, []).append(value)
    return {key: _shape(nested[key], text=False) if found == {"STRUCT"} else _common(found)
            for key, found in sorted(kinds.items())}


def _kind(value: Any, *, text: bool) -> str:
    if text and isinstance(value, str):
        from bathos.provenance.params import param_value

        value = param_value(value)
    if isinstance(value, bool):
        return "BOOLEAN"
    if isinstance(value, int):
        return "BIGINT" if -(2**63) <= value < 2**63 else "DOUBLE"
    if isinstance(value, float):
        return "DOUBLE"
    if isinstance(value, str):
        return "VARCHAR"
    return "STRUCT" if isinstance(value, dict) else "JSON"


def _common(kinds: set[str]) -> str:
    """The type of a key whose values have these types: numbers together are DOUBLE; mixed
    types (or none at all, every value null) are text."""
    if kinds == {"BIGINT", "DOUBLE"}:
        return "DOUBLE"
    return next(iter(kinds)) if len(kinds) == 1 else "VARCHAR"


def _typed(value: Any, kind: str | Shape, *, text: bool) -> Any:
    """`value` as a column of type `kind` holds it (an object by its shape, for a frame)."""
    if value is None:
        return None
    if isinstance(kind, dict):
        return ({key: _typed(value.get(key), sub, text=text) for key, sub in kind.items()}
                if isinstance(value, dict) else None)
    if text and isinstance(value, str) and kind != "VARCHAR":
        from bathos.provenance.params import param_value

        value = param_value(value)
    if kind == "DOUBLE":
        return float(value)
    if kind == "JSON" or (kind == "VARCHAR" and not isinstance(value, str)):
        return _json_text(value)
    return value


def _json_text(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False,
                                                 separators=(",", ":"))


def _struct(shape: Shape, types: dict[str, Any]) -> Any:
    import polars as pl

    return pl.Struct({key: _struct(sub, types) if isinstance(sub, dict) else types[sub]
                      for key, sub in shape.items()})


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


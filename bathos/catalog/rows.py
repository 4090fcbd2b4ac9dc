"""Query results as plain data: `Rows`, and the columns a listing (`bth ls`, `bth find`) shows."""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any, SupportsFloat

import attrs

if TYPE_CHECKING:
    import duckdb

LISTING_COLUMNS = (
    "id", "project", "status", "name", "script", "started_at", "ended_at", "duration_s",
    "exit_code", "signal", "hostname", "user", "commit", "branch", "dirty", "slurm_job_id",
    "slurm_array_job_id", "slurm_array_task_id", "tags", "parent_run_id", "campaign_id",
    "agent_mode", "argv", "params", "results",
)


def _plain(value: Any) -> Any:
    """A DuckDB value as JSON-ready data: times as ISO-8601 (UTC), intervals in seconds."""
    if value is None or isinstance(value, str | int | float):
        return value
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return aware.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, SupportsFloat):
        return float(value)  # DECIMAL columns (decimal.Decimal, not imported unless used)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


@attrs.frozen
class Rows:
    """A query result as plain Python rows; `to_data()` is what `--json` prints."""

    columns: tuple[str, ...]
    types: tuple[str, ...]
    rows: list[tuple[Any, ...]]

    def __len__(self) -> int:
        return len(self.rows)

    def to_data(self) -> list[dict[str, Any]]:
        """JSON-ready dicts: times as ISO-8601 UTC, JSON columns parsed."""
        json_cols = {i for i, t in enumerate(self.types) if t == "JSON"}
        return [
            {
                name: (json.loads(v) if i in json_cols and v is not None else _plain(v))
                for i, (name, v) in enumerate(zip(self.columns, row, strict=True))
            }
            for row in self.rows
        ]




def to_rows(rel: duckdb.DuckDBPyRelation) -> Rows:
    """Fetch a DuckDB relation as `Rows`."""
    return Rows(columns=tuple(rel.columns), types=tuple(str(t) for t in rel.types),
                rows=rel.fetchall())

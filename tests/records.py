"""Run records for tests, built through the library's own models."""

from __future__ import annotations

from typing import Any

import bathos
from bathos import RunQuery
from bathos.catalog.rows import LISTING_COLUMNS
from bathos.ids import new_run_id
from bathos.models import Run, utcnow


def make_run(**fields: Any) -> Run:
    """A finished run of project `demo`, started now; any field can be given."""
    started = fields.pop("started_at", None) or utcnow()
    fields.setdefault("id", new_run_id())
    fields.setdefault("project", "demo")
    fields.setdefault("status", "completed")
    fields.setdefault("updated_at", started)
    return Run(started_at=started, **fields)


def by_duckdb(catalog: bathos.Catalog, query: RunQuery) -> list[dict[str, Any]]:
    """What the `runs` view answers to a listing query, asked of DuckDB (the oracle of the
    listings `Catalog.runs` answers from the rows compaction keeps)."""
    return catalog.sql(*query.resolved().to_sql(LISTING_COLUMNS)).to_dicts()

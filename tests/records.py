"""Run records for tests, built through the library's own models."""

from __future__ import annotations

from typing import Any

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

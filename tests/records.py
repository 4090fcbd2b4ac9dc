"""Run records for tests, built through the library's own models."""

from __future__ import annotations

import datetime as dt
from typing import Any

import bathos
from bathos import RunQuery
from bathos.catalog.rows import LISTING_COLUMNS
from bathos.ids import new_run_id
from bathos.models import Git, Host, Output, Run, Slurm, utcnow


def make_run(**fields: Any) -> Run:
    """A finished run of project `demo`, started now; any field can be given."""
    started = fields.pop("started_at", None) or utcnow()
    fields.setdefault("id", new_run_id())
    fields.setdefault("project", "demo")
    fields.setdefault("status", "completed")
    fields.setdefault("updated_at", started)
    return Run(started_at=started, **fields)


def sample_runs(now: dt.datetime) -> dict[str, Run]:
    """Four runs that every query filter tells apart, newest first: c (beta, on a laptop), b
    (alpha, failed on a dirty tree), a (alpha, the baseline) and d (beta, interrupted long ago);
    a and b are tasks of one SLURM job array in campaign c1."""
    return {
        "a": make_run(
            project="alpha", started_at=now - dt.timedelta(days=10), tags=("baseline", "gpu"),
            script="scripts/experiments/train.py", params={"lr": "0.1", "n_steps": "1000"},
            host=Host("node01.cluster", "ana", 1), git=Git("/r", "aaaa1111" + "0" * 32),
            slurm=Slurm("5001", array_job_id="5000", array_task_id="1"),
            outputs=(Output("outputs/run1.parquet", 10, "sha256:1"),), campaign_id="c1",
        ),
        "b": make_run(
            project="alpha", started_at=now - dt.timedelta(days=2), status="failed",
            tags=("gpu",), script="scripts/experiments/eval.py", params={"lr": "0.01"},
            host=Host("node02.cluster", "ana", 1),
            git=Git("/r", "bbbb2222" + "0" * 32, dirty=True, snapshot="cccc3333" + "0" * 32),
            slurm=Slurm("5002", array_job_id="5000", array_task_id="2"),
            outputs=(Output("figures/loss.png", 10, "sha256:2"),), campaign_id="c1",
        ),
        "c": make_run(
            project="beta", started_at=now - dt.timedelta(hours=1),
            script="analysis/plot.py", host=Host("laptop", "ana", 1),
            git=Git("/r", "dddd4444" + "0" * 32), slurm=Slurm("6000"),
        ),
        "d": make_run(
            project="beta", started_at=now - dt.timedelta(days=30), status="interrupted",
            script="train.py", host=Host("laptop", "ana", 1),
        ),
    }


def by_duckdb(catalog: bathos.Catalog, query: RunQuery) -> list[dict[str, Any]]:
    """What the `runs` view answers to a listing query, asked of DuckDB (the oracle of the
    listings `Catalog.runs` answers from the rows compaction keeps)."""
    return catalog.sql(*query.resolved().to_sql(LISTING_COLUMNS)).to_dicts()


def write_runs(catalog: bathos.Catalog, runs: list[Run], *, hot: int) -> None:
    """Write `runs` (newest first) into `catalog`, all but the newest `hot` of them compacted, so
    a listing reads both kinds."""
    for run in runs[hot:]:
        catalog.write(run)
    catalog.compact()
    for run in runs[:hot]:
        catalog.write(run)

"""Records written by version 0 of bathos read as current runs, before and after compaction."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest

from bathos.models import SCHEMA_VERSION, Git, Host, Run

V0_RECORD = Path(__file__).parent.parent / "data" / "v0_run.json"
RUN_ID = "1hq2k8d3m0x7a4tb"

EXPECTED = Run(
    id=RUN_ID,
    project="md-benchmarks",
    status="completed",
    script="scripts/experiments/benchmark_tip3p.py",
    argv=("--n-steps", "1000", "--out", "outputs/run1.parquet"),
    cwd="/home/alice/md-benchmarks",
    started_at=dt.datetime(2024, 3, 1, 12, 0, 0, 250000, tzinfo=dt.UTC),
    ended_at=dt.datetime(2024, 3, 1, 12, 42, 10, tzinfo=dt.UTC),
    updated_at=dt.datetime(2024, 3, 1, 12, 42, 10, tzinfo=dt.UTC),
    duration_s=2529.75,
    exit_code=0,
    git=Git(repo_root="/home/alice/md-benchmarks",
            commit="3f2a9c4e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39", branch="main", dirty=True),
    host=Host(hostname="node017", user="alice", pid=48213),
    tags=("tip3p", "nvt"),
    results={"energy": -41.2, "steps": 1000},
)


@pytest.fixture
def v0_fragment(catalog_dir: Path) -> Path:
    target = catalog_dir / "runs" / "md-benchmarks" / f"{RUN_ID}.json"
    target.parent.mkdir(parents=True)
    shutil.copyfile(V0_RECORD, target)
    return target


def test_v0_record_reads_as_a_current_run(v0_fragment, catalog) -> None:
    run = catalog.get(RUN_ID[:6])

    assert run == EXPECTED
    assert run.schema_version == SCHEMA_VERSION
    assert v0_fragment.read_bytes() == V0_RECORD.read_bytes()  # reading never rewrites


def test_v0_record_answers_queries_on_its_mapped_fields(v0_fragment, catalog) -> None:
    found = catalog.runs(project="md-benchmarks", status="completed", commit="3f2a9c",
                         host="node0*", script="benchmark_*.py", tags=["nvt"])
    assert [r["id"] for r in found] == [RUN_ID]
    row = catalog.sql("SELECT started_at, hostname, user, dirty, schema_version FROM runs").tuples()
    assert row == [(dt.datetime(2024, 3, 1, 12, 0, 0, 250000), "node017", "alice", True,
                    SCHEMA_VERSION)]


def test_v0_record_survives_compaction(v0_fragment, catalog) -> None:
    assert catalog.compact().folded == 1
    assert not v0_fragment.exists()

    assert catalog.get(RUN_ID) == EXPECTED
    assert [r["id"] for r in catalog.runs(commit="3f2a9c")] == [RUN_ID]


def test_v0_record_stamped_with_an_offset_is_placed_at_its_utc_time(catalog_dir, catalog) -> None:
    record = json.loads(V0_RECORD.read_text())
    record["started_at"] = "2024-03-01T14:00:00.250000+02:00"  # 12:00:00.25 UTC
    target = catalog_dir / "runs" / "md-benchmarks" / f"{RUN_ID}.json"
    target.parent.mkdir(parents=True)
    target.write_text(json.dumps(record))

    assert catalog.get(RUN_ID).started_at == EXPECTED.started_at
    assert catalog.sql("SELECT started_at FROM runs").tuples() == [
        (dt.datetime(2024, 3, 1, 12, 0, 0, 250000),)
    ]
    assert catalog.runs(since="2024-03-01T13:00:00Z").to_polars().is_empty()

"""Listings answered from the rows compaction keeps equal the `runs` view's answer; a listing
the kept rows cannot answer exactly goes to DuckDB."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import socket
import subprocess
import sys

import attrs
import pytest
from catalog_helpers import segments
from polars.testing import assert_frame_equal
from records import by_duckdb, make_run

import bathos
from bathos import RunQuery
from bathos.catalog import recent
from bathos.catalog.schema import column_sql
from bathos.catalog.store import write_record
from bathos.models import Host, unstructure

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """alpha: more compacted runs than are kept, plus hot ones (one shadowing a compacted run);
    beta: a few compacted runs; gamma: hot runs only. Built once, copied for each test."""
    path = tmp_path_factory.mktemp("listing") / "catalog"
    alpha = [
        make_run(project="alpha", started_at=NOW - dt.timedelta(minutes=10 * (i // 2)),
                 status=("failed" if i % 7 == 0 else "completed"),
                 tags=("sweep",) if i % 3 == 0 else ("baseline", "sweep") if i % 3 == 1 else (),
                 duration_s=i, params={"seed": str(i)}, results={"loss": 1 / (i + 1)})
        for i in range(recent.RECENT_ROWS + 200)
    ]
    beta = [make_run(project="beta", started_at=NOW - dt.timedelta(hours=h), status="failed",
                     tags=("sweep",)) for h in range(30)]
    write(path, [*alpha, *beta])
    bathos.Catalog(path).compact()
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    write(path, [
        make_run(project="alpha", started_at=NOW + dt.timedelta(seconds=5), status="running",
                 host=Host(socket.gethostname(), "ana", os.getpid())),
        make_run(project="alpha", started_at=NOW - dt.timedelta(days=20), status="running",
                 host=Host(socket.gethostname(), "ana", gone.pid)),
        make_run(project="alpha", started_at=NOW - dt.timedelta(minutes=3), tags=("sweep",)),
        attrs.evolve(alpha[4], status="failed", updated_at=NOW),
        *(make_run(project="gamma", started_at=NOW - dt.timedelta(days=d), tags=("sweep",))
          for d in range(5)),
    ])
    return path


def write(path, runs) -> None:
    for run in runs:
        write_record(path, unstructure(run), durable=False)


@pytest.fixture
def mixed(built, catalog_dir) -> bathos.Catalog:
    shutil.copytree(built, catalog_dir)
    return bathos.Catalog()


ANSWERED = [
    RunQuery(limit=20),
    RunQuery(limit=50, since="7d"),
    RunQuery(project="alpha", limit=20),
    RunQuery(project=["beta", "gamma"], limit=10),
    RunQuery(status="failed", limit=50),
    RunQuery(status="running", limit=None),
    RunQuery(tags=("baseline", "sweep"), limit=30),
    RunQuery(since="2h", limit=None),
    RunQuery(since="3d", until="1d", limit=None),
    RunQuery(until=NOW - dt.timedelta(hours=20), limit=15),
    RunQuery(limit=0),
]
ASKS_DUCKDB = [
    RunQuery(limit=None),
    RunQuery(project="alpha", limit=recent.RECENT_ROWS + 100),
    RunQuery(status="failed", project="alpha", limit=300),
    RunQuery(status=["lost", "running"], limit=5),
    RunQuery(script="*.py", limit=5),
    RunQuery(params={"seed": "3"}),
]


@pytest.fixture
def without_kept_rows(built, tmp_path) -> bathos.Catalog:
    """The same catalog with no `segments.recent`: every listing asks DuckDB."""
    path = shutil.copytree(built, tmp_path / "no-kept-rows")
    for kept in path.glob(f"runs/*/{recent.RECENT}"):
        kept.unlink()
    return bathos.Catalog(path)


@pytest.mark.parametrize("query", ANSWERED, ids=repr)
def test_kept_rows_answer_as_the_runs_view_does(mixed, without_kept_rows, query) -> None:
    assert recent.newest(mixed.path, query, mixed.compact_threshold) is not None
    if query.status != "running":  # which needs no kept rows
        assert recent.newest(without_kept_rows.path, query, mixed.compact_threshold) is None
    assert mixed.runs(query).to_dicts() == by_duckdb(mixed, query)
    for flatten in (False, True):
        assert_frame_equal(mixed.runs(query, flatten=flatten).to_polars(),
                           without_kept_rows.runs(query, flatten=flatten).to_polars())


@pytest.mark.parametrize("query", ASKS_DUCKDB, ids=repr)
def test_listings_the_kept_rows_cannot_answer_go_to_duckdb(mixed, query) -> None:
    assert recent.newest(mixed.path, query, mixed.compact_threshold) is None
    assert mixed.runs(query).to_dicts() == by_duckdb(mixed, query)


def test_kept_rows_are_the_newest_of_the_segments_as_a_query_gives_them(mixed, catalog_dir):
    lines = (catalog_dir / "runs" / "alpha" / recent.RECENT).read_text().splitlines()
    live = segments(catalog_dir, "alpha")
    assert json.loads(lines[0]) == {"segments": [p.name for p in live], "complete": False,
                                    "columns": list(recent.LISTING_COLUMNS)}
    paths = ", ".join(f"'{p}'" for p in live)
    newest = mixed.sql(
        f"SELECT {', '.join(map(column_sql, recent.LISTING_COLUMNS))} FROM read_parquet([{paths}]) "
        f"ORDER BY started_at DESC, id DESC LIMIT {recent.RECENT_ROWS}").to_dicts()
    assert [json.loads(line) for line in lines[1:]] == newest


def test_a_listing_needs_no_duckdb(mixed, python) -> None:
    done = python("""
        import json, sys
        import bathos
        rows = bathos.Catalog().runs(since="7d", limit=50)
        print(json.dumps([len(rows), "duckdb" in sys.modules]))
    """)
    assert json.loads(done.stdout) == [50, False]


def test_out_of_date_or_damaged_kept_rows_are_not_used(mixed, catalog_dir) -> None:
    query = RunQuery(limit=20)
    expected = by_duckdb(mixed, query)
    kept = catalog_dir / "runs" / "beta" / recent.RECENT

    kept.unlink()
    assert recent.newest(mixed.path, query, mixed.compact_threshold) is None
    assert mixed.runs(query).to_dicts() == expected

    mixed.compact()  # nothing to fold, but the kept rows come back
    assert recent.newest(mixed.path, query, mixed.compact_threshold) is not None

    kept.write_text('{"segments": []')
    assert recent.newest(mixed.path, query, mixed.compact_threshold) is None
    assert mixed.runs(query).to_dicts() == expected


def test_a_damaged_segment_stops_the_kept_rows_being_used(mixed, catalog_dir) -> None:
    (segment,) = segments(catalog_dir, "beta")
    segment.write_bytes(segment.read_bytes()[:100])
    query = RunQuery(limit=50)
    assert recent.newest(mixed.path, query, mixed.compact_threshold) is None

    mixed.verify(quarantine=True)
    assert recent.newest(mixed.path, query, mixed.compact_threshold) is None
    assert mixed.runs(query).to_dicts() == by_duckdb(mixed, query)
    assert "beta" not in {r["project"] for r in mixed.runs(query).to_dicts()}

    mixed.compact()
    assert recent.newest(mixed.path, query, mixed.compact_threshold) is not None
    assert mixed.runs(query).to_dicts() == by_duckdb(mixed, query)


def test_a_damaged_line_of_kept_rows_sends_the_listing_to_duckdb(mixed, catalog_dir) -> None:
    kept = catalog_dir / "runs" / "alpha" / recent.RECENT
    lines = kept.read_text().splitlines()
    kept.write_text("\n".join([*lines[:3], lines[3][:40], *lines[4:]]) + "\n")
    query = RunQuery(project="alpha", limit=20)
    assert recent.newest(mixed.path, query, mixed.compact_threshold) is None
    assert mixed.runs(query).to_dicts() == by_duckdb(mixed, query)


def test_a_due_compaction_sends_the_listing_to_duckdb_which_compacts(mixed, catalog_dir,
                                                                     monkeypatch) -> None:
    monkeypatch.setenv("BTH_COMPACT_THRESHOLD", "3")
    catalog = bathos.Catalog()
    query = RunQuery(limit=20)
    assert recent.newest(catalog.path, query, catalog.compact_threshold) is None
    first = catalog.runs(query).to_dicts()  # compacts the finished hot runs of alpha and gamma
    assert not list((catalog_dir / "runs" / "gamma").glob("*.json"))
    assert recent.newest(catalog.path, query, catalog.compact_threshold) == first


def test_kept_rows_written_before_runs_had_outcomes_are_still_used(mixed, catalog_dir) -> None:
    query = RunQuery(limit=20)
    expected = by_duckdb(mixed, query)
    kept = catalog_dir / "runs" / "beta" / recent.RECENT
    header, *rows = (json.loads(line) for line in kept.read_text().splitlines())
    del header["columns"]  # as an older bathos wrote them: no columns named, no outcome kept
    kept.write_text("\n".join(json.dumps(item) for item in [
        header, *({k: v for k, v in row.items() if k != "outcome"} for row in rows)]) + "\n")

    assert recent.newest(mixed.path, query, mixed.compact_threshold) is not None
    assert mixed.runs(query).to_dicts() == expected

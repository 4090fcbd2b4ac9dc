"""`Catalog.migrate`: records of an older schema rewritten as the current one, in fragments and
segments, while runs are written and compacted; nothing changed by a dry run or on a current
catalog."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import duckdb
import pytest
from catalog_helpers import segments as segment_files
from catalog_helpers import tree_digest
from records import make_run

from bathos.catalog import schema, segments
from bathos.ids import new_run_id
from bathos.models import SCHEMA_VERSION
from bathos.timespec import iso_utc

V0_RECORD = json.loads((Path(__file__).parent.parent / "data" / "v0_run.json").read_text())
PROJECT = "md-benchmarks"


def v0_record(**changes: Any) -> dict[str, Any]:
    """A record as bathos wrote it at schema version 0, under a new id."""
    return {**V0_RECORD, "run_id": new_run_id(), **changes}


def write_v0_fragments(catalog_dir: Path, count: int) -> list[str]:
    directory = catalog_dir / "runs" / PROJECT
    directory.mkdir(parents=True, exist_ok=True)
    records = [v0_record() for _ in range(count)]
    for record in records:
        (directory / f"{record['run_id']}.json").write_text(json.dumps(record))
    return [r["run_id"] for r in records]


def write_v0_segment(catalog_dir: Path, count: int) -> list[str]:
    """A segment of an older bathos: its view columns as today, its records of version 0."""
    directory = catalog_dir / "runs" / PROJECT
    directory.mkdir(parents=True, exist_ok=True)
    records = [v0_record() for _ in range(count)]
    rows = []
    for old in records:
        row = schema.flatten(schema.upgrade(dict(old)))
        rows.append(json.dumps({**row, "record": old, "schema_version": 0}))
    path = directory / segments.segment_name("20240301")
    con = duckdb.connect(":memory:")
    structure = schema.sql_string(schema.json_structure())
    con.execute(f"CREATE TABLE t AS SELECT unnest(from_json(j, {structure})) "
                "FROM unnest(?::VARCHAR[]) AS u(j)", [rows])
    con.execute(f"COPY t TO {schema.sql_string(path)} (FORMAT parquet)")
    listed = segments.read_manifest(directory) or []
    segments.write_manifest(directory, [*listed, path.name])
    return [r["run_id"] for r in records]


@pytest.fixture
def old_catalog(catalog, catalog_dir) -> list[str]:
    """Current runs compacted and hot, beside 3 fragments and a segment of 4 runs of version 0."""
    for _ in range(3):
        catalog.write(make_run(project=PROJECT))
    catalog.compact()
    catalog.write(make_run(project=PROJECT))
    return write_v0_fragments(catalog_dir, 3) + write_v0_segment(catalog_dir, 4)


def stored_versions(catalog) -> list[int]:
    found = [json.loads(p.read_text())["schema_version"] if "schema_version" in p.read_text()
             else 0 for p in catalog.path.glob("runs/*/*.json")]
    for path in catalog.path.glob("runs/*/*.parquet"):
        if path.name in (segments.read_manifest(path.parent) or []):
            found += [v for (v,) in duckdb.sql(
                f"SELECT record->>'schema_version' FROM read_parquet('{path}')").fetchall()]
    return sorted(int(v or 0) for v in found)


def test_old_records_are_rewritten_as_current_ones(old_catalog, catalog) -> None:
    assert stored_versions(catalog).count(0) == 7

    report = catalog.migrate()

    assert report.upgraded == {0: 7}
    assert (report.fragments, report.segments, report.left_running) == (3, 1, 0)
    assert report.bytes_before > 0 and report.bytes_after and report.bytes_after > 0
    assert set(stored_versions(catalog)) == {SCHEMA_VERSION}
    assert catalog.verify().outdated == ()
    run = catalog.get(old_catalog[-1])  # from the rewritten segment
    assert (run.project, run.host.hostname, run.schema_version) == (PROJECT, "node017",
                                                                    SCHEMA_VERSION)
    assert catalog.sql("SELECT DISTINCT schema_version FROM runs").tuples() == [
        (SCHEMA_VERSION,)]
    assert len(catalog.sql("SELECT id FROM runs")) == 11
    assert len(segment_files(catalog.path, PROJECT)) == 2  # the old segment removed


def test_migrating_again_changes_nothing(old_catalog, catalog) -> None:
    catalog.migrate()
    before = tree_digest(catalog.path)

    report = catalog.migrate()

    assert (report.upgraded, report.fragments, report.segments) == ({}, 0, 0)
    assert tree_digest(catalog.path) == before


def test_a_current_catalog_is_left_as_it_is(catalog) -> None:
    for _ in range(3):
        catalog.write(make_run())
    catalog.compact()
    catalog.write(make_run())
    before = tree_digest(catalog.path)

    assert catalog.migrate().upgraded == {}
    assert tree_digest(catalog.path) == before


def test_a_dry_run_counts_and_changes_nothing(old_catalog, catalog) -> None:
    before = tree_digest(catalog.path)

    report = catalog.migrate(dry_run=True)

    assert report.dry_run and report.upgraded == {0: 7} and report.bytes_after is None
    assert (report.fragments, report.segments) == (3, 1)
    assert tree_digest(catalog.path) == before


def test_verify_names_the_files_to_migrate(old_catalog, catalog) -> None:
    report = catalog.verify()

    assert report.problems == ()
    assert sorted(sum(o.versions.values()) for o in report.outdated) == [1, 1, 1, 4]


def test_only_the_project_named_is_migrated(old_catalog, catalog, catalog_dir) -> None:
    catalog.write(make_run(project="other"))
    (catalog_dir / "runs" / "other" / "x.json").write_text(json.dumps(v0_record(
        project_slug="other")))

    assert catalog.migrate(project="other").upgraded == {0: 1}
    assert catalog.migrate(dry_run=True).upgraded == {0: 7}


def test_a_run_still_running_is_left_to_its_writer(catalog, catalog_dir) -> None:
    directory = catalog_dir / "runs" / PROJECT
    directory.mkdir(parents=True)
    running = v0_record(state="RUNNING", host_name=os.uname().nodename, host_pid=os.getpid())
    path = directory / f"{running['run_id']}.json"
    path.write_text(json.dumps(running))
    before = path.read_bytes()

    report = catalog.migrate()

    assert (report.upgraded, report.left_running) == ({}, 1)
    assert path.read_bytes() == before


WRITER = """
import itertools, os, sys, time
from bathos import Catalog
from bathos.ids import new_run_id
from bathos.models import Run, utcnow
import attrs
cat = Catalog()
stop = sys.argv[2] if len(sys.argv) > 2 else None  # with it: go on past N until it exists
for n in itertools.count():
    if n >= int(sys.argv[1]) and (stop is None or os.path.exists(stop)):
        break
    run = Run(id=new_run_id(), project="md-benchmarks", started_at=utcnow(), updated_at=utcnow())
    cat.write(run)
    cat.write(attrs.evolve(run, status="completed", updated_at=utcnow()))
    print(run.id, flush=True)
"""
COMPACTOR = """
import sys
from bathos import Catalog
for _ in range(int(sys.argv[1])):
    Catalog().compact()
"""


def test_old_records_are_upgraded_while_a_writer_writes_and_compaction_runs(
        old_catalog, catalog, spawn, tmp_path) -> None:
    import subprocess

    stop = tmp_path / "stop-writing"  # the writer writes 300 runs, and on until this exists
    writer = spawn(WRITER, "300", str(stop), stdout=subprocess.PIPE)
    compactor = spawn(COMPACTOR, "20")
    assert writer.stdout is not None
    written = [writer.stdout.readline().strip()]  # the writer is writing
    first = catalog.migrate()
    assert writer.poll() is None, "the writer ended before the migration"
    stop.touch()
    assert writer.wait(timeout=120) == 0 and compactor.wait(timeout=120) == 0

    written += writer.stdout.read().split()
    assert len(written) >= 300
    assert sum(first.upgraded.values()) >= 1
    assert set(stored_versions(catalog)) == {SCHEMA_VERSION}
    ids = [i for (i,) in catalog.sql("SELECT id FROM runs").tuples()]
    assert len(ids) == len(set(ids)) == 11 + len(written)
    assert set(old_catalog) | set(written) <= set(ids)
    assert catalog.verify().problems == ()
    assert iso_utc(catalog.get(old_catalog[0]).started_at) == V0_RECORD["started_at"]


def test_a_legacy_catalog_is_imported_while_a_writer_writes_and_compaction_runs(
        tmp_path, catalog, spawn) -> None:
    import subprocess

    import legacy_catalog as legacy

    old = legacy.build(tmp_path / "old")
    writer = spawn(WRITER, "200", stdout=subprocess.PIPE)
    compactor = spawn(COMPACTOR, "10")
    assert writer.stdout is not None
    written = [writer.stdout.readline().strip()]

    first = catalog.import_legacy(old)
    assert writer.wait(timeout=120) == 0 and compactor.wait(timeout=120) == 0
    again = catalog.import_legacy(old)

    written += writer.stdout.read().split()
    assert (first.imported, again.imported, again.unchanged) == (5, 0, 5)
    ids = [i for (i,) in catalog.sql("SELECT id FROM runs").tuples()]
    assert len(ids) == len(set(ids)) == 5 + 200
    assert set(written) <= set(ids)

"""Catalogs of the older bathos imported: every run kept with its id, fields mapped or kept in
`extra`, nothing written twice, unreadable files reported and skipped."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import legacy_catalog as legacy
import pytest
from catalog_helpers import tree_digest

import bathos
from bathos.errors import ConfigError


@pytest.fixture
def old(tmp_path: Path) -> Path:
    return legacy.build(tmp_path / "old-home" / ".bth" / "catalog")


def test_every_run_is_imported_with_its_id_and_fields_mapped(old, catalog) -> None:
    report = catalog.import_legacy(old)

    assert (report.imported, report.unchanged, report.skipped) == (5, 0, ())
    assert report.versions == {0: 1, 4: 1, 9: 1, 12: 1, 15: 1}
    rows = {r["id"]: r for r in catalog.runs(all_projects=True).to_dicts()}
    assert {i: rows[i]["status"] for i in rows} == {
        legacy.V0: "completed", legacy.V4: "interrupted", legacy.V9: "lost",
        legacy.V15: "completed", legacy.ONLY_IN_DB: "failed"}
    assert {rows[i]["project"] for i in rows} == {"default", "md-benchmarks"}

    v0 = catalog.get(legacy.V0)
    assert (v0.project, v0.script, v0.params, v0.results) == (
        "default", "train.py", {"lr": "0.1"}, {"loss": 0.42})
    assert v0.started_at == dt.datetime(2025, 3, 1, 9, 0, tzinfo=dt.UTC)
    assert v0.duration_s == 61.5 and v0.ended_at == v0.started_at + dt.timedelta(seconds=61.5)
    assert v0.git is not None and (v0.git.commit, v0.git.dirty) == ("a" * 40, False)
    assert v0.host is None  # the older bathos left the host name empty
    assert v0.imported is not None and v0.imported.schema_version == 0
    assert v0.imported.source == str(old / "runs" / f"run_{legacy.V0}.parquet")
    assert v0.extra == {"command": "python train.py --lr 0.1"}

    v4 = catalog.get(legacy.V4)
    assert (v4.exit_code, v4.slurm.job_id, v4.slurm.array_task_id) == (130, "81234", "3")
    assert [o.path for o in v4.outputs] == ["outputs/run1.parquet"]


def test_unknown_values_stay_unknown_and_unmapped_fields_are_kept(old, catalog) -> None:
    catalog.import_legacy(old)

    v9 = catalog.get(legacy.V9[:8])
    assert v9.git is None and v9.exit_code is None  # no git; exit code -1: never recorded
    assert v9.extra["git_dirty"] == "unknown"
    assert [(o.path, o.sha256) for o in v9.outputs] == [("outputs/a.csv", "sha256:" + "c" * 64)]
    assert [m["status"] for m in v9.extra["output_metadata"]] == ["present", "missing"]
    assert v9.dependencies[0].sha256 == "sha256:" + "b" * 64
    assert v9.agent_mode == "autonomous" and v9.campaign_id == legacy.CAMPAIGN

    v15 = catalog.get(legacy.V15)
    assert v15.git is not None and v15.git.dirty
    assert v15.git.pinned_ref == f"refs/bathos/wip/{legacy.V15}"
    assert v15.extra == {"command": "scripts/experiments/benchmark_tip3p.py --n-steps 1000",
                         "git_dirty_content_id": "diff-sha256:" + "e" * 64,
                         "git_provenance_source": "repo"}
    assert v15.outcome is not None and v15.outcome.label == "bounded"
    assert v15.sidecar is not None and v15.sidecar.mode == "recorded"
    assert v15.environment.packages_fingerprint == "sha256:" + "1" * 64
    assert v15.duration_s == 12.0  # its file, not the database's stale copy


def test_lineage_links_survive(old, catalog) -> None:
    catalog.import_legacy(old)

    chain = catalog.lineage(legacy.V15)
    assert {(e.parent, e.child) for e in chain.edges if not e.inferred} == {
        (legacy.V9, legacy.V15), (legacy.V4, legacy.V9)}


def test_importing_twice_writes_nothing_twice(old, catalog) -> None:
    catalog.import_legacy(old)
    before = tree_digest(catalog.path)

    again = catalog.import_legacy(old)

    assert (again.imported, again.unchanged) == (0, 5)
    assert tree_digest(catalog.path) == before
    assert len(catalog.runs(all_projects=True)) == 5
    catalog.compact()
    assert catalog.import_legacy(old).imported == 0
    assert len(catalog.sql("SELECT id FROM runs")) == 5


def test_a_run_the_older_bathos_finished_since_is_updated(tmp_path, catalog) -> None:
    old = tmp_path / "old"
    running = {**legacy.v9_row(), "status": "running", "duration_s": None}
    legacy.write_run_file(old, running, flat=False)
    catalog.import_legacy(old)
    assert catalog.get(legacy.V9).status in ("running", "lost")

    legacy.write_run_file(old, {**running, "status": "completed", "duration_s": 5.0},
                          flat=False)
    assert catalog.import_legacy(old).imported == 1
    assert catalog.get(legacy.V9).status == "completed"


def test_an_unreadable_file_is_reported_and_skipped(old, catalog) -> None:
    broken = old / "runs" / "md-benchmarks" / "run_5e0bcd7b-9c6f-4dce-8fa6-be6c7f8091a2.parquet"
    broken.write_bytes(b"PAR1 not really")

    report = catalog.import_legacy(old)

    assert [p.path for p in report.skipped] == [broken]
    assert "not a readable Parquet file" in report.skipped[0].reason
    assert report.imported == 5


def test_a_dry_run_writes_nothing(old, catalog) -> None:
    report = catalog.import_legacy(old, dry_run=True)

    assert report.imported == 5 and report.dry_run
    assert not catalog.path.exists()


def test_a_path_without_a_legacy_catalog_is_refused(tmp_path, catalog) -> None:
    with pytest.raises(ConfigError, match="no catalog of the older bathos"):
        catalog.import_legacy(tmp_path)


def test_an_imported_run_round_trips_through_the_library(old, catalog) -> None:
    catalog.import_legacy(old)
    run = catalog.get(legacy.V15)

    catalog.write(run)  # a Run written back keeps what it was imported with

    assert catalog.get(legacy.V15) == run
    assert isinstance(run, bathos.Run)


def test_a_catalog_shared_with_the_older_bathos_reads_and_verifies_clean(catalog) -> None:
    legacy.build(catalog.path)
    catalog.import_legacy(catalog.path)
    catalog.compact()

    assert len(catalog.runs(all_projects=True)) == 5
    assert catalog.verify().problems == ()
    assert (catalog.path / "runs" / "md-benchmarks" / f"run_{legacy.V9}.parquet").exists()


def test_campaigns_become_campaigns_here_with_their_runs(old, catalog) -> None:
    report = catalog.import_legacy(old)

    assert report.campaigns == 1
    info = catalog.campaign(legacy.CAMPAIGN).info
    assert (info.project, info.status, info.outcome, info.note) == (
        "md-benchmarks", "concluded", "confirmed", "SPC/E wins")
    assert (info.question, info.hypothesis, info.mode) == (
        "Which water model?", "SPC/E is closer", "exploration")
    assert info.run_ids == (legacy.V9, legacy.V15)
    assert info.created_at == legacy.START
    members = catalog.campaign(legacy.CAMPAIGN).runs().to_dicts()
    assert sorted(r["id"] for r in members) == sorted([legacy.V9, legacy.V15])

    assert catalog.import_legacy(old).campaigns == 1
    events = list((catalog.path / "campaigns").rglob("*.json"))
    assert len(events) == 3  # create, add, conclude: once each


def test_an_unreadable_database_is_reported_and_its_campaigns_skipped(old, catalog) -> None:
    (old / "bathos.db").write_bytes(b"not a database at all" * 100)

    report = catalog.import_legacy(old)

    assert [p.path.name for p in report.skipped] == ["bathos.db"]
    assert (report.imported, report.campaigns) == (4, 0)

"""Damaged files never break a read: the rest is returned, the damage named, and verify finds it."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


def test_reads_return_the_rest_and_warn_naming_each_damaged_file(
    damaged, catalog, caplog
) -> None:
    with caplog.at_level(logging.WARNING, logger="bathos"):
        listed = [r["id"] for r in catalog.runs()]

    assert sorted(listed) == sorted(r.id for r in damaged.readable)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(str(damaged.garbage) in w for w in warnings)
    assert any(str(damaged.truncated) in w for w in warnings)
    assert catalog.get(damaged.readable[-1].id) == damaged.readable[-1]
    assert catalog.sql("SELECT count(*) AS n FROM runs")[0]["n"] == len(damaged.readable)


def test_verify_lists_both_damaged_files(damaged, catalog) -> None:
    report = catalog.verify()

    assert sorted(p.path for p in report.problems) == sorted([damaged.garbage, damaged.truncated])
    assert report.quarantined == ()
    assert report.files_checked == 6  # 2 fragments, 2 segments, 2 manifests
    assert all(path.read_bytes() == data for path, data in damaged.contents.items())


def test_quarantine_moves_damaged_files_aside_and_deletes_nothing(
    damaged, catalog, catalog_dir, caplog
) -> None:
    report = catalog.verify(quarantine=True)

    quarantine = catalog_dir / "quarantine"
    expected = {
        damaged.garbage: quarantine / "demo" / damaged.garbage.name,
        damaged.truncated: quarantine / "other" / damaged.truncated.name,
    }
    assert sorted(report.quarantined) == sorted(expected.values())
    for original, moved in expected.items():
        assert not original.exists()
        assert moved.read_bytes() == damaged.contents[original]
    assert catalog.verify().problems == ()
    manifest = json.loads((catalog_dir / "runs" / "other" / "segments.manifest").read_text())
    assert manifest["segments"] == []
    with caplog.at_level(logging.WARNING, logger="bathos"):
        assert sorted([r["id"] for r in catalog.runs()]) == sorted(r.id for r in damaged.readable)
    assert caplog.records == []


def test_compaction_skips_a_damaged_fragment_and_keeps_it(damaged, catalog) -> None:
    report = catalog.compact()

    assert report.skipped_unreadable == 1
    assert damaged.garbage.read_bytes() == damaged.contents[damaged.garbage]
    assert sorted([r["id"] for r in catalog.runs()]) == sorted(r.id for r in damaged.readable)


@settings(max_examples=15, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(junk=st.binary(max_size=300) | st.text(max_size=100).map(str.encode))
def test_any_bytes_in_a_fragment_leave_reads_working(make_run, catalog, catalog_dir,
                                                     junk: bytes) -> None:
    good = make_run()
    catalog.write(good)
    bad = catalog_dir / "runs" / "demo" / "1m8c0000000000zz.json"
    bad.write_bytes(junk)

    assert good.id in [r["id"] for r in catalog.runs()]
    assert bad in [p.path for p in catalog.verify().problems]


def malformed(name: str, body: dict, reason: str):
    """A malformed record that must not break reads ({reason} would otherwise)."""
    return pytest.param(body, id=name)


RECORD = {"id": "1m8c0000000000zz", "project": "demo", "status": "completed",
          "started_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z"}


@pytest.mark.parametrize("body", [
    malformed("schema-version-text", {**RECORD, "schema_version": "one"},
              "store.read_fragment lets the CatalogError from schema.upgrade escape: every read "
              "and verify() itself fail"),
    malformed("schema-version-newer", {**RECORD, "schema_version": 99},
              "a fragment from a newer bathos: store.read_fragment lets the CatalogError from "
              "schema.upgrade escape, so every read and verify() itself fail"),
    malformed("host-not-object", {**RECORD, "schema_version": 1, "status": "running",
                                  "host": "node017"},
              "store.settle_status calls .get on a host that is not an object: AttributeError "
              "from every read; verify() does not list the file"),
    malformed("argv-not-list", {**RECORD, "schema_version": 1, "argv": "--n-steps 10"},
              "lens CAST(record->'argv' AS VARCHAR[]) fails on a non-list argv: a raw duckdb "
              "ConversionException from every read; verify() does not list the file"),
])
def test_malformed_record_is_skipped_and_listed_by_verify(make_run, catalog, catalog_dir,
                                                          body: dict) -> None:
    good = make_run()
    catalog.write(good)
    bad = catalog_dir / "runs" / "demo" / f"{body['id']}.json"
    bad.write_text(json.dumps(body))

    assert [r["id"] for r in catalog.runs()] == [good.id]
    assert [p.path for p in catalog.verify().problems] == [bad]


def test_quarantining_the_same_file_name_twice_keeps_both(catalog, catalog_dir) -> None:
    fragment = catalog_dir / "runs" / "demo" / "1m8c0000000000zz.json"
    fragment.parent.mkdir(parents=True)
    fragment.write_bytes(b"first damage")
    catalog.verify(quarantine=True)
    fragment.write_bytes(b"second damage")
    catalog.verify(quarantine=True)

    kept = sorted(p.read_bytes() for p in (catalog_dir / "quarantine").rglob("*") if p.is_file())
    assert kept == [b"first damage", b"second damage"]


def test_unreadable_file_names_its_path(catalog_dir: Path, catalog) -> None:
    fragment = catalog_dir / "runs" / "demo" / "1m8c0000000000zz.json"
    fragment.parent.mkdir(parents=True)
    fragment.write_bytes(b"\xff\xfe not json")

    (problem,) = catalog.verify().problems
    assert problem.path == fragment
    assert str(fragment) in str(problem)
    assert "JSON" in problem.reason

"""Metric points beside runs: compaction folds them into segments of their own, and a crash at
any step loses no point and shows none twice."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import bathos
from bathos.catalog import metrics
from bathos.models import Run


def log_points(catalog: bathos.Catalog, run: Run, n: int, value: float = 1.0) -> None:
    """Record `run` with `n` points of key `loss`, as `bth run` stores them at its end."""
    points = metrics.Points(keys=["loss"] * n, steps=list(range(n)), values=[value] * n,
                            times=[1.7e9 + i for i in range(n)])
    metrics.write_points(catalog.path, run.project, run.id, metrics.encode(points))
    catalog.write(run)


def count(catalog: bathos.Catalog) -> dict[str, int]:
    rows = catalog.sql("SELECT run_id, count(*) AS n FROM metrics GROUP BY ALL").to_dicts()
    return {r["run_id"]: r["n"] for r in rows}


def metrics_dir(catalog: bathos.Catalog) -> Path:
    return catalog.path / "runs" / "demo" / "metrics"


def test_a_hot_point_file_left_by_a_crash_shadows_the_segment(make_run, catalog) -> None:
    run = make_run()
    log_points(catalog, run, 5)
    hot = metrics_dir(catalog) / f"{run.id}.jsonl"
    copy = hot.read_bytes()
    catalog.compact()
    hot.write_bytes(copy)  # a compactor died before it removed the folded file

    assert count(catalog) == {run.id: 5}
    catalog.compact()
    assert count(catalog) == {run.id: 5}
    assert not hot.exists()


def test_newer_points_of_a_compacted_run_replace_its_old_ones(make_run, catalog) -> None:
    run, other = make_run(), make_run()
    log_points(catalog, run, 5)
    log_points(catalog, other, 2)
    catalog.compact()
    log_points(catalog, run, 3, value=2.0)  # e.g. imported from a spill, after the fact

    assert count(catalog) == {run.id: 3, other.id: 2}
    catalog.compact()
    assert count(catalog) == {run.id: 3, other.id: 2}
    assert catalog.metrics(run.id)["value"].to_list() == [2.0] * 3


def test_an_unlisted_segment_left_by_a_crash_is_invisible(make_run, catalog) -> None:
    run = make_run()
    log_points(catalog, run, 4)
    catalog.compact()
    [segment] = metrics_dir(catalog).glob("seg-*.parquet")
    shutil.copy(segment, segment.with_name("seg-0000-00000000.parquet"))

    assert count(catalog) == {run.id: 4}
    catalog.compact()  # removes it
    assert len(list(metrics_dir(catalog).glob("seg-*.parquet"))) == 1


def test_without_a_manifest_each_run_is_read_from_one_segment(make_run, catalog) -> None:
    first, second = make_run(), make_run()
    log_points(catalog, first, 3)
    catalog.compact()
    [old] = metrics_dir(catalog).glob("seg-*.parquet")
    kept = old.read_bytes()
    log_points(catalog, second, 2)
    for _ in range(8):  # enough small segments to be merged
        log_points(catalog, make_run(), 1)
        catalog.compact()
    (metrics_dir(catalog) / "segments.manifest").unlink()
    old.write_bytes(kept)  # a merged segment the manifest no longer named, back

    found = count(catalog)
    assert (found[first.id], found[second.id], len(found)) == (3, 2, 10)


@pytest.mark.parametrize("files", [0, 2])
def test_a_read_without_points_has_an_empty_metrics_view(make_run, catalog, files) -> None:
    for _ in range(files):
        catalog.write(make_run())

    assert catalog.sql("SELECT * FROM metrics").columns == (
        "run_id", "project", "key", "step", "value", "time")
    assert len(catalog.sql("SELECT * FROM metrics")) == 0


def test_a_damaged_metric_segment_is_skipped_named_and_quarantined(make_run, catalog,
                                                                   caplog) -> None:
    kept, lost = make_run(), make_run()
    log_points(catalog, lost, 3)
    catalog.compact()
    [segment] = metrics_dir(catalog).glob("seg-*.parquet")
    segment.write_bytes(segment.read_bytes()[:100])
    log_points(catalog, kept, 2)

    assert count(catalog) == {kept.id: 2}
    assert "truncated Parquet segment" in caplog.text
    report = catalog.verify()
    assert [(p.path, p.reason) for p in report.problems] == [
        (segment, "truncated Parquet segment")]
    catalog.verify(quarantine=True)
    assert catalog.verify().problems == ()
    assert count(catalog) == {kept.id: 2}


def test_verify_names_a_hot_point_file_readers_cannot_read_whole(make_run, catalog) -> None:
    run = make_run()
    log_points(catalog, run, 3)
    hot = metrics_dir(catalog) / f"{run.id}.jsonl"
    hot.write_bytes(hot.read_bytes() + b"garbage\n")

    [problem] = catalog.verify().problems
    assert (problem.path, problem.reason) == (hot, "line 2 is not a chunk of metric points")
    assert count(catalog) == {run.id: 3}  # the good lines are still read
    catalog.compact()
    assert hot.exists()  # never folded, as an unreadable fragment is not

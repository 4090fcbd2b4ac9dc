"""Compaction folds finished runs into sorted Parquet segments; reads answer the same after."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import socket
import time

import attrs
from catalog_helpers import fragments, segments

import bathos
from bathos.models import Host


def manifest(catalog_dir, project="demo"):
    path = catalog_dir / "runs" / project / "segments.manifest"
    return sorted(json.loads(path.read_text())["segments"]) if path.exists() else None


def test_compaction_folds_finished_runs_and_keeps_answers(
    make_run, write_fast, catalog, catalog_dir
) -> None:
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    runs = [make_run(started_at=start + dt.timedelta(hours=h), results={"h": h},
                     status="failed" if h % 3 == 0 else "completed") for h in range(10)]
    alive = make_run(status="running", host=Host(socket.gethostname(), "ana", os.getpid()))
    write_fast([*runs, alive])
    before = catalog.runs().to_dicts()

    report = catalog.compact()

    assert report.folded == 10
    assert report.segments_written == 1
    assert fragments(catalog_dir) == [catalog_dir / "runs" / "demo" / f"{alive.id}.json"]
    assert manifest(catalog_dir) == [p.name for p in segments(catalog_dir)]
    assert catalog.runs().to_dicts() == before
    assert [catalog.get(r.id) for r in runs[:3]] == runs[:3]


def test_segment_rows_are_sorted_by_start_time(make_run, write_fast, catalog, catalog_dir) -> None:
    start = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    runs = [make_run(started_at=start + dt.timedelta(minutes=m)) for m in (5, 1, 4, 2, 3)]
    write_fast(runs)
    catalog.compact()

    (segment,) = segments(catalog_dir)
    in_file = [r["id"] for r in bathos.Catalog(catalog_dir).sql(  # the lens may read files
        f"SELECT id FROM read_parquet('{segment}')")]  # under the catalog
    assert in_file == [r.id for r in sorted(runs, key=lambda r: r.started_at)]


def test_compacting_again_with_nothing_new_changes_nothing(
    make_run, write_fast, catalog, catalog_dir
) -> None:
    write_fast(make_run() for _ in range(3))
    catalog.compact()
    on_disk = sorted(p.name for p in (catalog_dir / "runs" / "demo").iterdir())

    report = catalog.compact()

    assert (report.folded, report.segments_written) == (0, 0)
    assert sorted(p.name for p in (catalog_dir / "runs" / "demo").iterdir()) == on_disk


def test_newer_state_of_a_compacted_run_replaces_it(make_run, catalog, catalog_dir) -> None:
    run = make_run(results={"loss": 1.0})
    catalog.write(run)
    catalog.compact()
    newer = attrs.evolve(run, results={"loss": 0.5},
                         updated_at=run.updated_at + dt.timedelta(minutes=1))
    catalog.write(newer)

    assert catalog.get(run.id) == newer  # the hot fragment shadows the segment
    catalog.compact()
    assert catalog.get(run.id) == newer
    assert len(catalog.runs()) == 1
    assert len(segments(catalog_dir)) == 1


def test_small_segments_are_merged(make_run, catalog, catalog_dir) -> None:
    ids = []
    for _ in range(9):
        run = make_run()
        catalog.write(run)
        ids.append(run.id)
        catalog.compact()

    assert len(segments(catalog_dir)) < 8
    assert sorted([r["id"] for r in catalog.runs()]) == sorted(ids)


def test_projects_compact_into_their_own_directories(make_run, write_fast, catalog,
                                                     catalog_dir) -> None:
    write_fast([make_run(project="alpha"), make_run(project="beta"), make_run(project="beta")])
    catalog.compact()

    assert len(segments(catalog_dir, "alpha")) == len(segments(catalog_dir, "beta")) == 1
    assert len(catalog.runs(project="beta")) == 2


def test_read_compacts_automatically_above_the_threshold(
    make_run, write_fast, catalog_dir, monkeypatch
) -> None:
    write_fast(make_run(results={"i": i}) for i in range(60))
    before = bathos.Catalog().runs().to_dicts()  # default threshold (500): no compaction
    assert len(fragments(catalog_dir)) == 60

    monkeypatch.setenv("BTH_COMPACT_THRESHOLD", "50")
    after = bathos.Catalog().runs().to_dicts()

    assert len(fragments(catalog_dir)) == 0
    assert len(segments(catalog_dir)) == 1
    assert after == before


def test_lost_manifest_is_survived_and_rebuilt(make_run, catalog, catalog_dir, tmp_path) -> None:
    """Two segments hold the same run (as when a compactor died before removing the segment it
    merged); with the manifest gone every segment is live, and reads must still show it once."""
    run = make_run(results={"v": 1})
    catalog.write(run)
    catalog.compact()
    (first,) = segments(catalog_dir)
    kept = tmp_path / first.name
    shutil.copy2(first, kept)
    newer = attrs.evolve(run, results={"v": 2}, updated_at=run.updated_at + dt.timedelta(hours=1))
    other = make_run()
    catalog.write(newer)
    catalog.write(other)
    catalog.compact()
    shutil.copy2(kept, first)  # back, as the crashed compactor would have left it
    (catalog_dir / "runs" / "demo" / "segments.manifest").unlink()
    assert len(segments(catalog_dir)) == 2

    rows = catalog.sql("SELECT id, results->>'v' FROM runs ORDER BY id").tuples()
    assert sorted(rows) == sorted([(run.id, "2"), (other.id, None)])
    assert catalog.get(run.id) == newer

    catalog.compact()
    assert manifest(catalog_dir) == [p.name for p in segments(catalog_dir)]
    assert len(segments(catalog_dir)) == 1
    assert sorted([r["id"] for r in catalog.runs()]) == sorted([run.id, other.id])
    assert catalog.get(run.id) == newer


def test_unlisted_segment_is_ignored_and_removed(make_run, catalog, catalog_dir) -> None:
    """A segment written by a compactor that died before replacing the manifest."""
    first = make_run()
    catalog.write(first)
    catalog.compact()
    second = make_run()
    catalog.write(second)
    catalog.compact()
    older, newer = sorted(segments(catalog_dir), key=lambda p: p.stat().st_mtime_ns)
    # back to before the manifest was replaced: the old manifest, and the fragment still there
    (catalog_dir / "runs" / "demo" / "segments.manifest").write_text(
        json.dumps({"segments": [older.name]})
    )
    catalog.write(second)

    assert sorted([r["id"] for r in catalog.runs()]) == sorted([first.id, second.id])
    catalog.compact()
    assert not newer.exists()
    assert manifest(catalog_dir) == [p.name for p in segments(catalog_dir)]
    assert sorted([r["id"] for r in catalog.runs()]) == sorted([first.id, second.id])


def test_compaction_removes_a_dead_compactors_fold_file(make_run, catalog) -> None:
    path = catalog.write(make_run())
    leftover = path.parent / ".fold-k3j2h1.json"
    leftover.write_text("[]")
    two_hours_ago = time.time() - 7200
    os.utime(leftover, (two_hours_ago, two_hours_ago))

    catalog.compact()

    assert not leftover.exists()


def test_catalog_under_a_path_with_a_quote_compacts(make_run, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("BTH_HOME", str(tmp_path / "o'brien"))
    catalog = bathos.Catalog()
    run = make_run()
    catalog.write(run)

    catalog.compact()

    assert catalog.get(run.id) == run


def test_catalog_under_a_path_with_a_quote_reads_its_segments(make_run, catalog, catalog_dir,
                                                              tmp_path) -> None:
    run = make_run()
    catalog.write(run)
    catalog.compact()
    moved = tmp_path / "o'brien" / "catalog"
    shutil.copytree(catalog_dir, moved)

    assert bathos.Catalog(moved).get(run.id) == run

"""Segments another catalog sent (`sync-*.parquet`, what `bth sync` lands): live the moment they
are renamed into place, without the manifest naming them; the newest copy of a run wins; and
compaction folds them in and removes them."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

from records import by_duckdb, make_run

import bathos
from bathos import RunQuery
from bathos.catalog import segments


def sent_segment(tmp_path: Path, runs: list[bathos.Run]) -> Path:
    """The segment another catalog holding `runs` compacts them into."""
    other = bathos.Catalog(tmp_path / "other-catalog")
    for run in runs:
        other.write(run)
    other.compact()
    (found,) = (other.path / "runs" / "demo").glob("seg-*.parquet")
    return found


def test_an_arrival_is_read_beside_segments_and_the_newest_copy_wins(
        catalog: bathos.Catalog, tmp_path: Path) -> None:
    start = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    old = make_run(started_at=start, status="failed")
    kept = make_run(started_at=start + dt.timedelta(hours=1))
    for run in (old, kept):
        catalog.write(run)
    catalog.compact()
    newer = make_run(id=old.id, started_at=start, updated_at=start + dt.timedelta(days=1))
    new = make_run(started_at=start + dt.timedelta(hours=2))
    directory = catalog.path / "runs" / "demo"
    shutil.copy(sent_segment(tmp_path, [newer, new]), directory / segments.arrival_name())

    listed = catalog.runs().to_dicts()

    assert [(r["id"], r["status"]) for r in listed] == [
        (new.id, "completed"), (kept.id, "completed"), (old.id, "completed")]
    assert listed == by_duckdb(catalog, RunQuery(project="demo").resolved())
    assert catalog.sql("SELECT count(*) FROM runs").tuples() == [(3,)]


def test_compaction_folds_arrivals_in_and_removes_them(catalog: bathos.Catalog,
                                                       tmp_path: Path) -> None:
    mine = make_run()
    catalog.write(mine)
    catalog.compact()
    theirs = [make_run() for _ in range(3)]
    directory = catalog.path / "runs" / "demo"
    arrival = directory / segments.arrival_name()
    shutil.copy(sent_segment(tmp_path, theirs), arrival)
    before = catalog.runs().to_dicts()

    catalog.compact()

    assert not arrival.exists()
    assert segments.arrivals(directory) == []
    assert len(segments.read_manifest(directory) or []) == 2  # its own, and the one folded
    assert catalog.runs().to_dicts() == before
    assert catalog.verify().problems == ()


def test_a_read_finding_many_arrivals_compacts_first(catalog: bathos.Catalog,
                                                     tmp_path: Path) -> None:
    directory = catalog.path / "runs" / "demo"
    directory.mkdir(parents=True)
    sent = [make_run() for _ in range(8)]
    for n, run in enumerate(sent):
        shutil.copy(sent_segment(tmp_path / str(n), [run]), directory / segments.arrival_name())

    assert len(catalog.runs()) == 8
    assert segments.arrivals(directory) == []

"""`Catalog.move_to_project_dirs`: fragments and segments found flat in `runs/`, or in another
project's directory, moved where readers look for them, once."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import attrs
from catalog_helpers import tree_digest
from records import make_run

from bathos.catalog import segments
from bathos.models import unstructure


def flat_catalog(catalog) -> set[str]:
    """Runs of two projects as a flat layout kept them: compacted ones in segments directly in
    `runs/` (with their manifest), hot ones as `runs/<id>.json`."""
    runs = catalog.path / "runs"
    cool = [make_run(project=p) for p in ("alpha", "beta", "alpha")]
    for run in cool:
        catalog.write(run)
    catalog.compact()
    names = []
    for project in ("alpha", "beta"):
        for segment in (runs / project).glob("seg-*.parquet"):
            segment.rename(runs / segment.name)
            names.append(segment.name)
        shutil.rmtree(runs / project)
    segments.write_manifest(runs, names)
    hot = [make_run(project="alpha"), make_run(project="beta")]
    for run in hot:
        (runs / f"{run.id}.json").write_text(json.dumps(unstructure(run)))
    return {r.id for r in [*cool, *hot]}


def ids(catalog) -> list[str]:
    return sorted(i for (i,) in catalog.sql("SELECT id FROM runs").tuples())


def test_a_flat_catalog_is_moved_into_project_directories(catalog) -> None:
    expected = flat_catalog(catalog)
    assert ids(catalog) == []  # readers look in runs/<project>/ only

    report = catalog.move_to_project_dirs()

    assert (report.fragments, report.segments, report.rows) == (2, 2, 3)
    assert ids(catalog) == sorted(expected)
    assert {r["project"] for r in catalog.runs(all_projects=True)} == {"alpha", "beta"}
    assert [p.name for p in (catalog.path / "runs").iterdir() if p.is_file()] == []
    assert catalog.verify().problems == ()


def test_moving_again_moves_nothing(catalog) -> None:
    flat_catalog(catalog)
    catalog.move_to_project_dirs()
    before = tree_digest(catalog.path)

    report = catalog.move_to_project_dirs()

    assert (report.fragments, report.segments, report.rows) == (0, 0, 0)
    assert tree_digest(catalog.path) == before


def test_a_dry_run_changes_nothing(catalog) -> None:
    flat_catalog(catalog)
    before = tree_digest(catalog.path)

    report = catalog.move_to_project_dirs(dry_run=True)

    assert report.dry_run and (report.fragments, report.segments, report.rows) == (2, 2, 3)
    assert tree_digest(catalog.path) == before


def test_a_fragment_in_another_projects_directory_is_moved(catalog) -> None:
    stray, kept = make_run(project="beta"), make_run(project="alpha")
    catalog.write(kept)
    wrong = catalog.path / "runs" / "alpha" / f"{stray.id}.json"
    wrong.write_text(json.dumps(unstructure(stray)))

    assert catalog.move_to_project_dirs().fragments == 1

    assert not wrong.exists()
    assert catalog.get(stray.id) == stray
    assert (catalog.path / "runs" / "beta" / f"{stray.id}.json").exists()


def test_a_stray_copy_older_than_its_projects_is_dropped(catalog) -> None:
    run = make_run(project="beta", status="failed")
    newer = attrs.evolve(run, status="completed",
                         updated_at=run.updated_at + dt.timedelta(minutes=1))
    catalog.write(newer)
    stale = catalog.path / "runs" / f"{run.id}.json"
    stale.write_text(json.dumps(unstructure(run)))

    report = catalog.move_to_project_dirs()

    assert (report.fragments, report.superseded) == (0, 1)
    assert not stale.exists()
    assert catalog.get(run.id) == newer


def test_a_running_run_is_left_to_its_writer(catalog) -> None:
    running = make_run(project="beta", status="running")
    flat = catalog.path / "runs" / f"{running.id}.json"
    flat.parent.mkdir(parents=True)
    flat.write_text(json.dumps(unstructure(running)))  # its heartbeat: now

    assert catalog.move_to_project_dirs().left_running == 1
    assert flat.exists()


def test_rows_of_another_project_in_a_segment_are_moved_out_of_it(catalog) -> None:
    runs = catalog.path / "runs"
    alpha, beta = make_run(project="alpha"), make_run(project="beta")
    catalog.write(alpha)
    catalog.write(beta)
    catalog.compact()
    (segment,) = (runs / "beta").glob("seg-*.parquet")
    segment.rename(runs / "alpha" / segment.name)
    listed = segments.read_manifest(runs / "alpha") or []
    segments.write_manifest(runs / "alpha", [*listed, segment.name])
    (runs / "beta" / segments.MANIFEST).unlink()

    report = catalog.move_to_project_dirs()

    assert (report.segments, report.rows) == (1, 1)
    assert [r["project"] for r in catalog.runs(project="beta")] == ["beta"]
    assert ids(catalog) == sorted([alpha.id, beta.id])
    assert not (runs / "alpha" / segment.name).exists()


def test_an_empty_catalog_is_left_alone(catalog) -> None:
    assert catalog.move_to_project_dirs().fragments == 0
    assert not Path(catalog.path).exists()

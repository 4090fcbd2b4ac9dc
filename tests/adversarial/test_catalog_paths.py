"""A manifest names segments beside it, nothing else: an entry pointing elsewhere is ignored and
reported, and compaction never removes a file it did not make (before, it deleted the file a
manifest named outside the catalog, and a repeated entry doubled runs)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import attrs
import pytest
from attack_helpers import ok
from project import Project
from records import make_run

import bathos
from bathos.models import utcnow


@attrs.define
class Setup:
    catalog: bathos.Catalog
    demo: Path  # runs/demo
    runs: list[bathos.Run]  # 3 in demo's segment, 2 in other's
    elsewhere: Path  # a copy of demo's segment outside the catalog
    work: Project  # where `bth` runs (outside any project: it sees every project)

    def manifest(self, names: list[str]) -> None:
        (self.demo / "segments.manifest").write_text(json.dumps({"segments": names}))

    def listed(self) -> list[str]:
        names: list[str] = json.loads((self.demo / "segments.manifest").read_text())["segments"]
        return names

    def count(self) -> tuple[int, int, str]:
        done = ok(self.work.bth("sql", "--json",
                                "SELECT count(*) AS n, count(DISTINCT id) AS ids FROM runs"))
        (row,) = json.loads(done.stdout)
        return row["n"], row["ids"], done.stderr


@pytest.fixture
def setup(tmp_path: Path, catalog_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Setup:
    monkeypatch.chdir(tmp_path)
    catalog = bathos.Catalog(catalog_dir)
    runs = [make_run() for _ in range(3)] + [make_run(project="other") for _ in range(2)]
    for run in runs:
        catalog.write(run)
    catalog.compact()
    demo = catalog_dir / "runs" / "demo"
    (segment,) = demo.glob("*.parquet")
    elsewhere = tmp_path / "elsewhere" / "my_export.parquet"
    elsewhere.parent.mkdir()
    shutil.copy(segment, elsewhere)
    (tmp_path / "work").mkdir()
    return Setup(catalog, demo, runs, elsewhere, Project(tmp_path / "work"))


def _absolute(s: Setup) -> tuple[str, Path]:
    return str(s.elsewhere), s.elsewhere


def _parent(s: Setup) -> tuple[str, Path]:
    (other,) = (s.demo.parent / "other").glob("*.parquet")
    return f"../other/{other.name}", other


def _symlink(s: Setup) -> tuple[str, Path]:
    (s.demo / "seg-export.parquet").symlink_to(s.elsewhere)
    return "seg-export.parquet", s.elsewhere


def _not_parquet(s: Setup) -> tuple[str, Path]:
    (s.demo / "notes.txt").write_text("kept by hand\n")
    return "notes.txt", s.demo / "notes.txt"


@pytest.mark.parametrize("entry", [_absolute, _parent, _symlink, _not_parquet])
def test_an_entry_naming_a_file_elsewhere_is_ignored_and_that_file_survives_compaction(
    setup: Setup, entry
) -> None:
    name, target = entry(setup)
    content = target.read_bytes()
    setup.manifest([*setup.listed(), name])

    n, ids, warnings = setup.count()
    assert (n, ids) == (5, 5)
    assert f"ignoring {name!r} in {setup.demo / 'segments.manifest'}" in warnings
    for run in setup.runs:
        assert ok(setup.work.bth("show", run.id)).stdout
    found = setup.work.bth("verify")
    assert found.returncode == 1 and f"lists {name!r}" in found.stdout

    again = attrs.evolve(setup.runs[0], status="failed", updated_at=utcnow())
    setup.catalog.write(again)  # a compacted run, updated: compaction merges the segments
    assert ok(setup.work.bth("compact")).stderr.startswith("Folded 1 run")

    assert target.read_bytes() == content
    assert setup.count()[:2] == (5, 5)
    assert setup.catalog.get(again.id).status == "failed"
    assert "0 unreadable" in ok(setup.work.bth("verify")).stderr


def test_repeated_entries_count_once_and_quarantine_rewrites_the_manifest(
    setup: Setup, catalog_dir: Path
) -> None:
    more = [make_run() for _ in range(2)]
    for run in more:
        setup.catalog.write(run)
    setup.catalog.compact()  # demo now has two segments: 3 runs and 2 runs
    first, second = sorted(setup.listed())
    setup.manifest([first, first, second, str(setup.elsewhere)])
    original = (setup.demo / "segments.manifest").read_bytes()

    assert setup.count()[:2] == (7, 7)  # 5 in demo, 2 in other
    ok(setup.work.bth("compact"))
    assert setup.count()[:2] == (7, 7)
    found = setup.work.bth("verify")
    assert found.returncode == 1
    assert f"lists {first!r}, listed twice" in found.stdout
    assert f"lists {str(setup.elsewhere)!r}" in found.stdout

    ok(setup.work.bth("verify", "--quarantine"))

    assert setup.listed() == [first, second]
    assert (catalog_dir / "quarantine" / "demo" / "segments.manifest").read_bytes() == original
    n, ids, warnings = setup.count()
    assert (n, ids, warnings) == (7, 7, "")
    assert "0 unreadable" in ok(setup.work.bth("verify")).stderr
    assert setup.elsewhere.exists()

"""`bth migrate` (and `--from-legacy`) and `bth migrate-to-project-subdirs` from the command line:
summaries on stderr, skipped files on stdout, exit 1 when a file was skipped."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import legacy_catalog as legacy
from cli_helpers import bth, bth_process
from records import make_run

from bathos.models import unstructure

V0_RECORD = Path(__file__).parent.parent / "data" / "v0_run.json"


def test_migrate_upgrades_then_has_nothing_to_do(catalog) -> None:
    target = catalog.path / "runs" / "md-benchmarks" / "1hq2k8d3m0x7a4tb.json"
    target.parent.mkdir(parents=True)
    shutil.copyfile(V0_RECORD, target)

    dry = bth("migrate", "--dry-run")
    assert dry.exit_code == 0
    assert "Would upgrade 1 record (version 0: 1) in 1 fragment and 0 segments" in dry.stderr
    assert "records to migrate (1 of schema version 0)" in bth("verify").stdout

    done = bth("migrate")
    assert done.exit_code == 0, done.stderr
    assert "Upgraded 1 record (version 0: 1)" in done.stderr
    assert json.loads(target.read_text())["schema_version"] == 1

    again = bth("migrate")
    assert "nothing to migrate" in again.stderr and again.stdout == ""


def test_migrate_of_an_unknown_project_is_bad_input(catalog) -> None:
    catalog.write(make_run())

    result = bth("migrate", "--project", "nope")

    assert result.exit_code == 2
    assert "no project nope" in result.stderr


def test_migrate_from_legacy_imports_once_and_lists_what_it_skipped(tmp_path, catalog) -> None:
    old = legacy.build(tmp_path / "old")
    broken = old / "runs" / "run_5e0bcd7b-9c6f-4dce-8fa6-be6c7f8091a2.parquet"
    broken.write_bytes(b"garbage")

    first = bth_process("migrate", "--from-legacy", str(old))
    assert first.returncode == 1, first.stderr
    assert "Imported 5 runs and 1 campaign" in first.stderr
    assert first.stdout.startswith(f"{broken}: not a readable Parquet file")
    assert "Traceback" not in first.stderr

    broken.unlink()
    second = bth_process("migrate", "--from-legacy", str(old))
    assert second.returncode == 0, second.stderr
    assert "Imported 0 runs and 1 campaign" in second.stderr
    assert "5 runs already here" in second.stderr
    shown = bth_process("show", legacy.V15[:8])
    assert shown.returncode == 0 and legacy.V15 in shown.stdout


def test_migrate_from_a_path_without_a_legacy_catalog_is_bad_input(tmp_path) -> None:
    result = bth("migrate", "--from-legacy", str(tmp_path))

    assert result.exit_code == 2
    assert "no catalog of the older bathos" in result.stderr


def test_migrate_to_project_subdirs_moves_a_flat_fragment(catalog) -> None:
    run = make_run(project="alpha")
    flat = catalog.path / "runs" / f"{run.id}.json"
    flat.parent.mkdir(parents=True)
    flat.write_text(json.dumps(unstructure(run)))

    assert "Would move 1 fragment" in bth("migrate-to-project-subdirs", "--dry-run").stderr
    assert flat.exists()
    result = bth("migrate-to-project-subdirs")

    assert result.exit_code == 0
    assert "Moved 1 fragment and 0 compacted runs from 0 segments" in result.stderr
    assert catalog.get(run.id) == run

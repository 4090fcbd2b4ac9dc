"""`bth compact` and `bth verify`, every command on an empty catalog, and damaged files seen from
the command line: warnings on stderr, data on stdout, documented exit codes."""

from __future__ import annotations

import json

import pytest
from cli_helpers import bth
from records import make_run

import bathos


@pytest.mark.parametrize("args", [
    ["ls"],
    ["ls", "--all-projects", "--json"],
    ["find", "--script", "*.py", "--csv"],
    ["show", "--help"],
    ["sql", "SELECT count(*) AS n FROM runs"],
    ["sql", "--schema"],
    ["compact"],
    ["verify"],
    ["verify", "--quarantine"],
])
def test_every_command_works_on_a_catalog_that_does_not_exist(bth_home, args) -> None:
    assert not bth_home.exists()

    result = bth(*args)

    assert result.exit_code == 0, result.stderr
    assert "Traceback" not in result.stderr


READING = [
    ["ls"], ["ls", "--all-projects", "--json"], ["find", "--script", "*.py"],
    ["show", "1m8rmjexztrs"], ["logs", "1m8rmjexztrs"], ["lineage", "1m8rmjexztrs"],
    ["sql", "SELECT 1"], ["sql", "--schema"], ["check"], ["compact"], ["verify"],
]


@pytest.mark.parametrize("variable", ["BTH_HOME", "BTH_CATALOG_DIR"])
@pytest.mark.parametrize("args", READING, ids=" ".join)
def test_a_catalog_in_the_way_of_a_file_is_one_error_line(tmp_path, monkeypatch, variable,
                                                          args) -> None:
    in_the_way = tmp_path / "a-file"
    in_the_way.write_text("not a directory\n")
    monkeypatch.setenv(variable, str(in_the_way))

    result = bth(*args)

    assert result.exit_code == 2, result.stderr
    assert result.stdout == ""
    [line] = result.stderr.splitlines()
    assert line.startswith(f"Error: catalog {in_the_way}") and " cannot be " in line


def test_empty_catalog_answers_are_empty(bth_home) -> None:
    assert json.loads(bth("ls", "--json").stdout) == []
    assert json.loads(bth("sql", "SELECT count(*) AS n FROM runs", "--json").stdout) == [{"n": 0}]
    assert "0 files checked, 0 unreadable" in bth("verify").stderr


def test_compact_folds_finished_runs_and_reports_on_stderr(bth_home) -> None:
    catalog = bathos.Catalog()
    runs = [make_run() for _ in range(3)]
    for run in runs:
        catalog.write(run)

    result = bth("compact")

    assert result.exit_code == 0
    assert result.stdout == ""
    assert result.stderr.startswith("Folded 3 runs into 1 segment(s)")
    assert sorted([r["id"] for r in catalog.runs()]) == sorted(r.id for r in runs)
    assert not list((catalog.path / "runs" / "demo").glob("*.json"))


def test_ls_lists_the_rest_and_warns_on_stderr_naming_each_file(damaged) -> None:
    result = bth("ls", "--json")

    assert result.exit_code == 0
    assert (sorted(r["id"] for r in json.loads(result.stdout))
            == sorted(r.id for r in damaged.readable))
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 2
    assert any(str(damaged.garbage) in w for w in warnings)
    assert any(str(damaged.truncated) in w for w in warnings)
    assert all("bth verify --quarantine" in w for w in warnings)


def test_verify_lists_damaged_files_and_exits_1(damaged) -> None:
    result = bth("verify")

    assert result.exit_code == 1
    listed = sorted(line.split(": ")[0] for line in result.stdout.splitlines())
    assert listed == sorted([str(damaged.garbage), str(damaged.truncated)])
    assert "2 unreadable" in result.stderr


def test_verify_quarantine_moves_damaged_files_then_verify_passes(damaged, catalog_dir) -> None:
    result = bth("verify", "--quarantine")

    assert result.exit_code == 0
    quarantine = catalog_dir / "quarantine"
    moved = {
        damaged.garbage: quarantine / "demo" / damaged.garbage.name,
        damaged.truncated: quarantine / "other" / damaged.truncated.name,
    }
    for original, target in moved.items():
        assert not original.exists()
        assert target.read_bytes() == damaged.contents[original]
        assert f"quarantined -> {target}" in result.stderr

    again = bth("verify")
    assert again.exit_code == 0
    assert again.stdout == ""
    listing = bth("ls", "--json")
    assert listing.stderr == ""
    assert (sorted(r["id"] for r in json.loads(listing.stdout))
            == sorted(r.id for r in damaged.readable))

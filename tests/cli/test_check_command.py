"""`bth check`: verdicts rendered, filtered and scoped; `bth check PATH`; exit codes 0, 1 and 2.

Runs are recorded by real `bth run` processes in real git repositories; `bth check` itself is
called through CliRunner, and its answers are compared with `bathos.check`.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterator
from itertools import takewhile
from pathlib import Path

import attrs
import pytest
from click.testing import CliRunner, Result

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "freshness"))
from freshness_helpers import CHANGED_MODEL, TRAIN, Project, check

from bathos_cli.main import cli

CHANGED_UNITS = "METRE = 100.0\n"


def bth_check(*args: str) -> Result:
    return CliRunner().invoke(cli, ["check", *args])


def one_line_error(result: Result) -> str:
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2, result.output
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    return lines[0]


@attrs.frozen
class Scenario:
    """One project with a fresh run, a stale one (two modules changed) and a failed one."""

    project: Project
    home: Path
    fresh: str
    stale: str
    failed: str


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scenario]:
    base = tmp_path_factory.mktemp("check-cli")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("BTH_HOME", str(base / "bth-home"))
        mp.delenv("BTH_CATALOG_DIR", raising=False)
        project = Project.create(base / "proj")
        fresh = project.summarise("results/summary.txt")
        stale = project.train("results/out.txt")
        failed = project.bth_run(TRAIN, "data/input.csv", "results/failed.txt", "3", expect=3).id
        project.write("physics/model.py", CHANGED_MODEL)
        project.write("physics/units.py", CHANGED_UNITS)
        yield Scenario(project, base / "bth-home", fresh, stale, failed)


@pytest.fixture
def scenario(recorded: Scenario, monkeypatch: pytest.MonkeyPatch) -> Scenario:
    """The recorded scenario, with the test's BTH_HOME and cwd pointing at it."""
    monkeypatch.setenv("BTH_HOME", str(recorded.home))
    monkeypatch.chdir(recorded.project.root)
    return recorded


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return Project.create(tmp_path / "proj")


# verdicts, filters and exit codes ----------------------------------------------------------------


def test_grouped_by_verdict_with_a_summary_and_exit_1(scenario: Scenario) -> None:
    result = bth_check()

    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0] == "stale (1)"
    assert lines[1].split()[:2] == [scenario.stale[:12], TRAIN]
    assert "physics/model.py modified (uncommitted)" in lines[1]
    assert lines[2:] == ["fresh (1)", f"  {scenario.fresh[:12]}  scripts/analysis/summarise.py"]
    assert scenario.failed[:12] not in result.stdout  # failed runs are not considered by default
    assert result.stderr.strip() == "2 runs checked: 1 fresh, 1 stale"


def test_verbose_lists_every_reason(scenario: Scenario) -> None:
    terse = bth_check(scenario.stale[:12])
    verbose = bth_check("-v", scenario.stale[:12])

    assert "physics/units.py" not in terse.stdout
    assert "physics/model.py modified (uncommitted)" in verbose.stdout
    assert "      physics/units.py modified (uncommitted)" in verbose.stdout
    assert verbose.exit_code == terse.exit_code == 1


def test_status_filters_what_is_shown_and_the_exit_code(scenario: Scenario) -> None:
    stale = bth_check("--status", "stale")
    fresh = bth_check("--status", "fresh")

    assert scenario.stale[:12] in stale.stdout and scenario.fresh[:12] not in stale.stdout
    assert stale.exit_code == 1
    assert scenario.fresh[:12] in fresh.stdout and scenario.stale[:12] not in fresh.stdout
    assert fresh.exit_code == 0


def test_run_status_chooses_which_runs_are_considered(scenario: Scenario) -> None:
    failed = bth_check("--run-status", "failed", "--json")
    both = bth_check("--run-status", "failed", "--run-status", "completed", "--json")

    assert [v["run_id"] for v in json.loads(failed.stdout)] == [scenario.failed]
    assert {v["run_id"] for v in json.loads(both.stdout)} == {
        scenario.fresh, scenario.stale, scenario.failed}
    assert bth_check("--run-status", "bogus").exit_code == 2


def test_run_ids_check_those_runs_newest_first(scenario: Scenario) -> None:
    fresh = bth_check(scenario.fresh[:12])
    both = bth_check("--json", scenario.fresh, scenario.stale[:10])

    assert fresh.exit_code == 0
    assert fresh.stdout.splitlines()[0] == "fresh (1)"
    assert [v["run_id"] for v in json.loads(both.stdout)] == [scenario.stale, scenario.fresh]
    assert both.exit_code == 1


def test_json_is_the_library_report(scenario: Scenario) -> None:
    for args, kwargs in [((), {"project": "alpha"}),
                         (("--status", "stale", "--check-outputs"),
                          {"verdicts": ["stale"], "check_outputs": True}),
                         ((scenario.stale[:12],), {"runs": [scenario.stale]})]:
        result = bth_check("--json", *args)
        expected = json.loads(json.dumps(check(**kwargs).to_dicts()))
        assert json.loads(result.stdout) == expected


def test_bad_input_is_one_line_and_exit_2(scenario: Scenario) -> None:
    unknown = one_line_error(bth_check("0000zzzz"))
    same = takewhile(lambda chars: len(set(chars)) == 1,
                     zip(scenario.fresh, scenario.stale, scenario.failed, strict=True))
    ambiguous = one_line_error(bth_check("".join(chars[0] for chars in same)))
    revision = one_line_error(bth_check("--against", "nosuchrev"))

    assert "run 0000zzzz not found" in unknown
    assert "matches 3 runs" in ambiguous
    assert "unknown git revision 'nosuchrev'" in revision
    assert bth_check("--status", "bogus").exit_code == 2
    assert "Exit codes" in bth_check("--help").stdout


def test_against_a_revision(scenario: Scenario) -> None:
    against_head = bth_check("--against", "HEAD")

    assert against_head.exit_code == 0  # the modules were edited in the working tree only
    assert against_head.stderr.strip() == "2 runs checked against HEAD: 2 fresh"


# bth check PATH ----------------------------------------------------------------------------------


def test_a_path_is_traced_to_its_run(scenario: Scenario) -> None:
    result = bth_check("results/summary.txt")

    assert result.exit_code == 0
    assert result.stdout.strip() == (
        f"results/summary.txt was produced by run {scenario.fresh[:12]} "
        "(scripts/analysis/summarise.py), found by its recorded path; that run is fresh.")


def test_a_path_of_a_stale_run_names_every_reason(scenario: Scenario) -> None:
    result = bth_check("results/out.txt")

    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0].endswith("found by its recorded path; that run is stale.")
    assert "      physics/model.py modified (uncommitted)" in lines
    assert "      physics/units.py modified (uncommitted)" in lines


def test_a_moved_output_is_traced_by_content(project: Project, monkeypatch: pytest.MonkeyPatch
                                             ) -> None:
    run_id = project.train()
    monkeypatch.chdir(project.root)
    (project.root / "archive").mkdir()
    shutil.move(project.root / "results/out.txt", project.root / "archive/final.txt")

    moved = bth_check("archive/final.txt")
    (project.root / "archive/final.txt").write_text("not what the run wrote\n")
    edited = bth_check("archive/final.txt")
    project.write("results/out.txt", "edited\n")
    at_its_path = bth_check("results/out.txt")

    assert moved.exit_code == 0, moved.output
    assert moved.stdout.strip() == (
        f"archive/final.txt was produced by run {run_id[:12]} ({TRAIN}), "
        "found by content (recorded as results/out.txt); that run is fresh.")
    assert edited.exit_code == 1
    assert edited.stdout.strip() == "No recorded run produced archive/final.txt."
    assert at_its_path.exit_code == 1
    assert "found by its recorded path, and it was modified since" in at_its_path.stdout


def test_a_path_outside_every_project_is_bad_input(
        scenario: Scenario, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.txt"
    outside.write_text("x\n")

    error = one_line_error(bth_check(str(outside)))

    assert "outside every git repository and bathos project" in error


# scope: projects, and a repository that moved ----------------------------------------------------


def test_runs_of_two_projects_do_not_mix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                         ) -> None:
    alpha = Project.create(tmp_path / "alpha", slug="alpha")
    beta = Project.create(tmp_path / "beta", slug="beta")
    assert beta.bth("init", "--slug", "beta").returncode == 0  # already initialised: a no-op
    a = alpha.summarise("results/a.txt")
    b = beta.summarise("results/b.txt")

    monkeypatch.chdir(alpha.root)
    here = json.loads(bth_check("--json").stdout)
    other = json.loads(bth_check("--json", "--project", "beta").stdout)
    both = json.loads(bth_check("--json", "--all-projects").stdout)

    assert [(v["run_id"], v["project"]) for v in here] == [(a, "alpha")]
    assert [(v["run_id"], v["project"]) for v in other] == [(b, "beta")]
    assert [v["run_id"] for v in both] == [b, a]


def test_a_moved_repository_is_found_through_the_registry(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    old = Project.create(tmp_path / "old")
    run_id = old.train()
    new = Project(tmp_path / "elsewhere" / "new")
    new.root.parent.mkdir()
    shutil.move(old.root, new.root)
    monkeypatch.chdir(new.root)

    lost = one_line_error(bth_check())
    init = CliRunner().invoke(cli, ["init"])
    found = bth_check("-v")
    new.write("physics/model.py", CHANGED_MODEL)
    changed = bth_check()

    assert str(old.root) in lost and "bth init" in lost
    assert init.exit_code == 0, init.output
    assert found.exit_code == 0, found.output
    assert found.stdout.splitlines() == ["fresh (1)", f"  {run_id[:12]}  {TRAIN}"]
    assert changed.exit_code == 1
    assert "physics/model.py modified (uncommitted)" in changed.stdout

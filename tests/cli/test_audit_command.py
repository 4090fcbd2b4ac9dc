"""`bth sprint-audit` over real projects: two git repositories registered with `bth init`, one
with its own catalog, real `bth run` processes, and a registered project that is gone."""

from __future__ import annotations

import datetime as dt
import json
import math
import shutil
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import pytest
from cli_helpers import bth
from project import make_project
from records import make_run

import bathos
from bathos.audit import BYPASS_RATE_ABOVE, FAILURE_RATE_ABOVE, NeverFired, sprint_audit
from bathos.projects import register

COUNT = "scripts/analysis/count_things.py"
BREAK = "scripts/analysis/break_things.py"
MEASURE = "scripts/analysis/measure_speed.py"
SIDECAR = """\
[experiment]
hypothesis = "the new solver is faster"
stage = "exploration"

[result_schema]
speedup = "float"

[outcomes.faster]
condition = "speedup >= 1.2"
decision = "switch to the new solver"

[outcomes.slower]
condition = "speedup < 0.8"
decision = "drop it"

[outcomes.flat]
is_residual = true
decision = "measure on a bigger case"
"""
BETA = {("beta", "entropy"), ("beta", "never-fired")}


def _runs(catalog: bathos.Catalog, project: str, hours: float) -> list[bathos.Run]:
    """The project's runs in the window, read back as Run records."""
    since = dt.datetime.now(dt.UTC) - dt.timedelta(hours=hours)
    ids = catalog.sql("SELECT id FROM runs WHERE project = ?", [project]).tuples()
    return [run for (run_id,) in ids if (run := catalog.get(run_id)).started_at >= since]


@pytest.fixture
def sprint(tmp_path: Path) -> SimpleNamespace:
    """alpha: a clean run, a failure, a bypassed run and a dirty-tree run, then the script edited
    and committed (the clean runs go stale), plus a lost run three days ago. beta (its own
    catalog): five runs of a script whose sidecar has three outcomes, all faster, two of them
    driven by an agent. gamma: registered, then its directory removed."""
    alpha = make_project(tmp_path / "alpha", {COUNT: "print('ok')\n",
                                              BREAK: "raise SystemExit(3)\n"})
    alpha.bth_run(COUNT)
    alpha.bth_run(BREAK, expect=3)
    alpha.bth_run("--no-sidecar", COUNT)
    alpha.write(COUNT, "print('still ok')\n")
    alpha.bth_run(COUNT)
    alpha.commit("count differently")
    three_days_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=3)
    bathos.Catalog().write(make_run(project="alpha", status="lost", started_at=three_days_ago))

    beta = make_project(tmp_path / "beta", {
        MEASURE: "import sys\nimport bth\n"
                 "bth.log(speedup=float(sys.argv[1]) if sys.argv[1:] else 1.5)\n",
        MEASURE.replace(".py", ".bth.toml"): SIDECAR})
    config = beta.root / ".bth.toml"
    config.write_text(config.read_text().replace("[project]\n",
                                                 '[project]\ncatalog = "../beta-catalog"\n'))
    beta.commit("own catalog")
    for flags in (["--agent-mode", "autonomous"], ["--agent-mode", "collaborative"], [], [], []):
        assert beta.bth("run", *flags, MEASURE).returncode == 0  # read back from its catalog

    gone = make_project(tmp_path / "gamma", {})
    register("gamma", gone.root)
    shutil.rmtree(gone.root)
    return SimpleNamespace(alpha=alpha, beta=beta, alpha_catalog=bathos.Catalog(),
                           beta_catalog=bathos.Catalog(tmp_path / "beta-catalog"))


def test_each_registered_project_is_audited_from_its_own_catalog(sprint: SimpleNamespace) -> None:
    report = sprint_audit()

    by_slug = {p.project: p for p in report.projects}
    assert sorted(by_slug) == ["alpha", "beta", "gamma"]
    assert by_slug["beta"].catalog == str(sprint.beta_catalog.path)
    for slug, catalog in (("alpha", sprint.alpha_catalog), ("beta", sprint.beta_catalog)):
        runs = _runs(catalog, slug, 168)
        audit = by_slug[slug]
        assert audit.runs == len(runs)
        assert audit.failure_rate == sum(r.status == "failed" for r in runs) / len(runs)
        assert audit.lost_rate == sum(r.status == "lost" for r in runs) / len(runs)
        assert audit.bypass_rate == sum(bool(r.sidecar and r.sidecar.mode == "bypassed")
                                        for r in runs) / len(runs)
        assert audit.dirty_share == sum(bool(r.git and r.git.dirty) for r in runs) / len(runs)
        assert audit.agent_share == sum(r.agent_mode is not None for r in runs) / len(runs)
        assert audit.autonomous == sum(r.agent_mode == "autonomous" for r in runs)
    assert (by_slug["alpha"].runs, by_slug["beta"].runs) == (5, 5)
    assert report.total.runs == 10
    assert report.total.failed == 1 and report.total.agent == 2


def test_results_made_stale_by_an_edit_are_counted(sprint: SimpleNamespace) -> None:
    alpha = {p.project: p for p in sprint_audit().projects}["alpha"]
    verdicts = sprint.alpha_catalog.check(project="alpha").counts()

    assert (alpha.checked, alpha.stale) == (3, verdicts["stale"] + verdicts["stale-upstream"])
    assert alpha.stale == 2  # the two clean runs of the old script; the dirty run pinned the new


def test_warnings_fire_above_their_thresholds_not_at_them(sprint: SimpleNamespace) -> None:
    week, day = sprint_audit(), sprint_audit(24)

    # A week: 1 of 5 failed, exactly the limit; the lost run is 20 %, far above its 5 %.
    assert {(w.project, w.kind) for w in week.warnings} == {
        ("alpha", "lost"), ("alpha", "stale"), ("beta", "entropy"), ("beta", "never-fired"),
        ("gamma", "unreadable")}
    # A day: the lost run is out; 1 of 4 failed, above; 1 of 4 bypassed, exactly the limit.
    alpha = {p.project: p for p in day.projects}["alpha"]
    assert alpha.failure_rate == 0.25 > FAILURE_RATE_ABOVE
    assert alpha.bypass_rate == BYPASS_RATE_ABOVE
    assert {(w.project, w.kind) for w in day.warnings} - BETA == {
        ("alpha", "failures"), ("alpha", "stale"), ("gamma", "unreadable")}
    assert "25% of runs failed (above 20%)" in [w.message for w in day.warnings]


def test_outcomes_their_entropy_and_the_ones_that_never_fired(sprint: SimpleNamespace) -> None:
    beta = {p.project: p for p in sprint_audit().projects}["beta"]

    runs = _runs(sprint.beta_catalog, "beta", 168)
    assert beta.outcomes == Counter(r.outcome.label for r in runs if r.outcome) == {"faster": 5}
    assert beta.entropy == 0.0
    assert beta.never_fired == (NeverFired(MEASURE, MEASURE.replace(".py", ".bth.toml"),
                                           ("slower",)),)  # the residual need never fire

    assert sprint.beta.bth("run", MEASURE, "--", "0.5").returncode == 0
    beta = {p.project: p for p in sprint_audit().projects}["beta"]
    assert beta.outcomes == {"faster": 5, "slower": 1}
    assert beta.never_fired == ()
    assert beta.entropy == pytest.approx(-(5 / 6 * math.log(5 / 6) + 1 / 6 * math.log(1 / 6))
                                         / math.log(2))
    assert not [w for w in sprint_audit().warnings if w.project == "beta"]


def test_hours_narrow_the_window(sprint: SimpleNamespace) -> None:
    day = {p.project: p for p in sprint_audit(24).projects}["alpha"]

    assert day.runs == len(_runs(sprint.alpha_catalog, "alpha", 24)) == 4
    assert day.lost == 0
    assert sprint_audit(48).total.runs == 9


def test_a_registered_project_that_is_gone_is_a_line_not_a_crash(
        sprint: SimpleNamespace) -> None:
    done = bth("sprint-audit")

    assert done.exit_code == 0, done.output
    lines = done.stdout.splitlines()
    assert lines[0].split()[:3] == ["project", "runs", "failed"]
    rows = {line.split()[0]: line.split() for line in lines[1:5]}
    assert rows["alpha"][1:3] == ["5", "20%"]
    assert rows["beta"][1] == "5" and rows["total"][1] == "10"
    assert "(not read)" in " ".join(rows["gamma"])
    assert f"gamma: registered but not read: its directory {sprint.alpha.root.parent}/gamma " \
           "is gone" in done.stdout


def test_json_is_the_whole_report_and_strict_fails_on_warnings(sprint: SimpleNamespace) -> None:
    done = bth("sprint-audit", "--json", "--hours", "48")

    report = json.loads(done.stdout)
    assert set(report) == {"hours", "since", "projects", "total", "warnings"}
    assert report["hours"] == 48.0
    assert [p["project"] for p in report["projects"]] == ["alpha", "beta", "gamma"]
    assert report["total"]["runs"] == 9
    assert {"failure_rate", "outcomes", "entropy", "never_fired", "stale"} <= set(
        report["projects"][0])
    assert bth("sprint-audit", "--strict").exit_code == 1


def test_a_project_whose_config_is_broken_is_reported_not_read(tmp_path: Path) -> None:
    broken = make_project(tmp_path / "broken", {})
    (broken.root / ".bth.toml").write_text("[project\n")

    report = sprint_audit()

    assert [(p.project, p.runs) for p in report.projects] == [("broken", 0)]
    assert report.projects[0].problem is not None
    assert "is not valid TOML" in report.projects[0].problem
    assert [w.kind for w in report.warnings] == ["unreadable"]
    assert bth("sprint-audit").exit_code == 0


def test_a_window_of_no_hours_is_bad_input() -> None:
    done = bth("sprint-audit", "--hours", "0")

    assert done.exit_code == 2
    assert "--hours" in done.stderr

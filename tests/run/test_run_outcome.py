"""A run with a sidecar is judged when it ends: its outcome is in the record, `bth show`, `bth ls
-c outcome`, `bth find --outcome` and SQL; the sidecar it was judged by stays readable."""

from __future__ import annotations

import json

from project import Project

from bathos import Catalog, RunOutcome

SCRIPT = """\
import sys
import bth
speedup = float(sys.argv[1])
bth.log(speedup=speedup)
if len(sys.argv) > 2:
    bth.log(max_error=float(sys.argv[2]))
sys.exit(int(sys.argv[3]) if len(sys.argv) > 3 else 0)
"""

SIDECAR = """\
[benchmark]
metric = "speedup"
baseline_ref = "main"

[result_schema]
speedup = "float"
max_error = "float"

[outcomes.faster]
condition = "speedup >= 1.2 AND max_error < 1e-6"
decision = "merge the new solver"

[outcomes.slower]
condition = "speedup < 0.9"
decision = "revert"

[outcomes.flat]
is_residual = true
decision = "profile before deciding"
"""

TIME = "scripts/benchmarks/time_solver.py"


def benchmark(project: Project) -> Project:
    project.write(TIME, SCRIPT)
    project.write("scripts/benchmarks/time_solver.bth.toml", SIDECAR)
    project.commit("a benchmark with its sidecar")
    return project


def test_each_run_records_the_outcome_its_results_meant(project: Project) -> None:
    benchmark(project)

    faster = project.bth_run(TIME, "1.5", "1e-7")
    slower = project.bth_run(TIME, "0.5")
    flat = project.bth_run(TIME, "1.0", "1e-7")
    failed = project.bth_run(TIME, "2.0", "1e-9", "3", expect=3)
    unknown = project.bth_run(TIME, "1.5")

    assert faster.outcome == RunOutcome("faster", "speedup >= 1.2 AND max_error < 1e-6",
                                        "merge the new solver",
                                        {"speedup": 1.5, "max_error": 1e-7})
    assert (slower.outcome and slower.outcome.label) == "slower"
    assert flat.outcome == RunOutcome("flat", None, "profile before deciding",
                                      {"speedup": 1.0, "max_error": 1e-7}, "no condition held")
    assert failed.outcome == RunOutcome("error", reason="exited with code 3")
    assert unknown.outcome == RunOutcome(
        "unknown", "speedup >= 1.2 AND max_error < 1e-6", None, {"speedup": 1.5},
        "outcome faster: the results have no max_error")


def test_the_sidecar_a_run_was_judged_by_stays_readable_after_it_changes(
        project: Project) -> None:
    run = benchmark(project).bth_run(TIME, "1.5", "1e-7")
    project.write("scripts/benchmarks/time_solver.bth.toml",
                  SIDECAR.replace('"main"', '"v2"'))

    kept = Catalog().sidecar(run.id)

    assert run.sidecar is not None and run.sidecar.blob == run.sidecar.sha256
    assert kept is not None and kept.fields["baseline_ref"] == "main"
    assert [o.label for o in kept.outcomes] == ["faster", "slower", "flat"]
    assert Catalog().sidecar(project.bth_run("scripts/experiments/hello.py")) is None


def test_show_has_the_sidecar_and_outcome_and_nothing_for_a_run_without(
        project: Project) -> None:
    run = benchmark(project).bth_run(TIME, "1.5", "1e-7")
    plain = project.bth_run("scripts/experiments/hello.py")

    shown = project.bth("show", run.id).stdout
    bare = project.bth("show", plain.id).stdout

    assert ("\nSidecar\n  path: scripts/benchmarks/time_solver.bth.toml\n  mode: recorded\n"
            "  kind: benchmark\n  metric: speedup\n  baseline_ref: main\n") in shown
    assert ("\nOutcome\n  label: faster\n  decision: merge the new solver\n"
            "  condition: speedup >= 1.2 AND max_error < 1e-6\n"
            '  values: {"speedup": 1.5, "max_error": 1e-07}\n') in shown
    assert "Sidecar" not in bare and "Outcome" not in bare


def test_find_ls_and_sql_see_the_outcome(project: Project) -> None:
    benchmark(project)
    faster = project.bth_run(TIME, "1.5", "1e-7")
    slower = project.bth_run(TIME, "0.5")
    plain = project.bth_run("scripts/experiments/hello.py")

    found = json.loads(project.bth("find", "--outcome", "slower", "--json").stdout)
    listed = json.loads(project.bth("ls", "-c", "id,outcome", "--json").stdout)
    counted = json.loads(project.bth(
        "sql", "SELECT outcome, count(*) AS n FROM runs GROUP BY 1 ORDER BY 1", "--json").stdout)

    assert [r["id"] for r in found] == [slower.id]
    assert listed == [{"id": plain.id, "outcome": None}, {"id": slower.id, "outcome": "slower"},
                      {"id": faster.id, "outcome": "faster"}]
    assert counted == [{"outcome": "faster", "n": 1}, {"outcome": "slower", "n": 1},
                       {"outcome": None, "n": 1}]


def test_after_compaction_the_outcome_is_still_listed_and_found(project: Project) -> None:
    slower = benchmark(project).bth_run(TIME, "0.5")
    assert project.bth("compact").returncode == 0

    listed = json.loads(project.bth("ls", "-c", "outcome", "--json").stdout)
    found = Catalog().runs(outcome="slower")

    assert listed == [{"outcome": "slower"}]
    assert [r["id"] for r in found] == [slower.id]


def test_an_invalid_sidecar_outside_the_guarded_directories_records_no_outcome(
        project: Project) -> None:
    project.write("tools/probe.py", "print('probe')\n")
    project.write("tools/probe.bth.toml", "[debug]\nsymptom = 'slow'\n")
    project.commit("a probe")

    done = project.bth("run", "tools/probe.py")

    assert done.returncode == 0
    assert done.run().outcome is None
    assert ("no outcome recorded: tools/probe.bth.toml:1: outcomes: missing: say what each "
            "result would mean") in done.stderr

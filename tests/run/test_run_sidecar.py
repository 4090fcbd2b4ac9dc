"""`bth run` and a script's sidecar: required in scripts/experiments, benchmarks and validation (or
the directories `.bth.toml [sidecar] required` names), valid wherever it is, not retiring the
script, and under `--agent-mode autonomous` the one its runs were judged by. A refusal starts
nothing and records nothing; `--json-errors` (or `--agent-mode`) makes it one JSON object."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from project import NO_SIDECAR_REQUIRED, SIDECAR, Done, Project, make_project

from bathos import Catalog

HELLO = "print('hello')\n"
TRAIN = "scripts/experiments/train.py"
TRAIN_SIDECAR = "scripts/experiments/train.bth.toml"
MOVED = SIDECAR.replace('"the script runs to its end"', '"it prints hello"')


@pytest.fixture
def guarded(tmp_path: Path) -> Project:
    """A committed project with the default rule, and a script in each directory."""
    return make_project(tmp_path / "proj", {
        TRAIN: HELLO, "scripts/benchmarks/time_solver.py": HELLO,
        "scripts/validation/check_energy.py": HELLO, "scripts/analysis/plot_energy.py": HELLO,
        "tools/probe.py": HELLO}, sidecars_required=True)


def sha256(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def refused(project: Project, done: Done) -> str:
    """The one line of a refusal, once checked that nothing ran or was recorded."""
    assert done.returncode == 2, done.stderr
    assert "hello" not in done.stdout
    assert Catalog().runs().tuples() == []
    assert not (project.root / "outputs").exists()
    [line] = done.stderr.splitlines()
    return line


def json_error(done: Done) -> dict[str, Any]:
    assert done.returncode == 2, done.stderr
    [line] = done.stderr.splitlines()
    error: dict[str, Any] = json.loads(line)
    return error


@pytest.mark.parametrize("script", [TRAIN, "scripts/benchmarks/time_solver.py",
                                    "scripts/validation/check_energy.py"])
def test_a_script_in_a_guarded_directory_needs_a_sidecar(guarded: Project, script: str) -> None:
    line = refused(guarded, guarded.bth("run", script))
    sidecar = script.replace(".py", ".bth.toml")
    guarded.write(sidecar, SIDECAR)
    run = guarded.bth_run(script)

    assert line.startswith(f"Error: {sidecar} is missing: a script in "
                           f"{script.rsplit('/', 1)[0]}/ runs only with a sidecar")
    assert "bth new-experiment NAME" in line and "bth run --no-sidecar" in line
    assert run.sidecar is not None and (run.sidecar.path, run.sidecar.mode) == (sidecar,
                                                                                 "recorded")


def test_elsewhere_a_sidecar_is_optional(guarded: Project) -> None:
    plain = guarded.bth_run("scripts/analysis/plot_energy.py")
    guarded.write("tools/probe.bth.toml", SIDECAR)
    with_one = guarded.bth_run("tools/probe.py")

    assert plain.sidecar is None
    assert with_one.sidecar is not None and with_one.sidecar.mode == "recorded"
    assert with_one.outcome is not None and with_one.outcome.label == "ran"


def test_the_guarded_directories_are_configurable(guarded: Project) -> None:
    config = guarded.root / ".bth.toml"
    config.write_text(config.read_text() + '\n[sidecar]\nrequired = ["tools/"]\n')

    line = refused(guarded, guarded.bth("run", "tools/probe.py"))
    experiment = guarded.bth_run(TRAIN)

    assert line.startswith("Error: tools/probe.bth.toml is missing: a script in tools/ runs")
    assert experiment.sidecar is None


def test_a_bad_required_list_is_one_line(guarded: Project) -> None:
    config = guarded.root / ".bth.toml"
    config.write_text(config.read_text() + '\n[sidecar]\nrequired = ["../elsewhere"]\n')

    line = refused(guarded, guarded.bth("run", "scripts/analysis/plot_energy.py"))

    assert line.endswith("sidecar.required: '../elsewhere' must be a directory relative to the "
                         "project root (e.g. \"scripts/experiments\")")


def test_no_sidecar_runs_it_and_records_the_bypass_with_the_sidecars_hash(
        guarded: Project) -> None:
    without = guarded.bth_run("--no-sidecar", TRAIN)
    invalid = guarded.write(TRAIN_SIDECAR, "[experiment]\nhypothesis = 3\n")
    despite = guarded.bth_run("--no-sidecar", TRAIN)

    assert without.sidecar is not None
    assert (without.sidecar.path, without.sidecar.sha256, without.sidecar.mode) == (
        None, None, "bypassed")
    assert despite.sidecar is not None
    assert (despite.sidecar.path, despite.sidecar.sha256, despite.sidecar.mode) == (
        TRAIN_SIDECAR, sha256(invalid), "bypassed")
    assert {d.path: d.sha256 for d in despite.dependencies if d.role == "sidecar"} == {
        TRAIN_SIDECAR: sha256(invalid)}
    assert Catalog().sql("SELECT count(*) FROM runs WHERE sidecar->>'mode' = 'bypassed'"
                         ).tuples() == [(2,)]


def test_an_invalid_sidecar_names_its_file_line_and_key(guarded: Project) -> None:
    guarded.write(TRAIN_SIDECAR, SIDECAR.replace('stage = "exploration"', 'stage = "someday"'))

    line = refused(guarded, guarded.bth("run", TRAIN))
    error = json_error(guarded.bth("run", "--json-errors", TRAIN))

    assert line.startswith(f"Error: {TRAIN_SIDECAR}:3: experiment.stage: unknown stage "
                           "'someday'")
    assert "bth run --no-sidecar" in line
    assert error == {
        "code": "sidecar_invalid", "path": TRAIN_SIDECAR, "line": 3, "key": "experiment.stage",
        "message": line.removeprefix("Error: ").split(" (bth lint")[0],
        "hint": "bth lint shows every problem; bth run --no-sidecar runs it anyway, and "
                "records that it did"}


def test_each_refusal_has_its_json_code(guarded: Project) -> None:
    missing = json_error(guarded.bth("run", "--json-errors", TRAIN))
    guarded.write(TRAIN_SIDECAR, SIDECAR + "\n[status]\nstale = true\n")
    stale = json_error(guarded.bth("run", "--agent-mode", "collaborative", TRAIN))
    guarded.write(TRAIN_SIDECAR, SIDECAR + '\n[status]\nsuperseded_by = "train_more.py"\n')
    superseded = json_error(guarded.bth("run", "--json-errors", TRAIN))
    other = json_error(guarded.bth("run", "--json-errors", "scripts/nowhere.py"))

    assert {k: missing[k] for k in ("code", "path", "line", "key")} == {
        "code": "sidecar_missing", "path": TRAIN_SIDECAR, "line": None, "key": None}
    assert (stale["code"], stale["key"]) == ("script_stale", "status.stale")
    assert stale["message"] == f"{TRAIN_SIDECAR}: status.stale: train.py is marked stale (retired)"
    assert (superseded["code"], superseded["key"]) == ("script_stale", "status.superseded_by")
    assert superseded["hint"].startswith("run train_more.py instead")
    assert (other["code"], other["path"]) == ("config_error", None)
    assert other["message"] == "script scripts/nowhere.py does not exist (check the path)"
    assert Catalog().runs().tuples() == []


def test_a_retired_script_is_refused_in_one_line(guarded: Project) -> None:
    guarded.write(TRAIN_SIDECAR, SIDECAR + '\n[status]\nsuperseded_by = "train_more.py"\n')

    line = refused(guarded, guarded.bth("run", TRAIN))

    assert line == (f"Error: {TRAIN_SIDECAR}: status.superseded_by: train.py is superseded by "
                    "train_more.py (run train_more.py instead; bth run --no-sidecar runs it "
                    "anyway, and records that it did)")


def test_autonomous_mode_refuses_a_sidecar_edited_after_the_first_run(guarded: Project) -> None:
    guarded.write(TRAIN_SIDECAR, SIDECAR)
    first = guarded.bth_run("--agent-mode", "autonomous", TRAIN)
    again = guarded.bth_run("--agent-mode", "autonomous", TRAIN)
    guarded.write(TRAIN_SIDECAR, MOVED)

    moved = json_error(guarded.bth("run", "--agent-mode", "autonomous", TRAIN))
    guarded.write(TRAIN_SIDECAR, SIDECAR)
    restored = guarded.bth_run("--agent-mode", "autonomous", TRAIN)

    assert (first.agent_mode, again.agent_mode) == ("autonomous", "autonomous")
    assert moved["code"] == "sidecar_changed" and moved["path"] == TRAIN_SIDECAR
    assert moved["message"].startswith(f"{TRAIN_SIDECAR} changed since run {first.id} of {TRAIN} "
                                       "was judged by it")
    assert "--agent-mode autonomous" in moved["hint"]
    assert restored.sidecar is not None and restored.sidecar.sha256 == first.sidecar.sha256
    assert len(Catalog().runs().tuples()) == 3


def test_collaborative_mode_warns_and_a_person_accepts_the_new_sidecar(guarded: Project) -> None:
    guarded.write(TRAIN_SIDECAR, SIDECAR)
    first = guarded.bth_run("--agent-mode", "autonomous", TRAIN)
    guarded.write(TRAIN_SIDECAR, MOVED)

    warned = guarded.bth("run", "--agent-mode", "collaborative", TRAIN)
    after = guarded.bth("run", "--agent-mode", "autonomous", TRAIN)

    assert warned.returncode == 0
    [warning] = [line for line in warned.stderr.splitlines() if line.startswith("warning:")]
    assert warning.startswith(f"warning: {TRAIN_SIDECAR} changed since run {first.id} of "
                              f"{TRAIN} was judged by it")
    assert after.returncode == 0, after.stderr  # the collaborative run accepted it
    assert "warning" not in after.stderr


def test_a_run_without_an_agent_reads_no_earlier_runs(guarded: Project) -> None:
    guarded.write(TRAIN_SIDECAR, SIDECAR)
    first = guarded.bth_run(TRAIN)
    guarded.write(TRAIN_SIDECAR, MOVED)

    done = guarded.bth("run", TRAIN)

    assert done.returncode == 0 and "warning" not in done.stderr
    assert first.agent_mode is None and done.run().agent_mode is None


def test_the_agent_mode_is_the_flags_else_the_sidecars_project_s_and_user_s(
        guarded: Project, bth_home: Path) -> None:
    script = "scripts/analysis/plot_energy.py"
    modes = []

    def recorded(*flags: str) -> str | None:
        modes.append(guarded.bth_run(*flags, script).agent_mode)
        return modes[-1]

    recorded()
    bth_home.mkdir(parents=True, exist_ok=True)
    (bth_home / "config.toml").write_text('[run]\nagent_mode = "autonomous"\n')
    recorded()
    config = guarded.root / ".bth.toml"
    config.write_text(config.read_text() + '\n[run]\nagent_mode = "collaborative"\n')
    recorded()
    guarded.write("scripts/analysis/plot_energy.bth.toml",
                  'agent_mode = "autonomous"\n' + SIDECAR)
    recorded()
    recorded("--agent-mode", "collaborative")

    assert modes == [None, "autonomous", "collaborative", "autonomous", "collaborative"]


def test_a_bad_agent_mode_in_the_user_config_is_one_line(guarded: Project,
                                                         bth_home: Path) -> None:
    bth_home.mkdir(parents=True, exist_ok=True)
    (bth_home / "config.toml").write_text('[run]\nagent_mode = "sometimes"\n')

    line = refused(guarded, guarded.bth("run", "scripts/analysis/plot_energy.py"))

    assert line == (f"Error: {bth_home / 'config.toml'}: run.agent_mode must be "
                    "\"collaborative\" or \"autonomous\", not 'sometimes'")


def test_a_decorated_script_run_directly_is_refused_too(guarded: Project) -> None:
    guarded.write(TRAIN, "import bth\n\n@bth.experiment()\ndef main():\n    print('hello')\n\n"
                  "main()\n")

    done = guarded.python(TRAIN)

    assert done.returncode == 2 and "hello" not in done.stdout
    [line] = done.stderr.splitlines()  # one line, as bth run says it: no traceback
    assert line.startswith(f"bth: {TRAIN_SIDECAR} is missing")
    assert Catalog().runs().tuples() == []


def test_bth_check_says_a_run_is_stale_once_its_sidecar_changed(guarded: Project) -> None:
    guarded.write(TRAIN_SIDECAR, SIDECAR)
    guarded.commit("the sidecar")
    run = guarded.bth_run(TRAIN)
    fresh = guarded.bth("check", run.id)
    guarded.write(TRAIN_SIDECAR, MOVED)

    stale = guarded.bth("check", "-v", run.id)

    assert fresh.returncode == 0, fresh.stdout
    assert stale.returncode == 1
    assert TRAIN_SIDECAR in stale.stdout and "stale" in stale.stdout


def test_a_run_recorded_without_a_sidecar_reruns_without_one(tmp_path: Path) -> None:
    """A run from before its directory required a sidecar is rerun as it was, not refused."""
    project = make_project(tmp_path / "proj", {TRAIN: HELLO})
    old = project.bth_run(TRAIN)
    config = project.root / ".bth.toml"
    config.write_text(config.read_text().replace(NO_SIDECAR_REQUIRED, ""))
    project.commit("sidecars required from now on")
    refused_now = project.bth("run", TRAIN)

    done = project.bth("rerun", "--here", old.id)

    assert refused_now.returncode == 2
    assert done.returncode == 0, done.stderr
    assert done.run().sidecar is None and done.run().parent_run_id == old.id

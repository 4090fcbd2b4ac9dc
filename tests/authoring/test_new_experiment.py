"""`bth new-experiment` writes a script and its sidecar that `bth run` completes with a real
outcome, for each kind and with Typer or argparse; it refuses to overwrite, and bad names."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from project import Project, make_project

from bathos.scaffold import new_experiment
from bathos.sidecar import evaluate_outcome, load_sidecar

# kind -> (folder, the outcome its first run lands in, the metric it logs each step)
KINDS = {
    "experiment": ("experiments", "converged", "loss"),
    "benchmark": ("benchmarks", "meets_target", "seconds"),
    "validation": ("validation", "passes", "error"),
}


@pytest.fixture
def proj(tmp_path: Path) -> Project:
    return make_project(tmp_path / "proj", {}, sidecars_required=True)


@pytest.mark.parametrize("kind", list(KINDS))
def test_new_script_runs_at_once_with_a_real_outcome(proj: Project, kind: str) -> None:
    folder, label, metric = KINDS[kind]
    done = proj.bth("new-experiment", "fit_slope", "--kind", kind)

    assert done.returncode == 0, done.stderr
    assert f"created scripts/{folder}/fit_slope.py" in done.stderr
    assert "a Typer command" in done.stderr  # this venv has Typer
    script = proj.root / "scripts" / folder / "fit_slope.py"
    assert "import typer" in script.read_text()
    spec = load_sidecar(proj.root / "scripts" / folder / "fit_slope.bth.toml")
    assert spec.kind == kind

    run = proj.bth_run(f"scripts/{folder}/fit_slope.py")

    assert run.status == "completed" and run.name == "fit_slope"
    assert set(run.results) >= set(spec.result_schema)
    judged = evaluate_outcome(spec, run.results, run.exit_code)
    assert judged.label == label
    assert run.outcome is not None and run.outcome.label == label
    assert not next(o for o in spec.outcomes if o.label == label).is_residual
    history = proj.bth("metrics", run.id, "--json")
    assert history.returncode == 0 and f'"{metric}"' in history.stdout


def test_argparse_script_without_typer(proj: Project) -> None:
    made = new_experiment("estimate_error", "validation", root=proj.root, typer=False)

    text = made.script.read_text()
    assert "argparse" in text and "typer" not in text and not made.uses_typer
    run = proj.bth_run("scripts/validation/estimate_error.py", "--", "--refinements", "8")
    assert run.params == {"refinements": "8"}
    assert evaluate_outcome(load_sidecar(made.sidecar), run.results, 0).label == "passes"


def test_interpreter_without_typer_gets_argparse(tmp_path: Path) -> None:
    from venvs import make_venv

    python = make_venv(tmp_path)  # a venv with no typer in it
    proj = make_project(tmp_path / "proj", {}, sidecars_required=True)
    (proj.root / ".bth.toml").write_text(
        (proj.root / ".bth.toml").read_text() + f'\n[run]\npython = "{python}"\n')
    done = proj.bth("new-experiment", "time_sort", "--kind", "benchmark")

    assert done.returncode == 0, done.stderr
    assert "no Typer" in done.stderr
    assert "import argparse" in (proj.root / "scripts/benchmarks/time_sort.py").read_text()
    assert sys.executable != str(python)


def test_refuses_to_overwrite(proj: Project) -> None:
    assert proj.bth("new-experiment", "fit_slope").returncode == 0
    script = proj.root / "scripts/experiments/fit_slope.py"
    script.write_text("# mine\n")

    again = proj.bth("new-experiment", "fit_slope")

    assert again.returncode == 2
    assert again.stderr.count("\n") == 1 and "already exists" in again.stderr
    assert script.read_text() == "# mine\n"
    # A sidecar alone in the way also stops it, before the script is written.
    (proj.root / "scripts/experiments/other_fit.bth.toml").write_text("# mine\n")
    assert proj.bth("new-experiment", "other_fit").returncode == 2
    assert not (proj.root / "scripts/experiments/other_fit.py").exists()


@pytest.mark.parametrize("name", ["fit", "FitSlope", "fit-slope", "2fit_slope", "a/b_c"])
def test_bad_names_are_refused_with_the_rule(proj: Project, name: str) -> None:
    done = proj.bth("new-experiment", name)

    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert "e.g. train_model" in done.stderr
    assert not list((proj.root / "scripts/experiments").iterdir())


def test_outside_a_project_and_unknown_kind(tmp_path: Path, proj: Project) -> None:
    done = proj.bth("new-experiment", "fit_slope", cwd=tmp_path)
    assert done.returncode == 2 and "not inside a bathos project" in done.stderr
    assert proj.bth("new-experiment", "fit_slope", "--kind", "debug").returncode == 2


def test_init_mentions_new_experiment_and_stays_idempotent(proj: Project) -> None:
    done = proj.bth("init")
    assert done.returncode == 0
    assert "nothing changed" in done.stderr and "bth new-experiment" in done.stderr


def test_a_project_whose_interpreter_lacks_bathos_is_warned(proj: Project,
                                                           tmp_path: Path) -> None:
    import subprocess

    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "bare")],
                   check=True)
    python = tmp_path / "bare" / "bin" / "python"
    config = proj.root / ".bth.toml"
    config.write_text(config.read_text() + f'\n[run]\npython = "{python}"\n')

    done = proj.bth("new-experiment", "fit_slope")

    assert done.returncode == 0, done.stderr  # written all the same
    assert (f"warning: the interpreter bth run gives this project's scripts ({python}) cannot "
            "import bth") in done.stderr
    assert "argparse" in done.stderr  # nor has it Typer

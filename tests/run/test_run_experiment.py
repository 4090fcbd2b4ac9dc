"""`import bth`: a decorated function or Typer command records one run, run directly or by bth."""

from __future__ import annotations

import pytest
from project import Project

from bathos import Catalog, Run

PLAIN = """\
import argparse
import bth

@bth.experiment(name="plain_exp", tags=["fast", "plain"])
def main(n_steps: int, fail: bool = False) -> dict:
    (bth.output_dir() / "steps.txt").write_text(str(n_steps))
    print("run id", bth.current_run_id())
    if fail:
        raise RuntimeError("diverged")
    return {"energy": -1.5, "steps": n_steps}

if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--n-steps", type=int, default=10)
    parser.add_argument("--fail", action="store_true")
    args = parser.parse_args()
    main(args.n_steps, fail=args.fail)
"""

TYPER = """\
from typing import Annotated
import typer
import bth

app = typer.Typer()

@app.command()
@bth.experiment(name="typer_exp", tags=["typer"])
def main(n_steps: Annotated[int, typer.Option(help="How many steps to take.")] = 10,
         label: str = "x") -> dict:
    print("run id", bth.current_run_id())
    return {"steps": n_steps, "label": label}

if __name__ == "__main__":
    app()
"""


@pytest.fixture
def scripts(project: Project) -> Project:
    project.write("scripts/experiments/plain_exp.py", PLAIN)
    project.write("scripts/experiments/typer_exp.py", TYPER)
    project.commit("experiments")
    return project


def printed_id(stdout: str) -> str:
    return stdout.split("run id ")[1].split()[0]


def only_run() -> Run:
    """The one run the catalog holds."""
    [run_id] = Catalog().runs().to_polars()["id"].to_list()
    return Catalog().get(run_id)


def test_plain_function_run_directly(scripts: Project) -> None:
    done = scripts.python("scripts/experiments/plain_exp.py", "--n-steps", "5")

    assert done.returncode == 0, done.stderr
    run = only_run()
    assert printed_id(done.stdout) == run.id
    assert (run.status, run.exit_code, run.name) == ("completed", 0, "plain_exp")
    assert run.tags == ("fast", "plain")
    assert run.params == {"n_steps": "5", "fail": "False"}
    assert run.results == {"energy": -1.5, "steps": 5}
    assert run.script == "scripts/experiments/plain_exp.py"
    assert run.git is not None and run.git.commit == scripts.git("rev-parse", "HEAD")
    assert [o.path for o in run.outputs] == [f"outputs/{run.id}/steps.txt"]
    assert (scripts.root / "outputs" / run.id / "steps.txt").read_text() == "5"


def test_exception_fails_the_run_and_is_reraised(scripts: Project) -> None:
    done = scripts.python("scripts/experiments/plain_exp.py", "--fail")

    assert done.returncode != 0
    assert "RuntimeError: diverged" in done.stderr
    run = only_run()
    assert run.status == "failed"
    assert run.error == "RuntimeError: diverged"


def test_typer_app_run_directly(scripts: Project) -> None:
    done = scripts.python("scripts/experiments/typer_exp.py", "--n-steps", "5")

    assert done.returncode == 0, done.stderr
    run = only_run()
    assert printed_id(done.stdout) == run.id
    assert (run.status, run.name, run.tags) == ("completed", "typer_exp", ("typer",))
    assert run.params == {"n_steps": "5", "label": "x"}
    assert run.results == {"steps": 5, "label": "x"}


def test_typer_help_shows_the_real_parameters_and_records_nothing(scripts: Project) -> None:
    done = scripts.python("scripts/experiments/typer_exp.py", "--help",
                          env={"COLUMNS": "120", "NO_COLOR": "1", "TERM": "dumb"})

    assert done.returncode == 0, done.stderr
    assert "--n-steps" in done.stdout and "How many steps to take." in done.stdout
    assert "--label" in done.stdout
    assert len(Catalog().runs()) == 0


@pytest.mark.parametrize(("script", "args", "expected"), [
    ("plain_exp.py", ("--n-steps", "7"),
     ("plain_exp", ("cli", "fast", "plain"), {"energy": -1.5, "steps": 7})),
    ("typer_exp.py", ("--n-steps", "7", "--label", "y"),
     ("typer_exp", ("cli", "typer"), {"steps": 7, "label": "y"})),
])
def test_under_bth_run_enriches_the_one_run(scripts: Project, script: str,
                                            args: tuple[str, ...],
                                            expected: tuple[str, tuple[str, ...], dict]) -> None:
    done = scripts.bth("run", "--tag", "cli", f"scripts/experiments/{script}", "--", *args)

    assert done.returncode == 0, done.stderr
    assert len(Catalog().runs()) == 1
    run = done.run()
    assert printed_id(done.stdout) == run.id
    assert (run.name, run.tags, run.results) == expected
    assert run.params["n_steps"] == "7"
    assert run.status == "completed"


def test_exception_under_bth_run_records_the_error(scripts: Project) -> None:
    done = scripts.bth("run", "scripts/experiments/plain_exp.py", "--", "--fail")

    assert done.returncode == 1
    assert len(Catalog().runs()) == 1
    run = done.run()
    assert (run.status, run.exit_code, run.error) == ("failed", 1, "RuntimeError: diverged")

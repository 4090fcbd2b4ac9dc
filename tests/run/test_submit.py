"""`bth submit` refusing what it cannot submit, in one line each, before anything reaches
sbatch. (Jobs it submits run against a real scheduler in tests/slurm/.)"""

from __future__ import annotations

from pathlib import Path

from project import BIN_DIR, Project


def test_without_sbatch_it_says_where_to_submit_from(project: Project) -> None:
    done = project.bth("submit", "scripts/experiments/hello.py", env={"PATH": BIN_DIR})

    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "Error: sbatch is not on PATH: bth submit runs where SLURM jobs are submitted (a "
        "cluster's login node)"]


def test_outside_a_project_it_says_to_init_one(project: Project, tmp_path: Path) -> None:
    done = project.bth("submit", "x.py", cwd=tmp_path)

    assert done.returncode == 2
    assert "is not inside a bathos project" in done.stderr
    assert "Traceback" not in done.stderr


def test_an_sbatch_argument_must_be_an_option(project: Project) -> None:
    done = project.bth("submit", "--sbatch-arg", "high", "scripts/experiments/hello.py")

    assert done.returncode == 2
    assert "sbatch argument 'high' is not an option (give it as --name=value)" in done.stderr


def test_a_bad_slurm_default_names_the_key(project: Project) -> None:
    config = project.root / ".bth.toml"
    config.write_text(config.read_text() + "[slurm]\ncpus = [4]\n")

    done = project.bth("submit", "scripts/experiments/hello.py")

    assert done.returncode == 2
    assert "slurm.cpus must be a string (or a number for cpus), not [4]" in done.stderr

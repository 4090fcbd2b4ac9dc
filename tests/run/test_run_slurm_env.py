"""`scripts/slurm/_bth_env.sh` sourced in bash as a SLURM job script would, SLURM variables set."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from project import BIN_DIR, Done, Project, base_env

SYSTEM_PATH = "/usr/bin:/bin"
SLURM = {
    "SLURM_JOB_ID": "123",
    "SLURM_ARRAY_JOB_ID": "120",
    "SLURM_ARRAY_TASK_ID": "3",
    "SLURM_JOB_PARTITION": "debug",
    "SLURM_JOB_NODELIST": "node[01-02]",
    "SLURM_CPUS_PER_TASK": "4",
    "SLURM_MEM_PER_NODE": "16000",
}


def job(project: Project, script: str, env: dict[str, str | None], cwd: Path | None = None,
        ) -> Done:
    """`bash -c SCRIPT` as a job would run it."""
    done = subprocess.run(["bash", "-c", script], cwd=cwd or project.root, env=base_env(env),
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=120,
                          check=False)
    return Done(done.returncode, done.stdout, done.stderr)


def test_sourcing_exports_the_project_and_finds_bth(project: Project, tmp_path: Path) -> None:
    env = {**SLURM, "PATH": f"{BIN_DIR}:{SYSTEM_PATH}", "BTH_CATALOG_DIR": None}

    done = job(project, f"source {project.root}/scripts/slurm/_bth_env.sh && env", env,
               cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    exported = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)
    assert exported["BTH_PROJECT_SLUG"] == "proj"
    assert exported["BTH_PROJECT_ROOT"] == str(project.root.resolve())
    assert "BTH_CATALOG_DIR" not in exported
    assert not any(name.startswith("_bth_") for name in exported)


def test_bth_run_inside_the_job_records_the_slurm_fields(project: Project) -> None:
    env = {**SLURM, "PATH": f"{BIN_DIR}:{SYSTEM_PATH}"}

    done = job(project, "source scripts/slurm/_bth_env.sh && "
                        "bth run scripts/experiments/hello.py", env)

    assert done.returncode == 0, done.stderr
    run = done.run()
    assert run.slurm is not None
    assert (run.slurm.job_id, run.slurm.array_job_id, run.slurm.array_task_id) == ("123", "120",
                                                                                   "3")
    assert (run.slurm.partition, run.slurm.node_list) == ("debug", "node[01-02]")
    assert (run.slurm.cpus, run.slurm.mem) == ("4", "16000M")
    assert run.environment is not None
    assert run.environment.variables["BTH_PROJECT_SLUG"] == "proj"
    found = project.bth("find", "--slurm-job", "120_3", "--json")
    assert found.returncode == 0, found.stderr
    assert [r["id"] for r in json.loads(found.stdout)] == [run.id]
    assert json.loads(project.bth("find", "--slurm-job", "120_4", "--json").stdout) == []


def record_bth(project: Project, bth: str) -> None:
    """The helper as `bth init` writes it when it runs from `bth`."""
    from bathos.projects import env_helper_text

    (project.root / "scripts/slurm/_bth_env.sh").write_text(env_helper_text(bth))


def test_the_bth_init_ran_from_is_found_when_the_jobs_path_lacks_it(project: Project,
                                                                      tmp_path: Path) -> None:
    env = {"PATH": SYSTEM_PATH, "HOME": str(tmp_path), "VIRTUAL_ENV": None}

    done = job(project, "source scripts/slurm/_bth_env.sh && command -v bth", env)

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(Path(BIN_DIR) / "bth")


def test_without_bth_on_path_sourcing_fails_clearly(project: Project, tmp_path: Path) -> None:
    record_bth(project, "/gone/venv/bin/bth")
    env = {"PATH": SYSTEM_PATH, "HOME": str(tmp_path), "VIRTUAL_ENV": None}

    done = job(project, "source scripts/slurm/_bth_env.sh && echo SOURCED", env)

    assert done.returncode != 0
    assert "SOURCED" not in done.stdout
    assert "'bth' is not on PATH" in done.stderr
    assert "nor at /gone/venv/bin/bth" in done.stderr
    assert "install it" in done.stderr


def test_a_bth_in_the_projects_venv_is_put_on_path(project: Project, tmp_path: Path) -> None:
    record_bth(project, "")
    venv_bin = project.root / ".venv" / "bin"
    venv_bin.mkdir(parents=True)
    os.symlink(Path(BIN_DIR) / "bth", venv_bin / "bth")
    env = {"PATH": SYSTEM_PATH, "HOME": str(tmp_path), "VIRTUAL_ENV": None}

    done = job(project, "source scripts/slurm/_bth_env.sh && command -v bth", env)

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(venv_bin.resolve() / "bth")


def test_a_catalog_the_node_cannot_write_fails_clearly(project: Project, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    env = {"PATH": f"{BIN_DIR}:{SYSTEM_PATH}", "BTH_CATALOG_DIR": str(blocker / "catalog")}

    done = job(project, "source scripts/slurm/_bth_env.sh && echo SOURCED", env)

    assert done.returncode != 0
    assert "SOURCED" not in done.stdout
    assert f"the catalog {blocker / 'catalog'} cannot be written from" in done.stderr

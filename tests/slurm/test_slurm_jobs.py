"""Runs under a real SLURM scheduler: batch jobs through the helper, arrays, `bth submit`, and
the ways a job ends badly (time limit, scancel, a dead node) as the catalog records them.

The job past its time limit is submitted when the module starts (SLURM's limits are whole
minutes), so the other tests run while it waits for its end.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from project import Project, base_env, make_project
from slurm_cluster import Cluster

from bathos import Catalog, Run
from bathos.catalog.blobs import read_blob

SCRIPTS = {
    "scripts/experiments/hello.py": "print('hello')\n",
    "scripts/experiments/sleep_long.py": (
        "import time\nprint('started', flush=True)\ntime.sleep(600)\n"),
    "scripts/experiments/exit_by_task.py": (
        "import os, sys\nprint('task', os.environ['SLURM_ARRAY_TASK_ID'])\n"
        "sys.exit(3 if int(os.environ['SLURM_ARRAY_TASK_ID']) % 4 == 3 else 0)\n"),
}
SYSTEM_PATH = "/usr/bin:/bin"


def helper_job(project: Project, script: str) -> Path:
    """A job script of the project's own, as a user writes one: the helper, then bth run."""
    path = project.root / "scripts" / "slurm" / "run_script.slurm"
    path.write_text(f"#!/bin/bash\nsource {project.root}/scripts/slurm/_bth_env.sh || exit 1\n"
                    f"exec bth run {script}\n")
    return path


def job_env(cluster: Cluster, **extra: str | None) -> dict[str, str]:
    return base_env({"SLURM_CONF": cluster.conf, **extra})


def submit(project: Project, cluster: Cluster, *args: str) -> str:
    done = project.bth("submit", *args, env={"SLURM_CONF": cluster.conf})
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def runs_of(job_id: str, catalog: Catalog | None = None) -> list[Run]:
    catalog = catalog or Catalog()
    return [catalog.get(row["id"]) for row in
            catalog.runs(slurm_job=job_id, all_projects=True).to_dicts()]


def started(log: Path, timeout_s: float = 60) -> None:
    """Wait until the job's script has printed `started` (its run is recorded running)."""
    deadline = time.monotonic() + timeout_s
    while not (log.exists() and "started" in log.read_text()):
        assert time.monotonic() < deadline, f"the job never started: {log}"
        time.sleep(0.2)


def job_log(project: Project, job_id: str, name: str = "sleep_long") -> Path:
    """The log `bth submit` gives a job's output, in the catalog's jobs directory."""
    return Path(os.environ["BTH_HOME"]) / "catalog" / "jobs" / "proj" / f"{name}-{job_id}.out"


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return make_project(tmp_path / "proj", SCRIPTS)


@pytest.fixture(scope="module", autouse=True)
def timed_out(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory,
              ) -> Iterator[tuple[Path, str]]:
    """A job of 1 minute's limit whose script sleeps 10 minutes: its catalog and job id."""
    root = tmp_path_factory.mktemp("timeout")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("BTH_HOME", str(root / "bth-home"))
        project = make_project(root / "proj", SCRIPTS)
        job_id = submit(project, cluster, "--time", "1", "scripts/experiments/sleep_long.py")
    yield root / "bth-home" / "catalog", job_id


def test_a_batch_job_through_the_helper_is_recorded(project: Project, cluster: Cluster) -> None:
    job = helper_job(project, "scripts/experiments/hello.py")

    job_id = cluster.sbatch("--cpus-per-task=2", "--mem=200", f"--output={project.root}/o.txt",
                            str(job), cwd=project.root,
                            env=job_env(cluster, PATH=SYSTEM_PATH, VIRTUAL_ENV=None))
    (task,) = cluster.wait(job_id)

    assert task.state == "COMPLETED", (project.root / "o.txt").read_text()
    (run,) = runs_of(job_id)
    assert run.status == "completed"
    assert run.slurm is not None
    assert (run.slurm.job_id, run.slurm.partition, run.slurm.node_list) == (job_id, "debug",
                                                                           "localhost")
    assert (run.slurm.cpus, run.slurm.mem, run.slurm.cluster) == ("2", "200M", "bthtest")
    assert "hello" in (project.root / "o.txt").read_text()


def test_an_array_of_50_tasks_is_recorded_task_by_task(project: Project,
                                                        cluster: Cluster) -> None:
    job = helper_job(project, "scripts/experiments/hello.py")

    job_id = cluster.sbatch("--array=0-49", f"--output={project.root}/o-%a.txt", str(job),
                            cwd=project.root, env=job_env(cluster))
    tasks = cluster.wait(job_id, timeout_s=240)

    failed = [t.array_task_id for t in tasks if t.state != "COMPLETED"]
    assert not failed, (project.root / f"o-{failed[0]}.txt").read_text()
    listed = project.bth("ls", "--slurm-job", job_id, "--json")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert sorted(int(r["slurm_array_task_id"]) for r in rows) == list(range(50))
    assert {r["slurm_array_job_id"] for r in rows} == {job_id}
    assert {r["status"] for r in rows} == {"completed"}
    table = project.bth("ls", "--slurm-job", job_id)
    assert table.stdout.splitlines()[0].split()[-1] == "task"
    shown = project.bth("show", rows[0]["id"])
    assert "array tasks: 50 tasks recorded: 50 completed" in shown.stdout


def test_submit_an_array_and_wait_prints_each_tasks_end(project: Project,
                                                        cluster: Cluster) -> None:
    config = project.root / ".bth.toml"
    config.write_text(config.read_text() + '[slurm]\npartition = "debug"\ncpus = 1\n'
                      'mem = "100M"\n')

    done = project.bth("submit", "--array", "0-9", "--wait",
                       "scripts/experiments/exit_by_task.py", env={"SLURM_CONF": cluster.conf})

    assert done.returncode == 1, done.stderr  # tasks 3 and 7 exit 3
    job_id = done.stdout.splitlines()[0]
    lines = {line.split()[0]: line.split() for line in done.stdout.splitlines()[2:]}
    assert sorted(lines, key=int) == [str(n) for n in range(10)]
    assert lines["3"][2:4] == ["FAILED", "3"] and lines["3"][5] == "failed"
    assert lines["4"][2:4] == ["COMPLETED", "0"] and lines["4"][5] == "completed"
    runs = {r.slurm.array_task_id: r for r in runs_of(job_id) if r.slurm}
    assert sorted(runs, key=int) == [str(n) for n in range(10)]
    assert {t: r.exit_code for t, r in runs.items() if r.exit_code} == {"3": 3, "7": 3}
    assert {r.status for t, r in runs.items() if t not in ("3", "7")} == {"completed"}
    slurm = runs["0"].slurm
    assert slurm is not None and slurm.job_script is not None
    assert (slurm.cpus, slurm.mem, slurm.partition) == ("1", "100M", "debug")  # [slurm]
    assert slurm.submit_time is not None and slurm.queue_wait_s is not None
    assert 0 <= slurm.queue_wait_s < 120
    assert b"exec bth run scripts/experiments/exit_by_task.py" in read_blob(
        Catalog().path, slurm.job_script)


def test_scancel_of_a_running_job_records_cancelled(project: Project, cluster: Cluster) -> None:
    job_id = submit(project, cluster, "scripts/experiments/sleep_long.py")
    started(job_log(project, job_id))

    cluster.command("scancel", job_id)
    (task,) = cluster.wait(job_id)

    assert task.state == "CANCELLED"
    (run,) = runs_of(job_id)
    assert run.status == "cancelled"
    assert run.signal == "SIGTERM"
    assert run.error is not None and f"job {job_id} cancelled" in run.error
    assert run.slurm is not None and run.slurm.state == "CANCELLED"


def test_a_job_past_its_time_limit_is_recorded_timeout(cluster: Cluster,
                                                        timed_out: tuple[Path, str]) -> None:
    catalog_dir, job_id = timed_out

    (task,) = cluster.wait(job_id, timeout_s=150)

    assert task.state == "TIMEOUT"
    (run,) = runs_of(job_id, Catalog(catalog_dir))
    assert run.status == "timeout"
    assert run.signal == "SIGTERM"
    assert run.error is not None and "ended by its time limit (TIMEOUT, limit 00:01:00)" in (
        run.error)
    assert run.slurm is not None
    assert (run.slurm.state, run.slurm.reason, run.slurm.time_limit) == ("TIMEOUT", "TimeLimit",
                                                                         "00:01:00")
    assert run.duration_s is not None and run.duration_s >= 50


def test_a_dead_node_leaves_a_lost_run_that_reap_settles(project: Project,
                                                          cluster: Cluster) -> None:
    job_id = submit(project, cluster, "scripts/experiments/sleep_long.py")
    started(job_log(project, job_id))
    cluster.kill_node(job_id)
    try:
        dry = project.bth("reap", "--dry-run", env={"SLURM_CONF": cluster.conf})
        assert dry.returncode == 0, dry.stderr
        assert "Would settle 1 run." in dry.stderr
        (run,) = runs_of(job_id)
        assert json.loads(run_fragment(run).read_text())["status"] == "running"

        first = project.bth("reap", "--json", env={"SLURM_CONF": cluster.conf})
        (reaped,) = json.loads(first.stdout)
        assert (reaped["status"], reaped["job_id"]) == ("lost", job_id)
        assert "is gone; SLURM shows job" in reaped["reason"]

        cluster.wait_until(job_id, lambda info: info.state == "NODE_FAIL", timeout_s=90)
        second = project.bth("reap", "--json", env={"SLURM_CONF": cluster.conf})
        (reaped,) = json.loads(second.stdout)
        assert (reaped["was"], reaped["status"]) == ("lost", "lost")
        (run,) = runs_of(job_id)
        assert run.slurm is not None and run.slurm.state == "NODE_FAIL"
        assert run.error is not None and "its node failed (NODE_FAIL)" in run.error
        assert project.bth("reap", "--json", env={"SLURM_CONF": cluster.conf}).stdout == "[]\n"
    finally:
        cluster.start_slurmd()


def run_fragment(run: Run) -> Path:
    return Catalog().path / "runs" / run.project / f"{run.id}.json"

"""`bth reap` without a scheduler: a run left `running` is settled `lost` when its process is
known dead (this host, by pid) or its heartbeat stopped (another host); a live one is left.
(Settling from SLURM's word is tested against a real scheduler in tests/slurm/.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
from cli_helpers import bth
from records import make_run

import bathos
from bathos.catalog import store
from bathos.models import Host, Run, Slurm

HERE = os.uname().nodename


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def running(catalog: bathos.Catalog, host: Host, *, stale_s: float = 0,
            slurm: Slurm | None = None) -> Run:
    """A `running` record written as `bth run` writes one, its heartbeat `stale_s` old."""
    run = make_run(status="running", host=host, slurm=slurm)
    path = catalog.write(run)
    if stale_s:
        then = time.time() - stale_s
        os.utime(path, (then, then))
    return run


def on_disk(catalog: bathos.Catalog, run: Run) -> str:
    path = store.fragment_path(catalog.path, run.project, run.id)
    return str(json.loads(path.read_text())["status"])


@pytest.fixture(autouse=True)
def no_scheduler(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """No scontrol or sacct on PATH: a job id alone settles nothing."""
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))


def test_a_run_whose_process_died_here_is_settled_lost(catalog: bathos.Catalog) -> None:
    gone = running(catalog, Host(HERE, "ana", dead_pid()), slurm=Slurm(job_id="77"))
    alive = running(catalog, Host(HERE, "ana", os.getpid()))

    dry = bth("reap", "--project", "demo", "--dry-run")
    assert dry.exit_code == 0, dry.stderr
    assert f"{gone.id[:12]}  demo  running -> lost  its bth run (pid" in dry.stdout
    assert "Would settle 1 run." in dry.stderr
    assert on_disk(catalog, gone) == "running"

    done = bth("reap", "--project", "demo", "--json")
    (reaped,) = json.loads(done.stdout)
    assert (reaped["run_id"], reaped["status"], reaped["job_id"]) == (gone.id, "lost", "77")
    settled = catalog.get(gone.id)
    assert (settled.status, settled.ended_at is not None) == ("lost", True)
    assert settled.error is not None and "is gone" in settled.error
    assert on_disk(catalog, alive) == "running"
    assert json.loads(bth("reap", "--project", "demo", "--json").stdout) == []


def test_a_run_elsewhere_is_judged_by_its_heartbeat(catalog: bathos.Catalog) -> None:
    stale = running(catalog, Host("node07", "ana", 4242), stale_s=store.STALE_AFTER_S + 60)
    fresh = running(catalog, Host("node08", "ana", 4242))

    done = bth("reap", "--all-projects", "--json")

    (reaped,) = json.loads(done.stdout)
    assert reaped["run_id"] == stale.id
    assert reaped["reason"] == "no heartbeat for 3 min"
    assert on_disk(catalog, stale) == "lost"
    assert on_disk(catalog, fresh) == "running"


def test_finished_runs_are_left_alone(catalog: bathos.Catalog) -> None:
    run = make_run(host=Host(HERE, "ana", dead_pid()))
    catalog.write(run)

    assert catalog.reap("demo") == []
    assert catalog.get(run.id).status == "completed"

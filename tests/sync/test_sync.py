"""`bth sync` between two catalogs through a real sshd, the remote's catalog living in a second
user's HOME: what moves, what does not move twice, and what is never half-written."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from project import base_env, make_project
from records import make_run
from sync_helpers import RemoteDir

import bathos
from bathos.catalog.blobs import put_blob
from bathos.models import Logs, utcnow


def remote_runs(remote: RemoteDir) -> list[dict[str, object]]:
    """The remote's runs as `bth ls --json` there lists them."""
    done = remote.bth("ls", "--all-projects", "--json", "-n", "100000")
    listed: list[dict[str, object]] = json.loads(done.stdout)
    return listed


def bth(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bathos_cli", *args], cwd=cwd,
                          env=base_env(), capture_output=True, text=True, timeout=120)


def test_push_then_pull_moves_runs_logs_and_points(catalog: bathos.Catalog, remote: RemoteDir,
                                                   tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    log = put_blob(catalog.path, b"epoch 1 loss 0.5\n")
    runs = [make_run(logs=Logs(stdout=log, stdout_bytes=17)) for _ in range(4)]
    for run in runs[:2]:
        catalog.write(run)
    catalog.compact()
    for run in runs[2:]:
        catalog.write(run)
    points = catalog.path / "runs" / "demo" / "metrics" / f"{runs[3].id}.jsonl"
    points.parent.mkdir(parents=True, exist_ok=True)
    points.write_text('{"key": "loss", "step": [0, 1], "value": [0.9, 0.5], "time": [1, 2]}\n')

    report = catalog.sync("cluster", project="demo")

    assert (report.runs, report.blobs, report.points) == (4, 1, 2)
    assert sorted(r["id"] for r in remote_runs(remote)) == sorted(r.id for r in runs)
    assert catalog.sync("cluster", project="demo").runs == 0  # nothing twice

    monkeypatch.setenv("BTH_HOME", str(tmp_path / "laptop-2"))  # another machine's catalog
    bathos.add_remote("cluster", f"cluster:{remote.path.name}", scope="user")
    other = bathos.Catalog()
    pulled = other.sync("cluster", pull=True, project="demo")
    assert pulled.pulled and pulled.runs == 4
    assert {r["id"] for r in other.runs(all_projects=True).to_dicts()} == {r.id for r in runs}
    assert other.read_log(runs[0].id) == b"epoch 1 loss 0.5\n"
    assert other.metrics(runs[3].id)["value"].to_list() == [0.9, 0.5]
    assert other.verify().problems == ()


def test_a_run_synced_while_running_is_sent_again_once_finished(
        catalog: bathos.Catalog, remote: RemoteDir) -> None:
    started = utcnow()
    running = make_run(status="running", started_at=started)
    catalog.write(running)
    assert catalog.sync("cluster", project="demo").runs == 1
    assert [r["status"] for r in remote_runs(remote)] in (["running"], ["lost"])

    done = make_run(id=running.id, started_at=started, status="completed",
                    updated_at=started + dt.timedelta(seconds=5), ended_at=started)
    catalog.write(done)
    assert catalog.sync("cluster", project="demo").runs == 1
    assert catalog.sync("cluster", project="demo").runs == 0
    remote.bth("compact")
    listed = remote_runs(remote)
    assert [(r["id"], r["status"]) for r in listed] == [(running.id, "completed")]


def test_a_run_tagged_after_it_was_synced_is_sent_again_with_its_tags(
        catalog: bathos.Catalog, remote: RemoteDir) -> None:
    run = make_run()
    catalog.write(run)
    assert catalog.sync("cluster", project="demo").runs == 1

    catalog.tag(run.id, add=["keep"])
    assert catalog.sync("cluster", project="demo").runs == 1
    assert catalog.sync("cluster", project="demo").runs == 0
    listed = remote_runs(remote)
    assert [(r["id"], "keep" in r["tags"]) for r in listed] == [(run.id, True)]


def test_a_log_that_inflates_past_the_bound_is_left_out_not_inflated_whole(
        catalog: bathos.Catalog, remote: RemoteDir, monkeypatch: pytest.MonkeyPatch) -> None:
    from bathos.remotes import sync

    monkeypatch.setattr(sync, "MAX_BLOB_BYTES", 1 << 20)
    big = put_blob(catalog.path, bytes(3 << 20))  # 3 MB of zeros: some kB on disk
    small = put_blob(catalog.path, b"epoch 1 loss 0.5\n")
    catalog.write(make_run(logs=Logs(stdout=big, stdout_bytes=3 << 20)))
    catalog.write(make_run(logs=Logs(stdout=small, stdout_bytes=17)))

    report = catalog.sync("cluster", project="demo")

    assert (report.runs, report.blobs, report.rejected) == (2, 1, 1)
    kept = sorted(p.name for p in (remote.catalog / "blobs").rglob("*.gz"))
    assert kept == [small.removeprefix("sha256:")[2:] + ".gz"]


def test_only_this_projects_runs_move_unless_all_are_asked_for(
        catalog: bathos.Catalog, remote: RemoteDir) -> None:
    ours = [make_run() for _ in range(3)]
    theirs = [make_run(project="other") for _ in range(2)]
    for run in ours + theirs:
        catalog.write(run)

    report = catalog.sync("cluster", project="demo")

    assert (report.runs, report.filtered) == (3, 2)
    assert {r["project"] for r in remote_runs(remote)} == {"demo"}
    assert catalog.sync("cluster", all_projects=True).runs == 2
    assert len(remote_runs(remote)) == 5


def test_logs_of_a_real_run_are_read_with_bth_logs_on_the_cluster(
        tmp_path: Path, remote: RemoteDir) -> None:
    proj = make_project(tmp_path / "proj", {"scripts/experiments/hello.py":
                                            "print('hello from the laptop')\n"})
    run = proj.bth_run("scripts/experiments/hello.py")
    done = proj.bth("sync", "cluster")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Pushed 1 run to 'cluster' in ")

    shown = remote.bth("logs", run.id)
    assert shown.stdout == "hello from the laptop\n"
    no_logs = proj.bth("sync", "--no-logs", "--dry-run")
    assert no_logs.stdout.startswith("Would push 0 runs"), no_logs.stdout


def test_pushes_land_whole_beside_writers_and_compactions_on_the_cluster(
        catalog: bathos.Catalog, remote: RemoteDir) -> None:
    remote.bth("compact")  # the remote's catalog exists, owned by its user
    script = ("from records import make_run\n"
              "import bathos\n"
              "cat = bathos.Catalog()\n"
              "for n in range(150):\n"
              "    cat.write(make_run())\n"
              "    if n % 50 == 49:\n"
              "        cat.compact()\n")
    writers = [remote.popen_python(script) for _ in range(2)]
    pushed = []
    for _ in range(4):
        batch = [make_run() for _ in range(40)]
        for run in batch:
            catalog.write(run)
        pushed += batch
        catalog.sync("cluster", project="demo")
    for proc in writers:
        assert proc.wait(timeout=120) == 0
    remote.bth("compact")

    ids = [r["id"] for r in remote_runs(remote)]
    assert len(ids) == len(set(ids)) == 300 + len(pushed)
    assert {r.id for r in pushed} <= set(ids)
    assert remote.bth("verify", check=False).returncode == 0


def test_a_sync_killed_midway_leaves_nothing_partial_and_a_rerun_completes_it(
        catalog: bathos.Catalog, remote: RemoteDir) -> None:
    # ~24 MB that does not compress: its upload is long enough to be caught in the middle
    runs = [make_run(params={"blob": os.urandom(4000).hex(), "n": str(n)}) for n in range(3000)]
    for run in runs:
        catalog.write(run)
    proc = subprocess.Popen([sys.executable, "-m", "bathos_cli", "sync", "cluster", "-p",
                             "demo"], env=base_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    target = remote.catalog / "runs" / "demo"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if target.is_dir() and any(p.name.endswith(".tmp") for p in target.iterdir()):
            proc.send_signal(signal.SIGKILL)  # in the middle of sending the runs
            break
        time.sleep(0.005)
    assert proc.wait(timeout=60) == -signal.SIGKILL
    visible = [p.name for p in target.iterdir() if not p.name.startswith(".")] \
        if target.is_dir() else []
    assert all(name.startswith("sync-") for name in visible)
    assert len(remote_runs(remote)) in (0, len(runs))  # all of the batch or none of it

    assert bth("sync", "cluster", "-p", "demo").returncode == 0
    assert len(remote_runs(remote)) == len(runs)
    assert remote.bth("verify", check=False).returncode == 0


def test_sync_filter_none_in_the_project_pushes_every_project(
        tmp_path: Path, catalog: bathos.Catalog, remote: RemoteDir) -> None:
    from bathos.projects import init_project

    init_project(tmp_path / "proj", slug="demo")
    config = tmp_path / "proj" / ".bth.toml"
    config.write_text(config.read_text().replace('sync_filter = "project"', 'sync_filter = "none"'))
    for run in (make_run(), make_run(project="other")):
        catalog.write(run)

    done = bth("sync", cwd=tmp_path / "proj")

    assert done.stdout.startswith("Pushed 2 runs to 'cluster' in "), done.stderr
    pulled = bth("sync", "--pull", "--all-projects", cwd=tmp_path)
    assert pulled.stdout.startswith("Pulled 0 runs from 'cluster' in "), pulled.stderr


def test_remote_test_reports_what_is_there(catalog: bathos.Catalog, remote: RemoteDir) -> None:
    before = bth("remote", "test", "cluster")
    assert before.returncode == 0, before.stderr
    assert "none yet" in before.stdout and "writable   yes" in before.stdout
    for _ in range(3):
        catalog.write(make_run())
    catalog.sync("cluster", project="demo")

    after = bth("remote", "test", "cluster").stdout
    assert f"catalog    127.0.0.1:{remote.catalog}" in after
    assert "runs       3" in after

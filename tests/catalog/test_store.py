"""Writing runs: one atomic fragment per run, replaced whole, readable at every instant."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import random
import signal
import socket
import subprocess
import time
from pathlib import Path

import attrs
import pytest
from catalog_helpers import fragments

import bathos
from bathos.errors import ConfigError
from bathos.models import (
    Dependency,
    Environment,
    Git,
    Host,
    Logs,
    Output,
    Sidecar,
    Slurm,
    unstructure,
)

# Forks, on each line read, a child that rewrites one fragment between two states as fast as it
# can until killed; prints the child's pid, and after the next line "reaped" once the child is
# gone (so its pid is not reused before the test killed it). Forking from one process that has
# imported bathos makes each child cheap, so the test can kill many of them.
REWRITERS = """
import json, os, sys
from pathlib import Path
from bathos.catalog.store import write_record

catalog = Path(sys.argv[1])
old, new = json.loads(Path(sys.argv[2]).read_text())
while sys.stdin.readline():
    pid = os.fork()
    if pid == 0:
        while True:
            write_record(catalog, new)
            write_record(catalog, old)
    print(pid, flush=True)
    sys.stdin.readline()
    os.waitpid(pid, 0)
    print("reaped", flush=True)
"""


def full_run(make_run, **fields):
    """A run with every field group filled."""
    started = dt.datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=dt.UTC)
    return make_run(
        started_at=started, name="tip3p", script="scripts/experiments/benchmark.py",
        argv=("--n-steps", "1000"), params={"n_steps": "1000"}, cwd="/home/ana/md",
        ended_at=started + dt.timedelta(minutes=3), duration_s=180.25, exit_code=0,
        host=Host("node017", "ana", 4242, cpu_count=64),
        slurm=Slurm("5001", array_job_id="5000", array_task_id="1", partition="gpu"),
        git=Git("/home/ana/md", "a" * 40, branch="main", dirty=True, snapshot="b" * 40,
                untracked=("notes.txt",)),
        dependencies=(Dependency("scripts/experiments/benchmark.py", "script", "sha256:00"),),
        environment=Environment(python_version="3.11.7", variables={"OMP_NUM_THREADS": "8"}),
        outputs=(Output("outputs/run1.parquet", 1024, "sha256:11", mtime=1.5),),
        results={"energy": -41.2, "series": [1, 2.5, None], "nested": {"ok": True}},
        logs=Logs(stdout="sha256:22", stdout_bytes=10), tags=("tip3p", "nvt"),
        parent_run_id="1m8c0000000000aa", campaign_id="water-models",
        agent_mode="autonomous", sidecar=Sidecar("benchmark.bth.toml", "sha256:33"),
        **fields,
    )


def test_written_run_reads_back_equal(make_run, catalog) -> None:
    run = full_run(make_run)
    catalog.write(run)

    assert catalog.get(run.id) == run
    assert [r["id"] for r in catalog.runs()] == [run.id]


def test_fragment_is_one_json_file_named_by_run_id(make_run, catalog, catalog_dir) -> None:
    run = make_run(project="md-water")
    path = catalog.write(run)

    assert path == catalog_dir / "runs" / "md-water" / f"{run.id}.json"
    assert fragments(catalog_dir, "md-water") == [path]
    assert json.loads(path.read_bytes()) == json.loads(json.dumps(unstructure(run)))
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary left


def test_rewrite_replaces_the_run_state(make_run, catalog, catalog_dir) -> None:
    running = make_run(status="running", host=Host(socket.gethostname(), "ana", os.getpid()))
    catalog.write(running)
    done = attrs.evolve(running, status="completed", exit_code=0,
                        updated_at=running.updated_at + dt.timedelta(seconds=5))
    catalog.write(done)

    assert catalog.get(running.id) == done
    assert len(catalog.runs()) == 1
    assert len(fragments(catalog_dir)) == 1


def test_interrupted_rewrites_leave_the_old_or_the_new_record(
    make_run, catalog, catalog_dir, tmp_path, spawn
) -> None:
    """SIGKILL processes that keep replacing a fragment, at random moments, many times."""
    old = make_run(results={"state": "old"})
    new = attrs.evolve(old, results={"state": "new", "blob": "x" * 200_000},
                       updated_at=old.updated_at + dt.timedelta(seconds=1))
    states = tmp_path / "states.json"
    states.write_text(json.dumps([unstructure(old), unstructure(new)]))
    catalog.write(old)
    path = fragments(catalog_dir)[0]
    expected = [json.loads(json.dumps(unstructure(r))) for r in (old, new)]
    rng = random.Random(20261126)

    rewriters = spawn(REWRITERS, str(catalog_dir), str(states),
                      stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    for _ in range(40):
        rewriters.stdin.write("go\n")
        rewriters.stdin.flush()
        child = int(rewriters.stdout.readline())
        time.sleep(rng.uniform(0.001, 0.02))
        os.kill(child, signal.SIGKILL)
        rewriters.stdin.write("reap\n")
        rewriters.stdin.flush()
        assert rewriters.stdout.readline() == "reaped\n"

        assert json.loads(path.read_bytes()) in expected
    rewriters.stdin.close()

    assert list(path.parent.glob(".*.tmp")), "no kill landed inside a write"
    assert catalog.get(old.id) in (old, new)
    assert len(catalog.runs()) == 1
    assert catalog.verify().problems == ()


def test_stray_temporary_files_are_ignored_by_readers(
    make_run, catalog, catalog_dir, caplog
) -> None:
    run = make_run()
    path = catalog.write(run)
    (path.parent / f".{path.name}.deadbeef.tmp").write_bytes(b'{"id": "half a rec')
    (path.parent / f".{path.name}.cafef00d.tmp").write_bytes(path.read_bytes())

    with caplog.at_level(logging.WARNING, logger="bathos"):
        assert [r["id"] for r in catalog.runs()] == [run.id]
        assert catalog.get(run.id) == run
    assert caplog.records == []
    assert catalog.verify().problems == ()


def test_compaction_removes_a_crashed_writers_temporary_file_once_it_is_old(
    make_run, catalog
) -> None:
    path = catalog.write(make_run())
    fresh = path.parent / f".{path.name}.00000001.tmp"
    stale = path.parent / f".{path.name}.00000002.tmp"
    for tmp in (fresh, stale):
        tmp.write_bytes(b"{")
    two_hours_ago = time.time() - 7200
    os.utime(stale, (two_hours_ago, two_hours_ago))

    catalog.compact()

    assert fresh.exists()  # may belong to a writer still at work
    assert not stale.exists()


@pytest.mark.parametrize("project", ["team/md", "../escape"])
def test_write_refuses_a_project_that_is_not_a_slug(make_run, catalog, catalog_dir,
                                                    project) -> None:
    run = make_run(project=project)
    try:
        catalog.write(run)
    except ConfigError:
        assert not any(catalog_dir.parent.rglob(f"{run.id}.json"))
    else:
        listed = [r["id"] for r in catalog.runs()]
        pytest.fail(f"run written under {project!r} but listed as {listed}")


class TestRunningRuns:
    """A running run's fragment is its heartbeat; a run whose process is gone reads as lost."""

    def test_running_run_with_live_process_stays_hot_and_readable(
        self, make_run, catalog, catalog_dir
    ) -> None:
        run = make_run(status="running", host=Host(socket.gethostname(), "ana", os.getpid()))
        catalog.write(run)

        report = catalog.compact()

        assert report.folded == 0
        assert len(fragments(catalog_dir)) == 1
        assert catalog.get(run.id).status == "running"
        assert [r["id"] for r in catalog.runs(status="running")] == [run.id]

    def test_running_run_whose_pid_is_dead_on_this_host_reads_as_lost(
        self, make_run, catalog, dead_pid
    ) -> None:
        run = make_run(status="running", host=Host(socket.gethostname(), "ana", dead_pid))
        catalog.write(run)

        assert catalog.get(run.id).status == "lost"
        assert [r["id"] for r in catalog.runs(status="lost")] == [run.id]
        assert catalog.runs(status="running").to_polars().is_empty()

        catalog.compact()  # a lost run is over: it is folded, and stays lost
        assert catalog.get(run.id).status == "lost"

    def test_running_run_elsewhere_is_lost_only_when_its_heartbeat_is_stale(
        self, make_run, catalog
    ) -> None:
        run = make_run(status="running", host=Host("node-elsewhere", "ana", 1))
        path = catalog.write(run)
        assert catalog.get(run.id).status == "running"

        an_hour_ago = time.time() - 3600
        os.utime(path, (an_hour_ago, an_hour_ago))
        assert catalog.get(run.id).status == "lost"

        os.utime(path)  # the run beats again
        assert catalog.get(run.id).status == "running"

    def test_running_run_reports_its_heartbeat_time(self, make_run, catalog) -> None:
        run = make_run(status="running", host=Host("node-elsewhere", "ana", 1))
        path = catalog.write(run)
        beat = time.time() - 30
        os.utime(path, (beat, beat))

        heartbeat = catalog.get(run.id).heartbeat_at
        assert heartbeat is not None
        assert abs(heartbeat.timestamp() - beat) < 1e-3

    def test_finished_record_replaces_running_one(self, make_run, catalog, dead_pid) -> None:
        running = make_run(status="running", host=Host(socket.gethostname(), "ana", os.getpid()))
        catalog.write(running)
        done = attrs.evolve(running, status="failed", exit_code=3, error="boom",
                            host=Host(socket.gethostname(), "ana", dead_pid),
                            updated_at=running.updated_at + dt.timedelta(seconds=2))
        catalog.write(done)
        catalog.compact()

        assert catalog.get(running.id) == done
        assert bathos.Catalog().runs(status="failed").to_polars()["id"].to_list() == [running.id]


def test_writers_never_need_a_database(catalog_dir: Path) -> None:
    """The write path is plain files: no lock file, no database, nothing but the fragment."""
    from bathos.ids import new_run_id
    from bathos.models import Run, utcnow

    now = utcnow()
    bathos.Catalog().write(Run(id=new_run_id(), project="demo", started_at=now, updated_at=now))

    assert [str(p.relative_to(catalog_dir)) for p in catalog_dir.rglob("*")] == [
        "runs", "runs/demo", *[str(p.relative_to(catalog_dir)) for p in fragments(catalog_dir)]
    ]

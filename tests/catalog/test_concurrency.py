"""Many writers, compactors and readers at once, as real processes: nothing lost, nothing twice."""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import signal
import socket
import subprocess
import time

import attrs
import pytest
from catalog_helpers import fragments, open_fifo_for_writing, segments

import bathos
from bathos.errors import CompactionBusy
from bathos.models import Host, unstructure

WRITERS = 200

# Forks `count` children that each write one run, all released at once through a pipe; each prints
# its run id. One launcher imports bathos and forks, so 200 writers start in well under a second.
SWARM = """
import os, sys
import bathos
from bathos.ids import new_run_id
from bathos.models import Host, Run, converter, utcnow

count = int(sys.argv[1])
catalog = bathos.Catalog()
converter()
gate_r, gate_w = os.pipe()
children = []
for task in range(count):
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(gate_w)
            os.read(gate_r, 1)
            now = utcnow()
            run = Run(id=new_run_id(), project=f"swarm-{task % 4}", started_at=now,
                      updated_at=now, status="completed", params={"task": str(task)},
                      host=Host("node", "ana", os.getpid()))
            catalog.write(run)
            os.write(1, f"{run.id}\\n".encode())
            code = 0
        finally:
            os._exit(code)
    children.append(pid)
os.close(gate_r)
os.close(gate_w)
sys.exit(sum(1 for pid in children if os.waitpid(pid, 0)[1] != 0))
"""

# For SECONDS once started: start a run (running), finish it (completed); print the ids at the end.
WRITER = """
import json, os, socket, sys, time
import bathos
from bathos.ids import new_run_id
from bathos.models import Host, Run, utcnow

catalog = bathos.Catalog()
deadline, project = time.time() + float(sys.argv[1]), sys.argv[2]
done = []
while time.time() < deadline:
    now = utcnow()
    run = Run(id=new_run_id(), project=project, started_at=now, updated_at=now,
              status="running", host=Host(socket.gethostname(), "ana", os.getpid()))
    catalog.write(run)
    catalog.write(Run(id=run.id, project=project, started_at=now, updated_at=utcnow(),
                      status="completed", exit_code=0, host=run.host))
    done.append(run.id)
print(json.dumps(done))
"""

# For SECONDS: write finished runs, appending each id to a log once its write returned.
LOGGING_WRITER = """
import sys, time
import bathos
from bathos.ids import new_run_id
from bathos.models import Run, utcnow

catalog = bathos.Catalog()
deadline, log = time.time() + float(sys.argv[1]), open(sys.argv[2], "a")
while time.time() < deadline:
    now = utcnow()
    run = Run(id=new_run_id(), project="demo", started_at=now, updated_at=now, status="completed")
    catalog.write(run)
    log.write(run.id + "\\n")
    log.flush()
"""

# For SECONDS: compact again and again; print how many compactions ran and how many were refused.
COMPACTOR = """
import json, sys, time
import duckdb
import bathos
from bathos.errors import CompactionBusy

catalog = bathos.Catalog()
deadline, wait = time.time() + float(sys.argv[1]), sys.argv[2] == "wait"
ran = busy = 0
while time.time() < deadline:
    try:
        catalog.compact(wait=wait)
        ran += 1
    except CompactionBusy:
        busy += 1
        time.sleep(0.01)
print(json.dumps([ran, busy]))
"""

# Forks, on each line read, a child that compacts once; prints the child's pid, then "reaped" when
# it is gone. The child is reaped only when told, so its pid cannot be reused before the test has
# killed it. Forking from one process that has loaded bathos and duckdb makes each child cheap.
COMPACTORS_ON_CUE = """
import os, sys
import duckdb
import bathos

catalog = bathos.Catalog()
while sys.stdin.readline():
    pid = os.fork()
    if pid == 0:
        try:
            catalog.compact()
        finally:
            os._exit(0)
    print(pid, flush=True)
    sys.stdin.readline()
    os.waitpid(pid, 0)
    print("reaped", flush=True)
"""

READER = """
import json
import bathos
print(json.dumps([row[0] for row in bathos.Catalog().sql("SELECT id FROM runs").tuples()]))
"""

COMPACT = "import bathos; bathos.Catalog().compact()"


def test_concurrent_writers_each_appear_exactly_once(catalog, catalog_dir, python) -> None:
    written = python(SWARM, str(WRITERS)).stdout.split()
    assert len(written) == WRITERS == len(set(written))

    listed = [r["id"] for r in catalog.runs()]
    assert len(listed) == WRITERS
    assert set(listed) == set(written)
    tasks = [r["task"] for r in catalog.sql("SELECT params->>'task' AS task FROM runs")]
    assert sorted(map(int, tasks)) == list(range(WRITERS))
    assert not list(catalog_dir.rglob(".*.tmp"))
    assert catalog.verify().problems == ()


def test_compaction_racing_writers_and_another_compactor_loses_nothing(
    catalog, catalog_dir, spawn
) -> None:
    writers = [spawn(WRITER, "3", project, stdout=subprocess.PIPE)
               for project in ("alpha", "beta")]
    compactors = [spawn(COMPACTOR, "3", mode, stdout=subprocess.PIPE)
                  for mode in ("wait", "nowait")]

    written = [rid for w in writers for rid in json.loads(w.communicate(timeout=60)[0])]
    (ran_a, _), (ran_b, busy_b) = [json.loads(c.communicate(timeout=60)[0]) for c in compactors]
    assert all(p.returncode == 0 for p in [*writers, *compactors])
    assert ran_a > 0 and ran_b + busy_b > 0
    catalog.compact()

    rows = catalog.sql("SELECT id, status FROM runs").tuples()
    assert len(rows) == len(written) == len(set(written))
    assert {rid for rid, _ in rows} == set(written)
    assert {status for _, status in rows} == {"completed"}
    assert fragments(catalog_dir, "alpha") == fragments(catalog_dir, "beta") == []
    assert catalog.verify().problems == ()


def test_killed_compactor_leaves_no_lock_and_loses_or_doubles_nothing(
    make_run, write_fast, catalog, catalog_dir, spawn
) -> None:
    compactors = spawn(COMPACTORS_ON_CUE, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    versions: dict[str, int] = {}
    rng = random.Random(7)
    duration = 0.0
    for round_ in range(5):
        new = [make_run(results={"v": 1}) for _ in range(150)]
        # newer states of runs already in segments, so the compaction also merges segments
        now = dt.datetime.now(dt.UTC)
        again = [make_run(id=rid, results={"v": 2}, updated_at=now) for rid in list(versions)[:20]]
        write_fast([*new, *again])
        versions.update({r.id: r.results["v"] for r in [*new, *again]})

        compactors.stdin.write("go\n")
        compactors.stdin.flush()
        child, started = int(compactors.stdout.readline()), time.monotonic()
        if round_:  # the first round runs to the end, to learn how long a compaction takes
            time.sleep(rng.uniform(0, duration))
            os.kill(child, signal.SIGKILL)
        compactors.stdin.write("reap\n")
        compactors.stdin.flush()
        assert compactors.stdout.readline() == "reaped\n"
        duration = duration or time.monotonic() - started

        catalog.compact(wait=False)  # raises CompactionBusy if the lock outlived its holder
        rows = catalog.sql("SELECT id, results->>'v' FROM runs").tuples()
        assert len(rows) == len(versions)
        assert {rid: int(v) for rid, v in rows} == versions
    compactors.stdin.close()

    directory = catalog_dir / "runs" / "demo"
    listed = json.loads((directory / "segments.manifest").read_text())["segments"]
    assert sorted(listed) == [p.name for p in segments(catalog_dir)]
    assert fragments(catalog_dir) == []


def test_reads_during_compaction_never_see_a_duplicate_or_miss_a_finished_run(
    make_run, write_fast, catalog, tmp_path, spawn
) -> None:
    earlier = [make_run() for _ in range(150)]
    alive = Host(socket.gethostname(), "ana", os.getpid())
    write_fast([*earlier, *(make_run(status="running", host=alive) for _ in range(100))])
    log = tmp_path / "written.log"
    log.touch()
    writer = spawn(LOGGING_WRITER, "3", str(log))
    compactors = [spawn(COMPACTOR, "3", "wait", stdout=subprocess.PIPE) for _ in range(2)]

    problems = []
    while writer.poll() is None:
        finished = {r.id for r in earlier} | set(log.read_text().split())
        try:
            [(count, distinct, ids)] = catalog.sql(
                "SELECT count(*), count(DISTINCT id), list(id) FROM runs"
            ).tuples()
        except Exception as exc:
            problems.append(f"read failed: {type(exc).__name__}: {exc}")
            continue
        if count != distinct:
            problems.append(f"{count - distinct} duplicate rows")
        if missing := finished - set(ids):
            problems.append(f"{len(missing)} finished runs missing")
    for compactor in compactors:
        compactor.communicate(timeout=60)

    assert problems == []


def test_read_overlapping_a_compaction_sees_every_finished_run(
    make_run, write_fast, catalog_dir, spawn, python
) -> None:
    earlier = [make_run() for _ in range(30)]
    write_fast(earlier)
    directory = catalog_dir / "runs" / "demo"
    # A FIFO as one fragment holds the reader in the middle of its read, with fragments it has not
    # read yet after it in directory order (the order a read walks).
    for _ in range(100):
        held = make_run()
        fifo = directory / f"{held.id}.json"
        os.mkfifo(fifo)
        order = os.listdir(directory)
        if order.index(fifo.name) < len(order) - 5:
            break
        fifo.unlink()
    reader = spawn(READER, stdout=subprocess.PIPE)
    fd = open_fifo_for_writing(fifo, reader)

    record = json.dumps(unstructure(held)).encode()
    swap = directory / ".held.tmp"
    swap.write_bytes(record)
    os.replace(swap, fifo)
    python(COMPACT)  # folds every fragment, the unread ones too, while the reader waits
    os.write(fd, record)
    os.close(fd)

    seen = json.loads(reader.communicate(timeout=60)[0])
    assert sorted(seen) == sorted(r.id for r in [*earlier, held])


def test_compaction_keeps_a_fragment_replaced_while_it_was_read(
    make_run, catalog, catalog_dir, spawn, dead_pid
) -> None:
    """A run seen as lost (its pid is dead) writes its final record while a compactor reads it."""
    seen = make_run(status="running", host=Host(socket.gethostname(), "ana", dead_pid))
    final = attrs.evolve(seen, status="completed", exit_code=0, results={"energy": -41.2},
                         updated_at=seen.updated_at + dt.timedelta(seconds=60))
    fifo = catalog_dir / "runs" / "demo" / f"{seen.id}.json"
    fifo.parent.mkdir(parents=True)
    os.mkfifo(fifo)
    compactor = spawn(COMPACT)
    fd = open_fifo_for_writing(fifo, compactor)  # the compactor is reading the fragment now

    catalog.write(final)
    os.write(fd, json.dumps(unstructure(seen)).encode())
    os.close(fd)
    assert compactor.wait(timeout=60) == 0

    assert catalog.get(seen.id) == final


def test_query_survives_a_compaction_between_listing_and_reading(
    make_run, catalog, python
) -> None:
    run = make_run(results={"v": 1})
    catalog.write(run)
    catalog.compact()
    # a newer state of the run: the next compaction merges it and removes the first segment
    catalog.write(attrs.evolve(run, results={"v": 2},
                               updated_at=run.updated_at + dt.timedelta(seconds=1)))

    class RacedReader(bathos.Catalog):
        """Another process compacts after this read planned its query, before it fetched rows."""

        raced = False

        def _execute(self, work, timeout=None, **options):  # type: ignore[no-untyped-def]
            def work_after_a_compaction(con):  # type: ignore[no-untyped-def]
                if not self.raced:
                    self.raced = True
                    python(COMPACT)
                return work(con)

            return super()._execute(work_after_a_compaction, timeout, **options)

    assert RacedReader().sql("SELECT results->>'v' FROM runs").tuples() == [("2",)]


def test_compaction_lock_excludes_a_second_compactor(catalog, catalog_dir, spawn) -> None:
    holder = spawn(
        "import fcntl, os, sys; fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT); "
        "fcntl.flock(fd, fcntl.LOCK_EX); print('locked', flush=True); sys.stdin.readline()",
        str(catalog_dir / ".compact.lock"), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
    )
    catalog_dir.mkdir(parents=True, exist_ok=True)
    assert holder.stdout.readline() == "locked\n"

    with pytest.raises(CompactionBusy, match="compact again later"):
        catalog.compact(wait=False)

    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    catalog.compact(wait=False)

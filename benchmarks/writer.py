"""Writers of the concurrency benchmark: each records one finished run through the library.

    python benchmarks/writer.py N            one writer, run N: a fresh interpreter, as a SLURM
                                             array task is (start-up, imports, one write)
    python benchmarks/writer.py --fork N     N writers forked from this interpreter once bathos is
                                             imported, held at a pipe and released together: the
                                             catalog's write path alone; prints wall and CPU
                                             seconds and how many failed, as JSON
"""

from __future__ import annotations

import datetime as dt
import json
import os
import resource
import sys
import time

from bathos import Catalog, Host, Run
from bathos.ids import new_run_id


def write_one(i: int) -> None:
    """Write run number `i` (of project `bench`) to the catalog the environment names."""
    now = dt.datetime.now(dt.UTC)
    Catalog().write(Run(
        id=new_run_id(), project="bench", started_at=now, updated_at=now, status="completed",
        script="scripts/experiments/train_model.py",
        argv=("python", "scripts/experiments/train_model.py", "--seed", str(i)),
        params={"seed": str(i)}, cwd=os.getcwd(), ended_at=now, duration_s=0.0, exit_code=0,
        host=Host(hostname=os.uname().nodename, user="bench", pid=os.getpid()),
        results={"loss": 0.5}, tags=("bench",),
    ))


def fork_writers(count: int) -> dict[str, float]:
    """Fork `count` writers, release them together, wait for all."""
    read_end, write_end = os.pipe()
    pids = []
    for i in range(count):
        pid = os.fork()
        if pid == 0:  # the child: wait for the start, write, leave without cleanup
            code = 1
            try:
                os.close(write_end)
                os.read(read_end, 1)
                write_one(i)
                code = 0
            finally:
                os._exit(code)
        pids.append(pid)
    os.close(read_end)
    t0 = time.perf_counter()
    os.close(write_end)
    failed = sum(1 for pid in pids if os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) != 0)
    wall = time.perf_counter() - t0
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "failed": failed}


if __name__ == "__main__":
    if sys.argv[1] == "--fork":
        print(json.dumps(fork_writers(int(sys.argv[2]))))
    else:
        write_one(int(sys.argv[1]))

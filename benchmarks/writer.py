"""One writer of the concurrency benchmark: records one finished run through the library.

    python benchmarks/writer.py N

Run as a script it is a fresh interpreter, as a SLURM array task is: start-up, imports, one write.
bench_catalog.py also forks processes from one interpreter that call `write_one` directly, which
measures the catalog's write path alone.
"""

from __future__ import annotations

import datetime as dt
import os
import sys

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


if __name__ == "__main__":
    write_one(int(sys.argv[1]))

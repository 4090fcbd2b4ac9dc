"""Benchmark of `bth sync` through a real sshd on loopback (root only: it starts sshd and uses a
second user, as tests/sync does).

    sudo python benchmarks/bench_sync.py [--remote-runs 100000] [--repeat 5]

Both sides start with the same catalog of --remote-runs runs (5 projects, built once by
make_catalog.py and cached under benchmarks/.cache/, as bench_catalog.py does), the remote's in
the second user's HOME: a laptop and a cluster that synced before. Every sync is `--all-projects`,
so each compares all of them. Wall times a user waits for (median of --repeat; the library call
`Catalog.sync` in this process, and the whole `bth sync` command as a fresh process):

    the first push (no new runs; reads the remote's (id, updated_at) columns once)
    100 new runs pushed onto the remote                                         target <= 2 s
    a push when nothing changed (no-op)                                         target <= 0.7 s
    a pull when nothing changed (no-op)
    10,000 new runs pushed                                                      target <= 20 s

The new runs are make_catalog's (their logs are references only: make_catalog writes no blobs,
so no log travels). Nothing is asserted; timings depend on the machine, and the load average is
printed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent / "tests" / "sync")]

import bench_catalog  # noqa: E402  (its cached catalog, built by make_catalog.py)
import make_catalog  # noqa: E402  (the generator lives beside this script)
import sshd  # noqa: E402  (the loopback server of tests/sync)

PROJECT = make_catalog.PROJECT_NAMES[0]


def timed(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def add_runs(catalog: Path, count: int, seed: int) -> None:
    """`count` new runs of PROJECT in `catalog`, as hot fragments (make_catalog's records)."""
    from bathos.catalog import store

    now = time.time()
    make_catalog._init_worker(1, seed, now - 3600, now, str(catalog))
    for record in make_catalog.make_records(seed, count, now - 3600, now):
        store.write_record(catalog, record, durable=False)


def command(home: Path, *args: str) -> float:
    env = {**os.environ, "BTH_HOME": str(home)}
    env.pop("BTH_CATALOG_DIR", None)
    started = time.perf_counter()
    done = subprocess.run([*bench_catalog.bth_command(), "sync", "cluster", "--all-projects",
                           *args], env=env, capture_output=True, text=True)
    took = time.perf_counter() - started
    if done.returncode:
        raise SystemExit(f"bth sync failed: {done.stderr}")
    return took


def report(name: str, seconds: list[float], target: float | None = None) -> None:
    median = statistics.median(seconds)
    verdict = "" if target is None else (
        f"   (target <= {target:g} s: {'PASS' if median <= target else 'MISS'})")
    print(f"  => {name}: {median:.3f} s (of {len(seconds)}: "
          f"{', '.join(f'{s:.3f}' for s in seconds)}){verdict}", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--remote-runs", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    why = sshd.why_not()
    if why:
        print(f"skipped: {why}")
        return 0
    cached, _ = bench_catalog.ensure_big_catalog(HERE / ".cache", args.remote_runs, False)
    scratch = Path(tempfile.mkdtemp(prefix="bench-sync-"))
    server = sshd.start_sshd(scratch / "sshd")
    remote_home = server.remote_home / "bench"
    try:
        os.environ["HOME"] = str(server.client_home)
        os.environ.pop("SSH_AUTH_SOCK", None)
        for home in (remote_home, scratch / "laptop"):
            subprocess.run(["rm", "-rf", str(home)], check=True)
            home.mkdir(parents=True)
            subprocess.run(["cp", "-a", str(cached / "catalog"), str(home)], check=True)
        subprocess.run(["chown", "-R", f"{server.user}:{server.user}", str(remote_home)],
                       check=True)
        print(f"{args.remote_runs:,} runs on both sides; {bench_catalog.load()}", flush=True)
        return measure(scratch / "laptop", args.repeat)
    finally:
        server.stop()
        subprocess.run(["rm", "-rf", str(remote_home), str(scratch)], check=False)


def measure(home: Path, repeat: int) -> int:
    import bathos

    os.environ["BTH_HOME"] = str(home)
    os.environ.pop("BTH_CATALOG_DIR", None)
    bathos.add_remote("cluster", "cluster:bench", scope="user")
    catalog = bathos.Catalog(home / "catalog")

    def push() -> bathos.SyncReport:
        return catalog.sync("cluster", all_projects=True)

    report("first push (the remote's columns read once)", [timed(push)])
    hundred: list[float] = []
    for n in range(repeat):
        add_runs(catalog.path, 100, 1000 + n)
        hundred.append(timed(push))
    report("100 new runs pushed (library)", hundred, 2.0)
    add_runs(catalog.path, 100, 2000)
    report("100 new runs pushed (bth sync)", [command(home)], 2.0)

    report("no-op push (library)", [timed(push) for _ in range(repeat)], 0.7)
    report("no-op push (bth sync)", [command(home) for _ in range(repeat)], 0.7)
    report("no-op pull (library)", [timed(lambda: catalog.sync(
        "cluster", pull=True, all_projects=True)) for _ in range(repeat)], 0.7)
    report("no-op pull (bth sync --pull)", [command(home, "--pull") for _ in range(repeat)], 0.7)

    add_runs(catalog.path, 10_000, 3000)
    big = push()
    report(f"10,000 new runs pushed ({big.runs:,} runs, {big.bytes / 1e6:.1f} MB)",
           [big.seconds], 20.0)
    print(f"  ({bench_catalog.load()})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

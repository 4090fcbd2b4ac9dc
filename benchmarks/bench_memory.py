"""Peak memory of the readers and of compaction over many uncompacted (hot) runs.

    python benchmarks/bench_memory.py [--fragments 10000,100000] [--max-rss-mb 4096]

For each size N it writes N realistic hot fragments (make_catalog.py's generator, written with
store.write_record as `bth run` leaves them) into a scratch BTH_HOME, then runs as fresh processes

    bth ls --all-projects                       the listing
    bth sql "SELECT count(*), count(DISTINCT id) FROM runs"
    bth compact                                 folds all N fragments into a segment

and prints each one's peak RSS (the child's own `ru_maxrss`, from wait4) and wall time beside the
target (<= 1 GB). The readers run with automatic compaction off (BTH_COMPACT_THRESHOLD above N), so
they read every fragment, as a reader beside a busy compactor does; `bth compact` runs last, then
`bth sql` once more on the compacted catalog to check the count. A child whose RSS passes
--max-rss-mb is killed (so an old bathos cannot exhaust the machine) and its figure is marked so.
Nothing is asserted; ~/.bth is never read or written.
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import subprocess
import sys
import tempfile
import threading
import time
from multiprocessing import get_context
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_catalog  # noqa: E402  (beside this script)
import make_catalog  # noqa: E402

COUNT_SQL = "SELECT count(*), count(DISTINCT id) FROM runs"
TARGET_MB = 1024


def write_hot(catalog: Path, fragments: int, workers: int) -> float:
    """Write `fragments` finished runs spread over the last 30 days as hot fragments; seconds."""
    end = time.time() - 3600  # finished an hour ago: no fragment looks like a live run
    start = end - 30 * make_catalog.DAY
    chunk = max(1, min(5_000, fragments // (2 * workers)))
    jobs = make_catalog._batches(fragments, fragments, chunk, start, end)[0]
    t0 = time.perf_counter()
    with get_context("fork").Pool(workers, make_catalog._init_worker,
                                  (5, 0, start, end, str(catalog))) as pool:
        pool.map(make_catalog.write_chunk, jobs)
    return time.perf_counter() - t0


class Measured:
    """One child process: exit code, wall seconds, peak RSS in MB, and whether it was killed."""

    def __init__(self, cmd: list[str], env: dict[str, str], cwd: Path, max_rss_mb: int) -> None:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
        self.killed = False
        out: dict[str, bytes] = {}
        threads = [threading.Thread(target=self._watch, args=(proc.pid, max_rss_mb), daemon=True)]
        for name, pipe in (("stdout", proc.stdout), ("stderr", proc.stderr)):
            threads.append(threading.Thread(
                target=lambda n=name, f=pipe: out.__setitem__(n, f.read()), daemon=True))
        for thread in threads:
            thread.start()
        # wait4, not Popen.wait: it also gives this child's own peak RSS
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = self.code = os.waitstatus_to_exitcode(status)
        for thread in threads[1:]:
            thread.join()
        self.seconds = time.perf_counter() - t0
        self.rss_mb = usage.ru_maxrss / 1024
        self.stdout = out.get("stdout", b"").decode(errors="replace")
        self.stderr = out.get("stderr", b"").decode(errors="replace")

    def _watch(self, pid: int, max_rss_mb: int) -> None:
        page = os.sysconf("SC_PAGE_SIZE")
        while True:
            try:
                rss = int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * page
            except (OSError, ValueError, IndexError):
                return
            if rss > max_rss_mb * 1024 * 1024:
                self.killed = True
                os.kill(pid, signal.SIGKILL)
                return
            time.sleep(0.02)

    def figure(self) -> str:
        peak = f"> {self.rss_mb:,.0f} MB (killed)" if self.killed else f"{self.rss_mb:,.0f} MB"
        return f"{peak}, {self.seconds:.1f} s" + ("" if self.code == 0 or self.killed
                                                  else f", exit {self.code}")


def bench_size(results: bench_catalog.Results, scratch: Path, fragments: int, workers: int,
               max_rss_mb: int) -> None:
    home = scratch / f"home-{fragments}"
    catalog = home / "catalog"
    print(f"\n{fragments:,} hot fragments; {bench_catalog.load()}", flush=True)
    took = write_hot(catalog, fragments, workers)
    hot, _, _ = make_catalog.catalog_file_counts(catalog)
    size = sum(p.stat().st_size for p in (catalog / "runs").rglob("*.json"))
    print(f"  wrote {hot:,} fragments ({size / hot:,.0f} B each) in {took:.0f}s", flush=True)
    env = bench_catalog.scratch_env(home)
    readers = dict(env, BTH_COMPACT_THRESHOLD=str(10 * fragments))
    steps = [
        ("bth ls --all-projects", ["ls", "--all-projects"], readers),
        (f'bth sql "{COUNT_SQL}"', ["sql", COUNT_SQL], readers),
        ("bth compact", ["compact"], env),
        ("bth sql (after compaction)", ["sql", COUNT_SQL], env),
    ]
    for label, args, step_env in steps:
        done = Measured([*bench_catalog.bth_command(), *args], step_env, scratch, max_rss_mb)
        last = (done.stdout.strip().splitlines() or [""])[-1]
        print(f"  {label}: {done.figure()}  {last[:80]}", flush=True)
        if done.code and not done.killed:
            print(f"    {done.stderr.strip()[-400:]}", file=sys.stderr, flush=True)
        results.add(f"{label}, {fragments:,} hot", done.figure(), f"<= {TARGET_MB:,} MB",
                    done.rss_mb <= TARGET_MB and not done.killed,
                    failed=done.code != 0 and not done.killed)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fragments", default="10000,100000",
                        help="hot fragments per catalog, comma-separated (10000,100000)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="processes writing the fragments (CPU count)")
    parser.add_argument("--max-rss-mb", type=int, default=4096,
                        help="kill a child whose RSS passes this many MB (4096)")
    args = parser.parse_args(argv)
    try:
        sizes = [int(n) for n in args.fragments.split(",") if n.strip()]
    except ValueError:
        parser.error("--fragments takes whole numbers, comma-separated")
    if not sizes or min(sizes) < 1 or args.workers < 1 or args.max_rss_mb < 1:
        parser.error("--fragments, --workers and --max-rss-mb must be positive")

    import duckdb

    import bathos

    print(f"bathos {bathos.__version__}, Python {platform.python_version()}, DuckDB "
          f"{duckdb.__version__}, {os.cpu_count()} CPUs, {platform.platform()}; bth = "
          f"{' '.join(bench_catalog.bth_command())}")
    results = bench_catalog.Results()
    with tempfile.TemporaryDirectory(prefix="bth-bench-memory-") as tmp:
        for fragments in sizes:
            bench_size(results, Path(tmp), fragments, args.workers, args.max_rss_mb)
    print(f"\n{results.table()}\n({bench_catalog.load()} at the end)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

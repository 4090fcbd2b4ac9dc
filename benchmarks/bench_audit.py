"""Benchmark of `bth sprint-audit`: the catalog and repository `bench_check.py` builds (10,000
runs of a repository of 2,000 commits, registered), audited over every run and over the last week.

    python benchmarks/bench_audit.py [--runs 10000] [--commits 2000] [--files 2000] [--repeat 3]

Times the in-process `bathos.sprint_audit` (median of --repeat after one untimed warm-up) for a
window holding every run and for the last week's runs, and prints the counts it found. Most of
the cost is the freshness check of the window's completed runs (`bench_check.py` times it alone).
Nothing is asserted: timings depend on the machine.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from bench_check import START, Layout, write_catalog, write_repository

if TYPE_CHECKING:
    from bathos import SprintAudit


def time_audit(hours: float, now: dt.datetime, repeat: int) -> tuple[float, SprintAudit]:
    from bathos import sprint_audit

    report = sprint_audit(hours, now=now)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        sprint_audit(hours, now=now)
        times.append(time.perf_counter() - start)
    return statistics.median(times), report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--commits", type=int, default=2_000)
    parser.add_argument("--files", type=int, default=2_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    scratch = Path(tempfile.mkdtemp(prefix="bth-bench-audit-"))
    os.environ["BTH_HOME"] = str(scratch / "home")
    os.environ.pop("BTH_CATALOG_DIR", None)
    repo = scratch / "repo"
    rng = random.Random(args.seed)
    try:
        layout = Layout(args.files, args.commits, rng)
        commit_ids = write_repository(repo, layout)
        write_catalog(repo, layout, commit_ids, args.runs, rng)
        from bathos.projects import register

        register("bench", repo)
        (repo / ".bth.toml").write_text('[project]\nslug = "bench"\n')
        # bench_check's runs start at START, one commit every 30 minutes.
        now = START + dt.timedelta(seconds=args.commits * 1800 + 3600)
        span = (now - START).total_seconds() / 3600
        for label, hours in [("every run", span), ("the last week", 168.0)]:
            median, report = time_audit(hours, now, args.repeat)
            total = report.total
            for warning in report.warnings:
                print(f"    {warning.project}: {warning.message}")
            print(f"  sprint_audit over {label} ({hours:,.0f} h): median {median:.2f} s; "
                  f"{total.runs:,} runs, {total.checked:,} judged, {total.stale:,} stale")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

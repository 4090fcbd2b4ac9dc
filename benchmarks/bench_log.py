"""What `bth.log` costs in a training loop, and what a metric point costs on disk.

    python benchmarks/bench_log.py [--calls 100000] [--keys 1]

Runs a script under a real `bth run` (a temporary project and BTH_HOME) that calls
`bth.log(step=i, loss=…)` `--calls` times (with `--keys` metrics a call), and prints the cost per
call measured in the script (less the same loop calling an empty function), then the bytes per
point in the file the script wrote (`$BTH_METRICS_PATH`), in the file stored beside the run, and
in the Parquet segment compaction made of it; and what `bth run` spends at the end reading and
storing the points.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SCRIPT = """\
import json, shutil, os, sys, time
import bth
from bathos.scripting import flush_points

calls, keys = int(sys.argv[1]), int(sys.argv[2])
names = [f"m{k}" for k in range(keys)]

def nothing(step=None, **metrics):
    pass

bth.log(step=0, warm_up=0.0)  # the first call (imports, hooks) is not what a loop pays
seconds = {}
for label, fn in (("empty", nothing), ("log", bth.log)):
    started = time.perf_counter()
    for i in range(calls):
        fn(step=i, **{name: 1.0 / (i + 1) for name in names})
    seconds[label] = time.perf_counter() - started
flush_points()
shutil.copy(os.environ["BTH_METRICS_PATH"], sys.argv[3])
print(json.dumps(seconds))
"""


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=bench", "-c", "user.email=bench@example.org", *args],
                   cwd=repo, check=True, capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--keys", type=int, default=1)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-log-"))
    try:
        run(root, args.calls, args.keys)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def run(root: Path, calls: int, keys: int) -> None:
    repo = root / "proj"
    repo.mkdir()
    (repo / "train.py").write_text(SCRIPT)
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "bench")
    copy = root / "logged.jsonl"
    env = {**os.environ, "BTH_HOME": str(root / "home"), "VIRTUAL_ENV": sys.prefix}
    env.pop("BTH_CATALOG_DIR", None)
    bth = [sys.executable, "-m", "bathos_cli"]
    started = time.perf_counter()
    done = subprocess.run([*bth, "run", "train.py", "--", str(calls), str(keys), str(copy)],
                          cwd=repo, env=env, capture_output=True, text=True, check=True)
    whole = time.perf_counter() - started
    timed = json.loads(done.stdout.splitlines()[-1])
    points = calls * keys
    per_call = (timed["log"] - timed["empty"]) / calls * 1e6
    print(f"bth.log, {keys} metric(s) a call, {calls:,} calls under bth run: "
          f"{per_call:.2f} µs a call ({timed['log'] / calls * 1e6:.2f} µs with the loop; "
          f"the empty loop {timed['empty'] / calls * 1e6:.2f} µs)")
    print(f"whole bth run: {whole:.2f} s")

    from bathos.catalog import metrics

    started = time.perf_counter()
    read = metrics.read_logged(copy)
    encoded = metrics.encode(read)
    print(f"at the end, reading and encoding {len(read):,} points: "
          f"{time.perf_counter() - started:.2f} s")
    catalog = root / "home" / "catalog" / "runs" / "proj" / "metrics"
    [stored] = catalog.glob("*.jsonl")
    print(f"bytes per point: {copy.stat().st_size / (points + 1):.1f} as logged "
          f"($BTH_METRICS_PATH), {stored.stat().st_size / (points + 1):.1f} stored beside the "
          f"run (encoded here: {len(encoded) / len(read):.1f})")
    subprocess.run([*bth, "compact"], cwd=repo, env=env, check=True, capture_output=True)
    [segment] = catalog.glob("seg-*.parquet")
    print(f"bytes per point after compaction: {segment.stat().st_size / (points + 1):.1f} "
          "(Parquet, zstd)")


if __name__ == "__main__":
    main()

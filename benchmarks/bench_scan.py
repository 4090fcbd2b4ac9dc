"""Benchmark of the tree scan `bth run` makes after a command ends (bathos.provenance.scan).

    python benchmarks/bench_scan.py [--files 100000] [--per-dir 100] [--changed 20] [--repeat 5]
                                    [--keep DIR]

Builds, in a temporary directory: --files small files, --per-dir to a directory, in directories
two levels deep (plus a `.git` and a `.venv` the scan skips), then marks a start as a run does
(the mtime of a directory made now), rewrites --changed files, and times `changed_files` over the
tree without caps (median of --repeat, the page cache warm after one untimed walk). Prints entries
visited per second, what the default caps (`MAX_ENTRIES`, `MAX_SECONDS`) mean on this machine,
and the time of the capped walk. Nothing is asserted: timings depend on the machine.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from bathos.provenance import scan


def build(root: Path, files: int, per_dir: int) -> list[Path]:
    """The tree; every file it wrote, in order."""
    written = []
    for n in range(files):
        group, rest = divmod(n // per_dir, 32)
        directory = root / f"d{group:04d}" / f"e{rest:02d}"
        if n % per_dir == 0:
            directory.mkdir(parents=True)
        path = directory / f"f{n:06d}.txt"
        path.write_bytes(b"x")
        written.append(path)
    for skipped in (root / ".git" / "objects", root / ".venv" / "lib"):
        skipped.mkdir(parents=True)
        for n in range(1000):
            (skipped / f"o{n}").write_bytes(b"x")
    (root / ".venv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    return written


def timed(root: Path, since_ns: int, repeat: int, **caps: float) -> tuple[float, scan.Scan]:
    results = []
    for _ in range(repeat):
        started = time.perf_counter()
        found = scan.changed_files([root], since_ns, **caps)  # type: ignore[arg-type]
        results.append((time.perf_counter() - started, found))
    return statistics.median(t for t, _ in results), results[-1][1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--per-dir", type=int, default=100)
    parser.add_argument("--changed", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="build the tree here and leave it")
    args = parser.parse_args()

    work = args.keep or Path(tempfile.mkdtemp(prefix="bth-bench-scan-"))
    root = work / "tree"
    try:
        t0 = time.perf_counter()
        written = build(root, args.files, args.per_dir)
        print(f"built {args.files:,} files in {len(written) // args.per_dir:,} directories "
              f"in {time.perf_counter() - t0:.1f} s")
        marker = work / "marker"
        marker.mkdir()
        since_ns = marker.stat().st_mtime_ns
        for path in written[:: max(1, len(written) // args.changed)][: args.changed]:
            path.write_bytes(b"changed")
        scan.changed_files([root], since_ns, max_entries=10**9, max_seconds=1e9)  # warm

        uncapped, found = timed(root, since_ns, args.repeat, max_entries=10**9, max_seconds=1e9)
        rate = found.visited / uncapped
        print(f"uncapped: {found.visited:,} entries in {uncapped:.3f} s "
              f"({rate:,.0f} entries/s), {len(found.paths)} changed files found")
        print(f"default caps: {scan.MAX_ENTRIES:,} entries (~{scan.MAX_ENTRIES / rate:.2f} s "
              f"here), {scan.MAX_SECONDS:g} s (~{scan.MAX_SECONDS * rate:,.0f} entries here)")
        capped_s, capped = timed(root, since_ns, args.repeat)
        print(f"default caps on this tree: {capped.visited:,} entries in {capped_s:.3f} s, "
              f"capped by {capped.capped or 'nothing'}")
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()

"""What `bth run` adds to running a script directly (target: ≤ 60 ms, median, whole process).

    python benchmarks/bench_run.py [--repeat 21] [--baseline OTHER/bin/bth] [--files 10000]
                                   [--output-mb 200]

Makes a small git project (a script importing two local modules, a clean tree) in a temporary
directory with its own BTH_HOME, then times, interleaved, `python script.py` and
`bth run script.py` as whole processes. Prints both medians and the difference, and what importing
the run path's fixed dependencies (click, attrs, pygit2) costs, so the overhead splits into bth's
own interpreter start-up, those imports, and bathos's own modules and work. `--baseline` times
another installation's `bth run` in the same rounds (say, of the main branch), so a change is
measured against it on the same machine at the same moment. `--importtime` also prints the
slowest imports of `bth run`.

Then the observation's cost (target: < 5 %) on a script that opens and reads `--files` small
files: the script run directly and through the bootstrap `bth run` starts it with (its audit hook
notes each file), as whole processes, interleaved; and, for reference, under `bth run`, which then
also hashes the files it records (the first 2,000).

Last, what copying a script's output costs: a script that writes `--output-mb` MB to stdout, run
directly and under `bth run` (which shows it, appends it to the live log `bth logs --follow`
reads, and keeps its first and last 4 MB), with stdout to /dev/null; per MB written.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_MS = 60.0
TARGET_OBSERVED = 0.05
READER = """\
import os, sys
folder = sys.argv[1]
total = 0
for name in sorted(os.listdir(folder)):
    with open(os.path.join(folder, name)) as fh:
        total += len(fh.read())
print(total)
"""
WRITER = """\
import sys
line = b"x" * 99 + b"\\n"
for _ in range(int(sys.argv[1]) * 10_000):  # MB of 100-byte lines, 64 KB at a time
    sys.stdout.buffer.write(line)
"""


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=bench", "-c", "user.email=bench@example.org", *args],
                   cwd=repo, check=True, capture_output=True)


def make_project(root: Path) -> Path:
    repo = root / "proj"
    (repo / "lib").mkdir(parents=True)
    (repo / "lib" / "__init__.py").write_text("")
    (repo / "lib" / "model.py").write_text("def fit(n):\n    return sum(range(n))\n")
    (repo / "train.py").write_text(
        "import sys\nfrom lib import model\nprint(model.fit(int(sys.argv[-1])))\n")
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "bench")
    return repo


def compile_bathos() -> None:
    """Byte-compile bathos as `pip install` does, so start-up is measured as users see it."""
    import compileall

    import bathos
    import bathos_cli

    for package in (bathos, bathos_cli):
        compileall.compile_dir(str(Path(package.__file__).parent), quiet=1)


def timed(cmd: list[str], cwd: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def medians(commands: dict[str, list[str]], repeat: int, cwd: Path,
            env: dict[str, str]) -> dict[str, float]:
    """Median whole-process ms of each command, timed in interleaved rounds after one warm-up."""
    for cmd in commands.values():
        timed(cmd, cwd, env)
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(repeat):
        for name, cmd in commands.items():
            times[name].append(timed(cmd, cwd, env))
    return {name: statistics.median(t) * 1000 for name, t in times.items()}


def bench_overhead(bth: str, baseline: str | None, repeat: int, repo: Path,
                   env: dict[str, str]) -> dict[str, list[str]]:
    run_args = ["run", "--python", sys.executable, "train.py", "--", "--n", "1000"]
    commands = {
        "direct": [sys.executable, "train.py", "--n", "1000"],
        "tracked": [bth, *run_args],
        "bare": [sys.executable, "-c", "pass"],
        "floor": [sys.executable, "-c", "import click, attrs, pygit2"],
        **({"baseline": [baseline, *run_args]} if baseline else {}),
    }
    ms = medians(commands, repeat, repo, env)
    d, t, bare, floor = ms["direct"], ms["tracked"], ms["bare"], ms["floor"]
    overhead = t - d
    print(f"python train.py          {d:7.1f} ms (median of {repeat})")
    print(f"bth run train.py         {t:7.1f} ms")
    verdict = "PASS" if overhead <= TARGET_MS else "MISS"
    print(f"overhead                 {overhead:7.1f} ms   target ≤ {TARGET_MS:.0f} ms  {verdict}")
    print(f"  = bth's interpreter start-up {bare:.1f} ms + importing click, attrs and pygit2 "
          f"{floor - bare:.1f} ms + bathos's own modules and work {overhead - floor:.1f} ms")
    if baseline:
        b = ms["baseline"]
        print(f"baseline bth run         {b:7.1f} ms   (bathos's own share {b - d - floor:.1f} ms; "
              f"this one {t - b:+.1f} ms)")
    return commands


def bench_observed(bth: str, files: int, repeat: int, root: Path, env: dict[str, str]) -> None:
    from bathos.provenance.observation import BOOTSTRAP

    folder = root / "many"
    folder.mkdir()
    for i in range(files):
        (folder / f"f{i:05d}.txt").write_text(f"{i}\n")
    (root / "reader.py").write_text(READER)
    report = root / "report"
    commands = {
        "direct": [sys.executable, "reader.py", str(folder)],
        "observed": [sys.executable, str(BOOTSTRAP), str(report), "--code-cache",
                     str(root / "code"), "reader.py", str(folder)],
        "tracked": [bth, "run", "--python", sys.executable, "reader.py", "--", str(folder)],
    }
    ms = medians(commands, repeat, root, env)
    d, o, t = ms["direct"], ms["observed"], ms["tracked"]
    added = (o - d) / d
    verdict = "PASS" if added < TARGET_OBSERVED else "MISS"
    print(f"\npython reader.py ({files} files)  {d:7.1f} ms (median of {repeat})")
    print(f"through the bootstrap            {o:7.1f} ms   {added:+.1%}   "
          f"target < {TARGET_OBSERVED:.0%}  {verdict}")
    print(f"bth run reader.py                {t:7.1f} ms   (recording and hashing included)")


def bench_output(bth: str, baseline: str | None, mb: int, repeat: int, root: Path,
                 env: dict[str, str]) -> None:
    (root / "writer.py").write_text(WRITER)
    run_args = ["run", "--python", sys.executable, "writer.py", "--", str(mb)]
    commands = {
        "direct": [sys.executable, "writer.py", str(mb)],
        "tracked": [bth, *run_args],
        **({"baseline": [baseline, *run_args]} if baseline else {}),
    }
    ms = medians(commands, repeat, root, env)
    d, t = ms["direct"], ms["tracked"]
    print(f"\npython writer.py ({mb} MB to stdout)  {d:7.1f} ms (median of {repeat})")
    print(f"bth run writer.py                    {t:7.1f} ms   {(t - d) / mb:.2f} ms per MB")
    if baseline:
        b = ms["baseline"]
        print(f"baseline bth run                     {b:7.1f} ms   {(b - d) / mb:.2f} ms per MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=21)
    parser.add_argument("--importtime", action="store_true")
    parser.add_argument("--baseline", help="another installation's bth, timed alongside")
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--output-mb", type=int, default=200)
    args = parser.parse_args()
    compile_bathos()
    bth = shutil.which("bth") or str(Path(sys.executable).with_name("bth"))
    with tempfile.TemporaryDirectory(prefix="bth-bench-run-") as tmp:
        repo = make_project(Path(tmp))
        env = {**os.environ, "BTH_HOME": str(Path(tmp) / "home")}
        env.pop("BTH_CATALOG_DIR", None)
        commands = bench_overhead(bth, args.baseline, args.repeat, repo, env)
        if args.importtime:
            out = subprocess.run([sys.executable, "-X", "importtime", "-m", "bathos_cli",
                                  *commands["tracked"][1:]], cwd=repo, env=env, capture_output=True,
                                 text=True).stderr
            rows = [line.split("|") for line in out.splitlines() if line.startswith("import time:")
                    and "cumulative" not in line]
            slow = sorted(rows, key=lambda r: -int(r[1]))[:15]
            print("\nslowest imports (cumulative µs):")
            for row in slow:
                print(f"  {int(row[1]):8d}  {row[2].rstrip()}")
        if args.files:
            bench_observed(bth, args.files, args.repeat, Path(tmp), env)
        if args.output_mb:
            bench_output(bth, args.baseline, args.output_mb, args.repeat, Path(tmp), env)


if __name__ == "__main__":
    main()

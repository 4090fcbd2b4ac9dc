"""What `bth run` adds to running a script directly (target: ≤ 60 ms, median, whole process).

    python benchmarks/bench_run.py [--repeat 21]

Makes a small git project (a script importing two local modules, a clean tree) in a temporary
directory with its own BTH_HOME, then times, interleaved, `python script.py` and
`bth run script.py` as whole processes. Prints both medians and the difference, and what importing
the run path's fixed dependencies (click, attrs, pygit2) costs, so the overhead splits into bth's
own interpreter start-up, those imports, and bathos's own modules and work. `--importtime` also
prints the slowest imports of `bth run`.
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=21)
    parser.add_argument("--importtime", action="store_true")
    args = parser.parse_args()
    compile_bathos()
    bth = shutil.which("bth") or str(Path(sys.executable).with_name("bth"))
    with tempfile.TemporaryDirectory(prefix="bth-bench-run-") as tmp:
        repo = make_project(Path(tmp))
        env = {**os.environ, "BTH_HOME": str(Path(tmp) / "home")}
        env.pop("BTH_CATALOG_DIR", None)
        commands = {
            "direct": [sys.executable, "train.py", "--n", "1000"],
            "tracked": [bth, "run", "--python", sys.executable, "train.py", "--", "--n", "1000"],
            "bare": [sys.executable, "-c", "pass"],
            "floor": [sys.executable, "-c", "import click, attrs, pygit2"],
        }
        timed(commands["tracked"], repo, env)  # warm the interpreter and package caches once
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.repeat):
            for name, cmd in commands.items():
                times[name].append(timed(cmd, repo, env))
        d, t, bare, floor = (statistics.median(times[n]) * 1000 for n in commands)
        overhead = t - d
        print(f"python train.py          {d:7.1f} ms (median of {args.repeat})")
        print(f"bth run train.py         {t:7.1f} ms")
        verdict = "PASS" if overhead <= TARGET_MS else "MISS"
        print(f"overhead                 {overhead:7.1f} ms   "
              f"target ≤ {TARGET_MS:.0f} ms  {verdict}")
        print(f"  = bth's interpreter start-up {bare:.1f} ms + importing click, attrs and pygit2 "
              f"{floor - bare:.1f} ms + bathos's own modules and work {overhead - floor:.1f} ms")
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


if __name__ == "__main__":
    main()

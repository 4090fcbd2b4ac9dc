"""Benchmark of `bth check`: 10,000 runs judged against a repository of 2,000 commits.

    python benchmarks/bench_check.py [--runs 10000] [--commits 2000] [--files 2000] [--repeat 5]
                                     [--keep DIR] [--profile]

Builds, in a temporary directory with its own BTH_HOME (~/.bth is never read or written):

    repo/       a git repository written with `git fast-import`: --files files (Python modules in
                packages, scripts under scripts/experiments/, one tracked data file), the first
                commit adding them all and each later one changing 1-3 of them, --commits in all;
                then checked out with `git reset --hard`, so the index holds every file's stat
    catalog     --runs runs written through the library's write path (`bathos.models.Run`,
                `unstructure`, `store.write_record(durable=False)`, then `Catalog.compact()`):
                each a script and the 3-8 modules it imports, plus the data file as an input,
                with the sha256 and git blob id those files had at the commit the run "ran" on.
                Runs come in sweeps (one script, one commit, 1-39 seeds); most sweeps ran on one
                of the last 20 commits, the rest anywhere in history, so some runs are stale;
                5% were derived from an earlier run whose output exists on disk.
    projects.toml  the project registered, as `bth init` would

Then times `bth check --all-projects` and `bth check --all-projects --json` as whole processes
(median of --repeat after one untimed warm-up) and prints them against the target (<= 2 s for
10,000 runs in a repository of 2,000 commits), with the verdict counts and `python -c pass` for
reference. Nothing is asserted: timings depend on the machine. --profile adds a cProfile of one
in-process `Catalog.check` (top functions by cumulative time).
"""

from __future__ import annotations

import argparse
import bisect
import cProfile
import datetime as dt
import hashlib
import json
import os
import pstats
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

TARGET_S = 2.0
RECENT_COMMITS = 20  # most runs ran on one of the last RECENT_COMMITS commits
RECENT_SHARE = 0.7  # of sweeps; the others ran on any commit in history
SWEEP_MEAN = 20  # runs of one script on one commit (seeds), on average
DERIVED_SHARE = 0.05
START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
COMMIT_GAP_S = 1800
DATA_FILE = "data/train.csv"


def git_env() -> dict[str, str]:
    return {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull}


def content(path: str, version: int) -> bytes:
    """File `path` at its `version`: deterministic, so its hashes are known without git."""
    if path == DATA_FILE:
        rows = "".join(f"{i},{(i * 7 + version) % 13}\n" for i in range(200))
        return f"x,y\n{rows}".encode()
    body = "".join(f"def f{i}(x):\n    return x * {i} + {version}\n\n\n" for i in range(12))
    return f'"""{path}, version {version}."""\n\nVERSION = {version}\n\n\n{body}'.encode()


class Layout:
    """The repository's files, and the version each has at every commit."""

    def __init__(self, files: int, commits: int, rng: random.Random) -> None:
        scripts = max(10, files // 20)
        packages = max(1, (files - scripts - 1) // 25)
        self.scripts = [f"scripts/experiments/train_{i:03d}.py" for i in range(scripts)]
        self.modules: list[str] = []
        for p in range(packages):
            self.modules.append(f"src/pkg_{p:02d}/__init__.py")
            self.modules += [f"src/pkg_{p:02d}/mod_{m:02d}.py" for m in range(24)]
        self.modules = self.modules[: files - scripts - 1]
        self.paths = [*self.scripts, *self.modules, DATA_FILE]
        # commit index -> files changed there; path -> sorted commit indexes where it changed
        self.changes: list[list[str]] = [list(self.paths)]
        self.history: dict[str, list[int]] = {p: [0] for p in self.paths}
        for c in range(1, commits):
            changed = rng.sample(self.paths, rng.randint(1, 3))
            self.changes.append(changed)
            for path in changed:
                self.history[path].append(c)
        self.imports = {s: rng.sample(self.modules, rng.randint(3, 8)) for s in self.scripts}

    def version_at(self, path: str, commit: int) -> int:
        """How many times `path` had changed by `commit` (its version there)."""
        return bisect.bisect_right(self.history[path], commit) - 1


def write_repository(repo: Path, layout: Layout) -> list[str]:
    """The repository through `git fast-import`; the commit ids, oldest first."""
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True, env=git_env())
    marks = repo / ".git" / "bench-marks"
    proc = subprocess.Popen(["git", "fast-import", "--quiet", f"--export-marks={marks}"],
                            cwd=repo, stdin=subprocess.PIPE, env=git_env())
    assert proc.stdin is not None
    versions = dict.fromkeys(layout.paths, -1)
    for c, changed in enumerate(layout.changes):
        when = int(START.timestamp()) + c * COMMIT_GAP_S
        message = f"commit {c}\n".encode()
        head = (f"commit refs/heads/main\nmark :{c + 1}\n"
                f"committer Bench <bench@example.com> {when} +0000\n"
                f"data {len(message)}\n").encode() + message
        parts = [head, b"" if c == 0 else f"from :{c}\n".encode()]
        for path in changed:
            versions[path] += 1
            data = content(path, versions[path])
            parts.append(f"M 100644 inline {path}\ndata {len(data)}\n".encode() + data + b"\n")
        proc.stdin.write(b"".join(parts))
    proc.stdin.close()
    if proc.wait() != 0:
        raise SystemExit("git fast-import failed")
    ids = dict(line.split() for line in marks.read_text().splitlines())
    subprocess.run(["git", "reset", "-q", "--hard", "main"], cwd=repo, check=True, env=git_env())
    (repo / ".gitignore").write_text("outputs/\n")
    time.sleep(0.05)  # then refresh, as any later git command would: no racily clean entries
    subprocess.run(["git", "update-index", "-q", "--refresh"], cwd=repo, env=git_env())
    return [ids[f":{c + 1}"] for c in range(len(layout.changes))]


def sweeps(runs: int, commits: int, layout: Layout, rng: random.Random
           ) -> list[tuple[int, str, int]]:
    """(commit, script, runs) of each sweep, oldest first: a researcher runs one script on one
    commit with several seeds, mostly on recent commits, sometimes on an old one."""
    found = []
    while runs > 0:
        size = min(runs, rng.randint(1, 2 * SWEEP_MEAN - 1))
        recent = rng.random() < RECENT_SHARE
        commit = rng.randrange(max(0, commits - RECENT_COMMITS) if recent else 0, commits)
        found.append((commit, rng.choice(layout.scripts), size))
        runs -= size
    return sorted(found)


def write_catalog(repo: Path, layout: Layout, commit_ids: list[str], runs: int,
                  rng: random.Random) -> None:
    """`runs` runs through the library's write path, then one compaction."""
    from bathos import Catalog
    from bathos.catalog import store
    from bathos.config import catalog_dir
    from bathos.hashing import hash_bytes
    from bathos.ids import new_run_id
    from bathos.models import Dependency, Git, Host, Output, Run, unstructure

    hashes: dict[tuple[str, int], tuple[str, str, int]] = {}

    def dependency(path: str, role: str, commit: int) -> Dependency:
        key = (path, layout.version_at(path, commit))
        if key not in hashes:
            data = content(*key)
            hashes[key] = (*hash_bytes(data), len(data))
        sha256, blob, size = hashes[key]
        return Dependency(path=path, role=role, sha256=sha256, size=size, git_blob=blob)

    catalog = catalog_dir()
    commits = len(commit_ids)
    host = Host(hostname="bench-node", user="bench", pid=1)
    written: list[str] = []
    for commit, script, size in sweeps(runs, commits, layout, rng):
        deps = (dependency(script, "script", commit),
                *(dependency(m, "module", commit) for m in sorted(layout.imports[script])),
                dependency(DATA_FILE, "input", commit))
        for seed in range(size):
            started = START + dt.timedelta(seconds=commit * COMMIT_GAP_S + 60 + 5 * seed)
            run_id = new_run_id(int(started.timestamp() * 1000))
            parent = rng.choice(written) if written and rng.random() < DERIVED_SHARE else None
            result = f"result of {run_id}\n".encode()
            output = Output(path=f"outputs/{run_id}/result.csv", size=len(result),
                            sha256="sha256:" + hashlib.sha256(result).hexdigest())
            run = Run(
                id=run_id, project="bench", started_at=started, updated_at=started,
                status="completed", script=script, argv=("--seed", str(seed)),
                params={"seed": str(seed)}, cwd=str(repo), ended_at=started, duration_s=1.0,
                exit_code=0, host=host,
                git=Git(repo_root=str(repo), commit=commit_ids[commit], branch="main"),
                dependencies=deps, outputs=(output,), parent_run_id=parent,
            )
            store.write_record(catalog, unstructure(run), durable=False)
            if parent is not None:  # a parent's output is on disk, as its child read it
                (repo / "outputs" / parent).mkdir(parents=True, exist_ok=True)
                (repo / "outputs" / parent / "result.csv").write_text(f"result of {parent}\n")
            written.append(run_id)
    Catalog(catalog).compact()


def time_process(argv: list[str], cwd: Path, repeat: int) -> tuple[float, list[float], str]:
    """Median wall time of `repeat` runs after one untimed warm-up; the warm-up's stdout."""
    warm = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)
    if warm.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(argv)} exited {warm.returncode}:\n{warm.stderr}")
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       check=False)
        times.append(time.perf_counter() - start)
    return statistics.median(times), times, warm.stdout


def profile_check(top: int = 25) -> None:
    import bathos

    profiler = cProfile.Profile()
    profiler.enable()
    bathos.Catalog().check(all_projects=True)
    profiler.disable()
    stats = pstats.Stats(profiler, stream=sys.stdout)
    stats.sort_stats("cumulative").print_stats(top)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--commits", type=int, default=2_000)
    parser.add_argument("--files", type=int, default=2_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", type=Path, help="Build here and keep it (default: a temp dir).")
    parser.add_argument("--profile", action="store_true", help="cProfile one in-process check.")
    args = parser.parse_args(argv)

    scratch = args.keep or Path(tempfile.mkdtemp(prefix="bth-bench-check-"))
    scratch.mkdir(parents=True, exist_ok=True)
    os.environ["BTH_HOME"] = str(scratch / "home")
    os.environ.pop("BTH_CATALOG_DIR", None)
    repo = scratch / "repo"
    rng = random.Random(args.seed)
    try:
        t0 = time.perf_counter()
        layout = Layout(args.files, args.commits, rng)
        commit_ids = write_repository(repo, layout)
        t1 = time.perf_counter()
        write_catalog(repo, layout, commit_ids, args.runs, rng)
        from bathos.projects import register

        register("bench", repo)
        t2 = time.perf_counter()
        print(f"built a repository of {len(commit_ids):,} commits and {len(layout.paths):,} "
              f"files in {t1 - t0:.1f} s, and a catalog of {args.runs:,} runs in {t2 - t1:.1f} s "
              f"(under {scratch})", flush=True)

        bth = [sys.executable, "-m", "bathos_cli", "check", "--all-projects"]
        text, text_times, _ = time_process(bth, repo, args.repeat)
        as_json, json_times, out = time_process([*bth, "--json"], repo, args.repeat)
        python, _, _ = time_process([sys.executable, "-c", "pass"], repo, args.repeat)
        counts = Counter(v["verdict"] for v in json.loads(out))
        at_target_size = (args.runs, args.commits) == (10_000, 2_000)
        for label, median, times in [("bth check --all-projects", text, text_times),
                                     ("bth check --all-projects --json", as_json, json_times)]:
            verdict = ("PASS" if median <= TARGET_S else "MISS") if at_target_size \
                else "applies to 10,000 runs and 2,000 commits"
            print(f"  {label}: median {median:.2f} s (min {min(times):.2f}, max {max(times):.2f};"
                  f" target <= {TARGET_S:.0f} s: {verdict})")
        print(f"  python -c pass: {python * 1000:.0f} ms (interpreter start-up, for reference)")
        print(f"  verdicts of {sum(counts.values()):,} runs: "
              + ", ".join(f"{counts[k]:,} {k}" for k in sorted(counts)))
        if args.profile:
            profile_check()
    finally:
        if args.keep is None:
            shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmarks of the bathos catalog at scale and of start-up, as whole-process wall times.

    python benchmarks/bench_catalog.py [--runs 1000000] [--repeat 7] [--skip-big]

Every figure is what a user waits for: the wall time of a fresh interpreter (subprocess), median of
--repeat runs after one untimed warm-up, printed beside its target with PASS or MISS. Nothing is
asserted; timings depend on the machine, so the interpreter's own start-up (`python -c pass`) is
printed too.

    bth ls --since 7d -n 50 --all-projects        on a catalog of --runs runs      target <= 300 ms
        (and with --columns id,name,tags,params.lr,results.loss: typed params and results)
    bth find --host '*' -n 50 --all-projects (answered by DuckDB, not the kept rows)   <= 500 ms
    bth sql "SELECT project, status, count(*), avg(duration_s) FROM runs GROUP BY ALL"  <= 500 ms
    1,000 concurrent writer processes, each `bathos.Catalog().write(run)` (benchmarks/writer.py),
        forked by one lean interpreter and released together (the catalog's write path; median
        of --repeat rounds, >= 300 runs/s), and once started at once as fresh interpreters (what
        1,000 array tasks on one 2-core machine pay end to end, interpreter start-up included;
        `python -c pass` x 1,000 is printed as its ceiling); runs/s from release (or first
        start) to the last exit, and whether every run landed exactly once
    bth compact of 10,000 fragments (written with store.write_record)
    bytes per run of the compacted catalog (runs/**/*.parquet / runs)              <= 1.5 KB
    bth --help (<= 120 ms), python -c "import bathos" (<= 80 ms), python -c pass (reference),
        and `import bathos; bathos.Catalog` (every public name loaded: what `import bathos` would
        cost, and `bth run` pay, if the names were not loaded on first use)

The large catalog is built once with make_catalog.py under benchmarks/.cache/ (its own BTH_HOME)
and reused while it is recent enough for `--since 7d` to mean the same thing. Every other catalog
is a scratch directory under a temporary directory; ~/.bth is never read or written (every child
process gets BTH_HOME and BTH_CATALOG_DIR pointing at a scratch catalog). Children import from
cached bytecode as on a user's machine (PYTHONDONTWRITEBYTECODE is dropped for them). Anything else
running on the machine skews the figures, so each section prints the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import make_catalog  # noqa: E402  (the generator lives beside this script)

SECTIONS = ("startup", "big", "compaction", "writers")
LS_ARGS = ["ls", "--since", "7d", "-n", "50", "--all-projects"]
LS_COLUMNS = ["--columns", "id,name,tags,params.lr,results.loss"]
# A listing DuckDB answers (kept rows cannot judge a host glob), outcomes read for its runs alone.
FIND_ARGS = ["find", "--host", "*", "-n", "50", "--all-projects"]
SQL_QUERY = "SELECT project, status, count(*), avg(duration_s) FROM runs GROUP BY ALL"
# The cached catalog is rebuilt once its newest runs are older than this (then `--since 7d` would
# hold fewer than 4 of the 7 days it held when built).
CACHE_MAX_AGE_S = 3 * 86400


class Results:
    """The figures measured so far, printed as a table at the end."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str, str]] = []

    def add(self, name: str, shown: str, target: str = "", ok: bool | None = None,
            failed: bool = False) -> None:
        verdict = "FAILED" if failed else "" if ok is None else ("PASS" if ok else "MISS")
        self.rows.append((name, shown, target, verdict))
        print(f"  => {name}: {shown}" + (f"   (target {target}: {verdict})" if target else ""),
              flush=True)

    def table(self) -> str:
        header = ("measure", "figure", "target", "")
        widths = [max(len(r[i]) for r in [header, *self.rows]) for i in range(4)]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
                 for r in [header, *self.rows]]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(lines)


def bth_command() -> list[str]:
    """The `bth` console script of this interpreter's environment (or `python -m bathos_cli`)."""
    beside = Path(sys.executable).with_name("bth")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("bth")
    return [found] if found else [sys.executable, "-m", "bathos_cli"]


def scratch_env(home: Path) -> dict[str, str]:
    """The environment of every child: its own BTH_HOME and catalog, no colour."""
    env = dict(os.environ)
    env.update(BTH_HOME=str(home), BTH_CATALOG_DIR=str(home / "catalog"), NO_COLOR="1")
    env.pop("BTH_COMPACT_THRESHOLD", None)
    # Time what a user's machine does: import from cached bytecode (refreshed by the warm-up).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def load() -> str:
    """The load average, and how many processes run right now (the load average lags)."""
    one, five, _ = os.getloadavg()
    try:
        running = int(Path("/proc/loadavg").read_text().split()[3].split("/")[0]) - 1
    except (OSError, ValueError, IndexError):
        return f"load average {one:.2f} (1 min), {five:.2f} (5 min)"
    return (f"load average {one:.2f} (1 min), {five:.2f} (5 min), {running} other process(es) "
            "running")


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms"


def time_process(cmd: Sequence[str], env: dict[str, str], cwd: Path, repeat: int,
                 label: str) -> tuple[float, subprocess.CompletedProcess[str]]:
    """Median wall time of `cmd` as a fresh process, after one untimed warm-up.

    A command that fails is still timed (so the run goes on), but its figure is marked FAILED.
    """
    warm = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    if warm.returncode != 0:
        print(f"  {label}: FAILED, exit {warm.returncode}: {warm.stderr.strip()[-500:]}",
              file=sys.stderr, flush=True)
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run(cmd, env=env, cwd=cwd, capture_output=True)
        times.append(time.perf_counter() - t0)
    median = statistics.median(times)
    print(f"  {label}: median {ms(median)} (min {ms(min(times))}, max {ms(max(times))}, "
          f"n={repeat})", flush=True)
    return median, warm


def bench_startup(results: Results, scratch: Path, repeat: int) -> None:
    print(f"\nStart-up; {load()}", flush=True)
    env = scratch_env(scratch / "home-startup")
    py = sys.executable
    base, _ = time_process([py, "-c", "pass"], env, scratch, repeat, "python -c pass")
    imp, imp_out = time_process([py, "-c", "import bathos"], env, scratch, repeat,
                                'python -c "import bathos"')
    every, every_out = time_process([py, "-c", "import bathos; bathos.Catalog"], env, scratch,
                                    repeat, "every public name loaded")
    hlp, hlp_out = time_process([*bth_command(), "--help"], env, scratch, repeat, "bth --help")
    results.add("python -c pass (reference)", ms(base))
    results.add('python -c "import bathos"', ms(imp), "<= 80 ms", imp <= 0.080,
                failed=imp_out.returncode != 0)
    # What `import bathos` would cost without bathos/_api.py loading on first use; `bth run`,
    # which imports only the modules it needs, would pay the difference on every run.
    results.add('python -c "import bathos; bathos.Catalog"', ms(every),
                failed=every_out.returncode != 0)
    results.add("bth --help", ms(hlp), "<= 120 ms", hlp <= 0.120, failed=hlp_out.returncode != 0)


def _start_all(argvs: list[list[str]], env: dict[str, str],
               cwd: Path) -> tuple[float, float, int]:
    """Start every process at once, wait for all; wall seconds, CPU seconds, how many failed."""
    cpu0 = children_cpu()
    t0 = time.perf_counter()
    procs = [subprocess.Popen(a, env=env, cwd=cwd, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE) for a in argvs]
    codes = [p.wait() for p in procs]
    wall = time.perf_counter() - t0
    cpu = children_cpu() - cpu0
    for p in procs:
        err = p.stderr.read().decode(errors="replace").strip() if p.stderr else ""
        if p.returncode and err:
            print(f"  a writer failed: {err.splitlines()[-1]}", file=sys.stderr)
            break
    for p in procs:
        if p.stderr:
            p.stderr.close()
    return wall, cpu, sum(1 for c in codes if c != 0)


def _fork_all(writers: int, env: dict[str, str],
              cwd: Path) -> tuple[float, float, int]:
    """Writers forked by one lean interpreter (writer.py --fork), not by this one: forking a
    process that has DuckDB and polars loaded would time the fork, not the catalog."""
    done = subprocess.run([sys.executable, str(HERE / "writer.py"), "--fork", str(writers)],
                          env=env, cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        print(f"  the forking writer failed: {done.stderr.strip()[-500:]}", file=sys.stderr)
        return float("inf"), 0.0, writers
    figures = json.loads(done.stdout)
    return figures["wall"], figures["cpu"], int(figures["failed"])


def _count_landed(catalog: Path, writers: int) -> tuple[int, int]:
    """Runs and distinct ids the library reads back (-1, -1 if it cannot)."""
    from bathos import Catalog

    os.environ["BTH_COMPACT_THRESHOLD"] = str(10 * writers)  # count what landed, as it landed
    try:
        [(total, distinct)] = Catalog(catalog).sql(
            "select count(*), count(distinct id) from runs").tuples()
    except Exception as exc:  # the library failing to read is a finding, not a crash
        print(f"  counting runs through the library failed: {exc}", file=sys.stderr)
        return -1, -1
    finally:
        os.environ.pop("BTH_COMPACT_THRESHOLD", None)
    return total, distinct


def bench_writers(results: Results, scratch: Path, writers: int, repeat: int) -> None:
    print(f"\n{writers:,} concurrent writers; {load()}", flush=True)
    env = scratch_env(scratch / "home-writers-pass")
    wall_pass, cpu_pass, _ = _start_all([[sys.executable, "-c", "pass"] for _ in range(writers)],
                                        env, scratch)
    print(f"  reference: {writers:,} x `python -c pass` started at once: {wall_pass:.2f}s "
          f"({writers / wall_pass:,.0f} processes/s, {cpu_pass / writers * 1000:.0f} ms CPU each)",
          flush=True)
    script = str(HERE / "writer.py")
    # Forked rounds are cheap, so their figure is a median like the others; one fresh round
    # takes over a minute.
    rounds = [("forked", n) for n in range(repeat)] + [("fresh", 0)]
    rates: dict[str, list[float]] = {"forked": [], "fresh": []}
    landed_ok = {"forked": True, "fresh": True}
    cpu_each = {}
    for kind, n in rounds:
        home = scratch / f"home-writers-{kind}-{n}"
        if kind == "forked":
            wall, cpu, failed = _fork_all(writers, scratch_env(home), scratch)
        else:
            wall, cpu, failed = _start_all([[sys.executable, script, str(i)]
                                           for i in range(writers)], scratch_env(home), scratch)
        total, distinct = _count_landed(home / "catalog", writers)
        rates[kind].append(writers / wall)
        cpu_each[kind] = cpu / writers * 1000
        landed_ok[kind] &= total == distinct == writers and failed == 0
        print(f"  {kind}: {writers:,} writers in {wall:.2f}s ({cpu_each[kind]:.0f} ms CPU each, "
              f"{os.cpu_count()} CPUs); {failed} exited non-zero; the catalog counts {total:,} "
              f"runs, {distinct:,} distinct ids", flush=True)
    forked = statistics.median(rates["forked"])
    results.add(f"{writers:,} concurrent writers (forked: catalog write path)",
                f"{forked:,.0f} runs/s (median of {repeat}; {min(rates['forked']):,.0f}-"
                f"{max(rates['forked']):,.0f})", ">= 300 runs/s", forked >= 300)
    results.add("  ...every round: each run landed once", "yes" if landed_ok["forked"] else "NO",
                "yes", landed_ok["forked"])
    results.add(f"{writers:,} concurrent writers (fresh interpreters, end to end)",
                f"{rates['fresh'][0]:,.0f} runs/s ({cpu_each['fresh']:.0f} ms CPU each)")
    results.add("  ...each run landed once", "yes" if landed_ok["fresh"] else "NO", "yes",
                landed_ok["fresh"])
    results.add(f"  reference: {writers:,} x python -c pass", f"{writers / wall_pass:,.0f} /s "
                f"({wall_pass:.1f} s, {cpu_pass / writers * 1000:.0f} ms CPU each)")


def bench_compaction(results: Results, scratch: Path, fragments: int, rounds: int) -> None:
    print(f"\nCompaction of {fragments:,} fragments; {load()}", flush=True)
    from bathos.catalog import store

    end = time.time()
    start = end - 90 * make_catalog.DAY
    make_catalog._init_worker(5, 1, start, end, str(scratch))
    records = make_catalog.make_records(0, fragments, start, end)
    times = []
    for r in range(rounds):
        home = scratch / f"home-compact-{r}"
        catalog = home / "catalog"
        for record in records:
            store.write_record(catalog, record, durable=False)
        t0 = time.perf_counter()
        done = subprocess.run([*bth_command(), "compact"], env=scratch_env(home), cwd=scratch,
                              capture_output=True, text=True)
        times.append(time.perf_counter() - t0)
        left, segs, _ = make_catalog.catalog_file_counts(catalog)
        print(f"  round {r + 1}: {times[-1]:.2f}s, exit {done.returncode}: "
              f"{done.stderr.strip().splitlines()[-1] if done.stderr.strip() else ''} "
              f"({left} fragments left, {segs} segments)", flush=True)
        shutil.rmtree(home)
    median = statistics.median(times)
    results.add(f"bth compact, {fragments:,} fragments", f"{median:.2f} s "
                f"({median / fragments * 1e6:,.0f} us/run)")


def ensure_big_catalog(cache: Path, runs: int, rebuild: bool) -> tuple[Path, dict[str, Any]]:
    """The cached catalog of `runs` runs (BTH_HOME), built with make_catalog.py when missing."""
    home = cache / f"catalog-{runs}"
    meta_path = home / "meta.json"
    meta: dict[str, Any] = {}
    if meta_path.exists():
        meta = json.loads(meta_path.read_text())
    age = time.time() - meta.get("built_at", 0)
    fresh = (meta.get("runs") == runs and age < CACHE_MAX_AGE_S
             and meta.get("generator_version") == make_catalog.GENERATOR_VERSION
             and meta.get("layout") == make_catalog.layout())
    if fresh and not rebuild:
        print(f"  reusing {home} (built {age / 3600:.1f} h ago in {meta['seconds']:.0f}s)")
        return home, meta
    if meta:
        print(f"  the cached catalog is outdated (built {age / 3600:.1f} h ago, generator "
              f"{meta.get('generator_version')}, layout {meta.get('layout')}; now "
              f"{make_catalog.GENERATOR_VERSION}, {make_catalog.layout()})")
    if home.exists():
        shutil.rmtree(home)  # ours: a stale, outdated or half-built cache
    home.mkdir(parents=True)
    print(f"  building {runs:,} runs in {home} with make_catalog.py ...", flush=True)
    tmp_meta = home / "meta.json.tmp"
    t0 = time.perf_counter()
    subprocess.run([sys.executable, str(HERE / "make_catalog.py"), "--runs", str(runs),
                    "--meta", str(tmp_meta)], env=scratch_env(home), cwd=home, check=True)
    print(f"  built in {time.perf_counter() - t0:.0f}s", flush=True)
    tmp_meta.rename(meta_path)
    return home, json.loads(meta_path.read_text())


def bench_big(results: Results, scratch: Path, home: Path, meta: dict[str, Any], runs: int,
              repeat: int) -> None:
    print(f"\nCatalog of {runs:,} runs; {load()}", flush=True)
    env = scratch_env(home)
    catalog = home / "catalog"
    ls_s, ls_out = time_process([*bth_command(), *LS_ARGS], env, scratch, repeat,
                                "bth " + " ".join(LS_ARGS))
    ls_failed = ls_out.returncode != 0
    print(f"    (printed {len(ls_out.stdout.splitlines()) - 1} runs)")
    typed_s, typed_out = time_process([*bth_command(), *LS_ARGS, *LS_COLUMNS], env, scratch,
                                      repeat, "bth ls ... " + " ".join(LS_COLUMNS))
    find_s, find_out = time_process([*bth_command(), *FIND_ARGS], env, scratch, repeat,
                                    "bth " + " ".join(FIND_ARGS))
    sql_s, sql_out = time_process([*bth_command(), "sql", SQL_QUERY], env, scratch, repeat,
                                  "bth sql GROUP BY ALL")
    print(f"    (printed {len(sql_out.stdout.splitlines()) - 1} groups)")
    sql_failed = sql_out.returncode != 0
    size = sum(p.stat().st_size for p in (catalog / "runs").rglob("*.parquet"))
    fragments, segs, _ = make_catalog.catalog_file_counts(catalog)
    from bathos import Catalog

    try:
        counted = Catalog(catalog).sql("select count(*) from runs").tuples()[0][0]
    except Exception as exc:  # report it and go on: the figures above still stand
        print(f"  counting runs through the library failed: {exc}", file=sys.stderr)
        counted = meta["runs"]
    print(f"  {counted:,} runs in {segs} segments ({fragments} fragments), {size:,} bytes of "
          f"Parquet; the build took {meta['seconds']:.0f}s", flush=True)
    results.add(f"bth ls --since 7d -n 50, {runs:,} runs", ms(ls_s), "<= 300 ms", ls_s <= 0.300,
                failed=ls_failed)
    results.add(f"bth ls --since 7d -n 50 --columns (params, results), {runs:,} runs",
                ms(typed_s), "<= 300 ms", typed_s <= 0.300, failed=typed_out.returncode != 0)
    results.add(f"bth find --host '*' -n 50, {runs:,} runs", ms(find_s), "<= 500 ms",
                find_s <= 0.500, failed=find_out.returncode != 0)
    results.add(f"bth sql GROUP BY ALL, {runs:,} runs", ms(sql_s), "<= 500 ms", sql_s <= 0.500,
                failed=sql_failed)
    per_run = size / counted
    results.add("bytes per run after compaction", f"{per_run:,.0f} B", "<= 1.5 KB (1536 B)",
                per_run <= 1536)
    results.add(f"  (building {runs:,} runs with make_catalog.py)", f"{meta['seconds']:.0f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=1_000_000,
                        help="runs in the large catalog (1000000)")
    parser.add_argument("--repeat", type=int, default=7, help="timed runs per command (7)")
    parser.add_argument("--skip-big", action="store_true",
                        help="skip the large-catalog figures (ls, sql, bytes per run)")
    parser.add_argument("--writers", type=int, default=1000, help="concurrent writers (1000)")
    parser.add_argument("--fragments", type=int, default=10_000,
                        help="fragments for the compaction figure (10000)")
    parser.add_argument("--compact-rounds", type=int, default=3,
                        help="compactions timed (each on fresh fragments) (3)")
    parser.add_argument("--cache-dir", type=Path, default=HERE / ".cache",
                        help="where the large catalog is kept between runs (benchmarks/.cache)")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the large catalog")
    parser.add_argument("--sections", default=",".join(SECTIONS),
                        help=f"which to run, comma-separated (default: {','.join(SECTIONS)})")
    args = parser.parse_args(argv)
    if min(args.runs, args.repeat, args.writers, args.fragments, args.compact_rounds) < 1:
        parser.error("counts must be positive")
    sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    if unknown := sorted(set(sections) - set(SECTIONS)):
        parser.error(f"unknown section {', '.join(unknown)} (choose from {', '.join(SECTIONS)})")
    if args.skip_big and "big" in sections:
        sections.remove("big")

    import duckdb

    import bathos

    print(f"bathos {bathos.__version__}, Python {platform.python_version()}, DuckDB "
          f"{duckdb.__version__}, {os.cpu_count()} CPUs, {platform.platform()}; bth = "
          f"{' '.join(bth_command())}")
    results = Results()
    big = None
    if "big" in sections:  # built (or found) first, so the timed part runs in one stretch
        print(f"\nCatalog of {args.runs:,} runs", flush=True)
        big = ensure_big_catalog(args.cache_dir, args.runs, args.rebuild)
    with tempfile.TemporaryDirectory(prefix="bth-bench-") as tmp:
        scratch = Path(tmp)
        steps = {
            "startup": lambda: bench_startup(results, scratch, args.repeat),
            "big": lambda: bench_big(results, scratch, big[0], big[1], args.runs, args.repeat)
            if big else None,
            "compaction": lambda: bench_compaction(results, scratch, args.fragments,
                                                   args.compact_rounds),
            "writers": lambda: bench_writers(results, scratch, args.writers, args.repeat),
        }
        # Writers last: a thousand processes leave the load average high for a minute.
        for name in [s for s in SECTIONS if s in sections and (s != "big" or big)]:
            try:
                steps[name]()
            except Exception as exc:  # one broken section must not hide the others' figures
                print(f"  section {name} failed: {exc!r}", file=sys.stderr, flush=True)
                results.add(f"section {name}", f"error: {str(exc).splitlines()[0][:60]}",
                            failed=True)
    print(f"\n{results.table()}\n({load()} at the end)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

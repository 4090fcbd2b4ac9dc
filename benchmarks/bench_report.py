"""Benchmark of `bth report`: how big the one HTML file is, and how long writing it takes, for
catalogs of 1,000 and 10,000 runs.

    python benchmarks/bench_report.py [--runs 1000 10000] [--keep DIR]

For each size, builds a synthetic catalog with `benchmarks/make_catalog.py` (5 projects, in a
temporary BTH_HOME: ~/.bth is never read or written), then times `bth report --all-projects` as a
whole process and prints the file's size, its bytes per run, and how long it took. The report
holds the runs table of every run and a page for each of the newest 20 (their logs' blobs are not
written by make_catalog, so those pages say so: real logs add up to 2 × 8 KB of tail per page).
The synthetic projects' repositories do not exist, so no run's freshness is judged. With
Debian's chromium, chromium-driver and selenium installed, it also opens each report in headless
Chromium and times how long the runs table takes to show its first page, to sort by a column and
to filter by a text (the page's own script over every run; the filter's time includes the
0.12 s it waits for typing to pause). Nothing is asserted: sizes depend on
the runs' params and results, timings on the machine.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def measure(runs: int, home: Path) -> tuple[int, float]:
    """The report's size in bytes and the seconds `bth report` took, over a new catalog."""
    env = {**os.environ, "BTH_HOME": str(home)}
    env.pop("BTH_CATALOG_DIR", None)
    subprocess.run([sys.executable, str(HERE / "make_catalog.py"), "--runs", str(runs)],
                   env=env, check=True, stdout=subprocess.DEVNULL)
    out = home / "report.html"
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "bathos_cli", "report", "--all-projects", "-o",
                    str(out)], env=env, check=True, cwd=home, stderr=subprocess.DEVNULL)
    return out.stat().st_size, time.perf_counter() - start


def browse(path: Path, profile: Path) -> tuple[float, float, float] | None:
    """Seconds to show the table, sort it and filter it in headless Chromium (None without)."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        return None
    if not (Path("/usr/bin/chromium").exists() and Path("/usr/bin/chromedriver").exists()):
        return None
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))
    shown = "return document.querySelectorAll('table.runs tbody tr').length"
    try:
        start = time.perf_counter()
        driver.get(path.as_uri())
        while not driver.execute_script(shown):
            time.sleep(0.01)
        loaded = time.perf_counter() - start
        sort = driver.execute_script(
            "const t = performance.now(); document.querySelector(\"th[data-col='script']\")"
            ".click(); return (performance.now() - t) / 1000")
        start = time.perf_counter()
        driver.execute_script(
            "const i = document.querySelector(\"input.filter[data-col='status']\");"
            "i.value = 'fail'; i.dispatchEvent(new Event('input'))")
        while "matching" not in driver.execute_script(
                "return document.querySelector('.status').textContent"):
            time.sleep(0.005)
        filtered = time.perf_counter() - start
        return loaded, float(sort), float(filtered)
    finally:
        driver.quit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, nargs="+", default=[1_000, 10_000])
    parser.add_argument("--keep", type=Path, help="build the catalogs under DIR and keep them")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-report-") as scratch:
        root = args.keep or Path(scratch)
        print(f"{'runs':>8}  {'report':>9}  {'per run':>8}  {'written in':>10}  "
              "browser: shown, sorted, filtered")
        for runs in args.runs:
            home = root / f"home-{runs}"
            home.mkdir(parents=True, exist_ok=True)
            size, seconds = measure(runs, home)
            times = browse(home / "report.html", home / "profile")
            seen = ("  ".join(f"{t:.2f}s" for t in times) if times
                    else "(no chromium or selenium)")
            print(f"{runs:>8,}  {size / 1e6:>7.2f}MB  {size / runs:>7,.0f}B  {seconds:>9.1f}s  "
                  f"{seen}")


if __name__ == "__main__":
    main()

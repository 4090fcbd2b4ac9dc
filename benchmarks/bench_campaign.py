"""What a campaign costs as it grows: the check `bth run --campaign` makes before it starts, the
full fold of its events, and `Catalog.campaigns()` (a DuckDB read), for campaigns of
`--sizes` runs (one add event each, as parallel `bth run --campaign` jobs write them).

    python benchmarks/bench_campaign.py [--sizes 10,1000,10000] [--repeat 11]

The check reads only the events whose names say they decide the status, so it should stay
flat (a directory listing) however many runs the campaign has; the fold reads every event.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def median_ms(work: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,1000,10000")
    parser.add_argument("--repeat", type=int, default=11)
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="bth-bench-campaign-"))
    os.environ["BTH_HOME"] = str(scratch)
    try:
        from bathos import Catalog, campaigns
        from bathos.ids import new_run_id

        catalog = Catalog(scratch / "catalog")
        for size in (int(s) for s in args.sizes.split(",")):
            name = f"c{size}"
            catalog.create_campaign(name, project="bench", hypothesis="h")
            for _ in range(size):
                campaigns.append_event(catalog.path, "bench", name, "add", runs=[new_run_id()])
            check = median_ms(lambda n=name: campaigns.check_open(catalog.path, n), args.repeat)
            fold = median_ms(lambda n=name: campaigns.load(catalog.path, n), args.repeat)
            listed = median_ms(catalog.campaigns, max(3, args.repeat // 4))
            print(f"campaign of {size:>6,} runs: bth run's check {check:7.2f} ms, full fold "
                  f"{fold:8.1f} ms, Catalog.campaigns() (every campaign so far) {listed:8.1f} ms")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

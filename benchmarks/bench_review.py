"""What a campaign review costs: importing scipy (paid once, by `bth campaign review` alone), and
`review_runs` on frames of `--sizes` completed runs in 4 arms with 3 metrics each (the bootstrap
of each median dominates).

    python benchmarks/bench_review.py [--sizes 20,200,2000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="20,200,2000")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    imported = subprocess.run(
        [sys.executable, "-c", "import time; t = time.perf_counter(); import scipy.stats; "
         "print(time.perf_counter() - t)"], capture_output=True, text=True, check=True)
    print(f"import scipy.stats: {float(imported.stdout) * 1000:.0f} ms (a fresh process)")

    import numpy as np
    import polars as pl

    from bathos.review import review_runs

    rng = np.random.default_rng(0)
    for size in (int(s) for s in args.sizes.split(",")):
        frame = pl.DataFrame([
            {"id": f"r{n}", "status": "completed", "script": "train.py",
             "params": {"lr": [0.001, 0.01, 0.1, 1.0][n % 4], "seed": n},
             "results": {"loss": rng.normal(0.5, 0.05), "acc": rng.normal(0.8, 0.02),
                         "time": rng.normal(60, 5)},
             "hostname": f"node{n % 8}", "commit": "a" * 40, "duration_s": rng.normal(60, 5)}
            for n in range(size)])
        times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            review_runs(frame)
            times.append(time.perf_counter() - start)
        print(f"review_runs, {size:>5} runs: {statistics.median(times) * 1000:7.0f} ms "
              f"(median of {args.repeat})")
    return 0


if __name__ == "__main__":
    sys.exit(main())

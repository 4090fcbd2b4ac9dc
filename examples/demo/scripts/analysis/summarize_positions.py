"""Summarise a simulation's CSV into a small JSON report.

    bth run scripts/analysis/summarize_positions.py -- --data outputs/sim.csv --out outputs/summary.json
"""

import argparse
import csv
import json
import statistics
from pathlib import Path

import bth

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--data", type=Path, required=True)
parser.add_argument("--out", type=Path, required=True)
args = parser.parse_args()

with args.data.open() as fh:
    positions = [float(row["position"]) for row in csv.DictReader(fh)]
summary = {
    "walkers": len(positions),
    "median": statistics.median(positions),
    "max_abs": max(abs(p) for p in positions),
}
args.out.write_text(json.dumps(summary, indent=2))
bth.log(**summary)
print(f"summary of {len(positions)} walkers written to {args.out}")

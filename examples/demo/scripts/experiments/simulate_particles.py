"""Simulate damped random walkers and write their final positions as CSV.

    bth run scripts/experiments/simulate_particles.py -- --n-steps 500 --seed 1 --out outputs/sim.csv
"""

import argparse
import csv
import random
import statistics
from pathlib import Path

import bth
from sim.physics import step  # the project's own package: `bth run` puts the root on sys.path


@bth.experiment(name="simulate_particles", tags=["demo", "simulation"])
def main(n_steps: int, seed: int, out: Path, walkers: int = 200) -> dict[str, float]:
    rng = random.Random(seed)
    positions, velocities = [0.0] * walkers, [0.0] * walkers
    for t in range(1, n_steps + 1):
        for w in range(walkers):
            positions[w], velocities[w] = step(positions[w], velocities[w], rng)
        if t % 30 == 0:
            bth.log(step=t, spread=statistics.pstdev(positions))  # a point of its history
    finals = positions
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["walker", "position"])
        writer.writerows(enumerate(finals))
    spread = statistics.pstdev(finals)
    print(f"simulated {walkers} walkers for {n_steps} steps: spread {spread:.4f}")
    return {"spread": round(spread, 6), "mean": round(statistics.fmean(finals), 6)}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n-steps", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    main(args.n_steps, args.seed, args.out)

"""A fit that diverges: the demo's failing run."""

import argparse
import math

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--learning-rate", type=float, default=10.0)
args = parser.parse_args()

weight = 1.0
for epoch in range(5):
    weight -= args.learning_rate * 2 * weight
    print(f"epoch {epoch}: weight {weight:.3g}")
    if not math.isfinite(weight) or abs(weight) > 1e3:
        raise FloatingPointError(f"diverged at epoch {epoch} (learning rate too high)")

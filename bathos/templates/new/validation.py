"""$name: TODO say in a line what property this validation checks.

    bth run scripts/validation/$name.py -- --refinements 10
"""

import math

import bth
$imports

@bth.experiment(name="$name", tags=["validation"])
def main(refinements: int = 10) -> dict[str, float]:
    # TODO: replace this toy check (Simpson's rule on the integral of sin over [0, pi], which is
    # exactly 2) with the property you validate.
    error = float("inf")
    for level in range(1, refinements + 1):
        n = 2 ** level
        h = math.pi / n
        total = math.sin(0) + math.sin(math.pi) + sum(
            (4 if i % 2 else 2) * math.sin(i * h) for i in range(1, n))
        error = abs(total * h / 3 - 2.0)
        bth.log(step=level, error=error)  # a point of the run's metric history
    # The run's results: its sidecar's outcomes are judged on them.
    return {"max_error": error, "intervals": 2 ** refinements}
$main

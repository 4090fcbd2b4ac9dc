"""$name: TODO say in a line what this experiment asks.

    bth run scripts/experiments/$name.py -- --n-steps 200
"""

import bth
$imports

@bth.experiment(name="$name", tags=["experiment"])
def main(n_steps: int = 200, learning_rate: float = 0.1) -> dict[str, float]:
    # TODO: replace this toy fit (the slope of y = 3x, by gradient descent) with your experiment.
    xs = [i / 10 for i in range(1, 11)]
    weight, loss = 0.0, float("inf")
    for step in range(n_steps):
        weight -= learning_rate * sum(2 * (weight - 3) * x * x for x in xs) / len(xs)
        loss = sum(((weight - 3) * x) ** 2 for x in xs) / len(xs)
        bth.log(step=step, loss=loss)  # a point of the run's metric history
    # The run's results: its sidecar's outcomes are judged on them.
    return {"final_loss": loss, "slope": weight}
$main

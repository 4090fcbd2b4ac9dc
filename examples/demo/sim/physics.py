"""Physics of the demo simulation: a damped random walk."""

import random

DAMPING = 0.95


def step(position: float, velocity: float, rng: random.Random) -> tuple[float, float]:
    velocity = DAMPING * velocity + rng.gauss(0.0, 1.0)
    return position + 0.01 * velocity, velocity

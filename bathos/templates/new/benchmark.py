"""$name: TODO say in a line what this benchmark measures.

    bth run scripts/benchmarks/$name.py -- --repeats 20
"""

import statistics
import time

import bth
$imports

@bth.experiment(name="$name", tags=["benchmark"])
def main(repeats: int = 20, size: int = 100_000) -> dict[str, float]:
    # TODO: replace this toy workload (sorting a shuffled list) with the code you measure.
    data = [(i * 7919) % size for i in range(size)]
    times = []
    for repeat in range(repeats):
        start = time.perf_counter()
        sorted(data)
        times.append(time.perf_counter() - start)
        bth.log(step=repeat, seconds=times[-1])  # a point of the run's metric history
    # The run's results: its sidecar's outcomes are judged on them.
    return {"seconds_per_call": statistics.median(times), "calls": repeats}
$main

"""Wall time of a 100-run sweep on 1 and on 2 worker processes (benchmarks/README.md).

The scenario: one server, 10% loss on every hop; a publisher sends 1,000 JetStream messages
(2 ms apart, each waiting for its pub ack up to 0.2 s); then a worker fetches 25 batches of up
to 200 and acks each (ack_wait 0.5 s: lost deliveries and acks are redelivered; a fetch that
finds nothing waits up to 1 s, so the fetches drain the redeliveries too). The
sweep: network.loss in {0.05, 0.1} x 50 seeds = 100 runs, each checked by check_delivery.

    PYTHONPATH=. python benchmarks/sweep_speedup.py
"""

from __future__ import annotations

import time

from pmesh_sim.experiments import TIMING_COLUMNS, sweep
from pmesh_sim.scenario import Scenario

MESSAGES = 1000


def scenario() -> Scenario:
    publishes = [{"at": round(0.002 * i, 3), "op": "js_publish", "subject": f"jobs.{i}",
                  "data": f"job {i}", "timeout": 0.2} for i in range(MESSAGES)]
    fetches = [{"at": 0.5 * k, "op": "fetch", "consumer": "worker", "batch": 200,
                "timeout": 1.0} for k in range(5, 30)]
    return Scenario.from_dict({
        "name": "sweep-speedup", "network": {"loss": 0.1},
        "streams": [{"name": "JOBS", "subjects": ["jobs.*"]}],
        "consumers": [{"stream": "JOBS", "durable_name": "worker", "ack_policy": "explicit",
                       "ack_wait": 0.5, "max_deliver": 10}],
        "steps": publishes + fetches})


def main() -> None:
    grid = {"network.loss": [0.05, 0.1]}
    frames = {}
    for workers in (1, 2):
        start = time.perf_counter()
        frames[workers] = sweep(scenario(), grid, seeds=range(50), workers=workers)
        wall = time.perf_counter() - start
        runs = frames[workers]["wall_s"]
        print(f"workers={workers}: {len(runs)} runs in {wall:.2f} s wall "
              f"(a run: median {runs.median():.3f} s)")
    same = frames[1].drop(columns=list(TIMING_COLUMNS)).equals(
        frames[2].drop(columns=list(TIMING_COLUMNS)))
    print("same DataFrame on 1 and 2 workers:", same)
    df = frames[1]
    print(df.groupby("network.loss")[["valid", "lost", "duplicated", "redelivered"]].mean())


if __name__ == "__main__":
    main()

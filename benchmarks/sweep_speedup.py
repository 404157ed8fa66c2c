"""Wall time of a 100-run sweep on 1 and on 2 worker processes (benchmarks/README.md).

``single`` (default): one server, 10% loss on every hop; a publisher sends 1,000 JetStream
messages (2 ms apart, each waiting for its pub ack up to 0.2 s); then a worker fetches 25
batches of up to 200 and acks each (ack_wait 0.5 s: lost deliveries and acks are redelivered;
a fetch that finds nothing waits up to 1 s, so the fetches drain the redeliveries too). The
sweep: network.loss in {0.05, 0.1} x 50 seeds = 100 runs, each checked by check_delivery.

``r3``: pmesh_sim/examples/chaos-workers.yaml, a 3-node cluster with an R3 file stream under a
fault schedule (chaos: kills and partitions), a 600-message workload, then four crashing
workers; the sweep: steps.0.every (seconds between faults) in {6, 12} x 50 seeds = 100 runs.

    PYTHONPATH=. python benchmarks/sweep_speedup.py [single|r3]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from pmesh_sim.experiments import TIMING_COLUMNS, sweep
from pmesh_sim.scenario import Scenario, load_scenario

MESSAGES = 1000
R3 = Path(__file__).parent.parent / "pmesh_sim" / "examples" / "chaos-workers.yaml"


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


def main(which: str = "single") -> None:
    if which == "r3":
        base, grid = load_scenario(R3), {"steps.0.every": [6, 12]}
        measures = ["valid", "acknowledged", "lost", "duplicated", "processed_twice",
                    "redelivered"]
    else:
        base, grid = scenario(), {"network.loss": [0.05, 0.1]}
        measures = ["valid", "lost", "duplicated", "redelivered"]
    frames = {}
    for workers in (1, 2):
        start = time.perf_counter()
        frames[workers] = sweep(base, grid, seeds=range(50), workers=workers)
        wall = time.perf_counter() - start
        runs = frames[workers]["wall_s"]
        print(f"workers={workers}: {len(runs)} runs in {wall:.2f} s wall "
              f"(a run: median {runs.median():.3f} s)", flush=True)
    same = frames[1].drop(columns=list(TIMING_COLUMNS)).equals(
        frames[2].drop(columns=list(TIMING_COLUMNS)))
    print("same DataFrame on 1 and 2 workers:", same)
    print(frames[1].groupby(list(grid))[measures].mean().round(2).to_string())


if __name__ == "__main__":
    main(*sys.argv[1:])

"""``pmesh-sim demo``: the demo scenario, its report, and the real server's verdict on it.

The demo (``pmesh_sim/examples/demo.yaml``) tours core NATS and JetStream in two seconds: a queue
group, a request, a stream, a pull consumer and a redelivery. It runs in the simulation, its
report goes to ``--report DIR``, and when a ``nats-server`` binary is installed the same file
runs on a real server and the two results are compared.
"""

from __future__ import annotations

from pathlib import Path

from .checks import compare_results, format_differences
from .errors import PmeshError
from .report import describe, write_report
from .runners import run_scenario
from .scenario import load_scenario

__all__ = ["DEMO_SCENARIO", "demo_command"]

#: The demo scenario file shipped with the package.
DEMO_SCENARIO = Path(__file__).parent / "examples" / "demo.yaml"


def demo_command(args) -> int:
    """Run the demo on the simulation, write its report, then check it on a real server."""
    scenario = load_scenario(DEMO_SCENARIO)
    traces: list = []
    sim = run_scenario(scenario, "sim", trace_out=traces)
    out = write_report(args.report, sim, traces[0], scenario.steps)
    print(scenario.description.strip(), end="\n\n")
    print(describe(sim, scenario.steps))
    print(f"report: {out}/summary.txt, result.json, trace.jsonl ({len(traces[0])} events)")
    try:
        real = run_scenario(scenario, "real")
    except PmeshError as err:
        print(f"real server: not run ({err})")
        return 0
    diffs = compare_results(sim, real)
    if diffs:
        print("real nats-server: DISAGREES with the simulation")
        print(format_differences(diffs, scenario=scenario.name))
        return 1
    print("real nats-server: same result as the simulation")
    return 0

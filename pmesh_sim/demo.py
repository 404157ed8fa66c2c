"""``pmesh-sim demo``: the demo scenario, its HTML report, and the real server's verdict on it.

The demo (``pmesh_sim/examples/demo.yaml``) is a small web shop: e-mail jobs shared by a queue
group, orders stored in a stream, a retried order suppressed by its Nats-Msg-Id, a worker that
crashes before acking and the redelivery of its order to a second worker after ack_wait. It
runs in the simulation; when a ``nats-server`` binary is installed the same file runs on a real
server and the two results are compared; the report (``report.html`` in ``--report DIR``) shows
the story, the figures and that verdict.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from .checks import compare_results, format_differences
from .errors import PmeshError
from .report import Verdict, describe, use_file_backend, write_report
from .runners import run_scenario
from .scenario import load_scenario

__all__ = ["DEMO_SCENARIO", "demo_command"]

#: The demo scenario file shipped with the package.
DEMO_SCENARIO = Path(__file__).parent / "examples" / "demo.yaml"


def real_verdict(scenario, sim: dict) -> Verdict:
    """Run ``scenario`` on a real nats-server and compare its result with ``sim``."""
    try:
        real = run_scenario(scenario, "real")
    except PmeshError as err:
        return Verdict("not run", str(err))
    diffs = compare_results(sim, real)
    if diffs:
        return Verdict("differ", format_differences(diffs, scenario=scenario.name))
    return Verdict("agree", "Every step, subscription and the final state match.")


def demo_command(args) -> int:
    """Run the demo on the simulation and on a real server; write and name the HTML report."""
    use_file_backend()
    scenario = load_scenario(DEMO_SCENARIO)
    traces: list = []
    sim = run_scenario(scenario, "sim", trace_out=traces)
    print(textwrap.fill(scenario.description.strip(), width=96), end="\n\n")
    print(describe(sim, scenario.steps))
    verdict = real_verdict(scenario, sim)
    page = write_report(args.report, sim, traces[0], scenario, verdict=verdict)
    if verdict.status == "agree":
        print("real nats-server: same result as the simulation")
    elif verdict.status == "differ":
        print("real nats-server: DISAGREES with the simulation")
        print(verdict.detail)
    else:
        print(f"real server: not run ({verdict.detail})")
    print(f"\nreport: {page}  (open it in a browser; beside it summary.txt, result.json and "
          f"trace.jsonl with {len(traces[0])} events)")
    return 1 if verdict.status == "differ" else 0

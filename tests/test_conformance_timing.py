"""Conformance scenarios keep a margin from the real server's one known race: nats-server
applies a plain ack (ack, nak, term, in_progress) on the consumer's own goroutine, after the
client's flush returns, so a step that reads state right after it may see the state before the
ack (stream-cache-max-age-pending did, 1 real run in 12). In the simulation's timeline, no
step that reads or changes JetStream state starts within ACK_MARGIN seconds of such an ack.
"""

from pathlib import Path

import pytest

from pmesh_sim.scenario import load_scenario
from pmesh_sim.sim.runner import run_sim

FILES = sorted((Path(__file__).resolve().parent.parent / "scenarios" / "conformance").glob("*.yaml"))
ACK_MARGIN = 0.02
PLAIN_ACKS = {"ack", "nak", "term", "in_progress"}
STATE_OPS = {"consumer_info", "stream_info", "fetch", "add_consumer", "delete_consumer",
             "update_stream", "purge_stream", "delete_stream"}


def reads_right_after_a_plain_ack(path: Path) -> list[str]:
    """The steps that start less than ACK_MARGIN after a plain ack, in the simulation."""
    scenario = load_scenario(path)
    _, trace = run_sim(scenario)
    starts = {e.fields["index"]: e.time for e in trace.filter("step")}
    acks = [e.time for e in trace.filter("ack") if e.fields.get("action") in PLAIN_ACKS]
    late = []
    for step in scenario.steps:
        t = starts.get(step.index)
        if step.op in STATE_OPS and t is not None and \
                any(0 <= t - a < ACK_MARGIN for a in acks):
            late.append(f"step {step.index} ({step.op}) at {t - starts[0]:.3f} s")
    return late


def test_the_check_sees_a_read_right_after_an_ack(tmp_path):
    path = tmp_path / "race.yaml"
    path.write_text("name: race\nstreams: [{name: S, subjects: [s]}]\n"
                    "consumers: [{stream: S, durable_name: c}]\nsteps:\n"
                    "  - {op: js_publish, subject: s}\n  - {op: fetch, consumer: c}\n"
                    "  - {op: consumer_info, consumer: c}\n")
    assert reads_right_after_a_plain_ack(path) == ["step 2 (consumer_info) at 0.003 s"]


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_no_step_reads_state_right_after_a_plain_ack(path):
    assert reads_right_after_a_plain_ack(path) == []

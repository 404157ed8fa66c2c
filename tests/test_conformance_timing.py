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
#: mirrors and sources copy asynchronously (the real server's first copy about 0.15 s after
#: set-up, later ones within a millisecond): no step reads state this close after a copy
COPY_MARGIN = 0.05
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


def reads_while_copying(path: Path) -> list[str]:
    """The steps that read or change JetStream state while a mirror or source copies: between
    an origin's message (at most 0.1 s before the copy) and COPY_MARGIN after its copy (one
    stored with the same trace msg_id in another stream), in the simulation."""
    scenario = load_scenario(path)
    _, trace = run_sim(scenario)
    starts = {e.fields["index"]: e.time for e in trace.filter("step")}
    first: dict[int, tuple[str, float]] = {}
    windows = []
    for e in trace.filter("store"):
        key = e.fields.get("msg_id")
        if not key:
            continue
        if key not in first:
            first[key] = (e.fields["stream"], e.time)
        elif first[key][0] != e.fields["stream"]:
            # from the origin's store (or, for a first copy, once the set-up nears its end:
            # the step that made the source comes before) to COPY_MARGIN after the copy
            windows.append((max(first[key][1], e.time - 0.1), e.time + COPY_MARGIN))
    return [f"step {step.index} ({step.op}) at {starts[step.index] - starts[0]:.3f} s"
            for step in scenario.steps if step.op in STATE_OPS and step.index in starts
            and any(lo <= starts[step.index] <= hi for lo, hi in windows)]


SOURCING = [f for f in FILES if f.stem.startswith(("stream-mirror-", "stream-source-"))]


def test_the_copy_check_sees_a_read_while_a_source_copies(tmp_path):
    path = tmp_path / "race.yaml"
    path.write_text("name: race\nstreams: [{name: O, subjects: [o]}, {name: S, sources: "
                    "[{name: O}]}]\nsteps:\n  - {at: 0.5, op: js_publish, subject: o}\n"
                    "  - {op: stream_info, stream: S}\n")
    assert reads_while_copying(path) == ["step 1 (stream_info) at 0.001 s"]


@pytest.mark.parametrize("path", SOURCING, ids=[f.stem for f in SOURCING])
def test_no_step_reads_state_while_a_mirror_or_source_copies(path):
    assert reads_while_copying(path) == []

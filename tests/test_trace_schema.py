"""The trace schema (pmesh_sim.trace_kinds): every record both backends write is registered,
one msg_id follows a JetStream message, and docs/trace.md is current."""

from pathlib import Path

import pytest

from pmesh_sim.runners import run_scenario
from pmesh_sim.scenario import Scenario
from pmesh_sim.trace import Trace
from pmesh_sim.trace_kinds import KINDS, check_trace, kinds_markdown

ROOT = Path(__file__).resolve().parent.parent
CONFORMANCE = sorted((ROOT / "scenarios" / "conformance").glob("*.yaml"))
REAL = ["core-request-reply", "core-queue-group", "consumer-nak", "consumer-push-deliver-group",
        "stream-dedup-msg-id"]


def _trace(scenario, backend="sim") -> Trace:
    traces: list = []
    run_scenario(scenario, backend, trace_out=traces)
    return traces[0]


@pytest.mark.parametrize("path", CONFORMANCE, ids=lambda p: p.stem)
def test_every_conformance_scenario_on_the_sim_gives_a_conforming_trace(path):
    trace = _trace(path)
    assert len(trace) > 0
    assert trace.check() == []


@pytest.mark.parametrize("name", REAL)
def test_real_backend_traces_conform(name):
    trace = _trace(ROOT / "scenarios" / "conformance" / f"{name}.yaml", "real")
    assert trace.check() == []
    assert {e.kind for e in trace} >= {"connect", "publish", "step", "step_result"}


def test_the_checker_reports_unregistered_kinds_fields_and_missing_required_fields():
    trace = Trace(clock=lambda: 0.0)
    trace.emit("publish", node="n1", client="a", subject="x", msg_id=1)   # fine
    trace.emit("warp", node="n1")
    trace.emit("publish", node="n1", client="a", subject="x", msg_id=2, colour="red")
    trace.emit("store", node="n1", stream="S", subject="x", stream_seq=1)
    trace.emit("discard", node="n1", stream="S", subject="x", reason="maximum bytes exceeded")
    assert check_trace(trace) == [
        "record 1: unregistered kind 'warp'",
        "record 2 (publish): unregistered field 'colour'",
        "record 3 (store): missing required field 'msg_id'",
        "record 4 (discard): reason 'maximum bytes exceeded' is not one of DISCARD_REASONS",
    ]


def test_reserved_cluster_fields_are_accepted_on_any_kind():
    trace = Trace(clock=lambda: 0.0)
    trace.emit("step", node="n2", index=0, op="wait", group="S", term=3, leader="n1", peer="n3")
    assert trace.check() == []


def test_every_kind_has_node_and_a_known_layer():
    from pmesh_sim.trace_kinds import LAYERS

    for kind in KINDS.values():
        assert "node" in kind.required, kind.name
        assert kind.layer in LAYERS, kind.name


def test_docs_trace_md_is_generated_from_the_registry():
    assert (ROOT / "docs" / "trace.md").read_text(encoding="utf-8") == kinds_markdown(), \
        "docs/trace.md is stale: regenerate it with pmesh_sim.trace_kinds.kinds_markdown()"


REDELIVERY = Scenario.from_dict({
    "name": "one-msg-id",
    "streams": [{"name": "S", "subjects": ["s.*"]}],
    "consumers": [{"stream": "S", "durable_name": "c", "ack_policy": "explicit",
                   "ack_wait": 0.5}],
    "steps": [
        {"at": 0.0, "op": "js_publish", "subject": "s.a", "data": "x"},
        {"at": 0.05, "op": "fetch", "consumer": "c", "batch": 1, "timeout": 0.3, "then": "nak"},
        {"at": 0.2, "op": "fetch", "consumer": "c", "batch": 1, "timeout": 0.3,
         "then": "ack_sync"},
    ]})


def _one_message(trace: Trace, kinds):
    """(kind, msg_id) of every record about the message on s.a: its publish, and every record
    of ``kinds`` that names stream S (JetStream deliveries at the client, acks, ...)."""
    return [(e.kind, e.fields["msg_id"]) for e in trace if e.kind in kinds
            and (e.fields.get("subject") == "s.a" if e.kind == "publish"
                 else e.fields.get("stream") == "S")]


def test_one_msg_id_from_publish_through_store_deliveries_and_acks_on_the_sim():
    trace = _trace(REDELIVERY)
    events = _one_message(trace, ("publish", "pub_ack", "store", "js_deliver", "deliver",
                                  "ack", "js_ack"))
    (_, first), = [e for e in events if e[0] == "publish"]
    assert [kind for kind, _ in events] == [
        "publish", "store", "pub_ack", "js_deliver", "deliver", "ack", "js_ack",
        "js_deliver", "deliver", "ack", "js_ack"]
    assert {msg_id for _, msg_id in events} == {first}
    delivered = [e.fields["num_delivered"] for e in trace.filter("deliver", msg_id=first)]
    assert delivered == [1, 2]
    assert [e.fields["action"] for e in trace.filter("js_ack")] == ["nak", "ack"]


def test_one_msg_id_on_the_real_backend_too():
    trace = _trace(REDELIVERY, "real")
    assert trace.check() == []
    events = _one_message(trace, ("publish", "pub_ack", "deliver", "ack"))
    assert [kind for kind, _ in events] == ["publish", "pub_ack", "deliver", "ack", "deliver",
                                            "ack"]
    assert len({msg_id for _, msg_id in events}) == 1


def test_ack_timeout_marks_the_reason_of_a_redelivery():
    scenario = Scenario.from_dict({
        "name": "timeout", "streams": [{"name": "S", "subjects": ["s.*"]}],
        "consumers": [{"stream": "S", "durable_name": "c", "ack_wait": 0.2}],
        "steps": [{"at": 0.0, "op": "js_publish", "subject": "s.a"},
                  {"at": 0.05, "op": "fetch", "consumer": "c", "timeout": 0.1,
                   "then": "ignore"},
                  {"at": 0.5, "op": "fetch", "consumer": "c", "timeout": 0.1}]})
    trace = _trace(scenario)
    (stored,) = trace.filter("store")
    (timeout,) = trace.filter("ack_timeout")
    assert timeout.fields["msg_id"] == stored.fields["msg_id"]
    assert timeout.fields["num_delivered"] == 1
    assert [e.fields["num_delivered"] for e in trace.filter("js_deliver")] == [1, 2]


def test_first_pub_ack_says_duplicate_false():
    scenario = Scenario.from_dict({
        "name": "dup", "streams": [{"name": "S", "subjects": ["s.*"]}],
        "steps": [{"at": 0.0, "op": "js_publish", "subject": "s.a",
                   "headers": {"Nats-Msg-Id": "m1"}},
                  {"at": 0.1, "op": "js_publish", "subject": "s.a",
                   "headers": {"Nats-Msg-Id": "m1"}}]})
    doc = run_scenario(scenario, "sim")
    assert [s["result"]["duplicate"] for s in doc["steps"]] == [False, True]
    trace = _trace(scenario)
    assert [e.fields["duplicate"] for e in trace.filter("pub_ack")] == [False, True]
    (dedup,) = trace.filter("dedup")
    assert dedup.fields["nats_msg_id"] == "m1"
    second = [e for e in trace.filter("publish", subject="s.a")][1]
    assert dedup.fields["msg_id"] == second.fields["msg_id"]


def test_topology_records_on_both_backends_name_streams_consumers_and_subscriptions():
    scenario = Scenario.from_dict({
        "name": "topo", "streams": [{"name": "S", "subjects": ["s.*"]}],
        "consumers": [{"stream": "S", "durable_name": "p", "filter_subject": "s.a"},
                      {"stream": "S", "durable_name": "q", "deliver_subject": "dq",
                       "deliver_group": "g"}],
        "subscriptions": [{"name": "w", "subject": "dq", "queue": "g"}],
        "steps": [{"at": 0.0, "op": "wait"}]})
    for backend in ("sim", "real"):
        trace = _trace(scenario, backend)
        (stream,) = trace.filter("stream_config")
        assert stream.fields["subjects"] == ["s.*"]
        consumers = {e.fields["consumer"]: e.fields for e in trace.filter("consumer_config")}
        assert (consumers["p"]["pull"], consumers["p"]["filter_subjects"]) == (True, ["s.a"])
        assert (consumers["q"]["pull"], consumers["q"]["deliver_group"]) == (False, "g")
        (sub,) = trace.filter("subscribe", client="w")
        assert (sub.fields["subject"], sub.fields["queue"]) == ("dq", "g")


def test_to_pandas_narrowed_to_kinds_keeps_only_their_filled_columns():
    trace = _trace(REDELIVERY)
    df = trace.to_pandas("ack")
    assert set(df["kind"]) == {"ack"}
    assert not df.isna().all().any()
    assert "rtt" not in df.columns and "action" in df.columns


def test_a_simulation_driven_through_the_client_api_writes_a_conforming_trace():
    from pmesh_sim.sim import Simulation

    sim = Simulation(seed=3, latency=0.001, loss=0.0)
    sim.add_server("n1", jetstream=True)
    app = sim.connect(name="app")
    js = app.jetstream()
    acked = []

    def body(env):
        yield js.add_stream(name="S", subjects=["s.>"], max_msgs=2)
        first = yield js.publish("s.1", b"a", headers={"Nats-Msg-Id": "x"})
        again = yield js.publish("s.1", b"a", headers={"Nats-Msg-Id": "x"})
        js.publish_async("s.2", b"b")
        js.publish_async("s.3", b"c")                  # max_msgs 2: s.1 is discarded
        yield js.publish_async_completed()
        sub = yield js.pull_subscribe("s.>", durable="w", config=None)
        msgs = yield sub.fetch(2)
        msgs[0].nak()
        msgs[1].in_progress()
        msgs[1].term()
        for msg in (yield sub.fetch(1)):
            msg.ack()
            acked.append(msg)
        yield env.timeout(0.1)
        assert (first.duplicate, again.duplicate) == (False, True)

    done = sim.process(body(sim.env))
    sim.run(until=done)
    trace = sim.trace
    assert trace.check() == []
    assert [e.fields["action"] for e in trace.filter("ack")] == ["nak", "in_progress", "term",
                                                                 "ack"]
    assert [e.fields["action"] for e in trace.filter("js_ack")] == ["nak", "in_progress", "term",
                                                                    "ack"]
    assert [e.fields["reason"] for e in trace.filter("discard")] == ["max_msgs"]
    assert [e.fields.get("duplicate") for e in trace.filter("pub_ack")] == [False, True, False,
                                                                           False]
    (nak,) = trace.filter("ack", action="nak")
    redelivered = trace.filter("deliver", msg_id=nak.fields["msg_id"], num_delivered=2)
    assert len(redelivered) == 1 and acked


def test_a_nak_delay_running_out_is_not_an_ack_timeout():
    trace = _trace(ROOT / "scenarios" / "conformance" / "consumer-nak-delay.yaml")
    assert trace.filter("ack_timeout") == []
    (nak,) = trace.filter("js_ack", action="nak")
    assert nak.fields["delay"] == 0.8
    assert [e.fields["num_delivered"] for e in trace.filter("js_deliver")] == [1, 2]


def test_raft_records_conform_to_the_cluster_layer():
    """The pure RAFT peers' records (pmesh_sim.cluster.raft, driven by test_raft's Group)
    through elections, a partition, a truncation, a crash, a snapshot and a catch-up."""
    from test_raft import elected

    g, lead = elected()
    f = next(n for n in g.names if n != lead)
    g.partition([lead])
    g.propose("stale")
    g.run(g.now + 30.0)
    g.propose("fresh")
    g.heal()
    g.run(g.now + 20.0)
    lead = g.leader()
    f = next(n for n in g.names if n != lead)
    g.crash(f)
    for x in "abc":
        g.propose(x)
        g.run(g.now + 0.1)
    g.nodes[lead].snapshot(tuple(g.state[lead]))
    g.propose("d")
    g.run(g.now + 0.1)
    g.restart(f)
    g.run(g.now + 3.0)
    trace = Trace(clock=lambda: 0.0)
    for time, kind, fields in g.events:
        trace.record(time, kind, fields)
    assert {e.kind for e in trace} >= {"raft_election", "raft_vote", "raft_leader",
                                       "raft_append", "raft_commit", "raft_apply",
                                       "raft_truncate", "raft_snapshot", "raft_recover",
                                       "raft_catchup", "raft_stepdown"}
    assert trace.check() == []

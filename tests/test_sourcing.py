"""Mirrors and sources on the pure JetStream state machine: when copies arrive, what they hold,
and what the simulation refuses (pmesh_sim.jetstream.sourcing)."""

import json

import pytest

from pmesh_sim.jetstream.api import JetStream
from pmesh_sim.jetstream.sourcing import DELAY, RETRY_THRESHOLD, SETUP_DELAY
from pmesh_sim.jetstream.surface import NOT_SIMULATED_HEADER


def _req(js, subject, body=None, headers=None, now=0.0):
    data = json.dumps(body).encode() if isinstance(body, dict) else (body or b"")
    return js.handle(subject, "_INBOX.r", data, headers, now=now)


def _create(js, body, now=0.0):
    out, = _req(js, f"$JS.API.STREAM.CREATE.{body['name']}", body, now=now)
    return out


def _run_timers(js, until):
    """Fire every timer due up to ``until``; returns the times they fired."""
    fired = []
    while (t := js.next_deadline()) is not None and t <= until:
        js.on_timer(t)
        fired.append(t)
    return fired


def _origin_and(js, target):
    _create(js, {"name": "O", "subjects": ["o.*"]})
    _req(js, "o.1", b"one", {"Nats-Expected-Last-Sequence": "0", "Nats-Msg-Id": "m1"})
    return _create(js, target)


def test_a_source_copies_after_its_setup_delay_then_after_each_origin_store():
    js = JetStream()
    _origin_and(js, {"name": "S", "sources": [{"name": "O"}]})
    assert js.streams["S"].last_seq == 0
    assert _run_timers(js, 1.0) == [SETUP_DELAY]
    assert js.streams["S"].last_seq == 1
    _req(js, "o.2", b"two", now=2.0)
    assert _run_timers(js, 3.0) == [2.0 + DELAY]
    assert [m.subject for m in js.streams["S"].msgs.values()] == ["o.1", "o.2"]


def test_a_sourced_message_carries_the_source_header_and_drops_expected_headers():
    js = JetStream()
    _origin_and(js, {"name": "S", "sources": [{"name": "O", "filter_subject": "o.1"}]})
    _run_timers(js, 1.0)
    msg = js.streams["S"].msgs[1]
    assert msg.headers == {"Nats-Msg-Id": "m1", "Nats-Stream-Source": "O 1 o.1 > o.1"}
    assert msg.time == SETUP_DELAY     # a source stamps its own time


def test_a_mirror_keeps_the_origins_sequence_and_timestamp():
    js = JetStream()
    _create(js, {"name": "O", "subjects": ["o.*"]})
    for i in range(3):
        _req(js, "o.1", b"x", now=0.1 * i)
    _req(js, "$JS.API.STREAM.MSG.DELETE.O", {"seq": 2}, now=0.3)
    _create(js, {"name": "M", "mirror": {"name": "O"}}, now=0.5)
    _run_timers(js, 1.0)
    m = js.streams["M"]
    assert {s: msg.time for s, msg in m.msgs.items()} == {1: 0.0, 3: pytest.approx(0.2)}
    assert m.state()["num_deleted"] == 1


def test_the_same_run_gives_the_same_stream_info():
    def run():
        js = JetStream()
        _origin_and(js, {"name": "S", "sources": [{"name": "O"}]})
        _run_timers(js, 1.0)
        out, = _req(js, "$JS.API.STREAM.INFO.S", now=1.0)
        return out.data

    assert run() == run()
    assert json.loads(run())["sources"] == [
        {"name": "O", "lag": 0, "seq": 1, "active": round((1.0 - SETUP_DELAY) * 1e9)}]


def test_a_blocked_source_retries_after_the_threshold_not_on_the_next_origin_store():
    js = JetStream()
    _create(js, {"name": "O", "subjects": ["o.*"]})
    _create(js, {"name": "S", "sources": [{"name": "O"}], "max_msgs": 1, "discard": "new"})
    _req(js, "o.1", b"1")
    _req(js, "o.2", b"2")
    assert _run_timers(js, 1.0) == [SETUP_DELAY]     # stores 1, blocked at 2
    _req(js, "$JS.API.STREAM.PURGE.S", {}, now=1.0)
    _req(js, "o.3", b"3", now=1.1)                   # no copy: it waits for the retry
    assert _run_timers(js, 3.0) == [RETRY_THRESHOLD]   # stores 2, blocked at 3
    assert [m.data for m in js.streams["S"].msgs.values()] == [b"2"]
    assert js.next_deadline() == 2 * RETRY_THRESHOLD


def _refusal(out) -> str:
    return out.headers[NOT_SIMULATED_HEADER]


def test_what_the_simulation_refuses_is_named():
    js = JetStream()
    _create(js, {"name": "W", "subjects": ["w.*"], "retention": "workqueue"})
    assert "does not exist" in _refusal(_create(js, {"name": "S", "sources": [{"name": "NO"}]}))
    assert "workqueue" in _refusal(_create(js, {"name": "S", "mirror": {"name": "W"}}))
    ext = {"name": "S", "sources": [{"name": "W", "external": {"api": "$JS.h.API"}}]}
    assert _refusal(_create(js, ext)) == "source config field 'external'"
    assert "in a cluster" in _refusal(_create(JetStream(peers=3), {
        "name": "S", "sources": [{"name": "W"}]}))


def test_an_origin_deleted_and_created_again_is_refused_and_its_copies_stay():
    js = JetStream()
    _origin_and(js, {"name": "M", "mirror": {"name": "O"}})
    _run_timers(js, 1.0)
    _req(js, "$JS.API.STREAM.DELETE.O", now=1.0)
    assert "re-creating stream 'O'" in _refusal(_create(js, {"name": "O", "subjects": ["o.*"]}))
    assert js.streams["M"].state()["messages"] == 1
    out, = _req(js, "$JS.API.STREAM.UPDATE.O", {"name": "O", "retention": "interest"})
    assert json.loads(out.data)["error"]["err_code"] == 10059


def test_an_origin_may_not_turn_to_interest_retention():
    js = JetStream()
    _origin_and(js, {"name": "S", "sources": [{"name": "O"}]})
    out, = _req(js, "$JS.API.STREAM.UPDATE.O",
                {"name": "O", "subjects": ["o.*"], "retention": "interest"})
    assert "origin of a mirror or source" in _refusal(out)


def test_the_python_client_creates_a_mirror_and_reads_its_info():
    from pmesh_sim import Simulation, StreamSource

    sim = Simulation()
    sim.add_server("n1", jetstream=True)
    js = sim.connect("n1").jetstream()
    infos = []

    def main(env):
        yield js.add_stream(name="O", subjects=["o.>"])
        yield js.publish("o.1", b"x")
        infos.append((yield js.add_stream(name="M", mirror=StreamSource(name="O"))))
        yield env.timeout(0.5)
        infos.append((yield js.stream_info("M")))

    sim.process(main(sim.env))
    sim.run(until=2)
    created, later = infos
    assert created.mirror == {"name": "O", "lag": 0, "active": -1}
    # a mirror has no subjects: the answer leaves them out (omitempty), as nats-py then shows
    assert created.config.mirror == StreamSource(name="O") and created.config.subjects is None
    assert (later.state.messages, later.mirror["active"] >= 0) == (1, True)


def test_a_mirror_that_could_refuse_its_origins_messages_is_refused():
    js = JetStream()
    _create(js, {"name": "O", "subjects": ["o.*"]})
    full = {"name": "M", "mirror": {"name": "O"}, "max_msgs": 2, "discard": "new"}
    assert "discard new" in _refusal(_create(js, full))
    assert "max_msg_size" in _refusal(_create(js, {"name": "M", "mirror": {"name": "O"},
                                                   "max_msg_size": 10}))
    _create(js, {"name": "S", "sources": [{"name": "O"}]})
    out, = _req(js, "$JS.API.STREAM.UPDATE.S", {"name": "S", "sources": [{"name": "O"}],
                                                "sealed": True})
    assert _refusal(out) == "a sealed stream with a mirror or sources"


def test_an_origin_with_consumer_limits_is_refused_as_not_simulated():
    # the server's sourcing consumer (ack none) is bound by the origin's consumer_limits: with
    # max_ack_pending it is refused (10082, shown in the source's info); not simulated
    js = JetStream()
    for body in (b'{"name":"O","subjects":["o.>"],"consumer_limits":{"max_ack_pending":5}}',
                 b'{"name":"P","subjects":["p.>"]}', b'{"name":"M","mirror":{"name":"P"}}'):
        js.handle(f"$JS.API.STREAM.CREATE.{json.loads(body)['name']}", "r", body, None, now=0.0)
    out = js.handle("$JS.API.STREAM.CREATE.C", "r", b'{"name":"C","sources":[{"name":"O"}]}',
                    None, now=0.0)
    assert b"consumer_limits" in out[0].data and "C" not in js.streams
    out = js.handle("$JS.API.STREAM.UPDATE.P", "r", b'{"name":"P","subjects":["p.>"],'
                    b'"consumer_limits":{"max_ack_pending":5}}', None, now=0.0)
    assert b"consumer_limits" in out[0].data and js.streams["P"].config.consumer_limits is None

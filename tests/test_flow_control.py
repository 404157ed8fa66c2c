"""Push-consumer flow control (consumer.go needFlowControl / processFlowControl), at the JetStream
API: the request after half the window, the stall past it, the answer that reopens it."""

import json

from pmesh_sim.jetstream.api import JetStream

BIG = b"x" * 100_000


def _api(js, subject, body, now=0.0):
    return js.handle(subject, "_INBOX.r", json.dumps(body).encode(), None, now=now)


def consumer(peers=1):
    js = JetStream(has_interest=lambda subject, queue=None: subject == "dlv.p", peers=peers)
    _api(js, "$JS.API.STREAM.CREATE.S", {"name": "S", "subjects": ["s.*"]})
    out = _api(js, "$JS.API.CONSUMER.DURABLE.CREATE.S.p", {"stream_name": "S", "config": {
        "durable_name": "p", "deliver_subject": "dlv.p", "ack_policy": "explicit",
        "flow_control": True, "idle_heartbeat": 1_000_000_000}})
    return js, out


def _publish(js, n):
    out = []
    for _ in range(n):
        out += [o for o in js.handle("s.x", "", BIG, None, now=0.0) if o.subject == "dlv.p"]
    return out


def test_a_request_after_half_the_window_then_a_stall_past_it():
    js, _ = consumer()
    out = _publish(js, 40)
    requests = [i for i, o in enumerate(out) if o.headers and o.headers.get("Status") == "100"]
    assert requests == [11] and out[11].reply.startswith("$JS.FC.S.p.")
    assert len(out) == 22    # 21 messages (more than 2 MB), one request
    c = js.streams["S"].consumers["p"]
    assert c.heartbeat().headers["Nats-Consumer-Stalled"] == out[11].reply


def test_the_answer_reopens_a_doubled_window_and_an_old_one_is_ignored():
    js, _ = consumer()
    fc = _publish(js, 40)[11].reply
    assert js.handle("$JS.FC.S.p.zzzz", "", b"", None, now=0.0) == []
    out = js.handle(fc, "", b"", None, now=0.0)
    # the other 19; 2 MB after the first request (message 32) the next one
    assert [o.data == BIG for o in out] == [True] * 11 + [False] + [True] * 8
    c = js.streams["S"].consumers["p"]
    assert (c.flow.window, c.flow.reply) == (4 * 1024 * 1024, out[11].reply)
    assert js.handle(out[11].reply, "", b"", None, now=0.0) == []
    assert (c.flow.window, c.flow.reply) == (8 * 1024 * 1024, "")
    assert "Nats-Consumer-Stalled" not in c.heartbeat().headers


def test_flow_control_on_a_cluster_is_refused():
    _, (out,) = consumer(peers=3)
    assert "flow_control" in out.headers["Pmesh-Not-Simulated"]


def _client_run(cb_mode):
    """40 messages of 100 kB to a push subscription of the Python API with flow control."""
    from pmesh_sim import ConsumerConfig, Simulation

    sim = Simulation()
    sim.add_server("n1", jetstream=True)
    nc = sim.connect("n1")
    js = nc.jetstream()
    got, seen = [], {}
    cfg = ConsumerConfig(flow_control=True, idle_heartbeat=5.0, ack_policy="none")

    def main(env):
        yield js.add_stream(name="S", subjects=["s.>"])
        sub = yield js.subscribe("s.>", durable="p", config=cfg,
                                 cb=got.append if cb_mode else None)
        for _ in range(40):
            yield js.publish("s.x", BIG)
        yield env.timeout(1.0)
        seen["before"] = (yield js.consumer_info("S", "p")).delivered.consumer_seq
        if not cb_mode:    # the application takes its messages now: the answer follows
            for _ in range(40):
                got.append((yield sub.next_msg(timeout=1.0)))
        seen["after"] = (yield js.consumer_info("S", "p")).delivered.consumer_seq

    sim.process(main(sim.env))
    sim.run(until=10.0)
    return got, seen


def test_the_python_api_answers_flow_control_and_hides_the_statuses():
    got, seen = _client_run(cb_mode=True)
    assert len(got) == 40 and all(m.data == BIG for m in got)
    assert seen == {"before": 40, "after": 40}


def test_an_application_that_has_not_taken_its_messages_holds_the_answer_back():
    got, seen = _client_run(cb_mode=False)
    assert seen == {"before": 21, "after": 40}   # stalled until it took the 11th
    assert len(got) == 40 and all(m.data == BIG for m in got)

"""JetStream end to end in the simulation: the client context, the host, timers, the trace."""

import pytest

from pmesh_sim.config import ConsumerConfig
from pmesh_sim.errors import JetStreamError, NoStreamResponseError, TimeoutError
from pmesh_sim.sim.simulation import Simulation


@pytest.fixture
def sim():
    sim = Simulation(seed=1, latency=0.001)
    sim.add_server("n1", jetstream=True)
    return sim


def run(sim, body):
    log = []
    client = sim.connect(name="app")
    js = client.jetstream()
    sim.process(body(sim.env, js, log))
    sim.run(until=100)
    return log


def test_publish_returns_pub_acks_and_duplicates(sim):
    def body(env, js, log):
        yield js.add_stream(name="S", subjects=["s.>"])
        for msg_id in ["a", "b", "a"]:
            ack = yield js.publish("s.1", b"x", headers={"Nats-Msg-Id": msg_id})
            log.append((ack.stream, ack.seq, ack.duplicate))
    assert run(sim, body) == [("S", 1, False), ("S", 2, False), ("S", 1, True)]


def test_publish_to_a_subject_no_stream_covers_raises_no_stream_response(sim):
    def body(env, js, log):
        yield js.add_stream(name="S", subjects=["s.>"])
        try:
            yield js.publish("other", b"x")
        except NoStreamResponseError:
            log.append("no stream")
    assert run(sim, body) == ["no stream"]


def test_api_errors_raise_jetstream_error_with_err_code(sim):
    def body(env, js, log):
        yield js.add_stream(name="S", subjects=["s.>"])
        try:
            yield js.add_stream(name="T", subjects=["s.a"])
        except JetStreamError as err:
            log.append((err.err_code, err.code))
    assert run(sim, body) == [(10065, 400)]


def test_fetch_returns_what_no_wait_yields_then_times_out_when_empty(sim):
    def body(env, js, log):
        yield js.add_stream(name="S", subjects=["s.>"])
        for _ in range(3):
            yield js.publish("s.1", b"x")
        sub = yield js.pull_subscribe("s.>", durable="w")
        msgs = yield sub.fetch(10, timeout=1.0)
        log.append([m.metadata.sequence.stream for m in msgs])
        for m in msgs:
            m.ack()
        start = env.now
        try:
            yield sub.fetch(10, timeout=1.0)
        except TimeoutError:
            log.append(("timeout after", round(env.now - start, 2)))
    # the lingering no_wait probe ends with 408 at its expires (timeout - 100 us) + latency
    assert run(sim, body) == [[1, 2, 3], ("timeout after", 1.0)]


def test_unacked_message_comes_back_after_ack_wait(sim):
    def body(env, js, log):
        yield js.add_stream(name="S", subjects=["s.>"])
        yield js.publish("s.1", b"x")
        sub = yield js.pull_subscribe("s.>", durable="w", config=ConsumerConfig(ack_wait=2.0))
        msg = (yield sub.fetch(1, timeout=1.0))[0]
        log.append((msg.metadata.num_delivered, round(env.now, 3)))
        msg = (yield sub.fetch(1, timeout=5.0))[0]
        log.append((msg.metadata.num_delivered, round(env.now, 3)))
        msg.ack()
    log = run(sim, body)
    assert [n for n, _ in log] == [1, 2]
    assert round(log[1][1] - log[0][1], 6) == 2.0


def test_nak_with_delay_redelivers_after_the_delay(sim):
    def body(env, js, log):
        yield js.add_stream(name="S", subjects=["s.>"])
        yield js.publish("s.1", b"x")
        sub = yield js.pull_subscribe("s.>", durable="w")
        msg = (yield sub.fetch(1))[0]
        t0 = env.now
        msg.nak(delay=2.0)
        msg = (yield sub.fetch(1, timeout=5.0))[0]
        log.append((msg.metadata.num_delivered, round(env.now - t0, 2)))
    assert run(sim, body) == [(2, 2.0)]


def test_push_subscribe_delivers_to_the_callback_and_acks(sim):
    def body(env, js, log):
        yield js.add_stream(name="S", subjects=["s.>"])
        yield js.subscribe("s.>", durable="p", cb=lambda m: log.append(m.data))
        yield js.publish("s.1", b"a")
        yield js.publish("s.2", b"b")
        yield env.timeout(0.1)
        info = yield js.consumer_info("S", "p")
        log.append((info.num_ack_pending, info.delivered.stream_seq))
    assert run(sim, body) == [b"a", b"b", (0, 2)]


def test_stream_info_purge_and_delete(sim):
    def body(env, js, log):
        yield js.add_stream(name="S", subjects=["s.>"])
        for _ in range(3):
            yield js.publish("s.1", b"x")
        yield js.delete_msg("S", 2)
        info = yield js.stream_info("S")
        log.append((info.state.messages, info.state.num_deleted))
        yield js.purge_stream("S")
        info = yield js.stream_info("S")
        log.append((info.state.messages, info.state.first_seq, info.state.last_seq))
    assert run(sim, body) == [(2, 1), (0, 4, 3)]


def test_trace_records_store_deliver_and_ack_with_sequences(sim):
    def body(env, js, log):
        yield js.add_stream(name="S", subjects=["s.>"])
        yield js.publish("s.1", b"x")
        sub = yield js.pull_subscribe("s.>", durable="w")
        (yield sub.fetch(1))[0].ack()
        yield env.timeout(0.1)
    run(sim, body)
    kinds = [(e.kind, e.fields.get("stream_seq")) for e in sim.trace
             if e.kind in ("store", "deliver", "ack") and e.fields.get("stream") == "S"]
    assert kinds == [("store", 1), ("deliver", 1), ("ack", 1)]


def test_same_seed_gives_the_same_trace():
    def once():
        sim = Simulation(seed=3, latency=lambda rng: rng.uniform(0.001, 0.002))
        sim.add_server("n1", jetstream=True)

        def body(env, js, log):
            yield js.add_stream(name="S", subjects=["s.>"])
            for i in range(5):
                yield js.publish(f"s.{i}", b"x")
            sub = yield js.pull_subscribe("s.>", durable="w")
            for m in (yield sub.fetch(5)):
                m.ack()
        run(sim, body)
        return sim.trace.dumps()
    assert once() == once()


def test_fetch_from_a_deleted_consumer_fails_at_once_with_no_responders(sim):
    # real nats-server 2.15.1 + nats-py 2.16: ServiceUnavailableError at once (503 status)
    from pmesh_sim.errors import NoRespondersError
    from pmesh_sim.sim.jetstream import PullSubscription

    def body(env, js, log):
        yield js.add_stream(name="S", subjects=["s.*"])
        yield js.add_consumer("S", durable_name="c", ack_policy="explicit")
        yield js.publish("s.a", b"1")
        psub = PullSubscription(js, "S", "c")
        yield js.delete_consumer("S", "c")
        for batch in (1, 5):
            start = env.now
            try:
                yield psub.fetch(batch, timeout=0.5)
            except NoRespondersError:
                log.append((batch, "no_responders", env.now - start < 0.01))
    assert run(sim, body) == [(1, "no_responders", True), (5, "no_responders", True)]


def test_both_backends_fetch_errors_for_a_missing_consumer_give_the_same_result():
    from nats.js.errors import ServiceUnavailableError

    from pmesh_sim.errors import NoRespondersError
    from pmesh_sim.runners import classify_error

    assert classify_error(ServiceUnavailableError()) == {"outcome": "no_responders"}
    assert classify_error(NoRespondersError("x")) == {"outcome": "no_responders"}
    # a 503 API error that carries an err_code stays an error
    assert classify_error(ServiceUnavailableError(code=503, err_code=10077,
                                                  description="maximum messages exceeded")) == \
        {"error": {"code": 503, "err_code": 10077, "description": "maximum messages exceeded"}}


def test_pull_subscribe_bind_asks_nothing_and_a_missing_consumer_shows_at_fetch():
    from pmesh_sim import NoRespondersError, Simulation

    sim = Simulation(seed=0)
    sim.add_server("n1", jetstream=True)
    js = sim.connect(name="app").jetstream()
    seen = []

    def main():
        yield js.add_stream(name="S", subjects=["s.>"])
        yield js.add_consumer("S", durable_name="w")
        yield js.publish("s.1", b"x")
        requests_before = len(sim.trace.filter("request"))
        bound = yield js.pull_subscribe_bind("w", stream="S")
        seen.append(len(sim.trace.filter("request")) - requests_before)   # no API call
        msgs = yield bound.fetch(1, timeout=0.5)
        seen.append([m.data for m in msgs])
        ghost = yield js.pull_subscribe_bind("ghost", stream="S")
        try:
            yield ghost.fetch(1, timeout=0.5)
        except NoRespondersError:
            seen.append("no responders")

    sim.process(main())
    sim.run()
    assert seen == [0, [b"x"], "no responders"]


def test_an_api_request_no_handler_takes_times_out_but_a_pull_to_a_missing_consumer_is_503(sim):
    # nats-server 2.15.1: STREAM.CREATE.A.B gets no answer (nats-py times out after 5 s), while
    # CONSUMER.MSG.NEXT.S.gone gets "no responders" at once
    from pmesh_sim.errors import NoRespondersError

    log = []
    client = sim.connect(name="app")

    def body(env):
        for subject in ("$JS.API.STREAM.CREATE.A.B", "$JS.API.CONSUMER.MSG.NEXT.S.gone"):
            start = env.now
            try:
                yield client.request(subject, b"{}", timeout=1.0)
            except (TimeoutError, NoRespondersError) as err:
                log.append((type(err).__name__, round(env.now - start, 1)))
    sim.process(body(sim.env))
    sim.run(until=10)
    assert log == [("TimeoutError", 1.0), ("NoRespondersError", 0.0)]

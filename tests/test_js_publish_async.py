"""publish_async (nats-py's names): acks come back as events; completed waits for all of them."""

import pytest

from pmesh_sim.errors import JetStreamError, NatsError, NoStreamResponseError
from pmesh_sim.sim import Simulation


def _world(**js):
    sim = Simulation(seed=0, latency=0.001)
    sim.add_server("n1", jetstream=True)
    client = sim.connect(name="pub")
    return sim, client.jetstream(**js)


def test_publish_async_acks_arrive_one_round_trip_later_in_sequence_order():
    sim, js = _world()
    got = []

    def main():
        yield js.add_stream(name="S", subjects=["s.>"])
        start = sim.now
        events = [js.publish_async(f"s.{i}", b"x") for i in range(3)]
        assert js.publish_async_pending() == 3
        yield js.publish_async_completed()
        got.append((round(sim.now - start, 6), js.publish_async_pending()))
        for event in events:
            ack = yield event
            got.append((ack.stream, ack.seq))

    sim.process(main())
    sim.run()
    assert got == [(0.002, 0), ("S", 1), ("S", 2), ("S", 3)]


def test_publish_async_pub_ack_bytes_are_the_servers_json():
    sim, js = _world()
    spy = sim.connect(name="spy")
    seen = []
    spy.subscribe("_INBOX.>", cb=lambda msg: seen.append(msg.data))

    def main():
        yield spy.flush()
        yield js.add_stream(name="S", subjects=["s.>"])
        yield js.publish_async("s.1", b"x")

    sim.process(main())
    sim.run()
    assert seen[-1] == b'{"stream":"S","seq":1}'


def test_publish_async_without_a_stream_fails_with_no_stream_response():
    sim, js = _world()
    outcome = []

    def main():
        try:
            yield js.publish_async("nowhere", b"x")
        except NoStreamResponseError as err:
            outcome.append(type(err).__name__)

    sim.process(main())
    sim.run()
    assert outcome == ["NoStreamResponseError"]


def test_publish_async_with_the_wrong_expected_stream_fails_with_10060():
    sim, js = _world()
    outcome = []

    def main():
        yield js.add_stream(name="S", subjects=["s.>"])
        try:
            yield js.publish_async("s.1", b"x", stream="OTHER")
        except JetStreamError as err:
            outcome.append(err.err_code)

    sim.process(main())
    sim.run()
    assert outcome == [10060]


def test_publish_async_beyond_max_pending_raises_until_acks_come_back():
    sim, js = _world(publish_async_max_pending=2)
    outcome = []

    def main():
        yield js.add_stream(name="S", subjects=["s.>"])
        js.publish_async("s.1")
        js.publish_async("s.2")
        with pytest.raises(NatsError, match="publish_async_max_pending"):
            js.publish_async("s.3")
        yield js.publish_async_completed()
        ack = yield js.publish_async("s.3")
        outcome.append(ack.seq)

    sim.process(main())
    sim.run()
    assert outcome == [3]


def test_jetstream_benchmark_trace_is_identical_for_the_same_seed():
    from pmesh_sim.bench import _jetstream_pull

    first, second = _jetstream_pull(True, trace=True), _jetstream_pull(True, trace=True)
    assert first["trace_events"] == second["trace_events"] > 9 * first["messages"]
    assert first["virtual_seconds"] == second["virtual_seconds"]

"""Msg and Subscription on the client side: next_msg, generator callbacks, respond, the
JetStream ack protocol bytes (as nats-py sends them) and metadata parsing."""

import datetime

import pytest

from pmesh_sim.errors import ConfigError, NatsError, TimeoutError
from pmesh_sim.sim import Simulation


@pytest.fixture
def world():
    sim = Simulation(seed=0, latency=0.001)
    sim.add_server()
    return sim, sim.connect(name="a"), sim.connect(name="b")


def acks_for(sim, client, send):
    """Publish one message with a $JS.ACK reply, let ``send(msg)`` answer, return what the ack
    subject received."""
    reply = "$JS.ACK.ORDERS.worker.1.7.3.1700000000000000000.0"
    got = []
    client.subscribe("$JS.ACK.>", cb=lambda msg: got.append((msg.data, msg.reply)))
    client.subscribe("orders.1", cb=send)

    def body():
        yield client.flush()
        client.publish("orders.1", b"x", reply=reply)
        yield sim.env.timeout(1)
    sim.process(body())
    sim.run()
    return got


@pytest.mark.parametrize("action, payload", [
    (lambda m: m.ack(), b"+ACK"),
    (lambda m: m.nak(), b"-NAK"),
    (lambda m: m.nak(delay=2.5), b'-NAK {"delay": 2500000000}'),
    (lambda m: m.in_progress(), b"+WPI"),
    (lambda m: m.term(), b"+TERM"),
])
def test_ack_methods_publish_nats_py_payloads_to_the_reply_subject(world, action, payload):
    sim, a, _ = world
    assert [data for data, _ in acks_for(sim, a, action)] == [payload]


def test_ack_sync_is_a_request_on_the_reply_subject(world):
    sim, a, _ = world
    events = []

    def ack_sync(msg):
        event = msg.ack_sync(timeout=0.2)
        event.defused = True                           # nobody answers in this test
        events.append(event)
    got = acks_for(sim, a, ack_sync)
    assert got[0][0] == b"+ACK" and got[0][1].startswith("_INBOX.")
    assert isinstance(events[0].value, TimeoutError)


def test_acking_twice_raises_but_in_progress_may_repeat(world):
    sim, a, _ = world
    outcomes = []

    def twice(msg):
        msg.in_progress()
        msg.in_progress()
        msg.ack()
        assert msg.is_acked
        for again in (msg.ack, msg.nak, msg.term):
            with pytest.raises(NatsError, match="already acknowledged"):
                again()
        outcomes.append("checked")
    got = acks_for(sim, a, twice)
    assert outcomes == ["checked"] and [d for d, _ in got] == [b"+WPI", b"+WPI", b"+ACK"]


def test_metadata_is_parsed_from_the_ack_subject(world):
    sim, a, _ = world
    meta = []
    acks_for(sim, a, lambda m: meta.append(m.metadata))
    m = meta[0]
    assert (m.stream, m.consumer, m.num_delivered, m.sequence.stream, m.sequence.consumer,
            m.num_pending) == ("ORDERS", "worker", 1, 7, 3, 0)
    assert m.timestamp == datetime.datetime(2023, 11, 14, 22, 13, 20, tzinfo=datetime.timezone.utc)


def test_metadata_of_the_twelve_token_form_with_domain():
    from pmesh_sim.sim.client import Metadata

    m = Metadata.from_reply("$JS.ACK.hub.ACCHASH.ORDERS.worker.2.10.12.1700000000000000000.5.rnd")
    assert (m.domain, m.stream, m.consumer, m.num_delivered, m.sequence.stream,
            m.sequence.consumer, m.num_pending) == ("hub", "ORDERS", "worker", 2, 10, 12, 5)
    assert Metadata.from_reply("$JS.ACK._.H.S.C.1.1.1.0.0.r").domain == ""


def test_ack_on_a_message_without_reply_raises(world):
    sim, a, _ = world
    from pmesh_sim.sim.client import Msg

    msg = Msg(a, "plain.subject")
    for call in (msg.ack, msg.nak, msg.term, msg.in_progress, lambda: msg.metadata,
                 lambda: msg.respond(b"x")):
        with pytest.raises(NatsError):
            call()


def test_respond_carries_the_request_headers_like_nats_py(world):
    sim, a, b = world
    a.subscribe("svc", cb=lambda msg: msg.respond(b"pong"))
    replies = []

    def body():
        yield a.flush()
        msg = yield b.request("svc", b"ping", headers={"X": "1"})
        replies.append((msg.data, msg.headers))
    sim.process(body())
    sim.run()
    assert replies == [(b"pong", {"X": "1"})]


def test_next_msg_returns_pending_messages_then_times_out(world):
    sim, a, b = world
    sub = a.subscribe("n")
    got = []

    def body():
        yield a.flush()
        b.publish("n", b"1")
        b.publish("n", b"2")
        got.append(((yield sub.next_msg()).data, round(sim.now, 6)))
        got.append(((yield sub.next_msg()).data, round(sim.now, 6)))
        try:
            yield sub.next_msg(timeout=0.5)
        except TimeoutError:
            got.append(("timeout", round(sim.now, 6)))
    sim.process(body())
    sim.run()
    assert got == [(b"1", 0.004), (b"2", 0.004), ("timeout", 0.504)]
    assert sub.delivered == 2 and sub.pending_msgs == 0


def test_next_msg_on_a_callback_subscription_raises(world):
    _, a, _ = world
    with pytest.raises(NatsError, match="callback"):
        a.subscribe("x", cb=lambda m: None).next_msg()


def test_a_generator_callback_handles_one_message_at_a_time(world):
    sim, a, b = world
    log = []

    def handler(msg):
        log.append(("start", msg.data, round(sim.now, 6)))
        yield sim.env.timeout(1)
        log.append(("end", msg.data, round(sim.now, 6)))
    a.subscribe("g", cb=handler)

    def body():
        yield a.flush()
        b.publish("g", b"1")
        b.publish("g", b"2")
    sim.process(body())
    sim.run()
    assert log == [("start", b"1", 0.004), ("end", b"1", 1.004),
                   ("start", b"2", 1.004), ("end", b"2", 2.004)]


@pytest.mark.parametrize("call, text", [
    (lambda c: c.publish("s", "text"), "give bytes"),
    (lambda c: c.publish("s", b"", headers={"K": 1}), "must be str"),
    (lambda c: c.publish("s", b"", headers=["K"]), "dict"),
    (lambda c: c.subscribe("s", cb=5), "cb=5"),
    (lambda c: c.subscribe("s", pending_msgs_limit=-1), "pending_msgs_limit=-1"),
    (lambda c: c.request("s", timeout=0), "timeout=0"),
    (lambda c: c.subscribe("s").unsubscribe(limit=-2), "limit=-2"),
])
def test_wrong_types_raise_config_errors_saying_what_to_give(world, call, text):
    _, a, _ = world
    with pytest.raises(ConfigError, match=text):
        call(a)


def test_async_callbacks_are_refused_with_a_hint(world):
    _, a, _ = world

    async def cb(msg):
        pass
    with pytest.raises(ConfigError, match="yield"):
        a.subscribe("s", cb=cb)


def test_bytearray_payloads_are_accepted_as_bytes(world):
    sim, a, b = world
    sub = a.subscribe("ba")

    def body():
        yield a.flush()
        b.publish("ba", bytearray(b"xy"))
        msg = yield sub.next_msg()
        assert msg.data == b"xy" and type(msg.data) is bytes
    sim.process(body())
    sim.run()
    assert sub.delivered == 1

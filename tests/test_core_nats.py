"""Core NATS in the simulation, as timelines: fan-out, wildcards, echo, ordering, queue groups,
request-reply, no responders, timeouts, max_payload, slow consumers, unsubscribe limits."""

import pytest

from pmesh_sim.errors import (
    InvalidSubjectError,
    MaxPayloadError,
    NoRespondersError,
    SlowConsumerError,
    TimeoutError,
)
from pmesh_sim.sim import Simulation

L = 0.001  # one-way latency used throughout


@pytest.fixture
def sim():
    sim = Simulation(seed=1, latency=L)
    sim.add_server("n1")
    return sim


def collector(sim, log, name):
    return lambda msg: log.append((name, msg.subject, msg.data, round(sim.now, 6)))


def run_after_flush(sim, client, body):
    """Run ``body()`` once ``client``'s earlier subscriptions have reached the server."""
    def main():
        yield client.flush()
        result = body()
        if result is not None:
            yield from result
    sim.process(main())
    sim.run()


def test_every_matching_subscription_gets_one_copy(sim):
    log = []
    pub = sim.connect(name="pub")
    for name in ["s1", "s2", "s3"]:
        sim.connect(name=name).subscribe("orders.new", cb=collector(sim, log, name))
    sim.connect(name="other").subscribe("orders.old", cb=collector(sim, log, "other"))
    run_after_flush(sim, pub, lambda: pub.publish("orders.new", b"x"))
    assert sorted(log) == [("s1", "orders.new", b"x", 4 * L), ("s2", "orders.new", b"x", 4 * L),
                           ("s3", "orders.new", b"x", 4 * L)]


def test_wildcard_subscriptions_match_tokens_and_publish_wildcards_are_literal(sim):
    log = []
    pub = sim.connect(name="pub")
    c = sim.connect(name="c")
    for pattern in ["foo.bar", "foo.*", "foo.>", ">", "*.bar.baz"]:
        c.subscribe(pattern, cb=lambda msg, p=pattern: log.append((p, msg.subject)))

    def body():
        for subject in ["foo.bar", "foo.*", "foo.bar.baz", "foo..bar", "foo"]:
            pub.publish(subject)
    run_after_flush(sim, pub, body)
    assert sorted(log) == sorted([
        ("foo.bar", "foo.bar"), ("foo.*", "foo.bar"), ("foo.>", "foo.bar"), (">", "foo.bar"),
        ("foo.*", "foo.*"), ("foo.>", "foo.*"), (">", "foo.*"),        # checked on nats-server
        ("foo.>", "foo.bar.baz"), (">", "foo.bar.baz"), ("*.bar.baz", "foo.bar.baz"),
        (">", "foo"),                                                 # foo..bar reaches nobody
    ])


def test_a_connection_receives_its_own_messages_unless_no_echo(sim):
    log = []
    echo = sim.connect(name="echo")
    quiet = sim.connect(name="quiet", no_echo=True)
    echo.subscribe("t", cb=collector(sim, log, "echo"))
    quiet.subscribe("t", cb=collector(sim, log, "quiet"))

    def body():
        echo.publish("t", b"from-echo")
        quiet.publish("t", b"from-quiet")
    run_after_flush(sim, quiet, body)
    assert sorted((n, d) for n, _, d, _ in log) == [
        ("echo", b"from-echo"), ("echo", b"from-quiet"), ("quiet", b"from-echo")]


def test_per_publisher_order_holds_under_random_latency():
    sim = Simulation(seed=5, latency=lambda rng: rng.uniform(0.0001, 0.01))
    sim.add_server()
    got = {"a": [], "b": []}
    sink = sim.connect(name="sink")
    sink.subscribe("seq.*", cb=lambda msg: got[msg.subject[-1]].append(int(msg.data)))
    pubs = {k: sim.connect(name=k) for k in got}

    def publisher(client, key):
        yield client.flush()
        yield sim.env.timeout(0.1)
        for i in range(200):
            client.publish(f"seq.{key}", str(i).encode())
            yield sim.env.timeout(0.0001)     # much shorter than the latency spread
    for key, client in pubs.items():
        sim.process(publisher(client, key))
    sim.run()
    assert got == {"a": list(range(200)), "b": list(range(200))}
    arrivals = [e.fields["msg_id"] for e in sim.trace.filter("deliver")]
    assert arrivals != sorted(arrivals)       # the two publishers do interleave differently


def test_a_subscriber_that_joins_later_misses_earlier_messages(sim):
    log = []
    pub, late = sim.connect(name="pub"), sim.connect(name="late")

    def body():
        pub.publish("news", b"1")
        yield sim.env.timeout(0.1)
        late.subscribe("news", cb=collector(sim, log, "late"))
        yield late.flush()
        pub.publish("news", b"2")
    run_after_flush(sim, pub, body)
    assert [d for _, _, d, _ in log] == [b"2"]


def test_each_message_reaches_exactly_one_queue_member_and_plain_subscribers_get_copies(sim):
    members = {}
    plain = []
    pub = sim.connect(name="pub")
    for i in range(3):
        sim.connect(name=f"w{i}").subscribe(
            "jobs", queue="workers", cb=lambda msg, i=i: members.setdefault(i, []).append(msg.data))
    sim.connect(name="audit").subscribe("jobs", cb=lambda msg: plain.append(msg.data))
    sim.connect(name="other").subscribe(
        "jobs", queue="archivers", cb=lambda msg: members.setdefault("arch", []).append(msg.data))

    def body():
        for i in range(60):
            pub.publish("jobs", str(i).encode())
    run_after_flush(sim, pub, body)
    worker_msgs = sorted(int(d) for k, v in members.items() if k != "arch" for d in v)
    assert worker_msgs == list(range(60))                       # each exactly once
    assert [int(d) for d in members["arch"]] == list(range(60))  # one copy per group
    assert [int(d) for d in plain] == list(range(60))
    assert all(len(members[i]) > 5 for i in range(3))           # spread over the members


def _queue_choices(seed):
    sim = Simulation(seed=seed, latency=L)
    sim.add_server()
    chosen = []
    pub = sim.connect()
    for i in range(4):
        sim.connect().subscribe("q", queue="g", cb=lambda msg, i=i: chosen.append(i))
    run_after_flush(sim, pub, lambda: [pub.publish("q") for _ in range(20)] and None)
    return chosen


def test_queue_member_choice_follows_the_seed():
    assert _queue_choices(3) == _queue_choices(3)
    assert any(_queue_choices(3) != _queue_choices(s) for s in (4, 5, 6))


def test_request_gets_the_reply_after_a_round_trip_through_both_clients(sim):
    svc, caller = sim.connect(name="svc"), sim.connect(name="caller")
    svc.subscribe("svc.echo", cb=lambda msg: msg.respond(msg.data.upper()))
    result = []

    def body():
        start = sim.now
        msg = yield caller.request("svc.echo", b"ping", timeout=0.5)
        result.append((msg.data, round(sim.now - start, 6), msg.subject.startswith("_INBOX.")))
    run_after_flush(sim, svc, body)
    assert result == [(b"PING", 4 * L, True)]
    assert [e.kind for e in sim.trace if e.kind in ("request", "reply")] == ["request", "reply"]


def test_inboxes_share_one_wildcard_subscription_per_client(sim):
    svc, caller = sim.connect(name="svc"), sim.connect(name="caller")
    svc.subscribe("svc", cb=lambda msg: msg.respond(b"ok"))
    replies = []

    def body():
        for _ in range(3):
            msg = yield caller.request("svc")
            replies.append(msg.subject)
    run_after_flush(sim, svc, body)
    prefixes = {r.rsplit(".", 1)[0] for r in replies}
    assert len(prefixes) == 1 and len(set(replies)) == 3
    subscribes = [e.fields["subject"] for e in sim.trace.filter("subscribe", client="caller")]
    assert subscribes == [prefixes.pop() + ".*"]
    assert all(len(r.split(".")[1]) == 22 and len(r.split(".")[2]) == 26 for r in replies)


def test_a_request_nobody_listens_to_fails_with_no_responders_after_one_round_trip(sim):
    caller = sim.connect(name="caller")
    outcome = []

    def body():
        start = sim.now
        try:
            yield caller.request("nobody.home", b"?", timeout=0.5)
        except NoRespondersError as err:
            outcome.append(("no responders", round(sim.now - start, 6), "nobody.home" in str(err)))
    run_after_flush(sim, caller, body)
    assert outcome == [("no responders", 2 * L, True)]
    assert len(sim.trace.filter("no_responders", subject="nobody.home")) == 1


def test_the_503_status_message_carries_nats_py_headers(sim):
    c = sim.connect(name="c")
    inbox = c.new_inbox()
    sub = c.subscribe(inbox)
    got = []

    def body():
        c.publish("nobody", b"x", reply=inbox)
        msg = yield sub.next_msg(timeout=1)
        got.append((msg.subject, msg.data, msg.headers))
    run_after_flush(sim, c, body)
    assert got == [(inbox, b"", {"Status": "503", "Nats-Subject": "nobody"})]


def test_a_request_whose_responder_is_silent_times_out(sim):
    svc, caller = sim.connect(name="svc"), sim.connect(name="caller")
    svc.subscribe("svc.slow", cb=lambda msg: None)      # receives, never answers
    outcome = []

    def body():
        start = sim.now
        try:
            yield caller.request("svc.slow", timeout=0.25)
        except TimeoutError:
            outcome.append(round(sim.now - start, 6))
    run_after_flush(sim, svc, body)
    assert outcome == [0.25]
    assert sim.trace.filter("timeout", op="request")[0].fields["subject"] == "svc.slow"


def test_a_reply_after_the_timeout_is_ignored(sim):
    svc, caller = sim.connect(name="svc"), sim.connect(name="caller")

    def slow(msg):
        yield sim.env.timeout(1.0)
        msg.respond(b"late")
    svc.subscribe("svc", cb=slow)
    outcome = []

    def body():
        try:
            yield caller.request("svc", timeout=0.5)
        except TimeoutError:
            outcome.append("timeout")
        yield sim.env.timeout(2)
    run_after_flush(sim, svc, body)
    assert outcome == ["timeout"] and sim.trace.filter("reply") == []


def test_publish_over_max_payload_raises_at_once_counting_headers():
    sim = Simulation()
    sim.add_server(max_payload=100)
    c = sim.connect()
    c.publish("big", b"x" * 100)                              # exactly the limit is fine
    with pytest.raises(MaxPayloadError, match="101 bytes .* max_payload of 100"):
        c.publish("big", b"x" * 101)
    with pytest.raises(MaxPayloadError):
        c.publish("big", b"x" * 80, headers={"Key": "v" * 10})   # 80 + 27 header bytes
    assert len(sim.trace.filter("publish")) == 1


def test_default_max_payload_is_one_mebibyte():
    sim = Simulation()
    sim.add_server()
    c = sim.connect()
    c.publish("ok", b"\0" * 1048576)
    with pytest.raises(MaxPayloadError):
        c.publish("too.big", b"\0" * 1048577)


def test_a_slow_consumer_drops_over_its_pending_limit_and_keeps_the_connection(sim):
    errors, handled = [], []
    pub = sim.connect(name="pub")
    slow = sim.connect(name="slow", error_cb=errors.append)

    def handler(msg):
        yield sim.env.timeout(1.0)              # one message a second
        handled.append(int(msg.data))
    sub = slow.subscribe("load", cb=handler, pending_msgs_limit=3)

    def body():
        for i in range(10):
            pub.publish("load", str(i).encode())
        yield sim.env.timeout(20)
        pub.publish("load", b"99")                # the connection still works afterwards
    run_after_flush(sim, pub, body)
    # all ten arrive at once: 0-2 fill the 3 pending slots, 3-9 overflow and are dropped
    assert handled == [0, 1, 2, 99]
    assert sub.dropped == 7 and len(errors) == 7
    assert all(isinstance(e, SlowConsumerError) for e in errors)
    assert len(sim.trace.filter("slow_consumer", client="slow")) == 7
    assert not slow.is_closed


def test_pending_bytes_limit_also_drops(sim):
    pub, c = sim.connect(), sim.connect()
    sub = c.subscribe("b", pending_bytes_limit=25)       # no callback: messages wait in pending

    def body():
        for _ in range(4):
            pub.publish("b", b"x" * 10)
    run_after_flush(sim, c, body)
    assert (sub.pending_msgs, sub.pending_bytes, sub.dropped, sub.delivered) == (2, 20, 2, 4)


def test_unsubscribe_with_a_limit_stops_after_that_many_messages(sim):
    log = []
    pub, c = sim.connect(), sim.connect()
    sub = c.subscribe("lim", cb=lambda msg: log.append(msg.data))
    sub.unsubscribe(limit=2)

    def body():
        for i in range(5):
            pub.publish("lim", str(i).encode())
    run_after_flush(sim, c, body)
    assert log == [b"0", b"1"] and sub.delivered == 2     # as on nats-server
    assert len(sim.servers["n1"].index) == 0               # the server removed it too


def test_unsubscribe_stops_delivery_and_in_flight_messages_are_dropped(sim):
    log = []
    pub, c = sim.connect(name="pub"), sim.connect(name="c")
    sub = c.subscribe("u", cb=lambda msg: log.append(msg.data))

    def body():
        pub.publish("u", b"1")
        yield sim.env.timeout(1.5 * L)     # 1 reached the server, is on its way to c
        sub.unsubscribe()
        pub.publish("u", b"2")
        yield sim.env.timeout(0.1)
    run_after_flush(sim, pub, body)
    assert log == []
    assert [e.fields["reason"] for e in sim.trace.filter("drop")] == ["unsubscribed"]


@pytest.mark.parametrize("subject", ["", "a..b", "a.>.c", "a b"])
def test_subscribe_refuses_invalid_subjects(sim, subject):
    with pytest.raises(InvalidSubjectError):
        sim.connect().subscribe(subject)


def test_subscribe_refuses_a_queue_name_with_spaces_and_empty_means_none(sim):
    c = sim.connect()
    with pytest.raises(InvalidSubjectError, match="queue"):
        c.subscribe("a", queue="my workers")
    assert c.subscribe("a", queue="").queue == ""


def test_publish_refuses_an_empty_subject(sim):
    with pytest.raises(InvalidSubjectError, match="must not be empty"):
        sim.connect().publish("", b"x")

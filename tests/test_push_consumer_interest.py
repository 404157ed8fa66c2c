"""Push consumers follow client interest on their deliver subject, as nats-server does
(consumer.go registerNotification / updateDeliveryInterest): they deliver the moment a
subscriber appears, and with deliver_group only a queue subscriber of that group counts.
Expected values were measured on nats-server 2.15.1 (scenarios c04, c31, c32 of round 3)."""

from pmesh_sim.sim import Simulation


def _world():
    sim = Simulation(seed=0, latency=0.001)
    sim.add_server("n1", jetstream=True)
    admin = sim.connect(name="admin")
    return sim, admin, admin.jetstream(), sim.connect(name="worker")


def test_push_consumer_delivers_as_soon_as_a_subscriber_appears():
    sim, admin, js, worker = _world()
    deliveries, infos = [], []

    def main():
        yield js.add_stream(name="S", subjects=["s.>"])
        yield js.publish("s.a", b"1")
        yield js.publish("s.b", b"2")
        yield js.add_consumer("S", durable_name="p", deliver_subject="dlv", ack_policy="none")
        yield sim.env.timeout(0.3 - sim.now)
        worker.subscribe("dlv", cb=lambda m: deliveries.append((m.subject, round(sim.now, 3))))
        yield sim.env.timeout(0.3)
        info = yield js.consumer_info("S", "p")
        infos.append((info.delivered.stream_seq, info.num_pending))

    sim.process(main())
    sim.run(until=2.0)
    # the subscription reaches the server at 0.301; both messages arrive one hop later
    assert deliveries == [("s.a", 0.302), ("s.b", 0.302)]
    assert infos == [(2, 0)]


def test_deliver_group_counts_only_a_queue_subscriber_of_that_group():
    sim, admin, js, worker = _world()
    deliveries, infos = [], []

    def main():
        yield js.add_stream(name="S", subjects=["s.>"])
        yield js.publish("s.a", b"1")
        yield js.publish("s.b", b"2")
        yield js.add_consumer("S", durable_name="g", deliver_subject="dlv", deliver_group="grp",
                              ack_policy="none")
        worker.subscribe("dlv", cb=lambda m: deliveries.append(("plain", m.subject)))
        yield sim.env.timeout(0.3 - sim.now)
        info = yield js.consumer_info("S", "g")
        infos.append((info.delivered.stream_seq, info.num_pending))
        worker.subscribe("dlv", queue="grp", cb=lambda m: deliveries.append(("grp", m.subject)))
        yield sim.env.timeout(0.1)
        info = yield js.consumer_info("S", "g")
        infos.append((info.delivered.stream_seq, info.num_pending))

    sim.process(main())
    sim.run(until=2.0)
    # a plain subscriber is no interest: nothing sent; the group member gets both at once,
    # and the plain subscriber on the same subject sees them too (core routing)
    assert infos == [(0, 2), (2, 0)]
    assert sorted(deliveries) == [("grp", "s.a"), ("grp", "s.b"), ("plain", "s.a"), ("plain", "s.b")]


def test_idle_heartbeat_follows_the_last_delivery_while_subscribed():
    # nats-server 2.15.1 with nats-py (idle_heartbeat 0.5 s, messages at 0.0 and 1.2 s): the
    # subscriber got s.a, heartbeats 1/1 at 0.5 and 1.0, s.a at 1.2, heartbeat 2/2 at 1.7
    sim, admin, js, worker = _world()
    got = []

    def seen(m):
        h = m.headers or {}
        got.append((round(sim.now, 1), m.subject, m.data, h.get("Status"), h.get("Description"),
                    h.get("Nats-Last-Consumer"), h.get("Nats-Last-Stream")))

    def main():
        yield js.add_stream(name="S", subjects=["s.*"])
        worker.subscribe("dlv.hb", cb=seen)
        yield js.add_consumer("S", durable_name="p", deliver_subject="dlv.hb",
                              ack_policy="none", idle_heartbeat=0.5)
        yield js.publish("s.a", b"1")
        yield sim.env.timeout(1.2 - sim.now)
        yield js.publish("s.a", b"2")

    sim.process(main())
    sim.run(until=2.0)
    hb = ("dlv.hb", b"", "100", "Idle Heartbeat")
    assert got == [(0.0, "s.a", b"1", None, None, None, None), (0.5, *hb, "1", "1"),
                   (1.0, *hb, "1", "1"), (1.2, "s.a", b"2", None, None, None, None),
                   (1.7, *hb, "2", "2")]


def test_idle_heartbeat_is_not_sent_without_a_subscriber():
    sim, admin, js, worker = _world()
    got = []

    def main():
        yield js.add_stream(name="S", subjects=["s.*"])
        yield js.add_consumer("S", durable_name="p", deliver_subject="dlv.hb",
                              ack_policy="none", idle_heartbeat=0.5)
        yield sim.env.timeout(1.2)
        worker.subscribe("dlv.hb", cb=lambda m: got.append((round(sim.now, 1), m.subject)))

    sim.process(main())
    sim.run(until=2.2)
    # measured: created at 0, subscribed at 1.2 -> heartbeats 0/0 at 1.5 and 2.0 (the timer
    # keeps its 0.5 s beat from creation; beats without a subscriber are not sent)
    assert got == [(1.5, "dlv.hb"), (2.0, "dlv.hb")]

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

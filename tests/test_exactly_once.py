"""Exactly-once, end to end: publisher dedup (Nats-Msg-Id) + consumer double ack (ack_sync).

Two faults are injected: a publish ack that arrives after the publisher gave up (it retries with
the same msg id and gets ``duplicate``), and a consumer ack that is lost on the way (the message
comes back after ack_wait; the processor's idempotence and ack_sync make it count once).
"""

from pmesh_sim.config import ConsumerConfig
from pmesh_sim.errors import TimeoutError
from pmesh_sim.sim.simulation import Simulation


def test_lost_publish_ack_and_lost_consumer_ack_still_process_each_message_once():
    sim = Simulation(seed=7, latency=0.3)          # 0.6 s round trip
    sim.add_server("n1", jetstream=True)
    producer = sim.connect(name="producer")
    worker = sim.connect(name="worker")
    pjs, wjs = producer.jetstream(), worker.jetstream()
    log, processed = [], []

    # drop the first ack the worker sends: the "lost consumer ack"
    dropped = []
    real_request = worker.request

    def lossy_request(subject, payload=b"", timeout=0.5, headers=None):
        if subject.startswith("$JS.ACK.") and not dropped:
            dropped.append(subject)
            event = sim.env.event()
            sim.env.timeout(timeout).callbacks.append(
                lambda _e: event.fail(TimeoutError("ack_sync: no reply")))
            return event
        return real_request(subject, payload, timeout=timeout, headers=headers)
    worker.request = lossy_request

    def produce(env):
        yield pjs.add_stream(name="ORDERS", subjects=["orders.>"])
        for i in (1, 2):
            while True:
                try:   # the first attempt times out (0.5 s < 0.6 s round trip): "lost ack"
                    timeout = 0.5 if i == 1 and not log else 5.0
                    ack = yield pjs.publish(f"orders.{i}", f"order {i}".encode(), timeout=timeout,
                                            headers={"Nats-Msg-Id": f"order-{i}"})
                    log.append(("pub", i, ack.seq, ack.duplicate))
                    break
                except TimeoutError:
                    log.append(("pub timeout", i))

    def consume(env):
        yield env.timeout(5.0)
        sub = yield wjs.pull_subscribe("orders.>", durable="billing",
                                       config=ConsumerConfig(ack_wait=3.0))
        seen = set()
        while len(seen) < 2 or env.now < 20:
            try:
                msgs = yield sub.fetch(10, timeout=2.0)
            except TimeoutError:
                if env.now > 30:
                    break
                continue
            for msg in msgs:
                msg_id = msg.headers["Nats-Msg-Id"]
                if msg_id not in seen:          # idempotent processing
                    processed.append(msg_id)
                    seen.add(msg_id)
                try:
                    yield msg.ack_sync(timeout=1.0)
                    log.append(("acked", msg_id, msg.metadata.num_delivered))
                except TimeoutError:
                    log.append(("ack lost", msg_id))

    sim.process(produce(sim.env))
    sim.process(consume(sim.env))
    sim.run(until=40)

    assert log[:3] == [("pub timeout", 1), ("pub", 1, 1, True), ("pub", 2, 2, False)]
    assert [e for e in log if e[0] != "pub" and e[0] != "pub timeout"] == [
        ("ack lost", "order-1"), ("acked", "order-2", 1), ("acked", "order-1", 2)]
    assert processed == ["order-1", "order-2"]
    stored = [e for e in sim.trace if e.kind == "store"]
    assert [e.fields["stream_seq"] for e in stored] == [1, 2]
    assert [e.fields["stream_seq"] for e in sim.trace if e.kind == "dedup"] == [1]

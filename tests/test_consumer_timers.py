"""Ack timers of acked messages are dropped (memory bounded by what is pending), unseen."""

from pmesh_sim.config import ConsumerConfig
from pmesh_sim.jetstream.consumer import Consumer
from pmesh_sim.sim import Simulation


def _mixed_run() -> tuple[str, int]:
    """Acks, naks with and without delay, ack timeouts and redeliveries, with a short ack
    wait: the trace, and the most ack timers the consumer held."""
    sim = Simulation(seed=3)
    sim.add_server("n1", jetstream=True)
    nc = sim.connect(name="app")
    js = nc.jetstream()
    most = [0]

    def main(env):
        yield js.add_stream(name="S", subjects=["s.>"], storage="memory")
        for i in range(600):
            js.publish_async(f"s.{i % 7}", b"x")
            if i % 100 == 99:
                yield js.publish_async_completed()
        sub = yield js.pull_subscribe("s.>", durable="w", stream="S", config=ConsumerConfig(
            ack_wait=0.05, max_deliver=3))
        consumer = sim.servers["n1"].jetstream.js.streams["S"].consumers["w"]
        for _ in range(40):
            try:
                msgs = yield sub.fetch(50, timeout=0.2)
            except Exception:
                continue
            for j, msg in enumerate(msgs):
                if j % 5 == 0:
                    msg.nak(delay=0.01 if j % 10 == 0 else None)
                elif j % 3:
                    msg.ack()
            most[0] = max(most[0], len(consumer._timers))

    sim.process(main(sim.env))
    sim.run()
    return sim.trace.dumps(), most[0]


def test_dropping_stale_ack_timers_changes_nothing(monkeypatch):
    monkeypatch.setattr(Consumer, "TIMER_SLACK", 10 ** 9)       # never compact
    kept, most_kept = _mixed_run()
    monkeypatch.setattr(Consumer, "TIMER_SLACK", 0)             # compact whenever allowed
    compacted, most_compacted = _mixed_run()
    assert '"ack_timeout"' in kept and '"nak"' in kept and compacted == kept
    assert most_compacted < most_kept

"""The trace of a core-NATS run: every observable event, deterministic, tidy in pandas."""

import json

from pmesh_sim.errors import NoRespondersError, TimeoutError
from pmesh_sim.sim import Simulation


def scenario(seed, latency=0.001):
    """A small run touching every core event kind."""
    sim = Simulation(seed=seed, latency=latency)
    sim.add_server("n1")
    pub = sim.connect(name="pub")
    svc = sim.connect(name="svc")
    workers = [sim.connect(name=f"w{i}") for i in range(3)]
    slow = sim.connect(name="slow")
    svc.subscribe("svc.echo", cb=lambda msg: msg.respond(msg.data))
    svc.subscribe("svc.mute", cb=lambda msg: None)
    for w in workers:
        w.subscribe("jobs.*", queue="workers", cb=lambda msg: None)
    slow.subscribe("jobs.*", pending_msgs_limit=1)

    def main():
        yield pub.flush()
        for i in range(6):
            pub.publish(f"jobs.{i}", str(i).encode())
        yield pub.request("svc.echo", b"hi")
        for subject in ("nobody", "svc.mute"):
            try:
                yield pub.request(subject, timeout=0.1)
            except (NoRespondersError, TimeoutError):
                pass
    sim.process(main())
    sim.run()
    return sim


def test_every_core_event_kind_is_recorded():
    kinds = set(scenario(1).trace.kinds())
    assert {"connect", "subscribe", "publish", "deliver", "slow_consumer", "request", "reply",
            "no_responders", "timeout"} <= kinds


def test_lost_and_unsubscribe_and_drop_are_recorded():
    sim = Simulation(seed=3, latency=0.001, loss=0.5)
    sim.add_server()
    a = sim.connect()
    sub = a.subscribe("x", cb=lambda m: None)

    def main():
        yield a.flush()
        for _ in range(10):
            a.publish("x")
        sub.unsubscribe()
        yield sim.env.timeout(1)
    sim.process(main())
    sim.run()
    assert {"lost", "unsubscribe", "drop"} <= set(sim.trace.kinds())


def test_each_delivery_names_the_publish_it_came_from():
    trace = scenario(1).trace
    publishes = {e.fields["msg_id"]: e for e in trace.filter("publish")}
    for deliver in trace.filter("deliver"):
        origin = publishes.get(deliver.fields["msg_id"])
        if origin is None:               # a 503 status the server made itself
            continue
        assert origin.fields["subject"] == deliver.fields["subject"]
        assert origin.time < deliver.time
    assert len(publishes) == len({e.fields["msg_id"] for e in trace.filter("publish")})


def test_events_carry_time_node_client_subject_and_ids():
    trace = scenario(1).trace
    first = trace.filter("deliver", subject="jobs.0")[0]
    assert first.time == 0.004
    assert {"node", "client", "sid", "subject", "msg_id"} <= set(first.fields)
    assert first.fields["node"] == "n1"


def test_same_seed_gives_a_byte_identical_trace():
    assert scenario(7).trace.dumps() == scenario(7).trace.dumps()


def test_different_seeds_may_choose_other_queue_members():
    def members(seed):
        return [e.fields["client"] for e in scenario(seed).trace.filter("deliver")
                if e.fields["client"].startswith("w")]
    assert len({tuple(members(s)) for s in range(6)}) > 1


def test_dumps_is_json_lines():
    lines = scenario(2).trace.dumps().splitlines()
    records = [json.loads(line) for line in lines]
    assert records[0] == {"time": 0.0, "kind": "connect", "node": "n1", "client": "pub",
                          "no_echo": False}


def test_to_pandas_gives_one_row_per_event_with_tidy_columns():
    trace = scenario(1).trace
    df = trace.to_pandas()
    assert len(df) == len(trace)
    assert {"time", "kind", "node", "client", "subject", "msg_id"} <= set(df.columns)
    deliveries = df[df.kind == "deliver"].groupby("client").size().to_dict()
    assert deliveries["svc"] == 2                    # svc.echo and svc.mute
    assert df.time.is_monotonic_increasing


def test_trace_off_keeps_nothing_but_the_run_is_the_same():
    on, off = Simulation(seed=1), Simulation(seed=1, trace=False)
    got = {}
    for name, sim in (("on", on), ("off", off)):
        sim.add_server()
        c = sim.connect()
        c.subscribe("x", cb=lambda m, name=name: got.setdefault(name, []).append(sim.now))
        sim.env.timeout(1).callbacks.append(lambda _e, c=c: c.publish("x"))
        sim.run()
    assert got["on"] == got["off"] and len(off.trace) == 0 and len(on.trace) > 0


def test_a_narrowed_trace_is_the_full_trace_filtered_to_its_kinds():
    from pmesh_sim.bench import jetstream_pipeline

    full, _ = jetstream_pipeline(300, trace=True)
    full.run()
    narrowed, _ = jetstream_pipeline(300, trace={"store", "ack"})
    narrowed.run()
    assert narrowed.trace.kept == {"store", "ack"}
    expected = [e for e in full.trace if e.kind in ("store", "ack")]
    assert len(expected) == 600 and list(narrowed.trace) == expected
    assert Simulation(trace=["ack"]).trace.kept == {"ack"}


def test_narrowing_to_an_unregistered_kind_is_refused():
    import pytest

    from pmesh_sim.errors import ConfigError

    with pytest.raises(ConfigError, match="'acks'"):
        Simulation(trace={"acks"})


def test_an_unnarrowed_trace_keeps_the_class_methods():
    from pmesh_sim.trace import Trace

    trace = Trace(clock=lambda: 0.0)
    assert "record" not in vars(trace) and trace.kept is None

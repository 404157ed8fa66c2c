"""The simulation kernel: options, the network (latency, FIFO, loss), server internals."""

import pytest

from pmesh_sim.errors import ConfigError
from pmesh_sim.sim import Simulation


def test_simulation_owns_env_rng_trace_network_and_starts_at_zero():
    sim = Simulation(seed=42)
    assert sim.now == 0.0 and sim.env.now == 0.0
    assert sim.rng.random() == __import__("random").Random(42).random()
    assert len(sim.trace) == 0 and sim.servers == {}


@pytest.mark.parametrize("kwargs, text", [
    ({"latency": -1}, "latency=-1"), ({"latency": "fast"}, "latency='fast'"),
    ({"loss": 1.0}, "loss=1.0"), ({"loss": -0.1}, "loss=-0.1"), ({"seed": "x"}, "seed='x'"),
])
def test_bad_simulation_options_raise_config_errors_naming_the_value(kwargs, text):
    with pytest.raises(ConfigError, match=text):
        Simulation(**kwargs)


def test_connect_needs_a_server_and_goes_to_the_first_by_default():
    sim = Simulation()
    with pytest.raises(ConfigError, match="add_server"):
        sim.connect()
    n1, n2 = sim.add_server("n1"), sim.add_server("n2")
    assert sim.connect().server is n1 and sim.connect("n2").server is n2
    assert sim.connect(n2, name="x").name == "x"
    with pytest.raises(ConfigError, match="no server named 'n9'"):
        sim.connect("n9")
    with pytest.raises(ConfigError, match="already exists"):
        sim.connect(name="x")
    with pytest.raises(ConfigError, match="unknown option"):
        sim.add_server("n3", max_payloads=5)
    with pytest.raises(ConfigError, match="max_payload"):
        sim.add_server("n3", max_payload=0)
    with pytest.raises(ConfigError, match=r"unknown option\(s\) \['noecho'\]"):
        sim.connect(noecho=True)


def test_fixed_latency_delays_each_hop_by_exactly_the_latency():
    sim = Simulation(latency=0.25)
    sim.add_server()
    pub, sub = sim.connect(), sim.connect()
    times = []
    sub.subscribe("t", cb=lambda msg: times.append(sim.now))
    sim.env.timeout(1).callbacks.append(lambda _e: pub.publish("t"))
    sim.run()
    assert times == [1.5]


def test_random_latency_draws_from_the_sim_rng_and_links_stay_fifo():
    sim = Simulation(seed=9, latency=lambda rng: rng.choice([0.001, 0.1]))
    sim.add_server()
    pub, sub = sim.connect(), sim.connect()
    got = []
    sub.subscribe("t", cb=lambda msg: got.append((int(msg.data), sim.now)))

    def body():
        yield pub.flush()
        for i in range(30):
            pub.publish("t", str(i).encode())
            yield sim.env.timeout(0.01)
    sim.process(body())
    sim.run()
    assert [i for i, _ in got] == list(range(30))
    assert len({round(t2 - t1, 6) for (_, t1), (_, t2) in zip(got, got[1:])}) > 1


def test_loss_drops_messages_and_traces_them():
    sim = Simulation(seed=2, latency=0.001, loss=0.3)
    sim.add_server()
    pub, sub = sim.connect(name="pub"), sim.connect(name="sub")
    got = []
    sub.subscribe("t", cb=lambda msg: got.append(int(msg.data)))

    def body():
        yield sub.flush()
        for i in range(200):
            pub.publish("t", str(i).encode())
    sim.process(body())
    sim.run()
    lost = sim.trace.filter("lost")
    assert len(got) + len(lost) == 200 and 20 < len(lost) < 110
    assert got == sorted(got)                              # what survives stays in order
    assert {e.fields["hop"] for e in lost} == {"client->server", "server->client"}


def test_flush_completes_after_one_round_trip():
    sim = Simulation(latency=0.002)
    sim.add_server()
    c = sim.connect()
    done = []

    def body():
        yield c.flush()
        done.append(sim.now)
    sim.process(body())
    sim.run()
    assert done == [0.004]


def test_internal_subscriptions_receive_synchronously_and_count_as_responders():
    sim = Simulation(latency=0.001)
    server = sim.add_server()
    seen = []

    def service(subject, reply, data, headers):
        seen.append((sim.now, subject, data))
        server.send(reply, b"pong:" + data)
    sub = server.subscribe_internal("svc.>", service)
    caller = sim.connect()
    answers = []

    def body():
        msg = yield caller.request("svc.ping", b"1")
        answers.append((round(sim.now, 6), msg.data))
    sim.process(body())
    sim.run()
    assert seen == [(0.001, "svc.ping", b"1")] and answers == [(0.002, b"pong:1")]
    server.unsubscribe_internal(sub)
    assert len(server.index.match("svc.ping").plain) == 0


def test_internal_queue_subscriptions_share_the_messages():
    sim = Simulation(seed=4)
    server = sim.add_server()
    got = []
    for i in range(2):
        server.subscribe_internal("q", lambda s, r, d, h, i=i: got.append(i), queue="g")
    for _ in range(20):
        server.send("q")
    assert len(got) == 20 and set(got) == {0, 1}


def test_server_send_without_listeners_answers_503_to_an_internal_reply_subscription():
    sim = Simulation()
    server = sim.add_server()
    statuses = []
    server.subscribe_internal("reply.to.me", lambda s, r, d, h: statuses.append((s, h)))
    server.send("nobody", b"x", reply="reply.to.me")
    assert statuses == [("reply.to.me", {"Status": "503", "Nats-Subject": "nobody"})]


def test_call_at_runs_at_the_virtual_time():
    sim = Simulation()
    server = sim.add_server()
    ran = []
    server.call_at(2.5, lambda: ran.append(sim.now))
    server.call_at(-1, lambda: ran.append(sim.now))      # in the past: at once
    sim.run()
    assert ran == [0.0, 2.5]


def test_run_until_stops_at_that_time():
    sim = Simulation()
    sim.add_server()

    def ticker():
        while True:
            yield sim.env.timeout(1)
    sim.process(ticker())
    sim.run(until=3.5)
    assert sim.now == 3.5


def test_close_removes_the_connections_subscriptions_at_the_server():
    sim = Simulation(latency=0.001)
    server = sim.add_server()
    c = sim.connect()
    c.subscribe("a")
    c.subscribe("b", queue="q")

    def body():
        yield c.flush()
        assert len(server.index) == 2
        c.close()
        yield sim.env.timeout(0.01)
    sim.process(body())
    sim.run()
    assert len(server.index) == 0 and c.is_closed
    with pytest.raises(Exception, match="closed"):
        c.publish("a")


def test_send_with_deliver_to_routes_on_it_and_shows_the_original_subject():
    sim = Simulation(latency=0.001)
    server = sim.add_server()
    c = sim.connect()
    inbox = c.new_inbox()
    sub = c.subscribe(inbox)
    got = []

    def body():
        yield c.flush()
        server.send("orders.a", b"x", reply="$JS.ACK.S.C.1.1.1.0.0", deliver_to=inbox)
        msg = yield sub.next_msg()
        got.append((msg.subject, msg.reply, msg.data))
    sim.process(body())
    sim.run()
    assert got == [("orders.a", "$JS.ACK.S.C.1.1.1.0.0", b"x")]


def test_run_puts_the_callers_gc_thresholds_back_also_when_a_process_raises():
    import gc

    saved = gc.get_threshold()
    seen = []
    try:
        gc.set_threshold(500, 7, 3)
        sim = Simulation(seed=0)

        def probe():
            seen.append(gc.get_threshold())
            yield sim.env.timeout(1.0)
            raise RuntimeError("boom")

        sim.process(probe())
        with pytest.raises(RuntimeError, match="boom"):
            sim.run()
        assert seen == [(10_000, 10, 10)]            # raised while running
        assert gc.get_threshold() == (500, 7, 3)      # and back afterwards
        gc.set_threshold(0, 7, 3)                      # automatic collection off: left alone
        Simulation(seed=0).run(until=1.0)
        assert gc.get_threshold() == (0, 7, 3)
    finally:
        gc.set_threshold(*saved)

"""Core NATS on a simulated 3-node cluster: routes, the one network, faults (timelines)."""

import pytest

from pmesh_sim import Simulation
from pmesh_sim.errors import ConfigError, NoRespondersError, NotSimulatedError, TimeoutError

LAT = 0.001


@pytest.fixture
def sim():
    s = Simulation(seed=3, latency=LAT)
    s.add_cluster(3)
    return s


def collect(sim, client, subject, queue=""):
    got = []
    client.subscribe(subject, queue=queue,
                     cb=lambda m: got.append((round(sim.now, 4), m.data)))
    return got


def test_interest_reaches_other_nodes_one_route_hop_after_the_sub(sim):
    collect(sim, sim.connect("n3", name="s"), "a.b")
    sim.run(until=0.0015)          # the SUB reached n3 at 0.001; RS+ is on the route
    assert [sim.servers[n].has_client_interest("a.b") for n in ("n1", "n2", "n3")] == \
        [False, False, True]
    sim.run(until=0.0025)
    assert [sim.servers[n].has_client_interest("a.b") for n in ("n1", "n2", "n3")] == \
        [True, True, True]
    assert [(e.fields["node"], e.fields["peer"]) for e in sim.trace
            if e.kind == "route_interest"] == [("n1", "n3"), ("n2", "n3")]


def test_publish_on_n1_reaches_a_subscriber_on_n3_by_one_route_hop(sim):
    got = collect(sim, sim.connect("n3", name="s"), "x")
    local = collect(sim, sim.connect("n2", name="t"), "x")
    sim.run(until=0.01)
    sim.connect("n1", name="p").publish("x", b"hi")
    sim.run(until=0.02)
    assert got == [(0.013, b"hi")] and local == [(0.013, b"hi")]
    forwards = [(e.fields["node"], e.fields["peer"]) for e in sim.trace if e.kind == "forward"]
    assert sorted(forwards) == [("n1", "n2"), ("n1", "n3")]   # never n2 -> n3: one hop


def test_queue_group_across_nodes_gives_each_message_to_one_member_drawn_cluster_wide(sim):
    counts = {}
    for i, node in enumerate(["n1", "n2", "n2"]):
        c = sim.connect(node, name=f"q{i}")
        c.subscribe("job", queue="workers",
                    cb=lambda m, i=i: counts.__setitem__(i, counts.get(i, 0) + 1))
    sim.run(until=0.01)
    pub = sim.connect("n1", name="p")
    for _ in range(600):
        pub.publish("job", b"")
    sim.run(until=1.0)
    assert sum(counts.values()) == 600
    # every member about 1/3 (n2 holds two of three): the local member is not preferred
    assert all(150 < counts[i] < 250 for i in range(3)), counts


def test_request_reply_and_no_responders_across_nodes(sim):
    svc = sim.connect("n3", name="svc")
    svc.subscribe("echo", cb=lambda m: m.respond(m.data * 2))
    asker = sim.connect("n1", name="asker")
    out = []

    def ask():
        yield sim.env.timeout(0.01)
        reply = yield asker.request("echo", b"ab", timeout=0.5)
        out.append((round(sim.now, 4), reply.data))
        try:
            yield asker.request("nobody", timeout=0.5)
        except NoRespondersError:
            out.append((round(sim.now, 4), "no responders"))
    sim.process(ask())
    sim.run(until=2)
    assert out[0][1] == b"abab" and out[1][1] == "no responders"
    assert out[1][0] - out[0][0] == pytest.approx(2 * LAT)   # answered by n1 itself


def test_partition_cuts_exactly_the_cross_partition_traffic_and_heal_restores_it(sim):
    on2 = collect(sim, sim.connect("n2", name="s2"), "x")
    on3 = collect(sim, sim.connect("n3", name="s3"), "x")
    pub = sim.connect("n1", name="p")
    sim.run(until=0.01)
    sim.partition([["n1", "n2"], ["n3"]])
    sim.run(until=0.02)
    pub.publish("x", b"during")
    sim.run(until=0.03)
    sim.heal()
    sim.run(until=0.04)
    pub.publish("x", b"after")
    sim.run(until=0.05)
    assert [d for _, d in on2] == [b"during", b"after"]
    assert [d for _, d in on3] == [b"after"]
    downs = sorted((e.fields["node"], e.fields["peer"]) for e in sim.trace
                   if e.kind == "route_down")
    assert downs == [("n1", "n3"), ("n2", "n3"), ("n3", "n1"), ("n3", "n2")]


def test_kill_client_reconnects_to_another_node_and_resubscribes(sim):
    c = sim.connect("n2", name="c", dont_randomize=True)     # pool: n2, then n1, n3
    got = collect(sim, c, "x")
    pub = sim.connect("n1", name="p")
    sim.run(until=0.01)
    sim.kill("n2")
    sim.run(until=0.5)
    pub.publish("x", b"while-down")            # c has no subscription anywhere now
    c.publish("x", b"buffered")                # nats-py buffers it while reconnecting
    sim.run(until=3.0)
    pub.publish("x", b"after")
    sim.run(until=3.1)
    events = [(e.kind, e.fields["node"], round(e.time, 3)) for e in sim.trace
              if e.fields.get("client") == "c" and e.kind in ("disconnected", "reconnected")]
    # n2 comes first in the pool, tried 0.011 s ago: wait 2 s, refused (2.013), then n1
    assert events == [("disconnected", "n2", 0.011), ("reconnected", "n1", 2.015)]
    assert [d for _, d in got] == [b"buffered", b"after"]
    assert c.server.name == "n1"


def test_kill_with_a_randomized_pool_reconnects_within_milliseconds_when_another_comes_first():
    times = []
    for seed in range(6):
        s = Simulation(seed=seed, latency=LAT)
        s.add_cluster(3)
        s.connect("n2", name="c")
        s.run(until=0.01)
        s.kill("n2")
        s.run(until=5)
        times += [round(e.time, 3) for e in s.trace if e.kind == "reconnected"]
    assert sorted(set(times)) == [0.013, 2.015]  # n1 or n3 first, or n2 first: 2 s wait


def test_pause_queues_messages_on_the_links_and_delivers_them_on_resume(sim):
    got = collect(sim, sim.connect("n3", name="s"), "x")
    pub = sim.connect("n1", name="p")
    sim.run(until=0.01)
    sim.pause("n3")
    pub.publish("x", b"1")
    pub.publish("x", b"2")
    sim.run(until=5.0)
    assert got == []
    sim.resume("n3")
    sim.run(until=5.01)
    assert got == [(5.001, b"1"), (5.001, b"2")]


def test_link_loss_drops_only_that_links_copies(sim):
    on2 = collect(sim, sim.connect("n2", name="s2"), "x")
    on3 = collect(sim, sim.connect("n3", name="s3"), "x")
    pub = sim.connect("n1", name="p")
    sim.run(until=0.01)
    sim.set_link("n1", "n3", loss=0.5, delay=0.1)
    for i in range(100):
        pub.publish("x", b"%d" % i)
    sim.run(until=1)
    assert len(on2) == 100 and 30 < len(on3) < 70
    assert min(t for t, _ in on3) == pytest.approx(0.013 + 0.1)


def test_same_seed_same_trace_with_faults():
    def run():
        s = Simulation(seed=9, latency=lambda rng: rng.uniform(0.0005, 0.002))
        s.add_cluster(3)
        for n in ("n1", "n2", "n3"):
            s.connect(n, name=f"q{n}").subscribe("j", queue="g", cb=lambda m: None)
        pub = s.connect("n1", name="p")

        def go():
            for i in range(50):
                pub.publish("j", b"x")
                yield s.env.timeout(0.01)
                if i == 10:
                    s.kill("n3")
                if i == 20:
                    s.partition([["n1"], ["n2"]])
                if i == 30:
                    s.heal()
                    s.restart("n3")
        s.process(go())
        s.run(until=5)
        return s.trace.dumps()
    assert run() == run()


def test_bad_fault_input_names_the_node():
    s = Simulation()
    s.add_cluster(3)
    with pytest.raises(ConfigError, match="kill 'n9': no such node"):
        s.kill("n9")
    with pytest.raises(ConfigError, match="node n2 is named twice"):
        s.partition([["n1", "n2"], ["n2", "n3"]])
    with pytest.raises(ConfigError, match="restart n1: n1 is running"):
        s.restart("n1")


def test_jetstream_on_every_node_a_killed_r1_stream_comes_back_with_its_node():
    s = Simulation()
    s.add_cluster(3, jetstream=True)                # replicated JetStream (sim/js_cluster.py)
    js = s.connect("n2", name="c", servers=["n1", "n2", "n3"]).jetstream()
    out = []

    def go():
        yield s.env.timeout(10)                     # the meta group elects its leader first
        info = yield js.add_stream(name="S", subjects=["s.>"])
        out.append(info.config.name)
        yield js.publish("s.1", b"x")
    s.process(go())
    s.run(until=11)
    assert out == ["S"]
    home = s.stream_leader("S")
    s.kill(home)                                    # its log is kept, as SIGKILL keeps files
    s.run(until=12)
    assert s.stream_leader("S") is None
    s.restart(home)
    s.run(until=13)
    assert s.stream_leader("S") == home
    assert [m.seq for m in s.servers[home].jetstream.js.streams["S"].msgs.values()] == [1]


# -- the same faults as scenario steps (sim/runner.py) ------------------------------------

from pmesh_sim.errors import ScenarioError  # noqa: E402
from pmesh_sim.scenario import Scenario  # noqa: E402
from pmesh_sim.sim.runner import run_sim  # noqa: E402


def scenario(steps, **top):
    return Scenario.from_dict({"name": "t", "servers": 3, "subscriptions": [
        {"name": "tap", "subject": "a.>"}], "steps": steps, **top})


def test_scenario_kill_pause_partition_steps_run_on_the_simulated_nodes():
    doc, trace = run_sim(scenario([
        {"at": 0.0, "op": "kill", "server": "n2"},
        {"at": 0.1, "op": "pause", "server": "n3"},
        {"at": 0.2, "op": "resume", "server": "n3"},
        {"at": 0.3, "op": "partition", "groups": [["n1"], ["n3"]]},
        {"at": 0.4, "op": "heal"},
        {"at": 0.5, "op": "restart", "server": "n2"},
        {"at": 0.6, "op": "publish", "subject": "a.1", "data": "x"},
        {"at": 0.7, "op": "power_loss", "server": "n3"}]))
    assert [s["result"]["outcome"] for s in doc["steps"]] == [
        "killed", "paused", "resumed", "partitioned", "healed", "restarted", "sent",
        "unsupported"]
    assert doc["subscriptions"]["tap"] == [{"subject": "a.1", "data": "x"}]
    assert not trace.check()


def test_scenario_kills_nodes_of_a_replicated_jetstream_cluster():
    doc, trace = run_sim(scenario([{"op": "kill", "server": "n1"}, {"op": "kill", "server": "n2"}],
                                  streams=[{"name": "S", "subjects": ["s.>"]}]))
    assert [s["result"]["outcome"] for s in doc["steps"]] == ["killed", "killed"]
    assert not trace.check()


def test_scenario_kill_of_a_replicated_consumers_leader_is_performed():
    doc, _ = run_sim(scenario(
        [{"op": "kill", "server": n} for n in ("n1", "n2", "n3")],
        streams=[{"name": "S", "subjects": ["s.>"], "num_replicas": 3}],
        consumers=[{"stream": "S", "durable_name": "D", "ack_policy": "explicit"}]))
    outcomes = [s["result"]["outcome"] for s in doc["steps"]]
    assert outcomes == ["killed", "killed", "killed"]      # the consumer is replicated now


@pytest.mark.parametrize("steps, message", [
    ([{"op": "restart", "server": "n2"}],
     "step 0 (restart): key 'server': cannot restart n2: it is running at this step"),
    ([{"op": "kill", "server": "n2"}, {"op": "kill", "server": "n2"}],
     "step 1 (kill): key 'server': cannot kill n2: it is killed at this step"),
    ([{"op": "partition", "groups": [["n1", "n2"], ["n2"]]}],
     "step 0 (partition): key 'groups': node 'n2' is named twice"),
    ([{"op": "pause", "server": "n7"}],
     "step 0 (pause): key 'server': unknown server 'n7'"),
])
def test_bad_fault_steps_are_refused_naming_the_step_and_the_node(steps, message):
    with pytest.raises(ScenarioError) as err:
        scenario(steps)
    assert message in str(err.value)


def test_publishes_while_reconnecting_fill_the_pending_buffer_then_raise(sim):
    from pmesh_sim.errors import OutboundBufferLimitError

    c = sim.connect("n2", name="c", dont_randomize=True, pending_size=100)
    sim.run(until=0.01)
    sim.kill("n2")
    sim.run(until=0.02)
    c.publish("x", b"a" * 60)
    with pytest.raises(OutboundBufferLimitError, match="pending buffer"):
        c.publish("x", b"b" * 60)
    with pytest.raises(ConfigError, match="n2 is down"):
        sim.connect("n2", name="late")


def test_five_nodes_a_queue_group_on_remote_nodes_only_gets_each_message_once():
    s = Simulation(seed=5, latency=LAT)
    assert [n.name for n in s.add_cluster(5)] == ["n1", "n2", "n3", "n4", "n5"]
    got = []
    for node in ("n3", "n4", "n5", "n5"):
        s.connect(node).subscribe("w", queue="g", cb=lambda m, node=node: got.append(node))
    tap = collect(s, s.connect("n5", name="tap"), "w")
    s.run(until=0.01)
    pub = s.connect("n1", name="p")
    for _ in range(40):
        pub.publish("w", b"")
    s.run(until=0.1)
    assert len(got) == 40 and len(tap) == 40
    assert set(got) == {"n3", "n4", "n5"}
    hops = {(e.fields["node"], e.fields["peer"]) for e in s.trace if e.kind == "forward"}
    assert {src for src, _ in hops} == {"n1"}          # only the publisher's node forwards


def test_add_cluster_takes_one_three_or_five_nodes():
    with pytest.raises(ConfigError, match="give 1, 3 or 5 nodes"):
        Simulation().add_cluster(4)


def test_flush_while_reconnecting_returns_at_once_as_in_nats_py(sim):
    c = sim.connect("n2", name="c", dont_randomize=True)
    sim.run(until=0.01)
    sim.kill("n2")
    sim.run(until=0.02)
    done = []

    def go():
        yield c.flush()
        done.append(round(sim.now, 3))
    sim.process(go())
    sim.run(until=0.03)
    assert done == [0.02]


def test_a_request_to_a_responder_on_a_paused_node_times_out(sim):
    # measured on a real 3-node cluster (SIGSTOP on n3): TimeoutError, not no responders;
    # the two publishes made meanwhile arrived right after SIGCONT
    svc = sim.connect("n3", name="svc")
    svc.subscribe("svc", cb=lambda m: m.respond(b"pong"))
    asker = sim.connect("n1", name="asker")
    out = []

    def go():
        yield sim.env.timeout(0.01)
        sim.pause("n3")
        try:
            yield asker.request("svc", timeout=1.0)
        except TimeoutError:
            out.append(("timeout", round(sim.now, 3)))
        sim.resume("n3")
    sim.process(go())
    sim.run(until=2)
    assert out == [("timeout", 1.01)]

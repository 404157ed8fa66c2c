"""Replicated JetStream on a simulated cluster (sim/js_cluster.py), as timelines."""

import json

import pytest

from pmesh_sim.cluster.timings import RaftTimings
from pmesh_sim.errors import NotSimulatedError, TimeoutError
from pmesh_sim.sim import Simulation

T = RaftTimings()


def cluster(seed=1, size=3):
    sim = Simulation(seed=seed, latency=0.001)
    sim.add_cluster(size, jetstream=True)
    return sim


def run(sim, gen, until):
    out = {}
    sim.process(gen(out))
    sim.run(until=until)
    return out


def create(c, name="S", replicas=3, **extra):
    body = {"name": name, "subjects": [f"{name.lower()}.>"], "num_replicas": replicas, **extra}
    return c.request(f"$JS.API.STREAM.CREATE.{name}", json.dumps(body).encode(), timeout=5)


def pub_all(sim, c, subject, n, out, key, timeout=2.0):
    """Publish n messages as requests; out[key] = list of (seq or None)."""
    got = out.setdefault(key, [])
    for i in range(n):
        try:
            r = yield c.request(subject, b"m%d" % i, timeout=timeout)
            got.append(json.loads(r.data).get("seq"))
        except TimeoutError:           # no pub ack: an outcome here, not a crash
            got.append(None)


def seqs(sim, stream="S"):
    return {n.name: [m.seq for m in n.jetstream.js.streams[stream].msgs.values()]
            for n in sim.servers.values() if n.state != "down"}


def test_meta_leader_answers_api_and_leaderless_api_times_out():
    sim = cluster()
    c = sim.connect("n2", name="c")

    def prog(out):
        try:                                               # no meta leader yet: timeout
            yield c.request("$JS.API.INFO", b"", timeout=1)
            out["early"] = True
        except TimeoutError:
            out["early"] = False
        yield sim.env.timeout(11)
        r = yield c.request("$JS.API.INFO", b"", timeout=1)
        out["info"] = json.loads(r.data)["type"]
    out = run(sim, prog, 20)
    assert out["early"] is False
    assert out["info"] == "io.nats.jetstream.api.v1.account_info_response"
    leaders = {(e.fields["node"]) for e in sim.trace if e.kind == "raft_leader"
               and e.fields["group"] == "_meta_"}
    assert len(leaders) == 1
    assert T.min_election_timeout <= min(e.time for e in sim.trace if e.kind == "raft_leader") \
        <= T.max_election_timeout + T.max_campaign_timeout


def test_r3_publish_acked_at_commit_and_replicas_agree():
    sim = cluster()
    sim.run(until=12)
    c = sim.connect("n3", name="c")

    def prog(out):
        r = yield create(c)
        out["create"] = json.loads(r.data)
        yield sim.env.timeout(1)
        yield from pub_all(sim, c, "s.x", 5, out, "acks")
        r = yield c.request("$JS.API.STREAM.INFO.S", b"", timeout=1)
        out["info"] = json.loads(r.data)
    out = run(sim, prog, 30)
    assert out["create"]["did_create"] is True
    assert out["acks"] == [1, 2, 3, 4, 5]
    assert seqs(sim) == {"n1": [1, 2, 3, 4, 5], "n2": [1, 2, 3, 4, 5], "n3": [1, 2, 3, 4, 5]}
    cl = out["info"]["cluster"]
    assert cl["name"] == "pmesh" and cl["leader"] == sim.stream_leader("S")
    assert cl["raft_group"].startswith("S-R3F-")
    assert sorted(r["name"] for r in cl["replicas"]) == sorted(
        set(sim.servers) - {cl["leader"]})
    assert all(r["current"] and "lag" not in r for r in cl["replicas"])
    # the ack left the leader only after the entry committed there
    group = cl["raft_group"]
    commits = [e for e in sim.trace if e.kind == "raft_commit" and e.fields["group"] == group
               and e.fields["node"] == cl["leader"]]
    acks = [e for e in sim.trace if e.kind == "send" and e.fields["node"] == cl["leader"]
            and e.fields["subject"].startswith("_INBOX")]
    applies = [e.time for e in sim.trace if e.kind == "raft_apply"
               and e.fields["group"] == group and e.fields["node"] == cl["leader"]]
    assert len(applies) == 5 and commits
    # every pub ack leaves the leader at the instant its entry is applied there, and the
    # leader sends nothing to the publisher between its proposal and that instant
    sent = [a.time for a in acks]
    assert all(t in sent for t in applies)
    proposed = [e.time for e in sim.trace if e.kind == "raft_append" and e.fields["group"] ==
                group and e.fields["node"] == cl["leader"] and e.fields["entry_kind"] == "normal"]
    assert len(proposed) == 5
    assert not any(p < t < a for p, a in zip(proposed, applies) for t in sent)
    assert all(p < a for p, a in zip(proposed, applies))


def test_a_round_of_async_publishes_is_one_append_and_every_replica_stores_it_in_order():
    sim = cluster()
    sim.run(until=12)
    c = sim.connect("n3", name="c")
    js = c.jetstream()

    def prog(out):
        yield create(c)
        yield sim.env.timeout(1)
        for round_ in range(3):
            acks = [js.publish_async(f"s.{round_}.{i}", b"x") for i in range(50)]
            yield js.publish_async_completed()
            out.setdefault("seqs", []).extend(a.value.seq for a in acks)
    out = run(sim, prog, 30)
    assert out["seqs"] == list(range(1, 151))
    assert seqs(sim) == {n: list(range(1, 151)) for n in ("n1", "n2", "n3")}
    subjects = {n.name: [m.subject for m in n.jetstream.js.streams["S"].msgs.values()]
                for n in sim.servers.values()}
    assert subjects["n1"] == subjects["n2"] == subjects["n3"]
    group = sim.servers["n1"].jetstream.assignments["S"]["group"]
    appends = [e.fields for e in sim.trace if e.kind == "raft_append"
               and e.fields["group"] == group and e.fields["entry_kind"] == "normal"]
    # one append a round (the publishes arrive together), stored by each of the 3 peers
    assert [a["entries"] for a in appends] == [50] * 9
    assert len({a["log_index"] for a in appends}) == 3


def test_leader_kill_elects_new_leader_and_publishes_continue():
    sim = cluster(seed=2)
    sim.run(until=12)
    c = sim.connect("n1", name="c", servers=["n1", "n2", "n3"])

    def prog(out):
        yield create(c)
        yield sim.env.timeout(1)
        yield from pub_all(sim, c, "s.x", 3, out, "before")
        out["old"] = old = sim.stream_leader("S")
        out["killed_at"] = sim.now
        sim.kill(old)
        while sim.stream_leader("S") in (None, old):
            yield sim.env.timeout(0.1)
        out["new_at"] = sim.now
        yield sim.env.timeout(3)          # the client may have had to reconnect
        yield from pub_all(sim, c, "s.x", 3, out, "after")
    out = run(sim, prog, 60)
    assert out["before"] == [1, 2, 3]
    gap = out["new_at"] - out["killed_at"]
    assert T.min_election_timeout - 1 <= gap <= T.max_election_timeout + 1, gap
    assert out["after"] == [4, 5, 6]
    live = seqs(sim)
    assert len(live) == 2 and all(v == [1, 2, 3, 4, 5, 6] for v in live.values())


def test_minority_partition_loses_quorum_no_acks():
    sim = cluster(seed=3)
    sim.run(until=12)
    c = sim.connect("n1", name="c")

    conn = None

    def main(out):
        nonlocal conn
        yield create(c)
        yield sim.env.timeout(1)
        out["leader"] = leader = sim.stream_leader("S")
        conn = sim.connect(leader, name="p")
        others = [n for n in sim.servers if n != leader]
        sim.partition([[leader], others])
        yield from pub_all(sim, conn, "s.x", 2, out, "cut")
    out = run(sim, main, 40)
    assert out["cut"] == [None, None]
    leader = out["leader"]
    assert seqs(sim)[leader] == []       # never committed, never applied
    downs = [e for e in sim.trace if e.kind == "raft_stepdown" and e.fields["node"] == leader
             and e.fields["reason"] == "lost_quorum" and e.fields["group"].startswith("S-")]
    assert downs, "the cut-off stream leader steps down for lost quorum"


def test_follower_restart_catches_up():
    sim = cluster(seed=4)
    sim.run(until=12)
    c = sim.connect("n1", name="c", servers=["n1", "n2", "n3"])

    def prog(out):
        yield create(c)
        yield sim.env.timeout(1)
        leader = sim.stream_leader("S")
        out["follower"] = f = next(n for n in ("n1", "n2", "n3") if n != leader)
        p = sim.connect(leader, name="p")     # on the leader: the kill does not move it
        yield from pub_all(sim, p, "s.x", 2, out, "a")
        sim.kill(f)
        yield from pub_all(sim, p, "s.x", 3, out, "b")
        sim.restart(f)
        yield sim.env.timeout(3)
        yield from pub_all(sim, p, "s.x", 1, out, "c")
        yield sim.env.timeout(1)
    out = run(sim, prog, 60)
    assert out["a"] + out["b"] + out["c"] == [1, 2, 3, 4, 5, 6]
    state = seqs(sim)
    assert len(state) == 3 and all(v == [1, 2, 3, 4, 5, 6] for v in state.values()), state
    f = out["follower"]
    assert any(e.kind == "raft_recover" and e.fields["node"] == f for e in sim.trace)
    assert any(e.kind == "raft_catchup" and e.fields["node"] == f
               and e.fields["group"].startswith("S-R3F-") and e.fields["phase"] == "start"
               for e in sim.trace)


def test_same_seed_same_elections_and_trace():
    def once():
        sim = cluster(seed=9)
        sim.run(until=12)
        c = sim.connect("n2", name="c", servers=["n1", "n2", "n3"])

        def prog(out):
            yield create(c)
            yield sim.env.timeout(1)
            yield from pub_all(sim, c, "s.x", 2, out, "a")
            sim.kill(sim.stream_leader("S"))
            yield sim.env.timeout(12)
            yield from pub_all(sim, c, "s.x", 2, out, "b")
        run(sim, prog, 40)
        assert sim.trace.check() == []         # every record is a registered kind
        return [(e.time, e.kind, sorted(e.fields.items())) for e in sim.trace]
    a, b = once(), once()
    assert a == b
    assert sum(1 for e in a if e[1] == "raft_leader") >= 3


def test_r1_stream_is_placed_on_one_node_and_consumer_faults_are_refused():
    sim = cluster(seed=5)
    sim.run(until=12)
    c = sim.connect("n1", name="c")

    def prog(out):
        r = yield create(c, replicas=1)
        out["create"] = json.loads(r.data)
        yield sim.env.timeout(0.5)
        yield from pub_all(sim, c, "s.x", 2, out, "acks")
        r = yield c.request("$JS.API.STREAM.INFO.S", b"", timeout=1)
        out["info"] = json.loads(r.data)
        r = yield c.request("$JS.API.CONSUMER.DURABLE.CREATE.S.D",
                            json.dumps({"stream_name": "S", "config": {
                                "durable_name": "D", "ack_policy": "explicit"}}).encode(),
                            timeout=1)
        out["consumer"] = json.loads(r.data)
    out = run(sim, prog, 20)
    assert out["acks"] == [1, 2]
    home = out["info"]["cluster"]["leader"]
    assert out["info"]["cluster"] == {"name": "pmesh", "leader": home}
    holders = [n for n, v in seqs(sim).items() if v]
    assert holders == [home]
    assert out["consumer"]["name"] == "D"
    # an R1 stream's consumer does not move: killing its node is allowed (nothing to move)
    sim3 = cluster(seed=6)
    sim3.run(until=12)
    c3 = sim3.connect("n1", name="c")

    def prog3(out):
        yield create(c3)
        yield sim3.env.timeout(1)
        yield c3.request("$JS.API.CONSUMER.DURABLE.CREATE.S.D",
                         json.dumps({"stream_name": "S", "config": {
                             "durable_name": "D", "ack_policy": "explicit"}}).encode(),
                         timeout=1)
    run(sim3, prog3, 20)
    sim3.kill(sim3.stream_leader("S"))      # its consumer is replicated: allowed now


def test_single_node_cluster_keeps_the_single_server_host():
    from pmesh_sim.sim.js_host import JetStreamHost
    sim = Simulation(seed=0)
    (n1,) = sim.add_cluster(1, jetstream=True)
    assert type(n1.jetstream) is JetStreamHost and n1.raft is None


def test_placement_puts_a_killed_peer_last_and_needs_a_quorum_online():
    # events.go marks a SIGKILLed server offline only at the orphan sweep (every 90 s from
    # start, once 150 s unheard); selectPeerGroup places offline peers last and refuses
    # (10005) only when fewer than a quorum would be online. Measured on a 3-node 2.15.1
    # cluster with n3 killed: R3 creates 12, 100, 170 and 200 s later all succeed, n3 among
    # the replicas, shown "offline": true from the 200 s one on.
    sim = cluster(seed=7)
    sim.run(until=12)
    c = sim.connect(sim.meta_leader(), name="c")
    down = [n for n in sim.servers if n != sim.meta_leader()]

    def prog(out):
        sim.kill(down[0])
        yield sim.env.timeout(8)
        r = yield create(c, name="A")
        out["early"] = json.loads(r.data)
        yield sim.env.timeout(190 - sim.now)          # the sweep at 180 s marks it offline
        r = yield create(c, name="B")
        out["late"] = json.loads(r.data)
    out = run(sim, prog, 200)
    for key, offline in (("early", False), ("late", True)):
        assert out[key]["did_create"] is True
        dead = next(r for r in out[key]["cluster"]["replicas"] if r["name"] == down[0])
        assert dead["current"] is False and dead.get("offline", False) is offline


def test_placement_prefers_online_peers_and_spreads_replicated_streams():
    sim = cluster(seed=17, size=5)
    sim.run(until=12)
    c = sim.connect(sim.meta_leader(), name="c")
    dead = next(n for n in sim.servers if n != sim.meta_leader())

    def prog(out):
        sim.kill(dead)
        yield sim.env.timeout(190 - sim.now)          # offline after the sweep at 180 s
        for i in range(4):
            r = yield create(c, name=f"S{i}")
            body = json.loads(r.data)
            out.setdefault("peers", []).append(
                [body["cluster"]["leader"]] + [x["name"] for x in body["cluster"]["replicas"]])
    out = run(sim, prog, 220)
    placed = [p for peers in out["peers"] for p in peers]
    assert dead not in placed and len(placed) == 12
    assert sorted(placed.count(n) for n in sim.servers if n != dead) == [3, 3, 3, 3]


def test_stream_leader_stepdown_hands_over_and_publishes_continue():
    sim = cluster(seed=8)
    sim.run(until=12)
    c = sim.connect("n1", name="c")

    def prog(out):
        yield create(c)
        yield sim.env.timeout(1)
        out["old"] = sim.stream_leader("S")
        r = yield c.request("$JS.API.STREAM.LEADER.STEPDOWN.S", b"", timeout=1)
        out["answer"] = json.loads(r.data)
        yield sim.env.timeout(0.5)
        out["new"] = sim.stream_leader("S")
        yield from pub_all(sim, c, "s.x", 2, out, "acks")
    out = run(sim, prog, 30)
    assert out["answer"] == {"type": "io.nats.jetstream.api.v1.stream_leader_stepdown_response",
                             "success": True}
    assert out["new"] not in (None, out["old"])      # a leader transfer: within milliseconds
    assert out["acks"] == [1, 2]
    assert all(v == [1, 2] for v in seqs(sim).values())


def test_without_a_meta_leader_the_api_answers_10008_and_a_leaderless_stream_has_no_responders():
    from pmesh_sim.errors import NoRespondersError
    sim = cluster(seed=11)
    sim.run(until=12)
    c = sim.connect("n1", name="c")

    def prog(out):
        yield create(c)
        yield sim.env.timeout(1)
        sim.kill("n2")
        sim.kill("n3")                     # n1 alone: no quorum in any group
        yield sim.env.timeout(25)          # every leader on n1 stepped down (lost quorum)
        r = yield c.request("$JS.API.INFO", b"", timeout=1)
        out["info"] = json.loads(r.data)
        try:
            yield c.request("s.x", b"late", timeout=1)
            out["pub"] = "acked"
        except NoRespondersError:
            out["pub"] = "no_responders"
    out = run(sim, prog, 60)
    assert out["info"]["error"]["err_code"] == 10008
    assert out["pub"] == "no_responders"
    assert sim.meta_leader() is None and sim.stream_leader("S") is None


def test_a_dead_follower_is_not_current_and_lags():
    sim = cluster(seed=4)
    sim.run(until=12)
    c = sim.connect("n1", name="c")

    def prog(out):
        yield create(c)
        yield sim.env.timeout(1)
        leader = sim.stream_leader("S")
        f = next(n for n in ("n1", "n2", "n3") if n != leader)
        p = sim.connect(leader, name="p")
        sim.kill(f)
        yield from pub_all(sim, p, "s.x", 3, out, "acks")
        yield sim.env.timeout(2)
        r = yield p.request("$JS.API.STREAM.INFO.S", b"", timeout=1)
        out["dead"] = f
        out["replicas"] = {x["name"]: x for x in json.loads(r.data)["cluster"]["replicas"]}
    out = run(sim, prog, 30)
    dead = out["replicas"][out["dead"]]
    assert dead["current"] is False and dead["lag"] == 3 and dead["active"] > 2e9
    live = [x for n, x in out["replicas"].items() if n != out["dead"]]
    assert live and all(x["current"] for x in live)


def test_partitioned_leader_is_replaced_its_uncommitted_publish_dropped_and_heal_converges():
    sim = cluster(seed=12)
    sim.run(until=12)
    c = sim.connect("n1", name="c")

    def prog(out):
        yield create(c)
        yield sim.env.timeout(1)
        out["old"] = old = sim.stream_leader("S")
        others = [n for n in sim.servers if n != old]
        p_old = sim.connect(old, name="p_old")
        p_new = sim.connect(others[0], name="p_new")
        yield from pub_all(sim, p_old, "s.x", 1, out, "before")
        sim.partition([[old], others])
        yield from pub_all(sim, p_old, "s.x", 1, out, "cut_off")   # never committed
        yield sim.env.timeout(12)
        out["new"] = next(n for n in others if "S" in sim.servers[n].jetstream.led)
        yield from pub_all(sim, p_new, "s.x", 2, out, "majority")
        sim.heal()
        yield sim.env.timeout(15)
        out["leaders"] = [n for n in sim.servers if "S" in sim.servers[n].jetstream.led]
    out = run(sim, prog, 60)
    assert out["before"] == [1] and out["cut_off"] == [None] and out["majority"] == [2, 3]
    assert out["new"] != out["old"] and out["leaders"] == [out["new"]]
    state = seqs(sim)
    assert all(v == [1, 2, 3] for v in state.values()), state
    datas = {n: [m.data for m in s.jetstream.js.streams["S"].msgs.values()]
             for n, s in sim.servers.items()}
    assert all(d == [b"m0", b"m0", b"m1"] for d in datas.values()), datas
    assert any(e.kind == "raft_truncate" and e.fields["node"] == out["old"] for e in sim.trace)


def test_paused_leader_is_replaced_and_rejoins_as_follower():
    sim = cluster(seed=13)
    sim.run(until=12)
    c = sim.connect("n1", name="c")

    def prog(out):
        yield create(c)
        yield sim.env.timeout(1)
        out["old"] = old = sim.stream_leader("S")
        other = next(n for n in sim.servers if n != old)
        p = sim.connect(other, name="p")
        sim.pause(old)
        yield sim.env.timeout(12)
        yield from pub_all(sim, p, "s.x", 2, out, "acks")
        sim.resume(old)
        yield sim.env.timeout(3)
        out["leaders"] = [n for n in sim.servers if "S" in sim.servers[n].jetstream.led]
    out = run(sim, prog, 40)
    assert out["acks"] == [1, 2]
    assert len(out["leaders"]) == 1 and out["leaders"] != [out["old"]]
    assert all(v == [1, 2] for v in seqs(sim).values())


def test_delete_and_recreate_a_replicated_stream():
    sim = cluster(seed=14)
    sim.run(until=12)
    c = sim.connect("n1", name="c")

    def prog(out):
        yield create(c)
        yield from pub_all(sim, c, "s.x", 1, out, "a")
        r = yield c.request("$JS.API.STREAM.DELETE.S", b"", timeout=1)
        out["deleted"] = json.loads(r.data)
        yield sim.env.timeout(0.5)
        out["groups_after_delete"] = sum(len(s.raft.nodes) for s in sim.servers.values())
        r = yield create(c)
        out["again"] = json.loads(r.data)
        yield from pub_all(sim, c, "s.x", 1, out, "b")
    out = run(sim, prog, 30)
    assert out["deleted"]["success"] is True
    assert out["groups_after_delete"] == 3              # only the meta group is left
    assert out["again"]["did_create"] is True and out["a"] == [1] and out["b"] == [1]
    assert all(v == [1] for v in seqs(sim).values())


def test_a_memory_stream_follower_restarts_empty_and_catches_up_from_the_leader():
    sim = cluster(seed=15)
    sim.run(until=12)
    c = sim.connect("n1", name="c")

    def prog(out):
        yield create(c, storage="memory")
        yield sim.env.timeout(1)
        leader = sim.stream_leader("S")
        out["f"] = f = next(n for n in sim.servers if n != leader)
        p = sim.connect(leader, name="p")
        yield from pub_all(sim, p, "s.x", 3, out, "a")
        sim.kill(f)
        sim.restart(f)
        st = sim.servers[f].jetstream.js.streams.get("S")   # known once its meta log commits
        out["right_after"] = len(st.msgs) if st is not None else 0
        yield sim.env.timeout(3)                 # a heartbeat finds it behind: catch-up
    out = run(sim, prog, 30)
    assert out["a"] == [1, 2, 3] and out["right_after"] == 0
    assert all(v == [1, 2, 3] for v in seqs(sim).values())
    assert any(e.kind == "raft_catchup" and e.fields["node"] == out["f"]
               and e.fields["phase"] == "start" and e.fields["first_index"] == 1
               and e.fields["group"].startswith("S-") for e in sim.trace)


def test_a_cluster_scenario_gives_the_same_trace_for_the_same_seed():
    from pmesh_sim.scenario import load_scenario
    from pmesh_sim.sim.runner import run_sim
    sc = load_scenario("scenarios/conformance/cluster-r3-kill-restart-catchup.yaml")
    runs = [run_sim(sc) for _ in range(2)]
    (d1, t1), (d2, t2) = runs
    assert d1 == d2
    assert [(e.time, e.kind, e.fields) for e in t1] == [(e.time, e.kind, e.fields) for e in t2]
    assert any(e.kind == "raft_leader" for e in t1) and not t1.check()


def test_a_stream_leader_answers_stream_info_without_a_meta_leader():
    # jsStreamInfoRequest: the stream's leader answers even with no meta leader; the account
    # info (a meta leader request) gets 10008 from the node that knows it has none
    sim = cluster(seed=16)
    sim.run(until=12)
    c = sim.connect("n1", name="c")

    def prog(out):
        yield create(c, replicas=1)
        yield sim.env.timeout(1)
        home = sim.stream_leader("S")
        p = sim.connect(home, name="p", no_echo=True)
        for n in sim.servers:
            if n != home:
                sim.kill(n)
        yield sim.env.timeout(30)            # the lone meta member lost its leader
        got = []
        p.subscribe("_INBOX.info", cb=lambda m: got.append(json.loads(m.data)))
        yield p.flush()
        p.publish("$JS.API.STREAM.INFO.S", b"", reply="_INBOX.info")
        p.publish("$JS.API.INFO", b"", reply="_INBOX.info")
        yield sim.env.timeout(0.5)
        out["answers"] = got
        out["meta"] = sim.meta_leader()
    out = run(sim, prog, 60)
    assert out["meta"] is None
    info, account = out["answers"]                # exactly one answer to each
    assert info["state"]["messages"] == 0 and info["cluster"]["leader"] in sim.servers
    assert account["error"]["err_code"] == 10008


def test_the_stream_figure_shows_one_replica_of_a_replicated_stream():
    from pmesh_sim.scenario import load_scenario
    from pmesh_sim.sim.runner import run_sim
    from pmesh_sim.viz.stream import stream_series
    _, trace = run_sim(load_scenario("scenarios/conformance/cluster-r3-kill-restart-catchup.yaml"))
    stores = [e for e in trace if e.kind == "store" and e.fields["stream"] == "EVT"]
    assert len({e.fields["node"] for e in stores}) == 3     # every replica records its store
    series = stream_series(trace, "EVT")
    assert [s[1:] for s in series if s[1]] == [(1, 1, 1), (2, 1, 2), (3, 1, 3), (4, 1, 4),
                                               (5, 1, 5)]


def test_run_without_until_is_refused_on_a_jetstream_cluster_instead_of_hanging():
    from pmesh_sim.errors import ConfigError
    sim = cluster()
    with pytest.raises(ConfigError, match="give run\\(until=...\\)"):
        sim.run()


def test_a_stream_update_applies_on_every_replica_and_replica_changes_are_refused():
    sim = cluster(seed=18)
    sim.run(until=12)
    c = sim.connect("n1", name="c")
    body = {"name": "S", "subjects": ["s.>"], "num_replicas": 3}

    def prog(out):
        yield create(c)
        yield from pub_all(sim, c, "s.x", 3, out, "a")
        r = yield c.request("$JS.API.STREAM.UPDATE.S", json.dumps({**body, "max_msgs": 1}).encode(),
                            timeout=1)
        out["update"] = json.loads(r.data)
        r = yield c.request("$JS.API.STREAM.UPDATE.S",
                            json.dumps({**body, "num_replicas": 1}).encode(), timeout=1)
        out["scale"] = r
    out = run(sim, prog, 30)
    assert out["update"]["config"]["max_msgs"] == 1
    assert all(v == [3] for v in seqs(sim).values())
    assert out["scale"].headers == {"Pmesh-Not-Simulated": "changing num_replicas"}


def _power_cut_all(sync_interval):
    """Publish 2, wait past a sync tick at 60 s, publish 2 more, cut power on every node,
    restart them all; the stream's state on each node afterwards."""
    sim = Simulation(seed=19, latency=0.001)
    sim.add_cluster(3, jetstream=True, sync_interval=sync_interval)
    sim.run(until=12)
    c = sim.connect("n1", name="c", servers=["n1", "n2", "n3"])

    def prog(out):
        yield create(c)
        yield from pub_all(sim, c, "s.x", 2, out, "a")
        yield sim.env.timeout(65 - sim.now)
        yield from pub_all(sim, c, "s.x", 2, out, "b")
        for n in ("n1", "n2", "n3"):
            sim.power_loss(n)
        for n in ("n1", "n2", "n3"):
            sim.restart(n)
        yield sim.env.timeout(40)
    out = run(sim, prog, 120)
    assert out["a"] + out["b"] == [1, 2, 3, 4]             # all four were acked
    return sim, {n: [m.data for m in s.jetstream.js.streams["S"].msgs.values()]
                 for n, s in sim.servers.items()}


def test_power_loss_of_every_node_loses_the_acked_writes_after_the_last_sync():
    sim, state = _power_cut_all(60)
    assert state == {n: [b"m0", b"m1"] for n in ("n1", "n2", "n3")}
    lost = [e for e in sim.trace if e.kind == "raft_lost" and e.fields["group"].startswith("S-")]
    assert len(lost) == 3 and all(e.fields["lost"] == 2 for e in lost)


def test_power_loss_with_sync_always_loses_nothing():
    sim, state = _power_cut_all("always")
    assert state == {n: [b"m0", b"m1", b"m0", b"m1"] for n in ("n1", "n2", "n3")}
    assert not any(e.kind == "raft_lost" for e in sim.trace)


def test_power_loss_of_one_follower_is_repaired_by_catch_up():
    sim = cluster(seed=20)
    sim.run(until=12)
    c = sim.connect("n1", name="c")

    def prog(out):
        yield create(c)
        yield sim.env.timeout(1)
        leader = sim.stream_leader("S")
        f = next(n for n in sim.servers if n != leader)
        p = sim.connect(leader, name="p")
        yield from pub_all(sim, p, "s.x", 3, out, "a")
        sim.power_loss(f)                   # nothing synced yet (the first sync is at 120 s)
        sim.restart(f)
        yield sim.env.timeout(20)
    out = run(sim, prog, 60)
    assert out["a"] == [1, 2, 3]
    assert all(v == [1, 2, 3] for v in seqs(sim).values())


def test_power_loss_is_refused_where_nothing_models_it_and_bad_sync_intervals_too():
    from pmesh_sim.errors import ConfigError
    sim = Simulation()
    sim.add_cluster(3)                                   # core NATS only
    with pytest.raises(NotSimulatedError, match="power_loss of n2"):
        sim.power_loss("n2")
    with pytest.raises(ConfigError, match="sync_interval=-1"):
        Simulation().add_cluster(3, jetstream=True, sync_interval=-1)


def _scenario(steps, **top):
    from pmesh_sim.scenario import Scenario
    return Scenario.from_dict({"name": "t", "servers": 3, "streams": [
        {"name": "S", "subjects": ["s.>"], "num_replicas": 3}], "steps": steps, **top})


def test_stepdown_op_with_preferred_puts_the_leader_where_asked():
    from pmesh_sim.sim.runner import run_sim
    doc, trace = run_sim(_scenario([
        {"op": "stepdown", "stream": "S", "preferred": "n3"},
        {"op": "stepdown", "stream": "S", "preferred": "n3"},      # it leads already
        {"op": "stepdown", "stream": "S"},
        {"at": 1.0, "op": "js_publish", "subject": "s.1", "data": "x"},   # a new leader
        {"op": "stepdown", "meta": True}]))
    results = [s["result"] for s in doc["steps"]]
    assert results[:2] == [{"leader": "n3"}, {"leader": "n3"}]
    assert results[2] == {"outcome": "stepped_down"} and results[3]["seq"] == 1
    assert results[4] == {"outcome": "stepped_down"}
    assert [e.fields.get("preferred") for e in trace if e.kind == "stepdown"] == [
        "n3", "n3", None, None]
    assert not trace.check()


def test_placement_tags_choose_the_node_and_unknown_tags_get_10005():
    from pmesh_sim.sim.runner import run_sim
    doc, _ = run_sim(_scenario([], streams=[
        {"name": "U", "subjects": ["u.>"], "placement": {"tags": ["node:n9"]}}]))
    assert doc["setup"][0]["result"]["error"]["err_code"] == 10005
    sim = cluster(seed=21)
    sim.run(until=12)
    c = sim.connect("n1", name="c")

    def prog(out):
        for name in ("A", "B"):
            r = yield create(c, name=name, replicas=1, placement={"tags": ["node:n2"]})
            out[name] = json.loads(r.data)["cluster"]
    out = run(sim, prog, 20)
    assert out["A"] == out["B"] == {"name": "pmesh", "leader": "n2"}


# ---------------------------------------------------------------------------- replicated consumers

def _consumer_scenario(steps, consumer=None, seed=0):
    from pmesh_sim.scenario import Scenario
    return Scenario.from_dict({
        "name": "c", "servers": 3, "seed": seed,
        "streams": [{"name": "S", "subjects": ["s.>"], "num_replicas": 3}],
        "consumers": [{"stream": "S", "durable_name": "w", "ack_policy": "explicit",
                       "ack_wait": 2.0, **(consumer or {})}],
        "steps": steps})


FETCH3 = [{"op": "js_publish", "subject": f"s.{i}", "data": str(i)} for i in (1, 2, 3)] + [
    {"op": "fetch", "consumer": "w", "batch": 3, "timeout": 1.0,
     "then": {1: "ack_sync", 2: "ignore", 3: "ignore"}}]


def test_a_consumer_of_an_r3_stream_is_r3_with_its_own_group_and_cluster_info():
    from pmesh_sim.sim.runner import run_sim
    doc, trace = run_sim(_consumer_scenario(FETCH3 + [
        {"at": 0.5, "op": "request", "subject": "$JS.API.CONSUMER.INFO.S.w", "data": ""}]))
    info = json.loads(doc["steps"][-1]["result"]["data"])
    cluster = info["cluster"]
    assert cluster["raft_group"].startswith("C-R3F-")
    assert {r["name"] for r in cluster["replicas"]} | {cluster["leader"]} == {"n1", "n2", "n3"}
    assert all(r["current"] for r in cluster["replicas"])
    assert list(info)[list(info).index("num_pending") + 1] == "cluster"   # the server's order
    groups = {e.fields["group"] for e in trace if e.kind == "raft_leader"}
    assert cluster["raft_group"] in groups
    assert not trace.check()


def test_an_r1_consumer_on_an_r3_stream_has_one_peer_among_the_streams():
    from pmesh_sim.sim.runner import run_sim
    doc, _ = run_sim(_consumer_scenario([
        {"op": "request", "subject": "$JS.API.CONSUMER.INFO.S.w", "data": ""}],
        consumer={"num_replicas": 1}))
    cluster = json.loads(doc["steps"][0]["result"]["data"])["cluster"]
    assert set(cluster) == {"name", "leader"} and cluster["leader"] in ("n1", "n2", "n3")


def test_a_stream_update_answer_counts_the_consumers_its_leader_hosts():
    """processClusterUpdateStream answers with the leader's mset.state(): an R1 consumer on
    another peer is not counted there, while stream info counts every consumer."""
    from pmesh_sim.sim.runner import run_sim
    update = {"op": "update_stream", "name": "S", "subjects": ["s.>"], "num_replicas": 3,
              "max_msgs": 5}
    counts = set()
    for seed in range(6):
        doc, trace = run_sim(_consumer_scenario(
            [{"op": "request", "subject": "$JS.API.CONSUMER.INFO.S.w", "data": ""},
             {"op": "request", "subject": "$JS.API.STREAM.INFO.S", "data": ""},
             update, {"op": "stream_info", "stream": "S"}],
            consumer={"num_replicas": 1}, seed=seed))
        host = json.loads(doc["steps"][0]["result"]["data"])["cluster"]["leader"]
        leader = json.loads(doc["steps"][1]["result"]["data"])["cluster"]["leader"]
        got = doc["steps"][2]["result"]["consumer_count"]
        assert got == (1 if host == leader else 0), (seed, host, leader)
        assert doc["steps"][3]["result"]["consumer_count"] == 1
        counts.add(got)
    assert counts == {0, 1}                 # both placements occur among these seeds


def test_consumer_stepdown_keeps_pending_acks_and_the_new_leader_redelivers_them():
    from pmesh_sim.sim.runner import run_sim
    doc, trace = run_sim(_consumer_scenario(FETCH3 + [
        {"op": "stepdown", "consumer": "w", "preferred": "n3"},
        {"op": "consumer_info", "consumer": "w"},
        {"at": 3.0, "op": "fetch", "consumer": "w", "batch": 3, "timeout": 1.0,
         "then": "ack_sync"},
        {"op": "consumer_info", "consumer": "w"}]))
    results = [s["result"] for s in doc["steps"]]
    assert results[4] == {"leader": "n3"}
    assert results[5]["num_ack_pending"] == 2
    assert results[5]["ack_floor"] == {"consumer_seq": 1, "stream_seq": 1}
    assert [(m["stream_seq"], m["num_delivered"]) for m in results[6]["messages"]] == [
        (2, 2), (3, 2)]
    assert results[7]["ack_floor"] == {"consumer_seq": 5, "stream_seq": 3}
    leaders = [e.fields["node"] for e in trace
               if e.kind == "raft_leader" and e.fields["group"].startswith("C-")]
    assert leaders[-1] == "n3"


def test_every_replica_of_a_consumer_applies_the_same_state():
    from pmesh_sim.sim.runner import run_sim, _SimBackend
    seen = {}
    original = _SimBackend.fault

    def fault(self, op, args):         # look at every node's copy when the step runs
        seen.update({n: (c.dseq, c.sseq, tuple(sorted(c.pending)), c.adflr, c.asflr)
                     for n, s in self.sim.servers.items()
                     for c in [s.jetstream.js.streams["S"].consumers["w"]]})
        return original(self, op, args)

    _SimBackend.fault = fault
    try:
        run_sim(_consumer_scenario(FETCH3 + [{"at": 0.5, "op": "stepdown", "consumer": "w"}]))
    finally:
        _SimBackend.fault = original
    assert set(seen.values()) == {(4, 4, (2, 3), 1, 1)}


def test_a_killed_consumer_leader_is_replaced_and_a_waiting_pull_is_told():
    sim = cluster(seed=3)
    sim.run(until=12)
    c = sim.connect("n1", name="c", servers=["n1", "n2", "n3"])

    def prog(out):
        yield create(c)
        yield sim.env.timeout(0.5)
        r = yield c.request("$JS.API.CONSUMER.DURABLE.CREATE.S.w", json.dumps({
            "stream_name": "S", "config": {"durable_name": "w", "ack_policy": "explicit",
                                           "ack_wait": 2_000_000_000}}).encode(), timeout=5)
        out["leader"] = json.loads(r.data)["cluster"]["leader"]
        inbox = "_INBOX.w"
        got = out.setdefault("got", [])
        c.subscribe(inbox, cb=lambda m: got.append(
            (m.headers or {}).get("Status") or m.subject))
        c.publish("$JS.API.CONSUMER.MSG.NEXT.S.w", b'{"batch": 1, "expires": 30000000000}',
                  reply=inbox)
        yield sim.env.timeout(0.5)
        out["waiting"] = [n.name for n in sim.servers.values()
                          if n.jetstream.js.streams["S"].consumers["w"].waiting]
    out = run(sim, prog, 20)
    leader = out["leader"]
    assert sim.consumer_leader("S", "w") == leader
    assert out["waiting"] == [leader]
    others = [n for n in ("n1", "n2", "n3") if n != leader]
    sim.kill(leader)
    sim.run(until=40)
    new = [n for n in others if sim.servers[n].jetstream.cled]
    assert new == [sim.consumer_leader("S", "w")] and out["got"] == ["409"]   # Leadership Change


def test_same_seed_same_consumer_elections_and_trace():
    from pmesh_sim.sim.runner import run_sim
    steps = FETCH3 + [{"op": "stepdown", "consumer": "w"},
                      {"at": 3.0, "op": "fetch", "consumer": "w", "batch": 3, "timeout": 1.0}]
    runs = [run_sim(_consumer_scenario(steps, seed=s)) for s in (4, 4, 5)]
    text = [json.dumps([e.to_dict() if hasattr(e, "to_dict") else repr(e) for e in t])
            for _, t in runs]
    assert text[0] == text[1] and text[0] != text[2]
    assert runs[0][0] == runs[1][0]


def test_an_r1_consumer_on_a_workqueue_stream_is_refused_so_its_replicas_see_every_ack():
    from pmesh_sim.scenario import Scenario
    from pmesh_sim.sim.runner import run_sim
    doc, _ = run_sim(Scenario.from_dict({
        "name": "wq", "servers": 3,
        "streams": [{"name": "S", "subjects": ["s.>"], "num_replicas": 3,
                     "retention": "workqueue"}],
        "consumers": [{"stream": "S", "durable_name": "w", "ack_policy": "explicit",
                       "num_replicas": 1}],
        "steps": [{"op": "stepdown", "stream": "S"}]}))
    assert doc["setup"][1]["result"]["error"]["err_code"] == 10134
    assert doc["steps"][0]["result"] == {"outcome": "stepped_down"}


def test_an_inactive_ephemeral_consumer_is_deleted_on_every_node():
    sim = cluster(seed=8)
    sim.run(until=12)
    c = sim.connect("n1", name="c")

    def prog(out):
        yield create(c)
        yield sim.env.timeout(0.5)
        r = yield c.request("$JS.API.CONSUMER.CREATE.S", json.dumps({
            "stream_name": "S", "config": {"ack_policy": "explicit",
                                           "inactive_threshold": 1_000_000_000}}).encode(),
                            timeout=5)
        out["created"] = json.loads(r.data)
        out["copies"] = sum(bool(n.jetstream.js.streams["S"].consumers)
                            for n in sim.servers.values())
    out = run(sim, prog, 20)
    assert set(out["created"]["cluster"]) == {"name", "leader"}      # an R1 ephemeral
    assert out["copies"] == 3
    assert [n.name for n in sim.servers.values() if n.jetstream.js.streams["S"].consumers] == []
    assert not any(n.jetstream.cassign for n in sim.servers.values())


def test_a_restarted_consumer_replica_catches_up_with_the_leaders_state():
    sim = cluster(seed=9)
    sim.run(until=12)
    c = sim.connect("n1", name="c", servers=["n1", "n2", "n3"])

    def state(name):
        w = sim.servers[name].jetstream.js.streams["S"].consumers["w"]
        return w.dseq, w.sseq, tuple(sorted(w.pending)), w.adflr, w.asflr

    def prog(out):
        yield create(c)
        yield sim.env.timeout(0.5)
        r = yield c.request("$JS.API.CONSUMER.DURABLE.CREATE.S.w", json.dumps({
            "stream_name": "S", "config": {"durable_name": "w", "ack_policy": "explicit"}}
        ).encode(), timeout=5)
        leader = json.loads(r.data)["cluster"]["leader"]
        out["follower"] = follower = next(n for n in ("n2", "n3") if n != leader)
        yield from pub_all(sim, c, "s.x", 4, out, "acks")
        sub = yield c.jetstream().pull_subscribe_bind("w", stream="S")
        msgs = yield sub.fetch(2, timeout=1.0)
        yield msgs[0].ack_sync()
        sim.kill(follower)
        msgs += (yield sub.fetch(2, timeout=1.0))
        for m in msgs[1:3]:
            yield m.ack_sync()
        yield sim.env.timeout(1.0)
        sim.restart(follower)
        yield sim.env.timeout(5.0)
        out["states"] = {n: state(n) for n in ("n1", "n2", "n3")}
    out = run(sim, prog, 40)
    assert out["acks"] == [1, 2, 3, 4]
    assert set(out["states"].values()) == {(5, 5, (4,), 3, 3)}, out["states"]


def test_deleting_a_replicated_consumer_ends_its_waiting_pull_and_its_group_everywhere():
    sim = cluster(seed=10)
    sim.run(until=12)
    c = sim.connect("n1", name="c")

    def prog(out):
        yield create(c)
        yield sim.env.timeout(0.5)
        yield c.request("$JS.API.CONSUMER.DURABLE.CREATE.S.w", json.dumps({
            "stream_name": "S", "config": {"durable_name": "w", "ack_policy": "explicit"}}
        ).encode(), timeout=5)
        got = out.setdefault("got", [])
        c.subscribe("_INBOX.p", cb=lambda m: got.append((m.headers or {}).get("Status")))
        c.publish("$JS.API.CONSUMER.MSG.NEXT.S.w", b'{"batch": 1, "expires": 9000000000}',
                  reply="_INBOX.p")
        yield sim.env.timeout(0.2)
        r = yield c.request("$JS.API.CONSUMER.DELETE.S.w", b"", timeout=5)
        out["deleted"] = json.loads(r.data)
        yield sim.env.timeout(0.5)
    out = run(sim, prog, 20)
    assert out["deleted"]["success"] is True and out["got"] == ["409"]
    assert not any(n.jetstream.cassign or n.jetstream.cled for n in sim.servers.values())
    assert not any(g.startswith("C-") for n in sim.servers.values() for g in n.raft.nodes)
    assert not [e for e in sim.trace if e.kind == "api_error"]


@pytest.mark.parametrize("seed", [11, 12, 13, 14])
def test_a_consumer_created_just_after_a_peer_died_is_answered_by_whoever_leads(seed):
    sim = cluster(seed=seed)
    sim.run(until=12)
    c = sim.connect("n1", name="c")

    def prog(out):
        yield create(c)
        yield sim.env.timeout(0.5)
        sim.kill("n3")                  # not yet offline for placement: it may be preferred
        r = yield c.request("$JS.API.CONSUMER.DURABLE.CREATE.S.w", json.dumps({
            "stream_name": "S", "config": {"durable_name": "w", "ack_policy": "explicit"}}
        ).encode(), timeout=20)
        out["created"] = json.loads(r.data)
    out = run(sim, prog, 40)
    assert out["created"]["cluster"]["leader"] in ("n1", "n2")


def test_two_replicated_consumers_give_the_same_trace_whatever_the_hash_seed(tmp_path):
    import hashlib
    import os
    import subprocess
    import sys
    path = tmp_path / "two.yaml"
    path.write_text(json.dumps({
        "name": "two", "servers": 3,
        "streams": [{"name": "S", "subjects": ["s.>"], "num_replicas": 3}],
        "consumers": [{"stream": "S", "durable_name": d, "ack_policy": "explicit",
                       "ack_wait": 1.0} for d in ("a", "b")],
        "steps": [{"op": "js_publish", "subject": "s.1", "data": "x"},
                  *[{"op": "fetch", "consumer": d, "batch": 1, "timeout": 1.0}
                    for d in ("a", "b")],
                  {"at": 2.0, "op": "stepdown", "consumer": "a"},
                  {"at": 3.0, "op": "stepdown", "consumer": "b"},
                  *[{"op": "fetch", "consumer": d, "batch": 1, "timeout": 1.0, "then": "ack"}
                    for d in ("a", "b")]]}))
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    code = ("import sys, hashlib; from pmesh_sim.scenario import load_scenario; "
            "from pmesh_sim.sim.runner import run_sim; "
            "doc, trace = run_sim(load_scenario(sys.argv[1])); "
            "print(hashlib.sha256(repr([(e.time, e.kind, e.fields) for e in trace])"
            ".encode()).hexdigest())")
    digests = {subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True,
                              text=True, check=True, cwd=root,
                              env={**os.environ, "PYTHONPATH": root, "PYTHONHASHSEED": seed}
                              ).stdout for seed in ("1", "2", "3")}
    assert len(digests) == 1 and hashlib.sha256().hexdigest() not in digests


def test_a_message_past_max_deliver_is_not_redelivered_by_the_next_leaders():
    from pmesh_sim.sim.runner import run_sim
    ignore = {"batch": 1, "timeout": 1.0, "then": "ignore"}
    doc, trace = run_sim(_consumer_scenario([
        {"op": "js_publish", "subject": "s.1", "data": "1"},
        {"op": "fetch", "consumer": "w", **ignore},
        {"at": 1.5, "op": "fetch", "consumer": "w", **ignore},      # the 2nd and last delivery
        {"at": 3.0, "op": "stepdown", "consumer": "w"},
        {"at": 6.0, "op": "fetch", "consumer": "w", **ignore},      # past max_deliver: none
        {"op": "stepdown", "consumer": "w"},
        {"at": 9.0, "op": "fetch", "consumer": "w", **ignore},
        {"op": "consumer_info", "consumer": "w"}], consumer={"max_deliver": 2, "ack_wait": 1.0}))
    results = [s["result"] for s in doc["steps"]]
    assert [m["num_delivered"] for m in results[2]["messages"]] == [2]
    assert results[3] == results[5] == {"outcome": "stepped_down"}
    assert results[4] == results[6] == {"messages": []}
    assert (results[7]["num_ack_pending"], results[7]["num_redelivered"]) == (0, 1)
    assert [e.kind for e in trace].count("max_deliver") == 1     # the third leader knew it


def test_without_a_meta_leader_a_node_delays_its_10008_to_stream_info_behind_the_leader():
    # jetstream_api.go sendDelayedAPIErrResponse: a non-leader that knows no meta leader
    # answers stream info with 10008 after errRespDelay (0.5 s), so the leader goes first;
    # the account info it answers at once
    sim = cluster(seed=3, size=5)
    sim.run(until=12)
    c = sim.connect("n1", name="c")

    def prog(out):
        yield c.request("$JS.API.STREAM.CREATE.S", json.dumps({
            "name": "S", "subjects": ["s.>"], "placement": {"tags": ["node:n1"]}}).encode(),
            timeout=5)
        sim.partition([["n1", "n2"], ["n3", "n4", "n5"]])
        yield sim.env.timeout(30)                  # n2's side has no meta leader any more
        p = sim.connect("n2", name="p", no_echo=True)
        got = []
        p.subscribe("_INBOX.x", cb=lambda m: got.append((sim.now, json.loads(m.data))))
        yield p.flush()
        start = sim.now
        p.publish("$JS.API.STREAM.INFO.S", b"", reply="_INBOX.x")
        p.publish("$JS.API.INFO", b"", reply="_INBOX.x")
        yield sim.env.timeout(1)
        out["answers"] = [(a["type"].rsplit(".", 1)[1], round(t - start, 1),
                           a.get("error", {}).get("err_code"), a.get("cluster", {}).get("leader"))
                          for t, a in got]
    out = run(sim, prog, 60)
    info = [a[1:] for a in out["answers"] if a[0] == "stream_info_response"]
    assert info == [(0.0, None, "n1"), (0.5, 10008, None)]      # the leader n1, then n2
    account = [a[1:] for a in out["answers"] if a[0] == "account_info_response"]
    assert account == [(0.0, 10008, None)] * 2                   # n1 and n2, at once


def _copies(sim, stream="S", name="w"):
    """Every running node's copy of a consumer's replicated state."""
    return {n: (c.dseq, c.sseq, tuple(sorted(c.pending)), c.adflr, c.asflr)
            for n, s in sim.servers.items() if s.state is None
            for c in [s.jetstream.js.streams[stream].consumers[name]]}


@pytest.mark.parametrize("seed", [1, 2])
def test_a_partitioned_consumer_leaders_uncommitted_ack_is_dropped_and_replicas_converge(seed):
    sim = cluster(seed=seed)
    sim.run(until=12)
    c = sim.connect("n1", name="c", servers=["n1", "n2", "n3"])

    def setup(out):
        yield create(c)
        yield sim.env.timeout(0.5)
        yield c.request("$JS.API.CONSUMER.DURABLE.CREATE.S.w", json.dumps({
            "stream_name": "S", "config": {"durable_name": "w", "ack_policy": "explicit",
                                           "ack_wait": 30_000_000_000}}).encode(), timeout=5)
        for i in (1, 2, 3):
            yield c.request(f"s.{i}", b"x", timeout=2)
        yield sim.env.timeout(0.5)
    run(sim, setup, 15)
    leader = sim.consumer_leader("S", "w")
    w = sim.connect(leader, name="w")          # a partition does not cut client connections
    got = []
    w.subscribe("_INBOX.w", cb=got.append)
    w.publish("$JS.API.CONSUMER.MSG.NEXT.S.w", b'{"batch": 3}', reply="_INBOX.w")
    sim.run(until=16)
    assert [m.subject for m in got] == ["s.1", "s.2", "s.3"]
    assert set(_copies(sim).values()) == {(4, 4, (1, 2, 3), 0, 0)}
    others = [n for n in ("n1", "n2", "n3") if n != leader]
    sim.partition([[leader], others])
    sim.run(until=16.5)
    w.publish(got[0].reply, b"+ACK")           # decided on the cut-off leader: never committed
    sim.run(until=16.6)
    assert _copies(sim)[leader][2] == (2, 3)
    sim.run(until=40)                           # it lost its quorum; the others elected
    assert sim.consumer_leader("S", "w") in others
    sim.heal()
    sim.run(until=50)
    assert set(_copies(sim).values()) == {(4, 4, (1, 2, 3), 0, 0)}    # the ack is gone
    dropped = [e.fields for e in sim.trace if e.kind == "consumer_uncommitted_dropped"]
    assert [(d["node"], d["entries"]) for d in dropped] == [(leader, 1)]
    assert not sim.trace.check()


def test_the_meta_leader_steps_down_as_the_server_answers_the_system_account():
    sim = cluster(seed=2)
    sim.run(until=12)
    leader = sim.meta_leader()
    host = sim.servers[leader].jetstream
    other = next(n for n in ("n1", "n2", "n3") if n != leader)

    def err(body):
        return host.meta_stepdown(json.dumps(body).encode())["error"]

    assert err({"placement": {"preferred": leader}})["description"] == \
        f'preferred server "{leader}" is already leader'
    assert err({"placement": {"preferred": "n9"}})["description"] == \
        'preferred server "n9" not known'
    assert err({"placement": {"tags": ["node:n9"]}}) == {
        "code": 400, "err_code": 10005, "description": "no replacement peer connected"}
    assert host.meta_stepdown(b"{")["error"]["err_code"] == 10025
    assert sim.meta_leader() == leader                    # none of these stepped down
    assert host.meta_stepdown(json.dumps({"placement": {"preferred": other}}).encode()) == {
        "type": "io.nats.jetstream.api.v1.meta_leader_stepdown_response", "success": True}
    sim.run(until=13)
    assert sim.meta_leader() == other


def test_a_pause_of_a_replicated_consumer_reaches_every_copy_and_survives_a_restart():
    sim = cluster(seed=4)
    sim.run(until=12)
    c = sim.connect("n1", name="c", servers=["n1", "n2", "n3"])

    def prog(out):
        yield create(c)
        yield sim.env.timeout(0.5)
        yield c.request("$JS.API.CONSUMER.DURABLE.CREATE.S.w", json.dumps({
            "stream_name": "S", "config": {"durable_name": "w",
                                           "ack_policy": "explicit"}}).encode(), timeout=5)
        r = yield c.request("$JS.API.CONSUMER.PAUSE.S.w", json.dumps(
            {"pause_until": sim.date(sim.now + 60)}).encode(), timeout=5)
        out["answer"] = json.loads(r.data)
    out = run(sim, prog, 15)
    assert out["answer"]["paused"] is True
    until = {n: (s.jetstream.js.streams["S"].consumers["w"].paused(sim.now),
                 s.jetstream.js.streams["S"].consumers["w"].config.pause_until)
             for n, s in sim.servers.items()}
    assert len(set(until.values())) == 1 and next(iter(until.values()))[0] is True
    follower = next(n for n in ("n1", "n2", "n3") if n != sim.consumer_leader("S", "w"))
    sim.kill(follower)
    sim.run(until=16)
    sim.restart(follower)
    sim.run(until=35)         # it may have led the meta group: the others elect (4 to 9 s)
    w = sim.servers[follower].jetstream.js.streams["S"].consumers["w"]
    assert (w.paused(sim.now), w.config.pause_until) == next(iter(until.values()))


def test_a_reset_of_a_replicated_consumer_is_answered_at_commit_and_applied_everywhere():
    from pmesh_sim.sim.runner import run_sim, _SimBackend
    seen = {}
    original = _SimBackend.fault

    def fault(self, op, args):         # every node's copy when the stepdown step runs
        seen.update({n: (c.dseq, c.sseq, tuple(sorted(c.pending)), c.adflr, c.asflr)
                     for n, s in self.sim.servers.items()
                     for c in [s.jetstream.js.streams["S"].consumers["w"]]})
        return original(self, op, args)

    _SimBackend.fault = fault
    try:
        doc, trace = run_sim(_consumer_scenario(FETCH3 + [
            {"at": 0.5, "op": "reset_consumer", "consumer": "w"},
            {"at": 0.6, "op": "stepdown", "consumer": "w"},
            {"at": 1.5, "op": "consumer_info", "consumer": "w"}]))
    finally:
        _SimBackend.fault = original
    results = [s["result"] for s in doc["steps"]]
    assert results[4]["reset_seq"] == 2 and results[4]["num_ack_pending"] == 0
    assert set(seen.values()) == {(1, 2, (), 0, 1)}            # every replica reset
    assert results[6]["delivered"] == {"consumer_seq": 0, "stream_seq": 1}
    assert results[6]["ack_floor"] == {"consumer_seq": 0, "stream_seq": 1}
    assert not trace.check()


def test_a_no_wait_status_follows_the_deliveries_of_an_r3_consumer_it_ends():
    # the deliveries wait for their entry's commit; the 404 of the no_wait request nats-py
    # sends first must not overtake them, or the fetch waits out its timeout for nothing
    from pmesh_sim.sim.runner import run_sim
    doc, trace = run_sim(_consumer_scenario(
        [{"op": "js_publish", "subject": f"s.{i}", "data": str(i)} for i in (1, 2)] +
        [{"at": 0.3, "op": "fetch", "consumer": "w", "batch": 5, "timeout": 0.5}]))
    assert [m["stream_seq"] for m in doc["steps"][2]["result"]["messages"]] == [1, 2]
    start, end = (e.time for e in trace if e.kind in ("step", "step_result")
                  and e.fields["index"] == 2)
    assert end - start < 0.01                      # not the 0.5 s timeout


def test_the_stream_list_shows_each_stream_as_its_leader_holds_it():
    # the meta leader hosts only one of three R1 streams: it asks each stream's leader
    # (jsClusteredStreamListRequest) instead of listing its own empty copies
    from pmesh_sim.scenario import Scenario
    from pmesh_sim.sim.runner import run_sim
    streams = [{"name": n, "subjects": [f"{n.lower()}.>"], "num_replicas": 1,
                "placement": {"tags": [f"node:n{i}"]}} for i, n in enumerate("ABC", 1)]
    steps = [{"at": 0.5, "op": "js_publish", "subject": f"{n.lower()}.{k}"}
             for i, n in enumerate("ABC", 1) for k in range(i)]
    doc, _ = run_sim(Scenario.from_dict({"name": "list", "servers": 3, "streams": streams,
                                         "steps": steps + [{"at": 1.0, "op": "request",
                                                            "subject": "$JS.API.STREAM.LIST"}]}))
    body = json.loads(doc["steps"][-1]["result"]["data"])
    assert [(s["config"]["name"], s["state"]["messages"], s["cluster"]["leader"])
            for s in body["streams"]] == [("A", 1, "n1"), ("B", 2, "n2"), ("C", 3, "n3")]

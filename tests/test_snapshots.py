"""RAFT snapshots and log compaction of a simulated cluster (sim/compaction.py): the policy,
the install paths (stream catch-up, consumer state, meta assignments), restarts and power
loss, bounded logs."""

import json

import pytest

from pmesh_sim.cluster.timings import ClusterTimings
from pmesh_sim.config import StreamConfig
from pmesh_sim.jetstream import stream_image
from pmesh_sim.jetstream.stream import Stream
from pmesh_sim.sim import Simulation
from pmesh_sim.sim.compaction import Compaction, Policy
from pmesh_sim.sim.js_cluster import META
from pmesh_sim.sim.raft_host import RaftHost

SMALL = ClusterTimings(stream_compact_entries=40, consumer_compact_entries=20,
                       consumer_min_snapshot_delta=0.5)


def records(sim, kind, **match):
    out = []
    for e in sim.trace:
        d = e.to_dict() if hasattr(e, "to_dict") else e
        if d["kind"] == kind and all(d.get(k) == v for k, v in match.items()):
            out.append(d)
    return out


# ------------------------------------------------------------------------------- the policy
def one_group(seed=3):
    sim = Simulation(seed=seed, latency=0.001)
    host = RaftHost(sim.add_cluster(1)[0])
    node = host.add("G", ["n1"])
    return sim, host, node, Compaction(host)


def propose(sim, host, data):
    """Propose ``data`` to group G and let the leader's queue go out (at the instant's end,
    as one append) and apply."""
    host.propose("G", data)
    sim.run(until=sim.env.now + 0.001)


def test_the_entry_count_snapshots_once_the_instants_entries_are_applied():
    sim, host, node, compaction = one_group()
    taken = []
    compaction.watch("G", Policy(interval=600.0, entries=5), lambda: taken.append(1) or "s")
    for i in range(4):                       # with the leader's first entry: 5 applied
        propose(sim, host, i)
        compaction.applied("G")
    sim.run(until=1.0)
    assert (node.log.snapshot.index, node.log.entries, len(taken)) == (5, [], 1)
    for i in range(3):                       # 3 more: below the count
        propose(sim, host, i)
        compaction.applied("G")
    sim.run(until=2.0)
    assert (node.log.snapshot.index, len(node.log.entries)) == (5, 3)


def test_the_interval_has_a_seeded_spread_and_nothing_new_means_no_snapshot():
    def snapshot_times(seed):
        sim, host, node, compaction = one_group(seed)
        compaction.watch("G", Policy(interval=100.0, spread=60.0), lambda: "s")
        sim.run(until=1000.0)
        return [r["time"] for r in records(sim, "raft_snapshot", group="G")]

    first = snapshot_times(3)
    assert len(first) == 1 and 100.0 <= first[0] < 160.0   # then nothing new was applied
    assert snapshot_times(3) == first and snapshot_times(4) != first


def test_min_delta_holds_back_a_snapshot_unless_forced_and_take_may_decline():
    sim, host, node, compaction = one_group()
    ready = [True]
    compaction.watch("G", Policy(interval=600.0, min_delta=10.0),
                     lambda: "s" if ready[0] else None)
    assert compaction.snapshot("G")
    propose(sim, host, "x")
    assert not compaction.snapshot("G")                   # within min_delta
    assert compaction.snapshot("G", force=True)
    propose(sim, host, "y")
    ready[0] = False
    sim.run(until=20.0)
    assert not compaction.snapshot("G")                   # the host cannot now
    ready[0] = True
    assert compaction.snapshot("G") and node.log.snapshot.index == node.applied == 3


def test_the_defaults_are_the_servers():
    t = ClusterTimings()
    assert (t.stream_compact_interval, t.stream_compact_entries, t.compact_spread) == \
        (120.0, 65536, 60.0)
    assert (t.consumer_compact_interval, t.consumer_compact_entries,
            t.consumer_min_snapshot_delta, t.meta_compact_interval) == (120.0, 1024, 10.0, 60.0)


# ------------------------------------------------------------------------- stream images
def test_a_stream_image_restores_the_store_and_a_catch_up_skips_what_the_leader_lost():
    cfg = StreamConfig(name="S", subjects=["s.>"], max_msgs=5, duplicate_window=120.0)
    leader = Stream(cfg)
    for i in range(8):
        leader.publish(f"s.{i % 3}", b"%d" % i, {"Nats-Msg-Id": f"m{i}"}, float(i))
    leader.remove(6)
    image = stream_image.capture(leader)
    assert stream_image.summary(image) == {"messages": 4, "bytes": leader.bytes,
                                           "first_seq": 4, "last_seq": 8, "deleted": 1}
    for i in (9, 10):                                      # seq 4 goes (max_msgs)
        leader.publish(f"s.{i}", b"%d" % i, None, float(i))
    follower = Stream(cfg)
    for i in range(2):
        follower.publish(f"s.{i % 3}", b"%d" % i, {"Nats-Msg-Id": f"m{i}"}, float(i))
    assert stream_image.catch_up(follower, image, leader) == (3, 1)
    assert sorted(follower.msgs) == [5, 7, 8] and follower.last_seq == 8
    assert follower.state()["num_deleted"] == 1 and follower.subj_count == {"s.0": 1, "s.1": 2}
    assert follower.check_publish("s.1", b"", {"Nats-Msg-Id": "m7"}, 9.0) == ("dup", 8)


# --------------------------------------------------------------------- cluster install paths
def cluster(timings=SMALL, seed=1, **options):
    sim = Simulation(seed=seed, latency=0.001)
    sim.add_cluster(3, jetstream=True, timings=timings, **options)
    return sim


def api(c, subject, body=None, timeout=5):
    return c.request(subject, json.dumps(body).encode() if body is not None else b"",
                     timeout=timeout)


def setup_stream(sim, c, out, max_msgs=0, retention=""):
    yield sim.env.timeout(12)
    cfg = {"name": "S", "subjects": ["s.>"], "num_replicas": 3}
    if retention:
        cfg["retention"] = retention
    if max_msgs:
        cfg["max_msgs"] = max_msgs
    yield api(c, "$JS.API.STREAM.CREATE.S", cfg)
    yield api(c, "$JS.API.CONSUMER.CREATE.S.d", {
        "stream_name": "S", "config": {"durable_name": "d", "ack_policy": "explicit"}})
    yield sim.env.timeout(3)
    out["leader"] = sim.stream_leader("S")


def publish(sim, c, first, n):
    for i in range(first, first + n):
        yield c.request(f"s.{i % 5}", b"%d" % i, timeout=2)


def pull_and_ack(sim, c, n, inbox="_INBOX.p"):
    got = []

    def cb(m):
        got.append(m)
        if len(got) % 3 and m.reply:          # every third one stays pending
            c.publish(m.reply, b"+ACK")
    c.subscribe(inbox, cb=cb)
    for _ in range(n):
        c.publish("$JS.API.CONSUMER.MSG.NEXT.S.d", b'{"batch": 1, "expires": 1000000000}',
                  reply=inbox)
        yield sim.env.timeout(0.05)


def replica_state(sim, name):
    host = sim.servers[name].jetstream
    st = host.js.streams["S"]
    c = st.consumers["d"]
    return (st.state(), sorted(st.msgs), st._ids, c.dseq, c.sseq, c.adflr, c.asflr,
            sorted(c.pending.items()), sorted(c.rdc.items()))


def test_a_follower_down_while_the_leader_compacts_installs_its_snapshot_and_catches_up():
    sim = cluster()
    c = sim.connect("n1", name="c", servers=["n1", "n2", "n3"])
    out = {}

    def prog():
        yield from setup_stream(sim, c, out, max_msgs=60)
        victim = next(n for n in ("n2", "n3") if n != out["leader"])
        out["victim"] = victim
        yield from publish(sim, c, 0, 30)
        sim.kill(victim)
        yield sim.env.timeout(12)                     # a consumer leader again if it was there
        yield from publish(sim, c, 30, 100)           # the leader drops seq 1-70 (max_msgs)
        yield api(c, "$JS.API.STREAM.MSG.DELETE.S", {"seq": 100})
        yield from pull_and_ack(sim, c, 50)
        yield sim.env.timeout(2)
        sim.restart(victim)
        yield sim.env.timeout(15)
    sim.process(prog())
    sim.run(until=120)
    victim, leader = out["victim"], sim.stream_leader("S")
    group = sim.servers[leader].jetstream.assignments["S"]["group"]
    assert records(sim, "raft_snapshot", node=victim, group=group, source="leader")
    catchup = records(sim, "stream_catchup", node=victim, stream="S")
    assert catchup and catchup[-1]["leader"] == leader
    states = {n: replica_state(sim, n) for n in ("n1", "n2", "n3")}
    assert states[victim] == states[leader] and states[leader][0]["messages"] == 59
    assert states[leader][7]                          # pending messages, replicated
    for name in ("n1", "n2", "n3"):                   # every log bounded by the policy
        node = sim.servers[name].raft.nodes[group]
        assert len(node.log.entries) <= SMALL.stream_compact_entries


def test_a_stepdown_to_the_caught_up_follower_serves_every_message():
    sim = cluster()
    c = sim.connect("n1", name="c", servers=["n1", "n2", "n3"])
    out = {}

    def prog():
        yield from setup_stream(sim, c, out)
        victim = next(n for n in ("n2", "n3") if n != out["leader"])
        sim.kill(victim)
        yield sim.env.timeout(1)
        yield from publish(sim, c, 0, 90)
        sim.restart(victim)
        yield sim.env.timeout(10)
        r = yield api(c, "$JS.API.STREAM.LEADER.STEPDOWN.S", {"placement": {"preferred": victim}})
        out["stepdown"] = json.loads(r.data)
        yield sim.env.timeout(3)
        out["info"] = json.loads((yield api(c, "$JS.API.STREAM.INFO.S")).data)
        out["msgs"] = []
        for seq in range(1, 91):
            r = yield api(c, "$JS.API.STREAM.MSG.GET.S", {"seq": seq})
            out["msgs"].append(json.loads(r.data))
        out["victim"] = victim
    sim.process(prog())
    sim.run(until=100)
    assert out["stepdown"].get("success") and out["info"]["cluster"]["leader"] == out["victim"]
    assert records(sim, "raft_snapshot", node=out["victim"], source="leader")
    assert out["info"]["state"]["messages"] == 90
    assert [m["message"]["seq"] for m in out["msgs"]] == list(range(1, 91))


def test_memory_an_r3_streams_logs_stay_bounded_by_the_policy():
    def run(n, timings):
        sim = cluster(timings)
        c = sim.connect("n1", name="c")
        out = {}

        def prog():
            yield from setup_stream(sim, c, out)
            yield from publish(sim, c, 0, n)
        sim.process(prog())
        sim.run(until=60)                             # before the interval's first snapshot
        group = sim.servers["n1"].jetstream.assignments["S"]["group"]
        return max(len(s.raft.nodes[group].log.entries) for s in sim.servers.values())

    small = ClusterTimings(stream_compact_entries=50)
    assert run(100, small) <= 50 and run(1000, small) <= 50
    assert run(1000, ClusterTimings()) > 1000          # the default count is the server's 65536


def test_a_meta_snapshot_brings_a_restarted_node_the_assignments_it_missed():
    sim = cluster(ClusterTimings())
    c = sim.connect("n1", name="c", servers=["n1", "n2"])
    out = {}

    def prog():
        yield sim.env.timeout(12)
        for name in ("A", "B"):
            yield api(c, f"$JS.API.STREAM.CREATE.{name}",
                      {"name": name, "subjects": [f"{name.lower()}.>"], "num_replicas": 1})
        meta_leader = next(s.name for s in sim.servers.values()
                           if s.jetstream.meta.is_leader)
        victim = next(n for n in ("n2", "n3") if n != meta_leader)
        out["victim"] = victim
        sim.kill(victim)
        yield api(c, "$JS.API.STREAM.DELETE.A")
        yield api(c, "$JS.API.STREAM.CREATE.C",
                  {"name": "C", "subjects": ["c.>"], "num_replicas": 1})
        yield sim.env.timeout(70)                     # the meta group's interval: a snapshot
        sim.restart(victim)
        yield sim.env.timeout(15)
    sim.process(prog())
    sim.run(until=120)
    victim = out["victim"]
    assert records(sim, "raft_snapshot", node=victim, group=META, source="leader")
    views = {n: sorted(s.jetstream.js.streams) for n, s in sim.servers.items()}
    assert views[victim] == ["B", "C"] and len({tuple(v) for v in views.values()}) == 1
    assigned = {n: sorted(s.jetstream.assignments) for n, s in sim.servers.items()}
    assert assigned[victim] == ["B", "C"]


@pytest.mark.parametrize("fault", ["kill", "power_loss"])
def test_a_restart_recovers_from_its_own_snapshot(fault):
    sim = cluster(sync_interval=600.0)
    c = sim.connect("n1", name="c", servers=["n1", "n2", "n3"])
    out = {}

    def prog():
        yield from setup_stream(sim, c, out)
        yield from publish(sim, c, 0, 100)
        yield from pull_and_ack(sim, c, 30)
        yield sim.env.timeout(2)
        victim = next(n for n in ("n2", "n3") if n != out["leader"])
        out["victim"] = victim
        group = sim.servers[victim].jetstream.assignments["S"]["group"]
        out["snap"] = sim.servers[victim].raft.nodes[group].log.snapshot.index
        getattr(sim, fault)(victim)
        yield sim.env.timeout(1)
        sim.restart(victim)
        yield sim.env.timeout(15)
    sim.process(prog())
    sim.run(until=80)
    victim, leader = out["victim"], sim.stream_leader("S")
    assert out["snap"] > 0              # nothing synced for 600 s: only the snapshot is kept
    recover = records(sim, "raft_recover", node=victim,
                      group=sim.servers[leader].jetstream.assignments["S"]["group"])
    assert recover[-1]["log_index"] >= out["snap"]
    assert replica_state(sim, victim) == replica_state(sim, leader)


def test_same_seed_same_trace_with_snapshots():
    def trace(seed):
        sim = cluster(seed=seed)
        c = sim.connect("n1", name="c", servers=["n1", "n2", "n3"])
        out = {}

        def prog():
            yield from setup_stream(sim, c, out)
            yield from publish(sim, c, 0, 60)
            sim.kill("n3")
            yield from publish(sim, c, 60, 60)
            sim.restart("n3")
            yield sim.env.timeout(10)
        sim.process(prog())
        sim.run(until=60)
        rows = [json.dumps(e.to_dict() if hasattr(e, "to_dict") else e, sort_keys=True,
                           default=str) for e in sim.trace]
        assert any('"raft_snapshot"' in r for r in rows)
        return rows

    assert trace(5) == trace(5)


@pytest.mark.parametrize("retention", ["workqueue", "interest"])
def test_a_consumer_snapshot_on_an_interest_or_workqueue_stream_releases_the_acked(retention):
    sim = cluster(ClusterTimings(consumer_compact_entries=10, consumer_min_snapshot_delta=0.5))
    c = sim.connect("n1", name="c", servers=["n1", "n2", "n3"])
    out = {}

    def prog():
        yield from setup_stream(sim, c, out, retention=retention)
        leaders = {sim.stream_leader("S"), sim.consumer_leader("S", "d")}
        victim = next(n for n in ("n1", "n2", "n3") if n not in leaders)
        out["victim"] = victim
        yield from publish(sim, c, 0, 20)
        sim.kill(victim)
        yield from publish(sim, c, 20, 20)
        got = []

        def ack(m):
            got.append(m)
            c.publish(m.reply, b"+ACK")
        c.subscribe("_INBOX.all", cb=ack)
        for _ in range(40):
            c.publish("$JS.API.CONSUMER.MSG.NEXT.S.d", b'{"batch": 1, "expires": 1000000000}',
                      reply="_INBOX.all")
            yield sim.env.timeout(0.05)
        yield sim.env.timeout(2)
        sim.restart(victim)
        yield sim.env.timeout(15)
    sim.process(prog())
    sim.run(until=80)
    victim = out["victim"]
    group = sim.servers[victim].jetstream.cassign[("S", "d")]["group"]
    assert records(sim, "raft_snapshot", node=victim, group=group, source="leader")
    states = {n: replica_state(sim, n) for n in ("n1", "n2", "n3")}
    assert states[victim][0]["messages"] == 0 and states[victim][0]["last_seq"] == 40
    assert len({repr(s) for s in states.values()}) == 1


def test_a_consumer_snapshot_ahead_of_the_stream_releases_once_the_stream_caught_up():
    """The restarted replica takes the consumer's snapshot while cut off from the stream's
    leader: its stream copy gets the acked messages later, and lets them go then."""
    sim = cluster(ClusterTimings(consumer_compact_entries=10, consumer_min_snapshot_delta=0.5))
    c = sim.connect("n1", name="c", servers=["n1", "n2", "n3"])
    out = {}

    def prog():
        yield from setup_stream(sim, c, out, retention="workqueue")
        ls = sim.stream_leader("S")
        lc, victim = [n for n in ("n1", "n2", "n3") if n != ls]
        if sim.consumer_leader("S", "d") != lc:
            yield api(c, "$JS.API.CONSUMER.LEADER.STEPDOWN.S.d", {"placement": {"preferred": lc}})
            yield sim.env.timeout(2)
        out.update(victim=victim, lc=lc, ls=ls, clead=sim.consumer_leader("S", "d"))
        yield from publish(sim, c, 0, 20)
        sim.kill(victim)
        yield from publish(sim, c, 20, 20)
        c.subscribe("_INBOX.all", cb=lambda m: c.publish(m.reply, b"+ACK"))
        for _ in range(40):
            c.publish("$JS.API.CONSUMER.MSG.NEXT.S.d", b'{"batch": 1, "expires": 1000000000}',
                      reply="_INBOX.all")
            yield sim.env.timeout(0.05)
        yield sim.env.timeout(2)
        sim.restart(victim)
        sim.partition([[victim, lc], [ls]])
        yield sim.env.timeout(3)
        out["mid"] = sim.servers[victim].jetstream.js.streams["S"].state()
        yield sim.env.timeout(20)
        sim.heal()
        yield sim.env.timeout(15)
    sim.process(prog())
    sim.run(until=100)
    victim = out["victim"]
    assert out["clead"] == out["lc"]
    group = sim.servers[victim].jetstream.cassign[("S", "d")]["group"]
    assert records(sim, "raft_snapshot", node=victim, group=group, source="leader")
    assert out["mid"]["last_seq"] < 40                 # the stream copy was behind then
    states = {n: replica_state(sim, n) for n in ("n1", "n2", "n3")}
    assert states[victim][0]["messages"] == 0 and states[victim][0]["last_seq"] == 40
    assert len({repr(s) for s in states.values()}) == 1


def test_a_node_restarted_twice_rebuilds_its_assets_from_its_own_meta_snapshot():
    sim = cluster()
    c = sim.connect("n1", name="c", servers=["n1", "n2"])
    out = {}

    def prog():
        yield from setup_stream(sim, c, out)
        yield api(c, "$JS.API.STREAM.CREATE.T", {"name": "T", "subjects": ["t.>"]})
        yield api(c, "$JS.API.STREAM.DELETE.T")
        yield from publish(sim, c, 0, 10)
        for _ in range(2):
            sim.kill("n3")
            yield sim.env.timeout(1)
            sim.restart("n3")
            yield sim.env.timeout(12)
            out.setdefault("meta", []).append(
                sim.servers["n3"].jetstream.raft.nodes[META].log.snapshot.index)
        r = yield api(c, "$JS.API.STREAM.LEADER.STEPDOWN.S", {"placement": {"preferred": "n3"}})
        out["stepdown"] = json.loads(r.data)
        yield sim.env.timeout(2)
        out["info"] = json.loads((yield api(c, "$JS.API.CONSUMER.INFO.S.d")).data)
    sim.process(prog())
    sim.run(until=80)
    first, second = out["meta"]
    assert first > 0 and second >= first          # a snapshot right after each recovery
    recovered = records(sim, "raft_recover", node="n3", group=META)
    assert len(recovered) == 2 and recovered[1]["log_index"] >= first
    host = sim.servers["n3"].jetstream
    assert sorted(host.js.streams) == ["S"] and sorted(host.cassign) == [("S", "d")]
    assert out["stepdown"].get("success") or "already leader" in json.dumps(out["stepdown"])
    assert sim.stream_leader("S") == "n3"
    assert replica_state(sim, "n3") == replica_state(sim, "n1")
    assert out["info"]["name"] == "d"


def test_timings_without_a_replicated_jetstream_cluster_are_refused():
    from pmesh_sim.errors import ConfigError
    for options in ({"size": 3}, {"size": 1, "jetstream": True}):
        with pytest.raises(ConfigError, match="timings are those of a replicated JetStream"):
            Simulation(seed=1).add_cluster(timings=SMALL, **options)


def test_the_log_size_snapshots_too():
    sim, host, node, compaction = one_group()
    compaction.watch("G", Policy(interval=600.0, entries=100, size=1000), lambda: "s")
    for i in range(3):
        propose(sim, host, i)
        compaction.applied("G", 400)           # 1,200 bytes > 1,000: a snapshot
    sim.run(until=1.0)
    assert node.log.snapshot.index == 4
    propose(sim, host, "x")
    compaction.applied("G", 900)               # counted from the snapshot: 900, none
    sim.run(until=2.0)
    assert node.log.snapshot.index == 4


def test_a_stream_of_large_messages_snapshots_by_size_at_the_servers_index():
    sim = cluster(ClusterTimings())
    c = sim.connect("n1", name="c")
    out = {}

    def prog():
        yield from setup_stream(sim, c, out)
        for _ in range(400):
            yield c.request("s.x", b"x" * 30_000, timeout=2)
    sim.process(prog())
    sim.run(until=60)
    group = sim.servers["n1"].jetstream.assignments["S"]["group"]
    taken = {r["log_index"] for r in records(sim, "raft_snapshot", group=group)} - {1}
    # 8 MiB / (30,000 + 110 + subject + reply bytes) = 278 messages after the first entry
    reply = records(sim, "request", subject="s.x")[0]["reply"]
    per = 30_000 + 110 + len("s.x") + len(reply)
    assert taken == {8 * 1024 * 1024 // per + 2}

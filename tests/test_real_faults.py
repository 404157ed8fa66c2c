"""Faults on a real 3-node cluster: partitions cut routes, pause stops a node, stepdowns move
leaders, node tags place streams, ``server:`` picks a connection's node; bad fault steps are
refused at load; the cluster scenario files give the server's outcomes.

One cluster is shared by the tests of this module that only need a whole cluster; each of them
leaves it whole again (healed, resumed) also when it fails. The scenario runs start their own.
"""

import asyncio
import json
import os
from pathlib import Path

import pytest

from pmesh_sim.cli import main
from pmesh_sim.errors import ScenarioError, ServerProcessError
from pmesh_sim.real.process import NatsCluster
from pmesh_sim.real.runner import run_real
from pmesh_sim.scenario import Scenario, load_scenario
from pmesh_sim.sim.runner import run_sim
from pmesh_sim.trace_kinds import check_trace

CLUSTER_SCENARIOS = Path(__file__).parent.parent / "scenarios" / "cluster"


# ---------------------------------------------------------------------------- helpers

def _nats_children() -> list[int]:
    """nats-server processes whose parent is this test process."""
    found = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{entry}/comm") as f:
                name = f.read().strip()
        except (OSError, IndexError):
            continue
        if name == "nats-server" and int(stat[1]) == os.getpid() and stat[0] != "Z":
            found.append(int(entry))
    return found


def _remote_ports(pid: int) -> list[int]:
    """The remote ports of the established TCP connections of process ``pid``."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    ports = []
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            if fields[9] in inodes and fields[3] == "01":      # 01: ESTABLISHED
                ports.append(int(fields[2].split(":")[1], 16))
    return ports


async def _api(nc, subject: str, body: dict | None = None, timeout: float = 2.0) -> dict:
    msg = await nc.request(subject, json.dumps(body).encode() if body is not None else b"",
                           timeout=timeout)
    return json.loads(msg.data)


async def _connect(url: str):
    import nats

    return await nats.connect(url, connect_timeout=2, max_reconnect_attempts=0)


async def _until(probe, timeout: float = 10.0, every: float = 0.1):
    """Await ``probe()`` until it gives a true value (returned); fail after ``timeout``."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await probe()
        if value:
            return value
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(every)


# ---------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="module", autouse=True)
def no_server_left_behind():
    before = set(_nats_children())       # another module's, if any: not ours to judge
    yield
    assert set(_nats_children()) - before == set()


@pytest.fixture(scope="module")
def shared():
    with NatsCluster(3) as cluster:
        yield cluster


@pytest.fixture
def cluster(shared):
    """The shared cluster, whole again before and after the test: healed, resumed, and its
    meta leader sees every peer online (it places an R3 stream)."""
    _whole(shared)
    yield shared
    shared.heal()
    for a in shared.servers:
        for b in shared.servers:
            if a < b:
                shared.delay(a, b, 0)
    for server in shared.servers.values():
        if server.paused:
            server.resume()
    _whole(shared)


def _whole(cluster):
    async def placeable():
        nc = await _connect(cluster["n1"].url)
        try:
            answer = await _api(nc, "$JS.API.STREAM.CREATE.PROBE", {
                "name": "PROBE", "subjects": ["probe"], "num_replicas": 3})
            if "error" in answer:
                return False
            await _api(nc, "$JS.API.STREAM.DELETE.PROBE")
            return True
        except Exception:  # noqa: BLE001 - no meta leader yet
            return False
        finally:
            await nc.close()

    cluster.wait_for_meta_leader()
    asyncio.run(_until(placeable, timeout=30, every=0.5))


# ---------------------------------------------------------------------------- the proxies

def test_route_proxies_forward_cut_refuse_heal_and_delay():
    import socket
    import time

    from pmesh_sim.real.proxy import RouteProxies

    target = socket.create_server(("127.0.0.1", 0))
    target.settimeout(2)

    def dial(proxies):
        client = socket.create_connection(("127.0.0.1", proxies.port("a", "b")), timeout=2)
        peer, _ = target.accept()
        peer.settimeout(2)
        return client, peer

    with RouteProxies({"a": 1, "b": target.getsockname()[1]}) as proxies:
        client, peer = dial(proxies)
        client.sendall(b"hi")
        assert peer.recv(2) == b"hi"
        peer.sendall(b"yo")
        assert client.recv(2) == b"yo"
        proxies.delay("a", "b", 0.3)                 # what a sends to b waits 0.3 s
        start = time.monotonic()
        client.sendall(b"slow")
        assert peer.recv(4) == b"slow" and time.monotonic() - start >= 0.3
        proxies.delay("a", "b", 0)
        proxies.cut("a", "b")
        assert _closed(client) and _closed(peer)                    # closed both ways
        refused = socket.create_connection(("127.0.0.1", proxies.port("a", "b")), timeout=2)
        assert _closed(refused)                                     # accepted, then closed
        proxies.partition([["a", "b"]])                             # one group: all open
        assert set(proxies.links().values()) == {"open"}
        client2, peer2 = dial(proxies)
        client2.sendall(b"back")
        assert peer2.recv(4) == b"back"
        for s in (client, peer, refused, client2, peer2):
            s.close()
    target.close()


def _closed(sock) -> bool:
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


# ---------------------------------------------------------------------------- the cluster

def test_five_nodes_form_a_cluster_with_a_meta_leader_and_tags():
    async def across(first, last):
        far, near = await _connect(last.url), await _connect(first.url)
        try:
            sub = await far.subscribe("five")
            await far.flush()
            return await _until(lambda: _delivered(near, sub))
        finally:
            await far.close()
            await near.close()

    with NatsCluster(5) as five:
        assert five.wait_for_meta_leader() in five.servers
        assert [s.tags for s in five.servers.values()] == [[f"node:n{i}"] for i in range(1, 6)]
        assert asyncio.run(across(five["n1"], five["n5"])) == b"hello"
        pids = [s.pid for s in five.servers.values()]
    assert not any(pid in _nats_children() for pid in pids)


async def _delivered(nc, sub):
    """Publish on ``nc``; what ``sub`` receives within 0.3 s (None: nothing)."""
    await nc.publish(sub.subject, b"hello")
    await nc.flush()
    try:
        return (await sub.next_msg(timeout=0.3)).data
    except Exception:  # noqa: BLE001 - interest not there yet
        return None


def test_a_partition_cuts_routes_and_heal_restores_them(cluster):
    cluster_ports = {s.cluster[0] for s in cluster.servers.values()}

    def direct_routes():    # a server dialling another's cluster port around the proxies
        return [(name, port) for name, s in cluster.servers.items()
                for port in _remote_ports(s.pid) if port in cluster_ports]

    async def scenario():
        far, near = await _connect(cluster["n3"].url), await _connect(cluster["n1"].url)
        got = []

        async def cb(msg):
            got.append(msg.data)

        await far.subscribe("part.x", cb=cb)
        await far.flush()

        async def publish(data: bytes):
            await near.publish("part.x", data)
            await near.flush()
            await asyncio.sleep(0.3)
            return data in got

        try:
            assert await _until(lambda: publish(b"before"))
            for round_ in (1, 2):              # a second round: no route came back around
                cluster.partition([["n1"], ["n2", "n3"]])
                assert cluster.proxies.links()[("n1", "n3")] == "cut"
                assert cluster.proxies.links()[("n2", "n3")] == "open"
                assert not await publish(b"during %d" % round_)
                cluster.heal()
                assert await _until(lambda: publish(b"after"))
                got.clear()
                assert direct_routes() == []
        finally:
            await far.close()
            await near.close()

    asyncio.run(scenario())


def test_a_paused_node_answers_nothing_until_resumed(cluster):
    async def scenario():
        responder = await _connect(cluster["n2"].url)
        requester = await _connect(cluster["n1"].url)

        async def echo(msg):
            await responder.publish(msg.reply, b"pong")

        try:
            await responder.subscribe("pause.echo", cb=echo)
            await responder.flush()
            ask = lambda: requester.request("pause.echo", b"", timeout=0.5)  # noqa: E731
            assert (await _until(lambda: _answer(ask))) == b"pong"
            cluster.pause("n2")
            assert cluster["n2"].running and cluster["n2"].paused
            assert not cluster["n2"].healthy()          # its monitor answers nothing either
            assert await _answer(ask) == "timeout"
            cluster.resume("n2")
            assert (await _until(lambda: _answer(ask))) == b"pong"
        finally:
            await requester.close()
            await responder.close()

    asyncio.run(scenario())


async def _answer(ask):
    import nats

    try:
        return (await ask()).data
    except nats.errors.TimeoutError:
        return "timeout"
    except nats.errors.NoRespondersError:
        return None


def test_a_delayed_link_holds_back_what_crosses_it(cluster):
    async def scenario():
        responder = await _connect(cluster["n3"].url)
        requester = await _connect(cluster["n1"].url)
        loop = asyncio.get_running_loop()

        async def echo(msg):
            await responder.publish(msg.reply, b"pong")

        async def round_trip(timeout=3.0):
            start = loop.time()
            await requester.request("link.echo", b"", timeout=timeout)
            return loop.time() - start

        try:
            await responder.subscribe("link.echo", cb=echo)
            await responder.flush()
            await _until(lambda: _answer(lambda: requester.request("link.echo", b"",
                                                                   timeout=0.5)))
            cluster.delay("n1", "n3", 0.4)
            assert await round_trip() >= 0.8                 # 0.4 s each way
            assert await _answer(lambda: requester.request("link.echo", b"",
                                                           timeout=0.5)) == "timeout"
            cluster.delay("n1", "n3", 0)
            await asyncio.sleep(0.5)                          # what was held back arrives
            assert await round_trip() < 0.4
        finally:
            await requester.close()
            await responder.close()

    asyncio.run(scenario())


def test_stepdowns_move_the_stream_consumer_and_meta_leaders(cluster):
    async def scenario():
        nc = await _connect(cluster["n1"].url)
        system = await _connect(cluster["n1"].system_url)

        async def leader(subject):
            try:
                return (await _api(nc, subject, timeout=0.5)).get("cluster", {}).get("leader")
            except Exception:  # noqa: BLE001 - unanswered while electing
                return None

        try:
            created = await _api(nc, "$JS.API.STREAM.CREATE.SD", {
                "name": "SD", "subjects": ["sd.>"], "num_replicas": 3})
            assert "error" not in created, created
            created = await _api(nc, "$JS.API.CONSUMER.DURABLE.CREATE.SD.w", {
                "stream_name": "SD", "config": {"durable_name": "w", "ack_policy": "explicit",
                                                "num_replicas": 3}})
            assert "error" not in created, created
            for info, stepdown in (("STREAM.INFO.SD", "STREAM.LEADER.STEPDOWN.SD"),
                                   ("CONSUMER.INFO.SD.w", "CONSUMER.LEADER.STEPDOWN.SD.w")):
                before = await _until(lambda: leader(f"$JS.API.{info}"))
                answer = await _api(nc, f"$JS.API.{stepdown}")
                assert answer.get("success") is True, answer
                after = await _until(lambda: leader(f"$JS.API.{info}"))
                assert after != before and after in cluster.servers
            before = cluster.wait_for_meta_leader()
            assert (await _api(system, "$JS.API.META.LEADER.STEPDOWN"))["success"] is True
            await _until(lambda: _async(cluster.meta_leader() not in (None, before)))
            # the same from Python, without a connection of one's own (here inside a loop)
            before = cluster.wait_for_meta_leader()
            choice = next(n for n in cluster.servers if n != before)
            assert cluster.stepdown(meta=True, preferred=choice) == {
                "type": "io.nats.jetstream.api.v1.meta_leader_stepdown_response",
                "success": True}
            await _until(lambda: _async(cluster.meta_leader() == choice))
            assert cluster.stepdown("SD", preferred="n9")["error"]["err_code"] == 10005
            await _api(nc, "$JS.API.STREAM.DELETE.SD")
        finally:
            await nc.close()
            await system.close()

    asyncio.run(scenario())


async def _async(value):
    return value


def test_node_tags_place_an_r1_stream_on_the_chosen_node(cluster):
    async def scenario():
        nc = await _connect(cluster["n1"].url)
        try:
            placed = {}
            for node in ("n2", "n3"):
                name = f"TAG_{node}"
                info = await _api(nc, f"$JS.API.STREAM.CREATE.{name}", {
                    "name": name, "subjects": [f"tag.{node}"], "num_replicas": 1,
                    "placement": {"tags": [f"node:{node}"]}})
                placed[node] = info["cluster"]["leader"]
                await _api(nc, f"$JS.API.STREAM.DELETE.{name}")
            return placed
        finally:
            await nc.close()

    assert asyncio.run(scenario()) == {"n2": "n2", "n3": "n3"}


def test_a_node_restarted_inside_a_partition_comes_back_and_rejoins_after_heal(cluster):
    cluster.partition([["n1"], ["n2", "n3"]])
    cluster.kill("n1")
    cluster.restart("n1")                  # returns although n1 cannot reach its meta group
    assert cluster["n1"].running and not cluster["n1"].healthy()
    cluster.heal()
    asyncio.run(_until(lambda: _async(cluster["n1"].healthy()), timeout=20, every=0.25))


def test_restart_of_a_running_node_is_refused_naming_it(cluster):
    with pytest.raises(ServerProcessError, match="cannot restart n2: it is running"):
        cluster.restart("n2")
    with pytest.raises(ServerProcessError, match="no server 'n9'"):
        cluster.partition([["n9"]])


# ---------------------------------------------------------------------------- scenarios

PLACED = {
    "name": "placed", "servers": 3,
    "subscriptions": [{"name": "far", "subject": "p.>", "server": "n3"}],
    "steps": [{"at": 0.5, "op": "partition", "groups": [["n1"], ["n2", "n3"]]},
              {"op": "publish", "subject": "p.x", "data": "n1 | n2 n3, from n1"},
              {"op": "publish", "subject": "p.x", "data": "n1 | n2 n3, from n2", "server": "n2"},
              # a core publish still in flight when a partition strikes is lost: wait
              {"at": 0.8, "op": "partition", "groups": [["n1", "n2"], ["n3"]]},
              {"at": 1.1, "op": "wait"},
              {"op": "publish", "subject": "p.x", "data": "n1 n2 | n3, from n2", "server": "n2"},
              {"op": "publish", "subject": "p.x", "data": "n1 n2 | n3, from n3", "server": "n3"}]}


@pytest.mark.parametrize("run", [run_real, run_sim], ids=["real", "sim"])
def test_server_key_starts_each_connection_on_its_node(run):
    doc, trace = run(Scenario.from_dict(PLACED))
    # far hears n2 only with n2 on its side, and n3 always: far is on n3, steps@n2 on n2,
    # steps@n3 on n3, and the default steps connection on n1 (both backends agree)
    assert [m["data"] for m in doc["subscriptions"]["far"]] == [
        "n1 | n2 n3, from n2", "n1 n2 | n3, from n3"]
    connected = {e.fields["client"]: e.fields["node"] for e in trace.filter("connect")}
    assert connected == {"steps": "n1", "steps@n2": "n2", "steps@n3": "n3", "far": "n3"}
    assert [e.fields["groups"] for e in trace.filter("partition")] == ["n1 | n2,n3",
                                                                      "n1,n2 | n3"]
    assert check_trace(trace) == []


def test_link_delay_is_performed_and_link_loss_is_unsupported():
    doc, trace = run_real(Scenario.from_dict({
        "name": "links", "servers": 3,
        "subscriptions": [{"name": "echo", "subject": "svc", "respond": "pong", "server": "n3"}],
        "steps": [{"at": 0.5, "op": "link", "servers": ["n1", "n3"], "delay": 0.4},
                  {"op": "request", "subject": "svc", "data": "1", "timeout": 0.5},
                  {"op": "request", "subject": "svc", "data": "2", "timeout": 2.0},
                  {"op": "link", "servers": ["n1", "n3"], "loss": 0.5, "delay": 0},
                  {"op": "link", "servers": ["n3", "n1"], "delay": 0},
                  {"at": 3.0, "op": "request", "subject": "svc", "data": "3", "timeout": 0.3},
                  {"op": "pause", "server": "n2"}, {"op": "resume", "server": "n2"},
                  {"op": "stepdown", "meta": True, "preferred": "n2"},
                  {"op": "power_loss", "server": "n3"}, {"op": "restart", "server": "n3"}]}))
    assert _results(doc) == [{"outcome": "link_set"}, TIMEOUT, {"data": "pong"},
                             {"outcome": "unsupported"}, {"outcome": "link_set"},
                             {"data": "pong"}, {"outcome": "paused"}, {"outcome": "resumed"},
                             {"leader": "n2"}, {"outcome": "unsupported"},
                             {"outcome": "unsupported"}]
    assert check_trace(trace) == []
    faults = [(e.kind, e.fields.get("node")) for e in trace.filter(
        "link", "pause", "resume", "stepdown")]
    assert faults[:5] == [("link", "n1"), ("link", "n3"), ("pause", "n2"), ("resume", "n2"),
                          ("stepdown", "n1")]          # the link with a loss did nothing


def test_a_run_that_ends_with_its_steps_node_paused_ends_and_stops_it():
    import time

    start = time.monotonic()
    doc, trace = run_real(Scenario.from_dict({
        "name": "paused-at-the-end", "servers": 3,
        "streams": [{"name": "S", "subjects": ["s"], "num_replicas": 3}],
        "steps": [{"op": "pause", "server": "n1"},
                  {"op": "js_publish", "subject": "s", "data": "x", "timeout": 0.5}]}))
    assert _results(doc) == [{"outcome": "paused"}, TIMEOUT]
    assert doc["final"]["streams"]["S"] == {"outcome": "timeout"}   # n1 answers nothing
    assert [e.fields["error"] for e in trace.filter("client_error")] == ["flush: no answer"]
    assert time.monotonic() - start < 30


@pytest.mark.parametrize("run", [run_real, run_sim], ids=["real", "sim"])
def test_a_delayed_link_gives_the_same_outcomes_on_both_backends(run):
    doc, _ = run(Scenario.from_dict({
        "name": "slow-link", "servers": 3,
        "subscriptions": [{"name": "echo", "subject": "svc", "respond": "pong", "server": "n3"}],
        "steps": [{"at": 0.5, "op": "link", "servers": ["n1", "n3"], "delay": 0.4},
                  {"op": "request", "subject": "svc", "data": "1", "timeout": 0.5},
                  {"op": "request", "subject": "svc", "data": "2", "timeout": 2.0},
                  {"op": "request", "subject": "svc", "data": "3", "timeout": 0.5,
                   "server": "n3"}]}))
    assert _results(doc) == [{"outcome": "link_set"}, TIMEOUT, {"data": "pong"},
                             {"data": "pong"}]        # n3's own request crosses no slow link


def _run_cli(path: Path, capsys) -> dict:
    assert main(["run", str(path), "--backend", "real", "--json", "-"]) == 0
    return json.loads(capsys.readouterr().out)


def _results(doc: dict) -> list:
    return [s["result"] for s in doc["steps"]]


SENT, TIMEOUT = {"outcome": "sent"}, {"outcome": "timeout"}


def _ack(seq):
    return {"stream": "ORDERS", "seq": seq, "duplicate": False}


def _state(n):
    return {"messages": n, "first_seq": min(n, 1), "last_seq": n, "num_subjects": n,
            "num_deleted": 0, "consumer_count": 0}


def _flat(result: dict) -> dict:
    return {k: v for k, v in result.items() if k != "bytes"}


def _agrees_with_the_simulation(path: Path, real: dict) -> bool:
    """Cluster scenarios the simulation performs too: core-only ones (its nodes are routed)
    and replicated-stream ones without consumers (sim/js_cluster.py)."""
    from pmesh_sim.checks import compare_results, format_differences

    sim, _ = run_sim(load_scenario(path))
    differences = compare_results(sim, real)
    if differences:                      # shown with the failure
        print(format_differences(differences))
    return differences == []


def test_scenario_partition_core_across_nodes(capsys):
    path = CLUSTER_SCENARIOS / "partition-core-across-nodes.yaml"
    doc = _run_cli(path, capsys)
    assert _results(doc) == [SENT, {"outcome": "partitioned"}, SENT, {"outcome": "healed"}, SENT]
    assert [m["data"] for m in doc["subscriptions"]["far"]] == ["before", "after"]
    assert _agrees_with_the_simulation(path, doc)


def test_scenario_pause_node_request_times_out(capsys):
    path = CLUSTER_SCENARIOS / "pause-node-request-times-out.yaml"
    doc = _run_cli(path, capsys)
    assert _results(doc) == [{"data": "pong"}, {"outcome": "paused"}, TIMEOUT,
                             {"outcome": "resumed"}, {"data": "pong"}]
    # the paused node held request 2 and ran it when resumed, too late for its requester
    assert [m["data"] for m in doc["subscriptions"]["echo"]] == ["1", "2", "3"]
    assert _agrees_with_the_simulation(path, doc)


def test_scenario_r3_partitioned_leader(capsys):
    doc = _run_cli(CLUSTER_SCENARIOS / "r3-partitioned-leader.yaml", capsys)
    results = _results(doc)
    assert results[:7] == [{"leader": "n1"}, _ack(1), {"outcome": "partitioned"}, TIMEOUT,
                           _ack(2), {"outcome": "healed"}, _ack(3)]
    assert _flat(results[7]) == _state(3)                  # read on n3: the lost one is gone
    assert _flat(doc["final"]["streams"]["ORDERS"]) == _state(3)
    assert _agrees_with_the_simulation(CLUSTER_SCENARIOS / "r3-partitioned-leader.yaml", doc)


def test_scenario_placement_r1_node_down(capsys):
    doc = _run_cli(CLUSTER_SCENARIOS / "placement-r1-node-down.yaml", capsys)
    results = _results(doc)
    assert results[:5] == [_ack(1), {"outcome": "killed"}, {"outcome": "no_responders"},
                           {"outcome": "restarted"}, _ack(2)]
    assert _flat(results[5]) == _state(2)
    assert _agrees_with_the_simulation(CLUSTER_SCENARIOS / "placement-r1-node-down.yaml", doc)


def test_scenario_r3_leader_killed(capsys):
    doc = _run_cli(CLUSTER_SCENARIOS / "r3-leader-killed.yaml", capsys)
    results = _results(doc)
    assert results[:7] == [{"leader": "n1"}, _ack(1), _ack(2), {"outcome": "killed"}, _ack(3),
                           {"outcome": "restarted"}, {"leader": "n1"}]
    assert _flat(results[7]) == _state(3)                  # n1 leads again: it caught up
    assert _agrees_with_the_simulation(CLUSTER_SCENARIOS / "r3-leader-killed.yaml", doc)


def test_scenario_r3_consumer_failover_keeps_pending_acks(capsys):
    doc = _run_cli(CLUSTER_SCENARIOS / "r3-consumer-failover-pending.yaml", capsys)
    results = _results(doc)
    assert [m["stream_seq"] for m in results[3]["messages"]] == [1, 2, 3]
    assert results[4] == {"leader": "n2"}
    assert [(m["stream_seq"], m["num_delivered"]) for m in results[5]["messages"]] == [
        (2, 2), (3, 2)]
    assert results[6]["ack_floor"] == {"consumer_seq": 5, "stream_seq": 3}
    assert _agrees_with_the_simulation(CLUSTER_SCENARIOS / "r3-consumer-failover-pending.yaml",
                                       doc)


def test_scenario_r1_consumer_survives_a_restart_of_its_node(capsys):
    doc = _run_cli(CLUSTER_SCENARIOS / "r1-consumer-survives-restart.yaml", capsys)
    results = _results(doc)
    assert results[2:5] == [{"outcome": "killed"}, {"outcome": "restarted"}, _ack(2)]
    assert results[5]["delivered"] == results[5]["ack_floor"] == {"consumer_seq": 1,
                                                                  "stream_seq": 1}
    assert [(m["data"], m["consumer_seq"]) for m in results[6]["messages"]] == [("b", 2)]
    assert _agrees_with_the_simulation(CLUSTER_SCENARIOS / "r1-consumer-survives-restart.yaml",
                                       doc)


def test_scenario_meta_stepdown(capsys):
    doc = _run_cli(CLUSTER_SCENARIOS / "meta-stepdown.yaml", capsys)
    results = _results(doc)
    assert results[0] == {"leader": "n3"}
    assert _flat(results[1]) == _state(0)
    assert results[2] == _ack(1)
    assert _agrees_with_the_simulation(CLUSTER_SCENARIOS / "meta-stepdown.yaml", doc)


def test_scenario_meta_leader_killed_api_silent_until_a_new_election(capsys):
    path = CLUSTER_SCENARIOS / "meta-leader-killed.yaml"
    doc = _run_cli(path, capsys)
    results = _results(doc)
    assert results[:3] == [{"leader": "n3"}, {"outcome": "killed"}, TIMEOUT]
    assert _flat(results[3]) == _state(0)                   # the create after the election
    assert results[4] == {"duplicate": False, "seq": 1, "stream": "LATE"}
    assert _flat(results[5]) == _state(1)
    assert list(doc["final"]["streams"]) == ["LATE"]        # the early create never happened
    assert _agrees_with_the_simulation(path, doc)


def test_scenario_r5_quorum_five_nodes(capsys):
    doc = _run_cli(CLUSTER_SCENARIOS / "r5-quorum-five-nodes.yaml", capsys)
    killed, restarted = {"outcome": "killed"}, {"outcome": "restarted"}
    assert _results(doc) == [{"leader": "n1"}, killed, killed, _ack(1), _ack(2), killed,
                             TIMEOUT, restarted, _ack(4)]
    # the publish that timed out without a quorum was stored once n3 was back
    assert _flat(doc["final"]["streams"]["ORDERS"]) == _state(4)
    assert doc["servers"] == 5
    assert _agrees_with_the_simulation(CLUSTER_SCENARIOS / "r5-quorum-five-nodes.yaml", doc)


# ------------------------------------------------ replicated consumers (branch r3consumers)

def _seqs(result: dict) -> list:
    return [(m["stream_seq"], m["num_delivered"]) for m in result["messages"]]


def test_scenario_r3_consumer_leader_killed(capsys):
    path = CLUSTER_SCENARIOS / "r3-consumer-leader-killed.yaml"
    doc = _run_cli(path, capsys)
    results = _results(doc)
    assert results[:2] == [{"leader": "n1"}, {"leader": "n2"}]
    assert _seqs(results[5]) == [(1, 1), (2, 1), (3, 1)]
    assert results[6] == {"outcome": "killed"} and results[7] == _ack(4)
    # the new consumer leader knew 3 was pending: it comes again, then the new one
    assert _seqs(results[8]) == [(3, 2), (4, 1)]
    assert [m["consumer_seq"] for m in results[8]["messages"]] == [4, 5]
    assert results[10]["ack_floor"] == {"consumer_seq": 5, "stream_seq": 4}
    assert _agrees_with_the_simulation(path, doc)


def test_scenario_r3_consumer_stepdown_keeps_the_ack_floor(capsys):
    path = CLUSTER_SCENARIOS / "r3-consumer-stepdown-ack-floor.yaml"
    doc = _run_cli(path, capsys)
    results = _results(doc)
    assert results[0] == {"leader": "n1"} and results[7] == {"leader": "n3"}
    assert results[8]["ack_floor"] == {"consumer_seq": 2, "stream_seq": 2}
    assert results[8]["num_ack_pending"] == 2
    assert _seqs(results[9]) == [(3, 2), (5, 2)]
    assert results[10]["ack_floor"] == {"consumer_seq": 7, "stream_seq": 5}
    assert results[10]["num_ack_pending"] == 0
    assert _agrees_with_the_simulation(path, doc)


def test_scenario_r3_workqueue_leader_killed(capsys):
    path = CLUSTER_SCENARIOS / "r3-workqueue-leader-killed.yaml"
    doc = _run_cli(path, capsys)
    results = _results(doc)
    assert results[:2] == [{"leader": "n1"}, {"leader": "n1"}]
    assert _seqs(results[6]) == [(1, 1), (2, 1)]
    assert (results[8]["messages"], results[8]["first_seq"]) == (2, 3)   # acked: gone
    assert _seqs(results[9]) == [(3, 1), (4, 1)]
    assert results[11]["messages"] == 0 and results[11]["last_seq"] == 4
    assert doc["final"]["streams"]["JOBS"]["messages"] == 0
    assert _agrees_with_the_simulation(path, doc)


def test_scenario_r3_consumer_stepdown_loses_the_waiting_pull(capsys):
    path = CLUSTER_SCENARIOS / "r3-consumer-stepdown-pull-waiting.yaml"
    doc = _run_cli(path, capsys)
    results = _results(doc)
    assert results[0] == {"leader": "n1"} and results[2] == {"leader": "n2"}
    assert results[4]["num_waiting"] == 0 and results[4]["num_pending"] == 1
    assert results[5] == {"messages": []}       # 409 Leadership Change: nats-py gives up
    assert _seqs(results[6]) == [(1, 1)]
    assert results[7]["ack_floor"] == {"consumer_seq": 1, "stream_seq": 1}
    assert _agrees_with_the_simulation(path, doc)


def test_scenario_r3_push_consumer_leader_killed(capsys):
    path = CLUSTER_SCENARIOS / "r3-push-consumer-leader-killed.yaml"
    doc = _run_cli(path, capsys)
    results = _results(doc)
    assert results[:2] == [{"leader": "n1"}, {"leader": "n1"}]
    assert results[4] == {"outcome": "killed"} and results[6] == _ack(4)
    assert [m["data"] for m in doc["subscriptions"]["inbox"]] == ["a", "b", "c", "d"]
    assert results[7]["delivered"] == {"consumer_seq": 4, "stream_seq": 4}
    assert _agrees_with_the_simulation(path, doc)


def test_scenario_r3_consumer_max_deliver_survives_stepdowns(capsys):
    path = CLUSTER_SCENARIOS / "r3-consumer-max-deliver-stepdown.yaml"
    doc = _run_cli(path, capsys)
    results = _results(doc)
    assert _seqs(results[1]) == [(1, 1)] and _seqs(results[2]) == [(1, 2)]
    assert results[3] == results[5] == {"outcome": "stepped_down"}
    assert results[4] == results[6] == {"messages": []}        # never a third time
    assert (results[7]["num_ack_pending"], results[7]["num_redelivered"]) == (0, 1)
    assert _agrees_with_the_simulation(path, doc)


def test_scenario_r3_consumer_deposed_leader_drops_its_uncommitted_acks(capsys):
    path = CLUSTER_SCENARIOS / "r3-consumer-deposed-leader-acks.yaml"
    doc = _run_cli(path, capsys)
    results = _results(doc)
    assert results[3] == {"leader": "n1"}
    assert (results[4]["fetched"], results[4]["acked"]) == (3, 3)    # acked on the cut-off n1
    none = {"consumer_seq": 0, "stream_seq": 0}
    for info in (results[7], results[9]):           # the new leader's, then n1's again
        assert (info["num_ack_pending"], info["ack_floor"]) == (3, none)
    assert results[8] == {"leader": "n1"}
    assert _seqs(results[10]) == [(1, 2), (2, 2), (3, 2)]
    assert results[11]["ack_floor"] == {"consumer_seq": 6, "stream_seq": 3}
    assert _agrees_with_the_simulation(path, doc)


def test_scenario_r3_consumer_pause_holds_through_a_stepdown(capsys):
    path = CLUSTER_SCENARIOS / "r3-consumer-pause.yaml"
    doc = _run_cli(path, capsys)
    results = _results(doc)
    assert results[1]["paused"] is True and results[2]["paused"] is True
    assert results[3] == results[5] == {"messages": []}     # paused, under either leader
    assert results[4] == {"outcome": "stepped_down"} and results[6]["paused"] is True
    assert results[7]["paused"] is False
    assert [m["data"] for m in results[8]["messages"]] == ["1"]
    assert json.loads(results[10]["data"])["error"]["err_code"] == 10014
    assert _agrees_with_the_simulation(path, doc)


def test_scenario_r3_consumer_reset_reaches_the_next_leader(capsys):
    path = CLUSTER_SCENARIOS / "r3-consumer-reset.yaml"
    doc = _run_cli(path, capsys)
    results = _results(doc)
    assert results[6]["reset_seq"] == 2                        # back to the ack floor
    assert results[7] == {"outcome": "stepped_down"}
    assert (results[8]["num_ack_pending"], results[8]["ack_floor"]) == (
        0, {"consumer_seq": 0, "stream_seq": 1})
    assert [(m["stream_seq"], m["consumer_seq"]) for m in results[9]["messages"]] == [
        (2, 1), (3, 2), (4, 3)]
    assert results[10]["reset_seq"] == 3
    assert [m["stream_seq"] for m in results[11]["messages"]] == [3, 4]
    assert results[13]["error"]["err_code"] == 10204
    assert _agrees_with_the_simulation(path, doc)


def test_scenario_r3_follower_restart_snapshot_catch_up(capsys):
    path = CLUSTER_SCENARIOS / "r3-follower-restart-snapshot-catch-up.yaml"
    doc = _run_cli(path, capsys)
    results = _results(doc)
    assert results[:4] == [{"leader": "n1"}, _ack(1), _ack(2), {"outcome": "killed"}]
    assert results[4:17] == [_ack(i) for i in range(3, 16)]
    assert results[18:23] == [{"leader": "n2"}, _ack(16), _ack(17), {"outcome": "restarted"},
                              {"leader": "n3"}]
    # led by n3, which caught up from n2's snapshot: seq 7-17 but the deleted 9
    assert _flat(results[23]) == {"messages": 10, "first_seq": 7, "last_seq": 17,
                                  "num_subjects": 10, "num_deleted": 1, "consumer_count": 0}
    gets = [json.loads(r["data"]) for r in results[24:]]
    assert [g["message"]["seq"] if "message" in g else g["error"]["err_code"]
            for g in gets] == [10037, 7, 10037, 17]
    assert _agrees_with_the_simulation(path, doc)


REPLICATED_CONSUMER_SCENARIOS = {"r3-consumer-leader-killed": 3,
                                 "r3-consumer-reset": 3,
                                 "r3-consumer-pause": 3,
                                 "r3-consumer-deposed-leader-acks": 3,
                                 "r3-consumer-max-deliver-stepdown": 3,
                                 "r3-consumer-stepdown-ack-floor": 3,
                                 "r3-consumer-stepdown-pull-waiting": 3,
                                 "r3-push-consumer-leader-killed": 3,
                                 "r3-workqueue-leader-killed": 3}


def test_every_cluster_scenario_has_a_test_here():
    from test_cluster_conformance import EXPECTED   # the table of the newer files

    tested = {"partition-core-across-nodes": 3, "pause-node-request-times-out": 3,
              "r3-partitioned-leader": 3, "placement-r1-node-down": 3, "r3-leader-killed": 3,
              "r3-consumer-failover-pending": 3, "meta-stepdown": 3, "meta-leader-killed": 3,
              "r5-quorum-five-nodes": 5,
              "r1-consumer-survives-restart": 3,
              "r3-follower-restart-snapshot-catch-up": 3,
              **REPLICATED_CONSUMER_SCENARIOS}
    assert not set(tested) & set(EXPECTED)
    tested.update({stem: servers for stem, (servers, _) in EXPECTED.items()})
    assert {p.stem: load_scenario(p).servers for p in CLUSTER_SCENARIOS.glob("*.yaml")} == tested


# ---------------------------------------------------------------------------- bad input

BASE = {"name": "bad", "servers": 3, "streams": [{"name": "S", "subjects": ["s.>"]}]}


@pytest.mark.parametrize("steps, words", [
    ([{"op": "kill", "server": "n4"}], ["step 0 (kill)", "'n4'", "n1, n2, n3"]),
    ([{"op": "partition", "groups": [["n1"], ["n2", "n1"]]}],
     ["step 0 (partition)", "'groups'", "'n1' is named twice"]),
    ([{"op": "partition", "groups": [["n1"], ["n5"]]}], ["step 0 (partition)", "'n5'"]),
    ([{"op": "restart", "server": "n2"}], ["step 0 (restart)", "cannot restart n2",
                                           "running", "kill it first"]),
    ([{"op": "kill", "server": "n2"}, {"op": "kill", "server": "n2"}],
     ["step 1 (kill)", "cannot kill n2: it is killed"]),
    ([{"op": "resume", "server": "n3"}], ["step 0 (resume)", "cannot resume n3"]),
    ([{"op": "publish", "subject": "a", "server": "n7"}], ["step 0 (publish)", "'server'",
                                                           "'n7'"]),
    ([{"op": "stepdown"}], ["step 0 (stepdown)", "say which leader"]),
    ([{"op": "stepdown", "stream": "S", "preferred": "n9"}], ["step 0 (stepdown)",
                                                             "'preferred'", "'n9'"]),
    ([{"op": "wait", "server": "n1"}], ["step 0 (wait)", "'server'", "unknown key"]),
    ([{"op": "link", "servers": ["n1", "n1"], "delay": 1}], ["step 0 (link)", "two different"]),
    ([{"op": "link", "servers": ["n1", "n4"], "delay": 1}], ["step 0 (link)", "'n4'"]),
    ([{"op": "link", "servers": ["n1", "n2"]}], ["step 0 (link)", "'delay'", "missing"]),
    ([{"op": "link", "servers": ["n1", "n2"], "loss": 1.0}], ["step 0 (link)", "'loss'"]),
])
def test_bad_fault_steps_are_refused_at_load_naming_step_and_node(steps, words):
    with pytest.raises(ScenarioError) as err:
        Scenario.from_dict({**BASE, "steps": steps})
    for word in words:
        assert word in str(err.value)


def test_a_subscription_on_an_unknown_node_is_refused():
    with pytest.raises(ScenarioError, match=r"subscriptions\[0\]: key 'server': unknown server "
                                            "'n4'"):
        Scenario.from_dict({**BASE, "subscriptions": [{"name": "s", "subject": "a",
                                                       "server": "n4"}]})


def test_kill_restart_pause_resume_in_order_load():
    scenario = Scenario.from_dict({**BASE, "steps": [
        {"op": "pause", "server": "n2"}, {"op": "kill", "server": "n2"},
        {"op": "restart", "server": "n2"}, {"op": "pause", "server": "n2"},
        {"op": "resume", "server": "n2"}, {"op": "power_loss", "server": "n3"},
        {"op": "restart", "server": "n3"}]})
    assert [s.args["server"] for s in scenario.steps] == ["n2"] * 5 + ["n3"] * 2


def test_the_simulation_refuses_a_connection_on_another_node_before_running():
    # JetStream on n1 only (a 4-node cluster): a connection on another node is refused
    scenario = Scenario.from_dict({**BASE, "servers": 4, "subscriptions": [
        {"name": "far", "subject": "a", "server": "n3"}]})
    with pytest.raises(ScenarioError, match=r"subscriptions\[0\]: key 'server': 'n3' is not "
                                            "simulated in a scenario that uses JetStream on 4"):
        run_sim(scenario)
    on_n1 = Scenario.from_dict({**BASE, "servers": 4, "steps": [
        {"op": "publish", "subject": "a", "server": "n1"}, {"op": "stepdown", "stream": "S"},
        {"op": "partition", "groups": [["n1"]]}]})
    doc, _ = run_sim(on_n1)
    assert [s["result"].get("outcome") for s in doc["steps"]] == ["sent"] + ["unsupported"] * 2


def test_the_simulation_runs_connections_on_any_node_of_a_replicated_cluster():
    # servers: 3 with JetStream: replicated on every node (sim/js_cluster.py)
    doc, _ = run_sim(Scenario.from_dict({**BASE, "subscriptions": [
        {"name": "far", "subject": "s.>", "server": "n3"}], "steps": [
        {"op": "js_publish", "subject": "s.1", "data": "x", "server": "n2"},
        {"op": "partition", "groups": [["n1"]]}]}))
    assert [s["result"].get("outcome", s["result"].get("seq")) for s in doc["steps"]] == [
        1, "partitioned"]
    assert [m["data"] for m in doc["subscriptions"]["far"]] == ["x"]
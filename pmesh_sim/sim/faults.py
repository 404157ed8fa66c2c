"""Faults on a simulated cluster: kill, restart, pause, resume, partition, heal, link settings.

Each is a method of :class:`~pmesh_sim.sim.simulation.Simulation` (``sim.kill("n2")``) and a
scenario op. What each cuts, as on real processes:

- ``kill``: the node stops at once; whatever is in flight to it is lost, its clients see the
  connection drop one latency later (and reconnect to another node, :mod:`.reconnect`), its
  peers see the route close one latency later and forget its interest.
- ``power_loss``: a kill that also loses the writes the node had not synced to disk
  (replicated JetStream only: each RAFT log as of the last ``sync_interval`` tick).
- ``restart``: the node runs again, empty (no clients, no interest); routes to every peer it
  is not partitioned from open at once and exchange interest.
- ``pause``: the node processes nothing (SIGSTOP): messages to it wait on their links, its
  timers wait; connections stay open. ``resume`` delivers what waited, in order.
- ``partition``: the routes between the groups close (as a route proxy that drops them) and
  stay closed until ``heal``; nodes left out of every group form one more group. Client
  connections are not cut.
- ``set_link``: extra loss and delay on the links between two endpoints, both directions.

With JetStream on n1 only (the scenario runner today), killing or pausing a node whose JetStream
holds streams, or partitioning it away, is refused (:class:`~pmesh_sim.errors.NotSimulatedError`).
With replicated JetStream (``add_cluster(3, jetstream=True)``, :mod:`.js_cluster`) a kill keeps
the node's RAFT logs and ``restart`` rebuilds its JetStream from them; stream and consumer
leaders move as on a real cluster (consumers have their own RAFT groups, :mod:`.js_consumers`).

>>> from pmesh_sim.sim import Simulation
>>> sim = Simulation(seed=0, latency=0.001)
>>> _ = sim.add_cluster(3)
>>> sim.kill("n2"); sim.run(until=0.01); sorted(p.name for p in sim.servers["n1"].peers)
['n3']
>>> sim.restart("n2")
>>> sim.restart("n2")
Traceback (most recent call last):
...
pmesh_sim.errors.ConfigError: restart n2: n2 is running (restart follows a kill)
"""

from __future__ import annotations

from ..errors import ConfigError, NotSimulatedError
from . import routes

__all__ = ["kill", "power_loss", "restart", "pause", "resume", "partition", "heal", "set_link"]


def _node(sim, name, op: str):
    if not isinstance(name, str) or name not in sim.servers:
        raise ConfigError(f"{op} {name!r}: no such node (nodes: {', '.join(sim.servers)})")
    return sim.servers[name]


def _refuse_jetstream(node, op: str) -> None:
    host = node.jetstream
    if hasattr(host, "refuse_fault"):          # replicated JetStream (sim/js_cluster.py)
        host.refuse_fault(op)
    elif host is not None and host.js.streams:
        raise NotSimulatedError(f"{op} of {node.name}, which hosts JetStream streams "
                                "(JetStream replication across nodes is not simulated yet)")


def kill(sim, name: str, *, power_loss: bool = False) -> None:
    op = "power_loss" if power_loss else "kill"
    node = _node(sim, name, op)
    if node.state == "down":
        raise ConfigError(f"{op} {name}: {name} is already down")
    if power_loss and not hasattr(node.jetstream, "on_kill"):
        raise NotSimulatedError(f"power_loss of {name}: only nodes of a replicated JetStream "
                                "cluster model what a power loss loses")
    _refuse_jetstream(node, op)
    sim.trace.emit(op, node=name)
    node.state = "down"
    node.held_timers.clear()
    if hasattr(node.jetstream, "on_kill"):
        node.jetstream.on_kill(power_loss=power_loss)
    sim.network.set_endpoint(name, "down")
    env, lat = sim.env, sim.network.latency()
    for peer in list(node.peers):
        routes.route_down(node, peer.name, "killed")
        env.timeout(lat).callbacks.append(
            lambda _e, p=peer: routes.route_down(p, name, "peer_killed"))
    for client in list(node.clients):
        env.timeout(lat).callbacks.append(lambda _e, c=client: c._lost_server(node))
        node._on_close(client)
    node.local_subs = {k: s for k, s in node.local_subs.items() if k[0] == ""}


def power_loss(sim, name: str) -> None:
    """A kill that also loses what the node's file store had not synced (its RAFT logs as
    of the last ``sync_interval`` tick; everything with ``sync_interval=0``, i.e. always)."""
    kill(sim, name, power_loss=True)


def restart(sim, name: str) -> None:
    node = _node(sim, name, "restart")
    if node.state != "down":
        raise ConfigError(f"restart {name}: {name} is running (restart follows a kill)")
    sim.trace.emit("restart", node=name)
    node.state = None
    sim.network.set_endpoint(name, None)
    if hasattr(node.jetstream, "on_restart"):
        node.jetstream.on_restart()          # its JetStream again, from its RAFT logs
    elif node.jetstream is not None:
        node.jetstream._timer_at = None
        node.jetstream._schedule()
    for other in sim.servers.values():
        if other is not node and other.state != "down" and other.name in node.cluster \
                and not sim.network.link(name, other.name).cut:
            routes.route_up(node, other)


def pause(sim, name: str) -> None:
    node = _node(sim, name, "pause")
    if node.state is not None:
        raise ConfigError(f"pause {name}: {name} is {node.state}")
    _refuse_jetstream(node, "pause")
    sim.trace.emit("pause", node=name)
    if node.raft is not None:
        node.raft.on_pause()
    node.state = "paused"
    sim.network.set_endpoint(name, "paused")


def resume(sim, name: str) -> None:
    node = _node(sim, name, "resume")
    if node.state != "paused":
        raise ConfigError(f"resume {name}: {name} is not paused")
    held = sim.network.set_endpoint(name, None)
    timers, node.held_timers = node.held_timers, []
    sim.trace.emit("resume", node=name, released=len(held), timers=len(timers))
    node.state = None
    for fn, args in held:
        fn(*args)
    for fn in timers:
        node._timer(fn)


def partition(sim, groups) -> None:
    if not isinstance(groups, (list, tuple)) or not all(
            isinstance(g, (list, tuple)) for g in groups):
        raise ConfigError(f"partition {groups!r}: give a list of groups of node names")
    seen: dict[str, int] = {}
    for i, group in enumerate(groups):
        for name in group:
            _node(sim, name, "partition")
            if name in seen:
                raise ConfigError(f"partition: node {name} is named twice (groups "
                                  f"{seen[name] + 1} and {i + 1})")
            seen[name] = i
    rest = [n for n in sim.servers if n not in seen]
    for name in rest:
        seen[name] = len(groups)
    split = [(a, b) for a in sim.servers for b in sim.servers if a < b and seen[a] != seen[b]]
    for a, b in split:
        for name in (a, b):
            host = sim.servers[name].jetstream
            if hasattr(host, "refuse_fault"):
                host.refuse_fault("partition")
            elif host is not None and host.js.streams:
                raise NotSimulatedError(f"partition cutting {a} from {b}: {name} hosts "
                                        "JetStream streams (replication is not simulated yet)")
    sim.trace.emit("partition", node="", groups=" | ".join(
        ",".join(g) for g in [*map(list, groups), *([rest] if rest else [])]))
    network = sim.network
    network.set_faulty()
    for a, b in split:
        network.link(a, b).cut = network.link(b, a).cut = True
        routes.route_down(sim.servers[a], b, "partition")
        routes.route_down(sim.servers[b], a, "partition")


def heal(sim) -> None:
    sim.trace.emit("heal", node="")
    network = sim.network
    for (a, b), link in network.links.items():
        if link.cut and a in sim.servers and b in sim.servers:
            link.cut = False
    for a in sim.servers.values():
        for b in sim.servers.values():
            if a.name < b.name and a.state != "down" and b.state != "down" \
                    and b.name in a.cluster:
                routes.route_up(a, b)


def set_link(sim, a: str, b: str, *, loss: float | None = None,
             delay: float | None = None) -> None:
    for name in (a, b):
        if name not in sim.servers and name not in sim.clients:
            raise ConfigError(f"set_link {a}-{b}: no node or client named {name!r}")
    if loss is not None and (isinstance(loss, bool) or not isinstance(loss, (int, float))
                             or not 0 <= loss < 1):
        raise ConfigError(f"set_link {a}-{b}: loss={loss!r}: give a probability in [0, 1)")
    if delay is not None and (isinstance(delay, bool) or not isinstance(delay, (int, float))
                              or delay < 0):
        raise ConfigError(f"set_link {a}-{b}: delay={delay!r}: give seconds >= 0")
    network = sim.network
    network.set_faulty()
    for src, dst in ((a, b), (b, a)):
        link = network.link(src, dst)
        if loss is not None:
            link.loss = float(loss)
        if delay is not None:
            link.delay = float(delay)
    sim.trace.emit("link", node=a, src=a, dst=b, loss=network.link(a, b).loss,
                   delay=network.link(a, b).delay)

"""Routes between the server nodes of a cluster: interest propagation and one-hop forwarding.

As on nats-server (``route.go``, ``client.go`` ``processMsgResults``):

- every subscription a node knows of its own (a client's or the node's internal one) is sent to
  each routed peer (``RS+``/``RS-``) over the route's link; the peer keeps a :class:`RouteSub`
  for it, so it knows the interest one route hop later;
- a message published on a node goes to each peer with matching plain interest once, and to a
  peer chosen as a queue group's member: the member is drawn uniformly from *all* members in
  the cluster (a remote node weighted by its member count; measured on a real 3-node 2.15.1
  cluster: 300 publishes on n1 to members on n1, n2, n3 gave about 100 each, members n1, n2,
  n2 about 100 each);
- a message that came over a route is delivered to the receiving node's own subscriptions only
  (one hop, no loops), to its plain subscribers and to the queue groups the sender chose for
  it, each to a local member drawn at random. A queue group with no local member left gets
  nothing (the server would pass it to another route: not modelled).

>>> from pmesh_sim.sim import Simulation
>>> sim = Simulation(seed=1, latency=0.001)
>>> n1, n2, n3 = sim.add_cluster(3)
>>> got = []
>>> _ = sim.connect("n3", name="sub").subscribe("x", cb=lambda m: got.append((round(sim.now, 3), m.data)))
>>> sim.run(until=0.01)
>>> n1.has_client_interest("x")                 # known on n1 one route hop after the SUB
True
>>> sim.connect("n1", name="pub").publish("x", b"hi"); sim.run(until=0.02)
>>> got                                          # client -> n1 -> n3 -> client: 3 hops
[(0.013, b'hi')]
"""

from __future__ import annotations

__all__ = ["RouteSub", "announce", "route_up", "route_down", "forward", "on_routed"]


class RouteSub:
    """A peer's subscription as this node knows it (``peer``: the node it lives on)."""

    __slots__ = ("subject", "queue", "peer", "active")
    internal = True          # routed like the server's own subscriptions, never as a client's

    def __init__(self, subject: str, queue: str, peer: str):
        self.subject = subject
        self.queue = queue
        self.peer = peer
        self.active = True

    def __repr__(self) -> str:
        return f"RouteSub({self.subject!r}, queue={self.queue!r}, peer={self.peer!r})"


def _key(sub) -> tuple:
    client = getattr(sub, "client", None)
    return (client.name, sub.sid) if client is not None else ("", id(sub))


def announce(server, sub, added: bool) -> None:
    """Tell every routed peer that ``sub`` (a local subscription) was added or removed."""
    key = _key(sub)
    if added:
        server.local_subs[key] = sub
    elif server.local_subs.pop(key, None) is None:
        return
    network = server.sim.network
    for peer in server.peers:
        network.send(network.link(server.name, peer.name), peer._on_rs, server.name, key,
                     sub.subject, sub.queue or "", added)


def on_rs(server, origin: str, key: tuple, subject: str, queue: str, added: bool) -> None:
    """``RS+``/``RS-`` from ``origin`` arrives at ``server``."""
    if origin not in server.peer_names:
        return                                   # the route went down meanwhile
    remote = server.remote
    if added:
        if (origin, key) in remote:
            return
        rsub = remote[(origin, key)] = RouteSub(subject, queue, origin)
        server.index.add(rsub)
    else:
        rsub = remote.pop((origin, key), None)
        if rsub is None:
            return
        rsub.active = False
        server.index.remove(rsub)
    trace = server.sim.trace
    if trace.enabled:
        trace.emit("route_interest", node=server.name, peer=origin, subject=subject,
                   queue=queue, added=added)
    if server.on_client_interest is not None:
        server.on_client_interest()


def route_up(a, b) -> None:
    """Open the route between nodes ``a`` and ``b``; each sends the other its interest."""
    if b in a.peers:
        return
    for x, y in ((a, b), (b, a)):
        x.peers.append(y)
        x.peer_names.add(y.name)
        x.sim.trace.emit("route_up", node=x.name, peer=y.name)
    network = a.sim.network
    for x, y in ((a, b), (b, a)):
        link = network.link(x.name, y.name)
        for key, sub in list(x.local_subs.items()):
            network.send(link, y._on_rs, x.name, key, sub.subject, sub.queue or "", True)


def route_down(server, peer_name: str, reason: str) -> None:
    """``server`` loses its route to ``peer_name``: it forgets everything it knew from there."""
    if peer_name not in server.peer_names:
        return
    server.peer_names.discard(peer_name)
    server.peers[:] = [p for p in server.peers if p.name != peer_name]
    for key in [k for k in server.remote if k[0] == peer_name]:
        rsub = server.remote.pop(key)
        rsub.active = False
        server.index.remove(rsub)
    server.sim.trace.emit("route_down", node=server.name, peer=peer_name, reason=reason)
    if server.on_client_interest is not None:
        server.on_client_interest()


def forward(server, subs: list, routed: str, shown: str, reply: str, data: bytes,
            headers, msg_id: int) -> None:
    """Send one copy to each peer among ``subs`` (RouteSubs: plain interest, or the chosen
    member of a queue group), naming the queue groups it is for."""
    peers: dict[str, list] = {}
    for sub in subs:
        queues = peers.setdefault(sub.peer, [])
        if sub.queue:
            queues.append(sub.queue)
    sim = server.sim
    network, trace = sim.network, sim.trace
    for name, queues in peers.items():
        peer = sim.servers[name]
        if trace.enabled:
            trace.record(server.env.now, "forward", {
                "node": server.name, "peer": name, "subject": shown, "msg_id": msg_id,
                "queues": ",".join(queues)})
        network.send(network.link(server.name, name), peer._on_routed, routed, shown, reply,
                     data, headers, msg_id, tuple(queues))


def on_routed(server, routed: str, shown: str, reply: str, data: bytes, headers,
              msg_id: int, queues: tuple) -> None:
    """A message from a route: to this node's own plain subscriptions and, for each queue
    group named in ``queues``, one local member (random); never back to a route."""
    match = server.index.match(routed)
    targets, internal = [], []
    for sub in match.plain:
        if sub.internal:
            if sub.active and sub.peer is None:
                internal.append(sub)
        elif sub._server_active:
            targets.append(sub)
    if queues:
        rng = server.sim.rng
        for members in match.groups:
            if members[0].queue not in queues:
                continue
            local = [s for s in members if _local_and_able(s)]
            if local:
                sub = local[rng.randrange(len(local))] if len(local) > 1 else local[0]
                (internal if sub.internal else targets).append(sub)
    server._deliver(targets, internal, shown, reply, data, headers, msg_id)


def _local_and_able(sub) -> bool:
    if sub.internal:
        return sub.active and sub.peer is None
    return sub._server_active

"""RAFT groups hosted on a simulated node: timers and message transport for pure RaftNodes.

A :class:`RaftHost` keeps one :class:`~pmesh_sim.cluster.raft.RaftNode` per group this node is
a peer of. It turns each node's ``next_deadline()`` into one pending timer (``server.call_at``,
so a paused node's timers fire late when it resumes and a dead node's never fire) and sends
every envelope over the network's link between the two nodes (the server's ``$NRG.*`` route
traffic), so a partition, a pause or a kill cuts exactly what it cuts between real servers.
The simulation's one ``rng`` draws every election timeout.

>>> from pmesh_sim.sim import Simulation
>>> sim = Simulation(seed=3, latency=0.001)
>>> nodes = sim.add_cluster(3)
>>> hosts = [RaftHost(n) for n in nodes]
>>> for h in hosts:
...     _ = h.add("G", ["n1", "n2", "n3"])
>>> sim.run(until=12.0)
>>> sorted({h.nodes["G"].leader for h in hosts})     # one leader, known to every peer
['n1']
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from ..cluster.raft import RaftNode
from ..cluster.raft_log import Durable
from .server import fire_delay

__all__ = ["RaftHost"]


class RaftHost:
    """The RAFT groups of one server node (``server.raft``)."""

    def __init__(self, server):
        self.server = server
        self.name = server.name          # the network's endpoint name for held messages
        self.sim = server.sim
        self.nodes: dict[str, RaftNode] = {}
        #: group -> (deadline, when its timer fires, token, when the token's pending
        #: timeout fires: earlier once the deadline moved later; None once it fired)
        self._armed: dict[str, tuple] = {}
        self._token = 0
        self._stale: list[float] = []    # when superseded timers never scheduled would fire
        self._stale_prune = 1024
        self._rows: dict[tuple, tuple] = {}   # field names -> the keys tuple rows share
        #: peer node -> when a RAFT message from it last arrived (any group)
        self.seen: dict[str, float] = {}
        #: group -> (term, vote, last index) at its last sync to disk (see :meth:`sync_every`)
        self.synced: dict[str, tuple] = {}
        self._sync_every = 0.0
        self._sync_token = 0
        server.raft = self

    def add(self, group: str, peers, *, apply: Callable[[Any], None] | None = None,
            lead_change: Callable[[bool], None] | None = None,
            durable: Durable | None = None, campaign: float | None = None,
            traced: bool = True) -> RaftNode:
        """Start this node's peer of ``group`` (``traced=False``: an internal group the
        server does not have, such as an R1 stream's, writes no trace)."""
        trace, env, name = self.sim.trace, self.sim.env, self.name
        rows = self._rows

        def emit(kind, **fields):
            if trace.enabled:               # a row (Trace.record): a third of a dict's memory
                names = tuple(fields)
                keys = rows.get(names)
                if keys is None:
                    keys = rows[names] = names
                trace.record(env.now, kind, (keys, *fields.values()))

        node = RaftNode(name, peers, group=group, rng=self.sim.rng, now=env.now,
                        emit=emit if traced else None, apply=apply, lead_change=lead_change,
                        durable=durable, campaign=campaign)
        self.nodes[group] = node
        self._schedule(group, node)
        return node

    def remove(self, group: str) -> None:
        """Stop this node's peer of ``group`` (its pending timer is forgotten)."""
        self.nodes.pop(group, None)
        self._armed.pop(group, None)

    def clear(self) -> dict[str, Durable]:
        """Forget every group (a kill); returns each group's durable state."""
        kept = {g: n.durable() for g, n in self.nodes.items()}
        self.nodes.clear()
        self._armed.clear()
        return kept

    def sync_every(self, interval: float) -> None:
        """Sync every group's log to disk every ``interval`` seconds from now (the file
        store's ``sync_interval``); 0: every write is synced at once (``sync: always``)."""
        self._sync_every = interval
        self._sync_token += 1
        if interval > 0:
            self._arm_sync(self._sync_token)

    def _arm_sync(self, token: int) -> None:
        def tick():
            if token == self._sync_token:
                self.synced = {g: (n.term, n.vote, n.log.last_index)
                               for g, n in self.nodes.items()}
                self._arm_sync(token)
        self.server.call_at(self.sim.env.now + self._sync_every, tick)

    def lose_unsynced(self, kept: dict[str, Durable]) -> dict[str, Durable]:
        """What survives a power loss of the durable states ``kept`` (from :meth:`clear`):
        each group's log as of its last sync; writes after it are lost, traced as
        ``raft_lost``. A group never synced loses everything but its snapshot, which is
        synced as it is written (raft.go ``installSnapshot``: ``writeFileWithSync``)."""
        if self._sync_every <= 0:
            return kept
        trace, now, out = self.sim.trace, self.sim.env.now, {}
        for group, d in kept.items():
            term, vote, last = self.synced.get(group, (0, None, 0))
            entries = tuple(e for e in d.entries if e.index <= last)
            if d.snapshot.term > term:       # the snapshot's term is at least known
                term, vote = d.snapshot.term, None
            out[group] = Durable(term, vote, d.snapshot, entries)
            lost = len(d.entries) - len(entries)
            if trace.enabled and (lost or d.term != term):
                trace.record(now, "raft_lost", {"node": self.name, "group": group,
                                                "term": term, "log_index": last, "lost": lost})
        return out

    def propose(self, group: str, data: Any, size: int = 0) -> None:
        """Propose ``data`` (``size`` bytes encoded) on this node's leader peer of ``group``.

        It joins the leader's queue; the queue goes out at the end of this instant (a timer
        at ``now``), so what is proposed together, such as a network batch of publishes,
        travels in one append, as nats-server's leader sends what its proposal queue holds
        when it gets to it."""
        node = self.nodes[group]
        if node.queue(data, size):
            self.server.call_at(self.sim.env.now, lambda: self._flush(group, node))

    def _flush(self, group: str, node) -> None:
        if self.nodes.get(group) is node and node.is_leader:
            self.send(node, node.flush(self.sim.env.now))

    def step_down(self, group: str, preferred: str | None = None) -> None:
        node = self.nodes[group]
        self.send(node, node.step_down(self.sim.env.now, preferred))

    def send(self, node: RaftNode, envelopes) -> None:
        """Carry ``envelopes`` over the links to their peers, then re-arm ``node``'s timer."""
        network, servers = self.sim.network, self.sim.servers
        for env in envelopes:
            peer = servers[env.dst]
            if peer.raft is not None:
                network.send(network.link(env.src, env.dst), peer.raft._on_envelope,
                             env.src, env.message)
        if self.nodes.get(node.group) is node:
            self._schedule(node.group, node)

    def _on_envelope(self, src: str, message) -> None:
        self.seen[src] = self.sim.env.now
        node = self.nodes.get(message.group)
        if node is not None:
            self.send(node, node.handle(message, self.sim.env.now))

    def _schedule(self, group: str, node: RaftNode) -> None:
        """Arm ``node``'s timer for its next deadline.

        A follower's deadline moves later with every append it takes; a timer per move would
        leave one stale SimPy timeout (and two closures) a message in the queue until its
        time. So a later deadline only moves the mark: the pending timeout, when it fires,
        re-arms for the deadline then current, at the very time a fresh timer would have
        fired. A stale timer still "fires" (a no-op, held while the node is paused, so
        ``resume`` counts the timers it would have had): those never scheduled wait in
        ``_stale`` until a pause schedules them (:meth:`on_pause`).
        """
        at = node.next_deadline()
        armed = self._armed.get(group)
        if armed is not None and armed[0] == at:
            return
        now = self.sim.env.now
        fires = now + fire_delay(now, at)     # when server.call_at(at) would fire
        if armed is not None:
            pending = armed[3]
            if pending is not None and pending != armed[1]:
                self._superseded(armed[1])   # that deadline's timer was never scheduled
            if pending is not None and pending <= fires:
                self._armed[group] = (at, fires, armed[2], pending)
                return
        self._token += 1
        token = self._token
        self._armed[group] = (at, fires, token, fires)
        self._timeout_at(fires, lambda _e: self._wake(group, token))

    def _wake(self, group: str, token: int) -> None:
        """A pending timeout of ``group`` fires: run its timer, or re-arm it for the later
        deadline it now has."""
        armed = self._armed.get(group)
        now = self.sim.env.now
        if armed is not None and armed[2] == token:
            if armed[1] <= now:
                self._armed[group] = (armed[0], armed[1], token, None)
                self.server._timer(lambda: self._fire(group, token))
                return
            self._armed[group] = (armed[0], armed[1], token, armed[1])
            self._timeout_at(armed[1], lambda _e: self._wake(group, token))
        self.server._timer(_noop)                # a timer made stale since it was armed

    def _fire(self, group: str, token: int) -> None:
        armed = self._armed.get(group)
        if armed is None or armed[2] != token:
            return
        del self._armed[group]
        node = self.nodes[group]
        self.send(node, node.tick(self.sim.env.now))

    def _superseded(self, fires: float) -> None:
        if self.server.state == "paused":
            self._timeout_at(fires, _stale_fired(self.server))
            return
        stale = self._stale
        stale.append(fires)
        if len(stale) > self._stale_prune:       # amortised: forget those in the past
            now = self.sim.env.now
            stale[:] = [t for t in stale if t > now]
            self._stale_prune = 2 * len(stale) + 1024

    def on_pause(self) -> None:
        """The node is paused: schedule the stale timers still to come, so the ones firing
        while it is paused are held (and counted) as before."""
        now = self.sim.env.now
        for fires in self._stale:
            if fires > now:
                self._timeout_at(fires, _stale_fired(self.server))
        self._stale.clear()

    def _timeout_at(self, time: float, callback) -> None:
        """A SimPy timeout firing exactly at ``time`` (not before), calling ``callback``."""
        now = self.sim.env.now
        delay = time - now
        while delay > 0 and now + delay > time:
            delay = math.nextafter(delay, -math.inf)
        while now + delay < time:
            delay = math.nextafter(delay, math.inf)
        self.sim.env.timeout(delay).callbacks.append(callback)


def _noop() -> None:
    pass


def _stale_fired(server):
    return lambda _e: server._timer(_noop)

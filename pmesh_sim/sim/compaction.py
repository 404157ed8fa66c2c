"""When a node's RAFT groups take snapshots and compact their logs, as nats-server decides.

``jetstream_cluster.go`` runs one monitor per group (``monitorCluster``, ``monitorStream``,
``monitorConsumer``); each calls its ``doSnapshot`` on a ticker of ``compactInterval`` plus a
random spread drawn once (``rci``, streams and consumers), and after applying entries once
``compactNumMin`` of them, or more than ``compactSizeMin`` bytes of log, were applied since
the last snapshot; a consumer's non-forced snapshot also waits ``minSnapDelta`` after the
previous one. A snapshot stands for every applied entry (nothing new applied: none is taken,
``errNoSnapAvailable``) and the log keeps only later ones
(:meth:`~pmesh_sim.cluster.raft.RaftNode.snapshot`).

The spread comes from a generator seeded with the simulation's seed and the node's and group's
names, so the same seed gives the same snapshots and every other draw stays as it was.
The host tells each applied entry's bytes in the log (the server's estimate ``nb``).

>>> from pmesh_sim.sim import Simulation
>>> from pmesh_sim.sim.raft_host import RaftHost
>>> sim = Simulation(seed=3, latency=0.001)
>>> host = RaftHost(sim.add_cluster(1)[0])
>>> node = host.add("G", ["n1"])
>>> compaction = Compaction(host)
>>> compaction.watch("G", Policy(interval=60.0, entries=2), lambda: "state")
>>> for i in range(3):          # an append each: the leader's queue goes out at the instant's end
...     host.propose("G", i); sim.run(until=sim.env.now + 0.01); compaction.applied("G")
>>> sim.run(until=1.0)
>>> node.log.snapshot.index, node.log.first_index, node.log.last_index
(4, 5, 4)
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["Compaction", "Policy"]


@dataclass(frozen=True)
class Policy:
    """One kind of group's snapshot policy: every ``interval`` plus a spread drawn once in
    ``[0, spread)``, and once ``entries`` (0: never), or more than ``size`` bytes of log (0:
    never), were applied since the last snapshot; a snapshot not forced waits ``min_delta``
    after the previous one."""

    interval: float
    spread: float = 0.0
    entries: int = 0
    min_delta: float = 0.0
    size: int = 0


class _Watch:
    __slots__ = ("node", "policy", "take", "last", "due", "base", "size")

    def __init__(self, node, policy: Policy, take: Callable[[], Any]) -> None:
        self.node, self.policy, self.take = node, policy, take
        self.last = None          # when this node's last snapshot of the group was taken
        self.due = False          # a snapshot by entry count is scheduled for this instant
        self.base = node.log.snapshot.index   # the snapshot ``size`` counts from
        self.size = 0             # bytes of log applied since


class Compaction:
    """The snapshot policies of one node's groups (a :class:`RaftHost` ``raft``)."""

    def __init__(self, raft) -> None:
        self.raft, self.server, self.sim = raft, raft.server, raft.sim
        self._watch: dict[str, _Watch] = {}

    def watch(self, group: str, policy: Policy, take: Callable[[], Any]) -> None:
        """Snapshot ``group`` on ``policy``; ``take()`` gives the host's state after every
        applied entry, or None when it cannot now (the host then waits for the next chance)."""
        w = self._watch[group] = _Watch(self.raft.nodes[group], policy, take)
        period = policy.interval
        if policy.spread:
            rng = random.Random(f"{self.sim.seed}/{self.server.name}/{group}")
            period += rng.random() * policy.spread
        self._tick(group, w, period, self.sim.env.now + period)

    def forget(self, group: str) -> None:
        self._watch.pop(group, None)

    def applied(self, group: str, size: int = 0) -> None:
        """The host applied an entry of ``group`` (``size``: its bytes in the log): past the
        policy's entry count or size, snapshot once the entries committed at this instant
        are applied."""
        w = self._watch.get(group)
        if w is None:
            return
        node = w.node
        base = node.log.snapshot.index
        if base != w.base:                     # a snapshot since (taken or installed)
            w.base, w.size = base, 0
        w.size += size
        if w.due:
            return
        policy = w.policy
        if ((policy.entries and node.applied - base >= policy.entries)
                or (policy.size and w.size > policy.size)):
            w.due = True
            self.server.call_at(self.sim.env.now, lambda: self._due(group, w))

    def snapshot(self, group: str, force: bool = False) -> bool:
        """Take a snapshot of ``group`` now if the policy allows (``force``: also within
        ``min_delta``); whether one was taken."""
        w = self._watch.get(group)
        if w is None or self.raft.nodes.get(group) is not w.node:
            return False
        node, now = w.node, self.sim.env.now
        if node.applied <= node.log.snapshot.index:
            return False                       # nothing applied since: errNoSnapAvailable
        if not force and w.last is not None and now - w.last < w.policy.min_delta:
            return False
        data = w.take()
        if data is None:
            return False
        node.snapshot(data)
        w.last = now
        return True

    def _due(self, group: str, w: _Watch) -> None:
        w.due = False
        if self._watch.get(group) is w:
            self.snapshot(group)

    def _tick(self, group: str, w: _Watch, period: float, at: float) -> None:
        """A Go ticker: ticks missed while the node was paused are dropped, not queued."""
        def fire():
            if self._watch.get(group) is w and self.raft.nodes.get(group) is w.node:
                self.snapshot(group)
                now = self.sim.env.now
                self._tick(group, w, period, at + (int((now - at) // period) + 1) * period)
        self.server.call_at(at, fire)

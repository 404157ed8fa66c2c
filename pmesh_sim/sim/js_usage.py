"""Account usage across a cluster, as ``$JS.API.INFO`` reports it.

Each JetStream node of nats-server counts what it stores itself (the bytes of the replicas it
holds, memory and file apart) and the API answers it sends, and tells the other nodes
(``jsAccount.sendClusterUsageUpdate`` on ``$JSC.ARU.<account>.<node>``, ``server/jetstream.go``):
when a figure changes, unless it sent less than :data:`USAGE_WINDOW` ago, and every
:data:`USAGE_TICK` in any case (the same window applies), once it has stored something. Every
node keeps the last figures each other node sent; the meta leader answers account info with
its own figures plus those. So an R3 stream's bytes count three times once its replicas have
reported, and a figure from a node that died or was cut off stays as it last was.

>>> AccountUsage.sums({"n2": (24, 44, 3, 1), "n3": (0, 44, 1, 0)}, (0, 44, 2, 0))
(24, 132, 6, 1)
"""

from __future__ import annotations

__all__ = ["AccountUsage", "USAGE_TICK", "USAGE_WINDOW"]

USAGE_TICK = 1.5        # server/jetstream.go usageTick = 1500 * time.Millisecond
USAGE_WINDOW = 0.25     # server/jetstream.go minUsageUpdateWindow = 250 * time.Millisecond

_NEVER = float("-inf")


class AccountUsage:
    """The usage updates of a :class:`~pmesh_sim.sim.js_cluster.ClusterJetStreamHost`."""

    def _usage_start(self) -> None:
        """A (re)started node: nothing heard from the others, nothing sent, a fresh tick."""
        self._remote_usage: dict[str, tuple[int, int, int, int]] = {}
        self._usage_seen = self.js.local_usage()     # the figures at the last check
        self._usage_at = _NEVER                      # when they were last sent (lupdate)
        self._usage_stored = False                   # jsa.usage is empty until a store
        self._usage_token = getattr(self, "_usage_token", 0) + 1
        self.js.usage = self._usage_totals
        self._usage_arm(self._usage_token)

    def _usage_arm(self, token: int) -> None:
        self.server.call_at(self.env.now + USAGE_TICK, lambda: self._usage_tick(token))

    def _usage_tick(self, token: int) -> None:
        """``sendClusterUsageUpdateTimer``: send (within the window's rule), re-arm."""
        if token != self._usage_token:
            return
        self._usage_seen = self.js.local_usage()
        self._usage_send()
        self._usage_arm(token)

    def _usage_check(self) -> None:
        """After anything that may have changed this node's figures: a change is sent at once
        unless the last send was less than the window ago (then the tick sends it)."""
        now = self.js.local_usage()
        if now == self._usage_seen:
            return
        self._usage_seen = now
        self._usage_send()

    def _usage_send(self) -> None:
        figures, at = self._usage_seen, self.env.now
        if at - self._usage_at < USAGE_WINDOW:
            return
        self._usage_stored = self._usage_stored or figures[0] > 0 or figures[1] > 0
        if not self._usage_stored:                   # lenUsage == 0: nothing to send yet
            return
        self._usage_at = at
        sim, name = self.server.sim, self.server.name
        network = sim.network
        for peer in self.members:
            if peer != name:
                network.send(network.link(name, peer), _deliver_usage, sim, peer, name, figures)

    def _on_usage(self, src: str, figures: tuple[int, int, int, int]) -> None:
        """``remoteUpdateUsage``: ``src``'s figures replace what it sent before."""
        self._remote_usage[src] = figures

    def _usage_totals(self) -> tuple[int, int, int, int]:
        """Memory, storage, API answers and errors: this node's own and the others' last."""
        return self.sums(self._remote_usage, self.js.local_usage())

    @staticmethod
    def sums(remote: dict, own: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
        """``own`` plus every node's figures in ``remote``, figure by figure."""
        return tuple(sum(f) for f in zip(own, *remote.values()))   # type: ignore[return-value]


def _deliver_usage(sim, dst: str, src: str, figures) -> None:
    server = sim.servers[dst]
    host = server.jetstream
    if server.state is None and isinstance(host, AccountUsage):
        host._on_usage(src, figures)

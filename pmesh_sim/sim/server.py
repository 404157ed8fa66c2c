"""A NATS server node in the simulation: core routing, internal subscriptions, timers.

Every message arriving at the server (from a client over its link, or sent by the server
itself) goes through the server's :class:`~pmesh_sim.subjects.SubjectIndex`:

- each matching plain subscription gets one copy (not the publisher's own when it connected
  with ``no_echo``);
- each queue group gets one copy: the member is found from a random start index (``sim.rng``),
  taking the first member able to receive, as ``client.go`` ``processMsgResults`` does;
- a message with a reply subject that reached nobody gets back, on the reply subject, an empty
  message with headers ``{"Status": "503", "Nats-Subject": subject}``, when the publisher is
  itself subscribed to the reply (request inboxes are).

Internal subscriptions let the server host services (JetStream): their handler
``handler(subject, reply, data, headers)`` runs synchronously when a message arrives, and they
count as responders.

>>> from pmesh_sim.sim import Simulation
>>> sim = Simulation(seed=1)
>>> server = sim.add_server("n1")
>>> got = []
>>> sub = server.subscribe_internal("svc.>", lambda s, r, d, h: got.append((sim.now, s, d)))
>>> server.send("svc.a", b"hi")
>>> got
[(0.0, 'svc.a', b'hi')]
"""

from __future__ import annotations

import math
from collections.abc import Callable
from itertools import chain

from ..errors import ConfigError
from ..subjects import SubjectIndex, validate_queue, validate_subject
from . import routes
from .client import deliver_all

__all__ = ["Server", "InternalSubscription", "fire_delay"]


def fire_delay(now: float, time: float) -> float:
    """The SimPy delay from ``now`` that fires at ``time`` and never before it (at once if it
    has passed): ``now + (time - now)`` can round below ``time``, so it is nudged up.

    >>> now = 0.1; now + fire_delay(now, 0.3) >= 0.3, fire_delay(5.0, 1.0)
    (True, 0.0)
    """
    delay = max(0.0, time - now)
    while now + delay < time:
        delay = math.nextafter(delay, math.inf)
    return delay

_SEND_KEYS = ("node", "subject", "reply", "msg_id", "size")
_SEND_TO_KEYS = _SEND_KEYS + ("deliver_to",)


class InternalSubscription:
    """A subscription of the server itself: ``handler(subject, reply, data, headers)``."""

    __slots__ = ("subject", "queue", "handler", "active")
    internal = True
    peer = None                  # a route's subscription (routes.RouteSub) names its node

    def __init__(self, subject: str, handler: Callable, queue: str = ""):
        self.subject = subject
        self.queue = queue
        self.handler = handler
        self.active = True

    def __repr__(self) -> str:
        return f"InternalSubscription({self.subject!r}, queue={self.queue!r})"


class Server:
    """One server node; build it with :meth:`Simulation.add_server`.

    Parameters
    ----------
    sim : Simulation
    name : str
    max_payload : int
        Largest header + payload a client may publish (bytes).
    jetstream : bool
        Host JetStream (``pmesh_sim.sim.js_host.JetStreamHost``) on this server.
    """

    def __init__(self, sim, name: str = "n1", *, max_payload: int = 1048576,
                 jetstream: bool = False):
        if not isinstance(name, str) or not name:
            raise ConfigError(f"server name {name!r}: give a non-empty str")
        if isinstance(max_payload, bool) or not isinstance(max_payload, int) or max_payload <= 0:
            raise ConfigError(f"max_payload={max_payload!r}: give a positive int (bytes)")
        self.sim = sim
        self.env = sim.env
        self.name = name
        self.max_payload = max_payload
        self.index = SubjectIndex()
        self.clients: list = []
        self.jetstream = None
        # the trace's msg_id of the message an internal handler is running for (read by the
        # handler: JetStream keeps it with a stored message)
        self.routing_msg_id = 0
        # called with no arguments after a client subscription is added or removed
        self.on_client_interest: Callable[[], None] | None = None
        # the cluster (sim/routes.py): routed peers, what they told us, what we tell them
        self.peers: list[Server] = []
        self.peer_names: set[str] = set()
        self.remote: dict[tuple, routes.RouteSub] = {}
        self.local_subs: dict[tuple, object] = {}
        self.cluster: list[str] = [name]     # every node of its cluster (clients learn them)
        self.state: str | None = None        # None: running, "paused" or "down"
        self.held_timers: list = []
        self.raft = None                     # sim/raft_host.py: its RAFT groups, if any
        if jetstream:
            from pmesh_sim.sim.js_host import JetStreamHost

            self.jetstream = JetStreamHost(self)

    def __repr__(self) -> str:
        return f"Server({self.name!r})"

    # -- services hosted on the server ------------------------------------------------------

    def subscribe_internal(self, subject: str, handler: Callable, queue: str | None = None
                           ) -> InternalSubscription:
        """Subscribe the server itself; ``handler(subject, reply, data, headers)`` runs on arrival."""
        validate_subject(subject)
        if not callable(handler):
            raise ConfigError(f"handler {handler!r}: give a callable(subject, reply, data, headers)")
        sub = InternalSubscription(subject, handler, validate_queue(queue))
        self.index.add(sub)
        routes.announce(self, sub, True)
        return sub

    def unsubscribe_internal(self, sub: InternalSubscription) -> None:
        """Remove an internal subscription (removing it twice does nothing)."""
        sub.active = False
        self.index.remove(sub)
        routes.announce(self, sub, False)

    def send(self, subject: str, data: bytes = b"", reply: str = "", headers: dict | None = None,
             deliver_to: str | None = None, msg_id: int = 0) -> None:
        """Route a message from the server itself, now (also to internal subscriptions).

        With ``deliver_to`` the message is routed on ``deliver_to`` (a pull request's inbox, a
        push consumer's deliver subject) while receivers see ``subject``, as nats-server
        delivers JetStream messages with their original subject. ``msg_id``: a delivery of a
        stored message keeps its publish's id in the trace (0: a fresh id).
        """
        sim = self.sim
        if not msg_id:
            msg_id = sim._next_msg_id()
        trace = sim.trace
        if deliver_to:
            if trace.enabled:           # a row (Trace.record): a third of a dict's memory
                trace.record(self.env._now, "send", (_SEND_TO_KEYS, self.name, subject, reply,
                                                    msg_id, len(data), deliver_to))
            self.route(deliver_to, reply, data, headers, msg_id, None, subject)
        else:
            if trace.enabled:
                trace.record(self.env._now, "send", (_SEND_KEYS, self.name, subject, reply,
                                                    msg_id, len(data)))
            self.route(subject, reply, data, headers, msg_id, None)

    def has_client_interest(self, subject: str, queue: str | None = None) -> bool:
        """Whether a client's subscription (not one of the server's own) matches ``subject``;
        with ``queue``, only a client queue subscription of that group counts (how a push
        consumer with ``deliver_group`` sees interest)."""
        match = self.index.match(subject)
        if queue:
            return any((not sub.internal or sub.peer is not None) and sub.queue == queue
                       for group in match.groups for sub in group)
        return any(not sub.internal or sub.peer is not None
                   for sub in chain(match.plain, *match.groups))

    def call_at(self, time: float, fn: Callable[[], object]):
        """Run ``fn()`` at virtual ``time`` (at once if it has passed); returns the SimPy event.

        It never runs before ``time``: ``now + (time - now)`` can round below ``time``, so the
        delay is nudged up until it does not (a callback comparing ``now >= time`` then holds).
        """
        event = self.env.timeout(fire_delay(self.env.now, time))
        event.callbacks.append(lambda _event: self._timer(fn))
        return event

    def _timer(self, fn: Callable[[], object]) -> None:
        """A timer fires: a paused node runs it when it resumes, a dead one never."""
        if self.state is None:
            fn()
        elif self.state == "paused":
            self.held_timers.append(fn)

    # -- what arrives from clients ----------------------------------------------------------

    def _attach(self, client) -> None:
        self.clients.append(client)

    def _on_sub(self, sub) -> None:
        if sub._client_closed or sub._server_active:
            return
        sub._server_active = True
        self.index.add(sub)
        routes.announce(self, sub, True)
        if self.on_client_interest is not None:
            self.on_client_interest()

    def _on_unsub(self, sub, limit: int) -> None:
        if not sub._server_active:
            return
        if limit and sub._server_delivered < limit:
            sub._server_max = limit
            return
        self._remove(sub)

    def _remove(self, sub) -> None:
        sub._server_active = False
        self.index.remove(sub)
        routes.announce(self, sub, False)
        sub.client._all_subs.pop(sub.sid, None)
        if self.on_client_interest is not None:
            self.on_client_interest()

    def _on_close(self, client) -> None:
        for sub in list(client._all_subs.values()):
            if sub._server_active:
                self._remove(sub)
        if client in self.clients:
            self.clients.remove(client)

    def _on_ping(self, client, event) -> None:
        self.sim.network.send(client._down, client._on_pong, event)

    # -- routing ----------------------------------------------------------------------------

    def route(self, subject: str, reply: str, data: bytes, headers: dict | None, msg_id: int,
              origin, shown: str | None = None) -> int:
        """Deliver one message to every matching subscription; returns how many got it.

        ``origin`` is the publishing client, or None for the server itself; receivers see
        ``shown`` as the subject when given (routing stays on ``subject``).
        """
        match = self.index.match(subject)
        if shown is not None:
            subject, routed = shown, subject
        else:
            routed = subject
        targets = []
        # the server's own handlers (JetStream) run after the clients' copies are on their way,
        # as nats-server does: a `>` subscriber sees a stored message before its pub ack
        internal = []
        no_echo = origin is not None and origin.no_echo
        for sub in match.plain:
            if sub.internal:
                if sub.active:
                    internal.append(sub)
            elif sub._server_active and not (no_echo and sub.client is origin):
                targets.append(sub)
        if match.groups:
            rng = self.sim.rng
            for members in match.groups:
                size = len(members)
                start = rng.randrange(size) if size > 1 else 0
                for i in range(size):
                    sub = members[(start + i) % size]
                    if sub.internal:
                        if not sub.active:
                            continue
                        internal.append(sub)
                    elif sub._server_active and not (no_echo and sub.client is origin):
                        targets.append(sub)
                    else:
                        continue
                    break
        count = len(internal) + len(targets)
        if targets:     # inline (the hot path); _deliver is the same for routed messages
            for sub in targets:
                sub._server_delivered += 1
                if sub._server_max and sub._server_delivered >= sub._server_max:
                    self._remove(sub)
            network = self.sim.network
            if network.loss:
                targets = self._survivors(targets, subject, msg_id)
            if network.fixed:       # FIFO by construction: one arrival for the whole fan-out
                if targets:
                    network.send(None, deliver_all, targets, subject, reply, data, headers,
                                 msg_id)
            else:
                for sub in targets:
                    client = sub.client
                    network.send(client._down, client._on_msg, sub, subject, reply, data,
                                 headers, msg_id)
        if internal:
            if len(internal) == 1 and internal[0].peer is None:   # _run_internal, in short
                self.routing_msg_id = msg_id
                internal[0].handler(subject, reply, data, headers)
            else:
                self._run_internal(internal, subject, reply, data, headers, msg_id, routed)
        if not count and reply:
            self._no_responders(routed, reply, msg_id, origin)
        return count

    def _deliver(self, targets: list, internal: list, subject: str, reply: str, data: bytes,
                 headers: dict | None, msg_id: int) -> None:
        """A routed message: send the chosen clients their copies (as :meth:`route` does),
        run the chosen internal handlers."""
        if targets:
            for sub in targets:
                sub._server_delivered += 1
                if sub._server_max and sub._server_delivered >= sub._server_max:
                    self._remove(sub)
            network = self.sim.network
            if network.loss:
                targets = self._survivors(targets, subject, msg_id)
            for sub in targets:
                client = sub.client
                network.send(client._down, client._on_msg, sub, subject, reply, data,
                             headers, msg_id)
        if internal:
            self._run_internal(internal, subject, reply, data, headers, msg_id, subject)

    def _run_internal(self, internal: list, subject: str, reply: str, data: bytes,
                      headers: dict | None, msg_id: int, routed: str) -> None:
        """Run the server's own handlers; forward to the routes among ``internal``."""
        forwards = None
        for sub in internal:
            if sub.peer is None:
                self.routing_msg_id = msg_id
                sub.handler(subject, reply, data, headers)
            elif forwards is None:
                forwards = [sub]
            else:
                forwards.append(sub)
        if forwards is not None:
            routes.forward(self, forwards, routed, subject, reply, data, headers, msg_id)

    # -- routes (sim/routes.py) -------------------------------------------------------------

    def _on_rs(self, origin: str, key: tuple, subject: str, queue: str, added: bool) -> None:
        routes.on_rs(self, origin, key, subject, queue, added)

    def _on_routed(self, routed, shown, reply, data, headers, msg_id, queues) -> None:
        routes.on_routed(self, routed, shown, reply, data, headers, msg_id, queues)

    def _survivors(self, targets: list, subject: str, msg_id: int) -> list:
        """The targets whose copy is not lost on the server -> client hop."""
        network, kept = self.sim.network, []
        for sub in targets:
            if network.lost():
                self.sim.trace.emit("lost", node=self.name, client=sub.client.name,
                                    subject=subject, msg_id=msg_id, hop="server->client")
            else:
                kept.append(sub)
        return kept

    def _no_responders(self, subject: str, reply: str, msg_id: int, origin) -> None:
        """Answer 503 on ``reply`` to the publisher's own subscription matching it, if any."""
        match = self.index.match(reply)
        target = None
        for sub in chain(match.plain, *match.groups):
            if origin is None and sub.internal and sub.active and sub.peer is None:
                target = sub
                break
            if (origin is not None and not sub.internal and sub.client is origin
                    and sub._server_active):
                target = sub
                break
        self.sim.trace.emit("no_responders", node=self.name,
                            client=origin.name if origin is not None else None,
                            subject=subject, reply=reply, msg_id=msg_id)
        if target is None:
            return
        headers = {"Status": "503", "Nats-Subject": subject}
        status_id = self.sim._next_msg_id()
        if target.internal:
            self.routing_msg_id = status_id
            target.handler(reply, "", b"", headers)
        else:
            client = target.client
            self.sim.network.send(client._down, client._on_msg, target, reply, "", b"", headers,
                                  status_id)

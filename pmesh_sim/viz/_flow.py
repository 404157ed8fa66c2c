"""The hops of a trace: who sent which message to whom, and when it left and arrived.

A hop goes between two ends, ``("client", name)`` or ``("server", node)``. The client-layer
records (what both backends write) give one end's time; the simulation's server records
(``store``, ``js_deliver``, ``js_ack``, ``ack_timeout``) give the other. Without them (a real
server's trace) the server's times are estimated, as said below.

Kinds of hop: ``publish`` (any client publish, a request's too: a ``request`` record only
repeats its ``publish``), ``respond`` (a publish to an ``_INBOX.`` subject: answering a
request), ``pub_ack``, ``reply`` (a request's answer reaching the requester; not drawn when a
``pub_ack`` says the same), ``deliver`` (first delivery or a core message), ``redeliver``
(``num_delivered > 1``), ``route`` (a core message crossing from the server it was published
on to the server of the client it was delivered to), ``ack``, ``nak``, ``term``,
``in_progress``, ``no_responders`` (the server's 503 answer to a request nobody subscribes
to, from the ``no_responders`` record), ``lost`` (the network
lost it: a publish that never reached the server, or a message on its way to a client; from the
simulation's ``lost`` records) and ``timeout`` (an
ack_wait expiring: from the delivery leaving the server to the moment the server gave up
waiting; read from ``ack_timeout`` or, without it, inferred from a redelivery that no nak asked
for). Without server records a message reaches the server halfway between its publish and its
pub_ack, or one estimated hop after its publish; a JetStream delivery or an ack takes one
estimated hop.

>>> from pmesh_sim.trace import Trace
>>> t = Trace(clock=lambda: 0.0)
>>> t.record(1.0, "publish", {"node": "n1", "client": "a", "subject": "x", "msg_id": 1})
>>> t.record(1.2, "deliver", {"node": "n1", "client": "b", "subject": "x", "msg_id": 1})
>>> [(h.kind, h.src, h.dst) for h in hops(t)]
[('publish', ('client', 'a'), ('server', 'n1')), ('deliver', ('server', 'n1'), ('client', 'b'))]
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from typing import Any, NamedTuple

from ..errors import ConfigError
from ..trace import Event, Trace

__all__ = ["Hop", "hops", "internal", "check", "ACTION_KINDS"]

#: The hop kind of each client ack ``action``.
ACTION_KINDS = {"ack": "ack", "ack_sync": "ack", "nak": "nak", "term": "term",
                "in_progress": "in_progress"}


class Hop(NamedTuple):
    """One message between two ends; ``time`` is the time of the record it was read from."""

    kind: str
    src: tuple[str, str]
    dst: tuple[str, str]
    t0: float
    t1: float
    time: float
    msg_id: Any
    fields: dict[str, Any]


def internal(subject: Any) -> bool:
    """Whether ``subject`` is plumbing a student need not see (``$JS.…``, ``$SYS.…``,
    ``_INBOX.…``; an answer to a request, on ``_INBOX.…``, is drawn as a ``respond`` hop
    instead). A key-value bucket's ``$KV.…`` subjects are data, not plumbing.

    >>> internal("$JS.API.INFO"), internal("_INBOX.abc"), internal("$KV.users.ann")
    (True, True, False)
    """
    return isinstance(subject, str) and subject.startswith(_PLUMBING)


_PLUMBING = ("$JS.", "$SYS.", "_INBOX.")


def check(trace: Any, window: Any = None, **counts: Any) -> None:
    """Refuse what a figure cannot draw: not a Trace, a window that is not ``(start, end)``
    with ``start <= end``, or a count (``frames``, ``max_messages``) below 1.

    >>> check(Trace(clock=lambda: 0.0), window=(2, 1))
    Traceback (most recent call last):
    pmesh_sim.errors.ConfigError: window=(2, 1): give (start, end) in seconds with start <= end
    """
    if not isinstance(trace, Trace):
        raise ConfigError(f"trace={type(trace).__name__}: give a pmesh_sim Trace (sim.trace, or "
                          "run_scenario(..., trace_out=[]) fills a list with one)")
    if window is not None:
        try:
            start, end = window
            ok = float(start) <= float(end)
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise ConfigError(f"window={window!r}: give (start, end) in seconds with "
                              "start <= end")
    for name, value in counts.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{name}={value!r}: give an int >= 1")


class _Server:
    """The server-layer records, by message, for looking up the server end of a hop."""

    def __init__(self, events: list[Event]):
        self.store: dict[Any, float] = {}
        self.js_deliver: dict[tuple, float] = {}
        self.js_ack: dict[tuple, list[float]] = defaultdict(list)
        self.timeouts: list[Event] = []
        self.published: dict[Any, float] = {}
        self.published_on: dict[Any, tuple[str, str]] = {}
        self.pub_acked: dict[Any, float] = {}
        self.core_deliver: dict[Any, float] = {}
        self.lost_on_the_way: set[Any] = set()  # publishes the network lost before the server
        for e in events:
            f = e.fields
            kind, msg_id = e.kind, f.get("msg_id")
            if kind == "publish":
                self.published.setdefault(msg_id, e.time)
                self.published_on.setdefault(msg_id, ("server", f.get("node", "server")))
            elif kind == "pub_ack":
                self.pub_acked.setdefault(msg_id, e.time)
            elif kind == "deliver" and not f.get("consumer"):
                self.core_deliver.setdefault(msg_id, e.time)
            elif kind == "store":
                self.store.setdefault(msg_id, e.time)
            elif kind == "js_deliver":
                self.js_deliver.setdefault((msg_id, f.get("consumer"), f.get("num_delivered")),
                                           e.time)
            elif kind == "js_ack":
                self.js_ack[(msg_id, f.get("consumer"), f.get("action"))].append(e.time)
            elif kind == "ack_timeout":
                self.timeouts.append(e)
            elif kind == "lost" and f.get("hop") == "client->server":
                self.lost_on_the_way.add(msg_id)

    def one_hop(self) -> float:
        """Half the median round trip: publish -> pub_ack, publish -> first core delivery."""
        trips = [later[m] - t for later in (self.pub_acked, self.core_deliver)
                 for m, t in self.published.items() if m in later and later[m] >= t]
        return statistics.median(trips) / 2 if trips else 0.0

    def arrival(self, msg_id: Any, delta: float) -> float | None:
        """When a published message reached the server: stored, halfway to its pub_ack, or
        one hop after it left (never after its first core delivery)."""
        sent = self.published.get(msg_id)
        if msg_id in self.store:
            return self.store[msg_id]
        if sent is None:
            return None
        if msg_id in self.pub_acked:
            return (sent + self.pub_acked[msg_id]) / 2
        return min(sent + delta, self.core_deliver.get(msg_id, float("inf")))

    def ack_time(self, f: dict, after: float) -> float | None:
        times = self.js_ack.get((f.get("msg_id"), f.get("consumer"), f.get("action")), ())
        return next((t for t in times if t >= after), None)


def hops(trace: Trace) -> list[Hop]:
    """Every hop of ``trace``, in the order of the records they were read from (a record
    that names no client is not a hop)."""
    events = trace.events
    server = _Server(events)
    delta = server.one_hop()
    out: list[Hop] = []
    routed: set[tuple] = set()
    for e in events:
        hop = _hop(e, server, delta)
        if hop is not None and ("client", None) not in (hop.src, hop.dst):
            out.extend(_route(hop, server, delta, routed))
            out.append(hop)
    out.extend(_timeouts(out, server))
    return out


def _route(hop: Hop, server: _Server, delta: float, routed: set) -> list[Hop]:
    """The server-to-server hop a core message took to the node it was delivered on (once
    per message and node), or none: the same node, or no publish record to go by."""
    start = server.published_on.get(hop.msg_id)
    if (hop.kind != "deliver" or hop.fields.get("consumer") or start is None
            or start == hop.src or (hop.msg_id, hop.src) in routed):
        return []
    routed.add((hop.msg_id, hop.src))
    left = server.arrival(hop.msg_id, delta)
    return [Hop("route", start, hop.src, left, max(left, hop.t0), hop.time, hop.msg_id,
                {"subject": hop.fields.get("subject")})]


def _hop(e: Event, server: _Server, delta: float) -> Hop | None:
    f, kind = e.fields, e.kind
    client, node = ("client", f.get("client")), ("server", f.get("node", "server"))
    msg_id = f.get("msg_id")
    if kind == "publish":
        if msg_id in server.lost_on_the_way:
            return Hop("lost", client, node, e.time, e.time + delta, e.time, msg_id, f)
        answer = str(f.get("subject", "")).startswith("_INBOX.")
        arrived = server.arrival(msg_id, delta)
        t1 = e.time + delta if arrived is None else max(e.time, arrived)
        return Hop("respond" if answer else "publish", client, node, e.time, t1, e.time, msg_id,
                   f)
    if kind == "no_responders":  # the 503 answer: it leaves when the request reaches the server
        t0 = server.arrival(msg_id, delta)
        t0 = e.time - delta if t0 is None else min(t0, e.time)
        return Hop(kind, node, client, t0, max(e.time, t0 + delta), e.time, msg_id, f)
    if kind == "lost" and f.get("hop") == "server->client":
        return Hop("lost", node, client, e.time, e.time + delta, e.time, msg_id, f)
    if kind == "pub_ack" or (kind == "reply" and msg_id not in server.pub_acked):
        t0 = server.arrival(msg_id, delta) if kind == "pub_ack" else None
        return Hop(kind, node, client, e.time - delta if t0 is None else min(t0, e.time),
                   e.time, e.time, msg_id, f)
    if kind == "deliver":
        n = f.get("num_delivered") or 1
        t0 = server.js_deliver.get((msg_id, f.get("consumer"), n))
        if t0 is None:
            arrived = server.arrival(msg_id, delta)
            t0 = max(e.time - delta, arrived if arrived is not None else -float("inf"))
            if n == 1 and not f.get("consumer") and arrived is not None:
                # a core message is forwarded as it arrives; over a route, halfway to the client
                here = server.published_on.get(msg_id, node) == node
                t0 = arrived if here else (arrived + e.time) / 2
        return Hop("redeliver" if n > 1 else "deliver", node, client, min(t0, e.time), e.time,
                   e.time, msg_id, f)
    if kind == "ack" and f.get("action") in ACTION_KINDS:
        t1 = server.ack_time(f, e.time)
        return Hop(ACTION_KINDS[f["action"]], client, node, e.time,
                   e.time + delta if t1 is None else t1, e.time, msg_id, f)
    return None


def _timeouts(done: list[Hop], server: _Server) -> list[Hop]:
    """The ack_wait expiries: from ``ack_timeout`` records, else inferred from redeliveries."""
    sent: dict[tuple, list[Hop]] = defaultdict(list)
    nakked: set[tuple] = set()
    out = []
    for h in done:
        key = (h.msg_id, h.fields.get("consumer"))
        if h.kind in ("deliver", "redeliver") and h.fields.get("consumer"):
            previous = sent[key][-1] if sent[key] else None
            sent[key].append(h)
            if (h.kind == "redeliver" and not server.timeouts and previous is not None
                    and key not in nakked):
                out.append(Hop("timeout", h.src, h.src, previous.t0, h.t0, h.t0, h.msg_id,
                               {**previous.fields, "inferred": True}))
            nakked.discard(key)
        elif h.kind == "nak":
            nakked.add(key)
    for e in server.timeouts:
        f = e.fields
        before = [h for h in sent.get((f.get("msg_id"), f.get("consumer")), ()) if h.t0 < e.time]
        previous = before[-1] if before else None
        node = ("server", f.get("node", "server"))
        t0 = previous.t0 if previous is not None else e.time
        subject = previous.fields.get("subject") if previous is not None else None
        out.append(Hop("timeout", node, node, t0, e.time, e.time, f.get("msg_id"),
                       {"subject": subject, **f}))
    return out

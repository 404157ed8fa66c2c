"""Hand-made traces that follow the trace schema v1, for the figure tests (docs/trace.md).

Each builder returns a fresh :class:`~pmesh_sim.trace.Trace`. ``server_layer=False`` keeps only
the client-layer kinds, as the real backend writes them; ``True`` adds what the simulation also
writes (stream/consumer creation, ``store``, ``js_deliver``, ``js_ack``, ``ack_timeout``).

- :func:`core_trace`: a sensor publishes four readings on ``temps.<room>``; a dashboard
  subscribes to ``temps.*`` and two workers share ``temps.>`` in queue group ``workers``;
  then ``ui`` asks ``stats.avg`` and the responder ``avg`` answers on ui's inbox.
- :func:`jetstream_trace`: a shop publishes five orders into stream ORDERS; the pull consumer
  ``worker`` (client ``worker1``) acks, naks, lets one ack_wait expire, terms and sends
  in_progress; the push consumer ``audit`` (client ``auditor``) acks everything.
- :func:`busy_trace`: ``n`` JetStream messages, each delivered once and acked.
- :func:`fanout_trace`: 50 orders to two consumers, one of them on two workers, with naks.
- :func:`lossy_trace`: core NATS over a lossy network (the simulation's ``lost`` records).
"""

from __future__ import annotations

from pmesh_sim.trace import Trace

NET = 0.001  # one network hop, seconds


def _trace() -> Trace:
    return Trace(clock=lambda: 0.0)


def core_trace() -> Trace:
    """Core NATS only: 4 publishes, 8 deliveries (4 to ``dash``, 2 each to ``w1``/``w2``),
    and a request (publish + request records), its delivery, the answer and the reply."""
    t = _trace()
    for c in ("sensor", "dash", "w1", "w2", "ui", "avg"):
        t.record(0.0, "connect", {"node": "n1", "client": c})
    t.record(0.1, "subscribe", {"node": "n1", "client": "dash", "sid": 1, "subject": "temps.*",
                                "queue": ""})
    for c in ("w1", "w2"):
        t.record(0.1, "subscribe", {"node": "n1", "client": c, "sid": 1, "subject": "temps.>",
                                    "queue": "workers"})
    for i, room in enumerate(["kitchen", "garage", "kitchen", "garage"]):
        at, subject, msg_id = 1.0 + i * 0.5, f"temps.{room}", i + 1
        t.record(at, "publish", {"node": "n1", "client": "sensor", "subject": subject,
                                 "msg_id": msg_id, "size": 4})
        t.record(at + 2 * NET, "deliver", {"node": "n1", "client": "dash", "sid": 1,
                                           "subject": subject, "msg_id": msg_id})
        worker = "w1" if i % 2 == 0 else "w2"
        t.record(at + 2 * NET, "deliver", {"node": "n1", "client": worker, "sid": 1,
                                           "subject": subject, "msg_id": msg_id})
    _request(t)
    return t


def _request(t: Trace) -> None:
    """``ui`` requests ``stats.avg`` (msg 10); ``avg`` answers on the inbox (msg 11)."""
    inbox = "_INBOX.ui.1"
    t.record(0.1, "subscribe", {"node": "n1", "client": "avg", "sid": 1, "subject": "stats.avg",
                                "queue": ""})
    t.record(0.1, "subscribe", {"node": "n1", "client": "ui", "sid": 1, "subject": "_INBOX.ui.*",
                                "queue": ""})
    ask = {"node": "n1", "client": "ui", "subject": "stats.avg", "msg_id": 10, "reply": inbox}
    t.record(3.0, "publish", {**ask, "size": 0})
    t.record(3.0, "request", {**ask, "timeout": 1.0})
    t.record(3.0 + 2 * NET, "deliver", {"node": "n1", "client": "avg", "sid": 1,
                                        "subject": "stats.avg", "msg_id": 10})
    t.record(3.01, "publish", {"node": "n1", "client": "avg", "subject": inbox, "msg_id": 11,
                               "size": 4})
    t.record(3.01 + 2 * NET, "deliver", {"node": "n1", "client": "ui", "sid": 1,
                                         "subject": inbox, "msg_id": 11})
    t.record(3.01 + 2 * NET, "reply", {"node": "n1", "client": "ui", "subject": "stats.avg",
                                       "msg_id": 10, "rtt": 0.01 + 2 * NET, "reply": inbox})


class _JS:
    """Writes JetStream records: the client layer always, the server layer when asked."""

    def __init__(self, server_layer: bool):
        self.t, self.server = _trace(), server_layer

    def rec(self, at: float, kind: str, server_only: bool = False, **fields) -> None:
        if self.server or not server_only:
            self.t.record(at, kind, {"node": "n1", **fields})

    def publish(self, at: float, client: str, subject: str, msg_id: int, seq: int) -> None:
        self.rec(at, "publish", client=client, subject=subject, msg_id=msg_id, size=10)
        self.rec(at + NET, "store", True, stream="ORDERS", subject=subject, stream_seq=seq,
                 msg_id=msg_id)
        self.rec(at + 2 * NET, "pub_ack", client=client, msg_id=msg_id, stream="ORDERS",
                 stream_seq=seq, duplicate=False)

    def deliver(self, at, client, consumer, subject, msg_id, seq, cseq, n, sid=None) -> None:
        common = dict(stream="ORDERS", consumer=consumer, subject=subject, stream_seq=seq,
                      consumer_seq=cseq, num_delivered=n, msg_id=msg_id)
        self.rec(at, "js_deliver", True, num_pending=0, **common)
        extra = {} if sid is None else {"sid": sid}
        self.rec(at + NET, "deliver", client=client, **extra, **common)

    def ack(self, at, client, consumer, msg_id, seq, cseq, action) -> None:
        self.rec(at, "ack", client=client, msg_id=msg_id, stream="ORDERS", consumer=consumer,
                 stream_seq=seq, consumer_seq=cseq, action=action)
        self.rec(at + NET, "js_ack", True, stream="ORDERS", consumer=consumer, stream_seq=seq,
                 consumer_seq=cseq, msg_id=msg_id, action=action)


def jetstream_trace(server_layer: bool = True) -> Trace:
    """5 publishes into ORDERS; ``worker`` gets 7 deliveries (2 redeliveries), ``audit`` 5.

    ``worker``: msg 1 ack · 2 nak then redelivered and acked · 3 ack_wait expires (1 s),
    redelivered and acked · 4 term · 5 in_progress then ack.
    """
    js = _JS(server_layer)
    rec = js.rec
    for c in ("shop", "worker1", "auditor"):
        rec(0.0, "connect", client=c)
    rec(0.0, "step", index=0, op="add_stream")
    rec(0.01, "stream_created", True, stream="ORDERS", subjects=["orders.>"])
    rec(0.02, "consumer_created", True, stream="ORDERS", consumer="worker")
    rec(0.02, "consumer_created", True, stream="ORDERS", consumer="audit")
    rec(0.03, "subscribe", client="auditor", sid=1, subject="audit.deliver", queue="")
    rec(0.03, "subscribe", client="worker1", sid=1, subject="_INBOX.worker1.*", queue="")
    subjects = ["orders.new", "orders.paid", "orders.new", "orders.paid", "orders.new"]
    for i, subject in enumerate(subjects):
        at, seq = 1.0 + 0.5 * i, i + 1
        js.publish(at, "shop", subject, msg_id=seq, seq=seq)
        js.deliver(at + NET, "worker1", "worker", subject, seq, seq, seq, 1, sid=1)
        js.deliver(at + NET, "auditor", "audit", subject, seq, seq, seq, 1, sid=1)
        js.ack(at + 0.05, "auditor", "audit", seq, seq, seq, "ack")
    js.ack(1.1, "worker1", "worker", 1, 1, 1, "ack")
    js.ack(1.6, "worker1", "worker", 2, 2, 2, "nak")
    js.deliver(1.6 + 2 * NET, "worker1", "worker", "orders.paid", 2, 2, 6, 2, sid=1)
    js.ack(1.8, "worker1", "worker", 2, 2, 6, "ack")
    rec(3.002, "ack_timeout", True, stream="ORDERS", consumer="worker", stream_seq=3,
        msg_id=3, num_delivered=1)
    js.deliver(3.002, "worker1", "worker", "orders.new", 3, 3, 7, 2, sid=1)
    js.ack(3.2, "worker1", "worker", 3, 3, 7, "ack")
    js.ack(2.6, "worker1", "worker", 4, 4, 4, "term")
    js.ack(3.1, "worker1", "worker", 5, 5, 5, "in_progress")
    js.ack(3.4, "worker1", "worker", 5, 5, 5, "ack")
    return _sorted(js.t)


def busy_trace(n: int = 50, server_layer: bool = True) -> Trace:
    """``n`` orders, 0.1 s apart, each delivered once to ``worker1`` and acked 20 ms later."""
    js = _JS(server_layer)
    js.rec(0.0, "connect", client="shop")
    js.rec(0.0, "connect", client="worker1")
    js.rec(0.01, "stream_created", True, stream="ORDERS", subjects=["orders.>"])
    js.rec(0.02, "consumer_created", True, stream="ORDERS", consumer="worker")
    for i in range(n):
        at, seq, subject = 1.0 + 0.1 * i, i + 1, f"orders.{['new', 'paid'][i % 2]}"
        js.publish(at, "shop", subject, seq, seq)
        js.deliver(at + NET, "worker1", "worker", subject, seq, seq, seq, 1)
        js.ack(at + 0.02, "worker1", "worker", seq, seq, seq, "ack")
    return _sorted(js.t)


def fanout_trace() -> Trace:
    """50 orders; ``worker`` alternates between clients ``w1``/``w2`` and naks every 7th (then
    acks the redelivery); ``audit`` (client ``auditor``) acks all: 107 deliveries."""
    js = _JS(server_layer=True)
    for i in range(50):
        at, seq, subject = 1.0 + 0.1 * i, i + 1, f"orders.{['new', 'paid'][i % 2]}"
        worker = "w1" if i % 2 else "w2"
        js.publish(at, "shop", subject, seq, seq)
        js.deliver(at + NET, worker, "worker", subject, seq, seq, seq, 1)
        js.deliver(at + NET, "auditor", "audit", subject, seq, seq, seq, 1)
        js.ack(at + 0.02, "auditor", "audit", seq, seq, seq, "ack")
        if i % 7 == 3:
            js.ack(at + 0.03, worker, "worker", seq, seq, seq, "nak")
            js.deliver(at + 0.032, worker, "worker", subject, seq, seq, 100 + seq, 2)
            js.ack(at + 0.06, worker, "worker", seq, seq, 100 + seq, "ack")
        else:
            js.ack(at + 0.03, worker, "worker", seq, seq, seq, "ack")
    return _sorted(js.t)


def lossy_trace() -> Trace:
    """``sensor`` publishes 3 readings that ``dash`` subscribes to: #1 arrives, #2 is lost on its
    way to the server, #3 on its way from the server to ``dash``."""
    t = _trace()
    for c in ("sensor", "dash"):
        t.record(0.0, "connect", {"node": "n1", "client": c})
    t.record(0.1, "subscribe", {"node": "n1", "client": "dash", "sid": 1, "subject": "temps.*",
                                "queue": ""})
    for msg_id in (1, 2, 3):
        at = float(msg_id)
        t.record(at, "publish", {"node": "n1", "client": "sensor", "subject": "temps.a",
                                 "msg_id": msg_id, "size": 2})
        if msg_id == 1:
            t.record(at + 2 * NET, "deliver", {"node": "n1", "client": "dash", "sid": 1,
                                               "subject": "temps.a", "msg_id": 1})
        elif msg_id == 2:
            t.record(at, "lost", {"node": "n1", "client": "sensor", "subject": "temps.a",
                                  "msg_id": 2, "hop": "client->server"})
        else:
            t.record(at + NET, "lost", {"node": "n1", "client": "dash", "subject": "temps.a",
                                        "msg_id": 3, "hop": "server->client"})
    return t


def _sorted(trace: Trace) -> Trace:
    """The same records in time order (stable), as a backend writes them."""
    out = _trace()
    for e in sorted(trace, key=lambda e: e.time):
        out.record(e.time, e.kind, e.fields)
    return out


def count(trace: Trace, kind: str, window=None, **fields) -> int:
    """How many ``kind`` records match ``fields`` within ``window`` (both ends included),
    leaving out the ones on an ``_INBOX.`` subject (a request's answer)."""
    return sum(1 for e in trace.filter(kind, **fields)
               if (window is None or window[0] <= e.time <= window[1])
               and not str(e.fields.get("subject", "")).startswith("_INBOX."))


def three_node_trace() -> Trace:
    """``alice`` on n1 publishes 3 messages on ``chat.room``; ``ann`` (n1), ``bob`` (n2) and
    ``eve`` (n3) receive each one: 6 of the 9 deliveries cross a route between servers."""
    t = _trace()
    for node, client, subject in (("n1", "ann", "chat.*"), ("n2", "bob", "chat.>"),
                                  ("n3", "eve", "chat.*")):
        t.record(0.0, "subscribe", {"node": node, "client": client, "sid": 1, "subject": subject,
                                    "queue": ""})
    for i in range(3):
        at, msg_id = 1.0 + i, i + 1
        t.record(at, "publish", {"node": "n1", "client": "alice", "subject": "chat.room",
                                 "msg_id": msg_id})
        t.record(at + 2 * NET, "deliver", {"node": "n1", "client": "ann", "sid": 1,
                                           "subject": "chat.room", "msg_id": msg_id})
        for node, client in (("n2", "bob"), ("n3", "eve")):
            t.record(at + 3 * NET, "deliver", {"node": node, "client": client, "sid": 1,
                                               "subject": "chat.room", "msg_id": msg_id})
    return t

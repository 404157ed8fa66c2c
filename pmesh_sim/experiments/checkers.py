"""Delivery checkers over a trace from either backend, in the manner of Jepsen's queue checkers.

:func:`check_delivery` reads the client-layer records both backends write (``publish``,
``pub_ack``, ``deliver``, ``ack``, ``consumer_config``) and, where the trace has them (the
simulation), the server's ``store`` / ``dedup`` / ``discard`` records. It answers, for every
JetStream consumer of the run:

- **lost**: acknowledged publishes (a ``pub_ack`` without error) the consumer should have got
  and never did. As Jepsen's NATS analysis does, they are split into epochs by the first and
  last message of the same publisher the consumer *did* get: ``lost_prefix`` (before the
  first), ``lost_postfix`` (after the last: Jepsen's word for the suffix) and ``lost_middle``
  (the rest). A publisher the consumer got nothing from counts as postfix. Like Jepsen's final
  reads, a scenario must drain its consumers at the end for "lost" to mean lost: a reader that
  stops early leaves a postfix, and one that stops while deliveries wait for redelivery (after
  a lost delivery or ack) leaves them in the middle.
- **duplicated**: messages delivered to the consumer more than once (by redelivery, or stored
  twice: a message is identified by its ``Nats-Msg-Id`` when it has one, else its msg_id);
  **processed_twice**: messages the client acknowledged (``ack``, ``ack_sync`` or ``term``)
  more than once, i.e. processed twice by the application; for a consumer with workers (a
  ``workers`` step: ``process`` records), messages whose processing was recorded more than
  once instead, and **unprocessed**: messages delivered to it whose processing no worker
  recorded (a worker that acks first and crashes before recording loses it);
- **redelivered**: deliveries the server marked as redeliveries (``num_delivered`` 2+);
- **out_of_order**: first deliveries of a subject that came after a later stream sequence of
  the same subject;
- **past_max_deliver**: deliveries beyond the consumer's ``max_deliver``.

And for the run as a whole: **unexpected** (delivered but never published, or published and
refused with an error), **recovered** (published without a pub ack, e.g. a timed-out
``js_publish`` or a core publish, yet delivered: Jepsen's word) and **unstored** (acknowledged
but never stored or de-duplicated; only on traces that have ``store`` records, the
simulation's). Duplicates and redeliveries are allowed by at-least-once delivery: the run is
``valid`` when nothing is lost, unexpected, unstored, out of order or past max_deliver.

What a consumer "should get": the acknowledged messages of its stream that its filters take,
minus those the stream removed before delivering them (``discard`` records: limits, purges;
``stream_deleted``); with ``deliver_policy`` ``new`` (or ``last``, ``last_per_subject``,
``by_start_time``) only those acknowledged after the consumer was created; with
``by_start_sequence`` those from ``opt_start_seq`` on; a deleted consumer nothing after it was
deleted.

>>> from pmesh_sim.trace import Trace
>>> t = Trace(clock=lambda: 0.0)
>>> t.emit("consumer_config", node="n1", stream="S", consumer="c", filter_subjects=[],
...        pull=True, ack_policy="explicit", ack_wait=1.0, max_deliver=-1)
>>> for i in (1, 2, 3):
...     t.emit("publish", node="n1", client="p", subject="s.a", msg_id=i)
...     t.emit("pub_ack", node="n1", client="p", msg_id=i, stream="S", stream_seq=i)
>>> for i in (1, 3):
...     t.emit("deliver", node="n1", client="w", subject="s.a", msg_id=i, stream="S",
...            consumer="c", stream_seq=i, consumer_seq=i, num_delivered=1)
>>> result = check_delivery(t)
>>> print(result)
INVALID: 1 of 3 acknowledged messages lost (prefix 0, middle 1, postfix 0); 0 duplicated, 0 redelivered
>>> result.consumers["S/c"].lost_middle
[2]
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from ..subjects import subject_matches

__all__ = ["ConsumerCheck", "DeliveryCheck", "check_delivery", "OUTCOMES"]

_PROCESSED = ("ack", "ack_sync", "term")
_AFTER_CREATION = ("new", "last", "last_per_subject", "by_start_time")

#: The outcome of one acknowledged message at one consumer (the figure's colours).
OUTCOMES = {
    "once": "#009E73",            # green
    "duplicated": "#E69F00",      # orange
    "lost_prefix": "#CC79A7",     # purple
    "lost_middle": "#D55E00",     # vermillion
    "lost_postfix": "#56B4E9",    # sky blue
    "removed": "#BBBBBB",         # grey: the stream removed it first
}


@dataclass
class ConsumerCheck:
    """One consumer's findings; each list holds msg_ids (of the original publishes)."""

    stream: str
    consumer: str
    expected: int = 0           #: acknowledged messages it should get
    delivered: int = 0          #: of those, how many it got
    lost_prefix: list[int] = field(default_factory=list)
    lost_middle: list[int] = field(default_factory=list)
    lost_postfix: list[int] = field(default_factory=list)
    duplicated: list[int] = field(default_factory=list)
    processed_twice: list[int] = field(default_factory=list)
    unprocessed: list[int] = field(default_factory=list)    #: delivered, never processed
    redelivered: list[int] = field(default_factory=list)     #: one entry per redelivery
    out_of_order: list[int] = field(default_factory=list)
    past_max_deliver: list[int] = field(default_factory=list)
    #: msg_id -> outcome (a key of OUTCOMES), in publish order: the figure's row
    outcomes: dict[int, str] = field(default_factory=dict)

    @property
    def lost(self) -> list[int]:
        """Every lost msg_id, in publish order."""
        return sorted(self.lost_prefix + self.lost_middle + self.lost_postfix)


@dataclass
class DeliveryCheck:
    """What :func:`check_delivery` found: run-wide counts, and one :class:`ConsumerCheck`
    per consumer (``"STREAM/CONSUMER"``)."""

    attempted: int = 0          #: publishes to a stream's subjects
    acknowledged: int = 0       #: of those, acknowledged without error
    unexpected: list[int] = field(default_factory=list)
    recovered: list[int] = field(default_factory=list)
    unstored: list[int] = field(default_factory=list)
    consumers: dict[str, ConsumerCheck] = field(default_factory=dict)

    def _all(self, name: str) -> list[int]:
        return [m for c in self.consumers.values() for m in getattr(c, name)]

    @property
    def valid(self) -> bool:
        """Nothing lost, unexpected, unstored, out of order or past max_deliver."""
        bad = ("lost", "out_of_order", "past_max_deliver")
        return not (self.unexpected or self.unstored or any(self._all(n) for n in bad))

    def counts(self) -> dict[str, Any]:
        """Flat counts (one column each in a sweep's DataFrame); summed over consumers."""
        out: dict[str, Any] = {"valid": self.valid, "attempted": self.attempted,
                               "acknowledged": self.acknowledged}
        for name in ("lost", "lost_prefix", "lost_middle", "lost_postfix", "duplicated",
                     "processed_twice", "unprocessed", "redelivered", "out_of_order",
                     "past_max_deliver"):
            out[name] = len(self._all(name))
        for name in ("unexpected", "recovered", "unstored"):
            out[name] = len(getattr(self, name))
        return out

    def __str__(self) -> str:
        n = self.counts()
        head = "valid" if self.valid else "INVALID"
        expected = sum(c.expected for c in self.consumers.values())
        text = (f"{head}: {n['lost']} of {expected} acknowledged messages lost (prefix "
                f"{n['lost_prefix']}, middle {n['lost_middle']}, postfix {n['lost_postfix']}); "
                f"{n['duplicated']} duplicated, {n['redelivered']} redelivered")
        extra = [f"{n[k]} {k.replace('_', ' ')}" for k in
                 ("processed_twice", "unprocessed", "out_of_order", "past_max_deliver",
                  "unexpected", "unstored", "recovered") if n[k]]
        if not self.consumers and self.acknowledged:
            extra.append("no consumer to check")
        return text + ("; " + ", ".join(extra) if extra else "")

    def plot(self, ax=None):
        """One row per consumer, one cell per acknowledged message (publish order), coloured
        by its outcome; the verdict as the title. Returns the axes."""
        from ._plots import draw_outcomes

        return draw_outcomes(self, ax=ax)


class _Messages:
    """The publishes of a trace: subject, publisher, identity, acknowledgement, storage."""

    def __init__(self, trace):
        self.subject: dict[int, str] = {}
        self.client: dict[int, str] = {}
        self.time: dict[int, float] = {}
        self.identity: dict[int, Any] = {}
        self.acked: dict[int, tuple[str, int]] = {}       # msg_id -> (stream, seq)
        self.refused: set[int] = set()
        self.stored: set[int] = set()
        self.removed: set[tuple[str, int]] = set()        # (stream, seq) the stream dropped
        self.stream_gone: set[str] = set()
        self.stream_subjects: dict[str, list[str]] = {}
        self.server_made: set[tuple[str, int]] = set()   # stored by the server itself
        self.has_store = False
        for time, kind, f in trace:
            self._read(time, kind, f)

    def _read(self, time, kind, f):
        if kind == "publish":
            m = f["msg_id"]
            self.subject[m], self.client[m], self.time[m] = f["subject"], f["client"], time
            self.identity[m] = ("nats_msg_id", f["nats_msg_id"]) if f.get("nats_msg_id") else m
        elif kind == "pub_ack":
            if f.get("err_code"):
                self.refused.add(f["msg_id"])
            elif f.get("stream_seq"):
                self.acked[f["msg_id"]] = (f["stream"], f["stream_seq"])
        elif kind in ("store", "dedup"):
            self.has_store = True
            self.stored.add(f["msg_id"])
            if not f["msg_id"]:    # a subject delete marker: no client published it
                self.server_made.add((f["stream"], f["stream_seq"]))
        elif kind == "discard":    # dropped (limits, retention) or refused: handled, not lost
            self.stored.add(f.get("msg_id"))
            if f.get("stream_seq"):
                self.removed.add((f["stream"], f["stream_seq"]))
        elif kind == "delete":
            self.removed.add((f["stream"], f["stream_seq"]))
        elif kind == "stream_deleted":
            self.stream_gone.add(f["stream"])
        elif kind in ("stream_config", "stream_created"):
            self.stream_subjects[f["stream"]] = list(f.get("subjects") or [])

    def attempts(self) -> list[int]:
        """Publishes to a subject some stream captures (library subjects left out)."""
        subjects = [s for subs in self.stream_subjects.values() for s in subs]
        return [m for m, subj in self.subject.items()
                if m in self.acked or m in self.refused
                or (not subj.startswith(("$JS.", "_INBOX.", "$SYS."))
                    and any(subject_matches(s, subj) for s in subjects))]


def check_delivery(trace, *, consumers: list[str] | None = None) -> DeliveryCheck:
    """Check ``trace`` (a :class:`~pmesh_sim.trace.Trace` from either backend, or a list of its
    events); the module's docs give the rules. ``consumers``: only these
    (``"STREAM/CONSUMER"``)."""
    msgs = _Messages(trace)
    configs: dict[str, tuple[float, dict]] = {}
    ends: dict[str, float] = {}
    deliveries: dict[str, list[dict]] = defaultdict(list)
    acks: dict[str, Counter] = defaultdict(Counter)
    processed: dict[str, Counter] = defaultdict(Counter)    # a workers step's processings
    delivered_ids: set[int] = set()     # client deliveries of messages clients published
    for time, kind, f in trace:
        if kind == "consumer_config":
            configs.setdefault(f"{f['stream']}/{f['consumer']}", (time, f))
        elif kind == "consumer_deleted":
            ends.setdefault(f"{f['stream']}/{f['consumer']}", time)
        elif kind == "deliver" and f.get("consumer"):
            deliveries[f"{f['stream']}/{f['consumer']}"].append(f)
            if (f["stream"], f.get("stream_seq")) not in msgs.server_made:
                delivered_ids.add(f.get("msg_id"))
        elif kind == "process":
            processed[f"{f['stream']}/{f['consumer']}"][msgs.identity.get(f["msg_id"],
                                                                          f["msg_id"])] += 1
        elif kind == "ack" and f.get("consumer") and f.get("action") in _PROCESSED:
            acks[f"{f['stream']}/{f['consumer']}"][msgs.identity.get(f["msg_id"],
                                                                     f["msg_id"])] += 1
    attempts = msgs.attempts()
    out = DeliveryCheck(attempted=len(attempts), acknowledged=len(msgs.acked))
    out.unexpected = sorted(m for m in delivered_ids
                            if m not in msgs.subject or m in msgs.refused)
    out.recovered = sorted(m for m in delivered_ids
                           if m in msgs.subject and m not in msgs.acked and m not in msgs.refused)
    if msgs.has_store:
        out.unstored = sorted(m for m in msgs.acked if m not in msgs.stored)
    for key in sorted(set(configs) | set(deliveries)):
        if consumers is not None and key not in consumers:
            continue
        created, config = configs.get(key, (0.0, {}))
        out.consumers[key] = _check_consumer(key, msgs, created, config, ends.get(key, math.inf),
                                             deliveries[key], processed.get(key) or acks[key])
        if key in processed:
            out.consumers[key].unprocessed = _unprocessed(msgs, deliveries[key], processed[key])
    return out


def _unprocessed(msgs: _Messages, delivered: list[dict], processed: Counter) -> list[int]:
    """Delivered messages (first msg_id of each identity) no worker recorded processing."""
    first: dict[Any, int] = {}
    for f in delivered:
        first.setdefault(msgs.identity.get(f.get("msg_id"), f.get("msg_id")), f.get("msg_id"))
    return sorted(m for i, m in first.items() if not processed[i])


def _expected(msgs: _Messages, stream: str, created: float, config: dict,
              end: float) -> list[int]:
    """The acknowledged msg_ids the consumer should get (one per identity), publish order."""
    filters = config.get("filter_subjects") or []
    policy = config.get("deliver_policy", "all")
    start = config.get("opt_start_seq") or 1 if policy == "by_start_sequence" else 1
    seen, out = set(), []
    for m, (s, seq) in sorted(msgs.acked.items(), key=lambda kv: msgs.time.get(kv[0], 0)):
        when = msgs.time.get(m, 0.0)
        if s != stream or seq < start or when > end or msgs.identity.get(m, m) in seen:
            continue
        if policy in _AFTER_CREATION and when < created:
            continue
        if filters and not any(subject_matches(x, msgs.subject.get(m, "")) for x in filters):
            continue
        seen.add(msgs.identity.get(m, m))
        out.append(m)
    return out


def _check_consumer(key, msgs, created, config, end, delivered, acked) -> ConsumerCheck:
    stream, consumer = key.split("/", 1)
    check = ConsumerCheck(stream, consumer)
    got = Counter(msgs.identity.get(f.get("msg_id"), f.get("msg_id")) for f in delivered)
    first_of: dict[Any, int] = {}
    for f in delivered:
        first_of.setdefault(msgs.identity.get(f.get("msg_id"), f.get("msg_id")), f.get("msg_id"))
    check.duplicated = sorted(first_of[i] for i, n in got.items() if n > 1)
    check.processed_twice = sorted(first_of.get(i, i) for i, n in acked.items() if n > 1)
    max_deliver = config.get("max_deliver", -1) or -1
    last_seq: dict[str, int] = {}
    for f in delivered:
        n = f.get("num_delivered") or 1
        if n > 1:
            check.redelivered.append(f.get("msg_id"))
        if 0 < max_deliver < n:
            check.past_max_deliver.append(f.get("msg_id"))
        subject, seq = f.get("subject", ""), f.get("stream_seq") or 0
        if n == 1 and seq < last_seq.get(subject, 0):
            check.out_of_order.append(f.get("msg_id"))
        if n == 1:
            last_seq[subject] = max(seq, last_seq.get(subject, 0))
    _classify(check, msgs, _expected(msgs, stream, created, config, end), got)
    return check


def _classify(check: ConsumerCheck, msgs: _Messages, expected: list[int], got: Counter):
    """Outcome of each expected message; lost ones split into Jepsen's epochs by publisher."""
    by_publisher: dict[str, list[int]] = defaultdict(list)
    for m in expected:
        by_publisher[msgs.client.get(m, "")].append(m)
    for ids in by_publisher.values():
        ok = [i for i, m in enumerate(ids) if got[msgs.identity.get(m, m)]]
        for i, m in enumerate(ids):
            n = got[msgs.identity.get(m, m)]
            stream, seq = msgs.acked[m]
            gone = (stream, seq) in msgs.removed or stream in msgs.stream_gone
            if n:
                check.outcomes[m] = "once" if n == 1 else "duplicated"
            elif gone:
                check.outcomes[m] = "removed"
            elif not ok or i > ok[-1]:
                check.outcomes[m] = "lost_postfix"
            elif i < ok[0]:
                check.outcomes[m] = "lost_prefix"
            else:
                check.outcomes[m] = "lost_middle"
    check.outcomes = dict(sorted(check.outcomes.items(), key=lambda kv: msgs.time.get(kv[0], 0)))
    for m, outcome in check.outcomes.items():
        if outcome.startswith("lost_"):
            getattr(check, outcome).append(m)
    check.expected = sum(1 for o in check.outcomes.values() if o != "removed")
    check.delivered = sum(1 for o in check.outcomes.values() if o in ("once", "duplicated"))

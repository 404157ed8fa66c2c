"""A replicated consumer's state changes as entries: what its leader decides, every replica applies.

nats-server's R>1 consumer (``consumer.go``, ``jetstream_cluster.go applyConsumerEntries``)
proposes each change of its stored state to the consumer's RAFT group, and every replica's
store applies the committed entries in order. The ops, as tuples:

- ``("d", dseq, sseq, dc, deadline)``: delivered (``updateDeliveredOp``): consumer sequence
  ``dseq`` carried stream sequence ``sseq`` for the ``dc``-th time; it awaits an ack until
  ``deadline`` (None with ack policy none, which moves the ack floor instead);
- ``("a", dseq, sseq)``: acked (``updateAcksOp``; a term too);
- ``("t", sseq, deadline)``: a pending message's new deadline (a nak with a delay, an
  in-progress ack: ``updateDelivered`` with a new timestamp);
- ``("s", sseq)``: the first stream sequence a new leader chose (``updateSkipOp``);
- ``("x", sseq, dc)``: ``sseq`` reached ``max_deliver`` after ``dc`` deliveries and leaves
  the pending messages (``hasMaxDeliveries``: a delivered update past the maximum);
- ``("R", sseq)``: a reset to stream sequence ``sseq`` (``resetSeqOp``): nothing pending,
  consumer sequences from 1 (an interest stream drops what no consumer needs any more).

The leader's :class:`~pmesh_sim.jetstream.consumer.Consumer` decides (its ``journal`` hears
each op); a replica that does not lead is the same class, standing by (it delivers nothing and
keeps no timers) while :func:`apply` moves its state, with the consumer's own ack code. Not
replicated, as on the server: waiting pull requests and the redelivery queue (the leader's).

>>> from pmesh_sim.config import ConsumerConfig, StreamConfig
>>> from pmesh_sim.jetstream.consumer import Consumer
>>> from pmesh_sim.jetstream.stream import Stream
>>> st = Stream(StreamConfig(name="S", subjects=["s"]))
>>> for i in range(3):
...     _ = st.publish("s", b"x", None, 0.0)
>>> cfg = ConsumerConfig(durable_name="w", ack_wait=2.0, max_deliver=-1)
>>> c = Consumer(st, "w", cfg, durable=True, now=0.0)
>>> stand_by(c)
>>> for op in [("d", 1, 1, 1, 2.2), ("d", 2, 2, 1, 2.2), ("a", 1, 1)]:
...     apply(c, op, now=0.3)
>>> sorted(c.pending), c.dseq, c.sseq, (c.adflr, c.asflr)
([2], 3, 3, (1, 1))
>>> take_over(c, now=3.0)            # 2 waited past its deadline: due again at once
>>> c.next_deadline(), c.on_timer(3.0), c.rdq
(2.2, [], [2])
"""

from __future__ import annotations

import heapq
from collections import deque

from ..config import AckPolicy, RetentionPolicy
from .consumer import Consumer

__all__ = ["apply", "capture", "restore", "stand_by", "take_over"]

#: the fields of a consumer that its entries move (what :func:`apply` changes)
_STATE = ("dseq", "sseq", "_scanned", "_stored_sseq", "npc_extra", "adflr", "asflr",
          "floor_unset")


def apply(c: Consumer, op: tuple, now: float) -> None:
    """Apply one committed op to replica ``c`` (one that did not decide it)."""
    kind = op[0]
    if kind == "d":
        _, dseq, sseq, dc, deadline = op
        if dseq >= c.dseq:
            c.dseq = dseq + 1
        if dc == 1 and sseq >= c.sseq:
            c.sseq = sseq + 1
            c._scanned = max(c._scanned, sseq)
            c._stored_sseq = None
        if deadline is None:                 # ack none: delivered is acked
            if sseq > c.asflr:
                c.adflr, c.asflr = dseq, sseq
            c._ack_stream(sseq)
            return
        entry = c.pending.get(sseq)          # UpdateDelivered keeps the first dseq
        c.pending[sseq] = [entry[0] if entry else dseq, deadline]
        if dc > 1:
            c.rdc[sseq] = dc
    elif kind == "a":
        c._ack(op[2], op[1], now)
    elif kind == "t":
        entry = c.pending.get(op[1])
        if entry is not None:
            entry[1] = op[2]
    elif kind == "x":
        c.pending.pop(op[1], None)
        c.rdc[op[1]] = op[2]
    elif kind == "R":
        c.reset(op[1], now)
        if c.stream.config.retention == RetentionPolicy.INTEREST:
            c.stream.drop_acked(now)
    elif kind == "s":
        if op[1] > c.sseq:
            c.sseq, c._scanned = op[1], op[1] - 1
            if not c.pending and c.adflr == 0:
                c.asflr = op[1] - 1


def capture(c: Consumer) -> tuple:
    """A copy of ``c``'s replicated state, for :func:`restore`.

    >>> from pmesh_sim.config import ConsumerConfig, StreamConfig
    >>> from pmesh_sim.jetstream.stream import Stream
    >>> c = Consumer(Stream(StreamConfig(name="S", subjects=["s"])), "w",
    ...              ConsumerConfig(durable_name="w"), durable=True, now=0.0)
    >>> before = capture(c)
    >>> apply(c, ("d", 1, 1, 1, 30.0), now=0.0); c.pending
    {1: [1, 30.0]}
    >>> restore(c, before); c.pending, c.dseq
    ({}, 1)
    """
    return (tuple(getattr(c, f) for f in _STATE),
            {s: list(e) for s, e in c.pending.items()}, dict(c.rdc))


def restore(c: Consumer, state: tuple) -> None:
    """Put ``c``'s replicated state back as :func:`capture` copied it."""
    fields, pending, rdc = state
    for name, value in zip(_STATE, fields):
        setattr(c, name, value)
    c.pending = {s: list(e) for s, e in pending.items()}
    c.rdc = dict(rdc)


def stand_by(c: Consumer) -> None:
    """``c`` does not lead (or no longer): it forgets its pull requests (unanswered: the next
    leader tells them), its redelivery queue and its timers, and delivers nothing."""
    c.standby = True
    c.waiting = deque()
    c.rdq, c._rdq_set = [], set()
    c._nak_delayed.clear()
    c._timers = []


def take_over(c: Consumer, now: float) -> None:
    """``c`` leads from now on (consumer.go ``setLeader(true)`` then ``checkPending``): every
    pending message is due at its replicated deadline, so one whose ack wait ran out while
    the old leader was gone is redelivered at once."""
    c.standby = False
    c.last_active = now
    c._blocked = False
    if c.config.ack_policy != AckPolicy.NONE:
        c._timers = [(entry[1], seq) for seq, entry in c.pending.items()]
        heapq.heapify(c._timers)
        if c._timers and c._timers[0][0] < c.wake[0]:
            c.wake[0] = c._timers[0][0]
    hb = c.config.idle_heartbeat if c.config.deliver_subject else None
    c._hb_at = now + hb if hb else None

"""A consumer's delivery state: what to send next, what awaits an ack, when to redeliver. No SimPy.

Every method takes ``now`` and returns the :class:`Outgoing` messages to send; the host asks
:meth:`Consumer.next_deadline` when to call :meth:`Consumer.on_timer` again. Deliveries carry
the server's ack subject ``$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.<ts>.<pending>``.

>>> parse_ack_subject("$JS.ACK.S.C.2.7.9.0.3")
('S', 'C', 2, 7, 9, 3)
"""

from __future__ import annotations

import heapq
import json
from collections import deque
from collections.abc import Callable
from typing import Any, NamedTuple

from ..config import AckPolicy, ConsumerConfig, DeliverPolicy, RetentionPolicy, StorageType
from .answer import consumer_config, go_marshal
from .flow import FlowControl
from .pull import NS, PullRequest, parse_pull
from .stream import Stream, _rfc3339, encode_headers, parse_rfc3339, row_emitter

__all__ = ["Consumer", "Outgoing", "parse_ack_subject", "status"]

_new_tuple = tuple.__new__
_DELIVER_KEYS = ("node", "stream", "consumer", "subject", "stream_seq", "consumer_seq",
                 "num_delivered", "num_pending", "msg_id")
_ACK_KEYS = ("node", "stream", "consumer", "stream_seq", "consumer_seq", "msg_id", "action")


class Outgoing(NamedTuple):
    """One message JetStream sends: routed by ``subject``."""

    subject: str
    reply: str = ""
    data: bytes = b""
    headers: dict[str, str] | None = None
    msg_subject: str | None = None   # the subject the receiver sees (a stored message's own)
    msg_id: int = 0   # a delivery: the trace's msg_id of the stored message's publish
    api: int = 0      # an API answer the account counts when sent: API_ANSWER or API_ERROR


API_ANSWER, API_ERROR = 1, 2    # sendAPIResponse (trackAPI), sendAPIErrResponse (trackAPIErr)


def status(to: str, code: int, description: str, **extra: str) -> Outgoing:
    """A status message (empty payload, ``Status``/``Description`` headers), as nats-py reads it.

    >>> status("_INBOX.1", 404, "No Messages").headers
    {'Status': '404', 'Description': 'No Messages'}
    """
    return Outgoing(to, "", b"", {"Status": str(code), "Description": description, **extra})


def parse_ack_subject(subject: str, tokens: list[str] | None = None
                      ) -> tuple[str, str, int, int, int, int]:
    """``(stream, consumer, num_delivered, stream_seq, consumer_seq, num_pending)`` of an ack
    subject, in the 9-token form or the 12-token form with domain and account hash
    (``tokens``: the subject already split on ``.``)."""
    t = subject.split(".") if tokens is None else tokens
    if len(t) == 9:
        return t[2], t[3], int(t[4]), int(t[5]), int(t[6]), int(t[8])
    if len(t) >= 11:
        return t[4], t[5], int(t[6]), int(t[7]), int(t[8]), int(t[10])
    raise ValueError(f"not a JetStream ack subject: {subject!r}")


class Consumer:
    """The delivery state of one consumer on one stream.

    ``pending`` maps stream seq -> ``[consumer_seq, deadline]`` for deliveries awaiting an ack;
    ``rdc`` counts deliveries of redelivered messages; ``rdq`` holds stream seqs due again.
    """

    TIMER_SLACK = 1024
    """Stale ack timers (of messages acked since) allowed beyond twice the pending count."""

    def __init__(self, stream: Stream, name: str, config: ConsumerConfig, *, durable: bool,
                 now: float, emit: Callable[..., None] | None = None,
                 has_interest: Callable[..., bool] | None = None,
                 emit_row: Callable[..., None] | None = None):
        from ..subjects import subject_matches

        self.stream, self.name, self.config, self.durable = stream, name, config, durable
        self.created = now
        self.emit = emit or (lambda kind, **fields: None)
        self.emit_row = emit_row or row_emitter(self.emit)   # the hot records
        self.has_interest = has_interest or (lambda subject, queue=None: False)
        self._match = subject_matches
        self.filters = self._effective_filters(config)
        self.pending: dict[int, list] = {}
        self.rdc: dict[int, int] = {}
        self.rdq: list[int] = []
        self._rdq_set: set[int] = set()
        self.waiting: deque[PullRequest] = deque()
        self._nak_delayed: set[int] = set()   # pending seqs whose deadline is a nak's delay
        self._timers: list[tuple[float, int]] = []
        self.wake = [float("inf")]   # the earliest timer added (JetStream shares its own)
        self._ack_prefix: str | None = None   # "$JS.ACK.<stream>.<consumer>."
        self.last_active = now
        #: when it last delivered and last took an ack (SequenceInfo.last_active; None: not
        #: since it was created or reset)
        self.delivered_at: float | None = None
        self.acked_at: float | None = None
        self.deleted = False
        self.advisories: list[Outgoing] = []
        self._lps: set[int] | None = None
        self._lps_end = 0
        self._blocked = False
        self.dseq = 1
        self.sseq = self._start_seq()
        self._scanned = self.sseq - 1     # highest stream seq already looked at
        # messages the server's cached num pending (npc) counts but will never deliver: taken
        # by the filters, stored below sseq (by_start_sequence past the end) since the count
        # was last computed (consumer.go processStreamSignal counts every signalled message)
        self.npc_extra = 0
        self.adflr, self.asflr = 0, self.sseq - 1
        self.floor_unset = False   # R>1 in a cluster, no floor stored yet (see info())
        self.replicated = False    # R>1 in a cluster (set by the host)
        # a replicated consumer (see .consumer_replica): ``journal(consumer, op, msg)`` hears
        # each state change its leader decides; a replica that does not lead stands by
        self.journal: Callable[..., None] | None = None
        self.standby = False
        # the delivered stream seq the consumer's store still holds after a memory stream's
        # "nothing" moved sseq past the end (None: the store agrees with sseq - 1)
        self._stored_sseq: int | None = None
        self._bound = False   # a push consumer's last seen interest (see on_interest_change)
        # a push consumer's next idle heartbeat (consumer.go loopAndGatherMsgs: the timer
        # starts with the consumer and restarts on each delivery and each time it fires)
        hb = config.idle_heartbeat if config.deliver_subject else None
        self._hb_at = now + hb if hb else None
        self._pause_at: float | None = None   # paused until then (virtual seconds)
        self.set_pause(config.pause_until, now)
        # push flow control (see .flow); flow_control cannot be updated (10108 / updateConfig)
        self.flow = (FlowControl(stream.name, name)
                     if config.flow_control and config.deliver_subject else None)

    # ------------------------------------------------------------------- reset
    def reset_target(self, seq: int) -> int:
        """Where a reset to ``seq`` (0: the ack floor) starts, or 10204 (consumer.go
        resetStartingSeqLocked): any sequence for deliver all, not below the start otherwise.
        """
        from ..errors import JetStreamError

        if seq == 0:
            return self.asflr + 1
        dp = self.config.deliver_policy
        if dp == DeliverPolicy.BY_START_SEQUENCE and seq < (self.config.opt_start_seq or 0):
            raise JetStreamError.from_err_code(10204, err="below start seq")
        if dp == DeliverPolicy.BY_START_TIME:
            at = (parse_rfc3339(self.config.opt_start_time) - self.stream.epoch_ns) / NS
            st = self.stream
            if seq < next((m.seq for m in st.msgs.values() if m.time >= at), st.last_seq + 1):
                raise JetStreamError.from_err_code(10204, err="below start time")
        elif dp not in (DeliverPolicy.ALL, DeliverPolicy.BY_START_SEQUENCE):
            raise JetStreamError.from_err_code(10204, err="not allowed")
        return max(seq, 1)

    def reset(self, seq: int, now: float) -> list[Outgoing]:
        """Start again at stream sequence ``seq`` (resetLocalStartingSeq): nothing pending or
        due again, consumer sequences from 1, the ack floor just below ``seq``."""
        if self.journal is not None and not self.standby:    # resetSeqOp, before deliveries
            self.journal(self, ("R", seq))
        if (self.sseq != seq or self.pending) and not (
                seq == self.asflr + 1 and self.config.ack_policy == AckPolicy.ALL):
            self.npc_extra = 0     # resetLocalStartingSeq: num pending computed again
        self.pending.clear()
        self.rdc.clear()
        self.rdq, self._rdq_set = [], set()
        self._lps = None
        self.sseq, self._scanned, self.dseq = seq, seq - 1, 1
        self.adflr, self.asflr = 0, seq - 1
        self.delivered_at = self.acked_at = None
        self._stored_sseq = None    # store.Reset(seq - 1), which stores the floor too
        self.floor_unset = False
        return self.deliver(now)

    # ------------------------------------------------------------------- pause
    def set_pause(self, until: str | None, now: float) -> None:
        """Pause delivery until the date ``until`` (None: resume); a date already past does
        not pause (consumer.go updatePauseState). Acks, pull requests and their expiry go on.
        """
        at = None
        if until:
            at = (parse_rfc3339(until) - self.stream.epoch_ns) / NS
            if at <= now:
                at = None
        self._pause_at = at
        if at is not None and at < self.wake[0]:
            self.wake[0] = at

    def paused(self, now: float) -> bool:
        """Whether delivery is paused at ``now``."""
        return self._pause_at is not None and now < self._pause_at

    def paused_advisory(self, now: float) -> list[Outgoing]:
        """The pause advisory a create or update answer is followed by while paused."""
        return [self.pause_advisory(now)] if self.paused(now) else []

    def pause_advisory(self, now: float) -> Outgoing:
        """The pause advisory (consumer.go sendPauseAdvisoryLocked), sent when the pause
        changes and when it ends."""
        until = self.config.pause_until
        body = {"type": "io.nats.jetstream.advisory.v1.consumer_pause",
                "id": f"{self.name}-{self.dseq}", "timestamp": _rfc3339(now, self.stream.epoch_ns),
                "stream": self.stream.name, "consumer": self.name,
                "paused": self.paused(now), "pause_until": until or "0001-01-01T00:00:00Z"}
        subject = f"$JS.EVENT.ADVISORY.CONSUMER.PAUSE.{self.stream.name}.{self.name}"
        self.emit("advisory", subject=subject, stream=self.stream.name, consumer=self.name,
                  paused=body["paused"])
        return Outgoing(subject, "", go_marshal(body), None)

    # ----------------------------------------------------------------- helpers
    def _effective_filters(self, config: ConsumerConfig) -> list[str]:
        """The filters, or [] when they take every subject of the stream (as the server's
        ``isFiltered``), so unfiltered work stays O(1)."""
        from ..config import subject_is_subset

        filters = config.filters
        if filters and all(any(subject_is_subset(s, f) for f in filters)
                           for s in self.stream.config.subjects):
            return []
        return filters

    def matches(self, subject: str) -> bool:
        """True when the consumer's filters take ``subject`` (always, unfiltered)."""
        return not self.filters or any(self._match(f, subject) for f in self.filters)

    @property
    def is_pull(self) -> bool:
        return not self.config.deliver_subject

    def bound(self) -> bool:
        """Whether a push consumer has a subscriber: with ``deliver_group``, only a queue
        subscriber of that group counts (consumer.go registerNotification)."""
        return self.has_interest(self.config.deliver_subject, self.config.deliver_group or None)

    def on_interest_change(self, now: float) -> list[Outgoing]:
        """Client interest changed on the server (consumer.go updateDeliveryInterest): a push
        consumer that gains a subscriber delivers at once; one that loses it starts its
        inactivity clock now."""
        if self.is_pull or self.deleted or self.standby:
            return []
        bound = self.bound()
        was, self._bound = self._bound, bound
        if bound and not was:
            return self.deliver(now)
        if was and not bound:
            self.last_active = now
        return []

    def _start_seq(self) -> int:
        """The first stream sequence to deliver (consumer.go ``selectStartingSeqNo``)."""
        st, cfg = self.stream, self.config
        state = st.state()
        first, last = state["first_seq"], state["last_seq"]
        dp = cfg.deliver_policy
        seq = 0
        if dp == DeliverPolicy.BY_START_SEQUENCE:
            seq = cfg.opt_start_seq
        elif dp == DeliverPolicy.ALL:
            seq = first
        elif dp == DeliverPolicy.NEW:
            seq = last + 1
        elif dp == DeliverPolicy.LAST:
            seq = last
            if self.filters:
                seq = max((st.last_for_subject(subj) for subj in st.subj_count
                           if self.matches(subj)), default=0)
        elif dp == DeliverPolicy.BY_START_TIME:
            start = (parse_rfc3339(cfg.opt_start_time) - st.epoch_ns) / NS
            seq = next((m.seq for m in st.msgs.values() if m.time >= start), last + 1)
        elif st.config.max_msgs_per_subject == 1:   # last per subject: every message is a last
            seq = first
        else:  # last per subject
            lps = {st.last_for_subject(subj) for subj in st.subj_count if self.matches(subj)}
            self._lps, self._lps_end = lps, last
            seq = min(lps) if lps else last
        by_seq = dp == DeliverPolicy.BY_START_SEQUENCE
        if first == 0 and not by_seq:       # a stream that never held a message
            return 1
        if seq > last and not by_seq:
            return last + 1
        return max(seq, first)

    def _ack_wait(self, num_delivered: int) -> float:
        backoff = self.config.backoff
        if backoff:
            return backoff[min(num_delivered - 1, len(backoff) - 1)]
        return self.config.ack_wait or 30.0

    def retime_pending(self, old: ConsumerConfig, now: float) -> None:
        """The ack wait changed (consumer.go updateConfig resets the pending timer to 100 ms):
        each pending message is due its new wait after its delivery, and not before 0.1 s
        from now."""
        for seq, entry in self.pending.items():
            dc = self.rdc.get(seq, 1)
            was = old.backoff[min(dc - 1, len(old.backoff) - 1)] if old.backoff else (
                old.ack_wait or 30.0)
            entry[1] = max(now + 0.1, entry[1] - was + self._ack_wait(dc))
            self._add_timer(entry[1], seq)

    def num_pending(self) -> int:
        """The server's num pending: the messages at or after the next stream seq that the
        filter takes, plus :attr:`npc_extra` (consumer info clamps it, see :meth:`info`)."""
        return self._num_pending() + self.npc_extra

    def _num_pending(self) -> int:
        """Messages at or after the next stream seq that the filter takes."""
        # from the scan position: seqs in (sseq, _scanned] were looked at and passed over
        # (the server's o.sseq moves past them), so a widened filter does not count them
        st, start = self.stream, max(self.sseq, self._scanned + 1)
        if not st.msgs or start > st.last_seq:
            return 0
        if self._lps is not None and start <= self._lps_end:
            later = sum(1 for s, m in st.msgs.items() if s > self._lps_end and self.matches(m.subject))
            return sum(1 for s in self._lps if s >= start) + later
        if not self.filters:
            first = st._first()
            if start <= first:
                return len(st.msgs)
            if st.last_seq - first + 1 == len(st.msgs):
                return st.last_seq - start + 1
            return sum(1 for s in st.msgs if s >= start)
        return sum(1 for s, m in st.msgs.items() if s >= start and self.matches(m.subject))

    # --------------------------------------------------------------- delivery
    def _next_msg(self, now: float):
        """The next message to send (a redelivery first), or None; updates delivery state.
        ``_blocked`` tells why None came: max_ack_pending (True) or the end of the stream."""
        st = self.stream
        self._blocked = False
        while self.rdq:
            seq = heapq.heappop(self.rdq)
            self._rdq_set.discard(seq)
            entry = self.pending.get(seq)
            msg = st.msgs.get(seq)
            if entry is None or msg is None:
                self.pending.pop(seq, None)
                continue
            dc = self.rdc.get(seq, 1) + 1
            self.rdc[seq] = dc
            if self.config.max_deliver > 0 and dc > self.config.max_deliver:
                del self.pending[seq]
                self.rdc[seq] = dc - 1
                self._on_max_deliver(seq, dc - 1, now)
                continue
            return msg, dc
        mp = self.config.max_ack_pending
        if mp and mp > 0 and len(self.pending) >= mp and self.config.ack_policy != AckPolicy.NONE:
            self._blocked = True
            return None
        # like the server's LoadNextMsg: sseq moves only to just past a message it delivers
        last = st.last_seq
        seq = max(self.sseq, self._scanned + 1)
        while seq <= last:
            msg = st.msgs.get(seq)
            seq += 1
            if msg is None:
                continue
            if self._lps is not None and msg.seq <= self._lps_end and msg.seq not in self._lps:
                continue
            if self.filters and not self.matches(msg.subject):
                continue
            self.sseq = self._scanned = seq
            self._scanned -= 1
            return msg, 1
        self._scanned = last
        if self.replicated and last > self.sseq:
            # getNextMsg: the store answers the end with its last sequence; a jump past
            # messages this consumer skips is proposed to the replicas (updateSkipped), whose
            # stores then report it as delivered (UpdateStarting); a step onto the last
            # sequence (last == sseq) is proposed by no one and info never shows it
            if self.journal is not None and not self.standby:
                self.journal(self, ("s", last + 1))
            self.sseq = last + 1
        elif st.config.storage == StorageType.MEMORY and last >= self.sseq and not self.replicated:
            # memstore.go loadNextMsgLocked answers "nothing" with the last sequence and
            # getNextMsg moves o.sseq past it; the filestore's answer leaves it (2.15.1).
            # The consumer's store is not told: info reports what it holds (see info())
            if self._stored_sseq is None:
                self._stored_sseq = self.sseq - 1
            self.sseq = last + 1
        if self.sseq > last:    # consumer.go checkNumPendingOnEOF: nothing is pending
            self.npc_extra = 0
        return None

    def _send(self, msg, dc: int, to: str, now: float) -> Outgoing:
        seq, dseq = msg.seq, self.dseq
        self.dseq = dseq + 1
        self.delivered_at = now
        if self._stored_sseq is not None and dc == 1:   # the store records the delivery
            self._stored_sseq = None
        pending = self._num_pending() + self.npc_extra     # num_pending()
        cfg = self.config
        if cfg.ack_policy == AckPolicy.NONE:
            if seq > self.asflr:
                self.adflr, self.asflr = dseq, seq
            self._ack_stream(seq)
        else:
            deadline = now + (cfg.ack_wait or 30.0 if not cfg.backoff else self._ack_wait(dc))
            entry = self.pending.get(seq)     # trackPending keeps the first delivery's dseq
            self.pending[seq] = [entry[0] if entry else dseq, deadline]
            if self._nak_delayed:          # a new delivery: its deadline is an ack wait again
                self._nak_delayed.discard(seq)
            timers = self._timers
            heapq.heappush(timers, (deadline, seq))
            if len(timers) > 2 * len(self.pending) + self.TIMER_SLACK:
                self._compact_timers()
            if deadline < self.wake[0]:
                self.wake[0] = deadline
        self.emit_row("js_deliver", _DELIVER_KEYS, self.stream.name, self.name, msg.subject,
                      seq, dseq, dc, pending, msg.msg_id)
        if self._hb_at is not None and not self.is_pull:
            self._hb_at = now + cfg.idle_heartbeat
        prefix = self._ack_prefix
        if prefix is None:
            prefix = self._ack_prefix = f"$JS.ACK.{self.stream.name}.{self.name}."
        reply = f"{prefix}{dc}.{seq}.{dseq}.{int(msg.time * NS) + self.stream.epoch_ns}.{pending}"
        if cfg.headers_only:   # consumer.go convertToHeadersOnly: size instead of payload
            sent = Outgoing(to, reply, b"", {**(msg.headers or {}),
                                             "Nats-Msg-Size": str(len(msg.data))},
                            msg.subject, msg.msg_id)
        else:               # Outgoing(...) without its Python-level __new__ (the hot path)
            sent = _new_tuple(Outgoing, (to, reply, msg.data, msg.headers, msg.subject,
                                         msg.msg_id, 0))
        if self.journal is not None:     # updateDelivered
            entry = self.pending.get(seq)
            self.journal(self, ("d", dseq, seq, dc, entry[1] if entry else None), sent)
        return sent

    def deliver(self, now: float) -> list[Outgoing]:
        """Send what can be sent now: to waiting pull requests, or to the push subject."""
        out: list[Outgoing] = []
        if self.deleted or self.standby or (self._pause_at is not None
                                            and now < self._pause_at):
            return out
        if self.config.deliver_subject:        # a push consumer
            subject = self.config.deliver_subject
            self._bound = self.bound()
            if not self._bound:
                return out
            self.last_active = now
            flow = self.flow
            while not (flow and flow.stalled()) and (nxt := self._next_msg(now)) is not None:
                out.append(sent := self._send(*nxt, subject, now))
                if flow is not None:   # deliverMsg: jsPubMsg.size, then needFlowControl
                    request = flow.sent(len(subject) + len(sent.reply) + len(
                        encode_headers(sent.headers)) + len(sent.data), subject)
                    if request is not None:
                        out.append(request)
            out.extend(self.advisories)
            self.advisories.clear()
            return out
        while self.waiting:
            req = self.waiting[0]
            nxt = self._next_msg(now)
            if nxt is None:
                break
            msg, dc = nxt
            if req.bytes and msg.size > req.bytes:
                self.waiting.popleft()
                self._unsend(msg, dc)
                out.append(status(req.reply, 409, "Message Size Exceeds MaxBytes"))
                continue
            out.append(self._send(msg, dc, req.reply, now))
            req.n -= 1
            req.d += 1
            if req.bytes:
                req.bytes -= msg.size
            self.waiting.popleft()
            if req.n > 0:
                self.waiting.append(req)
        # end of stream: no_wait requests that wait no longer end with 404; not when only
        # max_ack_pending holds delivery back: they stay until they expire (processWaiting)
        if self.waiting and not self._blocked:
            keep = deque()
            for req in self.waiting:
                if req.no_wait and (req.expires is None or req.d > 0):
                    out.append(status(req.reply, 404, "No Messages"))
                else:
                    keep.append(req)
            self.waiting = keep
        if self.advisories:
            out.extend(self.advisories)
            self.advisories.clear()
        return out

    def _unsend(self, msg, dc: int) -> None:
        if dc > 1:
            heapq.heappush(self.rdq, msg.seq)
            self._rdq_set.add(msg.seq)
            self.rdc[msg.seq] = dc - 1
        else:
            self.sseq = msg.seq
            self._scanned = msg.seq - 1

    def pull(self, reply: str, data: bytes, now: float) -> list[Outgoing]:
        """A pull request (``$JS.API.CONSUMER.MSG.NEXT``): queue it and serve what is there."""
        req = parse_pull(self, reply, data, now)
        if isinstance(req, list):    # refused: the status reply
            return req
        self.waiting.append(req)
        if req.expires is not None:
            self._add_timer(req.expires, 0)
        return self.deliver(now)

    # -------------------------------------------------------------------- acks
    def on_ack(self, ack_subject: str, data: bytes, reply: str, now: float,
               tokens: list[str] | None = None) -> list[Outgoing]:
        """One ack message on ``ack_subject`` (``+ACK``, ``-NAK``, ``+WPI``, ``+TERM``, ``+NXT``);
        ``tokens``: the subject already split on ``.``."""
        if data == b"+ACK" and not reply and tokens is not None and len(tokens) == 9:
            sseq, dseq = int(tokens[5]), int(tokens[6])     # the common case, in short
            self.last_active = now
            msg = self.stream.msgs.get(sseq)    # before the ack may remove it
            if self._nak_delayed:
                self._nak_delayed.discard(sseq)
            self._ack(sseq, dseq, now)
            if self.journal is not None:     # updateAcks
                self.journal(self, ("a", dseq, sseq))
            self.emit_row("js_ack", _ACK_KEYS, self.stream.name, self.name, sseq, dseq,
                          msg.msg_id if msg else 0, "ack")
            if not self.waiting and not self.advisories and not self.config.deliver_subject:
                return []      # what deliver() returns for a pull consumer with no request
            return self.deliver(now)
        _, _, dc, sseq, dseq, _ = parse_ack_subject(ack_subject, tokens)
        text = data.strip()
        out: list[Outgoing] = []
        kind, _, rest = text.partition(b" ")
        self.last_active = now
        msg = self.stream.msgs.get(sseq)    # before an ack may remove it
        ids = {"stream": self.stream.name, "consumer": self.name, "stream_seq": sseq,
               "consumer_seq": dseq, "msg_id": msg.msg_id if msg else 0}
        if kind in (b"", b"+ACK", b"+OK", b"+NXT"):
            if self._nak_delayed:
                self._nak_delayed.discard(sseq)
            self._ack(sseq, dseq, now)
            if self.journal is not None:
                self.journal(self, ("a", dseq, sseq))
            self.emit("js_ack", **ids, action="ack")
        elif kind == b"-NAK":
            delay = 0.0
            if rest:
                try:
                    delay = json.loads(rest).get("delay", 0) / NS
                except (ValueError, AttributeError):
                    delay = 0.0
            entry = self.pending.get(sseq)
            if entry is not None:
                self.emit("js_ack", **ids, action="nak", delay=delay)
                if delay > 0:
                    self._nak_delayed.add(sseq)
                    entry[1] = now + delay
                    self._add_timer(entry[1], sseq)
                    if self.journal is not None:    # processNak: the new timestamp
                        self.journal(self, ("t", sseq, entry[1]))
                elif sseq not in self._rdq_set:
                    heapq.heappush(self.rdq, sseq)
                    self._rdq_set.add(sseq)
        elif kind == b"+WPI":
            entry = self.pending.get(sseq)
            if entry is not None:
                entry[1] = now + self._ack_wait(self.rdc.get(sseq, 1))
                self._nak_delayed.discard(sseq)
                self._add_timer(entry[1], sseq)
                if self.journal is not None:        # progressUpdate
                    self.journal(self, ("t", sseq, entry[1]))
                self.emit("js_ack", **ids, action="in_progress")
        elif kind == b"+TERM":
            if sseq in self.pending:
                self._ack(sseq, dseq, now)
                if self.journal is not None:
                    self.journal(self, ("a", dseq, sseq))
                self.emit("js_ack", **ids, action="term")
                out.append(self._advisory("MSG_TERMINATED", sseq, dc, now))
        # consumer.go processAck: an ack or term above what was delivered is ignored, unanswered
        ignored = sseq >= self.sseq and kind in (b"", b"+ACK", b"+OK", b"+TERM")
        if reply and kind != b"+NXT" and not ignored:
            out.append(Outgoing(reply, "", b"", None))
        if kind == b"+NXT" and reply:
            out.extend(self.pull(reply, rest, now))
        else:
            out.extend(self.deliver(now))
        return out

    def _ack(self, sseq: int, dseq: int, now: float) -> None:
        if self.config.ack_policy == AckPolicy.ALL:
            if dseq <= self.adflr:
                return
            self.acked_at = now
            acked = [s for s in self.pending if s <= sseq]
            for s in acked:
                del self.pending[s]
                self.rdc.pop(s, None)
            self.adflr, self.asflr = dseq, sseq
            for s in acked:
                self._ack_stream(s)
            return
        entry = self.pending.pop(sseq, None)
        if entry is None:
            return
        self.acked_at = now
        self.rdc.pop(sseq, None)
        if not self.pending:
            self.adflr, self.asflr = self.dseq - 1, self.sseq - 1
        elif entry[0] == self.adflr + 1:
            self.adflr, self.asflr = entry[0], sseq
            for ss in range(sseq + 1, self.sseq):
                p = self.pending.get(ss)
                if p is not None:
                    self.adflr, self.asflr = p[0] - 1, ss - 1
                    break
        self._ack_stream(sseq)

    def needs_ack(self, seq: int, subject: str) -> bool:
        """Does this consumer still hold interest in ``seq`` (server's ``needAck``)?"""
        if not self.matches(subject):
            return False
        need = False
        if seq > self.asflr:
            if self.config.ack_policy == AckPolicy.EXPLICIT:
                need = seq >= self.sseq or seq in self.pending
            else:
                need = True
        return need or seq in self.rdc

    def _ack_stream(self, seq: int) -> None:
        """Interest/workqueue retention: remove ``seq`` once no consumer needs it."""
        st = self.stream
        if st.config.retention == RetentionPolicy.LIMITS:
            return
        msg = st.msgs.get(seq)
        if msg is None:
            return
        if any(c.needs_ack(seq, msg.subject) for c in st.consumers.values() if c is not self) \
                or (self.config.ack_policy != AckPolicy.NONE and self.needs_ack(seq, msg.subject)):
            return
        st.remove(seq, reason=st.config.retention.value)

    # ------------------------------------------------------------------ timers
    def _add_timer(self, t: float, seq: int) -> None:
        """Wake at ``t`` for ``seq`` (0: a pull request's expiry)."""
        heapq.heappush(self._timers, (t, seq))
        if t < self.wake[0]:
            self.wake[0] = t

    def _compact_timers(self) -> None:
        """Drop the timers of messages acked (or redelivered) since: they would be skipped
        when due, but an ack wait of 30 s would keep every message of the last 30 s in the
        heap. In place, and only when most entries are stale, so it costs O(1) a message."""
        pending = self.pending
        timers = self._timers
        timers[:] = [e for e in timers
                     if e[1] == 0 or ((p := pending.get(e[1])) is not None and p[1] == e[0])]
        heapq.heapify(timers)

    def next_deadline(self) -> float | None:
        """When :meth:`on_timer` has work: an ack deadline, a request expiry, inactivity,
        an idle heartbeat."""
        if self.standby:
            return None
        timers = self._timers
        while timers:
            t, seq = timers[0]
            if seq == 0 or (seq in self.pending and self.pending[seq][1] == t):
                break
            heapq.heappop(timers)
        best = timers[0][0] if timers else None
        hb = self._hb_at
        if hb is not None and not self.deleted:
            best = hb if best is None else min(best, hb)
        t = self._inactive_at()
        if t is not None and not self.deleted:
            best = t if best is None else min(best, t)
        if self._pause_at is not None and not self.deleted:
            best = self._pause_at if best is None else min(best, self._pause_at)
        return best

    def _inactive_at(self) -> float | None:
        """When ``inactive_threshold`` runs out: the one sum both :meth:`next_deadline` and
        :meth:`inactive` use (``now - last_active >= thr`` can stay False at that very time)."""
        thr = self.config.inactive_threshold
        return self.last_active + thr if thr and thr > 0 else None    # <= 0: never

    def _has_undelivered(self) -> bool:
        return bool(self.rdq) or self.sseq <= self.stream.last_seq

    def on_timer(self, now: float) -> list[Outgoing]:
        """Expire ack waits (-> redelivery), pull requests (-> 408), and idle consumers; send
        a push consumer's idle heartbeat when it is due."""
        out: list[Outgoing] = []
        if self._pause_at is not None and self._pause_at <= now:   # the pause ends
            self._pause_at = None
            out.append(self.pause_advisory(now))
        if self._hb_at is not None and self._hb_at <= now and not self.deleted:
            self._hb_at = now + self.config.idle_heartbeat
            if self.bound():
                out.append(self.heartbeat())
        timers = self._timers
        while timers and timers[0][0] <= now:
            t, seq = heapq.heappop(timers)
            if seq == 0:
                continue
            entry = self.pending.get(seq)
            if entry is not None and entry[1] == t and seq not in self._rdq_set:
                dc = self.rdc.get(seq, 1)
                if seq in self._nak_delayed:     # a nak's delay ran out, not the ack wait
                    self._nak_delayed.discard(seq)
                else:
                    msg = self.stream.msgs.get(seq)
                    self.emit("ack_timeout", stream=self.stream.name, consumer=self.name,
                              stream_seq=seq, msg_id=msg.msg_id if msg else 0,
                              num_delivered=dc)
                if 0 < self.config.max_deliver <= max(dc - 1, 1):
                    # consumer.go checkPending -> hasMaxDeliveries, whose deliveryCount is
                    # the redelivery count (at least 1), so in effect max_deliver 1: the
                    # message leaves ack pending now, not at the next pull; the stored ack
                    # floor stays
                    del self.pending[seq]
                    self.rdc[seq] = dc
                    self._on_max_deliver(seq, dc, now)
                    continue
                heapq.heappush(self.rdq, seq)
                self._rdq_set.add(seq)
        if self.waiting:
            keep = deque()
            for req in self.waiting:
                if req.expires is not None and req.expires <= now:
                    out.append(status(req.reply, 408, "Request Timeout",
                                      **{"Nats-Pending-Messages": str(req.n),
                                         "Nats-Pending-Bytes": str(req.bytes)}))
                else:
                    keep.append(req)
            self.waiting = keep
        if self.is_pull and self.waiting:
            self.last_active = now
        out.extend(self.deliver(now))
        return out

    def heartbeat(self) -> Outgoing:
        """The idle heartbeat to the deliver subject (consumer.go sendIdleHeartbeat): status
        100 with the last consumer and stream sequences sent.

        >>> from pmesh_sim.config import StreamConfig
        >>> c = Consumer(Stream(StreamConfig(name="S", subjects=["s.*"])), "p",
        ...              ConsumerConfig(deliver_subject="dlv", idle_heartbeat=0.5),
        ...              durable=True, now=0.0)
        >>> c.next_deadline()
        0.5
        >>> c.heartbeat().headers
        {'Status': '100', 'Description': 'Idle Heartbeat', 'Nats-Last-Consumer': '0', 'Nats-Last-Stream': '0'}
        """
        stalled = {"Nats-Consumer-Stalled": self.flow.reply} if self.flow and self.flow.reply \
            else {}
        return status(self.config.deliver_subject, 100, "Idle Heartbeat",
                      **{"Nats-Last-Consumer": str(self.dseq - 1),
                         "Nats-Last-Stream": str(self.sseq - 1)}, **stalled)

    def on_flow_control(self, subject: str, now: float) -> list[Outgoing]:
        """A message on this consumer's ``$JS.FC`` subject: an answer to the open flow-control
        request reopens the window and deliveries go on (processFlowControl)."""
        if self.flow is None or not self.flow.answered(subject):
            return []
        return self.deliver(now)

    def inactive(self, now: float) -> bool:
        """True when ``inactive_threshold`` has passed without interest."""
        at = self._inactive_at()
        if at is None or self.standby:
            return False
        if self.is_pull and self.waiting:
            return False
        if not self.is_pull and self.bound():
            self.last_active = now
            return False
        return now >= at

    def _on_max_deliver(self, seq: int, dc: int, now: float) -> None:
        if self.journal is not None:     # hasMaxDeliveries: updateDelivered past max_deliver
            self.journal(self, ("x", seq, self.rdc.get(seq, dc)))
        msg = self.stream.msgs.get(seq)
        self.emit("max_deliver", stream=self.stream.name, consumer=self.name, stream_seq=seq,
                  num_delivered=dc, msg_id=msg.msg_id if msg else 0)
        self.advisories.append(self._advisory("MAX_DELIVERIES", seq, dc, now))

    def _advisory(self, kind: str, seq: int, dc: int, now: float) -> Outgoing:
        subject = f"$JS.EVENT.ADVISORY.CONSUMER.{kind}.{self.stream.name}.{self.name}"
        body = {"type": f"io.nats.jetstream.advisory.v1.{kind.lower()}",
                "timestamp": _rfc3339(now, self.stream.epoch_ns), "stream": self.stream.name, "consumer": self.name,
                "stream_seq": seq, "deliveries": dc}
        self.emit("advisory", subject=subject, stream=self.stream.name, consumer=self.name,
                  stream_seq=seq, deliveries=dc)
        return Outgoing(subject, "", go_marshal(body), None)

    def purge(self, start: int, last: int, wider: bool) -> None:
        """The stream purged up to ``start`` (consumer.go ``purge``): move past it.

        ``start`` is the first sequence left for this consumer (0: none left, so past
        ``last``). Pending messages below it are dropped, the ack floor rising to the highest
        consumer sequence among them; ``wider`` (the consumer takes more than was purged) also
        drops pending messages that are gone. With nothing pending the floors catch up with
        the delivered sequences.
        """
        self.floor_unset = False   # the purge stores the floor
        self._stored_sseq = None   # and the delivered sequences (writeStoreState)
        if start == 0 and not wider:
            start = last + 1
        if self.sseq < start:
            self.sseq = start
            self._scanned = max(self._scanned, start - 1)
        if self.asflr < start:
            self.asflr = start - 1
            msgs = self.stream.msgs
            for seq, entry in list(self.pending.items()):
                if seq <= self.asflr or (wider and seq not in msgs):
                    self.adflr = max(self.adflr, entry[0])
                    del self.pending[seq]
                    self.rdc.pop(seq, None)
        if not self.pending:
            self.rdc.clear()
            self.adflr, self.asflr = self.dseq - 1, self.sseq - 1
        if self.rdq:
            self.rdq = [seq for seq in self.rdq if seq >= self.sseq]
            heapq.heapify(self.rdq)
            self._rdq_set = set(self.rdq)

    def on_removed(self, seq: int, reason: str, now: float, msg_id: int = 0) -> None:
        """The stream removed ``seq`` outside a purge (limits, max_age, a delete): a pending
        message counts as terminated (consumer.go ``decStreamPending`` -> ``processTerm``)."""
        entry = self.pending.get(seq)
        if entry is None:
            self.rdc.pop(seq, None)
            return
        dc = self.rdc.get(seq, 1)
        self._ack(seq, entry[0], now)
        self.emit("js_ack", stream=self.stream.name, consumer=self.name, stream_seq=seq,
                  consumer_seq=entry[0], msg_id=msg_id, action="term", reason=reason)
        self.advisories.append(self._advisory("MSG_TERMINATED", seq, dc, now))

    def delete(self) -> list[Outgoing]:
        """Remove the consumer: waiting pull requests end with 409 Consumer Deleted."""
        self.deleted = True
        out = [status(r.reply, 409, "Consumer Deleted") for r in self.waiting]
        self.waiting.clear()
        return out

    # -------------------------------------------------------------------- info
    def _checked_num_pending(self) -> int:
        """num pending as consumer info reports it (consumer.go checkNumPending): never more
        than the stream holds from sseq on, 0 past its end; the clamp is kept."""
        st = self.stream
        if self.sseq > st.last_seq:
            self.npc_extra = 0
        elif self.npc_extra:
            exact = self._num_pending()
            clamped = min(exact + self.npc_extra, len(st.msgs), st.last_seq - self.sseq + 1)
            self.npc_extra = max(clamped - exact, 0)
        return self.num_pending()

    def info(self, now: float) -> dict[str, Any]:
        """The server's consumer info JSON."""
        sseq, asflr, stored = self.sseq - 1, self.asflr, self._stored_sseq
        if stored is not None and not self.replicated:
            # infoWithSnapAndReply reads delivered from the store once it holds a state
            # (HasState) and the ack floor always; the store's floor never passes its delivered
            if stored or self.dseq > 1:
                sseq = stored
            asflr = min(asflr, stored)
        epoch = self.stream.epoch_ns
        info = {"stream_name": self.stream.name, "name": self.name,
                "created": _rfc3339(self.created, epoch), "config": consumer_config(self.config),
                "delivered": _seq_info(self.dseq - 1, sseq, self.delivered_at, epoch),
                # a replicated consumer's store starts empty (selectStartingSeqNo sets the
                # starting floor only for R1): 0/0 until an ack or a purge first moves it
                "ack_floor": _seq_info(self.adflr, asflr if self.adflr or not self.floor_unset
                                       else 0, self.acked_at, epoch),
                "num_ack_pending": len(self.pending),
                # max_deliver 1 never redelivers: the server reports 0 (infoWithSnapAndReply)
                "num_redelivered": len(self.rdc) if self.config.max_deliver != 1 else 0,
                "num_waiting": len(self.waiting), "num_pending": self._checked_num_pending()}
        if not self.is_pull and self.bound():   # ConsumerInfo push_bound: omitempty
            info["push_bound"] = True
        if self.paused(now):
            info["paused"] = True
            info["pause_remaining"] = round((self._pause_at - now) * NS)
        info["ts"] = _rfc3339(now, self.stream.epoch_ns)
        return info


def _seq_info(consumer_seq: int, stream_seq: int, at: float | None, epoch_ns: int) -> dict:
    """A consumer info's ``delivered`` or ``ack_floor`` (SequenceInfo): ``last_active`` only
    once something was delivered or acked.

    >>> _seq_info(1, 4, None, 0)
    {'consumer_seq': 1, 'stream_seq': 4}
    """
    out = {"consumer_seq": consumer_seq, "stream_seq": stream_seq}
    if at is not None:
        out["last_active"] = _rfc3339(at, epoch_ns)
    return out

"""A stream's store: sequences, limits, retention, dedup and the publish checks. No SimPy.

Decisions and mutations are apart, so a replicated stream can carry the mutations in a log:
:meth:`Stream.check_publish` decides (an error, a duplicate, or go ahead) without changing
anything; :meth:`Stream.store`, :meth:`Stream.remove` and :meth:`Stream.purge` apply.

>>> from pmesh_sim.config import StreamConfig, check_stream_config
>>> s = Stream(check_stream_config(StreamConfig(name="S", subjects=["a.*"], max_msgs=2)))
>>> [s.publish("a.1", b"x", None, now=0.0)[0] for _ in range(3)]
[1, 2, 3]
>>> st = s.state()
>>> (st["messages"], st["first_seq"], st["last_seq"])
(2, 2, 3)
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable
from typing import Any

from ..config import (DiscardPolicy, RetentionPolicy, StorageType, StreamConfig,
                      subject_is_subset)
from ..errors import JetStreamError

__all__ = ["Stream", "StoredMsg", "encode_headers", "msg_size"]

NS = 1_000_000_000



def expected_seq(value: str | None) -> int | None:
    """An expected-sequence header as the server reads it: empty is absent, anything but ASCII
    digits is 2**64 - 1 (so it never matches).

    >>> [expected_seq(v) for v in (None, "", "7", "01", "abc", "-1")]
    [None, None, 7, 1, 18446744073709551615, 18446744073709551615]
    """
    if not value:
        return None
    return int(value) if value.isascii() and value.isdigit() else 2**64 - 1

class StoredMsg:
    """One stored message."""

    __slots__ = ("seq", "subject", "data", "headers", "time", "size")

    def __init__(self, seq: int, subject: str, data: bytes, headers: dict | None, time: float,
                 size: int):
        self.seq, self.subject, self.data, self.headers = seq, subject, data, headers
        self.time, self.size = time, size


def encode_headers(headers: dict[str, str] | None) -> bytes:
    """The NATS header block as the server stores it (empty when there are none).

    >>> encode_headers({"Nats-Msg-Id": "1"})
    b'NATS/1.0\\r\\nNats-Msg-Id: 1\\r\\n\\r\\n'
    """
    if not headers:
        return b""
    return ("NATS/1.0\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n").encode()


def msg_size(storage: StorageType, subject: str, hdr_len: int, data_len: int) -> int:
    """The bytes the server accounts for one message (memstore / filestore record sizes).

    >>> msg_size(StorageType.MEMORY, "a", 0, 10), msg_size(StorageType.FILE, "a", 0, 10)
    (27, 41)
    """
    if storage == StorageType.MEMORY:
        return len(subject) + hdr_len + data_len + 16
    if hdr_len == 0:
        return 22 + len(subject) + data_len + 8
    return 22 + len(subject) + 4 + hdr_len + data_len + 8


def _store_error(text: str) -> JetStreamError:
    return JetStreamError.from_err_code(10077, err=text)


class Stream:
    """The messages of one stream and the rules that keep and remove them.

    ``consumers`` (name -> consumer) is kept by the JetStream host; interest and workqueue
    retention ask them whether a sequence still needs an ack.
    """

    def __init__(self, config: StreamConfig, *, created: float = 0.0,
                 emit: Callable[..., None] | None = None):
        self.config = config
        self.name = config.name
        self.created = created
        self.emit = emit or (lambda kind, **fields: None)
        self.msgs: dict[int, StoredMsg] = {}
        self.first_seq = 1  # lowest possibly present sequence; advanced lazily
        self.purged = False  # a full purge sets the server's first_seq even when empty
        self.last_seq = 0
        self.last_time = 0.0
        self.bytes = 0
        self.subj_count: dict[str, int] = {}
        self._subj_seqs: dict[str, deque[int]] = {}
        self._ids: dict[str, tuple[int, float]] = {}
        self._id_order: deque[tuple[float, str]] = deque()
        self.last_msg_id = ""
        self.consumers: dict[str, Any] = {}
        self.num_deleted_interior = 0
        self._transform = None   # (config.republish, its SubjectTransform), made on first use
        self.wake = [float("inf")]   # the earliest deadline added (JetStream shares its own)
        self.puback_prefix = f'{{"stream":{json.dumps(self.name)},"seq":'.encode()

    # ------------------------------------------------------------------ queries
    def _first(self) -> int:
        while self.first_seq <= self.last_seq and self.first_seq not in self.msgs:
            self.first_seq += 1
        return self.first_seq

    def state(self) -> dict[str, Any]:
        """The server's ``state`` object (times as float seconds)."""
        n = len(self.msgs)
        # a stream that never stored anything reports first_seq 0 (real nats-server 2.15.1),
        # until a full purge sets it to last_seq + 1 (memstore.go / filestore.go purge)
        first = self._first() if n else (self.last_seq + 1 if self.last_seq or self.purged
                                         else 0)
        span = self.last_seq - first + 1 if n else 0
        first_ts = self.msgs[first].time if n else 0.0
        return {"messages": n, "bytes": self.bytes, "first_seq": first, "first_ts": first_ts,
                "last_seq": self.last_seq, "last_ts": self.last_time,
                "num_subjects": len(self.subj_count), "num_deleted": span - n,
                "consumer_count": len(self.consumers)}

    def get(self, seq: int) -> StoredMsg | None:
        """The message at ``seq``, or None."""
        return self.msgs.get(seq)

    def last_for_subject(self, subject: str) -> int:
        """The last stored sequence on ``subject`` (0 if none)."""
        seqs = self._subj_seqs.get(subject)
        while seqs:
            if seqs[-1] in self.msgs:
                return seqs[-1]
            seqs.pop()
        return 0

    def republish_subject(self, subject: str) -> str | None:
        """Where ``republish`` sends a copy of a message stored on ``subject`` (None: nowhere;
        also when the transformed subject is not a valid publish subject, as the server)."""
        rp = self.config.republish
        if rp is None or not rp.dest:
            return None
        if self._transform is None or self._transform[0] is not rp:
            from .transform import SubjectTransform

            self._transform = (rp, SubjectTransform(rp.src or ">", rp.dest))
        target = self._transform[1].match(subject)
        if target is None or not _valid_publish_subject(target):
            return None
        return target

    def covers(self, subject: str) -> bool:
        """True when one of the stream's subjects matches ``subject``."""
        from ..subjects import subject_matches

        return any(subject_matches(p, subject) for p in self.config.subjects)

    # ---------------------------------------------------------------- decisions
    def _expire_ids(self, now: float) -> None:
        window = self.config.duplicate_window
        order = self._id_order
        while order and now - order[0][0] >= window:
            _, msg_id = order.popleft()
            entry = self._ids.get(msg_id)
            if entry is not None and now - entry[1] >= window:
                del self._ids[msg_id]

    def check_publish(self, subject: str, data: bytes, headers: dict | None, now: float):
        """Decide a publish without changing anything.

        Returns ``("ok", None)``, ``("dup", seq)`` or ``("error", JetStreamError)``, checked in
        the server's order: sealed, size, expected stream, expected last subject seq, expected
        last seq, msg id, expected last msg id, rollup.
        """
        cfg = self.config
        if cfg.sealed:
            return "error", JetStreamError.from_err_code(10109)
        if cfg.max_msg_size >= 0:   # before every header check (nats-server 2.15.1)
            hdr_len = len(encode_headers(headers))
            if hdr_len > cfg.max_msg_size or len(data) > cfg.max_msg_size - hdr_len:
                return "error", JetStreamError.from_err_code(10054)
        if headers:
            want = headers.get("Nats-Expected-Stream")
            if want and want != self.name:
                return "error", JetStreamError.from_err_code(10060)
            want = expected_seq(headers.get("Nats-Expected-Last-Subject-Sequence"))
            if want is not None:
                have = self.last_for_subject(subject)
                if want != have:
                    return "error", JetStreamError.from_err_code(10071, seq=have)
            want = expected_seq(headers.get("Nats-Expected-Last-Sequence"))
            if want is not None and want != self.last_seq:
                return "error", JetStreamError.from_err_code(10071, seq=self.last_seq)
            msg_id = headers.get("Nats-Msg-Id")
            if msg_id:
                self._expire_ids(now)
                entry = self._ids.get(msg_id)
                if entry is not None:
                    return "dup", entry[0]
            want = headers.get("Nats-Expected-Last-Msg-Id")
            if want and want != self.last_msg_id:
                return "error", JetStreamError.from_err_code(10070, id=self.last_msg_id)
            rollup = headers.get("Nats-Rollup", "").lower()   # the server lower-cases it
            if rollup:
                if not cfg.allow_rollup_hdrs or cfg.deny_purge:
                    return "error", JetStreamError.from_err_code(10111, err="rollup not permitted")
                if rollup not in ("sub", "all"):
                    return "error", JetStreamError.from_err_code(
                        10111, err=f'rollup value invalid: "{rollup}"')
        return "ok", None

    def has_interest(self, subject: str) -> bool:
        """Interest retention: does any consumer's filter take ``subject``?"""
        return any(c.matches(subject) for c in self.consumers.values())

    # ---------------------------------------------------------------- mutations
    def publish(self, subject: str, data: bytes, headers: dict | None, now: float):
        """Check and store; returns ``(seq, duplicate)`` or raises the server's error."""
        verdict, value = self.check_publish(subject, data, headers, now)
        if verdict == "error":
            self.emit("discard", stream=self.name, subject=subject, reason=value.description)
            raise value
        if verdict == "dup":
            self.emit("dedup", stream=self.name, subject=subject, stream_seq=value,
                      msg_id=headers.get("Nats-Msg-Id"))
            return value, True
        return self.store(subject, data, headers, now), False

    def store(self, subject: str, data: bytes, headers: dict | None, now: float) -> int:
        """Apply one publish: limits, then store (or only use the sequence); returns the seq."""
        cfg = self.config
        hdr_len = len(encode_headers(headers)) if headers else 0
        size = msg_size(cfg.storage, subject, hdr_len, len(data))
        msg_id = headers.get("Nats-Msg-Id") if headers else None
        rollup = headers.get("Nats-Rollup", "").lower() if headers else None
        if cfg.retention == RetentionPolicy.INTEREST and not self.has_interest(subject):
            self.last_seq += 1
            self.last_time = now
            self._remember_id(msg_id, self.last_seq, now)
            self.emit("discard", stream=self.name, subject=subject, stream_seq=self.last_seq,
                      reason="no interest")
            if rollup in ("sub", "all"):      # the server rolls up also when it skips
                self.purge(subject=subject if rollup == "sub" else None, now=now)
            return self.last_seq
        if cfg.discard == DiscardPolicy.NEW:
            self._check_discard_new(subject, size, rollup)
        self.last_seq = seq = self.last_seq + 1
        self.last_time = now
        self.msgs[seq] = StoredMsg(seq, subject, data, headers, now, size)
        if cfg.max_age > 0 and now + cfg.max_age < self.wake[0]:
            self.wake[0] = now + cfg.max_age
        self.bytes += size
        self.subj_count[subject] = self.subj_count.get(subject, 0) + 1
        seqs = self._subj_seqs.get(subject)
        if seqs is None:
            seqs = self._subj_seqs[subject] = deque()
        seqs.append(seq)
        self._remember_id(msg_id, seq, now)
        self.emit("store", stream=self.name, subject=subject, stream_seq=seq)
        self._enforce_limits(subject, now)
        # a rollup is a purge that keeps the new message, made after it is stored
        if rollup == "all":
            self.purge(keep=1, now=now)
        elif rollup == "sub":
            self.purge(subject=subject, keep=1, now=now)
        return seq

    def _check_discard_new(self, subject: str, size: int, rollup: str | None) -> None:
        """Discard new: refuse a publish over a limit, in the store's order (memstore.go
        ``storeRawMsg``). A subject already at ``max_msgs_per_subject`` (``asl``) will replace
        its oldest message, so it passes the max_msgs check, and the max_bytes check when that
        oldest message is at least as large; a rollup passes the per-subject check."""
        cfg = self.config
        at_limit = (cfg.max_msgs_per_subject > 0
                    and self.subj_count.get(subject, 0) >= cfg.max_msgs_per_subject)
        if at_limit and cfg.discard_new_per_subject and not rollup:
            raise self._reject(subject, "maximum messages per subject exceeded")
        if cfg.max_msgs > 0 and len(self.msgs) >= cfg.max_msgs and not at_limit:
            raise self._reject(subject, "maximum messages exceeded")
        if cfg.max_bytes > 0 and self.bytes + size > cfg.max_bytes:
            if not at_limit or self.msgs[self._first_for(subject)].size < size:
                raise self._reject(subject, "maximum bytes exceeded")

    def _first_for(self, subject: str) -> int:
        """The first stored sequence on ``subject`` (the subject must hold one)."""
        seqs = self._subj_seqs[subject]
        while seqs[0] not in self.msgs:
            seqs.popleft()
        return seqs[0]

    def _reject(self, subject: str, text: str) -> JetStreamError:
        self.emit("discard", stream=self.name, subject=subject, reason=text)
        return _store_error(text)

    def _remember_id(self, msg_id: str | None, seq: int, now: float) -> None:
        # every stored (or skipped) message sets the last id, "" without one (stream.go lmsgId)
        self.last_msg_id = msg_id or ""
        if msg_id:
            self._ids[msg_id] = (seq, now)
            self._id_order.append((now, msg_id))

    def _enforce_limits(self, subject: str, now: float | None = None) -> None:
        cfg = self.config
        if cfg.max_msgs_per_subject > 0:
            while self.subj_count.get(subject, 0) > cfg.max_msgs_per_subject:
                self.remove(self._first_for(subject), reason="max_msgs_per_subject", now=now)
        if cfg.discard == DiscardPolicy.OLD:
            while cfg.max_msgs > 0 and len(self.msgs) > cfg.max_msgs:
                self.remove(self._first(), reason="max_msgs", now=now)
            while cfg.max_bytes > 0 and self.bytes > cfg.max_bytes:
                self.remove(self._first(), reason="max_bytes", now=now)

    def _enforce_limits_all(self, now: float | None = None) -> None:
        """Apply the (possibly lowered) limits to every subject, after an update."""
        for subject in list(self.subj_count):
            self._enforce_limits(subject, now)
        if not self.subj_count:
            self._enforce_limits("", now)

    def expire(self, now: float) -> None:
        """Remove messages older than ``max_age``."""
        max_age = self.config.max_age
        if max_age <= 0:
            return
        while self.msgs:
            first = self._first()
            if now < self.msgs[first].time + max_age:  # the same sum next_expiry() returns
                break
            self.remove(first, reason="max_age", now=now)

    def next_expiry(self) -> float | None:
        """When the oldest message reaches ``max_age`` (None if never)."""
        if self.config.max_age <= 0 or not self.msgs:
            return None
        return self.msgs[self._first()].time + self.config.max_age

    def remove(self, seq: int, *, reason: str = "delete", now: float | None = None) -> bool:
        """Remove the message at ``seq``; False when it is not there.

        Consumers holding it unacknowledged treat it as terminated (stream.go
        ``storeUpdates`` -> consumer.go ``decStreamPending``); a purge updates them itself.
        """
        msg = self.msgs.pop(seq, None)
        if msg is None:
            return False
        self.bytes -= msg.size
        n = self.subj_count[msg.subject] - 1
        if n:
            self.subj_count[msg.subject] = n
        else:
            del self.subj_count[msg.subject]
            del self._subj_seqs[msg.subject]
        if reason != "delete":
            self.emit("discard", stream=self.name, subject=msg.subject, stream_seq=seq,
                      reason=reason)
        if reason != "purge" and self.consumers:
            when = self.last_time if now is None else now
            for consumer in list(self.consumers.values()):
                if seq in consumer.pending or seq in consumer.rdc:
                    consumer.on_removed(seq, reason, when)
        return True

    def purge(self, *, subject: str | None = None, seq: int | None = None,
              keep: int | None = None, now: float = 0.0) -> int:
        """Remove messages (all, or on ``subject``; below ``seq``; all but the last ``keep``)
        and move the consumers past them; returns how many went.

        As the server's ``PurgeEx`` then ``purgeLocked``: every consumer of an unfiltered
        purge, or one whose filters all lie inside ``subject``, moves to the first message
        left on ``subject`` (past the end when none is left); a consumer whose filters only
        overlap ``subject`` (or that has none) moves to the stream's first message and drops
        the pending messages that are gone ("wider").

        >>> from pmesh_sim.config import StreamConfig, check_stream_config
        >>> s = Stream(check_stream_config(StreamConfig(name="S", subjects=["a.*"])))
        >>> for subj in ["a.x", "a.y", "a.x", "a.x"]:
        ...     _ = s.store(subj, b"", None, now=0.0)
        >>> s.purge(subject="a.x", keep=1), sorted(s.msgs)
        (2, [2, 4])
        """
        from ..subjects import subject_matches

        removed = self._purge_store(subject, seq or 0, keep or 0)
        for s in removed:
            self.remove(s, reason="purge")
        state_first = self._first() if self.msgs else self.last_seq + 1
        start = state_first
        if subject:
            start = next((m.seq for m in self.msgs.values()
                          if subject_matches(subject, m.subject)), 0)
        for consumer in list(self.consumers.values()):
            if not subject:
                consumer.purge(start, self.last_seq, False)
                continue
            filters = consumer.config.filters
            if filters and all(f == subject or subject_is_subset(f, subject) for f in filters):
                consumer.purge(start, self.last_seq, False)
            elif not filters or any(subject_is_subset(subject, f) for f in filters):
                consumer.purge(state_first, self.last_seq, True)
        return len(removed)

    def _purge_store(self, subject: str | None, seq: int, keep: int) -> list[int]:
        """The sequences a purge removes (memstore.go ``PurgeEx``); moves the first sequence
        of a full purge or a compaction."""
        from ..subjects import subject_matches

        if seq == 1:
            return []
        if not subject or subject == ">":
            if not keep and not seq:
                removed = list(self.msgs)
                self.first_seq = self.last_seq + 1
                self.purged = True
                return removed
            if seq > 1:
                removed = [s for s in self.msgs if s < seq]
                if seq > self.last_seq:
                    self.first_seq = max(self.first_seq, seq)
                    self.last_seq = max(self.last_seq, seq - 1)
                return removed
            subject = ">"
        matching = [m.seq for m in self.msgs.values() if subject_matches(subject, m.subject)]
        if keep:
            if keep >= len(matching):
                return []
            matching = matching[:len(matching) - keep]
        if seq:
            matching = [s for s in matching if s < seq]
        return matching

    def cleanup_no_interest(self, start: int, now: float) -> int:
        """Interest retention, after a consumer went away or narrowed its filters: remove the
        messages from ``start`` on that no consumer needs any more, or everything when no
        consumer is left (consumer.go ``cleanupNoInterestMessages``); returns how many went."""
        if not self.consumers:
            removed = list(self.msgs)
            for seq in removed:
                self.remove(seq, reason="purge")
            self.first_seq = self.last_seq + 1
            return len(removed)
        consumers = list(self.consumers.values())
        gone = [m.seq for m in self.msgs.values() if m.seq >= start
                and not any(c.needs_ack(m.seq, m.subject) for c in consumers)]
        for seq in gone:
            self.remove(seq, reason=RetentionPolicy.INTEREST.value, now=now)
        return len(gone)

    def info(self, now: float) -> dict[str, Any]:
        """The server's stream info JSON (``config``, ``state``, ``created``)."""
        state = self.state()
        wire_state = dict(state)
        for key in ("first_ts", "last_ts"):
            wire_state[key] = _rfc3339(wire_state[key])
        return {"config": self.config.to_wire(), "created": _rfc3339(self.created),
                "state": wire_state, "ts": _rfc3339(now)}


def _valid_publish_subject(subject: str) -> bool:
    from ..subjects import validate_subject
    from ..errors import InvalidSubjectError

    try:
        validate_subject(subject, wildcards=False)
    except InvalidSubjectError:
        return False
    return True


def _rfc3339(t: float) -> str:
    """Virtual seconds as an RFC 3339 time counted from the epoch (deterministic)."""
    secs = int(t)
    nanos = int(round((t - secs) * NS))
    days, rem = divmod(secs, 86400)
    hh, rem = divmod(rem, 3600)
    mm, ss = divmod(rem, 60)
    import datetime

    d = datetime.date(1970, 1, 1) + datetime.timedelta(days=days)
    frac = f".{nanos:09d}".rstrip("0") if nanos else ""
    return f"{d.isoformat()}T{hh:02d}:{mm:02d}:{ss:02d}{frac}Z"

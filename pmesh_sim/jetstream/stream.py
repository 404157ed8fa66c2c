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

import heapq
import json
from collections import deque
from collections.abc import Callable
from typing import Any

from ..config import (DiscardPolicy, RetentionPolicy, StorageType, StreamConfig,
                      subject_is_subset)
from ..errors import JetStreamError
from .answer import stream_config
from .ttl import MARKER_REASON, parse_msg_ttl

__all__ = ["Stream", "StoredMsg", "encode_headers", "msg_size", "parse_rfc3339"]

NS = 1_000_000_000
_STORE_KEYS = ("node", "stream", "subject", "stream_seq", "msg_id")



def row_emitter(emit: Callable[..., None]) -> Callable[..., None]:
    """``emit(kind, **fields)`` as an ``emit_row(kind, keys, *values)``, the form hot records
    take (a host may give its own that makes no dict): ``keys`` are the field names with the
    host's ``"node"`` first, ``values`` the values of the rest, in the same order.

    >>> got = []
    >>> row = row_emitter(lambda kind, **fields: got.append((kind, fields)))
    >>> row("store", ("node", "stream", "stream_seq"), "S", 1); got
    [('store', {'stream': 'S', 'stream_seq': 1})]
    """
    return lambda kind, keys, *values: emit(kind, **dict(zip(keys[1:], values)))


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

    __slots__ = ("seq", "subject", "data", "headers", "time", "size", "msg_id")

    def __init__(self, seq: int, subject: str, data: bytes, headers: dict | None, time: float,
                 size: int, msg_id: int = 0):
        self.seq, self.subject, self.data, self.headers = seq, subject, data, headers
        self.time, self.size, self.msg_id = time, size, msg_id   # msg_id: the trace's


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
                 emit: Callable[..., None] | None = None, epoch_ns: int = 0,
                 emit_row: Callable[..., None] | None = None):
        self.config = config
        self.epoch_ns = epoch_ns   # the date virtual time 0 stands for (ns since 1970)
        self.name = config.name
        self.created = created
        self.emit = emit or (lambda kind, **fields: None)
        self.emit_row = emit_row or row_emitter(self.emit)   # the hot records
        self.msgs: dict[int, StoredMsg] = {}
        self.first_seq = 1  # lowest possibly present sequence; advanced lazily
        self.purged = False  # a full purge sets the server's first_seq even when empty
        self.last_seq = 0
        # first_seq: the store starts purged up to it (memstore/filestore purge(FirstSeq));
        # an update of first_seq changes nothing
        self._first_set = bool(config.first_seq)
        if config.first_seq:
            self.first_seq, self.last_seq = config.first_seq, config.first_seq - 1
        self.last_time: float | None = None   # None: nothing stored yet
        self.bytes = 0
        self.subj_count: dict[str, int] = {}
        self._subj_seqs: dict[str, deque[int]] = {}
        self._ids: dict[str, tuple[int, float]] = {}
        self._id_order: deque[tuple[float, str]] = deque()
        self.last_msg_id = ""
        self.consumers: dict[str, Any] = {}
        self.num_deleted_interior = 0
        self._transform = None   # (config.republish, its SubjectTransform), made on first use
        self._in_transform = None   # (config.subject_transform, its SubjectTransform)
        self._ttls: list[tuple[float, int]] = []   # per-message TTLs: (expires, seq), a heap
        self._never: set[int] = set()              # Nats-TTL: never (outlives max_age)
        self.wake = [float("inf")]   # the earliest deadline added (JetStream shares its own)
        #: ``on_store(now)`` after each stored message (the host wakes streams sourcing this)
        self.on_store: Callable[[float], None] | None = None
        #: this stream's mirror or sources, as :class:`~.sourcing.Source` (the host's)
        self.sourcing: list[Any] = []
        self.puback_prefix = f'{{"stream":{json.dumps(self.name)},"seq":'.encode()

    # ------------------------------------------------------------------ queries
    def _first(self) -> int:
        while self.first_seq <= self.last_seq and self.first_seq not in self.msgs:
            self.first_seq += 1
        return self.first_seq

    def state(self) -> dict[str, Any]:
        """The server's ``state`` object (times as float seconds; None: Go's zero time, for
        ``first_ts`` of an empty stream and ``last_ts`` before anything was stored)."""
        n = len(self.msgs)
        # a stream that never stored anything reports first_seq 0 (real nats-server 2.15.1),
        # until a full purge sets it to last_seq + 1 (memstore.go / filestore.go purge)
        first = self._first() if n else (
            self.last_seq + 1 if self.last_seq or self._first_set or self.purged else 0)
        span = self.last_seq - first + 1 if n else 0
        first_ts = self.msgs[first].time if n else None
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

    def last_matching(self, subject: str) -> int:
        """The last stored sequence on ``subject``, which may hold wildcards (0 if none).

        >>> from pmesh_sim.config import StreamConfig
        >>> s = Stream(StreamConfig(name="S", subjects=["a.*"]))
        >>> for subj in ["a.x", "a.y", "a.x"]:
        ...     _ = s.store(subj, b"", None, now=0.0)
        >>> s.last_matching("a.y"), s.last_matching("a.*"), s.last_matching("b.*")
        (2, 3, 0)
        """
        if "*" not in subject and ">" not in subject:
            return self.last_for_subject(subject)
        from ..subjects import subject_matches

        return max((self.last_for_subject(subj) for subj in self.subj_count
                    if subject_matches(subject, subj)), default=0)

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

    def transform_in(self, subject: str) -> str:
        """The subject a message arriving on ``subject`` is stored on (``subject_transform``,
        applied before anything else; unchanged when it does not match)."""
        tr = self.config.subject_transform
        if tr is None or not tr.dest:
            return subject
        if self._in_transform is None or self._in_transform[0] is not tr:
            from .transform import SubjectTransform

            self._in_transform = (tr, SubjectTransform(tr.src or ">", tr.dest))
        return self._in_transform[1].match(subject) or subject

    def covers(self, subject: str) -> bool:
        """True when one of the stream's subjects matches ``subject``."""
        from ..subjects import subject_matches

        return any(subject_matches(p, subject) for p in self.config.subjects)

    # ---------------------------------------------------------------- decisions
    def _expire_ids(self, now: float) -> None:
        window = self.config.duplicate_window
        order = self._id_order
        while order and now >= order[0][0] + window:     # deadlines as sums, like max_age
            _, msg_id = order.popleft()
            entry = self._ids.get(msg_id)
            if entry is not None and now >= entry[1] + window:
                del self._ids[msg_id]

    def check_publish(self, subject: str, data: bytes, headers: dict | None, now: float,
                      sourced: bool = False):
        """Decide a publish without changing anything.

        Returns ``("ok", None)``, ``("dup", seq)`` or ``("error", JetStreamError)``, checked in
        the server's order: sealed, size, expected stream, TTL, expected last subject seq,
        expected last seq, a stream source header (only a ``sourced`` message, one a source
        brings in, may carry one), msg id, expected last msg id, rollup, TTL value.
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
            if headers.get("Nats-TTL") and not cfg.allow_msg_ttl and _ttl_or_zero(headers):
                return "error", JetStreamError.from_err_code(10166)
            want = expected_seq(headers.get("Nats-Expected-Last-Subject-Sequence"))
            # the subject checked may be another one, or a wildcard (LoadLastMsg)
            other = headers.get("Nats-Expected-Last-Subject-Sequence-Subject")
            if want is not None:
                have = self.last_matching(other) if other else self.last_for_subject(subject)
                if want != have:
                    return "error", JetStreamError.from_err_code(10071, seq=have)
            elif other:
                return "error", JetStreamError.from_err_code(10193)
            want = expected_seq(headers.get("Nats-Expected-Last-Sequence"))
            if want is not None and want != self.last_seq:
                return "error", JetStreamError.from_err_code(10071, seq=self.last_seq)
            if not sourced and "Nats-Stream-Source" in headers:
                return "error", JetStreamError.from_err_code(10227)
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
        if headers and headers.get("Nats-TTL") and not (
                cfg.retention == RetentionPolicy.INTEREST and not self.has_interest(subject)):
            try:   # checked after the size, and not for a message skipped for no interest
                parse_msg_ttl(headers["Nats-TTL"])
            except ValueError:
                return "error", JetStreamError.from_err_code(10165)
        return "ok", None

    def has_interest(self, subject: str) -> bool:
        """Interest retention: does any consumer's filter take ``subject``?"""
        return any(c.matches(subject) for c in self.consumers.values())

    # ---------------------------------------------------------------- mutations
    def publish(self, subject: str, data: bytes, headers: dict | None, now: float,
                msg_id: int = 0, sourced: bool = False):
        """Check and store; returns ``(seq, duplicate)`` or raises the server's error.
        ``msg_id``: the trace's id of the publish (kept with the stored message); ``sourced``:
        a source brings it in."""
        verdict, value = self.check_publish(subject, data, headers, now, sourced)
        if verdict == "error":
            self.emit("discard", stream=self.name, subject=subject, msg_id=msg_id,
                      reason="rejected", err_code=value.err_code, description=value.description)
            raise value
        if verdict == "dup":
            self.emit("dedup", stream=self.name, subject=subject, stream_seq=value,
                      msg_id=msg_id, nats_msg_id=headers.get("Nats-Msg-Id"))
            return value, True
        return self.store(subject, data, headers, now, msg_id), False

    def store_mirrored(self, seq: int, subject: str, data: bytes, headers: dict | None,
                       stamp: float, now: float, origin: int = 0) -> int:
        """Store a mirrored message under its origin's sequence ``seq`` and timestamp
        ``stamp``: the first one moves an empty mirror's first sequence to it (the store's
        ``Compact``), a later one leaves the origin's gaps as deleted sequences
        (``skipMsgs``)."""
        if not self.msgs and not self.last_seq:
            self.first_seq = seq
        self.last_seq = max(self.last_seq, seq - 1)
        return self.store(subject, data, headers, now, origin, stamp=stamp)

    def store(self, subject: str, data: bytes, headers: dict | None, now: float,
              origin: int = 0, stamp: float | None = None) -> int:
        """Apply one publish: limits, then store (or only use the sequence); returns the seq.
        ``origin``: the trace's msg_id of the publish; ``stamp``: the message's timestamp when
        not ``now`` (a mirror keeps its origin's)."""
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
                      msg_id=origin, reason="no_interest")
            if rollup in ("sub", "all"):      # the server rolls up also when it skips
                self.purge(subject=subject if rollup == "sub" else None, now=now)
            return self.last_seq
        if cfg.discard == DiscardPolicy.NEW:
            self._check_discard_new(subject, size, rollup, origin)
        ttl = 0
        if cfg.allow_msg_ttl and headers and headers.get("Nats-TTL"):
            headers, ttl = self._msg_ttl(headers)
        self.last_seq = seq = self.last_seq + 1
        stamp = now if stamp is None else stamp
        self.last_time = stamp
        self.msgs[seq] = StoredMsg(seq, subject, data, headers, stamp, size, origin)
        if cfg.max_age > 0 and stamp + cfg.max_age < self.wake[0]:
            self.wake[0] = stamp + cfg.max_age
        self.bytes += size
        self.subj_count[subject] = self.subj_count.get(subject, 0) + 1
        seqs = self._subj_seqs.get(subject)
        if seqs is None:
            seqs = self._subj_seqs[subject] = deque()
        seqs.append(seq)
        if msg_id:
            self._remember_id(msg_id, seq, now)
        else:                                   # _remember_id without an id
            self.last_msg_id = ""
        if ttl:
            self._add_ttl(seq, ttl, now)
        self.emit_row("store", _STORE_KEYS, self.name, subject, seq, origin)
        if cfg.max_msgs_per_subject > 0 or cfg.max_msgs > 0 or cfg.max_bytes > 0:
            self._enforce_limits(subject, now)
        # a rollup is a purge that keeps the new message, made after it is stored
        if rollup == "all":
            self.purge(keep=1, now=now)
        elif rollup == "sub":
            self.purge(subject=subject, keep=1, now=now)
        if self.on_store is not None:
            self.on_store(now)
        return seq

    def _check_discard_new(self, subject: str, size: int, rollup: str | None,
                           origin: int = 0) -> None:
        """Discard new: refuse a publish over a limit, in the store's order (memstore.go
        ``storeRawMsg``). A subject already at ``max_msgs_per_subject`` (``asl``) will replace
        its oldest message, so it passes the max_msgs check, and the max_bytes check when that
        oldest message is at least as large; a rollup passes the per-subject check."""
        cfg = self.config
        at_limit = (cfg.max_msgs_per_subject > 0
                    and self.subj_count.get(subject, 0) >= cfg.max_msgs_per_subject)
        if at_limit and cfg.discard_new_per_subject and not rollup:
            raise self._reject(subject, "maximum messages per subject exceeded",
                               "discard_new_max_msgs_per_subject", origin)
        if cfg.max_msgs > 0 and len(self.msgs) >= cfg.max_msgs and not at_limit:
            raise self._reject(subject, "maximum messages exceeded", "discard_new_max_msgs",
                               origin)
        if cfg.max_bytes > 0 and self.bytes + size > cfg.max_bytes:
            if not at_limit or self.msgs[self._first_for(subject)].size < size:
                raise self._reject(subject, "maximum bytes exceeded", "discard_new_max_bytes",
                                   origin)

    def _first_for(self, subject: str) -> int:
        """The first stored sequence on ``subject`` (the subject must hold one)."""
        seqs = self._subj_seqs[subject]
        while seqs[0] not in self.msgs:
            seqs.popleft()
        return seqs[0]

    def _reject(self, subject: str, text: str, reason: str, origin: int) -> JetStreamError:
        err = _store_error(text)
        self.emit("discard", stream=self.name, subject=subject, msg_id=origin, reason=reason,
                  err_code=err.err_code, description=text)
        return err

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

    def _msg_ttl(self, headers: dict) -> tuple[dict, int]:
        """The TTL a stored message gets, and its headers: with subject delete markers a TTL
        is at least the markers' (the header then says so), unless max_msgs_per_subject is 1."""
        ttl = parse_msg_ttl(headers["Nats-TTL"])
        marker = int(self.config.subject_delete_marker_ttl or 0)
        if 0 < ttl < marker and self.config.max_msgs_per_subject != 1:
            ttl = marker
            headers = {k: v for k, v in headers.items() if k != "Nats-TTL"}
            headers["Nats-TTL"] = str(ttl)
        return headers, ttl

    def _add_ttl(self, seq: int, ttl: int, now: float) -> None:
        if ttl < 0:
            self._never.add(seq)
            return
        heapq.heappush(self._ttls, (now + ttl, seq))
        if now + ttl < self.wake[0]:
            self.wake[0] = now + ttl

    def expire(self, now: float) -> None:
        """Remove messages older than ``max_age`` (but those with ``Nats-TTL: never``) and
        those whose own TTL is up; with subject delete markers, the last message on a subject
        is replaced by a marker instead (memstore.go expireMsgs)."""
        max_age = self.config.max_age
        if max_age > 0:
            while self.msgs:
                first = self._first_aging()
                if first is None or now < self.msgs[first].time + max_age:
                    break   # the same sum next_expiry() returns
                self._expire_one(first, "max_age", now)
        ttls = self._ttls
        while ttls and ttls[0][0] <= now:
            _, seq = heapq.heappop(ttls)
            if seq in self.msgs:
                self._expire_one(seq, "ttl", now)

    def _first_aging(self) -> int | None:
        """The first stored sequence ``max_age`` applies to."""
        first = self._first()
        if not self._never:
            return first
        return next((s for s in self.msgs if s not in self._never), None)

    def _expire_one(self, seq: int, reason: str, now: float) -> None:
        msg = self.msgs[seq]
        marker_ttl = self.config.subject_delete_marker_ttl
        if (marker_ttl and self.subj_count.get(msg.subject) == 1
                and not (msg.headers and "Nats-Marker-Reason" in msg.headers)):
            from .pull import go_duration

            self.emit("delete_marker", stream=self.name, subject=msg.subject, stream_seq=seq)
            self.store(msg.subject, b"", {"Nats-Marker-Reason": MARKER_REASON,
                                          "Nats-TTL": go_duration(round(marker_ttl * NS)),
                                          "Nats-Rollup": "sub"}, now)
            return
        self.remove(seq, reason=reason, now=now)

    def next_expiry(self) -> float | None:
        """When the next message reaches ``max_age`` or its own TTL (None if never)."""
        best = None
        if self.config.max_age > 0 and self.msgs:
            first = self._first_aging()
            if first is not None:
                best = self.msgs[first].time + self.config.max_age
        ttls = self._ttls
        while ttls and ttls[0][1] not in self.msgs:
            heapq.heappop(ttls)
        if ttls and (best is None or ttls[0][0] < best):
            best = ttls[0][0]
        return best

    def remove(self, seq: int, *, reason: str = "delete", now: float | None = None) -> bool:
        """Remove the message at ``seq``; False when it is not there.

        Consumers holding it unacknowledged treat it as terminated (stream.go
        ``storeUpdates`` -> consumer.go ``decStreamPending``); a purge updates them itself.
        """
        msg = self.msgs.pop(seq, None)
        if msg is None:
            return False
        if self._never:
            self._never.discard(seq)
        self.bytes -= msg.size
        n = self.subj_count[msg.subject] - 1
        if n:
            self.subj_count[msg.subject] = n
            seqs = self._subj_seqs[msg.subject]
            if seqs[0] == seq:      # the oldest on its subject (limits): forget it, and
                seqs.popleft()      # any deleted ones behind it, so history is not kept
                while seqs[0] not in self.msgs:
                    seqs.popleft()
        else:
            del self.subj_count[msg.subject]
            del self._subj_seqs[msg.subject]
        if reason != "delete":
            self.emit("discard", stream=self.name, subject=msg.subject, stream_seq=seq,
                      msg_id=msg.msg_id, reason=reason)
        if reason != "purge" and self.consumers:
            when = (self.last_time or 0.0) if now is None else now
            for consumer in list(self.consumers.values()):
                if seq in consumer.pending or seq in consumer.rdc:
                    consumer.on_removed(seq, reason, when, msg.msg_id)
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
        if len(removed) > 1 or removed and (not subject or subject == ">") and not keep:
            for consumer in self.consumers.values():   # storeUpdates: a batch removal
                consumer.npc_extra = 0                 # makes num pending computed again
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
            self.purged = True     # the server purges the store: first_seq shows even if empty
            return len(removed)
        if not self.msgs and start > self.last_seq:
            # the server's stop - start underflows (uint64) past its bail threshold, so it runs
            # stream.go checkInterestState instead, which compacts the empty store to the
            # consumers' check floor: last_seq + 1 (a store that never held anything shows it)
            self.purged = True
            return 0
        consumers = list(self.consumers.values())
        gone = [m.seq for m in self.msgs.values() if m.seq >= start
                and not any(c.needs_ack(m.seq, m.subject) for c in consumers)]
        for seq in gone:
            self.remove(seq, reason=RetentionPolicy.INTEREST.value, now=now)
        return len(gone)

    def drop_acked(self, now: float) -> None:
        """The stream became interest-retained (stream.go update ->
        checkStateForInterestStream): each consumer replays its acks, so a message some
        consumer acked (up to its floor, or what it delivered, not pending) goes when no
        consumer still needs it; with no consumer at all, every message goes (measured on
        nats-server 2.15.1: first_seq = last_seq + 1; a stream that never stored anything
        stays at first_seq 0)."""
        if not self.consumers:
            if self.msgs:
                self.cleanup_no_interest(0, now)
            return
        consumers = list(self.consumers.values())
        for c in consumers:
            upto = max(c.asflr, c.sseq - 1) if c.pending else c.asflr
            for seq in [s for s in self.msgs if s <= upto]:
                msg = self.msgs[seq]
                if (seq not in c.pending and c.matches(msg.subject)
                        and not any(o.needs_ack(seq, msg.subject) for o in consumers)):
                    self.remove(seq, reason=self.config.retention.value, now=now)

    def info(self, now: float) -> dict[str, Any]:
        """The server's stream info JSON (``config`` as stored, ``state``, ``created``)."""
        wire_state = self.state()
        for key in ("first_ts", "last_ts"):
            t = wire_state[key]
            wire_state[key] = GO_ZERO_TIME if t is None else _rfc3339(t, self.epoch_ns)
        for key in ("num_subjects", "num_deleted"):   # StreamState: omitempty
            if not wire_state[key]:
                del wire_state[key]
        return {"config": stream_config(self.config),
                "created": _rfc3339(self.created, self.epoch_ns),
                "state": wire_state, "ts": _rfc3339(now, self.epoch_ns)}


GO_ZERO_TIME = "0001-01-01T00:00:00Z"


def _ttl_or_zero(headers: dict) -> int:
    """The TTL a ``Nats-TTL`` header asks for; 0 when invalid (checked later, as the server)."""
    try:
        return parse_msg_ttl(headers["Nats-TTL"])
    except ValueError:
        return 0


def _valid_publish_subject(subject: str) -> bool:
    from ..subjects import validate_subject
    from ..errors import InvalidSubjectError

    try:
        validate_subject(subject, wildcards=False)
    except InvalidSubjectError:
        return False
    return True


def _rfc3339(t: float, epoch_ns: int = 0) -> str:
    """Virtual seconds ``t`` as an RFC 3339 time: ``epoch_ns`` (nanoseconds since 1970, the
    date virtual time 0 stands for) plus ``t``, to the nanosecond (deterministic).

    >>> _rfc3339(0.5), _rfc3339(1.25, epoch_ns=parse_rfc3339("2026-01-01T00:00:00Z"))
    ('1970-01-01T00:00:00.5Z', '2026-01-01T00:00:01.25Z')
    """
    secs = int(t)
    total = epoch_ns + secs * NS + int(round((t - secs) * NS))
    secs, nanos = divmod(total, NS)
    days, rem = divmod(secs, 86400)
    hh, rem = divmod(rem, 3600)
    mm, ss = divmod(rem, 60)
    import datetime

    d = datetime.date(1970, 1, 1) + datetime.timedelta(days=days)
    frac = f".{nanos:09d}".rstrip("0") if nanos else ""
    return f"{d.isoformat()}T{hh:02d}:{mm:02d}:{ss:02d}{frac}Z"


_LAYOUT = "2006-01-02T15:04:05Z07:00"


def parse_rfc3339(value: str) -> int:
    """An RFC 3339 date, read as Go's ``time.Time`` reads JSON, as nanoseconds since 1970;
    a ValueError with Go's words for anything else.

    >>> parse_rfc3339("1970-01-01T00:00:01.000000002Z"), parse_rfc3339("1970-01-01T01:00:00+01:00")
    (1000000002, 0)
    >>> parse_rfc3339("2026-01-01")
    Traceback (most recent call last):
    ...
    ValueError: parsing time "2026-01-01" as "2006-01-02T15:04:05Z07:00": cannot parse "" as "T"
    """
    import datetime
    import json

    rest, nums = value, []

    def fail(elem: str) -> ValueError:
        return ValueError(f"parsing time {json.dumps(value)} as \"{_LAYOUT}\": cannot parse "
                          f"{json.dumps(rest)} as \"{elem}\"")

    for elem in ("2006", "-", "01", "-", "02", "T", "15", ":", "04", ":", "05"):
        if elem.isdigit():
            n = len(elem)
            if len(rest) < n or not rest[:n].isdigit():
                raise fail(elem)
            nums.append(int(rest[:n]))
        elif not rest.startswith(elem):
            raise fail(elem)
        rest = rest[len(elem):]
    nanos = 0
    if rest[:1] == "." and rest[1:2].isdigit():
        digits = len(rest) - len(rest[1:].lstrip("0123456789")) - 1
        nanos = int(rest[1:1 + min(digits, 9)].ljust(9, "0"))
        rest = rest[1 + digits:]
    offset = 0
    if rest[:1] in ("Z", "z") and len(rest) >= 1:
        rest = rest[1:]
    elif len(rest) >= 6 and rest[0] in "+-" and rest[1:3].isdigit() and rest[3] == ":" \
            and rest[4:6].isdigit():
        offset = (1 if rest[0] == "+" else -1) * (int(rest[1:3]) * 3600 + int(rest[4:6]) * 60)
        rest = rest[6:]
    else:
        raise fail("Z07:00")
    if rest:
        raise ValueError(f"parsing time {json.dumps(value)}: extra text: {json.dumps(rest)}")
    year, month, day, hh, mm, ss = nums
    for name, v, hi in (("month", month, 12), ("hour", hh, 23), ("minute", mm, 59),
                        ("second", ss, 59)):
        if not (name == "month" and 1 <= v or name != "month") or v > hi:
            raise ValueError(f"parsing time {json.dumps(value)}: {name} out of range")
    try:
        d = datetime.date(year, month, day)
    except ValueError:
        raise ValueError(f"parsing time {json.dumps(value)}: day out of range") from None
    secs = (d - datetime.date(1970, 1, 1)).days * 86400 + hh * 3600 + mm * 60 + ss - offset
    return secs * NS + nanos

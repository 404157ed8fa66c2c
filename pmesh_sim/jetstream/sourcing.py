"""Mirrors and sources: a stream that copies the messages of other streams. No SimPy.

On nats-server each mirror or source is an internal consumer on the origin stream whose
deliveries the target stores asynchronously. Here a :class:`Source` reads its origin's store
directly, on timers the host runs: the first read :data:`SETUP_DELAY` after the target is
created (or the source added), then :data:`DELAY` after each message the origin stores. Both
were measured on nats-server 2.15.1 (single server, loopback): a new mirror held the origin's
messages after 0.14 s (a new source after 0.14 to 0.19 s), and an origin's new message reached
a source 0.7 ms after its pub ack. Scenarios wait (0.2 to 0.5 s) before they read the result.

A **source** stores each origin message as a new message of its own (its own sequence and
time) on the origin's subject or the one its ``subject_transforms`` make, with the header
``Nats-Stream-Source: <origin> <origin seq> <filter> <transform dest> <origin subject>`` (the
server adds the origin's random identity; the simulation leaves it out); ``Nats-Expected-*``
headers are dropped. A **mirror** keeps the origin's sequences and timestamps; the origin's
missing sequences (deleted, filtered out) are gaps. Neither follows the origin's purges or
deletes, and both keep their messages when the origin is deleted. What this model would get
wrong is refused as not simulated (:func:`check_origins`, :func:`refuse_origin`).

>>> from pmesh_sim.config import StreamSource
>>> source_iname(StreamSource(name="O", filter_subject="o.1"))
'O o.1 >'
"""

from __future__ import annotations

from typing import Any

from ..config import RetentionPolicy, StreamConfig, StreamSource, subjects_collide
from ..errors import JetStreamError, NotSimulatedError
from ..subjects import subject_matches
from .transform import SubjectTransform

__all__ = ["SETUP_DELAY", "DELAY", "RETRY_THRESHOLD", "Source", "Sourcing", "source_iname",
           "check_origins", "refuse_origin"]

#: Seconds from a mirror's or source's creation to its first read of the origin.
SETUP_DELAY = 0.15
#: Seconds from a message stored in an origin to its copy in a mirror or source.
DELAY = 0.001
#: Seconds between two set-ups of a source's consumer (the server's
#: ``sourceConsumerRetryThreshold``): a source that could not store a message (a limit with
#: discard new) reads again this long after its last set-up, and then every as long.
RETRY_THRESHOLD = 2.0

NS = 1_000_000_000


def source_iname(src: StreamSource) -> str:
    """The server's index name of a source (``composeIName``): its origin, filters and
    transform destinations; two sources of one stream with the same one are duplicates.

    >>> from pmesh_sim.config import SubjectTransformConfig as T
    >>> source_iname(StreamSource(name="O", subject_transforms=[T(src="a.*", dest="b.$1"),
    ...                                                          T(src="c.>")]))
    'O a.*\\x0cc.> b.$1\\x0c>'
    """
    if not src.subject_transforms:
        return f"{src.name} {src.filter_subject or '>'} >"
    srcs = "\f".join(t.src or ">" for t in src.subject_transforms)
    dests = "\f".join(t.dest or ">" for t in src.subject_transforms)
    return f"{src.name} {srcs} {dests}"


def check_origins(cfg: StreamConfig, streams: dict[str, Any], peers: int = 1) -> None:
    """The checks of a mirror or sources that need the other streams (checkStreamCfg: the
    origin's max message size, then cycles), and what the simulation refuses: an origin that
    does not exist (yet), one with interest or workqueue retention (the server's sourcing
    consumer is interest there) or with consumer_limits, and mirrors and sources in a
    cluster."""
    origins = ([cfg.mirror] if cfg.mirror is not None else []) + list(cfg.sources or [])
    if not origins:
        return
    if peers > 1:
        raise NotSimulatedError("stream config field 'mirror'/'sources' in a cluster")
    size_err = 10030 if cfg.mirror is not None else 10046
    for src in origins:
        origin = streams.get(src.name)
        if origin is not None and cfg.max_msg_size > 0 \
                and 0 < origin.config.max_msg_size > cfg.max_msg_size:
            raise JetStreamError.from_err_code(size_err)
    _check_cycle(cfg, streams)
    _refuse_blocking_mirror(cfg, streams)
    if cfg.sealed:
        raise NotSimulatedError("a sealed stream with a mirror or sources")
    for src in origins:
        origin = streams.get(src.name)
        if origin is None:
            raise NotSimulatedError(f"a mirror or source of stream {src.name!r}, which does "
                                    "not exist (yet): the server retries until it does")
        if origin.config.retention != RetentionPolicy.LIMITS:
            raise NotSimulatedError(f"a mirror or source of {origin.config.retention.value} "
                                    f"stream {src.name!r} (its sourcing consumer is interest)")
        if origin.config.consumer_limits is not None:
            raise NotSimulatedError(ORIGIN_LIMITS.format(src.name))


#: an origin's consumer_limits bind the sourcing consumer too: with max_ack_pending the
#: server refuses it (10082, an ack-none consumer) and shows the error in the source's info
ORIGIN_LIMITS = ("a mirror or source of stream {!r}, which has consumer_limits (they bind "
                 "the sourcing consumer: with max_ack_pending the server refuses it, 10082)")


def _refuse_blocking_mirror(cfg: StreamConfig, streams: dict[str, Any]) -> None:
    """A mirror that could refuse one of its origin's messages (discard new with a limit, or
    a max_msg_size its origin does not have) is not simulated: the server's mirror then
    restarts its consumer in ways that depend on timing."""
    if cfg.mirror is None:
        return
    from ..config import DiscardPolicy

    limited = cfg.max_msgs > 0 or cfg.max_bytes > 0 or cfg.max_msgs_per_subject > 0
    if cfg.discard == DiscardPolicy.NEW and limited:
        raise NotSimulatedError("a mirror with discard new and a limit (it may refuse a "
                                "message of its origin)")
    origin = streams.get(cfg.mirror.name)
    if cfg.max_msg_size > 0 and origin is not None and origin.config.max_msg_size <= 0:
        raise NotSimulatedError("a mirror with a max_msg_size its origin does not have")


def _check_cycle(cfg: StreamConfig, streams: dict[str, Any]) -> None:
    """checkStreamCfg's cycle check: following sources and mirrors from ``cfg`` reaches a
    stream already visited (for a source, one whose subjects its filter meets)."""
    to_visit, visited = [cfg], set()
    while to_visit:
        c = to_visit.pop(0)
        visited.add(c.name)
        for src in c.sources or []:
            if src.name in visited:
                if not src.filter_subject or any(subjects_collide(s, src.filter_subject)
                                                 for s in c.subjects or []):
                    raise JetStreamError.from_err_code(10052, err="detected cycle")
            elif src.name in streams:
                to_visit.append(streams[src.name].config)
        if c.mirror is not None:
            if c.mirror.name in visited:
                raise JetStreamError.from_err_code(10052, err="detected cycle")
            if c.mirror.name in streams:
                to_visit.append(streams[c.mirror.name].config)


def refuse_origin(name: str, streams: dict[str, Any]) -> None:
    """A stream created under the name of an origin some mirror or source lost (deleted):
    the server's sourcing consumer would find it again after a retry; not simulated."""
    for st in streams.values():
        if any(src.name == name for src in st.sourcing):
            raise NotSimulatedError(f"re-creating stream {name!r}, the deleted origin of "
                                    f"{st.name!r}'s mirror or source")


class Source:
    """One mirror or source of a stream: where it reads its origin, and its stream info.

    ``due`` is when it next reads (``inf``: when the origin stores something).
    """

    def __init__(self, cfg: StreamSource, *, mirror: bool, now: float, epoch_ns: int = 0):
        self.cfg, self.mirror, self.name = cfg, mirror, cfg.name
        self.iname = source_iname(cfg)
        self.epoch_ns = epoch_ns
        self.transforms = [(t.src or ">", SubjectTransform(t.src or ">", t.dest)
                            if t.dest else None) for t in cfg.subject_transforms or []]
        self.due = now + SETUP_DELAY
        self.requested = now   # when its consumer was last set up
        self.retrying = False  # blocked by the target: waits for the retry, not the origin
        self.started = False
        self.next_seq = 1   # the origin sequence to read next
        self.seq = 0        # the last origin sequence stored
        self.lag = 0
        self.last: float | None = None   # when it last read its origin
        self.origin_gone = False
        #: a start sequence past the origin's end at set-up: (the origin's last, the start);
        #: the consumer counts the origin's messages in between as pending, never delivered
        self.past_end: tuple[int, int] | None = None

    # ---------------------------------------------------------------- reading
    def subject_for(self, subject: str) -> str | None:
        """The subject an origin message on ``subject`` is stored on, None if filtered out."""
        if not self.transforms:
            f = self.cfg.filter_subject
            return subject if not f or subject_matches(f, subject) else None
        for src, tr in self.transforms:
            if subject_matches(src, subject):
                return tr.match(subject) if tr is not None else subject
        return None

    def _start(self, origin, target) -> None:
        """Where the first read begins: after what the target already holds from this source
        (a source added again, a mirror's own last sequence), else where the server's
        sourcing consumer starts. An empty mirror moves its sequences up to that start
        (setupMirrorConsumer purges its store to the consumer's delivered sequence)."""
        self.started = True
        if self.mirror and target.last_seq:
            self.next_seq = target.last_seq + 1
            return
        if not self.mirror:
            last = self.last_sourced(target)
            if last:
                self.next_seq = last + 1
                return
        self.next_seq = self._consumer_start(origin)
        if self.cfg.opt_start_seq and self.next_seq > origin.last_seq + 1:
            self.past_end = (origin.last_seq, self.next_seq)
        if self.mirror and self.next_seq > 1 and not target.msgs:
            target.first_seq, target.last_seq = self.next_seq, self.next_seq - 1
            target.purged = True

    def _consumer_start(self, origin) -> int:
        """The first sequence of a consumer by start sequence, by start time or deliver all
        (consumer.go ``selectStartingSeqNo``)."""
        state = origin.state()
        first, last = state["first_seq"], state["last_seq"]
        by_seq = bool(self.cfg.opt_start_seq)
        if by_seq:
            seq = self.cfg.opt_start_seq
        elif self.cfg.opt_start_time:
            from .stream import parse_rfc3339

            t = (parse_rfc3339(self.cfg.opt_start_time) - self.epoch_ns) / NS
            seq = next((m.seq for m in origin.msgs.values() if m.time >= t), last + 1)
        else:
            seq = first
        if first == 0 and not by_seq:   # an origin that never held a message
            return 1
        if seq > last and not by_seq:
            return last + 1
        return max(seq, first)

    def last_sourced(self, target) -> int:
        """The last origin sequence the target stored from a source with this index name
        (the server reads its ``Nats-Stream-Source`` headers)."""
        name, _, rest = self.iname.partition(" ")
        for seq in sorted(target.msgs, reverse=True):
            hdr = (target.msgs[seq].headers or {}).get("Nats-Stream-Source", "")
            fields = hdr.split(" ")
            if len(fields) >= 4 and fields[0] == name and " ".join(fields[2:4]) == rest:
                return int(fields[1])
        return 0

    def read(self, origin, target, now: float) -> list[tuple[str, int]]:
        """Store what the origin holds from :attr:`next_seq` on into ``target``; returns the
        ``(subject, seq)`` stored. A message the target refuses (a limit with discard new)
        stops the read there; it is read again at the next retry (:data:`RETRY_THRESHOLD`)."""
        self.due = float("inf")
        if self.retrying:
            self.requested, self.retrying = now, False
        if not self.started:
            self._start(origin, target)
        self.last = now
        stored: list[tuple[str, int]] = []
        seq = max(self.next_seq, origin.first_seq)
        while seq <= origin.last_seq:
            msg = origin.msgs.get(seq)
            subject = self.subject_for(msg.subject) if msg is not None else None
            if subject is not None:
                try:
                    new = self._store(msg, subject, target, now)
                except JetStreamError as err:
                    # the server's lag: what was pending after the message it delivered
                    self.next_seq, self.retrying = seq, True
                    self.due = max(self.requested + RETRY_THRESHOLD, now + DELAY)
                    self.lag = sum(1 for s in range(seq + 1, origin.last_seq + 1)
                                   if s in origin.msgs
                                   and self.subject_for(origin.msgs[s].subject) is not None)
                    target.emit("source_blocked", stream=target.name, origin=origin.name,
                                origin_seq=seq, err_code=err.err_code)
                    return stored
                if new:
                    stored.append((subject, new))
                self.seq = seq
            seq += 1
        self.next_seq = seq
        if stored or self.lag:   # the lag the last delivery's pending count gives
            self.lag = max(self._counted(origin) - 1, 0)
        return stored

    def _counted(self, origin) -> int:
        """The origin's messages a start past its end made the consumer count as pending."""
        if self.past_end is None:
            return 0
        low, start = self.past_end
        return sum(1 for s in range(low + 1, start) if s in origin.msgs
                   and self.subject_for(origin.msgs[s].subject) is not None)

    def _store(self, msg, subject: str, target, now: float) -> int:
        """One origin message into the target; its sequence there (0: a duplicate)."""
        if self.mirror:
            return target.store_mirrored(msg.seq, subject, msg.data, msg.headers, msg.time, now,
                                         msg.msg_id)
        headers = {k: v for k, v in (msg.headers or {}).items()
                   if k != "Nats-Stream-Source" and not k.startswith("Nats-Expected-")
                   and not k.startswith("Nats-Batch-")}
        _, filt, dest = self.iname.split(" ")
        headers["Nats-Stream-Source"] = f"{self.name} {msg.seq} {filt} {dest} {msg.subject}"
        seq, dup = target.publish(subject, msg.data, headers, now, msg.msg_id, sourced=True)
        return 0 if dup else seq

    # ------------------------------------------------------------------- info
    def info(self, now: float) -> dict[str, Any]:
        """The server's ``StreamSourceInfo``: ``active`` is nanoseconds since it last heard
        from its origin (-1: never)."""
        out: dict[str, Any] = {"name": self.name, "lag": self.lag}
        if not self.mirror and self.seq:
            out["seq"] = self.seq
        out["active"] = -1 if self.last is None else round((now - self.last) * NS)
        # a mirror's filter_subject shows once its consumer is set up (its transforms at once)
        if self.cfg.filter_subject and (self.started or not self.mirror):
            out["filter_subject"] = self.cfg.filter_subject
        if self.cfg.subject_transforms:
            out["subject_transforms"] = [{"src": t.src or "", "dest": t.dest or ""}
                                         for t in self.cfg.subject_transforms]
        return out


class Sourcing:
    """The mirrors and sources of every stream of one server: which origin each reads, when
    it reads next, and the stream info that shows them. ``streams`` (name -> stream) and
    ``wake`` (a one-item list: the earliest timer added) are the host's own.
    """

    def __init__(self, streams: dict[str, Any], wake: list[float], epoch_ns: int = 0):
        self.streams, self.wake, self.epoch_ns = streams, wake, epoch_ns
        self._readers: dict[str, list[Source]] = {}   # origin name -> the sources reading it

    def is_origin(self, name: str) -> bool:
        """Whether a mirror or source reads stream ``name``."""
        return name in self._readers

    def configure(self, st, now: float) -> None:
        """Give ``st`` a :class:`Source` per mirror or source of its config, keeping those
        it had (by index name: a changed filter is a new source)."""
        cfg = st.config
        wanted = [(c, True) for c in [cfg.mirror] if c is not None] + [
            (c, False) for c in cfg.sources or []]
        have = {(src.iname, src.mirror): src for src in st.sourcing}
        st.sourcing = []
        for c, mirror in wanted:
            src = have.get((source_iname(c), mirror))
            if src is None:   # a new one: its last sequence from what the stream holds
                src = Source(c, mirror=mirror, now=now, epoch_ns=self.epoch_ns)
                src.seq = 0 if mirror else src.last_sourced(st)
                self._wake(src.due)
            st.sourcing.append(src)
        self._refresh()

    def origin_deleted(self, name: str) -> None:
        """Stream ``name`` is gone: its mirrors and sources stop (and keep their copies)."""
        for src in self._readers.get(name, ()):
            src.origin_gone, src.due = True, float("inf")
        self._refresh()

    def _refresh(self) -> None:
        readers: dict[str, list[Source]] = {}
        for st in self.streams.values():
            for src in st.sourcing:
                if not src.origin_gone:
                    readers.setdefault(src.name, []).append(src)
        self._readers = readers
        for st in self.streams.values():
            st.on_store = (None if st.name not in readers else
                           lambda now, name=st.name: self._origin_stored(name, now))

    def _wake(self, t: float) -> None:
        if t < self.wake[0]:
            self.wake[0] = t

    def _origin_stored(self, name: str, now: float) -> None:
        for src in self._readers.get(name, ()):
            if src.started and not src.retrying and now + DELAY < src.due:
                src.due = now + DELAY
                self._wake(src.due)

    def read_due(self, now: float) -> list[tuple[Any, list[tuple[str, int]]]]:
        """Every mirror and source due at ``now`` reads its origin: ``(stream, stored)``
        for each, ``stored`` its new ``(subject, seq)``."""
        out = []
        if not self._readers:
            return out
        for st in list(self.streams.values()):
            for src in st.sourcing:
                if src.due > now:
                    continue
                origin = self.streams.get(src.name)
                if origin is None:
                    src.due = float("inf")
                    continue
                out.append((st, src.read(origin, st, now)))
                self._wake(src.due)   # a retry
        return out

    def next_due(self) -> float | None:
        """When the next mirror or source reads (None: none waits for a time)."""
        due = min((src.due for srcs in self._readers.values() for src in srcs),
                  default=float("inf"))
        return None if due == float("inf") else due

    @staticmethod
    def info(st, now: float) -> dict[str, Any]:
        """A stream's info: config, created, state, then its ``mirror`` or ``sources``
        (StreamInfo's order), then ts."""
        info = st.info(now)
        if st.config.mirror is not None or st.config.sources:
            ts = info.pop("ts")
            infos = [src.info(now) for src in st.sourcing]
            if st.config.mirror is not None:
                info["mirror"] = infos[0]
            else:
                info["sources"] = infos
            info["ts"] = ts
        return info

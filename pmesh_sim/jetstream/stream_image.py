"""A replicated stream's snapshot: its store as of a RAFT index, and a follower's catch-up.

nats-server's stream snapshot (``jetstream_cluster.go`` ``streamSnapshot``) carries the
store's state (messages, bytes, first and last sequence, deleted sequences); the messages
stay in the replica's own file store, which survives a restart. Here the store lives in
memory, so :func:`capture` copies what the file store holds (the messages are shared, not
copied) and :func:`restore` puts it back when a replica restarts from its snapshot.

A follower too far behind installs its leader's snapshot (``processSnapshot``): it removes
what the snapshot says is gone (``processSnapshotDeletes``), then asks the leader for the
messages after its own last sequence up to the snapshot's (``runCatchup``); a message the
leader no longer has is skipped, left as a deleted sequence. :func:`catch_up` does both.

>>> from pmesh_sim.config import StreamConfig
>>> st = Stream(StreamConfig(name="S", subjects=["s"]))
>>> for i in range(4):
...     _ = st.publish("s", b"x", None, 0.0)
>>> image = capture(st)
>>> _ = st.remove(2); _ = st.publish("s", b"y", None, 1.0)
>>> summary(image)["messages"], sorted(st.msgs)
(4, [1, 3, 4, 5])
>>> restore(st, image); sorted(st.msgs), st.last_seq
([1, 2, 3, 4], 4)
>>> leader = Stream(StreamConfig(name="S", subjects=["s"]))
>>> for i in range(4):
...     _ = leader.publish("s", b"x", None, 0.0)
>>> _ = leader.remove(3)                     # gone on the leader since its snapshot
>>> follower = Stream(StreamConfig(name="S", subjects=["s"]))
>>> _ = follower.publish("s", b"x", None, 0.0)
>>> catch_up(follower, image, leader), sorted(follower.msgs), follower.state()["num_deleted"]
((2, 1), [1, 2, 4], 1)
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

from .stream import Stream

__all__ = ["StreamImage", "capture", "catch_up", "restore", "summary"]

#: the store's fields an image keeps (plain values, copied containers)
_PLAIN = ("first_seq", "purged", "last_seq", "last_time", "bytes", "last_msg_id",
          "num_deleted_interior", "_first_set")


@dataclass(frozen=True, slots=True)
class StreamImage:
    """A stream's store as :func:`capture` copied it (never changed afterwards)."""

    plain: tuple
    msgs: dict
    subj_seqs: dict
    ids: dict
    id_order: tuple
    ttls: tuple
    never: frozenset


def capture(st: Stream) -> StreamImage:
    """A copy of ``st``'s store: messages, sequences, dedup window, TTLs."""
    return StreamImage(tuple(getattr(st, f) for f in _PLAIN), dict(st.msgs),
                       {s: tuple(q) for s, q in st._subj_seqs.items()}, dict(st._ids),
                       tuple(st._id_order), tuple(st._ttls), frozenset(st._never))


def restore(st: Stream, image: StreamImage) -> None:
    """Make ``st``'s store what ``image`` copied (config, consumers and sourcing stay)."""
    for name, value in zip(_PLAIN, image.plain):
        setattr(st, name, value)
    st.msgs = dict(image.msgs)
    st._subj_seqs = {s: deque(q) for s, q in image.subj_seqs.items()}
    st.subj_count = {}
    for msg in st.msgs.values():
        st.subj_count[msg.subject] = st.subj_count.get(msg.subject, 0) + 1
    st._ids, st._id_order = dict(image.ids), deque(image.id_order)
    st._ttls, st._never = list(image.ttls), set(image.never)
    due = st.next_expiry()
    if due is not None and due < st.wake[0]:
        st.wake[0] = due


def summary(image: StreamImage) -> dict[str, Any]:
    """The server's ``streamSnapshot`` of an image: messages, bytes, first/last sequence,
    deleted sequences (those missing in between)."""
    plain = dict(zip(_PLAIN, image.plain))
    first = min(image.msgs) if image.msgs else plain["last_seq"] + 1
    return {"messages": len(image.msgs), "bytes": plain["bytes"], "first_seq": first,
            "last_seq": plain["last_seq"],
            "deleted": plain["last_seq"] - first + 1 - len(image.msgs)}


def catch_up(st: Stream, image: StreamImage, leader: Stream | None) -> tuple[int, int]:
    """Install the leader's snapshot ``image`` on follower store ``st``: what the image says
    is gone goes, the messages after ``st``'s last sequence come from the ``leader``'s store
    as it is now (None: a leader that has nothing); returns (fetched, skipped): messages
    taken from the leader, and sequences it no longer had."""
    mine = st.last_seq
    restore(st, image)
    fetched = skipped = 0
    for seq in [s for s in st.msgs if s > mine]:
        if leader is not None and seq in leader.msgs:
            fetched += 1
            continue
        skipped += 1
        msg = st.msgs.pop(seq)
        st.bytes -= msg.size
        st.subj_count[msg.subject] -= 1
        if not st.subj_count[msg.subject]:
            del st.subj_count[msg.subject]
        st._never.discard(seq)
    for subject in [s for s in st._subj_seqs if s not in st.subj_count]:
        del st._subj_seqs[subject]
    return fetched, skipped

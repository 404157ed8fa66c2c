"""The messages a RAFT group's peers send each other, as plain frozen data.

On nats-server they travel as NATS messages between servers: vote requests on
``$NRG.V.<group>``, append entries on ``$NRG.AE.<group>``, answers to ``$NRG.R.<id>`` and a
catch-up to ``$NRG.CR.<id>`` (``server/raft.go`` raftVoteSubj, raftAppendSubj, raftReply,
raftCatchupReply). A host carries each :class:`Envelope` from ``src`` to ``dst`` over its
network, so a cut link or a paused node stops exactly these.

>>> Envelope("n1", "n2", VoteRequest("G", 2, 1, 5, "n1")).message.last_index
5
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

from .raft_log import Entry, Snapshot

__all__ = ["AppendEntry", "AppendResponse", "Envelope", "VoteRequest", "VoteResponse"]


@dataclass(frozen=True, slots=True)
class VoteRequest:
    """A candidate asks for a vote; ``last_term``/``last_index`` describe its log."""

    group: str
    term: int
    last_term: int
    last_index: int
    candidate: str


@dataclass(frozen=True, slots=True)
class VoteResponse:
    """A vote, ``granted`` or not; ``empty`` when the voter's log is empty (such votes elect
    only when every peer answered, unless the group is new)."""

    group: str
    term: int
    peer: str
    granted: bool
    empty: bool


@dataclass(frozen=True, slots=True)
class AppendEntry:
    """A new entry (``entry``), a heartbeat (neither) or, with ``catchup`` (the follower's
    catch-up number), one step of a catch-up: an old entry or the leader's ``snapshot``.
    ``pterm``/``pindex`` name the entry before; ``lterm`` is the leader's term when it
    differs from ``term``."""

    group: str
    leader: str
    term: int
    commit: int
    pterm: int
    pindex: int
    entry: Entry | None = None
    snapshot: Snapshot | None = None
    catchup: int = 0
    lterm: int = 0


@dataclass(frozen=True, slots=True)
class AppendResponse:
    """``success``: the peer stored up to ``index`` whose term is ``term``. Otherwise a
    ``catchup`` number asks the leader to stream the entries after ``index``; else ``term``
    is the peer's (higher) term."""

    group: str
    term: int
    index: int
    peer: str
    success: bool
    catchup: int = 0


class Envelope(NamedTuple):
    """A message for the host to carry from peer ``src`` to peer ``dst``."""

    src: str
    dst: str
    message: Any

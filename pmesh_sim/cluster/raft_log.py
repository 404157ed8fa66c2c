"""A RAFT peer's log: the entries after its last snapshot. Pure data, no timers.

Indexes start at 1; index 0 with term 0 is the empty log. A snapshot stands for every entry up
to its index (the host's state machine after applying them), so the log keeps only later ones.

>>> log = RaftLog()
>>> log.append(Entry(1, 1, "normal", "a")); log.append(Entry(2, 1, "normal", "b"))
>>> log.last_index, log.last_term, log.term_at(1)
(2, 1, 1)
>>> [e.data for e in log.truncate(1)]   # what a deposed leader's follower drops
['b']
>>> log.compact(Snapshot(1, 1, ("a",))); log.first_index, log.term_at(1), log.entry(1)
(2, 1, None)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Durable", "Entry", "RaftLog", "Snapshot"]

ENTRY_KINDS = ("normal", "peer_state", "leader_transfer")


@dataclass(frozen=True, slots=True)
class Entry:
    """One log entry. ``kind`` is ``"normal"`` (the host's ``data``, handed to its apply
    callback once committed), ``"peer_state"`` (the entry a new leader writes first, as
    nats-server's ``sendPeerState``) or ``"leader_transfer"`` (``data`` names the next leader).
    ``commit`` is the leader's commit index when it sent the entry: a restarted peer learns its
    commit index back from its log, as nats-server replays its WAL."""

    index: int
    term: int
    kind: str
    data: Any
    commit: int = 0


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The host's state after applying every entry up to ``index`` (``term``: that entry's)."""

    index: int
    term: int
    data: Any


EMPTY = Snapshot(0, 0, None)


@dataclass(frozen=True, slots=True)
class Durable:
    """What a peer keeps across a restart: its term and vote, its snapshot and log entries.
    The host may drop a tail of ``entries`` that was never synced (power loss).

    >>> Durable(3, "n2", EMPTY, ()).term
    3
    """

    term: int
    vote: str | None
    snapshot: Snapshot
    entries: tuple[Entry, ...]


class RaftLog:
    """Entries after a snapshot (:data:`EMPTY` when none was taken)."""

    __slots__ = ("snapshot", "entries")

    def __init__(self, snapshot: Snapshot = EMPTY, entries: tuple[Entry, ...] = ()) -> None:
        self.snapshot = snapshot
        self.entries: list[Entry] = list(entries)

    @property
    def first_index(self) -> int:
        """The index of the first entry held (the snapshot covers those before)."""
        return self.snapshot.index + 1

    @property
    def last_index(self) -> int:
        return self.entries[-1].index if self.entries else self.snapshot.index

    @property
    def last_term(self) -> int:
        return self.entries[-1].term if self.entries else self.snapshot.term

    def entry(self, index: int) -> Entry | None:
        """The entry at ``index``, or None when compacted away or not yet there."""
        pos = index - self.snapshot.index - 1
        return self.entries[pos] if 0 <= pos < len(self.entries) else None

    def term_at(self, index: int) -> int | None:
        """The term of the entry at ``index`` (the snapshot's at its own index), else None."""
        if index == self.snapshot.index:
            return self.snapshot.term
        e = self.entry(index)
        return None if e is None else e.term

    def append(self, entry: Entry) -> None:
        if entry.index != self.last_index + 1:
            raise ValueError(f"entry {entry.index} does not follow {self.last_index}")
        self.entries.append(entry)

    def between(self, first: int, last: int) -> list[Entry]:
        """The entries held with ``first <= index <= last``."""
        base = self.snapshot.index + 1
        return self.entries[max(first - base, 0):max(last - base + 1, 0)]

    def truncate(self, index: int) -> list[Entry]:
        """Keep the entries up to ``index``; return those dropped after it."""
        keep = max(index - self.snapshot.index, 0)
        dropped = self.entries[keep:]
        del self.entries[keep:]
        return dropped

    def compact(self, snapshot: Snapshot) -> None:
        """Let ``snapshot`` stand for every entry up to its index (the log keeps later ones)."""
        self.entries = self.between(snapshot.index + 1, self.last_index)
        self.snapshot = snapshot

    def install(self, snapshot: Snapshot) -> None:
        """Replace the whole log by a leader's snapshot (a follower too far behind)."""
        self.snapshot, self.entries = snapshot, []

"""One peer of a RAFT group, as nats-server's ``server/raft.go`` runs it. Pure: no SimPy, no clock.

A host owns one :class:`RaftNode` per peer. It calls :meth:`RaftNode.handle` with each message
that arrives, :meth:`RaftNode.tick` when :meth:`RaftNode.next_deadline` is reached, and
:meth:`RaftNode.propose` on the leader; each returns the :class:`Envelope` s to deliver.
Committed entries reach the host's ``apply`` callback in log order on every peer; every
observable transition goes to ``emit(kind, node=, group=, term=, ...)``.

What nats-server does, and so this does: no pre-vote (a voter with a more up-to-date log that
has not voted instead campaigns within 0.1–0.8 s); the proposals queued when the leader gets to
them (:meth:`RaftNode.queue`, then :meth:`RaftNode.flush`) go out together, as many in one
broadcast AppendEntry (one log index) as its limits allow; heartbeats only after a quiet
``heartbeat_interval``, and one at once when a commit finds no proposal queued; a follower
whose log does not match asks for a catch-up, which the leader streams (after its snapshot if
the follower is behind it); a new leader first writes a ``peer_state`` entry and is ready once
that is applied; an entry counts toward commit only from followers whose last entry is of the
leader's term; votes from empty logs only elect with all peers answering (unless the group is
new); a leader that heard from less than a quorum within ``lost_quorum_interval`` steps down at
its next check.
Not modelled: membership changes, observers, flow control of catch-ups.

>>> import random
>>> n = RaftNode("n1", ["n1", "n2", "n3"], group="G", rng=random.Random(1), now=0.0)
>>> 4.0 <= n.next_deadline() < 9.0          # a random election timeout
True
>>> [(e.dst, type(e.message).__name__) for e in n.tick(n.next_deadline())]
[('n2', 'VoteRequest'), ('n3', 'VoteRequest')]
>>> n.role, n.term
('candidate', 1)
>>> RaftNode("n1", ["n1"], group="R1", rng=random.Random(1), now=0.0).role  # nobody to wait for
'leader'
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

from .raft_log import Durable, Entry, RaftLog, Snapshot
from .raft_messages import AppendEntry, AppendResponse, Envelope, VoteRequest, VoteResponse
from .timings import RaftTimings

__all__ = ["AppendEntry", "AppendResponse", "Envelope", "NotLeaderError", "PeerInfo",
           "RaftNode", "VoteRequest", "VoteResponse"]

FOLLOWER, CANDIDATE, LEADER = "follower", "candidate", "leader"
#: One append's limits (``server/raft.go`` runAsLeader ``maxBatch``, ``maxEntries``): proposals
#: join an append until their sizes (each plus one byte) reach the first or their count the
#: second.
MAX_BATCH_BYTES, MAX_BATCH_ENTRIES = 256 * 1024, 4096


class NotLeaderError(RuntimeError):
    """A proposal or step-down asked of a peer that is not the group's leader."""


class PeerInfo(NamedTuple):
    """One peer as this node sees it (nats-server ``raft.Peers``): ``last_heard`` is a time or
    None, ``lag`` the committed entries the peer has not stored (known on the leader only)."""

    name: str
    current: bool
    last_heard: float | None
    lag: int


def _noop(*_args: Any, **_kw: Any) -> None:
    return None


def _count(entry: Entry) -> int:
    """The proposals an entry carries (a ``normal`` one's ``data`` is their tuple)."""
    return len(entry.data) if entry.kind == "normal" else 1


def _next_tick(due: float, period: float, now: float) -> float:
    """A Go ticker's next tick after ``now``: ticks missed while late are dropped, not queued.

    >>> _next_tick(10.0, 1.0, 10.0), _next_tick(10.0, 1.0, 13.5)
    (11.0, 14.0)
    """
    return due + (int((now - due) // period) + 1) * period


class RaftNode:
    """One peer of RAFT group ``group`` whose members are ``peers`` (``name`` among them).

    ``rng`` draws the election timeouts (pass a seeded ``random.Random``); ``apply(item)``
    receives each committed ``Entry`` of kind ``"normal"`` (its ``data``: the tuple of the
    proposals it carries), or a :class:`Snapshot` installed from the leader, in order;
    ``lead_change(is_leader)`` is called when this peer becomes a ready leader (its first
    entry applied) and when it stops leading. ``durable`` restarts a peer from what it kept
    (:meth:`durable`); ``campaign`` (seconds) makes a new group's preferred peer campaign
    early, as nats-server's ``CampaignImmediately`` (0.05 s).

    State the host reads: ``role`` (``"follower"``, ``"candidate"``, ``"leader"``), ``term``,
    ``leader`` (the known leader's name or None), ``commit`` and ``applied`` (log indexes),
    ``ready`` (a leader whose first entry is applied: nats-server signals leadership only
    then), ``log`` (:class:`~pmesh_sim.cluster.raft_log.RaftLog`).
    """

    def __init__(self, name: str, peers: Iterable[str], *, group: str, rng: random.Random,
                 now: float, emit: Callable[..., None] | None = None,
                 apply: Callable[[Any], None] | None = None,
                 lead_change: Callable[[bool], None] | None = None,
                 timings: RaftTimings | None = None, durable: Durable | None = None,
                 campaign: float | None = None) -> None:
        self.name, self.group, self.rng = name, group, rng
        self.peers = tuple(sorted(set(peers)))
        if name not in self.peers:
            raise ValueError(f"peer {name!r} is not a member of group {group!r}: {self.peers}")
        self.others = tuple(p for p in self.peers if p != name)
        self.quorum = len(self.peers) // 2 + 1
        self.t = timings or RaftTimings()
        self._emit_cb, self._apply_cb = emit or _noop, apply or _noop
        self._lead_cb = lead_change or _noop
        self.role, self.leader, self.term, self.vote = FOLLOWER, None, 0, None
        self.log, self.commit, self.applied = RaftLog(), 0, 0
        self.initializing = durable is None
        self._elect_at = 0.0
        self._hb_at = self._lq_at = None
        self._active = now
        self._heard: dict[str, float] = {}
        self._match: dict[str, int] = {}
        self._acks: dict[int, set[str]] = {}
        self._votes: set[str] = set()
        self._empty_votes: set[str] = set()
        self._catchup: list[float] | None = None   # [cterm, cindex, pindex seen, active since]
        self._catchups = 0                          # numbers this peer's catch-up requests
        self._xfer = False
        self._ready_at = 0                        # index a new leader waits to apply (aflr)
        self._queued: list[tuple[Any, int]] = []  # proposals not yet sent: (data, size)
        self.ready = False
        if durable is not None:
            self._recover(durable)
        self._reset_election(now, campaign)
        if not self.others:                   # a group of one leads at once
            self._on_election_timeout(now)

    # ----------------------------------------------------------------------------- the surface
    @property
    def is_leader(self) -> bool:
        return self.role == LEADER

    def next_deadline(self) -> float:
        """The time of the next timer: election timeout, or the leader's heartbeat and
        lost-quorum checks."""
        if self.role == LEADER:
            return min(self._hb_at, self._lq_at)
        return self._elect_at

    def tick(self, now: float) -> list[Envelope]:
        """Run the timers due at ``now``."""
        out: list[Envelope] = []
        while self.next_deadline() <= now:
            if self.role != LEADER:
                out += self._on_election_timeout(now)
            elif self._hb_at <= self._lq_at:
                self._hb_at = _next_tick(self._hb_at, self.t.heartbeat_interval, now)
                if now - self._active > self.t.heartbeat_interval:
                    out += self._broadcast(now, None)
            else:
                self._lq_at = _next_tick(self._lq_at, self.t.lost_quorum_check, now)
                if self._lost_quorum(now):
                    self._step_down(now, None, "lost_quorum")
        return out

    def handle(self, message: Any, now: float) -> list[Envelope]:
        """One message from another peer; the messages to send in answer."""
        kind = type(message)
        if kind is AppendEntry:
            return self._on_append(message, now)
        if kind is AppendResponse:
            return self._on_append_response(message, now) if self.role == LEADER else []
        if kind is VoteRequest:
            return self._on_vote_request(message, now)
        if kind is VoteResponse:
            return self._on_vote_response(message, now)
        raise TypeError(f"not a RAFT message: {message!r}")

    def queue(self, data: Any, size: int = 0) -> bool:
        """Queue a proposal of ``size`` bytes (leader only) for the next :meth:`flush`; True
        when it is the first one queued (the host then arranges a flush)."""
        if self.role != LEADER:
            raise NotLeaderError(f"{self.name} is not the leader of {self.group}")
        self._queued.append((data, size))
        return len(self._queued) == 1

    def flush(self, now: float) -> list[Envelope]:
        """Send the queued proposals, in order, as few appends as the limits allow
        (``MAX_BATCH_BYTES``, ``MAX_BATCH_ENTRIES``): one new entry each, whose ``data`` is the
        tuple of the proposals it carries.

        >>> n = RaftNode("n1", ["n1"], group="R1", rng=random.Random(1), now=0.0)
        >>> n.queue("a"), n.queue("b", size=MAX_BATCH_BYTES), n.queue("c")
        (True, False, False)
        >>> _ = n.flush(0.0); [(e.index, e.data) for e in n.log.entries[1:]]
        [(2, ('a', 'b')), (3, ('c',))]
        """
        queued, self._queued = self._queued, []
        out: list[Envelope] = []
        batch: list = []
        size = 0
        for data, n in queued:
            batch.append(data)
            size += n + 1
            if size >= MAX_BATCH_BYTES or len(batch) >= MAX_BATCH_ENTRIES:
                out += self._broadcast(now, ("normal", tuple(batch)))
                batch, size = [], 0
        if batch:
            out += self._broadcast(now, ("normal", tuple(batch)))
        return out

    def propose(self, data: Any, now: float) -> list[Envelope]:
        """Queue ``data`` (leader only) and flush: the queued proposals go to every peer."""
        self.queue(data)
        return self.flush(now)

    def step_down(self, now: float, preferred: str | None = None) -> list[Envelope]:
        """Hand leadership over (nats-server ``StepDown``): to ``preferred`` if it was heard
        from lately, else to a random such peer, through a ``leader_transfer`` entry that
        makes it campaign at once; then become a follower."""
        if self.role != LEADER:
            raise NotLeaderError(f"{self.name} is not the leader of {self.group}")
        healthy = [p for p in self.others if self._heard_within(p, now, self.t.healthy_peer_window)]
        target = preferred if preferred in healthy else (
            self.rng.choice(healthy) if healthy else None)
        out = self._broadcast(now, ("leader_transfer", target)) if target else []
        self._step_down(now, None, "requested")
        return out

    def snapshot(self, data: Any) -> Snapshot:
        """Compact the log: ``data`` is the host's state after every applied entry."""
        snap = Snapshot(self.applied, self.log.term_at(self.applied), data)
        self.log.compact(snap)
        self._emit("raft_snapshot", log_index=snap.index, source="local")
        return snap

    def durable(self) -> Durable:
        """What this peer would find again after a restart (the host decides what was synced)."""
        return Durable(self.term, self.vote, self.log.snapshot, tuple(self.log.entries))

    def peer_info(self, now: float) -> list[PeerInfo]:
        """Every other peer's ``current``/``lag`` as nats-server's ``raft.Peers`` reports them."""
        info = []
        for p in self.others:
            heard, lag, current = self._heard.get(p), 0, False
            if self.role == LEADER:
                lag = max(self.commit - self._match.get(p, 0), 0)
                current = lag == 0
            elif p == self.leader and heard is not None:
                current = now - heard <= 2 * self.t.heartbeat_interval
            info.append(PeerInfo(p, current, heard, lag))
        return info

    # ------------------------------------------------------------------------------- elections
    def _reset_election(self, now: float, delay: float | None = None) -> None:
        t = self.t
        if delay is None:
            delay = t.min_election_timeout + self.rng.random() * (
                t.max_election_timeout - t.min_election_timeout)
        self._elect_at = now + delay

    def _campaign_timeout(self) -> float:
        t = self.t
        return t.min_campaign_timeout + self.rng.random() * (
            t.max_campaign_timeout - t.min_campaign_timeout)

    def _on_election_timeout(self, now: float) -> list[Envelope]:
        if self._catchup is not None:          # catching up: no campaign, unless stalled
            if self._catchup_stalled(now):
                self._end_catchup("stalled")
            self._reset_election(now)
            return []
        self.term += 1
        self._set_leader(None)
        self.vote, self.role = self.name, CANDIDATE
        self._reset_election(now)
        self._votes, self._empty_votes = {self.name}, set()
        self._emit("raft_election", last_index=self.log.last_index, last_term=self.log.last_term)
        if len(self._votes) >= self.quorum:
            return self._become_leader(now)
        req = VoteRequest(self.group, self.term, self.log.last_term, self.log.last_index, self.name)
        return [Envelope(self.name, p, req) for p in self.others]

    def _on_vote_request(self, vr: VoteRequest, now: float) -> list[Envelope]:
        empty = self.log.last_index == 0
        granted = False
        if vr.term >= self.term:
            if vr.term > self.term:
                if self.role != FOLLOWER:
                    self._step_down(now, None, "higher_term")
                self._end_catchup(None)
                self.term, self.vote = vr.term, None
                self._set_leader(None)
            vote_ok = self.vote in (None, vr.candidate)
            if vote_ok and empty and self.initializing:
                empty = False
            up_to_date = (vr.last_term, vr.last_index) >= (self.log.last_term, self.log.last_index)
            if vote_ok and up_to_date:
                self.vote, granted = vr.candidate, True
                self._reset_election(now)
            elif self.vote is None and self.role != CANDIDATE:
                self._reset_election(now, self._campaign_timeout())
            self._emit("raft_vote", candidate=vr.candidate, granted=granted)
        resp = VoteResponse(self.group, self.term, self.name, granted, empty)
        return [Envelope(self.name, vr.candidate, resp)]

    def _on_vote_response(self, vr: VoteResponse, now: float) -> list[Envelope]:
        if self.role == LEADER and vr.term > self.term:
            self._step_down(now, None, "higher_term")
        if self.role != CANDIDATE:
            return []
        if vr.granted and vr.term == self.term:
            self._heard[vr.peer] = now
            (self._empty_votes if vr.empty else self._votes).add(vr.peer)
            if (len(self._votes) >= self.quorum
                    or len(self._votes) + len(self._empty_votes) == len(self.peers)):
                return self._become_leader(now)
        elif vr.term > self.term:
            self.term, self.vote = vr.term, None
            self._step_down(now, None, "higher_term")
        return []

    def _become_leader(self, now: float) -> list[Envelope]:
        self.role, self.leader, self._xfer = LEADER, self.name, False
        self._acks, self._match = {}, {}
        self._hb_at = now + self.t.heartbeat_interval
        self._lq_at = now + self.t.lost_quorum_check
        self._emit("raft_leader", last_index=self.log.last_index)
        self._ready_at = self.log.last_index + 1
        return self._broadcast(now, ("peer_state", self.peers))

    def _step_down(self, now: float, leader: str | None, reason: str) -> None:
        was_leader = self.role == LEADER
        self.role, self.leader, self._xfer = FOLLOWER, leader, False
        self._acks, self._queued = {}, []
        self._reset_election(now)
        if was_leader:
            self._emit("raft_stepdown", reason=reason)
            if self.ready:
                self.ready = False
                self._lead_cb(False)

    def _lost_quorum(self, now: float) -> bool:
        window = self.t.lost_quorum_interval
        return 1 + sum(self._heard_within(p, now, window) for p in self.others) < self.quorum

    def _heard_within(self, peer: str, now: float, window: float) -> bool:
        heard = self._heard.get(peer)
        return heard is not None and now - heard < window

    def _set_leader(self, leader: str | None) -> None:
        """A follower forgets when it heard from anyone but its new leader (``updateLeader``)."""
        if self.role != LEADER and self.leader != self.name:
            self._heard = {p: t for p, t in self._heard.items() if p == leader}
        self.leader = leader

    # ------------------------------------------------------------------------ leader: replicate
    def _broadcast(self, now: float, new: tuple[str, Any] | None) -> list[Envelope]:
        """Send a new entry (``(kind, data)``) or, with None, a heartbeat to every peer."""
        pterm, pindex = self.log.last_term, self.log.last_index
        entry = None
        if new is not None:
            entry = Entry(pindex + 1, self.term, new[0], new[1], self.commit)
            self.log.append(entry)
            self._active = now
            self._emit_cb("raft_append", node=self.name, group=self.group, term=self.term,
                          log_index=entry.index, entry_term=entry.term, entry_kind=entry.kind,
                          entries=_count(entry))
        ae = AppendEntry(self.group, self.name, self.term, self.commit, pterm, pindex, entry)
        if entry is not None and self.quorum <= 1:
            self._commit_to(entry.index)
        return [Envelope(self.name, p, ae) for p in self.others]

    def _on_append_response(self, ar: AppendResponse, now: float) -> list[Envelope]:
        self._heard[ar.peer] = now
        if ar.success:
            if ar.index > self._match.get(ar.peer, 0):
                self._match[ar.peer] = ar.index
            if ar.index <= self.commit or ar.term != self.term or ar.peer not in self.others:
                return []
            acks = self._acks.setdefault(ar.index, set())
            acks.add(ar.peer)
            if len(acks) + 1 >= self.quorum:
                self._commit_to(ar.index)
                if self._queued:                     # the next append carries the commit
                    return []
                return self._broadcast(now, None)   # followers learn the commit at once
            return []
        if ar.catchup:
            return self._catchup_follower(ar, now)
        if ar.term > self.term:
            self.term, self.vote = ar.term, None
            self._step_down(now, None, "higher_term")
        return []

    def _catchup_follower(self, ar: AppendResponse, now: float) -> list[Envelope]:
        """Stream to ``ar.peer`` what follows its ``ar.index``: the snapshot first if the log
        no longer holds the next entry."""
        log, peer = self.log, ar.peer
        if ar.index > log.last_index:          # it has more than we do: nats-server steps down
            self._step_down(now, None, "catchup_beyond_log")
            return []
        out, start = [], ar.index + 1
        if start < log.first_index:
            snap = log.snapshot
            out.append(AppendEntry(self.group, self.name, self.term, snap.index, snap.term,
                                   snap.index, snapshot=snap, catchup=ar.catchup,
                                   lterm=self.term))
            start = snap.index + 1
        prev = log.term_at(start - 1)
        for e in log.between(start, log.last_index):
            out.append(AppendEntry(self.group, self.name, e.term, e.commit, prev, e.index - 1,
                                   e, catchup=ar.catchup, lterm=self.term))
            prev = e.term
        self._emit("raft_catchup", phase="send", peer=peer, first_index=ar.index + 1,
                   last_index=log.last_index, snapshot=ar.index + 1 < log.first_index)
        return [Envelope(self.name, peer, m) for m in out]

    # ---------------------------------------------------------------------- follower: receive
    def _on_append(self, ae: AppendEntry, now: float) -> list[Envelope]:
        if not self._xfer:
            self._reset_election(now)
        lterm = ae.lterm or ae.term
        if self.role != FOLLOWER:
            if self.role == LEADER and lterm < self.term:
                return self._reply(ae, self.term, False)
            if lterm >= self.term:
                if lterm > self.term:
                    self.term, self.vote = lterm, None
                self._step_down(now, ae.leader, "other_leader")
        if (ae.catchup and ae.pindex < self.log.last_index
                and (self._catchup is None or ae.catchup != self._catchups)):
            return []                          # left over from an earlier catch-up
        if lterm > self.term:
            self.term, self.vote = lterm, None
        elif lterm < self.term:
            return [] if ae.catchup else self._reply(ae, self.term, False)
        if self._catchup is not None:
            c = self._catchup
            if self.log.last_term >= c[0] and self.log.last_index >= c[1]:
                self._end_catchup("done")
            elif not ae.catchup:               # new entries wait until caught up
                if self._catchup_stalled(now):
                    return self._start_catchup(ae, now)
                return []
        if not ae.catchup:
            if self.leader != ae.leader:
                self._set_leader(ae.leader)
                self._reset_election(now)
            self._heard[ae.leader] = now
        if (ae.pterm, ae.pindex) != (self.log.last_term, self.log.last_index):
            if not self._repair(ae, now):
                return self._mismatch(ae, now)
        self._store(ae, now)
        if not ae.catchup:
            return self._reply(ae, self.log.last_term, True)
        return []

    def _repair(self, ae: AppendEntry, now: float) -> bool:
        """``ae`` follows an entry we hold but not our last one. When that entry's term matches,
        drop what follows it and say True (``ae`` fits now); when it conflicts, drop it and what
        follows. Committed entries are never dropped."""
        if ae.pindex > self.log.last_index or ae.pindex < self.commit:
            return False
        term = self.log.term_at(ae.pindex)
        keep = ae.pindex if term == ae.pterm else ae.pindex - 1
        if term is not None and keep >= self.commit:
            dropped = self.log.truncate(keep)
            if dropped:
                self._emit("raft_truncate", log_index=keep, dropped=len(dropped),
                           dropped_terms=",".join(sorted({str(e.term) for e in dropped})))
            if term == ae.pterm:
                return True
        self._end_catchup("mismatch")
        return False

    def _mismatch(self, ae: AppendEntry, now: float) -> list[Envelope]:
        """``ae`` does not follow our log: install a catch-up snapshot, or ask for a catch-up."""
        if ae.pindex <= self.log.last_index:
            return []                          # nats-server answers nothing here
        if self._catchup is not None:
            if ae.snapshot is None:
                self._end_catchup("mismatch")
                return []
            self._install(ae.snapshot)
            return []
        return self._start_catchup(ae, now)

    def _store(self, ae: AppendEntry, now: float) -> None:
        e = ae.entry
        if e is not None:
            self.log.append(e)
            self.initializing = False
            self._emit_cb("raft_append", node=self.name, group=self.group, term=self.term,
                          log_index=e.index, entry_term=e.term, entry_kind=e.kind,
                          entries=_count(e))
            if e.kind == "leader_transfer" and e.data == self.name and not ae.catchup:
                self._xfer = True
                self._reset_election(now, self.t.leader_transfer_campaign)
        if ae.commit > self.commit:
            self._commit_to(min(ae.commit, self.log.last_index))

    def _reply(self, ae: AppendEntry, term: int, success: bool,
               catchup: int = 0) -> list[Envelope]:
        ar = AppendResponse(self.group, term, self.log.last_index, self.name, success, catchup)
        return [Envelope(self.name, ae.leader, ar)]

    # ------------------------------------------------------------------------------- catch-up
    def _start_catchup(self, ae: AppendEntry, now: float) -> list[Envelope]:
        """Ask the leader for what follows our log, up to ``ae``'s previous entry at least."""
        self._catchups += 1
        self._catchup = [ae.pterm, ae.pindex, self.log.last_index, now]
        self._emit("raft_catchup", phase="start", leader=ae.leader,
                   first_index=self.log.last_index + 1, last_index=ae.pindex)
        return self._reply(ae, self.log.last_term, False, catchup=self._catchups)

    def _catchup_stalled(self, now: float) -> bool:
        c = self._catchup
        if c[2] == self.log.last_index:
            return now - c[3] > self.t.catchup_stall
        c[2], c[3] = self.log.last_index, now
        return False

    def _end_catchup(self, phase: str | None) -> None:
        if self._catchup is not None:
            self._catchup = None
            if phase:
                self._emit("raft_catchup", phase=phase, log_index=self.log.last_index)

    def _install(self, snap: Snapshot) -> None:
        self.log.install(snap)
        self.commit = self.applied = snap.index
        self.initializing = False
        self._emit("raft_snapshot", log_index=snap.index, source="leader")
        self._apply_cb(snap)

    # ------------------------------------------------------------------------- commit, apply
    def _commit_to(self, index: int) -> None:
        if index <= self.commit:
            return
        self.commit = index
        if self._acks:
            self._acks = {i: acks for i, acks in self._acks.items() if i > index}
        emit, name, group = self._emit_cb, self.name, self.group
        emit("raft_commit", node=name, group=group, term=self.term, log_index=index)
        for e in self.log.between(self.applied + 1, index):
            self.applied = e.index
            if e.kind == "normal":     # (the hot path: _emit's fields, without re-packing)
                emit("raft_apply", node=name, group=group, term=self.term, log_index=e.index)
                self._apply_cb(e)
        self._check_ready()

    def _check_ready(self) -> None:
        if self.role == LEADER and not self.ready and self.applied >= self._ready_at:
            self.ready = True
            self._lead_cb(True)

    def _recover(self, d: Durable) -> None:
        """Restart from kept state: replay the snapshot and the entries known committed."""
        self.term, self.vote = d.term, d.vote
        self.log = RaftLog(d.snapshot, d.entries)
        self.commit = self.applied = d.snapshot.index
        if d.snapshot.index:
            self._apply_cb(d.snapshot)
        known = max((e.commit for e in d.entries), default=0)
        self._emit("raft_recover", log_index=self.log.last_index, commit=max(known, self.commit))
        self._commit_to(min(known, self.log.last_index))

    def _emit(self, kind: str, **fields: Any) -> None:
        self._emit_cb(kind, node=self.name, group=self.group, term=self.term, **fields)

"""Consumers of a simulated JetStream cluster, each with its own RAFT group (a mixin of
:class:`~pmesh_sim.sim.js_cluster.ClusterJetStreamHost`).

As nats-server's ``jetstream_cluster.go``: the meta leader proposes a consumer's create and
delete as meta entries; a create places the consumer (``createGroupForConsumer``: its peers
are the stream's, or for fewer replicas a random choice of the stream's online peers; a random
online peer is preferred as its first leader) in a group ``C-R<R><F|M>-<id>``. Every node keeps
a copy of every consumer (as of every stream); only the copy on the consumer's leader is
active: it subscribes to the consumer's pull-request and ack subjects, answers its info and
stepdown, and decides. Each state change it decides (delivered, acked, a new deadline, the
first sequence; :mod:`pmesh_sim.jetstream.consumer_replica`) becomes an entry of the consumer's
group, which every other replica applies in order. A delivery of an R>1 consumer that acks
leaves once its entry is committed (``replicateDeliveries``), an ``ack_sync`` answer once its
ack is. The leader also replicates which pull requests wait (``addPendingRequest``); a new
leader answers each of them ``409 Leadership Change``; the old one forgets them, its
redelivery queue and the deliveries still waiting for quorum. A new leader redelivers
whatever was pending longer than ``ack_wait``.

A deposed leader drops what it decided but never saw committed: as the server truncates a
deposed leader's uncommitted entries and its store follows the group, its copy goes back to
the state it had when it took over, then applies the entries committed since (its own
included), so every replica converges on the committed state.

A pause (``CONSUMER.PAUSE``, any R) is a meta entry, as ``jsConsumerPauseRequest`` proposes
the consumer's assignment with its new ``pause_until``: every node applies it to its copy and
the meta leader answers as of the request's time.

A reset (``CONSUMER.RESET``) of an R>1 consumer is an entry of its group (``resetSeqOp``):
every replica resets its copy, and the leader answers once it is committed.
"""

from __future__ import annotations

import json

from ..cluster.raft_log import Entry, Snapshot
from ..config import AckPolicy, RetentionPolicy, StorageType
from ..errors import JetStreamError
from ..jetstream import consumer_replica
from ..jetstream.answer import go_marshal
from ..jetstream.api import _reply, error_response
from ..jetstream.consumer import API_ERROR, status
from .compaction import Policy

__all__ = ["ConsumerGroups", "consumer_replicas"]

_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
#: consumer API requests its leader answers
LEADER_OPS = frozenset({"CONSUMER.INFO", "CONSUMER.RESET",
                        "CONSUMER.LEADER"})


def consumer_replicas(config: dict, stream_replicas: int, limits: bool) -> int:
    """A consumer's replicas (consumer.go ``ConsumerConfig.replicas``): 0 or more than the
    stream's means the stream's, except an old-school ephemeral on a limits stream: 1.

    >>> consumer_replicas({}, 3, True), consumer_replicas({"durable_name": "d"}, 3, True)
    (1, 3)
    >>> consumer_replicas({"num_replicas": 1, "durable_name": "d"}, 3, False)
    1
    """
    wanted = config.get("num_replicas") or 0
    if not isinstance(wanted, int) or wanted == 0 or wanted > stream_replicas:
        if not config.get("durable_name") and limits and not wanted:
            return 1
        return stream_replicas
    return wanted


def _consumer_name(tokens: list[str], data: bytes) -> str | None:
    """The consumer a create request names (in its subject, else in its config).

    >>> _consumer_name("CONSUMER.DURABLE.CREATE.S.d".split("."), b"")
    'd'
    >>> _consumer_name(["CONSUMER", "CREATE", "S"], b'{"config": {"name": "n"}}')
    'n'
    """
    if tokens[1] == "DURABLE":
        return tokens[4] if len(tokens) > 4 else None
    if len(tokens) > 3:
        return tokens[3]
    try:
        cfg = json.loads(data).get("config") or {}
        return cfg.get("durable_name") or cfg.get("name")
    except (ValueError, AttributeError, TypeError):
        return None


class ConsumerGroups:
    """The consumer half of a cluster node's JetStream host (see the module docstring)."""

    def _reset_consumers(self) -> None:
        self.cassign: dict[tuple, dict] = {}   # (stream, consumer) -> group, peers, preferred
        self.cled: set[tuple] = set()          # consumers this node leads (ready)
        self.cleader_since: dict[tuple, float] = {}
        self._journal: list = []               # (consumer, op, message) decided, not proposed
        self._batch: dict[tuple, tuple] = {}   # key -> (ops, held messages) to propose now
        self._held: dict[int, tuple] = {}      # token -> (key, messages sent once applied)
        self._prm: dict[tuple, set] = {}       # waiting pull requests, as replicated
        self._prm_told: dict[tuple, set] = {}  # leader: the waiting requests it proposed
        self._took_over: dict[tuple, tuple] = {}  # leader: (applied index, state) at take-over
        self._in_flight: dict[tuple, set] = {}   # leader: tokens proposed, not yet applied

    # ------------------------------------------------------------------ placement
    def _place_consumer(self, tokens, body, reply):
        """The meta leader's assignment for a new consumer, an error answer, or None (an
        existing consumer, or a request the apply answers with its error)."""
        stream = tokens[3] if tokens[1] == "DURABLE" else tokens[2]
        st, sa = self.js.streams.get(stream), self.assignments.get(stream)
        if st is None or sa is None or not isinstance(body, dict):
            return None
        cfg = body.get("config", {})   # none: Go's zero config
        if not isinstance(cfg, dict):
            return None
        name = (tokens[4] if len(tokens) > 4 and tokens[1] == "DURABLE" else
                tokens[3] if len(tokens) > 3 else cfg.get("durable_name") or cfg.get("name"))
        if name and name in st.consumers:
            return None
        peers = list(sa["peers"])
        wanted = cfg.get("num_replicas") or 0
        if isinstance(wanted, int) and wanted > len(peers):
            return None
        replicas = consumer_replicas(cfg, len(peers), st.config.retention.value == "limits")
        online = set(self.online(self.env.now))
        active = [p for p in peers if p in online]
        if replicas // 2 + 1 > len(active):
            err = JetStreamError.from_err_code(10023)
            return _reply(reply, error_response(tokens, err), API_ERROR)
        rng = self.server.sim.rng
        if replicas < len(peers):
            rng.shuffle(active)
            peers = active[:replicas]
        live = [p for p in peers if p in online] or peers
        preferred = live[0] if len(live) == 1 else rng.choice(live)
        memory = cfg.get("mem_storage") or st.config.storage == StorageType.MEMORY
        group = f"C-R{len(peers)}{'M' if memory else 'F'}-" + "".join(
            rng.choice(_ALPHABET) for _ in range(8))
        return {"group": group, "peers": peers, "preferred": preferred, "memory": bool(memory)}

    # ------------------------------------------------------------------ meta apply
    def _apply_consumer_meta(self, item, tokens) -> tuple[list, bool]:
        """Apply a consumer create or delete meta entry on this node's copy; returns its
        answer and whether the proposer sends it (an error, a delete). A new consumer's
        leader answers its create once elected, an existing one's an update."""
        stream = tokens[3] if tokens[1] == "DURABLE" else tokens[2]
        st = self.js.streams.get(stream)
        before = dict(st.consumers) if st is not None else {}
        out = self.js.handle(item["subject"], item["reply"], item["data"], None, now=item["t"])
        after = st.consumers if st is not None else {}
        for name in sorted(set(before) - set(after)):
            key = (stream, name)
            led = key in self.cled
            self._stop_consumer(key)
            if led:                               # its pull requests: 409 Consumer Deleted
                self._after([m for m in out if m.subject != item["reply"]])
        new = [n for n in after if n not in before]
        for name in new:
            sa = self.assignments.get(stream, {"peers": [self.server.name]})
            assign = item.get("assign") or {"group": f"C-{stream}-{name}",
                                             "peers": list(sa["peers"]),
                                             "preferred": sa["peers"][0], "memory": False}
            key = (stream, name)
            if self.server.name in assign["peers"] and not self._replaying():
                self._answers[key] = out            # its first leader answers once elected
            self._start_consumer(key, assign)
        if new:
            return out, False
        if tokens[1] == "PAUSE":           # the meta leader answers, as of the request's time
            return out, True
        name = _consumer_name(tokens, item["data"])
        if tokens[1] != "DELETE" and name in before and name in after and not any(
                "error" in json.loads(m.data) for m in out if m.subject == item["reply"]):
            if (stream, name) in self.cled and not self._replaying():
                self._after(out)                    # an update: its leader answers
            return out, False
        return out, True

    def _start_consumer(self, key: tuple, assign: dict) -> None:
        self.cassign[key] = assign
        c = self.js.streams[key[0]].consumers[key[1]]
        consumer_replica.stand_by(c)
        c.journal = self._on_journal
        peers = assign["peers"]
        if self.server.name not in peers:
            return
        group = assign["group"]
        durable = self._kept.pop(group, None)
        t = self.timings
        overhead, op_size = t.consumer_entry_overhead, t.consumer_op_size

        def apply(entry, k=key, g=group):
            if type(entry) is Snapshot:
                self._install_consumer(k, entry)
                return
            self._apply_consumer(k, entry)
            # the append's bytes in the log (monitorConsumer's nb)
            ops = sum(len(item["ops"]) for item in entry.data
                      if isinstance(item, dict) and "ops" in item)
            self.compaction.applied(g, overhead + op_size * ops)

        node = self.raft.add(group, peers, apply=apply,
                             lead_change=lambda ok, k=key: self._consumer_lead_change(k, ok),
                             durable=durable, traced=len(peers) > 1,
                             campaign=0.05 if assign["preferred"] == self.server.name else None)
        self.compaction.watch(group, Policy(t.consumer_compact_interval, t.compact_spread,
                                            t.consumer_compact_entries,
                                            t.consumer_min_snapshot_delta,
                                            t.consumer_compact_size),
                              lambda k=key: self._consumer_image(k))
        if durable is not None and node.log.snapshot.index == 0:
            self.compaction.snapshot(group, force=True)     # recovered: NeedSnapshot
        if node.ready and key not in self.cled:     # a group of one leads as it starts
            self._consumer_lead_change(key, True)

    def _stop_consumer(self, key: tuple) -> None:
        assign = self.cassign.pop(key, None)
        if assign is not None:
            self.raft.remove(assign["group"])
            self.compaction.forget(assign["group"])
        if key in self.cled:
            self.cled.discard(key)
            self._lead_version += 1
        for table in (self._prm, self._prm_told, self._answers, self._took_over,
                      self._in_flight):
            table.pop(key, None)

    def _install_consumer(self, key: tuple, snap) -> None:
        """The consumer's state as of a snapshot; on an interest or workqueue stream, what
        it acked meanwhile goes from this replica's stream (``checkStateForInterestStream``)."""
        c = self._consumer(key)
        if c is None:
            return
        consumer_replica.restore(c, snap.data)
        st = c.stream
        if st.config.retention != RetentionPolicy.LIMITS:
            st.drop_acked(self.env.now)           # (it has this consumer at least)
            if st.last_seq < c.sseq - 1:
                self._recheck_later(c)

    def _consumer_image(self, key: tuple):
        """The consumer's snapshot (its state: delivered, ack floor, pending, redelivered),
        or None while its leader has changes not yet applied (its copy is ahead of the
        group's); a leader's snapshot is also its new take-over point."""
        c = self._consumer(key)
        if c is None:
            return None
        if key in self.cled:
            if self._in_flight.get(key) or key in self._batch or any(
                    (j[0].stream.name, j[0].name) == key for j in self._journal):
                return None
            state = consumer_replica.capture(c)
            self._took_over[key] = (self.raft.nodes[self.cassign[key]["group"]].applied, state)
            return state
        return consumer_replica.capture(c)

    def _consumer(self, key: tuple):
        st = self.js.streams.get(key[0])
        return st.consumers.get(key[1]) if st is not None else None

    # ------------------------------------------------------------------ leadership
    def _consumer_lead_change(self, key: tuple, leading: bool) -> None:
        c = self._consumer(key)
        if c is None or self.cassign[key]["group"] not in self.raft.nodes:
            return                              # still starting: _start_consumer goes on
        now = self.env.now
        self._lead_version += 1
        if not leading:
            self.cled.discard(key)
            self._drop_uncommitted(key, c)
            consumer_replica.stand_by(c)
            self._held = {t: h for t, h in self._held.items() if h[0] != key}
            self._prm_told.pop(key, None)
            self._sync()
            return
        self.cled.add(key)
        self.cleader_since[key] = now
        node = self.raft.nodes[self.cassign[key]["group"]]
        self._took_over[key] = (node.applied, consumer_replica.capture(c))
        self._in_flight[key] = set()
        fresh = c.dseq == 1 and not c.pending and c.adflr == 0
        consumer_replica.take_over(c, now)
        if fresh:                       # setLeader: selectStartingSeqNo, then updateSkipped
            start = c._start_seq()
            if start > c.sseq:
                c.sseq, c._scanned, c.asflr = start, start - 1, start - 1
            self._on_journal(c, ("s", c.sseq))
        out = [status(reply, 409, "Leadership Change")
               for reply in sorted(self._prm.pop(key, ()))]
        self._prm_told[key] = set()
        self._sync()
        answer = self._answers.pop(key, None)
        if answer:
            out = [self._with_consumer_cluster(m, key) for m in answer] + out
        self._after(out + c.deliver(now))

    def _drop_uncommitted(self, key: tuple, c) -> None:
        """A deposed leader with changes not yet applied (proposed or still to propose) puts
        its copy back to its take-over state and applies the committed entries since."""
        took, in_flight = self._took_over.pop(key, None), self._in_flight.pop(key, set())
        if took is None or not (in_flight or key in self._batch):
            return
        node = self.raft.nodes[self.cassign[key]["group"]]
        dropped = list(self._batch.pop(key, ([], []))[0])
        for entry in node.log.between(node.applied + 1, node.log.last_index):
            for item in entry.data if entry.kind == "normal" else ():
                if item.get("token") in in_flight:
                    dropped.extend(item["ops"])
        for token in in_flight:                  # if they commit after all, they apply here
            self.pending.pop(token, None)
        index, state = took
        consumer_replica.restore(c, state)
        for entry in node.log.between(index + 1, node.applied):
            for item in entry.data if entry.kind == "normal" else ():
                for op in item["ops"]:
                    if op[0] not in ("r+", "r-"):
                        consumer_replica.apply(c, op, item["t"])
        self.js.emit("consumer_uncommitted_dropped", stream=key[0], consumer=key[1],
                     entries=len(in_flight), log_index=node.applied)
        if c.stream.config.retention != RetentionPolicy.LIMITS and any(
                op[0] == "a" for op in dropped):
            # its acks already removed messages from this node's stream copy
            self.js.emit("not_simulated", stream=key[0], feature="messages of an interest or "
                         "workqueue stream released by a deposed consumer leader's uncommitted "
                         "acks stay removed from its own stream copy")

    def _with_consumer_cluster(self, msg, key):
        if msg.msg_subject is not None:     # a push consumer's first deliveries go along
            return msg
        body = json.loads(msg.data)
        if "cluster" not in body:
            return msg
        body["cluster"] = self._consumer_cluster_info(*key, self.env.now)
        return msg._replace(data=go_marshal(body))

    # ------------------------------------------------------------------ deciding
    def _on_journal(self, c, op: tuple, msg=None) -> None:
        self._journal.append((c, op, msg))

    def _flush_journal(self, out: list) -> list:
        """Propose what the consumers this node leads decided; hold back their deliveries
        (and ``ack_sync`` answers, see :meth:`_hold_ack_reply`) until the entry commits."""
        for key in sorted(self.cled):       # waiting pull requests, as the group knows them
            c = self._consumer(key)
            if c is None or len(self.cassign[key]["peers"]) == 1:
                continue
            told = self._prm_told.setdefault(key, set())
            now = {r.reply for r in c.waiting}
            if now != told:
                self._journal.extend((c, ("r+", r), None) for r in sorted(now - told))
                self._journal.extend((c, ("r-", r), None) for r in sorted(told - now))
                self._prm_told[key] = now
        if not self._journal:
            return out
        records, self._journal = self._journal, []
        ops: dict[tuple, list] = {}
        held: dict[tuple, list] = {}
        for c, op, msg in records:
            key = (c.stream.name, c.name)
            if key not in self.cled:
                continue
            ops.setdefault(key, []).append(op)
            if msg is not None and len(self.cassign[key]["peers"]) > 1 \
                    and c.config.ack_policy != AckPolicy.NONE:
                held.setdefault(key, []).append(msg)
        if held:
            ids = {id(m) for msgs in held.values() for m in msgs}
            # a status ending the pull request they answer (a no_wait's 404, an expiry's 408)
            # follows the deliveries: it waits for their commit with them, so that nats-py
            # reads the messages first, as from the real cluster
            for msgs in held.values():
                inboxes = {m.subject for m in msgs}
                ends = [m for m in out if m.subject in inboxes and id(m) not in ids
                        and m.headers and "Status" in m.headers]
                msgs.extend(ends)
                ids.update(map(id, ends))
            out = [m for m in out if id(m) not in ids]
        if self._ack_replies:
            for key, msg in self._ack_replies:
                if key in ops:
                    held.setdefault(key, []).append(msg)
                else:
                    out.append(msg)
            self._ack_replies = []
        # what was decided at one instant goes in one entry per consumer (as the server's
        # loopAndForwardProposals batches what queued up)
        if not self._batch:
            self.server.call_at(self.env.now, self._propose_batch)
        for key, batch in ops.items():
            into = self._batch.setdefault(key, ([], []))
            into[0].extend(batch)
            into[1].extend(held.get(key, ()))
        return out

    def _propose_batch(self) -> None:
        batches, self._batch = self._batch, {}
        for key, (batch, held) in batches.items():
            if key not in self.cled:         # no longer leads: the server drops them too
                continue
            token = next(self._tokens)
            self.pending[token] = True
            self._in_flight.setdefault(key, set()).add(token)
            if held:
                self._held[token] = (key, held)
            self.raft.propose(self.cassign[key]["group"], {
                "ops": batch, "token": token, "proposer": self.server.name, "t": self.env.now})

    def _drop_inactive(self, out: list) -> list:
        """A consumer this node led was deleted here for inactivity: its leader asks the meta
        leader to delete it everywhere (``deleteNotActive``)."""
        for key in sorted(k for k in self.cled if self._consumer(k) is None):
            self._stop_consumer(key)
            self._sync()
            self.server.send(f"$JS.API.CONSUMER.DELETE.{key[0]}.{key[1]}", b"", "", None)
        return out

    def _hold_ack_reply(self, key: tuple, reply: str, out: list) -> list:
        """An R>1 consumer answers an ``ack_sync`` once the ack is applied
        (``processReplicatedAck``): take the answer out of ``out`` until then."""
        if not reply or len(self.cassign.get(key, {"peers": ()})["peers"]) < 2:
            return out
        return self._hold_reply(key, reply, out, lambda m: not m.data and m.headers is None)

    def _hold_reply(self, key: tuple, reply: str, out: list, which=lambda m: True) -> list:
        """Take the answer to ``reply`` out of ``out``: it leaves with the entry of what the
        consumer decided now (at once if it decided nothing)."""
        for i, m in enumerate(out):
            if reply and m.subject == reply and which(m):
                self._ack_replies.append((key, m))
                return out[:i] + out[i + 1:]
        return out

    # ------------------------------------------------------------------ applying
    def _apply_consumer(self, key: tuple, entry) -> None:
        for item in entry.data if isinstance(entry, Entry) else ():
            self._apply_consumer_item(key, item)

    def _apply_consumer_item(self, key: tuple, item: dict) -> None:
        if item["proposer"] == self.server.name and self.pending.pop(item["token"], False):
            self._in_flight.get(key, set()).discard(item["token"])
            held = self._held.pop(item["token"], None)   # decided here: already applied
            if held:
                self._after(held[1])
            return
        self._answers.pop(key, None)            # another peer led first: it answered
        c = self._consumer(key)
        if c is None:
            return
        leading = key in self.cled
        for op in item["ops"]:
            kind = op[0]
            if kind == "r+":
                if not leading:
                    self._prm.setdefault(key, set()).add(op[1])
            elif kind == "r-":
                self._prm.get(key, set()).discard(op[1])
            else:
                consumer_replica.apply(c, op, item["t"])
        self._usage_check()                     # acks may have removed messages here
        if c.stream.last_seq < c.sseq - 1:
            self._recheck_later(c)

    def _recheck_later(self, c) -> None:
        """This replica's consumer is ahead of its stream copy: on an interest or workqueue
        stream, what it acked goes once the stream caught up (:meth:`_recheck_interest`)."""
        st = c.stream
        if st.config.retention != RetentionPolicy.LIMITS:
            self._recheck[st.name] = max(self._recheck.get(st.name, 0), c.sseq - 1)

    # ------------------------------------------------------------------ the API
    def _consumer_api(self, tokens, kind, reply, subject, data, headers, now):
        """A request its consumer's leader answers (info, stepdown, pause, reset); None when
        this node does not lead that consumer (the meta leader answers a missing one)."""
        at = 3 if kind == "CONSUMER.LEADER" else 2
        key = tuple(tokens[at:at + 2])
        if key not in self.cled:
            return None
        if kind == "CONSUMER.LEADER":
            if tokens[2:3] != ["STEPDOWN"]:
                return None
            return self._group_stepdown(
                self.cassign[key], ["CONSUMER", "LEADER", "STEPDOWN", *key], reply, data,
                "io.nats.jetstream.api.v1.consumer_leader_stepdown_response")
        out = self.js.handle(subject, reply, data, headers, now)
        if kind == "CONSUMER.RESET" and any(op[0] == "R" and (c.stream.name, c.name) == key
                                            for c, op, _ in self._journal):
            # resetSeqOp: the leader answers once the reset is committed
            return self._hold_reply(key, reply, out)
        return out

    def _consumer_cluster_info(self, stream: str, name: str, now: float) -> dict:
        """Consumer info's ``cluster`` as the consumer's leader reports it."""
        key = (stream, name)
        return self._group_info(self.cassign.get(key), self.cleader_since.get(key), now)

    def _consumer_kept(self, kept: dict) -> None:
        """A kill: a memory consumer's group keeps nothing."""
        from ..cluster.raft_log import EMPTY, Durable

        for a in self.cassign.values():
            if a.get("memory") and a["group"] in kept:
                kept[a["group"]] = Durable(0, None, EMPTY, ())

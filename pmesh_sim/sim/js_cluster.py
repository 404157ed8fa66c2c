"""JetStream on every node of a simulated cluster, replicated by RAFT groups.

Each JetStream node keeps its own pure :class:`~pmesh_sim.jetstream.api.JetStream` and a
:class:`~pmesh_sim.sim.raft_host.RaftHost` with these groups (nats-server's
``jetstream_cluster.go``):

- ``_meta_`` on every node. Every node hears every API request (``$JS.API.>`` is subscribed on
  each); the meta leader proposes stream create/update/delete as entries (with the peers it
  placed the stream on, its group name and preferred leader) and answers ``INFO``,
  ``STREAM.NAMES``/``LIST`` and requests about streams that do not exist; other nodes stay
  silent. The meta leader steps down on :meth:`ClusterJetStreamHost.meta_stepdown` (the system
  account's ``META.LEADER.STEPDOWN``). Every node applies every meta entry, so each knows every
  stream's config; replicas start their peer of the stream's group. A node that knows no meta
  leader for longer than ``lost_quorum_interval`` since it started answers 10008
  (``isLeaderless``); before that, a request times out. To stream and consumer info it answers
  10008 only after ``api_error_delay`` (0.5 s), so that the leader's answer, if there is one,
  comes first.
- One group per stream (``S-R<R>F-<id>``). Only the stream's ready leader subscribes to its
  subjects; it proposes each publish (and purges, message deletes) as an entry, and every
  replica's store applies the committed entries in log order (the same store code decides
  dedup, limits and the sequence, so every replica reaches the same state); the leader sends
  the pub ack after applying. A publish without quorum is never acked. An R1 stream uses a
  group of one that writes no trace (the server has no group for it), so restarts find its
  messages the same way.
- A stream's leader answers what concerns its stream (info, purge, messages, consumer
  lists), also without a meta leader, except consumer lists, which need one. A peer that
  knows no leader of its stream's group (``isGroupLeaderless``, once JetStream ran 10 s)
  answers info from its own copy, stale if it was cut off, and writes with 10008.
- An entry every replica fails to apply halts the stream (a wrong
  ``Nats-Expected-Last-Msg-Id``, checked only on apply): its group stops, publishes time out.
- Consumers have a RAFT group each (:mod:`.js_consumers`): created and deleted through the
  meta leader, led by one of their stream's peers, their state replicated. Followers of an
  interest or workqueue stream remove what a consumer's replicated acks release (the server
  refuses such a consumer with fewer replicas than its stream, 10134; were there one, a fault
  or stepdown moving the stream's leader would be refused, NotSimulatedError).

Durability: a kill keeps every group's log (SIGKILL loses nothing the OS had); memory storage
keeps nothing. ``restart`` builds the node's JetStream again from its meta log, then each
stream from its group's log, and catches up from the leaders.
"""

from __future__ import annotations

import hashlib
import itertools
import json

from ..cluster.raft_log import EMPTY, Durable, Entry, Snapshot
from ..cluster.timings import ClusterTimings
from ..config import AckPolicy, RetentionPolicy, StorageType
from ..errors import JetStreamError, NotSimulatedError
from ..jetstream import stream_image
from ..jetstream.answer import go_marshal
from ..jetstream.api import API_SUBJECTS, JetStream, _reply, error_response, with_cluster
from ..jetstream.consumer import API_ANSWER, API_ERROR
from ..jetstream.direct import direct_subjects
from ..jetstream.stream import encode_headers
from ..jetstream.surface import not_simulated_reply
from .compaction import Compaction, Policy
from .js_consumers import LEADER_OPS, ConsumerGroups
from .js_host import JetStreamHost, trace_emitters
from .js_usage import AccountUsage
from .raft_host import RaftHost

__all__ = ["ClusterJetStreamHost", "META", "CLUSTER_NAME", "peer_id"]

META = "_meta_"
#: a stream proposal's bytes in an append entry besides its encoded message (encodeStreamMsg:
#: 28 fixed bytes and the message's parts): raft.go's entry header (4-byte size, 1-byte type)
ENTRY_HEADER, STREAM_MSG_FIXED = 5, 28
CLUSTER_NAME = "pmesh"          # the real backend's ``cluster { name: pmesh }``
_META_WRITES = frozenset({"STREAM.CREATE", "STREAM.UPDATE", "STREAM.DELETE",
                          "CONSUMER.CREATE", "CONSUMER.DURABLE", "CONSUMER.DELETE",
                          "CONSUMER.PAUSE"})
_META_READS = frozenset({"INFO", "STREAM.NAMES", "STREAM.LIST"})
_STREAM_WRITES = frozenset({"STREAM.PURGE", "STREAM.MSG.DELETE"})
#: Stream-scoped requests that go through the meta leader on the server (consumer lists); here
#: the stream's leader answers them only while a meta leader is known.
_META_NEEDED = frozenset({"CONSUMER.NAMES", "CONSUMER.LIST"})
#: Requests whose 10008 a node without a meta leader sends only after ``api_error_delay``
#: (``jetstream_api.go`` sendDelayedAPIErrResponse), so that the stream's or the consumer's
#: leader answers first.
_DELAYED_ERRORS = frozenset({"STREAM.INFO", "CONSUMER.INFO"})
_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def _stream_of(tokens: list[str]) -> str | None:
    """The stream an API request (tokens after ``$JS.API.``) is about, or None.

    >>> _stream_of("CONSUMER.DURABLE.CREATE.S.D".split(".")), _stream_of(["STREAM", "INFO", "S"])
    ('S', 'S')
    """
    at = 3 if ".".join(tokens[:2]) in _FOUR_TOKEN_OPS else 2
    return tokens[at] if len(tokens) > at else None


_FOUR_TOKEN_OPS = frozenset({"CONSUMER.DURABLE", "CONSUMER.LEADER", "STREAM.LEADER", "STREAM.MSG",
                             "STREAM.PEER", "CONSUMER.MSG"})


def _with_cluster(msg, cluster: dict):
    """An API answer whose body's ``cluster`` is replaced by ``cluster`` (key order kept)."""
    body = json.loads(msg.data)
    if "cluster" not in body:
        return msg
    body["cluster"] = cluster
    return msg._replace(data=go_marshal(body))


def peer_id(name: str) -> str:
    """The server's peer id of a node name (``events.go getHash``: the first 8 bytes of its
    sha256, each as a base-62 digit), as measured on nats-server 2.15.1.

    >>> peer_id("n2"), peer_id("n3")
    ('44jzkV9D', 'BXScrY9i')
    """
    digest = hashlib.sha256(name.encode()).digest()
    return "".join(_DIGITS[b % 62] for b in digest[:8])


_DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


class ClusterJetStreamHost(AccountUsage, ConsumerGroups, JetStreamHost):
    """JetStream of one node of a cluster whose JetStream nodes are ``members``."""

    def __init__(self, server, members: list[str], timings: ClusterTimings | None = None):
        self.members = list(members)
        self.raft = server.raft or RaftHost(server)
        self.timings = timings or ClusterTimings()
        self._tokens = itertools.count(1)
        self.server, self.env = server, server.env
        self._subs: dict[str, object] = {}
        self._timer_at, self._timer_token, self._fired = None, 0, (None, 0)
        server.on_client_interest = self._on_client_interest
        self._start()

    # ------------------------------------------------------------------ life cycle
    def _start(self, kept: dict[str, Durable] | None = None) -> None:
        """(Re)build this node's JetStream from nothing, then from its meta log."""
        server = self.server
        for sub in self._subs.values():
            server.unsubscribe_internal(sub)
        self._subs, self._version = {}, -1
        emit, emit_row = trace_emitters(server)
        self.js = JetStream(emit=emit, has_interest=server.has_client_interest,
                            peers=len(self.members), epoch_ns=server.sim.epoch_ns,
                            emit_row=emit_row)
        self.js.cluster_info = self._cluster_info
        self.js.consumer_cluster_info = self._consumer_cluster_info
        self.js.host_places = True
        self._usage_start()
        self._reset_consumers()
        self._ack_replies: list = []
        self.assignments: dict[str, dict] = {}      # stream -> {"group", "peers"}
        self.led: set[str] = set()                  # streams this node leads (ready)
        self.halted: set[str] = set()               # streams halted by a failed entry
        self.leader_since: dict[str, float] = {}
        self.pending: dict[int, bool] = {}          # tokens of this incarnation's proposals
        self._answers: dict[str, list] = {}         # stream -> its create answer, for its leader
        self.started = self.env.now
        self.raft.seen.clear()                      # a (re)started server has heard nobody
        self._kept = kept or {}
        self._lead_version = 0
        self._timer_at = None
        self._timer_token += 1
        self.raft.sync_every(self.timings.sync_interval)
        self.compaction = Compaction(self.raft)
        self._meta_live: dict[tuple, dict] = {}     # (meta index, position in its append) ->
        self._meta_refs: dict[tuple, list] = {}     # the proposal that built an asset of today
        self._meta_applied, self._installing = 0, False
        self._recheck: dict[str, int] = {}          # stream -> last seq to check interest at
        t = self.timings
        self.meta = self.raft.add(META, self.members, apply=self._apply_meta,
                                  lead_change=self._meta_lead_change,
                                  durable=self._kept.get(META))
        self.compaction.watch(META, Policy(t.meta_compact_interval), self._meta_image)
        self.compaction.snapshot(META, force=True)  # a freshly compacted log after recovery
        self._sync()

    def on_kill(self, power_loss: bool = False) -> None:
        """The node died: keep each group's durable log (memory streams keep nothing; a
        power loss also loses what the file store had not synced)."""
        kept = self.raft.clear()
        if power_loss:
            kept = self.raft.lose_unsynced(kept)
        for stream, a in self.assignments.items():
            st = self.js.streams.get(stream)
            if a["group"] in kept and st is not None and st.config.storage == StorageType.MEMORY:
                kept[a["group"]] = Durable(0, None, EMPTY, ())
        self._consumer_kept(kept)
        self._kept_at_kill = kept
        self._timer_token += 1

    def on_restart(self) -> None:
        self._start(getattr(self, "_kept_at_kill", None))

    def refuse_fault(self, op: str) -> None:
        """Refuse a fault that could move the leader of a replicated stream whose followers
        cannot take over (see :meth:`_unmovable`), or touches a replica of a halted stream
        (see :meth:`_halt`; its recovery from the log is not modelled)."""
        for stream in sorted(self.halted):
            raise NotSimulatedError(f"{op} of {self.server.name}, a replica of stream {stream} "
                                    "halted by a failed entry")
        for stream in sorted(self.led):
            why = self._unmovable(stream)
            if why:
                raise NotSimulatedError(f"{op} of {self.server.name}, which leads replicated "
                                        f"stream {stream} {why}")

    def _unmovable(self, stream: str) -> str:
        """Why a new leader of ``stream`` would not hold what its old one did, or "": an
        interest or workqueue stream with a consumer on fewer peers (the stream's other
        replicas never see that consumer's acks, so they keep what it removed)."""
        st = self.js.streams.get(stream)
        peers = len(self.assignments[stream]["peers"]) if stream in self.assignments else 1
        if st is None or peers == 1 or st.config.retention == RetentionPolicy.LIMITS:
            return ""
        for name in sorted(st.consumers):
            a = self.cassign.get((stream, name))
            if a is not None and len(a["peers"]) < peers:
                return (f"with {st.config.retention.value} retention and consumer {name} on "
                        f"{len(a['peers'])} of its {peers} peers (not simulated)")
        return ""

    # ------------------------------------------------------------------ interest
    def _sync(self) -> None:
        version = (self.js.interest_version, self._lead_version)
        if version == self._version:
            return
        self._version = version
        wanted = set(API_SUBJECTS)
        for st in self.js.streams.values():
            if st.name not in self.led:
                continue
            wanted.update(st.config.subjects)
            wanted.update(direct_subjects(st))
        for stream, name in self.cled:           # a consumer's leader takes its requests
            c = self._consumer((stream, name))
            if c is None:
                continue
            wanted.add(f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{name}")
            if c.config.ack_policy != AckPolicy.NONE:
                wanted.add(f"$JS.ACK.{stream}.{name}.*.*.*.*.*")
                wanted.add(f"$JS.ACK.*.*.{stream}.{name}.*.*.*.*.>")
        self._subscribe_only(wanted)

    # ------------------------------------------------------------------ arrivals
    def _on_message(self, subject, reply, data, headers) -> None:
        now = self.env.now
        if subject.startswith("$JS.API.") and not subject.startswith(
                ("$JS.API.CONSUMER.MSG.", "$JS.API.DIRECT.")):
            return self._after(self._api(subject, reply, data, headers, now))
        if subject.startswith("$JS.ACK."):
            out = self.js.handle(subject, reply, data, headers, now)
            if reply:
                t = subject.split(".")
                key = (t[2], t[3]) if len(t) == 9 else (t[4], t[5])
                out = self._hold_ack_reply(key, reply, out)
            return self._after(out)
        if subject.startswith("$JS.API."):
            return self._after(self.js.handle(subject, reply, data, headers, now))
        st = self.js.stream_for(subject)
        if st is None or st.name not in self.led or st.name in self.halted:
            return None                 # a halted stream's old leader lets it time out
        self._propose_stream(st.name, subject, reply, data, headers)
        return None

    def _api(self, subject, reply, data, headers, now):
        tokens = subject[len("$JS.API."):].split(".")
        kind, kind3 = ".".join(tokens[:2]), ".".join(tokens[:3])
        stream = None if kind in _META_READS else _stream_of(tokens)
        if kind in LEADER_OPS:                  # the consumer's leader answers
            out = self._consumer_api(tokens, kind, reply, subject, data, headers, now)
            if out is not None:
                return out
            at = 3 if kind == "CONSUMER.LEADER" else 2
            st = self.js.streams.get(tokens[at]) if len(tokens) > at + 1 else None
            if st is not None and tokens[at + 1] in st.consumers:
                return []                       # led elsewhere, or leaderless
        elif (kind in _STREAM_WRITES or kind3 in _STREAM_WRITES or kind == "STREAM.INFO"
              or kind3 == "STREAM.LEADER.STEPDOWN") and (
                stream in self.halted and stream in self.led
                or stream not in self.led and self._group_leaderless(stream)):
            return self._leaderless(tokens, reply, data, headers, now)
        elif stream in self.led and kind not in _META_WRITES:   # the stream leader answers
            if kind in _META_NEEDED:
                if self.meta.leader is None:
                    return []
                return self.js.handle(subject, reply, data, headers, now)
            if kind3 == "STREAM.LEADER.STEPDOWN":
                return self._stepdown(stream, reply, data)
            if kind in _STREAM_WRITES or kind3 in _STREAM_WRITES:
                self._propose_stream(stream, subject, reply, data, headers)
                return []
            return self.js.handle(subject, reply, data, headers, now)
        meta = self.meta
        if meta.leader is None:                 # isLeaderless: 10008 after the startup time
            if now - self.started <= meta.t.lost_quorum_interval:
                return []
            out = _reply(reply, error_response(tokens, JetStreamError.from_err_code(10008)),
                         API_ERROR)
            if kind in _DELAYED_ERRORS:         # sendDelayedAPIErrResponse: a leader goes first
                token = self._timer_token
                self.server.call_at(now + self.timings.api_error_delay,
                                    lambda: token == self._timer_token and self._after(out))
                return []
            return out
        if not meta.is_leader:
            return []
        if kind in _META_WRITES:
            return self._propose_meta(tokens, subject, reply, data)
        if kind == "STREAM.LIST":
            return [self._listed_by_leaders(m, now)
                    for m in self.js.handle(subject, reply, data, headers, now)]
        if stream is None or stream not in self.js.streams or kind in LEADER_OPS:
            return self.js.handle(subject, reply, data, headers, now)   # not found errors
        return []

    def _listed_by_leaders(self, msg, now: float):
        """The meta leader's stream list with each stream as its leader reports it (the
        server's jsClusteredStreamListRequest asks every stream's leader, ``cluster``
        included), not from this node's copy; a stream without a leader is ``missing``."""
        body = json.loads(msg.data)
        streams, missing = [], []
        for entry in body.get("streams") or []:
            name = entry["config"]["name"]
            leader = self.server.sim.stream_leader(name)
            if leader is None:
                missing.append(name)
                continue
            host = self.server.sim.servers[leader].jetstream
            entry = with_cluster(host.js.sourcing.info(host.js.streams[name], now),
                                 host._cluster_info(name, now))
            streams.append(entry)
        body["streams"] = streams
        if missing:
            body["missing"] = missing
        return msg._replace(data=go_marshal(body))

    # ------------------------------------------------------------------ the meta group
    def _propose_meta(self, tokens, subject, reply, data):
        """The meta leader places a new stream and proposes the request as an entry."""
        assign = None
        name = tokens[2] if len(tokens) > 2 else ""
        if tokens[0] == "CONSUMER":
            if tokens[1] in ("CREATE", "DURABLE"):
                try:
                    body = json.loads(data) if data and data.strip() else {}
                except ValueError:
                    body = None                  # the apply answers the server's error
                assign = self._place_consumer(tokens, body, reply)
                if isinstance(assign, list):
                    return assign
        elif tokens[1] == "CREATE" and name not in self.js.streams:
            try:
                body = json.loads(data) if data and data.strip() else {}
                replicas = int(body.get("num_replicas") or 1) if isinstance(body, dict) else 1
                placement = body.get("placement") or {} if isinstance(body, dict) else {}
            except (ValueError, TypeError, AttributeError):
                replicas, placement = 1, {}      # the apply answers the server's error
            if not isinstance(placement, dict) or placement.get("cluster") not in (
                    None, "", CLUSTER_NAME):
                feature = "stream placement by a cluster name other than this cluster's"
                self.js.emit("not_simulated", feature=feature)
                return [not_simulated_reply(reply, feature)] if reply else []
            assign = self._place(name, replicas, reply, tokens, placement.get("tags") or [])
            if isinstance(assign, list):
                return assign
        elif tokens[1] == "UPDATE" and name in self.js.streams:
            try:
                wanted = json.loads(data).get("num_replicas") or 1
            except (ValueError, TypeError, AttributeError):
                wanted = None
            if wanted is not None and wanted != len(self.assignments[name]["peers"]):
                self.js.emit("not_simulated", feature="changing num_replicas")
                return [not_simulated_reply(reply, "changing num_replicas")] if reply else []
        token = next(self._tokens)
        self.pending[token] = True
        self.raft.propose(META, {"subject": subject, "reply": reply, "data": data,
                                 "token": token, "proposer": self.server.name,
                                 "t": self.env.now, "assign": assign})
        return []

    def online(self, now: float) -> list[str]:
        """The nodes this node would place on: itself and every peer not marked offline.

        As ``events.go`` does for a peer that vanished without a shutdown event (SIGKILL, a
        partition): a sweep every ``orphan_server_check`` from this node's start marks a peer
        offline once it was not heard from for ``orphan_server_timeout``; hearing from it again
        brings it back.
        """
        t = self.timings
        sweep = self.started + ((now - self.started) // t.orphan_server_check) * \
            t.orphan_server_check
        seen = self.raft.seen
        return [self.server.name] + [
            p for p in self.members if p != self.server.name
            and not (seen.get(p, self.started) <= sweep
                     and sweep - seen.get(p, self.started) >= t.orphan_server_timeout)]

    def _place(self, name, replicas, reply, tokens, tags=()):
        """Peers for a new stream, as ``selectPeerGroup``: among the nodes carrying every tag
        in ``tags`` (each node has ``node:<name>``), 10005 when fewer than ``replicas`` or
        when fewer than a quorum of them would be online; online nodes first (an offline one
        only to fill up), the least loaded first (HA assets for R>1, streams for R1), ties in
        random order. The 10005 names what ruled peers out, as selectPeerError does (a Go map:
        with several missing tags the server lists them in random order, here sorted)."""
        if replicas > len(self.members) or replicas < 1:
            return None                # the config check answers (10074 and kin)
        members = [p for p in self.members if set(tags) <= {f"node:{p}"}]
        up = set(self.online(self.env.now))
        online = up & set(members)
        if len(members) < replicas or len(online) < replicas // 2 + 1:
            why = "no suitable peers for placement"
            if set(self.members) - up:
                why += ", peer offline"
            missing = {next(t for t in tags if t != f"node:{p}") for p in up
                       if p not in members}                   # selectPeerError.noMatchTags
            if missing:
                why += ", tags not matched [" + ", ".join(f"'{t}'" for t in sorted(missing)) + "]"
            err = JetStreamError.from_err_code(10005, err=why)
            return _reply(reply, error_response(tokens, err), API_ERROR)
        rng = self.server.sim.rng
        load = {p: 0 for p in self.members}
        for a in self.assignments.values():
            if replicas == 1 or len(a["peers"]) > 1:
                for p in a["peers"]:
                    load[p] += 1
        peers = list(members)
        rng.shuffle(peers)
        peers.sort(key=lambda p: (p not in online, load[p]))
        peers = peers[:replicas]
        group = f"S-R{replicas}F-" + "".join(rng.choice(_ALPHABET) for _ in range(8))
        return {"group": group, "peers": peers}

    def _apply_meta(self, entry) -> None:
        if type(entry) is Snapshot:
            self._install_meta(entry)
            return
        for at, item in enumerate(entry.data):     # the proposals one append carried
            self._apply_meta_proposal((entry.index, at), item)

    def _apply_meta_proposal(self, key: tuple, item: dict) -> None:
        """Apply one meta proposal (``key``: its log index and place in its append) and keep
        it for the meta snapshot if it built an asset of today."""
        before = self._assets()
        self._apply_meta_item(item)
        self._remember_meta(key, item, before)
        self._meta_applied = max(self._meta_applied, key[0])

    def _apply_meta_item(self, item: dict) -> None:
        subject = item["subject"]
        tokens = subject[len("$JS.API."):].split(".")
        if tokens[0] == "CONSUMER":
            out, answers = self._apply_consumer_meta(item, tokens)
            mine = self.pending.pop(item["token"], False) and item["proposer"] == self.server.name
            self._sync()
            if mine and answers:
                self._after(out)
            return
        name = tokens[2]
        existed = name in self.js.streams
        out = self.js.handle(subject, item["reply"], item["data"], None, now=item["t"])
        mine = self.pending.pop(item["token"], False) and item["proposer"] == self.server.name
        if not existed and name in self.js.streams and item["assign"] is not None:
            # the new stream's leader answers the create once elected (processClusterCreateStream)
            if self.server.name in item["assign"]["peers"] and not self._replaying():
                self._answers[name] = out
            mine = False
            self._start_stream(name, item["assign"])
        elif existed and name not in self.js.streams:
            self._stop_stream(name)
        elif name in self.halted:
            mine = False            # a halted stream has no leader to answer its update
        elif mine and tokens[1] == "UPDATE" and name in self.js.streams:
            out = [self._leader_consumer_count(m, name) for m in out]
        self._sync()
        if mine:
            self._after(out)

    def _leader_consumer_count(self, msg, stream: str):
        """An update's answer as the stream's leader sends it (``processClusterUpdateStream``:
        ``mset.state()``): its ``consumer_count`` counts only the consumers that leader hosts,
        so an R1 consumer placed on another peer is left out (info and lists count them all)."""
        body = json.loads(msg.data)
        state = body.get("state")
        leader = self.server.sim.stream_leader(stream)
        if state is None or leader is None:
            return msg
        state["consumer_count"] = sum(1 for (s, _), a in self.cassign.items()
                                 if s == stream and leader in a["peers"])
        return msg._replace(data=go_marshal(body))

    def _replaying(self) -> bool:
        """Whether the meta peer is still being built from its log (a restart), or from its
        leader's snapshot."""
        return self._installing or self.raft.nodes.get(META) is not getattr(self, "meta", None)

    # ------------------------------------------------------------------ meta snapshots
    def _assets(self) -> set[tuple]:
        """Every stream (``("S", name)``) and consumer (``("C", stream, name)``) known."""
        out = set()
        for name, st in self.js.streams.items():
            out.add(("S", name))
            out.update(("C", name, c) for c in st.consumers)
        return out

    def _remember_meta(self, index: tuple, item: dict, before: set[tuple]) -> None:
        """Keep the meta entries that build today's assets (the server's meta snapshot holds
        the stream and consumer assignments): an entry that made or changed an asset, until
        that asset is gone."""
        after = self._assets()
        gone = before - after
        if gone:
            for asset in gone:
                self._meta_refs.pop(asset, None)
            used = {i for refs in self._meta_refs.values() for i in refs}
            self._meta_live = {i: e for i, e in self._meta_live.items() if i in used}
        tokens = item["subject"][len("$JS.API."):].split(".")
        touched = after - before
        if tokens[0] == "STREAM" and len(tokens) > 2:
            touched.add(("S", tokens[2]))
        elif tokens[0] == "CONSUMER" and len(tokens) > 3:
            stream = tokens[3] if tokens[1] == "DURABLE" else tokens[2]
            name = tokens[4] if tokens[1] == "DURABLE" else tokens[3]
            touched.add(("C", stream, name))
        touched &= after
        for asset in touched:
            self._meta_refs.setdefault(asset, []).append(index)
        if touched:
            self._meta_live[index] = item

    def _meta_image(self) -> dict:
        """The meta snapshot: the entries that build every asset, and each asset's first."""
        return {"entries": tuple(self._meta_live.items()),
                "assets": {a: refs[0] for a, refs in self._meta_refs.items()}}

    def _install_meta(self, snap: Snapshot) -> None:
        """Build the assets from a meta snapshot: at a restart from nothing; from the
        leader's, delete what it no longer has, then apply the entries this node missed."""
        image = snap.data
        self._installing = not self._replaying()
        try:
            if self._installing:
                assets = image["assets"]
                gone = [a for a, refs in self._meta_refs.items() if assets.get(a) != refs[0]]
                for asset in sorted(gone, key=lambda a: (a[0] == "S", a)):   # consumers first
                    if asset in self._assets():
                        op = "STREAM.DELETE" if asset[0] == "S" else "CONSUMER.DELETE"
                        self._apply_meta(Entry(0, 0, "normal", ({
                            "subject": f"$JS.API.{op}." + ".".join(asset[1:]), "reply": "",
                            "data": b"", "token": 0, "proposer": "", "t": self.env.now,
                            "assign": None},)))
            applied = self._meta_applied
            for key, item in image["entries"]:        # key: (index, position in its append)
                if key[0] > applied:
                    self._apply_meta_proposal(key, item)
        finally:
            self._installing = False
        self._meta_applied = max(self._meta_applied, snap.index)

    def _meta_lead_change(self, leading: bool) -> None:
        if leading:                     # monitorCluster: a snapshot as it becomes leader
            self.compaction.snapshot(META)

    def _start_stream(self, name: str, assign: dict) -> None:
        self.assignments[name] = assign
        group, peers = assign["group"], assign["peers"]
        if self.server.name not in peers:
            return

        overhead = self.timings.stream_entry_overhead

        def apply(entry, s=name, g=group):
            if type(entry) is Snapshot:
                self._install_stream(s, g, entry)
                return
            self._apply_stream(s, entry)
            if self._recheck and s in self._recheck:
                self._recheck_interest(s)
            # the append's bytes in the log (monitorStream's nb): the measured overhead of a
            # one-proposal append, and each further proposal's entry header and encoded size
            self.compaction.applied(g, overhead - ENTRY_HEADER - STREAM_MSG_FIXED + sum(
                ENTRY_HEADER + item["size"] for item in entry.data))

        self.raft.add(group, peers, apply=apply,
                      lead_change=lambda ok, s=name: self._lead_change(s, ok),
                      durable=self._kept.pop(group, None), traced=len(peers) > 1,
                      campaign=0.05 if peers[0] == self.server.name else None)
        t = self.timings
        self.compaction.watch(group, Policy(t.stream_compact_interval, t.compact_spread,
                                            t.stream_compact_entries,
                                            size=t.stream_compact_size),
                              lambda s=name: stream_image.capture(self.js.streams[s]))

    def _recheck_interest(self, stream: str) -> None:
        """A consumer's snapshot was ahead of this replica's stream: once the stream holds
        what it covers, what its consumers acked goes (``checkInterestState``)."""
        st = self.js.streams.get(stream)
        if st is None or st.last_seq >= self._recheck[stream]:
            del self._recheck[stream]
            if st is not None:
                st.drop_acked(self.env.now)

    def _install_stream(self, stream: str, group: str, snap: Snapshot) -> None:
        """A stream snapshot: at a restart, the file store as of it; from the leader, a
        catch-up (see :mod:`~pmesh_sim.jetstream.stream_image`) from the leader's store."""
        st = self.js.streams.get(stream)
        if st is None:
            return
        node = self.raft.nodes.get(group)
        if node is None:                         # restarting from the snapshot on disk
            stream_image.restore(st, snap.data)
            return
        leader = self.server.sim.servers.get(node.leader) if node.leader else None
        store = None
        if leader is not None and leader.state is None and leader.jetstream is not None:
            store = leader.jetstream.js.streams.get(stream)
        first = st.last_seq + 1
        fetched, skipped = stream_image.catch_up(st, snap.data, store)
        self.js.emit("stream_catchup", stream=stream, leader=node.leader, first_seq=first,
                     last_seq=st.last_seq, fetched=fetched, skipped=skipped)
        if st.config.retention != RetentionPolicy.LIMITS and st.consumers:
            st.drop_acked(self.env.now)          # checkInterestState after a catch-up

    def _stop_stream(self, name: str) -> None:
        for key in [k for k in self.cassign if k[0] == name]:
            self._stop_consumer(key)
        assign = self.assignments.pop(name, None)
        if assign is not None:
            self.raft.remove(assign["group"])
            self.compaction.forget(assign["group"])
        self.halted.discard(name)
        if name in self.led:
            self._lead_change(name, False)

    # ------------------------------------------------------------------ stream groups
    def _after(self, out, fired: bool = False) -> None:
        if self.cled or self._journal or self._ack_replies:
            out = self._flush_journal(self._drop_inactive(out))
        super()._after(out, fired)
        self._usage_check()

    def _lead_change(self, stream: str, leading: bool) -> None:
        if leading:
            self.led.add(stream)
            self.leader_since[stream] = self.env.now
            group = self.assignments[stream]["group"]
            node = self.raft.nodes.get(group)
            if node is not None and node.log.snapshot.index == 0:   # NeedSnapshot
                self.compaction.snapshot(group)
        else:
            self.led.discard(stream)
        self._lead_version += 1
        self._sync()
        answer = self._answers.pop(stream, None) if leading else None
        if answer:                       # with the cluster info the new leader knows now
            self._after([_with_cluster(m, self._cluster_info(stream, self.env.now))
                         for m in answer])

    def _stepdown(self, stream: str, reply: str, data: bytes):
        """``$JS.API.STREAM.LEADER.STEPDOWN.<stream>`` on its leader (see
        :meth:`_group_stepdown`)."""
        why = self._unmovable(stream)
        if why:
            feature = f"stream leader stepdown of a stream {why}"
            self.js.emit("not_simulated", feature=feature)
            return [not_simulated_reply(reply, feature)] if reply else []
        return self._group_stepdown(
            self.assignments[stream], ["STREAM", "LEADER", "STEPDOWN", stream], reply, data,
            "io.nats.jetstream.api.v1.stream_leader_stepdown_response")

    def _group_stepdown(self, assign: dict, tokens: list[str], reply: str, data: bytes,
                        kind: str):
        """A stream's or a consumer's leader steps down: hand leadership to a healthy
        follower, or to the one ``placement`` names (see :meth:`_stepdown_target`); an R1
        asset answers success."""
        ok = {"type": kind, "success": True}
        if len(assign["peers"]) == 1:
            return _reply(reply, ok, API_ANSWER)
        return self._stepdown_group(assign["group"], assign["peers"], tokens, reply, data, ok)

    def meta_stepdown(self, data: bytes) -> dict:
        """The meta leader's answer to ``$JS.API.META.LEADER.STEPDOWN`` from the system
        account (``jsLeaderStepDownRequest``; the placement rules of :meth:`_stepdown_target`),
        after stepping down. The simulation has no accounts: the scenario runner calls this as
        the real backend's system connection asks it; a client's request is refused."""
        tokens = ["META", "LEADER", "STEPDOWN"]
        try:
            body = self.js._body(data)
            preferred = self._stepdown_target(body.get("placement"), self.members)
        except JetStreamError as err:
            return error_response(tokens, err)
        self.raft.step_down(META, preferred)
        return {"type": "io.nats.jetstream.api.v1.meta_leader_stepdown_response",
                "success": True}

    def _stepdown_group(self, group, peers, tokens, reply, data, ok: dict):
        try:
            body = self.js._body(data)
            preferred = self._stepdown_target(body.get("placement"), peers)
        except JetStreamError as err:
            return _reply(reply, error_response(tokens, err), API_ERROR)
        except NotSimulatedError as err:
            self.js.emit("not_simulated", feature=err.feature)
            return [not_simulated_reply(reply, err.feature)] if reply else []
        self.raft.step_down(group, preferred)
        return _reply(reply, ok, API_ANSWER)

    def _stepdown_target(self, placement, peers: list[str]) -> str | None:
        """The peer a stepdown hands over to (``getStepDownPreferredPlacement``): none without
        ``placement``; its ``preferred`` (10005 when it leads already or is no peer); else a
        random online peer in its ``cluster`` carrying all its ``tags`` (10005 if none)."""
        if placement is None:
            return None
        if not isinstance(placement, dict) or set(placement) - {"preferred", "cluster", "tags"}:
            raise NotSimulatedError("leader stepdown with a placement other than preferred, "
                                    "cluster and tags")
        preferred = placement.get("preferred")
        if preferred:
            if preferred == self.server.name or preferred not in peers:
                why = "is already leader" if preferred == self.server.name else "not known"
                raise JetStreamError.from_err_code(
                    10005, err=f'preferred server "{preferred}" {why}')
            return preferred
        online = set(self.online(self.env.now))
        tags = set(placement.get("tags") or ())
        candidates = [p for p in peers if p != self.server.name and p in online
                      and placement.get("cluster") in (None, "", CLUSTER_NAME)
                      and tags <= {f"node:{p}"}]
        if not candidates:
            raise JetStreamError.from_err_code(10005, err="no replacement peer connected")
        return self.server.sim.rng.choice(candidates)

    def _propose_stream(self, stream, subject, reply, data, headers) -> None:
        token = next(self._tokens)
        self.pending[token] = True
        # the size of the server's encoded entry (encodeStreamMsg: 28 bytes and the parts)
        size = STREAM_MSG_FIXED + len(subject) + len(reply or "") + len(data) + (
            len(encode_headers(headers)) if headers else 0)
        self.raft.propose(self.assignments[stream]["group"], {
            "subject": subject, "reply": reply, "data": data, "headers": headers,
            "msg_id": self.server.routing_msg_id, "token": token, "t": self.env.now,
            "size": size}, size)

    def _apply_stream(self, stream: str, entry) -> None:
        """Apply the proposals of a committed entry in order (``applyStreamEntries``), then send
        what they answer together: the pub acks of those proposed here, and the deliveries
        of the consumers led here."""
        out, answered = [], False
        for item in entry.data:
            st = self.js.streams.get(stream)
            if st is None or stream in self.halted:
                break
            mine = self.pending.pop(item["token"], False)
            subject = item["subject"]
            if subject.startswith("$JS.API."):      # a purge or a message delete
                done = self.js.handle(subject, item["reply"], item["data"], item["headers"],
                                      now=item["t"], msg_id=item["msg_id"])
            else:    # processJetStreamMsg into this stream; only the proposer answers
                halts = self._halts(stream, st, item)
                done = self.js._publish(st, subject, item["reply"] if mine else "",
                                        item["data"], item["headers"], item["t"],
                                        item["msg_id"])
                if halts:
                    self._halt(stream)
            if mine:
                out += done
                answered = True
            elif self.cled or self._journal:        # what consumers led here deliver
                out += [m for m in done if m.msg_subject is not None or (
                    m.headers and "Status" in m.headers) or m.subject.startswith("$JS.EVENT.")]
                answered = True
        if answered:
            self._after(out)
        else:
            self._usage_check()

    def _halts(self, stream: str, st, item: dict) -> bool:
        """Whether applying a publish fails in a way a replicated stream cannot continue
        from: a wrong ``Nats-Expected-Last-Msg-Id`` (the leader checks it only on apply;
        ``applyStreamMsgOp`` returns every error but the limits ones, and
        ``monitorStream`` then sets the stream's write error and stops its group)."""
        headers = item["headers"]
        if not headers or not headers.get("Nats-Expected-Last-Msg-Id") or len(
                self.assignments[stream]["peers"]) == 1:
            return False
        verdict, err = st.check_publish(item["subject"], item["data"], headers, item["t"])
        return verdict == "error" and err.err_code == 10070

    def _halt(self, stream: str) -> None:
        """Halt this replica of ``stream`` after an entry failed (nats-server 2.15:
        "critical write error"): its RAFT peer steps down and stops, so the stream has no
        leader until it is deleted; the old leader keeps its subjects (a publish times
        out) and answers info, purges, deletes and stepdowns as a member of a leaderless
        group (:meth:`_leaderless`). Every replica halts on that entry."""
        self.halted.add(stream)
        group = self.assignments[stream]["group"]
        self.js.emit("stream_halted", stream=stream)
        self.server.call_at(self.env.now, lambda: stream in self.halted and (
            self.raft.remove(group)))

    def _group_leaderless(self, stream: str) -> bool:
        """Whether this node is a peer of ``stream``'s replicated group that knows no leader
        (a candidate: cut off from the others, or while they elect)."""
        assign = self.assignments.get(stream)
        if assign is None or len(assign["peers"]) == 1:
            return False
        node = self.raft.nodes.get(assign["group"])
        return node is not None and node.leader is None

    def _leaderless(self, tokens: list[str], reply: str, data, headers, now: float):
        """A peer of a stream group without a leader (:meth:`_group_leaderless`, or the old
        leader of a halted stream) answers as ``isGroupLeaderless`` lets it once JetStream ran
        ``group_leaderless_startup``: info from its own copy (stale if it was cut off), a
        write or stepdown with 10008; before that, nothing."""
        if now - self.started <= self.timings.group_leaderless_startup:
            return []
        if tokens[:2] == ["STREAM", "INFO"]:
            return self.js.handle("$JS.API." + ".".join(tokens), reply, data, headers, now)
        return _reply(reply, error_response(tokens, JetStreamError.from_err_code(10008)),
                      API_ERROR)

    def _cluster_info(self, stream: str, now: float) -> dict:
        """Stream info's ``cluster`` as the stream's leader reports it."""
        return self._group_info(self.assignments.get(stream), self.leader_since.get(stream),
                                now)

    def _group_info(self, assign: dict | None, since: float | None, now: float) -> dict:
        """A stream's or consumer's ``cluster`` as its leader (this node) reports it."""
        if assign is None or len(assign["peers"]) == 1:
            return {"name": CLUSTER_NAME, "leader": assign["peers"][0] if assign else
                    self.server.name}
        node = self.raft.nodes.get(assign["group"])
        info = {"name": CLUSTER_NAME, "raft_group": assign["group"]}
        if node is None or node.leader is None:
            return info
        info["leader"] = node.leader
        if node.leader == self.server.name and since is not None:
            info["leader_since"] = self.server.sim.date(since)
        # RAFT traffic goes through the system account (raft.go IsSystemAccount), as 2.15.1
        # reports it
        info["system_account"], info["traffic_account"] = True, "$SYS"
        replicas = []
        lost = node.t.lost_quorum_interval
        online = self.online(now)
        for p in node.peer_info(now):
            active = now - p.last_heard if p.last_heard is not None else 0.0
            rep = {"name": p.name, "current": p.current and active <= lost}
            if p.name not in online:
                rep["offline"] = True
            rep["active"] = int(round(active * 1e9))
            if p.lag:
                rep["lag"] = p.lag
            rep["peer"] = peer_id(p.name)
            replicas.append(rep)
        info["replicas"] = replicas
        return info

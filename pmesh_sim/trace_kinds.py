"""The trace schema: every kind of trace record, registered once with its layer, meaning and fields.

A field name ending in ``?`` is optional; the others are required. Every record has ``node``.
One ``msg_id`` follows a message: given at ``publish``, carried by ``store``, every JetStream
delivery of the stored message (``js_deliver`` on the server, ``deliver`` at the client) and
every ``ack`` / ``js_ack`` of it. Emitting never validates (the hot paths stay fast);
:func:`check_trace` checks a finished trace against :data:`KINDS`.

>>> KINDS["js_ack"].layer, sorted(KINDS["js_ack"].required)[:3]
('jetstream', ['action', 'consumer', 'consumer_seq'])
>>> from pmesh_sim.trace import Trace
>>> trace = Trace(clock=lambda: 0.0)
>>> trace.emit("connect", node="n1", client="alice")
>>> trace.emit("teleport", node="n1")
>>> trace.emit("subscribe", node="n1", client="alice", sid=1, subject="a.*", colour="red")
>>> for problem in check_trace(trace):
...     print(problem)
record 1: unregistered kind 'teleport'
record 2 (subscribe): unregistered field 'colour'
record 2 (subscribe): missing required field 'queue'
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

__all__ = ["Kind", "KINDS", "LAYERS", "DISCARD_REASONS", "ACK_ACTIONS", "RESERVED_FIELDS",
           "check_trace", "kinds_markdown"]

#: The layers, in the order the documentation lists them.
LAYERS = {
    "client": "what a client does or observes; both backends write these with the same fields",
    "server": "core routing inside a server node (simulation only)",
    "jetstream": "the stream and consumer state machines (simulation only)",
    "scenario": "the step driver shared by both backends (runners.scenario_program)",
    "fault": "faults injected into the servers",
    "cluster": "routes between nodes (sim/routes.py: routes up and down, interest, forwarded "
               "messages, what a link dropped) and RAFT (pmesh_sim.cluster.raft: elections, "
               "votes, append/commit/apply; pure, not yet wired into a simulated server)",
}

#: ``discard.reason``: why a stream dropped or refused a message (a fixed set).
DISCARD_REASONS = {
    "max_msgs": "the oldest message made room (discard old, max_msgs)",
    "max_bytes": "the oldest message made room (discard old, max_bytes)",
    "max_msgs_per_subject": "the subject's oldest message made room (max_msgs_per_subject)",
    "max_age": "the message expired (max_age)",
    "purge": "a purge (or a rollup) removed it",
    "workqueue": "work-queue retention: a consumer acknowledged (or terminated) it",
    "interest": "interest retention: no consumer needs it any more",
    "no_interest": "interest retention: no consumer was interested, the sequence was used, "
                   "nothing stored",
    "discard_new_max_msgs": "refused: the stream is full (discard new, max_msgs)",
    "discard_new_max_bytes": "refused: the stream is full (discard new, max_bytes)",
    "discard_new_max_msgs_per_subject": "refused: the subject is full "
                                        "(discard_new_per_subject)",
    "ttl": "the message's own time to live (its Nats-TTL header) ran out",
    "rejected": "refused by a publish check (expected sequence/stream/msg id, size, rollup, "
                "sealed); ``err_code`` and ``description`` say which",
}

#: ``ack.action`` / ``js_ack.action``.
ACK_ACTIONS = ("ack", "ack_sync", "nak", "term", "in_progress")

#: Fields reserved now for the cluster layer (issue 10): any kind may carry them later.
RESERVED_FIELDS = {
    "group": "the RAFT group (meta, a stream's or a consumer's)",
    "term": "the RAFT term",
    "leader": "the group's leader node",
    "peer": "the other node of a vote or an append",
}


@dataclass(frozen=True)
class Kind:
    """One kind of trace record: ``fields`` maps a name (``?`` suffix: optional) to its meaning."""

    name: str
    layer: str
    meaning: str
    fields: dict[str, str] = field(default_factory=dict)

    @property
    def required(self) -> frozenset[str]:
        """The fields every record of this kind has."""
        return frozenset(f for f in self.fields if not f.endswith("?"))

    @property
    def allowed(self) -> frozenset[str]:
        """Every field a record of this kind may have."""
        return frozenset(f.rstrip("?") for f in self.fields)


_NODE = {"node": "the server node it happened on (a client's: the node it is connected to)"}
_CLIENT = {**_NODE, "client": "the connection's name"}
_MSG = "the message id (given at publish; see the module docs)"
_JS_MSG = {"stream": "the stream", "consumer": "the consumer", "stream_seq": "stream sequence",
           "consumer_seq": "consumer (delivery) sequence",
           "num_delivered": "how many times it was delivered (2+: a redelivery)"}


def _k(name: str, layer: str, meaning: str, **fields: str) -> Kind:
    base = _CLIENT if layer == "client" else _NODE
    # keyword names: ``x_opt`` is the optional field ``x``; ``x_r`` the required field ``x``
    # (for names that are Python keywords or clash)
    return Kind(name, layer, meaning, {**base, **{
        k[:-4] + "?" if k.endswith("_opt") else k[:-2] if k.endswith("_r") else k: v
        for k, v in fields.items()}})


_ALL = [
    # ------------------------------------------------------------------ client
    _k("connect", "client", "a connection was opened",
       no_echo_opt="the connection does not get its own messages"),
    _k("subscribe", "client", "a subscription was made", sid="subscription id",
       subject="subject or wildcard", queue="queue group ('' for none)"),
    _k("unsubscribe", "client", "a subscription ends (now, or after ``limit`` messages)",
       sid="subscription id", subject_opt="its subject", limit_opt="messages in all (0: now)"),
    _k("publish", "client", "a message was sent (core or JetStream publish, a request, an ack)",
       subject="subject", msg_id=_MSG, reply_opt="reply subject", size_opt="bytes",
       nats_msg_id_opt="the Nats-Msg-Id header (JetStream de-duplication)"),
    _k("pub_ack", "client", "the JetStream publish acknowledgement (or its error) came back",
       msg_id="the publish's msg_id", stream_opt="the stream", stream_seq_opt="stored at",
       duplicate_opt="True: de-duplicated (not stored again)",
       err_code_opt="the server's error code when refused"),
    _k("deliver", "client", "a message was handed to a client subscription",
       subject="subject the client sees", msg_id=_MSG + "; a JetStream delivery has the "
       "original publish's", sid_opt="subscription id", stream_opt=_JS_MSG["stream"],
       consumer_opt=_JS_MSG["consumer"], stream_seq_opt=_JS_MSG["stream_seq"],
       consumer_seq_opt=_JS_MSG["consumer_seq"], num_delivered_opt=_JS_MSG["num_delivered"],
       num_pending_opt="messages left for the consumer", data_opt="payload text"),
    _k("ack", "client", "the client acknowledged a JetStream message",
       msg_id="the delivered message's msg_id", stream="the stream", consumer="the consumer",
       stream_seq="stream sequence", consumer_seq_opt="consumer sequence",
       action="one of ack, ack_sync, nak, term, in_progress", delay_opt="nak delay (s)"),
    _k("request", "client", "a request was sent (after its publish record)", subject="subject",
       msg_id="the request's msg_id", timeout="seconds", reply_opt="the reply inbox"),
    _k("reply", "client", "a request's reply came back", subject="the request's subject",
       msg_id="the request's msg_id", rtt="round-trip time (s)", reply_opt="the reply inbox"),
    _k("respond", "client", "an auto-responder subscription answered a request",
       subject="the reply subject it answered on", msg_id_opt="the answer's msg_id"),
    _k("timeout", "client", "a wait ended without an answer",
       op="request, next_msg, flush or fetch", timeout_opt="seconds", subject_opt="subject",
       reply_opt="reply inbox", sid_opt="subscription id", msg_id_opt="the request's msg_id"),
    _k("no_responders", "client", "a request reached nobody (the server answers 503)",
       subject="subject", msg_id="the request's msg_id", reply_opt="reply inbox"),
    _k("slow_consumer", "client", "a subscription's pending limit dropped a message",
       sid="subscription id", subject="subject", msg_id=_MSG, pending_msgs="pending messages",
       pending_bytes="pending bytes"),
    _k("drop", "client", "a message arrived for a closed subscription", sid="subscription id",
       subject="subject", msg_id=_MSG, reason="why (unsubscribed)"),
    _k("close", "client", "the connection was closed"),
    _k("disconnected", "client", "the connection to the server was lost"),
    _k("reconnected", "client", "the connection was re-established"),
    _k("client_error", "client", "the client library reported an error", error="its text"),
    # ------------------------------------------------------------------ server
    _k("send", "server", "the server itself sent a message (API reply, pub ack, delivery, "
       "advisory, heartbeat)", subject="subject receivers see", msg_id="its msg_id (a "
       "delivery of a stored message keeps the original's)", reply="reply subject",
       size="bytes", deliver_to_opt="subject it is routed on (an inbox, a deliver subject)"),
    _k("lost", "server", "the network lost a message", msg_id=_MSG, subject="subject",
       hop="client->server or server->client", client_opt="the client at the other end"),
    # --------------------------------------------------------------- jetstream
    _k("stream_created", "jetstream", "a stream was created", stream="the stream",
       subjects="its subjects", retention_opt="limits, interest or workqueue"),
    _k("stream_deleted", "jetstream", "a stream was deleted", stream="the stream"),
    _k("consumer_created", "jetstream", "a consumer was created", stream="the stream",
       consumer="the consumer", filter_subjects_opt="its filters ([] = all)",
       pull_opt="True: pull, False: push", deliver_subject_opt="push: where it delivers",
       deliver_group_opt="push: the queue group"),
    _k("consumer_deleted", "jetstream", "a consumer was deleted", stream="the stream",
       consumer="the consumer", reason_opt="inactive (inactive_threshold passed)"),
    _k("store", "jetstream", "a stream stored a message", stream="the stream",
       subject="subject", stream_seq="its sequence", msg_id="the publish's msg_id"),
    _k("dedup", "jetstream", "a publish was a duplicate (same Nats-Msg-Id in the window)",
       stream="the stream", subject="subject", stream_seq="the sequence stored first",
       msg_id="the duplicate publish's msg_id", nats_msg_id="the Nats-Msg-Id header"),
    _k("discard", "jetstream", "a stream dropped or refused a message", stream="the stream",
       subject="subject", reason="one of DISCARD_REASONS", stream_seq_opt="its sequence",
       msg_id_opt="the publish's msg_id", err_code_opt="rejected: the server's error code",
       description_opt="rejected: the server's words"),
    _k("source_blocked", "jetstream", "a mirror or source could not store an origin message "
       "(a limit with discard new); it tries again at its next retry",
       stream="the mirror or sourcing stream", origin="the origin stream",
       origin_seq="the origin's sequence", err_code="the server's error code"),
    _k("purge", "jetstream", "a stream was purged", stream="the stream",
       purged="messages removed"),
    _k("delete", "jetstream", "a message was deleted by the API", stream="the stream",
       stream_seq="its sequence"),
    _k("republish", "jetstream", "a stored message was republished", stream="the stream",
       subject="the republish subject", stream_seq="its sequence", msg_id_opt="the stored "
       "message's msg_id"),
    _k("js_deliver", "jetstream", "a consumer handed out a stored message (num_delivered > 1: "
       "a redelivery)", subject="the message's subject", msg_id="the stored message's msg_id",
       num_pending="messages left for the consumer", **_JS_MSG),
    _k("ack_timeout", "jetstream", "ack_wait expired for a delivered message (it will be "
       "redelivered)", stream="the stream", consumer="the consumer",
       stream_seq="stream sequence", msg_id="the stored message's msg_id",
       num_delivered="deliveries so far"),
    _k("js_ack", "jetstream", "a consumer applied an ack, nak, term or in_progress",
       stream="the stream", consumer="the consumer", stream_seq="stream sequence",
       consumer_seq="consumer sequence", msg_id="the stored message's msg_id (0: gone)",
       action="ack, nak, term or in_progress", delay_opt="nak delay (s)",
       reason_opt="term by the stream: the discard reason that removed it"),
    _k("max_deliver", "jetstream", "a message reached max_deliver: no more redeliveries",
       stream="the stream", consumer="the consumer", stream_seq="stream sequence",
       num_delivered="deliveries made", msg_id_opt="the stored message's msg_id"),
    _k("advisory", "jetstream", "a JetStream advisory was sent", subject="advisory subject",
       stream="the stream", consumer="the consumer", stream_seq_opt="stream sequence",
       deliveries_opt="deliveries made", paused_opt="pause advisory: paused now"),
    _k("consumer_reset", "jetstream", "a consumer was reset to deliver again from a sequence",
       stream="the stream", consumer="the consumer", stream_seq="the next stream sequence"),
    _k("delete_marker", "jetstream", "the last message of a subject expired and a subject "
       "delete marker is stored in its place", stream="the stream", subject="the subject",
       stream_seq="the expired message's sequence"),
    _k("not_simulated", "jetstream", "a request the simulation does not model was refused "
       "(never ignored)", feature="what is not simulated", stream_opt="the stream"),
    _k("stream_halted", "jetstream", "a replicated stream's entry failed on apply: the "
       "replica stops its RAFT peer and the stream has no leader until deleted",
       stream="the stream"),
    _k("no_interest_cleanup", "jetstream", "interest retention dropped what no consumer needs",
       stream="the stream", removed="messages removed"),
    _k("api_error", "jetstream", "a JetStream API request failed", op="the API op",
       err_code="the server's error code", description="the server's words"),
    _k("api_unanswered", "jetstream", "an API request no handler takes (no answer)",
       op="the API op"),
    # ---------------------------------------------------------------- scenario
    _k("step", "scenario", "a scenario step starts", index="step index", op="the step's op"),
    _k("step_result", "scenario", "a scenario step ended", index="step index",
       op="the step's op", result="the step's result (as in the result document)"),
    _k("stream_config", "scenario", "a stream as the server described it after add/update "
       "(both backends; for topology figures)", stream="the stream", subjects="its subjects",
       retention="limits, interest or workqueue"),
    _k("consumer_config", "scenario", "a consumer as the server described it after add "
       "(both backends; for topology figures)", stream="the stream", consumer="the consumer",
       filter_subjects="its filters ([] = all)", pull="True: pull, False: push",
       deliver_subject_opt="push: where it delivers", deliver_group_opt="push: queue group",
       ack_policy="none, all or explicit", ack_wait="seconds a delivery waits for its ack",
       max_deliver="deliveries at most (-1: no limit)",
       deliver_policy_opt="all, last, new, by_start_sequence, by_start_time or "
       "last_per_subject (for the delivery checkers)",
       opt_start_seq_opt="by_start_sequence: the first sequence"),
    _k("ack_error", "scenario", "an ack_sync in a fetch step (or a worker's ack) got no "
       "answer", stream_seq="stream sequence", error="the error's class name"),
    _k("process", "scenario", "a worker of a workers step recorded its processing of a "
       "message (the application's side effect)", client="the worker",
       msg_id="the delivered message's msg_id", stream="the stream", consumer="the consumer",
       stream_seq="stream sequence"),
    _k("worker_crash", "scenario", "a worker of a workers step crashed holding a message",
       client="the worker", msg_id="the message's msg_id", stream="the stream",
       consumer="the consumer", stream_seq="stream sequence",
       point="before_ack or after_ack"),
    _k("worker_restart", "scenario", "a crashed worker runs again", client="the worker"),
    # ----------------------------------------------------------------- cluster
    # pmesh_sim.cluster.raft (pure; every record also has group and term, the reserved fields)
    _k("raft_election", "cluster", "a peer became candidate and asked for votes",
       group_r="the RAFT group", term_r="its new term", last_index="its last log index",
       last_term="its last log term"),
    _k("raft_vote", "cluster", "a peer answered a vote request", group_r="the RAFT group",
       term_r="the voter's term", candidate="who asked", granted="True: vote given"),
    _k("raft_leader", "cluster", "a candidate won and leads", group_r="the RAFT group",
       term_r="its term", last_index="its last log index"),
    _k("raft_stepdown", "cluster", "a leader stepped down", group_r="the RAFT group",
       term_r="the term", reason="lost_quorum, higher_term, other_leader, requested or "
       "catchup_beyond_log"),
    _k("raft_append", "cluster", "an entry was appended to a peer's log",
       group_r="the RAFT group", term_r="the peer's term", log_index="the entry's index",
       entry_term="the entry's term", entry_kind="the entry's kind",
       entries="the proposals it carries (a normal entry batches those queued together)"),
    _k("raft_commit", "cluster", "the commit index moved", group_r="the RAFT group",
       term_r="the term", log_index="the new commit index"),
    _k("raft_apply", "cluster", "a committed entry was applied", group_r="the RAFT group",
       term_r="the term", log_index="the entry's index"),
    _k("raft_catchup", "cluster", "a lagging follower is brought up to date",
       group_r="the RAFT group", term_r="the term",
       phase="start, send, done, stalled or mismatch", peer_opt="send: the follower",
       leader_opt="start: the leader", first_index_opt="first index to send",
       last_index_opt="last index to send", snapshot_opt="send: a snapshot is sent first",
       log_index_opt="done/stalled/mismatch: the follower's last index"),
    _k("raft_truncate", "cluster", "a follower dropped entries that conflict with the leader's",
       group_r="the RAFT group", term_r="the term", log_index="the last index kept",
       dropped="entries dropped", dropped_terms="their terms, comma-separated"),
    _k("raft_snapshot", "cluster", "a snapshot was taken (local) or installed (leader)",
       group_r="the RAFT group", term_r="the term", log_index="its last index",
       source="local or leader"),
    _k("raft_recover", "cluster", "a restarted peer recovered its log",
       group_r="the RAFT group", term_r="the term", log_index="its last index",
       commit="the commit index it knows"),
    _k("raft_lost", "cluster", "a power loss took the entries a peer had not synced to disk",
       group_r="the RAFT group", term_r="the term it had synced", log_index="the last index "
       "it had synced (what it finds again)", lost="entries lost"),
    # sim/js_consumers.py (simulation only)
    _k("stream_catchup", "cluster", "a stream replica installed its leader's snapshot: the "
       "store drops what the snapshot no longer has and takes the later messages from the "
       "leader's store (those it no longer has stay deleted)", stream="the stream",
       leader="the leader it caught up from", first_seq="first sequence asked for",
       last_seq="the snapshot's last sequence", fetched="messages taken from the leader",
       skipped="sequences the leader no longer had"),
    _k("consumer_uncommitted_dropped", "cluster", "a deposed consumer leader dropped the "
       "changes it had decided but not seen committed: its copy went back to its take-over "
       "state plus the entries committed since", stream="the stream", consumer="the consumer",
       entries="its entries not applied yet (proposed)", log_index="the last index applied"),
    # sim/routes.py and sim/network.py (simulation only)
    _k("route_up", "cluster", "a route to a peer node opened (interest is exchanged next)",
       peer="the other node"),
    _k("route_down", "cluster", "a route to a peer node closed; its interest is forgotten",
       peer="the other node", reason="killed, peer_killed or partition"),
    _k("route_interest", "cluster", "a peer's subscription became known (RS+) or was "
       "removed (RS-) one route hop after it changed", peer="the node it lives on",
       subject="its subject", queue="its queue group ('' for none)",
       added="True: RS+, False: RS-"),
    _k("forward", "cluster", "a message was sent over a route to a peer with interest",
       peer="the receiving node", subject="subject", msg_id=_MSG,
       queues="queue groups it is for, comma-separated ('' : plain interest only)"),
    _k("link_drop", "cluster", "a link dropped a message (a partition, a dead end, the "
       "link's own loss)", src="the sending end", dst="the receiving end",
       reason="cut, down or loss"),
    # ------------------------------------------------------------------- fault
    _k("kill", "fault", "a server process was killed"),
    _k("power_loss", "fault", "a server lost power: killed, and what its file store had not "
       "synced is gone (raft_lost)"),
    _k("restart", "fault", "a server process was restarted"),
    _k("pause", "fault", "a server process was paused (it processes nothing; messages to it "
       "wait)"),
    _k("resume", "fault", "a paused server process runs again",
       released_opt="messages that had waited for it", timers_opt="its timers that had "
       "waited"),
    _k("partition", "fault", "the routes between groups of nodes were cut (node is '')",
       groups="the groups: names comma-separated, groups separated by ' | '"),
    _k("heal", "fault", "every partition was undone (node is '')"),
    _k("link", "fault", "a link's own loss and delay were set (both directions)",
       src="one end", dst="the other end", loss="loss probability", delay="extra seconds"),
    _k("stepdown", "fault", "a leader was asked to step down (the JetStream API; the meta "
       "group's: group meta)",
       stream_opt="the stream (its group, or its consumer's)", consumer_opt="the consumer",
       preferred_opt="the node asked to lead next"),
]

#: Every kind, by name.
KINDS: dict[str, Kind] = {k.name: k for k in _ALL}
assert len(KINDS) == len(_ALL), "a kind is registered twice"


def check_trace(trace: Iterable, registry: dict[str, Kind] | None = None) -> list[str]:
    """The problems of ``trace`` (a Trace or Events): unregistered kinds and fields, missing
    required fields, a ``discard`` reason or an ack action outside its set. Empty: it conforms."""
    registry = KINDS if registry is None else registry
    problems: list[str] = []
    for i, event in enumerate(trace):
        kind = registry.get(event.kind)
        if kind is None:
            problems.append(f"record {i}: unregistered kind {event.kind!r}")
            continue
        allowed = kind.allowed | RESERVED_FIELDS.keys()
        for name in event.fields:
            if name not in allowed:
                problems.append(f"record {i} ({event.kind}): unregistered field {name!r}")
        for name in sorted(kind.required - event.fields.keys()):
            problems.append(f"record {i} ({event.kind}): missing required field {name!r}")
        if event.kind == "discard" and event.fields.get("reason") not in DISCARD_REASONS:
            problems.append(f"record {i} (discard): reason {event.fields.get('reason')!r} is "
                            "not one of DISCARD_REASONS")
        if event.kind in ("ack", "js_ack") and event.fields.get("action") not in ACK_ACTIONS:
            problems.append(f"record {i} ({event.kind}): action "
                            f"{event.fields.get('action')!r} is not one of {ACK_ACTIONS}")
    return problems


def kinds_markdown() -> str:
    """``docs/trace.md``: every layer's kinds as tables, generated from :data:`KINDS`."""
    lines = ["# Trace kinds", "",
             "Generated from `pmesh_sim/trace_kinds.py` by `kinds_markdown()`; "
             "`tests/test_trace_schema.py` fails when this file is not current.", "",
             "Every record is `time`, `kind` and fields. A field marked *(optional)* may be "
             "absent; the others are always there. Every record has `node`.", "",
             "**One message id.** `msg_id` is given when a client publishes (`publish`). The "
             "stored copy (`store`, `dedup`, `discard`), every JetStream delivery of it "
             "(`js_deliver` on the server, `deliver` at the client: the original publish's "
             "msg_id, not a new one) and every ack of it (`ack` at the client, `js_ack` on the "
             "server) carry the same `msg_id`. Other server-originated messages (API replies, "
             "pub acks, advisories, heartbeats) get fresh ids. The real backend numbers its "
             "own publishes, maps `(stream, stream_seq)` to msg_id from pub acks, and matches "
             "a core delivery to the last publish with the same subject and payload.", ""]
    for layer, about in LAYERS.items():
        lines += [f"## {layer}", "", about[0].upper() + about[1:] + ".", ""]
        kinds = [k for k in _ALL if k.layer == layer]
        for k in kinds:
            lines += [f"### `{k.name}`", "", k.meaning[0].upper() + k.meaning[1:] + ".", "",
                      "| field | meaning |", "|---|---|"]
            for name, meaning in k.fields.items():
                opt = " *(optional)*" if name.endswith("?") else ""
                lines.append(f"| `{name.rstrip('?')}` | {meaning}{opt} |")
            lines.append("")
        if layer == "cluster":
            lines += ["Reserved fields (any kind may carry them once clustering is simulated):",
                      "", "| field | meaning |", "|---|---|"]
            lines += [f"| `{n}` | {m} |" for n, m in RESERVED_FIELDS.items()]
            lines.append("")
    lines += ["## `discard` reasons", "", "| reason | meaning |", "|---|---|"]
    lines += [f"| `{n}` | {m} |" for n, m in DISCARD_REASONS.items()]
    lines.append("")
    return "\n".join(lines)

"""JetStream on one server, as plain messages in and out: the API, publishes, pulls and acks.

No SimPy: the host feeds each arriving message to :meth:`JetStream.handle` with the time, sends
what it returns, and calls :meth:`JetStream.on_timer` at :meth:`JetStream.next_deadline`.

>>> js = JetStream()
>>> out = js.handle("$JS.API.STREAM.CREATE.S", "_INBOX.1", b'{"name":"S","subjects":["s.>"]}', None, now=0.0)
>>> json.loads(out[0].data)["config"]["subjects"]
['s.>']
>>> json.loads(js.handle("s.1", "_INBOX.2", b"hi", None, now=0.0)[0].data)
{'stream': 'S', 'seq': 1}
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from ..config import (EPHEMERAL_INACTIVE_THRESHOLD, MAX_NAME_LEN, AckPolicy, ConsumerConfig,
                      RetentionPolicy, StorageType, StreamConfig, check_consumer_config,
                      check_consumer_update, check_stream_config, check_stream_update,
                      go_equal, subjects_collide)
from ..errors import JetStreamError, NotSimulatedError
from ..gojson import _json_kind, request_error, syntax_error
from ..subjects import subject_matches
from .consumer import API_ANSWER, API_ERROR, Consumer, Outgoing, status
from .answer import (JS_API_LEVEL, consumer_config, consumer_metadata, go_marshal,
                     stream_config, stream_metadata)
from .pull import NS
from .direct import direct_get, direct_subjects, msg_get
from .sourcing import ORIGIN_LIMITS, Sourcing, check_origins, refuse_origin
from .stream import Stream, _rfc3339, encode_headers, row_emitter
from .surface import api_status, check_consumer_values, not_simulated_reply, refused_headers

__all__ = ["ERROR_RESPONSES", "JetStream", "Outgoing", "error_response", "with_cluster"]

API = "$JS.API."
_INF = float("inf")
_new_tuple = tuple.__new__      # builds an Outgoing without its Python-level __new__

#: The request subjects the server's JetStream API has a handler for (jetstream_api.go, the
#: ``pairs`` and ``infopairs`` of setJetStreamExportSubs), without the ``$JS.API.`` prefix.
API_HANDLERS = (
    "INFO", "STREAM.CREATE.*", "STREAM.UPDATE.*", "STREAM.DELETE.*", "STREAM.PURGE.*",
    "STREAM.SNAPSHOT.*", "STREAM.RESTORE.*", "STREAM.PEER.REMOVE.*", "STREAM.PEER.EVACUATE.*",
    "STREAM.CANCEL_MOVE.*", "STREAM.LEADER.STEPDOWN.*", "CONSUMER.LEADER.STEPDOWN.*.*",
    "STREAM.MSG.DELETE.*", "STREAM.MSG.GET.*", "CONSUMER.CREATE.*.>", "CONSUMER.CREATE.*",
    "CONSUMER.DURABLE.CREATE.*.*", "CONSUMER.DELETE.*.*", "CONSUMER.PAUSE.*.*",
    "CONSUMER.UNPIN.*.*", "STREAM.NAMES", "STREAM.LIST", "STREAM.INFO.*", "CONSUMER.NAMES.*",
    "CONSUMER.LIST.*", "CONSUMER.INFO.*.*")

#: What the server listens on. The account imports all of ``$JS.API.>``, so any API request is
#: taken, and one that no handler takes gets no answer (the requester times out), except pull
#: requests: ``$JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>`` reaches only the consumer's own
#: subscription, so a pull to a consumer that does not exist reaches nobody (503 no responders),
#: as measured on nats-server 2.15.1; likewise ``$JS.API.DIRECT.GET.<stream>[.>]`` is heard only
#: for a stream with allow_direct (see :mod:`.direct`). Here: every ``$JS.API`` family but
#: ``CONSUMER.MSG`` and ``DIRECT``; :meth:`JetStream.interest` adds each consumer's MSG.NEXT
#: subject, its ack subjects (not for ack policy none: an ack to it reaches nobody) and each
#: allow_direct stream's direct-get subjects.
API_SUBJECTS = frozenset({
    "$JS.API.*", "$JS.API.STREAM.>", "$JS.API.ACCOUNT.>", "$JS.API.META.>", "$JS.API.SERVER.>",
    "$JS.API.CONSUMER.*", *(f"$JS.API.CONSUMER.{family}.>" for family in (
        "CREATE", "DURABLE", "NAMES", "LIST", "INFO", "DELETE", "LEADER", "PAUSE", "UNPIN",
        "RESET"))})


_PAGED = {"total": 0, "offset": 0, "limit": 0}
SUBJECT_DETAILS = 100_000   # JSMaxSubjectDetails: a stream info's page of subjects

#: Requests whose handler wants an empty body (isEmptyRequest; else 10038).
EMPTY_ONLY = frozenset({"STREAM.DELETE", "CONSUMER.INFO", "CONSUMER.DELETE"})
_PAGING = {"offset": "int"}
#: Requests whose handler reads the body only when it is a JSON object or array
#: (isJSONObjectOrArray), with their Go request struct and its fields' Go types.
REQUEST_TYPES: dict[str, tuple[str, dict[str, str]]] = {
    "STREAM.NAMES": ("JSApiStreamNamesRequest", {**_PAGING, "subject": "string"}),
    "STREAM.LIST": ("JSApiStreamListRequest", {**_PAGING, "subject": "string"}),
    "STREAM.INFO": ("JSApiStreamInfoRequest", {**_PAGING, "deleted_details": "bool",
                                               "subjects_filter": "string"}),
    "STREAM.PURGE": ("JSApiStreamPurgeRequest", {"filter": "string", "seq": "uint64",
                                                 "keep": "uint64"}),
    "CONSUMER.NAMES": ("JSApiConsumersRequest", _PAGING),
    "CONSUMER.LIST": ("JSApiConsumersRequest", _PAGING),
    "CONSUMER.PAUSE": ("JSApiConsumerPauseRequest", {"pause_until": "time.Time"}),
}

#: The Go request type other requests with a body are read into (for Go's words on a body
#: that is not a JSON object).
REQUEST_STRUCTS = {"STREAM.CREATE": "StreamConfigRequest", "STREAM.UPDATE": "StreamConfigRequest",
                   "CONSUMER.CREATE": "CreateConsumerRequest",
                   "CONSUMER.DURABLE": "CreateConsumerRequest",
                   "STREAM.MSG.GET": "JSApiMsgGetRequest",
                   "STREAM.MSG.DELETE": "JSApiMsgDeleteRequest"}

#: Per request kind (longest prefix of the op after ``$JS.API.``): the response ``type`` and the
#: fields the server's response struct marshals beside ``error`` when a request fails (its
#: fields without ``omitempty``, at their zero values), as measured on nats-server 2.15.1.
ERROR_RESPONSES: dict[str, tuple[str, dict[str, Any]]] = {
    "INFO": ("account_info_response", {}),
    "STREAM.CREATE": ("stream_create_response", {}),
    "STREAM.UPDATE": ("stream_update_response", {}),
    "STREAM.DELETE": ("stream_delete_response", {}),
    "STREAM.PURGE": ("stream_purge_response", {"purged": 0}),
    "STREAM.INFO": ("stream_info_response", _PAGED),
    "STREAM.NAMES": ("stream_names_response", {**_PAGED, "streams": None}),
    "STREAM.LIST": ("stream_list_response", {**_PAGED, "streams": []}),
    "STREAM.MSG.GET": ("stream_msg_get_response", {}),
    "STREAM.MSG.DELETE": ("stream_msg_delete_response", {}),
    "STREAM.SNAPSHOT": ("stream_snapshot_response", {}),
    "STREAM.RESTORE": ("stream_restore_response", {"deliver_subject": ""}),
    "STREAM.LEADER.STEPDOWN": ("stream_leader_stepdown_response", {}),
    "STREAM.PEER.REMOVE": ("stream_remove_peer_response", {}),
    "STREAM.PEER.EVACUATE": ("stream_evacuate_peer_response", {}),
    "STREAM.CANCEL_MOVE": ("stream_cancel_move_response", {}),
    "CONSUMER.CREATE": ("consumer_create_response", {}),
    "CONSUMER.DURABLE": ("consumer_create_response", {}),
    "CONSUMER.DELETE": ("consumer_delete_response", {}),
    "CONSUMER.INFO": ("consumer_info_response", {}),
    "CONSUMER.NAMES": ("consumer_names_response", {**_PAGED, "consumers": []}),
    "CONSUMER.LIST": ("consumer_list_response", {**_PAGED, "consumers": []}),
    "CONSUMER.PAUSE": ("consumer_pause_response",
                       {"paused": False, "pause_until": "0001-01-01T00:00:00Z"}),
    "CONSUMER.UNPIN": ("consumer_unpin_response", {}),
    "CONSUMER.RESET": ("consumer_reset_response", {"reset_seq": 0}),
    "CONSUMER.LEADER.STEPDOWN": ("consumer_leader_stepdown_response", {}),
    "META.LEADER.STEPDOWN": ("meta_leader_stepdown_response", {}),
}


def error_response(tokens: list[str], err: JetStreamError) -> dict[str, Any]:
    """The body the server answers a failed API request with: the response type of the
    request's kind, the error, then that response's fields that are always marshalled.

    >>> from pmesh_sim.errors import StreamNotFoundError
    >>> error_response(["STREAM", "INFO", "NOPE"], StreamNotFoundError())
    ... # doctest: +NORMALIZE_WHITESPACE
    {'type': 'io.nats.jetstream.api.v1.stream_info_response',
     'error': {'code': 404, 'err_code': 10059, 'description': 'stream not found'},
     'total': 0, 'offset': 0, 'limit': 0}
    """
    for n in (3, 2, 1):
        found = ERROR_RESPONSES.get(".".join(tokens[:n]))
        if found is not None:
            kind, extra = found
            return {"type": f"io.nats.jetstream.api.v1.{kind}", "error": err.to_dict(), **extra}
    return {"type": "io.nats.jetstream.api.v1.error", "error": err.to_dict()}


def _reply(to: str, body: dict, api: int = 0) -> list[Outgoing]:
    """A reply to ``to``, as the server's ``json.Marshal`` writes it; ``api``: whether the
    account counts it as an API answer (:data:`API_ANSWER`) or error (:data:`API_ERROR`).

    >>> _reply("r", {"stream": "S", "seq": 1})[0].data
    b'{"stream":"S","seq":1}'
    """
    if not to:
        return []
    return [Outgoing(to, "", go_marshal(body), None, api=api)]


class JetStream:
    """Every stream and consumer of one server, answering the server's wire protocol.

    ``emit(kind, **fields)`` is the trace, ``emit_row(kind, keys, *values)`` its form for the
    hot records (:func:`~.stream.row_emitter`; by default through ``emit``);
    ``has_interest(subject, queue=None)`` tells push consumers whether a client listens on
    their deliver subject (with ``queue``: a queue subscriber of that group); the host calls
    :meth:`on_interest_change` when that may change.
    ``epoch_ns`` is the date virtual time 0 stands for (nanoseconds since 1970): message
    timestamps, ``opt_start_time`` and every time in an answer count from it. ``server_name``:
    the leader a single server names in stream info's ``cluster``.
    """

    def __init__(self, emit: Callable[..., None] | None = None,
                 has_interest: Callable[..., bool] | None = None, *, peers: int = 1,
                 epoch_ns: int = 0, emit_row: Callable[..., None] | None = None,
                 server_name: str = ""):
        self.emit = emit or (lambda kind, **fields: None)
        self.emit_row = emit_row or row_emitter(self.emit)
        self.epoch_ns = epoch_ns
        self.has_interest = has_interest or (lambda subject, queue=None: False)
        self.peers = peers
        self.server_name = server_name
        #: ``cluster_info(stream_name, now) -> dict`` for stream info's ``cluster`` (set by a
        #: clustered host; None on a single server, which names only itself as the leader)
        self.cluster_info: Callable[[str, float], dict] | None = None
        #: ``consumer_cluster_info(stream_name, consumer_name, now) -> dict`` for consumer
        #: info's ``cluster`` (a clustered host; None on a single server)
        self.consumer_cluster_info: Callable[[str, str, float], dict] | None = None
        #: a clustered host places streams itself (placement tags); else they are refused
        self.host_places = False
        self.streams: dict[str, Stream] = {}
        self.interest_version = 0
        self._interest: set[str] = set(API_SUBJECTS)
        self._ephemeral_count = 0
        #: API answers sent, and how many were errors (account info's ``api``): the host
        #: counts each :class:`Outgoing` with ``api`` set as it sends it (trackAPI)
        self.api_total = self.api_errors = 0
        #: a clustered host's ``usage() -> (memory, storage, api_total, api_errors)``: its own
        #: and what the other nodes last reported; None on a single server (its own figures)
        self.usage: Callable[[], tuple[int, int, int, int]] | None = None
        self._route_cache: dict[str, Stream | None] = {}
        # deadline bookkeeping (see wakes_before): the earliest timer any stream or consumer
        # added since the last next_deadline(), shared with them as a one-item list
        self._wake = [_INF]
        self._volatile = True    # an API request or a push consumer: ask everyone
        self._has_push = False
        #: the mirrors and sources of every stream, and the timers they read on
        self.sourcing = Sourcing(self.streams, self._wake, epoch_ns)

    # --------------------------------------------------------------- interest
    def interest(self) -> set[str]:
        """The subjects the server must deliver here."""
        return set(self._interest)

    def _refresh_interest(self) -> None:
        subjects = set(API_SUBJECTS)
        for st in self.streams.values():
            subjects.update(st.config.subjects)
            subjects.update(direct_subjects(st))   # only with allow_direct
            for c in st.consumers.values():
                subjects.add(f"{API}CONSUMER.MSG.NEXT.{st.name}.{c.name}")
                if c.config.ack_policy != AckPolicy.NONE:   # consumer.go: no acks, no ack sub
                    subjects.add(f"$JS.ACK.{st.name}.{c.name}.*.*.*.*.*")
                    subjects.add(f"$JS.ACK.*.*.{st.name}.{c.name}.*.*.*.*.>")
                if c.flow is not None:   # consumer.go: the flow-control answers' subscription
                    subjects.add(f"$JS.FC.{st.name}.{c.name}.*")
        self._route_cache.clear()
        self._has_push = any(not c.is_pull for st in self.streams.values()
                             for c in st.consumers.values())
        if subjects != self._interest:
            self._interest = subjects
            self.interest_version += 1

    def stream_for(self, subject: str) -> Stream | None:
        """The stream whose subjects cover ``subject``."""
        cache = self._route_cache
        if subject in cache:
            return cache[subject]
        found = next((st for st in self.streams.values() if st.covers(subject)), None)
        if len(cache) > 4096:
            cache.clear()
        cache[subject] = found
        return found

    # ---------------------------------------------------------------- dispatch
    def handle(self, subject: str, reply: str, data: bytes, headers: dict | None,
               now: float, msg_id: int = 0) -> list[Outgoing]:
        """One arriving message; returns the messages to send in answer. ``msg_id``: the
        trace's id of the arriving message (a stored message keeps it)."""
        if subject.startswith("$JS.ACK."):
            return self._ack(subject, reply, data, now)
        if subject.startswith("$JS.FC."):
            return self._flow_answer(subject, now)
        if subject.startswith(API):
            return self._api(subject[len(API):], reply, data, now)
        st = self.stream_for(subject)
        if st is None:
            return []
        return self._publish(st, subject, reply, data, headers, now, msg_id)

    def _publish(self, st: Stream, subject, reply, data, headers, now, msg_id=0
                 ) -> list[Outgoing]:
        if headers and (refused := refused_headers(headers)):
            return self._not_simulated(reply, f"header {refused[0]!r}", stream=st.name)
        if st.config.no_ack:   # stream.go: canRespond := !mset.cfg.NoAck && len(reply) > 0
            reply = ""
        if st.config.subject_transform is not None:
            subject = st.transform_in(subject)
        republish = None
        if st.config.republish is not None:
            # the subject's previous sequence is read before the store (processJetStreamMsg)
            target = st.republish_subject(subject)
            if target is not None:
                republish = target, st.last_for_subject(subject)
        try:
            seq, dup = st.publish(subject, data, headers, now, msg_id)
        except JetStreamError as err:
            return _reply(reply, {"error": err.to_dict(), "stream": st.name, "seq": 0})
        if dup:   # stream.go: the pub ack's prefix, then `,"duplicate": true}` (with its space)
            return [Outgoing(reply, "", b'%s%d,"duplicate": true}' % (st.puback_prefix, seq),
                             None)] if reply else []
        out = []
        if republish is not None and seq in st.msgs:   # stored (not skipped for no interest)
            out.append(_republished(st, st.msgs[seq], *republish))
        # the pub ack, byte for byte the server's {"stream":"NAME","seq":N} without encoding
        if reply:
            out.append(_new_tuple(Outgoing, (reply, "", b"%s%d}" % (st.puback_prefix, seq),
                                             None, None, 0, 0)))   # Outgoing(...), in short
        return out + self._signal(st, subject, seq, now)

    @staticmethod
    def _signal(st: Stream, subject: str, seq: int, now: float) -> list[Outgoing]:
        """stream.go signalConsumers: a stored message wakes the consumers it matches."""
        out: list[Outgoing] = []
        for c in st.consumers.values():
            if c.filters and not c.matches(subject):
                continue
            if seq < c.sseq:     # by_start_sequence past the end: counted, never delivered
                c.npc_extra += 1
            elif c.waiting or not c.is_pull:
                out.extend(c.deliver(now))
        return out

    def _flow_answer(self, subject: str, now: float) -> list[Outgoing]:
        tokens = subject.split(".")
        st = self.streams.get(tokens[2]) if len(tokens) == 5 else None
        c = st.consumers.get(tokens[3]) if st else None
        return c.on_flow_control(subject, now) if c is not None else []

    def _ack(self, subject, reply, data, now) -> list[Outgoing]:
        tokens = subject.split(".")
        stream, consumer = (tokens[2], tokens[3]) if len(tokens) == 9 else (tokens[4], tokens[5])
        st = self.streams.get(stream)
        c = st.consumers.get(consumer) if st else None
        if c is None:
            return []
        return c.on_ack(subject, data, reply, now, tokens)

    def _api(self, op: str, reply: str, data: bytes, now: float) -> list[Outgoing]:
        tokens = op.split(".")
        kind = ".".join(tokens[:2])
        if kind == "CONSUMER.MSG":    # a pull request: its expiry timer marks _wake itself
            if tokens[2:3] == ["NEXT"] and len(tokens) == 5:
                return self._next(tokens[3], tokens[4], reply, data, now)
            return []
        if kind == "CONSUMER.RESET" and len(tokens) == 4:   # the consumer's own subscription:
            return self._reset(tokens, reply, data, now)      # taken, unanswered without one
        self._volatile = True
        if kind == "DIRECT.GET" and len(tokens) > 2:
            st = self.streams.get(tokens[2])
            if st is None or not st.config.allow_direct:   # nobody listens (no responders)
                return []
            return direct_get(st, ".".join(tokens[2:]), reply, data, self.emit)
        if api_status(op) == "not_simulated":
            return self._not_simulated(reply, f"API $JS.API.{'.'.join(tokens[:2])}")
        if not any(subject_matches(p, op) for p in API_HANDLERS):
            # apiDispatch: no handler takes it, and an imported request gets no answer
            self.emit("api_unanswered", op=op)
            return []
        try:
            body = self._request(kind, data, ".".join(tokens[:3]))
            handler = {
                "STREAM.CREATE": self._stream_create, "STREAM.UPDATE": self._stream_update,
                "STREAM.DELETE": self._stream_delete, "STREAM.INFO": self._stream_info,
                "STREAM.PURGE": self._stream_purge, "STREAM.MSG": self._stream_msg,
                "CONSUMER.CREATE": self._consumer_create,
                "CONSUMER.DURABLE": self._consumer_create,
                "CONSUMER.DELETE": self._consumer_delete, "CONSUMER.INFO": self._consumer_info,
                "CONSUMER.PAUSE": self._consumer_pause,
                "STREAM.NAMES": self._stream_names, "INFO": self._account_info,
                "STREAM.LIST": self._stream_list,
                "CONSUMER.NAMES": self._consumer_names, "CONSUMER.LIST": self._consumer_list,
            }.get(kind)
            if handler is None:
                raise JetStreamError.from_err_code(10003)
            result = handler(tokens, body, now)
        except NotSimulatedError as err:
            return self._not_simulated(reply, err.feature)
        except JetStreamError as err:
            self.emit("api_error", op=op, err_code=err.err_code, description=err.description)
            return _reply(reply, error_response(tokens, err), API_ERROR)
        # a found message skips the API layer (jsMsgGetRequest), so the account does not count it
        api = 0 if kind == "STREAM.MSG" and tokens[2:3] == ["GET"] else API_ANSWER
        out = _reply(reply, result if isinstance(result, dict) else result[0], api)
        if isinstance(result, tuple):
            out.extend(result[1])
        return out

    def _not_simulated(self, reply: str, feature: str, **fields) -> list[Outgoing]:
        """Refuse what the simulation does not model (see :mod:`.surface`): never ignore it."""
        self.emit("not_simulated", feature=feature, **fields)
        return [not_simulated_reply(reply, feature)] if reply else []

    @classmethod
    def _request(cls, kind: str, data: bytes, kind3: str = "") -> dict:
        """The body of an API request of ``kind`` (``kind3``: its first three tokens), read
        as its handler reads it: some want none (isEmptyRequest: 10038), some read only a
        JSON object or array (isJSONObjectOrArray), each field in its Go type (10025)."""
        if kind in EMPTY_ONLY:
            if not _is_empty_request(data):
                raise JetStreamError.from_err_code(10038)
            return {}
        if kind in REQUEST_TYPES:
            if data.lstrip(b" \t\r\n")[:1] not in (b"{", b"["):
                return {}
            struct, types = REQUEST_TYPES[kind]
            body = cls._body(data, struct)
            go_error = request_error(struct, types, body)
            if go_error:
                raise JetStreamError.from_err_code(10025, err=go_error)
            return body
        return cls._body(data, REQUEST_STRUCTS.get(kind3) or REQUEST_STRUCTS.get(kind))

    @staticmethod
    def _body(data: bytes, struct: str | None = None) -> dict:
        """The request's JSON object (null or nothing: empty); ``struct``: the Go request
        type the server reads it into, named when the JSON is another kind of value."""
        if not data or not data.strip():
            return {}
        try:
            body = json.loads(data)
        except ValueError as err:
            raise JetStreamError.from_err_code(10025, err=syntax_error(err)) from None
        if body is None:
            return {}
        if not isinstance(body, dict):
            raise JetStreamError.from_err_code(10025, err=(
                f"json: cannot unmarshal {_json_kind(body)} into Go value of type "
                f"server.{struct}" if struct else "expected a JSON object"))
        if body.get("pedantic"):
            raise NotSimulatedError("request field 'pedantic'")
        return body

    def _stream(self, name: str) -> Stream:
        st = self.streams.get(name)
        if st is None:
            raise JetStreamError.from_err_code(10059)
        return st

    # ----------------------------------------------------------------- streams
    def _stream_create(self, tokens, body, now):
        name = tokens[2]
        cfg = StreamConfig.from_wire(body)
        if cfg.name != name:   # a config without a name too (jsStreamCreateRequest)
            raise JetStreamError.from_err_code(10056)
        if "/" in name or "\\" in name:
            raise JetStreamError.from_err_code(10128)
        if cfg.sealed:
            raise JetStreamError.from_err_code(10052, err="stream configuration for create can not be sealed")
        cfg = self._placed(check_stream_config(cfg, clustered=self.peers > 1))
        cfg.metadata = stream_metadata(cfg)
        check_origins(cfg, self.streams, self.peers)
        existing = self.streams.get(name)
        if existing is not None:
            if not go_equal(existing.config, cfg):
                raise JetStreamError.from_err_code(10058)
            # jsStreamCreateRequest: did_create follows any success, the same config too
            return {**self._stream_answer("create", existing, now), "did_create": True}
        self._check_overlap(cfg, None)
        refuse_origin(name, self.streams)
        st = Stream(cfg, created=now, emit=self.emit, epoch_ns=self.epoch_ns,
                    emit_row=self.emit_row)
        st.wake = self._wake
        self.streams[name] = st
        self.sourcing.configure(st, now)
        self._refresh_interest()
        self.emit("stream_created", stream=name, subjects=list(cfg.subjects),
                  retention=cfg.retention.value)
        return {**self._stream_answer("create", st, now), "did_create": True}

    def _placed(self, cfg: StreamConfig) -> StreamConfig:
        """The cluster's placement rule: ``num_replicas`` needs as many JetStream servers.

        An interim until clustering is simulated: ``peers`` (the cluster size) only decides
        which configs are accepted; every replica's state is this one object. A single server
        takes any ``placement`` and places the stream on itself, as nats-server does; placing
        by cluster name or tags in a cluster is not simulated.
        """
        if self.peers > 1 and cfg.placement and not self.host_places and (
                cfg.placement.get("cluster") or cfg.placement.get("tags")):
            raise NotSimulatedError("stream config field 'placement' in a cluster")
        if self.peers > 1 and cfg.num_replicas > self.peers:
            raise JetStreamError.from_err_code(10005, err="no suitable peers for placement")
        return cfg

    def _check_overlap(self, cfg: StreamConfig, own: str | None) -> None:
        for other in self.streams.values():
            if other.name == own:
                continue
            if any(subjects_collide(a, b) for a in cfg.subjects for b in other.config.subjects):
                raise JetStreamError.from_err_code(10065)

    def _stream_update(self, tokens, body, now):
        name = tokens[2]
        new = StreamConfig.from_wire(body)
        # jsStreamUpdateRequest: the config alone is checked before the name and the lookup
        checked = check_stream_config(new, clustered=self.peers > 1)
        if new.name != name:
            raise JetStreamError.from_err_code(10056)
        check_origins(checked, self.streams, self.peers)
        st = self._stream(name)
        cfg = self._placed(check_stream_update(st.config, new, clustered=self.peers > 1))
        cfg.metadata = stream_metadata(cfg)
        self._check_overlap(cfg, name)
        if cfg.retention != RetentionPolicy.LIMITS and self.sourcing.is_origin(name):
            raise NotSimulatedError(f"{cfg.retention.value} retention on stream {name!r}, the "
                                    "origin of a mirror or source")
        if cfg.consumer_limits is not None and self.sourcing.is_origin(name):
            raise NotSimulatedError(ORIGIN_LIMITS.format(name))
        became_interest = (cfg.retention == RetentionPolicy.INTEREST
                           and st.config.retention != RetentionPolicy.INTEREST)
        st.config = cfg
        for c in st.consumers.values():   # consumer.go isFiltered reads the current subjects
            c.filters = c._effective_filters(c.config)
        self.sourcing.configure(st, now)
        self._refresh_interest()
        st._enforce_limits_all(now)
        st.expire(now)   # filestore.go UpdateConfig: expireMsgs() before the reply
        if became_interest:
            st.drop_acked(now)
        return self._stream_answer("update", st, now)

    def _stream_delete(self, tokens, body, now):
        st = self._stream(tokens[2])
        out = []
        for c in list(st.consumers.values()):
            out.extend(c.delete())
        del self.streams[st.name]
        self.sourcing.origin_deleted(st.name)   # mirrors and sources keep what they copied
        self._refresh_interest()
        self.emit("stream_deleted", stream=st.name)
        return {"type": "io.nats.jetstream.api.v1.stream_delete_response", "success": True}, out

    def _stream_answer(self, kind: str, st: Stream, now: float) -> dict:
        """The answer to a stream ``create``, ``update`` or ``info``: the stream's info with
        the server's version in its config's metadata and ``cluster`` after ``state``
        (StreamInfo's order): in a cluster always, on one server in info only (naming
        itself the leader); info pages (0, 0, 0 without a subjects filter)."""
        info = self.sourcing.info(st, now)
        info["config"] = stream_config(st.config, versioned=True)
        if self.cluster_info is not None:
            info = with_cluster(info, self.cluster_info(st.name, now))
        elif kind == "info":
            info = with_cluster(info, {"leader": self.server_name} if self.server_name else {})
        return {"type": f"io.nats.jetstream.api.v1.stream_{kind}_response",
                **(_PAGED if kind == "info" else {}), **info}

    def _stream_info(self, tokens, body, now):
        """jsStreamInfoRequest: ``subjects_filter`` adds the count of each subject it matches
        (a page of up to 100000 from ``offset``, sorted), ``deleted_details`` the sequences
        missing between first and last."""
        st = self._stream(tokens[2])
        answer = self._stream_answer("info", st, now)
        state = answer["state"]
        subjects: dict[str, int] | None = None
        if body.get("subjects_filter"):
            found = sorted(s for s in st.subj_count
                           if subject_matches(body["subjects_filter"], s))
            if found:
                offset = max(0, body.get("offset") or 0)
                answer.update(total=len(found), offset=offset, limit=SUBJECT_DETAILS)
                page = found[offset:offset + SUBJECT_DETAILS]
                subjects = {s: st.subj_count[s] for s in page} or None
        deleted = None
        if body.get("deleted_details") and state.get("num_deleted"):
            deleted = [q for q in range(state["first_seq"], state["last_seq"] + 1)
                       if q not in st.msgs]
        order = ("messages", "bytes", "first_seq", "first_ts", "last_seq", "last_ts",
                 "num_subjects", "subjects", "num_deleted", "deleted", "consumer_count")
        state.update(subjects=subjects, deleted=deleted)
        answer["state"] = {k: state[k] for k in order if state.get(k) is not None}
        return answer

    def _names(self, body) -> list[str]:
        """The streams' names in order, those whose subjects meet ``subject`` if given."""
        names = sorted(self.streams)
        if body.get("subject"):
            names = [n for n in names if any(
                subject_matches(p, body["subject"]) or subject_matches(body["subject"], p)
                for p in self.streams[n].config.subjects)]
        return names

    def _stream_names(self, tokens, body, now):
        names = self._names(body)
        return {"type": "io.nats.jetstream.api.v1.stream_names_response", "total": len(names),
                "offset": 0, "limit": 1024, "streams": names or None}

    def _stream_list(self, tokens, body, now):
        """jsStreamListRequest: every stream's info, by name, 256 from ``offset``."""
        names = self._names(body)
        offset = min(max(0, int(body.get("offset") or 0)), len(names))
        return {"type": "io.nats.jetstream.api.v1.stream_list_response", "total": len(names),
                "offset": offset, "limit": 256,
                "streams": [self.sourcing.info(self.streams[n], now)
                            for n in names[offset:offset + 256]]}

    def _account_info(self, tokens, body, now):
        """jsAccountInfoRequest on one server (``Account.JetStreamUsage``): bytes stored and
        reserved (``max_bytes``) by storage type, and the API requests answered before this
        one (errors among them)."""
        reserved = {"memory": 0, "file": 0}
        for st in self.streams.values():
            reserved[st.config.storage.value] += max(st.config.max_bytes, 0)
        memory, storage, total, errors = (self.usage or self.local_usage)()
        return {"type": "io.nats.jetstream.api.v1.account_info_response",
                "memory": memory, "storage": storage,
                "reserved_memory": reserved["memory"], "reserved_storage": reserved["file"],
                "streams": len(self.streams),
                "consumers": sum(len(s.consumers) for s in self.streams.values()),
                "limits": {"max_memory": -1, "max_storage": -1, "max_streams": -1,
                           "max_consumers": -1, "max_ack_pending": -1,
                           "memory_max_stream_bytes": -1, "storage_max_stream_bytes": -1,
                           "max_bytes_required": False},
                "api": {"level": JS_API_LEVEL, "total": total, "errors": errors}}

    def local_usage(self) -> tuple[int, int, int, int]:
        """This server's memory and file bytes stored, API answers sent and errors among them.

        >>> JetStream().local_usage()
        (0, 0, 0, 0)
        """
        memory = storage = 0
        for st in self.streams.values():
            if st.config.storage is StorageType.MEMORY:
                memory += st.bytes
            else:
                storage += st.bytes
        return memory, storage, self.api_total, self.api_errors

    def _stream_purge(self, tokens, body, now):
        if (body.get("seq") or 0) > 0 and (body.get("keep") or 0) > 0:
            raise JetStreamError.from_err_code(10003)   # jsStreamPurgeRequest, before the lookup
        st = self._stream(tokens[2])
        if st.config.sealed:
            raise JetStreamError.from_err_code(10109)
        if st.config.deny_purge:
            raise JetStreamError.from_err_code(10110, err="stream purge not permitted")
        n = st.purge(subject=body.get("filter") or None, seq=body.get("seq") or None,
                     keep=body.get("keep") or None, now=now)
        self.emit("purge", stream=st.name, purged=n)
        return {"type": "io.nats.jetstream.api.v1.stream_purge_response", "success": True,
                "purged": n}

    def _stream_msg(self, tokens, body, now):
        if tokens[2] == "GET":
            return msg_get(lambda: self._stream(tokens[3]), body)
        st = self._stream(tokens[3])
        if tokens[2] == "DELETE":
            if st.config.sealed:
                raise JetStreamError.from_err_code(10109)
            if st.config.deny_delete:
                raise JetStreamError.from_err_code(10057, err="message delete not permitted")
            seq = int(body.get("seq", 0))
            if not st.remove(seq):
                # the store's own error (memstore RemoveMsg / filestore deleteMsg)
                # memory: always 10043; file (filestore removeMsg): a sequence inside
                # first..last answers (false, nil) -> 10043, else the store's error
                if (st.config.storage == StorageType.MEMORY
                        or 0 < st._first() <= seq <= st.last_seq):
                    raise JetStreamError.from_err_code(10043, seq=seq)
                raise JetStreamError.from_err_code(
                    10057, err="stream store EOF" if seq > st.last_seq else "no message found")
            self.emit("delete", stream=st.name, stream_seq=seq)
            return {"type": "io.nats.jetstream.api.v1.stream_msg_delete_response", "success": True}
        raise JetStreamError.from_err_code(10003)

    # --------------------------------------------------------------- consumers
    def _consumer_create(self, tokens, body, now):
        # CONSUMER.CREATE.<stream>[.<name>[.<filter>]] or CONSUMER.DURABLE.CREATE.<stream>.<name>;
        # the checks in jsConsumerCreateRequest's order, then addConsumer's
        cfg = ConsumerConfig.from_wire(body.get("config") or {})
        if tokens[1] == "DURABLE":
            kind, stream_name = "durable", tokens[3]
            if len(tokens) != 5:
                raise JetStreamError.from_err_code(10016)
            subject_name, filtered = tokens[4], ""
        elif len(tokens) == 3:
            kind, stream_name, subject_name, filtered = "ephemeral", tokens[2], cfg.name or "", ""
        else:
            kind, stream_name, subject_name = "new", tokens[2], tokens[3]
            filtered = ".".join(tokens[4:])
        if body.get("stream_name") != stream_name:   # a request without it too
            raise JetStreamError.from_err_code(10056)
        if subject_name and ("/" in subject_name or "\\" in subject_name):
            raise JetStreamError.from_err_code(10127)
        if kind == "durable":
            if not cfg.durable_name:
                raise JetStreamError.from_err_code(10018)
            if cfg.durable_name != subject_name:
                raise JetStreamError.from_err_code(10017)
            cfg.name = subject_name
        elif kind == "new":
            if cfg.durable_name and cfg.durable_name != subject_name:
                raise JetStreamError.from_err_code(10017)
            cfg.name = subject_name
        elif cfg.durable_name:
            raise JetStreamError.from_err_code(10020)
        if filtered and cfg.filter_subjects:
            raise JetStreamError.from_err_code(10137)
        if filtered and cfg.filter_subject != filtered:
            raise JetStreamError.from_err_code(10131)
        if self.peers == 1 and (cfg.num_replicas or 0) > 1:   # single server mode
            raise JetStreamError.from_err_code(10074)
        st = self._stream(stream_name)   # no config: Go's zero config, as the server reads it
        action = body.get("action", "")
        if self.peers == 1 and (cfg.num_replicas or 0) > 1:   # before the stream's replicas
            raise JetStreamError.from_err_code(10074)
        cfg = check_consumer_config(cfg, st.config)
        name = cfg.durable_name or cfg.name or subject_name
        durable = bool(cfg.durable_name)
        existing = st.consumers.get(name) if name else None
        if existing is not None:
            # jsConsumerCreateRequest: an update keeps the pause (only the pause API moves it)
            cfg.pause_until = existing.config.pause_until
            cfg.metadata = consumer_metadata(cfg)
            if not cfg.name:
                cfg.name = name
            if action == "create" and not go_equal(existing.config, cfg):
                raise JetStreamError.from_err_code(10148)
            if not existing.durable and not cfg.inactive_threshold:
                # updateInactiveThreshold, after the compare: an ephemeral's default again
                cfg.inactive_threshold = EPHEMERAL_INACTIVE_THRESHOLD
            if st.config.retention == RetentionPolicy.WORK_QUEUE:   # partitionUnique
                _check_partition(st, cfg.filters, skip=name)
            check_consumer_update(existing.config, cfg, self.has_interest)
            check_consumer_values(cfg, clustered=self.peers > 1)
            narrowed = existing.config.filters != cfg.filters
            old = existing.config
            existing.config = cfg
            if (old.ack_wait, old.backoff) != (cfg.ack_wait, cfg.backoff):
                existing.retime_pending(old, now)
            existing.filters = existing._effective_filters(cfg)
            if narrowed:
                existing.npc_extra = 0    # updateConfig: num pending computed again
                self._cleanup_interest(st, existing.asflr, now)
            # consumer.go updateConfig: a raised max_ack_pending wakes the consumer
            wake = existing.deliver(now) if cfg.max_ack_pending != old.max_ack_pending else []
            return {"type": "io.nats.jetstream.api.v1.consumer_create_response",
                    **self._consumer_info_body(existing, now, versioned=True)}, \
                existing.paused_advisory(now) + wake
        if action == "update":
            raise JetStreamError.from_err_code(10149)
        if st.config.max_consumers > 0 and len(st.consumers) >= st.config.max_consumers:
            raise JetStreamError.from_err_code(10026)
        if st.config.retention == RetentionPolicy.WORK_QUEUE:
            if cfg.ack_policy.value != "explicit":
                raise JetStreamError.from_err_code(10098)
            if cfg.deliver_policy.value != "all":
                raise JetStreamError.from_err_code(10101)
            if st.consumers:
                if not cfg.filters:
                    raise JetStreamError.from_err_code(10099)
                _check_partition(st, cfg.filters)
        if durable and len(name) > MAX_NAME_LEN:
            raise JetStreamError.from_err_code(10102, max=MAX_NAME_LEN)
        if not durable and not cfg.inactive_threshold:
            cfg.inactive_threshold = EPHEMERAL_INACTIVE_THRESHOLD
        check_consumer_values(cfg, clustered=self.peers > 1)
        if not name:
            self._ephemeral_count += 1
            name = _ephemeral_name(self._ephemeral_count)
        if not cfg.name:
            cfg.name = name
        cfg.metadata = consumer_metadata(cfg)
        c = Consumer(st, name, cfg, durable=durable, now=now, emit=self.emit,
                     emit_row=self.emit_row, has_interest=self.has_interest)
        c.wake = self._wake
        c.replicated = c.floor_unset = (
            self.peers > 1 and (cfg.num_replicas or st.config.num_replicas) > 1)
        st.consumers[name] = c
        self._refresh_interest()
        self.emit("consumer_created", stream=st.name, consumer=name,
                  filter_subjects=list(cfg.filters), pull=c.is_pull,
                  deliver_subject=cfg.deliver_subject or "", deliver_group=cfg.deliver_group or "")
        return {"type": "io.nats.jetstream.api.v1.consumer_create_response",
                **self._consumer_info_body(c, now, versioned=True)}, \
            c.deliver(now) + c.paused_advisory(now)

    def _consumer(self, stream: str, name: str) -> Consumer:
        c = self._stream(stream).consumers.get(name)
        if c is None:
            raise JetStreamError.from_err_code(10014)
        return c

    def _consumer_delete(self, tokens, body, now):
        c = self._consumer(tokens[2], tokens[3])
        self.emit("consumer_deleted", stream=c.stream.name, consumer=c.name)
        return {"type": "io.nats.jetstream.api.v1.consumer_delete_response", "success": True}, \
            self._remove_consumer(c, now)

    def _remove_consumer(self, c: Consumer, now: float) -> list[Outgoing]:
        """Delete ``c``: end its pull requests; an interest stream drops what lost interest."""
        st = c.stream
        del st.consumers[c.name]
        self._refresh_interest()
        out = c.delete()
        self._cleanup_interest(st, c.asflr, now)
        return out

    @staticmethod
    def _cleanup_interest(st: Stream, start: int, now: float) -> None:
        if st.config.retention == RetentionPolicy.INTEREST:
            n = st.cleanup_no_interest(start, now)
            if n:
                st.emit("no_interest_cleanup", stream=st.name, removed=n)

    def _consumer_page(self, tokens, body, limit: int) -> tuple[list, int]:
        # jsConsumerNamesRequest / jsConsumerListRequest: sorted by name, from the body's offset
        st = self._stream(tokens[2])
        offset = max(0, int(body.get("offset") or 0))
        names = sorted(st.consumers)
        offset = min(offset, len(names))
        return [st.consumers[n] for n in names[offset:offset + limit]], offset

    def _consumer_names(self, tokens, body, now):
        page, offset = self._consumer_page(tokens, body, 1024)   # JSApiNamesLimit
        return {"type": "io.nats.jetstream.api.v1.consumer_names_response",
                "total": len(self._stream(tokens[2]).consumers), "offset": offset,
                "limit": 1024, "consumers": [c.name for c in page]}

    def _consumer_list(self, tokens, body, now):
        page, offset = self._consumer_page(tokens, body, 256)    # JSApiListLimit
        return {"type": "io.nats.jetstream.api.v1.consumer_list_response",
                "total": len(self._stream(tokens[2]).consumers), "offset": offset,
                "limit": 256, "consumers": [self._consumer_info_body(c, now) for c in page]}

    def _consumer_pause(self, tokens, body, now):
        """jsConsumerPauseRequest: pause a consumer until ``pause_until`` (unset or the zero
        time: resume); answers whether it is paused, until when, and for how long still."""
        until = ConsumerConfig.from_wire({"pause_until": body.get("pause_until")}).pause_until
        c = self._consumer(tokens[2], tokens[3])
        c.config = c.config.replace(pause_until=until)
        c.config.metadata = consumer_metadata(c.config)   # jsConsumerPauseRequest
        c.set_pause(until, now)
        resp = {"type": "io.nats.jetstream.api.v1.consumer_pause_response",
                "paused": c.paused(now), "pause_until": until or "0001-01-01T00:00:00Z"}
        if resp["paused"]:
            resp["pause_remaining"] = round((c._pause_at - now) * NS)
        # the server sends the advisory but does not wake the consumer: a resumed consumer
        # delivers at its next event (a message, a pull request, an ack, a timer)
        return resp, [c.pause_advisory(now)]

    def _consumer_info(self, tokens, body, now):
        return {"type": "io.nats.jetstream.api.v1.consumer_info_response",
                **self._consumer_info_body(self._consumer(tokens[2], tokens[3]), now,
                                           versioned=True)}

    def _consumer_info_body(self, c: Consumer, now: float, versioned: bool = False) -> dict:
        """``c.info(now)``, in a cluster with ``cluster`` after ``num_pending`` (the server's
        ConsumerInfo field order); ``versioned``: the server's version in the config's
        metadata (the answers but lists)."""
        info = c.info(now)
        if versioned:
            info["config"] = consumer_config(c.config, versioned=True)
        if self.consumer_cluster_info is None:
            return info
        head = {k: v for k, v in info.items()
                if k not in ("push_bound", "paused", "pause_remaining", "ts")}
        head["cluster"] = self.consumer_cluster_info(c.stream.name, c.name, now)
        return {**head, **{k: v for k, v in info.items() if k not in head}}

    def _next(self, stream, name, reply, data, now) -> list[Outgoing]:
        st = self.streams.get(stream)
        c = st.consumers.get(name) if st else None
        if c is None:   # only reached through a wildcard subscription of someone else
            return []
        if not c.is_pull:
            return [status(reply, 409, "Consumer is push based")]
        return c.pull(reply, data, now)

    def _reset(self, tokens, reply, data, now) -> list[Outgoing]:
        """consumer.go processResetReq: back to the ack floor (empty request) or to ``seq``."""
        st = self.streams.get(tokens[2])
        c = st.consumers.get(tokens[3]) if st else None
        if c is None or not reply:
            return []
        self._volatile = True
        try:
            seq = c.reset_target(int(self._body(data).get("seq") or 0))
        except JetStreamError as err:
            return _reply(reply, error_response(tokens, err))
        out = c.reset(seq, now)
        if st.config.retention == RetentionPolicy.INTEREST:
            st.drop_acked(now)
        self.emit("consumer_reset", stream=st.name, consumer=c.name, stream_seq=seq)
        body = {"type": "io.nats.jetstream.api.v1.consumer_reset_response", **c.info(now),
                "reset_seq": seq}
        body["config"] = consumer_config(c.config, versioned=True)
        return _reply(reply, body) + out

    def on_interest_change(self, now: float) -> list[Outgoing]:
        """A client subscribed or unsubscribed on the server: push consumers that gained a
        subscriber deliver now; those that lost theirs start their inactivity clock.

        >>> JetStream().on_interest_change(0.0)
        []
        """
        if not self._has_push:
            return []
        out: list[Outgoing] = []
        for st in list(self.streams.values()):
            for c in list(st.consumers.values()):
                out.extend(c.on_interest_change(now))
        return out

    # ------------------------------------------------------------------ timers
    def wakes_before(self, t: float) -> bool:
        """Whether :meth:`next_deadline` may now be earlier than ``t``, given that it was not
        when last called: only a timer added since can be (an ack wait, a nak delay, a pull
        request's expiry, a stored message's max_age; deadlines otherwise only move later).
        Always True after an API request (it may add or change anything) and while a push
        consumer exists (its deliveries follow client interest). A host that
        keeps a timer at ``t`` asks this before :meth:`next_deadline` after each message.

        >>> js = JetStream()
        >>> _ = js.next_deadline()
        >>> js.wakes_before(10.0)
        False
        """
        return self._wake[0] < t or self._volatile or self._has_push

    def next_deadline(self) -> float | None:
        """The earliest time :meth:`on_timer` has work, or None."""
        self._wake[0] = _INF
        self._volatile = False
        best = self.sourcing.next_due()
        for st in self.streams.values():
            t = st.next_expiry()
            if t is not None and (best is None or t < best):
                best = t
            for c in st.consumers.values():
                t = c.next_deadline()
                if t is not None and (best is None or t < best):
                    best = t
        return best

    def on_timer(self, now: float) -> list[Outgoing]:
        """Run everything due at ``now``."""
        out: list[Outgoing] = []
        for st, stored in self.sourcing.read_due(now):
            for subject, seq in stored:
                out.extend(self._signal(st, subject, seq, now))
        for st in list(self.streams.values()):
            st.expire(now)
            for c in list(st.consumers.values()):
                due = c.next_deadline()   # a consumer whose own timer is not due stays asleep
                if due is not None and due <= now:
                    out.extend(c.on_timer(now))
                if c.inactive(now):
                    self.emit("consumer_deleted", stream=st.name, consumer=c.name,
                              reason="inactive")
                    out.extend(self._remove_consumer(c, now))
        return out


def _loads_or_none(data: bytes) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        return None


def _is_empty_request(data: bytes) -> bool:
    """isEmptyRequest: nothing, or a JSON object without fields (whitespace is not).

    >>> [_is_empty_request(d) for d in (b"", b"{}", b" { } ", b" ", b'{"a":1}', b"[]")]
    [True, True, True, False, False, False]
    """
    return not data or data == b"{}" or _loads_or_none(data) == {}


def with_cluster(info: dict, cluster: dict) -> dict:
    """A stream's info with ``cluster`` after ``state`` (StreamInfo's field order).

    >>> list(with_cluster({"config": {}, "created": "", "state": {}, "ts": ""}, {}))
    ['config', 'created', 'state', 'cluster', 'ts']
    """
    out = {k: v for k, v in info.items() if k in ("config", "created", "state")}
    return {**out, "cluster": cluster, **{k: v for k, v in info.items() if k not in out}}


def _republished(st: Stream, msg, to: str, last_seq: int) -> Outgoing:
    """The copy of a stored message that ``republish`` sends to ``to`` (stream.go
    processJetStreamMsg): the message's headers, then the stream's, in the server's order."""
    headers = dict(msg.headers or {})
    headers.update({"Nats-Stream": st.name, "Nats-Subject": msg.subject,
                    "Nats-Sequence": str(msg.seq), "Nats-Time-Stamp": _rfc3339(msg.time, st.epoch_ns),
                    "Nats-Last-Sequence": str(last_seq)})
    data = msg.data
    if st.config.republish.headers_only:
        headers["Nats-Msg-Size"] = str(len(data))
        data = b""
    st.emit("republish", stream=st.name, subject=to, stream_seq=msg.seq, msg_id=msg.msg_id)
    return Outgoing(to, "", data, headers)


def _check_partition(st: Stream, filters: list[str], skip: str | None = None) -> None:
    """A workqueue consumer's filters may not collide with another consumer's (10100)."""
    for other in st.consumers.values():
        if other.name != skip and filters and (not other.filters or any(
                subjects_collide(a, b) for a in filters for b in other.filters)):
            raise JetStreamError.from_err_code(10100)


def _ephemeral_name(n: int) -> str:
    """A deterministic 8-character consumer name for the ``n``-th ephemeral consumer.

    >>> _ephemeral_name(1)
    'EPH00001'
    """
    return f"EPH{n:05d}"


"""The JetStream surface of nats-server, as data: what the simulation models and what it refuses.

Nothing the server knows is accepted and then ignored. Every field of the server's stream and
consumer configuration, every JetStream API subject, every field of the request bodies the
server acts on and every ``Nats-*`` header it reads is either modelled or refused with a
:class:`~pmesh_sim.errors.NotSimulatedError` (on the wire: a reply carrying the
:data:`NOT_SIMULATED_HEADER`; in a scenario result: ``{"outcome": "unsupported", ...}``).

The server's own lists below are copied from the nats-server source (github.com/nats-io/
nats-server, main at 2.15.0-dev, commit 1787eee0 of 2026-08-21, which nats-server v2.15.1 is cut
from): the json tags of ``StreamConfig`` and ``StreamSource`` (server/stream.go) and
``ConsumerConfig`` (server/consumer.go), the ``JSApi*`` subjects of server/jetstream_api.go,
the request structs
``JSApiMsgGetRequest`` / ``JSApiConsumerGetNextRequest`` + ``PriorityGroup``, and the ``Nats-*``
header constants of server/stream.go, server/consumer.go, server/jetstream_api.go and
server/msgtrace.go (plus two from server/accounts.go, server/auth_callout.go and
server/websocket.go), and checked against the nats-server v2.15.1 binary, whose strings add
``CONSUMER.PEER.REMOVE`` / ``CONSUMER.PEER.EVACUATE``. ``tests/test_surface.py`` fails when
one of them (or one the installed binary holds) is in neither list.

>>> refused_config_fields("stream", {"name": "S", "mirror_direct": True, "first_seq": 0})
['mirror_direct']
>>> api_status("STREAM.SNAPSHOT.S"), api_status("STREAM.INFO.S")
('not_simulated', 'modelled')
>>> sorted(refused_headers({"Nats-Msg-Id": "1", "Nats-Incr": "2"}))
['Nats-Incr']
"""

from __future__ import annotations

from typing import Any

from ..errors import NotSimulatedError
from ..subjects import subject_matches

__all__ = [
    "NOT_SIMULATED_HEADER", "SERVER_STREAM_CONFIG", "SERVER_CONSUMER_CONFIG",
    "STREAM_CONFIG_REFUSED", "CONSUMER_CONFIG_REFUSED", "SERVER_API_SUBJECTS",
    "API_MODELLED", "API_NOT_SIMULATED", "SERVER_HEADERS", "HEADERS_MODELLED",
    "HEADERS_SERVER_SET", "HEADERS_NOT_SIMULATED", "SERVER_MSG_GET_REQUEST",
    "DIRECT_GET_NOT_SIMULATED", "SERVER_PULL_REQUEST", "PULL_NOT_SIMULATED",
    "SERVER_STREAM_SOURCE", "STREAM_SOURCE_REFUSED", "refused_config_fields", "check_config", "api_status", "refused_headers",
    "not_simulated_body", "not_simulated_reply", "CONSUMER_VALUES_NOT_SIMULATED",
    "check_consumer_values",
]

#: The reply header by which the simulated server says "this is not simulated" (the real
#: server never sends it); its value names the feature.
NOT_SIMULATED_HEADER = "Pmesh-Not-Simulated"

# ------------------------------------------------------------------------- configurations

#: ``StreamConfig`` json tags, server/stream.go, in the struct's order.
SERVER_STREAM_CONFIG = (
    "name", "description", "subjects", "retention", "max_consumers", "max_msgs", "max_bytes",
    "max_age", "max_msgs_per_subject", "max_msg_size", "discard", "storage", "num_replicas",
    "no_ack", "duplicate_window", "placement", "mirror", "sources", "compression", "first_seq",
    "subject_transform", "republish", "allow_direct", "mirror_direct",
    "discard_new_per_subject", "sealed", "deny_delete", "deny_purge", "allow_rollup_hdrs",
    "consumer_limits", "allow_msg_ttl", "subject_delete_marker_ttl", "allow_msg_counter",
    "allow_atomic", "allow_msg_schedules", "persist_mode", "allow_batched", "metadata",
)

#: ``ConsumerConfig`` json tags, server/consumer.go, in the struct's order.
SERVER_CONSUMER_CONFIG = (
    "durable_name", "name", "description", "deliver_policy", "opt_start_seq", "opt_start_time",
    "ack_policy", "ack_wait", "max_deliver", "backoff", "filter_subject", "filter_subjects",
    "replay_policy", "rate_limit_bps", "sample_freq", "max_waiting", "max_ack_pending",
    "flow_control", "headers_only", "max_batch", "max_expires", "max_bytes", "deliver_subject",
    "deliver_group", "idle_heartbeat", "inactive_threshold", "num_replicas", "mem_storage",
    "direct", "sourcing", "metadata", "pause_until", "priority_groups", "priority_policy",
    "priority_timeout",
)

#: Stream fields the simulation refuses, each with the values that mean "off" (accepted: the
#: server's zero value, as clients send it). Everything else of SERVER_STREAM_CONFIG is a field
#: of :class:`~pmesh_sim.config.StreamConfig`.
STREAM_CONFIG_REFUSED: dict[str, tuple[Any, ...]] = {
    "mirror_direct": (None, False),
    "allow_msg_counter": (None, False),
    "allow_atomic": (None, False),
    "allow_msg_schedules": (None, False),
    "persist_mode": (None, "", "default"),
    "allow_batched": (None, False),
}

#: Consumer fields the simulation refuses, with their "off" values (see above).
CONSUMER_CONFIG_REFUSED: dict[str, tuple[Any, ...]] = {
    "direct": (None, False),
    "sourcing": (None, False),
    "priority_groups": (None, []),
    "priority_policy": (None, "", "none"),
    "priority_timeout": (None, 0),
}

#: ``StreamSource`` json tags, server/stream.go (a stream's ``mirror`` and each of its
#: ``sources``).
SERVER_STREAM_SOURCE = ("name", "opt_start_seq", "opt_start_time", "filter_subject",
                        "subject_transforms", "external", "consumer")

#: Source fields the simulation refuses (another account or JetStream domain; a durable
#: sourcing consumer of the user's), with their "off" values.
STREAM_SOURCE_REFUSED: dict[str, tuple[Any, ...]] = {
    "external": (None,),
    "consumer": (None,),
}

_REFUSED = {"stream": STREAM_CONFIG_REFUSED, "consumer": CONSUMER_CONFIG_REFUSED,
            "source": STREAM_SOURCE_REFUSED}


def refused_config_fields(kind: str, data: dict[str, Any]) -> list[str]:
    """The fields of a ``kind`` (``stream``, ``consumer`` or ``source``) config mapping that set something
    the simulation does not model, in the mapping's order.

    >>> refused_config_fields("consumer", {"durable_name": "d", "priority_groups": []})
    []
    """
    refused = _REFUSED[kind]
    return [key for key, value in data.items()
            if key in refused and not any(value == off and isinstance(value, bool) == isinstance(
                off, bool) for off in refused[key])]


def check_config(kind: str, data: dict[str, Any]) -> None:
    """Raise :class:`NotSimulatedError` naming the first refused field of ``data``.

    >>> check_config("source", {"name": "A", "external": {"api": "$JS.hub.API"}})
    Traceback (most recent call last):
    ...
    pmesh_sim.errors.NotSimulatedError: not simulated: source config field 'external' (refused, not ignored: the simulation does not model it)
    """
    refused = refused_config_fields(kind, data)
    if refused:
        raise NotSimulatedError(f"{kind} config field {refused[0]!r}",
                                "refused, not ignored: the simulation does not model it")


# --------------------------------------------------------------------------- API subjects

#: Every ``JSApi*`` subject of server/jetstream_api.go (with ``*`` for names), also those the
#: server subscribes per consumer (MSG.NEXT, RESET), per stream (DIRECT.GET) or in the system
#: account of a cluster (META, SERVER, ACCOUNT).
SERVER_API_SUBJECTS = (
    "$JS.API.INFO", "$JS.API.STREAM.CREATE.*", "$JS.API.STREAM.UPDATE.*",
    "$JS.API.STREAM.NAMES", "$JS.API.STREAM.LIST", "$JS.API.STREAM.INFO.*",
    "$JS.API.STREAM.DELETE.*", "$JS.API.STREAM.PURGE.*", "$JS.API.STREAM.SNAPSHOT.*",
    "$JS.API.STREAM.RESTORE.*", "$JS.API.STREAM.MSG.DELETE.*", "$JS.API.STREAM.MSG.GET.*",
    "$JS.API.DIRECT.GET.*", "$JS.API.DIRECT.GET.*.>", "$JS.API.CONSUMER.CREATE.*",
    "$JS.API.CONSUMER.CREATE.*.>", "$JS.API.CONSUMER.DURABLE.CREATE.*.*",
    "$JS.API.CONSUMER.NAMES.*", "$JS.API.CONSUMER.LIST.*", "$JS.API.CONSUMER.INFO.*.*",
    "$JS.API.CONSUMER.DELETE.*.*", "$JS.API.CONSUMER.PAUSE.*.*",
    "$JS.API.CONSUMER.MSG.NEXT.*.*", "$JS.API.CONSUMER.RESET.*.*",
    "$JS.API.CONSUMER.UNPIN.*.*", "$JS.API.STREAM.PEER.REMOVE.*",
    "$JS.API.STREAM.PEER.EVACUATE.*", "$JS.API.STREAM.CANCEL_MOVE.*",
    "$JS.API.STREAM.LEADER.STEPDOWN.*", "$JS.API.CONSUMER.LEADER.STEPDOWN.*.*",
    "$JS.API.META.LEADER.STEPDOWN", "$JS.API.SERVER.REMOVE", "$JS.API.SERVER.EVACUATE",
    "$JS.API.META.RESCUE", "$JS.API.ACCOUNT.PURGE.*", "$JS.API.ACCOUNT.STREAM.MOVE.*.*",
    "$JS.API.ACCOUNT.STREAM.CANCEL_MOVE.*.*", "$JS.API.CONSUMER.PEER.REMOVE.*.*",
    "$JS.API.CONSUMER.PEER.EVACUATE.*.*",
)

#: API subjects the simulated server answers as the real one does.
API_MODELLED = (
    "$JS.API.INFO", "$JS.API.STREAM.CREATE.*", "$JS.API.STREAM.UPDATE.*",
    "$JS.API.STREAM.NAMES", "$JS.API.STREAM.INFO.*", "$JS.API.STREAM.DELETE.*",
    "$JS.API.STREAM.PURGE.*", "$JS.API.STREAM.MSG.DELETE.*", "$JS.API.STREAM.MSG.GET.*",
    "$JS.API.DIRECT.GET.*", "$JS.API.DIRECT.GET.*.>", "$JS.API.CONSUMER.CREATE.*",
    "$JS.API.CONSUMER.CREATE.*.>", "$JS.API.CONSUMER.DURABLE.CREATE.*.*",
    "$JS.API.CONSUMER.NAMES.*", "$JS.API.CONSUMER.LIST.*", "$JS.API.CONSUMER.INFO.*.*",
    "$JS.API.CONSUMER.DELETE.*.*", "$JS.API.CONSUMER.MSG.NEXT.*.*",
    "$JS.API.CONSUMER.PAUSE.*.*", "$JS.API.CONSUMER.RESET.*.*", "$JS.API.STREAM.LIST",
)

#: API subjects the simulated server refuses: it answers with :data:`NOT_SIMULATED_HEADER`.
API_NOT_SIMULATED = (
    "$JS.API.STREAM.SNAPSHOT.*", "$JS.API.STREAM.RESTORE.*",
    "$JS.API.CONSUMER.UNPIN.*.*",
    "$JS.API.STREAM.PEER.REMOVE.*", "$JS.API.STREAM.PEER.EVACUATE.*",
    "$JS.API.STREAM.CANCEL_MOVE.*", "$JS.API.STREAM.LEADER.STEPDOWN.*",
    "$JS.API.CONSUMER.LEADER.STEPDOWN.*.*", "$JS.API.META.LEADER.STEPDOWN",
    "$JS.API.SERVER.REMOVE", "$JS.API.SERVER.EVACUATE", "$JS.API.META.RESCUE",
    "$JS.API.ACCOUNT.PURGE.*", "$JS.API.ACCOUNT.STREAM.MOVE.*.*",
    "$JS.API.ACCOUNT.STREAM.CANCEL_MOVE.*.*", "$JS.API.CONSUMER.PEER.REMOVE.*.*",
    "$JS.API.CONSUMER.PEER.EVACUATE.*.*",
)

_API_REFUSED = tuple(p[len("$JS.API."):] for p in API_NOT_SIMULATED)


def api_status(op: str) -> str:
    """``not_simulated`` when an API request (its subject after ``$JS.API.``) is refused,
    else ``modelled`` (a subject no handler takes is modelled: the server does not answer).

    >>> api_status("CONSUMER.UNPIN.S.C"), api_status("NO.SUCH.THING")
    ('not_simulated', 'modelled')
    """
    return "not_simulated" if any(subject_matches(p, op) for p in _API_REFUSED) else "modelled"


# ------------------------------------------------------------------------- request bodies

#: ``JSApiMsgGetRequest`` json tags (STREAM.MSG.GET and DIRECT.GET bodies).
SERVER_MSG_GET_REQUEST = ("seq", "last_by_subj", "next_by_subj", "batch", "max_bytes",
                          "start_time", "multi_last", "up_to_seq", "up_to_time", "no_hdr")
#: Direct-get fields the simulation refuses when set: none, every form is modelled (batches,
#: ``multi_last`` with ``up_to_*``: :mod:`.direct`; STREAM.MSG.GET refuses batches itself, 10003,
#: and does not read multi_last or up_to_*).
DIRECT_GET_NOT_SIMULATED: tuple[str, ...] = ()

#: ``JSApiConsumerGetNextRequest`` + ``PriorityGroup`` json tags (a pull request's body).
SERVER_PULL_REQUEST = ("expires", "batch", "max_bytes", "no_wait", "idle_heartbeat", "group",
                       "min_pending", "min_ack_pending", "id", "priority")
#: Pull request fields the simulation refuses when set.
PULL_NOT_SIMULATED = ("idle_heartbeat", "group", "min_pending", "min_ack_pending", "id",
                      "priority")

# -------------------------------------------------------------------------------- headers

#: Every ``Nats-*`` header constant of server/stream.go, server/consumer.go,
#: server/jetstream_api.go and server/msgtrace.go.
SERVER_HEADERS = (
    "Nats-Msg-Id", "Nats-Expected-Stream", "Nats-Expected-Last-Sequence",
    "Nats-Expected-Last-Subject-Sequence", "Nats-Expected-Last-Subject-Sequence-Subject",
    "Nats-Expected-Last-Msg-Id", "Nats-Stream-Source", "Nats-Last-Consumer",
    "Nats-Last-Stream", "Nats-Consumer-Stalled", "Nats-Rollup", "Nats-Msg-Size",
    "Nats-Response-Type", "Nats-TTL", "Nats-Marker-Reason", "Nats-Incr",
    "Nats-Counter-Sources", "Nats-Batch-Id", "Nats-Batch-Sequence", "Nats-Batch-Commit",
    "Nats-Schedule", "Nats-Schedule-Time-Zone", "Nats-Schedule-TTL", "Nats-Schedule-Rollup",
    "Nats-Schedule-Target", "Nats-Schedule-Source", "Nats-Scheduler", "Nats-Schedule-Next",
    "Nats-Stream", "Nats-Sequence", "Nats-Time-Stamp", "Nats-Subject", "Nats-Last-Sequence",
    "Nats-Num-Pending", "Nats-UpTo-Sequence", "Nats-Pending-Messages", "Nats-Pending-Bytes",
    "Nats-Pin-Id", "Nats-Required-Api-Level", "Nats-Stream-Identity", "Nats-Trace-Dest",
    "Nats-Trace-Hop", "Nats-Trace-Origin-Account", "Nats-Trace-Only", "Nats-Request-Info",
    "Nats-Server-Xkey", "Nats-No-Masking",
)

#: Headers a publish into a stream carries that the simulated server acts on as the real one.
HEADERS_MODELLED = (
    "Nats-Msg-Id", "Nats-Expected-Stream", "Nats-Expected-Last-Sequence",
    "Nats-Expected-Last-Subject-Sequence", "Nats-Expected-Last-Msg-Id", "Nats-Rollup",
    "Nats-Expected-Last-Subject-Sequence-Subject", "Nats-TTL", "Nats-Stream-Source",
)

#: Headers the server does not act on in a message a client publishes: it writes them itself
#: (on deliveries, republished copies, direct gets, statuses, advisories, sourced copies,
#: service requests) or reads them outside messages (``Nats-No-Masking``: a websocket
#: handshake); a client's own value is stored as plain data, as on the server.
HEADERS_SERVER_SET = (
    "Nats-Last-Consumer", "Nats-Last-Stream", "Nats-Consumer-Stalled", "Nats-Msg-Size",
    "Nats-Response-Type", "Nats-Marker-Reason", "Nats-Counter-Sources", "Nats-Scheduler",
    "Nats-Schedule-Next", "Nats-Stream", "Nats-Sequence", "Nats-Time-Stamp", "Nats-Subject",
    "Nats-Last-Sequence", "Nats-Num-Pending", "Nats-UpTo-Sequence", "Nats-Pending-Messages",
    "Nats-Pending-Bytes", "Nats-Trace-Hop", "Nats-Trace-Origin-Account", "Nats-Stream-Identity",
    "Nats-Request-Info", "Nats-Server-Xkey", "Nats-No-Masking",
)

#: Headers the server acts on that the simulated server refuses: a publish carrying one is not
#: stored and its ack (if it asked for one) is the not-simulated reply.
HEADERS_NOT_SIMULATED = (
    "Nats-Incr", "Nats-Batch-Id", "Nats-Batch-Sequence", "Nats-Batch-Commit", "Nats-Schedule",
    "Nats-Schedule-Time-Zone", "Nats-Schedule-TTL", "Nats-Schedule-Rollup",
    "Nats-Schedule-Target", "Nats-Schedule-Source", "Nats-Pin-Id", "Nats-Required-Api-Level",
    "Nats-Trace-Dest", "Nats-Trace-Only",
)

_HEADERS_REFUSED = frozenset(HEADERS_NOT_SIMULATED)


def refused_headers(headers: dict[str, str] | None) -> list[str]:
    """The headers of a message the simulated server refuses (cheap when there are none).

    >>> refused_headers(None), refused_headers({"Nats-Batch-Id": "b1"})
    ([], ['Nats-Batch-Id'])
    """
    if not headers or _HEADERS_REFUSED.isdisjoint(headers):
        return []
    return [h for h in headers if h in _HEADERS_REFUSED]


def not_simulated_body(feature: str) -> bytes:
    """The JSON body of a not-simulated reply: an ``error`` any client reads as a failure.

    >>> not_simulated_body("header 'Nats-TTL'")
    b'{"error":{"code":501,"err_code":0,"description":"not simulated: header \\'Nats-TTL\\'"}}'
    """
    import json

    return json.dumps({"error": {"code": 501, "err_code": 0,
                                 "description": f"not simulated: {feature}"}},
                      separators=(",", ":")).encode()


def not_simulated_reply(to: str, feature: str):
    """The simulated server's answer to a request for something it does not model: an error
    body any client reads as a failure, and :data:`NOT_SIMULATED_HEADER` naming ``feature``.

    >>> not_simulated_reply("_INBOX.1", "API CONSUMER.UNPIN").headers
    {'Pmesh-Not-Simulated': 'API CONSUMER.UNPIN'}
    """
    from .consumer import Outgoing

    return Outgoing(to, "", not_simulated_body(feature), {NOT_SIMULATED_HEADER: feature})


#: Consumer fields the simulation models only in part, and the values it refuses (checked
#: after the server's own checks, so the server's errors come first).
CONSUMER_VALUES_NOT_SIMULATED = {
    "replay_policy": "original (replay at the pace the messages were stored)",
    "rate_limit_bps": "a rate limit",
    "sample_freq": "sampling (ack metric advisories)",
    "flow_control": "true on a cluster (push flow control is modelled on one server)",
}


def check_consumer_values(cfg, clustered: bool = False) -> None:
    """Raise :class:`NotSimulatedError` when a checked consumer config sets a value of
    :data:`CONSUMER_VALUES_NOT_SIMULATED` (``flow_control`` only on a cluster).

    >>> from pmesh_sim.config import ConsumerConfig
    >>> check_consumer_values(ConsumerConfig(durable_name="d", replay_policy="original"))
    Traceback (most recent call last):
    ...
    pmesh_sim.errors.NotSimulatedError: not simulated: consumer config field 'replay_policy' = 'original' (original (replay at the pace the messages were stored))
    """
    on = {"replay_policy": getattr(cfg.replay_policy, "value", cfg.replay_policy) == "original",
          "rate_limit_bps": bool(cfg.rate_limit_bps), "sample_freq": bool(cfg.sample_freq),
          "flow_control": bool(cfg.flow_control) and clustered}
    for key, refused in on.items():
        if refused:
            value = getattr(cfg, key)
            raise NotSimulatedError(f"consumer config field {key!r} = "
                                    f"{getattr(value, 'value', value)!r}",
                                    CONSUMER_VALUES_NOT_SIMULATED[key])

"""Stream and consumer configs as nats-server's API answers marshal them.

The Go structs' json tags decide which fields an answer shows (``omitempty``: left out at the
zero value) and in which order: ``StreamConfig`` (server/stream.go), ``ConsumerConfig``
(server/consumer.go). Versioning metadata (server/jetstream_versioning.go): a stored config
keeps ``_nats.req.level``, the API level its features need (:func:`stream_metadata`,
:func:`consumer_metadata`, set on create, update and pause); the answers to create, update,
info and reset add the server's version and API level (:func:`with_version`); lists do not.
Go marshals a map with its keys sorted.

>>> from pmesh_sim.config import StreamConfig
>>> cfg = StreamConfig(name="S", subjects=["s.*"], duplicate_window=120.0)
>>> cfg.metadata = stream_metadata(cfg)
>>> wire = stream_config(cfg, versioned=True)
>>> list(wire)[:4], wire["compression"], wire["consumer_limits"], "no_ack" in wire
(['name', 'subjects', 'retention', 'max_consumers'], 'none', {}, False)
>>> wire["metadata"]
{'_nats.level': '5', '_nats.req.level': '0', '_nats.ver': '2.15.1'}
"""

from __future__ import annotations

import json
from typing import Any

from ..config import ConsumerConfig, StreamConfig

__all__ = ["SERVER_VERSION", "JS_API_LEVEL", "stream_metadata", "consumer_metadata",
           "with_version", "stream_config", "consumer_config", "go_marshal"]

SERVER_VERSION = "2.15.1"   # the nats-server release the simulation is measured against
JS_API_LEVEL = 5            # jetstream_versioning.go JSApiLevel
REQ_LEVEL, VERSION_KEY, LEVEL_KEY = "_nats.req.level", "_nats.ver", "_nats.level"
NS = 1_000_000_000


def _static(metadata: dict[str, str] | None, level: int) -> dict[str, str]:
    """The user's metadata without the dynamic keys, with the required level."""
    out = {k: v for k, v in (metadata or {}).items() if k not in (VERSION_KEY, LEVEL_KEY)}
    out[REQ_LEVEL] = str(level)
    return out


def stream_metadata(cfg: StreamConfig) -> dict[str, str]:
    """setStaticStreamMetadata: what a stored stream config keeps (message TTLs need level 1).

    >>> stream_metadata(StreamConfig(name="S", allow_msg_ttl=True, metadata={"_nats.ver": "x"}))
    {'_nats.req.level': '1'}
    """
    ttls = cfg.allow_msg_ttl or (cfg.subject_delete_marker_ttl or 0) > 0
    return _static(cfg.metadata, 1 if ttls else 0)


def consumer_metadata(cfg: ConsumerConfig) -> dict[str, str]:
    """setStaticConsumerMetadata: what a stored consumer config keeps (a pause needs level 1).

    >>> consumer_metadata(ConsumerConfig(pause_until="2030-01-01T00:00:00Z", metadata={"a": "b"}))
    {'a': 'b', '_nats.req.level': '1'}
    """
    return _static(cfg.metadata, 1 if cfg.pause_until else 0)


def with_version(metadata: dict[str, str] | None) -> dict[str, str]:
    """setDynamicStreamMetadata / setDynamicConsumerMetadata: an answer's copy with the
    server's version and API level.

    >>> with_version(None)
    {'_nats.ver': '2.15.1', '_nats.level': '5'}
    """
    return {**(metadata or {}), VERSION_KEY: SERVER_VERSION, LEVEL_KEY: str(JS_API_LEVEL)}


def _ns(seconds: float | None) -> int:
    return round((seconds or 0) * NS)


def _put(out: dict[str, Any], key: str, value: Any, omitempty: bool = True) -> None:
    if not omitempty or value:
        out[key] = value


def stream_config(cfg: StreamConfig, versioned: bool = False) -> dict[str, Any]:
    """``cfg`` as a stream answer's ``config`` (StreamConfig's json tags, in their order);
    ``versioned``: with the server's version and level in ``metadata``.

    >>> stream_config(StreamConfig(name="S", subjects=["s"], no_ack=True, max_msg_size=0))
    ... # doctest: +ELLIPSIS
    {'name': 'S', 'subjects': ['s'], ..., 'max_msgs_per_subject': -1, 'discard': 'old', ...}
    """
    out: dict[str, Any] = {"name": cfg.name}
    _put(out, "description", cfg.description)
    _put(out, "subjects", cfg.subjects)
    out["retention"] = cfg.retention.value
    for key in ("max_consumers", "max_msgs", "max_bytes"):
        out[key] = getattr(cfg, key)
    out["max_age"] = _ns(cfg.max_age)
    out["max_msgs_per_subject"] = cfg.max_msgs_per_subject
    _put(out, "max_msg_size", cfg.max_msg_size)
    out["discard"] = cfg.discard.value
    out["storage"] = cfg.storage.value
    out["num_replicas"] = cfg.num_replicas
    _put(out, "no_ack", cfg.no_ack)
    _put(out, "duplicate_window", _ns(cfg.duplicate_window))
    if cfg.placement is not None:   # a pointer: shown when set, its empty fields left out
        out["placement"] = {k: v for k, v in cfg.placement.items() if v}
    if cfg.mirror is not None:
        out["mirror"] = cfg.mirror.to_wire()
    _put(out, "sources", [s.to_wire() for s in cfg.sources or []])
    out["compression"] = cfg.compression or "none"
    _put(out, "first_seq", cfg.first_seq)
    if cfg.subject_transform is not None:
        tr = cfg.subject_transform
        out["subject_transform"] = {"src": tr.src or "", "dest": tr.dest or ""}
    if cfg.republish is not None:
        out["republish"] = cfg.republish.to_wire()
    out["allow_direct"] = cfg.allow_direct
    out["mirror_direct"] = False            # refused when set (jetstream.surface)
    _put(out, "discard_new_per_subject", cfg.discard_new_per_subject)
    for key in ("sealed", "deny_delete", "deny_purge", "allow_rollup_hdrs"):
        out[key] = getattr(cfg, key)
    out["consumer_limits"] = cfg.consumer_limits.to_wire() if cfg.consumer_limits else {}
    out["allow_msg_ttl"] = cfg.allow_msg_ttl
    _put(out, "subject_delete_marker_ttl", _ns(cfg.subject_delete_marker_ttl))
    metadata = with_version(cfg.metadata) if versioned else cfg.metadata
    _put(out, "metadata", dict(sorted(metadata.items())) if metadata else None)
    return out


#: ConsumerConfig's fields in its json tags' order, each with whether it is omitempty.
_CONSUMER_FIELDS = (
    ("durable_name", True), ("name", True), ("description", True), ("deliver_policy", False),
    ("opt_start_seq", True), ("opt_start_time", True), ("ack_policy", False),
    ("ack_wait", True), ("max_deliver", True), ("backoff", True), ("filter_subject", True),
    ("filter_subjects", True), ("replay_policy", False), ("rate_limit_bps", True),
    ("sample_freq", True), ("max_waiting", True), ("max_ack_pending", True),
    ("flow_control", True), ("headers_only", True), ("max_batch", True),
    ("max_expires", True), ("max_bytes", True), ("deliver_subject", True),
    ("deliver_group", True), ("idle_heartbeat", True), ("inactive_threshold", True),
    ("num_replicas", False), ("mem_storage", True), ("metadata", True),
    ("pause_until", True))


def consumer_config(cfg: ConsumerConfig, versioned: bool = False) -> dict[str, Any]:
    """``cfg`` as a consumer answer's ``config`` (ConsumerConfig's json tags, in their
    order: zero values left out but for the policies and ``num_replicas``).

    >>> consumer_config(ConsumerConfig(durable_name="d", idle_heartbeat=0.0, ack_wait=30.0))
    ... # doctest: +NORMALIZE_WHITESPACE
    {'durable_name': 'd', 'deliver_policy': 'all', 'ack_policy': 'explicit',
     'ack_wait': 30000000000, 'replay_policy': 'instant', 'num_replicas': 0}
    """
    out: dict[str, Any] = {}
    for key, omitempty in _CONSUMER_FIELDS:
        value = getattr(cfg, key)
        if key == "metadata" and versioned:
            value = with_version(value)
        if key == "metadata" and value:
            value = dict(sorted(value.items()))
        elif key in ConsumerConfig._SECONDS:
            value = [_ns(v) for v in value] if isinstance(value, list) else _ns(value)
        elif hasattr(value, "value"):
            value = value.value
        elif value is None and not omitempty:
            value = 0
        _put(out, key, value, omitempty)
    return out


_GO_ESCAPES = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026",
                             "\u2028": "\\u2028", "\u2029": "\\u2029"})


def go_marshal(body: Any) -> bytes:
    """``body`` as Go's ``json.Marshal`` writes it: compact, UTF-8, with ``<``, ``>``, ``&``
    (and U+2028, U+2029) escaped as the server's answers have them (they occur only in strings).

    >>> go_marshal({"subjects": ["t.>"], "description": "café"})
    b'{"subjects":["t.\\\\u003e"],"description":"caf\\xc3\\xa9"}'
    """
    text = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    return text.translate(_GO_ESCAPES).encode()

"""Stream and consumer configuration: nats-py's field names, the server's strings and defaults.

Durations are float seconds in Python and nanoseconds on the wire (``to_wire`` / ``from_wire``).
``from_dict`` reads a user's mapping (a scenario file) and rejects unknown keys and wrong types
with :class:`~pmesh_sim.errors.ConfigError`; ``check_stream_config`` and ``check_consumer_config``
apply the server's defaults and validation, raising the :class:`JetStreamError` the server sends.

>>> cfg = StreamConfig(name="ORDERS", subjects=["orders.>"], max_age=3600.0)
>>> cfg.to_wire()["max_age"]
3600000000000
>>> check_stream_config(StreamConfig(name="ORDERS")).subjects
['ORDERS']
>>> RetentionPolicy.WORK_QUEUE == "workqueue"
True
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field, fields
from enum import Enum
from typing import Any

from .errors import ConfigError, JetStreamError
from .gojson import CONSUMER_TYPES, STREAM_TYPES, field_error, source_error, time_error

__all__ = [
    "RetentionPolicy", "DiscardPolicy", "StorageType", "AckPolicy", "DeliverPolicy", "ReplayPolicy",
    "RePublish", "ConsumerLimits", "SubjectTransformConfig", "StreamSource", "StreamConfig",
    "ConsumerConfig",
    "check_stream_config", "check_stream_update", "check_consumer_config", "check_consumer_update",
    "go_equal",
]

NS = 1_000_000_000
MAX_NAME_LEN = 255
DEFAULT_DUPLICATE_WINDOW = 120.0
DEFAULT_ACK_WAIT = 30.0
DEFAULT_MAX_ACK_PENDING = 1000
DEFAULT_MAX_WAITING = 512
EPHEMERAL_INACTIVE_THRESHOLD = 5.0


class RetentionPolicy(str, Enum):
    """When a stream removes messages."""

    LIMITS = "limits"
    INTEREST = "interest"
    WORK_QUEUE = "workqueue"


class DiscardPolicy(str, Enum):
    """What a full stream does with a new message."""

    OLD = "old"
    NEW = "new"


class StorageType(str, Enum):
    """Where a stream keeps its messages."""

    FILE = "file"
    MEMORY = "memory"


class AckPolicy(str, Enum):
    """Which deliveries a consumer expects acks for."""

    NONE = "none"
    ALL = "all"
    EXPLICIT = "explicit"


class DeliverPolicy(str, Enum):
    """Where a consumer starts in its stream."""

    ALL = "all"
    LAST = "last"
    NEW = "new"
    BY_START_SEQUENCE = "by_start_sequence"
    BY_START_TIME = "by_start_time"
    LAST_PER_SUBJECT = "last_per_subject"


class ReplayPolicy(str, Enum):
    """How fast a consumer replays stored messages."""

    INSTANT = "instant"
    ORIGINAL = "original"


#: Go's zero ``time.Time`` (0001-01-01T00:00:00Z) in nanoseconds since 1970.
_GO_ZERO_TIME = -62135596800 * NS


def _invalid(text: str) -> JetStreamError:
    return JetStreamError.from_err_code(10052, err=text)


class _Config:
    """Shared reading and writing of the config dataclasses."""

    _SECONDS: tuple[str, ...] = ()
    _ENUMS: dict[str, type[Enum]] = {}
    _NESTED: dict[str, type] = {}
    _GO: tuple[str, dict[str, str]] = ("", {})   # the request's Go struct and field types
    _SURFACE: str | None = None   # "stream" / "consumer": its refused fields (jetstream.surface)

    @classmethod
    def _refuse_unsimulated(cls, data: dict[str, Any]) -> None:
        if cls._SURFACE is not None:
            from .jetstream.surface import check_config

            check_config(cls._SURFACE, data)

    @classmethod
    def field_kinds(cls) -> dict[str, str]:
        """Each field's kind of value: ``int``, ``float``, ``bool``, ``str`` (enums too),
        ``strs``, ``floats``, ``dict`` or ``list``.

        >>> StreamConfig.field_kinds()["max_age"], ConsumerConfig.field_kinds()["ack_policy"]
        ('float', 'str')
        """
        return {f.name: "str" if f.name in cls._ENUMS else cls._TYPES.get(f.name, "any")
                for f in fields(cls)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]):
        """Build from a mapping in nats-py's names and units; unknown keys and bad types fail."""
        if not isinstance(data, dict):
            raise ConfigError(f"{cls.__name__} needs a mapping, got {type(data).__name__}")
        cls._refuse_unsimulated(data)
        names = {f.name: f for f in fields(cls)}
        unknown = sorted(set(data) - set(names))
        if unknown:
            raise ConfigError(f"{cls.__name__} has no field {', '.join(map(repr, unknown))}; "
                              f"known fields: {', '.join(sorted(names))}")
        values = {}
        for key, value in data.items():
            if value is None and names[key].default is dataclasses.MISSING:
                raise ConfigError(f"{cls.__name__}.{key} is required: give a {cls._TYPES[key]}")
            values[key] = cls._coerce(key, value)
        try:
            return cls(**values)
        except TypeError as err:
            raise ConfigError(f"{cls.__name__}: {err}") from None

    @classmethod
    def _coerce(cls, key: str, value: Any) -> Any:
        if value is None:
            return None
        if key in cls._ENUMS:
            enum = cls._ENUMS[key]
            try:
                return enum(value)
            except ValueError:
                raise ConfigError(f"{cls.__name__}.{key} = {value!r} is not one of "
                                  f"{[e.value for e in enum]}") from None
        if key in cls._NESTED and isinstance(value, dict):
            return cls._NESTED[key].from_dict(value)
        if key in cls._NESTED and isinstance(value, cls._NESTED[key]):
            return value
        kind = cls._TYPES.get(key)
        ok = {
            "int": isinstance(value, int) and not isinstance(value, bool),
            "float": isinstance(value, (int, float)) and not isinstance(value, bool),
            "bool": isinstance(value, bool),
            "str": isinstance(value, str),
            "strs": isinstance(value, list) and all(isinstance(v, str) for v in value),
            "floats": isinstance(value, list) and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in value),
            "dict": isinstance(value, dict),
            "list": isinstance(value, list),
            "any": True,
        }[kind or "any"]
        if not ok:
            raise ConfigError(f"{cls.__name__}.{key} = {value!r} should be of type {kind}")
        if kind in ("float", "floats") and not all(
                math.isfinite(v * NS) for v in (value if kind == "floats" else [value])):
            raise ConfigError(f"{cls.__name__}.{key} = {value!r}: give finite seconds (they "
                              "go to the server in nanoseconds)")
        if kind == "float":
            return float(value)
        if kind == "floats":
            return [float(v) for v in value]
        return value

    def to_wire(self) -> dict[str, Any]:
        """The JSON body the server reads: unset fields left out, seconds as nanoseconds."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            if isinstance(value, Enum):
                value = value.value
            elif isinstance(value, _Config):
                value = value.to_wire()
            elif isinstance(value, list) and value and isinstance(value[0], _Config):
                value = [v.to_wire() for v in value]
            elif f.name in self._SECONDS:
                value = [round(v * NS) for v in value] if isinstance(value, list) else round(value * NS)
            out[f.name] = value
        return out

    @classmethod
    def from_wire(cls, data: dict[str, Any]):
        """Read the server's JSON (nanoseconds); a field the server knows but the simulation
        does not model raises :class:`~pmesh_sim.errors.NotSimulatedError` (when it sets
        something); keys the server does not know either are ignored, as Go's json does."""
        if not isinstance(data, dict):
            raise JetStreamError.from_err_code(10025, err="config must be a JSON object")
        cls._refuse_unsimulated(data)
        names = {f.name for f in fields(cls)}
        values = {}
        for key, value in data.items():
            if key not in names:
                continue
            go_error = field_error(*cls._GO, key, value)
            if go_error:
                raise JetStreamError.from_err_code(10025, err=go_error)
            if key in cls._NESTED and isinstance(value, dict):   # in the server's units too
                values[key] = cls._NESTED[key].from_wire(value)
                continue
            if key in cls._SECONDS and value is not None:
                if isinstance(value, list):
                    value = [v / NS for v in value]
                elif isinstance(value, (int, float)):
                    value = value / NS
            if key == "discard" and isinstance(value, str):
                value = value.lower()        # DiscardPolicy.UnmarshalJSON lower-cases; no other enum does
            if key in cls._ENUMS and value not in {e.value for e in cls._ENUMS[key]}:
                # Go's json: `can not unmarshal "<the raw JSON value, quoted>"`
                raise JetStreamError.from_err_code(
                    10025, err=f"can not unmarshal {json.dumps(json.dumps(value))}")
            try:
                values[key] = cls._coerce(key, value)
            except ConfigError as err:
                raise JetStreamError.from_err_code(10025, err=str(err)) from None
        if "name" in {f.name for f in fields(cls) if f.default is dataclasses.MISSING}:
            values.setdefault("name", "")
        return cls(**values)

    def replace(self, **changes):
        """A copy with ``changes`` applied."""
        return dataclasses.replace(self, **changes)


@dataclass
class RePublish(_Config):
    """Where a stream republishes each message it stores (nats-py ``RePublish``).

    A stored message whose subject matches ``src`` (unset: every subject) is published again
    to ``dest`` with its subject transformed (``$1`` or ``{{wildcard(1)}}`` for the first
    ``*``, ``>`` for the rest), carrying headers ``Nats-Stream``, ``Nats-Subject``,
    ``Nats-Sequence``, ``Nats-Time-Stamp``, ``Nats-Last-Sequence`` (the subject's previous
    sequence, 0 for none), and with ``headers_only`` no payload but ``Nats-Msg-Size``.

    >>> RePublish(src="orders.>", dest="out.>").to_wire()
    {'src': 'orders.>', 'dest': 'out.>'}
    """

    src: str | None = None
    dest: str | None = None
    headers_only: bool | None = None

    _TYPES = {"src": "str", "dest": "str", "headers_only": "bool"}

    def to_wire(self) -> dict[str, Any]:
        """The server's JSON: ``src`` and ``headers_only`` only when set, ``dest`` always."""
        out: dict[str, Any] = {}
        if self.src:
            out["src"] = self.src
        out["dest"] = self.dest or ""
        if self.headers_only:
            out["headers_only"] = True
        return out


@dataclass
class ConsumerLimits(_Config):
    """A stream's ``consumer_limits``: the defaults and ceilings of its consumers'
    ``inactive_threshold`` (seconds) and ``max_ack_pending`` (setConsumerConfigDefaults).

    >>> ConsumerLimits(inactive_threshold=2.0).to_wire()
    {'inactive_threshold': 2000000000}
    """

    inactive_threshold: float | None = None
    max_ack_pending: int | None = None

    _SECONDS = ("inactive_threshold",)
    _TYPES = {"inactive_threshold": "float", "max_ack_pending": "int"}


@dataclass
class SubjectTransformConfig(_Config):
    """A stream's ``subject_transform``: a message arriving on a subject that matches ``src``
    (unset: any) is stored on the subject ``dest`` makes of it, before anything else.

    >>> SubjectTransformConfig(src="orders.*", dest="o.$1").to_wire()
    {'src': 'orders.*', 'dest': 'o.$1'}
    """

    src: str | None = None
    dest: str | None = None

    _TYPES = {"src": "str", "dest": "str"}


@dataclass
class StreamSource(_Config):
    """A stream's ``mirror`` or one of its ``sources`` (nats-py ``StreamSource``): the origin
    stream ``name``, where to start (``opt_start_seq`` or ``opt_start_time``, a date), and which
    messages to take (``filter_subject``, or ``subject_transforms``: filters that may also
    rename). ``external`` and ``consumer`` (another account or domain, a durable sourcing
    consumer) are refused as not simulated.

    >>> StreamSource.from_dict({"name": "O", "subject_transforms": [{"src": "o.*"}]}).to_wire()
    {'name': 'O', 'subject_transforms': [{'src': 'o.*', 'dest': ''}]}
    """

    name: str
    opt_start_seq: int | None = None
    opt_start_time: str | None = None
    filter_subject: str | None = None
    subject_transforms: list[SubjectTransformConfig] | None = None

    _SURFACE = "source"   # Go's type errors: gojson.source_error, read by StreamConfig
    _TYPES = {"name": "str", "opt_start_seq": "int", "opt_start_time": "str",
              "filter_subject": "str", "subject_transforms": "list"}

    @classmethod
    def _coerce(cls, key: str, value: Any) -> Any:
        if key != "subject_transforms" or value is None:
            return super()._coerce(key, value)
        if not isinstance(value, list) or not all(
                isinstance(v, (dict, SubjectTransformConfig)) for v in value):
            raise ConfigError(f"StreamSource.subject_transforms = {value!r} should be a list "
                              "of {src, dest} mappings")
        return [v if isinstance(v, SubjectTransformConfig)
                else SubjectTransformConfig.from_dict(v) for v in value]

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> StreamSource:
        """Read the server's JSON (an ``opt_start_time`` that is not a date fails as Go's json
        does, 10025)."""
        if isinstance(data, dict):
            start = data.get("opt_start_time")
            if isinstance(start, str) and time_error(start):
                raise JetStreamError.from_err_code(10025, err=time_error(start))
        src = super().from_wire(data)
        if src.subject_transforms is not None:
            src.subject_transforms = [t if isinstance(t, SubjectTransformConfig)
                                      else SubjectTransformConfig.from_wire(t)
                                      for t in src.subject_transforms]
        return src

    def to_wire(self) -> dict[str, Any]:
        """The server's JSON: unset fields left out; each transform's ``dest`` always."""
        out: dict[str, Any] = {"name": self.name}
        for key in ("opt_start_seq", "opt_start_time", "filter_subject"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        if self.subject_transforms:
            out["subject_transforms"] = [{"src": t.src or "", "dest": t.dest or ""}
                                         for t in self.subject_transforms]
        return out


@dataclass
class StreamConfig(_Config):
    """A stream's configuration (nats-py ``StreamConfig`` names; durations in seconds).

    ``duplicate_window=0`` and ``subjects=None`` mean "the server's default" (2 min or
    ``max_age``; ``[name]``); -1 means unlimited for the limits.
    """

    name: str
    subjects: list[str] | None = None
    description: str | None = None
    retention: RetentionPolicy = RetentionPolicy.LIMITS
    max_consumers: int = -1
    max_msgs: int = -1
    max_bytes: int = -1
    discard: DiscardPolicy = DiscardPolicy.OLD
    discard_new_per_subject: bool = False
    max_age: float = 0.0
    max_msgs_per_subject: int = -1
    max_msg_size: int = -1
    storage: StorageType = StorageType.FILE
    num_replicas: int = 1
    no_ack: bool = False
    duplicate_window: float = 0.0
    sealed: bool = False
    deny_delete: bool = False
    deny_purge: bool = False
    allow_rollup_hdrs: bool = False
    allow_direct: bool = False
    metadata: dict[str, str] | None = None
    republish: RePublish | None = None
    first_seq: int | None = None
    allow_msg_ttl: bool = False
    subject_delete_marker_ttl: float | None = None
    placement: dict[str, Any] | None = None
    subject_transform: SubjectTransformConfig | None = None
    compression: str | None = None
    consumer_limits: ConsumerLimits | None = None
    mirror: StreamSource | None = None
    sources: list[StreamSource] | None = None

    _SECONDS = ("max_age", "duplicate_window", "subject_delete_marker_ttl")
    _GO = ("StreamConfigRequest", STREAM_TYPES)
    _SURFACE = "stream"
    _NESTED = {"republish": RePublish, "subject_transform": SubjectTransformConfig,
               "consumer_limits": ConsumerLimits, "mirror": StreamSource}
    _ENUMS = {"retention": RetentionPolicy, "discard": DiscardPolicy, "storage": StorageType}
    _TYPES = {"name": "str", "subjects": "strs", "description": "str", "max_consumers": "int",
              "max_msgs": "int", "max_bytes": "int", "discard_new_per_subject": "bool",
              "max_age": "float", "max_msgs_per_subject": "int", "max_msg_size": "int",
              "num_replicas": "int", "no_ack": "bool", "duplicate_window": "float",
              "sealed": "bool", "deny_delete": "bool", "deny_purge": "bool",
              "allow_rollup_hdrs": "bool", "allow_direct": "bool", "metadata": "dict",
              "republish": "dict", "first_seq": "int", "allow_msg_ttl": "bool",
              "subject_delete_marker_ttl": "float", "placement": "dict",
              "subject_transform": "dict", "compression": "str", "consumer_limits": "dict",
              "mirror": "dict", "sources": "list"}

    @classmethod
    def _coerce(cls, key: str, value: Any) -> Any:
        if key != "sources" or value is None:
            return super()._coerce(key, value)
        if not isinstance(value, list) or not all(
                isinstance(v, (dict, StreamSource)) for v in value):
            raise ConfigError(f"StreamConfig.sources = {value!r} should be a list of "
                              "StreamSource mappings")
        return [v if isinstance(v, StreamSource) else StreamSource.from_dict(v) for v in value]

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> StreamConfig:
        """Read the server's JSON; ``first_seq`` is a uint64 there (10025 when negative), and
        ``compression`` ``s2`` or ``none`` (the store's; it changes no count the server shows).
        """
        if isinstance(data, dict) and "compression" in data \
                and data["compression"] not in ("s2", "none"):
            raise JetStreamError.from_err_code(10025, err="unknown compression algorithm")
        seq = data.get("first_seq") if isinstance(data, dict) else None
        if isinstance(seq, int) and not isinstance(seq, bool) and seq < 0:
            raise JetStreamError.from_err_code(
                10025, err=f"json: cannot unmarshal number {seq} into Go struct field "
                           "StreamConfigRequest.first_seq of type uint64")
        where = [] if not isinstance(data, dict) else [
            ("StreamConfigRequest.mirror", data.get("mirror"))] + [
            (f"StreamConfigRequest.sources.{i}", v) for i, v in enumerate(
                data.get("sources") if isinstance(data.get("sources"), list) else [])]
        for path, value in where:
            go_error = source_error(path, value)
            if go_error:
                raise JetStreamError.from_err_code(10025, err=go_error)
        sources = data.get("sources") if isinstance(data, dict) else None
        if isinstance(sources, list):   # each one in the server's units, as a nested config
            data = {**data, "sources": [StreamSource.from_wire(v) if isinstance(v, dict) else v
                                        for v in sources]}
        return super().from_wire(data)


@dataclass
class ConsumerConfig(_Config):
    """A consumer's configuration (nats-py ``ConsumerConfig`` names; durations in seconds).

    ``None`` means unset: the server fills it in (``ack_wait`` 30 s, ``max_ack_pending`` 1000,
    ``max_waiting`` 512 for pull, ``inactive_threshold`` 5 s for ephemerals).
    """

    durable_name: str | None = None
    name: str | None = None
    description: str | None = None
    deliver_policy: DeliverPolicy = DeliverPolicy.ALL
    opt_start_seq: int | None = None
    opt_start_time: str | None = None
    ack_policy: AckPolicy = AckPolicy.EXPLICIT
    ack_wait: float | None = None
    max_deliver: int | None = None
    backoff: list[float] | None = None
    filter_subject: str | None = None
    filter_subjects: list[str] | None = None
    replay_policy: ReplayPolicy = ReplayPolicy.INSTANT
    rate_limit_bps: int | None = None
    sample_freq: str | None = None
    max_waiting: int | None = None
    max_ack_pending: int | None = None
    flow_control: bool | None = None
    idle_heartbeat: float | None = None
    headers_only: bool | None = None
    max_batch: int | None = None
    max_expires: float | None = None
    max_bytes: int | None = None
    deliver_subject: str | None = None
    deliver_group: str | None = None
    inactive_threshold: float | None = None
    num_replicas: int | None = None
    mem_storage: bool | None = None
    metadata: dict[str, str] | None = None
    pause_until: str | None = None

    _SECONDS = ("ack_wait", "backoff", "idle_heartbeat", "inactive_threshold", "max_expires")
    _GO = ("CreateConsumerRequest.config", CONSUMER_TYPES)
    _SURFACE = "consumer"
    _ENUMS = {"deliver_policy": DeliverPolicy, "ack_policy": AckPolicy,
              "replay_policy": ReplayPolicy}
    _TYPES = {"durable_name": "str", "name": "str", "description": "str", "opt_start_seq": "int",
              "opt_start_time": "str", "ack_wait": "float", "max_deliver": "int",
              "backoff": "floats", "filter_subject": "str", "filter_subjects": "strs",
              "rate_limit_bps": "int", "sample_freq": "str", "max_waiting": "int",
              "max_ack_pending": "int", "flow_control": "bool", "idle_heartbeat": "float",
              "headers_only": "bool", "max_batch": "int", "max_expires": "float",
              "max_bytes": "int", "deliver_subject": "str", "deliver_group": "str", "inactive_threshold": "float",
              "num_replicas": "int", "mem_storage": "bool", "metadata": "dict",
              "pause_until": "str"}

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> ConsumerConfig:
        """Read the server's JSON; a missing ``ack_policy`` is the server's zero value ``none``;
        an ``opt_start_time`` that is not an RFC 3339 date fails as Go's json does (10025)."""
        start = data.get("opt_start_time") if isinstance(data, dict) else None
        if isinstance(start, str) and time_error(start):
            raise JetStreamError.from_err_code(10025, err=time_error(start))
        cfg = super().from_wire(data)
        from .jetstream.stream import _rfc3339, parse_rfc3339

        for key in ("opt_start_time", "pause_until"):
            if isinstance(getattr(cfg, key), str):
                try:
                    ns = parse_rfc3339(getattr(cfg, key))
                except ValueError as err:
                    raise JetStreamError.from_err_code(10025, err=str(err)) from None
                if key == "pause_until":   # the server keeps it in UTC; the zero time is unset
                    cfg.pause_until = _rfc3339(0.0, ns) if ns != _GO_ZERO_TIME else None
        if "ack_policy" not in data:
            cfg.ack_policy = AckPolicy.NONE
        return cfg

    @property
    def filters(self) -> list[str]:
        """The filter subjects as one list (empty: the whole stream).

        >>> ConsumerConfig(filter_subject="a.*").filters
        ['a.*']
        """
        if self.filter_subjects:
            return list(self.filter_subjects)
        return [self.filter_subject] if self.filter_subject else []


def _valid_asset_name(name: str | None) -> bool:
    return bool(name) and not any(c in name for c in " \t\r\n\f.*>/\\")


def check_stream_config(cfg: StreamConfig, *, clustered: bool = False) -> StreamConfig:
    """The config with the server's defaults, or the server's error (checkStreamCfgLocked order).

    >>> check_stream_config(StreamConfig(name="S", max_age=30.0)).duplicate_window
    30.0
    >>> check_stream_config(StreamConfig(name="S", num_replicas=3)).num_replicas
    Traceback (most recent call last):
    ...
    pmesh_sim.errors.JetStreamError: replicas > 1 not supported in non-clustered mode (err_code=10074, code=500)
    """
    from .subjects import subject_matches, validate_subject  # noqa: F401 - late: sibling module
    from .errors import InvalidSubjectError

    if not _valid_asset_name(cfg.name):
        raise _invalid("stream name is required and can not contain '.', '*', '>', '\\', '/'")
    if len(cfg.name) > MAX_NAME_LEN:
        raise _invalid(f"stream name is too long, maximum allowed is {MAX_NAME_LEN}")
    limits = cfg.consumer_limits
    c = dataclasses.replace(cfg, subjects=list(cfg.subjects) if cfg.subjects else None,
                            first_seq=cfg.first_seq or None,
                            compression=None if cfg.compression == "none" else cfg.compression,
                            # an empty placement is none (checkStreamCfg)
                            placement=cfg.placement if cfg.placement and any(
                                cfg.placement.values()) else None,
                            consumer_limits=limits if limits and (
                                limits.inactive_threshold or limits.max_ack_pending) else None)
    if c.num_replicas == 0:
        c.num_replicas = 1
    if c.num_replicas > 5:
        raise _invalid("maximum replicas is 5")
    if c.num_replicas < 0:
        raise JetStreamError.from_err_code(10133)
    for key in ("max_msgs", "max_msgs_per_subject", "max_bytes", "max_msg_size", "max_consumers"):
        if getattr(c, key) == 0 or getattr(c, key) < -1:
            setattr(c, key, -1)
    if c.max_age < 0:
        raise _invalid("max age can not be negative")
    if c.max_age != 0 and c.max_age < 0.1:
        raise _invalid("max age needs to be >= 100ms")
    sourced = c.mirror is not None or bool(c.sources)
    if c.duplicate_window == 0 and not sourced:
        c.duplicate_window = (c.max_age if c.max_age != 0 and c.max_age < DEFAULT_DUPLICATE_WINDOW
                              else DEFAULT_DUPLICATE_WINDOW)
    if c.duplicate_window < 0:
        raise _invalid("duplicates window can not be negative")
    if c.max_age != 0 and c.duplicate_window > c.max_age:
        raise _invalid("duplicates window can not be larger then max age")
    if 0 < c.duplicate_window < 0.1:
        raise _invalid("duplicates window needs to be >= 100ms")
    if c.deny_purge and c.allow_rollup_hdrs:
        raise _invalid("roll-ups require the purge permission")
    if c.discard_new_per_subject:
        if c.discard != DiscardPolicy.NEW:
            raise _invalid("discard new per subject requires discard new policy to be set")
        if c.max_msgs_per_subject <= 0:
            raise _invalid("discard new per subject requires max msgs per subject > 0")
    if c.mirror is not None:
        _check_mirror(c)
    if c.sources:
        _check_sources(c.sources)
    _check_delete_markers(c)
    if not c.subjects:
        c.subjects = [] if sourced else [c.name]
    else:
        seen: set[str] = set()
        for i, subj in enumerate(c.subjects):
            try:
                validate_subject(subj)
            except InvalidSubjectError:
                raise _invalid("invalid subject") from None
            if subj in seen:
                raise _invalid("duplicate subjects detected")
            if subj == ">":
                if not c.no_ack:
                    raise _invalid("capturing all subjects requires no-ack to be true")
            elif not c.no_ack and subjects_collide(subj, "$JS.>") \
                    and not subject_matches("$JS.EVENT.>", subj):
                raise _invalid("subjects that overlap with jetstream api require no-ack to be true")
            for other in c.subjects[i + 1:]:
                if subjects_collide(other, subj):
                    raise _invalid(f'subject "{subj}" overlaps with "{other}"')
            seen.add(subj)
    if c.subject_transform is not None:
        _check_transform(c.subject_transform)
    if c.republish is not None:
        c.republish = _check_republish(c.republish, c.subjects)
    if not clustered and c.num_replicas > 1:
        raise JetStreamError.from_err_code(10074)
    return c


def _check_mirror(c: StreamConfig) -> None:
    """checkStreamCfg on a mirror, in its order (the checks that need no other stream)."""
    m = c.mirror
    if c.first_seq:
        raise JetStreamError.from_err_code(10143)
    if c.subjects:
        raise JetStreamError.from_err_code(10034)
    if c.sources:
        raise JetStreamError.from_err_code(10031)
    if m.filter_subject and m.subject_transforms:
        raise JetStreamError.from_err_code(10150)
    if (c.subject_delete_marker_ttl or 0) > 0:
        raise _invalid("subject delete markers forbidden on mirrors")
    for i, tr in enumerate(m.subject_transforms or []):
        _check_source_transform(tr, 10151, 10154)
        if any(j != i and subjects_collide(tr.src or ">", other.src or ">")
               for j, other in enumerate(m.subject_transforms)):
            raise JetStreamError.from_err_code(10152)
    if not _valid_asset_name(m.name):
        raise JetStreamError.from_err_code(10142)


def _check_sources(sources: list[StreamSource]) -> None:
    """checkStreamCfg on each source, in its order (the checks that need no other stream)."""
    from .jetstream.sourcing import source_iname

    seen: set[str] = set()
    for src in sources:
        if not _valid_asset_name(src.name):
            raise JetStreamError.from_err_code(10141)
        iname = source_iname(src)
        if iname in seen:
            raise JetStreamError.from_err_code(10140)
        seen.add(iname)
        if src.filter_subject and src.subject_transforms:
            raise JetStreamError.from_err_code(10144)
        transforms = src.subject_transforms or []
        for tr in transforms:
            _check_source_transform(tr, 10145, 10146)
        for i, tr in enumerate(transforms):
            if any(j != i and subject_is_subset(tr.src or ">", other.src or ">")
                   for j, other in enumerate(transforms)):
                raise JetStreamError.from_err_code(10147)


def _check_source_transform(tr: SubjectTransformConfig, bad_src: int, bad_dest: int) -> None:
    """A source's or mirror's subject transform: a valid filter (``bad_src``) and a mapping
    the server can make (``bad_dest``); a mapping function the simulation lacks is refused."""
    from .errors import InvalidSubjectError, NotSimulatedError
    from .jetstream.transform import SubjectTransform, UnsupportedMapping
    from .subjects import validate_subject

    if tr.src:
        try:
            validate_subject(tr.src)
        except InvalidSubjectError:
            raise JetStreamError.from_err_code(bad_src, err=f"invalid subject {tr.src}") from None
    if not tr.dest:
        return
    try:
        SubjectTransform(tr.src or ">", tr.dest)
    except UnsupportedMapping as err:
        raise NotSimulatedError("stream source field 'subject_transforms'", str(err)) from None
    except ValueError as err:
        raise JetStreamError.from_err_code(bad_dest, err=str(err)) from None


def _check_delete_markers(c: StreamConfig) -> None:
    """Subject delete markers (checkStreamCfg): at least 1 s; they turn on per-message TTLs
    and rollups (and off deny_purge), as the server does outside pedantic mode."""
    ttl = c.subject_delete_marker_ttl or 0.0
    if ttl > 0:
        if ttl < 1.0:
            raise _invalid("subject delete marker TTL must be at least 1 second")
        c.allow_msg_ttl = True
        if not c.allow_rollup_hdrs:
            c.allow_rollup_hdrs, c.deny_purge = True, False
    elif ttl < 0:
        raise _invalid("subject delete marker TTL must not be negative")
    else:
        c.subject_delete_marker_ttl = None


def _check_transform(tr: SubjectTransformConfig) -> None:
    """checkStreamCfg on ``subject_transform``: a valid source (10155) and a mapping the
    server can make (10156); a mapping function the simulation lacks is not simulated."""
    from .errors import InvalidSubjectError, NotSimulatedError
    from .jetstream.transform import SubjectTransform, UnsupportedMapping
    from .subjects import validate_subject

    if tr.src:
        try:
            validate_subject(tr.src)
        except InvalidSubjectError:
            raise JetStreamError.from_err_code(10155, err=f"invalid subject {tr.src}") from None
    if not tr.dest:
        return
    try:
        SubjectTransform(tr.src or ">", tr.dest)
    except UnsupportedMapping as err:
        raise NotSimulatedError("stream config field 'subject_transform'", str(err)) from None
    except ValueError:
        raise JetStreamError.from_err_code(10156, err="invalid subject") from None


def _check_republish(rp: RePublish, subjects: list[str]) -> RePublish:
    """The server's republish checks (checkStreamCfg): an empty ``src`` is ``>``; ``dest``
    may not overlap the stream's subjects (a cycle) and must be a valid transform of ``src``.

    >>> _check_republish(RePublish(dest="out.>"), ["orders.>"]).src
    '>'
    >>> _check_republish(RePublish(src="orders.>", dest="orders.copy.>"), ["orders.>"])
    Traceback (most recent call last):
    ...
    pmesh_sim.errors.JetStreamError: stream configuration for republish destination forms a cycle (err_code=10052, code=500)
    """
    from .jetstream.transform import SubjectTransform, UnsupportedMapping

    rp = dataclasses.replace(rp, src=rp.src or ">")
    dest = rp.dest or ""
    if any(subjects_collide(dest, subj) for subj in subjects if dest):
        raise _invalid("stream configuration for republish destination forms a cycle")
    if dest:
        try:
            SubjectTransform(rp.src, dest)
        except UnsupportedMapping as err:
            raise _invalid(str(err)) from None
        except ValueError:
            raise _invalid(f"stream configuration for republish with transform from "
                           f"'{rp.src}' to '{dest}' not valid") from None
    return rp


def check_stream_update(old: StreamConfig, new: StreamConfig, *, clustered: bool = False) -> StreamConfig:
    """The checked new config of an update, or the server's error (configUpdateCheck order)."""
    c = check_stream_config(new, clustered=clustered)
    if c.name != old.name:
        raise _invalid("stream configuration name must match original")
    if c.storage != old.storage:
        raise _invalid("stream configuration update can not change storage type")
    if c.retention != old.retention and RetentionPolicy.WORK_QUEUE in (c.retention, old.retention):
        raise _invalid("stream configuration update can not change retention policy to/from workqueue")
    if old.sealed and not c.sealed:
        raise _invalid("stream configuration update can not unseal a sealed stream")
    if old.deny_delete and not c.deny_delete:
        raise _invalid("stream configuration update can not cancel deny message deletes")
    if old.deny_purge and not c.deny_purge:
        raise _invalid("stream configuration update can not cancel deny purge")
    if c.mirror is not None and c.mirror != old.mirror:   # removing it promotes the mirror
        raise JetStreamError.from_err_code(10055)
    if old.allow_msg_ttl and not c.allow_msg_ttl:
        raise _invalid("message TTL status can not be disabled")
    if c.sealed:   # what sealing implies (configUpdateCheck): nothing leaves, nothing comes in
        c.max_age, c.discard = 0.0, DiscardPolicy.NEW
        c.deny_delete = c.deny_purge = True
        c.allow_rollup_hdrs = False
    return c


def _go_same(a: Any, b: Any) -> bool:
    """Whether two field values are equal as the server's Go struct holds them: unset is the
    type's zero value (0, "", false), so None and 0 are the same."""
    return a == b or (a is None and not b and b is not None and not isinstance(b, (list, dict))
                      or b is None and not a and not isinstance(a, (list, dict)))


def go_equal(a: _Config, b: _Config) -> bool:
    """Whether two configs are equal as the server compares them (reflect.DeepEqual of its
    Go structs): unset fields are their zero value.

    >>> go_equal(ConsumerConfig(idle_heartbeat=0.0), ConsumerConfig()), go_equal(
    ...     ConsumerConfig(max_deliver=0), ConsumerConfig(max_deliver=1))
    (True, False)
    """
    return type(a) is type(b) and all(_go_same(getattr(a, f.name), getattr(b, f.name))
                                      for f in fields(a))


def subjects_collide(a: str, b: str) -> bool:
    """True when some literal subject matches both patterns.

    >>> subjects_collide("a.>", "a.b"), subjects_collide("a.*", "b.*"), subjects_collide("a.*", "*.b")
    (True, False, True)
    """
    ta, tb = a.split("."), b.split(".")
    if len(ta) < len(tb) and ta[-1] != ">" or len(tb) < len(ta) and tb[-1] != ">":
        return False
    return all(x == y or x in ("*", ">") or y in ("*", ">") for x, y in zip(ta, tb))


def subject_is_subset(sub: str, of: str) -> bool:
    """True when every subject ``sub`` matches is also matched by ``of``.

    >>> subject_is_subset("a.b", "a.*"), subject_is_subset("a.*", "a.b"), subject_is_subset("a.>", "a.>")
    (True, False, True)
    """
    ts, to = sub.split("."), of.split(".")
    for i, t in enumerate(to):
        if t == ">":
            return len(ts) > i
        if i >= len(ts):
            return False
        if t == "*":
            if ts[i] == ">":
                return False
            continue
        if ts[i] != t:
            return False
    return len(ts) == len(to)


def check_consumer_config(cfg: ConsumerConfig, stream: StreamConfig) -> ConsumerConfig:
    """The config with the server's defaults, or the server's error (setConsumerConfigDefaults,
    then checkConsumerCfg, in its order).

    >>> c = check_consumer_config(ConsumerConfig(durable_name="d"), StreamConfig(name="S"))
    >>> (c.ack_wait, c.max_deliver, c.max_ack_pending, c.max_waiting)
    (30.0, -1, 1000, 512)
    """
    from .subjects import validate_subject
    from .errors import InvalidSubjectError

    c = dataclasses.replace(cfg)
    if c.inactive_threshold is not None and c.inactive_threshold < 0:
        c.inactive_threshold = None   # setConsumerConfigDefaults: negative is unset
    if c.max_deliver is None or c.max_deliver == 0 or c.max_deliver < -1:
        c.max_deliver = -1
    if c.max_waiting is not None and c.max_waiting < 0:
        c.max_waiting = 0
    if c.max_ack_pending is not None and c.max_ack_pending < -1:
        c.max_ack_pending = -1
    if not c.deliver_subject and not c.max_waiting:
        c.max_waiting = DEFAULT_MAX_WAITING
    if not c.ack_wait and c.ack_policy in (AckPolicy.EXPLICIT, AckPolicy.ALL):
        c.ack_wait = DEFAULT_ACK_WAIT
    if c.backoff:
        c.ack_wait = c.backoff[0]
    limits = stream.consumer_limits or ConsumerLimits()
    if not c.max_ack_pending and limits.max_ack_pending:
        c.max_ack_pending = limits.max_ack_pending
    if not c.inactive_threshold and limits.inactive_threshold:
        c.inactive_threshold = limits.inactive_threshold
    if not c.max_ack_pending and c.ack_policy != AckPolicy.NONE:
        c.max_ack_pending = DEFAULT_MAX_ACK_PENDING
    if c.name and not _valid_asset_name(c.name):
        raise _invalid("consumer name can not contain '.', '*', '>', '\\', '/'")
    if c.durable_name and not _valid_asset_name(c.durable_name):
        raise _invalid("consumer durable name can not contain '.', '*', '>', '\\', '/'")
    replicas = c.num_replicas or 0
    if replicas > 0 and replicas > stream.num_replicas:
        raise JetStreamError.from_err_code(10126)
    if replicas < 0:
        raise JetStreamError.from_err_code(10133)
    if stream.retention != RetentionPolicy.LIMITS and replicas not in (0, stream.num_replicas):
        raise JetStreamError.from_err_code(10134)
    if any(b < 0 for b in c.backoff or ()):
        raise JetStreamError.from_err_code(10184)
    if c.ack_wait is not None and c.ack_wait < 0:
        raise JetStreamError.from_err_code(10183)
    if c.backoff and c.max_deliver != -1 and len(c.backoff) > c.max_deliver:
        raise JetStreamError.from_err_code(10116)
    if c.deliver_subject:
        if "*" in c.deliver_subject.split(".") or ">" in c.deliver_subject.split("."):
            raise JetStreamError.from_err_code(10079)
        from .subjects import subject_matches
        # consumer.go deliveryFormsCycle: a stream subject captures the deliveries
        if any(subject_matches(s, c.deliver_subject) for s in stream.subjects or [stream.name]):
            raise JetStreamError.from_err_code(10081)
        if c.max_waiting:
            raise JetStreamError.from_err_code(10080)
        if (c.max_ack_pending or 0) > 0 and c.ack_policy == AckPolicy.NONE:
            raise JetStreamError.from_err_code(10082)
        if c.idle_heartbeat and c.idle_heartbeat < 0.1:
            raise JetStreamError.from_err_code(10083)
    else:
        if c.ack_policy == AckPolicy.NONE and stream.retention == RetentionPolicy.WORK_QUEUE:
            raise JetStreamError.from_err_code(10084)
        if c.rate_limit_bps:
            raise JetStreamError.from_err_code(10086)
        if c.idle_heartbeat:
            raise JetStreamError.from_err_code(10088)
        if c.flow_control:
            raise JetStreamError.from_err_code(10089)
    _check_limits(c, limits)
    if c.filter_subject and c.filter_subjects:
        raise JetStreamError.from_err_code(10136)
    if any(f == "" for f in c.filter_subjects or ()):
        raise JetStreamError.from_err_code(10139)
    filters = c.filters
    for i, f in enumerate(filters):
        try:
            validate_subject(f)
        except InvalidSubjectError:
            raise _invalid("invalid subject") from None
        if any(j != i and subject_is_subset(f, g) for j, g in enumerate(filters)):
            raise JetStreamError.from_err_code(10138)
    _check_deliver_policy(c)
    if c.flow_control and not c.idle_heartbeat:
        raise JetStreamError.from_err_code(10108)
    if c.durable_name and c.name and c.name != c.durable_name:
        raise JetStreamError.from_err_code(10132)
    return c


def _check_limits(c: ConsumerConfig, limits: ConsumerLimits) -> None:
    """The stream's consumer limits are ceilings too (checkConsumerCfg: 10121, 10153)."""
    from .jetstream.pull import go_duration

    if limits.max_ack_pending and limits.max_ack_pending > 0 \
            and (c.max_ack_pending or 0) > limits.max_ack_pending:
        raise JetStreamError.from_err_code(10121, limit=limits.max_ack_pending)
    if limits.inactive_threshold and limits.inactive_threshold > 0 \
            and (c.inactive_threshold or 0) > limits.inactive_threshold:
        raise JetStreamError.from_err_code(
            10153, limit=go_duration(round(limits.inactive_threshold * NS)))


def _check_deliver_policy(c: ConsumerConfig) -> None:
    words = {DeliverPolicy.ALL: "all", DeliverPolicy.LAST: "last", DeliverPolicy.NEW: "new",
             DeliverPolicy.LAST_PER_SUBJECT: "last per subject",
             DeliverPolicy.BY_START_SEQUENCE: "by start sequence",
             DeliverPolicy.BY_START_TIME: "by start time"}
    dp = words[c.deliver_policy]

    def bad(start: str) -> JetStreamError:
        return JetStreamError.from_err_code(
            10094, err=f"consumer delivery policy is deliver {dp}, but optional start {start} is also set")

    def missing(what: str) -> JetStreamError:
        return JetStreamError.from_err_code(
            10094, err=f"consumer delivery policy is deliver {dp}, but optional {what} is not set")

    if c.deliver_policy == DeliverPolicy.BY_START_SEQUENCE:
        if not c.opt_start_seq:
            raise missing("start sequence")
        if c.opt_start_time:
            raise bad("time")
    elif c.deliver_policy == DeliverPolicy.BY_START_TIME:
        if not c.opt_start_time:
            raise missing("start time")
        if c.opt_start_seq:
            raise bad("start sequence")
    else:
        if c.opt_start_seq:
            raise bad("sequence")
        if c.opt_start_time:
            raise bad("time")
        if c.deliver_policy == DeliverPolicy.LAST_PER_SUBJECT and not c.filters:
            raise missing("filter subject")


_IMMUTABLE = [("deliver_policy", "deliver policy can not be updated"),
              ("mem_storage", "storage type can not be updated"),
              ("opt_start_seq", "start sequence can not be updated"),
              ("ack_policy", "ack policy can not be updated"),
              ("replay_policy", "replay policy can not be updated"),
              ("idle_heartbeat", "heart beats can not be updated"),
              ("flow_control", "flow control can not be updated")]


def check_consumer_update(old: ConsumerConfig, new: ConsumerConfig,
                          has_interest=lambda subject: False) -> None:
    """Raise the server's error when ``new`` changes what cannot change (checkNewConsumerConfig
    order): 10012 naming the field; 10013 when the old deliver subject still has a subscriber.
    """
    from .jetstream.stream import parse_rfc3339

    for key, text in _IMMUTABLE:
        if not _go_same(getattr(old, key), getattr(new, key)):
            raise JetStreamError.from_err_code(10012, err=text)
        if key == "opt_start_seq":   # start times compare as times, after the sequence
            a, b = old.opt_start_time, new.opt_start_time
            if (a is None) != (b is None) or a is not None and parse_rfc3339(a) != parse_rfc3339(b):
                raise JetStreamError.from_err_code(10012, err="start time can not be updated")
    if (old.deliver_subject or "") != (new.deliver_subject or ""):
        if not old.deliver_subject:
            raise JetStreamError.from_err_code(10012, err="can not update pull consumer to push based")
        if not new.deliver_subject:
            raise JetStreamError.from_err_code(10012, err="can not update push consumer to pull based")
        if has_interest(old.deliver_subject):
            raise JetStreamError.from_err_code(10013)
    if old.max_waiting != new.max_waiting:
        raise JetStreamError.from_err_code(10012, err="max waiting can not be updated")

"""What Go's ``encoding/json`` refuses when nats-server reads a config: a number that does not
fit the field's Go type, a metadata value that is not a string, a start time that is not RFC 3339.

The server answers each with 10025 ``invalid JSON: <Go's error>``; these functions return Go's
error text (or None when Go would accept the value).

>>> field_error("StreamConfigRequest", STREAM_TYPES, "max_msgs", 2**63)
'json: cannot unmarshal number 9223372036854775808 into Go struct field StreamConfigRequest.max_msgs of type int64'
>>> field_error("StreamConfigRequest", STREAM_TYPES, "metadata", {"a": 1})
'json: cannot unmarshal number into Go struct field StreamConfigRequest.metadata.a of type string'
>>> time_error("yesterday")
'parsing time "yesterday" as "2006-01-02T15:04:05Z07:00": cannot parse "yesterday" as "2006"'
>>> time_error("2024-01-02T03:04:05.5Z") is None
True
>>> time_error("2024-13-01T00:00:00Z")
'parsing time "2024-13-01T00:00:00Z": month out of range'
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["STREAM_TYPES", "CONSUMER_TYPES", "SOURCE_TYPES", "field_error", "source_error",
           "time_error", "ttl_seconds"]

_INT64 = (-2**63, 2**63 - 1)
_RANGES = {"int64": _INT64, "int": _INT64, "time.Duration": _INT64, "int32": (-2**31, 2**31 - 1),
           "uint64": (0, 2**64 - 1)}

#: StreamConfig's numeric fields and their Go types (server/stream.go).
STREAM_TYPES = {"max_consumers": "int", "max_msgs": "int64", "max_bytes": "int64",
                "max_age": "time.Duration", "max_msgs_per_subject": "int64",
                "max_msg_size": "int32", "num_replicas": "int",
                "duplicate_window": "time.Duration", "first_seq": "uint64",
                "metadata": "map[string]string"}

#: ConsumerConfig's numeric fields and their Go types (server/consumer.go).
CONSUMER_TYPES = {"opt_start_seq": "uint64", "ack_wait": "time.Duration", "max_deliver": "int",
                  "backoff": "[]time.Duration", "rate_limit_bps": "uint64", "max_waiting": "int",
                  "max_ack_pending": "int", "idle_heartbeat": "time.Duration", "max_batch": "int",
                  "max_expires": "time.Duration", "max_bytes": "int",
                  "inactive_threshold": "time.Duration", "num_replicas": "int",
                  "metadata": "map[string]string"}


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return {dict: "object", list: "array", str: "string"}.get(type(value), "value")


def _number_error(value: Any, go_type: str) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    low, high = _RANGES[go_type]
    return isinstance(value, float) or not low <= value <= high


def field_error(struct: str, types: dict[str, str], key: str, value: Any) -> str | None:
    """Go's error for ``key: value`` in ``struct`` (None when it unmarshals)."""
    go_type = types.get(key)
    if go_type is None or value is None:
        return None
    where = f"Go struct field {struct}.{key}"
    if go_type == "map[string]string":
        if not isinstance(value, dict):
            return None
        for k, v in value.items():
            if v is not None and not isinstance(v, str):
                return f"json: cannot unmarshal {_json_kind(v)} into {where}.{k} of type string"
        return None
    values, go_type = (value, go_type[2:]) if go_type.startswith("[]") else ([value], go_type)
    if not isinstance(values, list):
        return None
    for i, v in enumerate(values):
        if _number_error(v, go_type):
            if values is value:     # a slice element: Go names its index, not the struct field
                where = f"{struct}.{key}.{i}"
            return f"json: cannot unmarshal number {v!r} into {where} of type {go_type}"
    return None


#: StreamSource's fields and their Go types (server/stream.go; opt_start_time: time_error).
SOURCE_TYPES = {"name": "string", "opt_start_seq": "uint64", "filter_subject": "string",
                "subject_transforms": "[]server.SubjectTransformConfig"}


def source_error(where: str, value: Any) -> str | None:
    """Go's error for a mirror's or source's JSON object at ``where`` (``StreamConfigRequest.
    mirror``, ``StreamConfigRequest.sources.0``); None when it unmarshals.

    >>> source_error("StreamConfigRequest.sources.0", {"name": "O", "opt_start_seq": -1})
    'json: cannot unmarshal number -1 into Go struct field StreamConfigRequest.sources.0.opt_start_seq of type uint64'
    >>> source_error("StreamConfigRequest.mirror", {"filter_subject": 5})
    'json: cannot unmarshal number into Go struct field StreamConfigRequest.mirror.filter_subject of type string'
    """
    if not isinstance(value, dict):
        return None
    for key, go_type in SOURCE_TYPES.items():
        v = value.get(key)
        if v is None:
            continue
        field = f"Go struct field {where}.{key} of type {go_type}"
        if go_type == "uint64" and _number_error(v, go_type):
            return f"json: cannot unmarshal number {v!r} into {field}"
        ok = {"string": isinstance(v, str), "uint64": isinstance(v, (int, float))
              and not isinstance(v, bool)}.get(go_type, isinstance(v, list))
        if not ok:
            return f"json: cannot unmarshal {_json_kind(v)} into {field}"
    return None


_LAYOUT = "2006-01-02T15:04:05Z07:00"
# Go's layout elements in order: (element, pattern the value must match there)
_ELEMENTS = [("2006", r"\d{4}"), ("-", "-"), ("01", r"\d{2}"), ("-", "-"), ("02", r"\d{2}"),
             ("T", "T"), ("15", r"\d{2}"), (":", ":"), ("04", r"\d{2}"), (":", ":"),
             ("05", r"\d{2}(\.\d+)?"), ("Z07:00", r"Z|[+-]\d{2}:\d{2}")]


def time_error(value: str) -> str | None:
    """Go's ``time.Parse(time.RFC3339, value)`` error for the structure of ``value`` (None
    when it has the layout's shape; ranges such as month 13 are not checked here)."""
    pos = 0
    for element, pattern in _ELEMENTS:
        match = re.compile(pattern).match(value, pos)
        if match is None:
            return (f'parsing time "{value}" as "{_LAYOUT}": cannot parse "{value[pos:]}" as '
                    f'"{element}"')
        pos = match.end()
    if pos != len(value):
        return f'parsing time "{value}": extra text: "{value[pos:]}"'
    return _range_error(value)


def _range_error(value: str) -> str | None:
    """Go's error for a field out of its range (month 13, day 31 in April, hour 24...)."""
    import calendar

    year, month, day = int(value[:4]), int(value[5:7]), int(value[8:10])
    hour, minute, second = int(value[11:13]), int(value[14:16]), int(value[17:19])
    if not 1 <= month <= 12:
        what = "month"
    elif not 1 <= day <= calendar.monthrange(year, month)[1]:
        what = "day"
    elif hour > 23:
        what = "hour"
    elif minute > 59:
        what = "minute"
    elif second > 59:
        what = "second"
    else:
        return None
    return f'parsing time "{value}": {what} out of range'


_DURATION = re.compile(r"[-+]?(?:(?:\d+\.?\d*|\.\d+)(?:ns|us|\u00b5s|\u03bcs|ms|s|m|h))+")
_UNIT = {"ns": 1e-9, "us": 1e-6, "\u00b5s": 1e-6, "\u03bcs": 1e-6, "ms": 1e-3, "s": 1.0,
         "m": 60.0, "h": 3600.0}


def ttl_seconds(value: str) -> int | None:
    """A ``Nats-TTL`` header as the server reads it: ``never`` (any case) is -1, a Go duration
    (``1.5s``, ``1m``) or digits are seconds; None when the server calls it invalid (10165:
    under a second, a sign on digits, units in the wrong case).

    >>> [ttl_seconds(v) for v in ("never", "1.5s", "10", "500ms", "0", "-1", "5S")]
    [-1, 1, 10, None, None, None, None]
    """
    if value.lower() == "never":
        return -1
    if _DURATION.fullmatch(value):
        sign = -1.0 if value.startswith("-") else 1.0
        total = sum(float(n) * _UNIT[u] for n, u in
                    re.findall(r"(\d+\.?\d*|\.\d+)(ns|us|\u00b5s|\u03bcs|ms|s|m|h)", value))
        seconds = sign * total
        return int(seconds) if seconds >= 1 else None
    if value.isascii() and value.isdigit():
        n = int(value) % 2**64              # the server's digit parser wraps like int64
        n = n - 2**64 if n >= 2**63 else n
        return n if n >= 1 else None
    return None

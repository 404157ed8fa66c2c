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
           "request_error", "syntax_error", "time_error", "ttl_seconds"]

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


def request_error(struct: str, types: dict[str, str], body: dict[str, Any]) -> str | None:
    """Go's error for the first field of an API request ``body`` whose value does not fit its
    Go type in ``types`` (``string``, ``bool``, ``int``, ``uint64``, ``time.Time``); None when
    it unmarshals. A date's own format is checked by its reader (:func:`time_error`).

    >>> request_error("JSApiStreamNamesRequest", {"offset": "int"}, {"offset": "x"})
    'json: cannot unmarshal string into Go struct field JSApiStreamNamesRequest.offset of type int'
    >>> request_error("Purge", {"seq": "uint64"}, {"seq": -1})
    'json: cannot unmarshal number -1 into Go struct field Purge.seq of type uint64'
    """
    for key, value in body.items():
        go_type = types.get(key)
        if go_type is None or value is None:
            continue
        where = f"Go struct field {struct}.{key} of type {go_type}"
        if go_type in _RANGES and _number_error(value, go_type):
            return f"json: cannot unmarshal number {value!r} into {where}"
        kind = {"string": "string", "time.Time": "string", "bool": "bool"}.get(go_type, "number")
        if _json_kind(value) != kind:
            return f"json: cannot unmarshal {_json_kind(value)} into {where}"
    return None


#: Python's json error -> what Go's scanner says at that character
_SYNTAX = {"Expecting value": "looking for beginning of value",
           "Expecting property name enclosed in double quotes":
               "looking for beginning of object key string",
           "Expecting ':' delimiter": "after object key",
           "Extra data": "looking for beginning of value",   # the decoder reads on
           "Invalid control character at": "in string literal"}


def syntax_error(err: ValueError) -> str:
    """Go's words for the JSON syntax error Python's ``json`` raised (``err``), as the server's
    request decoder gives them: at the end of the text ``unexpected EOF``, else the character,
    what the scanner looked for and the byte offset after it.

    >>> import json
    >>> def go(text):
    ...     try:
    ...         json.loads(text)
    ...     except ValueError as err:
    ...         return syntax_error(err)
    >>> for text in ('{"a": 1, ', '{"a": x}', '[1 2]', '{"a" 1}'):
    ...     print(go(text))
    unexpected EOF
    invalid character 'x' looking for beginning of value at offset 7
    invalid character '2' after array element at offset 4
    invalid character '1' after object key at offset 6
    """
    doc, pos, msg = getattr(err, "doc", ""), getattr(err, "pos", 0), getattr(err, "msg", "")
    if pos >= len(doc.rstrip(" \t\r\n")) or msg.startswith("Unterminated string"):
        return "unexpected EOF"
    char = doc[pos]
    quoted = {"'": "'\\''", '"': "'\"'"}.get(char) or (
        repr(char) if char.isprintable() else "'\\x%02x'" % ord(char) if ord(char) < 128
        else repr(char))
    if msg == "Expecting ',' delimiter":
        what = f"after {_container(doc, pos)}"
    else:
        what = next((v for k, v in _SYNTAX.items() if msg.startswith(k)),
                    "looking for beginning of value")
    return f"invalid character {quoted} {what} at offset {len(doc[:pos + 1].encode())}"


def _container(doc: str, pos: int) -> str:
    """``object key:value pair`` or ``array element``: what the innermost bracket open at
    ``pos`` holds."""
    stack, in_string, escaped = [], False, False
    for ch in doc[:pos]:
        if in_string:
            in_string = not (ch == '"' and not escaped)
            escaped = ch == "\\" and not escaped
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            stack.append(ch)
        elif ch in "]}" and stack:
            stack.pop()
    return "array element" if stack and stack[-1] == "[" else "object key:value pair"


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

"""Per-message TTLs: the ``Nats-TTL`` header as the server reads it (stream.go parseMessageTTL).

A TTL is whole seconds: a Go duration of at least one second (``"90s"``, ``"1m30s"``; the
fraction of a second is dropped), a plain number of seconds (``"90"``), or ``"never"`` (-1: the
message outlives ``max_age``). Anything else, or a duration under a second, is invalid.

>>> [parse_msg_ttl(v) for v in ("", "5", "1.9s", "1m", "NEVER")]
[0, 5, 1, 60, -1]
>>> parse_msg_ttl("500ms")
Traceback (most recent call last):
...
ValueError: invalid per-message TTL '500ms'
"""

from __future__ import annotations

import re

__all__ = ["parse_msg_ttl", "parse_go_duration", "MARKER_REASON"]

#: What a subject delete marker says it replaced (only max_age and TTL removals leave one).
MARKER_REASON = "MaxAge"

_UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "μs": 1_000, "ms": 1_000_000,
          "s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000}
_PART = re.compile(r"([0-9]*(?:\.[0-9]*)?)(ns|us|µs|μs|ms|s|m|h)")


def parse_go_duration(text: str) -> int:
    """Go's ``time.ParseDuration`` in nanoseconds; ValueError when Go would fail.

    >>> parse_go_duration("1h2m3.5s"), parse_go_duration("0"), parse_go_duration("-2s")
    (3723500000000, 0, -2000000000)
    """
    sign, rest = 1, text
    if rest[:1] in ("-", "+"):
        sign, rest = (-1 if rest[0] == "-" else 1), rest[1:]
    if rest == "0":
        return 0
    if not rest:
        raise ValueError(f"invalid duration {text!r}")
    total, pos = 0.0, 0
    while pos < len(rest):
        m = _PART.match(rest, pos)
        if m is None or m.group(1) in ("", "."):
            raise ValueError(f"invalid duration {text!r}")
        total += float(m.group(1)) * _UNITS[m.group(2)]
        pos = m.end()
    return sign * int(total)


def parse_msg_ttl(value: str | None) -> int:
    """The TTL a ``Nats-TTL`` value asks for, in seconds: 0 for none, -1 for never; a
    ValueError for an invalid one (the server's 10165)."""
    if not value:
        return 0
    if value.lower() == "never":
        return -1
    try:
        ns = parse_go_duration(value)
    except ValueError:
        if value.isascii() and value.isdigit():
            return int(value)
        raise ValueError(f"invalid per-message TTL {value!r}") from None
    if ns < 1_000_000_000:
        raise ValueError(f"invalid per-message TTL {value!r}")
    return ns // 1_000_000_000

"""A pull request (``$JS.API.CONSUMER.MSG.NEXT``): its body and the consumer's limits on it.

:func:`parse_pull` reads the request as consumer.go processNextMsgRequest does and returns the
waiting :class:`PullRequest`, or the status reply that refuses it.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .consumer import Consumer, Outgoing

__all__ = ["NS", "PullRequest", "go_duration", "parse_pull"]

NS = 1_000_000_000


class PullRequest:
    """One waiting pull request."""

    __slots__ = ("reply", "n", "d", "bytes", "expires", "no_wait")

    def __init__(self, reply: str, batch: int, max_bytes: int, expires: float | None,
                 no_wait: bool):
        self.reply, self.n, self.d, self.bytes = reply, batch, 0, max_bytes
        self.expires, self.no_wait = expires, no_wait


def parse_pull(c: Consumer, reply: str, data: bytes, now: float) -> PullRequest | list[Outgoing]:
    """The waiting request for consumer ``c``, or the status reply refusing it."""
    from .consumer import status

    batch, expires_ns, no_wait, max_bytes = 1, 0, False, 0
    body = data.strip()
    if body:
        if body.isdigit():
            batch = int(body)
        else:
            try:
                req = json.loads(body)
            except ValueError:
                return [status(reply, 400, "Bad Request")]
            if not isinstance(req, dict):
                return [status(reply, 400, "Bad Request")]
            from .surface import PULL_NOT_SIMULATED, not_simulated_reply

            unsimulated = [k for k in PULL_NOT_SIMULATED if req.get(k)]
            if unsimulated:   # refused, never ignored (see .surface)
                return [not_simulated_reply(reply, f"pull request field {unsimulated[0]!r}")]
            batch = int(req.get("batch", 1) or 1)
            expires_ns = int(req.get("expires", 0) or 0)
            no_wait = bool(req.get("no_wait", False))
            max_bytes = int(req.get("max_bytes", 0) or 0)
    c.last_active = now
    if batch <= 0:
        return [status(reply, 400, "Bad Request - batch must be > 0")]
    # the request limits, in processNextMsgRequest's order
    cfg = c.config
    if cfg.max_batch and cfg.max_batch > 0 and batch > cfg.max_batch:
        return [status(reply, 409, f"Exceeded MaxRequestBatch of {cfg.max_batch}")]
    if expires_ns and cfg.max_expires and cfg.max_expires > 0 \
            and expires_ns > round(cfg.max_expires * NS):
        return [status(reply, 409, "Exceeded MaxRequestExpires of "
                                   f"{go_duration(round(cfg.max_expires * NS))}")]
    if max_bytes > 0 and cfg.max_bytes and cfg.max_bytes > 0 and max_bytes > cfg.max_bytes:
        return [status(reply, 409, f"Exceeded MaxRequestMaxBytes of {cfg.max_bytes}")]
    if no_wait and not expires_ns and c.num_pending() + len(c.rdq) == 0:
        return [status(reply, 404, "No Messages")]
    if len(c.waiting) >= (c.config.max_waiting or 512):
        return [status(reply, 409, "Exceeded MaxWaiting")]
    expires = now + expires_ns / NS if expires_ns else None
    return PullRequest(reply, batch, max_bytes, expires, no_wait)


def go_duration(ns: int) -> str:
    """``ns`` nanoseconds as Go's ``time.Duration.String`` writes them (the server's ``%v``).

    >>> [go_duration(n) for n in (0, 1500, 300_000_000, 1_500_000_000, 90 * NS, 3600 * NS)]
    ['0s', '1.5µs', '300ms', '1.5s', '1m30s', '1h0m0s']
    """
    if ns == 0:
        return "0s"
    sign, u = ("-" if ns < 0 else ""), abs(ns)

    def frac(value: int, digits: int) -> str:
        f = str(value).rjust(digits, "0").rstrip("0")
        return f".{f}" if f else ""

    if u < NS:
        for unit, scale, digits in (("ns", 1, 0), ("µs", 1000, 3), ("ms", 1_000_000, 6)):
            if u < scale * 1000:
                return f"{sign}{u // scale}{frac(u % scale, digits) if digits else ''}{unit}"
    secs, rest = divmod(u, NS)
    text = f"{secs % 60}{frac(rest, 9)}s"
    if secs >= 60:
        text = f"{secs // 60 % 60}m{text}"
    if secs >= 3600:
        text = f"{secs // 3600}h{text}"
    return sign + text

"""Stochastic publishers: the ``workload`` step's schedule, drawn from the run's seed.

A ``workload`` step publishes ``count`` JetStream messages, each waiting for its pub ack (as
``js_publish`` does, up to ``timeout``). Messages leave in bursts of ``burst`` (default 1)
back to back; the gaps between bursts are exponential with mean ``burst / rate`` seconds, so
``rate`` is the mean messages per second (Poisson arrivals of bursts). A publish that is due
while an earlier one still waits for its ack leaves as soon as that ack (or timeout) is in.
``subject`` may hold ``{i}``, the message's number from 0. ``size`` is the payload's length in
bytes: a number, or ``{min: A, max: B}`` for a uniform draw (default: the shortest payload,
the number itself). Each payload starts with the message's number, so payloads differ.
``msg_id: true`` adds a ``Nats-Msg-Id`` header (``w<step>-<i>``) for de-duplication.

Everything random comes from ``random.Random`` seeded with the run's seed and the step's
index, so both backends publish the same messages at the same offsets for the same seed.
The step's result counts the publishes and their pub acks: ``{"published", "acked",
"duplicates", "errors", "timeouts"}`` (an error: the server refused it, or nobody answered).

>>> plan = schedule({"subject": "jobs.{i}", "count": 3, "rate": 10.0, "size": 8,
...                  "msg_id": True}, seed=1, index=4)
>>> [(round(at, 4), subject, data, headers) for at, subject, data, headers in plan]
[(0.0, 'jobs.0', b'0.......', {'Nats-Msg-Id': 'w4-0'}), (0.0882, 'jobs.1', b'1.......', {'Nats-Msg-Id': 'w4-1'}), (0.0898, 'jobs.2', b'2.......', {'Nats-Msg-Id': 'w4-2'})]
>>> schedule({"subject": "s", "count": 2, "rate": 1.0}, seed=1, index=4) == \\
...     schedule({"subject": "s", "count": 2, "rate": 1.0}, seed=1, index=4)
True
"""

from __future__ import annotations

import random

__all__ = ["schedule", "WORKLOAD_KEYS"]

#: The ``workload`` op's keys: (required, optional), each key -> the type a file gives.
WORKLOAD_KEYS = ({"subject": "text", "count": "integer", "rate": "number"},
                 {"burst": "integer", "size": "size", "msg_id": "true/false",
                  "timeout": "number"})


def _payload(i: int, size: int) -> bytes:
    head = str(i).encode()
    return head + b"." * max(0, size - len(head))


def schedule(args: dict, seed: int, index: int) -> list[tuple[float, str, bytes, dict | None]]:
    """``(offset from the step's start, subject, payload, headers)`` for each message of the
    ``workload`` step ``index`` with keys ``args``, drawn from ``seed``."""
    rng = random.Random(f"workload:{seed}:{index}")
    rate, burst = float(args["rate"]), int(args.get("burst", 1))
    size = args.get("size", 0)
    at, out = 0.0, []
    for i in range(int(args["count"])):
        if i and i % burst == 0:
            at += rng.expovariate(rate / burst)
        length = rng.randint(size["min"], size["max"]) if isinstance(size, dict) else int(size)
        headers = {"Nats-Msg-Id": f"w{index}-{i}"} if args.get("msg_id") else None
        out.append((at, args["subject"].replace("{i}", str(i)), _payload(i, length), headers))
    return out

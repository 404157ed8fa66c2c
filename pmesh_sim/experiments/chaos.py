"""Faults on a schedule: the ``chaos`` step, drawn from the run's seed.

For ``duration`` seconds from the step's start, one fault at a time: a quiet gap of ``every``
seconds (``gaps: exponential``: exponential gaps with mean ``every``), then a fault of a kind
from ``faults`` (default ``[kill, partition]``; ``pause`` and ``power_loss`` too) lasting
``down`` seconds (a number or ``{min, max}``, uniform; default ``every / 2``), then the next
gap. A fault that would outlast ``duration`` ends at ``duration``, so the cluster is whole
again when the step ends.

- ``kill``: a random node of ``nodes`` (default: every node), restarted after ``down``;
- ``pause``: the same with ``pause`` / ``resume``;
- ``power_loss``: the same with ``power_loss`` / ``restart`` (simulation only, replicated
  JetStream: the node also loses what it had not synced; the real backend answers
  ``unsupported``);
- ``partition``: a random non-empty set of ``nodes`` (not the whole cluster) cut from the
  rest, healed after ``down``.

The schedule expands to the existing fault ops (``kill``/``restart``, ``pause``/``resume``,
``partition``/``heal``), performed as those steps are on either backend, so both run the same
faults at the same offsets for the same seed. The step's result lists them with their
outcomes: ``{"faults": [{"at", "op", "server" or "groups", "outcome"}, ...]}``; when a fault is
not performed (``unsupported``), its ``restart``/``resume``/``heal`` is ``skipped``.

>>> args = {"every": 10.0, "duration": 60.0, "down": {"min": 2, "max": 8}}
>>> for row in schedule(args, seed=1, index=2, servers=3):
...     print(row)
(10.0, 'kill', {'server': 'n3'})
(12.27, 'restart', {'server': 'n3'})
(22.27, 'kill', {'server': 'n2'})
(27.288, 'restart', {'server': 'n2'})
(37.288, 'partition', {'groups': [['n1', 'n2'], ['n3']]})
(41.549, 'heal', {})
(51.549, 'kill', {'server': 'n1'})
(58.761, 'restart', {'server': 'n1'})
>>> schedule(args, 1, 2, 3) == schedule(args, 1, 2, 3) != schedule(args, 2, 2, 3)
True
"""

from __future__ import annotations

import random

from .workers import draw_seconds

__all__ = ["schedule", "run_chaos", "CHAOS_FAULTS", "ENDS"]

#: The faults a ``chaos`` step may draw, each with the op that ends it.
ENDS = {"kill": "restart", "pause": "resume", "partition": "heal", "power_loss": "restart"}
CHAOS_FAULTS = tuple(ENDS)


def schedule(args: dict, seed: int, index: int, servers: int) -> list[tuple[float, str, dict]]:
    """``(offset from the step's start, op, op's keys)`` for every fault op of the ``chaos``
    step ``index`` with keys ``args`` on ``servers`` nodes, drawn from ``seed``."""
    rng = random.Random(f"chaos:{seed}:{index}")
    every, duration = float(args["every"]), float(args["duration"])
    everyone = [f"n{i}" for i in range(1, servers + 1)]
    nodes = list(args.get("nodes") or everyone)
    kinds = list(args.get("faults") or ("kill", "partition"))
    down = args.get("down", every / 2)
    out: list[tuple[float, str, dict]] = []
    t = 0.0
    while True:
        t += rng.expovariate(1.0 / every) if args.get("gaps") == "exponential" else every
        if t >= duration:
            return out
        kind = rng.choice(kinds)
        end = min(duration, t + draw_seconds(down, rng))
        if kind == "partition":
            cut = sorted(rng.sample(nodes, rng.randint(1, min(len(nodes), servers - 1))))
            start = (round(t, 3), "partition",
                     {"groups": [cut, [n for n in everyone if n not in cut]]})
        else:
            start = (round(t, 3), kind, {"server": rng.choice(nodes)})
        out += [start, (round(end, 3), ENDS[kind], {} if kind == "partition" else start[2])]
        t = end


#: The outcome of each fault op when performed (both backends answer these words).
_DONE = ("killed", "paused", "partitioned", "power_lost")


def run_chaos(b, step, servers: int, maybe):
    """The ``chaos`` step on backend adapter ``b`` (a generator); returns its result."""
    start = b.now()
    faults, skip = [], False
    for at, op, keys in schedule(step.args, b.seed, step.index, servers):
        wait = start + at - b.now()
        if wait > 0:
            yield b.sleep(wait)
        if op in ENDS.values() and skip:
            result = {"outcome": "skipped"}
        else:
            result = yield from maybe(b.fault(op, keys))
        skip = op in ENDS and result.get("outcome") not in _DONE
        faults.append({"at": at, "op": op, **keys, **result})
    return {"faults": faults}

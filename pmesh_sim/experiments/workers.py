"""Crashing workers: the ``workers`` step, ``count`` workers on a pull consumer.

Each worker, until ``duration`` seconds after the step's start, fetches ``batch`` (default 1)
messages (waiting up to ``fetch_timeout``, default 1 s), and for each message, in the order
``ack`` says:

- ``ack: last`` (default, at least once): process for its time, record its processing (a
  ``process`` trace record: the application's side effect), then ack. A crash *before the ack*
  comes after the record: the server redelivers the message after ``ack_wait`` and it is
  processed twice. A crash *after the ack* loses nothing.
- ``ack: first`` (at most once): ack, process for its time, then record. A crash *before the
  ack* comes before any processing: redelivered, processed once. A crash *after the ack* comes
  before the record: that processing is lost (the checkers' ``unprocessed``).

A crashed worker drops the rest of its batch (unacked: redelivered too), writes a
``worker_crash`` record, waits its restart delay and fetches again (``worker_restart``). Its
connection stays open: for a pull consumer the server sees what a crash leaves (unacked
deliveries, no pull request waiting), as a worker's fetch has ended when it holds messages.
Messages are also processed twice without any crash when processing outlasts ``ack_wait``
(the server redelivers to another worker while the first still works) or an ack is lost.

Every draw comes from ``random.Random`` seeded with the run's seed, the step's index and the
*delivery* (stream sequence, delivery count), not the worker: the same delivery has the same
fate whichever worker gets it, on either backend. :func:`fate` gives it: the processing time
(``process``: seconds, ``{min, max}`` uniform or ``{mean}`` exponential; default 0), whether
it crashes before or after the ack (probabilities ``crash_before_ack``, ``crash_after_ack``)
and the restart delay (``restart``, same forms; default 1 s).

>>> args = {"consumer": "w", "count": 2, "duration": 5.0, "process": {"min": 0.1, "max": 0.3},
...         "crash_before_ack": 0.5}
>>> fate(args, seed=1, index=3, stream_seq=4, num_delivered=1)
Fate(process=0.1231, crash='before_ack', restart=1.0)
>>> fate(args, 1, 3, 4, 2)            # its redelivery: another draw
Fate(process=0.1054, crash=None, restart=1.0)
>>> fate(args, 1, 3, 4, 1) == fate(args, 1, 3, 4, 1) != fate(args, 2, 3, 4, 1)
True

The step's result counts what the workers did: ``{"fetched", "processed", "acked",
"crashed_before_ack", "crashed_after_ack", "errors"}`` (``errors``: fetches that failed other
than by timing out).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = ["Fate", "fate", "draw_seconds", "run_workers", "WORKER_COUNTS", "RETRY",
           "AFTER_TIMEOUT"]

#: The keys of a ``workers`` step's result.
WORKER_COUNTS = ("fetched", "processed", "acked", "crashed_before_ack", "crashed_after_ack",
                 "errors")
#: Seconds a worker waits after a fetch that failed at once (no responders, an error).
RETRY = 0.1
#: Seconds a worker waits after a fetch that timed out: the server's 408 for the expired
#: request comes about when the client gives up (nats-py asks for expiry 100 us before its
#: own timeout), and a fetch sent before it arrives would end on it at once and leave its own
#: request waiting; after the pause the next fetch discards it, as nats-py does.
AFTER_TIMEOUT = 0.005


@dataclass(frozen=True)
class Fate:
    """What happens to one delivery: its processing seconds, its crash (``before_ack``,
    ``after_ack`` or None) and, after a crash, the worker's restart delay (seconds)."""

    process: float
    crash: str | None
    restart: float


def draw_seconds(spec, rng: random.Random) -> float:
    """Seconds from ``spec``: a number, ``{min, max}`` (uniform) or ``{mean}`` (exponential).

    >>> draw_seconds(2, random.Random(0)), draw_seconds({"min": 1, "max": 1}, random.Random(0))
    (2.0, 1.0)
    """
    if isinstance(spec, dict) and "mean" in spec:
        return rng.expovariate(1.0 / spec["mean"]) if spec["mean"] > 0 else 0.0
    if isinstance(spec, dict):
        return rng.uniform(spec["min"], spec["max"])
    return float(spec)


def fate(args: dict, seed: int, index: int, stream_seq: int, num_delivered: int) -> Fate:
    """The fate of delivery ``num_delivered`` of stream sequence ``stream_seq`` to the
    ``workers`` step ``index`` with keys ``args``, drawn from ``seed``."""
    rng = random.Random(f"workers:{seed}:{index}:{stream_seq}:{num_delivered}")
    process = round(draw_seconds(args.get("process", 0.0), rng), 4)
    before, after = rng.random(), rng.random()
    crash = ("before_ack" if before < args.get("crash_before_ack", 0.0) else
             "after_ack" if after < args.get("crash_after_ack", 0.0) else None)
    restart = round(draw_seconds(args.get("restart", 1.0), rng), 4)
    return Fate(process, crash, restart)


def run_workers(b, step, maybe, classify):
    """The ``workers`` step on backend adapter ``b`` (a generator, as the scenario program
    is); returns its counts. ``maybe`` and ``classify`` are the program's ``_maybe`` and
    ``classify_error``."""
    a = step.args
    end = b.now() + a["duration"]
    counts = dict.fromkeys(WORKER_COUNTS, 0)
    handles = [b.spawn(_worker(b, step, k, end, counts, maybe, classify))
               for k in range(a["count"])]
    for handle in handles:
        yield from maybe(b.join(handle))
    return counts


def _worker(b, step, k: int, end: float, counts: dict, maybe, classify):
    a, name = step.args, f"{step.args['consumer']}.{step.index}.{k}"
    slot, first = f"w{step.index}.{k}", a.get("ack", "last") == "first"
    while b.now() < end:
        wait = min(a.get("fetch_timeout", 1.0), end - b.now())
        try:
            msgs = yield from maybe(b.fetch(a["stream"], a["consumer"], a.get("batch", 1),
                                            wait, slot))
        except Exception as exc:  # noqa: BLE001 - each client's own error classes
            pause = AFTER_TIMEOUT
            if _outcome(exc, classify) != "timeout":
                counts["errors"] += 1
                pause = RETRY
            yield b.sleep(min(pause, max(end - b.now(), 0.0)) or pause)
            continue
        counts["fetched"] += len(msgs)
        for msg in msgs:
            meta = msg.metadata
            seq = meta.sequence.stream
            doom = fate(a, b.seed, step.index, seq, meta.num_delivered)
            record = {"node": b.node, "client": name, "msg_id": b.delivered_id(msg),
                      "stream": a["stream"], "consumer": a["consumer"], "stream_seq": seq}
            crash = None
            if first and doom.crash == "before_ack":
                crash = "before_ack"
            else:
                if first:
                    yield from _ack(b, msg, counts, maybe)
                if first and doom.crash == "after_ack":
                    crash = "after_ack"
                yield b.sleep(doom.process)
                if crash is None:
                    b.trace.emit("process", **record)
                    counts["processed"] += 1
                if not first and crash is None:
                    if doom.crash == "before_ack":
                        crash = "before_ack"
                    else:
                        yield from _ack(b, msg, counts, maybe)
                        crash = doom.crash
            if crash is not None:
                counts[f"crashed_{crash}"] += 1
                b.trace.emit("worker_crash", **record, point=crash)
                yield b.sleep(doom.restart)
                b.trace.emit("worker_restart", node=b.node, client=name)
                break          # the rest of the batch goes unacked: redelivered


def _outcome(exc: Exception, classify) -> str:
    """``timeout``, ``no_responders``... for a failed fetch; ``error`` for any other failure
    (a connection reconnecting after its node died): the worker tries again."""
    try:
        return classify(exc).get("outcome", "error")
    except Exception:  # noqa: BLE001 - classify hands back what it does not know
        return "error"


def _ack(b, msg, counts: dict, maybe):
    try:
        yield from maybe(b.ack(msg, "ack", None))
        counts["acked"] += 1
    except Exception as exc:  # noqa: BLE001 - a connection gone: the ack is lost
        b.trace.emit("ack_error", node=b.node, stream_seq=msg.metadata.sequence.stream,
                     error=type(exc).__name__)

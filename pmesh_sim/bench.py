"""``pmesh-sim bench``: throughput of the simulation against a bare SimPy loop.

Each benchmark is a named function ``fn(quick) -> dict`` listed in :data:`BENCHMARKS` (add one
with the :func:`benchmark` decorator). A benchmark reports ``rate`` (units per wall-clock
second, with ``unit`` naming them) among its figures; :func:`run_benchmarks` runs each a few
times, keeps the median run, and adds ``ratio_to_bare``: its rate over the bare loop's.
Wall-clock time is read here only, never inside a simulation.

>>> figures = run_benchmarks(quick=True, repeats=1, only=["simpy_bare_loop"])
>>> figures["simpy_bare_loop"]["unit"], figures["simpy_bare_loop"]["rate"] > 0
('events', True)
"""

from __future__ import annotations

import platform
import statistics
import time
from collections.abc import Callable
from typing import TextIO

import simpy

__all__ = ["BENCHMARKS", "benchmark", "run_benchmarks", "format_benchmarks"]

BENCHMARKS: dict[str, Callable[[bool], dict]] = {}
"""Benchmark name -> ``fn(quick) -> figures``; the first one is the baseline (the bare loop)."""

BASELINE = "simpy_bare_loop"


def benchmark(name: str):
    """Register ``fn(quick) -> dict`` (with ``rate`` and ``unit``) under ``name``."""
    def register(fn):
        BENCHMARKS[name] = fn
        return fn
    return register


@benchmark(BASELINE)
def bench_bare_loop(quick: bool = False) -> dict:
    """One process yielding ``env.timeout(1)`` N times: SimPy's own events per second."""
    count = 100_000 if quick else 1_000_000
    env = simpy.Environment()

    def loop(env):
        for _ in range(count):
            yield env.timeout(1)

    env.process(loop(env))
    start = time.perf_counter()
    env.run()
    seconds = time.perf_counter() - start
    return {"unit": "events", "events": count, "seconds": seconds, "rate": count / seconds}


def _core_fanout(quick: bool, trace: bool) -> dict:
    from .sim import Simulation

    subscribers = 10
    deliveries = 20_000 if quick else 200_000
    publishes = deliveries // subscribers
    sim = Simulation(seed=0, latency=0.0005, trace=trace)
    sim.add_server("n1")
    publisher = sim.connect(name="pub")
    counts = [0] * subscribers
    for i in range(subscribers):
        def count(msg, i=i):
            counts[i] += 1
        sim.connect(name=f"sub{i}").subscribe("bench.fanout", cb=count)

    def publish(env):
        yield publisher.flush()
        for _ in range(publishes):
            publisher.publish("bench.fanout", b"0123456789abcdef")
            yield env.timeout(0.001)         # one message per millisecond of virtual time

    sim.process(publish(sim.env))
    start = time.perf_counter()
    sim.run()
    seconds = time.perf_counter() - start
    delivered = sum(counts)
    if delivered != deliveries:  # pragma: no cover - a broken simulation, not a slow one
        raise RuntimeError(f"core fan-out delivered {delivered} of {deliveries} messages")
    return {"unit": "deliveries", "deliveries": delivered, "publishes": publishes,
            "subscribers": subscribers, "trace": trace, "trace_events": len(sim.trace),
            "virtual_seconds": sim.now, "seconds": seconds,
            "rate": delivered / seconds}


@benchmark("core_fanout")
def bench_core_fanout(quick: bool = False) -> dict:
    """1 publisher, 10 subscribers on separate connections, trace on: deliveries per second."""
    return _core_fanout(quick, trace=True)


@benchmark("core_fanout_trace_off")
def bench_core_fanout_trace_off(quick: bool = False) -> dict:
    """The same fan-out with the trace off."""
    return _core_fanout(quick, trace=False)


def run_benchmarks(quick: bool = False, *, repeats: int | None = None,
                   only: list[str] | None = None, progress: TextIO | None = None) -> dict:
    """Run the benchmarks (each ``repeats`` times, 3 by default, 1 when quick) in one process;
    for each, the run with the median rate, plus ``ratio_to_bare``. ``progress`` (a text file
    such as ``sys.stderr``) gets a line as each benchmark starts and one as it ends."""
    repeats = repeats or (1 if quick else 3)
    names = [n for n in BENCHMARKS if only is None or n in only or n == BASELINE]
    figures: dict = {"quick": quick, "repeats": repeats, "python": platform.python_version(),
                     "simpy": simpy.__version__}
    for number, name in enumerate(names, 1):
        _say(progress, f"[{number}/{len(names)}] {name}: running {repeats} time(s)...")
        runs = sorted((BENCHMARKS[name](quick) for _ in range(repeats)), key=lambda r: r["rate"])
        result = dict(runs[len(runs) // 2])
        _say(progress, f"[{number}/{len(names)}] {name}: {result['rate']:,.0f} "
                       f"{result['unit']}/s")
        if repeats > 1:
            result["rates"] = [r["rate"] for r in runs]
        figures[name] = result
    base = figures[BASELINE]["rate"]
    for name in names:
        if name != BASELINE:
            figures[name]["ratio_to_bare"] = figures[name]["rate"] / base
    return figures


def _say(progress: TextIO | None, line: str) -> None:
    if progress is not None:
        print(line, file=progress, flush=True)


def format_benchmarks(figures: dict) -> str:
    """The figures as a short table.

    >>> print(format_benchmarks({"quick": True, "repeats": 1,
    ...     "simpy_bare_loop": {"unit": "events", "rate": 2e6, "seconds": 0.05},
    ...     "core_fanout": {"unit": "deliveries", "rate": 1e6, "seconds": 0.02,
    ...                     "ratio_to_bare": 0.5}}))
    benchmark                 rate                         seconds  ratio to bare
    simpy_bare_loop           2,000,000 events/s             0.050              -
    core_fanout               1,000,000 deliveries/s         0.020           0.50
    (quick run, median of 1)
    """
    lines = [f"{'benchmark':25} {'rate':26} {'seconds':>9}  ratio to bare"]
    for name, result in figures.items():
        if not isinstance(result, dict) or "rate" not in result:
            continue
        ratio = result.get("ratio_to_bare")
        rate = f"{result['rate']:,.0f} {result['unit']}/s"
        lines.append(f"{name:25} {rate:26} {result['seconds']:9.3f}  "
                     f"{'-' if ratio is None else format(ratio, '.2f'):>13}")
    lines.append(f"({'quick' if figures.get('quick') else 'full'} run, median of "
                 f"{figures.get('repeats')})")
    return "\n".join(lines)


def _jetstream_pull(quick: bool, trace: bool) -> dict:
    """One R1 memory stream; a producer publishes with ``publish_async`` in rounds of 100 and
    waits for the 100 pub acks (``publish_async_completed``, as nats-py); a worker fetches
    ``fetch(100)`` from a durable pull consumer and acks each message (``msg.ack()``)."""
    from .sim import Simulation

    total = 5_000 if quick else 100_000
    batch = 100
    sim = Simulation(seed=0, latency=0.0005, trace=trace)
    sim.add_server("n1", jetstream=True)
    producer, worker = sim.connect(name="pub"), sim.connect(name="worker")
    pjs, wjs = producer.jetstream(), worker.jetstream()
    acked, puback = [0], [0]

    def produce(env):
        yield pjs.add_stream(name="BENCH", subjects=["bench.>"], storage="memory")
        for _ in range(total // batch):
            for _ in range(batch):
                pjs.publish_async("bench.js", b"0123456789abcdef")
            yield pjs.publish_async_completed()
            puback[0] += batch

    def consume(env):
        yield env.timeout(0.005)
        sub = yield wjs.pull_subscribe("bench.>", durable="worker", stream="BENCH")
        while acked[0] < total:
            msgs = yield sub.fetch(batch, timeout=1.0)
            for msg in msgs:
                msg.ack()
            acked[0] += len(msgs)

    sim.process(produce(sim.env))
    sim.process(consume(sim.env))
    start = time.perf_counter()
    sim.run()
    seconds = time.perf_counter() - start
    if acked[0] != total or puback[0] != total:  # pragma: no cover - a broken simulation
        raise RuntimeError(f"jetstream pipeline: {puback[0]} pub acks, {acked[0]} acks "
                           f"of {total} messages")
    return {"unit": "messages", "messages": total, "batch": batch, "trace": trace,
            "trace_events": len(sim.trace), "virtual_seconds": sim.now, "seconds": seconds,
            "rate": total / seconds}


@benchmark("jetstream_pull")
def bench_jetstream_pull(quick: bool = False) -> dict:
    """One R1 stream: publish_async (acks awaited) -> pull fetch(batch=100) -> ack each,
    trace on: messages per second."""
    return _jetstream_pull(quick, trace=True)


@benchmark("jetstream_pull_trace_off")
def bench_jetstream_pull_trace_off(quick: bool = False) -> dict:
    """The same JetStream pipeline with the trace off."""
    return _jetstream_pull(quick, trace=False)

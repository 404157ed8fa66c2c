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

import collections
import functools
import gc
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
REAL = "jetstream_pull_real"
"""The one benchmark that needs a real nats-server (skipped, with the reason, without one)."""
UNCOMPARED = ("cluster_faults_10min",)
"""Benchmarks whose rate (simulated seconds per second) is no pipeline: no ratio to bare."""


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
    gc.collect()                 # as _timed: no earlier run's garbage freed while timed
    start = time.perf_counter()
    env.run()
    seconds = time.perf_counter() - start
    return {"unit": "events", "events": count, "seconds": seconds, "rate": count / seconds}


def _core_fanout(quick: bool, trace: bool, deliveries: int | None = None) -> dict:
    from .sim import Simulation

    subscribers = 10
    deliveries = deliveries or (FANOUT_QUICK if quick else FANOUT_FULL)
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
    seconds, cpu = _timed(sim.run)
    delivered = sum(counts)
    if delivered != deliveries:  # pragma: no cover - a broken simulation, not a slow one
        raise RuntimeError(f"core fan-out delivered {delivered} of {deliveries} messages")
    return {"unit": "deliveries", "deliveries": delivered, "publishes": publishes,
            "subscribers": subscribers, "trace": trace, "trace_events": len(sim.trace),
            "virtual_seconds": sim.now, "seconds": seconds, "cpu_seconds": cpu,
            "rate": delivered / seconds}


FANOUT_QUICK, FANOUT_FULL = 20_000, 200_000
"""Deliveries in the core fan-out: quick and full runs."""


@benchmark("core_fanout")
def bench_core_fanout(quick: bool = False) -> dict:
    """1 publisher, 10 subscribers on separate connections, trace on: deliveries per second."""
    return _core_fanout(quick, trace=True)


@benchmark("core_fanout_trace_off")
def bench_core_fanout_trace_off(quick: bool = False) -> dict:
    """The same fan-out with the trace off."""
    return _core_fanout(quick, trace=False)


def run_benchmarks(quick: bool = False, *, repeats: int | None = None,
                   only: list[str] | None = None, progress: TextIO | None = None,
                   scaling: bool = False, memory: bool = False) -> dict:
    """Run the benchmarks (each ``repeats`` times, 3 by default, 1 when quick) in one process;
    for each, the run with the median rate, plus ``ratio_to_bare``. ``progress`` (a text file
    such as ``sys.stderr``) gets a line as each benchmark starts and one as it ends.

    Without a nats-server the real-server benchmark is ``{"skipped": reason}``; with one, the
    simulated pipelines get ``speedup_over_real``. ``scaling=True`` adds ``"scaling"``: each
    pipeline's cost at 1x, 3x and 10x the work (:func:`run_scaling`); ``memory=True`` adds
    ``"memory"`` (:func:`run_memory`)."""
    repeats = repeats or (1 if quick else 3)
    names = [n for n in BENCHMARKS if only is None or n in only or n == BASELINE]
    figures: dict = {"quick": quick, "repeats": repeats, **machine()}
    steps = len(names) + (len(SCALED) if scaling else 0)
    for number, name in enumerate(names, 1):
        prefix = f"[{number}/{steps}] {name}"
        missing = real_server_missing() if name == REAL else None
        if missing:
            _say(progress, f"{prefix}: skipped ({missing})")
            figures[name] = {"skipped": missing}
            continue
        _say(progress, f"{prefix}: running {repeats} time(s)...")
        runs = sorted((BENCHMARKS[name](quick) for _ in range(repeats)), key=lambda r: r["rate"])
        result = dict(runs[len(runs) // 2])
        _say(progress, f"{prefix}: {result['rate']:,.0f} {result['unit']}/s")
        if repeats > 1:
            result["rates"] = [r["rate"] for r in runs]
        figures[name] = result
    base = figures[BASELINE]["rate"]
    real = figures.get(REAL, {}).get("rate")
    for name in names:
        if name not in (BASELINE, *UNCOMPARED) and "rate" in figures[name]:
            figures[name]["ratio_to_bare"] = figures[name]["rate"] / base
            if real and name in ("jetstream_pull", "jetstream_pull_trace_off"):   # both R1
                figures[name]["speedup_over_real"] = figures[name]["rate"] / real
    if scaling:
        figures["scaling"] = run_scaling(quick, progress=progress, first=len(names) + 1,
                                         steps=steps)
    if memory:
        figures["memory"] = run_memory(quick, progress=progress)
    return figures


def _timed(fn) -> tuple[float, float]:
    """Wall-clock and CPU seconds (this process) of ``fn()``, started after a full
    collection: a finished simulation is cyclic garbage (servers, clients and the simulation
    refer to each other), and freeing the previous run's (its trace, its stored messages)
    inside the next timed run charged a 10x run ≈ 8 % more than a 1x one."""
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def machine() -> dict:
    """Where and when the figures were taken: date (UTC), host, CPUs, Python, SimPy, load."""
    import datetime
    import os

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs",
            "python": platform.python_version(), "simpy": simpy.__version__, "load": load}


def _say(progress: TextIO | None, line: str) -> None:
    if progress is not None:
        print(line, file=progress, flush=True)


def format_benchmarks(figures: dict) -> str:
    """The figures as a short table (then scaling and memory, when measured).

    >>> print(format_benchmarks({"quick": True, "repeats": 1,
    ...     "simpy_bare_loop": {"unit": "events", "rate": 2e6, "seconds": 0.05},
    ...     "jetstream_pull": {"unit": "messages", "rate": 4e4, "seconds": 0.1,
    ...                        "ratio_to_bare": 0.02, "speedup_over_real": 2.5},
    ...     "jetstream_pull_real": {"skipped": "nats-server was not found"},
    ...     "scaling": {"jetstream_pull": {"cost_10x": 10.4}}}))
    benchmark                 rate                         seconds  ratio to bare  vs real
    simpy_bare_loop           2,000,000 events/s             0.050              -        -
    jetstream_pull            40,000 messages/s              0.100          0.020     2.5x
    jetstream_pull_real       skipped: nats-server was not found
    10x the work costs: jetstream_pull 10.4x
    (quick run, median of 1)
    """
    lines = [f"{'benchmark':25} {'rate':26} {'seconds':>9}  ratio to bare  vs real"]
    for name, result in figures.items():
        if isinstance(result, dict) and "skipped" in result:
            lines.append(f"{name:25} skipped: {result['skipped']}")
        if not isinstance(result, dict) or "rate" not in result:
            continue
        ratio, real = result.get("ratio_to_bare"), result.get("speedup_over_real")
        rate = f"{result['rate']:,.0f} {result['unit']}/s"
        lines.append(f"{name:25} {rate:26} {result['seconds']:9.3f}  "
                     f"{'-' if ratio is None else format(ratio, '.3f'):>13}  "
                     f"{'-' if real is None else format(real, '.1f') + 'x':>7}")
    if figures.get("scaling"):
        lines.append("10x the work costs: " + ", ".join(
            f"{name} {row['cost_10x']:.1f}x" for name, row in figures["scaling"].items()))
    if figures.get("memory"):
        mem = figures["memory"]
        lines.append(f"memory: {mem['bytes_per_stored_msg']:.0f} bytes per stored message; a "
                     f"stream limited to {mem['limited_max_msgs']:,} grows "
                     f"{mem['limited_growth_per_msg']:.2f} bytes per message published")
    lines.append(f"({'quick' if figures.get('quick') else 'full'} run, median of "
                 f"{figures.get('repeats')})")
    return "\n".join(lines)


def jetstream_pipeline(total: int, *, trace=True, max_msgs: int = -1, batch: int = 100,
                       replicas: int = 1, spill_to=None, spill_chunk: int = 100_000):
    """The simulated JetStream workload, ready to run: one R1 memory stream (``max_msgs``
    its limit; with ``replicas=3``, an R3 stream of a 3-node cluster, created once the meta
    group has a leader, the clients on n1); a producer publishes ``total`` messages with
    ``publish_async`` in rounds of ``batch`` and waits for each round's pub acks
    (``publish_async_completed``, as nats-py); a worker ``fetch(batch)``es from a durable
    pull consumer and acks each message. Returns the
    simulation and ``counts`` (``published``: pub acks seen, ``acked``); the worker stops once
    it has acked ``total``, or finds nothing left after the producer is done (with limits);
    on a cluster, ``sim.run()`` runs until the worker ends. ``spill_to``/``spill_chunk``
    write the trace out as it goes (:class:`~pmesh_sim.sim.Simulation`).

    >>> sim, counts = jetstream_pipeline(300)
    >>> sim.run(); counts
    {'published': 300, 'acked': 300}
    >>> sim, counts = jetstream_pipeline(300, max_msgs=100)   # the limit removed 200 before
    >>> sim.run(); counts                                    # the worker's consumer existed
    {'published': 300, 'acked': 100}
    >>> sim, counts = jetstream_pipeline(300, replicas=3)
    >>> sim.run(); counts, len(sim.servers)
    ({'published': 300, 'acked': 300}, 3)
    """
    from .errors import TimeoutError as FetchTimeout
    from .sim import Simulation

    sim = Simulation(seed=0, latency=0.0005, trace=trace, spill_to=spill_to,
                     spill_chunk=spill_chunk)
    if replicas == 1:
        sim.add_server("n1", jetstream=True)
    else:
        sim.add_cluster(replicas, jetstream=True)
    producer, worker = sim.connect(name="pub"), sim.connect(name="worker")
    pjs, wjs = producer.jetstream(), worker.jetstream()
    counts = {"published": 0, "acked": 0}
    ready = sim.env.event()                      # the stream exists

    def produce(env):
        while replicas > 1 and sim.meta_leader() is None:
            yield env.timeout(0.5)               # the meta group elects (4-9 s)
        yield pjs.add_stream(name="BENCH", subjects=["bench.>"], storage="memory",
                             max_msgs=max_msgs, num_replicas=replicas)
        ready.succeed()
        for _ in range(total // batch):
            for _ in range(batch):
                pjs.publish_async("bench.js", b"0123456789abcdef")
            yield pjs.publish_async_completed()
            counts["published"] += batch

    def consume(env):
        yield ready if replicas > 1 else env.timeout(0.005)
        sub = yield wjs.pull_subscribe("bench.>", durable="worker", stream="BENCH")
        while counts["acked"] < total:
            try:
                msgs = yield sub.fetch(batch, timeout=1.0)
            except FetchTimeout:
                msgs = []
            for msg in msgs:
                msg.ack()
            counts["acked"] += len(msgs)
            if not msgs and counts["published"] == total:
                break

    sim.process(produce(sim.env))
    worker_done = sim.process(consume(sim.env))
    if replicas > 1:                  # a cluster never runs out of work: run until the worker ends
        sim.run = functools.partial(sim.run, until=worker_done)
    return sim, counts


def _jetstream_pull(quick: bool, trace: bool, total: int | None = None) -> dict:
    """:func:`jetstream_pipeline` run and timed."""
    total = total or (JS_QUICK if quick else JS_FULL)
    sim, counts = jetstream_pipeline(total, trace=trace)
    seconds, cpu = _timed(sim.run)
    if counts != {"published": total, "acked": total}:  # pragma: no cover - a broken sim
        raise RuntimeError(f"jetstream pipeline: {counts} of {total} messages")
    return {"unit": "messages", "messages": total, "batch": 100, "trace": trace,
            "trace_events": len(sim.trace), "virtual_seconds": sim.now, "seconds": seconds,
            "cpu_seconds": cpu, "rate": total / seconds}


JS_QUICK, JS_FULL = 5_000, 100_000
"""Messages in the JetStream pipeline: quick and full runs."""


@benchmark("jetstream_pull")
def bench_jetstream_pull(quick: bool = False) -> dict:
    """One R1 stream: publish_async (acks awaited) -> pull fetch(batch=100) -> ack each,
    trace on: messages per second."""
    return _jetstream_pull(quick, trace=True)


@benchmark("jetstream_pull_trace_off")
def bench_jetstream_pull_trace_off(quick: bool = False) -> dict:
    """The same JetStream pipeline with the trace off."""
    return _jetstream_pull(quick, trace=False)


@benchmark("jetstream_pull_r3")
def bench_jetstream_pull_r3(quick: bool = False, total: int | None = None) -> dict:
    """The same pipeline on an R3 memory stream of a 3-node cluster (every publish committed
    by a quorum of its RAFT group before its ack), trace on: messages per second."""
    total = total or (JS_R3_QUICK if quick else JS_R3_FULL)
    sim, counts = jetstream_pipeline(total, replicas=3)
    seconds, cpu = _timed(sim.run)
    if counts != {"published": total, "acked": total}:  # pragma: no cover - a broken sim
        raise RuntimeError(f"jetstream R3 pipeline: {counts} of {total} messages")
    return {"unit": "messages", "messages": total, "batch": 100, "replicas": 3, "trace": True,
            "trace_events": len(sim.trace), "virtual_seconds": sim.now, "seconds": seconds,
            "cpu_seconds": cpu, "rate": total / seconds}


JS_R3_QUICK, JS_R3_FULL = 2_000, 50_000
"""Messages in the R3 pipeline: quick and full runs."""


def fault_schedule(seed: int, duration: float, nodes=("n1", "n2", "n3")) -> list[tuple]:
    """A crash / restart / partition schedule, the same for the same seed: from 20 s on, one
    fault at a time (a kill, or a partition of one node from the others) lasting 5-40 s,
    then 10-30 s of calm; as ``(time, op, node)`` rows (``restart``/``heal`` end each fault).

    >>> fault_schedule(1, 600)[:2]
    [(20.0, 'kill', 'n3'), (54.7, 'restart', 'n3')]
    >>> fault_schedule(1, 600) == fault_schedule(1, 600)
    True
    """
    import random

    rng, t, rows = random.Random(seed), 20.0, []
    while t < duration - 5:
        op, node = rng.choice(("kill", "partition")), rng.choice(nodes)
        end = min(duration, round(t + rng.uniform(5, 40), 1))
        rows += [(t, op, node), (end, "restart" if op == "kill" else "heal", node)]
        t = round(end + rng.uniform(10, 30), 1)
    return rows


def cluster_faults_run(duration: float, *, seed: int = 1, rate: float = 50.0):
    """A 3-node JetStream cluster under :func:`fault_schedule` for ``duration`` simulated
    seconds: once the meta group has a leader, an R3 file stream (limits retention, no
    consumers, as when these figures were first recorded) gets one publish every ``1/rate`` s,
    each a request awaiting its pub ack (2 s timeout) from a client that reconnects to the
    other nodes. Returns the
    simulation and ``counts`` (``acked``, ``failed``); run it with ``sim.run(until=duration)``.

    >>> sim, counts = cluster_faults_run(60, rate=5)
    >>> sim.run(until=60); counts["acked"] > 150, [e.kind for e in sim.trace
    ...                                            if e.kind in ("kill", "partition")]
    (True, ['kill'])
    """
    import json

    from .errors import NatsError
    from .sim import Simulation

    sim = Simulation(seed=seed, latency=0.0005)
    sim.add_cluster(3, jetstream=True)
    client = sim.connect("n1", name="pub", servers=["n1", "n2", "n3"])
    counts = {"acked": 0, "failed": 0}
    ops = {"kill": sim.kill, "restart": sim.restart, "partition": lambda n: sim.partition(
        [[n]]), "heal": lambda n: sim.heal()}

    def faults(env):
        for at, op, node in fault_schedule(seed, duration):
            yield env.timeout(at - env.now)
            ops[op](node)

    def publish(env):
        while sim.meta_leader() is None:
            yield env.timeout(0.5)
        body = {"name": "FAULTS", "subjects": ["faults.>"], "num_replicas": 3,
                "max_msgs": 10_000}
        yield client.request("$JS.API.STREAM.CREATE.FAULTS", json.dumps(body).encode(), 5)
        due = env.now
        while True:
            try:
                yield client.request("faults.x", b"0123456789abcdef", timeout=2.0)
                counts["acked"] += 1
            except NatsError:            # no quorum, no leader yet, a reconnect: not acked
                counts["failed"] += 1
            due = max(due + 1 / rate, env.now)
            yield env.timeout(due - env.now)

    sim.process(faults(sim.env))
    sim.process(publish(sim.env))
    return sim, counts


@benchmark("cluster_faults_10min")
def bench_cluster_faults(quick: bool = False) -> dict:
    """10 simulated minutes (quick: 2) of a 3-node JetStream cluster under a seeded crash /
    restart / partition schedule, 50 publishes a second to an R3 stream, trace on: simulated
    seconds per wall second (``seconds``: the run's wall time)."""
    duration = FAULTS_QUICK if quick else FAULTS_FULL
    sim, counts = cluster_faults_run(duration, seed=1)
    seconds, cpu = _timed(lambda: sim.run(until=duration))
    kinds = collections.Counter(e.kind for e in sim.trace)
    return {"unit": "sim-seconds", "virtual_seconds": duration, "seed": 1,
            "publish_rate": 50.0, "acked": counts["acked"], "failed": counts["failed"],
            "faults": kinds["kill"] + kinds["partition"], "kills": kinds["kill"],
            "partitions": kinds["partition"], "elections": kinds["raft_election"],
            "leaders_elected": kinds["raft_leader"], "trace_events": len(sim.trace),
            "seconds": seconds, "cpu_seconds": cpu, "rate": duration / seconds}


FAULTS_QUICK, FAULTS_FULL = 120.0, 600.0
"""Simulated seconds of the faulted cluster run: quick and full."""


def _real_jetstream_pull(quick: bool, total: int | None = None) -> dict:
    """The JetStream pipeline of :func:`_jetstream_pull` on a real ``nats-server`` (R1 memory
    stream, two nats-py connections); the wall clock counts from the stream's creation."""
    import asyncio

    from .real.process import NatsServer

    total = total or (JS_QUICK if quick else JS_FULL)
    with NatsServer() as server:
        seconds = asyncio.run(_real_pipeline(server.url, total, 100))
    return {"unit": "messages", "messages": total, "batch": 100, "server": _server_version(),
            "seconds": seconds, "rate": total / seconds}


async def _real_pipeline(url: str, total: int, batch: int) -> float:
    import asyncio

    import nats

    producer, worker = await nats.connect(url, name="pub"), await nats.connect(url, name="worker")
    pjs, wjs = producer.jetstream(), worker.jetstream()
    acked = 0

    async def produce():
        for _ in range(total // batch):
            for _ in range(batch):
                await pjs.publish_async("bench.js", b"0123456789abcdef")
            await pjs.publish_async_completed()

    async def consume():
        nonlocal acked
        sub = await wjs.pull_subscribe("bench.>", durable="worker", stream="BENCH")
        while acked < total:
            try:
                msgs = await sub.fetch(batch, timeout=1.0)
            except nats.errors.TimeoutError:
                continue
            for msg in msgs:
                await msg.ack()
            acked += len(msgs)

    try:
        start = time.perf_counter()
        await pjs.add_stream(name="BENCH", subjects=["bench.>"], storage="memory")
        await asyncio.gather(produce(), consume())
        await worker.flush()
        return time.perf_counter() - start
    finally:
        await producer.close()
        await worker.close()


def _server_version() -> str:
    import subprocess

    from .real.process import find_nats_server

    out = subprocess.run([str(find_nats_server()), "--version"], capture_output=True, text=True)
    return out.stdout.strip()


def real_server_missing() -> str | None:
    """Why the real-server benchmark cannot run (no nats-server or nats-py), or None."""
    try:
        import nats  # noqa: F401

        from .real.process import find_nats_server
        find_nats_server()
    except Exception as exc:  # ImportError or ServerProcessError: both say what to install
        return str(exc)
    return None


@benchmark(REAL)
def bench_jetstream_pull_real(quick: bool = False) -> dict:
    """The JetStream pipeline on a real nats-server through nats-py: messages per second."""
    return _real_jetstream_pull(quick)


SCALED: dict[str, tuple[Callable[[int], dict], int, int]] = {
    "core_fanout": (lambda n: _core_fanout(False, True, n), FANOUT_QUICK, FANOUT_FULL),
    "core_fanout_trace_off": (lambda n: _core_fanout(False, False, n), FANOUT_QUICK,
                              FANOUT_FULL),
    "jetstream_pull": (lambda n: _jetstream_pull(False, True, n), JS_QUICK, JS_FULL),
    "jetstream_pull_trace_off": (lambda n: _jetstream_pull(False, False, n), JS_QUICK, JS_FULL),
    "jetstream_pull_r3": (lambda n: bench_jetstream_pull_r3(False, n), JS_R3_QUICK, JS_R3_FULL),
    REAL: (lambda n: _real_jetstream_pull(False, n), JS_QUICK, JS_FULL),
}
"""Pipeline name -> (``fn(work) -> figures``, quick 10x work, full 10x work)."""

FACTORS = (1, 3, 10)


def run_scaling(quick: bool = False, *, repeats: int | None = None,
                progress: TextIO | None = None, first: int = 1, steps: int | None = None) -> dict:
    """Each pipeline of :data:`SCALED` at 1x, 3x and 10x the work (10x: the full benchmark's
    size, or the quick one's), the fastest of ``repeats`` runs (3; 1 when quick) at each:
    its ``work``, ``seconds``, ``us_per_unit`` and ``cost_10x``, the 10x run's seconds over
    the 1x run's (10.0: linear). The simulated pipelines count this process's CPU seconds
    (other processes on a busy machine then disturb them less), the real server wall-clock
    seconds (its work is in another process); ``clock`` says which."""
    steps = steps or len(SCALED)
    repeats = repeats or (1 if quick else 3)
    out = {}
    for number, (name, (fn, quick_top, full_top)) in enumerate(SCALED.items(), first):
        prefix = f"[{number}/{steps}] scaling {name}"
        if name == REAL and real_server_missing():
            _say(progress, f"{prefix}: skipped ({real_server_missing()})")
            continue
        _say(progress, f"{prefix}: running at {', '.join(f'{f}x' for f in FACTORS)}...")
        top = quick_top if quick else full_top
        work = [top * f // FACTORS[-1] for f in FACTORS]
        clock = "seconds" if name == REAL else "cpu_seconds"
        seconds = [min(fn(n)[clock] for _ in range(repeats)) for n in work]
        out[name] = {"work": work, "seconds": seconds,
                     "clock": "wall" if clock == "seconds" else "cpu",
                     "us_per_unit": [1e6 * s / n for s, n in zip(seconds, work)],
                     "cost_10x": seconds[-1] / seconds[0]}
        _say(progress, f"{prefix}: 10x the work costs {out[name]['cost_10x']:.1f}x the time")
    return out


_LABELS = {"core_fanout": "core fan-out (per delivery)",
           "core_fanout_trace_off": "core fan-out, trace off",
           "jetstream_pull": "JetStream R1 pipeline (per message)",
           "jetstream_pull_trace_off": "JetStream R1, trace off",
           "jetstream_pull_r3": "JetStream R3 on a 3-node cluster",
           REAL: "JetStream R1 on a real nats-server"}


def plot_scaling(figures: dict, ax=None):
    """Cost per unit of work (µs) against the work, one line a pipeline, from
    ``figures["scaling"]`` (or a :func:`run_scaling` result): flat lines are linear cost.
    Returns the axes."""
    import matplotlib.pyplot as plt

    scaling = figures.get("scaling", figures)
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4.8))
    for name, row in scaling.items():
        style = "--" if name == REAL else "-"
        ax.plot(row["work"], row["us_per_unit"], style, marker="o",
                label=f"{_LABELS.get(name, name)}: 10x work = {row['cost_10x']:.1f}x time")
    from matplotlib.ticker import ScalarFormatter

    ax.set_xscale("log")
    ax.set_yscale("log")
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_formatter(ScalarFormatter())
    ax.set_xlabel("work (messages, or deliveries for fan-out)")
    ax.set_ylabel("cost per unit (µs; CPU, real server: wall clock)")
    ax.set_title("Cost per message against the work: a flat line is linear cost")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return ax


def memory_use(total: int, *, max_msgs: int = -1, trace: bool = False,
               **spill) -> tuple[int, int]:
    """Bytes a :func:`jetstream_pipeline` run of ``total`` messages holds when it has finished
    (the simulation kept alive), and the most it held at any moment: tracemalloc, after a
    full collection. ``spill`` (``spill_to``, ``spill_chunk``) as the pipeline's."""
    import tracemalloc

    jetstream_pipeline(200, trace=trace)[0].run()     # imports and caches warmed first
    started = not tracemalloc.is_tracing()
    if started:
        tracemalloc.start(1)
    try:
        gc.collect()
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        sim, _ = jetstream_pipeline(total, trace=trace, max_msgs=max_msgs, **spill)
        sim.run()
        gc.collect()
        now, peak = tracemalloc.get_traced_memory()
        return now - before, peak - before
    finally:
        if started:
            tracemalloc.stop()


def retained_bytes(total: int, *, max_msgs: int = -1, trace: bool = False) -> int:
    """The first of :func:`memory_use`: what a finished run still holds."""
    return memory_use(total, max_msgs=max_msgs, trace=trace)[0]


def run_memory(quick: bool = False, *, progress: TextIO | None = None) -> dict:
    """Memory of the JetStream pipeline: ``bytes_per_stored_msg`` (every message kept, trace
    off; the 16-byte payload is shared), and what a stream limited to 1,000 messages retains
    after 1x and 10x the messages (trace off), and the most it held while running:
    ``limited_growth_per_msg`` and ``limited_peak_growth_per_msg`` are the extra bytes per
    extra message published (0: bounded by the limits)."""
    small, large = (2_000, 20_000) if quick else (20_000, 200_000)
    kept = 5_000 if quick else 20_000        # enough that fixed costs (caches) are spread thin
    _say(progress, f"memory: {kept:,} stored, then {small:,} and {large:,} through a "
                   f"1,000-message limit...")
    stored = retained_bytes(kept)
    limited = [memory_use(n, max_msgs=1000) for n in (small, large)]
    out = {"stored_msgs": kept, "bytes_per_stored_msg": stored / kept,
           "limited_max_msgs": 1000, "limited_published": [small, large],
           "limited_retained_bytes": [m[0] for m in limited],
           "limited_peak_bytes": [m[1] for m in limited],
           "limited_growth_per_msg": (limited[1][0] - limited[0][0]) / (large - small),
           "limited_peak_growth_per_msg": (limited[1][1] - limited[0][1]) / (large - small)}
    _say(progress, f"memory: {out['bytes_per_stored_msg']:.0f} bytes per stored message; "
                   f"limited stream grows {out['limited_growth_per_msg']:.2f} bytes per message "
                   f"(peak {out['limited_peak_growth_per_msg']:.2f})")
    return out

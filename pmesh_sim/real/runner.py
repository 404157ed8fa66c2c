"""Run a scenario on real ``nats-server`` processes through nats-py (asyncio, wall-clock time).

:func:`run_real` starts a server (or an ``n1..nN`` cluster), connects nats-py clients in the
layout described in :mod:`pmesh_sim.runners` (one ``steps`` connection, one connection per
subscription, each starting on its ``server:``, else on ``n1``; a step with ``server: n3`` uses a
``steps@n3`` connection), performs fault steps as :mod:`pmesh_sim.real.faults` says, drives the
shared
:func:`~pmesh_sim.runners.scenario_program` with an asyncio adapter, and stops every process
afterwards. The trace's clock is seconds since step 0's start; it records what the clients saw.

>>> from pmesh_sim.scenario import Scenario
>>> doc, trace = run_real(Scenario.from_dict({"name": "hi", "steps": [
...     {"op": "request", "subject": "nobody.home"}]}))
>>> doc["steps"][0]["result"]
{'outcome': 'no_responders'}
"""

from __future__ import annotations

import asyncio
import math
from concurrent.futures import ThreadPoolExecutor

from .. import scenario as sc
from ..runners import scenario_program
from ..trace import Trace
from . import faults
from .process import NatsCluster, NatsServer

__all__ = ["run_real"]

#: Seconds a flush waits for the server's answer (a paused server gives none).
FLUSH_TIMEOUT = 2.0


def run_real(scenario: sc.Scenario, *, servers: int | None = None,
             seed: int | None = None) -> tuple[dict, Trace]:
    """Run ``scenario`` on fresh real servers; returns ``(result document, trace)``."""
    count = servers or scenario.servers
    cluster = NatsCluster(count) if count > 1 else None
    group = cluster or NatsServer("n1")
    with group:
        return _run_to_completion(_run(scenario, cluster or group, count,
                                       scenario.seed if seed is None else seed))


def _run_to_completion(coro):
    """``asyncio.run(coro)``, also from inside a running event loop (a Jupyter kernel has one)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with ThreadPoolExecutor(max_workers=1) as worker:
        return worker.submit(asyncio.run, coro).result()


async def _drive(gen):
    """Run a :func:`scenario_program` generator, awaiting what it yields."""
    send, exc = None, None
    while True:
        try:
            item = gen.throw(exc) if exc is not None else gen.send(send)
        except StopIteration as stop:
            return stop.value
        try:
            send, exc = await item, None
        except Exception as err:  # noqa: BLE001 - handed back into the program
            send, exc = None, err


async def _run(scenario: sc.Scenario, group, count: int, seed: int):
    backend = _RealBackend(group)
    try:
        await backend.open({s.server for s in scenario.steps if s.server and s.op != "subscribe"})
        setup, steps, final = await _drive(scenario_program(scenario, backend))
    finally:
        await backend.close()
    doc = sc.result_document(scenario, backend="real", seed=seed, servers=count, steps=steps,
                             subscriptions=backend.received, final=final, setup=setup)
    return doc, backend.trace


class _RealBackend:
    """The adapter :func:`scenario_program` drives: nats-py calls, returned as awaitables."""

    def __init__(self, group: NatsCluster | NatsServer):
        self.cluster = group if isinstance(group, NatsCluster) else None
        self.nodes = self.cluster.servers if self.cluster else {group.name: group}
        self.node = next(iter(self.nodes))  # the node the current steps connection starts on
        self.lost_power: set[str] = set()    # nodes of an unsupported power_loss
        self.steps: dict[str, object] = {}   # start node -> steps connection
        self._system = None
        self.loop = asyncio.get_running_loop()
        self.t0 = math.inf
        self.trace = Trace(clock=lambda: max(0.0, round(self.loop.time() - self.t0, 6)))
        self.nc = None
        self.js = None
        self.subs: dict[str, tuple] = {}   # name -> (connection, subscription)
        self.pulls: dict[tuple[str, str], object] = {}
        self.received: dict[str, list[dict]] = {}

    async def _connect(self, name: str, start: str = ""):
        """A nats-py connection that tries node ``start`` (default: the first) first."""
        import nats

        first = self.nodes[start] if start else next(iter(self.nodes.values()))
        urls = [first.url] + [n.url for n in self.nodes.values() if n is not first]

        async def error_cb(err):
            self.trace.emit("client_error", client=name, error=f"{type(err).__name__}: {err}")

        async def disconnected_cb():
            self.trace.emit("disconnected", client=name)

        async def reconnected_cb():
            self.trace.emit("reconnected", client=name)

        return await nats.connect(servers=urls, name=name,
                                  dont_randomize=True, reconnect_time_wait=0.1,
                                  max_reconnect_attempts=-1, connect_timeout=2,
                                  error_cb=error_cb, disconnected_cb=disconnected_cb,
                                  reconnected_cb=reconnected_cb)

    async def open(self, servers: set[str] = frozenset()):
        """Connect ``steps`` (on n1) and a ``steps@<node>`` connection per other step node."""
        default = next(iter(self.nodes))
        for node in [default, *sorted(servers - {default})]:
            self.steps[node] = await self._connect(
                "steps" if node == default else f"steps@{node}", node)
        self.select("")

    def select(self, server: str):
        """Make the steps connection of node ``server`` (``""``: the default) the current one."""
        self.node = server or next(iter(self.nodes))
        self.nc = self.steps[self.node]
        self.js = self.nc.jetstream()

    async def system_connection(self):
        """A connection in the system account (meta leader stepdown), opened on first use."""
        if self._system is None:
            import nats

            self._system = await nats.connect(
                servers=[n.system_url for n in self.nodes.values()], name="system",
                dont_randomize=True, reconnect_time_wait=0.1, max_reconnect_attempts=-1,
                connect_timeout=2)
        return self._system

    async def close(self):
        conns = [conn for conn, _ in self.subs.values()] + list(self.steps.values())
        for conn in conns + ([self._system] if self._system else []):
            await faults.quietly(conn.close())

    # clock
    def start_clock(self):
        self.t0 = self.loop.time()

    def now(self) -> float:
        return self.loop.time() - self.t0

    def sleep(self, seconds: float):
        return asyncio.sleep(seconds)

    # the steps connection
    def publish(self, subject, data, reply, headers):
        self.trace.emit("publish", client="steps", subject=subject)
        return self.nc.publish(subject, data, reply=reply or "", headers=headers)

    def request(self, subject, data, timeout, headers):
        return self.nc.request(subject, data, timeout=timeout, headers=headers)

    async def flush(self):
        """Flush the steps connection; its server may be paused or gone (then noted)."""
        if not await faults.quietly(self.nc.flush(), FLUSH_TIMEOUT):
            self.trace.emit("client_error", client="steps", error="flush: no answer")

    async def flush_all(self):
        for name, (conn, _) in self.subs.items():
            if not await faults.quietly(conn.flush(), FLUSH_TIMEOUT):
                self.trace.emit("client_error", client=name, error="flush: no answer")
        await self.flush()

    async def fetch(self, stream, consumer, batch, timeout):
        key = (self.node, stream, consumer)
        if key not in self.pulls:
            self.pulls[key] = await self.js.pull_subscribe_bind(consumer, stream=stream)
        msgs = await self.pulls[key].fetch(batch, timeout)
        return msgs

    def ack(self, msg, action, delay):
        self.trace.emit("ack", action=action, subject=msg.subject)
        if action == "nak":
            return msg.nak(delay=delay)
        return getattr(msg, action)()

    # subscriptions, one connection each
    async def subscribe(self, spec: dict):
        name, respond = spec["name"], spec.get("respond")
        conn = await self._connect(name, spec.get("server", ""))
        self.received.setdefault(name, [])

        async def cb(msg):
            self.received[name].append(sc.received_message(msg.subject, msg.data))
            self.trace.emit("deliver", client=name, subject=msg.subject, data=sc.text(msg.data))
            if respond is not None and msg.reply:
                await conn.publish(msg.reply, respond.encode())
                self.trace.emit("respond", client=name, subject=msg.reply)

        sub = await conn.subscribe(spec["subject"], queue=spec.get("queue", ""), cb=cb)
        await conn.flush()
        self.subs[name] = (conn, sub)

    async def unsubscribe(self, name: str):
        conn, sub = self.subs.pop(name)
        await sub.unsubscribe()
        await faults.quietly(conn.flush(), FLUSH_TIMEOUT)
        await faults.quietly(conn.close())

    # faults
    def fault(self, op: str, args: dict):
        return faults.perform(self, op, args)

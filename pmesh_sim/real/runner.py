"""Run a scenario on real ``nats-server`` processes through nats-py (asyncio, wall-clock time).

:func:`run_real` starts a server (or an ``n1..nN`` cluster), connects nats-py clients in the
layout described in :mod:`pmesh_sim.runners` (one ``steps`` connection, one connection per
subscription, all preferring ``n1``), drives the shared
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
from .process import NatsCluster, NatsServer

__all__ = ["run_real", "run_real_on"]


def run_real(scenario: sc.Scenario, *, servers: int | None = None,
             seed: int | None = None) -> tuple[dict, Trace]:
    """Run ``scenario`` on fresh real servers; returns ``(result document, trace)``."""
    count = servers or scenario.servers
    group = NatsCluster(count) if count > 1 else NatsServer("n1")
    with group:
        nodes = group.servers if count > 1 else {"n1": group}
        return _run_to_completion(_run(scenario, nodes, count,
                                       scenario.seed if seed is None else seed))


def run_real_on(scenario: sc.Scenario, nodes: dict, *,
                seed: int | None = None) -> tuple[dict, Trace]:
    """Run ``scenario`` on servers already running (``{"n1": server, ...}``); they stay up."""
    return _run_to_completion(_run(scenario, nodes, len(nodes),
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


async def _run(scenario: sc.Scenario, nodes: dict, count: int, seed: int):
    backend = _RealBackend(nodes)
    try:
        await backend.open()
        setup, steps, final = await _drive(scenario_program(scenario, backend))
    finally:
        await backend.close()
    doc = sc.result_document(scenario, backend="real", seed=seed, servers=count, steps=steps,
                             subscriptions=backend.received, final=final, setup=setup)
    return doc, backend.trace


class _RealBackend:
    """The adapter :func:`scenario_program` drives: nats-py calls, returned as awaitables."""

    def __init__(self, nodes: dict):
        self.nodes = nodes
        self.loop = asyncio.get_running_loop()
        self.t0 = math.inf
        self.trace = Trace(clock=lambda: max(0.0, round(self.loop.time() - self.t0, 6)))
        self.nc = None
        self.js = None
        self.subs: dict[str, tuple] = {}   # name -> (connection, subscription)
        self.pulls: dict[tuple[str, str], object] = {}
        self.received: dict[str, list[dict]] = {}

    async def _connect(self, name: str):
        import nats

        async def error_cb(err):
            self.trace.emit("client_error", client=name, error=f"{type(err).__name__}: {err}")

        async def disconnected_cb():
            self.trace.emit("disconnected", client=name)

        async def reconnected_cb():
            self.trace.emit("reconnected", client=name)

        return await nats.connect(servers=[n.url for n in self.nodes.values()], name=name,
                                  dont_randomize=True, reconnect_time_wait=0.1,
                                  max_reconnect_attempts=-1, connect_timeout=2,
                                  error_cb=error_cb, disconnected_cb=disconnected_cb,
                                  reconnected_cb=reconnected_cb)

    async def open(self):
        self.nc = await self._connect("steps")
        self.js = self.nc.jetstream()

    async def close(self):
        for conn, _ in self.subs.values():
            await _quietly(conn.close())
        if self.nc is not None:
            await _quietly(self.nc.close())

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

    def flush(self):
        return self.nc.flush()

    async def flush_all(self):
        for conn, _ in self.subs.values():
            await conn.flush()
        await self.nc.flush()

    async def fetch(self, stream, consumer, batch, timeout):
        key = (stream, consumer)
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
        conn = await self._connect(name)
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
        await conn.flush()
        await conn.close()

    # faults
    def fault(self, op: str, args: dict):
        if op in ("kill", "restart"):
            return self._process(op, args["server"])
        return sc.outcome("unsupported")

    async def _process(self, op: str, name: str):
        node = self.nodes[name]
        await self.loop.run_in_executor(None, node.kill if op == "kill" else node.restart)
        self.trace.emit(op, server=name)
        return sc.outcome("killed" if op == "kill" else "restarted")


async def _quietly(awaitable):
    try:
        await asyncio.wait_for(awaitable, 2.0)
    except Exception:  # noqa: BLE001 - closing after a kill may fail; nothing to report
        pass

"""Run a scenario on real ``nats-server`` processes through nats-py (asyncio, wall-clock time).

:func:`run_real` starts a server (or an ``n1..nN`` cluster), connects nats-py clients in the
layout described in :mod:`pmesh_sim.runners` (one ``steps`` connection, one connection per
subscription, each starting on its ``server:``, else on ``n1``; a step with ``server: n3`` uses a
``steps@n3`` connection), performs fault steps as :mod:`pmesh_sim.real.faults` says, drives the
shared :func:`~pmesh_sim.runners.scenario_program` with an asyncio adapter, and stops every
process afterwards. The trace's clock is seconds since step 0's start; it records what the
clients saw.

>>> from pmesh_sim.scenario import Scenario
>>> doc, trace = run_real(Scenario.from_dict({"name": "hi", "steps": [
...     {"op": "request", "subject": "nobody.home"}]}))
>>> doc["steps"][0]["result"]
{'outcome': 'no_responders'}
"""

from __future__ import annotations

import asyncio
import contextvars
import math
from concurrent.futures import ThreadPoolExecutor

from .. import scenario as sc
from ..errors import ScenarioError
from ..runners import scenario_program
from ..trace import Trace
from . import faults
from .process import NatsCluster, NatsServer

__all__ = ["run_real", "run_real_on"]

#: Seconds a flush waits for the server's answer (a paused server gives none).
FLUSH_TIMEOUT = 2.0


def run_real(scenario: sc.Scenario, *, servers: int | None = None,
             seed: int | None = None) -> tuple[dict, Trace]:
    """Run ``scenario`` on fresh real servers; returns ``(result document, trace)``."""
    _refuse_sync_interval(scenario)
    count = servers or scenario.servers
    cluster = NatsCluster(count) if count > 1 else None
    group = cluster or NatsServer("n1")
    with group:
        return _run_to_completion(_run(scenario, group, count,
                                       scenario.seed if seed is None else seed))


def run_real_on(scenario: sc.Scenario, nodes: dict | NatsCluster, *,
                seed: int | None = None) -> tuple[dict, Trace]:
    """Run ``scenario`` on servers already running (``{"n1": server, ...}``, or a
    :class:`NatsCluster`, which partitions and heals too); they stay up."""
    _refuse_sync_interval(scenario)
    count = len(nodes.servers if isinstance(nodes, NatsCluster) else nodes)
    return _run_to_completion(_run(scenario, nodes, count,
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


def _refuse_sync_interval(scenario: sc.Scenario) -> None:
    """``sync_interval:`` is simulation only (it decides what a simulated ``power_loss``
    loses); the real backend refuses it before starting anything rather than ignore it."""
    if scenario.sync_interval is not None:
        raise ScenarioError(f"{scenario.source}: top level: key 'sync_interval': not "
                            "supported on the real backend (simulation only: it sets what a "
                            "power_loss loses); run it with --backend sim")


async def _run(scenario: sc.Scenario, group, count: int, seed: int):
    backend = _RealBackend(group)
    backend.seed = seed          # the run's seed (workload steps draw from it)
    backend.servers = count      # nodes (a chaos step draws from them)
    try:
        await backend.open({s.server for s in scenario.steps if s.server and s.op != "subscribe"})
        setup, steps, final = await _drive(scenario_program(scenario, backend))
    finally:
        await backend.close()
    doc = sc.result_document(scenario, backend="real", seed=seed, servers=count, steps=steps,
                             subscriptions=backend.received, final=final, setup=setup)
    return doc, backend.trace


class _RealBackend:
    """The adapter :func:`scenario_program` drives: nats-py calls, returned as awaitables.

    It writes the client-layer trace records (:mod:`pmesh_sim.trace_kinds`) for what its
    clients do and see. It numbers its own publishes (``msg_id``), learns ``(stream, seq) ->
    msg_id`` from pub acks (``stored``) and stamps JetStream deliveries and acks with it; a core
    delivery gets the msg_id of the last publish with the same subject and payload.

    The steps connections (``steps`` on n1, ``steps@n3`` for steps with ``server: n3``) are
    picked by :meth:`select`; the choice is a context variable, so a fetch running in the
    background keeps the connection of the step that started it.
    """

    def __init__(self, group: NatsCluster | NatsServer | dict):
        self.cluster = group if isinstance(group, NatsCluster) else None
        self.nodes = (self.cluster.servers if self.cluster else
                      dict(group) if isinstance(group, dict) else {group.name: group})
        self.loop = asyncio.get_running_loop()
        self.t0 = math.inf
        self.trace = Trace(clock=lambda: max(0.0, round(self.loop.time() - self.t0, 6)))
        self.steps: dict[str, tuple] = {}  # start node -> (client name, connection, jetstream)
        self._selected = contextvars.ContextVar("steps_node", default=next(iter(self.nodes)))
        self.lost_power: set[str] = set()  # nodes of an unsupported power_loss
        self._system = None
        self.subs: dict[str, tuple] = {}   # name -> (connection, subscription)
        self.pulls: dict[tuple, object] = {}
        self.received: dict[str, list[dict]] = {}
        self.conn_node: dict[str, str] = {}
        self.last_msg_id = 0
        self._msg_ids = 0
        self.stored: dict[tuple[str, int], int] = {}      # (stream, seq) -> msg_id
        self._published: dict[tuple[str, bytes], int] = {}  # (subject, data) -> last msg_id
        self._closing: set[str] = set()    # connections we are closing ourselves

    @property
    def node(self) -> str:
        """The node the selected steps connection starts on."""
        return self._selected.get()

    @property
    def client(self) -> str:
        """The name of the selected steps connection."""
        return self.steps[self.node][0]

    @property
    def nc(self):
        return self.steps[self.node][1]

    @property
    def js(self):
        return self.steps[self.node][2]

    def select(self, server: str):
        """Make the steps connection of node ``server`` (``""``: the default) the current one."""
        self._selected.set(server or next(iter(self.nodes)))

    def _new_id(self) -> int:
        self._msg_ids += 1
        return self._msg_ids

    def _node_of(self, conn) -> str:
        url = getattr(conn, "connected_url", None)
        port = getattr(url, "port", None)
        return next((name for name, n in self.nodes.items() if n.port == port), self.node)

    def _emit(self, kind: str, client: str, **fields):
        self.trace.emit(kind, node=self.conn_node.get(client, self.node), client=client, **fields)

    def _publish_record(self, client, subject, data, reply="", headers=None) -> int:
        msg_id = self._new_id()
        extra = {"reply": reply} if reply else {}
        if headers and "Nats-Msg-Id" in headers:
            extra["nats_msg_id"] = headers["Nats-Msg-Id"]
        self._emit("publish", client, subject=subject, msg_id=msg_id, size=len(data), **extra)
        self._published[(subject, bytes(data))] = msg_id
        return msg_id

    def _delivered_id(self, msg) -> tuple[int, dict]:
        """The msg_id of a delivered message and its JetStream fields (empty for core)."""
        reply = msg.reply or ""
        if reply.startswith("$JS.ACK."):
            meta = msg.metadata
            key = (meta.stream, meta.sequence.stream)
            if key not in self.stored:    # stored without a pub ack seen (a core publish)
                self.stored[key] = self._published.get((msg.subject, bytes(msg.data)),
                                                       0) or self._new_id()
            return self.stored[key], {
                "stream": meta.stream, "consumer": meta.consumer,
                "stream_seq": meta.sequence.stream, "consumer_seq": meta.sequence.consumer,
                "num_delivered": meta.num_delivered, "num_pending": meta.num_pending}
        msg_id = self._published.get((msg.subject, bytes(msg.data))) or self._new_id()
        return msg_id, {}

    async def _connect(self, name: str, no_echo: bool = False, start: str = ""):
        """A nats-py connection that tries node ``start`` (default: the first) first."""
        import nats

        first = self.nodes[start] if start else next(iter(self.nodes.values()))
        urls = [first.url] + [n.url for n in self.nodes.values() if n is not first]

        async def error_cb(err):
            self._emit("client_error", name, error=f"{type(err).__name__}: {err}")

        async def disconnected_cb():
            if name not in self._closing:     # not a close of ours (unsubscribe, the end)
                self._emit("disconnected", name)

        async def reconnected_cb():
            self.conn_node[name] = self._node_of(conn)
            self._emit("reconnected", name)

        conn = await nats.connect(servers=urls, name=name,
                                  dont_randomize=True, reconnect_time_wait=0.1, no_echo=no_echo,
                                  max_reconnect_attempts=-1, connect_timeout=2,
                                  error_cb=error_cb, disconnected_cb=disconnected_cb,
                                  reconnected_cb=reconnected_cb)
        self.conn_node[name] = self._node_of(conn)
        self._emit("connect", name)
        return conn

    async def open(self, servers: set[str] = frozenset()):
        """Connect ``steps`` (on n1) and a ``steps@<node>`` connection per other step node."""
        default = next(iter(self.nodes))
        for node in [default, *sorted(servers - {default})]:
            name = "steps" if node == default else f"steps@{node}"
            conn = await self._connect(name, start=node)
            self.steps[node] = (name, conn, conn.jetstream())

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
        self._closing.update([*self.subs, *(name for name, _, _ in self.steps.values())])
        conns = [conn for conn, _ in self.subs.values()]
        conns += [conn for _, conn, _ in self.steps.values()]
        for conn in conns + ([self._system] if self._system else []):
            await faults.quietly(conn.close())

    # clock
    def start_clock(self):
        self.t0 = self.loop.time()

    def now(self) -> float:
        return self.loop.time() - self.t0

    def sleep(self, seconds: float):
        return asyncio.sleep(seconds)

    def date(self, offset: float) -> str:
        """The date ``offset`` seconds from now, on the wall clock (as the server stamps)."""
        import time

        from ..jetstream.stream import _rfc3339

        return _rfc3339(offset, time.time_ns())

    # the steps connection
    def publish(self, subject, data, reply, headers, sender=None):
        self._publish_record(sender or self.client, subject, data, reply, headers)
        conn = self.subs[sender][0] if sender else self.nc
        return conn.publish(subject, data, reply=reply or "", headers=headers)

    async def request(self, subject, data, timeout, headers):
        client = self.client
        msg_id = self.last_msg_id = self._publish_record(client, subject, data, "", headers)
        self._emit("request", client, subject=subject, msg_id=msg_id, timeout=timeout)
        start = self.loop.time()
        try:
            reply = await self.nc.request(subject, data, timeout=timeout, headers=headers)
        except Exception as exc:  # noqa: BLE001 - recorded, then handed on
            name = type(exc).__name__
            if name in ("NoRespondersError", "ServiceUnavailableError"):
                self._emit("no_responders", client, subject=subject, msg_id=msg_id)
            elif "Timeout" in name:
                self._emit("timeout", client, op="request", subject=subject, msg_id=msg_id,
                           timeout=timeout)
            raise
        self._emit("reply", client, subject=subject, msg_id=msg_id,
                   rtt=round(self.loop.time() - start, 6))
        return reply

    async def flush(self):
        """Flush the steps connection; its server may be paused or gone (then noted)."""
        if not await faults.quietly(self.nc.flush(), FLUSH_TIMEOUT):
            self._emit("client_error", self.client, error="flush: no answer")

    async def flush_all(self):
        for name, (conn, _) in self.subs.items():
            if not await faults.quietly(conn.flush(), FLUSH_TIMEOUT):
                self._emit("client_error", name, error="flush: no answer")
        await self.flush()

    def spawn(self, program):
        """Run ``program`` (a step's generator) alongside the steps; join() gives its value."""
        return asyncio.ensure_future(_drive(program))

    def join(self, handle):
        return handle

    async def fetch(self, stream, consumer, batch, timeout, slot=None):
        key, client = (self.node, stream, consumer, slot), self.client
        if key not in self.pulls:
            self.pulls[key] = await self.js.pull_subscribe_bind(consumer, stream=stream)
        try:
            msgs = await self.pulls[key].fetch(batch, timeout)
        except Exception as exc:  # noqa: BLE001 - recorded, then handed on
            if "Timeout" in type(exc).__name__:
                self._emit("timeout", client, op="fetch", timeout=timeout)
            raise
        for msg in msgs:
            msg_id, js = self._delivered_id(msg)
            self._emit("deliver", client, subject=msg.subject, msg_id=msg_id, **js)
        return msgs

    def delivered_id(self, msg) -> int:
        """The msg_id of a delivered message (as its deliver record has it)."""
        return self._delivered_id(msg)[0]

    def ack(self, msg, action, delay):
        meta = msg.metadata
        msg_id, _ = self._delivered_id(msg)
        extra = {"delay": delay} if action == "nak" and delay else {}
        self._emit("ack", self.client, msg_id=msg_id, stream=meta.stream, consumer=meta.consumer,
                   stream_seq=meta.sequence.stream, consumer_seq=meta.sequence.consumer,
                   action=action, **extra)
        if action == "nak":
            return msg.nak(delay=delay)
        return getattr(msg, action)()

    # subscriptions, one connection each
    async def subscribe(self, spec: dict):
        name, respond = spec["name"], spec.get("respond")
        record = spec.get("record_headers", False), spec.get("record_data", True)
        conn = await self._connect(name, no_echo=spec.get("no_echo", False),
                                   start=spec.get("server", ""))
        self.received.setdefault(name, [])

        async def cb(msg):
            self.received[name].append(sc.received_message(msg.subject, msg.data,
                                                           msg.headers, *record))
            msg_id, js = self._delivered_id(msg)
            self._emit("deliver", name, sid=msg.sid, subject=msg.subject, msg_id=msg_id,
                       data=sc.text(msg.data), **js)
            if respond is not None and msg.reply:
                answer = self._publish_record(name, msg.reply, respond.encode())
                await conn.publish(msg.reply, respond.encode())
                self._emit("respond", name, subject=msg.reply, msg_id=answer)

        queue = spec.get("queue", "")
        sub = await conn.subscribe(spec["subject"], queue=queue, cb=cb,
                                   max_msgs=spec.get("max_msgs", 0))
        self._emit("subscribe", name, sid=sub._id, subject=spec["subject"], queue=queue)
        await conn.flush()
        self.subs[name] = (conn, sub)

    async def unsubscribe(self, name: str):
        conn, sub = self.subs.pop(name)
        self._emit("unsubscribe", name, sid=sub._id, subject=sub.subject, limit=0)
        await sub.unsubscribe()
        await faults.quietly(conn.flush(), FLUSH_TIMEOUT)
        self._closing.add(name)
        await faults.quietly(conn.close())
        self._emit("close", name)

    # faults
    def fault(self, op: str, args: dict):
        return faults.perform(self, op, args)

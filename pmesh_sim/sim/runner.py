"""Run a scenario on the simulation (virtual time): the twin of :mod:`pmesh_sim.real.runner`.

:func:`run_sim` builds ``Simulation(seed=...)`` with servers ``n1..nN`` (``jetstream=True``,
each told the cluster size N as its JetStream ``peers``: an interim for placement rules)
and the scenario's ``network`` (``latency``, ``loss``), connects sim clients in the same layout
as the real backend (one ``steps`` connection, one per subscription, all on ``n1``) and runs the
shared :func:`~pmesh_sim.runners.scenario_program` as one SimPy process. Same seed, same
document and trace.

>>> from pmesh_sim.scenario import Scenario
>>> doc, trace = run_sim(Scenario.from_dict({"name": "hi", "steps": [
...     {"op": "request", "subject": "nobody.home"}]}))
>>> doc["steps"][0]["result"]
{'outcome': 'no_responders'}
"""

from __future__ import annotations

from .. import scenario as sc
from ..errors import TimeoutError
from ..runners import scenario_program
from ..trace import Trace
from .simulation import Simulation

__all__ = ["run_sim"]


def run_sim(scenario: sc.Scenario, *, servers: int | None = None,
            seed: int | None = None) -> tuple[dict, Trace]:
    """Run ``scenario`` in a fresh simulation; returns ``(result document, trace)``."""
    count = servers or scenario.servers
    seed = scenario.seed if seed is None else seed
    options = {k: scenario.network[k] for k in ("latency", "loss") if k in scenario.network}
    sim = Simulation(seed=seed, **options)
    for i in range(1, count + 1):
        server = sim.add_server(f"n{i}", jetstream=True)
        # interim until clustering is simulated: JetStream applies the cluster's placement
        # rules (num_replicas up to the cluster size) while all state lives on each server
        server.jetstream.js.peers = count
    backend = _SimBackend(sim)
    process = sim.process(scenario_program(scenario, backend))
    sim.run(until=process)
    setup, steps, final = process.value
    doc = sc.result_document(scenario, backend="sim", seed=seed, servers=count, steps=steps,
                             subscriptions=backend.received, final=final, setup=setup)
    return doc, sim.trace


class _SimBackend:
    """The adapter :func:`scenario_program` drives: sim client calls, returned as SimPy events."""

    def __init__(self, sim: Simulation):
        self.sim = sim
        self.seed = sim.seed       # the run's seed (workload steps draw from it)
        self.trace = sim.trace
        self.t0 = 0.0
        self.node = "n1"           # the node the steps connection uses
        self.last_msg_id = 0       # the trace's msg_id of the last request
        self.stored: dict = {}     # (stream, seq) -> msg_id (the simulation's trace has them)
        self.nc = sim.connect("n1", name="steps")
        self._js = None
        self.subs: dict[str, tuple] = {}
        self.pulls: dict[tuple[str, str], object] = {}
        self.received: dict[str, list[dict]] = {}

    # clock
    def start_clock(self):
        self.t0 = self.sim.now

    def now(self) -> float:
        return self.sim.now - self.t0

    def sleep(self, seconds: float):
        return self.sim.env.timeout(seconds)

    def date(self, offset: float) -> str:
        """The date ``offset`` seconds from now, on the simulation's calendar."""
        return self.sim.date(self.sim.now + offset)

    # the steps connection
    def publish(self, subject, data, reply, headers, sender=None):
        conn = self.subs[sender][0] if sender else self.nc
        conn.publish(subject, data, reply=reply or "", headers=headers)

    def request(self, subject, data, timeout, headers):
        event = self.nc.request(subject, data, timeout=timeout, headers=headers)
        self.last_msg_id = event.msg_id
        return event

    def flush(self):
        return self.nc.flush()

    def flush_all(self):
        return self.sim.process(self._flush_all())

    def _flush_all(self):
        for conn, _ in self.subs.values():
            yield conn.flush()
        yield self.nc.flush()

    def fetch(self, stream, consumer, batch, timeout, slot=None):
        return self.sim.process(self._fetch(stream, consumer, batch, timeout, slot))

    def spawn(self, program):
        """Run ``program`` (a step's generator) alongside the steps; join() gives its value."""
        return self.sim.process(program)

    def join(self, handle):
        return handle

    def _fetch(self, stream, consumer, batch, timeout, slot):
        key = (stream, consumer, slot)
        if self._js is None:
            self._js = self.nc.jetstream()
        if key not in self.pulls:
            self.pulls[key] = yield self._js.pull_subscribe_bind(consumer, stream=stream)
        try:
            msgs = yield self.pulls[key].fetch(batch, timeout)
        except TimeoutError:      # recorded as the real backend does, then handed on
            self.trace.emit("timeout", node=self.node, client="steps", op="fetch",
                            timeout=timeout)
            raise
        return msgs

    def ack(self, msg, action, delay):   # the client's Msg writes the ack record
        if action == "nak":
            return msg.nak(delay=delay)
        return getattr(msg, action)()

    # subscriptions, one connection each
    def subscribe(self, spec: dict):
        name, respond = spec["name"], spec.get("respond")
        conn = self.sim.connect("n1", name=name, no_echo=spec.get("no_echo", False))
        self.received.setdefault(name, [])

        def cb(msg):
            self.received[name].append(sc.received_message(msg.subject, msg.data))
            if respond is not None and msg.reply:
                msg_id = conn._publish(msg.reply, respond.encode(), "", None)
                self.trace.emit("respond", node=conn.server.name, client=name,
                                subject=msg.reply, msg_id=msg_id)

        sub = conn.subscribe(spec["subject"], queue=spec.get("queue", ""), cb=cb)
        if spec.get("max_msgs"):   # auto-unsubscribe, as nats-py's subscribe(max_msgs=N)
            sub.unsubscribe(limit=spec["max_msgs"])
        self.subs[name] = (conn, sub)
        return conn.flush()

    def unsubscribe(self, name: str):
        conn, sub = self.subs.pop(name)
        sub.unsubscribe()
        event = conn.flush()
        event.callbacks.append(lambda _e: conn.close())
        return event

    # faults: not simulated yet (clusters, RAFT and faults are the next step of the roadmap)
    def fault(self, op: str, args: dict):
        return sc.outcome("unsupported")

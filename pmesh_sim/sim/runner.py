"""Run a scenario on the simulation (virtual time): the twin of :mod:`pmesh_sim.real.runner`.

:func:`run_sim` builds ``Simulation(seed=...)`` with nodes ``n1..nN`` routed to each other
and the scenario's ``network`` (``latency``, ``loss``). A scenario that uses JetStream on 3 or
5 nodes runs replicated JetStream on every node (:mod:`pmesh_sim.sim.js_cluster`) and starts
once every node knows the meta leader; other sizes keep JetStream on ``n1``, told the cluster
size N as its ``peers`` for the placement rules (faults touching ``n1`` are ``unsupported``).
It connects sim clients in the same layout and with the same nats-py options as the real
backend (one ``steps`` connection, one per subscription, each on its ``server:`` or ``n1``, a
``steps@n3`` connection for steps with ``server: n3``, every node in the pool,
``dont_randomize``, ``reconnect_time_wait`` 0.1 s) and runs the shared
:func:`~pmesh_sim.runners.scenario_program` as one SimPy process. Fault steps act on the
simulated nodes (:mod:`pmesh_sim.sim.faults`); ``power_loss`` is performed on replicated
JetStream (3 or 5 nodes: the file store loses what it had not synced at its last
``sync_interval`` tick, the scenario's ``sync_interval:``) and answers ``unsupported``
elsewhere. A ``stepdown`` is asked of the JetStream API as the real backend asks it (the meta
group's of the meta leader directly: the simulation has no system account). In a scenario that
uses JetStream on n1 only, a ``server:`` other than n1 is refused before the run. Same seed,
same document and trace.

>>> from pmesh_sim.scenario import Scenario
>>> doc, trace = run_sim(Scenario.from_dict({"name": "hi", "steps": [
...     {"op": "request", "subject": "nobody.home"}]}))
>>> doc["steps"][0]["result"]
{'outcome': 'no_responders'}
"""

from __future__ import annotations

import json

from .. import scenario as sc
from ..errors import (ConfigError, NotSimulatedError, ScenarioError, SimulationStuckError,
                      TimeoutError)
from ..real.faults import LEADER_WAIT, _already
from ..jetstream.surface import refused_headers
from ..runners import API_TIMEOUT, classify_error, scenario_program, unsupported
from . import routes
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
    js = uses_jetstream(scenario)
    placed = {s.server for s in scenario.steps if s.server and s.op != "subscribe"}
    if scenario.sync_interval is not None and not (js and count in (3, 5)):
        raise ScenarioError(f"{scenario.source}: top level: key 'sync_interval': is simulated "
                            "for replicated JetStream only (a scenario that uses JetStream on "
                            f"3 or 5 servers; this one has {count} and "
                            f"{'uses' if js else 'does not use'} JetStream)")
    if js and count in (3, 5):
        # replicated JetStream on every node (sim/js_cluster.py); like the real backend,
        # the scenario starts once every node knows the meta leader
        sim.add_cluster(count, jetstream=True, sync_interval=scenario.sync_interval)
        _wait_for_meta_leader(sim)
        backend = _SimBackend(sim, False, placed)
    else:
        names = [f"n{i}" for i in range(1, count + 1)]
        nodes = [sim.add_server(n, jetstream=n == "n1") for n in names]
        # JetStream sits on n1 and applies the cluster's placement rules (num_replicas up
        # to the cluster size)
        nodes[0].jetstream.js.peers = count
        for node in nodes:
            node.cluster = list(names)
        for i, a in enumerate(nodes):
            for b in nodes[i + 1:]:
                routes.route_up(a, b)
        if js:
            _refuse_placed_connections(scenario)
        backend = _SimBackend(sim, js, placed)
    process = sim.process(scenario_program(scenario, backend))
    sim.run(until=process)
    setup, steps, final = process.value
    doc = sc.result_document(scenario, backend="sim", seed=seed, servers=count, steps=steps,
                             subscriptions=backend.received, final=final, setup=setup)
    return doc, sim.trace


def _wait_for_meta_leader(sim: Simulation, limit: float = 60.0) -> None:
    """Run until every node knows the same meta leader (at most ``limit`` virtual seconds)."""
    while sim.now < limit:
        known = {s.raft.nodes["_meta_"].leader for s in sim.servers.values()}
        if len(known) == 1 and None not in known:
            return
        sim.run(until=sim.now + 0.05)
    raise SimulationStuckError(f"no JetStream meta leader within {limit:g} virtual seconds")


class _SimBackend:
    """The adapter :func:`scenario_program` drives: sim client calls, returned as SimPy events."""

    def __init__(self, sim: Simulation, jetstream: bool = True,
                 step_servers: set[str] = frozenset()):
        self.sim = sim
        self.jetstream = jetstream   # the scenario uses JetStream (hosted on n1)
        self.replicated = any(s.raft is not None for s in sim.servers.values())
        self.seed = sim.seed       # the run's seed (workload steps draw from it)
        self.servers = len(sim.servers)   # nodes (a chaos step draws from them)
        self.trace = sim.trace
        self.t0 = 0.0
        self.node = "n1"           # the node the steps connection uses
        self.last_msg_id = 0       # the trace's msg_id of the last request
        self.stored: dict = {}     # (stream, seq) -> msg_id (the simulation's trace has them)
        self.nc = self._connect("steps")
        self.steps = {"n1": self.nc}   # start node -> steps connection (select picks one)
        for server in sorted(step_servers - {"n1"}):
            self.steps[server] = self._connect(f"steps@{server}", start=server)
        self._js = None
        self.subs: dict[str, tuple] = {}
        self.pulls: dict[tuple[str, str], object] = {}
        self.received: dict[str, list[dict]] = {}

    def _connect(self, name: str, no_echo: bool = False, start: str = "n1"):
        """A connection on node ``start`` with the real backend's nats-py options."""
        pool = [start] + [n for n in self.sim.servers if n != start]
        return self.sim.connect(start, name=name, no_echo=no_echo, servers=pool,
                                dont_randomize=True, reconnect_time_wait=0.1,
                                max_reconnect_attempts=-1)

    def _stepdown(self, args: dict):
        """A stream's, consumer's or the meta leader's stepdown through the JetStream API, as
        the real backend asks it: with ``preferred``, again until that node leads (at most
        LEADER_WAIT seconds); ``{"leader": node}`` then, else ``stepped_down`` or the
        server's error."""
        stream, consumer, preferred = args.get("stream"), args.get("consumer"), \
            args.get("preferred")
        if args.get("meta"):
            subject, target = None, {"group": "meta"}
        elif consumer:
            subject = f"$JS.API.CONSUMER.LEADER.STEPDOWN.{stream}.{consumer}"
            target = {"stream": stream, "consumer": consumer}
        else:
            subject, target = f"$JS.API.STREAM.LEADER.STEPDOWN.{stream}", {"stream": stream}
        body = json.dumps({"placement": {"preferred": preferred}}).encode() if preferred else b""
        deadline = self.sim.now + LEADER_WAIT
        while True:
            result = yield from (self._ask(subject, body) if subject else self._ask_meta(body))
            self.trace.emit("stepdown", node=self.node, **target,
                            **({"preferred": preferred} if preferred else {}))
            if not preferred or not (result.get("outcome") == "stepped_down"
                                     or _already(result)):
                return result
            wait_until = min(deadline, self.sim.now + 2)
            while True:        # a peer not current yet may be passed over: ask again
                leader = yield from self._leader(stream, consumer, args.get("meta"))
                if leader == preferred or self.sim.now > wait_until:
                    break
                yield self.sim.env.timeout(0.1)
            if leader == preferred or self.sim.now > deadline:
                return {"leader": leader or ""}

    def _ask(self, subject: str, body: bytes):
        try:
            msg = yield self.nc.request(subject, body, timeout=API_TIMEOUT)
        except Exception as exc:  # noqa: BLE001 - a timeout or no responders is the outcome
            return classify_error(exc)
        return _stepdown_result(json.loads(msg.data or b"{}"))

    def _ask_meta(self, body: bytes):
        """``$JS.API.META.LEADER.STEPDOWN`` as the real backend's system connection asks it:
        on the first running node, answered by a meta leader that node reaches (the
        simulation has no system account, so the leader's host is asked directly, one round
        trip later); a timeout when none does."""
        sim = self.sim
        via = next(s for s in sim.servers.values() if s.state != "down")
        leaders = [s for s in sim.servers.values() if s.state is None
                   and s.raft.nodes["_meta_"].is_leader
                   and (s is via or not sim.network.link(via.name, s.name).cut)]
        if via.state is not None or not leaders:
            yield sim.env.timeout(API_TIMEOUT)
            return sc.outcome("timeout")
        yield sim.env.timeout(sim.network.latency())
        try:
            answer = leaders[0].jetstream.meta_stepdown(body)
        except NotSimulatedError as exc:
            return unsupported(exc.feature)
        yield sim.env.timeout(sim.network.latency())
        return _stepdown_result(answer)

    def _leader(self, stream: str | None, consumer: str | None = None, meta: bool = False):
        if meta:        # as the real backend reads /jsz: the leader every running node knows
            known = {s.raft.nodes["_meta_"].leader for s in self.sim.servers.values()
                     if s.state is None}
            return known.pop() if len(known) == 1 else None
        subject = (f"$JS.API.CONSUMER.INFO.{stream}.{consumer}" if consumer
                   else f"$JS.API.STREAM.INFO.{stream}")
        try:
            msg = yield self.nc.request(subject, b"", timeout=0.5)
        except Exception:  # noqa: BLE001 - no answer: no leader known
            return None
        return (json.loads(msg.data or b"{}").get("cluster") or {}).get("leader")

    def select(self, server: str):
        """Make the steps connection of node ``server`` (``""``: n1) the current one."""
        self.node = server or "n1"
        self.nc = self.steps[self.node]

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
        if headers and (refused := refused_headers(headers)) and self._stored(subject):
            # the server refuses to store it (not simulated): the step must not read "sent"
            raise NotSimulatedError(f"header {refused[0]!r} on a message a stream stores")

    def _stored(self, subject: str) -> bool:
        """Some node's JetStream has a stream on ``subject``."""
        return any(s.jetstream is not None and s.jetstream.js.stream_for(subject) is not None
                   for s in self.sim.servers.values())

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

    @staticmethod
    def delivered_id(msg) -> int:
        """The msg_id of a delivered message (its deliver record has it)."""
        return msg._record[5] if msg._record is not None else 0

    def ack(self, msg, action, delay):   # the client's Msg writes the ack record
        if action == "nak":
            return msg.nak(delay=delay)
        return getattr(msg, action)()

    # subscriptions, one connection each
    def subscribe(self, spec: dict):
        name, respond = spec["name"], spec.get("respond")
        record = spec.get("record_headers", False), spec.get("record_data", True)
        conn = self._connect(name, no_echo=spec.get("no_echo", False),
                             start=spec.get("server") or "n1")
        self.received.setdefault(name, [])

        def cb(msg):
            self.received[name].append(sc.received_message(msg.subject, msg.data,
                                                           msg.headers, *record))
            if respond is not None and msg.reply:
                msg_id = conn._publish(msg.reply, respond.encode(), "", None)
                self.trace.emit("respond", node=conn.server.name, client=name,
                                subject=msg.reply, msg_id=msg_id)

        # max_msgs as nats-py's subscribe(max_msgs=N): the client stops, the server's interest
        # stays until the connection closes
        sub = conn.subscribe(spec["subject"], queue=spec.get("queue", ""), cb=cb,
                             max_msgs=spec.get("max_msgs", 0))
        self.subs[name] = (conn, sub)
        return conn.flush()

    def unsubscribe(self, name: str):
        conn, sub = self.subs.pop(name)
        sub.unsubscribe()
        event = conn.flush()
        event.callbacks.append(lambda _e: conn.close())
        return event

    # faults on the simulated nodes (sim/faults.py)
    def fault(self, op: str, args: dict):
        sim = self.sim
        if self.jetstream and _touches_n1(sim, op, args):
            return unsupported(f"fault {op!r} touching n1, which hosts JetStream (JetStream "
                               "across nodes, RAFT replication, is not simulated yet)")
        try:
            if op in _DONE:
                getattr(sim, op)(args["server"])
            elif op == "partition":
                sim.partition(args["groups"])
            elif op == "heal":
                sim.heal()
            elif op == "link":
                sim.set_link(*args["servers"], loss=args.get("loss"), delay=args.get("delay"))
                return sc.outcome("link_set")
            elif op == "stepdown" and self.replicated:
                return sim.process(self._stepdown(args))
            else:
                return unsupported(f"fault {op!r} in the simulation")
        except NotSimulatedError as exc:
            return unsupported(exc.feature)
        except ConfigError as exc:            # a state the file check could not see
            return {**sc.outcome("error"), "error": str(exc)}
        return sc.outcome(_DONE.get(op) or {"partition": "partitioned", "heal": "healed"}[op])


def _stepdown_result(resp: dict) -> dict:
    """A stepdown's result from the server's answer: ``stepped_down`` or its error."""
    return sc.error_result(resp["error"]) if "error" in resp else sc.outcome("stepped_down")


def _refuse_placed_connections(scenario: sc.Scenario) -> None:
    """In a JetStream scenario on a cluster of other than 3 or 5 nodes (JetStream on n1), a
    connection on a node other than n1 is not simulated: refused, never ignored."""
    for where, server in scenario.placed_connections():
        if server != "n1":
            raise ScenarioError(f"{scenario.source}: {where}: key 'server': {server!r} is not "
                                "simulated in a scenario that uses JetStream on "
                                f"{scenario.servers} nodes (JetStream lives on n1; replicated "
                                "JetStream needs servers: 3 or 5); run it with --backend real")


#: fault op -> its outcome (the real backend answers the same words)
_DONE = {"kill": "killed", "restart": "restarted", "pause": "paused", "resume": "resumed",
         "power_loss": "power_lost"}

#: Ops that use core NATS only (a scenario with no other op, no stream, no consumer and no
#: $JS subject has its faults performed on every node).
CORE_OPS = frozenset({"publish", "request", "subscribe", "unsubscribe", "wait", *_DONE,
                      "partition", "heal", "link", "chaos"})


def uses_jetstream(scenario: sc.Scenario) -> bool:
    """Whether ``scenario`` touches JetStream (then faults on n1, its host, are refused).

    >>> from pmesh_sim.scenario import Scenario
    >>> uses_jetstream(Scenario.from_dict({"name": "c", "steps": [{"op": "publish", "subject": "a"}]}))
    False
    """
    if scenario.streams or scenario.consumers:
        return True
    for step in scenario.steps:
        if step.op not in CORE_OPS or str(step.args.get("subject", "")).startswith("$JS."):
            return True
    return False


def _touches_n1(sim: Simulation, op: str, args: dict) -> bool:
    if op in _DONE:
        return args["server"] == "n1"
    if op == "partition":
        groups = [set(g) for g in args["groups"]]
        named = set().union(*groups)
        rest = set(sim.servers) - named
        own = next((g for g in groups if "n1" in g), rest)
        return own != set(sim.servers)
    return False

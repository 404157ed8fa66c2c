"""The simulation: one SimPy clock, one seeded random generator, the network, the trace.

Nothing here reads the wall clock or the global ``random``: the only randomness is ``sim.rng``
(``random.Random(seed)``), so the same seed gives the same trace, byte for byte.

>>> sim = Simulation(seed=7, latency=0.01)
>>> sim.add_server("n1")
Server('n1')
>>> pub, sub = sim.connect(name="pub"), sim.connect(name="sub")
>>> got = []
>>> _ = sub.subscribe("tick", cb=lambda msg: got.append((round(sim.now, 3), msg.data)))
>>> def publisher():
...     yield pub.flush()
...     for i in range(2):
...         pub.publish("tick", str(i).encode())
...         yield sim.env.timeout(1.0)
>>> _ = sim.process(publisher()); sim.run()
>>> got
[(0.04, b'0'), (1.04, b'1')]
>>> sim.trace.kinds()
['connect', 'connect', 'subscribe', 'publish', 'deliver', 'publish', 'deliver']
"""

from __future__ import annotations

import gc
import itertools
import random
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import replace

import simpy
from simpy.core import EmptySchedule, StopSimulation
from simpy.events import URGENT

from ..errors import ConfigError, SimulationStuckError
from ..trace import Trace
from . import faults, routes
from .client import Client
from .network import Network
from .reconnect import (DEFAULT_CONNECT_TIMEOUT, DEFAULT_MAX_RECONNECT_ATTEMPTS,
                        DEFAULT_PENDING_SIZE, DEFAULT_RECONNECT_TIME_WAIT)
from .server import Server

__all__ = ["Simulation", "DEFAULT_EPOCH"]

#: The date virtual time 0 stands for, unless ``Simulation(epoch=...)`` says otherwise: fixed,
#: so that message timestamps, ``opt_start_time`` and every date in an answer are the same on
#: every run.
DEFAULT_EPOCH = "2026-01-01T00:00:00Z"

RUN_GC_THRESHOLD = (10_000, 10, 10)
"""The cyclic garbage collector's thresholds while :meth:`Simulation.run` runs (``gc.set_threshold``).

A run allocates many short-lived objects (events, messages) while long-lived state (stored
messages, the trace) grows; with CPython's defaults ``(700, 10, 10)`` the collector walks that
state again and again (about a quarter of a long JetStream run). ``run`` raises each threshold
to at least these values and puts the caller's back when it returns, so nothing outside a run
changes; collection stays automatic (it only runs less often), and ``gc.disable()`` or a
threshold of 0 set by the caller is left alone.
"""

STUCK_EVENTS = 1_000_000
"""Events at one virtual instant after which :meth:`Simulation.run` raises
:class:`~pmesh_sim.errors.SimulationStuckError` instead of spinning. It checks once every
``STUCK_EVENTS // 10`` events (no cost per event); a real burst at one instant is far smaller."""


class Simulation:
    """A deterministic NATS world in virtual time.

    Parameters
    ----------
    seed : int
        Seeds ``rng``, the only source of randomness.
    latency : float or callable
        One-way latency of every link in seconds, or ``callable(rng) -> seconds``
        (e.g. ``lambda rng: rng.expovariate(1000)``). Links stay FIFO either way.
    loss : float
        Probability that a message is lost on a hop (traced as ``lost``).
    trace : bool or collection of kind names
        Record the trace (``False`` keeps nothing, for long benchmark runs); kind names
        (e.g. ``{"publish", "ack"}``) keep only records of those kinds (``Trace(kinds=...)``).
    epoch : str, datetime or int
        The date virtual time 0 stands for: an RFC 3339 date, an aware ``datetime``, or
        nanoseconds since 1970 (default :data:`DEFAULT_EPOCH`). Message timestamps,
        ``opt_start_time`` and the dates JetStream answers with count from it.
    spill_to, spill_chunk : directory, int
        Write the trace out as it goes, ``spill_chunk`` records a Parquet part
        (``Trace(spill_to=...)``, :mod:`pmesh_sim.trace_spill`): memory then holds at most
        ``spill_chunk`` records. ``sim.trace.flush()`` writes the rest.
    """

    def __init__(self, seed: int = 0, latency: float | Callable = 0.0005, loss: float = 0.0,
                 trace: bool | Iterable[str] = True, epoch=DEFAULT_EPOCH, *,
                 spill_to=None, spill_chunk: int = 100_000):
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise ConfigError(f"seed={seed!r}: give an int")
        self.seed = seed
        self.epoch_ns = _epoch_ns(epoch)
        self.env = simpy.Environment(initial_time=0.0)
        self.rng = random.Random(seed)
        if isinstance(trace, (bool, type(None))):
            self.trace = Trace(clock=lambda: self.env.now, enabled=bool(trace),
                               spill_to=spill_to, chunk=spill_chunk)
        else:
            self.trace = Trace(clock=lambda: self.env.now, kinds=trace, spill_to=spill_to,
                               chunk=spill_chunk)
        self.network = Network(self.env, self.rng, latency=latency, loss=loss, trace=self.trace)
        self.servers: dict[str, Server] = {}
        self.clients: dict[str, Client] = {}
        self._ids = itertools.count(1)
        self._next_msg_id = self._ids.__next__       # the next trace msg_id (no Python frame)

    def __repr__(self) -> str:
        return (f"Simulation(seed={self.seed}, now={self.now}, servers={list(self.servers)}, "
                f"clients={len(self.clients)})")

    @property
    def now(self) -> float:
        """The virtual time in seconds."""
        return self.env.now

    def add_server(self, name: str = "n1", **options) -> Server:
        """Add a server node (options: ``max_payload``, ``jetstream``)."""
        if name in self.servers:
            raise ConfigError(f"server {name!r} already exists (servers: {list(self.servers)})")
        unknown = set(options) - {"max_payload", "jetstream"}
        if unknown:
            raise ConfigError(f"add_server: unknown option(s) {sorted(unknown)}; "
                              "known: max_payload, jetstream")
        server = Server(self, name, **options)
        self.servers[name] = server
        return server

    def add_cluster(self, size: int = 3, *, jetstream: bool = False,
                    sync_interval: float | str | None = None, timings=None,
                    **options) -> list[Server]:
        """Add nodes ``n1..n<size>`` (1, 3 or 5), every pair routed; returns them.

        With ``jetstream=True`` every node runs JetStream, replicated by RAFT groups
        (:mod:`pmesh_sim.sim.js_cluster`): a meta group answers the API once it has elected a
        leader (4-9 s), streams are placed on R nodes and replicated. ``sync_interval``:
        seconds between the file store's syncs to disk (default the server's 2 min), or
        ``"always"``; it decides what :meth:`power_loss` loses. ``timings``: a
        :class:`~pmesh_sim.cluster.timings.ClusterTimings` other than the server's defaults
        (smaller snapshot thresholds, say).
        """
        if size not in (1, 3, 5):
            raise ConfigError(f"add_cluster({size!r}): give 1, 3 or 5 nodes")
        if timings is not None and not (jetstream and size > 1):
            raise ConfigError("add_cluster: timings are those of a replicated JetStream "
                              "cluster (jetstream=True, 3 or 5 nodes)")
        names = [f"n{i}" for i in range(1, size + 1)]
        taken = [n for n in names if n in self.servers]
        if taken:
            raise ConfigError(f"add_cluster: node(s) {taken} already exist")
        nodes = [self.add_server(n, jetstream=jetstream and size == 1, **options)
                 for n in names]
        for node in nodes:
            node.cluster = list(names)
        for i, a in enumerate(nodes):
            for b in nodes[i + 1:]:
                routes.route_up(a, b)
        if jetstream and size > 1:
            from ..cluster.timings import ClusterTimings
            from .js_cluster import ClusterJetStreamHost

            timings = timings or ClusterTimings()
            if sync_interval is not None:
                timings = replace(timings, sync_interval=_sync_interval(sync_interval))
            for node in nodes:
                node.jetstream = ClusterJetStreamHost(node, names, timings)
        return nodes

    # -- faults (sim/faults.py) ----------------------------------------------------------------

    def kill(self, node: str) -> None:
        """Kill node ``node`` (its clients reconnect elsewhere, its routes close)."""
        faults.kill(self, node)

    def power_loss(self, node: str) -> None:
        """Cut ``node``'s power: a kill that also loses what its file store had not synced
        (replicated JetStream: every RAFT log as of its last ``sync_interval`` tick)."""
        faults.power_loss(self, node)

    def restart(self, node: str) -> None:
        """Start a killed node again, empty; its routes open again."""
        faults.restart(self, node)

    def pause(self, node: str) -> None:
        """Stop ``node`` processing (SIGSTOP): messages to it wait on their links."""
        faults.pause(self, node)

    def resume(self, node: str) -> None:
        """Let a paused node run: what waited arrives, in order."""
        faults.resume(self, node)

    def partition(self, groups) -> None:
        """Close the routes between the groups (``[["n1"], ["n2", "n3"]]``) until ``heal``."""
        faults.partition(self, groups)

    def meta_leader(self) -> str | None:
        """The JetStream meta group's leader as the first running node knows it (or None)."""
        for server in self.servers.values():
            if server.state is None and server.raft is not None and "_meta_" in server.raft.nodes:
                return server.raft.nodes["_meta_"].leader
        return None

    def stream_leader(self, stream: str) -> str | None:
        """The node leading ``stream`` (a running node that leads it, ready), or None."""
        for server in self.servers.values():
            host = server.jetstream
            if server.state is None and stream in getattr(host, "led", ()):
                return server.name
        return None

    def consumer_leader(self, stream: str, consumer: str) -> str | None:
        """The node leading consumer ``consumer`` of ``stream`` (a running node that leads
        its RAFT group, ready), or None."""
        for server in self.servers.values():
            host = server.jetstream
            if server.state is None and (stream, consumer) in getattr(host, "cled", ()):
                return server.name
        return None

    def heal(self) -> None:
        """Undo every partition: routes open again and exchange interest."""
        faults.heal(self)

    def set_link(self, a: str, b: str, *, loss: float | None = None,
                 delay: float | None = None) -> None:
        """Extra ``loss`` (probability) and ``delay`` (seconds) between ``a`` and ``b``."""
        faults.set_link(self, a, b, loss=loss, delay=delay)

    def connect(self, server: Server | str | None = None, *, name: str | None = None,
                no_echo: bool = False, error_cb: Callable | None = None,
                servers: list[str] | None = None, dont_randomize: bool = False,
                allow_reconnect: bool = True,
                reconnect_time_wait: float = DEFAULT_RECONNECT_TIME_WAIT,
                max_reconnect_attempts: int = DEFAULT_MAX_RECONNECT_ATTEMPTS,
                pending_size: int = DEFAULT_PENDING_SIZE,
                connect_timeout: float = DEFAULT_CONNECT_TIMEOUT, **unknown) -> Client:
        """A new client connection to ``server`` (the first server when None).

        The reconnect options are nats-py's (:mod:`pmesh_sim.sim.reconnect`); ``servers``
        are the node names given besides the cluster's others, which the client learns.
        """
        if unknown:
            raise ConfigError(f"connect: unknown option(s) {sorted(unknown)}; "
                              "known: server, name, no_echo, error_cb, servers, dont_randomize, "
                              "allow_reconnect, reconnect_time_wait, max_reconnect_attempts, "
                              "pending_size, connect_timeout")
        if server is None:
            if not self.servers:
                raise ConfigError("connect: there is no server yet; call sim.add_server() first")
            server = next(iter(self.servers.values()))
        elif isinstance(server, str):
            if server not in self.servers:
                raise ConfigError(f"connect: no server named {server!r} "
                                  f"(servers: {list(self.servers)})")
            server = self.servers[server]
        elif not isinstance(server, Server) or server.sim is not self:
            raise ConfigError(f"connect: server={server!r} is not a server of this simulation")
        if server.state is not None:
            raise ConfigError(f"connect: {server.name} is {server.state} (nats-py would fail "
                              "to connect)")
        if name is None:
            name = f"c{len(self.clients) + 1}"
        if not isinstance(name, str) or not name:
            raise ConfigError(f"connect: name={name!r}: give a non-empty str")
        if name in self.clients:
            raise ConfigError(f"connect: a client named {name!r} already exists")
        for n in servers or ():
            if n not in self.servers:
                raise ConfigError(f"connect: servers names {n!r}, which is not a node "
                                  f"(nodes: {list(self.servers)})")
        options = {"dont_randomize": bool(dont_randomize), "allow_reconnect": allow_reconnect,
                   "reconnect_time_wait": reconnect_time_wait,
                   "max_reconnect_attempts": max_reconnect_attempts,
                   "pending_size": pending_size, "connect_timeout": connect_timeout}
        client = Client(self, server, name, no_echo=no_echo, error_cb=error_cb,
                        reconnect=options)
        client._pool = self._pool(server, servers or [], bool(dont_randomize))
        self.clients[name] = client
        self.trace.emit("connect", node=server.name, client=name, no_echo=bool(no_echo))
        return client

    def _pool(self, server: Server, given: list[str], dont_randomize: bool) -> list[list]:
        """nats-py's server pool after connecting to ``server``: the other given servers
        (shuffled unless ``dont_randomize``), ``server``, then the cluster's nodes it
        announced (shuffled too)."""
        if len(server.cluster) == 1 and not given:
            return [[server.name, self.now, 0]]      # no rng draw: single-node runs unchanged
        others = [n for n in given if n != server.name]
        if not dont_randomize:
            self.rng.shuffle(others)
        found = [n for n in server.cluster if n != server.name and n not in others]
        if not dont_randomize:
            self.rng.shuffle(found)
        return [[n, None, 0] for n in others] + [[server.name, self.now, 0]] + \
            [[n, None, 0] for n in found]

    def date(self, t: float | None = None) -> str:
        """Virtual time ``t`` (default: now) as the RFC 3339 date it stands for.

        >>> Simulation().date(1.5), Simulation(epoch="2020-02-02T00:00:00Z").date(0.0)
        ('2026-01-01T00:00:01.5Z', '2020-02-02T00:00:00Z')
        """
        from ..jetstream.stream import _rfc3339

        return _rfc3339(self.env.now if t is None else t, self.epoch_ns)

    def process(self, generator) -> simpy.Process:
        """Start a SimPy process (a generator that yields events)."""
        return self.env.process(generator)

    def run(self, until: float | simpy.Event | None = None):
        """Run until ``until`` (a time or an event), or until nothing is left to do.

        While it runs, the garbage collector runs less often (:data:`RUN_GC_THRESHOLD`); the
        caller's thresholds are back when it returns or raises.

        >>> import gc
        >>> before = gc.get_threshold()
        >>> Simulation().run(until=1.0); gc.get_threshold() == before
        True
        """
        if until is None and any(s.raft is not None for s in self.servers.values()):
            raise ConfigError("run(): a JetStream cluster never runs out of work (its RAFT "
                              "groups keep electing and heartbeating); give run(until=...)")
        saved = gc.get_threshold()
        if saved[0] == 0:                  # the caller turned automatic collection off
            return self._run(until)
        wanted = tuple(max(a, b) for a, b in zip(saved, RUN_GC_THRESHOLD))
        gc.set_threshold(*wanted)
        try:
            return self._run(until)
        finally:
            if gc.get_threshold() == wanted:   # unless a callback changed them on purpose
                gc.set_threshold(*saved)

    def _run(self, until):
        """``simpy.Environment.run``, stepping in chunks: after :data:`STUCK_EVENTS` events
        at one instant it raises :class:`SimulationStuckError` naming what is scheduled."""
        env = self.env
        if until is not None:
            if not isinstance(until, simpy.Event):
                at = float(until)
                if at <= env.now:
                    raise ValueError(f"until ({at}) must be greater than the current "
                                     "simulation time")
                until = simpy.Event(env)
                until._ok, until._value = True, None
                env.schedule(until, URGENT, at - env.now)
            elif until.callbacks is None:
                return until.value
            until.callbacks.append(StopSimulation.callback)
        step, chunk, same = env.step, max(1, STUCK_EVENTS // 10), 0
        try:
            while True:
                t0 = env.now
                for _ in range(chunk):
                    step()
                same = same + chunk if env.now == t0 else 0
                if same >= STUCK_EVENTS:
                    raise SimulationStuckError(self._stuck_message(same))
        except StopSimulation as exc:
            return exc.args[0]
        except EmptySchedule:
            if until is not None:
                raise RuntimeError('No scheduled events left but "until" event was not '
                                   f"triggered: {until}") from None
        return None

    def _stuck_message(self, events: int) -> str:
        """What is scheduled at the stuck instant, by process or callback name."""
        now = self.env.now
        names = Counter(_callback_name(cb) for t, _, _, ev in self.env._queue if t == now
                        for cb in (ev.callbacks or ()))
        what = ", ".join(f"{n} ({k})" for n, k in names.most_common(3)) or "nothing named"
        return (f"simulation stuck at t={now!r}: {events:,} events without virtual time "
                f"advancing; scheduled at that instant: {what}")


def _callback_name(cb) -> str:
    """A process's generator name, else the callback's qualified name.

    >>> _callback_name(print)
    'print'
    """
    owner = getattr(cb, "__self__", None)
    if isinstance(owner, simpy.Process):
        gen = owner._generator
        return "process " + getattr(gen, "__qualname__", owner.name)
    return getattr(cb, "__qualname__", repr(cb))



def _sync_interval(value) -> float:
    """``add_cluster(sync_interval=...)``: seconds > 0, or ``"always"`` (0: every write).

    >>> _sync_interval("always"), _sync_interval(60)
    (0.0, 60.0)
    """
    if value == "always":
        return 0.0
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ConfigError(f"sync_interval={value!r}: give seconds > 0 or 'always'")
    return float(value)


def _epoch_ns(epoch) -> int:
    """``epoch`` (an RFC 3339 date, an aware datetime, or int nanoseconds) in nanoseconds.

    >>> _epoch_ns("1970-01-01T00:00:01Z"), _epoch_ns(5)
    (1000000000, 5)
    """
    import datetime

    from ..jetstream.stream import parse_rfc3339

    if isinstance(epoch, int) and not isinstance(epoch, bool):
        return epoch
    if isinstance(epoch, datetime.datetime) and epoch.tzinfo is not None:
        delta = epoch - datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
        return (delta.days * 86400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1000
    if isinstance(epoch, str):
        try:
            return parse_rfc3339(epoch)
        except ValueError as err:
            raise ConfigError(f"epoch={epoch!r}: {err}") from None
    raise ConfigError(f"epoch={epoch!r}: give an RFC 3339 date (like {DEFAULT_EPOCH!r}), an "
                      "aware datetime, or int nanoseconds since 1970")

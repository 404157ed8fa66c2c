"""The one network: every message between clients and nodes and between nodes crosses a link.

A :class:`Link` is one direction of one connection, named by its two ends (``net.link("c1",
"n1")`` gives the same link every time). Sending on it schedules a call at the arrival time
``max(now + latency, last arrival on the link)``, so a link never reorders (like TCP) even when
the latency is random. Calls due at the same virtual time share one SimPy event (a batch),
which keeps the hot path at a handful of events per published message.

Faults: a link may be ``cut`` (a partition, a killed end), have its own extra ``loss`` and
``delay``, or a ``hook(link, fn, args) -> bool`` (False drops the message); a message arriving
at a paused or dead endpoint (:meth:`Network.set_endpoint`) is held until it resumes, or
dropped. The first fault switches the network to the checked path for good (every message then
goes link by link, fan-out copies too); until then the fast path has no fault checks at all.

>>> import random, simpy
>>> env = simpy.Environment()
>>> net = Network(env, random.Random(0), latency=0.5)
>>> link, got = net.link("c1", "n1"), []
>>> net.send(link, got.append, "a"); net.send(link, got.append, "b")
>>> env.run(); (got, env.now)
(['a', 'b'], 0.5)
>>> net.set_faulty(); link.cut = True          # a partition: the link drops everything
>>> net.send(link, got.append, "c"); env.run(); got
['a', 'b']
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import ConfigError

__all__ = ["Network", "Link"]


class Link:
    """One direction of one connection, from ``src`` to ``dst``; ``last`` is its last arrival.

    Fault settings (used once the network is faulty): ``cut`` drops everything, ``loss`` is
    this link's own loss probability, ``delay`` extra one-way seconds, ``hook(link, fn, args)``
    returning False drops a message.
    """

    __slots__ = ("src", "dst", "last", "cut", "loss", "delay", "hook")

    def __init__(self, src: str, dst: str):
        self.src = src
        self.dst = dst
        self.last = float("-inf")
        self.cut = False
        self.loss = 0.0
        self.delay = 0.0
        self.hook = None

    def __repr__(self) -> str:
        return f"Link({self.src!r} -> {self.dst!r})"


class Network:
    """Links with one-way ``latency`` (seconds, or ``callable(rng) -> seconds``) and ``loss``.

    ``loss`` is the probability that a message (``send(..., lossy=True)``) is dropped; protocol
    operations (subscribe, ping) are never lost. Loss draws from ``rng`` only when ``loss > 0``.
    """

    def __init__(self, env, rng, latency: float | Callable = 0.0005, loss: float = 0.0,
                 trace=None):
        if callable(latency):
            self._sample = latency
            self._fixed = None
        else:
            if isinstance(latency, bool) or not isinstance(latency, (int, float)) or latency < 0:
                raise ConfigError(f"latency={latency!r}: give one-way seconds as a number >= 0 "
                                  "or a callable(rng) -> seconds")
            self._fixed = float(latency)
            self._sample = None
        if isinstance(loss, bool) or not isinstance(loss, (int, float)) or not 0 <= loss < 1:
            raise ConfigError(f"loss={loss!r}: give a probability in [0, 1)")
        self.env = env
        self.rng = rng
        self.loss = float(loss)
        self.trace = trace
        self._batches: dict[float, list] = {}
        self._fire = self._fire          # bind once: one callback object for every batch
        self.links: dict[tuple[str, str], Link] = {}
        #: endpoint name -> "paused" or "down" (absent: running)
        self.state: dict[str, str] = {}
        self.held: dict[str, list] = {}  # paused endpoint -> [(fn, args)] in arrival order
        self.faulty = False
        #: Whether one arrival may stand for a whole fan-out: the latency is a fixed number
        #: (all links FIFO by construction) and no fault has happened (links are unchecked).
        self.fixed = self._fixed is not None

    def link(self, src: str, dst: str) -> Link:
        """The link from ``src`` to ``dst`` (made on first use, the same object after)."""
        link = self.links.get((src, dst))
        if link is None:
            link = self.links[(src, dst)] = Link(src, dst)
        return link

    def set_faulty(self) -> None:
        """Check every message from now on (sticky: in-flight order stays FIFO per link)."""
        if not self.faulty:
            self.faulty = True
            self.fixed = False
            self.send = self._send_checked      # shadows the fast method on this instance
            for batch in self._batches.values():  # in flight: check their end on arrival
                batch[:] = [(self._arrive_at, (_endpoint(fn), fn, args)) for fn, args in batch]

    def set_endpoint(self, name: str, state: str | None) -> list:
        """Mark endpoint ``name`` ``"paused"``, ``"down"`` or running (None); returns what was
        held for it while paused (in arrival order) when it runs again."""
        self.set_faulty()
        if state is None:
            self.state.pop(name, None)
            return self.held.pop(name, [])
        self.state[name] = state
        if state == "down":
            self.held.pop(name, None)
        return []

    def latency(self) -> float:
        """One latency sample (seconds)."""
        if self._fixed is not None:
            return self._fixed
        value = self._sample(self.rng)
        if not isinstance(value, (int, float)) or value < 0:
            raise ConfigError(f"the latency callable returned {value!r}: it must return seconds >= 0")
        return float(value)

    def lost(self) -> bool:
        """Whether the next lossy message is lost (always False when ``loss == 0``)."""
        return self.loss > 0 and self.rng.random() < self.loss

    def send(self, link: Link | None, fn: Callable, *args: Any) -> None:
        """Call ``fn(*args)`` when a message sent now on ``link`` arrives.

        With a fixed latency every link is FIFO by construction, so ``link`` may be None (one
        call standing for messages on several links, as the server's fan-out does).
        """
        env = self.env
        now = env._now          # SimPy's Environment.now, without the property call
        if self._fixed is not None:
            arrival = now + self._fixed
        else:
            arrival = now + self.latency()
            if arrival < link.last:
                arrival = link.last
            link.last = arrival
        batch = self._batches.get(arrival)
        if batch is None:
            batch = self._batches[arrival] = []
            env.timeout(arrival - now, arrival).callbacks.append(self._fire)
        batch.append((fn, args))

    def _fire(self, event) -> None:
        for fn, args in self._batches.pop(event._value):
            fn(*args)

    def _send_checked(self, link: Link | None, fn: Callable, *args: Any) -> None:
        """``send`` once the network is faulty: the link's faults, then arrival at its end."""
        if link.cut or self.state.get(link.src) == "down":
            self._drop(link, "cut" if link.cut else "down")
            return
        if (link.loss and self.rng.random() < link.loss) or (
                link.hook is not None and not link.hook(link, fn, args)):
            self._drop(link, "loss")
            return
        env = self.env
        now = env.now
        arrival = now + (self._fixed if self._fixed is not None else self.latency()) + link.delay
        if arrival < link.last:
            arrival = link.last
        link.last = arrival
        batch = self._batches.get(arrival)
        if batch is None:
            batch = self._batches[arrival] = []
            env.timeout(arrival - now, arrival).callbacks.append(self._fire)
        batch.append((self._arrive, (link, fn, args)))

    def _arrive(self, link: Link, fn: Callable, args: tuple) -> None:
        state = self.state.get(link.dst)
        if state is None and not link.cut:
            fn(*args)
        elif state == "paused" and not link.cut:
            self.held.setdefault(link.dst, []).append((fn, args))
        else:
            self._drop(link, state or "cut")

    def _arrive_at(self, name: str | None, fn: Callable, args: tuple) -> None:
        """A message sent before the first fault arrives at endpoint ``name``."""
        state = self.state.get(name)
        if state is None:
            fn(*args)
        elif state == "paused":
            self.held.setdefault(name, []).append((fn, args))

    def _drop(self, link: Link, reason: str) -> None:
        if self.trace is not None and self.trace.enabled:
            self.trace.emit("link_drop", node=link.src, src=link.src, dst=link.dst,
                            reason=reason)


def _endpoint(fn: Callable) -> str | None:
    """The name of the object a bound method belongs to (a server or client), else None."""
    return getattr(getattr(fn, "__self__", None), "name", None)

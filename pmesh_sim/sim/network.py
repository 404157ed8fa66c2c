"""The network between clients and servers: one-way latency, loss, FIFO links.

A :class:`Link` is one direction of one connection. Sending on it schedules a call at the
arrival time ``max(now + latency, last arrival on the link)``, so a link never reorders (like
TCP) even when the latency is random. Calls due at the same virtual time share one SimPy event
(a batch), which keeps the hot path at a handful of events per published message.

>>> import random, simpy
>>> env = simpy.Environment()
>>> net = Network(env, random.Random(0), latency=0.5)
>>> link, got = net.link("c1", "n1"), []
>>> net.send(link, got.append, "a"); net.send(link, got.append, "b")
>>> env.run(); (got, env.now)
(['a', 'b'], 0.5)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import ConfigError

__all__ = ["Network", "Link"]


class Link:
    """One direction of one connection, from ``src`` to ``dst``; ``last`` is its last arrival."""

    __slots__ = ("src", "dst", "last")

    def __init__(self, src: str, dst: str):
        self.src = src
        self.dst = dst
        self.last = float("-inf")

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

    def link(self, src: str, dst: str) -> Link:
        """A new link from ``src`` to ``dst``."""
        return Link(src, dst)

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
        now = env.now
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

    @property
    def fixed(self) -> bool:
        """Whether the latency is a fixed number (then all links are FIFO by construction)."""
        return self._fixed is not None

    def _fire(self, event) -> None:
        for fn, args in self._batches.pop(event._value):
            fn(*args)

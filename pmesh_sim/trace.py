"""The trace: every observable event of a run, in the order it happened.

Both backends write the same records, so every figure, checker and comparison reads either.
A record is a time (seconds: virtual in the simulation, since the start on a real server), a
kind (``publish``, ``deliver``, ``ack``…) and keyword fields (node, client, subject, ids,
sequences). Records are plain data; equal runs give equal traces. Every kind and its fields are
registered in :mod:`pmesh_sim.trace_kinds` (documented in ``docs/trace.md``); recording never
checks them, :meth:`Trace.check` does.

>>> trace = Trace(clock=lambda: 1.5)
>>> trace.emit("publish", node="n1", client="alice", subject="orders.1", msg_id=1)
>>> trace.emit("deliver", node="n1", client="bob", subject="orders.1", msg_id=1)
>>> [(e.time, e.kind) for e in trace]
[(1.5, 'publish'), (1.5, 'deliver')]
>>> trace.filter("deliver")[0].fields["client"]
'bob'
>>> list(trace.to_pandas().columns)
['time', 'kind', 'node', 'client', 'subject', 'msg_id']
>>> trace.check()      # the kinds and fields of pmesh_sim.trace_kinds: nothing wrong
[]
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

__all__ = ["Event", "Trace"]


class Event(NamedTuple):
    """One observable event: when, what kind, and its fields."""

    time: float
    kind: str
    fields: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """The record as one flat dict (``time``, ``kind``, then the fields)."""
        return {"time": self.time, "kind": self.kind, **self.fields}


class Trace:
    """An append-only record of :class:`Event` s stamped by ``clock``.

    Records are kept as three columns (times, kinds, field dicts) rather than one tuple each:
    a long run then allocates nothing the garbage collector has to scan, which keeps the hot
    paths fast. ``enabled=False`` keeps nothing (for long benchmark runs that only count).
    """

    def __init__(self, clock: Callable[[], float], *, enabled: bool = True):
        self._clock = clock
        self._times: list[float] = []
        self._kinds: list[str] = []
        self._fields: list[dict[str, Any]] = []
        self.enabled = enabled

    def emit(self, kind: str, **fields: Any) -> None:
        """Record one event of ``kind`` at the clock's current time."""
        if self.enabled:
            self._times.append(self._clock())
            self._kinds.append(kind)
            self._fields.append(fields)

    def record(self, time: float, kind: str, fields: dict[str, Any]) -> None:
        """Record one event with its time and fields given (for hot paths; honours ``enabled``)."""
        if self.enabled:
            self._times.append(time)
            self._kinds.append(kind)
            self._fields.append(fields)

    @property
    def events(self) -> list[Event]:
        """Every event, in order, as :class:`Event` records."""
        return list(map(Event, self._times, self._kinds, self._fields))

    def __iter__(self) -> Iterator[Event]:
        return map(Event, self._times, self._kinds, self._fields)

    def __len__(self) -> int:
        return len(self._times)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return self.events[index]
        return Event(self._times[index], self._kinds[index], self._fields[index])

    def filter(self, *kinds: str, **fields: Any) -> list[Event]:
        """The events of any of ``kinds`` (all kinds if none) whose fields equal ``fields``."""
        return [e for e in self
                if (not kinds or e.kind in kinds)
                and all(e.fields.get(k) == v for k, v in fields.items())]

    def kinds(self) -> list[str]:
        """The kind of every event, in order."""
        return list(self._kinds)

    def to_records(self) -> list[dict[str, Any]]:
        """Every event as a flat dict."""
        return [e.to_dict() for e in self]

    def to_pandas(self, *kinds: str):
        """A tidy DataFrame: one row an event, columns ``time``, ``kind`` and every field seen.

        With ``kinds``, only those kinds' rows and only the columns some of them fill (a table
        to show a student: no wall of empty cells).

        >>> t = Trace(clock=lambda: 0.0)
        >>> t.emit("publish", node="n1", client="a", subject="x", msg_id=1, size=2)
        >>> t.emit("step", node="n1", index=0, op="publish")
        >>> list(t.to_pandas().columns)
        ['time', 'kind', 'node', 'client', 'subject', 'msg_id', 'size', 'index', 'op']
        >>> t.to_pandas("step")
           time  kind node  index       op
        0   0.0  step   n1      0  publish
        """
        import pandas as pd

        if not kinds:
            return pd.DataFrame.from_records(self.to_records())
        rows = [e.to_dict() for e in self if e.kind in kinds]
        return pd.DataFrame.from_records(rows).dropna(axis="columns", how="all")

    def check(self, registry=None) -> list[str]:
        """The records that break the trace schema (:func:`pmesh_sim.trace_kinds.check_trace`):
        unregistered kinds and fields, missing required fields. Empty: the trace conforms."""
        from .trace_kinds import check_trace

        return check_trace(self, registry)

    def dumps(self) -> str:
        """JSON Lines, one event a line, keys in a fixed order: equal traces give equal text."""
        return "".join(json.dumps(e.to_dict(), default=_jsonable) + "\n" for e in self)


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)

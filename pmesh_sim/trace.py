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

A trace narrowed to some kinds keeps only those (for long runs: the rest costs no memory):

>>> acks = Trace(clock=lambda: 2.0, kinds=["ack"])
>>> acks.emit("publish", node="n1", client="a", subject="x", msg_id=1)
>>> acks.emit("ack", node="n1", client="b", subject="$JS.ACK.S.C.1.1.1.0.0", msg_id=1)
>>> acks.kinds(), sorted(acks.kept)
(['ack'], ['ack'])
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterable, Iterator
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

    Records are kept as three columns (times, kinds, fields) rather than one tuple each: a
    long run then allocates nothing the garbage collector has to scan, which keeps the hot
    paths fast. A hot path may give :meth:`record` its fields as a row, ``(keys, *values)``
    with ``keys`` a tuple of names it shares between records, instead of a dict: a third of
    the memory, read back as the same dict (records are read-only). ``enabled=False`` keeps nothing (for long benchmark runs that only count);
    ``kinds`` (names registered in :mod:`pmesh_sim.trace_kinds`) keeps only records of those
    kinds, and ``kept`` is then their frozenset (None: every kind). An unregistered name is a
    :class:`~pmesh_sim.errors.ConfigError`, not a trace that silently stays empty.
    ``spill_to`` (a directory) writes every ``chunk`` records out as a Parquet part and keeps
    only the rest in memory (:mod:`pmesh_sim.trace_spill`); the trace still reads as a whole,
    the written part lazily, and :meth:`flush` writes the rest.
    """

    def __init__(self, clock: Callable[[], float], *, enabled: bool = True,
                 kinds: Iterable[str] | None = None, spill_to=None, chunk: int = 100_000):
        self._clock = clock
        self._times: list[float] = []
        self._kinds: list[str] = []
        self._fields: list[dict[str, Any]] = []
        self.enabled = enabled
        self.kept: frozenset[str] | None = None
        if kinds is not None:
            self.kept = _registered(kinds)
            # narrowed: the instance's emit/record check the kind; unnarrowed traces keep
            # the class's methods, so the hot paths pay nothing for narrowing
            self.emit = self._emit_kept          # type: ignore[method-assign]
            self.record = self._record_kept      # type: ignore[method-assign]
        self._spill = None
        if spill_to is not None:
            self._spill_as_it_goes(spill_to, chunk)

    def _spill_as_it_goes(self, directory, chunk: int) -> None:
        from .errors import ConfigError
        from .trace_spill import ParquetSpill

        if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
            raise ConfigError(f"chunk={chunk!r}: give a positive number of records")
        self._spill = ParquetSpill(directory)
        emit, record, times = self.emit, self.record, self._times

        def spilling_emit(kind: str, **fields: Any) -> None:
            emit(kind, **fields)
            if len(times) >= chunk:
                self.flush()

        def spilling_record(time: float, kind: str, fields) -> None:
            record(time, kind, fields)
            if len(times) >= chunk:
                self.flush()

        self.emit = spilling_emit                # type: ignore[method-assign]
        self.record = spilling_record            # type: ignore[method-assign]

    @property
    def spilled(self) -> int:
        """How many records were written out (``spill_to``); 0 for a trace kept in memory."""
        return sum(self._spill.sizes) if self._spill is not None else 0

    def flush(self) -> None:
        """Write the records still in memory out as one more part (``spill_to`` only)."""
        if self._spill is not None and self._times:
            self._spill.write(self._times, self._kinds, self._fields)
            self._times.clear()
            self._kinds.clear()
            self._fields.clear()

    def emit(self, kind: str, **fields: Any) -> None:
        """Record one event of ``kind`` at the clock's current time."""
        if self.enabled:
            self._times.append(self._clock())
            self._kinds.append(kind)
            self._fields.append(fields)

    def record(self, time: float, kind: str, fields: dict[str, Any] | tuple) -> None:
        """Record one event with its time and fields given, a dict or a row ``(keys, *values)``
        (for hot paths; honours ``enabled``).

        >>> t = Trace(clock=lambda: 0.0)
        >>> KEYS = ("node", "client")
        >>> t.record(1.0, "connect", (KEYS, "n1", "alice"))
        >>> t[0]
        Event(time=1.0, kind='connect', fields={'node': 'n1', 'client': 'alice'})
        """
        if self.enabled:
            self._times.append(time)
            self._kinds.append(kind)
            self._fields.append(fields)

    def _emit_kept(self, kind: str, **fields: Any) -> None:
        if self.enabled and kind in self.kept:
            self._times.append(self._clock())
            self._kinds.append(kind)
            self._fields.append(fields)

    def _record_kept(self, time: float, kind: str, fields: dict[str, Any]) -> None:
        if self.enabled and kind in self.kept:
            self._times.append(time)
            self._kinds.append(kind)
            self._fields.append(fields)

    @property
    def events(self) -> list[Event]:
        """Every event, in order, as :class:`Event` records."""
        return list(self)

    def __iter__(self) -> Iterator[Event]:
        held = map(_event, self._times, self._kinds, self._fields)
        if self.spilled:
            return itertools.chain(self._spill.reader(), held)
        return held

    def __len__(self) -> int:
        return self.spilled + len(self._times)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return self.events[index]
        spilled = self.spilled
        if spilled:
            if index < 0:
                index += len(self)
            if 0 <= index < spilled:
                return self._spill.reader()[index]
            index -= spilled
        return _event(self._times[index], self._kinds[index], self._fields[index])

    def filter(self, *kinds: str, **fields: Any) -> list[Event]:
        """The events of any of ``kinds`` (all kinds if none) whose fields equal ``fields``."""
        return [e for e in self
                if (not kinds or e.kind in kinds)
                and all(e.fields.get(k) == v for k, v in fields.items())]

    def kinds(self) -> list[str]:
        """The kind of every event, in order."""
        if self.spilled:
            return self._spill.reader().kinds() + self._kinds
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


def _event(time: float, kind: str, fields: dict | tuple) -> Event:
    """A stored record as an :class:`Event` (a row's fields become a dict)."""
    if type(fields) is tuple:
        fields = dict(zip(fields[0], fields[1:]))
    return Event(time, kind, fields)


def _registered(kinds: Iterable[str]) -> frozenset[str]:
    from .errors import ConfigError
    from .trace_kinds import KINDS

    if isinstance(kinds, str):
        kinds = [kinds]
    kept = frozenset(kinds)
    unknown = sorted(kept - KINDS.keys())
    if unknown:
        raise ConfigError(f"trace kinds {unknown}: not registered trace kinds "
                          f"(see docs/trace.md)")
    return kept


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)

"""A trace written out as it goes: Parquet parts, read back lazily.

A long run's trace need not fit in memory: ``Trace(spill_to=DIR, chunk=N)`` (or
``Simulation(spill_to=DIR)``) writes every ``N`` records to ``DIR/part-00000.parquet``,
``part-00001.parquet``... and keeps only the records not yet written. A part has four
columns: ``time`` (float64), ``kind``, ``keys`` (the field names as a JSON array, in recording
order: few distinct, dictionary-encoded) and ``values`` (the field values as a JSON array).
:func:`read_trace` reads a directory back one part at a time; ``pandas.read_parquet(DIR)``
reads it whole. Needs ``pyarrow`` (``pip install pmesh-sim[parquet]``).

>>> import tempfile
>>> from pmesh_sim.trace import Trace
>>> out = tempfile.mkdtemp()
>>> t = Trace(clock=lambda: 1.0, spill_to=out, chunk=2)
>>> for i in range(5):
...     t.emit("publish", node="n1", client="a", subject="x", msg_id=i)
>>> len(t), t.spilled, [e.fields["msg_id"] for e in t]   # 4 written, 1 still in memory
(5, 4, [0, 1, 2, 3, 4])
>>> t.flush(); back = read_trace(out)
>>> len(back), back.kinds()[:2], back.dumps() == t.dumps()
(5, ['publish', 'publish'], True)
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["ParquetSpill", "TraceFile", "read_trace"]

PART = "part-{:05d}.parquet"


def _pyarrow():
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:  # pragma: no cover - pyarrow is in the parquet extra
        from .errors import ConfigError

        raise ConfigError("writing or reading a trace as Parquet needs pyarrow: "
                          "pip install 'pmesh-sim[parquet]'") from exc
    return pa, pq


class ParquetSpill:
    """Writes columns of records to numbered Parquet parts in ``directory`` (created; one
    that already holds parts is refused, so two runs never mix)."""

    def __init__(self, directory: str | Path):
        from .errors import ConfigError

        _pyarrow()
        self.directory = Path(directory)
        if self.directory.exists() and any(self.directory.glob("part-*.parquet")):
            raise ConfigError(f"spill_to={str(directory)!r}: already holds a trace's parts; "
                              f"give an empty or new directory")
        self.directory.mkdir(parents=True, exist_ok=True)
        self.sizes: list[int] = []          # records in each part, in order

    def write(self, times: list[float], kinds: list[str], fields: list) -> None:
        """Write one part: the records ``times[i], kinds[i], fields[i]`` (dicts or rows)."""
        from .trace import _jsonable

        pa, pq = _pyarrow()
        encode = json.JSONEncoder(default=_jsonable).encode   # what json.dumps makes per call
        names: dict[tuple, str] = {}                  # a row's shared keys -> their JSON
        keys, values = [], []
        for f in fields:
            if type(f) is tuple:
                k, v = f[0], f[1:]
            else:
                k, v = tuple(f), list(f.values())
            text = names.get(k)
            if text is None:
                text = names[k] = encode(k)
            keys.append(text)
            values.append(encode(v))
        table = pa.table({"time": pa.array(times, pa.float64()),
                          "kind": pa.array(kinds, pa.string()),
                          "keys": pa.array(keys, pa.string()),
                          "values": pa.array(values, pa.string())})
        pq.write_table(table, self.directory / PART.format(len(self.sizes)),
                       use_dictionary=["kind", "keys"])
        self.sizes.append(len(times))

    def reader(self) -> TraceFile:
        """The parts written so far, to read."""
        return TraceFile(self.directory, sizes=list(self.sizes))


class TraceFile:
    """A trace spilled to a directory of Parquet parts, read one part at a time (never
    whole): iterate it, take ``len``, index it, filter it, or turn kinds of it into a
    DataFrame. ``sizes`` (records in each part) limits it to the parts written so far."""

    def __init__(self, directory: str | Path, sizes: list[int] | None = None):
        self.directory = Path(directory)
        paths = sorted(self.directory.glob("part-*.parquet"))
        self.paths = paths if sizes is None else paths[:len(sizes)]
        self._sizes = sizes
        self._cached: tuple[int, list] | None = None

    def _part(self, i: int, columns=None):
        _, pq = _pyarrow()
        return pq.read_table(self.paths[i], columns=columns)

    @property
    def sizes(self) -> list[int]:
        """Records in each part (from the files' metadata)."""
        if self._sizes is None:
            _, pq = _pyarrow()
            self._sizes = [pq.ParquetFile(p).metadata.num_rows for p in self.paths]
        return self._sizes

    def __len__(self) -> int:
        return sum(self.sizes)

    def _events(self, i: int) -> list:
        from .trace import Event

        if self._cached is None or self._cached[0] != i:
            cols = self._part(i).to_pydict()
            loads = json.loads
            names: dict[str, list] = {}
            events = []
            for time, kind, keys, values in zip(cols["time"], cols["kind"], cols["keys"],
                                                cols["values"]):
                k = names.get(keys)
                if k is None:
                    k = names[keys] = loads(keys)
                events.append(Event(time, kind, dict(zip(k, loads(values)))))
            self._cached = (i, events)
        return self._cached[1]

    def __iter__(self) -> Iterator:
        for i in range(len(self.paths)):
            yield from self._events(i)

    def __getitem__(self, index: int):
        if index < 0:
            index += len(self)
        for i, size in enumerate(self.sizes):
            if index < size:
                return self._events(i)[index]
            index -= size
        raise IndexError("trace index out of range")

    def kinds(self) -> list[str]:
        """The kind of every record, in order (reads only the ``kind`` column)."""
        out: list[str] = []
        for i in range(len(self.paths)):
            out += self._part(i, ["kind"]).column("kind").to_pylist()
        return out

    def filter(self, *kinds: str, **fields: Any) -> list:
        """As :meth:`pmesh_sim.trace.Trace.filter`."""
        return [e for e in self
                if (not kinds or e.kind in kinds)
                and all(e.fields.get(k) == v for k, v in fields.items())]

    def to_pandas(self, *kinds: str):
        """As :meth:`pmesh_sim.trace.Trace.to_pandas`, one part in memory at a time."""
        import pandas as pd

        rows = [e.to_dict() for e in self if not kinds or e.kind in kinds]
        frame = pd.DataFrame.from_records(rows)
        return frame.dropna(axis="columns", how="all") if kinds else frame

    def dumps(self) -> str:
        """As :meth:`pmesh_sim.trace.Trace.dumps` (the same text for the same records)."""
        from .trace import _jsonable

        return "".join(json.dumps(e.to_dict(), default=_jsonable) + "\n" for e in self)


def read_trace(directory: str | Path) -> TraceFile:
    """The trace spilled to ``directory`` (``spill_to``), read lazily."""
    from .errors import ConfigError

    if not Path(directory).is_dir():
        raise ConfigError(f"read_trace({str(directory)!r}): no such directory")
    return TraceFile(directory)

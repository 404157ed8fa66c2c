"""Subject transforms: map a subject matching ``src`` to a subject built from ``dest``.

The server's ``subject_transform.go`` as far as stream ``republish`` needs it. ``dest`` refers
to the source's ``*`` wildcards by position, as ``$1`` or ``{{wildcard(1)}}``; a ``>`` in
``src`` needs one in ``dest`` (the remaining tokens go there); ``dest`` may not hold ``*``.
``{{partition(n, i, ...)}}`` hashes tokens into ``n`` buckets (FNV-1a, as the server). Other
mapping functions are not simulated. No SimPy.

>>> SubjectTransform("orders.*.>", "out.$1.>").match("orders.eu.new.1")
'out.eu.new.1'
>>> SubjectTransform("orders.*", "x.{{wildcard(1)}}.y").match("orders.eu")
'x.eu.y'
>>> SubjectTransform("orders.*", "x.$1").match("other.eu") is None
True
>>> SubjectTransform("a.*", "x.*")
Traceback (most recent call last):
...
ValueError: invalid subject transform from 'a.*' to 'x.*'
"""

from __future__ import annotations

import re

from ..errors import InvalidSubjectError
from ..subjects import subject_matches, validate_subject

__all__ = ["SubjectTransform", "UnsupportedMapping", "fnv32a"]


class UnsupportedMapping(ValueError):
    """A mapping function the server knows and the simulation does not."""

_FUNC = re.compile(r"^\{\{\s*([A-Za-z]+)\s*\((.*)\)\s*\}\}$")
_ARGS = re.compile(r",\s*")


def fnv32a(data: bytes) -> int:
    """The 32-bit FNV-1a hash (Go's ``hash/fnv`` ``New32a``), which partitions use.

    >>> fnv32a(b"a") % 3
    1
    """
    h = 0x811C9DC5
    for byte in data:
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return h


class SubjectTransform:
    """A checked ``src`` -> ``dest`` mapping; :meth:`match` applies it.

    Raises ``ValueError`` for a mapping the server refuses (``NewSubjectTransform``): either
    subject invalid, a ``*`` in ``dest``, ``>`` in one and not the other, a wildcard index past
    the source's wildcards, or a ``$n`` with no wildcard in ``src``.
    """

    def __init__(self, src: str, dest: str):
        self.src, self.dest = src or ">", dest
        bad = ValueError(f"invalid subject transform from '{self.src}' to '{dest}'")
        try:
            validate_subject(self.src)
            validate_subject(dest)
        except InvalidSubjectError:
            raise bad from None
        stoks, dtoks = self.src.split("."), dest.split(".")
        if "*" in dtoks or (stoks[-1] == ">") != (dtoks[-1] == ">"):
            raise bad
        self._stoks, self._dtoks = stoks, dtoks
        wildcards = [i for i, t in enumerate(stoks) if t == "*"]
        has_wildcards = bool(wildcards) or stoks[-1] == ">"
        #: per dest token: ("lit", token) | ("wc", source index) | ("part", n, [indexes])
        self._plan: list[tuple] = []
        for token in dtoks:
            kind, args = self._placeholder(token, bad)
            if kind == "lit":
                self._plan.append(("lit", token))
                continue
            if kind == "part" and not args[1]:
                self._plan.append(("part", args[0], []))
                continue
            if not has_wildcards:
                raise bad
            positions = args if kind == "wc" else args[1]
            if any(p > len(wildcards) for p in positions):
                raise bad
            # the server's map from wildcard number to token index gives 0 for numbers < 1
            index = [wildcards[p - 1] if p >= 1 else 0 for p in positions]
            self._plan.append(("wc", index[0]) if kind == "wc" else ("part", args[0], index))

    @staticmethod
    def _placeholder(token: str, bad: ValueError):
        """``(kind, args)`` of one destination token (``indexPlaceHolders``)."""
        if len(token) > 1 and token[0] == "$":
            try:
                return "wc", [int(token[1:])]
            except ValueError:
                return "lit", None
        m = _FUNC.match(token)
        if m is None:
            return "lit", None
        name, args = m.group(1).lower(), _ARGS.split(m.group(2))
        try:
            if name == "wildcard":
                if len(args) != 1:
                    raise bad
                return "wc", [int(args[0].strip())]
            if name == "partition":
                return "part", (int(args[0].strip()), [int(a.strip()) for a in args[1:]])
        except ValueError:
            raise bad from None
        if name in ("splitfromleft", "splitfromright", "slicefromleft", "slicefromright",
                    "split", "left", "right", "random"):
            raise UnsupportedMapping(f"subject mapping function {name}() in '{token}' is not "
                             "simulated; use $n or {{wildcard(n)}} or {{partition(n,...)}}")
        return "lit", None

    def match(self, subject: str) -> str | None:
        """The transformed subject, or None when ``subject`` does not match ``src``."""
        if not subject_matches(self.src, subject):
            return None
        tokens = subject.split(".")
        out = []
        for step in self._plan:
            if step[0] == "lit":
                if step[1] == ">":
                    out.extend(tokens[len(self._stoks) - 1:])
                    break
                out.append(step[1])
            elif step[0] == "wc":
                out.append(tokens[step[1]] if step[1] < len(tokens) else "")
            else:
                n, index = step[1], step[2]
                key = "".join(tokens[i] for i in index) if index else subject
                out.append(str(fnv32a(key.encode()) % n) if n else "0")
        return ".".join(out)

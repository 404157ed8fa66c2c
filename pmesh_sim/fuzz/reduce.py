"""Make a failing scenario document smaller, piece by piece, while it still fails the same way.

Hypothesis shrinks the choices that drew a document; with a real server in the loop each try
costs a run of the scenario, so its shrinking is given a time budget, and this structural
pass finishes the job: it drops steps, streams, consumers, subscriptions, config keys and
headers one at a time, keeping each change after which ``still_fails(document)`` holds.
Candidates the loader refuses are skipped without running anything.

>>> doc = {"name": "x", "streams": [{"name": "S", "max_msgs": 1, "discard": "new"}],
...        "steps": [{"op": "wait"}, {"op": "stream_info", "stream": "S"}]}
>>> reduce_document(doc, lambda d: any(s.get("max_msgs") == 1 for s in d.get("streams", [])))
{'name': 'x', 'streams': [{'name': 'S', 'max_msgs': 1}]}
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterator

from ..errors import ScenarioError
from ..scenario import Scenario

__all__ = ["reduce_document", "candidates"]

#: Keys a piece cannot lose (the loader requires them, or they name the piece).
_KEEP = {"name", "op", "stream", "durable_name", "subject", "consumer", "at"}


def _without(items: list, i: int) -> list:
    return items[:i] + items[i + 1:]


def candidates(doc: dict) -> Iterator[dict]:
    """Every document one piece smaller than ``doc``: the biggest pieces first."""
    for section in ("steps", "subscriptions", "consumers", "streams"):
        items = doc.get(section, [])
        for i in reversed(range(len(items))):
            smaller = {**doc, section: _without(items, i)}
            if not smaller[section]:
                del smaller[section]
            yield smaller
    for section in ("streams", "consumers", "subscriptions", "steps"):
        for i, item in enumerate(doc.get(section, [])):
            for key in [k for k in item if k not in _KEEP]:
                smaller = copy.deepcopy(doc)
                del smaller[section][i][key]
                yield smaller
            for key in ("headers", "then", "backoff", "filter_subjects", "subjects"):
                value = item.get(key)
                if isinstance(value, (dict, list)) and len(value) > 1:
                    for part in list(value)[::-1]:
                        smaller = copy.deepcopy(doc)
                        held = smaller[section][i][key]
                        if isinstance(held, dict):
                            del held[part]
                        else:
                            held.remove(part)
                        yield smaller


def _loads(doc: dict) -> bool:
    try:
        Scenario.from_dict(doc)
    except ScenarioError:
        return False
    return True


def reduce_document(doc: dict, still_fails: Callable[[dict], bool], *,
                    budget: float = 300.0) -> dict:
    """The smallest document reached from ``doc`` by dropping pieces while ``still_fails``
    holds; stops after ``budget`` wall seconds with the smallest found so far."""
    deadline = time.monotonic() + budget
    current = doc
    for _ in range(3):  # passes: a removal can make another one possible
        changed, position = False, 0
        while time.monotonic() < deadline:
            # the candidates before ``position`` failed to fail on a bigger document already
            rest = list(candidates(current))[position:]
            for offset, smaller in enumerate(rest):
                if time.monotonic() >= deadline:
                    break
                if _loads(smaller) and still_fails(smaller):
                    current, changed, position = smaller, True, position + offset
                    break
            else:
                break
        if not changed:
            break
    return current

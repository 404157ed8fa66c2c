"""Compare two result documents (simulation against a real server): what ``validate`` prints.

Everything observable is compared except what may rightly differ between two correct runs:
timestamps (results hold none), ``bytes`` (encoding overhead differs), which member of a queue
group got a message (compared as: the group as a whole got each message exactly once),
request inbox names (results hold none), and in a raw API answer the clock durations and RAFT
group names (see :func:`comparable_answer`). A step the real backend cannot perform (a sim-only
fault, ``{"outcome": "unsupported"}``) is not compared.

>>> sim = {"scenario": "s", "servers": 1, "steps": [{"index": 0, "op": "js_publish",
...        "result": {"stream": "S", "seq": 1, "duplicate": False}}]}
>>> real = {"scenario": "s", "servers": 1, "steps": [{"index": 0, "op": "js_publish",
...        "result": {"stream": "S", "seq": 2, "duplicate": False}}]}
>>> compare_results(sim, real)
[Difference(scenario='s', step='0', field='js_publish.seq', sim=1, real=2)]
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from typing import Any, NamedTuple

__all__ = ["Difference", "compare_results", "format_differences", "IGNORED_KEYS",
           "comparable_answer"]

#: Keys never compared, wherever they appear.
IGNORED_KEYS = frozenset({"bytes", "trace", "backend", "time", "timestamp", "first_ts",
                          "last_ts", "last_active", "created", "seed",
                          # dates and durations of the clock: a response's own time, a
                          # pause's end and what is left of it, a start date (each backend
                          # resolves a relative one on its own calendar)
                          "ts", "pause_until", "pause_remaining", "opt_start_time",
                          # when a RAFT group's leader took over
                          "leader_since",
                          # a stored message's date in a direct get's headers; the random
                          # reply subject of a push consumer's open flow-control request
                          "Nats-Time-Stamp", "Nats-Consumer-Stalled"})


class Difference(NamedTuple):
    """One observable that differs: where (scenario, step, field) and both values."""

    scenario: str
    step: str
    field: str
    sim: Any
    real: Any


_MISSING = "<missing>"


def _diff(a: Any, b: Any, path: str, out: list[tuple[str, Any, Any]]) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b), key=str):
            if key in IGNORED_KEYS:
                continue
            sub = f"{path}.{key}" if path else str(key)
            _diff(a.get(key, _MISSING), b.get(key, _MISSING), sub, out)
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            _diff(x, y, f"{path}[{i}]", out)
    elif isinstance(a, str) and isinstance(b, str) and a != b \
            and isinstance(ja := _json_object(a), dict) and isinstance(jb := _json_object(b), dict):
        # an API answer as text: compared as JSON, dates left out, clock and random parts
        # reduced to what two correct runs share
        _diff(comparable_answer(ja), comparable_answer(jb), path, out)
    elif a != b or type(a) is not type(b) and not (_num(a) and _num(b)):
        out.append((path, a, b))


def comparable_answer(value: Any) -> Any:
    """An API answer (parsed JSON) as two correct runs agree on it: an ``active`` duration
    (since a replica or an origin was last heard from: wall-clock time) as whether it was
    heard from at all, a RAFT group's random name as its kind (``S-R3F-*``: stream, three
    replicas, file). Keys of :data:`IGNORED_KEYS` stay; :func:`compare_results` skips them.

    >>> comparable_answer({"cluster": {"raft_group": "S-R3F-k2Jd8sQa", "replicas": [
    ...     {"name": "n2", "active": 74519953}]}, "mirror": {"active": -1}})
    ... # doctest: +NORMALIZE_WHITESPACE
    {'cluster': {'raft_group': 'S-R3F-*', 'replicas': [{'name': 'n2', 'active': True}]},
     'mirror': {'active': False}}
    """
    if isinstance(value, list):
        return [comparable_answer(v) for v in value]
    if not isinstance(value, dict):
        return value
    out = {k: comparable_answer(v) for k, v in value.items()}
    if _num(out.get("active")):
        out["active"] = out["active"] >= 0
    if isinstance(out.get("raft_group"), str) and out["raft_group"].count("-") >= 2:
        out["raft_group"] = out["raft_group"].rsplit("-", 1)[0] + "-*"
    return out


def _json_object(text: str) -> Any:
    """``text`` parsed when it is a JSON object, else None.

    >>> _json_object('{"a": 1}'), _json_object("pong")
    ({'a': 1}, None)
    """
    if not text.startswith("{"):
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def _num(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _received(doc: dict) -> dict[str, Any]:
    """Subscription messages; queue-group members merged into one sorted multiset per queue."""
    queues = doc.get("queues", {})
    plain: dict[str, Any] = {}
    groups: dict[str, Counter] = defaultdict(Counter)
    for name, msgs in doc.get("subscriptions", {}).items():
        msgs = [_without_inbox_name(m) for m in msgs]
        if name in queues:
            groups[queues[name]].update(json.dumps(m, sort_keys=True) for m in msgs)
        else:
            plain[name] = msgs
    for queue, counter in groups.items():
        plain[f"queue group {queue}"] = sorted(counter.elements())
    return plain


def _without_inbox_name(msg: dict) -> dict:
    """A received message with a request inbox's random name masked (``_INBOX.*``).

    >>> _without_inbox_name({"subject": "_INBOX.k3J.x9", "data": ""})
    {'subject': '_INBOX.*', 'data': ''}
    """
    if msg.get("subject", "").startswith("_INBOX."):
        return {**msg, "subject": "_INBOX.*"}
    return msg


def compare_results(sim: dict, real: dict) -> list[Difference]:
    """Every observable in which ``sim`` and ``real`` differ, in document order."""
    name = sim.get("scenario") or real.get("scenario") or "?"
    diffs: list[Difference] = []

    def add(step: str, found: list[tuple[str, Any, Any]]):
        diffs.extend(Difference(name, step, f, s, r) for f, s, r in found)

    found: list = []
    for key in ("scenario", "servers"):
        _diff(sim.get(key, _MISSING), real.get(key, _MISSING), key, found)
    add("-", found)

    found = []
    _diff(sim.get("setup", []), real.get("setup", []), "setup", found)
    add("setup", found)

    sim_steps = {s["index"]: s for s in sim.get("steps", [])}
    real_steps = {s["index"]: s for s in real.get("steps", [])}
    for index in sorted(set(sim_steps) | set(real_steps)):
        a, b = sim_steps.get(index), real_steps.get(index)
        if a is None or b is None:
            add(str(index), [("step", a or _MISSING, b or _MISSING)])
            continue
        if b.get("result") == {"outcome": "unsupported"}:
            continue
        found = []
        _diff(a.get("op"), b.get("op"), "op", found)
        _diff(a.get("result"), b.get("result"), a.get("op", "result"), found)
        add(str(index), found)

    found = []
    _diff(_received(sim), _received(real), "subscriptions", found)
    add("-", found)
    found = []
    _diff(sim.get("final", {}), real.get("final", {}), "final", found)
    add("final", found)
    return diffs


def _cell(value: Any, width: int) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return text if len(text) <= width else text[: width - 1] + "…"


def format_differences(diffs: list[Difference], *, scenario: str | None = None,
                       width: int = 36) -> str:
    """A side-by-side table: scenario, step, field, sim value, real value.

    >>> print(format_differences([Difference("s", "0", "js_publish.seq", 1, 2)]))
    scenario  step  field           sim  real
    s         0     js_publish.seq  1    2
    """
    rows = [("scenario", "step", "field", "sim", "real")]
    rows += [(_cell(d.scenario, width), d.step, _cell(d.field, 48), _cell(d.sim, width),
              _cell(d.real, width)) for d in diffs]
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)

"""Grid keys: a dotted path to one field of a scenario, and the scenarios a grid makes.

A key names what it changes the way a scenario file is laid out, lists addressed by name:

=============================  ==========================================================
``network.FIELD``              ``network.loss``, ``network.latency``
``streams.NAME.FIELD``         a StreamConfig field of the stream ``NAME`` (``streams.ORDERS.max_msgs``)
``consumers.NAME.FIELD``       a ConsumerConfig field of the consumer ``NAME`` (its
                               ``durable_name`` or ``name``: ``consumers.worker.ack_wait``)
``subscriptions.NAME.FIELD``   a key of the subscription ``NAME`` (``subscriptions.s.max_msgs``)
``steps.INDEX.KEY``            a key of step ``INDEX`` (from 0: ``steps.3.at``, ``steps.5.batch``)
``servers``                    the number of servers
``sync_interval``              the file store's sync interval (seconds or ``always``; sim only)
=============================  ==========================================================

A field may be one the file leaves out (it is added). Names and the run's seed are not
parameters (the sweep's ``seeds`` give the seed). Every value is checked as a scenario file's
would be, so a wrong type fails before anything runs, naming the key.

>>> from pmesh_sim.scenario import Scenario
>>> base = Scenario.from_dict({"name": "g", "streams": [{"name": "S", "subjects": ["s.>"]}],
...                            "consumers": [{"stream": "S", "durable_name": "w"}]})
>>> with_params(base, {"consumers.w.ack_wait": 0.5, "network.loss": 0.1}).consumers[0]["ack_wait"]
0.5
>>> with_params(base, {"streams.X.max_msgs": 5})
Traceback (most recent call last):
...
pmesh_sim.errors.ScenarioError: grid key 'streams.X.max_msgs': the scenario has no stream 'X' (streams: S)
"""

from __future__ import annotations

import itertools
from typing import Any

from .. import scenario as sc
from ..errors import ScenarioError

__all__ = ["with_params", "expand", "scenario_dict", "KEY_FORMS"]

KEY_FORMS = ("network.FIELD", "streams.NAME.FIELD", "consumers.NAME.FIELD",
             "subscriptions.NAME.FIELD", "steps.INDEX.KEY", "servers",
             "sync_interval")
_LISTS = {"streams": ("stream", ("name",), sc.STREAM_FIELDS),
          "consumers": ("consumer", ("durable_name", "name"), sc.CONSUMER_FIELDS),
          "subscriptions": ("subscription", ("name",), None)}
_FIXED = {"name", "durable_name", "stream"}    # steps and other items refer to them


def scenario_dict(scenario: sc.Scenario) -> dict:
    """``scenario`` back as the data of a file (what :meth:`Scenario.from_dict` reads)."""
    steps = []
    for step in scenario.steps:
        item = {"op": step.op, "at": step.at, **step.args}
        if step.description:
            item["description"] = step.description
        steps.append(item)
    return {"name": scenario.name, "description": scenario.description, "seed": scenario.seed,
            "servers": scenario.servers, "network": dict(scenario.network),
            **({"sync_interval": scenario.sync_interval}
               if scenario.sync_interval is not None else {}),
            "streams": [dict(s) for s in scenario.streams],
            "consumers": [dict(c) for c in scenario.consumers],
            "subscriptions": [dict(s) for s in scenario.subscriptions], "steps": steps}


def _fail(key: str, problem: str):
    raise ScenarioError(f"grid key {key!r}: {problem}")


def _target(data: dict, key: str) -> tuple[dict, str]:
    """The map that holds the field ``key`` names, and the field's name."""
    parts = key.split(".") if isinstance(key, str) else []
    head = parts[0] if parts else ""
    if parts in (["servers"], ["sync_interval"]):
        return data, parts[0]
    if head == "network" and len(parts) == 2:
        return data.setdefault("network", {}), parts[1]
    if head == "steps" and len(parts) == 3:
        if not parts[1].isdigit() or int(parts[1]) >= len(data["steps"]):
            _fail(key, f"no step {parts[1]!r} (steps are 0 to {len(data['steps']) - 1})")
        return data["steps"][int(parts[1])], parts[2]
    if head in _LISTS and len(parts) == 3:
        what, name_keys, fields = _LISTS[head]
        found = [item for item in data[head] if parts[1] in (item.get(k) for k in name_keys)]
        if not found:
            names = ", ".join(str(next((i[k] for k in name_keys if i.get(k)), "?"))
                              for i in data[head]) or "none"
            _fail(key, f"the scenario has no {what} {parts[1]!r} ({head}: {names})")
        if len(found) > 1:
            _fail(key, f"{len(found)} {head} are named {parts[1]!r}")
        if parts[2] in _FIXED:
            _fail(key, f"{parts[2]!r} names the {what}; it cannot be swept")
        if fields is not None and parts[2] not in fields:
            _fail(key, f"{parts[2]!r} is not a {what} field")
        return found[0], parts[2]
    if head in ("seed", "name"):
        _fail(key, f"{head!r} is not a parameter" + (" (give the sweep's seeds instead)"
                                                     if head == "seed" else ""))
    _fail(key, f"not a scenario field; a key is one of {', '.join(KEY_FORMS)}")


def with_params(scenario: sc.Scenario, params: dict[str, Any]) -> sc.Scenario:
    """``scenario`` with each field ``params`` names (a dotted key) set, checked again."""
    data = scenario_dict(scenario)
    for key, value in params.items():
        target, name = _target(data, key)
        target[name] = value
    try:
        return sc.Scenario.from_dict(data, source=scenario.source)
    except ScenarioError as err:
        shown = ", ".join(f"{k} = {v!r}" for k, v in params.items())
        raise ScenarioError(f"grid {shown}: {err}") from None


def expand(scenario: sc.Scenario, grid: dict[str, Any]) -> list[tuple[dict, sc.Scenario]]:
    """Every point of ``grid`` (key -> values; the product, in key order) with its scenario.

    Each key and value is checked alone first, so an error names the one at fault."""
    if not isinstance(grid, dict) or not grid:
        raise ScenarioError("the grid is empty: give at least one parameter and its values, "
                            "e.g. {'network.loss': [0.0, 0.1]}")
    values = {}
    for key, options in grid.items():
        options = list(options) if isinstance(options, (list, tuple, range)) else [options]
        if not options:
            _fail(key, "no values")
        for value in options:
            with_params(scenario, {key: value})
        values[key] = options
    return [(dict(zip(values, point)), with_params(scenario, dict(zip(values, point))))
            for point in itertools.product(*values.values())]

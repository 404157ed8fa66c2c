"""Raw API answers list their fields in the order nats-server marshals them (its Go structs'
order, a map's keys sorted): the simulation's JSON keeps that order, so a user who prints an
answer sees the same text layout. validate compares values; this compares the order, on the
raw-api scenarios run on the simulation and on a real nats-server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pmesh_sim.runners import run_scenario
from pmesh_sim.scenario import load_scenario

ROOT = Path(__file__).resolve().parent.parent
FILES = sorted((ROOT / "scenarios" / "conformance").glob("raw-api-*.yaml"))


def key_order(value, path: str = "") -> list[tuple[str, list[str]]]:
    """Every object's keys in order, by path.

    >>> key_order({"b": 1, "a": {"d": 2, "c": 3}})
    [('', ['b', 'a']), ('.a', ['d', 'c'])]
    """
    out = []
    if isinstance(value, dict):
        out.append((path, list(value)))
        for key, sub in value.items():
            out += key_order(sub, f"{path}.{key}")
    elif isinstance(value, list):
        for i, sub in enumerate(value):
            out += key_order(sub, f"{path}[{i}]")
    return out


def test_there_are_raw_api_scenarios():
    assert len(FILES) >= 4


@pytest.mark.timeout(120)
@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_answers_keep_the_servers_field_order(path):
    scenario = load_scenario(path)
    sim = run_scenario(scenario, backend="sim")
    real = run_scenario(scenario, backend="real")
    compared = 0
    for a, b in zip(sim["steps"], real["steps"]):
        data_a, data_b = a["result"].get("data", ""), b["result"].get("data", "")
        if data_a.startswith("{") and data_b.startswith("{"):
            compared += 1
            assert key_order(json.loads(data_a)) == key_order(json.loads(data_b)), (
                f"{path.name} step {a['index']}")
    assert compared >= 10

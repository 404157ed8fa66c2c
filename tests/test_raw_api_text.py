"""Raw API answers are the text nats-server sends: its Go structs' field order, a map's keys
sorted, Go's escapes (``\u003e`` for ``>``), byte for byte but for the dates and durations of
the wall clock. validate compares values; this compares the text, on the raw-api scenarios
run on the simulation and on a real nats-server."""

from __future__ import annotations

import json
import re
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


def masked(text: str) -> str:
    """An answer's text with its dates and wall-clock durations masked.

    >>> masked('{"created":"2026-12-01T06:39:11.3Z","pause_remaining":59999,"seq":2}')
    '{"created":"<date>","pause_remaining":<ns>,"seq":2}'
    """
    text = re.sub(r'"\d{4}-\d\d-\d\dT[^"]*"', '"<date>"', text)
    return re.sub(r'"(pause_remaining|active)":\d+', r'"\1":<ns>', text)


def test_there_are_raw_api_scenarios():
    assert len(FILES) >= 4


@pytest.mark.timeout(120)
@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_answers_are_the_servers_text(path):
    scenario = load_scenario(path)
    sim = run_scenario(scenario, backend="sim")
    real = run_scenario(scenario, backend="real")
    compared = 0
    for a, b in zip(sim["steps"], real["steps"]):
        data_a, data_b = a["result"].get("data", ""), b["result"].get("data", "")
        if data_a.startswith("{") and data_b.startswith("{"):
            compared += 1
            where = f"{path.name} step {a['index']}"
            assert key_order(json.loads(data_a)) == key_order(json.loads(data_b)), where
            assert masked(data_a) == masked(data_b), where
    assert compared >= 10

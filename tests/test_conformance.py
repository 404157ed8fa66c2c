"""The conformance suite: every scenario in scenarios/conformance/ gives the same observable
result on the simulation and on a real nats-server.

Each scenario pins one behaviour of the real server; a difference here is a fact about the
simulation (the real server is right), shown field by field in the failure message.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
CONFORMANCE = ROOT / "scenarios" / "conformance"
FILES = sorted(CONFORMANCE.glob("*.yaml"))



def _raw(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def test_the_suite_has_at_least_40_scenarios():
    assert len(FILES) >= 40, [f.name for f in FILES]


def test_the_scenarios_readme_lists_every_file_and_no_other():
    listed = set(re.findall(r"\]\(((?:conformance|cluster)/[^)]+\.yaml)\)",
                            (ROOT / "scenarios" / "README.md").read_text()))
    files = {f"{p.parent.name}/{p.name}" for folder in ("conformance", "cluster")
             for p in (ROOT / "scenarios" / folder).glob("*.yaml")}
    assert (sorted(files - listed), sorted(listed - files)) == ([], [])


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_each_scenario_is_named_after_its_file_and_describes_itself(path):
    raw = _raw(path)
    assert raw["name"] == path.stem
    description = raw.get("description", "")
    assert isinstance(description, str) and len(description.split()) >= 12, (
        f"{path.name}: the description should tell a student what to look at")


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_each_scenario_loads(path):
    from pmesh_sim.scenario import load_scenario

    scenario = load_scenario(path)
    assert scenario.name == path.stem
    assert scenario.steps, f"{path.name} has no steps"


def _show(differences) -> str:
    lines = []
    for diff in differences:
        if isinstance(diff, dict):
            lines.append("  " + ", ".join(f"{k}={v!r}" for k, v in diff.items()))
        else:
            lines.append(f"  {diff!r}")
    return "\n".join(lines)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_simulation_agrees_with_the_real_server(path):
    from pmesh_sim.checks import compare_results
    from pmesh_sim.runners import run_scenario
    from pmesh_sim.scenario import load_scenario

    scenario = load_scenario(path)
    sim = run_scenario(scenario, backend="sim")
    real = run_scenario(scenario, backend="real")
    assert [s["index"] for s in sim["steps"]] == [s["index"] for s in real["steps"]]
    differences = list(compare_results(sim, real))
    if differences:
        # The simulation is deterministic; the real server applies acks on its own goroutines,
        # so a step that reads state right after a plain ack can, rarely, race it. A disagreement
        # of the simulation's making repeats on a second real run; a race does not. The first
        # run's differences stay visible as a warning either way.
        warnings.warn(f"{path.name}: the first real run differed, running it again:\n"
                      + _show(differences))
        real = run_scenario(scenario, backend="real")
        differences = list(compare_results(sim, real))
    assert not differences, (
        f"{path.name}: {len(differences)} observable(s) differ (sim vs real nats-server), "
        "twice in a row:\n" + _show(differences))

"""Test-suite policy shared by the modules.

A real cluster's timing varies with the machine's load (elections, setup creates, a node's
restart); the simulation is deterministic. So a test that runs a cluster scenario file on a
real cluster (``test_scenario_*`` in test_real_faults.py, the scenario table of
test_cluster_conformance.py) runs once more when it fails, and fails only if it fails again
(pytest-rerunfailures; a rerun shows as ``R`` and is counted in the summary). A disagreement
of the simulation's making fails both times.
"""

import pytest

_REAL_CLUSTER_SCENARIOS = (
    "test_real_faults.py::test_scenario_",
    "test_cluster_conformance.py::test_cluster_scenario_on_a_real_cluster",
)


def pytest_collection_modifyitems(items):
    for item in items:
        if any(key in item.nodeid for key in _REAL_CLUSTER_SCENARIOS):
            item.add_marker(pytest.mark.flaky(reruns=1))

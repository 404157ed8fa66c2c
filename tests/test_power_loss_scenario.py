"""The power_loss scenario op and the sim-only sync_interval key (Jepsen's NATS 2.12.1
lazy-fsync finding)."""

import pytest

from pmesh_sim import sweep
from pmesh_sim.errors import ScenarioError
from pmesh_sim.real.runner import run_real
from pmesh_sim.scenario import Scenario, load_scenario
from pmesh_sim.sim.runner import run_sim

LAZY = "pmesh_sim/examples/lazy-fsync.yaml"


def _lazy(sync_interval, start=24.5):
    doc = load_scenario(LAZY)
    from pmesh_sim.experiments.grid import with_params
    return with_params(doc, {"sync_interval": sync_interval, "steps.0.at": start})


def test_power_loss_of_all_nodes_loses_acked_writes_with_lazy_fsync():
    doc, _ = run_sim(_lazy(5), seed=1)
    results = [s["result"] for s in doc["steps"]]
    assert results[0]["acked"] == 100
    assert [r["outcome"] for r in results[1:7]] == ["power_lost"] * 3 + ["restarted"] * 3
    assert results[7]["messages"] < 100          # acknowledged, then gone


def test_sync_always_keeps_every_acked_write():
    doc, _ = run_sim(_lazy("always"), seed=1)
    assert doc["steps"][7]["result"]["messages"] == 100
    assert len(doc["steps"][9]["result"]["messages"]) == 100


def test_default_interval_loses_the_stream_itself():
    doc, _ = run_sim(_lazy(120), seed=1)
    assert doc["steps"][7]["result"]["error"]["err_code"] == 10059   # stream not found


def test_power_loss_is_a_kill_for_the_file_check():
    base = {"name": "p", "servers": 3, "steps": [{"op": "power_loss", "server": "n2"}]}
    Scenario.from_dict({**base, "steps": base["steps"] + [{"op": "restart", "server": "n2"}]})
    with pytest.raises(ScenarioError, match="cannot power_loss n2: it is killed"):
        Scenario.from_dict({**base, "steps": base["steps"] * 2})


@pytest.mark.parametrize("value", [0, -1, "sometimes", True, float("inf")])
def test_bad_sync_interval_is_a_file_error(value):
    with pytest.raises(ScenarioError, match="sync_interval"):
        Scenario.from_dict({"name": "s", "sync_interval": value})


def test_sync_interval_needs_replicated_jetstream():
    scenario = Scenario.from_dict({"name": "s", "sync_interval": 1, "steps": [
        {"op": "publish", "subject": "a"}]})
    with pytest.raises(ScenarioError, match="replicated JetStream only"):
        run_sim(scenario)


def test_power_loss_without_replicated_jetstream_is_unsupported():
    scenario = Scenario.from_dict({"name": "c", "servers": 3, "steps": [
        {"op": "power_loss", "server": "n2"}, {"op": "restart", "server": "n2"}]})
    doc, _ = run_sim(scenario)
    assert doc["steps"][0]["result"]["outcome"] == "unsupported"


def test_real_backend_refuses_sync_interval_before_starting():
    with pytest.raises(ScenarioError, match="not supported on the real backend"):
        run_real(load_scenario(LAZY))


def test_sweep_over_sync_interval():
    df = sweep(LAZY, grid={"sync_interval": ["always", 5]}, seeds=[1], workers=1)
    assert df["ORDERS.messages"].tolist()[0] == 100
    assert df["ORDERS.messages"].tolist()[1] < 100


def test_power_loss_of_a_quorum_can_lose_acked_writes():
    from pmesh_sim.experiments.grid import scenario_dict
    data = scenario_dict(load_scenario(LAZY))
    data["steps"] = [s for s in data["steps"] if s.get("server") != "n3"]   # n3 keeps power
    kept = {}
    for sync in ("always", 5):
        data["sync_interval"] = sync
        kept[sync] = [[s["result"] for s in run_sim(Scenario.from_dict(data), seed=seed)[0]
                       ["steps"] if s["op"] == "stream_info"][0]["messages"]
                      for seed in range(3)]
    assert kept["always"] == [100, 100, 100]
    assert min(kept[5]) < 100

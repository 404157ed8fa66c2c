"""The workers and chaos steps: crashing workers on a pull consumer, faults on a schedule."""

import pytest

from pmesh_sim import check_delivery, run_scenario, sweep
from pmesh_sim.errors import ScenarioError
from pmesh_sim.experiments.chaos import schedule
from pmesh_sim.experiments.workers import fate
from pmesh_sim.report import describe
from pmesh_sim.scenario import Scenario
from pmesh_sim.trace import Trace

WORKERS = {"op": "workers", "consumer": "worker", "count": 3, "duration": 8,
           "process": {"min": 0.01, "max": 0.2}, "restart": 0.5}


def single(seed: int = 3, info_at: float = 8.5, **workers) -> Scenario:
    """One server: three workers drain a 40-message workload (ack_wait 1 s)."""
    return Scenario.from_dict({
        "name": "workers", "seed": seed, "streams": [{"name": "JOBS", "subjects": ["jobs.>"]}],
        "consumers": [{"stream": "JOBS", "durable_name": "worker", "ack_wait": 1.0,
                       "max_deliver": 10}],
        "steps": [{**WORKERS, **workers},
                  {"op": "workload", "subject": "jobs.{i}", "count": 40, "rate": 20},
                  {"at": info_at, "op": "consumer_info", "consumer": "worker"}]})


def run(scenario, backend="sim"):
    traces: list[Trace] = []
    doc = run_scenario(scenario, backend, trace_out=traces)
    return doc, traces[0], check_delivery(traces[0])


def kinds(trace, kind):
    return [e.fields for e in trace if e.kind == kind]


def test_a_fate_belongs_to_the_delivery_not_the_worker():
    args = {"process": {"mean": 0.1}, "crash_before_ack": 0.3, "crash_after_ack": 0.3}
    fates = [fate(args, 1, 0, seq, 1) for seq in range(1, 200)]
    assert fates == [fate(args, 1, 0, seq, 1) for seq in range(1, 200)]
    assert fates != [fate(args, 2, 0, seq, 1) for seq in range(1, 200)]
    assert fates != [fate(args, 1, 1, seq, 1) for seq in range(1, 200)]
    crashes = [f.crash for f in fates]
    assert 30 < crashes.count("before_ack") < 90 and 20 < crashes.count("after_ack") < 70


def test_crashes_before_the_ack_are_redelivered_and_processed_twice():
    doc, trace, check = run(single(crash_before_ack=0.1, crash_after_ack=0.05))
    result = doc["steps"][0]["result"]
    crashes = kinds(trace, "worker_crash")
    before = [c for c in crashes if c["point"] == "before_ack"]
    assert result["crashed_before_ack"] == len(before) > 0
    assert len(kinds(trace, "worker_restart")) == len(crashes)
    # each crash before the ack: one redelivery, one processing more
    assert result["processed"] == 40 + len(before) == len(kinds(trace, "process"))
    assert check.counts()["redelivered"] == len(before)
    twice = {c["msg_id"] for c in before}
    assert set(check.consumers["JOBS/worker"].processed_twice) == twice
    assert check.valid and check.counts()["unprocessed"] == 0
    assert doc["steps"][2]["result"]["num_ack_pending"] == 0     # drained


def test_acking_first_turns_crashes_after_the_ack_into_lost_processings():
    doc, trace, check = run(single(crash_before_ack=0.1, crash_after_ack=0.05, ack="first"))
    after = [c["msg_id"] for c in kinds(trace, "worker_crash") if c["point"] == "after_ack"]
    assert after and check.consumers["JOBS/worker"].unprocessed == sorted(after)
    assert check.counts()["processed_twice"] == 0
    assert doc["steps"][0]["result"]["processed"] == 40 - len(after)
    assert "unprocessed" in str(check)


def test_processing_slower_than_ack_wait_is_processed_twice_without_a_crash():
    _, trace, check = run(single(count=2, process=1.5, duration=20))
    assert not kinds(trace, "worker_crash")
    assert check.counts()["processed_twice"] > 0 and check.counts()["redelivered"] > 0


def test_the_same_seed_gives_the_same_trace():
    scenario = single(crash_before_ack=0.2, process={"mean": 0.05})
    (doc1, t1, _), (doc2, t2, _) = run(scenario), run(scenario)
    assert doc1 == doc2 and list(t1) == list(t2)
    doc3, _, _ = run(single(seed=4, crash_before_ack=0.2, process={"mean": 0.05}))
    assert doc3["steps"][0]["result"] != doc1["steps"][0]["result"]


CLUSTER = {"name": "chaos", "servers": 3,
           "streams": [{"name": "JOBS", "subjects": ["jobs.>"], "num_replicas": 3}],
           "steps": [{"op": "chaos", "every": 4, "duration": 20, "down": {"min": 1, "max": 3}},
                     {"op": "workload", "subject": "jobs.{i}", "count": 150, "rate": 10,
                      "timeout": 2},
                     {"at": 22, "op": "add_consumer", "stream": "JOBS",
                      "durable_name": "worker", "ack_wait": 1.0},
                     {**WORKERS, "duration": 6, "process": 0.01, "crash_before_ack": 0.05}]}


def test_a_chaos_step_performs_its_schedule_on_the_simulated_cluster():
    scenario = Scenario.from_dict(CLUSTER)
    doc, trace, check = run(scenario)
    faults = doc["steps"][0]["result"]["faults"]
    planned = schedule(CLUSTER["steps"][0], 0, 0, 3)
    assert [(f["at"], f["op"]) for f in faults] == [(at, op) for at, op, _ in planned]
    assert {f["outcome"] for f in faults} <= {"killed", "restarted", "partitioned", "healed"}
    performed = [e.kind for e in trace if e.kind in ("kill", "restart", "partition", "heal")]
    assert performed == [op for _, op, _ in planned]
    assert check.valid and doc["steps"][3]["result"]["processed"] >= 140
    assert run(scenario)[0] == doc                                       # deterministic
    text = describe(doc, scenario.steps)
    assert f"chaos: {len(faults)} fault op(s): {faults[0]['op']}" in text
    assert "workers worker: fetched " in text


def test_workers_go_on_through_faults_on_the_other_nodes():
    # what works now on a simulated cluster: an R1 stream on n1, faults on n2 and n3
    data = {"name": "r1", "servers": 3, "seed": 1,
            "streams": [{"name": "JOBS", "subjects": ["jobs.>"], "num_replicas": 1,
                         "placement": {"tags": ["node:n1"]}}],
            "consumers": [{"stream": "JOBS", "durable_name": "worker", "ack_wait": 1.0}],
            "steps": [{"op": "chaos", "every": 3, "duration": 20, "nodes": ["n2", "n3"],
                       "down": {"min": 1, "max": 3}},
                      {**WORKERS, "duration": 24, "process": {"min": 0.01, "max": 0.1},
                       "crash_before_ack": 0.05},
                      {"op": "workload", "subject": "jobs.{i}", "count": 200, "rate": 10}]}
    doc, trace, check = run(Scenario.from_dict(data))
    faults = doc["steps"][0]["result"]["faults"]
    assert len(faults) >= 6 and all(f["outcome"] != "unsupported" for f in faults)
    crashes = doc["steps"][1]["result"]["crashed_before_ack"]
    assert check.valid and check.counts()["acknowledged"] == 200
    assert check.counts()["redelivered"] == crashes > 0
    assert doc["steps"][1]["result"]["acked"] == 200


def test_a_chaos_step_cuts_power_on_replicated_jetstream():
    data = {**CLUSTER, "sync_interval": 120, "steps": [
        {"op": "chaos", "every": 3, "duration": 10, "down": 1, "faults": ["power_loss"]}]}
    faults = run(Scenario.from_dict(data))[0]["steps"][0]["result"]["faults"]
    assert [f["outcome"] for f in faults] == ["power_lost", "restarted"] * 2   # at 3 s, 7 s


def test_a_refused_fault_skips_its_end():
    # a power loss is simulated on nodes of a replicated JetStream cluster only
    data = {"name": "core", "servers": 3,
            "steps": [{"op": "chaos", "every": 1, "duration": 12, "down": 0.5,
                       "faults": ["kill", "power_loss"]}]}
    faults = run(Scenario.from_dict(data))[0]["steps"][0]["result"]["faults"]
    refused = [i for i, f in enumerate(faults) if f["outcome"] == "unsupported"]
    assert refused and all(faults[i + 1]["outcome"] == "skipped" for i in refused)
    assert {f["outcome"] for f in faults} == {"killed", "restarted", "unsupported", "skipped"}


def test_a_sweep_over_the_fault_interval():
    df = sweep(Scenario.from_dict(CLUSTER), {"steps.0.every": [3, 8]}, seeds=range(2),
               workers=1)
    assert len(df) == 4 and df["valid"].all()
    assert (df.groupby("steps.0.every")["events"].mean().diff().dropna() != 0).all()


def test_workers_and_chaos_on_the_real_backend():
    scenario = single(crash_before_ack=0.2, duration=6, info_at=6.5, process=0.02)
    doc, trace, check = run(scenario, "real")
    sim, _, sim_check = run(scenario)
    assert doc["steps"][0]["result"]["acked"] == 40                       # drained
    assert doc["steps"][0]["result"] == sim["steps"][0]["result"]
    assert check.counts() == sim_check.counts() and check.counts()["processed_twice"] > 0
    chaos = Scenario.from_dict({"name": "c", "servers": 3, "steps": [
        {"op": "chaos", "every": 1, "duration": 3.5, "down": 0.5,
         "faults": ["kill", "partition"]}]})
    real = run_scenario(chaos, "real")["steps"][0]["result"]
    assert real == run_scenario(chaos)["steps"][0]["result"]
    assert {f["outcome"] for f in real["faults"]} >= {"killed", "restarted"} or \
        {f["outcome"] for f in real["faults"]} >= {"partitioned", "healed"}


@pytest.mark.parametrize("step, servers, words", [
    ({"op": "chaos", "every": 5, "duration": 10}, 1,
     "step 0 (chaos): key 'op': a fault schedule needs a cluster"),
    ({"op": "chaos", "every": -1, "duration": 10}, 3, "key 'every': must be more than 0"),
    ({"op": "chaos", "every": 5, "duration": 0}, 3, "key 'duration': must be more than 0"),
    ({"op": "chaos", "every": 5, "duration": 9, "nodes": ["n4"]}, 3,
     "key 'nodes': unknown server 'n4'"),
    ({"op": "chaos", "every": 5, "duration": 9, "faults": ["meteor"]}, 3,
     "key 'faults': unknown fault 'meteor'"),
    ({"op": "chaos", "every": 5, "duration": 9, "faults": []}, 3, "key 'faults': give at least"),
    ({"op": "chaos", "every": 5, "duration": 9, "down": {"min": 3, "max": 1}}, 3,
     "key 'down': must be 0 or more seconds, min at most max"),
    ({"op": "chaos", "every": 5, "duration": 9, "gaps": "poisson"}, 3, "key 'gaps'"),
    ({**WORKERS, "count": 0}, 1, "step 0 (workers): key 'count': must be at least 1"),
    ({**WORKERS, "duration": -2}, 1, "key 'duration': must be more than 0"),
    ({**WORKERS, "crash_before_ack": 1.5}, 1, "key 'crash_before_ack': must be a probability"),
    ({**WORKERS, "process": {"mean": -1}}, 1, "key 'process': must be 0 or more seconds"),
    ({**WORKERS, "process": {"avg": 1}}, 1, "key 'process': must be seconds, {min: A, max: B}"),
    ({**WORKERS, "ack": "sometimes"}, 1, "key 'ack': must be 'last'"),
    ({**WORKERS, "consumer": "nobody"}, 1, "key 'consumer': 'nobody' is neither declared"),
])
def test_bad_workers_and_chaos_steps_name_file_step_and_key(step, servers, words):
    data = {"name": "bad", "servers": servers, "streams": [{"name": "S", "subjects": ["s"]}],
            "consumers": [{"stream": "S", "durable_name": "worker"}], "steps": [step]}
    with pytest.raises(ScenarioError, match="^<dict>: step 0") as err:
        Scenario.from_dict(data)
    assert words in str(err.value)


def test_a_chaos_step_needs_its_nodes_running():
    with pytest.raises(ScenarioError, match="key 'nodes': n2 is killed at this step"):
        Scenario.from_dict({"name": "k", "servers": 3, "steps": [
            {"op": "kill", "server": "n2"}, {"op": "chaos", "every": 1, "duration": 2}]})


def test_a_worker_counts_any_failed_fetch_and_tries_again():
    from pmesh_sim.errors import NoRespondersError, TimeoutError
    from pmesh_sim.experiments.workers import _outcome
    from pmesh_sim.runners import classify_error

    assert _outcome(TimeoutError("t"), classify_error) == "timeout"
    assert _outcome(NoRespondersError(), classify_error) == "no_responders"
    assert _outcome(ConnectionResetError("reconnecting"), classify_error) == "error"

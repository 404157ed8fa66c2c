"""The workload step: a stochastic JetStream publisher drawn from the run's seed."""

import pytest

from pmesh_sim import check_delivery, run_scenario, sweep
from pmesh_sim.errors import ScenarioError
from pmesh_sim.experiments.workload import schedule
from pmesh_sim.scenario import Scenario

BASE = {"subject": "jobs.{i}", "count": 2000, "rate": 100.0}


def test_the_schedule_is_a_function_of_seed_and_step():
    assert schedule(BASE, seed=1, index=0) == schedule(BASE, seed=1, index=0)
    assert schedule(BASE, seed=1, index=0) != schedule(BASE, seed=2, index=0)
    assert schedule(BASE, seed=1, index=0) != schedule(BASE, seed=1, index=1)


def test_the_mean_rate_is_the_rate():
    last = schedule(BASE, seed=3, index=0)[-1][0]
    assert 2000 / last == pytest.approx(100.0, rel=0.1)


def test_bursts_leave_together_and_payloads_have_their_sizes():
    plan = schedule({**BASE, "count": 12, "burst": 4, "size": {"min": 5, "max": 9},
                     "msg_id": True}, seed=1, index=2)
    offsets = [at for at, *_ in plan]
    assert offsets[0:4] == [0.0] * 4 and len(set(offsets)) == 3
    assert all(offsets[i] == offsets[i - i % 4] for i in range(12))
    assert all(5 <= len(data) <= 9 for _, _, data, _ in plan)
    assert len({data for _, _, data, _ in plan}) == 12                     # all differ
    assert [h["Nats-Msg-Id"] for *_, h in plan][:2] == ["w2-0", "w2-1"]
    assert [subject for _, subject, _, _ in plan][:2] == ["jobs.0", "jobs.1"]


def scenario(**workload) -> Scenario:
    return Scenario.from_dict({"name": "w", "streams": [{"name": "J", "subjects": ["jobs.>"]}],
                               "consumers": [{"stream": "J", "durable_name": "c"}],
                               "steps": [{"op": "workload", **workload},
                                         {"at": 1.0, "op": "fetch", "consumer": "c",
                                          "batch": 100, "timeout": 0.5}]})


def test_a_workload_step_publishes_and_counts_its_acks():
    traces: list = []
    doc = run_scenario(scenario(subject="jobs.{i}", count=50, rate=200, size=16), trace_out=traces)
    assert doc["steps"][0]["result"] == {"published": 50, "acked": 50, "duplicates": 0,
                                         "errors": 0, "timeouts": 0}
    publishes = [e for e in traces[0] if e.kind == "publish"
                 and e.fields["subject"].startswith("jobs.")]
    assert len(publishes) == 50 and {e.fields["size"] for e in publishes} == {16}
    gaps = [b.time - a.time for a, b in zip(publishes, publishes[1:])]
    assert len(set(round(g, 6) for g in gaps)) > 10                         # not a metronome
    assert check_delivery(traces[0]).valid and doc["final"]["streams"]["J"]["messages"] == 50


def test_msg_ids_make_a_repeated_workload_a_duplicate():
    data = {"name": "twice", "streams": [{"name": "J", "subjects": ["j"]}],
            "steps": [{"op": "workload", "subject": "j", "count": 3, "rate": 50, "msg_id": True}]}
    doc = run_scenario(Scenario.from_dict(data))
    assert doc["steps"][0]["result"]["acked"] == 3
    # the same step index and seed give the same Nats-Msg-Ids: a second run into the same
    # stream would be de-duplicated; within one run the ids differ
    plan = schedule(data["steps"][0], seed=0, index=0)
    assert len({h["Nats-Msg-Id"] for *_, h in plan}) == 3


@pytest.mark.parametrize("workload, words", [
    ({"subject": "j", "count": 0, "rate": 1}, "key 'count': must be at least 1, got 0"),
    ({"subject": "j", "count": 1, "rate": 0}, "key 'rate': must be more than 0"),
    ({"subject": "j", "count": 1, "rate": 1, "burst": 0}, "key 'burst': must be at least 1"),
    ({"subject": "j", "count": 1, "rate": 1, "size": {"min": 5, "max": 2}},
     "key 'size': must be 0 or more bytes, min at most max"),
    ({"subject": "j", "count": 1, "rate": 1, "size": {"min": 5}},
     "key 'size': must be a number of bytes or {min: A, max: B}"),
    ({"subject": "a b.{i}", "count": 1, "rate": 1}, "key 'subject'"),
    ({"subject": "j", "rate": 1}, "key 'count': missing"),
])
def test_bad_workloads_name_the_step_and_key(workload, words):
    with pytest.raises(ScenarioError, match="step 0 \\(workload\\)") as err:
        scenario(**workload)
    assert words in str(err.value)


def test_a_sweep_over_the_workload_rate():
    base = scenario(subject="jobs.{i}", count=20, rate=100)
    df = sweep(base, {"steps.0.rate": [50, 500]}, seeds=range(2), workers=1)
    assert df["acknowledged"].tolist() == [20] * 4 and df["valid"].all()
    with pytest.raises(ScenarioError, match="key 'rate': must be number, got 'fast'"):
        sweep(base, {"steps.0.rate": ["fast"]}, workers=1)

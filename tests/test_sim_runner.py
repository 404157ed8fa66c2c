"""The sim backend runs the same scenario in virtual time, identically for the same seed."""

from pmesh_sim.scenario import Scenario, dumps_result
from pmesh_sim.sim.runner import run_sim

CORE = {
    "name": "core", "seed": 3,
    "subscriptions": [
        {"name": "all", "subject": "a.>"},
        {"name": "q1", "subject": "a.*", "queue": "g"},
        {"name": "q2", "subject": "a.*", "queue": "g"},
        {"name": "echo", "subject": "svc.echo", "respond": "pong"},
    ],
    "steps": [
        {"op": "publish", "subject": "a.b", "data": "1"},
        {"op": "publish", "subject": "a.b.c", "data": "2"},
        {"at": 0.05, "op": "request", "subject": "svc.echo", "data": "ping"},
        {"op": "request", "subject": "svc.nobody", "data": "ping", "timeout": 0.2},
        {"at": 1.0, "op": "wait"},
    ],
}


def test_core_results_match_what_the_real_server_gives():
    doc, trace = run_sim(Scenario.from_dict(CORE))
    assert [s["result"] for s in doc["steps"]] == [
        {"outcome": "sent"}, {"outcome": "sent"}, {"data": "pong"},
        {"outcome": "no_responders"}, {"outcome": "waited"}]
    subs = doc["subscriptions"]
    assert subs["all"] == [{"subject": "a.b", "data": "1"}, {"subject": "a.b.c", "data": "2"}]
    assert sorted(subs["q1"] + subs["q2"], key=str) == [{"subject": "a.b", "data": "1"}]
    assert (doc["backend"], doc["seed"], doc["servers"]) == ("sim", 3, 1)


def test_steps_start_at_their_at_or_when_the_previous_step_finished():
    _, trace = run_sim(Scenario.from_dict(CORE))
    starts = {e.fields["index"]: e.time for e in trace.filter("step")}
    t0 = starts[0]
    assert round(starts[2] - t0, 9) == 0.05
    assert starts[3] > starts[2]                 # after the echo's round trip
    assert round(starts[4] - t0, 9) == 1.0


def test_the_same_seed_gives_the_same_document_and_trace_byte_for_byte():
    first, t1 = run_sim(Scenario.from_dict(CORE))
    second, t2 = run_sim(Scenario.from_dict(CORE))
    assert dumps_result(first) == dumps_result(second)
    assert t1.dumps() == t2.dumps()


def test_sim_only_faults_the_simulation_lacks_are_unsupported_not_errors():
    doc, _ = run_sim(Scenario.from_dict({"name": "f", "steps": [{"op": "heal"}]}))
    assert doc["steps"][0]["result"]["outcome"] in ("healed", "unsupported")

"""The fuzzer: its generator makes valid (or rightly broken) scenarios, deterministically for a
seed; its watchdog turns a spinning simulation into a finding; and a fixed budget of generated
scenarios agrees between the simulation and a real nats-server (the CI budget)."""

from __future__ import annotations

import time

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import seed as hseed

from pmesh_sim.errors import ScenarioError
from pmesh_sim.fuzz.check import SimHang, check_invalid, run_sim_bounded, timing_sensitive
from pmesh_sim.fuzz.generate import MUTATIONS, TIMERS, invalid_documents, scenario_documents
from pmesh_sim.scenario import Scenario

FAST = settings(max_examples=150, database=None, deadline=None,
                suppress_health_check=list(HealthCheck))


def _collect(strategy, seed: int, count: int) -> list:
    out = []

    @hseed(seed)
    @settings(FAST, max_examples=count)
    @given(strategy)
    def run(example):
        out.append(example)

    run()
    return out


@FAST
@given(scenario_documents())
def test_generated_documents_load_and_keep_to_the_grid(doc):
    scenario = Scenario.from_dict(doc)
    assert scenario.steps
    for step in scenario.steps:
        assert round(step.at * 10, 6) == round(step.at * 10)  # on the 0.1 s grid
    for item in [*doc["streams"], *doc.get("consumers", []), *doc["steps"]]:
        for key in ("ack_wait", "max_age", "duplicate_window", "delay", "inactive_threshold"):
            if key in item:
                assert item[key] in TIMERS, (key, item[key])


@FAST
@given(scenario_documents())
def test_a_yaml_round_trip_gives_the_same_scenario(doc):
    again = yaml.safe_load(yaml.safe_dump(doc))
    assert Scenario.from_dict(again) == Scenario.from_dict(doc)


def test_the_same_seed_gives_the_same_documents_and_another_seed_others():
    first = _collect(scenario_documents(), 5, 30)
    assert first == _collect(scenario_documents(), 5, 30)
    assert first != _collect(scenario_documents(), 6, 30)


def test_the_generator_covers_the_format():
    docs = _collect(scenario_documents(), 1, 300)
    ops = {s["op"] for d in docs for s in d["steps"]}
    assert {"js_publish", "publish", "request", "fetch", "purge_stream", "update_stream",
            "add_consumer", "delete_consumer", "delete_stream", "consumer_info",
            "subscribe", "unsubscribe"} <= ops
    consumer_keys = {k for d in docs for c in d.get("consumers", []) for k in c}
    assert {"ack_wait", "backoff", "max_deliver", "max_ack_pending", "filter_subject",
            "filter_subjects", "deliver_subject", "inactive_threshold"} <= consumer_keys
    stream_keys = {k for d in docs for s in d["streams"] for k in s}
    assert {"retention", "max_msgs", "max_age", "duplicate_window", "discard",
            "max_msgs_per_subject"} <= stream_keys
    headers = {h for d in docs for s in d["steps"] for h in s.get("headers", {})}
    assert {"Nats-Msg-Id", "Nats-Expected-Last-Sequence", "Nats-TTL"} <= headers


def test_the_generator_covers_the_newer_features():
    docs = _collect(scenario_documents(), 3, 400)
    steps = [s for d in docs for s in d["steps"]]
    assert {"pause_consumer", "fetch_result"} <= {s["op"] for s in steps}
    assert any(s.get("background") for s in steps)
    assert any(s.get("from") == "quiet" for s in steps)
    assert any(s.get("max_msgs") for s in steps if s["op"] == "subscribe")
    gets = [s["data"] for s in steps if s.get("subject", "").startswith("$JS.API.DIRECT.GET.")]
    assert any("multi_last" in g for g in gets) and any("up_to_seq" in g for g in gets)
    stream_keys = {k for d in docs for s in d["streams"] for k in s}
    assert {"first_seq", "subject_transform", "allow_msg_ttl", "allow_direct"} <= stream_keys
    consumer_keys = {k for d in docs for c in d.get("consumers", []) for k in c}
    assert {"flow_control", "idle_heartbeat", "pause_until"} <= consumer_keys
    subs = [s for d in docs for s in d.get("subscriptions", [])]
    assert any(s.get("no_echo") for s in subs) and any(s.get("record_headers") for s in subs)
    for doc in docs:   # every background fetch is collected, after the fetch that started it
        started = [s["consumer"] for s in doc["steps"] if s.get("background")]
        collected = [s["consumer"] for s in doc["steps"] if s["op"] == "fetch_result"]
        assert sorted(started) == sorted(collected)


@FAST
@given(invalid_documents())
def test_broken_documents_give_a_file_error_naming_the_place_and_key(case):
    doc, where, key = case
    with pytest.raises(ScenarioError) as err:
        Scenario.from_dict(doc)
    assert where in str(err.value)
    if key:
        assert repr(key) in str(err.value)


def test_every_mutation_is_drawn():
    cases = _collect(invalid_documents(), 2, 200)
    assert len({c[1].split()[0] + str(c[2]) for c in cases}) >= len(MUTATIONS) - 3


def test_check_invalid_runs_both_backends_loaders(tmp_path):
    doc = {"name": "x", "steps": [{"op": "explode"}]}
    verdict = check_invalid(doc, "step 0", "op", tmp_path)
    assert verdict.kind == "invalid-ok", verdict.detail
    verdict = check_invalid({"name": "x", "steps": [{"op": "wait"}]}, "step 0", None, tmp_path)
    assert verdict.kind == "invalid-bad" and "no error" in verdict.detail


def test_unsubscribing_twice_is_a_file_error():
    # found by the fuzzer: both runners crashed with KeyError
    with pytest.raises(ScenarioError, match=r"step 1 \(unsubscribe\): key 'name': 'a' was "
                                            "already unsubscribed"):
        Scenario.from_dict({"name": "x", "subscriptions": [{"name": "a", "subject": "a"}],
                            "steps": [{"op": "unsubscribe", "name": "a"},
                                      {"op": "unsubscribe", "name": "a"}]})


def test_a_spinning_simulation_is_stopped_by_the_watchdog(monkeypatch):
    import pmesh_sim.sim.runner as runner

    def spin(scenario, **kw):
        while True:
            pass

    monkeypatch.setattr(runner, "run_sim", spin)
    started = time.monotonic()
    with pytest.raises(SimHang, match="longer than 0.3 s"):
        run_sim_bounded(Scenario.from_dict({"name": "x", "steps": [{"op": "wait"}]}), 0.3)
    assert time.monotonic() - started < 2


def test_timing_sensitive_finds_a_timer_on_the_grid():
    doc = {"name": "t", "streams": [{"name": "S0", "subjects": ["s0.>"]}],
           "consumers": [{"stream": "S0", "durable_name": "c", "ack_wait": 0.4}],
           "steps": [{"at": 0.0, "op": "js_publish", "subject": "s0.a"},
                     {"at": 0.1, "op": "fetch", "consumer": "c", "then": "ignore",
                      "timeout": 0.2},
                     {"at": 0.5, "op": "fetch", "consumer": "c", "timeout": 0.01}]}
    assert timing_sensitive(doc)          # redelivery due at 0.5, the fetch is at 0.5
    doc["consumers"][0]["ack_wait"] = 0.35
    assert not timing_sensitive(doc)


# The CI budget: a fixed seed, both backends. Every generated scenario must agree (or be
# skipped as timing-sensitive); a failure leaves the minimal scenario in tmp_path.
CI_EXAMPLES, CI_SEED = 250, 20261201


@pytest.mark.timeout(400)
def test_ci_budget_of_generated_scenarios_agrees(tmp_path):
    from pmesh_sim.fuzz.command import run_fuzz

    started = time.monotonic()
    # a failure is shrunk only briefly here: the scenario written is small, not minimal
    result = run_fuzz(CI_EXAMPLES, CI_SEED, workers=2, out=tmp_path, progress=None,
                      shrink_seconds=20)
    found = {p: (tmp_path / p).read_text() for p in sorted(
        f.name for f in tmp_path.glob("*.diff.txt"))}
    assert result["examples"] == CI_EXAMPLES, result
    assert result["found"] == 0, found
    assert result["counts"].get("agree", 0) >= CI_EXAMPLES * 0.6, result["counts"]
    assert time.monotonic() - started < 300

"""Scenario format additions: background fetches, no_echo and max_msgs subscriptions, `from`."""

import pytest

from pmesh_sim import ScenarioError
from pmesh_sim.runners import run_scenario
from pmesh_sim.scenario import Scenario

STREAMS = {"streams": [{"name": "S", "subjects": ["s.*"]}],
           "consumers": [{"stream": "S", "durable_name": "w"}]}


def scenario(steps, **top):
    return Scenario.from_dict({"name": "t", **STREAMS, **top, "steps": steps})


def test_a_background_fetch_waits_while_later_steps_run():
    doc = run_scenario(scenario([
        {"op": "fetch", "consumer": "w", "timeout": 2.0, "background": True},
        {"at": 0.2, "op": "consumer_info", "consumer": "w"},
        {"at": 0.3, "op": "js_publish", "subject": "s.a", "data": "x"},
        {"at": 0.4, "op": "fetch_result", "consumer": "w"}]), "sim")
    results = [s["result"] for s in doc["steps"]]
    assert results[0] == {"outcome": "started"}
    assert results[1]["num_waiting"] == 1
    assert [m["data"] for m in results[3]["messages"]] == ["x"]


def test_background_fetches_are_collected_first_started_first():
    doc = run_scenario(scenario([
        {"op": "fetch", "consumer": "w", "timeout": 1.0, "background": True},
        {"op": "fetch", "consumer": "w", "timeout": 1.0, "background": True},
        {"at": 0.2, "op": "js_publish", "subject": "s.a", "data": "first"},
        {"at": 0.3, "op": "fetch_result", "consumer": "w"},
        {"at": 0.4, "op": "fetch_result", "consumer": "w"}]), "sim")
    got = [s["result"].get("messages") for s in doc["steps"][3:]]
    assert got == [[{"subject": "s.a", "data": "first", "stream_seq": 1, "consumer_seq": 1,
                     "num_delivered": 1}], []]


def test_a_fetch_result_needs_an_earlier_background_fetch():
    with pytest.raises(ScenarioError, match=r"step 1 \(fetch_result\): key 'consumer': no "
                                            r"earlier fetch of 'w' with background: true"):
        scenario([{"op": "fetch", "consumer": "w"}, {"op": "fetch_result", "consumer": "w"}])


def test_publish_from_names_a_live_subscription():
    with pytest.raises(ScenarioError, match=r"step 1 \(publish\): key 'from': 'q'"):
        scenario([{"op": "unsubscribe", "name": "q"}, {"op": "publish", "subject": "a", "from": "q"}],
                 subscriptions=[{"name": "q", "subject": "a"}])


def test_max_msgs_must_be_positive():
    with pytest.raises(ScenarioError, match=r"subscriptions\[0\]: key 'max_msgs': must be 1"):
        scenario([], subscriptions=[{"name": "q", "subject": "a", "max_msgs": 0}])


def test_no_echo_and_max_msgs_in_the_simulation():
    doc = run_scenario(Scenario.from_dict({"name": "t", "subscriptions": [
        {"name": "loud", "subject": "c"}, {"name": "quiet", "subject": "c", "no_echo": True},
        {"name": "once", "subject": "c", "max_msgs": 1}], "steps": [
        {"op": "publish", "subject": "c", "data": "1", "from": "quiet"},
        {"op": "publish", "subject": "c", "data": "2", "from": "loud"}]}), "sim")
    got = {name: [m["data"] for m in msgs] for name, msgs in doc["subscriptions"].items()}
    assert got == {"loud": ["1", "2"], "quiet": ["2"], "once": ["1"]}

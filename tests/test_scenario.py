"""Loading scenario files: good files load; each bad one names the file, the step and the key."""

import json

import pytest

from pmesh_sim.errors import ScenarioError
from pmesh_sim.scenario import Scenario, load_scenario

GOOD = """
name: redelivery-basics
description: ack_wait expiry redelivers an unacked message
seed: 1
network: {latency: 0.0005}
streams:
  - {name: ORDERS, subjects: ["orders.>"], max_msgs: 100, discard: old, storage: memory,
     num_replicas: 1, duplicate_window: 120}
consumers:
  - {stream: ORDERS, durable_name: worker, ack_policy: explicit, ack_wait: 1.0, max_deliver: 3}
subscriptions:
  - {name: all-orders, subject: "orders.>"}
  - {name: echo, subject: "svc.echo", respond: "pong"}
steps:
  - {at: 0.0, op: js_publish, subject: orders.eu.1, data: "a", headers: {Nats-Msg-Id: m1}}
  - {at: 0.2, op: request, subject: svc.echo, data: "ping", timeout: 0.5}
  - {at: 0.3, op: fetch, consumer: worker, batch: 10, timeout: 0.5, then: {1: ack, 2: nak}}
  - {op: add_consumer, stream: ORDERS, name: late}
  - {op: consumer_info, consumer: late}
  - {op: subscribe, name: more, subject: "x.*", queue: q}
  - {op: unsubscribe, name: more}
  - {op: kill, server: n1}
"""


def write(tmp_path, text, name="s.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_good_yaml_file_loads_with_defaults_and_resolved_streams(tmp_path):
    sc = load_scenario(write(tmp_path, GOOD))
    assert (sc.name, sc.seed, sc.servers, sc.network) == ("redelivery-basics", 1, 1,
                                                          {"latency": 0.0005})
    assert [(s.index, s.op, s.at) for s in sc.steps][:3] == [
        (0, "js_publish", 0.0), (1, "request", 0.2), (2, "fetch", 0.3)]
    assert sc.steps[2].args["then"] == {1: "ack", 2: "nak"}
    assert sc.steps[2].args["stream"] == "ORDERS"
    assert sc.steps[4].args["stream"] == "ORDERS"


def test_a_json_file_loads_like_yaml_and_then_keys_become_sequences(tmp_path):
    import yaml

    data = yaml.safe_load(GOOD)
    data["steps"][2]["then"] = {"1": "ack", "2": "term"}
    sc = load_scenario(write(tmp_path, json.dumps(data), "s.json"))
    assert sc.steps[2].args["then"] == {1: "ack", 2: "term"}


def error_of(tmp_path, text, name="bad.yaml"):
    with pytest.raises(ScenarioError) as info:
        load_scenario(write(tmp_path, text, name))
    return str(info.value)


@pytest.mark.parametrize("step, fragments", [
    ("{op: explode}", ["step 0", "'op'", "unknown op 'explode'"]),
    ("{op: publish}", ["step 0 (publish)", "'subject'", "missing"]),
    ("{op: publish, subject: a, data: 5}", ["step 0 (publish)", "'data'", "must be text"]),
    ("{op: publish, subject: a, colour: red}", ["step 0 (publish)", "'colour'", "unknown key"]),
    ("{op: fetch, consumer: ghost}", ["step 0 (fetch)", "'consumer'", "'ghost'",
                                      "neither declared"]),
    ("{op: stepdown, stream: NOPE}", ["step 0 (stepdown)", "'stream'", "'NOPE'"]),
    ("{op: unsubscribe, name: nobody}", ["step 0 (unsubscribe)", "'name'", "'nobody'"]),
    ("{op: fetch, consumer: w, then: explode}", ["step 0 (fetch)", "'then'", "'explode'"]),
    ("{op: kill, server: n7}", ["step 0 (kill)", "'server'", "'n7'"]),
    ("{op: publish, subject: a, at: -1}", ["step 0 (publish)", "'at'"]),
    ("{op: publish, subject: 'a b'}", ["step 0 (publish)", "'subject'", "contains a space"]),
    ("{op: request, subject: ''}", ["step 0 (request)", "'subject'", "must not be empty"]),
    ("{op: subscribe, name: s, subject: 'a.>.b'}", ["step 0 (subscribe)", "'subject'", "'a.>.b'"]),
    ("{op: subscribe, name: s, subject: a, queue: 'q q'}", ["step 0 (subscribe)", "'queue'"]),
])
def test_each_bad_step_names_file_step_and_key(tmp_path, step, fragments):
    text = ("name: t\nstreams: [{name: S}]\nconsumers: [{stream: S, durable_name: w}]\n"
            f"steps:\n  - {{op: wait}}\n  - {step}\n")
    message = error_of(tmp_path, text)
    assert str(tmp_path / "bad.yaml") in message
    for fragment in fragments:
        assert fragment.replace("step 0", "step 1") in message


def test_a_fetch_from_a_consumer_created_by_a_later_step_is_an_error(tmp_path):
    message = error_of(tmp_path, "name: t\nstreams: [{name: S}]\nsteps:\n"
                                 "  - {op: fetch, consumer: w}\n"
                                 "  - {op: add_consumer, stream: S, durable_name: w}\n")
    assert "step 0 (fetch): key 'consumer'" in message


@pytest.mark.parametrize("step, stream, key", [
    ("{op: stream_info, stream: NOPE}", None, "stream"),
    ("{op: update_stream, name: NOPE, subjects: [x]}", None, "name"),
    ("{op: delete_stream, stream: NOPE}", None, "stream"),
    ("{op: purge_stream, stream: NOPE}", None, "stream"),
    ("{op: add_consumer, stream: NOPE, durable_name: d}", None, "stream"),
    ("{op: consumer_info, consumer: ghost}", "S", "consumer"),
    ("{op: delete_consumer, consumer: ghost, stream: S}", "S", "consumer"),
    ("{op: consumer_info, consumer: ghost, stream: NOPE}", "NOPE", "stream"),
])
def test_a_name_nothing_declared_goes_to_the_server_with_a_warning(tmp_path, step, stream, key):
    sc = load_scenario(write(tmp_path, f"name: t\nstreams: [{{name: S}}]\nsteps:\n  - {step}\n"))
    if stream:
        assert sc.steps[0].args["stream"] == stream
    [warning] = sc.warnings
    assert warning.startswith(f"{tmp_path / 's.yaml'}: step 0 (")
    assert f"key '{key}'" in warning and "neither declared" in warning


def test_an_undeclared_consumer_without_a_stream_needs_one_when_there_are_several(tmp_path):
    text = "name: t\nstreams: [{name: A}, {name: B}]\nsteps:\n  - {op: consumer_info, consumer: w}\n"
    assert "step 0 (consumer_info): key 'consumer'" in error_of(tmp_path, text)
    assert "add 'stream'" in error_of(tmp_path, text)


def test_a_consumer_name_on_two_streams_needs_its_stream(tmp_path):
    text = ("name: t\nstreams: [{name: A}, {name: B}]\n"
            "consumers: [{stream: A, durable_name: w}, {stream: B, durable_name: w}]\n"
            "steps:\n  - {op: consumer_info, consumer: w}\n")
    assert "add 'stream'" in error_of(tmp_path, text)
    ok = load_scenario(write(tmp_path, text.replace("consumer: w}", "consumer: w, stream: B}")))
    assert ok.steps[0].args["stream"] == "B"


def test_stream_and_consumer_fields_are_checked_by_name_and_type_not_value(tmp_path):
    assert "streams[0]: key 'max_msgz'" in error_of(
        tmp_path, "name: t\nstreams: [{name: S, max_msgz: 3}]\n")
    assert "consumers[0]: key 'ack_wait': must be number" in error_of(
        tmp_path, "name: t\nstreams: [{name: S}]\nconsumers: [{stream: S, ack_wait: soon}]\n")
    # a value the server rejects is the server's business
    sc = load_scenario(write(tmp_path, "name: t\nstreams: [{name: S, retention: forever, "
                                       "max_age: -5}]\n"))
    assert sc.streams[0]["retention"] == "forever"


def test_top_level_problems_name_the_key(tmp_path):
    assert "top level: key 'name': missing" in error_of(tmp_path, "steps: []\n")
    assert "top level: key 'stepz': unknown key" in error_of(tmp_path, "name: t\nstepz: []\n")
    assert "not valid YAML" in error_of(tmp_path, "name: [unclosed\n")
    assert "not valid json" in error_of(tmp_path, "{nope", "bad.json")


def test_a_missing_file_is_a_scenario_error(tmp_path):
    with pytest.raises(ScenarioError, match="cannot read"):
        load_scenario(tmp_path / "missing.yaml")


def test_from_dict_builds_the_same_scenario_as_a_file(tmp_path):
    import yaml

    assert Scenario.from_dict(yaml.safe_load(GOOD)).steps == load_scenario(
        write(tmp_path, GOOD)).steps


@pytest.mark.parametrize("raw, key", [
    ({"streams": [{"name": "A B", "subjects": ["a.>"]}]}, "name"),
    ({"steps": [{"op": "add_stream", "name": "A\tB", "subjects": ["a.>"]}]}, "name"),
    ({"streams": [{"name": "S", "subjects": ["a.>"]}],
      "consumers": [{"stream": "S", "durable_name": "c d"}]}, "durable_name"),
])
def test_a_name_with_whitespace_is_refused_at_load_as_nats_py_refuses_the_subject(raw, key):
    with pytest.raises(ScenarioError, match=f"key '{key}': .* would make an invalid API subject"):
        Scenario.from_dict({"name": "x", **raw})


def test_client_side_subject_errors_are_a_result_not_a_traceback():
    import nats.errors

    from pmesh_sim.errors import InvalidSubjectError
    from pmesh_sim.runners import classify_error

    assert classify_error(nats.errors.BadSubjectError()) == {"outcome": "bad_subject"}
    assert classify_error(InvalidSubjectError("invalid subject 'a b'")) == {"outcome": "bad_subject"}

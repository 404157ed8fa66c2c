"""Nothing the server knows is accepted and ignored: every config field, API subject, request
field and Nats-* header of nats-server is modelled or refused (pmesh_sim.jetstream.surface)."""

import dataclasses
import inspect
import json
import re

import pytest

from pmesh_sim import ConsumerConfig, NotSimulatedError, StreamConfig, StreamSource
from pmesh_sim.jetstream import api as api_module, direct as direct_module, stream as stream_module
from pmesh_sim.jetstream import surface
from pmesh_sim.jetstream.api import JetStream
from pmesh_sim.real.process import find_nats_server
from pmesh_sim.runners import run_scenario
from pmesh_sim.scenario import CONSUMER_FIELDS, STREAM_FIELDS, Scenario


def _partition(server, *parts):
    """Each item of ``server`` is in exactly one of ``parts``, and the parts hold nothing else."""
    seen = [x for part in parts for x in part]
    assert sorted(seen) == sorted(set(seen)), "an item is in two lists"
    assert set(seen) == set(server), (
        f"unclassified: {sorted(set(server) - set(seen))}; not the server's: "
        f"{sorted(set(seen) - set(server))}")


def test_every_stream_config_field_is_modelled_or_refused():
    modelled = [f.name for f in dataclasses.fields(StreamConfig)]
    _partition(surface.SERVER_STREAM_CONFIG, modelled, surface.STREAM_CONFIG_REFUSED)


def test_every_stream_source_field_is_modelled_or_refused():
    modelled = [f.name for f in dataclasses.fields(StreamSource)]
    _partition(surface.SERVER_STREAM_SOURCE, modelled, surface.STREAM_SOURCE_REFUSED)


def test_every_consumer_config_field_is_modelled_or_refused():
    modelled = [f.name for f in dataclasses.fields(ConsumerConfig)]
    _partition(surface.SERVER_CONSUMER_CONFIG, modelled, surface.CONSUMER_CONFIG_REFUSED)
    assert set(surface.CONSUMER_VALUES_NOT_SIMULATED) <= set(modelled)


def test_scenario_files_accept_only_server_fields():
    # template_owner: stream templates left the server; it ignores the key, and so do we
    assert set(STREAM_FIELDS) - {"template_owner"} <= set(surface.SERVER_STREAM_CONFIG)
    assert set(CONSUMER_FIELDS) <= set(surface.SERVER_CONSUMER_CONFIG)


def test_every_api_subject_is_modelled_or_refused():
    _partition(surface.SERVER_API_SUBJECTS, surface.API_MODELLED, surface.API_NOT_SIMULATED)


def test_every_header_is_modelled_passive_or_refused():
    _partition(surface.SERVER_HEADERS, surface.HEADERS_MODELLED, surface.HEADERS_SERVER_SET,
               surface.HEADERS_NOT_SIMULATED)


def test_request_body_refusals_are_server_fields():
    assert set(surface.DIRECT_GET_NOT_SIMULATED) <= set(surface.SERVER_MSG_GET_REQUEST)
    assert set(surface.PULL_NOT_SIMULATED) <= set(surface.SERVER_PULL_REQUEST)


def test_modelled_headers_are_read_by_the_stream():
    source = inspect.getsource(stream_module)
    for header in surface.HEADERS_MODELLED:
        assert f'"{header}"' in source, header


def test_modelled_msg_get_fields_are_read():
    source = inspect.getsource(api_module) + inspect.getsource(direct_module)
    for key in surface.SERVER_MSG_GET_REQUEST:   # every one: STREAM.MSG.GET models them all
        assert f'"{key}"' in source, key


# ------------------------------------------------------------ the installed server's binary

@pytest.fixture(scope="module")
def binary():
    return find_nats_server().read_bytes()


def test_the_lists_are_the_installed_servers(binary):
    for name in (surface.SERVER_STREAM_CONFIG + surface.SERVER_CONSUMER_CONFIG
                 + surface.SERVER_STREAM_SOURCE):
        assert f'json:"{name}"'.encode() in binary or f'json:"{name},'.encode() in binary, name
    for header in surface.SERVER_HEADERS:
        assert header.encode() in binary, header
    for subject in surface.SERVER_API_SUBJECTS:
        head = subject.split(".*")[0].split(".>")[0]
        assert head.encode() in binary, subject


def test_every_api_subject_in_the_binary_is_classified(binary):
    known = set(surface.SERVER_API_SUBJECTS)
    found = {m.decode().replace("%s", "*")
             for m in re.findall(rb"\$JS\.API\.[A-Z_]+(?:\.(?:[A-Z_]+|\*|>|%s))*", binary)}
    # patterns with a name in them (the handlers and the templates a server formats)
    named = {s for s in found if "*" in s and not s.endswith(".>") or s.endswith("*.>")}
    # templates of the handlers' ``.>`` patterns: CONSUMER.CREATE.%s.%s.%s, DIRECT.GET.%s.%s
    templates = {"$JS.API.CONSUMER.CREATE.*.*.*": "$JS.API.CONSUMER.CREATE.*.>",
                 "$JS.API.DIRECT.GET.*.*": "$JS.API.DIRECT.GET.*.>"}
    named = {templates.get(s, s) for s in named}
    assert named, "no API subject found in the binary"
    assert named <= known, sorted(named - known)


def test_every_nats_header_in_the_binary_is_classified(binary):
    known = surface.SERVER_HEADERS
    not_headers = ("Nats-Wrong-Pin-Id",)   # a status description (423), not a header
    for match in re.findall(rb"Nats-[A-Za-z]+(?:-[A-Za-z]+)*", binary):
        # strings in a Go binary run together: split where the next one starts
        for piece in re.split(r"(?=Nats-)", match.decode()):
            if not piece or piece.startswith(not_headers):
                continue
            assert any(piece.startswith(h) or h.startswith(piece) for h in known), piece


# ------------------------------------------------------------------------ refusals at work

def test_a_refused_stream_field_raises_not_simulated():
    with pytest.raises(NotSimulatedError, match="'mirror_direct'"):
        StreamConfig.from_dict({"name": "M", "mirror_direct": True})
    with pytest.raises(NotSimulatedError, match="'external'"):
        StreamConfig.from_wire({"name": "S", "sources": [{"name": "O", "external": {}}]})
    with pytest.raises(NotSimulatedError, match="'consumer'"):
        StreamConfig.from_dict({"name": "M", "mirror": {"name": "O", "consumer": {"name": "c"}}})


def test_off_values_of_refused_fields_are_accepted():
    cfg = StreamConfig.from_wire({"name": "S", "compression": "none", "allow_msg_ttl": False,
                                  "consumer_limits": {}, "mirror_direct": False})
    assert cfg.name == "S"


def _api(js, subject, body=None, headers=None):
    data = json.dumps(body).encode() if body is not None else b""
    return js.handle(subject, "_INBOX.r", data, headers, now=0.0)


@pytest.mark.parametrize("subject", [s.replace("*", "X") for s in surface.API_NOT_SIMULATED])
def test_every_refused_api_subject_answers_not_simulated(subject):
    js = JetStream()
    out, = _api(js, subject.replace(">", "X"), {})
    assert surface.NOT_SIMULATED_HEADER in out.headers
    assert json.loads(out.data)["error"]["description"].startswith("not simulated")


@pytest.mark.parametrize("header", surface.HEADERS_NOT_SIMULATED)
def test_a_publish_with_a_refused_header_is_refused_and_not_stored(header):
    js = JetStream()
    _api(js, "$JS.API.STREAM.CREATE.S", {"name": "S", "subjects": ["s.>"]})
    out, = _api(js, "s.1", None, {header: "1"})
    assert out.headers == {surface.NOT_SIMULATED_HEADER: f"header {header!r}"}
    assert js.streams["S"].last_seq == 0


def test_refused_consumer_values_come_after_the_servers_errors():
    js = JetStream()
    _api(js, "$JS.API.STREAM.CREATE.S", {"name": "S", "subjects": ["s.>"]})
    pull_rate, = _api(js, "$JS.API.CONSUMER.DURABLE.CREATE.S.c",
                      {"stream_name": "S", "config": {"durable_name": "c", "ack_policy": "explicit",
                                                      "rate_limit_bps": 1000}})
    assert json.loads(pull_rate.data)["error"]["err_code"] == 10086
    replay, = _api(js, "$JS.API.CONSUMER.DURABLE.CREATE.S.d",
                   {"stream_name": "S", "config": {"durable_name": "d", "ack_policy": "explicit",
                                                   "replay_policy": "original"}})
    assert "replay_policy" in replay.headers[surface.NOT_SIMULATED_HEADER]
    assert "d" not in js.streams["S"].consumers


def test_refused_pull_and_message_get_fields():
    js = JetStream()
    _api(js, "$JS.API.STREAM.CREATE.S", {"name": "S", "subjects": ["s.>"], "allow_direct": True})
    _api(js, "$JS.API.CONSUMER.DURABLE.CREATE.S.c",
         {"stream_name": "S", "config": {"durable_name": "c", "ack_policy": "explicit"}})
    pull, = _api(js, "$JS.API.CONSUMER.MSG.NEXT.S.c", {"batch": 1, "group": "g"})
    assert pull.headers[surface.NOT_SIMULATED_HEADER] == "pull request field 'group'"
    get, = _api(js, "$JS.API.STREAM.MSG.GET.S", {"seq": 1, "batch": 2})
    assert json.loads(get.data)["error"]["err_code"] == 10003   # the server's own refusal
    direct, = _api(js, "$JS.API.DIRECT.GET.S", {"multi_last": ["s.>"]})   # modelled: none
    assert direct.headers["Description"] == "No Results"


def test_the_python_client_raises_not_simulated():
    from pmesh_sim import Simulation

    sim = Simulation()
    sim.add_server("n1", jetstream=True)
    nc = sim.connect("n1")
    js = nc.jetstream()
    caught = []

    def main(env):
        yield js.add_stream(name="S", subjects=["s.>"])
        try:
            yield js.publish("s.1", b"x", headers={"Nats-Incr": "1"})
        except NotSimulatedError as err:
            caught.append(err.feature)

    sim.process(main(sim.env))
    sim.run()
    assert caught == ["header 'Nats-Incr'"]
    with pytest.raises(NotSimulatedError, match="Nats-Trace-Dest"):
        nc.publish("a", b"", headers={"Nats-Trace-Dest": "t"})


def test_a_scenario_step_the_simulation_refuses_is_unsupported():
    sc = Scenario.from_dict({"name": "refused", "streams": [{"name": "O", "subjects": ["o.>"]}],
                             "steps": [
        {"op": "add_stream", "name": "M", "mirror": {"name": "O", "external": {"api": "$JS.h.API"}}},
        {"op": "js_publish", "subject": "o.1", "headers": {"Nats-Incr": "1"}},
        {"op": "request", "subject": "$JS.API.STREAM.SNAPSHOT.O", "data": "{}"},
        {"op": "stream_info", "stream": "O"}]})
    doc = run_scenario(sc, "sim")
    results = [s["result"] for s in doc["steps"]]
    assert results[:3] == [
        {"outcome": "unsupported", "not_simulated": "source config field 'external'"},
        {"outcome": "unsupported", "not_simulated": "header 'Nats-Incr'"},
        {"outcome": "unsupported", "not_simulated": "API $JS.API.STREAM.SNAPSHOT"}]
    assert results[3]["messages"] == 0


def test_a_plain_publish_a_stream_would_refuse_is_unsupported_not_sent():
    sc = Scenario.from_dict({"name": "plain", "streams": [{"name": "C", "subjects": ["c.>"]}],
                             "subscriptions": [{"name": "tap", "subject": "*.1"}], "steps": [
        {"op": "publish", "subject": "c.1", "headers": {"Nats-Incr": "1"}},
        {"op": "publish", "subject": "d.1", "headers": {"Nats-Incr": "1"}}]})
    doc = run_scenario(sc, "sim")
    assert [s["result"] for s in doc["steps"]] == [
        {"outcome": "unsupported",
         "not_simulated": "header 'Nats-Incr' on a message a stream stores"},
        {"outcome": "sent"}]                       # no stream stores d.1: the header is data
    assert doc["final"]["streams"]["C"]["messages"] == 0
    assert [m["subject"] for m in doc["subscriptions"]["tap"]] == ["c.1", "d.1"]


def test_placement_is_taken_on_one_server_and_refused_in_a_cluster():
    body = {"name": "S", "subjects": ["s.>"], "placement": {"cluster": "east"}}
    one, = _api(JetStream(), "$JS.API.STREAM.CREATE.S", body)
    assert json.loads(one.data)["config"]["placement"] == {"cluster": "east"}
    three, = _api(JetStream(peers=3), "$JS.API.STREAM.CREATE.S", body)
    assert three.headers[surface.NOT_SIMULATED_HEADER] == "stream config field 'placement' in a cluster"

"""Reply bytes and answers of JetStream that were measured on nats-server 2.15.1 with a nats-py
probe (round 3 scenarios c19, c25, c30, c36)."""

import json

from pmesh_sim.jetstream.api import JetStream


def api(js, subject, body=None, now=0.0):
    data = b"" if body is None else json.dumps(body).encode()
    return js.handle(subject, "_INBOX.r", data, None, now=now)[0].data


def make(js, now=0.0, **cfg):
    cfg.setdefault("name", "SVC")
    cfg.setdefault("subjects", ["svc.>"])
    return json.loads(api(js, f"$JS.API.STREAM.CREATE.{cfg['name']}", cfg, now))


def test_pub_acks_duplicates_and_errors_are_the_servers_compact_bytes():
    js = JetStream()
    make(js)
    pub = lambda h=None: js.handle("svc.a", "_INBOX.p", b"x", h, now=0.0)[0].data
    assert pub() == b'{"stream":"SVC","seq":1}'
    assert pub({"Nats-Msg-Id": "i"}) == b'{"stream":"SVC","seq":2}'
    assert pub({"Nats-Msg-Id": "i"}) == b'{"stream":"SVC","seq":2,"duplicate": true}'
    assert pub({"Nats-Expected-Stream": "X"}) == (
        b'{"error":{"code":400,"err_code":10060,"description":"expected stream does not match"},'
        b'"stream":"SVC","seq":0}')


def test_api_error_replies_are_compact_json():
    js = JetStream()
    # the real server also says type stream_info_response and adds total/offset/limit 0
    assert b'"error":{"code":404,"err_code":10059,"description":"stream not found"}' in api(
        js, "$JS.API.STREAM.INFO.NOPE")


def test_no_ack_stream_stores_but_sends_no_pub_ack():
    js = JetStream()
    make(js, no_ack=True)
    assert js.handle("svc.a", "_INBOX.p", b"x", None, now=0.0) == []
    info = json.loads(api(js, "$JS.API.STREAM.INFO.SVC"))
    assert info["state"]["messages"] == 1


def test_lowering_max_age_expires_old_messages_in_the_update_reply():
    js = JetStream()
    make(js, subjects=["k.>"])
    for t, subject in ((0.0, "k.a"), (0.0, "k.a"), (0.8, "k.b")):
        js.handle(subject, "", b"x", None, now=t)
    cfg = {"name": "SVC", "subjects": ["k.>"], "max_age": 500_000_000}
    state = json.loads(api(js, "$JS.API.STREAM.UPDATE.SVC", cfg, now=0.9))["state"]
    assert (state["messages"], state["first_seq"], state["num_subjects"]) == (1, 3, 1)


def test_deliver_subject_inside_the_streams_subjects_is_10081():
    js = JetStream()
    make(js, subjects=["s.*"])
    body = {"stream_name": "SVC", "config": {"deliver_subject": "s.out", "ack_policy": "none"}}
    assert json.loads(api(js, "$JS.API.CONSUMER.CREATE.SVC", body))["error"] == {
        "code": 400, "err_code": 10081, "description": "consumer deliver subject forms a cycle"}
    body["config"]["deliver_subject"] = "out.s"
    assert "error" not in json.loads(api(js, "$JS.API.CONSUMER.CREATE.SVC", body))


# Measured with nats-py requests on nats-server 2.15.1 (file storage unless named): an API error
# reply carries the response type of the request and the fields that response always marshals.
_ERR_404_STREAM = b'"error":{"code":404,"err_code":10059,"description":"stream not found"}'
_ERR_404_CONSUMER = b'"error":{"code":404,"err_code":10014,"description":"consumer not found"}'
_T = b'{"type":"io.nats.jetstream.api.v1.'


def test_api_errors_are_the_servers_bytes_with_the_requests_response_type():
    js = JetStream()
    make(js, name="S", subjects=["s.*"])
    js.handle("s.a", "", b"1", None, now=0.0)
    seq_start = {"durable_name": "c", "ack_policy": "none", "deliver_policy": "by_start_sequence"}
    replies = [
        api(js, "$JS.API.STREAM.INFO.NOPE"),
        api(js, "$JS.API.STREAM.CREATE.X", {"name": "X", "subjects": ["s.*"]}),
        api(js, "$JS.API.STREAM.CREATE.Y", {"name": "Y", "subjects": ["y"], "max_age": -1}),
        api(js, "$JS.API.STREAM.UPDATE.NOPE", {"name": "NOPE", "subjects": ["n"]}),
        api(js, "$JS.API.STREAM.DELETE.NOPE"),
        api(js, "$JS.API.STREAM.PURGE.NOPE"),
        api(js, "$JS.API.STREAM.MSG.GET.S", {"seq": 99}),
        api(js, "$JS.API.CONSUMER.INFO.S.nope"),
        api(js, "$JS.API.CONSUMER.INFO.NOPE.c"),
        api(js, "$JS.API.CONSUMER.DELETE.S.nope"),
        api(js, "$JS.API.CONSUMER.CREATE.S.c", {"stream_name": "S", "config": seq_start}),
        api(js, "$JS.API.CONSUMER.CREATE.NOPE.c",
            {"stream_name": "NOPE", "config": {"durable_name": "c"}}),
    ]
    assert replies == [
        _T + b'stream_info_response",' + _ERR_404_STREAM + b',"total":0,"offset":0,"limit":0}',
        _T + b'stream_create_response","error":{"code":400,"err_code":10065,'
             b'"description":"subjects overlap with an existing stream"}}',
        _T + b'stream_create_response","error":{"code":500,"err_code":10052,'
             b'"description":"max age can not be negative"}}',
        _T + b'stream_update_response",' + _ERR_404_STREAM + b'}',
        _T + b'stream_delete_response",' + _ERR_404_STREAM + b'}',
        _T + b'stream_purge_response",' + _ERR_404_STREAM + b',"purged":0}',
        _T + b'stream_msg_get_response","error":{"code":404,"err_code":10037,'
             b'"description":"no message found"}}',
        _T + b'consumer_info_response",' + _ERR_404_CONSUMER + b'}',
        _T + b'consumer_info_response",' + _ERR_404_STREAM + b'}',
        _T + b'consumer_delete_response",' + _ERR_404_CONSUMER + b'}',
        _T + b'consumer_create_response","error":{"code":400,"err_code":10094,"description":'
             b'"consumer delivery policy is deliver by start sequence, but optional start '
             b'sequence is not set"}}',
        _T + b'consumer_create_response",' + _ERR_404_STREAM + b'}',
    ]


def test_msg_delete_errors_are_the_stores_own():
    js = JetStream()
    make(js, name="S", subjects=["s.*"])
    make(js, name="M", subjects=["m.*"], storage="memory")
    for subject in ("s.a", "s.a", "m.a", "m.a"):
        js.handle(subject, "", b"x", None, now=0.0)
    delete = lambda stream, seq: api(js, f"$JS.API.STREAM.MSG.DELETE.{stream}", {"seq": seq})
    assert delete("S", 1) == _T + b'stream_msg_delete_response","success":true}'
    file_err = _T + b'stream_msg_delete_response","error":{"code":500,"err_code":10057,'
    assert [delete("S", 1), delete("S", 9)] == [file_err + b'"description":"no message found"}}',
                                                file_err + b'"description":"stream store EOF"}}']
    assert [delete("M", 1), delete("M", 1), delete("M", 9)] == [
        _T + b'stream_msg_delete_response","success":true}',
        _T + b'stream_msg_delete_response","error":{"code":400,"err_code":10043,'
             b'"description":"sequence 1 not found"}}',
        _T + b'stream_msg_delete_response","error":{"code":400,"err_code":10043,'
             b'"description":"sequence 9 not found"}}']


def test_a_stream_names_error_adds_an_empty_page_and_null_streams():
    js = JetStream()
    # server: ..."description":"invalid JSON: invalid character 'b' looking for beginning of
    # object key string at offset 2"},"total":0,"offset":0,"limit":0,"streams":null}
    reply = js.handle("$JS.API.STREAM.NAMES", "_INBOX.r", b"{bad", None, now=0.0)[0].data
    assert reply.startswith(_T + b'stream_names_response","error":{"code":400,"err_code":10025,')
    assert reply.endswith(b'},"total":0,"offset":0,"limit":0,"streams":null}')


# --- round 5 (scenarios e10, e12, e20, e21, e31, e32, e33), measured on nats-server 2.15.1 ---

def _pub(js, headers, subject="svc.a"):
    return json.loads(js.handle(subject, "_INBOX.p", b"x", headers, now=0.0)[0].data)


def test_expected_sequence_headers_that_are_not_digits_never_match_and_empty_is_absent():
    js = JetStream()
    make(js)
    assert _pub(js, None)["seq"] == 1
    for bad in ("abc", "-1", "+1"):
        err = _pub(js, {"Nats-Expected-Last-Sequence": bad})["error"]
        assert (err["err_code"], err["description"]) == (10071, "wrong last sequence: 1")
    assert _pub(js, {"Nats-Expected-Last-Sequence": "01"})["seq"] == 2
    assert _pub(js, {"Nats-Expected-Last-Subject-Sequence": ""})["seq"] == 3


def test_rollup_values_are_read_in_any_case_and_quoted_in_lower_case():
    js = JetStream()
    make(js, allow_rollup_hdrs=True)
    _pub(js, None, "svc.a"), _pub(js, None, "svc.b")
    assert _pub(js, {"Nats-Rollup": "SUB"}, "svc.a")["seq"] == 3
    err = _pub(js, {"Nats-Rollup": "BOGUS"})["error"]
    assert (err["err_code"], err["description"]) == (10111, 'rollup value invalid: "bogus"')
    assert _pub(js, {"Nats-Rollup": "ALL"}, "svc.b")["seq"] == 4
    state = json.loads(api(js, "$JS.API.STREAM.INFO.SVC"))["state"]
    assert (state["messages"], state["first_seq"]) == (1, 4)


def test_a_durable_name_over_255_characters_is_10102():
    js = JetStream()
    make(js)
    ok = "d" * 255
    reply = json.loads(api(js, f"$JS.API.CONSUMER.DURABLE.CREATE.SVC.{ok}",
                           {"stream_name": "SVC", "config": {"durable_name": ok}}))
    assert reply["name"] == ok
    long = "d" * 256
    err = json.loads(api(js, f"$JS.API.CONSUMER.DURABLE.CREATE.SVC.{long}",
                         {"stream_name": "SVC", "config": {"durable_name": long}}))["error"]
    assert err == {"code": 400, "err_code": 10102,
                   "description": "consumer name is too long, maximum allowed is 255"}


def test_enum_values_are_case_sensitive_except_discard():
    js = JetStream()
    err = make(js, retention="Limits")["error"]
    assert (err["err_code"], err["description"]) == (
        10025, 'invalid JSON: can not unmarshal "\\"Limits\\""')
    assert make(js, name="C", subjects=["c"], discard="NEW")["config"]["discard"] == "new"

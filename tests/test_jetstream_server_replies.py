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

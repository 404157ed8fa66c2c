"""Paused consumers: pause_until, the pause API, info while paused (consumer.go pause logic)."""

import json

from pmesh_sim.jetstream.api import JetStream
from pmesh_sim.jetstream.stream import _rfc3339


def api(js, subject, body=None, now=0.0, headers=None):
    data = json.dumps(body).encode() if body is not None else b""
    return js.handle(subject, "_INBOX.r", data, headers, now=now)


def reply(out):
    return json.loads(next(o for o in out if o.subject == "_INBOX.r").data)


def setup(pause_until=None):
    js = JetStream()
    api(js, "$JS.API.STREAM.CREATE.S", {"name": "S", "subjects": ["s.*"]})
    config = {"durable_name": "w", "ack_policy": "explicit"}
    if pause_until is not None:
        config["pause_until"] = pause_until
    out = api(js, "$JS.API.CONSUMER.DURABLE.CREATE.S.w", {"stream_name": "S", "config": config})
    js.handle("s.a", "", b"x", None, now=0.1)
    return js, out


def pull(js, now, batch=1, expires=5.0):
    body = {"batch": batch, "expires": int(expires * 1e9)}
    return [o for o in js.handle("$JS.API.CONSUMER.MSG.NEXT.S.w", "_INBOX.p",
                                 json.dumps(body).encode(), None, now=now)
            if o.subject == "_INBOX.p"]


def test_the_pause_api_pauses_until_the_date_and_info_says_so():
    js, _ = setup()
    resp = reply(api(js, "$JS.API.CONSUMER.PAUSE.S.w", {"pause_until": _rfc3339(10.0)}, now=1.0))
    assert (resp["paused"], resp["pause_until"], resp["pause_remaining"]) == \
        (True, "1970-01-01T00:00:10Z", 9_000_000_000)
    info = reply(api(js, "$JS.API.CONSUMER.INFO.S.w", now=2.0))
    assert (info["paused"], info["pause_remaining"], info["num_pending"]) == \
        (True, 8_000_000_000, 1)


def test_a_pull_waits_while_paused_and_is_served_when_the_pause_ends():
    js, _ = setup(pause_until=_rfc3339(3.0))
    assert pull(js, now=1.0, expires=5.0) == []
    assert js.next_deadline() == 3.0
    out = js.on_timer(3.0)
    assert [o.subject for o in out] == ["$JS.EVENT.ADVISORY.CONSUMER.PAUSE.S.w", "_INBOX.p"]
    assert json.loads(out[0].data)["paused"] is False


def test_resuming_through_the_api_waits_for_the_next_event():
    js, _ = setup(pause_until=_rfc3339(30.0))
    pull(js, now=1.0)
    out = api(js, "$JS.API.CONSUMER.PAUSE.S.w", {}, now=2.0)
    assert reply(out) == {"type": "io.nats.jetstream.api.v1.consumer_pause_response",
                          "paused": False, "pause_until": "0001-01-01T00:00:00Z"}
    assert [o.subject for o in out if o.subject == "_INBOX.p"] == []   # not woken
    assert len(pull(js, now=2.5)) == 1                                # the next pull is served


def test_an_update_keeps_the_pause_and_create_does_not_see_it_as_a_change():
    js, created = setup(pause_until=_rfc3339(30.0))
    assert "$JS.EVENT.ADVISORY.CONSUMER.PAUSE.S.w" in [o.subject for o in created]
    out = api(js, "$JS.API.CONSUMER.CREATE.S.w", {"stream_name": "S", "action": "create", "config": {
        "durable_name": "w", "ack_policy": "explicit", "ack_wait": 30_000_000_000}}, now=1.0)
    info = reply(out)
    assert info["paused"] is True and info["config"]["pause_until"] == "1970-01-01T00:00:30Z"


def test_a_pause_until_that_is_not_a_date_is_10025():
    js, _ = setup()
    err = reply(api(js, "$JS.API.CONSUMER.PAUSE.S.w", {"pause_until": "soon"}))["error"]
    assert err["err_code"] == 10025 and "cannot parse" in err["description"]

"""Acks sent as requests: answered when the server takes them, not when it ignores them."""

import json

from pmesh_sim.jetstream.api import JetStream


def setup(ack_policy="explicit"):
    js = JetStream()
    js.handle("$JS.API.STREAM.CREATE.S", "r", b'{"name":"S","subjects":["s.*"]}', None, now=0.0)
    body = {"stream_name": "S", "config": {"durable_name": "c", "ack_policy": ack_policy}}
    js.handle("$JS.API.CONSUMER.DURABLE.CREATE.S.c", "r", json.dumps(body).encode(), None, now=0.0)
    for subject in ("s.a", "s.b"):
        js.handle(subject, "", b"x", None, now=0.0)
    js.handle("$JS.API.CONSUMER.MSG.NEXT.S.c", "_INBOX.p", b'{"batch":1}', None, now=0.1)
    return js


def answered(js, sseq, data):
    out = js.handle(f"$JS.ACK.S.c.1.{sseq}.{sseq}.0.0", "_INBOX.a", data, None, now=0.2)
    return [o.data for o in out if o.subject == "_INBOX.a"] == [b""]


def test_an_ack_for_what_was_delivered_is_answered_again_and_again():
    js = setup()
    assert answered(js, 1, b"+ACK") and answered(js, 1, b"+ACK")


def test_an_ack_or_term_beyond_the_deliveries_is_not_answered():
    js = setup()
    assert not answered(js, 2, b"+ACK") and not answered(js, 2, b"+TERM")
    assert answered(js, 2, b"-NAK") and answered(js, 2, b"+WPI")


def test_an_ack_none_consumer_has_no_ack_subject():
    assert not any(s.startswith("$JS.ACK.") for s in setup("none").interest())
    assert "$JS.ACK.S.c.*.*.*.*.*" in setup().interest()

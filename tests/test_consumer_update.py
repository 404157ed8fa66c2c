"""Consumer updates as the server allows them (checkNewConsumerConfig, updateConfig), and resets."""

import json

import pytest

from pmesh_sim.config import ConsumerConfig, check_consumer_update
from pmesh_sim.errors import JetStreamError
from pmesh_sim.jetstream.api import JetStream


def api(js, subject, body=None, now=0.0):
    data = json.dumps(body).encode() if body is not None else b""
    return json.loads(js.handle(subject, "_INBOX.r", data, None, now=now)[0].data)


def test_max_waiting_can_not_be_updated():
    with pytest.raises(JetStreamError, match="max waiting can not be updated"):
        check_consumer_update(ConsumerConfig(max_waiting=512), ConsumerConfig(max_waiting=10))


def test_start_times_compare_as_times():
    a = ConsumerConfig(opt_start_time="2026-01-01T01:00:00+01:00")
    check_consumer_update(a, ConsumerConfig(opt_start_time="2026-01-01T00:00:00Z"))
    with pytest.raises(JetStreamError, match="start time can not be updated"):
        check_consumer_update(a, ConsumerConfig(opt_start_time="2026-01-01T00:00:01Z"))


def test_more_than_one_replica_on_one_server_is_10074():
    js = JetStream()
    api(js, "$JS.API.STREAM.CREATE.S", {"name": "S", "subjects": ["s.*"]})
    err = api(js, "$JS.API.CONSUMER.DURABLE.CREATE.S.c", {"stream_name": "S", "config": {
        "durable_name": "c", "ack_policy": "explicit", "num_replicas": 3}})["error"]
    assert err["err_code"] == 10074


def test_a_shorter_ack_wait_counts_from_the_delivery():
    js = JetStream()
    api(js, "$JS.API.STREAM.CREATE.S", {"name": "S", "subjects": ["s.*"]})
    cfg = {"durable_name": "c", "ack_policy": "explicit", "ack_wait": 5 * 10**9}
    api(js, "$JS.API.CONSUMER.DURABLE.CREATE.S.c", {"stream_name": "S", "config": cfg})
    js.handle("s.a", "", b"x", None, now=0.0)
    js.handle("$JS.API.CONSUMER.MSG.NEXT.S.c", "_INBOX.p", b'{"batch":1}', None, now=1.0)
    api(js, "$JS.API.CONSUMER.DURABLE.CREATE.S.c",
        {"stream_name": "S", "config": {**cfg, "ack_wait": 2 * 10**9}}, now=1.5)
    assert js.streams["S"].consumers["c"].pending[1][1] == 3.0     # delivered at 1.0, + 2 s
    api(js, "$JS.API.CONSUMER.DURABLE.CREATE.S.c",
        {"stream_name": "S", "config": {**cfg, "ack_wait": 10**8}}, now=2.0)
    assert js.streams["S"].consumers["c"].pending[1][1] == 2.1     # past due: 100 ms from now


def test_a_reset_starts_again_at_the_ack_floor_with_nothing_pending():
    js = JetStream()
    api(js, "$JS.API.STREAM.CREATE.S", {"name": "S", "subjects": ["s.*"]})
    api(js, "$JS.API.CONSUMER.DURABLE.CREATE.S.c", {"stream_name": "S", "config": {
        "durable_name": "c", "ack_policy": "explicit"}})
    for subject in ("s.a", "s.b"):
        js.handle(subject, "", b"x", None, now=0.0)
    js.handle("$JS.API.CONSUMER.MSG.NEXT.S.c", "_INBOX.p", b'{"batch":2}', None, now=0.1)
    resp = api(js, "$JS.API.CONSUMER.RESET.S.c", None, now=0.2)
    assert (resp["reset_seq"], resp["num_ack_pending"], resp["delivered"]) == \
        (1, 0, {"consumer_seq": 0, "stream_seq": 0})


def test_a_reset_of_a_deliver_new_consumer_to_a_sequence_is_10204():
    js = JetStream()
    api(js, "$JS.API.STREAM.CREATE.S", {"name": "S", "subjects": ["s.*"]})
    api(js, "$JS.API.CONSUMER.DURABLE.CREATE.S.n", {"stream_name": "S", "config": {
        "durable_name": "n", "ack_policy": "explicit", "deliver_policy": "new"}})
    resp = api(js, "$JS.API.CONSUMER.RESET.S.n", {"seq": 2})
    assert resp == {"type": "io.nats.jetstream.api.v1.consumer_reset_response",
                    "error": {"code": 400, "err_code": 10204,
                              "description": "invalid reset: not allowed"}, "reset_seq": 0}

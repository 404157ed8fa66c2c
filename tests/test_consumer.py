"""Consumer delivery state as timelines: pulls, acks, redelivery, max_deliver, retention."""

import json

from pmesh_sim.jetstream.api import JetStream
from pmesh_sim.jetstream.consumer import parse_ack_subject


class Harness:
    def __init__(self, stream=None, **consumer):
        self.events = []
        self.js = JetStream(emit=lambda kind, **f: self.events.append((kind, f)))
        stream = {"name": "S", "subjects": ["s.>"], **(stream or {})}
        self.api("$JS.API.STREAM.CREATE.S", stream)
        for key in ("ack_wait", "inactive_threshold"):
            if key in consumer:
                consumer[key] = int(consumer[key] * 1e9)   # seconds -> the wire's nanoseconds
        self.cfg = {"durable_name": "d", "ack_policy": "explicit", **consumer}
        self.info_ = self.api("$JS.API.CONSUMER.CREATE.S.d", {"stream_name": "S", "config": self.cfg})

    def api(self, subject, body, now=0.0):
        out = self.js.handle(subject, "_INBOX.r", json.dumps(body).encode(), None, now=now)
        return json.loads(out[0].data)

    def pub(self, n=1, subject="s.1", now=0.0):
        for _ in range(n):
            self.js.handle(subject, "", b"x", None, now=now)

    def fetch(self, batch=10, now=0.0, no_wait=True, expires=0):
        body = {"batch": batch, "no_wait": no_wait}
        if expires:
            body["expires"] = int(expires * 1e9)
        out = self.js.handle("$JS.API.CONSUMER.MSG.NEXT.S.d", "_INBOX.f", json.dumps(body).encode(),
                             None, now=now)
        return [(parse_ack_subject(o.reply)[3] if o.reply else (o.headers or {}).get("Status"))
                for o in out], out

    def ack(self, out, payload=b"+ACK", now=0.0, reply=""):
        return self.js.handle(out.reply, reply, payload, None, now=now)

    def tick(self, now):
        return self.js.on_timer(now)

    def info(self, now=0.0):
        return self.api("$JS.API.CONSUMER.INFO.S.d", {}, now=now)


def test_fetch_no_wait_gets_what_is_there_then_404():
    h = Harness()
    h.pub(2)
    seqs, _ = h.fetch(5)
    assert seqs == [1, 2, "404"]
    assert h.fetch(5)[0] == ["404"]


def test_request_that_waits_ends_with_408_at_expiry():
    h = Harness()
    seqs, out = h.fetch(5, no_wait=False, expires=1.0)
    assert seqs == []
    assert h.js.next_deadline() == 1.0
    expired = h.tick(1.0)
    assert [(o.subject, o.headers["Status"], o.headers["Description"]) for o in expired] == \
        [("_INBOX.f", "408", "Request Timeout")]


def test_unacked_message_is_redelivered_after_ack_wait_with_a_new_consumer_seq():
    h = Harness(ack_wait=2.0)
    h.pub(1)
    _, out = h.fetch(1)
    h.tick(2.0)
    _, out2 = h.fetch(1, now=2.0)
    meta = parse_ack_subject(out2[0].reply)
    assert (meta[2], meta[3], meta[4]) == (2, 1, 2)   # delivered twice, stream seq 1, consumer seq 2
    assert [(k, f["num_delivered"]) for k, f in h.events if k in ("js_deliver", "ack_timeout")] \
        == [("js_deliver", 1), ("ack_timeout", 1), ("js_deliver", 2)]


def test_nak_with_delay_redelivers_after_the_delay():
    h = Harness(ack_wait=30.0)
    h.pub(1)
    _, out = h.fetch(1)
    h.ack(out[0], b'-NAK {"delay": 2000000000}')
    assert h.js.next_deadline() == 2.0
    assert h.fetch(1, now=1.0)[0] == ["404"]
    h.tick(2.0)
    assert h.fetch(1, now=2.0)[0] == [1]


def test_redeliveries_go_before_new_messages_in_stream_order():
    h = Harness(ack_wait=1.0)
    h.pub(2)
    h.fetch(2)
    h.pub(1)
    h.tick(1.0)
    assert h.fetch(3, now=1.0)[0] == [1, 2, 3]


def test_max_ack_pending_stops_only_new_messages_and_keeps_a_no_wait_request_open():
    # real nats-server 2.15.1: a no_wait request held back by max_ack_pending is not ended
    # with 404; it stays waiting and each ack_wait redelivery of seq 1 lands in it
    h = Harness(max_ack_pending=1, ack_wait=1.0)
    h.pub(2)
    assert h.fetch(5)[0] == [1]
    redelivered = h.tick(1.0)
    assert [(o.subject, parse_ack_subject(o.reply)[2:5]) for o in redelivered] == \
        [("_INBOX.f", (2, 1, 2))]
    assert h.info(now=1.0)["num_waiting"] == 1


def test_max_deliver_stops_redelivery_and_publishes_one_advisory():
    h = Harness(max_deliver=2, ack_wait=1.0)
    h.pub(1)
    h.fetch(1)
    h.tick(1.0)
    h.fetch(1, now=1.0)
    h.tick(2.0)
    _, out = h.fetch(1, now=2.0)
    assert sorted((o.subject, (o.headers or {}).get("Status")) for o in out) == [
        ("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.S.d", None), ("_INBOX.f", "404")]
    info = h.info(now=2.0)
    assert (info["num_ack_pending"], info["num_redelivered"]) == (0, 1)
    assert ("max_deliver", {"stream": "S", "consumer": "d", "stream_seq": 1,
                            "num_delivered": 2, "msg_id": 0}) in h.events


def test_max_deliver_one_leaves_pending_when_its_ack_wait_runs_out():
    # found by the fuzzer: nats-server drops it from pending at the expiry, no pull needed
    h = Harness(max_deliver=1, ack_wait=1.0)
    h.pub(1)
    h.fetch(1)
    assert h.info(now=0.5)["num_ack_pending"] == 1
    expired = h.tick(1.0)
    assert [o.subject for o in expired] == ["$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.S.d"]
    info = h.info(now=1.0)
    assert (info["num_ack_pending"], info["num_redelivered"]) == (0, 0)


def test_ack_floor_and_consumer_info_as_the_server_computes():
    h = Harness()
    h.pub(3)
    _, out = h.fetch(3)
    h.ack(out[1])
    info = h.info()
    # last_active: when it last delivered, when it last took an ack (the floor need not move)
    at = "1970-01-01T00:00:00Z"
    assert (info["delivered"], info["ack_floor"], info["num_ack_pending"], info["num_pending"]) == \
        ({"consumer_seq": 3, "stream_seq": 3, "last_active": at},
         {"consumer_seq": 0, "stream_seq": 0, "last_active": at}, 2, 0)
    h.ack(out[0])
    assert h.info()["ack_floor"] == {"consumer_seq": 2, "stream_seq": 2, "last_active": at}


def test_ack_all_acks_everything_up_to_the_acked_message():
    h = Harness(ack_policy="all")
    h.pub(3)
    _, out = h.fetch(3)
    h.ack(out[1])
    info = h.info()
    assert (info["num_ack_pending"], info["ack_floor"]) == (
        1, {"consumer_seq": 2, "stream_seq": 2, "last_active": "1970-01-01T00:00:00Z"})


def test_in_progress_restarts_the_ack_timer():
    h = Harness(ack_wait=2.0)
    h.pub(1)
    _, out = h.fetch(1)
    h.ack(out[0], b"+WPI", now=1.5)
    assert h.js.next_deadline() == 3.5


def test_ack_sync_gets_an_empty_reply():
    h = Harness()
    h.pub(1)
    _, out = h.fetch(1)
    replies = h.ack(out[0], reply="_INBOX.ack")
    assert [(o.subject, o.data) for o in replies] == [("_INBOX.ack", b"")]


def test_workqueue_removes_on_ack_and_term():
    h = Harness(stream={"retention": "workqueue"})
    h.pub(2)
    _, out = h.fetch(2)
    h.ack(out[0])
    h.ack(out[1], b"+TERM")
    assert h.api("$JS.API.STREAM.INFO.S", {})["state"]["messages"] == 0


def test_interest_stream_keeps_a_message_until_every_matching_consumer_acked():
    h = Harness(stream={"retention": "interest"})
    h.api("$JS.API.CONSUMER.CREATE.S.e", {"stream_name": "S", "config": {
        "durable_name": "e", "ack_policy": "explicit"}})
    h.pub(1)
    _, out = h.fetch(1)
    h.ack(out[0])
    assert h.api("$JS.API.STREAM.INFO.S", {})["state"]["messages"] == 1
    out = h.js.handle("$JS.API.CONSUMER.MSG.NEXT.S.e", "_INBOX.g", b'{"batch":1}', None, now=0.0)
    h.ack(out[0])
    assert h.api("$JS.API.STREAM.INFO.S", {})["state"]["messages"] == 0


def test_deliver_policies_pick_the_start():
    for policy, extra, expected in [("all", {}, [1, 2, 3]), ("last", {}, [3]), ("new", {}, []),
                                    ("by_start_sequence", {"opt_start_seq": 2}, [2, 3])]:
        h = Harness()
        h.pub(3)
        h.api("$JS.API.CONSUMER.CREATE.S.p", {"stream_name": "S", "config": {
            "durable_name": "p", "ack_policy": "explicit", "deliver_policy": policy, **extra}})
        out = h.js.handle("$JS.API.CONSUMER.MSG.NEXT.S.p", "_INBOX.g",
                          b'{"batch":5,"no_wait":true}', None, now=0.0)
        assert [parse_ack_subject(o.reply)[3] for o in out if o.reply] == expected, policy


def test_last_per_subject_delivers_the_last_of_each_subject():
    h = Harness()
    for subj in ["s.a", "s.b", "s.a"]:
        h.pub(1, subj)
    h.api("$JS.API.CONSUMER.CREATE.S.p", {"stream_name": "S", "config": {
        "durable_name": "p", "ack_policy": "explicit", "deliver_policy": "last_per_subject",
        "filter_subject": "s.*"}})
    out = h.js.handle("$JS.API.CONSUMER.MSG.NEXT.S.p", "_INBOX.g", b'{"batch":5,"no_wait":true}',
                      None, now=0.0)
    assert [parse_ack_subject(o.reply)[3] for o in out if o.reply] == [2, 3]


def test_backoff_sets_the_wait_after_each_delivery():
    h = Harness(backoff=[1_000_000_000, 5_000_000_000], max_deliver=5)
    h.pub(1)
    h.fetch(1)
    assert h.js.next_deadline() == 1.0
    h.tick(1.0)
    h.fetch(1, now=1.0)
    assert h.js.next_deadline() == 6.0


def test_ephemeral_consumer_is_deleted_after_inactive_threshold():
    h = Harness()
    info = h.api("$JS.API.CONSUMER.CREATE.S", {"stream_name": "S", "config": {
        "ack_policy": "explicit", "inactive_threshold": 2_000_000_000}})
    name = info["name"]
    h.tick(2.0)
    assert h.api(f"$JS.API.CONSUMER.INFO.S.{name}", {})["error"]["err_code"] == 10014


def _start(stream_msgs, purge=False, **cfg):
    """(delivered stream_seq, num_pending) of a consumer created after ``stream_msgs``."""
    h = Harness()
    for subject in stream_msgs:
        h.pub(1, subject)
    if purge:
        h.api("$JS.API.STREAM.PURGE.S", {})
    body = {"durable_name": "x", "ack_policy": "explicit", **cfg}
    info = h.api("$JS.API.CONSUMER.CREATE.S.x", {"stream_name": "S", "config": body})
    return info["delivered"]["stream_seq"], info["num_pending"]


def test_start_sequences_as_the_real_server_selects_them():
    # real nats-server 2.15.1 (scenarios consumer-deliver-policies-filtered, -after-purge,
    # -empty-stream-start)
    msgs = ["s.a", "s.b", "s.a", "s.b", "s.c"]
    assert _start(msgs, deliver_policy="last", filter_subject="s.a") == (2, 1)
    assert _start(msgs, deliver_policy="last", filter_subject="s.z") == (0, 0)
    assert _start(msgs, deliver_policy="by_start_sequence", opt_start_seq=20) == (19, 0)
    assert _start(["s.a"] * 3, purge=True, deliver_policy="last") == (3, 0)
    assert _start(["s.a"] * 3, purge=True, deliver_policy="by_start_sequence",
                  opt_start_seq=2) == (3, 0)
    assert _start([], deliver_policy="last") == (0, 0)
    assert _start([], deliver_policy="new") == (0, 0)
    assert _start([], deliver_policy="by_start_sequence", opt_start_seq=5) == (4, 0)


# ---- round 2 of outside scenarios; expected values measured on nats-server 2.15.1

def test_max_deliver_one_reports_no_redeliveries():
    h = Harness(max_deliver=1, ack_wait=0.5)
    h.pub(2)
    h.fetch(batch=1, now=0.0)
    _, out = h.fetch(batch=1, now=0.0)
    h.ack(out[0], b"-NAK", now=0.1)
    assert h.info(now=0.1)["num_redelivered"] == 0
    h.tick(1.0)
    _, out = h.fetch(batch=2, now=1.0)   # nothing comes back; the rest are max_deliver advisories
    assert [o.headers["Status"] for o in out if o.subject == "_INBOX.f"] == ["404"]
    assert (h.info(now=1.0)["num_redelivered"], h.info(now=1.0)["num_ack_pending"]) == (0, 0)


def test_num_pending_after_widening_the_filter_counts_from_where_the_scan_stopped():
    h = Harness(filter_subject="s.a")
    h.pub(1, "s.a"), h.pub(1, "s.b")
    assert h.fetch(batch=2)[0] == [1, "404"]   # the scan passed s.b (seq 2) looking for s.a
    h.cfg["filter_subject"] = "s.>"
    info = h.api("$JS.API.CONSUMER.CREATE.S.d", {"stream_name": "S", "config": h.cfg})
    assert (info["delivered"]["stream_seq"], info["num_pending"]) == (1, 0)
    h.pub(1, "s.b")
    assert h.info()["num_pending"] == 1


def test_headers_only_sends_no_payload_and_the_size_as_a_header():
    h = Harness(headers_only=True)
    h.js.handle("s.1", "", b"hello", {"X": "1"}, now=0.0)
    _, out = h.fetch(batch=1)
    assert (out[0].data, out[0].headers) == (b"", {"X": "1", "Nats-Msg-Size": "5"})


def test_pull_requests_over_max_batch_max_expires_max_bytes_get_409():
    h = Harness(max_batch=1, max_expires=300_000_000, max_bytes=100)
    h.pub(2)
    _, out = h.fetch(batch=2)
    assert out[0].headers == {"Status": "409", "Description": "Exceeded MaxRequestBatch of 1"}
    _, out = h.fetch(batch=1, no_wait=False, expires=0.6)
    assert out[0].headers["Description"] == "Exceeded MaxRequestExpires of 300ms"
    out = h.js.handle("$JS.API.CONSUMER.MSG.NEXT.S.d", "_INBOX.f",
                      b'{"batch": 1, "max_bytes": 200}', None, now=0.0)
    assert out[0].headers["Description"] == "Exceeded MaxRequestMaxBytes of 100"
    assert h.info()["num_pending"] == 2       # nothing was delivered
    assert h.fetch(batch=1, no_wait=False, expires=0.2)[0] == [1]


def test_go_duration_text_matches_the_servers():
    from pmesh_sim.jetstream.pull import go_duration

    assert [go_duration(int(s * 1e9)) for s in (0.3, 1.0, 2.5, 61.0)] == \
        ["300ms", "1s", "2.5s", "1m1s"]


def test_push_idle_heartbeat_is_due_idle_heartbeat_after_the_last_delivery():
    h = Harness(ack_policy="none", deliver_subject="dlv", idle_heartbeat=500_000_000)
    for st in h.js.streams.values():
        for c in st.consumers.values():
            c.has_interest = lambda subject, queue=None: True   # always subscribed
    assert h.js.next_deadline() == 0.5
    h.js.on_interest_change(0.0)
    h.pub(now=0.2)
    assert h.js.next_deadline() == 0.7      # restarted by the delivery at 0.2
    out = h.js.on_timer(0.7)
    assert [(o.subject, o.data, o.headers) for o in out] == [("dlv", b"", {
        "Status": "100", "Description": "Idle Heartbeat",
        "Nats-Last-Consumer": "1", "Nats-Last-Stream": "1"})]
    assert h.js.next_deadline() == 1.2      # and again by the heartbeat itself


def test_max_deliver_1_leaves_ack_pending_when_the_ack_wait_runs_out():
    # consumer.go checkPending -> hasMaxDeliveries: no pull request needed; floor stays 0/0
    h = Harness(ack_wait=0.35, max_deliver=1)
    h.pub(1)
    seqs, _ = h.fetch(now=0.2)
    assert seqs[0] == 1 and h.info(now=0.5)["num_ack_pending"] == 1
    out = h.tick(0.55)
    info = h.info(now=0.6)
    assert info["num_ack_pending"] == 0 and info["ack_floor"]["stream_seq"] == 0
    assert any("MAX_DELIVERIES" in o.subject for o in out)


def test_max_deliver_2_keeps_the_last_delivery_pending_after_its_ack_wait():
    # hasMaxDeliveries counts redeliveries (at least 1): 1 < 2 after the second delivery
    h = Harness(ack_wait=0.25, max_deliver=2)
    h.pub(1)
    h.fetch(now=0.0)
    h.tick(0.25)
    seqs, _ = h.fetch(now=0.3)
    assert seqs[0] == 1
    h.tick(0.55)
    assert h.info(now=0.6)["num_ack_pending"] == 1
    _, out = h.fetch(now=0.7)    # the pull finds it used up: a 404 and the advisory
    assert [o.headers["Status"] for o in out if o.subject == "_INBOX.f"] == ["404"]
    assert h.info(now=0.8)["num_ack_pending"] == 0


def test_start_past_the_end_counts_earlier_filtered_messages_until_info_clamps():
    # consumer.go processStreamSignal counts them; checkNumPending clamps and keeps the clamp
    h = Harness(deliver_policy="by_start_sequence", opt_start_seq=4, filter_subject="s.a")
    h.pub(3, subject="s.a")
    h.pub(1, subject="s.b")
    c = h.js.streams["S"].consumers["d"]
    assert c.num_pending() == 3           # the cached count, as an ack reply would carry it
    assert h.info()["num_pending"] == 1   # at most the messages from seq 4 to the last
    h.pub(1, subject="s.b")
    assert h.info()["num_pending"] == 1   # the clamp stays: min(1, 5, 2)


def test_start_past_the_end_surplus_goes_when_a_pull_finds_nothing():
    # consumer.go checkNumPendingOnEOF
    h = Harness(deliver_policy="by_start_sequence", opt_start_seq=4, filter_subject="s.a")
    h.pub(3, subject="s.a")
    assert h.fetch()[0] == ["404"]
    h.pub(2, subject="s.b")
    assert h.info()["num_pending"] == 0


def test_memory_skip_past_is_not_stored_so_info_reads_the_stores_delivered():
    # memstore answers "nothing" with the last seq and o.sseq moves past it, but the
    # consumer store (which info reads once it has a state) is not told
    h = Harness(stream={"storage": "memory"}, filter_subject="s.a")
    h.pub(1, subject="s.a")
    h.fetch(now=0.1)                      # seq 1 delivered, pending
    h.pub(1, subject="s.c")
    assert h.fetch(now=0.2, no_wait=False, expires=0.05)[0] == []   # waits: nothing to send
    h.tick(0.25)                          # the request expires
    c = h.js.streams["S"].consumers["d"]
    assert c.sseq == 3                    # in memory: past the end
    info = h.info(now=0.3)
    assert info["delivered"]["stream_seq"] == 1 and info["ack_floor"]["stream_seq"] == 0
    h.pub(1, subject="s.a")
    h.fetch(now=0.4)                      # a delivery is stored: delivered 3
    assert h.info(now=0.5)["delivered"]["stream_seq"] == 3

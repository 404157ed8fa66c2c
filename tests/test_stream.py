"""The stream store: limits, discard, dedup, expected headers, rollups, purge, state."""

import pytest

from pmesh_sim.config import StreamConfig, check_stream_config
from pmesh_sim.errors import JetStreamError
from pmesh_sim.jetstream.stream import Stream


def stream(**kw):
    kw.setdefault("subjects", ["s.>"])
    return Stream(check_stream_config(StreamConfig(name="S", **kw)))


def pub(st, subject="s.1", data=b"x", headers=None, now=0.0):
    try:
        return st.publish(subject, data, headers, now)
    except JetStreamError as err:
        return err.err_code, err.description


def test_discard_old_evicts_the_oldest():
    st = stream(max_msgs=2)
    assert [pub(st)[0] for _ in range(3)] == [1, 2, 3]
    s = st.state()
    assert (s["messages"], s["first_seq"], s["last_seq"]) == (2, 2, 3)


def test_discard_new_rejects_with_10077():
    st = stream(max_msgs=1, discard="new")
    assert pub(st) == (1, False)
    assert pub(st) == (10077, "maximum messages exceeded")
    st = stream(max_bytes=60, discard="new", storage="memory")
    assert pub(st, data=b"x" * 30) == (1, False)
    assert pub(st, data=b"x" * 30) == (10077, "maximum bytes exceeded")


def test_per_subject_limit_evicts_oldest_on_that_subject_or_rejects_when_asked():
    st = stream(max_msgs_per_subject=1)
    pub(st, "s.a"), pub(st, "s.b"), pub(st, "s.a")
    assert sorted(st.msgs) == [2, 3]
    st = stream(max_msgs_per_subject=1, discard="new", discard_new_per_subject=True)
    pub(st, "s.a")
    assert pub(st, "s.a") == (10077, "maximum messages per subject exceeded")


def test_duplicates_return_the_original_sequence_until_the_window_from_the_first_store():
    st = stream(duplicate_window=1.0)
    h = {"Nats-Msg-Id": "m1"}
    assert pub(st, headers=h, now=0.0) == (1, False)
    assert pub(st, headers=h, now=0.9) == (1, True)   # does not extend the window
    assert pub(st, headers=h, now=1.0) == (2, False)


def test_expected_headers_in_the_servers_order():
    st = stream()
    pub(st, "s.a"), pub(st, "s.b")
    assert pub(st, headers={"Nats-Expected-Stream": "T"}) == (10060, "expected stream does not match")
    assert pub(st, "s.a", headers={"Nats-Expected-Last-Subject-Sequence": "2"}) == \
        (10071, "wrong last sequence: 1")
    assert pub(st, headers={"Nats-Expected-Last-Sequence": "1"}) == (10071, "wrong last sequence: 2")
    assert pub(st, headers={"Nats-Expected-Last-Msg-Id": "x"}) == (10070, "wrong last msg ID: ")
    assert pub(st, "s.a", headers={"Nats-Expected-Last-Subject-Sequence": "1"}) == (3, False)


def test_rollup_needs_allow_rollup_hdrs():
    st = stream()
    assert pub(st, headers={"Nats-Rollup": "sub"}) == (10111, "rollup not permitted")
    st = stream(allow_rollup_hdrs=True)
    pub(st, "s.a"), pub(st, "s.a"), pub(st, "s.b")
    assert pub(st, "s.a", headers={"Nats-Rollup": "sub"}) == (4, False)
    assert sorted(st.msgs) == [3, 4]


def test_max_msg_size_counts_headers_and_data():
    st = stream(max_msg_size=10)
    assert pub(st, data=b"x" * 11) == (10054, "message size exceeds maximum allowed")


def test_sealed_stream_refuses_publishes():
    st = stream()
    st.config.sealed = True
    assert pub(st) == (10109, "invalid operation on sealed stream")


def test_empty_stream_state_has_first_seq_after_last_seq():
    st = stream()
    pub(st), pub(st)
    assert st.purge() == 2
    s = st.state()
    assert (s["messages"], s["first_seq"], s["last_seq"], s["num_deleted"]) == (0, 3, 2, 0)


def test_purge_by_subject_sequence_and_keep():
    st = stream()
    for subj in ["s.a", "s.b", "s.a", "s.a"]:
        pub(st, subj)
    assert st.purge(subject="s.a", keep=1) == 2
    assert sorted(st.msgs) == [2, 4]
    assert st.purge(seq=4) == 1
    assert sorted(st.msgs) == [4]


def test_deleting_in_the_middle_counts_as_deleted():
    st = stream()
    for _ in range(3):
        pub(st)
    st.remove(2)
    s = st.state()
    assert (s["messages"], s["num_deleted"], s["first_seq"]) == (2, 1, 1)


def test_max_age_expires_old_messages():
    st = stream(max_age=1.0)
    pub(st, now=0.0), pub(st, now=0.5)
    assert st.next_expiry() == 1.0
    st.expire(1.0)
    assert sorted(st.msgs) == [2]


def test_interest_stream_without_consumers_uses_the_sequence_but_stores_nothing():
    st = stream(retention="interest")
    assert pub(st) == (1, False)
    assert (st.state()["messages"], st.state()["last_seq"]) == (0, 1)


# --- discard new with a per-subject limit (real nats-server 2.15.1, memstore storeRawMsg) ----

def test_discard_new_lets_a_subject_at_its_limit_replace_its_oldest_when_the_stream_is_full():
    st = stream(max_msgs=3, max_msgs_per_subject=2, discard="new")
    assert [pub(st, s)[0] for s in ("s.a", "s.a", "s.a", "s.b")] == [1, 2, 3, 4]
    assert pub(st, "s.b") == (10077, "maximum messages exceeded")   # s.b is below its limit
    assert pub(st, "s.a") == (5, False)                             # s.a at 2: replaces seq 2
    assert sorted(st.msgs) == [3, 4, 5]


def test_discard_new_max_bytes_replacement_must_not_be_larger_than_the_message_it_replaces():
    st = stream(max_bytes=100, max_msgs_per_subject=1, discard="new", storage="memory")
    assert pub(st, "s.a", b"a" * 30) == (1, False)
    assert pub(st, "s.b", b"b" * 30) == (2, False)
    assert pub(st, "s.c", b"c" * 30) == (10077, "maximum bytes exceeded")
    assert pub(st, "s.a", b"A" * 30) == (3, False)
    assert pub(st, "s.b", b"B" * 36) == (10077, "maximum bytes exceeded")
    assert sorted(st.msgs) == [2, 3]


def test_a_rollup_passes_discard_new_per_subject_and_rolls_the_subject_up():
    st = stream(max_msgs_per_subject=1, discard="new", discard_new_per_subject=True,
                allow_rollup_hdrs=True)
    assert pub(st, "s.a") == (1, False)
    assert pub(st, "s.a") == (10077, "maximum messages per subject exceeded")
    assert pub(st, "s.a", headers={"Nats-Rollup": "sub"}) == (2, False)
    assert sorted(st.msgs) == [2]


# --- purges and removals move consumers (consumer.go purge / decStreamPending) ---------------

def _with_consumer(retention="limits", **consumer):
    import json

    from pmesh_sim.jetstream.api import JetStream

    js = JetStream()
    js.handle("$JS.API.STREAM.CREATE.S", "_INBOX.r", json.dumps(
        {"name": "S", "subjects": ["s.*"], "retention": retention}).encode(), None, now=0.0)
    for name, cfg in consumer.items():
        js.handle(f"$JS.API.CONSUMER.CREATE.S.{name}", "_INBOX.r", json.dumps(
            {"stream_name": "S", "config": {"durable_name": name, "ack_policy": "explicit",
                                            "ack_wait": 5_000_000_000, **cfg}}).encode(),
                  None, now=0.0)
    return js, js.streams["S"]


def _floors(c):
    return (c.dseq - 1, c.sseq - 1), (c.adflr, c.asflr), sorted(c.pending)


def test_purge_keep_raises_the_ack_floor_to_the_highest_dropped_delivery():
    js, st = _with_consumer(c={})
    for _ in range(4):
        st.publish("s.a", b"x", None, 0.0)
    c = st.consumers["c"]
    c.pull("_INBOX.f", b'{"batch": 4, "no_wait": true}', 0.0)
    st.purge(keep=2)
    assert _floors(c) == ((4, 4), (2, 2), [3, 4])
    st.purge(seq=4)
    assert _floors(c) == ((4, 4), (3, 3), [4])


def test_purging_a_subject_moves_a_consumer_filtered_inside_it_past_the_end():
    js, st = _with_consumer(a={"filter_subject": "s.a"}, b={"filter_subject": "s.b"})
    for subject in ("s.a", "s.b", "s.a", "s.b"):
        st.publish(subject, b"x", None, 0.0)
    a = st.consumers["a"]
    a.pull("_INBOX.f", b'{"batch": 1, "no_wait": true}', 0.0)
    st.purge(subject="s.a")
    assert _floors(a) == ((1, 4), (1, 4), [])
    assert _floors(st.consumers["b"]) == ((0, 0), (0, 0), [])   # b takes none of s.a


def test_purging_one_of_several_filters_is_a_wider_purge_that_drops_only_what_is_gone():
    # real server 2.15.1: filters [s.a, s.b] and purge s.a -> wider, as for an unfiltered one
    js, st = _with_consumer(c={"filter_subjects": ["s.a", "s.b"]}, all={})
    for subject in ("s.a", "s.b", "s.a", "s.c", "s.b"):
        st.publish(subject, b"x", None, 0.0)
    c, every = st.consumers["c"], st.consumers["all"]
    c.pull("_INBOX.f", b'{"batch": 2, "no_wait": true}', 0.0)
    every.pull("_INBOX.g", b'{"batch": 3, "no_wait": true}', 0.0)
    st.purge(subject="s.a")
    assert _floors(c) == ((2, 2), (1, 1), [2])
    assert _floors(every) == ((3, 3), (3, 1), [2])


def test_a_message_removed_by_limits_while_pending_is_settled_as_terminated():
    js, st = _with_consumer(c={})
    st.config.max_msgs = 2
    st.publish("s.a", b"1", None, 0.0)
    c = st.consumers["c"]
    c.pull("_INBOX.f", b'{"batch": 1, "no_wait": true}', 0.0)
    st.publish("s.a", b"2", None, 0.1)
    st.publish("s.a", b"3", None, 0.2)     # evicts seq 1
    assert _floors(c) == ((1, 1), (1, 1), [])
    assert [o.subject for o in c.advisories] == \
        ["$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.S.c"]


def test_interest_stream_cleans_up_when_a_consumer_is_deleted_and_purges_with_the_last():
    import json

    js, st = _with_consumer("interest", a={}, b={})
    st.publish("s.1", b"1", None, 0.0)
    st.publish("s.2", b"2", None, 0.0)
    a = st.consumers["a"]
    out = a.pull("_INBOX.f", b'{"batch": 2, "no_wait": true}', 0.0)
    for o in out[:2]:
        a.on_ack(o.reply, b"+ACK", "", 0.0)
    assert sorted(st.msgs) == [1, 2]                    # b still needs them
    js.handle("$JS.API.CONSUMER.DELETE.S.b", "_INBOX.r", b"", None, now=0.1)
    assert (st.state()["messages"], st.state()["first_seq"]) == (0, 3)
    js.handle("$JS.API.CONSUMER.DELETE.S.a", "_INBOX.r", b"", None, now=0.2)
    st.publish("s.3", b"3", None, 0.3)                 # no interest left: not stored
    assert (st.state()["messages"], st.state()["first_seq"]) == (0, 4)
    narrowed, st2 = _with_consumer("interest", a={})
    st2.publish("s.x", b"1", None, 0.0)
    st2.publish("s.y", b"2", None, 0.0)
    narrowed.handle("$JS.API.CONSUMER.CREATE.S.a", "_INBOX.r", json.dumps(
        {"stream_name": "S", "config": {"durable_name": "a", "ack_policy": "explicit",
                                        "ack_wait": 5_000_000_000,
                                        "filter_subject": "s.y"}}).encode(), None, now=0.1)
    assert sorted(st2.msgs) == [2]


def test_a_message_stored_without_an_id_clears_the_expected_last_msg_id():
    # nats-server 2.15.1: stream.go sets lmsgId for every stored message
    st = stream(duplicate_window=60.0)
    assert pub(st, headers={"Nats-Msg-Id": "a"}) == (1, False)
    assert pub(st, headers={"Nats-Msg-Id": "a"}) == (1, True)
    assert pub(st, headers={"Nats-Msg-Id": "b", "Nats-Expected-Last-Msg-Id": "a"}) == (2, False)
    assert pub(st) == (3, False)
    assert pub(st, headers={"Nats-Expected-Last-Msg-Id": "b"}) == (10070, "wrong last msg ID: ")
    assert pub(st, headers={"Nats-Expected-Last-Msg-Id": ""}) == (4, False)

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

"""Direct get batches and multi_last (stream.go getDirectRequest, getDirectMulti): pending
counts, the last sequence, EOB."""

import pytest


from pmesh_sim.config import StreamConfig
from pmesh_sim.jetstream.direct import MAX_MULTI_LAST, direct_get
from pmesh_sim.jetstream.stream import Stream


def stream(storage="file"):
    st = Stream(StreamConfig(name="K", subjects=["k.>"], allow_direct=True, storage=storage))
    for subject in ("k.a", "k.b", "k.a", "k.c"):
        st.publish(subject, b"x", None, 0.0)
    st.remove(2)
    return st


def test_a_batch_counts_down_what_is_left_and_ends_with_eob():
    out = direct_get(stream(), "K", "r", b'{"seq": 1, "batch": 2}')
    got = [(o.headers.get("Nats-Sequence"), o.headers["Nats-Num-Pending"],
            o.headers["Nats-Last-Sequence"], o.headers.get("Status")) for o in out]
    assert got == [("1", "2", "0", None), ("3", "1", "1", None), (None, "1", "3", "204")]


def test_a_batch_past_the_end_is_404_without_eob():
    out = direct_get(stream(), "K", "r", b'{"seq": 9, "batch": 2}')
    assert [o.headers["Status"] for o in out] == ["404"]


def _got(out):
    return [(o.headers.get("Status") or o.headers["Nats-Sequence"], o.headers["Nats-Num-Pending"],
             o.headers["Nats-Last-Sequence"]) for o in out]


def test_multi_last_sends_each_subjects_last_in_order_then_eob_with_the_ceiling():
    out = direct_get(stream(), "K", "r", b'{"multi_last": ["k.a", "k.>", "k.a"], "no_hdr": true}')
    assert _got(out) == [("3", "1", "0"), ("4", "0", "3"), ("204", "0", "4")]
    assert out[-1].headers["Nats-UpTo-Sequence"] == "4"


def test_multi_last_up_to_seq_seq_batch_and_max_bytes():
    st = stream()
    assert _got(direct_get(st, "K", "r", b'{"multi_last": ["k.>"], "up_to_seq": 2}')) == [
        ("1", "0", "0"), ("204", "0", "1")]
    assert _got(direct_get(st, "K", "r", b'{"multi_last": ["k.>"], "seq": 4}')) == [
        ("4", "0", "0"), ("204", "0", "4")]
    assert _got(direct_get(st, "K", "r", b'{"multi_last": ["k.>"], "batch": 1}')) == [
        ("3", "1", "0"), ("204", "1", "3")]
    assert _got(direct_get(st, "K", "r", b'{"multi_last": ["k.>"], "max_bytes": 1}')) == [
        ("3", "1", "0"), ("204", "1", "3")]
    assert _got(direct_get(st, "K", "r", b'{"multi_last": ["k.>"], "seq": 9}')) == [
        ("204", "0", "0")]


@pytest.mark.parametrize("storage, status", [("file", "404"), ("memory", "204")])
def test_up_to_seq_past_the_end_finds_nothing_in_a_file_store(storage, status):
    out = direct_get(stream(storage), "K", "r", b'{"multi_last": ["k.>"], "up_to_seq": 9}')
    assert out[-1].headers["Status"] == status


@pytest.mark.parametrize("body, description", [
    (b'{"multi_last": ["x.>"]}', "No Results"),
    (b'{"multi_last": []}', "Empty Request"),
    (b'{"multi_last": "k.a"}', "Malformed Request"),
    (b'{"multi_last": ["k.>"], "next_by_subj": "k.a"}', "Bad Request"),
    (b'{"multi_last": ["k.>"], "up_to_seq": 2, "up_to_time": "2000-01-01T00:00:00Z"}',
     "Bad Request"),
    (b'{"multi_last": ["k.>"], "up_to_time": "soon"}', "Malformed Request"),
    (b'{"multi_last": ["k.>"], "up_to_time": "1970-01-01T00:00:00Z"}', "No Results"),
])
def test_multi_last_refusals(body, description):
    out, = direct_get(stream(), "K", "r", body)
    assert out.headers["Description"] == description and not out.data


def test_up_to_time_is_the_last_message_stored_before_it():
    st = Stream(StreamConfig(name="K", subjects=["k.>"], allow_direct=True),
                epoch_ns=10**18)
    for t, subject in ((0.0, "k.a"), (1.0, "k.b"), (2.0, "k.a")):
        st.publish(subject, b"x", None, t)
    body = b'{"multi_last": ["k.>"], "up_to_time": "2001-09-09T01:46:41.5Z"}'
    out = direct_get(st, "K", "r", body)
    assert [o.headers.get("Nats-Sequence") for o in out] == ["1", "2", None]
    assert out[-1].headers["Nats-UpTo-Sequence"] == "2"


def test_up_to_without_multi_last_changes_nothing():
    out, = direct_get(stream(), "K", "r", b'{"seq": 1, "up_to_seq": 9}')
    assert out.headers["Nats-Sequence"] == "1"


def test_more_subjects_than_the_server_answers_is_413():
    st = Stream(StreamConfig(name="K", subjects=["k.>"], allow_direct=True))
    for i in range(MAX_MULTI_LAST + 1):
        st.publish(f"k.{i}", b"", None, 0.0)
    out, = direct_get(st, "K", "r", b'{"multi_last": ["k.*"]}')
    assert (out.headers["Status"], out.headers["Description"]) == ("413", "Too Many Results")
    st.remove(1)
    assert direct_get(st, "K", "r", b'{"multi_last": ["k.*"]}')[-1].headers["Status"] == "204"

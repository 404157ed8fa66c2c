"""Direct get batches (stream.go getDirectRequest): pending counts, the last sequence, EOB."""

from pmesh_sim.config import StreamConfig
from pmesh_sim.jetstream.direct import direct_get
from pmesh_sim.jetstream.stream import Stream


def stream():
    st = Stream(StreamConfig(name="K", subjects=["k.>"], allow_direct=True))
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


def test_multi_last_is_refused_as_not_simulated():
    out, = direct_get(stream(), "K", "r", b'{"multi_last": ["k.>"]}')
    assert out.headers == {"Pmesh-Not-Simulated": "direct get field 'multi_last'"}

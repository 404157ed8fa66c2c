"""Per-message TTLs and subject delete markers (stream.go, memstore.go expireMsgs)."""

import pytest

from pmesh_sim.config import StreamConfig, check_stream_config
from pmesh_sim.errors import JetStreamError
from pmesh_sim.jetstream.stream import Stream
from pmesh_sim.jetstream.ttl import parse_go_duration, parse_msg_ttl


@pytest.mark.parametrize("value, seconds", [("", 0), ("7", 7), ("1s", 1), ("2.9s", 2),
                                            ("1h", 3600), ("never", -1), ("Never", -1)])
def test_ttl_values_the_server_takes(value, seconds):
    assert parse_msg_ttl(value) == seconds


@pytest.mark.parametrize("value", ["0", "0s", "999ms", "-1", "-5s", "soon", "1x", "1.5"])
def test_ttl_values_the_server_refuses(value):
    with pytest.raises(ValueError):
        parse_msg_ttl(value)


def test_go_durations():
    assert parse_go_duration("1m30s") == 90_000_000_000
    assert parse_go_duration("1.5h") == 5_400_000_000_000
    with pytest.raises(ValueError):
        parse_go_duration("5")


def stream(**cfg):
    return Stream(check_stream_config(StreamConfig(name="S", subjects=["s.*"], **cfg)))


def test_a_message_goes_when_its_ttl_is_up_and_never_outlives_max_age():
    st = stream(allow_msg_ttl=True, max_age=10.0)
    st.publish("s.a", b"", {"Nats-TTL": "2s"}, now=0.0)
    st.publish("s.b", b"", {"Nats-TTL": "never"}, now=0.0)
    st.publish("s.c", b"", None, now=1.0)
    assert st.next_expiry() == 2.0
    st.expire(2.0)
    assert sorted(st.msgs) == [2, 3]
    assert st.next_expiry() == 11.0      # s.c's max_age; s.b never ages
    st.expire(100.0)
    assert sorted(st.msgs) == [2]


def test_a_ttl_without_allow_msg_ttl_is_10166_and_a_bad_one_10165():
    st = stream()
    with pytest.raises(JetStreamError) as off:
        st.publish("s.a", b"", {"Nats-TTL": "5s"}, now=0.0)
    with pytest.raises(JetStreamError) as bad:
        st.publish("s.a", b"", {"Nats-TTL": "5 seconds"}, now=0.0)
    assert (off.value.err_code, bad.value.err_code) == (10166, 10165)


def test_delete_markers_replace_the_last_message_of_a_subject():
    st = stream(subject_delete_marker_ttl=5.0, max_age=1.0)
    assert st.config.allow_msg_ttl and st.config.allow_rollup_hdrs
    st.publish("s.a", b"1", None, now=0.0)
    st.publish("s.a", b"2", None, now=0.5)
    st.publish("s.b", b"x", {"Nats-TTL": "1s"}, now=0.5)
    assert st.msgs[3].headers == {"Nats-TTL": "5"}      # raised to the markers' TTL
    st.expire(1.0)
    assert sorted(st.msgs) == [2, 3]                     # seq 1 had a newer one: gone
    st.expire(1.5)
    markers = [(m.seq, m.subject, m.headers) for m in st.msgs.values()]
    assert markers[0] == (4, "s.a", {"Nats-Marker-Reason": "MaxAge", "Nats-TTL": "5s",
                                     "Nats-Rollup": "sub"})
    st.expire(7.0)                                       # markers just go
    assert not st.msgs

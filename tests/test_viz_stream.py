"""The stream-state figure: the state lines follow the stream's records, one marker a discard."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from pmesh_sim.trace import Trace  # noqa: E402
from pmesh_sim.viz import draw_stream_state  # noqa: E402
from pmesh_sim.viz.stream import stream_series  # noqa: E402
from viz2_traces import Builder, stream_story  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _y(out, name):
    return [int(v) for v in out.lines[name].get_ydata()]


def test_state_lines_follow_store_and_discard():
    out = draw_stream_state(stream_story().trace, "ORDERS")
    assert out.view == "server"
    # stored 1,2,3,4 (4 then 1 dropped: max_msgs), 5 (2 dropped), 3 expires at 2.0 s;
    # the last point repeats the state at the end of the figure
    assert _y(out, "messages") == [1, 2, 3, 4, 3, 4, 3, 2, 2]
    assert _y(out, "first_seq") == [1, 1, 1, 1, 2, 2, 3, 4, 4]
    assert _y(out, "last_seq") == [1, 2, 3, 4, 4, 5, 5, 5, 5]


def test_one_marker_per_discard_by_reason():
    trace = stream_story().trace
    out = draw_stream_state(trace, "ORDERS")
    counts = {r: len(m.get_offsets()) for r, m in out.markers.items()}
    expected = {}
    for e in trace.filter("discard", stream="ORDERS"):
        expected[e.fields["reason"]] = expected.get(e.fields["reason"], 0) + 1
    expected["duplicate"] = len(trace.filter("dedup", stream="ORDERS"))
    assert counts == expected == {"max_msgs": 2, "max_age": 1, "discard_new_max_msgs": 1,
                                  "duplicate": 1}


def test_window_starts_from_the_state_before_it():
    out = draw_stream_state(stream_story().trace, "ORDERS", window=(1.0, 2.2))
    assert _y(out, "messages") == [3, 2, 2]          # 3 at 1.0 s, 2 after the expiry
    assert list(out.markers) == ["max_age"]
    assert out.ax.get_xlim() == (1.0, 2.2)


def test_purge_and_delete_remove_the_lowest_sequences():
    b = Builder()
    for seq in (1, 2, 3, 4):
        b.js_publish(seq, "S", f"s.{seq % 2}", seq)
    b.rec(5, "delete", stream="S", stream_seq=4)
    b.rec(6, "purge", stream="S", purged=1, subject="s.1")      # removes seq 1 (s.1)
    assert stream_series(b.trace, "S")[-2:] == [(5, 3, 1, 4), (6, 2, 2, 4)]


def test_client_view_uses_pub_acks_and_stream_info():
    out = draw_stream_state(stream_story(sim=False).trace, "ORDERS")
    assert out.view == "client" and "client's view" in out.ax.get_title()
    assert _y(out, "last_seq (pub acks)") == [1, 2, 3, 4, 5, 5]
    assert _y(out, "messages") == [3, 2] and _y(out, "first_seq") == [3, 4]
    assert {r: len(m.get_offsets()) for r, m in out.markers.items()} == {"duplicate": 1}


def _text(out):
    return " ".join(t.get_text() for t in out.ax.texts)


def test_empty_and_unknown_give_labelled_empty_figures():
    out = draw_stream_state(Trace(clock=lambda: 0.0), "ORDERS")
    assert out.lines == {} and "no stream 'ORDERS'" in _text(out) and out.ax.get_title()
    out = draw_stream_state(stream_story().trace, "NOPE")
    assert "its streams: ORDERS" in _text(out)
    out = draw_stream_state(stream_story().trace, "ORDERS", window=(-1, 0.05))
    assert out.lines == {} and "between -1 s and 0.05 s" in _text(out)
    out = draw_stream_state(stream_story(sim=False).trace, "ORDERS", window=(10, 11))
    assert out.lines == {} and "no pub acks" in _text(out)


def test_given_axes_are_used():
    fig, (top, bottom) = plt.subplots(2, 1)
    out = draw_stream_state(stream_story().trace, "ORDERS", ax=(top, bottom))
    assert out.ax is top and out.events_ax is bottom and out.lines["messages"] in top.lines


def test_window_after_the_last_change_shows_the_state_then():
    out = draw_stream_state(stream_story().trace, "ORDERS", window=(10, 11))
    assert _y(out, "messages") == [2, 2] and out.markers == {}


def test_a_stream_that_dropped_nothing_says_so():
    b = Builder()
    for seq in (1, 2):
        b.js_publish(seq, "S", "s.1", seq)
    out = draw_stream_state(b.trace, "S")
    assert _y(out, "messages") == [1, 2, 2] and out.markers == {}
    assert "nothing discarded" in out.events_ax.texts[0].get_text()

"""The consumer timeline draws what the trace holds: one marker a delivery/ack, the ack floor."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from pmesh_sim.trace import Trace  # noqa: E402
from pmesh_sim.viz import draw_consumer_timeline  # noqa: E402
from pmesh_sim.viz.timeline import _EXPIRED, ack_floor_series, consumer_events  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402
from viz2_traces import consumer_story  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _count(out, *kinds):
    return sum(len(out.markers[k].get_offsets()) for k in kinds if k in out.markers)


def _records(trace, kind, window=None):
    return [e for e in trace.filter(kind, consumer="worker")
            if window is None or window[0] <= e.time <= window[1]]


@pytest.mark.parametrize("sim", [True, False], ids=["sim", "client-only"])
def test_one_marker_per_delivery_and_ack(sim):
    trace = consumer_story(sim).trace
    out = draw_consumer_timeline(trace, "worker")
    deliver, ack = ("js_deliver", "js_ack") if sim else ("deliver", "ack")
    assert out.view == ("server" if sim else "client")
    assert _count(out, "deliver", "redeliver") == len(_records(trace, deliver)) == 6
    assert _count(out, "redeliver") == 2
    acks = _records(trace, ack)
    assert _count(out, "ack", "nak", "term", "in_progress") == len(acks) == 6
    for action in ("nak", "term", "in_progress"):
        assert _count(out, action) == sum(e.fields["action"] == action for e in acks)
    # the expiry: recorded (sim) or the end of the window nothing closed (client: the client
    # got the message 1 ms after the server sent it)
    (t, seq), = out.markers["timeout"].get_offsets().tolist()
    assert seq == 2 and t == pytest.approx(1.3 if sim else 1.301)


def test_window_keeps_only_what_happened_in_it():
    trace = consumer_story().trace
    window = (1.0, 2.0)
    out = draw_consumer_timeline(trace, "worker", window=window)
    assert _count(out, "deliver", "redeliver") == len(_records(trace, "js_deliver", window)) == 2
    assert _count(out, "ack", "nak", "term", "in_progress") == len(
        _records(trace, "js_ack", window)) == 2
    assert out.ax.get_xlim() == window


def test_ack_floor_and_pending_lines_follow_the_acks():
    out = draw_consumer_timeline(consumer_story().trace, "worker")
    floor = list(out.ack_floor.get_ydata())
    pending = list(out.ack_pending.get_ydata())
    # 4 delivered; seq 1 acked -> floor 1; 3 acked, 4 termed: floor stays 1 (2 pending);
    # the redeliveries, nak and in_progress change nothing; seq 2 acked at 2.2 s -> floor 4
    assert floor == [0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 4]
    assert pending == [1, 2, 3, 4, 3, 2, 1, 1, 1, 1, 1, 0]
    assert out.ack_floor.get_xdata()[-1] == pytest.approx(2.201)


def test_ack_floor_waits_for_the_lowest_pending_message():
    t = Trace(clock=lambda: 0.0)
    for time, kind, seq in [(1, "deliver", 1), (2, "deliver", 2), (3, "deliver", 3),
                            (4, "ack", 2), (5, "ack", 3), (6, "ack", 1)]:
        t.record(time, kind, {"node": "n1", "client": "c", "stream": "S", "consumer": "w",
                              "stream_seq": seq, "msg_id": seq, "action": "ack_sync"})
    assert [f for _, f, _ in ack_floor_series(consumer_events(t, "w"))] == [0, 0, 0, 0, 0, 3]


def test_ack_wait_windows_close_at_the_ack_or_expire():
    out = draw_consumer_timeline(consumer_story().trace, "worker")
    segments = sorted((round(s[0][0], 3), round(s[1][0], 3), s[0][1])
                      for s in out.windows.get_segments())
    # seq 2: 0.3 -> expired at 1.3; 1.5 -> nak at 1.511; 1.6 -> (in_progress) -> ack at 2.201
    assert (0.3, 1.3, 2.0) in segments and (1.5, 1.511, 2.0) in segments
    assert (1.6, 2.201, 2.0) in segments
    assert out.ack_wait == 1.0                      # from the consumer_config record


def test_ack_wait_parameter_overrides_and_default_is_said():
    trace = consumer_story().trace
    assert draw_consumer_timeline(trace, "worker", ack_wait=0.5).ack_wait == 0.5
    bare = Trace(clock=lambda: 0.0)
    for e in trace:
        if e.kind != "consumer_config":
            bare.record(e.time, e.kind, e.fields)
    out = draw_consumer_timeline(bare, "worker")        # measured: delivery 0.3 -> expiry 1.3
    assert out.ack_wait == 1.0 and "measured" in out.ax.get_title()
    client = Trace(clock=lambda: 0.0)
    for e in consumer_story(sim=False).trace:
        if e.kind != "consumer_config":
            client.record(e.time, e.kind, e.fields)
    out = draw_consumer_timeline(client, "worker")
    assert out.ack_wait == 30.0 and "server default" in out.ax.get_title()


def _empty_text(out):
    return " ".join(t.get_text() for t in out.ax.texts)


def test_empty_and_unknown_give_labelled_empty_figures():
    trace = consumer_story().trace
    out = draw_consumer_timeline(Trace(clock=lambda: 0.0), "worker")
    assert out.markers == {} and "no consumer 'worker'" in _empty_text(out)
    out = draw_consumer_timeline(trace, "nobody")
    assert "ORDERS/worker" in _empty_text(out) and out.ax.get_title()
    out = draw_consumer_timeline(trace, "worker", stream="OTHER")
    assert "on stream 'OTHER'" in _empty_text(out)
    out = draw_consumer_timeline(trace, "worker", window=(5.0, 6.0))
    assert out.markers == {} and "between 5 s and 6 s" in _empty_text(out)


def test_given_axes_are_used():
    fig, (top, bottom) = plt.subplots(2, 1)
    out = draw_consumer_timeline(consumer_story().trace, "worker", ax=(top, bottom))
    assert out.ax is top and out.floor_ax is bottom and out.ack_floor in bottom.lines
    fig, ax = plt.subplots()
    out = draw_consumer_timeline(consumer_story().trace, "worker", ax=ax)
    assert out.ax.figure is fig and len(fig.axes) == 2


def test_a_redelivery_at_the_expiry_instant_measures_ack_wait_and_draws_it_expired():
    trace = Trace(clock=lambda: 0.0)
    where = {"node": "n1", "stream": "S", "consumer": "worker", "msg_id": 1, "stream_seq": 1}
    trace.record(0.5, "js_deliver", {**where, "subject": "s.1", "num_delivered": 1})
    trace.record(1.5, "ack_timeout", {**where, "num_delivered": 1})
    # a pull that was waiting gets the redelivery at the same instant
    trace.record(1.5, "js_deliver", {**where, "subject": "s.1", "num_delivered": 2})
    out = draw_consumer_timeline(trace, "worker")
    assert out.ack_wait == 1.0 and "measured" in out.ax.get_title()
    first, colour = out.windows.get_segments()[0], out.windows.get_colors()[0]
    assert [tuple(p) for p in first] == [(0.5, 1.0), (1.5, 1.0)]
    assert to_hex(colour) == _EXPIRED     # drawn as expired, not "closed in time"

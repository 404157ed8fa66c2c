"""The message sequence diagram: one arrow per message hop, filters, and empty figures."""

import re

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest

from pmesh_sim.errors import ConfigError
from pmesh_sim.trace import Trace
from pmesh_sim.viz import draw_sequence
from pmesh_sim.viz._flow import hops
from viz_traces import (NET, busy_trace, core_trace, count, fanout_trace, jetstream_trace,
                        lossy_trace, three_node_trace)


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def deliveries(drawn):
    return drawn.arrows.get("deliver", []) + drawn.arrows.get("redeliver", [])


@pytest.mark.parametrize("trace", [core_trace(), jetstream_trace(True), jetstream_trace(False)])
def test_one_deliver_arrow_per_deliver_record(trace):
    drawn = draw_sequence(trace)
    assert len(deliveries(drawn)) == count(trace, "deliver")
    assert len(drawn.arrows["publish"]) == count(trace, "publish")


@pytest.mark.parametrize("server_layer", [True, False])
def test_redeliveries_acks_and_the_expired_ack_wait_from_either_backend(server_layer):
    drawn = draw_sequence(jetstream_trace(server_layer))
    assert {k: len(v) for k, v in drawn.arrows.items() if k != "deliver"} == {
        "publish": 5, "pub_ack": 5, "redeliver": 2, "ack": 9, "nak": 1, "term": 1,
        "in_progress": 1, "timeout": 1}
    legend = [t.get_text() for t in drawn.ax.get_legend().get_texts()]
    assert "redeliver" in legend and "ack_wait expired" in legend
    assert drawn.lanes == [("client", "shop"), ("server", "n1"), ("client", "worker1"),
                           ("client", "auditor")]


def test_arrows_go_from_sender_lane_to_receiver_lane_forward_in_time():
    drawn = draw_sequence(core_trace())
    rows = {label.get_text(): y for label, y in zip(drawn.ax.get_yticklabels(),
                                                    drawn.ax.get_yticks())}
    for arrow in drawn.arrows["deliver"]:
        (x0, y0), (x1, y1) = arrow.xyann, arrow.xy
        assert y0 == rows["server n1"]
        assert y1 in (rows["dash"], rows["w1"], rows["w2"], rows["avg"])
        assert x1 > x0


@pytest.mark.parametrize("window", [(0.0, 1.6), (1.55, 3.05), (3.0, 9.0)])
def test_window_keeps_the_deliveries_inside_it(window):
    trace = jetstream_trace(False)
    assert len(deliveries(draw_sequence(trace, window=window))) == count(trace, "deliver",
                                                                         window)


def test_consumer_filter_keeps_its_deliveries_acks_and_their_publishes():
    trace = jetstream_trace()
    drawn = draw_sequence(trace, consumer="worker")
    assert len(deliveries(drawn)) == count(trace, "deliver", consumer="worker") == 7
    assert len(drawn.arrows["ack"]) == count(trace, "ack", consumer="worker", action="ack")
    assert len(drawn.arrows["publish"]) == 5
    assert ("client", "auditor") not in drawn.lanes


def test_subject_filter_takes_wildcards():
    trace = jetstream_trace()
    new = draw_sequence(trace, subject="orders.new")
    assert len(deliveries(new)) == count(trace, "deliver", subject="orders.new") == 7
    assert len(deliveries(draw_sequence(trace, subject="orders.*"))) == count(trace, "deliver")


def test_msg_id_filter_follows_one_message():
    drawn = draw_sequence(jetstream_trace(), msg_id=3)
    assert len(drawn.arrows["deliver"]) == 2 and len(drawn.arrows["redeliver"]) == 1
    assert len(drawn.arrows["timeout"]) == 1
    assert len(deliveries(draw_sequence(jetstream_trace(), msg_id=[1, 2]))) == 5


def test_at_most_max_messages_and_the_title_says_so():
    trace = busy_trace(80)
    drawn = draw_sequence(trace, max_messages=50)
    assert len(drawn.arrows["deliver"]) == 50
    assert "first 50 of 80" in drawn.ax.get_title()


@pytest.mark.parametrize("kwargs, says", [
    ({"consumer": "wrker"}, "no consumer 'wrker' in this trace; consumers: audit, worker"),
    ({"subject": "billing.>"}, "subjects: orders.new, orders.paid"),
    ({"msg_id": 99}, "no message with id 99 in this trace; ids: 1–5"),
    ({"window": (10.0, 20.0)}, "no message to draw"),
])
def test_unknown_or_empty_filters_give_a_labelled_empty_figure(kwargs, says):
    drawn = draw_sequence(jetstream_trace(), **kwargs)
    assert drawn.arrows == {}
    assert any(says in t.get_text() for t in drawn.ax.texts)
    assert drawn.ax.get_title().startswith("Message sequence")


def test_empty_trace_gives_a_labelled_empty_figure():
    drawn = draw_sequence(Trace(clock=lambda: 0.0))
    assert drawn.arrows == {} and "no message to draw" in drawn.ax.texts[0].get_text()


def test_request_answer_and_reply():
    for drawn in (draw_sequence(core_trace(), subject="stats.avg"),
                  draw_sequence(core_trace(), window=(2.9, 4.0))):
        assert {k: len(v) for k, v in drawn.arrows.items()} == {
            "publish": 1, "respond": 1, "reply": 1, "deliver": 1}
    assert drawn.lanes == [("client", "ui"), ("server", "n1"), ("client", "avg")]


def test_internal_plumbing_is_not_drawn():
    trace = core_trace()
    before = {k: len(v) for k, v in draw_sequence(trace).arrows.items()}
    trace.record(5.0, "publish", {"node": "n1", "client": "sensor", "subject": "$JS.API.INFO",
                                  "msg_id": 50})
    trace.record(5.1, "deliver", {"node": "n1", "client": "sensor", "subject": "_INBOX.x.1",
                                  "msg_id": 51})
    assert {k: len(v) for k, v in draw_sequence(trace).arrows.items()} == before


@pytest.mark.parametrize("server_layer", [True, False])
def test_no_arrow_goes_back_in_time_or_leaves_before_its_message_was_published(server_layer):
    trace = jetstream_trace(server_layer)
    published = {e.fields["msg_id"]: e.time for e in trace.filter("publish")}
    for h in hops(trace):
        assert h.t0 <= h.t1, h
        assert h.t0 >= published[h.msg_id], h
    drawn = draw_sequence(trace)
    for arrow in drawn.arrows["deliver"] + drawn.arrows["pub_ack"] + drawn.arrows["ack"]:
        assert arrow.xyann[0] < arrow.xy[0]


def test_client_only_times_put_the_server_halfway_to_the_pub_ack():
    trace = jetstream_trace(server_layer=False)
    first = {h.kind: h for h in reversed(hops(trace)) if h.msg_id == 1}
    assert first["publish"].t1 == pytest.approx(1.0 + NET)  # pub_ack at 1.0 + 2 * NET
    assert first["pub_ack"].t0 == first["publish"].t1


@pytest.mark.parametrize("kwargs, says", [
    ({"window": (3.0, 1.0)}, "window=(3.0, 1.0): give (start, end)"),
    ({"window": 5}, "window=5"),
    ({"max_messages": 0}, "max_messages=0: give an int >= 1"),
])
def test_bad_arguments_are_refused_clearly(kwargs, says):
    with pytest.raises(ConfigError, match=re.escape(says)):
        draw_sequence(jetstream_trace(), **kwargs)
    with pytest.raises(ConfigError, match="give a pmesh_sim Trace"):
        draw_sequence(jetstream_trace().events)


def test_filters_combine():
    trace = jetstream_trace(server_layer=False)
    drawn = draw_sequence(trace, consumer="worker", window=(0.0, 2.0), subject="orders.paid")
    assert len(deliveries(drawn)) == count(trace, "deliver", (0.0, 2.0), consumer="worker",
                                           subject="orders.paid") == 2
    assert "1 of them a redelivery" in drawn.ax.get_title()


def test_lost_messages_stop_halfway_at_a_cross():
    drawn = draw_sequence(lossy_trace())
    assert {k: len(v) for k, v in drawn.arrows.items()} == {"publish": 2, "deliver": 1,
                                                            "lost": 2}
    up, down = drawn.arrows["lost"]
    rows = dict(zip((t.get_text() for t in drawn.ax.get_yticklabels()), drawn.ax.get_yticks()))
    assert up.xyann[1] == rows["sensor"] and up.xy[1] == (rows["sensor"] + rows["server n1"]) / 2
    assert down.xyann[1] == rows["server n1"]
    assert "2 lost on the way" in drawn.ax.get_title()
    assert "lost on the way" in [t.get_text() for t in drawn.ax.get_legend().get_texts()]


def test_the_time_axis_spans_the_window_within_the_run():
    drawn = draw_sequence(jetstream_trace(), window=(0.0, 2.2))
    labels = [t.get_text() for t in drawn.ax.get_xticklabels()]
    assert labels[0] == "0" and float(labels[-1]) >= 2.0


def test_a_core_message_crosses_a_route_once_per_server():
    trace = three_node_trace()
    drawn = draw_sequence(trace)
    assert len(drawn.arrows["deliver"]) == count(trace, "deliver") == 9
    assert len(drawn.arrows["route"]) == 6
    route = drawn.arrows["route"][0]
    publish = drawn.arrows["publish"][0]
    assert route.xyann[0] == pytest.approx(publish.xy[0])  # it leaves n1 when it arrived there


def test_fifty_messages_to_three_receivers_keep_their_labels_apart():
    trace = fanout_trace()
    drawn = draw_sequence(trace)
    assert len(deliveries(drawn)) == count(trace, "deliver") == 107
    fig = drawn.ax.figure
    fig.canvas.draw()
    labels = [t.get_window_extent() for t in drawn.ax.texts if t.get_fontsize() == 7]
    assert len(labels) > 40  # every redelivery, most publishes and deliveries
    overlaps = [(a, b) for i, a in enumerate(labels) for b in labels[i + 1:] if a.overlaps(b)]
    assert overlaps == []
    texts = [t.get_text() for t in drawn.ax.texts]
    assert all(f"seq {s} ×2" in texts for s in (4, 11, 18, 25, 32, 39, 46))


def test_no_responders_answer_is_drawn_from_the_server_to_the_requester():
    from pmesh_sim import NoRespondersError, Simulation

    sim = Simulation(seed=1, latency=0.001)
    sim.add_server("n1")
    alice = sim.connect(name="alice")

    def client():
        try:
            yield alice.request("svc.nobody", b"", timeout=0.5)
        except NoRespondersError:
            pass

    sim.process(client())
    sim.run(until=1)
    drawn = draw_sequence(sim.trace)
    assert {k: len(v) for k, v in drawn.arrows.items()} == {"publish": 1, "no_responders": 1}
    (answer,) = drawn.arrows["no_responders"]
    (publish,) = drawn.arrows["publish"]
    assert answer.xyann[0] >= publish.xy[0]        # it leaves when the request has arrived
    assert answer.xy[1] > answer.xyann[1]           # from the server's lane up to alice's

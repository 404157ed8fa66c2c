"""The animation of messages moving over the topology."""

import gc

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from pmesh_sim.errors import ConfigError
from pmesh_sim.trace import Trace
from pmesh_sim.viz import animate
from viz_traces import core_trace, count, jetstream_trace, lossy_trace, three_node_trace

# Tests that only read the trips never render; matplotlib warns about that when it collects them.
pytestmark = pytest.mark.filterwarnings("ignore:Animation was deleted without rendering")


@pytest.fixture(autouse=True)
def _collect():
    yield
    gc.collect()  # while this test's warning filter still holds


@pytest.mark.parametrize("server_layer", [True, False])
def test_one_trip_per_publish_delivery_and_ack(server_layer):
    trace = jetstream_trace(server_layer)
    anim = animate(trace, frames=6)
    kinds = [t.kind for t in anim.trips]
    assert kinds.count("publish") == count(trace, "publish")
    assert kinds.count("deliver") + kinds.count("redeliver") == count(trace, "deliver")
    assert kinds.count("ack") + kinds.count("nak") + kinds.count("term") \
        + kinds.count("in_progress") == count(trace, "ack")
    assert kinds.count("timeout") == 1


def test_trips_follow_the_topology_and_wait_for_the_message():
    anim = animate(jetstream_trace(), frames=6)
    first = {t.kind: t for t in reversed(anim.trips) if t.msg_id == 1}
    assert first["publish"].path == ["publisher:shop", "subject:orders.new", "server:n1",
                                     "stream:ORDERS"]
    assert first["deliver"].start >= first["publish"].end
    acks = [t for t in anim.trips if t.kind == "ack" and t.msg_id == 1]
    assert sorted(t.path[0] for t in acks) == ["subscriber:auditor", "subscriber:worker1"]
    assert all(t.start >= first["deliver"].end for t in acks)
    audit = [t for t in anim.trips if t.kind == "deliver" and t.path[1] == "consumer:ORDERS/audit"]
    assert audit[0].path == ["stream:ORDERS", "consumer:ORDERS/audit",
                             "subscription:audit.deliver|auditor#1", "subscriber:auditor"]


def test_dots_move_between_frames_and_to_jshtml_works():
    anim = animate(core_trace(), frames=8)
    dots = anim.ax.collections[-1]
    seen = []
    for i in range(8):
        anim._func(i)
        seen.append(np.array(dots.get_offsets()).round(3).tolist())
    assert any(seen) and len({str(s) for s in seen}) > 2
    html = anim.to_jshtml()
    assert html.count("data:image/png;base64") == 8


def test_window_limits_the_trips():
    anim = animate(jetstream_trace(), window=(0.0, 1.2), frames=4)
    assert {t.msg_id for t in anim.trips} == {1}


def test_empty_trace_gives_a_labelled_one_frame_animation():
    anim = animate(Trace(clock=lambda: 0.0))
    assert anim.trips == []
    assert "no message to animate" in anim.ax.texts[0].get_text()
    assert "data:image/png;base64" in anim.to_jshtml()


def test_bad_arguments_are_refused_clearly():
    with pytest.raises(ConfigError, match="frames=0: give an int >= 1"):
        animate(core_trace(), frames=0)
    with pytest.raises(ConfigError, match="window="):
        animate(core_trace(), window=(2.0, 1.0))


def test_a_consumers_hops_of_one_message_keep_their_order():
    trips = animate(jetstream_trace(), frames=30).trips
    worker = [t for t in trips if t.msg_id in (2, 3) and t.kind != "publish"
              and ("consumer:ORDERS/worker" in t.path)]
    for msg_id, kinds in ((2, ["deliver", "nak", "redeliver", "ack"]),
                          (3, ["deliver", "timeout", "redeliver", "ack"])):
        mine = [t for t in worker if t.msg_id == msg_id]
        assert [t.kind for t in mine] == kinds
        assert all(a.end <= b.start for a, b in zip(mine, mine[1:]))


def test_a_lost_message_vanishes_on_its_first_leg():
    lost = [t for t in animate(lossy_trace(), frames=6).trips if t.kind == "lost"]
    assert [t.path for t in lost] == [["publisher:sensor", "subject:temps.a"],
                                      ["server:n1", "subscription:temps.*|dash#1"]]


def test_a_window_past_the_run_is_cut_to_the_run():
    anim = animate(jetstream_trace(), window=(0.0, 1e6), frames=10)
    last = max(t.end for t in anim.trips)
    anim._func(9)
    assert f"t = {last:.3f} s" in anim.ax.texts[-1].get_text()


def test_a_message_crosses_the_route_before_it_is_delivered_there():
    trips = animate(three_node_trace(), frames=10).trips
    first = [t for t in trips if t.msg_id == 1]
    route = next(t for t in first if t.path == ["server:n1", "server:n2"])
    bob = next(t for t in first if t.path[-1] == "subscriber:bob")
    assert bob.path[0] == "server:n2" and bob.start >= route.end


def test_a_notebook_shows_the_animation_itself():
    anim = animate(core_trace(), frames=3)
    assert "data:image/png;base64" in anim._repr_html_()


def test_inbox_plumbing_of_a_jetstream_client_is_not_animated(sim):
    """API replies and pub acks reach the client on _INBOX subjects: no dot for them."""
    nc = sim.connect(name="app")
    js = nc.jetstream()

    def main():
        yield js.add_stream(name="ORDERS", subjects=["orders.>"])
        yield js.publish("orders.1", b"x")
        yield js.add_consumer("ORDERS", durable_name="worker", ack_wait=1.0)
        sub = yield js.pull_subscribe("orders.>", durable="worker")
        (msg,) = yield sub.fetch(1, timeout=1.0)
        yield msg.ack_sync()

    sim.process(main())
    sim.run(until=2)
    anim = animate(sim.trace, frames=3)
    assert sorted(t.kind for t in anim.trips) == ["ack", "deliver", "publish"]
    (deliver,) = [t for t in anim.trips if t.kind == "deliver"]
    assert deliver.path == ["stream:ORDERS", "consumer:ORDERS/worker", "subscriber:app"]


def test_an_expiry_dot_shows_above_its_consumer_not_under_its_box():
    from pmesh_sim.viz.animation import _frame
    from pmesh_sim.viz.layout import layered_positions
    from pmesh_sim.viz.topology import topology_graph

    trace = jetstream_trace()
    (expiry,) = [t for t in animate(trace, frames=6).trips if t.kind == "timeout"]
    (node,) = expiry.path
    pos = layered_positions(topology_graph(trace))
    offsets, _ = _frame([expiry], pos, (expiry.start + expiry.end) / 2)
    (x, y), (node_x, node_y) = offsets[0], pos[node]
    assert x == node_x and y > node_y     # the node's box, drawn over the dots, would hide it

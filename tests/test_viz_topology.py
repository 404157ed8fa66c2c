"""The topology figure: the graph read from a trace, its layout, and what is drawn."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest

from pmesh_sim.errors import ConfigError
from pmesh_sim.trace import Trace
from pmesh_sim.viz import draw_topology, layered_positions, topology_graph
from viz_traces import core_trace, jetstream_trace, lossy_trace, three_node_trace


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_core_graph_shows_wildcards_and_the_queue_group_fan_out():
    g = topology_graph(core_trace())
    assert set(g) == {"publisher:sensor", "subject:temps.kitchen", "subject:temps.garage",
                      "server:n1", "subscription:temps.*|dash#1",
                      "subscription:temps.>|workers", "subscriber:dash", "subscriber:w1",
                      "subscriber:w2", "publisher:ui", "subject:stats.avg",
                      "subscription:stats.avg|avg#1", "subscriber:avg"}
    assert sorted(g.successors("subscription:temps.>|workers")) == ["subscriber:w1",
                                                                     "subscriber:w2"]
    assert g.edges["server:n1", "subscription:temps.*|dash#1"]["count"] == 4
    assert g.edges["subscription:temps.>|workers", "subscriber:w2"]["count"] == 2
    assert "queue group workers" in g.nodes["subscription:temps.>|workers"]["label"]
    assert "wildcard" in g.nodes["subscription:temps.*|dash#1"]["label"]


@pytest.mark.parametrize("server_layer", [True, False])
def test_jetstream_graph_from_either_backend(server_layer):
    g = topology_graph(jetstream_trace(server_layer))
    assert g.edges["server:n1", "stream:ORDERS"]["count"] == 5
    assert g.edges["stream:ORDERS", "consumer:ORDERS/worker"]["count"] == 7  # 2 redeliveries
    assert g.edges["consumer:ORDERS/worker", "subscriber:worker1"]["count"] == 7
    assert list(g.successors("consumer:ORDERS/audit")) == ["subscription:audit.deliver|auditor#1"]
    assert not any(n.startswith("subscription:_INBOX") for n in g)  # plumbing is left out
    assert not g.has_edge("server:n1", "subscription:audit.deliver|auditor#1")


def test_window_counts_only_messages_inside_it_but_keeps_the_structure():
    g = topology_graph(jetstream_trace(), window=(0.0, 1.2))
    assert g.edges["publisher:shop", "subject:orders.new"]["count"] == 1
    assert g.edges["server:n1", "stream:ORDERS"]["count"] == 1
    assert "subject:orders.paid" not in g
    before = topology_graph(jetstream_trace(), window=(0.0, 0.5))
    assert before.edges["stream:ORDERS", "consumer:ORDERS/worker"]["count"] == 0


def test_layout_is_deterministic_and_left_to_right():
    g = topology_graph(jetstream_trace())
    pos = layered_positions(g)
    assert pos == layered_positions(topology_graph(jetstream_trace()))
    xs = [pos[n][0] for n in ("publisher:shop", "subject:orders.new", "server:n1",
                              "stream:ORDERS", "consumer:ORDERS/worker", "subscriber:worker1")]
    assert xs == sorted(xs) and len(set(xs)) == len(xs)


def test_drawing_has_one_box_per_node_and_one_arrow_per_edge():
    drawn = draw_topology(core_trace())
    assert set(drawn.nodes) == set(drawn.graph)
    assert set(drawn.edges) == set(drawn.graph.edges)
    assert drawn.nodes["subscriber:w1"].get_text() == "w1"
    assert drawn.ax.get_title().startswith("Topology")


def test_draws_on_the_given_axes():
    _, ax = plt.subplots()
    assert draw_topology(core_trace(), ax=ax).ax is ax


@pytest.mark.parametrize("trace, window", [(Trace(clock=lambda: 0.0), None),
                                           (core_trace(), (-5.0, -1.0))])
def test_nothing_to_draw_gives_a_labelled_empty_figure(trace, window):
    drawn = draw_topology(trace, window=window)
    assert not drawn.edges and not drawn.graph
    assert "nothing to draw" in " ".join(t.get_text() for t in drawn.ax.texts)
    assert drawn.ax.get_title()


def test_bad_window_is_refused_clearly():
    with pytest.raises(ConfigError, match=r"window=\(1, 0\): give \(start, end\)"):
        draw_topology(core_trace(), window=(1, 0))


def test_a_publish_lost_before_the_server_counts_only_to_its_subject():
    g = topology_graph(lossy_trace())
    assert g.edges["publisher:sensor", "subject:temps.a"]["count"] == 3
    assert g.edges["subject:temps.a", "server:n1"]["count"] == 2
    assert g.edges["subscription:temps.*|dash#1", "subscriber:dash"]["count"] == 1


def test_servers_are_joined_by_the_routes_messages_took():
    g = topology_graph(three_node_trace())
    assert g.edges["server:n1", "server:n2"]["count"] == 3
    assert g.edges["server:n1", "server:n3"]["kind"] == "route"
    assert not g.has_edge("server:n2", "server:n3")
    assert "servers" in [t.get_text() for t in draw_topology(three_node_trace()).ax.texts]


def test_layout_keeps_rows_apart_and_puts_a_publisher_beside_its_subjects():
    import networkx as nx

    g = nx.DiGraph()
    for i in range(6):
        g.add_node(f"s{i}", layer=1)
    g.add_node("a", layer=0)
    g.add_node("b", layer=0)
    for i in range(6):
        g.add_edge("a" if i < 4 else "b", f"s{i}")
    pos = layered_positions(g)
    subjects = sorted((pos[f"s{i}"][1] for i in range(6)), reverse=True)
    assert all(upper - lower >= 1.0 - 1e-9 for upper, lower in zip(subjects, subjects[1:]))
    mean_a = sum(pos[f"s{i}"][1] for i in range(4)) / 4
    assert pos["a"][1] == pytest.approx(mean_a, abs=0.01)
    assert pos["a"][1] > pos["b"][1]


def test_records_missing_fields_are_skipped_not_a_traceback():
    from pmesh_sim.viz import animate, draw_sequence

    trace = Trace(clock=lambda: 0.0)
    for time, kind, fields in [(0.0, "stream_created", {}), (0.1, "consumer_created", {}),
                               (0.2, "subscribe", {"client": "a"}), (0.3, "publish", {}),
                               (0.4, "deliver", {"subject": "x"}), (0.5, "ack", {"action": "ack"}),
                               (0.6, "publish", {"client": "p", "subject": "x"}),
                               (0.7, "deliver", {"client": "b", "subject": "x"}),
                               (0.8, "js_deliver", {}), (0.9, "ack_timeout", {})]:
        trace.record(time, kind, fields)
    assert set(draw_topology(trace).graph) == {"publisher:p", "subject:x", "server:server",
                                               "subscriber:b"}
    assert len(draw_sequence(trace).arrows["deliver"]) == 1
    anim = animate(trace, frames=2)
    assert "data:image/png" in anim.to_jshtml()

"""The RAFT timeline: a leader band per raft_leader record, faults shaded, the empty case."""

from __future__ import annotations

import matplotlib
import pytest

matplotlib.use("Agg")

from pmesh_sim.sim import Simulation  # noqa: E402
from pmesh_sim.trace import Trace  # noqa: E402
from pmesh_sim.viz import draw_raft_timeline  # noqa: E402
from pmesh_sim.viz.raft import fault_spans, leader_spans  # noqa: E402


@pytest.fixture(scope="module")
def faulted():
    """An R3 stream on 3 nodes; its leader killed at 10.06 s and restarted 12 s later."""
    sim = Simulation(seed=1)
    sim.add_cluster(3, jetstream=True)
    js = sim.connect("n1", servers=["n1", "n2", "n3"]).jetstream()

    def app():
        yield sim.env.timeout(10)
        yield js.add_stream(name="S", subjects=["s.>"], num_replicas=3)
        yield js.publish("s.1", b"x")
        leader = sim.stream_leader("S")
        sim.kill(leader)
        yield sim.env.timeout(12)
        sim.restart(leader)

    sim.process(app())
    sim.run(until=30)
    return sim.trace


def test_one_band_per_leader_record(faulted):
    tl = draw_raft_timeline(faulted)
    leaders = faulted.filter("raft_leader")
    assert len(leaders) >= 4                    # meta and stream, before and after the kill
    assert len(tl.bands) == len(leaders)
    assert len(tl.terms) == len(leaders)
    assert tl.groups[0] == "_meta_"
    assert len(tl.elections.get_offsets()) == len(faulted.filter("raft_election"))
    assert [t.get_text() for t in tl.terms].count("term 2") == 2


def test_window_keeps_the_leader_records_inside_it(faulted):
    kill = faulted.filter("kill")[0].time
    tl = draw_raft_timeline(faulted, window=(0.0, kill))
    before = [e for e in faulted.filter("raft_leader") if e.time <= kill]
    assert 0 < len(tl.bands) == len(before) < len(faulted.filter("raft_leader"))
    assert all(b.get_x() + b.get_width() <= kill + 1e-9 for b in tl.bands)
    assert tl.faults and tl.ax.get_xlim()[1] == pytest.approx(kill)


def test_a_killed_leaders_band_ends_at_the_kill(faulted):
    kill = faulted.filter("kill")[0]
    spans = [s for s in leader_spans(faulted) if s[1] == kill.fields["node"]]
    assert spans and all(end <= kill.time for *_, start, end in spans if start <= kill.time)


def test_fault_shading_one_span_per_fault():
    t = Trace(clock=lambda: 0.0)
    for time, kind, f in [(1, "raft_leader", {"node": "n1", "group": "G", "term": 1}),
                          (2, "kill", {"node": "n1"}),
                          (3, "raft_election", {"node": "n2", "group": "G", "term": 2}),
                          (3.1, "raft_leader", {"node": "n2", "group": "G", "term": 2}),
                          (4, "restart", {"node": "n1"}),
                          (5, "partition", {"node": "", "groups": "n2 | n1,n3"}),
                          (7, "raft_stepdown", {"node": "n2", "group": "G", "term": 2,
                                                "reason": "lost_quorum"}),
                          (8, "heal", {"node": ""}), (9, "pause", {"node": "n3"})]:
        t.record(time, kind, f)
    assert fault_spans(t) == [("n1 down", 2, 4), ("partition n2 | n1,n3", 5, 8),
                              ("n3 paused", 9, 9)]
    tl = draw_raft_timeline(t)
    assert len(tl.faults) == 3
    assert [(b.get_x(), b.get_width()) for b in tl.bands] == [(1, 1), (3.1, pytest.approx(3.9))]
    assert [b.get_height() for b in tl.bands] == [0.5, 0.5]
    assert len(tl.stepdowns.get_offsets()) == 1
    assert len(draw_raft_timeline(t, window=(0, 3)).faults) == 1


def test_no_raft_records_gives_a_labelled_empty_figure():
    t = Trace(clock=lambda: 0.0)
    t.record(1.0, "kill", {"node": "n1"})
    tl = draw_raft_timeline(t)
    assert tl.bands == [] and tl.faults == []
    assert "RAFT" in tl.ax.get_title()
    assert any("no RAFT records" in text.get_text() for text in tl.ax.texts)


def test_group_selects_one_row(faulted):
    tl = draw_raft_timeline(faulted, group="_meta_")
    assert tl.groups == ["_meta_"]
    assert len(tl.bands) == len(faulted.filter("raft_leader", group="_meta_"))


def test_a_partitioned_leader_overlaps_the_new_one_until_it_steps_down():
    t = Trace(clock=lambda: 0.0)
    for time, kind, f in [(1, "raft_leader", {"node": "n1", "group": "G", "term": 1}),
                          (2, "partition", {"node": "", "groups": "n1 | n2,n3"}),
                          (7, "raft_leader", {"node": "n2", "group": "G", "term": 2}),
                          (12, "raft_stepdown", {"node": "n1", "group": "G", "term": 1,
                                                 "reason": "lost_quorum"}),
                          (15, "heal", {"node": ""})]:
        t.record(time, kind, f)
    assert leader_spans(t) == [("G", "n1", 1, 1, 12), ("G", "n2", 2, 7, 15)]
    tl = draw_raft_timeline(t)
    assert [b.get_height() for b in tl.bands] == [0.5, 0.26]   # the second one drawn thinner

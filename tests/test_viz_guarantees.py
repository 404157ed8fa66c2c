"""The guarantees figure: counts per receiver from the trace, one bar segment per count."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from pmesh_sim.trace import Trace  # noqa: E402
from pmesh_sim.viz import delivery_counts, draw_guarantees  # noqa: E402
from viz2_traces import core_run, jetstream_run  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _runs():
    return {"core": core_run().trace, "jetstream": jetstream_run().trace,
            "exactly-once": jetstream_run(double_ack=True, dedup=True).trace}


def test_core_counts_lost_messages_and_treats_a_queue_group_as_one_receiver():
    counts = delivery_counts(core_run(lost=(3, 7)).trace)
    assert set(counts) == {"worker", "pool (queue group)"}       # not the _INBOX subscription
    assert counts["worker"].delivered == counts["worker"].processed == (2, 8, 0)
    assert counts["pool (queue group)"].delivered == (0, 10, 0)


def test_jetstream_counts_redeliveries_by_stream_sequence():
    c = delivery_counts(jetstream_run(twice=(2, 5, 9)).trace)["JOBS/worker"]
    assert c.mode == "JetStream"
    assert c.delivered == c.processed == (0, 7, 3)


def test_double_ack_processes_each_message_once_and_dedup_stores_once():
    trace = jetstream_run(twice=(2, 5, 9), double_ack=True, dedup=True).trace
    assert len(trace.filter("publish")) == 11                   # job 4 published twice
    c = delivery_counts(trace)["JOBS/worker"]
    assert c.mode == "JetStream, double ack"
    assert c.delivered == (0, 7, 3) and c.processed == (0, 10, 0)


def test_a_stored_message_never_delivered_counts_as_zero():
    b = jetstream_run(twice=(), n=3)
    b.js_publish(5.0, "JOBS", "jobs.4", 4)
    assert delivery_counts(b.trace)["JOBS/worker"].delivered == (1, 3, 0)


def test_consumer_filter_limits_its_messages():
    b = jetstream_run(twice=(), n=4)
    b.rec(0.0, "consumer_config", stream="JOBS", consumer="odd", filter_subjects=["jobs.1"],
          pull=True, ack_policy="explicit")
    assert delivery_counts(b.trace)["JOBS/odd"].delivered == (1, 0, 0)


def test_bar_heights_match_the_counts():
    runs = _runs()
    out = draw_guarantees(runs)
    assert len(out.bars) == 4 * 2 * 3             # 4 receivers, 2 measures, 3 categories
    for run, trace in runs.items():
        for receiver, c in delivery_counts(trace).items():
            for measure in ("delivered", "processed"):
                heights = [out.bars[(run, receiver, measure, t)].get_height()
                           for t in ("0", "1", "2+")]
                assert tuple(heights) == getattr(c, measure)
    bar = out.bars[("exactly-once", "JOBS/worker", "delivered", "2+")]
    assert bar.get_height() == 3 and bar.get_y() == 7          # stacked on the 7 delivered once


def test_one_trace_is_one_run():
    out = draw_guarantees(core_run().trace)
    assert {k[0] for k in out.bars} == {"run"}


def test_nothing_to_count_gives_a_labelled_empty_figure():
    for runs in ({}, Trace(clock=lambda: 0.0), {"a": Trace(clock=lambda: 0.0)}):
        out = draw_guarantees(runs)
        assert out.bars == {} and out.ax.get_title()
        assert "nothing to count" in out.ax.texts[0].get_text()


def test_the_three_guarantee_runs_tell_the_story():
    """core loses some, JetStream delivers (and processes) some twice, exactly once processes
    each stored message once (needs the schema-v1 trace writers: client deliver/ack records
    with stream_seq)."""
    from pmesh_sim.viz import guarantee_runs

    runs = guarantee_runs()
    core, jetstream, once = (delivery_counts(t) for t in runs.values())
    assert core["worker"].delivered[0] > 0                       # lost
    js = jetstream["JOBS/worker"]
    assert js.delivered[2] > 0 and js.processed == js.delivered  # redelivered, processed twice
    eo = once["JOBS/worker"]
    assert eo.mode == "JetStream, double ack" and eo.delivered[2] > 0
    assert eo.processed == (0, sum(eo.delivered), 0)
    out = draw_guarantees(runs)
    assert len(out.bars) == 3 * 2 * 3

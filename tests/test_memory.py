"""Memory of the JetStream pipeline: bounded by a stream's limits, not by its history."""

from pmesh_sim.bench import memory_use, retained_bytes


def test_a_limited_stream_does_not_grow_with_history():
    # 45,000 more messages through a 1,000-message limit: before the fix every published
    # sequence stayed in the subject's index (~40 bytes each, ~1.8 MB here); what may differ
    # now is the subject index's bounded cache of recently seen subjects (< 600 KB).
    # Acked messages' ack timers (30 s ack wait) used to stay in the consumer's heap until
    # due: ~140 bytes a message while running (~6 MB more here at the peak).
    small, small_peak = memory_use(5_000, max_msgs=1000)
    large, large_peak = memory_use(50_000, max_msgs=1000)
    assert large - small < 600_000, (small, large)
    assert large_peak - small_peak < 600_000, (small_peak, large_peak)


def test_a_stored_message_costs_at_most_250_bytes():
    assert retained_bytes(5_000) / 5_000 <= 250


def test_r3_pipeline_keeps_no_timer_per_message():
    """A follower's election deadline moves with every append: the RAFT host moves its mark,
    not a new SimPy timeout a message, so the event queue stays small however long the run."""
    from pmesh_sim.bench import jetstream_pipeline

    sizes = []
    for total in (500, 3000):
        sim, counts = jetstream_pipeline(total, replicas=3)
        sim.run()
        assert counts == {"published": total, "acked": total}
        sizes.append(len(sim.env._queue))
    assert sizes[1] < 200 and sizes[1] <= sizes[0] + 50, sizes


def test_a_spilled_trace_keeps_memory_bounded(tmp_path):
    """With the trace written out as it goes (Parquet parts of 2,000 records), six times the
    messages through a limited stream hold about the same memory, trace on; kept in memory,
    the trace alone grows by ~2 KB a message (~10 MB more here)."""
    from pmesh_sim import read_trace

    spill = {"spill_chunk": 2_000}
    small, small_peak = memory_use(1_000, max_msgs=1000, trace=True,
                                   spill_to=tmp_path / "small", **spill)
    large, large_peak = memory_use(6_000, max_msgs=1000, trace=True,
                                   spill_to=tmp_path / "large", **spill)
    assert large - small < 1_500_000, (small, large)
    assert large_peak - small_peak < 1_500_000, (small_peak, large_peak)
    back = read_trace(tmp_path / "large")
    assert len(back) > 11 * 5_000 and len(back.sizes) > 25
    assert back.kinds().count("js_ack") > 5_000


def test_a_spilled_trace_reads_back_as_the_same_trace(tmp_path):
    from pmesh_sim import read_trace
    from pmesh_sim.bench import jetstream_pipeline

    whole, _ = jetstream_pipeline(300)
    whole.run()
    spilled, _ = jetstream_pipeline(300, spill_to=tmp_path, spill_chunk=1000)
    spilled.run()
    trace = spilled.trace
    assert trace.spilled == 1000 * (len(whole.trace) // 1000) and len(trace) == len(whole.trace)
    assert trace.dumps() == whole.trace.dumps()           # written part + the part in memory
    assert trace[1500] == whole.trace[1500] and trace[-1] == whole.trace[-1]
    assert trace.kinds() == whole.trace.kinds()
    trace.flush()
    back = read_trace(tmp_path)
    assert len(back) == len(whole.trace) and back.dumps() == whole.trace.dumps()
    assert back.filter("js_ack") == whole.trace.filter("js_ack")
    assert back.to_pandas("store").equals(whole.trace.to_pandas("store"))

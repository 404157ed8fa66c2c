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

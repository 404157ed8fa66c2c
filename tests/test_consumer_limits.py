"""A stream's consumer_limits and compression (setConsumerConfigDefaults, checkConsumerCfg)."""

import pytest

from pmesh_sim.config import (ConsumerConfig, ConsumerLimits, StreamConfig, check_consumer_config,
                              check_stream_config)
from pmesh_sim.errors import JetStreamError

LIMITED = check_stream_config(StreamConfig(name="S", consumer_limits=ConsumerLimits(
    inactive_threshold=2.0, max_ack_pending=5)))


def test_consumer_limits_are_the_defaults_of_durables_and_ephemerals():
    for cfg in (ConsumerConfig(durable_name="d"), ConsumerConfig()):
        c = check_consumer_config(cfg, LIMITED)
        assert (c.inactive_threshold, c.max_ack_pending) == (2.0, 5)


@pytest.mark.parametrize("cfg, code, text", [
    (ConsumerConfig(max_ack_pending=6), 10121, "exceeds system limit of 5"),
    (ConsumerConfig(inactive_threshold=3.0), 10153, "exceeds system limit of 2s")])
def test_consumer_limits_are_ceilings(cfg, code, text):
    with pytest.raises(JetStreamError, match=text) as err:
        check_consumer_config(cfg, LIMITED)
    assert err.value.err_code == code


def test_limits_arrive_in_nanoseconds_on_the_wire():
    cfg = StreamConfig.from_wire({"name": "S", "consumer_limits": {"inactive_threshold": 2 * 10**9}})
    assert cfg.consumer_limits.inactive_threshold == 2.0


def test_compression_is_s2_or_none():
    assert StreamConfig.from_wire({"name": "S", "compression": "s2"}).compression == "s2"
    assert check_stream_config(StreamConfig(name="S", compression="none")).compression is None
    with pytest.raises(JetStreamError, match="unknown compression algorithm"):
        StreamConfig.from_wire({"name": "S", "compression": "S2"})

"""StreamConfig / ConsumerConfig: names, defaults, wire units and the server's validation."""

import pytest

from pmesh_sim.config import (AckPolicy, ConsumerConfig, DeliverPolicy, RetentionPolicy,
                              StreamConfig, check_consumer_config, check_stream_config,
                              check_stream_update)
from pmesh_sim.errors import ConfigError, JetStreamError


def err_of(fn, *args):
    with pytest.raises(JetStreamError) as info:
        fn(*args)
    return info.value.err_code, info.value.code, info.value.description


def test_enums_hold_the_servers_strings():
    assert [p.value for p in RetentionPolicy] == ["limits", "interest", "workqueue"]
    assert AckPolicy.EXPLICIT == "explicit"
    assert DeliverPolicy.LAST_PER_SUBJECT == "last_per_subject"


def test_name_is_required_and_durations_are_seconds_on_the_python_side():
    with pytest.raises(TypeError):
        StreamConfig()  # type: ignore[call-arg]
    wire = StreamConfig(name="S", max_age=1.5, duplicate_window=0.5).to_wire()
    assert (wire["max_age"], wire["duplicate_window"]) == (1_500_000_000, 500_000_000)
    assert StreamConfig.from_wire(wire).max_age == 1.5


def test_from_dict_rejects_unknown_keys_and_wrong_types():
    with pytest.raises(ConfigError, match="max_mgs"):
        StreamConfig.from_dict({"name": "S", "max_mgs": 3})
    with pytest.raises(ConfigError, match="max_msgs"):
        StreamConfig.from_dict({"name": "S", "max_msgs": "3"})
    with pytest.raises(ConfigError, match="retention"):
        StreamConfig.from_dict({"name": "S", "retention": "forever"})
    assert StreamConfig.from_dict({"name": "S", "retention": "workqueue"}).retention == "workqueue"


def test_stream_defaults_follow_the_server():
    c = check_stream_config(StreamConfig(name="S", max_msgs=0, max_bytes=-5))
    assert (c.subjects, c.max_msgs, c.max_bytes, c.duplicate_window, c.num_replicas) == \
        (["S"], -1, -1, 120.0, 1)
    assert check_stream_config(StreamConfig(name="S", max_age=10.0)).duplicate_window == 10.0


@pytest.mark.parametrize("cfg, expected", [
    (StreamConfig(name="a.b"), (10052, 500, "stream name is required and can not contain "
                                            "'.', '*', '>', '\\', '/'")),
    (StreamConfig(name="S", max_age=-1.0), (10052, 500, "max age can not be negative")),
    (StreamConfig(name="S", max_age=0.05), (10052, 500, "max age needs to be >= 100ms")),
    (StreamConfig(name="S", max_age=10.0, duplicate_window=20.0),
     (10052, 500, "duplicates window can not be larger then max age")),
    (StreamConfig(name="S", deny_purge=True, allow_rollup_hdrs=True),
     (10052, 500, "roll-ups require the purge permission")),
    (StreamConfig(name="S", discard_new_per_subject=True),
     (10052, 500, "discard new per subject requires discard new policy to be set")),
    (StreamConfig(name="S", subjects=["a.>", "a.b"]),
     (10052, 500, 'subject "a.>" overlaps with "a.b"')),
    # the server checks overlap with the later subjects before it records duplicates
    (StreamConfig(name="S", subjects=["a", "a"]), (10052, 500, 'subject "a" overlaps with "a"')),
    (StreamConfig(name="S", num_replicas=6), (10052, 500, "maximum replicas is 5")),
    (StreamConfig(name="S", num_replicas=-1), (10133, 400, "replicas count cannot be negative")),
    (StreamConfig(name="S", num_replicas=3),
     (10074, 500, "replicas > 1 not supported in non-clustered mode")),
])
def test_invalid_stream_configs_get_the_servers_error(cfg, expected):
    assert err_of(check_stream_config, cfg) == expected


def test_update_cannot_change_storage_or_cancel_deny_delete():
    old = check_stream_config(StreamConfig(name="S", deny_delete=True))
    assert err_of(check_stream_update, old, StreamConfig(name="S", storage="memory"))[2] == \
        "stream configuration update can not change storage type"
    assert err_of(check_stream_update, old, StreamConfig(name="S"))[2] == \
        "stream configuration update can not cancel deny message deletes"
    assert err_of(check_stream_update, check_stream_config(StreamConfig(name="S")),
                  StreamConfig(name="S", retention=RetentionPolicy.WORK_QUEUE))[0] == 10052


def test_consumer_defaults_follow_the_server():
    s = StreamConfig(name="S")
    c = check_consumer_config(ConsumerConfig(durable_name="d"), s)
    assert (c.ack_wait, c.max_deliver, c.max_ack_pending, c.max_waiting) == (30.0, -1, 1000, 512)
    c = check_consumer_config(ConsumerConfig(durable_name="d", backoff=[1.0, 5.0]), s)
    assert c.ack_wait == 1.0
    c = check_consumer_config(ConsumerConfig(ack_policy=AckPolicy.NONE), s)
    assert (c.ack_wait, c.max_ack_pending) == (None, None)


@pytest.mark.parametrize("cfg, code", [
    (ConsumerConfig(max_deliver=2, backoff=[1.0, 2.0, 3.0]), 10116),
    (ConsumerConfig(filter_subject="a", filter_subjects=["b"]), 10136),
    (ConsumerConfig(filter_subjects=["a.*", "a.b"]), 10138),
    (ConsumerConfig(deliver_policy=DeliverPolicy.LAST_PER_SUBJECT), 10094),
    (ConsumerConfig(deliver_policy=DeliverPolicy.BY_START_SEQUENCE), 10094),
    (ConsumerConfig(deliver_subject="d", max_waiting=5), 10080),
    (ConsumerConfig(idle_heartbeat=1.0), 10088),
])
def test_invalid_consumer_configs_get_the_servers_err_code(cfg, code):
    assert err_of(check_consumer_config, cfg, StreamConfig(name="S"))[0] == code


def test_workqueue_pull_consumer_needs_explicit_ack():
    wq = StreamConfig(name="S", retention=RetentionPolicy.WORK_QUEUE)
    assert err_of(check_consumer_config, ConsumerConfig(ack_policy=AckPolicy.NONE), wq) == \
        (10084, 400, "consumer in pull mode requires explicit ack policy on workqueue stream")


def test_republish_reads_from_a_mapping_and_goes_to_the_wire_as_the_server_echoes_it():
    from pmesh_sim.config import RePublish

    cfg = StreamConfig.from_dict({"name": "S", "subjects": ["a.>"],
                                  "republish": {"src": "a.>", "dest": "b.>", "headers_only": True}})
    assert cfg.republish == RePublish(src="a.>", dest="b.>", headers_only=True)
    assert cfg.to_wire()["republish"] == {"src": "a.>", "dest": "b.>", "headers_only": True}
    assert StreamConfig.from_wire(cfg.to_wire()) == cfg
    with pytest.raises(ConfigError, match="RePublish has no field 'to'"):
        StreamConfig.from_dict({"name": "S", "republish": {"to": "b.>"}})

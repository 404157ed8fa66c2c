"""Virtual time on a calendar: the simulation's time 0 is a fixed, configurable date."""

import datetime

import pytest

from pmesh_sim import ConfigError, ConsumerConfig, JetStreamError, ScenarioError, Simulation
from pmesh_sim.scenario import Scenario
from pmesh_sim.sim.simulation import DEFAULT_EPOCH


def run(body, **options):
    sim = Simulation(seed=1, latency=0.001, **options)
    sim.add_server("n1", jetstream=True)
    log = []
    js = sim.connect(name="app").jetstream()
    sim.process(body(sim.env, js, log))
    sim.run(until=60)
    return log, sim


def publish_three(env, js):
    yield js.add_stream(name="S", subjects=["s.>"])
    for i in range(3):           # stored at about 0.00, 1.00 and 2.00 s after the epoch
        yield env.timeout(1.0 - env.now % 1.0)
        yield js.publish(f"s.{i}", b"x")


def test_message_timestamps_count_from_the_default_epoch():
    def body(env, js, log):
        yield from publish_three(env, js)
        yield js.add_consumer("S", ConsumerConfig(durable_name="c"))
        sub = yield js.pull_subscribe_bind("c", stream="S")
        msgs = yield sub.fetch(3)
        log.extend(m.metadata.timestamp for m in msgs)
    stamps, sim = run(body)
    assert DEFAULT_EPOCH == "2026-01-01T00:00:00Z"
    assert [s.replace(microsecond=0).isoformat() for s in stamps] == [
        "2026-01-01T00:00:01+00:00", "2026-01-01T00:00:02+00:00", "2026-01-01T00:00:03+00:00"]


def test_deliver_by_start_time_takes_a_date_on_the_simulations_calendar():
    def body(env, js, log):
        yield from publish_three(env, js)
        yield js.add_consumer("S", ConsumerConfig(
            durable_name="c", deliver_policy="by_start_time",
            opt_start_time="2020-02-02T00:00:01.5Z"))
        info = yield js.consumer_info("S", "c")
        log.append((info.delivered.stream_seq, info.num_pending))
    log, _ = run(body, epoch="2020-02-02T00:00:00Z")
    assert log == [(1, 2)]     # starts at the message stored at 2 s: seq 2


def test_the_epoch_moves_every_date_and_nothing_else():
    def body(env, js, log):
        yield from publish_three(env, js)
        info = yield js.stream_info("S")
        log.append(info.state.messages)
    a, sim_a = run(body)
    b, sim_b = run(body, epoch=datetime.datetime(1999, 12, 31, tzinfo=datetime.timezone.utc))
    assert a == b == [3]
    assert sim_a.date(0.25) == "2026-01-01T00:00:00.25Z"
    assert sim_b.date(0.25) == "1999-12-31T00:00:00.25Z"
    assert [(e.time, e.kind) for e in sim_a.trace] == [(e.time, e.kind) for e in sim_b.trace]


def test_same_seed_same_dates():
    def body(env, js, log):
        yield from publish_three(env, js)
        msg = yield js.get_msg("S", seq=2)
        log.append(msg)
    assert repr(run(body)[0]) == repr(run(body)[0])


@pytest.mark.parametrize("epoch", ["2026-01-01", "soon", 1.5, datetime.datetime(2026, 1, 1)])
def test_an_epoch_that_is_not_a_date_is_refused(epoch):
    with pytest.raises(ConfigError, match="epoch="):
        Simulation(epoch=epoch)


def test_opt_start_time_that_is_not_a_date_gets_the_servers_10025():
    def body(env, js, log):
        yield js.add_stream(name="S", subjects=["s.>"])
        try:
            yield js.add_consumer("S", ConsumerConfig(durable_name="c",
                                                      deliver_policy="by_start_time",
                                                      opt_start_time="2026-01-01"))
        except JetStreamError as err:
            log.append((err.err_code, err.description))
    log, _ = run(body)
    assert log == [(10025, 'invalid JSON: parsing time "2026-01-01" as '
                           '"2006-01-02T15:04:05Z07:00": cannot parse "" as "T"')]


def test_a_malformed_relative_start_time_names_the_step_and_key():
    with pytest.raises(ScenarioError, match=r"step 0 \(add_consumer\): key 'opt_start_time'"):
        Scenario.from_dict({"name": "x", "streams": [{"name": "S"}], "steps": [
            {"op": "add_consumer", "stream": "S", "durable_name": "c",
             "deliver_policy": "by_start_time", "opt_start_time": "-half a second"}]})

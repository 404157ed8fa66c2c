"""The delivery checkers find injected faults and report nothing on clean runs."""

from pathlib import Path

import matplotlib
import pytest

from pmesh_sim import run_scenario
from pmesh_sim.experiments import check_delivery
from pmesh_sim.scenario import Scenario, load_scenario
from pmesh_sim.trace import Trace

matplotlib.use("Agg")

CONFORMANCE = Path(__file__).parent.parent / "scenarios" / "conformance"
EXAMPLES = Path(__file__).parent.parent / "pmesh_sim" / "examples"

# each drains its consumers: every acknowledged message is fetched before the end
CLEAN = ["consumer-ack-all.yaml", "consumer-ack-explicit-floor.yaml",
         "consumer-deliver-policies-filtered.yaml", "consumer-filter-subjects-pending.yaml",
         "consumer-push-deliver-group.yaml", "consumer-replay-start-seq-filter-subjects.yaml",
         "stream-max-msgs-evicts-pending.yaml", "stream-update-three-times.yaml"]


def sim_trace(scenario, **kw) -> Trace:
    traces: list = []
    run_scenario(scenario, "sim", trace_out=traces, **kw)
    return traces[0]


def edited(trace: Trace, drop=lambda e: False, extra=()) -> Trace:
    """A copy of ``trace`` without the records ``drop`` picks, with ``extra`` (time, kind,
    fields) records added at their times."""
    out = Trace(clock=lambda: 0.0)
    events = [e for e in trace if not drop(e)] + [tuple(x) for x in extra]
    for time, kind, fields in sorted(events, key=lambda e: e[0]):
        out.record(time, kind, dict(fields))
    return out


def three_messages(subject="orders.{i}") -> Scenario:
    """3 messages published, then fetched and acked (explicit acks) by ORDERS/c."""
    return Scenario.from_dict({"name": "three", "streams": [
        {"name": "ORDERS", "subjects": ["orders.*", "orders"]}], "consumers": [
        {"stream": "ORDERS", "durable_name": "c", "ack_policy": "explicit"}], "steps": [
        *[{"at": 0.01 * i, "op": "js_publish", "subject": subject.format(i=i), "data": str(i)}
          for i in range(3)],
        {"at": 0.1, "op": "fetch", "consumer": "c", "batch": 3, "timeout": 0.2}]})


@pytest.fixture(scope="module")
def clean():
    """A clean run of :func:`three_messages`."""
    return sim_trace(three_messages())


def deliveries(trace):
    return [e for e in trace if e.kind == "deliver" and e.fields.get("consumer")]


@pytest.mark.parametrize("name", CLEAN)
def test_clean_conformance_runs_report_nothing(name):
    result = check_delivery(sim_trace(CONFORMANCE / name))
    counts = result.counts()
    assert result.valid, str(result)
    assert counts["acknowledged"] >= 3
    assert all(counts[k] == 0 for k in ("lost", "duplicated", "redelivered", "processed_twice",
                                        "out_of_order", "past_max_deliver", "unexpected",
                                        "unstored", "recovered")), counts
    assert str(result).startswith("valid: 0 of ")


def test_a_nak_is_a_redelivery_not_a_violation():
    result = check_delivery(sim_trace(CONFORMANCE / "consumer-nak.yaml"))
    assert result.valid
    assert result.counts()["duplicated"] == 1 and result.counts()["redelivered"] == 1


def test_the_clean_baseline(clean):
    check = check_delivery(clean).consumers["ORDERS/c"]
    assert (check.expected, check.delivered, check.lost) == (3, 3, [])
    assert list(check.outcomes.values()) == ["once"] * 3


@pytest.mark.parametrize("which, epoch", [(0, "lost_prefix"), (1, "lost_middle"),
                                          (2, "lost_postfix")])
def test_a_lost_write_is_found_in_its_epoch(clean, which, epoch):
    victim = deliveries(clean)[which].fields["msg_id"]
    trace = edited(clean, drop=lambda e: e.kind in ("store", "deliver", "js_deliver", "ack",
                                                    "js_ack")
                   and e.fields.get("msg_id") == victim)
    result = check_delivery(trace)
    assert not result.valid
    assert getattr(result.consumers["ORDERS/c"], epoch) == [victim]
    assert result.unstored == [victim]
    assert result.counts()["lost"] == 1
    assert str(result).startswith("INVALID: 1 of 3 acknowledged messages lost")


def test_a_dropped_publish_ack_makes_a_recovered_message(clean):
    victim = deliveries(clean)[1].fields["msg_id"]
    result = check_delivery(edited(clean, drop=lambda e: e.kind == "pub_ack"
                                   and e.fields["msg_id"] == victim))
    assert result.recovered == [victim]
    assert result.acknowledged == 2 and result.valid


def test_a_dropped_consumer_ack_gives_a_redelivery_processed_twice(clean):
    first = deliveries(clean)[0]
    victim = first.fields["msg_id"]
    redelivery = {**first.fields, "num_delivered": 2, "consumer_seq": 4}
    ack = next(e for e in clean if e.kind == "ack" and e.fields["msg_id"] == victim)
    trace = edited(clean, drop=lambda e: e.kind == "js_ack" and e.fields["msg_id"] == victim,
                   extra=[(first.time + 5, "deliver", redelivery),
                          (first.time + 5, "ack", {**ack.fields, "consumer_seq": 4})])
    check = check_delivery(trace).consumers["ORDERS/c"]
    assert (check.duplicated, check.redelivered, check.processed_twice) == \
        ([victim], [victim], [victim])
    assert check_delivery(trace).valid      # at least once allows it


def test_a_duplicate_delivery_is_counted_but_is_no_redelivery(clean):
    first = deliveries(clean)[2]
    result = check_delivery(edited(clean, extra=[(first.time, "deliver", first.fields)]))
    check = result.consumers["ORDERS/c"]
    assert check.duplicated == [first.fields["msg_id"]] and check.redelivered == []
    assert "1 duplicated" in str(result)


def test_a_reorder_is_an_order_violation():
    trace = sim_trace(three_messages(subject="orders"))
    assert check_delivery(trace).valid
    d0, d1 = deliveries(trace)[:2]
    swapped = edited(trace, drop=lambda e: e.kind == "deliver" and e.fields.get("consumer"),
                     extra=[(d.time, "deliver", f.fields) for d, f in
                            zip(deliveries(trace), [d1, d0, deliveries(trace)[2]])])
    result = check_delivery(swapped)
    assert result.consumers["ORDERS/c"].out_of_order == [d0.fields["msg_id"]]
    assert not result.valid and "1 out of order" in str(result)


def test_a_delivery_past_max_deliver_and_an_unexpected_one(clean):
    first = deliveries(clean)[0]
    config = next(e for e in clean if e.kind == "consumer_config")
    extra = [(first.time + 1, "deliver", {**first.fields, "num_delivered": 4}),
             (first.time + 1, "deliver", {**first.fields, "msg_id": 999, "stream_seq": 99})]
    trace = edited(clean, drop=lambda e: e.kind == "consumer_config",
                   extra=extra + [(config.time, "consumer_config",
                                   {**config.fields, "max_deliver": 3})])
    result = check_delivery(trace)
    assert result.consumers["ORDERS/c"].past_max_deliver == [first.fields["msg_id"]]
    assert result.unexpected == [999]
    assert not result.valid


def test_network_loss_gives_redeliveries_and_double_processing_but_loses_nothing():
    trace = sim_trace(EXAMPLES / "guarantees-jetstream.yaml")   # 10% loss on every hop
    result = check_delivery(trace)
    check = result.consumers["JOBS/worker"]
    assert result.valid and check.lost == []
    timed_out = {e.fields["msg_id"] for e in trace if e.kind == "ack_timeout"}
    assert check.duplicated and set(check.duplicated) <= timed_out
    assert set(check.processed_twice) <= set(check.duplicated)
    assert len(check.redelivered) >= len(check.duplicated)
    # a publish whose request was lost has no pub ack: attempted, not acknowledged
    assert result.attempted == 20 and result.acknowledged == 19


def test_a_reader_that_stops_early_leaves_a_lost_postfix():
    data = load_scenario(EXAMPLES / "guarantees-jetstream.yaml")
    data.steps = [s for s in data.steps if s.op != "fetch"] + [
        s for s in data.steps if s.op == "fetch"][:1]
    data.network = {}
    check = check_delivery(sim_trace(data)).consumers["JOBS/worker"]
    assert check.lost_prefix == check.lost_middle == []
    assert check.delivered + len(check.lost_postfix) == check.expected == 20


def test_same_seed_same_verdict_and_the_figure_says_it():
    a = check_delivery(sim_trace(EXAMPLES / "guarantees-jetstream.yaml", seed=3))
    b = check_delivery(sim_trace(EXAMPLES / "guarantees-jetstream.yaml", seed=3))
    assert a == b and "\n" not in str(a)
    ax = a.plot()
    assert ax.get_title().replace("\n", " ") == str(a)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["JOBS/worker"]
    matplotlib.pyplot.close(ax.figure)


@pytest.mark.parametrize("name", ["consumer-ack-all.yaml", "consumer-deliver-policies-filtered.yaml"])
def test_clean_runs_on_the_real_server_report_nothing(name):
    traces: list = []
    run_scenario(CONFORMANCE / name, "real", trace_out=traces)
    result = check_delivery(traces[0])
    counts = result.counts()
    assert result.valid and counts["acknowledged"] >= 3, str(result)
    assert counts["duplicated"] == counts["unexpected"] == counts["recovered"] == 0
    sim = check_delivery(sim_trace(CONFORMANCE / name))
    assert counts == sim.counts()

"""Comparison rules: what validate counts as a difference and what it ignores."""

import copy

from pmesh_sim.checks import Difference, compare_results, format_differences

BASE = {
    "scenario": "s", "backend": "sim", "seed": 0, "servers": 1, "setup": [],
    "steps": [
        {"index": 0, "op": "js_publish", "result": {"stream": "S", "seq": 1, "duplicate": False}},
        {"index": 1, "op": "stream_info", "result": {"messages": 1, "bytes": 40, "first_seq": 1,
                                                     "last_seq": 1}},
        {"index": 2, "op": "partition", "result": {"outcome": "partitioned"}},
    ],
    "subscriptions": {"all": [{"subject": "a", "data": "1"}, {"subject": "b", "data": "2"}],
                      "q1": [{"subject": "a", "data": "1"}], "q2": [{"subject": "b", "data": "2"}]},
    "queues": {"q1": "g", "q2": "g"},
    "final": {"streams": {"S": {"messages": 1, "bytes": 40}}, "consumers": {}},
}


def real_of(doc):
    real = copy.deepcopy(doc)
    real["backend"] = "real"
    real["steps"][2]["result"] = {"outcome": "unsupported"}
    return real


def test_equal_documents_agree_despite_backend_bytes_and_unsupported_faults():
    real = real_of(BASE)
    real["steps"][1]["result"]["bytes"] = 99
    real["final"]["streams"]["S"]["bytes"] = 77
    real["seed"] = 5
    assert compare_results(BASE, real) == []


def test_a_different_value_is_reported_with_step_and_field():
    real = real_of(BASE)
    real["steps"][0]["result"]["seq"] = 2
    real["final"]["streams"]["S"]["messages"] = 2
    assert compare_results(BASE, real) == [
        Difference("s", "0", "js_publish.seq", 1, 2),
        Difference("s", "final", "final.streams.S.messages", 1, 2)]


def test_queue_group_member_choice_is_ignored_but_a_lost_or_doubled_message_is_not():
    real = real_of(BASE)
    real["subscriptions"]["q1"], real["subscriptions"]["q2"] = (
        real["subscriptions"]["q2"], real["subscriptions"]["q1"])
    assert compare_results(BASE, real) == []
    real["subscriptions"]["q1"] = real["subscriptions"]["q1"] * 2
    diffs = compare_results(BASE, real)
    assert [d.field for d in diffs] == ["subscriptions.queue group g"]


def test_plain_subscription_order_and_missing_keys_count():
    real = real_of(BASE)
    real["subscriptions"]["all"].reverse()
    del real["steps"][0]["result"]["duplicate"]
    fields = [d.field for d in compare_results(BASE, real)]
    assert fields == ["js_publish.duplicate", "subscriptions.all[0].data",
                      "subscriptions.all[0].subject", "subscriptions.all[1].data",
                      "subscriptions.all[1].subject"]


def test_an_error_instead_of_an_ack_shows_each_key_on_both_sides():
    real = real_of(BASE)
    error = {"code": 503, "err_code": 10077, "description": "x"}
    real["steps"][0]["result"] = {"error": error}
    assert [(d.field, d.sim, d.real) for d in compare_results(BASE, real)] == [
        ("js_publish.duplicate", False, "<missing>"), ("js_publish.error", "<missing>", error),
        ("js_publish.seq", 1, "<missing>"), ("js_publish.stream", "S", "<missing>")]


def test_the_table_has_one_row_per_difference_side_by_side():
    table = format_differences([Difference("s", "3", "fetch.messages", [], [{"data": "x"}])])
    assert table.splitlines() == [
        "scenario  step  field           sim  real",
        's         3     fetch.messages  []   [{"data": "x"}]']

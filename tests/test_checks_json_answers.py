"""validate compares an API answer kept as text (a `request` step's data) as JSON, so the
dates in it are left out like everywhere else, and everything else still counts."""

from pmesh_sim.checks import compare_results


def doc(data):
    return {"scenario": "s", "servers": 1,
            "steps": [{"index": 0, "op": "request", "result": {"data": data}}]}


def test_dates_inside_an_answer_are_not_compared():
    a = '{"message":{"seq":2,"time":"2026-01-01T00:00:00Z"},"ts":"2026-01-01T00:00:01Z"}'
    b = '{"message":{"seq":2,"time":"2026-12-01T01:33:46.3Z"},"ts":"2026-12-01T01:33:47Z"}'
    assert compare_results(doc(a), doc(b)) == []


def test_everything_else_inside_an_answer_is_compared():
    diffs = compare_results(doc('{"message":{"seq":2}}'), doc('{"message":{"seq":3}}'))
    assert [(d.field, d.sim, d.real) for d in diffs] == [("request.data.message.seq", 2, 3)]


def test_plain_text_is_compared_as_text():
    diffs = compare_results(doc("pong"), doc("ping"))
    assert [(d.field, d.sim, d.real) for d in diffs] == [("request.data", "pong", "ping")]


def test_clock_durations_and_raft_group_names_are_compared_by_what_runs_share():
    a = ('{"cluster":{"raft_group":"S-R3F-9ZMJLsCf","leader_since":"2026-01-01T00:00:06Z",'
         '"replicas":[{"name":"n1","active":64000000}]},"mirror":{"active":-1}}')
    b = ('{"cluster":{"raft_group":"S-R3F-CEr7ilRL","leader_since":"2026-12-01T06:39:00Z",'
         '"replicas":[{"name":"n1","active":74519953}]},"mirror":{"active":-1}}')
    assert compare_results(doc(a), doc(b)) == []
    c = b.replace('"mirror":{"active":-1}', '"mirror":{"active":5}').replace("S-R3F", "S-R1M")
    diffs = compare_results(doc(a), doc(c))
    assert [(d.field, d.sim, d.real) for d in diffs] == [
        ("request.data.cluster.raft_group", "S-R3F-*", "S-R1M-*"),
        ("request.data.mirror.active", False, True)]

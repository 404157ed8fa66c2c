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

"""Subject rules (reference A1), matching, and the trie index against a brute-force matcher."""

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pmesh_sim.errors import InvalidSubjectError
from pmesh_sim.subjects import (
    Sub,
    SubjectIndex,
    check_publish_subject,
    subject_matches,
    validate_queue,
    validate_subject,
)


@pytest.mark.parametrize("subject, rule", [
    ("", "must not be empty"),
    ("a..b", "token 2 is empty"),
    (".a", "token 1 is empty"),
    ("a.", "token 2 is empty"),
    ("a b", "contains a space"),
    ("a\tb", "contains a tab"),
    ("a\nb", "contains a newline"),
    ("a.>.b", "'>' must be the last token"),
    (5, "must be a str, got int"),
])
def test_invalid_subscribe_subject_names_the_subject_and_the_rule(subject, rule):
    with pytest.raises(InvalidSubjectError) as err:
        validate_subject(subject)
    assert repr(subject) in str(err.value)
    assert rule in str(err.value)


@pytest.mark.parametrize("subject", ["a", "a.b.c", "a.*", "*.b", ">", "a.>", "foo*.b>", "$JS.API.>"])
def test_valid_subscribe_subjects_are_returned(subject):
    assert validate_subject(subject) == subject


@pytest.mark.parametrize("subject", ["a.*", ">", "a.*.b"])
def test_wildcards_are_refused_where_wildcards_is_false(subject):
    with pytest.raises(InvalidSubjectError, match="wildcard"):
        validate_subject(subject, wildcards=False)


def test_wildcard_characters_inside_a_token_are_literal():
    assert validate_subject("foo*.a>b", wildcards=False) == "foo*.a>b"
    assert not subject_matches("foo*", "foox")


def test_publish_check_accepts_what_nats_py_sends_and_refuses_empty_and_spaces():
    assert check_publish_subject("foo.*") == "foo.*"
    assert check_publish_subject("a..b") == "a..b"
    for bad in ["", "a b", None]:
        with pytest.raises(InvalidSubjectError):
            check_publish_subject(bad)


def test_queue_names_none_and_empty_mean_no_group_and_whitespace_is_refused():
    assert validate_queue("") == "" and validate_queue(None) == ""
    with pytest.raises(InvalidSubjectError, match="queue group 'a b'"):
        validate_queue("a b")


@pytest.mark.parametrize("pattern, subject, expected", [
    ("a.b", "a.b", True), ("a.*", "a.b", True), ("a.*", "a.b.c", False), ("a.>", "a", False),
    ("a.>", "a.b.c", True), (">", "a", True), ("*.b", "a.b", True), ("a.b", "a.*", False),
    ("a.*", "a.*", True), ("a.>", "a.*", True), ("a.b", "a..b", False), (">", "a..b", False),
    ("*", "", False),
])
def test_subject_matches(pattern, subject, expected):
    assert subject_matches(pattern, subject) is expected


def _brute_force(pattern, subject):
    """Matching by regular expression over the whole subject: an independent oracle."""
    if not subject or "" in subject.split("."):
        return False
    parts = []
    for i, token in enumerate(pattern.split(".")):
        if token == "*":
            parts.append(r"[^.]+")
        elif token == ">":
            parts.append(r"[^.]+(\.[^.]+)*")
        else:
            parts.append(re.escape(token))
    return re.fullmatch(r"\.".join(parts), subject) is not None


tokens = st.sampled_from(["a", "b", "c", "*"])
literal_tokens = st.sampled_from(["a", "b", "c", "*", ""])


@st.composite
def patterns(draw):
    toks = draw(st.lists(tokens, min_size=1, max_size=4))
    if draw(st.booleans()):
        toks.append(">")
    return ".".join(toks)


subjects = st.lists(literal_tokens, min_size=1, max_size=5).map(".".join).filter(bool)


@settings(max_examples=300, deadline=None)
@given(patterns(), subjects)
def test_subject_matches_agrees_with_a_regex_oracle(pattern, subject):
    assert subject_matches(pattern, subject) == _brute_force(pattern, subject)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(patterns(), st.sampled_from(["", "", "q1", "q2"])), max_size=12),
       st.lists(subjects, min_size=1, max_size=5), st.data())
def test_index_returns_exactly_the_subscriptions_a_brute_force_scan_matches(entries, probes, data):
    index = SubjectIndex()
    subs = [Sub(p, q) for p, q in entries]
    for sub in subs:
        index.add(sub)
    removed = data.draw(st.lists(st.sampled_from(subs), unique_by=id)) if subs else []
    for sub in removed:
        index.remove(sub)
    live = [s for s in subs if not any(s is r for r in removed)]
    for subject in probes:
        match = index.match(subject)
        expected = [s for s in live if _brute_force(s.subject, subject)]
        assert sorted(map(id, match.plain)) == sorted(id(s) for s in expected if not s.queue)
        got_groups = {g[0].queue: sorted(map(id, g)) for g in match.groups}
        want_groups = {}
        for s in expected:
            if s.queue:
                want_groups.setdefault(s.queue, []).append(id(s))
        assert got_groups == {q: sorted(ids) for q, ids in want_groups.items()}
        again = index.match(subject)                  # cached from the second match
        assert again.plain == match.plain and again.groups == match.groups
        assert index.match(subject) is again          # ... until the next add/remove
    assert len(index) == len(live)


def test_queue_groups_come_out_in_first_added_order():
    index = SubjectIndex()
    index.add(Sub("a.*", "zeta"))
    index.add(Sub("a.b", "alpha"))
    index.add(Sub("a.>", "zeta"))
    groups = index.match("a.b").groups
    assert [sorted(s.subject for s in g) for g in groups] == [["a.*", "a.>"], ["a.b"]]


def test_a_subject_is_cached_from_its_second_match_so_unique_subjects_never_fill_the_cache():
    index = SubjectIndex(cache_size=4)
    index.add(Sub("_INBOX.x.*"))
    index.add(Sub("_INBOX.y.z"))
    for i in range(100):
        assert len(index.match(f"_INBOX.y.{i}").plain) == 0   # a literal branch looked at it
    assert len(index._cache) == 0
    first, second, third = (index.match("_INBOX.y.z") for _ in range(3))
    assert first is not second and second is third and len(index._cache) == 1


def test_subjects_differing_only_where_wildcards_meet_them_share_one_match():
    index = SubjectIndex(cache_size=4)
    inbox, acks = Sub("_INBOX.x.*"), Sub("$JS.ACK.S.C.*.*.*.*.*")
    domain = Sub("$JS.ACK.*.*.S.C.*.*.*.*.*.*")
    for sub in (inbox, acks, domain, Sub("_INBOX.>"), Sub("$JS.ACK.S.D.>")):
        index.add(sub)
    replies = [index.match(f"_INBOX.x.{i}") for i in range(100)]
    acked = [index.match(f"$JS.ACK.S.C.1.{i}.{i}.17.0") for i in range(100)]
    assert all(r is replies[0] for r in replies) and all(a is acked[0] for a in acked)
    assert [s.subject for s in replies[0].plain] == ["_INBOX.>", "_INBOX.x.*"]
    assert acked[0].plain == [acks]
    assert len(index._cache) == 0 and len(index._shapes) == 2
    assert index.match("$JS.ACK.S.C.2.5.5.17.0").plain == [acks]     # another shape
    assert index.match("$JS.ACK.S.D.1.5.5.17.0").plain[0].subject == "$JS.ACK.S.D.>"
    assert index.match("$JS.ACK.d.h.S.C.1.5.5.17.0.r").plain == [domain]
    index.remove(inbox)                                            # forgets every shape
    assert index.match("_INBOX.x.7").plain[0].subject == "_INBOX.>" and len(index._shapes) <= 4


def test_add_and_remove_clear_the_cache():
    index = SubjectIndex()
    first = index.match("a.b")
    assert index.match("a.b") is index.match("a.b")
    sub = Sub("a.b")
    index.add(sub)
    assert index.match("a.b").plain == [sub] and first.plain == []
    index.remove(sub)
    assert index.match("a.b").plain == []


def test_removing_an_unknown_subscription_changes_nothing():
    index = SubjectIndex()
    index.add(Sub("a.b"))
    index.remove(Sub("a.b"))             # equal but not the same object
    index.remove(Sub("x.y"))
    assert len(index) == 1 and len(index.match("a.b").plain) == 1


def test_match_cost_does_not_grow_with_unrelated_subscriptions():
    """Count trie nodes visited: unrelated branches are never entered."""
    import pmesh_sim.subjects as subjects

    visits = []
    original = subjects._collect

    def counting(level, toks, start, out):
        visits.append(start)
        return original(level, toks, start, out)

    def cost(extra):
        index = SubjectIndex()
        index.add(Sub("orders.*.new"))
        for i in range(extra):
            index.add(Sub(f"unrelated{i}.x.*"))
        visits.clear()
        subjects._collect = counting
        try:
            index.match("orders.eu.new")
        finally:
            subjects._collect = original
        return len(visits)

    assert cost(10) == cost(10_000)

"""first_seq, what sealing a stream implies, and subject_transform (stream.go, memstore.go)."""

import json

from pmesh_sim.jetstream.api import JetStream


def api(js, subject, body=None, now=0.0):
    data = json.dumps(body).encode() if body is not None else b""
    out = js.handle(subject, "_INBOX.r", data, None, now=now)
    return json.loads(out[0].data)


def test_first_seq_starts_the_sequences_there():
    js = JetStream()
    info = api(js, "$JS.API.STREAM.CREATE.S", {"name": "S", "subjects": ["s.*"], "first_seq": 100})
    assert (info["state"]["first_seq"], info["state"]["last_seq"]) == (100, 99)
    assert api(js, "s.a", None) == {"stream": "S", "seq": 100}


def test_first_seq_one_reports_one_and_zero_reports_zero():
    js = JetStream()
    one = api(js, "$JS.API.STREAM.CREATE.A", {"name": "A", "subjects": ["a"], "first_seq": 1})
    zero = api(js, "$JS.API.STREAM.CREATE.B", {"name": "B", "subjects": ["b"], "first_seq": 0})
    assert (one["state"]["first_seq"], zero["state"]["first_seq"]) == (1, 0)


def test_a_negative_first_seq_is_invalid_json():
    err = api(JetStream(), "$JS.API.STREAM.CREATE.S", {"name": "S", "first_seq": -1})["error"]
    assert err["err_code"] == 10025 and "first_seq of type uint64" in err["description"]


def test_sealing_sets_what_it_implies():
    js = JetStream()
    api(js, "$JS.API.STREAM.CREATE.S", {"name": "S", "subjects": ["s.*"], "max_age": 10**9,
                                         "allow_rollup_hdrs": True})
    cfg = api(js, "$JS.API.STREAM.UPDATE.S", {"name": "S", "subjects": ["s.*"], "sealed": True,
                                              "max_age": 10**9, "allow_rollup_hdrs": True})["config"]
    assert (cfg["max_age"], cfg["discard"], cfg["deny_delete"], cfg["deny_purge"],
            cfg["allow_rollup_hdrs"]) == (0, "new", True, True, False)
    err = api(js, "$JS.API.STREAM.UPDATE.S", {"name": "S", "subjects": ["s.*"], "sealed": True})
    assert err["error"]["description"] == "stream configuration update can not cancel deny message deletes"


def test_a_subject_transform_rewrites_arriving_subjects_before_anything_else():
    js = JetStream()
    api(js, "$JS.API.STREAM.CREATE.S", {"name": "S", "subjects": ["orders.>"],
                                         "subject_transform": {"src": "orders.*", "dest": "o.$1"}})
    api(js, "orders.eu", None)
    api(js, "orders.eu.x", None)
    assert [m.subject for m in js.streams["S"].msgs.values()] == ["o.eu", "orders.eu.x"]


def test_a_subject_transform_with_a_bad_source_or_destination_is_refused():
    bad_src = api(JetStream(), "$JS.API.STREAM.CREATE.S", {
        "name": "S", "subjects": ["s.>"], "subject_transform": {"src": "s..x", "dest": "t.>"}})
    bad_dest = api(JetStream(), "$JS.API.STREAM.CREATE.S", {
        "name": "S", "subjects": ["s.>"], "subject_transform": {"src": "s.*", "dest": "t.*"}})
    assert (bad_src["error"]["err_code"], bad_dest["error"]["err_code"]) == (10155, 10156)

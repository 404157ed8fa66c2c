"""JetStream.handle with real API subjects and the JSON bodies nats-py sends."""

import json

from pmesh_sim.jetstream.api import JetStream


def api(js, subject, body=None, now=0.0):
    data = b"" if body is None else json.dumps(body).encode()
    out = js.handle(subject, "_INBOX.r", data, None, now=now)
    return json.loads(out[0].data)


def make(js, **cfg):
    cfg.setdefault("name", "S")
    cfg.setdefault("subjects", ["s.>"])
    return api(js, f"$JS.API.STREAM.CREATE.{cfg['name']}", cfg)


def test_create_is_idempotent_and_a_different_config_is_10058():
    js = JetStream()
    assert make(js)["did_create"] is True
    assert "error" not in make(js)
    assert make(js, max_msgs=5)["error"] == {
        "code": 400, "err_code": 10058,
        "description": "stream name already in use with a different configuration"}


def test_overlapping_subjects_across_streams_is_10065():
    js = JetStream()
    make(js)
    assert make(js, name="T", subjects=["s.a"])["error"]["err_code"] == 10065


def test_missing_stream_is_10059_and_missing_consumer_10014():
    js = JetStream()
    assert api(js, "$JS.API.STREAM.INFO.X")["error"]["err_code"] == 10059
    make(js)
    assert api(js, "$JS.API.CONSUMER.INFO.S.c")["error"]["err_code"] == 10014


def test_publish_acks_and_duplicates_and_errors_carry_stream_and_seq_zero():
    js = JetStream()
    make(js)
    pub = lambda h=None: json.loads(js.handle("s.1", "_INBOX.p", b"x", h, now=0.0)[0].data)
    assert pub({"Nats-Msg-Id": "a"}) == {"stream": "S", "seq": 1}
    assert pub({"Nats-Msg-Id": "a"}) == {"stream": "S", "seq": 1, "duplicate": True}
    assert pub({"Nats-Expected-Last-Sequence": "7"}) == {
        "error": {"code": 400, "err_code": 10071, "description": "wrong last sequence: 1"},
        "stream": "S", "seq": 0}


def test_core_publish_without_reply_is_stored_without_ack():
    js = JetStream()
    make(js)
    assert js.handle("s.1", "", b"x", None, now=0.0) == []
    assert api(js, "$JS.API.STREAM.INFO.S")["state"]["messages"] == 1


def test_stream_info_state_fields():
    js = JetStream()
    make(js, storage="memory")
    js.handle("s.1", "", b"abc", None, now=0.0)
    state = api(js, "$JS.API.STREAM.INFO.S")["state"]
    # StreamState's num_deleted (and num_subjects) are omitempty: no gap, no field
    assert {k: v for k, v in state.items() if not k.endswith("_ts")} == \
        {"messages": 1, "bytes": 22, "first_seq": 1, "last_seq": 1, "num_subjects": 1,
         "consumer_count": 0}


def test_deny_delete_and_deny_purge():
    js = JetStream()
    make(js, deny_delete=True, deny_purge=True)
    js.handle("s.1", "", b"x", None, now=0.0)
    assert api(js, "$JS.API.STREAM.MSG.DELETE.S", {"seq": 1})["error"] == {
        "code": 500, "err_code": 10057, "description": "message delete not permitted"}
    assert api(js, "$JS.API.STREAM.PURGE.S", {})["error"] == {
        "code": 500, "err_code": 10110, "description": "stream purge not permitted"}


def test_get_and_delete_message():
    js = JetStream()
    make(js)
    js.handle("s.1", "", b"hi", None, now=0.0)
    assert api(js, "$JS.API.STREAM.MSG.GET.S", {"seq": 1})["message"]["data"] == "aGk="
    assert api(js, "$JS.API.STREAM.MSG.DELETE.S", {"seq": 1})["success"] is True
    assert api(js, "$JS.API.STREAM.MSG.GET.S", {"seq": 1})["error"]["err_code"] == 10037


def test_consumer_create_action_rules():
    js = JetStream()
    make(js)
    body = {"stream_name": "S", "config": {"durable_name": "d", "ack_policy": "explicit"},
            "action": "update"}
    assert api(js, "$JS.API.CONSUMER.CREATE.S.d", body)["error"]["err_code"] == 10149
    body["action"] = "create"
    assert api(js, "$JS.API.CONSUMER.CREATE.S.d", body)["name"] == "d"
    body["config"]["max_deliver"] = 3
    assert api(js, "$JS.API.CONSUMER.CREATE.S.d", body)["error"]["err_code"] == 10148
    body["config"]["ack_policy"] = "all"
    del body["action"]
    assert api(js, "$JS.API.CONSUMER.CREATE.S.d", body)["error"] == {
        "code": 500, "err_code": 10012, "description": "ack policy can not be updated"}


def test_workqueue_consumer_rules():
    js = JetStream()
    make(js, retention="workqueue")
    create = lambda name, **cfg: api(js, f"$JS.API.CONSUMER.CREATE.S.{name}", {
        "stream_name": "S", "config": {"durable_name": name, "ack_policy": "explicit", **cfg}})
    assert create("a", deliver_policy="new")["error"]["err_code"] == 10101
    assert create("a", filter_subject="s.a")["name"] == "a"
    assert create("b", filter_subject="s.*")["error"]["err_code"] == 10100
    assert create("c")["error"]["err_code"] == 10099


def test_interest_changes_with_streams_and_consumers():
    from pmesh_sim.jetstream.api import API_SUBJECTS

    js = JetStream()
    v = js.interest_version
    make(js)
    assert js.interest() == API_SUBJECTS | {"s.>"}
    assert js.interest_version != v
    api(js, "$JS.API.CONSUMER.CREATE.S.d", {"stream_name": "S", "config": {"durable_name": "d"}})
    assert js.interest() - API_SUBJECTS == {"s.>", "$JS.API.CONSUMER.MSG.NEXT.S.d"}
    api(js, "$JS.API.CONSUMER.DELETE.S.d")
    assert js.interest() - API_SUBJECTS == {"s.>"}


def test_the_api_answers_only_its_own_subjects_not_all_of_js_api():
    from pmesh_sim.jetstream.api import API_SUBJECTS
    from pmesh_sim.subjects import subject_matches

    def served(subject):
        return any(subject_matches(p, subject) for p in API_SUBJECTS)

    assert served("$JS.API.STREAM.INFO.S") and served("$JS.API.CONSUMER.CREATE.S.c.s.>")
    # a pull request needs the consumer's own subscription: nobody answers a missing one
    assert not served("$JS.API.CONSUMER.MSG.NEXT.S.gone")


def test_a_cluster_of_three_places_up_to_three_replicas():
    # measured on a real 3-node nats-server 2.15.1 cluster
    js = JetStream(peers=3)
    assert make(js, num_replicas=3)["config"]["num_replicas"] == 3
    assert make(js, name="T", subjects=["t.>"], num_replicas=2)["config"]["num_replicas"] == 2
    assert make(js, name="U", subjects=["u.>"], num_replicas=5)["error"] == {
        "code": 400, "err_code": 10005, "description": "no suitable peers for placement"}
    assert api(js, "$JS.API.CONSUMER.CREATE.S.c", {"stream_name": "S", "config": {
        "durable_name": "c", "num_replicas": 5}})["error"] == {
        "code": 400, "err_code": 10126,
        "description": "consumer config replica count exceeds parent stream"}


def test_a_single_server_refuses_replicas_with_10074():
    assert make(JetStream(), num_replicas=3)["error"]["err_code"] == 10074


# ---- round 2 of outside scenarios; expected values measured on nats-server 2.15.1

def test_purge_with_both_seq_and_keep_is_10003_and_removes_nothing():
    js = JetStream()
    make(js)
    for _ in range(3):
        js.handle("s.a", "", b"x", None, now=0.0)
    assert api(js, "$JS.API.STREAM.PURGE.S", {"seq": 2, "keep": 1})["error"] == {
        "code": 400, "err_code": 10003, "description": "bad request"}
    assert api(js, "$JS.API.STREAM.INFO.S")["state"]["messages"] == 3


def test_path_separators_in_names_are_10128_and_10127_before_the_config_checks():
    js = JetStream()
    assert make(js, name="A/B", subjects=["ae.>"])["error"] == {
        "code": 400, "err_code": 10128, "description": "Stream name can not contain path separators"}
    assert make(js, name="A\\B", subjects=["af.>"])["error"]["err_code"] == 10128
    assert make(js, name="A*B", subjects=["ab.>"])["error"]["err_code"] == 10052
    make(js)
    err = api(js, "$JS.API.CONSUMER.DURABLE.CREATE.S.a/b",
              {"stream_name": "S", "config": {"durable_name": "a/b"}})["error"]
    assert err == {"code": 400, "err_code": 10127,
                   "description": "Consumer name can not contain path separators"}
    assert api(js, "$JS.API.CONSUMER.CREATE.S.c\\d",
               {"stream_name": "S", "config": {"name": "c\\d"}})["error"]["err_code"] == 10127


def test_a_durable_takes_its_name_from_the_subject_so_the_name_rule_speaks_of_the_name():
    js = JetStream()
    make(js)
    err = api(js, "$JS.API.CONSUMER.DURABLE.CREATE.S.e*",
              {"stream_name": "S", "config": {"durable_name": "e*"}})["error"]
    assert (err["err_code"], err["description"].split(" can not")[0]) == (10052, "consumer name")


def test_durable_name_not_matching_the_subject_name_is_10017_before_10132():
    js = JetStream()
    make(js)
    err = api(js, "$JS.API.CONSUMER.CREATE.S.x2",
              {"stream_name": "S", "config": {"durable_name": "x1", "name": "x2"}})["error"]
    assert err == {"code": 400, "err_code": 10017,
                   "description": "consumer name in subject does not match durable name in request"}


def test_an_api_subject_no_handler_takes_is_heard_but_not_answered():
    js = JetStream()
    served = {p for p in js.interest()}
    from pmesh_sim.subjects import subject_matches

    def heard(subject):
        return any(subject_matches(p, subject) for p in served)

    # a stream name with a dot makes 5 tokens: the server listens (all of $JS.API.>), no handler
    assert heard("$JS.API.STREAM.CREATE.A.B")
    assert js.handle("$JS.API.STREAM.CREATE.A.B", "_INBOX.r", b"{}", None, now=0.0) == []
    assert heard("$JS.API.CONSUMER.DURABLE.CREATE.S.bad.name")
    assert js.handle("$JS.API.CONSUMER.DURABLE.CREATE.S.bad.name", "_INBOX.r", b"{}", None,
                     now=0.0) == []
    # while a pull to a consumer that does not exist still reaches nobody (503)
    assert not heard("$JS.API.CONSUMER.MSG.NEXT.S.gone")


def test_republish_sends_each_stored_message_to_the_transformed_subject_with_stream_headers():
    # headers as nats-server 2.15.1 sends them (measured): the message's own, then the stream's
    js = JetStream()
    make(js, subjects=["rp.>"], republish={"src": "rp.*.>", "dest": "out.$1.>"})
    sent = [js.handle(subject, "_INBOX.p", data, headers, now=t)
            for subject, data, headers, t in [("rp.eu.1", b"a", None, 0.5),
                                              ("rp.eu.1", b"b", {"Foo": "bar"}, 1.0),
                                              ("rp.other", b"c", None, 1.5)]]
    copies = [(o.subject, o.data, o.headers) for out in sent for o in out if o.subject != "_INBOX.p"]
    assert copies == [
        ("out.eu.1", b"a", {"Nats-Stream": "S", "Nats-Subject": "rp.eu.1", "Nats-Sequence": "1",
                            "Nats-Time-Stamp": "1970-01-01T00:00:00.5Z",
                            "Nats-Last-Sequence": "0"}),
        ("out.eu.1", b"b", {"Foo": "bar", "Nats-Stream": "S", "Nats-Subject": "rp.eu.1",
                            "Nats-Sequence": "2", "Nats-Time-Stamp": "1970-01-01T00:00:01Z",
                            "Nats-Last-Sequence": "1"})]
    assert [o.subject for o in sent[0]] == ["out.eu.1", "_INBOX.p"]   # before the pub ack


def test_republish_headers_only_sends_the_size_instead_of_the_payload():
    js = JetStream()
    make(js, subjects=["h.*"], republish={"dest": "x.>"})
    copy = js.handle("h.a", "", b"hello", None, now=0.0)[0]
    assert (copy.subject, copy.data) == ("x.h.a", b"hello")
    api(js, "$JS.API.STREAM.UPDATE.S", {"name": "S", "subjects": ["h.*"],
                                        "republish": {"dest": "x.>", "headers_only": True}})
    copy = js.handle("h.a", "", b"hello", None, now=0.0)[0]
    assert (copy.subject, copy.data, copy.headers["Nats-Msg-Size"],
            copy.headers["Nats-Last-Sequence"]) == ("x.h.a", b"", "5", "1")


def test_republish_skips_duplicates_and_errors_and_the_config_echoes_src():
    js = JetStream()
    info = make(js, subjects=["rp.>"], republish={"dest": "out.>"}, max_msg_size=40)
    assert info["config"]["republish"] == {"src": ">", "dest": "out.>"}
    subjects = lambda out: [o.subject for o in out]
    assert subjects(js.handle("rp.a", "_I", b"x", {"Nats-Msg-Id": "1"}, now=0.0)) == ["out.rp.a", "_I"]
    assert subjects(js.handle("rp.a", "_I", b"x", {"Nats-Msg-Id": "1"}, now=0.0)) == ["_I"]
    assert subjects(js.handle("rp.a", "_I", b"x" * 41, None, now=0.0)) == ["_I"]


def test_republish_destinations_the_server_refuses_are_10052():
    # descriptions as nats-server 2.15.1 answers them (measured)
    js = JetStream()
    cycle = "stream configuration for republish destination forms a cycle"
    cases = [({"src": "s.>", "dest": "s.copy.>"}, cycle), ({"src": "s.*", "dest": ">"}, cycle),
             ({"src": "s.*", "dest": "out.*"},
              "stream configuration for republish with transform from 's.*' to 'out.*' not valid"),
             ({"src": "s.>", "dest": "out.c3"},
              "stream configuration for republish with transform from 's.>' to 'out.c3' not valid"),
             ({"src": "s.*", "dest": "x.$2"},
              "stream configuration for republish with transform from 's.*' to 'x.$2' not valid")]
    for republish, description in cases:
        assert make(js, republish=republish)["error"] == {
            "code": 500, "err_code": 10052, "description": description}
    assert make(js, name="D", subjects=None, republish={"dest": "x.d"})["error"]["description"] \
        == "stream configuration for republish with transform from '>' to 'x.d' not valid"


# ---- round 4 of sim-vs-real checks (each measured on nats-server 2.15.1)

def _consumer(js, name, stream="S", now=0.0, **cfg):
    return api(js, f"$JS.API.CONSUMER.CREATE.{stream}.{name}", {
        "stream_name": stream, "config": {"durable_name": name, "ack_policy": "explicit", **cfg}},
        now=now)


def _fetch(js, name, stream="S", now=0.0):
    out = js.handle(f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{name}", "_INBOX.f",
                    json.dumps({"batch": 10, "no_wait": True}).encode(), None, now=now)
    return [(m.data.decode(), m.reply) for m in out if m.reply]


def test_widening_the_stream_keeps_a_filter_equal_to_its_old_subjects():
    # consumer.go isFiltered compares the filter with the stream's current subjects
    js = JetStream()
    make(js, subjects=["shop.orders.*"])
    _consumer(js, "feed", filter_subject="shop.orders.*")
    js.handle("shop.orders.1", "", b"o1", None, now=0.0)
    api(js, "$JS.API.STREAM.UPDATE.S",
        {"name": "S", "subjects": ["shop.orders.*", "shop.returns.*"]}, now=0.1)
    js.handle("shop.returns.2", "", b"r2", None, now=0.15)
    assert [data for data, _ in _fetch(js, "feed", now=0.2)] == ["o1"]


def test_consumer_names_are_sorted_and_paged_like_the_server():
    js = JetStream()
    make(js)
    make(js, name="E", subjects=["e.>"])
    for name in ("b", "a", "c"):
        _consumer(js, name)
    assert api(js, "$JS.API.CONSUMER.NAMES.S", {"offset": 1}) == {
        "type": "io.nats.jetstream.api.v1.consumer_names_response",
        "total": 3, "offset": 1, "limit": 1024, "consumers": ["b", "c"]}
    assert api(js, "$JS.API.CONSUMER.NAMES.S", {"offset": 9})["consumers"] == []
    assert api(js, "$JS.API.CONSUMER.NAMES.E")["consumers"] == []
    listed = api(js, "$JS.API.CONSUMER.LIST.S", {"offset": 2})
    assert (listed["total"], listed["offset"], listed["limit"]) == (3, 2, 256)
    assert [c["name"] for c in listed["consumers"]] == ["c"]
    assert api(js, "$JS.API.CONSUMER.NAMES.X")["error"]["err_code"] == 10059


def test_an_r3_consumer_reports_ack_floor_zero_until_its_first_ack():
    js = JetStream(peers=3)
    make(js, num_replicas=3)
    for i in range(3):
        js.handle("s.1", "", b"m%d" % i, None, now=0.0)
    r3 = _consumer(js, "r3", deliver_policy="new", now=0.1)
    r1 = _consumer(js, "r1", deliver_policy="new", num_replicas=1, now=0.1)
    assert r3["ack_floor"] == {"consumer_seq": 0, "stream_seq": 0}
    assert r1["ack_floor"] == {"consumer_seq": 0, "stream_seq": 3}
    js.handle("s.1", "", b"m3", None, now=0.2)
    (_, ack_subject), = _fetch(js, "r3", now=0.3)
    js.handle(ack_subject, "", b"+ACK", None, now=0.4)
    info = api(js, "$JS.API.CONSUMER.INFO.S.r3", now=0.5)
    assert info["ack_floor"] == {"consumer_seq": 1, "stream_seq": 4,
                                 "last_active": "1970-01-01T00:00:00.4Z"}   # the ack's time


def test_deleting_a_missing_message_gives_the_stores_errors():
    def errors(storage):
        js = JetStream()
        make(js, storage=storage)
        for _ in range(6):
            js.handle("s.1", "", b"x", None, now=0.0)
        api(js, "$JS.API.STREAM.MSG.DELETE.S", {"seq": 3})
        api(js, "$JS.API.STREAM.PURGE.S", {"keep": 3})   # 4 .. 6 kept: first_seq 4
        return [(e["err_code"], e["description"]) for e in (
            api(js, "$JS.API.STREAM.MSG.DELETE.S", {"seq": seq})["error"]
            for seq in (0, 2, 9))]

    assert errors("memory") == [(10043, "sequence 0 not found"),
                                (10043, "sequence 2 not found"),
                                (10043, "sequence 9 not found")]
    assert errors("file") == [(10057, "no message found"), (10057, "no message found"),
                              (10057, "stream store EOF")]


def test_deleting_a_message_twice_inside_the_range_is_10043_with_either_storage():
    for storage in ("file", "memory"):
        js = JetStream()
        make(js, storage=storage)
        for _ in range(6):
            js.handle("s.1", "", b"x", None, now=0.0)
        assert api(js, "$JS.API.STREAM.MSG.DELETE.S", {"seq": 3})["success"] is True
        assert api(js, "$JS.API.STREAM.MSG.DELETE.S", {"seq": 3})["error"] == {
            "code": 400, "err_code": 10043, "description": "sequence 3 not found"}


def test_direct_get_is_heard_only_for_streams_with_allow_direct():
    js = JetStream()
    make(js, name="K", subjects=["k.>"], allow_direct=True)
    make(js, name="N", subjects=["n.>"])
    assert {s for s in js.interest() if "DIRECT" in s} == {
        "$JS.API.DIRECT.GET.K", "$JS.API.DIRECT.GET.K.>"}
    assert js.handle("$JS.API.DIRECT.GET.N", "_INBOX.r", b'{"seq":1}', None, now=0.0) == []


def test_direct_get_replies_with_the_message_or_a_status_like_the_server():
    # measured on nats-server 2.15.1 (stream K: k.a "v1" with X-H: 1, k.b "v2", k.a "v3")
    js = JetStream()
    make(js, name="K", subjects=["k.>"], allow_direct=True)
    js.handle("k.a", "", b"v1", {"X-H": "1"}, now=0.0)
    js.handle("k.b", "", b"v2", None, now=0.0)
    js.handle("k.a", "", b"v3", None, now=0.0)

    def get(suffix, body):
        out, = js.handle("$JS.API.DIRECT.GET.K" + suffix, "_INBOX.r", body, None, now=1.0)
        h = out.headers
        return (out.data, h.get("Nats-Sequence"), h.get("Status"), h.get("Description"))

    first = js.handle("$JS.API.DIRECT.GET.K", "_INBOX.r", b'{"seq":1}', None, now=1.0)[0]
    assert [k for k in first.headers if k != "Nats-Time-Stamp"] == [
        "X-H", "Nats-Stream", "Nats-Subject", "Nats-Sequence"]
    assert [get("", b'{"last_by_subj":"k.a"}'), get(".k.a", b""), get(".k.*", b""),
            get("", b'{"next_by_subj":"k.b"}'), get("", b'{"seq":2,"next_by_subj":"k.a"}')] == [
        (b"v3", "3", None, None), (b"v3", "3", None, None), (b"v3", "3", None, None),
        (b"v2", "2", None, None), (b"v3", "3", None, None)]
    assert [get(".k.zz", b""), get("", b'{"seq":9}'), get("", b""), get("", b"{}"),
            get("", b'{"seq":0}'), get("", b"nope"), get("", b'{"seq":1,"last_by_subj":"k.a"}'),
            get(".k.a", b'{"seq":1}')] == [
        (b"", None, "404", "Message Not Found"), (b"", None, "404", "Message Not Found"),
        (b"", None, "408", "Empty Request"), (b"", None, "408", "Empty Request"),
        (b"", None, "408", "Empty Request"), (b"", None, "408", "Malformed Request"),
        (b"", None, "408", "Bad Request"), (b"", None, "408", "Bad Request")]


def test_a_purge_stores_the_floor_of_an_r3_consumer_that_never_acked():
    # measured on a real 3-node cluster: after purge keep 2 of 4, p (deliver all) 2, n (new) 4
    js = JetStream(peers=3)
    make(js, num_replicas=3)
    for i in range(4):
        js.handle("s.1", "", b"m%d" % i, None, now=0.0)
    _consumer(js, "p", now=0.1)
    _consumer(js, "n", deliver_policy="new", now=0.1)
    assert [api(js, f"$JS.API.CONSUMER.INFO.S.{c}")["ack_floor"]["stream_seq"]
            for c in ("p", "n")] == [0, 0]
    api(js, "$JS.API.STREAM.PURGE.S", {"keep": 2}, now=0.2)
    assert [api(js, f"$JS.API.CONSUMER.INFO.S.{c}")["ack_floor"]["stream_seq"]
            for c in ("p", "n")] == [2, 4]


def test_update_to_interest_without_consumers_empties_the_stream():
    # measured on nats-server 2.15.1: the update's own answer is already empty
    js = JetStream()
    make(js)
    make(js, name="E", subjects=["e.>"])
    js.handle("s.1", "", b"x", None, now=0.0)
    js.handle("s.1", "", b"y", None, now=0.0)
    state = api(js, "$JS.API.STREAM.UPDATE.S",
                {"name": "S", "subjects": ["s.>"], "retention": "interest"})["state"]
    assert (state["messages"], state["first_seq"], state["last_seq"]) == (0, 3, 2)
    state = api(js, "$JS.API.STREAM.UPDATE.E",       # never stored anything: stays
                {"name": "E", "subjects": ["e.>"], "retention": "interest"})["state"]
    assert (state["messages"], state["first_seq"], state["last_seq"]) == (0, 0, 0)


def test_update_to_interest_with_a_consumer_keeps_what_it_has_not_acked():
    js = JetStream()
    make(js)
    api(js, "$JS.API.CONSUMER.CREATE.S.d", {"stream_name": "S",
                                            "config": {"durable_name": "d", "ack_policy": "explicit"}})
    js.handle("s.1", "", b"x", None, now=0.0)
    state = api(js, "$JS.API.STREAM.UPDATE.S",
                {"name": "S", "subjects": ["s.>"], "retention": "interest"})["state"]
    assert (state["messages"], state["first_seq"]) == (1, 1)

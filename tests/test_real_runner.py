"""The real backend runs scenarios on nats-server; expected values are what the server said."""

from pmesh_sim.real.runner import run_real
from pmesh_sim.scenario import Scenario

CORE = {
    "name": "core",
    "subscriptions": [
        {"name": "all", "subject": "a.>"},
        {"name": "q1", "subject": "a.*", "queue": "g"},
        {"name": "q2", "subject": "a.*", "queue": "g"},
        {"name": "echo", "subject": "svc.echo", "respond": "pong"},
    ],
    "steps": [
        {"op": "publish", "subject": "a.b", "data": "1"},
        {"op": "publish", "subject": "a.b.c", "data": "2"},
        {"at": 0.05, "op": "request", "subject": "svc.echo", "data": "ping"},
        {"op": "request", "subject": "svc.nobody", "data": "ping", "timeout": 0.2},
        {"op": "power_loss", "server": "n1"},
    ],
}


def test_core_pub_sub_queue_groups_request_and_no_responders():
    doc, trace = run_real(Scenario.from_dict(CORE))
    assert [s["result"] for s in doc["steps"]] == [
        {"outcome": "sent"}, {"outcome": "sent"}, {"data": "pong"},
        {"outcome": "no_responders"}, {"outcome": "unsupported"}]
    subs = doc["subscriptions"]
    assert subs["all"] == [{"subject": "a.b", "data": "1"}, {"subject": "a.b.c", "data": "2"}]
    assert sorted(subs["q1"] + subs["q2"], key=str) == [{"subject": "a.b", "data": "1"}]
    assert subs["echo"] == [{"subject": "svc.echo", "data": "ping"}]
    assert (doc["backend"], doc["servers"], doc["queues"]) == ("real", 1, {"q1": "g", "q2": "g"})
    starts = [e.time for e in trace.filter("step")]
    assert starts == sorted(starts) and starts[2] >= 0.05


def test_jetstream_publish_dedup_fetch_nak_and_consumer_info():
    scenario = Scenario.from_dict({
        "name": "js",
        "streams": [{"name": "ORDERS", "subjects": ["orders.>"], "storage": "memory"}],
        "consumers": [{"stream": "ORDERS", "durable_name": "worker", "ack_wait": 1.0}],
        "steps": [
            {"op": "js_publish", "subject": "orders.1", "data": "a",
             "headers": {"Nats-Msg-Id": "m1"}},
            {"op": "js_publish", "subject": "orders.1", "data": "a",
             "headers": {"Nats-Msg-Id": "m1"}},
            {"op": "js_publish", "subject": "orders.2", "data": "b"},
            {"op": "js_publish", "subject": "nowhere", "data": "c"},
            {"op": "fetch", "consumer": "worker", "batch": 5, "timeout": 0.5,
             "then": {1: "ack", 2: "nak"}},
            {"op": "fetch", "consumer": "worker", "batch": 5, "timeout": 0.5},
            # the server applies acks asynchronously: look a moment later
            {"at": 0.3, "op": "consumer_info", "consumer": "worker"},
            {"op": "add_stream", "name": "ORDERS", "subjects": ["other"]},
            {"op": "stream_info", "stream": "ORDERS"},
        ]})
    doc, _ = run_real(scenario)
    results = [s["result"] for s in doc["steps"]]
    assert results[:4] == [
        {"stream": "ORDERS", "seq": 1, "duplicate": False},
        {"stream": "ORDERS", "seq": 1, "duplicate": True},
        {"stream": "ORDERS", "seq": 2, "duplicate": False},
        {"outcome": "no_responders"}]
    assert [(m["stream_seq"], m["consumer_seq"], m["num_delivered"])
            for m in results[4]["messages"]] == [(1, 1, 1), (2, 2, 1)]
    assert [(m["stream_seq"], m["consumer_seq"], m["num_delivered"], m["data"])
            for m in results[5]["messages"]] == [(2, 3, 2, "b")]
    assert results[6] == {"delivered": {"consumer_seq": 3, "stream_seq": 2},
                          "ack_floor": {"consumer_seq": 3, "stream_seq": 2},
                          "num_ack_pending": 0, "num_redelivered": 0, "num_pending": 0,
                          "num_waiting": 0}
    assert results[7] == {"error": {"code": 400, "err_code": 10058, "description":
                                    "stream name already in use with a different configuration"}}
    assert {k: results[8][k] for k in ("messages", "first_seq", "last_seq", "num_subjects",
                                       "consumer_count")} == {
        "messages": 2, "first_seq": 1, "last_seq": 2, "num_subjects": 2, "consumer_count": 1}
    assert doc["final"]["consumers"]["ORDERS/worker"] == results[6]
    assert doc["setup"][0]["result"]["messages"] == 0


def test_kill_and_restart_on_a_cluster_are_steps():
    doc, trace = run_real(Scenario.from_dict({
        "name": "faults", "servers": 3,
        "subscriptions": [{"name": "s", "subject": "x"}],
        "steps": [{"op": "kill", "server": "n3"}, {"op": "publish", "subject": "x", "data": "1"},
                  {"op": "restart", "server": "n3"}]}))
    assert [s["result"] for s in doc["steps"]] == [
        {"outcome": "killed"}, {"outcome": "sent"}, {"outcome": "restarted"}]
    assert doc["subscriptions"]["s"] == [{"subject": "x", "data": "1"}]
    assert [e.kind for e in trace.filter("kill", "restart")] == ["kill", "restart"]

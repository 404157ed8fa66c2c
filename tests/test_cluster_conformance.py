"""Cluster conformance: scenarios/cluster/ files run on a real 3- or 5-node cluster give the
outcomes asserted here, and the simulation gives the same outcomes and final stream state.

Each scenario is one behaviour (see its ``description``); :data:`EXPECTED` holds, per file,
the result of every step on the real servers, and :data:`FINAL` the final state of its
streams. ``tests/test_real_faults.py`` runs the older cluster files the same way.
"""

import json
from collections import Counter
from pathlib import Path

import pytest

from pmesh_sim.checks import (IGNORED_KEYS, comparable_answer, compare_results,
                              format_differences)
from pmesh_sim.cli import main
from pmesh_sim.scenario import load_scenario
from pmesh_sim.sim.runner import run_sim

CLUSTER_SCENARIOS = Path(__file__).parent.parent / "scenarios" / "cluster"

SENT, TIMEOUT, NO_RESPONDERS = ({"outcome": o} for o in ("sent", "timeout", "no_responders"))
KILLED, RESTARTED = {"outcome": "killed"}, {"outcome": "restarted"}
PAUSED, RESUMED = {"outcome": "paused"}, {"outcome": "resumed"}
PARTITIONED, HEALED = {"outcome": "partitioned"}, {"outcome": "healed"}
NO_META_LEADER = {"error": {"code": 503, "description": "JetStream system temporarily unavailable",
                            "err_code": 10008}}
NO_STREAM_LEADER = NO_META_LEADER     # the same 10008 from a group without a leader
MAX_MSGS = {"error": {"code": 503, "description": "maximum messages exceeded",
                      "err_code": 10077}}


def _ack(seq: int, stream: str = "ORDERS", duplicate: bool = False) -> dict:
    return {"stream": stream, "seq": seq, "duplicate": duplicate}


def _account(memory: int, storage: int, total: int, errors: int = 0,
             reserved_storage: int = 0) -> dict:
    """An account info answer (``$JS.API.INFO``) with no limits, as nats-server marshals it."""
    body = {"type": "io.nats.jetstream.api.v1.account_info_response", "memory": memory,
            "storage": storage, "reserved_memory": 0,
            "reserved_storage": reserved_storage, "streams": 2, "consumers": 1,
            "limits": {"max_memory": -1, "max_storage": -1, "max_streams": -1,
                       "max_consumers": -1, "max_ack_pending": -1,
                       "memory_max_stream_bytes": -1, "storage_max_stream_bytes": -1,
                       "max_bytes_required": False},
            "api": {"level": 5, "total": total, "errors": errors}}
    return {"data": json.dumps(body, separators=(",", ":"))}


_VERSIONED = {"_nats.level": "5", "_nats.req.level": "0", "_nats.ver": "2.15.1"}
_STORED = {"_nats.req.level": "0"}     # a stored config's metadata, as lists show it


def _raw(kind: str, **fields) -> dict:
    """A raw API answer of response type ``kind`` (its dates left out, see :func:`_flat`)."""
    return {"data": {"type": f"io.nats.jetstream.api.v1.{kind}", **fields}}


def _stream_config(name: str, subjects: list[str], storage: str, replicas: int,
                   metadata: dict, **extra) -> dict:
    """A stream's config as the server's answers show it, limits unset."""
    return {"name": name, "subjects": subjects, "retention": "limits", "max_consumers": -1,
            "max_msgs": -1, "max_bytes": -1, "max_age": 0, "max_msgs_per_subject": -1,
            "max_msg_size": -1, "discard": "old", "storage": storage, "num_replicas": replicas,
            "duplicate_window": 120000000000, "compression": "none", "allow_direct": False,
            "mirror_direct": False, "sealed": False, "deny_delete": False, "deny_purge": False,
            "allow_rollup_hdrs": False, "consumer_limits": {}, "allow_msg_ttl": False,
            "metadata": metadata, **extra}


def _raw_state(messages: int, consumers: int = 0) -> dict:
    """A raw answer's stream state (bytes and dates left out), each message on its subject."""
    return {"messages": messages, "first_seq": 1 if messages else 0, "last_seq": messages,
            **({"num_subjects": messages} if messages else {}), "consumer_count": consumers}


def _r1_cluster(leader: str) -> dict:
    return {"name": "pmesh", "leader": leader}


_R3_CLUSTER_N1 = {"name": "pmesh", "raft_group": "S-R3F-*", "leader": "n1",
                  "system_account": True, "traffic_account": "$SYS", "replicas": [
                      {"name": "n2", "current": True, "active": True, "peer": "44jzkV9D"},
                      {"name": "n3", "current": True, "active": True, "peer": "BXScrY9i"}]}


def _consumer_v(metadata: dict) -> dict:
    """Consumer v of the raw-api-bodies scenario (durable, explicit acks) as answers show it."""
    return {"stream_name": "R", "name": "v", "config": {
        "durable_name": "v", "name": "v", "deliver_policy": "all", "ack_policy": "explicit",
        "ack_wait": 30000000000, "max_deliver": -1, "replay_policy": "instant",
        "max_waiting": 512, "max_ack_pending": 1000, "num_replicas": 0, "metadata": metadata},
        "delivered": {"consumer_seq": 0, "stream_seq": 0},
        "ack_floor": {"consumer_seq": 0, "stream_seq": 0}, "num_ack_pending": 0,
        "num_redelivered": 0, "num_waiting": 0, "num_pending": 1, "cluster": _r1_cluster("n2")}


def _raw_streams(metadata: dict) -> tuple[dict, dict, dict]:
    """The configs of streams R, S and U of the raw-api-bodies scenario (U after its update)."""
    return (_stream_config("R", ["r.*"], "memory", 1, metadata, placement={"tags": ["node:n2"]}),
            _stream_config("S", ["s.*"], "file", 3, metadata),
            _stream_config("U", ["u.>"], "file", 1, metadata, description="x",
                           placement={"tags": ["node:n3"]}))


_PAGE0 = {"total": 0, "offset": 0, "limit": 0}
_R, _S, _U = _raw_streams(_VERSIONED)
_LISTED_R, _LISTED_S, _LISTED_U = _raw_streams(_STORED)


def _no_peers(tag: str) -> dict:
    return {"error": {"code": 400, "err_code": 10005, "description":
                      f"no suitable peers for placement, tags not matched ['{tag}']"}}


def _leader(node: str) -> dict:
    return {"leader": node}


def _state(messages: int, first: int = 1, last: int | None = None, subjects: int | None = None,
           deleted: int = 0) -> dict:
    """A stream's flat state (without ``bytes``): by default ``messages`` from seq 1 on, each
    on a subject of its own."""
    return {"messages": messages, "first_seq": first if messages else 0,
            "last_seq": messages if last is None else last,
            "num_subjects": messages if subjects is None else subjects,
            "num_deleted": deleted, "consumer_count": 0}


def _consumer(floor: tuple[int, int], delivered: tuple[int, int], ack_pending: int = 0) -> dict:
    """A pull consumer's info with nothing left to deliver: its ack floor and delivered as
    (consumer_seq, stream_seq)."""
    return {"ack_floor": {"consumer_seq": floor[0], "stream_seq": floor[1]},
            "delivered": {"consumer_seq": delivered[0], "stream_seq": delivered[1]},
            "num_ack_pending": ack_pending, "num_pending": 0, "num_redelivered": 0,
            "num_waiting": 0}


_US1 = {"messages": [{"consumer_seq": 1, "data": "2", "num_delivered": 1, "stream_seq": 2,
                      "subject": "orders.us.1"}]}

#: scenario file (stem) -> (servers, the result of each step on the real cluster)
EXPECTED: dict[str, tuple[int, list[dict]]] = {
    "account-info-usage": (3, [
        _ack(1), _ack(1, "CACHE"), _account(28, 3 * 49, 3, reserved_storage=100000),
        {"error": {"code": 404, "description": "stream not found", "err_code": 10059}},
        _state(1), {"outcome": "purged", "purged": 1},
        _account(28, 0, 7, 1, reserved_storage=100000)]),
    "core-queue-group-across-nodes": (3, [SENT] * 6),
    "raw-api-bodies": (3, [
        _leader("n1"), _ack(1, "S"), _ack(1, "R"),
        _raw("stream_info_response", **_PAGE0, config=_S, state=_raw_state(1, 1),
             cluster=_R3_CLUSTER_N1),
        _raw("stream_info_response", **_PAGE0, config=_R, state=_raw_state(1, 1),
             cluster=_r1_cluster("n2")),
        _raw("consumer_info_response", **_consumer_v(_VERSIONED)),
        _raw("stream_create_response", config={
            **{k: v for k, v in _U.items() if k != "description"},
            "metadata": {**_VERSIONED, "k": "v"}},
            state=_raw_state(0), cluster=_r1_cluster("n3"), did_create=True),
        _raw("stream_update_response", config=_U, state=_raw_state(0),
             cluster=_r1_cluster("n3")),
        _raw("consumer_list_response", total=1, offset=0, limit=256,
             consumers=[_consumer_v(_STORED)]),
        _raw("stream_list_response", total=3, offset=0, limit=256, streams=[
            {"config": _LISTED_R, "state": _raw_state(1, 1), "cluster": _r1_cluster("n2")},
            {"config": _LISTED_S, "state": _raw_state(1, 1), "cluster": _R3_CLUSTER_N1},
            {"config": _LISTED_U, "state": _raw_state(0), "cluster": _r1_cluster("n3")}]),
        _raw("stream_info_response",
             error={"code": 404, "err_code": 10059, "description": "stream not found"},
             **_PAGE0),
        _leader("n1"),
        {"messages": [{"consumer_seq": 1, "data": "1", "num_delivered": 1, "stream_seq": 1,
                       "subject": "s.a"}]},
        _raw("consumer_info_response", stream_name="S", name="w", config={
            "durable_name": "w", "name": "w", "deliver_policy": "all", "ack_policy": "explicit",
            "ack_wait": 30000000000, "max_deliver": -1, "replay_policy": "instant",
            "max_waiting": 512, "max_ack_pending": 1000, "num_replicas": 3,
            "metadata": _VERSIONED}, delivered={"consumer_seq": 1, "stream_seq": 1},
            ack_floor={"consumer_seq": 1, "stream_seq": 1}, num_ack_pending=0,
            num_redelivered=0, num_waiting=0, num_pending=0,
            cluster={**_R3_CLUSTER_N1, "raft_group": "C-R3F-*"}),
        _raw("consumer_info_response",
             error={"code": 404, "err_code": 10014, "description": "consumer not found"}),
        _raw("stream_create_response", error={
            "code": 400, "err_code": 10005, "description": "no suitable peers for placement"}),
        _raw("consumer_create_response", error={
            "code": 400, "err_code": 10126,
            "description": "consumer config replica count exceeds parent stream"}),
        _raw("stream_delete_response", error={
            "code": 400, "err_code": 10038, "description": "expected an empty request payload"})]),
    "core-request-reply-node-restart": (3, [
        {"data": "pong"}, NO_RESPONDERS, KILLED, {"data": "pong"}, RESTARTED,
        {"data": "pong"}]),
    "placement-r1-tag-on-killed-node": (3, [KILLED, TIMEOUT, RESTARTED, _ack(1), _state(1)]),
    "placement-r3-two-nodes-down": (3, [KILLED, KILLED, TIMEOUT, NO_META_LEADER,
                                        NO_META_LEADER]),
    "placement-tags-not-matched": (3, [_no_peers("node:n9"), _no_peers("node:n1"), _state(0),
                                       _ack(1, "TWO"), _state(1)]),
    "r3-publish-during-election": (3, [_leader("n1"), _ack(1), KILLED, NO_RESPONDERS, _ack(2),
                                       _state(2)]),
    "r3-one-node-down": (3, [_leader("n1"), _ack(1), KILLED, _ack(2), _ack(3), _state(3)]),
    "r3-two-nodes-down": (3, [_leader("n1"), _ack(1), KILLED, KILLED, TIMEOUT, _state(1)]),
    "r3-follower-restart-catch-up": (3, [_leader("n1"), _ack(1), KILLED, _ack(2), _ack(3),
                                         RESTARTED, _leader("n3"), _state(3)]),
    "r3-memory-follower-restart": (3, [_leader("n1"), _ack(1), _ack(2), KILLED, _ack(3),
                                       RESTARTED, _leader("n3"), _state(3)]),
    "r3-memory-leader-killed": (3, [_leader("n1"), _ack(1), _ack(2), KILLED, _ack(3),
                                    RESTARTED, _leader("n1"), _state(3)]),
    "r3-partitioned-follower": (3, [_leader("n1"), _ack(1), PARTITIONED, _ack(2), _ack(3),
                                    HEALED, _leader("n3"), _state(3)]),
    "r3-paused-follower": (3, [_leader("n1"), _ack(1), PAUSED, _ack(2), _ack(3), RESUMED,
                               _leader("n3"), _state(3)]),
    "r3-paused-leader": (3, [_leader("n1"), _ack(1), PAUSED, TIMEOUT, _ack(2), RESUMED,
                             _state(2)]),
    "r3-stream-stepdown": (3, [_leader("n1"), _ack(1), {"outcome": "stepped_down"}, _ack(2),
                               _leader("n3"), _leader("n3"), _ack(3), _state(3)]),
    "r3-dedup-after-leader-change": (3, [_leader("n1"), _ack(1), _leader("n2"),
                                         _ack(1, duplicate=True), _ack(2), _state(2)]),
    "r3-expected-last-seq-after-leader-change": (3, [
        _leader("n1"), _ack(1), _ack(2), _leader("n3"), _ack(3),
        {"error": {"code": 400, "description": "wrong last sequence: 3", "err_code": 10071}},
        _state(3)]),
    "r3-purge-delete-follower-restart": (3, [
        _leader("n1"), *(_ack(i) for i in range(1, 6)), KILLED,
        {"outcome": "purged", "purged": 2},
        {"data": '{"type":"io.nats.jetstream.api.v1.stream_msg_delete_response",'
                 '"success":true}'},
        RESTARTED, _leader("n3"), _state(2, first=3, last=5, deleted=1)]),
    "r3-expected-last-msg-id-halts-stream": (3, [
        _leader("n2"), _ack(1), _ack(2),
        {"error": {"code": 400, "description": "wrong last msg ID: ", "err_code": 10070}},
        TIMEOUT, {"messages": [
            {"consumer_seq": 1, "data": "a", "num_delivered": 1, "stream_seq": 1,
             "subject": "orders.1"},
            {"consumer_seq": 2, "data": "b", "num_delivered": 1, "stream_seq": 2,
             "subject": "orders.2"}]},
        _consumer(floor=(2, 2), delivered=(2, 2)),
        TIMEOUT, NO_STREAM_LEADER, {**_state(2), "consumer_count": 1},
        {"outcome": "deleted"}, _state(0), _ack(1)]),
    "r3-consumer-redelivered-ack-floor": (3, [
        _leader("n1"), *(_ack(i) for i in range(1, 5)),
        {"messages": [{"consumer_seq": i, "data": str(i), "num_delivered": 1, "stream_seq": i,
                       "subject": f"orders.{i}"} for i in range(1, 5)]},
        {"messages": [{"consumer_seq": 5, "data": "2", "num_delivered": 2, "stream_seq": 2,
                       "subject": "orders.2"}]},
        _consumer(floor=(3, 3), delivered=(5, 4), ack_pending=1), _leader("n2"),
        _consumer(floor=(3, 3), delivered=(5, 4), ack_pending=1),
        {"messages": [{"consumer_seq": 6, "data": "4", "num_delivered": 2, "stream_seq": 4,
                       "subject": "orders.4"}]},
        _consumer(floor=(6, 4), delivered=(6, 4))]),
    "r3-push-consumer-created-with-backlog": (3, [
        _ack(1), _ack(2), _ack(3),
        {**_consumer(floor=(0, 0), delivered=(0, 0)), "num_pending": 2}, _ack(4),
        _consumer(floor=(3, 4), delivered=(3, 4))]),
    "r3-consumer-filtered-skip": (3, [
        _leader("n1"), *(_ack(i) for i in range(1, 5)), _US1,
        _consumer(floor=(1, 4), delivered=(1, 4)), _leader("n3"), _consumer(floor=(1, 4), delivered=(1, 4)), _ack(5),
        {"messages": [{"consumer_seq": 2, "data": "5", "num_delivered": 1, "stream_seq": 5,
                       "subject": "orders.us.2"}]},
        _consumer(floor=(2, 5), delivered=(2, 5))]),
    "r3-cut-off-follower-answers-stale-info": (3, [
        _leader("n1"), _ack(1), PARTITIONED, _ack(2), TIMEOUT, _state(1), NO_STREAM_LEADER,
        {"data": '{"type":"io.nats.jetstream.api.v1.stream_msg_delete_response","error":'
                 '{"code":503,"err_code":10008,"description":"JetStream system temporarily '
                 'unavailable"}}'},
        NO_RESPONDERS, HEALED, _state(2)]),
    "r3-memory-consumer-filtered-skip": (3, [
        _leader("n1"), *(_ack(i) for i in range(1, 5)), _US1,
        _consumer(floor=(1, 4), delivered=(1, 4)), _ack(5), {"messages": []},
        _consumer(floor=(1, 4), delivered=(1, 4))]),
    "r3-limits-discard": (3, [
        _leader("n1"), _leader("n1"), _ack(1, "OLD"), _ack(2, "OLD"), _ack(3, "OLD"),
        _ack(1, "NEW"), _ack(2, "NEW"), MAX_MSGS, _leader("n2"), _leader("n2"),
        _ack(4, "OLD"), MAX_MSGS, _state(2, first=3, last=4), _state(2)]),
    "r5-partitioned-leader-minority": (5, [_leader("n1"), _ack(1), PARTITIONED, TIMEOUT,
                                           _ack(2), HEALED, _ack(3), _state(3)]),
    "r5-followers-restart-catch-up": (5, [_leader("n1"), _ack(1), KILLED, KILLED, _ack(2),
                                          _ack(3), RESTARTED, RESTARTED, _leader("n5"),
                                          _state(3)]),
}

#: the final state of each scenario's streams (read on n1 after the last step)
FINAL: dict[str, dict] = {
    "account-info-usage": {"CACHE": _state(1), "ORDERS": {
        "messages": 0, "first_seq": 2, "last_seq": 1, "num_subjects": 0, "num_deleted": 0,
        "consumer_count": 1}},
    "core-queue-group-across-nodes": {},
    "core-request-reply-node-restart": {},
    "raw-api-bodies": {"R": {**_state(1), "consumer_count": 1},
                       "S": {**_state(1), "consumer_count": 1}},
    "placement-tags-not-matched": {"TWO": _state(1)},
    "placement-r3-two-nodes-down": {"ORDERS": NO_META_LEADER},
    "r3-limits-discard": {"OLD": _state(2, first=3, last=4), "NEW": _state(2)},
    "r3-expected-last-msg-id-halts-stream": {"ORDERS": _state(1)},
    "r3-consumer-redelivered-ack-floor": {"ORDERS": {**_state(4), "consumer_count": 1}},
    "r3-push-consumer-created-with-backlog": {"ORDERS": {**_state(4, subjects=4),
                                                         "consumer_count": 1}},
    "r3-consumer-filtered-skip": {"ORDERS": {**_state(5), "consumer_count": 1}},
    "r3-memory-consumer-filtered-skip": {"ORDERS": {**_state(5), "consumer_count": 1}},
    **{stem: {"ORDERS": steps[-1]} for stem, (_, steps) in EXPECTED.items()
       if stem.startswith(("r3-", "r5-", "placement-r1"))
       and stem not in ("r3-limits-discard", "r3-expected-last-msg-id-halts-stream",
                        "r3-consumer-redelivered-ack-floor",
                        "r3-push-consumer-created-with-backlog", "r3-consumer-filtered-skip",
                        "r3-memory-consumer-filtered-skip")},
}


def _flat(result: dict) -> dict:
    """A step's result without ``bytes``; a raw answer parsed and compared as validate
    compares it (dates left out, clock durations and RAFT group names reduced)."""
    out = {k: v for k, v in result.items() if k != "bytes"}
    if isinstance(out.get("data"), str) and out["data"].startswith("{"):
        out["data"] = _without_ignored(comparable_answer(json.loads(out["data"])))
    elif isinstance(out.get("data"), dict):
        out["data"] = _without_ignored(out["data"])
    return out


def _without_ignored(value):
    if isinstance(value, dict):
        return {k: _without_ignored(v) for k, v in value.items() if k not in IGNORED_KEYS}
    if isinstance(value, list):
        return [_without_ignored(v) for v in value]
    return value


@pytest.mark.parametrize("stem", sorted(EXPECTED))
def test_cluster_scenario_on_a_real_cluster_agrees_with_the_simulation(stem, capsys):
    path = CLUSTER_SCENARIOS / f"{stem}.yaml"
    servers, steps = EXPECTED[stem]
    assert main(["run", str(path), "--backend", "real", "--json", "-"]) == 0
    real = json.loads(capsys.readouterr().out)
    assert real["servers"] == servers
    assert [_flat(s["result"]) for s in real["steps"]] == [_flat(s) for s in steps]
    assert {name: _flat(state) for name, state in real["final"]["streams"].items()} == \
        FINAL[stem]
    _check_deliveries(stem, real)
    sim, _ = run_sim(load_scenario(path))
    differences = compare_results(sim, real)
    assert differences == [], format_differences(differences)


def _check_deliveries(stem: str, doc: dict) -> None:
    """What the subscriptions of the core scenarios received."""
    got = {name: [m["data"] for m in msgs] for name, msgs in doc["subscriptions"].items()}
    if stem == "core-queue-group-across-nodes":
        assert got["audit"] == ["1", "2", "3", "4", "5", "6"]       # a copy of each, in order
        members = Counter(got["w1"] + got["w2"] + got["w3"])
        assert members == Counter("123456")                        # each to exactly one member
    elif stem == "core-request-reply-node-restart":
        assert got["echo"] == ["1", "2", "3"]      # the no-responders request reached nobody
    elif stem == "r3-push-consumer-created-with-backlog":
        assert got == {"pushed": ["1", "3", "4"]}  # the backlog, then the new one, in order
    else:
        assert got == {}


def test_the_table_covers_three_and_five_node_scenarios():
    sizes = Counter(servers for servers, _ in EXPECTED.values())
    assert sizes[3] >= 13 and sizes[5] >= 2
    for stem, (servers, steps) in EXPECTED.items():
        scenario = load_scenario(CLUSTER_SCENARIOS / f"{stem}.yaml")
        assert scenario.servers == servers and len(scenario.steps) == len(steps), stem
        assert len(scenario.description) > 80, stem

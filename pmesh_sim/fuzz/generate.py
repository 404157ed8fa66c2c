"""Hypothesis strategies for scenario documents: valid ones over the whole format, and broken ones.

:func:`scenario_documents` draws a scenario (a plain ``dict`` in the file format): one or two
streams with random limits, retention, discard, dedup windows and ``max_age`` (now and then a
third that mirrors or sources the first); pull and push
consumers with random policies, timers, limits and filters; core subscriptions, a queue group
and a responder; then steps (publishes with dedup and expected-sequence headers, requests,
fetches that ack, nak, term or ignore, purges, deletes, stream and consumer updates...),
and, with small weights, the newer features: ``first_seq``, stream subject transforms,
per-message TTLs, direct gets (``multi_last``) whose replies a subscription records with their
headers, push flow control, paused consumers, ``no_echo`` and ``max_msgs`` subscriptions and
background fetches.

Timings keep a margin from the real server's races, so that a disagreement is the
simulation's:

- steps start on a 0.1 s grid; a step that follows a fetch, a core publish or an admin
  request starts at least 0.1 s after the worst-case end of that step (plain acks and core
  publishes reach the server's state asynchronously);
- every timer (``ack_wait``, ``backoff``, nak ``delay``, ``max_age``, ``duplicate_window``,
  ``inactive_threshold``) is an odd multiple of 0.05 s, so a timer started by a step fires
  50 ms away from every step; chains of timers can land on the grid, which
  :func:`~pmesh_sim.fuzz.check.timing_sensitive` detects by shifting every timer.

>>> from hypothesis import given, settings
>>> from pmesh_sim.scenario import Scenario
>>> docs = []
>>> @settings(max_examples=20, database=None)
... @given(scenario_documents())
... def collect(doc):
...     docs.append(Scenario.from_dict(doc))
>>> collect()
>>> len(docs) >= 20 and all(d.steps for d in docs)
True
"""

from __future__ import annotations

import copy
import json
import math

from hypothesis import strategies as st

__all__ = ["scenario_documents", "invalid_documents", "sourcing_config", "TIMERS", "TIMER_KEYS",
           "MUTATIONS"]

#: Timer values (seconds): odd multiples of 0.05 s, 50 ms away from the 0.1 s step grid.
TIMERS = (0.35, 0.15, 0.25, 0.45, 0.55, 0.75, 0.95, 1.25)
#: Config and step keys that hold a timer (``backoff`` holds a list of them; ``pause_until``
#: a relative date, ``"+0.45s"``).
TIMER_KEYS = ("ack_wait", "backoff", "delay", "max_age", "duplicate_window",
              "inactive_threshold", "pause_until")

#: ``pause_until`` values (relative to the request): odd multiples of 0.05 s, far, or past.
PAUSES = ("+0.45s", "+0.95s", "+60s", "-1s")
#: ``Nats-TTL`` values: whole seconds (``"1.5s"`` is 1 s: expiry lands on the step grid, and
#: :func:`~pmesh_sim.fuzz.check.timing_sensitive` skips what observes it within a second),
#: "never", and two the server refuses.
TTLS = ("1s", "2", "1.5s", "never", "0", "500ms")

_DATA = ("x", "", "hello", "0123456789", "é")
_THEN = ("ack", "ignore", "nak", "term", "in_progress", "ack_sync")
_timer = st.sampled_from(TIMERS)


def _chance(draw, p: float) -> bool:
    """True with probability ``p``; shrinks to False."""
    return draw(st.integers(0, 99)) >= 100 - p * 100


def _maybe(draw, strategy, into: dict, key: str, weight: float = 0.5):
    """Set ``into[key]`` from ``strategy`` with probability about ``weight``; shrinks to unset."""
    if _chance(draw, weight):
        into[key] = draw(strategy)


def _subjects(stream: str) -> list[str]:
    """The subjects steps publish to for ``stream`` (``S0`` -> ``s0.a``, ``s0.b``, ``s0.c.d``)."""
    p = stream.lower()
    return [f"{p}.a", f"{p}.b", f"{p}.c.d"]


def _filters(stream: str) -> list:
    p = stream.lower()
    return [f"{p}.a", f"{p}.*", f"{p}.b", f"{p}.>", f"{p}.c.*", [f"{p}.a", f"{p}.b"]]


@st.composite
def stream_config(draw, name: str) -> dict:
    """A StreamConfig for ``name``: subjects under its lower-case name, random limits."""
    p = name.lower()
    cfg = {"name": name,
           "subjects": draw(st.sampled_from([[f"{p}.>"], [f"{p}.*"], [f"{p}.a", f"{p}.b"]]))}
    _maybe(draw, st.sampled_from(["limits", "workqueue", "interest"]), cfg, "retention", 0.4)
    _maybe(draw, st.sampled_from(["memory", "file"]), cfg, "storage", 0.3)
    _maybe(draw, st.sampled_from([2, 1, 3, 5, -1, 0]), cfg, "max_msgs", 0.4)
    _maybe(draw, st.sampled_from([1, 2, -1]), cfg, "max_msgs_per_subject", 0.3)
    _maybe(draw, st.sampled_from([100, 60, 200, -1]), cfg, "max_bytes", 0.1)
    _maybe(draw, st.sampled_from(["new", "old"]), cfg, "discard", 0.3)
    if cfg.get("discard") == "new":
        _maybe(draw, st.booleans(), cfg, "discard_new_per_subject", 0.3)
    _maybe(draw, _timer, cfg, "max_age", 0.25)
    _maybe(draw, _timer, cfg, "duplicate_window", 0.25)
    _maybe(draw, st.sampled_from([1, 2, 8, 0]), cfg, "max_msg_size", 0.05)
    _maybe(draw, st.sampled_from([1, 0, 2]), cfg, "max_consumers", 0.1)
    for flag in ("allow_rollup_hdrs", "deny_delete", "deny_purge", "no_ack"):
        _maybe(draw, st.just(True), cfg, flag, 0.08)
    _maybe(draw, st.just("a stream"), cfg, "description", 0.05)
    _maybe(draw, st.sampled_from([5, 100, 1]), cfg, "first_seq", 0.04)
    _maybe(draw, st.sampled_from([{"src": f"{p}.a", "dest": f"{p}.b"},
                                  {"src": f"{p}.*", "dest": f"{p}.c.{{{{wildcard(1)}}}}"}]),
           cfg, "subject_transform", 0.04)
    _maybe(draw, st.just(True), cfg, "allow_msg_ttl", 0.08)
    _maybe(draw, st.just(True), cfg, "allow_direct", 0.15)
    return cfg


@st.composite
def consumer_config(draw, stream: str, name: str, push: bool) -> dict:
    """A ConsumerConfig on ``stream``: random deliver/ack policies, timers, limits, filters."""
    cfg = {"stream": stream}
    if not push and _chance(draw, 0.1):
        cfg["name"] = name  # a named ephemeral: it goes after inactive_threshold (default 5 s)
        _maybe(draw, _timer, cfg, "inactive_threshold", 0.7)
    else:
        cfg["durable_name"] = name
        _maybe(draw, _timer, cfg, "inactive_threshold", 0.05)
    if push:
        cfg["deliver_subject"] = f"dlv.{name}"
    _maybe(draw, st.sampled_from(["explicit", "all", "none"]), cfg, "ack_policy", 0.5)
    policy = draw(st.sampled_from(["all", "all", "last", "new", "by_start_sequence",
                                   "last_per_subject"]))
    if policy != "all":
        cfg["deliver_policy"] = policy
    if policy == "by_start_sequence":
        cfg["opt_start_seq"] = draw(st.integers(1, 4))
    _maybe(draw, _timer, cfg, "ack_wait", 0.6)
    _maybe(draw, st.sampled_from([2, 1, 3, 4, -1, 0]), cfg, "max_deliver", 0.5)
    if _chance(draw, 0.2):
        cfg["backoff"] = draw(st.lists(_timer, min_size=1, max_size=3))
        cfg.setdefault("max_deliver", len(cfg["backoff"]) + draw(st.integers(0, 2)))
    _maybe(draw, st.sampled_from([1, 2, 3]), cfg, "max_ack_pending", 0.3)
    if _chance(draw, 0.4) or policy == "last_per_subject":
        filt = draw(st.sampled_from(_filters(stream)))
        cfg["filter_subjects" if isinstance(filt, list) else "filter_subject"] = filt
    if not push:
        _maybe(draw, st.sampled_from([1, 2, 5]), cfg, "max_waiting", 0.05)
        _maybe(draw, st.sampled_from([1, 2]), cfg, "max_batch", 0.05)
    _maybe(draw, st.just(True), cfg, "headers_only", 0.05)
    _maybe(draw, st.just("a consumer"), cfg, "description", 0.05)
    if push and _chance(draw, 0.15):
        # a heartbeat far past the scenario's end (its count would depend on when a run ends);
        # now and then flow control without one, which the server refuses
        cfg["flow_control"] = True
        _maybe(draw, st.just(30.0), cfg, "idle_heartbeat", 0.8)
    _maybe(draw, st.sampled_from(PAUSES), cfg, "pause_until", 0.05)
    return cfg


@st.composite
def sourcing_config(draw, origin: str) -> dict:
    """A stream ``M0`` that mirrors ``origin`` or sources it (with subjects of its own or
    not), maybe from a start sequence or through a filter. Steps leave it alone: the final
    state compares it."""
    src = {"name": origin}
    p = origin.lower()
    _maybe(draw, st.sampled_from([2, 1, 4]), src, "opt_start_seq", 0.2)
    if _chance(draw, 0.3):
        if _chance(draw, 0.5):
            src["filter_subject"] = draw(st.sampled_from([f"{p}.a", f"{p}.*"]))
        else:
            src["subject_transforms"] = [{"src": f"{p}.*", "dest": "m0.$1"}]
    if draw(st.booleans()):
        return {"name": "M0", "mirror": src}
    cfg = {"name": "M0", "sources": [src]}
    _maybe(draw, st.just(["own.*"]), cfg, "subjects", 0.3)
    return cfg


class _State:
    """What a scenario has declared so far (so every reference stays valid) and the clock."""

    def __init__(self):
        self.streams: dict[str, dict] = {}
        self.consumers: dict[str, dict] = {}   # name -> config (with stream)
        self.subs: set[str] = set()             # every name used (a name is used once)
        self.live: set[str] = set()             # subscribed now
        self.tenths = 0                         # the next step's earliest start, in 0.1 s
        self.origins: set[str] = set()          # streams a mirror or source copies
        self.background: list[tuple[str, int]] = []  # (consumer, end in 0.1 s) not collected
        self.direct_gets = 0                    # reply subjects dg.N used so far

    def pull(self) -> list[str]:
        return [n for n, c in self.consumers.items() if "deliver_subject" not in c]

    def subjects(self) -> list[str]:
        return [s for name in self.streams for s in _subjects(name)] + ["zz.q"]


def _headers(draw, state: _State) -> dict | None:
    if not _chance(draw, 0.5):
        return None
    headers = {}
    _maybe(draw, st.sampled_from(["m1", "m2", "m3"]), headers, "Nats-Msg-Id", 0.7)
    _maybe(draw, st.sampled_from(["0", "1", "2", "3"]), headers, "Nats-Expected-Last-Sequence",
           0.2)
    _maybe(draw, st.sampled_from(["0", "1", "2"]), headers,
           "Nats-Expected-Last-Subject-Sequence", 0.15)
    _maybe(draw, st.sampled_from(["m1", "m2"]), headers, "Nats-Expected-Last-Msg-Id", 0.1)
    _maybe(draw, st.sampled_from(["sub", "all"]), headers, "Nats-Rollup", 0.1)
    _maybe(draw, st.sampled_from(TTLS), headers, "Nats-TTL",
           0.5 if any(s.get("allow_msg_ttl") for s in state.streams.values()) else 0.05)
    return headers or None


def _publish(draw, state: _State, op: str) -> tuple[dict, int]:
    step = {"op": op, "subject": draw(st.sampled_from(state.subjects())),
            "data": draw(st.sampled_from(_DATA))}
    headers = _headers(draw, state)
    if headers:
        step["headers"] = headers
    if op == "js_publish":
        step["timeout"] = 0.3
        if _chance(draw, 0.05):
            step["stream"] = draw(st.sampled_from(sorted(state.streams)))
        # answered at once by a stream; a listening subscription without a stream: the timeout
        return step, (3 if step["subject"] == "zz.q" else 0)
    return step, 1


def _fetch(draw, state: _State) -> tuple[dict, int]:
    names = state.pull() or sorted(state.consumers)
    timeout = draw(st.sampled_from([0.2, 0.1, 0.3, 0.5]))
    step = {"op": "fetch", "consumer": draw(st.sampled_from(names)),
            "batch": draw(st.sampled_from([1, 2, 3, 5])), "timeout": timeout}
    background = _chance(draw, 0.1)
    if background:   # it ends (and acks) 50 ms off the grid, while later steps run
        step["timeout"] = timeout = draw(st.sampled_from([0.45, 0.25, 0.75]))
        step["background"] = True
    if _chance(draw, 0.2):
        step["then"] = {seq: draw(st.sampled_from(_THEN[:5]))
                        for seq in draw(st.lists(st.integers(1, 5), min_size=1, max_size=3,
                                                 unique=True))}
    else:
        then = draw(st.sampled_from(_THEN))
        if then != "ack":
            step["then"] = then
    if "nak" in str(step.get("then")):
        _maybe(draw, _timer, step, "delay", 0.5)
    if background:
        end = state.tenths + math.ceil(timeout * 10) + 1
        state.background.append((step["consumer"], end))
        return step, 0
    return step, round(timeout * 10) + 1


def _collect(state: _State, name: str) -> tuple[dict, int]:
    """A ``fetch_result`` of ``name``'s first background fetch, and the 0.1 s it waits."""
    i = next(i for i, (n, _) in enumerate(state.background) if n == name)
    return {"op": "fetch_result", "consumer": name}, max(0, state.background.pop(i)[1]
                                                          - state.tenths)


def _direct_get(draw, state: _State) -> dict:
    """A direct get (``$JS.API.DIRECT.GET``) published with a reply subject ``dg.N`` that a
    subscription recording headers takes: multi_last (with up_to_seq, up_to_time, batch) or a
    get by sequence or subject. A stream without ``allow_direct`` has no responder."""
    stream = draw(st.sampled_from(sorted(state.streams)))
    p = stream.lower()
    if _chance(draw, 0.7):
        body = {"multi_last": draw(st.sampled_from([[f"{p}.>"], [f"{p}.*", f"{p}.a"],
                                                    [f"{p}.b"]]))}
        _maybe(draw, st.integers(1, 4), body, "up_to_seq", 0.3)
        _maybe(draw, st.sampled_from(["2000-01-01T00:00:00Z", "2100-01-01T00:00:00Z"]), body,
               "up_to_time", 0.1)
        _maybe(draw, st.sampled_from([1, 2]), body, "batch", 0.3)
    else:
        body = draw(st.sampled_from([{"seq": 1}, {"seq": 2, "batch": 2},
                                     {"last_by_subj": f"{p}.a"},
                                     {"next_by_subj": f"{p}.b", "seq": 1}]))
    state.direct_gets += 1
    return {"op": "publish", "subject": f"$JS.API.DIRECT.GET.{stream}",
            "data": json.dumps(body, separators=(",", ":")), "reply": f"dg.{state.direct_gets}"}


def _admin(draw, state: _State, op: str) -> dict:
    stream = draw(st.sampled_from(sorted(state.streams)))
    if op == "purge_stream":
        step = {"op": op, "stream": stream}
        _maybe(draw, st.sampled_from(_subjects(stream) + [f"{stream.lower()}.*"]), step,
               "subject", 0.3)
        option = draw(st.sampled_from([None, "seq", "keep"]))
        if option:
            step[option] = draw(st.integers(0, 4))
        return step
    if op == "update_stream":
        cfg = copy.deepcopy(state.streams[stream])
        keys = ["max_msgs", "max_age", "subjects", "discard", "max_msgs_per_subject",
                "duplicate_window"] + ([] if stream in state.origins else ["retention"])
        changes = draw(st.lists(st.sampled_from(keys), min_size=1, max_size=2))
        fresh = draw(stream_config(stream))
        for key in changes:
            if key in fresh:
                cfg[key] = fresh[key]
            else:
                cfg.pop(key, None)
        return {"op": op, **cfg}
    if op in ("consumer_info", "delete_consumer"):
        return {"op": op, "consumer": draw(st.sampled_from(sorted(state.consumers)))}
    return {"op": op, "stream": stream}


def _add_consumer(draw, state: _State) -> dict:
    update = state.consumers and draw(st.booleans())
    if update:
        name = draw(st.sampled_from(sorted(state.consumers)))
        cfg = copy.deepcopy(state.consumers[name])
        for key in draw(st.lists(st.sampled_from(["ack_wait", "max_deliver", "max_ack_pending",
                                                  "description", "filter_subject",
                                                  "ack_policy"]), min_size=1, max_size=2)):
            if key == "filter_subject":
                cfg.pop("filter_subjects", None)
                cfg[key] = draw(st.sampled_from(_filters(cfg["stream"])[:5]))
            elif key == "ack_policy":
                cfg[key] = draw(st.sampled_from(["explicit", "all", "none"]))
            elif key == "description":
                cfg[key] = "updated"
            else:
                cfg[key] = draw({"ack_wait": _timer,
                                 "max_deliver": st.sampled_from([3, 1, 5, -1]),
                                 "max_ack_pending": st.sampled_from([2, 1, 10])}[key])
    else:
        name = f"c{len(state.consumers)}"
        stream = draw(st.sampled_from(sorted(state.streams)))
        cfg = draw(consumer_config(stream, name, push=_chance(draw, 0.2)))
    _maybe(draw, st.sampled_from(["create", "update"]), cfg, "action", 0.1)
    state.consumers[name] = {k: v for k, v in cfg.items() if k != "action"}
    return {"op": "add_consumer", **cfg}


# op -> weight; ops that need something declared are left out while it is missing
_OPS = {"js_publish": 8, "fetch": 6, "publish": 2, "request": 1, "consumer_info": 2,
        "stream_info": 2, "purge_stream": 2, "add_consumer": 2, "update_stream": 2,
        "delete_consumer": 1, "delete_stream": 1, "subscribe": 1, "unsubscribe": 1, "wait": 1,
        "add_stream": 1, "direct_get": 1, "pause_consumer": 1, "fetch_result": 2}
_NEED_CONSUMER = {"fetch", "consumer_info", "delete_consumer", "pause_consumer"}
_NEED_STREAM = {"purge_stream", "update_stream", "stream_info", "delete_stream",
                "add_consumer", "direct_get"}
#: Ops whose effect is in the server's state when their reply arrives (no margin needed).
_SYNC = {"js_publish", "stream_info", "consumer_info", "wait"}


def _step(draw, state: _State) -> dict:
    ops = [op for op, weight in _OPS.items() for _ in range(weight)
           if not (op in _NEED_CONSUMER and not state.consumers)
           and not (op in _NEED_STREAM and not state.streams)
           and not (op == "unsubscribe" and not state.live)
           and not (op == "fetch_result" and not state.background)]
    op = draw(st.sampled_from(ops))
    busy = 0
    if op in ("js_publish", "publish"):
        step, busy = _publish(draw, state, op)
        if op == "publish" and "quiet" in state.live and _chance(draw, 0.6):
            step["from"] = "quiet"   # a no_echo connection does not get its own message
    elif op == "direct_get":
        step, busy = _direct_get(draw, state), 1
    elif op == "fetch_result":   # first started, first collected; it waits for the end
        step, busy = _collect(state, draw(st.sampled_from(state.background))[0])
    elif op == "pause_consumer":
        step = {"op": op, "consumer": draw(st.sampled_from(sorted(state.consumers)))}
        _maybe(draw, st.sampled_from(PAUSES), step, "pause_until", 0.8)
    elif op == "request":
        subject = draw(st.sampled_from(["svc.echo", "nobody.home", *state.subjects()]))
        step, busy = {"op": op, "subject": subject, "data": "ping", "timeout": 0.2}, 2
    elif op == "fetch":
        step, busy = _fetch(draw, state)
    elif op == "add_consumer":
        step = _add_consumer(draw, state)
    elif op == "add_stream":
        # an origin deleted and created again is not simulated (its copies would resume)
        name = draw(st.sampled_from(["S1"] if state.origins else ["S1", "S0"]))
        step = {"op": op, **draw(stream_config(name))}
        state.streams[name] = {k: v for k, v in step.items() if k != "op"}
    elif op == "subscribe":
        name = f"sub{len(state.subs)}"
        step = {"op": op, "name": name, "subject": draw(st.sampled_from(
            ["s0.>", "s0.*", "zz.q", *[f"dlv.{c}" for c in state.consumers]]))}
        _maybe(draw, st.sampled_from([1, 2]), step, "max_msgs", 0.3)
        state.subs.add(name)
        state.live.add(name)
    elif op == "unsubscribe":
        step = {"op": op, "name": draw(st.sampled_from(sorted(state.live)))}
        state.live.discard(step["name"])
    elif op == "wait":
        step = {"op": op}
    else:
        step = _admin(draw, state, op)
    gap = draw(st.sampled_from([1, 0, 2, 3, 5]))
    if op not in _SYNC or busy or state.origins:   # a mirror or source copies asynchronously
        gap = max(gap, 1)
    step = {"at": round(state.tenths / 10, 1), **step}
    state.tenths += busy + gap
    return step


def _subscriptions(draw, state: _State) -> list[dict]:
    subs = []
    if _chance(draw, 0.3):
        subs.append({"name": "all", "subject": "s0.>"})
        _maybe(draw, st.sampled_from([1, 2]), subs[-1], "max_msgs", 0.2)
    if _chance(draw, 0.2):
        subs += [{"name": "q1", "subject": "s0.*", "queue": "grp"},
                 {"name": "q2", "subject": "s0.*", "queue": "grp"}]
    if _chance(draw, 0.2):
        subs.append({"name": "svc", "subject": "svc.echo", "respond": "pong"})
    if _chance(draw, 0.15):   # steps may publish from its connection (``from``)
        subs.append({"name": "quiet", "subject": "s0.>", "no_echo": True})
    for name, cfg in state.consumers.items():
        if "deliver_subject" in cfg and _chance(draw, 0.8):
            subs.append({"name": f"p-{name}", "subject": cfg["deliver_subject"]})
    state.subs.update(s["name"] for s in subs)
    state.live.update(s["name"] for s in subs)
    return subs


@st.composite
def scenario_documents(draw, max_steps: int = 8) -> dict:
    """A valid scenario document (a ``dict`` in the file format), named ``fuzz``."""
    state = _State()
    streams = [draw(stream_config("S0"))]
    if _chance(draw, 0.1):
        streams.append(draw(stream_config("S1")))
    state.streams = {s["name"]: dict(s) for s in streams}
    consumers = []
    for i in range(draw(st.integers(0, 2))):
        stream = draw(st.sampled_from(sorted(state.streams)))
        cfg = draw(consumer_config(stream, f"c{i}", push=_chance(draw, 0.2)))
        consumers.append(cfg)
        state.consumers[f"c{i}"] = cfg
    doc = {"name": "fuzz", "streams": streams}
    if streams[0].get("retention", "limits") == "limits" and _chance(draw, 0.1):
        doc["streams"] = streams + [draw(sourcing_config("S0"))]
        state.origins.add("S0")
        state.tenths = 5    # the first copy comes about 0.15 s after set-up
    if consumers:
        doc["consumers"] = consumers
    subs = _subscriptions(draw, state)
    if subs:
        doc["subscriptions"] = subs
    count = draw(st.integers(1, max_steps))
    doc["steps"] = [_step(draw, state) for _ in range(count)]
    while state.background:   # collect every background fetch, so the end state is settled
        step, busy = _collect(state, state.background[0][0])
        doc["steps"].append({"at": round(state.tenths / 10, 1), **step})
        state.tenths += busy + 1
    if state.direct_gets:   # the replies of direct gets, with their headers
        doc["subscriptions"] = [*subs, {"name": "dg", "subject": "dg.>", "record_headers": True}]
    return doc


#: How :func:`invalid_documents` breaks a valid document; each must give a file error.
MUTATIONS = ("unknown_op", "unknown_key", "wrong_type", "missing_op", "negative_at",
             "bad_subject", "ghost_consumer", "bad_then", "no_name", "bad_stream_key",
             "step_not_a_map")


@st.composite
def invalid_documents(draw) -> tuple[dict, str, str]:
    """``(document, where, key)``: a valid document with one thing broken, and where the
    error message must point (``step 2``, ``top level``...) and the key it must name."""
    doc = draw(scenario_documents(max_steps=4))
    kind = draw(st.sampled_from(MUTATIONS))
    steps = doc["steps"]
    i = draw(st.integers(0, len(steps) - 1))
    where = f"step {i}"
    if kind == "unknown_op":
        steps[i]["op"], key = "explode", "op"
    elif kind == "unknown_key":
        steps[i]["bogus"], key = 1, "bogus"
    elif kind == "wrong_type":
        steps[i]["at"], key = "soon", "at"
    elif kind == "missing_op":
        del steps[i]["op"]
        key = "op"
    elif kind == "negative_at":
        steps[i]["at"], key = -1, "at"
    elif kind == "bad_subject":
        steps[i], key = {"op": "publish", "subject": draw(st.sampled_from(
            ["a b", "", "a\tb"]))}, "subject"  # whitespace, empty: refused by the client
    elif kind == "ghost_consumer":
        steps[i], key = {"op": "fetch", "consumer": "ghost"}, "consumer"
    elif kind == "bad_then":
        steps[i], key = {"op": "fetch", "consumer": "ghost", "then": "explode"}, "consumer"
        if doc.get("consumers"):
            steps[i] = {"op": "fetch", "consumer": doc["consumers"][0].get("durable_name") or
                        doc["consumers"][0]["name"], "then": "explode"}
            key = "then"
    elif kind == "no_name":
        del doc["name"]
        where, key = "top level", "name"
    elif kind == "bad_stream_key":
        doc["streams"][0]["bogus_limit"] = 3
        where, key = "streams[0]", "bogus_limit"
    else:
        steps[i], key = "publish s0.a", None
    return doc, where, key

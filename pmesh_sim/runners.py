"""Run a scenario on a backend, and the ``run`` / ``validate`` commands.

Both backends run the *same* program, :func:`scenario_program`: a generator that yields
whatever the backend's calls return when they must be waited for (an awaitable on the real
backend, a SimPy event in the simulation). Each backend supplies a small adapter with the same
methods (``publish``, ``request``, ``fetch``, ``ack``, ``subscribe``, ``sleep``, ``spawn``,
``delivered_id``...) and attributes (``seed``, ``servers``, ``trace``), so the order
of operations, the wire requests and the result building are one piece of code, and the two
backends cannot drift.

Connection layout, the same on both backends: one connection (``steps``) makes every step's
call (publishes, requests, JetStream API requests, fetches and acks); each subscription gets a
connection of its own, named after it. A step with ``server: n3`` makes its call on a second
steps connection that starts on n3 (``b.select(server)`` picks it; ``""`` is the default).
Admin and info ops are the JetStream API's requests sent as raw requests (the bodies nats-py
would send), so a result holds exactly what the server said.

>>> wire_stream_config({"name": "S", "max_age": 1.5})["max_age"]
1500000000
>>> api_subject_for_consumer("S", {"durable_name": "w", "ack_wait": 2.0})[0]
'$JS.API.CONSUMER.DURABLE.CREATE.S.w'
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from . import scenario as sc
from .errors import NotSimulatedError, PmeshError
from .jetstream.surface import NOT_SIMULATED_HEADER
from .report import describe, use_file_backend, write_report

__all__ = ["run_scenario", "run_command", "validate_command", "scenario_program",
           "classify_error", "wire_stream_config", "api_subject_for_consumer", "SETTLE",
           "API_TIMEOUT"]

#: Seconds both backends wait after the last step before reading the final state.
SETTLE = 0.2
#: Timeout of the final state queries after the last step.
FINAL_TIMEOUT = 1.0
#: Timeout of JetStream API requests (nats-py's default).
API_TIMEOUT = 5.0
#: Seconds the setup's creates may take: a real cluster just formed may need more than
#: API_TIMEOUT to elect a new stream's first leader (seen for R5 on a loaded machine); the
#: setup is not under test, and the clock of the steps starts after it.
SETUP_TIMEOUT = 20.0
#: ``fetch`` timeout when the step gives none (nats-py's default).
FETCH_TIMEOUT = 5.0
#: ``request`` / ``js_publish`` timeout when the step gives none.
REQUEST_TIMEOUT = 0.5

NS = 1_000_000_000

# What nats-py's StreamConfig / ConsumerConfig ``as_dict()`` sends for fields left unset.
_NATS_PY_STREAM = {"discard": "old", "discard_new_per_subject": False, "max_msgs_per_subject": -1,
                   "max_msg_size": -1, "no_ack": False, "duplicate_window": 0, "sealed": False,
                   "deny_delete": False, "deny_purge": False, "allow_rollup_hdrs": False,
                   "max_age": 0}
_NATS_PY_CONSUMER = {"deliver_policy": "all", "ack_policy": "explicit",
                     "replay_policy": "instant", "ack_wait": 0, "idle_heartbeat": 0,
                     "inactive_threshold": 0}
_STREAM_SECONDS = ("max_age", "duplicate_window", "subject_delete_marker_ttl")
_CONSUMER_SECONDS = ("ack_wait", "idle_heartbeat", "inactive_threshold", "max_expires")


def _ns(seconds: float) -> int:
    return int(seconds * NS)


def wire_stream_config(fields: dict) -> dict:
    """The JSON body nats-py's ``add_stream`` would send for these StreamConfig fields."""
    body = dict(_NATS_PY_STREAM)
    for key, value in fields.items():
        if key == "consumer_limits" and isinstance(value, dict):   # nats-py's seconds, nested
            value = {k: _ns(v) if k == "inactive_threshold" and isinstance(v, (int, float))
                     else v for k, v in value.items()}
        body[key] = _ns(value) if key in _STREAM_SECONDS and value is not None else value
    return body


def api_subject_for_consumer(stream: str, fields: dict) -> tuple[str, dict]:
    """The subject and body nats-py's ``add_consumer`` would use (``stream`` key excluded).

    An ``action`` key (``create`` / ``update``) goes into the body as the server's field.
    """
    config = dict(_NATS_PY_CONSUMER)
    for key, value in fields.items():
        if key in ("stream", "action"):
            continue
        if key in _CONSUMER_SECONDS and value is not None:
            value = _ns(value)
        elif key == "backoff" and value is not None:
            value = [_ns(v) for v in value]
        config[key] = value
    name, filt = config.get("name"), config.get("filter_subject")
    if name:
        subject = f"$JS.API.CONSUMER.CREATE.{stream}.{name}"
        if filt and filt != ">":
            subject += f".{filt}"
    elif config.get("durable_name"):
        subject = f"$JS.API.CONSUMER.DURABLE.CREATE.{stream}.{config['durable_name']}"
    else:
        subject = f"$JS.API.CONSUMER.CREATE.{stream}"
    body = {"stream_name": stream, "config": config}
    if fields.get("action"):
        body["action"] = fields["action"]
    return subject, body


def classify_error(exc: BaseException) -> dict:
    """The result for an error either backend's client raised.

    >>> from pmesh_sim.errors import NoRespondersError, StreamNotFoundError
    >>> classify_error(NoRespondersError()), classify_error(StreamNotFoundError())["error"]["err_code"]
    ({'outcome': 'no_responders'}, 10059)
    >>> from pmesh_sim.errors import InvalidSubjectError
    >>> classify_error(InvalidSubjectError("invalid subject 'a b'"))
    {'outcome': 'bad_subject'}
    """
    if isinstance(exc, NotSimulatedError):
        return unsupported(exc.feature)
    name = type(exc).__name__
    if getattr(exc, "err_code", None) is not None or getattr(exc, "description", None):
        return sc.error_result(exc)
    # nats-py's fetch raises a bare ServiceUnavailableError (no err_code) on a 503 status:
    # the pull request reached nobody, as a missing consumer's does
    if name in ("NoRespondersError", "NoStreamResponseError", "ServiceUnavailableError"):
        return sc.outcome("no_responders")
    if "Timeout" in name:
        return sc.outcome("timeout")
    # a subject the client refuses before sending (nats-py BadSubjectError, the simulated
    # client's InvalidSubjectError): nothing reached the server
    if name in ("BadSubjectError", "InvalidSubjectError"):
        return sc.outcome("bad_subject")
    raise exc


def unsupported(feature: str) -> dict:
    """The result of a step the simulation refused: ``unsupported``, naming what.

    >>> unsupported("stream config field 'mirror'")
    {'outcome': 'unsupported', 'not_simulated': "stream config field 'mirror'"}
    """
    return {**sc.outcome("unsupported"), "not_simulated": feature}


def _refused(msg) -> dict | None:
    """``unsupported`` when the simulated server answered "not simulated", else None."""
    headers = getattr(msg, "headers", None)
    if headers and NOT_SIMULATED_HEADER in headers:
        return unsupported(headers[NOT_SIMULATED_HEADER])
    return None


def relative_seconds(value) -> float | None:
    """The offset of a relative date (``"-0.5s"``, ``"+2s"``: seconds from the moment the
    request is sent), or None when ``value`` is not one. Each backend turns it into a date:
    the simulation on its clock (:meth:`~pmesh_sim.Simulation.date`), the real one on the wall
    clock.

    >>> relative_seconds("-0.5s"), relative_seconds("+2s"), relative_seconds("2026-01-01T00:00:00Z")
    (-0.5, 2.0, None)
    """
    if not isinstance(value, str) or value[:1] not in ("+", "-") or value[-1:] != "s":
        return None
    try:
        return float(value[:-1])
    except ValueError:
        return None


def _dates(b, fields: dict, keys) -> dict:
    """``fields`` with each relative date under ``keys`` made a date by backend ``b``."""
    relative = {k: relative_seconds(fields.get(k)) for k in keys}
    return {**fields, **{k: b.date(v) for k, v in relative.items() if v is not None}}


def _source_dates(b, fields: dict) -> dict:
    """``fields`` with a relative ``opt_start_time`` of its mirror or sources made a date."""
    out = dict(fields)
    if isinstance(out.get("mirror"), dict):
        out["mirror"] = _dates(b, out["mirror"], ("opt_start_time",))
    if isinstance(out.get("sources"), list):
        out["sources"] = [_dates(b, s, ("opt_start_time",)) if isinstance(s, dict) else s
                          for s in out["sources"]]
    return out


def _deleted(resp: dict) -> dict:
    return sc.outcome("deleted")


def _maybe(value):
    """Yield ``value`` if it must be waited for; give back what waiting gave."""
    if value is None or isinstance(value, (list, dict, str, bytes, int)):
        return value
    return (yield value)


def scenario_program(scenario: sc.Scenario, b) -> Any:
    """The whole run as a generator over backend adapter ``b``; returns the document parts.

    ``b`` records subscription messages itself; this returns ``(setup, steps, final)``.
    """
    def api(subject: str, body: dict | None = None, shape=None, timeout: float = API_TIMEOUT):
        """The API's answer: an error or an outcome as it came, else ``shape(response)``."""
        payload = json.dumps(body).encode() if body is not None else b""
        try:
            msg = yield from _maybe(b.request(subject, payload, timeout, None))
        except Exception as exc:  # noqa: BLE001 - each client's own error classes
            return classify_error(exc)
        refused = _refused(msg)
        if refused is not None:
            return refused
        resp = json.loads(msg.data or b"{}")
        if "error" in resp:
            return sc.error_result(resp["error"])
        return shape(resp) if shape else resp

    streams: list[str] = []
    consumers: list[tuple[str, str]] = []

    def stream_shape(resp):
        """The stream's state; its config goes to the trace (topology, on both backends)."""
        cfg = resp.get("config") or {}
        b.trace.emit("stream_config", node=b.node, stream=cfg.get("name", ""),
                     subjects=list(cfg.get("subjects") or []),
                     retention=cfg.get("retention", "limits"))
        return sc.stream_state(resp)

    def consumer_shape(resp):
        cfg = resp.get("config") or {}
        filters = list(cfg.get("filter_subjects") or ([cfg["filter_subject"]]
                                                      if cfg.get("filter_subject") else []))
        fields = {"deliver_subject": cfg["deliver_subject"]} if cfg.get("deliver_subject") else {}
        if cfg.get("deliver_group"):
            fields["deliver_group"] = cfg["deliver_group"]
        if cfg.get("opt_start_seq"):
            fields["opt_start_seq"] = cfg["opt_start_seq"]
        b.trace.emit("consumer_config", node=b.node, stream=resp.get("stream_name", ""),
                     consumer=resp.get("name", ""), filter_subjects=filters,
                     pull=not cfg.get("deliver_subject"),
                     ack_policy=cfg.get("ack_policy", "explicit"),
                     ack_wait=cfg.get("ack_wait", 30_000_000_000) / 1e9,
                     max_deliver=cfg.get("max_deliver", -1),
                     deliver_policy=cfg.get("deliver_policy", "all"), **fields)
        return sc.consumer_info(resp)

    def add_stream(fields, timeout=API_TIMEOUT):
        result = yield from api(f"$JS.API.STREAM.CREATE.{fields['name']}",
                                wire_stream_config(_source_dates(b, fields)), stream_shape,
                                timeout)
        if fields["name"] not in streams:
            streams.append(fields["name"])
        return result

    def add_consumer(fields, timeout=API_TIMEOUT):
        fields = _dates(b, fields, ("opt_start_time", "pause_until"))
        subject, body = api_subject_for_consumer(fields["stream"], fields)
        result = yield from api(subject, body, consumer_shape, timeout)
        name = fields.get("durable_name") or fields.get("name")
        if name and (fields["stream"], name) not in consumers:
            consumers.append((fields["stream"], name))
        return result

    setup = []
    for fields in scenario.streams:
        setup.append({"stream": fields["name"],
                      "result": (yield from add_stream(fields, SETUP_TIMEOUT))})
    for fields in scenario.consumers:
        name = fields.get("durable_name") or fields.get("name") or ""
        setup.append({"consumer": f"{fields['stream']}/{name}",
                      "result": (yield from add_consumer(fields, SETUP_TIMEOUT))})
    for sub in scenario.subscriptions:
        yield from _maybe(b.subscribe(sub))
    yield from _maybe(b.flush_all())
    b.start_clock()

    steps = []
    background: dict[tuple[str, str], list] = {}   # fetches started with background: true
    started = 0
    running: list[tuple[dict, Any]] = []     # (step record, handle) of background steps
    for step in scenario.steps:
        wait = step.at - b.now()
        if wait > 0:
            yield b.sleep(wait)
        b.select(step.server)
        b.trace.emit("step", node=b.node, index=step.index, op=step.op)
        a = step.args
        op = step.op
        if op == "publish":
            try:
                yield from _maybe(b.publish(a["subject"], a.get("data", "").encode(),
                                            a.get("reply", ""), a.get("headers"),
                                            a.get("from")))
                result = sc.outcome("sent")
            except NotSimulatedError as exc:
                result = unsupported(exc.feature)
        elif op in ("request", "js_publish"):
            headers = dict(a.get("headers") or {})
            if op == "js_publish" and a.get("stream"):
                headers["Nats-Expected-Stream"] = a["stream"]
            try:
                msg = yield from _maybe(b.request(a["subject"], a.get("data", "").encode(),
                                                  a.get("timeout", REQUEST_TIMEOUT if op ==
                                                        "request" else API_TIMEOUT),
                                                  headers or None))
            except Exception as exc:  # noqa: BLE001
                result = classify_error(exc)
            else:
                if _refused(msg) is not None:
                    result = _refused(msg)
                elif op == "request":
                    result = {"data": sc.text(msg.data)}
                else:
                    ack = json.loads(msg.data or b"{}")
                    result = (sc.error_result(ack["error"]) if "error" in ack else
                              sc.pub_ack(ack.get("stream", ""), ack.get("seq", 0),
                                         ack.get("duplicate")))
                    _trace_pub_ack(b, result)
        elif op == "workload":
            result = yield from _workload(b, step)
        elif op in sc.BACKGROUND_OPS:
            # workers and fault schedules run alongside later steps; their record gets its
            # result when they end (and its step_result record then)
            steps.append(sc.step_record(step, sc.outcome("started")))
            running.append((steps[-1], b.spawn(_background(b, step))))
            continue
        elif op == "fetch" and a.get("background"):
            # a pull that waits while later steps run, on a pull subscription of its own
            key = (a["stream"], a["consumer"])
            started += 1
            background.setdefault(key, []).append(b.spawn(_fetch(b, a, slot=started)))
            result = sc.outcome("started")
        elif op == "fetch_result":
            result = yield from _maybe(b.join(background[(a["stream"], a["consumer"])].pop(0)))
        elif op == "fetch":
            result = yield from _fetch(b, a)
        elif op in ("add_stream", "update_stream"):
            if op == "add_stream":
                result = yield from add_stream(a)
            else:
                result = yield from api(f"$JS.API.STREAM.UPDATE.{a['name']}",
                                        wire_stream_config(_source_dates(b, a)), stream_shape)
        elif op == "stream_list":
            body = {k: a[k] for k in ("subject", "offset") if k in a}
            result = yield from api("$JS.API.STREAM.LIST", body or None, lambda resp: {
                **{k: int(resp.get(k) or 0) for k in ("total", "offset", "limit")},
                "streams": [{"name": s["config"]["name"], **sc.stream_state(s)}
                            for s in resp.get("streams") or []]})
        elif op == "stream_info":
            result = yield from api(f"$JS.API.STREAM.INFO.{a['stream']}", None, sc.stream_state)
        elif op == "delete_stream":
            result = yield from api(f"$JS.API.STREAM.DELETE.{a['stream']}", None, _deleted)
        elif op == "purge_stream":
            body = {k2: a[k] for k, k2 in (("subject", "filter"), ("seq", "seq"), ("keep", "keep"))
                    if k in a}
            result = yield from api(f"$JS.API.STREAM.PURGE.{a['stream']}", body or None,
                                    lambda resp: {"outcome": "purged",
                                                  "purged": int(resp.get("purged", 0))})
        elif op == "add_consumer":
            result = yield from add_consumer(a)
        elif op == "consumer_info":
            result = yield from api(f"$JS.API.CONSUMER.INFO.{a['stream']}.{a['consumer']}",
                                    None, sc.consumer_info)
        elif op == "pause_consumer":   # pause_until omitted: resume
            body = _dates(b, {k: a[k] for k in ("pause_until",) if k in a}, ("pause_until",))
            result = yield from api(f"$JS.API.CONSUMER.PAUSE.{a['stream']}.{a['consumer']}",
                                    body, lambda resp: {"paused": bool(resp.get("paused"))})
        elif op == "reset_consumer":   # seq omitted: back to the ack floor
            result = yield from api(
                f"$JS.API.CONSUMER.RESET.{a['stream']}.{a['consumer']}",
                {"seq": a["seq"]} if "seq" in a else None,
                lambda resp: {**sc.consumer_info(resp), "reset_seq": int(resp["reset_seq"])})
        elif op == "delete_consumer":
            result = yield from api(f"$JS.API.CONSUMER.DELETE.{a['stream']}.{a['consumer']}",
                                    None, _deleted)
        elif op == "subscribe":
            yield from _maybe(b.subscribe(a))
            result = sc.outcome("subscribed")
        elif op == "unsubscribe":
            yield from _maybe(b.unsubscribe(a["name"]))
            result = sc.outcome("unsubscribed")
        elif op == "wait":
            result = sc.outcome("waited")
        else:  # faults, stepdown too (the real backend asks the JetStream API)
            result = yield from _maybe(b.fault(op, a))
        b.trace.emit("step_result", node=b.node, index=step.index, op=op, result=result)
        steps.append(sc.step_record(step, result))

    for handles in background.values():   # fetches nobody collected still end before final
        for handle in handles:
            yield from _maybe(b.join(handle))
    for record, handle in running:
        record["result"] = yield from _maybe(b.join(handle))
    b.select("")
    yield b.sleep(SETTLE)
    yield from _maybe(b.flush_all())
    final: dict[str, dict] = {"streams": {}, "consumers": {}}
    gone = (10059, 10014)  # deleted during the run: left out of the final state
    for name in streams:
        state = yield from api(f"$JS.API.STREAM.INFO.{name}", None, sc.stream_state,
                               timeout=FINAL_TIMEOUT)
        if state.get("error", {}).get("err_code") not in gone:
            final["streams"][name] = state
    for stream, name in consumers:
        info = yield from api(f"$JS.API.CONSUMER.INFO.{stream}.{name}", None, sc.consumer_info,
                              timeout=FINAL_TIMEOUT)
        if info.get("error", {}).get("err_code") not in gone:
            final["consumers"][f"{stream}/{name}"] = info
    return setup, steps, final


def _fetch(b, a: dict, slot: int | None = None):
    batch, timeout = a.get("batch", 1), a.get("timeout", FETCH_TIMEOUT)
    try:
        msgs = yield from _maybe(b.fetch(a["stream"], a["consumer"], batch, timeout, slot))
    except Exception as exc:  # noqa: BLE001
        result = classify_error(exc)
        return {"messages": []} if result == sc.outcome("timeout") else result
    then = a.get("then", "ack")
    out = []
    for msg in msgs:
        meta = msg.metadata
        seq = meta.sequence.stream
        out.append(sc.fetched_message(msg.subject, msg.data, seq, meta.sequence.consumer,
                                      meta.num_delivered))
        action = then if isinstance(then, str) else then.get(seq, "ack")
        if action != "ignore":
            try:
                yield from _maybe(b.ack(msg, action, a.get("delay")))
            except Exception as exc:  # noqa: BLE001 - an ack_sync without answer
                b.trace.emit("ack_error", node=b.node, stream_seq=seq, error=type(exc).__name__)
    yield from _maybe(b.flush())
    return {"messages": out}


def _workload(b, step):
    """A stochastic publisher (:mod:`pmesh_sim.experiments.workload`): each message a
    js_publish at its drawn offset; the result counts the pub acks by outcome."""
    from .experiments.workload import schedule

    start = b.now()
    counts = {"published": 0, "acked": 0, "duplicates": 0, "errors": 0, "timeouts": 0}
    for at, subject, data, headers in schedule(step.args, b.seed, step.index):
        wait = start + at - b.now()
        if wait > 0:
            yield b.sleep(wait)
        counts["published"] += 1
        try:
            msg = yield from _maybe(b.request(subject, data, step.args.get("timeout",
                                                                           API_TIMEOUT), headers))
        except Exception as exc:  # noqa: BLE001
            outcome = classify_error(exc)
            counts["timeouts" if outcome.get("outcome") == "timeout" else "errors"] += 1
            if "error" in outcome:
                _trace_pub_ack(b, outcome)
            continue
        ack = json.loads(msg.data or b"{}")
        result = (sc.error_result(ack["error"]) if "error" in ack else
                  sc.pub_ack(ack.get("stream", ""), ack.get("seq", 0), ack.get("duplicate")))
        _trace_pub_ack(b, result)
        counts["errors" if "error" in result else
               "duplicates" if result["duplicate"] else "acked"] += 1
    return counts


def _background(b, step):
    """A background step (``workers``, ``chaos``) to its end; its result, also recorded."""
    if step.op == "workers":
        from .experiments.workers import run_workers

        result = yield from run_workers(b, step, _maybe, classify_error)
    else:
        from .experiments.chaos import run_chaos

        result = yield from run_chaos(b, step, b.servers, _maybe)
    b.trace.emit("step_result", node=b.node, index=step.index, op=step.op, result=result)
    return result


def _trace_pub_ack(b, result: dict) -> None:
    """The ``pub_ack`` record of the last js_publish; the adapter learns (stream, seq) -> msg_id
    (``b.stored``: the real backend stamps later deliveries and acks with it)."""
    msg_id = b.last_msg_id
    if "error" in result:
        b.trace.emit("pub_ack", node=b.node, client="steps", msg_id=msg_id,
                     err_code=result["error"].get("err_code"))
        return
    b.trace.emit("pub_ack", node=b.node, client="steps", msg_id=msg_id,
                 stream=result["stream"], stream_seq=result["seq"],
                 duplicate=result["duplicate"])
    if not result["duplicate"]:
        b.stored[(result["stream"], result["seq"])] = msg_id


def run_scenario(scenario: sc.Scenario | str | Path, backend: str = "sim",
                 servers: int | None = None, seed: int | None = None, *,
                 trace_out: list | None = None) -> dict:
    """Run ``scenario`` (or a scenario file) on ``backend`` (``"sim"`` or ``"real"``).

    Returns the result document; ``trace_out``, a list, receives the run's
    :class:`~pmesh_sim.trace.Trace`.
    """
    if not isinstance(scenario, sc.Scenario):
        scenario = sc.load_scenario(scenario)
    if backend == "sim":
        from .sim.runner import run_sim as run
    elif backend == "real":
        from .real.runner import run_real as run
    else:
        raise PmeshError(f"unknown backend {backend!r}: use 'sim' or 'real'")
    doc, trace = run(scenario, servers=servers, seed=seed)
    if trace_out is not None:
        trace_out.append(trace)
    return doc


def run_command(args) -> int:
    """``pmesh-sim run FILE``: run one scenario, write the document and/or a report."""
    scenario = sc.load_scenario(args.file)
    _print_warnings(scenario)
    traces: list = []
    doc = run_scenario(scenario, args.backend, servers=args.servers, seed=args.seed,
                       trace_out=traces)
    page = None
    if args.report:
        use_file_backend()
        page = write_report(args.report, doc, traces[0], scenario)
    text = sc.dumps_result(doc)
    if args.json_out == "-":
        sys.stdout.write(text)
    elif args.json_out:
        Path(args.json_out).write_text(text, encoding="utf-8")
    if args.json_out != "-":
        print(describe(doc, scenario.steps), end="")
    if page is not None:   # on stderr when stdout holds only the document
        print(f"report: {page}", file=sys.stderr if args.json_out == "-" else sys.stdout)
    return 0


def _print_warnings(scenario: sc.Scenario) -> None:
    """Names the file's steps use that nothing declared, on stderr (they still run)."""
    for line in scenario.warnings:
        print(f"pmesh-sim: warning: {line}", file=sys.stderr)


def validate_command(args) -> int:
    """``pmesh-sim validate FILE...``: both backends, a table of differences, exit 1 if any."""
    from .checks import compare_results, format_differences

    scenarios = [sc.load_scenario(f) for f in args.files]  # exit 2 before running anything
    for scenario in scenarios:
        _print_warnings(scenario)
    agree = 0
    for scenario in scenarios:
        sim = run_scenario(scenario, "sim", servers=args.servers)
        real = run_scenario(scenario, "real", servers=args.servers)
        diffs = compare_results(sim, real)
        compared = f"{len(sim['steps'])} steps, subscriptions and final state compared"
        if diffs:
            print(f"{scenario.name}: {len(diffs)} difference(s) ({compared})")
            print(format_differences(diffs, scenario=scenario.name))
        else:
            print(f"{scenario.name}: agree ({compared})")
            agree += 1
    print(f"{len(scenarios)} scenarios, {agree} agree")
    return 0 if agree == len(scenarios) else 1

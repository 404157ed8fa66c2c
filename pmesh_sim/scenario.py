"""Scenario files: load and check them, and build the result document both backends return.

A scenario is one YAML or JSON file (``../shared/design/scenario-format.md``): streams,
consumers and subscriptions that exist before step 0, then steps at times ``at``. Loading
checks everything a file can get wrong by itself (unknown op or key, missing key, wrong type, a
reference to a subscription nothing declares) and raises a
:class:`~pmesh_sim.errors.ScenarioError` naming the file, the step and the key. Config *values*
the server would reject are not checked here: they go to the server and come back as errors.
Neither are stream and consumer *names* in stream and consumer operations: a name nothing
declared goes to the server (which answers 10059 or 10014) and adds a line to
``Scenario.warnings``; only a ``fetch`` needs a declared consumer.

>>> sc = Scenario.from_dict({"name": "hello", "subscriptions": [{"name": "s", "subject": "a.>"}],
...                          "steps": [{"at": 0.1, "op": "publish", "subject": "a.b", "data": "x"}]})
>>> (sc.name, sc.servers, sc.steps[0].op, sc.steps[0].at, sc.steps[0].args["data"])
('hello', 1, 'publish', 0.1, 'x')
>>> Scenario.from_dict({"name": "bad", "steps": [{"op": "fetch", "consumer": "nope"}]})
Traceback (most recent call last):
...
pmesh_sim.errors.ScenarioError: <dict>: step 0 (fetch): key 'consumer': 'nope' is neither declared under 'consumers' nor created by an earlier add_consumer step

The second half of this module builds the result document, so that the two runners cannot
drift apart:

>>> stream_state({"messages": 2, "bytes": 80, "first_seq": 1, "last_seq": 2, "num_subjects": 1,
...               "consumer_count": 0, "first_ts": "..."})["num_deleted"]
0
>>> dumps_result({"b": 1, "a": [1]})
'{\\n  "a": [\\n    1\\n  ],\\n  "b": 1\\n}\\n'
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import ConsumerConfig, StreamConfig
from .errors import InvalidSubjectError, ScenarioError
# the cluster part of the format (its names are this module's too)
from .scenario_nodes import CONNECTION_OPS, FAULT_OPS, SIM_ONLY_OPS, NodeChecks  # noqa: F401
from .subjects import check_publish_subject, validate_queue, validate_subject

__all__ = [
    "Scenario", "Step", "load_scenario", "OPS", "STREAM_FIELDS", "CONSUMER_FIELDS", "THEN_ACTIONS",
    "SIM_ONLY_OPS", "FAULT_OPS", "CONNECTION_OPS", "BACKGROUND_OPS", "outcome", "error_result",
    "pub_ack", "fetched_message", "stream_state", "source_info",
    "consumer_info", "received_message", "result_document", "step_record", "dumps_result", "text",
    "STREAM_STATE_FIELDS", "CONSUMER_INFO_FIELDS",
]

# ---------------------------------------------------------------------------------------------
# types a key may hold

_NUM, _INT, _STR, _BOOL = "number", "integer", "text", "true/false"
_STRS, _NUMS, _MAP, _LIST = "list of text", "list of numbers", "map", "list"
_SIZE = "a number of bytes or {min: A, max: B}"
_SYNC = "seconds above 0 or 'always'"
_SPAN = "seconds, {min: A, max: B} or {mean: M}"


def _is(kind: str, value: Any) -> bool:
    if kind == _INT:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == _NUM:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == _STR:
        return isinstance(value, str)
    if kind == _BOOL:
        return isinstance(value, bool)
    if kind == _STRS:
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    if kind == _NUMS:
        return isinstance(value, list) and all(_is(_NUM, v) for v in value)
    if kind == _MAP:
        return isinstance(value, dict)
    if kind == _LIST:
        return isinstance(value, list)
    if kind == "then":
        return isinstance(value, (str, dict))
    if kind == "groups":
        return isinstance(value, list) and all(_is(_STRS, g) for g in value)
    if kind == _SYNC:
        return value == "always" or (_is(_NUM, value) and 0 < value < math.inf)
    if kind == _SPAN:
        return _is(_NUM, value) or (isinstance(value, dict) and set(value) in ({"min", "max"},
                                                                            {"mean"})
                                    and all(_is(_NUM, v) for v in value.values()))
    if kind == _SIZE:
        return _is(_INT, value) or (isinstance(value, dict) and set(value) == {"min", "max"}
                                    and all(_is(_INT, v) for v in value.values()))
    raise AssertionError(kind)  # pragma: no cover


#: A relative date in a scenario file: seconds from the moment the request is sent.
_RELATIVE = re.compile(r"[+-][0-9]+(\.[0-9]+)?s")

_KINDS = {"int": _INT, "float": _NUM, "bool": _BOOL, "str": _STR, "strs": _STRS,
          "floats": _NUMS, "dict": _MAP, "list": _LIST}


def _config_fields(config: type, passed_through: dict[str, str]) -> dict[str, str]:
    """The fields of a config dataclass and their types, plus fields pmesh_sim only passes on."""
    return {name: _KINDS[kind] for name, kind in config.field_kinds().items()} | passed_through


#: StreamConfig fields (nats-py names; durations in seconds) and the type each holds. The second
#: group are server fields the simulation does not model: they reach the real server unchanged,
#: and the simulation refuses them as not simulated (pmesh_sim.jetstream.surface).
STREAM_FIELDS: dict[str, str] = _config_fields(StreamConfig, {
    "template_owner": _STR, "placement": _MAP, "mirror": _MAP, "sources": _LIST,
    "first_seq": _INT, "republish": _MAP, "subject_transform": _MAP, "mirror_direct": _BOOL,
    "compression": _STR, "allow_msg_ttl": _BOOL, "allow_msg_schedules": _BOOL,
    "allow_atomic": _BOOL, "allow_batched": _BOOL, "allow_msg_counter": _BOOL,
    "persist_mode": _STR, "consumer_limits": _MAP, "subject_delete_marker_ttl": _NUM,
})

#: ConsumerConfig fields (nats-py names; durations in seconds) and the type each holds.
CONSUMER_FIELDS: dict[str, str] = _config_fields(ConsumerConfig, {
    "pause_until": _STR, "max_bytes": _INT,
})

_SUBSCRIPTION = {"name": _STR, "subject": _STR, "queue": _STR, "respond": _STR,
                 "no_echo": _BOOL, "max_msgs": _INT, "server": _STR, "record_headers": _BOOL,
                 "record_data": _BOOL}

#: What ``fetch`` may do with each message (``then``).
THEN_ACTIONS = ("ack", "ack_sync", "nak", "term", "in_progress", "ignore")

_MSG = {"subject": _STR, "data": _STR, "headers": _MAP}

#: op -> (required keys, optional keys), each key -> type. ``at`` and ``description`` are
#: allowed on every step; add_stream / update_stream / add_consumer take config fields inline.
OPS: dict[str, tuple[dict[str, str], dict[str, str]]] = {
    "publish": ({"subject": _STR}, {"data": _STR, "headers": _MAP, "reply": _STR,
                                    "from": _STR}),
    "js_publish": ({"subject": _STR}, {"data": _STR, "headers": _MAP, "timeout": _NUM,
                                       "stream": _STR}),
    "request": ({"subject": _STR}, {"data": _STR, "headers": _MAP, "timeout": _NUM}),
    "fetch": ({"consumer": _STR}, {"stream": _STR, "batch": _INT, "timeout": _NUM,
                                   "then": "then", "delay": _NUM, "background": _BOOL}),
    "fetch_result": ({"consumer": _STR}, {"stream": _STR}),
    "add_stream": ({"name": _STR}, {}),
    "update_stream": ({"name": _STR}, {}),
    "delete_stream": ({"stream": _STR}, {}),
    "purge_stream": ({"stream": _STR}, {"subject": _STR, "seq": _INT, "keep": _INT}),
    "stream_info": ({"stream": _STR}, {}),
    "stream_list": ({}, {"subject": _STR, "offset": _INT}),
    "add_consumer": ({"stream": _STR}, {"action": _STR}),
    "delete_consumer": ({"consumer": _STR}, {"stream": _STR}),
    "consumer_info": ({"consumer": _STR}, {"stream": _STR}),
    "pause_consumer": ({"consumer": _STR}, {"stream": _STR, "pause_until": _STR}),
    "reset_consumer": ({"consumer": _STR}, {"stream": _STR, "seq": _INT}),
    "subscribe": ({"name": _STR, "subject": _STR}, {"queue": _STR, "respond": _STR,
                                                     "no_echo": _BOOL, "max_msgs": _INT,
                                                     "record_headers": _BOOL,
                                                     "record_data": _BOOL}),
    "unsubscribe": ({"name": _STR}, {}),
    "wait": ({}, {}),
    "kill": ({"server": _STR}, {}),
    "restart": ({"server": _STR}, {}),
    "partition": ({"groups": "groups"}, {}),
    "heal": ({}, {}),
    "pause": ({"server": _STR}, {}),
    "resume": ({"server": _STR}, {}),
    "power_loss": ({"server": _STR}, {}),
    "stepdown": ({}, {"stream": _STR, "consumer": _STR, "meta": _BOOL, "preferred": _STR}),
    "link": ({"servers": _STRS}, {"delay": _NUM, "loss": _NUM}),
    # a stochastic publisher (pmesh_sim.experiments.workload): count js_publishes, from the seed
    "workload": ({"subject": _STR, "count": _INT, "rate": _NUM},
                 {"burst": _INT, "size": _SIZE, "msg_id": _BOOL, "timeout": _NUM}),
    # crashing workers on a pull consumer (pmesh_sim.experiments.workers), in the background
    "workers": ({"consumer": _STR, "count": _INT, "duration": _NUM},
                {"stream": _STR, "batch": _INT, "fetch_timeout": _NUM, "process": _SPAN,
                 "restart": _SPAN, "crash_before_ack": _NUM, "crash_after_ack": _NUM,
                 "ack": _STR}),
    # faults on a schedule (pmesh_sim.experiments.chaos), in the background
    "chaos": ({"every": _NUM, "duration": _NUM},
              {"down": _SPAN, "faults": _STRS, "nodes": _STRS, "gaps": _STR}),
}
#: Ops that run in the background while later steps run; their result is filled in when they
#: end (the run waits for them before reading the final state).
BACKGROUND_OPS = ("workers", "chaos")
_INLINE = {"add_stream": STREAM_FIELDS, "update_stream": STREAM_FIELDS,
           "add_consumer": CONSUMER_FIELDS}
_TOP = {"name": _STR, "description": _STR, "seed": _INT, "servers": _INT, "network": _MAP,
        "sync_interval": _SYNC, "streams": _LIST, "consumers": _LIST, "subscriptions": _LIST, "steps": _LIST}
_NETWORK = {"latency": _NUM, "loss": _NUM}


@dataclass(frozen=True)
class Step:
    """One step: its position, op, start time (seconds after the start), keys, the file's
    ``description`` of it (for the narrative; no backend reads it) and the ``server`` its
    connection starts on (``""``: the default ``steps`` connection, on n1)."""

    index: int
    op: str
    at: float
    args: dict[str, Any]
    description: str = ""
    server: str = ""


@dataclass
class Scenario:
    """A checked scenario; build it with :func:`load_scenario` or :meth:`from_dict`."""

    name: str
    description: str = ""
    seed: int = 0
    servers: int = 1
    network: dict[str, float] = field(default_factory=dict)
    #: the file store's sync interval (seconds, or ``"always"``; None: the server's 2 min);
    #: simulation only, it decides what a ``power_loss`` loses
    sync_interval: float | str | None = None
    streams: list[dict[str, Any]] = field(default_factory=list)
    consumers: list[dict[str, Any]] = field(default_factory=list)
    subscriptions: list[dict[str, Any]] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    source: str = "<dict>"
    #: Names steps use that nothing declared (they still go to the server), one line each.
    warnings: list[str] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: Any, source: str = "<dict>") -> Scenario:
        """Check ``data`` (a parsed file) and build the scenario; raises ScenarioError."""
        return _Checker(source).scenario(data)

    def placed_connections(self) -> list[tuple[str, str]]:
        """``(where, server)`` of each subscription and step whose connection names its node.

        >>> Scenario.from_dict({"name": "p", "servers": 3, "subscriptions": [
        ...     {"name": "s", "subject": "a", "server": "n3"}], "steps": [
        ...     {"op": "publish", "subject": "a", "server": "n2"}]}).placed_connections()
        [('subscriptions[0]', 'n3'), ('step 0 (publish)', 'n2')]
        """
        placed = [(f"subscriptions[{i}]", sub["server"])
                  for i, sub in enumerate(self.subscriptions) if sub.get("server")]
        return placed + [(f"step {s.index} ({s.op})", s.server) for s in self.steps if s.server]


def load_scenario(path: str | Path) -> Scenario:
    """Load and check the YAML (``.yaml``/``.yml``) or JSON file at ``path``."""
    path = Path(path)
    try:
        raw = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ScenarioError(f"{path}: cannot read the scenario file: {err.strerror}") from None
    except UnicodeDecodeError as err:
        raise ScenarioError(f"{path}: not UTF-8 text: byte {err.object[err.start]:#04x} at "
                            f"offset {err.start}") from None
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(raw)
        else:
            import yaml

            data = yaml.safe_load(raw)
    except (ValueError, ImportError) as err:  # json.JSONDecodeError and yaml.YAMLError
        raise ScenarioError(f"{path}: not valid {path.suffix.lstrip('.') or 'YAML'}: "
                            f"{str(err).splitlines()[0]}") from None
    except Exception as err:  # yaml.YAMLError does not derive from ValueError
        raise ScenarioError(f"{path}: not valid YAML: {' '.join(str(err).split())}") from None
    return Scenario.from_dict(data, source=str(path))


class _Checker(NodeChecks):
    def __init__(self, source: str):
        self.source = source
        self.servers = 1
        self.streams: set[str] = set()
        self.consumers: dict[str, set[str]] = {}  # consumer name -> streams having it
        self.subs: set[str] = set()
        self.down: dict[str, str] = {}  # node -> its state (running, killed, paused) so far
        self.warnings: list[str] = []
        self.started: dict[tuple[str, str], int] = {}   # background fetches not collected
        self.gone: set[str] = set()   # subscriptions an unsubscribe step closed

    def warn(self, where: str, key: str, problem: str):
        self.warnings.append(f"{self.source}: {where}: key '{key}': {problem}")

    def fail(self, where: str, key: str | None, problem: str):
        at = f" key '{key}':" if key is not None else ""
        raise ScenarioError(f"{self.source}: {where}:{at} {problem}")

    def keys(self, where: str, item: Any, required: dict, optional: dict, what: str) -> dict:
        if not isinstance(item, dict):
            self.fail(where, None, f"must be a map of keys, got {_show(item)}")
        for key, kind in required.items():
            if key not in item:
                self.fail(where, key, f"missing (required for {what})")
        for key, value in item.items():
            kind = required.get(key, optional.get(key))
            if kind is None:
                known = ", ".join(sorted({*required, *optional}))
                self.fail(where, key, f"unknown key for {what} (known keys: {known})")
            if not _is(kind, value):
                hint = " (quote it in YAML)" if kind == _STR and value is not None else ""
                self.fail(where, key, f"must be {kind}, got {_show(value)}{hint}")
            if kind in (_NUM, _NUMS):
                self.finite(where, key, value if kind == _NUMS else [value])
        return item

    def finite(self, where: str, key: str, numbers: list) -> None:
        """Fail on infinities, NaN, and seconds too large to count in nanoseconds."""
        for number in numbers:
            if not math.isfinite(number):
                self.fail(where, key, f"must be a finite number, got {number!r}")
            if not math.isfinite(number * 1e9):
                self.fail(where, key, f"{number!r} is too large (times are counted in "
                                      "nanoseconds: at most about 1e299 seconds)")

    def at_least(self, where: str, args: dict, key: str, low: float, above: bool = False):
        """Fail when ``args[key]`` (if given) is below ``low`` (or not above it)."""
        value = args.get(key)
        if value is not None and (value <= low if above else value < low):
            self.fail(where, key, f"must be {'more than' if above else 'at least'} {low:g}, "
                                  f"got {value!r}")

    def headers(self, where: str, headers: dict | None) -> None:
        """Header names nats-py sends (else BadHeaderError) and text values."""
        for name, value in (headers or {}).items():
            if not isinstance(name, str) or not _HEADER_NAME.fullmatch(name):
                self.fail(where, "headers", f"header name {name!r}: nats-py refuses it "
                                            "(BadHeaderError); a name is letters, digits and "
                                            "!#$%&'*+-.^_`|~")
            if not isinstance(value, str):
                self.fail(where, "headers", f"header {name!r}: the value must be text, got "
                                            f"{_show(value)} (quote it in YAML)")

    def scenario(self, data: Any) -> Scenario:
        top = self.keys("top level", data, {"name": _STR}, _TOP, "a scenario")
        if not top["name"].strip():
            self.fail("top level", "name", "must not be empty")
        if "servers" in top and top["servers"] < 1:
            self.fail("top level", "servers", f"must be 1 or more, got {top['servers']}")
        self.servers = top.get("servers", 1)
        network = self.keys("network", top.get("network", {}), {}, _NETWORK, "network")
        self.at_least("network", network, "latency", 0.0)
        self.at_least("network", network, "loss", 0.0)
        if network.get("loss", 0.0) >= 1:
            self.fail("network", "loss", f"must be a probability below 1, got {network['loss']!r}")
        streams = [self.stream(f"streams[{i}]", s) for i, s in enumerate(top.get("streams", []))]
        consumers = [self.consumer(f"consumers[{i}]", c)
                     for i, c in enumerate(top.get("consumers", []))]
        subs = [self.subscription(f"subscriptions[{i}]", s)
                for i, s in enumerate(top.get("subscriptions", []))]
        steps = []
        last_at = 0.0
        for i, raw in enumerate(top.get("steps", [])):
            step = self.step(i, raw)
            last_at = max(last_at, step.at)
            steps.append(step)
        return Scenario(name=top["name"], description=top.get("description", ""),
                        seed=top.get("seed", 0), servers=self.servers,
                        sync_interval=top.get("sync_interval"),
                        network={k: float(v) for k, v in network.items()}, streams=streams,
                        consumers=consumers, subscriptions=subs, steps=steps, source=self.source,
                        warnings=self.warnings)

    def api_name(self, where: str, key: str, value: Any, api: str) -> None:
        """Fail when a stream or consumer name cannot be a token of its API subject: nats-py
        refuses a subject with whitespace (BadSubjectError) before anything reaches the server."""
        if isinstance(value, str) and any(ch in value for ch in " \t\r\n"):
            self.fail(where, key, f"{value!r} would make an invalid API subject "
                                  f"'{api}{value}': a name can not contain whitespace (nats-py "
                                  "refuses the request before it reaches the server)")

    def stream(self, where: str, item: Any) -> dict:
        item = self.keys(where, item, {"name": _STR}, STREAM_FIELDS, "a stream (StreamConfig)")
        self.api_name(where, "name", item["name"], "$JS.API.STREAM.CREATE.")
        self.streams.add(item["name"])
        return dict(item)

    def consumer(self, where: str, item: Any, stream_key: str = "stream",
                 step: bool = False) -> dict:
        item = self.keys(where, item, {"stream": _STR}, {**CONSUMER_FIELDS, "action": _STR},
                         "a consumer (ConsumerConfig + stream, optional action)")
        self.need_stream(where, stream_key, item["stream"], step)
        self.dates(where, item, ("opt_start_time", "pause_until"))
        for key in ("durable_name", "name"):
            self.api_name(where, key, item.get(key), f"$JS.API.CONSUMER.CREATE.{item['stream']}.")
        name = item.get("durable_name") or item.get("name")
        if name:
            self.consumers.setdefault(name, set()).add(item["stream"])
        return dict(item)

    def dates(self, where: str, item: dict, keys) -> None:
        """A date written relative (``-0.5s``, ``+2s``) must be well formed."""
        for key in keys:
            value = item.get(key)
            if isinstance(value, str) and value[:1] in "+-" and not _RELATIVE.fullmatch(value):
                self.fail(where, key, f"{value!r} is neither an RFC 3339 date nor a relative "
                                      "one like '-0.5s' or '+2s' (seconds from the moment the "
                                      "request is sent)")

    def subscription(self, where: str, item: Any) -> dict:
        item = self.keys(where, item, {"name": _STR, "subject": _STR}, _SUBSCRIPTION,
                         "a subscription")
        if item["name"] in self.subs:
            self.fail(where, "name", f"subscription name '{item['name']}' is used twice")
        self.subject(where, "subject", item["subject"], validate_subject)
        self.subject(where, "queue", item.get("queue"), validate_queue)
        if "server" in item:
            self.server(where, "server", item["server"])
        if item.get("max_msgs", 1) < 1:
            self.fail(where, "max_msgs", f"must be 1 or more, got {item['max_msgs']}")
        self.subs.add(item["name"])
        return dict(item)

    def subject(self, where: str, key: str, value: Any, check) -> None:
        """Fail with the file, place and key when ``check`` (a subjects rule) refuses ``value``."""
        try:
            check(value)
        except InvalidSubjectError as err:
            self.fail(where, key, str(err))

    def need_stream(self, where: str, key: str, name: str, step: bool = False):
        """Fail when stream ``name`` was never declared; a ``step`` only warns (the server
        judges the name: 10059 stream not found)."""
        if name not in self.streams:
            problem = (f"'{name}' is neither declared under 'streams' nor created by an "
                       "earlier add_stream step")
            if not step:
                self.fail(where, key, problem)
            self.warn(where, key, problem + " (sent to the server as it is)")

    def step(self, index: int, raw: Any) -> Step:
        where = f"step {index}"
        if not isinstance(raw, dict):
            self.fail(where, None, f"must be a map of keys, got {_show(raw)}")
        if "op" not in raw:
            self.fail(where, "op", "missing (every step needs an op)")
        op = raw["op"]
        if not isinstance(op, str) or op not in OPS:
            self.fail(where, "op", f"unknown op {op!r} (known ops: {', '.join(OPS)})")
        where = f"step {index} ({op})"
        required, optional = OPS[op]
        optional = {**optional, **_INLINE.get(op, {}), "at": _NUM, "description": _STR,
                    "op": _STR}
        if op in CONNECTION_OPS:
            optional["server"] = _STR
        args = dict(self.keys(where, raw, required, optional, f"op {op}"))
        at = float(args.pop("at", 0.0))
        if at < 0:
            self.fail(where, "at", f"must be 0 or more seconds, got {at}")
        args.pop("op")
        description = args.pop("description", "")
        server = self.connection_server(where, op, args)
        self.refs(where, op, args)
        if op in FAULT_OPS:
            self.fault(where, op, args)
        return Step(index, op, at, args, description, server)

    def refs(self, where: str, op: str, args: dict):
        if op in ("publish", "js_publish", "request"):
            self.subject(where, "subject", args["subject"], check_publish_subject)
            if args.get("reply"):
                self.subject(where, "reply", args["reply"], check_publish_subject)
            self.headers(where, args.get("headers"))
        if op == "workload":
            self.workload(where, args)
        elif op == "workers":
            args["stream"] = self.consumer_stream(where, args)
            self.workers(where, args)
        elif op == "chaos":
            self.chaos(where, args)
        if op in ("js_publish", "request", "fetch", "workload"):
            self.at_least(where, args, "timeout", 0.0, above=True)
        if op == "fetch":
            self.at_least(where, args, "batch", 1)
        if "from" in args and (args["from"] not in self.subs or args["from"] in self.gone):
            self.fail(where, "from", f"'{args['from']}' is neither declared under "
                                     "'subscriptions' nor created by an earlier subscribe step")
        if op in ("add_stream",):
            self.api_name(where, "name", args["name"], "$JS.API.STREAM.CREATE.")
            self.streams.add(args["name"])
        elif op == "update_stream":
            self.need_stream(where, "name", args["name"], step=True)
        elif op in ("delete_stream", "purge_stream", "stream_info"):
            self.need_stream(where, "stream", args["stream"], step=True)
        elif op == "stepdown":
            self.stepdown(where, args)
        elif op == "add_consumer":
            self.consumer(where, args, step=True)
        elif op in ("fetch", "fetch_result"):
            args["stream"] = self.consumer_stream(where, args)
            self.background(where, op, args)
        elif op in ("delete_consumer", "consumer_info", "pause_consumer", "reset_consumer"):
            args["stream"] = self.consumer_stream(where, args, step=True)
        elif op == "subscribe":
            self.subscription(where, args)
        elif op == "unsubscribe" and args["name"] not in self.subs:
            self.fail(where, "name", f"'{args['name']}' is neither declared under "
                                     "'subscriptions' nor created by an earlier subscribe step")
        elif op == "unsubscribe" and args["name"] in self.gone:
            self.fail(where, "name", f"'{args['name']}' was already unsubscribed by an earlier "
                                     "step")
        elif op == "unsubscribe":
            self.gone.add(args["name"])
        if op == "fetch":
            self.then(where, args)
        if op == "pause_consumer":
            self.dates(where, args, ("pause_until",))

    def workload(self, where: str, args: dict) -> None:
        """A workload's subject (``{i}`` filled in), counts, rate and payload sizes."""
        self.subject(where, "subject", args["subject"].replace("{i}", "0"),
                     check_publish_subject)
        self.at_least(where, args, "count", 1)
        self.at_least(where, args, "burst", 1)
        self.at_least(where, args, "rate", 0.0, above=True)
        size = args.get("size", 0)
        low, high = (size["min"], size["max"]) if isinstance(size, dict) else (size, size)
        if low < 0 or high < low:
            self.fail(where, "size", f"must be 0 or more bytes, min at most max, got {size!r}")

    def span(self, where: str, args: dict, key: str) -> None:
        """Seconds, ``{min, max}`` or ``{mean}``: none below 0, min at most max."""
        value = args.get(key)
        low, high = ((value["min"], value["max"]) if isinstance(value, dict) and "min" in value
                     else (value.get("mean"),) * 2 if isinstance(value, dict) else (value, value))
        if value is not None and (low < 0 or high < low):
            self.fail(where, key, f"must be 0 or more seconds, min at most max, got {value!r}")

    def workers(self, where: str, args: dict) -> None:
        """Worker counts, times, crash probabilities and the ack order."""
        self.at_least(where, args, "count", 1)
        self.at_least(where, args, "batch", 1)
        self.at_least(where, args, "duration", 0.0, above=True)
        self.at_least(where, args, "fetch_timeout", 0.0, above=True)
        for key in ("process", "restart"):
            self.span(where, args, key)
        for key in ("crash_before_ack", "crash_after_ack"):
            if not 0.0 <= args.get(key, 0.0) <= 1.0:
                self.fail(where, key, f"must be a probability in [0, 1], got {args[key]!r}")
        if args.get("ack", "last") not in ("first", "last"):
            self.fail(where, "ack", f"must be 'last' (process, then ack) or 'first' (ack, then "
                                    f"process), got {args['ack']!r}")

    def chaos(self, where: str, args: dict) -> None:
        """A fault schedule needs a cluster, known running nodes and positive times."""
        from .experiments.chaos import CHAOS_FAULTS

        if self.servers < 2:
            self.fail(where, "op", f"a fault schedule needs a cluster: this scenario has "
                                   f"servers: {self.servers} (give servers: 3)")
        self.at_least(where, args, "every", 0.0, above=True)
        self.at_least(where, args, "duration", 0.0, above=True)
        self.span(where, args, "down")
        if args.get("faults") == []:
            self.fail(where, "faults", f"give at least one of {', '.join(CHAOS_FAULTS)}")
        for kind in args.get("faults", []):
            if kind not in CHAOS_FAULTS:
                self.fail(where, "faults", f"unknown fault {kind!r} (a list of "
                                           f"{', '.join(CHAOS_FAULTS)})")
        if args.get("gaps", "fixed") not in ("fixed", "exponential"):
            self.fail(where, "gaps", f"must be 'fixed' or 'exponential', got {args['gaps']!r}")
        nodes = args.get("nodes", [f"n{i}" for i in range(1, self.servers + 1)])
        if not nodes or len(set(nodes)) != len(nodes):
            self.fail(where, "nodes", f"give each node once, at least one, got {nodes!r}")
        for name in nodes:
            self.server(where, "nodes", name)
            if self.down.get(name, "running") != "running":
                self.fail(where, "nodes", f"{name} is {self.down[name]} at this step: a fault "
                                          "schedule starts on running nodes")

    def background(self, where: str, op: str, args: dict) -> None:
        """Pair each ``fetch_result`` with an earlier ``fetch`` of the same consumer made with
        ``background: true`` (first started, first collected)."""
        key = (args["stream"], args["consumer"])
        if op == "fetch" and args.get("background"):
            self.started[key] = self.started.get(key, 0) + 1
        elif op == "fetch_result":
            if not self.started.get(key):
                self.fail(where, "consumer", f"no earlier fetch of '{args['consumer']}' with "
                                             "background: true is left to collect")
            self.started[key] -= 1

    def consumer_stream(self, where: str, args: dict, step: bool = False) -> str:
        """The stream of the consumer a step names. A ``fetch`` needs a declared consumer;
        other steps only warn about an undeclared one (the server answers 10059 or 10014),
        taking the scenario's only stream when the step gives none."""
        name, stream = args["consumer"], args.get("stream")
        streams = self.consumers.get(name, set())
        report = self.warn if step else self.fail
        if stream is not None:
            self.need_stream(where, "stream", stream, step)
            if stream not in streams and stream in self.streams:
                report(where, "consumer", f"'{name}' is neither declared under 'consumers' for "
                                          f"stream '{stream}' nor created by an earlier "
                                          "add_consumer step" + _SENT * step)
            return stream
        if not streams:
            problem = (f"'{name}' is neither declared under 'consumers' nor created by an "
                       "earlier add_consumer step")
            if not step or len(self.streams) != 1:
                more = "; add 'stream' to ask the server anyway" if step else ""
                self.fail(where, "consumer", problem + more)
            stream = next(iter(self.streams))
            self.warn(where, "consumer", f"{problem} (asking stream '{stream}', the only one)")
            return stream
        if len(streams) > 1:
            self.fail(where, "consumer", f"'{name}' exists on streams {sorted(streams)}: add "
                                         "'stream' to say which")
        return next(iter(streams))

    def then(self, where: str, args: dict):
        then = args.get("then", "ack")
        if isinstance(then, str):
            if then not in THEN_ACTIONS:
                self.fail(where, "then", f"unknown action {then!r} (one of "
                                         f"{', '.join(THEN_ACTIONS)}, or a map seq -> action)")
            return
        actions = {}
        for seq, action in then.items():
            try:
                number = int(seq)
            except (TypeError, ValueError):
                number = None
            if number is None or isinstance(seq, bool) or number < 1:
                self.fail(where, "then", f"map keys must be stream sequences (1, 2, ...), got "
                                         f"{seq!r}")
            if action not in THEN_ACTIONS:
                self.fail(where, "then", f"unknown action {action!r} for sequence {number} "
                                         f"(one of {', '.join(THEN_ACTIONS)})")
            actions[number] = action
        args["then"] = actions


_SENT = " (sent to the server as it is)"
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")   # nats-py's _HEADER_KEY_RE


def _show(value: Any) -> str:
    kind = {dict: "map", list: "list", str: "text", bool: "true/false", type(None): "nothing",
            int: "integer", float: "number"}.get(type(value), type(value).__name__)
    return f"{value!r} ({kind})"


# ---------------------------------------------------------------------------------------------
# the result document


def text(data: bytes | str | None) -> str:
    """Payload bytes as text (UTF-8; undecodable bytes replaced).

    >>> text(b"caf\\xc3\\xa9"), text(None)
    ('café', '')
    """
    if data is None:
        return ""
    if isinstance(data, str):
        return data
    return bytes(data).decode("utf-8", "replace")


def outcome(kind: str) -> dict:
    """An outcome that is not data: ``sent``, ``no_responders``, ``timeout``, ``unsupported``...

    >>> outcome("sent")
    {'outcome': 'sent'}
    """
    return {"outcome": kind}


def error_result(err: Any) -> dict:
    """``{"error": {code, err_code, description}}`` from any error object carrying them.

    Works for nats-py's ``APIError``, pmesh_sim's ``JetStreamError`` or a plain dict.

    >>> error_result({"code": 404, "err_code": 10059, "description": "stream not found"})
    {'error': {'code': 404, 'err_code': 10059, 'description': 'stream not found'}}
    """
    get = err.get if isinstance(err, dict) else lambda k: getattr(err, k, None)
    return {"error": {"code": int(get("code") or 0), "err_code": int(get("err_code") or 0),
                      "description": str(get("description") or "")}}


def pub_ack(stream: str, seq: int, duplicate: bool | None) -> dict:
    """A publish ack: ``{"stream", "seq", "duplicate"}``."""
    return {"stream": stream, "seq": int(seq), "duplicate": bool(duplicate)}


def fetched_message(subject: str, data: Any, stream_seq: int, consumer_seq: int,
                    num_delivered: int) -> dict:
    """One message a ``fetch`` returned."""
    return {"subject": subject, "data": text(data), "stream_seq": int(stream_seq),
            "consumer_seq": int(consumer_seq), "num_delivered": int(num_delivered)}


def received_message(subject: str, data: Any, headers: dict | None = None,
                     record_headers: bool = False, record_data: bool = True) -> dict:
    """One message a core subscription received; with ``record_headers`` its headers too (a
    status as nats-py reads it: ``Status`` and ``Description``); without ``record_data`` the
    payload's ``size`` in bytes instead of its text.

    >>> received_message("r", b"", {"Status": "204", "Nats-Num-Pending": "0"}, True)
    {'subject': 'r', 'data': '', 'headers': {'Status': '204', 'Nats-Num-Pending': '0'}}
    >>> received_message("r", b"12345", record_data=False)
    {'subject': 'r', 'size': 5}
    """
    out = {"subject": subject, **({"data": text(data)} if record_data else
                                  {"size": len(data)})}
    if record_headers:   # nats-py's keys may be str enums (Header.DESCRIPTION)
        out["headers"] = {getattr(k, "value", k): v for k, v in (headers or {}).items()}
    return out


def _get(obj: Any, key: str, default: Any = None) -> Any:
    if isinstance(obj, dict):
        return obj.get(key, default)
    value = getattr(obj, key, default)
    return default if value is None else value


STREAM_STATE_FIELDS = ("messages", "bytes", "first_seq", "last_seq", "num_subjects",
                       "num_deleted", "consumer_count")
CONSUMER_INFO_FIELDS = ("delivered", "ack_floor", "num_ack_pending", "num_redelivered",
                        "num_pending", "num_waiting")


def stream_state(state: Any) -> dict:
    """A stream's state, flat: the server's ``state`` object (dict or object) -> result fields.

    Accepts a whole stream info too (its ``state`` is used).
    """
    info = state
    if _get(state, "state") is not None and _get(state, "messages") is None:
        state = _get(state, "state")
    out = {key: int(_get(state, key, 0) or 0) for key in STREAM_STATE_FIELDS}
    if _get(info, "mirror"):
        out["mirror"] = source_info(_get(info, "mirror"))
    if _get(info, "sources"):
        # the server lists them from a Go map (any order): sorted by name and filter here
        out["sources"] = sorted((source_info(s) for s in _get(info, "sources")),
                                key=lambda s: (s["name"], s.get("filter_subject", ""),
                                               json.dumps(s.get("subject_transforms", []))))
    return out


def source_info(info: Any) -> dict:
    """A mirror's or source's info in a result: ``name``, ``lag``, ``seq`` (a source's last
    origin sequence, when it has one), ``active`` (whether it has heard from its origin: the
    server's duration since then is wall-clock time) and its filters, when set.

    >>> source_info({"name": "O", "lag": 0, "seq": 4, "active": 302942044,
    ...              "filter_subject": "o.1"})
    {'name': 'O', 'lag': 0, 'seq': 4, 'active': True, 'filter_subject': 'o.1'}
    """
    out = {"name": str(_get(info, "name", "")), "lag": int(_get(info, "lag", 0) or 0)}
    if _get(info, "seq"):
        out["seq"] = int(_get(info, "seq"))
    active = _get(info, "active", -1)
    out["active"] = active is not None and active >= 0
    if _get(info, "filter_subject"):
        out["filter_subject"] = _get(info, "filter_subject")
    transforms = _get(info, "subject_transforms")
    if transforms:
        out["subject_transforms"] = [{"src": _get(t, "src", "") or "",
                                      "dest": _get(t, "dest", "") or ""} for t in transforms]
    return out


def _seq_info(info: Any) -> dict:
    return {"consumer_seq": int(_get(info, "consumer_seq", 0) or 0),
            "stream_seq": int(_get(info, "stream_seq", 0) or 0)}


def consumer_info(info: Any) -> dict:
    """The consumer info fields of a result, from the server's info (dict or object).

    >>> consumer_info({"name": "w", "delivered": {"consumer_seq": 2, "stream_seq": 5,
    ...                "last_active": "..."}, "num_pending": 1})["delivered"]
    {'consumer_seq': 2, 'stream_seq': 5}
    """
    out = {"delivered": _seq_info(_get(info, "delivered", {})),
           "ack_floor": _seq_info(_get(info, "ack_floor", {})),
           **{key: int(_get(info, key, 0) or 0) for key in CONSUMER_INFO_FIELDS[2:]}}
    if _get(info, "paused"):   # only while paused, so results without a pause keep their shape
        out["paused"] = True
    return out


def result_document(scenario: Scenario, *, backend: str, seed: int, servers: int,
                    steps: list[dict], subscriptions: dict[str, list[dict]],
                    final: dict, setup: list[dict] | None = None,
                    trace: str | None = None) -> dict:
    """The whole result document. ``steps`` holds ``{"index", "op", "result"}`` records.

    Besides the keys of the format, ``queues`` maps each queue-group subscription to its queue
    name, so that comparison can treat the group as one receiver; ``setup`` holds the result
    of creating each declared stream and consumer.
    """
    queues = {}
    for sub in scenario.subscriptions + [s.args for s in scenario.steps if s.op == "subscribe"]:
        if sub.get("queue"):
            queues[sub["name"]] = sub["queue"]
    doc = {"scenario": scenario.name, "backend": backend, "seed": seed, "servers": servers,
           "steps": steps, "subscriptions": subscriptions, "queues": queues, "final": final,
           "setup": setup or []}
    if trace is not None:
        doc["trace"] = trace
    return doc


def step_record(step: Step, result: dict) -> dict:
    """One entry of ``steps`` in the result document."""
    return {"index": step.index, "op": step.op, "result": result}


def dumps_result(doc: dict) -> str:
    """The result document as JSON text with sorted keys: equal results give equal text."""
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"

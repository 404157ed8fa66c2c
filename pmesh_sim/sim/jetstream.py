"""The client's JetStream context, with nats-py's names; every awaitable is a SimPy event.

``js = client.jetstream()``; inside a process, ``ack = yield js.publish("orders.1", b"x")``. A
failed event raises what nats-py would: :class:`JetStreamError` (by ``err_code``),
:class:`NoStreamResponseError`, :class:`TimeoutError`.
"""

from __future__ import annotations

import datetime
import json
from collections import deque
from dataclasses import dataclass
from typing import Any

from pmesh_sim.config import AckPolicy, ConsumerConfig, StreamConfig
from pmesh_sim.subjects import check_publish_subject
from pmesh_sim.jetstream.surface import NOT_SIMULATED_HEADER
from pmesh_sim.errors import (ConfigError, JetStreamError, NatsError, NoRespondersError,
                              NoStreamResponseError, NotSimulatedError, TimeoutError)

__all__ = ["JetStreamContext", "PubAck", "StreamInfo", "ConsumerInfo", "SequenceInfo",
           "PullSubscription"]

NS = 1_000_000_000


@dataclass(frozen=True)
class PubAck:
    """A publish ack: the stream, the sequence, and whether it was a duplicate (False for a
    first publish, as nats-py's ``PubAck`` after the server's ack without the key)."""

    stream: str
    seq: int
    duplicate: bool = False


@dataclass(frozen=True)
class SequenceInfo:
    consumer_seq: int
    stream_seq: int
    last_active: datetime.datetime | None = None   # when it last moved (nats-py: UTC)

    @classmethod
    def from_response(cls, resp: dict) -> SequenceInfo:
        at = resp.get("last_active")
        if at is not None:
            from pmesh_sim.jetstream.stream import parse_rfc3339

            at = datetime.datetime.fromtimestamp(parse_rfc3339(at) // 1000 / 1e6,
                                                 datetime.timezone.utc)
        return cls(resp["consumer_seq"], resp["stream_seq"], at)


@dataclass
class StreamState:
    messages: int
    bytes: int
    first_seq: int
    last_seq: int
    consumer_count: int
    num_subjects: int = 0
    num_deleted: int = 0


@dataclass
class StreamInfo:
    config: StreamConfig
    state: StreamState
    did_create: bool | None = None
    #: the server's ``StreamSourceInfo`` of a mirror (``name``, ``lag``, ``active`` in ns,
    #: -1 before it heard from its origin, filters) / of each source (also ``seq``)
    mirror: dict | None = None
    sources: list[dict] | None = None

    @classmethod
    def from_response(cls, resp: dict) -> StreamInfo:
        st = resp["state"]
        state = StreamState(st["messages"], st["bytes"], st["first_seq"], st["last_seq"],
                            st["consumer_count"], st.get("num_subjects", 0),
                            st.get("num_deleted", 0))
        return cls(StreamConfig.from_wire(resp["config"]), state, resp.get("did_create"),
                   resp.get("mirror"), resp.get("sources"))


@dataclass
class ConsumerInfo:
    name: str
    stream_name: str
    config: ConsumerConfig
    delivered: SequenceInfo
    ack_floor: SequenceInfo
    num_ack_pending: int
    num_redelivered: int
    num_waiting: int
    num_pending: int

    @classmethod
    def from_response(cls, resp: dict) -> ConsumerInfo:
        return cls(resp["name"], resp["stream_name"], ConsumerConfig.from_wire(resp["config"]),
                   SequenceInfo.from_response(resp["delivered"]),
                   SequenceInfo.from_response(resp["ack_floor"]),
                   resp["num_ack_pending"], resp["num_redelivered"], resp["num_waiting"],
                   resp["num_pending"])


def _config(cls, config, params):
    if config is None:
        return cls.from_dict(params) if params else None
    if params:
        return config.replace(**{k: cls._coerce(k, v) for k, v in params.items()})
    return config


class JetStreamContext:
    """nats-py's ``JetStreamContext`` over a simulated :class:`~pmesh_sim.sim.client.Client`."""

    def __init__(self, client, timeout: float = 5.0, prefix: str = "$JS.API",
                 publish_async_max_pending: int = 4000):
        if (isinstance(publish_async_max_pending, bool)
                or not isinstance(publish_async_max_pending, int) or publish_async_max_pending < 1):
            raise ConfigError(f"publish_async_max_pending={publish_async_max_pending!r}: "
                              "give an int >= 1")
        self._nc = client
        self._env = client.env
        self._timeout = timeout
        self._prefix = prefix
        self._max_pending = publish_async_max_pending
        self._async_prefix: str | None = None
        self._async_futures: dict[str, Any] = {}
        self._async_completed: list = []        # events waiting for publish_async_completed
        self._async_checked: set[str] = set()   # subjects already checked

    # ------------------------------------------------------------------ plumbing
    def _process(self, gen):
        return self._env.process(gen)

    def _api_gen(self, subject: str, body: Any = None, timeout: float | None = None):
        data = b"" if body is None else json.dumps(body).encode()
        msg = yield self._nc.request(f"{self._prefix}.{subject}", data,
                                     timeout=timeout or self._timeout)
        _refused(msg)
        resp = json.loads(msg.data)
        if "error" in resp:
            raise JetStreamError.from_dict(resp["error"])
        return resp

    def _api(self, subject, body=None, wrap=None):
        def gen():
            resp = yield from self._api_gen(subject, body)
            return wrap(resp) if wrap else resp
        return self._process(gen())

    # ------------------------------------------------------------------- streams
    def add_stream(self, config: StreamConfig | None = None, **params):
        """Create a stream: an event whose value is its :class:`StreamInfo`."""
        cfg = _config(StreamConfig, config, params)
        if cfg is None:
            raise ConfigError("add_stream: give config=StreamConfig(...) or name=...")
        return self._api(f"STREAM.CREATE.{cfg.name}", cfg.to_wire(), StreamInfo.from_response)

    def update_stream(self, config: StreamConfig | None = None, **params):
        cfg = _config(StreamConfig, config, params)
        return self._api(f"STREAM.UPDATE.{cfg.name}", cfg.to_wire(), StreamInfo.from_response)

    def delete_stream(self, name: str):
        return self._api(f"STREAM.DELETE.{name}", None, lambda r: r["success"])

    def purge_stream(self, name: str, subject: str | None = None, seq: int | None = None,
                     keep: int | None = None):
        body = {k: v for k, v in (("filter", subject), ("seq", seq), ("keep", keep)) if v}
        return self._api(f"STREAM.PURGE.{name}", body, lambda r: r["success"])

    def stream_info(self, name: str):
        return self._api(f"STREAM.INFO.{name}", None, StreamInfo.from_response)

    def get_msg(self, stream_name: str, seq: int | None = None, subject: str | None = None):
        """The stored message: an event whose value is a dict (subject, seq, data, headers)."""
        import base64

        body = {"seq": seq} if seq else {"last_by_subj": subject}

        def wrap(resp):
            m = resp["message"]
            out = {"subject": m["subject"], "seq": m["seq"],
                   "data": base64.b64decode(m.get("data", "")), "headers": None}
            if m.get("hdrs"):
                lines = base64.b64decode(m["hdrs"]).decode().split("\r\n")[1:]
                out["headers"] = dict(line.split(": ", 1) for line in lines if ": " in line)
            return out
        return self._api(f"STREAM.MSG.GET.{stream_name}", body, wrap)

    def delete_msg(self, stream_name: str, seq: int):
        return self._api(f"STREAM.MSG.DELETE.{stream_name}", {"seq": seq}, lambda r: r["success"])

    # ----------------------------------------------------------------- consumers
    def add_consumer(self, stream: str, config: ConsumerConfig | None = None, **params):
        cfg = _config(ConsumerConfig, config, params) or ConsumerConfig()
        body = {"stream_name": stream, "config": cfg.to_wire()}
        if cfg.name:
            subject = f"CONSUMER.CREATE.{stream}.{cfg.name}"
            if cfg.filter_subject and cfg.filter_subject != ">":
                subject += f".{cfg.filter_subject}"
        elif cfg.durable_name:
            subject = f"CONSUMER.DURABLE.CREATE.{stream}.{cfg.durable_name}"
        else:
            subject = f"CONSUMER.CREATE.{stream}"
        return self._api(subject, body, ConsumerInfo.from_response)

    def delete_consumer(self, stream: str, consumer: str):
        return self._api(f"CONSUMER.DELETE.{stream}.{consumer}", None, lambda r: r["success"])

    def consumer_info(self, stream: str, consumer: str):
        return self._api(f"CONSUMER.INFO.{stream}.{consumer}", None, ConsumerInfo.from_response)

    def find_stream_name_by_subject(self, subject: str):
        def gen():
            resp = yield from self._api_gen("STREAM.NAMES", {"subject": subject})
            if not resp.get("streams"):
                raise JetStreamError("no stream matches subject", code=404, err_code=10059)
            return resp["streams"][0]
        return self._process(gen())

    # ------------------------------------------------------------------ publish
    def publish(self, subject: str, payload: bytes = b"", timeout: float | None = None,
                stream: str | None = None, headers: dict | None = None):
        """Publish and wait for the stream's ack: an event whose value is a :class:`PubAck`."""
        if headers is not None and not isinstance(headers, dict):
            raise ConfigError(f"headers={headers!r}: give a dict of str -> str")
        hdrs = dict(headers or {})
        if stream is not None:
            hdrs["Nats-Expected-Stream"] = stream

        def gen():
            request = self._nc.request(subject, payload, timeout=timeout or self._timeout,
                                       headers=hdrs or None)
            try:
                msg = yield request
            except NoRespondersError:
                raise NoStreamResponseError(
                    f"publish to {subject!r}: no stream covers this subject") from None
            _refused(msg)
            resp = json.loads(msg.data)
            self._trace_pub_ack(request.msg_id, resp)
            if "error" in resp:
                raise JetStreamError.from_dict(resp["error"])
            return PubAck(resp["stream"], resp["seq"], bool(resp.get("duplicate")))
        return self._process(gen())

    def publish_async(self, subject: str, payload: bytes = b"", stream: str | None = None,
                      headers: dict | None = None):
        """Publish now and return at once an event whose value is the :class:`PubAck` (nats-py's
        ``publish_async``: the acks come to one ``_INBOX.<nuid>.*`` subscription; no timeout).

        At most ``publish_async_max_pending`` (4000) may be in flight: where nats-py would stall,
        this raises :class:`NatsError`; ``yield js.publish_async_completed()`` first.
        """
        nc = self._nc
        if self._async_prefix is None:
            self._async_prefix = f"{nc.new_inbox()}."
            self._async_nuid = _Nuid(nc.sim.rng)
            nc.subscribe(self._async_prefix + "*", cb=self._on_async_reply)
        futures = self._async_futures
        if len(futures) >= self._max_pending:
            raise NatsError(f"publish_async to {subject!r}: {len(futures)} async publishes are "
                            "already waiting for their acks (publish_async_max_pending); "
                            "yield js.publish_async_completed() first")
        if stream is not None:
            if headers is not None and not isinstance(headers, dict):
                raise ConfigError(f"headers={headers!r}: give a dict of str -> str")
            headers = dict(headers or {})
            headers["Nats-Expected-Stream"] = stream
        token = self._async_nuid.next()
        event = self._env.event()
        if subject not in self._async_checked:       # a str's validity never changes
            check_publish_subject(subject)
            if len(self._async_checked) >= 4096:
                self._async_checked.clear()
            self._async_checked.add(subject)
        msg_id = nc._publish(subject, payload, self._async_prefix + token, headers, checked=True)
        futures[token] = (event, subject, msg_id)
        return event

    def publish_async_pending(self) -> int:
        """How many async publishes still wait for their ack."""
        return len(self._async_futures)

    def publish_async_completed(self):
        """An event that succeeds once no async publish waits for its ack any more."""
        event = self._env.event()
        if self._async_futures:
            self._async_completed.append(event)
        else:
            event.succeed()
        return event

    def _on_async_reply(self, msg) -> None:
        token = msg.subject[len(self._async_prefix):]
        entry = self._async_futures.pop(token, None)
        if entry is None:
            return
        event, subject, msg_id = entry
        headers = msg.headers
        if headers and headers.get("Status") == "503":
            event.fail(NoStreamResponseError(
                f"publish_async to {subject!r}: no stream covers this subject"))
        elif headers and NOT_SIMULATED_HEADER in headers:
            event.fail(NotSimulatedError(headers[NOT_SIMULATED_HEADER]))
        else:
            ack = _plain_pub_ack(msg.data)
            if ack is not None:
                nc = self._nc
                trace = nc._trace
                if trace.enabled:       # a row, as Trace.record allows
                    trace.record(nc.env._now, "pub_ack", (
                        _PUB_ACK_KEYS, nc.server.name, nc.name, msg_id, ack.stream, ack.seq,
                        False))
                event.succeed(ack)
            else:
                resp = json.loads(msg.data)
                self._trace_pub_ack(msg_id, resp)
                if "error" in resp:
                    event.fail(JetStreamError.from_dict(resp["error"]))
                else:
                    event.succeed(PubAck(resp["stream"], resp["seq"], bool(resp.get("duplicate"))))
        if not self._async_futures and self._async_completed:
            waiting, self._async_completed = self._async_completed, []
            for done in waiting:
                done.succeed()

    def _trace_pub_ack(self, msg_id: int, resp: dict) -> None:
        """The client-layer ``pub_ack`` record of the publish ``msg_id`` (its answer ``resp``)."""
        nc = self._nc
        if "error" in resp:
            fields = {"err_code": resp["error"].get("err_code")}
        else:
            fields = {"stream": resp.get("stream"), "stream_seq": resp.get("seq"),
                      "duplicate": bool(resp.get("duplicate"))}
        nc._trace.emit("pub_ack", node=nc.server.name, client=nc.name, msg_id=msg_id, **fields)

    # -------------------------------------------------------------- subscribing
    def pull_subscribe(self, subject: str, durable: str | None = None, stream: str | None = None,
                       config: ConsumerConfig | None = None):
        """Bind to (or create) a pull consumer: an event whose value is a :class:`PullSubscription`."""
        def gen():
            name = stream
            if name is None:
                name = yield self.find_stream_name_by_subject(subject)
            info = None
            if durable:
                try:
                    info = yield self.consumer_info(name, durable)
                except JetStreamError as err:
                    if err.err_code != 10014:
                        raise
            if info is None:
                cfg = config or ConsumerConfig()
                cfg = cfg.replace(durable_name=durable or cfg.durable_name,
                                  filter_subject=cfg.filter_subject or subject,
                                  ack_policy=cfg.ack_policy or AckPolicy.EXPLICIT)
                info = yield self.add_consumer(name, cfg)
            return PullSubscription(self, name, info.name)
        return self._process(gen())

    def pull_subscribe_bind(self, durable: str | None = None, stream: str | None = None, *,
                            name: str | None = None):
        """Bind to an existing pull consumer without asking the server, as nats-py's does: an
        event whose value is a :class:`PullSubscription` (a missing consumer shows at fetch)."""
        consumer = durable or name
        if not consumer or not stream:
            raise ConfigError("pull_subscribe_bind: give the consumer (durable= or name=) and "
                              "its stream=")
        return self._nc.env.timeout(0, value=PullSubscription(self, stream, consumer))

    def subscribe(self, subject: str, durable: str | None = None, cb=None,
                  manual_ack: bool = False, stream: str | None = None,
                  config: ConsumerConfig | None = None, deliver_policy=None):
        """A push consumer delivering to a fresh inbox: an event whose value is the
        :class:`~pmesh_sim.sim.client.Subscription`. Without ``manual_ack`` each message is
        acked after ``cb`` returns (a plain function) as nats-py does."""
        nc = self._nc

        def gen():
            name = stream
            if name is None:
                name = yield self.find_stream_name_by_subject(subject)
            inbox = nc.new_inbox()
            handler = cb
            if cb is not None and not manual_ack:
                def handler(msg):
                    cb(msg)
                    if not msg._ackd:
                        msg.ack()
            sub = nc.subscribe(inbox, cb=handler)
            sub._control = PushControl(nc)
            cfg = config or ConsumerConfig()
            changes = {"durable_name": durable or cfg.durable_name, "deliver_subject": inbox,
                       "filter_subject": cfg.filter_subject or subject}
            if deliver_policy is not None:
                changes["deliver_policy"] = deliver_policy
            cfg = cfg.replace(**changes)
            yield self.add_consumer(name, cfg)
            return sub
        return self._process(gen())


class PushControl:
    """What nats-py does with a JetStream push subscription's control messages (status 100
    without payload): they never reach the application; a "FlowControl Request" is answered
    (an empty message to its reply subject) once the application has taken every message that
    came before it; an idle heartbeat naming a stalled request (``Nats-Consumer-Stalled``) is
    answered at once.

    >>> sent = []
    >>> class Nc:
    ...     def publish(self, subject, payload=b""): sent.append(subject)
    >>> class M:
    ...     def __init__(self, data, headers=None, reply=""):
    ...         self.data, self.headers, self.reply = data, headers, reply
    >>> pc = PushControl(Nc())
    >>> pc(M(b"x")), pc(M(b"", {"Status": "100", "Description": "FlowControl Request"}, "fc.1"))
    (False, True)
    >>> sent          # the message before it is not taken yet
    []
    >>> pc.took(); sent
    ['fc.1']
    """

    def __init__(self, nc):
        self._nc = nc
        self._received = 0      # data messages that arrived
        self._taken = 0         # ... and that the application took
        self._due: deque = deque()   # (data messages before it, reply) of unanswered requests

    def __call__(self, msg) -> bool:
        headers = msg.headers
        if msg.data or not headers or headers.get("Status") != "100":
            self._received += 1
            return False
        description = headers.get("Description", "")
        if description.startswith("Flow") and msg.reply:
            self._due.append((self._received, msg.reply))
            self._answer()
        elif description.startswith("Idle") and headers.get("Nats-Consumer-Stalled"):
            self._nc.publish(headers["Nats-Consumer-Stalled"], b"")
        return True

    def took(self) -> None:
        """The application took one more message."""
        self._taken += 1
        self._answer()

    def _answer(self) -> None:
        while self._due and self._due[0][0] <= self._taken:
            self._nc.publish(self._due.popleft()[1], b"")


class PullSubscription:
    """A pull subscription bound to one consumer; ``fetch`` as nats-py's."""

    def __init__(self, js: JetStreamContext, stream: str, consumer: str):
        self._js, self._nc = js, js._nc
        self.stream, self.consumer = stream, consumer
        self._inbox = self._nc.new_inbox()
        self._sub = self._nc.subscribe(self._inbox)
        self._subject = f"{js._prefix}.CONSUMER.MSG.NEXT.{stream}.{consumer}"

    def consumer_info(self):
        return self._js.consumer_info(self.stream, self.consumer)

    def unsubscribe(self):
        self._sub.unsubscribe()

    def fetch(self, batch: int = 1, timeout: float | None = 5.0):
        """An event whose value is a list of up to ``batch`` messages; fails with TimeoutError
        when nothing came within ``timeout``, and with NoRespondersError at once when the
        consumer does not exist (no responders: nats-py raises ServiceUnavailableError)."""
        if batch < 1:
            raise ConfigError(f"fetch batch={batch!r}: give an int >= 1")
        return self._js._process(self._fetch(batch, timeout or 5.0))

    def _next(self, timeout):
        try:
            msg = yield self._sub.next_msg(timeout=max(timeout, 1e-9))
        except TimeoutError:
            return None
        return msg

    def _collect(self, batch, deadline):
        """Messages until ``batch``, a status, or ``deadline``; returns (msgs, ended_by_status)."""
        env = self._nc.env
        msgs = []
        while len(msgs) < batch:
            if self._sub._pending:              # already here: no timer, no wake-up
                msg = self._sub._take()
            else:
                if env.now >= deadline:
                    break
                msg = yield from self._next(deadline - env.now)
                if msg is None:
                    break
            if msg.headers:              # a refusal or a status carries headers
                _refused(msg)
                if _is_status(msg):
                    code = msg.headers["Status"]
                    if code in ("404", "408", "409"):
                        return msgs, True
                    if code == "503":   # nats-py raises ServiceUnavailableError here
                        raise NoRespondersError(
                            f"fetch from {self.consumer!r}: nobody answers "
                            f"{self._subject} (the consumer does not exist on stream "
                            f"{self.stream!r})")
                    continue
            msgs.append(msg)
        return msgs, False

    def _drain(self, batch):
        """Messages left in the inbox by an earlier fetch (statuses dropped), as nats-py."""
        msgs = []
        while self._sub._pending and len(msgs) < batch:
            msg = self._sub._take()
            if not _is_status(msg):
                msgs.append(msg)
        return msgs

    def _fetch(self, batch, timeout):
        """nats-py 2.16's fetch: batch 1 is one lingering request with ``expires``; batch > 1
        first asks with ``no_wait`` (and ``expires`` when nothing was left over), returns what
        that yields, and only if nothing came sends a lingering request for the time left."""
        env = self._nc.env
        deadline = env.now + timeout
        expires = int(timeout * NS) - 100_000
        msgs = self._drain(batch)
        if batch == 1:
            if msgs:
                return msgs
            self._request({"batch": 1, "expires": expires})
            got, _ = yield from self._collect(1, deadline)
            if not got:
                raise TimeoutError(f"fetch from {self.consumer!r}: no message within {timeout} s")
            return got
        needed = batch - len(msgs)
        if needed == 0:
            return msgs
        req = {"batch": needed}
        if not msgs:
            req["expires"] = expires
        req["no_wait"] = True
        self._request(req)
        got, _ = yield from self._collect(needed, deadline)
        msgs.extend(got)
        if msgs:
            return msgs
        left = deadline - env.now
        remaining = int(left * NS) - 100_000
        if remaining <= 0:
            raise TimeoutError(f"fetch from {self.consumer!r}: no messages within {timeout} s")
        self._request({"batch": needed, "expires": remaining})
        got, _ = yield from self._collect(needed, deadline)
        if not got:
            raise TimeoutError(f"fetch from {self.consumer!r}: no messages within {timeout} s")
        return got

    def _request(self, body: dict) -> None:
        self._nc.publish(self._subject, json.dumps(body).encode(), reply=self._inbox)


class _Nuid:
    """nats' NUID: 12 random base-62 characters, then a 10-character sequence that grows by a
    random step (drawn from ``rng``); plus 4 hex characters, as nats-py's async publish tokens.

    >>> import random
    >>> tokens = [_Nuid(random.Random(1)).next() for _ in range(2)]
    >>> [len(t) for t in tokens], tokens[0] == tokens[1]
    ([26, 26], True)
    """

    _DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    _MAX_SEQ = 62 ** 10

    def __init__(self, rng):
        self._rng = rng
        self._reset()

    def _reset(self) -> None:
        rng = self._rng
        self._pre = "".join(rng.choices(self._DIGITS, k=12))
        self._seq = rng.randrange(self._MAX_SEQ)
        self._inc = 33 + rng.randrange(333 - 33)
        self._top = -1          # seq // 3844**2, whose 6 characters _head ends with
        self._head = ""

    def next(self) -> str:
        self._seq += self._inc
        if self._seq >= self._MAX_SEQ:
            self._reset()
        pairs = _PAIRS
        top, low = divmod(self._seq, _P2)
        if top != self._top:            # the first 6 sequence characters change rarely
            a, rest = divmod(top, _P2)
            b, c = divmod(rest, 3844)
            self._top, self._head = top, f"{self._pre}{pairs[a]}{pairs[b]}{pairs[c]}"
        d, e = divmod(low, 3844)
        return f"{self._head}{pairs[d]}{pairs[e]}{_HEX4[self._rng.getrandbits(16)]}"


_PAIRS = [a + b for a in _Nuid._DIGITS for b in _Nuid._DIGITS]    # 2 base-62 digits
_HEX4 = [f"{i:04x}" for i in range(65536)]
_P2, _P3, _P4 = 3844 ** 2, 3844 ** 3, 3844 ** 4


_PUB_ACK_KEYS = ("node", "client", "msg_id", "stream", "stream_seq", "duplicate")


def _plain_pub_ack(data: bytes) -> PubAck | None:
    """The pub ack ``{"stream":"S","seq":7}`` (the server's compact form, or with spaces) read
    without ``json.loads`` (the same result), or None for anything else (an error, a duplicate,
    escapes in the name).

    >>> _plain_pub_ack(b'{"stream":"S","seq":7}'), _plain_pub_ack(b'{"stream": "S", "seq": 7}')
    (PubAck(stream='S', seq=7, duplicate=False), PubAck(stream='S', seq=7, duplicate=False))
    >>> _plain_pub_ack(b'{"stream":"S","seq":7,"duplicate": true}') is None
    True
    """
    if data[-1:] != b"}":
        return None
    if data[:11] == b'{"stream":"':
        start, sep = 11, b'","seq":'
    elif data[:12] == b'{"stream": "':
        start, sep = 12, b'", "seq": '
    else:
        return None
    i = data.find(sep, start)
    if i < 0:
        return None
    name, seq = data[start:i], data[i + len(sep):-1]
    if not seq.isdigit() or b"\\" in name or b'"' in name:
        return None
    return PubAck(name.decode(), int(seq), False)


def _refused(msg) -> None:
    """Raise :class:`NotSimulatedError` when the simulated server refused a request as not
    simulated (:mod:`pmesh_sim.jetstream.surface`)."""
    headers = msg.headers
    if headers and NOT_SIMULATED_HEADER in headers:
        raise NotSimulatedError(headers[NOT_SIMULATED_HEADER])


def _is_status(msg) -> bool:
    return bool(msg.headers) and "Status" in msg.headers and not msg.data

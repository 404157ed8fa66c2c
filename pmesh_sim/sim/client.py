"""A client connection in the simulation, with nats-py's names.

What waits in nats-py (``await x``) returns a SimPy event here (``yield x``); a failed event
raises in the waiting process the error nats-py would raise (as a pmesh_sim error).

>>> from pmesh_sim.sim import Simulation
>>> sim = Simulation(seed=0, latency=0.001)
>>> sim.add_server("n1")
Server('n1')
>>> alice, bob = sim.connect(name="alice"), sim.connect(name="bob")
>>> got = []
>>> sub = bob.subscribe("greet.*", cb=lambda msg: got.append((round(sim.now, 6), msg.data)))
>>> def main():
...     yield alice.flush()                     # bob's SUB has reached the server by now
...     alice.publish("greet.bob", b"hi")
>>> _ = sim.process(main()); sim.run()
>>> got                                          # published at 0.002, two hops of 0.001
[(0.004, b'hi')]
"""

from __future__ import annotations

import datetime
import inspect
import json
import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import (
    ConfigError,
    ConnectionClosedError,
    MaxPayloadError,
    MsgAlreadyAckdError,
    NatsError,
    NoRespondersError,
    SlowConsumerError,
    TimeoutError,
)
from ..jetstream.consumer import parse_ack_subject
from ..subjects import check_publish_subject, validate_queue, validate_subject

__all__ = ["Client", "Subscription", "Msg", "Metadata", "SequencePair",
           "DEFAULT_SUB_PENDING_MSGS_LIMIT", "DEFAULT_SUB_PENDING_BYTES_LIMIT", "headers_size"]

DEFAULT_SUB_PENDING_MSGS_LIMIT = 512 * 1024
DEFAULT_SUB_PENDING_BYTES_LIMIT = 128 * 1024 * 1024
DEFAULT_FLUSH_TIMEOUT = 10.0
INBOX_PREFIX = "_INBOX"
_NUID_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_HEX = "0123456789abcdef"
_CHECKED: set[str] = set()   # publish subjects already checked (a str's validity never changes)


def headers_size(headers: dict | None) -> int:
    """Bytes the headers take on the wire (``NATS/1.0\\r\\nKey: value\\r\\n...\\r\\n``).

    >>> headers_size(None), headers_size({"Nats-Msg-Id": "m1"})
    (0, 29)
    """
    if not headers:
        return 0
    return 12 + sum(len(k.encode()) + len(str(v).encode()) + 4 for k, v in headers.items())


@dataclass(frozen=True)
class SequencePair:
    """A JetStream message's stream and consumer sequence."""

    consumer: int
    stream: int


@dataclass(frozen=True)
class Metadata:
    """What a JetStream message's ack reply subject says (nats-py ``Msg.Metadata``).

    >>> m = Metadata.from_reply("$JS.ACK.ORDERS.worker.2.7.9.1700000000000000000.3")
    >>> (m.stream, m.consumer, m.num_delivered, m.sequence.stream, m.sequence.consumer, m.num_pending)
    ('ORDERS', 'worker', 2, 7, 9, 3)
    """

    sequence: SequencePair
    num_pending: int
    num_delivered: int
    timestamp: datetime.datetime
    stream: str
    consumer: str
    domain: str | None = None

    @classmethod
    def from_reply(cls, reply: str) -> Metadata:
        """Parse ``$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>``
        (9 tokens) or the form with domain and account hash (12 tokens, 11 accepted)."""
        tokens = reply.split(".") if reply else []
        if not ((len(tokens) == 9 or len(tokens) >= 11) and tokens[:2] == ["$JS", "ACK"]):
            raise NatsError(f"not a JetStream message: reply subject {reply!r} is not a "
                            "$JS.ACK.<stream>.<consumer>... subject")
        if len(tokens) == 9:
            stream, consumer, rest, domain = tokens[2], tokens[3], tokens[4:9], None
        else:
            domain = "" if tokens[2] == "_" else tokens[2]
            stream, consumer, rest = tokens[4], tokens[5], tokens[6:11]
        delivered, sseq, cseq, ts, pending = (int(t) for t in rest)
        stamp = datetime.datetime.fromtimestamp(ts / 1e9, datetime.timezone.utc)
        return cls(SequencePair(consumer=cseq, stream=sseq), pending, delivered, stamp, stream,
                   consumer, domain)


class Msg:
    """A delivered message (nats-py ``nats.aio.msg.Msg`` names): subject, reply, data, headers, sub.

    The JetStream acks publish to ``reply`` as nats-py does: ``ack()`` ``+ACK``, ``nak()``
    ``-NAK`` (``-NAK {"delay": ns}``), ``in_progress()`` ``+WPI``, ``term()`` ``+TERM``.
    """

    __slots__ = ("subject", "reply", "data", "headers", "sub", "_client", "_ackd", "_metadata",
                 "_record")

    def __init__(self, client, subject: str, reply: str = "", data: bytes = b"",
                 headers: dict | None = None, sub=None, record: dict | None = None):
        self._client = client
        self._record = record     # its deliver trace record (msg_id, JetStream metadata)
        self.subject = subject
        self.reply = reply
        self.data = data
        self.headers = headers
        self.sub = sub
        self._ackd = False
        self._metadata = None

    def __repr__(self) -> str:
        return f"<Msg: subject={self.subject!r} reply={self.reply!r} data={self.data[:20]!r}>"

    @property
    def header(self) -> dict | None:
        return self.headers

    @property
    def is_acked(self) -> bool:
        """Whether a terminal ack (ack, ack_sync, nak, term) was sent."""
        return self._ackd

    def respond(self, data: bytes = b"") -> None:
        """Publish ``data`` to the reply subject (with this message's headers, as nats-py)."""
        if not self.reply:
            raise NatsError(f"cannot respond to the message on {self.subject!r}: it has no reply "
                            "subject (it was published, not requested)")
        self._client.publish(self.reply, data, headers=self.headers)

    def _check_reply(self, what: str) -> None:
        if not self.reply:
            raise NatsError(f"cannot {what} the message on {self.subject!r}: not a JetStream "
                            "message (no reply subject)")
        if self._ackd:
            raise MsgAlreadyAckdError(f"cannot {what} the message on {self.subject!r}: it was "
                                      "already acknowledged")

    def _record_ack(self, action: str, delay: float | None = None) -> None:
        """The client-side ``ack`` trace record (before the ack message's ``publish``)."""
        r = self._record       # a JetStream delivery's deliver row (when the trace is on)
        if r is None:
            return
        _, node, name, _, _, msg_id, stream, consumer, sseq, dseq = r[:10]
        row = (_ACK_DELAY_KEYS if delay else _ACK_KEYS, node, name, msg_id, stream, consumer,
               sseq, dseq, action)
        client = self._client
        client._trace.record(client.env._now, "ack", (*row, delay) if delay else row)

    def ack(self) -> None:
        """Acknowledge: publish ``+ACK`` to the reply subject."""
        if self._ackd or not self.reply:
            self._check_reply("ack")
        client, r = self._client, self._record
        if r is not None:                  # _record_ack("ack"), on the hot path
            _, node, name, _, _, msg_id, stream, consumer, sseq, dseq = r[:10]
            client._trace.record(client.env._now, "ack", (
                _ACK_KEYS, node, name, msg_id, stream, consumer, sseq, dseq, "ack"))
        client._publish(self.reply, b"+ACK", "", None, checked=True)
        self._ackd = True

    def ack_sync(self, timeout: float = 1.0):
        """Acknowledge and wait for the server's empty reply: an event whose value is that Msg."""
        self._check_reply("ack")
        self._record_ack("ack_sync")
        event = self._client.request(self.reply, b"+ACK", timeout=timeout)
        self._ackd = True
        return event

    def nak(self, delay: float | None = None) -> None:
        """Ask for redelivery, now or after ``delay`` seconds."""
        self._check_reply("nak")
        payload = b"-NAK"
        if delay:
            payload += b" " + json.dumps({"delay": int(delay * 10**9)}).encode()
        self._record_ack("nak", delay)
        self._client.publish(self.reply, payload)
        self._ackd = True

    def in_progress(self) -> None:
        """Still working on it: restart the ack timer (may be sent many times)."""
        if not self.reply:
            raise NatsError(f"cannot mark the message on {self.subject!r} in progress: not a "
                            "JetStream message (no reply subject)")
        self._record_ack("in_progress")
        self._client.publish(self.reply, b"+WPI")

    def term(self) -> None:
        """Stop redelivering this message."""
        self._check_reply("term")
        self._record_ack("term")
        self._client.publish(self.reply, b"+TERM")
        self._ackd = True

    @property
    def metadata(self) -> Metadata:
        """The JetStream metadata parsed from the reply subject."""
        if self._metadata is None:
            self._metadata = Metadata.from_reply(self.reply)
        return self._metadata


class Subscription:
    """A client's subscription; build it with :meth:`Client.subscribe`.

    ``delivered`` counts the messages that reached the subscription (as nats-py, dropped ones
    included); ``dropped`` those dropped as a slow consumer; ``pending_msgs``/``pending_bytes``
    those waiting for ``next_msg`` or for a generator callback.
    """

    internal = False

    def __init__(self, client, sid: int, subject: str, queue: str, cb, pending_msgs_limit: int,
                 pending_bytes_limit: int):
        self.client = client
        self.sid = sid
        self.subject = subject
        self.queue = queue
        self.cb = cb
        self._plain_cb = cb if cb is not None and not inspect.isgeneratorfunction(cb) else None
        self._gen_cb = cb if cb is not None and self._plain_cb is None else None
        self.pending_msgs_limit = pending_msgs_limit
        self.pending_bytes_limit = pending_bytes_limit
        self._pending: deque = deque()
        self._pending_bytes = 0
        self._waiters: deque = deque()
        self._worker = None
        self._received = 0
        self._max_msgs = 0
        self.dropped = 0
        self._closed = False          # client side: no longer accepts messages
        self._client_closed = False   # the connection closed before the server saw the SUB
        self._server_active = False   # the server has it in its index
        self._server_delivered = 0
        self._server_max = 0
        #: a JetStream push subscription's control handler (see .jetstream.PushControl):
        #: ``control(msg)`` is True for a control message it took, ``control.took()`` counts
        #: each message handed to the application
        self._control = None

    def __repr__(self) -> str:
        return f"<Subscription sid={self.sid} subject={self.subject!r} queue={self.queue!r}>"

    @property
    def pending_msgs(self) -> int:
        return len(self._pending)

    @property
    def pending_bytes(self) -> int:
        return self._pending_bytes

    @property
    def delivered(self) -> int:
        return self._received

    def unsubscribe(self, limit: int = 0) -> None:
        """Stop now, or (``limit > 0``) after ``limit`` messages in all have been delivered."""
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            raise ConfigError(f"unsubscribe(limit={limit!r}): give an int >= 0 (0 = now)")
        client = self.client
        if client._closed:
            raise ConnectionClosedError("cannot unsubscribe: the connection is closed")
        self._max_msgs = limit
        client._trace.emit("unsubscribe", node=client.server.name, client=client.name,
                           sid=self.sid, subject=self.subject, limit=limit)
        if limit == 0 or self._received >= limit:
            self._stop()
        if client._reconnecting is None:
            client.sim.network.send(client._up, client.server._on_unsub, self, limit)

    def _stop(self) -> None:
        self._closed = True
        self.client._subs.pop(self.sid, None)

    def next_msg(self, timeout: float | None = 1.0):
        """An event whose value is the next message; fails with TimeoutError after ``timeout``."""
        if self.cb is not None:
            raise NatsError(f"next_msg cannot be used on subscription {self.subject!r}: it has a "
                            "callback (subscribe without cb= to pull messages)")
        env = self.client.env
        event = env.event()
        if self._pending:
            event.succeed(self._take())
            return event
        self._waiters.append(event)
        if timeout:
            def expire(_event):
                if not event.triggered:
                    self._waiters.remove(event)
                    self.client._trace.emit("timeout", node=self.client.server.name,
                                            client=self.client.name, op="next_msg",
                                            subject=self.subject, sid=self.sid, timeout=timeout)
                    event.fail(TimeoutError(f"next_msg on {self.subject!r}: no message within "
                                            f"{timeout} s"))
            env.timeout(timeout).callbacks.append(expire)
        return event

    def _take(self) -> Msg:
        msg = self._pending.popleft()
        self._pending_bytes -= len(msg.data)
        if self._control is not None:
            self._control.took()
        return msg

    def _work(self):
        """The SimPy process that runs a generator callback on one message at a time."""
        while self._pending:
            yield from self._gen_cb(self._take())
        self._worker = None


class Client:
    """One connection to one server; build it with :meth:`Simulation.connect`."""

    def __init__(self, sim, server, name: str, *, no_echo: bool = False,
                 error_cb: Callable | None = None, reconnect: dict | None = None):
        if error_cb is not None and not callable(error_cb):
            raise ConfigError(f"error_cb={error_cb!r}: give a callable(error) or None")
        # nats-py's reconnect options and server pool ([name, last attempt, failures]);
        # sim/reconnect.py uses them when the node dies
        self.reconnect_options = reconnect or {}
        self._pool: list[list] = []
        self._reconnecting = None
        self.sim = sim
        self.env = sim.env
        self.server = server
        self.name = name
        self.no_echo = bool(no_echo)
        self.error_cb = error_cb
        self._trace = sim.trace
        self._up = sim.network.link(name, server.name)
        self._down = sim.network.link(server.name, name)
        self._subs: dict[int, Subscription] = {}
        self._all_subs: dict[int, Subscription] = {}
        self._sid = 0
        self._closed = False
        self._resp_prefix: str | None = None
        self._resp_map: dict[str, tuple] = {}
        server._attach(self)

    def __repr__(self) -> str:
        return f"Client({self.name!r} -> {self.server.name!r})"

    @property
    def is_closed(self) -> bool:
        return self._closed

    # -- publish ----------------------------------------------------------------------------

    def publish(self, subject: str, payload: bytes = b"", reply: str = "",
                headers: dict | None = None) -> None:
        """Send a message; returns at once (it reaches the server one link latency later)."""
        self._publish(subject, payload, reply, headers)

    def _publish(self, subject, payload, reply, headers, *, checked: bool = False) -> int:
        """Send one PUB; ``checked``: the subject and reply were made by the library or the
        server (an ack subject, an inbox), so they need no check."""
        if self._closed:
            raise ConnectionClosedError(f"cannot publish to {subject!r}: connection {self.name!r} is closed")
        if not checked:
            if subject not in _CHECKED:
                check_publish_subject(subject)
                if len(_CHECKED) >= 4096:
                    _CHECKED.clear()
                _CHECKED.add(subject)
            if reply:
                check_publish_subject(reply, "reply subject")
        if type(payload) is not bytes:
            if not isinstance(payload, (bytes, bytearray, memoryview)):
                raise ConfigError(f"payload {payload!r}: give bytes, not "
                                  f"{type(payload).__name__} (e.g. b'text' or 'text'.encode())")
            payload = bytes(payload)
        size = len(payload)
        if headers is not None:
            headers = _check_headers(headers)
            size += headers_size(headers)
        server = self.server
        reconnecting = self._reconnecting
        if reconnecting is not None:
            buffered = reconnecting.room(subject, reply, size)
        if size > server.max_payload:
            raise MaxPayloadError(f"message to {subject!r} is {size} bytes (headers + payload): "
                                  f"over the server's max_payload of {server.max_payload} bytes")
        sim = self.sim
        msg_id = sim._next_msg_id()
        trace = self._trace
        if trace.enabled:       # a row: a third of a dict's memory (Trace.record)
            if headers is not None and "Nats-Msg-Id" in headers:
                trace.record(self.env._now, "publish", (
                    _PUBLISH_ID_KEYS, server.name, self.name, subject, reply, msg_id, size,
                    headers["Nats-Msg-Id"]))
            else:
                trace.record(self.env._now, "publish", (
                    _PUBLISH_KEYS, server.name, self.name, subject, reply, msg_id, size))
        if reconnecting is not None:           # nats-py buffers while reconnecting
            reconnecting.buffer.append((subject, reply, payload, headers, msg_id))
            reconnecting.size += buffered
            return msg_id
        network = sim.network
        if network.loss and network.lost():
            self._trace.emit("lost", node=server.name, client=self.name, subject=subject,
                             msg_id=msg_id, hop="client->server")
            return msg_id
        network.send(self._up, server.route, subject, reply, payload, headers, msg_id, self)
        return msg_id

    # -- subscribe --------------------------------------------------------------------------

    def subscribe(self, subject: str, queue: str = "", cb: Callable | None = None,
                  pending_msgs_limit: int = DEFAULT_SUB_PENDING_MSGS_LIMIT,
                  pending_bytes_limit: int = DEFAULT_SUB_PENDING_BYTES_LIMIT,
                  max_msgs: int = 0) -> Subscription:
        """Subscribe; ``cb`` is a function (runs at delivery) or a generator function (runs as a
        SimPy process, one message at a time). Without ``cb``, use ``next_msg()``.

        ``max_msgs`` is nats-py's: the client drops the subscription after that many messages
        and tells the server nothing, so the server's interest stays (requests to it time out
        instead of finding no responders); ``unsubscribe(limit=N)`` tells the server."""
        if self._closed:
            raise ConnectionClosedError(f"cannot subscribe to {subject!r}: connection {self.name!r} is closed")
        validate_subject(subject)
        queue = validate_queue(queue)
        if cb is not None and (not callable(cb) or inspect.iscoroutinefunction(cb)):
            raise ConfigError(f"cb={cb!r}: give a function(msg) or a generator function(msg) "
                              "(SimPy processes are generators: write `yield x` for `await x`)")
        for limit_name, limit in (("pending_msgs_limit", pending_msgs_limit),
                                  ("pending_bytes_limit", pending_bytes_limit),
                                  ("max_msgs", max_msgs)):
            if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
                raise ConfigError(f"{limit_name}={limit!r}: give an int >= 0 (0 = no limit)")
        self._sid += 1
        sub = Subscription(self, self._sid, subject, queue, cb, pending_msgs_limit,
                           pending_bytes_limit)
        sub._max_msgs = max_msgs
        self._subs[sub.sid] = sub
        self._all_subs[sub.sid] = sub
        self._trace.emit("subscribe", node=self.server.name, client=self.name, sid=sub.sid,
                         subject=subject, queue=queue)
        if self._reconnecting is None:        # else sent again on reconnecting
            self.sim.network.send(self._up, self.server._on_sub, sub)
        return sub

    def _on_msg(self, sub, subject, reply, data, headers, msg_id) -> None:
        """A MSG arrives from the server (the hot path)."""
        trace = self._trace
        if sub._closed:
            if trace.enabled:
                trace.emit("drop", node=self.server.name, client=self.name, sid=sub.sid,
                           subject=subject, msg_id=msg_id, reason="unsubscribed")
            return
        sub._received += 1
        if sub._max_msgs and sub._received >= sub._max_msgs:
            sub._stop()
        js = None
        if not trace.enabled:
            record = None
        elif reply and reply.startswith("$JS.ACK."):     # its ack record reads the row
            record = js = _js_deliver_row(self.server.name, self.name, sub.sid, subject,
                                          msg_id, reply)
        else:                                            # a row (Trace.record)
            record = (_DELIVER_KEYS, self.server.name, self.name, sub.sid, subject, msg_id)
        msg = Msg(self, subject, reply, data, headers, sub, js)
        if sub._control is not None and sub._control(msg):
            return
        cb = sub._plain_cb
        if cb is not None:
            trace.record(self.env.now, "deliver", record)
            if sub._control is not None:
                sub._control.took()
            cb(msg)
            return
        size = len(data)
        if ((sub.pending_msgs_limit and len(sub._pending) >= sub.pending_msgs_limit)
                or (sub.pending_bytes_limit and sub._pending_bytes + size >= sub.pending_bytes_limit)):
            sub.dropped += 1
            trace.emit("slow_consumer", node=self.server.name, client=self.name, sid=sub.sid,
                       subject=subject, msg_id=msg_id, pending_msgs=len(sub._pending),
                       pending_bytes=sub._pending_bytes)
            if self.error_cb is not None:
                self.error_cb(SlowConsumerError(
                    f"slow consumer: subscription {sub.sid} on {sub.subject!r} of {self.name!r} "
                    f"dropped a message on {subject!r} ({len(sub._pending)} messages / "
                    f"{sub._pending_bytes} bytes pending; limits {sub.pending_msgs_limit} / "
                    f"{sub.pending_bytes_limit})"))
            return
        trace.record(self.env._now, "deliver", record)
        sub._pending.append(msg)
        sub._pending_bytes += size
        if sub._gen_cb is not None:
            if sub._worker is None:
                sub._worker = self.env.process(sub._work())
            return
        while sub._waiters and sub._pending:
            waiter = sub._waiters.popleft()
            if not waiter.triggered:
                waiter.succeed(sub._take())

    # -- request-reply ----------------------------------------------------------------------

    def _nuid(self) -> str:
        return "".join(self.sim.rng.choices(_NUID_ALPHABET, k=22))

    def new_inbox(self) -> str:
        """A fresh ``_INBOX.<nuid>`` subject (deterministic: drawn from ``sim.rng``)."""
        return f"{INBOX_PREFIX}.{self._nuid()}"

    def request(self, subject: str, payload: bytes = b"", timeout: float = 0.5,
                headers: dict | None = None):
        """An event whose value is the reply Msg; fails with NoRespondersError (503 status) or
        TimeoutError. Replies come to ``_INBOX.<nuid>.<token>`` through one wildcard
        subscription ``_INBOX.<nuid>.*`` per client, as nats-py."""
        check_publish_subject(subject)
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
            raise ConfigError(f"request timeout={timeout!r}: give seconds > 0")
        if self._resp_prefix is None:
            self._resp_prefix = f"{INBOX_PREFIX}.{self._nuid()}."
            self.subscribe(self._resp_prefix + "*", cb=self._on_response)
        token = self._nuid() + "".join(self.sim.rng.choices(_HEX, k=4))
        inbox = self._resp_prefix + token
        event = self.env.event()
        msg_id = self._publish(subject, payload, inbox, headers)
        event.msg_id = msg_id     # the request's id in the trace (its reply's record has it)
        self._resp_map[token] = (event, subject, msg_id, self.env.now)
        self._trace.emit("request", node=self.server.name, client=self.name, subject=subject,
                         reply=inbox, msg_id=msg_id, timeout=timeout)

        def expire(_event):
            if self._resp_map.pop(token, None) is not None:
                self._trace.emit("timeout", node=self.server.name, client=self.name,
                                 op="request", subject=subject, reply=inbox, msg_id=msg_id,
                                 timeout=timeout)
                event.fail(TimeoutError(f"request to {subject!r}: no reply within {timeout} s"))
        self.env.timeout(timeout).callbacks.append(expire)
        return event

    def _on_response(self, msg: Msg) -> None:
        token = msg.subject[len(self._resp_prefix):]
        entry = self._resp_map.pop(token, None)
        if entry is None:
            return                       # a late or duplicate reply: nobody waits for it
        event, subject, msg_id, start = entry
        if msg.headers and msg.headers.get("Status") == "503":
            event.fail(NoRespondersError(f"request to {subject!r}: no responders (nobody is "
                                         "subscribed to that subject)"))
            return
        self._trace.emit("reply", node=self.server.name, client=self.name, subject=subject,
                         reply=msg.subject, msg_id=msg_id, rtt=self.env.now - start)
        event.succeed(msg)

    # -- flush, close, jetstream ------------------------------------------------------------

    def flush(self, timeout: float = DEFAULT_FLUSH_TIMEOUT):
        """An event that succeeds when a PING/PONG round trip is done: everything sent before
        (subscriptions, publishes) has reached the server."""
        if self._closed:
            raise ConnectionClosedError(f"cannot flush: connection {self.name!r} is closed")
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0:
            raise ConfigError(f"flush timeout={timeout!r}: give seconds > 0")
        event = self.env.event()
        if self._reconnecting is not None:
            # nats-py 2.16: its read loop is gone while reconnecting, so flush() returns at once
            event.succeed()
            return event
        self.sim.network.send(self._up, self.server._on_ping, self, event)

        def expire(_event):
            if not event.triggered:
                self._trace.emit("timeout", node=self.server.name, client=self.name, op="flush",
                                 timeout=timeout)
                event.fail(TimeoutError(f"flush: no PONG within {timeout} s"))
        self.env.timeout(timeout).callbacks.append(expire)
        return event

    def _on_pong(self, event) -> None:
        if not event.triggered:
            event.succeed()

    def close(self) -> None:
        """Close the connection: no more messages; the server drops its subscriptions."""
        if self._closed:
            return
        self._closed = True
        for sub in self._all_subs.values():
            sub._closed = True
            sub._client_closed = True
        self._subs.clear()
        self._trace.emit("close", node=self.server.name, client=self.name)
        if self._reconnecting is None:
            self.sim.network.send(self._up, self.server._on_close, self)
        self._reconnecting = None

    def _lost_server(self, node) -> None:
        """The connection to ``node`` dropped (it was killed): reconnect as nats-py does
        (:mod:`pmesh_sim.sim.reconnect`), or close when reconnecting is off."""
        if self._closed or node is not self.server or self._reconnecting is not None:
            return
        from pmesh_sim.sim.reconnect import Reconnect

        self._trace.emit("disconnected", node=node.name, client=self.name)
        for sub in self._all_subs.values():
            sub._server_active = False
        if not self.reconnect_options.get("allow_reconnect", True):
            self.close()
            return
        self._reconnecting = Reconnect(self)
        self.env.process(self._reconnecting.run())

    def jetstream(self, **kw):
        """The JetStream context (``pmesh_sim.sim.jetstream.JetStreamContext``)."""
        from pmesh_sim.sim.jetstream import JetStreamContext

        return JetStreamContext(self, **kw)


def deliver_all(subs: list, subject: str, reply: str, data: bytes, headers: dict | None,
                msg_id: int) -> None:
    """One message arriving at several subscriptions at once (the fan-out hot path).

    The common case (an open subscription with a plain callback) is inlined; the rest goes
    through ``Client._on_msg``. Deliver records are the same as ``_on_msg`` writes.
    """
    trace = None
    for sub in subs:
        cb = sub._plain_cb
        if cb is None or sub._closed or sub._max_msgs or sub._control is not None:
            sub.client._on_msg(sub, subject, reply, data, headers, msg_id)
            continue
        client = sub.client
        sub._received += 1
        if trace is None:
            trace = client._trace
            now = client.env._now
            on = trace.enabled
        if on:
            if reply and reply.startswith("$JS.ACK."):   # its ack record reads the row
                record = _js_deliver_row(client.server.name, client.name, sub.sid, subject,
                                         msg_id, reply)
                trace.record(now, "deliver", record)
                cb(Msg(client, subject, reply, data, headers, sub, record))
            else:                                        # a row (Trace.record)
                trace.record(now, "deliver", (_DELIVER_KEYS, client.server.name, client.name,
                                              sub.sid, subject, msg_id))
                cb(Msg(client, subject, reply, data, headers, sub))
        else:
            cb(Msg(client, subject, reply, data, headers, sub))




_PUBLISH_KEYS = ("node", "client", "subject", "reply", "msg_id", "size")
_DELIVER_KEYS = ("node", "client", "sid", "subject", "msg_id")
_JS_DELIVER_KEYS = _DELIVER_KEYS + ("stream", "consumer", "stream_seq", "consumer_seq",
                                    "num_delivered", "num_pending")
_PUBLISH_ID_KEYS = _PUBLISH_KEYS + ("nats_msg_id",)
_ACK_KEYS = ("node", "client", "msg_id", "stream", "consumer", "stream_seq", "consumer_seq",
             "action")
_ACK_DELAY_KEYS = _ACK_KEYS + ("delay",)


def _js_deliver_row(node: str, client: str, sid: int, subject: str, msg_id: int,
                    reply: str) -> tuple:
    """A JetStream delivery's ``deliver`` row, its metadata read from its ack subject.

    >>> from pmesh_sim.trace import Trace
    >>> t = Trace(clock=lambda: 0.0)
    >>> t.record(0.0, "deliver", _js_deliver_row("n1", "w", 1, "a", 5, "$JS.ACK.S.C.2.7.9.0.3"))
    >>> t[0].fields
    {'node': 'n1', 'client': 'w', 'sid': 1, 'subject': 'a', 'msg_id': 5, 'stream': 'S', 'consumer': 'C', 'stream_seq': 7, 'consumer_seq': 9, 'num_delivered': 2, 'num_pending': 3}
    """
    t = reply.split(".")
    if len(t) != 9:            # the long form (domain, account hash)
        stream, consumer, dc, sseq, dseq, pending = parse_ack_subject(reply, t)
        t = ["", "", stream, consumer, dc, sseq, dseq, "", pending]
    return (_JS_DELIVER_KEYS, node, client, sid, subject, msg_id, t[2], t[3], int(t[5]),
            int(t[6]), int(t[4]), int(t[8]))


_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")   # nats-py's _HEADER_KEY_RE


def _check_headers(headers) -> dict:
    """``headers`` as nats-py sends them: names it refuses (BadHeaderError) raise ConfigError;
    values lose surrounding whitespace and CR/LF become spaces (a copy only when one changes).

    >>> _check_headers({"X": " a\\r\\nb "})
    {'X': 'a  b'}
    >>> _check_headers({"a b": "x"})
    Traceback (most recent call last):
    ...
    pmesh_sim.errors.ConfigError: header name 'a b': nats-py refuses it (BadHeaderError); a name is letters, digits and !#$%&'*+-.^_`|~
    """
    if not isinstance(headers, dict):
        raise ConfigError(f"headers={headers!r}: give a dict of str -> str")
    if "Nats-Trace-Dest" in headers or "Nats-Trace-Only" in headers:
        # message tracing acts on any message, not only JetStream's (see jetstream.surface)
        from ..errors import NotSimulatedError

        raise NotSimulatedError("header 'Nats-Trace-Dest' (message tracing)")
    clean = None
    for key, value in headers.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise ConfigError(f"header {key!r}: {value!r}: header names and values must be str")
        if not _HEADER_NAME.fullmatch(key):
            raise ConfigError(f"header name {key!r}: nats-py refuses it (BadHeaderError); a "
                              "name is letters, digits and !#$%&'*+-.^_`|~")
        if value != value.strip() or "\r" in value or "\n" in value:
            if clean is None:
                clean = dict(headers)
            clean[key] = value.strip().replace("\r", " ").replace("\n", " ")
    return headers if clean is None else clean

"""Every error pmesh_sim raises, in one tree.

::

    PmeshError
    ├── ConfigError (ValueError)          a wrong option, type or value given to pmesh_sim itself
    ├── InvalidSubjectError (ValueError)  a subject that breaks the server's rules (reference A1)
    ├── ScenarioError (ValueError)        a malformed scenario file: names file, step and key
    ├── NatsError                         what nats-py raises on the client side
    │   ├── NoRespondersError             a request reached nobody (503 status)
    │   ├── TimeoutError                  no reply within the timeout
    │   ├── MaxPayloadError               header + payload over the server's max_payload
    │   ├── SlowConsumerError             a subscription's pending limits overflowed
    │   ├── MsgAlreadyAckdError           a JetStream message acked (or nak'd, termed) twice
    │   ├── ConnectionClosedError         a call on a closed connection
    │   ├── OutboundBufferLimitError      a publish while reconnecting overflowed the buffer
    │   └── NoStreamResponseError         a JetStream publish no stream answered
    ├── ServerProcessError (RuntimeError) a real nats-server could not be found, started or reached
    ├── SimulationStuckError (RuntimeError) virtual time stopped advancing: names what spins
    ├── NotSimulatedError                 a server feature the simulation refuses (never ignores)
    └── JetStreamError                    an error the JetStream API answered with
            .code (HTTP-like status), .err_code (the server's number), .description

A :class:`JetStreamError` is built from the server's catalogue by its ``err_code``:

>>> err = JetStreamError.from_err_code(10059)
>>> (err.code, err.err_code, err.description)
(404, 10059, 'stream not found')
>>> isinstance(err, StreamNotFoundError)
True
>>> JetStreamError.from_err_code(10071, seq=4).description
'wrong last sequence: 4'
"""

from __future__ import annotations

__all__ = [
    "PmeshError",
    "ConfigError",
    "InvalidSubjectError",
    "ScenarioError",
    "NatsError",
    "NoRespondersError",
    "TimeoutError",
    "MaxPayloadError",
    "SlowConsumerError",
    "NoStreamResponseError",
    "MsgAlreadyAckdError",
    "ConnectionClosedError",
    "OutboundBufferLimitError",
    "ServerProcessError",
    "SimulationStuckError",
    "NotSimulatedError",
    "JetStreamError",
    "StreamNotFoundError",
    "ConsumerNotFoundError",
    "API_ERRORS",
]


class PmeshError(Exception):
    """The root of every pmesh_sim error."""


class ConfigError(PmeshError, ValueError):
    """An option, type or value that pmesh_sim cannot accept."""


class InvalidSubjectError(PmeshError, ValueError):
    """A subject that breaks the server's subject rules."""


class ScenarioError(PmeshError, ValueError):
    """A malformed scenario file; the message names the file, the step and the key."""


class NatsError(PmeshError):
    """An error a nats-py client would raise."""


class NoRespondersError(NatsError):
    """The request's subject had no subscribers: the server answered with status 503."""


class TimeoutError(NatsError):  # noqa: A001 - same name as nats.errors.TimeoutError
    """No reply arrived within the timeout."""


class MaxPayloadError(NatsError):
    """Header and payload together exceed the server's ``max_payload``."""


class SlowConsumerError(NatsError):
    """A subscription's pending messages or bytes went over its limit; messages were dropped."""


class NoStreamResponseError(NatsError):
    """A JetStream publish to a subject that no stream covers (no responders)."""


class MsgAlreadyAckdError(NatsError):
    """The message was already acknowledged (acked, nak'd or terminated) by this client."""


class ConnectionClosedError(NatsError):
    """The connection is closed: it cannot publish, subscribe or flush any more."""


class OutboundBufferLimitError(NatsError):
    """A publish while reconnecting did not fit nats-py's pending buffer (``pending_size``)."""


class ServerProcessError(PmeshError, RuntimeError):
    """A real ``nats-server`` could not be found, started, or became ready in time."""


class SimulationStuckError(PmeshError, RuntimeError):
    """The simulation ran very many events at one virtual instant without time advancing; the
    message names the process or timer that spins and the virtual time (a bug, never a wait)."""


class NotSimulatedError(PmeshError):
    """A server feature the simulation does not model: refused with this, never ignored.

    ``feature`` names it (a config field, an API subject, a header); the list of what is
    modelled and what is refused is :mod:`pmesh_sim.jetstream.surface`.

    >>> str(NotSimulatedError("stream config field 'mirror'"))
    "not simulated: stream config field 'mirror'"
    """

    def __init__(self, feature: str, detail: str = ""):
        super().__init__(feature, detail)
        self.feature, self.detail = feature, detail

    def __str__(self) -> str:
        return f"not simulated: {self.feature}" + (f" ({self.detail})" if self.detail else "")


# err_code -> (HTTP-like code, description template), from nats-server's server/errors.json.
API_ERRORS: dict[int, tuple[int, str]] = {
    10003: (400, "bad request"),
    10005: (400, "{err}"),
    10008: (503, "JetStream system temporarily unavailable"),
    10010: (503, "JetStream clustering support required"),
    10012: (500, "{err}"),
    10013: (400, "consumer name already in use"),
    10014: (404, "consumer not found"),
    10016: (400, "consumer expected to be durable but no durable name set in subject"),
    10017: (400, "consumer name in subject does not match durable name in request"),
    10018: (400, "consumer expected to be durable but a durable name was not set"),
    10020: (400, "consumer expected to be ephemeral but a durable name was set in request"),
    10023: (503, "insufficient resources"),
    10025: (400, "invalid JSON: {err}"),
    10026: (400, "maximum consumers limit reached"),
    10037: (404, "no message found"),
    10038: (400, "expected an empty request payload"),
    10039: (503, "JetStream not enabled for account"),
    10043: (400, "sequence {seq} not found"),
    10052: (500, "{err}"),
    10054: (400, "message size exceeds maximum allowed"),
    10056: (400, "stream name in subject does not match request"),
    10057: (500, "{err}"),
    10058: (400, "stream name already in use with a different configuration"),
    10059: (404, "stream not found"),
    10060: (400, "expected stream does not match"),
    10065: (400, "subjects overlap with an existing stream"),
    10070: (400, "wrong last msg ID: {id}"),
    10071: (400, "wrong last sequence: {seq}"),
    10074: (500, "replicas > 1 not supported in non-clustered mode"),
    10077: (503, "{err}"),
    10078: (400, "consumer config required"),
    10079: (400, "consumer deliver subject has wildcards"),
    10080: (400, "consumer in push mode can not set max waiting"),
    10081: (400, "consumer deliver subject forms a cycle"),
    10082: (400, "consumer requires ack policy for max ack pending"),
    10083: (400, "consumer idle heartbeat needs to be >= 100ms"),
    10084: (400, "consumer in pull mode requires explicit ack policy on workqueue stream"),
    10086: (400, "consumer in pull mode can not have rate limit set"),
    10088: (400, "consumer idle heartbeat requires a push based consumer"),
    10089: (400, "consumer flow control requires a push based consumer"),
    10094: (400, "{err}"),
    10098: (400, "workqueue stream requires explicit ack"),
    10099: (400, "multiple non-filtered consumers not allowed on workqueue stream"),
    10100: (400, "filtered consumer not unique on workqueue stream"),
    10101: (400, "consumer must be deliver all on workqueue stream"),
    10102: (400, "consumer name is too long, maximum allowed is {max}"),
    10108: (400, "consumer with flow control also needs heartbeats"),
    10109: (400, "invalid operation on sealed stream"),
    10110: (500, "{err}"),
    10111: (500, "{err}"),
    10116: (400, "max deliver is required to be > length of backoff values"),
    10118: (500, "stream is offline"),
    10121: (400, "consumer max ack pending exceeds system limit of {limit}"),
    10126: (400, "consumer config replica count exceeds parent stream"),
    10127: (400, "Consumer name can not contain path separators"),
    10128: (400, "Stream name can not contain path separators"),
    10131: (400, "Consumer create request did not match filtered subject from create subject"),
    10132: (400, "Consumer Durable and Name have to be equal if both are provided"),
    10133: (400, "replicas count cannot be negative"),
    10134: (400, "consumer config replicas must match interest retention stream's replicas"),
    10136: (400, "consumer cannot have both FilterSubject and FilterSubjects specified"),
    10137: (400, "consumer with multiple subject filters cannot use subject based API"),
    10138: (400, "consumer subject filters cannot overlap"),
    10139: (400, "consumer filter in FilterSubjects cannot be empty"),
    10148: (400, "consumer already exists"),
    10149: (400, "consumer does not exist"),
    10165: (400, "invalid per-message TTL"),
    10166: (400, "per-message TTL is disabled"),
    10183: (400, "consumer ack wait needs to be positive"),
    10153: (400, "consumer inactive threshold exceeds system limit of {limit}"),
    10155: (400, "stream transform source: {err}"),
    10156: (400, "stream transform: {err}"),
    10165: (400, "invalid per-message TTL"),
    10166: (400, "per-message TTL is disabled"),
    10184: (400, "consumer backoff needs to be positive"),
    10193: (400, "missing sequence for expected last sequence per subject"),
    10204: (400, "invalid reset: {err}"),
    # mirrors and sources (server/errors.json)
    10030: (400, "stream mirror must have max message size >= source"),
    10031: (400, "stream mirrors can not also contain other sources"),
    10034: (400, "stream mirrors can not contain subjects"),
    10046: (400, "stream source must have max message size >= target"),
    10055: (400, "stream mirror configuration can not be updated"),
    10140: (400, "duplicate source configuration detected"),
    10141: (400, "sourced stream name is invalid"),
    10142: (400, "mirrored stream name is invalid"),
    10143: (400, "stream mirrors can not have first sequence configured"),
    10144: (400, "source with multiple subject transforms cannot also have a single subject "
                 "filter"),
    10145: (400, "source transform source: {err}"),
    10146: (400, "source transform: {err}"),
    10147: (400, "source filters can not overlap"),
    10150: (400, "mirror with multiple subject transforms cannot also have a single subject "
                 "filter"),
    10151: (400, "mirror transform source: {err}"),
    10152: (400, "mirror subject filters can not overlap"),
    10154: (400, "mirror transform: {err}"),
    10227: (400, "message stream source header is not allowed"),
}


class JetStreamError(PmeshError):
    """An error answered by the JetStream API, with the server's ``code``, ``err_code`` and text.

    Catch a family by class (``StreamNotFoundError``) or key on ``err_code``, as with nats-py's
    ``APIError``.
    """

    err_code: int = 0
    code: int = 500

    def __init__(self, description: str, code: int | None = None, err_code: int | None = None):
        super().__init__(description)
        self.description = description
        if code is not None:
            self.code = code
        if err_code is not None:
            self.err_code = err_code
        # SimPy re-raises a failed event as ``type(err)(*err.args)``: keep everything in args.
        self.args = (description, self.code, self.err_code)

    def __str__(self) -> str:
        return f"{self.description} (err_code={self.err_code}, code={self.code})"

    def to_dict(self) -> dict:
        """The ``error`` object of an API response.

        >>> StreamNotFoundError().to_dict()
        {'code': 404, 'err_code': 10059, 'description': 'stream not found'}
        """
        return {"code": self.code, "err_code": self.err_code, "description": self.description}

    @classmethod
    def from_err_code(cls, err_code: int, **fields) -> JetStreamError:
        """The error for ``err_code``, its description filled from ``fields`` (``err=``, ``seq=``…)."""
        code, template = API_ERRORS[err_code]
        return cls.from_dict({"code": code, "err_code": err_code,
                              "description": template.format(**fields)})

    @classmethod
    def from_dict(cls, error: dict) -> JetStreamError:
        """The error for an API response's ``error`` object, as the most specific class."""
        klass = _BY_ERR_CODE.get(error.get("err_code", 0), JetStreamError)
        return klass(error.get("description", ""), code=error.get("code"),
                     err_code=error.get("err_code"))


class StreamNotFoundError(JetStreamError):
    """No stream has that name (10059)."""

    code, err_code = 404, 10059

    def __init__(self, description: str = "stream not found", *args, **kwargs):
        super().__init__(description, *args, **kwargs)


class ConsumerNotFoundError(JetStreamError):
    """The stream has no consumer of that name (10014)."""

    code, err_code = 404, 10014

    def __init__(self, description: str = "consumer not found", *args, **kwargs):
        super().__init__(description, *args, **kwargs)


_BY_ERR_CODE: dict[int, type[JetStreamError]] = {
    StreamNotFoundError.err_code: StreamNotFoundError,
    ConsumerNotFoundError.err_code: ConsumerNotFoundError,
}

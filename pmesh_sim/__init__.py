"""pmesh_sim: learn NATS and JetStream in a deterministic simulation, checked against a real server.

The public API is listed once, here, in ``__all__``.
"""

__version__ = "0.1.0"

from .errors import (  # noqa: E402
    ConfigError,
    ConsumerNotFoundError,
    InvalidSubjectError,
    JetStreamError,
    MaxPayloadError,
    NatsError,
    NoRespondersError,
    NoStreamResponseError,
    PmeshError,
    ScenarioError,
    SlowConsumerError,
    StreamNotFoundError,
    TimeoutError,
)
from .trace import Event, Trace  # noqa: E402

__all__ = [
    "__version__",
    # errors
    "PmeshError", "ConfigError", "InvalidSubjectError", "ScenarioError", "NatsError",
    "NoRespondersError", "TimeoutError", "MaxPayloadError", "SlowConsumerError",
    "NoStreamResponseError", "JetStreamError", "StreamNotFoundError", "ConsumerNotFoundError",
    # trace
    "Event", "Trace",
]

"""pmesh_sim: learn NATS and JetStream in a deterministic simulation, checked against a real server.

The public API is listed once, here, in ``__all__``; everything else is internal.

>>> from pmesh_sim import Simulation
>>> sim = Simulation(seed=1)
>>> _ = sim.add_server("n1")
>>> alice, bob = sim.connect(name="alice"), sim.connect(name="bob")
>>> got = []
>>> _ = bob.subscribe("greet.*", cb=lambda msg: got.append((round(sim.now, 4), msg.subject, msg.data)))
>>> sim.run(until=0.01)
>>> alice.publish("greet.bob", b"hi")
>>> sim.run(until=1)
>>> got
[(0.011, 'greet.bob', b'hi')]

The subscription reached the server after one hop (0.5 ms); the publish at 10 ms arrived
after two (server, then bob).
"""

__version__ = "0.1.0"

from .checks import compare_results  # noqa: E402
from .config import (  # noqa: E402
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    DiscardPolicy,
    ReplayPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
    StreamSource,
)
from .errors import (  # noqa: E402
    ConfigError,
    ConnectionClosedError,
    OutboundBufferLimitError,
    ConsumerNotFoundError,
    InvalidSubjectError,
    JetStreamError,
    MaxPayloadError,
    MsgAlreadyAckdError,
    NatsError,
    NoRespondersError,
    NoStreamResponseError,
    NotSimulatedError,
    PmeshError,
    ScenarioError,
    ServerProcessError,
    SimulationStuckError,
    SlowConsumerError,
    StreamNotFoundError,
    TimeoutError,
)
from .experiments import DeliveryCheck, check_delivery, plot_sweep, sweep  # noqa: E402
from .real.process import NatsCluster, NatsServer  # noqa: E402
from .report import describe  # noqa: E402
from .runners import run_scenario  # noqa: E402
from .scenario import Scenario, load_scenario  # noqa: E402
from .sim import Client, Msg, Server, Simulation, Subscription  # noqa: E402
from .sim.jetstream import JetStreamContext, PubAck  # noqa: E402
from .subjects import SubjectIndex, subject_matches, validate_subject  # noqa: E402
from .trace import Event, Trace  # noqa: E402
from .trace_spill import read_trace  # noqa: E402

__all__ = [
    "__version__",
    # the simulation
    "Simulation", "Server", "Client", "Subscription", "Msg", "JetStreamContext", "PubAck",
    # subjects
    "subject_matches", "validate_subject", "SubjectIndex",
    # JetStream configuration
    "StreamConfig", "ConsumerConfig", "RetentionPolicy", "DiscardPolicy", "StorageType",
    "AckPolicy", "DeliverPolicy", "ReplayPolicy", "StreamSource",
    # scenarios, the real server, comparison
    "Scenario", "load_scenario", "run_scenario", "compare_results", "describe",
    "NatsServer", "NatsCluster",
    # the trace
    "Event", "Trace", "read_trace",
    # experiments: delivery checkers, sweeps over parameters x seeds
    "check_delivery", "DeliveryCheck", "sweep", "plot_sweep",
    # errors
    "PmeshError", "ConfigError", "InvalidSubjectError", "ScenarioError", "NatsError",
    "NoRespondersError", "TimeoutError", "MaxPayloadError", "SlowConsumerError",
    "NoStreamResponseError", "MsgAlreadyAckdError", "ConnectionClosedError",
    "OutboundBufferLimitError",
    "ServerProcessError", "JetStreamError", "StreamNotFoundError", "ConsumerNotFoundError",
    "SimulationStuckError",
    "NotSimulatedError",
]

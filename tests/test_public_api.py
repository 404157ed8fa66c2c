"""The public API is the list in pmesh_sim.__all__, and every name on it exists."""

import pmesh_sim

PUBLIC = {
    "__version__",
    "Simulation", "Server", "Client", "Subscription", "Msg", "JetStreamContext", "PubAck",
    "subject_matches", "validate_subject", "SubjectIndex",
    "StreamConfig", "ConsumerConfig", "RetentionPolicy", "DiscardPolicy", "StorageType",
    "AckPolicy", "DeliverPolicy", "ReplayPolicy", "StreamSource",
    "Scenario", "load_scenario", "run_scenario", "compare_results", "describe",
    "NatsServer", "NatsCluster",
    "Event", "Trace", "read_trace",
    "check_delivery", "DeliveryCheck", "sweep", "plot_sweep",
    "PmeshError", "ConfigError", "InvalidSubjectError", "ScenarioError", "NatsError",
    "NoRespondersError", "TimeoutError", "MaxPayloadError", "SlowConsumerError",
    "NoStreamResponseError", "MsgAlreadyAckdError", "ConnectionClosedError",
    "OutboundBufferLimitError",
    "ServerProcessError", "JetStreamError", "StreamNotFoundError", "ConsumerNotFoundError",
    "SimulationStuckError",
    "NotSimulatedError",
}


def test_public_names_are_pinned():
    assert set(pmesh_sim.__all__) == PUBLIC
    assert len(pmesh_sim.__all__) == len(PUBLIC)


def test_every_public_name_exists():
    for name in pmesh_sim.__all__:
        assert getattr(pmesh_sim, name) is not None, name


def test_importing_the_package_does_not_import_nats_py():
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", "import sys, pmesh_sim; print('nats' in sys.modules)"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_importing_the_package_does_not_import_dask():
    import subprocess
    import sys

    code = "import sys, pmesh_sim; print(any(m.split('.')[0] in ('dask', 'distributed') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"

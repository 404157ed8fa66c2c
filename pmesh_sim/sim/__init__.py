"""The SimPy shell: the simulation, its network, servers and clients.

>>> from pmesh_sim.sim import Simulation
>>> Simulation(seed=3).rng.random() == Simulation(seed=3).rng.random()
True
"""

from .client import Client, Msg, Subscription
from .server import Server
from .simulation import Simulation

__all__ = ["Simulation", "Server", "Client", "Subscription", "Msg"]

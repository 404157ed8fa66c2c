"""Figures of a run: matplotlib and networkx drawings of a trace from either backend.

Every function takes a :class:`~pmesh_sim.trace.Trace` (from the simulation or from a real
nats-server), draws on ``ax`` (a new figure when ``ax=None``), never calls ``plt.show()``, and
returns what it drew. ``window=(start, end)`` limits a figure to a span of the run's time (the
dashboard's time scrubber passes ``(0, t)``). A trace without the events a figure needs gives a
labelled empty figure, never a traceback.

The figure modules (added one concept each): ``topology``, ``sequence``, ``timeline`` (consumer),
``stream`` (stream state), ``guarantees``, ``animation``, ``raft`` (RAFT leaders and terms, faults shaded); ``dashboard`` (ipywidgets, imported
lazily).
"""

from __future__ import annotations

from .animation import TopologyAnimation, Trip, animate
from .guarantees import delivery_counts, draw_guarantees, guarantee_runs
from .layout import layered_positions
from .raft import RaftTimeline, draw_raft_timeline
from .sequence import SequenceDiagram, draw_sequence
from .stream import draw_stream_state
from .timeline import draw_consumer_timeline
from .topology import Topology, draw_topology, topology_graph

__all__ = ["SequenceDiagram", "Topology", "TopologyAnimation", "Trip", "animate", "draw_sequence",
           "draw_topology", "layered_positions", "topology_graph", "draw_consumer_timeline",
           "draw_stream_state", "draw_guarantees", "delivery_counts", "guarantee_runs",
           "RaftTimeline", "draw_raft_timeline", "Dashboard"]


def __getattr__(name: str):
    """``Dashboard`` is imported on first use, so the figures never need ipywidgets."""
    if name == "Dashboard":
        from .dashboard import Dashboard

        return Dashboard
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

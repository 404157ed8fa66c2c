"""Figures of a run: matplotlib and networkx drawings of a trace from either backend.

Every function takes a :class:`~pmesh_sim.trace.Trace` (from the simulation or from a real
nats-server), draws on ``ax`` (a new figure when ``ax=None``), never calls ``plt.show()``, and
returns what it drew. ``window=(start, end)`` limits a figure to a span of the run's time (the
dashboard's time scrubber passes ``(0, t)``). A trace without the events a figure needs gives a
labelled empty figure, never a traceback.

The figure modules (added one concept each): ``topology``, ``sequence``, ``timeline`` (consumer),
``stream`` (stream state), ``guarantees``, ``animation``; ``dashboard`` (ipywidgets, imported
lazily).
"""

from __future__ import annotations

from .guarantees import delivery_counts, draw_guarantees, guarantee_runs  # noqa: E402
from .stream import draw_stream_state  # noqa: E402
from .timeline import draw_consumer_timeline  # noqa: E402

__all__: list[str] = ["draw_consumer_timeline", "draw_stream_state", "draw_guarantees",
                      "delivery_counts", "guarantee_runs"]

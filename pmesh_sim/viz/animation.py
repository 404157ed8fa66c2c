"""An animation of messages moving over the topology: dots travel from the publisher through its
subject and the server (into a stream), out through a consumer and a subscription to the
subscriber, and acks travel back; show it in a notebook by ending a cell with ``anim`` (or
``HTML(anim.to_jshtml())``).

Each dot is one hop of :mod:`pmesh_sim.viz._flow`, coloured by kind as in the sequence diagram
(a black dot resting on a consumer is an ack_wait expiring). Time runs over ``window`` (or the
whole run) in ``frames`` equal steps; a hop shorter than three steps is slowed to three so that
it can be seen, and a message's hops keep their order: its deliveries wait for its publish to
arrive, and each consumer's deliveries, acks and expiries of it follow one another. The figure
is not registered with pyplot, so a notebook shows the animation only, not a stray still image.

>>> import matplotlib; matplotlib.use("Agg")
>>> from pmesh_sim.trace import Trace
>>> t = Trace(clock=lambda: 0.0)
>>> t.record(1.0, "publish", {"node": "n1", "client": "a", "subject": "x", "msg_id": 1})
>>> t.record(1.2, "deliver", {"node": "n1", "client": "b", "subject": "x", "msg_id": 1})
>>> anim = animate(t, frames=5)
>>> len(anim.trips), anim.trips[0].path
(2, ['publisher:a', 'subject:x', 'server:n1'])
>>> "<script" in anim.to_jshtml()
True
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
from matplotlib.animation import FuncAnimation

from ..trace import Trace
from ._common import empty, in_window
from ._flow import Hop, check, hops, internal
from .sequence import SEQUENCE_KINDS
from .topology import draw_topology, figure_size, topology_graph

if TYPE_CHECKING:  # pragma: no cover
    import networkx as nx
    from matplotlib.axes import Axes

__all__ = ["Trip", "TopologyAnimation", "animate"]

_SLOWEST = 3  # frames: the shortest a hop may take on screen


class Trip(NamedTuple):
    """One dot's journey: its kind, the graph nodes it passes and when (seconds) it does."""

    kind: str
    path: list[str]
    start: float
    end: float
    msg_id: Any


class TopologyAnimation(FuncAnimation):
    """A ``FuncAnimation`` that keeps its :class:`Trip` s (``trips``) and axes (``ax``), and
    shows itself in a notebook (as ``to_jshtml()``) when a cell ends with it."""

    trips: list[Trip]
    ax: "Axes"

    def _repr_html_(self) -> str:
        return self.to_jshtml()


def animate(trace: Trace, *, window: tuple[float, float] | None = None, frames: int = 30,
            interval: int = 200, dpi: int = 72) -> TopologyAnimation:
    """Animate ``trace``'s messages over its topology; returns a :class:`TopologyAnimation`.

    ``frames`` steps of ``interval`` milliseconds; 30 frames render with ``to_jshtml()`` in a
    few seconds.
    """
    from matplotlib.figure import Figure

    check(trace, window, frames=frames, interval=interval, dpi=dpi)
    g = topology_graph(trace, window=window)
    fig = Figure(figsize=figure_size(g), dpi=dpi, layout="constrained")
    ax = fig.add_subplot()
    drawn = draw_topology(trace, ax=ax, window=window)
    chosen = [h for h in hops(trace) if in_window(h.time, window)]
    trips = _trips(g, chosen, _SLOWEST * _step(chosen, window, frames))
    if not trips:
        ax.clear()
        empty(ax, "Messages moving over the topology",
              "no message to animate" + (" within the window" if window else "")
              + ": the trace has no publish or delivery")
        times = np.zeros(1)
    else:
        lo, hi = min(t.start for t in trips), max(t.end for t in trips)
        if window is not None:  # the window, within the run
            lo, hi = min(max(window[0], lo), hi), max(min(window[1], hi), lo)
        times = np.linspace(lo, hi, frames)
        _legend(ax, trips)
    ax.set_title("Messages moving over the topology", fontsize=11)
    if trips:
        _freeze(fig, ax)
        for box in drawn.nodes.values():  # the node names stay readable over the dots
            box.set_visible(True)
            box.set_zorder(7)
    dots = ax.scatter([], [], s=60, zorder=6, edgecolors="white", linewidths=0.8)
    clock = ax.text(0.01, 0.01, "", transform=ax.transAxes, fontsize=9, color="#333333")

    def update(i: int):
        offsets, colours = _frame(trips, drawn.pos, float(times[i]))
        dots.set_offsets(offsets if len(offsets) else np.empty((0, 2)))
        dots.set_color(colours)
        clock.set_text(_caption(trips, float(times[i])) if trips else "")
        return dots, clock

    anim = TopologyAnimation(fig, update, frames=len(times), interval=interval, blit=False)
    anim.trips, anim.ax = trips, ax
    return anim


def _freeze(fig, ax) -> None:
    """Draw the still topology once into a picture behind the axes, so that each frame
    draws only the dots and the node names (several times faster to render)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    picture = np.asarray(canvas.buffer_rgba()).copy()
    fig.set_layout_engine("none")
    for artist in ax.get_children():
        artist.set_visible(False)
    fig.figimage(picture, zorder=-1, origin="upper")


def _step(chosen: list[Hop], window, frames: int) -> float:
    """Seconds of trace time per frame."""
    times = [t for h in chosen for t in (h.t0, h.t1)] or [0.0, 1.0]
    lo, hi = min(times), max(times)
    if window is not None:
        lo, hi = max(window[0], lo), min(window[1], hi)
    return max(hi - lo, 1e-9) / max(frames - 1, 1)


def _trips(g: "nx.DiGraph", chosen: list[Hop], slowest: float) -> list[Trip]:
    """The journey of each hop over ``g``. A message's deliveries wait for its publish to
    arrive (and cross a route first if they must), and each consumer's deliveries, acks and
    expiries of it follow one another."""
    published: dict[Any, float] = {}
    chain: dict[tuple, float] = {}
    out = []
    for h in sorted(chosen, key=lambda h: (_when(h), h.kind != "timeout")):
        path = _path(g, h)
        if path is None:
            continue
        key = (h.msg_id, h.fields.get("consumer") or h.fields.get("client"))
        start = max(_when(h), chain.get(key, -np.inf))
        if h.kind in ("deliver", "redeliver", "route"):
            start = max(start, published.get(h.msg_id, -np.inf),
                        published.get((h.msg_id, h.src), -np.inf))
        end = max(h.t1, start + slowest) if h.kind != "timeout" else start + slowest
        out.append(Trip(h.kind, path, start, end, h.msg_id))
        if h.kind == "publish":
            published[h.msg_id] = end
        elif h.kind == "route":
            published[(h.msg_id, h.dst)] = end
        else:
            chain[key] = end
    return out


def _when(h: Hop) -> float:
    """When a hop starts moving: an ack_wait expiry shows at its end."""
    return h.t1 if h.kind == "timeout" else h.t0


_BACK = ("ack", "nak", "term", "in_progress")
#: How far above its node a dot that stays at one node is drawn (in layout units; rows are 1 apart).
_ABOVE = 0.3


def _path(g: "nx.DiGraph", h: Hop) -> list[str] | None:
    """The graph nodes ``h`` passes, or ``None`` if it is not on the topology."""
    f = h.fields
    stream, consumer = f.get("stream"), f.get("consumer")
    where = f"consumer:{stream}/{consumer}" if consumer else None
    if h.kind == "publish":
        if internal(f.get("subject")):
            return None
        path = [f"publisher:{h.src[1]}", f"subject:{f.get('subject')}", f"server:{h.dst[1]}"]
        stored = [v for v in g.successors(path[-1]) if g.nodes[v]["role"] == "stream"
                  and g.edges[path[-1], v]["count"]] if path[-1] in g else []
        return _known(g, path + stored[:1])
    if h.kind in ("deliver", "redeliver"):
        if not consumer and internal(f.get("subject")):  # an API reply or pub ack's inbox
            return None
        source = where if consumer else f"server:{h.src[1]}"
        head = [f"stream:{stream}"] if consumer else []
        return _known(g, head + _via(g, source, f"subscriber:{h.dst[1]}"))
    if h.kind in _BACK and consumer:
        return _known(g, list(reversed(_via(g, where, f"subscriber:{h.src[1]}"))))
    if h.kind == "timeout" and consumer:
        return _known(g, [where])
    if h.kind == "route":
        return _known(g, [f"server:{h.src[1]}", f"server:{h.dst[1]}"])
    if h.kind == "lost":  # a dot that vanishes on the first leg
        if h.src[0] == "client":
            return _known(g, [f"publisher:{h.src[1]}", f"subject:{f.get('subject')}"])
        return _known(g, _via(g, f"server:{h.src[1]}", f"subscriber:{h.dst[1]}")[:2])
    return None


def _via(g: "nx.DiGraph", a: str, b: str) -> list[str]:
    """``[a, b]``, or ``[a, m, b]`` through the subscription ``m`` that joins them."""
    if a in g and not g.has_edge(a, b):
        for m in g.successors(a):
            if g.has_edge(m, b):
                return [a, m, b]
    return [a, b]


def _known(g: "nx.DiGraph", path: list[str]) -> list[str] | None:
    return path if path and all(n in g for n in path) else None


def _frame(trips: list[Trip], pos: dict, now: float):
    """The dots' positions and colours at ``now``."""
    offsets, colours = [], []
    for trip in trips:
        if trip.start <= now <= trip.end:
            share = (now - trip.start) / ((trip.end - trip.start) or 1.0)
            offsets.append(_along([pos[n] for n in trip.path], share))
            colours.append(SEQUENCE_KINDS[trip.kind])
    return np.array(offsets), colours


def _along(points: list[tuple[float, float]], share: float) -> tuple[float, float]:
    """The point ``share`` (0–1) of the way along the polyline through ``points``."""
    if len(points) == 1:  # an expiry, at its consumer: above the box, which hides its centre
        return points[0][0], points[0][1] + _ABOVE
    legs = len(points) - 1
    leg = min(int(share * legs), legs - 1)
    local = share * legs - leg
    (x0, y0), (x1, y1) = points[leg], points[leg + 1]
    return x0 + local * (x1 - x0), y0 + local * (y1 - y0)


def _legend(ax, trips: list[Trip]) -> None:
    from matplotlib.lines import Line2D

    kinds = [k for k in SEQUENCE_KINDS if any(t.kind == k for t in trips)]
    ax.legend(handles=[Line2D([], [], marker="o", linestyle="", color=SEQUENCE_KINDS[k],
                              label="ack_wait expired" if k == "timeout" else k.replace("_", " "))
                       for k in kinds], loc="lower right", fontsize=8, ncol=len(kinds),
              frameon=False, handletextpad=0.2, columnspacing=0.8)


def _caption(trips: list[Trip], now: float) -> str:
    """The time and how many of each kind of hop have arrived (only the kinds in the run)."""
    words = {"publish": "published", "deliver": "delivered", "redeliver": "redelivered",
             "ack": "acked", "nak": "nakked", "term": "termed"}
    done = [f"{word} {sum(1 for t in trips if t.kind == kind and t.end <= now)}"
            for kind, word in words.items() if any(t.kind == kind for t in trips)]
    return f"t = {now:.3f} s   " + " · ".join(done)

"""Topology: who publishes on which subjects, which server, streams and consumers carry them,
and which subscriptions (wildcards, queue groups) hand them to which clients.

:func:`topology_graph` reads a trace into a networkx ``DiGraph``; :func:`draw_topology` draws it
in columns, left to right (:func:`~pmesh_sim.viz.layout.layered_positions`)::

    publishers → subjects → server → streams → consumers → subscriptions → subscribers

Nodes are named ``"<role>:<name>"`` (``publisher:shop``, ``subject:orders.new``,
``server:n1``, ``stream:ORDERS``, ``consumer:ORDERS/worker``, ``subscriber:worker1``) and carry
``role``, ``layer`` and ``label``. A client that both publishes and receives appears twice, as
a publisher and as a subscriber. A subscription is one node per client and sid, except that a
queue group's members share one node (``subscription:temps.>|workers``): the fan-out shows the
group. Edges carry ``kind`` (publish, route, store, deliver, subscribe) and ``count``, the
messages that crossed them within ``window``; subscriptions, streams and consumers created up to
the window's end are shown even if nothing crossed them. Internal subjects (``$JS.…``,
``_INBOX.…``) are left out. Works from the client-layer kinds alone (the real backend's trace);
the simulation's ``stream_created``, ``consumer_created`` and ``store`` add streams and consumers
that no message reached yet.

>>> t = Trace(clock=lambda: 0.0)
>>> for c in ("w1", "w2"):
...     t.record(0.0, "subscribe", {"node": "n1", "client": c, "sid": 1, "subject": "temps.>",
...                                 "queue": "workers"})
>>> t.record(1.0, "publish", {"node": "n1", "client": "sensor", "subject": "temps.a", "msg_id": 1})
>>> t.record(1.1, "deliver", {"node": "n1", "client": "w2", "sid": 1, "subject": "temps.a",
...                           "msg_id": 1})
>>> g = topology_graph(t)
>>> sorted(g.successors("subscription:temps.>|workers"))
['subscriber:w1', 'subscriber:w2']
>>> g.edges["publisher:sensor", "subject:temps.a"]["count"]
1
>>> import matplotlib; matplotlib.use("Agg")
>>> draw_topology(t)
Topology(6 nodes, 5 edges)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple

from ..trace import Trace
from ._common import KIND_COLOURS, axes, empty, in_window
from ._flow import check, hops, internal
from .layout import layered_positions

if TYPE_CHECKING:  # pragma: no cover
    import networkx as nx
    from matplotlib.axes import Axes

__all__ = ["Topology", "draw_topology", "topology_graph", "ROLES"]

#: The columns, left to right: role -> (layer, column heading, face colour, edge colour).
ROLES = {
    "publisher": (0, "publishers", "#D6E9F8", KIND_COLOURS["publish"]),
    "subject": (1, "subjects", "#FFFFFF", "#555555"),
    "server": (2, "server", "#E0E0E0", "#333333"),
    "stream": (3, "streams", "#FBF6C8", "#B8A800"),
    "consumer": (4, "consumers", "#D5F0E6", KIND_COLOURS["deliver"]),
    "subscription": (5, "subscriptions", "#FFFFFF", KIND_COLOURS["deliver"]),
    "subscriber": (6, "subscribers", "#D5F0E6", KIND_COLOURS["deliver"]),
}
_NEEDS = {"stream_created": "stream", "consumer_created": "stream", "subscribe": "subject"}
_EDGE_COLOURS = {"publish": KIND_COLOURS["publish"], "route": "#333333", "store": "#B8A800",
                 "deliver": KIND_COLOURS["deliver"], "subscribe": "#AAAAAA"}


class Topology(NamedTuple):
    """What :func:`draw_topology` drew: the graph, its positions and the artists."""

    ax: "Axes"
    graph: "nx.DiGraph"
    pos: dict[str, tuple[float, float]]
    nodes: dict[str, Any]   # node -> its label box (a matplotlib Text)
    edges: dict[tuple[str, str], Any]  # (u, v) -> its arrow (a matplotlib Annotation)

    def __repr__(self) -> str:  # short: a notebook cell ending in a call shows this
        return f"Topology({len(self.graph)} nodes, {self.graph.number_of_edges()} edges)"


def topology_graph(trace: Trace, *, window: tuple[float, float] | None = None) -> "nx.DiGraph":
    """The topology of ``trace`` as a ``DiGraph`` (see the module docstring for its names)."""
    import networkx as nx

    check(trace, window)
    g = nx.DiGraph()
    end = None if window is None else window[1]
    subs = _structure(g, trace, end)
    stored = {e.fields.get("msg_id"): e.fields.get("stream")
              for e in trace if e.kind in ("store", "pub_ack") and e.fields.get("stream")}
    for h in hops(trace):
        if not in_window(h.time, window):
            continue
        f = h.fields
        if not f.get("subject") and h.kind in ("publish", "lost"):
            continue
        if h.kind == "publish" and not internal(f.get("subject")):
            server = _node(g, "server", h.dst[1])
            path = [_node(g, "publisher", h.src[1]), _node(g, "subject", f["subject"]), server]
            _flow(g, path, "publish")
            if h.msg_id in stored:
                _flow(g, [server, _node(g, "stream", stored[h.msg_id])], "store")
        elif h.kind in ("deliver", "redeliver"):
            _delivery(g, h, subs)
        elif h.kind == "route":
            _flow(g, [_node(g, "server", h.src[1]), _node(g, "server", h.dst[1])], "route")
        elif h.kind == "lost" and h.src[0] == "client" and not internal(f.get("subject")):
            _flow(g, [_node(g, "publisher", h.src[1]), _node(g, "subject", f["subject"])],
                  "publish")  # published, but lost before the server
    _prune(g)
    return g


def _prune(g: "nx.DiGraph") -> None:
    """Drop the idle server -> subscription edge of a subscription fed by a consumer."""
    for node in [n for n in g if g.nodes[n]["role"] == "subscription"]:
        incoming = list(g.in_edges(node, data="count"))
        if any(count for *_, count in incoming):
            g.remove_edges_from([(u, v) for u, v, count in incoming if not count])


def _structure(g: "nx.DiGraph", trace: Trace, end: float | None) -> dict:
    """Add the streams, consumers and subscriptions created up to ``end``; return the
    subscriptions by (client, sid)."""
    subs: dict[tuple, str] = {}
    for e in trace:
        f = e.fields
        if end is not None and e.time > end or e.kind in _NEEDS and not f.get(_NEEDS[e.kind]):
            continue  # later than the window, or a record without the field it needs
        if e.kind == "stream_created":
            _flow(g, [_node(g, "server", f.get("node", "server")),
                      _node(g, "stream", f["stream"], subjects=f.get("subjects"))], "subscribe", 0)
        elif e.kind == "consumer_created" and f.get("consumer"):
            _flow(g, [_node(g, "stream", f["stream"]),
                      _node(g, "consumer", f"{f['stream']}/{f['consumer']}")], "subscribe", 0)
        elif e.kind == "subscribe" and f.get("client") and not internal(f.get("subject")):
            sub = _subscription(g, f)
            subs[(f.get("client"), f.get("sid"))] = sub
            _flow(g, [_node(g, "server", f.get("node", "server")), sub,
                      _node(g, "subscriber", f["client"])], "subscribe", 0)
    return subs


def _subscription(g: "nx.DiGraph", f: dict) -> str:
    subject, queue = f["subject"], f.get("queue") or ""
    name = f"{subject}|{queue}" if queue else f"{subject}|{f.get('client')}#{f.get('sid')}"
    label = subject + (f"\nqueue group {queue}" if queue else "")
    if "*" in subject.split(".") or subject.split(".")[-1] == ">":
        label += "\n(wildcard)"
    return _node(g, "subscription", name, label=label)


def _delivery(g: "nx.DiGraph", h, subs: dict) -> None:
    f = h.fields
    jetstream = f.get("consumer") and f.get("stream")
    if not jetstream and internal(f.get("subject")):
        return
    sub = subs.get((f.get("client"), f.get("sid")))
    tail = ([sub] if sub else []) + [_node(g, "subscriber", h.dst[1])]
    if jetstream:
        stream, consumer = f["stream"], f"{f['stream']}/{f['consumer']}"
        _flow(g, [_node(g, "stream", stream), _node(g, "consumer", consumer)] + tail, "deliver")
    else:
        _flow(g, [_node(g, "server", h.src[1])] + tail, "deliver")


def _node(g: "nx.DiGraph", role: str, name: str, label: str | None = None,
          subjects: list | None = None) -> str:
    node = f"{role}:{name}"
    if node not in g:
        if label is None:
            label = name.split("/")[-1] if role == "consumer" else name
        g.add_node(node, role=role, layer=ROLES[role][0], label=label)
    if subjects:
        g.nodes[node]["label"] = f"{name}\n({' '.join(subjects)})"
    return node


def _flow(g: "nx.DiGraph", path: list[str], kind: str, count: int = 1) -> None:
    """Add ``count`` messages along ``path``; the first kind given to an edge other than
    ``subscribe`` names it."""
    for u, v in zip(path, path[1:]):
        if g.has_edge(u, v):
            g.edges[u, v]["count"] += count
            if g.edges[u, v]["kind"] == "subscribe" and kind != "subscribe":
                g.edges[u, v]["kind"] = kind
        else:
            g.add_edge(u, v, kind=kind, count=count)


def draw_topology(trace: Trace, *, ax: "Axes | None" = None,
                  window: tuple[float, float] | None = None) -> Topology:
    """Draw the topology of ``trace``; returns a :class:`Topology` (ax, graph, pos, artists).

    An arrow is labelled with the number of messages that crossed it within ``window`` (unless
    it only repeats the number on the one arrow before it); its width grows with the number; a
    dashed grey arrow is a subscription or stream that nothing has reached yet.
    """
    g = topology_graph(trace, window=window)
    pos = layered_positions(g)
    columns = len({g.nodes[n]["layer"] for n in g}) or 1
    ax = axes(ax, figsize=figure_size(g))
    title = "Topology: who publishes what, and who receives it" + _span(window)
    if not len(g):
        empty(ax, title, "nothing to draw: no publish, subscribe, stream or delivery "
              "in this trace" + (" within the window" if window else ""))
        return Topology(ax, g, pos, {}, {})
    nodes = _draw_nodes(ax, g, pos)
    edges = _draw_edges(ax, g, nodes, pos)
    ax.set_title(title + "\narrows: messages carried (dashed: none yet)", fontsize=11)
    ax.set_xlim(-0.6, columns - 0.4)
    ys = [y for _, y in pos.values()]
    ax.set_ylim(min(ys) - 0.7, max(ys) + 0.9)
    ax.axis("off")
    return Topology(ax, g, pos, nodes, edges)


def figure_size(g: "nx.DiGraph") -> tuple[float, float]:
    """Inches that fit ``g``'s columns and its tallest column."""
    rows = max((sum(1 for n in g if g.nodes[n]["layer"] == layer) for layer, *_ in
                ROLES.values()), default=1)
    columns = len({g.nodes[n]["layer"] for n in g}) or 1
    return max(7.0, 2.1 * columns), min(12.0, max(3.5, 0.8 * rows + 1.8))


def _draw_nodes(ax: "Axes", g: "nx.DiGraph", pos: dict) -> dict[str, Any]:
    nodes, headed = {}, set()
    top = max(y for _, y in pos.values()) + 0.6
    for node, data in g.nodes(data=True):
        _, heading, face, edge = ROLES[data["role"]]
        x, y = pos[node]
        nodes[node] = ax.text(x, y, data["label"], ha="center", va="center", fontsize=9,
                              zorder=1, bbox=dict(boxstyle="round,pad=0.4", fc=face, ec=edge,
                                                  lw=1.5 if data["role"] != "server" else 2.5))
        if x not in headed:
            headed.add(x)
            if data["role"] == "server" and sum(pos[n][0] == x for n in g) > 1:
                heading = "servers"
            ax.text(x, top, heading, ha="center", va="bottom", fontsize=10,
                    fontweight="bold", color="#444444")
    return nodes


def _draw_edges(ax: "Axes", g: "nx.DiGraph", nodes: dict, pos: dict) -> dict:
    edges = {}
    for u, v, data in g.edges(data=True):
        count = data["count"]
        colour = _EDGE_COLOURS[data["kind"]] if count else "#AAAAAA"
        same_column = pos[u][0] == pos[v][0]  # server to server: bow out of the column
        props = dict(arrowstyle="-|>", color=colour, lw=1.0 + min(count, 20) / 6,
                     linestyle="-" if count else "--", shrinkA=2, shrinkB=2,
                     connectionstyle=f"arc3,rad={0.4 if same_column else 0}",
                     patchA=nodes[u].get_bbox_patch(), patchB=nodes[v].get_bbox_patch())
        edges[u, v] = ax.annotate("", xy=pos[v], xytext=pos[u], arrowprops=props, zorder=2)
        if count and not _repeats(g, u, count):
            (x0, y0), (x1, y1) = pos[u], pos[v]
            # near the end with fewer edges, where labels do not crowd
            share = 0.56 if g.out_degree(u) > g.in_degree(v) else 0.44
            x, y = x0 + share * (x1 - x0), y0 + share * (y1 - y0)
            if same_column:
                x, y = x0 + 0.1 * (y1 - y0), (y0 + y1) / 2
            ax.text(x, y, f"{count}", fontsize=8,
                    ha="center", va="center", color=colour, zorder=3,
                    bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none"))
    return edges


def _repeats(g: "nx.DiGraph", u: str, count: int) -> bool:
    """Whether an edge out of ``u`` carries just what ``u``'s one way in carried (its count
    would say nothing new)."""
    incoming = list(g.in_edges(u, data="count"))
    return len(incoming) == 1 and incoming[0][2] == count and g.out_degree(u) == 1


def _span(window: tuple[float, float] | None) -> str:
    return "" if window is None else f" (t = {window[0]:g}–{window[1]:g} s)"

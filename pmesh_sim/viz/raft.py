"""RAFT groups over time: who leads each group in which term, elections, stepdowns, and the
faults that caused them.

One row per RAFT group (the meta group first). A coloured band per ``raft_leader`` record
(one colour per node) runs until that leader steps down, is killed or loses power; its term is
written on it. A leader elected while an old one still believes it leads (a partitioned
leader before it notices) is drawn as a thinner band: two nodes think they lead. Elections
(``raft_election``) are small triangles, stepdowns (``raft_stepdown``) crosses. Faults are
shaded across all rows: a node down (``kill``/``power_loss`` until its ``restart``), paused
(``pause`` until ``resume``), or a ``partition`` (until ``heal``).

>>> from pmesh_sim.trace import Trace
>>> t = Trace(clock=lambda: 0.0)
>>> for time, kind, f in [(1, "raft_leader", {"node": "n1", "group": "G", "term": 1}),
...                       (2, "kill", {"node": "n1"}),
...                       (4, "raft_leader", {"node": "n2", "group": "G", "term": 2}),
...                       (6, "restart", {"node": "n1"})]:
...     t.record(time, kind, f)
>>> leader_spans(t)
[('G', 'n1', 1, 1, 2), ('G', 'n2', 2, 4, 6)]
>>> fault_spans(t)
[('n1 down', 2, 6)]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ._common import axes, empty, in_window

__all__ = ["RaftTimeline", "draw_raft_timeline", "fault_spans", "leader_spans"]

#: A colour per node, in order of appearance (Okabe-Ito).
_NODE_COLOURS = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442"]
#: Fault kinds that start a shaded span, the kind that ends it, and the span's label.
_FAULTS = {"kill": ("restart", "down"), "power_loss": ("restart", "power lost"),
           "pause": ("resume", "paused"), "partition": ("heal", "partition")}
_FAULT_COLOURS = {"down": "#D55E00", "power lost": "#D55E00", "paused": "#999999",
                  "partition": "#CC79A7"}
_RAFT_KINDS = ("raft_leader", "raft_election", "raft_stepdown")


@dataclass
class RaftTimeline:
    """What :func:`draw_raft_timeline` drew."""

    ax: Any
    groups: list[str] = field(default_factory=list)   #: the rows, top to bottom
    bands: list[Any] = field(default_factory=list)    #: a Rectangle per leader span
    terms: list[Any] = field(default_factory=list)    #: a Text per leader span
    elections: Any = None                             #: PathCollection of raft_election
    stepdowns: Any = None                             #: PathCollection of raft_stepdown
    faults: list[Any] = field(default_factory=list)   #: a Polygon (axvspan) per fault span


def _end(trace) -> float:
    return max((e.time for e in trace), default=0.0)


def leader_spans(trace, group: str | None = None,
                 until: float | None = None) -> list[tuple[str, str, int, float, float]]:
    """``(group, node, term, start, end)`` for each ``raft_leader`` record, in trace order
    (``end``: ``until`` or the trace's last time for a leader still leading)."""
    end_of_run = _end(trace) if until is None else until
    spans = []
    events = list(trace)
    for i, e in enumerate(events):
        if e.kind != "raft_leader" or (group is not None and e.fields.get("group") != group):
            continue
        g, node, term = e.fields.get("group"), e.fields.get("node"), e.fields.get("term")
        end = end_of_run
        for later in events[i + 1:]:
            f = later.fields
            if ((later.kind in ("kill", "power_loss") and f.get("node") == node)
                    or (later.kind in ("raft_stepdown", "raft_leader") and f.get("group") == g
                        and f.get("node") == node)):
                end = later.time
                break
        spans.append((g, node, term, e.time, end))
    return spans


def fault_spans(trace) -> list[tuple[str, float, float]]:
    """``(label, start, end)`` for each fault: a node down, paused, or a partition (``end``:
    its restart, resume or heal, or the end of the trace)."""
    end_of_run = _end(trace)
    spans = []
    events = list(trace)
    for i, e in enumerate(events):
        if e.kind not in _FAULTS:
            continue
        closer, what = _FAULTS[e.kind]
        node = e.fields.get("node", "")
        label = (f"partition {e.fields.get('groups', '')}" if e.kind == "partition"
                 else f"{node} {what}")
        end = next((later.time for later in events[i + 1:] if later.kind == closer
                    and (closer == "heal" or later.fields.get("node") == node)), end_of_run)
        spans.append((label, e.time, end))
    return spans


def _label(group: str) -> str:
    return "meta" if group == "_meta_" else group


def draw_raft_timeline(trace, *, group: str | None = None, ax=None,
                       window: tuple[float, float] | None = None) -> RaftTimeline:
    """Draw the leaders and terms of every RAFT group of ``trace`` (or only ``group``) over
    time, faults shaded; returns a :class:`RaftTimeline`.

    A leader band is drawn for each ``raft_leader`` record whose time is in ``window``.
    """
    title = "RAFT leaders and terms" + (f" of {group}" if group else "")
    raft = [e for e in trace if e.kind in _RAFT_KINDS
            and (group is None or e.fields.get("group") == group)]
    if not raft:
        return RaftTimeline(empty(axes(ax), title, "no RAFT records: run a cluster "
                                  "(sim.add_cluster(3, jetstream=True)) to see elections"))
    groups = list(dict.fromkeys(e.fields.get("group") for e in raft))
    row = {g: len(groups) - 1 - i for i, g in enumerate(groups)}
    nodes = sorted({e.fields.get("node") for e in raft})
    colour = {n: _NODE_COLOURS[i % len(_NODE_COLOURS)] for i, n in enumerate(nodes)}
    start, stop = window if window is not None else (0.0, _end(trace))
    ax = axes(ax, (10.0, 1.2 + 0.8 * len(groups)))
    out = RaftTimeline(ax, groups=groups)
    for label, begin, end in fault_spans(trace):
        if begin > stop or end < start:
            continue
        kind = "partition" if label.startswith("partition") else label.split(" ", 1)[1]
        out.faults.append(ax.axvspan(max(begin, start), min(end, stop), alpha=0.15, lw=0,
                                     color=_FAULT_COLOURS[kind]))
        ax.text(max(begin, start), len(groups) - 0.45, " " + label, fontsize=8, va="bottom",
                color=_FAULT_COLOURS[kind])
    drawn: dict[str, list[float]] = {}   # group -> ends of its bands so far
    label_room = (stop - start) * 0.06   # keeps two terms' labels from overlapping
    next_label: dict[str, float] = {}
    for g, node, term, begin, end in leader_spans(trace, group, until=max(stop, _end(trace))):
        if not in_window(begin, window):
            continue
        overlaps = any(begin < other for other in drawn.setdefault(g, []))
        drawn[g].append(end)
        y, height = (row[g] - 0.12, 0.26) if overlaps else (row[g], 0.5)
        band = ax.barh(y, min(end, stop) - begin, left=begin, height=height,
                       color=colour[node], alpha=0.85)
        band.patches[0].set_label(node)
        out.bands.append(band.patches[0])
        x = max(begin, next_label.get(g, begin))
        next_label[g] = x + label_room
        out.terms.append(ax.text(x, row[g] + 0.3, f"term {term}", fontsize=8, va="bottom"))
    out.elections = _markers(ax, raft, "raft_election", row, window, "v", "#000000",
                             "election")
    out.stepdowns = _markers(ax, raft, "raft_stepdown", row, window, "x", "#D55E00",
                             "stepdown")
    ax.set_yticks(range(len(groups)), [_label(g) for g in reversed(groups)])
    ax.set_ylim(-0.6, len(groups) - 0.1)
    ax.set_xlim(start, max(stop, start + 1e-3))
    ax.set_xlabel("time (s)")
    ax.set_title(title + ": a fault (shaded) ends a leader's band; a new term begins")
    handles = {h.get_label(): h for h in sorted(out.bands, key=lambda b: b.get_label())}
    handles.update({h.get_label(): h for h in (out.elections, out.stepdowns)
                    if len(h.get_offsets())})
    ax.legend(list(handles.values()), list(handles),
              loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, title="leader / event")
    return out


def _markers(ax, raft, kind, row, window, marker, colour, label):
    points = [(e.time, row[e.fields.get("group")]) for e in raft
              if e.kind == kind and in_window(e.time, window)]
    xs = [p[0] for p in points]
    ys = [p[1] - 0.3 for p in points]
    return ax.scatter(xs, ys, marker=marker, color=colour, s=28, zorder=3, label=label)

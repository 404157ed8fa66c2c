"""The consumer timeline: each message of one JetStream consumer, a row per stream sequence.

A row shows the message's deliveries (a redelivery in orange), the ack_wait window that each
delivery opens (shaded until an ack, nak or term closes it, or until it expires), the acks,
naks, terms and in_progress the consumer got, and the ack_wait expiries. The panel below shows
the ack floor and ``num_ack_pending`` over time, derived from the trace (delivered and acked
stream sequences).

On a simulation trace the figure shows the consumer's side (``js_deliver``, ``js_ack``,
``ack_timeout``: what the server did, also for deliveries and acks the network lost); on a
real server's trace, the client's side (``deliver`` and ``ack``), and expiries are the ends
of windows that nothing closed.

>>> from pmesh_sim.trace import Trace
>>> t = Trace(clock=lambda: 0.0)
>>> for time, kind, seq in [(0.1, "deliver", 1), (0.2, "deliver", 2), (0.3, "ack", 1)]:
...     t.record(time, kind, {"node": "n1", "client": "c", "stream": "S", "consumer": "w",
...                           "stream_seq": seq, "msg_id": seq, "num_delivered": 1,
...                           "action": "ack"})
>>> ack_floor_series(consumer_events(t, "w"))
[(0.1, 0, 1), (0.2, 0, 2), (0.3, 1, 1)]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ._common import KIND_COLOURS, axes, empty, in_window

__all__ = ["ConsumerTimeline", "ConsumerEvents", "consumer_events", "ack_floor_series",
           "draw_consumer_timeline"]

#: ack_wait when neither the caller nor the trace gives one (nats-server's default).
DEFAULT_ACK_WAIT = 30.0
#: The acks that end a message's life in the consumer (it leaves num_ack_pending).
_DONE = ("ack", "term")
_MARKERS = {  # kind -> (marker, size, label)
    "deliver": ("o", 80, "delivered"),
    "redeliver": ("o", 100, "redelivered"),
    "ack": ("s", 24, "ack"),
    "nak": ("v", 55, "nak"),
    "term": ("X", 60, "term"),
    "in_progress": (">", 50, "in_progress"),
    "timeout": ("x", 70, "ack_wait expired"),
}
_WINDOW = "#cfe3f0"          # an ack_wait window something closed
_EXPIRED = "#f6cdb8"         # an ack_wait window that expired


@dataclass
class ConsumerEvents:
    """One consumer's events from a trace, in time order, from one point of view."""

    stream: str
    consumer: str
    view: str                                    #: "server" (simulation) or "client"
    deliveries: list[tuple[float, int, int]]     #: (time, stream_seq, num_delivered)
    acks: list[tuple[float, int, str]]           #: (time, stream_seq, action)
    timeouts: list[tuple[float, int]] = field(default_factory=list)  #: recorded expiries


@dataclass
class ConsumerTimeline:
    """What :func:`draw_consumer_timeline` drew."""

    ax: Any                                      #: the messages panel
    floor_ax: Any = None                         #: the ack floor / num_ack_pending panel
    markers: dict[str, Any] = field(default_factory=dict)   #: kind -> PathCollection
    windows: Any = None                          #: the ack_wait windows (a LineCollection)
    ack_floor: Any = None                        #: Line2D
    ack_pending: Any = None                      #: Line2D
    ack_wait: float | None = None
    view: str | None = None


def _consumer_names(trace) -> list[tuple[str, str]]:
    names = set()
    for e in trace:
        if "consumer" in e.fields and "stream" in e.fields and e.kind != "advisory":
            names.add((e.fields["stream"], e.fields["consumer"]))
    return sorted(names)


def consumer_events(trace, consumer: str, stream: str | None = None) -> ConsumerEvents | None:
    """``consumer``'s deliveries, acks and expiries (``None`` if the trace has none of it).

    The server's records (``js_deliver``, ``js_ack``, ``ack_timeout``) when the trace has
    them, else the client's (``deliver``, ``ack``; ``ack_sync`` counts as ``ack``).
    """
    def mine(f):
        return f.get("consumer") == consumer and (stream is None or f.get("stream") == stream)

    server = any(e.kind == "js_deliver" and mine(e.fields) for e in trace)
    kinds = ("js_deliver", "js_ack", "ack_timeout") if server else ("deliver", "ack", "")
    out = ConsumerEvents(stream or "", consumer, "server" if server else "client", [], [])
    for e in trace:
        f = e.fields
        if e.kind not in kinds or not mine(f):
            continue
        out.stream = f.get("stream", out.stream)
        if e.kind == kinds[0]:
            out.deliveries.append((e.time, f["stream_seq"], f.get("num_delivered", 1)))
        elif e.kind == kinds[1]:
            action = f.get("action", "ack")
            out.acks.append((e.time, f["stream_seq"], "ack" if action == "ack_sync" else action))
        else:
            out.timeouts.append((e.time, f["stream_seq"]))
    return out if out.deliveries or out.acks else None


def ack_floor_series(events: ConsumerEvents) -> list[tuple[float, int, int]]:
    """``(time, ack_floor, num_ack_pending)`` after each delivery and ack, in time order.

    The ack floor is the highest acked (or terminated) stream sequence below every delivered
    message still waiting for its ack; ``num_ack_pending`` counts those waiting messages (a
    nak'd message waits too).
    """
    changes = sorted([(t, 0, seq, "deliver") for t, seq, _ in events.deliveries]
                     + [(t, 1, seq, a) for t, seq, a in events.acks])
    pending: set[int] = set()
    done: set[int] = set()
    series = []
    for t, _, seq, what in changes:
        if what == "deliver" and seq not in done:
            pending.add(seq)
        elif what in _DONE:
            pending.discard(seq)
            done.add(seq)
        low = min(pending) if pending else None
        floor = max((s for s in done if low is None or s < low), default=0)
        series.append((t, floor, len(pending)))
    return series


def _windows(events: ConsumerEvents, ack_wait: float):
    """The ack_wait windows ``(start, end, seq, expired)`` and the computed expiries."""
    by_seq: dict[int, list] = {}
    for t, seq, _ in events.deliveries:
        by_seq.setdefault(seq, []).append((t, 0, "deliver"))
    for t, seq, action in events.acks:
        by_seq.setdefault(seq, []).append((t, 1, action))
    windows = []
    for seq, items in by_seq.items():
        start = deadline = None
        for t, _, what in sorted(items):
            if start is not None and t > deadline:             # it expired before this
                windows.append((start, deadline, seq, True))
                start = None
            if what == "deliver":
                if start is not None:  # redelivered while still pending: it expired
                    windows.append((start, min(t, deadline), seq, True))
                start, deadline = t, t + ack_wait
            elif start is not None and what == "in_progress":
                deadline = t + ack_wait
            elif start is not None:
                windows.append((start, t, seq, False))
                start = None
        if start is not None:
            windows.append((start, deadline, seq, True))
    return windows


def _inferred_ack_wait(ev: ConsumerEvents) -> float | None:
    """The shortest time from a delivery to its recorded expiry (no in_progress between); a
    redelivery at the expiry's own instant (a waiting pull served at once) comes after it."""
    waits = []
    for t, seq in ev.timeouts:
        marks = [(d, "d") for d, s, _ in ev.deliveries if s == seq and d < t]
        marks += [(a, "a") for a, s, x in ev.acks if s == seq and x == "in_progress" and a <= t]
        if marks and max(marks)[1] == "d":
            waits.append(t - max(marks)[0])
    return round(min(waits), 6) if waits else None


def _recorded_ack_wait(trace, ev: ConsumerEvents) -> float | None:
    for e in trace:
        f = e.fields
        if (e.kind in ("consumer_config", "consumer_created") and f.get("consumer") == ev.consumer
                and f.get("stream") == ev.stream):
            wait = f.get("ack_wait", (f.get("config") or {}).get("ack_wait"))
            if wait:
                return float(wait)
    return None


def draw_consumer_timeline(trace, consumer: str, *, stream: str | None = None, ax=None,
                           window: tuple[float, float] | None = None,
                           ack_wait: float | None = None) -> ConsumerTimeline:
    """Draw ``consumer``'s messages (a row per stream sequence) and its ack floor below.

    ``ax``: ``None`` (a new figure with both panels), a pair of Axes ``(messages, floor)``, or
    one Axes (its place is split into the two panels; see the returned ``ax``/``floor_ax``).
    ``ack_wait`` (seconds): given, or the consumer's config in the trace (an ``ack_wait``
    field of ``consumer_config``), or measured from delivery to recorded expiry
    (``ack_timeout``), else 30 s (the server's default); the subtitle says which.
    An empty trace, a consumer without deliveries, an unknown name (the message lists the
    consumers the trace has) or a window with nothing in it gives a labelled empty figure;
    nothing raises.
    """
    names = _consumer_names(trace)
    known = [n for n in names if n[1] == consumer and stream in (None, n[0])]
    ev, why = None, None
    if not known:
        listed = ", ".join(f"{s}/{c}" for s, c in names) or "none"
        why = (f"no consumer {consumer!r}" + (f" on stream {stream!r}" if stream else "")
               + f" in this trace\n(its consumers: {listed})")
    elif len({s for s, _ in known}) > 1:
        why = (f"consumer {consumer!r} exists on streams "
               f"{', '.join(s for s, _ in known)}: pass stream=")
    else:
        stream = known[0][0]
        ev = consumer_events(trace, consumer, stream)
        if ev is None:
            why = "no deliveries or acks of this consumer in the trace"
        elif not any(in_window(x[0], window) for x in ev.deliveries + ev.acks):
            why = f"no deliveries or acks between {window[0]:g} s and {window[1]:g} s"
    if why:
        title = f"Consumer {stream + '/' if stream else ''}{consumer}: deliveries and acks"
        return _empty(ax, title, why)
    source = "given"
    if ack_wait is None:
        ack_wait, source = _recorded_ack_wait(trace, ev), "consumer config"
        if ack_wait is None:
            ack_wait, source = _inferred_ack_wait(ev), "measured: delivery to expiry"
        if ack_wait is None:
            ack_wait, source = DEFAULT_ACK_WAIT, "server default; not in the trace"
    top, bottom = _panels(ax)
    out = ConsumerTimeline(top, bottom, ack_wait=ack_wait, view=ev.view)
    windows = _windows(ev, ack_wait)
    _draw_windows(out, windows, window)
    _draw_marks(out, ev, windows, window)
    _draw_floor(out, ev, window)
    _decorate(out, ev, source, window)
    return out


def _panels(ax):
    if ax is None:
        import matplotlib.pyplot as plt

        fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 6.5), sharex=True,
                                          height_ratios=(3, 1), layout="constrained")
        return top, bottom
    if isinstance(ax, (tuple, list)):
        return ax[0], ax[1]
    spec = ax.get_subplotspec()
    if spec is None:          # axes placed by hand: the floor panel goes in its lower part
        return ax, ax.inset_axes((0.0, 0.0, 1.0, 0.22), sharex=ax)
    fig = ax.figure
    ax.remove()               # its place is split into the two panels
    grid = spec.subgridspec(2, 1, height_ratios=(3, 1))
    top = fig.add_subplot(grid[0])
    return top, fig.add_subplot(grid[1], sharex=top)


def _empty(ax, title, why) -> ConsumerTimeline:
    if isinstance(ax, (tuple, list)):
        ax[1].set_visible(False)
        ax = ax[0]
    return ConsumerTimeline(empty(axes(ax, (10, 5)), title, why))


def _draw_windows(out: ConsumerTimeline, windows, window) -> None:
    from matplotlib.collections import LineCollection

    lo, hi = window if window else (float("-inf"), float("inf"))
    segs, colours = [], []
    for start, end, seq, expired in windows:
        if end >= lo and start <= hi:
            segs.append([(max(start, lo), seq), (min(end, hi), seq)])
            colours.append(_EXPIRED if expired else _WINDOW)
    out.windows = LineCollection(segs, colors=colours, linewidths=9, zorder=1,
                                 capstyle="butt")
    out.ax.add_collection(out.windows)


def _draw_marks(out: ConsumerTimeline, ev: ConsumerEvents, windows, window) -> None:
    points: dict[str, list[tuple[float, int]]] = {k: [] for k in _MARKERS}
    for t, seq, n in ev.deliveries:
        if in_window(t, window):
            points["deliver" if n <= 1 else "redeliver"].append((t, seq))
    for t, seq, action in ev.acks:
        if in_window(t, window) and action in points:
            points[action].append((t, seq))
    expiries = ev.timeouts if ev.view == "server" else [(end, seq) for _, end, seq, x in
                                                         windows if x]
    points["timeout"] = [(t, seq) for t, seq in expiries if in_window(t, window)]
    for kind, xy in points.items():
        if not xy:
            continue
        marker, size, label = _MARKERS[kind]
        xs, ys = zip(*xy)
        edge = {"edgecolors": "white", "linewidths": 0.6} if marker not in ("x",) else {}
        out.markers[kind] = out.ax.scatter(xs, ys, marker=marker, s=size, label=label,
                                           color=KIND_COLOURS[kind], zorder=3, **edge)
    rows = {seq for _, seq, _ in ev.deliveries}
    if len(rows) <= 30:  # say how many times a redelivered message was delivered
        for t, seq, n in ev.deliveries:
            if n > 1 and in_window(t, window):
                out.ax.annotate(f"#{n}", (t, seq), xytext=(0, 7), textcoords="offset points",
                                ha="center", fontsize=8, color=KIND_COLOURS["redeliver"])


def _draw_floor(out: ConsumerTimeline, ev: ConsumerEvents, window) -> None:
    series = ack_floor_series(ev)
    times = [t for t, _, _ in series]
    out.ack_floor, = out.floor_ax.step(times, [f for _, f, _ in series], where="post",
                                       color=KIND_COLOURS["ack"], lw=2,
                                       label="ack floor (stream seq)")
    out.ack_pending, = out.floor_ax.step(times, [p for _, _, p in series], where="post",
                                         color=KIND_COLOURS["redeliver"], lw=2, ls="--",
                                         label="num_ack_pending")
    out.floor_ax.set_ylabel("messages")
    out.floor_ax.set_xlabel("time (s)")
    out.floor_ax.yaxis.get_major_locator().set_params(integer=True)
    out.floor_ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False)
    out.floor_ax.grid(axis="y", alpha=0.3)


def _decorate(out: ConsumerTimeline, ev: ConsumerEvents, source: str, window) -> None:
    from matplotlib.patches import Patch

    ax = out.ax
    seqs = sorted({seq for _, seq, _ in ev.deliveries} | {seq for _, seq, _ in ev.acks})
    ax.set_ylim(seqs[-1] + 0.7, seqs[0] - 0.7)            # seq 1 on top, like a list
    ax.set_yticks(seqs if len(seqs) <= 30 else ax.get_yticks())
    ax.set_ylabel("stream sequence")
    if window:
        ax.set_xlim(*window)
    view = "server's records" if ev.view == "server" else "client's view only"
    ax.set_title(f"Consumer {ev.stream}/{ev.consumer}: a message not acked within ack_wait "
                 f"is redelivered\nshaded: ack_wait {out.ack_wait:g} s ({source}) · {view}",
                 fontsize=11)
    handles, _ = ax.get_legend_handles_labels()
    handles += [Patch(color=_WINDOW, label="ack_wait, closed in time"),
                Patch(color=_EXPIRED, label="ack_wait, expired")]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8,
              frameon=False)
    ax.grid(axis="x", alpha=0.3)
    ax.tick_params(labelbottom=True)

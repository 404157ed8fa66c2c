"""A stream's state over time: its messages, first and last sequence, and what it dropped.

From a simulation trace the stream's own records give everything: ``store`` adds a message,
``discard`` (with its reason: a limit, ``max_age``, a purge, an ack on a work queue…) removes
one or refuses a publish, ``delete`` and ``purge`` remove, ``dedup`` marks a duplicate publish
the stream did not store again. A real server's trace holds only the client's view: the pub
acks (the last sequence, and duplicates) and the results of ``stream_info`` steps (the state
at that moment); the figure then says so, as discards are not observable from a client.

>>> from pmesh_sim.trace import Trace
>>> t = Trace(clock=lambda: 0.0)
>>> for time, kind, f in [(1, "store", {"stream_seq": 1}), (2, "store", {"stream_seq": 2}),
...                       (3, "discard", {"stream_seq": 1, "reason": "max_msgs"})]:
...     t.record(time, kind, {"node": "n1", "stream": "S", "subject": "s", **f})
>>> stream_series(t, "S")
[(1, 1, 1, 1), (2, 2, 1, 2), (3, 1, 2, 2)]
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from ._common import KIND_COLOURS, axes, empty, in_window

__all__ = ["StreamState", "stream_series", "draw_stream_state"]

#: The stream's own records (simulation only).
_SERVER_KINDS = ("store", "discard", "delete", "purge", "dedup", "stream_created")
#: ``discard`` reasons that refuse a publish: nothing stored, nothing removed.
_REFUSED = ("discard_new_max_msgs", "discard_new_max_bytes", "discard_new_max_msgs_per_subject",
            "rejected")
_STATE_OPS = ("stream_info", "add_stream", "update_stream")
#: A colour per removal reason; refusals are drawn as vermillion crosses, duplicates green.
_REASON_COLOURS = {"max_msgs": "#7F7F7F", "max_bytes": "#7F7F7F",
                   "max_msgs_per_subject": "#7F7F7F", "max_age": "#E69F00",
                   "purge": "#CC79A7", "delete": "#CC79A7", "workqueue": "#56B4E9",
                   "interest": "#56B4E9", "no_interest": "#999999"}


@dataclass
class StreamState:
    """What :func:`draw_stream_state` drew."""

    ax: Any                                           #: the messages / sequences panel
    events_ax: Any = None                             #: the discards panel (a row per reason)
    lines: dict[str, Any] = field(default_factory=dict)     #: name -> Line2D
    markers: dict[str, Any] = field(default_factory=dict)   #: reason -> PathCollection
    view: str | None = None                           #: "server" or "client"


def _stream_names(trace) -> list[str]:
    return sorted({e.fields["stream"] for e in trace
                   if isinstance(e.fields.get("stream"), str) and e.fields["stream"]})


def stream_series(trace, stream: str) -> list[tuple[float, int, int, int]]:
    """``(time, messages, first_seq, last_seq)`` after each change of ``stream`` (sim records).

    A ``purge`` record removes its ``purged`` count of the lowest sequences (of its
    ``subject`` if it names one) unless the trace also writes each purged message as a
    ``discard`` with reason ``purge``.
    """
    events = _one_replica([e for e in trace if e.kind in _SERVER_KINDS
                           and e.fields.get("stream") == stream])
    per_message_purge = any(e.kind == "discard" and e.fields.get("reason") == "purge"
                            for e in events)
    stored: dict[int, str] = {}
    last = 0
    series = []
    for e in events:
        f = e.fields
        seq = f.get("stream_seq")
        if e.kind == "store":
            stored[seq] = f.get("subject", "")
            last = max(last, seq)
        elif e.kind == "discard" and seq is not None and f.get("reason") not in _REFUSED:
            stored.pop(seq, None)
            last = max(last, seq)       # no_interest: the sequence is used, nothing stored
        elif e.kind == "delete":
            stored.pop(seq, None)
        elif e.kind == "purge" and not per_message_purge:
            subject = f.get("subject")
            for s in sorted(s for s, subj in stored.items() if subject in (None, subj))[
                    :f.get("purged", 0)]:
                del stored[s]
        else:
            continue
        first = min(stored) if stored else last + 1
        series.append((e.time, len(stored), first, last))
    return series


def _one_replica(events: list) -> list:
    """The records of one node: on a replicated stream every replica writes its own, and a
    restarted one writes its stream again (``stream_created``, then its stores as it
    recovers). A cluster's figure shows the replica that was created fewest times, then the
    one with the most records, then the first by name.

    >>> from pmesh_sim.trace import Event
    >>> evs = [Event(0.0, "store", {"node": n}) for n in ("n1", "n2", "n2")]
    >>> [e.fields["node"] for e in _one_replica(evs)]
    ['n2', 'n2']
    """
    nodes = Counter(e.fields.get("node") for e in events)
    if len(nodes) < 2:
        return events
    created = Counter(e.fields.get("node") for e in events if e.kind == "stream_created")
    node = min(nodes, key=lambda n: (created[n], -nodes[n], str(n)))
    return [e for e in events if e.fields.get("node") == node]


def _drops(trace, stream: str) -> dict[str, list[float]]:
    """Reason -> times of the discards (and ``dedup``: duplicates) of ``stream``."""
    drops: dict[str, list[float]] = {}
    for e in _one_replica([e for e in trace if e.fields.get("stream") == stream
                           and e.kind in ("discard", "delete", "dedup", "stream_created")]):
        f = e.fields
        if e.kind == "discard":
            drops.setdefault(f.get("reason", "?"), []).append(e.time)
        elif e.kind == "delete":
            drops.setdefault("delete", []).append(e.time)
        elif e.kind == "dedup":
            drops.setdefault("duplicate", []).append(e.time)
    return drops


def _client_view(trace, stream: str, single: bool):
    """Pub acks ``(time, stream_seq, duplicate)`` and stream_info states ``(time, result)``."""
    acks, states = [], []
    for e in trace:
        f = e.fields
        if e.kind == "pub_ack" and f.get("stream") == stream and f.get("stream_seq"):
            acks.append((e.time, f["stream_seq"], bool(f.get("duplicate"))))
        elif e.kind == "step_result" and f.get("op") in _STATE_OPS:
            result = f.get("result") or {}
            named = f.get("stream", result.get("stream"))
            if "messages" in result and (named == stream or (named is None and single)):
                states.append((e.time, result))
    return acks, states


def draw_stream_state(trace, stream: str, *, ax=None,
                      window: tuple[float, float] | None = None) -> StreamState:
    """Draw ``stream``'s messages, first and last sequence over time, and its discards.

    ``ax``: ``None`` (a new figure with both panels) or a pair of Axes ``(state, discards)``.
    Simulation traces give the full state; a real server's trace the client's view (pub acks
    and ``stream_info`` results; a ``stream_info`` result names no stream, so it is used when
    the trace knows one stream only), said in the title. An empty trace, an unknown stream
    (the message lists the streams the trace has) or a window with nothing in it gives a
    labelled empty figure; nothing raises.
    """
    names = _stream_names(trace)
    title = f"Stream {stream}: messages and sequences over time"
    if stream not in names:
        why = f"no stream {stream!r} in this trace\n(its streams: {', '.join(names) or 'none'})"
        return StreamState(empty(_first(ax), title, why))
    if any(e.kind in _SERVER_KINDS and e.fields.get("stream") == stream for e in trace):
        return _draw_server(trace, stream, ax, window, title)
    return _draw_client(trace, stream, ax, window, title, single=len(names) == 1)


def _first(ax):
    if isinstance(ax, (tuple, list)):
        ax[1].set_visible(False)
        return ax[0]
    return axes(ax, (10, 5))


def _panels(ax):
    if isinstance(ax, (tuple, list)):
        return ax[0], ax[1]
    import matplotlib.pyplot as plt

    _, (top, bottom) = plt.subplots(2, 1, figsize=(10, 6), sharex=True, height_ratios=(3, 2),
                                    layout="constrained")
    return top, bottom


def _clip(series, window):
    """The points of a step series in ``window``, starting with the value at its start."""
    if window is None:
        return series
    before = [p for p in series if p[0] < window[0]]
    inside = [p for p in series if in_window(p[0], window)]
    return ([(window[0], *before[-1][1:])] if before else []) + inside


def _draw_server(trace, stream, ax, window, title) -> StreamState:
    series = _clip(stream_series(trace, stream), window)
    drops = {r: [t for t in ts if in_window(t, window)] for r, ts in _drops(trace, stream).items()}
    drops = {r: ts for r, ts in drops.items() if ts}
    if not series and not drops:
        return StreamState(empty(_first(ax), title, "nothing stored or dropped"
                                 + (f" between {window[0]:g} s and {window[1]:g} s"
                                    if window else "")))
    top, bottom = _panels(ax)
    out = StreamState(top, bottom, view="server")
    if series:
        end = window[1] if window else max([series[-1][0]] + [t for ts in drops.values()
                                                               for t in ts])
        series = series + [(end, *series[-1][1:])]
        times = [p[0] for p in series]
        for i, (name, colour, style, width) in enumerate([
                ("messages", KIND_COLOURS["deliver"], "-", 1.5),
                ("first_seq", KIND_COLOURS["publish"], "--", 2.5),
                ("last_seq", KIND_COLOURS["nak"], ":", 2.5)], start=1):
            out.lines[name], = top.step(times, [p[i] for p in series], where="post", zorder=2 + i,
                                        color=colour, ls=style, lw=width, label=name)
        top.fill_between(times, [p[1] for p in series], step="post",
                         color=KIND_COLOURS["deliver"], alpha=0.15)
    _draw_drops(out, drops)
    top.set_title(f"{title}\nstored messages, the lowest and highest sequence; below: why "
                  "messages left (●) or were refused (✕)", fontsize=11)
    return _finish(out, window)


def _draw_drops(out: StreamState, drops: dict[str, list[float]],
                none: str = "nothing discarded, expired or refused") -> None:
    ax = out.events_ax
    rows = sorted(drops, key=lambda r: (r == "duplicate", r in _REFUSED, r))
    for y, reason in enumerate(rows):
        times = drops[reason]
        if reason == "duplicate":
            style = dict(marker="D", color=KIND_COLOURS["deliver"], s=40)
        elif reason in _REFUSED:
            style = dict(marker="x", color=KIND_COLOURS["nak"], s=60)
        else:
            style = dict(marker="o", color=_REASON_COLOURS.get(reason, "#555555"), s=40)
        out.markers[reason] = ax.scatter(times, [y] * len(times), zorder=3, **style)
    labels = {"duplicate": "duplicate (not stored)"}
    ax.set_yticks(range(len(rows)), [labels.get(r, r) for r in rows])
    ax.set_ylim(-0.6, max(len(rows), 1) - 0.4)
    ax.set_ylabel("removed / refused:\nwhy")
    ax.grid(axis="y", alpha=0.3)
    if not rows:
        ax.text(0.5, 0.5, none, ha="center", va="center",
                transform=ax.transAxes, color="#555555")


def _finish(out: StreamState, window) -> StreamState:
    top = out.ax
    top.set_ylabel("sequence / messages")
    top.yaxis.get_major_locator().set_params(integer=True)
    top.set_ylim(bottom=0)
    top.legend(loc="upper left", bbox_to_anchor=(1.01, 1), fontsize=8, frameon=False)
    top.grid(alpha=0.3)
    top.tick_params(labelbottom=True)
    out.events_ax.set_xlabel("time (s)")
    if window:
        top.set_xlim(*window)
    return out


def _draw_client(trace, stream, ax, window, title, single) -> StreamState:
    acks, states = _client_view(trace, stream, single)
    acks = [a for a in acks if in_window(a[0], window)]
    states = [s for s in states if in_window(s[0], window)]
    if not acks and not states:
        return StreamState(empty(_first(ax), title, "no pub acks or stream_info results of "
                                 "this stream" + (f" between {window[0]:g} s and "
                                                  f"{window[1]:g} s" if window else "")))
    top, bottom = _panels(ax)
    out = StreamState(top, bottom, view="client")
    if acks:
        last, points = 0, []
        for t, seq, _ in acks:
            last = max(last, seq)
            points.append((t, last))
        out.lines["last_seq (pub acks)"], = top.step(
            *zip(*points), where="post", color=KIND_COLOURS["nak"], ls=":", lw=2,
            label="last_seq (pub acks)")
    for i, (name, colour, marker) in enumerate([
            ("messages", KIND_COLOURS["deliver"], "o"), ("first_seq", KIND_COLOURS["publish"], "s"),
            ("last_seq", KIND_COLOURS["nak"], "^")]):
        if states:
            hollow = {"mfc": "none", "mew": 2, "ms": 13} if name == "messages" else {"ms": 8}
            out.lines[name], = top.plot([t for t, _ in states], [r[name] for _, r in states],
                                        marker=marker, color=colour, ls="", **hollow,
                                        label=f"{name} (stream_info)")
    dups = [t for t, _, d in acks if d]
    _draw_drops(out, {"duplicate": dups} if dups else {}, "no pub ack said duplicate")
    bottom.text(0.5, 0.15, "discards and expiries happen inside the server:\na client sees "
                "them only as changes between stream_info results", ha="center",
                va="center", transform=bottom.transAxes, fontsize=8, color="#555555")
    top.set_title(f"{title}\n(client's view: pub acks and stream_info results only)",
                  fontsize=11)
    return _finish(out, window)

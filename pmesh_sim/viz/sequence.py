"""Message sequence (Lamport) diagram: one lane per client and server, one arrow per message.

Time runs left to right; each client and each server node has a lane (publishers above the
servers, receivers below). An arrow leaves its sender's lane when the message was sent and
reaches the receiver's lane when it arrived: ``publish``, ``pub_ack``, ``respond`` and
``reply`` (a request's answer), ``no_responders`` (the server's 503: nobody subscribes to a
request's subject), ``route`` (between servers), ``deliver``, ``redeliver``
(``num_delivered > 1``), the client's ``ack``, ``nak``, ``term`` and ``in_progress``; ``lost``
is dashed and stops at a cross where the network lost the message, and ``timeout`` is a dotted
arrow under the server's lane from a delivery to the moment its ack_wait expired
(:mod:`pmesh_sim.viz._flow` says where each time comes from; on a real server's trace the
server's times are estimates). Short gaps between events are stretched so that events a
millisecond apart do not draw on top of each other; the tick labels give the real times.

Filters narrow the messages drawn: ``subject`` (a subject or wildcard pattern, matched against
the subject each message was published or delivered on), ``consumer``, ``msg_id`` (one id or
several) and ``window=(start, end)`` (records within it). At most ``max_messages`` messages are
drawn (the first ones; the title says how many were left out). A filter that names a consumer,
subject or message the trace does not have gives a labelled empty figure that lists the ones it
does have; so does a trace without any message.

>>> import matplotlib; matplotlib.use("Agg")
>>> from pmesh_sim.trace import Trace
>>> t = Trace(clock=lambda: 0.0)
>>> t.record(1.0, "publish", {"node": "n1", "client": "a", "subject": "x", "msg_id": 1})
>>> t.record(1.2, "deliver", {"node": "n1", "client": "b", "subject": "x", "msg_id": 1})
>>> drawn = draw_sequence(t)
>>> {kind: len(arrows) for kind, arrows in drawn.arrows.items()}
{'publish': 1, 'deliver': 1}
>>> drawn.lanes
[('client', 'a'), ('server', 'n1'), ('client', 'b')]
>>> drawn
SequenceDiagram(arrows: publish 1, deliver 1; lanes: a, n1, b)
>>> draw_sequence(t, consumer="worker").arrows
{}
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from ..subjects import subject_matches
from ..trace import Trace
from ._common import KIND_COLOURS, axes, empty, in_window
from ._flow import Hop, check, hops, internal

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

__all__ = ["SequenceDiagram", "draw_sequence", "SEQUENCE_KINDS"]

#: The arrow kinds, in legend order, with their colours.
SEQUENCE_KINDS = {kind: KIND_COLOURS.get(kind, "#7F7F7F") for kind in (
    "publish", "pub_ack", "respond", "reply", "route", "deliver", "redeliver", "ack", "nak", "term",
    "in_progress", "no_responders", "lost", "timeout")}
SEQUENCE_KINDS.update(pub_ack="#9DB8CC", respond="#555555", reply="#AAAAAA", lost="#555555",
                      route="#333333", no_responders="#882255")
_SENDERS = ("publish",)
_TITLE = "Message sequence"


class SequenceDiagram(NamedTuple):
    """What :func:`draw_sequence` drew: the axes, the arrows by kind and the lanes, top first."""

    ax: "Axes"
    arrows: dict[str, list[Any]]   # kind -> matplotlib Annotations, in time order
    lanes: list[tuple[str, str]]   # ("client", name) or ("server", node), top to bottom

    def __repr__(self) -> str:  # short: a notebook cell ending in a call shows this
        arrows = ", ".join(f"{kind} {len(drawn)}" for kind, drawn in self.arrows.items())
        return (f"SequenceDiagram(arrows: {arrows or 'none'}; "
                f"lanes: {', '.join(name for _, name in self.lanes) or 'none'})")


def draw_sequence(trace: Trace, *, ax: "Axes | None" = None, subject: str | None = None,
                  consumer: str | None = None, msg_id: Any = None,
                  window: tuple[float, float] | None = None,
                  max_messages: int = 50) -> SequenceDiagram:
    """Draw the message sequence diagram of ``trace``; returns a :class:`SequenceDiagram`.

    Raises ``ConfigError`` for a ``window`` that is not ``(start, end)`` or a ``max_messages``
    below 1; a filter value the trace does not have gives a labelled empty figure instead.
    """
    check(trace, window, max_messages=max_messages)
    everything = [h for h in hops(trace) if not _plumbing(h)]
    subjects = _subjects(everything)
    unknown = _unknown(everything, subjects, subject, consumer, msg_id)
    consumed = {h.msg_id for h in everything if consumer and h.fields.get("consumer") == consumer}
    chosen = [h for h in everything if in_window(h.time, window)
              and _matches(h, subjects, consumed, subject, consumer, msg_id)]
    ids = list(dict.fromkeys(h.msg_id for h in chosen))
    kept = set(ids[:max_messages])
    chosen = [h for h in chosen if h.msg_id in kept]
    title = _title(chosen, len(ids), max_messages, subject, consumer, msg_id, window)
    lanes = _lanes(chosen)
    ax = axes(ax, figsize=(11.0, max(3.0, 0.8 * len(lanes) + 1.8)))
    if unknown or not chosen:
        empty(ax, title, unknown or "no message to draw: the trace has no publish, delivery "
              "or ack" + (" matching these filters" if any(
                  v is not None for v in (subject, consumer, msg_id, window)) else ""))
        return SequenceDiagram(ax, {}, [])
    row = {lane: len(lanes) - 1 - i for i, lane in enumerate(lanes)}
    times = [t for h in chosen for t in (h.t0, h.t1)]
    if window is not None:  # the axis spans the window (within the run), as a scrubber expects
        first, last = min(e.time for e in trace), max(e.time for e in trace)
        times += [min(max(window[0], first), last), max(min(window[1], last), first)]
    scale = _Scale(times)
    arrows: dict[str, list[Any]] = {}
    for h in sorted(chosen, key=lambda h: (h.t0, h.t1)):
        if h.kind != "timeout":
            arrows.setdefault(h.kind, []).append(_arrow(ax, h, row, scale))
    expired = [h for h in chosen if h.kind == "timeout"]
    if expired:
        arrows["timeout"] = _timeouts(ax, expired, row, scale)
    _labels(ax, chosen, row, scale)
    _frame(ax, lanes, row, scale, arrows, title)
    return SequenceDiagram(ax, {k: arrows[k] for k in SEQUENCE_KINDS if k in arrows}, lanes)


def _plumbing(h: Hop) -> bool:
    """A message on an internal subject that is not a JetStream delivery, ack or answer."""
    return (h.kind != "respond" and not h.fields.get("consumer")
            and internal(h.fields.get("subject")))


def _subjects(all_hops: list[Hop]) -> dict[Any, set[str]]:
    """The subjects each message was published or delivered on (an answer: its request's)."""
    out: dict[Any, set[str]] = {}
    asked: dict[str, str] = {}
    for h in all_hops:
        f = h.fields
        if h.kind == "respond" and f.get("subject") in asked:
            out.setdefault(h.msg_id, set()).add(asked[f["subject"]])
        elif f.get("subject") and h.kind in _SENDERS + ("deliver", "redeliver", "lost"):
            out.setdefault(h.msg_id, set()).add(f["subject"])
            if h.kind == "publish" and f.get("reply"):
                asked[f["reply"]] = f["subject"]
    return out


def _ids(msg_id: Any) -> set:
    if msg_id is None:
        return set()
    if isinstance(msg_id, Iterable) and not isinstance(msg_id, str):
        return set(msg_id)
    return {msg_id}


def _matches(h: Hop, subjects: dict, consumed: set, subject, consumer, msg_id) -> bool:
    """Whether ``h`` passes the filters; a publish passes ``consumer`` if the consumer got it."""
    if msg_id is not None and h.msg_id not in _ids(msg_id):
        return False
    if subject is not None and not any(subject_matches(subject, s)
                                       for s in subjects.get(h.msg_id, ())):
        return False
    if consumer is not None:
        name = h.fields.get("consumer")
        return name == consumer if name is not None else h.msg_id in consumed
    return True


def _unknown(all_hops: list[Hop], subjects: dict, subject, consumer, msg_id) -> str | None:
    """Why a filter value names nothing in the trace (listing what it has), or ``None``."""
    if consumer is not None:
        names = sorted({h.fields["consumer"] for h in all_hops if h.fields.get("consumer")})
        if consumer not in names:
            return f"no consumer {consumer!r} in this trace; consumers: {_listing(names)}"
    if subject is not None:
        seen = sorted(set().union(*subjects.values()))
        if not any(subject_matches(subject, s) for s in seen):
            return f"no message on subject {subject!r} in this trace; subjects: {_listing(seen)}"
    missing = _ids(msg_id) - {h.msg_id for h in all_hops}
    if missing:
        ids = sorted({h.msg_id for h in all_hops if isinstance(h.msg_id, int)})
        have = f"{ids[0]}–{ids[-1]}" if ids else "none"
        return f"no message with id {_listing(sorted(missing, key=str))} in this trace; ids: {have}"
    return None


def _listing(names: list) -> str:
    shown = ", ".join(map(str, names[:12]))
    return (shown + f" … ({len(names)} in all)" if len(names) > 12 else shown) or "none"


def _lanes(chosen: list[Hop]) -> list[tuple[str, str]]:
    """Clients that send first above the servers, the other clients below, in first-seen order."""
    sends_first: dict[tuple[str, str], bool] = {}
    for h in sorted(chosen, key=lambda h: h.time):
        for end in (h.src, h.dst):
            sends_first.setdefault(end, end == h.src and h.kind in ("publish", "lost"))
    top = [e for e, sends in sends_first.items() if e[0] == "client" and sends]
    servers = [e for e in sends_first if e[0] == "server"]
    return top + servers + [e for e in sends_first if e[0] == "client" and e not in top]


class _Scale:
    """Real time -> drawn x: gaps shorter than a share of the span are stretched to it."""

    def __init__(self, times: list[float]):
        self.times = np.unique(np.asarray(times, dtype=float))
        if len(self.times) == 1:
            self.times = np.append(self.times, self.times[0] + 1.0)
        floor = (self.times[-1] - self.times[0]) / (2 * len(self.times))
        gaps = np.maximum(np.diff(self.times), floor)
        self.xs = np.concatenate([[0.0], np.cumsum(gaps)]) + self.times[0]

    def __call__(self, t: float) -> float:
        return float(np.interp(t, self.times, self.xs))

    def ticks(self, n: int = 7) -> tuple[list[float], list[str]]:
        from matplotlib.ticker import MaxNLocator

        lo, hi = self.times[0], self.times[-1]
        real = [t for t in MaxNLocator(n).tick_values(lo, hi) if lo <= t <= hi]
        near = 0.06 * (self.xs[-1] - self.xs[0])
        real = [lo] + [t for t in real if self(t) - self(lo) > near]
        digits = max(0, 2 - int(np.floor(np.log10(max(hi - lo, 1e-9)))))
        return [self(t) for t in real], [f"{t:.{digits}f}".rstrip("0").rstrip(".") or "0"
                                         for t in real]


def _arrow(ax: "Axes", h: Hop, row: dict, scale: _Scale) -> Any:
    thin, colour = h.kind in ("pub_ack", "reply"), SEQUENCE_KINDS[h.kind]
    start, end = (scale(h.t0), row[h.src]), (scale(h.t1), row[h.dst])
    if h.kind == "lost":  # it stops halfway, at a cross
        end = ((start[0] + end[0]) / 2, (start[1] + end[1]) / 2)
        ax.plot(*end, marker="x", color=colour, markersize=8, mew=2, zorder=4)
        return ax.annotate("", xy=end, xytext=start, zorder=3, arrowprops=dict(
            arrowstyle="-", color=colour, lw=1.4, linestyle="--", shrinkA=0, shrinkB=0))
    return ax.annotate("", xy=end, xytext=start, zorder=3, arrowprops=dict(
        arrowstyle="-|>", color=colour, shrinkA=0, shrinkB=0, lw=0.8 if thin else 1.4,
        mutation_scale=9 if thin else 11))


def _timeouts(ax: "Axes", expired: list[Hop], row: dict, scale: _Scale) -> list[Any]:
    """Dotted arrows under the server's lane, one row per overlapping ack_wait, each from the
    delivery to an X where it expired, labelled "ack_wait" where the label fits."""
    colour, ends, out = SEQUENCE_KINDS["timeout"], [], []
    per_char = (scale.xs[-1] - scale.xs[0]) / 140
    for h in sorted(expired, key=lambda h: (h.t0, h.t1)):
        x0, x1 = scale(h.t0), scale(h.t1)
        slot = next((i for i, end in enumerate(ends) if end < x0), len(ends))
        ends[slot:slot + 1] = [x1]
        y = row[h.src] - 0.2 - 0.13 * (slot % 3)
        ax.plot([x1], [row[h.src]], marker="X", color=colour, markersize=7, zorder=4)
        out.append(ax.annotate("", xy=(x1, y), xytext=(x0, y), zorder=3, arrowprops=dict(
            arrowstyle="-|>", color=colour, lw=1.2, linestyle=":", shrinkA=0, shrinkB=0)))
        if x1 - x0 > 10 * per_char:
            ax.text((x0 + x1) / 2, y, "ack_wait", fontsize=7, ha="center", va="center",
                    zorder=5, bbox=dict(boxstyle="round,pad=0.1", fc="white", ec="none"))
    return out


def _label(h: Hop) -> str | None:
    f = h.fields
    if h.kind in _SENDERS:
        return f.get("subject")
    if h.kind in ("deliver", "redeliver") and f.get("stream_seq") is not None:
        n = f.get("num_delivered") or 1
        return f"seq {f['stream_seq']}" + (f" ×{n}" if n > 1 else "")
    return None


def _labels(ax: "Axes", chosen: list[Hop], row: dict, scale: _Scale) -> None:
    """Subjects on publishes, stream sequences on redeliveries and on one delivery of each
    message; a label goes a third, half or two thirds of the way along its arrow, wherever it
    overlaps no other label, or is left out (redeliveries are placed first, then publishes)."""
    width, height = _text_size(ax, scale, len(row))
    placed: list[tuple[float, float, float, float]] = []
    delivered: set = set()  # messages with a delivery label already
    order = {"redeliver": 0, "publish": 1}
    for h in sorted(chosen, key=lambda h: (order.get(h.kind, 2), h.t0)):
        text = _label(h)
        if text is None or (h.kind == "deliver" and h.msg_id in delivered):
            continue
        half = width * (len(text) / 2 + 0.5)
        for share in (0.5, 0.33, 0.67):
            x = scale(h.t0) + share * (scale(h.t1) - scale(h.t0))
            y = row[h.src] + share * (row[h.dst] - row[h.src])
            box = (x - half, x + half, y - height / 2, y + height / 2)
            if not any(box[0] < b[1] and b[0] < box[1] and box[2] < b[3] and b[2] < box[3]
                       for b in placed):
                placed.append(box)
                if h.kind == "deliver":
                    delivered.add(h.msg_id)
                ax.text(x, y, text, fontsize=7, ha="center", va="center", zorder=5,
                        color=SEQUENCE_KINDS[h.kind], bbox=dict(
                            boxstyle="round,pad=0.1", fc="white", ec="none", alpha=0.85))
                break


def _text_size(ax: "Axes", scale: _Scale, lanes: int) -> tuple[float, float]:
    """A 7-point character's width and a label's height, in data units (about)."""
    fig_w, fig_h = ax.figure.get_size_inches()
    box = ax.get_position()
    chars = box.width * fig_w * 72 / (7 * 0.6)
    lines = box.height * fig_h * 72 / (7 * 1.6)
    return 1.04 * (scale.xs[-1] - scale.xs[0]) / chars, lanes / lines


def _frame(ax: "Axes", lanes, row, scale: _Scale, arrows: dict, title: str) -> None:
    from matplotlib.lines import Line2D

    for lane, y in row.items():
        ax.axhline(y, color="#333333" if lane[0] == "server" else "#BBBBBB",
                   lw=2.0 if lane[0] == "server" else 1.0, zorder=1)
    ax.set_yticks([row[lane] for lane in lanes],
                  [f"server {name}" if kind == "server" and name != "server" else name
                   for kind, name in lanes])
    ax.set_ylim(-0.6, len(lanes) - 0.4)
    ax.set_xticks(*scale.ticks())
    ax.set_xlim(scale.xs[0] - 0.02 * (scale.xs[-1] - scale.xs[0]),
                scale.xs[-1] + 0.02 * (scale.xs[-1] - scale.xs[0]))
    ax.set_xlabel("time (s; short gaps stretched so that every message shows)")
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.tick_params(axis="y", length=0)
    look = {"timeout": (":", "X", "ack_wait expired"), "lost": ("--", "x", "lost on the way")}
    handles = [Line2D([], [], color=SEQUENCE_KINDS[k], lw=2,
                      linestyle=look.get(k, ("-",))[0], marker=look.get(k, ("", None))[1],
                      label=look.get(k, ("", "", k.replace("_", " ")))[2])
               for k in SEQUENCE_KINDS if k in arrows]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8,
              frameon=False)
    ax.set_title(title, fontsize=11)


def _title(chosen: list[Hop], n_ids: int, most: int, subject, consumer, msg_id, window) -> str:
    filters = [f"{k} {v}" for k, v in (("subject", subject), ("consumer", consumer),
                                        ("message", msg_id)) if v is not None]
    if window is not None:
        filters.append(f"t = {window[0]:g}–{window[1]:g} s")
    head = _TITLE + (f" ({', '.join(filters)})" if filters else "")
    if not chosen:
        return head
    redelivered = sum(h.kind == "redeliver" for h in chosen)
    delivered = sum(h.kind in ("deliver", "redeliver") for h in chosen)
    shown = min(n_ids, most)
    head += (f": {shown} message{'s' * (shown != 1)}, "
             f"{delivered} deliver{'y' if delivered == 1 else 'ies'}")
    if redelivered:
        head += (", 1 of them a redelivery" if redelivered == 1
                 else f", {redelivered} of them redeliveries")
    lost = sum(h.kind == "lost" for h in chosen)
    if lost:
        head += f", {lost} lost on the way"
    if n_ids > most:
        head += (f"\nthe first {most} of {n_ids} messages; "
                 "narrow with window=, subject= or consumer=")
    return head

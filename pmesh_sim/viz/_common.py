"""What every figure shares: a fresh or given axes, the time window, one colour per kind, and
the labelled empty figure.

>>> in_window(1.5, (1.0, 2.0)), in_window(2.5, (1.0, 2.0)), in_window(9.0, None)
(True, False, True)
>>> KIND_COLOURS["ack"] != KIND_COLOURS["nak"]
True
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

__all__ = ["KIND_COLOURS", "axes", "empty", "in_window"]

#: One colour per message kind, the same in every figure (colour-blind safe: Okabe-Ito).
KIND_COLOURS = {
    "publish": "#0072B2",       # blue
    "deliver": "#009E73",       # green
    "redeliver": "#E69F00",     # orange
    "ack": "#56B4E9",           # sky blue
    "nak": "#D55E00",           # vermillion
    "term": "#CC79A7",          # purple
    "in_progress": "#999999",   # grey
    "timeout": "#000000",       # black
    "store": "#F0E442",         # yellow
    "discard": "#7F7F7F",
}


def axes(ax: "Axes | None" = None, figsize: tuple[float, float] = (9.0, 5.0)) -> "Axes":
    """``ax`` itself, or the axes of a new figure of ``figsize`` inches."""
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def empty(ax: "Axes", title: str, why: str) -> "Axes":
    """Label ``ax`` as an empty figure: its ``title`` and, in the middle, ``why`` it is empty."""
    ax.set_title(title)
    ax.text(0.5, 0.5, why, ha="center", va="center", transform=ax.transAxes, wrap=True,
            fontsize=11, color="#555555")
    ax.set_xticks([])
    ax.set_yticks([])
    return ax


def in_window(time: float, window: tuple[float, float] | None) -> bool:
    """Whether ``time`` falls within ``window`` (both ends included; ``None``: everything)."""
    return window is None or window[0] <= time <= window[1]

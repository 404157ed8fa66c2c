"""The experiments' figures: a delivery check's message map, and a sweep's metric against its
parameters with 95% confidence intervals over seeds.

>>> import pandas as pd
>>> df = pd.DataFrame({"loss": [0.0, 0.0, 0.1, 0.1], "seed": [0, 1, 0, 1],
...                    "redelivered": [0, 0, 3, 5]})
>>> summarise(df, "loss", "redelivered")[["loss", "mean", "n"]].values.tolist()
[[0.0, 0.0, 2.0], [0.1, 4.0, 2.0]]
"""

from __future__ import annotations

from typing import Any

__all__ = ["draw_outcomes", "plot_sweep", "summarise"]


def draw_outcomes(check, *, ax=None):
    """One row per consumer, one cell per acknowledged message it should get (publish order),
    coloured by outcome (:data:`~pmesh_sim.experiments.checkers.OUTCOMES`)."""
    import numpy as np
    from matplotlib.colors import ListedColormap
    from matplotlib.patches import Patch
    from matplotlib.ticker import MaxNLocator

    from ..viz._common import axes, empty
    from .checkers import OUTCOMES

    rows = [(name, c) for name, c in check.consumers.items() if c.outcomes]
    ax = axes(ax, figsize=(9.0, 1.2 + 0.6 * max(len(rows), 1)))
    verdict = str(check)
    if not rows:
        return empty(ax, _wrap(verdict), "no consumer was expected to get any message")
    names = list(OUTCOMES)
    width = max(len(c.outcomes) for _, c in rows)
    grid = np.full((len(rows), width), np.nan)
    for r, (_, c) in enumerate(rows):
        for i, outcome in enumerate(c.outcomes.values()):
            grid[r, i] = names.index(outcome)
    ax.imshow(grid, cmap=ListedColormap(list(OUTCOMES.values())), vmin=-0.5,
              vmax=len(names) - 0.5, aspect="auto", interpolation="nearest",
              extent=(0.5, width + 0.5, len(rows) - 0.5, -0.5))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_yticks(range(len(rows)), [name for name, _ in rows])
    ax.set_xlabel("acknowledged message (1 = first published)")
    used = {o for _, c in rows for o in c.outcomes.values()}
    ax.legend(handles=[Patch(color=OUTCOMES[n], label=n.replace("_", " ")) for n in names
                       if n in used], loc="upper center", bbox_to_anchor=(0.5, -0.35 if
                       len(rows) < 3 else -0.15), ncol=6, frameon=False)
    ax.set_title(_wrap(verdict), fontsize=10)
    return ax


def _wrap(text: str, width: int = 90) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width))


def summarise(df, x: str, y: str, hue: str | None = None):
    """Mean, 95% confidence interval (Student's t over seeds) and count of ``y`` for each
    value of ``x`` (and ``hue``)."""
    import numpy as np
    import pandas as pd

    keys = [x] + ([hue] if hue else [])
    rows = []
    for group, values in df.groupby(keys, sort=True)[y]:
        values = values.astype(float)
        n, mean = len(values), float(values.mean())
        half = _t95(n - 1) * float(values.std(ddof=1)) / np.sqrt(n) if n > 1 else 0.0
        group = group if isinstance(group, tuple) else (group,)
        rows.append({**dict(zip(keys, group)), "mean": mean, "low": mean - half,
                     "high": mean + half, "n": float(n)})
    return pd.DataFrame(rows)


def _t95(dof: int) -> float:
    """Student's t quantile for a two-sided 95% interval (1.96 from 30 degrees on)."""
    table = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201,
             2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074,
             2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045]
    return table[dof - 1] if 1 <= dof <= len(table) else 1.96


def plot_sweep(df, x: str, y: str, hue: str | None = None, *, ax=None) -> Any:
    """``y`` (a column of a :func:`~pmesh_sim.experiments.sweep.sweep` DataFrame) against
    parameter ``x``, one line per value of ``hue``: the mean over seeds with its 95% confidence
    interval as a band. Returns the axes."""
    from ..viz._common import axes

    for name in (x, y, hue):
        if name is not None and name not in df.columns:
            raise KeyError(f"plot_sweep: no column {name!r} (columns: {', '.join(df.columns)})")
    ax = axes(ax, figsize=(7.0, 4.5))
    table = summarise(df, x, y, hue)
    groups = table.groupby(hue, sort=True) if hue else [(None, table)]
    for value, part in groups:
        label = f"{hue} = {value}" if hue else "mean over seeds"
        line, = ax.plot(part[x], part["mean"], marker="o", label=label)
        ax.fill_between(part[x], part["low"], part["high"], color=line.get_color(), alpha=0.2)
    seeds = int(table["n"].min()) if len(table) else 0
    ax.set_xlabel(x)
    ax.set_ylabel(f"{y} (mean, 95% CI)")
    ax.set_title(f"{y} against {x}\nmean and 95% confidence interval over {seeds} seeds "
                 "per point", fontsize=11)
    ax.grid(True, alpha=0.3)
    ax.legend(frameon=False)
    return ax

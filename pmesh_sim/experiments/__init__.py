"""Experiments: delivery checkers over a trace, and sweeps of a scenario over parameters x seeds.

``checkers`` (Jepsen-style delivery checks on a trace from either backend), ``sweep`` (grid x
seeds on any ``concurrent.futures`` executor, a Dask cluster's included) and their figures.
Dask is imported only when a Dask scheduler is asked for.
"""

from __future__ import annotations

from ._plots import plot_sweep
from .checkers import ConsumerCheck, DeliveryCheck, check_delivery

__all__ = ["ConsumerCheck", "DeliveryCheck", "check_delivery", "plot_sweep"]

"""Experiments: delivery checkers over a trace, and sweeps of a scenario over parameters x seeds.

``workload``, ``workers`` and ``chaos`` draw the steps of those names (stochastic publishers,
crashing workers on a pull consumer, faults on a schedule) from the run's seed; ``checkers``
(Jepsen-style delivery checks on a trace from either backend), ``grid`` (dotted keys naming
scenario fields), ``sweep`` (grid x seeds on any ``concurrent.futures`` executor, a
Dask cluster's included) and their figures. Dask is imported only when a Dask scheduler is
asked for.
"""

from __future__ import annotations

from ._plots import plot_sweep
from .checkers import ConsumerCheck, DeliveryCheck, check_delivery
from .grid import with_params
from .sweep import TIMING_COLUMNS, dask_executor, run_point, sweep

__all__ = ["ConsumerCheck", "DeliveryCheck", "check_delivery", "plot_sweep", "sweep",
           "run_point", "with_params", "dask_executor", "TIMING_COLUMNS"]

"""Sweeps: one scenario run over a grid of parameters x seeds, on any executor.

:func:`sweep` checks every grid point first (:mod:`~pmesh_sim.experiments.grid`: dotted keys
such as ``consumers.worker.ack_wait``), then runs each (point, seed) as :func:`run_point`, a
pure function of (scenario, parameters, seed), on a ``concurrent.futures.Executor``: a process
pool by default, or a Dask cluster's (``Client(address).get_executor()``, see
:func:`dask_executor`) to go past one machine. Rows come back in grid order whatever order the
runs finish in, so the same sweep gives the same DataFrame on one process, on many, and on
Dask, except for the timing columns (:data:`TIMING_COLUMNS`).

>>> from pmesh_sim.scenario import Scenario
>>> s = Scenario.from_dict({"name": "pub", "streams": [{"name": "S", "subjects": ["s"]}],
...     "consumers": [{"stream": "S", "durable_name": "w", "ack_wait": 0.2}], "steps": [
...     {"op": "js_publish", "subject": "s", "timeout": 0.2},
...     {"at": 0.5, "op": "fetch", "consumer": "w", "timeout": 0.2}]})
>>> df = sweep(s, {"network.loss": [0.0, 0.3]}, seeds=range(2), workers=1)
>>> df[["network.loss", "seed", "valid", "acknowledged"]].values.tolist()
[[0.0, 0, True, 1], [0.0, 1, True, 1], [0.3, 0, True, 0], [0.3, 1, True, 1]]

With 30% loss on every hop, seed 0 loses the publish or its ack: nothing is acknowledged, and
nothing acknowledged is lost.
"""

from __future__ import annotations

import os
import sys
import time
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any, Callable, Iterable

from .. import scenario as sc
from ..errors import PmeshError
from .checkers import check_delivery
from .grid import expand

__all__ = ["sweep", "run_point", "dask_executor", "ProgressBar", "TIMING_COLUMNS", "parse_param",
           "summary_table", "sweep_command"]

#: Columns that depend on the machine, not on (scenario, parameters, seed).
TIMING_COLUMNS = ("wall_s",)


def run_point(scenario: sc.Scenario, params: dict[str, Any], seed: int,
              backend: str = "sim") -> dict[str, Any]:
    """One run of ``scenario`` (its ``params`` already applied) with ``seed``: one row —
    the parameters, the seed, the delivery check's counts, a few result fields and the wall
    time it took."""
    from ..runners import run_scenario

    start = time.perf_counter()
    traces: list = []
    doc = run_scenario(scenario, backend, seed=seed, trace_out=traces)
    trace = traces[0]
    row: dict[str, Any] = {**params, "seed": seed, **check_delivery(trace).counts()}
    results = [step["result"] for step in doc["steps"]]
    row["errors"] = sum("error" in r for r in results)
    row["timeouts"] = sum(r.get("outcome") == "timeout" for r in results)
    for name, state in sorted(doc["final"]["streams"].items()):
        row[f"{name}.messages"] = state.get("messages")
    for name, info in sorted(doc["final"]["consumers"].items()):
        for field in ("num_pending", "num_ack_pending", "num_redelivered"):
            row[f"{name}.{field}"] = info.get(field)
    row["events"] = len(trace)
    row["end_time"] = round(trace[-1].time, 9) if len(trace) else 0.0
    row["wall_s"] = time.perf_counter() - start
    return row


def sweep(scenario: sc.Scenario | str | Path, grid: dict[str, Iterable],
          seeds: Iterable[int] = range(10), executor: Executor | None = None, *,
          workers: int | None = None, backend: str = "sim",
          progress: Callable[[int, int], None] | None = None):
    """Run ``scenario`` at every point of ``grid`` with every seed; a pandas DataFrame with one
    row per run, in grid order then seed order.

    ``executor``: any ``concurrent.futures.Executor`` (left running); None: a process pool
    of ``workers`` processes (all cores by default), or the calling process when
    ``workers=1``. ``progress(done, total)`` is called as runs finish. Every grid point is
    checked before any run starts (a :class:`~pmesh_sim.errors.ScenarioError` names the key).
    """
    import pandas as pd

    if not isinstance(scenario, sc.Scenario):
        scenario = sc.load_scenario(scenario)
    points = expand(scenario, grid)
    seeds = list(seeds)
    if not seeds or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
        raise PmeshError(f"seeds must be one or more integers, got {seeds!r}")
    jobs = [(params, point, seed) for params, point in points for seed in seeds]
    rows: list[dict | None] = [None] * len(jobs)
    if executor is None and workers == 1:
        for i, (params, point, seed) in enumerate(jobs):
            rows[i] = run_point(point, params, seed, backend)
            if progress:
                progress(i + 1, len(jobs))
    else:
        own = executor is None
        pool = executor or ProcessPoolExecutor(max_workers=workers or os.cpu_count())
        try:
            futures = {pool.submit(run_point, point, params, seed, backend): i
                       for i, (params, point, seed) in enumerate(jobs)}
            for done, future in enumerate(as_completed(futures), 1):
                rows[futures[future]] = future.result()
                if progress:
                    progress(done, len(jobs))
        finally:
            if own:
                pool.shutdown(cancel_futures=True)
    return pd.DataFrame.from_records(rows)


def dask_executor(address: str, timeout: float = 5.0):
    """``(client, executor)`` for the Dask scheduler at ``address``; a clear
    :class:`~pmesh_sim.errors.PmeshError` when Dask is not installed or nothing answers
    within ``timeout`` seconds. Close the client when done."""
    try:
        from distributed import Client
    except ImportError:
        raise PmeshError("a Dask scheduler needs dask[distributed]: pip install "
                         "'pmesh-sim[dask]'") from None
    try:
        client = Client(address, timeout=timeout)
    except Exception as err:  # noqa: BLE001 - refused, timed out, malformed, or not Dask
        text = " ".join(str(err).split())[:200]
        raise PmeshError(f"no Dask scheduler answers at {address!r} (waited up to "
                         f"{timeout:g} s; {type(err).__name__}: {text})") from None
    return client, client.get_executor()


class ProgressBar:
    """A one-line progress bar on ``stream`` (stderr): ``[#####.....] 12/40 runs, 3.1 s``."""

    def __init__(self, stream=None, width: int = 30):
        self.stream = stream or sys.stderr
        self.width = width
        self.start = time.perf_counter()

    def __call__(self, done: int, total: int) -> None:
        filled = self.width * done // max(total, 1)
        self.stream.write(f"\r[{'#' * filled}{'.' * (self.width - filled)}] {done}/{total} "
                          f"runs, {time.perf_counter() - self.start:.1f} s")
        if done == total:
            self.stream.write("\n")
        self.stream.flush()


def parse_param(text: str) -> tuple[str, list]:
    """``--param key=v1,v2``: the key and its values, each read as YAML (numbers, true/false,
    text).

    >>> parse_param("consumers.worker.ack_wait=0.5,1,2")
    ('consumers.worker.ack_wait', [0.5, 1, 2])
    """
    import yaml

    key, eq, values = text.partition("=")
    if not eq or not key.strip() or not values.strip():
        raise PmeshError(f"--param {text!r}: write KEY=VALUE[,VALUE...], e.g. "
                         "network.loss=0.0,0.1")
    out = []
    for value in values.split(","):
        try:
            out.append(yaml.safe_load(value))
        except yaml.YAMLError:
            out.append(value)
    return key.strip(), out


SUMMARY = ("valid", "lost", "duplicated", "processed_twice", "unprocessed", "redelivered",
           "unexpected")


def summary_table(df, keys: list[str]) -> str:
    """Per grid point: runs, the share of valid runs and the mean of the checker's counts."""
    table = df.groupby(keys, sort=False).agg(
        runs=("seed", "size"), **{c: (c, "mean") for c in SUMMARY if c in df.columns})
    return table.round(3).to_string()


def sweep_command(args) -> int:
    """``pmesh-sim sweep FILE --param KEY=V1,V2 ... --seeds N``: every grid point checked,
    then the runs (a progress bar on stderr), then a table; ``--out`` writes every row."""
    scenario = sc.load_scenario(args.file)
    grid: dict[str, list] = {}
    for text in args.param or []:
        key, values = parse_param(text)
        if key in grid:
            raise PmeshError(f"--param {key!r} is given twice")
        grid[key] = values
    if args.seeds < 1:
        raise PmeshError(f"--seeds must be 1 or more, got {args.seeds}")
    expand(scenario, grid)           # bad keys and values: exit 2 before anything runs
    client = executor = None
    if args.scheduler:
        client, executor = dask_executor(args.scheduler)
    try:
        df = sweep(scenario, grid, seeds=range(args.seeds), executor=executor,
                   workers=args.workers, backend=getattr(args, "backend", "sim"),
                   progress=ProgressBar(sys.stderr))
    finally:
        if client is not None:
            client.close()
    if args.out:
        df.to_csv(args.out, index=False)
    print(summary_table(df, list(grid)))
    if args.out:
        print(f"{len(df)} runs written to {args.out}")
    return 0

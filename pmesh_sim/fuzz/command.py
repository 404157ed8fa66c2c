"""``pmesh-sim fuzz``: generated scenarios on both backends, disagreements shrunk and written.

``--workers W`` worker processes each own one nats-server (reused, its streams deleted between
documents) and run their share of the ``--examples N`` as hypothesis searches seeded from
``--seed S`` and the worker's number. When a document fails (a disagreement that repeats on
the real server, a hang, a crash, a broken file without a clear error), hypothesis shrinks
it, re-running both backends, to the smallest document that still fails the same way; the
worker writes it to ``--out`` (``scenarios/found/``) as ``<name>.yaml`` with
``<name>.diff.txt`` (the differences) and starts a new search for the examples left.

The main process draws a progress bar on stderr and prints the summary
``N scenarios, M agree, K minimal disagreements written``. Ctrl-C stops every worker, and
each worker stops its server.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import queue as queue_mod
import signal
import sys
import time
from collections import Counter
from pathlib import Path

from . import need_hypothesis

__all__ = ["run_fuzz", "fuzz_command", "write_finding"]

#: One in this many examples is a broken document (checked for a clear file error).
INVALID_EVERY = 10
#: Wall seconds hypothesis may shrink a failure (each try runs the real server); then
#: :func:`~pmesh_sim.fuzz.reduce.reduce_document` drops whole pieces for as long again.
SHRINK_SECONDS = 150.0


class _Failed(AssertionError):
    """Raised inside the hypothesis test for a failing document, so that it shrinks it."""


def _search(strategy, seed, budget: int, judge, report,
            shrink: float = SHRINK_SECONDS) -> tuple[tuple | None, int]:
    """One hypothesis search of up to ``budget`` examples: ``(found, examples run)``.

    ``found`` is ``(document, verdict, flaky)`` for the minimal failing document, or None.
    ``judge(example, first failing verdict or None)`` gives a verdict;
    ``report(verdict)`` is told about each example run before the first failure (the runs
    while shrinking are not examples). ``flaky``: the failure did not repeat at the end.
    Shrinking stops after ``shrink`` wall seconds with the smallest failure so far."""
    hypothesis = need_hypothesis()
    from hypothesis import HealthCheck, Phase, Verbosity, given, settings
    from hypothesis.errors import Flaky

    state = {"first": None, "last": None, "runs": 0, "since": 0.0}

    @hypothesis.seed(seed)
    @settings(max_examples=budget, database=None, deadline=None, derandomize=False,
              phases=[Phase.generate, Phase.shrink], suppress_health_check=list(HealthCheck),
              verbosity=Verbosity.quiet, report_multiple_bugs=False, print_blob=False)
    @given(strategy)
    def test(example):
        first = state["first"]
        if first is not None and time.monotonic() - state["since"] > shrink:
            # out of shrinking time: only the smallest failure so far still fails
            if example == state["last"][0]:
                raise _Failed(first.kind)
            return
        verdict = judge(example, first)
        if first is None:
            state["runs"] += 1
            report(verdict)
        if verdict.failing and (first is None or verdict.signature & first.signature):
            if first is None:
                state["first"], state["since"] = verdict, time.monotonic()
            state["last"] = (example, verdict)
            raise _Failed(verdict.kind)

    try:
        test()
    except _Failed:
        return (*state["last"], False), state["runs"]
    except Flaky:
        return (*state["last"], True) if state["last"] else None, state["runs"]
    return None, state["runs"]


def write_finding(out: Path, name: str, doc: dict, verdict) -> Path:
    """Write the minimal document as ``<name>.yaml`` and its differences as ``<name>.diff.txt``."""
    import yaml

    from ..checks import format_differences

    out.mkdir(parents=True, exist_ok=True)
    if isinstance(doc, tuple):  # a broken document: (document, where, key)
        doc = doc[0]
    doc = {**doc, "name": name,
           "description": f"found by pmesh-sim fuzz: {verdict.kind}; "
                          f"{', '.join(sorted(verdict.signature))}"}
    path = out / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False, default_flow_style=None, width=100,
                                   allow_unicode=True))
    text = format_differences(verdict.diffs) if verdict.diffs else verdict.detail
    if verdict.sim is not None:
        text += ("\n\nsim result:\n" + json.dumps(verdict.sim, sort_keys=True) +
                 "\n\nreal result:\n" + json.dumps(verdict.real, sort_keys=True))
    (out / f"{name}.diff.txt").write_text(text + "\n")
    return path


def _stop_on_signal(target) -> None:
    """In a worker: SIGTERM (from the main process, or its death) stops the server and exits
    at once; SIGINT is left to the main process, which decides when to stop."""
    def stop(signum, frame):
        target.server.stop()
        os._exit(143)

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, stop)
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PDEATHSIG
        except Exception:  # noqa: BLE001 - a safety net only
            pass


def _worker(index: int, quota: int, seed: int, out: str, events, shrink: float) -> None:
    """A worker process: one nats-server, hypothesis searches until ``quota`` examples ran."""
    from hypothesis import strategies as st

    from .check import RealTarget, check_document, check_invalid
    from .generate import invalid_documents, scenario_documents

    # a draw from 0..99 (hypothesis favours the ends of a small range), shrinking to valid
    strategy = st.integers(0, 99).flatmap(
        lambda k: invalid_documents() if k >= 100 - 100 // INVALID_EVERY
        else scenario_documents())
    target = RealTarget()
    _stop_on_signal(target)
    with target:
        tmp = target.server.workdir  # removed with the server, also when stopped by a signal
        def judge(example, first):
            if isinstance(example, tuple):
                return check_invalid(*example, tmpdir=tmp)
            # shrinking a hang or a crash needs the simulation only
            return check_document(example, target, real=first is None or
                                  first.kind == "disagree")

        done, search = 0, 0
        while done < quota:
            found, runs = _search(strategy, f"{seed}-{index}-{search}", quota - done,
                                  judge, lambda v: events.put(("example", index, v.kind)),
                                  shrink)
            done += runs
            search += 1
            if found is None:
                if runs == 0:
                    break
                continue
            example, verdict, flaky = found
            if not flaky and not isinstance(example, tuple):
                example, verdict = _reduce(example, verdict, judge, shrink)
            name = f"fuzz-s{seed}-w{index}-{search}"
            if flaky:
                name += "-flaky"
            path = write_finding(Path(out), name, example, verdict)
            events.put(("found", index, str(path), verdict.kind, flaky))
    events.put(("done", index))


def _reduce(doc: dict, verdict, judge, budget: float = SHRINK_SECONDS) -> tuple[dict, object]:
    """:func:`~pmesh_sim.fuzz.reduce.reduce_document` with the same test as shrinking."""
    from .reduce import reduce_document

    last = [verdict]

    def still_fails(smaller: dict) -> bool:
        again = judge(smaller, verdict)
        if again.failing and again.signature & verdict.signature:
            last[0] = again
            return True
        return False

    smallest = reduce_document(doc, still_fails, budget=budget)
    return smallest, last[0]


def _bar(done: int, total: int, counts: Counter, found: int, width: int = 30) -> str:
    filled = int(width * done / max(total, 1))
    kinds = " ".join(f"{k} {v}" for k, v in sorted(counts.items()))
    return f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} {kinds} found {found}"


def run_fuzz(examples: int, seed: int = 0, workers: int = 2, out: str | Path = "scenarios/found",
             progress=sys.stderr, shrink_seconds: float = SHRINK_SECONDS) -> dict:
    """Run the fuzzer; returns the counts (``examples``, ``agree``, ``found``, ``files``...).

    ``shrink_seconds``: how long hypothesis shrinks a failure, and then the structural
    reduction, each (every try runs the scenario again, on the real server too)."""
    need_hypothesis()
    workers = max(1, min(workers, examples))
    ctx = multiprocessing.get_context("spawn")
    events = ctx.Queue()
    shares = [examples // workers + (i < examples % workers) for i in range(workers)]
    procs = [ctx.Process(target=_worker, name=f"pmesh-fuzz-{i}",
                         args=(i, shares[i], seed, str(out), events, shrink_seconds))
             for i in range(workers)]
    counts: Counter = Counter()
    files: list[str] = []
    running = set(range(workers))
    try:
        for proc in procs:
            proc.start()
        while running:
            try:
                event = events.get(timeout=1.0)
            except queue_mod.Empty:
                for i in list(running):
                    if not procs[i].is_alive():
                        running.discard(i)
                        counts["worker-died"] += 1
                continue
            if event[0] == "example":
                counts[event[2]] += 1
            elif event[0] == "found":
                files.append(event[2])
                if progress:
                    print(f"\nfound ({event[3]}{', flaky' if event[4] else ''}): {event[2]}",
                          file=progress)
            else:
                running.discard(event[1])
            if progress:
                print(_bar(sum(v for k, v in counts.items() if k != "worker-died"), examples,
                           counts, len(files)), end="", file=progress, flush=True)
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.terminate()
        for proc in procs:
            proc.join(10)
            if proc.is_alive():
                proc.kill()
                proc.join()
        if progress:
            print(file=progress)
    done = sum(v for k, v in counts.items() if k != "worker-died")
    return {"examples": done, "agree": counts["agree"] + counts["invalid-ok"],
            "found": len(files), "files": files, "counts": dict(counts)}


def fuzz_command(args) -> int:
    """``pmesh-sim fuzz``: exit 0 when every example agreed, 1 when something was found."""
    started = time.monotonic()

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    # also when started in the background (where SIGINT is ignored): Ctrl-C or SIGTERM stop
    # the workers, and each stops its server
    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)
    result = run_fuzz(args.examples, args.seed, args.workers, args.out)
    counts = result["counts"]
    others = ", ".join(f"{v} {k}" for k, v in sorted(counts.items())
                       if k not in ("agree", "invalid-ok"))
    print(f"{result['examples']} scenarios, {result['agree']} agree, {result['found']} minimal "
          f"disagreements written" + (f" ({others})" if others else "") +
          f" in {time.monotonic() - started:.0f} s")
    for path in result["files"]:
        print(f"  {path}")
    return 0 if not result["found"] and result["examples"] == args.examples else 1

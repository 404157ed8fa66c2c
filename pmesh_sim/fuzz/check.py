"""One fuzzed document's verdict: simulation (bounded in wall time) against a real nats-server.

:func:`check_document` runs a document on the simulation under a wall-clock watchdog (a run
past :data:`SIM_WALL_LIMIT` is a *hang*, a finding), skips it when the simulation's own result
changes as every timer is shifted by :data:`TIMER_SHIFT` (the real server could go either
way: see :func:`timing_sensitive`), then runs it on a :class:`RealTarget` (one nats-server
reused across documents, its streams deleted in between) and compares. A disagreement counts
only when a second real run repeats it: the real server applies acks asynchronously, and a
race is not the simulation's fault.

>>> doc = {"name": "t", "streams": [{"name": "S0", "subjects": ["s0.>"], "max_age": 0.35}],
...        "steps": [{"at": 0.0, "op": "js_publish", "subject": "s0.a"},
...                  {"at": 1.0, "op": "stream_info", "stream": "S0"}]}
>>> timing_sensitive(doc)
False
>>> doc["steps"][1]["at"] = 0.7      # the real server may still hold it at 0.7 s
>>> timing_sensitive(doc)
True
>>> signature([Difference("t", "3", "fetch.messages[0].num_delivered", 1, 2)])
frozenset({'fetch.messages.num_delivered'})
"""

from __future__ import annotations

import asyncio
import copy
import re
import shutil
import signal
import threading
import time
from dataclasses import dataclass, field

from ..checks import Difference, compare_results
from ..errors import PmeshError, ScenarioError
from ..scenario import Scenario
from .generate import TIMER_KEYS

__all__ = ["SIM_WALL_LIMIT", "TIMER_SHIFT", "MAX_AGE_LAG", "INACTIVE_JITTER", "TTL_LAG",
           "SimHang", "Verdict",
           "RealTarget", "run_sim_bounded", "timing_sensitive", "signature", "check_document",
           "check_invalid"]

#: Wall-clock seconds a simulated run may take; longer is reported as a hang.
SIM_WALL_LIMIT = 10.0
#: Seconds every timer is shifted by (both ways) to find results that sit on a timing edge.
TIMER_SHIFT = 0.04
#: How much later than ``max_age`` the real server may expire a message (memstore.go and
#: filestore.go ``resetAgeChk``: at least 250 ms between checks; ``ats``: a 100 ms clock).
MAX_AGE_LAG = 0.4
#: How much later than ``inactive_threshold`` the real server may delete a pull consumer
#: (consumer.go ``updateInactiveThreshold``: 100 ms plus a random jitter up to 900 ms).
INACTIVE_JITTER = 1.0
#: How much later than its ``Nats-TTL`` a message may go: a TTL is whole seconds, so it ends
#: on the step grid, and the real server expires on the age-check timer (as ``max_age``).
TTL_LAG = 1.0


class SimHang(BaseException):
    """A simulated run exceeded its wall-clock limit (a BaseException: nothing may catch it)."""


def run_sim_bounded(scenario: Scenario, limit: float = SIM_WALL_LIMIT) -> dict:
    """The simulation's result document; raises :class:`SimHang` after ``limit`` wall seconds.

    The watchdog is ``SIGALRM``, so this must run in the main thread (a worker process's).
    """
    from ..sim.runner import run_sim

    if threading.current_thread() is not threading.main_thread():
        raise PmeshError("run_sim_bounded needs the main thread (its watchdog is SIGALRM)")

    def expire(signum, frame):
        raise SimHang(f"the simulation ran longer than {limit:g} s of wall time")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, limit)
    try:
        return run_sim(scenario)[0]
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _shifted(doc: dict, delta: float, keys: tuple[str, ...] = TIMER_KEYS) -> dict:
    """``doc`` with every timer under ``keys`` ``delta`` seconds longer (never below 0.01 s):
    numbers, relative dates (``"+0.45s"``) and ``Nats-TTL`` headers of whole seconds (moved
    only later: a TTL under a second is refused)."""
    def shift(value):
        if isinstance(value, list):
            return [shift(v) for v in value]
        if isinstance(value, str):
            match = re.fullmatch(r"([+-]?)(\d+(?:\.\d+)?)(s?)", value)
            if not match or (not match[1] and (delta < 0 or float(match[2]) < 1)):
                return value
            moved = round(float(match[1] + match[2]) + delta, 3)
            return f"{moved:{'+' if match[1] else ''}g}{match[3]}"
        return max(0.01, round(value + delta, 3)) if value else value

    out = copy.deepcopy(doc)
    steps = out.get("steps", [])
    for item in [*out.get("streams", []), *out.get("consumers", []), *steps,
                 *(s["headers"] for s in steps if isinstance(s.get("headers"), dict))]:
        for key in keys:
            if isinstance(item.get(key), (int, float, list, str)):
                item[key] = shift(item[key])
    return out


def timing_sensitive(doc: dict, shift: float = TIMER_SHIFT) -> bool:
    """Whether the simulation's result changes when every timer fires ``shift`` s earlier or
    later (the document has an event within ``shift`` of a step that observes it, where the
    real server's scheduling could go either way), or when ``max_age`` is :data:`MAX_AGE_LAG`
    longer (the real server expires messages on a timer that runs no more often than every
    250 ms and reads a clock that ticks every 100 ms, so expiry comes up to ~0.35 s late), or
    when ``inactive_threshold`` is :data:`INACTIVE_JITTER` longer (random jitter)."""
    base = run_sim_bounded(Scenario.from_dict(doc))
    for delta, keys in ((shift, TIMER_KEYS), (-shift, TIMER_KEYS), (MAX_AGE_LAG, ("max_age",)),
                        (INACTIVE_JITTER, ("inactive_threshold",)), (TTL_LAG, ("Nats-TTL",))):
        shifted = _shifted(doc, delta, keys)
        if shifted == doc:
            continue
        if compare_results(base, run_sim_bounded(Scenario.from_dict(shifted))):
            return True
    return False


def signature(diffs: list[Difference]) -> frozenset[str]:
    """What kind of disagreement this is: the differing fields without indexes or names
    (shrinking keeps to a candidate that shares one of them, so it cannot slip to another)."""
    out = set()
    for d in diffs:
        name = re.sub(r"\[\d+\]", "", d.field)
        name = re.sub(r"^final\.(streams|consumers)\.[^.]+", r"final.\1.*", name)
        name = re.sub(r"^subscriptions\.[^.]+", "subscriptions.*", name)
        out.add(name)
    return frozenset(out)


@dataclass
class Verdict:
    """``kind``: agree, timing (skipped), disagree, hang, crash (the simulation raised),
    real-error (the real side failed; not the simulation's), invalid-ok, invalid-bad."""

    kind: str
    diffs: list = field(default_factory=list)
    detail: str = ""
    sim: dict | None = None
    real: dict | None = None

    @property
    def failing(self) -> bool:
        return self.kind in ("disagree", "hang", "crash", "invalid-bad")

    @property
    def signature(self) -> frozenset[str]:
        if self.kind == "disagree":
            return signature(self.diffs)
        return frozenset({self.kind + ":" + self.detail.split(":")[0]})


class RealTarget:
    """One nats-server reused across documents; :meth:`run` deletes every stream first."""

    def __init__(self):
        from ..real.process import NatsServer

        self.server = NatsServer("n1")

    def __enter__(self) -> RealTarget:
        self.server.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.stop()

    def run(self, scenario: Scenario) -> dict:
        from ..real.runner import run_real_on

        if not self.server.running:
            self.server.restart()
        self._reset()
        doc = run_real_on(scenario, {"n1": self.server})[0]
        if _store_error(doc):  # a deleted file stream's directory was still in the way
            self.server.kill()
            shutil.rmtree(self.server.store_dir, ignore_errors=True)
            self.server.start()
            doc = run_real_on(scenario, {"n1": self.server})[0]
        return doc

    def _reset(self) -> None:
        """Delete every stream, then wait (up to 2 s) until their store directories are gone:
        the server removes a file stream's directory after it answers the delete."""
        asyncio.run(_delete_all_streams(self.server.url))
        streams = self.server.store_dir / "jetstream" / "$G" / "streams"
        deadline = time.monotonic() + 2.0
        while streams.is_dir() and any(streams.iterdir()) and time.monotonic() < deadline:
            time.sleep(0.01)


def _store_error(doc: dict) -> bool:
    """Whether creating a stream failed with 10049 ("error creating store for stream")."""
    results = [s.get("result", {}) for s in doc.get("setup", []) + doc.get("steps", [])]
    return any(r.get("error", {}).get("err_code") == 10049 for r in results)


async def _delete_all_streams(url: str) -> None:
    import json

    import nats

    nc = await nats.connect(url, connect_timeout=2, max_reconnect_attempts=0)
    try:
        while True:
            reply = await nc.request("$JS.API.STREAM.NAMES", b"{}", timeout=2)
            names = json.loads(reply.data).get("streams") or []
            if not names:
                return
            for name in names:
                await nc.request(f"$JS.API.STREAM.DELETE.{name}", b"", timeout=2)
    finally:
        await nc.close()


def check_document(doc: dict, target: RealTarget | None, *, real: bool = True,
                   limit: float = SIM_WALL_LIMIT) -> Verdict:
    """The verdict for a valid document (see the module's description); with ``real`` false
    only the simulation runs (a document it runs without hanging or raising then "agrees")."""
    scenario = Scenario.from_dict(doc)
    try:
        sim = run_sim_bounded(scenario, limit)
        if not real:
            return Verdict("agree", sim=sim)
        if timing_sensitive(doc):
            return Verdict("timing")
    except SimHang as err:
        return Verdict("hang", detail=str(err))
    except Exception as err:  # noqa: BLE001 - any exception out of the simulation is a finding
        return Verdict("crash", detail=f"{type(err).__name__}: {err}")
    try:
        real = target.run(scenario)
        diffs = compare_results(sim, real)
        if diffs:
            again = compare_results(sim, target.run(scenario))
            if not again or not signature(again) & signature(diffs):
                return Verdict("timing", detail="the real server's result did not repeat")
    except Exception as err:  # noqa: BLE001 - a failing server or client is not the sim's
        return Verdict("real-error", detail=f"{type(err).__name__}: {err}")
    return Verdict("disagree" if diffs else "agree", diffs, sim=sim, real=real)


def check_invalid(doc: dict, where: str, key: str | None, tmpdir) -> Verdict:
    """A broken document must give the same :class:`ScenarioError` on both backends, naming
    ``where`` and ``key``; anything else (no error, a traceback) is a finding."""
    from pathlib import Path

    import yaml

    from ..runners import run_scenario

    path = Path(tmpdir) / "broken.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    messages = []
    for backend in ("sim", "real"):
        try:
            run_scenario(path, backend)
        except ScenarioError as err:
            messages.append(str(err))
        except Exception as err:  # noqa: BLE001
            return Verdict("invalid-bad", detail=f"{backend}: {type(err).__name__}: {err}")
        else:
            return Verdict("invalid-bad", detail=f"{backend}: no error for a broken file")
    text = messages[0]
    if messages[0] != messages[1] or where not in text or (key and repr(key) not in text):
        return Verdict("invalid-bad", detail=f"unclear error: {text}")
    return Verdict("invalid-ok")

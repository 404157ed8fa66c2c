"""Delivery guarantees: how many messages each receiver got 0, 1 or 2+ times, and processed.

For every receiver in a run (a core subscription, or a queue group as one receiver, and every
JetStream consumer) :func:`delivery_counts` counts its messages by how often they were
delivered and how often they were processed; :func:`draw_guarantees` draws those counts side
by side for several runs, e.g. the three of :func:`guarantee_runs`: core NATS (at most once:
some messages are lost), JetStream (at least once: some are delivered, and processed, twice)
and JetStream with de-duplication and double acks (exactly once: each is processed once).
In a notebook: ``draw_guarantees(guarantee_runs())``.

What counts, from the client's records (both backends write them):

- a core receiver's messages are the ``publish`` records whose subject its subscriptions match
  (subjects under ``_INBOX.`` and ``$JS.`` are the library's own and left out); deliveries are
  its ``deliver`` records of those ``msg_id`` s;
- a JetStream consumer's messages are its stream's sequences (``store``, ``pub_ack`` and
  ``deliver`` records; those its ``filter_subjects`` take); deliveries are the client's
  ``deliver`` records of the consumer, by stream sequence. A publish the stream never stored
  (its pub ack never came) is the publisher's to send again, and is not counted.

"Processed" cannot be seen in a trace (it is the application's side effect), so it is modelled:
an application processes every delivery it gets, so processed = delivered; except that a
consumer whose acks are all double acks (``ack_sync``) is taken to follow the exactly-once
pattern: the application stores, with its result, the stream sequences it processed and skips
a redelivery of one it has stored (the confirmed ack tells it when it may forget one), so
processed = min(delivered, 1).

>>> from pmesh_sim.trace import Trace
>>> t = Trace(clock=lambda: 0.0)
>>> t.record(0, "subscribe", {"node": "n1", "client": "w", "sid": 1, "subject": "a.*", "queue": ""})
>>> for i in (1, 2, 3):
...     t.record(i, "publish", {"node": "n1", "client": "p", "subject": f"a.{i}", "msg_id": i})
>>> t.record(4, "deliver", {"node": "n1", "client": "w", "sid": 1, "subject": "a.1", "msg_id": 1})
>>> c = delivery_counts(t)["w"]
>>> c.mode, c.delivered, c.processed
('core', (2, 1, 0), (2, 1, 0))
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..subjects import subject_matches
from ._common import axes, empty

__all__ = ["Counts", "GuaranteeBars", "delivery_counts", "draw_guarantees", "guarantee_runs",
           "GUARANTEE_SCENARIOS"]

#: The bars' categories: delivered (or processed) 0 times, once, 2 or more times.
TIMES = ("0", "1", "2+")
_COLOURS = {"0": "#D55E00", "1": "#009E73", "2+": "#E69F00"}
_INTERNAL = ("_INBOX.", "$JS.", "$SYS.")
#: The scenario files of :func:`guarantee_runs`: label -> file in ``pmesh_sim/examples``.
GUARANTEE_SCENARIOS = {
    "core\n(at most once)": "guarantees-core.yaml",
    "JetStream\n(at least once)": "guarantees-jetstream.yaml",
    "dedup + double ack\n(exactly once)": "guarantees-exactly-once.yaml",
}


@dataclass(frozen=True)
class Counts:
    """One receiver's messages by delivery count ``(0, 1, 2+)`` and by processing count."""

    mode: str                         #: "core", "JetStream" or "JetStream, double ack"
    delivered: tuple[int, int, int]
    processed: tuple[int, int, int]


@dataclass
class GuaranteeBars:
    """What :func:`draw_guarantees` drew."""

    ax: Any
    counts: dict[str, dict[str, Counts]] = field(default_factory=dict)  #: run -> receiver -> Counts
    #: (run, receiver, "delivered" | "processed", "0" | "1" | "2+") -> Rectangle
    bars: dict[tuple[str, str, str, str], Any] = field(default_factory=dict)


def _bins(times: list[int]) -> tuple[int, int, int]:
    return (sum(n == 0 for n in times), sum(n == 1 for n in times), sum(n >= 2 for n in times))


def _counts(mode: str, delivered: list[int], double_ack: bool = False) -> Counts:
    processed = [min(n, 1) for n in delivered] if double_ack else delivered
    return Counts(mode, _bins(delivered), _bins(processed))


def _core(trace) -> dict[str, Counts]:
    subjects: dict[str, list[str]] = {}        # receiver -> subjects
    members: dict[str, set[str]] = {}          # receiver -> clients
    for e in trace.filter("subscribe"):
        f = e.fields
        if f["subject"].startswith(_INTERNAL):
            continue
        name = f"{f['queue']} (queue group)" if f.get("queue") else f["client"]
        subjects.setdefault(name, []).append(f["subject"])
        members.setdefault(name, set()).add(f["client"])
    publishes = [(e.fields["msg_id"], e.fields["subject"]) for e in trace.filter("publish")
                 if not e.fields["subject"].startswith(_INTERNAL)]
    core_deliveries = [(e.fields.get("client"), e.fields.get("msg_id"))
                       for e in trace.filter("deliver") if "consumer" not in e.fields]
    out = {}
    for name, subs in subjects.items():
        mine = [m for m, subject in publishes if any(subject_matches(s, subject) for s in subs)]
        got = Counter(m for client, m in core_deliveries if client in members[name])
        if mine:
            out[name] = _counts("core", [got[m] for m in mine])
    return out


def _jetstream(trace) -> dict[str, Counts]:
    seqs: dict[str, dict[int, str]] = {}                 # stream -> seq -> subject
    filters: dict[tuple[str, str], list[str]] = {}
    got: dict[tuple[str, str], Counter] = {}
    acks: dict[tuple[str, str], set[str]] = {}
    subject_of = {e.fields["msg_id"]: e.fields["subject"] for e in trace.filter("publish")}
    for e in trace:
        f = e.fields
        if e.kind in ("store", "pub_ack") and f.get("stream") and f.get("stream_seq"):
            subject = f.get("subject", subject_of.get(f.get("msg_id"), ""))
            seqs.setdefault(f["stream"], {}).setdefault(f["stream_seq"], subject)
        elif e.kind in ("consumer_config", "consumer_created"):
            filters.setdefault((f["stream"], f["consumer"]), f.get("filter_subjects") or [])
        elif e.kind == "deliver" and "consumer" in f:
            key = (f["stream"], f["consumer"])
            seqs.setdefault(f["stream"], {}).setdefault(f["stream_seq"], f.get("subject", ""))
            got.setdefault(key, Counter())[f["stream_seq"]] += 1
        elif e.kind == "ack" and "consumer" in f:
            acks.setdefault((f["stream"], f["consumer"]), set()).add(f.get("action"))
    out = {}
    for key in sorted(set(filters) | set(got)):
        stream, consumer = key
        wanted = filters.get(key) or []
        mine = [s for s, subject in sorted(seqs.get(stream, {}).items())
                if not wanted or any(subject_matches(w, subject) for w in wanted)]
        double = bool(acks.get(key)) and acks[key] <= {"ack_sync", "nak", "term", "in_progress"}
        if mine:
            out[f"{stream}/{consumer}"] = _counts(
                "JetStream, double ack" if double else "JetStream",
                [got.get(key, Counter())[s] for s in mine], double)
    return out


def delivery_counts(trace) -> dict[str, Counts]:
    """Every receiver of ``trace`` (core subscriber or queue group, JetStream consumer) and its
    messages counted by delivery and by processing (see the module's docs for the rules)."""
    return {**_core(trace), **_jetstream(trace)}


def draw_guarantees(runs, *, ax=None) -> GuaranteeBars:
    """Stacked bars: for each run and receiver, its messages delivered 0 / 1 / 2+ times, and
    processed 0 / 1 / 2+ times (a bar each).

    ``runs``: a mapping label -> trace (the labels name the groups; ``\\n`` breaks a line), or
    one trace. A run without receivers adds nothing; no receivers at all gives a labelled empty
    figure.
    """
    if not hasattr(runs, "items"):
        runs = {"run": runs}
    counts = {label: delivery_counts(trace) for label, trace in runs.items()}
    width = max(6.0, 2.2 * sum(max(len(c), 1) for c in counts.values()) + 1.5)
    ax = axes(ax, (width, 5.2))
    title = "Delivery guarantees: how often each message was delivered and processed"
    out = GuaranteeBars(ax, counts)
    if not any(counts.values()):
        return GuaranteeBars(empty(ax, title, "no subscriber or consumer received anything: "
                                   "nothing to count"), counts)
    x, ticks, labels, receivers_at, runs_at = 0.0, [], [], {}, {}
    for label, receivers in counts.items():
        start = x
        for receiver, c in receivers.items():
            for measure in ("delivered", "processed"):
                _stack(out, label, receiver, measure, getattr(c, measure), x)
                ticks.append(x)
                labels.append(measure)
                x += 1.0
            receivers_at[x - 1.5] = f"{receiver}\n({c.mode})"
            x += 0.4
        if receivers:
            runs_at[(start + x - 1.4) / 2] = label
        x += 0.8
    ax.set_xticks(ticks, labels, fontsize=9)
    top = max(sum(c.delivered) for r in counts.values() for c in r.values())
    ax.set_ylim(0, top * 1.2)
    for where, places, style in ((-0.09, receivers_at, {"fontsize": 8}),
                                 (-0.25, runs_at, {"fontsize": 10, "fontweight": "bold"})):
        extra = ax.secondary_xaxis(where)
        extra.set_xticks(list(places), list(places.values()), **style)
        extra.tick_params(length=0)
        extra.spines["bottom"].set_visible(False)
    ax.set_ylabel("messages")
    from matplotlib.patches import Patch

    ax.legend(handles=[Patch(color=_COLOURS[t], label=f"{t} time{'s' if t != '1' else ''}")
                       for t in TIMES], loc="upper right", ncols=3, fontsize=9, frameon=False)
    ax.set_title(f"{title}\n0 times: lost; 2+ times: duplicated work "
                 "('processed' is modelled: see pmesh_sim.viz.guarantees)", fontsize=11)
    ax.spines[["top", "right"]].set_visible(False)
    return out


def _stack(out: GuaranteeBars, run: str, receiver: str, measure: str,
           values: tuple[int, int, int], x: float) -> None:
    bottom = 0
    for times, n in zip(TIMES, values):
        rect = out.ax.bar(x, n, 0.8, bottom=bottom, color=_COLOURS[times],
                          edgecolor="white", linewidth=0.8)[0]
        out.bars[(run, receiver, measure, times)] = rect
        if n:
            out.ax.text(x, bottom + n / 2, str(n), ha="center", va="center", fontsize=9,
                        color="white", fontweight="bold")
        bottom += n


def guarantee_runs(seed: int | None = None) -> dict:
    """Run the three guarantee scenarios (``pmesh_sim/examples/guarantees-*.yaml``) in the
    simulation; returns label -> trace, in the order core, JetStream, exactly once.

    ``seed`` overrides the files' seed (1). The network loses 10% of the messages, also the
    JetStream API's: with some seeds it loses a stream's or consumer's creation, and then this
    raises a :class:`~pmesh_sim.errors.PmeshError` saying so (try another seed).
    """
    from ..errors import PmeshError
    from ..runners import run_scenario

    folder = Path(__file__).resolve().parent.parent / "examples"
    runs = {}
    for label, name in GUARANTEE_SCENARIOS.items():
        traces: list = []
        doc = run_scenario(folder / name, "sim", seed=seed, trace_out=traces)
        failed = [s for s in doc["setup"] if "error" in s["result"] or "outcome" in s["result"]]
        if failed:
            raise PmeshError(f"{name} with seed {doc['seed']}: the network lost the setup "
                             f"({failed[0]}); try another seed")
        runs[label] = traces[0]
    return runs

"""Tell what happened in a run, in sentences a student can follow.

:func:`describe` turns a result document (from either backend) into a short narrative: one line
a step, then what each subscription received. :func:`write_report` writes that narrative beside
the result document and the trace.

>>> describe_result({"stream": "ORDERS", "seq": 3, "duplicate": False})
'stored in ORDERS as seq 3'
>>> describe_result({"error": {"code": 400, "err_code": 10071,
...                            "description": "wrong last sequence: 2"}})
'error 10071 (400): wrong last sequence: 2'
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["describe", "describe_result", "write_report"]


def _quote(data: Any) -> str:
    text = str(data)
    return repr(text if len(text) <= 40 else text[:37] + "...")


def _seqs(pair: dict) -> str:
    return f"consumer seq {pair['consumer_seq']} / stream seq {pair['stream_seq']}"


def describe_result(result: dict) -> str:
    """One step's result as a phrase."""
    if "error" in result:
        err = result["error"]
        return f"error {err['err_code']} ({err['code']}): {err['description']}"
    if "outcome" in result:
        extra = {k: v for k, v in result.items() if k != "outcome"}
        return result["outcome"].replace("_", " ") + (f" {extra}" if extra else "")
    if "seq" in result and "stream" in result:
        if result.get("duplicate"):
            return f"duplicate: already stored in {result['stream']} as seq {result['seq']}"
        return f"stored in {result['stream']} as seq {result['seq']}"
    if "messages" in result and isinstance(result["messages"], list):
        msgs = result["messages"]
        if not msgs:
            status = f" (status {result['status']})" if "status" in result else ""
            return f"no messages{status}"
        parts = [f"seq {m['stream_seq']} {_quote(m['data'])}"
                 + (f" (delivery {m['num_delivered']})" if m["num_delivered"] > 1 else "")
                 for m in msgs]
        return f"{len(msgs)} message(s): " + ", ".join(parts)
    if "delivered" in result:
        return (f"delivered up to {_seqs(result['delivered'])}; ack floor at "
                f"{_seqs(result['ack_floor'])}; {result['num_ack_pending']} awaiting ack, "
                f"{result['num_redelivered']} redelivered, {result['num_pending']} not yet "
                f"delivered, {result['num_waiting']} pull request(s) waiting")
    if "messages" in result and "last_seq" in result:
        return (f"{result['messages']} message(s), seq {result['first_seq']}..{result['last_seq']}, "
                f"{result['num_subjects']} subject(s), {result['num_deleted']} deleted, "
                f"{result['consumer_count']} consumer(s)")
    if "data" in result:
        return f"reply {_quote(result['data'])}"
    return str(result)


def describe(doc: dict, steps: list | None = None) -> str:
    """The whole run as text: a header, one line a step, what each subscription received.

    ``steps`` (the scenario's :class:`~pmesh_sim.scenario.Step` list) adds each step's subject
    or consumer to its line.
    """
    lines = [f"{doc['scenario']} on {doc['backend']} ({doc['servers']} server(s), seed {doc['seed']})"]
    by_index = {s.index: s for s in steps or []}
    for rec in doc["steps"]:
        step = by_index.get(rec["index"])
        target = ""
        if step is not None:
            args = step.args
            target = args.get("subject") or args.get("consumer") or args.get("stream") or args.get("name") or ""
            target = f" {target}" if target else ""
            at = f"t={step.at:<5g} "
        else:
            at = ""
        lines.append(f"  {at}#{rec['index']:<2} {rec['op']}{target}: {describe_result(rec['result'])}")
    queues = doc.get("queues", {})
    for name, msgs in sorted(doc.get("subscriptions", {}).items()):
        group = f" (queue group {queues[name]})" if name in queues else ""
        shown = ", ".join(f"{m['subject']} {_quote(m['data'])}" for m in msgs[:6])
        more = f", … {len(msgs) - 6} more" if len(msgs) > 6 else ""
        lines.append(f"  subscription {name}{group} received {len(msgs)}: {shown}{more}")
    return "\n".join(lines) + "\n"


def write_report(directory: str | Path, doc: dict, trace, steps: list | None = None) -> Path:
    """Write ``result.json``, ``trace.jsonl`` and ``summary.txt`` into ``directory``."""
    from .scenario import dumps_result

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    doc["trace"] = str(out / "trace.jsonl")
    (out / "trace.jsonl").write_text(trace.dumps(), encoding="utf-8")
    (out / "result.json").write_text(dumps_result(doc), encoding="utf-8")
    (out / "summary.txt").write_text(describe(doc, steps), encoding="utf-8")
    return out

"""Tell what happened in a run, in sentences a student can follow, and in one HTML page.

:func:`describe` turns a result document (from either backend) into a short narrative: one line
a step (led by the step's own ``description`` when the file gives one), then what each
subscription received. :func:`write_report` writes that narrative beside the result document and
the trace, plus ``report.html``: one self-contained page (figures embedded as PNG, the
narrative, the sim-vs-real verdict, the result document) that :func:`html_report` builds.

>>> describe_result({"stream": "ORDERS", "seq": 3, "duplicate": False})
'stored in ORDERS as seq 3'
>>> describe_result({"error": {"code": 400, "err_code": 10071,
...                            "description": "wrong last sequence: 2"}})
'error 10071 (400): wrong last sequence: 2'
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

__all__ = ["describe", "describe_result", "write_report", "html_report", "render_figure",
           "use_file_backend", "FIGURES", "Verdict"]


class Verdict(NamedTuple):
    """What a real nats-server said about the run: ``status`` is ``"agree"``, ``"differ"`` or
    ``"not run"``; ``detail`` says why or what differs."""

    status: str
    detail: str = ""


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
    if "faults" in result:       # a chaos step
        return f"{len(result['faults'])} fault op(s): " + ", ".join(
            f"{f['op']} {f.get('server') or ' | '.join(map(','.join, f.get('groups', [])))}"
            .rstrip() + f" at +{f['at']:g} s ({f['outcome']})" for f in result["faults"])
    if "crashed_before_ack" in result:       # a workers step
        return (f"fetched {result['fetched']}, processed {result['processed']}, acked "
                f"{result['acked']}; crashed {result['crashed_before_ack']} time(s) before an "
                f"ack, {result['crashed_after_ack']} after; {result['errors']} fetch error(s)")
    return str(result)


class _Line(NamedTuple):
    at: str          # "t=0.2" or "" when the step is unknown
    index: int
    action: str      # op and its subject / consumer / stream
    description: str
    result: dict
    args: dict       # the step's keys ({} when the step is unknown)


def _lines(doc: dict, steps: list | None) -> Iterator[_Line]:
    by_index = {s.index: s for s in steps or []}
    for rec in doc["steps"]:
        step = by_index.get(rec["index"])
        target, at, text, args = "", "", "", {}
        if step is not None:
            args = step.args
            target = (args.get("subject") or args.get("consumer") or args.get("stream")
                      or args.get("name") or "")
            at, text = f"t={step.at:g}", getattr(step, "description", "")
        action = f"{rec['op']} {target}".rstrip()
        yield _Line(at, rec["index"], action, text, rec["result"], args)


def describe(doc: dict, steps: list | None = None) -> str:
    """The whole run as text: a header, one line a step, what each subscription received.

    ``steps`` (the scenario's :class:`~pmesh_sim.scenario.Step` list) adds each step's subject
    or consumer to its line, and its ``description`` from the file as the line's first sentence.

    >>> from pmesh_sim.scenario import Step
    >>> doc = {"scenario": "s", "backend": "sim", "servers": 1, "seed": 0,
    ...        "steps": [{"index": 0, "op": "js_publish",
    ...                   "result": {"stream": "S", "seq": 1, "duplicate": True}}]}
    >>> print(describe(doc, [Step(0, "js_publish", 0.5, {"subject": "a"}, "a retry")]), end="")
    s on sim (1 server(s), seed 0)
      t=0.5   #0  a retry
                  js_publish a -> duplicate: already stored in S as seq 1
    """
    lines = [f"{doc['scenario']} on {doc['backend']} ({doc['servers']} server(s), seed {doc['seed']})"]
    for line in _lines(doc, steps):
        head = f"  {line.at:<7} #{line.index:<2} " if line.at else f"  #{line.index:<2} "
        if line.description:
            lines.append(f"{head}{line.description}")
            lines.append(f"{'':{len(head)}}{line.action} -> {describe_result(line.result)}")
        else:
            lines.append(f"{head}{line.action}: {describe_result(line.result)}")
    queues = doc.get("queues", {})
    for name, msgs in sorted(doc.get("subscriptions", {}).items()):
        group = f" (queue group {queues[name]})" if name in queues else ""
        shown = ", ".join(f"{m['subject']} {_quote(m['data'])}" for m in msgs[:6])
        more = f", … {len(msgs) - 6} more" if len(msgs) > 6 else ""
        lines.append(f"  subscription {name}{group} received {len(msgs)}: {shown}{more}")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# figures

def _first(scenario, kind: str) -> str | None:
    """The name of the first ``"stream"`` or ``"consumer"`` the scenario declares, if any."""
    if scenario is None:
        return None
    if kind == "stream":
        return scenario.streams[0]["name"] if scenario.streams else None
    for fields in scenario.consumers:
        return fields.get("durable_name") or fields.get("name")
    return None


def _topology(trace, scenario):
    from .viz import draw_topology
    return draw_topology(trace)


def _sequence(trace, scenario):
    from .viz import draw_sequence
    return draw_sequence(trace)


def _consumer_timeline(trace, scenario):
    from .viz import draw_consumer_timeline
    consumer = _first(scenario, "consumer")
    return None if consumer is None else draw_consumer_timeline(trace, consumer)


def _stream_state(trace, scenario):
    from .viz import draw_stream_state
    stream = _first(scenario, "stream")
    return None if stream is None else draw_stream_state(trace, stream)


#: The report's figures, in order: ``(title, draw)`` where ``draw(trace, scenario)`` returns a
#: matplotlib Figure (or anything with a ``.figure`` or an ``.ax``: an Axes, an artist, a viz
#: result), or None when the
#: scenario has nothing for it (no consumer, no stream). A ``draw`` that raises, or a viz
#: function that does not exist, becomes a visible note in the report instead of a figure.
FIGURES: list[tuple[str, Callable[[Any, Any], Any]]] = [
    ("Topology: servers, clients, subscriptions, streams and consumers", _topology),
    ("Message sequence: who sent what to whom, in time order", _sequence),
    ("Consumer timeline: deliveries, ack_wait, acks and redeliveries", _consumer_timeline),
    ("Stream state over time", _stream_state),
]


def _figure_of(drawn: Any):
    """The matplotlib Figure behind what a figure function returned."""
    from matplotlib.figure import Figure

    for item in (drawn, getattr(drawn, "ax", None),     # the viz results keep their axes
                 *(drawn.values() if isinstance(drawn, dict) else
                   drawn if isinstance(drawn, (list, tuple)) else ())):
        if isinstance(item, Figure):
            return item
        if isinstance(getattr(item, "figure", None), Figure):
            return item.figure
    raise TypeError(f"returned {type(drawn).__name__}, not a matplotlib figure or axes")


def use_file_backend() -> None:
    """Draw into files only (matplotlib's Agg), unless pyplot is already in use (a notebook)."""
    import sys

    if "matplotlib.pyplot" not in sys.modules:
        import matplotlib

        matplotlib.use("Agg")


def render_figure(draw: Callable, trace, scenario=None) -> tuple[str | None, str | None]:
    """``(png_base64, None)`` for what ``draw(trace, scenario)`` drew, or ``(None, note)``
    saying why there is no figure; never raises. Figures it opened are closed.

    >>> render_figure(lambda trace, scenario: None, trace=[])
    (None, 'nothing to draw for this scenario')
    >>> render_figure(lambda trace, scenario: 1 / 0, trace=[])[1]
    'this figure could not be drawn: ZeroDivisionError: division by zero'
    """
    import matplotlib.pyplot as plt

    before = set(plt.get_fignums())
    try:
        drawn = draw(trace, scenario)
        if drawn is None:
            return None, "nothing to draw for this scenario"
        buf = io.BytesIO()
        _figure_of(drawn).savefig(buf, format="png", dpi=110, bbox_inches="tight")
        return base64.b64encode(buf.getvalue()).decode("ascii"), None
    except Exception as exc:  # noqa: BLE001 - one failing figure must not break the report
        return None, f"this figure could not be drawn: {type(exc).__name__}: {exc}"
    finally:
        for num in set(plt.get_fignums()) - before:
            plt.close(num)


# ---------------------------------------------------------------------------------------------
# the HTML page

_CSS = """
body{font:16px/1.5 system-ui,-apple-system,"Segoe UI",sans-serif;color:#222;margin:0;background:#f6f7f9}
main{max-width:1040px;margin:0 auto;padding:24px 28px 48px;background:#fff}
h1{font-size:1.7em;margin:.2em 0}h1 small{font-size:.55em;color:#777;font-weight:400}h2{font-size:1.25em;margin:1.8em 0 .5em;border-bottom:2px solid #e3e6ea}
.meta{color:#555;margin:0 0 1em}.intro{font-size:1.05em;max-width:60em}
.verdict{padding:10px 14px;border-radius:6px;margin:1em 0;font-weight:600}
.verdict pre{font-weight:400}
.agree{background:#e3f4ea;border-left:6px solid #009E73}.differ{background:#fde8e1;border-left:6px solid #D55E00}
.not-run{background:#eef0f3;border-left:6px solid #999}
table{border-collapse:collapse;width:100%;font-size:.95em}
th,td{text-align:left;vertical-align:top;padding:6px 8px;border-bottom:1px solid #e3e6ea}
th{background:#f0f2f5}th.t{width:4.5em}th.n{width:3em}th.what{width:42%}td.t{white-space:nowrap;color:#555;font-variant-numeric:tabular-nums}
td.what small{display:block;color:#666;font-family:ui-monospace,monospace;font-size:.85em}
tr.duplicate td{background:#fff8db}tr.redelivery td{background:#fdebd3}tr.error td{background:#fde8e1}
tr.unacked td{background:#f3e8f1}
.tag{display:inline-block;font-size:.75em;font-weight:700;padding:1px 6px;border-radius:10px;
margin-left:6px;color:#fff;vertical-align:middle}
.tag.duplicate{background:#a08400}.tag.redelivery{background:#E69F00}.tag.error{background:#D55E00}
.tag.unacked{background:#CC79A7}
figure{margin:1.2em 0}figure img{max-width:100%;border:1px solid #e3e6ea}
figcaption{font-weight:600;margin-bottom:.3em}
.note{background:#fff4e5;border:1px dashed #E69F00;padding:10px 14px;border-radius:6px}
.legend{margin:.3em 0;font-size:.9em;color:#444}.legend .tag{margin:0 6px 0 0}
details{margin:.6em 0}summary{cursor:pointer;font-weight:600}
pre{background:#f6f7f9;padding:10px;overflow:auto;font-size:.85em;max-height:32em}
code{font-family:ui-monospace,monospace}
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


_BADGES = {"error": "error", "duplicate": "duplicate", "redelivery": "redelivery",
           "unacked": "not acked"}


def _code(text: str) -> str:
    """Escaped ``text`` with its `backquoted` words set as code.

    >>> _code("queue group `workers` & <b>")
    'queue group <code>workers</code> &amp; &lt;b&gt;'
    """
    parts = _e(text).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


def _tag(line: _Line) -> str:
    """The row's highlight: an error, a duplicate, a redelivery, a message left unacked."""
    result = line.result
    if "error" in result:
        return "error"
    if result.get("duplicate"):
        return "duplicate"
    msgs = result.get("messages")
    if isinstance(msgs, list):
        if any(m.get("num_delivered", 1) > 1 for m in msgs):
            return "redelivery"
        then = line.args.get("then", "ack")
        if any((then if isinstance(then, str) else then.get(m["stream_seq"])) == "ignore"
               for m in msgs):
            return "unacked"
    return ""


_LEGEND = {"duplicate": "the stream already had this Nats-Msg-Id: nothing new was stored",
           "unacked": "a worker took a message and never acked it",
           "redelivery": "a message delivered again (num_delivered > 1)",
           "error": "the server refused the step"}


def _story_table(doc: dict, steps: list | None) -> str:
    rows, seen = [], set()
    for line in _lines(doc, steps):
        tag = _tag(line)
        seen.add(tag)
        badge = f'<span class="tag {tag}">{_BADGES[tag]}</span>' if tag else ""
        what = (f"{_e(line.description)}<small>{_e(line.action)}</small>" if line.description
                else f"<code>{_e(line.action)}</code>")
        rows.append(f'<tr class="{tag}"><td class="t">{_e(line.at)}</td><td>#{line.index}</td>'
                    f'<td class="what">{what}</td><td>{_e(describe_result(line.result))}{badge}'
                    "</td></tr>")
    return ('<table><tr><th class="t">time (s)</th><th class="n">step</th><th class="what">'
            "what happens</th>"
            "<th>what the server answered</th></tr>" + "".join(rows) + "</table>"
            + "".join(f'<p class="legend"><span class="tag {t}">{_BADGES[t]}</span> {_LEGEND[t]}'
                      "</p>" for t in _LEGEND if t in seen))


def _subscriptions_table(doc: dict) -> str:
    queues, rows = doc.get("queues", {}), []
    for name, msgs in sorted(doc.get("subscriptions", {}).items()):
        got = "<br>".join(f"<code>{_e(m['subject'])}</code> {_e(_quote(m['data']))}" for m in msgs)
        rows.append(f"<tr><td>{_e(name)}</td><td>{_e(queues.get(name, '—'))}</td>"
                    f"<td>{len(msgs)}</td><td>{got or '—'}</td></tr>")
    if not rows:
        return ""
    return ("<h2>What each core subscription received</h2><table><tr><th>subscription</th>"
            "<th>queue group</th><th>messages</th><th>subject and data</th></tr>"
            + "".join(rows) + "</table>")


def _final_state(doc: dict) -> str:
    final = doc.get("final", {})
    items = [f"<li>stream <b>{_e(n)}</b>: {_e(describe_result(s))}</li>"
             for n, s in final.get("streams", {}).items()]
    items += [f"<li>consumer <b>{_e(n)}</b>: {_e(describe_result(c))}</li>"
              for n, c in final.get("consumers", {}).items()]
    return f"<h2>At the end</h2><ul>{''.join(items)}</ul>" if items else ""


def _verdict_html(verdict: Verdict | None, backend: str) -> str:
    if verdict is None:
        return (f'<div class="verdict not-run">Ran on the {_e(backend)} backend only; '
                "<code>pmesh-sim validate FILE</code> compares it with a real nats-server.</div>")
    words = {"agree": "A real nats-server gave the same result as the simulation.",
             "differ": "A real nats-server DISAGREES with the simulation (the real server is "
                       "right):",
             "not run": "Not checked against a real nats-server:"}
    cls = verdict.status.replace(" ", "-")
    detail = f"<pre>{_e(verdict.detail)}</pre>" if "\n" in verdict.detail else _e(verdict.detail)
    return f'<div class="verdict {cls}">{words.get(verdict.status, _e(verdict.status))} {detail}</div>'


def _figures_html(trace, scenario, figures) -> str:
    parts = []
    for title, draw in figures:
        png, note = render_figure(draw, trace, scenario)
        body = (f'<img alt="{_e(title)}" src="data:image/png;base64,{png}">' if png else
                f'<div class="note">{_e(note)}</div>')
        parts.append(f"<figure><figcaption>{_e(title)}</figcaption>{body}</figure>")
    return "<h2>Figures</h2>" + "".join(parts) if parts else ""


def html_report(doc: dict, trace, scenario=None, *, verdict: Verdict | None = None,
                figures: list | None = None, files: list[str] = ()) -> str:
    """The run as one self-contained HTML page (no external files; figures as base64 PNG).

    ``scenario`` is a :class:`~pmesh_sim.scenario.Scenario` (or just its steps); ``figures``
    defaults to :data:`FIGURES`; ``files`` are sibling files to link to.
    """
    from .scenario import dumps_result

    steps = getattr(scenario, "steps", scenario)
    about = getattr(scenario, "description", "")
    backend = "simulation" if doc["backend"] == "sim" else f"{doc['backend']} nats-server"
    span = f", {trace[-1].time:.2f} s" if len(trace) else ""
    links = " · ".join(f'<a href="{_e(f)}">{_e(f)}</a>' for f in files)
    return "".join([
        f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>pmesh-sim report: {_e(doc['scenario'])}</title><style>{_CSS}</style></head>"
        f"<body><main><h1>{_e(doc['scenario'])} <small>· pmesh-sim report</small></h1>",
        f'<p class="meta">Run on the {_e(backend)} · {doc["servers"]} server(s) · seed '
        f"{doc['seed']} · {len(trace)} trace events{span}</p>",
        f'<p class="intro">{_code(about)}</p>' if about else "",
        _verdict_html(verdict, backend),
        "<h2>What happened, step by step</h2>", _story_table(doc, steps),
        _subscriptions_table(doc), _final_state(doc),
        _figures_html(trace, scenario, FIGURES if figures is None else figures),
        "<h2>Details</h2>",
        f"<details><summary>The narrative as text</summary><pre>{_e(describe(doc, steps))}"
        "</pre></details>",
        f"<details><summary>The result document (JSON)</summary><pre>{_e(dumps_result(doc))}"
        "</pre></details>",
        f"<p>Files beside this page: {links}</p>" if links else "",
        "</main></body></html>\n"])


def write_report(directory: str | Path, doc: dict, trace, scenario=None, *,
                 verdict: Verdict | None = None, figures: list | None = None) -> Path:
    """Write ``result.json``, ``trace.jsonl``, ``summary.txt`` and ``report.html`` into
    ``directory``; returns the path of ``report.html``.

    ``scenario`` is the :class:`~pmesh_sim.scenario.Scenario` that ran (or just its steps);
    ``verdict`` what a real server said; ``figures`` replaces :data:`FIGURES`.
    """
    from .scenario import dumps_result

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    steps = getattr(scenario, "steps", scenario)
    doc["trace"] = str(out / "trace.jsonl")
    (out / "trace.jsonl").write_text(trace.dumps(), encoding="utf-8")
    (out / "result.json").write_text(dumps_result(doc), encoding="utf-8")
    (out / "summary.txt").write_text(describe(doc, steps), encoding="utf-8")
    page = html_report(doc, trace, scenario, verdict=verdict, figures=figures,
                       files=["summary.txt", "result.json", "trace.jsonl"])
    (out / "report.html").write_text(page, encoding="utf-8")
    return out / "report.html"

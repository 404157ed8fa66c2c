"""The HTML report: one self-contained file with the narrative, the figures and the verdict."""

import base64
import json
import re
from collections import Counter

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from pmesh_sim.cli import main  # noqa: E402
from pmesh_sim.demo import DEMO_SCENARIO  # noqa: E402
from pmesh_sim.report import FIGURES, Verdict, html_report, render_figure, write_report  # noqa: E402
from pmesh_sim.runners import run_scenario  # noqa: E402
from pmesh_sim.scenario import load_scenario  # noqa: E402

SCENARIO = """
name: tiny-shop
description: one order, a worker that does not ack it, and `<b>` escaped
streams:
  - {name: ORDERS, subjects: ["orders.*"]}
consumers:
  - {stream: ORDERS, durable_name: ship, ack_policy: explicit, ack_wait: 0.5}
subscriptions:
  - {name: q1, subject: "jobs.*", queue: g}
steps:
  - {op: publish, subject: jobs.a, data: "<script>alert(1)</script>"}
  - {at: 0.1, op: js_publish, subject: orders.new, data: "o1", headers: {Nats-Msg-Id: m1},
     description: "checkout stores order 1"}
  - {at: 0.2, op: js_publish, subject: orders.new, data: "o1", headers: {Nats-Msg-Id: m1}}
  - {at: 0.3, op: fetch, consumer: ship, batch: 5, timeout: 0.3, then: ignore,
     description: "the worker takes it and crashes"}
"""

IMG = re.compile(r'<img alt="[^"]*" src="data:image/png;base64,([A-Za-z0-9+/=]+)">')


def events_by_kind(trace, scenario):
    """A test figure: how many events of each kind (returns its Axes, as the viz functions do)."""
    _, ax = plt.subplots(figsize=(6, 3))
    counts = Counter(trace.kinds())
    ax.barh(list(counts), list(counts.values()))
    ax.set_title(f"{scenario.name}: events by kind")
    return ax


def broken(trace, scenario):
    plt.subplots()                      # a figure it opened must still be closed
    raise ValueError("no consumer events in this trace")


def missing(trace, scenario):
    from pmesh_sim.viz import draw_nothing_such  # noqa: F401 - a viz function that is not there


@pytest.fixture
def run(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(SCENARIO)
    scenario = load_scenario(path)
    traces = []
    doc = run_scenario(scenario, "sim", trace_out=traces)
    return path, scenario, doc, traces[0]


def test_the_report_is_one_page_with_the_narrative_and_an_embedded_png(run, tmp_path):
    _, scenario, doc, trace = run
    open_before = plt.get_fignums()
    page = write_report(tmp_path / "out", doc, trace, scenario,
                        figures=[("Events by kind", events_by_kind)])
    assert page == tmp_path / "out" / "report.html"
    text = page.read_text()
    assert "checkout stores order 1" in text                            # the step's description
    assert "duplicate: already stored in ORDERS as seq 1" in text       # the server's answer
    assert "subscription q1 (queue group g) received 1" in text         # the narrative as text
    assert "one order, a worker that does not ack it, and <code>&lt;b&gt;</code>" in text
    pngs = IMG.findall(text)
    assert len(pngs) == 1 and base64.b64decode(pngs[0]).startswith(b"\x89PNG\r\n\x1a\n")
    assert "<script>" not in text and "&lt;script&gt;alert(1)" in text  # data is escaped
    assert not re.search(r'(src|href)="(https?:|//)', text)           # nothing from outside
    assert json.loads((tmp_path / "out" / "result.json").read_text())["scenario"] == "tiny-shop"
    assert plt.get_fignums() == open_before                            # it closes what it opened


def test_a_failing_or_missing_figure_is_a_visible_note_and_the_others_still_draw(run):
    _, scenario, doc, trace = run
    open_before = plt.get_fignums()
    page = html_report(doc, trace, scenario, figures=[
        ("Broken", broken), ("Missing", missing), ("Events by kind", events_by_kind),
        ("Nothing here", lambda t, s: None)])
    notes = re.findall(r'<figcaption>([^<]*)</figcaption><div class="note">([^<]*)</div>', page)
    assert notes[0] == ("Broken", "this figure could not be drawn: ValueError: no consumer "
                                  "events in this trace")
    assert notes[1][0] == "Missing" and "ImportError" in notes[1][1]
    assert "draw_nothing_such" in notes[1][1]
    assert notes[2] == ("Nothing here", "nothing to draw for this scenario")
    assert len(IMG.findall(page)) == 1
    assert plt.get_fignums() == open_before                            # it closes what it opened


def test_render_figure_refuses_what_is_not_a_figure(run):
    _, scenario, _, trace = run
    png, note = render_figure(lambda t, s: 42, trace, scenario)
    assert png is None and note.endswith("returned int, not a matplotlib figure or axes")


def test_the_default_figure_table_never_breaks_the_report(run):
    _, scenario, doc, trace = run
    page = html_report(doc, trace, scenario)
    titles = re.findall(r"<figcaption>([^<]*)</figcaption>", page)
    assert titles == [title for title, _ in FIGURES]
    assert page.count("<figure>") == len(FIGURES)


def test_the_verdict_is_shown(run):
    _, scenario, doc, trace = run
    agree = html_report(doc, trace, scenario, figures=[], verdict=Verdict("agree", "all match"))
    assert '<div class="verdict agree">A real nats-server gave the same result' in agree
    differ = html_report(doc, trace, scenario, figures=[],
                         verdict=Verdict("differ", "step 1 js_publish.seq 1 2\nmore"))
    assert '<div class="verdict differ">' in differ and "js_publish.seq 1 2" in differ
    alone = html_report(doc, trace, scenario, figures=[])
    assert "pmesh-sim validate FILE" in alone


def test_run_report_writes_the_html_and_prints_its_path(run, tmp_path, capsys):
    path = run[0]
    out = tmp_path / "rep"
    assert main(["run", str(path), "--report", str(out)]) == 0
    printed = capsys.readouterr()
    assert printed.out.splitlines()[-1] == f"report: {out / 'report.html'}"
    assert {p.name for p in out.iterdir()} == {"report.html", "result.json", "summary.txt",
                                               "trace.jsonl"}
    assert main(["run", str(path), "--report", str(out), "--json", "-"]) == 0
    printed = capsys.readouterr()
    assert json.loads(printed.out)["scenario"] == "tiny-shop"    # stdout: the document only
    assert printed.err.strip() == f"report: {out / 'report.html'}"


def test_the_demo_tells_its_story_in_the_simulation():
    scenario = load_scenario(DEMO_SCENARIO)
    doc = run_scenario(scenario, "sim")
    results = [s["result"] for s in doc["steps"]]
    assert [r["duplicate"] for r in results if "duplicate" in r] == [False, False, True]
    fetched = [r["messages"] for r in results if "messages" in r and "last_seq" not in r]
    crash, idle, redelivered = fetched
    assert [m["stream_seq"] for m in crash] == [1, 2] and idle == []
    assert [(m["stream_seq"], m["num_delivered"]) for m in redelivered] == [(2, 2)]
    assert doc["final"]["streams"]["ORDERS"]["messages"] == 2
    assert doc["final"]["consumers"]["ORDERS/shipping"]["num_ack_pending"] == 0
    group = [len(doc["subscriptions"][m]) for m in ("mailer-1", "mailer-2")]
    assert sum(group) == len(doc["subscriptions"]["audit"]) == 3


def test_demo_writes_the_report_with_the_real_servers_verdict(tmp_path, capsys):
    assert main(["demo", "--report", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "real nats-server: same result as the simulation" in out
    assert f"report: {tmp_path / 'report.html'}" in out
    page = (tmp_path / "report.html").read_text()
    assert '<div class="verdict agree">' in page
    assert "worker A fetches both orders" in page and "redelivery</span>" in page


def _demo_with_real(monkeypatch, real):
    """Run ``pmesh-sim demo`` with the real backend replaced by ``real(scenario)``."""
    import pmesh_sim.demo as demo

    sim_run = demo.run_scenario
    monkeypatch.setattr(demo, "run_scenario", lambda scenario, backend="sim", **kw:
                        sim_run(scenario, "sim", **kw) if backend == "sim" else real(scenario))


def test_demo_without_a_real_server_still_writes_the_report(monkeypatch, tmp_path, capsys):
    from pmesh_sim.errors import ServerProcessError

    def no_server(scenario):
        raise ServerProcessError("nats-server not found on PATH")

    _demo_with_real(monkeypatch, no_server)
    assert main(["demo", "--report", str(tmp_path)]) == 0
    assert "real server: not run (nats-server not found on PATH)" in capsys.readouterr().out
    page = (tmp_path / "report.html").read_text()
    assert '<div class="verdict not-run">Not checked against a real nats-server: nats-server ' \
           "not found on PATH</div>" in page


def test_demo_that_disagrees_exits_1_and_says_so_in_the_report(monkeypatch, tmp_path, capsys):
    def skewed(scenario):
        doc = run_scenario(scenario, "sim")
        doc["final"]["streams"]["ORDERS"]["messages"] = 3
        return doc

    _demo_with_real(monkeypatch, skewed)
    assert main(["demo", "--report", str(tmp_path)]) == 1
    assert "real nats-server: DISAGREES with the simulation" in capsys.readouterr().out
    page = (tmp_path / "report.html").read_text()
    assert '<div class="verdict differ">' in page and "final.streams.ORDERS.messages" in page

"""The dashboard without a browser: its knobs, the changed scenario, runs and redraws."""

from __future__ import annotations

import base64
import subprocess
import sys

import matplotlib
import pytest

matplotlib.use("Agg")

from pmesh_sim.errors import PmeshError, ScenarioError  # noqa: E402
from pmesh_sim.scenario import Scenario  # noqa: E402
from pmesh_sim.viz import dashboard as dash  # noqa: E402

REDELIVERY = {
    "name": "redelivery", "seed": 1,
    "streams": [{"name": "ORDERS", "subjects": ["orders.*"]}],
    "consumers": [{"stream": "ORDERS", "durable_name": "worker", "ack_wait": 0.5}],
    "steps": [{"at": 0.0, "op": "js_publish", "subject": "orders.1", "data": "a"},
              {"at": 0.1, "op": "fetch", "consumer": "worker", "then": "ignore"},
              {"at": 1.0, "op": "fetch", "consumer": "worker", "timeout": 0.5}],
}


class Recorder:
    """A figure function that plots delivery times and remembers the windows it was given."""

    __name__ = "draw_deliveries"

    def __init__(self):
        self.windows = []

    def __call__(self, trace, ax=None, window=None):
        self.windows.append(window)
        times = [e.time for e in trace if e.kind in ("deliver", "redeliver", "js_deliver")
                 and (window is None or window[0] <= e.time <= window[1])]
        return ax.scatter(times, [1] * len(times))


def _png(board: dash.Dashboard, index: int = 0) -> bytes:
    return base64.b64decode(board.output.outputs[index]["data"]["image/png"])


def _redeliveries(board: dash.Dashboard) -> int:
    """Messages fetched for the second time or later, read from the run's result document."""
    return sum(1 for step in board.result["steps"] if step["op"] == "fetch"
               for msg in step["result"].get("messages", []) if msg["num_delivered"] > 1)


# --- knobs and the changed scenario


def test_core_only_scenario_has_only_the_run_knobs():
    sc = Scenario.from_dict({"name": "core", "network": {"latency": 0.002},
                             "steps": [{"op": "publish", "subject": "a"}]})
    got = {k.key: k for k in dash.knobs(sc)}
    assert list(got) == ["seed", "network.latency", "network.loss"]
    assert got["network.latency"].value == 0.002 and got["network.latency"].scale == 1000


def test_consumer_created_by_a_step_gets_knobs_on_that_step():
    sc = Scenario.from_dict({"name": "steps", "steps": [
        {"op": "add_stream", "name": "S", "subjects": ["s"]},
        {"op": "add_consumer", "stream": "S", "durable_name": "d", "max_deliver": 4}]})
    got = {k.key: k.value for k in dash.knobs(sc)}
    assert got["steps[1].max_deliver"] == 4
    assert got["steps[1].ack_wait"] == 30.0  # the server's default when unset
    assert got["steps[0].discard"] == "old"
    changed = dash.with_values(sc, {"steps[1].ack_wait": 2.5})
    assert changed.steps[1].args["ack_wait"] == 2.5 and "ack_wait" not in sc.steps[1].args


def test_with_values_checks_the_changed_scenario():
    sc = Scenario.from_dict(REDELIVERY)
    with pytest.raises(ScenarioError, match="consumers\\[0\\]: key 'ack_wait': must be number"):
        dash.with_values(sc, {"consumers[0].ack_wait": "soon"})
    with pytest.raises(PmeshError, match="knob key"):
        dash.with_values(sc, {"consumers[x].ack_wait": 1.0})


def test_scenario_dict_round_trips():
    sc = Scenario.from_dict(REDELIVERY)
    again = Scenario.from_dict(dash.scenario_dict(sc))
    assert (again.consumers, again.streams, again.steps) == (sc.consumers, sc.streams, sc.steps)


# --- drawing


def test_draw_passes_the_window_and_a_failing_figure_is_labelled():
    recorder = Recorder()
    dash.draw(recorder, [], (0.0, 1.5))
    assert recorder.windows == [(0.0, 1.5)]

    def draw_broken(trace, ax=None, window=None):
        raise KeyError("stream_seq")

    ax = dash.draw(draw_broken, [], None).axes[0]
    assert ax.get_title() == "broken"
    assert "could not draw: KeyError" in ax.texts[0].get_text()
    assert dash.render(recorder, [], None)[:8] == b"\x89PNG\r\n\x1a\n"


def test_default_figures_bind_each_consumer_and_stream_of_the_scenario(monkeypatch):
    from pmesh_sim import viz

    calls = []
    for name in dash.DEFAULT_FIGURES:
        def fake(trace, *, ax=None, window=None, _name=name, **keywords):
            calls.append((_name, type(ax).__name__, window, keywords))
        monkeypatch.setattr(viz, name, fake, raising=False)
    sc = Scenario.from_dict({**REDELIVERY, "steps": [
        *REDELIVERY["steps"], {"op": "add_consumer", "stream": "ORDERS", "name": "audit"}]})
    figures = dash.default_figures(sc)
    assert [dash.figure_name(f) for f in figures] == [
        "topology", "message sequence", "consumer ORDERS/worker", "consumer ORDERS/audit",
        "stream ORDERS", "delivery guarantees"]
    for figure in figures:
        dash.draw(figure, [], (0.0, 1.0))
    assert calls[2] == ("draw_consumer_timeline", "tuple", (0.0, 1.0),
                        {"consumer": "worker", "stream": "ORDERS", "ack_wait": 0.5})
    assert calls[3][3] == {"consumer": "audit", "stream": "ORDERS"}  # the server's default
    assert calls[4] == ("draw_stream_state", "tuple", (0.0, 1.0), {"stream": "ORDERS"})
    assert calls[0][1] == "Axes" and calls[5][2] is None  # guarantees: no window parameter


def test_default_figures_follow_the_knobs_of_each_run(monkeypatch):
    from pmesh_sim import viz

    given = []
    monkeypatch.setattr(viz, "draw_consumer_timeline", raising=False,
                        value=lambda trace, **keywords: given.append(keywords.get("ack_wait")))
    board = dash.Dashboard(REDELIVERY)
    board.controls["consumers[0].ack_wait"].value = 2.0
    board.run()
    assert given[0] == 0.5 and given[-1] == 2.0


def test_a_figure_without_window_gets_the_trace_cut_to_the_window():
    board = dash.Dashboard(REDELIVERY, figures=[], run=False)
    board.run()
    seen = []
    panel = dash.Panel(lambda trace, ax=None: seen.append(trace), "count", windowed=False)
    dash.draw(panel, board.trace, (0.0, 0.5))
    assert len(seen[0]) == sum(1 for e in board.trace if e.time <= 0.5) < len(board.trace)


# --- the dashboard (widgets without a browser)


def test_run_draws_the_whole_run_and_a_changed_knob_changes_the_run():
    recorder = Recorder()
    board = dash.Dashboard(REDELIVERY, figures=[recorder])
    end = board.trace[-1].time
    assert board.scrubber.max == pytest.approx(end) and board.scrubber.value == board.scrubber.max
    assert recorder.windows[-1] == (0.0, board.scrubber.value)
    assert _redeliveries(board) == 1 and "ran seed 1" in board.status.value
    before = _png(board)

    board.controls["consumers[0].ack_wait"].value = 3.0  # longer than the run: no redelivery
    assert board.values() == {"consumers[0].ack_wait": 3.0}
    board.run_button.click()
    assert _redeliveries(board) == 0 and _png(board) != before


def test_latency_knob_is_shown_in_ms_and_run_in_seconds():
    board = dash.Dashboard(REDELIVERY, figures=[])
    board.controls["network.latency"].value = 5.0
    assert board.values() == {"network.latency": 0.005}
    board.run()
    first = board.trace.filter("deliver")[0]
    assert first.time >= 0.01  # two hops of 5 ms, not 0.5 ms
    assert "no figures to draw" in board.output.outputs[0]["text"]


def test_scrubber_redraws_up_to_its_time_and_steps_through_events():
    recorder = Recorder()
    board = dash.Dashboard(REDELIVERY, figures=[recorder])
    board.scrubber.value = 0.5
    assert recorder.windows[-1] == (0.0, 0.5)
    board.step(+1)
    later = [e.time for e in board.trace if e.time > 0.5]
    assert board.scrubber.value == pytest.approx(min(later))
    board.step(-1)
    earlier = [e.time for e in board.trace if e.time < min(later)]
    assert board.scrubber.value == pytest.approx(max(earlier))
    board.shown[0].value = False
    assert board.output.outputs == ()


def test_step_button_inserts_a_step_at_the_scrubber_time():
    board = dash.Dashboard(REDELIVERY, figures=[])
    assert board.actions.layout.display == "none"
    button = board.add_step_button("publish b", {"op": "js_publish", "subject": "orders.2",
                                                  "data": "b"})
    board.scrubber.value = 0.5
    button.click()
    at = round(0.5 - board.clock_offset, 6)       # the scenario's clock starts after setup
    assert 0.49 < at <= 0.5
    assert board.added_steps == [{"op": "js_publish", "subject": "orders.2", "data": "b",
                                  "at": at}]
    assert f"changed: js_publish step added at {at:g} s" in board.status.value
    stored = board.trace.filter("store")
    assert len(stored) == 2 and stored[1].time >= 0.5
    forget = board.actions.children[-1]
    forget.click()
    assert board.added_steps == [] and len(board.trace.filter("store")) == 1


def test_a_failing_run_says_why_in_the_status(monkeypatch):
    board = dash.Dashboard(REDELIVERY, figures=[])
    def refuse(*args):
        raise ScenarioError("step 2: bad")

    monkeypatch.setattr(dash, "with_values", refuse)
    board.run()
    assert "not run: ScenarioError: step 2: bad" in board.status.value
    assert board.error and not board.run_button.disabled


def test_shown_as_a_cell_value_it_is_a_widget_view():
    board = dash.Dashboard(REDELIVERY, figures=[], run=False)
    bundle = board._repr_mimebundle_()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == board.widget.model_id


def test_viz_and_pmesh_sim_import_without_ipywidgets():
    code = ("import sys; sys.modules['ipywidgets'] = None\n"
            "import pmesh_sim, pmesh_sim.viz, pmesh_sim.viz.dashboard as d\n"
            "try:\n    d.Dashboard({'name': 'x'})\n"
            "except pmesh_sim.PmeshError as err:\n    print(err)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert "the dashboard needs ipywidgets" in out.stdout


def test_status_names_the_changes_and_reset_restores_the_scenario():
    board = dash.Dashboard(REDELIVERY, figures=[])
    board.controls["consumers[0].ack_wait"].value = 3.0
    board.controls["consumers[0].ack_policy"].value = "none"
    board.controls["seed"].value = 7
    board.run()
    assert ("changed: seed 1 → 7; consumer ORDERS/worker ack_policy explicit → none; "
            "consumer ORDERS/worker ack_wait (s) 0.5 → 3") in board.status.value
    board.reset()
    assert board.values() == {}
    board.run()
    assert "changed" not in board.status.value and _redeliveries(board) == 1


CLUSTER = {
    "name": "r3", "seed": 1, "servers": 3,
    "streams": [{"name": "ORDERS", "subjects": ["orders.>"], "num_replicas": 3}],
    "steps": [{"at": 0.5, "op": "js_publish", "subject": "orders.1", "data": "a"},
              {"at": 20.0, "op": "js_publish", "subject": "orders.2", "data": "b",
               "timeout": 2.0}],
}


def test_fault_buttons_only_for_a_cluster():
    single = dash.Dashboard(REDELIVERY, figures=[], run=False)
    assert single.actions.layout.display == "none" and single.actions.children == ()
    board = dash.Dashboard(CLUSTER, figures=[], run=False)
    described = [getattr(c, "description", "") for c in board.actions.children]
    assert described[1:] == ["node", "kill", "restart", "partition", "heal",
                             "forget added steps"]
    assert board.actions.children[1].options == ("n1", "n2", "n3")
    assert "RAFT leaders" in [dash.figure_name(f) for f in dash.default_figures(board.scenario)]
    single_figures = dash.default_figures(single.scenario)
    assert "RAFT leaders" not in [dash.figure_name(f) for f in single_figures]


def test_fault_buttons_insert_kill_partition_heal_restart_steps():
    board = dash.Dashboard(CLUSTER, figures=[])
    buttons = {getattr(c, "description", ""): c for c in board.actions.children}
    assert [e.fields["node"] for e in board.trace.filter("kill")] == []
    node = buttons["node"]
    node.value = "n2"
    offset = board.clock_offset
    assert offset > 4.0                          # the meta leader is elected before the steps
    board.scrubber.value = offset + 1.0
    buttons["kill"].click()
    assert board.added_steps == [{"op": "kill", "server": "n2", "at": pytest.approx(1.0)}]
    kills = board.trace.filter("kill")
    assert [e.fields["node"] for e in kills] == ["n2"]
    assert kills[0].time == pytest.approx(offset + 1.0, abs=0.01)
    board.scrubber.value = offset + 5.0
    buttons["restart"].click()
    assert [e.fields["node"] for e in board.trace.filter("restart")] == ["n2"]
    node.value = "n1"
    board.scrubber.value = offset + 8.0
    buttons["partition"].click()
    assert board.added_steps[-1] == {"op": "partition", "groups": [["n1"], ["n2", "n3"]],
                                     "at": pytest.approx(8.0)}
    assert board.trace.filter("partition")[0].fields["groups"] == "n1 | n2,n3"
    board.scrubber.value = offset + 9.0
    buttons["heal"].click()
    assert [e.time for e in board.trace.filter("heal")] == [pytest.approx(offset + 9.0, abs=0.01)]
    assert board.error is None and "heal step added at 9 s" in board.status.value

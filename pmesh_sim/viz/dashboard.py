"""A dashboard for one scenario in JupyterLab: knobs, a Run button and a time scrubber.

Show ``Dashboard(scenario)`` as a cell's value. Its sliders and toggles are the scenario's main
knobs (seed, network latency and loss; each consumer's ack_policy, ack_wait, max_deliver and
max_ack_pending; each stream's max_msgs and discard), **Run** re-runs a changed copy of the
scenario on the simulation, and the time scrubber redraws the figures with ``window=(0, t)``.
Figures are static PNGs in an ``ipywidgets.Output`` (no ``ipympl`` needed). ipywidgets is
imported only when a dashboard is built, so ``import pmesh_sim.viz`` never needs it.

The parts without widgets are plain functions. :func:`knobs` lists what a scenario lets you
turn, each with the value the scenario gives it (or the server's default):

>>> from pmesh_sim.scenario import Scenario
>>> sc = Scenario.from_dict({"name": "ex", "seed": 3,
...     "streams": [{"name": "S", "subjects": ["s.>"]}],
...     "consumers": [{"stream": "S", "durable_name": "w", "ack_wait": 0.5}]})
>>> for knob in knobs(sc):
...     print(f"{knob.group:12} {knob.key:28} {knob.value}")
run          seed                         3
run          network.latency              0.0005
run          network.loss                 0.0
consumer S/w consumers[0].ack_policy      explicit
consumer S/w consumers[0].ack_wait        0.5
consumer S/w consumers[0].max_deliver     -1
consumer S/w consumers[0].max_ack_pending 1000
stream S     streams[0].max_msgs          -1
stream S     streams[0].discard           old

:func:`with_values` builds the changed copy that Run runs; the original is left as it was:

>>> changed = with_values(sc, {"consumers[0].ack_wait": 2.0, "network.latency": 0.01})
>>> changed.consumers[0]["ack_wait"], changed.network, sc.consumers[0]["ack_wait"]
(2.0, {'latency': 0.01}, 0.5)
"""

from __future__ import annotations

import base64
import copy
import html
import io
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import PmeshError
from ..scenario import Scenario, load_scenario

__all__ = ["Dashboard", "Knob", "Panel", "knobs", "with_values", "scenario_dict", "cut", "draw",
           "render", "default_figures", "figure_name", "DEFAULT_FIGURES"]

#: The figures a dashboard draws when ``figures`` is not given: names in :mod:`pmesh_sim.viz`.
DEFAULT_FIGURES = ("draw_topology", "draw_sequence", "draw_consumer_timeline",
                   "draw_stream_state", "draw_guarantees")

#: The server's defaults for knobs a scenario leaves unset (nats-server and nats-py).
_DEFAULTS = {"ack_policy": "explicit", "ack_wait": 30.0, "max_deliver": -1,
             "max_ack_pending": 1000, "max_msgs": -1, "discard": "old",
             "latency": 0.0005, "loss": 0.0}


@dataclass(frozen=True)
class Knob:
    """One thing a student can turn: where it lives in the scenario, its label and range.

    ``key`` is the path in the scenario's dict (``"consumers[0].ack_wait"``); ``value`` is the
    scenario's value in its own unit (seconds, a probability); the widget shows ``value *
    scale`` (milliseconds, percent) between ``low`` and ``high``. A knob with ``options`` is a
    toggle between those values.
    """

    key: str
    group: str
    label: str
    help: str
    value: Any
    low: float = 0
    high: float = 1
    step: float = 1
    scale: float = 1
    options: tuple[str, ...] = ()


def _duration(scenario: Scenario) -> float:
    return max((s.at for s in scenario.steps), default=0.0) + 1.0


def knobs(scenario: Scenario) -> list[Knob]:
    """The knobs that make sense for ``scenario``: the run's seed and network always, consumer
    knobs per consumer and stream knobs per stream it declares or creates in a step."""
    latency = scenario.network.get("latency", _DEFAULTS["latency"])
    loss = scenario.network.get("loss", _DEFAULTS["loss"])
    out = [
        Knob("seed", "run", "seed", "the simulation's random seed (jitter, loss, ids)",
             scenario.seed, 0, max(99, scenario.seed)),
        Knob("network.latency", "run", "latency (ms)", "one-way network latency per hop, "
             "in milliseconds", latency, 0, max(20.0, 2000 * latency), 0.1, scale=1000),
        Knob("network.loss", "run", "loss (%)", "share of messages the network drops, in "
             "percent", loss, 0, 50, 1, scale=100),
    ]
    for where, item in _declared(scenario, "consumers", "add_consumer"):
        out += _consumer_knobs(where, item, _duration(scenario))
    for where, item in _declared(scenario, "streams", "add_stream"):
        out += _stream_knobs(where, item)
    return out


def _declared(scenario: Scenario, section: str, op: str):
    """``(key prefix, fields)`` of each item declared under ``section`` or created by ``op``."""
    for i, item in enumerate(getattr(scenario, section)):
        yield f"{section}[{i}]", item
    for step in scenario.steps:
        if step.op == op:
            yield f"steps[{step.index}]", step.args


def _consumer_knobs(where: str, c: dict, duration: float) -> list[Knob]:
    name = f"consumer {c['stream']}/{c.get('durable_name') or c.get('name') or '(ephemeral)'}"
    value = {k: c.get(k) if c.get(k) is not None else v for k, v in _DEFAULTS.items()}
    ack_wait, max_deliver = value["ack_wait"], value["max_deliver"]
    pending, longest = value["max_ack_pending"], math.ceil(max(2 * ack_wait, 2 * duration))
    return [
        Knob(f"{where}.ack_policy", name, "ack_policy", "explicit: ack each message; all: an "
             "ack covers every earlier one; none: delivered once, never redelivered (at most "
             "once)", str(value["ack_policy"]), options=("explicit", "all", "none")),
        Knob(f"{where}.ack_wait", name, "ack_wait (s)", "seconds the server waits for an ack "
             "before it redelivers", ack_wait, 0.1, longest, 0.05),
        Knob(f"{where}.max_deliver", name, "max_deliver (-1: ∞)", "deliveries of a message "
             "before the server gives up on it (-1: no limit)", max_deliver, -1,
             max(10, max_deliver)),
        Knob(f"{where}.max_ack_pending", name, "max_ack_pending", "messages delivered but not "
             "yet acked before the server stops delivering (-1: no limit)", pending, -1,
             max(20, pending)),
    ]


def _stream_knobs(where: str, s: dict) -> list[Knob]:
    name = f"stream {s['name']}"
    max_msgs = s.get("max_msgs", _DEFAULTS["max_msgs"])
    return [
        Knob(f"{where}.max_msgs", name, "max_msgs (-1: ∞)", "messages the stream keeps "
             "(-1: no limit)", max_msgs, -1, max(20, max_msgs)),
        Knob(f"{where}.discard", name, "discard", "when full: old drops the oldest message, "
             "new refuses the new one", str(s.get("discard", _DEFAULTS["discard"])),
             options=("old", "new")),
    ]


def scenario_dict(scenario: Scenario) -> dict[str, Any]:
    """``scenario`` as the dict :meth:`Scenario.from_dict` reads (a deep copy).

    >>> sc = Scenario.from_dict({"name": "a", "steps": [{"at": 0.5, "op": "wait"}]})
    >>> scenario_dict(sc)["steps"]
    [{'at': 0.5, 'op': 'wait'}]
    """
    data = {"name": scenario.name, "description": scenario.description, "seed": scenario.seed,
            "servers": scenario.servers, "network": scenario.network,
            "streams": scenario.streams, "consumers": scenario.consumers,
            "subscriptions": scenario.subscriptions,
            "steps": [{"at": s.at, "op": s.op, **s.args} for s in scenario.steps]}
    return copy.deepcopy(data)


_PART = re.compile(r"([A-Za-z_]+)(?:\[(\d+)\])?$")


def with_values(scenario: Scenario, values: dict[str, Any],
                steps: Sequence[dict[str, Any]] = ()) -> Scenario:
    """A copy of ``scenario`` with each knob ``key`` set to its value, and ``steps`` (dicts with
    ``at`` and ``op``) inserted in time order after the steps due at the same time or earlier.

    >>> sc = Scenario.from_dict({"name": "a", "steps": [{"at": 1.0, "op": "wait"}]})
    >>> [(s.at, s.op) for s in with_values(sc, {}, [{"at": 0.5, "op": "heal"}]).steps]
    [(0.5, 'heal'), (1.0, 'wait')]
    >>> with_values(sc, {"network.jitter": 1})
    Traceback (most recent call last):
    ...
    pmesh_sim.errors.ScenarioError: <dict> (changed by the dashboard): network: key 'jitter': ...
    """
    data = scenario_dict(scenario)
    for key, value in values.items():
        _set(data, key, value)
    for step in steps:
        at = step.get("at", 0.0)
        place = sum(1 for s in data["steps"] if s.get("at", 0.0) <= at)
        data["steps"].insert(place, dict(step))
    return Scenario.from_dict(data, source=f"{scenario.source} (changed by the dashboard)")


def _set(data: dict, key: str, value: Any) -> None:
    """Set ``data`` at the path ``key`` (``"a.b"``, ``"items[2].c"``)."""
    *parents, last = key.split(".")
    node: Any = data
    for part in parents:
        match = _PART.match(part)
        if not match:
            raise PmeshError(f"knob key {key!r}: cannot read {part!r} (use name or name[index])")
        node = node.setdefault(match[1], {}) if match[2] is None else node[match[1]][int(match[2])]
    node[last] = value


# ---------------------------------------------------------------------------------------------
# figures


@dataclass(frozen=True)
class Panel:
    """A figure function made ready for the dashboard: ``keywords`` bound, shown as ``label``.

    ``panels=2`` draws on a pair of stacked axes ``(top, bottom)`` that share the time axis;
    ``height`` is the figure's height in inches (default: the dashboard's). A function without
    a ``window`` parameter (``windowed=False``) is given the trace cut to the window instead.
    """

    function: Callable
    label: str
    keywords: dict[str, Any] = field(default_factory=dict)
    panels: int = 1
    height: float | None = None
    windowed: bool = True

    def __call__(self, trace, ax=None, window=None):
        if self.windowed:
            return self.function(trace, ax=ax, window=window, **self.keywords)
        return self.function(cut(trace, window), ax=ax, **self.keywords)


def cut(trace, window: tuple[float, float] | None):
    """A new trace with the events of ``trace`` within ``window`` (all of them for ``None``)."""
    from ..trace import Trace
    from ._common import in_window

    out = Trace(clock=float)  # record() takes each event's own time; the clock is never read
    for event in trace:
        if in_window(event.time, window):
            out.record(event.time, event.kind, event.fields)
    return out


def _names(scenario: Scenario) -> tuple[dict[tuple[str, str], dict], list[str]]:
    """The named consumers ``scenario`` declares or creates, ``{(stream, name): fields}`` (the
    first declaration of each), and the names of its streams."""
    consumers: dict[tuple[str, str], dict] = {}
    for _, c in _declared(scenario, "consumers", "add_consumer"):
        if c.get("durable_name") or c.get("name"):
            consumers.setdefault((c["stream"], c.get("durable_name") or c.get("name")), c)
    streams = [s["name"] for _, s in _declared(scenario, "streams", "add_stream")]
    return consumers, list(dict.fromkeys(streams))


def _timeline_keywords(stream: str, name: str, fields: dict) -> dict[str, Any]:
    """The consumer timeline's keywords; the ack_wait the scenario sets (without a backoff,
    which would replace it) is given, so the figure shades the ack_wait the run used."""
    keywords = {"consumer": name, "stream": stream}
    if fields.get("ack_wait") and not fields.get("backoff"):
        keywords["ack_wait"] = fields["ack_wait"]
    return keywords


def default_figures(scenario: Scenario) -> list[Callable]:
    """The figures of :data:`DEFAULT_FIGURES` for ``scenario``: topology, message sequence, a
    consumer timeline per named consumer, the state of each stream, delivery guarantees.
    A dashboard builds them again for the changed scenario of each run."""
    from .. import viz

    topology, sequence, timeline, stream_state, guarantees = (
        getattr(viz, name) for name in DEFAULT_FIGURES)
    consumers, streams = _names(scenario)
    out: list[Callable] = [Panel(topology, "topology", height=4.4),
                           Panel(sequence, "message sequence", height=5.0)]
    out += [Panel(timeline, f"consumer {stream}/{name}",
                  _timeline_keywords(stream, name, fields), panels=2, height=4.8)
            for (stream, name), fields in consumers.items()]
    out += [Panel(stream_state, f"stream {name}", {"stream": name}, panels=2, height=4.4)
            for name in streams]
    out.append(Panel(guarantees, "delivery guarantees", height=4.4, windowed=False))
    if scenario.servers > 1:
        out.append(Panel(viz.draw_raft_timeline, "RAFT leaders", height=3.2))
    return out


def figure_name(figure: Callable) -> str:
    """The name a figure is shown by: its ``label``, or its function's name without ``draw_``.

    >>> figure_name(default_figures), figure_name(Panel(print, "stream S"))
    ('default figures', 'stream S')
    """
    label = getattr(figure, "label", None)
    if label:
        return label
    name = getattr(figure, "__name__", type(figure).__name__)
    return name.removeprefix("draw_").replace("_", " ")


def draw(figure: Callable, trace, window: tuple[float, float] | None,
         figsize: tuple[float, float] = (10.0, 3.6)):
    """A new matplotlib Figure with ``figure(trace, ax=..., window=window)`` on it: ``figsize``,
    or the figure's own ``height``; a pair of axes for a figure of two ``panels``.

    A figure function that raises is drawn as a labelled empty figure saying what went wrong.
    """
    from matplotlib.figure import Figure

    from ._common import empty

    fig = Figure(figsize=(figsize[0], getattr(figure, "height", None) or figsize[1]),
                 layout="constrained")
    if getattr(figure, "panels", 1) == 2:
        ax = tuple(fig.subplots(2, 1, sharex=True, height_ratios=(3, 2)))
    else:
        ax = fig.add_subplot()
    try:
        figure(trace, ax=ax, window=window)
    except Exception as err:  # noqa: BLE001 - shown in the figure, not swallowed
        fig.clear()
        empty(fig.add_subplot(), figure_name(figure),
              f"could not draw: {type(err).__name__}: {err}")
    return fig


def render(figure: Callable, trace, window: tuple[float, float] | None,
           figsize: tuple[float, float] = (10.0, 3.6), dpi: int = 80) -> bytes:
    """PNG bytes of :func:`draw`'s figure at ``dpi`` dots per inch."""
    buffer = io.BytesIO()
    draw(figure, trace, window, figsize).savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


# ---------------------------------------------------------------------------------------------
# the widgets


def _ipywidgets():
    try:
        import ipywidgets
    except ImportError:
        raise PmeshError("the dashboard needs ipywidgets: "
                         "pip install 'pmesh-sim[notebook]'") from None
    return ipywidgets


_STYLE = {"description_width": "130px"}


def _row(w, knob: Knob, control):
    """``control`` with its label: sliders carry their own, toggle buttons get one alike."""
    if not knob.options:
        return control
    label = w.HTML(f"<div title='{_html(knob.help)}' style='text-align:right;padding-right:8px'>"
                   f"{_html(knob.label)}</div>", layout=w.Layout(width=_STYLE["description_width"]))
    return w.HBox([label, control])


def _control(w, knob: Knob):
    """The widget for ``knob``: toggle buttons for options, else an int or float slider."""
    common = {"description": knob.label, "tooltip": knob.help, "style": _STYLE}
    if knob.options:
        return w.ToggleButtons(options=knob.options, value=knob.value, tooltip=knob.help,
                               style={"button_width": "72px"})
    shown = knob.value * knob.scale
    if isinstance(knob.value, int) and knob.scale == 1:
        return w.IntSlider(value=shown, min=knob.low, max=knob.high, step=knob.step,
                           continuous_update=False, layout=w.Layout(width="360px"), **common)
    digits = max(0, -int(f"{knob.step:e}".split("e")[1]))
    return w.FloatSlider(value=shown, min=knob.low, max=knob.high, step=knob.step,
                         readout_format=f".{digits}f", continuous_update=False,
                         layout=w.Layout(width="360px"), **common)


class Dashboard:
    """Knobs, a Run button, a time scrubber and figures for ``scenario`` (a Scenario, a file
    path, or a dict as in a scenario file), run on the simulation.

    ``figures`` are callables ``f(trace, ax=..., window=(start, end))`` (default:
    :func:`default_figures`). After each run, ``result`` is the result document and ``trace``
    the run's trace. ``Dashboard(...)`` as a notebook cell's value shows it.

    Extension point for fault buttons (kill, restart, partition, heal):
    :meth:`add_step_button` puts a button in the actions row that inserts a scenario step at
    the scrubber's time and re-runs; a cluster scenario gets kill, restart, partition and heal
    buttons (:meth:`add_fault_buttons`).
    """

    def __init__(self, scenario: Scenario | str | Path | dict, figures: Sequence[Callable] | None
                 = None, *, figsize: tuple[float, float] = (10.0, 3.6), run: bool = True):
        w = _ipywidgets()
        if isinstance(scenario, dict):
            scenario = Scenario.from_dict(scenario)
        elif not isinstance(scenario, Scenario):
            scenario = load_scenario(scenario)
        self.scenario = scenario
        self._default_figures = figures is None
        self.figures = list(default_figures(scenario) if figures is None else figures)
        self.figsize = figsize
        self.knobs = knobs(scenario)
        self.added_steps: list[dict[str, Any]] = []
        self.result: dict | None = None
        self.trace = None
        self.error: str | None = None
        self._times: list[float] = []
        #: trace time minus scenario time (a cluster first elects its meta leader)
        self.clock_offset = 0.0
        self._quiet = False
        self._build(w)
        if scenario.servers > 1:
            self.add_fault_buttons()
        if run:
            self.run()

    # -- layout

    def _build(self, w) -> None:
        self.controls = {k.key: _control(w, k) for k in self.knobs}
        groups = {}
        for knob in self.knobs:
            groups.setdefault(knob.group, []).append(_row(w, knob, self.controls[knob.key]))
        boxes = [w.VBox([w.HTML(f"<b>{group}</b>"), *items],
                        layout=w.Layout(margin="0 24px 8px 0"))
                 for group, items in groups.items()]
        self.run_button = w.Button(description="Run", icon="play", button_style="primary",
                                   tooltip="re-run the scenario with these settings")
        self.run_button.on_click(lambda _: self.run())
        reset = w.Button(description="reset", icon="undo", layout=w.Layout(width="90px"),
                         tooltip="put every setting back to the scenario's value")
        reset.on_click(lambda _: self.reset())
        self.status = w.HTML(layout=w.Layout(margin="0 0 0 12px"))
        self.scrubber = w.FloatSlider(description="time (s)", min=0.0, max=1.0, step=0.001,
                                      readout_format=".3f", continuous_update=False,
                                      tooltip="the figures show the run up to this time",
                                      style=_STYLE,
                                      layout=w.Layout(width="100%", max_width="760px"))
        self.scrubber.observe(lambda _: self._quiet or self.redraw(), names="value")
        back = w.Button(description="event", icon="step-backward", tooltip="previous event",
                        layout=w.Layout(width="90px"))
        forward = w.Button(description="event", icon="step-forward", tooltip="next event",
                           layout=w.Layout(width="90px"))
        back.on_click(lambda _: self.step(-1))
        forward.on_click(lambda _: self.step(+1))
        self.shown = [w.ToggleButton(value=True, description=figure_name(f),
                                     tooltip="show or hide this figure",
                                     layout=w.Layout(width="auto")) for f in self.figures]
        for toggle in self.shown:
            toggle.observe(lambda _: self.redraw(), names="value")
        #: fault buttons and other scenario steps (see add_step_button); hidden while empty
        self.actions = w.HBox([], layout=w.Layout(display="none"))
        self.output = w.Output(layout=w.Layout(min_height="120px"))
        title = (f"<h3 style='margin:4px 0'>Scenario '{_html(self.scenario.name)}' in the "
                 "simulation</h3>")
        if self.scenario.description:
            title += f"<div style='max-width:900px'>{_html(self.scenario.description)}</div>"
        title += ("<div style='color:#555;margin-top:4px'>Change a setting and press <b>Run</b>;"
                  " drag <b>time</b> to replay the run up to that moment.</div>")
        self.widget = w.VBox([
            w.HTML(title), w.HBox(boxes, layout=w.Layout(flex_flow="row wrap")),
            w.HBox([self.run_button, reset, self.status]), self.actions,
            w.HBox([self.scrubber, back, forward]),
            w.HBox([w.HTML("<b>show:</b>&nbsp;"), *self.shown]), self.output])
        self._w = w

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    # -- what the buttons do

    def values(self) -> dict[str, Any]:
        """The knobs the student changed: ``{key: value in the scenario's unit}``."""
        out = {}
        for knob in self.knobs:
            shown = self.controls[knob.key].value
            if knob.options:
                if shown != knob.value:
                    out[knob.key] = shown
            elif abs(shown - knob.value * knob.scale) > 1e-9:
                out[knob.key] = shown / knob.scale if knob.scale != 1 else shown
        return out

    def reset(self) -> None:
        """Put every knob back to the scenario's value (press Run to run it)."""
        for knob in self.knobs:
            self.controls[knob.key].value = (knob.value if knob.options
                                             else knob.value * knob.scale)

    def run(self) -> None:
        """Run the scenario with the knobs' values (and added steps); show the end of the run."""
        from ..runners import run_scenario

        self.run_button.disabled = True
        self.status.value = "<i>running…</i>"
        traces: list = []
        try:
            scenario = with_values(self.scenario, self.values(), self.added_steps)
            self.result = run_scenario(scenario, "sim", trace_out=traces)
            if self._default_figures:  # the same figures, given this run's settings
                self.figures = default_figures(scenario)
        except Exception as err:  # noqa: BLE001 - shown to the student in the status line
            self.error = f"{type(err).__name__}: {err}"
            self.status.value = f"<span style='color:#b00020'>not run: {_html(self.error)}</span>"
            return
        finally:
            self.run_button.disabled = False
        self.error = None
        self.trace = traces[0]
        self.clock_offset = _clock_offset(self.trace, scenario)
        self._times = sorted({event.time for event in self.trace})
        end = self._times[-1] if self._times else 0.0
        self._quiet = True
        try:
            self.scrubber.max = max(end, 0.001)
            self.scrubber.step = max(round(end / 400, 4), 0.0001)
            self.scrubber.value = self.scrubber.max
        finally:
            self._quiet = False
        self.status.value = _summary(self.result, len(self.trace), end, self._changes())
        self.redraw()

    def _changes(self) -> list[str]:
        """The changed knobs as the student sees them (see :func:`_change`)."""
        changed = self.values()
        return [*(_change(k, self.controls[k.key].value) for k in self.knobs if k.key in changed),
                *(f"{step['op']} step added at {step['at']:g} s" for step in self.added_steps)]

    def step(self, direction: int) -> None:
        """Move the scrubber to the previous (``-1``) or next (``+1``) event's time."""
        t = self.scrubber.value
        if direction < 0:
            earlier = [x for x in self._times if x < t - 1e-12]
            self.scrubber.value = earlier[-1] if earlier else 0.0
        else:
            later = [x for x in self._times if x > t + 1e-12]
            self.scrubber.value = later[0] if later else self.scrubber.max

    def redraw(self) -> None:
        """Draw every shown figure of the last run with ``window=(0, scrubber time)``."""
        if self.trace is None:
            return
        window = (0.0, self.scrubber.value)
        outputs = [{"output_type": "display_data", "metadata": {},
                    "data": {"image/png": _b64(render(f, self.trace, window, self.figsize)),
                             "text/plain": f"<{figure_name(f)} up to {window[1]:.3f} s>"}}
                   for f, toggle in zip(self.figures, self.shown) if toggle.value]
        if not self.figures:
            outputs = [_text("no figures to draw: pass figures=[...] (callables "
                             "f(trace, ax=..., window=...))")]
        self.output.outputs = tuple(outputs)

    def add_step_button(self, description: str, step: dict[str, Any] | Callable[[], dict],
                        tooltip: str = ""):
        """Add a button that inserts ``step`` (a scenario step without ``at``, e.g.
        ``{"op": "kill", "server": "n1"}``, or a callable that returns one when pressed) at the
        scrubber's time and re-runs.

        The extension point for fault buttons; returns the button. Added steps are kept
        (``added_steps``) until "forget added steps" is pressed.
        """
        w = self._w
        button = w.Button(description=description, tooltip=tooltip or f"add a {description} "
                          "step at the scrubber's time and re-run")

        def press(_):
            made = step() if callable(step) else step
            at = max(self.scrubber.value - self.clock_offset, 0.0)
            self.added_steps.append({**made, "at": round(at, 6)})
            self.run()

        button.on_click(press)
        if not self.actions.children:
            forget = w.Button(description="forget added steps", icon="undo")
            forget.on_click(lambda _: (self.added_steps.clear(), self.run()))
            self.actions.children = (w.HTML("<b>add at the scrubber's time:</b>&nbsp;"), forget)
            self.actions.layout.display = "flex"
        self.actions.children = (*self.actions.children[:-1], button, self.actions.children[-1])
        return button


    def add_fault_buttons(self) -> dict[str, Any]:
        """Kill, restart, partition (the chosen node from the others) and heal buttons and
        a node chooser, for a cluster scenario (added by the dashboard when it has more than
        one server); returns ``{"node": Dropdown, "kill": Button, ...}``.
        """
        nodes = [f"n{i}" for i in range(1, self.scenario.servers + 1)]
        node = self._w.Dropdown(options=nodes, value=nodes[0], description="node",
                                layout=self._w.Layout(width="140px"),
                                style={"description_width": "40px"})
        made: dict[str, Any] = {"node": node}
        made["kill"] = self.add_step_button(
            "kill", lambda: {"op": "kill", "server": node.value},
            "kill the chosen node at the scrubber's time and re-run")
        made["restart"] = self.add_step_button(
            "restart", lambda: {"op": "restart", "server": node.value},
            "restart the chosen (killed) node at the scrubber's time and re-run")
        made["partition"] = self.add_step_button(
            "partition", lambda: {"op": "partition", "groups": [
                [node.value], [n for n in nodes if n != node.value]]},
            "cut the chosen node off from the others at the scrubber's time and re-run")
        made["heal"] = self.add_step_button(
            "heal", lambda: {"op": "heal"},
            "undo every partition at the scrubber's time and re-run")
        children = self.actions.children
        self.actions.children = (children[0], node, *children[1:])
        return made


def _clock_offset(trace, scenario: Scenario) -> float:
    """Trace time minus scenario time: when a step started less its ``at`` (0 without steps).
    A scenario's clock starts after setup (on a cluster, once the meta leader is elected)."""
    for event in trace.filter("step"):
        at = scenario.steps[event.fields["index"]].at
        if at is not None:
            return event.time - at
    return 0.0


def _change(knob: Knob, shown: Any) -> str:
    """``consumer S/w ack_wait (s) 0.5 → 1.6``: a knob, the scenario's value and the shown one."""
    where = "" if knob.group == "run" else f"{knob.group} "
    if knob.options:
        return f"{where}{knob.label} {knob.value} → {shown}"
    return f"{where}{knob.label} {knob.value * knob.scale:g} → {shown:g}"


def _summary(result: dict, events: int, end: float, changes: Sequence[str] = ()) -> str:
    """The status line after a run: what was changed, events, simulated time, step errors."""
    errors = sum(1 for s in result.get("steps", []) if "error" in (s.get("result") or {}))
    text = (f"ran seed {result.get('seed')}: {events} events in {end:.3f} s of simulated "
            "time")
    if errors:
        text += f"; <span style='color:#b00020'>{errors} step(s) answered with an error</span>"
    if changes:
        text += f"<br><span style='color:#555'>changed: {_html('; '.join(changes))}</span>"
    return text


def _html(text: str) -> str:
    return html.escape(text)


def _b64(png: bytes) -> str:
    return base64.b64encode(png).decode("ascii")


def _text(text: str) -> dict:
    return {"output_type": "stream", "name": "stdout", "text": text + "\n"}

"""The dashboard in a real browser: JupyterLab on a free loopback port, headless Chromium.

The test writes a small notebook that builds a :class:`~pmesh_sim.viz.dashboard.Dashboard` for
a small redelivery scenario into a temporary directory, starts JupyterLab there (its kernel imports
pmesh_sim from this checkout through PYTHONPATH), opens the notebook in Chromium through
Playwright, runs all cells, drags the ack_wait slider, presses Run and checks that the figure
(a PNG in the dashboard's output) changed. The screenshot is kept under
``reports/browser/``. JupyterLab and its kernel are stopped afterwards, also on failure.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = ROOT / "reports" / "browser"
SERVER_START = 120  # seconds for JupyterLab to answer on a loaded 2-core machine
KERNEL_READY = 180  # seconds for the page, the kernel and the dashboard to appear
RERUN = 120  # seconds for Run to re-run the scenario and redraw

CELLS = [
    """\
import pathlib
import pmesh_sim
from pmesh_sim.viz.dashboard import Dashboard
print("pmesh_sim from", pathlib.Path(pmesh_sim.__file__).parent)""",
    """\
def events_by_kind(trace, ax=None, window=None):
    \"\"\"One dot per event: its time, in the lane of its kind.\"\"\"
    kinds = sorted({event.kind for event in trace})
    shown = [e for e in trace if window is None or window[0] <= e.time <= window[1]]
    ax.scatter([e.time for e in shown], [kinds.index(e.kind) for e in shown], s=14)
    ax.set_yticks(range(len(kinds)), kinds)
    ax.set_xlabel("time (s)")
    ax.set_title("every event of the run, by kind")
    return ax""",
    """\
scenario = {
    "name": "redelivery", "seed": 1,
    "description": "seq 1 is not acked at first: after ack_wait the server redelivers it",
    "streams": [{"name": "ORDERS", "subjects": ["orders.*"]}],
    "consumers": [{"stream": "ORDERS", "durable_name": "worker", "ack_wait": 0.5}],
    "steps": [{"at": 0.0, "op": "js_publish", "subject": "orders.1", "data": "a"},
              {"at": 0.1, "op": "fetch", "consumer": "worker", "then": "ignore"},
              {"at": 1.0, "op": "fetch", "consumer": "worker", "timeout": 0.5}]}
Dashboard(scenario, figures=[events_by_kind])""",
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _processes_using(path: Path) -> list[int]:
    """PIDs whose command line mentions ``path`` (JupyterLab's kernels name their runtime dir)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if str(path) in (entry / "cmdline").read_bytes().decode(errors="replace"):
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


class JupyterLab:
    """JupyterLab serving ``home`` on a free loopback port with a random token."""

    def __init__(self, home: Path):
        self.home = home
        self.token = secrets.token_hex(16)
        self.runtime = home / ".jupyter-runtime"
        self.log_path = home / "jupyterlab.log"
        self.env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]),
            "JUPYTER_RUNTIME_DIR": str(self.runtime),
            "JUPYTER_CONFIG_DIR": str(home / ".jupyter-config"),
            "JUPYTERLAB_SETTINGS_DIR": str(home / ".jupyter-settings"),
            "JUPYTERLAB_WORKSPACES_DIR": str(home / ".jupyter-workspaces"),
            "IPYTHONDIR": str(home / ".ipython")}
        notification = home / ".jupyter-settings" / "@jupyterlab" / "apputils-extension"
        notification.mkdir(parents=True)  # no "get Jupyter news?" toast over the figure
        (notification / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
        self.log = open(self.log_path, "wb")
        self.process = None
        self.port = 0

    def start(self) -> None:
        """Start JupyterLab; wait until it answers (another free port if this one was taken)."""
        for _ in range(3):
            self.port = _free_port()
            self.process = subprocess.Popen(
                [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1",
                 f"--port={self.port}", "--ServerApp.port_retries=0",
                 f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={self.home}",
                 "--allow-root", "--LabApp.expose_app_in_browser=True",
                 "--LabApp.news_url=None",
                 "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
                cwd=self.home, env=self.env, stdout=self.log, stderr=subprocess.STDOUT,
                start_new_session=True)
            if self._answers():
                return
            if "already in use" not in self.log_tail():
                break
        pytest.fail(f"JupyterLab did not start within {SERVER_START} s "
                    f"(exit code {self.process.poll()}):\n{self.log_tail()}")

    def _answers(self) -> bool:
        deadline = time.monotonic() + SERVER_START
        while time.monotonic() < deadline and self.process.poll() is None:
            try:
                with urllib.request.urlopen(self.url("api/status"), timeout=5) as answer:
                    json.load(answer)
                    return True
            except OSError:
                time.sleep(0.5)
        return False

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path}?token={self.token}"

    def log_tail(self) -> str:
        self.log.flush()
        return self.log_path.read_text(errors="replace")[-3000:]

    def stop(self) -> None:
        """Ask the server to shut down (it stops its kernels), then make sure of it."""
        if self.process is not None and self.process.poll() is None:
            try:
                request = urllib.request.Request(self.url("api/shutdown"), method="POST")
                urllib.request.urlopen(request, timeout=10).close()
                self.process.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                os.killpg(self.process.pid, signal.SIGTERM)
                try:
                    self.process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(self.process.pid, signal.SIGKILL)
                    self.process.wait(timeout=15)
        for pid in _processes_using(self.runtime):  # a kernel the server failed to stop
            os.kill(pid, signal.SIGKILL)
        self.log.close()


@pytest.fixture
def jupyterlab(tmp_path):
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in CELLS])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    nbformat.write(notebook, tmp_path / "dashboard.ipynb")
    lab = JupyterLab(tmp_path)
    try:
        lab.start()
        yield lab
    finally:
        lab.stop()
    assert lab.process.poll() is not None
    assert _processes_using(lab.runtime) == [], "a kernel outlived JupyterLab"


def _figure_src(page) -> str:
    return page.locator(".widget-output img").first.get_attribute("src") or ""


def _drag_slider(page, label: str, fraction: float) -> None:
    """Drag the handle of the slider labelled ``label`` to ``fraction`` of its track."""
    slider = page.locator(".widget-slider", has=page.locator("label", has_text=label))
    track = slider.locator(".noUi-target").bounding_box()
    handle = slider.locator(".noUi-handle").bounding_box()
    page.mouse.move(handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2)
    page.mouse.down()
    page.mouse.move(track["x"] + fraction * track["width"], track["y"] + track["height"] / 2,
                    steps=10)
    page.mouse.up()


@pytest.mark.timeout(KERNEL_READY + RERUN + SERVER_START + 120)
def test_dashboard_rerun_in_chromium_changes_the_figure(jupyterlab):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    screenshot = ARTIFACTS / "dashboard.png"
    (ARTIFACTS / "dashboard-failed.png").unlink(missing_ok=True)  # from an earlier run
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1280, "height": 1400})
        try:
            _run_dashboard(page, jupyterlab, screenshot)
        except Exception:
            page.screenshot(path=ARTIFACTS / "dashboard-failed.png", full_page=True)
            print(f"screenshot of the failure: {ARTIFACTS / 'dashboard-failed.png'}")
            print(f"JupyterLab log:\n{jupyterlab.log_tail()}")
            raise
        finally:
            browser.close()
    print(f"screenshot: {screenshot}")


def _run_dashboard(page, lab: JupyterLab, screenshot: Path) -> None:
    page.goto(lab.url("lab/tree/dashboard.ipynb"), timeout=KERNEL_READY * 1000)
    page.wait_for_function(
        "() => { const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;"
        " const k = w && w.sessionContext && w.sessionContext.session"
        " && w.sessionContext.session.kernel; return k && k.status === 'idle'; }",
        timeout=KERNEL_READY * 1000, polling=500)
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    page.locator(".widget-output img").first.wait_for(timeout=KERNEL_READY * 1000)
    assert f"pmesh_sim from {ROOT / 'pmesh_sim'}" in page.inner_text(".jp-Notebook")
    page.locator(".widget-html", has_text="ran seed 1").wait_for()

    before = _figure_src(page)
    readout = page.locator(".widget-slider", has=page.locator("label", has_text="ack_wait (s)"))
    old_value = readout.locator(".widget-readout").inner_text()
    _drag_slider(page, "ack_wait (s)", 0.4)
    page.wait_for_function(
        "([old]) => [...document.querySelectorAll('.widget-slider')].some(s =>"
        " s.querySelector('label')?.textContent.includes('ack_wait (s)')"
        " && s.querySelector('.widget-readout')?.textContent.trim() !== old)",
        arg=[old_value], timeout=10_000)
    new_value = float(readout.locator(".widget-readout").inner_text())
    assert new_value > 1.0, f"ack_wait moved from {old_value} to {new_value} only"

    page.locator(".jp-OutputArea .widget-button", has_text="Run").click()
    page.wait_for_function(
        "([old]) => { const img = document.querySelector('.widget-output img');"
        " return img && img.getAttribute('src') !== old; }",
        arg=[before], timeout=RERUN * 1000, polling=250)
    after = _figure_src(page)
    assert after.startswith("data:image/png;base64,") and after != before
    page.locator(".widget-html", has_text="ran seed").wait_for()

    # the scrubber steps back one event: the figure ends earlier
    time_readout = page.locator(".widget-slider", has=page.locator("label", has_text="time (s)"))
    end = float(time_readout.locator(".widget-readout").inner_text())
    page.locator(".jp-OutputArea .widget-button[title='previous event']").click()
    page.wait_for_function(
        "([old]) => { const img = document.querySelector('.widget-output img');"
        " return img && img.getAttribute('src') !== old; }",
        arg=[after], timeout=RERUN * 1000, polling=250)
    assert float(time_readout.locator(".widget-readout").inner_text()) < end
    page.screenshot(path=screenshot, full_page=True)

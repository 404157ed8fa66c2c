"""pmesh-sim bench: valid JSON with positive figures (no timing thresholds)."""

import json
import subprocess
import sys

import pytest

from pmesh_sim.bench import BENCHMARKS, format_benchmarks, run_benchmarks


@pytest.fixture(scope="module")
def quick_bench():
    """One ``pmesh-sim bench --quick --json`` run: its stdout and stderr."""
    return subprocess.run([sys.executable, "-m", "pmesh_sim.cli", "bench", "--quick", "--json"],
                          capture_output=True, text=True, timeout=120, check=True)


def test_bench_quick_json_prints_positive_figures(quick_bench):
    figures = json.loads(quick_bench.stdout)
    assert figures["simpy_bare_loop"]["rate"] > 0
    fanout = figures["core_fanout"]
    assert fanout["rate"] > 0 and fanout["ratio_to_bare"] > 0
    assert fanout["deliveries"] == 20_000 and fanout["subscribers"] == 10
    assert fanout["trace_events"] > fanout["deliveries"]


def test_benchmarks_are_a_named_list_with_the_bare_loop_first():
    assert list(BENCHMARKS)[0] == "simpy_bare_loop"
    assert {"core_fanout", "core_fanout_trace_off"} <= set(BENCHMARKS)


def test_format_lists_every_benchmark():
    figures = run_benchmarks(quick=True, only=["core_fanout"])
    text = format_benchmarks(figures)
    assert "simpy_bare_loop" in text and "core_fanout" in text and "deliveries/s" in text
    assert "core_fanout_trace_off" not in figures


def test_bench_reports_progress_on_stderr_and_keeps_stdout_json(quick_bench):
    done = quick_bench
    figures = json.loads(done.stdout)                   # stdout: the JSON and nothing else
    names = list(BENCHMARKS)
    lines = done.stderr.splitlines()
    assert len(lines) == 2 * len(names)
    for number, name in enumerate(names, 1):
        start, end = lines[2 * number - 2], lines[2 * number - 1]
        assert start == f"[{number}/{len(names)}] {name}: running 1 time(s)..."
        rate = f"{figures[name]['rate']:,.0f} {figures[name]['unit']}/s"
        assert end == f"[{number}/{len(names)}] {name}: {rate}"


def test_run_benchmarks_is_silent_without_a_progress_stream(capsys):
    run_benchmarks(quick=True, only=["simpy_bare_loop"])
    assert capsys.readouterr() == ("", "")

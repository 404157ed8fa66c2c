"""pmesh-sim bench: valid JSON with positive figures (no timing thresholds)."""

import json
import subprocess
import sys

from pmesh_sim.bench import BENCHMARKS, format_benchmarks, run_benchmarks


def test_bench_quick_json_prints_positive_figures():
    out = subprocess.run([sys.executable, "-m", "pmesh_sim.cli", "bench", "--quick", "--json"],
                         capture_output=True, text=True, timeout=120, check=True).stdout
    figures = json.loads(out)
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

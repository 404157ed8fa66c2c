"""pmesh-sim bench: valid JSON with positive figures (no timing thresholds)."""

import json
import subprocess
import sys

import pytest

from pmesh_sim.bench import (BENCHMARKS, REAL, SCALED, format_benchmarks, plot_scaling,
                             real_server_missing, run_benchmarks)


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    """One ``pmesh-sim bench --quick --json --plot PNG`` run: its result and the PNG's path."""
    png = tmp_path_factory.mktemp("bench") / "cost.png"
    done = subprocess.run([sys.executable, "-m", "pmesh_sim.cli", "bench", "--quick", "--json",
                           "--plot", str(png)],
                          capture_output=True, text=True, timeout=600, check=True)
    return done, png


@pytest.fixture(scope="module")
def quick_bench(quick_run):
    """The quick run's stdout and stderr."""
    return quick_run[0]


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
    steps = len(names) + len(SCALED)
    lines = done.stderr.splitlines()
    assert len(lines) == 2 * steps + 2                  # + two memory lines
    for number, name in enumerate(names, 1):
        start, end = lines[2 * number - 2], lines[2 * number - 1]
        assert start == f"[{number}/{steps}] {name}: running 1 time(s)..."
        rate = f"{figures[name]['rate']:,.0f} {figures[name]['unit']}/s"
        assert end == f"[{number}/{steps}] {name}: {rate}"
    for number, name in enumerate(SCALED, len(names) + 1):
        end = lines[2 * number - 1]
        cost = figures["scaling"][name]["cost_10x"]
        assert end == f"[{number}/{steps}] scaling {name}: 10x the work costs {cost:.1f}x the time"
    assert lines[-1].startswith("memory: ")


def test_bench_json_has_machine_real_speedup_scaling_and_memory(quick_bench):
    figures = json.loads(quick_bench.stdout)
    assert figures["date"].endswith("UTC") and "CPUs" in figures["machine"]
    assert real_server_missing() is None                # installed here: the comparison runs
    real = figures[REAL]
    assert real["messages"] == figures["jetstream_pull"]["messages"] and real["rate"] > 0
    for name in ("jetstream_pull", "jetstream_pull_trace_off"):
        assert figures[name]["speedup_over_real"] == pytest.approx(
            figures[name]["rate"] / real["rate"])
    assert set(figures["scaling"]) == set(SCALED)
    for row in figures["scaling"].values():
        assert row["work"][-1] == 10 * row["work"][0]
        assert row["cost_10x"] == pytest.approx(row["seconds"][-1] / row["seconds"][0])
    memory = figures["memory"]
    assert 0 < memory["bytes_per_stored_msg"] <= 250
    assert memory["limited_retained_bytes"][0] > 0
    assert len(memory["limited_peak_bytes"]) == 2 and "limited_peak_growth_per_msg" in memory


def test_bench_plot_writes_a_png_of_cost_against_work(quick_run):
    _, png = quick_run
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_scaling_draws_one_line_a_pipeline():
    import matplotlib
    matplotlib.use("Agg")
    scaling = {"a": {"work": [1, 3, 10], "us_per_unit": [2.0, 2.0, 2.1], "cost_10x": 10.5},
               "b": {"work": [1, 3, 10], "us_per_unit": [5.0, 6.0, 7.0], "cost_10x": 14.0}}
    ax = plot_scaling({"scaling": scaling})
    assert [list(line.get_ydata()) for line in ax.get_lines()] == [[2.0, 2.0, 2.1],
                                                                   [5.0, 6.0, 7.0]]
    assert "10x work = 14.0x time" in ax.get_legend().get_texts()[1].get_text()


def test_a_missing_server_is_reported_as_skipped(monkeypatch):
    import pmesh_sim.bench as bench
    monkeypatch.setattr(bench, "real_server_missing", lambda: "nats-server was not found")
    figures = run_benchmarks(quick=True, only=[REAL, "jetstream_pull"])
    assert figures[REAL] == {"skipped": "nats-server was not found"}
    assert "speedup_over_real" not in figures["jetstream_pull"]
    assert "skipped: nats-server was not found" in format_benchmarks(figures)


def test_run_benchmarks_is_silent_without_a_progress_stream(capsys):
    run_benchmarks(quick=True, only=["simpy_bare_loop"])
    assert capsys.readouterr() == ("", "")


def test_bench_json_has_the_r3_pipeline_and_the_faulted_cluster_run(quick_bench):
    figures = json.loads(quick_bench.stdout)
    r3 = figures["jetstream_pull_r3"]
    assert r3["replicas"] == 3 and r3["messages"] == 2_000 and r3["unit"] == "messages"
    assert r3["ratio_to_bare"] == pytest.approx(r3["rate"] / figures["simpy_bare_loop"]["rate"])
    assert "speedup_over_real" not in r3               # the real server runs an R1 stream
    assert r3["trace_events"] > r3["messages"]
    faults = figures["cluster_faults_10min"]
    assert faults["virtual_seconds"] == 120.0 and faults["unit"] == "sim-seconds"
    assert faults["rate"] == pytest.approx(120.0 / faults["seconds"])
    assert faults["kills"] + faults["partitions"] == faults["faults"] >= 2
    assert faults["acked"] > 0 and faults["elections"] >= faults["leaders_elected"] > 0
    assert "ratio_to_bare" not in faults


def test_fault_schedule_is_fixed_by_its_seed_and_ends_every_fault():
    from pmesh_sim.bench import fault_schedule
    rows = fault_schedule(3, 600)
    assert rows == fault_schedule(3, 600) and rows != fault_schedule(4, 600)
    ends = {"kill": "restart", "partition": "heal"}
    for (t0, op, node), (t1, end, node1) in zip(rows[::2], rows[1::2]):
        assert end == ends[op] and node1 == node and t0 < t1 <= 600
    assert [r[0] for r in rows] == sorted(r[0] for r in rows)


def test_the_faulted_run_is_deterministic():
    from pmesh_sim.bench import cluster_faults_run
    outcomes = []
    for _ in range(2):
        sim, counts = cluster_faults_run(60, seed=2, rate=5)
        sim.run(until=60)
        outcomes.append((counts, [(e.time, e.kind) for e in sim.trace]))
    assert outcomes[0] == outcomes[1] and outcomes[0][0]["acked"] > 0

"""Sweeps: grid x seeds, the same DataFrame on one process, on many and on Dask; bad input
fails before any run."""

import socket
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import matplotlib
import pandas as pd
import pytest

from pmesh_sim.cli import main
from pmesh_sim.errors import PmeshError, ScenarioError
from pmesh_sim.experiments import TIMING_COLUMNS, plot_sweep, sweep, with_params
from pmesh_sim.scenario import load_scenario

matplotlib.use("Agg")

EXAMPLE = Path(__file__).parent.parent / "pmesh_sim" / "examples" / "guarantees-jetstream.yaml"
GRID = {"network.loss": [0.0, 0.1], "consumers.worker.ack_wait": [0.5, 1.0]}


def deterministic(df: pd.DataFrame) -> pd.DataFrame:
    return df.drop(columns=list(TIMING_COLUMNS))


@pytest.fixture(scope="module")
def local():
    return sweep(EXAMPLE, GRID, seeds=range(3), workers=1)


def test_one_row_per_run_in_grid_then_seed_order(local):
    assert len(local) == 2 * 2 * 3
    assert local[["network.loss", "consumers.worker.ack_wait", "seed"]].values.tolist()[:4] == \
        [[0.0, 0.5, 0], [0.0, 0.5, 1], [0.0, 0.5, 2], [0.0, 1.0, 0]]
    for column in ("valid", "lost", "duplicated", "redelivered", "processed_twice",
                   "JOBS.messages", "JOBS/worker.num_pending", "errors", "wall_s"):
        assert column in local.columns
    no_loss = local[local["network.loss"] == 0.0]
    assert (no_loss["duplicated"] == 0).all() and (no_loss["acknowledged"] == 20).all()
    assert local[local["network.loss"] == 0.1]["redelivered"].sum() > 0
    assert local["valid"].all()


def test_a_run_depends_on_its_seed_and_parameters_only(local):
    again = sweep(EXAMPLE, GRID, seeds=range(3), workers=1)
    pd.testing.assert_frame_equal(deterministic(local), deterministic(again))
    lossy = local[local["network.loss"] == 0.1]
    assert lossy["redelivered"].nunique() > 1     # the seed matters


def test_many_processes_give_the_same_dataframe(local):
    with ProcessPoolExecutor(max_workers=2) as pool:
        df = sweep(EXAMPLE, GRID, seeds=range(3), executor=pool)
    pd.testing.assert_frame_equal(deterministic(local), deterministic(df))
    df = sweep(EXAMPLE, GRID, seeds=range(3), workers=2)   # a pool of its own
    pd.testing.assert_frame_equal(deterministic(local), deterministic(df))


def test_a_dask_cluster_gives_the_same_dataframe(local):
    import distributed   # the [dask] extra (in [all])
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        df = sweep(EXAMPLE, GRID, seeds=range(3), executor=client.get_executor())
    pd.testing.assert_frame_equal(deterministic(local), deterministic(df))


def test_grid_keys_address_scenario_fields():
    base = load_scenario(EXAMPLE)
    changed = with_params(base, {"streams.JOBS.max_msgs": 5, "steps.20.batch": 3,
                                 "network.latency": 0.002, "servers": 3})
    assert changed.streams[0]["max_msgs"] == 5 and changed.steps[20].args["batch"] == 3
    assert changed.network == {"loss": 0.1, "latency": 0.002} and changed.servers == 3
    assert base.streams[0].get("max_msgs") is None           # the base is left alone


@pytest.mark.parametrize("grid, words", [
    ({}, "the grid is empty"),
    ({"network.loss": []}, "grid key 'network.loss': no values"),
    ({"streams.NOPE.max_msgs": [1]}, "has no stream 'NOPE' (streams: JOBS)"),
    ({"consumers.worker.ack_wiat": [1]}, "'ack_wiat' is not a consumer field"),
    ({"consumers.worker.durable_name": ["x"]}, "cannot be swept"),
    ({"steps.99.at": [1]}, "no step '99' (steps are 0 to 24)"),
    ({"seed": [1, 2]}, "give the sweep's seeds instead"),
    ({"colour": [1]}, "not a scenario field; a key is one of network.FIELD"),
    ({"consumers.worker.ack_wait": [0.5, "slow"]},
     "consumers.worker.ack_wait = 'slow': ") ,
    ({"network.loss": [0.1, 1.5]}, "must be a probability below 1, got 1.5"),
])
def test_bad_grids_fail_before_any_run(grid, words):
    calls = []
    with pytest.raises(ScenarioError) as err:
        sweep(EXAMPLE, grid, seeds=range(2), workers=1, progress=lambda *a: calls.append(a))
    assert words in str(err.value)
    assert calls == []


def test_a_wrong_type_names_the_key_and_the_type():
    with pytest.raises(ScenarioError, match=r"key 'ack_wait': must be number, got 'slow' \(text\)"):
        sweep(EXAMPLE, {"consumers.worker.ack_wait": ["slow"]}, workers=1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_scheduler_that_does_not_answer_is_a_clear_error(tmp_path, capsys):
    out = tmp_path / "rows.csv"
    status = main(["sweep", str(EXAMPLE), "--param", "network.loss=0,0.1", "--seeds", "2",
                   "--scheduler", f"tcp://127.0.0.1:{free_port()}", "--out", str(out)])
    err = capsys.readouterr().err
    assert status == 2 and "no Dask scheduler answers at" in err and "Traceback" not in err
    assert not out.exists() and "runs," not in err          # no run started


def test_the_sweep_command_end_to_end(tmp_path, capsys):
    out = tmp_path / "rows.csv"
    status = main(["sweep", str(EXAMPLE), "--param", "network.loss=0,0.1",
                   "--param", "consumers.worker.max_deliver=2,5", "--seeds", "3",
                   "--workers", "2", "--out", str(out)])
    captured = capsys.readouterr()
    assert status == 0
    assert "12/12 runs" in captured.err                      # the progress bar
    lines = captured.out.splitlines()
    assert lines[0].split()[:3] == ["runs", "valid", "lost"]
    assert len(lines) == 2 + 4 + 1                           # header, names, 4 points, saved
    rows = pd.read_csv(out)
    assert len(rows) == 12 and set(rows["seed"]) == {0, 1, 2}
    assert list(rows.columns[:3]) == ["network.loss", "consumers.worker.max_deliver", "seed"]


@pytest.mark.parametrize("argv, words", [
    (["--param", "network.loss"], "write KEY=VALUE"),
    (["--param", "network.loss=0", "--param", "network.loss=1"], "given twice"),
    (["--param", "streams.X.max_msgs=1"], "has no stream 'X'"),
    ([], "the grid is empty"),
])
def test_bad_command_lines_exit_2(argv, words, capsys):
    assert main(["sweep", str(EXAMPLE), *argv]) == 2
    assert words in capsys.readouterr().err


def test_plot_sweep_draws_a_mean_and_a_band_per_hue(local, tmp_path):
    ax = plot_sweep(local, x="network.loss", y="redelivered", hue="consumers.worker.ack_wait")
    assert len(ax.lines) == 2 and len(ax.collections) == 2
    assert "3 seeds per point" in ax.get_title()
    ax.figure.savefig(tmp_path / "sweep.png")
    with pytest.raises(KeyError, match="no column 'nope'"):
        plot_sweep(local, x="nope", y="lost")
    matplotlib.pyplot.close("all")


def test_a_sweep_on_the_real_server_agrees_with_the_simulation(tmp_path, capsys):
    scenario = Path(__file__).parent.parent / "scenarios" / "conformance" / "consumer-ack-all.yaml"
    grid = {"consumers.c.ack_wait": [2.0]}
    real = sweep(scenario, grid, seeds=[0], workers=1, backend="real")
    sim = sweep(scenario, grid, seeds=[0], workers=1)
    same = ["consumers.c.ack_wait", "seed", "valid", "acknowledged", "lost", "duplicated",
            "errors", "ORDERS.messages", "ORDERS/c.num_pending"]
    assert real[same].values.tolist() == sim[same].values.tolist()
    assert real["valid"].all()

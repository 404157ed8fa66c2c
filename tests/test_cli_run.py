"""pmesh-sim run / validate: output and exit codes (0 agree, 1 differ, 2 bad file)."""

import json

import pytest

from pmesh_sim import runners
from pmesh_sim.cli import main

CORE = """
name: core-cli
description: a queue group and a request nobody answers
subscriptions:
  - {name: q1, subject: "a.*", queue: g}
  - {name: q2, subject: "a.*", queue: g}
steps:
  - {op: publish, subject: a.b, data: "1"}
  - {op: request, subject: svc.nobody, data: "ping", timeout: 0.2}
"""


@pytest.fixture
def core(tmp_path):
    path = tmp_path / "core.yaml"
    path.write_text(CORE)
    return path


def test_run_json_dash_prints_only_the_document(core, capsys):
    assert main(["run", str(core), "--json", "-", "--seed", "4"]) == 0
    out = capsys.readouterr().out
    doc = json.loads(out)
    assert (doc["scenario"], doc["backend"], doc["seed"]) == ("core-cli", "sim", 4)
    assert [s["result"] for s in doc["steps"]] == [{"outcome": "sent"},
                                                   {"outcome": "no_responders"}]


def test_run_report_writes_result_trace_and_summary(core, tmp_path, capsys):
    report = tmp_path / "report"
    assert main(["run", str(core), "--report", str(report)]) == 0
    doc = json.loads((report / "result.json").read_text())
    assert doc["trace"] == str(report / "trace.jsonl")
    kinds = [json.loads(line)["kind"] for line in (report / "trace.jsonl").read_text().splitlines()]
    assert kinds.count("step") == 2
    assert "request svc.nobody: no responders" in (report / "summary.txt").read_text()


def test_a_bad_file_exits_2_naming_file_step_and_key(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: b\nsteps:\n  - {op: publish}\n")
    assert main(["run", str(bad)]) == 2
    assert main(["validate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"{bad}: step 0 (publish): key 'subject': missing" in err


def test_validate_exits_0_when_sim_and_real_agree(core, capsys):
    assert main(["validate", str(core)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "core-cli: agree (2 steps, subscriptions and final state compared)",
        "1 scenarios, 1 agree"]


def test_validate_exits_1_and_prints_the_differing_field(core, monkeypatch, capsys):
    real_run = runners.run_scenario

    def skewed(scenario, backend="sim", **kw):
        doc = real_run(scenario, "sim", **kw)
        if backend == "real":
            doc["steps"][1]["result"] = {"outcome": "timeout"}
        return doc

    monkeypatch.setattr(runners, "run_scenario", skewed)
    assert main(["validate", str(core), str(core)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == "2 scenarios, 0 agree"
    assert out[0] == "core-cli: 1 difference(s) (2 steps, subscriptions and final state compared)"
    row = [line for line in out if "request.outcome" in line][0].split()
    assert row == ["core-cli", "1", "request.outcome", "no_responders", "timeout"]


def test_run_help_documents_the_backend_and_its_default(capsys):
    with pytest.raises(SystemExit) as done:
        main(["run", "--help"])
    assert done.value.code == 0
    text = " ".join(capsys.readouterr().out.split())      # argparse wraps lines
    assert "--backend {sim,real}" in text
    assert "sim: the simulation, in virtual time (default)" in text
    assert "real: a nats-server started for this run" in text


def test_a_name_nothing_declared_reaches_the_server_and_warns(tmp_path, capsys):
    path = tmp_path / "ghost.yaml"
    path.write_text("name: g\nstreams: [{name: S, subjects: [s]}]\nsteps:\n"
                    "  - {op: stream_info, stream: GHOST}\n  - {op: consumer_info, consumer: c}\n")
    assert main(["run", str(path), "--json", "-"]) == 0
    out, err = capsys.readouterr()
    steps = [s["result"]["error"]["err_code"] for s in json.loads(out)["steps"]]
    assert steps == [10059, 10014]
    assert err.count("pmesh-sim: warning: ") == 2
    assert f"{path}: step 0 (stream_info): key 'stream': 'GHOST' is neither declared" in err

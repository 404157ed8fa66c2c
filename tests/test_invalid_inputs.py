"""Invalid inputs, counted: every case in tests/invalid/*.yaml goes through a public entry point
and gives the server's err_code or a clear error naming what is wrong — never a traceback.

subjects -> validate_subject; streams / consumers / headers -> the simulated JetStreamContext
(add_stream, add_consumer, publish); scenarios -> load_scenario and ``pmesh-sim run`` (exit 2,
one line naming the file, the step and the key). The err_code cases a scenario file can express
also run on a real nats-server, which must answer the same err_code.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

import pmesh_sim
from pmesh_sim import JetStreamError, PmeshError, Simulation, load_scenario, validate_subject
from pmesh_sim.cli import main
from pmesh_sim.errors import ScenarioError

CORPUS = Path(__file__).parent / "invalid"
CASES = {kind: yaml.safe_load((CORPUS / f"{kind}.yaml").read_text(encoding="utf-8"))
         for kind in ("subjects", "streams", "consumers", "headers", "scenarios")}
DEFAULT_STREAM = {"name": "S", "subjects": ["s.>"]}


def _ids(kind):
    return [f"{kind}-{i}" for i in range(len(CASES[kind]))]


def test_the_corpus_has_at_least_150_invalid_inputs():
    assert sum(len(cases) for cases in CASES.values()) >= 150


def _outcome(body) -> dict:
    """Run ``body(js)`` (a generator) in a fresh simulation: the error it ends with."""
    sim = Simulation(seed=1, latency=0.001)
    sim.add_server("n1", jetstream=True)
    js = sim.connect(name="app").jetstream()
    out = {}

    def proc():
        try:
            yield from body(js)
            out["ok"] = True
        except JetStreamError as err:
            out.update(err_code=err.err_code, says=err.description)
        except PmeshError as err:
            out.update(error=type(err).__name__, says=str(err))

    sim.process(proc())
    sim.run(until=30)
    return out


def _check(case: dict, got: dict) -> None:
    assert "ok" not in got, f"accepted: {case}"
    if "err_code" in case:
        assert got.get("err_code") == case["err_code"], got
    else:
        assert got.get("error") == case["error"], got
        assert isinstance(getattr(pmesh_sim, case["error"]), type)
    assert case["says"] in got["says"], got


@pytest.mark.parametrize("case", CASES["subjects"], ids=_ids("subjects"))
def test_a_bad_subject_is_refused_with_a_reason(case):
    with pytest.raises(PmeshError) as err:
        validate_subject(case["subject"], wildcards=case.get("wildcards", True))
    _check(case, {"error": type(err.value).__name__, "says": str(err.value)})


@pytest.mark.parametrize("case", CASES["streams"], ids=_ids("streams"))
def test_a_bad_stream_config_gives_the_server_error_or_names_the_field(case):
    def body(js):
        yield js.add_stream(**case["config"])
    _check(case, _outcome(body))


@pytest.mark.parametrize("case", CASES["consumers"], ids=_ids("consumers"))
def test_a_bad_consumer_config_gives_the_server_error_or_names_the_field(case):
    stream = case.get("stream", DEFAULT_STREAM)

    def body(js):
        yield js.add_stream(**stream)
        yield js.add_consumer(stream["name"], **case["config"])
    _check(case, _outcome(body))


@pytest.mark.parametrize("case", CASES["headers"], ids=_ids("headers"))
def test_bad_headers_give_the_server_error_or_a_clear_refusal(case):
    def body(js):
        yield js.add_stream(**DEFAULT_STREAM)
        yield js.publish("s.1", b"x", headers=case["headers"])
    _check(case, _outcome(body))


def _write(tmp_path: Path, case: dict, index: int) -> Path:
    path = tmp_path / case.get("file", f"case{index}.yaml")
    if not case.get("absent"):
        text = case["text"]
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("index", range(len(CASES["scenarios"])), ids=_ids("scenarios"))
def test_a_bad_scenario_file_names_file_step_and_key(tmp_path, capsys, index):
    case = CASES["scenarios"][index]
    path = _write(tmp_path, case, index)
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    assert str(err.value) == f"{path}: {case['says']}" or \
        str(err.value).startswith(f"{path}: {case['says']}")
    assert main(["run", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and captured.err.startswith(f"pmesh-sim: {path}: ")


def _real_sample() -> tuple[dict, list[dict]]:
    """One scenario with a step for every err_code case a scenario file can express."""
    from pmesh_sim.scenario import Scenario

    steps, expected = [], []

    def add(step, case):
        try:   # a case only the Python API can express (a wrong type) is not a scenario step
            Scenario.from_dict({"name": "probe", "streams": [DEFAULT_STREAM, WORK],
                                "steps": [step]})
        except ScenarioError:
            return
        steps.append({"at": 0.01 * len(steps), **step})
        expected.append(case)

    for case in CASES["streams"]:
        if "err_code" in case and case["config"].get("name"):
            add({"op": "add_stream", **case["config"]}, case)
    for case in CASES["consumers"]:
        if "err_code" in case:
            stream = case.get("stream", DEFAULT_STREAM)["name"]
            add({"op": "add_consumer", "stream": stream, **case["config"]}, case)
    for case in CASES["headers"]:
        if "err_code" in case:
            add({"op": "js_publish", "subject": "s.1", "headers": case["headers"]}, case)
    scenario = {"name": "invalid-inputs-real-sample", "streams": [DEFAULT_STREAM, WORK],
                "steps": steps}
    return scenario, expected


WORK = {"name": "W", "subjects": ["w.>"], "retention": "workqueue"}


@pytest.mark.timeout(120)
def test_the_err_codes_are_the_real_servers():
    from pmesh_sim.runners import run_scenario
    from pmesh_sim.scenario import Scenario

    raw, expected = _real_sample()
    assert len(expected) >= 60
    scenario = Scenario.from_dict(raw)
    for backend in ("real", "sim"):
        doc = run_scenario(scenario, backend=backend)
        got = [s["result"].get("error", {}).get("err_code") for s in doc["steps"]]
        assert got == [c["err_code"] for c in expected], backend

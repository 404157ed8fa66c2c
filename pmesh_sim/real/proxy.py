"""Loopback TCP proxies for a real cluster's routes, so that links can be cut, healed and slowed.

One :class:`RouteProxies` holds a proxy per ordered pair of nodes: node A's route to node B is
configured as ``127.0.0.1:<port of proxy A→B>``, and that proxy forwards to B's cluster port.
:meth:`~RouteProxies.cut` closes a pair's current connections (both directions) and refuses new
ones until :meth:`~RouteProxies.heal`; :meth:`~RouteProxies.delay` holds every byte of one
direction back for a number of seconds (order kept). Packet *loss* cannot be imitated on a TCP
stream without corrupting it, so there is none. The proxies run on an asyncio loop in a daemon
thread; every method is an ordinary (thread-safe, blocking) call.

>>> import socket
>>> echo = socket.create_server(("127.0.0.1", 0))
>>> with RouteProxies({"a": echo.getsockname()[1], "b": 1}) as proxies:
...     client = socket.create_connection(("127.0.0.1", proxies.port("b", "a")))
...     peer, _ = echo.accept()
...     client.sendall(b"ping"); peer.recv(4)
...     proxies.cut("a", "b"); client.recv(4)          # the cut closes the connection
...     proxies.links()
b'ping'
b''
{('a', 'b'): 'cut', ('b', 'a'): 'cut'}
>>> for s in (client, peer, echo): s.close()
"""

from __future__ import annotations

import asyncio
import threading

__all__ = ["RouteProxies"]

_CHUNK = 65536


class _Link:
    """The proxy of one ordered pair: listens on a loopback port, forwards to ``target``."""

    def __init__(self, target: int, port: int = 0):
        self.target = target
        self.server: asyncio.base_events.Server | None = None
        self.port = port
        self.open = True
        self.delay = {"up": 0.0, "down": 0.0}   # dialler -> target, target -> dialler
        self.writers: set[asyncio.StreamWriter] = set()

    async def listen(self):
        self.server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _accept(self, reader, writer):
        if not self.open:
            writer.close()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        except OSError:          # the target node is down: refuse as it would
            writer.close()
            return
        if not self.open:        # cut while connecting
            writer.close()
            up_writer.close()
            return
        self.writers |= {writer, up_writer}
        await asyncio.gather(self._pump(reader, up_writer, writer, "up"),
                             self._pump(up_reader, writer, up_writer, "down"),
                             return_exceptions=True)
        self.writers -= {writer, up_writer}

    async def _pump(self, reader, writer, other, way: str):
        """Copy ``reader`` to ``writer``; each chunk waits ``delay[way]`` seconds (order kept)."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()

        async def send():
            while (item := await queue.get()) is not None:
                due, data = item
                if due > loop.time():
                    await asyncio.sleep(due - loop.time())
                writer.write(data)
                await writer.drain()

        sender = asyncio.ensure_future(send())
        try:
            while data := await reader.read(_CHUNK):
                queue.put_nowait((loop.time() + self.delay[way], data))
                if sender.done():
                    break
            queue.put_nowait(None)
            await sender
        finally:
            sender.cancel()
            for w in (writer, other):
                w.close()

    def cut(self):
        self.open = False
        for writer in list(self.writers):
            writer.transport.abort()   # no FIN handshake: gone at once, as a pulled cable
        self.writers.clear()

    async def close(self):
        self.cut()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


class RouteProxies:
    """A proxy per ordered pair of ``nodes`` (name -> cluster port): ``port(a, b)`` is where
    node ``a`` must dial to reach node ``b``. ``ports`` fixes the proxies' own ports (in the
    order of the pairs ``(a, b)`` for ``a`` then ``b`` in ``nodes``); free ones otherwise,
    known once started."""

    def __init__(self, nodes: dict[str, int], ports: list[int] | None = None):
        self.nodes = dict(nodes)
        pairs = [(a, b) for a in nodes for b in nodes if a != b]
        ports = list(ports) if ports is not None else [0] * len(pairs)
        self._links = {pair: _Link(nodes[pair[1]], port) for pair, port in zip(pairs, ports)}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    def _call(self, fn, *args):
        """``fn(*args)`` on the proxies' loop (awaited if it is a coroutine); its result."""
        async def wrap():
            value = fn(*args)
            return await value if asyncio.isfuture(value) or asyncio.iscoroutine(value) else value

        return asyncio.run_coroutine_threadsafe(wrap(), self._loop).result(10)

    def start(self) -> RouteProxies:
        """Open every proxy's listening port (idempotent)."""
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
            self._thread = threading.Thread(target=self._loop.run_forever,
                                            name="pmesh-route-proxies", daemon=True)
            self._thread.start()
            self._call(lambda: asyncio.gather(*(link.listen() for link in self._links.values())))
        return self

    def stop(self) -> None:
        """Close every connection and port, and end the thread."""
        if self._loop is None:
            return
        async def shutdown():
            await asyncio.gather(*(link.close() for link in self._links.values()))
            pumps = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in pumps:            # every connection's copying ends before the loop
                task.cancel()
            await asyncio.gather(*pumps, return_exceptions=True)

        self._call(shutdown)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()
        self._loop = None

    def port(self, a: str, b: str) -> int:
        """The loopback port node ``a`` dials to reach node ``b``."""
        return self._link(a, b).port

    def _link(self, a: str, b: str) -> _Link:
        try:
            return self._links[(a, b)]
        except KeyError:
            raise KeyError(f"no route proxy {a}->{b} (nodes: {', '.join(self.nodes)})") from None

    def cut(self, a: str, b: str) -> None:
        """Cut ``a``–``b`` both ways: close the current connections, refuse new ones."""
        for link in (self._link(a, b), self._link(b, a)):
            self._call(link.cut)

    def heal(self, a: str | None = None, b: str | None = None) -> None:
        """Accept connections again between ``a`` and ``b`` (every pair when not given)."""
        pairs = [(a, b), (b, a)] if a is not None else list(self._links)
        for pair in pairs:
            self._link(*pair).open = True

    def partition(self, groups: list[list[str]]) -> None:
        """Cut every pair whose nodes are in different ``groups``; heal every other pair.
        Nodes no group names form one more group together."""
        named = {n for group in groups for n in group}
        groups = [list(g) for g in groups] + [[n for n in self.nodes if n not in named]]
        side = {n: i for i, group in enumerate(groups) for n in group}
        for a, b in self._links:
            if side[a] != side[b]:
                self.cut(a, b)
            else:
                self._link(a, b).open = True

    def delay(self, a: str, b: str, seconds: float) -> None:
        """Hold back every byte node ``a`` sends to node ``b`` by ``seconds`` (0: no delay).

        A route between them may have been dialled by either side, so this slows ``a``'s
        bytes on both proxies: upstream on ``a``->``b``, downstream on ``b``->``a``.
        """
        self._link(a, b).delay["up"] = float(seconds)
        self._link(b, a).delay["down"] = float(seconds)

    def links(self) -> dict[tuple[str, str], str]:
        """Each ordered pair's state, ``open`` or ``cut``."""
        return {pair: "open" if link.open else "cut" for pair, link in self._links.items()}

    def __enter__(self) -> RouteProxies:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

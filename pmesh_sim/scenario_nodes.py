"""The cluster part of the scenario format: nodes, the faults that act on them, and the node a
connection starts on (``server:``). Mixed into the scenario checker; no backend logic here.

A fault must fit the node's state at its step: kill a node that runs (or is paused), restart
a killed one (or one that lost power), pause a running one, resume a paused one.

>>> NODE_STATES["restart"]
(('killed',), 'running')
"""

from __future__ import annotations

__all__ = ["FAULT_OPS", "SIM_ONLY_OPS", "CONNECTION_OPS", "NODE_STATES", "NodeChecks"]

#: The fault ops. ``server`` names the node they act on (not a connection's node).
FAULT_OPS = ("kill", "restart", "pause", "resume", "power_loss", "partition", "heal", "stepdown",
             "link")

#: Faults only the simulation can perform; the real backend answers ``unsupported``.
SIM_ONLY_OPS = ("power_loss",)

#: Ops whose call a connection makes: ``server`` says which node that connection starts on
#: (the default ``steps`` connection starts on n1).
CONNECTION_OPS = ("publish", "js_publish", "request", "fetch", "add_stream", "update_stream",
                  "delete_stream", "purge_stream", "stream_info", "stream_list", "add_consumer",
                  "delete_consumer", "consumer_info", "pause_consumer", "reset_consumer",
                  "subscribe", "workload")

#: fault op -> (the node states it needs, the state after): kill a node that runs, restart a
#: killed one (or one that lost power), pause a running one, resume a paused one
NODE_STATES = {"kill": (("running", "paused"), "killed"), "restart": (("killed",), "running"),
               "pause": (("running",), "paused"), "resume": (("paused",), "running"),
               "power_loss": (("running", "paused"), "killed")}


class NodeChecks:
    """Checks of the scenario checker for node names, faults and ``server:``. Needs the
    checker's ``servers`` (count), ``down`` (node -> state), ``fail``, ``at_least``,
    ``need_stream`` and ``consumer_stream``."""

    def connection_server(self, where: str, op: str, args: dict) -> str:
        """The node a step's connection starts on (``""``: the default), taken out of its
        keys (a ``subscribe`` keeps it in its subscription's spec)."""
        if op not in CONNECTION_OPS:
            return ""
        server = args.get("server", "") if op == "subscribe" else args.pop("server", "")
        if server and op != "subscribe":
            self.server(where, "server", server)
        if server and "from" in args:
            self.fail(where, "server", "give 'from' or 'server', not both ('from' publishes "
                                       "on that subscription's own connection)")
        return server

    def stepdown(self, where: str, args: dict):
        """A stepdown names its RAFT group: ``stream``, ``consumer`` (+ ``stream`` when
        ambiguous) or ``meta: true``; ``preferred`` names the node to lead next."""
        if "preferred" in args:
            self.server(where, "preferred", args["preferred"])
        if args.get("meta"):
            if "stream" in args or "consumer" in args:
                self.fail(where, "meta", "a meta stepdown names no stream or consumer")
        elif "consumer" in args:
            args["stream"] = self.consumer_stream(where, args)
        elif "stream" in args:
            self.need_stream(where, "stream", args["stream"])
        else:
            self.fail(where, "stream", "missing: say which leader steps down (stream, "
                                       "consumer with its stream, or meta: true)")

    def fault(self, where: str, op: str, args: dict):
        """Check the nodes a fault names, and that it fits the node's state at that step."""
        if op == "partition":
            names = [name for group in args["groups"] for name in group]
            for i, name in enumerate(names):
                self.server(where, "groups", name)
                if name in names[:i]:
                    self.fail(where, "groups", f"node {name!r} is named twice (a node is in "
                                               "one group only)")
        elif op == "link":
            self.link(where, args)
        elif "server" in args:
            name = args["server"]
            self.server(where, "server", name)
            state = self.down.get(name, "running")
            need, after = NODE_STATES[op]
            if state not in need:
                self.fail(where, "server", f"cannot {op} {name}: it is {state} at this step"
                          + (" (kill it first)" if op == "restart" else ""))
            self.down[name] = after

    def link(self, where: str, args: dict):
        """``link``: the route between two distinct nodes gets a one-way ``delay`` (seconds,
        both directions) and/or a ``loss`` probability; 0 restores it."""
        pair = args["servers"]
        if len(pair) != 2 or pair[0] == pair[1]:
            self.fail(where, "servers", f"a link joins two different servers, got {pair!r}")
        for name in pair:
            self.server(where, "servers", name)
        if "delay" not in args and "loss" not in args:
            self.fail(where, "delay", "missing: give the link a delay, a loss, or both")
        self.at_least(where, args, "delay", 0.0)
        loss = args.get("loss", 0.0)
        if not 0.0 <= loss < 1.0:
            self.fail(where, "loss", f"must be a probability in [0, 1), got {loss!r}")

    def server(self, where: str, key: str, name: str):
        names = [f"n{i}" for i in range(1, self.servers + 1)]
        if name not in names:
            self.fail(where, key, f"unknown server {name!r} (this scenario has "
                                  f"{', '.join(names)})")


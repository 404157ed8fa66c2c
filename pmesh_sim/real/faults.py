"""The fault ops of a scenario, performed on real ``nats-server`` processes.

=============  ===================================================  ================
op             how                                                  outcome
=============  ===================================================  ================
``kill``       SIGKILL; the store stays                             ``killed``
``restart``    start again on the same ports and store, wait until  ``restarted``
               it accepts clients (not until it caught up)
``pause``      SIGSTOP: sockets stay open, nothing is answered      ``paused``
``resume``     SIGCONT                                              ``resumed``
``partition``  the route proxies cut every link between groups      ``partitioned``
``heal``       the route proxies accept every link again; the       ``healed``
               servers reconnect by themselves (about a second)
``stepdown``   the JetStream API: ``$JS.API.STREAM.LEADER.          ``stepped_down``
               STEPDOWN.<stream>``, ``$JS.API.CONSUMER.LEADER.      or the server's
               STEPDOWN.<stream>.<consumer>``, or (system account)  error
               ``$JS.API.META.LEADER.STEPDOWN``
``link``       ``delay``: the route proxies hold back every byte    ``link_set``
               between the two nodes (both ways); a ``loss`` above
               0 cannot be done to a TCP stream without breaking
               it: the whole step is ``unsupported``
``power_loss`` cannot be done to a real process (its page cache     ``unsupported``
               survives a SIGKILL)
=============  ===================================================  ================

A ``stepdown`` with ``preferred: n1`` asks for that node as the next leader (again, if the
server elected another) and answers ``{"leader": "n1"}`` once it leads, also when it led
already (the server refuses that request with 10005 "preferred server is already leader",
which says just that), so a scenario can put a leader where its faults will hit it. A
``restart`` after an (unsupported) ``power_loss`` of the same node is ``unsupported`` too: the
node never went down. A single server has no routes: ``partition`` and ``heal`` cut nothing.

>>> sorted(OUTCOMES)
['heal', 'kill', 'link', 'partition', 'pause', 'restart', 'resume', 'stepdown']
"""

from __future__ import annotations

import asyncio
import json

from .. import scenario as sc
from ..runners import API_TIMEOUT, classify_error

__all__ = ["perform", "OUTCOMES"]

#: Seconds a stepdown with ``preferred`` waits for that node to lead.
LEADER_WAIT = 10.0

#: The outcome of each fault op the real backend performs.
OUTCOMES = {"kill": "killed", "restart": "restarted", "pause": "paused", "resume": "resumed",
            "partition": "partitioned", "heal": "healed", "stepdown": "stepped_down",
            "link": "link_set"}


async def perform(b, op: str, args: dict) -> dict:
    """Perform fault ``op`` for backend ``b`` (the real runner's adapter); its result."""
    name = args.get("server")
    if op == "power_loss":
        b.lost_power.add(name)
        return sc.outcome("unsupported")
    if op == "restart" and name in b.lost_power:
        b.lost_power.discard(name)
        return sc.outcome("unsupported")
    if op == "stepdown":
        return await _stepdown(b, args)
    if op == "link" and args.get("loss", 0.0) > 0:
        return sc.outcome("unsupported")
    if op in ("partition", "heal", "link") and b.cluster is None and len(b.nodes) > 1:
        return sc.outcome("unsupported")     # servers we did not route: no proxies to cut
    if op not in OUTCOMES:
        return sc.outcome("unsupported")
    await b.loop.run_in_executor(None, _action(b, op, args))
    b.trace.emit(op, **_record(b, op, args))
    return sc.outcome(OUTCOMES[op])


def _record(b, op: str, args: dict) -> dict:
    """The fields of a fault's trace record, as the simulation writes them."""
    if op == "partition":   # the nodes no group names are one more group
        named = {n for g in args["groups"] for n in g}
        rest = [n for n in b.nodes if n not in named]
        groups = [*args["groups"], *([rest] if rest else [])]
        return {"node": "", "groups": " | ".join(",".join(g) for g in groups)}
    if op == "link":
        src, dst = args["servers"]
        return {"node": src, "src": src, "dst": dst, "loss": float(args.get("loss", 0.0)),
                "delay": float(args.get("delay", 0.0))}
    return {"node": args.get("server", "")}


def _action(b, op: str, args: dict):
    """The blocking call that performs a process or network fault."""
    if op in ("partition", "heal", "link"):
        cluster = b.cluster
        if cluster is None:            # a single server: no routes to cut
            return lambda: None
        if op == "link":
            return lambda: cluster.delay(*args["servers"], args.get("delay", 0.0))
        return (lambda: cluster.partition(args["groups"])) if op == "partition" else cluster.heal
    node = b.nodes[args["server"]]
    if op == "restart":
        return lambda: b.cluster.restart(node.name) if b.cluster is not None else node.start()
    return getattr(node, op)          # kill, pause, resume


async def _stepdown(b, args: dict) -> dict:
    """Ask the leader of a stream's, a consumer's or the meta group to step down; with
    ``preferred``, ask again until that node leads (at most LEADER_WAIT seconds)."""
    if args.get("meta"):
        subject, conn = "$JS.API.META.LEADER.STEPDOWN", await b.system_connection()
        target = {"group": "meta"}
    elif "consumer" in args:
        subject = f"$JS.API.CONSUMER.LEADER.STEPDOWN.{args['stream']}.{args['consumer']}"
        conn, target = b.nc, {"stream": args["stream"], "consumer": args["consumer"]}
    else:
        subject, conn = f"$JS.API.STREAM.LEADER.STEPDOWN.{args['stream']}", b.nc
        target = {"stream": args["stream"]}
    preferred = args.get("preferred")
    body = json.dumps({"placement": {"preferred": preferred}}).encode() if preferred else b""
    deadline = b.loop.time() + LEADER_WAIT
    while True:
        result = await _ask(conn, subject, body)
        b.trace.emit("stepdown", node=b.node, **target,
                     **({"preferred": preferred} if preferred else {}))
        if not preferred or not (result.get("outcome") == OUTCOMES["stepdown"]
                                 or _already(result)):
            return result
        # a peer that is not current yet may be passed over: the server elects another
        leader = await _leader_becomes(b, args, preferred, min(deadline, b.loop.time() + 2))
        if leader == preferred or b.loop.time() > deadline:
            return {"leader": leader}


async def _ask(conn, subject: str, body: bytes) -> dict:
    try:
        msg = await conn.request(subject, body, timeout=API_TIMEOUT)
    except Exception as exc:  # noqa: BLE001 - a timeout or no responders is the outcome
        return classify_error(exc)
    resp = json.loads(msg.data or b"{}")
    return (sc.error_result(resp["error"]) if "error" in resp
            else sc.outcome(OUTCOMES["stepdown"]))


def _already(result: dict) -> bool:
    """The server's answer when the preferred node leads already (10005, 'already leader')."""
    error = result.get("error", {})
    return error.get("err_code") == 10005 and "already leader" in error.get("description", "")


async def _leader_becomes(b, args: dict, preferred: str, deadline: float) -> str:
    """Poll the group's leader until it is ``preferred`` or ``deadline``; the last seen."""
    while True:
        leader = await _leader(b, args)
        if leader == preferred or b.loop.time() > deadline:
            return leader or ""
        await asyncio.sleep(0.1)


async def _leader(b, args: dict) -> str | None:
    if args.get("meta"):
        return await b.loop.run_in_executor(None, b.cluster.meta_leader) if b.cluster else None
    subject = (f"$JS.API.CONSUMER.INFO.{args['stream']}.{args['consumer']}"
               if "consumer" in args else f"$JS.API.STREAM.INFO.{args['stream']}")
    try:   # while a group elects, its info request may go unanswered: ask again soon
        msg = await b.nc.request(subject, b"", timeout=0.5)
    except Exception:  # noqa: BLE001 - no answer: no leader known
        return None
    return (json.loads(msg.data or b"{}").get("cluster") or {}).get("leader")


async def quietly(awaitable, timeout: float = 2.0) -> bool:
    """Await with a timeout; False (and nothing raised) when it failed: closing or flushing a
    connection whose server is dead or paused may fail, and that is no result of the run."""
    try:
        await asyncio.wait_for(awaitable, timeout)
        return True
    except Exception:  # noqa: BLE001
        return False

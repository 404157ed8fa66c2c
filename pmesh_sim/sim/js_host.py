"""JetStream hosted on a simulated server: the SimPy side of :class:`pmesh_sim.jetstream.api.JetStream`.

The host keeps the server's internal subscriptions equal to ``JetStream.interest()``, hands every
arriving message to ``JetStream.handle(..., now=env.now)``, routes what comes back with
``server.send``, and keeps one timer at ``JetStream.next_deadline()``, asking for it again only
when ``JetStream.wakes_before(armed)`` says it may have moved earlier. When a client subscription
is added or removed (``server.on_client_interest``) it routes ``JetStream.on_interest_change``.
"""

from __future__ import annotations

from pmesh_sim.errors import SimulationStuckError
from pmesh_sim.jetstream.api import JetStream
from pmesh_sim.jetstream.consumer import API_ERROR

__all__ = ["JetStreamHost", "trace_emitters"]

STUCK_FIRES = 1000
"""Timer firings at one virtual instant after which the host raises SimulationStuckError
(a deadline that its own check never finds due)."""


def trace_emitters(server):
    """A JetStream host's trace functions on ``server``: ``emit(kind, **fields)`` and, for the
    hot records, ``emit_row(kind, keys, *values)`` (no dict made); each record a row with the
    node's name first (``Trace.record``: a third of a dict's memory)."""
    trace, env, name = server.sim.trace, server.env, server.name
    rows: dict[tuple, tuple] = {}      # field names -> ("node", *names), shared by rows

    def emit(kind, **fields):
        if trace.enabled:
            names = tuple(fields)
            keys = rows.get(names)
            if keys is None:
                keys = rows[names] = ("node", *names)
            trace.record(env.now, kind, (keys, name, *fields.values()))

    def emit_row(kind, keys, *values):
        if trace.enabled:
            trace.record(env._now, kind, (keys, name, *values))

    return emit, emit_row


class JetStreamHost:
    """Runs one :class:`JetStream` on ``server``."""

    def __init__(self, server):
        self.server = server
        self.env = server.env
        emit, emit_row = trace_emitters(server)
        self.js = JetStream(emit=emit, has_interest=server.has_client_interest,
                            epoch_ns=server.sim.epoch_ns, emit_row=emit_row,
                            server_name=server.name)
        self._subs: dict[str, object] = {}
        self._version = -1
        self._timer_at: float | None = None
        self._timer_token = 0
        self._fired = (None, 0)            # (virtual time, firings at it)
        server.on_client_interest = self._on_client_interest
        self._sync()

    def _on_client_interest(self) -> None:
        self._after(self.js.on_interest_change(self.env.now))

    def _sync(self) -> None:
        if self.js.interest_version == self._version:
            return
        self._version = self.js.interest_version
        self._subscribe_only(self.js.interest())

    def _subscribe_only(self, wanted: set[str]) -> None:
        """Hold internal subscriptions on exactly the subjects ``wanted``."""
        for subject in list(self._subs):
            if subject not in wanted:
                self.server.unsubscribe_internal(self._subs.pop(subject))
        for subject in sorted(wanted - set(self._subs)):
            self._subs[subject] = self.server.subscribe_internal(subject, self._on_message)

    def _on_message(self, subject, reply, data, headers) -> None:
        js = self.js
        out = js.handle(subject, reply, data, headers, now=self.env._now,
                        msg_id=self.server.routing_msg_id)
        if out or js.interest_version != self._version:
            self._after(out)
            return
        # nothing to send, no interest change (most acks): _after's timer check, in short
        armed = self._timer_at
        if armed is None or armed < self.env._now or js.wakes_before(armed):
            self._schedule()

    def _after(self, out, fired: bool = False) -> None:
        if self.js.interest_version != self._version:
            self._sync()
        send = self.server.send
        for subject, reply, data, headers, shown, msg_id, api in out:    # Outgoing
            if shown is not None:      # a delivery: routed to the inbox, shows its subject
                send(shown, data, reply, headers, subject, msg_id)
            else:
                if api:                  # the account counts an API answer as it goes
                    self._count_api(api)
                send(subject, data, reply, headers)
        self._schedule(fired)

    def _count_api(self, api: int) -> None:
        """An API answer leaves (``trackAPI``, or ``trackAPIErr`` for an error)."""
        self.js.api_total += 1
        self.js.api_errors += api == API_ERROR

    def _schedule(self, fired: bool = False) -> None:
        armed = self._timer_at
        # with a timer armed for later, only a timer added before it can need a new one
        if not fired and armed is not None and armed >= self.env.now \
                and not self.js.wakes_before(armed):
            return
        at = self.js.next_deadline()
        if at is None or (armed is not None and armed <= at and armed >= self.env.now):
            return
        self._timer_at = at
        self._timer_token += 1
        token = self._timer_token
        self.server.call_at(at, lambda: self._fire(token))

    def _fire(self, token: int) -> None:
        if token != self._timer_token:
            return
        self._timer_at = None
        now = self.env.now
        at, n = self._fired
        self._fired = (now, n + 1 if at == now else 1)
        if n >= STUCK_FIRES and at == now:
            raise SimulationStuckError(self._stuck_message(now, n + 1))
        self._after(self.js.on_timer(now), fired=True)

    def _stuck_message(self, now: float, n: int) -> str:
        """Which stream or consumer keeps asking for a timer at ``now``."""
        due = self.js.next_deadline()
        who = [f"stream {st.name} (max_age)" for st in self.js.streams.values()
               if st.next_expiry() == due]
        who += [f"consumer {st.name}/{c.name}" for st in self.js.streams.values()
                for c in st.consumers.values() if c.next_deadline() == due]
        return (f"simulation stuck at t={now!r}: the JetStream timer on {self.server.name} "
                f"fired {n} times without time advancing; deadline {due!r} comes from "
                f"{', '.join(who) or 'nothing'}, whose timer work never finds it due")

"""Push-consumer flow control: a window of bytes in flight that the subscriber reopens.

As consumer.go does it (setMaxPendingBytes, needFlowControl, sendFlowControl,
processFlowControl, loopAndGatherMsgs): a push consumer with ``flow_control`` counts the bytes
of each delivery (deliver subject, ack reply, headers and payload, jsPubMsg.size). Once more than
half its window is in flight and no request is out, it sends a status ``100 FlowControl
Request`` to the deliver subject with a reply subject ``$JS.FC.<stream>.<consumer>.<token>``;
it stops delivering while more than the window is in flight. A message on that reply subject
(nats-py's JetStream subscriptions send one, a plain subscription does not) takes the bytes
counted up to the request off, doubles the window (from 2 MB up to 32 MB) and lets deliveries
go on; an idle heartbeat sent while a request is out names it in ``Nats-Consumer-Stalled``.

>>> fc = FlowControl("S", "p")
>>> fc.window, fc.stalled()
(2097152, False)
>>> fc.sent(1_000_000, "dlv") is None
True
>>> req = fc.sent(100_000, "dlv")
>>> req.reply, req.headers
('$JS.FC.S.p.0001', {'Status': '100', 'Description': 'FlowControl Request'})
>>> _ = fc.sent(1_000_000, "dlv"); fc.stalled()
True
>>> fc.answered("$JS.FC.S.p.0001"), fc.window, fc.in_flight, fc.stalled()
(True, 4194304, 1000000, False)

The token counts requests in base 62 (the server's is random); a scenario never sees it.
Deliveries are not replicated with flow control; on a cluster the simulation refuses it.
"""

from __future__ import annotations

__all__ = ["FlowControl", "PENDING_LIMIT"]

#: The most bytes a flow-controlled consumer lets be in flight (JsFlowControlMaxPending).
PENDING_LIMIT = 32 * 1024 * 1024
_DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


class FlowControl:
    """One push consumer's flow-control state (consumer.go maxpb, pbytes, fcsz, fcid)."""

    def __init__(self, stream: str, consumer: str):
        self.window = PENDING_LIMIT // 16   # maxpb: 2 MB to start, doubled per answer
        self.in_flight = 0                  # pbytes
        self.asked = 0                      # fcsz: the bytes the open request covers
        self.reply = ""                     # fcid: the open request's reply subject
        self._prefix = f"$JS.FC.{stream}.{consumer}."
        self._count = 0

    def stalled(self) -> bool:
        """True while more than the window is in flight: deliveries wait."""
        return self.in_flight > self.window

    def sent(self, size: int, to: str):
        """Count a delivery of ``size`` bytes to ``to``; the flow-control request to send
        after it, if one is due (needFlowControl)."""
        self.in_flight += size
        if not self.reply and self.in_flight > self.window // 2:
            self._count += 1
            n, token = self._count, ""
            for _ in range(4):
                token, n = _DIGITS[n % 62] + token, n // 62
            self.reply, self.asked = self._prefix + token, self.in_flight
            from .consumer import Outgoing

            return Outgoing(to, self.reply, b"",
                            {"Status": "100", "Description": "FlowControl Request"})
        if self.reply and self.in_flight - self.asked >= self.window:
            self.asked += size
        return None

    def answered(self, subject: str) -> bool:
        """A message on ``subject`` arrived: True (deliveries may go on) when it answers the
        open request; an answer to an older one is ignored (processFlowControl)."""
        if not self.reply or subject != self.reply:
            return False
        self.window = min(self.window * 2, PENDING_LIMIT)
        self.in_flight = max(self.in_flight - self.asked, 0)
        self.reply, self.asked = "", 0
        return True

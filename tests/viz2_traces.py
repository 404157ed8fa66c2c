"""Hand-built traces in trace schema v1 for the timeline, stream and guarantees figures.

``Builder(sim=True)`` writes what the simulation writes (client layer + jetstream layer);
``Builder(sim=False)`` only the client and scenario layers, as the real backend does.
"""

from __future__ import annotations

from pmesh_sim.trace import Trace

NODE = "n1"


class Builder:
    """Append schema-v1 records to ``self.trace``; ``sim`` adds the server-side records."""

    def __init__(self, sim: bool = True):
        self.sim = sim
        self.trace = Trace(clock=lambda: 0.0)
        self._msg_id = 0
        self.ids: dict[tuple[str, int], int] = {}     # (stream, stream_seq) -> msg_id
        self.cseq: dict[str, int] = {}                # consumer -> consumer_seq
        self.delivered: dict[tuple[str, int], int] = {}

    def rec(self, t: float, kind: str, **fields) -> None:
        self.trace.record(t, kind, {"node": NODE, **fields})

    def next_id(self) -> int:
        self._msg_id += 1
        return self._msg_id

    # -- setup ------------------------------------------------------------------------------
    def stream(self, t: float, name: str, subjects: list[str]) -> None:
        if self.sim:
            self.rec(t, "stream_created", stream=name, subjects=subjects)
        self.rec(t, "stream_config", stream=name, subjects=subjects, retention="limits")

    def consumer(self, t: float, stream: str, name: str, **config) -> None:
        if self.sim:
            self.rec(t, "consumer_created", stream=stream, consumer=name)
        self.rec(t, "consumer_config", stream=stream, consumer=name, filter_subjects=[],
                 pull=True, ack_policy="explicit", **config)

    def subscribe(self, t: float, client: str, subject: str, queue: str = "") -> None:
        self.rec(t, "subscribe", client=client, sid=1, subject=subject, queue=queue)

    # -- core -------------------------------------------------------------------------------
    def publish(self, t: float, subject: str, client: str = "steps", **extra) -> int:
        msg_id = self.next_id()
        self.rec(t, "publish", client=client, subject=subject, msg_id=msg_id, **extra)
        return msg_id

    def core_deliver(self, t: float, client: str, subject: str, msg_id: int) -> None:
        self.rec(t, "deliver", client=client, sid=1, subject=subject, msg_id=msg_id)

    # -- JetStream --------------------------------------------------------------------------
    def js_publish(self, t: float, stream: str, subject: str, seq: int,
                   nats_msg_id: str | None = None, duplicate: bool = False) -> int:
        """A publish stored at ``seq`` (or a duplicate of ``seq``) and its pub ack."""
        extra = {"nats_msg_id": nats_msg_id} if nats_msg_id else {}
        msg_id = self.publish(t, subject, reply="_INBOX.x", **extra)
        if self.sim:
            if duplicate:
                self.rec(t + 0.001, "dedup", stream=stream, subject=subject, stream_seq=seq,
                         msg_id=msg_id, nats_msg_id=nats_msg_id)
            else:
                self.rec(t + 0.001, "store", stream=stream, subject=subject, stream_seq=seq,
                         msg_id=msg_id)
        if not duplicate:
            self.ids[(stream, seq)] = msg_id
        self.rec(t + 0.002, "pub_ack", client="steps", msg_id=msg_id, stream=stream,
                 stream_seq=seq, duplicate=duplicate)
        return msg_id

    def deliver(self, t: float, stream: str, consumer: str, seq: int, subject: str = "orders.1",
                client: str = "steps", lost: bool = False) -> None:
        """The consumer hands out ``seq``; the client gets it 1 ms later unless ``lost``."""
        key = (stream, seq)
        self.delivered[key] = self.delivered.get(key, 0) + 1
        self.cseq[consumer] = self.cseq.get(consumer, 0) + 1
        fields = dict(stream=stream, consumer=consumer, subject=subject, stream_seq=seq,
                      consumer_seq=self.cseq[consumer], num_delivered=self.delivered[key],
                      msg_id=self.ids[key])
        if self.sim:
            self.rec(t, "js_deliver", num_pending=0, **fields)
        if not lost:
            self.rec(t + 0.001, "deliver", client=client, sid=1, **fields)

    def ack(self, t: float, stream: str, consumer: str, seq: int, action: str = "ack",
            client: str = "steps", lost: bool = False, **extra) -> None:
        """The client sends ``action`` for ``seq``; the consumer applies it 1 ms later."""
        fields = dict(stream=stream, consumer=consumer, stream_seq=seq,
                      msg_id=self.ids[(stream, seq)], **extra)
        self.rec(t, "ack", client=client, action=action, **fields)
        if self.sim and not lost:
            applied = "ack" if action == "ack_sync" else action
            self.rec(t + 0.001, "js_ack", consumer_seq=self.cseq[consumer], action=applied,
                     **fields)

    def ack_timeout(self, t: float, stream: str, consumer: str, seq: int) -> None:
        if self.sim:
            self.rec(t, "ack_timeout", stream=stream, consumer=consumer, stream_seq=seq,
                     msg_id=self.ids[(stream, seq)], num_delivered=self.delivered[(stream, seq)])

    def discard(self, t: float, stream: str, seq: int | None, reason: str,
                subject: str = "orders.1") -> None:
        fields = {"stream_seq": seq} if seq is not None else {}
        if self.sim:
            self.rec(t, "discard", stream=stream, subject=subject, reason=reason, **fields)

    def step_result(self, t: float, index: int, op: str, result: dict) -> None:
        self.rec(t, "step", index=index, op=op)
        self.rec(t, "step_result", index=index, op=op, result=result)


def consumer_story(sim: bool = True) -> Builder:
    """ORDERS/worker (ack_wait 1 s): 4 messages; seq 1 and 3 acked at once, seq 2 is not acked,
    times out at 1.3 s, is redelivered, nak'd, redelivered again, worked on (in_progress) and
    acked at 2.2 s; seq 4 is terminated.

    Ack floor over time: 0, then 1 (seq 1 acked; 2 pending), then 4 at 2.2 s.
    """
    b = Builder(sim)
    b.stream(0.0, "ORDERS", ["orders.*"])
    b.consumer(0.0, "ORDERS", "worker", ack_wait=1.0)
    for seq in (1, 2, 3, 4):
        b.js_publish(0.05 * seq, "ORDERS", f"orders.{seq}", seq)
    for seq in (1, 2, 3, 4):
        b.deliver(0.3, "ORDERS", "worker", seq, subject=f"orders.{seq}")
    b.ack(0.31, "ORDERS", "worker", 1)
    b.ack(0.32, "ORDERS", "worker", 3)
    b.ack(0.33, "ORDERS", "worker", 4, action="term")
    b.ack_timeout(1.3, "ORDERS", "worker", 2)
    b.deliver(1.5, "ORDERS", "worker", 2, subject="orders.2")
    b.ack(1.51, "ORDERS", "worker", 2, action="nak")
    b.deliver(1.6, "ORDERS", "worker", 2, subject="orders.2")
    b.ack(1.7, "ORDERS", "worker", 2, action="in_progress")
    b.ack(2.2, "ORDERS", "worker", 2)
    return b


def stream_story(sim: bool = True) -> Builder:
    """ORDERS with max_msgs 3: 5 stored messages; seq 1 and 2 discarded (max_msgs) when 4 and
    5 arrive, seq 3 expires (max_age) at 2.0 s, one duplicate publish of seq 5 suppressed, one
    publish refused (discard_new_max_msgs, no sequence). stream_info steps report the state."""
    b = Builder(sim)
    b.stream(0.0, "ORDERS", ["orders.*"])
    for seq in (1, 2, 3):
        b.js_publish(0.1 * seq, "ORDERS", f"orders.{seq}", seq)
    b.js_publish(0.4, "ORDERS", "orders.4", 4)
    b.discard(0.401, "ORDERS", 1, "max_msgs")
    b.js_publish(0.5, "ORDERS", "orders.5", 5, nats_msg_id="m5")
    b.discard(0.501, "ORDERS", 2, "max_msgs")
    b.js_publish(0.6, "ORDERS", "orders.5", 5, nats_msg_id="m5", duplicate=True)
    b.step_result(1.0, 0, "stream_info", {"messages": 3, "bytes": 99, "first_seq": 3,
                                          "last_seq": 5, "num_subjects": 3, "num_deleted": 0,
                                          "consumer_count": 0})
    b.discard(2.0, "ORDERS", 3, "max_age")
    b.discard(2.5, "ORDERS", None, "discard_new_max_msgs")
    b.step_result(3.0, 1, "stream_info", {"messages": 2, "bytes": 66, "first_seq": 4,
                                          "last_seq": 5, "num_subjects": 2, "num_deleted": 0,
                                          "consumer_count": 0})
    return b


def core_run(lost: tuple[int, ...] = (3, 7), n: int = 10) -> Builder:
    """Core: ``n`` jobs published to ``worker`` (jobs.*); the jobs in ``lost`` never arrive.
    A queue group ``pool`` of two members shares the same jobs (each reaches one member)."""
    b = Builder()
    b.subscribe(0.0, "worker", "jobs.*")
    b.subscribe(0.0, "pool-1", "jobs.>", queue="pool")
    b.subscribe(0.0, "pool-2", "jobs.>", queue="pool")
    b.subscribe(0.0, "steps", "_INBOX.abc.*")                   # the library's own: not counted
    for i in range(1, n + 1):
        msg_id = b.publish(0.1 * i, f"jobs.{i}")
        if i not in lost:
            b.core_deliver(0.1 * i + 0.001, "worker", f"jobs.{i}", msg_id)
        b.core_deliver(0.1 * i + 0.001, f"pool-{i % 2 + 1}", f"jobs.{i}", msg_id)
    return b


def jetstream_run(twice: tuple[int, ...] = (2, 5, 9), n: int = 10, double_ack: bool = False,
                  dedup: bool = False) -> Builder:
    """JetStream: ``n`` jobs stored in JOBS and fetched by JOBS/worker; the acks of the jobs in
    ``twice`` are lost, so they are delivered again (and acked). With ``double_ack`` the worker
    acks with ack_sync; with ``dedup`` each publish has a Nats-Msg-Id and job 4 is published
    twice (the second is a duplicate, not stored again)."""
    b = Builder()
    b.stream(0.0, "JOBS", ["jobs.*"])
    b.consumer(0.0, "JOBS", "worker", ack_wait=0.5)
    for i in range(1, n + 1):
        b.js_publish(0.1 * i, "JOBS", f"jobs.{i}", i, nats_msg_id=f"job-{i}" if dedup else None)
        if dedup and i == 4:
            b.js_publish(0.1 * i + 0.05, "JOBS", "jobs.4", 4, nats_msg_id="job-4", duplicate=True)
    action = "ack_sync" if double_ack else "ack"
    for i in range(1, n + 1):
        b.deliver(1.5, "JOBS", "worker", i, subject=f"jobs.{i}")
        b.ack(1.5 + 0.01 * i, "JOBS", "worker", i, action=action, lost=i in twice)
    for i in twice:
        b.ack_timeout(2.0, "JOBS", "worker", i)
        b.deliver(2.2, "JOBS", "worker", i, subject=f"jobs.{i}")
        b.ack(2.2 + 0.01 * i, "JOBS", "worker", i, action=action)
    return b

"""Cluster semantics as pure state machines (no SimPy): RAFT groups and the server's timings.

``timings`` states nats-server's clustering defaults in one place; ``raft`` is one RAFT group's
peer, driven by a host that delivers its messages and calls its timers.
"""

"""nats-server's defaults for RAFT groups and clustering, stated once, with where they come from.

Every duration is in seconds. The values are those of nats-server 2.15 (``server/raft.go``,
``server/jetstream_cluster.go``, ``server/filestore.go``, ``server/events.go``,
``server/const.go``); :data:`SOURCES` names the constant behind each field.

>>> t = RaftTimings()
>>> (t.min_election_timeout, t.max_election_timeout, t.heartbeat_interval)
(4.0, 9.0, 1.0)
>>> (t.lost_quorum_interval, t.lost_quorum_check)
(10.0, 10.0)
>>> ClusterTimings().sync_interval
120.0
>>> SOURCES["min_election_timeout"]
'server/raft.go minElectionTimeoutDefault = 4 * time.Second'

Every field has its source:

>>> sorted(SOURCES) == sorted(f.name for cls in (RaftTimings, ClusterTimings)
...                           for f in fields(cls) if f.name != "raft")
True
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

__all__ = ["SOURCES", "ClusterTimings", "RaftTimings"]


@dataclass(frozen=True)
class RaftTimings:
    """The timers of one RAFT group's peer (the meta group and every stream and consumer group
    use the same values).

    A follower that hears no leader for a random time in
    ``[min_election_timeout, max_election_timeout)`` starts an election; a leader sends a
    heartbeat each ``heartbeat_interval`` in which it sent nothing else, and every
    ``lost_quorum_check`` it steps down if fewer than a quorum of peers (itself included)
    answered within ``lost_quorum_interval``.

    >>> t = RaftTimings()
    >>> t.max_campaign_timeout == 8 * t.min_campaign_timeout
    True
    >>> RaftTimings(min_election_timeout=9.0, max_election_timeout=4.0)
    Traceback (most recent call last):
    ...
    ValueError: min_election_timeout 9.0 must be below max_election_timeout 4.0
    """

    min_election_timeout: float = 4.0
    max_election_timeout: float = 9.0
    min_campaign_timeout: float = 0.1
    max_campaign_timeout: float = 0.8
    heartbeat_interval: float = 1.0
    lost_quorum_interval: float = 10.0
    lost_quorum_check: float = 10.0
    catchup_stall: float = 2.0
    leader_transfer_campaign: float = 0.01
    healthy_peer_window: float = 3.0

    def __post_init__(self) -> None:
        for f in fields(self):
            if getattr(self, f.name) <= 0:
                raise ValueError(f"{f.name} must be positive, not {getattr(self, f.name)!r}")
        for lo, hi in (("min_election_timeout", "max_election_timeout"),
                       ("min_campaign_timeout", "max_campaign_timeout")):
            if getattr(self, lo) >= getattr(self, hi):
                raise ValueError(f"{lo} {getattr(self, lo)} must be below {hi} {getattr(self, hi)}")


@dataclass(frozen=True)
class ClusterTimings:
    """Clustering defaults around the RAFT groups: durability, snapshots, peer liveness, routes.

    Snapshot (compaction) policy per kind of group: every ``*_compact_interval`` (streams and
    consumers add a random spread of up to ``compact_spread``), or sooner once the log holds
    ``*_compact_entries`` entries or more than ``*_compact_size`` bytes (the host decides;
    RAFT only installs what it is given). A stream entry's bytes: ``stream_entry_overhead``
    plus its subject, reply, headers and data; a consumer entry's: ``consumer_entry_overhead``
    plus ``consumer_op_size`` per op.

    >>> c = ClusterTimings()
    >>> (c.stream_compact_entries, c.consumer_compact_entries, c.meta_compact_interval)
    (65536, 1024, 60.0)
    >>> c.orphan_server_timeout, c.orphan_server_check
    (150.0, 90.0)
    >>> c.api_error_delay          # a non-leader's 10008 to stream or consumer info waits
    0.5
    """

    raft: RaftTimings = field(default_factory=RaftTimings)
    sync_interval: float = 120.0
    meta_compact_interval: float = 60.0
    meta_min_snapshot_delta: float = 30.0
    stream_compact_interval: float = 120.0
    stream_compact_entries: int = 65536
    stream_compact_size: int = 8 * 1024 * 1024
    stream_entry_overhead: int = 110
    consumer_compact_interval: float = 120.0
    consumer_compact_entries: int = 1024
    consumer_compact_size: int = 64 * 1024
    consumer_entry_overhead: int = 83
    consumer_op_size: int = 23
    consumer_min_snapshot_delta: float = 10.0
    compact_spread: float = 60.0
    lost_quorum_advisory_interval: float = 10.0
    stream_catchup_start: float = 5.0
    stream_catchup_activity: float = 30.0
    orphan_server_timeout: float = 150.0
    orphan_server_check: float = 90.0
    route_connect: float = 1.0
    route_reconnect: float = 1.0
    route_dial_timeout: float = 1.0
    route_pool_size: int = 3
    ping_interval: float = 120.0
    ping_max_out: int = 2
    api_error_delay: float = 0.5
    group_leaderless_startup: float = 10.0


SOURCES: dict[str, str] = {  # field -> the nats-server constant
    # server/raft.go, the const block of *Default values (the package vars start equal to them)
    "min_election_timeout": "server/raft.go minElectionTimeoutDefault = 4 * time.Second",
    "max_election_timeout": "server/raft.go maxElectionTimeoutDefault = 9 * time.Second",
    "min_campaign_timeout": "server/raft.go minCampaignTimeoutDefault = 100 * time.Millisecond",
    "max_campaign_timeout": "server/raft.go maxCampaignTimeoutDefault = 8 * minCampaignTimeoutDefault",
    "heartbeat_interval": "server/raft.go hbIntervalDefault = 1 * time.Second",
    "lost_quorum_interval": "server/raft.go lostQuorumIntervalDefault = hbIntervalDefault * 10",
    "lost_quorum_check": "server/raft.go lostQuorumCheckIntervalDefault = hbIntervalDefault * 10",
    "catchup_stall": "server/raft.go catchupStalled (2*time.Second); runCatchup activityInterval",
    "leader_transfer_campaign": "server/raft.go xferCampaign resetElect(10 * time.Millisecond)",
    "healthy_peer_window": "server/raft.go StepDown isHealthy: time.Since(ps.ts) < hbInterval*3",
    # durability
    "sync_interval": "server/filestore.go defaultSyncInterval = 2 * time.Minute (opts.go sync_interval)",
    # snapshots, server/jetstream_cluster.go
    "meta_compact_interval": "server/jetstream_cluster.go monitorCluster compactInterval = time.Minute",
    "meta_min_snapshot_delta": "server/jetstream_cluster.go monitorCluster minSnapDelta = 30 * time.Second",
    "stream_compact_interval": "server/jetstream_cluster.go monitorStream compactInterval = 2 * time.Minute",
    "stream_compact_entries": "server/jetstream_cluster.go monitorStream compactNumMin = 65536",
    "stream_compact_size": "server/jetstream_cluster.go monitorStream compactSizeMin = 8 * 1024 * 1024",
    "stream_entry_overhead": "measured on 2.15.1: an R3 stream snapshots at log index 7057 "
                             "(12392) after 1024 (512) byte messages on s.x, 52-byte replies",
    "consumer_compact_interval": "server/jetstream_cluster.go monitorConsumer compactInterval = 2 * time.Minute",
    "consumer_compact_entries": "server/jetstream_cluster.go monitorConsumer compactNumMin = 1024",
    "consumer_compact_size": "server/jetstream_cluster.go monitorConsumer compactSizeMin = 64 * 1024",
    "consumer_entry_overhead": "the stream entry's overhead less its message fields (27 bytes)",
    "consumer_op_size": "measured on 2.15.1: an R3 consumer fetching and acking one message at "
                        "a time snapshots at log index 619: 106 bytes an entry of one op",
    "consumer_min_snapshot_delta": "server/jetstream_cluster.go monitorConsumer minSnapDelta = 10 * time.Second",
    "compact_spread": "server/jetstream_cluster.go rci := rand.Int63n(int64(time.Minute))",
    "lost_quorum_advisory_interval": "server/jetstream_cluster.go lostQuorumAdvInterval = 10 * time.Second",
    "stream_catchup_start": "server/jetstream_cluster.go defaultStreamCatchupStartInterval = 5 * time.Second",
    "stream_catchup_activity": "server/jetstream_cluster.go defaultStreamCatchupActivityInterval = 30 * time.Second",
    # peer liveness as the meta layer sees it, server/server.go + server/events.go
    "orphan_server_timeout": "server/server.go orphMax: 5 * eventsHBInterval (events.go eventsHBInterval = 30 * time.Second)",
    "orphan_server_check": "server/server.go chkOrph: 3 * eventsHBInterval",
    # routes, server/const.go
    "route_connect": "server/const.go DEFAULT_ROUTE_CONNECT = 1 * time.Second",
    "route_reconnect": "server/const.go DEFAULT_ROUTE_RECONNECT = 1 * time.Second",
    "route_dial_timeout": "server/const.go DEFAULT_ROUTE_DIAL = 1 * time.Second",
    "route_pool_size": "server/const.go DEFAULT_ROUTE_POOL_SIZE = 3",
    "ping_interval": "server/const.go DEFAULT_PING_INTERVAL = 2 * time.Minute",
    "ping_max_out": "server/const.go DEFAULT_PING_MAX_OUT = 2",
    # a non-leader's 10008 to stream/consumer info waits, so that a leader answers first
    "api_error_delay": "server/jetstream_api.go errRespDelay = 500 * time.Millisecond",
    # a replica of a stream without a leader answers for it once JetStream ran this long
    "group_leaderless_startup": "server/jetstream_cluster.go isGroupLeaderless startupThreshold = 10 * time.Second",
}

//! Internal events of the cluster: what brokers, the controller and the nemesis did.
//! Checkers of log invariants read these; clients never see them.

use crate::fault::FaultKind;
use crate::protocol::Acks;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The values of one appended batch. Most batches of a busy cluster hold one or two
/// records, and every replica traces its append, so they are kept inline up to two
/// (without a heap allocation of their own: a run traces a few appends per record).
/// Hashed, compared and written exactly as a `Vec<u64>` would be.
pub type AppendedValues = smallvec::SmallVec<[u64; 2]>;

/// One internal event.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TraceEvent {
    /// Simulated time, in nanoseconds since the run started.
    pub time_ns: u64,
    /// The node that recorded it (`broker-1`, `controller`, `nemesis`, ...); shared by
    /// all of the node's events (a long run records hundreds of thousands).
    pub node: Arc<str>,
    /// What happened.
    #[serde(flatten)]
    pub event: Event,
}

/// What happened. Partitions are written `topic-N`, each name shared by the events that
/// mention it; brokers by id.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
pub enum Event {
    /// A broker process started and loaded its logs.
    BrokerStarted {
        /// The broker.
        broker: u32,
    },
    /// A replica's log as loaded from disk at start-up: every record it holds.
    LogLoaded {
        /// The partition.
        tp: Arc<str>,
        /// The broker.
        broker: u32,
        /// `(offset, value, leader epoch of its batch)` in offset order.
        records: Vec<(u64, u64, u32)>,
        /// The high watermark read from the checkpoint.
        high_watermark: u64,
    },
    /// Records were appended to a replica's log.
    Append {
        /// The partition.
        tp: Arc<str>,
        /// The broker.
        broker: u32,
        /// Whether the broker appended as leader (a produce) rather than as follower.
        as_leader: bool,
        /// The leader epoch stamped on the batch.
        leader_epoch: u32,
        /// The offset of the first record.
        base_offset: u64,
        /// The values, at consecutive offsets from `base_offset`.
        values: AppendedValues,
    },
    /// A leader answered a produce request for one batch with success (acks=1 or all;
    /// acks=0 gets no answer): the moment the producer's acknowledgement left the broker.
    ProduceAcknowledged {
        /// The partition.
        tp: Arc<str>,
        /// The answering leader.
        broker: u32,
        /// The leader epoch the batch was appended in.
        leader_epoch: u32,
        /// The acks setting of the request: `1` or `all`.
        acks: Acks,
        /// The offset of the batch's first record.
        base_offset: u64,
        /// How many records the batch holds.
        count: u64,
    },
    /// A replica's high watermark changed.
    HighWatermark {
        /// The partition.
        tp: Arc<str>,
        /// The broker.
        broker: u32,
        /// Whether the broker is the partition's leader.
        is_leader: bool,
        /// The broker's current leader epoch for the partition.
        leader_epoch: u32,
        /// The previous value.
        old: u64,
        /// The new value.
        new: u64,
    },
    /// A replica removed the tail of its log.
    Truncate {
        /// The partition.
        tp: Arc<str>,
        /// The broker.
        broker: u32,
        /// The new log end offset.
        to_offset: u64,
        /// `(offset, value, leader epoch of its batch)` of the removed records.
        removed: Vec<(u64, u64, u32)>,
        /// Why: `high-watermark` (legacy) or `leader-epoch` (KIP-101/279).
        reason: TruncationReason,
    },
    /// A replica's log start offset moved forward: retention deleted its oldest
    /// segments, or a follower adopted its leader's log start. Records below the new log
    /// start can no longer be read; this is not a truncation (which removes the tail).
    LogStartAdvanced {
        /// The partition.
        tp: Arc<str>,
        /// The broker.
        broker: u32,
        /// Whether the broker is the partition's leader.
        is_leader: bool,
        /// The new log start offset.
        log_start_offset: u64,
        /// `(offset, value, leader epoch of its batch)` of the records that went.
        removed: Vec<(u64, u64, u32)>,
        /// Why: `retention.ms` or `retention.bytes` (the replica's own retention check)
        /// or `leader-log-start` (a follower following its leader's log start).
        reason: LogStartReason,
    },
    /// A broker became leader of a partition.
    BecomeLeader {
        /// The partition.
        tp: Arc<str>,
        /// The broker.
        broker: u32,
        /// The new leader epoch.
        leader_epoch: u32,
        /// Its log end offset at that moment.
        log_end_offset: u64,
        /// The ISR it leads with.
        isr: Vec<u32>,
    },
    /// A broker became follower of a partition.
    BecomeFollower {
        /// The partition.
        tp: Arc<str>,
        /// The broker.
        broker: u32,
        /// The leader it follows, if any.
        leader: Option<u32>,
        /// The leader epoch.
        leader_epoch: u32,
        /// Its log end offset at that moment.
        log_end_offset: u64,
    },
    /// The ISR of a partition changed (recorded by the controller when it is stored).
    IsrChange {
        /// The partition.
        tp: Arc<str>,
        /// The leader.
        leader: Option<u32>,
        /// The leader epoch.
        leader_epoch: u32,
        /// The version of the stored partition state (Kafka's `partitionEpoch`, the
        /// ZooKeeper node's `zkVersion`): every write bumps it, so it orders ISR changes
        /// within one leader epoch. 0 in traces recorded before it was added.
        #[serde(default)]
        partition_epoch: u64,
        /// The new ISR.
        isr: Vec<u32>,
    },
    /// The controller elected a partition leader (or found none).
    LeaderElection {
        /// The partition.
        tp: Arc<str>,
        /// The new leader, or `None` if the partition is offline.
        leader: Option<u32>,
        /// The new leader epoch.
        leader_epoch: u32,
        /// The version of the stored partition state (see [`Event::IsrChange`]).
        #[serde(default)]
        partition_epoch: u64,
        /// The ISR after the election.
        isr: Vec<u32>,
        /// Whether the leader came from outside the ISR.
        unclean: bool,
        /// Why the election happened.
        reason: ElectionReason,
    },
    /// A broker became the controller.
    ControllerElected {
        /// The broker.
        broker: u32,
        /// The new controller epoch.
        controller_epoch: u64,
    },
    /// A broker refused a request from a controller with a stale epoch.
    StaleControllerFenced {
        /// The refusing broker.
        broker: u32,
        /// The stale epoch.
        controller_epoch: u64,
        /// The broker's known epoch.
        known_epoch: u64,
    },
    /// A fault fired. `restart`, `resume` and `heal` faults are followed by the
    /// [`Event::FaultEnded`] of the faults they ended.
    Fault {
        /// The fault kind, as written in the scenario (`crash`, `partition`, ...).
        kind: FaultKind,
        /// The resolved targets, e.g. `broker-2`.
        targets: Vec<String>,
        /// What the fault did, for a person.
        detail: String,
    },
    /// A fault's effect ended, for the targets named: a timed fault was undone, a
    /// `restart`, `resume` or `heal` fault ended it, or the liveness phase healed it.
    FaultEnded {
        /// The kind of the fault that ended.
        kind: FaultKind,
        /// The targets it no longer holds (empty for network-wide faults).
        targets: Vec<String>,
        /// How it ended, for a person.
        detail: String,
    },
    /// A run phase began (`safety`, `liveness`).
    Phase {
        /// The phase.
        name: RunPhase,
    },
    /// A KRaft controller became leader of the quorum (the active controller).
    QuorumLeader {
        /// The controller's node id.
        controller: u32,
        /// The Raft epoch it leads.
        epoch: u32,
        /// Its metadata log's end when elected.
        log_end_offset: u64,
    },
    /// A KRaft controller's high watermark moved: these metadata log entries are now
    /// committed on it.
    QuorumCommitted {
        /// The controller's node id.
        controller: u32,
        /// Its epoch at the time.
        epoch: u32,
        /// The offset of the first entry.
        base_offset: u64,
        /// `(epoch of the entry, digest of its record)` at consecutive offsets.
        entries: Vec<(u32, u64)>,
    },
    /// A KRaft controller truncated its metadata log (a diverging epoch).
    QuorumTruncate {
        /// The controller's node id.
        controller: u32,
        /// Its new log end.
        to_offset: u64,
        /// Its high watermark at the time.
        high_watermark: u64,
    },
    /// KRaft: the active controller committed a broker's registration or a change of it
    /// (`RegisterBrokerRecord`, `BrokerRegistrationChangeRecord`): the broker's state as
    /// the cluster's metadata holds it from then on.
    BrokerRegistration {
        /// The broker.
        broker: u32,
        /// Its broker epoch (the offset of its registration).
        broker_epoch: u64,
        /// Whether it is fenced: no leadership, not in any new ISR, not offered to clients.
        fenced: bool,
        /// Whether it is in controlled shutdown.
        in_controlled_shutdown: bool,
    },
    /// A node (broker or controller) applied committed metadata records to its image, in
    /// log order. A process that restarts replays its log again from offset 0.
    MetadataApplied {
        /// The offset of the first record applied.
        base_offset: u64,
        /// How many records.
        count: u64,
    },
    // New variants go last: the derived `Hash` hashes the variant's index, and trace
    // hashes must not change for runs that never use them.
    /// An administrator's topic change (a scenario's `[[events]]`) was answered.
    TopicAdmin {
        /// The event kind, as written in the scenario (`add-partitions`, ...).
        kind: crate::admin::TopicEventKind,
        /// The topic.
        topic: Arc<str>,
        /// The partition count asked for (created, or grown to).
        partitions: u32,
        /// Why it was refused, if it was; `REQUEST_TIMED_OUT` when no controller
        /// answered within the admin client's `default.api.timeout.ms`.
        error: Option<crate::protocol::ErrorCode>,
    },
    /// The active controller created a partition an administrator asked for
    /// (CreateTopics or CreatePartitions), with the replicas placed for it: KRaft at the
    /// commit of its `PartitionRecord`, ZooKeeper mode when it writes the partition's
    /// first state. The scenario's own topics have the replicas the scenario gave them,
    /// and no such event.
    PartitionCreated {
        /// The partition.
        tp: Arc<str>,
        /// Its replicas, preferred leader first.
        replicas: Vec<u32>,
    },
    /// A topic an administrator deleted left the metadata. KRaft: the active controller
    /// committed its `RemoveTopicRecord`; each broker drops its replicas when it applies
    /// the record ([`Event::PartitionDeleted`]). ZooKeeper mode: the controller queued
    /// the deletion and tells every broker to forget the partitions; each replica is
    /// dropped when its StopReplica arrives (a controller taking office mid-deletion
    /// queues it, and traces this, again).
    TopicDeleted {
        /// The topic.
        topic: Arc<str>,
    },
    /// A broker stopped hosting a partition of a deleted topic and deleted its log
    /// (Kafka's `ReplicaManager.stopPartitions` with `deleteLocalLog`).
    PartitionDeleted {
        /// The partition.
        tp: Arc<str>,
        /// The broker.
        broker: u32,
    },
    /// A KRaft broker found a log on its disk whose topic id is not in the metadata it
    /// caught up to (the topic was deleted, and perhaps created again under a new id,
    /// while the broker was down): it renamed the log `-stray` and keeps it, unread
    /// (`LogManager.isStrayKraftReplica`; Kafka 3.9 never deletes strays).
    PartitionStray {
        /// The partition, under the stray log's own topic.
        tp: Arc<str>,
        /// The broker.
        broker: u32,
        /// How many records the stray log holds.
        records: u64,
    },
    /// The load of a broker's request pipeline over one window of simulated time
    /// (`broker::pipeline`): traced by the broker's first activity after the window;
    /// a window without activity is not traced (the broker was idle).
    BrokerLoad {
        /// The broker.
        broker: u32,
        /// The window's start, in simulated milliseconds since the run began.
        window_start_ms: u64,
        /// The window's length, in milliseconds.
        window_ms: u64,
        /// Requests a handler took in the window.
        requests: u32,
        /// Their mean time in the request queue (from the end of their read, including
        /// any time the network thread was blocked on a full queue), in microseconds:
        /// Kafka's `RequestQueueTimeMs`.
        queue_time_mean_us: u64,
        /// Their longest time in the request queue, in microseconds.
        queue_time_max_us: u64,
        /// The most requests the request queue held.
        queue_depth_max: u32,
        /// How busy the request handlers were, in thousandths of their capacity
        /// (1000 = every handler busy the whole window).
        handler_busy_permille: u32,
        /// How busy the network threads were, in thousandths of their capacity.
        network_busy_permille: u32,
    },
    /// The load of a broker machine's network link over one window, traced beside
    /// [`Event::BrokerLoad`] when the link is limited (`nic_mbit_per_sec`).
    LinkLoad {
        /// The broker.
        broker: u32,
        /// The window's start, in simulated milliseconds since the run began.
        window_start_ms: u64,
        /// The window's length, in milliseconds.
        window_ms: u64,
        /// How busy the inbound side was (requests, and fetch responses to a follower),
        /// in thousandths of the window.
        inbound_busy_permille: u32,
        /// How busy the outbound side was (responses), in thousandths of the window.
        outbound_busy_permille: u32,
    },
    /// The load of a broker machine's disk over one window, traced beside
    /// [`Event::BrokerLoad`] when the disk is limited (`disk_mbyte_per_sec`).
    DiskLoad {
        /// The broker.
        broker: u32,
        /// The window's start, in simulated milliseconds since the run began.
        window_start_ms: u64,
        /// The window's length, in milliseconds.
        window_ms: u64,
        /// How busy the disk will be writing back what was appended in the window, in
        /// thousandths of the window (above 1000 is capped: a backlog builds).
        write_back_busy_permille: u32,
    },
}

/// Why a replica removed the tail of its log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, strum::Display, strum::IntoStaticStr)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum TruncationReason {
    /// A follower truncated to its own high watermark on becoming follower, before
    /// fetching: Kafka before 0.11 (`legacy` truncation, the cause of KIP-101's losses).
    HighWatermark,
    /// A follower truncated to where its log diverges from the leader's, found with
    /// OffsetsForLeaderEpoch (KIP-101, KIP-279).
    LeaderEpoch,
    /// A follower found itself ahead of its leader's log end (OFFSET_OUT_OF_RANGE on
    /// fetch) and cut back to it, as Kafka's `ReplicaFetcherThread` does.
    OutOfRange,
}

/// Why a replica's log start offset moved forward.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, strum::Display, strum::IntoStaticStr)]
pub enum LogStartReason {
    /// Its own retention check deleted segments older than `retention.ms`.
    #[serde(rename = "retention.ms")]
    #[strum(serialize = "retention.ms")]
    RetentionMs,
    /// Its own retention check deleted segments beyond `retention.bytes`.
    #[serde(rename = "retention.bytes")]
    #[strum(serialize = "retention.bytes")]
    RetentionBytes,
    /// A follower adopted its leader's log start offset, as fetch responses carry it.
    #[serde(rename = "leader-log-start")]
    #[strum(serialize = "leader-log-start")]
    LeaderLogStart,
}

impl LogStartReason {
    /// Whether the replica's own retention check deleted the records (rather than a
    /// follower following its leader).
    pub fn is_retention(self) -> bool {
        matches!(self, LogStartReason::RetentionMs | LogStartReason::RetentionBytes)
    }
}

/// Why the controller (re-)elected partition leaders.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, strum::Display, strum::IntoStaticStr)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum ElectionReason {
    /// The partition was created: its first replica leads in leader epoch 0.
    TopicCreation,
    /// A new controller took over and re-read every partition's state.
    ControllerFailover,
    /// A broker's session ended (it died or was cut off from the metastore).
    BrokerFailure,
    /// A broker (re)registered, so partitions without a leader may get one.
    BrokerStartup,
    /// A broker asked to shut down under control: its leaderships move to other ISR
    /// members before it exits (`controlled.shutdown.enable`).
    ControlledShutdown,
    /// The automatic leader rebalance gave leadership back to the preferred replica
    /// (`auto.leader.rebalance.enable`).
    PreferredReplica,
}

/// A phase of a run, in order. The runner traces the start of the safety and liveness
/// phases ([`Event::Phase`]); boot and shutdown are the runner's own.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, strum::Display, strum::IntoStaticStr,
)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum RunPhase {
    /// The cluster boots and elects its first leaders; no client runs yet.
    Boot,
    /// The workload runs and faults fire.
    Safety,
    /// Every fault is healed, every node restarted, and the cluster must recover and
    /// drain. Producers and standalone consumers have stopped; group members go on so
    /// that their groups can catch up.
    Liveness,
    /// The run is over: every node is about to be killed.
    Shutdown,
}

crate::hash_by_name!(TruncationReason, LogStartReason, ElectionReason, RunPhase);

/// A record as a log held it: `(offset, value, leader epoch)`.
pub type LogRecord = (u64, u64, u32);

impl Event {
    /// The partition and the `(offset, value, epoch)` records a replica's own retention
    /// check deleted (`log-start-advanced` for `retention.ms` or `retention.bytes`).
    /// Retention only deletes below the deleting replica's high watermark, so such
    /// records were committed; a follower merely following its leader's log start
    /// (`leader-log-start`) proves nothing by itself.
    pub fn deleted_by_retention(&self) -> Option<(&str, &[LogRecord])> {
        match self {
            Event::LogStartAdvanced { tp, removed, reason, .. } if reason.is_retention() => Some((tp, removed)),
            _ => None,
        }
    }
}

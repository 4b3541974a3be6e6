//! The broker: partition logs, replication (leader and follower replicas, LEO, high
//! watermark, ISR, leader epochs), follower fetching and truncation, and the produce
//! purgatory for acks=all. Talks only through `sim::net` and stores only through
//! `sim::disk`; emits trace events through its [`Tracer`].
//!
//! Files: `log` (one replica's log and epoch cache), `segment` (a log segment with its
//! time index), `retention` (which segments retention deletes, and the periodic check),
//! `partition` (replica state transitions), `produce` (the produce path and its acks=all
//! purgatory), `handlers` (the other client and controller requests), `fetcher` (followers),
//! `background` (ISR expiry, checkpoints, flushing), `server` (the broker process: it also
//! hosts the controller component and the metastore registration, as Kafka's ZooKeeper
//! mode does).

mod auto_create;
mod background;
pub mod coordinator;
mod deletion;
mod epoch_cache;
mod fetcher;
mod follower_index;
mod follower_progress;
pub(crate) mod handlers;
mod hosted;
pub mod kraft;
mod log;
mod partition;
pub mod pipeline;
pub(crate) mod produce;
mod producer_state;
mod purgatory;
mod retention;
mod segment;
mod server;
mod shutdown;
pub mod txn;
mod txn_index;
mod txn_verification;
mod txn_verify;

pub use auto_create::AutoCreateTopics;
pub use epoch_cache::EpochCache;
pub use follower_progress::IsrLagRule;
pub use log::{OpenTxnRecords, PartitionLog};
pub use partition::{Partition, StateNews};
pub use producer_state::{ProducerState, SequenceCheck};
pub use server::{run_broker, BrokerContext};
pub use shutdown::{ControlledShutdownConfig, StopSwitch};
pub use txn_index::TxnIndex;

use crate::history::Tracer;
use crate::plant::PlantedBug;
use crate::protocol::{
    BrokerEndpoint, BrokerId, FollowerRestart, PartitionState, Request, Response, RetentionConfig, TopicAssignment,
    TopicPartition, TruncationMode, UnknownProducerSequence,
};
use crate::sim::disk::Disk;
use crate::sim::net::{Addr, NodeNet};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// A broker's settings, with Kafka's meanings.
#[derive(Clone, Debug)]
pub struct BrokerConfig {
    /// `broker.id`.
    pub id: BrokerId,
    /// How followers truncate on leader change.
    pub truncation: TruncationMode,
    /// Which new leader epochs make a follower reconcile its log again (leader-epoch
    /// truncation only: legacy truncation restarts on a leader change, as 0.10 did).
    pub follower_restart: FollowerRestart,
    /// The topics in the cluster.
    pub topics: Vec<TopicAssignment>,
    /// The settings of a topic an administrator creates while the cluster runs: the
    /// cluster's defaults (`min.insync.replicas`, `unclean.leader.election.enable`,
    /// `log.retention.*`), which a topic without overrides takes in Kafka.
    pub topic_defaults: TopicAssignment,
    /// Whether administrators create or grow topics while the cluster runs (the
    /// scenario's topic events): a ZooKeeper-mode controller then watches
    /// `/brokers/topics` (see `controller::ControllerContext::topic_watches`).
    pub topic_watches: bool,
    /// `replica.lag.time.max.ms`.
    pub replica_lag_time_max_ms: u64,
    /// Whether an ISR member whose log end equals the leader's stays in sync however
    /// long ago it last caught up (Kafka 2.1 onwards, KAFKA-7152; `false` before: a
    /// follower that has not fetched for the lag time leaves the ISR even when the
    /// partition is idle and it has every record).
    pub replica_caught_up_at_leader_log_end: bool,
    /// Whether a leader holds its high watermark while the ISR is under the min ISR
    /// (Kafka 3.7 onwards, KAFKA-15583; see [`partition::HighWatermarkRule`]).
    pub high_watermark_holds_under_min_isr: bool,
    /// `zookeeper.session.timeout.ms`.
    pub session_timeout_ms: u64,
    /// `replica.fetch.wait.max.ms`.
    pub replica_fetch_wait_max_ms: u64,
    /// `replica.fetch.max.bytes`.
    pub replica_fetch_max_bytes: u64,
    /// `replica.fetch.backoff.ms`: the pause after a failed fetch.
    pub replica_fetch_backoff_ms: u64,
    /// `replica.high.watermark.checkpoint.interval.ms`.
    pub high_watermark_checkpoint_interval_ms: u64,
    /// `flush.messages`: fsync the log after this many records (never if `None`).
    pub flush_messages: Option<u64>,
    /// `flush.ms`: fsync every log this often (never if `None`).
    pub flush_ms: Option<u64>,
    /// `log.retention.check.interval.ms`: how often retention runs, in milliseconds.
    pub log_retention_check_interval_ms: u64,
    /// `controller.socket.timeout.ms` / `request.timeout.ms` for broker-to-broker calls.
    pub inter_broker_timeout_ms: u64,
    /// The metastore's address.
    pub metastore: Addr,
    /// What a partition leader answers an idempotent producer it has no state for whose
    /// batch does not start at sequence 0: refused (Kafka up to 2.4) or appended (2.5
    /// and later, KIP-360), see [`UnknownProducerSequence`].
    pub unknown_producer_sequence: UnknownProducerSequence,
    /// The group coordinator's settings (`group.*.session.timeout.ms`,
    /// `group.initial.rebalance.delay.ms`).
    pub group_coordinator: coordinator::CoordinatorConfig,
    /// `controlled.shutdown.*`: what a clean shutdown asks of the controller first.
    pub controlled_shutdown: ControlledShutdownConfig,
    /// `auto.leader.rebalance.enable` with `leader.imbalance.*`: the controller's
    /// periodic preferred-leader election (`None` when disabled).
    pub auto_rebalance: Option<crate::controller::AutoRebalance>,
    /// `delete.topic.enable` (default true): whether DeleteTopics may delete, checked by
    /// the ZooKeeper-mode controller (a KRaft controller has its own setting).
    pub delete_topic_enable: bool,
    /// The bug planted in this broker (and its controller component), if any: see
    /// [`crate::plant`]. `None` in every real configuration.
    pub plant: Option<PlantedBug>,
    /// In a KRaft cluster, the broker's quorum and lifecycle settings; `None` in
    /// ZooKeeper mode.
    pub kraft: Option<kraft::KraftBrokerConfig>,
    /// The transaction coordinator's settings (`transaction.*`).
    pub txn: txn::TxnCoordinatorConfig,
    /// `auto.create.topics.enable` with `num.partitions` and
    /// `default.replication.factor`: what a topic this broker creates for a metadata
    /// request looks like (`None` when auto-creation is off).
    pub auto_create_topics: Option<AutoCreateTopics>,
    /// `num.network.threads`, `num.io.threads` and `queued.max.requests`: the request
    /// pipeline's threads and queue.
    pub pipeline: pipeline::PipelineSettings,
    /// Whether follower fetches carry topic ids (Fetch v13, Kafka 3.1 onwards, KIP-516):
    /// a leader then refuses a fetch for another topic of the same name.
    pub fetch_topic_ids: bool,
}

impl BrokerConfig {
    /// The topic settings for a partition, if the topic exists.
    pub fn topic(&self, name: &str) -> Option<&TopicAssignment> {
        self.topics.iter().find(|t| t.name == name)
    }

    /// A topic's settings: its own, or the cluster's defaults for a topic created while
    /// the cluster runs.
    fn settings_of(&self, topic: &str) -> &TopicAssignment {
        self.topic(topic).unwrap_or(&self.topic_defaults)
    }

    /// A topic's `min.insync.replicas` (the cluster's for a topic created at run time).
    pub fn min_insync_replicas(&self, topic: &str) -> usize {
        self.settings_of(topic).min_insync_replicas as usize
    }

    /// When a leader of a partition of `topic` may move its high watermark.
    pub fn high_watermark_rule(&self, topic: &str) -> partition::HighWatermarkRule {
        partition::HighWatermarkRule {
            min_insync_replicas: self.min_insync_replicas(topic),
            hold_under_min_isr: self.high_watermark_holds_under_min_isr,
        }
    }

    /// The retention settings of a topic: its own, or the cluster's for a topic created
    /// at run time. `__consumer_offsets` is compacted in Kafka
    /// (`cleanup.policy=compact`), never deleted by age or size, so only its segment
    /// size applies.
    pub fn retention_for(&self, topic: &str) -> RetentionConfig {
        let config = self.settings_of(topic).retention;
        if topic == coordinator::OFFSETS_TOPIC {
            return RetentionConfig { retention_ms: None, retention_bytes: None, ..config };
        }
        config
    }

    /// Whether any topic deviates from Kafka's default retention and segment settings.
    /// With the defaults no simulated run can delete anything (nothing fills a 1 GiB
    /// segment, and a run is far shorter than 7 days), so the retention check is not
    /// started: runs that do not use retention keep exactly the schedule, and trace
    /// hashes, they had before retention existed.
    pub fn uses_retention(&self) -> bool {
        self.topics.iter().any(|t| t.retention != RetentionConfig::default())
    }

    /// When an ISR member counts as caught up.
    pub fn isr_lag_rule(&self) -> IsrLagRule {
        IsrLagRule {
            max_lag: std::time::Duration::from_millis(self.replica_lag_time_max_ms),
            caught_up_at_leader_log_end: self.replica_caught_up_at_leader_log_end,
        }
    }

    /// Whether `bug` is planted in this broker.
    pub fn planted(&self, bug: PlantedBug) -> bool {
        crate::plant::is_planted(self.plant, bug)
    }

    /// The host name of a broker on the simulated network.
    pub fn host_of(id: BrokerId) -> String {
        crate::protocol::broker_name(id.0)
    }
}

/// What a broker learned from the controller about the cluster.
#[derive(Clone, Debug, Default)]
pub struct MetadataCache {
    /// Live brokers by id.
    pub live_brokers: BTreeMap<BrokerId, BrokerEndpoint>,
    /// Every partition's latest known state. Changed only through
    /// [`ReplicaState::cache_partition_state`] and [`ReplicaState::forget_partition_state`],
    /// which keep the fetches' change record.
    pub partitions: BTreeMap<TopicPartition, PartitionState>,
    /// The active controller, as far as this broker knows.
    pub controller: Option<BrokerId>,
    /// The highest controller epoch seen; older controllers are refused.
    pub controller_epoch: u64,
    /// ZooKeeper mode: this broker's epoch, the session owning its registration (Kafka
    /// uses the registration znode's czxid), once registered. An AlterIsr carries it.
    pub zk_broker_epoch: Option<u64>,
}

impl MetadataCache {
    /// Whether the cache holds any partition of `topic` (Kafka's
    /// `MetadataCache.contains(topic)`): false for a deleted topic.
    pub fn knows_topic(&self, topic: &str) -> bool {
        TopicPartition::of_topic(&self.partitions, topic).next().is_some()
    }
}

/// The broker's replica state, shared by its request handlers and background tasks.
pub struct ReplicaState {
    /// This broker.
    pub id: BrokerId,
    /// Replicas hosted here, with a record of which ones may have changed.
    pub partitions: hosted::HostedPartitions,
    /// The metadata cache.
    pub metadata: MetadataCache,
    /// Which hosted replicas follow which leader, for the fetchers.
    pub followers: follower_index::FollowerIndex,
}

impl ReplicaState {
    /// Caches a partition's latest state from the controller. A fetch of the partition
    /// reads its topic id from the cache, so this counts as a change to it (see
    /// [`hosted::HostedPartitions`]); change the cache's partitions only through here
    /// and [`ReplicaState::forget_partition_state`].
    pub fn cache_partition_state(&mut self, partition: PartitionState) {
        // A fetch reads only the cached topic id.
        let known = self.metadata.partitions.get(&partition.tp);
        if known.is_none_or(|known| known.topic_id != partition.topic_id) {
            self.partitions.note_changed(&partition.tp);
        }
        self.metadata.partitions.insert(partition.tp.clone(), partition);
    }

    /// Drops a deleted partition from the metadata cache; whether it was cached.
    pub fn forget_partition_state(&mut self, tp: &TopicPartition) -> bool {
        let forgotten = self.metadata.partitions.remove(tp).is_some();
        if forgotten {
            self.partitions.note_changed(tp);
        }
        forgotten
    }

    /// Whether appending the given number of records to any of these partitions here
    /// would reach `flush.messages` ([`Partition::flush_due_after`]); partitions not
    /// hosted here and appends without records do not count.
    pub fn any_flush_due<'a>(
        &self,
        appends: impl IntoIterator<Item = (&'a TopicPartition, u64)>,
        flush_messages: u64,
    ) -> bool {
        appends.into_iter().any(|(tp, records)| {
            records > 0 && self.partitions.get(tp).is_some_and(|p| p.flush_due_after(records, Some(flush_messages)))
        })
    }
}

/// Everything the broker's tasks share.
pub struct Shared {
    /// Settings.
    pub config: BrokerConfig,
    state: Mutex<ReplicaState>,
    /// The broker's network handle.
    pub net: NodeNet<Request, Response>,
    /// The broker's disk.
    pub disk: Disk,
    /// The broker's trace.
    pub tracer: Tracer,
    /// The request pipeline: network threads, request queue and handlers.
    pub pipeline: pipeline::RequestPipeline,
    /// The leaders this broker runs a fetcher for.
    pub fetchers: fetcher::Fetchers,
    /// The next producer id to hand out (InitProducerId), persisted durably.
    pub next_producer_id: Mutex<i64>,
    /// The group coordinator's state.
    pub coordinator: coordinator::Coordinator,
    /// The transaction coordinator's state.
    pub txn_coordinator: txn::Coordinator,
    /// What the broker knows of the KRaft cluster (unused in ZooKeeper mode).
    kraft: Mutex<kraft::KraftView>,
    /// KRaft: the topics this broker asked the controller to auto-create and has no
    /// answer for yet (`AutoTopicCreationManager.inflightTopics`).
    pub auto_create_in_flight: Mutex<std::collections::BTreeSet<String>>,
}

impl Shared {
    /// Locks the replica state. Never held across an await.
    pub fn lock(&self) -> MutexGuard<'_, ReplicaState> {
        self.state.lock().expect("broker state poisoned")
    }

    /// Wakes the fetch long-polls and acks=all produce requests waiting for the partitions
    /// changed since the last wake-up (see [`purgatory`]). Call it after a change, without
    /// holding [`Shared::lock`].
    pub fn wake_watchers(&self) {
        self.lock().partitions.wake_watchers();
    }

    /// Locks the broker's view of the KRaft cluster. Never held across an await, nor
    /// while [`Shared::lock`] is held.
    pub fn kraft(&self) -> MutexGuard<'_, kraft::KraftView> {
        self.kraft.lock().expect("KRaft view poisoned")
    }

    /// This broker's id.
    pub fn id(&self) -> BrokerId {
        self.config.id
    }
}

/// A broker's shared state handle.
pub type SharedBroker = Arc<Shared>;

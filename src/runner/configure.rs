//! The one mapping from a scenario to the system's configuration: what each broker, the
//! network, each producer, each consumer and each group member is configured with.
//! Every setting a scenario file names reaches the system here and nowhere else.

use super::RunOptions;
use crate::broker::coordinator::consumer_group::ConsumerGroupSettings;
use crate::broker::coordinator::server_assignor::ExtraPartitionRule;
use crate::broker::coordinator::{CoordinatorConfig, OFFSETS_TOPIC};
use crate::broker::kraft::KraftBrokerConfig;
use crate::broker::pipeline::PipelineSettings;
use crate::broker::txn::{TxnCoordinatorConfig, TRANSACTION_TOPIC};
use crate::broker::{AutoCreateTopics, BrokerConfig, ControlledShutdownConfig};
use crate::client::consumer::ConsumerConfig;
use crate::client::group::GroupConfig;
use crate::client::producer::ProducerConfig;
use crate::controller::AutoRebalance;
use crate::kraft::ControllerSettings;
use crate::profile::KafkaVersion;
use crate::protocol::{
    broker_names, BrokerId, IsolationLevel, MetadataMode, NodeId, NodeName, RetentionConfig, TopicAssignment, METASTORE,
};
use crate::raft::cluster_control::{ReplicationSettings, TopicPolicy};
use crate::raft::QuorumConfig;
use crate::scenario::{CommitPolicy, ConsumerSpec, Guarantee, PipelineSpec, ProducerSpec, Scenario, TopicSettings};
use crate::sim::disk::WriteBack;
use crate::sim::net::{Addr, NetConfig};
use crate::workload;
use std::collections::BTreeMap;

/// The administrator's replica assignment: partition `p` of a topic with replication
/// factor `r` on `n` brokers gets brokers `p+1, p+2, ... p+r` (mod n), so leaders spread.
pub fn replica_assignment(partitions: u32, replication_factor: u32, brokers: u32) -> Vec<Vec<BrokerId>> {
    (0..partitions).map(|p| (0..replication_factor).map(|i| BrokerId((p + i) % brokers + 1)).collect()).collect()
}

/// A topic an administrator created while the run went on: the cluster's topic settings,
/// no replicas yet (the controller places them; the caller fills them in).
pub(super) fn new_topic_assignment(scenario: &Scenario, name: &str) -> TopicAssignment {
    with_settings(scenario, name.to_string(), Vec::new(), &TopicSettings::default())
}

/// A topic's assignment with its overrides of the cluster's settings (`[topics.config]`).
fn with_settings(
    scenario: &Scenario,
    name: String,
    replicas: Vec<Vec<BrokerId>>,
    config: &TopicSettings,
) -> TopicAssignment {
    let defaults = &scenario.cluster.config;
    TopicAssignment {
        name,
        replicas,
        min_insync_replicas: config.min_insync_replicas.unwrap_or(defaults.min_insync_replicas),
        unclean_leader_election_enable: config
            .unclean_leader_election_enable
            .unwrap_or(defaults.unclean_leader_election_enable),
        retention: RetentionConfig {
            retention_ms: config.retention_ms.unwrap_or(defaults.log_retention_ms),
            retention_bytes: config.retention_bytes.unwrap_or(defaults.log_retention_bytes),
            segment_bytes: config.segment_bytes.unwrap_or(defaults.log_segment_bytes),
        },
    }
}

/// Every topic of the scenario with its assignment and topic-level settings, and
/// `__consumer_offsets` when a consumer group needs it and `__transaction_state` when a
/// transactional producer does (Kafka creates them on the first FindCoordinator; here
/// they exist from the start, which only saves the wait).
pub fn topic_assignments(scenario: &Scenario) -> Vec<TopicAssignment> {
    let defaults = &scenario.cluster.config;
    let mut topics: Vec<TopicAssignment> = scenario
        .topics
        .iter()
        .map(|t| {
            let replicas = replica_assignment(t.partitions, t.replication_factor, scenario.cluster.brokers);
            with_settings(scenario, t.name.clone(), replicas, &t.config)
        })
        .collect();
    let groups = scenario.consumers.iter().any(|c| c.group.is_some());
    if groups || !scenario.pipelines.is_empty() || !scenario.delay_queues.is_empty() {
        topics.push(TopicAssignment {
            name: OFFSETS_TOPIC.to_string(),
            replicas: replica_assignment(
                defaults.offsets_topic_num_partitions,
                defaults.offsets_topic_replication_factor,
                scenario.cluster.brokers,
            ),
            min_insync_replicas: defaults.min_insync_replicas,
            unclean_leader_election_enable: false,
            // Compacted in Kafka, with its own `offsets.topic.segment.bytes`: the
            // cluster's retention settings do not apply (see `BrokerConfig::retention_for`).
            retention: RetentionConfig::default(),
        });
    }
    let exactly_once = scenario.pipelines.iter().any(|p| p.guarantee == Guarantee::ExactlyOnce)
        || scenario.delay_queues.iter().any(|q| q.guarantee == Guarantee::ExactlyOnce);
    if exactly_once || scenario.producers.iter().any(|p| p.config.transactional_id.is_some()) {
        topics.push(TopicAssignment {
            name: TRANSACTION_TOPIC.to_string(),
            replicas: replica_assignment(
                defaults.transaction_state_log_num_partitions,
                defaults.transaction_state_log_replication_factor,
                scenario.cluster.brokers,
            ),
            min_insync_replicas: defaults.transaction_state_log_min_isr,
            unclean_leader_election_enable: false,
            // Compacted in Kafka, like `__consumer_offsets`.
            retention: RetentionConfig::default(),
        });
    }
    topics
}

/// Broker `id`'s configuration.
pub(super) fn broker_config(
    scenario: &Scenario,
    options: &RunOptions,
    id: u32,
    topics: &[TopicAssignment],
) -> BrokerConfig {
    let c = &scenario.cluster.config;
    BrokerConfig {
        id: BrokerId(id),
        truncation: scenario.cluster.truncation,
        follower_restart: scenario.cluster.follower_restart,
        topics: topics.to_vec(),
        topic_defaults: new_topic_assignment(scenario, ""),
        topic_watches: scenario.events.iter().any(|e| e.action.request().is_some()),
        replica_lag_time_max_ms: c.replica_lag_time_max_ms,
        replica_caught_up_at_leader_log_end: scenario.cluster.caught_up_at_leader_log_end,
        // `Partition.maybeIncrementLeaderHW` returns early under the min ISR from 3.7
        // (KAFKA-15583), in both metadata modes.
        high_watermark_holds_under_min_isr: scenario.profile.version >= KafkaVersion::new(3, 7, 0),
        session_timeout_ms: c.zookeeper_session_timeout_ms,
        replica_fetch_wait_max_ms: c.replica_fetch_wait_max_ms,
        replica_fetch_max_bytes: c.replica_fetch_max_bytes,
        replica_fetch_backoff_ms: c.replica_fetch_backoff_ms,
        high_watermark_checkpoint_interval_ms: c.replica_high_watermark_checkpoint_interval_ms,
        flush_messages: c.flush_messages,
        flush_ms: c.flush_ms,
        log_retention_check_interval_ms: c.log_retention_check_interval_ms,
        inter_broker_timeout_ms: 30_000,
        metastore: Addr::new(METASTORE),
        unknown_producer_sequence: scenario.cluster.unknown_producer_sequence,
        group_coordinator: CoordinatorConfig {
            group_min_session_timeout_ms: c.group_min_session_timeout_ms,
            group_max_session_timeout_ms: c.group_max_session_timeout_ms,
            group_initial_rebalance_delay_ms: c.group_initial_rebalance_delay_ms,
            // The new group coordinator runs only in KRaft mode.
            consumer_protocol_enabled: scenario.cluster.metadata == crate::protocol::MetadataMode::Kraft
                && c.group_consumer.rebalance_protocols.contains(&crate::protocol::GroupProtocol::Consumer),
            consumer: ConsumerGroupSettings {
                session_timeout_ms: c.group_consumer.session_timeout_ms,
                heartbeat_interval_ms: c.group_consumer.heartbeat_interval_ms,
                assignors: c.group_consumer.assignors.clone(),
                // KAFKA-19233 was fixed in Kafka 4.2.0 (apache/kafka#21305).
                fence_epoch_zero_rejoin: scenario.profile.version < KafkaVersion::new(4, 2, 0),
                // KAFKA-18688 came with Kafka 4.1.
                uniform_extra_partitions: if scenario.profile.version < KafkaVersion::new(4, 1, 0) {
                    ExtraPartitionRule::FirstMembers
                } else {
                    ExtraPartitionRule::GiveBack
                },
            },
        },
        controlled_shutdown: ControlledShutdownConfig {
            enable: c.controlled_shutdown_enable,
            max_retries: c.controlled_shutdown_max_retries,
            retry_backoff_ms: c.controlled_shutdown_retry_backoff_ms,
        },
        auto_rebalance: c.auto_leader_rebalance_enable.then_some(AutoRebalance {
            check_interval_ms: c.leader_imbalance_check_interval_seconds.saturating_mul(1_000),
            imbalance_percentage: c.leader_imbalance_per_broker_percentage,
        }),
        plant: options.plant,
        delete_topic_enable: c.delete_topic_enable,
        txn: TxnCoordinatorConfig {
            transaction_max_timeout_ms: c.transaction_max_timeout_ms,
            abort_timed_out_interval_ms: c.transaction_abort_timed_out_transaction_cleanup_interval_ms,
            partition_verification: c.transaction_partition_verification_enable,
            transaction_version: c.transaction_version,
            add_partitions_retry_backoff_ms: c.add_partitions_to_txn_retry_backoff_ms,
            // Kafka's `retryTimeoutMs`: the maximum, capped by `request.timeout.ms` (30 s).
            add_partitions_retry_timeout_ms: c.add_partitions_to_txn_retry_backoff_max_ms.min(30_000),
        },
        kraft: (scenario.cluster.metadata == MetadataMode::Kraft).then(|| KraftBrokerConfig {
            voters: controller_ids(scenario),
            quorum: quorum_config(scenario, options),
            heartbeat_interval_ms: c.broker_heartbeat_interval_ms,
            session_timeout_ms: c.broker_session_timeout_ms,
            // Fetch v15 and AlterPartition v3 came with metadata version 3.5-IV1 (KIP-903).
            isr_broker_epochs: scenario.profile.version >= KafkaVersion::new(3, 5, 0),
        }),
        fetch_topic_ids: fetches_carry_topic_ids(scenario),
        pipeline: PipelineSettings {
            network_threads: c.num_network_threads,
            io_threads: c.num_io_threads,
            queued_max_requests: c.queued_max_requests,
        },
        auto_create_topics: c.auto_create_topics_enable.then_some(AutoCreateTopics {
            num_partitions: c.num_partitions,
            default_replication_factor: c.default_replication_factor,
        }),
    }
}

/// Whether fetches name topics by id (Fetch v13 and the inter-broker protocol 3.1,
/// KAFKA-10580, KIP-516): consumers and followers of Kafka 3.1 onwards.
fn fetches_carry_topic_ids(scenario: &Scenario) -> bool {
    scenario.profile.version >= KafkaVersion::new(3, 1, 0)
}

/// Where the administrator sends topic changes: the controllers in KRaft mode, the
/// brokers in ZooKeeper mode (only the active controller's broker answers).
pub(super) fn admin_targets(scenario: &Scenario) -> Vec<Addr> {
    match scenario.cluster.metadata {
        MetadataMode::Kraft => {
            controller_ids(scenario).into_iter().map(|id| Addr::new(&NodeName::of_kraft_node(id).to_string())).collect()
        }
        _ => (1..=scenario.cluster.brokers).map(|id| Addr::new(&BrokerConfig::host_of(BrokerId(id)))).collect(),
    }
}

/// The KRaft controllers' node ids, `controller-1` first (none in ZooKeeper mode).
pub(super) fn controller_ids(scenario: &Scenario) -> Vec<NodeId> {
    (1..=scenario.cluster.controllers).filter_map(|n| NodeName::controller(n).kraft_node_id()).collect()
}

/// `controller.quorum.*`, pre-vote, and the planted bug (whose Raft branches only a voter
/// reaches: an observer neither votes nor leads).
fn quorum_config(scenario: &Scenario, options: &RunOptions) -> QuorumConfig {
    let c = &scenario.cluster.config;
    QuorumConfig {
        election_timeout_ms: c.controller_quorum_election_timeout_ms,
        fetch_timeout_ms: c.controller_quorum_fetch_timeout_ms,
        election_backoff_max_ms: c.controller_quorum_election_backoff_max_ms,
        request_timeout_ms: c.controller_quorum_request_timeout_ms,
        pre_vote: scenario.cluster.pre_vote,
        plant: options.plant,
        ..QuorumConfig::default()
    }
}

/// KRaft controller `n`'s configuration (`controller-n`).
pub(super) fn controller_config(
    scenario: &Scenario,
    options: &RunOptions,
    topics: &[TopicAssignment],
) -> (QuorumConfig, ControllerSettings) {
    let c = &scenario.cluster.config;
    let settings = ControllerSettings {
        broker_session_timeout_ms: c.broker_session_timeout_ms,
        replication: ReplicationSettings {
            eligible_leader_replicas: c.eligible_leader_replicas_enable,
            // The cluster runs its release's metadata version; from 3.6-IV0 an ISR
            // shrink no longer bumps the leader epoch
            // (MetadataVersion.isLeaderEpochBumpRequiredOnIsrShrink, KAFKA-15021).
            bump_leader_epoch_on_isr_shrink: scenario.profile.version < KafkaVersion::new(3, 6, 0),
        },
        default_topic: TopicPolicy {
            min_insync_replicas: c.min_insync_replicas as usize,
            unclean_leader_election: c.unclean_leader_election_enable,
        },
        topics: topics.to_vec(),
        leader_imbalance_check_interval_ms: c
            .auto_leader_rebalance_enable
            .then(|| c.leader_imbalance_check_interval_seconds.saturating_mul(1_000)),
        max_idle_interval_ms: (c.metadata_max_idle_interval_ms > 0).then_some(c.metadata_max_idle_interval_ms),
        delete_topic_enable: c.delete_topic_enable,
    };
    (quorum_config(scenario, options), settings)
}

/// The page-cache write-back of every broker's machine (`[cluster.os]`).
pub(super) fn write_back(scenario: &Scenario) -> WriteBack {
    let os = &scenario.cluster.os;
    WriteBack { expire_ms: os.dirty_expire_centisecs * 10, interval_ms: os.dirty_writeback_centisecs * 10 }
}

/// The network's latency and loss.
pub(super) fn net_config(scenario: &Scenario) -> NetConfig {
    NetConfig {
        latency_ms_min: scenario.network.latency_ms_min,
        latency_ms_max: scenario.network.latency_ms_max,
        packet_loss_rate: scenario.network.packet_loss_rate,
        ..NetConfig::default()
    }
}

/// The brokers clients bootstrap from.
pub(super) fn bootstrap(scenario: &Scenario) -> Vec<Addr> {
    broker_names(scenario.cluster.brokers).iter().map(|name| Addr::new(name)).collect()
}

/// The id (`transactional.id`, `group.instance.id`) process `index` (from 0) of an entry
/// setting `id` runs with: one per process, as two processes sharing one would fence
/// each other.
fn process_instance_id(id: &str, index: u32) -> String {
    format!("{id}-{index}")
}

/// Each transactional producer process's `transactional.id`, by node name (for the
/// fault target `"the transaction coordinator of producer-N"`).
pub(super) fn transactional_ids(scenario: &Scenario) -> BTreeMap<String, String> {
    let mut ids = BTreeMap::new();
    let mut number = 0;
    for spec in &scenario.producers {
        for index in 0..spec.count {
            number += 1;
            if let Some(id) = &spec.config.transactional_id {
                ids.insert(NodeName::producer(number).to_string(), process_instance_id(id, index));
            }
        }
    }
    ids
}

/// Whether the scenario's clients keep the newest leader epoch they saw per partition
/// and ignore older answers (`Metadata.lastSeenLeaderEpochs`, KAFKA-7738, Kafka 2.2).
fn rejects_stale_metadata(scenario: &Scenario) -> bool {
    scenario.profile.version >= KafkaVersion::new(2, 2, 0)
}

/// Producer `index` (from 0) of the entry `spec`'s client settings; a transactional
/// producer's `transactional.id` is the entry's with `-index` appended.
pub(super) fn producer_config(
    spec: &ProducerSpec,
    index: u32,
    bootstrap: Vec<Addr>,
    scenario: &Scenario,
) -> ProducerConfig {
    let c = &spec.config;
    ProducerConfig {
        bootstrap,
        acks: c.acks,
        retries: c.retries,
        request_timeout_ms: c.request_timeout_ms,
        retry_backoff_ms: c.retry_backoff_ms,
        retry_backoff_max_ms: c.retry_backoff_max_ms,
        connections: c.connections,
        rejects_stale_metadata: rejects_stale_metadata(scenario),
        delivery_timeout_ms: c.delivery_timeout_ms,
        batch_size: c.batch_size,
        linger_ms: c.linger_ms,
        max_in_flight_requests_per_connection: c.max_in_flight_requests_per_connection,
        metadata_max_age_ms: c.metadata_max_age_ms,
        max_block_ms: 60_000,
        enable_idempotence: c.enable_idempotence,
        idempotent_epoch_bump: spec.idempotent_epoch_bump,
        invalid_epoch_abortable: spec.invalid_epoch_abortable,
        partitioner: spec.partitioner,
        partitioner_adaptive_partitioning_enable: c.partitioner_adaptive_partitioning_enable,
        partitioner_availability_timeout_ms: c.partitioner_availability_timeout_ms,
        transactional_id: c.transactional_id.as_ref().map(|id| process_instance_id(id, index)),
        transaction_timeout_ms: c.transaction_timeout_ms,
        plant: None,
    }
}

/// The `isolation.level` the final drain reads at: the consumers' when they all read
/// `read_committed` (a transactional application's readers), `read_committed` too when
/// there is no consumer but a transactional producer (as Jepsen's final reads use the
/// test's consumer settings), else `read_uncommitted`.
pub(super) fn drain_isolation(scenario: &Scenario) -> IsolationLevel {
    // A pipeline's (or a delay queue's) output is read as its downstream readers would
    // read it: committed.
    if !scenario.pipelines.is_empty() || !scenario.delay_queues.is_empty() {
        return IsolationLevel::ReadCommitted;
    }
    let committed = |c: &ConsumerSpec| c.config.isolation_level == IsolationLevel::ReadCommitted;
    let transactional = scenario.producers.iter().any(|p| p.config.transactional_id.is_some());
    match scenario.consumers.is_empty() {
        true if transactional => IsolationLevel::ReadCommitted,
        false if scenario.consumers.iter().all(committed) => IsolationLevel::ReadCommitted,
        _ => IsolationLevel::ReadUncommitted,
    }
}

/// A pipeline instance's client settings: its consumer's and producer's as the
/// equivalent `[[consumers]]` and `[[producers]]` entries would have them, and, when
/// exactly-once, the instance's own `transactional.id`, `GROUP-pipeline-N` (one per
/// instance, stable across its restarts: KIP-447's producer per instance).
pub(super) fn pipeline_configs(
    spec: &PipelineSpec,
    index: u32,
    name: &str,
    bootstrap: Vec<Addr>,
    scenario: &Scenario,
) -> workload::PipelineConfigs {
    let mut producer = producer_config(&spec.producer, index, bootstrap.clone(), scenario);
    producer.transactional_id = match spec.guarantee {
        Guarantee::ExactlyOnce => Some(format!("{}-{name}", spec.group)),
        Guarantee::AtLeastOnce => None,
    };
    workload::PipelineConfigs {
        consumer: consumer_config(&spec.consumer, bootstrap, scenario),
        group: group_config(&spec.consumer, name, index),
        producer,
    }
}

/// A consumer's client settings.
pub(super) fn consumer_config(spec: &ConsumerSpec, bootstrap: Vec<Addr>, scenario: &Scenario) -> ConsumerConfig {
    ConsumerConfig {
        fetch_topic_ids: fetches_carry_topic_ids(scenario),
        allow_auto_create_topics: spec.config.allow_auto_create_topics,
        bootstrap,
        auto_offset_reset: spec.config.auto_offset_reset,
        fetch_max_wait_ms: spec.config.fetch_max_wait_ms,
        max_poll_records: spec.config.max_poll_records as usize,
        request_timeout_ms: 30_000,
        metadata_max_age_ms: spec.config.metadata_max_age_ms,
        // Kafka's default: consumers do not set `retry.backoff.ms` in scenarios.
        retry_backoff_ms: 100,
        retry_backoff_max_ms: spec.config.retry_backoff_max_ms,
        rejects_stale_metadata: rejects_stale_metadata(scenario),
        offset_validation: spec.config.offset_validation,
        isolation_level: spec.config.isolation_level,
        connections: spec.config.connections,
    }
}

/// The group settings of member `index` (from 0) of the entry `spec`; `client_id` is its
/// node name. A static member's `group.instance.id` is the entry's with `-index`
/// appended: one per process, the same after a restart (as a pod's name).
pub(super) fn group_config(spec: &ConsumerSpec, client_id: &str, index: u32) -> GroupConfig {
    let c = &spec.config;
    GroupConfig {
        group_id: spec.group.clone().unwrap_or_default(),
        client_id: client_id.to_string(),
        group_instance_id: c.group_instance_id.as_ref().map(|id| process_instance_id(id, index)),
        session_timeout_ms: c.session_timeout_ms,
        max_poll_interval_ms: c.max_poll_interval_ms,
        heartbeat_interval_ms: c.heartbeat_interval_ms,
        strategy: c.partition_assignment_strategy,
        enable_auto_commit: spec.commit == CommitPolicy::Auto,
        auto_commit_interval_ms: c.auto_commit_interval_ms,
        retry_backoff_ms: 100,
        retry_backoff_max_ms: c.retry_backoff_max_ms,
        default_api_timeout_ms: c.default_api_timeout_ms,
        sticky_algorithm: spec.sticky_assignor,
        group_protocol: c.group_protocol,
        remote_assignor: c.group_remote_assignor,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::parse;
    use std::path::Path;

    #[test]
    fn a_topic_created_at_run_time_takes_the_clusters_topic_defaults() {
        let text = r#"
seeds = [1]
duration = "10s"
[cluster]
brokers = 3
metadata = "kraft"
[cluster.config]
"min.insync.replicas" = 2
"log.retention.ms" = 60000
[[topics]]
name = "orders"
partitions = 1
"replication.factor" = 3
[topics.config]
"min.insync.replicas" = 3
"#;
        let scenario = parse(text, Path::new("t.toml")).expect("parses");
        let topics = topic_assignments(&scenario);
        let broker = broker_config(&scenario, &RunOptions::default(), 1, &topics);
        assert_eq!(broker.min_insync_replicas("orders"), 3, "the topic's own setting");
        assert_eq!(broker.min_insync_replicas("payments"), 2, "the cluster's min.insync.replicas");
        assert_eq!(broker.retention_for("payments").retention_ms, Some(60_000));
    }
}

//! Topics created and grown while a ZooKeeper-mode cluster runs: where their replica
//! assignments live in the metastore and how the administrator's request places them.
//!
//! Kafka 3.9's ZooKeeper path: the active controller's broker answers CreateTopics and
//! CreatePartitions (`KafkaApis.handleCreateTopicsRequest` refuses with NOT_CONTROLLER
//! elsewhere); `ZkAdminManager` places the replicas over the live brokers
//! (`AdminUtils.assignReplicasToBrokers`, rack-unaware) and writes the assignment to
//! `/brokers/topics/<topic>` (`AdminZkClient.createTopicWithAssignment`, `addPartitions`).
//! The controller learns it from its watches: `TopicChangeHandler` on the children of
//! `/brokers/topics`, `PartitionModificationsHandler` on each topic's node, and starts
//! the new partitions (`onNewPartitionCreation`).
//!
//! Here: the assignment's znode format, the placement, and the active controller's part
//! (the request, the reads, the writes and the watches' handling).

use super::{ActiveController, Resign};
use crate::metastore::{MetaClient, MetaClientError};
use crate::protocol::kraft::TopicAdmin;
use crate::protocol::{BrokerId, ErrorCode, MetaError, MetaOp, TopicAssignment, TopicId};
use std::collections::{BTreeMap, BTreeSet};

/// The parent of every topic's assignment node (`TopicsZNode`).
pub const TOPICS_PATH: &str = "/brokers/topics";

/// The node of a topic's replica assignment (`TopicZNode.path`).
pub fn topic_path(topic: &str) -> String {
    format!("{TOPICS_PATH}/{topic}")
}

/// The topic name of a node directly under [`TOPICS_PATH`], if `path` is one.
pub fn topic_of_path(path: &str) -> Option<&str> {
    path.strip_prefix(TOPICS_PATH)?.strip_prefix('/').filter(|rest| !rest.is_empty() && !rest.contains('/'))
}

/// `TopicZNode`'s data: the replicas of each partition, by partition number, and the
/// topic's id (`topic_id`, written since Kafka 2.8, KIP-516).
#[derive(serde::Serialize, serde::Deserialize)]
struct TopicZNodeData {
    partitions: BTreeMap<u32, Vec<u32>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    topic_id: Option<TopicId>,
}

/// A topic's assignment as its node stores it.
pub fn encode_assignment(replicas: &[Vec<BrokerId>], topic_id: TopicId) -> String {
    let partitions = replicas.iter().enumerate().map(|(p, r)| (p as u32, r.iter().map(|b| b.0).collect())).collect();
    serde_json::to_string(&TopicZNodeData { partitions, topic_id: Some(topic_id) }).expect("an assignment serializes")
}

/// A topic's assignment and id read from its node: `None` for a node without an
/// assignment (in a cluster without topic events the scenario's topics have empty nodes,
/// made as parents of their partitions' state), or with a gap in its partition numbers.
pub fn decode_assignment(data: &str) -> Option<(Vec<Vec<BrokerId>>, Option<TopicId>)> {
    let parsed: TopicZNodeData = serde_json::from_str(data).ok()?;
    let replicas: Vec<Vec<BrokerId>> =
        parsed.partitions.values().map(|r| r.iter().map(|&b| BrokerId(b)).collect()).collect();
    let gapless = parsed.partitions.keys().copied().eq(0..replicas.len() as u32);
    gapless.then_some((replicas, parsed.topic_id))
}

/// The id of one of the scenario's own topics, which the administrator created as the
/// cluster started: its position in the scenario, from 1 (a KRaft controller numbers them
/// the same way). Topics created while the cluster runs draw [`random_topic_id`].
pub fn initial_topic_id(topics: &[TopicAssignment], name: &str) -> Option<TopicId> {
    topics.iter().position(|t| t.name == name).map(|i| i as TopicId + 1)
}

/// The id of a topic created while the cluster runs: random, as `AdminZkClient` draws a
/// `Uuid.randomUuid()`, and above every scenario topic's [`initial_topic_id`].
fn random_topic_id() -> TopicId {
    use madsim::rand::{thread_rng, Rng};
    thread_rng().gen_range(1 << 32..TopicId::MAX)
}

/// `AdminUtils.assignReplicasToBrokers` without racks: `partitions` partitions numbered
/// from `first_partition`, `replication_factor` replicas each, over `brokers` (sorted).
/// The first replica goes round-robin from `start_index`; the others follow at a shift
/// that grows by one every `brokers.len()` partitions, so that replica sets differ.
/// INVALID_PARTITIONS without partitions, INVALID_REPLICATION_FACTOR when there are
/// fewer brokers than replicas.
pub fn assign_replicas(
    brokers: &[BrokerId],
    partitions: u32,
    replication_factor: u32,
    start_index: usize,
    replica_shift: usize,
    first_partition: u32,
) -> Result<Vec<Vec<BrokerId>>, ErrorCode> {
    if partitions == 0 {
        return Err(ErrorCode::InvalidPartitions);
    }
    if replication_factor == 0 || replication_factor as usize > brokers.len() {
        return Err(ErrorCode::InvalidReplicationFactor);
    }
    let n = brokers.len();
    let mut shift = replica_shift;
    let mut assignment = Vec::new();
    for partition in first_partition..first_partition + partitions {
        let p = partition as usize;
        if p > 0 && p.is_multiple_of(n) {
            shift += 1;
        }
        let first = (p + start_index) % n;
        let mut replicas = vec![brokers[first]];
        for j in 0..replication_factor as usize - 1 {
            // `AdminUtils.replicaIndex`.
            let step = 1 + (shift + j) % (n - 1);
            replicas.push(brokers[(first + step) % n]);
        }
        assignment.push(replicas);
    }
    Ok(assignment)
}

/// Where added partitions start their round-robin (`AdminZkClient.createNewPartitionsAssignment`):
/// at the first broker whose id is at least partition 0's first replica, so that the new
/// partitions continue the existing pattern.
pub fn start_index_after(brokers: &[BrokerId], partition_zero: &[BrokerId]) -> usize {
    let first = partition_zero.first().copied().unwrap_or(BrokerId(0));
    brokers.iter().position(|b| *b >= first).unwrap_or(0)
}

/// The replicas of a topic a broker creates (`ZkAdminManager.createTopics`): placed over
/// the `live` brokers its metadata cache knows, from a random start
/// (`AdminUtils.assignReplicasToBrokers`); INVALID_REPLICATION_FACTOR when they are too
/// few, before anything is read or written.
pub fn place_new_topic(
    live: &[BrokerId],
    partitions: u32,
    replication_factor: u32,
) -> Result<Vec<Vec<BrokerId>>, ErrorCode> {
    use madsim::rand::{thread_rng, Rng};
    if (replication_factor as usize) > live.len() {
        return Err(ErrorCode::InvalidReplicationFactor);
    }
    let (start, shift) = (thread_rng().gen_range(0..live.len()), thread_rng().gen_range(0..live.len()));
    assign_replicas(live, partitions, replication_factor, start, shift, 0)
}

/// Writes a topic a broker that is not the controller creates, as auto-creation does in
/// ZooKeeper mode (`AutoTopicCreationManager.createTopicsInZk` → `ZkAdminManager.createTopics`
/// with no wait → `AdminZkClient.createTopicWithAssignment`): refused while the name is
/// marked for deletion or taken (TOPIC_ALREADY_EXISTS), else written to the topic's node
/// with a random id; the controller's watch on `/brokers/topics` starts it.
pub async fn write_new_topic(
    meta: &MetaClient,
    recorder: &crate::history::Recorder,
    name: &str,
    replicas: &[Vec<BrokerId>],
) -> Result<(), ErrorCode> {
    let unavailable = |_| ErrorCode::RequestTimedOut;
    if meta.get(&super::deletion::mark_path(name), false).await.map_err(unavailable)?.is_some() {
        return Err(ErrorCode::TopicAlreadyExists); // "Topic 'x' is marked for deletion."
    }
    let topic_id = random_topic_id();
    match meta.create(&topic_path(name), &encode_assignment(replicas, topic_id), false).await {
        Ok(_) => {
            recorder.register_topic(name, topic_id);
            Ok(())
        }
        Err(MetaClientError::Meta(MetaError::NodeExists)) => Err(ErrorCode::TopicAlreadyExists),
        Err(_) => Err(ErrorCode::RequestTimedOut),
    }
}

impl ActiveController<'_> {
    /// The id of a topic the controller knows: from its node, or the scenario's own.
    pub(super) fn topic_id(&self, topic: &str) -> TopicId {
        self.topic_ids.get(topic).copied().or_else(|| initial_topic_id(&self.ctx.topics, topic)).unwrap_or_default()
    }

    /// Reads every topic's assignment node and leaves watches on the list and on each
    /// node (`TopicChangeHandler`, `PartitionModificationsHandler`): a node with an
    /// assignment replaces what the controller knew of the topic (an administrator added
    /// partitions) or adds a topic (one was created).
    pub(super) async fn read_topics(&mut self) -> Result<(), Resign> {
        // Kafka creates its top-level paths at startup (`KafkaZkClient.createTopLevelPaths`),
        // so the list can be watched before the first topic exists. The first controller
        // of the cluster writes the scenario's topics' nodes with it, in one step: the
        // administrator's creation of the topics the run starts with. Every controller
        // after it then knows the topics from their nodes alone, so that one deleted since
        // stays deleted (before, a controller taking office after a deletion had completed
        // started the deleted topic again from the scenario's list).
        if self.meta.get(TOPICS_PATH, false).await.map_err(|_| Resign::Unavailable)?.is_none() {
            let mut ops = vec![MetaOp::Create { path: TOPICS_PATH.to_string(), data: String::new(), ephemeral: false }];
            for topic in &self.ctx.topics {
                let id = initial_topic_id(&self.ctx.topics, &topic.name).expect("a scenario topic");
                let data = encode_assignment(&topic.replicas, id);
                ops.push(MetaOp::Create { path: topic_path(&topic.name), data, ephemeral: false });
            }
            match self.write_as_controller(ops).await? {
                Ok(_) | Err(MetaClientError::MultiFailed { error: MetaError::NodeExists, .. }) => {}
                Err(_) => return Err(Resign::Unavailable),
            }
        }
        let names = self.meta.children(TOPICS_PATH, true).await.map_err(|_| Resign::Unavailable)?;
        self.topics.retain(|t| names.contains(&t.name));
        for name in names {
            let node = self.meta.get(&topic_path(&name), true).await.map_err(|_| Resign::Unavailable)?;
            let Some((replicas, id)) = node.and_then(|n| decode_assignment(&n.data)) else { continue };
            if let Some(id) = id {
                self.topic_ids.insert(name.clone(), id);
            }
            match self.topics.iter_mut().find(|t| t.name == name) {
                Some(topic) => topic.replicas = replicas,
                None => self.topics.push(TopicAssignment { name, replicas, ..self.ctx.topic_defaults.clone() }),
            }
        }
        Ok(())
    }

    /// A topic was created or grew (`processTopicChange`, `processPartitionModifications`):
    /// re-reads the assignments and starts the new partitions (`onNewPartitionCreation`):
    /// their state is written with the first live replica leading and every replica in
    /// the ISR, their replicas get LeaderAndIsr and every broker UpdateMetadata.
    /// Simplified: a new partition waits until all its replicas are registered (Kafka
    /// starts it with the live ones); an administrator places replicas on live brokers
    /// only, so this waits only when a broker died in between.
    pub(super) async fn on_topics_changed(&mut self) -> Result<(), Resign> {
        self.read_topics().await?;
        let created = self.load_new_partitions().await?;
        if created.is_empty() {
            return Ok(());
        }
        let replicas: BTreeSet<BrokerId> =
            created.iter().flat_map(|tp| self.partitions[tp].replicas.iter().copied()).collect();
        let replicas: Vec<BrokerId> = replicas.into_iter().collect();
        self.send_leader_and_isr(&replicas, Some(&created));
        self.send_update_metadata(Some(&created));
        Ok(())
    }

    /// An administrator's CreateTopics or CreatePartitions on the active controller's
    /// broker (`ZkAdminManager.createTopics`, `createPartitions`): the checks, the
    /// placement over the live brokers (see `topics`), the write of the topic's
    /// assignment node, then the partitions started at once, as the watch on that node
    /// would start them. Answered once the new partitions' LeaderAndIsr and
    /// UpdateMetadata are sent (Kafka answers once this broker's metadata cache has their
    /// leaders, `DelayedCreatePartitions`, a round trip later). DeleteTopics goes to
    /// `deletion`.
    pub(super) async fn topic_admin(&mut self, request: &TopicAdmin) -> Result<Result<(), ErrorCode>, Resign> {
        use madsim::rand::{thread_rng, Rng};
        let live: Vec<BrokerId> = self.live.keys().copied().collect();
        let (topic, replicas) = match request {
            TopicAdmin::CreateTopic { name, partitions, replication_factor } => {
                if self.topics.iter().any(|t| *t.name == **name) {
                    return Ok(Err(ErrorCode::TopicAlreadyExists));
                }
                let (start, shift) = if live.is_empty() {
                    (0, 0)
                } else {
                    (thread_rng().gen_range(0..live.len()), thread_rng().gen_range(0..live.len()))
                };
                match assign_replicas(&live, *partitions, *replication_factor, start, shift, 0) {
                    Ok(replicas) => (name.clone(), replicas),
                    Err(error) => return Ok(Err(error)),
                }
            }
            TopicAdmin::CreatePartitions { topic, count } => {
                let Some(existing) = self.topics.iter().find(|t| *t.name == **topic) else {
                    return Ok(Err(ErrorCode::UnknownTopicOrPartition));
                };
                let current = existing.replicas.len() as u32;
                if *count <= current {
                    return Ok(Err(ErrorCode::InvalidPartitions));
                }
                let partition_zero = existing.replicas.first().cloned().unwrap_or_default();
                let start = start_index_after(&live, &partition_zero);
                let factor = partition_zero.len() as u32;
                match assign_replicas(&live, count - current, factor, start, start, current) {
                    Ok(added) => (topic.clone(), existing.replicas.iter().cloned().chain(added).collect()),
                    Err(error) => return Ok(Err(error)),
                }
            }
            TopicAdmin::DeleteTopic { topic } => return self.delete_topic(topic).await,
        };
        let path = topic_path(&topic);
        // `AdminZkClient.createTopicWithAssignment` draws the id; growing a topic keeps it.
        let topic_id = match request {
            TopicAdmin::CreateTopic { .. } => random_topic_id(),
            _ => self.topic_id(&topic),
        };
        let data = encode_assignment(&replicas, topic_id);
        let written = match request {
            TopicAdmin::CreateTopic { .. } => self.meta.create(&path, &data, false).await.map(|_| ()),
            _ => self.meta.set_data(&path, &data, None).await.map(|_| ()),
        };
        match written {
            Ok(()) => {
                if matches!(request, TopicAdmin::CreateTopic { .. }) {
                    self.ctx.tracer.recorder().register_topic(&topic, topic_id);
                }
            }
            Err(MetaClientError::Meta(MetaError::NodeExists)) => return Ok(Err(ErrorCode::TopicAlreadyExists)),
            Err(_) => return Err(Resign::Unavailable),
        }
        self.on_topics_changed().await?;
        Ok(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(v: &[u32]) -> Vec<BrokerId> {
        v.iter().map(|&b| BrokerId(b)).collect()
    }

    #[test]
    fn replicas_go_round_robin_with_a_shift_that_grows_each_lap() {
        let brokers = ids(&[1, 2, 3]);
        let got = assign_replicas(&brokers, 4, 2, 0, 0, 0).unwrap();
        // AdminUtilsTest's pattern: first replicas 1, 2, 3, 1; second one step on, then two
        // once a lap of the brokers is done.
        assert_eq!(got, vec![ids(&[1, 2]), ids(&[2, 3]), ids(&[3, 1]), ids(&[1, 3])]);
        let started = assign_replicas(&brokers, 2, 3, 1, 1, 0).unwrap();
        assert_eq!(started, vec![ids(&[2, 1, 3]), ids(&[3, 2, 1])]);
    }

    #[test]
    fn added_partitions_continue_the_pattern_and_bad_requests_are_refused() {
        let brokers = ids(&[1, 2, 3]);
        let all = assign_replicas(&brokers, 6, 2, 0, 0, 0).unwrap();
        let start = start_index_after(&brokers, &all[0]);
        let added = assign_replicas(&brokers, 3, 2, start, start, 3).unwrap();
        assert_eq!(added, all[3..].to_vec());
        assert_eq!(assign_replicas(&brokers, 0, 2, 0, 0, 0), Err(ErrorCode::InvalidPartitions));
        assert_eq!(assign_replicas(&brokers, 1, 4, 0, 0, 0), Err(ErrorCode::InvalidReplicationFactor));
    }

    #[test]
    fn assignments_round_trip_through_their_node_and_empty_nodes_have_none() {
        let replicas = vec![ids(&[1, 2]), ids(&[2, 3])];
        assert_eq!(decode_assignment(&encode_assignment(&replicas, 7)), Some((replicas, Some(7))));
        assert_eq!(decode_assignment(""), None);
        assert_eq!(decode_assignment(r#"{"partitions":{"1":[1]}}"#), None, "a gap at partition 0");
        assert_eq!(topic_of_path("/brokers/topics/orders"), Some("orders"));
        assert_eq!(topic_of_path("/brokers/topics/orders/partitions"), None);
        assert_eq!(topic_of_path("/brokers/ids/1"), None);
    }
}

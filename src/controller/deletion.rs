//! Topic deletion in ZooKeeper mode, as Kafka 3.9's `TopicDeletionManager` runs it.
//!
//! An administrator's DeleteTopics reaches the active controller's broker, which checks
//! `delete.topic.enable` (`KafkaApis.handleDeleteTopicsRequest` answers
//! TOPIC_DELETION_DISABLED) and marks the topic with `/admin/delete_topics/<topic>`
//! (`AdminZkClient.deleteTopic`). The controller's `TopicDeletionHandler` watch on that
//! list queues the topic (`processTopicDeletion`; a controller whose own
//! `delete.topic.enable` is false removes the marks instead), and the deletion goes:
//!
//! 1. `onTopicDeletion`: every live broker gets UpdateMetadata naming the topic's
//!    partitions as being deleted (leader -2), so the brokers forget them and their group
//!    coordinators drop the offsets committed for them; clients get
//!    UNKNOWN_TOPIC_OR_PARTITION from then on.
//! 2. `onPartitionDeletion`: each replica on a live broker is sent StopReplica with
//!    `deletePartition` (ReplicaDeletionStarted). A replica on a dead broker is
//!    ReplicaDeletionIneligible, and so is one whose broker dies before it answers
//!    (`failReplicaDeletion`), until the broker starts again (`resumeDeletionForTopics`).
//! 3. `completeDeleteTopic`, once every replica answered (ReplicaDeletionSuccessful): the
//!    topic's nodes and its mark are deleted and the controller forgets the topic.
//!
//! A new controller reads the marks and starts each deletion over
//! (`TopicDeletionManager.init`, `tryTopicDeletion`).
//!
//! Simplified: Kafka first takes each replica offline (a StopReplica without deletion,
//! and the controller removes it from the ISR in ZooKeeper) before the deleting
//! StopReplica; here the deleting one goes at once, and the partitions' stored states go
//! with the topic's nodes. A queued topic takes no part in elections or ISR changes from
//! the moment it is queued (Kafka keeps it out of elections too:
//! `isTopicQueuedUpForDeletion`).

use super::{ActiveController, Resign};
use crate::history::Event;
use crate::metastore::MetaClientError;
use crate::protocol::{BrokerId, ErrorCode, MetaError, MetaOp, Request, TopicPartition};
use std::collections::{BTreeMap, BTreeSet};

/// The parent of the deletion marks (`DeleteTopicsZNode`).
pub const DELETE_TOPICS_PATH: &str = "/admin/delete_topics";

/// A topic's deletion mark (`DeleteTopicsTopicZNode.path`).
pub(super) fn mark_path(topic: &str) -> String {
    format!("{DELETE_TOPICS_PATH}/{topic}")
}

/// Where one replica of a topic being deleted stands (Kafka's replica states of the
/// deletion: `ReplicaDeletionStarted`, `ReplicaDeletionSuccessful`,
/// `ReplicaDeletionIneligible`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ReplicaDeletion {
    /// StopReplica sent; no answer yet.
    Started,
    /// The broker stopped the replica and deleted its log.
    Successful,
    /// Its broker is down: the deletion waits for it.
    Ineligible,
}

/// A topic queued for deletion: each of its replicas and where it stands.
pub(super) struct TopicDeletion {
    replicas: BTreeMap<(TopicPartition, BrokerId), ReplicaDeletion>,
}

impl TopicDeletion {
    /// The topic's partitions.
    pub(super) fn partitions(&self) -> BTreeSet<&TopicPartition> {
        self.replicas.keys().map(|(tp, _)| tp).collect()
    }
}

/// A StopReplica a broker accepted: its partitions are deleted there.
pub(super) struct ReplicasDeleted {
    pub broker: BrokerId,
    pub partitions: Vec<TopicPartition>,
}

impl ActiveController<'_> {
    /// An administrator's DeleteTopics on the active controller's broker: refused under
    /// `delete.topic.enable=false` or for an unknown topic; otherwise the topic is marked
    /// and its deletion begins at once, as the watch on the marks would begin it.
    /// Answered once the brokers were told to forget the topic (Kafka answers once this
    /// broker's metadata cache no longer has it, `DelayedDeleteTopics`). A topic already
    /// being deleted is answered the same (Kafka swallows
    /// `TopicAlreadyMarkedForDeletionException` and waits likewise).
    pub(super) async fn delete_topic(&mut self, topic: &str) -> Result<Result<(), ErrorCode>, Resign> {
        if !self.ctx.delete_topic_enable {
            return Ok(Err(ErrorCode::TopicDeletionDisabled));
        }
        if !self.topics.iter().any(|t| t.name == topic) {
            return Ok(Err(ErrorCode::UnknownTopicOrPartition));
        }
        match self.meta.create(&mark_path(topic), "", false).await {
            Ok(_) | Err(MetaClientError::Meta(MetaError::NodeExists)) => {}
            Err(_) => return Err(Resign::Unavailable),
        }
        self.on_deletions_changed().await?;
        Ok(Ok(()))
    }

    /// The deletion marks changed (`TopicDeletionHandler`): queues the newly marked
    /// topics, tells the brokers, and moves every deletion on.
    pub(super) async fn on_deletions_changed(&mut self) -> Result<(), Resign> {
        if self.read_deletions().await? {
            self.send_update_metadata(None);
        }
        self.resume_deletions().await
    }

    /// Reads the deletion marks and leaves a watch on them; queues each marked topic not
    /// queued yet (`processTopicDeletion`). A mark this controller will not act on (the
    /// topic is unknown, or `delete.topic.enable` is false here) is removed. Returns
    /// whether a topic was queued.
    pub(super) async fn read_deletions(&mut self) -> Result<bool, Resign> {
        // Kafka creates the path at startup (`KafkaZkClient.createTopLevelPaths`).
        match self.meta.create(DELETE_TOPICS_PATH, "", false).await {
            Ok(_) | Err(MetaClientError::Meta(MetaError::NodeExists)) => {}
            Err(_) => return Err(Resign::Unavailable),
        }
        let marked = self.meta.children(DELETE_TOPICS_PATH, true).await.map_err(|_| Resign::Unavailable)?;
        let mut queued = false;
        for topic in marked {
            if self.deleting.contains_key(&topic) {
                continue;
            }
            let Some(assignment) = self.topics.iter().find(|t| t.name == topic) else {
                self.remove_mark(&topic).await?;
                continue;
            };
            if !self.ctx.delete_topic_enable {
                self.remove_mark(&topic).await?;
                continue;
            }
            let replicas = assignment
                .replicas
                .iter()
                .enumerate()
                .flat_map(|(p, brokers)| {
                    let tp = TopicPartition::new(topic.as_str(), p as u32);
                    brokers.iter().map(move |&b| ((tp.clone(), b), ReplicaDeletion::Ineligible))
                })
                .collect();
            self.partitions.retain(|tp, _| *tp.topic != *topic);
            let topic_key = self.ctx.tracer.recorder().topic_key(&topic, Some(self.topic_id(&topic)));
            self.ctx.tracer.emit(Event::TopicDeleted { topic: topic_key });
            self.deleting.insert(topic, TopicDeletion { replicas });
            queued = true;
        }
        Ok(queued)
    }

    async fn remove_mark(&self, topic: &str) -> Result<(), Resign> {
        match self.meta.delete(&mark_path(topic), None).await {
            Ok(()) | Err(MetaClientError::Meta(MetaError::NoNode)) => Ok(()),
            Err(_) => Err(Resign::Unavailable),
        }
    }

    /// Replicas whose broker died before answering wait for it (`failReplicaDeletion`).
    pub(super) fn fail_replica_deletions(&mut self, dead: &BTreeSet<BrokerId>) {
        for deletion in self.deleting.values_mut() {
            for ((_, broker), state) in deletion.replicas.iter_mut() {
                if *state == ReplicaDeletion::Started && dead.contains(broker) {
                    *state = ReplicaDeletion::Ineligible;
                }
            }
        }
    }

    /// A broker accepted a StopReplica: its replicas are deleted; a topic whose replicas
    /// all are is completed.
    pub(super) async fn on_replicas_deleted(&mut self, deleted: ReplicasDeleted) -> Result<(), Resign> {
        for tp in &deleted.partitions {
            let Some(deletion) = self.deleting.get_mut(&*tp.topic) else { continue };
            if let Some(state) = deletion.replicas.get_mut(&(tp.clone(), deleted.broker)) {
                if *state == ReplicaDeletion::Started {
                    *state = ReplicaDeletion::Successful;
                }
            }
        }
        self.resume_deletions().await
    }

    /// Moves every deletion on (`resumeDeletions`): completes the topics whose replicas
    /// are all deleted, and sends StopReplica to each waiting replica whose broker is
    /// live (one request per broker).
    pub(super) async fn resume_deletions(&mut self) -> Result<(), Resign> {
        let done: Vec<String> = self
            .deleting
            .iter()
            .filter(|(_, d)| d.replicas.values().all(|s| *s == ReplicaDeletion::Successful))
            .map(|(topic, _)| topic.clone())
            .collect();
        for topic in done {
            self.complete_delete_topic(&topic).await?;
        }
        let mut to_stop: BTreeMap<BrokerId, Vec<TopicPartition>> = BTreeMap::new();
        for deletion in self.deleting.values_mut() {
            for ((tp, broker), state) in deletion.replicas.iter_mut() {
                if *state == ReplicaDeletion::Ineligible && self.live.contains_key(broker) {
                    *state = ReplicaDeletion::Started;
                    to_stop.entry(*broker).or_default().push(tp.clone());
                }
            }
        }
        for (broker, partitions) in to_stop {
            let Some(channel) = self.channels.get(&broker) else { continue };
            let answers = self.replicas_deleted.clone();
            let request = Request::StopReplica { controller_epoch: self.epoch, partitions: partitions.clone() };
            channel.send_then(
                request,
                Box::new(move || {
                    let _ = answers.send(ReplicasDeleted { broker, partitions });
                }),
            );
        }
        Ok(())
    }

    /// `completeDeleteTopic`: deletes the topic's nodes (its assignment and partition
    /// states) and its mark, fenced by this controller's epoch, and forgets the topic.
    async fn complete_delete_topic(&mut self, topic: &str) -> Result<(), Resign> {
        let mut nodes = Vec::new();
        self.collect_subtree(&super::topics::topic_path(topic), &mut nodes).await?;
        nodes.push(mark_path(topic));
        let ops = nodes.into_iter().map(|path| MetaOp::Delete { path, expected_version: None }).collect();
        if self.write_as_controller(ops).await?.is_err() {
            return Err(Resign::Unavailable);
        }
        tracing::debug!(controller = %self.ctx.id, topic, "topic deletion completed");
        self.deleting.remove(topic);
        self.topics.retain(|t| t.name != topic);
        self.topic_ids.remove(topic);
        Ok(())
    }

    /// The nodes under `path` and `path` itself, children before their parents.
    async fn collect_subtree(&self, path: &str, nodes: &mut Vec<String>) -> Result<(), Resign> {
        let mut stack = vec![(path.to_string(), false)];
        while let Some((node, expanded)) = stack.pop() {
            if expanded {
                nodes.push(node);
                continue;
            }
            let children = match self.meta.children(&node, false).await {
                Ok(children) => children,
                Err(MetaClientError::Meta(MetaError::NoNode)) => continue,
                Err(_) => return Err(Resign::Unavailable),
            };
            stack.push((node.clone(), true));
            stack.extend(children.into_iter().map(|child| (format!("{node}/{child}"), false)));
        }
        Ok(())
    }
}

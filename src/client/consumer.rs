//! The consumer in standalone `assign` mode: it fetches its assigned partitions from
//! their leaders, keeps a position per partition, resets a missing or out-of-range
//! position by `auto.offset.reset`, and refreshes metadata when a leader moves. From
//! Kafka 2.3 (KIP-320's consumer side) it also validates its positions after a leader
//! change with OffsetsForLeaderEpoch and rewinds past log truncation (see
//! [`position`](super::position)). Fetching (`poll`) is in [`fetching`], the ListOffsets
//! lookups in [`offset_lookups`]; group membership and offset commits build on this
//! consumer in [`group`](super::group).

use super::backoff::RetryBackoff;
use super::connection_states::{ConnectionSettings, NodeConnections, Usable};
use super::fetch_buffer::{FetchBuffer, InFlightFetches};
use super::metadata::ClusterView;
use super::position::{FetchPosition, LeaderAndEpoch, LogTruncation, PartitionPosition, Validation};
use crate::protocol::{
    BrokerId, IsolationLevel, LeaderEpoch, Offset, OffsetForLeaderEpochPartition, OffsetReset, OffsetSpec,
    OffsetValidation, Request, Response, TopicPartition,
};
use crate::sim::net::{Addr, ConnId, Connection, NetError, NodeNet, PendingResponse};
use futures_util::future::join_all;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Duration;

/// Consumer settings, with Kafka's names.
#[derive(Clone, Debug)]
pub struct ConsumerConfig {
    /// `bootstrap.servers`.
    pub bootstrap: Vec<Addr>,
    /// `auto.offset.reset`.
    pub auto_offset_reset: OffsetReset,
    /// `fetch.max.wait.ms`.
    pub fetch_max_wait_ms: u64,
    /// `max.poll.records`.
    pub max_poll_records: usize,
    /// `request.timeout.ms`.
    pub request_timeout_ms: u64,
    /// `metadata.max.age.ms`: a poll refreshes metadata at least this often.
    pub metadata_max_age_ms: u64,
    /// `retry.backoff.ms`: the least time between two metadata refreshes an answer
    /// asked for.
    pub retry_backoff_ms: u64,
    /// `retry.backoff.max.ms` (Kafka 3.7+, KIP-580, default 1000): the longest refresh
    /// backoff, which grows exponentially while refreshes fail or repeat what the
    /// consumer knows; `None` before 3.7, where it is fixed.
    pub retry_backoff_max_ms: Option<u64>,
    /// Whether metadata answers that give a partition an older leader epoch than one
    /// already seen are ignored for that partition (Kafka 2.2+, KAFKA-7738; no Kafka
    /// setting: the scenario's release decides).
    pub rejects_stale_metadata: bool,
    /// Whether positions are validated after a leader change (KIP-320, Kafka 2.3; no
    /// Kafka setting: the scenario key `offset_validation`).
    pub offset_validation: OffsetValidation,
    /// `isolation.level`: whether records of open and aborted transactions are read.
    pub isolation_level: IsolationLevel,
    /// `allow.auto.create.topics` (default true): whether the consumer's metadata
    /// requests for its subscribed or assigned topics let a broker create them
    /// (a pattern subscription asks for every topic and never creates one).
    pub allow_auto_create_topics: bool,
    /// Whether fetches name topics by id (Fetch v13, Kafka 3.1 onwards, KIP-516): a
    /// leader then answers UNKNOWN_TOPIC_ID or INCONSISTENT_TOPIC_ID when the topic the
    /// consumer's metadata knows is not the one it holds under that name.
    pub fetch_topic_ids: bool,
    /// `reconnect.backoff.ms`, `socket.connection.setup.timeout.ms` and their maximums.
    pub connections: ConnectionSettings,
}

/// An error `poll` raises to the application, which must seek the partition (only with
/// `auto.offset.reset = "none"`: otherwise the consumer resets by itself).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConsumerError {
    /// No position and no reset policy (Kafka's `NoOffsetForPartitionException`).
    NoOffsetForPartition(TopicPartition),
    /// The position is outside the leader's log (Kafka's `OffsetOutOfRangeException`).
    OffsetOutOfRange {
        /// The partition.
        tp: TopicPartition,
        /// The position.
        offset: Offset,
    },
    /// Validation found the log truncated below the position (Kafka's
    /// `LogTruncationException`, KIP-320).
    LogTruncation {
        /// The partition.
        tp: TopicPartition,
        /// What was detected.
        truncation: LogTruncation,
    },
}

impl fmt::Display for ConsumerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConsumerError::NoOffsetForPartition(tp) => {
                write!(f, "no offset for partition {tp} and auto.offset.reset is none")
            }
            ConsumerError::OffsetOutOfRange { tp, offset } => {
                write!(f, "offset {offset} of {tp} is out of range and auto.offset.reset is none")
            }
            ConsumerError::LogTruncation { tp, truncation } => {
                write!(f, "log truncation detected for {tp} at offset {}", truncation.position)?;
                match truncation.divergent_offset {
                    Some(divergent) => write!(f, ", first divergent offset {divergent}"),
                    None => write!(f, ", divergent offset unknown"),
                }
            }
        }
    }
}

/// One consumed record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsumedRecord {
    /// The partition.
    pub tp: TopicPartition,
    /// The offset.
    pub offset: Offset,
    /// The value.
    pub value: u64,
    /// The record's timestamp: its producer's create time (Kafka's `CreateTime`, the
    /// default `message.timestamp.type`), in milliseconds of the run's clock.
    pub timestamp_ms: u64,
    /// The id of the topic whose log held it (see [`FetchPartitionResponse::topic_id`]):
    /// for the history, which tells a deleted topic's records from those of the topic
    /// created again under its name.
    ///
    /// [`FetchPartitionResponse::topic_id`]: crate::protocol::FetchPartitionResponse::topic_id
    pub topic_id: Option<crate::protocol::TopicId>,
}

/// A standalone consumer.
pub struct Consumer {
    config: ConsumerConfig,
    view: ClusterView,
    /// Its connections to the brokers, for fetches and offset requests (its group
    /// coordinator's is the group's own, as Kafka's `AbstractCoordinator` keeps it
    /// apart).
    connections: NodeConnections,
    assignment: Vec<TopicPartition>,
    positions: BTreeMap<TopicPartition, PartitionPosition>,
    /// Partitions the application asked to reset by a policy (Kafka's `seekToBeginning`
    /// and `seekToEnd`), looked up on the next poll.
    pending_resets: BTreeMap<TopicPartition, OffsetReset>,
    /// Errors to raise from the next poll, one at a time, in partition order.
    pending_errors: BTreeMap<TopicPartition, ConsumerError>,
    /// Partitions the application paused (Kafka's `pause`): not fetched until resumed.
    paused: BTreeSet<TopicPartition>,
    need_metadata: bool,
    /// Whether metadata requests ask for every topic (a pattern subscription) rather
    /// than the assigned ones.
    metadata_for_all_topics: bool,
    /// The order partitions are fetched in: the assignment's, each partition moved to
    /// the end once a fetch of it that read data is returned (Kafka's
    /// `SubscriptionState.movePartitionToEnd`), so that a busy partition does not keep
    /// the others' records behind its own in every poll.
    fetch_order: Vec<TopicPartition>,
    /// Answers fetched and not yet returned.
    buffer: FetchBuffer,
    /// Fetches awaiting their answers, at most one per leader.
    in_flight: InFlightFetches,
}

/// The timeout kafkasim's applications pass to `poll` (Kafka leaves it to the
/// application; `poll(Duration.ofSeconds(1))` is a common choice). A poll returns as
/// soon as a fetch is answered, so with live leaders it returns after at most about
/// `fetch.max.wait.ms`; the timeout bounds it when no leader answers (one lost power,
/// or a partition cut it off): the fetch stays in flight and the poll returns without it.
pub const APPLICATION_POLL_TIMEOUT: Duration = Duration::from_secs(1);

impl Consumer {
    /// A consumer with nothing assigned.
    pub fn new(net: NodeNet<Request, Response>, config: ConsumerConfig) -> Self {
        let connections = NodeConnections::new(net.clone(), config.connections);
        let mut view = ClusterView::new(net, config.bootstrap.clone());
        view.set_connection_settings(config.connections);
        view.allow_auto_topic_creation(config.allow_auto_create_topics);
        let refresh_backoff = RetryBackoff::new(config.retry_backoff_ms, config.retry_backoff_max_ms);
        view.set_refresh_backoff(refresh_backoff, Duration::from_millis(config.metadata_max_age_ms));
        view.set_rejects_stale_metadata(config.rejects_stale_metadata);
        Consumer {
            config,
            view,
            connections,
            assignment: Vec::new(),
            positions: BTreeMap::new(),
            pending_resets: BTreeMap::new(),
            pending_errors: BTreeMap::new(),
            paused: BTreeSet::new(),
            need_metadata: true,
            metadata_for_all_topics: false,
            fetch_order: Vec::new(),
            buffer: FetchBuffer::default(),
            in_flight: InFlightFetches::default(),
        }
    }

    /// The handle on the topic ids this consumer's metadata holds, for the history.
    pub fn topic_ids(&self) -> super::metadata::TopicIds {
        self.view.topic_ids()
    }

    /// Replaces the assignment; positions of partitions no longer assigned are forgotten.
    pub fn assign(&mut self, partitions: Vec<TopicPartition>) {
        // A topic new to the assignment is new metadata to ask for: Kafka's `assign` (and
        // a subscription change) calls `Metadata.requestUpdateForNewTopics`, which clears
        // KIP-580's equivalent responses.
        if partitions.iter().any(|tp| !self.assignment.iter().any(|held| held.topic == tp.topic)) {
            self.view.reset_equivalent_responses();
        }
        self.positions.retain(|tp, _| partitions.contains(tp));
        self.view.topic_ids().retain_positions(&partitions);
        self.pending_resets.retain(|tp, _| partitions.contains(tp));
        self.pending_errors.retain(|tp, _| partitions.contains(tp));
        // A partition kept keeps its pause, as Kafka's `SubscriptionState` keeps a kept
        // partition's state; one given up forgets it ("rebalance will not preserve the
        // pause/resume state" when it revokes the partition first, as eager rebalancing does).
        self.paused.retain(|tp| partitions.contains(tp));
        self.buffer.retain_assigned(&partitions);
        // Kafka's `SubscriptionState` takes the new assignment's order (by topic).
        self.fetch_order = partitions.clone();
        self.assignment = partitions;
    }

    /// Stops fetching from `tp` until [`resume`](Self::resume) (Kafka's `pause`): polls
    /// return none of its records, and its position stays where it is. Ignored for a
    /// partition not assigned (Kafka throws `IllegalStateException`).
    pub fn pause(&mut self, tp: &TopicPartition) {
        if self.assignment.contains(tp) {
            self.paused.insert(tp.clone());
        }
    }

    /// Fetches from a paused partition again (Kafka's `resume`); a no-op for one not paused.
    pub fn resume(&mut self, tp: &TopicPartition) {
        self.paused.remove(tp);
    }

    /// Whether `tp` is paused (Kafka's `paused()` contains it).
    pub fn is_paused(&self, tp: &TopicPartition) -> bool {
        self.paused.contains(tp)
    }

    /// The current assignment.
    pub fn assignment(&self) -> &[TopicPartition] {
        &self.assignment
    }

    /// Sets the next offset to fetch for a partition. An offset the leader no longer
    /// holds (below its log start, or past its end) is answered OFFSET_OUT_OF_RANGE on
    /// the next fetch and reset by `auto.offset.reset`, as in Kafka.
    /// The position carries no leader epoch, so it is not validated (Kafka validates a
    /// seek to an `OffsetAndMetadata` with an epoch; kafkasim's seeks have none).
    pub fn seek(&mut self, tp: &TopicPartition, offset: Offset) {
        self.pending_resets.remove(tp);
        self.pending_errors.remove(tp);
        self.positions.insert(tp.clone(), PartitionPosition::fetching(FetchPosition::unvalidated(offset)));
        self.view.topic_ids().set_position(tp, self.view.topic_id(tp));
    }

    /// Moves a partition to its log start (`Earliest`) or high watermark (`Latest`) on
    /// the next poll: Kafka's `seekToBeginning` and `seekToEnd`.
    pub fn seek_to(&mut self, tp: &TopicPartition, reset: OffsetReset) {
        self.positions.remove(tp);
        self.pending_errors.remove(tp);
        self.pending_resets.insert(tp.clone(), reset);
    }

    /// The next offset to fetch, if known.
    pub fn position(&self, tp: &TopicPartition) -> Option<Offset> {
        self.positions.get(tp).map(|p| p.position.offset)
    }

    /// The next offset to fetch with the leader epoch of the last record fetched
    /// (Kafka's `FetchPosition.offsetEpoch`), if known.
    pub fn position_epoch(&self, tp: &TopicPartition) -> Option<(Offset, Option<LeaderEpoch>)> {
        self.positions.get(tp).map(|p| (p.position.offset, p.position.offset_epoch))
    }

    /// The partitions of a topic, from metadata (refreshing it first).
    pub async fn partitions_for(&mut self, topic: &str) -> Vec<TopicPartition> {
        let timeout = Duration::from_millis(self.config.request_timeout_ms);
        if self.view.refresh(&[topic.to_string()], timeout).await {
            self.need_metadata = false;
        }
        self.view.partitions_of(topic)
    }

    /// Kafka's `Metadata.updateRequested` or the cached metadata older than
    /// `metadata.max.age.ms` (`Metadata.timeToNextUpdate`).
    /// An update the last answer asked for (see [`ClusterView::update_requested`]) waits
    /// the refresh backoff.
    ///
    /// From Kafka 3.7 an update the consumer asked for waits the refresh backoff too, as
    /// `NetworkClient.poll` waits `Metadata.timeToNextUpdate`, which KIP-580 makes grow
    /// while refreshes fail or repeat what the consumer knows (its errors ask with
    /// `requestUpdate(false)`). Before 3.7 kafkasim's consumer refreshes such an update
    /// at its next poll, as it always did (a simplification: Kafka waited the fixed
    /// `retry.backoff.ms`, about the consumer's pause between polls without a leader).
    fn metadata_due(&self) -> bool {
        let backoff_passed = self.view.may_refresh();
        (self.need_metadata && (!self.view.refresh_backoff_is_exponential() || backoff_passed))
            || self.view.older_than(Duration::from_millis(self.config.metadata_max_age_ms))
            || (self.view.update_requested() && backoff_passed)
    }

    /// Refreshes the metadata of the assigned topics, or of every topic.
    async fn refresh_metadata(&mut self, timeout: Duration) {
        let topics: Vec<String> = match self.metadata_for_all_topics {
            true => Vec::new(), // A Metadata request naming no topic asks for all.
            false => metadata_topics(&self.assignment),
        };
        if self.view.refresh(&topics, timeout).await {
            self.need_metadata = false;
        }
    }

    /// Whether metadata requests ask for every topic (a pattern subscription).
    pub fn set_metadata_for_all_topics(&mut self, all: bool) {
        self.metadata_for_all_topics = all;
    }

    /// Asks for a metadata update at the next poll for a new subscription
    /// (`Metadata.requestUpdateForNewTopics`, which clears KIP-580's equivalent
    /// responses).
    pub fn request_metadata_update(&mut self) {
        self.need_metadata = true;
        self.view.reset_equivalent_responses();
    }

    /// Refreshes the metadata now if it is due, or if `wanted` and the refresh backoff
    /// allows one: `ConsumerCoordinator.poll` before a pattern-subscribed member rejoins
    /// checks `Metadata.timeToAllowUpdate` and then asks with `requestUpdate(true)`,
    /// which clears KIP-580's equivalent responses.
    pub async fn refresh_metadata_if_due(&mut self, wanted: bool) {
        let wanted = wanted && self.view.may_refresh();
        if wanted {
            self.view.reset_equivalent_responses();
        }
        if wanted || self.metadata_due() {
            self.refresh_metadata(Duration::from_millis(self.config.request_timeout_ms)).await;
        }
    }

    /// The topics in the consumer's cached metadata.
    pub fn known_topics(&self) -> Vec<String> {
        self.view.partition_counts().into_keys().collect()
    }

    /// The partition count of `topic` in the consumer's cached metadata, if it knows the
    /// topic.
    pub fn partition_count(&self, topic: &str) -> Option<u32> {
        self.view.partition_count(topic)
    }

    /// Raises the first pending error, if any (Kafka throws one exception per poll).
    fn raise_pending_error(&mut self) -> Result<(), ConsumerError> {
        match self.pending_errors.pop_first() {
            Some((_, error)) => Err(error),
            None => Ok(()),
        }
    }

    /// Looks up a starting position by `auto.offset.reset` (or a requested
    /// [`seek_to`](Self::seek_to)) for partitions without one: Kafka's
    /// `OffsetFetcher.resetPositionsIfNeeded`, one ListOffsets per leader for every
    /// partition it leads that needs a reset, all in flight at once (see
    /// [`list_offsets_at`](Self::list_offsets_at)).
    async fn reset_missing_positions(&mut self) {
        let missing: Vec<TopicPartition> = self
            .assignment
            .iter()
            .filter(|tp| !self.positions.contains_key(*tp) && !self.pending_errors.contains_key(*tp))
            .cloned()
            .collect();
        let mut wanted = Vec::new();
        for tp in missing {
            let reset = self.pending_resets.get(&tp).copied().unwrap_or(self.config.auto_offset_reset);
            let spec = match reset {
                OffsetReset::Earliest => OffsetSpec::Earliest,
                OffsetReset::Latest => OffsetSpec::Latest,
                OffsetReset::None => {
                    self.pending_errors.insert(tp.clone(), ConsumerError::NoOffsetForPartition(tp));
                    continue;
                }
            };
            wanted.push((tp, spec));
        }
        if wanted.is_empty() {
            return;
        }
        let isolation_level = self.config.isolation_level;
        for (tp, (offset, topic_id)) in self.list_offsets_at(&wanted, isolation_level).await {
            let Some(offset) = offset else { continue };
            self.pending_resets.remove(&tp);
            // The topic whose log answered (for the history; the consumer itself knows
            // only the name).
            self.view.topic_ids().set_position(&tp, topic_id);
            self.positions.insert(tp, PartitionPosition::fetching(FetchPosition::unvalidated(offset)));
        }
    }

    /// KIP-320 (Kafka's `OffsetFetcher.validatePositionsIfNeeded`, 2.3 onwards): each
    /// position whose leader or leader epoch changed in metadata awaits validation; ask
    /// the leader where the position's epoch ends and complete it
    /// ([`PartitionPosition::complete_validation`]). As Kafka does
    /// (`regroupFetchPositionsByLeader`, then one `OffsetsForLeaderEpochClient` request
    /// per node), the partitions are grouped by leader and every leader is asked at
    /// once. Kafka sends these asynchronously and fetches the other partitions
    /// meanwhile; here they go before the fetch, which changes only timing.
    async fn validate_positions(&mut self) {
        let timeout = Duration::from_millis(self.config.request_timeout_ms);
        let validation = self.config.offset_validation;
        let assignment = self.assignment.clone();
        let mut by_leader: BTreeMap<BrokerId, Vec<(FetchPosition, OffsetForLeaderEpochPartition)>> = BTreeMap::new();
        for tp in assignment {
            let current = self.view.leader(&tp).map(|(leader, epoch)| LeaderAndEpoch { leader, epoch });
            let Some(position) = self.positions.get_mut(&tp) else { continue };
            if !position.maybe_validate(current, validation) || self.pending_errors.contains_key(&tp) {
                continue;
            }
            let requested = position.position;
            let (Some(current), Some(epoch)) = (requested.current_leader, requested.offset_epoch) else { continue };
            let asked = OffsetForLeaderEpochPartition { tp, current_leader_epoch: current.epoch, leader_epoch: epoch };
            by_leader.entry(current.leader).or_default().push((requested, asked));
        }
        let mut pending = Vec::new();
        let mut requested: BTreeMap<TopicPartition, FetchPosition> = BTreeMap::new();
        for (leader, partitions) in by_leader {
            let Some(conn) = self.connection_to(leader) else { continue };
            let mut asked = Vec::with_capacity(partitions.len());
            for (position, partition) in partitions {
                requested.insert(partition.tp.clone(), position);
                asked.push(partition);
            }
            pending.push(answer_from(leader, conn.id(), conn.send(Request::OffsetForLeaderEpoch(asked)), timeout));
        }
        for ((leader, conn), answer) in join_all(pending).await {
            match answer {
                Ok(Response::OffsetForLeaderEpoch(answers)) => {
                    for (tp, answer) in answers {
                        let Some(requested) = requested.get(&tp) else { continue };
                        if answer.error.is_some() {
                            // FENCED / UNKNOWN_LEADER_EPOCH, not the leader: this
                            // partition is retried after a refresh.
                            self.need_metadata = true;
                            continue;
                        }
                        self.complete_validation(tp, requested, &answer);
                    }
                }
                Ok(_) => self.need_metadata = true,
                Err(_) => self.connection_failed(leader, conn),
            }
        }
    }

    /// The connection a request to `leader` goes on now ([`NodeConnections::usable`]);
    /// `None`, and its partitions wait for a later poll, when the leader is in reconnect
    /// backoff or the metadata lists no broker by its id (then an update is asked for:
    /// `Metadata.currentLeader` gives no leader for it).
    fn connection_to(&mut self, leader: BrokerId) -> Option<&Connection<Request, Response>> {
        match self.connections.usable(leader, self.view.broker_addr(leader)) {
            Usable::Yes(conn) => Some(conn),
            Usable::BackingOff => None,
            Usable::UnknownBroker => {
                self.need_metadata = true;
                None
            }
        }
    }

    /// A request to `leader` on connection `conn` got no answer: the connection is
    /// closed and the leader goes into reconnect backoff, as Kafka's `NetworkClient`
    /// does, and the metadata is refreshed, since the leader may have moved.
    fn connection_failed(&mut self, leader: BrokerId, conn: ConnId) {
        self.connections.disconnect(leader, conn);
        self.need_metadata = true;
    }

    /// Completes the validation of `tp`'s position by its leader's answer.
    fn complete_validation(
        &mut self,
        tp: TopicPartition,
        requested: &FetchPosition,
        answer: &crate::protocol::OffsetForLeaderEpochResponse,
    ) {
        let Some(position) = self.positions.get_mut(&tp) else { return };
        match position.complete_validation(requested, answer, self.config.auto_offset_reset) {
            Validation::Ignored => {}
            // Validated against, or clamped to, the log the metadata now names: for the
            // history, the position belongs to that topic (another one, when the name
            // was deleted and created again).
            Validation::Confirmed | Validation::Rewound { .. } => {
                self.view.topic_ids().set_position(&tp, self.view.topic_id(&tp));
            }
            Validation::Reset => {
                self.positions.remove(&tp);
            }
            Validation::Raised(truncation) => {
                self.pending_errors.insert(tp.clone(), ConsumerError::LogTruncation { tp, truncation });
            }
        }
    }
}

/// Waits for a leader's answer, paired with the leader and the connection it came on, so
/// that answers awaited together ([`join_all`], which polls in order: deterministic) say
/// whose they are.
async fn answer_from(
    leader: BrokerId,
    conn: ConnId,
    response: PendingResponse<Response>,
    timeout: Duration,
) -> ((BrokerId, ConnId), Result<Response, NetError>) {
    ((leader, conn), response.wait(timeout).await)
}

mod fetching;
mod offset_lookups;

/// The topics a Metadata request for `assignment` names: each once, in the order the
/// assignment first names it, as Kafka's consumer asks for a set of topics
/// (`ConsumerMetadata.newMetadataRequestBuilder`).
fn metadata_topics(assignment: &[TopicPartition]) -> Vec<String> {
    let mut named = BTreeSet::new();
    assignment.iter().filter(|tp| named.insert(&*tp.topic)).map(|tp| tp.topic.to_string()).collect()
}

#[cfg(test)]
mod tests;

//! The consumer in standalone `assign` mode: it fetches its assigned partitions from
//! their leaders, keeps a position per partition, resets a missing or out-of-range
//! position by `auto.offset.reset`, and refreshes metadata when a leader moves. From
//! Kafka 2.3 (KIP-320's consumer side) it also validates its positions after a leader
//! change with OffsetsForLeaderEpoch and rewinds past log truncation (see
//! [`position`](super::position)).
//! (Group membership and offset commits build on this in the consumer-group work.)

use super::backoff::RetryBackoff;
use super::fetch_buffer::{CompletedFetch, FetchBuffer, FetchOutcome, InFlightFetches};
use super::isolation::{fetched_items, Fetched};
use super::metadata::ClusterView;
use super::position::{FetchPosition, LeaderAndEpoch, LogTruncation, PartitionPosition, Validation};
use crate::protocol::{
    BrokerId, ErrorCode, FetchPartition, FetchRequest, IsolationLevel, LeaderEpoch, ListOffsetsPartition,
    ListOffsetsRequest, Offset, OffsetForLeaderEpochPartition, OffsetReset, OffsetSpec, OffsetValidation, Request,
    Response, TopicId, TopicPartition,
};
use crate::sim::net::{Addr, NetError, NodeNet, PendingResponse};
use futures_util::future::join_all;
use madsim::time::{sleep, Instant};
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
        let mut view = ClusterView::new(net, config.bootstrap.clone());
        view.allow_auto_topic_creation(config.allow_auto_create_topics);
        let refresh_backoff = RetryBackoff::new(config.retry_backoff_ms, config.retry_backoff_max_ms);
        view.set_refresh_backoff(refresh_backoff, Duration::from_millis(config.metadata_max_age_ms));
        view.set_rejects_stale_metadata(config.rejects_stale_metadata);
        Consumer {
            config,
            view,
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

    /// The leader's high watermark for a partition (ListOffsets latest; the last stable
    /// offset for `read_committed`), if reachable: [`end_offsets`](Self::end_offsets)
    /// for one partition.
    pub async fn end_offset(&mut self, tp: &TopicPartition) -> Option<Offset> {
        self.end_offsets(std::slice::from_ref(tp)).await.remove(tp)
    }

    /// Kafka's `endOffsets(Collection)`: each partition's end offset (ListOffsets latest:
    /// the high watermark, or the last stable offset for `read_committed`), asked of
    /// every leader at once, one request per leader (`OffsetFetcher.fetchOffsetsByTimes`
    /// → `groupListOffsetRequests`). A partition whose leader could not answer is left
    /// out (Kafka's blocking call retries until its timeout, then throws).
    pub async fn end_offsets(&mut self, partitions: &[TopicPartition]) -> BTreeMap<TopicPartition, Offset> {
        let wanted: Vec<_> = partitions.iter().map(|tp| (tp.clone(), OffsetSpec::Latest)).collect();
        let isolation_level = self.config.isolation_level;
        found_offsets(self.list_offsets_at(&wanted, isolation_level).await)
    }

    /// The leader's log start (`Earliest`) or end (`Latest`: the high watermark, or the
    /// last stable offset for `read_committed`) offset, if reachable: the admin client's
    /// `listOffsets` with `OffsetSpec.earliest()` or `latest()`. A timestamp is looked up
    /// with [`offsets_for_times`](Self::offsets_for_times) instead.
    pub async fn log_offset(&mut self, tp: &TopicPartition, spec: OffsetSpec) -> Option<Offset> {
        let isolation_level = self.config.isolation_level;
        let mut found = self.list_offsets_at(&[(tp.clone(), spec)], isolation_level).await;
        found.remove(tp).and_then(|(offset, _)| offset)
    }

    /// Each partition's high watermark whatever this consumer's `isolation.level`
    /// (ListOffsets latest at `read_uncommitted`, as Kafka's admin `listOffsets` with
    /// `OffsetSpec.latest()` and the default isolation answers), one request per leader,
    /// all at once; a partition whose leader could not answer is left out. A
    /// `read_committed` consumer compares them with [`Consumer::end_offsets`] to see how
    /// far an unstable transaction holds each back.
    pub async fn high_watermarks(&mut self, partitions: &[TopicPartition]) -> BTreeMap<TopicPartition, Offset> {
        let wanted: Vec<_> = partitions.iter().map(|tp| (tp.clone(), OffsetSpec::Latest)).collect();
        found_offsets(self.list_offsets_at(&wanted, IsolationLevel::ReadUncommitted).await)
    }

    /// Kafka's `offsetsForTimes`: for each partition, the first offset whose record
    /// timestamp is at or after the given time (in milliseconds), from the leader's time
    /// index, never below its log start. One ListOffsets per leader, all in flight at
    /// once (`OffsetFetcher.fetchOffsetsByTimes` → `groupListOffsetRequests`). A
    /// partition with no record that recent below the high watermark maps to `None`, as
    /// Kafka's client maps it to null (the broker answers offset -1). A partition whose
    /// leader could not answer is left out (Kafka throws a timeout). Positions do not
    /// change: [`Consumer::seek`] to the answers to start reading there.
    pub async fn offsets_for_times(
        &mut self,
        timestamps_ms: &BTreeMap<TopicPartition, u64>,
    ) -> BTreeMap<TopicPartition, Option<Offset>> {
        if self.need_metadata {
            let topics: Vec<String> = timestamps_ms.keys().map(|tp| tp.topic.to_string()).collect();
            let timeout = Duration::from_millis(self.config.request_timeout_ms);
            if self.view.refresh(&topics, timeout).await {
                self.need_metadata = false;
            }
        }
        let wanted: Vec<_> = timestamps_ms.iter().map(|(tp, &ms)| (tp.clone(), OffsetSpec::Timestamp(ms))).collect();
        let isolation_level = self.config.isolation_level;
        let found = self.list_offsets_at(&wanted, isolation_level).await;
        found.into_iter().map(|(tp, (offset, _))| (tp, offset)).collect()
    }

    /// Kafka's blocking `offsetsForTimes(timestamps, timeout)` (`OffsetFetcher.offsetsForTimes`):
    /// [`offsets_for_times`](Self::offsets_for_times), asked again for the partitions
    /// whose leader could not answer, after `retry.backoff.ms` and with the metadata
    /// refreshed, until every partition has its answer. `None` when `timeout`
    /// (`default.api.timeout.ms`) passes first: Kafka throws a TimeoutException and the
    /// answers it had are lost.
    pub async fn offsets_for_times_within(
        &mut self,
        timestamps_ms: &BTreeMap<TopicPartition, u64>,
        timeout: Duration,
    ) -> Option<BTreeMap<TopicPartition, Option<Offset>>> {
        let deadline = madsim::time::Instant::now() + timeout;
        let mut found = BTreeMap::new();
        let mut missing = timestamps_ms.clone();
        loop {
            found.extend(self.offsets_for_times(&missing).await);
            missing.retain(|tp, _| !found.contains_key(tp));
            if missing.is_empty() {
                return Some(found);
            }
            if madsim::time::Instant::now() >= deadline {
                return None;
            }
            self.need_metadata = true;
            sleep(Duration::from_millis(self.config.retry_backoff_ms)).await;
        }
    }

    /// ListOffsets for many partitions, each with its spec, at one isolation level: the
    /// partitions grouped by leader, one request per leader, every request sent before
    /// any answer is awaited (Kafka's `OffsetFetcher.groupListOffsetRequests` and
    /// `sendListOffsetRequest` per node). Each partition answered maps to what its leader
    /// found (`None` when no offset matches, a timestamp past every record) and the topic
    /// whose log answered; one whose leader is unknown, unreachable or answered an error
    /// is left out, and the metadata is refreshed on the next poll.
    async fn list_offsets_at(
        &mut self,
        wanted: &[(TopicPartition, OffsetSpec)],
        isolation_level: IsolationLevel,
    ) -> BTreeMap<TopicPartition, (Option<Offset>, Option<TopicId>)> {
        let timeout = Duration::from_millis(self.config.request_timeout_ms);
        let mut by_leader: BTreeMap<BrokerId, Vec<ListOffsetsPartition>> = BTreeMap::new();
        for (tp, spec) in wanted {
            match self.view.leader(tp) {
                Some((leader, _)) => {
                    by_leader.entry(leader).or_default().push(ListOffsetsPartition { tp: tp.clone(), spec: *spec })
                }
                None => self.need_metadata = true,
            }
        }
        let mut pending = Vec::new();
        for (leader, partitions) in by_leader {
            let Some(conn) = self.view.connection(leader) else { continue };
            let request = Request::ListOffsets(ListOffsetsRequest { partitions, isolation_level });
            pending.push(answer_from(leader, conn.send(request), timeout));
        }
        let mut found = BTreeMap::new();
        for (leader, answer) in join_all(pending).await {
            match answer {
                Ok(Response::ListOffsets(parts)) => {
                    for part in parts {
                        match part.error {
                            None => {
                                found.insert(part.tp, (part.offset, part.topic_id));
                            }
                            // NOT_LEADER_OR_FOLLOWER, UNKNOWN_TOPIC_OR_PARTITION...: this
                            // partition only, after a metadata refresh
                            // (`OffsetFetcher.handleListOffsetResponse` retries it).
                            Some(_) => self.need_metadata = true,
                        }
                    }
                }
                Ok(_) => self.need_metadata = true,
                Err(_) => self.connection_failed(leader),
            }
        }
        found
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
            false => self.assignment.iter().map(|tp| tp.topic.to_string()).collect(),
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

    /// Kafka's `poll(timeout)` with kafkasim's [`APPLICATION_POLL_TIMEOUT`]: returns
    /// fetched records, at most `max.poll.records`, advancing the positions past them.
    /// Fails, returning no records, when a partition needs the application to seek
    /// (only with `auto.offset.reset = "none"`): as Kafka's `poll` throws.
    pub async fn poll(&mut self) -> Result<Vec<ConsumedRecord>, ConsumerError> {
        self.poll_within(APPLICATION_POLL_TIMEOUT).await
    }

    /// One round of Kafka's `poll(timeout)` (`ClassicKafkaConsumer.pollForFetches`):
    /// returns what earlier fetches left buffered if there is any; otherwise sends a
    /// fetch to every leader of a fetchable partition that has none in flight and waits,
    /// at most `timeout`, until a fetch in flight is answered, then returns what the
    /// answers hold. A fetch not answered by then stays in flight (its answer is
    /// returned by a later poll), and a leader with a fetch in flight is sent no other.
    /// After returning records the next fetches go out at once, as Kafka's `poll` sends
    /// them before it returns ("pipelining while the user is handling the fetched
    /// records").
    ///
    /// Simplified: Kafka's `poll` repeats the round until records arrive or its timeout
    /// passes; kafkasim's returns after the first round that got an answer, and its
    /// application polls again after its `poll_interval_ms`.
    pub async fn poll_within(&mut self, timeout: Duration) -> Result<Vec<ConsumedRecord>, ConsumerError> {
        let until = Instant::now() + timeout;
        let request_timeout = Duration::from_millis(self.config.request_timeout_ms);
        // Kafka's `Metadata.updateRequested` or the cached metadata older than
        // `metadata.max.age.ms` (`Metadata.timeToNextUpdate`).
        if self.metadata_due() {
            self.refresh_metadata(request_timeout).await;
        }
        self.raise_pending_error()?;
        self.reset_missing_positions().await;
        self.raise_pending_error()?;
        self.validate_positions().await;
        self.raise_pending_error()?;
        // Answers that arrived since the last poll.
        let arrived = self.in_flight.settle(Instant::now()).await;
        self.take_answers(arrived);
        if let Some(records) = self.collect()? {
            self.send_fetches();
            return Ok(records);
        }
        let sent = self.send_fetches();
        if !self.assignment.is_empty() && self.assignment.iter().all(|tp| self.is_paused(tp)) {
            // Nothing to fetch by the application's choice: no leader to look up, and no
            // answer in flight to wait for (simplified: Kafka's poll waits its timeout).
            return Ok(Vec::new());
        }
        if !sent && self.in_flight.is_empty() {
            // No leader known for anything to fetch: wait for the metadata update that
            // asks for one, at most the refresh backoff (Kafka caps the poll's wait at
            // `retry.backoff.ms` while positions are missing).
            self.need_metadata = true;
            sleep(timeout.min(Duration::from_millis(100))).await;
            return Ok(Vec::new());
        }
        let answered = self.in_flight.settle(until).await;
        self.take_answers(answered);
        let records = self.collect()?;
        if records.is_some() {
            self.send_fetches();
        }
        Ok(records.unwrap_or_default())
    }

    /// Sends a fetch to every leader of a partition that can be fetched now: assigned,
    /// not paused, with a validated position, nothing buffered, and no fetch in flight
    /// to its leader (`AbstractFetch.prepareFetchRequests`). Returns whether one was sent.
    fn send_fetches(&mut self) -> bool {
        let kip320 = self.config.offset_validation == OffsetValidation::Kip320;
        let buffered = self.buffer.partitions();
        let mut by_leader: BTreeMap<BrokerId, Vec<FetchPartition>> = BTreeMap::new();
        for tp in &self.fetch_order {
            if self.paused.contains(tp) || buffered.contains(tp) {
                continue;
            }
            let Some(position) = self.positions.get(tp) else { continue };
            let Some((leader, epoch)) = self.view.leader(tp) else {
                // `AbstractFetch.prepareFetchRequests`: "Requesting metadata update for
                // partition ... since the position ... is missing the current leader node".
                // A partition can be missing from the cached metadata altogether (an answer
                // from a broker whose metadata cache did not hold it yet), which asks for
                // no update by itself.
                self.need_metadata = true;
                continue;
            };
            if !position.is_fetchable() || self.in_flight.awaits(leader) {
                continue; // Awaiting validation, or the previous fetch's answer.
            }
            by_leader.entry(leader).or_default().push(FetchPartition {
                tp: tp.clone(),
                fetch_offset: position.position.offset,
                // Consumers before 2.3 send no epoch (Fetch v8 and older): no fencing.
                current_leader_epoch: kip320.then_some(epoch),
                topic_id: self.view.topic_id(tp).filter(|_| self.config.fetch_topic_ids),
            });
        }
        let max_wait_ms = self.config.fetch_max_wait_ms;
        let deadline = Instant::now() + Duration::from_millis(self.config.request_timeout_ms + max_wait_ms);
        let mut sent = false;
        for (leader, partitions) in by_leader {
            let Some(conn) = self.view.connection(leader) else {
                // A leader id whose broker the metadata does not list has no known node:
                // Kafka's `Metadata.currentLeader` gives no leader then, and
                // `AbstractFetch.prepareFetchRequests` requests a metadata update instead
                // of fetching (without one the partition waited out metadata.max.age.ms).
                self.need_metadata = true;
                continue;
            };
            let fetched_from = partitions.iter().map(|p| (p.tp.clone(), p.fetch_offset)).collect();
            let request = FetchRequest {
                replica_id: None,
                replica_broker_epoch: None,
                max_wait_ms,
                max_records: self.config.max_poll_records,
                partitions,
                isolation_level: self.config.isolation_level,
            };
            self.in_flight.sent(leader, conn.send(Request::Fetch(request)), deadline, fetched_from);
            sent = true;
        }
        sent
    }

    /// Takes in settled fetches: each answered partition joins the buffer; a leader
    /// that did not answer is disconnected.
    fn take_answers(&mut self, settled: Vec<(BrokerId, FetchOutcome)>) {
        for (leader, outcome) in settled {
            match outcome {
                FetchOutcome::Answered(parts) => {
                    for (answer, fetch_offset) in parts {
                        self.buffer.push(CompletedFetch { answer, fetch_offset, items: None });
                    }
                }
                FetchOutcome::Failed(_) => self.connection_failed(leader),
            }
        }
    }

    /// Returns buffered records, at most `max.poll.records`, oldest answer first
    /// (Kafka's `FetchCollector.collectFetch`), advancing each partition's position past
    /// what is returned. `None` when nothing was returned and no position moved (Kafka's
    /// empty `Fetch`); records of a paused partition stay buffered. An error found in an
    /// answer is raised now if nothing was returned, otherwise by the next poll.
    fn collect(&mut self) -> Result<Option<Vec<ConsumedRecord>>, ConsumerError> {
        let mut remaining = self.config.max_poll_records;
        let mut records = Vec::new();
        let mut moved = false;
        let mut paused = Vec::new();
        while remaining > 0 {
            let Some(mut fetch) = self.buffer.pop() else { break };
            if self.paused.contains(fetch.tp()) {
                paused.push(fetch);
                continue;
            }
            if !self.still_current(&fetch) || (fetch.items.is_none() && !self.initialize(&mut fetch)) {
                continue;
            }
            moved |= self.drain(&mut fetch, &mut remaining, &mut records);
            if fetch.items.as_ref().is_some_and(|items| !items.is_empty()) {
                self.buffer.put_back_in_line(fetch);
                break;
            }
            if fetch.read_any_batch() {
                self.move_to_end(&fetch.answer.tp);
            }
        }
        for fetch in paused {
            self.buffer.push(fetch);
        }
        if records.is_empty() && !moved {
            self.raise_pending_error()?;
            return Ok(None);
        }
        Ok(Some(records))
    }

    /// Whether a buffered answer still fits the partition's state: assigned, fetchable,
    /// and its position where the answer continues. Otherwise it is dropped (a
    /// rebalance took the partition, the application sought elsewhere, a reset or a
    /// validation is pending: Kafka's `FetchCollector.initialize` "Discarding stale
    /// fetch response" and `fetchRecords` "Ignoring fetched records").
    fn still_current(&self, fetch: &CompletedFetch) -> bool {
        let tp = fetch.tp();
        self.assignment.contains(tp)
            && self
                .positions
                .get(tp)
                .is_some_and(|position| position.is_fetchable() && position.position.offset == fetch.fetch_offset)
    }

    /// Takes in a buffered answer when the consumer first reaches it (Kafka's
    /// `FetchCollector.initialize`): an error is handled (`handleInitializeErrors`) and
    /// the answer dropped; otherwise its items are set. Returns whether its records may
    /// be returned.
    fn initialize(&mut self, fetch: &mut CompletedFetch) -> bool {
        let tp = fetch.answer.tp.clone();
        match fetch.answer.error {
            None => {}
            // `handleInitializeErrors`: with a reset policy the position is reset
            // (`requestOffsetResetIfPartitionAssigned`, then ListOffsets by
            // `auto.offset.reset`); without one the application gets the exception.
            Some(ErrorCode::OffsetOutOfRange) => {
                self.move_to_end(&tp);
                if self.config.auto_offset_reset == OffsetReset::None {
                    let error = ConsumerError::OffsetOutOfRange { tp: tp.clone(), offset: fetch.fetch_offset };
                    self.pending_errors.insert(tp, error);
                } else {
                    self.positions.remove(&tp);
                }
                return false;
            }
            // FENCED_LEADER_EPOCH, UNKNOWN_LEADER_EPOCH, NOT_LEADER_OR_FOLLOWER...:
            // refresh metadata; a new epoch there starts validation (KIP-320).
            Some(_) => {
                self.move_to_end(&tp);
                self.need_metadata = true;
                return false;
            }
        }
        let answer = &fetch.answer;
        let isolation = self.config.isolation_level;
        let items = fetched_items(&answer.batches, &answer.aborted_transactions, isolation, fetch.fetch_offset);
        fetch.items = Some(items.into());
        true
    }

    /// Returns the records of an initialized answer, at most `remaining`, and moves the
    /// position past them and past the batches skipped on the way (markers, aborted
    /// transactions), into the epoch of the last batch passed (Kafka's
    /// `CompletedFetch.fetchRecords` and `nextFetchOffset`). Returns whether the position
    /// moved.
    fn drain(&mut self, fetch: &mut CompletedFetch, remaining: &mut usize, records: &mut Vec<ConsumedRecord>) -> bool {
        let tp = fetch.answer.tp.clone();
        let topic_id = fetch.answer.topic_id;
        let Some(position) = self.positions.get_mut(&tp) else { return false };
        let items = fetch.items.as_mut().expect("initialized");
        let returned_before = records.len();
        let mut moved = false;
        while let Some(item) = items.front().copied() {
            match item {
                Fetched::Record { .. } if *remaining == 0 => break,
                Fetched::Record { offset, value, timestamp_ms, epoch } => {
                    records.push(ConsumedRecord { tp: tp.clone(), offset, value, timestamp_ms, topic_id });
                    *remaining -= 1;
                    position.advance(offset + 1, epoch);
                    moved = true;
                }
                Fetched::Skipped { next_offset, epoch } if next_offset > position.position.offset => {
                    position.advance(next_offset, epoch);
                    moved = true;
                }
                Fetched::Skipped { .. } => {}
            }
            items.pop_front();
        }
        // What is left of the answer continues from the new position.
        fetch.fetch_offset = position.position.offset;
        if records.len() > returned_before {
            // For the history: the position now belongs to the topic whose log answered.
            self.view.topic_ids().set_position(&tp, topic_id);
        }
        moved
    }

    /// Moves `tp` to the end of the fetch order (Kafka's `movePartitionToEnd`).
    fn move_to_end(&mut self, tp: &TopicPartition) {
        if let Some(index) = self.fetch_order.iter().position(|held| held == tp) {
            let moved = self.fetch_order.remove(index);
            self.fetch_order.push(moved);
        }
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
            let Some(conn) = self.view.connection(leader) else {
                self.need_metadata = true;
                continue;
            };
            let mut asked = Vec::with_capacity(partitions.len());
            for (position, partition) in partitions {
                requested.insert(partition.tp.clone(), position);
                asked.push(partition);
            }
            pending.push(answer_from(leader, conn.send(Request::OffsetForLeaderEpoch(asked)), timeout));
        }
        for (leader, answer) in join_all(pending).await {
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
                Err(_) => self.connection_failed(leader),
            }
        }
    }

    /// A request to `leader` got no answer: the connection is closed, as Kafka's
    /// NetworkClient does, and the metadata refreshed, since the leader may have moved.
    fn connection_failed(&mut self, leader: BrokerId) {
        self.view.disconnect(leader);
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

/// Waits for a leader's answer, paired with the leader, so that answers awaited
/// together ([`join_all`], which polls in order: deterministic) say whose they are.
async fn answer_from(
    leader: BrokerId,
    response: PendingResponse<Response>,
    timeout: Duration,
) -> (BrokerId, Result<Response, NetError>) {
    (leader, response.wait(timeout).await)
}

/// The partitions a ListOffsets lookup found an offset for, with that offset.
fn found_offsets(
    found: BTreeMap<TopicPartition, (Option<Offset>, Option<TopicId>)>,
) -> BTreeMap<TopicPartition, Offset> {
    found.into_iter().filter_map(|(tp, (offset, _))| Some((tp, offset?))).collect()
}

#[cfg(test)]
#[path = "consumer_tests.rs"]
mod tests;

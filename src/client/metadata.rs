//! A client's view of the cluster: brokers and partition leaders, refreshed with
//! Metadata requests (Kafka's `Metadata`).

use super::backoff::RetryBackoff;
use super::connection_states::ConnectionSettings;
use super::last_seen_epochs::LastSeenEpochs;
use crate::protocol::{
    BrokerId, LeaderEpoch, PartitionMetadata, ProducerIdAndEpoch, Request, Response, TopicId, TopicPartition,
};
use crate::sim::clock;
use crate::sim::net::{Addr, Connection, NodeNet};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The topic ids a client's metadata holds, by topic name, shared with whoever records
/// the client's operations: the history names a partition after the topic the client
/// believes in (see [`crate::history::incarnations`]). Client logic never reads it.
/// A consumer also publishes the topic each of its positions belongs to: the one whose
/// log its last fetch read, or the one its metadata knew when it looked the position up
/// or was told it (a seek, a committed offset).
#[derive(Clone, Debug, Default)]
pub struct TopicIds(Arc<Mutex<PublishedIds>>);

#[derive(Debug, Default)]
struct PublishedIds {
    by_topic: BTreeMap<Arc<str>, TopicId>,
    by_position: BTreeMap<TopicPartition, Option<TopicId>>,
}

impl TopicIds {
    fn lock(&self) -> std::sync::MutexGuard<'_, PublishedIds> {
        self.0.lock().expect("topic ids poisoned")
    }

    /// The id the client's metadata holds for `topic`, if it knows the topic.
    pub fn get(&self, topic: &str) -> Option<TopicId> {
        self.lock().by_topic.get(topic).copied()
    }

    /// The topic a consumer's position in `tp` belongs to, if it has a position and
    /// knows the topic.
    pub fn of_position(&self, tp: &TopicPartition) -> Option<TopicId> {
        self.lock().by_position.get(tp).copied().flatten()
    }

    /// Records the topic of the consumer's position in `tp`.
    pub(crate) fn set_position(&self, tp: &TopicPartition, id: Option<TopicId>) {
        self.set_positions([(tp, id)]);
    }

    /// Records the topics of several positions at once (one lock per poll).
    pub(crate) fn set_positions<'t>(&self, positions: impl IntoIterator<Item = (&'t TopicPartition, Option<TopicId>)>) {
        let mut ids = self.lock();
        for (tp, id) in positions {
            ids.by_position.insert(tp.clone(), id);
        }
    }

    /// Forgets the positions outside `assigned`.
    pub(crate) fn retain_positions(&self, assigned: &[TopicPartition]) {
        self.lock().by_position.retain(|tp, _| assigned.contains(tp));
    }

    fn publish(&self, partitions: &BTreeMap<TopicPartition, PartitionMetadata>) {
        // Collected, not inserted one by one: a sorted bulk build (the last partition's
        // id wins for a topic, as sequential inserts would have it).
        self.lock().by_topic = partitions.values().map(|p| (p.tp.topic.clone(), p.topic_id)).collect();
    }
}

/// Cached cluster metadata, and the requests that refresh it.
pub struct ClusterView {
    net: NodeNet<Request, Response>,
    bootstrap: Vec<Addr>,
    brokers: BTreeMap<BrokerId, Addr>,
    partitions: BTreeMap<TopicPartition, PartitionMetadata>,
    /// The client's connection settings: its refreshes' connections give up their
    /// handshake at the first setup timeout.
    connection_settings: ConnectionSettings,
    /// Rotates which broker is asked for metadata, so one dead broker does not block.
    next_bootstrap: usize,
    /// The brokers whose last connection for a request of the view's own failed, each in
    /// reconnect backoff (see [`ClusterView::next_broker`]).
    unreachable: BTreeMap<Addr, Unreachable>,
    /// When the cache was last refreshed (Kafka's `Metadata.lastSuccessfulRefreshMs`).
    refreshed_at: Option<madsim::time::Instant>,
    /// When a refresh was last answered or failed (Kafka's `Metadata.lastRefreshMs`):
    /// the next one waits the refresh backoff from here.
    attempted_at: Option<madsim::time::Instant>,
    /// The cached topic ids, published for the history.
    topic_ids: TopicIds,
    /// Whether a refresh naming topics lets the broker create those it does not know
    /// (Kafka's `allowAutoTopicCreation`, see [`ClusterView::allow_auto_topic_creation`]).
    allow_auto_topic_creation: bool,
    /// Whether the last answer asks for another refresh: a topic it named was unknown,
    /// or a partition had no leader (see [`ClusterView::update_requested`]).
    update_requested: bool,
    /// How many refreshes were answered: the cache's generation (see
    /// [`ClusterView::generation`]).
    refreshes: u64,
    /// The wait between refreshes (see [`RefreshBackoff`]).
    backoff: RefreshBackoff,
    /// The leader epoch last seen per partition, which stale answers cannot take back
    /// (see [`LastSeenEpochs`]).
    last_seen_epochs: LastSeenEpochs,
}

/// A broker the view could not reach: how many times in a row, and until when it is left
/// out (`ClusterConnectionStates`' reconnect backoff).
#[derive(Clone, Copy, Debug)]
struct Unreachable {
    failures: u64,
    until: madsim::time::Instant,
}

/// Kafka's `Metadata` refresh backoff (`timeToAllowUpdate`). Before Kafka 3.7 a refresh
/// waits `retry.backoff.ms` after the last one, answered or failed. From 3.7 (KIP-580,
/// KAFKA-9800) the wait grows exponentially to `retry.backoff.max.ms` with two counts:
/// `attempts`, the refreshes that failed in a row, and `equivalentResponseCount`, the
/// answered refreshes in a row that moved no partition forward (no new partition, no
/// greater leader epoch, no new topic id): an answer that repeats what the client knows
/// while its requests keep failing on stale metadata backs off as a failure does.
#[derive(Clone, Debug)]
struct RefreshBackoff {
    /// `retry.backoff.ms` and, from 3.7, `retry.backoff.max.ms`.
    policy: RetryBackoff,
    /// `metadata.max.age.ms`: a refresh of an expired cache is periodic and resets the
    /// equivalent responses (`timeToAllowUpdate`).
    max_age: Duration,
    /// `Metadata.attempts`: failed refreshes since the last answered one.
    attempts: u64,
    /// `Metadata.equivalentResponseCount`.
    equivalent_responses: u64,
    /// The wait the failed attempts ask for, drawn when the last refresh ended. Kafka
    /// draws its jitter anew at every `timeToAllowUpdate`; kafkasim draws once per
    /// refresh, from the seeded RNG: one wait in the same ±20% band.
    after_attempts: Duration,
    /// The wait the equivalent responses ask for, drawn when the last refresh ended.
    after_equivalent_responses: Duration,
}

impl RefreshBackoff {
    fn new(policy: RetryBackoff, max_age: Duration) -> Self {
        // Until a refresh ends nothing waits; the first draw comes with it.
        RefreshBackoff {
            policy,
            max_age,
            attempts: 0,
            equivalent_responses: 0,
            after_attempts: Duration::from_millis(policy.initial_ms()),
            after_equivalent_responses: Duration::ZERO,
        }
    }

    /// An answered refresh (`Metadata.update`): the attempts start again, and the answer
    /// counts as equivalent unless it `moved` a partition forward (`updateLatestMetadata`
    /// clears the count then, see [`LastSeenEpochs`]); a periodic refresh (`expired`: the
    /// cache was older than `metadata.max.age.ms`) cleared the count before
    /// (`timeToAllowUpdate`).
    fn answered(&mut self, moved: bool, expired: bool) {
        if !self.policy.is_exponential() {
            return;
        }
        self.attempts = 0;
        self.equivalent_responses = if moved {
            0
        } else if expired {
            1
        } else {
            self.equivalent_responses + 1
        };
        self.draw();
    }

    /// `Metadata.failedUpdate`: one more failed attempt, and the equivalent responses
    /// cleared.
    fn failed(&mut self) {
        if self.policy.is_exponential() {
            self.attempts += 1;
            self.equivalent_responses = 0;
            self.draw();
        }
    }

    /// Draws the waits after a refresh ended (`timeToAllowUpdate`'s two terms):
    /// `backoff(attempts - 1)` (`backoff(0)` when none failed) and, when answers
    /// repeated, `backoff(equivalentResponseCount - 1)`. A fixed backoff draws nothing.
    fn draw(&mut self) {
        if !self.policy.is_exponential() {
            return;
        }
        self.after_attempts = self.policy.backoff(self.attempts.saturating_sub(1));
        self.after_equivalent_responses = match self.equivalent_responses {
            0 => Duration::ZERO,
            n => self.policy.backoff(n - 1),
        };
    }

    /// The wait after the last refresh. `expired`: the cache is older than
    /// `metadata.max.age.ms`, which clears the equivalent responses.
    fn wait(&self, expired: bool) -> Duration {
        match self.policy {
            RetryBackoff::Fixed { ms } => Duration::from_millis(ms),
            RetryBackoff::Exponential { .. } if expired || self.equivalent_responses == 0 => self.after_attempts,
            RetryBackoff::Exponential { .. } => self.after_attempts.max(self.after_equivalent_responses),
        }
    }
}

impl ClusterView {
    /// A view that knows only its bootstrap servers.
    pub fn new(net: NodeNet<Request, Response>, bootstrap: Vec<Addr>) -> Self {
        ClusterView {
            net,
            bootstrap,
            brokers: BTreeMap::new(),
            partitions: BTreeMap::new(),
            connection_settings: ConnectionSettings::default(),
            next_bootstrap: 0,
            unreachable: BTreeMap::new(),
            refreshed_at: None,
            attempted_at: None,
            topic_ids: TopicIds::default(),
            allow_auto_topic_creation: false,
            update_requested: false,
            refreshes: 0,
            backoff: RefreshBackoff::new(RetryBackoff::Fixed { ms: 100 }, Duration::from_secs(300)),
            last_seen_epochs: LastSeenEpochs::new(true),
        }
    }

    /// Sets the refresh backoff: `retry.backoff.ms` with, from Kafka 3.7,
    /// `retry.backoff.max.ms` (`backoff`), and `metadata.max.age.ms` (`max_age`, whose
    /// expiry clears KIP-580's equivalent responses). Until set: a fixed 100 ms.
    pub fn set_refresh_backoff(&mut self, backoff: RetryBackoff, max_age: Duration) {
        self.backoff = RefreshBackoff::new(backoff, max_age);
    }

    /// The client's connection settings (Kafka's current defaults until set).
    pub fn set_connection_settings(&mut self, settings: ConnectionSettings) {
        self.connection_settings = settings;
    }

    /// The client's connection settings.
    pub fn connection_settings(&self) -> ConnectionSettings {
        self.connection_settings
    }

    /// A connection of its own to `addr`, for one request (see
    /// `client::connection_states`' simplifications).
    fn connect_once(&self, addr: &Addr) -> Connection<Request, Response> {
        self.net.connect_with(addr, self.connection_settings.one_off(None))
    }

    /// Whether answers with an older leader epoch than one seen are ignored for that
    /// partition (Kafka 2.2+, KAFKA-7738; the default). Set before the first refresh.
    pub fn set_rejects_stale_metadata(&mut self, checked: bool) {
        self.last_seen_epochs = LastSeenEpochs::new(checked);
    }

    /// Whether the refresh backoff grows with KIP-580's counts (Kafka 3.7+).
    pub fn refresh_backoff_is_exponential(&self) -> bool {
        self.backoff.policy.is_exponential()
    }

    /// Kafka's `Metadata.requestUpdate(true)` and `requestUpdateForNewTopics`: the
    /// client wants metadata it did not have (a new topic, a new subscription, a group
    /// about to rejoin), so repeated answers no longer lengthen the wait (KIP-580).
    /// (Kafka's `requestUpdateForNewTopics` also lets the refresh go at once; kafkasim's
    /// clients wait the first backoff, in every release.)
    pub fn reset_equivalent_responses(&mut self) {
        self.backoff.equivalent_responses = 0;
    }

    /// The counts behind the next refresh's wait: failed refreshes in a row and
    /// equivalent answers in a row (KIP-580's `attempts` and `equivalentResponseCount`).
    pub fn refresh_backoff_counts(&self) -> (u64, u64) {
        (self.backoff.attempts, self.backoff.equivalent_responses)
    }

    /// Lets refreshes that name topics ask the broker to create the unknown ones: a
    /// producer always does (`ProducerMetadata`), a consumer when
    /// `allow.auto.create.topics` (`ConsumerMetadata`).
    pub fn allow_auto_topic_creation(&mut self, allow: bool) {
        self.allow_auto_topic_creation = allow;
    }

    /// The handle on the cached topic ids (see [`TopicIds`]).
    pub fn topic_ids(&self) -> TopicIds {
        self.topic_ids.clone()
    }

    /// The network handle the view connects through.
    pub fn net(&self) -> &NodeNet<Request, Response> {
        &self.net
    }

    /// The next broker to ask, rotating through known and bootstrap brokers so that one
    /// dead broker does not block the client, and leaving out those in reconnect backoff
    /// after a failed request, as Kafka's `NetworkClient.leastLoadedNode` leaves out the
    /// nodes it cannot connect to yet (`canConnect`). Simplified: with every broker in
    /// backoff, the one whose backoff ends first is asked at once, where Kafka waits for
    /// it; and the rotation stands for Kafka's choice of the connected node with the
    /// fewest requests in flight.
    fn next_broker(&mut self) -> Option<Addr> {
        let mut candidates: Vec<Addr> = self.brokers.values().cloned().collect();
        for addr in &self.bootstrap {
            if !candidates.contains(addr) {
                candidates.push(addr.clone());
            }
        }
        if candidates.is_empty() {
            return None;
        }
        let now = clock::now();
        let backoff_ends = |addr: &Addr| self.unreachable.get(addr).map(|u| u.until).filter(|until| *until > now);
        let start = self.next_bootstrap % candidates.len();
        let rotation = (0..candidates.len()).map(|i| (start + i) % candidates.len());
        let chosen = rotation
            .clone()
            .find(|&i| backoff_ends(&candidates[i]).is_none())
            .or_else(|| rotation.min_by_key(|&i| backoff_ends(&candidates[i])))
            .expect("a candidate");
        self.next_bootstrap = chosen + 1;
        Some(candidates.swap_remove(chosen))
    }

    /// Notes how a request of the view's own to `addr` went: a failed connection (no
    /// answer) puts the broker in reconnect backoff, growing with each failure in a row;
    /// an answer ends it.
    fn note_reachable(&mut self, addr: &Addr, answered: bool) {
        if answered {
            self.unreachable.remove(addr);
            return;
        }
        let failures = self.unreachable.get(addr).map_or(0, |u| u.failures);
        let until = clock::now() + self.connection_settings.reconnect_backoff.backoff(failures);
        self.unreachable.insert(addr.clone(), Unreachable { failures: failures + 1, until });
    }

    /// Asks one broker for a producer id and epoch (InitProducerId).
    pub async fn init_producer_id(&mut self, timeout: Duration) -> Option<ProducerIdAndEpoch> {
        let addr = self.next_broker()?;
        let answer = self.connect_once(&addr).call(Request::InitProducerId, timeout).await;
        self.note_reachable(&addr, answer.is_ok());
        match answer {
            Ok(Response::InitProducerId { producer_id, producer_epoch }) => {
                Some(ProducerIdAndEpoch { id: producer_id, epoch: producer_epoch })
            }
            _ => None,
        }
    }

    /// Asks one broker for metadata. Returns whether the cache was refreshed.
    pub async fn refresh(&mut self, topics: &[String], timeout: Duration) -> bool {
        let Some(addr) = self.next_broker() else { return false };
        let conn = self.connect_once(&addr);
        let request =
            Request::Metadata { topics: topics.to_vec(), allow_auto_topic_creation: self.allow_auto_topic_creation };
        let answer = conn.call(request, timeout).await;
        tracing::trace!(%addr, ok = answer.is_ok(), client = %self.net.addr(), "metadata refresh");
        self.note_reachable(&addr, answer.is_ok());
        self.attempted_at = Some(madsim::time::Instant::now());
        let Ok(Response::Metadata(metadata)) = answer else {
            self.backoff.failed();
            return false;
        };
        if metadata.brokers.is_empty() {
            // A broker that has not heard from the controller yet (Kafka's
            // `NetworkClient` ignores an empty answer: `Metadata.failedUpdate`).
            self.backoff.failed();
            return false;
        }
        let expired = self.older_than(self.backoff.max_age);
        // Judged on the answer as it came, before stale partitions are set aside (Kafka
        // asks again for any partition answered with an InvalidMetadataException).
        let leaderless = metadata.partitions.iter().any(|p| p.leader.is_none());
        let mut moved = false;
        let mut partitions = Vec::with_capacity(metadata.partitions.len());
        for answer in metadata.partitions {
            let cached = self.partitions.get(&answer.tp);
            let admitted = self.last_seen_epochs.admit(answer, cached);
            moved |= admitted.moved_forward;
            partitions.extend(admitted.metadata);
        }
        self.backoff.answered(moved, expired);
        self.brokers = metadata.brokers.iter().map(|b| (b.id, Addr::new(&b.host))).collect();
        // The response describes each topic asked for completely (every topic when none
        // is named): a topic it leaves out is unknown to the broker (deleted, say) and
        // leaves the cache, and a topic's partitions are the ones it lists (Kafka's
        // `Metadata.handleMetadataResponse` builds the cluster from the response; a
        // topic with an error contributes no partitions).
        // Kafka's `Metadata.handleMetadataResponse` requests another update for a topic
        // or partition answered with an `InvalidMetadataException` error:
        // UNKNOWN_TOPIC_OR_PARTITION for a topic (here: named but not in the answer),
        // LEADER_NOT_AVAILABLE for a partition (here: no leader).
        let answered = partitions.into_iter().map(|partition| (partition.tp.clone(), partition));
        // Rebuilt by collecting (a bulk build of sorted runs; a later entry wins, as an
        // insert would) rather than by thousands of inserts into the old map.
        self.partitions = if topics.is_empty() {
            answered.collect()
        } else {
            let kept = std::mem::take(&mut self.partitions)
                .into_iter()
                .filter(|(tp, _)| !topics.iter().any(|t| **t == *tp.topic));
            kept.chain(answered).collect()
        };
        // Whether each named topic is known, not how many partitions it has: counting
        // walks every partition of the topic, once per name.
        self.update_requested =
            leaderless || topics.iter().any(|t| TopicPartition::of_topic(&self.partitions, t).next().is_none());
        self.topic_ids.publish(&self.partitions);
        self.refreshed_at = Some(madsim::time::Instant::now());
        self.refreshes += 1;
        true
    }

    /// The cache's generation: it changes with every answered refresh, and only then, so
    /// what was computed from the cache under one generation holds while it lasts.
    pub fn generation(&self) -> u64 {
        self.refreshes
    }

    /// Whether the last answered refresh asked for another one, as Kafka's `Metadata`
    /// does after an answer with an unknown topic or a partition without a leader: the
    /// client refreshes again once its refresh backoff allows, not only at
    /// `metadata.max.age.ms`.
    pub fn update_requested(&self) -> bool {
        self.update_requested
    }

    /// When the next refresh may go, the refresh backoff after the last one was answered
    /// or failed (Kafka's `Metadata.timeToAllowUpdate`: `retry.backoff.ms`, from 3.7
    /// growing with KIP-580's counts, see [`ClusterView::set_refresh_backoff`]); `None`
    /// before the first.
    pub fn refresh_allowed_at(&self) -> Option<madsim::time::Instant> {
        let expired = self.older_than(self.backoff.max_age);
        self.attempted_at.map(|at| at + self.backoff.wait(expired))
    }

    /// Whether a refresh may go now (see [`ClusterView::refresh_allowed_at`]).
    pub fn may_refresh(&self) -> bool {
        self.refresh_allowed_at().is_none_or(|at| madsim::time::Instant::now() >= at)
    }

    /// When the cache, refreshed once already, becomes older than `max_age` (Kafka's
    /// `metadata.max.age.ms`: the client then refreshes it even without an error).
    pub fn expires_at(&self, max_age: Duration) -> Option<madsim::time::Instant> {
        self.refreshed_at.map(|at| at + max_age)
    }

    /// Whether the cache, refreshed once already, is older than `max_age`.
    pub fn older_than(&self, max_age: Duration) -> bool {
        self.expires_at(max_age).is_some_and(|at| madsim::time::Instant::now() >= at)
    }

    /// The address of `broker`, if the metadata names it.
    pub fn broker_addr(&self, broker: BrokerId) -> Option<&Addr> {
        self.brokers.get(&broker)
    }

    /// The leader of a partition and its epoch, if known.
    pub fn leader(&self, tp: &TopicPartition) -> Option<(BrokerId, LeaderEpoch)> {
        let partition = self.partitions.get(tp)?;
        Some((partition.leader?, partition.leader_epoch))
    }

    /// The id of the topic `tp` belongs to, as the cached metadata has it.
    pub fn topic_id(&self, tp: &TopicPartition) -> Option<TopicId> {
        Some(self.partitions.get(tp)?.topic_id)
    }

    /// The partitions of a topic, in order (empty if unknown).
    pub fn partitions_of(&self, topic: &str) -> Vec<TopicPartition> {
        TopicPartition::of_topic(&self.partitions, topic).map(|(tp, _)| tp.clone()).collect()
    }

    /// The partition count of `topic`, if any of its partitions is known: a range of the
    /// cache, not a count of every topic (the group leader asks on every poll).
    pub fn partition_count(&self, topic: &str) -> Option<u32> {
        let count = TopicPartition::of_topic(&self.partitions, topic).count() as u32;
        (count > 0).then_some(count)
    }

    /// The partition count of every known topic.
    pub fn partition_counts(&self) -> BTreeMap<String, u32> {
        TopicPartition::counts(self.partitions.keys())
    }

    /// The partitions of every known topic whose leader is known, in partition order
    /// (Kafka's `Cluster.availablePartitionsForTopic`).
    /// Keyed by the metadata's own topic names, which the brokers' partition maps share.
    pub fn available_partitions(&self) -> BTreeMap<Arc<str>, Vec<u32>> {
        let mut available: BTreeMap<Arc<str>, Vec<u32>> = BTreeMap::new();
        for (tp, partition) in &self.partitions {
            let entry = available.entry(tp.topic.clone()).or_default();
            if partition.leader.is_some() {
                entry.push(tp.partition);
            }
        }
        available
    }
}

/// A broker for client tests that knows no topic: it answers every Metadata request
/// with itself as the only broker and no partitions, and counts the requests.
#[cfg(test)]
pub(crate) mod test_broker {
    use crate::protocol::{BrokerEndpoint, BrokerId, MetadataResponse, PartitionMetadata, Request, Response};
    use crate::sim::net::{Addr, Network};
    use madsim::runtime::Handle;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, Mutex};

    /// Starts `broker-1` on `net`; returns how many requests it has answered so far.
    pub(crate) fn spawn_empty_broker(net: &Network<Request, Response>) -> Arc<AtomicU64> {
        spawn_broker_answering(net, Arc::default())
    }

    /// Starts `broker-1` on `net`, answering every Metadata request with the partitions
    /// `partitions` holds at the time; returns how many requests it has answered so far.
    pub(crate) fn spawn_broker_answering(
        net: &Network<Request, Response>,
        partitions: Arc<Mutex<Vec<PartitionMetadata>>>,
    ) -> Arc<AtomicU64> {
        let asked = Arc::new(AtomicU64::new(0));
        let broker = net.add_host(&Addr::new("broker-1"));
        let counter = asked.clone();
        let node = Handle::current().create_node().name("broker-1").build();
        node.spawn(async move {
            let mut listener = broker.listen();
            while let Some(mut conn) = listener.accept().await {
                let counter = counter.clone();
                let partitions = partitions.clone();
                crate::sim::tasks::spawn(async move {
                    while let Some(incoming) = conn.recv().await {
                        let (_, responder) = incoming.into_parts();
                        counter.fetch_add(1, Ordering::SeqCst);
                        let brokers = vec![BrokerEndpoint { id: BrokerId(1), host: "broker-1".into() }];
                        let partitions = partitions.lock().expect("test partitions").clone();
                        responder.reply(Response::Metadata(MetadataResponse { brokers, controller: None, partitions }));
                    }
                });
            }
        });
        asked
    }
}

#[cfg(test)]
mod tests {
    use super::test_broker::spawn_empty_broker;
    use super::*;
    use crate::sim::net::{NetConfig, Network};
    use madsim::runtime::{Handle, Runtime};
    use madsim::time::sleep;
    use std::sync::atomic::Ordering;

    #[test]
    fn the_cache_ages_from_its_last_successful_refresh() {
        Runtime::with_seed_and_config(1, madsim::Config::default()).block_on(async {
            let wire = Handle::current().create_node().name("wire").build();
            let net: Network<Request, Response> = Network::new(NetConfig::default(), wire);
            let asked = spawn_empty_broker(&net);
            let mut view = ClusterView::new(net.add_host(&Addr::new("client")), vec![Addr::new("broker-1")]);
            let max_age = Duration::from_millis(1_000);
            assert!(!view.older_than(max_age), "never refreshed: nothing to age");
            assert!(view.refresh(&[], Duration::from_secs(1)).await);
            assert_eq!(asked.load(Ordering::SeqCst), 1);
            let expiry = view.expires_at(max_age).expect("refreshed");
            sleep(Duration::from_millis(500)).await;
            assert!(!view.older_than(max_age));
            madsim::time::sleep_until(expiry).await;
            assert!(view.older_than(max_age), "metadata.max.age.ms has passed");
            assert!(view.refresh(&[], Duration::from_secs(1)).await);
            assert!(!view.older_than(max_age), "a refresh starts it again");
        });
    }

    #[test]
    fn a_refresh_waits_the_backoff_after_the_last_one_answered_or_failed() {
        Runtime::with_seed_and_config(1, madsim::Config::default()).block_on(async {
            let wire = Handle::current().create_node().name("wire").build();
            let net: Network<Request, Response> = Network::new(NetConfig::default(), wire);
            spawn_empty_broker(&net);
            let mut view = ClusterView::new(net.add_host(&Addr::new("client")), vec![Addr::new("broker-1")]);
            view.set_refresh_backoff(RetryBackoff::new(100, None), Duration::from_secs(300));
            assert!(view.may_refresh() && view.refresh_allowed_at().is_none(), "the first goes at once");
            assert!(view.refresh(&[], Duration::from_secs(1)).await);
            for _ in 0..5 {
                // Before Kafka 3.7 the same answer again and again changes nothing.
                let allowed_at = view.refresh_allowed_at().expect("answered");
                assert!(!view.may_refresh());
                madsim::time::sleep_until(allowed_at).await;
                assert!(view.may_refresh());
                assert!(view.refresh(&[], Duration::from_secs(1)).await);
                let now = madsim::time::Instant::now();
                assert_eq!(view.refresh_allowed_at(), Some(now + Duration::from_millis(100)), "a fixed 100 ms");
            }
            // A failed attempt (a broker nobody listens on) counts too.
            let mut lost = ClusterView::new(net.add_host(&Addr::new("client-2")), vec![Addr::new("broker-9")]);
            lost.set_refresh_backoff(RetryBackoff::new(100, None), Duration::from_secs(300));
            for _ in 0..3 {
                assert!(!lost.refresh(&[], Duration::from_millis(50)).await);
                let now = madsim::time::Instant::now();
                assert_eq!(lost.refresh_allowed_at(), Some(now + Duration::from_millis(100)), "failedUpdate");
                madsim::time::sleep(Duration::from_millis(100)).await;
            }
        });
    }

    fn partition(number: u32, topic_id: TopicId, leader_epoch: LeaderEpoch) -> PartitionMetadata {
        PartitionMetadata {
            tp: TopicPartition::new("orders", number),
            leader: Some(BrokerId(1)),
            leader_epoch,
            replicas: vec![BrokerId(1)],
            isr: vec![BrokerId(1)],
            topic_id,
        }
    }

    /// The wait the view asks for now, after the refresh that just ended.
    fn wait_now(view: &ClusterView) -> u64 {
        let allowed_at = view.refresh_allowed_at().expect("refreshed once");
        allowed_at.saturating_duration_since(madsim::time::Instant::now()).as_millis() as u64
    }

    /// Refreshes `view` as soon as its backoff allows; returns the wait it asks for
    /// after that refresh.
    async fn refresh_when_allowed(view: &mut ClusterView) -> u64 {
        if let Some(at) = view.refresh_allowed_at() {
            madsim::time::sleep_until(at).await;
        }
        assert!(view.refresh(&[], Duration::from_secs(1)).await);
        wait_now(view)
    }

    #[test]
    fn kip580_answers_that_move_nothing_forward_back_off_exponentially_and_progress_resets_them() {
        Runtime::with_seed_and_config(1, madsim::Config::default()).block_on(async {
            let wire = Handle::current().create_node().name("wire").build();
            let net: Network<Request, Response> = Network::new(NetConfig::default(), wire);
            let answer = Arc::new(Mutex::new(vec![partition(0, 1, 5), partition(1, 1, 3)]));
            test_broker::spawn_broker_answering(&net, answer.clone());
            let mut view = ClusterView::new(net.add_host(&Addr::new("client")), vec![Addr::new("broker-1")]);
            view.set_refresh_backoff(RetryBackoff::new(100, Some(1_000)), Duration::from_secs(300));
            let within = |wait: u64, term: u64| (term * 8 / 10..=(term * 12 / 10).min(1_000)).contains(&wait);
            // The first answer brings partitions the client did not know: progress.
            let wait = refresh_when_allowed(&mut view).await;
            assert_eq!(view.refresh_backoff_counts(), (0, 0));
            assert!(within(wait, 100), "{wait}");
            // The same answer again: equivalentResponseCount 1, 2, ... and the wait
            // backoff(count - 1): 100, 200, 400, 800, 1000 ms, each ±20%, never above 1 s.
            for (count, term) in [(1, 100), (2, 200), (3, 400), (4, 800), (5, 1_000), (6, 1_000), (7, 1_000)] {
                let wait = refresh_when_allowed(&mut view).await;
                assert_eq!(view.refresh_backoff_counts(), (0, count));
                assert!(within(wait, term), "count {count}: {wait} ms, term {term}");
            }
            // A greater leader epoch on one partition resets the count...
            answer.lock().unwrap()[1].leader_epoch = 4;
            refresh_when_allowed(&mut view).await;
            assert_eq!(view.refresh_backoff_counts(), (0, 0));
            let wait = refresh_when_allowed(&mut view).await;
            assert!(within(wait, 100), "count 1: backoff(0), {wait}");
            // ...an older or equal one does not (a stale broker's answer)...
            answer.lock().unwrap()[1].leader_epoch = 2;
            refresh_when_allowed(&mut view).await;
            assert_eq!(view.refresh_backoff_counts(), (0, 2));
            answer.lock().unwrap()[1].leader_epoch = 4;
            refresh_when_allowed(&mut view).await;
            assert_eq!(view.refresh_backoff_counts(), (0, 3), "4 after 2: the last seen epoch was 4 all along");
            // ...a topic id that changed (the topic was recreated) does, at any epoch...
            *answer.lock().unwrap() = vec![partition(0, 2, 0), partition(1, 2, 0)];
            refresh_when_allowed(&mut view).await;
            assert_eq!(view.refresh_backoff_counts(), (0, 0));
            // ...and so does a new partition.
            refresh_when_allowed(&mut view).await;
            answer.lock().unwrap().push(partition(2, 2, 0));
            refresh_when_allowed(&mut view).await;
            assert_eq!(view.refresh_backoff_counts(), (0, 0));
            // `requestUpdate(true)` / `requestUpdateForNewTopics` clear the count at once:
            // the next refresh waits backoff(0) only.
            for _ in 0..4 {
                refresh_when_allowed(&mut view).await;
            }
            assert_eq!(view.refresh_backoff_counts(), (0, 4));
            assert!(wait_now(&view) > 300);
            view.reset_equivalent_responses();
            assert!(within(wait_now(&view), 100), "{}", wait_now(&view));
        });
    }

    #[test]
    fn kip580_failed_refreshes_back_off_and_an_expired_cache_clears_the_equivalent_answers() {
        Runtime::with_seed_and_config(2, madsim::Config::default()).block_on(async {
            let wire = Handle::current().create_node().name("wire").build();
            let net: Network<Request, Response> = Network::new(NetConfig::default(), wire);
            let answer = Arc::new(Mutex::new(vec![partition(0, 1, 5)]));
            test_broker::spawn_broker_answering(&net, answer);
            let within = |wait: u64, term: u64| (term * 8 / 10..=(term * 12 / 10).min(1_000)).contains(&wait);
            // Failed attempts (nobody listens on broker-9): `attempts`, backoff(attempts - 1).
            let mut lost = ClusterView::new(net.add_host(&Addr::new("client-2")), vec![Addr::new("broker-9")]);
            lost.set_refresh_backoff(RetryBackoff::new(100, Some(1_000)), Duration::from_secs(300));
            for (attempts, term) in [(1, 100), (2, 200), (3, 400), (4, 800), (5, 1_000)] {
                if let Some(at) = lost.refresh_allowed_at() {
                    madsim::time::sleep_until(at).await;
                }
                assert!(!lost.refresh(&[], Duration::from_millis(10)).await);
                assert_eq!(lost.refresh_backoff_counts(), (attempts, 0));
                let wait = wait_now(&lost);
                assert!(within(wait, term), "attempt {attempts}: {wait} ms, term {term}");
            }
            // An expired cache (metadata.max.age.ms) makes the refresh periodic: the
            // count starts again from the expiry, and the wait after it is backoff(0).
            let max_age = Duration::from_secs(3);
            let mut view = ClusterView::new(net.add_host(&Addr::new("client")), vec![Addr::new("broker-1")]);
            view.set_refresh_backoff(RetryBackoff::new(100, Some(1_000)), max_age);
            for _ in 0..6 {
                refresh_when_allowed(&mut view).await;
            }
            assert_eq!(view.refresh_backoff_counts(), (0, 5));
            assert!(wait_now(&view) >= 800);
            let expiry = view.expires_at(max_age).expect("refreshed");
            madsim::time::sleep_until(expiry).await;
            assert!(view.may_refresh(), "an expired cache no longer waits the equivalent answers' backoff");
            let wait = refresh_when_allowed(&mut view).await;
            assert_eq!(view.refresh_backoff_counts(), (0, 1));
            assert!(within(wait, 100), "{wait}");
        });
    }
}

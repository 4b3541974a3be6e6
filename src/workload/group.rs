//! A consumer group member's workload process: subscribes, polls, processes what it
//! polled and commits by the scenario's policy, recording each step with its group
//! context (`subscribe`, `assign` per generation, `revoke` and `lose` when it gives
//! partitions up, `poll`, `process`, `commit`), the way an application built on Kafka's
//! consumer would behave.
//!
//! Processing is modelled, not skipped: each record takes `process_time`, and a crash or
//! a stall can strike between polling a record, processing it and committing it. That
//! window is where at-most-once and at-least-once differ.

use super::{add_polled, poll_value, AppFault, Progress, Recovery, WorkloadContext};
use crate::client::consumer::{ConsumedRecord, ConsumerConfig};
use crate::client::group::{CommitOutcome, Generation, GroupConfig, GroupConsumer, GroupListener, PendingCommit};
use crate::client::metadata::TopicIds;
use crate::coverage::ReachedState;
use crate::history::{GroupContext, MicroOp, OpFn, OpType, OpValue, PolledRecords, RunPhase};
use crate::protocol::{Offset, Request, Response, Subscription, TopicPartition};
use crate::scenario::{self, CommitMode, CommitPolicy, Processing};
use crate::sim::clock;
use crate::sim::net::NodeNet;
use madsim::time::{sleep, sleep_until, Instant};
use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use super::process::Incarnation;
use super::rewind::{rewind, RewindRecord};

/// How long a member that could not join waits before trying again, in milliseconds.
const REJOIN_BACKOFF_MS: u64 = 100;

/// One polled record waiting to be processed, with the generation it was polled in.
struct Polled {
    record: ConsumedRecord,
    group: GroupContext,
}

/// What the member's application keeps between polls.
struct App<'a> {
    life: Incarnation,
    group_id: &'a str,
    /// The member's `group.instance.id`, if it is static.
    instance_id: Option<&'a str>,
    /// The group protocol it speaks.
    protocol: crate::protocol::GroupProtocol,
    /// The commit policy, and whether the rebalance listener commits by it on revocation.
    commit: (CommitPolicy, bool),
    /// Polled, not yet processed (only ever non-empty between polls with async processing).
    backlog: VecDeque<Polled>,
    /// The offsets last committed by this member, per partition, so that a manual
    /// policy commits only what moved.
    last_committed: BTreeMap<TopicPartition, Offset>,
    /// The run's progress: its count of records polled and not processed yet is kept
    /// equal to the sum of the members' backlogs.
    progress: Progress,
    /// An asynchronous commit not answered yet.
    in_flight: Option<PendingCommit>,
    /// How its ops name partitions.
    keys: PartitionKeys,
}

impl App<'_> {
    fn add_to_backlog(&mut self, polled: impl IntoIterator<Item = Polled>) {
        let before = self.backlog.len();
        self.backlog.extend(polled);
        self.progress.polled((self.backlog.len() - before) as u64);
    }

    fn take_from_backlog(&mut self, count: usize) -> Vec<Polled> {
        let taken: Vec<Polled> = self.backlog.drain(..count.min(self.backlog.len())).collect();
        self.progress.processed(taken.len() as u64);
        taken
    }
}

impl Drop for App<'_> {
    fn drop(&mut self) {
        // A crashed member's backlog is gone with it.
        self.progress.processed(self.backlog.len() as u64);
    }
}

impl App<'_> {
    fn context(&self, generation: &Generation) -> GroupContext {
        GroupContext {
            group: self.group_id.to_string(),
            member: generation.member_id.clone(),
            generation: generation.generation,
            instance: self.instance_id.map(str::to_string),
            protocol: self.protocol,
        }
    }
}

/// Which topic a group member's ops name when a topic's name has been used twice (see
/// [`crate::history::incarnations`]): an assignment names the topic the member's
/// metadata knows (a classic assignment names topics only), a revocation or loss the
/// keys it was assigned under, and a commit the topic its position belongs to (the one
/// it last fetched from, or looked the position up in).
#[derive(Default)]
pub(super) struct PartitionKeys {
    /// The member's metadata's topic ids and positions (replaced when the member is).
    pub(super) topic_ids: TopicIds,
    /// The key each partition was last assigned under.
    assigned: BTreeMap<TopicPartition, String>,
}

impl PartitionKeys {
    /// Keys for a member whose metadata is `topic_ids`.
    pub(super) fn new(topic_ids: TopicIds) -> Self {
        PartitionKeys { topic_ids, assigned: BTreeMap::new() }
    }

    /// The key of a partition in an `assign` (`Some`), `revoke` or `lose` op.
    fn of_assignment(&mut self, life: &Incarnation, f: OpFn, tp: &TopicPartition) -> String {
        if f == OpFn::Assign {
            let key = life.partition_key(tp, self.topic_ids.get(&tp.topic)).to_string();
            self.assigned.insert(tp.clone(), key.clone());
            return key;
        }
        match self.assigned.remove(tp) {
            Some(key) => key,
            None => life.partition_key(tp, self.topic_ids.get(&tp.topic)).to_string(),
        }
    }

    /// The key of a partition whose position the member commits.
    fn position(&self, life: &Incarnation, tp: &TopicPartition) -> String {
        let topic_id = self.topic_ids.of_position(tp).or_else(|| self.topic_ids.get(&tp.topic));
        life.partition_key(tp, topic_id).to_string()
    }
}

/// Records an `assign`, `revoke` or `lose` of `partitions` by a group member, which
/// happens at one instant.
pub(super) fn record_partitions(
    life: &mut Incarnation,
    keys: &mut PartitionKeys,
    f: OpFn,
    ctx: GroupContext,
    partitions: &[TopicPartition],
) {
    let keys: Vec<String> = partitions.iter().map(|tp| keys.of_assignment(life, f, tp)).collect();
    life.invoke_in_group(f, OpValue::Keys(keys.clone()), ctx.clone());
    life.complete_in_group(OpType::Ok, OpValue::Keys(keys), None, ctx);
}

/// A `commit` op's value: the offsets, by partition key.
pub(super) fn offsets_value(life: &Incarnation, keys: &PartitionKeys, offsets: &[(TopicPartition, Offset)]) -> OpValue {
    OpValue::Offsets(offsets.iter().map(|(tp, offset)| (keys.position(life, tp), *offset)).collect())
}

/// How a `commit` op completes: `ok` once committed, `fail` when the coordinator
/// refused it (with Kafka's error name), `info` when its outcome is unknown.
pub(super) fn commit_completion(outcome: &CommitOutcome) -> (OpType, Option<String>) {
    match outcome {
        CommitOutcome::Committed => (OpType::Ok, None),
        CommitOutcome::Refused(code) => (OpType::Fail, Some(code.kafka_name().to_string())),
        CommitOutcome::Unknown(reason) => (OpType::Info, Some(reason.clone())),
    }
}

impl GroupListener for App<'_> {
    fn commit_started(&mut self, generation: &Generation, offsets: &[(TopicPartition, Offset)]) {
        let ctx = self.context(generation);
        let value = offsets_value(&self.life, &self.keys, offsets);
        self.life.invoke_in_group(OpFn::Commit, value, ctx);
    }

    fn commit_finished(
        &mut self,
        generation: &Generation,
        offsets: &[(TopicPartition, Offset)],
        outcome: &CommitOutcome,
    ) {
        let ctx = self.context(generation);
        let (kind, error) = commit_completion(outcome);
        let value = offsets_value(&self.life, &self.keys, offsets);
        self.life.complete_in_group(kind, value, error, ctx);
        if *outcome == CommitOutcome::Committed {
            self.last_committed.extend(offsets.iter().cloned());
        }
    }

    fn partitions_revoked(
        &mut self,
        generation: &Generation,
        revoked: &[TopicPartition],
        position: &dyn Fn(&TopicPartition) -> Option<Offset>,
    ) -> Vec<(TopicPartition, Offset)> {
        self.record_keys(OpFn::Revoke, generation, revoked);
        let (policy, commit_on_revoke) = self.commit;
        // Committed in the callback, before the partitions go: the progress made on them.
        let offsets = if commit_on_revoke {
            let positions = revoked.iter().filter_map(|tp| Some((tp.clone(), position(tp)?)));
            self.progress_to_commit(policy, positions)
        } else {
            Vec::new()
        };
        // The worker finishes what it was handed, as a worker queue does unless the
        // application drains it on revocation: records of a revoked partition may then
        // be processed by both the old and the new owner (duplicates), never by nobody.
        self.last_committed.retain(|tp, _| !revoked.contains(tp));
        offsets
    }

    fn revoked_cooperatively(&mut self, _revoked: &[TopicPartition]) {
        self.life.reached(ReachedState::CooperativeRevocation);
    }

    fn partitions_lost(&mut self, generation: &Generation, partitions: &[TopicPartition]) {
        self.record_keys(OpFn::Lose, generation, partitions);
        self.last_committed.retain(|tp, _| !partitions.contains(tp));
    }

    fn partitions_assigned(&mut self, generation: &Generation, partitions: &[TopicPartition]) {
        self.record_keys(OpFn::Assign, generation, partitions);
    }
}

impl App<'_> {
    fn record_keys(&mut self, f: OpFn, generation: &Generation, partitions: &[TopicPartition]) {
        let ctx = self.context(generation);
        record_partitions(&mut self.life, &mut self.keys, f, ctx, partitions);
    }

    /// The offsets a manual commit sends for partitions at `positions`: after processing
    /// (at least once) the first polled record not processed yet, or the position when
    /// everything polled from the partition was processed; before processing (at most
    /// once) the position, past everything polled. Only partitions whose offset moved
    /// since this member's last commit are kept.
    fn progress_to_commit(
        &self,
        policy: CommitPolicy,
        positions: impl IntoIterator<Item = (TopicPartition, Offset)>,
    ) -> Vec<(TopicPartition, Offset)> {
        positions
            .into_iter()
            .map(|(tp, position)| {
                let unprocessed = self.backlog.iter().find(|p| p.record.tp == tp).map(|p| p.record.offset);
                match policy {
                    CommitPolicy::BeforeProcessing => (tp, position),
                    _ => (tp, unprocessed.unwrap_or(position)),
                }
            })
            .filter(|(tp, offset)| self.last_committed.get(tp) != Some(offset))
            .collect()
    }
}

/// One group member process, named `name` (its client id), booted as Jepsen process
/// `process`; with `manual` partitions, a consumer that assigned them itself and commits
/// to the group without joining it. It runs until the run ends (not only the safety
/// phase: the liveness phase waits for groups to catch up), recording a crash if killed
/// before.
pub fn run_group_consumer(
    ctx: WorkloadContext,
    net: NodeNet<Request, Response>,
    spec: scenario::ConsumerSpec,
    configs: (ConsumerConfig, GroupConfig),
    (name, manual): (String, Option<Vec<TopicPartition>>),
    process: u64,
) -> impl std::future::Future<Output = ()> {
    let life = ctx.incarnation(process, RunPhase::Shutdown);
    member_loop(ctx, net, spec, configs, (name, manual), life)
}

async fn member_loop(
    ctx: WorkloadContext,
    net: NodeNet<Request, Response>,
    spec: scenario::ConsumerSpec,
    (config, group_config): (ConsumerConfig, GroupConfig),
    (name, manual): (String, Option<Vec<TopicPartition>>),
    mut life: Incarnation,
) {
    let group_id = spec.group.clone().unwrap_or_default();
    // The application's subscription: the spec's topic, until an event changes it.
    let mut subscription = Subscription::Topics(vec![spec.topic.clone()]);
    let join = |subscription: &Subscription| match (&manual, subscription) {
        (Some(partitions), _) => {
            GroupConsumer::assign(net.clone(), config.clone(), group_config.clone(), partitions.clone())
        }
        (None, Subscription::Topics(topics)) => {
            GroupConsumer::subscribe(net.clone(), config.clone(), group_config.clone(), topics.clone())
        }
        (None, Subscription::Pattern(pattern)) => {
            let mut member = GroupConsumer::subscribe(net.clone(), config.clone(), group_config.clone(), Vec::new());
            member.subscribe_pattern(pattern.clone());
            member
        }
        (None, Subscription::BrokerPattern(pattern)) => {
            let mut member = GroupConsumer::subscribe(net.clone(), config.clone(), group_config.clone(), Vec::new());
            member.subscribe_broker_pattern(pattern);
            member
        }
    };
    // An assign-mode consumer's `assign` op comes with its group context on its first poll.
    if manual.is_none() {
        life.invoke(OpFn::Subscribe, subscription_value(&subscription));
    }
    let mut member = join(&subscription);
    if manual.is_none() {
        life.complete(OpType::Ok, subscription_value(&subscription), None);
    }
    let mut app = App {
        life,
        group_id: &group_id,
        instance_id: group_config.group_instance_id.as_deref(),
        protocol: group_config.group_protocol,
        commit: (spec.commit, spec.commit_on_revoke),
        backlog: VecDeque::new(),
        last_committed: BTreeMap::new(),
        progress: ctx.progress.clone(),
        in_flight: None,
        keys: PartitionKeys::new(member.topic_ids()),
    };
    let poll_interval = Duration::from_millis(spec.poll_interval_ms);
    while !ctx.run_over() {
        ctx.wait_while_stalled(&name).await;
        // The answer to an asynchronous commit is read before the member's next step.
        finish_in_flight(&mut member, &mut app).await;
        if let Some(back_at) = ctx.app_faults.active(&name, AppFault::Leave) {
            // A clean close (commits if auto-commit is on, LeaveGroup), then a new member.
            member.close(&mut app).await;
            sleep_until(back_at).await;
            member = join(&subscription);
            app.keys.topic_ids = member.topic_ids();
            continue;
        }
        if let Some(changed) = ctx.subscriptions.take(&name).filter(|_| manual.is_none()) {
            // `subscribe` from the application thread; it takes effect at the next poll.
            app.life.invoke(OpFn::Subscribe, subscription_value(&changed));
            match &changed {
                // Another kind of subscription: the application must `unsubscribe()`
                // first (Kafka throws IllegalStateException otherwise), so the member
                // leaves the group and joins again.
                _ if !subscription.same_kind(&changed) => {
                    member.unsubscribe(&mut app).await;
                    member = join(&changed);
                    app.keys.topic_ids = member.topic_ids();
                }
                Subscription::Topics(topics) => member.change_subscription(topics.clone()),
                Subscription::Pattern(pattern) => member.subscribe_pattern(pattern.clone()),
                Subscription::BrokerPattern(pattern) => member.subscribe_broker_pattern(pattern),
            }
            app.life.complete(OpType::Ok, subscription_value(&changed), None);
            subscription = changed;
        }
        match member.coordinator_poll(&mut app).await {
            Ok(true) => {}
            Ok(false) => {
                sleep(Duration::from_millis(REJOIN_BACKOFF_MS)).await;
                continue;
            }
            Err(error) => {
                // Kafka's poll() throws (e.g. InvalidSessionTimeoutException when the
                // brokers refuse session.timeout.ms); the application's consumer thread
                // ends with it.
                let poll = || OpValue::Txn(vec![MicroOp::Poll { records: None }]);
                app.life.invoke(OpFn::Poll, poll());
                app.life.complete(OpType::Fail, poll(), Some(error.kafka_name().to_string()));
                return;
            }
        }
        if spec.commit == CommitPolicy::AfterProcessing {
            commit_progress(&mut member, &mut app, &spec).await;
        }
        finish_in_flight(&mut member, &mut app).await;
        let generation = member.generation().cloned().expect("coordinator_poll succeeded");
        let group = app.context(&generation);
        if let Some(request) = ctx.rewinds.take(&name) {
            let keys = &app.keys;
            let key_of = |life: &Incarnation, tp: &TopicPartition| keys.position(life, tp);
            let record = RewindRecord { life: &mut app.life, group: Some(group.clone()), key_of: &key_of };
            let timeout = Duration::from_millis(spec.config.default_api_timeout_ms);
            rewind(&mut member, &request, timeout, record).await;
        }
        app.life.invoke_in_group(OpFn::Poll, OpValue::Txn(vec![MicroOp::Poll { records: None }]), group.clone());
        // A worker with records to process calls poll() with a short timeout, so as
        // not to idle while the brokers wait for new data.
        let fetched = if app.backlog.is_empty() { member.fetch().await } else { member.fetch_without_waiting().await };
        // A stall that struck inside poll() stops the application thread there: poll()
        // returns, and the records are processed, only when it runs again.
        ctx.wait_while_stalled(&name).await;
        let records = match fetched {
            Ok(records) => records,
            Err(error) => {
                // Only under auto.offset.reset = "none": record the error, seek, poll again.
                let poll = OpValue::Txn(vec![MicroOp::Poll { records: None }]);
                app.life.complete_in_group(OpType::Fail, poll, Some(error.to_string()), group.clone());
                match Recovery::after(&error) {
                    Recovery::Seek(tp, offset) => member.seek(&tp, offset),
                    Recovery::SeekTo(tp, reset) => member.seek_to(&tp, reset),
                }
                sleep(poll_interval).await;
                continue;
            }
        };
        let value = poll_value(&app.life, &records);
        app.life.complete_in_group(OpType::Ok, value, None, group.clone());
        if spec.commit == CommitPolicy::BeforeProcessing {
            // At most once: the positions, past what was just polled, before processing.
            commit_progress(&mut member, &mut app, &spec).await;
        }
        app.add_to_backlog(records.into_iter().map(|record| Polled { record, group: group.clone() }));
        match spec.processing {
            Processing::Sync => {
                process_backlog(&ctx, &name, &spec, &mut app, None).await;
                if spec.commit == CommitPolicy::AfterProcessing {
                    commit_progress(&mut member, &mut app, &spec).await;
                }
                sleep(poll_interval).await;
            }
            Processing::Async => {
                let next_poll = clock::now() + poll_interval;
                process_backlog(&ctx, &name, &spec, &mut app, Some(next_poll)).await;
                sleep_until(next_poll).await;
            }
        }
    }
}

/// A manual commit (Kafka's `commitSync` or `commitAsync`) of each held partition's
/// progress ([`App::progress_to_commit`]).
async fn commit_progress(member: &mut GroupConsumer, app: &mut App<'_>, spec: &scenario::ConsumerSpec) {
    finish_in_flight(member, app).await;
    let offsets = app.progress_to_commit(spec.commit, member.consumed_offsets());
    if offsets.is_empty() {
        return;
    }
    match spec.commit_mode {
        CommitMode::Sync => {
            member.commit_sync(offsets, app).await;
        }
        CommitMode::Async => app.in_flight = member.commit_async(offsets, app),
    }
}

/// Reads the answer to the member's asynchronous commit, if one is in flight.
async fn finish_in_flight(member: &mut GroupConsumer, app: &mut App<'_>) {
    if let Some(pending) = app.in_flight.take() {
        member.finish_commit(pending, app).await;
    }
}

/// Processes backlog records in order, each taking `process_time`, until the backlog is
/// empty or `until` comes. Each record processed is recorded as a `process` op (records
/// processed at one instant, with no processing time, share one op).
async fn process_backlog(
    ctx: &WorkloadContext,
    name: &str,
    spec: &scenario::ConsumerSpec,
    app: &mut App<'_>,
    until: Option<Instant>,
) {
    let process_time = Duration::from_millis(spec.process_time_ms);
    if process_time.is_zero() {
        // A stall that struck while poll() waited holds the records until it ends: the
        // application does nothing with them, processing or committing, while stalled.
        ctx.wait_while_stalled(name).await;
        let batch = app.take_from_backlog(app.backlog.len());
        record_processed(app, batch);
        return;
    }
    while !app.backlog.is_empty() && until.is_none_or(|t| clock::now() + process_time <= t) {
        ctx.wait_while_stalled(name).await;
        sleep(process_time).await;
        // Taken only once processed: a crash while processing leaves it unprocessed.
        let next = app.take_from_backlog(1);
        record_processed(app, next);
    }
}

/// Records `batch` as processed, one `process` op per generation it was polled in.
fn record_processed(app: &mut App<'_>, batch: Vec<Polled>) {
    for generation in batch.chunk_by(|a, b| a.group == b.group) {
        let mut records = PolledRecords::new();
        add_polled(&app.life, &mut records, generation, |p| &p.record);
        app.life.record_in_group(OpFn::Process, OpValue::Records(records), generation[0].group.clone());
    }
}

/// A `subscribe` op's value: the topics, or the pattern as written (its matches change
/// with the cluster's topics, not with an application call).
fn subscription_value(subscription: &Subscription) -> OpValue {
    match subscription {
        Subscription::Topics(topics) => OpValue::Keys(topics.clone()),
        Subscription::Pattern(pattern) | Subscription::BrokerPattern(pattern) => {
            OpValue::Keys(vec![pattern.source().to_string()])
        }
    }
}

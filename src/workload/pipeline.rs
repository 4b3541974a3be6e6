//! A consume-transform-produce pipeline instance (`[[pipelines]]`): a consumer group
//! member of the pipeline's group reading the input topic, and a producer forwarding
//! each polled record's value, unchanged (so that the `exactly-once` checker recognises
//! the forward), to the same-numbered partition of the output topic or, with an unkeyed
//! `output_partitioner`, where the producer's partitioner places it; the loop of Kafka's
//! `examples/ExactlyOnceMessageProcessor` (KIP-447):
//!
//! - **exactly-once**: a transactional producer per instance, `transactional.id`
//!   `GROUP-pipeline-N` (stable across restarts, so a restarted instance's
//!   `initTransactions` aborts what its crashed incarnation left open); a
//!   `read_committed` consumer. Per non-empty poll: `beginTransaction`, one send per
//!   record, `sendOffsetsToTransaction(offsets, consumer.groupMetadata())`,
//!   `commitTransaction`. Recorded as one Jepsen `txn` op: `[["poll", {...}], ["send",
//!   KEY, [OFFSET, VALUE]], ...]`, `ok` once committed, `fail` once aborted, `info`
//!   when the outcome is unknown (a timeout, a crash). After an abort the application
//!   moves back to the committed offsets (`resetToLastCommittedPositions`), recorded as
//!   an `assign` of the same partitions in the same generation, since the process's
//!   positions start afresh there; a fenced producer is closed and a new one initialised.
//! - **at-least-once**: an idempotent producer. Per non-empty poll: a `poll` op, a `send`
//!   op with one send per record (completed once every send is acknowledged), then
//!   a `process` op for the records once every send is acknowledged, then
//!   `commitSync` of the offsets past the polled records (a `commit` op). A crash or a
//!   stall between the sends and the commit makes the group's next owner process the
//!   records again from the last committed offset: the output gets them twice.
//!
//! With a dead-letter queue (`dead_letter`), a poison record is tried `max_attempts`
//! times and then sent to the dead-letter topic instead of the output, by the same
//! producer in the same round (see `dead_letter`): in the transaction when exactly-once,
//! among the sends the commit waits for when at least once, where a crash between the
//! dead-letter send and the commit dead-letters the record again. A `dead-letter` op
//! records each record given up on, and at least once the `process` op names only the
//! records forwarded to the output.
//!
//! Each record takes `process_time` before it is sent. A `stall` that strikes while the
//! instance polls or transforms holds the polled records until it ends: the application
//! then forwards the rest and tries to commit, as a zombie of the generation it polled
//! in (its heartbeat thread left the group once `max.poll.interval.ms` passed).
//!
//! A delay queue's forwarders run this same loop from its tier topics to its target,
//! with a [`DueGate`] that lets through only the records already due (see
//! `delay_forwarder`).

use super::dead_letter::{record_given_up, Routing};
use super::delay_forwarder::DueGate;
use super::group::{commit_completion, offsets_value, record_partitions, PartitionKeys};
use super::{add_polled, poll_value, Incarnation, WorkloadContext};
use crate::client::consumer::{ConsumedRecord, ConsumerConfig};
use crate::client::group::{CommitOutcome, Generation, GroupConfig, GroupConsumer, GroupListener};
use crate::client::producer::{Delivery, Producer, ProducerConfig, ProducerRecord, TxnError};
use crate::coverage::ReachedState;
use crate::history::{GroupContext, MicroOp, OpFn, OpType, OpValue, PolledRecords, RunPhase};
use crate::protocol::{Offset, Request, Response, TopicPartition};
use crate::scenario::{Guarantee, PipelineSpec};
use crate::sim::net::NodeNet;
use madsim::time::sleep;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// How long an instance that could not join, or initialise its producer, waits before
/// trying again, in milliseconds.
const RETRY_BACKOFF_MS: u64 = 100;

/// The clients' settings of one instance.
#[derive(Clone)]
pub struct PipelineConfigs {
    /// The consumer's.
    pub consumer: ConsumerConfig,
    /// The consumer's group settings.
    pub group: GroupConfig,
    /// The producer's (with the instance's `transactional.id` when exactly-once).
    pub producer: ProducerConfig,
}

/// The application's side of the group work: records the assignments and (at least
/// once) the commits, as a group member's workload does.
struct App {
    life: Incarnation,
    group_id: String,
    /// How its ops name partitions.
    keys: PartitionKeys,
}

impl App {
    fn context(&self, generation: &Generation) -> GroupContext {
        GroupContext {
            group: self.group_id.clone(),
            member: generation.member_id.clone(),
            generation: generation.generation,
            instance: None,
            protocol: crate::protocol::GroupProtocol::Classic,
        }
    }

    fn record_assignment(&mut self, generation: &Generation, partitions: &[TopicPartition]) {
        self.record(OpFn::Assign, generation, partitions);
    }

    fn record(&mut self, f: OpFn, generation: &Generation, partitions: &[TopicPartition]) {
        let ctx = self.context(generation);
        record_partitions(&mut self.life, &mut self.keys, f, ctx, partitions);
    }
}

impl GroupListener for App {
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
    }

    fn partitions_revoked(
        &mut self,
        generation: &Generation,
        revoked: &[TopicPartition],
        _position: &dyn Fn(&TopicPartition) -> Option<Offset>,
    ) -> Vec<(TopicPartition, Offset)> {
        self.record(OpFn::Revoke, generation, revoked);
        Vec::new()
    }

    fn revoked_cooperatively(&mut self, _revoked: &[TopicPartition]) {
        self.life.reached(ReachedState::CooperativeRevocation);
    }

    fn partitions_lost(&mut self, generation: &Generation, partitions: &[TopicPartition]) {
        self.record(OpFn::Lose, generation, partitions);
    }

    fn partitions_assigned(&mut self, generation: &Generation, partitions: &[TopicPartition]) {
        self.record_assignment(generation, partitions);
    }
}

/// One pipeline instance, named `name` (its client id), booted as Jepsen process
/// `process`. Like a group member it runs until the run ends, so that it forwards what
/// the producers wrote before the liveness phase.
pub fn run_pipeline(
    ctx: WorkloadContext,
    net: NodeNet<Request, Response>,
    spec: PipelineSpec,
    configs: PipelineConfigs,
    name: String,
    output_partitions: u32,
    process: u64,
) -> impl std::future::Future<Output = ()> {
    run_instance(ctx, net, (spec, configs), (name, output_partitions, process), None)
}

/// One instance, with `gate` holding back what it may not forward yet (a delay queue's
/// forwarder: see [`DueGate`]); `None` forwards everything polled from `spec.input`.
/// `(name, output_partitions, process)`: its client id, the output topic's partition
/// count and the Jepsen process it boots as.
pub(super) fn run_instance(
    ctx: WorkloadContext,
    net: NodeNet<Request, Response>,
    (spec, configs): (PipelineSpec, PipelineConfigs),
    (name, output_partitions, process): (String, u32, u64),
    gate: Option<DueGate>,
) -> impl std::future::Future<Output = ()> {
    let life = ctx.incarnation(process, RunPhase::Shutdown);
    async move {
        let mut instance = Instance::start(ctx, net, spec, configs, name, output_partitions, life, gate);
        instance.run().await;
    }
}

/// One running instance.
struct Instance {
    ctx: WorkloadContext,
    net: NodeNet<Request, Response>,
    spec: PipelineSpec,
    configs: PipelineConfigs,
    name: String,
    /// Where each record goes: the output, or the dead-letter topic.
    routing: Routing,
    member: GroupConsumer,
    app: App,
    /// The producer; `None` until an exactly-once instance's `initTransactions`
    /// succeeded, and after it was closed.
    producer: Option<Producer>,
    /// What holds back records not yet due (a delay queue's forwarder); `None` for a
    /// pipeline.
    gate: Option<DueGate>,
}

/// How one transaction (or at-least-once round) ended, for what follows.
enum After {
    /// Go on polling.
    Continue,
    /// Move back to the committed offsets: what was polled must be processed again.
    Rewind,
    /// Close the producer (fenced or failed fatally), then rewind.
    CloseProducer,
}

impl Instance {
    #[allow(clippy::too_many_arguments)]
    fn start(
        ctx: WorkloadContext,
        net: NodeNet<Request, Response>,
        spec: PipelineSpec,
        configs: PipelineConfigs,
        name: String,
        output_partitions: u32,
        mut life: Incarnation,
        gate: Option<DueGate>,
    ) -> Self {
        let topics = gate.as_ref().map_or_else(|| vec![spec.input.clone()], DueGate::topics);
        life.invoke(OpFn::Subscribe, OpValue::Keys(topics.clone()));
        let member =
            GroupConsumer::subscribe(net.clone(), configs.consumer.clone(), configs.group.clone(), topics.clone());
        life.complete(OpType::Ok, OpValue::Keys(topics), None);
        let producer = match spec.guarantee {
            Guarantee::AtLeastOnce => Some(ctx.producer(net.clone(), configs.producer.clone())),
            Guarantee::ExactlyOnce => None,
        };
        let app = App { life, group_id: spec.group.clone(), keys: PartitionKeys::new(member.topic_ids()) };
        let routing = Routing::new(&spec, output_partitions);
        Instance { ctx, net, spec, configs, name, routing, member, app, producer, gate }
    }

    async fn run(&mut self) {
        let poll_interval = Duration::from_millis(self.spec.consumer.poll_interval_ms);
        let backoff = Duration::from_millis(RETRY_BACKOFF_MS);
        while !self.ctx.run_over() {
            self.ctx.wait_while_stalled(&self.name).await;
            if !self.producer_ready().await {
                sleep(backoff).await;
                continue;
            }
            match self.member.coordinator_poll(&mut self.app).await {
                Ok(true) => {}
                Ok(false) => {
                    sleep(backoff).await;
                    continue;
                }
                Err(error) => {
                    // Kafka's poll() throws; the application's thread ends with it.
                    let poll = || OpValue::Txn(vec![MicroOp::Poll { records: None }]);
                    self.app.life.invoke(OpFn::Poll, poll());
                    self.app.life.complete(OpType::Fail, poll(), Some(error.kafka_name().to_string()));
                    return;
                }
            }
            if let Some(gate) = &mut self.gate {
                gate.resume_due(&mut self.member);
            }
            let generation = self.member.generation().cloned().expect("coordinator_poll succeeded");
            let group = self.app.context(&generation);
            let after = match self.spec.guarantee {
                Guarantee::ExactlyOnce => self.transaction(group).await,
                Guarantee::AtLeastOnce => self.at_least_once(group).await,
            };
            match after {
                After::Continue => sleep(poll_interval).await,
                After::Rewind => self.rewind(&generation).await,
                After::CloseProducer => {
                    self.producer = None;
                    self.rewind(&generation).await;
                }
            }
        }
    }

    /// Whether the producer is ready; an exactly-once instance without one makes one
    /// and initialises its transactions (fencing older producers of its id and aborting
    /// what they left open).
    async fn producer_ready(&mut self) -> bool {
        if self.producer.is_some() {
            return true;
        }
        let fresh = self.ctx.producer(self.net.clone(), self.configs.producer.clone());
        match fresh.init_transactions().await {
            Ok(()) => {
                self.producer = Some(fresh);
                true
            }
            Err(error) => {
                tracing::debug!(%error, "init_transactions failed");
                false
            }
        }
    }

    /// Moves back to the committed offsets after a round whose records must be processed
    /// again, recorded as an assignment of the same partitions in `generation`.
    async fn rewind(&mut self, generation: &Generation) {
        if self.member.generation() != Some(generation) {
            return; // Rejoined meanwhile: positions start from the committed offsets anyway.
        }
        if self.member.seek_to_committed().await {
            let partitions = self.member.assignment().to_vec();
            self.app.record_assignment(generation, &partitions);
        }
    }

    /// Polls, holding the records while a stall lasts (the application thread stopped
    /// inside poll()); a gate then keeps back the records it may not forward yet, which
    /// the consumer reads again later (and the history records then).
    async fn fetch(&mut self) -> Result<Vec<ConsumedRecord>, String> {
        let fetched = self.member.fetch().await;
        self.ctx.wait_while_stalled(&self.name).await;
        let records = fetched.map_err(|error| error.to_string())?;
        Ok(match &mut self.gate {
            Some(gate) => gate.admit(&mut self.member, records),
            None => records,
        })
    }

    /// Invokes `f` (a `txn` op, or a `poll` op, opening with its poll) and polls; a
    /// failed poll completes the op `fail` and gives `None` (the application rewinds).
    async fn poll_op(&mut self, f: OpFn, group: &GroupContext) -> Option<Vec<ConsumedRecord>> {
        let unanswered = || OpValue::Txn(vec![MicroOp::Poll { records: None }]);
        self.app.life.invoke_in_group(f, unanswered(), group.clone());
        match self.fetch().await {
            Ok(records) => Some(records),
            Err(error) => {
                self.app.life.complete_in_group(OpType::Fail, unanswered(), Some(error), group.clone());
                None
            }
        }
    }

    /// Transforms and sends every record, each after `process_time` per attempt (a
    /// poison record, after its last failed attempt, to the dead-letter topic); returns
    /// the sends' micro-ops (without offsets) and their deliveries.
    /// `before`: the op's micro-ops before the sends (its poll, in a `txn` op).
    async fn forward(
        &mut self,
        before: &[MicroOp],
        records: &[ConsumedRecord],
        group: &GroupContext,
    ) -> (Vec<MicroOp>, Vec<Delivery>) {
        let process_time = Duration::from_millis(self.spec.process_time_ms);
        let producer = self.producer.as_ref().expect("ready");
        let (mut sends, mut deliveries) = (Vec::new(), Vec::new());
        for record in records {
            // A stall holds the application between two records: it forwards the rest
            // when it runs again.
            self.ctx.wait_while_stalled(&self.name).await;
            let route = self.routing.route(record);
            if !process_time.is_zero() {
                for _ in 0..route.attempts {
                    sleep(process_time).await;
                }
            }
            if route.dead_letter {
                record_given_up(&mut self.app.life, record, route.attempts, group);
            }
            let (topic, partition) = (route.topic.clone(), route.partition);
            let out = ProducerRecord {
                topic: topic.clone(),
                partition,
                key: None,
                value: record.value,
                // Simplified: the forward carries a plain value, whatever the input's size.
                value_bytes: crate::protocol::Record::PLAIN_VALUE_BYTES,
            };
            let delivery = producer.send(out).await;
            // Without a partition the producer's partitioner placed the record when it
            // was appended (as the workload's unkeyed producers name their sends); one
            // that failed before it was placed definitely failed, so partition 0 names it.
            let placed = partition.or_else(|| delivery.partition().map(|tp| tp.partition)).unwrap_or(0);
            let key: Arc<str> = Arc::from(TopicPartition::new(topic, placed).to_string());
            deliveries.push(delivery);
            sends.push(MicroOp::Send { key, value: record.value, offset: None });
            // A crash from here on completes the op `info` with what it sent so far.
            self.app.life.amend(OpValue::Txn(before.iter().chain(&sends).cloned().collect()));
        }
        (sends, deliveries)
    }

    /// One exactly-once round: a transaction forwarding one poll's records with the
    /// consumer's offsets.
    async fn transaction(&mut self, group: GroupContext) -> After {
        let Some(records) = self.poll_op(OpFn::Txn, &group).await else { return After::Rewind };
        let polled = poll_value(&self.app.life, &records);
        if records.is_empty() {
            self.app.life.complete_in_group(OpType::Ok, polled, None, group);
            return After::Continue;
        }
        let mut mops = match polled {
            OpValue::Txn(mops) => mops,
            _ => unreachable!("poll_value gives micro-ops"),
        };
        if let Err(error) = self.producer.as_ref().expect("ready").begin_transaction() {
            self.app.life.complete_in_group(OpType::Fail, OpValue::Txn(mops), Some(error.to_string()), group);
            return After::CloseProducer;
        }
        self.app.life.amend(OpValue::Txn(mops.clone()));
        let (sends, deliveries) = self.forward(&mops, &records, &group).await;
        let offsets = offsets_after(&records);
        let metadata = self.member.group_metadata();
        // A stall that struck inside one of the application's blocking calls (a send,
        // sendOffsetsToTransaction) holds it there: its next call waits for the stall's end.
        self.ctx.wait_while_stalled(&self.name).await;
        let producer = self.producer.as_ref().expect("ready");
        let mut committed = producer.send_offsets_to_transaction(&offsets, &metadata).await;
        tracing::debug!(?committed, "sendOffsetsToTransaction");
        if committed.is_ok() {
            self.ctx.wait_while_stalled(&self.name).await;
            committed = producer.commit_transaction().await;
            tracing::debug!(?committed, "commitTransaction");
        }
        let mut results = Vec::new();
        for delivery in deliveries {
            results.push(delivery.wait().await.ok().and_then(|m| m.offset));
        }
        let (kind, error, after) = match committed {
            Ok(()) => (OpType::Ok, None, After::Continue),
            Err(TxnError::Abortable(reason)) => match producer.abort_transaction().await {
                Ok(()) => (OpType::Fail, Some(reason), After::Rewind),
                // Fenced while aborting: whoever fenced it aborts the transaction.
                Err(TxnError::Fatal(fatal)) => (OpType::Fail, Some(format!("{reason}; {fatal}")), After::CloseProducer),
                Err(other) => (OpType::Info, Some(format!("{reason}; {other}")), After::CloseProducer),
            },
            // A commit refused as fenced or unanswered may still have been applied (an
            // EndTxn whose answer was lost, then fenced on its retry).
            Err(error) => (OpType::Info, Some(error.to_string()), After::CloseProducer),
        };
        let offsets_known = kind == OpType::Ok;
        mops.extend(sends.into_iter().zip(results).map(|(send, offset)| match send {
            MicroOp::Send { key, value, .. } => MicroOp::Send { key, value, offset: offset.filter(|_| offsets_known) },
            poll => poll,
        }));
        self.app.life.complete_in_group(kind, OpValue::Txn(mops), error, group);
        after
    }

    /// One at-least-once round: a poll, the sends of its records, then `commitSync` once
    /// every send is acknowledged.
    async fn at_least_once(&mut self, group: GroupContext) -> After {
        let Some(records) = self.poll_op(OpFn::Poll, &group).await else { return After::Rewind };
        let value = poll_value(&self.app.life, &records);
        self.app.life.complete_in_group(OpType::Ok, value, None, group.clone());
        if records.is_empty() {
            return After::Continue;
        }
        self.app.life.invoke(OpFn::Send, OpValue::Txn(Vec::new()));
        let (sends, deliveries) = self.forward(&[], &records, &group).await;
        let mut results = Vec::new();
        for delivery in deliveries {
            results.push(delivery.wait().await);
        }
        let failed = results.iter().find_map(|r| r.as_ref().err()).map(|e| e.reason.clone());
        let mops = sends
            .into_iter()
            .zip(&results)
            .map(|(send, result)| match send {
                MicroOp::Send { key, value, .. } => {
                    MicroOp::Send { key, value, offset: result.as_ref().ok().and_then(|m| m.offset) }
                }
                poll => poll,
            })
            .collect();
        // A failed send may still have been written: the op's outcome is unknown.
        let kind = if failed.is_some() { OpType::Info } else { OpType::Ok };
        self.app.life.complete(kind, OpValue::Txn(mops), failed.clone());
        if failed.is_some() {
            return After::Rewind;
        }
        // The records are processed: their output is acknowledged (those dead-lettered
        // have their `dead-letter` ops).
        let forwarded: Vec<&ConsumedRecord> = records.iter().filter(|r| self.routing.is_processed(r)).collect();
        if !forwarded.is_empty() {
            let mut processed = PolledRecords::new();
            add_polled(&self.app.life, &mut processed, &forwarded, |r| r);
            self.app.life.record_in_group(OpFn::Process, OpValue::Records(processed), group);
        }
        let offsets = offsets_after(&records);
        // A stall that struck while the application waited for its sends' acknowledgements
        // holds it there: it commits only when it runs again (a stalled thread sends nothing).
        self.ctx.wait_while_stalled(&self.name).await;
        match self.member.commit_sync(offsets, &mut self.app).await {
            CommitOutcome::Committed => After::Continue,
            // Refused (CommitFailedException: the member was fenced; it rejoins on its
            // next poll) or unknown: the records are processed again.
            _ => After::Rewind,
        }
    }
}

/// The offsets to commit after `records`: per partition, the offset after its last
/// record (Kafka's example `getOffsetsToCommit`).
fn offsets_after(records: &[ConsumedRecord]) -> Vec<(TopicPartition, Offset)> {
    let mut next: BTreeMap<TopicPartition, Offset> = BTreeMap::new();
    for record in records {
        let at = next.entry(record.tp.clone()).or_insert(record.offset + 1);
        *at = (*at).max(record.offset + 1);
    }
    next.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(partition: u32, offset: Offset) -> ConsumedRecord {
        ConsumedRecord {
            tp: TopicPartition::new("in", partition),
            offset,
            value: offset * 10,
            timestamp_ms: 0,
            topic_id: None,
        }
    }

    #[test]
    fn offsets_to_commit_are_past_each_partitions_last_record() {
        let records = [record(1, 7), record(0, 3), record(1, 8), record(0, 4)];
        assert_eq!(offsets_after(&records), vec![(TopicPartition::new("in", 0), 5), (TopicPartition::new("in", 1), 9)]);
        assert!(offsets_after(&[]).is_empty());
    }
}

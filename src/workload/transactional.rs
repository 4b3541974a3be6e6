//! A transactional producer process (a `transactional.id` in `[producers.config]`):
//! every op is one transaction, recorded as Jepsen's `txn` op: the invoke lists the
//! transaction's sends, the completion is `ok` with their offsets once
//! `commitTransaction` returned, `fail` when the transaction was aborted (by the
//! application every `abort_every`-th time, once its records were acknowledged, or
//! because one of its records failed), and
//! `info` when the outcome is unknown (a commit that timed out, or that failed after its
//! EndTxn may have been applied). A failed transaction's completion carries no offsets:
//! an acknowledged record of an aborted transaction is in the log but not committed, so
//! it proves nothing a checker may count on. An unknown one carries the offsets its
//! records were acknowledged at, which count once the transaction is proved committed
//! (another of its records was read): then each of them must be read too.
//!
//! As a Kafka application must, the process closes a producer that was fenced (or broke
//! the protocol) and starts a new one under the same `transactional.id`, whose
//! `initTransactions` aborts whatever the old one left open.
//!
//! The nemesis's `stall` stops the application thread in the middle of a transaction:
//! between two of its sends, or between its last send and the commit (or abort). A stall
//! that begins between two transactions, or while a commit is under way, takes hold in
//! the next transaction, after its first send (after all its sends when the records are
//! unkeyed: the partitioner places them together). The producer's sender carries on meanwhile
//! (as Kafka's network thread does): what the application already handed over is sent
//! and answered, and the transaction stays open at the coordinator until the application
//! comes back, or until `transaction.timeout.ms` passes and the coordinator aborts it
//! under a bumped epoch (`TransactionCoordinator.abortTimedOutTransactions`), which fences
//! the stalled producer's later requests.

use super::producer::{append_all, invoke_value, plan, record_keys, wait_until, PartitionNames, PlannedSend};
use super::{AppFault, Incarnation, WorkloadContext};
use crate::client::producer::{Producer, ProducerConfig, RecordMetadata, SendError, TxnError};
use crate::history::{MicroOp, OpFn, OpType, OpValue};
use crate::protocol::{Request, Response};
use crate::scenario::{Partitioning, ProducerSpec};
use crate::sim::clock;
use crate::sim::net::NodeNet;
use madsim::time::{sleep, sleep_until};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// The pause before a producer that could not initialize tries again.
const INIT_RETRY: Duration = Duration::from_millis(500);

/// Runs transactions at the spec's record rate until the safety phase ends; `name` is
/// the producer's node name, which the nemesis's `stall` targets.
pub(super) async fn produce_in_transactions(
    ctx: WorkloadContext,
    net: NodeNet<Request, Response>,
    spec: ProducerSpec,
    config: ProducerConfig,
    partitions: u32,
    mut life: Incarnation,
    name: String,
) {
    let topic: Arc<str> = spec.topic.as_str().into();
    let mut partition_names = PartitionNames::new(topic.clone(), partitions);
    if ctx.safety_over() {
        // Restarted after the safety phase (its crash healed in the liveness phase): it
        // still starts as a Kafka application does, with initTransactions, which aborts
        // what its previous incarnation left open; then it has nothing more to send.
        initialized(&ctx, &net, &config, || true).await;
        return;
    }
    let mut producer = None;
    let pacer = super::pacing::Pacer::new(&ctx, &spec.rate_per_sec);
    let mut next_txn = clock::now();
    let (mut sent, mut transactions) = (0u64, 0u64);
    while !ctx.safety_over() {
        let Some(active) = ready_producer(&ctx, &net, &config, &mut producer).await else { break };
        let remaining = spec.records.map_or(u64::MAX, |limit| limit.saturating_sub(sent));
        let size = u64::from(spec.records_per_transaction).min(remaining);
        if size == 0 {
            break;
        }
        wait_until(next_txn, false).await;
        if ctx.safety_over() {
            break;
        }
        if let Err(error) = active.begin_transaction() {
            tracing::debug!(%error, "begin_transaction failed; a new producer takes over");
            producer = None;
            continue;
        }
        let mut planned = plan(&ctx, &spec, &mut sent, size, active, &mut partition_names);
        // The transaction's records keep the pace of the step it begins in.
        next_txn += pacer.at(next_txn).interval * size as u32;
        transactions += 1;
        let abort = spec.abort_every.is_some_and(|n| transactions % u64::from(n) == 0);
        let app = App { ctx: &ctx, name: &name };
        let outcome =
            run_transaction(active, &topic, &mut planned, &mut partition_names, &spec, &mut life, abort, app).await;
        if matches!(outcome, Outcome::Closed) {
            producer = None;
        }
    }
}

/// The producer to use, initialized; a new one when there is none (the first, or after
/// the last was closed). `None` once the safety phase is over.
async fn ready_producer<'a>(
    ctx: &WorkloadContext,
    net: &NodeNet<Request, Response>,
    config: &ProducerConfig,
    producer: &'a mut Option<Producer>,
) -> Option<&'a Producer> {
    if producer.is_none() {
        *producer = Some(initialized(ctx, net, config, || !ctx.safety_over()).await?);
    }
    producer.as_ref()
}

/// A new producer whose `initTransactions` succeeded, tried again every [`INIT_RETRY`]
/// while `keep_trying` says so; `None` once it says no.
async fn initialized(
    ctx: &WorkloadContext,
    net: &NodeNet<Request, Response>,
    config: &ProducerConfig,
    keep_trying: impl Fn() -> bool,
) -> Option<Producer> {
    while keep_trying() {
        let fresh = ctx.producer(net.clone(), config.clone());
        match fresh.init_transactions().await {
            Ok(()) => return Some(fresh),
            Err(error) => {
                tracing::debug!(%error, "init_transactions failed");
                sleep(INIT_RETRY).await;
            }
        }
    }
    None
}

/// What became of the producer after a transaction.
enum Outcome {
    /// It may run the next transaction.
    Open,
    /// It was fenced or failed fatally: the application closes it.
    Closed,
}

/// The application thread of a transactional producer process.
#[derive(Clone, Copy)]
struct App<'a> {
    ctx: &'a WorkloadContext,
    /// The producer's node name.
    name: &'a str,
}

impl App<'_> {
    /// Waits while the nemesis stalls the application (see the module's docs). The
    /// open `txn` op waits for no answer from the cluster meanwhile, so it does not
    /// count among the sends the liveness phase waits on.
    async fn wait_while_stalled(self, life: &mut Incarnation) {
        while let Some(until) = self.ctx.app_faults.active(self.name, AppFault::Stall) {
            life.set_stalled(true);
            sleep_until(until).await;
        }
        life.set_stalled(false);
    }
}

/// One transaction: begin (done by the caller), send every planned record, then commit
/// (or abort), recording the `txn` op. A stall of `app` holds the application between
/// two sends, or before the commit.
#[allow(clippy::too_many_arguments)]
async fn run_transaction(
    producer: &Producer,
    topic: &Arc<str>,
    planned: &mut [PlannedSend],
    partition_names: &mut PartitionNames,
    spec: &ProducerSpec,
    life: &mut Incarnation,
    abort: bool,
    app: App<'_>,
) -> Outcome {
    let deliveries = if spec.partitioning == Partitioning::Unkeyed {
        let deliveries = append_all(producer, topic, planned, partition_names).await;
        life.invoke_send(OpFn::Txn, invoke_value(planned), BTreeMap::new(), spec.delay);
        deliveries
    } else {
        life.invoke_send(OpFn::Txn, invoke_value(planned), record_keys(planned), spec.delay);
        let mut deliveries = Vec::new();
        for (i, send) in planned.iter().enumerate() {
            if i > 0 {
                app.wait_while_stalled(life).await;
            }
            deliveries.push(producer.send(send.record(topic)).await);
        }
        deliveries
    };
    app.wait_while_stalled(life).await;
    if abort {
        // The application aborts after its records were written (it waits for their
        // acknowledgements, then decides to abort): they are in the log, aborted.
        let mut send_failure = None;
        for delivery in deliveries {
            if let Err(error) = delivery.wait().await {
                send_failure.get_or_insert(error.reason);
            }
        }
        return match producer.abort_transaction().await {
            Ok(()) => complete(life, planned, OpType::Fail, None, "aborted by the application"),
            // Fenced: the producer that fenced this one aborted the transaction (or the
            // coordinator, which bumped the epoch when it timed it out: then a send was
            // refused first, INVALID_PRODUCER_EPOCH, and the error says so).
            Err(TxnError::Fatal(fatal)) => {
                let reason = send_failure.map_or(fatal.clone(), |send| format!("{send}; {fatal}"));
                complete_closed(life, planned, OpType::Fail, None, reason)
            }
            Err(error) => complete_closed(life, planned, OpType::Info, None, error.to_string()),
        };
    }
    let committed = producer.commit_transaction().await;
    let mut results = Vec::new();
    for delivery in deliveries {
        results.push(delivery.wait().await);
    }
    match committed {
        Ok(()) => complete(life, planned, OpType::Ok, Some(&results), "committed"),
        Err(TxnError::Abortable(reason)) => match producer.abort_transaction().await {
            Ok(()) => complete(life, planned, OpType::Fail, None, &reason),
            Err(TxnError::Fatal(fatal)) => {
                complete_closed(life, planned, OpType::Fail, None, format!("{reason}; {fatal}"))
            }
            Err(error) => complete_closed(life, planned, OpType::Info, Some(&results), format!("{reason}; {error}")),
        },
        // A commit refused as fenced or unanswered may still have been applied: an
        // EndTxn whose answer was lost, then fenced on its retry. The offsets the broker
        // acknowledged are recorded: a checker may count them once it proves the
        // transaction committed (Jepsen's `must-have-committed?`: another of its sends
        // was read), and then every one of its sends must be read.
        Err(error) => complete_closed(life, planned, OpType::Info, Some(&results), error.to_string()),
    }
}

/// Records the completion; `results` (for `ok`) gives each send its offset.
fn complete(
    life: &mut Incarnation,
    planned: &[PlannedSend],
    kind: OpType,
    results: Option<&[Result<RecordMetadata, SendError>]>,
    reason: &str,
) -> Outcome {
    let mops = planned
        .iter()
        .enumerate()
        .map(|(i, send)| MicroOp::Send {
            key: send.name(),
            value: send.value,
            offset: results.and_then(|r| r.get(i)).and_then(|r| r.as_ref().ok()).and_then(|m| m.offset),
        })
        .collect();
    let error = (kind != OpType::Ok).then(|| reason.to_string());
    life.complete(kind, OpValue::Txn(mops), error);
    Outcome::Open
}

/// Records the completion of a transaction whose producer must be closed.
fn complete_closed(
    life: &mut Incarnation,
    planned: &[PlannedSend],
    kind: OpType,
    results: Option<&[Result<RecordMetadata, SendError>]>,
    reason: String,
) -> Outcome {
    complete(life, planned, kind, results, &reason);
    Outcome::Closed
}

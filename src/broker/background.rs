//! The broker's periodic work: ISR expiry (and the AlterIsr requests it sends), the high
//! watermark checkpoint, and `flush.ms` flushing.

use super::{BrokerConfig, SharedBroker};
use crate::protocol::{
    AlterIsrRequest, BrokerId, ErrorCode, Offset, PartitionState, Request, Response, TopicPartition,
};
use crate::sim::clock;
use crate::sim::net::{Addr, Connection};
use bytes::Bytes;
use madsim::time::sleep;
use std::collections::BTreeMap;
use std::time::Duration;

/// The path of the high watermark checkpoint (Kafka's `replication-offset-checkpoint`).
pub const HIGH_WATERMARK_CHECKPOINT: &str = "replication-offset-checkpoint";

/// How long a leader waits before sending an unanswered ISR change again
/// (`AlterPartitionManager` schedules "send-alter-partition" 50 ms after a top-level
/// error; a broken connection is retried after `reconnect.backoff.ms`, also 50 ms).
const ALTER_ISR_RETRY_BACKOFF: Duration = Duration::from_millis(50);

/// What became of one attempt to send a leader's ISR change to the controller.
#[derive(Debug)]
pub enum IsrChangeAnswer {
    /// The controller stored it (or already had it): the partition's state after it.
    Accepted(PartitionState),
    /// The controller refused it for this partition (a stale leader or partition epoch,
    /// an ineligible replica): it is not sent again.
    Refused,
    /// No answer, or a top-level one (NOT_CONTROLLER): it is sent again, to the
    /// controller known then.
    Unanswered,
}

/// Asks the controller to change a partition's ISR, unless a change is already in flight.
/// In ZooKeeper mode the request goes to the controller broker as AlterIsr, in KRaft mode
/// to the active controller as AlterPartition. As Kafka's `AlterPartitionManager` (whose
/// channel to the controller retries with no time limit), an unanswered change stays
/// pending and is sent again until it is answered or the partition's state moves on;
/// the answer is applied only if the change is still the one pending.
///
/// Simplification: on a refusal the change is forgotten and the next ISR-expiry tick or
/// fetch may propose again; Kafka keeps most refused changes pending until the next
/// LeaderAndIsr or metadata delta (`Partition.handleAlterPartitionError`), which a
/// refusal here is soon followed by.
pub fn propose_isr(shared: &SharedBroker, tp: &TopicPartition, new_isr: Vec<BrokerId>) {
    let own_epoch = super::kraft::broker_epoch_for_isr(shared);
    let (request, isr_with_epochs) = {
        let mut state = shared.lock();
        let Some(partition) = state.partitions.get_mut(tp) else {
            return;
        };
        if !partition.is_leader() || partition.pending_isr().is_some() {
            return;
        }
        partition.mark_pending_isr(new_isr.clone());
        tracing::debug!(%tp, isr = ?new_isr, "ISR change proposed");
        // KIP-903 (`Partition.addBrokerEpochToIsr`): this broker's own epoch for itself,
        // each follower's from its last fetch; none without KIP-903.
        let isr_with_epochs: Vec<(BrokerId, Option<u64>)> = new_isr
            .iter()
            .map(|&b| (b, if b == shared.id() { own_epoch } else { own_epoch.and(partition.follower_broker_epoch(b)) }))
            .collect();
        let request = AlterIsrRequest {
            broker_id: shared.id(),
            broker_epoch: 0, // Set when it is sent (`sentBrokerEpoch`).
            tp: tp.clone(),
            leader_epoch: partition.leader_epoch(),
            new_isr,
            partition_epoch: partition.partition_epoch(),
        };
        (request, isr_with_epochs)
    };
    let shared = shared.clone();
    crate::sim::tasks::spawn(async move {
        // The connection lives until the answer is applied: when it closes changes the
        // run's schedule, and ZooKeeper-mode runs keep the schedule they always had.
        let mut _connection = None;
        loop {
            let answer = if shared.config.kraft.is_some() {
                let r = &request;
                super::kraft::alter_partition(
                    &shared,
                    &r.tp,
                    r.leader_epoch,
                    r.partition_epoch,
                    isr_with_epochs.clone(),
                )
                .await
            } else {
                alter_isr_via_zk_controller(&shared, &request, &mut _connection).await
            };
            tracing::debug!(tp = %request.tp, isr = ?request.new_isr, answer = ?answer, "ISR change answered");
            let accepted = match answer {
                IsrChangeAnswer::Accepted(state) => Some(state),
                IsrChangeAnswer::Refused => None,
                IsrChangeAnswer::Unanswered => {
                    sleep(ALTER_ISR_RETRY_BACKOFF).await;
                    if still_pending(&shared, &request) {
                        continue;
                    }
                    return;
                }
            };
            if still_pending(&shared, &request) {
                let mut state = shared.lock();
                if let Some(partition) = state.partitions.get_mut(&request.tp) {
                    partition.complete_isr_change(shared.id(), accepted.as_ref(), &shared.tracer);
                }
                drop(state);
                shared.wake_watchers();
            }
            return;
        }
    });
}

/// Whether `request` is still the ISR change in flight of a partition this broker leads
/// in the same leader epoch.
fn still_pending(shared: &SharedBroker, request: &AlterIsrRequest) -> bool {
    let state = shared.lock();
    state.partitions.get(&request.tp).is_some_and(|partition| {
        partition.is_leader()
            && partition.leader_epoch() == request.leader_epoch
            && partition.is_pending_isr(&request.new_isr, request.partition_epoch)
    })
}

/// One attempt to send `request` to the ZooKeeper-mode controller broker known now.
async fn alter_isr_via_zk_controller(
    shared: &SharedBroker,
    request: &AlterIsrRequest,
    connection: &mut Option<Connection<Request, Response>>,
) -> IsrChangeAnswer {
    let (host, broker_epoch) = {
        let state = shared.lock();
        let metadata = &state.metadata;
        let host = metadata
            .controller
            .map(|c| metadata.live_brokers.get(&c).map_or_else(|| BrokerConfig::host_of(c), |b| b.host.clone()));
        (host, metadata.zk_broker_epoch)
    };
    // No controller known yet, or not registered yet: wait as Kafka's channel does.
    let (Some(host), Some(broker_epoch)) = (host, broker_epoch) else {
        return IsrChangeAnswer::Unanswered;
    };
    let request = AlterIsrRequest { broker_epoch, ..request.clone() };
    let timeout = Duration::from_millis(shared.config.inter_broker_timeout_ms);
    let conn = connection.insert(shared.net.connect(&Addr::new(&host)));
    match conn.call(Request::AlterIsr(request), timeout).await {
        Ok(Response::AlterIsr { error: None, state: Some(state) }) => IsrChangeAnswer::Accepted(state),
        // Top-level errors: sent again (`AlterPartitionManager.handleAlterPartitionResponse`).
        Ok(Response::AlterIsr { error: Some(ErrorCode::NotController | ErrorCode::StaleBrokerEpoch), .. }) | Err(_) => {
            IsrChangeAnswer::Unanswered
        }
        Ok(_) => IsrChangeAnswer::Refused,
    }
}

/// Every `replica.lag.time.max.ms / 2`, removes lagging followers from the ISR of the
/// partitions this broker leads (Kafka's isr-expiration task).
pub async fn run_isr_expiry(shared: SharedBroker) {
    let rule = shared.config.isr_lag_rule();
    loop {
        sleep(rule.max_lag / 2).await;
        let now = clock::now();
        let shrinks: Vec<(TopicPartition, Vec<BrokerId>)> = {
            let state = shared.lock();
            state
                .partitions
                .values()
                .filter_map(|p| Some((p.tp().clone(), p.shrunk_isr(state.id, now, rule)?)))
                .collect()
        };
        for (tp, new_isr) in shrinks {
            propose_isr(&shared, &tp, new_isr);
        }
    }
}

/// Periodically writes every partition's high watermark durably.
pub async fn run_high_watermark_checkpoint(shared: SharedBroker) {
    let interval = Duration::from_millis(shared.config.high_watermark_checkpoint_interval_ms);
    loop {
        sleep(interval).await;
        write_high_watermark_checkpoint(&shared);
    }
}

/// Writes every partition's high watermark durably.
pub fn write_high_watermark_checkpoint(shared: &SharedBroker) {
    let checkpoint: BTreeMap<TopicPartition, Offset> = {
        let state = shared.lock();
        state.partitions.iter().map(|(tp, p)| (tp.clone(), p.high_watermark())).collect()
    };
    let bytes = bincode::serialize(&checkpoint).expect("checkpoint serializes");
    shared.disk.overwrite_durably(HIGH_WATERMARK_CHECKPOINT, Bytes::from(bytes));
}

/// Reads the high watermark checkpoint (empty if absent or unreadable).
pub fn read_high_watermark_checkpoint(disk: &crate::sim::disk::Disk) -> BTreeMap<TopicPartition, Offset> {
    disk.read(HIGH_WATERMARK_CHECKPOINT)
        .and_then(|entries| entries.last().and_then(|e| bincode::deserialize(e).ok()))
        .unwrap_or_default()
}

/// `flush.ms`: fsyncs every log this often.
pub async fn run_periodic_flush(shared: SharedBroker, flush_ms: u64) {
    loop {
        sleep(Duration::from_millis(flush_ms)).await;
        let mut state = shared.lock();
        for partition in state.partitions.values_mut() {
            partition.flush();
        }
    }
}

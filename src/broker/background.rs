//! The broker's periodic work: ISR expiry (and the AlterIsr requests it sends), the high
//! watermark checkpoint, and `flush.ms` flushing.

use super::{BrokerConfig, SharedBroker};
use crate::protocol::{AlterIsrRequest, BrokerId, Offset, Request, Response, TopicPartition};
use crate::sim::net::Addr;
use bytes::Bytes;
use madsim::time::{sleep, Instant};
use std::collections::BTreeMap;
use std::time::Duration;

/// The path of the high watermark checkpoint (Kafka's `replication-offset-checkpoint`).
pub const HIGH_WATERMARK_CHECKPOINT: &str = "replication-offset-checkpoint";

/// Asks the controller to change a partition's ISR, unless a change is already in flight.
/// The answer is applied if the leadership is still the same. In ZooKeeper mode the
/// request goes to the controller broker as AlterIsr, in KRaft mode to the active
/// controller as AlterPartition.
pub fn propose_isr(shared: &SharedBroker, tp: &TopicPartition, new_isr: Vec<BrokerId>) {
    let kraft = shared.config.kraft.is_some();
    let own_epoch = super::kraft::broker_epoch_for_isr(shared);
    let (request, isr_with_epochs, controller_host) = {
        let mut state = shared.lock();
        let controller = state.metadata.controller;
        let host = controller
            .map(|c| state.metadata.live_brokers.get(&c).map_or_else(|| BrokerConfig::host_of(c), |b| b.host.clone()));
        let Some(partition) = state.partitions.get_mut(tp) else {
            return;
        };
        if !partition.is_leader() || partition.pending_isr().is_some() {
            return;
        }
        if host.is_none() && !kraft {
            return;
        }
        partition.mark_pending_isr(new_isr.clone());
        // KIP-903 (`Partition.addBrokerEpochToIsr`): this broker's own epoch for itself,
        // each follower's from its last fetch; none without KIP-903.
        let isr_with_epochs: Vec<(BrokerId, Option<u64>)> = new_isr
            .iter()
            .map(|&b| (b, if b == shared.id() { own_epoch } else { own_epoch.and(partition.follower_broker_epoch(b)) }))
            .collect();
        let request = AlterIsrRequest {
            broker_id: shared.id(),
            tp: tp.clone(),
            leader_epoch: partition.leader_epoch(),
            new_isr,
            partition_epoch: partition.partition_epoch(),
        };
        (request, isr_with_epochs, host.map(|h| Addr::new(&h)))
    };
    let shared = shared.clone();
    madsim::task::spawn(async move {
        // The connection lives until the answer is applied: when it closes changes the
        // run's schedule, and ZooKeeper-mode runs keep the schedule they always had.
        let mut _connection = None;
        let accepted = match controller_host {
            Some(host) if !kraft => {
                let timeout = Duration::from_millis(shared.config.inter_broker_timeout_ms);
                let conn = _connection.insert(shared.net.connect(&host));
                match conn.call(Request::AlterIsr(request.clone()), timeout).await {
                    Ok(Response::AlterIsr { error: None, state: Some(new_state) }) => Some(new_state),
                    _ => None,
                }
            }
            _ => {
                let r = &request;
                super::kraft::alter_partition(&shared, &r.tp, r.leader_epoch, r.partition_epoch, isr_with_epochs).await
            }
        };
        let me = shared.id();
        {
            let mut state = shared.lock();
            let Some(partition) = state.partitions.get_mut(&request.tp) else {
                return;
            };
            if partition.leader_epoch() != request.leader_epoch || !partition.is_leader() {
                return;
            }
            partition.complete_isr_change(me, accepted.as_ref(), &shared.tracer);
        }
        shared.changed.notify_waiters();
    });
}

/// Every `replica.lag.time.max.ms / 2`, removes lagging followers from the ISR of the
/// partitions this broker leads (Kafka's isr-expiration task).
pub async fn run_isr_expiry(shared: SharedBroker) {
    let rule = shared.config.isr_lag_rule();
    loop {
        sleep(rule.max_lag / 2).await;
        let now = Instant::now();
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

//! Completing a decided transaction (Kafka's `TransactionMarkerChannelManager`): the
//! coordinator sends WriteTxnMarkers to the leader of every partition of the
//! transaction, retrying a partition until its leader appended the marker (a partition
//! that no longer exists is dropped, as Kafka drops it), then writes the Complete state.
//! A coordinator that loses its partition stops; the next one resumes from the Prepare
//! state it loads.

use super::coordinator::{owned_partition, still_owned, transition};
use super::metadata::TxnMetadata;
use crate::broker::{BrokerConfig, SharedBroker};
use crate::protocol::{BrokerId, ErrorCode, LeaderEpoch, Request, Response, TopicPartition, TxnMarkerEntry};
use crate::sim::net::Addr;
use madsim::time::sleep;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// The pause before markers that failed are sent again (Kafka's sender backoff).
const RETRY_BACKOFF: Duration = Duration::from_millis(100);

/// Starts writing the markers of `prepared` (a PrepareCommit or PrepareAbort state of
/// `id`, decided in coordinator epoch `epoch`) and then its Complete state.
pub(super) fn spawn_completion(shared: &SharedBroker, id: String, epoch: LeaderEpoch, prepared: TxnMetadata) {
    let shared = shared.clone();
    crate::sim::tasks::spawn(async move { complete(&shared, &id, epoch, prepared).await });
}

/// Starts writing the Complete state of `prepared`, whose markers are all written.
pub(super) fn spawn_complete_state(shared: &SharedBroker, id: String, epoch: LeaderEpoch, prepared: TxnMetadata) {
    let shared = shared.clone();
    crate::sim::tasks::spawn(async move {
        let Ok((tp, _)) = owned_partition(&shared, &id) else { return };
        write_complete_state(&shared, &tp, epoch, &id, &prepared).await;
    });
}

async fn complete(shared: &SharedBroker, id: &str, epoch: LeaderEpoch, prepared: TxnMetadata) {
    let Ok((tp, _)) = owned_partition(shared, id) else { return };
    if write_markers(shared, &tp, epoch, &prepared).await {
        write_complete_state(shared, &tp, epoch, id, &prepared).await;
    }
}

/// Every marker is written: the Complete state, retried while this coordinator still
/// serves the id and the write failed for lack of replicas.
async fn write_complete_state(
    shared: &SharedBroker,
    tp: &TopicPartition,
    epoch: LeaderEpoch,
    id: &str,
    prepared: &TxnMetadata,
) {
    loop {
        let begun = {
            let mut coordinator = shared.txn_coordinator.lock();
            match coordinator.txns.get_mut(id) {
                Some(entry) if !entry.pending && entry.metadata == *prepared => {
                    entry.pending = true;
                    true
                }
                _ => false,
            }
        };
        if begun {
            match transition(shared, tp, epoch, id, prepared.completed()).await {
                Err(ErrorCode::CoordinatorNotAvailable) => {}
                _ => return,
            }
        }
        if !still_owned(shared, tp, epoch) {
            return;
        }
        sleep(RETRY_BACKOFF).await;
    }
}

/// Writes the markers of `prepared` to every partition of its transaction, retrying
/// until each is written or this coordinator no longer serves `tp` (the id's
/// `__transaction_state` partition) in `epoch`; returns whether all were written.
pub(super) async fn write_markers(
    shared: &SharedBroker,
    tp: &TopicPartition,
    epoch: LeaderEpoch,
    prepared: &TxnMetadata,
) -> bool {
    let result = prepared.state.result().expect("markers complete a Prepare state");
    let mut remaining: BTreeSet<TopicPartition> = prepared.partitions.clone();
    while !remaining.is_empty() {
        if !still_owned(shared, tp, epoch) {
            return false;
        }
        for (leader, partitions) in leaders_of(shared, &remaining) {
            let entry = TxnMarkerEntry { producer: prepared.producer(), result, coordinator_epoch: epoch, partitions };
            for (done, error) in send_markers(shared, leader, entry).await {
                // Kafka's `TransactionMarkerRequestCompletionHandler`: a partition that
                // is gone is dropped; every other error is retried.
                if matches!(error, None | Some(ErrorCode::UnknownTopicOrPartition)) {
                    remaining.remove(&done);
                }
            }
        }
        if !remaining.is_empty() {
            sleep(RETRY_BACKOFF).await;
        }
    }
    true
}

/// The partitions of `remaining` grouped by their leader in the broker's metadata; a
/// partition without a known leader waits for the next round.
fn leaders_of(shared: &SharedBroker, remaining: &BTreeSet<TopicPartition>) -> BTreeMap<BrokerId, Vec<TopicPartition>> {
    let state = shared.lock();
    let mut by_leader: BTreeMap<BrokerId, Vec<TopicPartition>> = BTreeMap::new();
    for tp in remaining {
        if let Some(leader) = state.metadata.partitions.get(tp).and_then(|p| p.leader) {
            by_leader.entry(leader).or_default().push(tp.clone());
        }
    }
    by_leader
}

/// One WriteTxnMarkers request; a request that fails as a whole fails every partition.
async fn send_markers(
    shared: &SharedBroker,
    leader: BrokerId,
    entry: TxnMarkerEntry,
) -> Vec<(TopicPartition, Option<ErrorCode>)> {
    let partitions = entry.partitions.clone();
    let timeout = Duration::from_millis(shared.config.inter_broker_timeout_ms);
    let conn = shared.net.connect(&Addr::new(&BrokerConfig::host_of(leader)));
    match conn.call(Request::WriteTxnMarkers(vec![entry]), timeout).await {
        Ok(Response::WriteTxnMarkers(results)) => results,
        _ => partitions.into_iter().map(|tp| (tp, Some(ErrorCode::RequestTimedOut))).collect(),
    }
}

//! A partition leader's side of WriteTxnMarkers (Kafka's
//! `ReplicaManager.appendRecords` with `AppendOrigin.COORDINATOR`): each marker is
//! appended as a control batch with acks=all, so the coordinator completes a
//! transaction only once every in-sync replica holds its markers. The checks
//! (coordinator epoch, producer epoch) are made when the batch is admitted (see
//! `produce`).

use crate::broker::{produce, SharedBroker};
use crate::protocol::{Acks, ControlMarker, ErrorCode, ProduceRequest, RecordBatch, TopicPartition, TxnMarkerEntry};

/// Appends the markers and answers one result per partition once they are replicated.
pub async fn write_txn_markers(
    shared: &SharedBroker,
    entries: Vec<TxnMarkerEntry>,
) -> Vec<(TopicPartition, Option<ErrorCode>)> {
    let now_ms = super::coordinator::now_ms();
    let mut batches = Vec::new();
    for entry in &entries {
        let marker = ControlMarker { result: entry.result, coordinator_epoch: entry.coordinator_epoch };
        for tp in &entry.partitions {
            batches.push((tp.clone(), RecordBatch::marker(entry.producer.id, entry.producer.epoch, marker, now_ms)));
        }
    }
    let request = ProduceRequest {
        acks: Acks::All,
        timeout_ms: shared.config.inter_broker_timeout_ms,
        batches,
        transactional_id: None,
        transaction_version: Default::default(),
    };
    let written = produce::produce(shared, request).await;
    for response in &written {
        if response.error.is_none() {
            crate::broker::coordinator::complete_txn_offsets(shared, &response.tp, &entries);
        }
    }
    written.into_iter().map(|r| (r.tp, r.error)).collect()
}

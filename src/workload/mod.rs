//! The workload: producer and consumer processes driven by the scenario, recording every
//! operation in the history as Jepsen's Kafka workload does (`send` with the partition as
//! its key and a run-unique integer value; `poll` with what each partition returned),
//! and the final drain that reads every partition to its high watermark.
//!
//! Files: `context` (what every process of a run shares, and the run's phase as the
//! runner announces it), `producer`, `pacing` (a producer's pace from its rate schedule), `transactional` (a transactional producer's `txn`
//! ops), `consumer` (standalone consumers and the drain),
//! `group` (group members), `pipeline` (consume-transform-produce instances), `dead_letter` (where an instance sends each record: output or dead-letter topic),
//! `delay_forwarder` (a delay queue's forwarders: pipelines that forward what is due), `app_faults` (stall and leave), `process` (Jepsen process
//! ids and crash recording), `progress` (the counts the liveness phase waits on),
//! `rewind` (a consumer application's rewind, asked for by a `[[events]]` entry). The client configurations come ready from the runner's
//! one scenario-to-system mapping (`runner::configure`).

mod app_faults;
mod consumer;
mod context;
mod dead_letter;
mod delay_forwarder;
mod group;
mod latency;
mod pacing;
mod pipeline;
mod process;
mod producer;
mod progress;
mod rewind;
mod subscriptions;
mod transactional;

pub use app_faults::{AppFault, AppFaults};
pub use consumer::{drain, run_consumer, Drained, DRAIN_BOUND_TIMEOUTS};
pub use context::{PhaseAnnouncer, WorkloadContext};
pub use delay_forwarder::run_forwarder;
pub use group::run_group_consumer;
pub use latency::{LatencyDistribution, SendLatencies};
pub use pipeline::{run_pipeline, PipelineConfigs};
pub use process::{Incarnation, ProcessIds};
pub use producer::run_producer;
pub use progress::Progress;
pub use rewind::{RewindRequest, Rewinds};
pub use subscriptions::Subscriptions;

use crate::client::consumer::{ConsumedRecord, ConsumerError};
use crate::history::{MicroOp, OpValue, PolledRecords};
use crate::protocol::{Offset, OffsetReset, TopicPartition};

/// How the workload's application answers an error its consumer's poll raised (only
/// under `auto.offset.reset = "none"`): the failed poll is recorded with the error, then
/// the application seeks, as Kafka's documentation of each exception suggests.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Recovery {
    /// After log truncation with a known divergence point: seek there
    /// (`LogTruncationException.divergentOffsets()`).
    Seek(TopicPartition, Offset),
    /// Otherwise: `seekToBeginning`.
    SeekTo(TopicPartition, OffsetReset),
}

impl Recovery {
    fn after(error: &ConsumerError) -> Recovery {
        match error {
            ConsumerError::LogTruncation { tp, truncation } => match truncation.divergent_offset {
                Some(offset) => Recovery::Seek(tp.clone(), offset),
                None => Recovery::SeekTo(tp.clone(), OffsetReset::Earliest),
            },
            ConsumerError::OffsetOutOfRange { tp, .. } | ConsumerError::NoOffsetForPartition(tp) => {
                Recovery::SeekTo(tp.clone(), OffsetReset::Earliest)
            }
        }
    }
}

/// A completed poll's value: what each partition returned, in offset order.
fn poll_value(life: &Incarnation, records: &[ConsumedRecord]) -> OpValue {
    let mut polled = PolledRecords::new();
    add_polled(life, &mut polled, records, |r| r);
    OpValue::Txn(vec![MicroOp::Poll { records: Some(polled) }])
}

/// Adds the consumed records of `items` to `polled`, under their partition's history key
/// (which names the topic the leader read them from, see
/// [`crate::history::incarnations`]). A poll returns runs of one partition's records:
/// each run is named and looked up once (naming every record showed in the benchmark's
/// profile).
fn add_polled<T>(life: &Incarnation, polled: &mut PolledRecords, items: &[T], record: impl Fn(&T) -> &ConsumedRecord) {
    let same_log = |a: &ConsumedRecord, b: &ConsumedRecord| a.tp == b.tp && a.topic_id == b.topic_id;
    for run in items.chunk_by(|a, b| same_log(record(a), record(b))) {
        let first = record(&run[0]);
        let list = polled.entry(life.partition_key(&first.tp, first.topic_id).to_string()).or_default();
        list.extend(run.iter().map(|item| (record(item).offset, record(item).value)));
    }
}

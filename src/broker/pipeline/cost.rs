//! What each request costs the broker's threads, from the machine's cost figures
//! ([`MachineSpec`]) and the request's size: the network thread's read and write, the
//! request handler's local work, and the follower fetcher's append.
//!
//! Sizes are nominal: a record is [`Record::size_bytes`](crate::protocol::Record) on the
//! wire, a batch adds Kafka's 61-byte RecordBatch header, and every request and response
//! a fixed header. Only records make requests large, so only they are counted exactly.

use crate::protocol::{FetchPartitionResponse, RecordBatch, Request, Response};
use crate::sim::machine::{per_kb_ns, MachineSpec};

/// A request's or response's header and fixed fields, in bytes (nominal).
const HEADER_BYTES: u64 = 100;
/// The header of a RecordBatch v2 (`DefaultRecordBatch.RECORD_BATCH_OVERHEAD`).
const BATCH_HEADER_BYTES: u64 = 61;

/// A piece of work on one of the broker's threads: its CPU part and its record-writing
/// part (which `slow-disk` slows down), in nanoseconds at full speed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Work {
    /// CPU time.
    pub cpu_ns: u64,
    /// Time writing records into the log.
    pub disk_ns: u64,
}

impl Work {
    /// CPU work only.
    pub fn cpu(cpu_ns: u64) -> Self {
        Work { cpu_ns, disk_ns: 0 }
    }
}

/// The bytes of a batch on the wire.
fn batch_bytes(batch: &RecordBatch) -> u64 {
    BATCH_HEADER_BYTES + batch.size_bytes()
}

/// The bytes of records a fetch response carries.
pub fn fetched_record_bytes(partitions: &[FetchPartitionResponse]) -> u64 {
    partitions.iter().flat_map(|p| &p.batches).map(batch_bytes).sum()
}

/// The bytes of records a request appends to the log: a produce's batches.
pub fn appended_record_bytes(request: &Request) -> u64 {
    match request {
        Request::Produce(produce) => produce.batches.iter().map(|(_, b)| batch_bytes(b)).sum(),
        _ => 0,
    }
}

/// A request's size on the wire, in bytes.
pub fn request_bytes(request: &Request) -> u64 {
    match request {
        Request::Produce(_) => HEADER_BYTES + appended_record_bytes(request),
        _ => HEADER_BYTES,
    }
}

/// A response's size on the wire, in bytes: only fetched records make it large.
pub fn response_bytes(response: &Response) -> u64 {
    match response {
        Response::Fetch(partitions) => HEADER_BYTES + fetched_record_bytes(partitions),
        _ => HEADER_BYTES,
    }
}

/// A fetch response's size on the wire, in bytes, as the follower that sent the fetch
/// receives it.
pub fn fetch_response_bytes(partitions: &[FetchPartitionResponse]) -> u64 {
    HEADER_BYTES + fetched_record_bytes(partitions)
}

/// The network thread's work to read and parse a request.
pub fn read_ns(spec: &MachineSpec, request: &Request) -> u64 {
    spec.network_thread_ns_per_request + per_kb_ns(request_bytes(request), spec.network_thread_ns_per_kb)
}

/// The network thread's work to write a response: the fixed part copied from the heap,
/// fetched records sent from the page cache without a copy (`sendfile`).
pub fn write_ns(spec: &MachineSpec, response: &Response) -> u64 {
    let records = match response {
        Response::Fetch(partitions) => fetched_record_bytes(partitions),
        _ => 0,
    };
    spec.network_thread_ns_per_request
        + per_kb_ns(HEADER_BYTES, spec.network_thread_ns_per_kb)
        + per_kb_ns(records, spec.sendfile_ns_per_kb)
}

/// A request handler's local work for a request: validation and the append for a
/// produce, building the (uncopied) response for a fetch, a fixed cost for the rest.
/// Time waiting in a purgatory is not work: the handler is free meanwhile.
pub fn handler_work(spec: &MachineSpec, request: &Request) -> Work {
    match request {
        Request::Produce(produce) => {
            let partitions = produce.batches.len() as u64;
            let record_bytes = appended_record_bytes(request);
            Work {
                cpu_ns: spec.produce_ns_per_request + partitions * spec.produce_ns_per_partition,
                disk_ns: per_kb_ns(record_bytes, spec.produce_ns_per_kb),
            }
        }
        Request::Fetch(fetch) => {
            Work::cpu(spec.fetch_ns_per_request + fetch.partitions.len() as u64 * spec.fetch_ns_per_partition)
        }
        _ => Work::cpu(spec.other_ns_per_request),
    }
}

/// A follower fetcher's work to append a fetch response's records: nothing for a
/// response without records (an empty long-poll answer).
pub fn follower_append_work(spec: &MachineSpec, partitions: &[FetchPartitionResponse]) -> Work {
    let with_records = partitions.iter().filter(|p| !p.batches.is_empty()).count() as u64;
    Work {
        cpu_ns: with_records * spec.follower_append_ns_per_partition,
        disk_ns: per_kb_ns(fetched_record_bytes(partitions), spec.follower_append_ns_per_kb),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Acks, ProduceRequest, Record, TopicPartition, TransactionVersion};

    fn produce(partitions: usize, records_per_batch: usize) -> Request {
        let record = Record::new(None, 1, 0);
        Request::Produce(ProduceRequest {
            acks: Acks::All,
            timeout_ms: 30_000,
            batches: (0..partitions)
                .map(|p| {
                    (TopicPartition::new("t", p as u32), RecordBatch::plain(vec![record.clone(); records_per_batch]))
                })
                .collect(),
            transactional_id: None,
            transaction_version: TransactionVersion::Tv0,
        })
    }

    #[test]
    fn a_produce_costs_per_request_per_partition_and_per_byte() {
        let spec = MachineSpec::default();
        let one = handler_work(&spec, &produce(1, 100));
        let two = handler_work(&spec, &produce(2, 100));
        assert_eq!(one.cpu_ns, 40_000 + 8_000);
        assert_eq!(two.cpu_ns - one.cpu_ns, 8_000, "each partition adds its own work");
        // 100 records of 78 bytes and a 61-byte header: 7,861 bytes at 500 ns/KiB.
        assert_eq!(one.disk_ns, 7_861 * 500 / 1024);
        assert_eq!(two.disk_ns, 2 * 7_861 * 500 / 1024);
    }

    #[test]
    fn only_records_make_requests_and_responses_expensive_to_move() {
        let spec = MachineSpec::default();
        let small = read_ns(&spec, &Request::InitProducerId);
        assert_eq!(small, 15_000 + 100 * 250 / 1024);
        assert!(read_ns(&spec, &produce(1, 1_000)) > small + 15_000, "78 KB of records cost their copy");
        let empty_fetch = write_ns(&spec, &Response::Fetch(Vec::new()));
        assert_eq!(empty_fetch, small, "an empty response costs what a small request does");
    }
}

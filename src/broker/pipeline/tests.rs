//! The pipeline's queueing rules, on a machine with round costs: 10 µs per request on a
//! network thread (read or write), 100 µs per request on a handler.

use super::*;
use crate::history::Recorder;
use crate::sim::machine::{MachineSpec, Slowdown};
use madsim::time::Instant;
use std::sync::Arc;

const NETWORK_US: u64 = 10;
const HANDLER_US: u64 = 100;

fn round_machine() -> Machine {
    Machine::new(MachineSpec {
        network_thread_ns_per_request: NETWORK_US * 1_000,
        network_thread_ns_per_kb: 0,
        sendfile_ns_per_kb: 0,
        other_ns_per_request: HANDLER_US * 1_000,
        ..MachineSpec::default()
    })
}

fn pipeline(network_threads: u32, io_threads: u32, queued_max_requests: u32, machine: Machine) -> Arc<RequestPipeline> {
    let settings = PipelineSettings { network_threads, io_threads, queued_max_requests };
    Arc::new(RequestPipeline::new(1, settings, machine, Recorder::new().tracer("broker-1")))
}

fn us_since(start: Instant) -> u64 {
    start.elapsed().as_micros() as u64
}

/// Serves `requests` requests on one connection as the broker's connection loop does
/// (the next is read only once the previous response is written); returns the time,
/// in µs from `start`, each response was written. The `order`-th connection arrives
/// `order` µs after `start`: tasks woken at the same instant run in a random order, and
/// madsim fires timers less than 50 ns apart at once.
async fn connection(pipeline: Arc<RequestPipeline>, requests: usize, start: Instant, order: u64) -> Vec<u64> {
    if order > 0 {
        sleep_exactly(Duration::from_micros(order)).await;
    }
    let processor = pipeline.accept();
    let mut done = Vec::new();
    for _ in 0..requests {
        pipeline.serve_locally(processor, &Request::InitProducerId, || false).await;
        pipeline.send_response(processor, &Response::Error(crate::protocol::ErrorCode::UnsupportedRequest)).await;
        done.push(us_since(start));
    }
    done
}

fn run<T: Send + 'static>(test: impl std::future::Future<Output = T> + Send + 'static) -> T {
    madsim::runtime::Runtime::with_seed_and_config(1, madsim::Config::default()).block_on(test)
}

#[test]
fn connections_are_given_network_threads_round_robin() {
    run(async {
        let p = pipeline(3, 8, 500, round_machine());
        let ids: Vec<usize> = (0..5).map(|_| p.accept().0).collect();
        assert_eq!(ids, [0, 1, 2, 0, 1]);
    });
}

#[test]
fn a_connection_is_served_one_request_at_a_time_while_another_runs_beside_it() {
    let (first, second) = run(async {
        let p = pipeline(3, 8, 500, round_machine());
        let start = Instant::now();
        let first = crate::sim::tasks::spawn(connection(p.clone(), 3, start, 0));
        let second = crate::sim::tasks::spawn(connection(p.clone(), 1, start, 1));
        (first.await.unwrap(), second.await.unwrap())
    });
    let one = NETWORK_US + HANDLER_US + NETWORK_US;
    assert_eq!(first, [one, 2 * one, 3 * one], "pipelined requests wait for the previous response");
    assert_eq!(second, [1 + one], "another connection on another network thread is not held up");
}

/// Four connections sending one request each, 1 µs apart, to a broker with these
/// threads and queue; the times their responses were written.
fn four_connections(network_threads: u32, io_threads: u32, queued_max_requests: u32) -> Vec<u64> {
    run(async move {
        let p = pipeline(network_threads, io_threads, queued_max_requests, round_machine());
        let start = Instant::now();
        let tasks: Vec<_> = (0..4).map(|i| crate::sim::tasks::spawn(connection(p.clone(), 1, start, i))).collect();
        let mut done = Vec::new();
        for t in tasks {
            done.extend(t.await.unwrap());
        }
        done
    })
}

#[test]
fn requests_queue_for_the_handlers_in_arrival_order() {
    // One network thread per connection, two handlers.
    let done = four_connections(4, 2, 500);
    // The first two (arriving at 0 and 1 µs) are handled at once; the other two wait
    // for them, each for the handler that frees first.
    let one = NETWORK_US + HANDLER_US + NETWORK_US;
    assert_eq!(done, [one, 1 + one, one + HANDLER_US, 1 + one + HANDLER_US]);
}

#[test]
fn a_full_request_queue_blocks_its_network_thread_for_reads_and_responses_alike() {
    // One network thread and one handler.
    // With room in the queue: each request is read at once and handled in turn, and A's
    // response is written as soon as A is handled (110-120).
    assert_eq!(four_connections(1, 1, 500), [120, 220, 320, 420]);
    // With a queue of one: A is handled 10-110 while B waits in the queue and C's put
    // blocks the thread from 30. At 110 B leaves the queue, C's put completes and the
    // thread reads D (it asked first), whose put blocks again until 210. A's response,
    // ready at 110, is written only at 210-220, then B's at 220-230.
    assert_eq!(four_connections(1, 1, 1), [220, 230, 320, 420]);
}

#[test]
fn a_slowed_machine_takes_proportionally_longer() {
    let done = run(async {
        let machine = round_machine();
        machine.set_slowdown(Slowdown { cpu_factor: 5, disk_factor: 1 });
        let p = pipeline(3, 8, 500, machine);
        connection(p, 1, Instant::now(), 0).await
    });
    assert_eq!(done, [5 * (NETWORK_US + HANDLER_US + NETWORK_US)]);
}

#[test]
fn the_appending_handler_waits_for_write_back_above_the_dirty_limit_and_for_each_fsync() {
    use crate::protocol::{Acks, ProduceRequest, Record, RecordBatch, TopicPartition, TransactionVersion};
    let produce = Request::Produce(ProduceRequest {
        acks: Acks::All,
        timeout_ms: 30_000,
        batches: vec![(TopicPartition::new("t", 0), RecordBatch::plain(vec![Record::new(None, 1, 0); 10]))],
        transactional_id: None,
        transaction_version: TransactionVersion::Tv0,
    });
    let bytes = cost::appended_record_bytes(&produce);
    // Nothing costs CPU; the disk writes 1 MB/s (1 µs a byte) and holds 1,000 dirty bytes.
    let spec =
        MachineSpec { disk_mbyte_per_sec: Some(1), dirty_limit_bytes: 1_000, fsync_ns: 500_000, ..MachineSpec::FREE };
    assert!(bytes < 1_000 && 2 * bytes > 1_000, "one batch fits under the limit, two do not: {bytes} bytes");
    let waits = run(async move {
        let p = pipeline(3, 8, 500, Machine::new(spec));
        let processor = p.accept();
        let mut waits = Vec::new();
        for flush_due in [false, false, true] {
            let start = Instant::now();
            p.serve_locally(processor, &produce, || flush_due).await;
            waits.push(us_since(start));
        }
        waits
    });
    assert_eq!(waits[0], 0, "under the dirty limit the page cache takes the write at once");
    assert_eq!(waits[1], 2 * bytes - 1_000, "above it the writer waits for the backlog to drain to the limit");
    // The third write brings the backlog back to the limit plus one batch; the fsync
    // waits for all of it, then for the flush.
    assert_eq!(waits[2], 1_000 + bytes + 500, "an fsync waits for the whole backlog and the flush");
}

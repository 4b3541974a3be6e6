//! The broker's request pipeline, Kafka's Reactor server (`SocketServer`,
//! `RequestChannel`, `KafkaRequestHandlerPool`; see `docs/design/request-pipeline.md`):
//!
//! - each connection is served by one of `num.network.threads` network threads
//!   (processors), chosen round-robin when it is accepted, for its whole life;
//! - a network thread reads and parses a request, then puts it into the one request
//!   queue of `queued.max.requests`. The put blocks while the queue is full, and a
//!   blocked network thread does nothing else: it reads no request and writes no
//!   response for any of its connections (back-pressure both ways, as `Processor` blocks
//!   in `RequestChannel.sendRequest`);
//! - `num.io.threads` request handlers take requests from the queue in order and do
//!   their local work (a produce's append, a fetch's read);
//! - a request waiting in a purgatory (acks=all replication, a fetch's long poll) holds
//!   no handler; its response goes back through its network thread, which writes it;
//! - a connection is muted from the moment a request is read until its response is
//!   written: one request per connection at a time, whatever the client pipelines
//!   (`Selector.mute`, `KafkaChannel.maybeUnmute`). The broker's connection loop
//!   (`server::serve_connection`) reads the next request only after the response.
//!
//! Service times come from the machine's cost model (`sim::machine`, `cost`). When the
//! machine's link is limited (`nic_mbit_per_sec`), a request crosses its inbound side
//! before a network thread reads it, a response its outbound side after the thread wrote
//! it, and a follower's fetch response its inbound side before the fetcher appends it.
//! The thread that appends records (a handler for a produce, the fetcher for a follower)
//! hands them to the disk's write-back after its own work, waits when the dirty bytes
//! pass the machine's limit, and, when the append reaches `flush.messages`, waits for
//! the fsync (Kafka's `UnifiedLog.append` flushes on the appending thread).
//! Queue time and busy time are sampled per window and traced (`load`).
//!
//! Simplifications: network threads and handlers take waiting work in FIFO order (Java's
//! non-fair `ArrayBlockingQueue` promises no order to blocked putters); there is one
//! listener; the per-partition log lock, quotas and throttling, the acceptor's
//! connection queue and the callback queue of KIP-890's asynchronous verification are
//! not modelled; the controller's and the metastore's machines cost nothing.

pub mod cost;
mod load;

pub use load::WINDOW as LOAD_WINDOW;

use crate::history::Tracer;
use crate::protocol::{FetchPartitionResponse, Request, Response};
use crate::sim::clock;
use crate::sim::machine::{LinkDirection, Machine};
use cost::Work;
use load::{Capacity, LoadMeter};
use madsim::time::sleep_until;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::Semaphore;

/// The broker settings of the request pipeline, with Kafka's defaults.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PipelineSettings {
    /// `num.network.threads` (default 3): the network threads of the listener.
    pub network_threads: u32,
    /// `num.io.threads` (default 8): the request handlers.
    pub io_threads: u32,
    /// `queued.max.requests` (default 500): the request queue's capacity.
    pub queued_max_requests: u32,
}

impl Default for PipelineSettings {
    fn default() -> Self {
        PipelineSettings { network_threads: 3, io_threads: 8, queued_max_requests: 500 }
    }
}

/// The network thread a connection was given when it was accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcessorId(usize);

/// One broker process's request pipeline.
pub struct RequestPipeline {
    machine: Machine,
    /// The network threads: a thread is busy while one of its tasks holds its lock
    /// (tokio's mutex is fair: waiting work is served in FIFO order).
    processors: Vec<tokio::sync::Mutex<()>>,
    next_processor: Mutex<usize>,
    /// The request queue's free places.
    queue_places: Semaphore,
    queue_capacity: u32,
    /// The idle request handlers (a fair semaphore: FIFO).
    handlers: Semaphore,
    load: LoadMeter,
}

impl RequestPipeline {
    /// The pipeline of broker `broker` with `settings`, on `machine`.
    pub fn new(broker: u32, settings: PipelineSettings, machine: Machine, tracer: Tracer) -> Self {
        let network_threads = settings.network_threads.max(1);
        let io_threads = settings.io_threads.max(1);
        let queue_capacity = settings.queued_max_requests.max(1);
        let link_limited = machine.spec().nic_mbit_per_sec.is_some();
        let disk_limited = machine.spec().disk_mbyte_per_sec.is_some();
        RequestPipeline {
            machine,
            processors: (0..network_threads).map(|_| tokio::sync::Mutex::new(())).collect(),
            next_processor: Mutex::new(0),
            queue_places: Semaphore::new(queue_capacity as usize),
            queue_capacity,
            handlers: Semaphore::new(io_threads as usize),
            load: LoadMeter::new(Capacity { broker, network_threads, io_threads, link_limited, disk_limited }, tracer),
        }
    }

    /// The network thread for a connection accepted now: the next one, round-robin
    /// (`Acceptor.acceptNewConnections`).
    pub fn accept(&self) -> ProcessorId {
        let mut next = self.next_processor.lock().expect("pipeline poisoned");
        let id = *next;
        *next = (id + 1) % self.processors.len();
        ProcessorId(id)
    }

    /// Takes a request read on a connection of `processor` through the network thread and
    /// the request queue to a handler, and returns once the handler has done its local
    /// work: the request's effects happen then, at the end of its local time. `flush_due`
    /// says, when the handler gets to the append, whether it reaches `flush.messages`.
    pub async fn serve_locally(&self, processor: ProcessorId, request: &Request, flush_due: impl FnOnce() -> bool) {
        let spec = self.machine.spec();
        self.cross_link(LinkDirection::Inbound, cost::request_bytes(request)).await;
        let (read_at, place) = {
            let _thread = self.processors[processor.0].lock().await;
            self.work_on_network_thread(cost::read_ns(spec, request)).await;
            // Kafka's `startTimeNanos`: the receive is complete, the put begins. Time
            // blocked in the put is queue time.
            let read_at = clock::now();
            let place = self.queue_places.acquire().await.expect("the request queue is never closed");
            self.load.enqueued(self.queue_capacity - self.queue_places.available_permits() as u32);
            (read_at, place)
        };
        let handler = self.handlers.acquire().await.expect("the handler pool is never closed");
        drop(place);
        let queued = read_at.elapsed();
        let busy = self.work(cost::handler_work(spec, request)).await
            + self.persist(cost::appended_record_bytes(request), flush_due).await;
        drop(handler);
        self.load.handled(queued, busy);
    }

    /// Writes a response on `processor`'s network thread, once it is free.
    pub async fn send_response(&self, processor: ProcessorId, response: &Response) {
        {
            let _thread = self.processors[processor.0].lock().await;
            self.work_on_network_thread(cost::write_ns(self.machine.spec(), response)).await;
        }
        // The network thread hands the bytes to the socket and moves on; the link sends
        // them at its own pace.
        self.cross_link(LinkDirection::Outbound, cost::response_bytes(response)).await;
    }

    /// A follower's replica fetcher appends a fetch response: its thread is busy for the
    /// append's work (the fetcher runs on its own thread, not on a handler). `flush_due`
    /// says whether the append reaches `flush.messages`.
    pub async fn append_as_follower(&self, partitions: &[FetchPartitionResponse], flush_due: impl FnOnce() -> bool) {
        self.cross_link(LinkDirection::Inbound, cost::fetch_response_bytes(partitions)).await;
        self.work(cost::follower_append_work(self.machine.spec(), partitions)).await;
        self.persist(cost::fetched_record_bytes(partitions), flush_due).await;
    }

    /// Hands `bytes` of appended records to the disk, then fsyncs if `flush_due` says the
    /// append reached `flush.messages`; the appending thread waits for both. Returns how
    /// long it waited.
    async fn persist(&self, bytes: u64, flush_due: impl FnOnce() -> bool) -> Duration {
        if bytes == 0 {
            return Duration::ZERO;
        }
        let mut waited = Duration::ZERO;
        if let Some(write) = self.machine.write_back(bytes) {
            self.load.disk_busy(write.busy);
            waited += write.throttled;
        }
        if !waited.is_zero() {
            sleep_exactly(waited).await;
        }
        // The fsync is issued once the write went through: it waits for what is still
        // being written back then.
        if flush_due() {
            let fsync = self.machine.fsync_time();
            if !fsync.is_zero() {
                sleep_exactly(fsync).await;
            }
            waited += fsync;
        }
        waited
    }

    /// Waits until a message of `bytes` arriving or leaving now has crossed the machine's
    /// link in `direction` (at once when the link is not limited).
    async fn cross_link(&self, direction: LinkDirection, bytes: u64) {
        if let Some((done, busy)) = self.machine.reserve_link(direction, bytes) {
            self.load.link_busy(direction, busy);
            sleep_exactly(done.saturating_duration_since(clock::now())).await;
        }
    }

    /// Spends `cpu_ns` of network-thread work at the machine's current speed.
    async fn work_on_network_thread(&self, cpu_ns: u64) {
        let busy = self.work(Work::cpu(cpu_ns)).await;
        self.load.network_busy(busy);
    }

    /// Spends `work` at the machine's current speed; returns how long it took.
    async fn work(&self, work: Work) -> Duration {
        let took = Duration::from_nanos(self.machine.service_ns(work.cpu_ns, work.disk_ns));
        if !took.is_zero() {
            sleep_exactly(took).await;
        }
        took
    }
}

/// Sleeps exactly `duration`, however short. madsim's `sleep` and `sleep_until` wait at
/// least 1 ms (as tokio's timer wheel does), which would make every microsecond of work
/// a millisecond; `Sleep::reset` sets the deadline without that floor, and madsim's timer
/// keeps nanoseconds.
async fn sleep_exactly(duration: Duration) {
    let deadline = clock::now() + duration;
    let sleep = sleep_until(deadline);
    tokio::pin!(sleep);
    sleep.as_mut().reset(deadline);
    sleep.await;
}

#[cfg(test)]
mod tests;

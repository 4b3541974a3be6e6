//! A node's machine: how long its CPUs and its disk take for the work a broker gives
//! them (the cost model, [`MachineSpec`]), and how much slower they run while a fault
//! degrades them ([`Machine::set_slowdown`]: `cpu-steal`, `slow-disk`).
//!
//! The machine outlives the process on it, as the disk does: a broker restarted during a
//! `slow-disk` fault comes back on the same slow disk.
//!
//! Every figure is an integer number of nanoseconds (per request, per partition or per
//! KiB), so costs are exact and the same on every host. The defaults are those of a
//! typical broker machine of today (see `docs/design/request-pipeline.md` §6 for where
//! each figure comes from; most are assumptions, not measurements, and say so there).
//!
//! Depends on nothing.

use super::clock;
use madsim::time::Instant;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What each piece of a broker's work costs on its machine, in nanoseconds.
///
/// Not modelled (yet): reads of records no longer in the page cache, the per-partition
/// log lock that serialises appends, and the clients' machines (they cost nothing and
/// their links are unlimited).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MachineSpec {
    /// A network thread's work to read and parse one request, or to frame and write one
    /// response (`network_thread_us_per_request`, default 15 µs).
    pub network_thread_ns_per_request: u64,
    /// A network thread's copy of request or response bytes between the socket and the
    /// heap (`network_thread_ns_per_kb`, default 250 ns/KiB: about 4 GB/s).
    pub network_thread_ns_per_kb: u64,
    /// A network thread's zero-copy send of fetched records from the page cache
    /// (`sendfile_ns_per_kb`, default 50 ns/KiB).
    pub sendfile_ns_per_kb: u64,
    /// A request handler's fixed work for a produce request (`produce_us_per_request`,
    /// default 40 µs).
    pub produce_ns_per_request: u64,
    /// A request handler's work per partition of a produce request
    /// (`produce_us_per_partition`, default 8 µs).
    pub produce_ns_per_partition: u64,
    /// A request handler's work per KiB of produced records: CRC check, record iteration
    /// (`LogValidator`) and the write into the page cache (`produce_ns_per_kb`, default
    /// 500 ns/KiB). The part `slow-disk` slows down.
    pub produce_ns_per_kb: u64,
    /// A request handler's fixed work for a fetch request (`fetch_us_per_request`,
    /// default 25 µs). The records are not copied on the handler: the network thread
    /// sends them (`sendfile_ns_per_kb`).
    pub fetch_ns_per_request: u64,
    /// A request handler's work per partition of a fetch request
    /// (`fetch_us_per_partition`, default 3 µs).
    pub fetch_ns_per_partition: u64,
    /// A request handler's work for any other request: metadata, group, transaction and
    /// controller requests (`other_us_per_request`, default 20 µs).
    pub other_ns_per_request: u64,
    /// A follower's replica fetcher thread's work per partition of a fetch response with
    /// records (`follower_append_us_per_partition`, default 10 µs).
    pub follower_append_ns_per_partition: u64,
    /// A follower's replica fetcher thread's work per KiB it appends
    /// (`follower_append_ns_per_kb`, default 300 ns/KiB). Also slowed by `slow-disk`.
    pub follower_append_ns_per_kb: u64,
    /// The bandwidth of the broker's network link in each direction, in megabits per
    /// second (`nic_mbit_per_sec`): requests and follower fetch responses arrive through
    /// the inbound side, responses leave through the outbound side, one message after
    /// the other at this rate ([`Machine::reserve_link`]), on top of the network's
    /// latency. Default `None`: not limited. At the catalog's rates a 10 GbE link would
    /// never be the bottleneck; capacity experiments set it (`1000` for 1 GbE).
    pub nic_mbit_per_sec: Option<u64>,
    /// The disk's sequential write bandwidth, in megabytes (10^6 bytes) per second
    /// (`disk_mbyte_per_sec`): the page cache writes appended records back to the disk
    /// one after the other at this rate ([`Machine::write_back`]). A writer waits for it
    /// only when the dirty bytes not yet written back pass `dirty_limit_bytes`, and an
    /// fsync waits until everything written so far is on the disk. Default `None`: not
    /// limited (write-back never holds anyone up).
    pub disk_mbyte_per_sec: Option<u64>,
    /// What an fsync costs once the dirty pages are written (`fsync_us`, default
    /// 1,000 µs: a flash disk's cache flush without power-loss protection; with it, tens
    /// of microseconds; a spinning disk, about 10 ms). Paid by the thread that appends
    /// when `flush.messages` is reached (Kafka's `UnifiedLog.append` flushes in place).
    pub fsync_ns: u64,
    /// The dirty bytes the page cache holds before writers wait for write-back
    /// (`dirty_limit_mbyte`, default 6,872 MB: Linux's `vm.dirty_ratio` of 20% of a
    /// 32 GiB broker's memory). Only counted when `disk_mbyte_per_sec` is set.
    pub dirty_limit_bytes: u64,
}

impl Default for MachineSpec {
    fn default() -> Self {
        MachineSpec {
            network_thread_ns_per_request: 15_000,
            network_thread_ns_per_kb: 250,
            sendfile_ns_per_kb: 50,
            produce_ns_per_request: 40_000,
            produce_ns_per_partition: 8_000,
            produce_ns_per_kb: 500,
            fetch_ns_per_request: 25_000,
            fetch_ns_per_partition: 3_000,
            other_ns_per_request: 20_000,
            follower_append_ns_per_partition: 10_000,
            follower_append_ns_per_kb: 300,
            nic_mbit_per_sec: None,
            disk_mbyte_per_sec: None,
            fsync_ns: 1_000_000,
            dirty_limit_bytes: DEFAULT_DIRTY_LIMIT_BYTES,
        }
    }
}

/// Linux's `vm.dirty_ratio` (20%) of a 32 GiB machine's memory.
const DEFAULT_DIRTY_LIMIT_BYTES: u64 = 32 * (1 << 30) / 5;

impl MachineSpec {
    /// A machine on which no work takes any time: the pipeline still queues requests
    /// per connection, but never waits for a thread. `kafkasim bench` runs it to measure
    /// what simulating the machine costs.
    pub const FREE: MachineSpec = MachineSpec {
        network_thread_ns_per_request: 0,
        network_thread_ns_per_kb: 0,
        sendfile_ns_per_kb: 0,
        produce_ns_per_request: 0,
        produce_ns_per_partition: 0,
        produce_ns_per_kb: 0,
        fetch_ns_per_request: 0,
        fetch_ns_per_partition: 0,
        other_ns_per_request: 0,
        follower_append_ns_per_partition: 0,
        follower_append_ns_per_kb: 0,
        nic_mbit_per_sec: None,
        disk_mbyte_per_sec: None,
        fsync_ns: 0,
        dirty_limit_bytes: DEFAULT_DIRTY_LIMIT_BYTES,
    };
}

/// How much slower than its spec a machine runs now: service times are multiplied by
/// these factors (1 = full speed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slowdown {
    /// Every CPU cost (`cpu-steal`: a noisy neighbour or a hypervisor taking the CPU).
    pub cpu_factor: u64,
    /// The cost of writing records (`slow-disk`: a degraded or saturated disk, on which
    /// page-cache writes block on write-back).
    pub disk_factor: u64,
}

impl Slowdown {
    /// A machine at full speed.
    pub const NONE: Slowdown = Slowdown { cpu_factor: 1, disk_factor: 1 };
}

/// A direction of a machine's network link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkDirection {
    /// Bytes arriving: requests, and the fetch responses a follower receives.
    Inbound,
    /// Bytes leaving: responses.
    Outbound,
}

/// When each direction of a machine's link is next free (`None`: idle since the start).
#[derive(Clone, Copy, Debug, Default)]
struct LinkState {
    inbound_free_at: Option<Instant>,
    outbound_free_at: Option<Instant>,
}

/// What handing appended bytes to the page cache cost, when the disk is limited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DiskWrite {
    /// How long the writer waits first: the part of the write-back backlog above the
    /// dirty limit must drain.
    pub throttled: Duration,
    /// How long the disk is busy writing the bytes back.
    pub busy: Duration,
}

/// One node's machine, shared by every process that runs on it (cheap to clone).
#[derive(Clone, Debug)]
pub struct Machine {
    spec: MachineSpec,
    slowdown: Arc<Mutex<Slowdown>>,
    link: Arc<Mutex<LinkState>>,
    /// When the disk will have written back every byte handed to it so far (`None`: idle
    /// since the start).
    written_back_at: Arc<Mutex<Option<Instant>>>,
}

impl Machine {
    /// A machine of the given spec, at full speed.
    pub fn new(spec: MachineSpec) -> Self {
        Machine {
            spec,
            slowdown: Arc::new(Mutex::new(Slowdown::NONE)),
            link: Arc::default(),
            written_back_at: Arc::default(),
        }
    }

    /// The machine's cost figures.
    pub fn spec(&self) -> &MachineSpec {
        &self.spec
    }

    /// How much slower than its spec the machine runs now.
    pub fn slowdown(&self) -> Slowdown {
        *self.slowdown.lock().expect("machine state poisoned")
    }

    /// Degrades the machine (or restores it with [`Slowdown::NONE`]).
    pub fn set_slowdown(&self, slowdown: Slowdown) {
        *self.slowdown.lock().expect("machine state poisoned") = slowdown;
    }

    /// The time a piece of work takes now: `cpu_ns` of CPU and `disk_ns` of record writes,
    /// each multiplied by the machine's current slowdown.
    pub fn service_ns(&self, cpu_ns: u64, disk_ns: u64) -> u64 {
        let slowdown = self.slowdown();
        cpu_ns.saturating_mul(slowdown.cpu_factor).saturating_add(disk_ns.saturating_mul(slowdown.disk_factor))
    }

    /// Reserves the link in `direction` for a message of `bytes` arriving or leaving now,
    /// and returns when its last byte is through and how long the link is busy with it:
    /// the link carries one message after the other in the order they come (a FIFO, as a
    /// NIC's queue), each for `bytes × 8 / nic_mbit_per_sec` microseconds. `None` when
    /// the link is not limited.
    pub fn reserve_link(&self, direction: LinkDirection, bytes: u64) -> Option<(Instant, Duration)> {
        let mbit_per_sec = self.spec.nic_mbit_per_sec?;
        let transfer_ns = (u128::from(bytes) * 8_000 / u128::from(mbit_per_sec.max(1))) as u64;
        let mut link = self.link.lock().expect("machine state poisoned");
        let free_at = match direction {
            LinkDirection::Inbound => &mut link.inbound_free_at,
            LinkDirection::Outbound => &mut link.outbound_free_at,
        };
        let busy = Duration::from_nanos(transfer_ns);
        Some((queue_behind(free_at, clock::now(), busy), busy))
    }

    /// Hands `bytes` of appended records to the page cache now, and returns how long the
    /// writer is held up and how long the disk will be busy with them: the disk writes
    /// back one write after the other (a FIFO, as sequential appends reach a disk), each
    /// for `bytes / disk_mbyte_per_sec` at full speed (`slow-disk` multiplies it), and a
    /// writer waits while the backlog not yet written back is above the dirty limit
    /// (Linux's `balance_dirty_pages`, simplified to a hard limit without its gradual
    /// throttling). `None` when the disk is not limited.
    ///
    /// Simplified: this is the disk's timing only. What survives a power loss is
    /// `sim::disk`'s page-cache model, which writes expired dirty files back at once.
    pub fn write_back(&self, bytes: u64) -> Option<DiskWrite> {
        let mbyte_per_sec = self.spec.disk_mbyte_per_sec?.max(1);
        let factor = u128::from(self.slowdown().disk_factor);
        let transfer =
            |bytes: u64| Duration::from_nanos((u128::from(bytes) * 1_000 * factor / u128::from(mbyte_per_sec)) as u64);
        let busy = transfer(bytes);
        let now = clock::now();
        let done = queue_behind(&mut self.written_back_at.lock().expect("machine state poisoned"), now, busy);
        let throttled = done.duration_since(now).saturating_sub(transfer(self.spec.dirty_limit_bytes));
        Some(DiskWrite { throttled, busy })
    }

    /// How long an fsync issued now takes: until the disk has written back every byte
    /// handed to it so far (when it is limited), then the flush itself (`fsync_us`, which
    /// `slow-disk` multiplies). Simplified: an fsync waits for the whole disk's backlog,
    /// not only its own file's dirty pages (one disk writes in order).
    pub fn fsync_time(&self) -> Duration {
        let now = clock::now();
        let backlog = self
            .written_back_at
            .lock()
            .expect("machine state poisoned")
            .map_or(Duration::ZERO, |at| at.saturating_duration_since(now));
        backlog + Duration::from_nanos(self.spec.fsync_ns.saturating_mul(self.slowdown().disk_factor))
    }
}

/// Puts `busy` of work arriving `now` behind whatever a FIFO resource (a link direction,
/// the disk) already holds: it starts once the resource is free (`free_at`, `None` if
/// idle since the start) and ends at the returned instant, which the resource is now
/// busy until.
fn queue_behind(free_at: &mut Option<Instant>, now: Instant, busy: Duration) -> Instant {
    let done = free_at.map_or(now, |free| free.max(now)) + busy;
    *free_at = Some(done);
    done
}

/// The machines of a run by node name, all of one spec (cheap to clone): the nodes run
/// on them and the nemesis slows them down.
#[derive(Clone, Debug)]
pub struct Hardware {
    spec: MachineSpec,
    by_node: Arc<Mutex<std::collections::BTreeMap<String, Machine>>>,
}

impl Hardware {
    /// No machines yet; each is made, of `spec`, when first asked for.
    pub fn new(spec: MachineSpec) -> Self {
        Hardware { spec, by_node: Arc::default() }
    }

    /// The machine node `name` runs on.
    pub fn machine(&self, name: &str) -> Machine {
        let mut by_node = self.by_node.lock().expect("machines poisoned");
        by_node.entry(name.to_string()).or_insert_with(|| Machine::new(self.spec)).clone()
    }
}

/// `bytes` at `ns_per_kb` nanoseconds per KiB, rounded down.
pub fn per_kb_ns(bytes: u64, ns_per_kb: u64) -> u64 {
    bytes.saturating_mul(ns_per_kb) / 1024
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slowdown_multiplies_the_cpu_and_disk_parts_separately() {
        let machine = Machine::new(MachineSpec::default());
        assert_eq!(machine.service_ns(100, 10), 110);
        machine.set_slowdown(Slowdown { cpu_factor: 3, disk_factor: 1 });
        assert_eq!(machine.service_ns(100, 10), 310);
        machine.set_slowdown(Slowdown { cpu_factor: 1, disk_factor: 20 });
        assert_eq!(machine.service_ns(100, 10), 300);
        let clone = machine.clone();
        clone.set_slowdown(Slowdown::NONE);
        assert_eq!(machine.service_ns(100, 10), 110, "a clone is the same machine");
    }

    #[test]
    fn a_link_carries_one_message_after_the_other_each_way() {
        madsim::runtime::Runtime::new().block_on(async {
            let unlimited = Machine::new(MachineSpec::default());
            assert_eq!(unlimited.reserve_link(LinkDirection::Inbound, 1_000_000), None);
            // 1 Gbit/s: 125 bytes per microsecond.
            let machine = Machine::new(MachineSpec { nic_mbit_per_sec: Some(1_000), ..MachineSpec::default() });
            let start = clock::now();
            let after = |at: Option<(Instant, Duration)>| at.map(|(at, _)| at.duration_since(start).as_nanos());
            assert_eq!(after(machine.reserve_link(LinkDirection::Inbound, 125_000)), Some(1_000_000));
            assert_eq!(after(machine.reserve_link(LinkDirection::Inbound, 125)), Some(1_001_000), "queued behind");
            assert_eq!(after(machine.reserve_link(LinkDirection::Outbound, 125)), Some(1_000), "the other way is free");
            madsim::time::sleep(Duration::from_millis(5)).await;
            let now = clock::now();
            let (done, busy) = machine.reserve_link(LinkDirection::Inbound, 250).unwrap();
            assert_eq!(
                (done.duration_since(now).as_nanos(), busy.as_nanos()),
                (2_000, 2_000),
                "an idle link starts now"
            );
        });
    }

    #[test]
    fn the_disk_writes_back_in_order_and_holds_writers_up_only_above_the_dirty_limit() {
        madsim::runtime::Runtime::new().block_on(async {
            let unlimited = Machine::new(MachineSpec::default());
            assert_eq!(unlimited.write_back(1 << 30), None);
            assert_eq!(unlimited.fsync_time(), Duration::from_millis(1), "the flush alone");
            // 100 MB/s: 10 ns a byte; dirty limit 1 MB (10 ms of write-back).
            let spec =
                MachineSpec { disk_mbyte_per_sec: Some(100), dirty_limit_bytes: 1_000_000, ..MachineSpec::default() };
            let machine = Machine::new(spec);
            let ms = Duration::from_millis;
            assert_eq!(machine.write_back(500_000), Some(DiskWrite { throttled: Duration::ZERO, busy: ms(5) }));
            assert_eq!(
                machine.write_back(1_000_000),
                Some(DiskWrite { throttled: ms(5), busy: ms(10) }),
                "15 ms of backlog, 5 ms above the limit"
            );
            assert_eq!(machine.fsync_time(), ms(16), "the backlog, then the flush");
            machine.set_slowdown(Slowdown { cpu_factor: 1, disk_factor: 4 });
            assert_eq!(machine.fsync_time(), ms(19), "slow-disk multiplies the flush");
            assert_eq!(machine.write_back(100_000).map(|w| w.busy), Some(ms(4)), "and the transfer");
        });
    }

    #[test]
    fn per_kb_costs_are_exact_integers() {
        assert_eq!(per_kb_ns(2048, 250), 500);
        assert_eq!(per_kb_ns(100, 250), 24);
        assert_eq!(per_kb_ns(0, 250), 0);
    }
}

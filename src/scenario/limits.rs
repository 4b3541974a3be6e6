//! The bounds and defaults a scenario file is checked against, in one place: several
//! readers share them (`swarm` draws within the same bounds `validate` and `workload`
//! check). Depends on nothing.

/// The most seeds a scenario file may list or span (more belong on `--seeds`).
pub const MAX_SEEDS: u64 = 100_000;

/// The most faults `[nemesis]` may draw on average over one run (the safety phase after
/// its `start`, divided by its mean `interval`, or by the shortest `[swarm]`
/// `nemesis_interval`): the runner draws the whole schedule before the run starts, so a
/// file asking for billions of faults would exhaust memory before anything ran.
pub const MAX_NEMESIS_FAULTS: u64 = 10_000;

/// The most brokers a scenario may run.
pub const MAX_BROKERS: u32 = 100;

/// The most partitions one topic may have.
pub const MAX_PARTITIONS: u32 = 10_000;

/// The default `liveness_timeout`, in milliseconds.
pub const DEFAULT_LIVENESS_TIMEOUT_MS: u64 = 30_000;

/// The most processes one `[[producers]]` or `[[consumers]]` entry may start.
pub const MAX_CLIENTS_PER_ENTRY: u32 = 1_000;

/// The most records per second one producer may be asked for.
pub const MAX_RATE_PER_SEC: f64 = 1_000_000.0;

/// The largest record value a producer may send, in bytes: Kafka's default
/// `max.request.size` (1 MiB), which bounds one record.
pub const MAX_VALUE_BYTES: u32 = 1_048_576;

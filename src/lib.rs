//! kafkasim: a deterministic simulation testbed for Kafka's replication and delivery
//! semantics. A whole cluster runs as async tasks inside one seeded madsim runtime.
//!
//! Module map (one concept per module; arrows are the allowed dependencies):
//!
//! - [`protocol`]   request/response types, ids and Kafka error codes, and the settings a
//!   scenario and the nodes both name: topic assignments, truncation mode, offset reset
//!   (depends on nothing).
//! - [`fault`]      the fault kinds: the one list the scenario parser, the nemesis, the
//!   trace and the report share (depends on nothing).
//! - [`sim`]        the environment: node boot, `net` (typed connections with TCP-like
//!   semantics and injectable faults), `disk` (flushed vs page-cache data),
//!   fault primitives (depends on madsim).
//! - [`metastore`]  the ZooKeeper-like store: sessions, ephemeral nodes, versioned
//!   conditional writes, watches (protocol, sim::net).
//! - [`controller`] controller election, partition leader election, LeaderAndIsr
//!   propagation (protocol, sim::net, metastore client).
//! - [`broker`]     partition logs, replication (LEO, HW, ISR, leader epochs), follower
//!   fetching and truncation, produce purgatory (protocol, sim::net, sim::disk).
//! - [`client`]     producer and consumer (protocol, sim::net).
//! - [`history`]    recorded client operations and internal trace events, JSON Lines I/O.
//! - [`check`]      pure checkers `&History -> Vec<Anomaly>` (history only).
//! - [`scenario`]   the TOML scenario schema, validation with file:line:column errors.
//! - [`workload`]   drives producers and consumers and records every operation.
//! - [`plant`]      planted bugs: known-broken behaviours a run can swap in to test the
//!   checkers (depends on nothing; read by broker and controller config).
//! - [`runner`]     scenario + seed -> simulation -> history -> checks -> verdict.
//! - [`shrink`]     reduces a failing run to a minimal scenario file (runner, check).
//! - [`explain`]    each anomaly's records told as a story, with cause and fix (history, check).
//! - [`report`]     self-contained HTML and Markdown reports of a run (runner, explain).
//! - [`bench`]      `kafkasim bench`: kafkasim's throughput next to bare-network baselines.
//! - [`units`]      how durations are written for people (depends on nothing).
//! - [`cli`]        the `kafkasim` command line.

#[cfg(not(madsim))]
compile_error!(
    "kafkasim must be built with `--cfg madsim` (deterministic simulation). \
     The repository's .cargo/config.toml sets it; a RUSTFLAGS environment variable \
     replaces that setting, so either unset RUSTFLAGS or add `--cfg madsim` to it: \
     RUSTFLAGS=\"--cfg madsim\" cargo build"
);

/// Implements `Hash` for a closed set serialized by name by hashing that name (its
/// `Into<&'static str>`, from strum), exactly as the string it replaced hashed: trace
/// hashes then depend on what a trace says, not on the order of an enum's variants.
#[macro_export]
macro_rules! hash_by_name {
    ($($kind:ty),+ $(,)?) => {$(
        impl ::std::hash::Hash for $kind {
            fn hash<H: ::std::hash::Hasher>(&self, state: &mut H) {
                <&'static str>::from(*self).hash(state);
            }
        }
    )+};
}

pub mod bench;
pub mod broker;
pub mod check;
pub mod cli;
pub mod client;
pub mod controller;
pub mod explain;
pub mod fault;
pub mod history;
pub mod metastore;
pub mod plant;
pub mod protocol;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod shrink;
pub mod sim;
pub mod units;
pub mod workload;

//! kafkasim: a deterministic simulation testbed for Kafka's replication and delivery
//! semantics. A whole cluster runs as async tasks inside one seeded madsim runtime.
//!
//! Module map (one concept per module; in brackets the modules each may depend on, as
//! the code does today; there is no import cycle between modules, nor between the files
//! of one module):
//!
//! - [`protocol`]   request/response types (KRaft's quorum messages and metadata records
//!   among them, in `protocol::kraft`), ids, Kafka error codes, node and partition
//!   names, and the settings a scenario and the nodes both name: topic assignments,
//!   truncation mode, offset reset (nothing).
//! - [`fault`]      the fault kinds: the one list the scenario parser, the nemesis, the
//!   trace and the report share (nothing).
//! - [`admin`]      the topic event kinds (`[[events]]`: create a topic, add partitions),
//!   shared the same way (nothing).
//! - [`coverage`]   the named protocol states a run reaches (code probes), per run and
//!   over seeds, and a scenario's `reach` goals (nothing).
//! - [`units`]      how durations are written for people (nothing).
//! - [`profile`]    Kafka version profiles: per behaviour switch, the release that
//!   changed it and its KIP or JIRA; a scenario's `kafka_version` (nothing).
//! - [`plant`]      planted bugs: known-broken behaviours a run can swap in to test the
//!   checkers (nothing; read by broker and controller config).
//! - [`sim`]        the environment: node boot, `net` (the node API, the fabric, and the
//!   fault controls only the simulation holds), `disk` (flushed vs page-cache data),
//!   `clock` (the simulated clock, read directly) (madsim).
//! - [`history`]    recorded client operations and internal trace events in a typed
//!   vocabulary, JSON Lines I/O, histories recorded elsewhere (Jepsen's EDN, any scalar
//!   value, named through `ValueNames`), and `state`: the one fold of the trace into the
//!   cluster's state, ordered by epochs; the named states reached beside the trace
//!   (protocol, fault, coverage).
//! - [`metastore`]  the ZooKeeper-like store: sessions, ephemeral nodes, versioned
//!   conditional writes, watches (protocol, sim).
//! - [`raft`]       KRaft: the controller quorum (one voter as a state machine without
//!   I/O: KIP-595 Raft, KIP-996 pre-vote), the metadata log's records and image, the
//!   controller's partition changes and broker sessions, the quorum files (protocol, sim).
//! - [`kraft`]      KRaft's processes: the dedicated controller (a Raft voter over
//!   `sim::net` and `sim::disk`, the active controller while it leads) and the quorum
//!   transport brokers share (protocol, sim, history, raft, coverage).
//! - [`controller`] controller election, partition leader election, LeaderAndIsr
//!   propagation (protocol, sim, metastore, history, plant, coverage).
//! - [`broker`]     partition logs, replication (LEO, HW, ISR, leader epochs), follower
//!   fetching and truncation, produce purgatory, group coordinator; runs the controller
//!   in ZooKeeper mode, and in KRaft mode replicates the metadata log as an observer and
//!   keeps its session with the active controller (protocol, sim, metastore, controller,
//!   raft, kraft, history, plant, coverage).
//! - [`client`]     producer and consumer (protocol, sim).
//! - [`check`]      pure checkers `&History -> Vec<Anomaly>`, and the causes of
//!   `no-progress` (history, protocol, units).
//! - [`scenario`]   the TOML scenario schema, validation with file:line:column errors
//!   (protocol, fault, check's anomaly kinds, units, coverage).
//! - [`workload`]   drives producers and consumers and records every operation (client,
//!   history, scenario, sim, protocol, fault, coverage).
//! - [`runner`]     scenario + seed -> simulation (boot, safety, liveness, shutdown) ->
//!   history -> checks -> verdict; the one scenario-to-system configuration mapping;
//!   the nemesis (everything above).
//! - [`shrink`]     reduces a failing run to a minimal scenario file (runner, check, scenario).
//! - [`explain`]    each anomaly's records told as a story, with cause and fix (history,
//!   check, scenario, fault).
//! - [`prove`]      proof of a fix and what-if: a scenario rerun under settings over seeds,
//!   judged against the lesson's anomalies (runner, check, scenario).
//! - [`report`]     self-contained HTML and Markdown reports of a run (runner, explain, prove).
//! - [`bench`]      `kafkasim bench`: kafkasim's throughput next to bare-network baselines.
//! - [`cli`]        the `kafkasim` command line.

#![warn(missing_docs)]

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

pub mod admin;
pub mod bench;
pub mod broker;
pub mod check;
pub mod cli;
pub mod client;
pub mod controller;
pub mod coverage;
pub mod explain;
pub mod fault;
pub mod history;
pub mod kraft;
pub mod metastore;
pub mod plant;
pub mod profile;
pub mod protocol;
pub mod prove;
pub mod raft;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod shrink;
pub mod sim;
pub mod units;
pub mod utf8;
pub mod workload;

//! Scenario files: the TOML schema, its validation, and errors that point at the exact
//! file, line, column and field.
//!
//! A scenario says what cluster to build, what workload to run, which faults to inject
//! and what the checkers must find:
//!
//! ```toml
//! name = "acks-1-leader-crash"          # default: the file stem
//! title = "acks=1 loses acknowledged writes when the leader crashes"
//! theme = "loss"                         # loss | duplication | ordering | availability
//!                                        # | consumer-groups | transactions | replication-internals | history
//! kafka_version = "3.9"                 # the release whose defaults apply (default 3.9;
//!                                        # see `crate::profile`)
//! seeds = "1..51"                        # half-open range, or a list: [1, 2, 3]
//! duration = "20s"                       # the safety phase (workload + faults)
//! liveness_timeout = "30s"               # the heal-and-drain phase bound (default 30s)
//!
//! [cluster]
//! brokers = 3                            # broker-1 .. broker-3 (default 3)
//! truncation = "leader-epoch"            # KIP-279 (2.0+), "leader-epoch-kip-101" (0.11-1.1)
//!                                        # or "legacy" (pre-KIP-101); default: the release's
//! [cluster.config]                       # Kafka's broker keys and defaults
//! "min.insync.replicas" = 2
//! "controlled.shutdown.enable" = true    # a "stop" moves leaderships away first
//! "auto.leader.rebalance.enable" = true  # preferred leaders return: first check 5 s
//! "leader.imbalance.check.interval.seconds" = 300  # after a controller takes office
//! # KRaft instead of ZooKeeper: metadata = "kraft" and controllers = 1 | 3 | 5 in
//! # [cluster]; the quorum's and heartbeats' keys here (see the README's KRaft section)
//!
//! [cluster.os]                           # the brokers' Linux sysctls (page-cache write-back)
//! "vm.dirty_expire_centisecs" = 3000     # written back once dirty this long (default 30 s)
//! "vm.dirty_writeback_centisecs" = 500   # the flusher wakes this often (default 5 s; 0: never)
//!
//! [cluster.machine]                      # the brokers' cost model (README: the request pipeline)
//! produce_us_per_request = 40            # a handler's fixed work per produce; every key names
//! produce_ns_per_kb = 500                #   its unit; the pipeline's threads and queue are
//!                                        #   num.network.threads, num.io.threads and
//!                                        #   queued.max.requests in [cluster.config]
//!
//! [metastore]                            # the ZooKeeper server (zoo.cfg's names)
//! tickTime = 2000                        # ms; a broker's zookeeper.session.timeout.ms is
//! minSessionTimeout = 4000               #   granted clamped into [min, max], which default
//! maxSessionTimeout = 40000              #   to 2 and 20 tickTimes
//!
//! [network]
//! latency_min = "1ms"
//! latency_max = "5ms"
//! packet_loss_rate = 0.0
//!
//! [[topics]]
//! name = "orders"
//! partitions = 3                         # orders-0 .. orders-2
//! "replication.factor" = 3
//! [topics.config]
//! "unclean.leader.election.enable" = false
//!
//! [[producers]]
//! count = 2                              # producer-1, producer-2
//! topic = "orders"
//! rate_per_sec = 100                     # or steps: [{ at = "0s", rate = 100 },
//!                                        #   { at = "5s", rate = 2000 }, ...]
//! partitioning = "explicit"              # or "keyed" (with key_count) or "unkeyed"
//! send = "sync"                          # or "async"
//! [producers.config]                     # Kafka's producer keys and defaults
//! acks = "1"
//!
//! [[consumers]]
//! topic = "orders"
//! mode = "subscribe"                     # or "assign"
//! group = "billing"
//! [consumers.config]
//! "auto.offset.reset" = "earliest"       # or "latest" (default), or "none": errors go to
//!                                        #   the application (a failed poll), which seeks
//! offset_validation = "kip-320"          # or "none" (Kafka <= 2.2): validate positions
//!                                        #   after a leader change (KIP-320, 2.3)
//!
//! [[faults]]
//! at = "5s"
//! kind = "crash"                         # crash | restart | partition | heal
//! target = "the leader of orders-0"      #   | packet-loss | latency
//! duration = "3s"                        # undo after 3s (here: restart)
//!
//! [[faults]]                             # an operator's clean stop of brokers
//! at = "10s"
//! kind = "stop"                          # controlled shutdown (if enabled), flush,
//! target = "the leader of orders-0"      # close the metastore session, exit; with a
//! duration = "5s"                        # duration, restart 5s after the fault fired
//!                                        # (or when it has exited, if later)
//!
//! [[faults]]                             # an operator's rolling restart: every broker
//! at = "15s"                             # in id order, the controller of the moment
//! kind = "rolling-restart"               # last; each stops cleanly, restarts at once,
//!                                        # and the next waits until it is back in the
//!                                        # ISR of every partition it hosts (at most
//!                                        # 30 s); takes no target and no duration
//!
//! # [[events]]                           # an administrator's topic change, in a KRaft
//! # at = "8s"                            #   cluster: create-topic | add-partitions,
//! # kind = "add-partitions"              #   sent to the controllers; clients learn it
//! # topic = "orders"                     #   at their next metadata refresh
//! # partitions = 6                       #   (`metadata.max.age.ms`); or kind =
//! #                                      #   "subscribe" with target = "consumer-2"
//! #                                      #   and topics = ["orders", "payments"]
//!
//! [nemesis]                              # faults drawn from the seed (see `nemesis`)
//! kinds = ["crash", "partition"]
//! interval = "2s"
//!
//! [swarm]                                # per-seed configuration bounds (see `swarm`)
//! brokers = [3, 5]
//!
//! [fix]                                  # the fix: prose, and settings as --set takes them
//! text = "acks=all with min.insync.replicas=2"  # (or the prose alone: fix = "..." at the top)
//! set = { acks = "all", "min.insync.replicas" = 2 }  # explain --prove-fix applies them
//!
//! [expect]
//! present = ["lost-write"]
//! absent = ["*"]                         # every other kind
//! allow = ["G0"]                         # ... but these may appear (out of absent = ["*"])
//!
//! [experiment]                           # what `kafkasim experiment FILE` varies
//! vary = ["partitions=1,4,16"]           #   (see `experiment`)
//! ```
//!
//! Durations are strings with a unit (`"150ms"`, `"2.5s"`, `"1m"`); Kafka settings keep
//! Kafka's names, units and defaults, quoted or as plain dotted keys.
//!
//! # Layers
//!
//! Reading happens in layers. A module uses only modules listed before it: those of
//! lower layers and, within its own layer, the earlier ones (`tests_layers` checks every
//! `super::` path against this order, so the modules cannot import each other in a
//! circle):
//!
//! 1. `span` (byte spans, field paths, positioned values and the `Issue`s found at them),
//!    `keys` (the keys each table accepts), `limits` (bounds and defaults).
//! 2. `error` ([`ScenarioError`] with file:line:column, and message wording).
//! 3. `values` (durations, seed ranges, named choices), `overrides` (`--set KEY=VALUE`
//!    settings and the tables each goes into), `experiment` (`--vary` dimensions and
//!    the `[experiment]` section they make).
//! 4. The spec types, what the readers produce: `model_rate` (a producer's rate
//!    schedule), `model_clients`, `model_faults`,
//!    `model_events` (`[[events]]`), `model_delay_queues` (`[[delay_queues]]`),
//!    `model_texts` (the catalog texts' languages, [`Lang`], and [`Texts`]), and
//!    `model` with the [`Scenario`] made of them (they use `values` only to print
//!    durations); and `raw` (TOML text to positioned values; keys and TOML types
//!    checked).
//! 5. `fields` (field rules and notes several readers share) and `target` (fault
//!    target phrases).
//! 6. The readers, which check meaning and fill in defaults: `fix` (the fix's prose
//!    and its `[fix] set` settings), `texts` (the catalog
//!    texts and the `[zh]` table), `hardware`
//!    (`[cluster.os]`, `[cluster.machine]`), `rate` (a producer's `rate_per_sec`),
//!    `workload` (`[[producers]]`,
//!    `[[consumers]]`), `dead_letter` (the dead-letter keys of a `[[pipelines]]`
//!    entry), `pipelines` (`[[pipelines]]`), `delay_queues`
//!    (`[[delay_queues]]`, with `model_delay_queues`), `faults`, `events`
//!    (`[[events]]`: topic administration), `nemesis`, `kraft` (the KRaft keys
//!    of `[cluster]` and `[cluster.config]`), `swarm_settings` (the Kafka settings a
//!    wide `[swarm]` draws from lists), `swarm` (which draws the metadata mode
//!    with `kraft`'s names and release checks).
//! 7. `validate`: the root table, `[cluster]`, `[network]`, `[[topics]]`, `[expect]`,
//!    `[experiment]`,
//!    and the whole [`Scenario`] from the other readers; [`parse`] and [`load`] call it.
//! 8. `effective`: the release switches of a read scenario, written back in the
//!    readers' spellings, for `run --trace` and reports.
//!
//! The settings the nodes act on too are `protocol`'s types ([`Acks`](crate::protocol::Acks),
//! [`TruncationMode`](crate::protocol::TruncationMode),
//! [`OffsetReset`](crate::protocol::OffsetReset)): the readers map a scenario's words
//! (`"leader-epoch"`, `"earliest"`) to them, and the runner passes them on unconverted.

mod dead_letter;
mod delay_queues;
mod effective;
mod error;
mod events;
mod experiment;
mod faults;
mod fields;
mod fix;
mod group_protocol;
mod hardware;
mod keys;
mod kraft;
mod limits;
mod model;
mod model_clients;
mod model_delay_queues;
mod model_events;
mod model_faults;
mod model_rate;
mod model_texts;
mod nemesis;
mod overrides;
mod pipelines;
mod rate;
mod raw;
mod span;
mod swarm;
mod swarm_settings;
mod target;
mod texts;
mod validate;
mod values;
mod workload;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_delay_queues;
#[cfg(test)]
mod tests_errors;
#[cfg(test)]
mod tests_faults;
#[cfg(test)]
mod tests_fix;
#[cfg(test)]
mod tests_kraft;
#[cfg(test)]
mod tests_layers;
#[cfg(test)]
mod tests_nemesis;
#[cfg(test)]
mod tests_overrides;
#[cfg(test)]
mod tests_pipelines;
#[cfg(test)]
mod tests_profile;
#[cfg(test)]
mod tests_props;
#[cfg(test)]
mod tests_rate;
#[cfg(test)]
mod tests_rewind;
#[cfg(test)]
mod tests_texts;
#[cfg(test)]
mod tests_values;

use std::path::Path;

pub use effective::{render_switch_settings, switch_settings, SwitchSetting};
pub use error::ScenarioError;
pub use experiment::{combinations, Dimension, ExperimentSpec, MAX_COMBINATIONS};
pub use limits::{
    DEFAULT_LIVENESS_TIMEOUT_MS, MAX_BROKERS, MAX_CLIENTS_PER_ENTRY, MAX_PARTITIONS, MAX_RATE_PER_SEC, MAX_SEEDS,
};
pub use model::{
    BrokerSettings, ClusterSpec, Expectations, NetworkSpec, OsSettings, Scenario, SettingChoices, SwarmKey, SwarmSpec, Theme, TopicSettings,
    TopicSpec,
};
pub use model_clients::{
    CommitMode, CommitPolicy, ConsumerMode, ConsumerSettings, ConsumerSpec, DeadLetterSpec, Guarantee,
    ManualPartitions, OutputPartitioner, Partitioning, PipelineSpec, Processing, ProducerSettings, ProducerSpec, SendMode,
};
pub use model_delay_queues::{DelayQueueSpec, DelayTier};
pub use model_events::{RewindTo, RewindWho, TopicEvent, TopicEventSpec};
pub use model_faults::{FaultAction, FaultSpec, NemesisSpec, SplitShape, StuckChannel, Target, Trigger, TriggerEvent};
pub use model_rate::{RateAt, RateSchedule, RateStep};
pub use overrides::{set_arguments, SetScope, Setting};
pub use model_texts::{Lang, TextKey, Texts};
pub use values::{format_duration_ms, parse_duration_ms, parse_seed_range};

/// Reads, parses and validates the scenario file at `path`.
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    load_with(path, &[], SetScope::OneScenario)
}

/// Reads, parses and validates the scenario file at `path` with `--set` settings
/// applied over it (see `overrides` for where each goes).
pub fn load_with(path: &Path, settings: &[Setting], scope: SetScope) -> Result<Scenario, ScenarioError> {
    let bytes = std::fs::read(path).map_err(|e| ScenarioError::unreadable(path, &e))?;
    let text = crate::utf8::decode(bytes).map_err(|bad| ScenarioError::not_utf8(path, bad))?;
    parse_with(&text, path, settings, scope)
}

/// Parses and validates scenario text; `path` is used for the default name and in errors.
pub fn parse(text: &str, path: &Path) -> Result<Scenario, ScenarioError> {
    parse_with(text, path, &[], SetScope::OneScenario)
}

/// Parses and validates scenario text with `--set` settings applied over it.
pub fn parse_with(text: &str, path: &Path, settings: &[Setting], scope: SetScope) -> Result<Scenario, ScenarioError> {
    validate::build(text, path, settings, scope).map_err(|issue| {
        let setting = overrides::setting_of(&issue, text.len(), settings).map(|s| s.to_string());
        ScenarioError::from_issue(path, text, issue, setting)
    })
}

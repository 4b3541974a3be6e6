//! Turns a scenario with `[swarm]` and `[nemesis]` sections into the concrete scenario
//! one seed runs: the swarm draws (cluster size, replication factor, client settings,
//! which fault kinds are enabled and how likely each is), then the nemesis' fault
//! schedule, appended to the scenario's own `[[faults]]`.
//!
//! # Replaying from the seed alone
//!
//! The draws happen before the simulation starts, outside the madsim runtime, from
//! [`SeedRng`]: SplitMix64 seeded with `seed XOR stream`, where the stream constant is
//! [`SWARM_STREAM`] for the swarm parameters and [`NEMESIS_STREAM`] for the fault
//! schedule. The generator and the order of the draws are fixed here, with no
//! dependency on `rand`'s algorithms, madsim's generator, the clock or anything the
//! system under test does. So the same scenario file and seed always draw the same
//! parameters, the runtime (seeded with the same seed) then replays the same run, and
//! a change to the broker does not move the faults. Two streams keep the schedule
//! stable when only a swarm bound changes the number of swarm draws.

use super::draw::Draw;
use crate::fault::FaultKind;
use crate::protocol::{broker_name, partition_name, MetadataMode, NodeName, METASTORE};
use crate::scenario::format_duration_ms;
use crate::scenario::{
    ConsumerMode, FaultAction, FaultSpec, NemesisSpec, Scenario, SendMode, SplitShape, SwarmSpec, Target,
};
use serde::{Deserialize, Serialize};

/// The stream constant of the swarm parameters ("swarm" in ASCII).
pub const SWARM_STREAM: u64 = 0x0000_0073_7761_726d;
/// The stream constant of the nemesis' fault schedule ("nemesis" in ASCII).
pub const NEMESIS_STREAM: u64 = 0x006e_656d_6573_6973;

/// SplitMix64 (Steele, Lea and Flood, 2014): a tiny generator whose every output is
/// fixed by its 64-bit state, so draws never change with a dependency upgrade.
#[derive(Clone, Debug)]
pub struct SeedRng(u64);

impl SeedRng {
    /// The generator of one stream of one seed.
    pub fn new(seed: u64, stream: u64) -> Self {
        SeedRng(seed ^ stream)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A uniform draw from `lo..=hi` (by rejection, so without modulo bias).
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            return lo;
        }
        let span = hi - lo;
        if span == u64::MAX {
            return self.next_u64();
        }
        let n = span + 1;
        let zone = u64::MAX - (u64::MAX % n) - 1;
        loop {
            let x = self.next_u64();
            if x <= zone {
                return lo + x % n;
            }
        }
    }

    /// A uniform draw from [0, 1), with 53 bits of precision.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// One element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.range(0, items.len() as u64 - 1) as usize]
    }
}

/// What one seed drew, printed at the start of `kafkasim run` and kept in the
/// [`RunOutcome`](super::RunOutcome) for reports.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DrawnParameters {
    /// The swarm draws as (setting, value) in draw order, e.g. `("brokers", "4")`;
    /// empty without `[swarm]`.
    pub swarm: Vec<(String, String)>,
    /// The nemesis' kinds with their probabilities, in the order written; empty without
    /// `[nemesis]`. Kinds swarm disabled are absent.
    pub nemesis_kinds: Vec<(String, f64)>,
    /// The nemesis' mean interval, in milliseconds.
    pub nemesis_interval_ms: Option<u64>,
    /// The drawn faults, in firing order, as `FaultSpec`'s display form.
    pub faults: Vec<String>,
    /// A guided sweep's draw, as `--draw` takes it (`settings=12,faults=40,shift=...`);
    /// `None` for a plain seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub draw: Option<String>,
    /// With `[expect] absent = "promised"`: the kinds this seed's configuration promises
    /// will not happen, as (kind name, the settings that promise it), in
    /// [`AnomalyKind::ALL`](crate::check::AnomalyKind::ALL) order (`super::promise`).
    #[serde(default)]
    pub promised: Vec<(String, String)>,
}

impl DrawnParameters {
    /// Human lines, without indentation.
    pub fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(draw) = &self.draw {
            out.push(format!("guided draw: {draw}"));
        }
        if !self.swarm.is_empty() {
            let values: Vec<String> = self.swarm.iter().map(|(k, v)| format!("{k} = {v}")).collect();
            out.push(format!("swarm drew: {}", values.join(", ")));
        }
        if let Some(interval) = self.nemesis_interval_ms {
            let kinds: Vec<String> = self.nemesis_kinds.iter().map(|(k, p)| format!("{k} {:.0}%", p * 100.0)).collect();
            out.push(format!(
                "nemesis: {}; a fault every {} on average; {} faults drawn",
                kinds.join(", "),
                format_duration_ms(interval),
                self.faults.len()
            ));
        }
        if !self.promised.is_empty() {
            out.push(format!("promised absent: {}", super::promise::describe(&self.promised)));
        }
        out
    }

    /// The promised kinds (see [`DrawnParameters::promised`]).
    pub fn promised_kinds(&self) -> Vec<crate::check::AnomalyKind> {
        self.promised.iter().filter_map(|(k, _)| crate::check::AnomalyKind::from_name(k)).collect()
    }
}

/// The scenario this seed runs, and what was drawn (`None` without `[swarm]` and
/// `[nemesis]`, in which case the scenario is returned unchanged).
pub fn instantiate(scenario: &Scenario, seed: u64) -> (Scenario, Option<DrawnParameters>) {
    instantiate_draw(scenario, seed, None)
}

/// [`instantiate`] under a guided sweep's draw: the settings and the faults drawn from
/// the draw's seeds, the edits applied to the schedule. Panics on a draw that
/// [`Draw::check`] refuses (the CLI and the guided search check theirs).
pub fn instantiate_draw(scenario: &Scenario, seed: u64, draw: Option<&Draw>) -> (Scenario, Option<DrawnParameters>) {
    try_instantiate_draw(scenario, seed, draw).unwrap_or_else(|e| panic!("a checked draw: {e}"))
}

/// [`instantiate_draw`], or why the draw's edits do not apply.
pub(super) fn try_instantiate_draw(
    scenario: &Scenario,
    seed: u64,
    draw: Option<&Draw>,
) -> Result<(Scenario, Option<DrawnParameters>), String> {
    let mut s = scenario.clone();
    if s.swarm.is_none() && s.nemesis.is_none() {
        return Ok((s, None));
    }
    let (settings_seed, faults_seed) = draw.map_or((seed, seed), |d| (d.settings_seed, d.faults_seed));
    let mut drawn = DrawnParameters {
        swarm: Vec::new(),
        nemesis_kinds: Vec::new(),
        nemesis_interval_ms: None,
        faults: Vec::new(),
        draw: draw.map(ToString::to_string),
        promised: Vec::new(),
    };
    if let Some(swarm) = s.swarm.clone() {
        let mut rng = SeedRng::new(settings_seed, SWARM_STREAM);
        let replay = rng.clone();
        apply_swarm(&mut s, &swarm, &mut rng, &mut drawn.swarm);
        if !swarm.settings.is_empty() || swarm.min_insync_replicas.is_some() {
            let again = |r: &mut Scenario, rng: &mut SeedRng| apply_swarm(r, &swarm, rng, &mut Vec::new());
            s = super::swarm_wide::apply_wide(s, scenario, &swarm, &mut rng, replay, again, &mut drawn.swarm);
        }
    }
    if let Some(nemesis) = s.nemesis.clone() {
        let mut rng = SeedRng::new(faults_seed, NEMESIS_STREAM);
        let mut faults = schedule(&s, &nemesis, &mut rng);
        if let Some(draw) = draw {
            draw.apply(&s, &nemesis, &mut faults)?;
        }
        drawn.nemesis_kinds = nemesis.probabilities().into_iter().map(|(k, p)| (k.name().to_string(), p)).collect();
        drawn.nemesis_interval_ms = Some(nemesis.interval_ms);
        drawn.faults = faults.iter().map(ToString::to_string).collect();
        s.faults.extend(faults);
        // Stable: at equal times the scheduled faults fire before the drawn ones.
        s.faults.sort_by_key(|f| f.at_ms);
    }
    if s.expect.promised {
        drawn.promised =
            super::promise::promised(&s).into_iter().map(|p| (p.kind.name().to_string(), p.because)).collect();
    }
    Ok((s, Some(drawn)))
}

/// Applies the swarm draws to `s`, recording each as (setting, value). The draw order
/// is part of the replay contract: cluster (brokers, metadata, controllers), topics, each
/// producer entry, nemesis. A bound the scenario does not set draws nothing, so adding
/// a kind of draw leaves the draws of the files without it as they were.
fn apply_swarm(s: &mut Scenario, swarm: &SwarmSpec, rng: &mut SeedRng, out: &mut Vec<(String, String)>) {
    let mut note = |k: &str, v: String| out.push((k.to_string(), v));
    if let Some((lo, hi)) = swarm.brokers {
        s.cluster.brokers = rng.range(lo.into(), hi.into()) as u32;
        note("brokers", s.cluster.brokers.to_string());
    }
    if let Some(modes) = &swarm.metadata {
        let mode = *rng.pick(modes);
        match (mode, s.cluster.metadata) {
            (MetadataMode::Kraft, MetadataMode::Zookeeper) => {
                // Validation gave the quorum of a drawn KRaft cluster whenever one can be drawn.
                let (controllers, pre_vote) = swarm.kraft_quorum.expect("a KRaft quorum when KRaft is drawn");
                s.cluster.controllers = controllers;
                s.cluster.pre_vote = pre_vote;
            }
            (MetadataMode::Zookeeper, MetadataMode::Kraft) => {
                s.cluster.controllers = 0;
                s.cluster.pre_vote = false;
            }
            _ => {}
        }
        s.cluster.metadata = mode;
        note("metadata", mode.name().to_string());
    }
    if let (Some((lo, hi)), MetadataMode::Kraft) = (swarm.controllers, s.cluster.metadata) {
        // Validation made both ends 1, 3 or 5: one of those counts in the range.
        let counts: Vec<u32> = [1, 3, 5].into_iter().filter(|c| (lo..=hi).contains(c)).collect();
        s.cluster.controllers = *rng.pick(&counts);
        note("controllers", s.cluster.controllers.to_string());
    }
    if let Some((lo, hi)) = swarm.replication_factor {
        // Drawn below the broker count; validation made lo <= every drawable count.
        let rf = rng.range(lo.into(), hi.min(s.cluster.brokers).into()) as u32;
        s.topics.iter_mut().for_each(|t| t.replication_factor = rf);
        note("replication.factor", rf.to_string());
    }
    if let Some((lo, hi)) = swarm.partitions {
        let p = rng.range(lo.into(), hi.into()) as u32;
        s.topics.iter_mut().for_each(|t| t.partitions = p);
        note("partitions", p.to_string());
    }
    let entries = s.producers.len();
    for (i, p) in s.producers.iter_mut().enumerate() {
        let name = |key: &str| if entries == 1 { key.to_string() } else { format!("producers[{i}].{key}") };
        if let Some((lo, hi)) = swarm.producers {
            p.count = rng.range(lo.into(), hi.into()) as u32;
            note(&name("producers"), p.count.to_string());
        }
        if let Some((lo, hi)) = swarm.rate_per_sec {
            // Whole records per second read better and replay the same.
            let rate = (lo + rng.unit() * (hi - lo)).round().clamp(lo, hi);
            p.rate_per_sec = crate::scenario::RateSchedule::constant(rate);
            note(&name("rate_per_sec"), rate.to_string());
        }
        if let Some(modes) = &swarm.send {
            p.send_mode = *rng.pick(modes);
            note(&name("send"), if p.send_mode == SendMode::Sync { "sync" } else { "async" }.to_string());
        }
        if let Some((lo, hi)) = swarm.linger_ms {
            p.config.linger_ms = rng.range(lo, hi);
            note(&name("linger.ms"), p.config.linger_ms.to_string());
        }
        if let Some((lo, hi)) = swarm.batch_size {
            p.config.batch_size = rng.range(lo, hi);
            note(&name("batch.size"), p.config.batch_size.to_string());
        }
        if let Some((lo, hi)) = swarm.max_in_flight {
            p.config.max_in_flight_requests_per_connection = rng.range(lo.into(), hi.into()) as u32;
            note(
                &name("max.in.flight.requests.per.connection"),
                p.config.max_in_flight_requests_per_connection.to_string(),
            );
        }
    }
    if let Some(nemesis) = &mut s.nemesis {
        // Swarm testing: switch each kind off half the time, so that some seeds see
        // only one or two kinds at full strength, and draw the weights of the rest.
        let enabled: Vec<bool> = nemesis.kinds.iter().map(|_| rng.chance(0.5)).collect();
        let forced = (!enabled.contains(&true)).then(|| rng.range(0, nemesis.kinds.len() as u64 - 1) as usize);
        let mut kinds = Vec::new();
        for (i, &(kind, weight)) in nemesis.kinds.iter().enumerate() {
            let scale = 0.1 + 0.9 * rng.unit();
            if enabled[i] || forced == Some(i) {
                kinds.push((kind, weight * scale));
            }
        }
        nemesis.kinds = kinds;
        let names: Vec<&str> = nemesis.kinds.iter().map(|(k, _)| k.name()).collect();
        note("nemesis kinds", format!("[{}]", names.join(", ")));
        if let Some((lo, hi)) = swarm.nemesis_interval_ms {
            nemesis.interval_ms = rng.range(lo, hi);
            note("nemesis interval", format_duration_ms(nemesis.interval_ms));
        }
    }
}

/// Draws the safety phase's faults: exponential gaps with the nemesis' mean, a kind by
/// weight, a duration, and the kind's parameters. Targets that depend on the cluster's
/// state ("the leader of orders-1") are resolved when the fault fires.
///
/// The targets follow the metadata mode. In ZooKeeper mode a role draws a named broker,
/// the controller broker or a partition's leader, and the metadata service is the
/// metastore. In KRaft mode the brokers' roles stay, the controller role draws a
/// controller node ([`controller_role`]) and the metadata service is the controller
/// quorum ([`quorum_role`]); a ZooKeeper scenario's draws are the same calls in the same
/// order as before KRaft existed, so its faults (and trace hashes) did not move.
fn schedule(s: &Scenario, nemesis: &NemesisSpec, rng: &mut SeedRng) -> Vec<FaultSpec> {
    let mut out = Vec::new();
    let mut at = nemesis.start_ms;
    loop {
        // Inverse transform of the exponential distribution; at least 1 ms apart.
        let gap = -(nemesis.interval_ms as f64) * (1.0 - rng.unit()).ln();
        at = at.saturating_add((gap.round() as u64).max(1));
        if at >= s.duration_ms {
            return out;
        }
        out.push(draw_fault(s, nemesis, rng, at, None));
    }
}

/// Draws one fault of the nemesis at `at_ms`: its kind by weight (unless `kind` says
/// which), its duration, and the kind's parameters. The schedule draws each of its
/// faults with it, and a guided sweep's edits ([`super::draw`]) their added and
/// retargeted ones.
pub(super) fn draw_fault(
    s: &Scenario,
    nemesis: &NemesisSpec,
    rng: &mut SeedRng,
    at_ms: u64,
    kind: Option<FaultKind>,
) -> FaultSpec {
    let partitions: Vec<String> =
        s.topics.iter().flat_map(|t| (0..t.partitions).map(move |p| partition_name(&t.name, p))).collect();
    let servers =
        Servers { brokers: s.cluster.brokers.max(1), controllers: s.cluster.controllers, partitions: &partitions };
    let members = group_consumers(s);
    let kind = kind.unwrap_or_else(|| {
        let total: f64 = nemesis.kinds.iter().map(|(_, w)| w).sum();
        let mut x = rng.unit() * total;
        let mut kind = nemesis.kinds[nemesis.kinds.len() - 1].0;
        for &(k, w) in &nemesis.kinds {
            if x < w {
                kind = k;
                break;
            }
            x -= w;
        }
        kind
    });
    let duration = rng.range(nemesis.duration_ms_min, nemesis.duration_ms_max);
    let action = match kind {
        FaultKind::Crash => FaultAction::Crash { target: server_role(rng, &servers) },
        FaultKind::Partition => partition(rng, &servers),
        FaultKind::PacketLoss => {
            let lo = 0.01f64.min(nemesis.packet_loss_rate_max);
            let rate = lo + rng.unit() * (nemesis.packet_loss_rate_max - lo);
            FaultAction::PacketLoss { rate: ((rate * 1000.0).round() / 1000.0).clamp(lo, nemesis.packet_loss_rate_max) }
        }
        FaultKind::Latency => FaultAction::Latency {
            latency_ms_min: s.network.latency_ms_min,
            latency_ms_max: rng.range(s.network.latency_ms_max, nemesis.latency_ms_max),
        },
        FaultKind::PowerLoss => {
            // One time in four a correlated loss: every replica of a partition.
            let target = match rng.chance(0.25) && !partitions.is_empty() {
                true => Target::ReplicasOf(rng.pick(&partitions).clone()),
                false => server_role(rng, &servers),
            };
            FaultAction::PowerLoss { target }
        }
        FaultKind::Pause => {
            let target = if rng.chance(0.1) { quorum_role(rng, &servers) } else { server_role(rng, &servers) };
            FaultAction::Pause { target }
        }
        FaultKind::Clog => {
            let target = server_role(rng, &servers);
            let peers = if rng.chance(0.25) { metadata_peers(&servers) } else { Target::Everyone };
            let peers = widen(&target, peers, &servers);
            FaultAction::Clog { target, peers }
        }
        FaultKind::Reorder => FaultAction::Reorder { target: server_role(rng, &servers), peers: Target::Everyone },
        FaultKind::Duplicate => {
            let rate = 0.01 + rng.unit() * (nemesis.duplicate_rate_max - 0.01).max(0.0);
            let rate = ((rate * 1000.0).round() / 1000.0).clamp(0.001, nemesis.duplicate_rate_max);
            let target = server_role(rng, &servers);
            FaultAction::Duplicate { target, peers: Target::Everyone, rate }
        }
        // A server by role as for a crash: in KRaft mode a controller stops cleanly too.
        FaultKind::Stop => FaultAction::Stop { target: server_role(rng, &servers) },
        FaultKind::RollingRestart => FaultAction::RollingRestart,
        // Validation refuses these kinds in a scenario without group consumers.
        FaultKind::Stall => FaultAction::Stall { target: Target::Node(rng.pick(&members).clone()) },
        FaultKind::Leave => FaultAction::Leave { target: Target::Node(rng.pick(&members).clone()) },
        // A broker's machine, a few to some tens of times slower.
        FaultKind::SlowDisk => FaultAction::SlowDisk { target: broker_role(rng, &servers), factor: rng.range(3, 30) },
        FaultKind::CpuSteal => FaultAction::CpuSteal { target: broker_role(rng, &servers), factor: rng.range(3, 30) },
        // Validation refuses the undoing kinds in `[nemesis] kinds`.
        FaultKind::Restart | FaultKind::Resume | FaultKind::Heal | FaultKind::StuckConnection => {
            unreachable!("{kind} is never drawn")
        }
    };
    FaultSpec { at_ms, action, duration_ms: Some(duration), line: nemesis.line, trigger: None }
}

/// What the drawn targets range over.
struct Servers<'a> {
    /// The broker count (at least 1).
    brokers: u32,
    /// The KRaft controller count; 0 in ZooKeeper mode.
    controllers: u32,
    /// Every partition, by name (`orders-0`).
    partitions: &'a [String],
}

impl Servers<'_> {
    fn kraft(&self) -> bool {
        self.controllers > 0
    }
}

/// The node names of the group consumers (`mode = "subscribe"`), as the runner boots
/// them (`consumer-1`, ...).
fn group_consumers(s: &Scenario) -> Vec<String> {
    s.consumer_instances()
        .into_iter()
        .filter(|(_, c)| c.mode == ConsumerMode::Subscribe)
        .map(|(name, _)| name)
        .collect()
}

/// A server by role: a named broker, the controller, or a partition's leader (a third
/// each). The controller is [`controller_role`]'s: a broker in ZooKeeper mode, a
/// controller node in KRaft mode.
fn server_role(rng: &mut SeedRng, servers: &Servers) -> Target {
    match rng.range(0, 2) {
        0 => Target::Node(broker_name(rng.range(1, servers.brokers.into()) as u32)),
        1 => controller_role(rng, servers),
        _ if servers.partitions.is_empty() => controller_role(rng, servers),
        _ => Target::LeaderOf(rng.pick(servers.partitions).clone()),
    }
}

/// A broker by role: a named broker, or a partition's leader when there are partitions.
fn broker_role(rng: &mut SeedRng, servers: &Servers) -> Target {
    if rng.range(0, 1) == 1 && !servers.partitions.is_empty() {
        return Target::LeaderOf(rng.pick(servers.partitions).clone());
    }
    Target::Node(broker_name(rng.range(1, servers.brokers.into()) as u32))
}

/// The controller as a target. ZooKeeper mode: the controller broker of the moment (no
/// draw). KRaft mode: half the time the active controller, otherwise a controller named
/// from the seed (the active one or not, which decides whether the quorum fails over).
fn controller_role(rng: &mut SeedRng, servers: &Servers) -> Target {
    if !servers.kraft() {
        return Target::Controller;
    }
    if rng.chance(0.5) {
        Target::ActiveController
    } else {
        Target::Node(NodeName::controller(rng.range(1, servers.controllers.into()) as u32).to_string())
    }
}

/// The metadata service as a whole. ZooKeeper mode: the metastore (no draw). KRaft mode:
/// a majority of the controllers (the active one among them) or all of them, half the
/// time each: either way the quorum is lost while the fault lasts.
fn quorum_role(rng: &mut SeedRng, servers: &Servers) -> Target {
    if !servers.kraft() {
        return Target::Node(METASTORE.to_string());
    }
    if rng.chance(0.5) {
        Target::MajorityOfControllers
    } else {
        Target::AllControllers
    }
}

/// The metadata service as the far side of a link fault: the metastore, or every
/// controller in KRaft mode (no draw either way).
fn metadata_peers(servers: &Servers) -> Target {
    if servers.kraft() {
        Target::AllControllers
    } else {
        Target::Node(METASTORE.to_string())
    }
}

/// A link fault's peers, widened to everyone else when they would cut nothing: a node
/// cut off from itself, or the only controller from "all controllers". A controller cut
/// off from "all controllers" in a quorum of three or five is cut off from the others.
fn widen(target: &Target, peers: Target, servers: &Servers) -> Target {
    // In KRaft mode "the controller" is the active controller.
    let names_a_controller = target.names_controllers() || *target == Target::Controller;
    let only_itself =
        peers == *target || (servers.controllers == 1 && peers == Target::AllControllers && names_a_controller);
    if only_itself {
        Target::Everyone
    } else {
        peers
    }
}

/// A partition's shape: one time in five a split of the cluster (majority/minority or
/// bridge, around a server by role); otherwise who is cut off (a server by role, or one
/// time in ten the metadata service), from whom (everyone else, the metadata service, or
/// one broker) and whether one way only (one time in five).
fn partition(rng: &mut SeedRng, servers: &Servers) -> FaultAction {
    // One time in five a cut through the whole cluster instead of one node's links.
    if servers.brokers >= 3 && rng.chance(0.2) {
        let shape = if rng.chance(0.5) { SplitShape::MajorityMinority } else { SplitShape::Bridge };
        return FaultAction::Split { shape, target: server_role(rng, servers) };
    }
    let (target, peers) = if rng.chance(0.1) {
        (quorum_role(rng, servers), Target::Everyone)
    } else {
        let target = server_role(rng, servers);
        let peers = match rng.range(0, 4) {
            0 => metadata_peers(servers),
            1 => Target::Node(broker_name(rng.range(1, servers.brokers.into()) as u32)),
            _ => Target::Everyone,
        };
        (target, peers)
    };
    let peers = widen(&target, peers, servers);
    FaultAction::Partition { target, peers, one_way: rng.chance(0.2) }
}

#[cfg(test)]
#[path = "swarm_tests.rs"]
mod tests;

//! The fault kinds: the one list of what the nemesis can do to a run. The scenario parser
//! reads `kind = "..."` and `[nemesis] kinds` against it, the swarm draws from it, the
//! runner fires one function per kind, the trace records it and the report draws it.
//!
//! Adding a fault kind means one variant here, one parser arm in `scenario::faults`, one
//! firing function in `runner::nemesis` (plus a draw in `runner::swarm` if the nemesis
//! may draw it) and one effect test in `sim-tests`.
//!
//! Depends on nothing.

use serde::{Deserialize, Serialize};

/// What a fault does, by its name in scenario files (`kind = "power-loss"`), traces and
/// reports.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    strum::Display,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum FaultKind {
    /// The process dies; its page cache survives (a process crash, not a power loss).
    Crash,
    /// A crashed or powered-off process starts again from its disk.
    Restart,
    /// Links between two sides are cut (a network partition), in several shapes.
    Partition,
    /// Every network partition and clog is removed.
    Heal,
    /// Each message is lost with a probability (TCP retransmits it, late).
    PacketLoss,
    /// The one-way latency range changes.
    Latency,
    /// The machine loses power: the process dies silently and unflushed writes are lost.
    PowerLoss,
    /// The process stops without dying, as in a long GC pause.
    Pause,
    /// Paused processes run again.
    Resume,
    /// Links clog one by one and unclog in random order (FoundationDB's clogging).
    Clog,
    /// Messages on some links may overtake each other.
    Reorder,
    /// Messages on some links are delivered twice with a probability.
    Duplicate,
    /// A consumer's application thread stops; its heartbeats go on. A transactional
    /// producer's application stops in the middle of a transaction; its sender goes on.
    Stall,
    /// A consumer closes cleanly, leaves its group and rejoins later.
    Leave,
    /// A broker shuts down cleanly (an operator's stop): controlled shutdown first if
    /// `controlled.shutdown.enable`, its logs flushed, then it exits.
    Stop,
    /// Every broker in turn stops cleanly and restarts (an operator's rolling restart).
    RollingRestart,
    /// The connections one broker opens to the controllers on one channel stop carrying
    /// anything, both ways, while its other connections work: a TCP flow that a switch
    /// hashed onto a broken path. TCP retransmits what they hold when the fault ends.
    StuckConnection,
    /// A broker's disk slows down (a degraded or saturated device): writing records costs
    /// `factor` times its usual time on that machine while the fault lasts.
    SlowDisk,
    /// A broker's machine loses CPU to a neighbour or its hypervisor: all its threads'
    /// work takes `factor` times its usual time while the fault lasts.
    CpuSteal,
}

impl FaultKind {
    /// The kind's name, as written in scenario files (`power-loss`).
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// Every kind, in the order of the list above.
    pub fn all() -> &'static [FaultKind] {
        <FaultKind as strum::VariantArray>::VARIANTS
    }

    /// Whether the kind acts on the whole network rather than on named nodes
    /// (`packet-loss`, `latency`, `heal`): its trace names no target.
    pub fn is_network_wide(self) -> bool {
        matches!(self, FaultKind::PacketLoss | FaultKind::Latency | FaultKind::Heal)
    }

    /// Whether the kind undoes other faults rather than breaking something (`restart`,
    /// `resume`, `heal`). The nemesis never draws these: every drawn fault is undone
    /// after its duration.
    pub fn is_undo(self) -> bool {
        matches!(self, FaultKind::Restart | FaultKind::Resume | FaultKind::Heal)
    }

    /// The kinds `[nemesis]` may draw: every kind that breaks something, but a stuck
    /// connection, which needs a channel and a moment only a scenario's author can name.
    pub fn drawable() -> impl Iterator<Item = FaultKind> {
        FaultKind::all().iter().copied().filter(|k| !k.is_undo() && *k != FaultKind::StuckConnection)
    }

    /// Whether the kind acts on a consumer group member's application rather than on a
    /// node or a link (`stall`, `leave`).
    pub fn targets_group_consumers(self) -> bool {
        matches!(self, FaultKind::Stall | FaultKind::Leave)
    }
}

crate::hash_by_name!(FaultKind);

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::{Hash, Hasher};

    #[test]
    fn names_round_trip_through_text_and_serde() {
        for &kind in FaultKind::all() {
            assert_eq!(kind.name().parse::<FaultKind>(), Ok(kind));
            assert_eq!(serde_json::to_string(&kind).unwrap(), format!("\"{}\"", kind.name()));
            assert_eq!(kind.to_string(), kind.name());
        }
        assert_eq!(FaultKind::PowerLoss.name(), "power-loss");
        assert!("power_loss".parse::<FaultKind>().is_err());
    }

    #[test]
    fn the_nemesis_draws_every_kind_but_the_undoing_ones() {
        let drawable: Vec<&str> = FaultKind::drawable().map(FaultKind::name).collect();
        assert_eq!(
            drawable,
            [
                "crash",
                "partition",
                "packet-loss",
                "latency",
                "power-loss",
                "pause",
                "clog",
                "reorder",
                "duplicate",
                "stall",
                "leave",
                "stop",
                "rolling-restart",
                "slow-disk",
                "cpu-steal"
            ]
        );
    }

    #[test]
    fn a_kind_hashes_as_its_name() {
        use std::collections::hash_map::DefaultHasher;
        let hash = |h: &dyn Fn(&mut DefaultHasher)| {
            let mut hasher = DefaultHasher::new();
            h(&mut hasher);
            hasher.finish()
        };
        assert_eq!(hash(&|h| FaultKind::Clog.hash(h)), hash(&|h| "clog".hash(h)));
    }
}

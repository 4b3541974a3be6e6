//! Replication invariants over the trace: what brokers did inside, not what clients saw.
//! Each replica's log (per partition and broker) is rebuilt from `LogLoaded`, `Append`,
//! `Truncate` and `LogStartAdvanced` events (retention drops the head of a log, which is
//! not a truncation), its high watermark from `HighWatermark` events (see
//! [`replicas`](self::replicas)). A `BrokerStarted` event forgets everything the broker
//! held in memory; its logs come back through `LogLoaded`.
//!
//! A record's identity is its offset, value and leader epoch (the epoch of the batch it
//! came in): a producer retry can put an equal value at the same offset in a later
//! epoch, and that is a different log entry. Both checkers below compare entries that
//! way.
//!
//! - [`replica_divergence`] (`replica-divergence`): the first entry (value and epoch) any
//!   replica of a partition holds at an offset below its own high watermark is the
//!   partition's committed entry there. A replica that later holds a different entry at
//!   that offset below its own high watermark has diverged. Each divergent entry counts
//!   once (at the first replica found holding it), and the divergent entries are
//!   grouped: one anomaly per partition, pair of replicas (the one that held the first
//!   entry, the one that diverged) and contiguous run of offsets, so one unclean
//!   election reads as one anomaly, not one per offset. The description names the
//!   offset range, how many records, and the first [`DIVERGENCE_EXAMPLES`] of them;
//!   `records` holds both copies (first, then divergent) of the first
//!   [`DIVERGENCE_LISTED_OFFSETS`] offsets, and the description says when there are
//!   more.
//! - [`hw_regressions`] (`hw-regression`): a broker lowered its high watermark for a
//!   partition while leading it: two successive `HighWatermark` events with
//!   `is_leader`, same broker, same partition, same leader epoch, no `BrokerStarted` of
//!   that broker between them, the second lower than the first. Follower high
//!   watermarks and the first high watermark after a restart or a new leadership are
//!   not compared: Kafka moves those back legitimately. One anomaly per lowering.
//! - [`committed_truncations`] (`committed-truncation`): a record is committed once a
//!   leader's high watermark passes it while that leader holds it (same offset, value
//!   and epoch). A `Truncate` event that removes a committed record from a replica that
//!   follows (or leads) the committing leader's epoch or a later one is a committed
//!   truncation; a replica still following an older leadership, which it learned of
//!   late, truncates to that leader's log as Kafka does and fetches the record again
//!   (a race KRaft's slower metadata propagation shows). Records lost without a `Truncate` (unflushed data dropped by
//!   a power loss, seen as a shorter `LogLoaded` log) are not counted: replication, not
//!   the disk, is what keeps them. Removing another entry at a committed offset (an
//!   older epoch's copy of an equal value, say) is not a committed truncation: the
//!   committed entry is still where it was. One anomaly per truncation, listing the
//!   records.
//! - [`multiple_leaders`] (`multiple-leaders`): two different brokers appended to one
//!   partition as leader (`Append` with `as_leader`) stamping the same leader epoch. One
//!   anomaly per partition, epoch and extra broker.

mod offset_map;
mod replica_log;
mod replicas;
mod tagged;

use super::describe::{broker, capitalize, offset_ranges, plural, sample, secs};
use super::{Anomaly, AnomalyKind, RecordRef};
use crate::history::{Event, History, TraceEvent};
use offset_map::OffsetMap;
use replica_log::ReplicaLog;
use replicas::{Change, Entry, Replicas};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use tagged::{Details, Tagged};

/// Every log anomaly of a history, in [`AnomalyKind`] order, then in trace order.
pub fn check(history: &History) -> Vec<Anomaly> {
    // One replay of the replicas feeds all three replica checkers: rebuilding every
    // replica's log is most of their cost.
    let mut divergences = Divergences::default();
    let mut regressions = HwRegressions::default();
    let mut truncations = CommittedTruncations::default();
    replay(history, |event, change, replicas| {
        regressions.observe(event, change, replicas);
        truncations.observe_role(event, replicas);
        if let Some(change) = change {
            divergences.observe(change);
            truncations.observe(change);
        }
    });
    let mut all = divergences.finish();
    all.extend(regressions.finish());
    all.extend(truncations.finish());
    all.extend(multiple_leaders(history));
    all
}

/// Rebuilds every replica from the trace, showing each event to `observe` with what it
/// changed in a replica's log or high watermark (if anything) and the replicas as they
/// stand after it.
fn replay(history: &History, mut observe: impl FnMut(&TraceEvent, Option<&Change<'_>>, &Replicas)) {
    let mut replicas = Replicas::default();
    for event in &history.trace {
        let change = replicas.apply(&event);
        observe(&event, change.as_ref(), &replicas);
    }
}

/// How many divergent records a `replica-divergence` description spells out.
pub const DIVERGENCE_EXAMPLES: usize = 3;

/// How many offsets of a `replica-divergence` run its `records` list (two records each:
/// the first copy and the divergent one).
pub const DIVERGENCE_LISTED_OFFSETS: usize = 20;

/// Where an entry was found below a high watermark: which broker, when, and that high
/// watermark.
#[derive(Clone, Copy, Debug)]
struct Witness {
    entry: Entry,
    broker: u32,
    time_ns: u64,
    hw: u64,
}

/// One divergent entry: its offset, the partition's first entry there, the divergent
/// copy, and the order in which it was found.
#[derive(Clone, Copy, Debug)]
struct Divergent {
    offset: u64,
    first: Witness,
    diverging: Witness,
    found: usize,
}

/// Replicas of a partition holding different entries at one offset below their high
/// watermarks (`replica-divergence`), one anomaly per partition, pair of replicas and
/// contiguous run of offsets; see the module documentation.
pub fn replica_divergence(history: &History) -> Vec<Anomaly> {
    let mut divergences = Divergences::default();
    replay(history, |_, change, _| change.into_iter().for_each(|c| divergences.observe(c)));
    divergences.finish()
}

/// Who put an entry below its high watermark first, when, and that high watermark.
#[derive(Clone, Copy, Debug)]
struct Holder {
    broker: u32,
    time_ns: u64,
    hw: u64,
}

impl Holder {
    fn of(change: &Change<'_>) -> Self {
        Holder { broker: change.broker, time_ns: change.event.time_ns, hw: change.hw }
    }

    /// `entry` as this holder held it.
    fn witness(self, entry: Entry) -> Witness {
        Witness { entry, broker: self.broker, time_ns: self.time_ns, hw: self.hw }
    }
}

/// The state of [`replica_divergence`] while the trace replays.
#[derive(Default)]
struct Divergences {
    /// Per partition number: offset → the first entry any replica held there below its
    /// high watermark, tagged with its [`Holder`].
    first: Vec<OffsetMap<Tagged>>,
    /// The holders the entries of `first` refer to.
    holders: Details<Holder>,
    /// Divergent entries already counted.
    reported: BTreeSet<(usize, u64, Entry)>,
    /// Per partition, first broker and diverging broker: the divergent entries, in the
    /// order found.
    by_pair: BTreeMap<(Arc<str>, u32, u32), Vec<Divergent>>,
    /// How many divergent entries were found so far.
    found: usize,
}

impl Divergences {
    fn observe(&mut self, change: &Change<'_>) {
        if change.now_below_hw.is_empty() {
            return;
        }
        if self.first.len() <= change.partition {
            self.first.resize_with(change.partition + 1, OffsetMap::default);
        }
        let first = &mut self.first[change.partition];
        let holders = &mut self.holders;
        let mut holder = None;
        for &(offset, entry) in &change.now_below_hw {
            // The first entry found here is its own witness, and never diverges from it.
            let held = *first.get_or_insert_with(offset, || holders.tag(&mut holder, || Holder::of(change), entry));
            if held.entry() != entry && self.reported.insert((change.partition, offset, entry)) {
                let w = holders.of(held).witness(held.entry());
                let diverging = Holder::of(change).witness(entry);
                let d = Divergent { offset, first: w, diverging, found: self.found };
                self.by_pair.entry((Arc::from(change.tp), w.broker, change.broker)).or_default().push(d);
                self.found += 1;
            }
        }
    }

    fn finish(self) -> Vec<Anomaly> {
        let mut runs: Vec<(Arc<str>, Vec<Divergent>)> = Vec::new();
        for ((tp, _, _), mut divergent) in self.by_pair {
            // Stable: entries at one offset stay in the order found.
            divergent.sort_by_key(|d| d.offset);
            let mut run: Vec<Divergent> = Vec::new();
            for d in divergent {
                if run.last().is_some_and(|last| d.offset - last.offset > 1) {
                    runs.push((tp.clone(), std::mem::take(&mut run)));
                }
                run.push(d);
            }
            if !run.is_empty() {
                runs.push((tp, run));
            }
        }
        // Report runs in trace order: by when their first entry was found.
        runs.sort_by_key(|(_, run)| run.iter().map(|d| d.found).min());
        runs.iter().filter_map(|(tp, run)| divergence(tp, run)).collect()
    }
}

/// `value 21 (epoch 2)`.
fn entry_text(e: Entry) -> String {
    format!("value {} (epoch {})", e.value, e.epoch)
}

/// `at 1.000 s` or `between 1.000 s and 2.000 s`.
fn when(times: impl Iterator<Item = u64> + Clone) -> String {
    let (lo, hi) = (times.clone().min().unwrap_or(0), times.max().unwrap_or(0));
    if lo == hi {
        format!("at {}", secs(lo))
    } else {
        format!("between {} and {}", secs(lo), secs(hi))
    }
}

/// Describes one run of divergent entries (sorted by offset) of one partition and pair
/// of replicas; `None` for an empty run.
fn divergence(tp: &str, run: &[Divergent]) -> Option<Anomaly> {
    let d0 = run.first()?;
    let (b_first, b_div) = (d0.first.broker, d0.diverging.broker);
    let description = if run.len() == 1 {
        format!(
            "{tp} offset {}: {} held {} below its high watermark {} at {}, but {} had held {} there below its high \
             watermark {} at {}.",
            d0.offset,
            broker(b_div),
            entry_text(d0.diverging.entry),
            d0.diverging.hw,
            secs(d0.diverging.time_ns),
            broker(b_first),
            entry_text(d0.first.entry),
            d0.first.hw,
            secs(d0.first.time_ns)
        )
    } else {
        let (lo, hi) = (d0.offset, run.last().map_or(d0.offset, |d| d.offset));
        let range = if lo == hi { format!("offset {lo}") } else { format!("offsets {lo}-{hi}") };
        let examples: Vec<String> = run
            .iter()
            .take(DIVERGENCE_EXAMPLES)
            .map(|d| {
                format!(
                    "offset {} has {} instead of {}",
                    d.offset,
                    entry_text(d.diverging.entry),
                    entry_text(d.first.entry)
                )
            })
            .collect();
        let mut text = format!(
            "{tp} {range}: {} held {} below its high watermark ({}) that differ from the entries {} had held there \
             below its high watermark ({}): {}",
            broker(b_div),
            plural(run.len(), "record"),
            when(run.iter().map(|d| d.diverging.time_ns)),
            broker(b_first),
            when(run.iter().map(|d| d.first.time_ns)),
            examples.join(", ")
        );
        if run.len() > DIVERGENCE_EXAMPLES {
            text.push_str(&format!(" and {} more", run.len() - DIVERGENCE_EXAMPLES));
        }
        if run.len() > DIVERGENCE_LISTED_OFFSETS {
            text.push_str(&format!("; the records list the first {DIVERGENCE_LISTED_OFFSETS} offsets"));
        }
        text.push('.');
        text
    };
    let records = run
        .iter()
        .take(DIVERGENCE_LISTED_OFFSETS)
        .flat_map(|d| {
            let (f, v) = (d.first, d.diverging);
            [
                RecordRef::new(
                    tp,
                    Some(d.offset),
                    Some(f.entry.value),
                    format!("epoch {}, below the high watermark of {}", f.entry.epoch, broker(f.broker)),
                )
                .on_broker(f.broker, f.time_ns),
                RecordRef::new(
                    tp,
                    Some(d.offset),
                    Some(v.entry.value),
                    format!("epoch {}, below the high watermark of {}, diverging", v.entry.epoch, broker(v.broker)),
                )
                .on_broker(v.broker, v.time_ns),
            ]
        })
        .collect();
    Some(Anomaly::new(AnomalyKind::ReplicaDivergence, description, records))
}

/// A leader's high watermark as last reported: epoch, value, time.
#[derive(Clone, Copy)]
struct LeaderHw {
    epoch: u32,
    hw: u64,
    time_ns: u64,
}

/// Leaders lowering their high watermark within one leadership (`hw-regression`); see
/// the module documentation.
pub fn hw_regressions(history: &History) -> Vec<Anomaly> {
    let mut regressions = HwRegressions::default();
    replay(history, |event, change, replicas| regressions.observe(event, change, replicas));
    regressions.finish()
}

/// The state of [`hw_regressions`] while the trace replays.
#[derive(Default)]
struct HwRegressions {
    /// (partition number, broker) → the high watermark it last reported as leader.
    last: BTreeMap<(usize, u32), LeaderHw>,
    /// Lowerings found so far.
    found: Vec<Anomaly>,
}

impl HwRegressions {
    fn observe(&mut self, event: &TraceEvent, change: Option<&Change<'_>>, replicas: &Replicas) {
        if let Event::BrokerStarted { broker } = &event.event {
            // A restarted broker's first high watermark as leader is not compared.
            self.last.retain(|(_, b), _| b != broker);
            return;
        }
        let (Some(change), Event::HighWatermark { is_leader: true, leader_epoch, new, .. }) = (change, &event.event)
        else {
            return;
        };
        let now = LeaderHw { epoch: *leader_epoch, hw: *new, time_ns: event.time_ns };
        if let Some(before) = self.last.insert((change.partition, change.broker), now) {
            if before.epoch == now.epoch && now.hw < before.hw {
                let log = replicas.log(change.tp, change.broker);
                self.found.push(hw_regression(change.tp, change.broker, before, now, log));
            }
        }
    }

    fn finish(self) -> Vec<Anomaly> {
        self.found
    }
}

/// Describes one lowering; the records are those the leader had reported committed and
/// no longer does (or, if its log is unknown, the two high watermarks).
fn hw_regression(tp: &str, b: u32, before: LeaderHw, now: LeaderHw, log: Option<&ReplicaLog>) -> Anomaly {
    let uncommitted: Vec<(u64, u64)> =
        log.map(|log| log.range(now.hw..before.hw).map(|(o, e)| (o, e.value)).collect()).unwrap_or_default();
    let records = if uncommitted.is_empty() {
        vec![
            RecordRef::new(tp, Some(before.hw), None, format!("leader high watermark {}", before.hw))
                .on_broker(b, before.time_ns),
            RecordRef::new(tp, Some(now.hw), None, format!("leader high watermark lowered to {}", now.hw))
                .on_broker(b, now.time_ns),
        ]
    } else {
        let note = format!("below the leader's high watermark {}, then above it again", before.hw);
        uncommitted
            .iter()
            .map(|&(o, v)| RecordRef::new(tp, Some(o), Some(v), note.clone()).on_broker(b, now.time_ns))
            .collect()
    };
    Anomaly::new(
        AnomalyKind::HwRegression,
        format!(
            "{}, leader of {tp} in epoch {}, lowered its high watermark from {} (at {}) to {} at {}.",
            capitalize(&broker(b)),
            now.epoch,
            before.hw,
            secs(before.time_ns),
            now.hw,
            secs(now.time_ns)
        ),
        records,
    )
}

/// Truncations that removed committed records (`committed-truncation`); see the module
/// documentation.
pub fn committed_truncations(history: &History) -> Vec<Anomaly> {
    let mut truncations = CommittedTruncations::default();
    replay(history, |event, change, replicas| {
        truncations.observe_role(event, replicas);
        change.into_iter().for_each(|c| truncations.observe(c));
    });
    truncations.finish()
}

/// Which leader committed an entry, when, and in which leader epoch.
#[derive(Clone, Copy, Debug)]
struct Committer {
    broker: u32,
    time_ns: u64,
    /// The leader epoch it led in (`None` if no leadership event told it).
    epoch: Option<u32>,
}

/// A committed entry a truncation removed: offset, entry, who had committed it.
type Lost = (u64, Entry, Committer);

/// The state of [`committed_truncations`] while the trace replays.
#[derive(Default)]
struct CommittedTruncations {
    /// Per partition number: offset → the first entry committed there, tagged with the
    /// leader that committed it (the largest index of a long run: 16 bytes an offset).
    committed: Vec<OffsetMap<Tagged>>,
    /// (partition number, offset) → the other entries committed there, each tagged
    /// likewise: only where replicas diverged (an unclean election), so kept apart.
    also_committed: BTreeMap<(usize, u64), Vec<Tagged>>,
    /// The committers the entries of `committed` refer to.
    committers: Details<Committer>,
    /// Truncations found so far.
    found: Vec<Anomaly>,
    /// The leader epoch each replica (partition number, broker) last took up, as leader
    /// or follower.
    epochs: BTreeMap<(usize, u32), u32>,
}

impl CommittedTruncations {
    /// Remembers the leader epoch a replica takes up (`replicas` has numbered its
    /// partition).
    fn observe_role(&mut self, event: &TraceEvent, replicas: &Replicas) {
        if let Event::BecomeLeader { tp, broker, leader_epoch, .. }
        | Event::BecomeFollower { tp, broker, leader_epoch, .. } = &event.event
        {
            if let Some(partition) = replicas.number(tp) {
                self.epochs.insert((partition, *broker), *leader_epoch);
            }
        }
    }

    fn observe(&mut self, change: &Change<'_>) {
        if self.committed.len() <= change.partition {
            self.committed.resize_with(change.partition + 1, OffsetMap::default);
        }
        let epoch = self.epochs.get(&(change.partition, change.broker)).copied();
        let committed = &mut self.committed[change.partition];
        let committers = &mut self.committers;
        if change.as_leader {
            let by = || Committer { broker: change.broker, time_ns: change.event.time_ns, epoch };
            let mut numbered = None;
            for &(offset, entry) in &change.now_below_hw {
                let first = *committed.get_or_insert_with(offset, || committers.tag(&mut numbered, by, entry));
                if first.entry() != entry {
                    let more = self.also_committed.entry((change.partition, offset)).or_default();
                    if more.iter().all(|kept| kept.entry() != entry) {
                        more.push(committers.tag(&mut numbered, by, entry));
                    }
                }
            }
        }
        // A follower still following an older leadership than the one that committed
        // a record knows nothing of that commit: truncating to its (older) leader's log
        // is how Kafka reconciles, it is out of the committing ISR, and it fetches the
        // record again from the newer leader once it learns of it. Only a truncation by
        // a replica at or past the committing epoch breaks the guarantee.
        let after_commit = |c: &Committer| match (c.epoch, epoch) {
            (Some(committed_in), Some(follows)) => committed_in <= follows,
            _ => true,
        };
        let lost: Vec<Lost> = change
            .removed
            .iter()
            .filter_map(|&(o, e)| {
                let first = committed.get(o)?;
                let more = self.also_committed.get(&(change.partition, o)).map_or(&[][..], Vec::as_slice);
                let kept = std::iter::once(first).chain(more).find(|kept| kept.entry() == e)?;
                let c = committers.of(*kept);
                after_commit(&c).then_some((o, e, c))
            })
            .collect();
        if !lost.is_empty() {
            self.found.push(committed_truncation(change, &lost));
        }
    }

    fn finish(self) -> Vec<Anomaly> {
        self.found
    }
}

/// Describes one truncation of committed records: `(offset, who committed it)`, never
/// empty.
fn committed_truncation(change: &Change<'_>, lost: &[Lost]) -> Anomaly {
    let (to_offset, reason) = match &change.event.event {
        Event::Truncate { to_offset, reason, .. } => (*to_offset, <&str>::from(*reason)),
        _ => (0, ""),
    };
    let values: Vec<u64> = lost.iter().map(|(_, e, _)| e.value).collect();
    let epochs: Vec<u32> = lost.iter().map(|(_, e, _)| e.epoch).collect::<BTreeSet<_>>().into_iter().collect();
    let what = match lost {
        [(o, e, _)] => format!("1 committed record (offset {o}, value {}, epoch {})", e.value, e.epoch),
        _ => format!(
            "{} committed records (offsets {}, values {}, {} {})",
            lost.len(),
            offset_ranges(lost.iter().map(|(o, _, _)| *o)),
            sample(&values, 8),
            if epochs.len() == 1 { "epoch" } else { "epochs" },
            sample(&epochs, 8)
        ),
    };
    let by = match lost.first() {
        Some((_, _, first)) if lost.iter().all(|(_, _, c)| c.broker == first.broker) => {
            format!("leader {} had committed at {}", broker(first.broker), secs(first.time_ns))
        }
        Some((_, _, first)) => {
            format!("leaders had committed (first {} at {})", broker(first.broker), secs(first.time_ns))
        }
        None => "a leader had committed".to_string(),
    };
    Anomaly::new(
        AnomalyKind::CommittedTruncation,
        format!(
            "{} truncated {} to offset {to_offset} at {} (reason {reason}), removing {what} that {by}.",
            capitalize(&broker(change.broker)),
            change.tp,
            secs(change.event.time_ns)
        ),
        lost.iter()
            .map(|&(o, e, c)| {
                let note = format!(
                    "truncated from {}; committed by leader {} at {}",
                    broker(change.broker),
                    broker(c.broker),
                    secs(c.time_ns)
                );
                RecordRef::new(change.tp, Some(o), Some(e.value), note).on_broker(change.broker, change.event.time_ns)
            })
            .collect(),
    )
}

/// The first leader append seen for a partition and epoch.
#[derive(Clone, Copy)]
struct LeaderAppend {
    broker: u32,
    time_ns: u64,
    base_offset: u64,
    first_value: Option<u64>,
}

/// Two brokers appending as leader in one partition and epoch (`multiple-leaders`); see
/// the module documentation.
pub fn multiple_leaders(history: &History) -> Vec<Anomaly> {
    let mut first: BTreeMap<(Arc<str>, u32), LeaderAppend> = BTreeMap::new();
    let mut reported: BTreeSet<(Arc<str>, u32, u32)> = BTreeSet::new();
    let mut out = Vec::new();
    for event in &history.trace {
        let Event::Append { tp, broker, as_leader: true, leader_epoch, base_offset, values } = &event.event else {
            continue;
        };
        let this = LeaderAppend {
            broker: *broker,
            time_ns: event.time_ns,
            base_offset: *base_offset,
            first_value: values.first().copied(),
        };
        match first.get(&(tp.clone(), *leader_epoch)) {
            None => {
                first.insert((tp.clone(), *leader_epoch), this);
            }
            Some(f) if f.broker != *broker && reported.insert((tp.clone(), *leader_epoch, *broker)) => {
                out.push(two_leaders(tp, *leader_epoch, f, &this));
            }
            Some(_) => {}
        }
    }
    out
}

/// Describes two leaders of one epoch.
fn two_leaders(tp: &str, epoch: u32, first: &LeaderAppend, second: &LeaderAppend) -> Anomaly {
    let append = |a: &LeaderAppend| match a.first_value {
        Some(v) => {
            format!("{} appended value {v} at offset {} at {}", broker(a.broker), a.base_offset, secs(a.time_ns))
        }
        None => format!("{} appended at offset {} at {}", broker(a.broker), a.base_offset, secs(a.time_ns)),
    };
    let record = |a: &LeaderAppend| {
        RecordRef::new(tp, Some(a.base_offset), a.first_value, format!("appended as leader in epoch {epoch}"))
            .on_broker(a.broker, a.time_ns)
    };
    Anomaly::new(
        AnomalyKind::MultipleLeaders,
        format!("{tp} had two leaders in epoch {epoch}: {} and {}, both as leader.", append(first), append(second)),
        vec![record(first), record(second)],
    )
}

#[cfg(test)]
mod tests;

//! The shared analysis Jepsen's Kafka checker builds before it looks for anomalies
//! (`analysis` in `jepsen.tests.kafka`): the completed operations, what each op read and
//! wrote, who wrote each value, which values `ok` polls read, and the version order of
//! every key.

use crate::check::describe::{broker, process, secs};
use crate::check::per_key::PerKey;
use crate::history::{Event, History, MicroOp, Op, OpFn, OpType, Trace};
use crate::protocol::TopicPartition;
use smallvec::SmallVec;
use std::cell::OnceCell;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// One completed operation. Jepsen's checker reads completions: the completion of a send
/// carries the offset the broker assigned, the completion of a poll the records returned.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Completion<'a> {
    /// The op as recorded (the invocation itself when `synthetic`).
    pub op: &'a Op,
    /// How it ended.
    pub kind: OpType,
    /// True when the history holds no completion for this invocation, so the invocation
    /// stands in as an `info` (outcome unknown), which is what Jepsen records for a client
    /// that crashed mid-operation.
    pub synthetic: bool,
    /// When the op was invoked (the op's own time for a completion that stands alone).
    pub invoked_ns: u64,
}

/// Pairs invocations with completions by process (a process has at most one operation
/// outstanding) and returns the completions in history order. An invocation that never
/// completes becomes an `info` completion at its own position, so histories recorded
/// elsewhere with missing completions are still checked rather than rejected.
pub(crate) fn completions(ops: &[Op]) -> Vec<Completion<'_>> {
    let mut slots: Vec<Option<Completion<'_>>> = Vec::with_capacity(ops.len());
    let mut pending: BTreeMap<u64, usize> = BTreeMap::new();
    for op in ops {
        if op.kind == OpType::Invoke {
            // A still-pending earlier invocation of this process keeps its info stand-in.
            pending.insert(op.process, slots.len());
            slots.push(Some(Completion { op, kind: OpType::Info, synthetic: true, invoked_ns: op.time_ns }));
        } else {
            let outstanding = pending.get(&op.process).and_then(|&s| slots[s].as_ref()).map(|c| c.op.f);
            if op.stands_alone_beside(outstanding) {
                slots.push(Some(Completion { op, kind: op.kind, synthetic: false, invoked_ns: op.time_ns }));
                continue;
            }
            let mut invoked_ns = op.time_ns;
            if let Some(slot) = pending.remove(&op.process) {
                invoked_ns = slots[slot].take().map_or(op.time_ns, |invoke| invoke.op.time_ns);
            }
            slots.push(Some(Completion { op, kind: op.kind, synthetic: false, invoked_ns }));
        }
    }
    slots.into_iter().flatten().collect()
}

/// One send micro-op as its op reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Sent {
    /// The offset the broker acknowledged, if the send completed with one.
    pub offset: Option<u64>,
    /// The value sent.
    pub value: u64,
}

/// Jepsen's `op-writes`: per key, the sends of a `send` or `txn` op in op order (other
/// functions write nothing, whatever their micro-ops say).
pub(super) fn op_writes(op: &Op) -> BTreeMap<&str, Vec<Sent>> {
    // Called for an op by several checkers: `PerKey` finds a key by its address.
    let mut writes: PerKey<'_, Vec<Sent>> = PerKey::new();
    if matches!(op.f, OpFn::Send | OpFn::Txn) {
        for mop in op.micro_ops() {
            if let MicroOp::Send { key, value, offset } = mop {
                writes.entry(key).push(Sent { offset: *offset, value: *value });
            }
        }
    }
    writes.into_map()
}

/// Jepsen's `op-read-pairs`: per key, the `(offset, value)` pairs the polls of a `poll`
/// or `txn` op returned, concatenated in op order. A key polled with no records is
/// present with an empty list.
pub(crate) fn op_reads(op: &Op) -> BTreeMap<&str, Vec<(u64, u64)>> {
    let mut reads: BTreeMap<&str, Vec<(u64, u64)>> = BTreeMap::new();
    if matches!(op.f, OpFn::Poll | OpFn::Txn) {
        for mop in op.micro_ops() {
            if let MicroOp::Poll { records: Some(records) } = mop {
                for (key, pairs) in records {
                    reads.entry(key).or_default().extend(pairs.iter().copied());
                }
            }
        }
    }
    reads
}

/// `process 3 at 2.104 s`: who completed an op and when (for an op that never
/// completed, when it was invoked, and that it never completed).
pub(super) fn who_when(c: &Completion<'_>) -> String {
    let never = if c.synthetic { " (never completed)" } else { "" };
    format!("{} at {}{never}", process(c.op.process), secs(c.op.time_ns))
}

/// How an `(offset, value)` pair of a key was first observed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum How {
    /// A send's completion reported it (acknowledged, or info proved visible).
    Sent,
    /// A poll returned it.
    Polled,
}

/// The first observation of an `(offset, value)` pair: which completion, and how, in
/// four bytes (a version order keeps one per observed record): the completion's index
/// into [`Analysis::ops`], with the top bit set for a poll.
#[derive(Clone, Copy, Debug)]
pub(super) struct Observation(u32);

/// The bit of an [`Observation`] that says it was a poll.
const POLLED_BIT: u32 = 1 << 31;

impl Observation {
    fn new(at: usize, how: How) -> Self {
        let at = u32::try_from(at).ok().filter(|&at| at < POLLED_BIT).expect("fewer than 2^31 completions");
        Observation(match how {
            How::Sent => at,
            How::Polled => at | POLLED_BIT,
        })
    }

    /// The completion's index into [`Analysis::ops`].
    pub fn at(self) -> usize {
        (self.0 & !POLLED_BIT) as usize
    }

    /// Sent or polled.
    pub fn how(self) -> How {
        if self.0 & POLLED_BIT == 0 {
            How::Sent
        } else {
            How::Polled
        }
    }
}

/// One value observed at an offset, with its first observation.
#[derive(Clone, Copy, Debug)]
pub(super) struct Observed {
    /// The value.
    pub value: u64,
    /// Who saw it there first, and how.
    pub first: Observation,
}

/// Jepsen's version order of one key: what the log looks like, as far as clients saw it.
#[derive(Debug, Default)]
pub(super) struct VersionOrder {
    /// `(offset, every value observed at that offset)`, by offset, the values ascending,
    /// each with its first observation. More than one value is an `inconsistent-offsets`
    /// anomaly. (Nearly every offset holds one value, which the `SmallVec` keeps without
    /// an allocation.) Filled by [`VersionOrder::index`].
    pub log: Vec<(u64, SmallVec<[Observed; 1]>)>,
    /// Every observation `(offset, value, who)`, acknowledgements and polls, in history
    /// order, until [`VersionOrder::index`] sorts them into `log`: one stable sort
    /// instead of a `BTreeMap` insert per observation.
    observations: Vec<(u64, u64, Observation)>,
    /// Dense index → `(offset, value)`: the observed offsets in order with the gaps
    /// removed. Where an offset holds several values the smallest stands for it (Jepsen
    /// takes an arbitrary one; the smallest keeps runs reproducible).
    pub by_index: Vec<(u64, u64)>,
    /// Value → the dense index it stands for (the last one, if it stands for several).
    by_value: ByValue<usize>,
}

impl VersionOrder {
    /// Records one observation of `value` at `offset`.
    fn observe(&mut self, offset: u64, value: u64, at: usize, how: How) {
        self.observations.push((offset, value, Observation::new(at, how)));
    }

    /// Builds the log and the dense indexes once every observation is in.
    fn index(&mut self) {
        let mut observed = std::mem::take(&mut self.observations);
        // Of the observations of one value at one offset, the first in history order
        // comes first (the sort is stable) and is kept. A radix sort, as in
        // `ByValue::build_merging`.
        radsort::sort_by_key(&mut observed, |&(offset, value, _)| (offset, value));
        observed.dedup_by_key(|&mut (offset, value, _)| (offset, value));
        // Nearly every offset holds one value: one entry per distinct observation.
        self.log.reserve_exact(observed.len());
        for (offset, value, first) in observed {
            let seen = Observed { value, first };
            match self.log.last_mut() {
                Some((last, values)) if *last == offset => values.push(seen),
                _ => self.log.push((offset, smallvec::smallvec![seen])),
            }
        }
        // Only an offset observed holding several values leaves room unused.
        self.log.shrink_to_fit();
        // Every log entry holds at least one value.
        self.by_index = self.log.iter().map(|(offset, values)| (*offset, values[0].value)).collect();
        let pairs = self.by_index.iter().enumerate().map(|(i, (_, v))| (*v, i)).collect();
        self.by_value = ByValue::build(pairs, Keep::Last);
    }

    /// The dense index a value stands for, if it has a place in the order.
    pub fn index_of(&self, value: u64) -> Option<usize> {
        self.by_value.get(&value).copied()
    }

    /// Whether some value stands for more than one offset of the dense order (a value
    /// observed at several offsets, a `duplicate`).
    pub fn has_repeats(&self) -> bool {
        self.by_value.entries.len() < self.by_index.len()
    }

    /// The first observation of `value` at `offset`, if it was observed there.
    pub fn first_seen(&self, offset: u64, value: u64) -> Option<&Observation> {
        let at = self.log.binary_search_by_key(&offset, |&(o, _)| o).ok()?;
        self.log[at].1.iter().find(|o| o.value == value).map(|o| &o.first)
    }

    /// How many dense steps `v2` lies after `v1`: 1 means directly after, more than 1
    /// means values were skipped, less than 1 means backwards or the same. When either
    /// value has no place in the order, Jepsen assumes 1 (nothing to report).
    pub fn delta(&self, v1: u64, v2: u64) -> i64 {
        Self::places_between(self.index_of(v1), self.index_of(v2))
    }

    /// [`VersionOrder::delta`] of two values' dense indexes ([`VersionOrder::index_of`]).
    pub fn places_between(i1: Option<usize>, i2: Option<usize>) -> i64 {
        match (i1, i2) {
            (Some(i1), Some(i2)) => i2 as i64 - i1 as i64,
            _ => 1,
        }
    }

    /// The `(offset, value)` entries strictly between `v1` and `v2` in the order.
    pub fn between(&self, v1: u64, v2: u64) -> &[(u64, u64)] {
        match (self.index_of(v1), self.index_of(v2)) {
            (Some(i1), Some(i2)) if i1 < i2 => &self.by_index[i1 + 1..i2],
            _ => &[],
        }
    }

    /// The offset a value stands at in the dense order, if it has a place.
    pub fn offset_of(&self, value: u64) -> Option<u64> {
        self.index_of(value).and_then(|i| self.by_index.get(i)).map(|(o, _)| *o)
    }
}

/// Value → something, for the values of one key: built once from pairs in history
/// order, then only looked up. A sorted `Vec` holds a history's hundreds of thousands of
/// values in a fraction of a `BTreeMap`'s memory and time.
#[derive(Debug, Default)]
pub(super) struct ByValue<T> {
    /// Sorted by value, one entry per value.
    entries: Vec<(u64, T)>,
}

/// Which of several pairs for one value a [`ByValue`] keeps.
#[derive(Clone, Copy)]
pub(super) enum Keep {
    /// The first pair in history order.
    First,
    /// The last pair in history order.
    Last,
}

impl<T: Copy> ByValue<T> {
    /// Builds the index from pairs in history order.
    pub fn build(pairs: Vec<(u64, T)>, keep: Keep) -> Self {
        Self::build_merging(pairs, |kept, later| {
            if matches!(keep, Keep::Last) {
                *kept = later;
            }
        })
    }

    /// Builds the index from pairs in history order, folding each later pair of a value
    /// into the one kept with `merge(kept, later)`.
    pub fn build_merging(mut pairs: Vec<(u64, T)>, merge: impl Fn(&mut T, T)) -> Self {
        // Stable: the pairs of one value stay in history order. A radix sort: the values
        // of a key come in many short increasing runs (producers and polls interleave),
        // on which the comparison sorts spent a sixth of all checking.
        radsort::sort_by_key(&mut pairs, |&(v, _)| v);
        pairs.dedup_by(|later, kept| {
            let same = later.0 == kept.0;
            if same {
                merge(&mut kept.1, later.1);
            }
            same
        });
        ByValue { entries: pairs }
    }

    /// The values, ascending, with what each maps to.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &T)> + '_ {
        self.entries.iter().map(|(v, t)| (*v, t))
    }

    /// What `value` maps to.
    pub fn get(&self, value: &u64) -> Option<&T> {
        let at = self.entries.binary_search_by_key(value, |&(v, _)| v).ok()?;
        Some(&self.entries[at].1)
    }

    /// Whether `value` is present.
    pub fn contains(&self, value: &u64) -> bool {
        self.get(value).is_some()
    }

    /// The values, ascending.
    pub fn values(&self) -> impl Iterator<Item = u64> + '_ {
        self.entries.iter().map(|&(v, _)| v)
    }
}

/// Builds a [`ByValue`] per key from pairs gathered per key.
fn by_value_per_key<T: Copy>(pairs: BTreeMap<&str, Vec<(u64, T)>>, keep: Keep) -> BTreeMap<&str, ByValue<T>> {
    pairs.into_iter().map(|(key, pairs)| (key, ByValue::build(pairs, keep))).collect()
}

/// Everything the client-visible checkers share, computed once per history.
pub(super) struct Analysis<'a> {
    /// Completions in history order.
    pub ops: Vec<Completion<'a>>,
    /// Key → value → the first `ok` poll/txn op that read it: the values are Jepsen's
    /// `(:ok reads-by-type)`, the op shows a reader as proof.
    pub ok_reads: BTreeMap<&'a str, ByValue<usize>>,
    /// Key → value → the `fail`ed send/txn op that sent it (Jepsen's
    /// `(:fail writes-by-type)`, with the op kept to name it; the last one), without
    /// the values an op that did not fail sent to the key too.
    pub failed_writes: BTreeMap<&'a str, ByValue<usize>>,
    /// Key → value → the completion that sent it (the last one, as in Jepsen).
    pub writer_of: BTreeMap<&'a str, ByValue<usize>>,
    /// Key → version order.
    pub orders: BTreeMap<&'a str, VersionOrder>,
    /// Key → values that retention deleted: see [`deleted_by_retention`].
    pub deleted_by_retention: BTreeMap<Arc<str>, BTreeSet<u64>>,
    /// Topic → when the controller committed its deletion ([`Event::TopicDeleted`]).
    pub topic_deletions: BTreeMap<Arc<str>, u64>,
    /// Key → the acknowledgements partition leaders traced, in trace order: a record's
    /// own acknowledgement, where its op completes only with its last record's. Only
    /// descriptions of anomalies need them, so they are read from the trace the first
    /// time one asks ([`Analysis::leader_ack`]): a clean run never pays for the pass.
    leader_acks: OnceCell<BTreeMap<Arc<str>, Vec<LeaderAck>>>,
    /// The history, for `leader_acks` and the appends they refer to.
    history: &'a History,
}

/// A batch a partition leader acknowledged ([`Event::ProduceAcknowledged`]).
#[derive(Clone, Debug)]
pub(super) struct LeaderAck {
    /// The offsets of its records.
    pub offsets: std::ops::Range<u64>,
    /// When the leader answered.
    pub time_ns: u64,
    /// The leader.
    pub broker: u32,
    /// The index in the trace of the leader's append at those offsets, when the trace
    /// holds it: a record's acknowledgement is the one whose batch holds its value, not
    /// another record's that a later leader wrote at the same offset.
    pub append: Option<usize>,
}

impl LeaderAck {
    /// Whether this acknowledgement answered the batch holding `value` at `offset`.
    fn answered(&self, trace: &Trace, offset: u64, value: u64) -> bool {
        let holds_value = |append: usize| {
            trace.iter_from(append).next().is_some_and(|e| match &e.event {
                Event::Append { values, .. } => values.get((offset - self.offsets.start) as usize) == Some(&value),
                _ => false,
            })
        };
        self.offsets.contains(&offset) && self.append.is_none_or(holds_value)
    }
}

/// Key → the batches partition leaders acknowledged, in trace order, each with the
/// values of the leader's append it answered (the leader's last append at its base
/// offset in its epoch before the answer).
fn leader_acks(history: &History) -> BTreeMap<Arc<str>, Vec<LeaderAck>> {
    let mut acks: BTreeMap<Arc<str>, Vec<LeaderAck>> = BTreeMap::new();
    let mut appended: BTreeMap<(Arc<str>, u32, u32, u64), usize> = BTreeMap::new();
    for (at, e) in history.trace.iter().enumerate() {
        match &e.event {
            Event::Append { tp, broker, as_leader: true, leader_epoch, base_offset, .. } => {
                appended.insert((tp.clone(), *broker, *leader_epoch, *base_offset), at);
            }
            Event::ProduceAcknowledged { tp, broker, leader_epoch, base_offset, count, .. } => {
                let ack = LeaderAck {
                    offsets: *base_offset..base_offset + count,
                    time_ns: e.time_ns,
                    broker: *broker,
                    append: appended.get(&(tp.clone(), *broker, *leader_epoch, *base_offset)).copied(),
                };
                acks.entry(tp.clone()).or_default().push(ack);
            }
            _ => {}
        }
    }
    acks
}

/// Key → the values a replica's retention check deleted (see
/// [`Event::deleted_by_retention`]): committed, and once deleted nobody can read them. A
/// record that was truncated away or never replicated has no such event at all.
pub(super) fn deleted_by_retention(history: &History) -> BTreeMap<Arc<str>, BTreeSet<u64>> {
    let mut deleted: BTreeMap<Arc<str>, BTreeSet<u64>> = BTreeMap::new();
    for e in history.trace.other_than_replica_traffic() {
        let Some((tp, removed)) = e.event.deleted_by_retention() else { continue };
        deleted.entry(Arc::from(tp)).or_default().extend(removed.iter().map(|&(_, value, _)| value));
    }
    deleted
}

impl<'a> Analysis<'a> {
    /// Builds the analysis of a history.
    pub fn new(history: &'a History) -> Self {
        let ops = completions(&history.ops);
        let mut analysis = Analysis {
            ops,
            ok_reads: BTreeMap::new(),
            failed_writes: BTreeMap::new(),
            writer_of: BTreeMap::new(),
            orders: BTreeMap::new(),
            deleted_by_retention: deleted_by_retention(history),
            topic_deletions: history.topic_deletions(),
            leader_acks: OnceCell::new(),
            history,
        };
        analysis.index_reads_and_writes();
        analysis.build_version_orders();
        analysis
    }

    /// Fills `ok_reads`, `failed_writes` and `writer_of`.
    fn index_reads_and_writes(&mut self) {
        let mut ok_reads: PerKey<'a, Vec<(u64, usize)>> = PerKey::new();
        let mut failed_writes: PerKey<'a, Vec<(u64, usize)>> = PerKey::new();
        let mut writer_of: PerKey<'a, Vec<(u64, usize)>> = PerKey::new();
        for (i, c) in self.ops.iter().enumerate() {
            let op: &'a Op = c.op;
            let writes = matches!(op.f, OpFn::Send | OpFn::Txn);
            let reads = c.kind == OpType::Ok && matches!(op.f, OpFn::Poll | OpFn::Txn);
            for mop in op.micro_ops() {
                match mop {
                    MicroOp::Send { key, value, .. } if writes => {
                        writer_of.entry(key).push((*value, i));
                        if c.kind == OpType::Fail {
                            failed_writes.entry(key).push((*value, i));
                        }
                    }
                    MicroOp::Poll { records: Some(records) } if reads => {
                        for (key, pairs) in records {
                            ok_reads.entry(key).extend(pairs.iter().map(|&(_, v)| (v, i)));
                        }
                    }
                    _ => {}
                }
            }
        }
        // A value sent to a key again by an op that did not fail (a pipeline forwarding
        // an input record once more after its aborted transaction) may be read from that
        // copy: only a value whose every send to the key failed makes an aborted read.
        // (Jepsen's values are unique, so this never applies to its histories.)
        let mut failed_writes = failed_writes.into_map();
        if !failed_writes.is_empty() {
            let not_failed = self.sent_without_failing(&failed_writes);
            for (key, writes) in &mut failed_writes {
                writes.retain(|(value, _)| !not_failed.contains(&(*key, *value)));
            }
            failed_writes.retain(|_, writes| !writes.is_empty());
        }
        self.ok_reads = by_value_per_key(ok_reads.into_map(), Keep::First);
        self.failed_writes = by_value_per_key(failed_writes, Keep::Last);
        self.writer_of = by_value_per_key(writer_of.into_map(), Keep::Last);
    }

    /// Of the `(key, value)` sends in `failed`, those some send/txn op that did not fail
    /// sent too. A second pass over the ops, only when some send failed: gathering every
    /// send that did not fail in the first pass cost more than all the rest of it.
    fn sent_without_failing(&self, failed: &BTreeMap<&'a str, Vec<(u64, usize)>>) -> BTreeSet<(&'a str, u64)> {
        let failed: BTreeSet<(&str, u64)> =
            failed.iter().flat_map(|(&key, writes)| writes.iter().map(move |&(value, _)| (key, value))).collect();
        let mut not_failed = BTreeSet::new();
        for c in self.ops.iter().filter(|c| c.kind != OpType::Fail && matches!(c.op.f, OpFn::Send | OpFn::Txn)) {
            let op: &'a Op = c.op;
            for mop in op.micro_ops() {
                if let MicroOp::Send { key, value, .. } = mop {
                    if failed.contains(&(&**key, *value)) {
                        not_failed.insert((&**key, *value));
                    }
                }
            }
        }
        not_failed
    }

    /// Jepsen's `must-have-committed?`: an `ok` op, or an `info` op one of whose sent
    /// values some `ok` poll read (so the send, and its whole op, took effect).
    pub fn must_have_committed(&self, c: &Completion<'_>) -> bool {
        match c.kind {
            OpType::Ok => true,
            OpType::Info => op_writes(c.op).iter().any(|(key, sends)| {
                self.ok_reads.get(key).is_some_and(|read| sends.iter().any(|s| read.contains(&s.value)))
            }),
            OpType::Fail | OpType::Invoke => false,
        }
    }

    /// Whether one send of an op took effect: its op must have committed, or the send
    /// itself carries an offset (see [`Analysis::offset_is_an_ack`]).
    pub fn send_committed(&self, c: &Completion<'_>, key: &str, value: u64) -> bool {
        self.must_have_committed(c) || (offset_is_an_ack(c) && send_offset(c.op, key, value).is_some())
    }

    /// Jepsen's `version-orders`: every poll of every send/poll/txn completion, whatever
    /// its type (a poll only ever returns what the log holds), plus the acknowledged
    /// offsets of sends whose op must have committed.
    fn build_version_orders(&mut self) {
        let mut orders: PerKey<'a, VersionOrder> = PerKey::new();
        for (i, c) in self.ops.iter().enumerate() {
            if !matches!(c.op.f, OpFn::Send | OpFn::Poll | OpFn::Txn) {
                continue;
            }
            let sends_count = self.must_have_committed(c) || offset_is_an_ack(c);
            let op: &'a Op = c.op;
            for mop in op.micro_ops() {
                match mop {
                    // An offset is the broker's acknowledgement, even inside an `info`
                    // send op (not inside a transaction that may have aborted).
                    MicroOp::Send { key, value, offset: Some(offset) } if sends_count => {
                        orders.entry(key).observe(*offset, *value, i, How::Sent);
                    }
                    MicroOp::Poll { records: Some(records) } => {
                        for (key, pairs) in records {
                            let order = orders.entry(key.as_str());
                            for (offset, value) in pairs {
                                order.observe(*offset, *value, i, How::Polled);
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
        let mut orders = orders.into_map();
        for order in orders.values_mut() {
            order.index();
        }
        self.orders = orders;
    }

    /// Whether a completion's send of `value` to `key` was acknowledged: an `ok` op, or
    /// an offset on the send itself (see [`offset_is_an_ack`]).
    pub fn send_acknowledged(&self, c: &Completion<'_>, key: &str, value: u64) -> bool {
        c.kind == OpType::Ok || (offset_is_an_ack(c) && send_offset(c.op, key, value).is_some())
    }

    /// Whether retention deleted `value` from `key` (so never reading it is no loss).
    pub fn deleted_by_retention(&self, key: &str, value: u64) -> bool {
        self.deleted_by_retention.get(key).is_some_and(|values| values.contains(&value))
    }

    /// When the topic of `key` (a topic-partition) was deleted, if it was.
    pub fn topic_deleted_at(&self, key: &str) -> Option<u64> {
        self.topic_deletions.get(TopicPartition::topic_of(key)).copied()
    }

    /// The completion at an index of [`Analysis::ops`].
    pub fn op(&self, at: usize) -> &Completion<'a> {
        &self.ops[at]
    }

    /// The acknowledgement of `c`'s record `value` at `offset` of `key`, when the trace
    /// holds it: `broker-1 at 8.672 s to process 0`, the leader's answer to the batch that
    /// carried it (the last one while the op was out; the op itself completes only when
    /// its last record is answered, which may be much later).
    pub fn leader_ack(&self, c: &Completion<'_>, key: &str, offset: u64, value: u64) -> Option<String> {
        let acks = self.leader_acks.get_or_init(|| leader_acks(self.history)).get(key)?;
        // Between the op's invocation and its completion, and of the batch holding the
        // value: another leader's answer for the same offset within the window is another
        // record's, written there after this one was lost.
        let within = |a: &&LeaderAck| (c.invoked_ns..=c.op.time_ns).contains(&a.time_ns);
        let ack = acks.iter().rev().filter(within).find(|a| a.answered(&self.history.trace, offset, value))?;
        Some(format!("{} at {} to {}", broker(ack.broker), secs(ack.time_ns), process(c.op.process)))
    }

    /// How an acknowledged record of `c` reads: `acknowledged by broker-1 at 8.672 s to
    /// process 0` (see [`leader_ack`](Self::leader_ack)), or `acknowledged to process 0
    /// at 12.179 s` (its op's completion) when the trace does not say.
    pub fn acknowledgement(&self, c: &Completion<'_>, key: &str, offset: Option<u64>, value: u64) -> String {
        match offset.and_then(|o| self.leader_ack(c, key, o, value)) {
            Some(ack) => format!("acknowledged by {ack}"),
            None => format!("acknowledged to {}", who_when(c)),
        }
    }

    /// How an observation of `offset` of `key` reads in a sentence: `acknowledged by
    /// broker-1 at 2.101 s to process 0`, `polled by process 1 at 2.300 s`.
    pub fn observation_phrase(&self, key: &str, offset: u64, value: u64, obs: &Observation) -> String {
        let c = self.op(obs.at());
        // An `info` send op's offset is the broker's acknowledgement of that send (see
        // [`offset_is_an_ack`]): lost-write calls it acknowledged, and so must this.
        match obs.how() {
            How::Sent if sent_offset_is_acknowledged(c) => self.acknowledgement(c, key, Some(offset), value),
            How::Sent => format!("sent with unknown outcome by {}", who_when(c)),
            How::Polled => format!("polled by {}", who_when(c)),
        }
    }

    /// The note for a record's first observation: `acknowledged at offset 812`.
    pub fn observation_note(&self, obs: &Observation, offset: u64) -> String {
        match obs.how() {
            How::Sent if sent_offset_is_acknowledged(self.op(obs.at())) => format!("acknowledged at offset {offset}"),
            How::Sent => format!("sent with unknown outcome, at offset {offset}"),
            How::Polled => format!("polled at offset {offset}"),
        }
    }
}

/// Whether an offset on a send of this completion is, alone, the broker's
/// acknowledgement of that send. kafkasim extends Jepsen for `info` *send* ops: one that
/// groups several sends (an asynchronous producer's) may carry offsets for the sends the
/// broker acknowledged, and those are acknowledged whatever became of the others (Jepsen's
/// own clients record no offset in an `info` op, so its histories are read as Jepsen
/// reads them). Inside a transaction an acknowledged send proves nothing until the
/// transaction commits: an `info` `txn` op's offsets count only once it must have
/// committed (Jepsen's `version-orders`), for the transaction may have aborted.
fn offset_is_an_ack(c: &Completion<'_>) -> bool {
    c.kind == OpType::Info && c.op.f == OpFn::Send
}

/// Whether an offset a completion reports for one of its sends means that send was
/// acknowledged: an `ok` op, or an `info` send op (see [`offset_is_an_ack`]).
fn sent_offset_is_acknowledged(c: &Completion<'_>) -> bool {
    c.kind == OpType::Ok || offset_is_an_ack(c)
}

/// The offset a completed op reports for its send of `value` to `key`, if any.
pub(super) fn send_offset(op: &Op, key: &str, value: u64) -> Option<u64> {
    op.micro_ops().iter().find_map(|mop| match mop {
        MicroOp::Send { key: k, value: v, offset } if &**k == key && *v == value => *offset,
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testkit::{Hist, M};

    #[test]
    fn an_invocation_without_completion_stands_in_as_info() {
        let h = Hist::new().send_invoke(0, "x", 10).send_ok(1, "x", 0, 11).build();
        let c = completions(&h.ops);
        assert_eq!(c.len(), 2);
        assert_eq!((c[0].kind, c[0].synthetic, c[0].op.index), (OpType::Info, true, 0));
        assert_eq!((c[1].kind, c[1].synthetic), (OpType::Ok, false));
    }

    #[test]
    fn the_version_order_uses_acknowledged_sends_and_every_poll() {
        let h = Hist::new()
            .send_ok(0, "x", 0, 10)
            .send_info(0, "x", 11)
            .poll_fail(1, &[("x", &[(0, 10), (3, 13)])])
            .build();
        let a = Analysis::new(&h);
        let order = &a.orders["x"];
        assert_eq!(order.by_index, vec![(0, 10), (3, 13)]);
        assert_eq!(order.delta(10, 13), 1, "gaps in offsets are not skips");
        assert_eq!(order.delta(13, 10), -1);
        assert_eq!(order.delta(10, 99), 1, "unknown values are assumed in order");
    }

    #[test]
    fn an_info_send_counts_once_one_of_its_values_was_polled() {
        let h = Hist::new()
            .txn(0, OpType::Info, &[M::Send("x", None, 10), M::Send("y", Some(4), 20)])
            .poll_ok(1, &[("x", &[(0, 10)])])
            .build();
        let a = Analysis::new(&h);
        assert!(a.must_have_committed(&a.ops[0]));
        assert_eq!(a.orders["y"].by_index, vec![(4, 20)]);
    }
}

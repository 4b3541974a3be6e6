//! The trace as a run keeps it in memory: a compact byte stream that iteration decodes.
//!
//! A busy run traces millions of events, nearly all of them one of three kinds: a
//! replica's [`Event::Append`], a [`Event::HighWatermark`] move and a leader's
//! [`Event::ProduceAcknowledged`]. As [`TraceEvent`]s they take 88 bytes each (plus the
//! values' heap), a quarter of a long run's memory. [`Trace`] writes those three kinds as
//! LEB128 varints into one byte buffer instead (time as the step from the previous event,
//! node and partition names as small ids of an interner, offsets and values as steps
//! where they come in runs), about 15 bytes an event, and keeps every other kind whole
//! beside the stream: the stream holds a one-byte mark where such a "cold" event goes.
//!
//! Iteration yields [`Cow`]s: a hot event decoded afresh (owned; its names are clones of
//! the interner's shared strings and its values fit inline, so decoding allocates
//! nothing), a cold one borrowed. Either derefs to the [`TraceEvent`] that was pushed, so
//! equality, hashing and serialisation see exactly the events of a `Vec<TraceEvent>`.
//!
//! The buffer is one `Vec<u8>`, not chunks: doubling it costs at most twice a buffer six
//! times smaller than the events, so a run's peak stays far below the chunked `Vec` of
//! whole events the recorder used to keep, and [`Recorder::take`](super::Recorder::take)
//! moves it out without a copy.

use super::name_numbers::NameNumbers;
use super::trace::{AppendedValues, Event, TraceEvent};
use crate::protocol::Acks;
use std::borrow::Cow;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// Internal events in the order recorded, stored compactly (see the module documentation).
#[derive(Clone, Default)]
pub struct Trace {
    /// The encoded events.
    bytes: Vec<u8>,
    /// The events not encoded, in order: the stream's k-th cold mark stands for `cold[k]`.
    cold: Vec<TraceEvent>,
    /// The node and partition names the encoded events refer to by id.
    names: Names,
    /// How many events (hot and cold).
    len: usize,
    /// Where the next event goes: the decoder state after the last event.
    end: Position,
    /// Where the last event starts, for [`Trace::last`].
    last: Option<Position>,
    /// Where event `i * CHECKPOINT_EVENTS` starts, for every `i`: iteration from an index
    /// decodes at most `CHECKPOINT_EVENTS - 1` events it does not yield.
    checkpoints: Vec<Position>,
}

/// Where an event starts in the stream, with what decoding it needs from those before.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Position {
    /// The event's index.
    index: usize,
    /// Its first byte.
    byte: usize,
    /// The time of the event before (0 before the first): times are stored as steps.
    time_ns: u64,
    /// How many cold events come before it.
    cold: usize,
}

/// Events between two checkpoints.
const CHECKPOINT_EVENTS: usize = 128;

/// The kind of an event in the stream: the low two bits of its first byte (the tag). The
/// other six bits hold the kind's flags.
const COLD: u8 = 0;
const APPEND: u8 = 1;
const HIGH_WATERMARK: u8 = 2;
const PRODUCE_ACKNOWLEDGED: u8 = 3;
const KIND_MASK: u8 = 0b11;
/// A flag bit of the tag: `Append::as_leader`, `HighWatermark::is_leader`.
const LEADER_FLAG: u8 = 0b100;
/// `Append`: the count of values is in the tag's top five bits, if below this escape
/// value; otherwise a varint follows.
const VALUES_IN_TAG: u8 = 31;
const VALUES_SHIFT: u32 = 3;
/// `ProduceAcknowledged`: the acks setting in bits 2 and 3.
const ACKS_SHIFT: u32 = 2;

impl Trace {
    /// An empty trace.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many events.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no events.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The events in order.
    pub fn iter(&self) -> TraceIter<'_> {
        TraceIter { trace: self, at: Position::default() }
    }

    /// The events from index `from` on (none if `from` is past the end).
    pub fn iter_from(&self, from: usize) -> TraceIter<'_> {
        let from = from.min(self.len);
        let at = if from == self.len {
            self.end
        } else if self.last.is_some_and(|last| last.index == from) {
            self.last.expect("checked")
        } else {
            self.checkpoints[from / CHECKPOINT_EVENTS]
        };
        let mut iter = TraceIter { trace: self, at };
        while iter.at.index < from {
            iter.next();
        }
        iter
    }

    /// Every event except the replicas' traffic ([`Event::Append`],
    /// [`Event::HighWatermark`], [`Event::ProduceAcknowledged`]), in order and borrowed:
    /// for readers that look for other kinds only. Those three kinds are exactly the ones
    /// the stream encodes, so this passes over the bulk of a trace without decoding it.
    pub fn other_than_replica_traffic(&self) -> std::slice::Iter<'_, TraceEvent> {
        self.cold.iter()
    }

    /// Every event, decoded into a `Vec` (for tests and tools that want a slice; the
    /// decoded events take six times the room of the trace).
    pub fn to_vec(&self) -> Vec<TraceEvent> {
        self.iter().map(Cow::into_owned).collect()
    }

    /// The last event.
    pub fn last(&self) -> Option<Cow<'_, TraceEvent>> {
        self.last.and_then(|at| TraceIter { trace: self, at }.next())
    }

    /// The bytes the trace holds on the heap (capacity, not length): the stream, the
    /// cold events (their own heap not counted), the names and the checkpoints.
    pub fn heap_bytes(&self) -> usize {
        self.bytes.capacity()
            + self.cold.capacity() * std::mem::size_of::<TraceEvent>()
            + self.names.heap_bytes()
            + self.checkpoints.capacity() * std::mem::size_of::<Position>()
    }

    /// Appends an event.
    pub fn push(&mut self, event: TraceEvent) {
        let start = self.end;
        if start.index.is_multiple_of(CHECKPOINT_EVENTS) {
            self.checkpoints.push(start);
        }
        let time_ns = event.time_ns;
        if !self.encode(&event) {
            self.bytes.push(COLD);
            self.cold.push(event);
            self.end.cold += 1;
        }
        self.end = Position { index: start.index + 1, byte: self.bytes.len(), time_ns, cold: self.end.cold };
        self.last = Some(start);
        self.len += 1;
    }

    /// Writes a hot event to the stream; false (and nothing written) for a cold one.
    fn encode(&mut self, e: &TraceEvent) -> bool {
        let time_step = e.time_ns.wrapping_sub(self.end.time_ns);
        match &e.event {
            Event::Append { tp, broker, as_leader, leader_epoch, base_offset, values } => {
                let count = values.len();
                let count_in_tag = count.min(usize::from(VALUES_IN_TAG)) as u8;
                let tag = APPEND | leader_flag(*as_leader) | count_in_tag << VALUES_SHIFT;
                self.head(tag, time_step, &e.node, tp, *broker, *leader_epoch);
                if count_in_tag == VALUES_IN_TAG {
                    write_varint(&mut self.bytes, count as u64);
                }
                write_varint(&mut self.bytes, *base_offset);
                let mut previous = 0u64;
                for &value in values {
                    write_varint(&mut self.bytes, zigzag(value.wrapping_sub(previous)));
                    previous = value;
                }
            }
            Event::HighWatermark { tp, broker, is_leader, leader_epoch, old, new } => {
                self.head(HIGH_WATERMARK | leader_flag(*is_leader), time_step, &e.node, tp, *broker, *leader_epoch);
                write_varint(&mut self.bytes, *old);
                write_varint(&mut self.bytes, zigzag(new.wrapping_sub(*old)));
            }
            Event::ProduceAcknowledged { tp, broker, leader_epoch, acks, base_offset, count } => {
                let tag = PRODUCE_ACKNOWLEDGED | acks_code(*acks) << ACKS_SHIFT;
                self.head(tag, time_step, &e.node, tp, *broker, *leader_epoch);
                write_varint(&mut self.bytes, *base_offset);
                write_varint(&mut self.bytes, *count);
            }
            _ => return false,
        }
        true
    }

    /// Writes the fields every hot kind has, in this order.
    fn head(&mut self, tag: u8, time_step: u64, node: &Arc<str>, tp: &Arc<str>, broker: u32, leader_epoch: u32) {
        let (node, tp) = (self.names.id(node), self.names.id(tp));
        self.bytes.push(tag);
        for field in [time_step, u64::from(node), u64::from(tp), u64::from(broker), u64::from(leader_epoch)] {
            write_varint(&mut self.bytes, field);
        }
    }
}

fn leader_flag(leader: bool) -> u8 {
    if leader {
        LEADER_FLAG
    } else {
        0
    }
}

fn acks_code(acks: Acks) -> u8 {
    match acks {
        Acks::None => 0,
        Acks::Leader => 1,
        Acks::All => 2,
    }
}

fn acks_from_code(code: u8) -> Acks {
    match code {
        0 => Acks::None,
        1 => Acks::Leader,
        _ => Acks::All,
    }
}

/// A signed step (two's complement) as an unsigned number that is small when the step
/// is small either way.
fn zigzag(step: u64) -> u64 {
    let step = step as i64;
    ((step << 1) ^ (step >> 63)) as u64
}

fn unzigzag(n: u64) -> u64 {
    (n >> 1) ^ (n & 1).wrapping_neg()
}

/// LEB128: seven bits a byte, low first, the top bit set on every byte but the last.
fn write_varint(out: &mut Vec<u8>, mut n: u64) {
    while n >= 0x80 {
        out.push(n as u8 | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// Reads the varint at `*at` and moves past it.
fn read_varint(bytes: &[u8], at: &mut usize) -> u64 {
    let mut n = 0u64;
    let mut shift = 0;
    loop {
        let byte = bytes[*at];
        *at += 1;
        n |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return n;
        }
        shift += 7;
    }
}

/// Iterates a [`Trace`]'s events, decoding the hot ones.
#[derive(Clone)]
pub struct TraceIter<'a> {
    trace: &'a Trace,
    at: Position,
}

impl<'a> Iterator for TraceIter<'a> {
    type Item = Cow<'a, TraceEvent>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.at.index >= self.trace.len {
            return None;
        }
        let bytes = &self.trace.bytes;
        let mut at = self.at.byte;
        let tag = bytes[at];
        at += 1;
        let event = if tag & KIND_MASK == COLD {
            let event = &self.trace.cold[self.at.cold];
            self.at.cold += 1;
            Cow::Borrowed(event)
        } else {
            let mut next = || read_varint(bytes, &mut at);
            let time_ns = self.at.time_ns.wrapping_add(next());
            let node = self.trace.names.get(next());
            let tp = self.trace.names.get(next());
            let broker = next() as u32;
            let leader_epoch = next() as u32;
            let leader = tag & LEADER_FLAG != 0;
            let event = match tag & KIND_MASK {
                APPEND => {
                    let count = match tag >> VALUES_SHIFT {
                        VALUES_IN_TAG => next() as usize,
                        count => usize::from(count),
                    };
                    let base_offset = next();
                    let mut values = AppendedValues::with_capacity(count);
                    let mut previous = 0u64;
                    for _ in 0..count {
                        previous = previous.wrapping_add(unzigzag(next()));
                        values.push(previous);
                    }
                    Event::Append { tp, broker, as_leader: leader, leader_epoch, base_offset, values }
                }
                HIGH_WATERMARK => {
                    let old = next();
                    let new = old.wrapping_add(unzigzag(next()));
                    Event::HighWatermark { tp, broker, is_leader: leader, leader_epoch, old, new }
                }
                _ => {
                    let acks = acks_from_code(tag >> ACKS_SHIFT & 0b11);
                    let (base_offset, count) = (next(), next());
                    Event::ProduceAcknowledged { tp, broker, leader_epoch, acks, base_offset, count }
                }
            };
            Cow::Owned(TraceEvent { time_ns, node, event })
        };
        self.at = Position { index: self.at.index + 1, byte: at, time_ns: event.time_ns, cold: self.at.cold };
        Some(event)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.trace.len - self.at.index;
        (left, Some(left))
    }
}

impl ExactSizeIterator for TraceIter<'_> {}

impl std::iter::FusedIterator for TraceIter<'_> {}

/// Node and partition names, each stored once and referred to by its index.
#[derive(Clone, Default)]
struct Names {
    names: Vec<Arc<str>>,
    ids: NameNumbers,
}

impl Names {
    /// The id of `name`, interning it if new: ids follow the order names first appear
    /// in, so the stream is the same in every process.
    fn id(&mut self, name: &Arc<str>) -> u32 {
        let (id, new) = self.ids.number_of(name);
        if new {
            self.names.push(Arc::clone(name));
        }
        id
    }

    fn get(&self, id: u64) -> Arc<str> {
        Arc::clone(&self.names[id as usize])
    }

    fn heap_bytes(&self) -> usize {
        let strings: usize = self.names.iter().map(|n| n.len() + 2 * std::mem::size_of::<usize>()).sum();
        // The numbers' map holds a clone of each name (16 bytes) and its number.
        strings + self.names.capacity() * 16 + self.ids.len() * 24
    }
}

impl<'a> IntoIterator for &'a Trace {
    type Item = Cow<'a, TraceEvent>;
    type IntoIter = TraceIter<'a>;

    fn into_iter(self) -> TraceIter<'a> {
        self.iter()
    }
}

/// The events, owned (cold ones moved out, hot ones decoded).
impl IntoIterator for Trace {
    type Item = TraceEvent;
    type IntoIter = std::vec::IntoIter<TraceEvent>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter().map(Cow::into_owned).collect::<Vec<_>>().into_iter()
    }
}

impl Extend<TraceEvent> for Trace {
    fn extend<I: IntoIterator<Item = TraceEvent>>(&mut self, events: I) {
        for event in events {
            self.push(event);
        }
    }
}

impl FromIterator<TraceEvent> for Trace {
    fn from_iter<I: IntoIterator<Item = TraceEvent>>(events: I) -> Self {
        let mut trace = Trace::new();
        trace.extend(events);
        trace
    }
}

impl From<Vec<TraceEvent>> for Trace {
    fn from(events: Vec<TraceEvent>) -> Self {
        events.into_iter().collect()
    }
}

impl std::fmt::Debug for Trace {
    /// As a list of its events, like the `Vec<TraceEvent>` it stands for.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl PartialEq for Trace {
    /// The same events in the same order (however they are stored).
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && self.iter().eq(other.iter())
    }
}

impl Eq for Trace {}

impl Hash for Trace {
    /// Exactly as the `Vec<TraceEvent>` of its events hashes (length, then each event),
    /// so that trace hashes do not depend on how the trace is stored.
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_usize(self.len);
        for event in self {
            event.hash(state);
        }
    }
}

#[cfg(test)]
#[path = "trace_store_tests.rs"]
mod tests;

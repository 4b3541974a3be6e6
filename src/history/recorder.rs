//! Collects ops and trace events while a run goes. One recorder per run; clones share it.

use super::incarnations::TopicIncarnations;
use super::op::{GroupContext, Op, OpFn, OpType, OpValue, RecordDelay};
use super::trace::{Event, TraceEvent};
use super::{History, Trace};
use crate::coverage::idle::IdleFault;
use crate::coverage::{ReachedState, ReachedStates};
use crate::protocol::{TopicId, TopicPartition};
use crate::sim::clock;
use madsim::time::Instant;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::Notify;

/// The `tracing` target under which every recorded client operation is also emitted
/// (at INFO, as its JSON line).
pub const HISTORY_TARGET: &str = "kafkasim::history";
/// The `tracing` target under which every recorded trace event is also emitted (at
/// INFO, as its JSON line).
pub const TRACE_TARGET: &str = "kafkasim::trace";

#[derive(Default)]
struct Log {
    ops: Vec<Op>,
    trace: Trace,
    incarnations: TopicIncarnations,
    /// The named states reached (code probes): counters beside the trace, never in it,
    /// so that probes change no trace hash.
    reached: ReachedStates,
    /// The faults that fired but changed nothing, beside the trace as `reached` is.
    idle_faults: Vec<IdleFault>,
}

/// The run's recorder. Times are simulated nanoseconds since [`Recorder::new`].
#[derive(Clone)]
pub struct Recorder {
    log: Arc<Mutex<Log>>,
    start: Instant,
    /// Woken on every trace event, for observers that react to internal events.
    traced: Arc<Notify>,
}

/// An op of `process` with its kind, function and value and nothing else; [`Recorder`]
/// stamps its index and time when it appends it.
fn bare(process: u64, kind: OpType, f: OpFn, value: OpValue) -> Op {
    Op { index: 0, time_ns: 0, process, kind, f, value, error: None, group: None, record_keys: None, delay: None }
}

/// A node's view of the recorder: it can only add trace events under its own name.
#[derive(Clone)]
pub struct Tracer {
    node: Arc<str>,
    recorder: Recorder,
}

impl Recorder {
    /// Starts recording; call inside the simulation so that time is simulated.
    pub fn new() -> Self {
        Recorder { log: Arc::default(), start: clock::now(), traced: Arc::new(Notify::new()) }
    }

    fn lock(&self) -> MutexGuard<'_, Log> {
        self.log.lock().expect("recorder poisoned")
    }

    /// Simulated nanoseconds since the run started.
    pub fn now_ns(&self) -> u64 {
        self.ns_at(clock::now())
    }

    /// `at` in simulated nanoseconds since the run started (0 before it).
    pub fn ns_at(&self, at: madsim::time::Instant) -> u64 {
        at.saturating_duration_since(self.start).as_nanos() as u64
    }

    /// Appends a client operation and returns its index.
    pub fn op(&self, process: u64, kind: OpType, f: OpFn, value: OpValue, error: Option<String>) -> u64 {
        self.append(Op { error, ..bare(process, kind, f, value) })
    }

    /// Appends a group member's op (with its group, member id and generation).
    pub fn group_op(
        &self,
        process: u64,
        kind: OpType,
        f: OpFn,
        value: OpValue,
        error: Option<String>,
        group: GroupContext,
    ) -> u64 {
        self.append(Op { error, group: Some(group), ..bare(process, kind, f, value) })
    }

    /// Appends the invocation of a `send` or `txn` whose records carry Kafka record keys
    /// (`record_keys`: value → key, written as the op's `"record_keys"`).
    pub fn keyed_invoke(&self, process: u64, f: OpFn, value: OpValue, record_keys: BTreeMap<u64, Arc<str>>) -> u64 {
        self.annotated_invoke(process, f, value, Some(record_keys), None)
    }

    /// Appends the invocation of a `send` or `txn` with what its records carry: their
    /// Kafka record keys (`"record_keys"`) and the delay they ask for (`"delay"`), each
    /// written only when present.
    pub fn annotated_invoke(
        &self,
        process: u64,
        f: OpFn,
        value: OpValue,
        record_keys: Option<BTreeMap<u64, Arc<str>>>,
        delay: Option<RecordDelay>,
    ) -> u64 {
        self.append(Op { record_keys, delay, ..bare(process, OpType::Invoke, f, value) })
    }

    /// Stamps `op` with its index and the current time, appends it and returns the index.
    fn append(&self, mut op: Op) -> u64 {
        op.time_ns = self.now_ns();
        let mut log = self.lock();
        op.index = log.ops.len() as u64;
        // For `kafkasim run --trace`; costs nothing when no subscriber listens.
        tracing::info!(target: HISTORY_TARGET, "{}", op.to_json());
        let index = op.index;
        log.ops.push(op);
        index
    }

    /// Appends a trace event recorded by `node` (nodes that trace often use a
    /// [`Tracer`], which shares its name between its events).
    pub fn trace(&self, node: &str, event: Event) {
        self.push_trace(Arc::from(node), event);
    }

    fn push_trace(&self, node: Arc<str>, event: Event) {
        let time_ns = self.now_ns();
        let event = TraceEvent { time_ns, node, event };
        tracing::info!(target: TRACE_TARGET, "{}", serde_json::to_string(&event).expect("trace events serialize"));
        self.lock().trace.push(event);
        self.traced.notify_waiters();
    }

    /// Waits until a trace event at index `from` or later exists; returns the events
    /// from `from` on.
    pub async fn trace_since(&self, from: usize) -> Vec<TraceEvent> {
        loop {
            let notified = self.traced.notified();
            {
                let log = self.lock();
                if log.trace.len() > from {
                    return log.trace.iter_from(from).map(Cow::into_owned).collect();
                }
            }
            notified.await;
        }
    }

    /// Counts one reach of a named protocol state (a code probe). Not a trace event: it
    /// changes neither the trace hash nor the schedule, and wakes nobody.
    pub fn reached(&self, state: ReachedState) {
        let now_ns = self.now_ns();
        self.lock().reached.hit(state, now_ns);
    }

    /// The named states reached so far, with their counts.
    pub fn reached_states(&self) -> ReachedStates {
        self.lock().reached.clone()
    }

    /// Notes a fault that fired but changed nothing (see [`crate::coverage::idle`]).
    /// Like [`Recorder::reached`], not a trace event.
    pub fn idle_fault(&self, fault: IdleFault) {
        self.lock().idle_faults.push(fault);
    }

    /// The faults noted so far as having changed nothing, in the order noted.
    pub fn idle_faults(&self) -> Vec<IdleFault> {
        self.lock().idle_faults.clone()
    }

    /// How many trace events have been recorded.
    pub fn trace_len(&self) -> usize {
        self.lock().trace.len()
    }

    /// A tracer for one node.
    pub fn tracer(&self, node: &str) -> Tracer {
        Tracer { node: Arc::from(node), recorder: self.clone() }
    }

    /// Runs `f` over the trace recorded so far (without copying it).
    pub fn with_trace<T>(&self, f: impl FnOnce(&mut dyn Iterator<Item = Cow<'_, TraceEvent>>) -> T) -> T {
        f(&mut self.lock().trace.iter())
    }

    /// Runs `f` over the trace events from index `from` on (without copying them).
    pub fn with_trace_since<T>(
        &self,
        from: usize,
        f: impl FnOnce(&mut dyn Iterator<Item = Cow<'_, TraceEvent>>) -> T,
    ) -> T {
        f(&mut self.lock().trace.iter_from(from))
    }

    /// Runs `f` over the ops recorded so far (without copying them).
    pub fn with_ops<T>(&self, f: impl FnOnce(&[Op]) -> T) -> T {
        f(&self.lock().ops)
    }

    /// Registers a topic a controller created (see [`super::incarnations`]).
    pub fn register_topic(&self, name: &str, id: TopicId) {
        self.lock().incarnations.register(name, id);
    }

    /// The history key of partition `tp` of the topic with id `id`: `orders-2`, or
    /// `orders#2-2` for the second topic named `orders` (see [`super::incarnations`]).
    pub fn partition_key(&self, tp: &TopicPartition, id: Option<TopicId>) -> Arc<str> {
        self.lock().incarnations.partition_key(tp, id)
    }

    /// The history name of the topic `name` with id `id`: `orders`, or `orders#2`.
    pub fn topic_key(&self, name: &str, id: Option<TopicId>) -> Arc<str> {
        self.lock().incarnations.topic_key(name, id)
    }

    /// A copy of everything recorded so far.
    pub fn snapshot(&self) -> History {
        let log = self.lock();
        History { ops: log.ops.clone(), trace: log.trace.clone() }
    }

    /// Moves everything recorded out of the recorder, leaving it empty: for the end of a
    /// run, where a copy of a long run's trace would double the peak memory.
    pub fn take(&self) -> History {
        let mut log = self.lock();
        History { ops: std::mem::take(&mut log.ops), trace: std::mem::take(&mut log.trace) }
    }
}

impl Default for Recorder {
    fn default() -> Self {
        Self::new()
    }
}

impl Tracer {
    /// Records an event under this tracer's node name.
    pub fn emit(&self, event: Event) {
        self.recorder.push_trace(Arc::clone(&self.node), event);
    }

    /// Counts one reach of a named protocol state (see [`Recorder::reached`]).
    pub fn reached(&self, state: ReachedState) {
        self.recorder.reached(state);
    }

    /// The run's recorder, for the history's topic names (see [`Recorder::partition_key`]).
    pub fn recorder(&self) -> &Recorder {
        &self.recorder
    }

    /// The node's name.
    pub fn node(&self) -> &str {
        &self.node
    }
}

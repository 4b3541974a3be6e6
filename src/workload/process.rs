//! Client process ids, as Jepsen keeps them. A Jepsen process has at most one operation
//! outstanding; when its client crashes, the outstanding operation ends `info` (nobody
//! knows whether it took effect), the process records a `crash`, and the restarted
//! client continues under a new process id. Checkers rely on this: a consumer's
//! position and a producer's send order belong to one process, and a restarted client
//! starts both afresh.

use super::progress::Progress;
use crate::coverage::ReachedState;
use crate::history::{GroupContext, MicroOp, OpFn, OpType, OpValue, RecordDelay, Recorder};
use crate::protocol::{TopicId, TopicPartition};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

/// Hands out process ids: a client's first start keeps the id it was booted with; each
/// restart gets a fresh id above every id handed out so far.
#[derive(Clone, Default)]
pub struct ProcessIds {
    inner: Arc<Mutex<IdState>>,
}

#[derive(Default)]
struct IdState {
    /// The boot-time ids that have started once.
    started: BTreeSet<u64>,
    /// The largest id handed out.
    highest: Option<u64>,
}

impl ProcessIds {
    /// The id for a client booted as `initial` that is starting now. Clients boot before
    /// any fault fires, so every boot-time id is known before the first restart and a
    /// fresh id never collides with one.
    pub fn start(&self, initial: u64) -> u64 {
        let mut state = self.inner.lock().expect("process ids poisoned");
        let id = if state.started.insert(initial) { initial } else { state.highest.map_or(initial, |h| h + 1) };
        state.highest = Some(state.highest.map_or(id, |h| h.max(id)));
        id
    }
}

/// One incarnation of a client process: records its operations and, if the process is
/// killed (its task dropped) during the safety phase, completes the outstanding operation
/// as `info` and records the `crash`, at the moment of the kill.
pub struct Incarnation {
    recorder: Recorder,
    /// The Jepsen process id of this incarnation.
    pub process: u64,
    /// The outstanding operation's function and invoke value.
    pending: Option<(OpFn, OpValue)>,
    /// Whether the outstanding operation counts as a send in the run's progress: a
    /// `send`, or a `txn` once it holds a send (a pipeline's transaction that polled
    /// nothing waits on no broker's answer).
    counted: bool,
    /// Whether the part of the run this client works in is over: a kill then is the end
    /// of the run, not a crash, and nothing more is recorded.
    over: Option<Box<dyn Fn() -> bool + Send>>,
    /// The run's progress counts: outstanding sends are released if a send op dies with
    /// the process.
    progress: Option<Progress>,
    /// Whether the application is stalled (see [`Incarnation::set_stalled`]): its
    /// outstanding send op is then not counted as outstanding.
    stalled: bool,
}

impl Incarnation {
    /// A workload client's incarnation, which records its crash.
    pub fn new(recorder: Recorder, process: u64, over: Box<dyn Fn() -> bool + Send>, progress: Progress) -> Self {
        Incarnation {
            recorder,
            process,
            pending: None,
            counted: false,
            over: Some(over),
            progress: Some(progress),
            stalled: false,
        }
    }

    /// An incarnation that records nothing when dropped (the liveness drain).
    pub fn unguarded(recorder: Recorder, process: u64) -> Self {
        Incarnation { recorder, process, pending: None, counted: false, over: None, progress: None, stalled: false }
    }

    /// The history key of partition `tp` of topic `topic_id` (see
    /// [`Recorder::partition_key`]).
    pub fn partition_key(&self, tp: &TopicPartition, topic_id: Option<TopicId>) -> Arc<str> {
        self.recorder.partition_key(tp, topic_id)
    }

    /// Counts a named protocol state the client reached (see [`Recorder::reached`]).
    pub fn reached(&self, state: ReachedState) {
        self.recorder.reached(state);
    }

    /// Records an invocation; send invocations count as outstanding.
    pub fn invoke(&mut self, f: OpFn, value: OpValue) {
        self.start(f, value, None);
    }

    /// Records the invocation of a `send` or `txn` whose records carry Kafka record keys
    /// (`record_keys`: value → key, for the checkers that follow a key across
    /// partitions); with no keys, exactly [`invoke`](Self::invoke).
    pub fn invoke_with_record_keys(&mut self, f: OpFn, value: OpValue, record_keys: BTreeMap<u64, Arc<str>>) {
        if record_keys.is_empty() {
            return self.invoke(f, value);
        }
        self.recorder.keyed_invoke(self.process, f, value.clone(), record_keys);
        self.begin(f, value);
    }

    /// Records the invocation of a producer's `send` or `txn`: with its records' Kafka
    /// record keys (when any carries one) and, for a delay queue's tier, the delay they
    /// ask for; without either, exactly [`invoke`](Self::invoke).
    pub(super) fn invoke_send(
        &mut self,
        f: OpFn,
        value: OpValue,
        record_keys: BTreeMap<u64, Arc<str>>,
        delay: Option<RecordDelay>,
    ) {
        if delay.is_none() {
            return self.invoke_with_record_keys(f, value, record_keys);
        }
        let record_keys = (!record_keys.is_empty()).then_some(record_keys);
        self.recorder.annotated_invoke(self.process, f, value.clone(), record_keys, delay);
        self.begin(f, value);
    }

    /// Replaces the outstanding operation's invoke value with what it has done so far
    /// (recording nothing): a crash completes it `info` with this value, so that the
    /// history keeps the sends a pipeline made before it died.
    pub fn amend(&mut self, value: OpValue) {
        let Some((f, pending)) = &mut self.pending else { return };
        let f = *f;
        *pending = value;
        self.count_if_sending(f);
    }

    /// Records the outstanding operation's completion.
    pub fn complete(&mut self, kind: OpType, value: OpValue, error: Option<String>) {
        self.finish(kind, value, error, None);
    }

    /// Records an invocation by a consumer group member.
    pub fn invoke_in_group(&mut self, f: OpFn, value: OpValue, group: GroupContext) {
        self.start(f, value, Some(group));
    }

    /// Records the outstanding operation's completion by a consumer group member.
    pub fn complete_in_group(&mut self, kind: OpType, value: OpValue, error: Option<String>, group: GroupContext) {
        self.finish(kind, value, error, Some(group));
    }

    /// Records a group member's op that has no invocation: something that happened
    /// rather than was attempted (a `process`: the member finished processing records).
    pub fn record_in_group(&mut self, f: OpFn, value: OpValue, group: GroupContext) {
        self.record(OpType::Ok, f, value, None, Some(group));
    }

    /// As [`record_in_group`](Self::record_in_group), with `error` saying what went
    /// wrong (for a `dead-letter`: why processing failed).
    pub fn record_in_group_because(&mut self, f: OpFn, value: OpValue, error: String, group: GroupContext) {
        self.record(OpType::Ok, f, value, Some(error), Some(group));
    }

    /// Marks the application stalled (or running again). A stalled application waits
    /// for no answer from the cluster, so its outstanding send op does not count among
    /// the sends the liveness phase waits on while the stall lasts: the op stays open
    /// in the history, and the liveness phase sees what the stall holds up instead.
    pub(super) fn set_stalled(&mut self, stalled: bool) {
        if self.stalled == stalled {
            return;
        }
        if let (true, Some(progress)) = (self.counted, &self.progress) {
            if stalled {
                progress.send_ended();
            } else {
                progress.send_started();
            }
        }
        self.stalled = stalled;
    }

    fn start(&mut self, f: OpFn, value: OpValue, group: Option<GroupContext>) {
        self.record(OpType::Invoke, f, value.clone(), None, group);
        self.begin(f, value);
    }

    /// Makes the operation just invoked the outstanding one.
    fn begin(&mut self, f: OpFn, value: OpValue) {
        self.pending = Some((f, value));
        self.counted = false;
        self.count_if_sending(f);
    }

    /// Counts the outstanding op as a send once it is one (see `counted`).
    fn count_if_sending(&mut self, f: OpFn) {
        let sending = match (f, &self.pending) {
            (OpFn::Send, _) => true,
            (OpFn::Txn, Some((_, OpValue::Txn(mops)))) => mops.iter().any(|m| matches!(m, MicroOp::Send { .. })),
            _ => false,
        };
        if sending && !self.counted {
            self.counted = true;
            if let (false, Some(progress)) = (self.stalled, &self.progress) {
                progress.send_started();
            }
        }
    }

    fn finish(&mut self, kind: OpType, value: OpValue, error: Option<String>, group: Option<GroupContext>) {
        let Some((f, _)) = self.pending.take() else {
            return;
        };
        self.record(kind, f, value, error, group);
        self.release(f);
    }

    fn record(&self, kind: OpType, f: OpFn, value: OpValue, error: Option<String>, group: Option<GroupContext>) {
        match group {
            Some(group) => self.recorder.group_op(self.process, kind, f, value, error, group),
            None => self.recorder.op(self.process, kind, f, value, error),
        };
    }

    fn release(&mut self, _f: OpFn) {
        // A stalled application's send op was released when the stall began.
        if std::mem::take(&mut self.counted) && !self.stalled {
            if let Some(progress) = &self.progress {
                progress.send_ended();
            }
        }
    }
}

impl Drop for Incarnation {
    fn drop(&mut self) {
        // Only a kill during the safety phase is a crash; at the end of the run every
        // node is killed and the simulation may already be gone.
        let Some(over) = &self.over else {
            return;
        };
        if over() {
            return;
        }
        if let Some((f, value)) = self.pending.take() {
            let error = Some("the client process crashed".to_string());
            self.recorder.op(self.process, OpType::Info, f, value, error);
            self.release(f);
        }
        self.recorder.op(self.process, OpType::Invoke, OpFn::Crash, OpValue::Nil, None);
        self.recorder.op(self.process, OpType::Info, OpFn::Crash, OpValue::Nil, None);
    }
}

#[cfg(test)]
mod tests {
    use super::ProcessIds;

    #[test]
    fn a_restarted_client_gets_an_id_above_every_id_handed_out() {
        let ids = ProcessIds::default();
        assert_eq!((ids.start(0), ids.start(1), ids.start(2)), (0, 1, 2));
        assert_eq!(ids.start(1), 3);
        assert_eq!(ids.start(0), 4);
        assert_eq!(ids.start(1), 5);
    }
}

//! A tiny history builder for checker tests, so each test reads like its scenario:
//! `Hist::new().send_ok(0, "x", 0, 10).poll_ok(1, &[("x", &[(0, 10)])]).build()`.
//! Every op advances the clock by 100 ms; invocations and completions are both recorded.

use crate::history::{
    Event, GroupContext, History, MicroOp, Op, OpFn, OpType, OpValue, PolledRecords, Rewind, RewindMove, TraceEvent,
};
use std::collections::BTreeMap;

/// Records a poll returned, per key, as `(offset, value)` pairs.
pub(crate) type Pairs<'a> = &'a [(&'a str, &'a [(u64, u64)])];

/// A micro-op of a txn: a send (with the acknowledged offset, if any) or a poll.
pub(crate) enum M<'a> {
    /// `Send(key, offset, value)`.
    Send(&'a str, Option<u64>, u64),
    /// A poll and what it returned.
    Poll(Pairs<'a>),
}

/// The builder.
#[derive(Default)]
pub(crate) struct Hist {
    ops: Vec<Op>,
    trace: Vec<TraceEvent>,
    clock_ms: u64,
    /// The group context each process's ops carry, set by [`Hist::member`].
    member_of: BTreeMap<u64, GroupContext>,
}

fn records(pairs: Pairs<'_>) -> PolledRecords {
    pairs.iter().map(|(k, ps)| (k.to_string(), ps.to_vec())).collect()
}

fn send(key: &str, offset: Option<u64>, value: u64) -> MicroOp {
    MicroOp::Send { key: key.into(), value, offset }
}

/// The invocation of a txn: sends without offsets, polls without records.
fn invoked(mops: &[M<'_>]) -> OpValue {
    OpValue::Txn(
        mops.iter()
            .map(|m| match m {
                M::Send(k, _, v) => send(k, None, *v),
                M::Poll(_) => MicroOp::Poll { records: None },
            })
            .collect(),
    )
}

impl Hist {
    pub(crate) fn new() -> Self {
        Hist::default()
    }

    fn push(&mut self, process: u64, kind: OpType, f: OpFn, value: OpValue) {
        self.clock_ms += 100;
        let index = self.ops.len() as u64;
        let error = (kind == OpType::Fail || kind == OpType::Info).then(|| "test-error".to_string());
        let group = self.member_of.get(&process).cloned();
        self.ops.push(Op {
            index,
            time_ns: self.clock_ms * 1_000_000,
            process,
            kind,
            f,
            value,
            error,
            group,
            record_keys: None,
            delay: None,
        });
    }

    /// An invocation and its completion.
    fn pair(mut self, process: u64, f: OpFn, invoke: OpValue, kind: OpType, done: OpValue) -> Self {
        self.push(process, OpType::Invoke, f, invoke);
        self.push(process, kind, f, done);
        self
    }

    /// Sets the clock (milliseconds) for the next op or event.
    pub(crate) fn at_ms(mut self, ms: u64) -> Self {
        self.clock_ms = ms.saturating_sub(100);
        self
    }

    /// A send that was invoked and never completed.
    pub(crate) fn send_invoke(mut self, p: u64, key: &str, value: u64) -> Self {
        self.push(p, OpType::Invoke, OpFn::Send, OpValue::Txn(vec![send(key, None, value)]));
        self
    }

    /// A send acknowledged at `offset`.
    pub(crate) fn send_ok(self, p: u64, key: &str, offset: u64, value: u64) -> Self {
        let invoke = OpValue::Txn(vec![send(key, None, value)]);
        self.pair(p, OpFn::Send, invoke, OpType::Ok, OpValue::Txn(vec![send(key, Some(offset), value)]))
    }

    /// A send of a record with Kafka record key `record_key`, acknowledged at `offset`:
    /// its invocation names the key in `record_keys`, as kafkasim's keyed producers do.
    pub(crate) fn keyed_send_ok(mut self, p: u64, key: &str, offset: u64, value: u64, record_key: &str) -> Self {
        self = self.send_ok(p, key, offset, value);
        let invoke = self.ops.len() - 2;
        self.ops[invoke].record_keys = Some([(value, record_key.into())].into_iter().collect());
        self
    }

    /// Gives the last invocation recorded the delay of a delay queue's tier, as
    /// kafkasim's producers of a tier topic record it.
    pub(crate) fn delayed(mut self, due_after_ms: u64, late_after_ms: u64) -> Self {
        let invoke = self.ops.iter().rposition(|o| o.kind == OpType::Invoke).expect("an invocation");
        self.ops[invoke].delay = Some(crate::history::RecordDelay { due_after_ms, late_after_ms });
        self
    }

    /// A send whose outcome is unknown.
    /// A send's `ok` completion alone (its invocation recorded earlier with `send_invoke`).
    pub(crate) fn send_done(mut self, p: u64, key: &str, offset: u64, value: u64) -> Self {
        self.push(p, OpType::Ok, OpFn::Send, OpValue::Txn(vec![send(key, Some(offset), value)]));
        self
    }

    pub(crate) fn send_info(self, p: u64, key: &str, value: u64) -> Self {
        let v = OpValue::Txn(vec![send(key, None, value)]);
        self.pair(p, OpFn::Send, v.clone(), OpType::Info, v)
    }

    /// A send that definitely failed.
    pub(crate) fn send_fail(self, p: u64, key: &str, value: u64) -> Self {
        let v = OpValue::Txn(vec![send(key, None, value)]);
        self.pair(p, OpFn::Send, v.clone(), OpType::Fail, v)
    }

    /// A poll completing with `kind` and these records.
    pub(crate) fn poll(self, p: u64, kind: OpType, pairs: Pairs<'_>) -> Self {
        let invoke = OpValue::Txn(vec![MicroOp::Poll { records: None }]);
        let done = OpValue::Txn(vec![MicroOp::Poll { records: Some(records(pairs)) }]);
        self.pair(p, OpFn::Poll, invoke, kind, done)
    }

    /// A poll invoked, to complete later with [`poll_done`](Self::poll_done) (polls of
    /// several processes that overlap).
    pub(crate) fn poll_invoke(mut self, p: u64) -> Self {
        self.push(p, OpType::Invoke, OpFn::Poll, OpValue::Txn(vec![MicroOp::Poll { records: None }]));
        self
    }

    /// The `ok` completion of a poll invoked with [`poll_invoke`](Self::poll_invoke).
    pub(crate) fn poll_done(mut self, p: u64, pairs: Pairs<'_>) -> Self {
        self.push(p, OpType::Ok, OpFn::Poll, OpValue::Txn(vec![MicroOp::Poll { records: Some(records(pairs)) }]));
        self
    }

    /// A poll that returned these records.
    pub(crate) fn poll_ok(self, p: u64, pairs: Pairs<'_>) -> Self {
        self.poll(p, OpType::Ok, pairs)
    }

    /// A poll that returned these records but then failed (e.g. its commit failed).
    pub(crate) fn poll_fail(self, p: u64, pairs: Pairs<'_>) -> Self {
        self.poll(p, OpType::Fail, pairs)
    }

    /// A txn op (sends and polls) completing with `kind`.
    pub(crate) fn txn(self, p: u64, kind: OpType, mops: &[M<'_>]) -> Self {
        self.micro_ops(p, OpFn::Txn, kind, mops)
    }

    /// A `send` op of several sends (as kafkasim's asynchronous producer records a
    /// window of sends, or Jepsen's txn mode an all-send transaction) completing with
    /// `kind`; give only [`M::Send`]s.
    pub(crate) fn sends(self, p: u64, kind: OpType, mops: &[M<'_>]) -> Self {
        self.micro_ops(p, OpFn::Send, kind, mops)
    }

    /// An op of function `f` made of these micro-ops, invoked and completed with `kind`.
    fn micro_ops(self, p: u64, f: OpFn, kind: OpType, mops: &[M<'_>]) -> Self {
        let invoke = invoked(mops);
        let done = mops
            .iter()
            .map(|m| match m {
                M::Send(k, o, v) => send(k, *o, *v),
                M::Poll(pairs) => MicroOp::Poll { records: Some(records(pairs)) },
            })
            .collect();
        self.pair(p, f, invoke, kind, OpValue::Txn(done))
    }

    /// A txn op that was invoked and never completed.
    pub(crate) fn txn_invoke(mut self, p: u64, mops: &[M<'_>]) -> Self {
        let invoke = invoked(mops);
        self.push(p, OpType::Invoke, OpFn::Txn, invoke);
        self
    }

    /// A successful standalone assignment of these keys.
    pub(crate) fn assign(self, p: u64, keys: &[&str]) -> Self {
        let v = OpValue::Keys(keys.iter().map(|k| k.to_string()).collect());
        self.pair(p, OpFn::Assign, v.clone(), OpType::Ok, v)
    }

    /// A group member's revocation of these keys (`onPartitionsRevoked`).
    pub(crate) fn revoke(self, p: u64, keys: &[&str]) -> Self {
        let v = OpValue::Keys(keys.iter().map(|k| k.to_string()).collect());
        self.pair(p, OpFn::Revoke, v.clone(), OpType::Ok, v)
    }

    /// A group member's loss of these keys (`onPartitionsLost`).
    pub(crate) fn lose(self, p: u64, keys: &[&str]) -> Self {
        let v = OpValue::Keys(keys.iter().map(|k| k.to_string()).collect());
        self.pair(p, OpFn::Lose, v.clone(), OpType::Ok, v)
    }

    /// A successful group subscription to these keys.
    pub(crate) fn subscribe(self, p: u64, keys: &[&str]) -> Self {
        let v = OpValue::Keys(keys.iter().map(|k| k.to_string()).collect());
        self.pair(p, OpFn::Subscribe, v.clone(), OpType::Ok, v)
    }

    /// A trace event recorded by `node`; advances the clock like an op.
    pub(crate) fn event(mut self, node: &str, event: Event) -> Self {
        self.clock_ms += 100;
        self.trace.push(TraceEvent { time_ns: self.clock_ms * 1_000_000, node: node.into(), event });
        self
    }

    /// From now on process `p`'s ops carry the group context `member` of `group` in
    /// `generation` (call again after a rebalance with the new generation).
    pub(crate) fn member(mut self, p: u64, group: &str, member: &str, generation: u32) -> Self {
        let ctx = GroupContext {
            group: group.to_string(),
            member: member.to_string(),
            generation,
            instance: None,
            protocol: Default::default(),
        };
        self.member_of.insert(p, ctx);
        self
    }

    /// As [`member`](Self::member), for a static member of `instance`.
    pub(crate) fn static_member(mut self, p: u64, group: &str, member: &str, generation: u32, instance: &str) -> Self {
        self = self.member(p, group, member, generation);
        self.member_of.get_mut(&p).expect("just set").instance = Some(instance.to_string());
        self
    }

    /// As [`member`](Self::member), for a consumer-protocol group (KIP-848): `epoch` is
    /// the member's own epoch.
    pub(crate) fn consumer_member(mut self, p: u64, group: &str, member: &str, epoch: u32) -> Self {
        self = self.member(p, group, member, epoch);
        self.member_of.get_mut(&p).expect("just set").protocol = crate::protocol::GroupProtocol::Consumer;
        self
    }

    /// A completed `process` op (a bare `ok`, as members record it) of these records.
    pub(crate) fn process_ok(mut self, p: u64, pairs: Pairs<'_>) -> Self {
        self.push(p, OpType::Ok, OpFn::Process, OpValue::Records(records(pairs)));
        self
    }

    /// A `dead-letter` op (a bare `ok`, as pipelines record it) of these records, with
    /// the processing failure as its error.
    pub(crate) fn dead_letter(mut self, p: u64, pairs: Pairs<'_>) -> Self {
        self.push(p, OpType::Ok, OpFn::DeadLetter, OpValue::Records(records(pairs)));
        self.ops.last_mut().expect("just pushed").error = Some("processing failed 3 times: poison record".into());
        self
    }

    /// A `process` op recorded as an invocation and its completion with `kind`.
    pub(crate) fn process_pair(self, p: u64, kind: OpType, pairs: Pairs<'_>) -> Self {
        let v = OpValue::Records(records(pairs));
        self.pair(p, OpFn::Process, v.clone(), kind, v)
    }

    /// A commit of these next-offsets-to-consume, completing with `kind` (`ok`: the
    /// coordinator accepted it; `fail`: refused).
    pub(crate) fn commit(self, p: u64, kind: OpType, offsets: &[(&str, u64)]) -> Self {
        let v = OpValue::Offsets(offsets.iter().map(|(k, o)| (k.to_string(), *o)).collect());
        self.pair(p, OpFn::Commit, v.clone(), kind, v)
    }

    /// A commit the coordinator accepted.
    pub(crate) fn commit_ok(self, p: u64, offsets: &[(&str, u64)]) -> Self {
        self.commit(p, OpType::Ok, offsets)
    }

    /// The completion of a commit invoked earlier with [`commit_invoke`](Self::commit_invoke)
    /// (an asynchronous commit answered later).
    pub(crate) fn commit_done(mut self, p: u64, kind: OpType, offsets: &[(&str, u64)]) -> Self {
        let v = OpValue::Offsets(offsets.iter().map(|(k, o)| (k.to_string(), *o)).collect());
        self.push(p, kind, OpFn::Commit, v);
        self
    }

    /// A commit invoked and never completed.
    pub(crate) fn commit_invoke(mut self, p: u64, offsets: &[(&str, u64)]) -> Self {
        let v = OpValue::Offsets(offsets.iter().map(|(k, o)| (k.to_string(), *o)).collect());
        self.push(p, OpType::Invoke, OpFn::Commit, v);
        self
    }

    /// A completed rewind of process `p` (by time `to_time_ms` when given, else to
    /// offsets), or of group `group` by the administrator process `p`: each move is
    /// `(key, from, to)`.
    pub(crate) fn rewind(
        self,
        p: u64,
        group: Option<&str>,
        to_time_ms: Option<u64>,
        moves: &[(&str, Option<u64>, Option<u64>)],
    ) -> Self {
        let invoke = Rewind { to_time_ms, group: group.map(str::to_string), partitions: BTreeMap::new() };
        let partitions = moves.iter().map(|&(k, from, to)| (k.to_string(), RewindMove { from, to })).collect();
        let done = Rewind { partitions, ..invoke.clone() };
        self.pair(p, OpFn::Rewind, OpValue::Rewind(invoke), OpType::Ok, OpValue::Rewind(done))
    }

    /// Process `p` crashed (an `info` crash op); a new process id takes over.
    pub(crate) fn crash(mut self, p: u64) -> Self {
        self.push(p, OpType::Info, OpFn::Crash, OpValue::Nil);
        self
    }

    /// The history.
    pub(crate) fn build(self) -> History {
        History { ops: self.ops, trace: self.trace.into() }
    }
}

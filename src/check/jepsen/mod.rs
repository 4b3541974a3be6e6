//! Client-visible anomalies, defined as Jepsen's Kafka workload defines them
//! (`jepsen.tests.kafka`, the `analysis` function and its `*-cases` helpers).
//!
//! Every checker here works from the same [`Analysis`](analysis::Analysis):
//!
//! - **Completions.** Only completed ops count; a send's completion carries the offset
//!   the broker acknowledged, a poll's completion the records it returned. `ok` means the
//!   op took effect, `fail` that it did not, `info` that nobody knows.
//! - **Must have committed.** A send (or txn) op certainly took effect when it is `ok`, or
//!   when it is `info` and some `ok` poll read one of the values it sent.
//! - **Version order.** For each key, the log as clients saw it: every `(offset, value)`
//!   any poll returned (polls of `ok`, `info` and `fail` ops alike: a poll only returns
//!   what the log holds) plus the acknowledged offsets of sends whose op must have
//!   committed. Offsets nobody observed are dropped, giving a dense index; a *skip* is a
//!   step of more than one index, going *backwards* a step of less than one (zero is
//!   reading the same value again). Values whose index is unknown are assumed in order.
//! - **Positions.** An `assign` or `subscribe` op that is `ok` or `info` keeps a
//!   process's last position only for the keys it names; for every other key the next
//!   read starts afresh, so skipping or rewinding across it is allowed. A `rewind` op
//!   (kafkasim's: a seek on purpose, which Jepsen's workload does not record) starts the
//!   keys it names afresh; what the process read after it is `replay`'s business.
//!
//! The anomalies, one function each:
//!
//! - [`inconsistent_offsets`]: one offset of a key was observed holding different values.
//! - [`duplicates`] (`duplicate`): one value was observed at more than one offset of a key.
//! - [`lost_writes`] (`lost-write`): for each key, take the value with the highest index
//!   that any `ok` poll read; every value whose last appearance in the version order is at
//!   or below that index should have been read by some `ok` poll too. One that was not,
//!   and whose sender must have committed, is lost.
//! - [`unseen`]: values sent by `ok` send/txn ops that no `ok` poll ever read, one anomaly
//!   per key. Jepsen reports this as a measurement; kafkasim runs end with a drain phase
//!   that polls every partition from its start to its high watermark, so a value still
//!   unseen at the end is a real loss (or a drain that did not finish).
//! - [`nonmonotonic_sends`] (`nonmonotonic-send`): a process's send to a key landed at or
//!   before its previous send to that key (only `ok`/`info` ops), or two sends to one key
//!   within one `send` op went backwards (see "Internal variants" below).
//! - [`int_nonmonotonic_sends`] (`int-nonmonotonic-send`): two sends to one key within
//!   one `txn` op went backwards.
//! - [`int_send_skips`] (`int-send-skip`): two sends to one key within one `txn` op landed
//!   with other records between them. Jepsen always allows it: other producers' writes
//!   interleave with a transaction's.
//! - [`nonmonotonic_polls`] (`nonmonotonic-poll`): a process's poll of a key began at or
//!   before where its previous `ok` poll of that key ended.
//! - [`int_nonmonotonic_polls`] (`int-nonmonotonic-poll`): two reads of one key within
//!   one `poll` or `txn` op went backwards or repeated.
//! - [`poll_skips`] (`poll-skip`): a process's poll of a key began more than one index
//!   after where its previous `ok` poll of that key ended.
//! - [`int_poll_skips`] (`int-poll-skip`): two reads of one key within one `poll` or
//!   `txn` op skipped over values.
//! - [`g1a`] (`G1a`, aborted read): an `ok` poll read a value whose send failed.
//! - [`cycles`] (`G0`, `G1c`): Elle's cycle search over Jepsen's dependency graph between
//!   operations: a ww edge from the writer of each value to the writer of the value
//!   directly after it in the version order, a wr edge from the writer of a value to each
//!   op that polled it. `G0` is a cycle of ww edges only (write cycle), `G1c` a cycle of
//!   ww and wr edges with at least one wr edge (circular information flow). One cycle
//!   per strongly connected component, the shortest, `G0` before `G1c`.
//! - [`precommitted_reads`] (`precommitted-read`): a `txn` op polled a value it sent
//!   itself. Most databases allow reading one's own writes, but in Kafka's model a
//!   transaction's records are invisible to every poller, its own included, until it
//!   commits (`read_committed` reads up to the last stable offset).
//! - [`exactly_once`] (`exactly-once`, kafkasim's own): a consume-transform-produce
//!   pipeline (a process sending values it polled from another key) forwarded an input
//!   record more than once, or not at all although it forwarded later ones.
//! - [`dead_letters`] (`dead-letter-duplicate`, `dead-letter-lost`, kafkasim's own): a
//!   pipeline with a dead-letter queue put a record it gave up on (a `dead-letter` op)
//!   into its dead-letter topic (or output) more than once, or nowhere although it
//!   forwarded later ones.
//!
//! Which of them Jepsen tolerates is [`allowed_by_default`] (Jepsen's
//! `allowed-error-types`): `int-send-skip` and `G0` always, `poll-skip` and
//! `nonmonotonic-poll` when consumers subscribe, `G1c` when ww edges are inferred.
//!
//! Where kafkasim deliberately differs from Jepsen:
//!
//! - **Values.** kafkasim's values are unique per run across all keys, Jepsen's only per
//!   key. The checkers still key everything by `(key, value)` like Jepsen, so histories
//!   recorded by Jepsen or against a real cluster check the same way.
//! - **Missing completions.** Jepsen's histories always complete every invocation.
//!   Here an invocation with no completion is read as an `info` completion at the
//!   invocation's position (what Jepsen records for a crashed client).
//! - **No exceptions.** Where Jepsen throws (a value in the version order nobody sent),
//!   the value is skipped: `lost-write` only reports values some op sent, and the
//!   dependency graph has no edge for it.
//! - **Conflicting offsets.** Where one offset holds several values, the smallest stands
//!   for the offset in the dense order; Jepsen takes an arbitrary one.
//! - **Internal variants and `send` ops.** Within one op, reads are judged as Jepsen does
//!   for every `poll` and `txn` op (`int-poll-skip`, `int-nonmonotonic-poll`), and sends
//!   as Jepsen does for every `txn` op (`int-send-skip`, `int-nonmonotonic-send`). A
//!   `send` op with several sends is different: kafkasim's asynchronous producer records
//!   one such op per window of independent, pipelined `send()` calls, which are no unit
//!   at all (the window is an arbitrary 200 ms). So two sends of one `send` op that went
//!   backwards are a `nonmonotonic-send` like two successive ops' sends (producer
//!   reordering, which the catalog's reordering lessons expect under that name), a skip
//!   between them is not reported (as Jepsen does not report skips between a process's
//!   ops), and in the dependency graph each of its sends is a node of its own. Jepsen
//!   itself writes a multi-send `send` op only in its transactional mode (`tag-rw` names
//!   an all-send transaction `send`); such an op's backward pair is then reported as
//!   `nonmonotonic-send` instead of `int-nonmonotonic-send` (both are errors), its skips
//!   (always allowed) are not reported, and cycles that need its sends to be one node
//!   are missed, which costs only allowed anomalies: a send-only node has no incoming wr
//!   edge, so every such cycle has a ww edge, a `G0` or, with ww edges, a `G1c`.
//!   kafkasim ops have no rebalance log, so no key is excused from the internal poll
//!   checks on that ground.
//! - **Cycles.** Jepsen asks Elle for strict serializability, which adds realtime (and
//!   process) edges and reports `G0-realtime`, `G1c-process` and the like, with one cycle
//!   per type per component of that larger graph. kafkasim searches ww and wr edges
//!   only (the data dependencies, as Jepsen's `graph` builds them), reports plain `G0`
//!   and `G1c`, one per component of that graph, and bounds its search by work done
//!   instead of Elle's one-second timeout. ww edges are always inferred (Jepsen's
//!   command line default, `--ww-deps`); [`cycles`] also searches without them.
//! - **Subscribe.** Jepsen computes `poll-skip` and `nonmonotonic-poll` for subscribed
//!   consumers too, but counts them as allowed when the test uses `subscribe`, since a
//!   rebalance moves positions between polls without an op in the history. They are
//!   reported here all the same; deciding whether they are expected is the scenario's
//!   job (group semantics are checked by the consumer-group checkers), or
//!   [`allowed_by_default`]'s.
//! - **Assign keeps positions.** As in Jepsen, an `assign` that names a key again keeps
//!   the process's position on it (as `KafkaConsumer::assign` does), except a group
//!   member's `assign` (one with a group context: a new generation), which resets every
//!   position to the committed offset, so a member's polls are ordered per generation. A workload that
//!   seeks back on assign must use a fresh process, as Jepsen's final polls do by
//!   crashing the client first.
//! - **Acknowledged sends inside `info` ops.** An asynchronous producer's op groups many
//!   sends; when some fail and others are acknowledged, the op is `info` and the
//!   acknowledged sends carry their offsets (`["send", KEY, [OFFSET, VALUE]]`). An offset
//!   is the broker's acknowledgement, so such a send counts as acknowledged for
//!   `lost-write`, `unseen` and the version order, as if it had its own `ok` op. Jepsen's
//!   `info` ops carry no offsets, so its histories check exactly as before.
//! - **Retention.** A value that a replica's retention check deleted (a trace event
//!   `log-start-advanced` with reason `retention.ms` or `retention.bytes` listing it) is
//!   not `lost-write` and not `unseen` when no poll read it: retention deletes only
//!   committed records, and a consumer that fell behind it cannot read them. Jepsen's
//!   histories have no trace, so they check exactly as before. A value truncated away or
//!   never replicated is reported as before. `poll-skip` is not excused: a consumer that
//!   jumps over deleted (or, resetting to `latest`, over undeleted) records did skip them.
//! - **Reporting.** `G1a` is reported once per (poll op, key, value); `unseen` once per
//!   key with every unseen value as a record; `lost-write` shows, as proof, the `ok`
//!   poll of the highest-read value. Elle's other cycle anomalies (`G-single`, `G2`, ...)
//!   need rw edges, which Jepsen's Kafka graph does not build, and are not checked.

mod analysis;
mod offsets;

/// The pairing of invocations with completions and what an op read, which the replay
/// checker reads as these checkers do.
pub(crate) use analysis::{completions, op_reads, Completion};

/// `(function, synthetic)` of each completion the pairing produces, for tests of how
/// other modules' ops pair.
#[cfg(test)]
pub(crate) fn completions_for_tests(ops: &[crate::history::Op]) -> Vec<(crate::history::OpFn, bool)> {
    analysis::completions(ops).iter().map(|c| (c.op.f, c.synthetic)).collect()
}
mod allowed;
mod cycles;
mod dead_letter;
mod exactly_once;
mod graph;
mod order;
mod visibility;

use super::{Anomaly, AnomalyKind};
use crate::history::History;
pub use allowed::{allowed_by_default, allowed_error_types, JepsenOptions};
use analysis::Analysis;

/// Values observed at more than one offset of a key (`duplicate`).
pub fn duplicates(history: &History) -> Vec<Anomaly> {
    offsets::duplicates(&Analysis::new(history))
}

/// Offsets observed holding more than one value (`inconsistent-offsets`).
pub fn inconsistent_offsets(history: &History) -> Vec<Anomaly> {
    offsets::inconsistent_offsets(&Analysis::new(history))
}

/// Committed sends that polls should have seen but did not (`lost-write`).
pub fn lost_writes(history: &History) -> Vec<Anomaly> {
    visibility::lost_writes(&Analysis::new(history))
}

/// Acknowledged sends no `ok` poll ever read, one anomaly per key (`unseen`).
pub fn unseen(history: &History) -> Vec<Anomaly> {
    visibility::unseen(&Analysis::new(history))
}

/// `ok` polls that read a value whose send failed (`G1a`).
pub fn g1a(history: &History) -> Vec<Anomaly> {
    visibility::g1a(&Analysis::new(history))
}

/// `txn` ops that polled a value they sent themselves (`precommitted-read`).
pub fn precommitted_reads(history: &History) -> Vec<Anomaly> {
    visibility::precommitted_reads(&Analysis::new(history))
}

/// The sends of one kind of the send-order anomalies.
fn send_order_of(history: &History, kind: AnomalyKind) -> Vec<Anomaly> {
    order::send_order(&Analysis::new(history)).into_iter().filter(|a| a.kind == kind).collect()
}

/// Sends of one process to a key that went backwards, between its ops or within one
/// `send` op (`nonmonotonic-send`).
pub fn nonmonotonic_sends(history: &History) -> Vec<Anomaly> {
    send_order_of(history, AnomalyKind::NonmonotonicSend)
}

/// Two sends to a key within one `txn` op that went backwards (`int-nonmonotonic-send`).
pub fn int_nonmonotonic_sends(history: &History) -> Vec<Anomaly> {
    send_order_of(history, AnomalyKind::IntNonmonotonicSend)
}

/// Two sends to a key within one `txn` op with other records between them
/// (`int-send-skip`).
pub fn int_send_skips(history: &History) -> Vec<Anomaly> {
    send_order_of(history, AnomalyKind::IntSendSkip)
}

/// Polls of one process of a key that went backwards between its ops
/// (`nonmonotonic-poll`).
pub fn nonmonotonic_polls(history: &History) -> Vec<Anomaly> {
    order::poll_order(&Analysis::new(history)).nonmonotonic
}

/// Reads of a key within one op that went backwards or repeated (`int-nonmonotonic-poll`).
pub fn int_nonmonotonic_polls(history: &History) -> Vec<Anomaly> {
    order::poll_order(&Analysis::new(history)).int_nonmonotonic
}

/// Polls of one process of a key that skipped records between its ops (`poll-skip`).
pub fn poll_skips(history: &History) -> Vec<Anomaly> {
    order::poll_order(&Analysis::new(history)).skips
}

/// Reads of a key within one op that skipped records (`int-poll-skip`).
pub fn int_poll_skips(history: &History) -> Vec<Anomaly> {
    order::poll_order(&Analysis::new(history)).int_skips
}

/// Cycles of write-write dependencies (`G0`) and of write-write and write-read
/// dependencies with a write-read edge (`G1c`) between operations, one per strongly
/// connected component. With `ww_deps: false` only write-read edges are used, as Jepsen
/// does with `--no-ww-deps`, so every cycle found is a `G1c` of wr edges only, which
/// [`allowed_error_types`] does not allow. [`check`] uses `ww_deps: true`.
pub fn cycles(history: &History, ww_deps: bool) -> Vec<Anomaly> {
    cycles::cycles(&Analysis::new(history), ww_deps)
}

/// Input records of a consume-transform-produce pipeline that its output holds more
/// often than its input, or not at all although later ones are there (`exactly-once`).
pub fn exactly_once(history: &History) -> Vec<Anomaly> {
    exactly_once::exactly_once(&Analysis::new(history))
}

/// Records a pipeline gave up on (named by `dead-letter` ops) that its dead-letter topic
/// and output hold more often than its input (`dead-letter-duplicate`), or not at all
/// although later input records are there (`dead-letter-lost`).
pub fn dead_letters(history: &History) -> Vec<Anomaly> {
    dead_letter::dead_letters(&Analysis::new(history))
}

/// Every client-visible anomaly, built from one analysis, in [`AnomalyKind`] order
/// and, within a kind, in the order found.
pub fn check(history: &History) -> Vec<Anomaly> {
    let analysis = Analysis::new(history);
    let polls = order::poll_order(&analysis);
    let mut all = Vec::new();
    all.extend(visibility::lost_writes(&analysis));
    all.extend(offsets::duplicates(&analysis));
    all.extend(offsets::inconsistent_offsets(&analysis));
    all.extend(visibility::unseen(&analysis));
    all.extend(order::send_order(&analysis));
    all.extend(polls.nonmonotonic);
    all.extend(polls.int_nonmonotonic);
    all.extend(polls.skips);
    all.extend(polls.int_skips);
    all.extend(visibility::g1a(&analysis));
    all.extend(cycles::cycles(&analysis, true));
    all.extend(visibility::precommitted_reads(&analysis));
    all.extend(exactly_once::exactly_once(&analysis));
    all.extend(dead_letter::dead_letters(&analysis));
    all.sort_by_key(|a| a.kind);
    all
}

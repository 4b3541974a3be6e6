//! What a consumer has fetched and not yet returned, and the fetches it has in flight:
//! Kafka's `FetchBuffer` of `CompletedFetch`es, which `FetchCollector.collectFetch`
//! drains up to `max.poll.records` at each poll, and `AbstractFetch`'s
//! `nodesWithPendingFetchRequests`: at most one fetch in flight per leader, kept across
//! polls. A poll never waits for a fetch longer than its own timeout; a fetch to a
//! leader that went silent stays in flight until `request.timeout.ms`, and meanwhile
//! that leader is sent no other fetch while the other leaders' partitions are fetched
//! as usual.
//!
//! The consumer ([`super::consumer::Consumer`]) owns the rules for returning records
//! (positions, errors, pauses); this module keeps the data and the requests.

use super::isolation::Fetched;
use crate::protocol::{BrokerId, FetchPartitionResponse, Offset, Response, TopicPartition};
use crate::sim::clock;
use crate::sim::net::{ConnId, NetError, PendingResponse};
use crate::sim::timer::sleep_until_once;
use madsim::time::Instant;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::future::Future;
use std::pin::pin;
use std::task::Poll;

/// One partition's part of an answered fetch, waiting for `poll` to return its records
/// (Kafka's `CompletedFetch`).
pub struct CompletedFetch {
    /// The leader's answer for the partition.
    pub answer: FetchPartitionResponse,
    /// The position the fetch asked from, then, once partly returned, the position the
    /// rest continues from (Kafka's `CompletedFetch.nextFetchOffset`): the answer is used
    /// only while the partition's position is still there (`FetchCollector.initialize`:
    /// "Discarding stale fetch response").
    pub fetch_offset: Offset,
    /// Once the answer was checked against the position (Kafka's
    /// `CompletedFetch.isInitialized`): the items not returned yet, in offset order.
    pub items: Option<VecDeque<Fetched>>,
}

impl CompletedFetch {
    /// The partition.
    pub fn tp(&self) -> &TopicPartition {
        &self.answer.tp
    }

    /// Whether the answer held any batch (Kafka moves such a partition to the end of
    /// the fetch order once its fetch is drained: `CompletedFetch.drain`, "bytesRead > 0").
    pub fn read_any_batch(&self) -> bool {
        !self.answer.batches.is_empty()
    }
}

/// The answered fetches not yet drained, oldest first (Kafka's `FetchBuffer`; its
/// `nextInLineFetch`, the one partly returned, is the front).
#[derive(Default)]
pub struct FetchBuffer {
    fetches: VecDeque<CompletedFetch>,
}

impl FetchBuffer {
    /// Queues a leader's answer for one partition.
    pub fn push(&mut self, fetch: CompletedFetch) {
        self.fetches.push_back(fetch);
    }

    /// The oldest fetch not yet drained.
    pub fn pop(&mut self) -> Option<CompletedFetch> {
        self.fetches.pop_front()
    }

    /// Puts back a fetch partly returned, to be continued first at the next poll.
    pub fn put_back_in_line(&mut self, fetch: CompletedFetch) {
        self.fetches.push_front(fetch);
    }

    /// The partitions with data here: the consumer does not fetch them again until it is
    /// returned (`AbstractFetch.fetchablePartitions` excludes `bufferedPartitions`).
    pub fn partitions(&self) -> BTreeSet<TopicPartition> {
        self.fetches.iter().map(|fetch| fetch.tp().clone()).collect()
    }

    /// Drops what was fetched for partitions no longer assigned (Kafka's
    /// `clearBufferedDataForUnassignedPartitions`).
    pub fn retain_assigned(&mut self, assignment: &[TopicPartition]) {
        self.fetches.retain(|fetch| assignment.contains(fetch.tp()));
    }
}

/// A fetch sent to one leader and not answered yet.
struct InFlightFetch {
    /// The connection it went on, which its failure closes.
    conn: ConnId,
    response: PendingResponse<Response>,
    /// When the consumer gives up on the answer: `request.timeout.ms` (plus the time the
    /// leader may hold the fetch) after it was sent.
    deadline: Instant,
    /// The position each partition was fetched from.
    fetched_from: BTreeMap<TopicPartition, Offset>,
}

/// What became of a fetch in flight.
pub enum FetchOutcome {
    /// The leader answered: its partitions, each with the position it was fetched from.
    Answered(Vec<(FetchPartitionResponse, Offset)>),
    /// No answer (the connection failed, or the request timed out) on the connection the
    /// fetch went on.
    Failed(ConnId),
}

/// The fetches in flight, at most one per leader.
#[derive(Default)]
pub struct InFlightFetches {
    by_leader: BTreeMap<BrokerId, InFlightFetch>,
}

impl InFlightFetches {
    /// Whether a fetch to `leader` awaits its answer (no other is sent to it meanwhile).
    pub fn awaits(&self, leader: BrokerId) -> bool {
        self.by_leader.contains_key(&leader)
    }

    /// Whether no fetch is in flight.
    pub fn is_empty(&self) -> bool {
        self.by_leader.is_empty()
    }

    /// Records a fetch just sent to `leader` on connection `conn`.
    pub fn sent(
        &mut self,
        leader: BrokerId,
        conn: ConnId,
        response: PendingResponse<Response>,
        deadline: Instant,
        fetched_from: BTreeMap<TopicPartition, Offset>,
    ) {
        self.by_leader.insert(leader, InFlightFetch { conn, response, deadline, fetched_from });
    }

    /// Waits until a fetch in flight is answered, fails or times out, or until `until`,
    /// whichever comes first, and returns every fetch settled by then, in leader order
    /// (Kafka's `ConsumerNetworkClient.poll` until `hasAvailableFetches`). With `until`
    /// already past it only collects what has arrived.
    pub async fn settle(&mut self, until: Instant) -> Vec<(BrokerId, FetchOutcome)> {
        let earliest_deadline = self.by_leader.values().map(|fetch| fetch.deadline).min();
        let wake_at = earliest_deadline.map_or(until, |deadline| deadline.min(until));
        let mut sleep = pin!(sleep_until_once(wake_at));
        let by_leader = &mut self.by_leader;
        let answered = std::future::poll_fn(|cx| {
            let mut answered = Vec::new();
            for (leader, fetch) in by_leader.iter_mut() {
                if let Poll::Ready(answer) = fetch.response.poll_answer(cx) {
                    answered.push((*leader, answer));
                }
            }
            if !answered.is_empty() || sleep.as_mut().poll(cx).is_ready() {
                return Poll::Ready(answered);
            }
            Poll::Pending
        })
        .await;
        let now = clock::now();
        let mut settled = Vec::new();
        for (leader, answer) in answered {
            let fetch = self.by_leader.remove(&leader).expect("answered while in flight");
            settled.push((leader, outcome(answer, fetch.conn, fetch.fetched_from)));
        }
        let timed_out: Vec<BrokerId> =
            self.by_leader.iter().filter(|(_, fetch)| fetch.deadline <= now).map(|(leader, _)| *leader).collect();
        for leader in timed_out {
            let fetch = self.by_leader.remove(&leader).expect("timed out while in flight");
            settled.push((leader, FetchOutcome::Failed(fetch.conn)));
        }
        settled.sort_by_key(|(leader, _)| *leader);
        settled
    }
}

/// A leader's answer, paired with the positions it was asked from.
fn outcome(
    answer: Result<Response, NetError>,
    conn: ConnId,
    fetched_from: BTreeMap<TopicPartition, Offset>,
) -> FetchOutcome {
    match answer {
        Ok(Response::Fetch(parts)) => FetchOutcome::Answered(
            parts
                .into_iter()
                .filter_map(|part| {
                    let fetch_offset = *fetched_from.get(&part.tp)?;
                    Some((part, fetch_offset))
                })
                .collect(),
        ),
        _ => FetchOutcome::Failed(conn),
    }
}

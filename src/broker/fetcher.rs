//! Follower replication: one fetcher task per leader broker, fetching every partition
//! this broker follows on that leader in one request, as Kafka's replica fetcher threads
//! do. Before its first fetch in a new leadership, a partition is reconciled with the
//! leader by OffsetForLeaderEpoch (leader-epoch mode; legacy mode truncated already).

use super::hosted::Slot;
use super::{BrokerConfig, SharedBroker};
use crate::coverage::ReachedState;
use crate::history::{LogStartReason, TruncationReason};
use crate::protocol::{
    BrokerId, ErrorCode, FetchPartition, FetchPartitionResponse, FetchRequest, IsolationLevel, LeaderEpoch, Offset,
    OffsetForLeaderEpochPartition, OffsetForLeaderEpochResponse, Request, Response, TopicPartition, TruncationMode,
};
use crate::sim::net::{Addr, Connection};
use madsim::time::sleep;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::Duration;

/// The leaders that have a running fetcher task on this broker.
#[derive(Default)]
pub struct Fetchers {
    running: Mutex<BTreeSet<BrokerId>>,
}

/// Starts a fetcher for every leader this broker follows that has none.
pub fn ensure_fetchers(shared: &SharedBroker) {
    let leaders = {
        let mut guard = shared.lock();
        let state = &mut *guard;
        state.followers.leaders(&state.partitions)
    };
    let mut running = shared.fetchers.running.lock().expect("fetcher set poisoned");
    for leader in leaders {
        if running.insert(leader) {
            let shared = shared.clone();
            crate::sim::tasks::spawn(async move { run_fetcher(shared, leader).await });
        }
    }
}

/// A followed partition as the fetcher sees it at the start of a round.
struct Followed {
    tp: TopicPartition,
    /// The replica's slot on this broker.
    slot: Slot,
    /// The topic of the followed replica's log: a partition of a topic re-created under
    /// the same name while the fetch was out is another partition.
    topic_id: Option<crate::protocol::TopicId>,
    leader_epoch: LeaderEpoch,
    needs_truncation: bool,
    log_end_offset: Offset,
    /// The latest epoch of the local log, read only for a partition that needs
    /// truncation (reconciliation asks the leader about it; reading it for every
    /// partition at every round missed the cache once per partition).
    latest_local_epoch: Option<LeaderEpoch>,
}

async fn run_fetcher(shared: SharedBroker, leader: BrokerId) {
    let mut connection: Option<Connection<Request, Response>> = None;
    let backoff = Duration::from_millis(shared.config.replica_fetch_backoff_ms);
    let timeout = Duration::from_millis(shared.config.inter_broker_timeout_ms);
    loop {
        let Some((host, followed)) = followed_partitions(&shared, leader) else {
            shared.fetchers.running.lock().expect("fetcher set poisoned").remove(&leader);
            return;
        };
        let conn = match &connection {
            Some(c) if !c.is_closed() && c.peer() == &host => c,
            _ => connection.insert(shared.net.connect(&host)),
        };
        let to_reconcile: Vec<&Followed> = followed.iter().filter(|p| p.needs_truncation).collect();
        let mut healthy = to_reconcile.is_empty() || reconcile_with_leader(&shared, conn, &to_reconcile, timeout).await;
        let request = FetchRequest {
            replica_id: Some(shared.id()),
            replica_broker_epoch: super::kraft::broker_epoch_for_isr(&shared),
            max_wait_ms: shared.config.replica_fetch_wait_max_ms,
            max_records: usize::MAX,
            partitions: followed
                .iter()
                .filter(|p| !p.needs_truncation)
                .map(|p| FetchPartition {
                    tp: p.tp.clone(),
                    fetch_offset: p.log_end_offset,
                    current_leader_epoch: Some(p.leader_epoch),
                    topic_id: p.topic_id.filter(|_| shared.config.fetch_topic_ids),
                })
                .collect(),
            isolation_level: IsolationLevel::ReadUncommitted,
        };
        if request.partitions.is_empty() {
            // Every partition was just reconciled (or failed to be): fetch right away
            // after a successful reconciliation, as Kafka's fetcher does after
            // truncating; back off only after a failure. Sleeping the whole backoff
            // after every leader change kept a new follower out of the ISR for a
            // second, longer than `replica.lag.time.max.ms` in the swarm scenario.
            sleep(if healthy { Duration::from_millis(1) } else { backoff }).await;
            continue;
        }
        match conn.call(Request::Fetch(request), timeout).await {
            Ok(Response::Fetch(responses)) => {
                // The fetcher thread's own work to append what came back.
                let flush_due = || reaches_flush_messages(&shared, &responses);
                shared.pipeline.append_as_follower(&responses, flush_due).await;
                healthy &= apply_fetch_responses(&shared, leader, &followed, responses);
            }
            _ => {
                connection = None;
                healthy = false;
            }
        }
        if !healthy {
            sleep(backoff).await;
        }
    }
}

/// Whether appending `responses`' records would bring one of the replicas here to
/// `flush.messages` unflushed records, so that the append fsyncs (for the cost model).
fn reaches_flush_messages(shared: &SharedBroker, responses: &[FetchPartitionResponse]) -> bool {
    let Some(flush_messages) = shared.config.flush_messages else { return false };
    let batches = responses.iter().map(|r| (&r.tp, r.batches.iter().map(|b| b.records.len() as u64).sum()));
    shared.lock().any_flush_due(batches, flush_messages)
}

/// The leader's host and the partitions this broker follows on it; `None` if none.
fn followed_partitions(shared: &SharedBroker, leader: BrokerId) -> Option<(Addr, Vec<Followed>)> {
    let mut guard = shared.lock();
    let state = &mut *guard;
    let followed: Vec<Followed> = state
        .followers
        .followed_on(&state.partitions, leader)
        .map(|(slot, p)| Followed {
            tp: p.tp().clone(),
            slot,
            topic_id: p.topic_id(),
            leader_epoch: p.leader_epoch(),
            needs_truncation: p.needs_truncation(),
            log_end_offset: p.log_end_offset(),
            latest_local_epoch: p.needs_truncation().then(|| p.log().epochs().latest_epoch()).flatten(),
        })
        .collect();
    if followed.is_empty() {
        return None;
    }
    let host =
        state.metadata.live_brokers.get(&leader).map_or_else(|| BrokerConfig::host_of(leader), |b| b.host.clone());
    Some((Addr::new(&host), followed))
}

/// KIP-101/279: asks the leader, in one OffsetForLeaderEpoch request for every partition
/// awaiting reconciliation, where this replica's latest epoch of each ends on the
/// leader, and truncates each to its divergence point (Kafka's
/// `AbstractFetcherThread.maybeTruncate` → `fetchEpochEndOffsets` →
/// `truncateToEpochEndOffsets`: one request per leader, not one per partition).
/// Returns false if the leader could not answer for one of them.
async fn reconcile_with_leader(
    shared: &SharedBroker,
    conn: &Connection<Request, Response>,
    partitions: &[&Followed],
    timeout: Duration,
) -> bool {
    let mut asked: BTreeMap<&TopicPartition, (&Followed, LeaderEpoch)> = BTreeMap::new();
    for partition in partitions {
        match partition.latest_local_epoch {
            // An empty log (or one without epochs) has nothing to reconcile.
            None => mark_reconciled(shared, &partition.tp, partition.leader_epoch),
            Some(local_epoch) => {
                asked.insert(&partition.tp, (partition, local_epoch));
            }
        }
    }
    if asked.is_empty() {
        return true;
    }
    let request = Request::OffsetForLeaderEpoch(
        asked
            .values()
            .map(|(partition, local_epoch)| OffsetForLeaderEpochPartition {
                tp: partition.tp.clone(),
                current_leader_epoch: partition.leader_epoch,
                leader_epoch: *local_epoch,
            })
            .collect(),
    );
    let Ok(Response::OffsetForLeaderEpoch(answers)) = conn.call(request, timeout).await else {
        return false;
    };
    let mut healthy = answers.len() == asked.len();
    for (tp, answer) in answers {
        let Some(&(partition, local_epoch)) = asked.get(&tp) else { continue };
        healthy &= truncate_to_epoch_end(shared, partition, local_epoch, &answer);
    }
    healthy
}

/// Truncates one replica by the leader's answer for the end of `local_epoch` (Kafka's
/// `AbstractFetcherThread.truncate` with `getOffsetTruncationState`). Returns false if
/// the leader refused (FENCED / UNKNOWN_LEADER_EPOCH, not the leader).
fn truncate_to_epoch_end(
    shared: &SharedBroker,
    partition: &Followed,
    local_epoch: LeaderEpoch,
    answer: &OffsetForLeaderEpochResponse,
) -> bool {
    if answer.error.is_some() {
        return false;
    }
    let me = shared.id();
    let mut state = shared.lock();
    let Some(replica) = state.partitions.get_mut(&partition.tp) else {
        return true;
    };
    if replica.leader_epoch() != partition.leader_epoch || replica.topic_id() != partition.topic_id {
        return true; // Leadership moved on while we asked (or the topic was re-created).
    }
    let (truncate_to, reason) = match (shared.config.truncation, answer.end_offset) {
        // A 0.11-1.1 leader that answered UNDEFINED: back to the high watermark.
        (TruncationMode::LeaderEpochKip101, None) => {
            (replica.divergence_offset_kip101(None), TruncationReason::HighWatermark)
        }
        (TruncationMode::LeaderEpochKip101, end_offset) => {
            (replica.divergence_offset_kip101(end_offset), TruncationReason::LeaderEpoch)
        }
        (_, Some(end_offset)) => {
            (replica.divergence_offset(local_epoch, answer.leader_epoch, end_offset), TruncationReason::LeaderEpoch)
        }
        (_, None) => return false, // Only a pre-KIP-279 leader answers without an offset.
    };
    if reason == TruncationReason::LeaderEpoch && truncate_to < replica.log().log_end_offset() {
        shared.tracer.reached(ReachedState::FollowerTruncatedByLeaderEpoch);
    }
    replica.truncate(me, truncate_to, reason, &shared.tracer);
    replica.mark_reconciled();
    true
}

fn mark_reconciled(shared: &SharedBroker, tp: &TopicPartition, leader_epoch: LeaderEpoch) {
    let mut state = shared.lock();
    if let Some(replica) = state.partitions.get_mut(tp) {
        if replica.leader_epoch() == leader_epoch {
            replica.mark_reconciled();
        }
    }
}

/// Appends fetched batches and adopts the leader's high watermark. Returns false if
/// every partition failed (so the fetcher backs off).
fn apply_fetch_responses(
    shared: &SharedBroker,
    leader: BrokerId,
    followed: &[Followed],
    responses: Vec<FetchPartitionResponse>,
) -> bool {
    let me = shared.id();
    let mut any_ok = false;
    let mut changed = false;
    {
        let mut state = shared.lock();
        for (at, response) in responses.into_iter().enumerate() {
            // The leader answers in request order; look further only if it did not.
            let in_order = followed.get(at).filter(|f| f.tp == response.tp);
            let Some(expected) = in_order.or_else(|| followed.iter().find(|f| f.tp == response.tp)) else {
                continue;
            };
            // Nothing here changes what a fetch from this broker reads: see
            // `HostedPartitions::by_slot_mut_unnoted`.
            let Some(replica) = state.partitions.by_slot_mut_unnoted(expected.slot) else {
                continue;
            };
            let still_following = replica.followed_leader() == Some(leader)
                && replica.topic_id() == expected.topic_id
                && replica.leader_epoch() == expected.leader_epoch
                && replica.log_end_offset() == expected.log_end_offset;
            if !still_following {
                continue;
            }
            match response.error {
                None => {}
                Some(ErrorCode::OffsetOutOfRange) if expected.log_end_offset > response.log_end_offset => {
                    // This replica is ahead of its leader: cut back to the leader's end.
                    replica.truncate(me, response.log_end_offset, TruncationReason::OutOfRange, &shared.tracer);
                    changed = true;
                    // Handled: fetch again at once, without the error backoff (Kafka's
                    // `AbstractFetcherThread.handleOutOfRangeError` returns false, so the
                    // partition is not among `partitionsWithError`).
                    any_ok = true;
                    continue;
                }
                Some(ErrorCode::OffsetOutOfRange) if expected.log_end_offset < response.log_start_offset => {
                    // Retention on the leader deleted everything this replica lacks: start
                    // over at the leader's log start (Kafka's `truncateFullyAndStartAt`).
                    replica.advance_log_start(
                        me,
                        response.log_start_offset,
                        LogStartReason::LeaderLogStart,
                        &shared.tracer,
                    );
                    changed = true;
                    // Handled, as above: backing off here would let a leader whose
                    // retention moves faster than the backoff push this replica out of
                    // range again and again, so that it never catches up.
                    any_ok = true;
                    continue;
                }
                Some(error) => {
                    tracing::debug!(tp = %response.tp, %leader, error = error.kafka_name(), "replica fetch refused");
                    continue;
                }
            }
            any_ok = true;
            for batch in response.batches {
                if !replica.append_as_follower(me, batch, &shared.tracer) {
                    break;
                }
                changed = true;
            }
            replica.flush_if_due(shared.config.flush_messages);
            changed |= replica.follow_high_watermark(me, response.high_watermark, &shared.tracer);
            // Kafka's followers move their log start with the leader's, never past their
            // own high watermark.
            let leader_start = response.log_start_offset.min(replica.high_watermark());
            replica.advance_log_start(me, leader_start, LogStartReason::LeaderLogStart, &shared.tracer);
        }
    }
    if changed {
        shared.wake_watchers();
    }
    any_ok
}

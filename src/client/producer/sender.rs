//! The sender task: keeps metadata and the idempotent producer id fresh, drains ready
//! batches into one produce request per broker, and handles the answers.

use super::batch::Batch;
use super::state::Shared;
use crate::client::connection_states::NodeConnections;
use crate::client::group::coordinator::CoordinatorLink;
use crate::client::metadata::ClusterView;
use crate::plant::{is_planted, PlantedBug};
use crate::protocol::{Acks, BrokerId, ErrorCode, ProduceRequest, Request, Response};
use crate::sim::clock;
use crate::sim::net::{ConnId, Connection, NetError};
use madsim::time::{sleep, sleep_until};
use std::sync::Arc;
use std::time::Duration;

/// Runs until the producer is dropped.
pub(super) async fn run_sender(shared: Arc<Shared>, mut view: ClusterView, mut connections: NodeConnections) {
    let config = shared.config.clone();
    let connection_changes = connections.changes();
    let request_timeout = Duration::from_millis(config.request_timeout_ms);
    // `Sender`'s own pauses (no node for InitProducerId) stay `retry.backoff.ms` in every
    // release: KIP-580 left `Sender.maybeSendAndPollTransactionalRequest` fixed.
    let retry_backoff = Duration::from_millis(config.retry_backoff_ms.max(1));
    let mut txn_link = config.transactional_id.as_ref().map(|id| {
        CoordinatorLink::for_transactions(view.net().clone(), config.bootstrap.clone(), id)
            .connecting_with(config.connections)
    });
    loop {
        let notified = shared.wake.notified();
        let connection_changed = connection_changes.notified();
        let (disconnect, need_metadata, new_topics) = {
            let mut state = shared.lock();
            (
                std::mem::take(&mut state.disconnect),
                std::mem::take(&mut state.need_metadata),
                std::mem::take(&mut state.new_topics),
            )
        };
        for (broker, conn) in disconnect {
            connections.disconnect(broker, conn);
        }
        if new_topics {
            view.reset_equivalent_responses();
        }
        let max_age = Duration::from_millis(config.metadata_max_age_ms);
        let need_metadata = need_metadata || view.update_requested();
        if need_metadata || view.older_than(max_age) {
            // Kafka's `Metadata.timeToNextUpdate`: a requested update, a closed connection
            // or an expired cache waits the refresh backoff after the last refresh,
            // answered or failed (`timeToAllowUpdate`), so a topic that stays unknown is
            // not asked for once per round trip: `retry.backoff.ms` before Kafka 3.7;
            // from 3.7 growing to `retry.backoff.max.ms` while refreshes fail or their
            // answers move nothing forward (KIP-580, see `ClusterView::set_refresh_backoff`).
            // The errors that ask for an update here are `requestUpdate(false)`: they
            // leave the equivalent responses counting.
            // The topics sends were called for (every topic before the first send).
            let topics: Vec<String> = shared.lock().topics.iter().cloned().collect();
            if !view.may_refresh() {
                shared.lock().need_metadata = true;
            } else if view.refresh(&topics, request_timeout).await {
                let mut state = shared.lock();
                // The whole cluster as the response tells it: a deleted topic goes.
                state.partition_counts = view.partition_counts();
                state.available_partitions = view.available_partitions();
                drop(state);
                shared.wake.notify_waiters();
            } else {
                // The drain still runs: batches expire whether or not metadata comes.
                shared.lock().need_metadata = true;
            }
        }
        if let Some(link) = &mut txn_link {
            // Partitions the open transaction wrote to are added before their batches go.
            super::transactions::add_new_partitions(&shared, link).await;
        } else if config.enable_idempotence {
            // Settle expired retries and bump the epoch if asked, before the drain.
            shared.lock().resolve_sequences();
        }
        // A transactional producer's id comes from `init_transactions`.
        if config.enable_idempotence && txn_link.is_none() && shared.lock().idempotence.producer().is_none() {
            match view.init_producer_id(request_timeout).await {
                Some(producer) => shared.lock().idempotence.start(producer),
                None => {
                    sleep(retry_backoff).await;
                    continue;
                }
            }
        }
        let (requests, next_wake, need_metadata) = {
            let mut state = shared.lock();
            let (requests, next_wake) = state.drain_ready(
                &config,
                view.generation(),
                // A leader id whose broker the metadata does not list is no leader:
                // Kafka's `Cluster.leaderFor` finds no node for it, and
                // `RecordAccumulator.ready` asks for a metadata update.
                |tp| view.leader(tp).filter(|(leader, _)| view.broker_addr(*leader).is_some()),
                |broker| connections.ready(broker, view.broker_addr(broker)),
            );
            // A connection that failed during the drain asks for an update (Kafka's
            // `DefaultMetadataUpdater.handleServerDisconnect` → `requestUpdate`).
            state.need_metadata |= connections.take_disconnect();
            (requests, next_wake, state.need_metadata || view.update_requested())
        };
        for (leader, batches) in requests {
            let conn = connections.connection(leader).expect("the drain takes batches only for a ready leader");
            send_batches(&shared, conn, leader, batches);
        }
        let mut wake_at = next_wake.unwrap_or_else(|| clock::now() + Duration::from_millis(100));
        // PLANTED BUG (sync-producer-stall): the sender forgets that the drain asked for
        // metadata and sleeps until the batch's linger or expiry (the bug fixed in
        // 4f904e3: a sync producer's only record to a partition without a known leader
        // waited out its whole delivery timeout).
        let need_metadata = need_metadata && !is_planted(config.plant, PlantedBug::SyncProducerStall);
        if need_metadata {
            // A ready batch whose partition has no known leader asked for metadata: as
            // Kafka's `Sender.sendProducerData` calls `metadata.requestUpdate()` and
            // `NetworkClient.poll` bounds its wait by `Metadata.timeToNextUpdate` (the
            // refresh backoff), the sender comes back for it then, not at the batch's
            // linger or expiry time. (Sleeping until then left a sync producer's only
            // record waiting out its whole delivery timeout.)
            if let Some(allowed_at) = view.refresh_allowed_at() {
                wake_at = wake_at.min(allowed_at);
            }
        }
        // `NetworkClient.poll` also wakes when the metadata reaches `metadata.max.age.ms`.
        if let Some(expiry) = view.expires_at(Duration::from_millis(config.metadata_max_age_ms)) {
            wake_at = wake_at.min(expiry);
        }
        // A connection established or failed wakes the sender too (Kafka's `Selector`
        // reports both from `NetworkClient.poll`).
        tokio::select! {
            biased;
            _ = notified => {}
            _ = connection_changed => {}
            _ = sleep_until(wake_at) => {}
        }
    }
}

/// Sends one produce request to `leader` on its established connection `conn` and
/// spawns the task that handles its answer.
fn send_batches(shared: &Arc<Shared>, conn: &Connection<Request, Response>, leader: BrokerId, mut batches: Vec<Batch>) {
    let config = &shared.config;
    for batch in &mut batches {
        batch.attempts += 1;
    }
    let request = ProduceRequest {
        acks: config.acks,
        timeout_ms: config.request_timeout_ms,
        batches: batches
            .iter()
            .map(|b| {
                let mut batch = b.to_record_batch();
                batch.transactional = config.transactional_id.is_some();
                (b.tp.clone(), batch)
            })
            .collect(),
        transactional_id: config.transactional_id.clone(),
        transaction_version: shared.lock().txn.as_ref().map_or_else(Default::default, |t| t.version),
    };
    let conn_id = conn.id();
    if config.acks == Acks::None {
        // acks=0: a record counts as sent once it is on the wire.
        let sent = conn.send_without_response(Request::Produce(request));
        let mut state = shared.lock();
        state.accumulator.release(leader, &batches);
        for batch in batches {
            if sent {
                state.acknowledged(batch, None, None);
            } else {
                state.attempt_failed(config, batch, None, None, "NetworkException: connection closed");
            }
        }
        drop(state);
        shared.wake.notify_waiters();
        return;
    }
    tracing::debug!(%leader, batches = batches.len(), "produce request sent");
    let response = conn.send(Request::Produce(request));
    // Kafka's Sender handles a connection's answers in the order they come
    // (`NetworkClient.handleCompletedReceives`); answers that come at one instant wake
    // their tasks at once, and madsim runs those in any order, so each waits for the
    // one sent before it to the same leader.
    let (handled, this_handled) = tokio::sync::oneshot::channel::<()>();
    let (before, closes_at_send) = {
        let mut state = shared.lock();
        (state.answers_handled.insert(leader, this_handled), state.connection_closes.get(&leader).copied())
    };
    let shared = shared.clone();
    crate::sim::tasks::spawn(async move {
        let answer = response.wait(Duration::from_millis(shared.config.request_timeout_ms)).await;
        if let Some(before) = before {
            let _ = before.await;
        }
        // An older request on this connection failed as a whole (it timed out) and closed
        // the connection: Kafka's NetworkClient then fails every request in flight on it
        // (`handleTimedOutRequests` → `processDisconnection`), and an answer that came
        // behind the timed-out one is never read. (Read, it could acknowledge a later
        // batch before the earlier one is resolved, and a refusal of the next batch
        // would then bump the epoch and give the earlier batch, perhaps appended, a new
        // sequence: a duplicate.)
        if shared.lock().connection_closes.get(&leader).copied() != closes_at_send {
            tracing::debug!(%leader, "produce answer not read: an older request closed its connection");
            requeue_all(&shared, leader, batches, "NetworkException: disconnected", true, Close::AlreadyClosed);
        } else {
            handle_response(&shared, leader, conn_id, batches, answer);
        }
        drop(handled);
    });
}

/// Whether a request that failed as a whole closes its connection, or found it closed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Close {
    /// The request's own failure (timeout, disconnect): close the connection it went on.
    Now(ConnId),
    /// It was in flight on a connection an older request's failure closed: the sender
    /// may have a new connection to the leader by now, which must stay open.
    AlreadyClosed,
}

/// Whether an error leaves open that the leader appended the batch. NOT_LEADER_OR_FOLLOWER
/// does: a leader that loses its leadership while an acks=all batch waits in its purgatory
/// answers with it after the append, and the new leader may hold the batch.
fn may_have_appended(error: ErrorCode) -> bool {
    matches!(
        error,
        ErrorCode::RequestTimedOut | ErrorCode::NotEnoughReplicasAfterAppend | ErrorCode::NotLeaderOrFollower
    )
}

fn handle_response(
    shared: &Arc<Shared>,
    leader: BrokerId,
    conn: ConnId,
    batches: Vec<Batch>,
    result: Result<Response, NetError>,
) {
    let config = &shared.config;
    tracing::debug!(%leader, ok = result.is_ok(), "produce response");
    let parts = match result {
        Ok(Response::Produce(parts)) => parts,
        Ok(_) | Err(NetError::Disconnected) | Err(NetError::Timeout) => {
            let reason = match result {
                Err(NetError::Timeout) => "TimeoutException: request.timeout.ms expired",
                _ => "NetworkException: disconnected",
            };
            requeue_all(shared, leader, batches, reason, true, Close::Now(conn));
            return;
        }
    };
    let errors: Vec<String> =
        parts.iter().filter_map(|p| p.error.map(|e| format!("{} {}", p.tp, e.kafka_name()))).collect();
    tracing::debug!(%leader, ?errors, "produce answer");
    let mut state = shared.lock();
    state.accumulator.release_request(leader);
    for mut batch in batches {
        state.accumulator.release_partition(&batch.tp);
        let Some(part) = parts.iter().find(|p| p.tp == batch.tp) else {
            let error = ErrorCode::UnknownTopicOrPartition;
            state.attempt_failed(config, batch, Some(error), None, error.kafka_name());
            continue;
        };
        match part.error {
            None => state.acknowledged(batch, Some(part.base_offset), part.topic_id),
            Some(error) => {
                if error.needs_metadata_refresh() {
                    state.need_metadata = true;
                }
                batch.maybe_appended |= may_have_appended(error);
                state.attempt_failed(config, batch, Some(error), part.log_start_offset, error.kafka_name());
            }
        }
    }
    drop(state);
    shared.wake.notify_waiters();
}

/// A request failed as a whole (timeout or disconnect): the connection is closed, as
/// Kafka's NetworkClient does (the broker then waits out its reconnect backoff, see
/// `connection_states`), and every batch is retried or failed.
fn requeue_all(
    shared: &Arc<Shared>,
    leader: BrokerId,
    batches: Vec<Batch>,
    reason: &str,
    maybe_appended: bool,
    close: Close,
) {
    let config = &shared.config;
    let mut state = shared.lock();
    state.accumulator.release(leader, &batches);
    state.need_metadata = true;
    if let Close::Now(conn) = close {
        state.disconnect.insert((leader, conn));
        *state.connection_closes.entry(leader).or_default() += 1;
    }
    for mut batch in batches {
        batch.maybe_appended |= maybe_appended;
        state.attempt_failed(config, batch, None, None, reason);
    }
    drop(state);
    shared.wake.notify_waiters();
}

//! The consumer's fetching: `poll`, as Kafka's classic consumer fetches
//! (`ClassicKafkaConsumer.pollForFetches`, `AbstractFetch.prepareFetchRequests`,
//! `FetchCollector.collectFetch`). Answers are buffered ([`FetchBuffer`]) and returned at
//! most `max.poll.records` a poll in arrival order, one fetch in flight per leader
//! ([`InFlightFetches`]), kept across polls.
//!
//! [`FetchBuffer`]: crate::client::fetch_buffer::FetchBuffer
//! [`InFlightFetches`]: crate::client::fetch_buffer::InFlightFetches

use super::{ConsumedRecord, Consumer, ConsumerError, APPLICATION_POLL_TIMEOUT};
use crate::client::connection_states::Usable;
use crate::client::fetch_buffer::{CompletedFetch, FetchOutcome};
use crate::client::isolation::{fetched_items, Fetched};
use crate::protocol::{
    BrokerId, ErrorCode, FetchPartition, FetchRequest, OffsetReset, OffsetValidation, Request, TopicPartition,
};
use crate::sim::clock;
use madsim::time::sleep;
use std::collections::BTreeMap;
use std::time::Duration;

impl Consumer {
    /// Kafka's `poll(timeout)` with kafkasim's [`APPLICATION_POLL_TIMEOUT`]: returns
    /// fetched records, at most `max.poll.records`, advancing the positions past them.
    /// Fails, returning no records, when a partition needs the application to seek
    /// (only with `auto.offset.reset = "none"`): as Kafka's `poll` throws.
    pub async fn poll(&mut self) -> Result<Vec<ConsumedRecord>, ConsumerError> {
        self.poll_within(APPLICATION_POLL_TIMEOUT).await
    }

    /// One round of Kafka's `poll(timeout)` (`ClassicKafkaConsumer.pollForFetches`):
    /// returns what earlier fetches left buffered if there is any; otherwise sends a
    /// fetch to every leader of a fetchable partition that has none in flight and waits,
    /// at most `timeout`, until a fetch in flight is answered, then returns what the
    /// answers hold. A fetch not answered by then stays in flight (its answer is
    /// returned by a later poll), and a leader with a fetch in flight is sent no other.
    /// After returning records the next fetches go out at once, as Kafka's `poll` sends
    /// them before it returns ("pipelining while the user is handling the fetched
    /// records").
    ///
    /// Simplified: Kafka's `poll` repeats the round until records arrive or its timeout
    /// passes; kafkasim's returns after the first round that got an answer, and its
    /// application polls again after its `poll_interval_ms`.
    pub async fn poll_within(&mut self, timeout: Duration) -> Result<Vec<ConsumedRecord>, ConsumerError> {
        let until = clock::now() + timeout;
        let request_timeout = Duration::from_millis(self.config.request_timeout_ms);
        // A connection found closed (refused, reset, or given up at its setup timeout)
        // asks for an update (`DefaultMetadataUpdater.handleServerDisconnect`).
        self.need_metadata |= self.connections.take_disconnect();
        // Kafka's `Metadata.updateRequested` or the cached metadata older than
        // `metadata.max.age.ms` (`Metadata.timeToNextUpdate`).
        if self.metadata_due() {
            self.refresh_metadata(request_timeout).await;
        }
        self.raise_pending_error()?;
        self.reset_missing_positions().await;
        self.raise_pending_error()?;
        self.validate_positions().await;
        self.raise_pending_error()?;
        // Answers that arrived since the last poll.
        let arrived = self.in_flight.settle(clock::now()).await;
        self.take_answers(arrived);
        if let Some(records) = self.collect()? {
            self.send_fetches();
            return Ok(records);
        }
        let round = self.send_fetches();
        if !self.assignment.is_empty() && self.assignment.iter().all(|tp| self.is_paused(tp)) {
            // Nothing to fetch by the application's choice: no leader to look up, and no
            // answer in flight to wait for (simplified: Kafka's poll waits its timeout).
            return Ok(Vec::new());
        }
        if !round.sent && self.in_flight.is_empty() {
            // No leader known for anything to fetch: wait for the metadata update that
            // asks for one, at most the refresh backoff (Kafka caps the poll's wait at
            // `retry.backoff.ms` while nothing is in flight). A leader in reconnect
            // backoff needs no update: its disconnect asked for one already.
            if !round.backing_off {
                self.need_metadata = true;
            }
            sleep(timeout.min(Duration::from_millis(100))).await;
            return Ok(Vec::new());
        }
        let answered = self.in_flight.settle(until).await;
        self.take_answers(answered);
        let records = self.collect()?;
        if records.is_some() {
            self.send_fetches();
        }
        Ok(records.unwrap_or_default())
    }

    /// Sends a fetch to every leader of a partition that can be fetched now: assigned,
    /// not paused, with a validated position, nothing buffered, and no fetch in flight
    /// to its leader (`AbstractFetch.prepareFetchRequests`), and whose leader is not in
    /// reconnect backoff.
    fn send_fetches(&mut self) -> FetchRound {
        let kip320 = self.config.offset_validation == OffsetValidation::Kip320;
        let buffered = self.buffer.partitions();
        let mut by_leader: BTreeMap<BrokerId, Vec<FetchPartition>> = BTreeMap::new();
        for tp in &self.fetch_order {
            if self.paused.contains(tp) || buffered.contains(tp) {
                continue;
            }
            let Some(position) = self.positions.get(tp) else { continue };
            let Some((leader, epoch)) = self.view.leader(tp) else {
                // `AbstractFetch.prepareFetchRequests`: "Requesting metadata update for
                // partition ... since the position ... is missing the current leader node".
                // A partition can be missing from the cached metadata altogether (an answer
                // from a broker whose metadata cache did not hold it yet), which asks for
                // no update by itself.
                self.need_metadata = true;
                continue;
            };
            if !position.is_fetchable() || self.in_flight.awaits(leader) {
                continue; // Awaiting validation, or the previous fetch's answer.
            }
            by_leader.entry(leader).or_default().push(FetchPartition {
                tp: tp.clone(),
                fetch_offset: position.position.offset,
                // Consumers before 2.3 send no epoch (Fetch v8 and older): no fencing.
                current_leader_epoch: kip320.then_some(epoch),
                topic_id: self.view.topic_id(tp).filter(|_| self.config.fetch_topic_ids),
            });
        }
        let max_wait_ms = self.config.fetch_max_wait_ms;
        let deadline = clock::now() + Duration::from_millis(self.config.request_timeout_ms + max_wait_ms);
        let mut round = FetchRound::default();
        for (leader, partitions) in by_leader {
            let conn = match self.connections.usable(leader, self.view.broker_addr(leader)) {
                Usable::Yes(conn) => conn,
                // `prepareFetchRequests` skips a node in reconnect backoff ("awaiting
                // reconnect backoff"): its partitions are fetched once it ends.
                Usable::BackingOff => {
                    tracing::debug!(%leader, "fetch skipped: the leader is in reconnect backoff");
                    round.backing_off = true;
                    continue;
                }
                // A leader id whose broker the metadata does not list has no known node:
                // Kafka's `Metadata.currentLeader` gives no leader then, and
                // `AbstractFetch.prepareFetchRequests` requests a metadata update instead
                // of fetching (without one the partition waited out metadata.max.age.ms).
                Usable::UnknownBroker => {
                    self.need_metadata = true;
                    continue;
                }
            };
            let fetched_from = partitions.iter().map(|p| (p.tp.clone(), p.fetch_offset)).collect();
            let request = FetchRequest {
                replica_id: None,
                replica_broker_epoch: None,
                max_wait_ms,
                max_records: self.config.max_poll_records,
                partitions,
                isolation_level: self.config.isolation_level,
            };
            self.in_flight.sent(leader, conn.id(), conn.send(Request::Fetch(request)), deadline, fetched_from);
            round.sent = true;
        }
        round
    }

    /// Takes in settled fetches: each answered partition joins the buffer; a leader
    /// that did not answer is disconnected.
    fn take_answers(&mut self, settled: Vec<(BrokerId, FetchOutcome)>) {
        for (leader, outcome) in settled {
            match outcome {
                FetchOutcome::Answered(parts) => {
                    for (answer, fetch_offset) in parts {
                        self.buffer.push(CompletedFetch { answer, fetch_offset, items: None });
                    }
                }
                FetchOutcome::Failed(conn) => self.connection_failed(leader, conn),
            }
        }
    }

    /// Returns buffered records, at most `max.poll.records`, oldest answer first
    /// (Kafka's `FetchCollector.collectFetch`), advancing each partition's position past
    /// what is returned. `None` when nothing was returned and no position moved (Kafka's
    /// empty `Fetch`); records of a paused partition stay buffered. An error found in an
    /// answer is raised now if nothing was returned, otherwise by the next poll.
    fn collect(&mut self) -> Result<Option<Vec<ConsumedRecord>>, ConsumerError> {
        let mut remaining = self.config.max_poll_records;
        let mut records = Vec::new();
        let mut moved = false;
        let mut paused = Vec::new();
        while remaining > 0 {
            let Some(mut fetch) = self.buffer.pop() else { break };
            if self.paused.contains(fetch.tp()) {
                paused.push(fetch);
                continue;
            }
            if !self.still_current(&fetch) || (fetch.items.is_none() && !self.initialize(&mut fetch)) {
                continue;
            }
            moved |= self.drain(&mut fetch, &mut remaining, &mut records);
            if fetch.items.as_ref().is_some_and(|items| !items.is_empty()) {
                self.buffer.put_back_in_line(fetch);
                break;
            }
            if fetch.read_any_batch() {
                self.move_to_end(&fetch.answer.tp);
            }
        }
        for fetch in paused {
            self.buffer.push(fetch);
        }
        if records.is_empty() && !moved {
            self.raise_pending_error()?;
            return Ok(None);
        }
        Ok(Some(records))
    }

    /// Whether a buffered answer still fits the partition's state: assigned, fetchable,
    /// and its position where the answer continues. Otherwise it is dropped (a
    /// rebalance took the partition, the application sought elsewhere, a reset or a
    /// validation is pending: Kafka's `FetchCollector.initialize` "Discarding stale
    /// fetch response" and `fetchRecords` "Ignoring fetched records").
    fn still_current(&self, fetch: &CompletedFetch) -> bool {
        let tp = fetch.tp();
        self.assignment.contains(tp)
            && self
                .positions
                .get(tp)
                .is_some_and(|position| position.is_fetchable() && position.position.offset == fetch.fetch_offset)
    }

    /// Takes in a buffered answer when the consumer first reaches it (Kafka's
    /// `FetchCollector.initialize`): an error is handled (`handleInitializeErrors`) and
    /// the answer dropped; otherwise its items are set. Returns whether its records may
    /// be returned.
    fn initialize(&mut self, fetch: &mut CompletedFetch) -> bool {
        let tp = fetch.answer.tp.clone();
        match fetch.answer.error {
            None => {}
            // `handleInitializeErrors`: with a reset policy the position is reset
            // (`requestOffsetResetIfPartitionAssigned`, then ListOffsets by
            // `auto.offset.reset`); without one the application gets the exception.
            Some(ErrorCode::OffsetOutOfRange) => {
                self.move_to_end(&tp);
                if self.config.auto_offset_reset == OffsetReset::None {
                    let error = ConsumerError::OffsetOutOfRange { tp: tp.clone(), offset: fetch.fetch_offset };
                    self.pending_errors.insert(tp, error);
                } else {
                    self.positions.remove(&tp);
                }
                return false;
            }
            // FENCED_LEADER_EPOCH, UNKNOWN_LEADER_EPOCH, NOT_LEADER_OR_FOLLOWER...:
            // refresh metadata; a new epoch there starts validation (KIP-320).
            Some(_) => {
                self.move_to_end(&tp);
                self.need_metadata = true;
                return false;
            }
        }
        let answer = &fetch.answer;
        let isolation = self.config.isolation_level;
        let items = fetched_items(&answer.batches, &answer.aborted_transactions, isolation, fetch.fetch_offset);
        fetch.items = Some(items.into());
        true
    }

    /// Returns the records of an initialized answer, at most `remaining`, and moves the
    /// position past them and past the batches skipped on the way (markers, aborted
    /// transactions), into the epoch of the last batch passed (Kafka's
    /// `CompletedFetch.fetchRecords` and `nextFetchOffset`). Returns whether the position
    /// moved.
    fn drain(&mut self, fetch: &mut CompletedFetch, remaining: &mut usize, records: &mut Vec<ConsumedRecord>) -> bool {
        let tp = fetch.answer.tp.clone();
        let topic_id = fetch.answer.topic_id;
        let Some(position) = self.positions.get_mut(&tp) else { return false };
        let items = fetch.items.as_mut().expect("initialized");
        let returned_before = records.len();
        let mut moved = false;
        while let Some(item) = items.front().copied() {
            match item {
                Fetched::Record { .. } if *remaining == 0 => break,
                Fetched::Record { offset, value, timestamp_ms, epoch } => {
                    records.push(ConsumedRecord { tp: tp.clone(), offset, value, timestamp_ms, topic_id });
                    *remaining -= 1;
                    position.advance(offset + 1, epoch);
                    moved = true;
                }
                Fetched::Skipped { next_offset, epoch } if next_offset > position.position.offset => {
                    position.advance(next_offset, epoch);
                    moved = true;
                }
                Fetched::Skipped { .. } => {}
            }
            items.pop_front();
        }
        // What is left of the answer continues from the new position.
        fetch.fetch_offset = position.position.offset;
        if records.len() > returned_before {
            // For the history: the position now belongs to the topic whose log answered.
            self.view.topic_ids().set_position(&tp, topic_id);
        }
        moved
    }

    /// Moves `tp` to the end of the fetch order (Kafka's `movePartitionToEnd`).
    fn move_to_end(&mut self, tp: &TopicPartition) {
        if let Some(index) = self.fetch_order.iter().position(|held| held == tp) {
            let moved = self.fetch_order.remove(index);
            self.fetch_order.push(moved);
        }
    }
}

/// What one round of [`Consumer::send_fetches`] did.
#[derive(Default)]
struct FetchRound {
    /// A fetch went out.
    sent: bool,
    /// A leader was left out because it is in reconnect backoff.
    backing_off: bool,
}

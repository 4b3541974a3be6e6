//! The consumer's offset lookups: ListOffsets by spec or timestamp, one request per
//! leader with every request in flight at once (Kafka's `OffsetFetcher`), for the
//! application (`endOffsets`, `offsetsForTimes`, the admin client's `listOffsets`) and for
//! the consumer's own position resets.

use super::{answer_from, Consumer};
use crate::protocol::{
    BrokerId, IsolationLevel, ListOffsetsPartition, ListOffsetsRequest, Offset, OffsetSpec, Request, Response, TopicId,
    TopicPartition,
};
use futures_util::future::join_all;
use madsim::time::sleep;
use std::collections::BTreeMap;
use std::time::Duration;

impl Consumer {
    /// The leader's high watermark for a partition (ListOffsets latest; the last stable
    /// offset for `read_committed`), if reachable: [`end_offsets`](Self::end_offsets)
    /// for one partition.
    pub async fn end_offset(&mut self, tp: &TopicPartition) -> Option<Offset> {
        self.end_offsets(std::slice::from_ref(tp)).await.remove(tp)
    }

    /// Kafka's `endOffsets(Collection)`: each partition's end offset (ListOffsets latest:
    /// the high watermark, or the last stable offset for `read_committed`), asked of
    /// every leader at once, one request per leader (`OffsetFetcher.fetchOffsetsByTimes`
    /// → `groupListOffsetRequests`). A partition whose leader could not answer is left
    /// out (Kafka's blocking call retries until its timeout, then throws).
    pub async fn end_offsets(&mut self, partitions: &[TopicPartition]) -> BTreeMap<TopicPartition, Offset> {
        let wanted: Vec<_> = partitions.iter().map(|tp| (tp.clone(), OffsetSpec::Latest)).collect();
        let isolation_level = self.config.isolation_level;
        found_offsets(self.list_offsets_at(&wanted, isolation_level).await)
    }

    /// The leader's log start (`Earliest`) or end (`Latest`: the high watermark, or the
    /// last stable offset for `read_committed`) offset, if reachable: the admin client's
    /// `listOffsets` with `OffsetSpec.earliest()` or `latest()`. A timestamp is looked up
    /// with [`offsets_for_times`](Self::offsets_for_times) instead.
    pub async fn log_offset(&mut self, tp: &TopicPartition, spec: OffsetSpec) -> Option<Offset> {
        let isolation_level = self.config.isolation_level;
        let mut found = self.list_offsets_at(&[(tp.clone(), spec)], isolation_level).await;
        found.remove(tp).and_then(|(offset, _)| offset)
    }

    /// Each partition's high watermark whatever this consumer's `isolation.level`
    /// (ListOffsets latest at `read_uncommitted`, as Kafka's admin `listOffsets` with
    /// `OffsetSpec.latest()` and the default isolation answers), one request per leader,
    /// all at once; a partition whose leader could not answer is left out. A
    /// `read_committed` consumer compares them with [`Consumer::end_offsets`] to see how
    /// far an unstable transaction holds each back.
    pub async fn high_watermarks(&mut self, partitions: &[TopicPartition]) -> BTreeMap<TopicPartition, Offset> {
        let wanted: Vec<_> = partitions.iter().map(|tp| (tp.clone(), OffsetSpec::Latest)).collect();
        found_offsets(self.list_offsets_at(&wanted, IsolationLevel::ReadUncommitted).await)
    }

    /// Kafka's `offsetsForTimes`: for each partition, the first offset whose record
    /// timestamp is at or after the given time (in milliseconds), from the leader's time
    /// index, never below its log start. One ListOffsets per leader, all in flight at
    /// once (`OffsetFetcher.fetchOffsetsByTimes` → `groupListOffsetRequests`). A
    /// partition with no record that recent below the high watermark maps to `None`, as
    /// Kafka's client maps it to null (the broker answers offset -1). A partition whose
    /// leader could not answer is left out (Kafka throws a timeout). Positions do not
    /// change: [`Consumer::seek`] to the answers to start reading there.
    pub async fn offsets_for_times(
        &mut self,
        timestamps_ms: &BTreeMap<TopicPartition, u64>,
    ) -> BTreeMap<TopicPartition, Option<Offset>> {
        if self.need_metadata {
            let topics: Vec<String> = timestamps_ms.keys().map(|tp| tp.topic.to_string()).collect();
            let timeout = Duration::from_millis(self.config.request_timeout_ms);
            if self.view.refresh(&topics, timeout).await {
                self.need_metadata = false;
            }
        }
        let wanted: Vec<_> = timestamps_ms.iter().map(|(tp, &ms)| (tp.clone(), OffsetSpec::Timestamp(ms))).collect();
        let isolation_level = self.config.isolation_level;
        let found = self.list_offsets_at(&wanted, isolation_level).await;
        found.into_iter().map(|(tp, (offset, _))| (tp, offset)).collect()
    }

    /// Kafka's blocking `offsetsForTimes(timestamps, timeout)` (`OffsetFetcher.offsetsForTimes`):
    /// [`offsets_for_times`](Self::offsets_for_times), asked again for the partitions
    /// whose leader could not answer, after `retry.backoff.ms` and with the metadata
    /// refreshed, until every partition has its answer. `None` when `timeout`
    /// (`default.api.timeout.ms`) passes first: Kafka throws a TimeoutException and the
    /// answers it had are lost.
    pub async fn offsets_for_times_within(
        &mut self,
        timestamps_ms: &BTreeMap<TopicPartition, u64>,
        timeout: Duration,
    ) -> Option<BTreeMap<TopicPartition, Option<Offset>>> {
        let deadline = madsim::time::Instant::now() + timeout;
        let mut found = BTreeMap::new();
        let mut missing = timestamps_ms.clone();
        loop {
            found.extend(self.offsets_for_times(&missing).await);
            missing.retain(|tp, _| !found.contains_key(tp));
            if missing.is_empty() {
                return Some(found);
            }
            if madsim::time::Instant::now() >= deadline {
                return None;
            }
            self.need_metadata = true;
            sleep(Duration::from_millis(self.config.retry_backoff_ms)).await;
        }
    }

    /// ListOffsets for many partitions, each with its spec, at one isolation level: the
    /// partitions grouped by leader, one request per leader, every request sent before
    /// any answer is awaited (Kafka's `OffsetFetcher.groupListOffsetRequests` and
    /// `sendListOffsetRequest` per node). Each partition answered maps to what its leader
    /// found (`None` when no offset matches, a timestamp past every record) and the topic
    /// whose log answered; one whose leader is unknown, unreachable or answered an error
    /// is left out, and the metadata is refreshed on the next poll. A leader in
    /// reconnect backoff is not asked (`groupListOffsetRequests`: "unavailable for
    /// fetching offset until reconnect backoff expires").
    pub(super) async fn list_offsets_at(
        &mut self,
        wanted: &[(TopicPartition, OffsetSpec)],
        isolation_level: IsolationLevel,
    ) -> BTreeMap<TopicPartition, (Option<Offset>, Option<TopicId>)> {
        let timeout = Duration::from_millis(self.config.request_timeout_ms);
        let mut by_leader: BTreeMap<BrokerId, Vec<ListOffsetsPartition>> = BTreeMap::new();
        for (tp, spec) in wanted {
            match self.view.leader(tp) {
                Some((leader, _)) => {
                    by_leader.entry(leader).or_default().push(ListOffsetsPartition { tp: tp.clone(), spec: *spec })
                }
                None => self.need_metadata = true,
            }
        }
        let mut pending = Vec::new();
        for (leader, partitions) in by_leader {
            let Some(conn) = self.connection_to(leader) else { continue };
            let request = Request::ListOffsets(ListOffsetsRequest { partitions, isolation_level });
            pending.push(answer_from(leader, conn.id(), conn.send(request), timeout));
        }
        let mut found = BTreeMap::new();
        for ((leader, conn), answer) in join_all(pending).await {
            match answer {
                Ok(Response::ListOffsets(parts)) => {
                    for part in parts {
                        match part.error {
                            None => {
                                found.insert(part.tp, (part.offset, part.topic_id));
                            }
                            // NOT_LEADER_OR_FOLLOWER, UNKNOWN_TOPIC_OR_PARTITION...: this
                            // partition only, after a metadata refresh
                            // (`OffsetFetcher.handleListOffsetResponse` retries it).
                            Some(_) => self.need_metadata = true,
                        }
                    }
                }
                Ok(_) => self.need_metadata = true,
                Err(_) => self.connection_failed(leader, conn),
            }
        }
        found
    }
}

/// The partitions a ListOffsets lookup found an offset for, with that offset.
fn found_offsets(
    found: BTreeMap<TopicPartition, (Option<Offset>, Option<TopicId>)>,
) -> BTreeMap<TopicPartition, Offset> {
    found.into_iter().filter_map(|(tp, (offset, _))| Some((tp, offset?))).collect()
}

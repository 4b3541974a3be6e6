//! The consumer in standalone `assign` mode: it fetches its assigned partitions from
//! their leaders, keeps a position per partition, resets a missing or out-of-range
//! position by `auto.offset.reset`, and refreshes metadata when a leader moves.
//! (Group membership and offset commits build on this in the consumer-group work.)

use super::metadata::ClusterView;
use crate::protocol::{
    BrokerId, ErrorCode, FetchPartition, FetchRequest, ListOffsetsRequest, Offset, OffsetReset, OffsetSpec, Request,
    Response, TopicPartition,
};
use crate::sim::net::{Addr, NodeNet};
use madsim::time::sleep;
use std::collections::BTreeMap;
use std::time::Duration;

/// Consumer settings, with Kafka's names.
#[derive(Clone, Debug)]
pub struct ConsumerConfig {
    /// `bootstrap.servers`.
    pub bootstrap: Vec<Addr>,
    /// `auto.offset.reset`.
    pub auto_offset_reset: OffsetReset,
    /// `fetch.max.wait.ms`.
    pub fetch_max_wait_ms: u64,
    /// `max.poll.records`.
    pub max_poll_records: usize,
    /// `request.timeout.ms`.
    pub request_timeout_ms: u64,
}

/// One consumed record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsumedRecord {
    /// The partition.
    pub tp: TopicPartition,
    /// The offset.
    pub offset: Offset,
    /// The value.
    pub value: u64,
}

/// A standalone consumer.
pub struct Consumer {
    config: ConsumerConfig,
    view: ClusterView,
    assignment: Vec<TopicPartition>,
    positions: BTreeMap<TopicPartition, Offset>,
    need_metadata: bool,
}

impl Consumer {
    /// A consumer with nothing assigned.
    pub fn new(net: NodeNet<Request, Response>, config: ConsumerConfig) -> Self {
        let view = ClusterView::new(net, config.bootstrap.clone());
        Consumer { config, view, assignment: Vec::new(), positions: BTreeMap::new(), need_metadata: true }
    }

    /// Replaces the assignment; positions of partitions no longer assigned are forgotten.
    pub fn assign(&mut self, partitions: Vec<TopicPartition>) {
        self.positions.retain(|tp, _| partitions.contains(tp));
        self.assignment = partitions;
    }

    /// The current assignment.
    pub fn assignment(&self) -> &[TopicPartition] {
        &self.assignment
    }

    /// Sets the next offset to fetch for a partition. An offset the leader no longer
    /// holds (below its log start, or past its end) is answered OFFSET_OUT_OF_RANGE on
    /// the next fetch and reset by `auto.offset.reset`, as in Kafka.
    pub fn seek(&mut self, tp: &TopicPartition, offset: Offset) {
        self.positions.insert(tp.clone(), offset);
    }

    /// The next offset to fetch, if known.
    pub fn position(&self, tp: &TopicPartition) -> Option<Offset> {
        self.positions.get(tp).copied()
    }

    /// The partitions of a topic, from metadata (refreshing it first).
    pub async fn partitions_for(&mut self, topic: &str) -> Vec<TopicPartition> {
        let timeout = Duration::from_millis(self.config.request_timeout_ms);
        if self.view.refresh(&[topic.to_string()], timeout).await {
            self.need_metadata = false;
        }
        self.view.partitions_of(topic)
    }

    /// The leader's high watermark for a partition (ListOffsets latest), if reachable.
    pub async fn end_offset(&mut self, tp: &TopicPartition) -> Option<Offset> {
        self.list_offset(tp, OffsetSpec::Latest).await
    }

    /// Kafka's `offsetsForTimes`: for each partition, the first offset whose record
    /// timestamp is at or after the given time (in milliseconds), from the leader's time
    /// index, never below its log start. A partition with no record that recent maps to
    /// its high watermark, where the next record will go (Kafka's client returns null
    /// there; a seek to the high watermark is what callers then do). A partition whose
    /// leader could not answer is left out. Positions do not change: [`Consumer::seek`]
    /// to the answers to start reading there.
    pub async fn offsets_for_times(
        &mut self,
        timestamps_ms: &BTreeMap<TopicPartition, u64>,
    ) -> BTreeMap<TopicPartition, Offset> {
        if self.need_metadata {
            let topics: Vec<String> = timestamps_ms.keys().map(|tp| tp.topic.to_string()).collect();
            let timeout = Duration::from_millis(self.config.request_timeout_ms);
            if self.view.refresh(&topics, timeout).await {
                self.need_metadata = false;
            }
        }
        let mut offsets = BTreeMap::new();
        for (tp, &timestamp_ms) in timestamps_ms {
            if let Some(offset) = self.list_offset(tp, OffsetSpec::Timestamp(timestamp_ms)).await {
                offsets.insert(tp.clone(), offset);
            }
        }
        offsets
    }

    async fn list_offset(&mut self, tp: &TopicPartition, spec: OffsetSpec) -> Option<Offset> {
        let timeout = Duration::from_millis(self.config.request_timeout_ms);
        let Some((leader, _)) = self.view.leader(tp) else {
            self.need_metadata = true;
            return None;
        };
        let conn = self.view.connection(leader)?;
        let request = Request::ListOffsets(ListOffsetsRequest { tp: tp.clone(), spec });
        match conn.call(request, timeout).await {
            Ok(Response::ListOffsets { error: None, offset }) => Some(offset),
            Ok(_) => {
                self.need_metadata = true;
                None
            }
            Err(_) => {
                self.view.disconnect(leader);
                self.need_metadata = true;
                None
            }
        }
    }

    /// Fetches from every assigned partition's leader once and returns what came back,
    /// at most `max.poll.records`, in partition then offset order.
    pub async fn poll(&mut self) -> Vec<ConsumedRecord> {
        self.poll_waiting(self.config.fetch_max_wait_ms).await
    }

    /// [`poll`](Self::poll), with the leaders waiting at most `max_wait_ms` for data
    /// instead of `fetch.max.wait.ms` (what Kafka's `poll(timeout)` with a short
    /// timeout amounts to: it returns without waiting for a fetch to fill).
    pub async fn poll_waiting(&mut self, max_wait_ms: u64) -> Vec<ConsumedRecord> {
        let timeout = Duration::from_millis(self.config.request_timeout_ms + max_wait_ms);
        if self.need_metadata {
            let topics: Vec<String> = self.assignment.iter().map(|tp| tp.topic.to_string()).collect();
            if self.view.refresh(&topics, timeout).await {
                self.need_metadata = false;
            }
        }
        self.reset_missing_positions().await;
        let mut by_leader: BTreeMap<BrokerId, Vec<FetchPartition>> = BTreeMap::new();
        for tp in &self.assignment {
            let (Some(position), Some((leader, epoch))) = (self.positions.get(tp), self.view.leader(tp)) else {
                continue;
            };
            by_leader.entry(leader).or_default().push(FetchPartition {
                tp: tp.clone(),
                fetch_offset: *position,
                current_leader_epoch: Some(epoch),
            });
        }
        if by_leader.is_empty() {
            self.need_metadata = true;
            sleep(Duration::from_millis(max_wait_ms.min(100))).await;
            return Vec::new();
        }
        // Send every fetch first so that the leaders wait in parallel.
        let mut pending = Vec::new();
        for (leader, partitions) in by_leader {
            let request =
                FetchRequest { replica_id: None, max_wait_ms, max_records: self.config.max_poll_records, partitions };
            if let Some(conn) = self.view.connection(leader) {
                pending.push((leader, conn.send(Request::Fetch(request))));
            }
        }
        let mut records = Vec::new();
        for (leader, response) in pending {
            match response.wait(timeout).await {
                Ok(Response::Fetch(parts)) => self.absorb(parts, &mut records),
                _ => {
                    self.view.disconnect(leader);
                    self.need_metadata = true;
                }
            }
        }
        records.truncate(self.config.max_poll_records);
        // Positions advance only for what is returned.
        let mut next: BTreeMap<TopicPartition, Offset> = BTreeMap::new();
        for record in &records {
            next.insert(record.tp.clone(), record.offset + 1);
        }
        self.positions.extend(next);
        records
    }

    fn absorb(&mut self, parts: Vec<crate::protocol::FetchPartitionResponse>, records: &mut Vec<ConsumedRecord>) {
        for part in parts {
            match part.error {
                None => {}
                Some(ErrorCode::OffsetOutOfRange) => {
                    self.positions.remove(&part.tp);
                    continue;
                }
                Some(_) => {
                    self.need_metadata = true;
                    continue;
                }
            }
            let position = self.positions.get(&part.tp).copied().unwrap_or(0);
            for batch in &part.batches {
                for (offset, record) in batch.offsets_and_records() {
                    if offset >= position {
                        records.push(ConsumedRecord { tp: part.tp.clone(), offset, value: record.value });
                    }
                }
            }
        }
    }

    /// Looks up a starting position by `auto.offset.reset` for partitions without one.
    async fn reset_missing_positions(&mut self) {
        let missing: Vec<TopicPartition> =
            self.assignment.iter().filter(|tp| !self.positions.contains_key(*tp)).cloned().collect();
        let spec = match self.config.auto_offset_reset {
            OffsetReset::Earliest => OffsetSpec::Earliest,
            OffsetReset::Latest => OffsetSpec::Latest,
        };
        for tp in missing {
            if let Some(offset) = self.list_offset(&tp, spec).await {
                self.positions.insert(tp, offset);
            }
        }
    }
}

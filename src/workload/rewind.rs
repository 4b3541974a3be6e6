//! Rewinds the scenario's `[[events]]` ask of consumers (`kind = "rewind"` with a
//! `target`): the runner leaves the request for consumer `name` ([`Rewinds`]), and
//! that consumer's application, the next time round its loop while it holds partitions,
//! rewinds each of them: by time, Kafka's `offsetsForTimes` for every held partition,
//! then `seek` to each answer (`seekToEnd` where no record is that recent, as
//! applications do with Kafka's null answer); by offset, a plain `seek`. The history
//! records it as a `rewind` op (see [`Rewind`]). Nothing wakes for a request, so a run
//! without rewinds keeps its schedule.

use super::Incarnation;
use crate::client::consumer::Consumer;
use crate::client::group::GroupConsumer;
use crate::history::{GroupContext, OpFn, OpType, OpValue, Rewind, RewindMove};
use crate::protocol::{Offset, OffsetReset, TopicPartition};
use crate::scenario::RewindTo;
use std::collections::BTreeMap;
use std::time::Duration;

/// One rewind asked of a consumer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RewindRequest {
    /// Where to.
    pub to: RewindTo,
    /// When the safety phase started, in simulated milliseconds since the run started:
    /// what a `to_time` counts from (record timestamps count from the run's start).
    pub safety_start_ms: u64,
}

impl RewindRequest {
    /// The record timestamp a rewind by time looks up, in milliseconds since the run
    /// started; `None` for a rewind to offsets.
    pub fn timestamp_ms(&self) -> Option<u64> {
        match self.to {
            RewindTo::Time { since_start_ms } => Some(self.safety_start_ms + since_start_ms),
            RewindTo::Offset(_) | RewindTo::Offsets(_) => None,
        }
    }
}

/// Pending rewinds, by consumer node name.
pub type Rewinds = super::subscriptions::Pending<RewindRequest>;

/// What an application rewinds through: a standalone consumer or a group member.
pub(super) trait Seeker {
    /// The partitions it holds now.
    fn held(&self) -> Vec<TopicPartition>;
    /// The next offset it would fetch from `tp`, if known.
    fn position(&self, tp: &TopicPartition) -> Option<Offset>;
    /// Kafka's `seek`.
    fn seek(&mut self, tp: &TopicPartition, offset: Offset);
    /// Kafka's `seekToEnd`.
    fn seek_to_end(&mut self, tp: &TopicPartition);
    /// Kafka's blocking `offsetsForTimes`; `None` when it timed out.
    async fn offsets_for_times(
        &mut self,
        timestamps_ms: &BTreeMap<TopicPartition, u64>,
        timeout: Duration,
    ) -> Option<BTreeMap<TopicPartition, Option<Offset>>>;
}

impl Seeker for Consumer {
    fn held(&self) -> Vec<TopicPartition> {
        self.assignment().to_vec()
    }

    fn position(&self, tp: &TopicPartition) -> Option<Offset> {
        Consumer::position(self, tp)
    }

    fn seek(&mut self, tp: &TopicPartition, offset: Offset) {
        Consumer::seek(self, tp, offset)
    }

    fn seek_to_end(&mut self, tp: &TopicPartition) {
        self.seek_to(tp, OffsetReset::Latest)
    }

    async fn offsets_for_times(
        &mut self,
        timestamps_ms: &BTreeMap<TopicPartition, u64>,
        timeout: Duration,
    ) -> Option<BTreeMap<TopicPartition, Option<Offset>>> {
        self.offsets_for_times_within(timestamps_ms, timeout).await
    }
}

impl Seeker for GroupConsumer {
    fn held(&self) -> Vec<TopicPartition> {
        self.assignment().to_vec()
    }

    fn position(&self, tp: &TopicPartition) -> Option<Offset> {
        GroupConsumer::position(self, tp)
    }

    fn seek(&mut self, tp: &TopicPartition, offset: Offset) {
        GroupConsumer::seek(self, tp, offset)
    }

    fn seek_to_end(&mut self, tp: &TopicPartition) {
        self.seek_to(tp, OffsetReset::Latest)
    }

    /// The member's own `default.api.timeout.ms` bounds it; `timeout` is the same.
    async fn offsets_for_times(
        &mut self,
        timestamps_ms: &BTreeMap<TopicPartition, u64>,
        _timeout: Duration,
    ) -> Option<BTreeMap<TopicPartition, Option<Offset>>> {
        GroupConsumer::offsets_for_times(self, timestamps_ms).await
    }
}

/// How a rewinding application records its op: its incarnation, the group context of a
/// member (none for a standalone consumer), and how it names a partition in the history.
pub(super) struct RewindRecord<'a> {
    pub life: &'a mut Incarnation,
    pub group: Option<GroupContext>,
    pub key_of: &'a dyn Fn(&Incarnation, &TopicPartition) -> String,
}

impl RewindRecord<'_> {
    fn invoke(&mut self, value: Rewind) {
        match self.group.clone() {
            Some(ctx) => self.life.invoke_in_group(OpFn::Rewind, OpValue::Rewind(value), ctx),
            None => self.life.invoke(OpFn::Rewind, OpValue::Rewind(value)),
        }
    }

    fn complete(&mut self, kind: OpType, value: Rewind, error: Option<String>) {
        match self.group.clone() {
            Some(ctx) => self.life.complete_in_group(kind, OpValue::Rewind(value), error, ctx),
            None => self.life.complete(kind, OpValue::Rewind(value), error),
        }
    }
}

/// The application rewinds the partitions it holds as `request` says, recording the
/// `rewind` op. A lookup by time that times out (`default.api.timeout.ms`, `timeout`)
/// throws in Kafka: the op fails and nothing moves. With offsets by partition, only the
/// held partitions among them move (an application seeks only what it was assigned:
/// Kafka's `seek` throws for another partition).
pub(super) async fn rewind(
    seeker: &mut impl Seeker,
    request: &RewindRequest,
    timeout: Duration,
    mut record: RewindRecord<'_>,
) {
    let held = seeker.held();
    let asked = Rewind { to_time_ms: request.timestamp_ms(), group: None, partitions: BTreeMap::new() };
    record.invoke(asked.clone());
    let targets: BTreeMap<TopicPartition, Option<Offset>> = match &request.to {
        RewindTo::Time { .. } => {
            let timestamp_ms = request.timestamp_ms().expect("a rewind by time");
            let lookups = held.iter().map(|tp| (tp.clone(), timestamp_ms)).collect();
            match seeker.offsets_for_times(&lookups, timeout).await {
                Some(found) => found,
                None => {
                    let error =
                        format!("TimeoutException: Failed to get offsets by times in {}ms", timeout.as_millis());
                    record.complete(OpType::Fail, asked, Some(error));
                    return;
                }
            }
        }
        RewindTo::Offsets(offsets) => {
            offsets.iter().filter(|(tp, _)| held.contains(tp)).map(|(tp, &o)| (tp.clone(), Some(o))).collect()
        }
        RewindTo::Offset(offset) => held.iter().map(|tp| (tp.clone(), Some(*offset))).collect(),
    };
    let mut partitions = BTreeMap::new();
    for (tp, to) in targets {
        let from = seeker.position(&tp);
        match to {
            Some(offset) => seeker.seek(&tp, offset),
            None => seeker.seek_to_end(&tp),
        }
        partitions.insert((record.key_of)(record.life, &tp), RewindMove { from, to });
    }
    record.complete(OpType::Ok, Rewind { partitions, ..asked }, None);
}

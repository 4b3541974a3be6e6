//! The liveness phase's probes: what "recovered" means, read from the cluster state the
//! trace tells and from the history, and the cause to report when it does not happen.

use crate::check::liveness::{GroupLag, PartitionProblem};
use crate::history::{ClusterState, OpFn, OpType, OpValue, Recorder};
use crate::protocol::TopicAssignment;
use crate::protocol::TopicPartition;
use crate::scenario::{self, Scenario};
use madsim::time::{sleep, Instant};
use std::collections::BTreeMap;
use std::time::Duration;

/// How often a probe looks, in simulated time.
const PROBE_INTERVAL: Duration = Duration::from_millis(100);

/// Polls `condition` every [`PROBE_INTERVAL`] until it holds or `limit` passes.
pub(super) async fn wait_until(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        sleep(PROBE_INTERVAL).await;
    }
}

/// Every partition of `topics`, `topic-N`.
pub(super) fn partition_names(topics: &[TopicAssignment]) -> Vec<String> {
    topics.iter().flat_map(|t| (0..t.replicas.len()).map(move |p| format!("{}-{p}", t.name))).collect()
}

/// Whether every partition has an acting leader.
pub(super) fn all_led(state: &ClusterState, partitions: &[String]) -> bool {
    partitions.iter().all(|p| state.acting_leader(p).is_some())
}

/// What keeps each partition from being fully recovered: an acting leader that has
/// committed its whole log, and every assigned replica back in the ISR. Empty when the
/// cluster has recovered.
pub(super) fn partition_problems(state: &ClusterState, topics: &[TopicAssignment]) -> Vec<PartitionProblem> {
    let mut problems = Vec::new();
    for t in topics {
        for (p, replicas) in t.replicas.iter().enumerate() {
            let tp = format!("{}-{p}", t.name);
            let Some(partition) = state.partition(&tp).filter(|p| p.created) else {
                problems.push(PartitionProblem::NeverCreated { tp });
                continue;
            };
            if state.acting_leader(&tp).is_none() {
                problems.push(PartitionProblem::NoLeader { tp });
                continue;
            }
            let missing: Vec<u32> = replicas.iter().map(|r| r.0).filter(|r| !partition.isr.contains(r)).collect();
            if !missing.is_empty() {
                problems.push(PartitionProblem::IsrLacks { tp: tp.clone(), brokers: missing });
            }
            if !state.leader_committed_all(&tp) {
                problems.push(PartitionProblem::UncommittedTail { tp });
            }
        }
    }
    problems
}

/// Each consumer group of the scenario with the topics its members subscribe to.
pub(super) fn group_topics(scenario: &Scenario) -> BTreeMap<String, Vec<String>> {
    let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for c in scenario.consumers.iter().filter(|c| c.mode == scenario::ConsumerMode::Subscribe) {
        let topics = groups.entry(c.group.clone().unwrap_or_default()).or_default();
        if !topics.contains(&c.topic) {
            topics.push(c.topic.clone());
        }
    }
    groups
}

/// For each group, the partitions of its topics whose last accepted commit is below the
/// end offset the drain read them to. A group has caught up when this is empty: it
/// stabilised and consumed everything written.
pub(super) fn groups_behind(
    recorder: &Recorder,
    groups: &BTreeMap<String, Vec<String>>,
    end_offsets: &BTreeMap<TopicPartition, u64>,
) -> Vec<GroupLag> {
    let committed: BTreeMap<(String, String), u64> = recorder.with_ops(|ops| {
        let mut committed = BTreeMap::new();
        for op in ops.iter().filter(|o| o.f == OpFn::Commit && o.kind == OpType::Ok) {
            let (Some(ctx), OpValue::Offsets(offsets)) = (&op.group, &op.value) else { continue };
            for (key, offset) in offsets {
                committed.insert((ctx.group.clone(), key.clone()), *offset);
            }
        }
        committed
    });
    let mut behind = Vec::new();
    for (group, topics) in groups {
        for (tp, end) in end_offsets.iter().filter(|(tp, _)| topics.iter().any(|t| **t == *tp.topic)) {
            let at = committed.get(&(group.clone(), tp.to_string())).copied().unwrap_or(0);
            if at < *end {
                behind.push(GroupLag { group: group.clone(), tp: tp.to_string(), committed: at, end: *end });
            }
        }
    }
    behind
}

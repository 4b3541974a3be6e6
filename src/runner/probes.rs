//! The liveness phase's probes: what "recovered" means, read from the cluster state the
//! trace tells and from the history, and the cause to report when it does not happen.

use crate::check::liveness::{GroupLag, PartitionProblem, QuorumProblem};
use crate::history::{ClusterState, MicroOp, Op, OpFn, OpType, OpValue, Recorder};
use crate::protocol::{broker_name, GroupProtocol, TopicPartition};
use crate::protocol::{partition_name, Subscription, TopicAssignment};
use crate::scenario::{PipelineSpec, Scenario, TopicEvent};
use crate::sim::clock;
use madsim::time::sleep;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// How often a probe looks, in simulated time.
const PROBE_INTERVAL: Duration = Duration::from_millis(100);

/// Polls `condition` every [`PROBE_INTERVAL`] until it holds or `limit` passes.
pub(super) async fn wait_until(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = clock::now() + limit;
    loop {
        if condition() {
            return true;
        }
        if clock::now() >= deadline {
            return false;
        }
        sleep(PROBE_INTERVAL).await;
    }
}

/// Like [`wait_until`], but while `remaining` keeps going down the wait goes on: it gives
/// up when `limit` passes without `remaining` falling below its lowest value so far, or
/// after `bound_factor` times `limit` in all. For what catches up at its own pace (a
/// consumer group working off a backlog the faults left), where a fixed wait would call a
/// slow but steady recovery no progress, as the final drain does.
pub(super) async fn wait_while_progressing(
    limit: Duration,
    bound_factor: u32,
    mut condition: impl FnMut() -> bool,
    mut remaining: impl FnMut() -> u64,
) -> bool {
    let started = clock::now();
    let mut deadline = started + limit;
    let mut lowest = u64::MAX;
    loop {
        if condition() {
            return true;
        }
        let now = clock::now();
        let left = remaining();
        if left < lowest {
            lowest = left;
            deadline = now + limit;
        }
        if now >= deadline || now >= started + limit * bound_factor {
            return false;
        }
        sleep(PROBE_INTERVAL).await;
    }
}

/// The longest a classic group's member may wait on one JoinGroup before it learns that
/// its coordinator fell silent ([`crate::client::group::join_wait`]); zero without
/// classic group members. Kafka's group makes progress after it, however long.
pub(super) fn longest_join_wait(scenario: &Scenario) -> Duration {
    scenario
        .consumer_instances()
        .into_iter()
        .filter(|(_, c)| c.group.is_some() && c.config.group_protocol == GroupProtocol::Classic)
        .map(|(_, c)| crate::client::group::join_wait(c.config.max_poll_interval_ms))
        .max()
        .unwrap_or_default()
}

/// Every partition of `topics`, `topic-N`.
pub(super) fn partition_names(topics: &[TopicAssignment]) -> Vec<String> {
    topics.iter().flat_map(|t| (0..t.replicas.len() as u32).map(move |p| partition_name(&t.name, p))).collect()
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
            let tp = partition_name(&t.name, p as u32);
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

/// KRaft: what the metadata looked like when the faults healed, against which recovery
/// is judged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct QuorumMark {
    /// The committed end of the metadata log when the faults healed.
    pub committed_end: u64,
    /// Whether the active controller writes idle `NoOpRecord`s
    /// (`metadata.max.idle.interval.ms` > 0): then a working quorum keeps committing, and
    /// recovery means a commit past the mark that every broker has applied. Without them
    /// nothing need be written after the heal, and the mark itself is the bar.
    pub idle_writes: bool,
}

/// What keeps a KRaft cluster's metadata from having recovered since `mark`: an active
/// controller committing (shown by its idle writes), and every broker registered,
/// unfenced and caught up with the committed log. Empty when it has recovered.
pub(super) fn quorum_problems(state: &ClusterState, brokers: u32, mark: QuorumMark) -> Vec<QuorumProblem> {
    let metadata = state.metadata();
    let mut problems = Vec::new();
    let bar = if mark.idle_writes {
        if metadata.committed_end <= mark.committed_end {
            problems.push(QuorumProblem::NoActiveController);
        }
        mark.committed_end + 1
    } else {
        mark.committed_end
    };
    for broker in 1..=brokers {
        if metadata.brokers.get(&broker).is_none_or(|r| r.fenced) {
            problems.push(QuorumProblem::BrokerFenced { broker });
        }
        let applied = metadata.applied_end.get(broker_name(broker).as_str()).copied().unwrap_or(0);
        if applied < bar {
            problems.push(QuorumProblem::BrokerBehind { broker, applied, committed: metadata.committed_end });
        }
    }
    problems
}

/// Each consumer group of the scenario with the topics its members subscribe to (or its
/// assign-mode consumers commit for).
pub(super) fn group_topics(scenario: &Scenario) -> BTreeMap<String, Vec<String>> {
    // Each consumer's last subscription: its spec's topic, or a `subscribe` event's list,
    // or the topics its pattern matches among those that exist at the end.
    let mut existing: BTreeSet<&str> = scenario.topics.iter().map(|t| t.name.as_str()).collect();
    let mut changed: BTreeMap<&str, &Subscription> = BTreeMap::new();
    for event in &scenario.events {
        match &event.action {
            TopicEvent::Subscribe { consumer, subscription } => {
                changed.insert(consumer, subscription);
            }
            TopicEvent::CreateTopic { topic, .. } => {
                existing.insert(topic);
            }
            TopicEvent::DeleteTopic { topic } => {
                existing.remove(topic.as_str());
            }
            TopicEvent::AddPartitions { .. } | TopicEvent::Rewind { .. } => {}
        }
    }
    let mut groups: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, c) in scenario.consumer_instances() {
        let Some(group) = &c.group else { continue };
        let subscription = match changed.get(name.as_str()) {
            Some(Subscription::Topics(topics)) => topics.clone(),
            Some(Subscription::Pattern(pattern) | Subscription::BrokerPattern(pattern)) => {
                pattern.matching(existing.iter().copied())
            }
            None => vec![c.topic.clone()],
        };
        let topics = groups.entry(group.clone()).or_default();
        for topic in subscription {
            if !topics.contains(&topic) {
                topics.push(topic);
            }
        }
    }
    groups
}

/// Where a `[[pipelines]]` entry reads and where it writes what it read: its output
/// topic and, with a dead-letter queue, that topic.
pub(super) struct PipelineRoute {
    input: String,
    outputs: Vec<String>,
}

/// Every pipeline entry's route.
pub(super) fn pipeline_routes(scenario: &Scenario) -> Vec<PipelineRoute> {
    let route = |p: &PipelineSpec| PipelineRoute {
        input: p.input.clone(),
        outputs: std::iter::once(p.output.clone()).chain(p.dead_letter.as_ref().map(|d| d.topic.clone())).collect(),
    };
    scenario.pipelines.iter().map(route).collect()
}

/// How many records acknowledged on a pipeline's input topic no acknowledged send has
/// carried to its output (or dead-letter) topic yet: a pipeline forwards each record's
/// value unchanged. The liveness phase waits for this to reach zero before its final
/// drain reads the outputs, as it waits for the delay queues' forwarders, so that what
/// a pipeline forwards while it works off its backlog is drained rather than `unseen`.
/// Records whose forward is in a transaction of unknown outcome stay counted: the wait
/// then ends when the count stops falling, and the checkers judge what the drain reads.
pub(super) fn unforwarded_by_pipelines(ops: &[Op], routes: &[PipelineRoute]) -> u64 {
    // Every acknowledged (topic, value).
    let mut acknowledged: BTreeSet<(&str, u64)> = BTreeSet::new();
    for op in ops.iter().filter(|o| o.f.writes() && o.kind == OpType::Ok) {
        let OpValue::Txn(mops) = &op.value else { continue };
        for mop in mops {
            if let MicroOp::Send { key, value, offset: Some(_) } = mop {
                let (topic, _) = crate::history::incarnations::split_incarnation(TopicPartition::topic_of(key));
                acknowledged.insert((topic, *value));
            }
        }
    }
    let mut left = 0;
    for route in routes {
        let forwarded = |value: u64| route.outputs.iter().any(|t| acknowledged.contains(&(t.as_str(), value)));
        let inputs = acknowledged.range((route.input.as_str(), 0)..=(route.input.as_str(), u64::MAX));
        left += inputs.filter(|(_, value)| !forwarded(*value)).count() as u64;
    }
    left
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
        // A topic created again under a subscribed name is subscribed too.
        let subscribed = |tp: &TopicPartition| {
            let (name, _) = crate::history::incarnations::split_incarnation(&tp.topic);
            topics.iter().any(|t| t == name)
        };
        for (tp, end) in end_offsets.iter().filter(|(tp, _)| subscribed(tp)) {
            let at = committed.get(&(group.clone(), tp.to_string())).copied().unwrap_or(0);
            if at < *end {
                behind.push(GroupLag { group: group.clone(), tp: tp.to_string(), committed: at, end: *end });
            }
        }
    }
    behind
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pipelines_input_record_counts_until_an_acknowledged_send_carries_its_value_on() {
        use crate::check::testkit::Hist;
        let routes = vec![PipelineRoute { input: "orders".into(), outputs: vec!["copy".into(), "dlq".into()] }];
        let history = Hist::new()
            .send_ok(0, "orders-0", 0, 10)
            .send_ok(0, "orders-1", 0, 11)
            .send_ok(0, "orders-0", 1, 12)
            // Forwarded: to the output, and (a poison record) to the dead-letter topic.
            .send_ok(1, "copy-0", 0, 10)
            .send_ok(1, "dlq-0", 0, 11)
            .build();
        assert_eq!(unforwarded_by_pipelines(&history.ops, &routes), 1, "value 12 is not forwarded yet");
        // An output write whose outcome is unknown does not count as forwarded.
        let unknown = Hist::new().send_ok(0, "orders-0", 0, 10).send_info(1, "copy-0", 10).build();
        assert_eq!(unforwarded_by_pipelines(&unknown.ops, &routes), 1);
    }
    use crate::history::{ElectionReason, Event, GroupContext, TraceEvent};
    use crate::protocol::{BrokerId, RetentionConfig};

    fn topic() -> Vec<TopicAssignment> {
        vec![TopicAssignment {
            name: "orders".into(),
            replicas: vec![vec![BrokerId(1), BrokerId(2)]],
            min_insync_replicas: 1,
            unclean_leader_election_enable: false,
            retention: RetentionConfig::default(),
        }]
    }

    fn at(event: Event) -> TraceEvent {
        TraceEvent { time_ns: 0, node: "broker-1".into(), event }
    }

    fn on(node: &str, event: Event) -> TraceEvent {
        TraceEvent { time_ns: 0, node: node.into(), event }
    }

    fn registration(broker: u32, fenced: bool) -> Event {
        Event::BrokerRegistration { broker, broker_epoch: 7, fenced, in_controlled_shutdown: false }
    }

    fn committed(base_offset: u64, count: u64) -> Event {
        Event::QuorumCommitted { controller: 3001, epoch: 2, base_offset, entries: vec![(2, 0); count as usize] }
    }

    #[test]
    fn a_kraft_cluster_recovers_once_the_quorum_commits_and_every_broker_is_unfenced_and_current() {
        let mut state = ClusterState::default();
        state.apply(&on("controller-1", committed(0, 10)));
        state.apply(&on("controller-1", registration(1, false)));
        state.apply(&on("controller-1", registration(2, true)));
        state.apply(&on("broker-1", Event::MetadataApplied { base_offset: 0, count: 10 }));
        let mark = QuorumMark { committed_end: 10, idle_writes: true };
        assert_eq!(
            quorum_problems(&state, 2, mark),
            [
                QuorumProblem::NoActiveController,
                QuorumProblem::BrokerBehind { broker: 1, applied: 10, committed: 10 },
                QuorumProblem::BrokerFenced { broker: 2 },
                QuorumProblem::BrokerBehind { broker: 2, applied: 0, committed: 10 },
            ]
        );
        // Without idle writes the mark itself is the bar, and nothing need be committed.
        let quiet = QuorumMark { idle_writes: false, ..mark };
        assert_eq!(
            quorum_problems(&state, 2, quiet),
            [
                QuorumProblem::BrokerFenced { broker: 2 },
                QuorumProblem::BrokerBehind { broker: 2, applied: 0, committed: 10 }
            ]
        );
        // The quorum commits again, broker 2 is unfenced, and both apply everything.
        state.apply(&on("controller-2", committed(10, 2)));
        state.apply(&on("controller-2", registration(2, false)));
        for broker in ["broker-1", "broker-2"] {
            state.apply(&on(broker, Event::MetadataApplied { base_offset: 0, count: 12 }));
        }
        assert_eq!(quorum_problems(&state, 2, mark), []);
        // A broker that restarts replays the log from the start: behind again.
        state.apply(&on("broker-2", Event::MetadataApplied { base_offset: 0, count: 3 }));
        assert_eq!(
            quorum_problems(&state, 2, mark),
            [QuorumProblem::BrokerBehind { broker: 2, applied: 3, committed: 12 }]
        );
    }

    #[test]
    fn a_partition_recovers_once_led_fully_replicated_and_committed() {
        let topics = topic();
        let mut state = ClusterState::default();
        let problems = |state: &ClusterState| partition_problems(state, &topics);
        assert_eq!(problems(&state), [PartitionProblem::NeverCreated { tp: "orders-0".into() }]);
        assert!(!all_led(&state, &partition_names(&topics)));

        state.apply(&at(Event::LeaderElection {
            tp: "orders-0".into(),
            leader: Some(1),
            leader_epoch: 0,
            partition_epoch: 0,
            isr: vec![1],
            unclean: false,
            reason: ElectionReason::BrokerFailure,
        }));
        // Elected, but broker-1 has not taken up the leadership yet.
        assert_eq!(problems(&state), [PartitionProblem::NoLeader { tp: "orders-0".into() }]);

        let tp: std::sync::Arc<str> = "orders-0".into();
        state.apply(&at(Event::BecomeLeader {
            tp: tp.clone(),
            broker: 1,
            leader_epoch: 0,
            log_end_offset: 5,
            isr: vec![1],
        }));
        assert!(all_led(&state, &partition_names(&topics)));
        assert_eq!(
            problems(&state),
            [
                PartitionProblem::IsrLacks { tp: "orders-0".into(), brokers: vec![2] },
                PartitionProblem::UncommittedTail { tp: "orders-0".into() },
            ]
        );

        state.apply(&at(Event::IsrChange {
            tp: tp.clone(),
            leader: Some(1),
            leader_epoch: 0,
            partition_epoch: 1,
            isr: vec![1, 2],
        }));
        state.apply(&at(Event::HighWatermark { tp, broker: 1, is_leader: true, leader_epoch: 0, old: 0, new: 5 }));
        assert_eq!(problems(&state), []);
    }

    #[test]
    fn a_group_is_behind_until_its_last_accepted_commit_reaches_the_end() {
        madsim::runtime::Runtime::new().block_on(async {
            let recorder = Recorder::new();
            let member = GroupContext {
                group: "g".into(),
                member: "m".into(),
                generation: 1,
                instance: None,
                protocol: Default::default(),
            };
            let commit = |offset: u64, kind: OpType| {
                let offsets = [("orders-0".to_string(), offset)].into_iter().collect();
                recorder.group_op(0, kind, OpFn::Commit, OpValue::Offsets(offsets), None, member.clone());
            };
            let groups = [("g".to_string(), vec!["orders".to_string()])].into_iter().collect();
            let ends = [(TopicPartition::new("orders", 0), 10)].into_iter().collect();
            assert_eq!(
                groups_behind(&recorder, &groups, &ends),
                [GroupLag { group: "g".into(), tp: "orders-0".into(), committed: 0, end: 10 }]
            );
            commit(10, OpType::Fail);
            commit(7, OpType::Ok);
            assert_eq!(groups_behind(&recorder, &groups, &ends)[0].committed, 7, "a refused commit counts for nothing");
            commit(10, OpType::Ok);
            assert!(groups_behind(&recorder, &groups, &ends).is_empty());
        });
    }

    #[test]
    fn a_wait_goes_on_while_what_remains_falls_and_gives_up_a_limit_after_it_stops() {
        madsim::runtime::Runtime::new().block_on(async {
            let limit = Duration::from_secs(1);
            let started = clock::now();
            // Falls by one every 100 ms probe for 3 s, then stays: the wait outlasts its
            // 1 s limit while it falls and gives up 1 s after the last fall.
            let elapsed_ms = || started.elapsed().as_millis() as u64;
            let remaining = || 1_000 - elapsed_ms().min(3_000) / 100;
            assert!(!wait_while_progressing(limit, 10, || false, remaining).await);
            let waited = elapsed_ms();
            assert!((4_000..=4_200).contains(&waited), "gave up after {waited} ms");
            // Still falling, but the bound (three limits here) ends it.
            let started = clock::now();
            let mut left = u64::MAX;
            let falling = move || {
                left -= 1;
                left
            };
            assert!(!wait_while_progressing(limit, 3, || false, falling).await);
            assert!((3_000..=3_200).contains(&(started.elapsed().as_millis() as u64)));
            // A condition that holds ends the wait at once.
            assert!(wait_while_progressing(limit, 10, || true, || 5).await);
        });
    }
}

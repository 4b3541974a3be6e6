//! What `kafka-topics.sh --describe` and `kafka-consumer-groups.sh --describe` would have
//! printed at one moment of a run, read from its trace and history: each topic's
//! partitions with their leader, replicas, ISR and high watermark, the topic events
//! answered so far, and each consumer group's owners, committed offsets and lag.
//! `kafkasim describe` prints it at any time; reports show it at the end of the run.

use crate::admin::TopicEventKind;
use crate::check::describe::secs;
use crate::check::groups::rebalances;
use crate::history::{ClusterState, Event, History, OpFn, OpType, OpValue};
use crate::protocol::{GroupProtocol, TopicAssignment, TopicPartition};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The cluster's topics and groups at one moment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Description {
    /// The moment, in simulated nanoseconds since the run started.
    pub at_ns: u64,
    /// Topics by name, internal ones left out.
    pub topics: BTreeMap<String, Vec<PartitionDescription>>,
    /// The topic events answered by then: `(time, what, error)`.
    pub topic_events: Vec<(u64, String, Option<String>)>,
    /// Consumer groups by id.
    pub groups: BTreeMap<String, GroupDescription>,
}

/// One partition, as `kafka-topics.sh --describe` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionDescription {
    /// The partition number.
    pub partition: u32,
    /// The leader, if any.
    pub leader: Option<u32>,
    /// The leader epoch.
    pub leader_epoch: u32,
    /// The replicas, preferred leader first.
    pub replicas: Vec<u32>,
    /// The in-sync replicas.
    pub isr: Vec<u32>,
    /// The acting leader's high watermark (what consumers can read up to), if a leader
    /// acts.
    pub high_watermark: Option<u64>,
}

/// One consumer group, as `kafka-consumer-groups.sh --describe` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupDescription {
    /// The group protocol.
    pub protocol: GroupProtocol,
    /// The latest generation (classic) or member epoch (consumer protocol) that assigned
    /// partitions, if any did.
    pub generation: Option<u32>,
    /// Per partition of its assignment or commits: `(committed offset, log end, owner)`.
    pub partitions: BTreeMap<TopicPartition, GroupPartition>,
}

/// One partition of a group.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GroupPartition {
    /// The group's committed offset (CURRENT-OFFSET), if it committed one.
    pub committed: Option<u64>,
    /// The partition's high watermark (LOG-END-OFFSET, as ListOffsets answers a
    /// `read_uncommitted` consumer), if a leader acts.
    pub log_end: Option<u64>,
    /// Who owns it in the latest assignment (a member id, or a static member's instance
    /// id), if anyone.
    pub owner: Option<String>,
}

impl GroupPartition {
    /// LAG: how far the committed offset is behind the log end, when both are known.
    pub fn lag(&self) -> Option<u64> {
        Some(self.log_end?.saturating_sub(self.committed?))
    }
}

/// The description at `at_ns` (the end of the run when `None`) of a run of a cluster whose
/// scenario topics had `assignments`.
pub fn describe(history: &History, assignments: &[TopicAssignment], at_ns: Option<u64>) -> Description {
    let at_ns = at_ns.unwrap_or(u64::MAX);
    let state = ClusterState::replay(history.trace.iter().filter(|e| e.time_ns <= at_ns));
    let mut replicas: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    for topic in assignments.iter().filter(|t| !t.is_internal()) {
        for (p, brokers) in topic.replicas.iter().enumerate() {
            replicas.insert(
                TopicPartition::new(topic.name.as_str(), p as u32).to_string(),
                brokers.iter().map(|b| b.0).collect(),
            );
        }
    }
    for (tp, brokers) in state.created_by_admin() {
        replicas.insert(tp.to_string(), brokers.clone());
    }
    // A deleted topic is gone from both tools' answers, and with it its partitions'
    // committed offsets (the coordinator writes their tombstones).
    let deleted = |topic: &str| state.deleted_topics().contains(topic);
    replicas.retain(|name, _| !deleted(TopicPartition::topic_of(name)));
    let mut topics: BTreeMap<String, Vec<PartitionDescription>> = BTreeMap::new();
    for (name, replicas) in &replicas {
        let Some(tp) = TopicPartition::parse(name) else { continue };
        let view = state.partition(name).filter(|p| p.created);
        let high_watermark =
            state.acting_leader(name).and_then(|leader| state.replica(name, leader)).map(|r| r.high_watermark);
        topics.entry(tp.topic.to_string()).or_default().push(PartitionDescription {
            partition: tp.partition,
            leader: view.and_then(|v| v.leader),
            leader_epoch: view.map_or(0, |v| v.leader_epoch),
            replicas: replicas.clone(),
            isr: view.map_or_else(Vec::new, |v| v.isr.clone()),
            high_watermark,
        });
    }
    for partitions in topics.values_mut() {
        partitions.sort_by_key(|p| p.partition);
    }
    let topic_events = topic_events(history, at_ns);
    let log_end =
        |tp: &TopicPartition| topics.get(&*tp.topic)?.iter().find(|p| p.partition == tp.partition)?.high_watermark;
    let mut groups: BTreeMap<String, GroupDescription> = BTreeMap::new();
    for rebalance in rebalances(history).into_iter().filter(|r| r.time_ns <= at_ns) {
        let group = groups.entry(rebalance.group.clone()).or_insert_with(|| GroupDescription {
            protocol: rebalance.protocol,
            generation: None,
            partitions: BTreeMap::new(),
        });
        group.generation = Some(rebalance.generation);
        for partition in group.partitions.values_mut() {
            partition.owner = None;
        }
        for (owner, keys) in &rebalance.assignment {
            for tp in keys.iter().filter_map(|k| TopicPartition::parse(k)) {
                group.partitions.entry(tp).or_default().owner = Some(owner.clone());
            }
        }
    }
    for op in history.ops.iter().filter(|o| o.time_ns <= at_ns && o.f == OpFn::Commit && o.kind == OpType::Ok) {
        let (Some(ctx), OpValue::Offsets(offsets)) = (&op.group, &op.value) else { continue };
        let group = groups.entry(ctx.group.clone()).or_insert_with(|| GroupDescription {
            protocol: ctx.protocol,
            generation: None,
            partitions: BTreeMap::new(),
        });
        for (key, &offset) in offsets {
            let Some(tp) = TopicPartition::parse(key) else { continue };
            group.partitions.entry(tp).or_default().committed = Some(offset);
        }
    }
    for group in groups.values_mut() {
        group.partitions.retain(|tp, _| !deleted(&tp.topic));
        for (tp, partition) in &mut group.partitions {
            partition.log_end = log_end(tp);
        }
    }
    Description { at_ns, topics, topic_events, groups }
}

/// The topic events answered by `at_ns`: `(time, what, error)`, such as `add-partitions
/// orders (6 partitions)` with no error.
pub fn topic_events(history: &History, at_ns: u64) -> Vec<(u64, String, Option<String>)> {
    history
        .trace
        .iter()
        .filter(|e| e.time_ns <= at_ns)
        .filter_map(|e| match &e.event {
            Event::TopicAdmin { kind, topic, partitions, error } => {
                let what = match kind {
                    TopicEventKind::DeleteTopic => format!("{kind} {topic}"),
                    _ => format!("{kind} {topic} ({partitions} partitions)"),
                };
                Some((e.time_ns, what, error.map(|e| e.to_string())))
            }
            _ => None,
        })
        .collect()
}

/// One topic event as `describe` and `run` print it:
/// `Topic event at 11.939 s: add-partitions orders (6 partitions): done`.
pub fn topic_event_line((time_ns, what, error): &(u64, String, Option<String>)) -> String {
    format!("Topic event at {}: {what}: {}", secs(*time_ns), error.as_deref().unwrap_or("done"))
}

/// The `rate_per_sec` schedule of each `[[producers]]` entry whose rate has steps (a
/// constant rate prints nothing, as before schedules existed), one line per entry:
/// `producer-1 to producer-4 rate_per_sec: 200/s from 0s, 20000/s from 5s, 200/s from
/// 8s`; with `at_ms` (since the safety phase began), followed by the rate in force then.
pub fn rate_schedule_lines(scenario: &crate::scenario::Scenario, at_ms: Option<u64>) -> Vec<String> {
    let mut lines = Vec::new();
    let mut first = 1;
    for spec in &scenario.producers {
        let (from, to) = (first, first + spec.count - 1);
        first += spec.count;
        if spec.rate_per_sec.is_constant() {
            continue;
        }
        let who = match from == to {
            true => format!("producer-{from}"),
            false => format!("producer-{from} to producer-{to}"),
        };
        let mut line = format!("{who} rate_per_sec: {}", spec.rate_per_sec);
        if let Some(ms) = at_ms {
            let now = spec.rate_per_sec.at(std::time::Duration::from_millis(ms)).rate_per_sec;
            let _ = write!(line, " (at {}: {now}/s each)", crate::scenario::format_duration_ms(ms));
        }
        lines.push(line);
    }
    lines
}

/// `-` for what is not known.
fn or_dash<T: ToString>(value: Option<T>) -> String {
    value.map_or_else(|| "-".to_string(), |v| v.to_string())
}

/// Broker ids as Kafka's tools list them: `2,3,1`.
fn ids(brokers: &[u32]) -> String {
    let ids: Vec<String> = brokers.iter().map(u32::to_string).collect();
    if ids.is_empty() {
        "-".to_string()
    } else {
        ids.join(",")
    }
}

/// The description as the two tools' text, one block per topic and per group.
pub fn render_text(description: &Description) -> String {
    let mut out = String::new();
    for (topic, partitions) in &description.topics {
        let factor = partitions.first().map_or(0, |p| p.replicas.len());
        let _ = writeln!(out, "Topic: {topic}\tPartitionCount: {}\tReplicationFactor: {factor}", partitions.len());
        for p in partitions {
            let _ = writeln!(
                out,
                "\tPartition: {}\tLeader: {}\tLeaderEpoch: {}\tReplicas: {}\tIsr: {}\tHighWatermark: {}",
                p.partition,
                p.leader.map_or_else(|| "none".to_string(), |l| l.to_string()),
                p.leader_epoch,
                ids(&p.replicas),
                ids(&p.isr),
                or_dash(p.high_watermark),
            );
        }
    }
    for event in &description.topic_events {
        let _ = writeln!(out, "{}", topic_event_line(event));
    }
    for (group, g) in &description.groups {
        let epoch = match (g.protocol, g.generation) {
            (_, None) => "no assignment".to_string(),
            (GroupProtocol::Consumer, Some(n)) => format!("member epoch {n}"),
            (GroupProtocol::Classic, Some(n)) => format!("generation {n}"),
        };
        let _ = writeln!(out, "Group: {group}\t({}, {epoch})", g.protocol.name());
        let _ = writeln!(out, "\tPARTITION\tCURRENT-OFFSET\tLOG-END-OFFSET\tLAG\tOWNER");
        for (tp, p) in &g.partitions {
            let _ = writeln!(
                out,
                "\t{tp}\t{}\t{}\t{}\t{}",
                or_dash(p.committed),
                or_dash(p.log_end),
                or_dash(p.lag()),
                p.owner.as_deref().unwrap_or("-")
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testkit::Hist;
    use crate::history::ElectionReason;
    use crate::protocol::{BrokerId, RetentionConfig};

    fn orders(partitions: u32) -> Vec<TopicAssignment> {
        vec![TopicAssignment {
            name: "orders".into(),
            replicas: (0..partitions).map(|p| vec![BrokerId(p % 2 + 1), BrokerId((p + 1) % 2 + 1)]).collect(),
            min_insync_replicas: 1,
            unclean_leader_election_enable: false,
            retention: RetentionConfig::default(),
        }]
    }

    fn elected(tp: &str, leader: u32) -> Event {
        Event::LeaderElection {
            tp: tp.into(),
            leader: Some(leader),
            leader_epoch: 0,
            partition_epoch: 0,
            isr: vec![1, 2],
            unclean: false,
            reason: ElectionReason::TopicCreation,
        }
    }

    fn leads(tp: &str, broker: u32, high_watermark: u64) -> [Event; 2] {
        [
            Event::BecomeLeader { tp: tp.into(), broker, leader_epoch: 0, log_end_offset: 0, isr: vec![1, 2] },
            Event::HighWatermark {
                tp: tp.into(),
                broker,
                is_leader: true,
                leader_epoch: 0,
                old: 0,
                new: high_watermark,
            },
        ]
    }

    #[test]
    fn partitions_groups_and_topic_events_as_the_describe_tools_list_them() {
        let [become0, hw0] = leads("orders-0", 1, 10);
        let [become1, hw1] = leads("orders-1", 2, 4);
        let history = Hist::new()
            .event("controller-1", elected("orders-0", 1))
            .event("controller-1", elected("orders-1", 2))
            .event("broker-1", become0)
            .event("broker-1", hw0)
            .event("broker-2", become1)
            .event("broker-2", hw1)
            .member(1, "billing", "c-1", 1)
            .assign(1, &["orders-0", "orders-1"])
            .commit_ok(1, &[("orders-0", 7)])
            .event(
                "admin",
                Event::TopicAdmin {
                    kind: crate::admin::TopicEventKind::AddPartitions,
                    topic: "orders".into(),
                    partitions: 2,
                    error: Some(crate::protocol::ErrorCode::InvalidPartitions),
                },
            )
            .build();
        let description = describe(&history, &orders(2), None);
        let partitions = &description.topics["orders"];
        assert_eq!(partitions.len(), 2);
        assert_eq!(
            (partitions[0].leader, partitions[0].replicas.clone(), partitions[0].high_watermark),
            (Some(1), vec![1, 2], Some(10))
        );
        let billing = &description.groups["billing"];
        assert_eq!(billing.generation, Some(1));
        let p0 = &billing.partitions[&TopicPartition::new("orders", 0)];
        assert_eq!(
            (p0.committed, p0.log_end, p0.lag(), p0.owner.as_deref()),
            (Some(7), Some(10), Some(3), Some("c-1"))
        );
        let p1 = &billing.partitions[&TopicPartition::new("orders", 1)];
        assert_eq!((p1.committed, p1.lag()), (None, None), "no commit, no lag");
        let text = render_text(&description);
        assert!(text.contains("Topic: orders\tPartitionCount: 2\tReplicationFactor: 2\n"), "{text}");
        assert!(
            text.contains("\tPartition: 0\tLeader: 1\tLeaderEpoch: 0\tReplicas: 1,2\tIsr: 1,2\tHighWatermark: 10\n")
        );
        assert!(text.contains(": add-partitions orders (2 partitions): INVALID_PARTITIONS\n"), "{text}");
        assert!(text.contains("Group: billing\t(classic, generation 1)\n"), "{text}");
        assert!(text.contains("\torders-0\t7\t10\t3\tc-1\n"), "{text}");
        assert!(text.contains("\torders-1\t-\t4\t-\tc-1\n"), "{text}");
        // Before anything happened: the scenario's partitions, no leader, no group.
        let early = describe(&history, &orders(2), Some(0));
        assert_eq!(early.topics["orders"][0].leader, None);
        assert!(early.groups.is_empty() && early.topic_events.is_empty());
    }
}

//! The cluster as the trace tells it: the one fold of trace events into the state of the
//! controller, of each partition (leader, leader epoch, ISR) and of each replica (log
//! end, high watermark, whether it leads). The runner's observer applies it
//! incrementally while a run goes (to resolve fault targets and to see recovery), and
//! the log checkers, the report and `explain` replay it over a finished trace.
//!
//! Events arrive in the order they were traced, which is not always the order in which
//! what they report happened: a controller paused while its write to the metastore was
//! in flight traces that write when it resumes, after a newer controller has elected
//! newer leaders or changed the ISR. So partition state is ordered by leader epoch, then
//! by partition epoch (the stored state's version, which orders the ISR changes of one
//! leadership), and the controller by controller epoch: an event older than what is known
//! is [`Applied::Stale`] and changes nothing. A replica's own events come from its broker
//! in the order it made them.
//!
//! One definition of a replica's log end: the offset after its last record, as the
//! latest event that tells it says (an append, a truncation, a log loaded from disk, a
//! leadership change, or a log start moved past the end).

use super::name_numbers::NameNumbers;
use super::trace::{Event, TraceEvent};
use crate::fault::FaultKind;
use crate::protocol::TopicPartition;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// The controller as the trace tells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ControllerView {
    /// The broker acting as controller.
    pub broker: u32,
    /// Its controller epoch.
    pub epoch: u64,
}

/// The KRaft quorum's leader as the trace tells it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuorumLeaderView {
    /// The leading controller's node id.
    pub controller: u32,
    /// Its Raft epoch.
    pub epoch: u32,
}

/// KRaft: a broker's registration as the committed metadata holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BrokerRegistrationView {
    /// Its broker epoch.
    pub broker_epoch: u64,
    /// Whether it is fenced.
    pub fenced: bool,
}

/// KRaft: the metadata log as the trace tells it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MetadataView {
    /// The end of what any controller has shown committed (`QuorumCommitted`).
    pub committed_end: u64,
    /// How far each node (by name) has applied the committed log, since its process
    /// last started (a restart replays from offset 0).
    pub applied_end: BTreeMap<Arc<str>, u64>,
    /// Each broker's registration, by broker id.
    pub brokers: BTreeMap<u32, BrokerRegistrationView>,
}

/// A partition's leadership as the controller last stored it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PartitionView {
    /// The partition's name, `topic-N`.
    pub name: Arc<str>,
    /// Whether the controller has stored any state for it yet (an election or an ISR
    /// change); until then leader, epoch and ISR mean nothing.
    pub created: bool,
    /// The leader, if any.
    pub leader: Option<u32>,
    /// The leader epoch.
    pub leader_epoch: u32,
    /// The version of the stored state (Kafka's partition epoch).
    pub partition_epoch: u64,
    /// The in-sync replicas.
    pub isr: Vec<u32>,
}

/// One replica (a partition on a broker) as the trace tells it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReplicaView {
    /// The offset after its last record.
    pub log_end_offset: u64,
    /// Its high watermark: records below it are, as far as it knows, committed.
    pub high_watermark: u64,
    /// Whether it acts as the partition's leader, per its latest high-watermark or
    /// leadership event (false after a restart).
    pub is_leader: bool,
    /// The leader epoch of the leadership it took up since its broker last started, if
    /// it leads.
    pub leading_epoch: Option<u32>,
}

/// What one event did to the state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    /// Nothing this state tracks (a fault, a phase, an acknowledgement, ...).
    Nothing,
    /// An event older than the state it would have changed: ignored.
    Stale,
    /// The controller changed.
    Controller,
    /// The partition with this number changed its leadership or ISR.
    Partition(usize),
    /// The replica of partition number `partition` on `broker` changed.
    Replica {
        /// The partition's number.
        partition: usize,
        /// The broker.
        broker: u32,
        /// Its high watermark before the event.
        hw_before: u64,
    },
    /// A broker started: it holds no replica state until it loads its logs.
    BrokerStarted(u32),
}

/// The cluster as the trace tells it. Partitions are numbered densely in the order the
/// trace first names them, so that per-partition state elsewhere can live in a `Vec`.
#[derive(Clone, Debug, Default)]
pub struct ClusterState {
    controller: Option<ControllerView>,
    quorum_leader: Option<QuorumLeaderView>,
    metadata: MetadataView,
    numbers: NameNumbers,
    partitions: Vec<PartitionView>,
    replicas: BTreeMap<(usize, u32), ReplicaView>,
    /// The replicas of each partition an administrator created, by name.
    created_by_admin: BTreeMap<Arc<str>, Vec<u32>>,
    /// The topics an administrator deleted.
    deleted_topics: BTreeSet<Arc<str>>,
}

impl ClusterState {
    /// The state after every event of `trace` (borrowed, or as a [`super::Trace`] yields
    /// them).
    pub fn replay<E: std::borrow::Borrow<TraceEvent>>(trace: impl IntoIterator<Item = E>) -> Self {
        let mut state = ClusterState::default();
        for event in trace {
            state.apply(event.borrow());
        }
        state
    }

    /// The controller, if one was elected.
    pub fn controller(&self) -> Option<ControllerView> {
        self.controller
    }

    /// The KRaft quorum leader of the highest epoch traced, if any. It may have lost
    /// office since without the trace saying so (a crashed leader traces nothing).
    pub fn quorum_leader(&self) -> Option<QuorumLeaderView> {
        self.quorum_leader
    }

    /// KRaft: the committed metadata log, who applied how much of it, and the brokers'
    /// registrations (empty in ZooKeeper mode).
    pub fn metadata(&self) -> &MetadataView {
        &self.metadata
    }

    /// The partitions an administrator created while the run went on (`[[events]]`), by
    /// name, with their replicas.
    pub fn created_by_admin(&self) -> &BTreeMap<Arc<str>, Vec<u32>> {
        &self.created_by_admin
    }

    /// The topics an administrator deleted while the run went on (`[[events]]`).
    pub fn deleted_topics(&self) -> &BTreeSet<Arc<str>> {
        &self.deleted_topics
    }

    /// A partition by name, if the trace named it.
    pub fn partition(&self, tp: &str) -> Option<&PartitionView> {
        self.numbers.get(tp).map(|n| &self.partitions[n as usize])
    }

    /// A partition by number.
    pub fn partition_by_number(&self, number: usize) -> &PartitionView {
        &self.partitions[number]
    }

    /// A partition's number, if the trace named it.
    pub fn number(&self, tp: &str) -> Option<usize> {
        self.numbers.get(tp).map(|n| n as usize)
    }

    /// Every partition the trace named, in order of first appearance.
    pub fn partitions(&self) -> impl Iterator<Item = &PartitionView> {
        self.partitions.iter()
    }

    /// A replica, if its broker has told anything of it since it last started.
    pub fn replica(&self, tp: &str, broker: u32) -> Option<&ReplicaView> {
        self.replicas.get(&(self.number(tp)?, broker))
    }

    /// A replica by partition number.
    pub fn replica_by_number(&self, partition: usize, broker: u32) -> Option<&ReplicaView> {
        self.replicas.get(&(partition, broker))
    }

    /// The partition's leader, if the controller elected one and that broker took up
    /// the leadership in its current process: after a restart a broker leads nothing
    /// until told again, however the last election read.
    pub fn acting_leader(&self, tp: &str) -> Option<u32> {
        let partition = self.partition(tp)?;
        let leader = partition.leader?;
        let replica = self.replica(tp, leader)?;
        (replica.leading_epoch == Some(partition.leader_epoch)).then_some(leader)
    }

    /// Whether the partition's acting leader has committed everything in its log: its
    /// high watermark has reached its log end. A new leader's high watermark can lag
    /// behind records the previous leader acknowledged until its followers fetch again.
    pub fn leader_committed_all(&self, tp: &str) -> bool {
        let Some(leader) = self.acting_leader(tp) else {
            return false;
        };
        self.replica(tp, leader).is_some_and(|r| r.high_watermark >= r.log_end_offset)
    }

    /// The number of a partition, assigned on first sight.
    fn number_of(&mut self, tp: &Arc<str>) -> usize {
        let (n, new) = self.numbers.number_of(tp);
        if new {
            self.partitions.push(PartitionView { name: tp.clone(), ..PartitionView::default() });
        }
        n as usize
    }

    /// Applies one event and says what it changed.
    pub fn apply(&mut self, event: &TraceEvent) -> Applied {
        match &event.event {
            Event::ControllerElected { broker, controller_epoch } => {
                if self.controller.is_some_and(|c| c.epoch > *controller_epoch) {
                    return Applied::Stale;
                }
                self.controller = Some(ControllerView { broker: *broker, epoch: *controller_epoch });
                Applied::Controller
            }
            Event::QuorumLeader { controller, epoch, .. } => {
                if self.quorum_leader.is_some_and(|l| l.epoch > *epoch) {
                    return Applied::Stale;
                }
                self.quorum_leader = Some(QuorumLeaderView { controller: *controller, epoch: *epoch });
                Applied::Controller
            }
            Event::LeaderElection { tp, leader, leader_epoch, partition_epoch, isr, .. }
            | Event::IsrChange { tp, leader, leader_epoch, partition_epoch, isr } => {
                let n = self.number_of(tp);
                let partition = &mut self.partitions[n];
                let known = (partition.leader_epoch, partition.partition_epoch);
                if partition.created && known > (*leader_epoch, *partition_epoch) {
                    return Applied::Stale;
                }
                partition.created = true;
                partition.leader = *leader;
                partition.leader_epoch = *leader_epoch;
                partition.partition_epoch = *partition_epoch;
                partition.isr.clone_from(isr);
                Applied::Partition(n)
            }
            Event::PartitionCreated { tp, replicas } => {
                self.created_by_admin.insert(tp.clone(), replicas.clone());
                Applied::Nothing
            }
            Event::TopicDeleted { topic } => {
                self.created_by_admin.retain(|tp, _| TopicPartition::topic_of(tp) != &**topic);
                self.deleted_topics.insert(topic.clone());
                Applied::Nothing
            }
            Event::PartitionDeleted { tp, broker } | Event::PartitionStray { tp, broker, .. } => {
                if let Some(n) = self.numbers.get(tp) {
                    self.replicas.remove(&(n as usize, *broker));
                }
                Applied::Nothing
            }
            Event::BrokerStarted { broker } => {
                self.replicas.retain(|(_, b), _| b != broker);
                Applied::BrokerStarted(*broker)
            }
            // A crashed or powered-off broker being restarted: until its process traces
            // `broker-started` it holds nothing (a moment later, in simulated time). Without
            // this the liveness phase, probing at the very instant it restarts nodes, took a
            // powered-off leader's last state for a recovered partition and drained it
            // before its records were readable again (swarm seed 21627).
            Event::FaultEnded { kind: FaultKind::Crash | FaultKind::PowerLoss, targets, .. } => {
                let restarted: BTreeSet<u32> =
                    targets.iter().filter_map(|t| t.strip_prefix("broker-")?.parse().ok()).collect();
                self.replicas.retain(|(_, b), _| !restarted.contains(b));
                Applied::Nothing
            }
            Event::LogLoaded { tp, broker, .. }
            | Event::Append { tp, broker, .. }
            | Event::HighWatermark { tp, broker, .. }
            | Event::Truncate { tp, broker, .. }
            | Event::LogStartAdvanced { tp, broker, .. }
            | Event::BecomeLeader { tp, broker, .. }
            | Event::BecomeFollower { tp, broker, .. } => {
                let partition = self.number_of(tp);
                let replica = self.replicas.entry((partition, *broker)).or_default();
                let hw_before = replica.high_watermark;
                apply_to_replica(replica, &event.event);
                Applied::Replica { partition, broker: *broker, hw_before }
            }
            Event::QuorumCommitted { base_offset, entries, .. } => {
                let end = base_offset + entries.len() as u64;
                self.metadata.committed_end = self.metadata.committed_end.max(end);
                Applied::Nothing
            }
            Event::MetadataApplied { base_offset, count } => {
                self.metadata.applied_end.insert(event.node.clone(), base_offset + count);
                Applied::Nothing
            }
            Event::BrokerRegistration { broker, broker_epoch, fenced, .. } => {
                let view = BrokerRegistrationView { broker_epoch: *broker_epoch, fenced: *fenced };
                self.metadata.brokers.insert(*broker, view);
                Applied::Nothing
            }
            _ => Applied::Nothing,
        }
    }
}

/// One replica's own event.
fn apply_to_replica(replica: &mut ReplicaView, event: &Event) {
    match event {
        Event::LogLoaded { records, high_watermark, .. } => {
            let log_end_offset = records.last().map_or(0, |r| r.0.saturating_add(1));
            *replica = ReplicaView { log_end_offset, high_watermark: *high_watermark, ..ReplicaView::default() };
        }
        Event::Append { base_offset, values, .. } => {
            replica.log_end_offset = base_offset.saturating_add(values.len() as u64);
        }
        Event::HighWatermark { is_leader, new, .. } => {
            replica.high_watermark = *new;
            replica.is_leader = *is_leader;
        }
        Event::Truncate { to_offset, .. } => {
            replica.log_end_offset = *to_offset;
            replica.high_watermark = replica.high_watermark.min(*to_offset);
        }
        Event::LogStartAdvanced { log_start_offset, .. } => {
            // A follower that started over at its leader's log start has no log below it.
            replica.log_end_offset = replica.log_end_offset.max(*log_start_offset);
        }
        Event::BecomeLeader { leader_epoch, log_end_offset, .. } => {
            replica.log_end_offset = *log_end_offset;
            replica.is_leader = true;
            replica.leading_epoch = Some(*leader_epoch);
        }
        Event::BecomeFollower { log_end_offset, .. } => {
            replica.log_end_offset = *log_end_offset;
            replica.is_leader = false;
            replica.leading_epoch = None;
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::ElectionReason;

    fn at(time_ns: u64, node: &str, event: Event) -> TraceEvent {
        TraceEvent { time_ns, node: node.into(), event }
    }

    fn election(leader: Option<u32>, leader_epoch: u32, isr: &[u32]) -> Event {
        Event::LeaderElection {
            tp: "orders-2".into(),
            leader,
            leader_epoch,
            // Each election here is the partition's next write.
            partition_epoch: u64::from(leader_epoch),
            isr: isr.to_vec(),
            unclean: false,
            reason: ElectionReason::BrokerFailure,
        }
    }

    fn become_leader(broker: u32, leader_epoch: u32, log_end_offset: u64) -> Event {
        Event::BecomeLeader { tp: "orders-2".into(), broker, leader_epoch, log_end_offset, isr: vec![3, 4] }
    }

    #[test]
    fn a_late_election_from_an_older_leader_epoch_changes_nothing() {
        // swarm.toml seed 2013: a paused controller's write of epoch 2 is traced when it
        // resumes, after the new controller elected broker-3 in epoch 3.
        let trace = [
            at(1, "broker-2", Event::ControllerElected { broker: 2, controller_epoch: 3 }),
            at(2, "broker-2", election(Some(3), 3, &[3, 4])),
            at(3, "broker-3", become_leader(3, 3, 28)),
            at(4, "broker-1", election(None, 2, &[3, 4])),
            at(5, "broker-1", Event::ControllerElected { broker: 1, controller_epoch: 2 }),
        ];
        let mut state = ClusterState::default();
        let applied: Vec<Applied> = trace.iter().map(|e| state.apply(e)).collect();
        assert_eq!(applied[3], Applied::Stale);
        assert_eq!(applied[4], Applied::Stale);
        assert_eq!(state.acting_leader("orders-2"), Some(3));
        assert_eq!(state.partition("orders-2").map(|p| p.leader_epoch), Some(3));
        assert_eq!(state.controller(), Some(ControllerView { broker: 2, epoch: 3 }));
    }

    fn isr_change(partition_epoch: u64, isr: &[u32]) -> Event {
        Event::IsrChange { tp: "orders-2".into(), leader: Some(3), leader_epoch: 3, partition_epoch, isr: isr.to_vec() }
    }

    #[test]
    fn isr_changes_of_one_leadership_apply_in_partition_epoch_order() {
        let state = ClusterState::replay(&[at(1, "c", election(Some(3), 3, &[3, 4])), at(2, "c", isr_change(4, &[3]))]);
        assert_eq!(state.partition("orders-2").map(|p| p.isr.clone()), Some(vec![3]));
        // Issue 14's paused controller (seed 3): its shrink to [3] (version 4) landed
        // before it paused and is traced when it resumes, after the new controller found
        // it and then accepted the leader's expansion back to [3, 4] (version 5).
        let trace = [
            at(1, "broker-1", election(Some(3), 3, &[3, 4])),
            at(2, "broker-3", isr_change(4, &[3])),
            at(3, "broker-3", isr_change(5, &[3, 4])),
            at(4, "broker-2", isr_change(4, &[3])),
        ];
        let mut state = ClusterState::default();
        let applied: Vec<Applied> = trace.iter().map(|e| state.apply(e)).collect();
        assert_eq!(applied[3], Applied::Stale);
        assert_eq!(state.partition("orders-2").map(|p| p.isr.clone()), Some(vec![3, 4]));
    }

    #[test]
    fn a_partition_created_in_leader_epoch_0_has_its_first_replica_as_leader() {
        // As the controller traces a topic's creation (Kafka's LeaderAndIsr.InitialLeaderEpoch).
        let line = r#"{"time_ns":1,"node":"broker-1","event":"leader-election","tp":"orders-2","leader":3,
            "leader_epoch":0,"partition_epoch":0,"isr":[3,1],"unclean":false,"reason":"topic-creation"}"#;
        let created: TraceEvent = serde_json::from_str(line).expect("a topic-creation election parses");
        assert!(matches!(created.event, Event::LeaderElection { reason: ElectionReason::TopicCreation, .. }));
        assert_eq!(serde_json::to_value(&created).unwrap()["reason"], "topic-creation");
        let mut state = ClusterState::default();
        assert_eq!(state.apply(&created), Applied::Partition(0));
        let taken_up = Event::BecomeLeader {
            tp: "orders-2".into(),
            broker: 3,
            leader_epoch: 0,
            log_end_offset: 0,
            isr: vec![3, 1],
        };
        state.apply(&at(2, "broker-3", taken_up));
        assert_eq!(state.acting_leader("orders-2"), Some(3));
        // The first election after a failure is epoch 1, not stale against epoch 0.
        assert_eq!(state.apply(&at(3, "broker-1", election(Some(1), 1, &[1]))), Applied::Partition(0));
        assert_eq!(state.partition("orders-2").map(|p| (p.leader, p.leader_epoch)), Some((Some(1), 1)));
    }

    #[test]
    fn a_restarted_broker_leads_nothing_until_it_takes_up_a_leadership_again() {
        let mut state = ClusterState::replay(&[
            at(1, "c", election(Some(3), 3, &[3, 4])),
            at(2, "broker-3", become_leader(3, 3, 10)),
            at(3, "broker-3", Event::BrokerStarted { broker: 3 }),
        ]);
        assert_eq!(state.acting_leader("orders-2"), None);
        assert!(state.replica("orders-2", 3).is_none(), "nothing is known of its log until it loads it");
        state.apply(&at(4, "broker-3", become_leader(3, 3, 10)));
        assert_eq!(state.acting_leader("orders-2"), Some(3));
    }

    #[test]
    fn a_broker_restarted_after_a_power_loss_holds_nothing_before_it_starts() {
        let ended = |kind, target: &str| Event::FaultEnded {
            kind,
            targets: vec![target.to_string()],
            detail: "process started on the same disk".into(),
        };
        let mut state = ClusterState::replay(&[
            at(1, "c", election(Some(3), 3, &[3, 4])),
            at(2, "broker-3", become_leader(3, 3, 10)),
        ]);
        // A network fault ending changes nothing; a pause ending neither.
        state.apply(&at(3, "nemesis", ended(FaultKind::Partition, "broker-3")));
        state.apply(&at(3, "nemesis", ended(FaultKind::Pause, "broker-3")));
        assert_eq!(state.acting_leader("orders-2"), Some(3));
        // Restarted: it leads nothing, before its process even traces broker-started.
        state.apply(&at(4, "nemesis", ended(FaultKind::PowerLoss, "broker-3")));
        assert_eq!(state.acting_leader("orders-2"), None);
        assert!(state.replica("orders-2", 3).is_none());
    }

    #[test]
    fn the_log_end_follows_every_event_that_tells_it() {
        let tp: Arc<str> = "orders-2".into();
        let loaded =
            Event::LogLoaded { tp: tp.clone(), broker: 3, records: vec![(0, 7, 1), (1, 8, 1)], high_watermark: 1 };
        let append = Event::Append {
            tp: tp.clone(),
            broker: 3,
            as_leader: true,
            leader_epoch: 3,
            base_offset: 2,
            values: smallvec::smallvec![9, 10],
        };
        let hw = Event::HighWatermark { tp: tp.clone(), broker: 3, is_leader: true, leader_epoch: 3, old: 1, new: 4 };
        let truncate = Event::Truncate {
            tp: tp.clone(),
            broker: 3,
            to_offset: 3,
            removed: vec![(3, 10, 3)],
            reason: crate::history::TruncationReason::LeaderEpoch,
        };
        let start = Event::LogStartAdvanced {
            tp: tp.clone(),
            broker: 3,
            is_leader: false,
            log_start_offset: 6,
            removed: vec![],
            reason: crate::history::LogStartReason::LeaderLogStart,
        };
        let mut state = ClusterState::default();
        let mut ends = Vec::new();
        for event in [loaded, append, hw, truncate, start] {
            let applied = state.apply(&at(0, "broker-3", event));
            assert!(matches!(applied, Applied::Replica { broker: 3, .. }));
            let r = state.replica("orders-2", 3).unwrap();
            ends.push((r.log_end_offset, r.high_watermark));
        }
        assert_eq!(ends, [(2, 1), (4, 1), (4, 4), (3, 3), (6, 3)]);
    }
}

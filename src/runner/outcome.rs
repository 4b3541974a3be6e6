//! What a run produced and how it is judged against the scenario's expectations.

use crate::check::{Anomaly, AnomalyKind};
use crate::coverage::{Coverage, ReachedState, ReachedStates};
use crate::fault::FaultKind;
use crate::history::state::Applied;
use crate::history::{ClusterState, Event, History, MicroOp, OpType};
use crate::plant::PlantedBug;
use crate::protocol::{NodeName, TopicPartition};
use crate::scenario::Scenario;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// Counts over one run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RunStats {
    /// Sends invoked.
    pub sent: u64,
    /// Sends acknowledged.
    pub acked: u64,
    /// Sends that definitely failed.
    pub failed: u64,
    /// Sends with an unknown outcome.
    pub unknown: u64,
    /// Distinct values seen by any poll.
    pub consumed: u64,
    /// Faults fired by the nemesis.
    pub faults: u64,
    /// Network messages delivered.
    pub messages: u64,
    /// Simulated time of the run, in milliseconds.
    pub simulated_ms: u64,
    /// Wall-clock time of the simulation, in milliseconds.
    pub wall_ms: u64,
    /// Wall-clock time of checking, hashing and summarising the history afterwards, in
    /// milliseconds.
    pub check_wall_ms: u64,
    /// Acknowledged sends per client process.
    pub acked_by_process: BTreeMap<u64, u64>,
}

impl RunStats {
    /// Counts sends and polls in a history.
    pub fn from_history(history: &History, faults: u64, messages: u64, wall_ms: u64) -> Self {
        let mut stats = RunStats { faults, messages, wall_ms, ..RunStats::default() };
        // Every value read, with repeats, sorted and deduplicated below: a BTreeSet took
        // 2.5% of the benchmark's time.
        let mut consumed = Vec::new();
        for op in &history.ops {
            for mop in op.micro_ops() {
                // A transaction's sends count as sends, committed ones as acknowledged.
                let send = matches!(mop, MicroOp::Send { .. }) && op.f.writes();
                match (send, op.kind, mop) {
                    (true, OpType::Invoke, _) => stats.sent += 1,
                    (true, OpType::Ok, _) => {
                        stats.acked += 1;
                        *stats.acked_by_process.entry(op.process).or_default() += 1;
                    }
                    (true, OpType::Fail, _) => stats.failed += 1,
                    (true, OpType::Info, _) => stats.unknown += 1,
                    (_, OpType::Ok, MicroOp::Poll { records: Some(records) }) => {
                        consumed.extend(records.values().flatten().map(|(_, v)| *v));
                    }
                    _ => {}
                }
            }
        }
        consumed.sort_unstable();
        consumed.dedup();
        stats.consumed = consumed.len() as u64;
        stats.simulated_ms = history
            .ops
            .last()
            .map(|o| o.time_ns)
            .into_iter()
            .chain(history.trace.last().map(|e| e.time_ns))
            .max()
            .unwrap_or(0)
            / 1_000_000;
        stats
    }
}

/// A span during which a partition had no leader that could serve it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Unavailability {
    /// The partition.
    pub tp: String,
    /// When it lost its leader, in simulated milliseconds.
    pub from_ms: u64,
    /// When it got one again (`None`: never, within the run).
    pub until_ms: Option<u64>,
}

/// Partitions sharing one span of unavailability: one partition, or more than
/// [`LONGEST_UNGROUPED`] that lost and regained a leader at the same moments (the
/// partitions a crashed broker led), shown as one line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnavailableGroup<'a> {
    /// The partitions, in the order of their spans.
    pub partitions: Vec<&'a str>,
    /// When they lost their leader, in simulated milliseconds.
    pub from_ms: u64,
    /// When they got one again (`None`: never, within the run).
    pub until_ms: Option<u64>,
}

/// How many partitions sharing a span are still shown one line each.
const LONGEST_UNGROUPED: usize = 8;

/// How many partitions a group's line names before it says how many more there are.
const NAMED_IN_A_GROUP: usize = 3;

impl UnavailableGroup<'_> {
    /// The partitions as a line names them: `orders-2`, or `167 partitions (orders-2,
    /// orders-14, orders-26 and 164 more)`.
    pub fn partitions_phrase(&self, lang: crate::scenario::Lang) -> String {
        if self.partitions.len() == 1 {
            return self.partitions[0].to_string();
        }
        let named = &self.partitions[..self.partitions.len().min(NAMED_IN_A_GROUP)];
        let more = self.partitions.len() - named.len();
        lang.pick(
            format!("{} partitions ({} and {more} more)", self.partitions.len(), named.join(", ")),
            format!("{} 个分区（{} 及另外 {more} 个）", self.partitions.len(), named.join("、")),
        )
    }
}

/// The spans as they are shown: one line per partition, except that more than
/// [`LONGEST_UNGROUPED`] partitions with the very same span are one line, where the
/// first of them was.
pub fn grouped_unavailability(spans: &[Unavailability]) -> Vec<UnavailableGroup<'_>> {
    let mut sharing: BTreeMap<(u64, Option<u64>), Vec<&str>> = BTreeMap::new();
    for span in spans {
        sharing.entry((span.from_ms, span.until_ms)).or_default().push(&span.tp);
    }
    let mut groups = Vec::new();
    for span in spans {
        let key = (span.from_ms, span.until_ms);
        let partitions = match sharing.get(&key) {
            Some(shared) if shared.len() > LONGEST_UNGROUPED => sharing.remove(&key).expect("just found"),
            Some(_) => vec![span.tp.as_str()],
            // A partition of a group already shown.
            None => continue,
        };
        groups.push(UnavailableGroup { partitions, from_ms: span.from_ms, until_ms: span.until_ms });
    }
    groups
}

/// Spans in which a partition had no leader, as the controller stored each partition's
/// state (stale events from a fenced controller change nothing: see [`ClusterState`]), or
/// a leader whose broker was down: crashed, powered off or paused, from the fault until
/// it starts again (or resumes) or the controller moves the leadership. A broker the
/// controller still names as leader after it died serves nobody: the partition is
/// unavailable for as long as the failure detection takes (the ZooKeeper session, or the
/// KRaft broker session). A clean stop is not counted: the broker hands its leaderships
/// over first, and what it could not hand over goes leaderless when it exits. A KRaft
/// broker that starts again serves nobody until the controller has unfenced its new
/// registration (`BrokerServer.startup` opens its listeners only then), although it may
/// already have taken the leaderships its metadata still gives it.
pub fn unavailability(history: &History) -> Vec<Unavailability> {
    let mut state = ClusterState::default();
    let mut down: BTreeSet<u32> = BTreeSet::new();
    let kraft = history.trace.other_than_replica_traffic().any(|e| matches!(e.event, Event::BrokerRegistration { .. }));
    // KRaft brokers started again, down until their registration is unfenced.
    let mut starting: BTreeSet<u32> = BTreeSet::new();
    // By name, so that spans still open at the end come in partition order.
    let mut open: BTreeMap<std::sync::Arc<str>, u64> = BTreeMap::new();
    let mut spans = Vec::new();
    for event in &history.trace {
        let now_ms = event.time_ns / 1_000_000;
        let changed: Vec<usize> = match (state.apply(&event), &event.event) {
            (Applied::Partition(n), _) => vec![n],
            (_, Event::Fault { kind: FaultKind::Crash | FaultKind::PowerLoss | FaultKind::Pause, targets, .. }) => {
                down.extend(targets.iter().filter_map(|t| NodeName::broker_id(t)));
                led_by(&state, &down)
            }
            (_, Event::BrokerStarted { broker }) if kraft => {
                if down.contains(broker) {
                    starting.insert(*broker);
                }
                continue;
            }
            (_, Event::BrokerRegistration { broker, fenced: false, .. }) if starting.remove(broker) => {
                down.remove(broker);
                led_by(&state, &BTreeSet::from([*broker]))
            }
            (_, Event::BrokerStarted { broker }) => {
                down.remove(broker);
                led_by(&state, &BTreeSet::from([*broker]))
            }
            (_, Event::TopicDeleted { topic }) => {
                // A deleted topic's partitions are gone, not unavailable.
                let gone: Vec<Arc<str>> =
                    open.keys().filter(|tp| TopicPartition::topic_of(tp) == &**topic).cloned().collect();
                for tp in gone {
                    let from_ms = open.remove(&tp).expect("listed");
                    spans.push(Unavailability { tp: tp.to_string(), from_ms, until_ms: Some(now_ms) });
                }
                continue;
            }
            (_, Event::FaultEnded { kind: FaultKind::Pause, targets, .. })
            | (_, Event::Fault { kind: FaultKind::Resume, targets, .. }) => {
                let resumed: BTreeSet<u32> = targets.iter().filter_map(|t| NodeName::broker_id(t)).collect();
                down.retain(|b| !resumed.contains(b) || starting.contains(b));
                led_by(&state, &resumed)
            }
            _ => continue,
        };
        for n in changed {
            let partition = state.partition_by_number(n);
            if partition.leader.is_none_or(|l| down.contains(&l)) {
                open.entry(partition.name.clone()).or_insert(now_ms);
            } else if let Some(from_ms) = open.remove(&partition.name) {
                spans.push(Unavailability { tp: partition.name.to_string(), from_ms, until_ms: Some(now_ms) });
            }
        }
    }
    spans.extend(open.into_iter().map(|(tp, from_ms)| Unavailability { tp: tp.to_string(), from_ms, until_ms: None }));
    spans
}

/// The numbers of the partitions the controller says one of `brokers` leads.
fn led_by(state: &ClusterState, brokers: &BTreeSet<u32>) -> Vec<usize> {
    let led = |p: &crate::history::state::PartitionView| p.leader.is_some_and(|l| brokers.contains(&l));
    state.partitions().enumerate().filter(|(_, p)| led(p)).map(|(n, _)| n).collect()
}

/// Everything one run produced.
#[derive(Clone, Debug)]
pub struct RunOutcome {
    /// The scenario's name.
    pub scenario: String,
    /// The seed.
    pub seed: u64,
    /// The recorded history and trace.
    pub history: History,
    /// Anomalies found (safety and liveness).
    pub anomalies: Vec<Anomaly>,
    /// Counts.
    pub stats: RunStats,
    /// Spans without a leader.
    pub unavailability: Vec<Unavailability>,
    /// The trace hash.
    pub trace_hash: u64,
    /// The panic message, if a simulated node panicked.
    pub panic: Option<String>,
    /// The bug planted in the system under test for this run, if any.
    pub plant: Option<PlantedBug>,
    /// The guided sweep's draw the run replayed (`--draw`), if any.
    pub draw: Option<super::draw::Draw>,
    /// What `[swarm]` and `[nemesis]` drew for this seed, if the scenario has them.
    pub drawn: Option<super::DrawnParameters>,
    /// The plain producers' per-record send latencies (not in the history).
    pub send_latencies: crate::workload::LatencyDistribution,
    /// The named protocol states the run reached (not in the history, nor in the hash).
    pub reached: ReachedStates,
    /// The faults that fired but changed nothing (not in the history, nor in the hash).
    pub idle_faults: Vec<crate::coverage::idle::IdleFault>,
}

impl RunOutcome {
    pub(crate) fn panicked(scenario: &str, seed: u64, message: String, wall_ms: u64) -> Self {
        RunOutcome {
            scenario: scenario.to_string(),
            seed,
            history: History::default(),
            anomalies: Vec::new(),
            stats: RunStats { wall_ms, ..RunStats::default() },
            unavailability: Vec::new(),
            trace_hash: 0,
            panic: Some(message),
            plant: None,
            draw: None,
            drawn: None,
            send_latencies: Default::default(),
            reached: ReachedStates::default(),
            idle_faults: Vec::new(),
        }
    }

    /// Anomaly counts by kind.
    pub fn counts(&self) -> BTreeMap<AnomalyKind, usize> {
        let mut counts = BTreeMap::new();
        for anomaly in &self.anomalies {
            *counts.entry(anomaly.kind).or_default() += 1;
        }
        counts
    }

    /// The kinds this run must not show: the scenario's `absent` list, or with `absent =
    /// "promised"` what this seed's configuration promises (`super::promise`), which
    /// always includes `no-progress`.
    pub fn forbidden_kinds(&self, scenario: &Scenario) -> Vec<AnomalyKind> {
        if !scenario.expect.promised {
            return scenario.expect.absent.clone();
        }
        match &self.drawn {
            Some(drawn) if !drawn.promised.is_empty() => drawn.promised_kinds(),
            // Without draws the scenario is the seed's configuration.
            _ => super::promise::promised(scenario).into_iter().map(|p| p.kind).collect(),
        }
    }

    /// Judges this run alone against the scenario's `absent` list (or its promise).
    pub fn verdict(&self, scenario: &Scenario) -> SeedVerdict {
        let counts = self.counts();
        let absent = self.forbidden_kinds(scenario);
        let forbidden: Vec<AnomalyKind> = counts.keys().filter(|k| absent.contains(k)).copied().collect();
        SeedVerdict {
            seed: self.seed,
            counts,
            forbidden,
            panic: self.panic.clone(),
            trace_hash: self.trace_hash,
            reached: self.reached.states(),
        }
    }
}

/// How a scenario or a seed ended, worst last; maps to the exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum Status {
    /// Every expectation held.
    Pass,
    /// A safety expectation failed (a forbidden anomaly, or a lesson's anomaly missing).
    SafetyFailure,
    /// A forbidden liveness anomaly (`no-progress`).
    LivenessFailure,
    /// A simulated node panicked.
    Crash,
}

impl Status {
    /// The process exit code: 0 pass, 1 safety, 2 liveness, 3 panic.
    pub fn exit_code(self) -> i32 {
        match self {
            Status::Pass => 0,
            Status::SafetyFailure => 1,
            Status::LivenessFailure => 2,
            Status::Crash => 3,
        }
    }

    /// A short word for tables.
    pub fn word(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::SafetyFailure => "FAIL (safety)",
            Status::LivenessFailure => "FAIL (liveness)",
            Status::Crash => "FAIL (panic)",
        }
    }
}

/// One seed's result against the scenario.
#[derive(Clone, Debug, Serialize)]
pub struct SeedVerdict {
    /// The seed.
    pub seed: u64,
    /// Anomaly counts by kind.
    pub counts: BTreeMap<AnomalyKind, usize>,
    /// Kinds found that the scenario forbids.
    pub forbidden: Vec<AnomalyKind>,
    /// The panic message, if any.
    pub panic: Option<String>,
    /// The trace hash.
    pub trace_hash: u64,
    /// The named protocol states the seed reached.
    pub reached: BTreeSet<ReachedState>,
}

impl SeedVerdict {
    /// This seed's status (a lesson's missing anomaly is judged over all seeds).
    pub fn status(&self) -> Status {
        if self.panic.is_some() {
            Status::Crash
        } else if self.forbidden.iter().any(|k| !k.is_liveness()) {
            Status::SafetyFailure
        } else if !self.forbidden.is_empty() {
            Status::LivenessFailure
        } else {
            Status::Pass
        }
    }
}

/// A scenario's result over all its seeds.
#[derive(Clone, Debug, Serialize)]
pub struct ScenarioVerdict {
    /// The scenario's name.
    pub scenario: String,
    /// Each seed.
    pub seeds: Vec<SeedVerdict>,
    /// Kinds the scenario expects in some seed that appeared in none.
    pub missing: Vec<AnomalyKind>,
    /// The scenario's `reach` goals that no seed reached (a vacuous lesson).
    pub missed_goals: Vec<ReachedState>,
    /// The overall status.
    pub status: Status,
}

impl ScenarioVerdict {
    /// Judges a scenario from its seeds' verdicts.
    pub fn judge(scenario: &Scenario, seeds: Vec<SeedVerdict>) -> Self {
        let seen: BTreeSet<AnomalyKind> = seeds.iter().flat_map(|s| s.counts.keys().copied()).collect();
        let missing: Vec<AnomalyKind> = scenario.expect.present.iter().filter(|k| !seen.contains(k)).copied().collect();
        let missed_goals = ScenarioVerdict::coverage_of(&seeds).missed(&scenario.expect.reach);
        let mut status = seeds.iter().map(SeedVerdict::status).max().unwrap_or(Status::Pass);
        if !missing.is_empty() || !missed_goals.is_empty() {
            status = status.max(Status::SafetyFailure);
        }
        ScenarioVerdict { scenario: scenario.name.clone(), seeds, missing, missed_goals, status }
    }

    /// What the seeds reached together.
    pub fn coverage(&self) -> Coverage {
        ScenarioVerdict::coverage_of(&self.seeds)
    }

    fn coverage_of(seeds: &[SeedVerdict]) -> Coverage {
        Coverage::of(seeds.iter().map(|s| &s.reached))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{ElectionReason, TraceEvent};
    use crate::scenario::Lang;

    #[test]
    fn partitions_sharing_a_span_are_one_line_when_more_than_three() {
        let span = |tp: &str, from_ms, until_ms| Unavailability { tp: tp.to_string(), from_ms, until_ms };
        let mut spans = vec![span("orders-0", 100, Some(200))];
        spans.extend((1..=LONGEST_UNGROUPED as u32 + 2).map(|p| span(&format!("orders-{p}"), 300, Some(400))));
        spans.extend((20..20 + LONGEST_UNGROUPED as u32).map(|p| span(&format!("orders-{p}"), 600, Some(700))));
        spans.push(span("orders-9", 100, Some(200)));
        spans.push(span("orders-7", 500, None));
        let groups = grouped_unavailability(&spans);
        let lines: Vec<String> = groups.iter().map(|g| g.partitions_phrase(Lang::En)).collect();
        let few: Vec<String> = (20..20 + LONGEST_UNGROUPED).map(|p| format!("orders-{p}")).collect();
        let expected: Vec<String> = ["orders-0", "10 partitions (orders-1, orders-2, orders-3 and 7 more)"]
            .into_iter()
            .map(String::from)
            .chain(few)
            .chain(["orders-9".to_string(), "orders-7".to_string()])
            .collect();
        assert_eq!(lines, expected, "more than {LONGEST_UNGROUPED} sharing a span are grouped, no fewer");
        assert_eq!((groups[1].from_ms, groups[1].until_ms), (300, Some(400)));
        assert_eq!(groups[1].partitions_phrase(Lang::Zh), "10 个分区（orders-1、orders-2、orders-3 及另外 7 个）");
        assert_eq!(grouped_unavailability(&[]), vec![]);
    }

    fn at(ms: u64, node: &str, event: Event) -> TraceEvent {
        TraceEvent { time_ns: ms * 1_000_000, node: node.into(), event }
    }

    fn elected(leader: Option<u32>, leader_epoch: u32) -> Event {
        Event::LeaderElection {
            tp: "orders-0".into(),
            leader,
            leader_epoch,
            partition_epoch: u64::from(leader_epoch),
            isr: leader.into_iter().collect(),
            unclean: false,
            reason: ElectionReason::BrokerFailure,
        }
    }

    fn fault(kind: FaultKind, broker: &str) -> Event {
        Event::Fault { kind, targets: vec![broker.to_string()], detail: String::new() }
    }

    fn spans(trace: Vec<TraceEvent>) -> Vec<(u64, Option<u64>)> {
        let history = History { trace: trace.into(), ..History::default() };
        unavailability(&history).into_iter().map(|s| (s.from_ms, s.until_ms)).collect()
    }

    #[test]
    fn a_partition_is_unavailable_without_a_leader_and_while_its_leader_is_down() {
        // Crashed at 5 s, replaced at 13 s: unavailable in between although the metadata
        // named a leader all along.
        let crash = vec![
            at(0, "controller", elected(Some(1), 0)),
            at(5_000, "nemesis", fault(FaultKind::Crash, "broker-1")),
            at(13_000, "controller", elected(Some(2), 1)),
        ];
        assert_eq!(spans(crash), [(5_000, Some(13_000))]);
        // A paused leader is back when it resumes; a crash of another node changes nothing.
        let pause = vec![
            at(0, "controller", elected(Some(1), 0)),
            at(1_000, "nemesis", fault(FaultKind::Crash, "broker-2")),
            at(2_000, "nemesis", fault(FaultKind::Pause, "broker-1")),
            at(
                4_000,
                "nemesis",
                Event::FaultEnded { kind: FaultKind::Pause, targets: vec!["broker-1".into()], detail: String::new() },
            ),
        ];
        assert_eq!(spans(pause), [(2_000, Some(4_000))]);
        // No leader at all, then a leader that restarts before any election: both count,
        // and a span still open at the end has no end.
        let offline = vec![
            at(0, "controller", elected(Some(1), 0)),
            at(1_000, "controller", elected(None, 1)),
            at(3_000, "controller", elected(Some(3), 2)),
            at(4_000, "nemesis", fault(FaultKind::PowerLoss, "broker-3")),
            at(6_000, "broker-3", Event::BrokerStarted { broker: 3 }),
            at(7_000, "nemesis", fault(FaultKind::Crash, "broker-3")),
        ];
        assert_eq!(spans(offline), [(1_000, Some(3_000)), (4_000, Some(6_000)), (7_000, None)]);
    }
    fn registration(broker: u32, broker_epoch: u64, fenced: bool) -> Event {
        Event::BrokerRegistration { broker, broker_epoch, fenced, in_controlled_shutdown: false }
    }

    #[test]
    fn a_restarted_kraft_leader_serves_again_only_once_its_new_registration_is_unfenced() {
        // Crashed at 5 s and started at 8 s, inside its old session: it takes its old
        // leadership from the metadata but opens no listener until the controller unfences
        // its new incarnation (at 12 s, the old session having expired at 11 s).
        let trace = vec![
            at(0, "controller-1", registration(1, 3, false)),
            at(0, "controller-1", elected(Some(1), 0)),
            at(5_000, "nemesis", fault(FaultKind::Crash, "broker-1")),
            at(8_000, "broker-1", Event::BrokerStarted { broker: 1 }),
            at(11_500, "controller-1", registration(1, 40, true)),
            at(12_000, "controller-1", registration(1, 40, false)),
        ];
        assert_eq!(spans(trace), [(5_000, Some(12_000))]);
    }
}

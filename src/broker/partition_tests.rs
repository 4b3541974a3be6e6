//! Tests of a partition replica's transitions without any network: a `Partition` over a
//! log on a simulated disk, driven by hand, its trace read back from a `Recorder`. Every
//! test runs inside a madsim runtime, whose clock the follower progress reads.

use super::*;
use crate::history::{LogStartReason, Recorder, TruncationReason};
use crate::protocol::Record;
use crate::sim::disk::DiskStore;
use madsim::runtime::Runtime;
use std::time::Duration;

/// The replica under test is broker 1; brokers 2 and 3 are its peers.
const ME: BrokerId = BrokerId(1);
const B2: BrokerId = BrokerId(2);
const B3: BrokerId = BrokerId(3);

/// `replica.lag.time.max.ms` in the ISR tests.
const LAG: Duration = Duration::from_millis(100);

/// Today's ISR rule with a lag time of `LAG`.
const RULE: IsrLagRule = IsrLagRule { max_lag: LAG, caught_up_at_leader_log_end: true };

/// The ISR rule before KAFKA-7152 (Kafka 2.1): only the time since a follower last
/// caught up counts.
const RULE_BEFORE_2_1: IsrLagRule = IsrLagRule { caught_up_at_leader_log_end: false, ..RULE };

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Runs `test` inside a fresh madsim runtime (the recorder and follower progress read
/// the simulated clock).
fn in_sim(test: impl FnOnce() + Send + 'static) {
    Runtime::with_seed_and_config(1, madsim::Config::default()).block_on(async move { test() });
}

fn batch(values: &[u64]) -> RecordBatch {
    RecordBatch::plain(values.iter().map(|v| Record::new(None, *v, *v)).collect())
}

/// The state the controller would send for broker `leader` in `leader_epoch`, with
/// replicas 1, 2 and 3 and the given ISR.
fn state(leader: BrokerId, leader_epoch: LeaderEpoch, isr: &[BrokerId], partition_epoch: u64) -> PartitionState {
    PartitionState {
        tp: TopicPartition::new("t", 0),
        leader: Some(leader),
        leader_epoch,
        isr: isr.to_vec(),
        replicas: vec![ME, B2, B3],
        partition_epoch,
        topic_id: 1,
    }
}

/// A recorder, broker 1's tracer and disk.
struct Bench {
    recorder: Recorder,
    tracer: Tracer,
    store: DiskStore,
}

impl Bench {
    fn new() -> Self {
        let recorder = Recorder::new();
        let tracer = recorder.tracer("broker-1");
        Bench { recorder, tracer, store: DiskStore::new() }
    }

    /// A log holding one batch per `(epoch, values)`, appended in order.
    fn log(&self, batches: &[(LeaderEpoch, &[u64])]) -> PartitionLog {
        let mut log = PartitionLog::load(TopicPartition::new("t", 0), self.store.disk("b1"));
        for (epoch, values) in batches {
            log.append_as_leader(batch(values), *epoch);
        }
        log
    }

    /// A replica with no role over `batches`, its checkpointed high watermark `hw`.
    fn replica(&self, batches: &[(LeaderEpoch, &[u64])], hw: Offset) -> Partition {
        Partition::new(self.log(batches), hw, HighWatermarkRule::FOLLOW_ISR)
    }

    /// A leader in epoch 1 of an empty log with the given ISR, its followers' lag clocks
    /// started now; the trace is emptied.
    fn leader(&self, isr: &[BrokerId]) -> Partition {
        self.leader_under(isr, HighWatermarkRule::FOLLOW_ISR)
    }

    /// [`Bench::leader`] whose high watermark moves under `rule`.
    fn leader_under(&self, isr: &[BrokerId], rule: HighWatermarkRule) -> Partition {
        let mut partition = Partition::new(self.log(&[]), 0, rule);
        partition.become_leader(ME, &state(ME, 1, isr, 0), Instant::now(), &self.tracer);
        self.events();
        partition
    }

    /// The events traced since the last call.
    fn events(&self) -> Vec<Event> {
        self.recorder.take().trace.into_iter().map(|e| e.event).collect()
    }

    /// The high watermark moves traced since the last call, as `(old, new)`.
    fn hw_moves(&self) -> Vec<(Offset, Offset)> {
        self.events()
            .into_iter()
            .filter_map(|e| match e {
                Event::HighWatermark { old, new, .. } => Some((old, new)),
                _ => None,
            })
            .collect()
    }
}

fn name() -> Arc<str> {
    Arc::from("t-0")
}

/// Broker 1's high watermark moving from `old` to `new`.
fn hw_event(is_leader: bool, leader_epoch: LeaderEpoch, old: Offset, new: Offset) -> Event {
    Event::HighWatermark { tp: name(), broker: 1, is_leader, leader_epoch, old, new }
}

#[test]
fn a_new_replica_clamps_its_checkpointed_high_watermark_into_the_log() {
    in_sim(|| {
        let bench = Bench::new();
        assert_eq!(bench.replica(&[(1, &[1, 2, 3])], 10).high_watermark(), 3);
        let mut log = bench.log(&[]);
        log.advance_log_start(2);
        assert_eq!(Partition::new(log, 0, HighWatermarkRule::FOLLOW_ISR).high_watermark(), 2);
    });
}

#[test]
fn a_new_leader_starts_its_epoch_at_the_log_end_and_commits_what_a_lone_isr_has() {
    in_sim(|| {
        let bench = Bench::new();
        let mut partition = bench.replica(&[(1, &[1, 2, 3])], 0);
        assert!(!partition.has_role());
        partition.become_leader(ME, &state(ME, 2, &[ME], 4), Instant::now(), &bench.tracer);
        assert!(partition.is_leader() && partition.has_role());
        assert_eq!((partition.leader_epoch(), partition.partition_epoch()), (2, 4));
        assert_eq!(partition.isr(), [ME]);
        assert_eq!(partition.replicas(), [ME, B2, B3]);
        assert_eq!(partition.log().epochs().latest_epoch(), Some(2));
        assert_eq!(partition.log().epochs().end_offset_for(1, 3), Some((1, 3)));
        assert_eq!(partition.high_watermark(), 3);
        let took = Event::BecomeLeader { tp: name(), broker: 1, leader_epoch: 2, log_end_offset: 3, isr: vec![1] };
        let hw = hw_event(true, 2, 0, 3);
        assert_eq!(bench.events(), vec![took, hw]);
    });
}

#[test]
fn a_new_follower_fetches_only_once_reconciled_and_never_moves_a_leader_high_watermark() {
    in_sim(|| {
        let bench = Bench::new();
        let mut partition = bench.replica(&[(1, &[1, 2, 3])], 1);
        partition.become_follower(ME, &state(B2, 2, &[B2, ME], 0), true, &bench.tracer);
        assert!(!partition.is_leader());
        assert_eq!(partition.followed_leader(), Some(B2));
        assert!(partition.needs_truncation());
        let took = Event::BecomeFollower { tp: name(), broker: 1, leader: Some(2), leader_epoch: 2, log_end_offset: 3 };
        assert_eq!(bench.events(), vec![took]);
        partition.mark_reconciled();
        assert!(!partition.needs_truncation());
        // The leader-only transitions do nothing on a follower.
        partition.record_follower_fetch(B2, 3, None, Instant::now());
        assert!(!partition.maybe_advance_high_watermark(ME, &bench.tracer));
        assert_eq!(partition.lagging_isr_members(ME, Instant::now() + ms(1000), RULE), vec![]);
        assert_eq!(partition.high_watermark(), 1);
    });
}

/// Whether `state` restarts `partition` as a follower under each rule, in the order
/// leader change, leader change or missed epoch, every leader epoch.
fn restarts(partition: &Partition, state: &PartitionState) -> [bool; 3] {
    [FollowerRestart::LeaderChange, FollowerRestart::LeaderChangeOrMissedEpoch, FollowerRestart::EveryLeaderEpoch]
        .map(|rule| partition.restarts_follower(state, rule))
}

#[test]
fn a_follower_restarts_on_a_new_leader_and_on_a_new_epoch_of_the_same_one_as_its_rule_says() {
    // Kafka's `Partition.makeFollower`: 0.10 up to 2.0.0 restart on a leader change only,
    // 2.0.1 also when an epoch was missed (KAFKA-7164), 2.1 on every epoch (KIP-320).
    in_sim(|| {
        let bench = Bench::new();
        let mut partition = bench.replica(&[(0, &[1, 2, 3])], 1);
        let first = state(B2, 1, &[B2, ME, B3], 0);
        assert_eq!(restarts(&partition, &first), [true; 3], "a started broker knows no leader");
        partition.become_follower(ME, &first, true, &bench.tracer);
        partition.mark_reconciled();
        // The controller drops broker 3 from the ISR: same leader, next epoch.
        let shrunk = state(B2, 2, &[B2, ME], 1);
        assert_eq!(restarts(&partition, &shrunk), [false, false, true]);
        // Two epochs later under the same leader: a leadership was missed.
        assert_eq!(restarts(&partition, &state(B2, 3, &[B2, ME], 2)), [false, true, true]);
        assert_eq!(restarts(&partition, &state(B3, 2, &[B3, ME], 1)), [true; 3], "a new leader");
        // Not restarted, the follower goes on fetching in the new epoch.
        partition.become_follower(ME, &shrunk, false, &bench.tracer);
        assert!(!partition.needs_truncation());
        assert_eq!((partition.leader_epoch(), partition.followed_leader()), (2, Some(B2)));
        // Without a leader nothing restarts, and the leader followed before is kept.
        let offline = PartitionState { leader: None, ..state(B2, 3, &[B2], 2) };
        assert_eq!(restarts(&partition, &offline), [false; 3]);
        partition.become_follower(ME, &offline, false, &bench.tracer);
        assert_eq!(restarts(&partition, &state(B2, 4, &[B2], 3)), [false, true, true]);
        assert_eq!(restarts(&partition, &state(B3, 4, &[B3], 3)), [true; 3]);
        // A leader that becomes a follower always starts over.
        partition.become_leader(ME, &state(ME, 5, &[ME], 4), Instant::now(), &bench.tracer);
        assert_eq!(restarts(&partition, &state(B2, 6, &[B2, ME], 5)), [true; 3]);
    });
}

#[test]
fn the_leader_appends_in_its_epoch_and_the_high_watermark_is_the_smallest_isr_log_end() {
    in_sim(|| {
        let bench = Bench::new();
        let mut partition = bench.leader(&[ME, B2, B3]);
        let stored = partition.append_as_leader(ME, batch(&[10, 11, 12, 13, 14]), &bench.tracer);
        assert_eq!((stored.base_offset, stored.partition_leader_epoch), (0, 1));
        let append = Event::Append {
            tp: name(),
            broker: 1,
            as_leader: true,
            leader_epoch: 1,
            base_offset: 0,
            values: smallvec::smallvec![10, 11, 12, 13, 14],
        };
        assert_eq!(bench.events(), vec![append]);
        let now = Instant::now();
        let mut fetch = |follower, offset| {
            partition.record_follower_fetch(follower, offset, None, now);
            partition.maybe_advance_high_watermark(ME, &bench.tracer);
            partition.high_watermark()
        };
        assert_eq!(fetch(B2, 3), 0, "broker 3 has nothing yet");
        assert_eq!(fetch(B3, 2), 2);
        assert_eq!(fetch(B3, 5), 3, "broker 2 is at 3");
        assert_eq!(fetch(B2, 5), 5);
        assert_eq!(bench.hw_moves(), vec![(0, 2), (2, 3), (3, 5)]);
    });
}

#[test]
fn a_pending_isr_member_holds_the_high_watermark_back() {
    // KIP-497: the high watermark counts the maximal ISR, the confirmed one plus the
    // members of an expansion the controller may already have written.
    in_sim(|| {
        let bench = Bench::new();
        let mut partition = bench.leader(&[ME, B2]);
        partition.append_as_leader(ME, batch(&[1, 2, 3, 4, 5]), &bench.tracer);
        partition.mark_pending_isr(vec![ME, B2, B3]);
        assert_eq!(partition.pending_isr(), Some(&[ME, B2, B3][..]));
        assert_eq!(partition.maximal_isr().collect::<Vec<_>>(), vec![ME, B2, B3]);
        let now = Instant::now();
        partition.record_follower_fetch(B2, 5, None, now);
        partition.record_follower_fetch(B3, 2, None, now);
        assert!(partition.maybe_advance_high_watermark(ME, &bench.tracer));
        assert_eq!(partition.high_watermark(), 2);
        partition.clear_pending_isr();
        assert_eq!(partition.pending_isr(), None);
        assert!(partition.maybe_advance_high_watermark(ME, &bench.tracer));
        assert_eq!(partition.high_watermark(), 5);
    });
}

#[test]
fn a_leader_keeps_the_broker_epoch_of_each_followers_last_fetch_for_its_own_leadership_only() {
    // KIP-903: the epoch goes into the leader's AlterPartition; `resetReplicaState` keeps
    // it when the same leader starts a new epoch and forgets it for a new leader.
    in_sim(|| {
        let bench = Bench::new();
        let mut partition = bench.leader(&[ME, B2, B3]);
        partition.record_follower_fetch(B2, 0, Some(7), Instant::now());
        partition.record_follower_fetch(B3, 0, None, Instant::now());
        assert_eq!((partition.follower_broker_epoch(B2), partition.follower_broker_epoch(B3)), (Some(7), None));
        partition.become_leader(ME, &state(ME, 2, &[ME, B2, B3], 1), Instant::now(), &bench.tracer);
        assert_eq!(partition.follower_broker_epoch(B2), Some(7));
        partition.become_follower(ME, &state(B2, 3, &[ME, B2, B3], 2), true, &bench.tracer);
        assert_eq!(partition.follower_broker_epoch(B2), None, "a follower tracks no one");
        partition.become_leader(ME, &state(ME, 4, &[ME, B2, B3], 3), Instant::now(), &bench.tracer);
        assert_eq!(partition.follower_broker_epoch(B2), None);
    });
}

#[test]
fn from_3_7_the_high_watermark_holds_while_the_isr_is_under_the_min_isr() {
    // KAFKA-15583: with min.insync.replicas = 2 a leader alone in the ISR commits nothing
    // more (before 3.7 it committed its whole log); the effective min ISR is capped at
    // the replica count, so a single-replica partition is never held.
    in_sim(|| {
        let bench = Bench::new();
        let hold = HighWatermarkRule { min_insync_replicas: 2, hold_under_min_isr: true };
        let mut partition = bench.leader_under(&[ME], hold);
        partition.append_as_leader(ME, batch(&[1, 2, 3]), &bench.tracer);
        assert!(!partition.maybe_advance_high_watermark(ME, &bench.tracer));
        assert_eq!(partition.high_watermark(), 0);
        // A pending expansion does not lift the hold: the confirmed ISR counts.
        partition.mark_pending_isr(vec![ME, B2]);
        partition.record_follower_fetch(B2, 3, None, Instant::now());
        assert!(!partition.maybe_advance_high_watermark(ME, &bench.tracer));
        partition.complete_isr_change(ME, Some(&state(ME, 1, &[ME, B2], 1)), &bench.tracer);
        assert_eq!(partition.high_watermark(), 3, "the ISR reached the min ISR");

        let bench = Bench::new();
        let before_3_7 = HighWatermarkRule { hold_under_min_isr: false, ..hold };
        let mut old = bench.leader_under(&[ME], before_3_7);
        old.append_as_leader(ME, batch(&[1, 2, 3]), &bench.tracer);
        assert!(old.maybe_advance_high_watermark(ME, &bench.tracer));
        assert_eq!(old.high_watermark(), 3);

        let bench = Bench::new();
        let mut alone = Partition::new(bench.log(&[]), 0, HighWatermarkRule { min_insync_replicas: 3, ..hold });
        let only_me = PartitionState { replicas: vec![ME], ..state(ME, 1, &[ME], 0) };
        alone.become_leader(ME, &only_me, Instant::now(), &bench.tracer);
        alone.append_as_leader(ME, batch(&[1]), &bench.tracer);
        assert!(alone.maybe_advance_high_watermark(ME, &bench.tracer));
        assert_eq!(alone.high_watermark(), 1);
    });
}

#[test]
fn the_leader_high_watermark_never_moves_back_when_a_laggard_joins_the_isr() {
    in_sim(|| {
        let bench = Bench::new();
        let mut partition = bench.leader(&[ME, B2]);
        partition.append_as_leader(ME, batch(&[1, 2, 3, 4, 5]), &bench.tracer);
        partition.record_follower_fetch(B2, 5, None, Instant::now());
        partition.maybe_advance_high_watermark(ME, &bench.tracer);
        assert_eq!(partition.high_watermark(), 5);
        bench.events();
        // Broker 3 joins at offset 0 (the controller accepted the expansion).
        partition.mark_pending_isr(vec![ME, B2, B3]);
        partition.complete_isr_change(ME, Some(&state(ME, 1, &[ME, B2, B3], 1)), &bench.tracer);
        assert_eq!(partition.isr(), [ME, B2, B3]);
        assert!(!partition.maybe_advance_high_watermark(ME, &bench.tracer));
        assert_eq!(partition.high_watermark(), 5);
        assert_eq!(bench.hw_moves(), vec![]);
    });
}

#[test]
fn an_accepted_isr_shrink_is_adopted_and_releases_the_high_watermark() {
    in_sim(|| {
        let bench = Bench::new();
        let mut partition = bench.leader(&[ME, B2, B3]);
        partition.append_as_leader(ME, batch(&[1, 2, 3, 4, 5]), &bench.tracer);
        partition.record_follower_fetch(B2, 5, None, Instant::now());
        partition.maybe_advance_high_watermark(ME, &bench.tracer);
        assert_eq!(partition.high_watermark(), 0, "broker 3 has nothing");
        // A refused change is forgotten and changes nothing.
        partition.mark_pending_isr(vec![ME, B2]);
        partition.complete_isr_change(ME, None, &bench.tracer);
        assert_eq!((partition.pending_isr(), partition.isr()), (None, &[ME, B2, B3][..]));
        // An answer that is not newer than the ISR this replica has is not adopted.
        partition.mark_pending_isr(vec![ME, B2]);
        partition.complete_isr_change(ME, Some(&state(ME, 1, &[ME, B2], 0)), &bench.tracer);
        assert_eq!((partition.pending_isr(), partition.isr()), (None, &[ME, B2, B3][..]));
        assert_eq!(bench.hw_moves(), vec![]);
        partition.mark_pending_isr(vec![ME, B2]);
        partition.complete_isr_change(ME, Some(&state(ME, 1, &[ME, B2], 1)), &bench.tracer);
        assert_eq!((partition.pending_isr(), partition.isr()), (None, &[ME, B2][..]));
        assert_eq!(partition.partition_epoch(), 1);
        assert_eq!(bench.hw_moves(), vec![(0, 5)]);
    });
}

#[test]
fn a_controller_state_is_stale_the_same_leadership_or_a_new_one() {
    in_sim(|| {
        let bench = Bench::new();
        let mut partition = bench.replica(&[], 0);
        assert_eq!(partition.news(&state(B2, 0, &[B2], 0)), StateNews::NewLeadership, "no role yet");
        partition.become_follower(ME, &state(B2, 2, &[B2], 3), true, &bench.tracer);
        assert_eq!(partition.news(&state(B2, 1, &[B2], 9)), StateNews::Stale);
        assert_eq!(partition.news(&state(B2, 2, &[B2, ME], 4)), StateNews::SameLeadership);
        assert_eq!(partition.news(&state(ME, 3, &[ME], 5)), StateNews::NewLeadership);
        assert!(!partition.adopt_newer_isr(&state(B2, 2, &[B2, ME], 3)), "same partition epoch");
        assert!(partition.adopt_newer_isr(&state(B2, 2, &[B2, ME], 4)));
        assert_eq!(partition.isr(), [B2, ME]);
        assert!(!partition.adopt_newer_isr(&state(ME, 3, &[ME], 5)), "another leadership");
    });
}

#[test]
fn a_leadership_lasts_across_epoch_bumps_that_keep_the_leader() {
    in_sim(|| {
        let bench = Bench::new();
        let mut partition = bench.replica(&[], 0);
        assert_eq!(partition.leadership_start_epoch(), None, "no role yet");
        partition.become_leader(ME, &state(ME, 1, &[ME, B2], 0), Instant::now(), &bench.tracer);
        assert_eq!(partition.leadership_start_epoch(), Some(1));
        // The controller drops a dead follower from the ISR with a new leader epoch.
        partition.become_leader(ME, &state(ME, 2, &[ME], 1), Instant::now(), &bench.tracer);
        assert_eq!(partition.leadership_start_epoch(), Some(1), "the same leadership goes on");
        partition.become_follower(ME, &state(B2, 3, &[B2], 2), true, &bench.tracer);
        assert_eq!(partition.leadership_start_epoch(), None);
        partition.become_leader(ME, &state(ME, 4, &[ME], 3), Instant::now(), &bench.tracer);
        assert_eq!(partition.leadership_start_epoch(), Some(4), "a new leadership");
    });
}

#[test]
fn a_follower_adopts_the_leader_high_watermark_capped_at_its_log_end() {
    in_sim(|| {
        let bench = Bench::new();
        let mut partition = bench.replica(&[(1, &[1, 2, 3])], 0);
        partition.become_follower(ME, &state(B2, 1, &[B2, ME], 0), true, &bench.tracer);
        bench.events();
        assert!(partition.follow_high_watermark(ME, 5, &bench.tracer));
        assert_eq!(partition.high_watermark(), 3);
        assert!(!partition.follow_high_watermark(ME, 3, &bench.tracer));
        assert_eq!(bench.hw_moves(), vec![(0, 3)]);
        let mut fetched = batch(&[4, 5]);
        fetched.base_offset = 3;
        fetched.partition_leader_epoch = 1;
        let mut gap = fetched.clone();
        gap.base_offset = 4;
        assert!(!partition.append_as_follower(ME, gap, &bench.tracer), "a batch past the log end is refused");
        assert!(partition.append_as_follower(ME, fetched, &bench.tracer));
        assert!(partition.follow_high_watermark(ME, 5, &bench.tracer));
        assert_eq!(partition.high_watermark(), 5);
        let append = Event::Append {
            tp: name(),
            broker: 1,
            as_leader: false,
            leader_epoch: 1,
            base_offset: 3,
            values: smallvec::smallvec![4, 5],
        };
        let hw = hw_event(false, 1, 3, 5);
        assert_eq!(bench.events(), vec![append, hw]);
    });
}

#[test]
fn an_isr_member_lags_once_it_has_not_caught_up_for_the_lag_time() {
    in_sim(|| {
        let bench = Bench::new();
        let t0 = Instant::now();
        let mut partition = bench.leader(&[ME, B2, B3]);
        partition.append_as_leader(ME, batch(&[1, 2, 3, 4, 5]), &bench.tracer);
        // The lag clocks start at the leadership change.
        assert_eq!(partition.lagging_isr_members(ME, t0 + LAG, RULE), vec![]);
        assert_eq!(partition.lagging_isr_members(ME, t0 + LAG + ms(1), RULE), vec![B2, B3]);
        // Broker 2 fetches at the leader's log end: caught up then.
        partition.record_follower_fetch(B2, 5, None, t0 + ms(50));
        assert_eq!(partition.lagging_isr_members(ME, t0 + ms(150), RULE), vec![B3]);
        assert_eq!(partition.shrunk_isr(ME, t0 + ms(150), RULE), Some(vec![ME, B2]));
        assert_eq!(partition.shrunk_isr(ME, t0 + ms(100), RULE), None, "nobody lags yet");
        partition.mark_pending_isr(vec![ME, B2, B3]);
        assert_eq!(partition.shrunk_isr(ME, t0 + ms(150), RULE), None, "one change at a time");
    });
}

#[test]
fn a_fetch_reaching_the_previous_leader_end_counts_as_caught_up_at_the_previous_fetch() {
    // Kafka's `Replica.updateFetchState`: a follower that fetched at time T while the
    // leader ended at E, and later fetches from E or beyond, was caught up at T.
    in_sim(|| {
        let bench = Bench::new();
        let t0 = Instant::now();
        let mut partition = bench.leader(&[ME, B2, B3]);
        partition.append_as_leader(ME, batch(&[1, 2, 3, 4, 5]), &bench.tracer);
        partition.record_follower_fetch(B2, 0, None, t0 + ms(60));
        partition.record_follower_fetch(B3, 0, None, t0 + ms(60));
        partition.append_as_leader(ME, batch(&[6, 7]), &bench.tracer);
        // Broker 2 now has the 5 records the leader had at its last fetch; broker 3 not.
        partition.record_follower_fetch(B2, 5, None, t0 + ms(120));
        partition.record_follower_fetch(B3, 4, None, t0 + ms(120));
        assert_eq!(partition.lagging_isr_members(ME, t0 + ms(130), RULE), vec![B3]);
        assert_eq!(partition.lagging_isr_members(ME, t0 + ms(160), RULE), vec![B3]);
        assert_eq!(partition.lagging_isr_members(ME, t0 + ms(161), RULE), vec![B2, B3]);
    });
}

#[test]
fn an_idle_follower_at_the_leader_log_end_stays_in_sync_from_kafka_2_1() {
    // Kafka's `ReplicaState.isCaughtUp` (KAFKA-7152, 2.1): a follower whose log end is
    // the leader's is in sync however long ago it fetched; before, only time counted.
    in_sim(|| {
        let bench = Bench::new();
        let t0 = Instant::now();
        let mut partition = bench.leader(&[ME, B2, B3]);
        partition.append_as_leader(ME, batch(&[1, 2, 3]), &bench.tracer);
        partition.record_follower_fetch(B2, 3, None, t0);
        partition.record_follower_fetch(B3, 2, None, t0);
        let later = t0 + ms(1000);
        assert_eq!(partition.lagging_isr_members(ME, later, RULE), vec![B3]);
        assert_eq!(partition.lagging_isr_members(ME, later, RULE_BEFORE_2_1), vec![B2, B3]);
        // Once the leader appends, broker 2 is behind and caught up too long ago.
        partition.append_as_leader(ME, batch(&[4]), &bench.tracer);
        assert_eq!(partition.lagging_isr_members(ME, later, RULE), vec![B2, B3]);
    });
}

#[test]
fn a_leader_in_a_new_epoch_of_its_own_keeps_what_it_knew_of_its_followers() {
    // Kafka's `Partition.makeLeader` and `resetReplicaState`: a new leader knows no
    // follower's log end; the same leader in a new epoch (the controller shrank the
    // ISR) keeps them, and restarts the lag clock of each ISR member.
    in_sim(|| {
        let bench = Bench::new();
        let t0 = Instant::now();
        let mut partition = bench.leader(&[ME, B2, B3]);
        partition.append_as_leader(ME, batch(&[1, 2, 3]), &bench.tracer);
        partition.record_follower_fetch(B2, 3, None, t0);
        partition.record_follower_fetch(B3, 1, None, t0);
        partition.become_leader(ME, &state(ME, 2, &[ME, B2], 1), t0 + ms(50), &bench.tracer);
        assert_eq!(partition.high_watermark(), 3, "broker 2's log end is still known");
        assert_eq!(partition.lagging_isr_members(ME, t0 + ms(1000), RULE), vec![], "and at the leader's end");
        assert_eq!(partition.lagging_isr_members(ME, t0 + ms(150), RULE_BEFORE_2_1), vec![]);
        assert_eq!(partition.lagging_isr_members(ME, t0 + ms(151), RULE_BEFORE_2_1), vec![B2]);
        // A replica that just became leader knows nothing of broker 2, even at offset 0.
        let mut fresh = Bench::new().replica(&[], 0);
        fresh.become_leader(ME, &state(ME, 0, &[ME, B2], 0), t0, &bench.tracer);
        assert_eq!(fresh.lagging_isr_members(ME, t0 + ms(1000), RULE), vec![B2]);
        assert_eq!(fresh.caught_up_outside_isr(), vec![], "broker 3 never fetched");
    });
}

#[test]
fn a_follower_outside_the_isr_is_proposed_once_it_reaches_the_high_watermark() {
    in_sim(|| {
        let bench = Bench::new();
        let mut partition = bench.leader(&[ME, B2]);
        partition.append_as_leader(ME, batch(&[1, 2, 3, 4, 5]), &bench.tracer);
        let now = Instant::now();
        partition.record_follower_fetch(B2, 5, None, now);
        partition.maybe_advance_high_watermark(ME, &bench.tracer);
        // Broker 3 is outside the ISR: it never lags, and joins once it has the HW.
        assert_eq!(partition.lagging_isr_members(ME, now + ms(1000), RULE_BEFORE_2_1), vec![B2]);
        partition.record_follower_fetch(B3, 4, None, now);
        assert_eq!(partition.caught_up_outside_isr(), vec![]);
        assert_eq!(partition.expanded_isr(B3), None);
        partition.record_follower_fetch(B3, 5, None, now);
        assert_eq!(partition.caught_up_outside_isr(), vec![B3]);
        assert_eq!(partition.expanded_isr(B3), Some(vec![ME, B2, B3]));
        assert_eq!(partition.expanded_isr(B2), None, "already in the ISR");
        partition.mark_pending_isr(vec![ME, B2, B3]);
        assert_eq!(partition.expanded_isr(B3), None, "one change at a time");
    });
}

#[test]
fn a_follower_joins_the_isr_only_once_it_has_the_start_of_the_leader_epoch() {
    // Kafka's `isFollowerInSync`: the follower must also reach the leader's epoch start,
    // even where the high watermark lags behind it.
    in_sim(|| {
        let bench = Bench::new();
        let mut partition = bench.replica(&[(1, &[1, 2, 3])], 0);
        partition.become_leader(ME, &state(ME, 2, &[ME, B3], 0), Instant::now(), &bench.tracer);
        let now = Instant::now();
        partition.record_follower_fetch(B3, 1, None, now);
        partition.maybe_advance_high_watermark(ME, &bench.tracer);
        assert_eq!(partition.high_watermark(), 1);
        partition.record_follower_fetch(B2, 2, None, now);
        assert_eq!(partition.caught_up_outside_isr(), vec![], "above the HW but before the epoch start, 3");
        partition.record_follower_fetch(B2, 3, None, now);
        assert_eq!(partition.caught_up_outside_isr(), vec![B2]);
    });
}

#[test]
fn truncation_removes_the_tail_and_lowers_the_high_watermark() {
    in_sim(|| {
        let bench = Bench::new();
        let mut partition = bench.replica(&[(1, &[1, 2, 3]), (2, &[4, 5])], 5);
        assert_eq!(partition.high_watermark(), 5);
        partition.truncate(ME, 2, TruncationReason::LeaderEpoch, &bench.tracer);
        assert_eq!(partition.log_end_offset(), 2);
        assert_eq!(partition.high_watermark(), 2);
        assert_eq!(partition.log().epochs().latest_epoch(), Some(1));
        let truncate = Event::Truncate {
            tp: name(),
            broker: 1,
            to_offset: 2,
            removed: vec![(2, 3, 1), (3, 4, 2), (4, 5, 2)],
            reason: TruncationReason::LeaderEpoch,
        };
        let hw = hw_event(false, 0, 5, 2);
        assert_eq!(bench.events(), vec![truncate, hw]);
        partition.truncate(ME, 2, TruncationReason::LeaderEpoch, &bench.tracer);
        partition.truncate(ME, 7, TruncationReason::LeaderEpoch, &bench.tracer);
        assert_eq!(bench.events(), vec![], "nothing above the log end to remove");
    });
}

#[test]
fn a_truncation_above_the_high_watermark_leaves_it() {
    in_sim(|| {
        let bench = Bench::new();
        let mut partition = bench.replica(&[(1, &[1, 2, 3, 4, 5])], 1);
        partition.truncate(ME, 3, TruncationReason::LeaderEpoch, &bench.tracer);
        assert_eq!((partition.log_end_offset(), partition.high_watermark()), (3, 1));
        assert_eq!(bench.hw_moves(), vec![]);
    });
}

#[test]
fn the_divergence_point_is_the_end_of_the_largest_epoch_both_replicas_know() {
    // KIP-101/279, with a local log of epoch 1 at 0..2 and epoch 3 at 2..5.
    in_sim(|| {
        let bench = Bench::new();
        let partition = bench.replica(&[(1, &[1, 2]), (3, &[3, 4, 5])], 0);
        assert_eq!(partition.divergence_offset(3, 3, 4), 4, "the leader's epoch 3 ends at 4");
        assert_eq!(partition.divergence_offset(3, 3, 9), 5, "never past the local end");
        assert_eq!(partition.divergence_offset(3, 2, 3), 2, "the leader knows epoch 2, ours ends at 2");
        assert_eq!(partition.divergence_offset(3, 1, 1), 1, "the leader's epoch 1 ends earlier");
        assert_eq!(partition.divergence_offset(3, 0, 4), 0, "no epoch in common");
    });
}

#[test]
fn advancing_the_log_start_raises_a_high_watermark_below_it() {
    in_sim(|| {
        let bench = Bench::new();
        let mut partition = bench.replica(&[(1, &[1, 2, 3, 4, 5])], 1);
        partition.advance_log_start(ME, 3, LogStartReason::RetentionMs, &bench.tracer);
        assert_eq!(partition.log().log_start_offset(), 3);
        assert_eq!(partition.high_watermark(), 3);
        let advanced = Event::LogStartAdvanced {
            tp: name(),
            broker: 1,
            is_leader: false,
            log_start_offset: 3,
            removed: vec![(0, 1, 1), (1, 2, 1), (2, 3, 1)],
            reason: LogStartReason::RetentionMs,
        };
        let hw = hw_event(false, 0, 1, 3);
        assert_eq!(bench.events(), vec![advanced, hw]);
        partition.advance_log_start(ME, 3, LogStartReason::RetentionMs, &bench.tracer);
        partition.advance_log_start(ME, 2, LogStartReason::RetentionMs, &bench.tracer);
        assert_eq!(bench.events(), vec![], "the log start never moves back");
        partition.advance_log_start(ME, 4, LogStartReason::RetentionMs, &bench.tracer);
        assert_eq!(partition.high_watermark(), 4);
    });
}

#[test]
fn the_log_is_flushed_once_flush_messages_records_have_accumulated() {
    in_sim(|| {
        let bench = Bench::new();
        let mut partition = bench.leader(&[ME]);
        partition.append_as_leader(ME, batch(&[1, 2]), &bench.tracer);
        partition.flush_if_due(Some(3));
        partition.flush_if_due(None);
        assert_eq!(partition.log().unflushed_records(), 2);
        partition.append_as_leader(ME, batch(&[3]), &bench.tracer);
        partition.flush_if_due(Some(3));
        assert_eq!(partition.log().unflushed_records(), 0);
        assert_eq!(bench.store.lose_page_cache("b1"), 0, "a power loss now loses nothing");
    });
}

#[test]
fn a_follower_outside_the_isr_of_an_epoch_0_leader_rejoins_once_past_the_high_watermark() {
    in_sim(|| {
        let bench = Bench::new();
        // A leader still in epoch 0 (the controller never bumped it) that writes on.
        let mut partition = Partition::new(bench.log(&[]), 0, HighWatermarkRule::FOLLOW_ISR);
        partition.become_leader(ME, &state(ME, 0, &[ME, B2], 0), Instant::now(), &bench.tracer);
        partition.append_as_leader(ME, batch(&[1, 2, 3, 4, 5]), &bench.tracer);
        partition.record_follower_fetch(B2, 5, None, Instant::now());
        partition.maybe_advance_high_watermark(ME, &bench.tracer);
        partition.append_as_leader(ME, batch(&[6, 7]), &bench.tracer);
        // Broker 3 has reached the high watermark (5) but not the log end (7): epoch 0
        // starts at the log start, so it is in sync (`isFollowerInSync`).
        partition.record_follower_fetch(B3, 5, None, Instant::now());
        assert_eq!(partition.high_watermark(), 5);
        assert_eq!(partition.caught_up_outside_isr(), [B3]);
        assert_eq!(partition.expanded_isr(B3), Some(vec![ME, B2, B3]));
    });
}

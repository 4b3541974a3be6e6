//! Broker lifecycle on the active controller: registration, unfencing once caught up,
//! fencing by session expiry, a new incarnation, controlled shutdown.

use super::*;
use crate::raft::metadata::{LeaderChange, PartitionRegistration};

const SESSION_MS: u64 = 9000;

fn b(ids: &[u32]) -> Vec<BrokerId> {
    ids.iter().map(|&i| BrokerId(i)).collect()
}

fn policies(settings: ReplicationSettings) -> Policies {
    let default_topic = TopicPolicy { min_insync_replicas: 2, unclean_leader_election: false };
    Policies { settings, default_topic, topics: BTreeMap::new() }
}

const ZK_ERA: ReplicationSettings =
    ReplicationSettings { eligible_leader_replicas: false, bump_leader_epoch_on_isr_shrink: false };
const WITH_ELR: ReplicationSettings =
    ReplicationSettings { eligible_leader_replicas: true, bump_leader_epoch_on_isr_shrink: false };

/// A controller's log: records replayed into the image as they are "committed".
struct Log {
    image: MetadataImage,
    next_offset: u64,
}

impl Log {
    fn apply(&mut self, records: Vec<MetadataRecord>) {
        for record in &records {
            self.image.replay(record).expect("the controller writes consistent records");
        }
        self.next_offset += records.len() as u64;
    }

    fn partition(&self) -> &PartitionRegistration {
        &self.image.topics[&1].partitions[&0]
    }
}

/// Broker `id`'s process `incarnation_id`, started after a crash or a power loss (no
/// clean-shutdown marker).
fn after_crash(id: u32, incarnation_id: u64) -> Registration {
    Registration { broker: BrokerId(id), incarnation_id, previous_broker_epoch: None }
}

/// Three registered, unfenced brokers and one partition led by broker 1, ISR [1, 2, 3].
fn cluster(settings: ReplicationSettings) -> (ClusterControl, Log) {
    let mut log = Log { image: MetadataImage::default(), next_offset: 0 };
    let mut control = ClusterControl::activate(&log.image, SESSION_MS, policies(settings), 0);
    for id in 1..=3 {
        let (records, epoch) =
            control.register_broker(&log.image, after_crash(id, 100 + u64::from(id)), log.next_offset, 0).unwrap();
        let at = log.next_offset;
        log.apply(records);
        let beat = Heartbeat {
            broker: BrokerId(id),
            broker_epoch: epoch,
            current_metadata_offset: log.next_offset,
            want_fence: false,
            want_shut_down: false,
        };
        let (records, reply) = control.heartbeat(&log.image, beat, at, log.next_offset, 0).unwrap();
        assert!(!reply.is_fenced, "broker {id} unfenced once caught up");
        log.apply(records);
    }
    log.apply(vec![
        MetadataRecord::Topic { name: "orders".into(), topic_id: 1 },
        MetadataRecord::Partition {
            topic_id: 1,
            partition: 0,
            registration: PartitionRegistration::for_tests(Some(1), &[1, 2, 3]),
        },
    ]);
    (control, log)
}

fn beat(log: &Log, id: u32) -> Heartbeat {
    let broker_epoch = log.image.brokers[&BrokerId(id)].broker_epoch;
    Heartbeat {
        broker: BrokerId(id),
        broker_epoch,
        current_metadata_offset: log.next_offset,
        want_fence: false,
        want_shut_down: false,
    }
}

#[test]
fn a_new_broker_stays_fenced_until_it_has_replayed_its_own_registration() {
    let mut log = Log { image: MetadataImage::default(), next_offset: 7 };
    let mut control = ClusterControl::activate(&log.image, SESSION_MS, policies(ZK_ERA), 0);
    let (records, epoch) = control.register_broker(&log.image, after_crash(1, 11), 7, 0).unwrap();
    assert_eq!(epoch, 7, "the broker epoch is the registration's offset");
    log.apply(records);
    assert!(log.image.brokers[&BrokerId(1)].fenced);
    let behind = Heartbeat {
        broker: BrokerId(1),
        broker_epoch: 7,
        current_metadata_offset: 6,
        want_fence: false,
        want_shut_down: false,
    };
    let (records, reply) = control.heartbeat(&log.image, behind, 7, 8, 100).unwrap();
    assert!(records.is_empty() && reply.is_fenced && !reply.is_caught_up);
    let caught_up = Heartbeat { current_metadata_offset: 8, ..behind };
    let (records, reply) = control.heartbeat(&log.image, caught_up, 7, 8, 200).unwrap();
    log.apply(records);
    assert!(!reply.is_fenced && !log.image.brokers[&BrokerId(1)].fenced);
}

#[test]
fn a_silent_leader_is_fenced_after_its_session_and_leadership_moves_within_the_isr() {
    let (mut control, mut log) = cluster(ZK_ERA);
    for now in (1000..=SESSION_MS).step_by(1000) {
        for id in [2, 3] {
            let (records, _) = control.heartbeat(&log.image, beat(&log, id), 0, log.next_offset, now).unwrap();
            log.apply(records);
        }
        assert!(control.fence_one_stale_broker(&log.image, now).is_empty(), "broker 1 within its session at {now}");
    }
    let records = control.fence_one_stale_broker(&log.image, SESSION_MS + 1);
    assert!(matches!(records[0], MetadataRecord::PartitionChange { leader: LeaderChange::To(Some(BrokerId(2))), .. }));
    log.apply(records);
    assert!(log.image.brokers[&BrokerId(1)].fenced);
    assert_eq!(
        (log.partition().leader, log.partition().isr.clone(), log.partition().leader_epoch),
        (Some(BrokerId(2)), b(&[2, 3]), 1)
    );
}

#[test]
fn a_restarted_broker_is_a_new_incarnation_with_a_new_epoch_and_its_old_epoch_is_refused() {
    let (mut control, mut log) = cluster(ZK_ERA);
    let old = beat(&log, 3);
    // While its session is valid, another process cannot take the id.
    assert_eq!(
        control.register_broker(&log.image, after_crash(3, 999), log.next_offset, 1000),
        Err(BrokerRequestError::DuplicateBrokerRegistration)
    );
    let records = control.fence_one_stale_broker(&log.image, SESSION_MS + 1);
    log.apply(records);
    let at = log.next_offset;
    let (records, epoch) = control.register_broker(&log.image, after_crash(3, 999), at, SESSION_MS + 2).unwrap();
    log.apply(records);
    assert_eq!(epoch, at);
    assert_eq!(
        control.heartbeat(&log.image, old, at, log.next_offset, SESSION_MS + 3),
        Err(BrokerRequestError::StaleBrokerEpoch),
        "the old incarnation is fenced by its epoch"
    );
}

#[test]
fn with_elr_a_bounced_broker_leaves_the_isr_when_it_registers_again() {
    let (mut control, mut log) = cluster(WITH_ELR);
    // Every session expires; the controller fences one broker at a time, the stalest
    // (broker 1) first.
    let records = control.fence_one_stale_broker(&log.image, SESSION_MS + 1);
    log.apply(records);
    assert_eq!(log.partition().isr, b(&[2, 3]), "broker 1 was the stalest: fenced first");
    let (records, _) =
        control.register_broker(&log.image, after_crash(1, 555), log.next_offset, SESSION_MS + 2).unwrap();
    log.apply(records);
    // Broker 3 crashed and restarts before the controller fenced it: a new incarnation,
    // accepted since its old session has expired.
    let (records, _) = control
        .register_broker(&log.image, after_crash(3, 777), log.next_offset, SESSION_MS + 3)
        .expect("the old session expired");
    log.apply(records);
    assert_eq!(log.partition().isr, b(&[2]), "the bounced broker may have lost unflushed records");
    assert!(log.partition().elr.is_empty(), "nor is it an eligible leader");
}

#[test]
fn with_elr_a_broker_back_from_a_clean_shutdown_keeps_its_isr_membership() {
    let (mut control, mut log) = cluster(WITH_ELR);
    let records = control.fence_one_stale_broker(&log.image, SESSION_MS + 1);
    log.apply(records);
    assert_eq!(log.partition().isr, b(&[2, 3]));
    // Broker 3's last process wrote its epoch into the clean-shutdown marker: it flushed
    // every log before it stopped, so it lost nothing.
    let clean = Registration {
        broker: BrokerId(3),
        incarnation_id: 777,
        previous_broker_epoch: Some(log.image.brokers[&BrokerId(3)].broker_epoch),
    };
    let (records, _) = control.register_broker(&log.image, clean, log.next_offset, SESSION_MS + 3).unwrap();
    log.apply(records);
    assert_eq!(log.partition().isr, b(&[2, 3]), "a clean restart keeps the replica in the ISR");
    // A marker from an older incarnation than the registered one proves nothing.
    let stale = Registration { incarnation_id: 778, previous_broker_epoch: Some(0), ..clean };
    let (records, _) = control.register_broker(&log.image, stale, log.next_offset, SESSION_MS + 4).unwrap();
    log.apply(records);
    assert!(!log.partition().isr.contains(&BrokerId(3)) && !log.partition().elr.contains(&BrokerId(3)));
}

#[test]
fn controlled_shutdown_moves_leadership_away_before_the_broker_may_stop() {
    let (mut control, mut log) = cluster(ZK_ERA);
    let stop = Heartbeat { want_shut_down: true, ..beat(&log, 1) };
    let (records, reply) = control.heartbeat(&log.image, stop, 0, log.next_offset, 100).unwrap();
    assert!(reply.in_controlled_shutdown && !reply.should_shut_down);
    log.apply(records);
    assert_eq!((log.partition().leader, log.partition().isr.clone()), (Some(BrokerId(2)), b(&[2, 3])));
    // Broker 2 has not replayed the change yet: broker 1 must wait.
    let (_, reply) = control
        .heartbeat(&log.image, Heartbeat { want_shut_down: true, ..beat(&log, 1) }, 0, log.next_offset, 200)
        .unwrap();
    assert!(!reply.should_shut_down);
    for id in [2, 3] {
        let (records, _) = control.heartbeat(&log.image, beat(&log, id), 0, log.next_offset, 300).unwrap();
        log.apply(records);
    }
    let (records, reply) = control
        .heartbeat(&log.image, Heartbeat { want_shut_down: true, ..beat(&log, 1) }, 0, log.next_offset, 400)
        .unwrap();
    assert!(reply.should_shut_down);
    log.apply(records);
}

#[test]
fn a_returning_preferred_replica_gets_its_leadership_back_once_in_sync() {
    let (mut control, mut log) = cluster(ZK_ERA);
    // Broker 1 (preferred) is fenced: broker 2 leads.
    let records = control.fence_one_stale_broker(&log.image, SESSION_MS + 1);
    log.apply(records);
    assert!(control.balance_partition_leaders(&log.image, 1000).is_empty(), "broker 1 is fenced");
    // Back, unfenced, but not yet in the ISR: still no election.
    let (records, epoch) = control
        .register_broker(&log.image, after_crash(1, 4242), log.next_offset, SESSION_MS + 2)
        .expect("expired session");
    let at = log.next_offset;
    log.apply(records);
    let caught_up = Heartbeat { broker_epoch: epoch, ..beat(&log, 1) };
    let (records, _) = control.heartbeat(&log.image, caught_up, at, log.next_offset, SESSION_MS + 3).unwrap();
    log.apply(records);
    assert!(control.balance_partition_leaders(&log.image, 1000).is_empty(), "broker 1 is out of the ISR");
    // The leader takes it back into the ISR; the next check moves leadership to it.
    log.apply(vec![MetadataRecord::PartitionChange {
        topic_id: 1,
        partition: 0,
        leader: LeaderChange::Unchanged,
        isr: Some(b(&[2, 3, 1])),
        elr: None,
        last_known_elr: None,
        replicas: None,
        leader_recovery: None,
    }]);
    let records = control.balance_partition_leaders(&log.image, 1000);
    log.apply(records);
    assert_eq!(log.partition().leader, Some(BrokerId(1)));
    assert!(control.balance_partition_leaders(&log.image, 1000).is_empty(), "balanced");
}

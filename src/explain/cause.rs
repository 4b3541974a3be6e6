//! The closing sentences of a story: why it happened (read from the facts the story
//! found) and which configuration would have prevented it (from the run's setup).

use super::life::{at, Facts};
use super::setup::Setup;
use crate::check::describe::broker;
use crate::check::{Anomaly, AnomalyKind, LivenessCause};
use crate::fault::FaultKind;
use crate::history::TruncationReason;
use crate::protocol::Acks;
use crate::protocol::TruncationMode;

/// The cause and the prevention of an anomaly, one sentence each.
pub(crate) fn cause(anomaly: &Anomaly, facts: &Facts, setup: &Setup) -> (String, String) {
    use AnomalyKind::*;
    match anomaly.kind {
        LostWrite | Unseen | CommittedTruncation | InconsistentOffsets | ReplicaDivergence => loss(anomaly.kind, facts, setup),
        Duplicate => duplicate(facts, setup),
        NonmonotonicSend | IntNonmonotonicSend | NonmonotonicPoll | IntNonmonotonicPoll | PollSkip | IntPollSkip => {
            order(anomaly.kind, facts, setup)
        }
        IntSendSkip => (
            "Other records landed between two sends of one transaction: a transaction's writes are not isolated from other producers', so theirs interleave with its own in the log.".into(),
            "Nothing to prevent: Kafka transactions make a transaction's records visible together, not contiguous, and Jepsen allows int-send-skip.".into(),
        ),
        G0 => (
            "A cycle of write order: on some partition each operation's record landed just before the next one's, around in a circle, so no order of the operations explains every partition's log. Kafka does not isolate writes (sends of different producers interleave in every log), so Jepsen allows G0; without transactions it comes from a record appended twice (a duplicate), whose second copy moves it after its neighbours.".into(),
            "Nothing to prevent for transactions (Jepsen allows G0: Kafka transactions give atomic visibility, not write isolation); where a duplicate made it, enable.idempotence=true would have prevented it.".into(),
        ),
        G1c => (
            "Circular information flow: each operation of the cycle read a record the previous one wrote, or wrote just after it, so none of them can have come first. With write-order (ww) edges Jepsen expects such cycles from Kafka's lack of write isolation; a cycle of reads (wr) only means transactions each saw the other's records, so a transaction's records were visible before it committed.".into(),
            "Transactional producers with consumers at isolation.level=read_committed keep a transaction's records invisible until it commits; a cycle of wr edges only is a bug, not a configuration.".into(),
        ),
        ExactlyOnce => (
            "The pipeline forwarded this input record more or less than once: a copy appears when the output send and the consumer's offset commit are not one atomic step (a crash or rebalance between them makes the next owner forward the record again), and a record goes missing when offsets are committed past records whose output was aborted or lost.".into(),
            "Exactly-once processing: a transactional producer (transactional.id) that sends the output and commits the consumer's offsets in the same transaction (sendOffsetsToTransaction), with its consumers at isolation.level=read_committed.".into(),
        ),
        KeyReordered => (
            "Read before an earlier record of its key because the two were in different partitions: Kafka orders records only within a partition, and a key stays in one only while murmur2(key) % partitions stays the same, so when partitions are added the key's new records go to another partition and a consumer may read them before the older ones, with no error anywhere.".into(),
            "Keep the partition count of a keyed topic fixed (create it with the partitions it will need), or, before adding partitions, stop the producers and let consumers drain the old partitions; a custom partitioner that keeps existing keys where they were does the same.".into(),
        ),
        G1a => (
            format!(
                "Seen although its send was reported as failed{}: the error came after the leader had appended the record (a timeout or NOT_ENOUGH_REPLICAS_AFTER_APPEND), so a failure only means the outcome is unknown.",
                facts.send_failed.as_ref().map(|(t, e)| format!(" ({e} at {})", at(*t))).unwrap_or_default()
            ),
            "No producer setting makes a failed send certain; treat failures as unknown, let the idempotent producer retry (enable.idempotence=true), or use transactions for an exact outcome.".into(),
        ),
        PrecommittedRead => (
            "Read by the transaction that wrote it, before that transaction committed: the broker served records of an open transaction to a read_committed poller, or the client read its own uncommitted writes from a local buffer.".into(),
            "Kafka hides a transaction's records from every read_committed consumer, its own producer's included, until the commit marker is written (isolation.level=read_committed reads up to the last stable offset); it is a bug, not a configuration.".into(),
        ),
        ConsumeSkip if !facts.expired.is_empty() => expired(facts, "any member of the group read it"),
        ConsumeSkip => (
            polled_committed_crashed(facts, setup).unwrap_or_else(|| "Skipped because the group committed an offset past the record before any member had finished processing it, and the member then crashed or lost the partition: the next owner started from the commit.".into()),
            if setup.auto_commit == Some(true) {
                "enable.auto.commit=false with a commit after processing (commitSync of the processed offsets) would have prevented it.".into()
            } else {
                "Committing only offsets whose records are processed (commit after processing, never before) would have prevented it.".into()
            },
        ),
        ConsumeDuplicate if !facts.rewound.is_empty() => replayed(facts),
        ConsumeDuplicate => (
            "Processed twice because a member processed the record and stopped (crash, rebalance or session timeout) before committing it, so the next owner resumed from the older committed offset.".into(),
            "At-least-once delivery allows this; commit more often, make processing idempotent, or use transactions (read-process-write with exactly-once) to prevent it.".into(),
        ),
        PositionCarried => (
            "Skipped because the topic was deleted and created again under the same name while this consumer ran: Kafka's consumer keeps its position by topic name (SubscriptionState has no topic ids), so when its metadata showed the new topic it fetched the new log at the offset it had reached in the old one. A fetch above the new log's end answers OFFSET_OUT_OF_RANGE and resets by auto.offset.reset; a fetch at or below it reads on silently, past the new topic's first records; KIP-320 validation, when it runs, clamps the position to the new log's end, whatever auto.offset.reset says.".into(),
            "Do not reuse a deleted topic's name under running clients: stop or unsubscribe the consumers before deleting, re-create the topic, then let them start from the new topic's beginning (auto.offset.reset=earliest with no committed offset), or give the new topic a new name; turn off auto.create.topics.enable so that clients cannot re-create it themselves.".into(),
        ),
        CrossIncarnationCommit => (
            "The member committed the position it held in the deleted topic after a topic of the same name had been created: OffsetCommit names topics, not topic ids, and the coordinator checks only that the name exists, so it stored that offset for the new topic, whose next owner starts there and never reads what lies below it.".into(),
            "Stop a group's members (or unsubscribe them) before deleting its topic and while the name is reused; after re-creating it, reset the group's offsets to the new topic's beginning (kafka-consumer-groups --reset-offsets --to-earliest) before the members start.".into(),
        ),
        CommitRegression => (
            "The committed offset went backwards because a member committed a position older than the group's last commit: it consumed from a stale position (an old fetch position after a rebalance, or a commit that arrived late).".into(),
            "Commit only from the current generation and reset the position to the committed offset after every rebalance; the coordinator's generation check refuses stale members' commits.".into(),
        ),
        SplitOwnership => (
            "Two members owned one partition in the same generation, so both consumed it: the assignment handed out was not a partition of the topic's partitions among the members.".into(),
            "A correct assignor and the coordinator's generation fencing prevent this; it is a bug, not a configuration.".into(),
        ),
        ReassignedBeforeRevoked => (
            "A member was given a partition in a generation whose other member still owned it when it rejoined: the owner had not revoked it, so both may have consumed it while the handover was under way.".into(),
            "The cooperative protocol forbids it (CooperativeStickyAssignor leaves a partition unassigned until its owner revoked it and rejoined; the eager protocol revokes everything before rejoining); it is an assignor or client bug, not a configuration.".into(),
        ),
        StaleCommitAccepted => (
            "The coordinator accepted a commit from a member that was no longer in the group's current generation (or whose static instance another process had taken over): a zombie's offsets overwrote those of the partition's new owner.".into(),
            "The coordinator's fencing refuses such commits (ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID); no configuration makes a zombie's commit safe, so this is a coordinator bug.".into(),
        ),
        StaticMemberRebalanced => (
            "A static member restarted and came back before its session expired, and its group rebalanced at its return although nothing else had changed: every member paused and partitions may have moved.".into(),
            "Static membership (group.instance.id, Kafka 2.3+) makes the coordinator hand a returning instance its partitions back without a rebalance (classic: a stable group's JoinGroup under a new member id; consumer protocol: a leave with epoch -2 and a rejoin). A rebalance there is a coordinator or client bug; keep restarts shorter than session.timeout.ms.".into(),
        ),
        HwRegression => (
            "The leader's high watermark went backwards within one leadership, so consumers may have read records that were not committed.".into(),
            "A leader must never lower its high watermark; leader-epoch truncation (truncation = \"leader-epoch\") keeps followers from feeding it stale state.".into(),
        ),
        MultipleLeaders => (
            "Two brokers accepted writes as leader of one partition in the same leader epoch: the epoch no longer fences the old leader.".into(),
            "The leader epoch must fence every old leader (a zombie's writes are refused by epoch); no configuration makes two leaders of one epoch safe.".into(),
        ),
        QuorumMultipleLeaders => (
            "Two controllers led the KRaft quorum in the same Raft epoch: a voter granted two votes in one epoch, or a candidate counted votes without a majority.".into(),
            "Raft's election safety: each voter persists its vote (quorum-state) before answering, and a candidate needs a majority of the voters; no configuration makes two leaders of one epoch safe.".into(),
        ),
        MetadataDivergence => (
            "A metadata log entry that a controller had committed was later different, truncated, or missing from a new quorum leader: a controller committed without a majority, or a leader was elected without the committed entries.".into(),
            "Raft commits an entry only once a majority holds it, and votes only for candidates whose log is at least as up to date; a quorum of 3 or 5 voters with durable logs (power loss included) keeps committed metadata.".into(),
        ),
        MetadataGap => (
            "A node applied metadata records out of log order or skipped some, so its view of the cluster (leaders, ISRs, fenced brokers) is not any state the controller ever decided.".into(),
            "Nodes must apply committed metadata in offset order, from the log or a snapshot; it is a bug, not a configuration.".into(),
        ),
        DeliveredEarly => (
            "Forwarded before it was due: the forwarder judged the record due by a clock or a timestamp other than its create time plus its tier's delay (a record's timestamp is its producer's create time unless the topic sets message.timestamp.type=LogAppendTime), or did not stop at a tier partition's first record not yet due.".into(),
            "Forward a record only once the consumer's clock has reached its timestamp plus the tier's delay, and at the first record not yet due seek back to it and pause the partition (KafkaConsumer.pause) until it is due; it is a bug in the forwarder, not a configuration.".into(),
        ),
        DeliveredLate => (
            "Not forwarded in time: its tier partition had no forwarder reading it (a crashed forwarder's partitions wait session.timeout.ms and a rebalance for a new owner), the forwarder stayed paused past the record's due time, or a record not yet due ahead of it in the partition held it back.".into(),
            "Run more than one forwarder instance with a session.timeout.ms well below the queue's bound, resume each paused partition when its first record is due, and keep each tier's records in due order (one delay per tier topic); a bound of less than the group's failover time cannot hold through crashes.".into(),
        ),
        NoProgress => no_progress(anomaly.liveness.as_ref(), setup),
        DeadLetterDuplicate => (
            "The pipeline sent this record to its dead-letter topic more than once (or to both the dead-letter topic and its output): a send to the dead-letter topic is one more produce, and when it and the consumer's offset commit are not one atomic step, a crash or rebalance between them makes the next owner of the input partition fail the record again and dead-letter it again.".into(),
            "Send to the dead-letter topic in the transaction that commits the consumer's offsets (a transactional producer, sendOffsetsToTransaction, readers of the dead-letter topic at isolation.level=read_committed), or make whatever reads the dead-letter topic ignore copies of a record it has seen (by its original topic, partition and offset).".into(),
        ),
        DeadLetterLost => (
            "The pipeline gave up on this record and meant to send it to its dead-letter topic, but neither the dead-letter topic nor the output holds it, although the pipeline went on past it: the dead-letter send was lost or aborted while the consumer's offsets moved past the record.".into(),
            "Commit the consumer's offsets only after the dead-letter send is acknowledged (acks=all to a replicated dead-letter topic), or in the same transaction as the dead-letter send.".into(),
        ),
        ReplaySkip => (
            "The consumer was rewound (seek, or offsetsForTimes then seek; or its group's offsets reset) and went on past this offset of the replayed range without reading it again: the seek did not take, or the fetch position moved past records it never returned.".into(),
            "A seek sets the next fetch position and a consumer returns every record from there in order; nothing in the configuration skips records after a seek, so this is a client bug (records removed by retention in the meantime are excused).".into(),
        ),
        ReplayReordered => (
            "After the rewind the consumer returned a later offset of the partition before this one: records fetched from the old position were returned after the seek, or the seek came into effect late.".into(),
            "Kafka's seek discards what was fetched from the old position (the fetch buffer of a partition whose position changed), so the replay reads from the new position in order; it is a client bug, not a configuration.".into(),
        ),
        ReplayWrongOffset => (
            "The lookup by time (ListOffsets with a timestamp, offsetsForTimes) answered an offset other than the earliest whose record's CreateTime is at or after the time: the broker's time index or its search missed a record.".into(),
            "The broker must answer from the time index the first record at or after the time (UnifiedLog.fetchOffsetByTimestamp), below the high watermark (or last stable offset); it is a broker bug, not a configuration.".into(),
        ),
    }
}

/// A record appended twice.
fn duplicate(f: &Facts, setup: &Setup) -> (String, String) {
    if let Some(erased) = erased_by_power_loss(f) {
        return (
            format!("Duplicated because {erased}"),
            "flush.messages=1 (an fsync before a batch counts as appended, so the producer state survives with it), or replicas in separate failure domains (broker.rack) so that one outage cannot erase every copy, would have prevented it.".into(),
        );
    }
    let cause = format!(
        "Duplicated because the producer sent the same record again (a retry after a lost answer, or a copy made by the network) and the leader, which could not recognise it, appended it a second time.{}",
        idempotence_quietly_off(setup)
    );
    let fix = if setup.idempotence == Some(true) {
        "The idempotent producer should have prevented this: the leader must keep each producer's sequence numbers across leader changes, so look for a broker bug."
    } else {
        "enable.idempotence=true (with acks=all) would have prevented it: the leader recognises a repeated batch by its producer id and sequence number."
    };
    (cause, fix.into())
}

/// Why an idempotent leader took a retry for a new batch: the first copy, and with it
/// the producer's sequence numbers, went with the unflushed log in a power loss.
/// Kafka's `ProducerStateManager` keeps each producer's epoch and last five batches'
/// sequence numbers and rebuilds them from the log (and its snapshots) when the log is
/// loaded; a batch that never reached the disk leaves no trace there, so the retry of
/// it matches nothing remembered and is appended as new (an unknown producer's batch
/// is accepted since KIP-360, and one at sequence 0 always was).
fn erased_by_power_loss(f: &Facts) -> Option<String> {
    let (b1, o1, _, t1) = *f.led.first()?;
    let &(b2, o2, e2, t2) = f.led.iter().skip(1).find(|l| l.3 > t1)?;
    let lost: Vec<String> =
        f.lost_on_load.iter().filter(|(_, t)| (t1..=t2).contains(t)).map(|(b, _)| broker(*b)).collect();
    let reloaded = f.lost_on_load.iter().find(|(_, t)| (t1..=t2).contains(t))?.1;
    let power = f.faults.iter().find(|(t, k, _)| *k == FaultKind::PowerLoss && (t1..=reloaded).contains(t));
    let when = power.map(|(t, _, _)| format!(" at {}", at(*t))).unwrap_or_default();
    Some(format!(
        "{} appended it at offset {o1} at {}, then {} lost power{when} before it was flushed and came back with {} (from {} on); with the log went the leader's producer state (Kafka's ProducerStateManager rebuilds each producer's epoch and last five sequence numbers from the log it loads), so when the producer, which had no answer for that batch, sent it again, nothing recognised the sequence number and {} appended the retry as a new batch at offset {o2} in epoch {e2} at {}.",
        broker(b1),
        at(t1),
        and_list(&lost),
        if lost.len() > 1 { "logs that end before it" } else { "a log that ends before it" },
        at(reloaded),
        broker(b2),
        at(t2)
    ))
}

/// The sentence saying that idempotence was off only because the producer quietly
/// disabled Kafka 3.x's default, or nothing.
fn idempotence_quietly_off(setup: &Setup) -> String {
    if setup.idempotence_quietly_disabled != Some(true) {
        return String::new();
    }
    let why = match setup.acks {
        Some(acks) if acks != Acks::All => format!("acks={acks} contradicts it"),
        _ => "another setting contradicts it (retries=0, or more than 5 requests in flight)".to_string(),
    };
    format!(" The producer was not idempotent although Kafka 3.x enables idempotence by default: enable.idempotence was not set and {why}, so the producer quietly turned it off (ProducerConfig.postProcessAndValidateIdempotenceConfigs) instead of refusing the configuration.")
}

/// A skip told from the member that had the record: polled by it, committed past by it
/// (automatically, when auto-commit is on), and lost with it when it crashed before
/// processing it.
fn polled_committed_crashed(f: &Facts, setup: &Setup) -> Option<String> {
    let &(p, crashed_at) = f.crashed_unprocessed.first()?;
    let &(_, polled_at, _) = f.polled.iter().find(|x| x.0 == p)?;
    let (_, committed_at, member) = f.committed_past.iter().find(|c| c.0 == p && c.1 < crashed_at)?;
    let committed = if setup.auto_commit == Some(true) {
        "auto-committed its position past it (enable.auto.commit commits what poll() returned, not what was processed)"
    } else {
        "committed an offset past it"
    };
    Some(format!(
        "Skipped because member {member} ({}) polled it at {}, {committed} at {}, and crashed at {} before processing it: the partition's next owner started from that commit, so no member ever processed the record.",
        crate::check::describe::process(p),
        at(polled_at),
        at(*committed_at),
        at(crashed_at)
    ))
}

/// A record processed again because its consumer or group was rewound on purpose.
fn replayed(facts: &Facts) -> (String, String) {
    let (time, who) = &facts.rewound[0];
    (
        format!(
            "Processed twice because {who} rewound the partition at {} to before it: a replay re-delivers records their consumers already processed, and downstream sees them again.",
            at(*time)
        ),
        "Nothing to prevent if the replay was meant (that is what a replay does): processing must be idempotent (an upsert by key, or a store that remembers processed offsets) for a replay to be harmless.".into(),
    )
}

/// Lost, unseen or overwritten records, and truncations of committed ones.
fn loss(kind: AnomalyKind, f: &Facts, setup: &Setup) -> (String, String) {
    let what = match kind {
        AnomalyKind::Unseen => "Never read",
        AnomalyKind::InconsistentOffsets | AnomalyKind::ReplicaDivergence => "Replaced",
        AnomalyKind::CommittedTruncation => "Truncated although committed",
        _ => "Lost",
    };
    let acked = match (&f.acked, f.send_ok) {
        (Some(_), _) => String::new(),
        (None, Some(t)) if setup.acks == Some(Acks::None) => {
            format!(" after the producer counted it as sent with acks=0 at {}", at(t))
        }
        (None, Some(t)) => format!(" after the producer was told it succeeded at {}", at(t)),
        (None, None) => String::new(),
    };
    if let Some(clause) = retried_and_read(f) {
        return (format!("Not lost: {clause}."), loss_fix(f, setup).to_string());
    }
    let leader = f.led.first().map(|l| l.0);
    let struck =
        leader.and_then(|l| f.faults.iter().find(|(_, k, targets)| targets.contains(&broker(l)) && !k.is_undo()));
    let fetched: Vec<String> =
        f.fetched.iter().filter(|(_, t)| struck.is_none_or(|s| *t < s.0)).map(|(b, _)| broker(*b)).collect();
    let by = leader.map_or("its leader".to_string(), broker);
    let mut because = match (&f.acked, f.led.first()) {
        (Some((b, acks, t)), _) => {
            format!("{what} because {} acknowledged it with acks={acks} at {}", broker(*b), at(*t))
        }
        (None, Some(&(b, o, _, t))) => {
            format!("{what} because {} appended it at offset {o} at {}{acked}", broker(b), at(t))
        }
        (None, None) => format!("{what} because of what happened to its partition{acked}"),
    };
    if let Some(isr) =
        f.isr_at_ack.as_ref().filter(|isr| isr.len() == 1 && f.acked.as_ref().is_some_and(|a| a.1 == Acks::All))
    {
        because += &format!(" while the ISR was {} alone", broker(isr[0]));
    }
    // What happened next, told in the order it happened (clauses stamped with their
    // simulated time, sorted stably: a truncation before the new leader's write reads as
    // it happened, not in the order the facts were found).
    let mut next: Vec<(u64, String)> = Vec::new();
    if let Some((t, k, targets)) = struck {
        let by = if targets.len() > 1 { and_list(targets) } else { by.clone() };
        let verb = struck_verb(*k);
        let after = if fetched.is_empty() {
            " before any follower fetched it".to_string()
        } else {
            format!(" after {} fetched it", and_list(&fetched))
        };
        next.push((*t, format!("{by} {verb} at {}{after}", at(*t))));
    }
    if let Some(&(t, b, epoch, end)) = f.new_leaders.iter().find(|l| Some(l.1) != leader) {
        let how = if f.unclean { "uncleanly, from outside the ISR, " } else { "" };
        let mut clause = format!("{} became leader {how}in epoch {epoch} at {} with log end {end}", broker(b), at(t));
        if let Some((_, wt, v, _)) = f.overwritten.filter(|o| o.0 == b) {
            clause += &format!(" and wrote value {v} at its offset at {}", at(wt));
        }
        next.push((t, clause));
    }
    if let Some((b, t, reason)) = f.expired.first() {
        next.push((
            *t,
            format!("{} deleted it at {} by retention ({reason}) before anyone read it", broker(*b), at(*t)),
        ));
    }
    if let Some((who, t)) = brokers_from(&f.deleted) {
        next.push((
            t,
            format!(
                "its topic was deleted (DeleteTopics) and {who} dropped the partition with its log from {} on, before anyone read it",
                at(t)
            ),
        ));
    }
    if let Some((who, t)) = brokers_from(&f.lost_on_load) {
        next.push((t, format!("{who} came back from {} on without it, because it was only in the page cache", at(t))));
    }
    if let Some((b, t, v, _)) =
        f.overwritten.filter(|o| f.new_leaders.iter().find(|l| Some(l.1) != leader).is_none_or(|l| l.1 != o.0))
    {
        next.push((t, format!("{} wrote value {v} at its offset at {}", broker(b), at(t))));
    }
    if let Some((b, t, reason)) = f.truncated.first() {
        next.push((*t, format!("{} truncated it at {} ({reason})", broker(*b), at(*t))));
    }
    next.sort_by_key(|(t, _)| *t);
    for (_, clause) in next {
        because += &format!("; {clause}");
    }
    because.push('.');
    (because, loss_fix(f, setup).to_string())
}

/// The configuration that would have prevented a loss.
fn loss_fix(f: &Facts, setup: &Setup) -> &'static str {
    let fix = if !f.deleted.is_empty() {
        "Nothing in the producer or replication settings: delete a topic only after its producers stopped and every group drained it, and set delete.topic.enable=false on the controllers where a deletion must never happen by accident."
    } else if !f.expired.is_empty() && f.truncated.is_empty() {
        "retention.ms or retention.bytes larger than the longest time a record waits to be read would have kept it."
    } else if !f.lost_on_load.is_empty() {
        "flush.messages=1 (an fsync before each record counts as appended), or replicas in separate failure domains (broker.rack), would have prevented the loss."
    } else if setup.truncation == Some(TruncationMode::LeaderEpochKip101) && !f.truncated.is_empty() {
        "KIP-279's leader-epoch truncation (truncation = \"leader-epoch\", Kafka 2.0+), which truncates at the last epoch both replicas know, would have prevented it."
    } else if f.truncated.iter().any(|t| t.2 == TruncationReason::HighWatermark)
        || setup.truncation == Some(TruncationMode::Legacy)
    {
        "Leader-epoch truncation (truncation = \"leader-epoch\", KIP-101 and KIP-279, Kafka 2.0+) would have prevented it."
    } else if setup.acks == Some(Acks::None) {
        "acks=all with min.insync.replicas=2 would have made the producer wait for an answer, and retry or report the failure."
    } else if setup.acks == Some(Acks::Leader) {
        "acks=all with min.insync.replicas=2 would have prevented the loss."
    } else if f.unclean || setup.unclean_election == Some(true) {
        if setup.min_insync_replicas == Some(1) {
            "min.insync.replicas=2 (with replication factor 3), or unclean.leader.election.enable=false, would have prevented the loss."
        } else {
            "unclean.leader.election.enable=false would have prevented the loss (at the price of the partition staying offline)."
        }
    } else if setup.min_insync_replicas == Some(1) {
        "min.insync.replicas=2 with replication factor 3 would have prevented the loss."
    } else {
        "acks=all, min.insync.replicas=2, unclean.leader.election.enable=false and leader-epoch truncation together prevent this; one of them was defeated here."
    };
    fix
}

/// A record whose first copy's answer never reached the producer, which sent it again:
/// `broker-1 appended it at offset 3967 in epoch 0 at 8.573 s, but broker-1 crashed at
/// 8.600 s before its answer reached the producer, which sent it again; broker-2 appended
/// the retry at offset 3976 in epoch 1 at 12.271 s`, and what became of the first copy.
/// Read from the trace: two appends as leader, the producer told the second's offset.
fn retried(f: &Facts) -> Option<String> {
    let ((b1, o1, e1, t1), (b2, o2, e2, t2)) = f.retried()?;
    let fault =
        f.faults.iter().find(|(t, k, targets)| (t1..=t2).contains(t) && targets.contains(&broker(b1)) && !k.is_undo());
    let lost_answer = match fault {
        Some((t, kind, _)) => {
            format!("{} {} at {} before its answer reached the producer", broker(b1), struck_verb(*kind), at(*t))
        }
        None => "the producer was told of another copy instead (a retry after its answer was lost, or a copy the network made)".to_string(),
    };
    let again = if fault.is_some() { ", which sent it again" } else { "" };
    let mut clause = format!(
        "{} appended it at offset {o1} in epoch {e1} at {}, but {lost_answer}{again}; {} appended the retry at offset {o2} in epoch {e2} at {}",
        broker(b1),
        at(t1),
        broker(b2),
        at(t2)
    );
    if let Some((b, t, reason)) = f.truncated.iter().find(|tr| tr.1 > t1) {
        clause += &format!(", and {} truncated the first copy at {} ({reason})", broker(*b), at(*t));
    } else if let Some((who, t)) = brokers_from(&f.lost_on_load) {
        clause +=
            &format!(", and {who} came back from {} on without the first copy (it was only in the page cache)", at(t));
    }
    Some(clause)
}

/// [`retried`], when the retry is the copy consumers read: the record is not lost.
fn retried_and_read(f: &Facts) -> Option<String> {
    let (_, retry) = f.retried()?;
    let read: Vec<String> =
        f.polled.iter().filter(|p| p.2 == retry.1).map(|p| crate::check::describe::process(p.0)).collect();
    let first_reader = read.first()?;
    Some(format!("{}; {first_reader} read it at offset {}", retried(f)?, retry.1))
}

/// What a fault did to a broker, as the cause sentence says it.
fn struck_verb(kind: FaultKind) -> String {
    match kind {
        FaultKind::Crash => "crashed".to_string(),
        FaultKind::PowerLoss => "lost power".to_string(),
        FaultKind::Stop => "was stopped".to_string(),
        FaultKind::Pause => "was paused".to_string(),
        FaultKind::Partition | FaultKind::Clog => "was cut off from the cluster".to_string(),
        other => format!("was struck by a {other} fault"),
    }
}

/// The brokers of `(broker, time)` facts as a list as the story writes it, and the first
/// one's time (simulated ns); `None` without facts.
fn brokers_from(facts: &[(u32, u64)]) -> Option<(String, u64)> {
    let (_, first) = facts.first()?;
    let who: Vec<String> = facts.iter().map(|(b, _)| broker(*b)).collect();
    Some((and_list(&who), *first))
}

/// Why the cluster did not recover, from what the liveness phase found still wrong when
/// it ran out of time.
fn no_progress(cause: Option<&LivenessCause>, setup: &Setup) -> (String, String) {
    let (why, fix) = if let Some(LivenessCause::GroupsBehind { .. }) = cause {
        (
            "the consumer group did not commit up to the end of every partition: its members stopped consuming or committing (a member that never rejoined, a rebalance that did not settle, or processing slower than the records arrive)",
            "Give members time to rejoin and keep up after a failure: max.poll.interval.ms above the time one poll's records take to process, session.timeout.ms above the longest pause, and a processing rate above the produce rate.",
        )
    } else if let Some(LivenessCause::DelayedNotForwarded { .. }) = cause {
        (
            "a delay queue's forwarders did not forward every record of its tiers: no forwarder owned a tier partition (none running, or a rebalance that did not settle), or forwarding kept failing",
            "Run forwarders that keep up with the tiers and can rejoin after a failure (session.timeout.ms and max.poll.interval.ms above the longest pause), and give the liveness phase longer than the longest tier delay (liveness_timeout).",
        )
    } else if let Some(LivenessCause::SendsUnanswered { .. }) = cause {
        (
            "producers were still waiting for answers to sends that no leader could accept or refuse",
            "Bound every send with delivery.timeout.ms and keep enough in-sync replicas alive that a leader can answer (replication factor 3, min.insync.replicas=2).",
        )
    } else if let Some(LivenessCause::OpenTransaction { .. }) = cause {
        (
            "a transaction nobody ended held the last stable offset below the high watermark: read_committed consumers read nothing past the first offset of a transaction until it commits or aborts, so the committed records of every later transaction waited behind it; its producer's application had stopped in the middle of it (or its process died with no successor under its transactional.id), and transaction.timeout.ms had not passed, so the coordinator had not aborted it yet",
            "Lower transaction.timeout.ms (Kafka's default is 60 s) to bound how long an abandoned transaction can hold consumers: the coordinator aborts it under a bumped epoch, which also fences the stalled producer when it comes back. A producer restarted under the same transactional.id aborts it at once with initTransactions; kafka-transactions.sh find-hanging and abort (KIP-664) end one by hand.",
        )
    } else if let Some(LivenessCause::QuorumNotRecovered { .. }) = cause {
        (
            "the KRaft controller quorum did not recover after every node was restarted: no active controller committed metadata, or brokers stayed fenced or behind the metadata log",
            "Keep a majority of controllers up and reachable (three controllers in three failure domains), and broker.session.timeout.ms comfortably above broker.heartbeat.interval.ms.",
        )
    } else if cause.is_some_and(LivenessCause::is_leadership) {
        (
            if setup.unclean_election == Some(false) {
                "a partition found no in-sync leader, or its replicas did not rejoin the ISR, after every node was restarted; with unclean.leader.election.enable=false no out-of-sync replica may lead"
            } else {
                "a partition found no leader, or its replicas did not rejoin the ISR, after every node was restarted"
            },
            "Keep enough in-sync replicas alive (replication factor 3, min.insync.replicas=2) so that one failure never leaves a partition without an in-sync leader.",
        )
    } else {
        (
            "the final drain could not read every partition to its high watermark after the faults healed",
            "Nothing in the configuration explains this; look at the partitions named above in `kafkasim run FILE --seed N --trace`.",
        )
    };
    (format!("No progress because {why}."), fix.to_string())
}

/// `a`, `a and b`, `a, b and c`.
fn and_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// A record retention deleted before `who` got to it.
fn expired(f: &Facts, who: &str) -> (String, String) {
    let (b, t, reason) = f.expired[0];
    (
        format!("Skipped because {} deleted the record with its segment at {} ({reason}) before {who}: the consumer's position fell below the log start and auto.offset.reset moved it forward.", broker(b), at(t)),
        "retention.ms or retention.bytes larger than the longest lag a consumer can fall into (or a consumer that keeps up) would have prevented it.".into(),
    )
}

/// Records observed out of order, or skipped, by producers and consumers.
fn order(kind: AnomalyKind, f: &Facts, setup: &Setup) -> (String, String) {
    let reordered_by_retry = setup.idempotence == Some(false) && setup.max_in_flight.is_some_and(|n| n > 1);
    if !f.expired.is_empty() {
        return expired(f, "the consumer reached it");
    }
    if let (AnomalyKind::PollSkip | AnomalyKind::IntPollSkip, [first, .., last], false) =
        (kind, f.led.as_slice(), f.polled.is_empty())
    {
        // The checker's note says it too: the skip is a duplicate's shadow.
        let (duplicated, fix) = duplicate(f, setup);
        return (
            format!(
                "Counted as skipped, not missed: the record was appended twice (offsets {} and {}), the log's order counts a record at its last copy, so a poll that read it at its first copy seems to jump over the records in between, and the consumer did read it. The duplicate is what went wrong. {duplicated}",
                first.1, last.1
            ),
            fix,
        );
    }
    if let (Some(clause), AnomalyKind::NonmonotonicSend | AnomalyKind::IntNonmonotonicSend) = (retried(f), kind) {
        return (
            format!(
                "Acknowledged out of the order it was sent because it was retried: {clause}. The retry landed wherever the log ended when it arrived, behind records sent after it.{}",
                idempotence_quietly_off(setup)
            ),
            order_fix(setup).into(),
        );
    }
    if !f.truncated.is_empty() || f.overwritten.is_some() {
        let (b, t, _) = f.truncated.first().cloned().unwrap_or((
            f.overwritten.map_or(0, |o| o.0),
            f.overwritten.map_or(0, |o| o.1),
            TruncationReason::LeaderEpoch,
        ));
        let (cause, fix) = loss(AnomalyKind::LostWrite, f, setup);
        return (
            format!("Out of order because the log changed under the consumer: {} rewrote this part of the log at {}. {cause}", broker(b), at(t)),
            fix,
        );
    }
    if kind == AnomalyKind::PollSkip && !reordered_by_retry {
        return (
            "Skipped because the consumer's position jumped past records that are in the log: its position was moved (an offset reset, a seek, or a committed offset handed over in a rebalance) or the records landed behind it.".into(),
            "Check where the consumer's position came from: auto.offset.reset=earliest and committing only processed offsets keep a consumer from jumping over records.".into(),
        );
    }
    let what = match kind {
        AnomalyKind::NonmonotonicSend => "Acknowledged at a lower offset than a record the producer sent earlier",
        AnomalyKind::IntNonmonotonicSend => {
            "Acknowledged at a lower offset than a record the same transaction sent before it"
        }
        AnomalyKind::PollSkip => "Skipped by a consumer",
        AnomalyKind::IntPollSkip => "Skipped within one poll",
        AnomalyKind::IntNonmonotonicPoll => "Read out of order within one poll",
        _ => "Read out of order",
    };
    let cause = if reordered_by_retry {
        format!("{what} because a batch that failed and was retried landed behind batches sent after it: with {} requests in flight and no idempotence nothing keeps them in order.", setup.max_in_flight.unwrap_or(0))
    } else {
        format!("{what} because the records reached the log in a different order than they were sent (a retry, or a network that reorders or duplicates requests).")
    };
    let cause = if matches!(kind, AnomalyKind::NonmonotonicSend | AnomalyKind::IntNonmonotonicSend) {
        cause + &idempotence_quietly_off(setup)
    } else {
        cause
    };
    (cause, order_fix(setup).to_string())
}

/// What keeps a producer's records in the order it sent them.
fn order_fix(setup: &Setup) -> &'static str {
    if setup.idempotence == Some(true) {
        "The idempotent producer should have kept the order: the leader refuses a batch whose sequence number does not follow the last; look for a broker bug."
    } else {
        "enable.idempotence=true (order kept with up to 5 requests in flight), or max.in.flight.requests.per.connection=1, would have prevented it."
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::TruncationReason;

    #[test]
    fn a_loss_is_told_in_the_order_things_happened() {
        // KIP-101's story (kip101-truncate-to-hw): broker-3 truncates the record at 5.3 s
        // and only later becomes leader and writes another value at its offset.
        const S: u64 = 1_000_000_000;
        let facts = Facts {
            led: vec![(1, 841, 0, 3 * S)],
            fetched: vec![(3, 3 * S + 100)],
            acked: Some((1, Acks::All, 3 * S + 200)),
            faults: vec![(3 * S + 400, FaultKind::Crash, vec!["broker-1".into()])],
            truncated: vec![(3, 5 * S + 300, TruncationReason::HighWatermark)],
            new_leaders: vec![(7 * S + 200, 3, 2, 841)],
            overwritten: Some((3, 7 * S + 300, 2081, 2)),
            ..Facts::default()
        };
        let anomaly = Anomaly::new(AnomalyKind::LostWrite, String::new(), Vec::new());
        let (cause, _) = cause(&anomaly, &facts, &Setup::default());
        let crashed = cause.find("crashed").expect(&cause);
        let truncated = cause.find("truncated it").expect(&cause);
        let led = cause.find("became leader").expect(&cause);
        assert!(crashed < truncated && truncated < led, "{cause}");
    }
}

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
use crate::scenario::Lang;

/// The cause and the prevention of an anomaly, one sentence each, in `lang`.
pub(crate) fn cause(anomaly: &Anomaly, facts: &Facts, setup: &Setup, lang: Lang) -> (String, String) {
    use AnomalyKind::*;
    match anomaly.kind {
        LostWrite | Unseen | CommittedTruncation | InconsistentOffsets | ReplicaDivergence => {
            loss(anomaly.kind, facts, setup, lang)
        }
        Duplicate => duplicate(facts, setup, lang),
        NonmonotonicSend | IntNonmonotonicSend | NonmonotonicPoll | IntNonmonotonicPoll | PollSkip | IntPollSkip => {
            order(anomaly.kind, facts, setup, lang)
        }
        IntSendSkip => (
            lang.pick("Other records landed between two sends of one transaction: a transaction's writes are not isolated from other producers', so theirs interleave with its own in the log.", "同一事务的两次发送之间落入了其他消息：事务的写入与其他生产者的写入并不隔离，所以它们在日志中与事务自己的消息交错。").into(),
            lang.pick("Nothing to prevent: Kafka transactions make a transaction's records visible together, not contiguous, and Jepsen allows int-send-skip.", "无需预防：Kafka 事务让一个事务的消息一起可见，而不是连续存放，Jepsen 允许 int-send-skip。").into(),
        ),
        G0 => (
            lang.pick("A cycle of write order: on some partition each operation's record landed just before the next one's, around in a circle, so no order of the operations explains every partition's log. Kafka does not isolate writes (sends of different producers interleave in every log), so Jepsen allows G0; without transactions it comes from a record appended twice (a duplicate), whose second copy moves it after its neighbours.", "写入顺序成环：在某些分区上，每个操作的消息都恰好落在下一个操作的消息之前，绕成一圈，因此没有任何操作顺序能解释每个分区的日志。Kafka 不隔离写入（不同生产者的发送在每个日志中交错），所以 Jepsen 允许 G0；没有事务时，它来自一条被追加了两次的消息（重复），其第二份副本把它移到了邻居之后。").into(),
            lang.pick("Nothing to prevent for transactions (Jepsen allows G0: Kafka transactions give atomic visibility, not write isolation); where a duplicate made it, enable.idempotence=true would have prevented it.", "对事务而言无需预防（Jepsen 允许 G0：Kafka 事务提供原子可见性，而非写入隔离）；若是重复造成的，enable.idempotence=true 本可以预防。").into(),
        ),
        G1c => (
            lang.pick("Circular information flow: each operation of the cycle read a record the previous one wrote, or wrote just after it, so none of them can have come first. With write-order (ww) edges Jepsen expects such cycles from Kafka's lack of write isolation; a cycle of reads (wr) only means transactions each saw the other's records, so a transaction's records were visible before it committed.", "信息循环流动：环中每个操作都读到了前一个操作写入的消息，或紧接其后写入，因此没有哪个操作能排在最前。含写入顺序（ww）边的环，Jepsen 认为来自 Kafka 缺乏写入隔离；只有读（wr）边的环则说明事务彼此看到了对方的消息，也就是事务的消息在提交之前就可见了。").into(),
            lang.pick("Transactional producers with consumers at isolation.level=read_committed keep a transaction's records invisible until it commits; a cycle of wr edges only is a bug, not a configuration.", "事务型生产者配合 isolation.level=read_committed 的消费者，会让事务的消息在提交前不可见；只有 wr 边的环是 bug，不是配置问题。").into(),
        ),
        ExactlyOnce => (
            lang.pick("The pipeline forwarded this input record more or less than once: a copy appears when the output send and the consumer's offset commit are not one atomic step (a crash or rebalance between them makes the next owner forward the record again), and a record goes missing when offsets are committed past records whose output was aborted or lost.", "管道转发这条输入消息的次数不是恰好一次：当输出发送与消费者的位移提交不是同一个原子步骤时会出现副本（两者之间的崩溃或再均衡让下一个所有者再次转发这条消息）；当位移被提交越过了输出被中止或丢失的消息时，消息就会缺失。").into(),
            lang.pick("Exactly-once processing: a transactional producer (transactional.id) that sends the output and commits the consumer's offsets in the same transaction (sendOffsetsToTransaction), with its consumers at isolation.level=read_committed.", "精确一次处理：使用事务型生产者（transactional.id），在同一个事务中发送输出并提交消费者的位移（sendOffsetsToTransaction），消费者使用 isolation.level=read_committed。").into(),
        ),
        KeyReordered => (
            lang.pick("Read before an earlier record of its key because the two were in different partitions: Kafka orders records only within a partition, and a key stays in one only while murmur2(key) % partitions stays the same, so when partitions are added the key's new records go to another partition and a consumer may read them before the older ones, with no error anywhere.", "因为两条消息位于不同分区，它在同键的更早消息之前被读到：Kafka 只在分区内保证顺序，一个键只有在 murmur2(key) % 分区数 不变时才留在同一个分区，所以增加分区后该键的新消息会进入另一个分区，消费者可能先读到它们再读到旧消息，而且任何地方都不报错。").into(),
            lang.pick("Keep the partition count of a keyed topic fixed (create it with the partitions it will need), or, before adding partitions, stop the producers and let consumers drain the old partitions; a custom partitioner that keeps existing keys where they were does the same.", "保持有键主题的分区数不变（创建时就给足它将需要的分区），或者在增加分区之前停止生产者、让消费者读完旧分区；让已有的键留在原处的自定义分区器也能做到。").into(),
        ),
        G1a => (
            lang.pick(
                format!(
                    "Seen although its send was reported as failed{}: the error came after the leader had appended the record (a timeout or NOT_ENOUGH_REPLICAS_AFTER_APPEND), so a failure only means the outcome is unknown.",
                    facts.send_failed.as_ref().map(|(t, e)| format!(" ({e} at {})", at(*t))).unwrap_or_default()
                ),
                format!(
                    "尽管它的发送被报告为失败{}，它还是被读到了：错误发生在领导者已经追加这条消息之后（超时或 NOT_ENOUGH_REPLICAS_AFTER_APPEND），所以失败只意味着结果未知。",
                    facts.send_failed.as_ref().map(|(t, e)| format!("（{} 时的 {e}）", at(*t))).unwrap_or_default()
                ),
            ),
            lang.pick("No producer setting makes a failed send certain; treat failures as unknown, let the idempotent producer retry (enable.idempotence=true), or use transactions for an exact outcome.", "没有任何生产者设置能让失败的发送变得确定；把失败当作结果未知，让幂等生产者重试（enable.idempotence=true），或用事务获得确定的结果。").into(),
        ),
        PrecommittedRead => (
            lang.pick("Read by the transaction that wrote it, before that transaction committed: the broker served records of an open transaction to a read_committed poller, or the client read its own uncommitted writes from a local buffer.", "在写入它的事务提交之前就被该事务读到：broker 向 read_committed 的拉取者提供了未完成事务的消息，或者客户端从本地缓冲区读到了自己未提交的写入。").into(),
            lang.pick("Kafka hides a transaction's records from every read_committed consumer, its own producer's included, until the commit marker is written (isolation.level=read_committed reads up to the last stable offset); it is a bug, not a configuration.", "Kafka 在提交标记写入之前，对每个 read_committed 消费者（包括该事务自己的生产者所在的应用）隐藏事务的消息（isolation.level=read_committed 只读到最后稳定位移）；这是 bug，不是配置问题。").into(),
        ),
        ConsumeSkip if !facts.expired.is_empty() => {
            expired(facts, lang.pick("any member of the group read it", "组中任何成员读到它"), lang)
        }
        ConsumeSkip => (
            polled_committed_crashed(facts, setup, lang).unwrap_or_else(|| lang.pick("Skipped because the group committed an offset past the record before any member had finished processing it, and the member then crashed or lost the partition: the next owner started from the commit.", "被跳过：在任何成员处理完这条消息之前，组就提交了越过它的位移，随后该成员崩溃或失去了分区：下一个所有者从那次提交开始。").into()),
            if setup.auto_commit == Some(true) {
                lang.pick("enable.auto.commit=false with a commit after processing (commitSync of the processed offsets) would have prevented it.", "enable.auto.commit=false 并在处理之后提交（对已处理的位移 commitSync），本可以预防。").into()
            } else {
                lang.pick("Committing only offsets whose records are processed (commit after processing, never before) would have prevented it.", "只提交其消息已处理完的位移（处理之后再提交，绝不提前），本可以预防。").into()
            },
        ),
        ConsumeDuplicate if !facts.rewound.is_empty() => replayed(facts, lang),
        ConsumeDuplicate => (
            lang.pick("Processed twice because a member processed the record and stopped (crash, rebalance or session timeout) before committing it, so the next owner resumed from the older committed offset.", "被处理了两次：一个成员处理了这条消息，但在提交之前停下了（崩溃、再均衡或会话超时），于是下一个所有者从更早的已提交位移恢复。").into(),
            lang.pick("At-least-once delivery allows this; commit more often, make processing idempotent, or use transactions (read-process-write with exactly-once) to prevent it.", "至少一次投递允许这种情况；更频繁地提交、让处理幂等，或使用事务（精确一次的读-处理-写）来预防。").into(),
        ),
        PositionCarried => (
            lang.pick("Skipped because the topic was deleted and created again under the same name while this consumer ran: Kafka's consumer keeps its position by topic name (SubscriptionState has no topic ids), so when its metadata showed the new topic it fetched the new log at the offset it had reached in the old one. A fetch above the new log's end answers OFFSET_OUT_OF_RANGE and resets by auto.offset.reset; a fetch at or below it reads on silently, past the new topic's first records; KIP-320 validation, when it runs, clamps the position to the new log's end, whatever auto.offset.reset says.", "被跳过：在这个消费者运行期间，主题被删除后又以同名重新创建。Kafka 消费者按主题名保存位置（SubscriptionState 没有主题 id），所以当它的元数据显示出新主题时，它在旧主题中到达的位移处拉取新日志。拉取位置高于新日志末端时返回 OFFSET_OUT_OF_RANGE，按 auto.offset.reset 重置；等于或低于末端时则悄无声息地继续读，越过新主题最前面的消息；KIP-320 的校验一旦运行，会把位置压到新日志的末端，不管 auto.offset.reset 怎么设。").into(),
            lang.pick("Do not reuse a deleted topic's name under running clients: stop or unsubscribe the consumers before deleting, re-create the topic, then let them start from the new topic's beginning (auto.offset.reset=earliest with no committed offset), or give the new topic a new name; turn off auto.create.topics.enable so that clients cannot re-create it themselves.", "不要在客户端运行时复用被删除主题的名字：删除前先停止消费者或取消订阅，重新创建主题，然后让它们从新主题的开头开始（auto.offset.reset=earliest 且没有已提交位移），或者给新主题换个名字；关闭 auto.create.topics.enable，使客户端不能自行重新创建它。").into(),
        ),
        CrossIncarnationCommit => (
            lang.pick("The member committed the position it held in the deleted topic after a topic of the same name had been created: OffsetCommit names topics, not topic ids, and the coordinator checks only that the name exists, so it stored that offset for the new topic, whose next owner starts there and never reads what lies below it.", "同名主题被创建之后，该成员提交了它在已删除主题中持有的位置：OffsetCommit 使用主题名而不是主题 id，协调者只检查这个名字是否存在，于是把这个位移存为新主题的位移，新主题的下一个所有者从那里开始，永远读不到它之下的内容。").into(),
            lang.pick("Stop a group's members (or unsubscribe them) before deleting its topic and while the name is reused; after re-creating it, reset the group's offsets to the new topic's beginning (kafka-consumer-groups --reset-offsets --to-earliest) before the members start.", "在删除主题之前以及名字被复用期间，停止消费者组的成员（或取消订阅）；重新创建之后、成员启动之前，把组的位移重置到新主题的开头（kafka-consumer-groups --reset-offsets --to-earliest）。").into(),
        ),
        CommitRegression => (
            lang.pick("The committed offset went backwards because a member committed a position older than the group's last commit: it consumed from a stale position (an old fetch position after a rebalance, or a commit that arrived late).", "已提交位移倒退了：一个成员提交了比该组上次提交更旧的位置，它从过时的位置消费（再均衡后的旧拉取位置，或迟到的提交）。").into(),
            lang.pick("Commit only from the current generation and reset the position to the committed offset after every rebalance; the coordinator's generation check refuses stale members' commits.", "只在当前代中提交，并在每次再均衡后把位置重置为已提交位移；协调者的代检查会拒绝过时成员的提交。").into(),
        ),
        SplitOwnership => (
            lang.pick("Two members owned one partition in the same generation, so both consumed it: the assignment handed out was not a partition of the topic's partitions among the members.", "两个成员在同一代中拥有同一个分区，所以都消费了它：分发出去的分配方案没有把主题的分区不重不漏地分给各成员。").into(),
            lang.pick("A correct assignor and the coordinator's generation fencing prevent this; it is a bug, not a configuration.", "正确的分配器加上协调者的代隔离可以防止这种情况；这是 bug，不是配置问题。").into(),
        ),
        ReassignedBeforeRevoked => (
            lang.pick("A member was given a partition in a generation whose other member still owned it when it rejoined: the owner had not revoked it, so both may have consumed it while the handover was under way.", "一个成员在某一代中被分配了一个分区，而该代的另一个成员重新加入时仍拥有它：原所有者没有撤销它，所以交接期间两者可能都消费了它。").into(),
            lang.pick("The cooperative protocol forbids it (CooperativeStickyAssignor leaves a partition unassigned until its owner revoked it and rejoined; the eager protocol revokes everything before rejoining); it is an assignor or client bug, not a configuration.", "协作式协议禁止这种情况（CooperativeStickyAssignor 会让分区保持未分配，直到其所有者撤销它并重新加入；急切式协议在重新加入前撤销全部分区）；这是分配器或客户端的 bug，不是配置问题。").into(),
        ),
        StaleCommitAccepted => (
            lang.pick("The coordinator accepted a commit from a member that was no longer in the group's current generation (or whose static instance another process had taken over): a zombie's offsets overwrote those of the partition's new owner.", "协调者接受了一个已不在组当前代中的成员的提交（或其静态实例已被另一个进程接管）：僵尸成员的位移覆盖了分区新所有者的位移。").into(),
            lang.pick("The coordinator's fencing refuses such commits (ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID, FENCED_INSTANCE_ID); no configuration makes a zombie's commit safe, so this is a coordinator bug.", "协调者的隔离机制会拒绝这样的提交（ILLEGAL_GENERATION、UNKNOWN_MEMBER_ID、FENCED_INSTANCE_ID）；没有任何配置能让僵尸的提交变得安全，所以这是协调者的 bug。").into(),
        ),
        StaticMemberRebalanced => (
            lang.pick("A static member restarted and came back before its session expired, and its group rebalanced at its return although nothing else had changed: every member paused and partitions may have moved.", "一个静态成员重启并在会话过期之前回来，尽管别的什么都没变，它的组却在它回来时再均衡了：所有成员都暂停，分区可能已经移动。").into(),
            lang.pick("Static membership (group.instance.id, Kafka 2.3+) makes the coordinator hand a returning instance its partitions back without a rebalance (classic: a stable group's JoinGroup under a new member id; consumer protocol: a leave with epoch -2 and a rejoin). A rebalance there is a coordinator or client bug; keep restarts shorter than session.timeout.ms.", "静态成员（group.instance.id，Kafka 2.3+）让协调者无需再均衡就把分区交还给回来的实例（classic 协议：稳定组中以新成员 id 发出的 JoinGroup；consumer 协议：纪元为 -2 的离开再重新加入）。那里出现再均衡是协调者或客户端的 bug；让重启时间短于 session.timeout.ms。").into(),
        ),
        HwRegression => (
            lang.pick("The leader's high watermark went backwards within one leadership, so consumers may have read records that were not committed.", "领导者的高水位在同一任期内倒退了，所以消费者可能读到了未提交的消息。").into(),
            lang.pick("A leader must never lower its high watermark; leader-epoch truncation (truncation = \"leader-epoch\") keeps followers from feeding it stale state.", "领导者绝不能降低自己的高水位；领导者纪元截断（truncation = \"leader-epoch\"）防止追随者把过时的状态传给它。").into(),
        ),
        MultipleLeaders => (
            lang.pick("Two brokers accepted writes as leader of one partition in the same leader epoch: the epoch no longer fences the old leader.", "两个 broker 在同一个领导者纪元中都作为同一分区的领导者接受了写入：纪元不再能隔离旧领导者。").into(),
            lang.pick("The leader epoch must fence every old leader (a zombie's writes are refused by epoch); no configuration makes two leaders of one epoch safe.", "领导者纪元必须隔离每个旧领导者（僵尸的写入按纪元被拒绝）；没有任何配置能让同一纪元的两个领导者变得安全。").into(),
        ),
        QuorumMultipleLeaders => (
            lang.pick("Two controllers led the KRaft quorum in the same Raft epoch: a voter granted two votes in one epoch, or a candidate counted votes without a majority.", "两个控制器在同一个 Raft 纪元中领导了 KRaft 仲裁：某个投票者在一个纪元中投了两票，或某个候选者在没有多数票时就计票当选。").into(),
            lang.pick("Raft's election safety: each voter persists its vote (quorum-state) before answering, and a candidate needs a majority of the voters; no configuration makes two leaders of one epoch safe.", "Raft 的选举安全性：每个投票者在回答之前持久化自己的投票（quorum-state），候选者需要多数投票者的支持；没有任何配置能让同一纪元的两个领导者变得安全。").into(),
        ),
        MetadataDivergence => (
            lang.pick("A metadata log entry that a controller had committed was later different, truncated, or missing from a new quorum leader: a controller committed without a majority, or a leader was elected without the committed entries.", "控制器已提交的一条元数据日志条目，后来在新的仲裁领导者上变了、被截断或缺失：某个控制器在没有多数的情况下提交了，或者一个没有已提交条目的领导者当选了。").into(),
            lang.pick("Raft commits an entry only once a majority holds it, and votes only for candidates whose log is at least as up to date; a quorum of 3 or 5 voters with durable logs (power loss included) keeps committed metadata.", "Raft 只在多数节点持有某条目后才提交它，并且只给日志至少同样新的候选者投票；由 3 个或 5 个投票者组成、日志持久（包括断电时）的仲裁能保住已提交的元数据。").into(),
        ),
        MetadataGap => (
            lang.pick("A node applied metadata records out of log order or skipped some, so its view of the cluster (leaders, ISRs, fenced brokers) is not any state the controller ever decided.", "某个节点没有按日志顺序应用元数据记录，或跳过了一些，所以它看到的集群（领导者、ISR、被隔离的 broker）不是控制器曾经决定过的任何状态。").into(),
            lang.pick("Nodes must apply committed metadata in offset order, from the log or a snapshot; it is a bug, not a configuration.", "节点必须按位移顺序应用已提交的元数据，来源可以是日志或快照；这是 bug，不是配置问题。").into(),
        ),
        DeliveredEarly => (
            lang.pick("Forwarded before it was due: the forwarder judged the record due by a clock or a timestamp other than its create time plus its tier's delay (a record's timestamp is its producer's create time unless the topic sets message.timestamp.type=LogAppendTime), or did not stop at a tier partition's first record not yet due.", "在到期之前被转发：转发器依据的时钟或时间戳不是消息的创建时间加上所在层级的延迟（除非主题设置了 message.timestamp.type=LogAppendTime，消息的时间戳就是生产者的创建时间），或者它没有在层级分区中第一条未到期的消息处停下。").into(),
            lang.pick("Forward a record only once the consumer's clock has reached its timestamp plus the tier's delay, and at the first record not yet due seek back to it and pause the partition (KafkaConsumer.pause) until it is due; it is a bug in the forwarder, not a configuration.", "只有当消费者的时钟到达消息的时间戳加上层级延迟时才转发它，遇到第一条未到期的消息时 seek 回到它并暂停该分区（KafkaConsumer.pause），直到它到期；这是转发器的 bug，不是配置问题。").into(),
        ),
        DeliveredLate => (
            lang.pick("Not forwarded in time: its tier partition had no forwarder reading it (a crashed forwarder's partitions wait session.timeout.ms and a rebalance for a new owner), the forwarder stayed paused past the record's due time, or a record not yet due ahead of it in the partition held it back.", "没有按时转发：它的层级分区没有转发器在读（崩溃的转发器的分区要等 session.timeout.ms 和一次再均衡才有新所有者），转发器暂停得超过了消息的到期时间，或者分区中排在它前面、尚未到期的消息挡住了它。").into(),
            lang.pick("Run more than one forwarder instance with a session.timeout.ms well below the queue's bound, resume each paused partition when its first record is due, and keep each tier's records in due order (one delay per tier topic); a bound of less than the group's failover time cannot hold through crashes.", "运行不止一个转发器实例，session.timeout.ms 远低于队列的时限；每个暂停的分区在其第一条消息到期时恢复；让每个层级的消息按到期顺序排列（每个层级主题一个延迟）；时限若小于消费者组的故障转移时间，在崩溃时就无法保证。").into(),
        ),
        NoProgress => no_progress(anomaly.liveness.as_ref(), setup, lang),
        DeadLetterDuplicate => (
            lang.pick("The pipeline sent this record to its dead-letter topic more than once (or to both the dead-letter topic and its output): a send to the dead-letter topic is one more produce, and when it and the consumer's offset commit are not one atomic step, a crash or rebalance between them makes the next owner of the input partition fail the record again and dead-letter it again.", "管道把这条消息不止一次地发往死信主题（或既发往死信主题又发往输出）：发往死信主题也是一次生产，当它与消费者的位移提交不是同一个原子步骤时，两者之间的崩溃或再均衡会让输入分区的下一个所有者再次处理失败并再次把它发往死信主题。").into(),
            lang.pick("Send to the dead-letter topic in the transaction that commits the consumer's offsets (a transactional producer, sendOffsetsToTransaction, readers of the dead-letter topic at isolation.level=read_committed), or make whatever reads the dead-letter topic ignore copies of a record it has seen (by its original topic, partition and offset).", "在提交消费者位移的同一个事务中发往死信主题（事务型生产者、sendOffsetsToTransaction，死信主题的读者使用 isolation.level=read_committed），或者让读取死信主题的程序忽略它已见过的消息副本（按其原始主题、分区和位移识别）。").into(),
        ),
        DeadLetterLost => (
            lang.pick("The pipeline gave up on this record and meant to send it to its dead-letter topic, but neither the dead-letter topic nor the output holds it, although the pipeline went on past it: the dead-letter send was lost or aborted while the consumer's offsets moved past the record.", "管道放弃了这条消息并打算把它发往死信主题，但死信主题和输出中都没有它，而管道已经越过它继续前进：发往死信主题的那次发送丢失或被中止了，而消费者的位移却越过了这条消息。").into(),
            lang.pick("Commit the consumer's offsets only after the dead-letter send is acknowledged (acks=all to a replicated dead-letter topic), or in the same transaction as the dead-letter send.", "只在发往死信主题的发送得到确认之后（向有副本的死信主题使用 acks=all）再提交消费者的位移，或者在与死信发送相同的事务中提交。").into(),
        ),
        ReplaySkip => (
            lang.pick("The consumer was rewound (seek, or offsetsForTimes then seek; or its group's offsets reset) and went on past this offset of the replayed range without reading it again: the seek did not take, or the fetch position moved past records it never returned.", "消费者被回退了（seek，或先 offsetsForTimes 再 seek；或者其组的位移被重置），却越过了重放范围内的这个位移而没有再次读到它：seek 没有生效，或者拉取位置越过了它从未返回的消息。").into(),
            lang.pick("A seek sets the next fetch position and a consumer returns every record from there in order; nothing in the configuration skips records after a seek, so this is a client bug (records removed by retention in the meantime are excused).", "seek 设置下一次拉取的位置，消费者从那里按顺序返回每一条消息；没有任何配置会在 seek 之后跳过消息，所以这是客户端的 bug（在此期间被保留策略删除的消息除外）。").into(),
        ),
        ReplayReordered => (
            lang.pick("After the rewind the consumer returned a later offset of the partition before this one: records fetched from the old position were returned after the seek, or the seek came into effect late.", "回退之后，消费者先返回了该分区更靠后的位移，再返回这一个：从旧位置拉取的消息在 seek 之后才被返回，或者 seek 生效得太晚。").into(),
            lang.pick("Kafka's seek discards what was fetched from the old position (the fetch buffer of a partition whose position changed), so the replay reads from the new position in order; it is a client bug, not a configuration.", "Kafka 的 seek 会丢弃从旧位置拉取到的内容（位置改变的分区的拉取缓冲区），所以重放从新位置按顺序读取；这是客户端的 bug，不是配置问题。").into(),
        ),
        ReplayWrongOffset => (
            lang.pick("The lookup by time (ListOffsets with a timestamp, offsetsForTimes) answered an offset other than the earliest whose record's CreateTime is at or after the time: the broker's time index or its search missed a record.", "按时间查找（带时间戳的 ListOffsets，offsetsForTimes）返回的位移，不是 CreateTime 等于或晚于该时间的最早那条消息的位移：broker 的时间索引或其查找漏掉了一条消息。").into(),
            lang.pick("The broker must answer from the time index the first record at or after the time (UnifiedLog.fetchOffsetByTimestamp), below the high watermark (or last stable offset); it is a broker bug, not a configuration.", "broker 必须依据时间索引返回该时间或之后的第一条消息（UnifiedLog.fetchOffsetByTimestamp），且低于高水位（或最后稳定位移）；这是 broker 的 bug，不是配置问题。").into(),
        ),
    }
}

/// A record appended twice.
fn duplicate(f: &Facts, setup: &Setup, lang: Lang) -> (String, String) {
    if let Some(erased) = erased_by_power_loss(f, lang) {
        return (
            lang.pick(format!("Duplicated because {erased}"), format!("重复，因为{erased}")),
            lang.pick("flush.messages=1 (an fsync before a batch counts as appended, so the producer state survives with it), or replicas in separate failure domains (broker.rack) so that one outage cannot erase every copy, would have prevented it.", "flush.messages=1（批次在算作已追加之前先 fsync，于是生产者状态随之保存下来），或者把副本放在不同的故障域（broker.rack），使一次停电无法抹掉所有副本，本可以预防。").into(),
        );
    }
    let cause = lang.pick(
        format!(
            "Duplicated because the producer sent the same record again (a retry after a lost answer, or a copy made by the network) and the leader, which could not recognise it, appended it a second time.{}",
            idempotence_quietly_off(setup, lang)
        ),
        format!(
            "重复，因为生产者再次发送了同一条消息（丢失回答后的重试，或网络复制出的副本），而领导者无法识别它，于是第二次追加了它。{}",
            idempotence_quietly_off(setup, lang)
        ),
    );
    let fix = if setup.idempotence == Some(true) {
        lang.pick("The idempotent producer should have prevented this: the leader must keep each producer's sequence numbers across leader changes, so look for a broker bug.", "幂等生产者本应防止这种情况：领导者必须在领导者变更之间保留每个生产者的序列号，所以请查找 broker 的 bug。")
    } else {
        lang.pick("enable.idempotence=true (with acks=all) would have prevented it: the leader recognises a repeated batch by its producer id and sequence number.", "enable.idempotence=true（配合 acks=all）本可以预防：领导者通过生产者 id 和序列号识别重复的批次。")
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
fn erased_by_power_loss(f: &Facts, lang: Lang) -> Option<String> {
    let (b1, o1, _, t1) = *f.led.first()?;
    let &(b2, o2, e2, t2) = f.led.iter().skip(1).find(|l| l.3 > t1)?;
    let lost: Vec<String> =
        f.lost_on_load.iter().filter(|(_, t)| (t1..=t2).contains(t)).map(|(b, _)| broker(*b)).collect();
    let reloaded = f.lost_on_load.iter().find(|(_, t)| (t1..=t2).contains(t))?.1;
    let power = f.faults.iter().find(|(t, k, _)| *k == FaultKind::PowerLoss && (t1..=reloaded).contains(t));
    let when =
        power.map(|(t, _, _)| lang.pick(format!(" at {}", at(*t)), format!("于 {} ", at(*t)))).unwrap_or_default();
    Some(lang.pick(format!(
        "{} appended it at offset {o1} at {}, then {} lost power{when} before it was flushed and came back with {} (from {} on); with the log went the leader's producer state (Kafka's ProducerStateManager rebuilds each producer's epoch and last five sequence numbers from the log it loads), so when the producer, which had no answer for that batch, sent it again, nothing recognised the sequence number and {} appended the retry as a new batch at offset {o2} in epoch {e2} at {}.",
        broker(b1),
        at(t1),
        and_list(&lost, lang),
        if lost.len() > 1 { "logs that end before it" } else { "a log that ends before it" },
        at(reloaded),
        broker(b2),
        at(t2)
    ), format!(
        "{} 于 {} 把它追加到位移 {o1}，随后 {} {when}在它刷盘之前断电，回来时带着{}（从 {} 起）；领导者的生产者状态随日志一起消失了（Kafka 的 ProducerStateManager 从它加载的日志中重建每个生产者的纪元和最后五个序列号），所以当没有收到该批次回答的生产者再次发送它时，没有任何东西认出这个序列号，{} 于 {} 在纪元 {e2} 中把这次重试作为新批次追加到位移 {o2}。",
        broker(b1),
        at(t1),
        and_list(&lost, lang),
        "止于它之前的日志",
        at(reloaded),
        broker(b2),
        at(t2)
    )))
}

/// The sentence saying that idempotence was off only because the producer quietly
/// disabled Kafka 3.x's default, or nothing.
fn idempotence_quietly_off(setup: &Setup, lang: Lang) -> String {
    if setup.idempotence_quietly_disabled != Some(true) {
        return String::new();
    }
    let why = match setup.acks {
        Some(acks) if acks != Acks::All => {
            lang.pick(format!("acks={acks} contradicts it"), format!("acks={acks} 与之矛盾"))
        }
        _ => lang
            .pick(
                "another setting contradicts it (retries=0, or more than 5 requests in flight)",
                "另一项设置与之矛盾（retries=0，或在途请求超过 5 个）",
            )
            .to_string(),
    };
    if lang == Lang::Zh {
        return format!("尽管 Kafka 3.x 默认启用幂等，这个生产者却不是幂等的：enable.idempotence 没有设置，而 {why}，所以生产者悄悄关闭了幂等（ProducerConfig.postProcessAndValidateIdempotenceConfigs），而不是拒绝这个配置。");
    }
    format!(" The producer was not idempotent although Kafka 3.x enables idempotence by default: enable.idempotence was not set and {why}, so the producer quietly turned it off (ProducerConfig.postProcessAndValidateIdempotenceConfigs) instead of refusing the configuration.")
}

/// A skip told from the member that had the record: polled by it, committed past by it
/// (automatically, when auto-commit is on), and lost with it when it crashed before
/// processing it.
fn polled_committed_crashed(f: &Facts, setup: &Setup, lang: Lang) -> Option<String> {
    let &(p, crashed_at) = f.crashed_unprocessed.first()?;
    let &(_, polled_at, _) = f.polled.iter().find(|x| x.0 == p)?;
    let (_, committed_at, member) = f.committed_past.iter().find(|c| c.0 == p && c.1 < crashed_at)?;
    let committed = if setup.auto_commit == Some(true) {
        lang.pick(
            "auto-committed its position past it (enable.auto.commit commits what poll() returned, not what was processed)",
            "自动提交了越过它的位置（enable.auto.commit 提交的是 poll() 返回的内容，而不是已处理的内容）",
        )
    } else {
        lang.pick("committed an offset past it", "提交了越过它的位移")
    };
    if lang == Lang::Zh {
        return Some(format!(
            "被跳过：成员 {member}（{}）于 {} 拉取到它，于 {} {committed}，并于 {} 在处理它之前崩溃：分区的下一个所有者从那次提交开始，所以没有任何成员处理过这条消息。",
            crate::check::describe::process(p),
            at(polled_at),
            at(*committed_at),
            at(crashed_at)
        ));
    }
    Some(format!(
        "Skipped because member {member} ({}) polled it at {}, {committed} at {}, and crashed at {} before processing it: the partition's next owner started from that commit, so no member ever processed the record.",
        crate::check::describe::process(p),
        at(polled_at),
        at(*committed_at),
        at(crashed_at)
    ))
}

/// A record processed again because its consumer or group was rewound on purpose.
fn replayed(facts: &Facts, lang: Lang) -> (String, String) {
    let (time, who) = &facts.rewound[0];
    (
        lang.pick(
            format!(
                "Processed twice because {who} rewound the partition at {} to before it: a replay re-delivers records their consumers already processed, and downstream sees them again.",
                at(*time)
            ),
            format!(
                "被处理了两次：{who} 于 {} 把分区回退到它之前；重放会重新投递消费者已经处理过的消息，下游会再次看到它们。",
                at(*time)
            ),
        ),
        lang.pick("Nothing to prevent if the replay was meant (that is what a replay does): processing must be idempotent (an upsert by key, or a store that remembers processed offsets) for a replay to be harmless.", "如果这次重放是有意的，则无需预防（重放本来就是这样）：要让重放无害，处理必须幂等（按键 upsert，或用一个记住已处理位移的存储）。").into(),
    )
}

/// Lost, unseen or overwritten records, and truncations of committed ones.
fn loss(kind: AnomalyKind, f: &Facts, setup: &Setup, lang: Lang) -> (String, String) {
    let what = match kind {
        AnomalyKind::Unseen => lang.pick("Never read", "从未被读到"),
        AnomalyKind::InconsistentOffsets | AnomalyKind::ReplicaDivergence => lang.pick("Replaced", "被替换"),
        AnomalyKind::CommittedTruncation => lang.pick("Truncated although committed", "已提交却被截断"),
        _ => lang.pick("Lost", "丢失"),
    };
    let acked = match (&f.acked, f.send_ok) {
        (Some(_), _) => String::new(),
        (None, Some(t)) if setup.acks == Some(Acks::None) => lang.pick(
            format!(" after the producer counted it as sent with acks=0 at {}", at(t)),
            format!("，此前生产者已于 {} 以 acks=0 把它算作已发送", at(t)),
        ),
        (None, Some(t)) => lang.pick(
            format!(" after the producer was told it succeeded at {}", at(t)),
            format!("，此前生产者已于 {} 被告知发送成功", at(t)),
        ),
        (None, None) => String::new(),
    };
    if let Some(clause) = retried_and_read(f, lang) {
        return (
            lang.pick(format!("Not lost: {clause}."), format!("并未丢失：{clause}。")),
            loss_fix(f, setup, lang).to_string(),
        );
    }
    let leader = f.led.first().map(|l| l.0);
    // What befell the record came after it was acknowledged (or appended, unacknowledged):
    // a story that begins earlier (an offset's story from its first holder on) may hold
    // faults and leaders before it, which took nothing of it.
    let since = f.acked.as_ref().map(|a| a.2).or(f.led.first().map(|l| l.3)).unwrap_or(0);
    let struck = leader.and_then(|l| {
        f.faults.iter().find(|(t, k, targets)| *t >= since && targets.contains(&broker(l)) && !k.is_undo())
    });
    let new_leader = f.new_leaders.iter().find(|l| l.0 >= since && Some(l.1) != leader);
    let fetched: Vec<String> =
        f.fetched.iter().filter(|(_, t)| struck.is_none_or(|s| *t < s.0)).map(|(b, _)| broker(*b)).collect();
    let by = leader.map_or(lang.pick("its leader", "它的领导者").to_string(), broker);
    let mut because = match (&f.acked, f.led.first()) {
        (Some((b, acks, t)), _) => lang.pick(
            format!("{what} because {} acknowledged it with acks={acks} at {}", broker(*b), at(*t)),
            format!("{what}的经过：{} 于 {} 以 acks={acks} 确认了它", broker(*b), at(*t)),
        ),
        (None, Some(&(b, o, _, t))) => lang.pick(
            format!("{what} because {} appended it at offset {o} at {}{acked}", broker(b), at(t)),
            format!("{what}的经过：{} 于 {} 把它追加到位移 {o}{acked}", broker(b), at(t)),
        ),
        (None, None) => lang.pick(
            format!("{what} because of what happened to its partition{acked}"),
            format!("{what}，原因在于它的分区发生的事{acked}"),
        ),
    };
    if let Some(isr) =
        f.isr_at_ack.as_ref().filter(|isr| isr.len() == 1 && f.acked.as_ref().is_some_and(|a| a.1 == Acks::All))
    {
        because += &lang.pick(
            format!(" while the ISR was {} alone", broker(isr[0])),
            format!("，当时 ISR 只有 {}", broker(isr[0])),
        );
    }
    // What happened next, told in the order it happened (clauses stamped with their
    // simulated time, sorted stably: a truncation before the new leader's write reads as
    // it happened, not in the order the facts were found).
    let mut next: Vec<(u64, String)> = Vec::new();
    if let Some((t, k, targets)) = struck {
        let by = if targets.len() > 1 { and_list(targets, lang) } else { by.clone() };
        let verb = struck_verb(*k, lang);
        let after = if fetched.is_empty() {
            lang.pick(" before any follower fetched it", "，在任何追随者拉取它之前").to_string()
        } else {
            lang.pick(
                format!(" after {} fetched it", and_list(&fetched, lang)),
                format!("，在 {} 拉取它之后", and_list(&fetched, lang)),
            )
        };
        next.push((
            *t,
            lang.pick(format!("{by} {verb} at {}{after}", at(*t)), format!("{by} 于 {} {verb}{after}", at(*t))),
        ));
    }
    if let Some(&(t, b, epoch, end)) = new_leader {
        let mut clause = lang.pick(
            format!(
                "{} became leader {}in epoch {epoch} at {} with log end {end}",
                broker(b),
                if f.unclean_epochs.contains(&epoch) { "uncleanly, from outside the ISR, " } else { "" },
                at(t)
            ),
            format!(
                "{} 于 {} {}在纪元 {epoch} 中成为领导者，日志末端为 {end}",
                broker(b),
                at(t),
                if f.unclean_epochs.contains(&epoch) { "从 ISR 之外以非干净选举" } else { "" }
            ),
        );
        if let Some((_, wt, v, _)) = f.overwritten.filter(|o| o.0 == b) {
            clause += &lang.pick(
                format!(" and wrote value {v} at its offset at {}", at(wt)),
                format!("，并于 {} 在它的位移处写入值 {v}", at(wt)),
            );
        }
        next.push((t, clause));
    }
    if let Some((b, t, reason)) = f.expired.first() {
        next.push((
            *t,
            lang.pick(
                format!("{} deleted it at {} by retention ({reason}) before anyone read it", broker(*b), at(*t)),
                format!("{} 于 {} 按保留策略删除了它（{reason}），那时还没有任何人读到它", broker(*b), at(*t)),
            ),
        ));
    }
    if let Some((who, t)) = brokers_from(&f.deleted, lang) {
        next.push((
            t,
            lang.pick(
                format!(
                    "its topic was deleted (DeleteTopics) and {who} dropped the partition with its log from {} on, before anyone read it",
                    at(t)
                ),
                format!(
                    "它的主题被删除（DeleteTopics），{who} 从 {} 起丢弃了该分区及其日志，那时还没有任何人读到它",
                    at(t)
                ),
            ),
        ));
    }
    if let Some((who, t)) = brokers_from(&f.lost_on_load, lang) {
        next.push((
            t,
            lang.pick(
                format!("{who} came back from {} on without it, because it was only in the page cache", at(t)),
                format!("{who} 从 {} 起恢复时已没有它，因为它只在页缓存中", at(t)),
            ),
        ));
    }
    if let Some((b, t, v, _)) = f.overwritten.filter(|o| new_leader.is_none_or(|l| l.1 != o.0)) {
        next.push((
            t,
            lang.pick(
                format!("{} wrote value {v} at its offset at {}", broker(b), at(t)),
                format!("{} 于 {} 在它的位移处写入值 {v}", broker(b), at(t)),
            ),
        ));
    }
    if let Some((b, t, reason)) = f.truncated.first() {
        next.push((
            *t,
            lang.pick(
                format!("{} truncated it at {} ({reason})", broker(*b), at(*t)),
                format!("{} 于 {} 截断了它（{reason}）", broker(*b), at(*t)),
            ),
        ));
    }
    next.sort_by_key(|(t, _)| *t);
    for (_, clause) in next {
        because += &lang.pick(format!("; {clause}"), format!("；{clause}"));
    }
    because += lang.pick(".", "。");
    (because, loss_fix(f, setup, lang).to_string())
}

/// The configuration that would have prevented a loss.
fn loss_fix(f: &Facts, setup: &Setup, lang: Lang) -> &'static str {
    let fix = if !f.deleted.is_empty() {
        lang.pick(
            "Nothing in the producer or replication settings: delete a topic only after its producers stopped and every group drained it, and set delete.topic.enable=false on the controllers where a deletion must never happen by accident.",
            "生产者和复制设置都无能为力：只在主题的生产者都已停止、每个消费者组都已读完之后才删除主题；在绝不允许误删的地方，在控制器上设置 delete.topic.enable=false。",
        )
    } else if !f.expired.is_empty() && f.truncated.is_empty() {
        lang.pick(
            "retention.ms or retention.bytes larger than the longest time a record waits to be read would have kept it.",
            "retention.ms 或 retention.bytes 大于消息等待被读取的最长时间，本可以保住它。",
        )
    } else if !f.lost_on_load.is_empty() {
        lang.pick(
            "flush.messages=1 (an fsync before each record counts as appended), or replicas in separate failure domains (broker.rack), would have prevented the loss.",
            "flush.messages=1（每条消息在算作已追加之前先 fsync），或把副本放在不同的故障域（broker.rack），本可以防止这次丢失。",
        )
    } else if setup.truncation == Some(TruncationMode::LeaderEpochKip101) && !f.truncated.is_empty() {
        lang.pick(
            "KIP-279's leader-epoch truncation (truncation = \"leader-epoch\", Kafka 2.0+), which truncates at the last epoch both replicas know, would have prevented it.",
            "KIP-279 的领导者纪元截断（truncation = \"leader-epoch\"，Kafka 2.0+）在两个副本都知道的最后一个纪元处截断，本可以预防。",
        )
    } else if f.truncated.iter().any(|t| t.2 == TruncationReason::HighWatermark)
        || setup.truncation == Some(TruncationMode::Legacy)
    {
        lang.pick(
            "Leader-epoch truncation (truncation = \"leader-epoch\", KIP-101 and KIP-279, Kafka 2.0+) would have prevented it.",
            "领导者纪元截断（truncation = \"leader-epoch\"，KIP-101 与 KIP-279，Kafka 2.0+）本可以预防。",
        )
    } else if setup.acks == Some(Acks::None) {
        lang.pick(
            "acks=all with min.insync.replicas=2 would have made the producer wait for an answer, and retry or report the failure.",
            "acks=all 配合 min.insync.replicas=2 会让生产者等待回答，然后重试或报告失败。",
        )
    } else if setup.acks == Some(Acks::Leader) {
        lang.pick(
            "acks=all with min.insync.replicas=2 would have prevented the loss.",
            "acks=all 配合 min.insync.replicas=2 本可以防止这次丢失。",
        )
    } else if !f.unclean_epochs.is_empty() || setup.unclean_election == Some(true) {
        if setup.min_insync_replicas == Some(1) {
            lang.pick(
            "min.insync.replicas=2 (with replication factor 3), or unclean.leader.election.enable=false, would have prevented the loss.",
            "min.insync.replicas=2（副本因子为 3），或 unclean.leader.election.enable=false，本可以防止这次丢失。",
        )
        } else {
            lang.pick(
            "unclean.leader.election.enable=false would have prevented the loss (at the price of the partition staying offline).",
            "unclean.leader.election.enable=false 本可以防止这次丢失（代价是分区保持离线）。",
        )
        }
    } else if setup.min_insync_replicas == Some(1) {
        lang.pick(
            "min.insync.replicas=2 with replication factor 3 would have prevented the loss.",
            "min.insync.replicas=2 配合副本因子 3 本可以防止这次丢失。",
        )
    } else {
        lang.pick(
            "acks=all, min.insync.replicas=2, unclean.leader.election.enable=false and leader-epoch truncation together prevent this; one of them was defeated here.",
            "acks=all、min.insync.replicas=2、unclean.leader.election.enable=false 与领导者纪元截断合起来可以防止这种情况；这里其中之一被击破了。",
        )
    };
    fix
}

/// A record whose first copy's answer never reached the producer, which sent it again:
/// `broker-1 appended it at offset 3967 in epoch 0 at 8.573 s, but broker-1 crashed at
/// 8.600 s before its answer reached the producer, which sent it again; broker-2 appended
/// the retry at offset 3976 in epoch 1 at 12.271 s`, and what became of the first copy.
/// Read from the trace: two appends as leader, the producer told the second's offset.
fn retried(f: &Facts, lang: Lang) -> Option<String> {
    let ((b1, o1, e1, t1), (b2, o2, e2, t2)) = f.retried()?;
    let fault =
        f.faults.iter().find(|(t, k, targets)| (t1..=t2).contains(t) && targets.contains(&broker(b1)) && !k.is_undo());
    let lost_answer = match fault {
        Some((t, kind, _)) => lang.pick(
            format!("{} {} at {} before its answer reached the producer", broker(b1), struck_verb(*kind, lang), at(*t)),
            format!("{} 于 {} {}，它的回答没能到达生产者", broker(b1), at(*t), struck_verb(*kind, lang)),
        ),
        None => lang.pick(
            "the producer was told of another copy instead (a retry after its answer was lost, or a copy the network made)",
            "生产者得知的却是另一份副本（回答丢失后的重试，或网络复制出的副本）",
        )
        .to_string(),
    };
    let again =
        if fault.is_some() { lang.pick(", which sent it again", "，于是生产者再次发送了它") } else { "" };
    let mut clause = lang.pick(
        format!(
            "{} appended it at offset {o1} in epoch {e1} at {}, but {lost_answer}{again}; {} appended the retry at offset {o2} in epoch {e2} at {}",
            broker(b1),
            at(t1),
            broker(b2),
            at(t2)
        ),
        format!(
            "{} 于 {} 在纪元 {e1} 中把它追加到位移 {o1}，但{lost_answer}{again}；{} 于 {} 在纪元 {e2} 中把重试追加到位移 {o2}",
            broker(b1),
            at(t1),
            broker(b2),
            at(t2)
        ),
    );
    if let Some((b, t, reason)) = f.truncated.iter().find(|tr| tr.1 > t1) {
        clause += &lang.pick(
            format!(", and {} truncated the first copy at {} ({reason})", broker(*b), at(*t)),
            format!("，而 {} 于 {} 截断了第一份副本（{reason}）", broker(*b), at(*t)),
        );
    } else if let Some((who, t)) = brokers_from(&f.lost_on_load, lang) {
        clause += &lang.pick(
            format!(", and {who} came back from {} on without the first copy (it was only in the page cache)", at(t)),
            format!("，而 {who} 从 {} 起恢复时已没有第一份副本（它只在页缓存中）", at(t)),
        );
    }
    Some(clause)
}

/// [`retried`], when the retry is the copy consumers read: the record is not lost.
fn retried_and_read(f: &Facts, lang: Lang) -> Option<String> {
    let (_, retry) = f.retried()?;
    let read: Vec<String> =
        f.polled.iter().filter(|p| p.2 == retry.1).map(|p| crate::check::describe::process(p.0)).collect();
    let first_reader = read.first()?;
    Some(lang.pick(
        format!("{}; {first_reader} read it at offset {}", retried(f, lang)?, retry.1),
        format!("{}；{first_reader} 在位移 {} 处读到了它", retried(f, lang)?, retry.1),
    ))
}

/// What a fault did to a broker, as the cause sentence says it.
fn struck_verb(kind: FaultKind, lang: Lang) -> String {
    match kind {
        FaultKind::Crash => lang.pick("crashed", "崩溃").to_string(),
        FaultKind::PowerLoss => lang.pick("lost power", "断电").to_string(),
        FaultKind::Stop => lang.pick("was stopped", "被停止").to_string(),
        FaultKind::Pause => lang.pick("was paused", "被暂停").to_string(),
        FaultKind::Partition | FaultKind::Clog => lang.pick("was cut off from the cluster", "与集群断开").to_string(),
        other => lang.pick(format!("was struck by a {other} fault"), format!("遭遇 {other} 故障")),
    }
}

/// The brokers of `(broker, time)` facts as a list as the story writes it, and the first
/// one's time (simulated ns); `None` without facts.
fn brokers_from(facts: &[(u32, u64)], lang: Lang) -> Option<(String, u64)> {
    let (_, first) = facts.first()?;
    let who: Vec<String> = facts.iter().map(|(b, _)| broker(*b)).collect();
    Some((and_list(&who, lang), *first))
}

/// Why the cluster did not recover, from what the liveness phase found still wrong when
/// it ran out of time.
fn no_progress(cause: Option<&LivenessCause>, setup: &Setup, lang: Lang) -> (String, String) {
    let (why, fix) = if let Some(LivenessCause::GroupsBehind { .. }) = cause {
        (
            lang.pick(
                "the consumer group did not commit up to the end of every partition: its members stopped consuming or committing (a member that never rejoined, a rebalance that did not settle, or processing slower than the records arrive)",
                "消费者组没有把每个分区都提交到末端：它的成员停止了消费或提交（某个成员再也没有重新加入、一次没有稳定下来的再均衡，或处理速度慢于消息到达的速度）",
            ),
            lang.pick(
                "Give members time to rejoin and keep up after a failure: max.poll.interval.ms above the time one poll's records take to process, session.timeout.ms above the longest pause, and a processing rate above the produce rate.",
                "让成员在故障后有时间重新加入并跟上：max.poll.interval.ms 大于处理一次 poll 返回的消息所需的时间，session.timeout.ms 大于最长的暂停，处理速率高于生产速率。",
            ),
        )
    } else if let Some(LivenessCause::DelayedNotForwarded { .. }) = cause {
        (
            lang.pick(
                "a delay queue's forwarders did not forward every record of its tiers: no forwarder owned a tier partition (none running, or a rebalance that did not settle), or forwarding kept failing",
                "延迟队列的转发器没有转发其各层级的全部消息：某个层级分区没有转发器拥有（没有在运行的转发器，或一次没有稳定下来的再均衡），或者转发一再失败",
            ),
            lang.pick(
                "Run forwarders that keep up with the tiers and can rejoin after a failure (session.timeout.ms and max.poll.interval.ms above the longest pause), and give the liveness phase longer than the longest tier delay (liveness_timeout).",
                "运行能跟上各层级、并能在故障后重新加入的转发器（session.timeout.ms 与 max.poll.interval.ms 大于最长的暂停），并给活性阶段比最长层级延迟更长的时间（liveness_timeout）。",
            ),
        )
    } else if let Some(LivenessCause::SendsUnanswered { refused: true, .. }) = cause {
        (
            lang.pick(
                "producers were still waiting for answers after the batches their leaders kept refusing had reached their delivery timeout: what those batches held up behind them did not go through either",
                "在领导者一再拒绝的批次到达其投递超时之后，生产者仍在等待回答：这些批次身后被挡住的发送也没有完成",
            ),
            lang.pick(
                "A refused batch is retried until delivery.timeout.ms; lower it to bound how long a partition waits behind one, and keep enough in-sync replicas alive that the leader can take the batches after it (replication factor 3, min.insync.replicas=2).",
                "被拒绝的批次会一直重试到 delivery.timeout.ms；调低它以限制一个分区在这样的批次之后等待多久，并保持足够多的同步副本存活，使领导者能够接收其后的批次（副本因子 3，min.insync.replicas=2）。",
            ),
        )
    } else if let Some(LivenessCause::SendsUnanswered { .. }) = cause {
        (
            lang.pick(
                "producers were still waiting for answers to sends that no leader could accept or refuse",
                "生产者仍在等待一些发送的回答，而没有任何领导者能接受或拒绝这些发送",
            ),
            lang.pick(
                "Bound every send with delivery.timeout.ms and keep enough in-sync replicas alive that a leader can answer (replication factor 3, min.insync.replicas=2).",
                "用 delivery.timeout.ms 为每次发送设定时限，并保持足够多的同步副本存活，使领导者能够回答（副本因子 3，min.insync.replicas=2）。",
            ),
        )
    } else if let Some(LivenessCause::OpenTransaction { .. }) = cause {
        (
            lang.pick(
                "a transaction nobody ended held the last stable offset below the high watermark: read_committed consumers read nothing past the first offset of a transaction until it commits or aborts, so the committed records of every later transaction waited behind it; its producer's application had stopped in the middle of it (or its process died with no successor under its transactional.id), and transaction.timeout.ms had not passed, so the coordinator had not aborted it yet",
                "一个无人结束的事务把最后稳定位移压在高水位之下：在事务提交或中止之前，read_committed 消费者读不到它第一个位移之后的任何内容，所以之后每个事务的已提交消息都在它后面等待；它的生产者应用在事务中途停下了（或其进程死亡，且没有以同一 transactional.id 接替的后继），而 transaction.timeout.ms 还没有到，所以协调者还没有中止它",
            ),
            lang.pick(
                "Lower transaction.timeout.ms (Kafka's default is 60 s) to bound how long an abandoned transaction can hold consumers: the coordinator aborts it under a bumped epoch, which also fences the stalled producer when it comes back. A producer restarted under the same transactional.id aborts it at once with initTransactions; kafka-transactions.sh find-hanging and abort (KIP-664) end one by hand.",
                "调低 transaction.timeout.ms（Kafka 默认 60 s），以限制被遗弃的事务能卡住消费者多久：协调者会以提升后的纪元中止它，这也会在停滞的生产者回来时隔离它。以同一 transactional.id 重启的生产者会在 initTransactions 时立即中止它；kafka-transactions.sh 的 find-hanging 与 abort（KIP-664）可以手工结束它。",
            ),
        )
    } else if let Some(LivenessCause::QuorumNotRecovered { .. }) = cause {
        (
            lang.pick(
                "the KRaft controller quorum did not recover after every node was restarted: no active controller committed metadata, or brokers stayed fenced or behind the metadata log",
                "所有节点重启之后，KRaft 控制器仲裁没有恢复：没有活跃控制器提交元数据，或者 broker 一直被隔离或落后于元数据日志",
            ),
            lang.pick(
                "Keep a majority of controllers up and reachable (three controllers in three failure domains), and broker.session.timeout.ms comfortably above broker.heartbeat.interval.ms.",
                "保持多数控制器运行且可达（三个控制器位于三个故障域），并让 broker.session.timeout.ms 明显大于 broker.heartbeat.interval.ms。",
            ),
        )
    } else if cause.is_some_and(LivenessCause::is_leadership) {
        (
            if setup.unclean_election == Some(false) {
                lang.pick(
                "a partition found no in-sync leader, or its replicas did not rejoin the ISR, after every node was restarted; with unclean.leader.election.enable=false no out-of-sync replica may lead",
                "所有节点重启之后，某个分区找不到同步的领导者，或其副本没有重新加入 ISR；在 unclean.leader.election.enable=false 时，不同步的副本不能成为领导者",
            )
            } else {
                lang.pick(
                "a partition found no leader, or its replicas did not rejoin the ISR, after every node was restarted",
                "所有节点重启之后，某个分区找不到领导者，或其副本没有重新加入 ISR",
            )
            },
            lang.pick(
                "Keep enough in-sync replicas alive (replication factor 3, min.insync.replicas=2) so that one failure never leaves a partition without an in-sync leader.",
                "保持足够多的同步副本存活（副本因子 3，min.insync.replicas=2），使一次故障永远不会让分区失去同步的领导者。",
            ),
        )
    } else {
        (
            lang.pick(
                "the final drain could not read every partition to its high watermark after the faults healed",
                "故障恢复之后，最终排空无法把每个分区读到它的高水位",
            ),
            lang.pick(
                "Nothing in the configuration explains this; look at the partitions named above in `kafkasim run FILE --seed N --trace`.",
                "配置中没有任何东西能解释这一点；请用 `kafkasim run FILE --seed N --trace` 查看上面提到的分区。",
            ),
        )
    };
    (lang.pick(format!("No progress because {why}."), format!("没有进展，因为{why}。")), fix.to_string())
}

/// `a`, `a and b`, `a, b and c` (`a、b 和 c`).
fn and_list(items: &[String], lang: Lang) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => {
            lang.pick(format!("{} and {last}", init.join(", ")), format!("{} 和 {last}", init.join("、")))
        }
    }
}

/// A record retention deleted before `who` got to it.
fn expired(f: &Facts, who: &str, lang: Lang) -> (String, String) {
    let (b, t, reason) = f.expired[0];
    (
        lang.pick(
            format!("Skipped because {} deleted the record with its segment at {} ({reason}) before {who}: the consumer's position fell below the log start and auto.offset.reset moved it forward.", broker(b), at(t)),
            format!("被跳过：在{who}之前，{} 于 {} 把这条消息连同它的日志段一起删除了（{reason}）：消费者的位置落到了日志起点之下，auto.offset.reset 把它向前移动。", broker(b), at(t)),
        ),
        lang.pick("retention.ms or retention.bytes larger than the longest lag a consumer can fall into (or a consumer that keeps up) would have prevented it.", "retention.ms 或 retention.bytes 大于消费者可能落后的最长时间（或让消费者跟上），本可以预防。").into(),
    )
}

/// Records observed out of order, or skipped, by producers and consumers.
fn order(kind: AnomalyKind, f: &Facts, setup: &Setup, lang: Lang) -> (String, String) {
    let reordered_by_retry = setup.idempotence == Some(false) && setup.max_in_flight.is_some_and(|n| n > 1);
    if !f.expired.is_empty() {
        return expired(f, lang.pick("the consumer reached it", "消费者读到它"), lang);
    }
    if let (AnomalyKind::PollSkip | AnomalyKind::IntPollSkip, [first, .., last], false) =
        (kind, f.led.as_slice(), f.polled.is_empty())
    {
        // The checker's note says it too: the skip is a duplicate's shadow.
        let (duplicated, fix) = duplicate(f, setup, lang);
        return (
            lang.pick(
                format!(
                    "Counted as skipped, not missed: the record was appended twice (offsets {} and {}), the log's order counts a record at its last copy, so a poll that read it at its first copy seems to jump over the records in between, and the consumer did read it. The duplicate is what went wrong. {duplicated}",
                    first.1, last.1
                ),
                format!(
                    "算作跳过，而不是漏读：这条消息被追加了两次（位移 {} 和 {}），日志顺序按最后一份副本来计算一条消息的位置，所以在第一份副本处读到它的拉取看起来跳过了中间的消息，而消费者其实读到了它。出错的是重复。{duplicated}",
                    first.1, last.1
                ),
            ),
            fix,
        );
    }
    if let (Some(clause), AnomalyKind::NonmonotonicSend | AnomalyKind::IntNonmonotonicSend) = (retried(f, lang), kind) {
        return (
            lang.pick(
                format!(
                    "Acknowledged out of the order it was sent because it was retried: {clause}. The retry landed wherever the log ended when it arrived, behind records sent after it.{}",
                    idempotence_quietly_off(setup, lang)
                ),
                format!(
                    "确认的顺序与发送的顺序不同，因为它被重试了：{clause}。重试到达时日志末端在哪里，它就落在哪里，排在了之后发送的消息后面。{}",
                    idempotence_quietly_off(setup, lang)
                ),
            ),
            order_fix(setup, lang).into(),
        );
    }
    if !f.truncated.is_empty() || f.overwritten.is_some() {
        let (b, t, _) = f.truncated.first().cloned().unwrap_or((
            f.overwritten.map_or(0, |o| o.0),
            f.overwritten.map_or(0, |o| o.1),
            TruncationReason::LeaderEpoch,
        ));
        let (cause, fix) = loss(AnomalyKind::LostWrite, f, setup, lang);
        return (
            lang.pick(
                format!("Out of order because the log changed under the consumer: {} rewrote this part of the log at {}. {cause}", broker(b), at(t)),
                format!("顺序错乱，因为日志在消费者脚下变了：{} 于 {} 改写了日志的这一部分。{cause}", broker(b), at(t)),
            ),
            fix,
        );
    }
    if kind == AnomalyKind::PollSkip && !reordered_by_retry {
        return (
            lang.pick("Skipped because the consumer's position jumped past records that are in the log: its position was moved (an offset reset, a seek, or a committed offset handed over in a rebalance) or the records landed behind it.", "被跳过：消费者的位置跳过了日志中存在的消息，它的位置被移动过（位移重置、seek，或再均衡时交接的已提交位移），或者消息落在了它的后面。").into(),
            lang.pick("Check where the consumer's position came from: auto.offset.reset=earliest and committing only processed offsets keep a consumer from jumping over records.", "检查消费者的位置从何而来：auto.offset.reset=earliest 且只提交已处理的位移，可以防止消费者跳过消息。").into(),
        );
    }
    let what = match kind {
        AnomalyKind::NonmonotonicSend => lang.pick(
            "Acknowledged at a lower offset than a record the producer sent earlier",
            "它被确认的位移低于生产者更早发送的一条消息",
        ),
        AnomalyKind::IntNonmonotonicSend => lang.pick(
            "Acknowledged at a lower offset than a record the same transaction sent before it",
            "它被确认的位移低于同一事务在它之前发送的一条消息",
        ),
        AnomalyKind::PollSkip => lang.pick("Skipped by a consumer", "被消费者跳过"),
        AnomalyKind::IntPollSkip => lang.pick("Skipped within one poll", "在一次拉取中被跳过"),
        AnomalyKind::IntNonmonotonicPoll => lang.pick("Read out of order within one poll", "在一次拉取中读取顺序错乱"),
        _ => lang.pick("Read out of order", "读取顺序错乱"),
    };
    // No retry of this record was seen (`retried` above): a reordering network is the
    // other way a later request reaches the leader first.
    let cause = if let (true, Some(t)) = (reordered_by_retry, f.reordering_since) {
        let in_flight = setup.max_in_flight.unwrap_or(0);
        lang.pick(
            format!("{what} because the network let a later produce request overtake an earlier one (the reorder fault from {}) and the leader appended the batches in the order they arrived: with {in_flight} requests in flight and no idempotence nothing keeps them in order.", at(t)),
            format!("{what}，因为网络让一个较晚的生产请求超过了较早的一个（{} 起的重排故障），leader 按到达顺序追加了批次：有 {in_flight} 个在途请求且没有幂等时，没有任何东西能保持它们的顺序。", at(t)),
        )
    } else if reordered_by_retry {
        lang.pick(
            format!("{what} because a batch that failed and was retried landed behind batches sent after it: with {} requests in flight and no idempotence nothing keeps them in order.", setup.max_in_flight.unwrap_or(0)),
            format!("{what}，因为一个失败后重试的批次落在了之后发送的批次后面：有 {} 个在途请求且没有幂等时，没有任何东西能保持它们的顺序。", setup.max_in_flight.unwrap_or(0)),
        )
    } else {
        lang.pick(
            format!("{what} because the records reached the log in a different order than they were sent (a retry, or a network that reorders or duplicates requests)."),
            format!("{what}，因为消息到达日志的顺序与发送的顺序不同（重试，或会重排、复制请求的网络）。"),
        )
    };
    let cause = if matches!(kind, AnomalyKind::NonmonotonicSend | AnomalyKind::IntNonmonotonicSend) {
        cause + &idempotence_quietly_off(setup, lang)
    } else {
        cause
    };
    (cause, order_fix(setup, lang).to_string())
}

/// What keeps a producer's records in the order it sent them.
fn order_fix(setup: &Setup, lang: Lang) -> &'static str {
    if setup.idempotence == Some(true) {
        lang.pick(
            "The idempotent producer should have kept the order: the leader refuses a batch whose sequence number does not follow the last; look for a broker bug.",
            "幂等生产者本应保持顺序：领导者会拒绝序列号不紧接上一个的批次；请查找 broker 的 bug。",
        )
    } else {
        lang.pick(
            "enable.idempotence=true (order kept with up to 5 requests in flight), or max.in.flight.requests.per.connection=1, would have prevented it.",
            "enable.idempotence=true（最多 5 个在途请求时仍保持顺序），或 max.in.flight.requests.per.connection=1，本可以预防。",
        )
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
        let (cause, _) = cause(&anomaly, &facts, &Setup::default(), Lang::En);
        let crashed = cause.find("crashed").expect(&cause);
        let truncated = cause.find("truncated it").expect(&cause);
        let led = cause.find("became leader").expect(&cause);
        assert!(crashed < truncated && truncated < led, "{cause}");
    }

    #[test]
    fn a_send_reordered_without_a_retry_names_the_reordering_network_and_with_one_the_retry() {
        let setup = Setup { idempotence: Some(false), max_in_flight: Some(5), ..Setup::default() };
        let anomaly = Anomaly::new(AnomalyKind::NonmonotonicSend, String::new(), Vec::new());
        let reordering = Facts { led: vec![(1, 5, 0, 1)], reordering_since: Some(6_300_000_000), ..Facts::default() };
        let (cause_text, _) = cause(&anomaly, &reordering, &setup, Lang::En);
        assert!(cause_text.contains("the reorder fault from 6.300 s"), "{cause_text}");
        assert!(!cause_text.contains("retried"), "no retry was seen: {cause_text}");
        let calm = Facts { led: vec![(1, 5, 0, 1)], ..Facts::default() };
        let (cause_text, _) = cause(&anomaly, &calm, &setup, Lang::En);
        assert!(cause_text.contains("failed and was retried"), "{cause_text}");
    }

    #[test]
    fn every_kind_has_a_chinese_cause_and_prevention() {
        let setups = [Setup::default(), Setup { idempotence_quietly_disabled: Some(true), ..Setup::default() }];
        for kind in AnomalyKind::ALL {
            for setup in &setups {
                let anomaly = Anomaly::new(kind, String::new(), Vec::new());
                let facts = Facts { led: vec![(1, 5, 0, 1)], ..Facts::default() };
                let (en_cause, en_fix) = cause(&anomaly, &facts, setup, Lang::En);
                let (zh_cause, zh_fix) = cause(&anomaly, &facts, setup, Lang::Zh);
                let chinese = |t: &str| t.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c));
                assert!(chinese(&zh_cause) && chinese(&zh_fix), "{kind}: {zh_cause} / {zh_fix}");
                assert!(!chinese(&en_cause) && !chinese(&en_fix), "{kind}: {en_cause} / {en_fix}");
                for english in [" because ", " would have ", " the "] {
                    assert!(!zh_cause.contains(english) && !zh_fix.contains(english), "{kind}: {zh_cause} / {zh_fix}");
                }
            }
        }
    }
}

//! The glossary: the Kafka and Jepsen terms the stories use, each defined once in English
//! and Chinese, so that a story can introduce its jargon before it uses it (`explain`
//! prints the terms a story uses above it) and `docs/glossary.md` (the output of
//! `kafkasim glossary`, checked by a test) can be linked to.
//!
//! Each definition follows Kafka's code or documentation, named where it matters.

use crate::scenario::Lang;
use std::fmt::Write as _;

/// A term the stories use: a closed set, in the order a reader meets them (the log, then
/// replication, then producers, then consumers and groups, then the test harness).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Term {
    /// An offset in a partition's log.
    Offset,
    /// The leader and its followers.
    Leader,
    /// The in-sync replicas.
    Isr,
    /// The log end offset.
    LogEndOffset,
    /// The high watermark.
    HighWatermark,
    /// The leader epoch.
    LeaderEpoch,
    /// A follower's truncation.
    Truncation,
    /// The controller.
    Controller,
    /// An unclean leader election.
    UncleanElection,
    /// `acks`.
    Acks,
    /// The purgatory.
    Purgatory,
    /// The page cache and fsync.
    PageCache,
    /// The idempotent producer's id and sequence numbers.
    ProducerIdAndSequence,
    /// A transaction and the last stable offset.
    Transaction,
    /// The group coordinator.
    Coordinator,
    /// A committed offset.
    CommittedOffset,
    /// A rebalance.
    Rebalance,
    /// A classic group's generation.
    Generation,
    /// A KIP-848 member epoch.
    MemberEpoch,
    /// A Jepsen process.
    Process,
    /// An unknown outcome.
    UnknownOutcome,
    /// The final drain.
    FinalDrain,
}

impl Term {
    /// Every term, in reading order.
    pub const ALL: [Term; 22] = [
        Term::Offset,
        Term::Leader,
        Term::Isr,
        Term::LogEndOffset,
        Term::HighWatermark,
        Term::LeaderEpoch,
        Term::Truncation,
        Term::Controller,
        Term::UncleanElection,
        Term::Acks,
        Term::Purgatory,
        Term::PageCache,
        Term::ProducerIdAndSequence,
        Term::Transaction,
        Term::Coordinator,
        Term::CommittedOffset,
        Term::Rebalance,
        Term::Generation,
        Term::MemberEpoch,
        Term::Process,
        Term::UnknownOutcome,
        Term::FinalDrain,
    ];

    /// The term as a heading, in `lang`.
    pub fn name(self, lang: Lang) -> &'static str {
        let (en, zh) = match self {
            Term::Offset => ("offset", "位移（offset）"),
            Term::Leader => ("leader and follower", "leader 与 follower"),
            Term::Isr => ("ISR (in-sync replicas)", "ISR（同步副本集合）"),
            Term::LogEndOffset => ("log end offset", "日志末端位移（log end offset）"),
            Term::HighWatermark => ("high watermark", "高水位（high watermark）"),
            Term::LeaderEpoch => ("leader epoch", "leader 纪元（leader epoch）"),
            Term::Truncation => ("truncation", "截断（truncation）"),
            Term::Controller => ("controller", "控制器（controller）"),
            Term::UncleanElection => ("unclean leader election", "非干净 leader 选举（unclean leader election）"),
            Term::Acks => ("acks", "acks"),
            Term::Purgatory => ("purgatory", "炼狱（purgatory）"),
            Term::PageCache => ("page cache and fsync", "页缓存与 fsync"),
            Term::ProducerIdAndSequence => ("producer id and sequence", "生产者 id 与序列号"),
            Term::Transaction => ("transaction", "事务（transaction）"),
            Term::Coordinator => ("coordinator", "协调者（coordinator）"),
            Term::CommittedOffset => ("committed offset", "已提交位移（committed offset）"),
            Term::Rebalance => ("rebalance", "再均衡（rebalance）"),
            Term::Generation => ("generation", "代（generation）"),
            Term::MemberEpoch => ("member epoch", "成员纪元（member epoch）"),
            Term::Process => ("process", "进程（process）"),
            Term::UnknownOutcome => ("unknown outcome", "结果未知（unknown outcome）"),
            Term::FinalDrain => ("final drain", "最终排空（final drain）"),
        };
        lang.pick(en, zh)
    }

    /// The anchor of the term's entry in `docs/glossary.md` (its English name,
    /// kebab-case).
    pub fn anchor(self) -> String {
        let name = self.name(Lang::En).to_lowercase();
        let words = name.split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| !w.is_empty());
        words.collect::<Vec<_>>().join("-")
    }

    /// The anchor of the term's heading in `lang` in `docs/glossary.md` (English first,
    /// then Chinese), as GitHub makes it: the heading lowercased, punctuation dropped
    /// (letters of any script kept), spaces as hyphens, and `-1` after a heading that
    /// repeats an earlier one (`acks` is written the same in both languages).
    pub fn anchor_in(self, lang: Lang) -> String {
        if lang == Lang::En {
            return self.anchor();
        }
        let slug = github_slug(self.name(lang));
        let repeats = Term::ALL.iter().any(|t| github_slug(t.name(Lang::En)) == slug);
        if repeats {
            format!("{slug}-1")
        } else {
            slug
        }
    }

    /// The definition, a few sentences in `lang`.
    pub fn definition(self, lang: Lang) -> &'static str {
        let (en, zh) = match self {
            Term::Offset => (
                "A record's position in its partition's log: 0 for the first record, one more for each next. An offset is never reused for another record while the log is intact; a truncation followed by a new append can make it hold another record.",
                "一条消息在其分区日志中的位置：第一条为 0，之后每条加一。日志完好时一个位移不会被另一条消息复用；截断之后的新追加可能让它存放另一条消息。",
            ),
            Term::Leader => (
                "Each partition has one leader replica, on one broker, which takes every produce and (by default) every fetch; its followers fetch from it to copy its log.",
                "每个分区有一个 leader 副本，位于某个 broker 上，承担所有写入和（默认）所有读取；follower 从它拉取数据来复制它的日志。",
            ),
            Term::Isr => (
                "The replicas the leader counts as caught up: a follower that has not reached the leader's log end for replica.lag.time.max.ms (30 s) is removed (Partition.maybeShrinkIsr) and added back once it catches up. acks=all waits for every ISR member; min.insync.replicas is the smallest ISR that still accepts acks=all writes.",
                "leader 认为已追上的副本：在 replica.lag.time.max.ms（30 秒）内没有追到 leader 日志末端的 follower 被移出（Partition.maybeShrinkIsr），追上后再加入。acks=all 等待 ISR 中的每个成员；min.insync.replicas 是仍接受 acks=all 写入的最小 ISR。",
            ),
            Term::LogEndOffset => (
                "The offset the next record appended to a replica's log will get: one past its last record. Each replica has its own; a follower's lags behind the leader's.",
                "追加到某副本日志的下一条消息将得到的位移：最后一条消息的位移加一。每个副本各有一个；follower 的落后于 leader 的。",
            ),
            Term::HighWatermark => (
                "The offset below which every ISR member has the records: the leader advances it as followers fetch, and tells followers its value in fetch responses. Consumers read only below it, and an acks=all write is acknowledged once it passes the batch: the record is then committed.",
                "ISR 中每个成员都已拥有其下所有消息的位移：leader 随 follower 的拉取推进它，并在拉取响应中把它告诉 follower。消费者只能读到它之下的消息；acks=all 写入在它越过批次后被确认，此时消息即为已提交。",
            ),
            Term::LeaderEpoch => (
                "A number the controller raises at each leader change of a partition. Each batch stores the epoch it was appended in, so replicas can tell whose records they hold (KIP-101), and requests carrying an old epoch are refused (FENCED_LEADER_EPOCH).",
                "控制器在分区每次更换 leader 时递增的编号。每个批次记录它被追加时的纪元，使副本能分辨所持消息出自哪任 leader（KIP-101），携带旧纪元的请求会被拒绝（FENCED_LEADER_EPOCH）。",
            ),
            Term::Truncation => (
                "A follower removing the end of its log to match its leader's. Before KIP-101 it truncated to its own high watermark, which can remove committed records; with leader epochs (Kafka 2.0+, KIP-101 and KIP-279) it asks the leader where its epoch ended (OffsetsForLeaderEpoch) and truncates only what the leader does not have.",
                "follower 删除其日志末尾以与 leader 一致。KIP-101 之前它截断到自己的高水位，可能删掉已提交的消息；有了 leader 纪元（Kafka 2.0+，KIP-101 和 KIP-279）它向 leader 询问自己的纪元在哪里结束（OffsetsForLeaderEpoch），只截断 leader 没有的部分。",
            ),
            Term::Controller => (
                "The broker (ZooKeeper mode) or the KRaft quorum leader that elects partition leaders, records ISR changes and tells brokers; a failed controller is replaced by a new one, which reads the stored ISR and leaders.",
                "选举分区 leader、记录 ISR 变更并通知 broker 的组件：ZooKeeper 模式下是某个 broker，KRaft 模式下是 quorum 的 leader；失效的控制器由新的取代，新控制器读取已存储的 ISR 和 leader。",
            ),
            Term::UncleanElection => (
                "Electing a replica outside the ISR as leader when no ISR member is alive (unclean.leader.election.enable, false by default since 0.11): the partition comes back, and the records only the ISR had are lost.",
                "在 ISR 成员都不存活时选举 ISR 之外的副本为 leader（unclean.leader.election.enable，0.11 起默认 false）：分区恢复可用，而只有 ISR 拥有的消息丢失。",
            ),
            Term::Acks => (
                "How many replicas must have a batch before the leader answers the producer: 0 (no answer), 1 (the leader's log), all (every ISR member, with at least min.insync.replicas of them). An acknowledgement is not an fsync.",
                "leader 回答生产者之前必须有多少副本拥有该批次：0（不回答）、1（leader 的日志）、all（ISR 的每个成员，且至少 min.insync.replicas 个）。确认不等于 fsync。",
            ),
            Term::Purgatory => (
                "Where the broker parks a request that cannot be answered yet: an acks=all produce until the high watermark passes it (or request.timeout.ms), a fetch until fetch.min.bytes arrive (or fetch.max.wait.ms).",
                "broker 暂存尚不能回答的请求的地方：acks=all 的写入等到高水位越过它（或 request.timeout.ms），拉取等到 fetch.min.bytes 的数据到达（或 fetch.max.wait.ms）。",
            ),
            Term::PageCache => (
                "Kafka appends to the operating system's page cache and leaves writing to disk to the OS unless log.flush.interval.messages or .ms ask for an fsync. A crashed broker process keeps what the page cache holds; a power loss erases what was not yet written back.",
                "Kafka 把数据追加到操作系统的页缓存，由操作系统负责写盘，除非 log.flush.interval.messages 或 .ms 要求 fsync。broker 进程崩溃时页缓存中的数据仍在；断电则抹去尚未写回磁盘的部分。",
            ),
            Term::ProducerIdAndSequence => (
                "An idempotent producer (enable.idempotence, default since 3.0) gets a producer id and numbers each partition's batches; the leader refuses a gap and answers a retried batch it already has with the first copy's offset instead of appending it again.",
                "幂等生产者（enable.idempotence，3.0 起默认开启）获得一个生产者 id，并为每个分区的批次编号；leader 拒绝序号空缺，对已持有的重试批次回答第一份副本的位移而不再追加。",
            ),
            Term::Transaction => (
                "A transactional producer writes to several partitions and commits or aborts them together; the transaction coordinator writes markers into each partition. read_committed consumers read only below the last stable offset, the first offset of a transaction still open.",
                "事务型生产者向多个分区写入并一起提交或中止；事务协调者在每个分区写入标记。read_committed 消费者只读到最后稳定位移（仍未结束的事务的第一个位移）之下。",
            ),
            Term::Coordinator => (
                "The broker that leads the partition of __consumer_offsets (or __transaction_state) a group (or transactional id) hashes to; it moves when that partition's leader moves.",
                "一个消费组（或事务 id）哈希到的 __consumer_offsets（或 __transaction_state）分区的 leader 所在的 broker；该分区 leader 变动时协调者随之移动。",
            ),
            Term::CommittedOffset => (
                "The offset a group stores with its coordinator for a partition: the next record to read, where a member taking the partition over starts. Committing before processing can skip records after a crash; processing before committing can repeat them.",
                "消费组在协调者处为某分区保存的位移：下一条要读的消息，接手该分区的成员从这里开始。先提交后处理在崩溃后可能跳过消息；先处理后提交可能重复处理。",
            ),
            Term::Rebalance => (
                "The group coordinator redistributing a group's partitions among its members when one joins, leaves or misses its session.timeout.ms.",
                "成员加入、离开或超过 session.timeout.ms 未响应时，组协调者在成员之间重新分配消费组的分区。",
            ),
            Term::Generation => (
                "A classic group's rebalance counter: every rebalance starts a new generation, and the coordinator refuses an offset commit from an older one (ILLEGAL_GENERATION) or from a member it no longer knows (UNKNOWN_MEMBER_ID).",
                "经典消费组的再均衡计数：每次再均衡开启新的一代，协调者拒绝来自旧一代（ILLEGAL_GENERATION）或已不认识的成员（UNKNOWN_MEMBER_ID）的位移提交。",
            ),
            Term::MemberEpoch => (
                "In the KIP-848 consumer protocol each member has its own epoch, raised when the coordinator gives it a new assignment; commits carry it and a stale one is refused (STALE_MEMBER_EPOCH).",
                "在 KIP-848 消费者协议中每个成员有自己的纪元，协调者给它新的分配时递增；提交携带该纪元，过期的会被拒绝（STALE_MEMBER_EPOCH）。",
            ),
            Term::Process => (
                "As in Jepsen, the history names the client that performed each operation by a process id: a producer or consumer gets a new process id each time it restarts, so one process is one run of one client.",
                "与 Jepsen 一样，历史用进程 id 标明执行每个操作的客户端：生产者或消费者每次重启都得到新的进程 id，所以一个进程就是一个客户端的一次运行。",
            ),
            Term::UnknownOutcome => (
                "A send whose answer never came (a timeout, a lost connection): the record may or may not have been written, so the checkers neither require nor forbid it (Jepsen's :info).",
                "一直没有得到回答的发送（超时、连接断开）：消息可能写入也可能没有，所以检查器既不要求也不禁止它出现（Jepsen 的 :info）。",
            ),
            Term::FinalDrain => (
                "After the faults heal, kafkasim assigns itself every partition with a fresh consumer (process 1000000) and reads each from its log start to its high watermark, to learn what the cluster finally holds; a record acknowledged but absent from the drain is lost.",
                "故障恢复后，kafkasim 用一个新的消费者（进程 1000000）手动分配所有分区，从每个分区的日志起点读到高水位，得知集群最终持有的内容；已确认却不在排空结果中的消息即为丢失。",
            ),
        };
        lang.pick(en, zh)
    }

    /// Whether a reader who knows basic Kafka knows the term already: the glossary
    /// defines it, but `explain` does not print it above a story.
    pub fn is_basic(self) -> bool {
        matches!(self, Term::Offset | Term::Leader)
    }

    /// The words whose presence in a story means it uses this term (as whole words;
    /// an upper-case needle matches case-sensitively, a lower-case one in any case).
    fn needles(self) -> &'static [&'static str] {
        match self {
            Term::Offset => &["offset"],
            Term::Leader => &["leader", "follower"],
            Term::Isr => &["ISR"],
            Term::LogEndOffset => &["log end", "log end offset"],
            Term::HighWatermark => &["high watermark", "high-watermark"],
            Term::LeaderEpoch => &["leader epoch", "in epoch"],
            Term::Truncation => &["truncates", "truncated", "truncation"],
            Term::Controller => &["controller"],
            Term::UncleanElection => &["unclean"],
            Term::Acks => &["acks"],
            Term::Purgatory => &["purgatory"],
            Term::PageCache => &["page cache", "fsync", "flushed", "power loss", "power-loss"],
            Term::ProducerIdAndSequence => &["producer id", "sequence", "idempotent", "idempotence"],
            Term::Transaction => &["transaction", "last stable offset", "read_committed"],
            Term::Coordinator => &["coordinator"],
            Term::CommittedOffset => &["commits", "committed offset", "commit"],
            Term::Rebalance => &["rebalance", "rebalances", "rebalanced"],
            Term::Generation => &["generation", "ILLEGAL_GENERATION", "UNKNOWN_MEMBER_ID"],
            Term::MemberEpoch => &["member epoch", "STALE_MEMBER_EPOCH"],
            Term::Process => &["process"],
            Term::UnknownOutcome => &["unknown outcome"],
            Term::FinalDrain => &["final drain"],
        }
    }

    /// Whether `text` uses this term.
    pub fn used_in(self, text: &str) -> bool {
        let lower = text.to_lowercase();
        self.needles().iter().any(|needle| {
            let case_sensitive = needle.chars().any(|c| c.is_ascii_uppercase());
            let (haystack, needle) = if case_sensitive { (text, *needle) } else { (lower.as_str(), *needle) };
            contains_word(haystack, needle)
        })
    }
}

/// Whether `needle` occurs in `haystack` with no letter or digit right before or after.
fn contains_word(haystack: &str, needle: &str) -> bool {
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    haystack.match_indices(needle).any(|(at, _)| {
        let before = haystack[..at].chars().next_back();
        let after = haystack[at + needle.len()..].chars().next();
        !before.is_some_and(is_word) && !after.is_some_and(is_word)
    })
}

/// The terms `text` uses, in reading order.
pub fn terms_used(text: &str) -> Vec<Term> {
    Term::ALL.into_iter().filter(|t| t.used_in(text)).collect()
}

/// The block `explain` prints above its stories: each term they use that is not basic
/// ([`Term::is_basic`]) with its definition in `lang`, and where the glossary is; empty
/// if none.
pub fn render_terms(terms: &[Term], lang: Lang) -> String {
    let mut terms = terms.iter().filter(|t| !t.is_basic()).peekable();
    if terms.peek().is_none() {
        return String::new();
    }
    let mut out = lang
        .pick(
            "Terms used below (all of them: `kafkasim glossary`, docs/glossary.md):\n",
            "下文用到的术语（全部术语：`kafkasim glossary --lang zh`，docs/glossary.md）：\n",
        )
        .to_string();
    for term in terms {
        let _ = writeln!(out, "  {}{}{}", term.name(lang), lang.pick(": ", "："), term.definition(lang));
    }
    out
}

/// `docs/glossary.md`: the glossary in every language, as `kafkasim glossary` prints it.
pub fn document() -> String {
    let parts: Vec<String> = Lang::ALL.into_iter().map(markdown).collect();
    parts.join("\n---\n\n")
}

/// A heading's anchor as GitHub makes it: lowercased, every character that is not a
/// letter, a digit, a space, `-` or `_` dropped, spaces as hyphens.
fn github_slug(heading: &str) -> String {
    heading
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The whole glossary as Markdown in `lang`, as `kafkasim glossary --lang LANG` prints it.
pub fn markdown(lang: Lang) -> String {
    let mut out = match lang {
        Lang::En => String::from(
            "# Glossary\n\nThe terms kafkasim's stories (`explain`, reports) use, in the order a reader meets \
             them. `kafkasim explain` prints the ones a story uses above it. \
             Generated by `kafkasim glossary`; 中文在下面 (`kafkasim glossary --lang zh`).\n",
        ),
        Lang::Zh => String::from(
            "# 术语表\n\nkafkasim 的故事（`explain`、报告）使用的术语，按读者遇到的顺序排列。\
             `kafkasim explain` 会在故事上方列出它用到的术语。由 `kafkasim glossary --lang zh` 生成。\n",
        ),
    };
    for term in Term::ALL {
        let _ = write!(out, "\n## {}\n\n{}\n", term.name(lang), term.definition(lang));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_term_is_found_as_a_whole_word_only() {
        assert!(Term::Isr.used_in("the ISR of orders-0 becomes [3, 1]"));
        assert!(!Term::Isr.used_in("DISRUPTED"));
        assert!(!Term::Isr.used_in("the isr"), "ISR matches case-sensitively");
        assert!(Term::HighWatermark.used_in("truncates orders-0 to offset 841 (high-watermark)"));
        assert!(Term::LeaderEpoch.used_in("elects broker-2 leader of orders-0 in epoch 1"));
        assert!(!Term::Process.used_in("processing"));
        assert!(Term::FinalDrain.used_in("the final drain (process 1000000) polls"));
    }

    #[test]
    fn the_terms_of_a_story_come_in_reading_order() {
        let story = "the final drain polls it; the high watermark passes offset 841; the ISR shrinks";
        assert_eq!(terms_used(story), [Term::Offset, Term::Isr, Term::HighWatermark, Term::FinalDrain]);
    }

    #[test]
    fn each_language_links_to_its_own_heading_of_the_glossary_document() {
        // GitHub's anchors of the document's headings, in order: a repeated slug gets
        // `-1`, `-2`, ... after it.
        let mut seen = std::collections::BTreeMap::<String, usize>::new();
        let mut anchors = std::collections::BTreeMap::new();
        for heading in document()
            .lines()
            .filter(|l| l.starts_with('#'))
            .filter_map(|l| l.trim_start_matches('#').strip_prefix(' '))
        {
            let slug = github_slug(heading);
            let n = seen.entry(slug.clone()).or_default();
            let anchor = if *n == 0 { slug } else { format!("{slug}-{n}") };
            *n += 1;
            anchors.insert(anchor, heading.to_string());
        }
        for term in Term::ALL {
            for lang in Lang::ALL {
                let anchor = term.anchor_in(lang);
                assert_eq!(
                    anchors.get(&anchor).map(String::as_str),
                    Some(term.name(lang)),
                    "{term:?} {lang}: #{anchor}"
                );
            }
        }
        assert_eq!(Term::Acks.anchor_in(Lang::Zh), "acks-1");
    }

    #[test]
    fn every_term_has_a_name_and_a_definition_in_each_language_and_a_distinct_anchor() {
        let mut anchors = std::collections::BTreeSet::new();
        for term in Term::ALL {
            for lang in Lang::ALL {
                assert!(!term.name(lang).is_empty() && term.definition(lang).len() > 40, "{term:?} {lang}");
            }
            assert!(anchors.insert(term.anchor()), "{term:?}");
        }
        assert_eq!(Term::HighWatermark.anchor(), "high-watermark");
        assert_eq!(Term::Isr.anchor(), "isr-in-sync-replicas");
    }

    #[test]
    fn the_committed_glossary_is_the_generated_one() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/glossary.md");
        let committed = std::fs::read_to_string(path).expect("docs/glossary.md exists");
        assert_eq!(committed, document(), "regenerate with: kafkasim glossary > docs/glossary.md");
    }
}

//! The teaching commands: `list` groups the catalog by theme, `explain` tells stories and
//! refuses unknown anomaly kinds, `report` writes both documents and reports unwritable
//! output, `describe` prints topics and groups at a moment of a run.

use crate::support::{kafkasim, scratch_dir, stdout};

#[test]
fn list_groups_every_scenario_under_its_theme_in_catalog_order() {
    let output = kafkasim(&["list"]);
    assert_eq!(output.status.code(), Some(0));
    let text = stdout(&output);
    let headings: Vec<&str> =
        text.lines().filter(|l| !l.starts_with(' ') && !l.is_empty() && !l.starts_with("Run ")).collect();
    let order = [
        "basics",
        "loss",
        "duplication",
        "ordering",
        "consumer-groups",
        "transactions",
        "replication-internals",
        "availability",
        "capacity",
        "history",
        "other",
    ];
    let positions: Vec<usize> = headings
        .iter()
        .map(|h| order.iter().position(|o| o == h).unwrap_or_else(|| panic!("unknown heading {h}")))
        .collect();
    assert!(positions.len() >= 5 && positions.windows(2).all(|w| w[0] < w[1]), "{headings:?}");
    let loss = text.split("\n\n").find(|s| s.starts_with("loss\n")).expect("a loss section");
    assert!(loss.contains("acks1-leader-crash") && loss.contains("acks=1 loses acknowledged writes"), "{loss}");
    let files = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios"))
        .unwrap()
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "toml"))
        .count();
    assert_eq!(text.lines().filter(|l| l.starts_with("  ")).count(), files, "every scenario listed once");
    assert_eq!(kafkasim(&["list", "no-such-dir"]).status.code(), Some(66));
}

#[test]
fn explain_tells_the_story_of_a_lost_write_with_its_cause_and_prevention() {
    let output = kafkasim(&["explain", "scenarios/acks1-leader-crash.toml", "--seed", "4", "--anomaly", "lost-write"]);
    assert_eq!(output.status.code(), Some(0));
    let text = stdout(&output);
    for needle in [
        "The life of value 3979 of orders-0 (offset 3979)",
        "broker-1 appends it as leader at offset 3979 in leader epoch 0",
        "broker-1 acknowledges the batch to the producer (acks=1)",
        "fault: crash on broker-1",
        "broker-2 becomes leader of orders-0 in epoch 1 with log end offset 3979, without offset 3979",
        "Cause: Lost because broker-1 acknowledged it with acks=1 at 8.694 s; broker-1 crashed at 8.700 s before any follower fetched it; broker-2 became leader in epoch 1 at 11.692 s with log end 3979",
        "broker-1 truncated it at 14.055 s (leader-epoch)",
        "Prevention: acks=all with min.insync.replicas=2 would have prevented the loss.",
    ] {
        assert!(text.contains(needle), "missing `{needle}` in:\n{text}");
    }
    assert_eq!(text.matches("lost-write:").count(), 1, "the first anomaly of the kind only");
    let english = kafkasim(&[
        "explain",
        "scenarios/acks1-leader-crash.toml",
        "--seed",
        "4",
        "--anomaly",
        "lost-write",
        "--lang",
        "en",
    ]);
    assert_eq!(stdout(&english), text, "--lang en is the default");
}

#[test]
fn explain_in_chinese_tells_the_same_story_with_chinese_headings_and_sentences() {
    let args =
        ["explain", "scenarios/acks1-leader-crash.toml", "--seed", "4", "--anomaly", "lost-write", "--lang", "zh"];
    let output = kafkasim(&args);
    assert_eq!(output.status.code(), Some(0));
    let text = stdout(&output);
    for needle in [
        "场景 acks1-leader-crash（种子 4）：",
        "下文用到的术语",
        "ISR（同步副本集合）：",
        "lost-write\n  检查器的描述（英文）：orders-0: value 3979 at offset 3979",
        "orders-0 的值 3979（位移 3979） 的经历：",
        "broker-1 作为领导者在领导者纪元 0 中把它追加到位移 3979",
        "broker-1 向生产者确认了该批次（acks=1）",
        "故障：crash，作用于 broker-1",
        "broker-2 在纪元 1 中成为 orders-0 的领导者，日志末端位移为 3979，没有位移 3979",
        "原因：丢失的经过：broker-1 于 8.694 s 以 acks=1 确认了它；broker-1 于 8.700 s 崩溃，在任何追随者拉取它之前；broker-2 于 11.692 s 在纪元 1 中成为领导者，日志末端为 3979",
        "预防：acks=all 配合 min.insync.replicas=2 本可以防止这次丢失。",
        "复现：kafkasim run scenarios/acks1-leader-crash.toml --seed 4",
    ] {
        assert!(text.contains(needle), "missing `{needle}` in:\n{text}");
    }
    // Every template is translated: only the checker's description (shared with `check`)
    // stays English.
    let told: String = text.lines().filter(|l| !l.contains("检查器的描述")).collect::<Vec<_>>().join("\n");
    for english in [
        "The life of",
        "Cause:",
        "Prevention",
        "broker-1 appends",
        "acknowledged",
        "acknowledges",
        "becomes leader",
        "fault:",
        "Terms used below",
        "anomalies",
        "reproduce",
        " because ",
    ] {
        assert!(!told.contains(english), "English `{english}` in:\n{told}");
    }
    assert_eq!(kafkasim(&["explain", "scenarios/acks1-leader-crash.toml", "--lang", "fr"]).status.code(), Some(64));
}

#[test]
fn explain_tells_that_unseen_records_went_with_their_deleted_topic() {
    let output = kafkasim(&[
        "explain",
        "scenarios/deleting-a-topic-under-running-clients.toml",
        "--seed",
        "1",
        "--anomaly",
        "unseen",
    ]);
    assert_eq!(output.status.code(), Some(0));
    let text = stdout(&output);
    for needle in [
        "an administrator deletes orders (DeleteTopics)",
        "broker-1 deletes orders-0 and its log: the topic was deleted",
        "its topic was deleted (DeleteTopics) and broker-3, broker-1 and broker-2 dropped the partition with its log",
        "set delete.topic.enable=false on the controllers",
    ] {
        assert!(text.contains(needle), "missing `{needle}` in:\n{text}");
    }
    // Not a replication setting: the story must not blame one.
    assert!(!text.contains("min.insync.replicas=2"), "{text}");
}

#[test]
fn explain_refuses_an_unknown_anomaly_kind_and_says_when_there_is_none() {
    let bad = kafkasim(&["explain", "scenarios/acks-all-safe.toml", "--seed", "1", "--anomaly", "lost"]);
    assert_eq!(bad.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("expected one of lost-write"));
    let none = kafkasim(&["explain", "scenarios/acks-all-safe.toml", "--seed", "1", "--anomaly", "duplicate"]);
    assert_eq!(none.status.code(), Some(0));
    assert!(stdout(&none).contains("no duplicate anomaly in this run (anomalies found: none)"), "{}", stdout(&none));
}

#[test]
fn report_writes_html_and_markdown_and_fails_clearly_on_unwritable_output() {
    let dir = scratch_dir("report");
    let output = kafkasim(&["report", "scenarios/ordering-keyed.toml", "--out", dir.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    let html = std::fs::read_to_string(dir.join("ordering-keyed/report.html")).unwrap();
    assert!(
        html.starts_with("<!DOCTYPE html>")
            && html.contains("id=\"timeline-orders-0\"")
            && html.contains("id=\"anomalies\"")
    );
    assert!(!html.contains("src=\"http") && !html.contains("href=\"http"), "self-contained");
    let md = std::fs::read_to_string(dir.join("ordering-keyed/README.md")).unwrap();
    assert!(md.contains("kafkasim run scenarios/ordering-keyed.toml --seed 1"), "{md}");
    let _ = std::fs::remove_dir_all(&dir);
    let blocked = kafkasim(&["report", "scenarios/ordering-keyed.toml", "--out", "/proc/kafkasim-cannot-write"]);
    assert_eq!(blocked.status.code(), Some(74));
    assert_eq!(kafkasim(&["report"]).status.code(), Some(64));
}

#[test]
fn report_in_chinese_is_written_beside_the_english_one_with_chinese_headings_and_stories() {
    let dir = scratch_dir("report-zh");
    let args = ["report", "scenarios/acks1-leader-crash.toml", "--lang", "zh", "--out", dir.to_str().unwrap()];
    let output = kafkasim(&args);
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    let written = dir.join("acks1-leader-crash");
    assert!(!written.join("README.md").exists() && !written.join("report.html").exists(), "--lang zh writes zh only");
    let md = std::fs::read_to_string(written.join("README.zh.md")).unwrap();
    let html = std::fs::read_to_string(written.join("report.zh.html")).unwrap();
    for needle in [
        "# leader 崩溃时，acks=1 会丢失已确认的写入",
        "**要点。** acks=1 时",
        "## 复现",
        "kafkasim explain scenarios/acks1-leader-crash.toml --seed 4 --lang zh",
        "## 这次运行",
        "- 发送：调用 ",
        "## 异常",
        "| 异常 | 数量 | 原因 | 预防 |",
        "orders-0 的值 3979（位移 3979） 的经历：",
        "原因：丢失的经过：broker-1 于 8.694 s 以 acks=1 确认了它",
        "[ISR（同步副本集合）](../../docs/glossary.md#isr同步副本集合)",
        "## 修复的证明",
        "个种子中都被阻止",
        "## 场景文件",
    ] {
        assert!(md.contains(needle), "missing `{needle}` in README.zh.md:\n{md}");
    }
    for needle in
        ["<html lang=\"zh\">", "<h2>各分区的时间线</h2>", "<b>原因。</b>", "<summary>这些故事用到的术语</summary>"]
    {
        assert!(html.contains(needle), "missing `{needle}` in report.zh.html");
    }
    // No English heading or template sentence is left (the checkers' descriptions, the
    // trace's quoted details and the scenario file stay as they are).
    let told: String = md
        .split("## 场景文件")
        .next()
        .unwrap()
        .lines()
        .filter(|l| !l.contains("检查器的描述") && !l.starts_with('|') && !l.starts_with("- `"))
        .collect::<Vec<_>>()
        .join("\n");
    for english in [
        "## Reproduce",
        "## The run",
        "## Anomalies",
        "Proof of the fix",
        "The life of",
        "Cause:",
        "Lesson.",
        "sends:",
        "expectation:",
    ] {
        assert!(!told.contains(english), "English `{english}` in README.zh.md:\n{told}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn describe_shows_the_cluster_the_seed_drew() {
    // swarm.toml's file has 2 partitions with replication factor 3; seed 2013 drew 3
    // partitions with replication factor 2 on 5 brokers, which its run had.
    let output = kafkasim(&["describe", "scenarios/swarm.toml", "--seed", "2013"]);
    assert_eq!(output.status.code(), Some(0));
    let text = stdout(&output);
    assert!(text.contains("Topic: orders\tPartitionCount: 3\tReplicationFactor: 2"), "{text}");
    assert!(text.contains("\tPartition: 2\t"), "{text}");
}

#[test]
fn describe_prints_topics_and_groups_before_and_after_a_topic_event() {
    let file = "scenarios/adding-partitions-reorders-keys.toml";
    let before = kafkasim(&["describe", file, "--at", "5s"]);
    assert_eq!(before.status.code(), Some(0));
    let text = stdout(&before);
    assert!(text.contains("at 5s into the safety phase"), "{text}");
    assert!(text.contains("Topic: orders\tPartitionCount: 3\tReplicationFactor: 3"), "{text}");
    assert!(!text.contains("Topic event"), "{text}");
    assert!(text.contains("Group: billing\t(classic, generation 2)"), "{text}");
    let after = stdout(&kafkasim(&["describe", file]));
    assert!(after.contains("Topic: orders\tPartitionCount: 6\tReplicationFactor: 3"), "{after}");
    assert!(after.contains(": add-partitions orders (6 partitions): done"), "{after}");
    assert!(after.contains("\torders-5\t"), "the group owns and commits the new partitions: {after}");
    let run = stdout(&kafkasim(&["run", file, "--seed", "1"]));
    assert!(run.contains(": add-partitions orders (6 partitions): done\n"), "run names the event: {run}");
    let bad = kafkasim(&["describe", file, "--at", "soon"]);
    assert_eq!(bad.status.code(), Some(64), "a bad --at is a usage error (EX_USAGE)");
    assert!(String::from_utf8_lossy(&bad.stderr).contains("expected a duration such as \"12s\""));
}

#[test]
fn list_in_chinese_keeps_the_order_and_a_bad_lang_is_a_usage_error() {
    let english = stdout(&kafkasim(&["list"]));
    let output = kafkasim(&["list", "--lang", "zh"]);
    assert_eq!(output.status.code(), Some(0));
    let chinese = stdout(&output);
    let names = |text: &str| -> Vec<String> {
        text.lines().filter(|l| l.starts_with("  ")).map(|l| l.split_whitespace().next().unwrap().to_string()).collect()
    };
    assert_eq!(names(&chinese), names(&english), "the same scenarios in the same order");
    assert!(chinese.contains("数据丢失 (loss)\n") && chinese.contains("事务 (transactions)\n"), "{chinese}");
    let line = chinese.lines().find(|l| l.trim_start().starts_with("acks1-leader-crash ")).expect("acks1-leader-crash");
    assert!(line.ends_with("leader 崩溃时，acks=1 会丢失已确认的写入"), "{line}");
    assert_eq!(stdout(&kafkasim(&["list", "--lang", "en"])), english, "--lang en is the default");

    let bad = kafkasim(&["list", "--lang", "fr"]);
    assert_eq!(bad.status.code(), Some(64), "EX_USAGE");
    let message = String::from_utf8_lossy(&bad.stderr);
    assert!(message.contains("--lang") && message.contains("expected one of en, zh"), "{message}");

    let run = stdout(&kafkasim(&["run", "scenarios/acks1-leader-crash.toml", "--seed", "1", "--lang", "zh"]));
    assert!(
        run.starts_with("scenario acks1-leader-crash (seed 1)\n  leader 崩溃时，acks=1 会丢失已确认的写入\n"),
        "{run}"
    );
    assert_eq!(kafkasim(&["run", "scenarios/acks1-leader-crash.toml", "--lang", "de"]).status.code(), Some(64));
}

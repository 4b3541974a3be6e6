//! `rewind` events: who is rewound (a consumer, or a group an administrator resets), to
//! where (a time before the event, an offset, offsets by partition), and the errors for
//! each way a file can get them wrong.

use std::path::Path;

use super::*;
use crate::protocol::TopicPartition;

/// `orders` (3 partitions), a group `billing` of two subscribed members and one
/// standalone consumer (lines 1-16), then `rest`.
fn with_consumers(rest: &str) -> String {
    format!(
        "seeds = [1]\nduration = \"20s\"\n[[topics]]\nname = \"orders\"\npartitions = 3\nreplication.factor = 3\n\
         [[consumers]]\ntopic = \"orders\"\ncount = 2\nmode = \"subscribe\"\ngroup = \"billing\"\n\
         [[consumers]]\ntopic = \"orders\"\n{rest}"
    )
}

fn rewind(keys: &str) -> String {
    with_consumers(&format!("[[events]]\nat = \"8s\"\nkind = \"rewind\"\n{keys}"))
}

fn parsed(text: &str) -> TopicEvent {
    let scenario = parse(text, Path::new("x.toml")).unwrap_or_else(|e| panic!("{e}"));
    scenario.events[0].action.clone()
}

fn err(text: &str) -> String {
    match parse(text, Path::new("scenarios/x.toml")) {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn a_consumer_rewinds_by_time_or_to_offsets() {
    assert_eq!(
        parsed(&rewind("target = \"consumer-1\"\nto_time = \"2s\"\n")),
        TopicEvent::Rewind {
            who: RewindWho::Consumer("consumer-1".into()),
            to: RewindTo::Time { since_start_ms: 2_000 }
        }
    );
    assert_eq!(
        parsed(&rewind("target = \"consumer-3\"\nto_offset = 0\n")),
        TopicEvent::Rewind { who: RewindWho::Consumer("consumer-3".into()), to: RewindTo::Offset(0) }
    );
    let by_partition = parsed(&rewind("target = \"consumer-2\"\nto_offset = { \"orders-0\" = 5, \"orders-2\" = 7 }\n"));
    let expected = [(TopicPartition::new("orders", 0), 5), (TopicPartition::new("orders", 2), 7)].into_iter().collect();
    assert_eq!(
        by_partition,
        TopicEvent::Rewind { who: RewindWho::Consumer("consumer-2".into()), to: RewindTo::Offsets(expected) }
    );
    let text = format!(
        "{}",
        parse(&rewind("target = \"consumer-1\"\nto_time = \"2s\"\n"), Path::new("x.toml")).unwrap().events[0]
    );
    assert_eq!(text, "at 8s: consumer-1 rewinds to the records of 2s (offsetsForTimes)");
}

#[test]
fn an_administrator_resets_a_group_of_the_consumers() {
    assert_eq!(
        parsed(&rewind("group = \"billing\"\nto_time = \"1500ms\"\n")),
        TopicEvent::Rewind {
            who: RewindWho::Group { group: "billing".into(), topics: vec!["orders".into()] },
            to: RewindTo::Time { since_start_ms: 1_500 }
        }
    );
    let e = err(&rewind("group = \"payments\"\nto_offset = 0\n"));
    assert_eq!(
        e,
        "scenarios/x.toml:17:9: `events[0].group`: no consumer is in group \"payments\"; expected a group of the \
         `[[consumers]]` (billing)"
    );
}

#[test]
fn each_wrong_rewind_says_what_was_expected() {
    let e = err(&rewind("to_time = \"2s\"\n"));
    assert!(e.starts_with("scenarios/x.toml:14:1: `events[0]`: missing `target` or `group`"), "{e}");
    let e = err(&rewind("target = \"consumer-1\"\ngroup = \"billing\"\nto_time = \"2s\"\n"));
    assert!(e.starts_with("scenarios/x.toml:18:9: `events[0].group`: both `target` and `group`; expected one"), "{e}");
    let e = err(&rewind("target = \"consumer-4\"\nto_time = \"2s\"\n"));
    assert!(e.contains("no consumer is named \"consumer-4\"; expected one of consumer-1 to consumer-3"), "{e}");
    let e = err(&rewind("target = \"consumer-1\"\n"));
    assert!(e.contains("missing `to_time` or `to_offset`"), "{e}");
    let e = err(&rewind("target = \"consumer-1\"\nto_time = \"2s\"\nto_offset = 3\n"));
    assert!(e.starts_with("scenarios/x.toml:19:13: `events[0].to_offset`: both `to_time` and `to_offset`"), "{e}");
    let e = err(&rewind("target = \"consumer-1\"\nto_time = \"8s\"\n"));
    assert!(e.contains("the rewind goes to 8s but happens at 8s; expected a time before `at`"), "{e}");
    let e = err(&rewind("target = \"consumer-1\"\nto_time = 2\n"));
    assert!(e.contains("`events[0].to_time`: expected a duration string with a unit"), "{e}");
    let e = err(&rewind("target = \"consumer-1\"\nto_offset = -1\n"));
    assert!(e.contains("`events[0].to_offset`: expected a non-negative integer, found -1"), "{e}");
    let e = err(&rewind("target = \"consumer-1\"\nto_offset = { \"orders-3\" = 1 }\n"));
    assert!(e.contains("unknown key `orders-3`"), "{e}");
    assert!(e.contains("expected one of \"orders-0\", \"orders-1\" or \"orders-2\"") || e.contains("orders-0"), "{e}");
    let e = err(&rewind("target = \"consumer-1\"\nto_offset = { \"orders-1\" = \"x\" }\n"));
    assert!(e.contains("expected a non-negative integer"), "{e}");
    let e = err(&rewind("target = \"consumer-1\"\nto_offset = {}\n"));
    assert!(e.contains("no partition; expected offsets by partition"), "{e}");
    let e = err(&rewind("target = \"consumer-1\"\nto_time = \"2s\"\ntopic = \"orders\"\n"));
    assert!(e.contains("`topic` does not apply to a \"rewind\" event"), "{e}");
}

#[test]
fn offsets_by_partition_must_name_partitions_that_exist_at_the_rewind() {
    let deleted = with_consumers(
        "[cluster]\nbrokers = 3\nmetadata = \"kraft\"\n[cluster.config]\n\"auto.create.topics.enable\" = false\n\
         [[events]]\nat = \"1s\"\nkind = \"delete-topic\"\ntopic = \"orders\"\n\
         [[events]]\nat = \"8s\"\nkind = \"rewind\"\ntarget = \"consumer-1\"\nto_offset = { \"orders-0\" = 5 }\n",
    );
    let e = err(&deleted);
    assert!(e.contains("partition orders-0 does not exist at 8s"), "{e}");
}

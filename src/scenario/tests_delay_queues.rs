//! `[[delay_queues]]`: what a delay queue entry reads to, what it tells the producers of
//! its tiers, and the errors it gives (each with the file, line, column and field).

use std::path::Path;

use super::*;
use crate::history::RecordDelay;
use crate::protocol::IsolationLevel;

/// Three topics, a producer on the first tier, and one delay queue entry with `extra`
/// appended to it (lines 1-21 before `extra`).
fn with_queue(extra: &str) -> String {
    format!(
        "seeds = [1]\nduration = \"10s\"\n\
         [[topics]]\nname = \"delay-1s\"\npartitions = 2\n\
         [[topics]]\nname = \"delay-5s\"\npartitions = 2\n\
         [[topics]]\nname = \"orders\"\npartitions = 2\n\
         [[producers]]\ntopic = \"delay-1s\"\nrate_per_sec = 10\n\
         [[delay_queues]]\ncount = 2\n\
         tiers = [{{topic = \"delay-1s\", delay = \"1s\"}}, {{topic = \"delay-5s\", delay = \"5s\"}}]\n\
         target = \"orders\"\ngroup = \"delayer\"\nguarantee = \"at-least-once\"\nmax_lateness = \"4s\"\n{extra}"
    )
}

fn parsed(text: &str) -> Result<Scenario, String> {
    parse(text, Path::new("scenarios/x.toml")).map_err(|e| e.to_string())
}

fn err(text: &str) -> String {
    parsed(text).expect_err("an invalid scenario")
}

#[test]
fn a_delay_queue_reads_its_tiers_and_forwarders_and_gives_its_tiers_producers_their_delay() {
    let s = parsed(&with_queue("poll_interval = \"200ms\"\nprocess_time = \"5ms\"\n")).unwrap();
    let q = &s.delay_queues[0];
    assert_eq!(q.tier_topics(), ["delay-1s", "delay-5s"]);
    assert_eq!(q.tiers[1], DelayTier { topic: "delay-5s".into(), delay_ms: 5_000 });
    assert_eq!((q.count, q.target.as_str(), q.group.as_str()), (2, "orders", "delayer"));
    assert_eq!((q.guarantee, q.max_lateness_ms), (Guarantee::AtLeastOnce, 4_000));
    assert_eq!((q.consumer.poll_interval_ms, q.consumer.process_time_ms), (200, 5));
    assert_eq!(q.consumer.config.isolation_level, IsolationLevel::ReadUncommitted);
    assert!(!q.consumer.config.enable_auto_commit);
    assert_eq!(q.producer.topic, "orders");
    // Due after the tier's delay; late after the delay, the period and the bound.
    assert_eq!(s.producers[0].delay, Some(RecordDelay { due_after_ms: 1_000, late_after_ms: 5_200 }));
    let names: Vec<String> = s.forwarder_instances().into_iter().map(|(name, _)| name).collect();
    assert_eq!(names, ["forwarder-1", "forwarder-2"]);
    let pipeline = q.as_pipeline();
    assert_eq!((pipeline.input.as_str(), pipeline.output.as_str()), ("delay-1s", "orders"));

    let exactly_once = parsed(&with_queue("").replace("at-least-once", "exactly-once")).unwrap();
    assert_eq!(exactly_once.delay_queues[0].consumer.config.isolation_level, IsolationLevel::ReadCommitted);
    // A producer of any other topic asks for no delay.
    let other = with_queue("").replace("topic = \"delay-1s\"\nrate", "topic = \"orders\"\nrate");
    assert_eq!(parsed(&other).unwrap().producers[0].delay, None);
    // Tiers may be written as an array of tables too.
    let tables = with_queue("")
        .replace("tiers = [{topic = \"delay-1s\", delay = \"1s\"}, {topic = \"delay-5s\", delay = \"5s\"}]\n", "")
        + "[[delay_queues.tiers]]\ntopic = \"delay-1s\"\ndelay = \"1s\"\n";
    assert_eq!(parsed(&tables).unwrap().delay_queues[0].tier_topics(), ["delay-1s"]);
}

#[test]
fn faults_may_crash_and_stall_forwarders_that_exist() {
    let fault =
        |target: &str| format!("[[faults]]\nat = \"2s\"\nkind = \"stall\"\ntarget = \"{target}\"\nduration = \"3s\"\n");
    assert!(parsed(&with_queue(&fault("forwarder-2"))).is_ok());
    let error = err(&with_queue(&fault("forwarder-3")));
    assert!(error.contains("forwarder-3 does not exist: there are 2, forwarder-1 to forwarder-2"), "{error}");
    let coordinator = "[[faults]]\nat = \"2s\"\nkind = \"crash\"\ntarget = \"the coordinator of group delayer\"\n";
    assert!(parsed(&with_queue(coordinator)).is_ok());
}

#[test]
fn tier_errors_point_at_the_tier_and_say_what_was_expected() {
    let tiers = |tiers: &str| {
        with_queue("").replace(
            "tiers = [{topic = \"delay-1s\", delay = \"1s\"}, {topic = \"delay-5s\", delay = \"5s\"}]",
            &format!("tiers = {tiers}"),
        )
    };
    assert_eq!(
        err(&tiers("[]")),
        "scenarios/x.toml:17:9: `delay_queues[0].tiers`: the delay queue has no tier; expected tiers such as \
         [{topic = \"delay-1s\", delay = \"1s\"}]"
    );
    let e = err(&tiers("[{topic = \"delay-2s\", delay = \"2s\"}]"));
    assert!(
        e.starts_with("scenarios/x.toml:17:19: `delay_queues[0].tiers[0].topic`: topic \"delay-2s\" is not defined"),
        "{e}"
    );
    assert_eq!(
        err(&tiers("[{topic = \"delay-1s\", delay = \"0s\"}]")),
        "scenarios/x.toml:17:39: `delay_queues[0].tiers[0].delay`: expected a delay longer than 0ms"
    );
    let e = err(&tiers("[{topic = \"delay-1s\", delay = 1000}]"));
    assert!(e.contains("`delay_queues[0].tiers[0].delay`: expected a duration string with a unit"), "{e}");
    let e = err(&tiers("[{topic = \"delay-1s\"}]"));
    assert!(e.contains("`delay_queues[0].tiers[0].delay`: missing required key `delay`"), "{e}");
    let e = err(&tiers("[{topic = \"delay-1s\", delay = \"1s\", bound = \"2s\"}]"));
    assert!(e.contains("unknown key `bound`; expected one of `topic` or `delay`"), "{e}");
    assert_eq!(
        err(&tiers("[{topic = \"delay-1s\", delay = \"1s\"}, {topic = \"delay-1s\", delay = \"2s\"}]")),
        "scenarios/x.toml:17:55: `delay_queues[0].tiers[1].topic`: topic \"delay-1s\" is a tier already; expected \
         each tier topic once, in one delay queue"
    );
    let e = err(&tiers("{topic = \"delay-1s\", delay = \"1s\"}"));
    assert!(e.contains("`delay_queues[0].tiers`: expected an array of tables, found a single table"), "{e}");
    // A topic is the tier of one queue only.
    let second = "[[delay_queues]]\ntiers = [{topic = \"delay-5s\", delay = \"5s\"}]\ntarget = \"orders\"\n\
                  group = \"other\"\nguarantee = \"at-least-once\"\nmax_lateness = \"1s\"\n";
    let e = err(&with_queue(second));
    assert!(e.contains("`delay_queues[1].tiers[0].topic`: topic \"delay-5s\" is a tier already"), "{e}");
}

#[test]
fn queue_errors_point_at_the_key_and_say_what_was_expected() {
    let e = err(&with_queue("").replace("target = \"orders\"", "target = \"delay-5s\""));
    assert_eq!(
        e,
        "scenarios/x.toml:18:10: `delay_queues[0].target`: the target \"delay-5s\" is a tier topic: its records \
         would be forwarded to themselves; expected a topic that is no delay queue's tier"
    );
    let e = err(&with_queue("").replace("max_lateness = \"4s\"\n", ""));
    assert!(e.contains("`delay_queues[0].max_lateness`: missing required key `max_lateness`"), "{e}");
    let e = err(&with_queue("").replace("max_lateness = \"4s\"", "max_lateness = 4"));
    assert!(e.contains("`delay_queues[0].max_lateness`: expected a duration string with a unit"), "{e}");
    let e = err(&with_queue("").replace("guarantee = \"at-least-once\"", "guarantee = \"at-most-once\""));
    assert!(e.contains("`delay_queues[0].guarantee`") && e.contains("\"exactly-once\""), "{e}");
    let e = err(&with_queue("poll_interval = \"0ms\"\n"));
    assert!(e.contains("`delay_queues[0].poll_interval`: expected a duration longer than 0ms"), "{e}");
    let e = err(&with_queue("delay = \"1s\"\n"));
    assert!(
        e.contains(
            "`delay_queues[0].delay`: unknown key `delay`; `delay` belongs in each of [[delay_queues]]' `tiers`"
        ),
        "{e}"
    );
    // The forwarders commit by hand, and an exactly-once one needs idempotence.
    let e = err(&with_queue("[delay_queues.consumer]\n\"enable.auto.commit\" = true\n"));
    assert!(e.contains("enable.auto.commit"), "{e}");
    let acks_1 = with_queue("[delay_queues.producer]\nacks = \"1\"\n").replace("at-least-once", "exactly-once");
    let e = err(&acks_1);
    assert!(
        e.contains("an exactly-once delay queue needs a transactional producer")
            && e.contains("[delay_queues.producer]"),
        "{e}"
    );
    // Its group is its own.
    let consumer = "[[consumers]]\ntopic = \"orders\"\nmode = \"subscribe\"\ngroup = \"delayer\"\n";
    let e = err(&format!("{}{consumer}", with_queue("")));
    assert!(e.contains("`delay_queues[0].group`: the group \"delayer\" is also another entry's group"), "{e}");
}

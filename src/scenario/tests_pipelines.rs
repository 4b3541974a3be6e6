//! `[[pipelines]]`: what a pipeline entry reads to, and the errors it gives.

use std::path::Path;

use super::*;
use crate::protocol::IsolationLevel;

/// Two topics and one pipeline entry between them, with `extra` appended to it.
fn with_pipeline(guarantee: &str, extra: &str) -> String {
    format!(
        "seeds = [1]\nduration = \"10s\"\n\
         [[topics]]\nname = \"in\"\npartitions = 2\n\
         [[topics]]\nname = \"out\"\npartitions = 2\n\
         [[pipelines]]\ncount = 2\ninput = \"in\"\noutput = \"out\"\ngroup = \"g\"\nguarantee = \"{guarantee}\"\n{extra}"
    )
}

fn parsed(text: &str) -> Result<Scenario, String> {
    parse(text, Path::new("scenarios/x.toml")).map_err(|e| e.to_string())
}

#[test]
fn an_exactly_once_pipeline_reads_committed_commits_by_hand_and_writes_idempotently() {
    let s = parsed(&with_pipeline("exactly-once", "process_time = \"5ms\"\n")).unwrap();
    let p = &s.pipelines[0];
    assert_eq!((p.count, p.input.as_str(), p.output.as_str(), p.group.as_str()), (2, "in", "out", "g"));
    assert_eq!(p.guarantee, Guarantee::ExactlyOnce);
    assert_eq!(p.process_time_ms, 5);
    assert_eq!(p.consumer.config.isolation_level, IsolationLevel::ReadCommitted);
    assert!(!p.consumer.config.enable_auto_commit);
    assert_eq!(p.consumer.commit, CommitPolicy::AfterProcessing);
    assert!(p.producer.config.enable_idempotence);
    assert!(p.producer.config.transactional_id.is_none(), "set per instance by the runner");
    let names: Vec<String> = s.pipeline_instances().into_iter().map(|(name, _)| name).collect();
    assert_eq!(names, ["pipeline-1", "pipeline-2"]);
    let at_least_once = parsed(&with_pipeline("at-least-once", "")).unwrap();
    assert_eq!(at_least_once.pipelines[0].consumer.config.isolation_level, IsolationLevel::ReadUncommitted);
}

#[test]
fn faults_may_crash_and_stall_pipeline_instances_that_exist() {
    let fault =
        |target: &str| format!("[[faults]]\nat = \"2s\"\nkind = \"stall\"\ntarget = \"{target}\"\nduration = \"3s\"\n");
    assert!(parsed(&with_pipeline("exactly-once", &fault("pipeline-2"))).is_ok());
    let error = parsed(&with_pipeline("exactly-once", &fault("pipeline-3"))).unwrap_err();
    assert!(error.contains("pipeline-3 does not exist: there are 2, pipeline-1 to pipeline-2"), "{error}");
}

#[test]
fn pipeline_errors_point_at_the_key_and_say_what_was_expected() {
    let same = with_pipeline("exactly-once", "").replace("output = \"out\"", "output = \"in\"");
    let error = parsed(&same).unwrap_err();
    assert!(error.contains("pipelines[0].output") && error.contains("would read its own output"), "{error}");

    let error = parsed(&with_pipeline("exactly_once_v2", "")).unwrap_err();
    assert!(error.contains("\"at-least-once\"") && error.contains("\"exactly-once\""), "{error}");

    // The pipeline commits by hand: enable.auto.commit is not a key of its consumer.
    let auto = with_pipeline("at-least-once", "[pipelines.consumer]\n\"enable.auto.commit\" = true\n");
    let error = parsed(&auto).unwrap_err();
    assert!(error.contains("enable.auto.commit"), "{error}");

    let acks_1 = with_pipeline("exactly-once", "[pipelines.producer]\nacks = \"1\"\n");
    let error = parsed(&acks_1).unwrap_err();
    assert!(error.contains("needs a transactional producer"), "{error}");
    assert!(parsed(&acks_1.replace("exactly-once", "at-least-once")).is_ok());
}

/// The pipeline of [`with_pipeline`] with a third topic, `dlq`, and `keys` added to it.
fn with_dead_letter(guarantee: &str, keys: &str) -> String {
    with_pipeline(guarantee, keys).replace("[[pipelines]]", "[[topics]]\nname = \"dlq\"\npartitions = 3\n[[pipelines]]")
}

#[test]
fn a_dead_letter_queue_names_its_topic_its_poison_records_and_their_attempts() {
    let s = parsed(&with_dead_letter("at-least-once", "dead_letter = \"dlq\"\npoison_every = 7\nmax_attempts = 3\n"))
        .unwrap();
    let d = s.pipelines[0].dead_letter.as_ref().expect("a dead-letter queue");
    assert_eq!((d.topic.as_str(), d.partitions, d.poison_every, d.max_attempts), ("dlq", 3, 7, 3));
    assert!(d.is_poison(14) && d.is_poison(0) && !d.is_poison(15));
    // Kafka Connect's errors.retry.timeout = 0: no retries.
    let s = parsed(&with_dead_letter("exactly-once", "dead_letter = \"dlq\"\npoison_every = 10\n")).unwrap();
    assert_eq!(s.pipelines[0].dead_letter.as_ref().map(|d| d.max_attempts), Some(1));
    assert_eq!(parsed(&with_pipeline("exactly-once", "")).unwrap().pipelines[0].dead_letter, None);
}

#[test]
fn dead_letter_errors_point_at_the_key_and_say_what_was_expected() {
    let error_of = |keys: &str| parsed(&with_dead_letter("at-least-once", keys)).unwrap_err();

    let error = error_of("dead_letter = \"nope\"\npoison_every = 7\n");
    assert!(error.contains("pipelines[0].dead_letter") && error.contains("topic \"nope\" is not defined"), "{error}");

    let error = error_of("dead_letter = \"in\"\npoison_every = 7\n");
    assert!(error.contains("pipelines[0].dead_letter"), "{error}");
    assert!(error.contains("the dead-letter topic \"in\" is also the pipeline's input"), "{error}");
    let error = error_of("dead_letter = \"out\"\npoison_every = 7\n");
    assert!(error.contains("is also the pipeline's output; expected a topic of its own"), "{error}");

    let error = error_of("dead_letter = \"dlq\"\n");
    assert!(error.contains("pipelines[0].poison_every"), "{error}");
    assert!(error.contains("missing required key `poison_every` beside `dead_letter`"), "{error}");

    let error = error_of("dead_letter = \"dlq\"\npoison_every = 0\n");
    assert!(
        error.contains("pipelines[0].poison_every") && error.contains("expected a number of at least 1"),
        "{error}"
    );
    let error = error_of("dead_letter = \"dlq\"\npoison_every = \"7\"\n");
    assert!(error.contains("write the value without quotes"), "{error}");

    let error = error_of("dead_letter = \"dlq\"\npoison_every = 7\nmax_attempts = 0\n");
    assert!(error.contains("pipelines[0].max_attempts") && error.contains("at least 1"), "{error}");

    // The dead-letter keys describe a dead-letter queue: alone they are a mistake.
    let error = error_of("max_attempts = 3\n");
    assert!(error.contains("pipelines[0].max_attempts"), "{error}");
    assert!(error.contains("this pipeline has none; expected `dead_letter = \"TOPIC\"`"), "{error}");
    let error = error_of("poison_every = 3\n");
    assert!(error.contains("pipelines[0].poison_every") && error.contains("this pipeline has none"), "{error}");

    let error = error_of("dead_letters = \"dlq\"\n");
    assert!(error.contains("dead_letters"), "{error}");
}

#[test]
fn a_pipeline_forwards_to_the_same_numbered_partition_unless_a_partitioner_spreads_its_output() {
    use crate::protocol::UnkeyedPartitioning;
    let p = &parsed(&with_pipeline("at-least-once", "")).unwrap().pipelines[0];
    assert_eq!(p.output_partitioner, OutputPartitioner::SamePartition);
    assert_eq!(p.producer.partitioning, Partitioning::Explicit);
    for (name, partitioner) in [
        ("round-robin", UnkeyedPartitioning::RoundRobin),
        ("sticky", UnkeyedPartitioning::Sticky),
        ("uniform-sticky", UnkeyedPartitioning::UniformSticky),
    ] {
        let text = with_pipeline("at-least-once", &format!("output_partitioner = \"{name}\"\n"));
        let p = &parsed(&text).unwrap().pipelines[0];
        assert_eq!(p.output_partitioner, OutputPartitioner::Unkeyed(partitioner), "{name}");
        assert_eq!((p.producer.partitioning, p.producer.partitioner), (Partitioning::Unkeyed, partitioner), "{name}");
    }
    let error = parsed(&with_pipeline("at-least-once", "output_partitioner = \"roundrobin\"\n")).unwrap_err();
    assert!(error.contains("pipelines[0].output_partitioner"), "{error}");
    assert!(error.contains("\"same-partition\"") && error.contains("(did you mean \"round-robin\"?)"), "{error}");
    // `--set` reaches it, as `--vary output_partitioner=...` needs.
    let settings = [Setting { key: "output_partitioner".into(), value: "sticky".into() }];
    let set = parse_with(
        &with_pipeline("at-least-once", ""),
        Path::new("scenarios/x.toml"),
        &settings,
        SetScope::OneScenario,
    )
    .unwrap();
    assert_eq!(set.pipelines[0].output_partitioner, OutputPartitioner::Unkeyed(UnkeyedPartitioning::Sticky));
}

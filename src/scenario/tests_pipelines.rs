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

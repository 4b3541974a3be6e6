//! `kafkasim explain --prove-fix` and `--what-if`: a lesson's `[fix] set` proved over
//! seeds, an insufficient fix refuted with its counterexample's story, and the smallest
//! preventing candidate named among a useless and a useful one.

use crate::support::{kafkasim, scenario_path, scratch_dir, stdout};

#[test]
fn the_idempotence_fix_of_retry_duplicates_is_proved_over_its_seeds_and_more() {
    let output =
        kafkasim(&["explain", "scenarios/retry-duplicates.toml", "--seed", "1", "--prove-fix", "--seeds-more", "6"]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    for needle in [
        "scenario retry-duplicates: proof of the fix (enable.idempotence=true)",
        "the lesson's anomalies: duplicate",
        "seeds tried: 1, 2, 3, 4, 5, 6, 7",
        "prevented in 7/7 seeds",
    ] {
        assert!(text.contains(needle), "missing `{needle}` in:\n{text}");
    }
}

#[test]
fn an_insufficient_fix_is_refuted_by_its_first_counterexample_with_the_story_and_exit_1() {
    let source = std::fs::read_to_string(scenario_path("retry-duplicates")).unwrap();
    let fixed_line = "set = { \"enable.idempotence\" = true }";
    assert!(source.contains(fixed_line));
    // acks=1 instead of idempotence: retries still append twice.
    let weak = source.replace(fixed_line, "set = { acks = \"1\" }");
    let file = scratch_dir("prove-fix-weak").join("retry-duplicates-weak.toml");
    std::fs::write(&file, weak).unwrap();
    let output = kafkasim(&["explain", file.to_str().unwrap(), "--seed", "2", "--prove-fix", "--seeds-more", "3"]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    for needle in [
        "not prevented: seed 2 still shows duplicate",
        "duplicate: ",
        "The life of value",
        "Cause: ",
        "reproduce: kafkasim run ",
        "--seed 2 --set acks=1",
    ] {
        assert!(text.contains(needle), "missing `{needle}` in:\n{text}");
    }
    // The counterexample comes first: no seed after it is needed to refute the fix.
    assert!(text.find("not prevented").unwrap() < text.find("duplicate: ").unwrap(), "{text}");
}

#[test]
fn prove_fix_and_what_if_speak_chinese_with_lang_zh() {
    let source = std::fs::read_to_string(scenario_path("retry-duplicates")).unwrap();
    let weak = source.replace("set = { \"enable.idempotence\" = true }", "set = { acks = \"1\" }");
    let file = scratch_dir("prove-fix-zh").join("retry-duplicates-weak.toml");
    std::fs::write(&file, weak).unwrap();
    let args = ["explain", file.to_str().unwrap(), "--seed", "2", "--prove-fix", "--seeds-more", "0", "--lang", "zh"];
    let output = kafkasim(&args);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    for needle in [
        "：修复的证明（acks=1）",
        "本课要讲的异常：duplicate",
        "没有被阻止：种子 2 仍然出现 duplicate",
        "的经历：",
        "原因：",
        "复现：kafkasim run ",
    ] {
        assert!(text.contains(needle), "missing `{needle}` in:\n{text}");
    }
    let args = [
        "explain",
        "scenarios/retry-duplicates.toml",
        "--seed",
        "1",
        "--seeds-more",
        "0",
        "--what-if",
        "enable.idempotence=true",
        "--lang",
        "zh",
    ];
    let output = kafkasim(&args);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    for needle in [
        "试过的种子：1",
        "候选",
        "剩下的异常（出现它的种子数）",
        "能阻止异常的最小改动：enable.idempotence=true（在试过的每个种子中都阻止了 duplicate",
    ] {
        assert!(text.contains(needle), "missing `{needle}` in:\n{text}");
    }
}

#[test]
fn what_if_names_the_useful_candidate_and_shows_the_useless_one_failing() {
    let output = kafkasim(&[
        "explain",
        "scenarios/retry-duplicates.toml",
        "--seed",
        "1",
        "--seeds-more",
        "3",
        "--what-if",
        "acks=1",
        "--what-if",
        "enable.idempotence=true",
    ]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    let row = |label: &str| text.lines().find(|l| l.starts_with(label)).unwrap_or_else(|| panic!("{label}: {text}"));
    assert!(row("acks=1 ").contains(" 0/4 ") && row("acks=1 ").contains("duplicate (4 seeds)"), "{text}");
    assert!(row("enable.idempotence=true ").contains(" 4/4  none"), "{text}");
    assert!(text.contains("smallest preventing change: enable.idempotence=true"), "{text}");
    assert!(!text.contains(" + "), "no pair is tried when one candidate suffices:\n{text}");
}

#[test]
fn prove_fix_needs_a_fix_with_settings_and_what_if_refuses_a_setting_the_scenario_cannot_take() {
    let output = kafkasim(&["explain", "scenarios/idempotent-producer.toml", "--prove-fix"]);
    assert_eq!(output.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&output.stderr).contains("has no [fix] set"));
    let output = kafkasim(&["explain", "scenarios/retry-duplicates.toml", "--what-if", "acks=most"]);
    assert_eq!(output.status.code(), Some(65));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--set acks=most"));
}

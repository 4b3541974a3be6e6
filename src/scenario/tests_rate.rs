//! `[[producers]] rate_per_sec`: a number or a schedule of steps, and every wrong
//! schedule's error with its file, line, column and field.

use std::path::Path;

use super::*;

/// A scenario of 20 s whose producer (line 5) has `rate` as its rate_per_sec.
fn with_rate(rate: &str) -> String {
    format!("seeds = [1]\nduration = \"20s\"\n[[topics]]\nname = \"orders\"\n[[producers]]\ntopic = \"orders\"\nrate_per_sec = {rate}\n")
}

fn parse_rate(rate: &str) -> Result<RateSchedule, String> {
    parse(&with_rate(rate), Path::new("scenarios/x.toml"))
        .map(|s| s.producers[0].rate_per_sec.clone())
        .map_err(|e| e.to_string())
}

fn err(rate: &str) -> String {
    parse_rate(rate).expect_err("expected an error")
}

#[test]
fn a_number_is_a_constant_rate_and_a_list_a_schedule() {
    assert_eq!(parse_rate("50").unwrap(), RateSchedule::constant(50.0));
    assert_eq!(parse_rate("2.5").unwrap(), RateSchedule::constant(2.5));
    let burst = parse_rate("[{ at = \"0s\", rate = 200 }, { at = \"5s\", rate = 20000 }, { at = \"8s\", rate = 200 }]")
        .unwrap();
    assert_eq!(
        burst.steps(),
        [
            RateStep { at_ms: 0, rate_per_sec: 200.0 },
            RateStep { at_ms: 5_000, rate_per_sec: 20_000.0 },
            RateStep { at_ms: 8_000, rate_per_sec: 200.0 },
        ]
    );
    assert!(!burst.is_constant());
    // One step is a constant rate too.
    assert!(parse_rate("[{ at = \"0s\", rate = 7.5 }]").unwrap().is_constant());
}

#[test]
fn a_rate_of_the_wrong_kind_says_both_forms() {
    let both = "expected records per second per producer, such as 100, or a list of steps such as \
                [{ at = \"0s\", rate = 200 }, { at = \"5s\", rate = 20000 }]";
    assert_eq!(
        err("\"100\""),
        format!(
            "scenarios/x.toml:7:16: `producers[0].rate_per_sec`: {both}, found string \"100\"; write the value \
             without quotes"
        )
    );
    assert_eq!(
        err("{ at = \"0s\" }"),
        format!("scenarios/x.toml:7:16: `producers[0].rate_per_sec`: {both}, found a table")
    );
    assert_eq!(
        err("0"),
        "scenarios/x.toml:7:16: `producers[0].rate_per_sec`: expected a rate above 0 and at most 1000000, found 0"
    );
}

#[test]
fn every_wrong_step_is_reported_where_it_is_written() {
    assert_eq!(
        err("[]"),
        "scenarios/x.toml:7:16: `producers[0].rate_per_sec`: the rate schedule has no step; expected records per \
         second per producer, such as 100, or a list of steps such as [{ at = \"0s\", rate = 200 }, { at = \"5s\", \
         rate = 20000 }]"
    );
    assert_eq!(
        err("[{ at = \"1s\", rate = 200 }]"),
        "scenarios/x.toml:7:24: `producers[0].rate_per_sec[0].at`: the first step begins at 1s; expected at = \
         \"0s\": the schedule says the rate from the start of the workload"
    );
    assert_eq!(
        err("[{ at = \"0s\", rate = 200 }, { at = \"5s\", rate = 10 }, { at = \"5s\", rate = 30 }]"),
        "scenarios/x.toml:7:77: `producers[0].rate_per_sec[2].at`: this step begins at 5s, not after the step \
         before it (5s); expected steps in increasing order of `at`, each later than the one before"
    );
    assert_eq!(
        err("[{ at = \"0s\", rate = 200 }, { at = \"3s\", rate = 10 }, { at = \"2s\", rate = 30 }]"),
        "scenarios/x.toml:7:77: `producers[0].rate_per_sec[2].at`: this step begins at 2s, not after the step \
         before it (3s); expected steps in increasing order of `at`, each later than the one before"
    );
    assert_eq!(
        err("[{ at = \"0s\", rate = 200 }, { at = \"20s\", rate = 10 }]"),
        "scenarios/x.toml:7:51: `producers[0].rate_per_sec[1].at`: the step begins at 20s but the safety phase \
         (`duration`) ends at 20s, when the producers stop; expected a time before 20s"
    );
    assert_eq!(
        err("[{ at = \"0s\", rate = -5 }]"),
        "scenarios/x.toml:7:37: `producers[0].rate_per_sec[0].rate`: expected a rate above 0 and at most 1000000, \
         found -5"
    );
    assert_eq!(
        err("[{ at = \"0s\", rate = 0 }]"),
        "scenarios/x.toml:7:37: `producers[0].rate_per_sec[0].rate`: expected a rate above 0 and at most 1000000, \
         found 0"
    );
    assert_eq!(
        err("[{ at = \"0s\" }]"),
        "scenarios/x.toml:7:17: `producers[0].rate_per_sec[0].rate`: missing required key `rate`; expected records \
         per second per producer, such as 200"
    );
    assert_eq!(
        err("[{ rate = 5 }]"),
        "scenarios/x.toml:7:17: `producers[0].rate_per_sec[0].at`: missing required key `at`; expected when the \
         step begins since the workload started, such as \"5s\""
    );
    assert_eq!(
        err("[{ at = 5, rate = 5 }]"),
        "scenarios/x.toml:7:24: `producers[0].rate_per_sec[0].at`: expected a duration string with a unit, such as \
         \"150ms\", \"2.5s\" or \"1m\", found integer 5; a bare number does not say its unit"
    );
    assert_eq!(
        err("[{ at = \"0s\", rates = 5 }]"),
        "scenarios/x.toml:7:30: `producers[0].rate_per_sec[0].rates`: unknown key `rates` (did you mean `rate`?); \
         expected one of `at` or `rate`"
    );
    assert_eq!(
        err("[200, 300]"),
        "scenarios/x.toml:7:17: `producers[0].rate_per_sec[0]`: expected a table, found integer 200"
    );
}

#[test]
fn a_schedule_can_be_set_from_the_command_line() {
    let settings = ["rate_per_sec=[{at=\"0s\",rate=5},{at=\"2s\",rate=50}]".parse::<Setting>().unwrap()];
    let scenario =
        parse_with(&with_rate("10"), Path::new("scenarios/x.toml"), &settings, SetScope::OneScenario).unwrap();
    assert_eq!(scenario.producers[0].rate_per_sec.to_string(), "5/s from 0s, 50/s from 2s");
}

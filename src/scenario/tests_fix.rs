//! The fix: the old prose string, the `[fix]` table with `text` and `set`, and the errors
//! of each (with the file, line, column and field).

use super::tests::ok;
use super::tests_errors::{err, error};
use super::*;
use crate::check::AnomalyKind;

/// A valid header, a topic and a producer, lines 1-10.
const BASE: &str = "seeds = [1]\nduration = \"20s\"\n[[topics]]\nname = \"orders\"\nreplication.factor = 3\n[[producers]]\ntopic = \"orders\"\n\
                    rate_per_sec = 10\n[producers.config]\nacks = \"1\"\n";

fn settings(s: &Scenario) -> Vec<String> {
    s.fix_settings.iter().map(|s| s.to_string()).collect()
}

#[test]
fn the_old_prose_string_still_reads_and_has_no_settings() {
    let s = ok(&format!("fix = \"use acks=all\"\n{BASE}"));
    assert_eq!(s.fix.as_deref(), Some("use acks=all"));
    assert!(s.fix_settings.is_empty());
    assert!(ok(BASE).fix.is_none());
}

#[test]
fn a_fix_table_has_the_prose_as_text_and_settings_as_set_takes_them() {
    let s = ok(&format!(
        "{BASE}[fix]\ntext = \"acks=all with min.insync.replicas=2\"\n\
         set = {{ acks = \"all\", \"min.insync.replicas\" = 2, enable.idempotence = true }}\n"
    ));
    assert_eq!(s.fix.as_deref(), Some("acks=all with min.insync.replicas=2"));
    assert_eq!(settings(&s), ["acks=all", "min.insync.replicas=2", "enable.idempotence=true"]);
    // The run itself is unchanged: the settings are only applied on request.
    assert_eq!(s.producers[0].config.acks, crate::protocol::Acks::Leader);
    // Applied as --set would apply them.
    let fixed = parse_with(&s.source, &s.path, &s.fix_settings, SetScope::OneScenario).unwrap();
    assert_eq!(fixed.producers[0].config.acks, crate::protocol::Acks::All);
    assert_eq!(fixed.topics[0].min_insync_replicas(&fixed.cluster.config), 2);

    // A [fix.set] table, a version string, and [zh] translating the text.
    let v = ok(&format!("{BASE}[fix]\ntext = \"upgrade\"\n[fix.set]\nkafka_version = \"2.0\"\n[zh]\nfix = \"升级\"\n"));
    assert_eq!(settings(&v), ["kafka_version=2.0"]);
    assert_eq!(v.texts(Lang::Zh).fix.as_deref(), Some("升级"));
    // Settings without prose.
    assert!(ok(&format!("{BASE}[fix]\nset = {{ acks = \"all\" }}\n")).fix.is_none());
}

#[test]
fn a_file_with_both_forms_is_refused_at_the_second() {
    let e = error(&format!("fix = \"prose\"\n{BASE}[fix]\ntext = \"more\"\n"));
    assert_eq!(e.line, 12);
    assert!(e.message.contains("duplicate key `fix`"), "{e}");
    assert!(e.message.contains("either `fix = \"...\"` (the fix in prose) or a [fix] table"), "{e}");
}

#[test]
fn fix_errors_name_the_line_column_and_field() {
    // An unknown setting: --set's own message, at the key.
    assert_eq!(
        err(&format!("{BASE}[fix]\ntext = \"t\"\nset = {{ min.insync.replica = 2 }}\n")),
        "scenarios/x.toml:13:9: `fix.set.min.insync.replica`: unknown setting `min.insync.replica` (did you mean \
         `min.insync.replicas`?); expected a top-level key, or a key of [cluster], [network], [[topics]], \
         [[producers]], [[consumers]] or their config tables"
    );
    assert!(err(&format!("{BASE}[fix]\nset = {{ kinds = [\"crash\"] }}\n"))
        .contains("`kinds` belongs in [nemesis], which --set does not reach"));
    // A value the scenario cannot take: at the value, with the reader's message.
    assert_eq!(
        err(&format!("{BASE}[fix]\nset = {{ acks = \"most\" }}\n")),
        "scenarios/x.toml:12:16: `fix.set.acks`: the scenario cannot take this fix setting (at \
         `producers[0].config.acks`): expected \"all\", \"-1\", \"1\" or \"0\" (or the integers -1, 1, 0), found \
         string \"most\""
    );
    // A setting with no table to go into.
    assert!(err("seeds = [1]\nduration = \"20s\"\n[fix]\nset = { acks = \"all\" }\n")
        .starts_with("scenarios/x.toml:4:16: `fix.set.acks`: the scenario cannot take this fix setting"));
    // Unknown keys of [fix], a wrong type, an empty table.
    assert!(err(&format!("{BASE}[fix]\nprose = \"x\"\n"))
        .contains("unknown key `prose`; expected one of `text`, `set` or `prevents`"));
    assert!(
        err(&format!("{BASE}[fix]\ntext = 3\n")).starts_with("scenarios/x.toml:12:8: `fix.text`: expected a string")
    );
    assert!(err(&format!("{BASE}[fix]\nset = [1]\n")).contains("`fix.set`: expected a table of settings"));
    assert!(err(&format!("fix = 3\n{BASE}")).contains("`fix`: expected a string (the fix in prose), or a [fix] table"));
    assert!(err(&format!("{BASE}[fix]\n")).contains("an empty [fix]"));
}

#[test]
fn prevents_names_the_kinds_of_expect_present_the_fix_prevents() {
    let expect = "[expect]\npresent = [\"replica-divergence\", \"lost-write\"]\n";
    let s = ok(&format!(
        "{BASE}{expect}[fix]\ntext = \"upgrade\"\nset = {{ kafka_version = \"2.0\" }}\nprevents = [\"replica-divergence\"]\n"
    ));
    assert_eq!(s.fix_prevents, [AnomalyKind::ReplicaDivergence]);
    assert_eq!(crate::prove::target_kinds(&s, Vec::new), [AnomalyKind::ReplicaDivergence]);
    // Without it, the fix must prevent every kind of [expect] present.
    let all = ok(&format!("{BASE}{expect}[fix]\nset = {{ kafka_version = \"2.0\" }}\n"));
    assert!(all.fix_prevents.is_empty());
    assert_eq!(crate::prove::target_kinds(&all, Vec::new), [AnomalyKind::LostWrite, AnomalyKind::ReplicaDivergence]);
    // A kind the lesson does not show, an unknown kind, an empty list: at the item.
    assert_eq!(
        err(&format!("{BASE}{expect}[fix]\nset = {{ acks = \"all\" }}\nprevents = [\"duplicate\"]\n")),
        "scenarios/x.toml:15:13: `fix.prevents[0]`: `duplicate` is not in [expect] present; expected kinds the \
         lesson shows, of replica-divergence, lost-write"
    );
    assert!(err(&format!("{BASE}{expect}[fix]\nprevents = [\"lost-writes\"]\n"))
        .contains("unknown anomaly \"lost-writes\" (did you mean \"lost-write\"?)"));
    assert!(err(&format!("{BASE}{expect}[fix]\nprevents = []\n")).contains("an empty list"));
}

#[test]
fn a_set_fix_text_cannot_replace_a_fix_table_but_replaces_the_prose_form() {
    let table = format!("{BASE}[fix]\ntext = \"acks=all\"\nset = {{ acks = \"all\" }}\n");
    let flags = [Setting { key: "fix".into(), value: "something else".into() }];
    let e = parse_with(&table, std::path::Path::new("scenarios/x.toml"), &flags, SetScope::OneScenario)
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("--set 'fix=something else' (over scenarios/x.toml)"), "{e}");
    assert!(e.contains("this file has a [fix] table, which a --set value cannot replace"), "{e}");
    let prose = format!("fix = \"use acks=all\"\n{BASE}");
    let s = parse_with(&prose, std::path::Path::new("scenarios/x.toml"), &flags, SetScope::OneScenario).unwrap();
    assert_eq!(s.fix.as_deref(), Some("something else"));
}

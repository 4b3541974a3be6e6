//! Property tests: no input makes the parser panic, and every error has a real position.

use std::path::Path;

use proptest::prelude::*;

use super::tests::FULL;
use super::*;

/// Fragments that tend to hit edge cases when spliced into a valid file.
const TOKENS: &[&str] = &[
    "\n",
    "=",
    "\"",
    "'",
    "[",
    "]",
    "{",
    "}",
    ",",
    ".",
    "#",
    "-",
    "é",
    "\r\n",
    "[[faults]]\n",
    "[[topics]]\n",
    "[cluster]\n",
    "[expect]\n",
    "[producers.config]\n",
    "0",
    "-1",
    "99999999999999999999",
    "1e400",
    "nan",
    "inf",
    "2147483648",
    "18446744073709551615",
    "\"\"",
    "[]",
    "{}",
    "true",
    "1979-05-27T07:32:00Z",
    "\"0.5ms\"",
    "\"broker-0\"",
    "\"broker-99\"",
    "\"1..0\"",
    "\"0..18446744073709551615\"",
    "\"*\"",
    "\"crashed\"",
    "\"the leader of orders-99\"",
    "\"a follower of audit-log-0\"",
    "\"everyone else\"",
    "a.b.c = 1\n",
    "replication.factor = 9\n",
    "min.insync.replicas = 0\n",
    "acks = 7\n",
    "\"enable.idempotence\" = true\n",
    "seeds = \"1..1\"\n",
    "duration = \"0s\"\n",
    "at = \"99s\"\n",
    "kind = \"heal\"\n",
    "x = [[[[[[1]]]]]]\n",
];

#[derive(Clone, Debug)]
enum Edit {
    Delete { at: usize, len: usize },
    Insert { at: usize, token: usize },
    InsertChar { at: usize, c: char },
    SwapLines { a: usize, b: usize },
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), 1usize..20).prop_map(|(at, len)| Edit::Delete { at, len }),
        (any::<usize>(), 0..TOKENS.len()).prop_map(|(at, token)| Edit::Insert { at, token }),
        (any::<usize>(), any::<char>()).prop_map(|(at, c)| Edit::InsertChar { at, c }),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Edit::SwapLines { a, b }),
    ]
}

fn apply(text: &str, edits: &[Edit]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for e in edits {
        let n = chars.len() + 1;
        match *e {
            Edit::Delete { at, len } => {
                let start = at % n;
                let end = (start + len).min(chars.len());
                chars.drain(start.min(end)..end);
            }
            Edit::Insert { at, token } => {
                let at = at % n;
                chars.splice(at..at, TOKENS[token].chars());
            }
            Edit::InsertChar { at, c } => chars.insert(at % n, c),
            Edit::SwapLines { a, b } => {
                let s: String = chars.iter().collect();
                let mut lines: Vec<&str> = s.split('\n').collect();
                let len = lines.len();
                lines.swap(a % len, b % len);
                chars = lines.join("\n").chars().collect();
            }
        }
    }
    chars.into_iter().collect()
}

/// Parses without panicking; an error must sit on a line of the text.
fn check(text: &str) -> Result<(), TestCaseError> {
    match parse(text, Path::new("scenarios/p.toml")) {
        Ok(s) => {
            prop_assert!(!s.seeds.is_empty());
            prop_assert!(s.faults.windows(2).all(|w| w[0].at_ms <= w[1].at_ms));
            prop_assert!(s.faults.iter().all(|f| f.at_ms < s.duration_ms));
        }
        Err(e) => {
            let lines = text.split('\n').count();
            prop_assert!(e.line >= 1 && e.line <= lines, "line {} of {lines}: {e}", e.line);
            prop_assert!(e.column >= 1, "{e}");
            prop_assert!(!e.message.is_empty());
            prop_assert!(e.snippet().is_some());
            prop_assert!(e.to_string().starts_with("scenarios/p.toml:"));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn mutations_of_a_valid_file_never_panic(edits in proptest::collection::vec(edit(), 1..6)) {
        check(&apply(FULL, &edits))?;
    }

    #[test]
    fn random_text_never_panics(text in "\\PC{0,300}") {
        check(&text)?;
    }

    #[test]
    fn random_toml_shaped_text_never_panics(text in "([a-z_.\"]{1,12} = (\"[a-z0-9 .-]{0,12}\"|-?[0-9]{1,20}|true|\\[[0-9, ]{0,10}\\])\n|\\[{1,2}[a-z.]{1,16}\\]{1,2}\n){0,20}") {
        check(&text)?;
    }
}

#[test]
fn the_valid_fixture_survives_the_checks() {
    check(FULL).unwrap();
}

#[test]
fn deeply_nested_input_is_an_error_not_a_stack_overflow() {
    let n = 50_000;
    for text in [
        format!("seeds = {}{}", "[".repeat(n), "]".repeat(n)),
        format!("x = {}1{}", "{a = ".repeat(n), "}".repeat(n)),
        format!("{} = 1", vec!["a"; n].join(".")),
        format!("[{}]", vec!["a"; n].join(".")),
        format!("[cluster.config]\n{} = 1", vec!["min"; n].join(".")),
    ] {
        check(&text).unwrap();
    }
}

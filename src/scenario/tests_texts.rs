//! The `[zh]` table: read into [`Texts`], one Chinese text for each English one, and
//! refused with the file, line, column and field when it does not match the English.

use std::path::Path;

use super::tests::ok;
use super::*;

fn err(text: &str) -> String {
    match parse(text, Path::new("scenarios/x.toml")) {
        Ok(_) => panic!("expected an error for:\n{text}"),
        Err(e) => e.to_string(),
    }
}

/// Two English texts (title, fix) and the smallest valid header, lines 1-4.
const BASE: &str = "title = \"acks=1 loses writes\"\nfix = \"use acks=all\"\nseeds = [1]\nduration = \"20s\"\n";

#[test]
fn zh_translates_the_english_texts_and_list_falls_back_to_english_without_it() {
    let s = ok(&format!("{BASE}[zh]\ntitle = \"acks=1 会丢失已确认的写入\"\nfix = \"使用 acks=all\"\n"));
    let zh = s.zh.clone().expect("a [zh] table");
    assert_eq!(zh.title.as_deref(), Some("acks=1 会丢失已确认的写入"));
    assert_eq!((zh.lesson, zh.mechanism), (None, None));
    assert_eq!(s.texts(Lang::Zh).get(TextKey::Fix), Some("使用 acks=all"));
    assert_eq!(s.texts(Lang::En).get(TextKey::Fix), Some("use acks=all"));

    let without = ok(BASE);
    assert_eq!(without.zh, None);
    assert_eq!(without.texts(Lang::Zh), without.texts(Lang::En), "no [zh]: English");
}

#[test]
fn zh_must_match_the_english_texts_key_for_key() {
    assert_eq!(
        err(&format!("{BASE}[zh]\ntitle = \"标题\"\n")),
        "scenarios/x.toml:5:1: `zh.fix`: missing `fix`: the file has an English `fix`, so [zh] needs its Chinese too"
    );
    assert_eq!(
        err(&format!("{BASE}[zh]\ntitle = \"标题\"\nfix = \"修复\"\nlesson = \"教训\"\n")),
        "scenarios/x.toml:8:10: `zh.lesson`: this translates `lesson`, which the file does not have in English; \
         expected it at the top level too, or no `lesson` here"
    );
}

#[test]
fn zh_refuses_unknown_keys_wrong_types_and_empty_texts() {
    let unknown = err(&format!("{BASE}[zh]\ntitle = \"标题\"\nfix = \"修复\"\nstory = \"故事\"\n"));
    assert!(unknown.starts_with("scenarios/x.toml:8:1: `zh.story`: unknown key `story`"), "{unknown}");
    assert!(unknown.contains("expected one of"), "{unknown}");
    let wrong = err(&format!("{BASE}[zh]\ntitle = 1\nfix = \"修复\"\n"));
    assert!(wrong.starts_with("scenarios/x.toml:6:9: `zh.title`: expected a string of Chinese text"), "{wrong}");
    assert_eq!(
        err(&format!("{BASE}[zh]\ntitle = \" \"\nfix = \"修复\"\n")),
        "scenarios/x.toml:6:9: `zh.title`: expected the Chinese text, found an empty string"
    );
    let not_table = err(&format!("zh = \"标题\"\n{BASE}"));
    assert!(not_table.starts_with("scenarios/x.toml:1:6: `zh`: expected a table"), "{not_table}");
}

/// The `KIP-N` and `KAFKA-N` references in a text, in order.
fn references(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for prefix in ["KIP-", "KAFKA-"] {
        for (i, _) in text.match_indices(prefix) {
            let digits: String = text[i + prefix.len()..].chars().take_while(char::is_ascii_digit).collect();
            if !digits.is_empty() {
                out.push(format!("{prefix}{digits}"));
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

#[test]
fn every_catalog_scenario_has_chinese_for_each_english_text() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    assert!(files.len() > 50, "{files:?}");
    for file in files {
        let s = load(&file).unwrap_or_else(|e| panic!("{e}"));
        let zh = s.zh.as_ref().unwrap_or_else(|| panic!("{}: no [zh] table", file.display()));
        let en = s.texts(Lang::En);
        for key in TextKey::ALL {
            let Some(english) = en.get(key) else { continue };
            let chinese = zh.get(key).unwrap_or_else(|| panic!("{}: no zh.{}", file.display(), key.name()));
            assert!(
                chinese.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)) || chinese == english,
                "{}: zh.{} is not Chinese: {chinese}",
                file.display(),
                key.name()
            );
            assert_eq!(
                references(chinese),
                references(english),
                "{}: zh.{} names other KIPs or issues than the English",
                file.display(),
                key.name()
            );
        }
    }
}

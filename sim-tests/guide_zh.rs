//! `scenarios/README.zh.md` is the Chinese twin of the learning guide `scenarios/README.md`:
//! a learner follows either from the first lesson to the last. These tests fail when the
//! two drift apart: a lesson added, dropped or reordered in one, a command changed in one,
//! an anomaly kind an English entry names missing from its Chinese entry, or an entry left
//! untranslated.
//!
//! Both guides are cut into the same blocks: the text before each heading's first entry,
//! and each entry (a line starting `N. **`, `Nb. **` or `- **`) up to the next entry or
//! heading. Commands are the lines of indented code blocks (a trailing `# comment` may be
//! translated, so it is left out) and the code spans starting with `kafkasim `, with
//! whitespace runs read as one space (a span may wrap at another place in Chinese).

use kafkasim::check::AnomalyKind;
use std::path::PathBuf;

const ENGLISH: &str = "scenarios/README.md";
const CHINESE: &str = "scenarios/README.zh.md";

fn read(relative: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(relative);
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

/// One piece of a guide: a heading's prose before its first entry, or one entry.
struct Block {
    /// Where the block is, for failure messages: its section heading and, for an entry,
    /// its first line's number and first scenario.
    place: String,
    /// How many headings come before the block's end (its heading's ordinal, from 1).
    section: usize,
    /// True for an entry, false for a heading's prose.
    is_entry: bool,
    /// The block's lines, its first line (the heading or the entry's line) included.
    lines: Vec<String>,
}

impl Block {
    fn text(&self) -> String {
        self.lines.join("\n")
    }

    /// The scenario names the block writes in bold backticks (**`name`**), in order.
    fn bold_scenarios(&self) -> Vec<String> {
        let text = self.text();
        text.split("**`").skip(1).filter_map(|s| s.split_once("`**").map(|(n, _)| n.to_string())).collect()
    }

    /// The words the block writes in backticks (code spans), whitespace normalised.
    fn code_spans(&self) -> Vec<String> {
        let prose: Vec<&str> =
            self.lines.iter().zip(self.code_block_mask()).filter(|(_, code)| !code).map(|(l, _)| l.as_str()).collect();
        prose.join("\n").split('`').skip(1).step_by(2).map(normalise).collect()
    }

    /// For each line, whether it belongs to an indented code block: lines indented by four
    /// spaces or more, the first of them right after a blank line.
    fn code_block_mask(&self) -> Vec<bool> {
        let mut mask = Vec::with_capacity(self.lines.len());
        let mut in_block = false;
        let mut previous_blank = false;
        for line in &self.lines {
            let blank = line.trim().is_empty();
            let indented = line.starts_with("    ");
            in_block = !blank && indented && (in_block || previous_blank);
            mask.push(in_block);
            previous_blank = blank;
        }
        mask
    }

    /// The block's commands in order: code-block lines (without a trailing comment) and
    /// code spans starting with `kafkasim `.
    fn commands(&self) -> Vec<String> {
        let mut commands: Vec<(usize, String)> = Vec::new();
        // Code spans and code-block lines cannot interleave within a line; keep their
        // order by line: spans are located by the line their text starts on.
        let mask = self.code_block_mask();
        for (i, line) in self.lines.iter().enumerate().filter(|(i, _)| mask[*i]) {
            let command = line.split_once(" #").map_or(line.as_str(), |(c, _)| c);
            commands.push((i, normalise(command)));
        }
        let mut line_of_offset = Vec::new();
        let mut prose = String::new();
        for (i, line) in self.lines.iter().enumerate().filter(|(i, _)| !mask[*i]) {
            for _ in 0..=line.len() {
                line_of_offset.push(i);
            }
            prose.push_str(line);
            prose.push('\n');
        }
        let mut offset = 0;
        for (n, piece) in prose.split('`').enumerate() {
            if n % 2 == 1 && piece.starts_with("kafkasim ") {
                commands.push((line_of_offset[offset], normalise(piece)));
            }
            offset += piece.len() + 1;
        }
        commands.sort_by_key(|(line, _)| *line);
        commands.into_iter().map(|(_, c)| c).collect()
    }

    /// The anomaly kinds the block names in backticks.
    fn anomaly_kinds(&self) -> Vec<AnomalyKind> {
        let mut kinds: Vec<AnomalyKind> = self.code_spans().iter().filter_map(|s| AnomalyKind::from_name(s)).collect();
        kinds.dedup();
        kinds
    }
}

fn normalise(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn is_entry(line: &str) -> bool {
    let numbered = line.split_once(". **").is_some_and(|(n, _)| {
        let digits = n.trim_end_matches(|c: char| c.is_ascii_lowercase());
        !digits.is_empty() && digits.len() + 1 >= n.len() && digits.chars().all(|c| c.is_ascii_digit())
    });
    numbered || line.starts_with("- **")
}

fn is_cjk(c: char) -> bool {
    matches!(c, '\u{4e00}'..='\u{9fff}' | '\u{3400}'..='\u{4dbf}')
}

/// A guide cut into blocks (see the module's documentation).
fn blocks(text: &str) -> Vec<Block> {
    let mut blocks: Vec<Block> = Vec::new();
    let mut section = String::from("(before the first heading)");
    let mut ordinal = 0;
    for line in text.lines() {
        if line.starts_with('#') {
            section = line.trim_start_matches('#').trim().to_string();
            ordinal += 1;
            blocks.push(Block {
                place: format!("section \"{section}\""),
                section: ordinal,
                is_entry: false,
                lines: vec![line.to_string()],
            });
        } else if is_entry(line) {
            let number = line.split(' ').next().unwrap_or_default();
            blocks.push(Block {
                place: format!("section \"{section}\", entry {number}"),
                section: ordinal,
                is_entry: true,
                lines: vec![],
            });
            let block = blocks.last_mut().expect("just pushed");
            block.lines.push(line.to_string());
            if let Some(first) = block.bold_scenarios().first() {
                block.place.push_str(&format!(" ({first})"));
            }
        } else if let Some(block) = blocks.last_mut() {
            block.lines.push(line.to_string());
        } else {
            blocks.push(Block {
                place: section.clone(),
                section: ordinal,
                is_entry: false,
                lines: vec![line.to_string()],
            });
        }
    }
    blocks
}

/// Each item of `items(block)` over the guide, with the place of its block.
fn sequence(guide: &[Block], items: impl Fn(&Block) -> Vec<String>) -> Vec<(String, String)> {
    guide.iter().flat_map(|b| items(b).into_iter().map(|item| (item, b.place.clone()))).collect()
}

/// Describes where two sequences first differ, or `None` when they are equal.
fn first_difference(what: &str, english: &[(String, String)], chinese: &[(String, String)]) -> Option<String> {
    let at = english.iter().zip(chinese).position(|((e, _), (c, _))| e != c);
    let describe = |side: &[(String, String)], i: usize| match side.get(i) {
        Some((item, place)) => format!("`{item}` in {place}"),
        None => "nothing (the list ends)".to_string(),
    };
    match at {
        Some(i) => Some(format!(
            "{what} #{}: {ENGLISH} has {}, {CHINESE} has {}",
            i + 1,
            describe(english, i),
            describe(chinese, i)
        )),
        None if english.len() != chinese.len() => {
            let i = english.len().min(chinese.len());
            Some(format!(
                "{what}: {ENGLISH} has {} and {CHINESE} {}; #{} is {} in English and {} in Chinese",
                english.len(),
                chinese.len(),
                i + 1,
                describe(english, i),
                describe(chinese, i)
            ))
        }
        None => None,
    }
}

fn guides() -> (Vec<Block>, Vec<Block>) {
    (blocks(&read(ENGLISH)), blocks(&read(CHINESE)))
}

fn assert_no_problems(problems: Vec<String>) {
    assert!(problems.is_empty(), "{CHINESE} has drifted from {ENGLISH}:\n  {}", problems.join("\n  "));
}

#[test]
fn each_guide_links_to_the_other_on_its_first_line() {
    let (english, chinese) = (read(ENGLISH), read(CHINESE));
    assert!(
        english.lines().next().unwrap_or_default().contains("(README.zh.md)"),
        "{ENGLISH}'s first line links to README.zh.md"
    );
    assert!(
        chinese.lines().next().unwrap_or_default().contains("(README.md)"),
        "{CHINESE}'s first line links to README.md"
    );
}

#[test]
fn the_chinese_guide_has_the_same_sections_and_the_same_lessons_in_the_same_order() {
    let (english, chinese) = guides();
    let mut problems = Vec::new();
    let sections =
        |g: &[Block]| sequence(g, |b| b.lines.first().filter(|l| l.starts_with("## ")).cloned().into_iter().collect());
    let (en_sections, zh_sections) = (sections(&english), sections(&chinese));
    if en_sections.len() != zh_sections.len() {
        let list = |s: &[(String, String)]| s.iter().map(|(h, _)| h.as_str()).collect::<Vec<_>>().join(" | ");
        problems.push(format!(
            "{ENGLISH} has {} `## ` sections and {CHINESE} {}:\n    English: {}\n    Chinese: {}",
            en_sections.len(),
            zh_sections.len(),
            list(&en_sections),
            list(&zh_sections)
        ));
    }
    let scenarios = |g: &[Block]| sequence(g, Block::bold_scenarios);
    problems.extend(first_difference("bold scenario (**`name`**)", &scenarios(&english), &scenarios(&chinese)));
    let entries = |g: &[Block]| {
        sequence(g, |b| {
            if b.is_entry {
                vec![b.lines[0].split(' ').next().unwrap_or_default().to_string()]
            } else {
                vec![]
            }
        })
    };
    problems.extend(first_difference("entry (by its number)", &entries(&english), &entries(&chinese)));
    assert_no_problems(problems);
}

#[test]
fn the_chinese_guide_has_the_same_commands_in_the_same_order() {
    let (english, chinese) = guides();
    let commands = |g: &[Block]| sequence(g, Block::commands);
    assert_no_problems(first_difference("command", &commands(&english), &commands(&chinese)).into_iter().collect());
}

#[test]
fn each_chinese_entry_is_translated_and_names_its_english_entrys_anomaly_kinds() {
    let (english, chinese) = guides();
    let mut problems = Vec::new();
    // Entries are paired in order within each section, so that an entry added or dropped
    // in one section does not hide what the others' pairs say.
    let sections = english.iter().chain(&chinese).map(|b| b.section).max().unwrap_or(0);
    let mut pairs = Vec::new();
    for section in 1..=sections {
        fn entries(guide: &[Block], section: usize) -> Vec<&Block> {
            guide.iter().filter(|b| b.is_entry && b.section == section).collect()
        }
        let (en, zh) = (entries(&english, section), entries(&chinese, section));
        if en.len() != zh.len() {
            let heading = english.iter().find(|b| b.section == section).map_or("?", |b| b.place.as_str());
            problems.push(format!("{heading} has {} entries in {ENGLISH} and {} in {CHINESE}", en.len(), zh.len()));
        }
        pairs.extend(en.into_iter().zip(zh));
    }
    for (en, zh) in pairs {
        if !zh.text().chars().any(is_cjk) {
            problems.push(format!("{} has no Chinese text (an untranslated copy?)", zh.place));
        }
        let zh_kinds = zh.anomaly_kinds();
        for kind in en.anomaly_kinds().into_iter().filter(|k| !zh_kinds.contains(k)) {
            problems.push(format!("{} names `{}` in English but not in Chinese ({})", en.place, kind.name(), zh.place));
        }
    }
    assert_no_problems(problems);
}

#[test]
fn the_chinese_guide_translates_every_heading() {
    let chinese = blocks(&read(CHINESE));
    let untranslated: Vec<&str> = chinese
        .iter()
        .filter_map(|b| b.lines.first().filter(|l| l.starts_with('#')))
        .filter(|heading| !heading.chars().any(is_cjk))
        .map(String::as_str)
        .collect();
    assert!(untranslated.is_empty(), "{CHINESE} has headings with no Chinese text: {untranslated:?}");
}

/// The checks above can fail: a guide that drops a lesson, changes a command, loses an
/// anomaly kind or is left in English is caught, each with a message naming the place.
#[test]
fn the_drift_checks_catch_drift() {
    let english = read(ENGLISH);
    let en = blocks(&english);
    let scenarios = |g: &[Block]| sequence(g, Block::bold_scenarios);
    let commands = |g: &[Block]| sequence(g, Block::commands);

    let dropped = blocks(&english.replacen("**`acks-all-safe`**", "`acks-all-safe`", 1));
    let message =
        first_difference("bold scenario", &scenarios(&en), &scenarios(&dropped)).expect("a dropped lesson drifts");
    assert!(message.contains("acks-all-safe") && message.contains("entry 3."), "{message}");

    let changed = blocks(&english.replacen("--seed 4 --anomaly lost-write", "--seed 2 --anomaly lost-write", 1));
    let message = first_difference("command", &commands(&en), &commands(&changed)).expect("a changed command drifts");
    assert!(message.contains("--seed 2") && message.contains("acks1-leader-crash"), "{message}");

    let kinds = |text: &str| {
        blocks(text).into_iter().find(|b| b.place.contains("(acks1-leader-crash)")).expect("entry").anomaly_kinds()
    };
    assert_eq!(kinds(&english), vec![AnomalyKind::LostWrite]);
    assert!(kinds(&english.replacen("vanish (`lost-write`)", "vanish", 1)).is_empty());

    assert!(
        en.iter().filter(|b| b.is_entry).any(|b| !b.text().chars().any(is_cjk)),
        "the English guide's entries are English"
    );
    let block_lines = en.iter().flat_map(|b| b.code_block_mask()).filter(|m| *m).count();
    assert_eq!(block_lines, 12, "the English guide's indented code-block lines");
}

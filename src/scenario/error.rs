//! Scenario errors: every problem is reported with the file, a 1-based line and column,
//! the field path (`faults[2].target`) and what was expected; and the wording helpers
//! the readers build their messages with. Depends only on `span`.

use std::fmt;
use std::path::{Path, PathBuf};

use super::span::{line_column, Issue};

/// Why a scenario file could not be loaded, and where.
///
/// `Display` renders ``scenarios/x.toml:12:5: `topics[0].replication.factor`: message``.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioError {
    /// The scenario file.
    pub path: PathBuf,
    /// The 1-based line of the problem; 0 when the file could not be read at all.
    pub line: usize,
    /// The 1-based column of the problem, counted in characters; 0 when the file could
    /// not be read at all.
    pub column: usize,
    /// The field path, such as `faults[2].target`; `None` for TOML syntax errors and
    /// unreadable files.
    pub field: Option<String>,
    /// What is wrong and what was expected.
    pub message: String,
    /// Where in the input the problem is, beyond the file.
    place: Place,
}

/// Where a scenario's problem is: a closed set, so that an error is one of them and the
/// error stays small (it travels in every `Result` of the readers).
#[derive(Clone, Debug, PartialEq, Eq)]
enum Place {
    /// At `line`:`column` of the file, whose line reads so (for [`ScenarioError::snippet`]).
    Line(Box<str>),
    /// Where the file stops being UTF-8: a position, but no line of text to show.
    NotText,
    /// In a `--set KEY=VALUE` of the command line, as it writes it.
    Setting(Box<str>),
    /// Nowhere: the file could not be read at all.
    Unreadable,
}

impl ScenarioError {
    /// The `--set KEY=VALUE` the problem is in (as the command line writes it), if it is
    /// in one rather than in the file.
    pub fn setting(&self) -> Option<&str> {
        match &self.place {
            Place::Setting(setting) => Some(setting),
            _ => None,
        }
    }

    /// Ties an issue found in `text` to where it came from: the file, or the `--set
    /// KEY=VALUE` it is in (`setting`, as the command line writes it).
    pub(super) fn from_issue(path: &Path, text: &str, issue: Issue, setting: Option<String>) -> ScenarioError {
        let offset = issue.span.as_ref().map_or(0, |s| s.start);
        if let Some(setting) = setting {
            return ScenarioError {
                path: path.to_path_buf(),
                line: 0,
                column: 0,
                field: issue.field,
                message: issue.message,
                place: Place::Setting(setting.into()),
            };
        }
        let (line, column, line_text) = line_column(text, offset);
        ScenarioError {
            path: path.to_path_buf(),
            line,
            column,
            field: issue.field,
            message: issue.message,
            place: Place::Line(line_text.into()),
        }
    }

    /// An error for a file that is not UTF-8: invalid input, where it stops being text.
    pub(super) fn not_utf8(path: &Path, bad: crate::utf8::NotUtf8) -> ScenarioError {
        ScenarioError {
            path: path.to_path_buf(),
            line: bad.line,
            column: bad.column,
            field: None,
            message: bad.message,
            place: Place::NotText,
        }
    }

    /// An error for a file that could not be read.
    pub(super) fn unreadable(path: &Path, err: &std::io::Error) -> ScenarioError {
        ScenarioError {
            path: path.to_path_buf(),
            line: 0,
            column: 0,
            field: None,
            message: format!("cannot read the scenario file: {err}"),
            place: Place::Unreadable,
        }
    }

    /// Whether the file could not be read at all (rather than read and found invalid):
    /// the command line exits 66 for this and 65 for an invalid scenario.
    pub fn is_unreadable(&self) -> bool {
        self.place == Place::Unreadable
    }

    /// The offending line with a caret under the column, rustc style, e.g.
    ///
    /// ```text
    ///    12 | "replication.factor" = 4
    ///       |                        ^
    /// ```
    ///
    /// `None` when the error has no position.
    pub fn snippet(&self) -> Option<String> {
        let Place::Line(text) = &self.place else { return None };
        let number = self.line.to_string();
        let gutter = " ".repeat(number.len());
        let pad: String =
            text.chars().take(self.column.saturating_sub(1)).map(|c| if c == '\t' { '\t' } else { ' ' }).collect();
        Some(format!("{number} | {text}\n{gutter} | {pad}^"))
    }
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Place::Setting(setting) = &self.place {
            write!(f, "--set {setting} (over {})", self.path.display())?;
        } else {
            write!(f, "{}", self.path.display())?;
        }
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.column)?;
        }
        if let Some(field) = &self.field {
            write!(f, ": `{field}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ScenarioError {}

/// Renders names as "`a`, `b` or `c`".
pub(super) fn one_of(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    match quoted.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

/// Renders string choices the way they are written in TOML: "\"a\", \"b\" or \"c\"".
pub(super) fn one_of_strings(names: &[&str]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
    match quoted.split_last() {
        None => String::new(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

/// The candidate closest to `word`, if one is close enough to be a likely typo.
pub(super) fn closest<'c>(word: &str, candidates: &[&'c str]) -> Option<&'c str> {
    let norm = |s: &str| s.to_lowercase().replace(['_', '-', ' '], ".");
    let word_n = norm(word);
    if let Some(exact) = candidates.iter().find(|c| norm(c) == word_n) {
        return Some(exact);
    }
    let limit = (word.chars().count() / 3).clamp(1, 3);
    candidates
        .iter()
        .map(|c| (edit_distance(&word_n, &norm(c)), *c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// " (did you mean `x`?)" or nothing.
pub(super) fn did_you_mean(word: &str, candidates: &[&str]) -> String {
    closest(word, candidates).map_or(String::new(), |c| format!(" (did you mean `{c}`?)"))
}

fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    if a.len() > 64 || b.len() > 64 {
        return usize::MAX;
    }
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Shortens a user-supplied string for quoting in a message.
pub(super) fn excerpt(text: &str) -> String {
    const MAX: usize = 40;
    if text.chars().count() <= MAX {
        format!("{text:?}")
    } else {
        let head: String = text.chars().take(MAX).collect();
        format!("{head:?}...")
    }
}

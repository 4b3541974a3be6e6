//! The lesson's fix: prose only (`fix = "..."`, the old form, still read), or a `[fix]`
//! table with the prose (`text`) and the settings that make the fix (`set`), which
//! `kafkasim explain --prove-fix` applies to rerun the seeds:
//!
//! ```toml
//! [fix]
//! text = "enable.idempotence=true: the leader recognises a retried batch ..."
//! set = { "enable.idempotence" = true, acks = "all" }
//! ```
//!
//! `prevents` (optional) names the kinds of `[expect] present` the fix prevents, when it
//! does not prevent them all: a release fix of one bug (`kafka7164-missed-leader-epoch`:
//! `replica-divergence`) leaves the acks=1 loss the same run also shows, which its text
//! answers with other settings. `--prove-fix` then judges only these kinds. Each must be
//! in `[expect] present` (checked in `validate`).
//!
//! `set` takes exactly what `--set KEY=VALUE` takes, applied by the same code
//! (`overrides`): its keys are checked here with `--set`'s message, its values when the
//! whole scenario is read again with them applied (in `validate`). TOML lets a file have
//! only one of `fix = "..."` and `[fix]`; a file with both fails to parse, at the second.

use super::keys;
use super::overrides::{unknown_setting, Setting};
use super::raw::Table;
use super::span::{Issue, Pos, Res};
use crate::check::AnomalyKind;

/// The fix as read: its prose, and its settings with where each value is written.
#[derive(Default)]
pub(super) struct Fix {
    /// The prose (`fix = "..."` or `[fix] text`).
    pub text: Option<String>,
    /// `[fix] set`, in file order, each with its value's position.
    pub set: Vec<(Setting, Pos)>,
    /// `[fix] prevents`, each kind with its position; empty when not given.
    pub prevents: Vec<(AnomalyKind, Pos)>,
}

/// Reads `fix`, either form.
pub(super) fn fix(root: &Table) -> Res<Fix> {
    let Some(node) = root.get("fix") else { return Ok(Fix::default()) };
    if !node.is_table() {
        let text = node.string("a string (the fix in prose), or a [fix] table with `text` and `set`")?;
        return Ok(Fix { text: Some(text.value), ..Fix::default() });
    }
    let table = node.table(keys::FIX)?;
    let text = table.opt_string("text", "a string: the fix in prose")?.map(|t| t.value);
    let mut set = Vec::new();
    if let Some(settings) = table.get("set") {
        let settings = settings.free_table()?;
        for (key, key_pos) in settings.keys() {
            if let Some(message) = unknown_setting(key) {
                return Err(key_pos.issue(message));
            }
            let node = settings.get(key).expect("a listed key");
            set.push((Setting { key: key.to_string(), value: node.setting_text()? }, node.pos.clone()));
        }
    }
    let prevents = match table.get("prevents") {
        Some(node) => {
            let prevents = super::fields::anomaly_names(node)?;
            if prevents.is_empty() {
                return Err(node.pos.issue(
                    "an empty list; expected the kinds of [expect] present the fix prevents, or no `prevents` \
                     (then it must prevent them all)",
                ));
            }
            prevents
        }
        None => Vec::new(),
    };
    if text.is_none() && set.is_empty() {
        return Err(table.pos.issue(
            "an empty [fix]; expected `text` (the fix in prose) and `set` (its settings, as --set takes them: \
             set = { acks = \"all\" })",
        ));
    }
    Ok(Fix { text, set, prevents })
}

/// A TOML error about `fix` given twice, with what to write instead.
pub(super) fn explain_duplicate(mut issue: Issue) -> Issue {
    if issue.message.contains("duplicate key `fix`") {
        issue.message.push_str(
            "; a file has either `fix = \"...\"` (the fix in prose) or a [fix] table, with the prose as `text` \
             and the settings as `set`, not both",
        );
    }
    issue
}

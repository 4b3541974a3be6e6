//! The reader of the catalog texts: the English top-level keys and the `[zh]` table,
//! which must translate exactly the texts the file has in English.

use super::fix::Fix;
use super::keys;
use super::model_texts::{Lang, TextKey, Texts};
use super::raw::Table;
use super::span::{Issue, Pos, Res};

/// Reads the English texts: the top-level keys, and the fix's prose as `fix` read it
/// (`fix = "..."` or `[fix] text`).
pub(super) fn english(root: &Table, fix: &Fix) -> Res<Texts> {
    let mut texts = Texts::default();
    for key in TextKey::ALL {
        *texts.slot(key) = match key {
            TextKey::Fix => fix.text.clone(),
            _ => root.opt_string(key.name(), "a string")?.map(|s| s.value),
        };
    }
    Ok(texts)
}

/// Reads the `[zh]` table, if present: a non-empty Chinese string for each English text
/// the file has, and none for a text it has not.
pub(super) fn chinese(root: &Table, english: &Texts) -> Res<Option<Texts>> {
    let Some(table) = root.opt_table(Lang::Zh.code(), keys::ZH)? else {
        return Ok(None);
    };
    let mut texts = Texts::default();
    for key in TextKey::ALL {
        let value = table.opt_string(key.name(), "a string of Chinese text")?;
        match (value, english.get(key)) {
            (Some(sp), Some(_)) if sp.value.trim().is_empty() => {
                return Err(sp.pos.issue("expected the Chinese text, found an empty string"));
            }
            (Some(sp), Some(_)) => *texts.slot(key) = Some(sp.value),
            (Some(sp), None) => {
                return Err(sp.pos.issue(format!(
                    "this translates `{}`, which the file does not have in English; expected it at the top \
                     level too, or no `{}` here",
                    key.name(),
                    key.name()
                )))
            }
            (None, Some(_)) => return Err(missing(&table.pos, key)),
            (None, None) => {}
        }
    }
    Ok(Some(texts))
}

fn missing(table: &Pos, key: TextKey) -> Issue {
    table.child(key.name(), None).issue(format!(
        "missing `{}`: the file has an English `{}`, so [zh] needs its Chinese too",
        key.name(),
        key.name()
    ))
}

//! The catalog texts of a scenario (`title`, `lesson`, `mechanism`, `fix`) and their
//! translations: the languages ([`Lang`]), one language's texts ([`Texts`]) and the
//! reader of the `[zh]` table, which must translate exactly the texts the file has in
//! English. Only the catalog texts are translated; the stories `explain` and `report`
//! generate stay English.

use std::fmt;
use std::str::FromStr;

use super::keys;
use super::model::Theme;
use super::raw::Table;
use super::span::{Pos, Res};

/// A language the catalog texts can be read in: a closed set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Lang {
    /// English: the top-level keys of a scenario file.
    #[default]
    En,
    /// Simplified Chinese: the `[zh]` table.
    Zh,
}

impl Lang {
    /// Every language, English first.
    pub const ALL: [Lang; 2] = [Lang::En, Lang::Zh];

    /// The language's code, as `--lang` takes it and as its table is named (`zh`).
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh",
        }
    }

    /// The catalog heading of a theme (`None`: the scenarios without one). Chinese
    /// headings keep the theme's name, which is what scenario files write.
    pub fn theme_heading(self, theme: Option<Theme>) -> String {
        let name = theme.map_or("other", Theme::name);
        match self {
            Lang::En => name.to_string(),
            Lang::Zh => {
                let zh = match theme {
                    Some(Theme::Loss) => "数据丢失",
                    Some(Theme::Duplication) => "重复",
                    Some(Theme::Ordering) => "顺序",
                    Some(Theme::Availability) => "可用性",
                    Some(Theme::ConsumerGroups) => "消费组",
                    Some(Theme::Transactions) => "事务",
                    Some(Theme::ReplicationInternals) => "复制内部机制",
                    Some(Theme::Capacity) => "容量",
                    Some(Theme::History) => "历史",
                    None => "其他",
                };
                format!("{zh} ({name})")
            }
        }
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Lang {
    type Err = String;

    /// Parses a language code, listing the accepted ones on error.
    fn from_str(code: &str) -> Result<Lang, String> {
        Lang::ALL.into_iter().find(|l| l.code() == code).ok_or_else(|| {
            let codes: Vec<&str> = Lang::ALL.iter().map(|l| l.code()).collect();
            format!("unknown language `{code}`; expected one of {}", codes.join(", "))
        })
    }
}

/// Which of the catalog texts: the keys a language's texts have.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TextKey {
    /// `title`: one line for reports and the catalog.
    Title,
    /// `lesson`: what a reader should take away.
    Lesson,
    /// `mechanism`: how the failure (or its prevention) works.
    Mechanism,
    /// `fix`: the change that prevents the failure.
    Fix,
}

impl TextKey {
    /// Every text, in the order scenario files write them.
    pub const ALL: [TextKey; 4] = [TextKey::Title, TextKey::Lesson, TextKey::Mechanism, TextKey::Fix];

    /// The key as written in scenario files.
    pub fn name(self) -> &'static str {
        match self {
            TextKey::Title => "title",
            TextKey::Lesson => "lesson",
            TextKey::Mechanism => "mechanism",
            TextKey::Fix => "fix",
        }
    }
}

/// A scenario's catalog texts in one language; each is optional, as in the file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Texts {
    /// A one-line title for reports and the catalog.
    pub title: Option<String>,
    /// What a reader should take away from the scenario.
    pub lesson: Option<String>,
    /// How the failure (or its prevention) works, step by step.
    pub mechanism: Option<String>,
    /// The configuration or design change that prevents the failure.
    pub fix: Option<String>,
}

impl Texts {
    /// The text under `key`, if the file has it.
    pub fn get(&self, key: TextKey) -> Option<&str> {
        let text = match key {
            TextKey::Title => &self.title,
            TextKey::Lesson => &self.lesson,
            TextKey::Mechanism => &self.mechanism,
            TextKey::Fix => &self.fix,
        };
        text.as_deref()
    }

    fn slot(&mut self, key: TextKey) -> &mut Option<String> {
        match key {
            TextKey::Title => &mut self.title,
            TextKey::Lesson => &mut self.lesson,
            TextKey::Mechanism => &mut self.mechanism,
            TextKey::Fix => &mut self.fix,
        }
    }

    /// These texts with each missing one taken from `fallback`.
    pub fn or(&self, fallback: &Texts) -> Texts {
        let mut out = self.clone();
        for key in TextKey::ALL {
            if out.get(key).is_none() {
                *out.slot(key) = fallback.get(key).map(str::to_string);
            }
        }
        out
    }
}

/// Reads the English texts: the top-level keys.
pub(super) fn english(root: &Table) -> Res<Texts> {
    let mut texts = Texts::default();
    for key in TextKey::ALL {
        *texts.slot(key) = root.opt_string(key.name(), "a string")?.map(|s| s.value);
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

fn missing(table: &Pos, key: TextKey) -> super::span::Issue {
    table.child(key.name(), None).issue(format!(
        "missing `{}`: the file has an English `{}`, so [zh] needs its Chinese too",
        key.name(),
        key.name()
    ))
}

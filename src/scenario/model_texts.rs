//! The catalog texts of a scenario (`title`, `lesson`, `mechanism`, `fix`) and their
//! languages: [`Lang`], [`TextKey`] and one language's [`Texts`]. The `[zh]` table is
//! read by `texts`. The stories `explain` and `report` tell pick their sentences with
//! [`Lang::pick`] too. Depends on nothing else in `scenario`.

use std::fmt;
use std::str::FromStr;

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

    /// Of a text written in each language, the one in this language.
    pub fn pick<T>(self, en: T, zh: T) -> T {
        match self {
            Lang::En => en,
            Lang::Zh => zh,
        }
    }

    /// The language's code, as `--lang` takes it and as its table is named (`zh`).
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Zh => "zh",
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

    pub(super) fn slot(&mut self, key: TextKey) -> &mut Option<String> {
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

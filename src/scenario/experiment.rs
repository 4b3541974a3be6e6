//! `[experiment]`: the parameter sweep `kafkasim experiment FILE` runs when no `--vary`
//! is given, so that a scenario carries its own question.
//!
//! ```toml
//! [experiment]
//! vary = ["partitions=1,2,4,8,16,32,64,128,256"]  # each as `--vary` writes it
//! seeds = [1, 2, 3]                               # default: the scenario's seeds
//! ```
//!
//! Each entry names a setting as `--set` does, with its values in order; several
//! entries make every combination, the first slowest. Whether each value is valid for
//! its setting is checked when the experiment loads its combinations (a value that does
//! not load is an error naming this entry's line).

use std::fmt;
use std::str::FromStr;

use super::overrides::Setting;

/// The most combinations one experiment may run.
pub const MAX_COMBINATIONS: usize = 1_000;

/// One varied setting: a setting and the values to try, in order (`--vary KEY=V1,V2`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dimension {
    /// The setting, as `--set` names it.
    pub key: String,
    /// Its values, in the order given.
    pub values: Vec<String>,
}

impl FromStr for Dimension {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let setting: Setting = text.parse()?;
        let values: Vec<String> = setting.value.split(',').map(|v| v.trim().to_string()).collect();
        if values.iter().any(String::is_empty) {
            return Err(format!("expected KEY=V1,V2,... with no empty value, such as acks=1,all, found `{text}`"));
        }
        Ok(Dimension { key: setting.key, values })
    }
}

impl fmt::Display for Dimension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.key, self.values.join(","))
    }
}

/// Every combination of the dimensions' values, the first dimension slowest.
pub fn combinations(dimensions: &[Dimension]) -> Vec<Vec<Setting>> {
    let mut out: Vec<Vec<Setting>> = vec![Vec::new()];
    for d in dimensions {
        out = out
            .into_iter()
            .flat_map(|prefix| {
                d.values.iter().map(move |v| {
                    let mut next = prefix.clone();
                    next.push(Setting { key: d.key.clone(), value: v.clone() });
                    next
                })
            })
            .collect();
    }
    out
}

/// `[experiment]`, read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExperimentSpec {
    /// The varied settings, in file order.
    pub vary: Vec<Dimension>,
    /// The line (from 1) of each `vary` entry, for errors about its values.
    pub vary_lines: Vec<usize>,
    /// The seeds, if the section names its own.
    pub seeds: Option<Vec<u64>>,
}

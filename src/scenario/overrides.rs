//! `--set KEY=VALUE`: settings given on the command line, read as if the file had
//! written them, by the same readers and with the same checks.
//!
//! A setting goes where the file would have put it: a top-level key (`seeds`,
//! `kafka_version`, `duration`) at the top level only; any other key into every table of
//! the file that takes it among `[cluster]`, `[cluster.config]`, `[cluster.os]`, `[cluster.machine]`, `[metastore]`, `[network]`,
//! `[[topics]]`, `[topics.config]`, `[[producers]]`, `[producers.config]`,
//! `[[consumers]]` and `[consumers.config]` (so `min.insync.replicas` sets the broker
//! default and every topic's override, and `acks` every producer). An absent single
//! table is made (`--set min.insync.replicas=2` on a file without `[cluster]`); an
//! absent array of tables is not: `--set acks=all` on a scenario without producers is
//! an error. Faults, `[nemesis]`, `[swarm]` and `[expect]` are not reached.
//!
//! A value is read as TOML where it is TOML (`2`, `true`, `[1, 2]`, `"1"`) and as a
//! string otherwise (`all`, `20s`, `0.10.2`); a reader that wants a string gets the text
//! as written, so `kafka_version=2.0` means the release, not the number 2.0.
//!
//! Errors in a setting name the flag: each setting gets a one-byte span just past the
//! end of the file's text, which [`ScenarioError`](super::ScenarioError) turns back into
//! `--set KEY=VALUE`.

use std::cell::Cell;
use std::fmt;
use std::str::FromStr;

use super::error::did_you_mean;
use super::keys;
use super::span::{Issue, Pos, Res, Span};

/// One `--set KEY=VALUE`: a scenario key or Kafka setting and its value as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Setting {
    /// The key, as a scenario file writes it (`acks`, `min.insync.replicas`, `seeds`).
    pub key: String,
    /// The value as written on the command line.
    pub value: String,
}

impl FromStr for Setting {
    type Err = String;

    /// Reads `KEY=VALUE`.
    fn from_str(text: &str) -> Result<Self, String> {
        match text.split_once('=') {
            Some((key, value)) if !key.trim().is_empty() => {
                Ok(Setting { key: key.trim().to_string(), value: value.trim().to_string() })
            }
            _ => Err(format!("expected KEY=VALUE, such as acks=all or min.insync.replicas=2, found `{text}`")),
        }
    }
}

impl fmt::Display for Setting {
    /// `KEY=VALUE`, single-quoted for a shell when the value needs it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plain = |c: char| c.is_ascii_alphanumeric() || "._-:/,+".contains(c);
        if !self.value.is_empty() && self.value.chars().all(plain) {
            write!(f, "{}={}", self.key, self.value)
        } else {
            write!(f, "'{}={}'", self.key, self.value.replace('\'', r"'\''"))
        }
    }
}

/// Whether a `--set` setting may find no table to go into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SetScope {
    /// One scenario: a setting it has no table for (`acks` without producers) is an
    /// error, since it would change nothing.
    OneScenario,
    /// A whole catalog (`suite`): each scenario takes the settings it has tables for.
    Catalog,
}

/// The settings as command-line arguments (` --set acks=1 ...`), to append to a
/// command; empty without settings.
pub fn set_arguments(settings: &[Setting]) -> String {
    settings.iter().map(|s| format!(" --set {s}")).collect()
}

/// What `--set` reaches: each table a setting can go into, by its keys.
const REACHABLE: &[&[&str]] = &[
    keys::CLUSTER,
    keys::BROKER_CONFIG,
    keys::OS,
    keys::MACHINE,
    keys::METASTORE,
    keys::NETWORK,
    keys::TOPIC,
    keys::TOPIC_CONFIG,
    keys::PRODUCER,
    keys::PRODUCER_CONFIG,
    keys::CONSUMER,
    keys::CONSUMER_CONFIG,
];

/// Keys of tables outside [`REACHABLE`] that `--set` reaches all the same: a pipeline's
/// `output_partitioner`, so that `--vary output_partitioner=same-partition,uniform-sticky`
/// compares how a relay spreads its output.
const REACHABLE_KEYS: &[(&[&str], &str)] = &[(keys::PIPELINE, "output_partitioner")];

/// Keys of [`REACHABLE`] tables that `--set` does not reach: on the command line
/// `partitions` is a topic's partition count (`--vary partitions=1,4,16`), not the list
/// an assign-mode consumer assigns itself.
const UNREACHABLE_KEYS: &[(&[&str], &str)] = &[(keys::CONSUMER, "partitions")];

/// Keys that name a table rather than hold a setting.
const TABLE_KEYS: &[&str] = &[
    "cluster",
    "network",
    "topics",
    "producers",
    "consumers",
    "delay_queues",
    "faults",
    "nemesis",
    "swarm",
    "expect",
    "config",
    "os",
    "machine",
    "metastore",
    "zh",
];

/// One setting, parsed, with the span that stands for it in errors.
pub(super) struct Flag {
    /// The key.
    pub key: String,
    /// The value as written.
    pub text: String,
    /// The value as TOML, when it is TOML.
    pub parsed: Option<toml_edit::Value>,
    /// Where errors in it point: one byte past the file's text.
    pub span: Span,
    used: Cell<bool>,
}

impl Flag {
    /// The position of this setting's value in the table at `table`.
    pub fn pos(&self, table: &Pos) -> Pos {
        table.child(&self.key, Some(self.span.clone()))
    }

    /// Records that a table took it.
    pub fn mark_used(&self) {
        self.used.set(true);
    }
}

/// The settings of one load.
pub(super) struct Overrides {
    flags: Vec<Flag>,
    /// The empty table a missing `[cluster]` or `[network]` is made from.
    pub empty: toml_edit::Table,
}

impl Overrides {
    /// Checks that each setting's key is one `--set` reaches; `text_len` is the length
    /// of the file's text, past which the settings' spans go.
    pub fn new(settings: &[Setting], text_len: usize) -> Res<Self> {
        let mut flags = Vec::new();
        for (i, setting) in settings.iter().enumerate() {
            let span = text_len + 1 + i..text_len + 2 + i;
            if let Some(message) = unknown_setting(&setting.key) {
                return Err(Issue { span: Some(span), field: None, message });
            }
            flags.push(Flag {
                key: setting.key.clone(),
                text: setting.value.clone(),
                parsed: setting.value.parse().ok(),
                span,
                used: Cell::new(false),
            });
        }
        Ok(Overrides { flags, empty: toml_edit::Table::new() })
    }

    /// The settings a table with `allowed` keys takes.
    pub fn for_table(&self, allowed: &[&str]) -> Vec<&Flag> {
        self.flags.iter().filter(|f| takes(allowed, &f.key)).collect()
    }

    /// The first setting that a missing table with `allowed` keys (or one of its
    /// sub-tables, `config` or `os`) would take: the table is then made for it.
    pub fn claimant(&self, allowed: &[&str]) -> Option<&Flag> {
        let nested = keys::sub_tables_of(allowed);
        self.flags.iter().find(|f| takes(allowed, &f.key) || nested.iter().any(|n| takes(n, &f.key)))
    }

    /// Fails at the first setting no table took.
    pub fn check_all_used(&self) -> Res<()> {
        match self.flags.iter().find(|f| !f.used.get()) {
            None => Ok(()),
            Some(f) => Err(Issue {
                span: Some(f.span.clone()),
                field: None,
                message: format!(
                    "this scenario has no {} for `{}`",
                    keys::home_of(&f.key, &[]).unwrap_or_else(|| "table".to_string()),
                    f.key
                ),
            }),
        }
    }
}

/// Why `--set` (or `[fix] set`) cannot set `key`, if it cannot: the key is unknown, or
/// belongs in a table `--set` does not reach.
pub(super) fn unknown_setting(key: &str) -> Option<String> {
    if is_reachable(key) {
        return None;
    }
    let known: Vec<&str> = reachable_keys().collect();
    let mut message = format!("unknown setting `{key}`{}", did_you_mean(key, &known));
    if let Some(home) = keys::home_of(key, &[]) {
        message.push_str(&format!("; `{key}` belongs in {home}, which --set does not reach"));
    }
    message.push_str(
        "; expected a top-level key, or a key of [cluster], [network], [[topics]], [[producers]], \
         [[consumers]] or their config tables",
    );
    Some(message)
}

/// Whether a table with `allowed` keys takes a setting of `key`: a top-level key goes
/// to the top level only, any other to every table `--set` reaches that takes it.
fn takes(allowed: &[&str], key: &str) -> bool {
    let root = allowed == keys::ROOT;
    let listed = |pairs: &[(&[&str], &str)]| pairs.iter().any(|&(table, k)| table == allowed && k == key);
    if listed(REACHABLE_KEYS) {
        return true;
    }
    (root || REACHABLE.contains(&allowed))
        && allowed.contains(&key)
        && root == keys::ROOT.contains(&key)
        && !listed(UNREACHABLE_KEYS)
}

/// Whether `--set` can set `key`.
fn is_reachable(key: &str) -> bool {
    reachable_keys().any(|k| k == key)
}

/// Every key `--set` can set.
fn reachable_keys() -> impl Iterator<Item = &'static str> {
    let root = keys::ROOT.iter();
    root.chain(REACHABLE.iter().flat_map(|t| t.iter()))
        .copied()
        .filter(|k| !TABLE_KEYS.contains(k))
        .chain(REACHABLE_KEYS.iter().map(|&(_, k)| k))
}

/// Which setting an issue's span stands for, if it is past the end of the file's text.
fn flag_index(span_start: usize, text_len: usize) -> Option<usize> {
    span_start.checked_sub(text_len + 1)
}

/// The setting an issue is in, if it is in one rather than in the file's text.
pub(super) fn setting_of<'s>(issue: &Issue, text_len: usize, settings: &'s [Setting]) -> Option<&'s Setting> {
    let start = issue.span.as_ref()?.start;
    flag_index(start, text_len).and_then(|i| settings.get(i))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_read_key_equals_value_and_print_for_a_shell() {
        let s: Setting = "min.insync.replicas=2".parse().unwrap();
        assert_eq!((s.key.as_str(), s.value.as_str()), ("min.insync.replicas", "2"));
        assert_eq!(s.to_string(), "min.insync.replicas=2");
        let spaced = Setting { key: "title".into(), value: "it's late".into() };
        assert_eq!(spaced.to_string(), r"'title=it'\''s late'");
        assert!("acks".parse::<Setting>().unwrap_err().contains("expected KEY=VALUE"));
        assert!("=1".parse::<Setting>().is_err());
    }

    #[test]
    fn a_top_level_key_goes_to_the_top_level_only_and_others_to_every_table_that_takes_them() {
        let settings: Vec<Setting> =
            ["duration=5s", "min.insync.replicas=2", "count=2"].iter().map(|s| s.parse().unwrap()).collect();
        let o = Overrides::new(&settings, 10).unwrap();
        let keys_of = |allowed: &[&str]| o.for_table(allowed).into_iter().map(|f| f.key.as_str()).collect::<Vec<_>>();
        assert_eq!(keys_of(keys::ROOT), ["duration"]);
        assert_eq!(keys_of(keys::BROKER_CONFIG), ["min.insync.replicas"]);
        assert_eq!(keys_of(keys::TOPIC_CONFIG), ["min.insync.replicas"]);
        assert_eq!(keys_of(keys::PRODUCER), ["count"]);
        assert_eq!(keys_of(keys::CONSUMER), ["count"]);
        assert!(keys_of(keys::FAULT).is_empty(), "faults take `duration` but --set does not reach them");
        assert_eq!(o.claimant(keys::CLUSTER).map(|f| f.key.as_str()), Some("min.insync.replicas"));
        assert!(o.claimant(keys::NETWORK).is_none());
        assert_eq!(flag_index(11, 10), Some(0));
        assert_eq!(flag_index(10, 10), None);
    }

    #[test]
    fn partitions_reach_topics_only_and_a_pipelines_output_partitioner_is_reached() {
        let settings: Vec<Setting> =
            ["partitions=6", "output_partitioner=uniform-sticky"].iter().map(|s| s.parse().unwrap()).collect();
        let o = Overrides::new(&settings, 10).unwrap();
        let keys_of = |allowed: &[&str]| o.for_table(allowed).into_iter().map(|f| f.key.as_str()).collect::<Vec<_>>();
        assert_eq!(keys_of(keys::TOPIC), ["partitions"]);
        assert!(keys_of(keys::CONSUMER).is_empty(), "an assign-mode consumer's list is not a partition count");
        assert_eq!(keys_of(keys::PIPELINE), ["output_partitioner"]);
        assert!(keys_of(keys::DELAY_QUEUE).is_empty());
    }

    #[test]
    fn unknown_and_unreachable_keys_are_refused_with_a_hint() {
        let refuse = |text: &str| Overrides::new(&[text.parse().unwrap()], 0).err().unwrap().message;
        assert!(refuse("min.insync.replica=2").contains("did you mean `min.insync.replicas`"));
        assert!(refuse("kinds=crash").contains("belongs in [nemesis], which --set does not reach"));
        assert!(refuse("config=1").contains("unknown setting `config`"));
    }
}

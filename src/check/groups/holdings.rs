//! Who holds which partitions of a group, op by op: the one ownership rule the group
//! checkers and measurements share. A member's process holds the keys of its last `ok`
//! `assign` until an `ok` `revoke` or `lose` names them, its next `assign` leaves them
//! out, or the process crashes.

use crate::history::OpFn;
use std::collections::{BTreeMap, BTreeSet};

/// The keys each member process of each group holds now.
#[derive(Default)]
pub(super) struct Holdings<'a> {
    held: BTreeMap<(&'a str, u64), BTreeSet<&'a str>>,
}

/// What one op changed for one group.
pub(super) struct Change<'a> {
    /// The group.
    pub group: &'a str,
    /// What the process held before the op (for an `assign`: its claim as it joined).
    pub before: BTreeSet<&'a str>,
    /// Keys it no longer holds.
    pub released: Vec<&'a str>,
    /// Keys it newly holds.
    pub gained: Vec<&'a str>,
}

impl<'a> Holdings<'a> {
    /// Applies a completed op of `process`: an `assign`, `revoke` or `lose` of `keys` in
    /// `group`, or a crash (no group: every group's keys go). Other ops change nothing.
    pub fn apply(&mut self, process: u64, f: OpFn, group: Option<&'a str>, keys: &'a [String]) -> Vec<Change<'a>> {
        let named: BTreeSet<&'a str> = keys.iter().map(String::as_str).collect();
        match (f, group) {
            (OpFn::Crash, _) => {
                let groups: Vec<&'a str> = self.held.keys().filter(|(_, p)| *p == process).map(|(g, _)| *g).collect();
                groups.into_iter().map(|g| self.replace(g, process, BTreeSet::new())).collect()
            }
            (OpFn::Assign, Some(group)) => vec![self.replace(group, process, named)],
            (OpFn::Revoke | OpFn::Lose, Some(group)) => {
                let kept = self.held.get(&(group, process)).map_or_else(BTreeSet::new, |h| h - &named);
                vec![self.replace(group, process, kept)]
            }
            _ => Vec::new(),
        }
    }

    /// A member process of `group` other than `process` that holds `key`, if any.
    pub fn holder_other_than(&self, process: u64, group: &str, key: &str) -> Option<u64> {
        self.held.iter().find(|((g, p), keys)| *p != process && *g == group && keys.contains(key)).map(|((_, p), _)| *p)
    }

    /// Whether `process` holds `key` of `group`.
    pub fn holds(&self, process: u64, group: &str, key: &str) -> bool {
        self.held.iter().any(|((g, p), keys)| *p == process && *g == group && keys.contains(key))
    }

    /// Whether some member process of `group` holds `key`.
    pub fn is_held(&self, group: &str, key: &str) -> bool {
        self.held.iter().any(|((g, _), keys)| *g == group && keys.contains(key))
    }

    fn replace(&mut self, group: &'a str, process: u64, now: BTreeSet<&'a str>) -> Change<'a> {
        let before = self.held.insert((group, process), now).unwrap_or_default();
        let now = &self.held[&(group, process)];
        Change {
            group,
            released: before.difference(now).copied().collect(),
            gained: now.difference(&before).copied().collect(),
            before,
        }
    }
}

//! Regular-expression subscriptions of consumer-protocol members (KIP-848's
//! `subscribe(SubscriptionPattern)`, Kafka 4.0): the member sends a regular expression
//! (`SubscribedTopicRegex`) and the coordinator, not the client, resolves it against the
//! topics of its metadata image. Kafka's `GroupMetadataManager.maybeUpdateRegularExpressions`,
//! `refreshRegularExpressions` and `handleRegularExpressionsResult`, and the regex
//! bookkeeping of its `ConsumerGroup`.
//!
//! Resolution runs off the group's write path (Kafka's `CoordinatorExecutor`, one task
//! per group at a time) and its result is written as a `ConsumerGroupRegularExpression`
//! record per regex; when a resolved set changed, the group epoch is bumped and the next
//! heartbeat of any member computes the new target assignment. A heartbeat asks for a
//! resolution when a member brings a regex no other member has, or, at most once per
//! `REGEX_BATCH_REFRESH_INTERVAL_MS` (10 s), when a regex is unresolved or a topic was
//! created since the last resolution. A deleted topic leaves through the subscription
//! metadata; the resolved set forgets it at the next resolution.
//!
//! Simplified: RE2J syntax is read by Rust's `regex` crate, which implements RE2's
//! syntax too; topic-describe authorization is not modelled (no ACLs).

use super::{ConsumerGroup, ConsumerMember, Context, Records};
use crate::broker::coordinator::records::{ConsumerGroupRecord, ResolvedRegex};
use crate::protocol::ErrorCode;
use std::collections::{BTreeMap, BTreeSet};

/// The least time between two resolutions of a group's regular expressions, in
/// milliseconds (Kafka's `REGEX_BATCH_REFRESH_INTERVAL_MS`).
pub const REGEX_BATCH_REFRESH_INTERVAL_MS: u64 = 10_000;

/// Where a group's resolution stands (Kafka's executor task `<group>-regex`; not
/// persisted: a coordinator that loads the group starts idle).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum RegexRefresh {
    /// No resolution is asked for or running.
    #[default]
    Idle,
    /// A heartbeat asked to resolve these regular expressions; the coordinator has not
    /// started yet.
    Requested(BTreeSet<String>),
    /// A resolution is running; its result has not been written.
    Running,
}

/// A regular expression as RE2J's `Pattern.compile(regex).matcher(topic).matches()`
/// applies it: to the whole name.
fn compile(regex: &str) -> Option<regex::Regex> {
    regex::Regex::new(&format!("^(?:{regex})$")).ok()
}

/// Kafka's `refreshRegularExpressions`: each regular expression with the topics of the
/// image (`topics`, as of image offset `version`) whose whole name it matches. Internal
/// topics are not left out, as in Kafka. A regex that does not compile resolves to
/// nothing (Kafka logs it; heartbeats refuse such regexes before they get here).
pub fn resolve<'a>(
    regexes: &BTreeSet<String>,
    topics: impl IntoIterator<Item = &'a str> + Clone,
    version: u64,
    now_ms: u64,
) -> BTreeMap<String, ResolvedRegex> {
    regexes
        .iter()
        .map(|regex| {
            let matched = compile(regex).map_or_else(Vec::new, |re| {
                topics.clone().into_iter().filter(|t| re.is_match(t)).map(str::to_string).collect()
            });
            (regex.clone(), ResolvedRegex { topics: matched, version, timestamp_ms: now_ms })
        })
        .collect()
}

impl ConsumerGroup {
    /// How many members subscribe to `regex` (`numSubscribedMembers`).
    fn regex_members(&self, regex: &str) -> usize {
        self.members.values().filter(|m| m.metadata.regex.as_deref() == Some(regex)).count()
    }

    /// The regular expressions the members subscribe to, with their member counts
    /// (`subscribedRegularExpressions`).
    fn subscribed_regexes(&self) -> BTreeMap<&str, usize> {
        let mut counts = BTreeMap::new();
        for regex in self.members.values().filter_map(|m| m.metadata.regex.as_deref()) {
            *counts.entry(regex).or_insert(0) += 1;
        }
        counts
    }

    /// Every topic `member` subscribes to: its names and what its regular expression
    /// resolved to, if it has been resolved.
    pub(super) fn member_topics(&self, member: &ConsumerMember) -> BTreeSet<String> {
        let resolved = member.metadata.regex.as_ref().and_then(|r| self.resolved_regexes.get(r));
        member.metadata.topics.iter().chain(resolved.into_iter().flat_map(|r| &r.topics)).cloned().collect()
    }

    /// Kafka's `ConsumerGroup.subscriptionType` is HOMOGENEOUS: without regular
    /// expressions, every member subscribes by name to every subscribed topic; with them,
    /// every member subscribes to the same one and no member to a name, and no topic is
    /// matched by two resolved regexes. Counted over names whether or not the topics
    /// exist.
    pub(super) fn is_homogeneous(&self) -> bool {
        let members = self.members.len();
        let regexes = self.subscribed_regexes();
        // Topic → (members subscribing by name, resolved regexes matching it).
        let mut counts: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
        for name in self.members.values().flat_map(|m| &m.metadata.topics) {
            counts.entry(name).or_default().0 += 1;
        }
        for regex in regexes.keys() {
            for topic in self.resolved_regexes.get(*regex).into_iter().flat_map(|r| &r.topics) {
                counts.entry(topic).or_default().1 += 1;
            }
        }
        match regexes.values().next() {
            None => counts.values().all(|&(by_name, _)| by_name == members),
            Some(&count) if count == members => {
                counts.values().all(|&(by_name, by_regex)| by_regex == 1 && by_name == 0)
            }
            Some(_) => false,
        }
    }

    /// The regular expressions the coordinator must now start resolving, if a heartbeat
    /// asked for it (the service runs the resolution and hands the result to
    /// [`regexes_resolved`](Self::regexes_resolved)).
    pub fn take_regex_refresh(&mut self) -> Option<BTreeSet<String>> {
        match std::mem::take(&mut self.regex_refresh) {
            RegexRefresh::Requested(regexes) => {
                self.regex_refresh = RegexRefresh::Running;
                Some(regexes)
            }
            other => {
                self.regex_refresh = other;
                None
            }
        }
    }

    /// Kafka's `handleRegularExpressionsResult`: a record for each resolved regex some
    /// member still subscribes to; the group epoch bumped if a resolved set or the
    /// subscription metadata (over `topics`, the image's partition counts) changed.
    /// Returns the records written, already applied.
    pub fn regexes_resolved(
        &mut self,
        resolved: BTreeMap<String, ResolvedRegex>,
        topics: &BTreeMap<String, u32>,
    ) -> Vec<ConsumerGroupRecord> {
        self.regex_refresh = RegexRefresh::Idle;
        let mut records = Records { group: self, written: Vec::new() };
        let mut bump = false;
        for (regex, new) in resolved {
            if records.group.regex_members(&regex) == 0 {
                continue;
            }
            let old_topics = records.group.resolved_regexes.get(&regex).map(|r| &r.topics);
            bump |= old_topics.map_or(!new.topics.is_empty(), |old| *old != new.topics);
            records.write(ConsumerGroupRecord::RegularExpression { regex, resolved: Some(new) });
        }
        if records.update_subscription_metadata(topics, bump) {
            records.group.metadata_refresh_needed = false;
        }
        records.written
    }

    /// When the regular expressions were last resolved (they are resolved together;
    /// Kafka reads the first one as the proxy for all).
    fn last_regex_refresh_ms(&self) -> Option<u64> {
        self.resolved_regexes.values().next().map(|r| r.timestamp_ms)
    }

    /// The image offset the regular expressions were last resolved against (0: never).
    fn last_regex_version(&self) -> u64 {
        self.resolved_regexes.values().next().map_or(0, |r| r.version)
    }
}

/// What a heartbeat's regular expression asks of the group, decided on the group as it
/// was before the member's record (Kafka's `maybeUpdateRegularExpressions` reads the
/// group before its records are replayed).
pub(super) struct RegexUpdate {
    /// The member was the last one on its old regex: its resolution goes.
    tombstone: Option<String>,
    /// The new regex is already resolved in the group: the group epoch moves at once.
    bump: bool,
    /// The regular expressions to resolve now.
    refresh: Option<BTreeSet<String>>,
}

impl Records<'_> {
    /// Kafka's `maybeUpdateRegularExpressions` for a member whose regex goes from `old`
    /// to `new`: INVALID_REGULAR_EXPRESSION for a new regex that does not compile.
    pub(super) fn plan_regex_update(
        &self,
        old: Option<&str>,
        new: Option<&str>,
        cx: &Context<'_>,
    ) -> Result<RegexUpdate, ErrorCode> {
        let group = &*self.group;
        let mut update = RegexUpdate { tombstone: None, bump: false, refresh: None };
        let mut require_refresh = false;
        if old != new {
            if let Some(old) = old.filter(|old| group.regex_members(old) == 1) {
                update.tombstone = Some(old.to_string());
            }
            if let Some(new) = new {
                if group.regex_members(new) == 0 {
                    compile(new).ok_or(ErrorCode::InvalidRegularExpression)?;
                    require_refresh = true;
                } else {
                    update.bump = group.resolved_regexes.contains_key(new);
                }
            }
        }
        let mut regexes = group.subscribed_regexes();
        // 0. The group subscribes to regular expressions (or the member brings one);
        // 1. no resolution is running;
        // 2. the last one is more than 10 s old.
        let recent =
            group.last_regex_refresh_ms().is_some_and(|last| cx.now_ms <= last + REGEX_BATCH_REFRESH_INTERVAL_MS);
        if (!require_refresh && regexes.is_empty()) || group.regex_refresh != RegexRefresh::Idle || recent {
            return Ok(update);
        }
        if let Some(old) = old {
            if let Some(count) = regexes.get_mut(old) {
                *count -= 1;
                if *count == 0 {
                    regexes.remove(old);
                }
            }
        }
        if let Some(new) = new {
            *regexes.entry(new).or_insert(0) += 1;
        }
        // 3. Some regex is unresolved; 4. a topic was created since the last resolution.
        require_refresh |= regexes.len() != group.resolved_regexes.len();
        require_refresh |= group.last_regex_version() < cx.last_image_with_new_topics;
        if require_refresh && !regexes.is_empty() {
            update.refresh = Some(regexes.keys().map(|r| r.to_string()).collect());
        }
        Ok(update)
    }

    /// Writes what [`plan_regex_update`](Self::plan_regex_update) decided, after the
    /// member's record; returns whether the group epoch must move.
    pub(super) fn apply_regex_update(&mut self, update: RegexUpdate) -> bool {
        if let Some(regex) = update.tombstone {
            self.write(ConsumerGroupRecord::RegularExpression { regex, resolved: None });
        }
        if let Some(regexes) = update.refresh {
            self.group.regex_refresh = RegexRefresh::Requested(regexes);
        }
        update.bump
    }

    /// Kafka's `maybeDeleteResolvedRegularExpressions` after members were removed: the
    /// resolution of each regex no member subscribes to any more goes.
    pub(super) fn drop_unused_regexes(&mut self) {
        let unused: Vec<String> =
            self.group.resolved_regexes.keys().filter(|r| self.group.regex_members(r) == 0).cloned().collect();
        for regex in unused {
            self.write(ConsumerGroupRecord::RegularExpression { regex, resolved: None });
        }
    }
}

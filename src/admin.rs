//! The topic event kinds: the one list of what a scenario's `[[events]]` can do while
//! producers and consumers run: change the cluster's topics (an administrator's request,
//! whose answer the trace records), a group member's subscription (its application's
//! `subscribe`, which the history records), or a consumer's or group's position (a
//! rewind, which the history records). The scenario parser reads `kind = "..."`
//! against it, and the runner acts on each.
//!
//! Depends on nothing.

use serde::{Deserialize, Serialize};

/// What a topic event does, by its name in scenario files (`kind = "add-partitions"`),
/// traces and reports.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    strum::Display,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum TopicEventKind {
    /// CreateTopics: a new topic, its replicas placed by the controller.
    CreateTopic,
    /// CreatePartitions: the topic grows to a larger partition count. Keys hash
    /// (`murmur2(key) % count`) to other partitions from then on.
    AddPartitions,
    /// A group member's application subscribes to another list of topics.
    Subscribe,
    /// DeleteTopics: the topic and its records go (refused with TOPIC_DELETION_DISABLED
    /// under `delete.topic.enable = false`). Listed last: trace hashes hash the index.
    DeleteTopic,
    /// A consumer's application rewinds itself (`offsetsForTimes` and `seek`), or an
    /// administrator resets an inactive group's committed offsets
    /// (`kafka-consumer-groups.sh --reset-offsets`). Listed last, as above.
    Rewind,
}

impl TopicEventKind {
    /// The kind's name, as written in scenario files (`add-partitions`).
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// Every kind, in the order of the list above.
    pub fn all() -> &'static [TopicEventKind] {
        <TopicEventKind as strum::VariantArray>::VARIANTS
    }
}

crate::hash_by_name!(TopicEventKind);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_text_and_serde() {
        for &kind in TopicEventKind::all() {
            assert_eq!(kind.name().parse::<TopicEventKind>(), Ok(kind));
            assert_eq!(serde_json::to_string(&kind).unwrap(), format!("\"{}\"", kind.name()));
        }
        assert_eq!(TopicEventKind::AddPartitions.name(), "add-partitions");
    }
}

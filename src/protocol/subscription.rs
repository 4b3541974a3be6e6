//! What a group member subscribes to: a list of topics (`KafkaConsumer.subscribe(Collection)`),
//! every topic whose name matches a pattern the consumer matches against the cluster's
//! topics itself, at each metadata update (`subscribe(Pattern)`,
//! `ConsumerCoordinator.updatePatternSubscription`), or every topic whose name matches a
//! pattern the group coordinator resolves (`subscribe(SubscriptionPattern)`, KIP-848).

use std::fmt;

/// A member's subscription.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Subscription {
    /// These topics.
    Topics(Vec<String>),
    /// The topics whose names match, as the consumer matches them.
    Pattern(TopicPattern),
    /// The topics whose names match, as the group coordinator resolves them (Kafka 4.0's
    /// `subscribe(SubscriptionPattern)`, consumer protocol only: the member sends the
    /// regular expression, RE2J syntax, in its heartbeats).
    BrokerPattern(TopicPattern),
}

impl Subscription {
    /// Whether `other` is a subscription of the same kind (Kafka's `SubscriptionState`
    /// refuses to change the kind without an `unsubscribe()` in between).
    pub fn same_kind(&self, other: &Subscription) -> bool {
        std::mem::discriminant(self) == std::mem::discriminant(other)
    }
}

/// A `subscribe(Pattern)` pattern: a regular expression that must match a topic's whole
/// name (Java's `Matcher.matches`). Kafka's internal topics never match: the consumer's
/// metadata leaves them out under `exclude.internal.topics = true`, the default.
///
/// Simplified: Rust's `regex` syntax stands in for `java.util.regex`; they agree on the
/// usual topic patterns (`orders-.*`, `(orders|payments)`, `[a-z]+-eu`), not on
/// look-around or backreferences, which `regex` refuses.
#[derive(Clone)]
pub struct TopicPattern {
    source: String,
    whole_name: regex::Regex,
}

impl TopicPattern {
    /// Compiles `source`; the error says what is wrong with it.
    pub fn new(source: &str) -> Result<Self, String> {
        let whole_name = regex::Regex::new(&format!("^(?:{source})$")).map_err(|e| e.to_string())?;
        Ok(TopicPattern { source: source.to_string(), whole_name })
    }

    /// The pattern as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether a member subscribed with this pattern consumes `topic`.
    pub fn matches(&self, topic: &str) -> bool {
        !super::TopicAssignment::is_internal_name(topic) && self.whole_name.is_match(topic)
    }

    /// Whether it matches `name` whole, internal topic names included (as the group
    /// coordinator applies a `SubscriptionPattern`).
    pub fn matches_any_name(&self, name: &str) -> bool {
        self.whole_name.is_match(name)
    }

    /// The topics of `topics` it matches, in order.
    pub fn matching<'a>(&self, topics: impl IntoIterator<Item = &'a str>) -> Vec<String> {
        topics.into_iter().filter(|t| self.matches(t)).map(str::to_string).collect()
    }
}

impl PartialEq for TopicPattern {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Eq for TopicPattern {}

impl fmt::Debug for TopicPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TopicPattern({:?})", self.source)
    }
}

impl fmt::Display for TopicPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "/{}/", self.source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pattern_matches_whole_names_and_never_internal_topics() {
        let orders = TopicPattern::new("orders.*").unwrap();
        assert!(orders.matches("orders") && orders.matches("orders-eu"));
        assert!(!orders.matches("eu-orders"), "Matcher.matches needs the whole name");
        let alternatives = TopicPattern::new("orders|payments").unwrap();
        assert_eq!(alternatives.matching(["orders", "payments", "orders-eu"]), vec!["orders", "payments"]);
        assert!(!TopicPattern::new(".*").unwrap().matches("__consumer_offsets"));
        assert!(TopicPattern::new("orders(").is_err());
    }
}

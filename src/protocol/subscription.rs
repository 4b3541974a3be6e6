//! What a group member subscribes to: a list of topics (`KafkaConsumer.subscribe(Collection)`)
//! or every topic whose name matches a pattern (`subscribe(Pattern)`), which the classic
//! consumer matches against the cluster's topics itself, at each metadata update
//! (`ConsumerCoordinator.updatePatternSubscription`).

use std::fmt;

/// A member's subscription.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Subscription {
    /// These topics.
    Topics(Vec<String>),
    /// The topics whose names match.
    Pattern(TopicPattern),
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

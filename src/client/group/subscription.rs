//! What the member subscribes to: a list of topics, which may change while it runs, or a
//! pattern, matched by the client (`subscribe(Pattern)`) or by the group coordinator
//! (KIP-848's `SubscriptionPattern`).

use super::consumer_protocol::MemberState;
use super::GroupConsumer;
use crate::protocol::TopicPattern;

impl GroupConsumer {
    /// Whether the member subscribes to `topic`.
    pub(super) fn subscribes_to(&self, topic: &str) -> bool {
        self.topics.iter().any(|t| t == topic)
    }

    /// `KafkaConsumer.subscribe` with a new topic list while the member runs. Classic
    /// protocol: a subscription that differs from the one it joined with makes it rejoin
    /// at its next poll (`rejoinNeededOrPending`: "subscription has changed"); the
    /// cooperative protocol then revokes only the partitions of topics it dropped
    /// (`onJoinPrepare`), the eager one everything, as in any rebalance. Consumer
    /// protocol (KIP-848): the next heartbeat sends the new topics, and the coordinator's
    /// new target assignment moves partitions, reconciled as any other.
    pub fn change_subscription(&mut self, topics: Vec<String>) {
        self.pattern = None;
        self.consumer.set_metadata_for_all_topics(false);
        self.subscribe_from(topics);
    }

    /// Replaces the topic list. A different one makes a classic member rejoin at its next
    /// poll; a consumer-protocol member's next heartbeat carries it (Kafka's
    /// `HeartbeatState` sends `SubscribedTopicNames` whenever they differ from those
    /// sent), and the coordinator bumps the group epoch.
    fn subscribe_from(&mut self, topics: Vec<String>) {
        if topics == self.topics {
            return;
        }
        if let Some((membership, _)) = &self.kip848 {
            let mut m = membership.lock();
            m.topics = Some(topics.clone());
            m.topics_changed = true;
        } else {
            self.membership.lock().rejoin_needed = true;
        }
        self.topics = topics;
    }

    /// `KafkaConsumer.subscribe(Pattern)`: the consumer's metadata requests name no topic,
    /// so it learns every topic (`ConsumerMetadata` with a pattern subscription), and the
    /// member's topics become those the pattern matches, matched again after every
    /// metadata update: a topic created later that matches joins the subscription once
    /// this member's metadata has it (at most `metadata.max.age.ms` later). A classic
    /// member matches in `ConsumerCoordinator.updatePatternSubscription` and rejoins; a
    /// consumer-protocol member (Kafka's `AsyncKafkaConsumer`, whose
    /// `maybeUpdateSubscriptionMetadata` matches at a poll after a metadata update)
    /// joins only at the poll after its first match (until then it is `UNSUBSCRIBED`:
    /// no heartbeat, see [`MemberState::Unsubscribed`]), and later sends newly matched
    /// names in its next heartbeat, as with a topic list: the client resolves a
    /// `java.util.regex.Pattern`, not the coordinator
    /// (for KIP-848's server-side pattern see
    /// [`subscribe_broker_pattern`](Self::subscribe_broker_pattern)). Simplified: a
    /// pattern that no longer matches anything leaves the last topics subscribed
    /// (kafkasim does not model a member subscribed to nothing).
    pub fn subscribe_pattern(&mut self, pattern: TopicPattern) {
        self.pattern = Some(pattern);
        if let Some((membership, _)) = &self.kip848 {
            // A new member (the workload subscribes a fresh consumer to a pattern): its
            // metadata knows no topic yet, so `subscribe(Pattern)`'s first match finds
            // none and it stays out of the group until a poll's match does.
            membership.lock().state = MemberState::Unsubscribed;
        }
        self.consumer.set_metadata_for_all_topics(true);
        self.consumer.request_metadata_update();
    }

    /// Kafka 4.0's `subscribe(SubscriptionPattern)` (consumer protocol): the member sends
    /// the regular expression in its next heartbeat (`SubscribedTopicRegex`) and the
    /// group coordinator resolves it and assigns the matching topics' partitions; the
    /// consumer's metadata requests ask for every topic (4.0's `ConsumerMetadata`), so it
    /// can name what it is assigned.
    /// (The scenario reader lets only consumer-protocol members subscribe so; a classic
    /// member has no regular expression to send and this does nothing.)
    pub fn subscribe_broker_pattern(&mut self, pattern: &TopicPattern) {
        let Some((membership, _)) = &self.kip848 else {
            debug_assert!(false, "a SubscriptionPattern for a classic member");
            return;
        };
        {
            let mut m = membership.lock();
            m.regex = Some(pattern.source().to_string());
            m.regex_changed = true;
        }
        self.consumer.set_metadata_for_all_topics(true);
        self.consumer.request_metadata_update();
    }

    /// Under a pattern subscription, matches the pattern against the consumer's metadata,
    /// first refreshed if it is due or a classic rejoin is about to go (Kafka's `poll`
    /// asks for fresh metadata before a pattern-subscribed member rejoins, "so that we
    /// have matched the pattern against the cluster's topics at least once before
    /// joining").
    pub(super) async fn update_pattern_subscription(&mut self) {
        let Some(pattern) = self.pattern.clone() else { return };
        let rejoining = self.kip848.is_none() && {
            let m = self.membership.lock();
            m.rejoin_needed || m.generation.is_none()
        };
        self.consumer.refresh_metadata_if_due(rejoining).await;
        let matched = pattern.matching(self.consumer.known_topics().iter().map(String::as_str));
        if !matched.is_empty() {
            self.subscribe_from(matched);
        }
    }
}

//! Subscription changes the scenario's `[[events]]` ask of group members: the runner
//! leaves the new topic list for consumer `name`, and that consumer's application, the
//! next time round its loop, calls `subscribe` with it (Kafka's `KafkaConsumer.subscribe`
//! from the application thread; the change takes effect at the next `poll`). Nothing
//! wakes for it, so a run without subscription changes keeps its schedule.

use crate::protocol::Subscription;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Pending subscription changes, by consumer node name.
#[derive(Clone, Default)]
pub struct Subscriptions {
    pending: Arc<Mutex<BTreeMap<String, Subscription>>>,
}

impl Subscriptions {
    /// Asks consumer `name` to subscribe to `subscription` (replacing a change it has
    /// not picked up yet).
    pub fn request(&self, name: &str, subscription: Subscription) {
        self.pending.lock().expect("subscriptions poisoned").insert(name.to_string(), subscription);
    }

    /// The change waiting for consumer `name`, if any; taken.
    pub fn take(&self, name: &str) -> Option<Subscription> {
        self.pending.lock().expect("subscriptions poisoned").remove(name)
    }
}

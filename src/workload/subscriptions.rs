//! Requests the scenario's `[[events]]` leave for consumers' applications, by consumer
//! node name: a subscription change (the consumer's application, the next time round its
//! loop, calls `subscribe` with it: Kafka's `KafkaConsumer.subscribe` from the
//! application thread, which takes effect at the next `poll`) or a rewind (see
//! `rewind`). Nothing wakes for a request, so a run without them keeps its schedule.

use crate::protocol::Subscription;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Pending requests of one kind, by consumer node name.
#[derive(Clone)]
pub struct Pending<T> {
    pending: Arc<Mutex<BTreeMap<String, T>>>,
}

impl<T> Default for Pending<T> {
    fn default() -> Self {
        Pending { pending: Arc::default() }
    }
}

impl<T> Pending<T> {
    /// Leaves `request` for consumer `name` (replacing one it has not picked up yet).
    pub fn request(&self, name: &str, request: T) {
        self.pending.lock().expect("requests poisoned").insert(name.to_string(), request);
    }

    /// The request waiting for consumer `name`, if any; taken.
    pub fn take(&self, name: &str) -> Option<T> {
        self.pending.lock().expect("requests poisoned").remove(name)
    }
}

/// Pending subscription changes, by consumer node name.
pub type Subscriptions = Pending<Subscription>;

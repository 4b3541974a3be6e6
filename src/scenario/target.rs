//! Fault targets: the phrases written in `target` and `peers` (their canonical form is
//! [`Target`]'s `Display`, in `model_faults`). Parsing here is about spelling only; `faults` checks that named nodes and partitions
//! exist and that the target suits the fault kind.

use super::model_faults::Target;
use crate::protocol::{NodeName, METASTORE};

/// The spellings accepted, for error messages.
pub(super) const FORMS: &str = "\"broker-N\", \"metastore\", \"producer-N\", \"consumer-N\", \"pipeline-N\", \
     \"forwarder-N\", \"controller-N\", \"the controller\", \"the active controller\", \"a controller\", \
     \"a follower controller\", \
     \"a majority of controllers\", \"all controllers\", \"the leader of TOPIC-P\", \"the coordinator of group G\", \
     \"the transaction coordinator of producer-N\", \
     \"the followers of TOPIC-P\", \
     \"a follower of TOPIC-P\", \"a random broker\", \"all brokers\", \
     \"all replicas of TOPIC-P\", \"the cluster\", \"crashed\" (restart only), \
     \"paused\" (resume only) or \"everyone else\" (peers only)";

impl Target {
    /// Parses a target phrase. Whitespace is collapsed and the case of the words ignored
    /// (not of topic names), so `"The  Leader of orders-0"` reads as
    /// `LeaderOf("orders-0")`. Node names and partitions are not checked for existence here.
    pub fn parse(text: &str) -> Option<Target> {
        let original: Vec<&str> = text.split_whitespace().collect();
        let lower: Vec<String> = original.iter().map(|w| w.to_lowercase()).collect();
        let words: Vec<&str> = lower.iter().map(String::as_str).collect();
        // Topic names are case-sensitive: take the partition from the original text.
        let tp = original.last().copied().unwrap_or_default();
        let target = match words.as_slice() {
            ["controller"] | ["the", "controller"] => Target::Controller,
            ["the", "active", "controller"] | ["active", "controller"] => Target::ActiveController,
            ["a", "controller"] | ["a", "random", "controller"] => Target::AController,
            ["a", "follower", "controller"] => Target::AFollowerController,
            ["a", "majority", "of", "controllers"] | ["a", "majority", "of", "the", "controllers"] => {
                Target::MajorityOfControllers
            }
            ["all", "controllers"] | ["all", "the", "controllers"] => Target::AllControllers,
            ["a", "random", "broker"] | ["random", "broker"] => Target::RandomBroker,
            ["all", "brokers"] | ["all", "the", "brokers"] => Target::AllBrokers,
            ["crashed"] | ["all", "crashed"] | ["the", "crashed", "nodes"] => Target::Crashed,
            ["paused"] | ["all", "paused"] | ["the", "paused", "nodes"] => Target::Paused,
            ["the", "cluster"] | ["cluster"] => Target::Cluster,
            ["the", "metastore"] => Target::Node(METASTORE.to_string()),
            ["all", "replicas", "of", _] | ["the", "replicas", "of", _] | ["all", "the", "replicas", "of", _] => {
                Target::ReplicasOf(partition(tp)?)
            }
            ["everyone"] | ["everyone", "else"] => Target::Everyone,
            ["leader", "of", _] | ["the", "leader", "of", _] | ["the", "current", "leader", "of", _] => {
                Target::LeaderOf(partition(tp)?)
            }
            ["followers", "of", _] | ["the", "followers", "of", _] => Target::FollowersOf(partition(tp)?),
            // Group names are case-sensitive, like topic names.
            ["the", "coordinator", "of", "group", _] | ["coordinator", "of", "group", _] => {
                Target::CoordinatorOf(tp.to_string())
            }
            ["the", "transaction", "coordinator", "of", _] | ["transaction", "coordinator", "of", _] => {
                Target::TransactionCoordinatorOf(node(words[words.len() - 1])?)
            }
            ["a", "follower", "of", _] => Target::AFollowerOf(partition(tp)?),
            [name] => Target::Node(node(name)?),
            _ => return None,
        };
        Some(target)
    }
}

/// A `topic-N` partition name, or `None`.
fn partition(text: &str) -> Option<String> {
    let (topic, n) = text.rsplit_once('-')?;
    let ok = !topic.is_empty() && !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit());
    ok.then(|| text.to_string())
}

/// A node name: `metastore`, or `broker-N`, `producer-N`, `consumer-N`, `pipeline-N`, `forwarder-N`, `controller-N`
/// with N a number.
fn node(text: &str) -> Option<String> {
    (text == METASTORE || NodeName::parse(text).is_some()).then(|| text.to_string())
}

//! The validated topic events (`[[events]]`): an administrator's changes to the
//! cluster's topics while the workload runs, and the applications' own changes
//! (subscriptions, rewinds). Every value here has passed the checks in
//! `events`.

use super::model_faults::Trigger;
use super::values::format_duration_ms;
use crate::admin::TopicEventKind;
use crate::protocol::kraft::TopicAdmin;
use crate::protocol::Subscription;
use std::fmt;

/// One topic event (`[[events]]`).
#[derive(Clone, Debug, PartialEq)]
pub struct TopicEventSpec {
    /// When the administrator sends the request, in simulated milliseconds from the start
    /// of the safety phase (`at`).
    pub at_ms: u64,
    /// When set (`when`), `at` only arms the event: it is sent at the first such internal
    /// event at or after `at`, as a fault's `when` works.
    pub trigger: Option<Trigger>,
    /// What the administrator asks for.
    pub action: TopicEvent,
    /// The 1-based line of the event's `[[events]]` header in the file.
    pub line: usize,
}

/// What a topic event asks the controller for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TopicEvent {
    /// `kind = "create-topic"`: CreateTopics.
    CreateTopic {
        /// The topic.
        topic: String,
        /// Its partition count (`partitions`).
        partitions: u32,
        /// Replicas per partition (`replication.factor`), placed by the controller.
        replication_factor: u32,
    },
    /// `kind = "add-partitions"`: CreatePartitions, as `kafka-topics.sh --alter
    /// --partitions N` sends it.
    AddPartitions {
        /// The topic.
        topic: String,
        /// The new partition count (`partitions`), above the current one.
        partitions: u32,
    },
    /// `kind = "subscribe"`: a group member's application calls `subscribe` with another
    /// topic list (`topics`) or a pattern (`pattern`).
    Subscribe {
        /// The consumer, such as `consumer-2` (`target`).
        consumer: String,
        /// Its new subscription.
        subscription: Subscription,
    },
    /// `kind = "delete-topic"`: DeleteTopics, as `kafka-topics.sh --delete` sends it.
    DeleteTopic {
        /// The topic.
        topic: String,
    },
    /// `kind = "rewind"`: a consumer's application moves its positions (`target`), or an
    /// administrator resets a group's committed offsets (`group`).
    Rewind {
        /// Who is rewound.
        who: RewindWho,
        /// To where.
        to: RewindTo,
    },
}

/// Who a `rewind` event moves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RewindWho {
    /// `target = "consumer-2"`: that consumer's application rewinds the partitions it
    /// holds, the next time round its loop (`offsetsForTimes` then `seek`, or `seek`).
    Consumer(String),
    /// `group = "billing"`: an administrator resets the group's committed offsets for
    /// its topics, as `kafka-consumer-groups.sh --reset-offsets --execute` does: only
    /// while the group is inactive (Empty or Dead).
    Group {
        /// The group.
        group: String,
        /// The topics its `[[consumers]]` entries read (the tool's `--topic`s).
        topics: Vec<String>,
    },
}

/// Where a `rewind` event moves to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RewindTo {
    /// `to_time`: the earliest offset whose record timestamp (CreateTime) is at or after
    /// this time, counted as `at` is, from the start of the safety phase, in
    /// milliseconds; where no record is that recent, the end of the partition.
    Time {
        /// The time, in simulated milliseconds from the start of the safety phase.
        since_start_ms: u64,
    },
    /// `to_offset = N`: every partition to offset N (the tool keeps it within the log:
    /// `--to-offset`; a consumer's seek outside the log resets by `auto.offset.reset`).
    Offset(u64),
    /// `to_offset = { "orders-0" = 5, ... }`: these partitions to these offsets (the
    /// tool's reset plan, `--from-file`).
    Offsets(std::collections::BTreeMap<crate::protocol::TopicPartition, u64>),
}

impl TopicEvent {
    /// The event's kind.
    pub fn kind(&self) -> TopicEventKind {
        match self {
            TopicEvent::CreateTopic { .. } => TopicEventKind::CreateTopic,
            TopicEvent::AddPartitions { .. } => TopicEventKind::AddPartitions,
            TopicEvent::Subscribe { .. } => TopicEventKind::Subscribe,
            TopicEvent::DeleteTopic { .. } => TopicEventKind::DeleteTopic,
            TopicEvent::Rewind { .. } => TopicEventKind::Rewind,
        }
    }

    /// The administrator's request, with the topic it changes and the partition count it
    /// asks for (0 for a deletion); `None` for a subscription change, which no
    /// administrator sends.
    pub fn request(&self) -> Option<(TopicAdmin, &str, u32)> {
        match self {
            TopicEvent::CreateTopic { topic, partitions, replication_factor } => Some((
                TopicAdmin::CreateTopic {
                    name: topic.as_str().into(),
                    partitions: *partitions,
                    replication_factor: *replication_factor,
                },
                topic,
                *partitions,
            )),
            TopicEvent::AddPartitions { topic, partitions } => Some((
                TopicAdmin::CreatePartitions { topic: topic.as_str().into(), count: *partitions },
                topic,
                *partitions,
            )),
            TopicEvent::DeleteTopic { topic } => {
                Some((TopicAdmin::DeleteTopic { topic: topic.as_str().into() }, topic, 0))
            }
            TopicEvent::Subscribe { .. } | TopicEvent::Rewind { .. } => None,
        }
    }
}

impl fmt::Display for TopicEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TopicEvent::CreateTopic { topic, partitions, replication_factor } => {
                write!(f, "create topic {topic} with {partitions} partition(s) of {replication_factor} replica(s)")
            }
            TopicEvent::AddPartitions { topic, partitions } => {
                write!(f, "add partitions to {topic} up to {partitions}")
            }
            TopicEvent::Subscribe { consumer, subscription: Subscription::Topics(topics) } => {
                write!(f, "{consumer} subscribes to {}", topics.join(", "))
            }
            TopicEvent::Subscribe { consumer, subscription: Subscription::Pattern(pattern) } => {
                write!(f, "{consumer} subscribes to the topics matching {pattern}")
            }
            TopicEvent::Subscribe { consumer, subscription: Subscription::BrokerPattern(pattern) } => {
                write!(f, "{consumer} subscribes to the topics its group coordinator finds matching {pattern}")
            }
            TopicEvent::DeleteTopic { topic } => write!(f, "delete topic {topic}"),
            TopicEvent::Rewind { who, to } => {
                match who {
                    RewindWho::Consumer(consumer) => write!(f, "{consumer} rewinds")?,
                    RewindWho::Group { group, .. } => write!(f, "the administrator resets group {group}")?,
                }
                match to {
                    RewindTo::Time { since_start_ms } => {
                        write!(f, " to the records of {} (offsetsForTimes)", format_duration_ms(*since_start_ms))
                    }
                    RewindTo::Offset(offset) => write!(f, " to offset {offset}"),
                    RewindTo::Offsets(offsets) => {
                        let each: Vec<String> = offsets.iter().map(|(tp, o)| format!("{tp} to {o}")).collect();
                        write!(f, ": {}", each.join(", "))
                    }
                }
            }
        }
    }
}

impl fmt::Display for TopicEventSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at {}", format_duration_ms(self.at_ms))?;
        if let Some(trigger) = &self.trigger {
            write!(f, " on the next {trigger}")?;
        }
        write!(f, ": {}", self.action)
    }
}

//! The names of simulated nodes and partitions, made and read in one place: `broker-2`,
//! `producer-1`, `consumer-3`, `metastore`, and partitions `topic-N`. Node names are the
//! network addresses, the trace's `node`, and what fault targets name.

use super::ids::NodeId;
use std::fmt;

/// The metastore's node name.
pub const METASTORE: &str = "metastore";

/// What kind of process a numbered node runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, strum::Display, strum::IntoStaticStr)]
#[strum(serialize_all = "kebab-case")]
pub enum NodeRole {
    /// A Kafka broker (`broker-N`, N its broker id).
    Broker,
    /// A producer client process (`producer-N`, from 1 in scenario order).
    Producer,
    /// A consumer client process (`consumer-N`, from 1 in scenario order).
    Consumer,
    /// A dedicated KRaft controller (`controller-N`, from 1), in KRaft mode.
    Controller,
    /// A consume-transform-produce pipeline instance (`pipeline-N`, from 1 in scenario
    /// order).
    Pipeline,
    /// A delay queue's forwarder instance (`forwarder-N`, from 1 in scenario order).
    Forwarder,
}

impl NodeRole {
    /// Whether the role is a client process (producer, consumer, pipeline or forwarder
    /// instance), not a server.
    pub fn is_client(self) -> bool {
        match self {
            NodeRole::Producer | NodeRole::Consumer | NodeRole::Pipeline | NodeRole::Forwarder => true,
            NodeRole::Broker | NodeRole::Controller => false,
        }
    }

    /// Every role.
    pub const ALL: [NodeRole; 6] = [
        NodeRole::Broker,
        NodeRole::Producer,
        NodeRole::Consumer,
        NodeRole::Controller,
        NodeRole::Pipeline,
        NodeRole::Forwarder,
    ];
}

/// Where controllers' node ids start, so that they never collide with broker ids (Kafka
/// requires `node.id` to be unique across brokers and controllers; its test kit numbers
/// controllers from 3000, `TestKitNodes.CONTROLLER_ID_OFFSET`).
pub const CONTROLLER_ID_OFFSET: u32 = 3000;

/// A numbered node: its role and its number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeName {
    /// What it runs.
    pub role: NodeRole,
    /// Its number (a broker's id; a client's position, from 1).
    pub number: u32,
}

impl NodeName {
    /// Broker `id`'s node name.
    pub fn broker(id: u32) -> Self {
        NodeName { role: NodeRole::Broker, number: id }
    }

    /// The `n`-th pipeline instance's node name.
    pub fn pipeline(n: u32) -> Self {
        NodeName { role: NodeRole::Pipeline, number: n }
    }

    /// The `n`-th delay queue forwarder's node name.
    pub fn forwarder(n: u32) -> Self {
        NodeName { role: NodeRole::Forwarder, number: n }
    }

    /// The `n`-th producer process's node name.
    pub fn producer(n: u32) -> Self {
        NodeName { role: NodeRole::Producer, number: n }
    }

    /// The `n`-th consumer process's node name.
    pub fn consumer(n: u32) -> Self {
        NodeName { role: NodeRole::Consumer, number: n }
    }

    /// The `n`-th controller's node name.
    pub fn controller(n: u32) -> Self {
        NodeName { role: NodeRole::Controller, number: n }
    }

    /// The KRaft node that has node id `id`: a controller from [`CONTROLLER_ID_OFFSET`]
    /// on, a broker below.
    pub fn of_kraft_node(id: NodeId) -> Self {
        match id.0.checked_sub(CONTROLLER_ID_OFFSET) {
            Some(n) => NodeName::controller(n),
            None => NodeName::broker(id.0),
        }
    }

    /// This node's KRaft node id (`node.id`), if it is a broker or a controller.
    pub fn kraft_node_id(&self) -> Option<NodeId> {
        match self.role {
            NodeRole::Broker => Some(NodeId(self.number)),
            NodeRole::Controller => Some(NodeId(CONTROLLER_ID_OFFSET + self.number)),
            NodeRole::Producer | NodeRole::Consumer | NodeRole::Pipeline | NodeRole::Forwarder => None,
        }
    }

    /// The broker id a node name names (`broker-3`: 3); `None` for any other node.
    pub fn broker_id(text: &str) -> Option<u32> {
        NodeName::parse(text).filter(|n| n.role == NodeRole::Broker).map(|n| n.number)
    }

    /// Reads `broker-2`, `producer-1`, `consumer-3`, `pipeline-1`, `forwarder-1` or `controller-1`; `None` for anything else
    /// (including `metastore`, which has no number).
    pub fn parse(text: &str) -> Option<Self> {
        let (role, n) = text.split_once('-')?;
        let role = NodeRole::ALL.into_iter().find(|r| <&str>::from(*r) == role)?;
        let numeric = !n.is_empty() && n.len() <= 9 && n.bytes().all(|b| b.is_ascii_digit());
        numeric.then(|| NodeName { role, number: n.parse().expect("nine digits fit") })
    }
}

impl fmt::Display for NodeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.role, self.number)
    }
}

/// Broker `id`'s node name, `broker-{id}`, as a string.
pub fn broker_name(id: u32) -> String {
    NodeName::broker(id).to_string()
}

/// Every broker's node name, `broker-1` to `broker-{count}`.
pub fn broker_names(count: u32) -> Vec<String> {
    (1..=count).map(broker_name).collect()
}

/// Partition `p` of `topic`, `topic-p`: how histories, traces and targets name it.
pub fn partition_name(topic: &str, p: u32) -> String {
    format!("{topic}-{p}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_names_read_back_as_written() {
        for name in [
            NodeName::broker(2),
            NodeName::producer(1),
            NodeName::consumer(13),
            NodeName::controller(3),
            NodeName::pipeline(2),
            NodeName::forwarder(4),
        ] {
            assert_eq!(NodeName::parse(&name.to_string()), Some(name));
        }
        for kraft in [NodeName::broker(2), NodeName::controller(1)] {
            assert_eq!(NodeName::of_kraft_node(kraft.kraft_node_id().expect("a KRaft node")), kraft);
        }
        assert_eq!(NodeName::controller(1).kraft_node_id(), Some(NodeId(3001)));
        assert_eq!(broker_names(2), ["broker-1", "broker-2"]);
        for not_a_node in ["metastore", "broker-", "broker-x", "broker-1234567890", "drain-1", "broker"] {
            assert_eq!(NodeName::parse(not_a_node), None, "{not_a_node}");
        }
        assert_eq!(partition_name("orders", 3), "orders-3");
    }
}

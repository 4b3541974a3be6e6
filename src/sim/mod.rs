//! The simulated environment the cluster runs in: the network, the disks, node boot
//! and the fault primitives the nemesis uses. Nothing here knows about Kafka.

pub mod clock;
pub mod deadline;
pub mod disk;
pub mod machine;
pub mod net;
pub mod nodes;
pub mod tasks;
pub mod timer;

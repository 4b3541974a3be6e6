//! The link from a group member to its coordinator: FindCoordinator against any broker,
//! then requests on one connection to the coordinator, forgotten (and looked up again)
//! when the coordinator moves or stops answering. Kafka's `AbstractCoordinator`
//! `lookupCoordinator` / `markCoordinatorUnknown`.

use crate::protocol::{ErrorCode, GroupRequest, GroupResponse, Request, Response};
use crate::sim::net::{Addr, Connection, NodeNet};
use std::time::Duration;

/// A connection to a group's coordinator, found on demand.
pub struct CoordinatorLink {
    net: NodeNet<Request, Response>,
    bootstrap: Vec<Addr>,
    group: String,
    /// Rotates which broker FindCoordinator asks, so one dead broker does not block.
    next_broker: usize,
    coordinator: Option<Connection<Request, Response>>,
}

/// Why a request to the coordinator got no usable answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkError {
    /// No coordinator is known or reachable now; it was forgotten and will be looked up
    /// again on the next request.
    CoordinatorUnknown,
    /// The request may or may not have been applied (a timeout or a dropped
    /// connection after it was sent).
    Indeterminate,
}

impl CoordinatorLink {
    /// A link for `group` that knows only the bootstrap brokers.
    pub fn new(net: NodeNet<Request, Response>, bootstrap: Vec<Addr>, group: &str) -> Self {
        CoordinatorLink { net, bootstrap, group: group.to_string(), next_broker: 0, coordinator: None }
    }

    /// The group id.
    pub fn group(&self) -> &str {
        &self.group
    }

    /// Forgets the coordinator (Kafka's `markCoordinatorUnknown`): the next request
    /// looks it up again.
    pub fn mark_unknown(&mut self) {
        if let Some(conn) = self.coordinator.take() {
            conn.close();
        }
    }

    /// Asks one broker (rotating) which broker coordinates the group and connects to it.
    async fn lookup(&mut self, timeout: Duration) -> bool {
        if self.bootstrap.is_empty() {
            return false;
        }
        let broker = self.bootstrap[self.next_broker % self.bootstrap.len()].clone();
        self.next_broker += 1;
        let request = Request::Group(GroupRequest::FindCoordinator { group: self.group.clone() });
        let conn = self.net.connect(&broker);
        let answer = conn.call(request, timeout).await;
        conn.close();
        match answer {
            Ok(Response::Group(GroupResponse::Coordinator { error: None, coordinator: Some(endpoint) })) => {
                self.coordinator = Some(self.net.connect(&Addr::new(&endpoint.host)));
                true
            }
            _ => false,
        }
    }

    /// Sends a request to the coordinator (looking it up first if needed) and waits up to
    /// `timeout` for the answer. A NOT_COORDINATOR or COORDINATOR_NOT_AVAILABLE answer
    /// is returned as is, after forgetting the coordinator.
    pub async fn call(&mut self, request: GroupRequest, timeout: Duration) -> Result<GroupResponse, LinkError> {
        if self.coordinator.as_ref().is_none_or(|c| c.is_closed()) && !self.lookup(timeout).await {
            self.coordinator = None;
            return Err(LinkError::CoordinatorUnknown);
        }
        let conn = self.coordinator.as_ref().expect("looked up");
        match conn.call(Request::Group(request), timeout).await {
            Ok(Response::Group(response)) => {
                if matches!(
                    response_error(&response),
                    Some(ErrorCode::NotCoordinator | ErrorCode::CoordinatorNotAvailable)
                ) {
                    self.mark_unknown();
                }
                Ok(response)
            }
            Ok(_) => {
                self.mark_unknown();
                Err(LinkError::Indeterminate)
            }
            Err(_) => {
                // Kafka closes the connection after a request timeout; the coordinator
                // may have died, so it is looked up again.
                self.mark_unknown();
                Err(LinkError::Indeterminate)
            }
        }
    }
}

/// The error code of any group response.
pub fn response_error(response: &GroupResponse) -> Option<ErrorCode> {
    match response {
        GroupResponse::Coordinator { error, .. }
        | GroupResponse::Joined { error, .. }
        | GroupResponse::Synced { error, .. }
        | GroupResponse::Ack { error }
        | GroupResponse::Offsets { error, .. } => *error,
    }
}

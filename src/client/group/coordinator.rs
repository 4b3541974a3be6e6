//! The link from a client to its coordinator (a group member's group coordinator, a
//! transactional producer's transaction coordinator): FindCoordinator against any
//! broker, then requests on one connection to the coordinator, forgotten (and looked up
//! again) when the coordinator moves or stops answering. Kafka's `AbstractCoordinator`
//! `lookupCoordinator` / `markCoordinatorUnknown`, and the `TransactionManager`'s
//! FindCoordinator handling.

use crate::client::connection_states::ConnectionSettings;
use crate::protocol::{ErrorCode, GroupRequest, GroupResponse, Request, Response, TxnRequest, TxnResponse};
use crate::sim::net::{Addr, Connection, NodeNet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the links of one client know of their coordinator: Kafka keeps one `coordinator`
/// node per `AbstractCoordinator`, which the heartbeat thread and the application thread
/// (JoinGroup, SyncGroup, commits) share. A NOT_COORDINATOR answer to a heartbeat makes
/// the next JoinGroup look the coordinator up again (`markCoordinatorUnknown`, then
/// `ensureCoordinatorReady`), and a coordinator one of them found serves the others.
/// Without this sharing, a member's JoinGroup went to the coordinator its last round
/// used after its heartbeats had been told NOT_COORDINATOR, and waited out its 305 s
/// timeout there when that broker lost power (swarm-wide seed 820).
#[derive(Clone, Default)]
pub struct KnownCoordinator(Arc<Mutex<Known>>);

#[derive(Default)]
struct Known {
    /// The coordinator last found, until some link forgets it.
    coordinator: Option<Addr>,
    /// How many times it was forgotten: a link whose connection is older reconnects.
    forgotten: u64,
}

impl KnownCoordinator {
    fn lock(&self) -> std::sync::MutexGuard<'_, Known> {
        self.0.lock().expect("known coordinator poisoned")
    }
}

/// Whose coordinator a link finds (FindCoordinator's key type and key).
#[derive(Clone, Debug, PartialEq, Eq)]
enum CoordinatorKey {
    /// A consumer group's (`group.id`).
    Group(String),
    /// A transactional producer's (`transactional.id`).
    Transaction(String),
}

/// A connection to a coordinator, found on demand.
pub struct CoordinatorLink {
    net: NodeNet<Request, Response>,
    bootstrap: Vec<Addr>,
    key: CoordinatorKey,
    /// Rotates which broker FindCoordinator asks, so one dead broker does not block.
    next_broker: usize,
    coordinator: Option<Connection<Request, Response>>,
    /// What this link knows of the coordinator, shared with the client's other links
    /// (see [`CoordinatorLink::sharing`]); its own unless shared.
    known: KnownCoordinator,
    /// `known.forgotten` when `coordinator` was connected.
    connected_in: u64,
    /// How long a FindCoordinator may wait (the client's `request.timeout.ms`); `None`:
    /// as long as the request it precedes.
    find_timeout: Option<Duration>,
    /// The client's connection settings: each connection the link opens gives up its
    /// handshake at the first setup timeout. Simplified: a failed coordinator
    /// connection is looked up and opened again at the next request, without Kafka's
    /// reconnect backoff or a setup timeout that grows.
    connection_settings: ConnectionSettings,
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
        Self::with_key(net, bootstrap, CoordinatorKey::Group(group.to_string()))
    }

    /// A link for the transactional producer `transactional_id`.
    pub fn for_transactions(net: NodeNet<Request, Response>, bootstrap: Vec<Addr>, transactional_id: &str) -> Self {
        Self::with_key(net, bootstrap, CoordinatorKey::Transaction(transactional_id.to_string()))
    }

    fn with_key(net: NodeNet<Request, Response>, bootstrap: Vec<Addr>, key: CoordinatorKey) -> Self {
        let known = KnownCoordinator::default();
        CoordinatorLink {
            net,
            bootstrap,
            key,
            next_broker: 0,
            coordinator: None,
            known,
            connected_in: 0,
            find_timeout: None,
            connection_settings: ConnectionSettings::default(),
        }
    }

    /// This link, knowing the coordinator as every link built with the same `known` does
    /// (one client's links: see [`KnownCoordinator`]).
    pub fn sharing(mut self, known: &KnownCoordinator) -> Self {
        self.known = known.clone();
        self
    }

    /// This link, waiting at most `request_timeout` for a FindCoordinator answer: Kafka
    /// sends FindCoordinator with the client's `request.timeout.ms`
    /// (`AbstractCoordinator.sendFindCoordinatorRequest` → `ConsumerNetworkClient.send`),
    /// whatever the request that needs the coordinator waits, such as a JoinGroup's
    /// `max.poll.interval.ms` + 5 s. Asked of a broker that is down, a lookup that waited
    /// the JoinGroup's 305 s left the group without a coordinator past the end of the
    /// run (swarm-wide seeds 339 and 2446).
    pub fn finding_within(mut self, request_timeout: Duration) -> Self {
        self.find_timeout = Some(request_timeout);
        self
    }

    /// This link, opening its connections with the client's `settings` (Kafka's current
    /// defaults until set).
    pub fn connecting_with(mut self, settings: ConnectionSettings) -> Self {
        self.connection_settings = settings;
        self
    }

    /// The client's connection settings.
    pub fn connection_settings(&self) -> ConnectionSettings {
        self.connection_settings
    }

    /// The network handle the link connects through.
    pub fn net(&self) -> &NodeNet<Request, Response> {
        &self.net
    }

    /// The group id (empty for a transactional producer's link).
    pub fn group(&self) -> &str {
        match &self.key {
            CoordinatorKey::Group(group) => group,
            CoordinatorKey::Transaction(_) => "",
        }
    }

    /// Forgets the coordinator (Kafka's `markCoordinatorUnknown`): the next request
    /// looks it up again.
    pub fn mark_unknown(&mut self) {
        if let Some(conn) = self.coordinator.take() {
            conn.close();
            let mut known = self.known.lock();
            // Forget it for every link, unless another link already found a newer one.
            if known.forgotten == self.connected_in {
                known.coordinator = None;
                known.forgotten += 1;
            }
        }
    }

    /// Connects to the coordinator another link of the client found, if it knows one
    /// this link is not connected to (or this link's connection predates a forgetting).
    fn adopt_known(&mut self) {
        if self.coordinator.as_ref().is_some_and(|c| c.is_closed()) {
            // A dropped connection makes the coordinator unknown, as a disconnect does in
            // Kafka (`markCoordinatorUnknown(true, ..)` from the response handlers).
            self.mark_unknown();
        }
        let known = self.known.lock();
        if self.coordinator.is_some() && self.connected_in == known.forgotten {
            return;
        }
        if let Some(conn) = self.coordinator.take() {
            conn.close();
        }
        if let Some(coordinator) = known.coordinator.clone() {
            self.connected_in = known.forgotten;
            drop(known);
            self.coordinator = Some(self.connect(&coordinator));
        }
    }

    /// A connection to `coordinator` on the channel this link's key uses.
    fn connect(&self, coordinator: &Addr) -> Connection<Request, Response> {
        let channel = match self.key {
            CoordinatorKey::Group(_) => None,
            CoordinatorKey::Transaction(_) => Some(crate::protocol::TRANSACTION_COORDINATOR_CHANNEL),
        };
        self.net.connect_with(coordinator, self.connection_settings.one_off(channel))
    }

    /// Asks one broker (rotating) which broker coordinates the group and connects to it.
    async fn lookup(&mut self, timeout: Duration) -> bool {
        if self.bootstrap.is_empty() {
            return false;
        }
        let broker = self.bootstrap[self.next_broker % self.bootstrap.len()].clone();
        self.next_broker += 1;
        let request = match &self.key {
            CoordinatorKey::Group(group) => Request::Group(GroupRequest::FindCoordinator { group: group.clone() }),
            CoordinatorKey::Transaction(id) => {
                Request::Txn(TxnRequest::FindCoordinator { transactional_id: id.clone() })
            }
        };
        let conn = self.net.connect_with(&broker, self.connection_settings.one_off(None));
        let answer = conn.call(request, timeout).await;
        conn.close();
        match answer {
            Ok(Response::Group(GroupResponse::Coordinator { error: None, coordinator: Some(endpoint) }))
            | Ok(Response::Txn(TxnResponse::Coordinator { error: None, coordinator: Some(endpoint) })) => {
                let coordinator = Addr::new(&endpoint.host);
                self.coordinator = Some(self.connect(&coordinator));
                let mut known = self.known.lock();
                known.coordinator = Some(coordinator);
                self.connected_in = known.forgotten;
                true
            }
            _ => false,
        }
    }

    /// Sends a transaction request to the coordinator, as [`call`](Self::call) sends a
    /// group request.
    pub async fn call_txn(&mut self, request: TxnRequest, timeout: Duration) -> Result<TxnResponse, LinkError> {
        let response = self.call_raw(Request::Txn(request), timeout).await?;
        let txn = match response {
            Response::Txn(txn) => Some(txn),
            _ => None,
        };
        self.settle(txn, txn_response_error)
    }

    /// The answer of the expected kind (`answer`, `None` for any other response), after
    /// forgetting the coordinator if it says it is not one (NOT_COORDINATOR,
    /// COORDINATOR_NOT_AVAILABLE) or answered something else.
    fn settle<T>(&mut self, answer: Option<T>, error_of: impl Fn(&T) -> Option<ErrorCode>) -> Result<T, LinkError> {
        match answer {
            Some(answer) => {
                if matches!(error_of(&answer), Some(ErrorCode::NotCoordinator | ErrorCode::CoordinatorNotAvailable)) {
                    self.mark_unknown();
                }
                Ok(answer)
            }
            None => {
                self.mark_unknown();
                Err(LinkError::Indeterminate)
            }
        }
    }

    /// Sends any request to the coordinator (looking it up first if needed); a failed
    /// call forgets the coordinator.
    async fn call_raw(&mut self, request: Request, timeout: Duration) -> Result<Response, LinkError> {
        self.adopt_known();
        let find_timeout = self.find_timeout.unwrap_or(timeout);
        if self.coordinator.as_ref().is_none_or(|c| c.is_closed()) && !self.lookup(find_timeout).await {
            self.coordinator = None;
            return Err(LinkError::CoordinatorUnknown);
        }
        let conn = self.coordinator.as_ref().expect("looked up");
        match conn.call(request, timeout).await {
            Ok(response) => Ok(response),
            Err(_) => {
                // Kafka closes the connection after a request timeout; the coordinator
                // may have died, so it is looked up again.
                self.mark_unknown();
                Err(LinkError::Indeterminate)
            }
        }
    }

    /// Sends a request to the coordinator (looking it up first if needed) and waits up to
    /// `timeout` for the answer. A NOT_COORDINATOR or COORDINATOR_NOT_AVAILABLE answer
    /// is returned as is, after forgetting the coordinator.
    pub async fn call(&mut self, request: GroupRequest, timeout: Duration) -> Result<GroupResponse, LinkError> {
        let response = self.call_raw(Request::Group(request), timeout).await?;
        let group = match response {
            Response::Group(group) => Some(group),
            _ => None,
        };
        self.settle(group, response_error)
    }
}

/// The error code of any group response.
pub fn response_error(response: &GroupResponse) -> Option<ErrorCode> {
    match response {
        GroupResponse::Coordinator { error, .. }
        | GroupResponse::Joined { error, .. }
        | GroupResponse::Synced { error, .. }
        | GroupResponse::Ack { error }
        | GroupResponse::Offsets { error, .. }
        | GroupResponse::ConsumerHeartbeat { error, .. }
        | GroupResponse::Described { error, .. } => *error,
    }
}

/// The error code of a transaction response (the first failing partition's for
/// AddPartitionsToTxn).
pub fn txn_response_error(response: &TxnResponse) -> Option<ErrorCode> {
    match response {
        TxnResponse::Coordinator { error, .. }
        | TxnResponse::ProducerId { error, .. }
        | TxnResponse::Ack { error }
        | TxnResponse::Ended { error, .. } => *error,
        TxnResponse::Partitions(results) => results.iter().find_map(|(_, error)| *error),
    }
}

#[cfg(test)]
#[path = "coordinator_tests.rs"]
mod tests;

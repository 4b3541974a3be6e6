//! A client's connections to the brokers and when it may use them, as Kafka's
//! `NetworkClient` and `ClusterConnectionStates` decide (used by the producer's sender
//! and the consumer's fetches and offset requests).
//!
//! A broker is *ready* once its connection is established (the handshake's SYN-ACK came
//! back); before that the producer sends nothing to it and keeps its batches queued
//! (`Sender.sendProducerData` drops the nodes `NetworkClient.ready` refuses), while the
//! consumer's requests wait for the handshake in line behind its SYN, as they wait in
//! `ConsumerNetworkClient`'s unsent queue until `NetworkClient.ready` (and fail with it
//! if the connection does). A broker whose last connection failed is *unavailable*
//! until its reconnect backoff ends, and the consumer sends it nothing meanwhile
//! (`NetworkClientUtils.isUnavailable`, checked by `AbstractFetch.prepareFetchRequests`
//! and `OffsetFetcher.groupListOffsetRequests`). A
//! connection that is refused, reset or closed puts the broker in *reconnect backoff*:
//! `reconnect.backoff.ms` (50 ms) after the failure, doubling with each failed attempt
//! to `reconnect.backoff.max.ms` (1 s), ±20% (`ClusterConnectionStates.disconnected`,
//! KIP-144); an established connection resets it (`ready`). A connection not
//! established within `socket.connection.setup.timeout.ms` (10 s, doubling with each
//! failed attempt to `socket.connection.setup.timeout.max.ms`, 30 s, ±20%; KIP-601,
//! Kafka 2.7) is closed as failed (`NetworkClient.handleTimedOutConnections`; the
//! connection's own timer closes it, see [`ConnectOptions::setup_timeout`]). Before 2.7
//! the client waited for the kernel to give up: Linux's `tcp_syn_retries` (6)
//! retransmits the SYN for about 127 s. Every disconnect asks for a metadata update
//! (`DefaultMetadataUpdater.handleServerDisconnect`).
//!
//! Simplified:
//! - Kafka sends ApiVersions on a new connection and counts the broker ready once it is
//!   answered; kafkasim counts it ready at the handshake, one round trip earlier.
//! - Kafka notices a setup timeout at its next poll after it (`NetworkClient.poll`);
//!   kafkasim's connection closes at the timeout itself.
//! - A client's metadata requests and coordinator lookups each open a connection of
//!   their own (with the first setup timeout, [`ConnectionSettings::one_off`])
//!   to the next broker in turn, leaving out one whose last such request failed until
//!   its backoff ends (`ClusterView`), where Kafka sends them to its least loaded node
//!   over the connections it keeps (`NetworkClient.leastLoadedNode`).

use super::backoff::RetryBackoff;
use crate::protocol::{BrokerId, Request, Response};
use crate::sim::clock;
use crate::sim::net::{Addr, ConnId, ConnectOptions, Connection, ConnectionState, NodeNet};
use madsim::time::Instant;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// `reconnect.backoff.ms`'s default.
pub const DEFAULT_RECONNECT_BACKOFF_MS: u64 = 50;
/// `reconnect.backoff.max.ms`'s default (Kafka 0.11+, KIP-144).
pub const DEFAULT_RECONNECT_BACKOFF_MAX_MS: u64 = 1_000;
/// `socket.connection.setup.timeout.ms`'s default (Kafka 2.7+, KIP-601).
pub const DEFAULT_SOCKET_CONNECTION_SETUP_TIMEOUT_MS: u64 = 10_000;
/// `socket.connection.setup.timeout.max.ms`'s default (Kafka 2.7+, KIP-601).
pub const DEFAULT_SOCKET_CONNECTION_SETUP_TIMEOUT_MAX_MS: u64 = 30_000;
/// How long Linux keeps retransmitting an unanswered SYN before `connect` fails, with
/// its default `tcp_syn_retries` of 6 (1 + 2 + 4 + 8 + 16 + 32 + 64 s): the only bound
/// on a connection attempt before Kafka 2.7.
pub const LINUX_CONNECT_TIMEOUT_MS: u64 = 127_000;

/// The connection settings of a client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionSettings {
    /// `reconnect.backoff.ms` and, from Kafka 0.11, `reconnect.backoff.max.ms`.
    pub reconnect_backoff: RetryBackoff,
    /// `socket.connection.setup.timeout.ms` and `.max.ms` (Kafka 2.7+); before 2.7 the
    /// kernel's connect timeout, fixed.
    pub setup_timeout: RetryBackoff,
}

impl ConnectionSettings {
    /// How a client opens a connection for one request, outside [`NodeConnections`] (on
    /// `channel`, if named): it gives up its handshake at the first setup timeout, its
    /// jitter drawn now.
    pub fn one_off(&self, channel: Option<&'static str>) -> ConnectOptions {
        ConnectOptions { channel, setup_timeout: Some(self.setup_timeout.backoff(0)), ..ConnectOptions::default() }
    }
}

impl Default for ConnectionSettings {
    /// Kafka's defaults in its current releases.
    fn default() -> Self {
        ConnectionSettings {
            reconnect_backoff: RetryBackoff::new(DEFAULT_RECONNECT_BACKOFF_MS, Some(DEFAULT_RECONNECT_BACKOFF_MAX_MS)),
            setup_timeout: RetryBackoff::new(
                DEFAULT_SOCKET_CONNECTION_SETUP_TIMEOUT_MS,
                Some(DEFAULT_SOCKET_CONNECTION_SETUP_TIMEOUT_MAX_MS),
            ),
        }
    }
}

/// Whether a request may go to a broker now (`NetworkClient.ready`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Readiness {
    /// Its connection is established.
    Ready,
    /// Not yet: connecting, or in reconnect backoff. `poll_at` is when to look again
    /// (`NetworkClient.pollDelayMs`: the backoff's end); an established or failed
    /// connection (a setup timeout included) wakes [`NodeConnections::changes`].
    NotReady {
        /// When the broker's state changes by itself: the end of its reconnect backoff;
        /// `None` while it connects, and for a broker the metadata does not name.
        poll_at: Option<Instant>,
    },
}

/// Whether the consumer may send a request to a broker now
/// ([`NodeConnections::usable`]).
pub enum Usable<'a> {
    /// Established, or connecting: a request sent now waits for the handshake.
    Yes(&'a Connection<Request, Response>),
    /// Its last connection failed and its reconnect backoff has not passed
    /// (`NetworkClientUtils.isUnavailable`): nothing is sent to it until then. The
    /// failure asked for a metadata update already.
    BackingOff,
    /// The metadata lists no broker by that id: no node to send to.
    UnknownBroker,
}

/// Where a broker's connection stands once [`NodeConnections::poll`] looked.
enum Polled {
    Established,
    /// A connection attempt is under way (it may have begun just now).
    Connecting,
    /// In reconnect backoff until then.
    BackingOff(Instant),
}

/// Where one broker's connection stands (`ClusterConnectionStates.NodeConnectionState`).
struct NodeState {
    /// The current connection, if one is open or being set up.
    conn: Option<Connection<Request, Response>>,
    /// When the current connection attempt began, while it is not established.
    connecting_since: Option<Instant>,
    /// When the last connection attempt began or the last connection failed: the
    /// reconnect backoff counts from here (`lastConnectAttemptMs`).
    last_attempt: Option<Instant>,
    /// `failedAttempts`: disconnects since the last established connection.
    failed_attempts: u64,
    /// `reconnectBackoffMs`: the wait after `last_attempt`, drawn at the last disconnect.
    reconnect_backoff: Duration,
    /// `failedConnectAttempts`: connection attempts in a row that never got established.
    failed_connect_attempts: u64,
    /// `connectionSetupTimeoutMs`, drawn when the count last changed.
    setup_timeout: Duration,
}

/// A client's connections to the brokers, one per broker, with Kafka's connection
/// states (see the module's documentation).
pub struct NodeConnections {
    net: NodeNet<Request, Response>,
    settings: ConnectionSettings,
    nodes: BTreeMap<BrokerId, NodeState>,
    /// Told when any of the connections is established or closed.
    changes: Arc<Notify>,
    /// Set when a look at a broker ([`NodeConnections::ready`], [`NodeConnections::usable`])
    /// found its connection failed: Kafka's `NetworkClient` then asks for a metadata
    /// update, since the broker may have died.
    saw_disconnect: bool,
}

impl NodeConnections {
    /// No connection yet; connections are opened on `net` when a broker is first asked for.
    pub fn new(net: NodeNet<Request, Response>, settings: ConnectionSettings) -> Self {
        NodeConnections {
            net,
            settings,
            nodes: BTreeMap::new(),
            changes: Arc::new(Notify::new()),
            saw_disconnect: false,
        }
    }

    /// Told whenever one of the connections is established or closed: the owner waits on
    /// it with its other wake-ups.
    pub fn changes(&self) -> Arc<Notify> {
        self.changes.clone()
    }

    /// Whether a request may go to `broker` at `addr` now (`NetworkClient.ready`): if
    /// it has no connection and its backoff has passed, a connection is opened
    /// (`initiateConnect`), and the broker is ready once it is established. `addr` is
    /// the broker's address in the metadata (`None`: unknown, never ready).
    pub fn ready(&mut self, broker: BrokerId, addr: Option<&Addr>) -> Readiness {
        let Some(addr) = addr else { return Readiness::NotReady { poll_at: None } };
        match self.poll(broker, addr) {
            Polled::Established => Readiness::Ready,
            Polled::Connecting => Readiness::NotReady { poll_at: None },
            Polled::BackingOff(ends) => Readiness::NotReady { poll_at: Some(ends) },
        }
    }

    /// The connection a consumer's request to `broker` at `addr` goes on now: Kafka's
    /// consumer leaves out a broker in reconnect backoff (`isUnavailable`) and otherwise
    /// queues the request until the broker is ready (`ConsumerNetworkClient.trySend`,
    /// which opens the connection), failing it if the connection fails
    /// (`checkDisconnects`). Here the request waits behind the connection's SYN.
    pub fn usable(&mut self, broker: BrokerId, addr: Option<&Addr>) -> Usable<'_> {
        let Some(addr) = addr else { return Usable::UnknownBroker };
        match self.poll(broker, addr) {
            Polled::BackingOff(_) => Usable::BackingOff,
            Polled::Established | Polled::Connecting => {
                Usable::Yes(self.nodes[&broker].conn.as_ref().expect("a connection polled open"))
            }
        }
    }

    /// Looks at `broker`'s connection to `addr` and updates its state: an established
    /// one resets the backoffs, a closed one (refused, reset, or closed at its setup
    /// timeout) starts the reconnect backoff, and once that has passed a new connection
    /// is opened (`initiateConnect`).
    fn poll(&mut self, broker: BrokerId, addr: &Addr) -> Polled {
        let now = clock::now();
        let settings = self.settings;
        let node = self.nodes.entry(broker).or_insert_with(|| NodeState::new(&settings));
        if let Some(conn) = &node.conn {
            // A broker that moved to another host is connected anew.
            let state = if conn.peer() == addr { conn.state() } else { ConnectionState::Closed };
            match state {
                ConnectionState::Established => {
                    if node.connecting_since.is_some() {
                        node.established(&settings);
                    }
                    return Polled::Established;
                }
                ConnectionState::Connecting => return Polled::Connecting,
                ConnectionState::Closed => {
                    // The backoff counts from the failure, not from when the client next
                    // asked for the broker: Kafka's `NetworkClient.poll` handles every
                    // disconnect as it happens (`handleDisconnections`), whether or not it
                    // has something to send there.
                    let failed_at = conn.closed_at().unwrap_or(now);
                    node.disconnected(&settings, failed_at);
                    self.saw_disconnect = true;
                }
            }
        }
        let backoff_ends = node.last_attempt.map(|at| at + node.reconnect_backoff);
        if let Some(ends) = backoff_ends.filter(|ends| now < *ends) {
            return Polled::BackingOff(ends);
        }
        let options = ConnectOptions {
            watcher: Some(self.changes.clone()),
            setup_timeout: Some(node.setup_timeout),
            ..ConnectOptions::default()
        };
        node.conn = Some(self.net.connect_with(addr, options));
        node.connecting_since = Some(now);
        node.last_attempt = Some(now);
        Polled::Connecting
    }

    /// The established connection to `broker`, if there is one.
    pub fn connection(&self, broker: BrokerId) -> Option<&Connection<Request, Response>> {
        let conn = self.nodes.get(&broker)?.conn.as_ref()?;
        (conn.state() == ConnectionState::Established).then_some(conn)
    }

    /// Closes connection `conn` to `broker` after one of its requests failed as a whole
    /// (a request timeout closes it, as `NetworkClient.handleTimedOutRequests` does; a
    /// reset found it closed): the broker goes into reconnect backoff. A later
    /// connection to the broker is left alone. The failed request asked for the metadata
    /// update itself.
    pub fn disconnect(&mut self, broker: BrokerId, conn: ConnId) {
        let settings = self.settings;
        let Some(node) = self.nodes.get_mut(&broker) else { return };
        if node.conn.as_ref().is_none_or(|current| current.id() != conn) {
            return;
        }
        node.disconnected(&settings, clock::now());
    }

    /// Whether a connection failed since the last call (then metadata should be
    /// refreshed).
    pub fn take_disconnect(&mut self) -> bool {
        std::mem::take(&mut self.saw_disconnect)
    }
}

impl NodeState {
    fn new(settings: &ConnectionSettings) -> Self {
        NodeState {
            conn: None,
            connecting_since: None,
            last_attempt: None,
            failed_attempts: 0,
            reconnect_backoff: settings.reconnect_backoff.backoff(0),
            failed_connect_attempts: 0,
            setup_timeout: settings.setup_timeout.backoff(0),
        }
    }

    /// `ClusterConnectionStates.ready`: both counts start again.
    fn established(&mut self, settings: &ConnectionSettings) {
        self.connecting_since = None;
        self.failed_attempts = 0;
        self.reconnect_backoff = settings.reconnect_backoff.backoff(0);
        self.failed_connect_attempts = 0;
        self.setup_timeout = settings.setup_timeout.backoff(0);
    }

    /// `ClusterConnectionStates.disconnected`: the connection is closed (if it was not),
    /// the reconnect backoff grows, and so does the setup timeout if the connection was
    /// never established; an established one resets it.
    fn disconnected(&mut self, settings: &ConnectionSettings, now: Instant) {
        if let Some(conn) = self.conn.take() {
            conn.close();
        }
        self.last_attempt = Some(now);
        self.reconnect_backoff = settings.reconnect_backoff.backoff(self.failed_attempts);
        self.failed_attempts += 1;
        if self.connecting_since.take().is_some() {
            self.failed_connect_attempts += 1;
            self.setup_timeout = settings.setup_timeout.backoff(self.failed_connect_attempts);
        } else {
            self.failed_connect_attempts = 0;
            self.setup_timeout = settings.setup_timeout.backoff(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::metadata::test_broker::spawn_empty_broker;
    use crate::sim::net::{HostDown, NetConfig, Network};
    use madsim::runtime::{Handle, Runtime};
    use madsim::time::sleep_until;

    const BROKER: BrokerId = BrokerId(1);

    fn simulate<F: std::future::Future>(test: impl FnOnce(Network<Request, Response>) -> F) -> F::Output {
        Runtime::with_seed_and_config(7, madsim::Config::default()).block_on(async {
            let wire = Handle::current().create_node().name("wire").build();
            let config = NetConfig { latency_ms_min: 1, latency_ms_max: 1, ..NetConfig::default() };
            test(Network::new(config, wire)).await
        })
    }

    /// Asks for the broker as the sender would (at each poll time or connection change)
    /// until `until_ms`, and returns when each connection attempt began and ended, in
    /// milliseconds from the start (an attempt still going has no end).
    async fn attempts(conns: &mut NodeConnections, until_ms: u64) -> Vec<(u64, Option<u64>)> {
        let start = clock::now();
        let until = start + Duration::from_millis(until_ms);
        let addr = Addr::new("broker-1");
        let changes = conns.changes();
        let ms = |at: Instant| (at - start).as_millis() as u64;
        let mut attempts: Vec<(u64, Option<u64>)> = Vec::new();
        let mut connecting_since = None;
        while clock::now() < until {
            let changed = changes.notified();
            let readiness = conns.ready(BROKER, Some(&addr));
            let now_connecting = conns.nodes[&BROKER].connecting_since;
            if connecting_since.is_some() && now_connecting != connecting_since {
                attempts.last_mut().expect("an attempt began").1 = Some(ms(clock::now()));
            }
            if let Some(since) = now_connecting.filter(|since| Some(*since) != connecting_since) {
                attempts.push((ms(since), None));
            }
            connecting_since = now_connecting;
            let poll_at = match readiness {
                Readiness::Ready => until,
                // Connecting: a change (established, or closed at its setup timeout) wakes it.
                Readiness::NotReady { poll_at } => poll_at.map_or(until, |at| at.min(until)),
            };
            tokio::select! {
                biased;
                _ = changed => {}
                _ = sleep_until(poll_at) => {}
            }
        }
        attempts
    }

    #[test]
    fn a_refused_broker_is_tried_again_after_a_backoff_that_doubles_to_its_maximum() {
        simulate(|net| async move {
            net.add_host(&Addr::new("broker-1")); // up, nobody listening
            let mut conns = NodeConnections::new(net.add_host(&Addr::new("client")), ConnectionSettings::default());
            let attempts = attempts(&mut conns, 5_000).await;
            // Each attempt is refused one trip after it began; the next waits 50 ms,
            // then 100, 200, 400, 800 and 1000 ms, each ±20% (the jitter never above 1 s).
            let waits: Vec<u64> = attempts.windows(2).map(|w| w[1].0 - w[0].1.expect("refused")).collect();
            let terms = [50, 100, 200, 400, 800, 1000, 1000];
            assert!(waits.len() >= terms.len(), "{attempts:?}");
            for (wait, term) in waits.iter().zip(terms) {
                assert!((term * 8 / 10..=(term * 12 / 10).min(1000)).contains(wait), "{waits:?}");
            }
            assert!(attempts.iter().all(|(began, ended)| ended.is_some_and(|e| e == began + 1)), "{attempts:?}");
            assert!(conns.take_disconnect(), "a refusal asks for a metadata update");
        });
    }

    #[test]
    fn a_connection_to_a_machine_without_power_gives_up_at_a_setup_timeout_growing_to_its_maximum() {
        simulate(|net| async move {
            net.add_host(&Addr::new("broker-1"));
            net.host_down(&Addr::new("broker-1"), HostDown::Silent);
            let mut conns = NodeConnections::new(net.add_host(&Addr::new("client")), ConnectionSettings::default());
            let attempts = attempts(&mut conns, 70_000).await;
            let lasted: Vec<u64> = attempts.iter().filter_map(|(began, ended)| Some(ended.as_ref()? - began)).collect();
            // socket.connection.setup.timeout.ms: 10 s, then 20 s, then 30 s (the maximum),
            // each ±20% and never above 30 s.
            assert!(lasted.len() >= 3, "{attempts:?}");
            assert!((8_000..=12_000).contains(&lasted[0]), "{lasted:?}");
            assert!((16_000..=24_000).contains(&lasted[1]), "{lasted:?}");
            assert!((24_000..=30_000).contains(&lasted[2]), "{lasted:?}");
        });
    }

    #[test]
    fn before_kafka_2_7_a_connection_attempt_lasts_until_the_kernel_gives_up() {
        simulate(|net| async move {
            net.add_host(&Addr::new("broker-1"));
            net.host_down(&Addr::new("broker-1"), HostDown::Silent);
            let settings = ConnectionSettings {
                setup_timeout: RetryBackoff::new(LINUX_CONNECT_TIMEOUT_MS, None),
                ..ConnectionSettings::default()
            };
            let mut conns = NodeConnections::new(net.add_host(&Addr::new("client")), settings);
            let attempts = attempts(&mut conns, 200_000).await;
            assert_eq!(attempts[0], (0, Some(127_000)), "{attempts:?}");
        });
    }

    #[test]
    fn a_broker_is_ready_once_its_handshake_completes_and_a_reset_starts_the_backoff_again() {
        simulate(|net| async move {
            spawn_empty_broker(&net);
            madsim::time::sleep(Duration::from_millis(1)).await; // it listens
            let addr = Addr::new("broker-1");
            let mut conns = NodeConnections::new(net.add_host(&Addr::new("client")), ConnectionSettings::default());
            let changes = conns.changes();
            let changed = changes.notified();
            assert!(matches!(conns.ready(BROKER, Some(&addr)), Readiness::NotReady { .. }));
            assert!(conns.connection(BROKER).is_none(), "nothing is sent before the handshake");
            changed.await;
            assert_eq!(conns.ready(BROKER, Some(&addr)), Readiness::Ready);
            let conn = conns.connection(BROKER).expect("established").id();
            // A request failed on it: the sender closes it, and the broker waits its
            // reconnect backoff (50 ms ±20%) before a new connection.
            let failed_at = clock::now();
            conns.disconnect(BROKER, conn);
            let Readiness::NotReady { poll_at: Some(at) } = conns.ready(BROKER, Some(&addr)) else {
                panic!("in backoff")
            };
            assert!((40..=60).contains(&(at - failed_at).as_millis()), "{:?}", at - failed_at);
            // A disconnect of a connection that is no longer the current one changes nothing.
            sleep_until(at).await;
            assert!(matches!(conns.ready(BROKER, Some(&addr)), Readiness::NotReady { .. }), "connecting again");
            conns.disconnect(BROKER, conn);
            assert_eq!(net.stats().connections_opened, 2);
            madsim::time::sleep(Duration::from_millis(5)).await;
            assert_eq!(conns.ready(BROKER, Some(&addr)), Readiness::Ready);
        });
    }

    /// Sends a Metadata request on the connection [`NodeConnections::usable`] gives, as
    /// the consumer does; `None` when it gives none.
    fn consumer_request(
        conns: &mut NodeConnections,
        addr: &Addr,
    ) -> Option<crate::sim::net::PendingResponse<Response>> {
        match conns.usable(BROKER, Some(addr)) {
            Usable::Yes(conn) => {
                Some(conn.send(Request::Metadata { topics: Vec::new(), allow_auto_topic_creation: false }))
            }
            Usable::BackingOff | Usable::UnknownBroker => None,
        }
    }

    #[test]
    fn a_consumer_request_waits_for_the_handshake_and_a_failed_broker_is_left_out_until_its_backoff_ends() {
        simulate(|net| async move {
            let addr = Addr::new("broker-1");
            let mut conns = NodeConnections::new(net.add_host(&Addr::new("client")), ConnectionSettings::default());
            assert!(matches!(conns.usable(BrokerId(9), None), Usable::UnknownBroker));
            // Nobody listens yet: the request queued behind the SYN fails with the refusal.
            net.add_host(&addr);
            let refused = consumer_request(&mut conns, &addr).expect("a first connection is tried at once");
            assert_eq!(
                refused.wait(Duration::from_secs(30)).await.err(),
                Some(crate::sim::net::NetError::Disconnected)
            );
            let failed_at = clock::now();
            spawn_empty_broker(&net);
            // In reconnect backoff (50 ms ±20%): nothing is sent to it.
            assert!(consumer_request(&mut conns, &addr).is_none(), "unavailable during its backoff");
            assert!(conns.take_disconnect(), "the failure asks for a metadata update");
            sleep_until(failed_at + Duration::from_millis(60)).await;
            // Then a new connection, and the request sent on it before the handshake is
            // answered after it.
            let answered = consumer_request(&mut conns, &addr).expect("the backoff passed");
            assert!(conns.connection(BROKER).is_none(), "still connecting");
            assert!(matches!(answered.wait(Duration::from_secs(30)).await, Ok(Response::Metadata(_))));
            assert!(conns.connection(BROKER).is_some(), "established");
        });
    }

    #[test]
    fn a_consumer_request_to_a_machine_without_power_fails_at_the_setup_timeout_not_its_own() {
        simulate(|net| async move {
            let addr = Addr::new("broker-1");
            net.add_host(&addr);
            net.host_down(&addr, HostDown::Silent);
            let mut conns = NodeConnections::new(net.add_host(&Addr::new("client")), ConnectionSettings::default());
            let start = clock::now();
            let request = consumer_request(&mut conns, &addr).expect("tried at once");
            assert_eq!(
                request.wait(Duration::from_secs(30)).await.err(),
                Some(crate::sim::net::NetError::Disconnected)
            );
            // socket.connection.setup.timeout.ms: 10 s ±20%, within the request's 30 s.
            assert!((8_000..=12_000).contains(&(clock::now() - start).as_millis()), "{:?}", clock::now() - start);
            assert!(matches!(conns.usable(BROKER, Some(&addr)), Usable::BackingOff));
        });
    }
}

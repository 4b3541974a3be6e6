//! End-to-end tests: a metastore node and clients on a simulated network, driven by a
//! seeded madsim runtime.

use super::server::EXPIRY_TICK_MS;
use super::{run_metastore, MetaClient, MetaClientConfig, MetaClientError, MetastoreConfig};
use crate::protocol::{ErrorCode, MetaError, MetaEvent, MetaOp, MetaRequest, MetaResponse};
use crate::protocol::{Request, Response};
use crate::sim::disk::DiskStore;
use crate::sim::net::{Addr, HostDown, NetConfig, Network, NodeNet};
use madsim::runtime::{Handle, NodeHandle, Runtime};
use std::future::Future;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::time::{sleep, timeout, Instant};

/// A short session timeout keeps the simulated runs brief.
const SESSION_MS: u64 = 300;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn metastore_addr() -> Addr {
    Addr::new("metastore")
}

/// Runs `test` in a fresh runtime with this seed.
fn simulate<Fut: Future>(seed: u64, test: impl FnOnce() -> Fut) -> Fut::Output {
    let rt = Runtime::with_seed_and_config(seed, madsim::Config::default());
    rt.block_on(test())
}

/// A network with a metastore node on it.
struct Cluster {
    net: Network<Request, Response>,
    metastore: NodeHandle,
}

impl Cluster {
    fn start() -> Cluster {
        let handle = Handle::current();
        let wire = handle.create_node().name("wire").build();
        let net = Network::new(NetConfig::default(), wire);
        let disks = DiskStore::new();
        let node_net = net.add_host(&metastore_addr());
        let disk = disks.disk("metastore");
        // A short tick, so that sessions of a few hundred milliseconds are granted as asked.
        let config = MetastoreConfig::from_tick_time(50);
        let metastore = handle
            .create_node()
            .name("metastore")
            .init(move || run_metastore(node_net.clone(), disk.clone(), config))
            .build();
        Cluster { net, metastore }
    }

    /// A new host and the madsim node that plays it.
    fn node(&self, name: &str) -> (NodeHandle, NodeNet<Request, Response>) {
        let net = self.net.add_host(&Addr::new(name));
        (Handle::current().create_node().name(name).build(), net)
    }

    /// A client session from a new host, its tasks on the test's own node.
    async fn client(&self, name: &str, session_timeout_ms: u64) -> MetaClient {
        let net = self.net.add_host(&Addr::new(name));
        MetaClient::connect(net, metastore_addr(), session_timeout_ms).await.unwrap()
    }

    /// A process crash: the node's tasks die and the network resets its connections.
    fn crash(&self, node: &NodeHandle, addr: &Addr) {
        Handle::current().kill(node.id());
        self.net.host_down(addr, HostDown::ProcessCrash);
    }

    fn crash_metastore(&self) {
        self.crash(&self.metastore, &metastore_addr());
    }

    /// Brings the host back first, so that the new process's listener is not cleared.
    fn restart_metastore(&self) {
        self.net.host_up(&metastore_addr());
        Handle::current().restart(self.metastore.id());
    }
}

/// Retries a call while the metastore is unreachable (e.g. restarting).
async fn retry<T, Fut>(mut call: impl FnMut() -> Fut) -> Result<T, MetaClientError>
where
    Fut: Future<Output = Result<T, MetaClientError>>,
{
    for _ in 0..50 {
        match call().await {
            Err(MetaClientError::Unavailable) => sleep(ms(20)).await,
            other => return other,
        }
    }
    Err(MetaClientError::Unavailable)
}

async fn next_event(events: &mut mpsc::UnboundedReceiver<MetaEvent>, within: Duration) -> Option<MetaEvent> {
    timeout(within, events.recv()).await.ok().flatten()
}

#[test]
fn create_get_and_conditional_set_track_versions() {
    simulate(1, || async {
        let cluster = Cluster::start();
        let c = cluster.client("broker-1", SESSION_MS).await;
        assert_eq!(c.create("/a", "x", false).await, Ok(0));
        let node = c.get("/a", false).await.unwrap().unwrap();
        assert_eq!((node.data.as_str(), node.version, node.ephemeral_owner), ("x", 0, None));
        assert_eq!(c.set_data("/a", "y", None).await, Ok(1));
        assert_eq!(c.set_data("/a", "z", Some(1)).await, Ok(2));
        assert_eq!(c.set_data("/a", "stale", Some(1)).await, Err(MetaClientError::Meta(MetaError::BadVersion)));
        assert_eq!(c.get("/a", false).await.unwrap().unwrap().data, "z");
        assert_eq!(c.create("/a", "again", false).await, Err(MetaClientError::Meta(MetaError::NodeExists)));
        assert_eq!(c.create("/p/q/r", "", false).await, Ok(0));
        assert_eq!(c.children("/p", false).await, Ok(vec!["q".to_string()]));
        assert_eq!(c.delete("/p", None).await, Err(MetaClientError::Meta(MetaError::NotEmpty)));
        assert_eq!(c.delete("/a", Some(0)).await, Err(MetaClientError::Meta(MetaError::BadVersion)));
        assert_eq!(c.delete("/a", Some(2)).await, Ok(()));
        assert_eq!(c.get("/a", false).await, Ok(None));
        assert_eq!(c.get("bad", false).await, Err(MetaClientError::Meta(MetaError::BadArguments)));
        assert_eq!(c.children("/nope", false).await, Err(MetaClientError::Meta(MetaError::NoNode)));
    });
}

#[test]
fn multi_with_a_failing_check_applies_nothing() {
    simulate(2, || async {
        let cluster = Cluster::start();
        let c = cluster.client("controller", SESSION_MS).await;
        c.create("/controller_epoch", "1", false).await.unwrap();
        c.create("/state", "leader=1", false).await.unwrap();
        let update = |data: &str| MetaOp::SetData { path: "/state".into(), data: data.into(), expected_version: None };
        let check = MetaOp::Check { path: "/controller_epoch".into(), version: 0 };
        assert_eq!(c.multi(vec![check.clone(), update("leader=2")]).await, Ok(vec![0, 1]));
        // Another controller takes over: the epoch node's version moves on.
        c.set_data("/controller_epoch", "2", Some(0)).await.unwrap();
        let zombie = vec![
            update("leader=3"),
            MetaOp::Create { path: "/new".into(), data: String::new(), ephemeral: false },
            check,
        ];
        assert_eq!(
            c.multi(zombie).await,
            Err(MetaClientError::MultiFailed { error: MetaError::BadVersion, op_index: 2 })
        );
        let state = c.get("/state", false).await.unwrap().unwrap();
        assert_eq!((state.data.as_str(), state.version), ("leader=2", 1));
        assert_eq!(c.get("/new", false).await, Ok(None));
    });
}

#[test]
fn an_ephemeral_node_goes_a_session_timeout_after_its_owner_crashes() {
    simulate(3, || async {
        let cluster = Cluster::start();
        let (broker, broker_net) = cluster.node("broker-1");
        let (registered_tx, registered_rx) = oneshot::channel();
        broker.spawn(async move {
            let client = MetaClient::connect(broker_net, metastore_addr(), SESSION_MS).await.unwrap();
            client.create("/brokers/ids/1", "broker-1", true).await.unwrap();
            let _ = registered_tx.send(client.session_id());
            // Stay registered until the node is killed.
            std::future::pending::<()>().await;
        });
        let observer = cluster.client("controller", 10 * SESSION_MS).await;
        let mut events = observer.take_events().unwrap();
        let owner = registered_rx.await.unwrap();
        // A live owner keeps its node across many timeouts.
        sleep(ms(5 * SESSION_MS)).await;
        let node = observer.get("/brokers/ids/1", true).await.unwrap().unwrap();
        assert_eq!(node.ephemeral_owner, Some(owner));

        let crashed_at = Instant::now();
        cluster.crash(&broker, &Addr::new("broker-1"));
        // The last heartbeat was at most a third of the timeout before the crash.
        sleep(ms(SESSION_MS / 2)).await;
        assert!(observer.get("/brokers/ids/1", false).await.unwrap().is_some(), "deleted too early");
        let event = next_event(&mut events, ms(SESSION_MS + EXPIRY_TICK_MS + 50)).await;
        assert_eq!(event, Some(MetaEvent::Deleted("/brokers/ids/1".into())));
        assert!(crashed_at.elapsed() <= ms(SESSION_MS + EXPIRY_TICK_MS + 20));
        assert_eq!(observer.get("/brokers/ids/1", false).await, Ok(None));
    });
}

#[test]
fn watches_fire_once_per_registration() {
    simulate(4, || async {
        let cluster = Cluster::start();
        let watcher = cluster.client("controller", SESSION_MS).await;
        let writer = cluster.client("broker-1", SESSION_MS).await;
        let mut events = watcher.take_events().unwrap();
        assert!(watcher.take_events().is_none(), "the receiver is handed out once");

        assert_eq!(watcher.get("/w", true).await, Ok(None));
        writer.create("/w", "0", false).await.unwrap();
        assert_eq!(next_event(&mut events, ms(200)).await, Some(MetaEvent::Created("/w".into())));
        writer.set_data("/w", "1", None).await.unwrap();
        assert_eq!(next_event(&mut events, ms(200)).await, None, "the watch was used up");

        watcher.get("/w", true).await.unwrap();
        watcher.children("/w", true).await.unwrap();
        writer.set_data("/w", "2", None).await.unwrap();
        writer.set_data("/w", "3", None).await.unwrap();
        writer.create("/w/child", "", true).await.unwrap();
        writer.create("/w/child2", "", true).await.unwrap();
        assert_eq!(next_event(&mut events, ms(200)).await, Some(MetaEvent::DataChanged("/w".into())));
        assert_eq!(next_event(&mut events, ms(200)).await, Some(MetaEvent::ChildrenChanged("/w".into())));
        assert_eq!(next_event(&mut events, ms(200)).await, None);
    });
}

#[test]
fn poll_events_answers_when_a_watch_fires_or_the_wait_ends() {
    simulate(5, || async {
        let cluster = Cluster::start();
        let net = cluster.net.add_host(&Addr::new("raw"));
        let requests = net.connect(&metastore_addr());
        let polls = net.connect(&metastore_addr());
        let call = |conn: &crate::sim::net::Connection<Request, Response>, r: MetaRequest| {
            conn.send(Request::Meta(r)).wait(ms(5_000))
        };
        let Ok(Response::Meta(MetaResponse::Session { id: session, .. })) =
            call(&requests, MetaRequest::CreateSession { timeout_ms: 5_000 }).await
        else {
            panic!("no session");
        };
        let unsupported = requests.call(Request::Metadata { topics: vec![], allow_auto_topic_creation: false }, ms(1_000)).await;
        assert!(matches!(unsupported, Ok(Response::Error(ErrorCode::UnsupportedRequest))));

        // Nothing fired: the poll waits its full time and answers empty.
        let started = Instant::now();
        let empty = call(&polls, MetaRequest::PollEvents { session, max_wait_ms: 200, acked: 0 }).await;
        assert!(matches!(empty, Ok(Response::Meta(MetaResponse::Events(ref e))) if e.is_empty()));
        assert!(started.elapsed() >= ms(200));

        // A watch fires while the poll waits: it answers at once.
        call(&requests, MetaRequest::Get { session, path: "/x".into(), watch: true }).await.unwrap();
        let started = Instant::now();
        let poll = polls.send(Request::Meta(MetaRequest::PollEvents { session, max_wait_ms: 2_000, acked: 0 }));
        sleep(ms(50)).await;
        let create = MetaOp::Create { path: "/x".into(), data: String::new(), ephemeral: false };
        call(&requests, MetaRequest::Multi { session, ops: vec![create] }).await.unwrap();
        let fired = vec![MetaEvent::Created("/x".into())];
        assert!(matches!(poll.wait(ms(5_000)).await, Ok(Response::Meta(MetaResponse::Events(ref e))) if *e == fired));
        assert!(started.elapsed() < ms(200));

        // Unacknowledged events are sent again; acknowledged ones are not.
        let again = call(&polls, MetaRequest::PollEvents { session, max_wait_ms: 10, acked: 0 }).await;
        assert!(matches!(again, Ok(Response::Meta(MetaResponse::Events(ref e))) if *e == fired));
        let acked = call(&polls, MetaRequest::PollEvents { session, max_wait_ms: 10, acked: 1 }).await;
        assert!(matches!(acked, Ok(Response::Meta(MetaResponse::Events(ref e))) if e.is_empty()));

        let closed = call(&requests, MetaRequest::CloseSession { session }).await;
        assert!(matches!(closed, Ok(Response::Meta(MetaResponse::Done(_)))));
        let expired = call(&polls, MetaRequest::PollEvents { session, max_wait_ms: 10, acked: 1 }).await;
        let want = MetaResponse::Failed { error: MetaError::SessionExpired, op_index: 0 };
        assert!(matches!(expired, Ok(Response::Meta(ref r)) if *r == want));
    });
}

#[test]
fn a_restarted_metastore_keeps_nodes_sessions_and_watches() {
    simulate(6, || async {
        let cluster = Cluster::start();
        let survivor = cluster.client("controller", 2_000).await;
        let mut events = survivor.take_events().unwrap();
        survivor.create("/config/topics/orders", "{}", false).await.unwrap();
        survivor.create("/controller", "1", true).await.unwrap();
        survivor.get("/config/topics/orders", true).await.unwrap();
        let (doomed, doomed_net) = cluster.node("broker-2");
        let (registered_tx, registered_rx) = oneshot::channel();
        doomed.spawn(async move {
            let client = MetaClient::connect(doomed_net, metastore_addr(), SESSION_MS).await.unwrap();
            client.create("/brokers/ids/2", "", true).await.unwrap();
            let _ = registered_tx.send(());
            std::future::pending::<()>().await;
        });
        registered_rx.await.unwrap();

        cluster.crash_metastore();
        // The broker dies while the metastore is down; its session is restored anyway.
        cluster.crash(&doomed, &Addr::new("broker-2"));
        assert_eq!(survivor.get("/controller", false).await, Err(MetaClientError::Unavailable));
        sleep(ms(500)).await;
        cluster.restart_metastore();

        let node = retry(|| survivor.get("/config/topics/orders", false)).await.unwrap().unwrap();
        assert_eq!(node.data, "{}");
        let controller = survivor.get("/controller", false).await.unwrap().unwrap();
        assert_eq!(controller.ephemeral_owner, Some(survivor.session_id()));
        assert!(survivor.get("/brokers/ids/2", false).await.unwrap().is_some());

        // The watch left before the crash still fires.
        let writer = cluster.client("broker-1", SESSION_MS).await;
        assert!(writer.session_id() > survivor.session_id(), "session ids are never reused");
        writer.set_data("/config/topics/orders", "{\"partitions\":3}", None).await.unwrap();
        let event = next_event(&mut events, ms(1_000)).await;
        assert_eq!(event, Some(MetaEvent::DataChanged("/config/topics/orders".into())));

        // The dead broker's restored session still expires.
        sleep(ms(SESSION_MS + 2 * EXPIRY_TICK_MS)).await;
        assert_eq!(survivor.get("/brokers/ids/2", false).await, Ok(None));
        assert!(!survivor.is_expired());
    });
}

#[test]
fn an_expired_client_says_so_and_a_new_session_can_register_again() {
    simulate(7, || async {
        let cluster = Cluster::start();
        let config = MetaClientConfig { session_timeout_ms: SESSION_MS, request_timeout_ms: 100 };
        let broker_net = cluster.net.add_host(&Addr::new("broker-1"));
        let client = MetaClient::connect_with(broker_net.clone(), metastore_addr(), config).await.unwrap();
        let mut events = client.take_events().unwrap();
        let mut expired = client.expired();
        client.create("/brokers/ids/1", "", true).await.unwrap();

        // A partition longer than the session timeout.
        let (broker, metastore) = (Addr::new("broker-1"), metastore_addr());
        cluster.net.block(&broker, &metastore);
        cluster.net.block(&metastore, &broker);
        assert_eq!(client.get("/brokers/ids/1", false).await, Err(MetaClientError::Unavailable));
        sleep(ms(2 * SESSION_MS)).await;
        assert!(!client.is_expired(), "the client cannot know before it hears from the server");
        cluster.net.heal_all();

        timeout(ms(SESSION_MS), expired.wait_for(|e| *e)).await.unwrap().unwrap();
        assert_eq!(client.get("/", false).await, Err(MetaClientError::Meta(MetaError::SessionExpired)));
        assert_eq!(next_event(&mut events, ms(SESSION_MS)).await, None, "the event channel closed");
        assert!(events.is_closed());

        let fresh = MetaClient::connect_with(broker_net, metastore_addr(), config).await.unwrap();
        assert_eq!(fresh.create("/brokers/ids/1", "", true).await, Ok(0));
    });
}

#[test]
fn dropping_a_client_stops_its_tasks_and_close_ends_the_session_at_once() {
    simulate(8, || async {
        let cluster = Cluster::start();
        let observer = cluster.client("controller", 10 * SESSION_MS).await;
        let (node, net) = cluster.node("broker-1");
        let (done_tx, done_rx) = oneshot::channel();
        node.spawn(async move {
            let client = MetaClient::connect(net.clone(), metastore_addr(), SESSION_MS).await.unwrap();
            client.create("/dropped", "", true).await.unwrap();
            drop(client);
            let closer = MetaClient::connect(net, metastore_addr(), SESSION_MS).await.unwrap();
            closer.create("/closed", "", true).await.unwrap();
            let _ = done_tx.send(closer.close().await);
        });
        assert_eq!(done_rx.await.unwrap(), Ok(()));
        assert_eq!(observer.get("/closed", false).await, Ok(None));
        sleep(ms(SESSION_MS + 2 * EXPIRY_TICK_MS)).await;
        // No heartbeat kept the dropped session alive, and no task is left on the node.
        assert_eq!(observer.get("/dropped", false).await, Ok(None));
        let tasks = Handle::current().metrics().num_tasks_by_node();
        assert_eq!(tasks.get("broker-1").copied().unwrap_or(0), 0, "{tasks:?}");
    });
}

/// A run whose timing depends on the seed (random latencies), recorded as text.
async fn transcript_run() -> Vec<String> {
    let cluster = Cluster::start();
    let start = Instant::now();
    let a = cluster.client("broker-1", SESSION_MS).await;
    let b = cluster.client("broker-2", SESSION_MS).await;
    let mut events = b.take_events().unwrap();
    let mut lines = Vec::new();
    for i in 0..5u64 {
        b.get("/counter", true).await.unwrap();
        let result = match a.set_data("/counter", &i.to_string(), Some(i.saturating_sub(1))).await {
            Err(MetaClientError::Meta(MetaError::NoNode)) => a.create("/counter", "0", false).await,
            other => other,
        };
        let event = next_event(&mut events, ms(500)).await;
        lines.push(format!("{:?} {result:?} {event:?}", start.elapsed()));
    }
    lines
}

#[test]
fn the_same_seed_gives_the_same_run() {
    let first = simulate(42, transcript_run);
    let second = simulate(42, transcript_run);
    assert_eq!(first, second);
    assert_eq!(first.len(), 5);
    let other_seed = simulate(43, transcript_run);
    assert_ne!(first, other_seed, "latencies come from the seed");
}

#[test]
fn a_client_can_be_shared_between_tasks() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<MetaClient>();
}

#[test]
fn the_server_clamps_the_session_timeout_into_its_limits_and_the_granted_one_expires() {
    simulate(11, || async {
        // tickTime 50 ms: sessions of 100 ms to 1000 ms.
        let cluster = Cluster::start();
        let short = cluster.client("short", 30).await;
        let long = cluster.client("long", 5_000).await;
        let within = cluster.client("within", 400).await;
        assert_eq!(short.config().session_timeout_ms, 100, "raised to minSessionTimeout");
        assert_eq!(long.config().session_timeout_ms, 1_000, "lowered to maxSessionTimeout");
        assert_eq!(within.config().session_timeout_ms, 400);

        // A crashed client asking for 30 ms keeps its node for the granted 100 ms.
        let (doomed, doomed_net) = cluster.node("doomed");
        let (registered_tx, registered_rx) = oneshot::channel();
        doomed.spawn(async move {
            let client = MetaClient::connect(doomed_net, metastore_addr(), 30).await.unwrap();
            client.create("/brokers/ids/9", "broker-9", true).await.unwrap();
            let _ = registered_tx.send(());
            std::future::pending::<()>().await;
        });
        registered_rx.await.unwrap();
        cluster.crash(&doomed, &Addr::new("doomed"));
        sleep(ms(60)).await;
        assert!(within.get("/brokers/ids/9", false).await.unwrap().is_some(), "expired on the asked-for 30 ms");
        sleep(ms(100 + 2 * EXPIRY_TICK_MS)).await;
        assert_eq!(within.get("/brokers/ids/9", false).await, Ok(None));
        assert_eq!(MetastoreConfig::default().negotiate(1_000), 4_000, "ZooKeeper's defaults: 2 × 2000 ms");
        assert_eq!(MetastoreConfig::default().negotiate(60_000), 40_000, "and 20 × 2000 ms");
    });
}

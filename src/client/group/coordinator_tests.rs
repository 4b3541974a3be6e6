//! The coordinator link against fake brokers on the simulated network: how long a
//! FindCoordinator may wait, and what the links of one client share.

use super::*;
use crate::protocol::{BrokerEndpoint, BrokerId};
use crate::sim::net::{NetConfig, Network, ServerConn};
use madsim::runtime::{Handle, Runtime};
use madsim::time::Instant;
use std::sync::atomic::{AtomicBool, Ordering};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// How a fake broker answers.
#[derive(Clone)]
enum Fake {
    /// Takes requests and never answers (a paused broker, or one without power).
    Silent,
    /// Answers FindCoordinator with `coordinator` (read at each request), and every
    /// other group request with NOT_COORDINATOR while `refusing` is set, else with no
    /// error.
    Broker { coordinator: Arc<Mutex<String>>, refusing: Arc<AtomicBool> },
}

async fn serve(mut conn: ServerConn<Request, Response>, fake: Fake) {
    let mut unanswered = Vec::new();
    while let Some(incoming) = conn.recv().await {
        let (request, responder) = incoming.into_parts();
        let Fake::Broker { coordinator, refusing } = &fake else {
            unanswered.push(responder);
            continue;
        };
        let response = match request {
            Request::Group(GroupRequest::FindCoordinator { .. }) => {
                let host = coordinator.lock().expect("fake poisoned").clone();
                GroupResponse::Coordinator { error: None, coordinator: Some(BrokerEndpoint { id: BrokerId(1), host }) }
            }
            _ if refusing.load(Ordering::SeqCst) => GroupResponse::Ack { error: Some(ErrorCode::NotCoordinator) },
            _ => GroupResponse::Ack { error: None },
        };
        responder.reply(Response::Group(response));
    }
}

/// Starts the fake brokers and returns the network a client joins.
fn brokers(fakes: Vec<(&'static str, Fake)>) -> Network<Request, Response> {
    let handle = Handle::current();
    let net: Network<Request, Response> = Network::new(NetConfig::default(), handle.create_node().name("wire").build());
    for (name, fake) in fakes {
        let host = net.add_host(&Addr::new(name));
        handle
            .create_node()
            .name(name)
            .init(move || {
                let (host, fake) = (host.clone(), fake.clone());
                async move {
                    let mut listener = host.listen();
                    while let Some(conn) = listener.accept().await {
                        crate::sim::tasks::spawn(serve(conn, fake.clone()));
                    }
                }
            })
            .build();
    }
    net
}

fn heartbeat() -> GroupRequest {
    GroupRequest::Heartbeat { group: "g".into(), generation: 1, member_id: "m".into(), group_instance_id: None }
}

fn broker(coordinator: &str, refusing: bool) -> (Fake, Arc<Mutex<String>>, Arc<AtomicBool>) {
    let (coordinator, refusing) = (Arc::new(Mutex::new(coordinator.to_string())), Arc::new(AtomicBool::new(refusing)));
    (Fake::Broker { coordinator: coordinator.clone(), refusing: refusing.clone() }, coordinator, refusing)
}

/// A JoinGroup waits max.poll.interval.ms + 5 s, but the FindCoordinator it needs first
/// waits request.timeout.ms, as Kafka sends it: a lookup asked of a silent broker gives
/// up after 30 s, and the next one asks another broker.
#[test]
fn a_lookup_asked_of_a_silent_broker_gives_up_after_the_request_timeout() {
    Runtime::with_seed_and_config(1, madsim::Config::default()).block_on(async {
        let (live, _, _) = broker("broker-2", false);
        let net = brokers(vec![("broker-1", Fake::Silent), ("broker-2", live)]);
        let bootstrap = vec![Addr::new("broker-1"), Addr::new("broker-2")];
        let mut link =
            CoordinatorLink::new(net.add_host(&Addr::new("consumer-1")), bootstrap, "g").finding_within(ms(30_000));
        let start = Instant::now();
        assert_eq!(link.call(heartbeat(), ms(305_000)).await, Err(LinkError::CoordinatorUnknown));
        let waited = start.elapsed();
        assert!(waited >= ms(30_000) && waited < ms(31_000), "{waited:?}");
        assert_eq!(link.call(heartbeat(), ms(305_000)).await, Ok(GroupResponse::Ack { error: None }));
    });
}

/// One member's links share what they know of the coordinator (Kafka's one
/// `AbstractCoordinator.coordinator`): after the heartbeat's link is told
/// NOT_COORDINATOR, the JoinGroup link, still connected to the old coordinator, looks
/// the new one up instead of asking the old one.
#[test]
fn a_coordinator_one_link_forgot_is_looked_up_again_by_the_members_other_links() {
    Runtime::with_seed_and_config(1, madsim::Config::default()).block_on(async {
        let (bootstrap_broker, coordinator, _) = broker("broker-2", false);
        let (old, _, old_refusing) = broker("broker-2", false);
        let (new, _, _) = broker("broker-3", false);
        let net = brokers(vec![("broker-1", bootstrap_broker), ("broker-2", old), ("broker-3", new)]);
        let client = net.add_host(&Addr::new("consumer-1"));
        let known = KnownCoordinator::default();
        let link = || CoordinatorLink::new(client.clone(), vec![Addr::new("broker-1")], "g").sharing(&known);
        let (mut heartbeats, mut joins) = (link(), link());
        assert_eq!(joins.call(heartbeat(), ms(30_000)).await, Ok(GroupResponse::Ack { error: None }));
        // The coordinator moves to broker-3; broker-2 now refuses.
        *coordinator.lock().unwrap() = "broker-3".into();
        old_refusing.store(true, Ordering::SeqCst);
        let refused = Ok(GroupResponse::Ack { error: Some(ErrorCode::NotCoordinator) });
        assert_eq!(heartbeats.call(heartbeat(), ms(30_000)).await, refused);
        // An unshared link would still ask broker-2.
        assert_eq!(joins.call(heartbeat(), ms(30_000)).await, Ok(GroupResponse::Ack { error: None }));
        assert_eq!(joins.coordinator.as_ref().map(|c| c.peer().clone()), Some(Addr::new("broker-3")));
        // And the heartbeat's link uses the coordinator the other found.
        assert_eq!(heartbeats.call(heartbeat(), ms(30_000)).await, Ok(GroupResponse::Ack { error: None }));
    });
}

//! The commit retry loop against a fake coordinator on the simulated network: it answers
//! OffsetCommit NOT_COORDINATOR until a given time (a coordinator failover), then
//! accepts.

use super::*;
use crate::protocol::{BrokerEndpoint, BrokerId, Request, Response};
use crate::sim::net::{Addr, NetConfig, Network, NodeNet};
use madsim::runtime::{Handle, Runtime};
use madsim::time::Instant;

const BROKER: &str = "broker-1";

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Serves one connection of the fake coordinator.
async fn serve(mut conn: crate::sim::net::ServerConn<Request, Response>, refuse_until: Instant) {
    while let Some(incoming) = conn.recv().await {
        let (request, responder) = incoming.into_parts();
        let response = match request {
            Request::Group(GroupRequest::FindCoordinator { .. }) => GroupResponse::Coordinator {
                error: None,
                coordinator: Some(BrokerEndpoint { id: BrokerId(1), host: BROKER.into() }),
            },
            Request::Group(GroupRequest::OffsetCommit { .. }) if Instant::now() < refuse_until => {
                GroupResponse::Ack { error: Some(ErrorCode::NotCoordinator) }
            }
            _ => GroupResponse::Ack { error: None },
        };
        responder.reply(Response::Group(response));
    }
}

/// A fake coordinator that refuses commits for `refuse_for`, and the link of a member.
fn setup(refuse_for: Duration) -> CoordinatorLink {
    let handle = Handle::current();
    let net: Network<Request, Response> = Network::new(NetConfig::default(), handle.create_node().name("wire").build());
    let broker: NodeNet<Request, Response> = net.add_host(&Addr::new(BROKER));
    let refuse_until = Instant::now() + refuse_for;
    handle
        .create_node()
        .name(BROKER)
        .init(move || {
            let broker = broker.clone();
            async move {
                let mut listener = broker.listen();
                while let Some(conn) = listener.accept().await {
                    crate::sim::tasks::spawn(serve(conn, refuse_until));
                }
            }
        })
        .build();
    CoordinatorLink::new(net.add_host(&Addr::new("consumer-1")), vec![Addr::new(BROKER)], "g")
}

/// Commits one offset within `budget` and returns the outcome and how long it took.
fn commit(refuse_for: Duration, budget: CommitBudget) -> (CommitOutcome, Duration) {
    Runtime::with_seed_and_config(1, madsim::Config::default()).block_on(async move {
        let mut link = setup(refuse_for);
        let membership = SharedMembership::new(None);
        let generation = Generation { member_id: "consumer-1-a".into(), generation: 3 };
        let offsets = [(TopicPartition::new("orders", 0), 42)];
        let start = Instant::now();
        let outcome = commit_with_retries(
            &mut link,
            &membership,
            Committer::Member(&generation),
            &offsets,
            budget,
            ms(30_000),
            RetryBackoff::Fixed { ms: 100 },
        )
        .await;
        (outcome, start.elapsed())
    })
}

#[test]
fn commit_sync_retries_through_a_coordinator_failover() {
    let (outcome, took) = commit(ms(10_000), CommitBudget::Retry(ms(60_000)));
    assert_eq!(outcome, CommitOutcome::Committed);
    assert!(took >= ms(10_000) && took < ms(11_000), "{took:?}");
}

#[test]
fn commit_sync_gives_up_when_default_api_timeout_runs_out() {
    let (outcome, took) = commit(ms(120_000), CommitBudget::Retry(ms(60_000)));
    assert_eq!(outcome, CommitOutcome::Refused(ErrorCode::NotCoordinator));
    assert!(took >= ms(59_800) && took <= ms(60_100), "{took:?}");
}

#[test]
fn one_attempt_does_not_retry() {
    let (outcome, took) = commit(ms(10_000), CommitBudget::OneAttempt);
    assert_eq!(outcome, CommitOutcome::Refused(ErrorCode::NotCoordinator));
    assert!(took < ms(100), "{took:?}");
}

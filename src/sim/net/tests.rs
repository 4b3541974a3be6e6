//! Tests of the simulated network: each guarantee documented at the top of `net/mod.rs`, and
//! each fault primitive, shown on a tiny echo service (`u64` requests, `u64` responses)
//! inside a seeded madsim runtime. Every time measured here is simulated time.

use super::{Addr, ConnectOptions, ConnectionState, HostDown, NetConfig, NetError, Network, NodeNet};
use madsim::runtime::{Handle, NodeHandle, Runtime};
use madsim::time::{sleep, Instant};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

type Net = Network<u64, u64>;

/// Requests with a value at or above this are held by the server and never answered.
const HOLD: u64 = 1_000_000;

/// A request with this value makes the server close the connection instead of answering.
const CLOSE: u64 = 999_999;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn server_addr() -> Addr {
    Addr::new("server")
}

fn client_addr() -> Addr {
    Addr::new("client")
}

/// Runs `test` in a fresh runtime with this seed.
fn simulate<Fut: Future>(seed: u64, test: impl FnOnce() -> Fut) -> Fut::Output {
    let runtime = Runtime::with_seed_and_config(seed, madsim::Config::default());
    runtime.block_on(test())
}

/// A network whose delivery tasks run on their own never-killed node.
fn network(config: NetConfig) -> Net {
    let wire = Handle::current().create_node().name("wire").build();
    Network::new(config, wire)
}

/// A network with the given one-way latency bounds and no loss.
fn network_with_latency(min_ms: u64, max_ms: u64) -> Net {
    network(NetConfig { latency_ms_min: min_ms, latency_ms_max: max_ms, ..NetConfig::default() })
}

/// What the echo server saw, in the order it saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Seen {
    /// A request on the server's n-th accepted connection (counted over the whole test,
    /// across restarts), when it arrived.
    Request { conn: u64, value: u64, at: Instant },
    /// The n-th connection ended (the client closed it, or it was reset).
    Closed { conn: u64 },
}

#[derive(Default)]
struct LogState {
    seen: Vec<Seen>,
    accepted: u64,
}

#[derive(Clone, Default)]
struct ServerLog(Arc<Mutex<LogState>>);

impl ServerLog {
    fn push(&self, seen: Seen) {
        self.0.lock().unwrap().seen.push(seen);
    }

    /// Numbers a newly accepted connection.
    fn accepted(&self) -> u64 {
        let mut state = self.0.lock().unwrap();
        state.accepted += 1;
        state.accepted - 1
    }

    /// The values of every request, in arrival order.
    fn values(&self) -> Vec<u64> {
        self.0
            .lock()
            .unwrap()
            .seen
            .iter()
            .filter_map(|s| match s {
                Seen::Request { value, .. } => Some(*value),
                Seen::Closed { .. } => None,
            })
            .collect()
    }

    /// When each request arrived, in arrival order.
    fn arrivals(&self) -> Vec<(u64, Instant)> {
        self.0
            .lock()
            .unwrap()
            .seen
            .iter()
            .filter_map(|s| match s {
                Seen::Request { value, at, .. } => Some((*value, *at)),
                Seen::Closed { .. } => None,
            })
            .collect()
    }

    fn entries(&self) -> Vec<Seen> {
        self.0.lock().unwrap().seen.clone()
    }
}

/// The echo server's process: answers every request with its own value, except those at
/// or above [`HOLD`], which it keeps unanswered until the connection ends, and [`CLOSE`],
/// for which it closes the connection.
async fn serve(net: NodeNet<u64, u64>, log: ServerLog) {
    let mut listener = net.listen();
    while let Some(mut conn) = listener.accept().await {
        let log = log.clone();
        let id = log.accepted();
        crate::sim::tasks::spawn(async move {
            let mut held = Vec::new();
            while let Some(incoming) = conn.recv().await {
                let (value, responder) = incoming.into_parts();
                log.push(Seen::Request { conn: id, value, at: Instant::now() });
                if value >= HOLD {
                    held.push(responder);
                } else if value == CLOSE {
                    responder.close_connection();
                    break;
                } else {
                    responder.reply(value);
                }
            }
            log.push(Seen::Closed { conn: id });
        });
    }
}

/// The echo server on its own node; a restart of the node runs `serve` again (a new
/// process listening anew), as `sim::nodes` does.
struct Server {
    node: NodeHandle,
    log: ServerLog,
}

impl Server {
    fn start(net: &Net) -> Server {
        let node_net = net.add_host(&server_addr());
        let log = ServerLog::default();
        let process_log = log.clone();
        let node = Handle::current()
            .create_node()
            .name("server")
            .init(move || serve(node_net.clone(), process_log.clone()))
            .build();
        Server { node, log }
    }

    /// Kills the process and takes the host down the given way.
    fn crash(&self, net: &Net, how: HostDown) {
        Handle::current().kill(self.node.id());
        net.host_down(&server_addr(), how);
    }

    /// Brings the host back, then starts the process again (which listens anew).
    fn restart(&self, net: &Net) {
        net.host_up(&server_addr());
        Handle::current().restart(self.node.id());
    }
}

/// Sends `values` back to back on one connection, then waits for every response in
/// order; returns the responses and when each was seen (relative to the first send).
async fn pipeline(conn: &super::Connection<u64, u64>, values: &[u64], timeout: Duration) -> Vec<Result<u64, NetError>> {
    let pending: Vec<_> = values.iter().map(|v| conn.send(*v)).collect();
    let mut results = Vec::new();
    for p in pending {
        results.push(p.wait(timeout).await);
    }
    results
}

/// Asserts a simulated duration up to the scheduler's sub-millisecond steps.
#[track_caller]
fn assert_about(actual: Duration, expected: Duration) {
    let slack = ms(1);
    assert!(actual + slack >= expected && actual <= expected + slack, "expected about {expected:?}, got {actual:?}");
}

fn is_sorted(values: &[u64]) -> bool {
    values.windows(2).all(|w| w[0] <= w[1])
}

#[test]
fn one_connection_is_fifo_both_ways_despite_random_latency() {
    for seed in 0..5 {
        simulate(seed, || async {
            // Latency spread far wider than the gap between sends: datagrams would reorder.
            let net = network_with_latency(1, 50);
            let server = Server::start(&net);
            let client = net.add_host(&client_addr());
            let conn = client.connect(&server_addr());
            let values: Vec<u64> = (0..300).collect();
            let results = pipeline(&conn, &values, Duration::from_secs(5)).await;
            let expected: Vec<Result<u64, NetError>> = values.iter().map(|v| Ok(*v)).collect();
            assert_eq!(results, expected, "seed {seed}: every response matches its request");
            assert_eq!(server.log.values(), values, "seed {seed}: the server reads requests in send order");
            assert_eq!(net.stats().connections_opened, 1);
            assert_eq!(net.stats().messages_delivered, 602, "600 and the handshake's SYN and SYN-ACK");
        });
    }
}

#[test]
fn responses_complete_in_request_order_on_the_client_side() {
    responses_complete_in_request_order(false);
}

#[test]
fn responses_complete_in_request_order_even_on_a_reordering_link() {
    // The link may reorder the responses' messages; the client still takes them in
    // request order, as TCP and Kafka's NetworkClient do.
    responses_complete_in_request_order(true);
}

fn responses_complete_in_request_order(reordering_responses: bool) {
    simulate(7, move || async move {
        let net = network_with_latency(1, 50);
        let _server = Server::start(&net);
        net.set_reordering(&server_addr(), &client_addr(), reordering_responses);
        let conn = net.add_host(&client_addr()).connect(&server_addr());
        // Kept whole: a dropped `PendingResponse` gives its request up.
        let mut pending: Vec<_> = (0..200u64).map(|v| conn.send(v)).collect();
        let mut results: Vec<Option<Result<u64, NetError>>> = vec![None; pending.len()];
        let mut steps = 0;
        // Look every millisecond at which responses are in: always a prefix of the requests.
        while results.iter().any(Option::is_none) {
            sleep(ms(1)).await;
            steps += 1;
            assert!(steps < 1000, "responses still missing after 1 s");
            for (result, p) in results.iter_mut().zip(&mut pending) {
                if result.is_none() {
                    *result = p.rx.as_mut().expect("the connection is open").try_recv().ok();
                }
            }
            let ready = results.iter().filter(|r| r.is_some()).count();
            assert!(results[..ready].iter().all(Option::is_some), "a response overtook an earlier one: {results:?}");
        }
        assert!(steps > 2, "the responses took some time to come");
        let expected: Vec<_> = (0..200u64).map(|v| Some(Ok(v))).collect();
        assert_eq!(results, expected);
    });
}

#[test]
fn an_answer_held_behind_an_unanswered_request_goes_when_that_request_times_out() {
    simulate(3, || async {
        let net = network_with_latency(1, 1);
        let _server = Server::start(&net);
        let conn = net.add_host(&client_addr()).connect(&server_addr());
        let start = Instant::now();
        let never_answered = madsim::task::spawn(conn.send(HOLD).wait(ms(100)));
        // Its answer comes after a round trip but waits behind the older request, which
        // the server never answers, until that one's timeout.
        assert_eq!(conn.send(7).wait(ms(5_000)).await, Ok(7));
        assert_about(start.elapsed(), ms(100));
        assert_eq!(never_answered.await.expect("the task ran"), Err(NetError::Timeout));
    });
}

#[test]
fn a_server_that_closes_the_connection_fails_the_clients_pending_requests() {
    simulate(4, || async {
        let net = network_with_latency(1, 1);
        let server = Server::start(&net);
        let conn = net.add_host(&client_addr()).connect(&server_addr());
        let start = Instant::now();
        let held = conn.send(HOLD);
        let closing = conn.send(CLOSE);
        let after = conn.send(8);
        assert_eq!(closing.wait(ms(5_000)).await, Err(NetError::Disconnected));
        assert_about(start.elapsed(), ms(1));
        assert_eq!(held.wait(ms(5_000)).await, Err(NetError::Disconnected), "the older request fails too");
        assert_eq!(after.wait(ms(5_000)).await, Err(NetError::Disconnected), "the newer one is dropped");
        assert!(conn.is_closed(), "the client finds the connection closed");
        assert_eq!(server.log.values(), vec![HOLD, CLOSE], "nothing after the closing request was read");
    });
}

#[test]
fn packet_loss_shows_up_as_delay_never_as_gaps_or_reordering() {
    for seed in 0..5 {
        simulate(seed, || async {
            let net = network(NetConfig { latency_ms_min: 1, latency_ms_max: 20, packet_loss_rate: 0.3, rto_ms: 200 });
            let server = Server::start(&net);
            let client = net.add_host(&client_addr());
            let conn = client.connect(&server_addr());
            let values: Vec<u64> = (0..200).collect();
            let start = Instant::now();
            let results = pipeline(&conn, &values, Duration::from_secs(60)).await;
            let elapsed = start.elapsed();
            let expected: Vec<Result<u64, NetError>> = values.iter().map(|v| Ok(*v)).collect();
            assert_eq!(results, expected, "seed {seed}: nothing lost, nothing out of order");
            assert_eq!(server.log.values(), values, "seed {seed}: the server saw no gap and no reordering");
            // Without loss the whole pipeline completes within one round trip (2 x 20 ms);
            // with 30% loss some packet needed at least one 200 ms retransmission.
            assert!(elapsed >= ms(200), "seed {seed}: loss did not delay anything ({elapsed:?})");
        });
    }
}

#[test]
fn without_loss_a_pipeline_completes_within_one_round_trip() {
    // The control for the test above: the same pipeline without loss is fast.
    simulate(3, || async {
        let net = network_with_latency(1, 20);
        let _server = Server::start(&net);
        let conn = net.add_host(&client_addr()).connect(&server_addr());
        let values: Vec<u64> = (0..200).collect();
        let start = Instant::now();
        let results = pipeline(&conn, &values, Duration::from_secs(60)).await;
        assert!(results.iter().all(Result::is_ok));
        assert!(start.elapsed() <= ms(45), "took {:?}", start.elapsed());
    });
}

#[test]
fn a_blocked_link_holds_requests_until_it_heals() {
    simulate(11, || async {
        let net = network_with_latency(1, 5);
        let server = Server::start(&net);
        let conn = net.add_host(&client_addr()).connect(&server_addr());
        // The connection works before the partition.
        assert_eq!(conn.call(1, ms(100)).await, Ok(1));

        net.block(&client_addr(), &server_addr());
        assert!(net.is_blocked(&client_addr(), &server_addr()));
        assert!(!net.is_blocked(&server_addr(), &client_addr()), "the block is one-way");
        // A caller that gives up before the heal times out (it is not told "disconnected").
        let blocked_at = Instant::now();
        assert_eq!(conn.call(2, ms(300)).await, Err(NetError::Timeout));
        assert_about(blocked_at.elapsed(), ms(300));
        assert_eq!(server.log.values(), vec![1], "nothing crossed the blocked link");

        // A caller that waits long enough gets its answer once the link heals at +1 s.
        let healer = {
            let net = net.clone();
            async move {
                sleep(ms(1000)).await;
                net.unblock(&client_addr(), &server_addr());
            }
        };
        let (result, ()) = tokio::join!(conn.call(3, Duration::from_secs(5)), healer);
        assert_eq!(result, Ok(3));
        let healed_after = blocked_at.elapsed();
        assert!(healed_after >= ms(1300), "answered before the heal: {healed_after:?}");
        assert!(healed_after <= ms(1300 + 2 * 5 + 2), "too slow after the heal: {healed_after:?}");
        // The request that timed out was held, not dropped: it reached the server too,
        // before the later one (FIFO across the partition).
        assert_eq!(server.log.values(), vec![1, 2, 3]);
        let arrivals = server.log.arrivals();
        assert!(arrivals[1].1 >= blocked_at + ms(1300), "request 2 crossed the partition early");
    });
}

#[test]
fn a_stuck_flow_holds_only_its_channels_connections_both_ways_until_freed() {
    simulate(12, || async {
        let net = network_with_latency(1, 5);
        let server = Server::start(&net);
        let client = net.add_host(&client_addr());
        let stuck = client.connect_on(&server_addr(), "alter-partition");
        let other = client.connect_on(&server_addr(), "heartbeat");
        let plain = client.connect(&server_addr());
        net.set_stuck(&client_addr(), "alter-partition", true);
        let stuck_at = Instant::now();
        // The client's other connections to the same server work meanwhile.
        assert_eq!(other.call(1, ms(100)).await, Ok(1));
        assert_eq!(plain.call(2, ms(100)).await, Ok(2));
        assert_eq!(stuck.call(3, ms(300)).await, Err(NetError::Timeout));
        assert_eq!(server.log.values(), vec![1, 2], "nothing crossed the stuck flow");
        // Freed at +1 s: the held request arrives (TCP retransmits it) and a new call on
        // the same connection is answered.
        let freer = {
            let net = net.clone();
            async move {
                sleep(ms(1000)).await;
                net.set_stuck(&client_addr(), "alter-partition", false);
            }
        };
        let (result, ()) = tokio::join!(stuck.call(4, Duration::from_secs(5)), freer);
        assert_eq!(result, Ok(4));
        assert!(stuck_at.elapsed() >= ms(1000), "answered before the flow was freed");
        assert_eq!(server.log.values(), vec![1, 2, 3, 4], "the held request was delivered, in order");
    });
}

#[test]
fn a_blocked_reverse_link_holds_the_responses() {
    simulate(12, || async {
        let net = network_with_latency(1, 5);
        let server = Server::start(&net);
        let conn = net.add_host(&client_addr()).connect(&server_addr());
        net.block(&server_addr(), &client_addr());
        let start = Instant::now();
        let pending: Vec<_> = (0..10).map(|v| conn.send(v)).collect();
        sleep(ms(500)).await;
        // The requests went through; the answers are held.
        assert_eq!(server.log.values(), (0..10).collect::<Vec<u64>>());
        assert!(server.log.arrivals().iter().all(|(_, at)| *at <= start + ms(10)));
        net.unblock(&server_addr(), &client_addr());
        for (v, p) in pending.into_iter().enumerate() {
            assert_eq!(p.wait(ms(100)).await, Ok(v as u64));
        }
        assert!(start.elapsed() >= ms(500));
        assert!(start.elapsed() <= ms(520));
    });
}

#[test]
fn a_process_crash_fails_pending_requests_at_once_and_refuses_new_connections() {
    simulate(21, || async {
        let net = network_with_latency(1, 10);
        let server = Server::start(&net);
        let conn = net.add_host(&client_addr()).connect(&server_addr());
        assert_eq!(conn.call(5, ms(100)).await, Ok(5));

        // A request the server holds; the server crashes 100 ms later.
        let start = Instant::now();
        let crasher = async {
            sleep(ms(100)).await;
            server.crash(&net, HostDown::ProcessCrash);
        };
        let (result, ()) = tokio::join!(conn.call(HOLD, Duration::from_secs(10)), crasher);
        assert_eq!(result, Err(NetError::Disconnected));
        // The host's reset takes one trip (1 to 10 ms), not a timeout.
        let elapsed = start.elapsed();
        assert!(elapsed > ms(100) && elapsed <= ms(111), "reset after {elapsed:?}");
        assert!(conn.is_closed());
        // The connection stays reset: a new request on it fails without waiting.
        let again = Instant::now();
        assert_eq!(conn.call(6, Duration::from_secs(10)).await, Err(NetError::Disconnected));
        assert_about(again.elapsed(), Duration::ZERO);

        // Nobody listens any more: a new connection is refused within one trip.
        let client = net.add_host(&Addr::new("client-2"));
        let fresh = client.connect(&server_addr());
        let refused_at = Instant::now();
        assert_eq!(fresh.call(7, Duration::from_secs(10)).await, Err(NetError::Disconnected));
        assert!(refused_at.elapsed() <= ms(11), "refusal took {:?}", refused_at.elapsed());
        assert_eq!(server.log.values(), vec![5, HOLD]);
    });
}

#[test]
fn a_silent_host_makes_requests_time_out() {
    simulate(22, || async {
        let net = network_with_latency(1, 10);
        let server = Server::start(&net);
        let conn = net.add_host(&client_addr()).connect(&server_addr());
        assert_eq!(conn.call(5, ms(100)).await, Ok(5));

        let start = Instant::now();
        let crasher = async {
            sleep(ms(100)).await;
            server.crash(&net, HostDown::Silent);
        };
        let (result, ()) = tokio::join!(conn.call(HOLD, ms(2000)), crasher);
        assert_eq!(result, Err(NetError::Timeout), "a power loss sends no reset");
        assert_about(start.elapsed(), ms(2000));
        assert!(!conn.is_closed(), "the client cannot know the peer is gone");
        // Later requests, on the old connection or a new one, vanish too.
        assert_eq!(conn.call(6, ms(500)).await, Err(NetError::Timeout));
        let fresh = net.add_host(&Addr::new("client-2")).connect(&server_addr());
        assert_eq!(fresh.call(7, ms(500)).await, Err(NetError::Timeout));
        assert_eq!(server.log.values(), vec![5, HOLD]);
    });
}

#[test]
fn after_a_power_loss_and_restart_old_connections_are_reset_and_new_ones_work() {
    simulate(23, || async {
        let net = network_with_latency(1, 10);
        let server = Server::start(&net);
        let client = net.add_host(&client_addr());
        let old = client.connect(&server_addr());
        assert_eq!(old.call(1, ms(100)).await, Ok(1));

        server.crash(&net, HostDown::Silent);
        sleep(ms(500)).await;
        server.restart(&net);
        sleep(ms(1)).await; // let the new process listen

        // The old connection belongs to the previous incarnation: its next request meets a reset.
        let start = Instant::now();
        assert_eq!(old.call(2, Duration::from_secs(10)).await, Err(NetError::Disconnected));
        assert!(start.elapsed() <= ms(11), "the reset took {:?}", start.elapsed());
        assert!(old.is_closed());
        // A new connection reaches the new process.
        let new = client.connect(&server_addr());
        assert_eq!(new.call(3, ms(100)).await, Ok(3));
        assert_eq!(server.log.values(), vec![1, 3], "the old connection's request never reached the new process");
    });
}

#[test]
fn a_request_sent_to_a_machine_without_power_is_reset_when_it_powers_on_not_timed_out() {
    simulate(25, || async {
        let net = network_with_latency(1, 10);
        let server = Server::start(&net);
        let conn = net.add_host(&client_addr()).connect(&server_addr());
        assert_eq!(conn.call(1, ms(100)).await, Ok(1));
        server.crash(&net, HostDown::Silent);

        // TCP retransmits the unanswered request until the machine is back, whose kernel
        // answers RST for the connection it no longer knows: the client learns of it then,
        // long before its request timeout.
        let start = Instant::now();
        let restarter = async {
            sleep(ms(500)).await;
            server.restart(&net);
        };
        let (result, ()) = tokio::join!(conn.call(2, Duration::from_secs(30)), restarter);
        assert_eq!(result, Err(NetError::Disconnected));
        assert!(start.elapsed() >= ms(500) && start.elapsed() <= ms(511), "reset after {:?}", start.elapsed());
        assert!(conn.is_closed());
        assert_eq!(server.log.values(), vec![1], "the new process never saw the old connection's request");
    });
}

#[test]
fn after_a_process_crash_and_restart_new_connections_work() {
    simulate(24, || async {
        let net = network_with_latency(1, 10);
        let server = Server::start(&net);
        let client = net.add_host(&client_addr());
        let old = client.connect(&server_addr());
        assert_eq!(old.call(1, ms(100)).await, Ok(1));
        server.crash(&net, HostDown::ProcessCrash);
        assert!(!old.is_closed(), "the host's reset is on its way");
        sleep(ms(11)).await;
        assert!(old.is_closed(), "a process crash resets its connections a trip later");
        server.restart(&net);
        sleep(ms(1)).await;
        assert_eq!(old.call(2, ms(100)).await, Err(NetError::Disconnected));
        let new = client.connect(&server_addr());
        assert_eq!(new.call(3, ms(100)).await, Ok(3));
        assert_eq!(server.log.values(), vec![1, 3]);
    });
}

#[test]
fn a_connection_opened_while_the_host_was_down_is_reset_after_it_comes_back() {
    simulate(25, || async {
        let net = network_with_latency(1, 10);
        let server = Server::start(&net);
        let client = net.add_host(&client_addr());
        server.crash(&net, HostDown::Silent);
        let during = client.connect(&server_addr());
        assert_eq!(during.call(1, ms(200)).await, Err(NetError::Timeout));
        server.restart(&net);
        sleep(ms(1)).await;
        assert_eq!(during.call(2, ms(200)).await, Err(NetError::Disconnected));
        assert_eq!(client.connect(&server_addr()).call(3, ms(200)).await, Ok(3));
        assert_eq!(server.log.values(), vec![3]);
    });
}

/// Sends 0..n pipelined on a fresh network with reordering on the request link and
/// returns the order the server saw.
fn order_seen_with_reordering(seed: u64, reordering: bool) -> Vec<u64> {
    simulate(seed, || async move {
        let net = network_with_latency(1, 50);
        let server = Server::start(&net);
        let client = net.add_host(&client_addr());
        net.set_reordering(&client_addr(), &server_addr(), reordering);
        let conn = client.connect(&server_addr());
        let values: Vec<u64> = (0..50).collect();
        let results = pipeline(&conn, &values, Duration::from_secs(5)).await;
        // Responses are still matched to their requests.
        assert!(results.iter().zip(&values).all(|(r, v)| r == &Ok(*v)), "seed {seed}: {results:?}");
        server.log.values()
    })
}

#[test]
fn reordering_lets_messages_overtake_each_other() {
    let mut reordered_seeds = 0;
    for seed in 0..5 {
        let seen = order_seen_with_reordering(seed, true);
        let mut sorted = seen.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..50).collect::<Vec<u64>>(), "seed {seed}: reordering loses or duplicates nothing");
        if !is_sorted(&seen) {
            reordered_seeds += 1;
        }
        // The same seed without the fault keeps the order.
        assert!(is_sorted(&order_seen_with_reordering(seed, false)), "seed {seed}: FIFO broken without the fault");
    }
    assert!(reordered_seeds > 0, "no seed reordered anything");
}

#[test]
fn reordering_can_be_turned_off_again() {
    simulate(31, || async {
        let net = network_with_latency(1, 50);
        let server = Server::start(&net);
        let conn = net.add_host(&client_addr()).connect(&server_addr());
        net.set_reordering(&client_addr(), &server_addr(), true);
        let _ = pipeline(&conn, &(0..50).collect::<Vec<_>>(), Duration::from_secs(5)).await;
        assert!(!is_sorted(&server.log.values()), "seed 31 reorders while the fault is on");
        net.set_reordering(&client_addr(), &server_addr(), false);
        let _ = pipeline(&conn, &(100..150).collect::<Vec<_>>(), Duration::from_secs(5)).await;
        let after: Vec<u64> = server.log.values().into_iter().filter(|v| *v >= 100).collect();
        assert_eq!(after, (100..150).collect::<Vec<u64>>());
    });
}

#[test]
fn duplication_delivers_some_requests_twice() {
    simulate(41, || async {
        let net = network_with_latency(1, 10);
        let server = Server::start(&net);
        net.set_duplication(&client_addr(), &server_addr(), 0.5);
        let conn = net.add_host(&client_addr()).connect(&server_addr());
        let values: Vec<u64> = (0..100).collect();
        let results = pipeline(&conn, &values, Duration::from_secs(5)).await;
        assert!(results.iter().zip(&values).all(|(r, v)| r == &Ok(*v)), "{results:?}");
        let seen = server.log.values();
        let mut counts = std::collections::BTreeMap::new();
        for v in &seen {
            *counts.entry(*v).or_insert(0) += 1;
        }
        assert_eq!(counts.len(), 100, "every request arrived");
        assert!(counts.values().all(|n| *n <= 2), "at most twice: {counts:?}");
        let twice = counts.values().filter(|n| **n == 2).count();
        assert!((25..=75).contains(&twice), "{twice} of 100 requests duplicated at probability 0.5");

        // Turning it off stops it.
        net.set_duplication(&client_addr(), &server_addr(), 0.0);
        let before = seen.len();
        let _ = pipeline(&conn, &(200..300).collect::<Vec<_>>(), Duration::from_secs(5)).await;
        assert_eq!(server.log.values().len(), before + 100);
    });
}

#[test]
fn requests_sent_before_the_client_closed_still_reach_the_server() {
    simulate(51, || async {
        let net = network_with_latency(10, 20);
        let server = Server::start(&net);
        let conn = net.add_host(&client_addr()).connect(&server_addr());
        sleep(ms(50)).await;
        assert_eq!(conn.state(), ConnectionState::Established);
        let pending: Vec<_> = (0..10).map(|v| conn.send(v)).collect();
        let closed_at = Instant::now();
        conn.close();
        // The client's side is gone at once: every pending request fails now.
        assert!(conn.is_closed());
        for p in pending {
            assert_eq!(p.wait(Duration::from_secs(1)).await, Err(NetError::Disconnected));
        }
        assert_about(closed_at.elapsed(), Duration::ZERO);
        assert_eq!(conn.call(99, ms(100)).await, Err(NetError::Disconnected), "nothing more can be sent");
        // The send buffer still drains to the server, in order, and then the server sees
        // the connection end.
        sleep(ms(100)).await;
        assert_eq!(server.log.values(), (0..10).collect::<Vec<u64>>());
        assert_eq!(server.log.entries().last(), Some(&Seen::Closed { conn: 0 }));
    });
}

#[test]
fn a_timed_out_request_on_a_dropped_connection_is_applied_after_the_partition_heals() {
    simulate(52, || async {
        let net = network_with_latency(1, 5);
        let server = Server::start(&net);
        let client = net.add_host(&client_addr());
        {
            let conn = client.connect(&server_addr());
            sleep(ms(20)).await;
            assert_eq!(conn.state(), ConnectionState::Established);
            net.block(&client_addr(), &server_addr());
            assert_eq!(conn.call(42, ms(200)).await, Err(NetError::Timeout));
            // The client gives up and drops the connection, as Kafka's client does.
        }
        sleep(ms(500)).await;
        assert!(server.log.values().is_empty());
        net.unblock(&client_addr(), &server_addr());
        sleep(ms(20)).await;
        assert_eq!(server.log.values(), vec![42], "the buffered request was applied after all");
        assert_eq!(server.log.entries().last(), Some(&Seen::Closed { conn: 0 }));
    });
}

#[test]
fn a_closed_idle_connection_ends_on_the_server_side() {
    simulate(53, || async {
        let net = network_with_latency(1, 5);
        let server = Server::start(&net);
        let conn = net.add_host(&client_addr()).connect(&server_addr());
        assert_eq!(conn.call(1, ms(100)).await, Ok(1));
        drop(conn);
        sleep(ms(10)).await;
        assert_eq!(server.log.entries().last(), Some(&Seen::Closed { conn: 0 }));
    });
}

#[test]
fn latency_settings_bound_the_round_trip_time() {
    simulate(61, || async {
        let net = network_with_latency(20, 30);
        let _server = Server::start(&net);
        let conn = net.add_host(&client_addr()).connect(&server_addr());
        let mut rtts = Vec::new();
        for v in 0..100 {
            let start = Instant::now();
            assert_eq!(conn.call(v, Duration::from_secs(1)).await, Ok(v));
            rtts.push(start.elapsed());
        }
        let (min, max) = (rtts.iter().min().copied().unwrap(), rtts.iter().max().copied().unwrap());
        assert!(min >= ms(40), "a round trip faster than 2 x 20 ms: {min:?}");
        assert!(max <= ms(61), "a round trip slower than 2 x 30 ms: {max:?}");
        assert!(max - min >= ms(10), "latency does not vary: {min:?}..{max:?}");

        // Changing the settings takes effect for new messages.
        net.update_config(|c| {
            c.latency_ms_min = 100;
            c.latency_ms_max = 100;
        });
        assert_eq!(net.config().latency_ms_min, 100);
        let start = Instant::now();
        assert_eq!(conn.call(7, Duration::from_secs(1)).await, Ok(7));
        let rtt = start.elapsed();
        assert!(rtt >= ms(200) && rtt <= ms(201), "fixed 100 ms each way gave {rtt:?}");
    });
}

#[test]
fn a_request_without_response_is_delivered_and_the_reply_is_ignored() {
    simulate(71, || async {
        let net = network_with_latency(1, 5);
        let server = Server::start(&net);
        let conn = net.add_host(&client_addr()).connect(&server_addr());
        assert!(conn.send_without_response(8));
        assert_eq!(conn.call(9, ms(100)).await, Ok(9), "the connection still works, in order");
        assert_eq!(server.log.values(), vec![8, 9]);
        conn.close();
        assert!(!conn.send_without_response(10));
    });
}

#[test]
fn the_same_seed_gives_the_same_delivery_times() {
    let run = |seed| {
        simulate(seed, || async {
            let net = network(NetConfig { latency_ms_min: 1, latency_ms_max: 50, packet_loss_rate: 0.1, rto_ms: 100 });
            let server = Server::start(&net);
            let conn = net.add_host(&client_addr()).connect(&server_addr());
            let start = Instant::now();
            let _ = pipeline(&conn, &(0..100).collect::<Vec<_>>(), Duration::from_secs(10)).await;
            server.log.arrivals().into_iter().map(|(v, at)| (v, at - start)).collect::<Vec<_>>()
        })
    };
    assert_eq!(run(5), run(5));
    assert_ne!(run(5), run(6));
}

#[test]
fn a_slow_message_holds_back_later_ones_on_its_connection_but_not_on_others() {
    simulate(81, || async {
        let net = network_with_latency(100, 100);
        let server = Server::start(&net);
        let client = net.add_host(&client_addr());
        let a = client.connect(&server_addr());
        let b = client.connect(&server_addr());
        sleep(ms(200)).await; // both handshakes complete
        let start = Instant::now();
        let slow = a.send(1);
        // The network gets faster: a message sent now would arrive in 1 ms.
        net.update_config(|c| {
            c.latency_ms_min = 1;
            c.latency_ms_max = 1;
        });
        let behind = a.send(2);
        let other = b.send(3);
        assert_eq!(other.wait(ms(1000)).await, Ok(3));
        assert_about(start.elapsed(), ms(2));
        assert_eq!(slow.wait(ms(1000)).await, Ok(1));
        assert_about(start.elapsed(), ms(101));
        assert_eq!(behind.wait(ms(1000)).await, Ok(2));
        assert_about(start.elapsed(), ms(101));
        // The server saw the other connection's request first, then the slow one and the
        // one behind it, in their order.
        assert_eq!(server.log.values(), vec![3, 1, 2]);
        let arrivals = server.log.arrivals();
        assert_about(arrivals[1].1 - start, ms(100));
        assert_about(arrivals[2].1 - start, ms(100));
    });
}

#[test]
fn duplication_alone_does_not_reorder() {
    for seed in 0..5 {
        simulate(seed, || async {
            let net = network_with_latency(1, 50);
            let server = Server::start(&net);
            net.set_duplication(&client_addr(), &server_addr(), 0.3);
            let conn = net.add_host(&client_addr()).connect(&server_addr());
            let _ = pipeline(&conn, &(0..100).collect::<Vec<_>>(), Duration::from_secs(5)).await;
            let seen = server.log.values();
            assert!(seen.len() > 100, "seed {seed}: nothing duplicated");
            assert!(is_sorted(&seen), "seed {seed}: a duplicate arrived after a later message: {seen:?}");
        });
    }
}

/// A client process on its own node that connects to the server, gets one answer and
/// then keeps the connection open until it is killed.
fn start_client(net: &Net, name: &str) -> NodeHandle {
    let node_net = net.add_host(&Addr::new(name));
    let node = Handle::current().create_node().name(name).build();
    node.spawn(async move {
        let conn = node_net.connect(&server_addr());
        assert_eq!(conn.call(1, ms(100)).await, Ok(1));
        std::future::pending::<()>().await;
    });
    node
}

#[test]
fn a_client_process_crash_ends_its_connections_on_the_server() {
    simulate(91, || async {
        let net = network_with_latency(1, 5);
        let server = Server::start(&net);
        let client = start_client(&net, "client");
        sleep(ms(50)).await;
        assert_eq!(server.log.values(), vec![1]);
        Handle::current().kill(client.id());
        net.host_down(&client_addr(), HostDown::ProcessCrash);
        sleep(ms(10)).await;
        assert_eq!(server.log.entries().last(), Some(&Seen::Closed { conn: 0 }), "the kernel closed the socket");
    });
}

#[test]
fn a_client_power_loss_is_silent_to_the_server_until_the_client_is_back() {
    simulate(92, || async {
        let net = network_with_latency(1, 5);
        let server = Server::start(&net);
        let client = start_client(&net, "client");
        sleep(ms(50)).await;
        assert_eq!(server.log.values(), vec![1]);
        Handle::current().kill(client.id());
        net.host_down(&client_addr(), HostDown::Silent);
        sleep(ms(5000)).await;
        assert!(
            !server.log.entries().contains(&Seen::Closed { conn: 0 }),
            "the server heard of a power loss: {:?}",
            server.log.entries()
        );
        // The machine comes back: the server's side of the old connection meets a reset.
        net.host_up(&client_addr());
        sleep(ms(10)).await;
        assert_eq!(server.log.entries().last(), Some(&Seen::Closed { conn: 0 }));
    });
}

#[test]
fn a_connection_is_established_one_round_trip_after_its_syn_and_its_watcher_is_told() {
    simulate(41, || async {
        let net = network_with_latency(5, 5);
        let _server = Server::start(&net);
        sleep(ms(1)).await; // the server listens
        let watcher = Arc::new(tokio::sync::Notify::new());
        let told = watcher.notified();
        let start = Instant::now();
        let conn = net.add_host(&client_addr()).connect_with(&server_addr(), watched(&watcher));
        assert_eq!(conn.state(), ConnectionState::Connecting);
        told.await;
        assert_eq!(conn.state(), ConnectionState::Established);
        assert_about(start.elapsed(), ms(10));
        assert_eq!(conn.call(3, ms(100)).await, Ok(3));
    });
}

#[test]
fn a_host_nobody_listens_on_refuses_the_connection_and_its_watcher_is_told() {
    simulate(42, || async {
        let net = network_with_latency(5, 5);
        net.add_host(&server_addr()); // up, but no process listens
        let watcher = Arc::new(tokio::sync::Notify::new());
        let told = watcher.notified();
        let start = Instant::now();
        let conn = net.add_host(&client_addr()).connect_with(&server_addr(), watched(&watcher));
        told.await;
        assert_eq!(conn.state(), ConnectionState::Closed);
        assert_about(start.elapsed(), ms(5)); // the SYN's trip: the reset is the refusal
    });
}

#[test]
fn a_connection_closed_before_its_handshake_completed_delivers_nothing() {
    simulate(43, || async {
        let net = network_with_latency(1, 5);
        let server = Server::start(&net);
        sleep(ms(1)).await;
        let client = net.add_host(&client_addr());
        net.block(&client_addr(), &server_addr());
        let conn = client.connect(&server_addr());
        let pending = conn.send(1);
        sleep(ms(100)).await;
        assert_eq!(conn.state(), ConnectionState::Connecting, "the SYN is held by the partition");
        conn.close();
        assert_eq!(pending.wait(ms(10)).await, Err(NetError::Disconnected));
        net.unblock(&client_addr(), &server_addr());
        sleep(ms(100)).await;
        assert!(server.log.entries().is_empty(), "the server saw neither the connection nor the request");
        // Once established, what was sent before a close still arrives (the send buffer).
        let conn = client.connect(&server_addr());
        let answered = conn.call(2, ms(100)).await;
        assert_eq!(answered, Ok(2));
        net.block(&client_addr(), &server_addr());
        let _ = conn.send(3);
        conn.close();
        net.unblock(&client_addr(), &server_addr());
        sleep(ms(100)).await;
        assert_eq!(server.log.values(), vec![2, 3]);
    });
}

/// Options that tell `watcher` of the connection's changes.
fn watched(watcher: &Arc<tokio::sync::Notify>) -> ConnectOptions {
    ConnectOptions { watcher: Some(watcher.clone()), ..ConnectOptions::default() }
}

#[test]
fn a_connection_not_established_within_its_setup_timeout_is_closed_and_its_requests_fail() {
    simulate(44, || async {
        let net = network_with_latency(5, 5);
        let server = Server::start(&net);
        sleep(ms(1)).await;
        let client = net.add_host(&client_addr());
        let within = |ms_: u64| ConnectOptions { setup_timeout: Some(ms(ms_)), ..ConnectOptions::default() };
        // Established after one trip, well within its 100 ms: the timeout changes nothing.
        let conn = client.connect_with(&server_addr(), within(100));
        assert_eq!(conn.call(1, ms(50)).await, Ok(1));
        sleep(ms(200)).await;
        assert_eq!(conn.state(), ConnectionState::Established);
        assert_eq!(conn.call(2, ms(50)).await, Ok(2));
        // A machine without power never answers the SYN: the client gives up at the
        // timeout, the request queued behind the SYN fails then, and the watcher is told.
        server.crash(&net, HostDown::Silent);
        let watcher = Arc::new(tokio::sync::Notify::new());
        let told = watcher.notified();
        let start = Instant::now();
        let conn =
            client.connect_with(&server_addr(), ConnectOptions { watcher: Some(watcher.clone()), ..within(300) });
        let queued = conn.send(3);
        assert_eq!(queued.wait(Duration::from_secs(10)).await, Err(NetError::Disconnected));
        assert_about(start.elapsed(), ms(300));
        told.await;
        assert_eq!(conn.state(), ConnectionState::Closed);
        assert_eq!(server.log.values(), vec![1, 2], "nothing of the closed connection arrives");
    });
}

#[test]
fn an_answer_on_the_wire_when_its_server_crashes_still_arrives_before_the_reset() {
    simulate(45, || async {
        let net = network_with_latency(10, 10);
        let server = Server::start(&net);
        let conn = net.add_host(&client_addr()).connect(&server_addr());
        assert_eq!(conn.call(1, ms(100)).await, Ok(1));
        // The server answers 2 at once; its process dies 5 ms later, with the answer
        // halfway to the client.
        let answered = conn.send(2);
        sleep(ms(15)).await;
        let crashed_at = Instant::now();
        server.crash(&net, HostDown::ProcessCrash);
        assert_eq!(answered.wait(ms(100)).await, Ok(2));
        assert_eq!(conn.state(), ConnectionState::Established, "the reset is still on its way");
        // A request in flight at the crash is failed by the reset, a trip after it.
        let pending = conn.send(HOLD);
        assert_eq!(pending.wait(ms(100)).await, Err(NetError::Disconnected));
        assert_about(crashed_at.elapsed(), ms(10));
        assert!(conn.is_closed());
    });
}

#[test]
fn an_answer_held_by_a_partition_when_its_server_crashes_is_lost_and_the_reset_comes_at_the_heal() {
    simulate(46, || async {
        let net = network_with_latency(5, 5);
        let server = Server::start(&net);
        let conn = net.add_host(&client_addr()).connect(&server_addr());
        assert_eq!(conn.call(1, ms(100)).await, Ok(1));
        // The answer to 2 leaves the server into a partition; the process dies while the
        // partition holds it, so no socket retransmits it.
        net.block(&server_addr(), &client_addr());
        let answered = conn.send(2);
        sleep(ms(20)).await;
        server.crash(&net, HostDown::ProcessCrash);
        sleep(ms(500)).await;
        let healed_at = Instant::now();
        net.unblock(&server_addr(), &client_addr());
        assert_eq!(answered.wait(ms(100)).await, Err(NetError::Disconnected));
        assert_about(healed_at.elapsed(), ms(5)); // the reset, retransmitted at the heal
        assert_eq!(server.log.values(), vec![1, 2], "the server did answer 2");
    });
}

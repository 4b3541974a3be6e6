//! The benchmark: how fast kafkasim simulates, next to a bare madsim baseline that
//! exchanges requests and responses with no Kafka logic, in the same process. Used by
//! `kafkasim bench`; nothing here is asserted by a test (speed depends on the machine).
//!
//! Two baselines: [`baseline_sim_net`] over kafkasim's own simulated network
//! ([`crate::sim::net`], TCP-like connections), which is the ceiling for kafkasim's
//! messages per wall second, and [`baseline_endpoint`] over madsim's datagram
//! [`madsim::net::Endpoint`], which shows what `sim::net`'s connections cost on top.

use crate::runner::{self, RunOutcome};
use crate::scenario::Scenario;
use crate::sim::net::{Addr, NetConfig, Network};
use madsim::runtime::{Handle, Runtime};
use madsim::time::{sleep_until, Instant};
use serde::Serialize;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Throughput figures of one measured run.
#[derive(Clone, Debug, Serialize)]
pub struct Figures {
    /// What ran.
    pub name: String,
    /// Wall-clock seconds.
    pub wall_s: f64,
    /// CPU seconds the process spent (user + system), if known: unlike wall time, not
    /// inflated by other processes competing for the cores.
    pub cpu_s: Option<f64>,
    /// Simulated seconds.
    pub simulated_s: f64,
    /// Records sent by producers (0 for the baselines).
    pub records: u64,
    /// Network messages delivered.
    pub messages: u64,
}

impl Figures {
    /// Simulated seconds per wall second.
    pub fn speedup(&self) -> f64 {
        self.simulated_s / self.wall_s.max(1e-9)
    }

    /// Network messages delivered per CPU second, if the CPU time is known and at least
    /// one clock tick (10 ms: less is no measurement).
    pub fn messages_per_cpu_s(&self) -> Option<f64> {
        self.cpu_s.filter(|cpu| *cpu >= 0.01).map(|cpu| self.messages as f64 / cpu)
    }

    /// Records sent per wall second.
    pub fn records_per_wall_s(&self) -> f64 {
        self.records as f64 / self.wall_s.max(1e-9)
    }

    /// Network messages delivered per wall second.
    pub fn messages_per_wall_s(&self) -> f64 {
        self.messages as f64 / self.wall_s.max(1e-9)
    }

    /// The figures of a kafkasim run.
    pub fn of_run(outcome: &RunOutcome, wall_s: f64, cpu_s: Option<f64>) -> Self {
        Figures {
            name: format!("{} seed {}", outcome.scenario, outcome.seed),
            wall_s,
            cpu_s,
            simulated_s: outcome.stats.simulated_ms as f64 / 1000.0,
            records: outcome.stats.sent,
            messages: outcome.stats.messages,
        }
    }
}

/// The shape of a baseline: `servers` hosts answering, `clients` hosts each running
/// `loops_per_server` request/response loops against every server, for
/// `simulated_ms`, with one-way latencies drawn from `latency_ms_min..=latency_ms_max`.
#[derive(Clone, Copy, Debug)]
pub struct BaselineShape {
    /// Answering hosts (the bench cluster's brokers).
    pub servers: u32,
    /// Calling hosts (the bench workload's clients).
    pub clients: u32,
    /// Concurrent request/response loops per client and server.
    pub loops_per_server: u32,
    /// Simulated duration, in milliseconds.
    pub simulated_ms: u64,
    /// Smallest one-way latency, in milliseconds.
    pub latency_ms_min: u64,
    /// Largest one-way latency, in milliseconds.
    pub latency_ms_max: u64,
}

/// Runs kafkasim's bench scenario once and measures it.
pub fn run_scenario(scenario: &Scenario, seed: u64) -> (RunOutcome, Figures) {
    let (started, cpu) = (std::time::Instant::now(), cpu_seconds());
    let outcome = runner::run_seed(scenario, seed);
    let wall_s = started.elapsed().as_secs_f64();
    let figures = Figures::of_run(&outcome, wall_s, cpu_since(cpu));
    (outcome, figures)
}

/// Request/response over [`crate::sim::net`] with no Kafka logic: every message costs
/// what kafkasim's network costs, and nothing else runs.
pub fn baseline_sim_net(shape: BaselineShape, seed: u64) -> Figures {
    let (started, cpu) = (std::time::Instant::now(), cpu_seconds());
    let runtime = Runtime::with_seed_and_config(seed, madsim::Config::default());
    let messages = runtime.block_on(async move {
        let handle = Handle::current();
        let wire = handle.create_node().name("wire").build();
        let config = NetConfig {
            latency_ms_min: shape.latency_ms_min,
            latency_ms_max: shape.latency_ms_max,
            ..NetConfig::default()
        };
        let network: Network<u64, u64> = Network::new(config, wire);
        let mut nodes = Vec::new();
        for s in 0..shape.servers {
            let net = network.add_host(&Addr::new(&format!("server-{s}")));
            let node = handle.create_node().name(format!("server-{s}")).build();
            node.spawn(async move {
                let mut listener = net.listen();
                while let Some(mut conn) = listener.accept().await {
                    madsim::task::spawn(async move {
                        while let Some(incoming) = conn.recv().await {
                            let (request, responder) = incoming.into_parts();
                            responder.reply(request + 1);
                        }
                    });
                }
            });
            nodes.push(node);
        }
        let deadline = Instant::now() + Duration::from_millis(shape.simulated_ms);
        for c in 0..shape.clients {
            let net = network.add_host(&Addr::new(&format!("client-{c}")));
            let node = handle.create_node().name(format!("client-{c}")).build();
            for s in 0..shape.servers {
                for _ in 0..shape.loops_per_server {
                    let conn = net.connect(&Addr::new(&format!("server-{s}")));
                    node.spawn(async move {
                        let mut n = 0u64;
                        while Instant::now() < deadline {
                            n = conn.call(n, Duration::from_secs(30)).await.unwrap_or(n);
                        }
                    });
                }
            }
            nodes.push(node);
        }
        sleep_until(deadline).await;
        let messages = network.stats().messages_delivered;
        for node in nodes {
            handle.kill(node.id());
        }
        messages
    });
    Figures {
        name: "baseline: request/response over sim::net".into(),
        wall_s: started.elapsed().as_secs_f64(),
        cpu_s: cpu_since(cpu),
        simulated_s: shape.simulated_ms as f64 / 1000.0,
        records: 0,
        messages,
    }
}

/// Request/response over madsim's own datagram [`madsim::net::Endpoint`] (no
/// connections, no per-connection ordering): the same shape as [`baseline_sim_net`].
pub fn baseline_endpoint(shape: BaselineShape, seed: u64) -> Figures {
    use madsim::net::Endpoint;
    let (started, cpu) = (std::time::Instant::now(), cpu_seconds());
    let mut config = madsim::Config::default();
    config.net.send_latency = Duration::from_millis(shape.latency_ms_min)..Duration::from_millis(shape.latency_ms_max);
    let runtime = Runtime::with_seed_and_config(seed, config);
    let delivered = Arc::new(AtomicU64::new(0));
    let counter = delivered.clone();
    runtime.block_on(async move {
        let handle = Handle::current();
        let mut nodes = Vec::new();
        let server_ip = |s: u32| IpAddr::V4(Ipv4Addr::new(10, 0, 0, s as u8 + 1));
        for s in 0..shape.servers {
            let node = handle.create_node().name(format!("server-{s}")).ip(server_ip(s)).build();
            let counter = counter.clone();
            node.spawn(async move {
                let endpoint = Endpoint::bind("0.0.0.0:1").await.expect("bind server");
                let mut buf = [0u8; 8];
                loop {
                    let Ok((_, from)) = endpoint.recv_from(0, &mut buf).await else {
                        return;
                    };
                    counter.fetch_add(1, Ordering::Relaxed);
                    let _ = endpoint.send_to(from, 1, &buf).await;
                }
            });
            nodes.push(node);
        }
        let deadline = Instant::now() + Duration::from_millis(shape.simulated_ms);
        for c in 0..shape.clients {
            let ip = IpAddr::V4(Ipv4Addr::new(10, 0, 1, c as u8 + 1));
            let node = handle.create_node().name(format!("client-{c}")).ip(ip).build();
            for s in 0..shape.servers {
                for l in 0..shape.loops_per_server {
                    let server = SocketAddr::new(server_ip(s), 1);
                    let port = 1000 + (s * shape.loops_per_server + l) as u16;
                    let counter = counter.clone();
                    node.spawn(async move {
                        let endpoint = Endpoint::bind(("0.0.0.0", port)).await.expect("bind client");
                        let mut buf = [0u8; 8];
                        while Instant::now() < deadline {
                            if endpoint.send_to(server, 0, &buf).await.is_err() {
                                return;
                            }
                            if endpoint.recv_from(1, &mut buf).await.is_err() {
                                return;
                            }
                            counter.fetch_add(1, Ordering::Relaxed);
                        }
                    });
                }
            }
            nodes.push(node);
        }
        sleep_until(deadline).await;
        for node in nodes {
            handle.kill(node.id());
        }
    });
    Figures {
        name: "baseline: request/response over madsim::net::Endpoint".into(),
        wall_s: started.elapsed().as_secs_f64(),
        cpu_s: cpu_since(cpu),
        simulated_s: shape.simulated_ms as f64 / 1000.0,
        records: 0,
        messages: delivered.load(Ordering::Relaxed),
    }
}

/// One scenario's seeds per wall second.
#[derive(Clone, Debug, Serialize)]
pub struct SuiteFigures {
    /// The scenario's name.
    pub scenario: String,
    /// Seeds run.
    pub seeds: usize,
    /// Wall-clock seconds for all of them, on `jobs` threads.
    pub wall_s: f64,
    /// CPU seconds for all of them (all threads), if known.
    pub cpu_s: Option<f64>,
    /// Seeds that failed the scenario's expectations (should be none).
    pub failures: usize,
    /// Simulated seconds of all the seeds together.
    pub simulated_s: f64,
    /// Whether the scenario draws its configuration per seed (`[swarm]`).
    pub swarm: bool,
}

impl SuiteFigures {
    /// Seeds per wall second.
    pub fn seeds_per_s(&self) -> f64 {
        self.seeds as f64 / self.wall_s.max(1e-9)
    }
}

/// Runs every seed of a scenario on `jobs` worker threads (one fresh runtime per seed)
/// and measures the wall time.
pub fn time_scenario_seeds(scenario: &Scenario, jobs: usize) -> SuiteFigures {
    let (started, cpu) = (std::time::Instant::now(), cpu_seconds());
    let next = AtomicUsize::new(0);
    let failures = AtomicUsize::new(0);
    let simulated_ms = std::sync::atomic::AtomicU64::new(0);
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(&seed) = scenario.seeds.get(i) else {
                    return;
                };
                let outcome = runner::run_seed(scenario, seed);
                simulated_ms.fetch_add(outcome.stats.simulated_ms, Ordering::Relaxed);
                if outcome.verdict(scenario).status().exit_code() != 0 {
                    failures.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    });
    SuiteFigures {
        scenario: scenario.name.clone(),
        seeds: scenario.seeds.len(),
        wall_s: started.elapsed().as_secs_f64(),
        cpu_s: cpu_since(cpu),
        failures: failures.into_inner(),
        simulated_s: simulated_ms.into_inner() as f64 / 1000.0,
        swarm: scenario.swarm.is_some(),
    }
}

/// The process's peak resident memory so far (`VmHWM`), in kibibytes; `None` where
/// /proc is not available.
pub fn peak_memory_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Resets the process's peak resident memory (`VmHWM`) to its current resident memory,
/// so that the next [`peak_memory_kib`] measures what comes after (Linux's
/// `/proc/self/clear_refs` with `5`, see proc(5)). Returns whether it could.
pub fn reset_peak_memory() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// CPU seconds (user + system, all threads) this process has used, from
/// `/proc/self/stat`; `None` where /proc is not available. Resolution: one clock tick
/// (10 ms on Linux).
pub fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: count from after it.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // USER_HZ is 100 on every Linux architecture kafkasim runs on.
    Some((utime + stime) / 100.0)
}

fn cpu_since(start: Option<f64>) -> Option<f64> {
    Some(cpu_seconds()? - start?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: BaselineShape = BaselineShape {
        servers: 2,
        clients: 2,
        loops_per_server: 1,
        simulated_ms: 2_000,
        latency_ms_min: 1,
        latency_ms_max: 5,
    };

    #[test]
    fn the_baselines_exchange_requests_and_responses_for_the_simulated_time() {
        for figures in [baseline_sim_net(SMALL, 1), baseline_endpoint(SMALL, 1)] {
            // 4 loops, each round trip at most 10 ms and at least 2 ms: between 400 and
            // 4,000 round trips of 2 messages each in 2 simulated seconds.
            assert!((800..=8_000).contains(&figures.messages), "{figures:?}");
            assert_eq!(figures.simulated_s, 2.0);
        }
    }

    #[test]
    fn cpu_time_and_peak_memory_are_read_from_proc() {
        assert!(cpu_seconds().is_some_and(|s| s >= 0.0));
        assert!(peak_memory_kib().is_some_and(|k| k > 0));
    }
}

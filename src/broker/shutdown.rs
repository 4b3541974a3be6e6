//! A clean broker shutdown, as an operator's `kafka-server-stop` (SIGTERM) starts it:
//! Kafka's `KafkaServer.shutdown`. With `controlled.shutdown.enable` the broker first asks
//! the controller to move its leaderships away (`KafkaServer.controlledShutdown`,
//! retried `controlled.shutdown.max.retries` times `controlled.shutdown.retry.backoff.ms`
//! apart, then shut down anyway); then it flushes every log (nothing stays only in the
//! page cache), checkpoints its high watermarks, in KRaft mode writes the clean-shutdown
//! marker with its broker epoch (so the controller knows the next process lost
//! nothing, KIP-966), closes its metastore session (its registration goes at once, not
//! after the session timeout) and exits.
//!
//! The nemesis asks for the stop through the broker's [`StopSwitch`] and kills the
//! process once the broker says it is done. Kafka also writes producer state
//! snapshots on a clean shutdown; here producer state is always rebuilt from the log on
//! load, so there is nothing to write.

use super::{background, BrokerConfig, SharedBroker};
use crate::protocol::{Request, Response};
use crate::sim::net::Addr;
use madsim::time::sleep;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// How a stop request reaches a broker process and how its end reaches the nemesis. One
/// per broker, shared by every incarnation of its process.
#[derive(Clone)]
pub struct StopSwitch {
    inner: Arc<Inner>,
}

struct Inner {
    requested: watch::Sender<bool>,
    exited: watch::Sender<bool>,
}

impl Default for StopSwitch {
    fn default() -> Self {
        StopSwitch { inner: Arc::new(Inner { requested: watch::channel(false).0, exited: watch::channel(false).0 }) }
    }
}

impl StopSwitch {
    /// Asks the running process to shut down cleanly.
    pub fn request(&self) {
        self.inner.requested.send_replace(true);
    }

    /// Waits until a stop is requested.
    pub async fn requested(&self) {
        let mut rx = self.inner.requested.subscribe();
        let _ = rx.wait_for(|r| *r).await;
    }

    /// The process says it is done: it may be killed now.
    pub fn mark_exited(&self) {
        self.inner.exited.send_replace(true);
    }

    /// Waits until the process is done shutting down.
    pub async fn exited(&self) {
        let mut rx = self.inner.exited.subscribe();
        let _ = rx.wait_for(|e| *e).await;
    }

    /// Clears both signals, before the process starts again.
    pub fn reset(&self) {
        self.inner.requested.send_replace(false);
        self.inner.exited.send_replace(false);
    }
}

/// The broker side of a stop: waits for the request, then shuts down cleanly, and sets
/// `close_session` once the logs are safe: the registration loop then closes the
/// metastore session and returns, and the process says it is done.
pub(super) async fn run(shared: SharedBroker, stop: StopSwitch, close_session: watch::Sender<bool>) {
    stop.requested().await;
    if shared.config.controlled_shutdown.enable {
        let moved = match shared.config.kraft {
            Some(_) => super::kraft::controlled_shutdown(&shared).await,
            None => controlled_shutdown(&shared).await,
        };
        tracing::debug!(broker = %shared.id(), moved, "controlled shutdown");
    }
    {
        let mut state = shared.lock();
        for partition in state.partitions.values_mut() {
            partition.flush();
        }
    }
    // `ReplicaManager.shutdown(checkpointHW = true)`.
    background::write_high_watermark_checkpoint(&shared);
    // `LogManager.shutdown(brokerEpoch)`. A ZooKeeper-mode broker writes the marker too,
    // but only a KRaft controller reads the epoch in it; nothing here reads it in ZK mode.
    if shared.config.kraft.is_some() {
        super::kraft::write_clean_shutdown_marker(&shared);
    }
    close_session.send_replace(true);
}

/// The controlled-shutdown settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ControlledShutdownConfig {
    /// `controlled.shutdown.enable` (default true).
    pub enable: bool,
    /// `controlled.shutdown.max.retries`: how many requests are sent at most (default 3).
    pub max_retries: u32,
    /// `controlled.shutdown.retry.backoff.ms` (default 5000).
    pub retry_backoff_ms: u64,
}

impl Default for ControlledShutdownConfig {
    fn default() -> Self {
        ControlledShutdownConfig { enable: true, max_retries: 3, retry_backoff_ms: 5_000 }
    }
}

/// `KafkaServer.controlledShutdown`: sends ControlledShutdown to the controller this
/// broker knows of until it answers with no partition left to move, at most
/// `max_retries` times, pausing `retry_backoff_ms` after each failure. Returns whether it
/// succeeded (the broker shuts down either way).
async fn controlled_shutdown(shared: &SharedBroker) -> bool {
    let config = shared.config.controlled_shutdown;
    let timeout = Duration::from_millis(shared.config.inter_broker_timeout_ms);
    let mut remaining_retries = config.max_retries;
    while remaining_retries > 0 {
        remaining_retries -= 1;
        let controller = {
            let state = shared.lock();
            state.metadata.controller.map(|c| {
                state.metadata.live_brokers.get(&c).map_or_else(|| BrokerConfig::host_of(c), |b| b.host.clone())
            })
        };
        if let Some(host) = controller {
            let conn = shared.net.connect(&Addr::new(&host));
            let answer = conn.call(Request::ControlledShutdown { broker_id: shared.id() }, timeout).await;
            if let Ok(Response::ControlledShutdown { error: None, remaining }) = answer {
                if remaining.is_empty() {
                    return true;
                }
            }
        }
        if remaining_retries > 0 {
            sleep(Duration::from_millis(config.retry_backoff_ms)).await;
        }
    }
    false
}

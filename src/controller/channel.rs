//! The controller's channel to one broker (Kafka's `ControllerChannelManager`): requests
//! are sent in order, each retried until the broker accepts it, the broker is removed,
//! or the broker says this controller is stale.

use crate::protocol::{ErrorCode, Request, Response};
use crate::sim::net::{Addr, NodeNet};
use madsim::time::sleep;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// What to do once the broker accepted a request.
pub type OnAccepted = Box<dyn FnOnce() + Send>;

/// A queue of controller requests to one broker, drained by its own task.
pub struct BrokerChannel {
    queue: mpsc::UnboundedSender<(Request, Option<OnAccepted>)>,
    stopped: Arc<AtomicBool>,
}

impl BrokerChannel {
    /// Starts the channel's sender task.
    pub fn start(net: NodeNet<Request, Response>, broker: Addr, timeout: Duration, fenced: Arc<AtomicBool>) -> Self {
        let (queue, mut requests) = mpsc::unbounded_channel::<(Request, Option<OnAccepted>)>();
        let stopped = Arc::new(AtomicBool::new(false));
        let stop = stopped.clone();
        crate::sim::tasks::spawn(async move {
            let mut connection = net.connect(&broker);
            while let Some((request, on_accepted)) = requests.recv().await {
                loop {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    match connection.call(request.clone(), timeout).await {
                        Ok(Response::ControllerAck { error: None }) => {
                            if let Some(on_accepted) = on_accepted {
                                on_accepted();
                            }
                            break;
                        }
                        Ok(Response::ControllerAck { error: Some(ErrorCode::StaleControllerEpoch) }) => {
                            // A newer controller exists: this one is a zombie.
                            fenced.store(true, Ordering::Relaxed);
                            return;
                        }
                        Ok(_) => sleep(Duration::from_millis(100)).await,
                        Err(_) => {
                            sleep(Duration::from_millis(100)).await;
                            connection = net.connect(&broker);
                        }
                    }
                }
            }
        });
        BrokerChannel { queue, stopped }
    }

    /// Queues a request.
    pub fn send(&self, request: Request) {
        let _ = self.queue.send((request, None));
    }

    /// Queues a request and runs `on_accepted` once the broker accepted it (Kafka's
    /// `ControllerChannelManager` callbacks, such as a StopReplica's response handler).
    /// It never runs if the channel stops first (the broker died, or the controller).
    pub fn send_then(&self, request: Request, on_accepted: OnAccepted) {
        let _ = self.queue.send((request, Some(on_accepted)));
    }
}

impl Drop for BrokerChannel {
    fn drop(&mut self) {
        self.stopped.store(true, Ordering::Relaxed);
    }
}

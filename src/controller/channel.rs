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

/// A queue of controller requests to one broker, drained by its own task.
pub struct BrokerChannel {
    queue: mpsc::UnboundedSender<Request>,
    stopped: Arc<AtomicBool>,
}

impl BrokerChannel {
    /// Starts the channel's sender task.
    pub fn start(net: NodeNet<Request, Response>, broker: Addr, timeout: Duration, fenced: Arc<AtomicBool>) -> Self {
        let (queue, mut requests) = mpsc::unbounded_channel::<Request>();
        let stopped = Arc::new(AtomicBool::new(false));
        let stop = stopped.clone();
        madsim::task::spawn(async move {
            let mut connection = net.connect(&broker);
            while let Some(request) = requests.recv().await {
                loop {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    match connection.call(request.clone(), timeout).await {
                        Ok(Response::ControllerAck { error: None }) => break,
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
        let _ = self.queue.send(request);
    }
}

impl Drop for BrokerChannel {
    fn drop(&mut self) {
        self.stopped.store(true, Ordering::Relaxed);
    }
}

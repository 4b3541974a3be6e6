//! The administrator of the safety phase: sends each `[[events]]` topic change at its
//! time (or at its trigger), runs each group offset reset (`group_reset`), and hands
//! each subscription change and rewind to its consumer's application. In KRaft mode topic changes go as Kafka's admin client sends them with
//! `bootstrap.controllers` (KIP-919): to a controller, again to the next one on
//! NOT_CONTROLLER or a timeout, until an answer or `default.api.timeout.ms`. In
//! ZooKeeper mode they go to the brokers the same way: only the active controller's
//! broker answers CreateTopics and CreatePartitions, the others refuse with
//! NOT_CONTROLLER. Each answer is traced ([`Event::TopicAdmin`]).
//!
//! Simplified: the admin client goes to the controllers directly in every KRaft release;
//! before 3.7 it would reach them through a broker, which forwards the same request
//! (`KafkaApis.maybeForwardToController`) and relays the same answer. In ZooKeeper mode
//! Kafka's admin client sends to the controller its metadata names and refreshes the
//! metadata on NOT_CONTROLLER; here it tries the brokers in turn.

use super::group_reset::{reset_group, GroupReset};
use super::schedule::until_triggered;
use crate::history::ADMIN_PROCESS;
use crate::history::{Event, Recorder};
use crate::protocol::kraft::{ControllerRequest, ControllerResponse};
use crate::protocol::{ErrorCode, Request, Response};
use crate::scenario::{RewindWho, TopicEvent, TopicEventSpec};
use crate::sim::clock;
use crate::sim::net::{Addr, NodeNet};
use crate::workload::{RewindRequest, WorkloadContext};
use madsim::runtime::NodeHandle;
use madsim::task::JoinHandle;
use madsim::time::{sleep, sleep_until, Instant};
use std::time::Duration;

/// The admin client's `default.api.timeout.ms`: how long one call may take, retries
/// included.
pub(super) const DEFAULT_API_TIMEOUT: Duration = Duration::from_millis(60_000);

/// The admin client's `request.timeout.ms`: how long it waits for one answer.
pub(super) const REQUEST_TIMEOUT: Duration = Duration::from_millis(30_000);

/// The admin client's `retry.backoff.ms`.
pub(super) const RETRY_BACKOFF: Duration = Duration::from_millis(100);

/// The running events, one task each on the admin's node; stopping them at the end of
/// the safety phase abandons what has not been sent.
pub(super) struct EventSchedule {
    tasks: Vec<JoinHandle<()>>,
}

impl EventSchedule {
    /// Starts every event relative to `start`, on `node`, whose network handle is `net`:
    /// topic changes go to `controllers`, group resets to the `brokers`, and the
    /// applications' own changes to the `workload`'s consumers.
    pub fn start(
        events: &[TopicEventSpec],
        node: &NodeHandle,
        net: NodeNet<Request, Response>,
        (controllers, brokers): (Vec<Addr>, Vec<Addr>),
        recorder: Recorder,
        workload: &WorkloadContext,
        start: Instant,
    ) -> Self {
        // Record timestamps count from the run's start, `to_time` from the safety phase's.
        let safety_start_ms =
            (madsim::time::TimeHandle::current().elapsed() - (clock::now() - start)).as_millis() as u64;
        let tasks = events
            .iter()
            .enumerate()
            .map(|(index, event)| {
                let (event, net, controllers, recorder) =
                    (event.clone(), net.clone(), controllers.clone(), recorder.clone());
                let (subscriptions, rewinds, brokers) =
                    (workload.subscriptions.clone(), workload.rewinds.clone(), brokers.clone());
                node.spawn(async move {
                    sleep_until(start + Duration::from_millis(event.at_ms)).await;
                    if let Some(trigger) = &event.trigger {
                        until_triggered(&recorder, trigger).await;
                    }
                    if let TopicEvent::Subscribe { consumer, subscription } = &event.action {
                        subscriptions.request(consumer, subscription.clone());
                    }
                    if let TopicEvent::Rewind { who, to } = &event.action {
                        let request = RewindRequest { to: to.clone(), safety_start_ms };
                        match who {
                            RewindWho::Consumer(consumer) => rewinds.request(consumer, request),
                            RewindWho::Group { group, topics } => {
                                let reset = GroupReset {
                                    group,
                                    topics,
                                    to,
                                    timestamp_ms: request.timestamp_ms(),
                                    process: ADMIN_PROCESS + index as u64,
                                };
                                reset_group(&net, &brokers, &recorder, reset).await;
                            }
                        }
                    }
                    if let Some((request, topic, partitions)) = event.action.request() {
                        let error = call(&net, &controllers, ControllerRequest::TopicAdmin(request)).await;
                        recorder.tracer("admin").emit(Event::TopicAdmin {
                            kind: event.action.kind(),
                            topic: topic.into(),
                            partitions,
                            error,
                        });
                    }
                })
            })
            .collect();
        EventSchedule { tasks }
    }

    /// Stops sending.
    pub fn stop(self) {
        for task in self.tasks {
            task.abort();
        }
    }
}

/// Sends `request` to the controllers (KRaft) or brokers (ZooKeeper mode) in turn until
/// the active controller answers, and returns its error, if any: REQUEST_TIMED_OUT when
/// none answered in time.
async fn call(net: &NodeNet<Request, Response>, controllers: &[Addr], request: ControllerRequest) -> Option<ErrorCode> {
    let deadline = clock::now() + DEFAULT_API_TIMEOUT;
    for addr in controllers.iter().cycle() {
        let now = clock::now();
        if now >= deadline {
            break;
        }
        let connection = net.connect(addr);
        let answer = connection.call(Request::Controller(request.clone()), REQUEST_TIMEOUT.min(deadline - now)).await;
        connection.close();
        match answer {
            Ok(Response::Controller(ControllerResponse::TopicAdmin(result)))
                if result != Err(ErrorCode::NotController) =>
            {
                return result.err();
            }
            _ => sleep(RETRY_BACKOFF).await,
        }
    }
    Some(ErrorCode::RequestTimedOut)
}

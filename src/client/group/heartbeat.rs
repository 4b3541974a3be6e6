//! A member's standing in its group, shared between the application's thread (which
//! polls, joins and commits) and the background heartbeat thread, as in Kafka's
//! `AbstractCoordinator` and its `HeartbeatThread`.
//!
//! The heartbeat thread keeps the member alive between polls, learns of rebalances
//! (REBALANCE_IN_PROGRESS) and of its own eviction (ILLEGAL_GENERATION,
//! UNKNOWN_MEMBER_ID), and enforces `max.poll.interval.ms`: when the application has not
//! polled for that long, it sends LeaveGroup on the member's behalf and forgets the
//! member id, so that a stalled processor loses its partitions while its process lives.
//! The application's next poll rejoins.

use super::coordinator::CoordinatorLink;
use crate::protocol::{ErrorCode, GroupRequest, GroupResponse};
use crate::sim::clock;
use madsim::time::{sleep, Instant};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// Where the member stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Membership {
    /// The member id the coordinator gave (empty before the first join or after the
    /// member was forgotten).
    pub member_id: String,
    /// The generation of the member's current assignment, while it holds one.
    pub generation: Option<u32>,
    /// Set when the member must rejoin before its next fetch.
    pub rejoin_needed: bool,
    /// Set while a JoinGroup + SyncGroup round is in flight (Kafka's
    /// `MemberState.PREPARING_REBALANCE`): the heartbeat thread pauses then, and only
    /// then; a member that must rejoin but has not sent its JoinGroup yet (its
    /// application is still in a commit or a long poll loop) keeps beating.
    pub round_in_flight: bool,
    /// When the application last polled.
    pub last_poll: Instant,
    /// `group.instance.id`: the member is static (KIP-345); requests name it, and it
    /// never sends LeaveGroup (its session timeout alone ends its membership).
    pub instance_id: Option<String>,
    /// Set when the coordinator answered FENCED_INSTANCE_ID: another process took over
    /// the instance id; the consumer can only be closed (`FencedInstanceIdException`).
    pub fenced: bool,
}

/// The shared membership.
#[derive(Clone)]
pub struct SharedMembership(Arc<Mutex<Membership>>);

impl SharedMembership {
    /// A member that has not joined yet; static if it has a `group.instance.id`.
    pub fn new(instance_id: Option<String>) -> Self {
        SharedMembership(Arc::new(Mutex::new(Membership {
            member_id: String::new(),
            generation: None,
            rejoin_needed: true,
            round_in_flight: false,
            last_poll: clock::now(),
            instance_id,
            fenced: false,
        })))
    }

    /// Locks it.
    pub fn lock(&self) -> MutexGuard<'_, Membership> {
        self.0.lock().expect("membership poisoned")
    }

    /// Applies an error from the coordinator about the member in `generation`: the
    /// rebalance and eviction errors of Kafka's heartbeat and commit handlers. An answer
    /// about an older generation than the member's current one is ignored.
    pub fn absorb_error(&self, member_id: &str, generation: u32, error: ErrorCode) {
        let mut m = self.lock();
        if m.member_id != member_id || m.generation != Some(generation) {
            return;
        }
        match error {
            ErrorCode::RebalanceInProgress => m.rejoin_needed = true,
            ErrorCode::IllegalGeneration => {
                m.generation = None;
                m.rejoin_needed = true;
            }
            ErrorCode::UnknownMemberId => {
                m.member_id.clear();
                m.generation = None;
                m.rejoin_needed = true;
            }
            ErrorCode::FencedInstanceId => {
                m.generation = None;
                m.fenced = true;
            }
            _ => {}
        }
    }
}

impl Default for SharedMembership {
    fn default() -> Self {
        Self::new(None)
    }
}

/// The heartbeat thread's settings.
#[derive(Clone, Copy, Debug)]
pub struct HeartbeatConfig {
    /// `heartbeat.interval.ms`.
    pub interval_ms: u64,
    /// `max.poll.interval.ms`.
    pub max_poll_interval_ms: u64,
    /// `request.timeout.ms`.
    pub request_timeout_ms: u64,
}

/// The heartbeat thread: runs until the member's task is dropped (spawn it on the
/// member's node so that a crash kills it too). It has its own connection to the
/// coordinator, as the heartbeat must not wait behind a long JoinGroup on the
/// application's connection.
///
/// It beats while the member holds a generation and no rebalance round is in flight,
/// whether or not a rejoin is pending: Kafka's `HeartbeatThread` stops only once
/// `initiateJoinGroup` moved the member to PREPARING_REBALANCE, so a member told
/// REBALANCE_IN_PROGRESS keeps its session alive (the coordinator answers each beat with
/// that error and waits up to the rebalance timeout for its JoinGroup). Simplification:
/// Kafka resumes beating with the new generation once the JoinGroup is answered
/// (COMPLETING_REBALANCE); here the pause lasts until the SyncGroup is answered.
pub async fn run(mut link: CoordinatorLink, membership: SharedMembership, config: HeartbeatConfig) {
    let timeout = Duration::from_millis(config.request_timeout_ms);
    loop {
        sleep(Duration::from_millis(config.interval_ms)).await;
        let (member_id, generation, instance_id, polled_long_ago) = {
            let m = membership.lock();
            let Some(generation) = m.generation else { continue };
            if m.round_in_flight {
                continue;
            }
            let idle = clock::now().duration_since(m.last_poll);
            let polled_long_ago = idle > Duration::from_millis(config.max_poll_interval_ms);
            (m.member_id.clone(), generation, m.instance_id.clone(), polled_long_ago)
        };
        if polled_long_ago {
            leave_for_poll_timeout(&mut link, &membership, &member_id, generation, timeout).await;
            continue;
        }
        let request = GroupRequest::Heartbeat {
            group: link.group().to_string(),
            generation,
            member_id: member_id.clone(),
            group_instance_id: instance_id,
        };
        let answer = link.call(request, timeout).await;
        tracing::debug!(generation, ?answer, "Heartbeat");
        if let Ok(GroupResponse::Ack { error: Some(error) }) = answer {
            membership.absorb_error(&member_id, generation, error);
        }
    }
}

/// Kafka's `maybeLeaveGroup("consumer poll timeout has expired")`: the member forgets
/// its generation and member id, and a dynamic member leaves so that its partitions go
/// to members that are making progress. A static member sends no LeaveGroup (KIP-345):
/// it keeps its place until its session times out, and its next poll rejoins with its
/// instance id.
async fn leave_for_poll_timeout(
    link: &mut CoordinatorLink,
    membership: &SharedMembership,
    member_id: &str,
    generation: u32,
    timeout: Duration,
) {
    {
        let mut m = membership.lock();
        if m.member_id != member_id || m.generation != Some(generation) {
            return;
        }
        m.member_id.clear();
        m.generation = None;
        m.rejoin_needed = true;
        if m.instance_id.is_some() {
            return;
        }
    }
    let request = GroupRequest::LeaveGroup {
        group: link.group().to_string(),
        member_id: member_id.to_string(),
        group_instance_id: None,
    };
    // Best effort, as in Kafka: if the LeaveGroup is lost, the session timeout evicts.
    let _ = link.call(request, timeout).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fenced_instance_id_fences_the_member_for_good_and_other_errors_make_it_rejoin() {
        madsim::runtime::Runtime::new().block_on(async {
            let membership = SharedMembership::new(Some("pod-1".into()));
            let joined = |m: &SharedMembership| {
                let mut m = m.lock();
                m.member_id = "pod-1-a".into();
                m.generation = Some(4);
                m.rejoin_needed = false;
            };
            joined(&membership);
            membership.absorb_error("pod-1-a", 4, ErrorCode::UnknownMemberId);
            assert!(membership.lock().rejoin_needed && !membership.lock().fenced);
            joined(&membership);
            membership.absorb_error("pod-1-a", 4, ErrorCode::FencedInstanceId);
            let m = membership.lock();
            assert!(m.fenced && m.generation.is_none(), "another process took the instance over");
        });
    }
}

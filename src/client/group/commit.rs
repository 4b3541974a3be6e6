//! Offset commits: one OffsetCommit request and what its answer means, and the retry
//! loop of Kafka's `ConsumerCoordinator.commitOffsetsSync`, which tries again after
//! `retry.backoff.ms` while the error is retriable and its timer has time left.

use super::coordinator::{CoordinatorLink, LinkError};
use super::heartbeat::SharedMembership;
use super::{CommitOutcome, Generation};
use crate::client::backoff::RetryBackoff;
use crate::protocol::{ErrorCode, GroupRequest, GroupResponse, Offset, TopicPartition};
use crate::sim::clock;
use madsim::time::sleep;
use std::time::Duration;

/// How long a commit may keep trying.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum CommitBudget {
    /// One attempt (Kafka's `commitAsync`, and the periodic auto-commit).
    OneAttempt,
    /// Attempts until this much time has passed (Kafka's `commitSync(timeout)`).
    Retry(Duration),
}

/// What one OffsetCommit attempt came to.
pub(super) enum Attempt {
    /// An outcome to report.
    Done(CommitOutcome),
    /// A retriable failure (Kafka's `RetriableCommitFailedException`): the coordinator
    /// moved, is unavailable, or did not answer in time; another attempt may work.
    Retry {
        /// The error, for the report if no attempt succeeds.
        error: ErrorCode,
        /// Why the offsets may have been written all the same (the request reached a
        /// coordinator, which may have appended them), if they may.
        maybe_written: Option<&'static str>,
    },
}

/// How the coordinator's errors read to the committing member (Kafka's
/// `OffsetCommitResponseHandler`).
fn classify(error: ErrorCode) -> Attempt {
    match error {
        ErrorCode::NotCoordinator => Attempt::Retry { error, maybe_written: None },
        // The offsets record was appended, or refused for lack of in-sync replicas; the
        // member cannot tell which, so they may still be committed.
        ErrorCode::CoordinatorNotAvailable | ErrorCode::CoordinatorLoadInProgress | ErrorCode::RequestTimedOut => {
            Attempt::Retry { error, maybe_written: Some("the offsets were written but not replicated in time") }
        }
        // A topic the coordinator's broker does not know (deleted): "just retry", until
        // the commit's time is up.
        ErrorCode::UnknownTopicOrPartition => Attempt::Retry { error, maybe_written: None },
        error => Attempt::Done(CommitOutcome::Refused(error)),
    }
}

/// Who a commit comes from.
#[derive(Clone, Copy, Debug)]
pub(super) enum Committer<'a> {
    /// A group member, in its generation.
    Member(&'a Generation),
    /// A consumer outside the group's membership (assign mode): no generation, no member
    /// id, accepted only while the group has no members (Kafka's simple consumer commit).
    Standalone,
}

/// One OffsetCommit request and what its answer means. Eviction errors are passed on to
/// the membership (the member must rejoin).
pub(super) async fn commit_once(
    link: &mut CoordinatorLink,
    membership: &SharedMembership,
    committer: Committer<'_>,
    offsets: &[(TopicPartition, Offset)],
    timeout: Duration,
) -> Attempt {
    let (generation, member_id) = match committer {
        Committer::Member(g) => (Some(g.generation), g.member_id.clone()),
        Committer::Standalone => (None, String::new()),
    };
    let request = GroupRequest::OffsetCommit {
        group: link.group().to_string(),
        generation,
        member_id,
        group_instance_id: membership.lock().instance_id.clone(),
        offsets: offsets.to_vec(),
    };
    match link.call(request, timeout).await {
        Ok(GroupResponse::Ack { error: None }) => Attempt::Done(CommitOutcome::Committed),
        Ok(GroupResponse::Ack { error: Some(error) }) => {
            let attempt = classify(error);
            if let (Attempt::Done(CommitOutcome::Refused(error)), Committer::Member(g)) = (&attempt, committer) {
                membership.absorb_error(&g.member_id, g.generation, *error);
            }
            attempt
        }
        Ok(_) | Err(LinkError::CoordinatorUnknown) => {
            Attempt::Retry { error: ErrorCode::CoordinatorNotAvailable, maybe_written: None }
        }
        Err(LinkError::Indeterminate) => {
            Attempt::Retry { error: ErrorCode::RequestTimedOut, maybe_written: Some("the commit's answer was lost") }
        }
    }
}

/// Commits `offsets` within `budget` (Kafka's `commitOffsetsSync`): each attempt waits
/// at most `request_timeout` (and no longer than the budget left); a retriable failure
/// is tried again after `backoff` while time is left (`retry.backoff.ms`; from Kafka 3.7
/// `retryBackoff.backoff(attempts++)`, KIP-580). When every attempt failed, the
/// outcome is unknown if any of them may have been written, else refused with the last
/// error.
pub(super) async fn commit_with_retries(
    link: &mut CoordinatorLink,
    membership: &SharedMembership,
    committer: Committer<'_>,
    offsets: &[(TopicPartition, Offset)],
    budget: CommitBudget,
    request_timeout: Duration,
    backoff: RetryBackoff,
) -> CommitOutcome {
    let deadline = match budget {
        CommitBudget::OneAttempt => None,
        CommitBudget::Retry(budget) => Some(clock::now() + budget),
    };
    let mut maybe_written = None;
    let mut attempts = 0;
    loop {
        let timeout =
            deadline.map_or(request_timeout, |d| request_timeout.min(d.saturating_duration_since(clock::now())));
        let error = match commit_once(link, membership, committer, offsets, timeout.max(Duration::from_millis(1))).await
        {
            Attempt::Done(CommitOutcome::Refused(error)) => {
                return match maybe_written {
                    Some(reason) => CommitOutcome::Unknown(String::from(reason)),
                    None => CommitOutcome::Refused(error),
                };
            }
            Attempt::Done(outcome) => return outcome,
            Attempt::Retry { error, maybe_written: written } => {
                maybe_written = maybe_written.or(written);
                error
            }
        };
        let give_up = || match maybe_written {
            Some(reason) => CommitOutcome::Unknown(String::from(reason)),
            None => CommitOutcome::Refused(error),
        };
        // One attempt only (no deadline): no backoff is drawn.
        let Some(deadline) = deadline else { return give_up() };
        let wait = backoff.backoff(attempts);
        attempts += 1;
        if clock::now() + wait >= deadline {
            return give_up();
        }
        sleep(wait).await;
    }
}

#[cfg(test)]
#[path = "commit_tests.rs"]
mod tests;

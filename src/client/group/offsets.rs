//! The member's committed offsets: reading them for the partitions it is given
//! (OffsetFetch), and committing them as the application asks (`commitSync`,
//! `commitAsync`) and as auto-commit does, over the retry loop of `commit`.

use super::commit::{commit_with_retries, CommitBudget, Committer};
use super::{CommitOutcome, Generation, GroupConsumer, GroupListener};
use crate::client::backoff::RetryBackoff;
use crate::protocol::{ErrorCode, GroupRequest, GroupResponse, Offset, TopicPartition};
use crate::sim::clock;
use std::time::Duration;

impl GroupConsumer {
    /// Commits `offsets` (next offsets to consume) in the member's generation and waits
    /// for the answer (Kafka's `commitSync`), retrying on retriable errors for up to
    /// `default.api.timeout.ms`. Refused when the member holds no generation.
    pub async fn commit_sync(
        &mut self,
        offsets: Vec<(TopicPartition, Offset)>,
        listener: &mut impl GroupListener,
    ) -> CommitOutcome {
        let budget = CommitBudget::Retry(Duration::from_millis(self.config.default_api_timeout_ms));
        self.commit_within(offsets, budget, listener).await
    }

    /// A synchronous commit within `budget`, told to the listener.
    async fn commit_within(
        &mut self,
        offsets: Vec<(TopicPartition, Offset)>,
        budget: CommitBudget,
        listener: &mut impl GroupListener,
    ) -> CommitOutcome {
        self.refresh_member_epoch();
        let Some(generation) = self.generation.clone() else {
            return CommitOutcome::Refused(ErrorCode::UnknownMemberId);
        };
        listener.commit_started(&generation, &offsets);
        if self.joining.is_some() {
            let outcome = Self::refused_while_rebalancing();
            listener.commit_finished(&generation, &offsets, &outcome);
            return outcome;
        }
        let timeout = self.request_timeout();
        let backoff = RetryBackoff::new(self.config.retry_backoff_ms, self.config.retry_backoff_max_ms);
        let committer = self.committer(&generation);
        let outcome =
            commit_with_retries(&mut self.link, &self.membership, committer, &offsets, budget, timeout, backoff).await;
        listener.commit_finished(&generation, &offsets, &outcome);
        outcome
    }

    /// Auto-commits every held partition's position within `budget`, if auto-commit is
    /// on and there is something to commit. Returns the outcome, if it committed.
    pub(super) async fn auto_commit(
        &mut self,
        budget: CommitBudget,
        listener: &mut impl GroupListener,
    ) -> Option<CommitOutcome> {
        if !self.config.enable_auto_commit || self.generation.is_none() {
            return None;
        }
        let offsets = self.consumed_offsets();
        if offsets.is_empty() {
            return None;
        }
        Some(self.commit_within(offsets, budget, listener).await)
    }

    /// Every held partition's position: what auto-commit commits.
    pub fn consumed_offsets(&self) -> Vec<(TopicPartition, Offset)> {
        self.assignment.iter().filter_map(|tp| Some((tp.clone(), self.consumer.position(tp)?))).collect()
    }

    /// How the member's commits name it: a standalone committer when it assigned its
    /// partitions itself.
    fn committer<'g>(&self, generation: &'g Generation) -> Committer<'g> {
        if self.manual.is_some() {
            Committer::Standalone
        } else {
            Committer::Member(generation)
        }
    }

    /// OffsetFetch for `partitions`; their positions start at the committed offsets, and
    /// partitions without one are reset by `auto.offset.reset` on the first fetch.
    pub(super) async fn read_committed_offsets(&mut self, partitions: Vec<TopicPartition>) -> bool {
        if partitions.is_empty() {
            return true;
        }
        // A consumer-protocol member names itself and its latest epoch (OffsetFetch v9).
        self.refresh_member_epoch();
        let member = self.kip848.as_ref().and(self.generation.as_ref()).map(|g| (g.member_id.clone(), g.generation));
        let request = GroupRequest::OffsetFetch { group: self.config.group_id.clone(), member, partitions };
        match self.link.call(request, self.request_timeout()).await {
            Ok(GroupResponse::Offsets { error: None, offsets }) => {
                for (tp, committed) in offsets {
                    if let Some(offset) = committed {
                        // Simplified: Kafka 2.3+ commits the position's leader epoch
                        // (OffsetCommit v6+) and validates a position restored from it
                        // (`refreshCommittedOffsetsIfNeeded` -> `seekUnvalidated`); here the
                        // committed offset carries no epoch, so the restored position is
                        // validated only after the member has fetched from it.
                        self.consumer.seek(&tp, offset);
                    }
                }
                true
            }
            _ => false,
        }
    }

    /// The periodic auto-commit (Kafka's `maybeAutoCommitOffsetsAsync`): one attempt
    /// every `auto.commit.interval.ms`, tried again after `retry.backoff.ms` when it
    /// failed for a retriable reason.
    pub(super) async fn maybe_auto_commit(&mut self, listener: &mut impl GroupListener) {
        if !self.config.enable_auto_commit || clock::now() < self.next_auto_commit {
            return;
        }
        if self.joining.is_some() {
            self.skip_auto_commit_while_rebalancing();
            return;
        }
        self.next_auto_commit = clock::now() + Duration::from_millis(self.config.auto_commit_interval_ms);
        if self.auto_commit(CommitBudget::OneAttempt, listener).await.is_some_and(|o| o.is_retriable_failure()) {
            self.next_auto_commit = clock::now() + Duration::from_millis(self.config.retry_backoff_ms);
        }
    }

    /// A due auto-commit while a rebalance is in progress fails in the client, without a
    /// request (`generationIfStable()` is null: a `RebalanceInProgressException`, which
    /// is not retriable), and the next one comes a whole interval later.
    pub(super) fn skip_auto_commit_while_rebalancing(&mut self) {
        if self.config.enable_auto_commit && clock::now() >= self.next_auto_commit {
            self.next_auto_commit = clock::now() + Duration::from_millis(self.config.auto_commit_interval_ms);
        }
    }

    /// What a commit the application asks for during a rebalance gets: Kafka's
    /// `sendOffsetCommitRequest` fails it at once (REBALANCE_IN_PROGRESS, a
    /// `RebalanceInProgressException`) while the member is not stable.
    fn refused_while_rebalancing() -> CommitOutcome {
        CommitOutcome::Refused(ErrorCode::RebalanceInProgress)
    }

    /// Sends a commit of `offsets` in the member's generation without waiting for the
    /// answer (Kafka's `commitAsync`: one attempt, no retries); the application goes on
    /// and later awaits the returned [`PendingCommit`]. `None` when the member holds no
    /// generation.
    pub fn commit_async(
        &mut self,
        offsets: Vec<(TopicPartition, Offset)>,
        listener: &mut impl GroupListener,
    ) -> Option<PendingCommit> {
        self.refresh_member_epoch();
        let generation = self.generation.clone()?;
        listener.commit_started(&generation, &offsets);
        if self.joining.is_some() {
            let task = crate::sim::tasks::spawn(async { Self::refused_while_rebalancing() });
            return Some(PendingCommit { generation, offsets, task });
        }
        let (link, membership, timeout) = (self.async_link.clone(), self.membership.clone(), self.request_timeout());
        let (gen, sent, standalone) = (generation.clone(), offsets.clone(), self.manual.is_some());
        let task = crate::sim::tasks::spawn(async move {
            let mut link = link.lock().await;
            let once = CommitBudget::OneAttempt;
            let committer = if standalone { Committer::Standalone } else { Committer::Member(&gen) };
            commit_with_retries(&mut link, &membership, committer, &sent, once, timeout, RetryBackoff::Fixed { ms: 0 })
                .await
        });
        Some(PendingCommit { generation, offsets, task })
    }

    /// Waits for an asynchronous commit and tells the listener how it ended (Kafka's
    /// `OffsetCommitCallback`).
    pub async fn finish_commit(&mut self, pending: PendingCommit, listener: &mut impl GroupListener) -> CommitOutcome {
        let outcome =
            pending.task.await.unwrap_or_else(|_| CommitOutcome::Unknown("the commit task was cancelled".into()));
        listener.commit_finished(&pending.generation, &pending.offsets, &outcome);
        outcome
    }
}

/// A commit sent by [`GroupConsumer::commit_async`], not yet answered.
pub struct PendingCommit {
    generation: Generation,
    offsets: Vec<(TopicPartition, Offset)>,
    task: madsim::task::JoinHandle<CommitOutcome>,
}

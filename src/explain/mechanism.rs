//! Counts of the mechanisms a lesson is about, read from the history, for `run`,
//! `explain` and the report to show: the coordinator's refusals of stale commits.

use crate::history::{History, OpFn, OpType};
use crate::protocol::ErrorCode;
use crate::scenario::Lang;
use std::collections::BTreeMap;

/// The errors by which a group coordinator refuses a commit from a member that is no
/// longer the partition's owner in the current generation (`GroupMetadata`'s
/// `validateOffsetCommit`; KIP-345's static members; KIP-848's member epochs).
const STALE_COMMIT_ERRORS: [ErrorCode; 5] = [
    ErrorCode::UnknownMemberId,
    ErrorCode::IllegalGeneration,
    ErrorCode::FencedInstanceId,
    ErrorCode::StaleMemberEpoch,
    ErrorCode::FencedMemberEpoch,
];

/// Whether `error` (Kafka's name) refuses a commit as a stale member's.
pub fn is_stale_commit_error(error: &str) -> bool {
    STALE_COMMIT_ERRORS.iter().any(|c| c.kafka_name() == error)
}

/// Offset commits the coordinator refused as stale, by error (Kafka's name).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RefusedCommits {
    /// Error name → how many commits it refused, in name order.
    pub by_error: BTreeMap<&'static str, usize>,
}

impl RefusedCommits {
    /// The failed commit ops of `history` whose error is a stale-member refusal.
    pub fn of(history: &History) -> RefusedCommits {
        let mut by_error = BTreeMap::new();
        for op in history.ops.iter().filter(|op| op.f == OpFn::Commit && op.kind == OpType::Fail) {
            let Some(error) = op.error.as_deref() else { continue };
            if let Some(code) = STALE_COMMIT_ERRORS.iter().find(|c| c.kafka_name() == error) {
                *by_error.entry(code.kafka_name()).or_insert(0) += 1;
            }
        }
        RefusedCommits { by_error }
    }

    /// How many commits were refused in all.
    pub fn total(&self) -> usize {
        self.by_error.values().sum()
    }

    /// `stale commits refused: 3 (ILLEGAL_GENERATION 1, UNKNOWN_MEMBER_ID 2)`, or
    /// nothing when none was.
    pub fn line(&self) -> Option<String> {
        self.line_in(Lang::En)
    }

    /// [`RefusedCommits::line`] in `lang`.
    pub fn line_in(&self, lang: Lang) -> Option<String> {
        if self.by_error.is_empty() {
            return None;
        }
        let parts: Vec<String> = self.by_error.iter().map(|(e, n)| format!("{e} {n}")).collect();
        Some(lang.pick(
            format!(
                "stale commits refused: {} ({}): the coordinator kept members of older generations from overwriting the new owners' offsets",
                self.total(),
                parts.join(", ")
            ),
            format!(
                "被拒绝的过时提交：{}（{}）：协调者阻止了旧代的成员覆盖新所有者的位移",
                self.total(),
                parts.join(", ")
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testkit::Hist;

    #[test]
    fn refused_commits_are_counted_by_error() {
        let mut h = Hist::new()
            .member(1, "g", "m1", 1)
            .commit(1, OpType::Fail, &[("x", 3)])
            .commit(1, OpType::Fail, &[("x", 4)])
            .commit(1, OpType::Fail, &[("x", 5)])
            .commit(1, OpType::Fail, &[("x", 6)])
            .build();
        let errors = ["UNKNOWN_MEMBER_ID", "ILLEGAL_GENERATION", "UNKNOWN_MEMBER_ID", "COORDINATOR_NOT_AVAILABLE"];
        for (op, error) in h.ops.iter_mut().filter(|op| op.kind == OpType::Fail).zip(errors) {
            op.error = Some(error.to_string());
        }
        let refused = RefusedCommits::of(&h);
        assert_eq!(refused.total(), 3);
        assert_eq!(
            refused.line().unwrap(),
            "stale commits refused: 3 (ILLEGAL_GENERATION 1, UNKNOWN_MEMBER_ID 2): the coordinator kept members of older generations from overwriting the new owners' offsets"
        );
        assert_eq!(RefusedCommits::of(&Hist::new().build()).line(), None);
    }
}

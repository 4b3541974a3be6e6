//! Which anomalies Jepsen's Kafka checker tolerates: `allowed-error-types` in
//! `jepsen.tests.kafka`, which decides `:valid?` (a test is valid when every error type
//! it found is allowed). Jepsen reads two options of the test; kafkasim reads them off
//! the history ([`JepsenOptions::of`]).
//!
//! The rules, with Jepsen's reasons (its comments quoted):
//!
//! - `int-send-skip`, always: "int-send-skip is normal behavior: transaction writes
//!   interleave constantly in the Kafka transaction model. We don't even bother looking
//!   at external send skips."
//! - `G0`, always: "G0 is always allowed, since writes are never isolated" (also its
//!   `-process` and `-realtime` variants and Elle's `PL-1-cycle-exists`, which kafkasim
//!   does not report).
//! - `poll-skip` and `nonmonotonic-poll`, when the test subscribes (`:sub-via` holds
//!   `:subscribe`): "With subscribe, we expect external poll skips and nonmonotonic
//!   polls, because our consumer might be rebalanced between transactions. Without
//!   subscribe, we expect consumers to proceed in order."
//! - `G1c`, when the test infers ww dependencies (`:ww-deps`): "When we include ww edges,
//!   G1c is normal--the lack of write isolation means we should expect cycles like
//!   t0 <ww t1 <wr t0." (also `-process`, `-realtime`, `PL-2-cycle-exists`). Without ww
//!   edges a `G1c` is a cycle of wr edges only, two transactions each seeing the other's
//!   writes, which read_committed forbids.
//!
//! Everything else is an error: Jepsen's own types (`lost-write`, `duplicate`,
//! `inconsistent-offsets`, `unseen`, `nonmonotonic-send`, `int-nonmonotonic-send`,
//! `int-poll-skip`, `int-nonmonotonic-poll`, `G1a`, `precommitted-read`), and kafkasim's
//! own kinds, which Jepsen does not know and which are never allowed here.

use crate::check::AnomalyKind;
use crate::history::{History, OpFn};
use std::collections::BTreeSet;

/// The options of a Jepsen Kafka test that `allowed-error-types` reads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct JepsenOptions {
    /// The consumers subscribe (Jepsen's `:sub-via` holds `:subscribe`), so a rebalance
    /// may move a consumer's position between two of its polls.
    pub subscribe: bool,
    /// The cycle search uses write-write edges inferred from offsets (Jepsen's
    /// `:ww-deps`, on by default on Jepsen's command line, off with `--no-ww-deps`).
    pub ww_deps: bool,
}

impl JepsenOptions {
    /// The options a history was checked under by [`check`](super::check): `subscribe`
    /// when any op of the history is a `subscribe` (Jepsen decides it from the test's
    /// configuration; its generator then emits `subscribe` ops), and `ww_deps`, since
    /// kafkasim's cycle search always infers ww edges.
    pub fn of(history: &History) -> Self {
        JepsenOptions { subscribe: history.ops.iter().any(|op| op.f == OpFn::Subscribe), ww_deps: true }
    }
}

/// Jepsen's `allowed-error-types`: the anomaly kinds a test with these options tolerates.
pub fn allowed_error_types(options: JepsenOptions) -> BTreeSet<AnomalyKind> {
    let mut allowed = BTreeSet::from([AnomalyKind::IntSendSkip, AnomalyKind::G0]);
    if options.subscribe {
        allowed.extend([AnomalyKind::PollSkip, AnomalyKind::NonmonotonicPoll]);
    }
    if options.ww_deps {
        allowed.insert(AnomalyKind::G1c);
    }
    allowed
}

/// Whether Jepsen's Kafka checker would tolerate anomalies of this kind in this history,
/// checked as [`check`](super::check) checks it (see [`JepsenOptions::of`]).
pub fn allowed_by_default(kind: AnomalyKind, history: &History) -> bool {
    allowed_error_types(JepsenOptions::of(history)).contains(&kind)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::testkit::Hist;

    #[test]
    fn int_send_skip_and_g0_are_always_allowed_and_ordering_errors_never() {
        let allowed = allowed_error_types(JepsenOptions::default());
        assert_eq!(allowed, BTreeSet::from([AnomalyKind::IntSendSkip, AnomalyKind::G0]));
        let every = allowed_error_types(JepsenOptions { subscribe: true, ww_deps: true });
        for kind in [
            AnomalyKind::LostWrite,
            AnomalyKind::Unseen,
            AnomalyKind::NonmonotonicSend,
            AnomalyKind::IntNonmonotonicSend,
            AnomalyKind::IntPollSkip,
            AnomalyKind::IntNonmonotonicPoll,
            AnomalyKind::G1a,
            AnomalyKind::PrecommittedRead,
            AnomalyKind::ExactlyOnce,
            AnomalyKind::ConsumeSkip,
        ] {
            assert!(!every.contains(&kind), "{kind}");
        }
    }

    #[test]
    fn subscribing_allows_poll_skips_and_ww_deps_allow_g1c() {
        let sub = allowed_error_types(JepsenOptions { subscribe: true, ww_deps: false });
        assert!(sub.contains(&AnomalyKind::PollSkip) && sub.contains(&AnomalyKind::NonmonotonicPoll));
        assert!(!sub.contains(&AnomalyKind::G1c) && !sub.contains(&AnomalyKind::IntPollSkip));
        let ww = allowed_error_types(JepsenOptions { subscribe: false, ww_deps: true });
        assert!(ww.contains(&AnomalyKind::G1c) && !ww.contains(&AnomalyKind::PollSkip));
    }

    #[test]
    fn the_options_come_from_the_history() {
        let assigned = Hist::new().assign(1, &["x"]).poll_ok(1, &[("x", &[(0, 10)])]).build();
        assert_eq!(JepsenOptions::of(&assigned), JepsenOptions { subscribe: false, ww_deps: true });
        assert!(!allowed_by_default(AnomalyKind::PollSkip, &assigned));
        assert!(allowed_by_default(AnomalyKind::G1c, &assigned));
        let subscribed = Hist::new().subscribe(1, &["x"]).build();
        assert!(JepsenOptions::of(&subscribed).subscribe);
        assert!(allowed_by_default(AnomalyKind::PollSkip, &subscribed));
        assert!(allowed_by_default(AnomalyKind::G0, &subscribed));
        assert!(!allowed_by_default(AnomalyKind::LostWrite, &subscribed));
    }
}

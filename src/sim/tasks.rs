//! Spawning tasks without keeping every finished task's record for the whole run.
//!
//! madsim's node keeps a `Weak<TaskInfo>` for every task ever spawned on it (to cancel
//! them when the node is killed) and drops the dead ones only when someone counts the
//! tasks. A `Weak` keeps its allocation alive, so a client that spawns a task per
//! request (the producer, one per produce request) holds the record of every finished
//! task, a few hundred bytes with its tracing span, until its node goes: 217 MB in the
//! scale scenario. [`spawn`] has madsim drop the dead entries every
//! [`SPAWNS_BETWEEN_PRUNES`] spawns, through its public task count. Counting touches
//! neither the clock nor the random generator, so the runs do not change.

use madsim::task::JoinHandle;
use std::cell::Cell;
use std::future::Future;

/// How many spawns on this thread go by between two prunes of madsim's task lists. A
/// prune walks every node's list once, so this keeps its cost per spawn negligible
/// while the lists hold at most this many finished tasks.
pub const SPAWNS_BETWEEN_PRUNES: u64 = 4096;

thread_local! {
    /// Spawns on this thread since the last prune (each simulation runs on one thread).
    static SPAWNS_SINCE_PRUNE: Cell<u64> = const { Cell::new(0) };
}

/// Spawns `future` on the current node, as `madsim::task::spawn` does, and now and then
/// prunes the finished tasks madsim still lists (see the module).
#[track_caller]
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    if prune_due() {
        // Counting retains only the live tasks' entries (`NodeInfo::num_tasks`).
        madsim::runtime::Handle::current().metrics().num_tasks();
    }
    madsim::task::spawn(future)
}

/// Counts a spawn; true at every [`SPAWNS_BETWEEN_PRUNES`]-th.
fn prune_due() -> bool {
    SPAWNS_SINCE_PRUNE.with(|spawns| {
        let n = spawns.get() + 1;
        spawns.set(n % SPAWNS_BETWEEN_PRUNES);
        n == SPAWNS_BETWEEN_PRUNES
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use madsim::runtime::Runtime;

    #[test]
    fn a_prune_comes_every_so_many_spawns_and_spawned_tasks_run() {
        // Each test runs on its own thread, so the count starts at zero.
        let n = SPAWNS_BETWEEN_PRUNES;
        let due: Vec<u64> = (1..=3 * n).filter(|_| prune_due()).collect();
        assert_eq!(due, vec![n, 2 * n, 3 * n]);
        Runtime::with_seed_and_config(1, madsim::Config::default()).block_on(async {
            let mut total = 0;
            for i in 0..n {
                total += spawn(async move { i }).await.expect("the task ran");
            }
            assert_eq!(total, n * (n - 1) / 2);
        });
    }
}

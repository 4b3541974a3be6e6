//! Cancellable deadlines: many waits, one timer entry at a time.
//!
//! Every request a client sends waits for its answer at most its timeout (Kafka's
//! `request.timeout.ms`, 30 s by default), and nearly every answer comes first. madsim's
//! timer cannot remove an entry, so a sleep per request left one dead entry per request
//! (tens of thousands in a run), each of which later moved the clock and woke its task
//! for nothing. Kafka's `NetworkClient` does not arm a timer per request either: it
//! checks its in-flight requests' deadlines as it polls (`handleTimedOutRequests`).
//!
//! Here a wait registers its deadline in one book and removes it when dropped. One task
//! sleeps until the earliest deadline in the book and wakes the waits whose deadlines
//! passed; when it wakes and the deadline it slept for was removed, it sleeps until the
//! earliest one left. A run thus arms about one timer entry per timeout period instead of
//! one per request. A wait learns that its time ran out by reading the clock, so it ends
//! exactly at its deadline, as a sleep would.
//!
//! Simplified: the broker's own waits (a fetch long-poll, an acks=all produce in its
//! purgatory) still sleep with one madsim timer entry each (`sim::timer`), which Kafka's
//! purgatory would cancel (`TimerTask.cancel`). Moving them here was tried and measured
//! (2026-12-07): it changes every run and costs more than it saves, since at scale the
//! book holds about 150,000 pending produce deadlines whose B-tree inserts and removals
//! cost more than madsim's heap entries (25-second cut of `scenarios/heavy/scale.toml`:
//! 23.07 against 22.77 billion instructions).

use super::timer::sleep_until_once;
use madsim::runtime::NodeHandle;
use madsim::time::Instant;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use tokio::sync::Notify;

/// The registered deadlines and the task that watches them.
pub struct Deadlines {
    book: Mutex<Book>,
    /// Wakes the watching task for a deadline earlier than the one it sleeps for.
    earlier: Notify,
}

#[derive(Default)]
struct Book {
    /// The waiting futures' wakers, by deadline (ties in registration order).
    waiting: BTreeMap<(Instant, u64), Waker>,
    /// The number the next registration gets.
    next_id: u64,
    /// The deadline the watching task sleeps until, if it sleeps.
    sleeping_until: Option<Instant>,
}

impl Deadlines {
    /// A book of deadlines whose watching task runs on `node` (which must outlive every
    /// wait: the network's never-crashing node).
    pub fn start(node: &NodeHandle) -> Arc<Self> {
        let deadlines = Arc::new(Deadlines { book: Mutex::default(), earlier: Notify::new() });
        let watched = deadlines.clone();
        node.spawn(async move {
            loop {
                let earlier = watched.earlier.notified();
                match watched.wake_expired() {
                    None => earlier.await,
                    Some(at) => tokio::select! {
                        biased;
                        () = earlier => {}
                        () = sleep_until_once(at) => {}
                    },
                }
            }
        });
        deadlines
    }

    /// Awaits `future` for at most `duration` (as `tokio::time::timeout`): `Err(())` when
    /// the time ran out first. The deadline is fixed when this is called, and the future
    /// is polled first, so a future that is ready at the deadline wins (as madsim's
    /// `timeout`).
    pub fn timeout<F: Future>(
        self: &Arc<Self>,
        duration: Duration,
        future: F,
    ) -> impl Future<Output = Result<F::Output, ()>> {
        let deadline = self.sleep_until(crate::sim::clock::now() + duration);
        async move {
            tokio::select! {
                biased;
                output = future => Ok(output),
                () = deadline => Err(()),
            }
        }
    }

    /// Sleeps until `at`, registered in the book while pending (a sleep dropped before
    /// its deadline leaves nothing behind).
    fn sleep_until(self: &Arc<Self>, at: Instant) -> Deadline {
        Deadline { deadlines: self.clone(), at, id: None }
    }

    fn book(&self) -> MutexGuard<'_, Book> {
        self.book.lock().expect("deadline book poisoned")
    }

    /// Wakes the waits whose deadlines passed; returns the earliest deadline left, which
    /// the watching task then sleeps until.
    fn wake_expired(&self) -> Option<Instant> {
        let now = crate::sim::clock::now();
        let mut book = self.book();
        while let Some(entry) = book.waiting.first_entry() {
            if entry.key().0 > now {
                break;
            }
            entry.remove().wake();
        }
        book.sleeping_until = book.waiting.first_key_value().map(|((at, _), _)| *at);
        book.sleeping_until
    }
}

/// A sleep until a deadline, registered in its book while pending.
struct Deadline {
    deadlines: Arc<Deadlines>,
    at: Instant,
    /// The registration's number, once registered.
    id: Option<u64>,
}

impl Future for Deadline {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if crate::sim::clock::now() >= this.at {
            this.deregister();
            return Poll::Ready(());
        }
        let at = this.at;
        let mut book = this.deadlines.book();
        match this.id {
            Some(id) => {
                let waker = book.waiting.get_mut(&(at, id)).expect("a pending deadline stays in the book");
                if !waker.will_wake(cx.waker()) {
                    waker.clone_from(cx.waker());
                }
            }
            None => {
                let id = book.next_id;
                book.next_id += 1;
                book.waiting.insert((at, id), cx.waker().clone());
                this.id = Some(id);
                if book.sleeping_until.is_none_or(|sleeping| at < sleeping) {
                    book.sleeping_until = Some(at);
                    this.deadlines.earlier.notify_one();
                }
            }
        }
        Poll::Pending
    }
}

impl Deadline {
    fn deregister(&mut self) {
        if let Some(id) = self.id.take() {
            self.deadlines.book().waiting.remove(&(self.at, id));
        }
    }
}

impl Drop for Deadline {
    fn drop(&mut self) {
        self.deregister();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use madsim::runtime::{Handle, Runtime};

    fn run<F: Future<Output = ()> + 'static>(test: impl FnOnce(Arc<Deadlines>) -> F + 'static) {
        Runtime::with_seed_and_config(1, madsim::Config::default()).block_on(async move {
            let node = Handle::current().create_node().name("wire").build();
            test(Deadlines::start(&node)).await;
        });
    }

    /// Asserts that `elapsed` is `expected` up to the 50 ns madsim adds each time it
    /// moves the clock to the next timer.
    fn assert_about(elapsed: Duration, expected: Duration) {
        assert!(
            elapsed >= expected && elapsed < expected + Duration::from_micros(1),
            "{elapsed:?} is not {expected:?}"
        );
    }

    #[test]
    fn the_output_wins_when_the_future_finishes_first() {
        run(|deadlines| async move {
            let start = Instant::now();
            let result = deadlines
                .timeout(Duration::from_secs(2), async {
                    madsim::time::sleep(Duration::from_secs(1)).await;
                    7
                })
                .await;
            assert_eq!(result, Ok(7));
            assert_about(Instant::now() - start, Duration::from_secs(1));
            assert!(deadlines.book().waiting.is_empty(), "a finished wait leaves the book");
        });
    }

    #[test]
    fn the_wait_ends_at_its_deadline() {
        run(|deadlines| async move {
            let start = Instant::now();
            let result = deadlines.timeout(Duration::from_secs(1), std::future::pending::<()>()).await;
            assert_eq!(result, Err(()));
            assert_about(Instant::now() - start, Duration::from_secs(1));
        });
    }

    #[test]
    fn the_output_wins_at_the_deadline_as_in_madsims_timeout() {
        run(|deadlines| async move {
            let ours = deadlines.timeout(Duration::from_secs(1), madsim::time::sleep(Duration::from_secs(1))).await;
            assert_eq!(ours, Ok(()));
        });
    }

    #[test]
    fn the_deadline_is_fixed_when_called_not_when_polled() {
        run(|deadlines| async move {
            let start = Instant::now();
            let timeout = deadlines.timeout(Duration::from_secs(2), std::future::pending::<()>());
            madsim::time::sleep(Duration::from_secs(1)).await;
            assert_eq!(timeout.await, Err(()));
            assert_about(Instant::now() - start, Duration::from_secs(2));
        });
    }

    #[test]
    fn an_earlier_deadline_registered_later_still_ends_on_time() {
        run(|deadlines| async move {
            let start = Instant::now();
            let late = madsim::task::spawn({
                let deadlines = deadlines.clone();
                async move { deadlines.timeout(Duration::from_secs(30), std::future::pending::<()>()).await }
            });
            madsim::time::sleep(Duration::from_millis(1)).await;
            let early = deadlines.timeout(Duration::from_secs(1), std::future::pending::<()>()).await;
            assert_eq!(early, Err(()));
            assert_about(Instant::now() - start, Duration::from_millis(1_001));
            assert_eq!(late.await.expect("the task ran"), Err(()));
            assert_about(Instant::now() - start, Duration::from_secs(30));
        });
    }

    #[test]
    fn answered_waits_leave_the_book_and_do_not_wake_the_watcher() {
        run(|deadlines| async move {
            let first_deadline = Instant::now() + Duration::from_secs(30);
            // A thousand requests, each answered after a millisecond: each registers its
            // deadline and removes it when answered; none is earlier than the first, so
            // the watching task keeps sleeping until the first.
            for _ in 0..1_000 {
                let answered =
                    deadlines.timeout(Duration::from_secs(30), madsim::time::sleep(Duration::from_millis(1)));
                assert_eq!(answered.await, Ok(()));
            }
            let book = deadlines.book();
            assert!(book.waiting.is_empty());
            assert_eq!(book.sleeping_until, Some(first_deadline));
        });
    }
}

//! A sleep that puts one entry in the simulated timer, however often it is polled.
//!
//! madsim's `Sleep` adds a new timer entry every time it is polled while pending and
//! cannot remove one: a long-poll that is woken a hundred times before its deadline
//! leaves a hundred entries, each of which later wakes its task for nothing. With
//! thousands of partitions the timer heap then holds hundreds of thousands of dead
//! entries, and popping them was the largest single cost of a run.

use madsim::time::{Instant, Sleep};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

/// A sleep until a deadline that registers its timer once per waker.
pub struct SleepOnce {
    sleep: Sleep,
    /// The waker the timer entry wakes, once registered.
    registered: Option<Waker>,
}

/// Sleeps until `deadline`, with one timer entry (see the module).
pub fn sleep_until_once(deadline: Instant) -> SleepOnce {
    SleepOnce { sleep: madsim::time::sleep_until(deadline), registered: None }
}

impl Future for SleepOnce {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.sleep.is_elapsed() {
            return Poll::Ready(());
        }
        if self.registered.as_ref().is_some_and(|waker| waker.will_wake(cx.waker())) {
            return Poll::Pending;
        }
        self.registered = Some(cx.waker().clone());
        Pin::new(&mut self.sleep).poll(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use madsim::runtime::Runtime;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::Wake;
    use std::time::Duration;

    fn run<F: Future<Output = ()> + 'static>(test: F) {
        Runtime::with_seed_and_config(1, madsim::Config::default()).block_on(test);
    }

    /// Asserts that `elapsed` is `expected` up to the 50 ns madsim adds each time it
    /// moves the clock to the next timer.
    fn assert_about(elapsed: Duration, expected: Duration) {
        assert!(
            elapsed >= expected && elapsed < expected + Duration::from_micros(1),
            "{elapsed:?} is not {expected:?}"
        );
    }

    /// A waker that counts how often it was woken.
    #[derive(Default)]
    struct CountingWaker(AtomicUsize);

    impl Wake for CountingWaker {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    impl CountingWaker {
        fn wakes(&self) -> usize {
            self.0.load(Ordering::SeqCst)
        }
    }

    /// Polls `future` `times` times with `waker`, asserting it stays pending.
    fn poll_pending<F: Future + Unpin>(future: &mut F, waker: &Arc<CountingWaker>, times: usize) {
        let waker = Waker::from(waker.clone());
        let mut cx = Context::from_waker(&waker);
        for _ in 0..times {
            assert!(Pin::new(&mut *future).poll(&mut cx).is_pending());
        }
    }

    #[test]
    fn a_sleep_polled_many_times_wakes_its_waker_once_at_the_deadline() {
        run(async {
            let start = Instant::now();
            let once_waker = Arc::new(CountingWaker::default());
            let mut once = sleep_until_once(start + Duration::from_secs(1));
            poll_pending(&mut once, &once_waker, 100);
            // The witness: madsim's own Sleep adds an entry, hence a wake-up, per poll.
            let plain_waker = Arc::new(CountingWaker::default());
            let mut plain = Box::pin(madsim::time::sleep(Duration::from_secs(1)));
            poll_pending(&mut plain, &plain_waker, 100);

            madsim::time::sleep(Duration::from_millis(999)).await;
            poll_pending(&mut once, &once_waker, 1);
            assert_eq!(once_waker.wakes(), 0, "nothing fires before the deadline");

            madsim::time::sleep(Duration::from_millis(1)).await;
            assert_about(Instant::now() - start, Duration::from_secs(1));
            assert_eq!(once_waker.wakes(), 1);
            assert_eq!(plain_waker.wakes(), 100);
            let waker = Waker::from(once_waker.clone());
            assert!(Pin::new(&mut once).poll(&mut Context::from_waker(&waker)).is_ready());
        });
    }

    #[test]
    fn a_sleep_polled_by_a_new_waker_wakes_that_one_too() {
        run(async {
            let (first, second) = (Arc::new(CountingWaker::default()), Arc::new(CountingWaker::default()));
            let mut sleep = sleep_until_once(Instant::now() + Duration::from_secs(1));
            poll_pending(&mut sleep, &first, 3);
            poll_pending(&mut sleep, &second, 3);
            madsim::time::sleep(Duration::from_secs(2)).await;
            assert_eq!((first.wakes(), second.wakes()), (1, 1));
        });
    }

    #[test]
    fn an_awaited_sleep_once_ends_at_its_deadline() {
        run(async {
            let start = Instant::now();
            sleep_until_once(start + Duration::from_millis(250)).await;
            assert_about(Instant::now() - start, Duration::from_millis(250));
            // A deadline in the past sleeps madsim's minimum of 1 ms, as its Sleep does.
            sleep_until_once(start).await;
            assert_about(Instant::now() - start, Duration::from_millis(251));
        });
    }
}

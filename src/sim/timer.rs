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

/// Sleeps for `duration`, with one timer entry (see the module).
pub fn sleep_once(duration: std::time::Duration) -> SleepOnce {
    SleepOnce { sleep: madsim::time::sleep(duration), registered: None }
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

/// Awaits `future` for at most `duration` (as `tokio::time::timeout`, with one timer
/// entry): `Err(())` when the time ran out first.
pub async fn timeout_once<F: Future>(duration: std::time::Duration, future: F) -> Result<F::Output, ()> {
    let sleep = sleep_once(duration);
    tokio::select! {
        biased;
        output = future => Ok(output),
        () = sleep => Err(()),
    }
}

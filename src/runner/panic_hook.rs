//! A planted panic, for testing that a panicking simulated node is reported with its
//! seed and replay command instead of killing a sweep.
//!
//! Set `KAFKASIM_PLANT_PANIC_AT` to a duration (`"1500ms"`) and every run starts a
//! simulated node, `planted-panic`, whose task panics at that simulated time. The
//! variable is read once per run, outside the simulation, so a run without it is
//! unaffected; tests set it on a child `kafkasim` process only (setting it inside a
//! test process would leak into the tests that run beside it). It is a test hook:
//! nothing in a scenario can trigger it.

use madsim::runtime::Handle;
use std::time::Duration;

/// The environment variable holding the planted panic's simulated time.
pub const PLANT_PANIC_VAR: &str = "KAFKASIM_PLANT_PANIC_AT";

/// The planted panic's time, if the variable is set to a valid duration.
pub(super) fn planted_panic_at() -> Option<Duration> {
    let text = std::env::var(PLANT_PANIC_VAR).ok()?;
    crate::scenario::parse_duration_ms(&text).ok().map(Duration::from_millis)
}

/// Starts the node that panics at `at`. Must be called inside the runtime.
pub(super) fn plant(at: Duration) {
    let node = Handle::current().create_node().name("planted-panic").build();
    node.spawn(async move {
        madsim::time::sleep(at).await;
        panic!("planted panic ({PLANT_PANIC_VAR}) at {} ms of simulated time", at.as_millis());
    });
}

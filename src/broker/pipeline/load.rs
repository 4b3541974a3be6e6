//! The request pipeline's load, sampled per window of simulated time and traced as
//! [`Event::BrokerLoad`]: how many requests a broker served, how long they queued, how
//! deep its request queue got and how busy its threads were.
//!
//! A window is traced by the first pipeline activity after it ends (no timer task, which
//! would change every run's schedule), so a window without any activity is not traced:
//! an absent window means an idle broker. Busy time counts in the window where the work
//! ended, so a window's utilisation may read slightly above what it was.

use crate::history::{Event, Tracer};
use crate::sim::machine::LinkDirection;
use std::time::Duration;

/// The length of one sample window.
pub const WINDOW: Duration = Duration::from_millis(100);

/// The counts of the current window.
#[derive(Default)]
pub struct LoadWindow {
    /// The window's start, in nanoseconds since the run began; `None` before any activity.
    start_ns: Option<u64>,
    requests: u32,
    queue_ns_total: u64,
    queue_ns_max: u64,
    queue_depth_max: u32,
    handler_busy_ns: u64,
    network_busy_ns: u64,
    inbound_link_busy_ns: u64,
    outbound_link_busy_ns: u64,
    disk_busy_ns: u64,
}

/// The broker's thread counts, to turn busy time into utilisation.
#[derive(Clone, Copy, Debug)]
pub struct Capacity {
    /// The broker's id.
    pub broker: u32,
    /// `num.network.threads`.
    pub network_threads: u32,
    /// `num.io.threads`.
    pub io_threads: u32,
    /// Whether the machine's link is limited (`nic_mbit_per_sec`): only then are the
    /// link's windows traced ([`Event::LinkLoad`]).
    pub link_limited: bool,
    /// Whether the machine's disk is limited (`disk_mbyte_per_sec`): only then are the
    /// disk's windows traced ([`Event::DiskLoad`]).
    pub disk_limited: bool,
}

impl LoadWindow {
    /// Moves to the window holding `now`, tracing the one it leaves if it saw activity.
    fn roll(&mut self, now_ns: u64, capacity: Capacity, tracer: &Tracer) {
        let window_ns = WINDOW.as_nanos() as u64;
        let start_ns = now_ns - now_ns % window_ns;
        match self.start_ns {
            Some(current) if current == start_ns => return,
            Some(current) => {
                tracer.emit(self.sample(current, capacity));
                if capacity.link_limited {
                    tracer.emit(self.link_sample(current, capacity));
                }
                if capacity.disk_limited {
                    tracer.emit(self.disk_sample(current, capacity));
                }
            }
            None => {}
        }
        *self = LoadWindow { start_ns: Some(start_ns), ..LoadWindow::default() };
    }

    /// The finished window's link utilisation as a trace event.
    fn link_sample(&self, start_ns: u64, capacity: Capacity) -> Event {
        Event::LinkLoad {
            broker: capacity.broker,
            window_start_ms: start_ns / 1_000_000,
            window_ms: WINDOW.as_millis() as u64,
            inbound_busy_permille: permille_of_window(self.inbound_link_busy_ns),
            outbound_busy_permille: permille_of_window(self.outbound_link_busy_ns),
        }
    }

    /// The finished window's disk write-back utilisation as a trace event.
    fn disk_sample(&self, start_ns: u64, capacity: Capacity) -> Event {
        Event::DiskLoad {
            broker: capacity.broker,
            window_start_ms: start_ns / 1_000_000,
            window_ms: WINDOW.as_millis() as u64,
            write_back_busy_permille: permille_of_window(self.disk_busy_ns),
        }
    }

    /// The finished window as a trace event.
    fn sample(&self, start_ns: u64, capacity: Capacity) -> Event {
        let window_ns = WINDOW.as_nanos() as u64;
        let permille = |busy_ns: u64, threads: u32| {
            (busy_ns.saturating_mul(1_000) / (window_ns * u64::from(threads.max(1)))).min(1_000) as u32
        };
        Event::BrokerLoad {
            broker: capacity.broker,
            window_start_ms: start_ns / 1_000_000,
            window_ms: window_ns / 1_000_000,
            requests: self.requests,
            queue_time_mean_us: self.queue_ns_total / u64::from(self.requests.max(1)) / 1_000,
            queue_time_max_us: self.queue_ns_max / 1_000,
            queue_depth_max: self.queue_depth_max,
            handler_busy_permille: permille(self.handler_busy_ns, capacity.io_threads),
            network_busy_permille: permille(self.network_busy_ns, capacity.network_threads),
        }
    }
}

/// `busy_ns` in thousandths of a window, at most the whole window.
fn permille_of_window(busy_ns: u64) -> u32 {
    (busy_ns.saturating_mul(1_000) / WINDOW.as_nanos() as u64).min(1_000) as u32
}

/// The load counters of one broker process, behind their lock.
pub struct LoadMeter {
    capacity: Capacity,
    tracer: Tracer,
    window: std::sync::Mutex<LoadWindow>,
}

impl LoadMeter {
    /// A meter for a broker with `capacity`, tracing through `tracer`.
    pub fn new(capacity: Capacity, tracer: Tracer) -> Self {
        LoadMeter { capacity, tracer, window: Default::default() }
    }

    fn update(&self, change: impl FnOnce(&mut LoadWindow)) {
        // Windows are aligned to the run's clock, whenever the process started.
        let now_ns = self.tracer.recorder().now_ns();
        let mut window = self.window.lock().expect("load meter poisoned");
        window.roll(now_ns, self.capacity, &self.tracer);
        change(&mut window);
    }

    /// A request entered the request queue, which now holds `depth` requests.
    pub fn enqueued(&self, depth: u32) {
        self.update(|w| w.queue_depth_max = w.queue_depth_max.max(depth));
    }

    /// A handler took a request that had waited `queued` (including the time its network
    /// thread was blocked putting it into a full queue) and worked `busy` on it.
    pub fn handled(&self, queued: Duration, busy: Duration) {
        self.update(|w| {
            let queued_ns = queued.as_nanos() as u64;
            w.requests += 1;
            w.queue_ns_total += queued_ns;
            w.queue_ns_max = w.queue_ns_max.max(queued_ns);
            w.handler_busy_ns += busy.as_nanos() as u64;
        });
    }

    /// The machine's link carried a message in `direction` for `busy` (counted in the
    /// window in which the message started to wait for the link).
    pub fn link_busy(&self, direction: LinkDirection, busy: Duration) {
        self.update(|w| match direction {
            LinkDirection::Inbound => w.inbound_link_busy_ns += busy.as_nanos() as u64,
            LinkDirection::Outbound => w.outbound_link_busy_ns += busy.as_nanos() as u64,
        });
    }

    /// The machine's disk will write records back for `busy` (counted in the window in
    /// which they were handed to it).
    pub fn disk_busy(&self, busy: Duration) {
        self.update(|w| w.disk_busy_ns += busy.as_nanos() as u64);
    }

    /// A network thread worked `busy` reading a request or writing a response.
    pub fn network_busy(&self, busy: Duration) {
        self.update(|w| w.network_busy_ns += busy.as_nanos() as u64);
    }
}

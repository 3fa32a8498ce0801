//! What one run is asked to do: the seed, how long, how many keys, callers
//! and replicas, how often a host dies, and the venue's timing knobs the
//! host is configured with (the settle bound at the end follows from them).

use std::ops::Range;
use std::time::Duration;

/// Time a holder has beyond its deadline before its lease ends (the
/// protocol's `LEASE_MARGIN`).
const LEASE_MARGIN: Duration = Duration::from_secs(2);

/// One chaos run.
#[derive(Debug, Clone)]
pub struct ChaosConfig {
    /// Seeds every random choice; printed in every failure as `seed=N`.
    pub seed: u64,
    /// How long callers place orders (and hosts get killed).
    pub duration: Duration,
    /// Keys in play at once (small, so retries of one key collide).
    pub keys: usize,
    /// Concurrent caller tasks.
    pub callers: usize,
    /// Time between two SIGKILLs of a host (uniform in the range); `None`:
    /// never kill.
    pub kill_every: Option<Range<Duration>>,
    /// Journal on a throwaway PostgreSQL instead of the embedded SQLite file.
    pub pg: bool,
    /// Host processes on the one journal (more than one needs `pg`); callers
    /// alternate between them.
    pub replicas: usize,
    /// Share of calls whose caller hangs up if no answer came within a
    /// random 1-150 ms (the calls that meet a slow or silent venue).
    pub hang_up: f64,
    /// `venues.binance.timeout_ms`: per attempt.
    pub timeout_ms: u64,
    /// `venues.binance.deadline_ms`: per call; a claim's lease is this + 2 s.
    pub deadline_ms: u64,
    /// `venues.binance.reconcile_settle_ms`.
    pub settle_ms: u64,
    /// `journal.sweep_interval_ms`.
    pub sweep_interval_ms: u64,
    /// How long the venue keeps an order it accepted with a hidden fault
    /// invisible to lookups, in ms; `None`: 100 ms to 60% of the settle
    /// window (a lag the settle window is meant to cover). A lag longer than
    /// the window breaks the host's premise, which
    /// [`observe`](super::observe) can show.
    pub hide_ms: Option<Range<u64>>,
    /// Print a progress line this often (long soaks).
    pub progress: Option<Duration>,
}

impl ChaosConfig {
    /// One host on the embedded SQLite journal, killed every 2-5 s; 6 keys,
    /// 12 callers, half the calls with a caller ready to hang up; 300 ms
    /// attempts, 1 s deadlines, an 800 ms settle window and a sweep every
    /// 200 ms.
    pub fn new(seed: u64, duration: Duration) -> Self {
        Self {
            seed,
            duration,
            keys: 6,
            callers: 12,
            kill_every: Some(Duration::from_secs(2)..Duration::from_secs(5)),
            pg: false,
            replicas: 1,
            hang_up: 0.5,
            timeout_ms: 300,
            deadline_ms: 1_000,
            settle_ms: 800,
            sweep_interval_ms: 200,
            hide_ms: None,
            progress: None,
        }
    }

    /// The same on a throwaway PostgreSQL with `replicas` hosts.
    pub fn postgres(seed: u64, duration: Duration, replicas: usize) -> Self {
        Self {
            pg: true,
            replicas,
            ..Self::new(seed, duration)
        }
    }

    /// The venue's visibility lag for hidden orders, in ms.
    pub fn hide_ms(&self) -> Range<u64> {
        self.hide_ms
            .clone()
            .unwrap_or(100..(self.settle_ms * 6 / 10).max(100))
    }

    /// How long the end waits for the sweeper to settle every intent at
    /// most: a dead holder's lease, the settle window after it, ten sweeps
    /// and 5 s of slack (host start-up, lookups the venue fails).
    pub fn settle_bound(&self) -> Duration {
        Duration::from_millis(self.deadline_ms + self.settle_ms + 10 * self.sweep_interval_ms)
            + LEASE_MARGIN
            + Duration::from_secs(5)
    }
}

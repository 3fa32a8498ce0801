//! Circuit breaker per endpoint.
//!
//! | state     | admits                              | moves to |
//! |-----------|-------------------------------------|----------|
//! | closed    | every call                          | open after `failure_threshold` consecutive failures, or (when `failure_rate` is set) a failure rate at or above it over the last `window` calls with at least `min_calls` of them |
//! | open      | nothing: fails fast, no network     | half-open once `open_ms` has passed |
//! | half-open | exactly one probe at a time; others fail fast | closed after `success_threshold` probe successes; open again on any probe failure |
//!
//! A probe whose call is dropped (cancelled, deadline) without a verdict frees
//! the probe slot, so half-open can never get stuck. Only endpoint failures
//! count (5xx, timeout, connection); a 4xx proves the endpoint works, a 429
//! is neutral.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::time::Instant;

use crate::config::BreakerConfig;

/// What callers and metrics see (`resilience_circuit_state`: 0, 1, 2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Closed = 0,
    HalfOpen = 1,
    Open = 2,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Closed => "closed",
            State::HalfOpen => "half_open",
            State::Open => "open",
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Inner {
    Closed {
        consecutive: u32,
    },
    Open {
        until: Instant,
    },
    HalfOpen {
        probe_in_flight: bool,
        successes: u32,
    },
}

#[derive(Debug)]
struct Guarded {
    inner: Inner,
    /// Recent outcomes in closed state (true = failure), for the rate rule.
    window: VecDeque<bool>,
}

#[derive(Debug)]
pub struct Breaker {
    name: String,
    cfg: BreakerConfig,
    g: Mutex<Guarded>,
    transitions: [AtomicU64; 3],
}

/// Permission to make one attempt. Report the verdict with
/// [`Permit::success`], [`Permit::failure`] or [`Permit::neutral`];
/// dropping it unreported is neutral.
#[derive(Debug)]
pub struct Permit<'a> {
    breaker: &'a Breaker,
    probe: bool,
    reported: bool,
}

/// Why an attempt was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rejected {
    /// Time until the breaker half-opens (zero while a probe is in flight).
    pub retry_in: Duration,
}

impl Breaker {
    /// A breaker named for logs (`venue endpoint`).
    pub fn new(name: impl Into<String>, cfg: BreakerConfig) -> Self {
        Self {
            name: name.into(),
            cfg,
            g: Mutex::new(Guarded {
                inner: Inner::Closed { consecutive: 0 },
                window: VecDeque::new(),
            }),
            transitions: Default::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Guarded> {
        self.g.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Ask to make one attempt now.
    pub fn try_acquire(&self) -> Result<Permit<'_>, Rejected> {
        let now = Instant::now();
        let mut g = self.lock();
        match g.inner {
            Inner::Closed { .. } => Ok(self.permit(false)),
            Inner::Open { until } if now < until => Err(Rejected {
                retry_in: until - now,
            }),
            Inner::Open { .. } => {
                self.transition(
                    &mut g,
                    Inner::HalfOpen {
                        probe_in_flight: true,
                        successes: 0,
                    },
                );
                Ok(self.permit(true))
            }
            Inner::HalfOpen {
                probe_in_flight: true,
                ..
            } => Err(Rejected {
                retry_in: Duration::ZERO,
            }),
            Inner::HalfOpen {
                probe_in_flight: false,
                successes,
            } => {
                g.inner = Inner::HalfOpen {
                    probe_in_flight: true,
                    successes,
                };
                Ok(self.permit(true))
            }
        }
    }

    fn permit(&self, probe: bool) -> Permit<'_> {
        Permit {
            breaker: self,
            probe,
            reported: false,
        }
    }

    /// The state now (an expired open reads as half-open).
    pub fn state(&self) -> State {
        match self.lock().inner {
            Inner::Closed { .. } => State::Closed,
            Inner::Open { until } if Instant::now() < until => State::Open,
            Inner::Open { .. } | Inner::HalfOpen { .. } => State::HalfOpen,
        }
    }

    /// Time until an open breaker half-opens (zero otherwise).
    pub fn time_until_half_open(&self) -> Duration {
        match self.lock().inner {
            Inner::Open { until } => until.saturating_duration_since(Instant::now()),
            _ => Duration::ZERO,
        }
    }

    /// How many times the breaker entered `to`.
    pub fn transitions_to(&self, to: State) -> u64 {
        self.transitions[to as usize].load(Ordering::Relaxed)
    }

    fn on_success(&self, probe: bool) {
        let mut g = self.lock();
        match g.inner {
            Inner::Closed { .. } => {
                g.inner = Inner::Closed { consecutive: 0 };
                self.push_window(&mut g, false);
            }
            Inner::HalfOpen { successes, .. } if probe => {
                let successes = successes + 1;
                if successes >= self.cfg.success_threshold {
                    g.window.clear();
                    self.transition(&mut g, Inner::Closed { consecutive: 0 });
                } else {
                    g.inner = Inner::HalfOpen {
                        probe_in_flight: false,
                        successes,
                    };
                }
            }
            // A straggler from before the breaker opened proves little.
            _ => {}
        }
    }

    fn on_failure(&self, probe: bool) {
        let mut g = self.lock();
        match g.inner {
            Inner::Closed { consecutive } => {
                let consecutive = consecutive + 1;
                g.inner = Inner::Closed { consecutive };
                self.push_window(&mut g, true);
                if consecutive >= self.cfg.failure_threshold || self.rate_tripped(&g) {
                    self.open(&mut g);
                }
            }
            Inner::HalfOpen { .. } if probe => self.open(&mut g),
            _ => {}
        }
    }

    fn on_neutral(&self, probe: bool) {
        let mut g = self.lock();
        if let Inner::HalfOpen { successes, .. } = g.inner
            && probe
        {
            g.inner = Inner::HalfOpen {
                probe_in_flight: false,
                successes,
            };
        }
    }

    fn open(&self, g: &mut Guarded) {
        g.window.clear();
        let until = Instant::now() + Duration::from_millis(self.cfg.open_ms);
        self.transition(g, Inner::Open { until });
    }

    fn push_window(&self, g: &mut Guarded, failure: bool) {
        if self.cfg.failure_rate.is_none() {
            return;
        }
        g.window.push_back(failure);
        while g.window.len() > self.cfg.window.max(1) as usize {
            g.window.pop_front();
        }
    }

    fn rate_tripped(&self, g: &Guarded) -> bool {
        let Some(threshold) = self.cfg.failure_rate else {
            return false;
        };
        let n = g.window.len();
        if n == 0 || n < self.cfg.min_calls as usize {
            return false;
        }
        let failures = g.window.iter().filter(|f| **f).count();
        failures as f64 / n as f64 >= threshold
    }

    fn transition(&self, g: &mut Guarded, to: Inner) {
        let state = match to {
            Inner::Closed { .. } => State::Closed,
            Inner::Open { .. } => State::Open,
            Inner::HalfOpen { .. } => State::HalfOpen,
        };
        g.inner = to;
        self.transitions[state as usize].fetch_add(1, Ordering::Relaxed);
        match state {
            State::Open => tracing::warn!(
                breaker = %self.name,
                open_ms = self.cfg.open_ms,
                "circuit opened: endpoint is skipped until it half-opens"
            ),
            State::HalfOpen => {
                tracing::info!(breaker = %self.name, "circuit half-open: sending one probe")
            }
            State::Closed => {
                tracing::info!(breaker = %self.name, "circuit closed: endpoint recovered")
            }
        }
    }
}

impl Permit<'_> {
    /// Whether this permit is the half-open probe.
    pub fn is_probe(&self) -> bool {
        self.probe
    }
    pub fn success(mut self) {
        self.reported = true;
        self.breaker.on_success(self.probe);
    }
    pub fn failure(mut self) {
        self.reported = true;
        self.breaker.on_failure(self.probe);
    }
    pub fn neutral(mut self) {
        self.reported = true;
        self.breaker.on_neutral(self.probe);
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if !self.reported {
            self.breaker.on_neutral(self.probe);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(failures: u32, successes: u32, open_ms: u64) -> BreakerConfig {
        BreakerConfig {
            failure_threshold: failures,
            success_threshold: successes,
            open_ms,
            ..BreakerConfig::default()
        }
    }

    fn fail(b: &Breaker) {
        b.try_acquire().expect("admitted").failure();
    }

    #[tokio::test(start_paused = true)]
    async fn opens_after_n_consecutive_failures_and_fails_fast() {
        let b = Breaker::new("t", cfg(3, 1, 1000));
        fail(&b);
        fail(&b);
        b.try_acquire().unwrap().success(); // resets the streak
        fail(&b);
        fail(&b);
        assert_eq!(b.state(), State::Closed);
        fail(&b);
        assert_eq!(b.state(), State::Open);
        let r = b.try_acquire().unwrap_err();
        assert_eq!(r.retry_in, Duration::from_millis(1000));
        tokio::time::advance(Duration::from_millis(999)).await;
        assert!(b.try_acquire().is_err(), "still open 1 ms before open_ms");
        assert_eq!(b.time_until_half_open(), Duration::from_millis(1));
    }

    #[tokio::test(start_paused = true)]
    async fn half_open_admits_exactly_one_probe_under_concurrency() {
        let b = std::sync::Arc::new(Breaker::new("t", cfg(1, 2, 100)));
        fail(&b);
        tokio::time::advance(Duration::from_millis(100)).await;
        // 50 concurrent callers race for the probe.
        let admitted = std::sync::Arc::new(AtomicU64::new(0));
        let barrier = std::sync::Arc::new(tokio::sync::Barrier::new(50));
        let mut tasks = Vec::new();
        for _ in 0..50 {
            let (b, admitted, barrier) = (b.clone(), admitted.clone(), barrier.clone());
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                if let Ok(p) = b.try_acquire() {
                    admitted.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    std::mem::forget(p); // keep the probe in flight
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(admitted.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn closes_after_m_probe_successes() {
        let b = Breaker::new("t", cfg(1, 3, 100));
        fail(&b);
        tokio::time::advance(Duration::from_millis(100)).await;
        for i in 0..3 {
            assert_eq!(b.state(), State::HalfOpen, "probe {i}");
            let p = b.try_acquire().expect("probe admitted");
            assert!(p.is_probe());
            assert!(
                b.try_acquire().is_err(),
                "second caller waits for the probe"
            );
            p.success();
        }
        assert_eq!(b.state(), State::Closed);
        assert_eq!(b.transitions_to(State::Closed), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn probe_failure_reopens_for_a_full_open_period() {
        let b = Breaker::new("t", cfg(1, 2, 500));
        fail(&b);
        tokio::time::advance(Duration::from_millis(500)).await;
        b.try_acquire().unwrap().success();
        b.try_acquire().unwrap().failure();
        assert_eq!(b.state(), State::Open);
        assert_eq!(b.time_until_half_open(), Duration::from_millis(500));
        assert_eq!(b.transitions_to(State::Open), 2);
        assert_eq!(b.transitions_to(State::HalfOpen), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn dropped_probe_frees_the_slot_so_half_open_never_sticks() {
        let b = Breaker::new("t", cfg(1, 1, 100));
        fail(&b);
        tokio::time::advance(Duration::from_millis(100)).await;
        drop(b.try_acquire().unwrap());
        assert_eq!(b.state(), State::HalfOpen);
        b.try_acquire().expect("slot was freed").success();
        assert_eq!(b.state(), State::Closed);
    }

    #[tokio::test(start_paused = true)]
    async fn failure_rate_over_a_sliding_window_opens() {
        let b = Breaker::new(
            "t",
            BreakerConfig {
                failure_threshold: 100,
                failure_rate: Some(0.5),
                window: 10,
                min_calls: 10,
                ..BreakerConfig::default()
            },
        );
        // Alternate: never 2 consecutive failures, but 50% of calls fail.
        for i in 0..9 {
            let p = b.try_acquire().unwrap();
            if i % 2 == 0 { p.failure() } else { p.success() }
        }
        assert_eq!(b.state(), State::Closed, "9 calls: below min_calls");
        b.try_acquire().unwrap().failure();
        assert_eq!(b.state(), State::Open, "6/10 failures");
    }
}

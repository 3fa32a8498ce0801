//! Retry budget per venue (linkerd2-proxy's model, Envoy's intent): retries
//! may add at most `ratio` of the requests seen in the last `window`, plus a
//! floor of `min_per_sec` retries per second so a quiet venue still retries.
//!
//! With the defaults (20%, 10 s, 10/s) a dead venue receiving 1,000 calls
//! per second gets at most 1,200 attempts per second, not 3,000.
//!
//! The window is kept as one-second buckets, so the arithmetic is exact
//! under `tokio::time::pause()`.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BudgetConfig {
    pub ratio: f64,
    pub min_per_sec: u32,
    pub window: Duration,
}

impl Default for BudgetConfig {
    fn default() -> Self {
        Self {
            ratio: 0.2,
            min_per_sec: 10,
            window: Duration::from_secs(10),
        }
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Bucket {
    requests: u64,
    retries: u64,
}

#[derive(Debug)]
pub struct RetryBudget {
    config: BudgetConfig,
    start: Instant,
    /// (second index since `start`, counts), oldest first.
    buckets: Mutex<VecDeque<(u64, Bucket)>>,
}

impl RetryBudget {
    pub fn new(config: BudgetConfig) -> Self {
        Self {
            config,
            start: Instant::now(),
            buckets: Mutex::new(VecDeque::new()),
        }
    }

    fn window_secs(&self) -> u64 {
        self.config.window.as_secs().max(1)
    }

    fn with_current<R>(&self, f: impl FnOnce(&mut VecDeque<(u64, Bucket)>, u64) -> R) -> R {
        let now_sec = Instant::now().duration_since(self.start).as_secs();
        let mut b = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let oldest = now_sec.saturating_sub(self.window_secs() - 1);
        while b.front().is_some_and(|(s, _)| *s < oldest) {
            b.pop_front();
        }
        if b.back().is_none_or(|(s, _)| *s != now_sec) {
            b.push_back((now_sec, Bucket::default()));
        }
        f(&mut b, now_sec)
    }

    /// Count one original request (not a retry).
    pub fn record_request(&self) {
        self.with_current(|b, _| {
            if let Some((_, last)) = b.back_mut() {
                last.requests += 1;
            }
        });
    }

    /// Take one retry from the budget if it allows one.
    pub fn try_retry(&self) -> bool {
        let window = self.window_secs();
        let (ratio, floor) = (self.config.ratio, self.config.min_per_sec as f64);
        self.with_current(|b, _| {
            let (requests, retries) = b.iter().fold((0u64, 0u64), |(r, t), (_, x)| {
                (r + x.requests, t + x.retries)
            });
            let allowed = ratio * requests as f64 + floor * window as f64;
            if (retries as f64) < allowed {
                if let Some((_, last)) = b.back_mut() {
                    last.retries += 1;
                }
                true
            } else {
                false
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn floor_allows_min_per_sec_times_window_with_no_traffic() {
        let b = RetryBudget::new(BudgetConfig {
            ratio: 0.2,
            min_per_sec: 1,
            window: Duration::from_secs(10),
        });
        let granted = (0..100).filter(|_| b.try_retry()).count();
        assert_eq!(granted, 10);
    }

    #[tokio::test(start_paused = true)]
    async fn budget_stops_retries_when_most_calls_fail() {
        let b = RetryBudget::new(BudgetConfig {
            ratio: 0.2,
            min_per_sec: 0,
            window: Duration::from_secs(10),
        });
        // 1,000 calls, each wanting two retries (every attempt fails).
        let mut retries = 0;
        for _ in 0..1000 {
            b.record_request();
            for _ in 0..2 {
                if b.try_retry() {
                    retries += 1;
                }
            }
        }
        assert_eq!(retries, 200, "20% of requests");
    }

    #[tokio::test(start_paused = true)]
    async fn old_traffic_leaves_the_window() {
        let b = RetryBudget::new(BudgetConfig {
            ratio: 0.5,
            min_per_sec: 0,
            window: Duration::from_secs(2),
        });
        for _ in 0..10 {
            b.record_request();
        }
        assert!(b.try_retry());
        tokio::time::advance(Duration::from_secs(3)).await;
        assert!(!b.try_retry(), "the 10 requests are older than the window");
        b.record_request();
        b.record_request();
        assert!(b.try_retry());
        assert!(!b.try_retry());
    }
}

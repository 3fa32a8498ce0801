//! Local rate limits per venue, checked before a request leaves:
//!
//! | limit            | config                                   | semantics |
//! |------------------|------------------------------------------|-----------|
//! | token bucket     | `requests_per_second`, `burst`           | each request takes one token; tokens refill continuously |
//! | weight window    | `weight_per_minute`                      | each request charges its `weight` to a fixed 60 s window; the venue's own report (`report-usage`) corrects the count upward |
//! | block            | set by a 429 with `Retry-After`, or a 418 ban | nothing leaves until it lifts (418 without `Retry-After`: 120 s) |
//!
//! A request that must wait waits (bounded by the call's deadline); one that
//! could not go before the deadline fails at once with `rate_limited` and the
//! time until it could, without touching the network.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use super::deadline::Deadline;
use crate::config::RateLimitConfig;

/// Length of the weight window.
pub const WEIGHT_WINDOW: Duration = Duration::from_secs(60);
/// How long a 418 ban without `Retry-After` blocks the venue (Binance bans
/// last from 2 minutes upwards).
pub const DEFAULT_BAN: Duration = Duration::from_secs(120);

#[derive(Debug)]
struct Bucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

#[derive(Debug)]
struct WeightWindow {
    limit: u64,
    start: Instant,
    used: u64,
}

#[derive(Debug, Default)]
struct Limits {
    bucket: Option<Bucket>,
    weight: Option<WeightWindow>,
    blocked_until: Option<Instant>,
}

/// Why a request cannot go before the deadline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limited {
    pub message: String,
    pub retry_after: Duration,
}

#[derive(Debug, Default)]
pub struct RateLimiter {
    limits: Mutex<Limits>,
}

impl RateLimiter {
    pub fn new(cfg: &RateLimitConfig) -> Self {
        let now = Instant::now();
        let bucket = cfg.requests_per_second.map(|rate| {
            let burst = cfg.burst.map(f64::from).unwrap_or(rate.max(1.0));
            Bucket {
                rate,
                burst,
                tokens: burst,
                last: now,
            }
        });
        let weight = cfg.weight_per_minute.map(|limit| WeightWindow {
            limit: limit.into(),
            start: now,
            used: 0,
        });
        Self {
            limits: Mutex::new(Limits {
                bucket,
                weight,
                blocked_until: None,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Limits> {
        self.limits.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Take budget for a request of `weight` now, or say how long to wait.
    /// Nothing is taken when it must wait.
    pub fn try_acquire(&self, weight: u32) -> Result<(), Result<Duration, String>> {
        let now = Instant::now();
        let mut l = self.lock();
        if let Some(until) = l.blocked_until {
            if now < until {
                return Err(Ok(until - now));
            }
            l.blocked_until = None;
        }
        let mut wait = Duration::ZERO;
        if let Some(w) = &mut l.weight {
            while now >= w.start + WEIGHT_WINDOW {
                w.start += WEIGHT_WINDOW;
                w.used = 0;
            }
            if u64::from(weight) > w.limit {
                return Err(Err(format!(
                    "request weight {weight} exceeds the venue's whole budget of {} per minute",
                    w.limit
                )));
            }
            if w.used + u64::from(weight) > w.limit {
                wait = wait.max(w.start + WEIGHT_WINDOW - now);
            }
        }
        if let Some(b) = &mut l.bucket {
            let elapsed = now.saturating_duration_since(b.last).as_secs_f64();
            b.tokens = (b.tokens + elapsed * b.rate).min(b.burst);
            b.last = now;
            if b.tokens < 1.0 {
                let need = (1.0 - b.tokens) / b.rate;
                wait = wait.max(Duration::from_secs_f64(need));
            }
        }
        if !wait.is_zero() {
            return Err(Ok(wait));
        }
        if let Some(w) = &mut l.weight {
            w.used += u64::from(weight);
        }
        if let Some(b) = &mut l.bucket {
            b.tokens -= 1.0;
        }
        Ok(())
    }

    /// Wait for budget, up to `deadline`.
    pub async fn acquire(&self, weight: u32, deadline: &Deadline) -> Result<(), Limited> {
        loop {
            match self.try_acquire(weight) {
                Ok(()) => return Ok(()),
                Err(Err(message)) => {
                    return Err(Limited {
                        message,
                        retry_after: Duration::ZERO,
                    });
                }
                Err(Ok(wait)) => {
                    if !deadline.allows_wait(wait) {
                        return Err(Limited {
                            message: format!(
                                "local rate limit: next slot in {} ms, after the call's deadline",
                                wait.as_millis()
                            ),
                            retry_after: wait,
                        });
                    }
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    /// Block the venue for `d` (429 with `Retry-After`, 418 ban). A longer
    /// block already in place stays.
    pub fn block_for(&self, d: Duration) {
        let until = Instant::now() + d;
        let mut l = self.lock();
        if l.blocked_until.is_none_or(|u| u < until) {
            l.blocked_until = Some(until);
        }
    }

    /// Time until a block lifts (zero when none).
    pub fn blocked_for(&self) -> Duration {
        self.lock()
            .blocked_until
            .map(|u| u.saturating_duration_since(Instant::now()))
            .unwrap_or_default()
    }

    /// The venue's own count of weight used in its window (`report-usage`):
    /// the local count only ever moves up to it.
    pub fn report_weight(&self, used: u64, window: Duration) {
        let now = Instant::now();
        let mut l = self.lock();
        if let Some(w) = &mut l.weight
            && window == WEIGHT_WINDOW
        {
            while now >= w.start + WEIGHT_WINDOW {
                w.start += WEIGHT_WINDOW;
                w.used = 0;
            }
            w.used = w.used.max(used);
        }
    }

    /// Weight used in the current window, when a weight limit is configured.
    pub fn weight_used(&self) -> Option<u64> {
        self.lock().weight.as_ref().map(|w| w.used)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(rps: Option<f64>, burst: Option<u32>, wpm: Option<u32>) -> RateLimitConfig {
        RateLimitConfig {
            requests_per_second: rps,
            burst,
            weight_per_minute: wpm,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn token_bucket_allows_burst_then_refills_at_rate() {
        let r = RateLimiter::new(&cfg(Some(10.0), Some(20), None));
        for i in 0..20 {
            assert!(r.try_acquire(1).is_ok(), "burst {i}");
        }
        assert_eq!(r.try_acquire(1), Err(Ok(Duration::from_millis(100))));
        tokio::time::advance(Duration::from_millis(100)).await;
        assert!(r.try_acquire(1).is_ok());
        assert!(r.try_acquire(1).is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn weight_window_charges_weight_and_resets_each_minute() {
        let r = RateLimiter::new(&cfg(None, None, Some(100)));
        assert!(r.try_acquire(60).is_ok());
        assert!(r.try_acquire(40).is_ok());
        tokio::time::advance(Duration::from_secs(15)).await;
        assert_eq!(r.try_acquire(1), Err(Ok(Duration::from_secs(45))));
        tokio::time::advance(Duration::from_secs(45)).await;
        assert!(r.try_acquire(100).is_ok());
        assert!(
            matches!(r.try_acquire(101), Err(Err(_))),
            "never admissible"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn venue_report_corrects_the_count_upward_only() {
        let r = RateLimiter::new(&cfg(None, None, Some(1200)));
        r.try_acquire(10).unwrap();
        r.report_weight(1195, WEIGHT_WINDOW);
        assert_eq!(r.weight_used(), Some(1195));
        r.report_weight(5, WEIGHT_WINDOW);
        assert_eq!(r.weight_used(), Some(1195), "never down");
        assert!(r.try_acquire(10).is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn waiting_is_bounded_by_the_deadline() {
        let r = RateLimiter::new(&cfg(Some(1.0), Some(1), None));
        let d = Deadline::after(Duration::from_millis(1500));
        r.acquire(1, &d).await.unwrap();
        let t = Instant::now();
        r.acquire(1, &d).await.unwrap();
        assert_eq!(
            t.elapsed(),
            Duration::from_secs(1),
            "waited exactly for the next token"
        );
        let err = r.acquire(1, &d).await.unwrap_err();
        assert_eq!(err.retry_after, Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn block_holds_every_request_until_it_lifts() {
        let r = RateLimiter::new(&cfg(None, None, None));
        r.block_for(Duration::from_secs(3));
        assert_eq!(r.try_acquire(1), Err(Ok(Duration::from_secs(3))));
        r.block_for(Duration::from_secs(1));
        assert_eq!(
            r.blocked_for(),
            Duration::from_secs(3),
            "a shorter block does not shorten"
        );
        tokio::time::advance(Duration::from_secs(3)).await;
        assert!(r.try_acquire(1).is_ok());
    }
}

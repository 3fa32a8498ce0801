//! Exponential backoff with symmetric jitter.
//!
//! Before retry `n` (0 for the first retry) the delay is
//! `min(base * multiplier^n, max)`, then multiplied by a uniform factor in
//! `[1 - jitter, 1 + jitter)`, then capped at `max` again. With the seed's
//! defaults (1 s base, x2, 20% jitter) retries wait ~1 s, ~2 s, ~4 s, each
//! within +-20%.

use std::time::Duration;

use crate::config::RetryConfig;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    base: Duration,
    multiplier: f64,
    max: Duration,
    jitter: f64,
}

impl Backoff {
    pub fn new(base: Duration, multiplier: f64, max: Duration, jitter: f64) -> Self {
        Self {
            base,
            multiplier: multiplier.max(1.0),
            max,
            jitter: jitter.clamp(0.0, 1.0),
        }
    }

    pub fn from_config(c: &RetryConfig) -> Self {
        Self::new(
            Duration::from_millis(c.base_delay_ms),
            c.multiplier,
            Duration::from_millis(c.max_delay_ms),
            c.jitter,
        )
    }

    /// Delay before retry `n` (0-based), given `unit` uniform in `[0, 1)`.
    pub fn delay(&self, n: u32, unit: f64) -> Duration {
        let exp = self.multiplier.powi(n.min(64) as i32);
        let raw = (self.base.as_secs_f64() * exp).min(self.max.as_secs_f64());
        let factor = 1.0 + self.jitter * (2.0 * unit.clamp(0.0, 1.0) - 1.0);
        let jittered = (raw * factor).clamp(0.0, self.max.as_secs_f64());
        Duration::from_secs_f64(jittered)
    }

    /// Delay before retry `n` with a random jitter.
    pub fn delay_random(&self, n: u32) -> Duration {
        self.delay(n, rand::random::<f64>())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seed() -> Backoff {
        Backoff::new(Duration::from_secs(1), 2.0, Duration::from_secs(30), 0.2)
    }

    #[test]
    fn without_jitter_the_sequence_doubles_and_caps() {
        let b = Backoff::new(Duration::from_millis(500), 2.0, Duration::from_secs(3), 0.0);
        let seq: Vec<u128> = (0..5).map(|n| b.delay(n, 0.3).as_millis()).collect();
        assert_eq!(seq, vec![500, 1000, 2000, 3000, 3000]);
    }

    #[test]
    fn jitter_is_symmetric_and_bounded() {
        let b = seed();
        assert_eq!(b.delay(1, 0.0), Duration::from_millis(1600), "lowest: -20%");
        assert_eq!(
            b.delay(1, 0.5),
            Duration::from_millis(2000),
            "middle: exact"
        );
        let high = b.delay(1, 0.999_999);
        assert!(high < Duration::from_millis(2400) && high > Duration::from_millis(2399));
        for i in 0..1000 {
            let d = b.delay_random(2);
            assert!(
                d >= Duration::from_millis(3200) && d < Duration::from_millis(4800),
                "{i}: {d:?}"
            );
        }
    }

    #[test]
    fn jitter_never_exceeds_the_cap() {
        let b = seed();
        assert_eq!(b.delay(10, 0.999), Duration::from_secs(30));
        assert_eq!(b.delay(10, 0.0), Duration::from_secs(24));
    }

    #[test]
    fn huge_attempt_numbers_do_not_overflow() {
        assert_eq!(seed().delay(u32::MAX, 0.5), Duration::from_secs(30));
    }
}

//! Endpoint choice: endpoints are tried in configured order; an endpoint whose
//! breaker refuses is skipped; a retry after a connection failure, timeout or
//! 5xx starts from the next endpoint (rotation, like Envoy's
//! `previous_hosts` retry predicate), while a retry after a 429 stays put
//! (rate limits are usually per account, across a venue's endpoints).

use std::time::Duration;

use super::breaker::{Breaker, Permit, Rejected};
use super::classify::Outcome;

/// The first endpoint at or after `from` (wrapping) whose breaker admits an
/// attempt, with its permit; or, when every breaker refuses, the shortest
/// time until one half-opens.
pub fn pick<'a>(breakers: &[&'a Breaker], from: usize) -> Result<(usize, Permit<'a>), Rejected> {
    pick_allowed(breakers, from, |_| true)
}

/// [`pick`] among the endpoints `allowed` admits (a request whose header
/// secret is bound to some endpoints only goes to those).
pub fn pick_allowed<'a>(
    breakers: &[&'a Breaker],
    from: usize,
    allowed: impl Fn(usize) -> bool,
) -> Result<(usize, Permit<'a>), Rejected> {
    let n = breakers.len();
    let mut soonest = Duration::MAX;
    for k in 0..n {
        let i = (from + k) % n;
        if !allowed(i) {
            continue;
        }
        match breakers[i].try_acquire() {
            Ok(p) => return Ok((i, p)),
            Err(r) => soonest = soonest.min(r.retry_in),
        }
    }
    Err(Rejected {
        retry_in: if soonest == Duration::MAX {
            Duration::ZERO
        } else {
            soonest
        },
    })
}

/// Where the next attempt starts after an attempt at `current` ended in
/// `outcome`. With `rate_limit_per_endpoint` (`retry.failover_on_rate_limit`)
/// a rate-limited attempt rotates too.
pub fn next_start(
    current: usize,
    outcome: Outcome,
    endpoints: usize,
    rate_limit_per_endpoint: bool,
) -> usize {
    let rotate = match outcome {
        Outcome::Connection | Outcome::Timeout | Outcome::Http5xx => true,
        Outcome::RateLimited => rate_limit_per_endpoint,
        _ => false,
    };
    match outcome {
        _ if rotate && endpoints > 1 => (current + 1) % endpoints,
        _ => current,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::BreakerConfig;

    fn breaker() -> Breaker {
        Breaker::new(
            "t",
            BreakerConfig {
                failure_threshold: 1,
                success_threshold: 1,
                open_ms: 1000,
                ..BreakerConfig::default()
            },
        )
    }

    #[tokio::test(start_paused = true)]
    async fn open_endpoints_are_skipped_in_order() {
        let (a, b, c) = (breaker(), breaker(), breaker());
        a.try_acquire().unwrap().failure();
        let all = [&a, &b, &c];
        let (i, p) = pick(&all, 0).unwrap();
        assert_eq!(i, 1);
        drop(p);
        let (i, _) = pick(&all, 2).unwrap();
        assert_eq!(i, 2);
    }

    #[tokio::test(start_paused = true)]
    async fn all_open_reports_the_soonest_half_open() {
        let (a, b) = (breaker(), breaker());
        a.try_acquire().unwrap().failure();
        tokio::time::advance(Duration::from_millis(300)).await;
        b.try_acquire().unwrap().failure();
        let err = pick(&[&a, &b], 0).unwrap_err();
        assert_eq!(err.retry_in, Duration::from_millis(700));
    }

    #[test]
    fn rotation_after_endpoint_failures_but_not_rate_limits() {
        assert_eq!(next_start(0, Outcome::Connection, 3, false), 1);
        assert_eq!(next_start(2, Outcome::Timeout, 3, false), 0);
        assert_eq!(next_start(1, Outcome::Http5xx, 3, false), 2);
        assert_eq!(next_start(1, Outcome::RateLimited, 3, false), 1);
        assert_eq!(
            next_start(1, Outcome::RateLimited, 3, true),
            2,
            "per-endpoint quotas"
        );
        assert_eq!(next_start(0, Outcome::Timeout, 1, false), 0);
    }
}

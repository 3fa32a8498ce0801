//! The overall deadline of one venue call: every attempt, backoff and wait
//! comes out of it. A wait that would pass it ends the call now instead.

use std::time::Duration;

use tokio::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline {
    at: Instant,
}

impl Deadline {
    /// A deadline `budget` from now.
    pub fn after(budget: Duration) -> Self {
        Self {
            at: Instant::now() + budget,
        }
    }

    pub fn at(at: Instant) -> Self {
        Self { at }
    }

    pub fn instant(&self) -> Instant {
        self.at
    }

    /// Time left (zero once passed).
    pub fn remaining(&self) -> Duration {
        self.at.saturating_duration_since(Instant::now())
    }

    pub fn expired(&self) -> bool {
        self.remaining().is_zero()
    }

    /// `d`, shortened to what is left.
    pub fn cap(&self, d: Duration) -> Duration {
        d.min(self.remaining())
    }

    /// Whether waiting `d` would still leave time to act afterwards.
    pub fn allows_wait(&self, d: Duration) -> bool {
        d < self.remaining()
    }

    /// The earlier of two deadlines.
    pub fn min(self, other: Deadline) -> Deadline {
        if self.at <= other.at { self } else { other }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn remaining_counts_down_and_caps() {
        let d = Deadline::after(Duration::from_millis(1000));
        tokio::time::advance(Duration::from_millis(400)).await;
        assert_eq!(d.remaining(), Duration::from_millis(600));
        assert_eq!(d.cap(Duration::from_secs(5)), Duration::from_millis(600));
        assert!(d.allows_wait(Duration::from_millis(599)));
        assert!(!d.allows_wait(Duration::from_millis(600)));
        tokio::time::advance(Duration::from_millis(700)).await;
        assert!(d.expired());
        assert_eq!(d.remaining(), Duration::ZERO);
    }
}

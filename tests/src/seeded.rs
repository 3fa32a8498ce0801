//! Randomness for seeded, bounded tests: a small generator each actor forks
//! its own stream from, so a seed fixes every actor's choices, and the seed
//! itself, read from an environment variable so that a failure's printed seed
//! reproduces it.

use std::ops::Range;
use std::time::Duration;

/// A small seeded generator (SplitMix64): each actor forks its own stream.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed ^ 0x6A09_E667_F3BC_C908)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [0, n) (0 when n is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// Uniform milliseconds in [lo, hi].
    pub fn ms(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_millis(lo + self.below(hi.saturating_sub(lo) + 1))
    }

    /// Uniform in the range (its start when empty).
    pub fn within(&mut self, r: &Range<Duration>) -> Duration {
        let span = r.end.saturating_sub(r.start).as_millis() as u64;
        r.start + Duration::from_millis(self.below(span + 1))
    }

    /// An independent stream for another actor.
    pub fn fork(&mut self, salt: u64) -> Rng {
        Rng::new(self.next_u64() ^ salt.wrapping_mul(0xD1B5_4A32_D192_ED03))
    }
}

/// The seed in the environment variable `var`, or `default` when it is not
/// set. A value that is not an integer stops the test with a message naming
/// the variable, rather than running with some other seed.
pub fn seed(var: &str, default: u64) -> u64 {
    match std::env::var(var) {
        Ok(s) => s
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{var} must be an integer, got {s:?}")),
        Err(_) => default,
    }
}

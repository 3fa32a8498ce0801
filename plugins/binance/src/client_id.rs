//! Client order ids for orders whose caller gave none.
//!
//! `prepare` picks the id once, before the host journals the call; the id is
//! then the call's idempotency key and part of the params every later step
//! uses (the request, the host's retries, `reconcile`). It is derived, not
//! drawn at each use: `rh-<ms base 36>-<12 hex digits>`, the digits from the
//! keccak-256 of the instance nonce, a per-instance counter, the host time,
//! the operation and its params. The nonce (from WASI random, read once per
//! instance) keeps two instances that place the same order in the same
//! millisecond from choosing the same id, which Binance would answer with
//! `-4116` and this plugin would then resolve to the *other* caller's order.
//!
//! 24 characters, all in Binance's `^[\.A-Z\:/a-z0-9_-]{1,36}$`.

use std::hash::{BuildHasher, RandomState};

use resilience_guest::encoding::hex_encode;
use resilience_guest::hash::keccak256;

use crate::params::ClientOrderId;

/// Prefix of generated ids (`rh` for resilience host), so they can be told
/// apart from ids the caller chose.
pub const PREFIX: &str = "rh-";

/// Generator of ids, one per plugin instance.
#[derive(Debug)]
pub struct IdGenerator {
    nonce: u64,
    counter: u64,
}

impl Default for IdGenerator {
    fn default() -> Self {
        // `RandomState` is seeded from the platform's random source (WASI
        // `random` in the component); it is read once per instance.
        Self::with_nonce(RandomState::new().hash_one(0u8))
    }
}

impl IdGenerator {
    /// A generator with a fixed nonce (tests).
    pub fn with_nonce(nonce: u64) -> Self {
        Self { nonce, counter: 0 }
    }

    /// The next id for `operation` with `params` (JSON text) at `now_ms`.
    pub fn next(&mut self, now_ms: u64, operation: &str, params: &str) -> ClientOrderId {
        self.counter += 1;
        let mut seed = Vec::with_capacity(24 + operation.len() + params.len() + 2);
        seed.extend_from_slice(&self.nonce.to_be_bytes());
        seed.extend_from_slice(&self.counter.to_be_bytes());
        seed.extend_from_slice(&now_ms.to_be_bytes());
        seed.extend_from_slice(operation.as_bytes());
        seed.push(0);
        seed.extend_from_slice(params.as_bytes());
        let digest = keccak256(&seed);
        ClientOrderId(format!(
            "{PREFIX}{}-{}",
            base36(now_ms),
            hex_encode(&digest[..6])
        ))
    }
}

/// Prefix of ids derived from a caller's `Idempotency-Key`.
pub const CALLER_PREFIX: &str = "ik-";

/// The client order id for a caller's `Idempotency-Key`: the key itself
/// when Binance accepts it as an id, else `ik-` and 32 hex digits of its
/// keccak-256. A pure function, so a retry with the same key sends the same
/// id and the host recognises it.
pub fn from_caller_key(key: &str) -> ClientOrderId {
    if ClientOrderId::check(key) {
        return ClientOrderId(key.to_string());
    }
    let digest = keccak256(key.as_bytes());
    ClientOrderId(format!("{CALLER_PREFIX}{}", hex_encode(&digest[..16])))
}

fn base36(mut n: u64) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_fit_binance_pattern_and_differ_per_call_and_instance() {
        let mut a = IdGenerator::with_nonce(1);
        let mut b = IdGenerator::with_nonce(2);
        let p = r#"{"symbol":"BTCUSDT"}"#;
        let a1 = a.next(1_700_000_000_000, "create_market_order", p);
        let a2 = a.next(1_700_000_000_000, "create_market_order", p);
        let b1 = b.next(1_700_000_000_000, "create_market_order", p);
        for id in [&a1, &a2, &b1] {
            assert!(ClientOrderId::check(&id.0), "{id:?}");
            assert_eq!(id.0.len(), 24, "{id:?}");
            assert!(id.0.starts_with("rh-loyw3v28-"), "{id:?}");
        }
        assert_ne!(a1, a2, "same instance, same params, same ms");
        assert_ne!(a1, b1, "two instances, same params, same ms");
        // Derived: the same inputs give the same id.
        assert_eq!(
            IdGenerator::with_nonce(1).next(1_700_000_000_000, "create_market_order", p),
            a1
        );
    }

    #[test]
    fn base36_digits() {
        assert_eq!(base36(0), "0");
        assert_eq!(base36(35), "z");
        assert_eq!(base36(36), "10");
        assert_eq!(base36(1_700_000_000_000), "loyw3v28");
    }
}

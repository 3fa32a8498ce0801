//! What a warm instance remembers between calls, and why each entry is safe
//! to keep.
//!
//! | entry                         | key                | kept until |
//! |-------------------------------|--------------------|------------|
//! | `decimals()`                  | feed address       | the instance ends (a feed's decimals never change) |
//! | aggregator bounds             | feed address       | the round id shows another phase (a new aggregator) |
//! | chain check                   | (the venue)        | a feed read answers no data (see [`crate::chain_check`]) |
//!
//! The host keeps instances per venue and may replace one at any time; the
//! caches then refill. Every map is bounded by the feeds the venue can name:
//! at most [`MAX_FEEDS`] entries, beyond which the oldest-keyed entry goes.

use std::collections::BTreeMap;

use crate::bounds::Bounds;
use crate::chain_check::ChainCheck;

/// Most feeds remembered per map.
pub const MAX_FEEDS: usize = 256;

/// Bounds of a feed's aggregator in one phase; `None` when the aggregator
/// does not have them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhaseBounds {
    pub phase: u16,
    pub bounds: Option<Bounds>,
}

/// The instance's caches.
#[derive(Debug, Default)]
pub struct Cache {
    decimals: BTreeMap<String, u8>,
    bounds: BTreeMap<String, PhaseBounds>,
    pub chain: ChainCheck,
}

impl Cache {
    pub fn decimals(&self, address: &str) -> Option<u8> {
        self.decimals.get(&address.to_ascii_lowercase()).copied()
    }

    pub fn set_decimals(&mut self, address: &str, decimals: u8) {
        insert_bounded(&mut self.decimals, address, decimals);
    }

    pub fn bounds(&self, address: &str) -> Option<&PhaseBounds> {
        self.bounds.get(&address.to_ascii_lowercase())
    }

    pub fn set_bounds(&mut self, address: &str, bounds: PhaseBounds) {
        insert_bounded(&mut self.bounds, address, bounds);
    }
}

fn insert_bounded<V>(map: &mut BTreeMap<String, V>, address: &str, value: V) {
    let key = address.to_ascii_lowercase();
    if !map.contains_key(&key) && map.len() >= MAX_FEEDS {
        map.pop_first();
    }
    map.insert(key, value);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_ignore_case_and_maps_stay_bounded() {
        let mut c = Cache::default();
        c.set_decimals("0xABC", 8);
        assert_eq!(c.decimals("0xabc"), Some(8));
        for i in 0..MAX_FEEDS + 10 {
            c.set_decimals(&format!("0x{i:040x}"), 8);
        }
        assert_eq!(c.decimals.len(), MAX_FEEDS);
    }
}

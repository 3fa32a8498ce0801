//! Seeded random JSON for the SDK's own equivalence tests: the fast ways
//! of decoding must answer exactly as the path-tracking ways they replace.

use serde_json::{Value, json};

/// The seed from `var` (printed by every failing assertion), else `default`.
pub fn seed(var: &str, default: u64) -> u64 {
    std::env::var(var)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

/// splitmix64: a seeded, dependency-free source.
pub fn next(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Any JSON value, objects drawing their keys from `keys`.
pub fn value(state: &mut u64, keys: &[&str], depth: u32) -> Value {
    let pick = |state: &mut u64, n: u64| next(state) % n;
    match pick(state, if depth > 1 { 7 } else { 9 }) {
        0 => Value::Null,
        1 => json!(pick(state, 2) == 0),
        2 => json!(pick(state, 1 << 33)),
        3 => json!(-(pick(state, 1000) as i64)),
        4 => json!(pick(state, 10_000) as f64 / 8.0),
        5 => json!(["Buy", "Sell", "Hold", "", "a\"b\u{1}"][pick(state, 5) as usize]),
        6 => Value::Array(
            (0..pick(state, 3))
                .map(|_| value(state, keys, depth + 1))
                .collect(),
        ),
        _ => {
            let mut map = serde_json::Map::new();
            for key in keys {
                if pick(state, 3) != 0 {
                    map.insert(key.to_string(), value(state, keys, depth + 1));
                }
            }
            Value::Object(map)
        }
    }
}

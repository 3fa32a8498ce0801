//! Hashes and MACs for checking what plugins signed, independently of the
//! host's signing code path (these use the RustCrypto crates directly; the
//! known-answer tests in `tests/tests/{binance,polymarket}.rs` pin them to
//! the venues' official vectors).

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use sha3::Keccak256;

/// SHA-256.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// HMAC-SHA256 (RFC 2104).
pub fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// Keccak-256 with Ethereum's padding.
pub fn keccak256(data: &[u8]) -> [u8; 32] {
    Keccak256::digest(data).into()
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

/// URL-safe base64 with padding (Polymarket's L2 signature encoding).
pub fn base64url(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE.encode(bytes)
}

//! Where host calls go: the one switch between the real imports and the
//! native test harness. Every SDK function that calls the host goes through
//! here, so a plugin's code is the same in both worlds.
//!
//! | target               | feature `testing` | host calls go to                         |
//! |----------------------|-------------------|------------------------------------------|
//! | `wasm32`             | any               | the WIT imports (wit-bindgen)            |
//! | native               | on                | the thread's [`MockHost`](crate::testing::MockHost) |
//! | native               | off               | a panic asking to enable the feature     |

#[cfg(target_arch = "wasm32")]
pub(crate) use crate::bindings::resilience::venue::endpoints::{
    count as endpoint_count, send_all_to,
};
#[cfg(target_arch = "wasm32")]
pub(crate) use crate::bindings::resilience::venue::host::{
    config, hmac_sha256, log, now_ms, report_usage, send, send_all, sign_secp256k1,
};

#[cfg(all(not(target_arch = "wasm32"), feature = "testing"))]
pub(crate) use crate::testing::imports::{
    config, endpoint_count, hmac_sha256, log, now_ms, report_usage, send, send_all, send_all_to,
    sign_secp256k1,
};

#[cfg(all(not(target_arch = "wasm32"), not(feature = "testing")))]
pub(crate) use self::unavailable::{
    config, endpoint_count, hmac_sha256, log, now_ms, report_usage, send, send_all, send_all_to,
    sign_secp256k1,
};

/// Native builds without the harness: a host call is a bug in the test, and
/// the panic says how to fix it.
#[cfg(all(not(target_arch = "wasm32"), not(feature = "testing")))]
mod unavailable {
    use crate::bindings::resilience::venue::types::{
        LogLevel, Request, Response, SendError, UsageReport,
    };

    #[cold]
    #[track_caller]
    fn no_host(import: &str) -> ! {
        panic!(
            "resilience-guest: host import `{import}` called outside a WebAssembly host. \
             To run operations natively in tests, enable the feature \
             `resilience-guest/testing` (as a dev-dependency: \
             `resilience-guest = {{ workspace = true, features = [\"testing\"] }}`) \
             and run them through `resilience_guest::testing::call` with a `MockHost`."
        )
    }

    pub fn send(_: &Request) -> Result<Response, SendError> {
        no_host("send")
    }
    pub fn send_all(_: &[Request]) -> Vec<Result<Response, SendError>> {
        no_host("send-all")
    }
    pub fn send_all_to(_: &[(Option<u32>, Request)]) -> Vec<Result<Response, SendError>> {
        no_host("send-all-to")
    }
    pub fn endpoint_count() -> u32 {
        no_host("endpoints.count")
    }
    pub fn now_ms() -> u64 {
        no_host("now-ms")
    }
    pub fn config(_: &str) -> Option<String> {
        no_host("config")
    }
    pub fn hmac_sha256(_: &str, _: &[u8]) -> Result<Vec<u8>, SendError> {
        no_host("hmac-sha256")
    }
    pub fn sign_secp256k1(_: &str, _: &[u8]) -> Result<Vec<u8>, SendError> {
        no_host("sign-secp256k1")
    }
    pub fn log(_: LogLevel, _: &str) {
        no_host("log")
    }
    pub fn report_usage(_: &UsageReport) {
        no_host("report-usage")
    }
}

#[cfg(all(test, not(target_arch = "wasm32"), not(feature = "testing")))]
mod tests {
    #[test]
    #[should_panic(expected = "resilience-guest/testing")]
    fn host_call_without_the_harness_panics_naming_the_feature() {
        crate::host::now_ms();
    }
}

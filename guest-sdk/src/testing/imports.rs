//! The host imports as the native harness answers them, with the same
//! signatures as the wit-bindgen imports (see [`crate::sys`]).

use crate::bindings::resilience::venue::types::{
    LogLevel, Request, Response, SendError, UsageReport,
};

use super::active;

pub fn send(req: &Request) -> Result<Response, SendError> {
    active::with("send", |s| s.send(req))
}

pub fn send_all(reqs: &[Request]) -> Vec<Result<Response, SendError>> {
    active::with("send-all", |s| s.send_all(reqs))
}

pub fn send_all_to(reqs: &[(Option<u32>, Request)]) -> Vec<Result<Response, SendError>> {
    active::with("send-all-to", |s| s.send_all_to(reqs))
}

pub fn endpoint_count() -> u32 {
    active::with("endpoints.count", |s| s.endpoint_count)
}

pub fn now_ms() -> u64 {
    active::with("now-ms", |s| s.now_ms)
}

pub fn config(key: &str) -> Option<String> {
    active::with("config", |s| s.settings.get(key).cloned())
}

pub fn hmac_sha256(secret_name: &str, message: &[u8]) -> Result<Vec<u8>, SendError> {
    active::with("hmac-sha256", |s| s.hmac_sha256(secret_name, message))
}

pub fn sign_secp256k1(secret_name: &str, digest: &[u8]) -> Result<Vec<u8>, SendError> {
    active::with("sign-secp256k1", |s| s.sign_secp256k1(secret_name, digest))
}

pub fn log(level: LogLevel, message: &str) {
    active::with("log", |s| s.logs.push((level, message.to_string())))
}

pub fn report_usage(report: &UsageReport) {
    // The host ignores reports for counters the plugin did not declare.
    active::with("report-usage", |s| {
        if s.counter_declared(&report.counter) {
            s.usage.push(report.clone())
        }
    })
}

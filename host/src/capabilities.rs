//! What a plugin may import, and the checks behind each capability.
//!
//! | import            | scope                                   | refused with |
//! |-------------------|-----------------------------------------|--------------|
//! | `send`, `send-all`| the venue's endpoints only; `path` must start with `/` | `denied` |
//! | `${secret:NAME}`  | the venue's own `secrets`, substituted after the request leaves the plugin | `denied` |
//! | `hmac-sha256`     | the venue's own secrets                  | `denied` |
//! | `sign-secp256k1`  | the venue's own secrets (hex private key) | `denied` |
//! | `config`          | the venue's `settings` (never secrets)   | `none`   |
//! | `now-ms`          | wall clock, milliseconds                 | -        |
//! | `log`             | host log, tagged venue/plugin, 4 KiB per line | -   |
//! | `report-usage`    | the venue's rate-limit counters          | -        |
//!
//! Outside a call (at instantiation or in `describe`) there is no venue, and
//! every venue-scoped import is refused. Secret bytes never enter guest
//! memory, logs or errors: messages name the secret, never its value.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use hmac::{Hmac, Mac};
use http::{HeaderName, HeaderValue};
use sha2::Sha256;

use crate::config::{PluginLimits, Secret};
use crate::journal::protocol::{SendLedger, is_refusal};
use crate::plugin::bindings::{
    self, LogLevel, Method, RateLimited, Request, Response, SendError, UsageReport,
};
use crate::plugin::state::StoreState;
use crate::resilience::deadline::Deadline;
use crate::resilience::ratelimit::WEIGHT_WINDOW;
use crate::upstream::{OutboundRequest, SendFailure, Upstream};

/// The venue and deadline of the call in progress on an instance.
#[derive(Debug, Clone)]
pub struct CallScope {
    pub venue: Arc<VenueContext>,
    /// Every `send` of the call finishes by this instant.
    pub deadline: Deadline,
    /// For a journaled call: its non-idempotent requests that may have left.
    pub sends: Option<Arc<SendLedger>>,
}

impl CallScope {
    pub fn new(venue: Arc<VenueContext>, deadline: Deadline) -> Self {
        Self {
            venue,
            deadline,
            sends: None,
        }
    }
}

/// Most requests one `send-all` may carry.
pub const MAX_SEND_ALL: usize = 64;
/// Longest log line a plugin may write.
const MAX_LOG_BYTES: usize = 4096;

/// Everything a call may reach, scoped to one venue.
pub struct VenueContext {
    pub venue: String,
    pub plugin: String,
    pub settings: BTreeMap<String, String>,
    secrets: BTreeMap<String, Secret>,
    pub upstream: Arc<Upstream>,
    limits: PluginLimits,
    usage: Mutex<BTreeMap<String, UsageReport>>,
}

impl std::fmt::Debug for VenueContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VenueContext")
            .field("venue", &self.venue)
            .field("plugin", &self.plugin)
            .field("secrets", &self.secrets.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl VenueContext {
    pub fn new(
        venue: &str,
        plugin: &str,
        settings: BTreeMap<String, String>,
        secrets: BTreeMap<String, Secret>,
        upstream: Arc<Upstream>,
        limits: PluginLimits,
    ) -> Self {
        Self {
            venue: venue.to_string(),
            plugin: plugin.to_string(),
            settings,
            secrets,
            upstream,
            limits,
            usage: Mutex::new(BTreeMap::new()),
        }
    }

    /// The venue's latest usage reports, by counter.
    pub fn usage(&self) -> BTreeMap<String, UsageReport> {
        self.usage.lock().map(|u| u.clone()).unwrap_or_default()
    }

    /// Check, fill in secrets, and send one plugin request. A non-idempotent
    /// request is counted in `sends` before it is handed over, and uncounted
    /// only on proof (see [`SendLedger`]).
    pub async fn send(
        &self,
        req: Request,
        deadline: Deadline,
        sends: Option<&SendLedger>,
    ) -> Result<Response, SendError> {
        let out = self.outbound(req)?;
        let counted = sends.filter(|_| !out.idempotent).map(SendLedger::begin);
        let result = self.upstream.send(out, deadline).await;
        if let Some(send) = counted {
            match &result {
                Ok(resp) if is_refusal(resp.status) => send.refused(),
                Err(f) if !f.may_have_left() => send.not_sent(),
                _ => send.may_have_left(),
            }
        }
        match result {
            Ok(resp) => Ok(Response {
                status: resp.status,
                headers: resp.headers,
                body: resp.body.to_vec(),
            }),
            Err(f) => Err(to_send_error(f)),
        }
    }

    /// Send several requests concurrently; results keep request order.
    pub async fn send_all(
        self: &Arc<Self>,
        reqs: Vec<Request>,
        deadline: Deadline,
        sends: Option<&Arc<SendLedger>>,
    ) -> Vec<Result<Response, SendError>> {
        if reqs.len() > MAX_SEND_ALL {
            let msg = format!(
                "send-all takes at most {MAX_SEND_ALL} requests, got {}",
                reqs.len()
            );
            return reqs
                .iter()
                .map(|_| Err(SendError::Denied(msg.clone())))
                .collect();
        }
        let mut set = tokio::task::JoinSet::new();
        let n = reqs.len();
        for (i, req) in reqs.into_iter().enumerate() {
            let ctx = Arc::clone(self);
            let sends = sends.cloned();
            set.spawn(async move { (i, ctx.send(req, deadline, sends.as_deref()).await) });
        }
        let mut out: Vec<Option<Result<Response, SendError>>> = (0..n).map(|_| None).collect();
        while let Some(joined) = set.join_next().await {
            match joined {
                Ok((i, r)) => out[i] = Some(r),
                Err(e) => tracing::error!(venue = %self.venue, error = %e, "send-all task failed"),
            }
        }
        out.into_iter()
            .map(|r| r.unwrap_or_else(|| Err(SendError::Connection("request task failed".into()))))
            .collect()
    }

    /// Turn a plugin request into what the upstream sends: path checked,
    /// headers parsed, secrets substituted.
    fn outbound(&self, req: Request) -> Result<OutboundRequest, SendError> {
        if !req.path.starts_with('/') || req.path.starts_with("//") {
            return Err(SendError::Denied(format!(
                "path must start with a single '/' and is joined to the venue's endpoint; got {:?}",
                truncate(&req.path, 80)
            )));
        }
        if req
            .path
            .chars()
            .any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(SendError::Denied(
                "path contains whitespace or control characters".into(),
            ));
        }
        if req.body.len() > self.limits.max_request_bytes {
            return Err(SendError::Denied(format!(
                "request body of {} bytes is over the limit of {}",
                req.body.len(),
                self.limits.max_request_bytes
            )));
        }
        let path = self.substitute(&req.path, true)?;
        let mut headers = Vec::with_capacity(req.headers.len());
        for (name, value) in &req.headers {
            let hn = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| SendError::Denied(format!("invalid header name {name:?}")))?;
            if is_hop_by_hop(&hn) {
                return Err(SendError::Denied(format!(
                    "header {name} is managed by the host"
                )));
            }
            let v = self.substitute(value, false)?;
            let mut hv = HeaderValue::from_str(&v)
                .map_err(|_| SendError::Denied(format!("invalid value for header {name}")))?;
            if v != *value {
                hv.set_sensitive(true);
            }
            headers.push((hn, hv));
        }
        Ok(OutboundRequest {
            method: match req.method {
                Method::Get => http::Method::GET,
                Method::Post => http::Method::POST,
                Method::Put => http::Method::PUT,
                Method::Delete => http::Method::DELETE,
                Method::Patch => http::Method::PATCH,
            },
            path_and_query: path,
            headers,
            body: Bytes::from(req.body),
            idempotent: req.idempotent,
            weight: req.weight,
        })
    }

    fn secret(&self, name: &str) -> Result<&Secret, SendError> {
        self.secrets.get(name).ok_or_else(|| {
            SendError::Denied(format!(
                "secret {name:?} is not configured for venue {}",
                self.venue
            ))
        })
    }

    /// Replace `${secret:NAME}` (and, in paths, its percent-encoded form
    /// `%24%7Bsecret%3ANAME%7D`) with the secret; in paths the value is
    /// percent-encoded.
    fn substitute(&self, s: &str, in_path: bool) -> Result<String, SendError> {
        const OPEN: &str = "${secret:";
        const OPEN_ENC: &str = "%24%7Bsecret%3A";
        if !(s.contains(OPEN) || in_path && contains_ci(s, OPEN_ENC)) {
            return Ok(s.to_string());
        }
        let mut out = String::with_capacity(s.len() + 32);
        let mut rest = s;
        loop {
            let raw = rest.find(OPEN).map(|i| (i, OPEN.len(), "}"));
            let enc = if in_path {
                find_ci(rest, OPEN_ENC).map(|i| (i, OPEN_ENC.len(), "%7D"))
            } else {
                None
            };
            let next = match (raw, enc) {
                (Some(a), Some(b)) => Some(if a.0 <= b.0 { a } else { b }),
                (a, b) => a.or(b),
            };
            let Some((start, open_len, close)) = next else {
                out.push_str(rest);
                break;
            };
            out.push_str(&rest[..start]);
            let after = &rest[start + open_len..];
            let end = find_ci(after, close).ok_or_else(|| {
                SendError::Denied("unterminated ${secret:...} placeholder".into())
            })?;
            let name = &after[..end];
            let secret = self.secret(name)?;
            let value = std::str::from_utf8(secret.expose()).map_err(|_| {
                SendError::Denied(format!(
                    "secret {name:?} is not text and cannot be placed in a request"
                ))
            })?;
            if in_path {
                out.push_str(
                    &percent_encoding::utf8_percent_encode(value, QUERY_VALUE).to_string(),
                );
            } else {
                out.push_str(value);
            }
            rest = &after[end + close.len()..];
        }
        Ok(out)
    }

    /// HMAC-SHA256 with the venue's secret `name`.
    pub fn hmac_sha256(&self, name: &str, message: &[u8]) -> Result<Vec<u8>, SendError> {
        let secret = self.secret(name)?;
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.expose())
            .map_err(|_| SendError::Denied(format!("secret {name:?} cannot key an HMAC")))?;
        mac.update(message);
        Ok(mac.finalize().into_bytes().to_vec())
    }

    /// Recoverable secp256k1 signature `r || s || v` (v = 27 + recovery id)
    /// of a 32-byte digest with the venue's key `name` (hex, optional `0x`).
    pub fn sign_secp256k1(&self, name: &str, digest: &[u8]) -> Result<Vec<u8>, SendError> {
        if digest.len() != 32 {
            return Err(SendError::Denied(format!(
                "sign-secp256k1 takes a 32-byte digest, got {} bytes",
                digest.len()
            )));
        }
        let secret = self.secret(name)?;
        let key = parse_private_key(secret.expose()).ok_or_else(|| {
            SendError::Denied(format!(
                "secret {name:?} is not a secp256k1 private key (64 hex digits)"
            ))
        })?;
        let (sig, recid) = key
            .sign_prehash_recoverable(digest)
            .map_err(|_| SendError::Denied("signing failed".into()))?;
        let mut out = sig.to_bytes().to_vec();
        out.push(27 + recid.to_byte());
        Ok(out)
    }

    fn record_usage(&self, report: UsageReport) {
        if report.counter == "weight" {
            self.upstream.limiter.report_weight(
                report.used,
                std::time::Duration::from_millis(report.window_ms),
            );
            if report.window_ms != WEIGHT_WINDOW.as_millis() as u64 {
                tracing::debug!(venue = %self.venue, window_ms = report.window_ms, "weight report for another window than the local one; kept for display only");
            }
        }
        if let Ok(mut u) = self.usage.lock() {
            u.insert(report.counter.clone(), report);
        }
    }
}

fn parse_private_key(bytes: &[u8]) -> Option<k256::ecdsa::SigningKey> {
    let text = std::str::from_utf8(bytes).ok()?.trim();
    let hex_str = text.strip_prefix("0x").unwrap_or(text);
    let raw = hex::decode(hex_str).ok()?;
    if raw.len() != 32 {
        return None;
    }
    k256::ecdsa::SigningKey::from_slice(&raw).ok()
}

/// Characters percent-encoded when a secret goes into a path or query value.
const QUERY_VALUE: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

fn find_ci(hay: &str, needle: &str) -> Option<usize> {
    hay.as_bytes()
        .windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle.as_bytes()))
}

fn contains_ci(hay: &str, needle: &str) -> bool {
    find_ci(hay, needle).is_some()
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).collect()
}

fn is_hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "host"
            | "connection"
            | "content-length"
            | "transfer-encoding"
            | "upgrade"
            | "te"
            | "trailer"
            | "keep-alive"
            | "proxy-connection"
    )
}

fn to_send_error(f: SendFailure) -> SendError {
    match f {
        SendFailure::Timeout { message, .. } => SendError::Timeout(message),
        SendFailure::Connection { message, .. } => SendError::Connection(message),
        SendFailure::CircuitOpen(m) => SendError::CircuitOpen(m),
        SendFailure::RateLimited {
            message,
            retry_after_ms,
        } => SendError::RateLimited(RateLimited {
            message,
            retry_after_ms,
        }),
        SendFailure::Denied(m) => SendError::Denied(m),
    }
}

fn no_venue() -> SendError {
    SendError::Denied("no venue: host calls are only available inside invoke".into())
}

impl bindings::resilience::venue::types::Host for StoreState {}

impl bindings::resilience::venue::host::Host for StoreState {
    async fn send(&mut self, req: Request) -> Result<Response, SendError> {
        let Some(scope) = self.call.clone() else {
            return Err(no_venue());
        };
        let started = tokio::time::Instant::now();
        let result = scope
            .venue
            .send(req, scope.deadline, scope.sends.as_deref())
            .await;
        self.resumed_after(started.elapsed());
        result
    }

    async fn send_all(&mut self, reqs: Vec<Request>) -> Vec<Result<Response, SendError>> {
        let Some(scope) = self.call.clone() else {
            return reqs.iter().map(|_| Err(no_venue())).collect();
        };
        let started = tokio::time::Instant::now();
        let result = scope
            .venue
            .send_all(reqs, scope.deadline, scope.sends.as_ref())
            .await;
        self.resumed_after(started.elapsed());
        result
    }

    fn now_ms(&mut self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0)
    }

    fn config(&mut self, key: String) -> Option<String> {
        self.call.as_ref()?.venue.settings.get(&key).cloned()
    }

    fn hmac_sha256(&mut self, secret_name: String, message: Vec<u8>) -> Result<Vec<u8>, SendError> {
        self.call
            .as_ref()
            .ok_or_else(no_venue)?
            .venue
            .hmac_sha256(&secret_name, &message)
    }

    fn sign_secp256k1(
        &mut self,
        secret_name: String,
        digest: Vec<u8>,
    ) -> Result<Vec<u8>, SendError> {
        self.call
            .as_ref()
            .ok_or_else(no_venue)?
            .venue
            .sign_secp256k1(&secret_name, &digest)
    }

    fn log(&mut self, level: LogLevel, message: String) {
        let (venue, plugin) = match &self.call {
            Some(c) => (c.venue.venue.as_str(), c.venue.plugin.as_str()),
            None => ("-", "-"),
        };
        let mut msg = message;
        if msg.len() > MAX_LOG_BYTES {
            let mut cut = MAX_LOG_BYTES;
            while !msg.is_char_boundary(cut) {
                cut -= 1;
            }
            msg.truncate(cut);
            msg.push_str(" [truncated]");
        }
        match level {
            LogLevel::Trace => tracing::trace!(target: "plugin", venue, plugin, "{msg}"),
            LogLevel::Debug => tracing::debug!(target: "plugin", venue, plugin, "{msg}"),
            LogLevel::Info => tracing::info!(target: "plugin", venue, plugin, "{msg}"),
            LogLevel::Warn => tracing::warn!(target: "plugin", venue, plugin, "{msg}"),
            LogLevel::Error => tracing::error!(target: "plugin", venue, plugin, "{msg}"),
        }
    }

    fn report_usage(&mut self, report: UsageReport) {
        if let Some(c) = &self.call {
            c.venue.record_usage(report);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    fn ctx(secrets: &[(&str, &str)]) -> VenueContext {
        let vc: crate::config::VenueConfig = serde_json::from_value(serde_json::json!({
            "plugin": "ton",
            "endpoints": ["http://127.0.0.1:9"],
        }))
        .unwrap();
        let upstream = Upstream::new("t", &vc, &BTreeMap::new(), 1024).unwrap();
        VenueContext::new(
            "ton",
            "ton",
            BTreeMap::new(),
            secrets
                .iter()
                .map(|(k, v)| (k.to_string(), Secret::new(v.as_bytes())))
                .collect(),
            Arc::new(upstream),
            PluginLimits::default(),
        )
    }

    fn req(path: &str, headers: &[(&str, &str)]) -> Request {
        Request {
            method: Method::Get,
            path: path.into(),
            headers: headers
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            body: vec![],
            idempotent: true,
            weight: 1,
        }
    }

    #[test]
    fn secret_placeholders_are_substituted_in_headers_and_path() {
        let c = ctx(&[("api_key", "k/y+1")]);
        let out = c
            .outbound(req(
                "/x?key=%24%7Bsecret%3Aapi_key%7D&b=${secret:api_key}",
                &[("X-API-Key", "${secret:api_key}")],
            ))
            .unwrap();
        assert_eq!(out.path_and_query, "/x?key=k%2Fy%2B1&b=k%2Fy%2B1");
        assert_eq!(out.headers[0].1.to_str().unwrap(), "k/y+1");
        assert!(out.headers[0].1.is_sensitive());
    }

    #[test]
    fn unknown_secret_is_denied_without_leaking_values() {
        let c = ctx(&[("api_key", "topsecret")]);
        let err = c
            .outbound(req("/x", &[("X", "${secret:other}")]))
            .unwrap_err();
        match err {
            SendError::Denied(m) => {
                assert!(m.contains("\"other\""), "{m}");
                assert!(!m.contains("topsecret"));
            }
            e => panic!("expected denied, got {e:?}"),
        }
    }

    #[test]
    fn absolute_urls_are_denied() {
        let c = ctx(&[]);
        for p in ["https://evil.example/x", "//evil.example/x", "x"] {
            assert!(
                matches!(c.outbound(req(p, &[])), Err(SendError::Denied(_))),
                "{p}"
            );
        }
    }

    #[test]
    fn hmac_matches_rfc4231_case_2() {
        let c = ctx(&[("k", "Jefe")]);
        let mac = c.hmac_sha256("k", b"what do ya want for nothing?").unwrap();
        assert_eq!(
            hex::encode(mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn secp256k1_signature_recovers_to_the_key() {
        use k256::ecdsa::{RecoveryId, Signature, VerifyingKey};
        let sk_hex = "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318";
        let c = ctx(&[("pk", &format!("0x{sk_hex}"))]);
        let digest = [0x11u8; 32];
        let sig = c.sign_secp256k1("pk", &digest).unwrap();
        assert_eq!(sig.len(), 65);
        assert!(sig[64] == 27 || sig[64] == 28);
        let again = c.sign_secp256k1("pk", &digest).unwrap();
        assert_eq!(sig, again, "RFC 6979 signatures are deterministic");
        let signature = Signature::from_slice(&sig[..64]).unwrap();
        let recid = RecoveryId::from_byte(sig[64] - 27).unwrap();
        let recovered = VerifyingKey::recover_from_prehash(&digest, &signature, recid).unwrap();
        let expected = k256::ecdsa::SigningKey::from_slice(&hex::decode(sk_hex).unwrap())
            .unwrap()
            .verifying_key()
            .to_owned();
        assert_eq!(recovered, expected);
    }
}

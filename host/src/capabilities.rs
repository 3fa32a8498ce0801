//! What a plugin may import, and the checks behind each capability.
//!
//! | import            | scope                                   | refused with |
//! |-------------------|-----------------------------------------|--------------|
//! | `send`, `send-all`, `send-all-to` | the venue's endpoints only (a pinned request its one endpoint); checked by [`crate::outbound`] (relative path without dot segments, valid headers, declared header secrets for their bound endpoints, a recipe keyed by a declared `hmac-key`) | `denied` |
//! | `hmac-sha256`     | the venue's secrets the plugin declared `hmac-key` | `denied` |
//! | `sign-secp256k1`  | the venue's secrets declared `secp256k1-key` (hex private key) | `denied` |
//! | `config`          | the venue's `settings` (never secrets)   | `none`   |
//! | `now-ms`          | wall clock, milliseconds                 | -        |
//! | `log`             | host log, tagged venue/plugin, 4 KiB per line | -   |
//! | `report-usage`    | the venue's rate-limit counters the plugin declared | ignored |
//!
//! Outside a call (at instantiation or in `describe`) there is no venue, and
//! every venue-scoped import is refused. Secret bytes never enter guest
//! memory, logs or errors: messages name the secret, never its value (see
//! [`crate::grants`] for the invariant).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use hmac::{Hmac, Mac};
use sha2::Sha256;
use tracing::Instrument as _;

use crate::config::PluginLimits;
use crate::grants::{Grants, Use};
use crate::journal::protocol::{SendLedger, is_refusal};
use crate::outbound::{self, RequestLimits, SecretStore};
use crate::plugin::bindings::{
    self, LogLevel, RateLimited, Request, Response, SendError, UsageReport, VenueError,
};
use crate::plugin::resume::{self, Answer, Batch, Run, Wait};
use crate::plugin::state::StoreState;
use crate::resilience::deadline::Deadline;
use crate::resilience::ratelimit::WEIGHT_WINDOW;
use crate::upstream::{RateRefusal, ResponseBudget, SendFailure, Upstream};

/// The venue, the plugin's grants and the deadline of the call in progress
/// on an instance.
#[derive(Debug, Clone)]
pub struct CallScope {
    pub venue: Arc<VenueContext>,
    /// What the plugin serving the call declared (secret uses, counters).
    pub grants: Arc<Grants>,
    /// Every `send` of the call finishes by this instant.
    pub deadline: Deadline,
    /// For a journaled call: its non-idempotent requests that may have left.
    pub sends: Option<Arc<SendLedger>>,
    /// What the call's sends met, for booking a rate limit the plugin reads
    /// from an answer (see [`CallScope::reported_rate_limit`]).
    trace: Arc<CallTrace>,
    /// Where each send's first attempt starts (see [`OutboundRequest::start`](crate::upstream::OutboundRequest::start)).
    start: usize,
}

/// What the sends of one call met.
#[derive(Debug, Default)]
struct CallTrace {
    /// The endpoint of the latest answer, plus one (0: none yet).
    answered_by: AtomicUsize,
    /// The host's own rate limit refused a send, or the venue answered 429
    /// or 418 (booked by the upstream already).
    host_limited: AtomicBool,
    /// A non-idempotent request may have reached the venue: the call must
    /// not run again (see [`CallScope::may_rerun`]).
    unrepeatable_sent: AtomicBool,
}

impl CallScope {
    pub fn new(venue: Arc<VenueContext>, grants: Arc<Grants>, deadline: Deadline) -> Self {
        Self {
            venue,
            grants,
            deadline,
            sends: None,
            trace: Arc::default(),
            start: 0,
        }
    }

    /// This scope, counting its non-idempotent sends in `sends` (a journaled call).
    pub fn counting_sends(self, sends: Arc<SendLedger>) -> Self {
        Self {
            sends: Some(sends),
            ..self
        }
    }

    /// A fresh scope for a rerun of the call, whose sends start at `start`.
    pub fn rerun_from(&self, start: usize) -> Self {
        Self {
            trace: Arc::default(),
            start,
            ..self.clone()
        }
    }

    /// Book `err`, what the plugin returned, when it is a rate limit the
    /// plugin read from an answer (`VenueError::rate_limited` in the SDK):
    /// the host treats it as a 429 from the endpoint that answered last (see
    /// [`Upstream::plugin_rate_limited`]). `None` for every other error, for a
    /// call that got no answer, and when the upstream has booked the limit
    /// already: the host's own `rate-limited` passed back unchanged, or a
    /// venue's 429 or 418 whose body the plugin read.
    pub fn reported_rate_limit(&self, err: &VenueError) -> Option<RateRefusal> {
        let VenueError::Transport(SendError::RateLimited(r)) = err else {
            return None;
        };
        if self.trace.host_limited.load(Ordering::Relaxed) {
            return None;
        }
        let endpoint = self
            .trace
            .answered_by
            .load(Ordering::Relaxed)
            .checked_sub(1)?;
        let wait = r.retry_after_ms.map(std::time::Duration::from_millis);
        Some(self.venue.upstream.plugin_rate_limited(endpoint, wait))
    }

    /// Whether the call may run again (a read the plugin reported rate
    /// limited): not once one of its non-idempotent requests may have reached
    /// the venue, since a rerun would send it again. A read-only operation may
    /// still send one (TON's `send_boc` posts a message whose repeat the
    /// chain refuses), and only the journal decides when an unrepeatable
    /// request may go out twice.
    pub fn may_rerun(&self) -> bool {
        !self.trace.unrepeatable_sent.load(Ordering::Relaxed)
    }

    /// Check, resolve secrets and send one plugin request. A non-idempotent
    /// request is counted in `sends` before it is handed over, and uncounted
    /// only on proof (see [`SendLedger`]).
    pub async fn send(&self, req: Request) -> Result<Response, SendError> {
        self.send_within(req, None, None).await
    }

    /// [`CallScope::send`], limited to endpoint `pin` when one is named.
    async fn send_within(
        &self,
        req: Request,
        pin: Option<u32>,
        budget: Option<Arc<ResponseBudget>>,
    ) -> Result<Response, SendError> {
        let mut out = outbound::build(
            req,
            &self.grants,
            &self.venue.secrets,
            RequestLimits {
                max_request_bytes: self.venue.limits.max_request_bytes,
            },
        )?;
        if let Some(pin) = pin {
            out.endpoints = Some(self.pinned(pin, out.endpoints.as_deref())?);
        }
        out.response_budget = budget;
        out.start = self.start;
        let idempotent = out.idempotent;
        let counted = self
            .sends
            .as_deref()
            .filter(|_| !idempotent)
            .map(SendLedger::begin);
        let result = self.venue.upstream.send(out, self.deadline).await;
        let may_have_left = match &result {
            Ok(resp) => !is_refusal(resp.status),
            Err(f) => f.may_have_left(),
        };
        if !idempotent && may_have_left {
            self.trace.unrepeatable_sent.store(true, Ordering::Relaxed);
        }
        if let Some(send) = counted {
            match &result {
                Ok(resp) if is_refusal(resp.status) => send.refused(),
                Err(f) if !f.may_have_left() => send.not_sent(),
                _ => send.may_have_left(),
            }
        }
        match &result {
            // A 429 or 418 is the host's to book, and it has: the plugin
            // reading the same refusal from its body must not book it again.
            Ok(resp) if matches!(resp.status, 429 | 418) => {
                self.trace.host_limited.store(true, Ordering::Relaxed)
            }
            Ok(resp) => self
                .trace
                .answered_by
                .store(resp.endpoint + 1, Ordering::Relaxed),
            Err(SendFailure::RateLimited { .. }) => {
                self.trace.host_limited.store(true, Ordering::Relaxed)
            }
            Err(_) => {}
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

    /// The endpoints a request pinned to `pin` may go to: that one, if it
    /// exists and the request's header secrets (bound to `bound`) may go there.
    fn pinned(&self, pin: u32, bound: Option<&[usize]>) -> Result<Vec<usize>, SendError> {
        let count = self.venue.upstream.endpoints().len();
        let index = usize::try_from(pin).unwrap_or(usize::MAX);
        if index >= count {
            return Err(SendError::Denied(format!(
                "endpoint {pin} does not exist: venue {} has {count} endpoint(s), numbered from 0",
                self.venue.venue
            )));
        }
        if bound.is_some_and(|b| !b.contains(&index)) {
            return Err(SendError::Denied(format!(
                "endpoint {pin} is not one the request's header secrets are bound to (secrets.NAME.endpoints)"
            )));
        }
        Ok(vec![index])
    }

    /// Send one venue wait's requests: one as `send` does (pinned if named),
    /// several as `send-all-to` does.
    pub async fn send_batch(&self, mut batch: Batch) -> Vec<Answer> {
        if batch.len() == 1
            && let Some((pin, req)) = batch.pop()
        {
            return vec![self.send_within(req, pin, None).await];
        }
        self.send_all_to(batch).await
    }

    /// Send several requests concurrently; results keep request order.
    pub async fn send_all(&self, reqs: Vec<Request>) -> Vec<Result<Response, SendError>> {
        self.send_all_to(reqs.into_iter().map(|r| (None, r)).collect())
            .await
    }

    /// Send several requests concurrently, each to its pinned endpoint or
    /// through failover (`None`); results keep request order.
    pub async fn send_all_to(
        &self,
        reqs: Vec<(Option<u32>, Request)>,
    ) -> Vec<Result<Response, SendError>> {
        if let Some(refused) = refuse_oversized(reqs.len()) {
            return refused;
        }
        let budget = Arc::new(ResponseBudget::new(
            self.venue.limits.max_call_response_bytes,
        ));
        let mut set = tokio::task::JoinSet::new();
        let n = reqs.len();
        for (i, (pin, req)) in reqs.into_iter().enumerate() {
            let scope = self.clone();
            let budget = Arc::clone(&budget);
            set.spawn(
                async move { (i, scope.send_within(req, pin, Some(budget)).await) }
                    .in_current_span(),
            );
        }
        let mut out: Vec<Option<Result<Response, SendError>>> = (0..n).map(|_| None).collect();
        while let Some(joined) = set.join_next().await {
            match joined {
                Ok((i, r)) => out[i] = Some(r),
                Err(e) => {
                    tracing::error!(venue = %self.venue.venue, error = %e, "send-all task failed")
                }
            }
        }
        out.into_iter()
            .map(|r| r.unwrap_or_else(|| Err(lost_request())))
            .collect()
    }

    /// HMAC-SHA256 keyed with secret `name`, declared `hmac-key`.
    pub fn hmac_sha256(&self, name: &str, message: &[u8]) -> Result<Vec<u8>, SendError> {
        let secret = self.venue.secrets.get(&self.grants, name, Use::HmacKey)?;
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.expose())
            .map_err(|_| SendError::Denied(format!("secret {name:?} cannot key an HMAC")))?;
        mac.update(message);
        Ok(mac.finalize().into_bytes().to_vec())
    }

    /// Recoverable secp256k1 signature `r || s || v` (v = 27 + recovery id)
    /// of a 32-byte digest with key `name` (hex, optional `0x`), declared
    /// `secp256k1-key`.
    pub fn sign_secp256k1(&self, name: &str, digest: &[u8]) -> Result<Vec<u8>, SendError> {
        if digest.len() != 32 {
            return Err(SendError::Denied(format!(
                "sign-secp256k1 takes a 32-byte digest, got {} bytes",
                digest.len()
            )));
        }
        let secret = self
            .venue
            .secrets
            .get(&self.grants, name, Use::Secp256k1Key)?;
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

    /// Record a usage report for a counter the plugin declared.
    fn report_usage(&self, report: UsageReport) {
        if self.grants.usage_counter(&report.counter) {
            self.venue.record_usage(report);
        } else {
            tracing::debug!(venue = %self.venue.venue, "usage report for an undeclared counter ignored");
        }
    }
}

/// Most requests one `send-all` may carry.
pub const MAX_SEND_ALL: usize = 64;
/// Longest log line a plugin may write.
const MAX_LOG_BYTES: usize = 4096;

/// Log lines a plugin may write in one call (guest entry); the rest are
/// dropped, after one line saying so.
pub const MAX_LOG_LINES: u32 = 100;

/// Everything a call may reach, scoped to one venue.
pub struct VenueContext {
    pub venue: String,
    pub plugin: String,
    pub settings: BTreeMap<String, String>,
    secrets: SecretStore,
    pub upstream: Arc<Upstream>,
    limits: PluginLimits,
    usage: Mutex<BTreeMap<String, UsageReport>>,
}

impl std::fmt::Debug for VenueContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VenueContext")
            .field("venue", &self.venue)
            .field("plugin", &self.plugin)
            .field("secrets", &self.secrets.names().collect::<Vec<_>>())
            .finish()
    }
}

impl VenueContext {
    pub fn new(
        venue: &str,
        plugin: &str,
        settings: BTreeMap<String, String>,
        secrets: SecretStore,
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
        if self.resume.is_some() {
            let mut answers = self.resumable_wait(&scope, vec![(None, req)]).await;
            return answers.pop().unwrap_or_else(|| Err(lost_request()));
        }
        let started = tokio::time::Instant::now();
        let waiting = self.wait_on_venue();
        let result = scope.send(req).await;
        drop(waiting);
        self.resumed_after(started.elapsed());
        result
    }

    async fn send_all(&mut self, reqs: Vec<Request>) -> Vec<Result<Response, SendError>> {
        let Some(scope) = self.call.clone() else {
            return reqs.iter().map(|_| Err(no_venue())).collect();
        };
        let batch = reqs.into_iter().map(|r| (None, r)).collect();
        self.venue_wait(&scope, batch).await
    }

    fn now_ms(&mut self) -> u64 {
        let live = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        match self.resume.as_mut() {
            Some(run) => run.now_ms(live),
            None => live,
        }
    }

    fn config(&mut self, key: String) -> Option<String> {
        self.call.as_ref()?.venue.settings.get(&key).cloned()
    }

    fn hmac_sha256(&mut self, secret_name: String, message: Vec<u8>) -> Result<Vec<u8>, SendError> {
        self.call
            .as_ref()
            .ok_or_else(no_venue)?
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
            .sign_secp256k1(&secret_name, &digest)
    }

    fn log(&mut self, level: LogLevel, message: String) {
        if self.resume.as_ref().is_some_and(Run::quiet) {
            return;
        }
        let (venue, plugin) = match &self.call {
            Some(c) => (c.venue.venue.as_str(), c.venue.plugin.as_str()),
            None => ("-", "-"),
        };
        // Writing to the log is the host's work, on a shared writer: a guest
        // logging in a loop would spend the host's time, not its own budget.
        self.log_lines = self.log_lines.saturating_add(1);
        if self.log_lines > MAX_LOG_LINES {
            if self.log_lines == MAX_LOG_LINES + 1 {
                tracing::warn!(target: "plugin", venue, plugin, "the plugin logged more than {MAX_LOG_LINES} lines in one call; the rest of the call's are dropped");
            }
            return;
        }
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
        if self.resume.as_ref().is_some_and(Run::quiet) {
            return;
        }
        if let Some(c) = &self.call {
            c.report_usage(report);
        }
    }
}

impl bindings::resilience::venue::endpoints::Host for StoreState {
    fn count(&mut self) -> u32 {
        self.call.as_ref().map_or(0, |c| {
            u32::try_from(c.venue.upstream.endpoints().len()).unwrap_or(u32::MAX)
        })
    }

    async fn send_all_to(
        &mut self,
        reqs: Vec<(Option<u32>, Request)>,
    ) -> Vec<Result<Response, SendError>> {
        let Some(scope) = self.call.clone() else {
            return reqs.iter().map(|_| Err(no_venue())).collect();
        };
        self.venue_wait(&scope, reqs).await
    }
}

impl StoreState {
    /// A `send-all` or `send-all-to`: sent with the instance counted as
    /// waiting, or, in a resumable read, see [`StoreState::resumable_wait`].
    async fn venue_wait(&mut self, scope: &CallScope, batch: Batch) -> Vec<Answer> {
        // Refused before a resumable read records or replays anything: a
        // replay matches each request against the recording.
        if let Some(refused) = refuse_oversized(batch.len()) {
            return refused;
        }
        if self.resume.is_some() {
            return self.resumable_wait(scope, batch).await;
        }
        let started = tokio::time::Instant::now();
        let waiting = self.wait_on_venue();
        let result = scope.send_all_to(batch).await;
        drop(waiting);
        self.resumed_after(started.elapsed());
        result
    }

    /// A venue wait of a resumable read ([`crate::plugin::resume`]): the
    /// recorded answers, and either a park or the rest sent now with the
    /// instance held.
    async fn resumable_wait(&mut self, scope: &CallScope, batch: Batch) -> Vec<Answer> {
        let waiting = self.waiting_instances();
        let n = batch.len();
        let Some(run) = self.resume.as_mut() else {
            return (0..n).map(|_| Err(lost_request())).collect();
        };
        let (mut answers, live) = match run.wait(batch, waiting) {
            Wait::Parked => return (0..n).map(|_| Err(resume::parked_error())).collect(),
            Wait::Go { answers, live } => (answers, live),
        };
        if !live.is_empty() {
            let (slots, live): (Vec<usize>, Batch) = live
                .into_iter()
                .map(|(i, pin, req)| (i, (pin, req)))
                .unzip();
            let started = tokio::time::Instant::now();
            let waiting = self.wait_on_venue();
            let results = scope.send_batch(live).await;
            drop(waiting);
            self.resumed_after(started.elapsed());
            for (slot, result) in slots.into_iter().zip(results) {
                answers[slot] = Some(result);
            }
        }
        answers
            .into_iter()
            .map(|a| a.unwrap_or_else(|| Err(lost_request())))
            .collect()
    }
}

/// `denied` for each of `n` requests when a batch is over [`MAX_SEND_ALL`].
fn refuse_oversized(n: usize) -> Option<Vec<Answer>> {
    if n <= MAX_SEND_ALL {
        return None;
    }
    let msg = format!("send-all and send-all-to take at most {MAX_SEND_ALL} requests, got {n}");
    Some(
        (0..n)
            .map(|_| Err(SendError::Denied(msg.clone())))
            .collect(),
    )
}

/// The answer to a request whose result went missing (a task that failed).
fn lost_request() -> SendError {
    SendError::Connection("request task failed".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;
    use crate::plugin::bindings::{Info, SecretDecl, SecretUse};

    fn scope(secrets: &[(&str, &str, SecretUse)]) -> CallScope {
        let vc: crate::config::VenueConfig = serde_json::from_value(serde_json::json!({
            "plugin": "ton",
            "endpoints": ["http://127.0.0.1:9"],
        }))
        .unwrap();
        let upstream = Upstream::new("t", &vc, &BTreeMap::new(), 1024).unwrap();
        let store = SecretStore::new(
            secrets
                .iter()
                .map(|(k, v, _)| (k.to_string(), Secret::new(v.as_bytes())))
                .collect(),
            BTreeMap::new(),
        );
        let grants = Grants::from_info(&Info {
            name: "p".into(),
            version: "1".into(),
            sdk_version: "x".into(),
            operations: Vec::new(),
            secrets: secrets
                .iter()
                .map(|(k, _, u)| SecretDecl {
                    name: k.to_string(),
                    purpose: *u,
                })
                .collect(),
            usage_counters: vec!["weight".into()],
        })
        .unwrap();
        let ctx = VenueContext::new(
            "ton",
            "ton",
            BTreeMap::new(),
            store,
            Arc::new(upstream),
            PluginLimits::default(),
        );
        CallScope::new(
            Arc::new(ctx),
            Arc::new(grants),
            Deadline::after(std::time::Duration::from_secs(1)),
        )
    }

    #[test]
    fn a_pin_names_an_existing_endpoint_the_request_secrets_may_go_to() {
        // The test venue has one endpoint, 0.
        let c = scope(&[]);
        assert_eq!(c.pinned(0, None).unwrap(), vec![0]);
        match c.pinned(1, None) {
            Err(SendError::Denied(m)) => assert!(m.contains("endpoint 1 does not exist"), "{m}"),
            other => panic!("{other:?}"),
        }
        match c.pinned(u32::MAX, None) {
            Err(SendError::Denied(m)) => assert!(m.contains("does not exist"), "{m}"),
            other => panic!("{other:?}"),
        }
        // A header secret bound to other endpoints only: the pin cannot widen it.
        assert_eq!(c.pinned(0, Some(&[0])).unwrap(), vec![0]);
        match c.pinned(0, Some(&[1, 2])) {
            Err(SendError::Denied(m)) => assert!(m.contains("bound to"), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    /// Whether `r` is the refusal of an import made outside a call.
    fn refused<T>(r: &Result<T, SendError>) -> bool {
        matches!(r, Err(SendError::Denied(m)) if m.starts_with("no venue"))
    }

    /// The invariant of the module doc: before a call begins and after it
    /// ends (instantiation, `describe`, an instance waiting in the pool),
    /// no import reaches a venue, its secrets or its settings.
    #[tokio::test]
    async fn every_venue_scoped_import_is_refused_outside_a_call() {
        use bindings::resilience::venue::endpoints::Host as _;
        use bindings::resilience::venue::host::Host as _;
        let request = || Request {
            method: bindings::Method::Get,
            path: "/x".into(),
            headers: Vec::new(),
            body: Vec::new(),
            idempotent: true,
            weight: 1,
            signing: None,
        };
        let mut state = StoreState::new(&PluginLimits::default());
        for phase in ["before the call", "after the call"] {
            assert!(refused(&state.send(request()).await), "send {phase}");
            let all = state.send_all(vec![request(), request()]).await;
            assert!(
                all.len() == 2 && all.iter().all(refused),
                "send-all {phase}"
            );
            let pinned = state
                .send_all_to(vec![(Some(0), request()), (None, request())])
                .await;
            assert!(
                pinned.len() == 2 && pinned.iter().all(refused),
                "send-all-to {phase}"
            );
            assert_eq!(state.count(), 0, "endpoint count {phase}");
            assert!(
                refused(&state.hmac_sha256("k".into(), b"m".to_vec())),
                "hmac {phase}"
            );
            assert!(
                refused(&state.sign_secp256k1("k".into(), vec![0; 32])),
                "sign {phase}"
            );
            assert_eq!(state.config("chain".into()), None, "config {phase}");
            // Inside the call the same imports reach the venue's scope.
            state.begin_call(Some(scope(&[("k", "Jefe", SecretUse::HmacKey)])));
            assert_eq!(state.count(), 1);
            assert!(state.hmac_sha256("k".into(), b"m".to_vec()).is_ok());
            state.end_call();
        }
    }

    #[test]
    fn hmac_matches_rfc4231_case_2() {
        let c = scope(&[("k", "Jefe", SecretUse::HmacKey)]);
        let mac = c.hmac_sha256("k", b"what do ya want for nothing?").unwrap();
        assert_eq!(
            hex::encode(mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn signing_imports_take_only_keys_declared_for_them() {
        let c = scope(&[
            ("api_key", "Jefe", SecretUse::Header),
            ("pk", "0x4c08", SecretUse::Secp256k1Key),
        ]);
        for (name, r) in [
            ("api_key", c.hmac_sha256("api_key", b"m")),
            ("pk", c.hmac_sha256("pk", b"m")),
            ("api_key", c.sign_secp256k1("api_key", &[0; 32])),
        ] {
            match r {
                Err(SendError::Denied(m)) => {
                    assert!(m.contains(name) && !m.contains("Jefe"), "{m}")
                }
                other => panic!("{name}: expected denied, got {other:?}"),
            }
        }
    }

    #[test]
    fn usage_reports_count_only_declared_counters() {
        let c = scope(&[]);
        let report = |counter: &str| UsageReport {
            counter: counter.into(),
            used: 7,
            window_ms: 60_000,
        };
        c.report_usage(report("weight"));
        c.report_usage(report("made-up"));
        let usage = c.venue.usage();
        assert_eq!(usage.keys().collect::<Vec<_>>(), ["weight"]);
    }

    #[test]
    fn secp256k1_signature_recovers_to_the_key() {
        use k256::ecdsa::{RecoveryId, Signature, VerifyingKey};
        let sk_hex = "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318";
        let key = format!("0x{sk_hex}");
        let c = scope(&[("pk", &key, SecretUse::Secp256k1Key)]);
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

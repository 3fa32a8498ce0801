//! The scripted mock host: clock, settings, fake secrets with real crypto,
//! scripted responses, and everything the plugin sent.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

use super::active::Guard;
use crate::bindings::resilience::venue::types::{
    self, HeaderValue, LogLevel, MessagePart, Method, SendError, SignatureEncoding, Slot, TimeUnit,
    UsageReport,
};
#[cfg(feature = "evm")]
use crate::encoding::hex_decode;
use crate::plugin::{Plugin, SecretUse};
use crate::request::Response;

/// The mock clock's default: 2023-11-14T22:13:20Z.
///
/// ```
/// let mock = resilience_guest::testing::MockHost::new();
/// assert_eq!(mock.run(resilience_guest::host::now_ms), resilience_guest::testing::DEFAULT_NOW_MS);
/// ```
pub const DEFAULT_NOW_MS: u64 = 1_700_000_000_000;

/// Most requests one `send-all` may carry (the host's limit).
const MAX_SEND_ALL: usize = 64;

/// A scripted host for native tests; see the [module docs](super).
///
/// Build it with the builder methods, run operations with
/// [`testing::call`](super::call), then read what happened with
/// [`requests`](MockHost::requests), [`logs`](MockHost::logs) and the rest.
///
/// ```
/// use resilience_guest::prelude::*;
/// use resilience_guest::testing::MockHost;
/// let mock = MockHost::new()
///     .now_ms(1_700_000_000_000)
///     .setting("recv_window_ms", "5000")
///     .secret("api_secret", b"fake")
///     .respond(Method::Get, "/fapi/v2/balance", 200, "[]");
/// let resp = mock.run(|| Request::get("/fapi/v2/balance?timestamp=1").send()).unwrap();
/// assert_eq!((resp.status, resp.text().as_str()), (200, "[]"));
/// assert_eq!(mock.run(|| host::config("recv_window_ms")).as_deref(), Some("5000"));
/// ```
pub struct MockHost {
    state: Rc<RefCell<State>>,
}

impl std::fmt::Debug for MockHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.state.borrow();
        f.debug_struct("MockHost")
            .field("now_ms", &s.now_ms)
            .field("settings", &s.settings)
            .field("secrets", &s.secrets.keys().collect::<Vec<_>>())
            .field("routes", &s.routes.len())
            .field("requests", &s.requests.len())
            .finish()
    }
}

impl Default for MockHost {
    fn default() -> Self {
        Self::new()
    }
}

/// A request as the venue would receive it: a secret header carries the
/// mock's fake secret (and is listed in `secret_headers` by the secret's
/// name), and a signing recipe is applied with the mock clock, as the host
/// applies it to each attempt.
///
/// ```
/// use resilience_guest::prelude::*;
/// use resilience_guest::testing::MockHost;
/// let mock = MockHost::new().respond(Method::Post, "/order", 200, "{}");
/// mock.run(|| Request::post("/order").json(&serde_json::json!({"qty": "1"})).weight(2).send()).unwrap();
/// let sent = &mock.requests()[0];
/// assert_eq!((sent.method, sent.path.as_str(), sent.weight, sent.idempotent), (Method::Post, "/order", 2, false));
/// assert_eq!(sent.body_json()["qty"], "1");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentRequest {
    /// HTTP method.
    pub method: Method,
    /// Path and query, as written.
    pub path: String,
    /// Headers in the order added, secret values filled in, then the
    /// recipe's timestamp and signature headers.
    pub headers: Vec<(String, String)>,
    /// `(header, secret name)` of every secret header.
    pub secret_headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
    /// Whether the host may retry it after it may have reached the venue.
    pub idempotent: bool,
    /// Rate-limit weight.
    pub weight: u32,
    /// The endpoint the request was pinned to
    /// ([`Request::send_to`](crate::Request::send_to)); `None` for a plain `send`.
    pub endpoint: Option<u32>,
}

impl SentRequest {
    /// First value of header `name` (case-insensitive).
    ///
    /// ```
    /// # use resilience_guest::prelude::*;
    /// let mock = resilience_guest::testing::MockHost::new().secret("api_key", "fake");
    /// mock.run(|| Request::get("/x").header("X-MBX-APIKEY", "${secret:api_key}").send()).unwrap();
    /// assert_eq!(mock.requests()[0].header("x-mbx-apikey"), Some("${secret:api_key}"));
    /// ```
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The path without its query.
    ///
    /// ```
    /// # use resilience_guest::prelude::*;
    /// # let mock = resilience_guest::testing::MockHost::new();
    /// mock.run(|| Request::get("/price?symbol=X").send()).unwrap();
    /// assert_eq!(mock.requests()[0].path_without_query(), "/price");
    /// ```
    pub fn path_without_query(&self) -> &str {
        self.path.split_once('?').map_or(&self.path, |(p, _)| p)
    }

    /// The body as text (lossy UTF-8).
    ///
    /// ```
    /// # use resilience_guest::prelude::*;
    /// # let mock = resilience_guest::testing::MockHost::new();
    /// mock.run(|| Request::post("/x").body(b"a=1".to_vec()).send()).unwrap();
    /// assert_eq!(mock.requests()[0].body_text(), "a=1");
    /// ```
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON; panics, quoting the body, when it is not JSON.
    ///
    /// ```
    /// # use resilience_guest::prelude::*;
    /// # let mock = resilience_guest::testing::MockHost::new();
    /// mock.run(|| Request::post("/x").json(&serde_json::json!([1])).send()).unwrap();
    /// assert_eq!(mock.requests()[0].body_json(), serde_json::json!([1]));
    /// ```
    #[track_caller]
    pub fn body_json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body of {:?} {} is not JSON ({e}): {}",
                self.method,
                self.path,
                self.body_text()
            )
        })
    }
}

/// A response body for [`MockHost::respond`]: text, bytes or a JSON value.
///
/// ```
/// use resilience_guest::testing::IntoBody;
/// assert_eq!("ok".into_body(), b"ok");
/// assert_eq!(serde_json::json!({"a": 1}).into_body(), br#"{"a":1}"#);
/// ```
pub trait IntoBody {
    /// The body bytes.
    fn into_body(self) -> Vec<u8>;
}

impl IntoBody for &str {
    fn into_body(self) -> Vec<u8> {
        self.as_bytes().to_vec()
    }
}

impl IntoBody for String {
    fn into_body(self) -> Vec<u8> {
        self.into_bytes()
    }
}

impl IntoBody for Vec<u8> {
    fn into_body(self) -> Vec<u8> {
        self
    }
}

impl IntoBody for &[u8] {
    fn into_body(self) -> Vec<u8> {
        self.to_vec()
    }
}

impl<const N: usize> IntoBody for &[u8; N] {
    fn into_body(self) -> Vec<u8> {
        self.to_vec()
    }
}

impl IntoBody for Value {
    fn into_body(self) -> Vec<u8> {
        self.to_string().into_bytes()
    }
}

impl IntoBody for &Value {
    fn into_body(self) -> Vec<u8> {
        self.to_string().into_bytes()
    }
}

/// One scripted answer, used once.
struct Route {
    method: Method,
    pattern: String,
    /// Only requests pinned to this endpoint match ([`MockHost::on_endpoint`]).
    endpoint: Option<u32>,
    outcome: Result<types::Response, SendError>,
    used: bool,
}

impl Route {
    /// `"/a?b=c"`: path and query equal; `"/a"`: path equal, any query;
    /// `"/a/*"`: path and query start with `/a/`.
    fn matches(&self, method: Method, path: &str, endpoint: Option<u32>) -> bool {
        if self.method != method || self.endpoint.is_some_and(|e| endpoint != Some(e)) {
            return false;
        }
        if let Some(prefix) = self.pattern.strip_suffix('*') {
            path.starts_with(prefix)
        } else if self.pattern.contains('?') {
            path == self.pattern
        } else {
            path.split_once('?').map_or(path, |(p, _)| p) == self.pattern
        }
    }
}

pub(crate) struct State {
    pub(super) now_ms: u64,
    /// What `endpoints.count` answers.
    pub(super) endpoint_count: u32,
    pub(super) settings: BTreeMap<String, String>,
    secrets: BTreeMap<String, Vec<u8>>,
    /// What the plugin under test declares (set by `testing::Instance`);
    /// `None` checks no declarations (a bare `MockHost::run`).
    declared: Option<Declared>,
    routes: Vec<Route>,
    requests: Vec<SentRequest>,
    unmatched: Vec<SentRequest>,
    pub(super) logs: Vec<(LogLevel, String)>,
    pub(super) usage: Vec<UsageReport>,
}

impl MockHost {
    /// A host with the clock at [`DEFAULT_NOW_MS`], no settings, no secrets
    /// and no scripted responses.
    ///
    /// ```
    /// use resilience_guest::testing::{DEFAULT_NOW_MS, MockHost};
    /// let mock = MockHost::new();
    /// assert_eq!(mock.run(resilience_guest::host::now_ms), DEFAULT_NOW_MS);
    /// ```
    pub fn new() -> Self {
        Self {
            state: Rc::new(RefCell::new(State {
                now_ms: DEFAULT_NOW_MS,
                endpoint_count: 1,
                settings: BTreeMap::new(),
                secrets: BTreeMap::new(),
                declared: None,
                routes: Vec::new(),
                requests: Vec::new(),
                unmatched: Vec::new(),
                logs: Vec::new(),
                usage: Vec::new(),
            })),
        }
    }

    /// Set the fixed clock (`now-ms`).
    ///
    /// ```
    /// let mock = resilience_guest::testing::MockHost::new().now_ms(5);
    /// assert_eq!(mock.run(resilience_guest::host::now_ms), 5);
    /// ```
    pub fn now_ms(self, ms: u64) -> Self {
        self.state.borrow_mut().now_ms = ms;
        self
    }

    /// Give the venue `count` endpoints (1 by default), numbered from 0, for
    /// plugins that pin requests to one ([`Request::send_to`](crate::Request::send_to)).
    ///
    /// ```
    /// use resilience_guest::prelude::*;
    /// use resilience_guest::testing::MockHost;
    /// let mock = MockHost::new()
    ///     .endpoints(2)
    ///     .respond(Method::Get, "/price", 200, "1").on_endpoint(0)
    ///     .respond(Method::Get, "/price", 200, "2").on_endpoint(1);
    /// assert_eq!(mock.run(resilience_guest::endpoints::count), 2);
    /// let second = mock.run(|| Request::get("/price").send_to(1)).unwrap();
    /// assert_eq!(second.text(), "2");
    /// assert_eq!(mock.requests()[0].endpoint, Some(1));
    /// let missing = mock.run(|| Request::get("/price").send_to(2)).unwrap_err();
    /// assert!(matches!(missing, SendError::Denied(_)));
    /// ```
    pub fn endpoints(self, count: u32) -> Self {
        self.state.borrow_mut().endpoint_count = count;
        self
    }

    /// Make the response scripted last answer only requests pinned to
    /// endpoint `index` (see [`MockHost::endpoints`]).
    ///
    /// # Panics
    ///
    /// When no response has been scripted yet: the call is a mistake in the test.
    pub fn on_endpoint(self, index: u32) -> Self {
        self.state
            .borrow_mut()
            .routes
            .last_mut()
            .expect("MockHost::on_endpoint follows respond, respond_with or fail")
            .endpoint = Some(index);
        self
    }

    /// Move the clock forward between calls (staleness checks, say).
    ///
    /// ```
    /// let mock = resilience_guest::testing::MockHost::new().now_ms(1_000);
    /// mock.advance_ms(500);
    /// assert_eq!(mock.run(resilience_guest::host::now_ms), 1_500);
    /// ```
    pub fn advance_ms(&self, ms: u64) {
        let mut s = self.state.borrow_mut();
        s.now_ms = s.now_ms.saturating_add(ms);
    }

    /// A venue setting, read by `config`.
    ///
    /// ```
    /// let mock = resilience_guest::testing::MockHost::new().setting("use_api_key", "true");
    /// assert_eq!(mock.run(|| resilience_guest::host::config("use_api_key")).as_deref(), Some("true"));
    /// assert_eq!(mock.run(|| resilience_guest::host::config("other")), None);
    /// ```
    pub fn setting(self, key: &str, value: &str) -> Self {
        self.state
            .borrow_mut()
            .settings
            .insert(key.to_string(), value.to_string());
        self
    }

    /// A fake secret: its bytes key `hmac-sha256` and signing recipes, fill
    /// secret headers, and as 64 hex digits (optional `0x`) key
    /// `sign-secp256k1`.
    ///
    /// ```
    /// let mock = resilience_guest::testing::MockHost::new().secret("api_secret", b"key");
    /// let mac = mock.run(|| resilience_guest::host::hmac_sha256("api_secret", b"msg")).unwrap();
    /// assert_eq!(mac.len(), 32);
    /// ```
    pub fn secret(self, name: &str, value: impl AsRef<[u8]>) -> Self {
        self.state
            .borrow_mut()
            .secrets
            .insert(name.to_string(), value.as_ref().to_vec());
        self
    }

    /// Script one answer for the next request that matches `method` and
    /// `pattern`. Answers for the same pattern are used in the order
    /// scripted, each once.
    ///
    /// | pattern          | matches                                   |
    /// |------------------|-------------------------------------------|
    /// | `"/price?symbol=BTCUSDT"` | exactly that path and query      |
    /// | `"/price"`       | path `/price` with any query or none      |
    /// | `"/data/*"`      | any path and query starting with `/data/` |
    ///
    /// A request that matches nothing gets a 404 with body
    /// `{"error": "MockHost: no response scripted for GET /path"}` and is
    /// listed by [`unmatched`](MockHost::unmatched).
    ///
    /// ```
    /// use resilience_guest::prelude::*;
    /// let mock = resilience_guest::testing::MockHost::new()
    ///     .respond(Method::Get, "/n", 200, "1")
    ///     .respond(Method::Get, "/n", 200, "2");
    /// let texts: Vec<String> = (0..3)
    ///     .map(|_| mock.run(|| Request::get("/n").send()).unwrap())
    ///     .map(|r| format!("{} {}", r.status, r.text()))
    ///     .collect();
    /// assert_eq!(texts[..2], ["200 1", "200 2"]);
    /// assert!(texts[2].starts_with("404"));
    /// assert_eq!(mock.unmatched().len(), 1);
    /// ```
    pub fn respond(self, method: Method, pattern: &str, status: u16, body: impl IntoBody) -> Self {
        self.respond_with(
            method,
            pattern,
            Response::new(status, Vec::new(), body.into_body()),
        )
    }

    /// Script a full response (with headers, e.g. `X-MBX-USED-WEIGHT-1M`).
    ///
    /// ```
    /// use resilience_guest::prelude::*;
    /// let headers = vec![("X-MBX-USED-WEIGHT-1M".to_string(), "40".to_string())];
    /// let mock = resilience_guest::testing::MockHost::new()
    ///     .respond_with(Method::Get, "/fapi/v1/time", Response::new(200, headers, b"{}".to_vec()));
    /// let resp = mock.run(|| Request::get("/fapi/v1/time").send()).unwrap();
    /// assert_eq!(resp.header("x-mbx-used-weight-1m"), Some("40"));
    /// ```
    pub fn respond_with(self, method: Method, pattern: &str, response: Response) -> Self {
        self.route(
            method,
            pattern,
            Ok(types::Response {
                status: response.status,
                headers: response.headers,
                body: response.body,
            }),
        )
    }

    /// Script a transport failure (`timeout`, `rate-limited`, …) for the next
    /// matching request.
    ///
    /// ```
    /// use resilience_guest::prelude::*;
    /// let mock = resilience_guest::testing::MockHost::new()
    ///     .fail(Method::Post, "/sendBoc", SendError::Timeout("attempt timed out".into()));
    /// let err = mock.run(|| Request::post("/sendBoc").send()).unwrap_err();
    /// assert!(matches!(err, SendError::Timeout(_)));
    /// ```
    pub fn fail(self, method: Method, pattern: &str, error: SendError) -> Self {
        self.route(method, pattern, Err(error))
    }

    fn route(
        self,
        method: Method,
        pattern: &str,
        outcome: Result<types::Response, SendError>,
    ) -> Self {
        self.state.borrow_mut().routes.push(Route {
            method,
            pattern: pattern.to_string(),
            endpoint: None,
            outcome,
            used: false,
        });
        self
    }

    /// Run `f` with this mock as the thread's host (for code that calls the
    /// host outside an operation, such as a helper under test).
    ///
    /// ```
    /// let mock = resilience_guest::testing::MockHost::new().now_ms(7);
    /// assert_eq!(mock.run(|| resilience_guest::host::now_ms() + 1), 8);
    /// ```
    pub fn run<R>(&self, f: impl FnOnce() -> R) -> R {
        let _guard = Guard::enter(Rc::clone(&self.state));
        f()
    }

    /// Every request the plugin sent, in order, as written (including those
    /// the checks denied and those that matched no script).
    ///
    /// ```
    /// use resilience_guest::prelude::*;
    /// let mock = resilience_guest::testing::MockHost::new();
    /// mock.run(|| Request::send_all(vec![Request::get("/a"), Request::get("/b")]));
    /// let paths: Vec<String> = mock.requests().into_iter().map(|r| r.path).collect();
    /// assert_eq!(paths, ["/a", "/b"]);
    /// ```
    pub fn requests(&self) -> Vec<SentRequest> {
        self.state.borrow().requests.clone()
    }

    /// The requests that matched no scripted answer (and got the default 404).
    ///
    /// ```
    /// use resilience_guest::prelude::*;
    /// let mock = resilience_guest::testing::MockHost::new();
    /// let resp = mock.run(|| Request::get("/nothing").send()).unwrap();
    /// assert_eq!(resp.status, 404);
    /// assert_eq!(mock.unmatched()[0].path, "/nothing");
    /// ```
    pub fn unmatched(&self) -> Vec<SentRequest> {
        self.state.borrow().unmatched.clone()
    }

    /// Scripted answers no request used, as `"GET /path"`, to assert that a
    /// test exercised what it scripted.
    ///
    /// ```
    /// use resilience_guest::prelude::*;
    /// let mock = resilience_guest::testing::MockHost::new().respond(Method::Get, "/a", 200, "");
    /// assert_eq!(mock.pending(), ["GET /a"]);
    /// mock.run(|| Request::get("/a").send()).unwrap();
    /// assert!(mock.pending().is_empty());
    /// ```
    pub fn pending(&self) -> Vec<String> {
        self.state
            .borrow()
            .routes
            .iter()
            .filter(|r| !r.used)
            .map(|r| format!("{} {}", method_name(r.method), r.pattern))
            .collect()
    }

    /// Lines the plugin logged, with their level.
    ///
    /// ```
    /// use resilience_guest::host::{self, Level};
    /// let mock = resilience_guest::testing::MockHost::new();
    /// mock.run(|| host::log(Level::Warn, "stale answer"));
    /// assert_eq!(mock.logs(), [(Level::Warn, "stale answer".to_string())]);
    /// ```
    pub fn logs(&self) -> Vec<(LogLevel, String)> {
        self.state.borrow().logs.clone()
    }

    /// Usage reports the plugin sent, in order.
    ///
    /// ```
    /// let mock = resilience_guest::testing::MockHost::new();
    /// mock.run(|| resilience_guest::host::report_usage("weight", 40, 60_000));
    /// let u = &mock.usage()[0];
    /// assert_eq!((u.counter.as_str(), u.used, u.window_ms), ("weight", 40, 60_000));
    /// ```
    pub fn usage(&self) -> Vec<UsageReport> {
        self.state.borrow().usage.clone()
    }
}

impl State {
    pub(super) fn send(&mut self, req: &types::Request) -> Result<types::Response, SendError> {
        self.send_to(req, None)
    }

    /// `send`, pinned to endpoint `pin` when one is named (as the host does,
    /// an index past the last endpoint is `denied`).
    fn send_to(
        &mut self,
        req: &types::Request,
        pin: Option<u32>,
    ) -> Result<types::Response, SendError> {
        let (mut sent, checked) = self.as_received(req);
        sent.endpoint = pin;
        self.requests.push(sent.clone());
        checked?;
        if let Some(pin) = pin.filter(|p| *p >= self.endpoint_count) {
            return Err(SendError::Denied(format!(
                "endpoint {pin} does not exist: the venue has {} endpoint(s), numbered from 0",
                self.endpoint_count
            )));
        }
        let route = self
            .routes
            .iter_mut()
            .find(|r| !r.used && r.matches(req.method, &sent.path, pin));
        match route {
            Some(route) => {
                route.used = true;
                route.outcome.clone()
            }
            None => {
                let message = format!(
                    "MockHost: no response scripted for {} {}",
                    method_name(req.method),
                    sent.path
                );
                self.unmatched.push(sent);
                Ok(types::Response {
                    status: 404,
                    headers: vec![("content-type".into(), "application/json".into())],
                    body: serde_json::json!({ "error": message })
                        .to_string()
                        .into_bytes(),
                })
            }
        }
    }

    pub(super) fn send_all(
        &mut self,
        reqs: &[types::Request],
    ) -> Vec<Result<types::Response, SendError>> {
        let unpinned: Vec<(Option<u32>, types::Request)> =
            reqs.iter().map(|r| (None, r.clone())).collect();
        self.send_all_to(&unpinned)
    }

    pub(super) fn send_all_to(
        &mut self,
        reqs: &[(Option<u32>, types::Request)],
    ) -> Vec<Result<types::Response, SendError>> {
        if reqs.len() > MAX_SEND_ALL {
            let msg = format!(
                "send-all and send-all-to take at most {MAX_SEND_ALL} requests, got {}",
                reqs.len()
            );
            return reqs
                .iter()
                .map(|_| Err(SendError::Denied(msg.clone())))
                .collect();
        }
        reqs.iter().map(|(pin, r)| self.send_to(r, *pin)).collect()
    }

    pub(super) fn hmac_sha256(&self, name: &str, message: &[u8]) -> Result<Vec<u8>, SendError> {
        let secret = self.secret_for(name, SecretUse::HmacKey)?;
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret)
            .map_err(|_| SendError::Denied(format!("secret {name:?} cannot key an HMAC")))?;
        mac.update(message);
        Ok(mac.finalize().into_bytes().to_vec())
    }

    #[cfg(not(feature = "evm"))]
    pub(super) fn sign_secp256k1(&self, _: &str, _: &[u8]) -> Result<Vec<u8>, SendError> {
        panic!(
            "the mock host signs sign-secp256k1 calls only with the SDK feature `evm`: \
             features = [\"testing\", \"evm\"] on resilience-guest in [dev-dependencies]"
        )
    }

    #[cfg(feature = "evm")]
    pub(super) fn sign_secp256k1(&self, name: &str, digest: &[u8]) -> Result<Vec<u8>, SendError> {
        if digest.len() != 32 {
            return Err(SendError::Denied(format!(
                "sign-secp256k1 takes a 32-byte digest, got {} bytes",
                digest.len()
            )));
        }
        let secret = self.secret_for(name, SecretUse::Secp256k1Key)?;
        let key = std::str::from_utf8(secret)
            .ok()
            .and_then(|text| hex_decode(text.trim()).ok())
            .filter(|raw| raw.len() == 32)
            .and_then(|raw| k256::ecdsa::SigningKey::from_slice(&raw).ok())
            .ok_or_else(|| {
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

    fn secret(&self, name: &str) -> Result<&[u8], SendError> {
        self.secrets.get(name).map(Vec::as_slice).ok_or_else(|| {
            SendError::Denied(format!(
                "secret {name:?} is not configured for venue (mock): add \
                 `.secret({name:?}, ...)` to the MockHost"
            ))
        })
    }

    /// Secret `name` for `use_`, when the plugin under test declared that
    /// use (or declares nothing: a bare `run`).
    fn secret_for(&self, name: &str, use_: SecretUse) -> Result<&[u8], SendError> {
        if let Some(d) = &self.declared {
            match d.secrets.get(name) {
                Some(u) if *u == use_ => {}
                Some(u) => {
                    return Err(SendError::Denied(format!(
                        "secret {name:?} is declared for use {}, not {}",
                        use_name(*u),
                        use_name(use_)
                    )));
                }
                None => {
                    return Err(SendError::Denied(format!(
                        "secret {name:?} is not declared by the plugin (Plugin::SECRETS)"
                    )));
                }
            }
        }
        self.secret(name)
    }

    /// Whether `report-usage` may name `counter`.
    pub(super) fn counter_declared(&self, counter: &str) -> bool {
        self.declared
            .as_ref()
            .is_none_or(|d| d.usage_counters.contains(counter))
    }

    /// The request as the venue would receive it, and whether the host's
    /// checks (outbound.rs, minus the venue's body limit) let it leave.
    fn as_received(&self, req: &types::Request) -> (SentRequest, Result<(), SendError>) {
        let mut sent = SentRequest {
            method: req.method,
            path: req.path.clone(),
            headers: Vec::new(),
            secret_headers: Vec::new(),
            body: req.body.clone(),
            idempotent: req.idempotent,
            weight: req.weight,
            endpoint: None,
        };
        let mut checked = check_path(&req.path);
        for h in &req.headers {
            let value = match &h.value {
                HeaderValue::Text(t) => t.clone(),
                HeaderValue::Secret(name) => {
                    sent.secret_headers.push((h.name.clone(), name.clone()));
                    match self.secret_for(name, SecretUse::Header) {
                        Ok(bytes) => String::from_utf8_lossy(bytes).into_owned(),
                        Err(e) => {
                            checked = checked.and(Err(e));
                            String::new()
                        }
                    }
                }
            };
            checked = checked.and(check_header(&h.name, &value));
            sent.headers.push((h.name.clone(), value));
        }
        if let Some(recipe) = &req.signing {
            match self.secret_for(&recipe.secret, SecretUse::HmacKey) {
                Ok(key) => {
                    let signed = to_recipe(recipe).apply(
                        key,
                        method_name(req.method),
                        &req.path,
                        &req.body,
                        self.now_ms as i64,
                    );
                    sent.path = signed.path_and_query;
                    sent.headers.extend(signed.headers);
                }
                Err(e) => checked = checked.and(Err(e)),
            }
        }
        (sent, checked)
    }
}

/// A plugin's declarations, as `describe` reports them.
struct Declared {
    secrets: BTreeMap<String, SecretUse>,
    usage_counters: BTreeSet<String>,
}

impl MockHost {
    /// Check what `P` declares from now on (`testing::Instance` calls it).
    pub(crate) fn declare<P: Plugin>(&self) {
        self.state.borrow_mut().declared = Some(Declared {
            secrets: P::SECRETS
                .iter()
                .map(|(n, u)| (n.to_string(), *u))
                .collect(),
            usage_counters: P::USAGE_COUNTERS.iter().map(|c| c.to_string()).collect(),
        });
    }
}

fn use_name(u: SecretUse) -> &'static str {
    match u {
        SecretUse::Header => "header",
        SecretUse::HmacKey => "hmac-key",
        SecretUse::Secp256k1Key => "secp256k1-key",
    }
}

/// The WIT recipe as the shared implementation the host applies.
fn to_recipe(r: &types::Signing) -> resilience_wire::Recipe {
    use resilience_wire::{Encoding, Part, Slot as S, TimeUnit as T};
    let slot = |s: &Slot| match s {
        Slot::Query(n) => S::Query(n.clone()),
        Slot::Header(n) => S::Header(n.clone()),
    };
    resilience_wire::Recipe {
        timestamp: r.timestamp.as_ref().map(slot),
        unit: match r.timestamp_unit {
            TimeUnit::Milliseconds => T::Milliseconds,
            TimeUnit::Seconds => T::Seconds,
        },
        clock_offset_ms: r.clock_offset_ms,
        message: r
            .message
            .iter()
            .map(|p| match p {
                MessagePart::Timestamp => Part::Timestamp,
                MessagePart::Method => Part::Method,
                MessagePart::Path => Part::Path,
                MessagePart::Query => Part::Query,
                MessagePart::Body => Part::Body,
                MessagePart::Text(t) => Part::Text(t.clone()),
            })
            .collect(),
        signature: slot(&r.signature),
        encoding: match r.signature_encoding {
            SignatureEncoding::Hex => Encoding::Hex,
            SignatureEncoding::Base64 => Encoding::Base64,
            SignatureEncoding::Base64url => Encoding::Base64Url,
        },
    }
}

/// The host's path rules (`resilience_wire::path`).
fn check_path(path: &str) -> Result<(), SendError> {
    match resilience_wire::path::refusal(path) {
        None => Ok(()),
        Some(why) => Err(SendError::Denied(format!("path {path:?} {why}"))),
    }
}

fn check_header(name: &str, value: &str) -> Result<(), SendError> {
    let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if name.is_empty() || !name.bytes().all(token) {
        return Err(SendError::Denied(format!("invalid header name {name:?}")));
    }
    if HOP_BY_HOP.iter().any(|h| h.eq_ignore_ascii_case(name)) {
        return Err(SendError::Denied(format!(
            "header {name} is managed by the host"
        )));
    }
    if !value
        .bytes()
        .all(|b| b == b'\t' || (b' '..=b'~').contains(&b))
    {
        return Err(SendError::Denied(format!(
            "invalid value for header {name}"
        )));
    }
    Ok(())
}

const HOP_BY_HOP: &[&str] = &[
    "host",
    "connection",
    "content-length",
    "transfer-encoding",
    "upgrade",
    "te",
    "trailer",
    "keep-alive",
    "proxy-connection",
];

fn method_name(m: Method) -> &'static str {
    match m {
        Method::Get => "GET",
        Method::Post => "POST",
        Method::Put => "PUT",
        Method::Delete => "DELETE",
        Method::Patch => "PATCH",
    }
}

//! The scripted mock host: clock, settings, fake secrets with real crypto,
//! scripted responses, and everything the plugin sent.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

use super::active::Guard;
use crate::bindings::resilience::venue::types::{self, LogLevel, Method, SendError, UsageReport};
use crate::encoding::hex_decode;
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

/// A request as the plugin handed it to the host: placeholders such as
/// `${secret:api_key}` are recorded as written.
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
    /// Headers in the order added, as written.
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
    /// Whether the host may retry it after it may have reached the venue.
    pub idempotent: bool,
    /// Rate-limit weight.
    pub weight: u32,
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
    outcome: Result<types::Response, SendError>,
    used: bool,
}

impl Route {
    /// `"/a?b=c"`: path and query equal; `"/a"`: path equal, any query;
    /// `"/a/*"`: path and query start with `/a/`.
    fn matches(&self, method: Method, path: &str) -> bool {
        if self.method != method {
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
    pub(super) settings: BTreeMap<String, String>,
    secrets: BTreeMap<String, Vec<u8>>,
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
                settings: BTreeMap::new(),
                secrets: BTreeMap::new(),
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

    /// A fake secret: its bytes key `hmac-sha256`, a secp256k1 key is 64 hex
    /// digits (optional `0x`), and `${secret:NAME}` placeholders may name it.
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
        let sent = SentRequest {
            method: req.method,
            path: req.path.clone(),
            headers: req.headers.clone(),
            body: req.body.clone(),
            idempotent: req.idempotent,
            weight: req.weight,
        };
        self.requests.push(sent.clone());
        self.check(req)?;
        let route = self
            .routes
            .iter_mut()
            .find(|r| !r.used && r.matches(req.method, &req.path));
        match route {
            Some(route) => {
                route.used = true;
                route.outcome.clone()
            }
            None => {
                let message = format!(
                    "MockHost: no response scripted for {} {}",
                    method_name(req.method),
                    req.path
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
        reqs.iter().map(|r| self.send(r)).collect()
    }

    pub(super) fn hmac_sha256(&self, name: &str, message: &[u8]) -> Result<Vec<u8>, SendError> {
        let secret = self.secret(name)?;
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret)
            .map_err(|_| SendError::Denied(format!("secret {name:?} cannot key an HMAC")))?;
        mac.update(message);
        Ok(mac.finalize().into_bytes().to_vec())
    }

    pub(super) fn sign_secp256k1(&self, name: &str, digest: &[u8]) -> Result<Vec<u8>, SendError> {
        if digest.len() != 32 {
            return Err(SendError::Denied(format!(
                "sign-secp256k1 takes a 32-byte digest, got {} bytes",
                digest.len()
            )));
        }
        let secret = self.secret(name)?;
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

    /// The host's checks on a plugin request (`capabilities.rs`), minus the
    /// venue's body size limit.
    fn check(&self, req: &types::Request) -> Result<(), SendError> {
        let path = &req.path;
        if !path.starts_with('/') || path.starts_with("//") {
            return Err(SendError::Denied(format!(
                "path must start with a single '/' and is joined to the venue's endpoint; got {path:?}"
            )));
        }
        if path.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(SendError::Denied(
                "path contains whitespace or control characters".into(),
            ));
        }
        self.check_placeholders(path, true)?;
        for (name, value) in &req.headers {
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
            self.check_placeholders(value, false)?;
        }
        Ok(())
    }

    /// Every `${secret:NAME}` (in paths also `%24%7Bsecret%3ANAME%7D`) names
    /// a configured secret that is text.
    fn check_placeholders(&self, s: &str, in_path: bool) -> Result<(), SendError> {
        let mut forms = vec![("${secret:", "}")];
        if in_path {
            forms.push(("%24%7Bsecret%3A", "%7D"));
        }
        for (open, close) in forms {
            let lower = s.to_ascii_lowercase();
            let (open_l, close_l) = (open.to_ascii_lowercase(), close.to_ascii_lowercase());
            let mut rest = 0;
            while let Some(i) = lower[rest..].find(&open_l) {
                let start = rest + i + open.len();
                let end = lower[start..].find(&close_l).ok_or_else(|| {
                    SendError::Denied("unterminated ${secret:...} placeholder".into())
                })?;
                let name = &s[start..start + end];
                let secret = self.secret(name)?;
                if std::str::from_utf8(secret).is_err() {
                    return Err(SendError::Denied(format!(
                        "secret {name:?} is not text and cannot be placed in a request"
                    )));
                }
                rest = start + end + close.len();
            }
        }
        Ok(())
    }
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

//! Building requests for the host to send, and reading responses.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::bindings::resilience::venue::types;
use crate::error::{SendError, VenueError};
use crate::sys as raw;

/// HTTP method (the WIT `method` enum).
///
/// ```
/// use resilience_guest::{Method, Request};
/// assert!(Request::new(Method::Patch, "/x").into_raw().method == Method::Patch);
/// ```
pub type Method = types::Method;

/// A request under construction. Sent by [`Request::send`] through the host's
/// resilience pipeline (retries, failover, breakers, rate limits).
///
/// Defaults: idempotent for `GET`, `PUT` and `DELETE`, not for `POST` and
/// `PATCH`; weight 1; no headers; empty body.
///
/// Secrets go only by reference: [`Request::secret_header`] names a secret
/// the host fills in as the request leaves, and [`Request::signed`] hands
/// over a recipe the host signs each attempt with. Text is never interpreted,
/// so data in a path, header or body can never become a secret.
///
/// ```
/// use resilience_guest::{Request, Query};
/// let req = Request::get(Query::new().push("address", "EQD").to_path("/getAddressBalance"))
///     .secret_header("X-API-Key", "api_key");
/// assert_eq!(req.path(), "/getAddressBalance?address=EQD");
/// assert_eq!(req.secret_header_name("x-api-key"), Some("api_key"));
/// assert!(req.is_idempotent());
/// ```
#[derive(Debug, Clone)]
pub struct Request {
    inner: types::Request,
}

impl Request {
    /// A request with `method` for `path` (path and query, starting with `/`).
    ///
    /// ```
    /// use resilience_guest::{Method, Request};
    /// let r = Request::new(Method::Put, "/listenKey");
    /// assert!(r.is_idempotent());
    /// ```
    pub fn new(method: Method, path: impl Into<String>) -> Self {
        let idempotent = matches!(method, Method::Get | Method::Put | Method::Delete);
        Self {
            inner: types::Request {
                method,
                path: path.into(),
                headers: Vec::new(),
                body: Vec::new(),
                idempotent,
                weight: 1,
                signing: None,
            },
        }
    }

    /// A `GET` request.
    ///
    /// ```
    /// assert_eq!(resilience_guest::Request::get("/ping").path(), "/ping");
    /// ```
    pub fn get(path: impl Into<String>) -> Self {
        Self::new(Method::Get, path)
    }

    /// A `POST` request (not idempotent unless marked).
    ///
    /// ```
    /// assert!(!resilience_guest::Request::post("/order").is_idempotent());
    /// ```
    pub fn post(path: impl Into<String>) -> Self {
        Self::new(Method::Post, path)
    }

    /// A `DELETE` request.
    ///
    /// ```
    /// assert!(resilience_guest::Request::delete("/order").is_idempotent());
    /// ```
    pub fn delete(path: impl Into<String>) -> Self {
        Self::new(Method::Delete, path)
    }

    /// Add a header with a text value, sent exactly as given.
    ///
    /// ```
    /// let r = resilience_guest::Request::get("/").header("Accept", "application/json");
    /// assert_eq!(r.header_value("accept"), Some("application/json"));
    /// ```
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.inner.headers.push(types::Header {
            name: name.into(),
            value: types::HeaderValue::Text(value.into()),
        });
        self
    }

    /// Add a header whose value is the venue's secret `secret`, filled in by
    /// the host as the request leaves (declare the secret with
    /// [`SecretUse::Header`](crate::SecretUse) in `Plugin::SECRETS`).
    ///
    /// ```
    /// let r = resilience_guest::Request::get("/").secret_header("X-MBX-APIKEY", "api_key");
    /// assert_eq!(r.secret_header_name("x-mbx-apikey"), Some("api_key"));
    /// assert_eq!(r.header_value("x-mbx-apikey"), None);
    /// ```
    pub fn secret_header(mut self, name: impl Into<String>, secret: impl Into<String>) -> Self {
        self.inner.headers.push(types::Header {
            name: name.into(),
            value: types::HeaderValue::Secret(secret.into()),
        });
        self
    }

    /// Have the host sign each attempt with `signing` (a fresh timestamp and
    /// HMAC just before the attempt leaves).
    ///
    /// ```
    /// use resilience_guest::signing::{Signing, TimeUnit, MessagePart, SignatureEncoding};
    /// let r = resilience_guest::Request::get("/fapi/v2/balance").signed(
    ///     Signing::hmac_sha256("api_secret")
    ///         .timestamp_query("timestamp", TimeUnit::Milliseconds)
    ///         .message([MessagePart::Query, MessagePart::Body])
    ///         .signature_query("signature", SignatureEncoding::Hex),
    /// );
    /// assert_eq!(r.signing().unwrap().secret, "api_secret");
    /// ```
    pub fn signed(mut self, signing: crate::signing::Signing) -> Self {
        self.inner.signing = Some(signing.into_raw());
        self
    }

    /// The signing recipe, if any.
    pub fn signing(&self) -> Option<&types::Signing> {
        self.inner.signing.as_ref()
    }

    /// Set a raw body.
    ///
    /// ```
    /// let r = resilience_guest::Request::post("/").body(b"a=1".to_vec());
    /// assert_eq!(r.body_bytes(), b"a=1");
    /// ```
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.inner.body = body.into();
        self
    }

    /// Set a compact JSON body and `Content-Type: application/json`.
    ///
    /// ```
    /// let r = resilience_guest::Request::post("/runGetMethod").json(&serde_json::json!({"a": 1}));
    /// assert_eq!(r.body_bytes(), br#"{"a":1}"#);
    /// assert_eq!(r.header_value("content-type"), Some("application/json"));
    /// ```
    pub fn json<T: Serialize + ?Sized>(self, value: &T) -> Self {
        // Serialising plain data (maps, strings, numbers) cannot fail.
        let body = serde_json::to_vec(value).unwrap_or_default();
        self.header("Content-Type", "application/json").body(body)
    }

    /// Mark the request idempotent or not (see the WIT `request` docs for
    /// what the host retries when it is not).
    ///
    /// ```
    /// assert!(resilience_guest::Request::post("/x").idempotent(true).is_idempotent());
    /// ```
    pub fn idempotent(mut self, idempotent: bool) -> Self {
        self.inner.idempotent = idempotent;
        self
    }

    /// Rate-limit weight charged for this request (default 1).
    ///
    /// ```
    /// let r = resilience_guest::Request::get("/fapi/v2/account").weight(5);
    /// assert_eq!(r.weight_value(), 5);
    /// ```
    pub fn weight(mut self, weight: u32) -> Self {
        self.inner.weight = weight;
        self
    }

    /// The path and query.
    ///
    /// ```
    /// assert_eq!(resilience_guest::Request::get("/a?b=1").path(), "/a?b=1");
    /// ```
    pub fn path(&self) -> &str {
        &self.inner.path
    }

    /// The body bytes.
    ///
    /// ```
    /// assert!(resilience_guest::Request::get("/").body_bytes().is_empty());
    /// ```
    pub fn body_bytes(&self) -> &[u8] {
        &self.inner.body
    }

    /// Whether the host may retry it after it may have reached the venue.
    ///
    /// ```
    /// assert!(!resilience_guest::Request::post("/order").is_idempotent());
    /// ```
    pub fn is_idempotent(&self) -> bool {
        self.inner.idempotent
    }

    /// The rate-limit weight.
    ///
    /// ```
    /// assert_eq!(resilience_guest::Request::get("/").weight_value(), 1);
    /// ```
    pub fn weight_value(&self) -> u32 {
        self.inner.weight
    }

    /// The secret named by header `name` (case-insensitive), when it is a
    /// secret header.
    ///
    /// ```
    /// let r = resilience_guest::Request::get("/").secret_header("X-API-Key", "api_key");
    /// assert_eq!(r.secret_header_name("x-api-key"), Some("api_key"));
    /// ```
    pub fn secret_header_name(&self, name: &str) -> Option<&str> {
        self.inner
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .and_then(|h| match &h.value {
                types::HeaderValue::Secret(s) => Some(s.as_str()),
                types::HeaderValue::Text(_) => None,
            })
    }

    /// The first text value of header `name` (case-insensitive); `None` for
    /// a secret header.
    ///
    /// ```
    /// let r = resilience_guest::Request::get("/").header("X-A", "1");
    /// assert_eq!(r.header_value("x-a"), Some("1"));
    /// ```
    pub fn header_value(&self, name: &str) -> Option<&str> {
        self.inner
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .and_then(|h| match &h.value {
                types::HeaderValue::Text(t) => Some(t.as_str()),
                types::HeaderValue::Secret(_) => None,
            })
    }

    /// Hand the request to the host and wait for the venue's final answer.
    ///
    /// ```no_run
    /// let resp = resilience_guest::Request::get("/getMasterchainInfo").send()?;
    /// # Ok::<(), resilience_guest::VenueError>(())
    /// ```
    pub fn send(self) -> Result<Response, SendError> {
        raw::send(&self.inner).map(Response::from)
    }

    /// Send several requests concurrently; results come back in order.
    ///
    /// ```no_run
    /// use resilience_guest::Request;
    /// let results = Request::send_all(vec![Request::get("/a"), Request::get("/b")]);
    /// assert_eq!(results.len(), 2);
    /// ```
    pub fn send_all(requests: Vec<Request>) -> Vec<Result<Response, SendError>> {
        let raw_reqs: Vec<types::Request> = requests.into_iter().map(|r| r.inner).collect();
        raw::send_all(&raw_reqs)
            .into_iter()
            .map(|r| r.map(Response::from))
            .collect()
    }

    /// Send to the venue's endpoint `index` (from 0, in configured order)
    /// and no other: retries, breaker, rate limits and the deadline apply,
    /// failover does not. For reading two providers and comparing them; see
    /// [`crate::endpoints`].
    ///
    /// ```no_run
    /// let resp = resilience_guest::Request::get("/price").send_to(1)?;
    /// # Ok::<(), resilience_guest::VenueError>(())
    /// ```
    pub fn send_to(self, index: u32) -> Result<Response, SendError> {
        Self::send_all_to(vec![(Some(index), self)])
            .pop()
            .unwrap_or_else(|| Err(SendError::Connection("the host returned no answer".into())))
    }

    /// Send several requests concurrently, each to the endpoint it names or,
    /// for `None`, through the host's failover; results come back in order.
    ///
    /// ```no_run
    /// use resilience_guest::Request;
    /// let both = Request::send_all_to(vec![
    ///     (Some(0), Request::get("/price")),
    ///     (Some(1), Request::get("/price")),
    /// ]);
    /// assert_eq!(both.len(), 2);
    /// ```
    pub fn send_all_to(requests: Vec<(Option<u32>, Request)>) -> Vec<Result<Response, SendError>> {
        let raw_reqs: Vec<(Option<u32>, types::Request)> =
            requests.into_iter().map(|(e, r)| (e, r.inner)).collect();
        raw::send_all_to(&raw_reqs)
            .into_iter()
            .map(|r| r.map(Response::from))
            .collect()
    }

    /// The WIT record, for tests and advanced use.
    ///
    /// ```
    /// let raw = resilience_guest::Request::get("/x").weight(3).into_raw();
    /// assert_eq!((raw.path.as_str(), raw.weight), ("/x", 3));
    /// ```
    pub fn into_raw(self) -> types::Request {
        self.inner
    }
}

/// A venue's answer.
///
/// ```
/// use resilience_guest::Response;
/// let r = Response::new(200, vec![("X-Count".into(), "3".into())], br#"{"ok":true}"#.to_vec());
/// assert_eq!(r.header("x-count"), Some("3"));
/// let v: serde_json::Value = r.json().unwrap();
/// assert_eq!(v["ok"], true);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// HTTP status.
    pub status: u16,
    /// Headers as received.
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl Response {
    /// A response (for tests).
    ///
    /// ```
    /// let r = resilience_guest::Response::new(429, vec![], b"{}".to_vec());
    /// assert!(!r.is_success());
    /// ```
    pub fn new(status: u16, headers: Vec<(String, String)>, body: Vec<u8>) -> Self {
        Self {
            status,
            headers,
            body,
        }
    }

    /// True for 2xx.
    ///
    /// ```
    /// assert!(resilience_guest::Response::new(204, vec![], vec![]).is_success());
    /// ```
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// First value of header `name` (case-insensitive).
    ///
    /// ```
    /// let r = resilience_guest::Response::new(200, vec![("Retry-After".into(), "2".into())], vec![]);
    /// assert_eq!(r.header("retry-after"), Some("2"));
    /// ```
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// Decode the body as JSON into `T`; a mismatch is a `parse` error that
    /// names the path of the offending field.
    ///
    /// ```
    /// let r = resilience_guest::Response::new(200, vec![], br#"{"n":"x"}"#.to_vec());
    /// #[derive(serde::Deserialize, Debug)] struct T { #[allow(dead_code)] n: u32 }
    /// let err = r.json::<T>().unwrap_err();
    /// assert!(err.to_string().contains("n:"));
    /// ```
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, VenueError> {
        // Most answers decode, and tracking the path costs an allocation per
        // field; only an answer that does not decode is read again, tracking
        // it, for the message. The second read accepts whatever the first
        // did (it does not check for trailing text), so the answer is the one
        // the path-tracking read alone would give.
        match serde_json::from_slice(&self.body) {
            Ok(value) => Ok(value),
            Err(_) => self.json_with_path(),
        }
    }

    fn json_with_path<T: DeserializeOwned>(&self) -> Result<T, VenueError> {
        let de = &mut serde_json::Deserializer::from_slice(&self.body);
        serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            let snippet = body_snippet(&self.body);
            if path == "." {
                VenueError::parse(format!(
                    "HTTP {}: {inner}; body starts {snippet:?}",
                    self.status
                ))
            } else {
                VenueError::parse(format!(
                    "HTTP {}: {path}: {inner}; body starts {snippet:?}",
                    self.status
                ))
            }
        })
    }

    /// The body as text (lossy UTF-8), for error messages.
    ///
    /// ```
    /// assert_eq!(resilience_guest::Response::new(200, vec![], b"ok".to_vec()).text(), "ok");
    /// ```
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The first 120 characters of the body (lossy UTF-8), to quote in error
    /// messages without copying a whole page.
    ///
    /// ```
    /// let r = resilience_guest::Response::new(502, vec![], vec![b'x'; 1000]);
    /// assert_eq!(r.snippet().len(), 120);
    /// ```
    pub fn snippet(&self) -> String {
        body_snippet(&self.body)
    }
}

impl From<types::Response> for Response {
    fn from(r: types::Response) -> Self {
        Self {
            status: r.status,
            headers: r.headers,
            body: r.body,
        }
    }
}

fn find_header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// The first 120 characters of a body, for error messages.
fn body_snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    text.chars().take(120).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random_json::{self, next};
    use serde_json::{Value, json};

    #[derive(serde::Deserialize, serde::Serialize, Debug, PartialEq)]
    struct Answer {
        code: i64,
        #[serde(default)]
        msg: Option<String>,
        #[serde(default)]
        data: Vec<Fill>,
    }

    #[derive(serde::Deserialize, serde::Serialize, Debug, PartialEq)]
    struct Fill {
        price: f64,
        side: String,
    }

    /// `json` answers exactly what the path-tracking read alone answers, for
    /// answers that fit, that miss by a field, and that are not JSON at all.
    #[test]
    fn json_answers_as_the_path_tracking_read_does() {
        const KEYS: &[&str] = &["code", "msg", "data", "price", "side"];
        let seed = random_json::seed("SDK_EQUIV_SEED", 0x5EED_0002);
        let mut state = seed;
        let mut bodies: Vec<Vec<u8>> = [
            &b""[..],
            b"<html>busy</html>",
            b"{\"code\":1} trailing",
            b"{\"code\":1,\"code\":2}",
            b"{\"code\": }",
            b"[]",
        ]
        .iter()
        .map(|b| b.to_vec())
        .collect();
        for _ in 0..3000 {
            let body = if next(&mut state).is_multiple_of(3) {
                random_json::value(&mut state, KEYS, 0)
            } else {
                let mut fit = json!({"code": next(&mut state) % 50});
                if next(&mut state).is_multiple_of(2) {
                    fit["data"] = json!([{"price": 1.5, "side": "Buy"}]);
                }
                if next(&mut state).is_multiple_of(3) {
                    fit["data"] =
                        json!([{"price": random_json::value(&mut state, KEYS, 2), "side": "Sell"}]);
                }
                fit
            };
            bodies.push(body.to_string().into_bytes());
        }
        let mut fits = 0;
        for (i, body) in bodies.iter().enumerate() {
            let r = Response::new(200, vec![], body.clone());
            let (fast, slow) = (r.json::<Answer>(), r.json_with_path::<Answer>());
            let same = match (&fast, &slow) {
                (Ok(a), Ok(b)) => a == b,
                (Err(a), Err(b)) => a.to_string() == b.to_string(),
                _ => false,
            };
            assert!(
                same,
                "seed {seed}, case {i} {:?}: {fast:?} vs {slow:?}",
                r.text()
            );
            let tree = (r.json::<Value>(), r.json_with_path::<Value>());
            assert_eq!(tree.0.ok(), tree.1.ok(), "seed {seed}, case {i}");
            fits += usize::from(fast.is_ok());
        }
        assert!(fits > 1000, "seed {seed}: only {fits} answers fit `Answer`");
    }

    #[test]
    fn malformed_json_is_a_parse_error_with_status() {
        let r = Response::new(200, vec![], b"<html>oops".to_vec());
        let err = r.json::<serde_json::Value>().unwrap_err();
        match err {
            VenueError::Parse(m) => {
                assert!(m.contains("HTTP 200"), "{m}");
                assert!(m.contains("<html>oops"), "{m}");
            }
            other => panic!("expected parse, got {other:?}"),
        }
    }

    #[test]
    fn post_is_not_idempotent_by_default() {
        assert!(!Request::post("/sendBoc").is_idempotent());
        assert!(Request::get("/x").is_idempotent());
    }
}

//! Test plugin `echo`: well-behaved, and a thin window onto every host import,
//! so host tests can drive `send`, `send-all`, the clock, settings, signing,
//! logging and usage reports from JSON.
//!
//! | operation | params | result |
//! |---|---|---|
//! | `echo` | any object | the params unchanged |
//! | `now` | `{}` | `{"now_ms": host now-ms}` |
//! | `setting` | `{key}` | `{"value": config(key) or null}` |
//! | `send` | `{method?, path, body?, headers?, idempotent?, weight?, signed_with?}` | `{"status", "body" (text), "headers": [[name, value]…]}`; a send error is `transport` |
//! | `send_all` | `{requests: [send params…]}` | `[{"status",…} or {"error": "<send-error>"}…]` in order |
//! | `hmac` | `{secret, message}` | `{"hex": hmac-sha256(secret, UTF-8 message)}` |
//! | `sign` | `{secret, digest_hex}` (32 bytes) | `{"hex": 65-byte signature}` |
//! | `log` | `{message}` | `null`, after logging `message` at info |
//! | `usage` | `{used, window_ms}` | `null`, after `report-usage("weight", used, window_ms)` |
//! | `checked` | as `send` | the body's `result`, read with `envelope::json_checked` the Kraken way: a non-empty `error` list in any answer is the venue's error, and one starting `EAPI:Rate limit` is reported as `rate_limited` (waiting the body's `retry_after_ms`, when given) |
//! | `place` | as `send` | as `send`; **mutating**, with the SDK's default `prepare` (journaled under the caller's `Idempotency-Key`, refused without one) |
//! | `sequence` | `{steps: [{"send": send params} / {"send_unique": send params} / {"send_all": send_all params} / {"now": {}} / {"log": message} / {"usage": usage params}…]}` | one outcome per step, in order: as `send` (an error as `{"error"}`), `{"sent": path, "status", "body"}` (the path with a fresh number appended at each run), as `send_all`, `{"now_ms"}`, `null` |
//!
//! `method` is `GET` (default), `POST`, `PUT`, `DELETE` or `PATCH`, any case;
//! `body` is text; `headers` is a list of `[name, value]` pairs, a value being
//! text (sent as is) or `{"secret": NAME}` (a secret header); `signed_with`
//! names an `hmac-key` secret the host signs each attempt with, the Binance
//! way (`timestamp` then hex `signature` in the query); the plugin declares
//! secrets `key` (header), `mac` (hmac-key) and `pk` (secp256k1-key);
//! `idempotent` defaults to the SDK's choice for the method; `weight` to 1.

use resilience_guest::envelope;
use resilience_guest::host::Level;
use resilience_guest::prelude::*;
use resilience_guest::signing::{MessagePart, SignatureEncoding, Signing, TimeUnit};
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Debug, Default)]
pub struct Echo;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SendParams {
    #[serde(default)]
    method: Option<String>,
    path: String,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    headers: Vec<(String, HeaderArg)>,
    #[serde(default)]
    idempotent: Option<bool>,
    #[serde(default)]
    weight: Option<u32>,
    /// Sign each attempt the Binance way, keyed with this secret.
    #[serde(default)]
    signed_with: Option<String>,
    /// In `send_all`: pin this request to the venue's endpoint of this index.
    #[serde(default)]
    endpoint: Option<u32>,
}

/// A header value: text, or `{"secret": NAME}`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum HeaderArg {
    Text(String),
    Secret { secret: String },
}

#[derive(Debug, Deserialize)]
struct SendAllParams {
    requests: Vec<SendParams>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SequenceParams {
    steps: Vec<Step>,
}

/// One step of `sequence`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum Step {
    Send(SendParams),
    /// A send to `path` plus `/` and a number drawn afresh at each run, so
    /// that no two runs ask for the same request.
    SendUnique(SendParams),
    SendAll(SendAllParams),
    Now {},
    Log(String),
    Usage(UsageParams),
}

#[derive(Debug, Deserialize)]
struct KeyParams {
    key: String,
}

#[derive(Debug, Deserialize)]
struct HmacParams {
    secret: String,
    message: String,
}

#[derive(Debug, Deserialize)]
struct SignParams {
    secret: String,
    digest_hex: String,
}

#[derive(Debug, Deserialize)]
struct LogParams {
    message: String,
}

#[derive(Debug, Deserialize)]
struct UsageParams {
    used: u64,
    window_ms: u64,
}

impl Echo {
    fn echo(&mut self, params: Value) -> Result<Value, VenueError> {
        Ok(params)
    }

    fn now(&mut self, _: Value) -> Result<Value, VenueError> {
        Ok(json!({ "now_ms": host::now_ms() }))
    }

    fn setting(&mut self, p: KeyParams) -> Result<Value, VenueError> {
        Ok(json!({ "value": host::config(&p.key) }))
    }

    fn send(&mut self, p: SendParams) -> Result<Value, VenueError> {
        let resp = build_request(p)?.send()?;
        Ok(response_json(&resp))
    }

    fn checked(&mut self, p: SendParams) -> Result<Value, VenueError> {
        #[derive(Deserialize)]
        struct Envelope {
            result: Value,
        }
        let resp = build_request(p)?.send()?;
        let envelope: Envelope = envelope::json_checked(&resp, |body| {
            let first = body.get("error")?.as_array()?.first()?.as_str()?;
            Some(if first.starts_with("EAPI:Rate limit") {
                let wait = body.get("retry_after_ms").and_then(Value::as_u64);
                VenueError::rate_limited(first, wait)
            } else {
                VenueError::upstream(resp.status, Some(first.to_string()), first)
            })
        })?;
        Ok(envelope.result)
    }

    fn send_all(&mut self, p: SendAllParams) -> Result<Value, VenueError> {
        let requests = p
            .requests
            .into_iter()
            .enumerate()
            .map(|(i, r)| {
                let endpoint = r.endpoint;
                let req = build_request(r).map_err(|e| match e {
                    VenueError::InvalidParams(m) => {
                        VenueError::invalid(format!("requests[{i}].{m}"))
                    }
                    other => other,
                })?;
                Ok((endpoint, req))
            })
            .collect::<Result<Vec<_>, VenueError>>()?;
        // Through `send-all-to` only when a request is pinned, so plain
        // batches keep exercising `send-all`.
        let results = if requests.iter().any(|(e, _)| e.is_some()) {
            Request::send_all_to(requests)
        } else {
            Request::send_all(requests.into_iter().map(|(_, r)| r).collect())
        };
        let results = results
            .iter()
            .map(|r| match r {
                Ok(resp) => response_json(resp),
                Err(e) => json!({ "error": format!("{e:?}") }),
            })
            .collect();
        Ok(Value::Array(results))
    }

    fn sequence(&mut self, p: SequenceParams) -> Result<Value, VenueError> {
        let mut outcomes = Vec::with_capacity(p.steps.len());
        for step in p.steps {
            outcomes.push(match step {
                Step::Send(p) => match build_request(p)?.send() {
                    Ok(resp) => response_json(&resp),
                    Err(e) => json!({ "error": format!("{e:?}") }),
                },
                Step::SendUnique(mut p) => {
                    p.path = format!("{}/{}", p.path, fresh_number());
                    let sent = p.path.clone();
                    match build_request(p)?.send() {
                        Ok(resp) => {
                            json!({ "sent": sent, "status": resp.status, "body": resp.text() })
                        }
                        Err(e) => json!({ "sent": sent, "error": format!("{e:?}") }),
                    }
                }
                Step::SendAll(p) => self.send_all(p)?,
                Step::Now {} => json!({ "now_ms": host::now_ms() }),
                Step::Log(message) => {
                    host::log(Level::Info, &message);
                    Value::Null
                }
                Step::Usage(p) => {
                    host::report_usage("weight", p.used, p.window_ms);
                    Value::Null
                }
            });
        }
        Ok(Value::Array(outcomes))
    }

    fn endpoints(&mut self, _: Value) -> Result<Value, VenueError> {
        Ok(json!({ "count": resilience_guest::endpoints::count() }))
    }

    fn hmac(&mut self, p: HmacParams) -> Result<Value, VenueError> {
        let mac = host::hmac_sha256(&p.secret, p.message.as_bytes())?;
        Ok(json!({ "hex": hex_encode(&mac) }))
    }

    fn sign(&mut self, p: SignParams) -> Result<Value, VenueError> {
        let digest: [u8; 32] = hex_decode(&p.digest_hex)
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or_else(|| VenueError::invalid("digest_hex: expected 64 hex digits (32 bytes)"))?;
        let sig = host::sign_secp256k1(&p.secret, &digest)?;
        Ok(json!({ "hex": hex_encode(&sig) }))
    }

    fn log(&mut self, p: LogParams) -> Result<(), VenueError> {
        host::log(Level::Info, &p.message);
        Ok(())
    }

    fn usage(&mut self, p: UsageParams) -> Result<(), VenueError> {
        host::report_usage("weight", p.used, p.window_ms);
        Ok(())
    }
}

fn build_request(p: SendParams) -> Result<Request, VenueError> {
    let method = match p.method.as_deref().map(str::to_ascii_uppercase).as_deref() {
        None | Some("GET") => Method::Get,
        Some("POST") => Method::Post,
        Some("PUT") => Method::Put,
        Some("DELETE") => Method::Delete,
        Some("PATCH") => Method::Patch,
        Some(other) => {
            return Err(VenueError::invalid(format!(
                "method: {other:?} is not GET, POST, PUT, DELETE or PATCH"
            )));
        }
    };
    let mut req = Request::new(method, p.path);
    for (name, value) in p.headers {
        req = match value {
            HeaderArg::Text(text) => req.header(name, text),
            HeaderArg::Secret { secret } => req.secret_header(name, secret),
        };
    }
    if let Some(secret) = p.signed_with {
        req = req.signed(
            Signing::hmac_sha256(&secret)
                .timestamp_query("timestamp", TimeUnit::Milliseconds)
                .message([MessagePart::Query, MessagePart::Body])
                .signature_query("signature", SignatureEncoding::Hex),
        );
    }
    if let Some(body) = p.body {
        req = req.body(body.into_bytes());
    }
    if let Some(idempotent) = p.idempotent {
        req = req.idempotent(idempotent);
    }
    if let Some(weight) = p.weight {
        req = req.weight(weight);
    }
    Ok(req)
}

/// A number no earlier call of this instance drew: std's hash keys come from
/// `wasi:random` once per instance and step at each `RandomState`.
fn fresh_number() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish()
}

fn response_json(resp: &Response) -> Value {
    json!({
        "status": resp.status,
        "body": resp.text(),
        "headers": resp.headers,
    })
}

fn hex_encode(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

fn hex_decode(hex: &str) -> Option<Vec<u8>> {
    let hex = hex.strip_prefix("0x").unwrap_or(hex);
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    hex.as_bytes()
        .chunks(2)
        .map(|pair| {
            let hi = char::from(pair[0]).to_digit(16)?;
            let lo = char::from(pair[1]).to_digit(16)?;
            u8::try_from(hi * 16 + lo).ok()
        })
        .collect()
}

impl Plugin for Echo {
    const NAME: &'static str = "echo";
    const VERSION: &'static str = "0.1.0";
    /// The names the host tests configure: `key` for headers, `mac` for
    /// HMACs and recipes, `pk` for secp256k1 signatures.
    const SECRETS: &'static [(&'static str, SecretUse)] = &[
        ("key", SecretUse::Header),
        ("mac", SecretUse::HmacKey),
        ("pk", SecretUse::Secp256k1Key),
    ];
    const USAGE_COUNTERS: &'static [&'static str] = &["weight"];

    fn operations() -> Operations<Self> {
        Operations::new()
            .op("echo", "Return the params unchanged", Self::echo)
            .op("now", "The host clock", Self::now)
            .op("setting", "A venue setting", Self::setting)
            .op("send", "Send one request through the host", Self::send)
            .op(
                "checked",
                "Send one request and read a Kraken-style error envelope",
                Self::checked,
            )
            .op(
                "send_all",
                "Send several requests concurrently, each pinned to its `endpoint` if it names one",
                Self::send_all,
            )
            .op(
                "endpoints",
                "How many endpoints the venue has",
                Self::endpoints,
            )
            .op("hmac", "HMAC-SHA256 with a venue secret, hex", Self::hmac)
            .op(
                "sign",
                "secp256k1 signature of a digest with a venue secret, hex",
                Self::sign,
            )
            .op("log", "Log a message at info", Self::log)
            .op("usage", "Report weight usage to the host", Self::usage)
            .op(
                "sequence",
                "Run steps in order: sends, batches, clock readings, log lines, usage reports",
                Self::sequence,
            )
            .mutating("place", "Send one request as a journaled order", Self::send)
    }
}

// Exported only for WebAssembly: the export names (`resilience:venue/adapter@0.2.0#…`)
// are not valid symbols for a native linker, and native builds only run tests.
#[cfg(target_arch = "wasm32")]
resilience_guest::export_plugin!(Echo);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips() {
        let bytes = [0x00, 0x7f, 0x80, 0xff, 0x12];
        assert_eq!(hex_encode(&bytes), "007f80ff12");
        assert_eq!(hex_decode("007F80ff12").as_deref(), Some(&bytes[..]));
        assert_eq!(hex_decode("0x00ff").as_deref(), Some(&[0x00, 0xff][..]));
        assert_eq!(hex_decode("abc"), None);
        assert_eq!(hex_decode("zz"), None);
    }
}

//! Turning a plugin's request into what the upstream sends, with every check
//! that keeps a plugin (or a caller's data inside its request) inside its
//! venue: the path is relative, has no dot segments and parses as a URI;
//! headers are valid and not hop-by-hop; secrets are filled in only where
//! the plugin declared them ([`crate::grants`]) and only for the endpoints
//! they are bound to; a signing recipe names a declared `hmac-key`. A
//! refused request never leaves and fails `denied`, naming what was wrong
//! and never a secret's value.

use std::collections::BTreeMap;

use bytes::Bytes;
use http::{HeaderName, HeaderValue};

use crate::config::Secret;
use crate::grants::{Grants, Use};
use crate::plugin::bindings::{
    self, HeaderValue as PluginHeaderValue, MessagePart, Method, Request, SendError,
    SignatureEncoding, Slot as PluginSlot, TimeUnit as PluginTimeUnit,
};
use crate::signing::{Encoding, Part, Recipe, Slot, TimeUnit};
use crate::upstream::OutboundRequest;

/// The venue's secrets and where each may be sent.
#[derive(Debug, Default)]
pub struct SecretStore {
    secrets: BTreeMap<String, Secret>,
    /// `secrets.NAME.endpoints`: indices (in the venue's endpoint order) a
    /// header secret may go to; absent = every endpoint of the venue.
    bound: BTreeMap<String, Vec<usize>>,
}

impl SecretStore {
    pub fn new(secrets: BTreeMap<String, Secret>, bound: BTreeMap<String, Vec<usize>>) -> Self {
        Self { secrets, bound }
    }

    /// Secret `name` for `want`, if the plugin declared that use and the
    /// venue configures it.
    pub fn get(&self, grants: &Grants, name: &str, want: Use) -> Result<&Secret, SendError> {
        grants.check(name, want).map_err(SendError::Denied)?;
        self.secrets.get(name).ok_or_else(|| {
            SendError::Denied(format!(
                "secret {name:?} is not configured for this venue (secrets.{name})"
            ))
        })
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.secrets.keys().map(String::as_str)
    }
}

/// Limits a request must fit.
#[derive(Debug, Clone, Copy)]
pub struct RequestLimits {
    pub max_request_bytes: usize,
}

/// Check a plugin request and resolve its secrets and recipe.
pub fn build(
    req: Request,
    grants: &Grants,
    secrets: &SecretStore,
    limits: RequestLimits,
) -> Result<OutboundRequest, SendError> {
    check_path(&req.path)?;
    if req.body.len() > limits.max_request_bytes {
        return Err(SendError::Denied(format!(
            "request body of {} bytes is over the limit of {}",
            req.body.len(),
            limits.max_request_bytes
        )));
    }
    let mut headers = Vec::with_capacity(req.headers.len());
    let mut endpoints: Option<Vec<usize>> = None;
    for h in &req.headers {
        let name = HeaderName::from_bytes(h.name.as_bytes()).map_err(|_| {
            SendError::Denied(format!("invalid header name {:?}", truncate(&h.name, 80)))
        })?;
        if is_hop_by_hop(&name) {
            return Err(SendError::Denied(format!(
                "header {name} is managed by the host"
            )));
        }
        let value = match &h.value {
            PluginHeaderValue::Text(text) => HeaderValue::from_str(text)
                .map_err(|_| SendError::Denied(format!("invalid value for header {name}")))?,
            PluginHeaderValue::Secret(secret) => {
                let bytes = secrets.get(grants, secret, Use::Header)?;
                if let Some(bound) = secrets.bound.get(secret.as_str()) {
                    endpoints = Some(match endpoints {
                        None => bound.clone(),
                        Some(e) => e.into_iter().filter(|i| bound.contains(i)).collect(),
                    });
                }
                let mut v = HeaderValue::from_bytes(bytes.expose()).map_err(|_| {
                    SendError::Denied(format!(
                        "secret {secret:?} cannot be a header value (control characters)"
                    ))
                })?;
                v.set_sensitive(true);
                v
            }
        };
        headers.push((name, value));
    }
    if endpoints.as_ref().is_some_and(Vec::is_empty) {
        return Err(SendError::Denied(
            "the request's header secrets are bound to no common endpoint (secrets.NAME.endpoints)"
                .into(),
        ));
    }
    let signing = match req.signing {
        None => None,
        Some(s) => Some(recipe(s, grants, secrets)?),
    };
    Ok(OutboundRequest {
        method: match req.method {
            Method::Get => http::Method::GET,
            Method::Post => http::Method::POST,
            Method::Put => http::Method::PUT,
            Method::Delete => http::Method::DELETE,
            Method::Patch => http::Method::PATCH,
        },
        path_and_query: req.path,
        headers,
        body: Bytes::from(req.body),
        idempotent: req.idempotent,
        weight: req.weight,
        endpoints,
        signing,
        response_budget: None,
        start: 0,
    })
}

/// A path the host appends to an endpoint URL (`resilience_wire::path`).
pub fn check_path(path: &str) -> Result<(), SendError> {
    match resilience_wire::path::refusal(path) {
        None => Ok(()),
        Some(why) => Err(SendError::Denied(format!(
            "path {:?} {why}",
            truncate(path, 80)
        ))),
    }
}

/// A plugin's recipe, checked: its key declared `hmac-key` and configured,
/// its slots valid names.
fn recipe(
    s: bindings::Signing,
    grants: &Grants,
    secrets: &SecretStore,
) -> Result<Recipe, SendError> {
    let key = secrets.get(grants, &s.secret, Use::HmacKey)?.clone();
    let slot = |slot: PluginSlot| -> Result<Slot, SendError> {
        match slot {
            PluginSlot::Query(name) if resilience_wire::valid_param(&name) => Ok(Slot::Query(name)),
            PluginSlot::Query(name) => Err(SendError::Denied(format!(
                "signing: query parameter name {:?} is not letters, digits, '-', '_' or '.'",
                truncate(&name, 80)
            ))),
            PluginSlot::Header(name) => {
                let h = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                    SendError::Denied(format!(
                        "signing: invalid header name {:?}",
                        truncate(&name, 80)
                    ))
                })?;
                if is_hop_by_hop(&h) {
                    return Err(SendError::Denied(format!(
                        "signing: header {h} is managed by the host"
                    )));
                }
                Ok(Slot::Header(name))
            }
        }
    };
    if s.message.len() > 16 {
        return Err(SendError::Denied(
            "signing: at most 16 message parts".into(),
        ));
    }
    let recipe = resilience_wire::Recipe {
        timestamp: s.timestamp.map(slot).transpose()?,
        unit: match s.timestamp_unit {
            PluginTimeUnit::Milliseconds => TimeUnit::Milliseconds,
            PluginTimeUnit::Seconds => TimeUnit::Seconds,
        },
        clock_offset_ms: s.clock_offset_ms,
        message: s
            .message
            .into_iter()
            .map(|p| match p {
                MessagePart::Timestamp => Part::Timestamp,
                MessagePart::Method => Part::Method,
                MessagePart::Path => Part::Path,
                MessagePart::Query => Part::Query,
                MessagePart::Body => Part::Body,
                MessagePart::Text(t) => Part::Text(t),
            })
            .collect(),
        signature: slot(s.signature)?,
        encoding: match s.signature_encoding {
            SignatureEncoding::Hex => Encoding::Hex,
            SignatureEncoding::Base64 => Encoding::Base64,
            SignatureEncoding::Base64url => Encoding::Base64Url,
        },
    };
    Ok(Recipe {
        key,
        key_name: s.secret,
        recipe,
    })
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::bindings::{Header, Info, SecretDecl, SecretUse};

    fn grants() -> Grants {
        Grants::from_info(&Info {
            name: "p".into(),
            version: "1".into(),
            sdk_version: "x".into(),
            operations: Vec::new(),
            secrets: [
                ("api_key", SecretUse::Header),
                ("api_secret", SecretUse::HmacKey),
                ("private_key", SecretUse::Secp256k1Key),
            ]
            .map(|(n, u)| SecretDecl {
                name: n.into(),
                purpose: u,
            })
            .to_vec(),
            usage_counters: Vec::new(),
        })
        .unwrap()
    }

    fn store(bound: &[(&str, Vec<usize>)]) -> SecretStore {
        SecretStore::new(
            [
                ("api_key", "k/y+1"),
                ("api_secret", "s3cr3t"),
                ("private_key", "0xabc"),
            ]
            .into_iter()
            .map(|(n, v)| (n.to_string(), Secret::new(v.as_bytes())))
            .collect(),
            bound
                .iter()
                .map(|(n, e)| (n.to_string(), e.clone()))
                .collect(),
        )
    }

    fn req(path: &str, headers: Vec<Header>) -> Request {
        Request {
            method: Method::Get,
            path: path.into(),
            headers,
            body: vec![],
            idempotent: true,
            weight: 1,
            signing: None,
        }
    }

    fn secret_header(name: &str, secret: &str) -> Header {
        Header {
            name: name.into(),
            value: PluginHeaderValue::Secret(secret.into()),
        }
    }

    const LIMITS: RequestLimits = RequestLimits {
        max_request_bytes: 1024,
    };

    fn denied(r: Result<OutboundRequest, SendError>) -> String {
        match r {
            Err(SendError::Denied(m)) => m,
            other => panic!("expected denied, got {other:?}"),
        }
    }

    #[test]
    fn a_declared_header_secret_is_filled_in_and_marked_sensitive() {
        let out = build(
            req("/x", vec![secret_header("X-API-Key", "api_key")]),
            &grants(),
            &store(&[]),
            LIMITS,
        )
        .unwrap();
        assert_eq!(out.headers[0].1.to_str().unwrap(), "k/y+1");
        assert!(out.headers[0].1.is_sensitive());
        assert_eq!(out.endpoints, None);
    }

    /// Placeholders in data are data: text headers and paths are never
    /// interpreted, in any encoding.
    #[test]
    fn secret_placeholders_in_text_stay_text() {
        let path = "/x?a=${secret:api_key}&b=%24%7Bsecret%3Aapi_key%7D";
        let out = build(
            req(
                path,
                vec![Header {
                    name: "X".into(),
                    value: PluginHeaderValue::Text("${secret:api_secret}".into()),
                }],
            ),
            &grants(),
            &store(&[]),
            LIMITS,
        );
        // `$`, `{` and `}` are not URI characters: the path is refused as is;
        // the header goes out literally.
        assert!(denied(out).contains("not a valid URI"));
        let ok = build(
            req(
                "/x?b=%24%7Bsecret%3Aapi_key%7D",
                vec![Header {
                    name: "X".into(),
                    value: PluginHeaderValue::Text("${secret:api_secret}".into()),
                }],
            ),
            &grants(),
            &store(&[]),
            LIMITS,
        )
        .unwrap();
        assert_eq!(ok.path_and_query, "/x?b=%24%7Bsecret%3Aapi_key%7D");
        assert_eq!(ok.headers[0].1, "${secret:api_secret}");
    }

    #[test]
    fn undeclared_uses_are_denied_without_leaking_values() {
        for (header, secret) in [("X", "api_secret"), ("X", "private_key"), ("X", "other")] {
            let m = denied(build(
                req("/x", vec![secret_header(header, secret)]),
                &grants(),
                &store(&[]),
                LIMITS,
            ));
            assert!(m.contains(secret), "{m}");
            assert!(!m.contains("s3cr3t") && !m.contains("0xabc"), "{m}");
        }
    }

    #[test]
    fn header_secrets_go_only_to_their_bound_endpoints() {
        let out = build(
            req("/x", vec![secret_header("X-API-Key", "api_key")]),
            &grants(),
            &store(&[("api_key", vec![1])]),
            LIMITS,
        )
        .unwrap();
        assert_eq!(out.endpoints, Some(vec![1]));
        let none = build(
            req("/x", vec![secret_header("X-API-Key", "api_key")]),
            &grants(),
            &store(&[("api_key", vec![])]),
            LIMITS,
        );
        assert!(denied(none).contains("bound to no common endpoint"));
    }

    #[test]
    fn a_bad_path_is_denied_naming_the_rule() {
        let m = denied(build(
            req("/a/%2e%2e/admin", vec![]),
            &grants(),
            &store(&[]),
            LIMITS,
        ));
        assert!(m.contains("'..' segment"), "{m}");
    }

    #[test]
    fn a_recipe_needs_a_declared_hmac_key() {
        let recipe = |secret: &str| bindings::Signing {
            secret: secret.into(),
            timestamp: Some(PluginSlot::Query("timestamp".into())),
            timestamp_unit: PluginTimeUnit::Milliseconds,
            clock_offset_ms: 0,
            message: vec![MessagePart::Query],
            signature: PluginSlot::Query("signature".into()),
            signature_encoding: SignatureEncoding::Hex,
        };
        let mut r = req("/x", vec![]);
        r.signing = Some(recipe("api_secret"));
        assert!(
            build(r, &grants(), &store(&[]), LIMITS)
                .unwrap()
                .signing
                .is_some()
        );
        for bad in ["api_key", "private_key"] {
            let mut r = req("/x", vec![]);
            r.signing = Some(recipe(bad));
            assert!(denied(build(r, &grants(), &store(&[]), LIMITS)).contains("hmac-key"));
        }
        let mut r = req("/x", vec![]);
        let mut s = recipe("api_secret");
        s.signature = PluginSlot::Query("sig&x=1".into());
        r.signing = Some(s);
        assert!(denied(build(r, &grants(), &store(&[]), LIMITS)).contains("query parameter"));
    }
}

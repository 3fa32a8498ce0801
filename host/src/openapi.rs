//! OpenAPI 3.1 description of the HTTP API, generated from the host's own
//! routes ([`crate::api`]) and from every loaded plugin's operations: one path
//! per venue operation, its body schema the plugin's `params-schema` from
//! `describe`. It is built from the registry each time it is asked for, so a
//! reload changes it. Served at `GET /openapi.json` and printed by
//! `resilience-host openapi --config FILE`.
//!
//! The error statuses come from [`CallError::KINDS`], the same table the API
//! answers with, so the description cannot promise a status the host does not
//! send or miss one it does.

use serde_json::{Map, Value, json};

use crate::app::MAX_IDEMPOTENCY_KEY;
use crate::error::CallError;

/// One operation of a venue, as `describe` declared it.
#[derive(Debug, Clone)]
pub struct OperationSpec<'a> {
    pub name: &'a str,
    pub summary: &'a str,
    pub mutating: bool,
    /// JSON Schema text, empty when the plugin gave none.
    pub params_schema: &'a str,
}

/// One venue served by a loaded plugin.
#[derive(Debug, Clone)]
pub struct VenueSpec<'a> {
    pub name: &'a str,
    pub plugin: &'a str,
    pub version: &'a str,
    pub operations: Vec<OperationSpec<'a>>,
}

/// What the description depends on besides the venues.
#[derive(Debug, Clone, Copy)]
pub struct ApiSpec {
    /// `server.auth_token_env` is set: `/v1/*` and this document need the token.
    pub auth: bool,
    /// `server.metrics`: `/metrics` is served.
    pub metrics: bool,
    pub max_request_bytes: usize,
}

/// The kinds of errors the API answers that are not [`CallError`]s: routing
/// and the admin endpoint without a token.
const ROUTE_KINDS: &[(&str, u16)] = &[
    ("not_found", 404),
    ("method_not_allowed", 405),
    ("forbidden", 403),
];

/// The whole document.
pub fn document(api: ApiSpec, venues: &[VenueSpec<'_>]) -> Value {
    let mut paths = Map::new();
    static_paths(api, &mut paths);
    for venue in venues {
        for op in &venue.operations {
            paths.insert(
                format!("/v1/venues/{}/{}", venue.name, op.name),
                operation_path(api, venue, op),
            );
        }
    }
    let mut doc = json!({
        "openapi": "3.1.0",
        "info": {
            "title": "resilience-host",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Calls to trading venues through the host's retries, failover, circuit breakers, \
                rate limits, deadlines and journal. Each venue operation is served by a WebAssembly plugin; \
                its body is the operation's params as a JSON object.",
        },
        "paths": paths,
        "components": {
            "schemas": schemas(),
            "headers": {
                "Retry-After": {
                    "description": "Whole seconds until a retry may succeed, when known",
                    "schema": {"type": "string"},
                },
            },
        },
    });
    if api.auth {
        doc["components"]["securitySchemes"] =
            json!({"bearer": {"type": "http", "scheme": "bearer"}});
    }
    doc
}

fn static_paths(api: ApiSpec, paths: &mut Map<String, Value>) {
    let health = |detailed: bool| {
        let mut op = json!({
            "summary": if detailed {
                "Health with each degraded venue's reason"
            } else {
                "Health for load balancers: generic statuses only"
            },
            "operationId": if detailed { "health_details" } else { "health" },
            "parameters": [{
                "name": "venue", "in": "query", "required": false,
                "description": "Only this venue",
                "schema": {"type": "string"},
            }],
            "responses": {
                "200": json_response("Every venue (or the one asked for) can serve", "#/components/schemas/Health"),
                "404": json_response("No venue of that name", "#/components/schemas/Health"),
                "503": json_response("Degraded: the venues that cannot serve", "#/components/schemas/Health"),
            },
        });
        if detailed {
            guard(api, &mut op);
        }
        op
    };
    paths.insert("/health".into(), json!({ "get": health(false) }));
    paths.insert("/v1/health".into(), json!({ "get": health(true) }));
    if api.metrics {
        paths.insert(
            "/metrics".into(),
            json!({"get": {
                "summary": "Prometheus metrics",
                "operationId": "metrics",
                "responses": {"200": {
                    "description": "Prometheus text format",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                }},
            }}),
        );
    }
    let mut openapi = json!({
        "summary": "This document",
        "operationId": "openapi",
        "responses": {"200": json_response("OpenAPI 3.1", "#/components/schemas/Object")},
    });
    guard(api, &mut openapi);
    paths.insert("/openapi.json".into(), json!({ "get": openapi }));
    for (path, id, summary, schema) in [
        (
            "/v1/venues",
            "venues",
            "Venues: plugin, version, operations, endpoints and their breakers",
            "#/components/schemas/Object",
        ),
        (
            "/v1/stats",
            "stats",
            "Per venue: calls, success rate, failures by kind, latency, breakers",
            "#/components/schemas/Object",
        ),
    ] {
        let mut op = json!({
            "summary": summary, "operationId": id,
            "responses": {"200": json_response("ok", schema)},
        });
        guard(api, &mut op);
        paths.insert(path.into(), json!({ "get": op }));
    }
    let mut journal = json!({
        "summary": "Journaled mutating calls, oldest first, a page at a time",
        "operationId": "journal",
        "parameters": [
            {"name": "venue", "in": "query", "required": false, "schema": {"type": "string"}},
            {"name": "state", "in": "query", "required": false,
             "schema": {"type": "string", "enum": ["pending", "succeeded", "failed", "in_doubt"]}},
            {"name": "limit", "in": "query", "required": false,
             "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}},
            {"name": "cursor", "in": "query", "required": false,
             "description": "`next_cursor` of the previous page", "schema": {"type": "string"}},
        ],
        "responses": {
            "200": json_response("A page of entries", "#/components/schemas/JournalPage"),
            "400": error_response("A bad state, limit or cursor", &["invalid_params"]),
            "503": error_response("The journal cannot be read", &["unavailable"]),
        },
    });
    guard(api, &mut journal);
    paths.insert("/v1/journal".into(), json!({ "get": journal }));
    let mut reload = json!({
        "summary": "Reload the plugins folder (as SIGHUP does)",
        "operationId": "reload",
        "responses": {
            "200": json_response("What was loaded, replaced or refused", "#/components/schemas/Object"),
            "403": error_response("No token is configured, so admin endpoints are off", &["forbidden"]),
        },
    });
    guard(api, &mut reload);
    paths.insert("/v1/admin/reload".into(), json!({ "post": reload }));
}

fn operation_path(api: ApiSpec, venue: &VenueSpec<'_>, op: &OperationSpec<'_>) -> Value {
    let schema = serde_json::from_str::<Value>(op.params_schema)
        .ok()
        .filter(Value::is_object)
        .unwrap_or_else(|| json!({"type": "object"}));
    let mut responses = Map::new();
    responses.insert(
        "200".into(),
        json_response("The operation's result", "#/components/schemas/Any"),
    );
    for status in call_statuses(op.mutating) {
        let kinds: Vec<&str> = CallError::KINDS
            .iter()
            .filter(|(kind, s)| *s == status && (op.mutating || !mutating_only(kind)))
            .map(|(kind, _)| *kind)
            .chain(
                ROUTE_KINDS
                    .iter()
                    .filter(|(_, s)| *s == status)
                    .map(|(k, _)| *k),
            )
            .collect();
        let mut response = error_response("An error of one of these kinds", &kinds);
        if status == 429 || (status == 409 && op.mutating) {
            response["headers"] =
                json!({"Retry-After": {"$ref": "#/components/headers/Retry-After"}});
        }
        responses.insert(status.to_string(), response);
    }
    let mut post = json!({
        "summary": op.summary,
        "operationId": format!("{}.{}", venue.name, op.name),
        "tags": [venue.name],
        "description": format!(
            "Plugin `{}` {}.{}",
            venue.plugin,
            venue.version,
            if op.mutating {
                " Mutating: journaled under the caller's `Idempotency-Key`; a retry with the same key \
                 and params never sends a second order."
            } else {
                ""
            }
        ),
        "requestBody": {
            "required": false,
            "description": format!("The params, a JSON object of at most {} bytes; an empty body is `{{}}`", api.max_request_bytes),
            "content": {"application/json": {"schema": schema}},
        },
        "responses": responses,
    });
    if op.mutating {
        post["parameters"] = json!([{
            "name": "Idempotency-Key", "in": "header", "required": false,
            "description": "The caller's key for this order: the same key with the same params is the same order. \
                Without it the plugin derives the key from the params (Binance: `client_order_id`) or refuses \
                the call with `invalid_params`.",
            "schema": {"type": "string", "minLength": 1, "maxLength": MAX_IDEMPOTENCY_KEY, "pattern": "^[!-~]+$"},
        }]);
    }
    guard(api, &mut post);
    json!({ "post": post })
}

/// The statuses a venue call may answer besides 200.
fn call_statuses(mutating: bool) -> Vec<u16> {
    let mut statuses: Vec<u16> = CallError::KINDS
        .iter()
        .filter(|(kind, _)| mutating || !mutating_only(kind))
        .filter(|(kind, _)| *kind != "unauthorized")
        .map(|(_, s)| *s)
        .collect();
    statuses.sort_unstable();
    statuses.dedup();
    statuses
}

/// Kinds only the journal of a mutating call produces.
fn mutating_only(kind: &str) -> bool {
    kind == "conflict"
}

/// Mark `op` as needing the bearer token (when one is configured), with its 401.
fn guard(api: ApiSpec, op: &mut Value) {
    if api.auth {
        op["security"] = json!([{"bearer": []}]);
        op["responses"]["401"] = error_response("Missing or wrong bearer token", &["unauthorized"]);
    }
}

fn json_response(description: &str, schema: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": {"$ref": schema}}},
    })
}

fn error_response(description: &str, kinds: &[&str]) -> Value {
    json!({
        "description": format!("{description}: {}", kinds.join(", ")),
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    })
}

fn schemas() -> Value {
    let kinds: Vec<&str> = CallError::KINDS
        .iter()
        .chain(ROUTE_KINDS)
        .map(|(k, _)| *k)
        .collect();
    json!({
        "Any": {"description": "Any JSON value: the operation's result as the plugin returned it"},
        "Object": {"type": "object"},
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {"error": {
                "type": "object",
                "required": ["kind", "message"],
                "properties": {
                    "kind": {"type": "string", "enum": kinds},
                    "message": {"type": "string"},
                    "venue": {"type": ["string", "null"]},
                    "operation": {"type": ["string", "null"]},
                    "upstream_status": {"type": "integer", "description": "kind upstream: the venue's HTTP status"},
                    "code": {"type": ["string", "null"], "description": "kind upstream: the venue's own error code"},
                    "retry_after_ms": {"type": ["integer", "null"], "description": "kinds rate_limited and conflict"},
                },
            }},
        },
        "Health": {
            "type": "object",
            "required": ["status"],
            "properties": {
                "status": {"type": "string", "enum": ["ok", "degraded", "unknown_venue"]},
                "venues": {"type": "object", "additionalProperties": {"type": "string"}},
                "venue": {"type": "string"},
            },
        },
        "JournalPage": {
            "type": "object",
            "required": ["backend", "entries", "next_cursor"],
            "properties": {
                "backend": {"type": "string"},
                "entries": {"type": "array", "items": {"type": "object"}},
                "next_cursor": {"type": ["string", "null"]},
            },
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(auth: bool) -> ApiSpec {
        ApiSpec {
            auth,
            metrics: true,
            max_request_bytes: 1 << 20,
        }
    }

    fn venue() -> VenueSpec<'static> {
        VenueSpec {
            name: "v",
            plugin: "echo",
            version: "1.0.0",
            operations: vec![
                OperationSpec {
                    name: "get",
                    summary: "read",
                    mutating: false,
                    params_schema: r#"{"type":"object","required":["a"]}"#,
                },
                OperationSpec {
                    name: "place",
                    summary: "order",
                    mutating: true,
                    params_schema: "",
                },
            ],
        }
    }

    #[test]
    fn each_operation_is_a_path_with_its_schema_and_statuses() {
        let doc = document(api(false), &[venue()]);
        let get = &doc["paths"]["/v1/venues/v/get"]["post"];
        assert_eq!(
            get["requestBody"]["content"]["application/json"]["schema"]["required"],
            json!(["a"])
        );
        let statuses: Vec<&String> = get["responses"].as_object().unwrap().keys().collect();
        assert_eq!(
            statuses,
            [
                "200", "400", "404", "413", "429", "500", "502", "503", "504"
            ]
        );
        assert!(get.get("parameters").is_none(), "reads need no key");
        assert!(get.get("security").is_none(), "no token configured");
        let place = &doc["paths"]["/v1/venues/v/place"]["post"];
        assert_eq!(place["parameters"][0]["name"], "Idempotency-Key");
        assert_eq!(
            place["parameters"][0]["required"], false,
            "plugins may derive the key from the params"
        );
        assert!(place["responses"].get("409").is_some(), "conflict");
        assert_eq!(
            place["requestBody"]["content"]["application/json"]["schema"],
            json!({"type": "object"}),
            "no schema from the plugin: any object"
        );
    }

    #[test]
    fn with_a_token_every_v1_route_and_the_document_need_it() {
        let doc = document(api(true), &[venue()]);
        for (path, method) in [
            ("/v1/venues/v/get", "post"),
            ("/v1/journal", "get"),
            ("/v1/health", "get"),
            ("/openapi.json", "get"),
        ] {
            let op = &doc["paths"][path][method];
            assert_eq!(op["security"], json!([{"bearer": []}]), "{path}");
            assert!(op["responses"].get("401").is_some(), "{path}");
        }
        assert!(doc["paths"]["/health"]["get"].get("security").is_none());
        assert_eq!(
            doc["components"]["securitySchemes"]["bearer"]["scheme"],
            "bearer"
        );
    }

    #[test]
    fn every_kind_the_api_answers_is_in_the_error_schema() {
        let doc = document(api(false), &[]);
        let kinds = &doc["components"]["schemas"]["Error"]["properties"]["error"]["properties"]["kind"]
            ["enum"];
        for (kind, _) in CallError::KINDS.iter().chain(ROUTE_KINDS) {
            assert!(kinds.as_array().unwrap().contains(&json!(kind)), "{kind}");
        }
    }
}

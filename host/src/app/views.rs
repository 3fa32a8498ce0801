//! What the read-only endpoints report about the host: `/openapi.json`,
//! `/v1/venues`, `/v1/stats` and the two health endpoints.
//!
//! Those that describe plugins read one published snapshot, so a reload in
//! the middle never mixes two versions in one answer; `/v1/stats` reads the
//! venues' lasting state, which a reload keeps.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use serde_json::{Value, json};

use super::App;
use crate::openapi;
use crate::resilience::classify::Outcome;

/// What `/health` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// Every venue asked about can serve.
    Ok,
    /// At least one cannot.
    Degraded,
    /// `?venue=` names no configured venue.
    UnknownVenue,
}

impl App {
    /// `GET /openapi.json`: the API as it is now, with one path per operation
    /// of every venue served (see [`crate::openapi`]).
    pub fn openapi_json(&self) -> Value {
        let loaded = self.loaded();
        let venues: Vec<openapi::VenueSpec<'_>> = loaded
            .venues
            .iter()
            .map(|(name, v)| openapi::VenueSpec {
                name,
                plugin: &v.plugin.name,
                version: &v.plugin.info.version,
                operations: v
                    .plugin
                    .info
                    .operations
                    .iter()
                    .map(|o| openapi::OperationSpec {
                        name: &o.name,
                        summary: &o.summary,
                        mutating: o.mutating,
                        params_schema: &o.params_schema,
                    })
                    .collect(),
            })
            .collect();
        openapi::document(
            openapi::ApiSpec {
                auth: self.auth_token.is_some(),
                metrics: self.metrics.is_some(),
                max_request_bytes: self.config.server.max_request_bytes,
            },
            &venues,
        )
    }

    /// `GET /v1/venues`: each venue's plugin, version, operations and endpoints.
    pub fn venues_json(&self) -> Value {
        let loaded = self.loaded();
        let mut out = serde_json::Map::new();
        for (name, v) in &loaded.venues {
            let p = &v.plugin;
            let ops: Vec<Value> = p
                .info
                .operations
                .iter()
                .map(|o| {
                    json!({
                        "name": o.name,
                        "summary": o.summary,
                        "mutating": o.mutating,
                        "params_schema": serde_json::from_str::<Value>(&o.params_schema).unwrap_or(Value::Null),
                    })
                })
                .collect();
            let endpoints: Vec<Value> = v
                .ctx
                .upstream
                .endpoints()
                .iter()
                .map(|e| {
                    let attempts: BTreeMap<&str, u64> = Outcome::ALL
                        .iter()
                        .map(|o| (o.as_str(), e.attempts(*o)))
                        .collect();
                    json!({
                        "url": e.display,
                        "breaker": e.breaker.state().as_str(),
                        "half_open_in_ms": e.breaker.time_until_half_open().as_millis() as u64,
                        "in_flight": e.active(),
                        "waiting": e.waiting(),
                        "attempts": attempts,
                    })
                })
                .collect();
            let usage: BTreeMap<String, Value> = v
                .ctx
                .usage()
                .into_iter()
                .map(|(k, u)| (k, json!({ "used": u.used, "window_ms": u.window_ms })))
                .collect();
            out.insert(
                name.clone(),
                json!({
                    "status": if p.quarantine.is_active() { "quarantined" } else { "ok" },
                    "plugin": p.name,
                    "version": p.info.version,
                    "wit_version": p.wit_version,
                    "sdk_version": p.info.sdk_version,
                    "operations": ops,
                    "endpoints": endpoints,
                    "instances": {
                        "created": v.pool.instances_created(),
                        "idle": v.pool.idle(),
                        "traps": v.pool.traps(),
                    },
                    "usage": usage,
                    "retries": v.ctx.upstream.stats.retries.load(Ordering::Relaxed),
                    "failovers": v.ctx.upstream.stats.failovers.load(Ordering::Relaxed),
                    "rate_limited": v.ctx.upstream.stats.rate_limited.load(Ordering::Relaxed),
                    "weight_used": v.ctx.upstream.limiter.weight_used(),
                    "blocked_for_ms": v.ctx.upstream.limiter.blocked_for().as_millis() as u64,
                }),
            );
        }
        for (name, reason) in &loaded.broken {
            out.insert(
                name.clone(),
                json!({ "status": "unavailable", "reason": reason }),
            );
        }
        json!({ "venues": out })
    }

    /// `GET /v1/stats`: per venue the call summary, retries and each
    /// endpoint's breaker state with the time until it half-opens.
    pub fn stats_json(&self) -> Value {
        let mut out = serde_json::Map::new();
        for (name, v) in &self.shared {
            let up = &v.ctx.upstream;
            let mut s = v.stats.summary();
            s["retries"] = json!(up.stats.retries.load(Ordering::Relaxed));
            s["failovers"] = json!(up.stats.failovers.load(Ordering::Relaxed));
            s["rate_limited"] = json!(up.stats.rate_limited.load(Ordering::Relaxed));
            s["endpoints"] = up
                .endpoints()
                .iter()
                .map(|e| {
                    json!({
                        "url": e.display,
                        "breaker": e.breaker.state().as_str(),
                        "half_open_in_ms": e.breaker.time_until_half_open().as_millis() as u64,
                    })
                })
                .collect();
            out.insert(name.clone(), s);
        }
        json!({ "venues": out })
    }

    /// `GET /v1/health`: ok when every venue (or the one asked for) can
    /// serve: its plugin loaded and at least one endpoint's breaker is not
    /// open; otherwise each degraded venue with the detailed reason.
    pub fn health(&self, venue: Option<&str>) -> (bool, Value) {
        let (health, body) = self.health_report(venue, true);
        (health == Health::Ok, body)
    }

    /// `/health` (`detailed = false`: unauthenticated, so each degraded venue
    /// gets a short generic status and never a reason, which may name env
    /// vars, files or errors) and `/v1/health` (`detailed = true`).
    ///
    /// | status              | detailed reason |
    /// |---------------------|-----------------|
    /// | `not configured`    | the missing secret (its config key and env var) |
    /// | `plugin not loaded` | the plugin name and folder |
    /// | `quarantined`       | the trap count and window |
    /// | `all circuits open` | when the first endpoint half-opens |
    pub fn health_report(&self, venue: Option<&str>, detailed: bool) -> (Health, Value) {
        let loaded = self.loaded();
        if let Some(v) = venue
            && !loaded.venues.contains_key(v)
            && !loaded.broken.contains_key(v)
        {
            return (
                Health::UnknownVenue,
                json!({ "status": "unknown_venue", "venue": v }),
            );
        }
        let wanted = |name: &str| venue.is_none_or(|v| v == name);
        let mut degraded: BTreeMap<String, String> = BTreeMap::new();
        for (name, reason) in &loaded.broken {
            if !wanted(name) {
                continue;
            }
            let status = if self.unavailable.contains_key(name) {
                "not configured"
            } else {
                "plugin not loaded"
            };
            degraded.insert(
                name.clone(),
                if detailed {
                    reason.clone()
                } else {
                    status.into()
                },
            );
        }
        for (name, v) in &loaded.venues {
            if !wanted(name) {
                continue;
            }
            if v.plugin.quarantine.is_active() {
                degraded.insert(
                    name.clone(),
                    if detailed {
                        v.plugin.quarantine.message()
                    } else {
                        "quarantined".into()
                    },
                );
                continue;
            }
            if v.ctx.upstream.any_endpoint_available() {
                continue;
            }
            let soonest = v
                .ctx
                .upstream
                .endpoints()
                .iter()
                .map(|e| e.breaker.time_until_half_open())
                .min()
                .unwrap_or_default();
            degraded.insert(
                name.clone(),
                if detailed {
                    format!(
                        "every endpoint's circuit is open; the first half-opens in {} ms",
                        soonest.as_millis()
                    )
                } else {
                    "all circuits open".into()
                },
            );
        }
        if degraded.is_empty() {
            (Health::Ok, json!({ "status": "ok" }))
        } else {
            (
                Health::Degraded,
                json!({ "status": "degraded", "venues": degraded }),
            )
        }
    }
}

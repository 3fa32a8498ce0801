//! The assembled host: config, plugins and venues, and the one entry point
//! for a venue call ([`App::call`]) shared by the HTTP API and the CLI.

mod invoke;
mod orders;

pub use invoke::Output;
pub use orders::{MAX_IDEMPOTENCY_KEY, check_idempotency_key};

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde_json::{Value, json};
use tracing::Instrument;

use crate::capabilities::{CallScope, VenueContext};
use crate::config::{Config, ConfigError, Env};
use crate::error::CallError;
use crate::grants::Grants;
use crate::journal::protocol::Protocol;
use crate::journal::{self, Journal};
use crate::metrics::{Metrics, OpMetrics, UNDECLARED, UNKNOWN_VENUE};
use crate::openapi;
use crate::outbound::SecretStore;
use crate::plugin::pool::InstancePool;
use crate::plugin::{LoadError, LoadedPlugin, PluginEngine};
use crate::resilience::classify::Outcome;
use crate::resilience::deadline::Deadline;
use crate::stats::CallStats;
use crate::upstream::Upstream;

/// What a venue keeps across plugin reloads: its upstream (pools, breakers,
/// rate limits), its call statistics and probe counters.
#[derive(Debug)]
pub struct VenueShared {
    pub ctx: Arc<VenueContext>,
    pub deadline: Duration,
    /// `reconcile_settle_ms`: when a reconcile's "not found" becomes proof.
    pub settle: Duration,
    pub stats: CallStats,
    /// Active health probes that succeeded / failed.
    pub probes_ok: AtomicU64,
    pub probes_failed: AtomicU64,
}

/// How often idle plugin instances are looked at for trimming.
pub const IDLE_TRIM_INTERVAL: Duration = Duration::from_secs(10);

/// One configured venue with the plugin version currently serving it.
pub struct VenueRuntime {
    pub name: String,
    pub plugin: Arc<LoadedPlugin>,
    /// What the plugin declared it does with secrets and usage counters.
    pub grants: Arc<Grants>,
    pub pool: InstancePool,
    /// Per declared operation metric handles (empty with metrics off).
    ops: HashMap<String, OpMetrics>,
    /// Handles for calls naming an undeclared operation.
    undeclared: Option<OpMetrics>,
    shared: Arc<VenueShared>,
}

impl VenueRuntime {
    /// The scope of one call on this venue, finishing by `deadline`.
    pub fn scope(&self, deadline: Deadline) -> CallScope {
        CallScope::new(Arc::clone(&self.ctx), Arc::clone(&self.grants), deadline)
    }
}

impl std::ops::Deref for VenueRuntime {
    type Target = VenueShared;
    fn deref(&self) -> &VenueShared {
        &self.shared
    }
}

impl std::fmt::Debug for VenueRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VenueRuntime")
            .field("name", &self.name)
            .field("plugin", &self.plugin.name)
            .finish()
    }
}

/// The plugins and venues serving right now. Replaced whole by a reload;
/// a call holds the `Arc` it started with, so in-flight calls finish on the
/// version they began on.
#[derive(Debug, Default)]
pub struct Loaded {
    pub plugins: BTreeMap<String, Arc<LoadedPlugin>>,
    pub load_errors: Vec<LoadError>,
    pub venues: BTreeMap<String, Arc<VenueRuntime>>,
    /// Venues that cannot serve (their plugin did not load), and why.
    pub broken: BTreeMap<String, String>,
}

/// The live snapshot, shared with the metrics collector.
pub type Live = Arc<RwLock<Arc<Loaded>>>;

/// The running host.
pub struct App {
    pub config: Config,
    pub engine: PluginEngine,
    live: Live,
    shared: BTreeMap<String, Arc<VenueShared>>,
    /// Venues that cannot be built at all (a secret is missing), and why.
    unavailable: BTreeMap<String, String>,
    pub auth_token: Option<String>,
    /// `None` when `server.metrics = false`.
    pub metrics: Option<Metrics>,
    unknown_venue: Option<OpMetrics>,
    reloading: tokio::sync::Mutex<()>,
    /// The journal of mutating calls (embedded store or PostgreSQL).
    pub journal: Arc<Journal>,
    /// The journal protocol over it (at most one order per key).
    protocol: Protocol,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let l = self.loaded();
        f.debug_struct("App")
            .field("plugins", &l.plugins.keys().collect::<Vec<_>>())
            .field("venues", &l.venues.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// Why the host could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{0}")]
    Other(String),
}

/// The longest a reload may take before it gives up and the previous
/// plugins keep serving: a backstop over the per-plugin load bounds, so the
/// reload lock is never held longer.
pub const RELOAD_LIMIT: Duration = crate::plugin::LOAD_LIMIT.saturating_mul(2);

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

/// What a reload did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ReloadReport {
    /// Plugins now serving, with the hash of their file.
    pub loaded: BTreeMap<String, String>,
    /// Files that failed to load, and why.
    pub errors: Vec<String>,
    /// Plugins whose new file failed: the previous version keeps serving.
    pub kept_previous: Vec<String>,
    /// Venues that cannot serve after the reload.
    pub broken: BTreeMap<String, String>,
}

impl App {
    /// Load plugins and build every venue. A venue whose plugin is missing is
    /// kept in [`Loaded::broken`] (reported by `/health` and `check`), so the
    /// other venues still serve.
    pub async fn build(config: Config, env: &Env) -> Result<App, StartupError> {
        let auth_token = match &config.server.auth_token_env {
            None => None,
            Some(var) => {
                let token = env
                    .iter()
                    .find(|(k, _)| k == var)
                    .map(|(_, v)| v.clone())
                    .filter(|t| !t.is_empty());
                Some(token.ok_or_else(|| {
                    ConfigError::new(
                        "server.auth_token_env",
                        format!("environment variable {var} is not set or empty"),
                    )
                })?)
            }
        };
        // Room in the pooling allocator for every venue's instances twice
        // (old and new versions overlap during a reload), plus the
        // short-lived ones used to describe plugins at load.
        let slots = (config.venues.len() as u32 * 2 + 2) * config.plugins.max_instances() + 16;
        let engine = PluginEngine::new(&config.plugins, slots)
            .map_err(|e| StartupError::Other(format!("{e:#}")))?;
        let mut metrics = config.server.metrics.then(Metrics::new);
        let journal = Arc::new(open_journal(&config, env).await?);
        tracing::info!(backend = journal.backend(), "journal ready");

        // Venue state that outlives plugin versions. A venue whose secrets
        // are missing cannot serve, but does not stop the others.
        let mut shared = BTreeMap::new();
        let mut unavailable = BTreeMap::new();
        for (name, vc) in &config.venues {
            let venue_secrets = match config.resolve_venue_secrets(name, env) {
                Ok(s) => s,
                Err(e) => {
                    tracing::error!(venue = %name, error = %e, "venue unavailable: a secret is missing");
                    unavailable.insert(name.clone(), e.to_string());
                    continue;
                }
            };
            let limits = config.plugins.limits_for(&vc.plugin);
            let upstream = Upstream::new(name, vc, &venue_secrets, limits.max_response_bytes)
                .map_err(|e| StartupError::Other(format!("{e:#}")))?;
            let bound = vc
                .secrets
                .iter()
                .filter_map(|(secret, src)| {
                    let eps = src.endpoints.as_ref()?;
                    let idx = vc
                        .endpoints
                        .iter()
                        .enumerate()
                        .filter(|(_, e)| eps.contains(e))
                        .map(|(i, _)| i)
                        .collect();
                    Some((secret.clone(), idx))
                })
                .collect();
            let ctx = VenueContext::new(
                name,
                &vc.plugin,
                vc.settings.clone(),
                SecretStore::new(venue_secrets, bound),
                Arc::new(upstream),
                limits,
            );
            shared.insert(
                name.clone(),
                Arc::new(VenueShared {
                    ctx: Arc::new(ctx),
                    deadline: Duration::from_millis(vc.deadline_ms),
                    settle: Duration::from_millis(
                        vc.reconcile_settle_ms
                            .unwrap_or(vc.timeout_ms.saturating_add(10_000)),
                    ),
                    stats: CallStats::default(),
                    probes_ok: AtomicU64::new(0),
                    probes_failed: AtomicU64::new(0),
                }),
            );
        }

        let cache_dir = config.cache_dir();
        let (plugins, load_errors) = engine.load_dir(&config.plugins.dir, Some(&cache_dir)).await;
        for (name, vc) in &config.venues {
            if let (Some(probe), Some(plugin)) = (&vc.health_probe, plugins.get(&vc.plugin))
                && plugin.operation(&probe.operation).is_none()
            {
                return Err(ConfigError::new(
                    format!("venues.{name}.health_probe.operation"),
                    format!(
                        "plugin {} has no operation {:?}",
                        plugin.name, probe.operation
                    ),
                )
                .into());
            }
        }
        let unknown_venue = metrics.as_ref().map(|m| m.op(UNKNOWN_VENUE, UNDECLARED));
        let live: Live = Arc::new(RwLock::new(Arc::new(Loaded::default())));
        if let Some(m) = &mut metrics {
            m.register_collector(Arc::clone(&live), Arc::clone(&journal));
        }
        let app = App {
            config,
            engine,
            live,
            shared,
            unavailable,
            auth_token,
            metrics,
            unknown_venue,
            reloading: tokio::sync::Mutex::new(()),
            protocol: Protocol::new(Arc::clone(&journal)),
            journal,
        };
        let loaded = app.assemble(plugins, load_errors, None);
        app.publish(loaded);
        Ok(app)
    }

    /// The plugins and venues serving now.
    pub fn loaded(&self) -> Arc<Loaded> {
        Arc::clone(&self.live.read().unwrap_or_else(|e| e.into_inner()))
    }

    fn publish(&self, loaded: Loaded) {
        *self.live.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(loaded);
    }

    /// Pair every configured venue with its plugin. A venue whose plugin is
    /// unchanged since `previous` keeps its warm instances.
    fn assemble(
        &self,
        plugins: BTreeMap<String, Arc<LoadedPlugin>>,
        load_errors: Vec<LoadError>,
        previous: Option<&Loaded>,
    ) -> Loaded {
        let mut venues = BTreeMap::new();
        let mut broken = BTreeMap::new();
        for (name, vc) in &self.config.venues {
            if let Some(reason) = self.unavailable.get(name) {
                broken.insert(name.clone(), reason.clone());
                continue;
            }
            let Some(plugin) = plugins.get(&vc.plugin) else {
                let loaded: Vec<&str> = plugins.keys().map(String::as_str).collect();
                let reason = format!(
                    "venues.{name}.plugin: no plugin named {:?} in {} (loaded: {})",
                    vc.plugin,
                    self.config.plugins.dir.display(),
                    if loaded.is_empty() {
                        "none".to_string()
                    } else {
                        loaded.join(", ")
                    }
                );
                tracing::error!(venue = %name, "{reason}");
                broken.insert(name.clone(), reason);
                continue;
            };
            if let Some(prev) = previous.and_then(|p| p.venues.get(name))
                && Arc::ptr_eq(&prev.plugin, plugin)
            {
                venues.insert(name.clone(), Arc::clone(prev));
                continue;
            }
            let Some(shared) = self.shared.get(name) else {
                continue;
            };
            let grants = match Grants::from_info(&plugin.info) {
                Ok(g) => g,
                Err(e) => {
                    let reason = format!("plugin {} {e}", plugin.name);
                    tracing::error!(venue = %name, "{reason}");
                    broken.insert(name.clone(), reason);
                    continue;
                }
            };
            let (ops, undeclared) = match &self.metrics {
                Some(m) => (
                    plugin
                        .info
                        .operations
                        .iter()
                        .map(|o| (o.name.clone(), m.op(name, &o.name)))
                        .collect(),
                    Some(m.op(name, UNDECLARED)),
                ),
                None => (HashMap::new(), None),
            };
            venues.insert(
                name.clone(),
                Arc::new(VenueRuntime {
                    name: name.clone(),
                    plugin: Arc::clone(plugin),
                    grants: Arc::new(grants),
                    pool: plugin.new_pool(),
                    ops,
                    undeclared,
                    shared: Arc::clone(shared),
                }),
            );
        }
        Loaded {
            plugins,
            load_errors,
            venues,
            broken,
        }
    }

    /// Reload the plugins folder. New versions take new calls while calls in
    /// flight finish on the old ones; a file that fails to load leaves its
    /// previous version serving; unchanged files come from the compiled
    /// cache; quarantines are lifted (every plugin gets a fresh instance pool).
    ///
    /// Bounded like start-up (plugins load in parallel, each within its
    /// compile and describe limits), and as a whole by [`RELOAD_LIMIT`]:
    /// past it nothing changes and the report says so. One reload runs at a
    /// time; another waits for it.
    pub async fn reload(&self) -> ReloadReport {
        let _one_at_a_time = self.reloading.lock().await;
        let old = self.loaded();
        let cache_dir = self.config.cache_dir();
        let loading = self
            .engine
            .load_dir(&self.config.plugins.dir, Some(&cache_dir));
        let Ok((mut plugins, errors)) = tokio::time::timeout(RELOAD_LIMIT, loading).await else {
            let error = format!(
                "{}: reload did not finish within {} s; the previous plugins keep serving",
                self.config.plugins.dir.display(),
                RELOAD_LIMIT.as_secs()
            );
            tracing::error!("{error}");
            return ReloadReport {
                loaded: old
                    .plugins
                    .iter()
                    .map(|(n, p)| (n.clone(), p.sha256.clone()))
                    .collect(),
                errors: vec![error],
                kept_previous: old.plugins.keys().cloned().collect(),
                broken: old.broken.clone(),
            };
        };
        let mut kept_previous = Vec::new();
        for e in &errors {
            if let Some(prev) = old.plugins.values().find(|p| p.file == e.file)
                && !plugins.contains_key(&prev.name)
            {
                tracing::warn!(plugin = %prev.name, file = %e.file.display(), reason = %e.reason, "new version failed to load; the previous version keeps serving");
                plugins.insert(prev.name.clone(), Arc::clone(prev));
                kept_previous.push(prev.name.clone());
            }
        }
        let loaded = self.assemble(plugins, errors, Some(&old));
        let report = ReloadReport {
            loaded: loaded
                .plugins
                .iter()
                .map(|(n, p)| (n.clone(), p.sha256.clone()))
                .collect(),
            errors: loaded.load_errors.iter().map(ToString::to_string).collect(),
            kept_previous,
            broken: loaded.broken.clone(),
        };
        self.publish(loaded);
        tracing::info!(
            plugins = report.loaded.len(),
            errors = report.errors.len(),
            "plugins reloaded"
        );
        report
    }

    /// Call `operation` of `venue` with a JSON object of params.
    pub async fn call(
        &self,
        venue: &str,
        operation: &str,
        params: &Value,
    ) -> Result<Value, CallError> {
        self.call_keyed(venue, operation, params, None).await
    }

    /// [`App::call`] with the caller's idempotency key (the API's
    /// `Idempotency-Key` header). Mutating operations pass it to `prepare`;
    /// read-only ones ignore it (they are safe to repeat).
    pub async fn call_keyed(
        &self,
        venue: &str,
        operation: &str,
        params: &Value,
        idempotency_key: Option<&str>,
    ) -> Result<Value, CallError> {
        self.call_output(venue, operation, params, idempotency_key)
            .await
            .map(Output::into_value)
    }

    /// [`App::call_keyed`], with the result as checked JSON text (what the
    /// API answers, without building it into a tree).
    pub async fn call_output(
        &self,
        venue: &str,
        operation: &str,
        params: &Value,
        idempotency_key: Option<&str>,
    ) -> Result<Output, CallError> {
        let loaded = self.loaded();
        let Some(v) = loaded.venues.get(venue) else {
            let err = match loaded.broken.get(venue) {
                Some(reason) => CallError::Plugin(reason.clone()),
                None => CallError::UnknownVenue(venue.to_string()),
            };
            if let Some(m) = &self.unknown_venue {
                m.record(err.kind(), 0.0);
            }
            return Err(err);
        };
        let Some(op) = v.plugin.operation(operation) else {
            if let Some(m) = &v.undeclared {
                m.record("unknown_operation", 0.0);
            }
            return Err(CallError::UnknownOperation {
                venue: venue.to_string(),
                operation: operation.to_string(),
            });
        };
        if !params.is_object() {
            return Err(CallError::InvalidParams(
                "params must be a JSON object".into(),
            ));
        }

        let span = tracing::info_span!("call", venue = %venue, operation = %operation);
        let started = tokio::time::Instant::now();
        let deadline = Deadline::after(v.deadline);
        let work = async {
            // The declared schema first: malformed params never reach a plugin.
            v.plugin
                .params
                .check(operation, params)
                .map_err(CallError::InvalidParams)?;
            if op.mutating {
                self.order(v, operation, params, idempotency_key, deadline)
                    .await
                    .map(|value| Output::from_value(&value))
            } else {
                invoke::read(v, operation, &params.to_string(), deadline).await
            }
        };
        // A journaled call runs on in its own task past this timeout, and
        // records its outcome; only the caller stops waiting.
        let result = match tokio::time::timeout(v.deadline, work.instrument(span.clone())).await {
            Ok(r) => r,
            Err(_) => Err(CallError::Timeout(format!(
                "call did not finish within the venue deadline of {} ms",
                v.deadline.as_millis()
            ))),
        };
        let took = started.elapsed();
        let outcome = match &result {
            Ok(_) => Ok(()),
            Err(e) => Err(e.kind()),
        };
        if let Some(m) = v.ops.get(operation) {
            m.record(outcome.err().unwrap_or("success"), took.as_secs_f64());
        }
        v.stats.record(outcome, took);
        let ms = took.as_secs_f64() * 1000.0;
        span.in_scope(|| match &result {
            Ok(_) if self.config.server.access_log => tracing::info!(ms, "call ok"),
            Ok(_) => tracing::debug!(ms, "call ok"),
            Err(e) => tracing::warn!(ms, kind = e.kind(), error = %e, "call failed"),
        });
        result
    }

    /// Start the configured active health probes. Each runs its operation
    /// every `interval_ms`; the requests go through the venue's pipeline, so a
    /// failing probe counts against the endpoint breakers like any call.
    pub fn spawn_health_probes(self: &Arc<Self>) -> Vec<tokio::task::JoinHandle<()>> {
        let mut tasks = Vec::new();
        for (name, vc) in &self.config.venues {
            let (Some(probe), true) = (vc.health_probe.clone(), self.shared.contains_key(name))
            else {
                continue;
            };
            let app = Arc::downgrade(self);
            let name = name.clone();
            tasks.push(tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_millis(probe.interval_ms));
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                loop {
                    tick.tick().await;
                    // Stop when the host is gone.
                    let Some(app) = app.upgrade() else { break };
                    let result = app.call(&name, &probe.operation, &probe.params).await;
                    let Some(v) = app.shared.get(&name) else { break };
                    match result {
                        Ok(_) => {
                            v.probes_ok.fetch_add(1, Ordering::Relaxed);
                            tracing::debug!(venue = %name, operation = %probe.operation, "health probe ok");
                        }
                        Err(e) => {
                            v.probes_failed.fetch_add(1, Ordering::Relaxed);
                            tracing::warn!(venue = %name, operation = %probe.operation, kind = e.kind(), error = %e, "health probe failed");
                        }
                    }
                }
            }));
        }
        tasks
    }

    /// Drop every venue's idle plugin instances unused for their
    /// `idle_instance_ms`, every [`IDLE_TRIM_INTERVAL`], so a burst's
    /// instances are freed even when no call comes after it; when any were
    /// dropped since the last tick, give the freed heap back to the
    /// operating system ([`crate::heap`]).
    pub fn spawn_idle_trimmer(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let app = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(IDLE_TRIM_INTERVAL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(app) = app.upgrade() else { break };
                let mut dropped = 0;
                for venue in app.loaded().venues.values() {
                    venue.pool.trim_idle();
                    dropped += venue.pool.take_trimmed();
                }
                drop(app);
                if dropped > 0 {
                    let released = tokio::task::spawn_blocking(crate::heap::release).await;
                    tracing::debug!(
                        dropped,
                        released = released.unwrap_or(false),
                        "heap released after trimming idle instances"
                    );
                }
            }
        })
    }

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

/// The PostgreSQL journal when `journal.url_env` is set, else the embedded store.
async fn open_journal(config: &Config, env: &Env) -> Result<Journal, StartupError> {
    match &config.journal.url_env {
        Some(var) => {
            let url = env
                .iter()
                .find(|(k, _)| k == var)
                .map(|(_, v)| v.clone())
                .filter(|v| !v.is_empty())
                .ok_or_else(|| {
                    ConfigError::new(
                        "journal.url_env",
                        format!("environment variable {var} is not set or empty"),
                    )
                })?;
            journal::postgres::PgJournal::connect_with_ca(
                &url,
                config.journal.pool,
                config.journal.tls_ca_file.as_deref(),
            )
            .await
            .map(Journal::Postgres)
            .map_err(|e| ConfigError::new("journal.url_env", e.to_string()).into())
        }
        None => {
            let path = config.journal.embedded_path();
            journal::sqlite::SqliteJournal::open(&path)
                .map(Journal::Sqlite)
                .map_err(|e| ConfigError::new("journal.path", e.to_string()).into())
        }
    }
}

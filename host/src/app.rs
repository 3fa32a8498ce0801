//! The assembled host: config, plugins and venues, and the one entry point
//! for a venue call ([`App::call`]) shared by the HTTP API and the CLI.

mod background;
mod invoke;
mod loading;
mod orders;
mod record;
mod startup;
mod views;

pub use background::IDLE_TRIM_INTERVAL;
pub use invoke::Output;
pub use loading::{RELOAD_LIMIT, ReloadReport};
pub use orders::{MAX_IDEMPOTENCY_KEY, check_idempotency_key};
pub use record::CANCELLED;
pub use startup::StartupError;
pub use views::Health;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde_json::Value;
use tracing::Instrument;

use crate::capabilities::{CallScope, VenueContext};
use crate::config::Config;
use crate::error::CallError;
use crate::grants::Grants;
use crate::journal::Journal;
use crate::journal::protocol::Protocol;
use crate::metrics::{Metrics, OpMetrics};
use crate::plugin::pool::InstancePool;
use crate::plugin::{LoadError, LoadedPlugin, PluginEngine};
use crate::resilience::deadline::Deadline;
use crate::stats::CallStats;
use record::CallRecord;

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

impl App {
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
        let record = CallRecord::start(v, operation, span.clone(), self.config.server.access_log);
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
        let result = match tokio::time::timeout(v.deadline, work.instrument(span)).await {
            Ok(r) => r,
            Err(_) => Err(CallError::Timeout(format!(
                "call did not finish within the venue deadline of {} ms",
                v.deadline.as_millis()
            ))),
        };
        record.finish(&result);
        result
    }
}

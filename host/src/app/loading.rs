//! Which plugin version serves each venue: pairing venues with the loaded
//! plugins at start-up and on every reload, and publishing the result.
//!
//! Invariant: a published [`Loaded`] is never changed, only replaced whole.
//! A call holds the `Arc` it started with, so a reload never changes the
//! plugin, grants or instance pool under a call in flight.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use super::{App, Loaded, VenueRuntime};
use crate::grants::Grants;
use crate::metrics::UNDECLARED;
use crate::plugin::{LoadError, LoadedPlugin};

/// The longest a reload may take before it gives up and the previous
/// plugins keep serving: a backstop over the per-plugin load bounds, so the
/// reload lock is never held longer.
pub const RELOAD_LIMIT: Duration = crate::plugin::LOAD_LIMIT.saturating_mul(2);

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
    /// The plugins and venues serving now.
    pub fn loaded(&self) -> Arc<Loaded> {
        Arc::clone(&self.live.read().unwrap_or_else(|e| e.into_inner()))
    }

    pub(super) fn publish(&self, loaded: Loaded) {
        *self.live.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(loaded);
    }

    /// Pair every configured venue with its plugin. A venue whose plugin is
    /// unchanged since `previous` keeps its warm instances.
    pub(super) fn assemble(
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
                let reason = self.no_such_plugin(name, &vc.plugin, &plugins);
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
            match self.venue_runtime(name, plugin) {
                Some(Ok(runtime)) => {
                    venues.insert(name.clone(), Arc::new(runtime));
                }
                Some(Err(reason)) => {
                    tracing::error!(venue = %name, "{reason}");
                    broken.insert(name.clone(), reason);
                }
                None => {}
            }
        }
        Loaded {
            plugins,
            load_errors,
            venues,
            broken,
        }
    }

    /// Venue `name` served by `plugin`, with a fresh instance pool; `None`
    /// for a venue with no lasting state (it is in `unavailable`), an error
    /// when the plugin's declared grants are refused.
    fn venue_runtime(
        &self,
        name: &str,
        plugin: &Arc<LoadedPlugin>,
    ) -> Option<Result<VenueRuntime, String>> {
        let shared = self.shared.get(name)?;
        let grants = match Grants::from_info(&plugin.info) {
            Ok(g) => g,
            Err(e) => return Some(Err(format!("plugin {} {e}", plugin.name))),
        };
        // Metric handles resolved once per venue and operation, not per call.
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
        Some(Ok(VenueRuntime {
            name: name.to_string(),
            plugin: Arc::clone(plugin),
            grants: Arc::new(grants),
            pool: plugin.new_pool(),
            ops,
            undeclared,
            shared: Arc::clone(shared),
        }))
    }

    /// Why venue `name` cannot serve: its plugin `wanted` is not among those
    /// loaded.
    fn no_such_plugin(
        &self,
        name: &str,
        wanted: &str,
        plugins: &BTreeMap<String, Arc<LoadedPlugin>>,
    ) -> String {
        let loaded: Vec<&str> = plugins.keys().map(String::as_str).collect();
        format!(
            "venues.{name}.plugin: no plugin named {wanted:?} in {} (loaded: {})",
            self.config.plugins.dir.display(),
            if loaded.is_empty() {
                "none".to_string()
            } else {
                loaded.join(", ")
            }
        )
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
                loaded: file_hashes(&old.plugins),
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
            loaded: file_hashes(&loaded.plugins),
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
}

/// Each plugin's name with the SHA-256 of its file.
fn file_hashes(plugins: &BTreeMap<String, Arc<LoadedPlugin>>) -> BTreeMap<String, String> {
    plugins
        .iter()
        .map(|(n, p)| (n.clone(), p.sha256.clone()))
        .collect()
}

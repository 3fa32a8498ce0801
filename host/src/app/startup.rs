//! Building the host from its config: the journal, each venue's lasting
//! state (upstream, secrets, statistics), then the plugins.
//!
//! A venue that cannot be built (a secret is missing) is recorded and
//! reported by `/health`; it does not stop the others. What cannot be
//! ignored (a config error, a journal that cannot open, a health probe
//! naming no operation) stops start-up with a [`StartupError`].

use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use super::{App, Live, Loaded, VenueShared};
use crate::capabilities::VenueContext;
use crate::config::{Config, ConfigError, Env, Secret, VenueConfig};
use crate::journal::protocol::Protocol;
use crate::journal::{self, Journal};
use crate::metrics::{Metrics, UNDECLARED, UNKNOWN_VENUE};
use crate::outbound::SecretStore;
use crate::plugin::{LoadedPlugin, PluginEngine};
use crate::stats::CallStats;
use crate::upstream::Upstream;

/// Why the host could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{0}")]
    Other(String),
}

impl App {
    /// Load plugins and build every venue. A venue whose plugin is missing is
    /// kept in [`Loaded::broken`] (reported by `/health` and `check`), so the
    /// other venues still serve.
    pub async fn build(config: Config, env: &Env) -> Result<App, StartupError> {
        let auth_token = match &config.server.auth_token_env {
            None => None,
            Some(var) => Some(required_env(env, var, "server.auth_token_env")?),
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

        // Venue state that outlives plugin versions.
        let mut shared = BTreeMap::new();
        let mut unavailable = BTreeMap::new();
        for (name, vc) in &config.venues {
            match config.resolve_venue_secrets(name, env) {
                Ok(secrets) => {
                    shared.insert(name.clone(), venue_shared(&config, name, vc, secrets)?);
                }
                Err(e) => {
                    tracing::error!(venue = %name, error = %e, "venue unavailable: a secret is missing");
                    unavailable.insert(name.clone(), e.to_string());
                }
            }
        }

        let cache_dir = config.cache_dir();
        let (plugins, load_errors) = engine.load_dir(&config.plugins.dir, Some(&cache_dir)).await;
        check_probe_operations(&config, &plugins)?;
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
}

/// One venue's state that outlives plugin versions: its upstream (pools,
/// breakers, rate limits) holding its secrets, and its counters.
fn venue_shared(
    config: &Config,
    name: &str,
    vc: &VenueConfig,
    secrets: BTreeMap<String, Secret>,
) -> Result<Arc<VenueShared>, StartupError> {
    let limits = config.plugins.limits_for(&vc.plugin);
    let upstream = Upstream::new(name, vc, &secrets, limits.max_response_bytes)
        .map_err(|e| StartupError::Other(format!("{e:#}")))?;
    let ctx = VenueContext::new(
        name,
        &vc.plugin,
        vc.settings.clone(),
        SecretStore::new(secrets, endpoint_bound_secrets(vc)),
        Arc::new(upstream),
        limits,
    );
    Ok(Arc::new(VenueShared {
        ctx: Arc::new(ctx),
        deadline: Duration::from_millis(vc.deadline_ms),
        settle: Duration::from_millis(
            vc.reconcile_settle_ms
                .unwrap_or(vc.timeout_ms.saturating_add(10_000)),
        ),
        stats: CallStats::default(),
        probes_ok: AtomicU64::new(0),
        probes_failed: AtomicU64::new(0),
    }))
}

/// Each secret bound to some of the venue's endpoints, with the indexes of
/// those endpoints: the only places a plugin may send its bytes in a header.
/// The binding is the secret's `endpoints = [...]` when it has one. A secret
/// without one that endpoint URLs use (`${secret:NAME}`, a provider's key in
/// its URL) is bound to those endpoints: it is that provider's key, and a
/// plugin declaring the same name as a header secret must not hand it to
/// another provider of the venue.
fn endpoint_bound_secrets(vc: &VenueConfig) -> BTreeMap<String, Vec<usize>> {
    vc.secrets
        .iter()
        .filter_map(|(secret, src)| {
            let idx: Vec<usize> = match &src.endpoints {
                Some(bound) => vc
                    .endpoints
                    .iter()
                    .enumerate()
                    .filter(|(_, e)| bound.contains(e))
                    .map(|(i, _)| i)
                    .collect(),
                None => {
                    let idx: Vec<usize> = vc
                        .endpoints
                        .iter()
                        .enumerate()
                        .filter(|(_, e)| url_uses_secret(e, secret))
                        .map(|(i, _)| i)
                        .collect();
                    if idx.is_empty() {
                        return None;
                    }
                    idx
                }
            };
            Some((secret.clone(), idx))
        })
        .collect()
}

/// Whether the endpoint URL template `url` fills in the secret `name`.
fn url_uses_secret(url: &str, name: &str) -> bool {
    crate::endpoint_secrets::pieces(url).is_ok_and(|pieces| {
        pieces
            .iter()
            .any(|p| matches!(p, crate::endpoint_secrets::Piece::Secret(n) if *n == name))
    })
}

/// A configured health probe must name an operation its venue's plugin has.
fn check_probe_operations(
    config: &Config,
    plugins: &BTreeMap<String, Arc<LoadedPlugin>>,
) -> Result<(), ConfigError> {
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
            ));
        }
    }
    Ok(())
}

/// The value of environment variable `var`, which config key `key` names;
/// unset or empty is an error naming both.
fn required_env(env: &Env, var: &str, key: &str) -> Result<String, ConfigError> {
    env.iter()
        .find(|(k, _)| k == var)
        .map(|(_, v)| v.clone())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            ConfigError::new(
                key,
                format!("environment variable {var} is not set or empty"),
            )
        })
}

/// The PostgreSQL journal when `journal.url_env` is set, else the embedded store.
async fn open_journal(config: &Config, env: &Env) -> Result<Journal, StartupError> {
    match &config.journal.url_env {
        Some(var) => {
            let url = required_env(env, var, "journal.url_env")?;
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

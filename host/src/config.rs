//! Configuration: load (TOML or JSON), environment overrides, `[defaults]`
//! inheritance, and validation that names the bad key.
//!
//! Loading happens in three steps, each on a plain JSON tree so that every
//! error can name the exact key:
//!
//! 1. parse the file (TOML, or JSON when the file name ends in `.json`);
//! 2. apply `RESILIENCE_`-prefixed environment overrides (`__` between levels:
//!    `RESILIENCE_VENUES__TON__TIMEOUT_MS=60000` sets `venues.ton.timeout_ms`);
//!    values are read as TOML literals (`60000`, `true`, `["a"]`) and fall back
//!    to strings; variables without `__` (like `RESILIENCE_TOKEN`) are not overrides;
//! 3. merge `[defaults]` under each venue (the venue's keys win, tables merge
//!    key by key), then deserialize into typed structs with unknown keys refused.
//!
//! Secrets are resolved last (from `env` or `file`) and held only in memory.

mod layers;
mod secrets;
mod validate;

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::listen::ListenAddr;
use serde_json::{Map, Value};

/// A configuration error that names the key (or file) at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {message}")]
pub struct ConfigError {
    /// Dotted path of the offending key (`venues.ton.retry.max_attempts`), or the file.
    pub key: String,
    /// What is wrong with it.
    pub message: String,
}

impl ConfigError {
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            key: key.into(),
            message: message.into(),
        }
    }
}

/// The whole configuration, after inheritance and validation.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub server: ServerConfig,
    #[serde(default)]
    pub plugins: PluginsConfig,
    #[serde(default)]
    pub journal: JournalConfig,
    /// Kept only so that `deny_unknown_fields` accepts the table; its keys are
    /// merged into every venue before this struct is built.
    #[serde(default, rename = "defaults")]
    _defaults: Option<Value>,
    #[serde(default)]
    pub venues: BTreeMap<String, VenueConfig>,
    /// Where the config was read from (for relative paths and messages).
    #[serde(skip)]
    pub source: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// `127.0.0.1:8080` or `unix:/path/to/socket` ([`crate::listen`]).
    #[serde(default = "default_listen")]
    pub listen: ListenAddr,
    /// Name of the environment variable holding the bearer token for `/v1/*`.
    pub auth_token_env: Option<String>,
    /// Largest accepted API request body.
    #[serde(default = "default_max_request_bytes")]
    pub max_request_bytes: usize,
    /// Record and serve Prometheus metrics at `/metrics`.
    #[serde(default = "default_true")]
    pub metrics: bool,
    /// One `info` line per successful call (venue, operation, ms). Off by
    /// default: at thousands of calls a second the log would cost more than
    /// the call; failures are logged at `warn` either way, and `RUST_LOG=debug`
    /// shows every call.
    #[serde(default)]
    pub access_log: bool,
}

fn default_true() -> bool {
    true
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: default_listen(),
            auth_token_env: None,
            max_request_bytes: default_max_request_bytes(),
            metrics: true,
            access_log: false,
        }
    }
}

fn default_listen() -> ListenAddr {
    ListenAddr::Tcp(SocketAddr::from(([127, 0, 0, 1], 8080)))
}
fn default_max_request_bytes() -> usize {
    1024 * 1024
}

/// Where plugins come from and the sandbox limits every plugin runs under.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginsConfig {
    #[serde(default = "default_plugins_dir")]
    pub dir: PathBuf,
    /// Compiled-component cache; default `<dir>/.compiled`.
    pub cache_dir: Option<PathBuf>,
    #[serde(default)]
    pub limits: PluginLimits,
    /// Per-plugin limits (by plugin name), over `limits`.
    #[serde(default)]
    pub overrides: BTreeMap<String, PluginLimitsOverride>,
    /// SHA-256 pins by file stem (`ton` for `ton.wasm`): a file whose hash
    /// differs is refused before any of its code runs.
    #[serde(default)]
    pub pins: BTreeMap<String, String>,
}

impl Default for PluginsConfig {
    fn default() -> Self {
        Self {
            dir: default_plugins_dir(),
            cache_dir: None,
            limits: PluginLimits::default(),
            overrides: BTreeMap::new(),
            pins: BTreeMap::new(),
        }
    }
}

impl PluginsConfig {
    /// The limits of plugin `name`: `limits` with its override applied.
    pub fn limits_for(&self, name: &str) -> PluginLimits {
        let mut l = self.limits;
        if let Some(o) = self.overrides.get(name) {
            o.apply(&mut l);
        }
        l
    }

    /// The largest memory any plugin may use (sizes the allocator's slots).
    pub fn max_memory_mib(&self) -> u32 {
        self.overrides
            .values()
            .filter_map(|o| o.memory_mib)
            .fold(self.limits.memory_mib, u32::max)
    }

    /// The most instances any venue may hold.
    pub fn max_instances(&self) -> u32 {
        self.overrides
            .values()
            .filter_map(|o| o.max_instances)
            .fold(self.limits.max_instances, u32::max)
    }
}

/// Per-plugin overrides of [`PluginLimits`]; absent keys keep the default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginLimitsOverride {
    pub memory_mib: Option<u32>,
    pub cpu_ms: Option<u64>,
    pub max_instances: Option<u32>,
    pub max_calls_per_instance: Option<u32>,
    pub max_response_bytes: Option<usize>,
    pub max_call_response_bytes: Option<usize>,
    pub max_request_bytes: Option<usize>,
    pub max_output_bytes: Option<usize>,
    pub quarantine_after_traps: Option<u32>,
    pub quarantine_window_ms: Option<u64>,
    pub idle_instance_ms: Option<u64>,
    pub max_waiting_instances: Option<u32>,
}

impl PluginLimitsOverride {
    fn apply(&self, l: &mut PluginLimits) {
        if let Some(v) = self.memory_mib {
            l.memory_mib = v;
        }
        if let Some(v) = self.cpu_ms {
            l.cpu_ms = v;
        }
        if let Some(v) = self.max_instances {
            l.max_instances = v;
        }
        if let Some(v) = self.max_calls_per_instance {
            l.max_calls_per_instance = v;
        }
        if let Some(v) = self.max_response_bytes {
            l.max_response_bytes = v;
        }
        if let Some(v) = self.max_call_response_bytes {
            l.max_call_response_bytes = v;
        }
        if let Some(v) = self.max_request_bytes {
            l.max_request_bytes = v;
        }
        if let Some(v) = self.max_output_bytes {
            l.max_output_bytes = v;
        }
        if let Some(v) = self.quarantine_after_traps {
            l.quarantine_after_traps = v;
        }
        if let Some(v) = self.quarantine_window_ms {
            l.quarantine_window_ms = v;
        }
        if let Some(v) = self.idle_instance_ms {
            l.idle_instance_ms = v;
        }
        if let Some(v) = self.max_waiting_instances {
            l.max_waiting_instances = v;
        }
    }
}

fn default_plugins_dir() -> PathBuf {
    PathBuf::from("target/plugins")
}

/// Per-plugin sandbox limits. Defaults suit a venue adapter: small memory,
/// short CPU bursts between host calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PluginLimits {
    /// Linear memory per instance, MiB.
    pub memory_mib: u32,
    /// Guest CPU time per call in milliseconds (time inside the plugin, not
    /// counting time waiting for the host's `send`).
    pub cpu_ms: u64,
    /// Warm instances kept per venue; callers beyond it wait.
    pub max_instances: u32,
    /// An instance is retired after this many calls (bounds slow leaks).
    pub max_calls_per_instance: u32,
    /// Largest upstream response body handed to a plugin.
    pub max_response_bytes: usize,
    /// Largest total of the response bodies one `send-all` holds at once.
    pub max_call_response_bytes: usize,
    /// Largest request body a plugin may send.
    pub max_request_bytes: usize,
    /// Largest result a plugin may return from one call.
    pub max_output_bytes: usize,
    /// Largest `.wasm` file accepted at load.
    pub max_component_bytes: u64,
    /// A plugin whose calls trap this many times within `quarantine_window_ms`
    /// is quarantined: its calls fail fast until the plugins are reloaded.
    /// 0 turns quarantine off.
    pub quarantine_after_traps: u32,
    pub quarantine_window_ms: u64,
    /// A warm instance unused this long is dropped, so the memory a burst
    /// needed is given back when the burst is over. 0 keeps them.
    pub idle_instance_ms: u64,
    /// Instances of a venue that may wait on the venue in the middle of a
    /// call. A read-only call that would be one more gives its instance back
    /// while the venue answers and is resumed by replay (`plugin::resume`);
    /// 0: reads never hold an instance across a venue wait.
    pub max_waiting_instances: u32,
}

impl Default for PluginLimits {
    fn default() -> Self {
        Self {
            memory_mib: 64,
            cpu_ms: 1_000,
            max_instances: 16,
            max_calls_per_instance: 10_000,
            max_response_bytes: 16 * 1024 * 1024,
            max_call_response_bytes: 32 * 1024 * 1024,
            max_request_bytes: 4 * 1024 * 1024,
            max_output_bytes: 4 * 1024 * 1024,
            max_component_bytes: 32 * 1024 * 1024,
            quarantine_after_traps: 5,
            quarantine_window_ms: 60_000,
            idle_instance_ms: 60_000,
            max_waiting_instances: 16,
        }
    }
}

/// The journal of mutating operations (see `journal`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JournalConfig {
    /// Environment variable with a PostgreSQL URL; without it the embedded store is used.
    pub url_env: Option<String>,
    /// File of the embedded store (default `resilience-journal.db`).
    pub path: Option<PathBuf>,
    /// PEM file of the CA that signed the database's certificate, for
    /// `sslmode=require` URLs (the Mozilla roots are trusted as well).
    pub tls_ca_file: Option<PathBuf>,
    #[serde(default)]
    pub pool: DbPoolConfig,
    /// Days `succeeded` and `failed` entries are kept (`pending` and
    /// `in_doubt` ones are never deleted).
    #[serde(default = "default_retention_days")]
    pub retention_days: u32,
    /// How often the sweeper expires leases, reconciles in-doubt intents
    /// and prunes.
    #[serde(default = "default_sweep_interval_ms")]
    pub sweep_interval_ms: u64,
    /// In-doubt intents reconciled per sweep at most (the sweeper's rate bound).
    #[serde(default = "default_sweep_batch")]
    pub sweep_batch: u32,
}

impl Default for JournalConfig {
    fn default() -> Self {
        Self {
            url_env: None,
            path: None,
            tls_ca_file: None,
            pool: DbPoolConfig::default(),
            retention_days: default_retention_days(),
            sweep_interval_ms: default_sweep_interval_ms(),
            sweep_batch: default_sweep_batch(),
        }
    }
}

fn default_retention_days() -> u32 {
    7
}
fn default_sweep_interval_ms() -> u64 {
    5_000
}
fn default_sweep_batch() -> u32 {
    50
}

impl JournalConfig {
    pub fn embedded_path(&self) -> PathBuf {
        self.path
            .clone()
            .unwrap_or_else(|| PathBuf::from("resilience-journal.db"))
    }
}

/// PostgreSQL pool settings (the seed's: 20 connections, 5 s acquire timeout,
/// 3 retries 500 ms apart, health checks every 60 s, rotation after 1 h).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DbPoolConfig {
    pub max_size: u32,
    pub acquire_timeout_ms: u64,
    pub acquire_retries: u32,
    pub acquire_retry_delay_ms: u64,
    pub max_lifetime_ms: u64,
    pub idle_timeout_ms: u64,
    pub health_check_ms: u64,
    /// A connection idle this long is checked with `SELECT 1` before use.
    pub verify_after_idle_ms: u64,
}

impl Default for DbPoolConfig {
    fn default() -> Self {
        Self {
            max_size: 20,
            acquire_timeout_ms: 5_000,
            acquire_retries: 3,
            acquire_retry_delay_ms: 500,
            max_lifetime_ms: 3_600_000,
            idle_timeout_ms: 300_000,
            health_check_ms: 60_000,
            verify_after_idle_ms: 1_000,
        }
    }
}

/// One venue: its plugin, endpoints, policies, settings and secrets.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VenueConfig {
    pub plugin: String,
    pub endpoints: Vec<String>,
    /// Per attempt: connect, send, and read the whole answer.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// TCP/TLS connect bound; default the smaller of 5 s and `timeout_ms`.
    pub connect_timeout_ms: Option<u64>,
    /// PEM file with a CA to trust for this venue's `https` endpoints, in
    /// addition to the Mozilla roots (a private gateway, a TLS-terminating
    /// proxy, a test venue with its own certificate).
    pub tls_ca_file: Option<PathBuf>,
    #[serde(default = "default_deadline_ms")]
    pub deadline_ms: u64,
    /// Journaled orders: how long after the last possible send a reconcile
    /// lookup's "not found" is still not proof that the venue never took
    /// the order (requests in flight, the venue's clock tolerance such as
    /// Binance's `recvWindow`). Default `timeout_ms` + 10 s.
    pub reconcile_settle_ms: Option<u64>,
    #[serde(default)]
    pub retry: RetryConfig,
    #[serde(default)]
    pub breaker: BreakerConfig,
    #[serde(default)]
    pub pool: PoolConfig,
    #[serde(default)]
    pub rate_limit: RateLimitConfig,
    /// Non-secret settings the plugin reads with `host.config`.
    #[serde(default, deserialize_with = "settings_as_strings")]
    pub settings: BTreeMap<String, String>,
    #[serde(default)]
    pub secrets: BTreeMap<String, SecretSource>,
    /// Optional active health probe: a plugin operation run on an interval;
    /// its requests go through the pipeline, so results feed the breakers.
    pub health_probe: Option<HealthProbeConfig>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthProbeConfig {
    /// A read-only operation the plugin declares (e.g. `get_masterchain_info`).
    pub operation: String,
    /// Its params (a JSON object; default `{}`).
    #[serde(default = "empty_object")]
    pub params: Value,
    #[serde(default = "default_probe_interval_ms")]
    pub interval_ms: u64,
}

fn empty_object() -> Value {
    Value::Object(Map::new())
}
fn default_probe_interval_ms() -> u64 {
    30_000
}

fn default_timeout_ms() -> u64 {
    30_000
}
fn default_deadline_ms() -> u64 {
    60_000
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RetryConfig {
    /// Attempts per request, the first included.
    pub max_attempts: u32,
    pub base_delay_ms: u64,
    pub multiplier: f64,
    pub max_delay_ms: u64,
    /// Fraction of the delay applied symmetrically at random (0.2 = +-20%).
    pub jitter: f64,
    /// Retry budget: retries may add at most this share of recent requests...
    pub budget_ratio: f64,
    /// ...plus this many retries per second...
    pub budget_min_per_sec: u32,
    /// ...over this window.
    pub budget_window_ms: u64,
    /// A venue header holding seconds until its rate window resets, honoured
    /// like `Retry-After` (the longer of the two wins).
    pub reset_header: Option<String>,
    /// JSON-RPC error codes that mean "overloaded" inside a 2xx answer
    /// (`-32005` limit exceeded): such an attempt counts as rate limited.
    pub jsonrpc_overload_codes: Vec<i64>,
    /// Treat a rate-limited attempt (429 or an overload code) as a problem of
    /// that endpoint, not the venue: retry on the next endpoint with the
    /// normal backoff, count it against the endpoint's breaker, and do not
    /// block the whole venue. For providers with separate quotas (JSON-RPC).
    pub failover_on_rate_limit: bool,
}

impl Default for RetryConfig {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            base_delay_ms: 1_000,
            multiplier: 2.0,
            max_delay_ms: 30_000,
            jitter: 0.2,
            budget_ratio: 0.2,
            budget_min_per_sec: 10,
            budget_window_ms: 10_000,
            reset_header: None,
            jsonrpc_overload_codes: Vec::new(),
            failover_on_rate_limit: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BreakerConfig {
    /// Consecutive failures that open the breaker.
    pub failure_threshold: u32,
    /// Probe successes in half-open that close it.
    pub success_threshold: u32,
    /// How long it stays open before admitting a probe.
    pub open_ms: u64,
    /// Optional: also open when this share of the last `window` calls failed
    /// (with at least `min_calls` of them).
    pub failure_rate: Option<f64>,
    pub window: u32,
    pub min_calls: u32,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            failure_threshold: 5,
            success_threshold: 3,
            open_ms: 30_000,
            failure_rate: None,
            window: 20,
            min_calls: 10,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PoolConfig {
    pub max_connections_per_host: u32,
    pub idle_timeout_ms: u64,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            max_connections_per_host: 10,
            idle_timeout_ms: 300_000,
        }
    }
}

/// Local rate limits; absent keys mean no limit of that kind.
#[derive(Debug, Clone, Copy, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimitConfig {
    pub requests_per_second: Option<f64>,
    pub burst: Option<u32>,
    pub weight_per_minute: Option<u32>,
}

/// Where a secret comes from. Its bytes are read at start-up and never logged.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretSource {
    pub env: Option<String>,
    pub file: Option<PathBuf>,
    /// How the value is written: `text` (default, used as is), `base64url` or
    /// `base64` (either alphabet, padded or not), or `hex`; decoded once at
    /// start-up. Polymarket's API secret is base64url and keys its HMAC with
    /// the decoded bytes.
    #[serde(default)]
    pub encoding: SecretEncoding,
    /// For a secret the plugin sends in a header: the venue endpoints (as
    /// written in `endpoints`) it may be sent to; absent = all of them.
    pub endpoints: Option<Vec<String>>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SecretEncoding {
    #[default]
    Text,
    Base64url,
    Base64,
    Hex,
}

impl SecretEncoding {
    fn decode(self, raw: Vec<u8>) -> Result<Vec<u8>, &'static str> {
        use base64::Engine as _;
        match self {
            SecretEncoding::Text => Ok(raw),
            SecretEncoding::Base64url | SecretEncoding::Base64 => {
                let text: String = String::from_utf8(raw)
                    .map_err(|_| "is not base64 text")?
                    .trim()
                    .trim_end_matches('=')
                    .chars()
                    .map(|c| match c {
                        '-' => '+',
                        '_' => '/',
                        c => c,
                    })
                    .collect();
                base64::engine::general_purpose::STANDARD_NO_PAD
                    .decode(text)
                    .map_err(|_| "is not valid base64")
            }
            SecretEncoding::Hex => {
                let text = String::from_utf8(raw).map_err(|_| "is not hex text")?;
                let t = text.trim();
                hex::decode(t.strip_prefix("0x").unwrap_or(t)).map_err(|_| "is not valid hex")
            }
        }
    }
}

impl fmt::Debug for SecretSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretSource")
            .field("env", &self.env)
            .field("file", &self.file)
            .field("encoding", &self.encoding)
            .finish()
    }
}

/// A secret's bytes. `Debug` never prints them.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    pub fn new(bytes: impl Into<Vec<u8>>) -> Self {
        Self(bytes.into())
    }
    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

fn settings_as_strings<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, String>, D::Error> {
    let raw = BTreeMap::<String, Value>::deserialize(d)?;
    raw.into_iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k, s)),
            Value::Number(n) => Ok((k, n.to_string())),
            Value::Bool(b) => Ok((k, b.to_string())),
            other => Err(serde::de::Error::custom(format!(
                "setting `{k}` must be a string, number or boolean, not {other}"
            ))),
        })
        .collect()
}

/// Environment variables as (name, value) pairs, injected for tests.
pub type Env = Vec<(String, String)>;

/// The process environment.
pub fn process_env() -> Env {
    std::env::vars().collect()
}

impl Config {
    /// Read and validate `path` with the process environment.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        Self::load_with_env(path, &process_env())
    }

    /// Read and validate `path`, taking overrides from `env`.
    pub fn load_with_env(path: &Path, env: &Env) -> Result<Config, ConfigError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::new(&file, format!("cannot read config file: {e}")))?;
        let is_json = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"));
        let mut config = Self::parse(&text, is_json, env).map_err(|mut e| {
            if e.key.is_empty() {
                e.key = file.clone();
            }
            e
        })?;
        config.source = Some(path.to_path_buf());
        Ok(config)
    }

    /// Parse config text (TOML, or JSON when `is_json`), apply `env`, validate.
    pub fn parse(text: &str, is_json: bool, env: &Env) -> Result<Config, ConfigError> {
        let mut tree: Value = if is_json {
            serde_json::from_str(text)
                .map_err(|e| ConfigError::new("", format!("invalid JSON: {e}")))?
        } else {
            let table: toml::Table = toml::from_str(text)
                .map_err(|e| ConfigError::new("", format!("invalid TOML: {e}")))?;
            serde_json::to_value(table)
                .map_err(|e| ConfigError::new("", format!("unsupported TOML value: {e}")))?
        };
        if !tree.is_object() {
            return Err(ConfigError::new("", "the config must be a table/object"));
        }
        layers::apply_env_overrides(&mut tree, env)?;
        layers::inherit_defaults(&mut tree)?;
        let config: Config = serde_path_to_error::deserialize(tree).map_err(|e| {
            let key = e.path().to_string();
            let key = if key == "." { String::new() } else { key };
            ConfigError::new(key, e.into_inner().to_string())
        })?;
        config.validate()?;
        Ok(config)
    }

    /// The compiled-component cache folder.
    pub fn cache_dir(&self) -> PathBuf {
        self.plugins
            .cache_dir
            .clone()
            .unwrap_or_else(|| self.plugins.dir.join(".compiled"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#"
[defaults]
timeout_ms = 30000
retry = { max_attempts = 3, base_delay_ms = 1000 }

[venues.ton]
plugin = "ton"
endpoints = ["https://toncenter.com/api/v2"]
retry = { max_attempts = 5 }
"#;

    fn env(pairs: &[(&str, &str)]) -> Env {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn venue_inherits_defaults_key_by_key() {
        let c = Config::parse(BASE, false, &env(&[])).unwrap();
        let ton = &c.venues["ton"];
        assert_eq!(ton.retry.max_attempts, 5, "venue's own key wins");
        assert_eq!(ton.retry.base_delay_ms, 1000, "inherited from [defaults]");
        assert_eq!(ton.retry.max_delay_ms, 30_000, "built-in default");
        assert_eq!(ton.timeout_ms, 30_000);
    }

    #[test]
    fn env_override_sets_nested_key() {
        let e = env(&[
            ("RESILIENCE_VENUES__TON__TIMEOUT_MS", "45000"),
            ("RESILIENCE_VENUES__TON__RETRY__MAX_ATTEMPTS", "7"),
            ("RESILIENCE_SERVER__LISTEN", "127.0.0.1:9999"),
            ("RESILIENCE_TOKEN", "not-an-override"),
        ]);
        let c = Config::parse(BASE, false, &e).unwrap();
        assert_eq!(c.venues["ton"].timeout_ms, 45_000);
        assert_eq!(c.venues["ton"].retry.max_attempts, 7);
        assert_eq!(c.venues["ton"].retry.base_delay_ms, 1000);
        assert_eq!(c.server.listen.to_string(), "127.0.0.1:9999");
    }

    #[test]
    fn env_override_of_settings_stays_a_string() {
        let e = env(&[("RESILIENCE_VENUES__TON__SETTINGS__RECV_WINDOW_MS", "5000")]);
        let c = Config::parse(BASE, false, &e).unwrap();
        assert_eq!(c.venues["ton"].settings["recv_window_ms"], "5000");
    }

    fn err_key(text: &str) -> ConfigError {
        Config::parse(text, false, &env(&[])).unwrap_err()
    }

    #[test]
    fn unknown_key_is_named() {
        let e = err_key(&format!("{BASE}\ntimeout = 5\n"));
        assert_eq!(e.key, "venues.ton.timeout");
        assert!(e.message.contains("unknown field `timeout`"), "{e}");
    }

    #[test]
    fn wrong_type_is_named() {
        let e = err_key(&BASE.replace("max_attempts = 5", "max_attempts = \"five\""));
        assert_eq!(e.key, "venues.ton.retry.max_attempts");
        assert!(e.message.contains("invalid type"), "{e}");
    }

    #[test]
    fn empty_endpoints_is_named() {
        let e = err_key(&BASE.replace(r#"["https://toncenter.com/api/v2"]"#, "[]"));
        assert_eq!(e.key, "venues.ton.endpoints");
    }

    #[test]
    fn bad_endpoint_url_is_named_with_index() {
        let e = err_key(&BASE.replace("https://toncenter.com/api/v2", "ftp://x"));
        assert_eq!(e.key, "venues.ton.endpoints[0]");
    }

    #[test]
    fn unknown_defaults_key_is_named() {
        let e = err_key(&format!("{BASE}\n[defaults.nope]\nx = 1\n"));
        assert_eq!(e.key, "defaults.nope");
    }

    #[test]
    fn bad_plugin_limits_are_named_in_the_base_and_in_an_override() {
        let e = err_key(&format!("[plugins.limits]\nmax_instances = 0\n{BASE}"));
        assert_eq!(e.key, "plugins.limits.max_instances");
        for (key, value) in [
            ("memory_mib", "0"),
            ("memory_mib", "5000"),
            ("max_instances", "2000"),
            ("cpu_ms", "0"),
            ("max_calls_per_instance", "0"),
        ] {
            let e = err_key(&format!("[plugins.overrides.ton]\n{key} = {value}\n{BASE}"));
            assert_eq!(
                e.key,
                format!("plugins.overrides.ton.{key}"),
                "{key} = {value}"
            );
        }
        let ok = format!("[plugins.overrides.ton]\nmemory_mib = 256\nmax_instances = 64\n{BASE}");
        let c = Config::parse(&ok, false, &env(&[])).unwrap();
        assert_eq!(c.plugins.limits_for("ton").max_instances, 64);
    }

    #[test]
    fn zero_attempts_is_named() {
        let e = err_key(&BASE.replace("max_attempts = 5", "max_attempts = 0"));
        assert_eq!(e.key, "venues.ton.retry.max_attempts");
    }

    #[test]
    fn deadline_shorter_than_timeout_is_named() {
        let e = err_key(&format!("{BASE}deadline_ms = 10\n"));
        assert_eq!(e.key, "venues.ton.deadline_ms");
    }

    #[test]
    fn missing_plugin_key_is_named() {
        let e = err_key("[venues.x]\nendpoints = [\"http://127.0.0.1:1\"]\n");
        assert_eq!(e.key, "venues.x");
        assert!(e.message.contains("missing field `plugin`"), "{e}");
    }

    #[test]
    fn secret_from_env_resolves_and_missing_env_is_named_without_value() {
        let text = format!("{BASE}secrets = {{ api_key = {{ env = \"TON_KEY\" }} }}\n");
        let c = Config::parse(&text, false, &env(&[])).unwrap();
        let s = c.resolve_secrets(&env(&[("TON_KEY", "s3cr3t")])).unwrap();
        assert_eq!(s["ton"]["api_key"].expose(), b"s3cr3t");
        assert_eq!(format!("{:?}", s["ton"]["api_key"]), "Secret(<redacted>)");
        let e = c.resolve_secrets(&env(&[])).unwrap_err();
        assert_eq!(e.key, "venues.ton.secrets.api_key");
        assert!(e.message.contains("TON_KEY"));
    }

    #[test]
    fn encoded_secrets_are_decoded_at_load_and_bad_ones_named() {
        let text = format!(
            "{BASE}secrets = {{ a = {{ env = \"A\", encoding = \"base64url\" }}, b = {{ env = \"B\", encoding = \"hex\" }} }}\n"
        );
        let c = Config::parse(&text, false, &env(&[])).unwrap();
        // "-_8" is base64url for 0xfb 0xff; unpadded and padded both work.
        let s = c
            .resolve_secrets(&env(&[("A", "-_8="), ("B", "0x00ff")]))
            .unwrap();
        assert_eq!(s["ton"]["a"].expose(), &[0xfb, 0xff]);
        assert_eq!(s["ton"]["b"].expose(), &[0x00, 0xff]);
        let s = c
            .resolve_secrets(&env(&[("A", "+/8"), ("B", "00ff")]))
            .unwrap();
        assert_eq!(
            s["ton"]["a"].expose(),
            &[0xfb, 0xff],
            "standard alphabet too"
        );
        let e = c
            .resolve_secrets(&env(&[("A", "!!!"), ("B", "00")]))
            .unwrap_err();
        assert_eq!(e.key, "venues.ton.secrets.a");
        assert!(!e.message.contains("!!!"), "never echoes the value");
    }

    #[test]
    fn json_config_reads_the_same_keys() {
        let json = r#"{"venues":{"ton":{"plugin":"ton","endpoints":["http://127.0.0.1:9"],"timeout_ms":1000,"deadline_ms":2000}}}"#;
        let c = Config::parse(json, true, &env(&[])).unwrap();
        assert_eq!(c.venues["ton"].timeout_ms, 1000);
    }

    #[test]
    fn a_retention_of_zero_days_is_refused() {
        let text = format!("{BASE}\n[journal]\nretention_days = 0\n");
        let e = Config::parse(&text, false, &env(&[])).unwrap_err();
        assert_eq!(e.key, "journal.retention_days", "{e}");
        let text = format!("{BASE}\n[journal]\nretention_days = 1\n");
        assert_eq!(
            Config::parse(&text, false, &env(&[]))
                .unwrap()
                .journal
                .retention_days,
            1
        );
    }

    #[test]
    fn a_binding_to_an_unknown_endpoint_is_shown_redacted() {
        let text = r#"
[venues.eth]
plugin = "chainlink"
endpoints = ["https://mainnet.infura.io/v3/9aa3d95b3bc440fa88ea12eaa4456161"]
secrets = { k = { env = "K", endpoints = ["https://mainnet.infura.io/v3/9aa3d95b3bc440fa88ea12eaa4456161/"] } }
"#;
        let e = Config::parse(text, false, &env(&[])).unwrap_err();
        assert_eq!(e.key, "venues.eth.secrets.k.endpoints", "{e}");
        let shown = e.to_string();
        assert!(shown.contains("mainnet.infura.io"), "{shown}");
        assert!(!shown.contains("9aa3d95b3bc440fa"), "{shown}");
    }
}

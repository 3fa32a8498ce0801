//! The plugin runtime: one wasmtime engine, a linker offering WASI (empty)
//! and our `host` interface, loading of every `*.wasm` in the plugins folder,
//! and a warm instance pool per venue.
//!
//! Engine choices, and why:
//! - `concurrency_support(false)`: we do not use component-model async, and
//!   leaving it on costs ~5x per call;
//! - epoch interruption with a 1 ms ticker thread: a guest that runs long
//!   yields to tokio at each tick and is stopped once its CPU budget is spent;
//! - the pooling allocator, sized from the config: instantiation is then a
//!   few microseconds, and memory per instance is capped up front.

pub mod bindings;
pub mod cache;
pub mod pool;
pub mod quarantine;
pub mod state;
pub mod ticker;
pub mod version;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};
use wasmtime::component::{HasSelf, Linker};
use wasmtime::{
    Config as EngineConfig, Engine, InstanceAllocationStrategy, PoolingAllocationConfig,
};

use self::bindings::{Info, Venue, VenuePre};
use self::pool::{Call, InstancePool, Reply};
use self::quarantine::Quarantine;
use self::state::StoreState;
use self::ticker::EpochTicker;
use crate::config::{PluginLimits, PluginsConfig};

/// How often the epoch advances; the granularity of CPU deadlines.
pub const EPOCH_TICK: Duration = Duration::from_millis(1);

/// A plugin file that could not be loaded, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    pub file: PathBuf,
    pub reason: String,
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.file.display(), self.reason)
    }
}

/// A plugin that loaded: its compiled form and what it says about itself.
pub struct LoadedPlugin {
    pub name: String,
    pub file: PathBuf,
    pub sha256: String,
    pub size: u64,
    pub wit_version: String,
    pub info: Info,
    pub imports: Vec<String>,
    pre: VenuePre<StoreState>,
    /// This plugin's limits (`plugins.limits` with its override).
    pub limits: PluginLimits,
    /// Shared by every venue using the plugin.
    pub quarantine: Arc<Quarantine>,
    ticker: EpochTicker,
}

impl std::fmt::Debug for LoadedPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedPlugin")
            .field("name", &self.name)
            .field("file", &self.file)
            .field("wit_version", &self.wit_version)
            .finish()
    }
}

impl LoadedPlugin {
    /// A new warm pool of this plugin's instances (one per venue).
    pub fn new_pool(&self) -> InstancePool {
        InstancePool::new(
            &self.name,
            self.pre.clone(),
            self.limits,
            Arc::clone(&self.quarantine),
            self.ticker.clone(),
        )
    }

    /// Whether `operation` is declared by the plugin.
    pub fn operation(&self, operation: &str) -> Option<&bindings::Operation> {
        self.info.operations.iter().find(|o| o.name == operation)
    }
}

/// The engine and linker shared by every plugin.
pub struct PluginEngine {
    engine: Engine,
    linker: Linker<StoreState>,
    config: PluginsConfig,
    ticker: EpochTicker,
}

impl std::fmt::Debug for PluginEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginEngine")
            .field("limits", &self.config.limits)
            .finish()
    }
}

impl PluginEngine {
    /// An engine whose pooling allocator has room for `instance_slots`
    /// instances at once (the sum of every venue's `max_instances`, plus slack).
    pub fn new(config: &PluginsConfig, instance_slots: u32) -> anyhow::Result<Self> {
        Self::with_fuel(config, instance_slots, false)
    }

    /// An engine that meters fuel (for `plugins check`; metering slows calls).
    pub fn with_fuel(
        config: &PluginsConfig,
        instance_slots: u32,
        fuel: bool,
    ) -> anyhow::Result<Self> {
        let mut cfg = EngineConfig::new();
        cfg.consume_fuel(fuel);
        cfg.concurrency_support(false);
        cfg.epoch_interruption(true);
        cfg.wasm_component_model(true);
        cfg.max_wasm_stack(1 << 20);

        let slots = instance_slots.max(4);
        let mut pooling = PoolingAllocationConfig::default();
        // A wasm32-wasip2 Rust component holds a few core instances (the
        // program, the WASI adapter, shims), each with memories and tables.
        pooling
            .total_component_instances(slots)
            .total_core_instances(slots * 8)
            .total_memories(slots * 4)
            .total_tables(slots * 8)
            .total_stacks(slots)
            .max_memory_size((config.max_memory_mib() as usize) << 20);
        cfg.allocation_strategy(InstanceAllocationStrategy::Pooling(pooling));

        let engine =
            Engine::new(&cfg).map_err(|e| anyhow::anyhow!("creating the wasm engine: {e}"))?;
        let ticker = EpochTicker::spawn(&engine);

        let mut linker: Linker<StoreState> = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)
            .map_err(|e| anyhow::anyhow!("linking WASI: {e}"))?;
        Venue::add_to_linker::<_, HasSelf<StoreState>>(&mut linker, |s| s)
            .map_err(|e| anyhow::anyhow!("linking the host interface: {e}"))?;
        Ok(Self {
            engine,
            linker,
            config: config.clone(),
            ticker,
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Load every `*.wasm` in `dir`. Files that fail are reported, the rest load.
    pub async fn load_dir(
        &self,
        dir: &Path,
        cache_dir: Option<&Path>,
    ) -> (BTreeMap<String, Arc<LoadedPlugin>>, Vec<LoadError>) {
        let mut plugins = BTreeMap::new();
        let mut errors = Vec::new();
        let mut files: Vec<PathBuf> = match std::fs::read_dir(dir) {
            Ok(rd) => rd
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|e| e == "wasm"))
                .collect(),
            Err(e) => {
                errors.push(LoadError {
                    file: dir.to_path_buf(),
                    reason: format!("cannot read the plugins folder: {e}"),
                });
                return (plugins, errors);
            }
        };
        files.sort();
        for file in files {
            match self.load_file(&file, cache_dir).await {
                Ok(p) => {
                    if let Some(prev) = plugins.get(&p.name) {
                        let prev: &Arc<LoadedPlugin> = prev;
                        errors.push(LoadError {
                            file: file.clone(),
                            reason: format!(
                                "plugin name {:?} is already taken by {}",
                                p.name,
                                prev.file.display()
                            ),
                        });
                        continue;
                    }
                    plugins.insert(p.name.clone(), Arc::new(p));
                }
                Err(reason) => {
                    tracing::error!(file = %file.display(), %reason, "plugin not loaded");
                    errors.push(LoadError { file, reason });
                }
            }
        }
        (plugins, errors)
    }

    /// Load, check and describe one plugin file.
    pub async fn load_file(
        &self,
        file: &Path,
        cache_dir: Option<&Path>,
    ) -> Result<LoadedPlugin, String> {
        let meta = std::fs::metadata(file).map_err(|e| format!("cannot read: {e}"))?;
        let defaults = self.config.limits;
        if meta.len() > defaults.max_component_bytes {
            return Err(format!(
                "component is {} bytes, over the limit of {} (plugins.limits.max_component_bytes)",
                meta.len(),
                defaults.max_component_bytes
            ));
        }
        let wasm = std::fs::read(file).map_err(|e| format!("cannot read: {e}"))?;
        let sha256 = hex::encode(Sha256::digest(&wasm));
        // Integrity pins are checked before any of the file's code runs.
        let stem = file
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        if let Some(pin) = self.config.pins.get(stem)
            && !pin.eq_ignore_ascii_case(&sha256)
        {
            return Err(format!(
                "SHA-256 mismatch: plugins.pins.{stem} expects {}, the file is {sha256}",
                pin.to_ascii_lowercase()
            ));
        }
        let started = std::time::Instant::now();
        let (component, source) = cache::load_or_compile(&self.engine, &wasm, &sha256, cache_dir)
            .map_err(|e| format!("not a valid component: {e:#}"))?;
        let wit_version = version::wit_version(&self.engine, &component)?;
        version::check(&wit_version)?;
        let imports: Vec<String> = component
            .component_type()
            .imports(&self.engine)
            .map(|(n, _)| n.to_string())
            .collect();
        let instance_pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(|e| format!("imports something this host does not offer: {e:#}"))?;
        let pre = VenuePre::new(instance_pre)
            .map_err(|e| format!("does not export the venue adapter: {e:#}"))?;
        // Ask the plugin who it is, under the default limits.
        let probe = InstancePool::new(
            "(loading)",
            pre.clone(),
            defaults,
            Arc::new(Quarantine::new("(loading)", 0, Duration::ZERO)),
            self.ticker.clone(),
        );
        let info = match probe
            .run(None, Call::Describe, Duration::from_secs(5))
            .await
        {
            Ok(Reply::Info(info)) => info,
            Ok(other) => return Err(format!("describe returned {other:?}")),
            Err(e) => return Err(format!("describe failed: {e}")),
        };
        validate_info(&info)?;
        tracing::info!(
            plugin = %info.name,
            version = %info.version,
            wit = %wit_version,
            file = %file.display(),
            compiled = ?source,
            ms = started.elapsed().as_millis() as u64,
            "plugin loaded"
        );
        let limits = self.config.limits_for(&info.name);
        Ok(LoadedPlugin {
            name: info.name.clone(),
            file: file.to_path_buf(),
            sha256,
            size: meta.len(),
            wit_version,
            quarantine: Arc::new(Quarantine::new(
                &info.name,
                limits.quarantine_after_traps,
                Duration::from_millis(limits.quarantine_window_ms),
            )),
            ticker: self.ticker.clone(),
            info,
            imports,
            pre,
            limits,
        })
    }
}

fn validate_info(info: &Info) -> Result<(), String> {
    let valid = |s: &str| {
        !s.is_empty()
            && s.len() <= 64
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    };
    if !valid(&info.name) {
        return Err(format!(
            "describe returned an invalid plugin name {:?} (letters, digits, '-', '_'; at most 64)",
            info.name
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    for op in &info.operations {
        if !valid(&op.name) {
            return Err(format!("invalid operation name {:?}", op.name));
        }
        if !seen.insert(op.name.as_str()) {
            return Err(format!("operation {:?} is declared twice", op.name));
        }
        if serde_json::from_str::<serde_json::Value>(&op.params_schema).is_err() {
            return Err(format!(
                "operation {:?} has a params schema that is not JSON",
                op.name
            ));
        }
    }
    Ok(())
}

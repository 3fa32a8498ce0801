//! The plugin runtime: one wasmtime engine, a linker offering the least WASI
//! a plugin's `std` needs (see `state`) and our `host` interface, loading of
//! every `*.wasm` in the plugins folder, and a warm instance pool per venue.
//!
//! Invariant: no plugin stalls the host. Every guest entry has a CPU budget
//! and a wall-clock limit (`pool`); loading is bounded per plugin
//! ([`COMPILE_LIMIT`] for reading and compiling, off the async workers;
//! [`DESCRIBE_LIMIT`] for `describe`), runs [`load_concurrency`] plugins at
//! once, and a plugin that is slow or hangs is refused with its file and the
//! limit it passed while the others load. A read resumed by replay
//! (`resume`) is several guest entries, each bounded alike, at most
//! [`resume::MAX_PARKS`] + 1 of them per call.
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
pub mod defaults;
pub mod params;
pub mod pool;
pub mod quarantine;
pub mod resume;
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

/// Wall-clock limit of `describe` at load (instantiation included). Would be
/// `plugins.limits.describe_ms`.
pub const DESCRIBE_LIMIT: Duration = Duration::from_secs(5);

/// Longest reading, hashing and compiling one plugin file may take (a cold
/// compile of a 32 MiB component in a debug host takes tens of seconds).
/// The compile thread cannot be interrupted: past the limit its result is
/// dropped and the plugin refused.
pub const COMPILE_LIMIT: Duration = Duration::from_secs(60);

/// The longest loading one plugin may take.
pub const LOAD_LIMIT: Duration = COMPILE_LIMIT.saturating_add(DESCRIBE_LIMIT);

/// Plugins loaded at once: one per core, at most 4 (compiling is parallel
/// inside wasmtime already; this bounds the threads and instances in use).
pub fn load_concurrency() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 4)
}

/// The WASI interfaces linked for plugins (any 0.2 version). A component
/// that imports any other `wasi:` interface (files, sockets) is refused at
/// load, naming it.
pub const GRANTED_WASI: &[&str] = &[
    "wasi:io/error",
    "wasi:io/poll",
    "wasi:io/streams",
    "wasi:clocks/wall-clock",
    "wasi:clocks/monotonic-clock",
    "wasi:random/random",
    "wasi:random/insecure",
    "wasi:random/insecure-seed",
    "wasi:cli/environment",
    "wasi:cli/exit",
    "wasi:cli/stdin",
    "wasi:cli/stdout",
    "wasi:cli/stderr",
    "wasi:cli/terminal-input",
    "wasi:cli/terminal-output",
    "wasi:cli/terminal-stdin",
    "wasi:cli/terminal-stdout",
    "wasi:cli/terminal-stderr",
];

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
    /// The operations' params schemas, compiled: every call is checked first.
    pub params: params::ParamsSchemas,
    /// The default `[venues.NAME]` section the plugin ships ([`defaults`]).
    pub venue_defaults: Option<String>,
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

/// The engine and linker shared by every plugin; cheap to clone.
#[derive(Clone)]
pub struct PluginEngine {
    inner: Arc<EngineInner>,
}

struct EngineInner {
    engine: Engine,
    linker: Linker<StoreState>,
    config: PluginsConfig,
    ticker: EpochTicker,
}

impl std::fmt::Debug for PluginEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginEngine")
            .field("limits", &self.inner.config.limits)
            .finish()
    }
}

/// A plugin file read, pinned and compiled, not yet run.
struct Compiled {
    sha256: String,
    size: u64,
    wit_version: String,
    imports: Vec<String>,
    pre: VenuePre<StoreState>,
    source: cache::Source,
    venue_defaults: Option<String>,
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
        // A store keeps its fiber stack until it is dropped; the stack goes
        // back to the pool then. Zeroing it there (an madvise, nothing per
        // call) gives the pages a burst touched back to the system when the
        // pool trims its instances, and leaves nothing the host computed on
        // that stack (a signature's key pads, say) in memory once the
        // instance is gone.
        cfg.async_stack_zeroing(true);

        let slots = instance_slots.max(4);
        let mut pooling = PoolingAllocationConfig::default();
        // A wasm32-wasip2 Rust component holds a few core instances (the
        // program, the WASI adapter, shims), each with memories and tables.
        // Each store is limited to its slot's share, so no plugin can take
        // the slots of another's instances.
        let slots_of = |per_instance: usize| slots.saturating_mul(per_instance as u32);
        pooling
            .total_component_instances(slots)
            .total_core_instances(slots_of(state::MAX_CORE_INSTANCES))
            .total_memories(slots_of(state::MAX_MEMORIES))
            .total_tables(slots_of(state::MAX_TABLES))
            .total_stacks(slots)
            .max_memory_size((config.max_memory_mib() as usize) << 20);
        cfg.allocation_strategy(InstanceAllocationStrategy::Pooling(pooling));

        let engine =
            Engine::new(&cfg).map_err(|e| anyhow::anyhow!("creating the wasm engine: {e}"))?;
        let ticker = EpochTicker::spawn(&engine);

        let mut linker: Linker<StoreState> = Linker::new(&engine);
        link_least_wasi(&mut linker).map_err(|e| anyhow::anyhow!("linking WASI: {e}"))?;
        // The getter marks each venue import call, so that a call stopped
        // while pending is known to have waited on the venue (see `pool`).
        Venue::add_to_linker::<_, HasSelf<StoreState>>(
            &mut linker,
            StoreState::entered_venue_import,
        )
        .map_err(|e| anyhow::anyhow!("linking the host interface: {e}"))?;
        Ok(Self {
            inner: Arc::new(EngineInner {
                engine,
                linker,
                config: config.clone(),
                ticker,
            }),
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// Load every `*.wasm` in `dir`, [`load_concurrency`] at a time. Files
    /// that fail (or pass [`COMPILE_LIMIT`] or [`DESCRIBE_LIMIT`]) are
    /// reported, the rest load; this returns within about [`LOAD_LIMIT`]
    /// per batch whatever the plugins do. When two files name the same
    /// plugin, the first by file name wins.
    pub async fn load_dir(
        &self,
        dir: &Path,
        cache_dir: Option<&Path>,
    ) -> (BTreeMap<String, Arc<LoadedPlugin>>, Vec<LoadError>) {
        let mut plugins = BTreeMap::new();
        let mut errors = Vec::new();
        let listed = {
            let dir = dir.to_path_buf();
            tokio::task::spawn_blocking(move || list_wasm(&dir)).await
        };
        let files = match listed {
            Ok(Ok(files)) => files,
            Ok(Err(e)) => {
                errors.push(LoadError {
                    file: dir.to_path_buf(),
                    reason: format!("cannot read the plugins folder: {e}"),
                });
                return (plugins, errors);
            }
            Err(e) => {
                errors.push(LoadError {
                    file: dir.to_path_buf(),
                    reason: format!("listing the plugins folder failed: {e}"),
                });
                return (plugins, errors);
            }
        };
        let slots = Arc::new(tokio::sync::Semaphore::new(load_concurrency()));
        let mut tasks = tokio::task::JoinSet::new();
        for (i, file) in files.iter().enumerate() {
            let (engine, slots, file) = (self.clone(), Arc::clone(&slots), file.clone());
            let cache_dir = cache_dir.map(Path::to_path_buf);
            tasks.spawn(async move {
                // The semaphore is never closed.
                let _slot = slots.acquire_owned().await.ok();
                (i, engine.load_file(&file, cache_dir.as_deref()).await)
            });
        }
        let mut results: Vec<Option<Result<LoadedPlugin, String>>> =
            files.iter().map(|_| None).collect();
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok((i, r)) => results[i] = Some(r),
                Err(e) => tracing::error!(error = %e, "a plugin load task failed"),
            }
        }
        for (file, result) in files.into_iter().zip(results) {
            let result =
                result.unwrap_or_else(|| Err("loading failed (the load task panicked)".into()));
            match result {
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

    /// Load, check and describe one plugin file: reading and compiling run
    /// on a blocking thread within [`COMPILE_LIMIT`], `describe` within
    /// [`DESCRIBE_LIMIT`].
    pub async fn load_file(
        &self,
        file: &Path,
        cache_dir: Option<&Path>,
    ) -> Result<LoadedPlugin, String> {
        let started = std::time::Instant::now();
        let compiling = {
            let (inner, file) = (Arc::clone(&self.inner), file.to_path_buf());
            let cache_dir = cache_dir.map(Path::to_path_buf);
            tokio::task::spawn_blocking(move || inner.compile(&file, cache_dir.as_deref()))
        };
        let compiled = match tokio::time::timeout(COMPILE_LIMIT, compiling).await {
            Ok(Ok(r)) => r?,
            Ok(Err(e)) => return Err(format!("compiling failed: {e}")),
            Err(_) => {
                return Err(format!(
                    "reading and compiling took longer than {} s; refused",
                    COMPILE_LIMIT.as_secs()
                ));
            }
        };
        let defaults = self.inner.config.limits;
        // Ask the plugin who it is, under the default limits and the
        // describe wall-clock limit (the name it gives is not known yet).
        let probe_name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "(loading)".into());
        let probe = InstancePool::new(
            &probe_name,
            compiled.pre.clone(),
            defaults,
            Arc::new(Quarantine::new(&probe_name, 0, Duration::ZERO)),
            self.inner.ticker.clone(),
        );
        let info = match probe.run(None, Call::Describe, DESCRIBE_LIMIT).await {
            Ok(Reply::Info(info)) => info,
            Ok(other) => return Err(format!("describe returned {other:?}")),
            Err(e) => return Err(format!("describe failed: {e}")),
        };
        validate_info(&info)?;
        let params = params::ParamsSchemas::compile(&info.operations)?;
        if let Some(text) = &compiled.venue_defaults {
            defaults::check(text, &info.name)?;
        }
        tracing::info!(
            plugin = %info.name,
            version = %info.version,
            wit = %compiled.wit_version,
            file = %file.display(),
            compiled = ?compiled.source,
            ms = started.elapsed().as_millis() as u64,
            "plugin loaded"
        );
        let limits = self.inner.config.limits_for(&info.name);
        Ok(LoadedPlugin {
            name: info.name.clone(),
            file: file.to_path_buf(),
            sha256: compiled.sha256,
            size: compiled.size,
            wit_version: compiled.wit_version,
            quarantine: Arc::new(Quarantine::new(
                &info.name,
                limits.quarantine_after_traps,
                Duration::from_millis(limits.quarantine_window_ms),
            )),
            ticker: self.inner.ticker.clone(),
            info,
            params,
            venue_defaults: compiled.venue_defaults,
            imports: compiled.imports,
            pre: compiled.pre,
            limits,
        })
    }
}

impl EngineInner {
    /// Read, pin-check and compile one file, and check what it imports
    /// (blocking: file I/O and Cranelift).
    fn compile(&self, file: &Path, cache_dir: Option<&Path>) -> Result<Compiled, String> {
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
        let (component, source) = cache::load_or_compile(&self.engine, &wasm, &sha256, cache_dir)
            .map_err(|e| format!("not a valid component: {e:#}"))?;
        // After the compile, so a file that is not a component says so first.
        let venue_defaults = defaults::read(&wasm)?;
        let wit_version = version::wit_version(&self.engine, &component)?;
        version::check(&wit_version)?;
        let imports: Vec<String> = component
            .component_type()
            .imports(&self.engine)
            .map(|(n, _)| n.to_string())
            .collect();
        let refused = not_granted(&imports);
        if !refused.is_empty() {
            return Err(format!(
                "imports {}, which plugins are not granted (WASI for plugins is clocks, \
                 random, stdio and exit; no files, no sockets)",
                refused.join(", ")
            ));
        }
        let instance_pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(|e| format!("imports something this host does not offer: {e:#}"))?;
        let pre = VenuePre::new(instance_pre)
            .map_err(|e| format!("does not export the venue adapter: {e:#}"))?;
        Ok(Compiled {
            sha256,
            size: meta.len(),
            wit_version,
            imports,
            pre,
            source,
            venue_defaults,
        })
    }
}

/// The `*.wasm` files in `dir`, sorted.
fn list_wasm(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "wasm"))
        .collect();
    files.sort();
    Ok(files)
}

/// The `wasi:` imports outside [`GRANTED_WASI`].
fn not_granted(imports: &[String]) -> Vec<String> {
    imports
        .iter()
        .filter(|name| name.starts_with("wasi:"))
        .filter(|name| {
            let unversioned = name.split('@').next().unwrap_or(name);
            !GRANTED_WASI.contains(&unversioned)
        })
        .cloned()
        .collect()
}

/// Link the WASI a plugin's `std` needs: io, clocks, random, and the cli
/// interfaces (stdio, environment, exit, terminals), nothing else.
fn link_least_wasi(linker: &mut Linker<StoreState>) -> wasmtime::Result<()> {
    use wasmtime_wasi::cli::{WasiCli, WasiCliView};
    use wasmtime_wasi::p2::bindings::{cli, random};
    use wasmtime_wasi::random::WasiRandom;

    // io (error, poll, streams), both clocks, random, stdin/stdout/stderr.
    wasmtime_wasi::p2::add_to_linker_proxy_interfaces_async(linker)?;
    let l = linker;
    fn rng(t: &mut StoreState) -> &mut wasmtime_wasi::random::WasiRandomCtx {
        wasmtime_wasi::WasiView::ctx(t).ctx.random()
    }
    random::insecure::add_to_linker::<StoreState, WasiRandom>(l, rng)?;
    random::insecure_seed::add_to_linker::<StoreState, WasiRandom>(l, rng)?;
    cli::environment::add_to_linker::<StoreState, WasiCli>(l, StoreState::cli)?;
    cli::exit::add_to_linker::<StoreState, WasiCli>(l, StoreState::cli)?;
    cli::terminal_input::add_to_linker::<StoreState, WasiCli>(l, StoreState::cli)?;
    cli::terminal_output::add_to_linker::<StoreState, WasiCli>(l, StoreState::cli)?;
    cli::terminal_stdin::add_to_linker::<StoreState, WasiCli>(l, StoreState::cli)?;
    cli::terminal_stdout::add_to_linker::<StoreState, WasiCli>(l, StoreState::cli)?;
    cli::terminal_stderr::add_to_linker::<StoreState, WasiCli>(l, StoreState::cli)?;
    Ok(())
}

/// Most operations one plugin may declare. Each costs the host a compiled
/// params schema, metric series and an OpenAPI path, built at load outside
/// any guest limit, so the count is bounded like the guest's own work.
pub const MAX_OPERATIONS: usize = 256;

/// Longest `summary` of an operation, and longest version text.
pub const MAX_SUMMARY_BYTES: usize = 1024;

/// Longest `params-schema` of an operation.
pub const MAX_SCHEMA_BYTES: usize = 64 * 1024;

fn validate_info(info: &Info) -> Result<(), String> {
    if info.operations.len() > MAX_OPERATIONS {
        return Err(format!(
            "describe returned {} operations; at most {MAX_OPERATIONS}",
            info.operations.len()
        ));
    }
    for (what, text) in [
        ("version", &info.version),
        ("sdk-version", &info.sdk_version),
    ] {
        if text.len() > MAX_SUMMARY_BYTES {
            return Err(format!(
                "describe returned a {what} of {} bytes; at most {MAX_SUMMARY_BYTES}",
                text.len()
            ));
        }
    }
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
        if op.summary.len() > MAX_SUMMARY_BYTES {
            return Err(format!(
                "operation {:?} has a summary of {} bytes; at most {MAX_SUMMARY_BYTES}",
                op.name,
                op.summary.len()
            ));
        }
        if op.params_schema.len() > MAX_SCHEMA_BYTES {
            return Err(format!(
                "operation {:?} has a params schema of {} bytes; at most {MAX_SCHEMA_BYTES}",
                op.name,
                op.params_schema.len()
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::bindings::Operation;

    #[test]
    fn files_and_sockets_are_not_granted() {
        let imports: Vec<String> = [
            "wasi:io/poll@0.2.6",
            "wasi:cli/stderr@0.2.6",
            "wasi:clocks/monotonic-clock@0.2.0",
            "wasi:random/insecure-seed@0.2.6",
            "wasi:filesystem/types@0.2.6",
            "wasi:sockets/tcp@0.2.6",
            "resilience:venue/host@0.2.0",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            not_granted(&imports),
            vec!["wasi:filesystem/types@0.2.6", "wasi:sockets/tcp@0.2.6"]
        );
    }

    fn info(operations: Vec<Operation>) -> Info {
        Info {
            name: "p".into(),
            version: "1.0.0".into(),
            sdk_version: "0.2.1".into(),
            operations,
            secrets: Vec::new(),
            usage_counters: Vec::new(),
        }
    }

    fn op(name: &str, summary: &str, schema: &str) -> Operation {
        Operation {
            name: name.into(),
            summary: summary.into(),
            mutating: false,
            params_schema: schema.into(),
        }
    }

    #[test]
    fn what_describe_returns_is_bounded_before_the_host_builds_on_it() {
        let many = (0..=MAX_OPERATIONS)
            .map(|i| op(&format!("op{i}"), "s", "{}"))
            .collect::<Vec<_>>();
        let e = validate_info(&info(many[..MAX_OPERATIONS].to_vec()));
        assert!(e.is_ok(), "{e:?}");
        let e = validate_info(&info(many)).unwrap_err();
        assert!(e.contains("operations; at most 256"), "{e}");

        let long = "x".repeat(MAX_SUMMARY_BYTES + 1);
        let e = validate_info(&info(vec![op("a", &long, "{}")])).unwrap_err();
        assert!(e.contains("summary of 1025 bytes"), "{e}");
        let schema = format!("{{\"description\":\"{}\"}}", "x".repeat(MAX_SCHEMA_BYTES));
        let e = validate_info(&info(vec![op("a", "s", &schema)])).unwrap_err();
        assert!(e.contains("params schema of"), "{e}");
        let mut i = info(Vec::new());
        i.version = long;
        assert!(
            validate_info(&i)
                .unwrap_err()
                .contains("version of 1025 bytes")
        );
    }

    #[test]
    fn loading_is_bounded() {
        assert!((1..=4).contains(&load_concurrency()));
        assert_eq!(LOAD_LIMIT, COMPILE_LIMIT + DESCRIBE_LIMIT);
    }
}

//! `resilience-host` command line: `serve`, `call`, `plugins`, `check`, `init`, `openapi`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand, ValueEnum};
use resilience_host::config::{self, Config, PluginsConfig};
use resilience_host::grants::Use;
use resilience_host::plugin::bindings::Info;
use resilience_host::plugin::{PluginEngine, defaults};
use resilience_host::{App, api};
use serde_json::{Value, json};

#[derive(Debug, Parser)]
#[command(
    name = "resilience-host",
    version,
    about = "WebAssembly-extensible resilience host for trading venues"
)]
struct Cli {
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Load the config and every *.wasm in the plugins folder, and serve the API.
    Serve {
        #[arg(long)]
        config: PathBuf,
        /// Overrides server.listen (an address, or unix:/path/to/socket).
        #[arg(long)]
        listen: Option<resilience_host::listen::ListenAddr>,
    },
    /// Make one call: result JSON on stdout (exit 0), error JSON on stderr (exit 1).
    Call {
        #[arg(long)]
        config: PathBuf,
        venue: String,
        operation: String,
        /// Params as a JSON object (default `{}`).
        params: Option<String>,
        /// For a mutating operation: the idempotency key (as the API's
        /// `Idempotency-Key` header); repeating the call with it never places
        /// a second order.
        #[arg(long)]
        idempotency_key: Option<String>,
    },
    /// List the loaded plugins, or inspect one file with `plugins check FILE.wasm`.
    Plugins {
        #[arg(long)]
        config: Option<PathBuf>,
        #[command(subcommand)]
        action: Option<PluginsAction>,
    },
    /// Validate the config and plugins; exit non-zero naming the bad key or file.
    Check {
        #[arg(long)]
        config: PathBuf,
    },
    /// Write a commented config from the default venue section each plugin in
    /// the folder ships; every venue whose secrets are set then serves.
    Init {
        /// The plugins folder to read (it becomes `plugins.dir`).
        #[arg(long, default_value = "target/plugins")]
        plugins: PathBuf,
        /// Where to write the config; `-` for stdout.
        #[arg(long, default_value = "resilience.toml")]
        output: PathBuf,
        /// Replace an existing file.
        #[arg(long)]
        force: bool,
    },
    /// Print the OpenAPI 3.1 description of the API this config serves (as
    /// `GET /openapi.json`): one path per operation of every venue.
    Openapi {
        #[arg(long)]
        config: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum PluginsAction {
    /// Inspect one plugin file without a config.
    Check { file: PathBuf },
    /// Print the default venue section plugin NAME ships.
    Config {
        name: String,
        /// The plugins folder.
        #[arg(long, default_value = "target/plugins")]
        dir: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // Colour codes only for a terminal: a log file or a collector gets plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .init(),
    }
}

async fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Serve { config, listen } => serve(&config, listen).await,
        Command::Call {
            config,
            venue,
            operation,
            params,
            idempotency_key,
        } => {
            call(
                &config,
                &venue,
                &operation,
                params.as_deref(),
                idempotency_key.as_deref(),
            )
            .await
        }
        Command::Plugins { config, action } => match (action, config) {
            (Some(PluginsAction::Check { file }), _) => plugins_check(&file).await,
            (Some(PluginsAction::Config { name, dir }), _) => plugins_config(&dir, &name).await,
            (None, Some(config)) => plugins_list(&config).await,
            (None, None) => anyhow::bail!("give --config FILE, or `plugins check FILE.wasm`"),
        },
        Command::Check { config } => check(&config).await,
        Command::Init {
            plugins,
            output,
            force,
        } => init(&plugins, &output, force).await,
        Command::Openapi { config } => {
            let app = build(&config).await?;
            println!("{}", serde_json::to_string_pretty(&app.openapi_json())?);
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn build(config_path: &Path) -> anyhow::Result<App> {
    let config = Config::load(config_path)?;
    Ok(App::build(config, &config::process_env()).await?)
}

async fn serve(
    config_path: &Path,
    listen: Option<resilience_host::listen::ListenAddr>,
) -> anyhow::Result<ExitCode> {
    let started = std::time::Instant::now();
    let app = build(config_path).await?;
    for e in &app.loaded().load_errors {
        tracing::error!(file = %e.file.display(), reason = %e.reason, "plugin failed to load");
    }
    let addr = listen.unwrap_or_else(|| app.config.server.listen.clone());
    let listener = resilience_host::listen::Listener::bind(&addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr} (server.listen / --listen): {e}"))?;
    let local = listener.local_addr()?;
    tracing::info!(
        listen = %local,
        venues = app.loaded().venues.len(),
        plugins = app.loaded().plugins.len(),
        startup_ms = started.elapsed().as_millis() as u64,
        "resilience-host serving"
    );
    let app = Arc::new(app);
    let probes = app.spawn_health_probes();
    // Settles intents left by an earlier run at once, then sweeps on an interval.
    let sweeper = app.spawn_journal_sweeper();
    let trimmer = app.spawn_idle_trimmer();
    spawn_reload_on_sighup(Arc::clone(&app));
    api::serve(app, listener, shutdown_signal()).await?;
    for p in probes {
        p.abort();
    }
    sweeper.abort();
    trimmer.abort();
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// SIGHUP reloads the plugins folder (like `POST /v1/admin/reload`).
fn spawn_reload_on_sighup(app: Arc<App>) {
    #[cfg(unix)]
    tokio::spawn(async move {
        let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        else {
            tracing::warn!("cannot listen for SIGHUP; reload with POST /v1/admin/reload");
            return;
        };
        while hup.recv().await.is_some() {
            tracing::info!("SIGHUP: reloading plugins");
            let report = app.reload().await;
            for e in &report.errors {
                tracing::error!(error = %e, "plugin failed to load on reload");
            }
        }
    });
    #[cfg(not(unix))]
    let _ = app;
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
    tracing::info!("shutting down; letting in-flight calls finish");
}

async fn call(
    config_path: &Path,
    venue: &str,
    operation: &str,
    params: Option<&str>,
    idempotency_key: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let params: Value = match params {
        None => json!({}),
        Some(text) => match serde_json::from_str(text) {
            Ok(v) => v,
            Err(e) => {
                let err = resilience_host::CallError::InvalidParams(format!(
                    "PARAMS_JSON is not valid JSON: {e}"
                ));
                eprintln!("{}", err.to_json(Some(venue), Some(operation)));
                return Ok(ExitCode::FAILURE);
            }
        },
    };
    let app = build(config_path).await?;
    match app
        .call_keyed(venue, operation, &params, idempotency_key)
        .await
    {
        Ok(v) => {
            println!("{v}");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("{}", e.to_json(Some(venue), Some(operation)));
            Ok(ExitCode::FAILURE)
        }
    }
}

async fn plugins_list(config_path: &Path) -> anyhow::Result<ExitCode> {
    let app = build(config_path).await?;
    let loaded = app.loaded();
    let plugins: Vec<Value> = loaded
        .plugins
        .values()
        .map(|p| {
            json!({
                "name": p.name,
                "version": p.info.version,
                "wit_version": p.wit_version,
                "sdk_version": p.info.sdk_version,
                "file": p.file.display().to_string(),
                "sha256": p.sha256,
                "operations": operations_json(&p.info),
                "secrets": secrets_json(&p.info),
                "usage_counters": p.info.usage_counters,
            })
        })
        .collect();
    let errors: Vec<Value> = loaded
        .load_errors
        .iter()
        .map(|e| json!({"file": e.file.display().to_string(), "reason": e.reason}))
        .collect();
    println!(
        "{}",
        serde_json::to_string_pretty(&json!({"plugins": plugins, "errors": errors}))?
    );
    Ok(if errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

async fn plugins_check(file: &Path) -> anyhow::Result<ExitCode> {
    let plugins = PluginsConfig::default();
    let limits = plugins.limits;
    let engine = PluginEngine::with_fuel(&plugins, 8, true)?;
    let p = match engine.load_file(file, None).await {
        Ok(p) => p,
        Err(reason) => {
            eprintln!("{}: {reason}", file.display());
            return Ok(ExitCode::FAILURE);
        }
    };
    let (fuel, peak_memory) = match p.new_pool().describe_metered().await {
        Ok((_, fuel, peak)) => (fuel, peak),
        Err(e) => {
            eprintln!("{}: describe failed: {e}", file.display());
            return Ok(ExitCode::FAILURE);
        }
    };
    let memory_limit = (limits.memory_mib as usize) << 20;
    let mut warnings = Vec::new();
    if peak_memory * 10 >= memory_limit * 8 {
        warnings.push(format!(
            "describe alone used {} KiB of linear memory, over 80% of the default limit of {} MiB (plugins.limits.memory_mib)",
            peak_memory / 1024,
            limits.memory_mib
        ));
    }
    if p.size * 10 >= limits.max_component_bytes * 8 {
        warnings.push(format!(
            "the component is over 80% of plugins.limits.max_component_bytes ({} bytes)",
            limits.max_component_bytes
        ));
    }
    let out = json!({
        "file": file.display().to_string(),
        "name": p.name,
        "version": p.info.version,
        "wit_version": p.wit_version,
        "sdk_version": p.info.sdk_version,
        "size_bytes": p.size,
        "sha256": p.sha256,
        "operations": operations_json(&p.info),
        "secrets": secrets_json(&p.info),
        "usage_counters": p.info.usage_counters,
        "imports": p.imports,
        "describe": { "fuel": fuel, "peak_memory_bytes": peak_memory },
        "limits": { "memory_mib": limits.memory_mib, "cpu_ms": limits.cpu_ms, "max_component_bytes": limits.max_component_bytes },
        "warnings": warnings,
    });
    println!("{}", serde_json::to_string_pretty(&out)?);
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    Ok(ExitCode::SUCCESS)
}

/// A plugin's operations as `plugins` prints them.
fn operations_json(info: &Info) -> Vec<Value> {
    info.operations
        .iter()
        .map(|o| json!({"name": o.name, "summary": o.summary, "mutating": o.mutating}))
        .collect()
}

/// The secrets a plugin declares, each with its one use: what an operator
/// checks before configuring a plugin file's secrets, since the host holds
/// the plugin to these uses and no other.
fn secrets_json(info: &Info) -> Vec<Value> {
    info.secrets
        .iter()
        .map(|d| json!({"name": d.name, "use": Use::from(d.purpose).as_str()}))
        .collect()
}

/// Every plugin in `dir`, loaded as `serve` loads them; load errors are
/// printed and make the result an error.
async fn load_plugins(
    dir: &Path,
) -> anyhow::Result<std::collections::BTreeMap<String, Arc<resilience_host::plugin::LoadedPlugin>>>
{
    let engine = PluginEngine::new(&PluginsConfig::default(), 8)?;
    let (plugins, errors) = engine.load_dir(dir, None).await;
    for e in &errors {
        eprintln!("error: {e}");
    }
    if !errors.is_empty() {
        anyhow::bail!(
            "{} plugin file(s) in {} did not load",
            errors.len(),
            dir.display()
        );
    }
    Ok(plugins)
}

async fn init(dir: &Path, output: &Path, force: bool) -> anyhow::Result<ExitCode> {
    let to_stdout = output == Path::new("-");
    if !to_stdout && output.exists() && !force {
        anyhow::bail!(
            "{} exists; pass --force to replace it, or --output another file",
            output.display()
        );
    }
    let plugins = load_plugins(dir).await?;
    if plugins.is_empty() {
        anyhow::bail!(
            "no plugins in {}: build them first (cargo xtask plugins)",
            dir.display()
        );
    }
    let shipped: Vec<defaults::Shipped<'_>> = plugins
        .values()
        .map(|p| defaults::Shipped {
            name: &p.name,
            version: &p.info.version,
            file: &p.file,
            section: p.venue_defaults.as_deref(),
        })
        .collect();
    let text = defaults::config(dir, &shipped);
    if to_stdout {
        print!("{text}");
    } else {
        std::fs::write(output, &text)
            .map_err(|e| anyhow::anyhow!("cannot write {}: {e}", output.display()))?;
        let with = shipped.iter().filter(|p| p.section.is_some()).count();
        eprintln!(
            "wrote {}: {with} venue(s) from {} plugin(s); set the secrets it names, then \
             `resilience-host serve --config {}`",
            output.display(),
            shipped.len(),
            output.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn plugins_config(dir: &Path, name: &str) -> anyhow::Result<ExitCode> {
    let plugins = load_plugins(dir).await?;
    let Some(p) = plugins.get(name) else {
        let known: Vec<&str> = plugins.keys().map(String::as_str).collect();
        anyhow::bail!(
            "no plugin named {name:?} in {}; it has: {}",
            dir.display(),
            known.join(", ")
        );
    };
    match &p.venue_defaults {
        Some(text) => {
            print!("{}", text.trim_end());
            println!();
            Ok(ExitCode::SUCCESS)
        }
        None => {
            eprintln!(
                "plugin {name:?} ({}) ships no default venue section",
                p.file.display()
            );
            Ok(ExitCode::FAILURE)
        }
    }
}

async fn check(config_path: &Path) -> anyhow::Result<ExitCode> {
    let app = build(config_path).await?;
    let loaded = app.loaded();
    let mut problems: Vec<String> = loaded.load_errors.iter().map(ToString::to_string).collect();
    problems.extend(loaded.broken.values().cloned());
    if problems.is_empty() {
        println!(
            "ok: {} venue(s), {} plugin(s) ({})",
            loaded.venues.len(),
            loaded.plugins.len(),
            loaded
                .plugins
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        );
        Ok(ExitCode::SUCCESS)
    } else {
        for p in &problems {
            eprintln!("error: {p}");
        }
        Ok(ExitCode::FAILURE)
    }
}

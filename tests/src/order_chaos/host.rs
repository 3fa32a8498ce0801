//! Host replicas and their logs: the real host binary as child processes on
//! one journal, started on a free port and SIGKILLed by the killer, and what
//! their JSON logs say the journal protocol did (for the report, and for a
//! broken key's story).

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::client::{Answer, exchange};

/// The host's log filter: warnings (but not the warning every failed call
/// logs), and what the journal protocol and the sweeper do with each key.
const LOG_FILTER: &str = "warn,resilience_host::app=error,resilience_host::app::orders=info,resilience_host::journal=info";

/// The host binary the run starts: `$RESILIENCE_HOST_BIN`, else the release
/// build when there is one, else the dev build (built if needed).
pub fn host_binary() -> PathBuf {
    if let Some(bin) = std::env::var_os("RESILIENCE_HOST_BIN") {
        return PathBuf::from(bin);
    }
    let release = crate::target_dir().join("release").join("resilience-host");
    if release.exists() {
        return release;
    }
    crate::host_binary().to_path_buf()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// One host process on the shared journal; its address changes with each start.
#[derive(Debug)]
pub(super) struct Replica {
    index: usize,
    binary: PathBuf,
    config: PathBuf,
    /// Where its stdout and stderr go, every start appended.
    pub(super) log: PathBuf,
    env: Vec<(String, String)>,
    child: Option<Child>,
    /// Where callers reach it (the last start's port).
    pub(super) addr: Arc<RwLock<SocketAddr>>,
    starts: u64,
}

impl Replica {
    /// Replica `index`, not started yet, of `binary` with `config` and the
    /// environment `env`, logging to `log`.
    pub(super) fn new(
        index: usize,
        binary: PathBuf,
        config: PathBuf,
        log: PathBuf,
        env: Vec<(String, String)>,
    ) -> Replica {
        Replica {
            index,
            binary,
            config,
            log,
            env,
            child: None,
            addr: Arc::new(RwLock::new(SocketAddr::from(([127, 0, 0, 1], 9)))),
            starts: 0,
        }
    }

    /// Start the host on a free port and wait until `/health` answers.
    pub(super) async fn start(&mut self) -> Result<(), String> {
        let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
        self.starts += 1;
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .map_err(|e| format!("host log: {e}"))?;
        let _ = writeln!(
            log,
            "=== order_chaos: replica {} start #{} on {addr}",
            self.index, self.starts
        );
        let child = Command::new(&self.binary)
            .args(["serve", "--config"])
            .arg(&self.config)
            .args(["--listen", &addr.to_string(), "--log-format", "json"])
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env("RUST_LOG", LOG_FILTER)
            .stdin(Stdio::null())
            .stdout(log.try_clone().map_err(|e| e.to_string())?)
            .stderr(log)
            .spawn()
            .map_err(|e| format!("starting {}: {e}", self.binary.display()))?;
        self.child = Some(child);
        // Up means `/health` is 200: the venue's plugin loaded (a host whose
        // plugin did not load answers 503 and would fail every call).
        let started = Instant::now();
        loop {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                self.child = None;
                return Err(format!(
                    "replica {} exited during start-up ({status}):\n{}",
                    self.index,
                    log_tail(&self.log, 30)
                ));
            }
            let health = exchange(
                addr,
                "GET",
                "/health",
                &[],
                "",
                Some((Duration::from_millis(500), false)),
            )
            .await;
            if matches!(health, Answer::Got(200, _)) {
                break;
            }
            if started.elapsed() > Duration::from_secs(60) {
                // `/v1/health` names the reason (a plugin that did not load, ...).
                let detail = exchange(addr, "GET", "/v1/health", &[], "", None).await;
                return Err(format!(
                    "replica {} did not answer /health with 200 within 60 s (last: {health:?}; /v1/health: {detail:?}):\n{}",
                    self.index,
                    log_tail(&self.log, 30)
                ));
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        *self.addr.write().expect("addr lock") = addr;
        Ok(())
    }

    /// SIGKILL (no shutdown, no outcome recorded) and reap.
    pub(super) fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Where callers reach it now.
    pub(super) fn addr(&self) -> SocketAddr {
        *self.addr.read().expect("addr lock")
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The last `n` lines of the log at `path` (empty when unreadable).
pub(super) fn log_tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Counts of the journal's protocol events in the hosts' JSON logs (see
/// [`ChaosReport::host_events`](super::ChaosReport::host_events)).
pub(super) fn host_events(paths: &[PathBuf]) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for path in paths {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        for line in text.lines() {
            let Ok(v) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            let field = |name: &str| {
                v.get(name)
                    .or_else(|| v.get("fields").and_then(|f| f.get(name)))
                    .cloned()
                    .unwrap_or(Value::Null)
            };
            let message = field("message");
            let message = message.as_str().unwrap_or("");
            let mut add = |name: &str, n: u64| {
                if n > 0 {
                    *out.entry(name.to_string()).or_default() += n;
                }
            };
            if message == "journal sweep" {
                add("lease_expired", field("expired").as_u64().unwrap_or(0));
                add("sweeper_found", field("found").as_u64().unwrap_or(0));
                add("sweeper_not_sent", field("not_sent").as_u64().unwrap_or(0));
            } else if message.starts_with("journal: reconciled, the venue has it") {
                add("caller_reconciled", 1);
            } else if message.starts_with("journal: the venue never saw it") {
                add("resent_after_proof", 1);
            } else if message.starts_with("journal: this call's claim is no longer current") {
                add("stale_holder", 1);
            }
        }
    }
    out
}

/// Log lines naming `key` exactly (not a longer key it is a prefix of).
pub(super) fn log_lines_for(paths: &[PathBuf], key: &str, max: usize) -> Vec<String> {
    let mut out = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        for line in text.lines() {
            let names_it = line.match_indices(key).any(|(i, _)| {
                !line[i + key.len()..]
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || c == '-')
            });
            if names_it {
                out.push(format!("{}: {line}", path.display()));
                if out.len() >= max {
                    return out;
                }
            }
        }
    }
    out
}

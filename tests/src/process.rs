//! The host as a separate process, for the measurements that need its own
//! resident memory and CPU time (the benches that compare them, the soak):
//! the release binary, a config file in a temp dir, its log in that dir,
//! killed on drop. Linux only (`/proc`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tempfile::TempDir;

use crate::{built_plugins, config_text, plugin_dir_from, target_dir};

/// The release host binary: `$RESILIENCE_HOST_BIN`, else
/// `<target>/release/resilience-host` (`cargo xtask bench` and `cargo xtask
/// soak` build it first).
pub fn release_binary() -> PathBuf {
    let bin = std::env::var_os("RESILIENCE_HOST_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| target_dir().join("release").join("resilience-host"));
    assert!(
        bin.exists(),
        "{} not found: run `cargo build --release -p resilience-host` (cargo xtask bench/soak do)",
        bin.display()
    );
    bin
}

/// A build to run: the host binary and the folder its plugin files are
/// copied from.
#[derive(Debug, Clone)]
pub struct Build {
    pub binary: PathBuf,
    pub plugins: PathBuf,
}

/// A running host process.
#[derive(Debug)]
pub struct HostProcess {
    pub addr: SocketAddr,
    child: Child,
    dir: TempDir,
    _plugins: TempDir,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl HostProcess {
    /// Start the host with copies of `plugins`, `limits` for
    /// `[plugins.limits]` and `rest` (venues); `env` is added to its
    /// environment. Waits until `/health` answers.
    pub async fn start(
        plugins: &[&str],
        limits: &str,
        rest: &str,
        env: &[(String, String)],
    ) -> HostProcess {
        let build = Build {
            binary: release_binary(),
            plugins: built_plugins().to_path_buf(),
        };
        Self::start_build(&build, plugins, limits, rest, env).await
    }

    /// [`HostProcess::start`] with another `build` of the host or the
    /// plugins, to compare with.
    pub async fn start_build(
        build: &Build,
        plugins: &[&str],
        limits: &str,
        rest: &str,
        env: &[(String, String)],
    ) -> HostProcess {
        let plugins = plugin_dir_from(&build.plugins, plugins);
        let dir = tempfile::tempdir().expect("temp dir");
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
            l.local_addr().expect("addr").port()
        };
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
        let text = config_text(
            plugins.path(),
            limits,
            &format!("[server]\nlisten = \"{addr}\"\n\n{rest}"),
        );
        let config = dir.path().join("resilience.toml");
        std::fs::write(&config, text).expect("config file");
        let log = std::fs::File::create(dir.path().join("host.log")).expect("log file");
        let child = Command::new(&build.binary)
            .args(["serve", "--config"])
            .arg(&config)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("starting the host binary");
        let mut host = HostProcess {
            addr,
            child,
            dir,
            _plugins: plugins,
            client: Client::builder(TokioExecutor::new())
                .pool_max_idle_per_host(1024)
                .build_http(),
        };
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = host.child.try_wait() {
                panic!(
                    "the host exited ({status}) during start-up:\n{}",
                    host.log_tail()
                );
            }
            if host.get("/health").await.is_some() {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the host did not answer /health within 60 s:\n{}",
                host.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        host
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The host's temp dir (its config file and `host.log`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The last lines of the host's log.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.dir.path().join("host.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// `GET path`: status and body, or None when the host does not answer.
    pub async fn get(&self, path: &str) -> Option<(u16, String)> {
        let uri = format!("http://{}{path}", self.addr).parse().ok()?;
        let resp = self.client.get(uri).await.ok()?;
        let status = resp.status().as_u16();
        let body = resp.into_body().collect().await.ok()?.to_bytes();
        Some((status, String::from_utf8_lossy(&body).into_owned()))
    }

    /// `POST /v1/venues/{venue}/{operation}`: status, or None when no answer came.
    pub async fn call(
        &self,
        venue: &str,
        operation: &str,
        params: &serde_json::Value,
    ) -> Option<u16> {
        let req = http::Request::post(format!(
            "http://{}/v1/venues/{venue}/{operation}",
            self.addr
        ))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(params.to_string())))
        .ok()?;
        let resp = self.client.request(req).await.ok()?;
        let status = resp.status().as_u16();
        resp.into_body().collect().await.ok()?;
        Some(status)
    }

    /// Resident memory now, in bytes.
    pub fn rss(&self) -> u64 {
        status_kib(self.pid(), "VmRSS:") * 1024
    }

    /// Peak resident memory so far, in bytes.
    pub fn peak_rss(&self) -> u64 {
        status_kib(self.pid(), "VmHWM:") * 1024
    }

    /// User + system CPU time used so far.
    pub fn cpu_time(&self) -> Duration {
        cpu_time(self.pid())
    }
}

impl Drop for HostProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn status_kib(pid: u32, key: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    text.lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// utime + stime of a process from `/proc/PID/stat`.
pub fn cpu_time(pid: u32) -> Duration {
    let (user, kernel) = cpu_split(pid);
    user + kernel
}

/// utime and stime of a process from `/proc/PID/stat`: the CPU it spent in
/// its own code and in the kernel on its behalf.
pub fn cpu_split(pid: u32) -> (Duration, Duration) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start at field 3.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<u64> = rest
        .split_whitespace()
        .skip(1)
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    let ticks = |i: usize| {
        let t = fields.get(i).copied().unwrap_or(0);
        Duration::from_secs_f64(t as f64 / clock_ticks_per_second() as f64)
    };
    (ticks(10), ticks(11))
}

fn clock_ticks_per_second() -> u64 {
    static TCK: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *TCK.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100)
    })
}

//! The API over each transport a daemon may use, through the real binary:
//! a Unix-domain socket (`server.listen = "unix:/path"`) with HTTP/1.1 and
//! HTTP/2, HTTP/2 without TLS (h2c, prior knowledge) on TCP next to
//! HTTP/1.1, the bearer token on every one of them, and the socket file
//! replaced when stale and removed at shutdown.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use resilience_tests::{config_text, host_binary, plugin_dir};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpStream, UnixStream};

const TOKEN: &str = "transport-test-token";
const TOKEN_VAR: &str = "TRANSPORT_TEST_TOKEN";

struct Host {
    child: Child,
    _dir: tempfile::TempDir,
    _plugins: tempfile::TempDir,
}

impl Drop for Host {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `resilience-host serve` listening on `listen` (a config value), with the
/// template plugin as venue `t`.
fn spawn(listen: &str, dir: tempfile::TempDir) -> Host {
    let plugins = plugin_dir(&["template"]);
    let text = config_text(
        plugins.path(),
        "",
        &format!(
            "[server]\nlisten = \"{listen}\"\nauth_token_env = \"{TOKEN_VAR}\"\n\n\
             [venues.t]\nplugin = \"template\"\nendpoints = [\"http://127.0.0.1:9\"]\n"
        ),
    );
    let config = dir.path().join("resilience.toml");
    std::fs::write(&config, text).unwrap();
    let log = std::fs::File::create(dir.path().join("host.log")).unwrap();
    let child = Command::new(host_binary())
        .args(["serve", "--config"])
        .arg(&config)
        .env(TOKEN_VAR, TOKEN)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("starting resilience-host");
    Host {
        child,
        _dir: dir,
        _plugins: plugins,
    }
}

fn log(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("host.log")).unwrap_or_default()
}

/// One request over `io` with HTTP/1.1 or HTTP/2; status and body.
async fn request(
    io: impl AsyncRead + AsyncWrite + Send + Unpin + 'static,
    http2: bool,
    token: Option<&str>,
) -> (u16, String) {
    let mut req = http::Request::builder()
        .method("POST")
        .uri("http://localhost/v1/venues/t/ping")
        .header("content-type", "application/json");
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let req = req.body(Full::new(Bytes::from_static(b"{}"))).unwrap();
    let io = TokioIo::new(io);
    let resp = if http2 {
        let (mut send, conn) =
            hyper::client::conn::http2::handshake::<_, _, Full<Bytes>>(TokioExecutor::new(), io)
                .await
                .expect("h2 handshake");
        tokio::spawn(conn);
        send.send_request(req).await.expect("h2 answer")
    } else {
        let (mut send, conn) = hyper::client::conn::http1::handshake::<_, Full<Bytes>>(io)
            .await
            .expect("http1 handshake");
        tokio::spawn(conn);
        send.send_request(req).await.expect("http1 answer")
    };
    assert_eq!(
        resp.version(),
        if http2 {
            http::Version::HTTP_2
        } else {
            http::Version::HTTP_11
        }
    );
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

async fn wait_for<F, Fut, T>(what: &str, dir: &Path, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{what} within 60 s:\n{}",
            log(dir)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unix_socket_serves_http1_and_http2_behind_the_token_and_is_removed_at_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("api.sock");
    let dir_path = dir.path().to_path_buf();
    // A stale socket from a process that is gone is replaced.
    drop(std::os::unix::net::UnixListener::bind(&socket).unwrap());
    let mut host = spawn(&format!("unix:{}", socket.display()), dir);
    wait_for("the socket accepts", &dir_path, || async {
        UnixStream::connect(&socket).await.ok()
    })
    .await;

    for http2 in [false, true] {
        let io = UnixStream::connect(&socket).await.unwrap();
        let (status, body) = request(io, http2, Some(TOKEN)).await;
        assert_eq!(status, 200, "http2={http2}: {body}");
        let io = UnixStream::connect(&socket).await.unwrap();
        let (status, body) = request(io, http2, None).await;
        assert_eq!(status, 401, "the token applies over the socket too: {body}");
    }
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&socket).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o660, "owner and group only");

    // SIGTERM: a clean stop removes the socket file.
    let status = Command::new("kill")
        .arg(host.child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let exit = wait_for("the host exits", &dir_path, || {
        let r = host.child.try_wait().unwrap();
        async move { r }
    })
    .await;
    assert!(exit.success(), "{exit}:\n{}", log(&dir_path));
    assert!(!socket.exists(), "the socket file is removed at shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_serves_http1_and_h2c_on_the_same_port() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dir = tempfile::tempdir().unwrap();
    let dir_path = dir.path().to_path_buf();
    let addr = format!("127.0.0.1:{port}");
    let _host = spawn(&addr, dir);
    wait_for("the port accepts", &dir_path, || async {
        TcpStream::connect(&addr).await.ok()
    })
    .await;
    for http2 in [false, true] {
        let io = TcpStream::connect(&addr).await.unwrap();
        let (status, body) = request(io, http2, Some(TOKEN)).await;
        assert_eq!(status, 200, "http2={http2}: {body}");
        assert!(body.contains("pong") || body.starts_with('{'), "{body}");
    }
}

#[test]
fn a_path_that_is_not_a_socket_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("taken");
    std::fs::write(&file, "keep me").unwrap();
    let dir_path = dir.path().to_path_buf();
    let mut host = spawn(&format!("unix:{}", file.display()), dir);
    let started = Instant::now();
    let status = loop {
        if let Some(s) = host.child.try_wait().unwrap() {
            break s;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the host should refuse the path:\n{}",
            log(&dir_path)
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(!status.success());
    let text = log(&dir_path);
    assert!(text.contains("is not a socket"), "{text}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "keep me");
}

/// Both API clients take `unix:/path` as their base URL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_clients_reach_the_host_over_its_unix_socket() {
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("api.sock");
    let dir_path = dir.path().to_path_buf();
    let _host = spawn(&format!("unix:{}", socket.display()), dir);
    wait_for("the socket accepts", &dir_path, || async {
        UnixStream::connect(&socket).await.ok()
    })
    .await;
    let base = format!("unix:{}", socket.display());

    let client = resilience_client::Client::new(&base, Some(TOKEN)).unwrap();
    let pong = client
        .call("t", "ping", &serde_json::json!({}), None)
        .await
        .expect("ping over the socket");
    assert!(pong.is_object(), "{pong}");
    let anonymous = resilience_client::Client::new(&base, None).unwrap();
    let err = anonymous
        .call("t", "ping", &serde_json::json!({}), None)
        .await
        .unwrap_err();
    assert_eq!(
        err.kind(),
        &resilience_client::ErrorKind::Unauthorized,
        "{err}"
    );

    // The Python client needs only the standard library.
    let python = std::env::var("RESILIENCE_ORACLE_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = "import json, sys, resilience_client as rc\n\
                  c = rc.Client(sys.argv[1], token=sys.argv[2])\n\
                  print(json.dumps(c.call('t', 'ping', {})))\n\
                  try:\n    rc.Client(sys.argv[1]).call('t', 'ping', {})\n\
                  except rc.Unauthorized:\n    print('unauthorized')\n";
    let out = Command::new(python)
        .args(["-c", script, &base, TOKEN])
        .env(
            "PYTHONPATH",
            resilience_tests::workspace_root().join("clients/python/src"),
        )
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .expect("python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(lines[0].starts_with('{'), "{stdout}");
    assert_eq!(lines[1], "unauthorized");
}

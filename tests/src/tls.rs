//! TLS for loopback tests and benches: a throwaway CA with a server
//! certificate for 127.0.0.1 (made with the `openssl` tool), and a small
//! HTTPS mock venue that counts its handshakes, so a test can tell a pooled
//! connection from a new one.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;

/// A CA and a server certificate for `127.0.0.1`/`localhost` signed by it
/// (rustls refuses a self-signed CA certificate used as the server's own).
#[derive(Debug, Clone)]
pub struct TestCa {
    /// The CA certificate (what a client trusts).
    pub ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
}

impl TestCa {
    /// Write `ca.crt`, `server.crt` and `server.key` into `dir`.
    pub fn write(dir: &Path) -> TestCa {
        std::fs::create_dir_all(dir).expect("CA dir");
        let openssl = |args: &[&str]| {
            let out = Command::new("openssl")
                .current_dir(dir)
                .args(args)
                .output()
                .expect("running openssl");
            assert!(
                out.status.success(),
                "openssl {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        #[rustfmt::skip]
        openssl(&["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                  "-subj", "/CN=test-ca", "-keyout", "ca.key", "-out", "ca.crt"]);
        #[rustfmt::skip]
        openssl(&["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
                  "-keyout", "server.key", "-out", "server.csr"]);
        std::fs::write(
            dir.join("ext.cnf"),
            "basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n",
        )
        .expect("ext.cnf");
        #[rustfmt::skip]
        openssl(&["x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                  "-CAcreateserial", "-days", "2", "-extfile", "ext.cnf", "-out", "server.crt"]);
        TestCa {
            ca: dir.join("ca.crt"),
            server_cert: dir.join("server.crt"),
            server_key: dir.join("server.key"),
        }
    }

    /// A rustls server configuration with the server certificate.
    pub fn server_config(&self) -> rustls::ServerConfig {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&self.server_cert)
            .expect("server.crt")
            .collect::<Result<_, _>>()
            .expect("server.crt is PEM");
        let key = PrivateKeyDer::from_pem_file(&self.server_key).expect("server.key");
        rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("TLS versions")
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("server certificate")
    }
}

/// An HTTPS/1.1 mock venue on 127.0.0.1: every request (no body expected)
/// gets `200 {"ok":true}`; connections are kept alive.
#[derive(Debug)]
pub struct TlsMock {
    pub addr: SocketAddr,
    handshakes: Arc<AtomicU64>,
    requests: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl TlsMock {
    pub async fn start(ca: &TestCa) -> TlsMock {
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(ca.server_config()));
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind TLS mock");
        let addr = listener.local_addr().expect("addr");
        let handshakes = Arc::new(AtomicU64::new(0));
        let requests = Arc::new(AtomicU64::new(0));
        let (h, r) = (handshakes.clone(), requests.clone());
        let task = tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                let _ = conn.set_nodelay(true);
                let (acceptor, h, r) = (acceptor.clone(), h.clone(), r.clone());
                tokio::spawn(async move {
                    if let Ok(tls) = acceptor.accept(conn).await {
                        h.fetch_add(1, Ordering::SeqCst);
                        serve_ok(tls, &r).await;
                    }
                });
            }
        });
        TlsMock {
            addr,
            handshakes,
            requests,
            task,
        }
    }

    pub fn url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// TLS handshakes completed (one per new connection).
    pub fn handshakes(&self) -> u64 {
        self.handshakes.load(Ordering::SeqCst)
    }

    /// Requests answered.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::SeqCst)
    }
}

impl Drop for TlsMock {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Answer every request head on `conn` with a small JSON body until the
/// client closes.
pub async fn serve_ok<S: AsyncRead + AsyncWrite + Unpin>(mut conn: S, requests: &AtomicU64) {
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    loop {
        let end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            match conn.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        buf.drain(..end);
        requests.fetch_add(1, Ordering::SeqCst);
        let answer = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\n\r\n{\"ok\":true}";
        if conn.write_all(answer).await.is_err() || conn.flush().await.is_err() {
            return;
        }
    }
}

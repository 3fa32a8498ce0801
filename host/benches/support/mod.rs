//! Shared bench support: a loopback HTTP/1.1 mock venue whose answers are
//! scripted per request (200, 503, connection reset, silence), and small
//! statistics helpers. Loopback only; every run is bounded in count and time.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the mock does with one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Ok,
    /// 200 with this JSON body (a venue-shaped answer).
    Json(&'static str),
    ServiceUnavailable,
    Reset,
}

pub type Script = Arc<dyn Fn(u64) -> Answer + Send + Sync>;

/// A mock venue on 127.0.0.1.
pub struct MockVenue {
    pub addr: SocketAddr,
    pub requests: Arc<AtomicU64>,
    dead: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl MockVenue {
    pub async fn start(script: Script) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind mock");
        let addr = listener.local_addr().expect("addr");
        let requests = Arc::new(AtomicU64::new(0));
        let dead = Arc::new(AtomicBool::new(false));
        let (r, d) = (requests.clone(), dead.clone());
        let task = tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                let (r, d, s) = (r.clone(), d.clone(), script.clone());
                tokio::spawn(serve(conn, r, d, s));
            }
        });
        Self {
            addr,
            requests,
            dead,
            task,
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// From now on every request on every connection is reset.
    pub fn kill(&self) {
        self.dead.store(true, Ordering::SeqCst);
    }
}

impl Drop for MockVenue {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(
    mut conn: TcpStream,
    requests: Arc<AtomicU64>,
    dead: Arc<AtomicBool>,
    script: Script,
) {
    let _ = conn.set_nodelay(true);
    let mut buf = Vec::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    loop {
        // Read one request head (bench requests carry no body).
        let end = loop {
            if let Some(i) = find(&buf, b"\r\n\r\n") {
                break i + 4;
            }
            match conn.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        buf.drain(..end);
        let n = requests.fetch_add(1, Ordering::SeqCst);
        let answer = if dead.load(Ordering::SeqCst) {
            Answer::Reset
        } else {
            script(n)
        };
        let wrote = match answer {
            Answer::Ok => {
                conn.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 11\r\n\r\n{\"ok\":true}")
                    .await
            }
            Answer::Json(body) => {
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                    body.len()
                );
                let mut out = head.into_bytes();
                out.extend_from_slice(body.as_bytes());
                conn.write_all(&out).await
            }
            Answer::ServiceUnavailable => {
                conn.write_all(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n")
                    .await
            }
            Answer::Reset => {
                let _ = conn.set_zero_linger();
                return;
            }
        };
        if wrote.is_err() {
            return;
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Deterministic pseudo-random stream (xorshift), so runs are comparable.
pub fn coin(seed: u64, n: u64) -> f64 {
    let mut x = seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    (x >> 11) as f64 / (1u64 << 53) as f64
}

pub fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

pub fn percentile(mut v: Vec<Duration>, p: f64) -> Duration {
    v.sort();
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i]
}

pub fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

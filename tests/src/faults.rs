//! A fault-injecting TCP proxy for loopback tests: each accepted connection
//! takes the next fault from a script (then the default), and either forwards
//! to the upstream or misbehaves.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What the proxy does with one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Forward both ways.
    Pass,
    /// Read the request, then reset the connection (RST).
    Reset,
    /// Accept and read, never answer, keep the connection open.
    Hang,
    /// Answer with headers promising 100 bytes, send 10, close.
    CloseMidBody,
    /// Wait, then forward both ways.
    Latency(Duration),
    /// A link with this round-trip time: the connection is usable one RTT
    /// after accept (the TCP handshake), then every chunk arrives half an RTT
    /// after it was sent, in both directions (pipelined, not serialised), so
    /// a TLS handshake costs what it would over a real network.
    Rtt(Duration),
}

#[derive(Debug)]
pub struct FaultProxy {
    pub addr: SocketAddr,
    script: Arc<Mutex<VecDeque<Fault>>>,
    default: Arc<Mutex<Fault>>,
    accepted: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl FaultProxy {
    /// Proxy to `upstream`: connections take faults from `script` in order,
    /// then `default`.
    pub async fn start(upstream: SocketAddr, script: Vec<Fault>, default: Fault) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr");
        let script = Arc::new(Mutex::new(VecDeque::from(script)));
        let default = Arc::new(Mutex::new(default));
        let accepted = Arc::new(AtomicUsize::new(0));
        let (s, d, a) = (script.clone(), default.clone(), accepted.clone());
        let task = tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                a.fetch_add(1, Ordering::SeqCst);
                let fault = s.lock().unwrap().pop_front().unwrap_or(*d.lock().unwrap());
                tokio::spawn(handle(conn, upstream, fault));
            }
        });
        Self {
            addr,
            script,
            default,
            accepted,
            task,
        }
    }

    /// Base URL of the proxy.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// Change the fault for connections after the script.
    pub fn set_default(&self, fault: Fault) {
        *self.default.lock().unwrap() = fault;
        self.script.lock().unwrap().clear();
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn handle(mut conn: TcpStream, upstream: SocketAddr, fault: Fault) {
    match fault {
        Fault::Pass => forward(conn, upstream).await,
        Fault::Latency(d) => {
            tokio::time::sleep(d).await;
            forward(conn, upstream).await;
        }
        Fault::Rtt(rtt) => {
            tokio::time::sleep(rtt).await;
            if let Ok(up) = TcpStream::connect(upstream).await {
                let _ = up.set_nodelay(true);
                let _ = conn.set_nodelay(true);
                let (cr, cw) = conn.into_split();
                let (ur, uw) = up.into_split();
                let one_way = rtt / 2;
                tokio::join!(delayed_copy(cr, uw, one_way), delayed_copy(ur, cw, one_way));
            }
        }
        Fault::Reset => {
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf).await;
            // Linger 0 turns the close into an RST.
            let _ = conn.set_zero_linger();
            drop(conn);
        }
        Fault::Hang => {
            let mut buf = [0u8; 4096];
            while let Ok(n) = conn.read(&mut buf).await {
                if n == 0 {
                    break;
                }
            }
        }
        Fault::CloseMidBody => {
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf).await;
            let _ = conn
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{\"partial\":")
                .await;
            let _ = conn.shutdown().await;
        }
    }
}

async fn forward(mut conn: TcpStream, upstream: SocketAddr) {
    if let Ok(mut up) = TcpStream::connect(upstream).await {
        let _ = tokio::io::copy_bidirectional(&mut conn, &mut up).await;
    }
}

/// Copy `from` to `to`, each chunk written `delay` after it was read.
async fn delayed_copy(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    delay: Duration,
) {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(tokio::time::Instant, Vec<u8>)>();
    let reader = async move {
        let mut buf = vec![0u8; 16 * 1024];
        while let Ok(n) = from.read(&mut buf).await {
            if n == 0
                || tx
                    .send((tokio::time::Instant::now() + delay, buf[..n].to_vec()))
                    .is_err()
            {
                break;
            }
        }
    };
    let writer = async move {
        while let Some((due, chunk)) = rx.recv().await {
            tokio::time::sleep_until(due).await;
            if to.write_all(&chunk).await.is_err() {
                return;
            }
        }
        let _ = to.shutdown().await;
    };
    tokio::join!(reader, writer);
}

/// A loopback address where nothing listens (connections are refused).
pub async fn refused_addr() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = l.local_addr().expect("addr");
    drop(l);
    addr
}

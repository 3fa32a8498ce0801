//! A connector wrapper that counts open connections per authority, so the
//! pool's idle connections can be reported (`resilience_pool_connections`);
//! hyper's pool does not expose them. A connection counts from connect until
//! its stream is dropped (closed by either side or by the idle timeout).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::task::{Context, Poll};

use http::Uri;
use hyper::rt::{Read, ReadBufCursor, Write};
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use tower_service::Service;

/// Open-connection counters by `host:port`.
#[derive(Debug, Clone, Default)]
pub struct ConnCounts {
    by_authority: Arc<HashMap<String, Arc<AtomicI64>>>,
}

impl ConnCounts {
    /// Counters for these base URLs (others are not counted).
    pub fn for_urls<'a>(urls: impl IntoIterator<Item = &'a str>) -> Self {
        let map = urls
            .into_iter()
            .filter_map(|u| u.parse::<Uri>().ok())
            .filter_map(|u| authority_key(&u))
            .map(|k| (k, Arc::new(AtomicI64::new(0))))
            .collect();
        Self {
            by_authority: Arc::new(map),
        }
    }

    /// Open connections to the authority of `url`.
    pub fn open(&self, url: &str) -> i64 {
        url.parse::<Uri>()
            .ok()
            .and_then(|u| authority_key(&u))
            .and_then(|k| self.by_authority.get(&k).map(|c| c.load(Ordering::Relaxed)))
            .unwrap_or(0)
    }
}

fn authority_key(u: &Uri) -> Option<String> {
    let host = u.host()?;
    let port = u.port_u16().unwrap_or(match u.scheme_str() {
        Some("https") => 443,
        _ => 80,
    });
    Some(format!("{host}:{port}"))
}

/// The TCP connector of a venue's pool: no Nagle delay, the venue's connect
/// timeout, and `TCP_USER_TIMEOUT` at its attempt timeout (`timeout_ms`).
///
/// The last one keeps an abandoned attempt from reaching the venue late. An
/// attempt cut at its timeout drops its connection, but the kernel keeps
/// retransmitting the bytes the venue has not acknowledged, by default for
/// many minutes. An order whose send was cut that way is in doubt, and once
/// the venue's settle window (`reconcile_settle_ms`, at least `timeout_ms`)
/// has passed with the order not found, the journal sends it again: bytes
/// still in flight from the first attempt could then arrive as a second
/// order. With the option the kernel gives them up within the attempt's time.
pub fn venue_connector(vc: &crate::config::VenueConfig) -> HttpConnector {
    let connect_timeout = vc.connect_timeout_ms.unwrap_or(5_000).min(vc.timeout_ms);
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(Some(std::time::Duration::from_millis(connect_timeout)));
    #[cfg(any(target_os = "android", target_os = "fuchsia", target_os = "linux"))]
    http.set_tcp_user_timeout(Some(std::time::Duration::from_millis(vc.timeout_ms)));
    http
}

/// `HttpConnector` whose streams are counted.
#[derive(Debug, Clone)]
pub struct CountingConnector {
    inner: HttpConnector,
    counts: ConnCounts,
}

impl CountingConnector {
    pub fn new(inner: HttpConnector, counts: ConnCounts) -> Self {
        Self { inner, counts }
    }
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl Service<Uri> for CountingConnector {
    type Response = Counted<<HttpConnector as Service<Uri>>::Response>;
    type Error = <HttpConnector as Service<Uri>>::Error;
    type Future = BoxFuture<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        let counter = authority_key(&dst).and_then(|k| self.counts.by_authority.get(&k).cloned());
        let fut = self.inner.call(dst);
        Box::pin(async move {
            let io = fut.await?;
            if let Some(c) = &counter {
                c.fetch_add(1, Ordering::Relaxed);
            }
            Ok(Counted { io, counter })
        })
    }
}

/// A stream that decrements its counter when dropped.
#[derive(Debug)]
pub struct Counted<T> {
    io: T,
    counter: Option<Arc<AtomicI64>>,
}

impl<T> Drop for Counted<T> {
    fn drop(&mut self) {
        if let Some(c) = &self.counter {
            c.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

impl<T: Read + Unpin> Read for Counted<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<T: Write + Unpin> Write for Counted<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }
}

impl<T: Connection> Connection for Counted<T> {
    fn connected(&self) -> Connected {
        self.io.connected()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn venue_connections_give_up_unacknowledged_bytes_within_the_attempt_timeout() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let vc: crate::config::VenueConfig = serde_json::from_value(serde_json::json!({
            "plugin": "ton",
            "endpoints": [format!("http://{addr}")],
            "timeout_ms": 1500,
        }))
        .unwrap();
        let mut connector = venue_connector(&vc);
        let uri: Uri = format!("http://{addr}/").parse().unwrap();
        let io = connector.call(uri).await.unwrap();
        let socket = socket2::SockRef::from(io.inner());
        assert_eq!(
            socket.tcp_user_timeout().unwrap(),
            Some(std::time::Duration::from_millis(1500))
        );
        assert!(socket.tcp_nodelay().unwrap());
    }
}

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

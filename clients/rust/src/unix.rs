//! HTTP/1.1 over the host's Unix-domain socket (`server.listen =
//! "unix:/path"`): every connection of the pool goes to that socket, whatever
//! the request's URI says (`http://localhost/...`).

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::Uri;
use hyper_util::rt::TokioIo;
use tokio::net::UnixStream;

/// `base_url` prefix that selects the socket.
pub const PREFIX: &str = "unix:";

/// Connects to one socket path.
#[derive(Debug, Clone)]
pub struct UnixConnector(Arc<PathBuf>);

impl UnixConnector {
    pub fn new(path: &str) -> Self {
        Self(Arc::new(PathBuf::from(path)))
    }
}

impl tower_service::Service<Uri> for UnixConnector {
    type Response = TokioIo<UnixStream>;
    type Error = std::io::Error;
    type Future = Pin<Box<dyn Future<Output = std::io::Result<Self::Response>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Uri) -> Self::Future {
        let path = Arc::clone(&self.0);
        Box::pin(async move { Ok(TokioIo::new(UnixStream::connect(&*path).await?)) })
    }
}

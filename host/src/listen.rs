//! Where the API listens: a TCP address, or a Unix-domain socket for
//! daemons on the same machine (`server.listen = "unix:/run/rh/api.sock"`).
//!
//! A Unix socket skips the TCP stack on both sides of every call (no
//! checksums, no Nagle, no loopback routing), which is most of the kernel
//! time of a local call; `cargo xtask bench peers` measures the difference.
//! Its file is created mode 0660 (owner and group), replaces a stale socket
//! left by a process that is gone (one nothing accepts on), refuses to
//! replace anything else, and is removed when the listener is dropped.
//! The bearer token applies over either transport.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Deserializer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, UnixListener};

/// Prefix that selects a Unix-domain socket.
const UNIX_PREFIX: &str = "unix:";
/// Mode of the socket file: the owner and its group may connect.
const SOCKET_MODE: u32 = 0o660;

/// `server.listen` / `--listen`: `127.0.0.1:8080` or `unix:/path/to/socket`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenAddr {
    Tcp(SocketAddr),
    Unix(PathBuf),
}

impl FromStr for ListenAddr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if let Some(path) = s.strip_prefix(UNIX_PREFIX) {
            if path.is_empty() {
                return Err("unix: needs a socket path (unix:/run/resilience-host.sock)".into());
            }
            return Ok(Self::Unix(PathBuf::from(path)));
        }
        s.parse::<SocketAddr>().map(Self::Tcp).map_err(|_| {
            format!("{s:?} is neither an address (127.0.0.1:8080) nor unix:/path/to/socket")
        })
    }
}

impl fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Tcp(addr) => write!(f, "{addr}"),
            Self::Unix(path) => write!(f, "{UNIX_PREFIX}{}", path.display()),
        }
    }
}

impl<'de> Deserialize<'de> for ListenAddr {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl From<SocketAddr> for ListenAddr {
    fn from(addr: SocketAddr) -> Self {
        Self::Tcp(addr)
    }
}

/// A connection's byte stream, whichever transport it came over.
pub trait Io: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Io for T {}

/// A bound listener.
#[derive(Debug)]
pub enum Listener {
    Tcp(TcpListener),
    Unix(UnixSocket),
}

/// A Unix listener and the file it owns.
#[derive(Debug)]
pub struct UnixSocket {
    listener: UnixListener,
    path: PathBuf,
}

impl Drop for UnixSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

impl From<TcpListener> for Listener {
    fn from(l: TcpListener) -> Self {
        Self::Tcp(l)
    }
}

impl Listener {
    /// Bind `addr` (see the module docs for the socket file).
    pub async fn bind(addr: &ListenAddr) -> std::io::Result<Self> {
        match addr {
            ListenAddr::Tcp(a) => Ok(Self::Tcp(TcpListener::bind(a).await?)),
            ListenAddr::Unix(path) => Ok(Self::Unix(bind_unix(path).await?)),
        }
    }

    /// Where it listens, with the port the system chose for `:0`.
    pub fn local_addr(&self) -> std::io::Result<ListenAddr> {
        match self {
            Self::Tcp(l) => Ok(ListenAddr::Tcp(l.local_addr()?)),
            Self::Unix(u) => Ok(ListenAddr::Unix(u.path.clone())),
        }
    }

    /// The next connection and a description of its peer for logs.
    pub async fn accept(&self) -> std::io::Result<(Box<dyn Io>, String)> {
        match self {
            Self::Tcp(l) => {
                let (stream, peer) = l.accept().await?;
                // Small JSON answers: send them now, not after a delayed ACK.
                let _ = stream.set_nodelay(true);
                Ok((Box::new(stream), peer.to_string()))
            }
            Self::Unix(u) => {
                let (stream, _) = u.listener.accept().await?;
                Ok((Box::new(stream), "unix".to_string()))
            }
        }
    }
}

async fn bind_unix(path: &Path) -> std::io::Result<UnixSocket> {
    use std::os::unix::fs::{FileTypeExt, PermissionsExt};
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if !meta.file_type().is_socket() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                format!("{} exists and is not a socket", path.display()),
            ));
        }
        if tokio::net::UnixStream::connect(path).await.is_ok() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AddrInUse,
                format!("{} is in use by a running process", path.display()),
            ));
        }
        // A socket nothing accepts on: left by a process that is gone.
        std::fs::remove_file(path)?;
    }
    let listener = UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(SOCKET_MODE))?;
    Ok(UnixSocket {
        listener,
        path: path.to_path_buf(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse_and_print_back() {
        for text in ["127.0.0.1:8080", "[::1]:9000", "unix:/tmp/rh.sock"] {
            let addr: ListenAddr = text.parse().unwrap();
            assert_eq!(addr.to_string(), text);
        }
        assert!(matches!(
            "unix:/run/x.sock".parse::<ListenAddr>(),
            Ok(ListenAddr::Unix(p)) if p == Path::new("/run/x.sock")
        ));
        for bad in ["unix:", "localhost", "8080", ""] {
            assert!(bad.parse::<ListenAddr>().is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn a_stale_socket_is_replaced_a_live_one_or_a_file_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("api.sock");
        let addr = ListenAddr::Unix(path.clone());

        let live = Listener::bind(&addr).await.unwrap();
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&path).unwrap().permissions(),
        );
        assert_eq!(mode & 0o777, SOCKET_MODE);
        let err = Listener::bind(&addr).await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::AddrInUse);
        drop(live);
        assert!(!path.exists(), "removed with its listener");

        // A socket left behind by a process that is gone (no listener).
        let stale = std::os::unix::net::UnixListener::bind(&path).unwrap();
        drop(stale);
        assert!(path.exists());
        let again = Listener::bind(&addr).await.unwrap();
        drop(again);

        std::fs::write(&path, "not a socket").unwrap();
        let err = Listener::bind(&addr).await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "not a socket");
    }
}

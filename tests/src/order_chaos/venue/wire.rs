//! The venue's side of HTTP/1.1: reading a request (query string and form
//! body merged), writing a JSON response, and serving one connection, where
//! a fault's delay, drop or reset is carried out.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{Reply, VenueInner};
use crate::order_chaos::find;

/// An HTTP/1.1 response with a JSON body.
pub(super) fn response(status: u16, body: &Value, headers: &[(&str, &str)]) -> Vec<u8> {
    let text = body.to_string();
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        503 => "Service Unavailable",
        _ => "Status",
    };
    let mut out = format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
        text.len()
    );
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    out.push_str(&text);
    out.into_bytes()
}

/// A request as the venue reads it: query string and form body merged.
#[derive(Debug)]
pub(super) struct VenueRequest {
    pub(super) method: String,
    pub(super) path: String,
    pub(super) params: HashMap<String, String>,
}

/// Serve requests on `conn` until the host closes it or a reply ends it; a
/// late reply counts as in flight while it waits (the killer aims at those).
pub(super) async fn serve_connection(mut conn: TcpStream, venue: Arc<VenueInner>) {
    let mut buf = Vec::new();
    loop {
        let Some(req) = read_request(&mut conn, &mut buf).await else {
            return;
        };
        match venue.handle(&req) {
            Reply::Now(bytes) => {
                if conn.write_all(&bytes).await.is_err() {
                    return;
                }
            }
            Reply::Later(delay, bytes, keep) => {
                venue.in_flight.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(delay).await;
                venue.in_flight.fetch_sub(1, Ordering::SeqCst);
                if conn.write_all(&bytes).await.is_err() || !keep {
                    return;
                }
            }
            Reply::Drop(reset) => {
                if reset {
                    let _ = conn.set_zero_linger();
                }
                return;
            }
        }
    }
}

/// Read one request (head and `content-length` body) from `conn`; `None` on
/// EOF, an error or a malformed request.
async fn read_request(conn: &mut TcpStream, buf: &mut Vec<u8>) -> Option<VenueRequest> {
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = find(buf, b"\r\n\r\n") {
            break i;
        }
        if buf.len() > 64 * 1024 {
            return None;
        }
        let n = conn.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = std::str::from_utf8(&buf[..head_end]).ok()?.to_string();
    let mut lines = head.split("\r\n");
    let mut first = lines.next()?.split(' ');
    let method = first.next()?.to_string();
    let target = first.next()?.to_string();
    let mut len = 0usize;
    for line in lines {
        if let Some((k, v)) = line.split_once(':')
            && k.trim().eq_ignore_ascii_case("content-length")
        {
            len = v.trim().parse().ok()?;
        }
    }
    let total = head_end + 4 + len;
    while buf.len() < total {
        let n = conn.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let body = String::from_utf8_lossy(&buf[head_end + 4..total]).into_owned();
    buf.drain(..total);
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let mut params = HashMap::new();
    for pair in query.split('&').chain(body.split('&')) {
        if let Some((k, v)) = pair.split_once('=') {
            params.insert(percent_decode(k), percent_decode(v));
        }
    }
    Some(VenueRequest {
        method,
        path: path.to_string(),
        params,
    })
}

/// Decode one form or query component (`%XX`, `+` for a space); a stray
/// `%` is kept as it is.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
                continue;
            }
            (b'+', _) => out.push(b' '),
            (b, _) => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

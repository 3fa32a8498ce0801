//! The raw HTTP exchange a caller uses: one request per connection, so a
//! hang-up is a closed connection the host sees (FIN, or RST when asked).

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{PATIENCE, find};

/// How a call ended, as the caller saw it.
#[derive(Debug)]
pub(super) enum Answer {
    /// Status and body (JSON, or the text as a JSON string).
    Got(u16, Value),
    /// The caller hung up first.
    HungUp,
    /// No (complete) answer: refused, reset, closed mid-answer.
    Lost(String),
}

/// `method path` on a fresh connection to `addr` with `Connection: close`.
/// With `hang_up`, the caller closes the connection (FIN, or RST when
/// `reset`) if no answer came within that time.
pub(super) async fn exchange(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
    hang_up: Option<(Duration, bool)>,
) -> Answer {
    let deadline = tokio::time::Instant::now() + hang_up.map_or(PATIENCE, |(d, _)| d);
    let gave_up = |conn: Option<&TcpStream>| {
        if let (Some(c), Some((_, true))) = (conn, hang_up) {
            let _ = c.set_zero_linger();
        }
        if hang_up.is_some() {
            Answer::HungUp
        } else {
            Answer::Lost("slow".into())
        }
    };
    let mut conn = match tokio::time::timeout_at(deadline, TcpStream::connect(addr)).await {
        Err(_) => return gave_up(None),
        Ok(Err(e)) => return Answer::Lost(format!("connect: {e}")),
        Ok(Ok(c)) => c,
    };
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    match tokio::time::timeout_at(deadline, conn.write_all(req.as_bytes())).await {
        Err(_) => return gave_up(Some(&conn)),
        Ok(Err(e)) => return Answer::Lost(format!("write: {e}")),
        Ok(Ok(())) => {}
    }
    let mut buf = Vec::new();
    let read = match tokio::time::timeout_at(deadline, conn.read_to_end(&mut buf)).await {
        Err(_) => return gave_up(Some(&conn)),
        Ok(read) => read,
    };
    match (parse_response(&buf), read) {
        (Some((status, value)), _) => Answer::Got(status, value),
        (None, Err(e)) => Answer::Lost(format!("read: {e}")),
        (None, Ok(_)) => Answer::Lost(format!("closed after {} bytes", buf.len())),
    }
}

/// A complete HTTP/1.1 response (`content-length` or chunked body).
fn parse_response(buf: &[u8]) -> Option<(u16, Value)> {
    let head_end = find(buf, b"\r\n\r\n")?;
    let head = std::str::from_utf8(&buf[..head_end]).ok()?;
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let mut len = None;
    let mut chunked = false;
    for line in lines {
        if let Some((k, v)) = line.split_once(':') {
            let k = k.trim();
            if k.eq_ignore_ascii_case("content-length") {
                len = v.trim().parse::<usize>().ok();
            } else if k.eq_ignore_ascii_case("transfer-encoding")
                && v.to_ascii_lowercase().contains("chunked")
            {
                chunked = true;
            }
        }
    }
    let rest = &buf[head_end + 4..];
    let body: Vec<u8> = if chunked {
        let mut out = Vec::new();
        let mut at = 0;
        loop {
            let line_end = at + find(&rest[at..], b"\r\n")?;
            let size =
                usize::from_str_radix(std::str::from_utf8(&rest[at..line_end]).ok()?.trim(), 16)
                    .ok()?;
            at = line_end + 2;
            if size == 0 {
                break out;
            }
            out.extend_from_slice(rest.get(at..at + size)?);
            at += size + 2;
        }
    } else {
        let len = len.unwrap_or(rest.len());
        rest.get(..len)?.to_vec()
    };
    let value = serde_json::from_slice(&body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
    Some((status, value))
}

//! Reading the journal through the host's API (`GET /v1/journal`, paged):
//! the settle phase waits on it, and the judge compares it with the venue.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use serde_json::Value;

use super::VENUE;
use super::client::{Answer, exchange};

/// Every journal entry of this run (`state` only, when given), by key.
pub(super) async fn journal_entries(
    addr: SocketAddr,
    state: Option<&str>,
    tag: &str,
) -> Result<BTreeMap<String, Value>, String> {
    let mut out = BTreeMap::new();
    let mut cursor: Option<String> = None;
    let prefix = format!("{tag}-");
    for _ in 0..100_000 {
        let mut path = format!("/v1/journal?venue={VENUE}&limit=1000");
        if let Some(s) = state {
            path.push_str(&format!("&state={s}"));
        }
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let (status, body) = match exchange(addr, "GET", &path, &[], "", None).await {
            Answer::Got(s, b) => (s, b),
            other => return Err(format!("GET {path}: {other:?}")),
        };
        if status != 200 {
            return Err(format!("GET {path}: {status} {body}"));
        }
        for e in body["entries"].as_array().into_iter().flatten() {
            if let Some(key) = e["key"].as_str()
                && key.starts_with(&prefix)
            {
                out.insert(key.to_string(), e.clone());
            }
        }
        match body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return Ok(out),
        }
    }
    Err("journal paging did not end".into())
}

//! Judging a run at the venue: at most one accepted order per client id;
//! every client id the venue accepted is journaled `succeeded` or
//! `in_doubt` (never `failed`, never missing); nothing is left `pending`; a
//! `succeeded` entry and every 200 a caller saw name the venue's one order
//! for that key. A broken key is then told in full (its history at the
//! venue, its journal entry, the host log lines that name it), as that is
//! what finding the bug takes.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;

use serde_json::Value;

use super::host::log_lines_for;
use super::venue::{Accepted, MockVenue};

/// A journal entry's state (`?` when it has none).
pub(super) fn state_of(e: &Value) -> String {
    e["state"].as_str().unwrap_or("?").to_string()
}

/// The guarantees the run broke, one line each, and the keys (client ids)
/// they broke for: `book` is the venue's, `entries` the journal's at the
/// end, `seen` the order ids callers were answered with, per key.
pub(super) fn violations(
    book: &HashMap<String, Vec<Accepted>>,
    entries: &BTreeMap<String, Value>,
    seen: &HashMap<String, BTreeSet<u64>>,
) -> (Vec<String>, BTreeSet<String>) {
    let mut violations = Vec::new();
    let mut broken: BTreeSet<String> = BTreeSet::new();
    for (cid, orders) in book {
        if orders.len() > 1 {
            violations.push(format!(
                "client id {cid}: the venue accepted {} orders ({:?})",
                orders.len(),
                orders.iter().map(|o| o.order_id).collect::<Vec<_>>()
            ));
            broken.insert(cid.clone());
        }
        match entries.get(cid).map(state_of).as_deref() {
            Some("succeeded" | "in_doubt") => {}
            Some(state) => {
                violations.push(format!(
                    "client id {cid}: the venue accepted it, the journal says {state}"
                ));
                broken.insert(cid.clone());
            }
            None => {
                violations.push(format!(
                    "client id {cid}: the venue accepted it, the journal has no entry"
                ));
                broken.insert(cid.clone());
            }
        }
    }
    for (key, e) in entries {
        let ids: BTreeSet<u64> = book
            .get(key)
            .map(|v| v.iter().map(|o| o.order_id).collect())
            .unwrap_or_default();
        match state_of(e).as_str() {
            "pending" => {
                violations.push(format!("key {key}: still pending after the settle phase"));
                broken.insert(key.clone());
            }
            "succeeded" => {
                let recorded = e["result"]
                    .as_str()
                    .and_then(|r| serde_json::from_str::<Value>(r).ok())
                    .and_then(|r| r["order_id"].as_u64());
                if !recorded.is_some_and(|id| ids.contains(&id)) {
                    violations.push(format!(
                        "key {key}: journaled succeeded with order {recorded:?}, the venue has {ids:?}"
                    ));
                    broken.insert(key.clone());
                }
            }
            _ => {}
        }
    }
    for (key, got) in seen {
        let ids: BTreeSet<u64> = book
            .get(key)
            .map(|v| v.iter().map(|o| o.order_id).collect())
            .unwrap_or_default();
        if got.len() > 1 || !got.is_subset(&ids) {
            violations.push(format!(
                "key {key}: callers were answered with orders {got:?}, the venue has {ids:?}"
            ));
            broken.insert(key.clone());
        }
    }
    (violations, broken)
}

/// The story of the first few broken keys: what the venue did with each,
/// its journal entry and the host log lines (of `logs`) that name it.
pub(super) fn explain(
    broken: &BTreeSet<String>,
    venue: &MockVenue,
    entries: &BTreeMap<String, Value>,
    logs: &[PathBuf],
) -> Vec<String> {
    let mut out = Vec::new();
    for key in broken.iter().take(5) {
        let mut detail = format!("--- {key}\n  at the venue:\n");
        for h in venue.history(key) {
            detail.push_str(&format!("    {h}\n"));
        }
        detail.push_str(&format!(
            "  journal entry: {}\n  host log:\n",
            entries
                .get(key)
                .map_or("none".to_string(), |e| e.to_string())
        ));
        for l in log_lines_for(logs, key, 40) {
            detail.push_str(&format!("    {l}\n"));
        }
        out.push(detail);
    }
    out
}

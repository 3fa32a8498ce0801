//! Transactions as toncenter lists them (`raw.transaction`), and finding the
//! one a sent message caused.
//!
//! An external message's hash (what `/sendBocReturnHash` returns) is the
//! `in_msg.hash` of the wallet transaction that accepted it; newer servers
//! also give `in_msg.hash_norm`, the hash of the normalized message, which
//! wallets and explorers use to track a message whatever its signature
//! envelope (TON docs, "Message lookup"). Both are compared, as bytes, so
//! base64 and base64url spellings match.
//!
//! The search is bounded: one `/getTransactions` page of at most
//! [`crate::api::MAX_TRANSACTIONS`] of the account's newest transactions. Not
//! found is an answer (`found: false`), not an error: the message may not be
//! in a block yet, and the caller polls.

use resilience_guest::VenueError;
use serde_json::{Value, json};

use crate::params::check_hash;

/// The transaction list of a `/getTransactions` result.
pub fn list(result: &Value) -> Result<&Vec<Value>, VenueError> {
    result.as_array().ok_or_else(|| {
        VenueError::parse(format!(
            "result: expected a list of transactions, got {}",
            snippet(result)
        ))
    })
}

/// The transaction in `txs` whose incoming message has `hash` (32 bytes).
pub fn find<'a>(txs: &'a [Value], hash: &[u8]) -> Option<&'a Value> {
    txs.iter().find(|tx| {
        ["hash", "hash_norm"].iter().any(|key| {
            tx.pointer(&format!("/in_msg/{key}"))
                .and_then(Value::as_str)
                .and_then(|h| check_hash("in_msg.hash", h).ok())
                .is_some_and(|h| h == hash)
        })
    })
}

/// The answer of `find_transaction`.
pub fn found(tx: Option<&Value>, scanned: usize) -> Value {
    match tx {
        Some(tx) => json!({ "found": true, "scanned": scanned, "transaction": tx }),
        None => json!({ "found": false, "scanned": scanned }),
    }
}

fn snippet(v: &Value) -> String {
    v.to_string().chars().take(120).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: &str = "iGEO9MSNROalIPhXSg1OS1AsLWn1+m11NCD6gCvpW8U=";

    fn tx(lt: &str, in_hash: &str) -> Value {
        json!({"@type": "raw.transaction", "transaction_id": {"lt": lt, "hash": "x"},
               "in_msg": {"@type": "raw.message", "hash": in_hash}})
    }

    #[test]
    fn finds_by_in_msg_hash_in_either_alphabet() {
        let want = check_hash("h", H).unwrap();
        let txs = vec![
            tx("2", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="),
            tx("1", "iGEO9MSNROalIPhXSg1OS1AsLWn1-m11NCD6gCvpW8U"),
        ];
        assert_eq!(find(&txs, &want).unwrap()["transaction_id"]["lt"], "1");
        assert!(find(&txs[..1], &want).is_none());
    }

    #[test]
    fn finds_by_normalized_hash() {
        let want = check_hash("h", H).unwrap();
        let mut t = tx("3", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
        t["in_msg"]["hash_norm"] = json!(H);
        assert!(find(&[t], &want).is_some());
    }

    #[test]
    fn not_a_list_is_parse() {
        assert!(matches!(list(&json!({"a": 1})), Err(VenueError::Parse(_))));
    }
}

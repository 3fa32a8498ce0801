//! `GET /v1/journal`: the journaled mutating calls, a page at a time.

use serde::Deserialize;
use serde_json::Value;

/// Where a journaled call stands.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Deserialize)]
#[serde(from = "String")]
#[non_exhaustive]
pub enum JournalState {
    /// Claimed: a send may be in flight.
    Pending,
    /// The venue took the order; the result is recorded.
    Succeeded,
    /// Proven that no order exists under the key; a later call sends it again.
    Failed,
    /// A request may have reached the venue and its outcome is unknown yet.
    InDoubt,
    /// A state this client does not know, by name.
    Other(String),
}

impl JournalState {
    /// The wire name (`"in_doubt"` for [`JournalState::InDoubt`]).
    pub fn as_str(&self) -> &str {
        match self {
            JournalState::Pending => "pending",
            JournalState::Succeeded => "succeeded",
            JournalState::Failed => "failed",
            JournalState::InDoubt => "in_doubt",
            JournalState::Other(s) => s,
        }
    }
}

impl From<String> for JournalState {
    fn from(s: String) -> JournalState {
        match s.as_str() {
            "pending" => JournalState::Pending,
            "succeeded" => JournalState::Succeeded,
            "failed" => JournalState::Failed,
            "in_doubt" => JournalState::InDoubt,
            _ => JournalState::Other(s),
        }
    }
}

/// One journaled mutating call (one venue and idempotency key).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct JournalEntry {
    /// The venue.
    pub venue: String,
    /// The idempotency key the plugin chose (derived from the caller's
    /// `Idempotency-Key` header, e.g. Binance's client order id).
    pub key: String,
    /// The operation.
    pub operation: String,
    /// The params every send of the key uses, as JSON text.
    pub params: String,
    /// Digest of the operation and the caller's params: the same key with
    /// other params is a `conflict`.
    pub digest: String,
    /// Where it stands.
    pub state: JournalState,
    /// The result as JSON text (`succeeded`).
    #[serde(default)]
    pub result: Option<String>,
    /// The error kind (`failed`, `in_doubt`).
    #[serde(default)]
    pub error_kind: Option<String>,
    /// The error message (`failed`, `in_doubt`).
    #[serde(default)]
    pub error_message: Option<String>,
    /// When it was first claimed, in ms since the Unix epoch (the store's clock).
    pub created_ms: i64,
    /// When it last changed, in ms since the Unix epoch.
    pub updated_ms: i64,
    /// The claim number: 1 for the first send, +1 for each later claim.
    pub attempt: i64,
    /// `pending`: when the holder is presumed dead.
    #[serde(default)]
    pub lease_until_ms: i64,
    /// `in_doubt`: from when a reconcile's "not found" is proof.
    #[serde(default)]
    pub settle_at_ms: i64,
}

impl JournalEntry {
    /// [`JournalEntry::result`] parsed, when there is one and it is JSON.
    pub fn result_json(&self) -> Option<Value> {
        self.result
            .as_deref()
            .and_then(|r| serde_json::from_str(r).ok())
    }
}

/// One page of `GET /v1/journal`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct JournalPage {
    /// The journal's store (`sqlite` or `postgres`).
    #[serde(default)]
    pub backend: String,
    /// The entries, oldest first.
    pub entries: Vec<JournalEntry>,
    /// The cursor of the next page; `None` on the last page.
    #[serde(default)]
    pub next_cursor: Option<String>,
}

/// What to list: filters and paging for [`crate::Client::journal`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct JournalQuery {
    /// Only this venue.
    pub venue: Option<String>,
    /// Only entries in this state.
    pub state: Option<JournalState>,
    /// Entries per page, 1 to 1000 (the host's default is 100).
    pub limit: Option<u32>,
    /// Start after this cursor (a [`JournalPage::next_cursor`]).
    pub cursor: Option<String>,
}

impl JournalQuery {
    /// Every entry, the host's default page size.
    pub fn new() -> JournalQuery {
        JournalQuery::default()
    }

    /// Only `venue`'s entries.
    pub fn venue(mut self, venue: impl Into<String>) -> JournalQuery {
        self.venue = Some(venue.into());
        self
    }

    /// Only entries in `state`.
    pub fn state(mut self, state: JournalState) -> JournalQuery {
        self.state = Some(state);
        self
    }

    /// `limit` entries per page (1 to 1000).
    pub fn limit(mut self, limit: u32) -> JournalQuery {
        self.limit = Some(limit);
        self
    }

    /// The page after `cursor`.
    pub fn cursor(mut self, cursor: impl Into<String>) -> JournalQuery {
        self.cursor = Some(cursor.into());
        self
    }

    /// The query string, `?venue=...&state=...` (empty when no field is set).
    pub(crate) fn to_query(&self) -> String {
        let pairs: Vec<String> = [
            ("venue", self.venue.clone()),
            ("state", self.state.as_ref().map(|s| s.as_str().to_string())),
            ("limit", self.limit.map(|l| l.to_string())),
            ("cursor", self.cursor.clone()),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| format!("{k}={}", crate::encode(&v))))
        .collect();
        if pairs.is_empty() {
            String::new()
        } else {
            format!("?{}", pairs.join("&"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_string_encodes_every_set_field() {
        assert_eq!(JournalQuery::new().to_query(), "");
        let q = JournalQuery::new()
            .venue("a b")
            .state(JournalState::InDoubt)
            .limit(2)
            .cursor("x=/+");
        assert_eq!(
            q.to_query(),
            "?venue=a%20b&state=in_doubt&limit=2&cursor=x%3D%2F%2B"
        );
    }

    #[test]
    fn an_unknown_state_is_kept_by_name() {
        let s: JournalState = serde_json::from_str("\"archived\"").unwrap();
        assert_eq!(s, JournalState::Other("archived".into()));
        let s: JournalState = serde_json::from_str("\"in_doubt\"").unwrap();
        assert_eq!(s, JournalState::InDoubt);
    }
}

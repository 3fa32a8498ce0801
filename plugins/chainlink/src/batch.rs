//! One `send-all-to` round trip: requests pushed in order, each through the
//! host's failover or pinned to one endpoint, answers taken by index.
//!
//! Every read of a call that does not depend on another read goes into the
//! same batch, so a call costs one round trip (two or three only when the
//! aggregator bounds must be read, see [`crate::bounds`]). The host bounds a
//! `send-all-to` at [`MAX_PER_SEND`] requests: [`crate::params::MAX_PAIRS`]
//! keeps a first call's batch under it, and a larger one (a quorum over many
//! endpoints) goes out in chunks of that size, one after the other.

use resilience_guest::prelude::*;
use serde_json::Value;

use crate::rpc;

/// Most requests the host takes in one `send-all-to`.
pub const MAX_PER_SEND: usize = 64;

/// Requests of one round trip, in the order they will be answered.
#[derive(Debug, Default)]
pub struct Batch(Vec<(Option<u32>, Request)>);

impl Batch {
    /// Add `req`, sent through the host's failover; its answer will have the
    /// returned index.
    pub fn push(&mut self, req: Request) -> usize {
        self.0.push((None, req));
        self.0.len() - 1
    }

    /// Add `req`, sent to endpoint `endpoint` only.
    pub fn push_to(&mut self, endpoint: u32, req: Request) -> usize {
        self.0.push((Some(endpoint), req));
        self.0.len() - 1
    }

    /// Send every request at once, in chunks of [`MAX_PER_SEND`] (nothing
    /// when empty).
    pub fn send(self) -> Answers {
        let mut answers = Vec::with_capacity(self.0.len());
        let mut requests = self.0.into_iter().peekable();
        while requests.peek().is_some() {
            let chunk: Vec<(Option<u32>, Request)> = requests.by_ref().take(MAX_PER_SEND).collect();
            answers.extend(Request::send_all_to(chunk).into_iter().map(Some));
        }
        Answers {
            answers,
            saw_empty: false,
        }
    }
}

/// The answers of one round trip, each taken once.
#[derive(Debug, Default)]
pub struct Answers {
    answers: Vec<Option<Result<Response, SendError>>>,
    /// Some `eth_call` came back `0x` (no contract code on this chain).
    saw_empty: bool,
}

impl Answers {
    /// The JSON-RPC `result` of request `i`; `what` names it in messages.
    pub fn result(&mut self, i: usize, what: &str) -> Result<Value, VenueError> {
        let resp = self
            .answers
            .get_mut(i)
            .and_then(Option::take)
            .ok_or_else(|| VenueError::parse(format!("{what}: the host returned no answer")))??;
        rpc::result(&resp, what)
    }

    /// The `0x…` data of `eth_call` number `i`.
    pub fn data(&mut self, i: usize, what: &str) -> Result<String, VenueError> {
        let result = self.result(i, what)?;
        if result.as_str() == Some("0x") {
            self.saw_empty = true;
        }
        rpc::hex_result(&result, what)
    }

    /// Whether an `eth_call` answered no data: the provider may be on
    /// another chain (see [`crate::chain_check`]).
    pub fn saw_empty(&self) -> bool {
        self.saw_empty
    }
}

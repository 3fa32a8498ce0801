//! Order chaos: a randomized, seeded, bounded test of the journal's promise
//! that the host places **at most one order per (venue, idempotency key)**,
//! whatever its callers, the network and its own processes do.
//!
//! What is simulated, and why:
//!
//! - **A Binance USDⓈ-M venue** ([`MockVenue`], raw HTTP/1.1 on loopback, no
//!   signature checks) that keeps a book of every order it accepted, per
//!   client order id. Like real Binance for market orders (they fill at once,
//!   and `newClientOrderId` is unique only among *open* orders), it accepts a
//!   second order with an id it has already filled, so a double send by the
//!   host shows up as two orders in the book instead of being masked by a
//!   `-4116`. Each New Order request meets one [`CreateFault`] drawn from the
//!   seed: answered; answered slowly (still within the attempt timeout);
//!   accepted and the connection dropped (FIN or RST) without an answer;
//!   accepted and answered only after the host's attempt timeout; either of
//!   those two with the order invisible to lookups for a while (a lagging
//!   read path, always shorter than the settle window); 503 without
//!   accepting; or a definitive refusal (`400 -2019`) without accepting. The
//!   unanswered orders leave the host in doubt about an order that exists
//!   (it must find it, never send again); the 503 leaves it in doubt about
//!   one that does not (after the settle window it may send again); the
//!   refusal fails the call (the next call sends again). Query
//!   Order (the plugin's `reconcile` and its `-4116` follow-up) finds an
//!   order by `origClientOrderId`, says `400 -2013` when it has none (or none
//!   visible yet), and now and then answers 503.
//! - **The real host binary** as child processes on one journal: the
//!   embedded SQLite file (one host) or a throwaway PostgreSQL shared by
//!   several replicas. At random intervals ([`ChaosConfig::kill_every`]) one
//!   of them is SIGKILLed and restarted on the same journal; half the kills
//!   wait for a moment when the venue holds an accepted, unanswered order, so
//!   that hosts die holding claims whose orders exist. Such claims must be
//!   found again through lease expiry, the sweeper and the venue's lookup.
//! - **Callers** that keep placing orders for a small set of keys, so
//!   concurrent retries of one key collide, alternating between replicas;
//!   each key always with the same params and the same way of naming it
//!   (`Idempotency-Key` header, `client_order_id` param, or both). They retry
//!   409s after the `retry_after_ms` hint and 5xx/504/no answer after a short
//!   pause, and some of them hang up (close the connection) after a random
//!   short time. A key is retired now and then after it succeeded, so new
//!   keys keep arriving.
//!
//! At the end the callers stop, one host is left running until its sweeper
//! has settled every intent (no `pending`, no `in_doubt` left, or a bound of
//! a lease, a settle window and a few sweeps), and the run is judged **at the
//! venue**: at most one accepted order per client id; every client id the
//! venue accepted is journaled `succeeded` or `in_doubt` (never `failed`,
//! never missing); nothing is left `pending`; a `succeeded` entry and every
//! 200 a caller saw name the venue's one order for that key. A violation
//! panics with `seed=N`, the key's history at the venue, its journal entry
//! and the host log lines that name it, and keeps the run's folder.
//!
//! The seed fixes every random choice of each actor (the venue, each caller,
//! the killer), drawn in turn from its own stream; under real concurrency the
//! interleaving still varies, so a seed reproduces the mix and rhythm of
//! faults rather than one exact schedule.
//!
//! The harness is split by concern: `config` and `report` (what a run is
//! asked to do and what it tells), `rng` (the seeded streams), `venue` (the
//! mock exchange), `client` (the raw HTTP exchange a caller uses), `host`
//! (the host processes and their logs), `callers`, `journal` (reading the
//! journal through the API), `judge` (the verdict at the venue) and `run`
//! (the phases of a run, in order).

mod callers;
mod client;
mod config;
mod host;
mod journal;
mod judge;
mod report;
mod run;
mod venue;

use std::time::Duration;

pub use crate::seeded::Rng;
pub use config::ChaosConfig;
pub use host::host_binary;
pub use report::ChaosReport;
pub use run::{observe, run};
pub use venue::{CreateFault, MockVenue};

/// The venue's name in the host's config (and in the journal).
const VENUE: &str = "binance";
/// What a caller that does not hang up waits for an answer at most.
const PATIENCE: Duration = Duration::from_secs(5);

/// Milliseconds since the Unix epoch (the venue's clock, and the seed-free
/// part of a run's key prefix).
fn now_unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Where `needle` first occurs in `haystack` (the end of an HTTP head, for
/// the venue reading requests and the client reading answers).
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

//! A small basis watcher on the resilience host: every few seconds it reads
//! Binance's BTCUSDT mark price and Chainlink's BTC/USD answer at once, and
//! reports the basis between them; a reading older than the feed allows
//! (`stale_data`) or a venue that is down skips that round.
//!
//! ```text
//! cargo xtask demo &                                    # simulated venues on 127.0.0.1:8080
//! cargo run -p resilience-client --example daemon -- --once
//! cargo run -p resilience-client --example daemon -- --url http://127.0.0.1:8080 --interval 2
//! ```
//!
//! `RESILIENCE_TOKEN` is sent as the bearer token when set. The client does
//! not retry (the host already did): the daemon decides by error kind.

use std::time::Duration;

use resilience_client::{Client, Error, ErrorKind};
use serde_json::{Value, json};

/// What one round saw.
struct Reading {
    mark: f64,
    oracle: f64,
}

fn number(v: &Value, field: &str) -> Result<f64, Error> {
    v[field]
        .as_str()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidResponse,
                format!("no decimal {field} in {v}"),
            )
        })
}

async fn round(host: &Client) -> Result<Reading, Error> {
    let (symbol, pair) = (json!({"symbol": "BTCUSDT"}), json!({"pair": "BTC/USD"}));
    let (funding, price) = tokio::join!(
        host.call("binance", "get_funding_rate", &symbol, None),
        host.call("chainlink", "get_price", &pair, None),
    );
    Ok(Reading {
        mark: number(&funding?, "mark_price")?,
        oracle: number(&price?, "price")?,
    })
}

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let url = arg("--url").unwrap_or_else(|| "http://127.0.0.1:8080".into());
    let interval = Duration::from_secs_f64(
        arg("--interval")
            .and_then(|s| s.parse().ok())
            .unwrap_or(5.0),
    );
    let once = std::env::args().any(|a| a == "--once");
    let token = std::env::var("RESILIENCE_TOKEN").ok();
    let host = match Client::new(&url, token.as_deref()) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("{e}");
            return std::process::ExitCode::from(2);
        }
    };
    loop {
        let mut wait = interval;
        let ok = match round(&host).await {
            Ok(r) => {
                let basis_bps = (r.mark - r.oracle) / r.oracle * 10_000.0;
                println!(
                    "mark {:.2} oracle {:.2} basis {basis_bps:+.1} bps",
                    r.mark, r.oracle
                );
                true
            }
            Err(e) => {
                match e.kind() {
                    // The venue told the host to back off: wait as long as it said.
                    ErrorKind::RateLimited => wait = e.retry_after().unwrap_or(interval),
                    // A fix is needed, not a retry.
                    ErrorKind::Unauthorized
                    | ErrorKind::InvalidParams
                    | ErrorKind::UnknownVenue
                    | ErrorKind::UnknownOperation => {
                        eprintln!("stopping: {e}");
                        return std::process::ExitCode::from(2);
                    }
                    // Breakers open, timeouts, stale data, the host away: next round.
                    _ => {}
                }
                eprintln!("round skipped: {e}");
                false
            }
        };
        if once {
            return if ok {
                std::process::ExitCode::SUCCESS
            } else {
                std::process::ExitCode::FAILURE
            };
        }
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            _ = tokio::signal::ctrl_c() => return std::process::ExitCode::SUCCESS,
        }
    }
}

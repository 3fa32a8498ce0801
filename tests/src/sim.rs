//! Simulated venues on loopback for the demo, the soak and the benches: TON
//! (toncenter v2), Binance USDⓈ-M, Polymarket CLOB and a Chainlink JSON-RPC
//! provider with realistic bodies, each with a fault plan. [`Sim::start`]
//! returns the `[venues.*]` config for the host and the calls a workload
//! makes. Request recording is off, so a long run does not grow the mocks.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use wiremock::matchers::{method, path_regex};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::faults::refused_addr;

/// Which faults the simulated venues inject.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Faults {
    /// The demo's script: TON's first endpoint is dead (failover) and its
    /// second has latency spikes; Binance answers its first 8 requests with
    /// 503 (retries, then the breaker opens and recovers); Polymarket
    /// rate-limits its first 3 requests with `429 Retry-After: 1`;
    /// Chainlink's first provider is overloaded (JSON-RPC -32005: failover
    /// to the second).
    Demo,
    /// Steady random faults from a seed (deterministic per request number):
    /// every venue answers 3% of requests with 503 (TON's first endpoint
    /// 10%) and delays 2% by 200 ms; 0.5% of Polymarket's are
    /// `429 Retry-After: 1`; Chainlink's first provider is overloaded
    /// (JSON-RPC -32005) 5% of the time.
    Random { seed: u64 },
    /// No faults; every answer comes after this delay (holds requests in flight).
    Slow(Duration),
}

/// The running simulated venues.
#[derive(Debug)]
pub struct Sim {
    /// `[venues.ton]`, `[venues.binance]`, `[venues.polymarket]`,
    /// `[venues.chainlink]` for the host's config.
    pub config: String,
    servers: Vec<MockServer>,
    answered: Vec<std::sync::Arc<AtomicU64>>,
}

/// One call of the workload: venue, operation, params.
pub type Call = (&'static str, &'static str, Value);

/// The mixed workload: one read per venue, in turn.
pub fn workload() -> Vec<Call> {
    vec![
        (
            "ton",
            "get_balance",
            json!({"address": "EQDfvVvoSX_cDJ_L38Z2hkhA3fitZCPW1WV9mw6CcNbIrH-Q"}),
        ),
        ("binance", "get_funding_rate", json!({"symbol": "BTCUSDT"})),
        ("polymarket", "get_midpoint", json!({"token_id": "1234"})),
        ("chainlink", "get_price", json!({"pair": "ETH/USD"})),
    ]
}

/// Plugins the simulated venues need.
pub const PLUGINS: [&str; 4] = ["ton", "binance", "polymarket", "chainlink"];

/// Environment with the (fake) secrets the config refers to.
pub fn env() -> Vec<(String, String)> {
    [
        ("SIM_KEY", "sim-key"),
        ("SIM_SECRET", "ZGVtby1zZWNyZXQ="),
        (
            "SIM_PK",
            // Hardhat's well-known test account #0: not a real key.
            "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
        ),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// What one simulated venue does with request number `n`.
#[derive(Debug, Clone, Copy)]
enum Plan {
    /// Answer normally after `base`; every `every`-th answer after `spike`.
    Spiky {
        every: u64,
        spike: Duration,
        base: Duration,
    },
    /// The first `n` answers are this status (503 or 429), then normal.
    First { n: u64, status: u16 },
    /// Random: 503, 429, a 200 ms delay, or a JSON-RPC overload answer,
    /// with these probabilities per request, from a seed.
    Random {
        seed: u64,
        p503: f64,
        p429: f64,
        pslow: f64,
        poverload: f64,
    },
    /// Normal answers after a fixed delay.
    Delay(Duration),
    /// Always a JSON-RPC -32005 overload answer.
    Overloaded,
}

/// Deterministic uniform in [0, 1) for request `n` (xorshift of seed and n).
fn coin(seed: u64, n: u64) -> f64 {
    let mut x = seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x2545_F491_4F6C_DD1D;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    (x >> 11) as f64 / (1u64 << 53) as f64
}

struct Venue {
    plan: Plan,
    n: AtomicU64,
    answered: std::sync::Arc<AtomicU64>,
    ok: fn(&Request) -> ResponseTemplate,
}

impl Respond for Venue {
    fn respond(&self, r: &Request) -> ResponseTemplate {
        let n = self.n.fetch_add(1, Ordering::Relaxed);
        self.answered.fetch_add(1, Ordering::Relaxed);
        let unavailable = || {
            ResponseTemplate::new(503)
                .set_body_json(json!({"code": -1001, "msg": "Internal error"}))
        };
        let limited = || {
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "1")
                .set_body_json(json!({"error": "rate limited"}))
        };
        match self.plan {
            Plan::Spiky { every, spike, base } => {
                let delay = if every > 0 && n % every == every - 1 {
                    spike
                } else {
                    base
                };
                (self.ok)(r).set_delay(delay)
            }
            Plan::First { n: first, status } if n < first => {
                if status == 429 {
                    limited()
                } else {
                    unavailable()
                }
            }
            Plan::First { .. } => (self.ok)(r),
            Plan::Random {
                seed,
                p503,
                p429,
                pslow,
                poverload,
            } => {
                let x = coin(seed, n);
                if x < p503 {
                    unavailable()
                } else if x < p503 + p429 {
                    limited()
                } else if x < p503 + p429 + poverload {
                    overloaded(r)
                } else if x < p503 + p429 + poverload + pslow {
                    (self.ok)(r).set_delay(Duration::from_millis(200))
                } else {
                    (self.ok)(r)
                }
            }
            Plan::Delay(d) => (self.ok)(r).set_delay(d),
            Plan::Overloaded => overloaded(r),
        }
    }
}

fn overloaded(r: &Request) -> ResponseTemplate {
    let id = serde_json::from_slice::<Value>(&r.body).unwrap_or(Value::Null)["id"].clone();
    ResponseTemplate::new(200).set_body_json(
        json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32005, "message": "limit exceeded"}}),
    )
}

fn ton_ok(_: &Request) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"ok": true, "result": "5610477699352"}))
}

fn binance_ok(_: &Request) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"symbol": "BTCUSDT", "markPrice": "11793.63104562",
        "indexPrice": "11781.80495970", "estimatedSettlePrice": "11781.16138815", "lastFundingRate": "0.00038246",
        "interestRate": "0.00010000", "nextFundingTime": 1597392000000u64, "time": 1597370495002u64}))
}

fn polymarket_ok(_: &Request) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"mid_price": "0.45"}))
}

/// A Chainlink provider on Ethereum mainnet (`eth_chainId` 1): for any address,
/// latestRoundData updated 5 s ago, decimals 8, an aggregator and its bounds.
fn feed_ok(r: &Request) -> ResponseTemplate {
    let call: Value = serde_json::from_slice(&r.body).unwrap_or(Value::Null);
    let id = call["id"].clone();
    if call["method"] == "eth_chainId" {
        return ResponseTemplate::new(200)
            .set_body_json(json!({"jsonrpc": "2.0", "id": id, "result": "0x1"}));
    }
    let data = call["params"][0]["data"].as_str().unwrap_or_default();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs() as u128
        - 5;
    let round = (6u128 << 64) | 0x4716;
    let result = if data == "0x313ce567" {
        format!("0x{:064x}", 8)
    } else if data == "0x245a7bfc" {
        // aggregator(): an address word.
        format!("0x{:064x}", 0xA66Eu128)
    } else if data == "0x22adbc78" {
        format!("0x{:064x}", 1u128) // minAnswer
    } else if data == "0x70da2f67" {
        format!("0x{:064x}", u128::MAX >> 8) // maxAnswer
    } else {
        let words = [round, 352_098_000_000u128, now, now, round];
        format!(
            "0x{}",
            words
                .iter()
                .map(|w| format!("{w:064x}"))
                .collect::<String>()
        )
    };
    ResponseTemplate::new(200).set_body_json(json!({"jsonrpc": "2.0", "id": id, "result": result}))
}

impl Sim {
    /// Start the venues. `venue_extra` is appended to every venue's table
    /// (e.g. `pool = { max_connections_per_host = 256 }`).
    pub async fn start(faults: Faults, venue_extra: &str) -> Sim {
        let mut sim = Sim {
            config: String::new(),
            servers: Vec::new(),
            answered: Vec::new(),
        };
        let ms = Duration::from_millis;
        let random = |seed: u64, p503: f64, p429: f64, poverload: f64| Plan::Random {
            seed,
            p503,
            p429,
            pslow: 0.02,
            poverload,
        };
        // TON's two endpoints, Binance, Polymarket, Chainlink's two providers.
        let plans = match faults {
            Faults::Demo => [
                Plan::Delay(Duration::ZERO), // replaced by a refused address below
                Plan::Spiky {
                    every: 10,
                    spike: ms(300),
                    base: ms(5),
                },
                Plan::First { n: 8, status: 503 },
                Plan::First { n: 3, status: 429 },
                Plan::Overloaded,
                Plan::Delay(Duration::ZERO),
            ],
            Faults::Random { seed } => [
                random(seed ^ 1, 0.10, 0.0, 0.0),
                random(seed ^ 2, 0.03, 0.0, 0.0),
                random(seed ^ 3, 0.03, 0.0, 0.0),
                random(seed ^ 4, 0.03, 0.005, 0.0),
                random(seed ^ 5, 0.03, 0.0, 0.05),
                random(seed ^ 6, 0.03, 0.0, 0.0),
            ],
            Faults::Slow(d) => [Plan::Delay(d); 6],
        };
        let ton1 = match faults {
            Faults::Demo => format!("http://{}", refused_addr().await),
            _ => sim.venue(plans[0], None, ton_ok).await,
        };
        let ton2 = sim.venue(plans[1], None, ton_ok).await;
        let binance = sim.venue(plans[2], None, binance_ok).await;
        let poly = sim.venue(plans[3], None, polymarket_ok).await;
        let rpc1 = sim.venue(plans[4], Some("POST"), feed_ok).await;
        let rpc2 = sim.venue(plans[5], Some("POST"), feed_ok).await;
        // Slow venues answer after their delay: give attempts room for it.
        let timeout_ms = match faults {
            Faults::Slow(d) => d.as_millis() + 5_000,
            _ => 1_000,
        };
        sim.config = format!(
            "[venues.ton]\nplugin = \"ton\"\nendpoints = [\"{ton1}/api/v2\", \"{ton2}/api/v2\"]\ntimeout_ms = {timeout_ms}\n\
             retry = {{ max_attempts = 3, base_delay_ms = 50 }}\n{venue_extra}\n\
             [venues.binance]\nplugin = \"binance\"\nendpoints = [\"{binance}\"]\ntimeout_ms = {timeout_ms}\n\
             retry = {{ max_attempts = 3, base_delay_ms = 20 }}\nbreaker = {{ failure_threshold = 8, success_threshold = 2, open_ms = 1000 }}\n\
             secrets = {{ api_key = {{ env = \"SIM_KEY\" }}, api_secret = {{ env = \"SIM_SECRET\" }} }}\n{venue_extra}\n\
             [venues.polymarket]\nplugin = \"polymarket\"\nendpoints = [\"{poly}\"]\ntimeout_ms = {timeout_ms}\n\
             retry = {{ max_attempts = 3, base_delay_ms = 20 }}\n\
             settings = {{ address = \"0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266\", owner = \"sim\" }}\n\
             secrets = {{ api_key = {{ env = \"SIM_KEY\" }}, api_secret = {{ env = \"SIM_SECRET\" }}, passphrase = {{ env = \"SIM_KEY\" }}, private_key = {{ env = \"SIM_PK\" }} }}\n{venue_extra}\n\
             [venues.chainlink]\nplugin = \"chainlink\"\nendpoints = [\"{rpc1}\", \"{rpc2}\"]\ntimeout_ms = {timeout_ms}\n\
             retry = {{ max_attempts = 3, base_delay_ms = 10, jsonrpc_overload_codes = [-32005], failover_on_rate_limit = true }}\n{venue_extra}\n",
        );
        sim
    }

    async fn venue(
        &mut self,
        plan: Plan,
        only: Option<&str>,
        ok: fn(&Request) -> ResponseTemplate,
    ) -> String {
        let server = MockServer::builder()
            .disable_request_recording()
            .start()
            .await;
        let answered = std::sync::Arc::new(AtomicU64::new(0));
        let responder = Venue {
            plan,
            n: AtomicU64::new(0),
            answered: answered.clone(),
            ok,
        };
        let mock = match only {
            Some(m) => Mock::given(method(m)),
            None => Mock::given(path_any()),
        };
        mock.respond_with(responder).mount(&server).await;
        let uri = server.uri();
        self.servers.push(server);
        self.answered.push(answered);
        uri
    }

    /// Requests the simulated venues have received so far (a slow venue
    /// counts a request on arrival, before its delay).
    pub fn answered(&self) -> u64 {
        self.answered
            .iter()
            .map(|a| a.load(Ordering::Relaxed))
            .sum()
    }
}

fn path_any() -> wiremock::matchers::PathRegexMatcher {
    path_regex(".*")
}

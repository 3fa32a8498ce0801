//! Whole operations against the SDK's mock host: the exact requests sent,
//! and every answer the plugin must read or refuse.

use super::*;
use crate::round::tests::round_hex;
use resilience_guest::testing::{self, Instance, MockHost};

/// The mock clock, in ms and s.
const NOW_MS: u64 = 1_718_186_123_000;
const NOW_S: u64 = NOW_MS / 1000;
const ETH: &str = "0x5f4eC3Df9cbd43714FE2740f5E3616155c5b8419";
const BTC: &str = "0xF4030086522a5bEEa4988F8cA5B36dbC97BeE88c";
const USDC: &str = "0x8fFfFfd4AfB6115b954Bd326cbe7B4BA576818f6";
/// Phase 6, aggregator round 0x4716 (the vectors' round id).
const ROUND: u128 = (6 << 64) | 0x4716;
const EIGHT: &str = "0x0000000000000000000000000000000000000000000000000000000000000008";

fn ok(result: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "result": result})
}

fn rpc_error(code: i64, message: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "error": {"code": code, "message": message}})
}

/// A fresh answer of 3520.98 (8 decimals) updated `age_s` ago.
fn fresh(age_s: u64) -> Value {
    ok(&round_hex(
        ROUND,
        352_098_000_000,
        NOW_S - age_s,
        NOW_S - age_s,
        ROUND,
    ))
}

fn eth_call_body(to: &str, data: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "eth_call", "params": [{"to": to, "data": data}, "latest"]})
}

fn host() -> MockHost {
    MockHost::new().now_ms(NOW_MS)
}

/// The aggregator behind every proxy in these tests.
const AGG: &str = "0x00000000000000000000000000000000000a6601";
/// minAnswer 1 and maxAnswer 10^12 (10000.00000000 at 8 decimals).
const MIN: u128 = 1;
const MAX: u128 = 1_000_000_000_000;

fn word(v: u128) -> String {
    format!("0x{v:064x}")
}

fn agg_word() -> Value {
    ok(&format!("0x{:0>64}", AGG.trim_start_matches("0x")))
}

/// The answers of a first `get_price` on Ethereum, in request order: round
/// trip 1 (`eth_chainId`, `latestRoundData`, `decimals`, `aggregator`), then
/// round trip 3 (`minAnswer`, `maxAnswer`).
fn first_call(round: Value) -> Vec<Value> {
    vec![
        ok("0x1"),
        round,
        ok(EIGHT),
        agg_word(),
        ok(&word(MIN)),
        ok(&word(MAX)),
    ]
}

/// A mock answering, in order, each of `answers` to `POST /`.
fn mock_answering(answers: impl IntoIterator<Item = Value>) -> MockHost {
    answers
        .into_iter()
        .fold(host(), |m, a| m.respond(Method::Post, "/", 200, a))
}

fn price(pair: &str) -> Value {
    json!({ "pair": pair })
}

/// The `data` (or method) of every request sent, in order.
fn sent_calls(mock: &MockHost) -> Vec<String> {
    mock.requests()
        .iter()
        .map(|r| {
            let b = r.body_json();
            match b["params"][0]["data"].as_str() {
                Some(d) => format!("{} {}", b["params"][0]["to"].as_str().unwrap(), d),
                None => b["method"].as_str().unwrap().to_string(),
            }
        })
        .collect()
}

fn code(err: &VenueError) -> Option<String> {
    match err {
        VenueError::Upstream(u) => u.code.clone(),
        _ => None,
    }
}

#[test]
fn operations_table_lists_the_five_operations_none_mutating() {
    let ops = Chainlink::operations();
    assert_eq!(
        ops.names(),
        [
            "get_price",
            "get_prices",
            "get_round",
            "get_eth_balance",
            "get_feed"
        ]
    );
    let info = testing::describe::<Chainlink>();
    assert!(
        info.operations
            .iter()
            .all(|o| !o.mutating && o.params_schema != "{}")
    );
}

#[test]
fn first_get_price_checks_the_chain_and_reads_round_decimals_and_bounds() {
    let mock = mock_answering(first_call(fresh(60)));
    let out = testing::call::<Chainlink>(&mock, "get_price", price("eth/usd")).unwrap();
    assert_eq!(
        out,
        json!({
            "pair": "ETH/USD",
            "chain": "ethereum",
            "price": "3520.98",
            "decimals": 8,
            "round_id": "110680464442257327894",
            "updated_at": NOW_S - 60,
            "age_s": 60,
            "at_bound": false,
        })
    );
    let sent = mock.requests();
    assert_eq!(
        sent[0].body_json(),
        json!({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []})
    );
    assert_eq!(
        sent_calls(&mock)[1..],
        [
            format!("{ETH} 0xfeaf968c"),
            format!("{ETH} 0x313ce567"),
            format!("{ETH} 0x245a7bfc"),
            format!("{AGG} 0x22adbc78"),
            format!("{AGG} 0x70da2f67"),
        ]
    );
    for req in &sent {
        assert_eq!((req.method, req.path.as_str()), (Method::Post, "/"));
        assert_eq!(req.header("content-type"), Some("application/json"));
        assert!(req.idempotent, "reads only: the host may retry them");
        assert_eq!(req.weight, 1);
    }
    assert_eq!(sent[1].body_json(), eth_call_body(ETH, "0xfeaf968c"));
    assert!(mock.pending().is_empty());
}

#[test]
fn second_call_sends_only_latest_round_data() {
    let mut answers = first_call(fresh(1));
    answers.push(fresh(2));
    let mock = mock_answering(answers);
    let mut instance = Instance::<Chainlink>::new();
    instance.call(&mock, "get_price", price("ETH/USD")).unwrap();
    let second = instance.call(&mock, "get_price", price("ETH/USD")).unwrap();
    assert_eq!(second["price"], "3520.98");
    assert_eq!(second["age_s"], 2);
    assert_eq!(second["at_bound"], false);
    assert_eq!(mock.requests().len(), 7);
    assert_eq!(sent_calls(&mock)[6], format!("{ETH} 0xfeaf968c"));
}

#[test]
fn answer_at_a_bound_is_flagged() {
    for (answer, flagged) in [(MIN, true), (MIN + 1, false), (MAX - 1, false), (MAX, true)] {
        let round = ok(&round_hex(ROUND, answer as i128, NOW_S, NOW_S, ROUND));
        let mock = mock_answering(first_call(round));
        let out = testing::call::<Chainlink>(&mock, "get_price", price("ETH/USD")).unwrap();
        assert_eq!(out["at_bound"], flagged, "{answer}");
    }
}

#[test]
fn bounds_are_read_again_when_the_phase_changes() {
    let next_phase = (7u128 << 64) | 1;
    let new_round = ok(&round_hex(
        next_phase,
        MAX as i128,
        NOW_S,
        NOW_S,
        next_phase,
    ));
    let mut answers = first_call(fresh(1));
    // Second call: round of phase 7; then aggregator(), then the new bounds
    // (this aggregator's max is higher, so the answer is not at a bound).
    answers.extend([new_round, agg_word(), ok(&word(MIN)), ok(&word(MAX * 10))]);
    let mock = mock_answering(answers);
    let mut instance = Instance::<Chainlink>::new();
    instance.call(&mock, "get_price", price("ETH/USD")).unwrap();
    let out = instance.call(&mock, "get_price", price("ETH/USD")).unwrap();
    assert_eq!(out["at_bound"], false);
    assert_eq!(
        sent_calls(&mock)[6..],
        [
            format!("{ETH} 0xfeaf968c"),
            format!("{ETH} 0x245a7bfc"),
            format!("{AGG} 0x22adbc78"),
            format!("{AGG} 0x70da2f67"),
        ]
    );
    assert!(mock.pending().is_empty());
}

#[test]
fn aggregator_without_bounds_gives_null_at_bound_and_is_not_asked_again() {
    let mut answers = first_call(fresh(1));
    answers.truncate(3);
    answers.push(rpc_error(3, "execution reverted"));
    answers.push(fresh(1));
    let mock = mock_answering(answers);
    let mut instance = Instance::<Chainlink>::new();
    let out = instance.call(&mock, "get_price", price("ETH/USD")).unwrap();
    assert_eq!(out["at_bound"], Value::Null);
    assert_eq!(out["price"], "3520.98");
    let out = instance.call(&mock, "get_price", price("ETH/USD")).unwrap();
    assert_eq!(out["at_bound"], Value::Null);
    assert_eq!(mock.requests().len(), 5);
}

#[test]
fn provider_on_another_chain_is_wrong_chain() {
    // An Arbitrum provider (0xa4b1 = 42161) in an Ethereum venue: its feed
    // reads answer no data, but the error names the chains.
    let mock = mock_answering([ok("0xa4b1"), ok("0x"), ok("0x"), ok("0x")]);
    let err = testing::call::<Chainlink>(&mock, "get_price", price("ETH/USD")).unwrap_err();
    assert_eq!(code(&err).as_deref(), Some("wrong_chain"), "{err:?}");
    assert!(err.to_string().contains("42161"), "{err}");
}

#[test]
fn chain_is_checked_once_and_again_after_an_empty_answer() {
    let mut answers = first_call(fresh(1));
    answers.push(ok("0x")); // second call: latestRoundData answers no data
    answers.extend([ok("0x1"), fresh(1)]); // third call: chain asked again
    let mock = mock_answering(answers);
    let mut instance = Instance::<Chainlink>::new();
    instance.call(&mock, "get_price", price("ETH/USD")).unwrap();
    assert!(matches!(
        instance.call(&mock, "get_price", price("ETH/USD")),
        Err(VenueError::Parse(m)) if m.contains("no contract code")
    ));
    instance.call(&mock, "get_price", price("ETH/USD")).unwrap();
    let calls = sent_calls(&mock);
    assert_eq!(calls.iter().filter(|c| *c == "eth_chainId").count(), 2);
    assert_eq!(calls[7], "eth_chainId");
}

fn sequencer_round(answer: i128, started_at: u64) -> Value {
    ok(&round_hex(1, answer, started_at, started_at, 1))
}

const ARB_ETH: &str = "0x639Fe6ab55C921f74e7fac1ee960C0B6293ba612";
const ARB_SEQ: &str = "0xFdB631F5EE196F0ed6FAa767959853A9F217697D";

#[test]
fn l2_price_needs_an_up_sequencer_past_the_grace_period() {
    let mock = mock_answering([
        ok("0xa4b1"),
        sequencer_round(0, NOW_S - 3600),
        fresh(5),
        ok(EIGHT),
        agg_word(),
        ok(&word(MIN)),
        ok(&word(MAX)),
    ])
    .setting("chain", "arbitrum");
    let out = testing::call::<Chainlink>(&mock, "get_price", price("ETH/USD")).unwrap();
    assert_eq!(out["chain"], "arbitrum");
    assert_eq!(out["price"], "3520.98");
    assert_eq!(
        sent_calls(&mock)[..3],
        [
            "eth_chainId".to_string(),
            format!("{ARB_SEQ} 0xfeaf968c"),
            format!("{ARB_ETH} 0xfeaf968c"),
        ]
    );
}

#[test]
fn sequencer_down_and_grace_period_refuse_every_pair() {
    for (status, started, want) in [
        (1, NOW_S - 10_000, "sequencer_down"),
        (0, 0, "sequencer_down"),
        (0, NOW_S - 3599, "grace_period"),
    ] {
        let mock = mock_answering([
            ok("0x2105"),
            sequencer_round(status, started),
            fresh(5),
            ok(EIGHT),
            agg_word(),
        ])
        .setting("chain", "base");
        let err = testing::call::<Chainlink>(
            &mock,
            "get_prices",
            json!({"pairs": ["ETH/USD", "BTC/USD"]}),
        )
        .unwrap_err();
        assert_eq!(
            code(&err).as_deref(),
            Some(want),
            "{status} {started}: {err:?}"
        );
    }
}

#[test]
fn grace_period_setting_shortens_the_wait() {
    let mock = mock_answering([
        ok("0xa"),
        sequencer_round(0, NOW_S - 60),
        fresh(5),
        ok(EIGHT),
        agg_word(),
        ok(&word(MIN)),
        ok(&word(MAX)),
    ])
    .setting("chain", "optimism")
    .setting("sequencer_grace_s", "60");
    assert!(testing::call::<Chainlink>(&mock, "get_price", price("ETH/USD")).is_ok());
}

#[test]
fn an_answer_older_than_heartbeat_plus_margin_is_stale_data_with_its_age() {
    // ETH/USD: heartbeat 3600 s + margin 120 s.
    let at_limit = mock_answering(first_call(fresh(3720)));
    let out = testing::call::<Chainlink>(&at_limit, "get_price", price("ETH/USD")).unwrap();
    assert_eq!(out["age_s"], 3720);

    let over = mock_answering(first_call(fresh(3721)));
    match testing::call::<Chainlink>(&over, "get_price", price("ETH/USD")) {
        Err(VenueError::StaleData(m)) => {
            assert!(m.contains("ETH/USD answer is 3721 s old"), "{m}");
            assert!(m.contains("at most 3720 s"), "{m}");
        }
        other => panic!("expected stale_data, got {other:?}"),
    }
}

#[test]
fn staleness_ignores_answered_in_round() {
    // answeredInRound is deprecated: an older one with a fresh updatedAt is fine.
    let round = ok(&round_hex(ROUND, 352_098_000_000, NOW_S, NOW_S, ROUND - 1));
    let mock = mock_answering(first_call(round));
    assert!(testing::call::<Chainlink>(&mock, "get_price", price("ETH/USD")).is_ok());
}

#[test]
fn moving_the_clock_past_the_max_age_makes_the_same_answer_stale() {
    let updated = ok(&round_hex(ROUND, 100_000_000, NOW_S, NOW_S, ROUND));
    let mut answers = first_call(updated.clone());
    answers.push(updated);
    let mock = mock_answering(answers).setting("max_age.ETH/USD", "30");
    let mut instance = Instance::<Chainlink>::new();
    assert_eq!(
        instance.call(&mock, "get_price", price("ETH/USD")).unwrap()["price"],
        "1"
    );
    mock.advance_ms(31_000);
    assert!(matches!(
        instance.call(&mock, "get_price", price("ETH/USD")),
        Err(VenueError::StaleData(m)) if m.contains("31 s old")
    ));
}

#[test]
fn heartbeat_and_margin_settings_change_the_max_age() {
    let mock = mock_answering(first_call(fresh(700)))
        .setting("heartbeat.ETH/USD", "600")
        .setting("heartbeat_margin_s", "60");
    assert!(matches!(
        testing::call::<Chainlink>(&mock, "get_price", price("ETH/USD")),
        Err(VenueError::StaleData(m)) if m.contains("700 s old") && m.contains("at most 660 s")
    ));
    // USDC/USD has a 24 h heartbeat: a 20 h old answer is fine.
    let mock = mock_answering(first_call(fresh(72_000)));
    assert!(testing::call::<Chainlink>(&mock, "get_price", price("USDC/USD")).is_ok());
}

#[test]
fn ton_usd_is_refused_until_configured_then_read_from_the_setting() {
    let unconfigured = host();
    match testing::call::<Chainlink>(&unconfigured, "get_price", price("TON/USD")) {
        Err(VenueError::Unsupported(m)) => assert!(m.contains("`feed.TON/USD`"), "{m}"),
        other => panic!("expected unsupported, got {other:?}"),
    }
    assert!(unconfigured.requests().is_empty());

    let ton = "0x1111111111111111111111111111111111111111";
    let mock = mock_answering(first_call(fresh(10))).setting("feed.TON/USD", ton);
    let out = testing::call::<Chainlink>(&mock, "get_price", price("TON/USD")).unwrap();
    assert_eq!(out["pair"], "TON/USD");
    assert_eq!(
        mock.requests()[1].body_json(),
        eth_call_body(ton, "0xfeaf968c")
    );
}

#[test]
fn get_prices_returns_each_pair_even_when_others_fail() {
    let mock = mock_answering([
        ok("0x1"),                          // eth_chainId
        fresh(5),                           // ETH latestRoundData
        ok(EIGHT),                          // ETH decimals
        agg_word(),                         // ETH aggregator
        rpc_error(3, "execution reverted"), // BTC latestRoundData
        ok(EIGHT),                          // BTC decimals
        agg_word(),                         // BTC aggregator
        fresh(90_000),                      // USDC latestRoundData: stale
        ok(EIGHT),                          // USDC decimals
        agg_word(),                         // USDC aggregator
        ok(&word(MIN)),                     // ETH min
        ok(&word(MAX)),                     // ETH max
        ok(&word(MIN)),                     // USDC min
        ok(&word(MAX)),                     // USDC max
    ]);
    let out = testing::call::<Chainlink>(
        &mock,
        "get_prices",
        json!({"pairs": ["ETH/USD", "BTC/USD", "USDC/USD", "TON/USD"]}),
    )
    .unwrap();
    let entries = out.as_array().unwrap();
    assert_eq!(entries.len(), 4);
    assert_eq!(entries[0]["price"], "3520.98");
    assert_eq!(entries[1]["pair"], "BTC/USD");
    assert_eq!(entries[1]["error"]["kind"], "upstream");
    assert_eq!(entries[1]["error"]["code"], "3");
    assert!(
        entries[1]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("reverted")
    );
    assert_eq!(entries[2]["error"]["kind"], "stale_data");
    assert!(
        entries[2]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("90000 s old")
    );
    assert_eq!(entries[3]["error"]["kind"], "unsupported");
    let expected: Vec<String> = std::iter::once("eth_chainId".to_string())
        .chain([ETH, BTC, USDC].iter().flat_map(|a| {
            [
                format!("{a} 0xfeaf968c"),
                format!("{a} 0x313ce567"),
                format!("{a} 0x245a7bfc"),
            ]
        }))
        .chain([
            format!("{AGG} 0x22adbc78"),
            format!("{AGG} 0x70da2f67"),
            format!("{AGG} 0x22adbc78"),
            format!("{AGG} 0x70da2f67"),
        ])
        .collect();
    assert_eq!(sent_calls(&mock), expected);
    assert!(mock.pending().is_empty());
}

#[test]
fn get_prices_keeps_transport_errors_per_pair_and_caches_what_it_can() {
    let mock = host()
        .respond(Method::Post, "/", 200, ok("0x1"))
        .respond(Method::Post, "/", 200, fresh(5))
        .respond(Method::Post, "/", 200, ok(EIGHT))
        .respond(Method::Post, "/", 200, agg_word())
        .fail(
            Method::Post,
            "/",
            SendError::Timeout("attempt timed out".into()),
        )
        .respond(Method::Post, "/", 200, ok(EIGHT))
        .respond(Method::Post, "/", 200, agg_word())
        .respond(Method::Post, "/", 200, ok(&word(MIN)))
        .respond(Method::Post, "/", 200, ok(&word(MAX)))
        .respond(Method::Post, "/", 200, fresh(5))
        .respond(Method::Post, "/", 200, fresh(5))
        // BTC's bounds: its aggregator is known only once its round arrives.
        .respond(Method::Post, "/", 200, agg_word())
        .respond(Method::Post, "/", 200, ok(&word(MIN)))
        .respond(Method::Post, "/", 200, ok(&word(MAX)));
    let mut instance = Instance::<Chainlink>::new();
    let out = instance
        .call(
            &mock,
            "get_prices",
            json!({"pairs": ["ETH/USD", "BTC/USD"]}),
        )
        .unwrap();
    assert_eq!(out[0]["price"], "3520.98");
    assert_eq!(out[1]["error"]["kind"], "timeout");
    // BTC's decimals arrived although its round timed out: cached now.
    let out = instance
        .call(
            &mock,
            "get_prices",
            json!({"pairs": ["ETH/USD", "BTC/USD"]}),
        )
        .unwrap();
    assert_eq!(out[1]["price"], "3520.98");
    assert_eq!(
        sent_calls(&mock)[9..11],
        [format!("{ETH} 0xfeaf968c"), format!("{BTC} 0xfeaf968c")]
    );
    assert!(mock.pending().is_empty(), "{:?}", mock.pending());
}

#[test]
fn get_prices_fails_with_the_first_error_when_every_pair_failed() {
    let mock = host()
        .respond(Method::Post, "/", 200, ok("0x1"))
        .fail(
            Method::Post,
            "/",
            SendError::CircuitOpen("all endpoints open".into()),
        )
        .fail(
            Method::Post,
            "/",
            SendError::CircuitOpen("all endpoints open".into()),
        );
    assert!(matches!(
        testing::call::<Chainlink>(&mock, "get_prices", json!({"pairs": ["TON/USD", "ETH/USD"]})),
        Err(VenueError::Unsupported(m)) if m.contains("TON/USD")
    ));
}

#[test]
fn rounds_failing_the_consumer_checks_are_refused() {
    let cases = [
        (round_hex(ROUND, -1, NOW_S, NOW_S, ROUND), "parse"),
        (round_hex(ROUND, 0, NOW_S, NOW_S, ROUND), "parse"),
        (round_hex(ROUND, 1, NOW_S, 0, ROUND), "stale_data"),
    ];
    for (result, kind) in cases {
        let mock = mock_answering(first_call(ok(&result)));
        let err = testing::call::<Chainlink>(&mock, "get_price", price("ETH/USD")).unwrap_err();
        assert_eq!(error_json(&err)["kind"], kind, "{err:?}");
    }
}

#[test]
fn malformed_results_are_parse_errors_never_panics() {
    let good = round_hex(ROUND, 1, NOW_S, NOW_S, ROUND);
    let bodies = [
        ok(&good[..good.len() - 64]),              // short
        ok(&format!("{good}{}", "00".repeat(32))), // extra word
        ok("0x"),                                  // no contract
        ok("not hex"),
        json!({"jsonrpc": "2.0", "id": 1, "result": 5}),
        json!({"jsonrpc": "2.0", "id": 1}),
    ];
    for body in bodies {
        let mock = mock_answering(first_call(body.clone()));
        let err = testing::call::<Chainlink>(&mock, "get_price", price("ETH/USD")).unwrap_err();
        assert!(matches!(err, VenueError::Parse(_)), "{body}: {err:?}");
    }
    let mock = host()
        .respond(Method::Post, "/", 200, ok("0x1"))
        .respond(Method::Post, "/", 200, fresh(1))
        .respond(Method::Post, "/", 200, "<html>");
    assert!(matches!(
        testing::call::<Chainlink>(&mock, "get_price", price("ETH/USD")),
        Err(VenueError::Parse(m)) if m.contains("<html>")
    ));
}

#[test]
fn jsonrpc_errors_reverts_and_http_errors_are_upstream() {
    let mock = mock_answering([
        ok("0x1"),
        rpc_error(-32000, "header not found"),
        ok(EIGHT),
        agg_word(),
    ]);
    assert_eq!(
        testing::call::<Chainlink>(&mock, "get_price", price("ETH/USD")).unwrap_err(),
        VenueError::upstream(
            200,
            Some("-32000".into()),
            format!("eth_call latestRoundData() on {ETH} (ETH/USD): header not found")
        )
    );
    let mock = host()
        .respond(Method::Post, "/", 200, ok("0x1"))
        .respond(Method::Post, "/", 503, "<html>Service Unavailable</html>")
        .respond(Method::Post, "/", 503, "<html>Service Unavailable</html>");
    assert!(matches!(
        testing::call::<Chainlink>(&mock, "get_price", price("ETH/USD")),
        Err(VenueError::Upstream(u)) if u.status == 503
    ));
}

#[test]
fn provider_overload_is_rate_limited() {
    let limit = json!({"jsonrpc": "2.0", "id": 1, "error": {"code": -32005, "message": "limit exceeded",
        "data": {"backoff_seconds": 2}}});
    let mock = mock_answering([ok("0x1"), limit.clone(), limit]);
    match testing::call::<Chainlink>(&mock, "get_price", price("ETH/USD")) {
        Err(VenueError::Transport(SendError::RateLimited(r))) => {
            assert_eq!(r.retry_after_ms, Some(2000));
            assert!(r.message.contains("limit exceeded"), "{}", r.message);
        }
        other => panic!("expected rate_limited, got {other:?}"),
    }
    let mock = host()
        .respond(Method::Post, "/", 429, "Too Many Requests")
        .respond(Method::Post, "/", 429, "Too Many Requests");
    assert!(matches!(
        testing::call::<Chainlink>(&mock, "get_price", price("ETH/USD")),
        Err(VenueError::Transport(SendError::RateLimited(_)))
    ));
}

#[test]
fn transport_errors_pass_through() {
    let mock = host()
        .fail(Method::Post, "/", SendError::Connection("refused".into()))
        .fail(Method::Post, "/", SendError::Connection("refused".into()));
    assert!(matches!(
        testing::call::<Chainlink>(&mock, "get_price", price("ETH/USD")),
        Err(VenueError::Transport(SendError::Connection(_)))
    ));
}

#[test]
fn get_round_reads_get_round_data_without_staleness() {
    // A round from 30 days ago is history, not stale.
    let old = NOW_S - 30 * 86_400;
    let mock = mock_answering([
        ok("0x1"),
        ok(&round_hex(ROUND, 352_098_000_000, old - 5, old, ROUND)),
        ok(EIGHT),
    ]);
    let out = testing::call::<Chainlink>(
        &mock,
        "get_round",
        json!({"pair": "ETH/USD", "round_id": "110680464442257327894"}),
    )
    .unwrap();
    assert_eq!(
        out,
        json!({
            "pair": "ETH/USD",
            "chain": "ethereum",
            "price": "3520.98",
            "decimals": 8,
            "round_id": "110680464442257327894",
            "phase_id": 6,
            "started_at": (old - 5).to_string(),
            "updated_at": old,
        })
    );
    assert_eq!(
        mock.requests()[1].body_json(),
        eth_call_body(
            ETH,
            "0x9a6fc8f50000000000000000000000000000000000000000000000060000000000004716"
        )
    );
}

#[test]
fn get_round_of_a_missing_round_is_an_error() {
    // Older aggregators answer zeros for a round they never had.
    let mock = mock_answering([ok("0x1"), ok(&round_hex(ROUND, 0, 0, 0, 0)), ok(EIGHT)]);
    assert!(
        testing::call::<Chainlink>(
            &mock,
            "get_round",
            json!({"pair": "ETH/USD", "round_id": "110680464442257327894"}),
        )
        .is_err()
    );
    // Newer ones revert with "No data present".
    let mock = mock_answering([
        ok("0x1"),
        rpc_error(3, "execution reverted: No data present"),
        ok(EIGHT),
    ]);
    match testing::call::<Chainlink>(
        &mock,
        "get_round",
        json!({"pair": "ETH/USD", "round_id": "5"}),
    ) {
        Err(VenueError::Upstream(u)) => {
            assert!(u.message.contains("No data present"), "{}", u.message)
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn get_eth_balance_sends_eth_get_balance_and_returns_wei_and_eth() {
    let addr = "0xde0B295669a9FD93d5F28D9Ec85E40f4cb697BAe";
    let mock = mock_answering([ok("0x1bc16d674ec80001")]);
    let out =
        testing::call::<Chainlink>(&mock, "get_eth_balance", json!({"address": addr})).unwrap();
    assert_eq!(
        out,
        json!({"address": addr, "wei": "2000000000000000001", "eth": "2.000000000000000001"})
    );
    let req = &mock.requests()[0];
    assert_eq!(
        req.body_json(),
        json!({"jsonrpc": "2.0", "id": 1, "method": "eth_getBalance", "params": [addr, "latest"]})
    );
    assert!(req.idempotent);
}

#[test]
fn get_feed_reads_description_and_decimals() {
    let description = "0x00000000000000000000000000000000000000000000000000000000000000200000000000000000000000000000000000000000000000000000000000000009455448202f205553440000000000000000000000000000000000000000000000";
    let mock = mock_answering([
        ok(description),
        ok(EIGHT),
        ok("0x1"),
        fresh(1),
        agg_word(),
        ok(&word(MIN)),
        ok(&word(MAX)),
    ]);
    let mut instance = Instance::<Chainlink>::new();
    let out = instance.call(&mock, "get_feed", price("ETH/USD")).unwrap();
    assert_eq!(
        out,
        json!({
            "pair": "ETH/USD",
            "chain": "ethereum",
            "address": ETH,
            "source": "builtin",
            "description": "ETH / USD",
            "decimals": 8,
            "heartbeat_s": 3600,
            "max_age_s": 3720,
        })
    );
    let sent = mock.requests();
    assert_eq!(sent[0].body_json(), eth_call_body(ETH, "0x7284e416"));
    assert_eq!(sent[1].body_json(), eth_call_body(ETH, "0x313ce567"));
    // The decimals are cached for get_price too.
    instance.call(&mock, "get_price", price("ETH/USD")).unwrap();
    let decimals_reads = sent_calls(&mock)
        .iter()
        .filter(|c| **c == format!("{ETH} 0x313ce567"))
        .count();
    assert_eq!((decimals_reads, mock.requests().len()), (1, 7));
    assert!(mock.pending().is_empty());
}

#[test]
fn bad_params_and_settings_send_nothing() {
    let mock = host();
    let cases = [
        ("get_price", json!({}), "pair"),
        ("get_price", json!({"pair": "ETHUSD"}), "pair"),
        ("get_price", json!({"pair": "ETH/USD", "extra": 1}), "extra"),
        ("get_prices", json!({"pairs": []}), "pairs"),
        ("get_prices", json!({"pairs": "ETH/USD"}), "pairs"),
        (
            "get_prices",
            json!({"pairs": ["ETH/USD", "ETH/USD"]}),
            "pairs[1]",
        ),
        (
            "get_round",
            json!({"pair": "ETH/USD", "round_id": "0"}),
            "round_id",
        ),
        (
            "get_round",
            json!({"pair": "ETH/USD", "round_id": 5}),
            "round_id",
        ),
        ("get_eth_balance", json!({"address": "0x12"}), "address"),
        ("get_feed", json!({"pair": ""}), "pair"),
    ];
    for (op, params, field) in cases {
        match testing::call::<Chainlink>(&mock, op, params.clone()) {
            Err(VenueError::InvalidParams(m)) => assert!(m.contains(field), "{op} {params}: {m}"),
            other => panic!("{op} {params}: expected invalid_params, got {other:?}"),
        }
    }
    let typo = host().setting("chain", "arbitrun");
    assert!(matches!(
        testing::call::<Chainlink>(&typo, "get_price", price("ETH/USD")),
        Err(VenueError::Unsupported(m)) if m.contains("`chain`")
    ));
    assert!(mock.requests().is_empty() && typo.requests().is_empty());
}

#[test]
fn error_json_mirrors_the_host_api_kinds() {
    let rl = VenueError::Transport(SendError::RateLimited(
        resilience_guest::bindings::resilience::venue::types::RateLimited {
            message: "m".into(),
            retry_after_ms: Some(5),
        },
    ));
    assert_eq!(
        error_json(&rl),
        json!({"kind": "rate_limited", "message": "m", "retry_after_ms": 5})
    );
    assert_eq!(
        error_json(&VenueError::upstream(200, Some("3".into()), "reverted")),
        json!({"kind": "upstream", "message": "reverted", "upstream_status": 200, "code": "3"})
    );
    assert_eq!(
        error_json(&VenueError::Transport(SendError::Denied("x".into())))["kind"],
        "plugin"
    );
}

#[path = "endpoint_tests.rs"]
mod endpoint_tests;

//! The chain check per endpoint and the agreement check (`quorum = 2`),
//! against a mock host with several endpoints.

use super::*;

/// `(endpoint, data or method)` of every request sent, in order.
fn pinned_calls(mock: &MockHost) -> Vec<(Option<u32>, String)> {
    mock.requests()
        .iter()
        .zip(sent_calls(mock))
        .map(|(r, call)| (r.endpoint, call))
        .collect()
}

fn lrd() -> String {
    format!("{ETH} 0xfeaf968c")
}

/// A mock with `endpoints` endpoints and `quorum = 2`.
fn quorum_host(endpoints: u32) -> MockHost {
    host().endpoints(endpoints).setting("quorum", "2")
}

/// An answer of `answer` (8 decimals) in round `round_id`, `age_s` old.
fn round_answer(round_id: u128, answer: i128, age_s: u64) -> Value {
    ok(&round_hex(
        round_id,
        answer,
        NOW_S - age_s,
        NOW_S - age_s,
        round_id,
    ))
}

/// `mock` with the next two pinned rounds scripted: endpoint 0 the usual
/// fresh answer, endpoint 1 `second`.
fn rounds_then(mock: MockHost, second: Value) -> MockHost {
    mock.respond(Method::Post, "/", 200, fresh(60))
        .on_endpoint(0)
        .respond(Method::Post, "/", 200, second)
        .on_endpoint(1)
}

/// The answers after round trip 1's `latestRoundData()` reads: decimals,
/// aggregator, then the bounds.
fn rest_of_first_call(mock: MockHost) -> MockHost {
    [ok(EIGHT), agg_word(), ok(&word(MIN)), ok(&word(MAX))]
        .into_iter()
        .fold(mock, |m, a| m.respond(Method::Post, "/", 200, a))
}

#[test]
fn each_endpoint_is_asked_its_chain_and_a_wrong_one_is_named_until_fixed() {
    let mock = host()
        .endpoints(2)
        .respond(Method::Post, "/", 200, ok("0x1"))
        .on_endpoint(0)
        .respond(Method::Post, "/", 200, ok("0xa4b1"))
        .on_endpoint(1)
        .respond(Method::Post, "/", 200, fresh(1))
        .respond(Method::Post, "/", 200, ok("0xa4b1"))
        .on_endpoint(1)
        .respond(Method::Post, "/", 200, fresh(1));
    let mut instance = Instance::<Chainlink>::new();
    for _ in 0..2 {
        let err = instance
            .call(&mock, "get_price", price("ETH/USD"))
            .unwrap_err();
        assert_eq!(code(&err).as_deref(), Some(chain_check::WRONG_CHAIN_CODE));
        assert!(format!("{err:?}").contains("endpoint 1 "), "{err:?}");
    }
    let calls = pinned_calls(&mock);
    let checks: Vec<Option<u32>> = calls
        .iter()
        .filter(|(_, c)| c == "eth_chainId")
        .map(|(e, _)| *e)
        .collect();
    // Endpoint 0 was verified once; endpoint 1's wrong answer is never cached.
    assert_eq!(checks, [Some(0), Some(1), Some(1)], "{calls:?}");
}

#[test]
fn an_endpoint_that_cannot_be_asked_is_asked_again_after_a_minute() {
    let mock = host()
        .endpoints(2)
        .respond(Method::Post, "/", 200, ok("0x1"))
        .on_endpoint(0)
        .fail(Method::Post, "/", SendError::Connection("refused".into()))
        .on_endpoint(1);
    let mock = rest_of_first_call(mock.respond(Method::Post, "/", 200, fresh(1)))
        .respond(Method::Post, "/", 200, fresh(1))
        .respond(Method::Post, "/", 200, ok("0x1"))
        .on_endpoint(1)
        .respond(Method::Post, "/", 200, fresh(1));
    let mut instance = Instance::<Chainlink>::new();
    // The price is read through failover although endpoint 1 is down.
    let first = instance.call(&mock, "get_price", price("ETH/USD")).unwrap();
    assert_eq!(first["price"], "3520.98");
    instance.call(&mock, "get_price", price("ETH/USD")).unwrap();
    mock.advance_ms(chain_check::RETRY_UNREACHABLE_S * 1000);
    instance.call(&mock, "get_price", price("ETH/USD")).unwrap();
    let checks: Vec<Option<u32>> = pinned_calls(&mock)
        .into_iter()
        .filter(|(_, c)| c == "eth_chainId")
        .map(|(e, _)| e)
        .collect();
    assert_eq!(checks, [Some(0), Some(1), Some(1)]);
    assert!(mock.pending().is_empty(), "{:?}", mock.pending());
}

/// The chain checks of every call in `mock`, by endpoint.
fn chain_checks(mock: &MockHost) -> Vec<Option<u32>> {
    pinned_calls(mock)
        .into_iter()
        .filter(|(_, c)| c == "eth_chainId")
        .map(|(e, _)| e)
        .collect()
}

/// A check that failed (`first`) leaves no endpoint verified: the next call
/// asks again at once, and only then returns a price.
fn next_call_asks_again_after(first: SendError) {
    // The first call reads the round, decimals and aggregator before it
    // refuses; the second checks the chain again and reads the bounds.
    let mock = [ok(EIGHT), agg_word()].into_iter().fold(
        host()
            .endpoints(1)
            .fail(Method::Post, "/", first)
            .on_endpoint(0)
            .respond(Method::Post, "/", 200, fresh(1)),
        |m, a| m.respond(Method::Post, "/", 200, a),
    );
    let mock = [fresh(1), ok(&word(MIN)), ok(&word(MAX))].into_iter().fold(
        mock.respond(Method::Post, "/", 200, ok("0x1"))
            .on_endpoint(0),
        |m, a| m.respond(Method::Post, "/", 200, a),
    );
    let mut instance = Instance::<Chainlink>::new();
    let err = instance
        .call(&mock, "get_price", price("ETH/USD"))
        .unwrap_err();
    assert!(matches!(err, VenueError::Transport(_)), "{err:?}");
    let out = instance.call(&mock, "get_price", price("ETH/USD"));
    let out = out.unwrap_or_else(|e| panic!("{e:?}: {:?}", pinned_calls(&mock)));
    assert_eq!(out["price"], "3520.98");
    assert_eq!(chain_checks(&mock), [Some(0), Some(0)]);
    assert!(mock.pending().is_empty(), "{:?}", mock.pending());
}

#[test]
fn no_price_follows_a_failed_check_until_some_endpoint_passed_one() {
    next_call_asks_again_after(SendError::Connection("refused".into()));
}

#[test]
fn a_parked_check_is_asked_again_by_the_next_run() {
    next_call_asks_again_after(SendError::Timeout(resilience_guest::error::PARKED.into()));
}

#[test]
fn quorum_2_returns_the_round_two_endpoints_agree_on() {
    let mock = quorum_host(2)
        .respond(Method::Post, "/", 200, ok("0x1"))
        .respond(Method::Post, "/", 200, ok("0x1"))
        .respond(Method::Post, "/", 200, fresh(60))
        .on_endpoint(0)
        .respond(Method::Post, "/", 200, fresh(60))
        .on_endpoint(1);
    let mock = rest_of_first_call(mock);
    let out = testing::call::<Chainlink>(&mock, "get_price", price("ETH/USD")).unwrap();
    assert_eq!(out["price"], "3520.98");
    assert_eq!(out["quorum"], json!([0, 1]));
    let calls = pinned_calls(&mock);
    assert_eq!(
        calls[..4],
        [
            (Some(0), "eth_chainId".to_string()),
            (Some(1), "eth_chainId".to_string()),
            (Some(0), lrd()),
            (Some(1), lrd()),
        ],
        "both reads go in round trip 1, one to each endpoint"
    );
    // decimals() and aggregator() are not compared: they go through failover.
    assert!(calls[4..].iter().all(|(e, _)| e.is_none()), "{calls:?}");
}

#[test]
fn quorum_2_refuses_answers_that_differ_and_takes_a_close_newer_round() {
    let forged = round_answer(ROUND, 352_098_000_001, 60);
    let mock = quorum_host(2)
        .setting("quorum_tolerance_bps", "50")
        .respond(Method::Post, "/", 200, ok("0x1"))
        .respond(Method::Post, "/", 200, ok("0x1"))
        .respond(Method::Post, "/", 200, fresh(60))
        .on_endpoint(0)
        .respond(Method::Post, "/", 200, forged)
        .on_endpoint(1)
        .respond(Method::Post, "/", 200, ok(EIGHT))
        .respond(Method::Post, "/", 200, agg_word());
    let mut instance = Instance::<Chainlink>::new();
    let err = instance
        .call(&mock, "get_price", price("ETH/USD"))
        .unwrap_err();
    assert_eq!(code(&err).as_deref(), Some(quorum::DISAGREE_CODE));
    let text = format!("{err:?}");
    assert!(text.contains("the same round differs"), "{text}");

    // Endpoint 1 has seen the next round, 0.4% higher: within 50 bps.
    let next = ROUND + 1;
    let mock2 = rounds_then(mock, round_answer(next, 353_506_392_000, 5))
        .respond(Method::Post, "/", 200, agg_word())
        .respond(Method::Post, "/", 200, ok(&word(MIN)))
        .respond(Method::Post, "/", 200, ok(&word(MAX)));
    let out = instance
        .call(&mock2, "get_price", price("ETH/USD"))
        .unwrap();
    assert_eq!(
        (&out["price"], &out["round_id"], &out["age_s"]),
        (&json!("3535.06392"), &json!(next.to_string()), &json!(5))
    );
    // 0.6% higher: beyond 50 bps.
    let mock3 = rounds_then(mock2, round_answer(next, 354_210_588_000, 5));
    let err = instance
        .call(&mock3, "get_price", price("ETH/USD"))
        .unwrap_err();
    assert_eq!(code(&err).as_deref(), Some(quorum::DISAGREE_CODE));
    assert!(format!("{err:?}").contains("50 bps"), "{err:?}");
}

#[test]
fn quorum_2_replaces_a_silent_endpoint_with_the_next_one() {
    let down = || SendError::Connection("refused".into());
    let mock = quorum_host(3)
        .respond(Method::Post, "/", 200, ok("0x1"))
        .on_endpoint(0)
        .fail(Method::Post, "/", down())
        .on_endpoint(1)
        .respond(Method::Post, "/", 200, ok("0x1"))
        .on_endpoint(2)
        .respond(Method::Post, "/", 200, fresh(60))
        .on_endpoint(0)
        .fail(Method::Post, "/", down())
        .on_endpoint(1)
        .respond(Method::Post, "/", 200, ok(EIGHT))
        .respond(Method::Post, "/", 200, agg_word())
        .respond(Method::Post, "/", 200, fresh(60))
        .on_endpoint(2)
        .respond(Method::Post, "/", 200, ok(&word(MIN)))
        .respond(Method::Post, "/", 200, ok(&word(MAX)));
    let out = testing::call::<Chainlink>(&mock, "get_price", price("ETH/USD")).unwrap();
    assert_eq!(out["quorum"], json!([0, 2]));
    assert!(mock.pending().is_empty(), "{:?}", mock.pending());

    // With only two endpoints and one down, there is no quorum: the
    // transport error is the caller's.
    let mock = quorum_host(2)
        .respond(Method::Post, "/", 200, ok("0x1"))
        .respond(Method::Post, "/", 200, ok("0x1"))
        .respond(Method::Post, "/", 200, fresh(60))
        .on_endpoint(0)
        .fail(Method::Post, "/", down())
        .on_endpoint(1);
    let mock = rest_of_first_call(mock);
    let err = testing::call::<Chainlink>(&mock, "get_price", price("ETH/USD")).unwrap_err();
    assert!(
        matches!(err, VenueError::Transport(SendError::Connection(_))),
        "{err:?}"
    );
}

#[test]
fn quorum_2_needs_two_endpoints_and_a_valid_setting() {
    let err =
        testing::call::<Chainlink>(&quorum_host(1), "get_price", price("ETH/USD")).unwrap_err();
    assert!(
        matches!(&err, VenueError::Unsupported(m) if m.contains("at least two endpoints")),
        "{err:?}"
    );
    let mock = host().endpoints(2).setting("quorum", "3");
    let err = testing::call::<Chainlink>(&mock, "get_price", price("ETH/USD")).unwrap_err();
    assert!(
        matches!(&err, VenueError::Unsupported(m) if m.contains("`quorum`")),
        "{err:?}"
    );
    assert!(mock.requests().is_empty());
}

#[test]
fn a_quorum_batch_over_the_host_bound_goes_out_in_chunks() {
    // 20 pairs with a quorum over 3 endpoints: 3 chain checks, then per
    // pair 2 rounds, decimals and aggregator: 83 requests, over the 64 the
    // host takes at once.
    let pairs: Vec<String> = (0..20).map(|i| format!("X{i}/USD")).collect();
    let settings: Vec<(String, String)> = pairs
        .iter()
        .enumerate()
        .map(|(i, p)| (format!("feed.{p}"), format!("0x{:040x}", i + 1)))
        .collect();
    let mock = settings
        .iter()
        .fold(quorum_host(3), |m, (k, v)| m.setting(k, v));
    let out = testing::call::<Chainlink>(&mock, "get_prices", json!({ "pairs": pairs }));
    // No answers are scripted: every read is a 404, so every pair fails,
    // but all 83 requests were sent (none refused for the batch size).
    assert!(out.is_err());
    let sent = mock.requests();
    assert_eq!(sent.len(), 83, "{}", sent.len());
    assert_eq!(mock.unmatched().len(), 83);
}

#[test]
fn no_price_before_some_endpoint_has_shown_the_right_chain() {
    // The only endpoint's chain check fails in transport while its reads
    // answer: the call fails rather than return a price from an unchecked
    // provider.
    let mock = host()
        .fail(
            Method::Post,
            "/",
            SendError::Timeout("attempt timed out".into()),
        )
        .on_endpoint(0);
    let mock = rest_of_first_call(mock.respond(Method::Post, "/", 200, fresh(1)));
    let err = testing::call::<Chainlink>(&mock, "get_price", price("ETH/USD")).unwrap_err();
    assert!(
        matches!(err, VenueError::Transport(SendError::Timeout(_))),
        "{err:?}"
    );
}

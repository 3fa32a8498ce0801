//! Native tests against the SDK's mock host. The answers are the examples of
//! Kraken's documentation (sources in `api.rs`).

use resilience_guest::testing::{self, MockHost};
use serde_json::json;

use super::*;

/// The documented `GET /0/public/Ticker?pair=XBTUSD` answer.
fn ticker_answer() -> Value {
    json!({
        "error": [],
        "result": {
            "XXBTZUSD": {
                "a": ["30300.10000", "1", "1.000"],
                "b": ["30300.00000", "1", "1.000"],
                "c": ["30303.20000", "0.00067643"],
                "v": ["4083.67001100", "4412.73601799"],
                "p": ["30706.77771", "30689.13205"],
                "t": [34619, 38907],
                "l": ["29868.30000", "29868.30000"],
                "h": ["31631.00000", "31631.00000"],
                "o": "30502.80000"
            }
        }
    })
}

#[test]
fn get_server_time_takes_no_params_and_returns_the_result() {
    let mock = MockHost::new().respond(
        Method::Get,
        "/0/public/Time",
        200,
        json!({"error": [], "result": {"unixtime": 1688669448, "rfc1123": "Thu, 06 Jul 23 18:50:48 +0000"}}),
    );
    let out = testing::call::<Kraken>(&mock, "get_server_time", json!({})).unwrap();
    assert_eq!(
        out,
        json!({"unixtime": 1688669448, "rfc1123": "Thu, 06 Jul 23 18:50:48 +0000"})
    );
    let sent = mock.requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        (sent[0].method, sent[0].path.as_str()),
        (Method::Get, "/0/public/Time")
    );
    assert!(sent[0].idempotent && sent[0].headers.is_empty());
}

#[test]
fn get_ticker_names_krakens_arrays() {
    let mock = MockHost::new().respond(
        Method::Get,
        "/0/public/Ticker?pair=XBTUSD",
        200,
        ticker_answer(),
    );
    let out = testing::call::<Kraken>(&mock, "get_ticker", json!({"pair": "XBTUSD"})).unwrap();
    assert_eq!(
        out,
        json!({
            "pair": "XXBTZUSD",
            "ask": "30300.10000",
            "bid": "30300.00000",
            "last": "30303.20000",
            "open": "30502.80000",
            "low_24h": "29868.30000",
            "high_24h": "31631.00000",
            "volume_24h": "4412.73601799",
            "vwap_24h": "30689.13205",
            "trades_24h": 38907
        })
    );
    assert_eq!(mock.requests()[0].path, "/0/public/Ticker?pair=XBTUSD");
}

#[test]
fn an_error_in_a_200_body_is_the_venues_error_with_its_code() {
    let mock = MockHost::new().respond(
        Method::Get,
        "/0/public/Ticker",
        200,
        json!({"error": ["EQuery:Unknown asset pair"]}),
    );
    let err = testing::call::<Kraken>(&mock, "get_ticker", json!({"pair": "NOPE"})).unwrap_err();
    assert_eq!(
        err,
        VenueError::upstream(
            200,
            Some("EQuery:Unknown asset pair".into()),
            "EQuery:Unknown asset pair"
        )
    );
}

#[test]
fn a_rate_limit_in_a_200_body_is_reported_as_rate_limited() {
    for error in ["EAPI:Rate limit exceeded", "EGeneral:Too many requests"] {
        let mock = MockHost::new().respond(
            Method::Get,
            "/0/public/Time",
            200,
            json!({"error": [error]}),
        );
        let err = testing::call::<Kraken>(&mock, "get_server_time", json!({})).unwrap_err();
        match err {
            VenueError::Transport(SendError::RateLimited(r)) => {
                assert!(r.message.contains(error), "{}", r.message);
                assert_eq!(r.retry_after_ms, None, "Kraken names no wait");
            }
            other => panic!("{error}: expected rate_limited, got {other:?}"),
        }
    }
}

#[test]
fn warnings_do_not_fail_an_answer() {
    let mut answer = ticker_answer();
    answer["error"] = json!(["WGeneral:Deprecated"]);
    let mock = MockHost::new().respond(Method::Get, "/0/public/Ticker", 200, answer);
    let out = testing::call::<Kraken>(&mock, "get_ticker", json!({"pair": "XBTUSD"})).unwrap();
    assert_eq!(out["last"], "30303.20000");
}

#[test]
fn a_non_json_error_page_is_upstream_quoting_it() {
    let mock = MockHost::new().respond_with(
        Method::Get,
        "/0/public/Time",
        Response::new(
            520,
            vec![],
            b"<html>Cloudflare: web server is returning an unknown error</html>".to_vec(),
        ),
    );
    match testing::call::<Kraken>(&mock, "get_server_time", json!({})).unwrap_err() {
        VenueError::Upstream(u) => {
            assert_eq!((u.status, u.code), (520, None));
            assert!(u.message.contains("Cloudflare"), "{}", u.message);
        }
        other => panic!("expected upstream, got {other:?}"),
    }
}

#[test]
fn a_wrong_shape_is_a_parse_error_naming_the_field() {
    let mut two = ticker_answer();
    two["result"]["XETHZUSD"] = two["result"]["XXBTZUSD"].clone();
    let mut not_decimal = ticker_answer();
    not_decimal["result"]["XXBTZUSD"]["c"] = json!(["1e5", "1"]);
    let mut empty = ticker_answer();
    empty["result"]["XXBTZUSD"]["a"] = json!([]);
    for (answer, names) in [
        (two, "exactly one pair"),
        (not_decimal, "last"),
        (empty, "XXBTZUSD.a"),
    ] {
        let mock = MockHost::new().respond(Method::Get, "/0/public/Ticker", 200, answer);
        match testing::call::<Kraken>(&mock, "get_ticker", json!({"pair": "XBTUSD"})) {
            Err(VenueError::Parse(m)) => assert!(m.contains(names), "{names}: {m}"),
            other => panic!("{names}: expected parse, got {other:?}"),
        }
    }
}

#[test]
fn bad_pairs_are_refused_before_anything_is_sent() {
    let mock = MockHost::new();
    for params in [
        json!({}),
        json!({"pair": ""}),
        json!({"pair": "XBT/USD"}),
        json!({"pair": "XBTUSD&x=1"}),
        json!({"pair": "XBTUSD", "extra": 1}),
    ] {
        let err = testing::call::<Kraken>(&mock, "get_ticker", params.clone()).unwrap_err();
        assert!(
            matches!(err, VenueError::InvalidParams(_)),
            "{params}: {err:?}"
        );
    }
    assert!(mock.requests().is_empty());
}

#[test]
fn transport_errors_pass_through() {
    let mock = MockHost::new().fail(
        Method::Get,
        "/0/public/Time",
        SendError::Connection("refused".into()),
    );
    let err = testing::call::<Kraken>(&mock, "get_server_time", json!({})).unwrap_err();
    assert!(matches!(
        err,
        VenueError::Transport(SendError::Connection(_))
    ));
}

#[test]
fn describe_declares_two_reads_and_no_secrets() {
    let info = testing::describe::<Kraken>();
    let names: Vec<&str> = info.operations.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(names, ["get_server_time", "get_ticker"]);
    assert!(info.operations.iter().all(|o| !o.mutating));
    assert!(info.secrets.is_empty());
}

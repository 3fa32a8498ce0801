//! What an instance remembers between calls, against the SDK's mock host:
//! when the clock offset, the exchange filters and the position mode are
//! read, reused, read again after the venue says they changed, and what
//! happens when a read fails; and `reconcile` of batches and conditional
//! orders.

use super::*;
use resilience_guest::testing::{self, Instance, MockHost, SentRequest};

const NOW: u64 = 1_700_000_000_000;

fn venue() -> MockHost {
    MockHost::new()
        .now_ms(NOW)
        .secret("api_secret", "s")
        .secret("api_key", "k")
}

fn paths(mock: &MockHost) -> Vec<String> {
    mock.requests()
        .iter()
        .map(SentRequest::path_without_query)
        .map(str::to_string)
        .collect()
}

fn timestamp(req: &SentRequest) -> i64 {
    req.path
        .split(['?', '&'])
        .find_map(|kv| kv.strip_prefix("timestamp="))
        .expect("timestamp")
        .parse()
        .unwrap()
}

fn balance() -> Value {
    json!([])
}

/// vectors: exchangeInfo_official_example (BLZUSDT).
fn exchange_info() -> Value {
    json!({"symbols": [{"symbol": "BLZUSDT", "status": "TRADING", "filters": [
        {"filterType": "PRICE_FILTER", "maxPrice": "300", "minPrice": "0.0001", "tickSize": "0.0001"},
        {"filterType": "LOT_SIZE", "maxQty": "10000000", "minQty": "1", "stepSize": "1"},
        {"filterType": "MARKET_LOT_SIZE", "maxQty": "590119", "minQty": "1", "stepSize": "1"},
        {"filterType": "MIN_NOTIONAL", "notional": "5.0"},
    ]}]})
}

fn order(cid: &str) -> Value {
    json!({"clientOrderId": cid, "orderId": 1, "symbol": "BLZUSDT", "side": "BUY",
           "type": "LIMIT", "status": "NEW", "price": "0.1", "origQty": "100",
           "executedQty": "0"})
}

#[test]
fn the_clock_is_measured_first_reused_then_measured_again_on_schedule() {
    let mock = venue()
        .setting("time_sync_s", "60")
        .respond(
            Method::Get,
            "/fapi/v1/time",
            200,
            json!({"serverTime": NOW + 2_500}),
        )
        .respond(Method::Get, "/fapi/v3/balance", 200, balance())
        .respond(Method::Get, "/fapi/v3/balance", 200, balance())
        .respond(
            Method::Get,
            "/fapi/v1/time",
            200,
            json!({"serverTime": NOW + 61_000 - 400}),
        )
        .respond(Method::Get, "/fapi/v3/balance", 200, balance());
    let mut instance = Instance::<Binance>::new();
    instance.call(&mock, "get_balance", json!({})).unwrap();
    instance.call(&mock, "get_balance", json!({})).unwrap();
    mock.advance_ms(61_000);
    instance.call(&mock, "get_balance", json!({})).unwrap();
    assert_eq!(
        paths(&mock),
        [
            "/fapi/v1/time",
            "/fapi/v3/balance",
            "/fapi/v3/balance",
            "/fapi/v1/time",
            "/fapi/v3/balance"
        ]
    );
    let sent = mock.requests();
    // The mock's clock stands still during a call: offset = server - host.
    assert_eq!(timestamp(&sent[1]), (NOW + 2_500) as i64);
    assert_eq!(timestamp(&sent[2]), (NOW + 2_500) as i64);
    assert_eq!(timestamp(&sent[4]), (NOW + 61_000 - 400) as i64);
    assert!(mock.unmatched().is_empty());
}

#[test]
fn a_failed_clock_read_signs_with_the_last_offset_and_retries_after_30_s() {
    let mock = venue()
        .respond(Method::Get, "/fapi/v1/time", 503, "down")
        .respond(Method::Get, "/fapi/v3/balance", 200, balance())
        .respond(Method::Get, "/fapi/v3/balance", 200, balance())
        .respond(
            Method::Get,
            "/fapi/v1/time",
            200,
            json!({"serverTime": NOW + 31_000 - 100}),
        )
        .respond(Method::Get, "/fapi/v3/balance", 200, balance());
    let mut instance = Instance::<Binance>::new();
    instance.call(&mock, "get_balance", json!({})).unwrap();
    mock.advance_ms(10_000);
    instance.call(&mock, "get_balance", json!({})).unwrap();
    mock.advance_ms(21_000);
    instance.call(&mock, "get_balance", json!({})).unwrap();
    assert_eq!(
        paths(&mock),
        [
            "/fapi/v1/time",
            "/fapi/v3/balance",
            "/fapi/v3/balance",
            "/fapi/v1/time",
            "/fapi/v3/balance"
        ]
    );
    let sent = mock.requests();
    assert_eq!(timestamp(&sent[1]), NOW as i64, "offset 0 until measured");
    assert_eq!(timestamp(&sent[4]), (NOW + 31_000 - 100) as i64);
    assert!(
        mock.logs()
            .iter()
            .any(|(_, m)| m.contains("server time could not be read")),
        "{:?}",
        mock.logs()
    );
}

#[test]
fn a_bad_time_sync_setting_is_refused() {
    let mock = venue().setting("time_sync_s", "soon");
    let err = testing::call::<Binance>(&mock, "get_balance", json!({})).unwrap_err();
    assert!(
        matches!(&err, VenueError::InvalidParams(m) if m.contains("time_sync_s")),
        "{err:?}"
    );
    assert!(mock.requests().is_empty());
}

#[test]
fn filters_are_read_once_and_again_after_the_venue_refuses_a_precision() {
    let limit = json!({"symbol": "BLZUSDT", "side": "BUY", "quantity": "100", "price": "0.1",
                       "client_order_id": "f-1"});
    let mock = venue()
        .setting("time_sync_s", "0")
        .setting("position_mode", "one-way")
        .respond(Method::Get, "/fapi/v1/exchangeInfo", 200, exchange_info())
        .respond(Method::Post, "/fapi/v1/order", 200, order("f-1"))
        .respond(
            Method::Post,
            "/fapi/v1/order",
            400,
            json!({"code": -1111, "msg": "Precision is over the maximum defined for this asset."}),
        )
        .respond(Method::Get, "/fapi/v1/exchangeInfo", 200, exchange_info())
        .respond(Method::Post, "/fapi/v1/order", 200, order("f-1"));
    let mut instance = Instance::<Binance>::new();
    instance
        .call(&mock, "create_limit_order", limit.clone())
        .unwrap();
    let err = instance
        .call(&mock, "create_limit_order", limit.clone())
        .unwrap_err();
    assert_eq!(rest::code(&err), Some("-1111"));
    instance.call(&mock, "create_limit_order", limit).unwrap();
    assert_eq!(
        paths(&mock),
        [
            "/fapi/v1/exchangeInfo",
            "/fapi/v1/order",
            "/fapi/v1/order",
            "/fapi/v1/exchangeInfo",
            "/fapi/v1/order"
        ]
    );
}

#[test]
fn unreadable_filters_let_the_order_go_unchecked_and_an_unknown_symbol_is_refused() {
    let limit = json!({"symbol": "BLZUSDT", "side": "BUY", "quantity": "1.5", "price": "0.1",
                       "client_order_id": "u-1"});
    let mock = venue()
        .setting("time_sync_s", "0")
        .setting("position_mode", "one-way")
        .respond(Method::Get, "/fapi/v1/exchangeInfo", 502, "bad gateway")
        .respond(Method::Post, "/fapi/v1/order", 200, order("u-1"));
    testing::call::<Binance>(&mock, "create_limit_order", limit).unwrap();
    assert_eq!(paths(&mock), ["/fapi/v1/exchangeInfo", "/fapi/v1/order"]);

    let mock = venue()
        .setting("time_sync_s", "0")
        .setting("position_mode", "one-way")
        .respond(Method::Get, "/fapi/v1/exchangeInfo", 200, exchange_info());
    let err = testing::call::<Binance>(
        &mock,
        "create_market_order",
        json!({"symbol": "NOPEUSDT", "side": "BUY", "quantity": "1"}),
    )
    .unwrap_err();
    assert!(
        matches!(&err, VenueError::InvalidParams(m) if m.contains("not listed")),
        "{err:?}"
    );
    // get_exchange_info says why it has nothing, rather than nothing.
    let mock = venue().respond(Method::Get, "/fapi/v1/exchangeInfo", 502, "bad gateway");
    let err = testing::call::<Binance>(&mock, "get_exchange_info", json!({"symbol": "BLZUSDT"}))
        .unwrap_err();
    assert!(matches!(err, VenueError::Upstream(_)), "{err:?}");
}

#[test]
fn the_position_mode_is_read_once_and_again_after_a_4061() {
    let hedge_order = json!({"symbol": "BLZUSDT", "side": "BUY", "quantity": "100",
                             "position_side": "LONG", "client_order_id": "m-1"});
    let mock = venue()
        .setting("time_sync_s", "0")
        .setting("exchange_filters", "off")
        .respond(
            Method::Get,
            "/fapi/v1/positionSide/dual",
            200,
            json!({"dualSidePosition": true}),
        )
        .respond(Method::Post, "/fapi/v1/order", 200, order("m-1"))
        .respond(
            Method::Post,
            "/fapi/v1/order",
            400,
            json!({"code": -4061, "msg": "Order's position side does not match user's setting."}),
        )
        .respond(
            Method::Get,
            "/fapi/v1/positionSide/dual",
            200,
            json!({"dualSidePosition": false}),
        );
    let mut instance = Instance::<Binance>::new();
    instance
        .call(&mock, "create_market_order", hedge_order.clone())
        .unwrap();
    let err = instance
        .call(&mock, "create_market_order", hedge_order.clone())
        .unwrap_err();
    assert_eq!(rest::code(&err), Some("-4061"));
    // The account was switched to one-way: the plugin now knows, and refuses
    // LONG before sending.
    let err = instance
        .call(&mock, "create_market_order", hedge_order)
        .unwrap_err();
    assert!(
        matches!(&err, VenueError::InvalidParams(m) if m.contains("one-way")),
        "{err:?}"
    );
    assert_eq!(
        paths(&mock),
        [
            "/fapi/v1/positionSide/dual",
            "/fapi/v1/order",
            "/fapi/v1/order",
            "/fapi/v1/positionSide/dual"
        ]
    );
    assert_eq!(mock.requests()[0].weight, 30);
}

#[test]
fn gtd_needs_a_date_more_than_ten_minutes_ahead() {
    let mock = venue()
        .setting("time_sync_s", "0")
        .setting("exchange_filters", "off")
        .setting("position_mode", "one-way");
    for (tif, gtd, fragment) in [
        ("GTD", None, "required with time_in_force GTD"),
        ("GTD", Some(NOW + 600_000), "more than 600 s ahead"),
        ("GTC", Some(NOW + 3_600_000), "only with time_in_force GTD"),
    ] {
        let mut p = json!({"symbol": "BLZUSDT", "side": "BUY", "quantity": "100",
                           "price": "0.1", "time_in_force": tif});
        if let Some(gtd) = gtd {
            p["good_till_date"] = json!(gtd);
        }
        let err = testing::call::<Binance>(&mock, "create_limit_order", p).unwrap_err();
        assert!(
            matches!(&err, VenueError::InvalidParams(m) if m.contains(fragment)),
            "{fragment}: {err:?}"
        );
    }
    assert!(mock.requests().is_empty());
}

#[test]
fn a_batch_is_journaled_under_one_key_with_an_id_per_order_and_reconciled_per_order() {
    let mut instance = Instance::<Binance>::new();
    let mock = venue();
    let batch = json!({"orders": [
        {"type": "MARKET", "symbol": "BLZUSDT", "side": "BUY", "quantity": "100"},
        {"type": "LIMIT", "symbol": "BLZUSDT", "side": "SELL", "quantity": "100", "price": "0.2",
         "client_order_id": "mine-2"},
    ]});
    let prepared = instance
        .prepare_keyed(&mock, "create_orders", batch.clone(), Some("hedge-9"))
        .unwrap();
    assert_eq!(prepared.idempotency_key.as_deref(), Some("hedge-9"));
    let first = batch::item_id("hedge-9", 0);
    assert_eq!(prepared.params["orders"][0]["client_order_id"], first.0);
    assert_eq!(prepared.params["orders"][1]["client_order_id"], "mine-2");
    // The same key derives the same ids: a repeated call is recognised.
    let again = instance
        .prepare_keyed(&mock, "create_orders", batch, Some("hedge-9"))
        .unwrap();
    assert_eq!(again.params, prepared.params);

    let mock = venue()
        .setting("time_sync_s", "0")
        .respond(Method::Get, "/fapi/v1/order", 200, order(&first.0))
        .respond(
            Method::Get,
            "/fapi/v1/order",
            400,
            json!({"code": -2013, "msg": "Order does not exist."}),
        );
    let found = instance
        .reconcile(&mock, "create_orders", prepared.params.clone(), "hedge-9")
        .unwrap()
        .expect("one order was placed");
    assert_eq!(found["orders"][0]["ok"], true);
    assert_eq!(found["orders"][1]["error"]["code"], "-2013");

    let mock = venue()
        .setting("time_sync_s", "0")
        .respond(
            Method::Get,
            "/fapi/v1/order",
            400,
            json!({"code": -2013, "msg": "Order does not exist."}),
        )
        .respond(
            Method::Get,
            "/fapi/v1/order",
            400,
            json!({"code": -2013, "msg": "Order does not exist."}),
        );
    assert_eq!(
        instance
            .reconcile(&mock, "create_orders", prepared.params, "hedge-9")
            .unwrap(),
        None,
        "none placed: the venue never saw the batch"
    );
}

#[test]
fn a_batch_that_names_an_id_twice_or_holds_six_orders_is_refused_before_the_journal() {
    let mut instance = Instance::<Binance>::new();
    let mock = venue();
    let item = json!({"type": "MARKET", "symbol": "BLZUSDT", "side": "BUY", "quantity": "1",
                      "client_order_id": "same"});
    let err = instance
        .prepare(
            &mock,
            "create_orders",
            json!({"orders": [item.clone(), item.clone()]}),
        )
        .unwrap_err();
    assert!(
        matches!(&err, VenueError::InvalidParams(m) if m.contains("used twice")),
        "{err:?}"
    );
    let six: Vec<Value> = (0..6)
        .map(|i| {
            let mut o = item.clone();
            o["client_order_id"] = json!(format!("id-{i}"));
            o
        })
        .collect();
    let err = instance
        .prepare(&mock, "create_orders", json!({"orders": six}))
        .unwrap_err();
    assert!(
        matches!(&err, VenueError::InvalidParams(m) if m.contains("1 to 5")),
        "{err:?}"
    );
}

#[test]
fn a_conditional_order_is_journaled_under_its_client_algo_id_and_reconciled() {
    let mut instance = Instance::<Binance>::new();
    let params = json!({"symbol": "BLZUSDT", "side": "SELL", "type": "STOP_MARKET",
                        "trigger_price": "0.09", "close_position": true});
    let prepared = instance
        .prepare_keyed(&venue(), "create_conditional_order", params, Some("stop-1"))
        .unwrap();
    assert_eq!(prepared.idempotency_key.as_deref(), Some("stop-1"));
    assert_eq!(prepared.params["client_algo_id"], "stop-1");
    let mock = venue()
        .setting("time_sync_s", "0")
        .respond(
            Method::Get,
            "/fapi/v1/algoOrder",
            200,
            json!({"algoId": 5, "clientAlgoId": "stop-1", "algoStatus": "NEW"}),
        )
        .respond(
            Method::Get,
            "/fapi/v1/algoOrder",
            400,
            json!({"code": -2013, "msg": "Order does not exist."}),
        );
    let found = instance
        .reconcile(
            &mock,
            "create_conditional_order",
            prepared.params.clone(),
            "stop-1",
        )
        .unwrap()
        .expect("found");
    assert_eq!(found["client_algo_id"], "stop-1");
    assert!(mock.requests()[0].path.contains("clientAlgoId=stop-1"));
    assert_eq!(
        instance
            .reconcile(&mock, "create_conditional_order", prepared.params, "stop-1")
            .unwrap(),
        None
    );
}

#[test]
fn conditional_combinations_the_venue_refuses_are_refused_before_sending() {
    let mock = venue()
        .setting("time_sync_s", "0")
        .setting("exchange_filters", "off")
        .setting("position_mode", "one-way");
    let base = json!({"symbol": "BLZUSDT", "side": "SELL", "trigger_price": "0.09"});
    for (extra, fragment) in [
        (
            json!({"type": "STOP_MARKET"}),
            "quantity: required unless close_position",
        ),
        (
            json!({"type": "STOP_MARKET", "quantity": "1", "close_position": true}),
            "not with close_position",
        ),
        (
            json!({"type": "STOP_MARKET", "quantity": "1", "price": "0.1"}),
            "price: not with type STOP_MARKET",
        ),
        (
            json!({"type": "STOP", "quantity": "1"}),
            "both required with type STOP",
        ),
        (
            json!({"type": "TAKE_PROFIT", "quantity": "1", "price": "0.1", "close_position": true}),
            "close_position: only with",
        ),
    ] {
        let mut p = base.clone();
        p.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        let err = testing::call::<Binance>(&mock, "create_conditional_order", p).unwrap_err();
        assert!(
            matches!(&err, VenueError::InvalidParams(m) if m.contains(fragment)),
            "{fragment}: {err:?}"
        );
    }
    assert!(mock.requests().is_empty());
}

#[test]
fn margin_type_already_set_and_modify_without_change_are_successes() {
    let mock = venue()
        .setting("time_sync_s", "0")
        .setting("exchange_filters", "off")
        .respond(
            Method::Post,
            "/fapi/v1/marginType",
            400,
            json!({"code": -4046, "msg": "No need to change margin type."}),
        )
        .respond(
            Method::Put,
            "/fapi/v1/order",
            400,
            json!({"code": -5027, "msg": "No need to modify the order."}),
        )
        .respond(Method::Get, "/fapi/v1/order", 200, order("mod-1"));
    let mut instance = Instance::<Binance>::new();
    let out = instance
        .call(
            &mock,
            "set_margin_type",
            json!({"symbol": "BLZUSDT", "margin_type": "ISOLATED"}),
        )
        .unwrap();
    assert_eq!(out["changed"], false);
    let out = instance
        .call(
            &mock,
            "modify_order",
            json!({"symbol": "BLZUSDT", "side": "BUY", "quantity": "100", "price": "0.1",
                   "client_order_id": "mod-1"}),
        )
        .unwrap();
    assert_eq!(out["client_order_id"], "mod-1");
}

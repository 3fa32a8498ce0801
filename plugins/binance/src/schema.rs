//! JSON Schemas of the operations' params, as `describe` publishes them; the
//! host enforces them before the plugin runs, and [`crate::params`] checks
//! the same rules again while decoding (the plugin also runs without the
//! host, in native tests).

use serde_json::{Value, json};

fn symbol() -> Value {
    json!({"type": "string", "pattern": "^[A-Z0-9_\\u0080-\\uFFFF]{1,32}$"})
}

fn side() -> Value {
    json!({"enum": ["BUY", "SELL"]})
}

fn decimal() -> Value {
    json!({"type": "string", "pattern": "^[0-9]+(\\.[0-9]+)?$"})
}

fn client_id() -> Value {
    json!({"type": "string", "pattern": "^[\\.A-Z\\:/a-z0-9_-]{1,36}$"})
}

fn order_id() -> Value {
    json!({"type": ["integer", "string"], "minimum": 1, "pattern": "^[0-9]+$"})
}

fn millis() -> Value {
    json!({"type": "integer", "minimum": 0})
}

fn object(required: &[&str], properties: Value) -> Value {
    json!({
        "type": "object",
        "required": required,
        "additionalProperties": false,
        "properties": properties,
    })
}

/// The options every create shares, added to `properties`.
fn with_order_options(mut properties: Value) -> Value {
    let extra = json!({
        "client_order_id": client_id(),
        "reduce_only": {"type": "boolean"},
        "position_side": {"enum": ["BOTH", "LONG", "SHORT"]},
        "self_trade_prevention_mode": {"enum": ["NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"]},
    });
    if let (Some(p), Some(e)) = (properties.as_object_mut(), extra.as_object()) {
        p.extend(e.clone());
    }
    properties
}

fn market_properties() -> Value {
    with_order_options(json!({"symbol": symbol(), "side": side(), "quantity": decimal()}))
}

fn limit_properties() -> Value {
    with_order_options(json!({
        "symbol": symbol(), "side": side(), "quantity": decimal(), "price": decimal(),
        "time_in_force": {"enum": ["GTC", "IOC", "FOK", "GTX", "GTD"], "default": "GTC"},
        "good_till_date": millis(),
    }))
}

pub fn market_order() -> Value {
    object(&["symbol", "side", "quantity"], market_properties())
}

pub fn limit_order() -> Value {
    object(&["symbol", "side", "quantity", "price"], limit_properties())
}

pub fn batch() -> Value {
    let tagged = |kind: &str, required: &[&str], properties: Value| {
        let mut properties = properties;
        if let Some(p) = properties.as_object_mut() {
            p.insert("type".into(), json!({"const": kind}));
        }
        let mut required = required.to_vec();
        required.push("type");
        object(&required, properties)
    };
    json!({
        "type": "object",
        "required": ["orders"],
        "additionalProperties": false,
        "properties": {"orders": {
            "type": "array", "minItems": 1, "maxItems": 5,
            "items": {"oneOf": [
                tagged("MARKET", &["symbol", "side", "quantity"], market_properties()),
                tagged("LIMIT", &["symbol", "side", "quantity", "price"], limit_properties()),
            ]},
        }},
    })
}

pub fn conditional_order() -> Value {
    object(
        &["symbol", "side", "type", "trigger_price"],
        json!({
            "symbol": symbol(), "side": side(),
            "type": {"enum": ["STOP_MARKET", "TAKE_PROFIT_MARKET", "STOP", "TAKE_PROFIT"]},
            "trigger_price": decimal(), "quantity": decimal(), "price": decimal(),
            "close_position": {"type": "boolean"},
            "working_type": {"enum": ["MARK_PRICE", "CONTRACT_PRICE"]},
            "price_protect": {"type": "boolean"}, "reduce_only": {"type": "boolean"},
            "position_side": {"enum": ["BOTH", "LONG", "SHORT"]},
            "time_in_force": {"enum": ["GTC", "IOC", "FOK", "GTX", "GTD"]},
            "good_till_date": millis(),
            "self_trade_prevention_mode": {"enum": ["NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"]},
            "client_algo_id": client_id(),
        }),
    )
}

pub fn algo_ref() -> Value {
    let mut s = object(
        &[],
        json!({"algo_id": order_id(), "client_algo_id": client_id()}),
    );
    s["oneOf"] = json!([{"required": ["algo_id"]}, {"required": ["client_algo_id"]}]);
    s
}

pub fn order_ref() -> Value {
    let mut s = object(
        &["symbol"],
        json!({"symbol": symbol(), "order_id": order_id(), "client_order_id": client_id()}),
    );
    s["oneOf"] = json!([{"required": ["order_id"]}, {"required": ["client_order_id"]}]);
    s
}

pub fn modify_order() -> Value {
    let mut s = object(
        &["symbol", "side", "quantity", "price"],
        json!({
            "symbol": symbol(), "side": side(), "quantity": decimal(), "price": decimal(),
            "order_id": order_id(), "client_order_id": client_id(),
        }),
    );
    s["oneOf"] = json!([{"required": ["order_id"]}, {"required": ["client_order_id"]}]);
    s
}

pub fn close_position() -> Value {
    object(
        &["symbol"],
        json!({
            "symbol": symbol(), "client_order_id": client_id(),
            "position_side": {"enum": ["BOTH", "LONG", "SHORT"]},
        }),
    )
}

pub fn symbol_only() -> Value {
    object(&["symbol"], json!({"symbol": symbol()}))
}

pub fn open_orders() -> Value {
    object(&[], json!({"symbol": symbol()}))
}

pub fn nothing() -> Value {
    json!({"type": "object", "additionalProperties": false})
}

pub fn leverage() -> Value {
    object(
        &["symbol", "leverage"],
        json!({"symbol": symbol(), "leverage": {"type": "integer", "minimum": 1, "maximum": 125}}),
    )
}

pub fn margin_type() -> Value {
    object(
        &["symbol", "margin_type"],
        json!({"symbol": symbol(), "margin_type": {"enum": ["ISOLATED", "CROSSED"]}}),
    )
}

pub fn countdown() -> Value {
    object(
        &["symbol", "countdown_ms"],
        json!({"symbol": symbol(), "countdown_ms": millis()}),
    )
}

pub fn user_trades() -> Value {
    object(
        &["symbol"],
        json!({
            "symbol": symbol(), "start_time": millis(), "end_time": millis(),
            "from_id": millis(), "limit": {"type": "integer", "minimum": 1, "maximum": 1000},
        }),
    )
}

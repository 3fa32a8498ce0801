//! Template venue plugin: the smallest complete plugin, to copy for a new venue.
//!
//! It speaks to an imaginary REST price API shaped like most exchange APIs:
//!
//! | operation   | request                   | success body                              |
//! |-------------|---------------------------|-------------------------------------------|
//! | `get_price` | GET `/price?symbol=BTCUSDT` | `{"symbol":"BTCUSDT","price":"123.45"}` |
//! | `ping`      | none                      | `{"pong":true}` built by the plugin       |
//!
//! and answers errors with a non-2xx status and `{"code": -1121, "msg": "Invalid symbol."}`.
//!
//! What a plugin does and does not do: it says *what* to send and *how* to read
//! the answer. The host owns the base URL, retries, failover, circuit
//! breakers, rate limits, deadlines and secrets, so none of that appears here.
//!
//! Build: `cargo build --profile plugin --target wasm32-wasip2 -p template-plugin`
//! produces `target/wasm32-wasip2/plugin/template.wasm`; drop it into the
//! host's plugin folder and name `template` as the plugin of a venue.

// The prelude brings Plugin, Operations, Request, Response, Query, VenueError,
// SendError and the `host` module.
use resilience_guest::decimal::is_unsigned_decimal;
use resilience_guest::envelope;
use resilience_guest::prelude::*;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

// Step 1: keep every venue constant in one place, with its source beside it,
// so a reviewer can check the plugin against the venue's documentation.
/// GET `?symbol=`; the venue's price ticker (source: the venue's REST docs).
const PRICE_PATH: &str = "/price";

// Step 2: the plugin struct. The host creates it with `Default` once per
// WebAssembly instance and may replace the instance at any time, so fields
// may only hold caches, never anything that must survive.
/// The plugin.
#[derive(Debug, Default)]
pub struct Template;

// Step 3: params are plain serde structs. The SDK decodes the caller's JSON
// into them; a missing or mistyped field becomes `invalid_params` naming the
// field, without any code here.
/// Params of `get_price`.
#[derive(Debug, Deserialize)]
pub struct PriceParams {
    /// Venue symbol, e.g. `BTCUSDT`.
    pub symbol: String,
}

/// What `get_price` returns, and the venue's success body.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Price {
    pub symbol: String,
    /// Decimal string, kept as text so no precision is lost to floats.
    pub price: String,
}

// Step 4: the operations table: name, one-line summary, handler. Use
// `.mutating` instead of `.op` for order placement, so the host journals it.
impl Plugin for Template {
    const NAME: &'static str = "template";
    const VERSION: &'static str = "0.1.0";

    fn operations() -> Operations<Self> {
        Operations::new()
            .op("get_price", "Last price of a symbol", Self::get_price)
            // Optional: a JSON Schema shown by the host's `GET /v1/venues`.
            .schema(json!({
                "type": "object",
                "required": ["symbol"],
                "properties": {"symbol": {"type": "string"}},
            }))
            .op(
                "ping",
                "Answer without any I/O (measures per-call overhead)",
                Self::ping,
            )
    }
}

// Step 5: handlers. Each takes typed params and returns anything Serialize.
impl Template {
    fn get_price(&mut self, p: PriceParams) -> Result<Price, VenueError> {
        // Check what the venue would reject anyway, to save a round trip and
        // give the caller a clear message naming the field.
        if p.symbol.is_empty() {
            return Err(VenueError::invalid("symbol: must not be empty"));
        }
        // `Query` percent-encodes values; the path is relative to the
        // venue's endpoint from the host config.
        let path = Query::new().push("symbol", &p.symbol).to_path(PRICE_PATH);
        // `send` hands the request to the host. `?` turns a transport failure
        // (timeout, breaker open, rate limited) into `VenueError::Transport`.
        let resp = Request::get(path).send()?;
        // Reading the body is a separate, pure function: its edge cases are
        // tested on plain `Response`s, without scripting a host for each.
        read_price(&resp)
    }

    // Pure on purpose: the host's benchmark uses it to measure the cost of one
    // call through the plugin boundary, so it must not call the host.
    fn ping(&mut self, _: Value) -> Result<Value, VenueError> {
        Ok(json!({ "pong": true }))
    }
}

/// Read a `/price` answer: the price on 2xx, the venue's error otherwise.
///
/// [`envelope::json`] does the mapping every REST venue needs: non-2xx
/// becomes `upstream` with the HTTP status and, when the body has them, the
/// venue's `code` and `msg` (a non-JSON body is quoted); a 2xx body of the
/// wrong shape is a `parse` error naming the field. What is left here is
/// what only this venue knows: the price must be a plain decimal.
pub fn read_price(resp: &Response) -> Result<Price, VenueError> {
    let price: Price = envelope::json(resp)?;
    if !is_unsigned_decimal(&price.price) {
        return Err(VenueError::parse(format!(
            "price: {:?} is not a decimal number",
            price.price
        )));
    }
    Ok(price)
}

// Step 6: export the plugin as the component's `adapter`, once per crate.
// Only for WebAssembly: the export names (`resilience:venue/adapter@0.2.0#…`)
// are not valid symbols for a native linker, and native builds only run tests.
#[cfg(target_arch = "wasm32")]
resilience_guest::export_plugin!(Template);

// Step 7: test natively with `cargo test -p template-plugin`. Pure functions
// (`read_price`) are tested directly; whole operations run through the SDK's
// harness against a scripted mock host (`resilience-guest` feature
// `testing`, a dev-dependency in Cargo.toml), which records every request.
#[cfg(test)]
mod tests {
    use super::*;
    use resilience_guest::testing::{self, MockHost};

    fn resp(status: u16, body: &str) -> Response {
        Response::new(status, vec![], body.as_bytes().to_vec())
    }

    #[test]
    fn price_body_is_returned_as_is() {
        let price = read_price(&resp(200, r#"{"symbol":"BTCUSDT","price":"123.45"}"#)).unwrap();
        assert_eq!(
            price,
            Price {
                symbol: "BTCUSDT".into(),
                price: "123.45".into()
            }
        );
    }

    #[test]
    fn venue_error_body_becomes_upstream_with_code_and_message() {
        let err = read_price(&resp(400, r#"{"code":-1121,"msg":"Invalid symbol."}"#)).unwrap_err();
        match err {
            VenueError::Upstream(u) => {
                assert_eq!(u.status, 400);
                assert_eq!(u.code.as_deref(), Some("-1121"));
                assert_eq!(u.message, "Invalid symbol.");
            }
            other => panic!("expected upstream, got {other:?}"),
        }
    }

    #[test]
    fn non_json_error_body_becomes_upstream_quoting_the_body() {
        match read_price(&resp(503, "<html>down</html>")).unwrap_err() {
            VenueError::Upstream(u) => {
                assert_eq!((u.status, u.code), (503, None));
                assert!(u.message.contains("down"), "{}", u.message);
            }
            other => panic!("expected upstream, got {other:?}"),
        }
    }

    #[test]
    fn wrong_success_body_is_a_parse_error_naming_the_field() {
        match read_price(&resp(200, r#"{"symbol":"BTCUSDT","price":123.45}"#)).unwrap_err() {
            VenueError::Parse(m) => assert!(m.contains("price"), "{m}"),
            other => panic!("expected parse, got {other:?}"),
        }
        assert!(matches!(
            read_price(&resp(200, r#"{"symbol":"BTCUSDT","price":"1e5"}"#)),
            Err(VenueError::Parse(_))
        ));
    }

    #[test]
    fn ping_answers_without_the_host() {
        let out = Template::operations()
            .call(&mut Template, "ping", json!({}))
            .unwrap();
        assert_eq!(out, json!({ "pong": true }));
        // The same through the harness: a mock with nothing scripted sees no request.
        let mock = MockHost::new();
        let out = testing::call::<Template>(&mock, "ping", json!({})).unwrap();
        assert_eq!(out, json!({ "pong": true }));
        assert!(mock.requests().is_empty());
    }

    #[test]
    fn decimal_check_accepts_plain_decimals_only() {
        for ok in ["0", "123", "123.45", "0.001"] {
            assert!(is_unsigned_decimal(ok), "{ok}");
        }
        for bad in ["", ".5", "5.", "1.2.3", "-1", "1e5", " 1"] {
            assert!(!is_unsigned_decimal(bad), "{bad}");
        }
    }

    #[test]
    fn get_price_sends_one_encoded_get_and_returns_the_price() {
        let mock = MockHost::new().respond(
            Method::Get,
            "/price?symbol=BTC%2FUSDT",
            200,
            json!({"symbol": "BTC/USDT", "price": "123.45"}),
        );
        let out =
            testing::call::<Template>(&mock, "get_price", json!({"symbol": "BTC/USDT"})).unwrap();
        assert_eq!(out, json!({"symbol": "BTC/USDT", "price": "123.45"}));
        let sent = mock.requests();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].method, Method::Get);
        assert_eq!(sent[0].path, "/price?symbol=BTC%2FUSDT");
        assert!(sent[0].headers.is_empty() && sent[0].body.is_empty());
        assert!(sent[0].idempotent);
        assert_eq!(sent[0].weight, 1);
    }

    #[test]
    fn get_price_maps_the_venue_error_through_the_whole_operation() {
        let mock = MockHost::new().respond(
            Method::Get,
            "/price",
            400,
            json!({"code": -1121, "msg": "Invalid symbol."}),
        );
        let err =
            testing::call::<Template>(&mock, "get_price", json!({"symbol": "NOPE"})).unwrap_err();
        assert_eq!(
            err,
            VenueError::upstream(400, Some("-1121".into()), "Invalid symbol.")
        );
    }

    #[test]
    fn get_price_passes_transport_errors_through() {
        let mock = MockHost::new().fail(
            Method::Get,
            "/price",
            SendError::Timeout("deadline exceeded".into()),
        );
        let err = testing::call::<Template>(&mock, "get_price", json!({"symbol": "BTCUSDT"}))
            .unwrap_err();
        assert!(matches!(err, VenueError::Transport(SendError::Timeout(_))));
    }

    #[test]
    fn bad_params_are_refused_before_anything_is_sent() {
        let mock = MockHost::new();
        for params in [json!({}), json!({"symbol": ""}), json!({"symbol": 5})] {
            let err = testing::call::<Template>(&mock, "get_price", params.clone()).unwrap_err();
            assert!(
                matches!(&err, VenueError::InvalidParams(m) if m.contains("symbol")),
                "{params}: {err:?}"
            );
        }
        assert!(mock.requests().is_empty());
    }

    #[test]
    fn describe_lists_both_operations_with_the_price_schema() {
        let info = testing::describe::<Template>();
        assert_eq!(info.name, Template::NAME);
        let names: Vec<&str> = info.operations.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(names, ["get_price", "ping"]);
        assert!(info.operations.iter().all(|o| !o.mutating));
        assert!(info.operations[0].params_schema.contains("symbol"));
    }
}

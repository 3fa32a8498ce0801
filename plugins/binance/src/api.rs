//! Binance USDⓈ-M futures REST: every endpoint this plugin calls, with its
//! weight, security type and retry safety, in one table; and the names,
//! headers and error codes the plugin relies on.
//!
//! Sources, as gathered in `docs/venues/binance.md`:
//! - (a) the official USDⓈ-M docs: "General Info" (signing, timing, headers),
//!   "Error Codes", "New Order", "Position Information V2";
//! - (b) `binance/binance-connector-python` at 29da329, the official SDK named
//!   in the docs: its docstrings carry the weights.
//!
//! | constant             | method | path                   | IP weight | security   | host may retry after sending |
//! |----------------------|--------|------------------------|-----------|------------|------------------------------|
//! | [`NEW_ORDER`]        | POST   | `/fapi/v1/order`       | 0 (1 on each order count) | TRADE (signed) | no, see below |
//! | [`CANCEL_ORDER`]     | DELETE | `/fapi/v1/order`       | 1         | TRADE (signed) | yes        |
//! | [`QUERY_ORDER`]      | GET    | `/fapi/v1/order`       | 1         | USER_DATA (signed) | yes    |
//! | [`OPEN_ORDERS`]      | GET    | `/fapi/v1/openOrders?symbol=` | 1  | USER_DATA (signed) | yes    |
//! | [`OPEN_ORDERS_ALL`]  | GET    | `/fapi/v1/openOrders`  | 40        | USER_DATA (signed) | yes    |
//! | [`POSITION_RISK`]    | GET    | `/fapi/v3/positionRisk?symbol=` | 5 | USER_DATA (signed) | yes  |
//! | [`BALANCE`]          | GET    | `/fapi/v3/balance`     | 5         | USER_DATA (signed) | yes    |
//! | [`PREMIUM_INDEX`]    | GET    | `/fapi/v1/premiumIndex?symbol=` | 1 | NONE (public)     | yes    |
//!
//! Weights are from docs/venues/binance.md "Endpoint weights" (SDK docstrings (b); the
//! official pages agree where checked). New Order charges **0** IP weight and
//! 1 on `X-MBX-ORDER-COUNT-10S` and `-1M` (official New Order page). The v3
//! position and balance endpoints replace v2 (marked deprecated 2024-07-24;
//! same weight 5 on the current pages); a third-party note says v2
//! positionRisk may cost 10, so the venue's own `X-MBX-USED-WEIGHT-1M`,
//! reported back to the host after every response, is what the budget tracks.
//!
//! New Order is not retried by the host once it may have reached Binance:
//! `newClientOrderId` makes a repeat of a still-open order fail with `-4116`
//! (which the plugin resolves to the existing order), but Binance enforces the
//! id's uniqueness among *open* orders only, so an order that filled or was
//! cancelled between two attempts would not block a second one; see the crate
//! docs, "Idempotency".

use resilience_guest::Method;

/// One REST endpoint, as the venue documents it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint {
    /// HTTP method.
    pub method: Method,
    /// Path relative to the venue endpoint (`https://fapi.binance.com`).
    pub path: &'static str,
    /// IP weight, charged against the host's `weight_per_minute` budget.
    pub weight: u32,
    /// TRADE and USER_DATA endpoints are SIGNED: `recvWindow`, `timestamp`,
    /// `signature` last, and the `X-MBX-APIKEY` header.
    pub signed: bool,
    /// Whether the host may retry the request after it may have reached the
    /// venue (timeouts, 5xx).
    pub idempotent: bool,
}

/// New Order (TRADE). Params in the query string; the body stays empty.
pub const NEW_ORDER: Endpoint = Endpoint {
    method: Method::Post,
    path: "/fapi/v1/order",
    weight: 0,
    signed: true,
    // Not retried by the host once it may have reached Binance: the id only
    // deduplicates against *open* orders, so a retry after a market order
    // filled would place a second one (crate docs, "Idempotency").
    idempotent: false,
};

/// Cancel Order (TRADE), by `orderId` or `origClientOrderId`.
pub const CANCEL_ORDER: Endpoint = Endpoint {
    method: Method::Delete,
    path: "/fapi/v1/order",
    weight: 1,
    signed: true,
    // A repeated cancel changes nothing; its `-2011` is resolved by a lookup.
    idempotent: true,
};

/// Query Order (USER_DATA), by `orderId` or `origClientOrderId`.
pub const QUERY_ORDER: Endpoint = Endpoint {
    method: Method::Get,
    path: "/fapi/v1/order",
    weight: 1,
    signed: true,
    idempotent: true,
};

/// Current Open Orders of one symbol (USER_DATA).
pub const OPEN_ORDERS: Endpoint = Endpoint {
    method: Method::Get,
    path: "/fapi/v1/openOrders",
    weight: 1,
    signed: true,
    idempotent: true,
};

/// Current Open Orders of every symbol (USER_DATA): weight 40.
pub const OPEN_ORDERS_ALL: Endpoint = Endpoint {
    weight: 40,
    ..OPEN_ORDERS
};

/// Position Information V3 (USER_DATA). Lists only symbols with a position or
/// open orders, so a flat symbol may come back as `[]`.
pub const POSITION_RISK: Endpoint = Endpoint {
    method: Method::Get,
    path: "/fapi/v3/positionRisk",
    weight: 5,
    signed: true,
    idempotent: true,
};

/// Futures Account Balance V3 (USER_DATA).
pub const BALANCE: Endpoint = Endpoint {
    method: Method::Get,
    path: "/fapi/v3/balance",
    weight: 5,
    signed: true,
    idempotent: true,
};

/// Mark Price and funding rate of one symbol (public; weight 10 without a
/// symbol, which this plugin never sends).
pub const PREMIUM_INDEX: Endpoint = Endpoint {
    method: Method::Get,
    path: "/fapi/v1/premiumIndex",
    weight: 1,
    signed: false,
    idempotent: true,
};

/// API key header (General Info: "X-MBX-APIKEY").
pub const API_KEY_HEADER: &str = "X-MBX-APIKEY";
/// Venue secret sent as the API key header.
pub const API_KEY: &str = "api_key";
/// Venue secret keying the HMAC of signed requests (a signing recipe).
pub const API_SECRET: &str = "api_secret";
/// Name of the timestamp parameter the host sets at each attempt.
pub const TIMESTAMP_PARAM: &str = "timestamp";
/// Name of the signature parameter, always the last one.
pub const SIGNATURE_PARAM: &str = "signature";

/// Venue setting: `recvWindow` in ms.
pub const RECV_WINDOW_SETTING: &str = "recv_window_ms";
/// `recvWindow` when the setting is absent (the venue's own default).
pub const DEFAULT_RECV_WINDOW_MS: u64 = 5_000;
/// Largest `recvWindow` the venue accepts (SDK docstrings (c), spot docs (d)).
pub const MAX_RECV_WINDOW_MS: u64 = 60_000;

/// Response header prefix of IP weight used, `X-MBX-USED-WEIGHT-(n)(unit)`;
/// HTTP/2 sends it lower-case, so it is matched case-insensitively.
pub const USED_WEIGHT_PREFIX: &str = "x-mbx-used-weight-";
/// Response header prefix of orders placed, `X-MBX-ORDER-COUNT-(n)(unit)`
/// (`-10S`, `-1M`, and `-1D` where sent). Rejected orders may lack it.
pub const ORDER_COUNT_PREFIX: &str = "x-mbx-order-count-";
/// `report-usage` counter for IP weight.
pub const WEIGHT_COUNTER: &str = "weight";
/// `report-usage` counter for order counts.
pub const ORDERS_COUNTER: &str = "orders";

/// `-1021` INVALID_TIMESTAMP: outside `recvWindow`, or 1000 ms ahead of the server.
pub const INVALID_TIMESTAMP: &str = "-1021";
/// `-1022` INVALID_SIGNATURE.
pub const INVALID_SIGNATURE: &str = "-1022";
/// `-2011` CANCEL_REJECTED ("Unknown order sent.").
pub const CANCEL_REJECTED: &str = "-2011";
/// `-2013` NO_SUCH_ORDER ("Order does not exist.").
pub const NO_SUCH_ORDER: &str = "-2013";
/// `-4116` DUPLICATED_CLIENT_ORDER_ID (match the code: the text varies).
pub const DUPLICATED_CLIENT_ORDER_ID: &str = "-4116";

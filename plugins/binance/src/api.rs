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
//! | [`SERVER_TIME`]      | GET    | `/fapi/v1/time`        | 1         | NONE (public)      | yes    |
//! | [`EXCHANGE_INFO`]    | GET    | `/fapi/v1/exchangeInfo` | 1        | NONE (public)      | yes    |
//! | [`POSITION_MODE`]    | GET    | `/fapi/v1/positionSide/dual` | 30  | USER_DATA (signed) | yes    |
//! | [`BATCH_ORDERS`]     | POST   | `/fapi/v1/batchOrders` | 5 (+5 on the 10 s order count, +1 on the minute's) | TRADE (signed) | no |
//! | [`MODIFY_ORDER`]     | PUT    | `/fapi/v1/order`       | 0 (+1 order) | TRADE (signed) | yes: the new price and quantity are absolute |
//! | [`LEVERAGE`]         | POST   | `/fapi/v1/leverage`    | 1         | TRADE (signed)     | yes: absolute |
//! | [`MARGIN_TYPE`]      | POST   | `/fapi/v1/marginType`  | 1         | TRADE (signed)     | yes: absolute |
//! | [`CANCEL_ALL`]       | DELETE | `/fapi/v1/allOpenOrders` | 1       | TRADE (signed)     | yes    |
//! | [`COUNTDOWN_CANCEL_ALL`] | POST | `/fapi/v1/countdownCancelAll` | 10 | TRADE (signed)   | yes: it sets the countdown |
//! | [`USER_TRADES`]      | GET    | `/fapi/v1/userTrades`  | 5         | USER_DATA (signed) | yes    |
//! | [`NEW_ALGO_ORDER`]   | POST   | `/fapi/v1/algoOrder`   | 0 (+1 order) | TRADE (signed)  | no     |
//! | [`CANCEL_ALGO_ORDER`] | DELETE | `/fapi/v1/algoOrder`  | 1         | TRADE (signed)     | yes    |
//! | [`QUERY_ALGO_ORDER`] | GET    | `/fapi/v1/algoOrder`   | 1         | USER_DATA (signed) | yes    |
//!
//! The weights of the rows from [`SERVER_TIME`] on are the docstrings of the
//! official `binance-sdk-derivatives-trading-usds-futures` 18.1.0 (the SDK the
//! differential test runs against), which link each to its page of the
//! official docs. Conditional orders (stop, take-profit) go through the Algo
//! Service (`/fapi/v1/algoOrder`, `algoType=CONDITIONAL`), where Binance moved
//! them from New Order.
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

/// Check Server Time (public): `{"serverTime": ms}`.
pub const SERVER_TIME: Endpoint = Endpoint {
    method: Method::Get,
    path: "/fapi/v1/time",
    weight: 1,
    signed: false,
    idempotent: true,
};

/// Exchange Information (public): every symbol's filters, in one answer.
pub const EXCHANGE_INFO: Endpoint = Endpoint {
    method: Method::Get,
    path: "/fapi/v1/exchangeInfo",
    weight: 1,
    signed: false,
    idempotent: true,
};

/// Get Current Position Mode (USER_DATA): `{"dualSidePosition": bool}`.
pub const POSITION_MODE: Endpoint = Endpoint {
    method: Method::Get,
    path: "/fapi/v1/positionSide/dual",
    weight: 30,
    signed: true,
    idempotent: true,
};

/// Place Multiple Orders (TRADE), at most [`MAX_BATCH_ORDERS`].
pub const BATCH_ORDERS: Endpoint = Endpoint {
    method: Method::Post,
    path: "/fapi/v1/batchOrders",
    weight: 5,
    signed: true,
    // As New Order: ids deduplicate against open orders only.
    idempotent: false,
};

/// Modify Order (TRADE): a limit order's new price and quantity.
pub const MODIFY_ORDER: Endpoint = Endpoint {
    method: Method::Put,
    path: "/fapi/v1/order",
    weight: 0,
    signed: true,
    // The values are absolute: a repeat sets them again (or is -5027, "no
    // need to modify", which the plugin resolves by a lookup).
    idempotent: true,
};

/// Change Initial Leverage (TRADE).
pub const LEVERAGE: Endpoint = Endpoint {
    method: Method::Post,
    path: "/fapi/v1/leverage",
    weight: 1,
    signed: true,
    idempotent: true,
};

/// Change Margin Type (TRADE); `-4046` when it already is that type.
pub const MARGIN_TYPE: Endpoint = Endpoint {
    method: Method::Post,
    path: "/fapi/v1/marginType",
    weight: 1,
    signed: true,
    idempotent: true,
};

/// Cancel All Open Orders of a symbol (TRADE).
pub const CANCEL_ALL: Endpoint = Endpoint {
    method: Method::Delete,
    path: "/fapi/v1/allOpenOrders",
    weight: 1,
    signed: true,
    idempotent: true,
};

/// Auto-Cancel All Open Orders (TRADE): the dead man's switch.
pub const COUNTDOWN_CANCEL_ALL: Endpoint = Endpoint {
    method: Method::Post,
    path: "/fapi/v1/countdownCancelAll",
    weight: 10,
    signed: true,
    // Each call sets the countdown from now; a repeat sets it again.
    idempotent: true,
};

/// Account Trade List (USER_DATA).
pub const USER_TRADES: Endpoint = Endpoint {
    method: Method::Get,
    path: "/fapi/v1/userTrades",
    weight: 5,
    signed: true,
    idempotent: true,
};

/// New Algo Order (TRADE): conditional (stop / take-profit) orders.
pub const NEW_ALGO_ORDER: Endpoint = Endpoint {
    method: Method::Post,
    path: "/fapi/v1/algoOrder",
    weight: 0,
    signed: true,
    idempotent: false,
};

/// Cancel Algo Order (TRADE), by `algoId` or `clientAlgoId`.
pub const CANCEL_ALGO_ORDER: Endpoint = Endpoint {
    method: Method::Delete,
    path: "/fapi/v1/algoOrder",
    weight: 1,
    signed: true,
    idempotent: true,
};

/// Query Algo Order (USER_DATA), by `algoId` or `clientAlgoId`.
pub const QUERY_ALGO_ORDER: Endpoint = Endpoint {
    method: Method::Get,
    path: "/fapi/v1/algoOrder",
    weight: 1,
    signed: true,
    idempotent: true,
};

/// Orders in one Place Multiple Orders request.
pub const MAX_BATCH_ORDERS: usize = 5;

/// `-1111` BAD_PRECISION: more decimals than the symbol allows.
pub const BAD_PRECISION: &str = "-1111";
/// `-4014` PRICE_NOT_INCREASED_BY_TICK_SIZE.
pub const PRICE_NOT_ON_TICK: &str = "-4014";
/// `-4164` MIN_NOTIONAL: the order's notional is below the symbol's minimum.
pub const MIN_NOTIONAL: &str = "-4164";
/// `-4061` the order's position side does not match the account's mode.
pub const POSITION_SIDE_MISMATCH: &str = "-4061";
/// `-4046` NO_NEED_TO_CHANGE_MARGIN_TYPE.
pub const NO_NEED_TO_CHANGE_MARGIN_TYPE: &str = "-4046";
/// `-5027` no need to modify the order (same price and quantity).
pub const NO_NEED_TO_MODIFY: &str = "-5027";

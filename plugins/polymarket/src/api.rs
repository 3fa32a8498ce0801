//! Polymarket CLOB REST: every path, header, setting, secret and contract this
//! plugin uses, in one place.
//!
//! Sources: `docs/venues/polymarket.md` (from `Polymarket/py-clob-client`
//! f1a8807 `endpoints.py`, `py-clob-client-v2` b0a97fa, the docs' openapi
//! pages); where a value comes from elsewhere it is named beside it.
//!
//! | operation             | method | path                         | auth | idempotent | notes |
//! |-----------------------|--------|------------------------------|------|------------|-------|
//! | `get_order_book`      | GET    | `/book?token_id=`            | none | yes | |
//! | `get_midpoint`        | GET    | `/midpoint?token_id=`        | none | yes | `mid` (older) or `mid_price` (current docs) |
//! | `get_price`           | GET    | `/price?token_id=&side=`     | none | yes | `side=BUY` answers the best **bid**, `SELL` the best ask |
//! | (any order)           | GET    | `/book?token_id=`            | none | yes | tick size, neg-risk, min size; cached ([`crate::market`]) |
//! |                       | GET    | `/fee-rate?token_id=`        | none | yes | V1 only; cached |
//! |                       | GET    | `/version`                   | none | yes | after `order_version_mismatch` only |
//! | `create_limit_order`  | POST   | `/order`                     | L2 + EIP-712 order | no | |
//! | `create_market_order` | (GET   | `/book?token_id=`            | none | yes | only when no `price` is given) |
//! |                       | POST   | `/order`                     | L2 + EIP-712 order | no | FOK/FAK at the worst price |
//! | `create_orders`       | POST   | `/orders` body `[{order,owner,orderType,…}]` | L2 + EIP-712 orders | no | at most [`MAX_BATCH_ORDERS`] |
//! | `cancel_order`        | DELETE | `/order` body `{"orderID"}`  | L2   | yes | |
//! | `cancel_orders`       | DELETE | `/orders` body `["0x…",…]`   | L2   | yes | at most [`MAX_CANCEL_IDS`] |
//! | `cancel_market_orders`| DELETE | `/cancel-market-orders` body `{"market","asset_id"}` | L2 | yes | |
//! | `cancel_all`          | DELETE | `/cancel-all`                | L2   | yes | |
//! | `get_trades`          | GET    | `/data/trades?market=&asset_id=&after=&before=&maker_address=&id=&next_cursor=` | L2 | yes | pages until `LTE=` |
//! | `heartbeat`           | POST   | `/v1/heartbeats` body `{"heartbeat_id"}` | L2 | yes | |
//! | `get_order`           | GET    | `/data/order/{id}`           | L2   | yes | the docs also show `/order/{id}`; the py client uses this one |
//! | `get_open_orders`     | GET    | `/data/orders?market=&asset_id=&next_cursor=` | L2 | yes | pages until `LTE=` |
//! | `get_balance`         | GET    | `/balance-allowance?asset_type=&token_id=&signature_type=` | L2 | yes | |
//!
//! The L2 signature covers the path **without** its query (docs/venues/polymarket.md, "L2
//! authentication"), so every path constant here is the signed path.
//!
//! Weight: every request counts 1 against the venue's requests-per-second
//! bucket. Polymarket's own limits are per endpoint class and much higher
//! (`/book` 1,500 per 10 s, POST `/order` 3,500 per 10 s burst, docs/venues/polymarket.md
//! "Rate limits"), so the host's 10/s bucket is the binding one.

/// GET `?token_id=`: `{"market","asset_id","bids":[{"price","size"}],"asks":[…],…}`,
/// best level **last** on both sides.
pub const BOOK: &str = "/book";
/// GET `?token_id=`: `{"mid":"0.45"}` or `{"mid_price":"0.45"}`.
pub const MIDPOINT: &str = "/midpoint";
/// GET `?token_id=&side=BUY|SELL`: `{"price":"0.52"}`. `side=BUY` is the
/// best bid (what a buyer on the book offers), `SELL` the best ask.
pub const PRICE: &str = "/price";
/// GET `?token_id=`: `{"base_fee": 0}`, the fee rate a V1 order must sign
/// (py-clob-client-v2 `get_fee_rate_bps`).
pub const FEE_RATE: &str = "/fee-rate";
/// GET: `{"version": 2}`, the order version the CLOB expects
/// (py-clob-client-v2 `get_version`; 2 when unreadable).
pub const VERSION: &str = "/version";
/// POST a batch of signed orders (array body, one answer per order);
/// DELETE with `["0x…"]` cancels several.
pub const ORDERS: &str = "/orders";
/// DELETE, no body: every open order of the API key.
pub const CANCEL_ALL: &str = "/cancel-all";
/// DELETE `{"market":…,"asset_id":…}` (either or both).
pub const CANCEL_MARKET_ORDERS: &str = "/cancel-market-orders";
/// GET `?market=&asset_id=&after=&before=&maker_address=&id=&next_cursor=`.
pub const DATA_TRADES: &str = "/data/trades";
/// POST `{"heartbeat_id": "…"}`. Once heartbeats start, the venue cancels
/// every order when none arrives for 10 s (docs "Heartbeat").
pub const HEARTBEATS: &str = "/v1/heartbeats";
/// POST a signed order; DELETE with `{"orderID":"0x…"}` cancels one.
pub const ORDER: &str = "/order";
/// GET `/data/order/{orderID}`: one order of the API key's owner.
pub const DATA_ORDER: &str = "/data/order/";
/// GET `?market=&asset_id=&next_cursor=`: `{"data":[…],"next_cursor":"…"}`.
pub const DATA_ORDERS: &str = "/data/orders";
/// GET `?asset_type=COLLATERAL|CONDITIONAL&token_id=&signature_type=`.
pub const BALANCE_ALLOWANCE: &str = "/balance-allowance";

/// First page cursor of `/data/orders` (py-clob-client `constants.py`).
pub const INITIAL_CURSOR: &str = "MA==";
/// `next_cursor` of the last page (py-clob-client `END_CURSOR`).
pub const END_CURSOR: &str = "LTE=";
/// Most `/data/orders` (or `/data/trades`) pages one call follows; more is
/// refused rather than returned partially (a hedger must not act on half a list).
pub const MAX_OPEN_ORDER_PAGES: usize = 50;
/// Orders per POST `/orders` (docs.polymarket.com "Post multiple orders":
/// "Maximum 15 orders per request").
pub const MAX_BATCH_ORDERS: usize = 15;
/// Order ids per DELETE `/orders` (docs.polymarket.com "Cancel multiple
/// orders": "Maximum 3000 orders per request").
pub const MAX_CANCEL_IDS: usize = 3000;
/// How long a token's tick size, neg-risk flag, min size and fee rate are
/// trusted. The venue moves a market to a finer tick as its price nears 0
/// or 1; an order refused for its tick also drops the entry.
pub const MARKET_INFO_TTL_MS: u64 = 60_000;
/// Most tokens the plugin remembers facts about.
pub const MAX_CACHED_TOKENS: usize = 4096;
/// GTD orders must expire at least this far ahead: the venue's "security
/// threshold of one minute" (docs "Orders overview": to expire in 90 s,
/// send now + 1 minute + 30 seconds).
pub const MIN_GTD_LEAD_S: u64 = 60;

// L2 headers (docs/venues/polymarket.md "L2 authentication"; py-clob-client headers/headers.py order).
pub const POLY_ADDRESS: &str = "POLY_ADDRESS";
pub const POLY_SIGNATURE: &str = "POLY_SIGNATURE";
pub const POLY_TIMESTAMP: &str = "POLY_TIMESTAMP";
pub const POLY_API_KEY: &str = "POLY_API_KEY";
pub const POLY_PASSPHRASE: &str = "POLY_PASSPHRASE";

/// Secret holding the L2 HMAC key: the **base64url-decoded** bytes of the
/// API secret (see the crate docs, "Secrets").
pub const SECRET_API_SECRET: &str = "api_secret";
/// Secret holding the secp256k1 key (64 hex digits) that signs orders.
pub const SECRET_PRIVATE_KEY: &str = "private_key";
/// Secret sent as `POLY_API_KEY`.
pub const SECRET_API_KEY: &str = "api_key";
/// Secret sent as `POLY_PASSPHRASE`.
pub const SECRET_PASSPHRASE: &str = "passphrase";

// Venue settings (`settings` in the host config).
/// The signer's EOA address (`POLY_ADDRESS`, the order's `signer`). Required
/// for every authenticated call.
pub const SETTING_ADDRESS: &str = "address";
/// The API key again, as the order body's `owner` (see the crate docs).
pub const SETTING_OWNER: &str = "owner";
/// Chain id of the exchange contract's EIP-712 domain; default 137.
pub const SETTING_CHAIN_ID: &str = "chain_id";
/// `1` or `2`; default [`DEFAULT_EXCHANGE_VERSION`].
pub const SETTING_EXCHANGE_VERSION: &str = "exchange_version";
/// The order's `maker` (a proxy or Safe wallet holding the funds); default `address`.
pub const SETTING_FUNDER: &str = "funder";
/// `0` EOA, `1` POLY_PROXY, `2` POLY_GNOSIS_SAFE; default 0.
pub const SETTING_SIGNATURE_TYPE: &str = "signature_type";
/// Overrides of the exchange contracts (chains not in [`CONTRACTS`]).
pub const SETTING_EXCHANGE_ADDRESS: &str = "exchange_address";
pub const SETTING_NEG_RISK_EXCHANGE_ADDRESS: &str = "neg_risk_exchange_address";

/// Polygon mainnet.
pub const DEFAULT_CHAIN_ID: u64 = 137;
/// The current docs and `py-clob-client-v2` use the V2 exchange (docs/venues/polymarket.md "V1 and V2").
pub const DEFAULT_EXCHANGE_VERSION: u8 = 2;

/// EIP-712 domain name of both exchange versions.
pub const DOMAIN_NAME: &str = "Polymarket CTF Exchange";
/// V1 order type (python-order-utils; docs/venues/polymarket.md "Order signature").
pub const ORDER_TYPE_V1: &str = "Order(uint256 salt,address maker,address signer,address taker,uint256 tokenId,uint256 makerAmount,uint256 takerAmount,uint256 expiration,uint256 nonce,uint256 feeRateBps,uint8 side,uint8 signatureType)";
/// V2 order type (py-clob-client-v2; `vectors/polymarket_order_v2_eip712.json`).
pub const ORDER_TYPE_V2: &str = "Order(uint256 salt,address maker,address signer,uint256 tokenId,uint256 makerAmount,uint256 takerAmount,uint8 side,uint8 signatureType,uint256 timestamp,bytes32 metadata,bytes32 builder)";

/// Exchange contracts: `(chain_id, version, exchange, neg_risk_exchange)`.
///
/// | chain | version | source |
/// |-------|---------|--------|
/// | 137   | 1       | docs/venues/polymarket.md (py-clob-client `config.py`) |
/// | 80002 | 1       | py-clob-client-v2 `config.py` (not in docs/venues/polymarket.md; reproduces the official V1 test vectors) |
/// | 137, 80002 | 2  | docs/venues/polymarket.md (py-clob-client-v2 `config.py`) |
pub const CONTRACTS: &[(u64, u8, &str, &str)] = &[
    (
        137,
        1,
        "0x4bFb41d5B3570DeFd03C39a9A4D8dE6Bd8B8982E",
        "0xC5d563A36AE78145C45a50134d48A1215220f80a",
    ),
    (
        80002,
        1,
        "0xdFE02Eb6733538f8Ea35D585af8DE5958AD99E40",
        "0xC5d563A36AE78145C45a50134d48A1215220f80a",
    ),
    (
        137,
        2,
        "0xE111180000d2663C0091e4f400237545B87B996B",
        "0xe2222d279d744050d28e00520010520000310F59",
    ),
    (
        80002,
        2,
        "0xE111180000d2663C0091e4f400237545B87B996B",
        "0xe2222d279d744050d28e00520010520000310F59",
    ),
];

/// The V1 order's `taker`: anyone.
pub const ZERO_ADDRESS: &str = "0x0000000000000000000000000000000000000000";
/// V2 `metadata` and `builder` default (py-clob-client-v2 `BYTES32_ZERO`).
pub const BYTES32_ZERO: &str = "0x0000000000000000000000000000000000000000000000000000000000000000";

/// USDC and outcome shares both have 6 decimals (docs/venues/polymarket.md "Order signature").
pub const DECIMALS: u32 = 6;
/// Salts stay below 2^53 so every JSON reader keeps them exact (the clients
/// send `salt` as a JSON number).
pub const MAX_SALT: u64 = (1 << 53) - 1;

/// Substring of a venue error telling the client to refresh the order
/// version (py-clob-client-v2 `client.py`).
pub const ORDER_VERSION_MISMATCH: &str = "order_version_mismatch";
/// Substring of the venue's refusal of an order off the market's tick
/// ("breaks minimum tick size rule"): the cached tick is stale.
pub const TICK_SIZE_ERROR: &str = "tick size";

//! toncenter HTTP API v2: every path this plugin uses, in one place.
//!
//! Source: `docs/venues/ton.md`, from `toncenter/ton-http-api` at
//! 4b4e54f, `pyTON/main.py` (route table) and `models.py` (envelope). Paths are
//! relative to the venue endpoint the host is configured with
//! (`https://toncenter.com/api/v2` on mainnet,
//! `https://testnet.toncenter.com/api/v2` on testnet).
//!
//! | operation              | method | path                     | idempotent |
//! |------------------------|--------|--------------------------|------------|
//! | `get_balance`          | GET    | `/getAddressBalance`     | yes        |
//! | `get_address_info`     | GET    | `/getAddressInformation` | yes        |
//! | `run_get_method`       | POST   | `/runGetMethod`          | yes (read-only) |
//! | `send_boc`             | POST   | `/sendBocReturnHash`     | no         |
//! | `get_masterchain_info` | GET    | `/getMasterchainInfo`    | yes        |
//! | `get_transactions`, `find_transaction` | GET | `/getTransactions` | yes |
//! | `get_wallet_info`      | GET    | `/getWalletInformation`  | yes        |
//! | `estimate_fee`         | POST   | `/estimateFee`           | yes (read-only) |
//! | `detect_address`       | none: computed by the plugin ([`crate::address`]) | | |
//! | `get_jetton_wallet`    | POST   | `/runGetMethod` (`get_wallet_address` on the master) | yes (read-only) |
//! | `get_jetton_balance`   | POST   | `/runGetMethod` (`get_wallet_address` unless `jetton_wallet` is given, then `get_wallet_data`) | yes (read-only) |
//!
//! Every request has weight 1: toncenter counts requests per second, summed
//! across keys (Free 10 rps, 1 rps without a key).

/// GET `?address=&seqno?`; `result` is the balance in nanotons as a decimal string.
pub const GET_ADDRESS_BALANCE: &str = "/getAddressBalance";
/// GET `?address=&seqno?`; `result` is a `raw.fullAccountState` object.
pub const GET_ADDRESS_INFORMATION: &str = "/getAddressInformation";
/// POST `{"address","method","stack","seqno"?}`; `result` is `smc.runResult`.
/// Also the jetton get-methods ([`crate::jetton`]).
pub const RUN_GET_METHOD: &str = "/runGetMethod";
/// POST `{"boc"}`; `result` is `raw.extMessageInfo` with the message `hash`
/// (base64), so the caller can find the transaction it causes
/// (ton-http-api `pyTON/main.py`, `send_boc_return_hash`).
pub const SEND_BOC_RETURN_HASH: &str = "/sendBocReturnHash";
/// GET `?address=&limit=&lt=&hash=&to_lt=&archival=`; `result` is a list of
/// `raw.transaction`, newest first.
pub const GET_TRANSACTIONS: &str = "/getTransactions";
/// Most transactions `/getTransactions` returns per request (ton-http-api
/// `get_transactions`: `limit` at most 100).
pub const MAX_TRANSACTIONS: u32 = 100;
/// GET `?address=&seqno?`; `result` has `wallet`, `balance`, `account_state`,
/// `wallet_type`, `seqno`, `wallet_id`, `last_transaction_id`.
pub const GET_WALLET_INFORMATION: &str = "/getWalletInformation";
/// POST `{"address","body","init_code","init_data","ignore_chksig"}`;
/// `result` is `query.fees` (`source_fees`, `destination_fees`).
pub const ESTIMATE_FEE: &str = "/estimateFee";
/// Nanotons per TON.
pub const TON_DECIMALS: u32 = 9;
/// GET; `result` is `blocks.masterchainInfo`.
pub const GET_MASTERCHAIN_INFO: &str = "/getMasterchainInfo";

/// API key header (the `?api_key=` query form works too; the header keeps the
/// key out of logged paths).
pub const API_KEY_HEADER: &str = "X-API-Key";
/// The venue secret sent as the API key header.
pub const API_KEY: &str = "api_key";
/// Venue setting that turns the API key header on (`"true"`).
pub const USE_API_KEY_SETTING: &str = "use_api_key";

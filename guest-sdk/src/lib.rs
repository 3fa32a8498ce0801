//! Guest SDK for venue plugins of the resilience host.
//!
//! A venue plugin is a WebAssembly component that builds requests for one venue
//! and reads its answers. Everything that makes a call survive a bad network
//! (pools, retries, breakers, failover, rate limits, deadlines) and every secret
//! belongs to the host; a plugin only says *what* to send and *how* to read it.
//!
//! A plugin is a struct plus a table of operations:
//!
//! ```
//! use resilience_guest::prelude::*;
//!
//! #[derive(Default)]
//! struct Echo;
//!
//! #[derive(serde::Deserialize)]
//! struct Params { text: String }
//!
//! impl Echo {
//!     fn echo(&mut self, p: Params) -> Result<serde_json::Value, VenueError> {
//!         Ok(serde_json::json!({ "text": p.text }))
//!     }
//! }
//!
//! impl Plugin for Echo {
//!     const NAME: &'static str = "echo";
//!     const VERSION: &'static str = "0.1.0";
//!     fn operations() -> Operations<Self> {
//!         Operations::new().op("echo", "Return the text it was given", Self::echo)
//!     }
//! }
//!
//! // In the plugin crate (a `cdylib` built for `wasm32-wasip2`):
//! // resilience_guest::export_plugin!(Echo);
//! ```
//!
//! # Modules
//!
//! | module         | for                                                            |
//! |----------------|----------------------------------------------------------------|
//! | [`plugin`]     | the [`Plugin`] trait and its [`Operations`] table              |
//! | [`request`]    | [`Request`] to send through the host, [`Response`] to read     |
//! | [`query`]      | query strings with fixed percent-encoding                      |
//! | [`host`]       | clock, settings, HMAC and secp256k1 with host-held secrets, log |
//! | [`error`]      | [`VenueError`] (what an operation returns) and helper errors   |
//! | [`envelope`]   | a venue's JSON answer to a value or a typed `upstream` error   |
//! | [`signing`]    | HMAC signatures as hex/base64, Binance-style signed queries    |
//! | [`encoding`]   | hex, base64, base64url                                         |
//! | `hash`         | (feature `evm`) keccak-256 and function selectors              |
//! | `eip712`       | (feature `evm`) EIP-712 domain separators, struct hashes and digests |
//! | `abi`          | (feature `evm`) Solidity ABI words: `uint256`, `int256`, `address`, `string`… |
//! | [`decimal`]    | decimal strings and fixed-point units without floats          |
//! | `testing`      | (feature `testing`) run operations natively against a mock host |
//!
//! Non-goals: the SDK does not do I/O of its own (no sockets, files or clocks
//! beyond [`host::now_ms`]); it never sees secret bytes, only secret names.
//! Helpers a plugin does not call cost nothing: the `plugin` profile's LTO
//! drops them from the component.
//!
//! # Testing
//!
//! With the feature `testing` (a dev-dependency feature), host calls made
//! natively go to a scripted `testing::MockHost`, so whole operations run in
//! `cargo test`; without it, a native host call panics naming the feature.
//!
//! With the feature `evm`, the EVM helpers (`hash`, `eip712`, `abi`) are
//! compiled, and the mock host signs `sign-secp256k1` calls. Venues that
//! need neither leave it off: their first native test build skips the
//! elliptic-curve crates.
//! Builds for `wasm32` always use the real host imports.

#![warn(missing_docs)]

#[cfg(feature = "evm")]
pub mod abi;
pub mod decimal;
#[cfg(feature = "evm")]
pub mod eip712;
pub mod encoding;
pub mod endpoints;
pub mod envelope;
pub mod error;
#[cfg(feature = "evm")]
pub mod hash;
pub mod host;
pub mod plugin;
pub mod query;
#[cfg(test)]
mod random_json;
pub mod request;
pub mod signing;
mod sys;
#[cfg(all(feature = "testing", not(target_arch = "wasm32")))]
pub mod testing;

/// Raw bindings generated from `wit/` by wit-bindgen. Plugins rarely need them
/// directly; the rest of the SDK wraps them.
#[allow(missing_docs, missing_debug_implementations, unsafe_code, clippy::all)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "venue",
        pub_export_macro: true,
        export_macro_name: "__export_venue_world",
        default_bindings_module: "::resilience_guest::bindings",
        // Lets tests compare results and errors with `assert_eq!`.
        additional_derives: [PartialEq, Eq],
    });
}

/// Version of the WIT package (`resilience:venue@WIT_VERSION`) this SDK targets.
/// The host reads the same version from the component's interface names
/// (`resilience:venue/adapter@0.2.1`, `resilience:venue/types@0.2.1`) and
/// refuses plugins built for a version it does not support.
///
/// ```
/// assert!(include_str!("../../wit/venue.wit")
///     .contains(&format!("package resilience:venue@{};", resilience_guest::WIT_VERSION)));
/// ```
pub const WIT_VERSION: &str = "0.2.1";

/// Version of this SDK, reported by every plugin's `describe`.
///
/// ```
/// assert_eq!(resilience_guest::SDK_VERSION, env!("CARGO_PKG_VERSION"));
/// ```
pub const SDK_VERSION: &str = env!("CARGO_PKG_VERSION");

pub use error::VenueError;
pub use plugin::{Operations, Plugin, Prepared, SecretUse};
pub use query::Query;
pub use request::{Method, Request, Response};

#[doc(hidden)]
pub use serde_json as __serde_json;

/// Everything a plugin usually needs, in one import.
pub mod prelude {
    pub use crate::error::{FormatError, RateLimited, SendError, UpstreamError, VenueError};
    pub use crate::host;
    pub use crate::plugin::{Operations, Plugin, Prepared, SecretUse};
    pub use crate::query::Query;
    pub use crate::request::{Method, Request, Response};
}

/// Name of the custom section that carries a plugin's default venue section
/// (see [`venue_defaults!`]); `resilience-host init` and `plugins config`
/// read it.
pub const VENUE_DEFAULTS_SECTION: &str = "resilience:venue-defaults";

/// Ship the plugin's default `[venues.NAME]` section (endpoints, tuning,
/// settings, secret names; TOML with comments) inside the component, from a
/// file in the plugin crate. `resilience-host init --plugins DIR` writes a
/// commented `resilience.toml` from every plugin's section, and
/// `resilience-host plugins config NAME` prints one.
///
/// The file's path is relative to the crate root. In a wasm build the text
/// becomes the custom section [`VENUE_DEFAULTS_SECTION`]; in every build it
/// is also the constant `VENUE_DEFAULTS`, so a native test can check it
/// parses and names the plugin.
///
/// ```ignore
/// resilience_guest::venue_defaults!("venue-defaults.toml");
/// ```
#[macro_export]
macro_rules! venue_defaults {
    ($file:literal) => {
        /// This plugin's default venue section, as shipped in the component.
        pub const VENUE_DEFAULTS: &str =
            include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/", $file));

        #[cfg(target_arch = "wasm32")]
        const _: () = {
            const LEN: usize = VENUE_DEFAULTS.len();
            const fn bytes() -> [u8; LEN] {
                let src = VENUE_DEFAULTS.as_bytes();
                let mut out = [0u8; LEN];
                let mut i = 0;
                while i < LEN {
                    out[i] = src[i];
                    i += 1;
                }
                out
            }
            // The linker keeps custom sections; `used` keeps the static from
            // being dropped before it gets there.
            #[used]
            #[unsafe(link_section = "resilience:venue-defaults")]
            static SECTION: [u8; LEN] = bytes();
        };
    };
}

/// Export a [`Plugin`] as the component's `adapter`.
///
/// Invoke it once, at the top level of the plugin crate. One instance of the
/// plugin struct (created with `Default`) lives as long as the WebAssembly
/// instance, so it may cache things between calls (decimals of a feed, say);
/// the host may replace the instance at any time.
///
/// ```ignore
/// resilience_guest::export_plugin!(MyVenue);
/// ```
#[macro_export]
macro_rules! export_plugin {
    ($plugin:ty) => {
        // Only a wasm build exports the adapter: the export names (with `:`
        // and `@`) are not valid native symbols, and native builds of a
        // plugin exist only for its unit tests.
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            use $crate::bindings::exports::resilience::venue::adapter as __adapter;

            ::std::thread_local! {
                static __STATE: ::std::cell::RefCell<$crate::plugin::Runtime<$plugin>> =
                    ::std::cell::RefCell::new($crate::plugin::Runtime::new());
            }

            struct __Export;

            impl __adapter::Guest for __Export {
                fn describe() -> __adapter::Info {
                    __STATE.with(|s| s.borrow().describe())
                }
                fn prepare(
                    operation: ::std::string::String,
                    params: ::std::string::String,
                    caller_key: ::std::option::Option<::std::string::String>,
                ) -> ::std::result::Result<__adapter::Prepared, __adapter::VenueError> {
                    __STATE.with(|s| {
                        s.borrow_mut()
                            .prepare(&operation, &params, caller_key.as_deref())
                    })
                }
                fn invoke(
                    operation: ::std::string::String,
                    params: ::std::string::String,
                ) -> ::std::result::Result<::std::string::String, __adapter::VenueError> {
                    __STATE.with(|s| s.borrow_mut().invoke(&operation, &params))
                }
                fn reconcile(
                    operation: ::std::string::String,
                    params: ::std::string::String,
                    idempotency_key: ::std::string::String,
                ) -> ::std::result::Result<
                    ::std::option::Option<::std::string::String>,
                    __adapter::VenueError,
                > {
                    __STATE.with(|s| {
                        s.borrow_mut()
                            .reconcile(&operation, &params, &idempotency_key)
                    })
                }
            }

    $crate::bindings::__export_venue_world!(__Export with_types_in $crate::bindings);
        };
    };
}

//! Native test harness: run a plugin's operations in `cargo test` against a
//! scripted mock host (feature `testing`, native targets only).
//!
//! With the feature on, every host call of the SDK (`Request::send`,
//! `Request::send_all`, everything in [`host`](crate::host)) goes to the
//! [`MockHost`] that [`call`] (or [`MockHost::run`]) made active on the
//! current thread, so the plugin's code runs unchanged. Enable it for tests
//! only:
//!
//! ```toml
//! [dev-dependencies]
//! resilience-guest = { workspace = true, features = ["testing"] }
//! ```
//!
//! What the mock does, next to what the real host does:
//!
//! | import            | real host                                | `MockHost`                                      |
//! |-------------------|------------------------------------------|-------------------------------------------------|
//! | `send`, `send-all`| sends through retries, breakers, limits  | answers from the script ([`MockHost::respond`]), in order; a default 404 when nothing matches |
//! | request checks    | path, header names, `${secret:NAME}` placeholders, at most 64 per `send-all` | the same checks, `denied` the same way |
//! | `now-ms`          | wall clock                               | fixed ([`MockHost::now_ms`], default [`DEFAULT_NOW_MS`]); moved only by [`MockHost::advance_ms`] |
//! | `config`          | the venue's `settings`                   | [`MockHost::setting`]                            |
//! | `hmac-sha256`     | keyed with the secret's bytes            | the same, with fake secrets ([`MockHost::secret`]) |
//! | `sign-secp256k1`  | RFC 6979, `r \|\| s \|\| v`, key as 64 hex digits | the same                               |
//! | `log`, `report-usage` | host log, rate-limit budget          | captured: [`MockHost::logs`], [`MockHost::usage`] |
//!
//! Requests are recorded exactly as the plugin wrote them, placeholders not
//! substituted, so a test can assert that a secret is referenced and never
//! embedded.
//!
//! ```
//! use resilience_guest::prelude::*;
//! use resilience_guest::testing::{self, MockHost};
//! use serde_json::json;
//!
//! #[derive(Default)]
//! struct Venue;
//!
//! #[derive(serde::Deserialize)]
//! struct Params { symbol: String }
//!
//! impl Plugin for Venue {
//!     const NAME: &'static str = "venue";
//!     const VERSION: &'static str = "0.1.0";
//!     fn operations() -> Operations<Self> {
//!         Operations::new().op("price", "Last price", |_: &mut Venue, p: Params| {
//!             let path = Query::new().push("symbol", &p.symbol).to_path("/price");
//!             let resp = Request::get(path).header("X-Key", "${secret:key}").send()?;
//!             resilience_guest::envelope::json::<serde_json::Value>(&resp)
//!         })
//!     }
//! }
//!
//! let mock = MockHost::new()
//!     .secret("key", "k-1")
//!     .respond(Method::Get, "/price?symbol=BTCUSDT", 200, json!({"price": "1.5"}));
//! let out = testing::call::<Venue>(&mock, "price", json!({"symbol": "BTCUSDT"})).unwrap();
//! assert_eq!(out, json!({"price": "1.5"}));
//!
//! let sent = mock.requests();
//! assert_eq!(sent.len(), 1);
//! assert_eq!(sent[0].path, "/price?symbol=BTCUSDT");
//! assert_eq!(sent[0].header("x-key"), Some("${secret:key}"));
//! ```

mod active;
pub(crate) mod imports;
mod mock;

pub use mock::{DEFAULT_NOW_MS, IntoBody, MockHost, SentRequest};

use serde_json::Value;

use crate::bindings::exports::resilience::venue::adapter;
use crate::error::VenueError;
use crate::plugin::{Plugin, Prepared, Runtime};

/// What `describe` returns (the WIT `info` record).
///
/// ```
/// # use resilience_guest::prelude::*;
/// # #[derive(Default)] struct V;
/// # impl Plugin for V { const NAME: &'static str = "v"; const VERSION: &'static str = "0.2.0";
/// #     fn operations() -> Operations<Self> { Operations::new() } }
/// let info: resilience_guest::testing::Info = resilience_guest::testing::describe::<V>();
/// assert_eq!(info.version, "0.2.0");
/// ```
pub type Info = adapter::Info;

/// Run `operation` with `params` on a fresh plugin instance, with `mock` as
/// the host: the same path the host takes (params as a JSON string, checked
/// to be an object; the result encoded and decoded again).
///
/// ```
/// use resilience_guest::prelude::*;
/// use resilience_guest::testing::{self, MockHost};
/// #[derive(Default)] struct Clock;
/// impl Plugin for Clock {
///     const NAME: &'static str = "clock";
///     const VERSION: &'static str = "0.1.0";
///     fn operations() -> Operations<Self> {
///         Operations::new().op("now", "Host time", |_: &mut Clock, _: serde_json::Value| Ok(host::now_ms()))
///     }
/// }
/// let mock = MockHost::new().now_ms(42);
/// assert_eq!(testing::call::<Clock>(&mock, "now", serde_json::json!({})).unwrap(), 42);
/// assert!(testing::call::<Clock>(&mock, "now", serde_json::json!([1])).is_err());
/// ```
pub fn call<P: Plugin>(
    mock: &MockHost,
    operation: &str,
    params: Value,
) -> Result<Value, VenueError> {
    Instance::<P>::new().call(mock, operation, params)
}

/// The plugin's `describe` answer (no host calls are allowed in it, as in
/// the real host).
///
/// ```
/// use resilience_guest::prelude::*;
/// #[derive(Default)] struct V;
/// impl Plugin for V {
///     const NAME: &'static str = "v";
///     const VERSION: &'static str = "1.2.3";
///     fn operations() -> Operations<Self> {
///         Operations::new().mutating("order", "Place", |_: &mut V, _: serde_json::Value| Ok(()))
///     }
/// }
/// let info = resilience_guest::testing::describe::<V>();
/// assert_eq!((info.name.as_str(), info.version.as_str()), ("v", "1.2.3"));
/// assert!(info.operations[0].mutating);
/// ```
pub fn describe<P: Plugin>() -> Info {
    Runtime::<P>::new().describe()
}

/// One plugin instance kept across calls, for plugins that cache between
/// calls, and for the `prepare` and `reconcile` exports of mutating
/// operations.
///
/// ```
/// use resilience_guest::prelude::*;
/// use resilience_guest::testing::{Instance, MockHost};
/// #[derive(Default)] struct Counter { n: u32 }
/// impl Plugin for Counter {
///     const NAME: &'static str = "counter";
///     const VERSION: &'static str = "0.1.0";
///     fn operations() -> Operations<Self> {
///         Operations::new().op("inc", "n + 1", |c: &mut Counter, _: serde_json::Value| { c.n += 1; Ok(c.n) })
///     }
/// }
/// let mock = MockHost::new();
/// let mut instance = Instance::<Counter>::new();
/// instance.call(&mock, "inc", serde_json::json!({})).unwrap();
/// assert_eq!(instance.call(&mock, "inc", serde_json::json!({})).unwrap(), 2);
/// ```
pub struct Instance<P: Plugin> {
    runtime: Runtime<P>,
}

impl<P: Plugin> std::fmt::Debug for Instance<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instance")
            .field("plugin", &P::NAME)
            .finish()
    }
}

impl<P: Plugin> Default for Instance<P> {
    fn default() -> Self {
        Self::new()
    }
}

impl<P: Plugin> Instance<P> {
    /// A fresh instance (the plugin struct from `Default`).
    ///
    /// ```
    /// # use resilience_guest::prelude::*;
    /// # #[derive(Default)] struct V;
    /// # impl Plugin for V { const NAME: &'static str = "v"; const VERSION: &'static str = "0";
    /// #     fn operations() -> Operations<Self> { Operations::new() } }
    /// let instance = resilience_guest::testing::Instance::<V>::new();
    /// assert_eq!(instance.describe().name, "v");
    /// ```
    pub fn new() -> Self {
        Self {
            runtime: Runtime::new(),
        }
    }

    /// The `invoke` export: run `operation` with `mock` as the host.
    ///
    /// ```
    /// # use resilience_guest::prelude::*;
    /// # #[derive(Default)] struct V;
    /// # impl Plugin for V { const NAME: &'static str = "v"; const VERSION: &'static str = "0";
    /// #     fn operations() -> Operations<Self> { Operations::new() } }
    /// let mock = resilience_guest::testing::MockHost::new();
    /// let mut instance = resilience_guest::testing::Instance::<V>::new();
    /// let err = instance.call(&mock, "missing", serde_json::json!({})).unwrap_err();
    /// assert!(matches!(err, VenueError::Unsupported(_)));
    /// ```
    pub fn call(
        &mut self,
        mock: &MockHost,
        operation: &str,
        params: Value,
    ) -> Result<Value, VenueError> {
        let params = params.to_string();
        mock.declare::<P>();
        let out = mock.run(|| self.runtime.invoke(operation, &params))?;
        Ok(decode_result(&out))
    }

    /// The `prepare` export (called by the host before a mutating operation).
    ///
    /// ```
    /// # use resilience_guest::prelude::*;
    /// # #[derive(Default)] struct V;
    /// # impl Plugin for V { const NAME: &'static str = "v"; const VERSION: &'static str = "0";
    /// #     fn operations() -> Operations<Self> { Operations::new() } }
    /// let mock = resilience_guest::testing::MockHost::new();
    /// let mut instance = resilience_guest::testing::Instance::<V>::new();
    /// let prepared = instance.prepare(&mock, "order", serde_json::json!({"a": 1})).unwrap();
    /// assert_eq!(prepared.idempotency_key, None);
    /// assert_eq!(prepared.params, serde_json::json!({"a": 1}));
    /// ```
    pub fn prepare(
        &mut self,
        mock: &MockHost,
        operation: &str,
        params: Value,
    ) -> Result<Prepared, VenueError> {
        self.prepare_keyed(mock, operation, params, None)
    }

    /// [`Instance::prepare`] for a caller that sent an `Idempotency-Key`.
    ///
    /// ```
    /// # use resilience_guest::prelude::*;
    /// # #[derive(Default)] struct V;
    /// # impl Plugin for V { const NAME: &'static str = "v"; const VERSION: &'static str = "0";
    /// #     fn operations() -> Operations<Self> { Operations::new() } }
    /// let mock = resilience_guest::testing::MockHost::new();
    /// let mut instance = resilience_guest::testing::Instance::<V>::new();
    /// let prepared = instance
    ///     .prepare_keyed(&mock, "order", serde_json::json!({"a": 1}), Some("k-1"))
    ///     .unwrap();
    /// // The default `Plugin::prepare` journals the caller's key as is.
    /// assert_eq!(prepared.idempotency_key.as_deref(), Some("k-1"));
    /// assert_eq!(prepared.params, serde_json::json!({"a": 1}));
    /// ```
    pub fn prepare_keyed(
        &mut self,
        mock: &MockHost,
        operation: &str,
        params: Value,
        caller_key: Option<&str>,
    ) -> Result<Prepared, VenueError> {
        let params = params.to_string();
        mock.declare::<P>();
        let prepared = mock.run(|| self.runtime.prepare(operation, &params, caller_key))?;
        Ok(Prepared {
            idempotency_key: prepared.idempotency_key,
            params: decode_result(&prepared.params),
        })
    }

    /// The `reconcile` export: the outcome of an earlier call whose result
    /// was unknown.
    ///
    /// ```
    /// # use resilience_guest::prelude::*;
    /// # #[derive(Default)] struct V;
    /// # impl Plugin for V { const NAME: &'static str = "v"; const VERSION: &'static str = "0";
    /// #     fn operations() -> Operations<Self> { Operations::new() } }
    /// let mock = resilience_guest::testing::MockHost::new();
    /// let mut instance = resilience_guest::testing::Instance::<V>::new();
    /// // The default `Plugin::reconcile` cannot tell.
    /// let err = instance.reconcile(&mock, "order", serde_json::json!({}), "cid-1").unwrap_err();
    /// assert!(matches!(err, VenueError::Unsupported(_)));
    /// ```
    pub fn reconcile(
        &mut self,
        mock: &MockHost,
        operation: &str,
        params: Value,
        idempotency_key: &str,
    ) -> Result<Option<Value>, VenueError> {
        let params = params.to_string();
        mock.declare::<P>();
        let out = mock.run(|| self.runtime.reconcile(operation, &params, idempotency_key))?;
        Ok(out.as_deref().map(decode_result))
    }

    /// The `describe` export.
    ///
    /// ```
    /// # use resilience_guest::prelude::*;
    /// # #[derive(Default)] struct V;
    /// # impl Plugin for V { const NAME: &'static str = "v"; const VERSION: &'static str = "0";
    /// #     fn operations() -> Operations<Self> { Operations::new() } }
    /// let info = resilience_guest::testing::Instance::<V>::new().describe();
    /// assert_eq!(info.sdk_version, resilience_guest::SDK_VERSION);
    /// ```
    pub fn describe(&self) -> Info {
        self.runtime.describe()
    }
}

/// The runtime's JSON text back as a value; it wrote it, so it parses.
fn decode_result(text: &str) -> Value {
    serde_json::from_str(text)
        .unwrap_or_else(|e| panic!("the SDK runtime produced invalid JSON ({e}): {text}"))
}

#[cfg(test)]
mod tests;

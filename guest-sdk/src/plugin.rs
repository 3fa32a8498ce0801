//! The [`Plugin`] trait, the operations table, and the runtime behind
//! [`export_plugin!`](crate::export_plugin).

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::bindings::exports::resilience::venue::adapter;
/// How a declared secret may be used (WIT `secret-use`).
pub use crate::bindings::exports::resilience::venue::adapter::SecretUse;
use crate::error::VenueError;

/// A venue plugin: a struct (its per-instance state) and a table of operations.
///
/// ```
/// use resilience_guest::prelude::*;
///
/// #[derive(Default)]
/// struct Clock;
///
/// impl Clock {
///     fn now(&mut self, _: serde_json::Value) -> Result<u64, VenueError> { Ok(42) }
/// }
///
/// impl Plugin for Clock {
///     const NAME: &'static str = "clock";
///     const VERSION: &'static str = "1.0.0";
///     fn operations() -> Operations<Self> {
///         Operations::new().op("now", "The time", Self::now)
///     }
/// }
/// assert_eq!(Clock::operations().names(), vec!["now"]);
/// ```
pub trait Plugin: Default + 'static {
    /// The plugin's name (venues name it in the host config).
    const NAME: &'static str;
    /// The plugin's own version.
    const VERSION: &'static str;

    /// The operations this plugin offers.
    fn operations() -> Operations<Self>;

    /// Every venue secret the plugin uses, with its one use. The host refuses
    /// any other use: a `Header` secret only fills a header value
    /// (`Request::secret_header`), an `HmacKey` only keys `hmac-sha256` and
    /// signing recipes, a `Secp256k1Key` only keys `sign-secp256k1`.
    ///
    /// ```
    /// use resilience_guest::prelude::*;
    /// # #[derive(Default)] struct Venue;
    /// impl Plugin for Venue {
    ///     const NAME: &'static str = "venue";
    ///     const VERSION: &'static str = "1.0.0";
    ///     const SECRETS: &'static [(&'static str, SecretUse)] =
    ///         &[("api_key", SecretUse::Header), ("api_secret", SecretUse::HmacKey)];
    ///     fn operations() -> Operations<Self> { Operations::new() }
    /// }
    /// assert_eq!(Venue::SECRETS.len(), 2);
    /// ```
    const SECRETS: &'static [(&'static str, SecretUse)] = &[];

    /// The counters `host::report_usage` may name (at most 16).
    const USAGE_COUNTERS: &'static [&'static str] = &[];

    /// For mutating operations: choose the idempotency key (the client order
    /// id) and complete the params before the host journals the intent.
    ///
    /// `caller_key` is the caller's `Idempotency-Key` header, when it sent
    /// one. The host sends an order at most once per key, so the key must be
    /// the same when the caller retries: derive the venue's client order id
    /// from `caller_key` deterministically (never from the clock or a random
    /// source) when the caller gives one. The host refuses a mutating call
    /// for which `prepare` returns no key.
    ///
    /// The default keeps the params and uses the caller's key as is.
    fn prepare(
        &mut self,
        _operation: &str,
        params: Value,
        caller_key: Option<&str>,
    ) -> Result<Prepared, VenueError> {
        Ok(Prepared {
            idempotency_key: caller_key.map(str::to_string),
            params,
        })
    }

    /// Find the outcome of an earlier mutating call whose result is unknown.
    /// `Ok(Some(result))` when the venue has it, `Ok(None)` when it never saw it.
    /// The default says the plugin cannot tell.
    fn reconcile(
        &mut self,
        operation: &str,
        _params: Value,
        _idempotency_key: &str,
    ) -> Result<Option<Value>, VenueError> {
        Err(VenueError::Unsupported(format!(
            "{}: reconcile is not implemented for {operation}",
            Self::NAME
        )))
    }
}

/// What [`Plugin::prepare`] returns.
///
/// ```
/// let p = resilience_guest::Prepared {
///     idempotency_key: Some("cid-1".into()),
///     params: serde_json::json!({"clientOrderId": "cid-1"}),
/// };
/// assert_eq!(p.idempotency_key.as_deref(), Some("cid-1"));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Prepared {
    /// The client order id the call will use.
    pub idempotency_key: Option<String>,
    /// The params the operation will be invoked with.
    pub params: Value,
}

/// A handler over JSON trees, for [`Operations::call`] in native tests.
type TreeHandler<P> = Box<dyn Fn(&mut P, Value) -> Result<Value, VenueError>>;
/// The same handler over JSON text, for the host's calls: the params text is
/// decoded straight into the handler's type and the result encoded straight
/// to text, with no tree in between (a call's guest time is mostly JSON).
type TextHandler<P> = Box<dyn Fn(&mut P, &str) -> Result<String, VenueError>>;

struct Entry<P> {
    name: &'static str,
    summary: &'static str,
    mutating: bool,
    params_schema: Option<Value>,
    tree: TreeHandler<P>,
    text: TextHandler<P>,
}

/// The table of a plugin's operations.
///
/// Each handler takes typed params (any `serde::Deserialize`) and returns any
/// `serde::Serialize`. Params that do not fit become `invalid_params` naming
/// the field; the operation name is not repeated in handlers.
///
/// ```
/// use resilience_guest::prelude::*;
/// #[derive(Default)] struct V;
/// #[derive(serde::Deserialize)] struct Sym { symbol: String }
/// let ops = Operations::<V>::new()
///     .op("price", "Last price", |_: &mut V, p: Sym| Ok(format!("{}=1.5", p.symbol)))
///     .mutating("order", "Place an order", |_: &mut V, _: serde_json::Value| Ok("ok"));
/// assert_eq!(ops.call(&mut V, "price", serde_json::json!({"symbol": "X"})).unwrap(), "X=1.5");
/// assert!(ops.is_mutating("order"));
/// ```
pub struct Operations<P> {
    entries: Vec<Entry<P>>,
}

impl<P: 'static> std::fmt::Debug for Operations<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.names()).finish()
    }
}

impl<P: 'static> Default for Operations<P> {
    fn default() -> Self {
        Self::new()
    }
}

impl<P: 'static> Operations<P> {
    /// An empty table.
    ///
    /// ```
    /// #[derive(Default)] struct V;
    /// assert!(resilience_guest::Operations::<V>::new().names().is_empty());
    /// ```
    pub fn new() -> Self {
        Self {
            entries: Vec::new(),
        }
    }

    /// Add a read-only operation.
    ///
    /// ```
    /// use resilience_guest::prelude::*;
    /// #[derive(Default)] struct V;
    /// let ops = Operations::<V>::new().op("ping", "Liveness", |_: &mut V, _: serde_json::Value| Ok("pong"));
    /// assert_eq!(ops.names(), vec!["ping"]);
    /// ```
    pub fn op<A, R, F>(self, name: &'static str, summary: &'static str, handler: F) -> Self
    where
        A: DeserializeOwned + 'static,
        R: Serialize + 'static,
        F: Fn(&mut P, A) -> Result<R, VenueError> + 'static,
    {
        self.add(name, summary, false, handler)
    }

    /// Add a mutating operation (order placement): the host journals it.
    ///
    /// ```
    /// use resilience_guest::prelude::*;
    /// #[derive(Default)] struct V;
    /// let ops = Operations::<V>::new().mutating("send", "Send", |_: &mut V, _: serde_json::Value| Ok(1));
    /// assert!(ops.is_mutating("send"));
    /// ```
    pub fn mutating<A, R, F>(self, name: &'static str, summary: &'static str, handler: F) -> Self
    where
        A: DeserializeOwned + 'static,
        R: Serialize + 'static,
        F: Fn(&mut P, A) -> Result<R, VenueError> + 'static,
    {
        self.add(name, summary, true, handler)
    }

    /// Attach a JSON Schema for the params of the operation added last
    /// (shown by the host's `GET /v1/venues`).
    ///
    /// ```
    /// use resilience_guest::prelude::*;
    /// #[derive(Default)] struct V;
    /// let ops = Operations::<V>::new()
    ///     .op("ping", "Liveness", |_: &mut V, _: serde_json::Value| Ok(()))
    ///     .schema(serde_json::json!({"type": "object"}));
    /// assert_eq!(ops.names(), vec!["ping"]);
    /// ```
    pub fn schema(mut self, schema: Value) -> Self {
        if let Some(last) = self.entries.last_mut() {
            last.params_schema = Some(schema);
        }
        self
    }

    fn add<A, R, F>(
        mut self,
        name: &'static str,
        summary: &'static str,
        mutating: bool,
        handler: F,
    ) -> Self
    where
        A: DeserializeOwned + 'static,
        R: Serialize + 'static,
        F: Fn(&mut P, A) -> Result<R, VenueError> + 'static,
    {
        let handler = std::rc::Rc::new(handler);
        let typed = handler.clone();
        let tree: TreeHandler<P> = Box::new(move |plugin: &mut P, params: Value| {
            let out = typed(plugin, parse_params(params)?)?;
            serde_json::to_value(out).map_err(unencodable)
        });
        let text: TextHandler<P> = Box::new(move |plugin: &mut P, params: &str| {
            let out = handler(plugin, parse_params_text(params)?)?;
            serde_json::to_string(&out).map_err(unencodable)
        });
        self.entries.push(Entry {
            name,
            summary,
            mutating,
            params_schema: None,
            tree,
            text,
        });
        self
    }

    /// The operation names, in table order.
    ///
    /// ```
    /// use resilience_guest::prelude::*;
    /// #[derive(Default)] struct V;
    /// let ops = Operations::<V>::new()
    ///     .op("a", "A", |_: &mut V, _: serde_json::Value| Ok(()))
    ///     .op("b", "B", |_: &mut V, _: serde_json::Value| Ok(()));
    /// assert_eq!(ops.names(), vec!["a", "b"]);
    /// ```
    pub fn names(&self) -> Vec<&'static str> {
        self.entries.iter().map(|e| e.name).collect()
    }

    /// Whether `name` is a mutating operation.
    ///
    /// ```
    /// use resilience_guest::prelude::*;
    /// #[derive(Default)] struct V;
    /// let ops = Operations::<V>::new().op("read", "R", |_: &mut V, _: serde_json::Value| Ok(()));
    /// assert!(!ops.is_mutating("read") && !ops.is_mutating("unknown"));
    /// ```
    pub fn is_mutating(&self, name: &str) -> bool {
        self.entries.iter().any(|e| e.name == name && e.mutating)
    }

    /// Run operation `name` with JSON `params` (for native tests).
    ///
    /// ```
    /// use resilience_guest::prelude::*;
    /// #[derive(Default)] struct V;
    /// #[derive(serde::Deserialize)] struct P { n: u32 }
    /// let ops = Operations::<V>::new().op("double", "2n", |_: &mut V, p: P| Ok(p.n * 2));
    /// let out = ops.call(&mut V, "double", serde_json::json!({"n": 21})).unwrap();
    /// assert_eq!(out, serde_json::json!(42));
    /// let err = ops.call(&mut V, "double", serde_json::json!({"n": "x"})).unwrap_err();
    /// assert!(err.to_string().contains("n:"));
    /// ```
    pub fn call(&self, plugin: &mut P, name: &str, params: Value) -> Result<Value, VenueError> {
        (self.entry(name)?.tree)(plugin, params)
    }

    /// Run operation `name` with params and result as JSON text: what the
    /// host's `invoke` does.
    ///
    /// ```
    /// use resilience_guest::prelude::*;
    /// #[derive(Default)] struct V;
    /// #[derive(serde::Deserialize)] struct P { n: u32 }
    /// let ops = Operations::<V>::new().op("double", "2n", |_: &mut V, p: P| Ok(p.n * 2));
    /// assert_eq!(ops.call_text(&mut V, "double", r#"{"n": 21}"#).unwrap(), "42");
    /// match ops.call_text(&mut V, "double", r#"{"n": "x"}"#) {
    ///     Err(VenueError::InvalidParams(m)) => assert_eq!(m, r#"n: invalid type: string "x", expected u32"#),
    ///     other => panic!("{other:?}"),
    /// }
    /// ```
    pub fn call_text(
        &self,
        plugin: &mut P,
        name: &str,
        params: &str,
    ) -> Result<String, VenueError> {
        (self.entry(name)?.text)(plugin, params)
    }

    fn entry(&self, name: &str) -> Result<&Entry<P>, VenueError> {
        self.entries
            .iter()
            .find(|e| e.name == name)
            .ok_or_else(|| VenueError::Unsupported(format!("unknown operation {name:?}")))
    }
}

fn unencodable(e: serde_json::Error) -> VenueError {
    VenueError::parse(format!("result could not be encoded: {e}"))
}

/// Decode params into `A`; a mismatch names the field (`symbol: invalid type ...`).
///
/// ```
/// #[derive(serde::Deserialize, Debug)] struct P { #[allow(dead_code)] address: String }
/// let err = resilience_guest::plugin::parse_params::<P>(serde_json::json!({})).unwrap_err();
/// assert!(err.to_string().contains("address"));
/// ```
pub fn parse_params<A: DeserializeOwned>(params: Value) -> Result<A, VenueError> {
    serde_path_to_error::deserialize(params).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." {
            VenueError::invalid(inner.to_string())
        } else {
            VenueError::invalid(format!("{path}: {inner}"))
        }
    })
}

/// [`parse_params`] from JSON text, decoded straight into `A`. Only success
/// takes this way: text that does not decode (not JSON, not an object, a
/// field that does not fit, a duplicate key) goes through the tree, so every
/// refusal reads exactly as [`parse_params`] words it.
fn parse_params_text<A: DeserializeOwned>(text: &str) -> Result<A, VenueError> {
    if text.trim_start().starts_with('{') {
        let mut de = serde_json::Deserializer::from_str(text);
        if let Ok(args) = A::deserialize(&mut de)
            && de.end().is_ok()
        {
            return Ok(args);
        }
    }
    parse_params(parse_object(text)?)
}

/// The state behind [`export_plugin!`](crate::export_plugin): one plugin value
/// and its operations table per WebAssembly instance.
#[doc(hidden)]
pub struct Runtime<P: Plugin> {
    plugin: P,
    ops: Operations<P>,
}

impl<P: Plugin> std::fmt::Debug for Runtime<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime").field("ops", &self.ops).finish()
    }
}

impl<P: Plugin> Default for Runtime<P> {
    fn default() -> Self {
        Self::new()
    }
}

impl<P: Plugin> Runtime<P> {
    pub fn new() -> Self {
        Self {
            plugin: P::default(),
            ops: P::operations(),
        }
    }

    pub fn describe(&self) -> adapter::Info {
        adapter::Info {
            name: P::NAME.to_string(),
            version: P::VERSION.to_string(),
            sdk_version: crate::SDK_VERSION.to_string(),
            operations: self
                .ops
                .entries
                .iter()
                .map(|e| adapter::Operation {
                    name: e.name.to_string(),
                    summary: e.summary.to_string(),
                    mutating: e.mutating,
                    params_schema: e
                        .params_schema
                        .as_ref()
                        .map(Value::to_string)
                        .unwrap_or_else(|| "{}".to_string()),
                })
                .collect(),
            secrets: P::SECRETS
                .iter()
                .map(|(name, purpose)| adapter::SecretDecl {
                    name: name.to_string(),
                    purpose: *purpose,
                })
                .collect(),
            usage_counters: P::USAGE_COUNTERS.iter().map(|c| c.to_string()).collect(),
        }
    }

    pub fn prepare(
        &mut self,
        operation: &str,
        params: &str,
        caller_key: Option<&str>,
    ) -> Result<adapter::Prepared, VenueError> {
        let params = parse_object(params)?;
        let prepared = self.plugin.prepare(operation, params, caller_key)?;
        Ok(adapter::Prepared {
            idempotency_key: prepared.idempotency_key,
            params: prepared.params.to_string(),
        })
    }

    pub fn invoke(&mut self, operation: &str, params: &str) -> Result<String, VenueError> {
        self.ops.call_text(&mut self.plugin, operation, params)
    }

    pub fn reconcile(
        &mut self,
        operation: &str,
        params: &str,
        key: &str,
    ) -> Result<Option<String>, VenueError> {
        let params = parse_object(params)?;
        self.plugin
            .reconcile(operation, params, key)
            .map(|o| o.map(|v| v.to_string()))
    }
}

fn parse_object(params: &str) -> Result<Value, VenueError> {
    let value: Value = if params.trim().is_empty() {
        Value::Object(Default::default())
    } else {
        serde_json::from_str(params)
            .map_err(|e| VenueError::invalid(format!("params are not valid JSON: {e}")))?
    };
    if !value.is_object() {
        return Err(VenueError::invalid("params must be a JSON object"));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random_json::{self, next};
    use serde_json::json;

    #[derive(Default)]
    struct Counter {
        calls: u32,
    }

    #[derive(serde::Deserialize)]
    struct AddParams {
        n: u32,
    }

    impl Counter {
        fn add(&mut self, p: AddParams) -> Result<u32, VenueError> {
            self.calls += p.n;
            Ok(self.calls)
        }
    }

    impl Plugin for Counter {
        const NAME: &'static str = "counter";
        const VERSION: &'static str = "0.0.1";
        fn operations() -> Operations<Self> {
            Operations::new().op("add", "Add n", Self::add).mutating(
                "reset",
                "Reset",
                |c: &mut Counter, _: Value| {
                    c.calls = 0;
                    Ok(())
                },
            )
        }
    }

    #[test]
    fn runtime_keeps_state_between_calls() {
        let mut rt = Runtime::<Counter>::new();
        assert_eq!(rt.invoke("add", r#"{"n":2}"#).unwrap(), "2");
        assert_eq!(rt.invoke("add", r#"{"n":3}"#).unwrap(), "5");
    }

    #[test]
    fn missing_field_is_invalid_params_naming_it() {
        let mut rt = Runtime::<Counter>::new();
        match rt.invoke("add", "{}") {
            Err(VenueError::InvalidParams(m)) => assert!(m.contains("`n`"), "{m}"),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn non_object_params_are_refused() {
        let mut rt = Runtime::<Counter>::new();
        assert!(matches!(
            rt.invoke("add", "[1]"),
            Err(VenueError::InvalidParams(_))
        ));
    }

    /// Params of several shapes, for the text/tree equivalence below.
    #[derive(serde::Deserialize, serde::Serialize)]
    #[serde(deny_unknown_fields)]
    struct Shaped {
        n: u32,
        #[serde(default)]
        tag: Option<String>,
        #[serde(default)]
        inner: Option<Inner>,
        #[serde(default)]
        list: Vec<i64>,
    }

    #[derive(serde::Deserialize, serde::Serialize)]
    struct Inner {
        x: f64,
        side: Side,
    }

    #[derive(serde::Deserialize, serde::Serialize)]
    enum Side {
        Buy,
        Sell,
    }

    fn shaped_ops() -> Operations<Counter> {
        Operations::new()
            .op("shaped", "S", |_: &mut Counter, p: Shaped| Ok(p))
            .op("tree", "T", |_: &mut Counter, p: Value| Ok(p))
    }

    const SHAPED_KEYS: &[&str] = &["n", "tag", "inner", "list", "x", "side", "extra"];

    /// A value that fits `Shaped`, then, half the time, one field replaced
    /// by anything at all.
    fn near_fit(state: &mut u64) -> Value {
        let mut v = json!({"n": next(state) % 100});
        let n = next(state);
        if n & 1 != 0 {
            v["tag"] = json!(["", "x", "\u{e9}\\"][(n >> 8) as usize % 3]);
        }
        if n & 2 != 0 {
            let side = if n & 4 != 0 { "Buy" } else { "Sell" };
            v["inner"] = json!({"x": (n >> 16) as f64 / 1024.0, "side": side});
        }
        if n & 8 != 0 {
            v["list"] = json!([-(((n >> 24) % 9) as i64), (n >> 40) as i64]);
        }
        if n & 16 != 0 {
            let wild = random_json::value(state, SHAPED_KEYS, 1);
            match (n >> 5) % 5 {
                0 => v["n"] = wild,
                1 => v["tag"] = wild,
                2 => v["inner"] = json!({"x": wild, "side": "Buy"}),
                3 => v["inner"] = json!({"x": 1.0, "side": wild}),
                _ => v["list"] = json!([1, wild]),
            }
        }
        v
    }

    /// The host's `invoke` (params and result as text) answers exactly what
    /// the tree path answers, for the text the host sends (a serialized JSON
    /// object: no duplicate keys) and for text that is not an object.
    #[test]
    fn text_params_answer_as_the_tree_path_does() {
        let seed = random_json::seed("SDK_EQUIV_SEED", 0x5EED_0001);
        let ops = shaped_ops();
        let mut state = seed;
        let mut fits = 0;
        let fixed = [
            "",
            "  ",
            "{}",
            "[1]",
            "null",
            "3",
            "\"s\"",
            "{",
            "{\"n\": }",
            "{\"n\":1} x",
            "{\"n\":1}  ",
            " {\"n\":7,\"inner\":{\"x\":1.5,\"side\":\"Sell\"}}",
            "{\"n\":1,\"inner\":{\"x\":\"1\",\"side\":\"Buy\"}}",
            "{\"n\":1,\"list\":[1,\"2\"]}",
        ];
        let mut cases: Vec<String> = fixed.iter().map(|s| s.to_string()).collect();
        for _ in 0..3000 {
            let v = if next(&mut state).is_multiple_of(3) {
                random_json::value(&mut state, SHAPED_KEYS, 0)
            } else {
                near_fit(&mut state)
            };
            cases.push(v.to_string());
        }
        for (i, text) in cases.iter().enumerate() {
            for op in ["shaped", "tree"] {
                let by_text = ops.call_text(&mut Counter::default(), op, text);
                let by_tree = parse_object(text)
                    .and_then(|params| ops.call(&mut Counter::default(), op, params));
                let same = match (&by_text, &by_tree) {
                    (Ok(t), Ok(v)) => serde_json::from_str::<Value>(t).ok().as_ref() == Some(v),
                    (Err(a), Err(b)) => a.to_string() == b.to_string(),
                    _ => false,
                };
                assert!(
                    same,
                    "seed {seed}, case {i} ({op}) {text:?}: text {by_text:?}, tree {by_tree:?}"
                );
                fits += usize::from(op == "shaped" && by_text.is_ok());
            }
        }
        // The cases must reach the handler, not only the refusals.
        assert!(fits > 1000, "seed {seed}: only {fits} cases fit `Shaped`");
    }

    #[test]
    fn describe_lists_operations_with_mutating_flag() {
        let rt = Runtime::<Counter>::new();
        let info = rt.describe();
        assert_eq!(info.name, "counter");
        let reset = info.operations.iter().find(|o| o.name == "reset").unwrap();
        assert!(reset.mutating);
        assert_eq!(reset.params_schema, "{}");
    }
}

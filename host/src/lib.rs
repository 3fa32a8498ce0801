//! resilience-host: a long-running process that trading daemons call instead
//! of calling venues directly.
//!
//! The host owns everything that makes an upstream call survive a bad network
//! (pools, deadlines, retries, breakers, failover and rate limits); what is specific to one venue lives in a WebAssembly component
//! plugin loaded from a folder at start-up. See the README.
//!
//! Modules, one concern each:
//! - [`config`]: load, env overrides, `[defaults]` inheritance, validation;
//! - [`plugin`]: engine, linker, loading, compiled cache, instance pool, limits;
//! - [`capabilities`]: what a plugin may import (send, clock, secrets, log);
//! - [`grants`]: the secret uses and counters a plugin declares, and the
//!   invariant that no secret leaves except in its declared use;
//! - [`outbound`]: a plugin's request checked and resolved for the upstream;
//! - [`signing`]: per-attempt signing recipes;
//! - [`journal`]: at most one order per idempotency key (protocol and stores);
//! - [`heap`]: a burst's freed memory given back to the operating system;
//! - [`resilience`]: retry, backoff, budget, breaker, failover, rate limit, deadline;
//! - [`upstream`]: the pooled HTTP client and the pipeline composing them;
//! - [`app`]: venues assembled, the call entry point;
//! - [`api`]: the HTTP API; [`error`]: the API's error kinds; [`openapi`]: its
//!   OpenAPI 3.1 description, generated from the routes and the plugins.
//!
//! Non-goals: the host never interprets venue bodies (plugins do), and never
//! hands secret bytes to a plugin.

pub mod api;
pub mod app;
pub mod capabilities;
pub mod config;
pub mod connector;
pub mod endpoint_secrets;
pub mod error;
pub mod grants;
pub mod heap;
pub mod journal;
pub mod listen;
pub mod metrics;
pub mod openapi;
pub mod outbound;
pub mod plugin;
pub mod redact;
pub mod repoll;
pub mod resilience;
pub mod signing;
pub mod stats;
pub mod tls;
pub mod upstream;

pub use app::App;
pub use config::Config;
pub use error::CallError;

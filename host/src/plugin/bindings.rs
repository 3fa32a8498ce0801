//! Host-side bindings generated from `wit/`.
//!
//! `send`, `send-all` and `send-all-to` are async (they wait on the network); the other
//! imports are quick and stay synchronous. Every export is called with the
//! `*_async` functions so a guest that runs long yields to tokio at epoch ticks.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "venue",
    imports: {
        "resilience:venue/host.send": async,
        "resilience:venue/host.send-all": async,
        "resilience:venue/endpoints.send-all-to": async,
    },
    exports: { default: async },
    // Requests are compared when a resumed read is replayed (`resume`).
    additional_derives: [PartialEq],
});

pub use exports::resilience::venue::adapter::{Info, Operation, SecretDecl, SecretUse};
pub use resilience::venue::types::{
    Header, HeaderValue, LogLevel, MessagePart, Method, RateLimited, Request, Response, SendError,
    SignatureEncoding, Signing, Slot, TimeUnit, UpstreamError, UsageReport, VenueError,
};

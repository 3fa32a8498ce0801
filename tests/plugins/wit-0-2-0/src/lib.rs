//! Test plugin `wit-0-2-0`: a plugin built against `resilience:venue@0.2.0`,
//! the release before the `endpoints` import. The host (now 0.2.1) must load
//! it unchanged and serve its calls, host imports included: 0.2.1 only adds
//! an interface, so a 0.2.0 plugin is a semver-compatible subset.
//!
//! It does not use the guest SDK (which targets the current version): the
//! bindings come straight from `wit/venue.wit` in this crate, a byte-for-byte
//! copy of `wit/frozen/resilience-venue@0.2.0.wit`.

// The generated bindings and export glue are unsafe FFI code written by
// wit-bindgen; the crate itself has no other unsafe.
#[allow(
    unsafe_code,
    missing_docs,
    missing_debug_implementations,
    dead_code,
    clippy::all
)]
mod bindings {
    wit_bindgen::generate!({ path: "wit", world: "venue" });

    use exports::resilience::venue::adapter::{Guest, Info, Operation, Prepared, VenueError};
    use resilience::venue::host;
    use resilience::venue::types::{Method, Request};

    struct Wit020;

    impl Guest for Wit020 {
        fn describe() -> Info {
            Info {
                name: "wit-0-2-0".to_string(),
                version: "0.2.0".to_string(),
                sdk_version: "none".to_string(),
                operations: vec![Operation {
                    name: "ping".to_string(),
                    summary: "GET /ping through the host; answers the status and body".to_string(),
                    mutating: false,
                    params_schema: "{}".to_string(),
                }],
                secrets: Vec::new(),
                usage_counters: Vec::new(),
            }
        }

        fn prepare(
            _operation: String,
            params: String,
            _caller_key: Option<String>,
        ) -> Result<Prepared, VenueError> {
            Ok(Prepared {
                idempotency_key: None,
                params,
            })
        }

        fn invoke(_operation: String, _params: String) -> Result<String, VenueError> {
            let resp = host::send(&Request {
                method: Method::Get,
                path: "/ping".to_string(),
                headers: Vec::new(),
                body: Vec::new(),
                idempotent: true,
                weight: 1,
                signing: None,
            })
            .map_err(VenueError::Transport)?;
            let body = String::from_utf8_lossy(&resp.body);
            Ok(format!(
                "{{\"status\":{},\"body\":{:?}}}",
                resp.status, body
            ))
        }

        fn reconcile(
            _operation: String,
            _params: String,
            _idempotency_key: String,
        ) -> Result<Option<String>, VenueError> {
            Ok(None)
        }
    }

    // Exported only for WebAssembly: the export names are not valid native symbols.
    #[cfg(target_arch = "wasm32")]
    export!(Wit020);
}

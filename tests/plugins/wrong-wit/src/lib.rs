//! Test plugin `wrong_wit`: a plugin built against `resilience:venue@0.1.0`,
//! the released contract this host no longer loads (0.1 substituted
//! `${secret:NAME}` text over requests, so a caller's data could become a
//! secret reference). The host must refuse it and name the file and both
//! versions in its error.
//!
//! It deliberately does not use the guest SDK (which targets the current
//! version): the bindings come straight from `wit/venue.wit` in this crate, a
//! byte-for-byte copy of `wit/frozen/resilience-venue@0.1.0.wit`.

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

    use exports::resilience::venue::adapter::{Guest, Info, Prepared, VenueError};

    struct WrongWit;

    impl Guest for WrongWit {
        fn describe() -> Info {
            Info {
                name: "wrong-wit".to_string(),
                version: "0.1.0".to_string(),
                sdk_version: "none".to_string(),
                operations: Vec::new(),
            }
        }

        fn prepare(_operation: String, params: String) -> Result<Prepared, VenueError> {
            Ok(Prepared {
                idempotency_key: None,
                params,
            })
        }

        fn invoke(_operation: String, _params: String) -> Result<String, VenueError> {
            Ok("{}".to_string())
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
    export!(WrongWit);
}

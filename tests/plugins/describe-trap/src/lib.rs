//! Test plugin `describe-trap`: building its operations table panics, so
//! `describe` traps. The host must refuse it at load, naming the file, and
//! load the other plugins.

use resilience_guest::prelude::*;

#[derive(Debug, Default)]
pub struct DescribeTrap;

impl Plugin for DescribeTrap {
    const NAME: &'static str = "describe-trap";
    const VERSION: &'static str = "0.1.0";

    fn operations() -> Operations<Self> {
        panic!("deliberate panic while describing");
    }
}

#[cfg(target_arch = "wasm32")]
resilience_guest::export_plugin!(DescribeTrap);

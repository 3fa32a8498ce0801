//! The wire rules of a venue request, in one implementation for the host and
//! the guest SDK's native test harness, so a plugin's tests see exactly what
//! the host will send and refuse:
//!
//! - [`path`]: which paths a plugin may send (relative, no dot segments,
//!   RFC 3986 characters only);
//! - [`signing`]: per-attempt signing recipes (WIT `signing`).

pub mod path;
pub mod signing;

pub use signing::{Encoding, Part, Recipe, Signed, Slot, TimeUnit, valid_param};

//! The venue's endpoints, for a plugin that must hear from a particular one.
//!
//! Most operations send with [`Request::send`](crate::Request::send) and let
//! the host pick the endpoint and fail over. An operation that compares two
//! providers' answers (an agreement check), or checks each provider once
//! (the chain a JSON-RPC provider serves), pins requests with
//! [`Request::send_to`](crate::Request::send_to) or
//! [`Request::send_all_to`](crate::Request::send_all_to). A pinned request
//! never fails over, so the operation decides what to do when its endpoint is
//! down (ask another, or fail).
//!
//! Added in WIT 0.2.1 (the `endpoints` import); the host still loads plugins
//! built for 0.2.0, which do not import it.

use crate::sys as raw;

/// How many endpoints the current venue has; they are numbered from 0 in the
/// order of the venue's `endpoints` list. 0 outside a call.
///
/// ```
/// use resilience_guest::testing::MockHost;
/// assert_eq!(MockHost::new().endpoints(3).run(resilience_guest::endpoints::count), 3);
/// ```
pub fn count() -> u32 {
    raw::endpoint_count()
}

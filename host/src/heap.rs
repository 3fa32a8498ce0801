//! Giving freed heap back to the operating system after a burst.
//!
//! A burst of calls holds a plugin instance, a connection and their buffers
//! per call in flight. When the pools drop what the burst left idle, glibc's
//! allocator keeps the freed pages of its arenas mapped for reuse: the host's
//! resident memory stays at the burst's peak for as long as it runs. The
//! periodic idle trim calls [`release`] when it dropped instances, which
//! hands whole free pages back (`malloc_trim(0)`: `MADV_DONTNEED` on free
//! chunks in every arena, and the top of the heap shortened).
//!
//! It runs on a blocking thread, only after instances were dropped, and at
//! most once per [`crate::app::IDLE_TRIM_INTERVAL`]. It holds each arena's
//! lock while it walks that arena: a call allocating from the same arena
//! at that moment waits, for about 1 ms per 32 MiB of fragmented heap
//! (measured here: 9 ms for 256 MiB with every other small chunk free,
//! 20 us when the freed memory is contiguous). On other C libraries it
//! does nothing.

/// Hand the allocator's free pages back to the operating system; returns
/// whether any were (always `false` where glibc is not the allocator).
pub fn release() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: `malloc_trim` takes the allocator's own locks and only
        // returns pages that hold no live allocation; it is safe to call
        // from any thread at any time.
        #[allow(unsafe_code)]
        let released = unsafe { libc::malloc_trim(0) };
        released != 0
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

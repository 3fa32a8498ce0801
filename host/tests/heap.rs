//! [`resilience_host::heap::release`] in a process of its own: other tests
//! allocating at the same time would blur the resident memory it measures.

#![cfg(all(target_os = "linux", target_env = "gnu"))]

/// This process's resident memory, in bytes (`/proc/self/statm`).
fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

#[test]
fn freed_small_allocations_are_given_back() {
    // 32 MiB in chunks far below the mmap threshold: they live in the
    // arena. The last one stays allocated, above the others, so freeing
    // them cannot shorten the heap: they stay resident until trimmed.
    let mut chunks: Vec<Vec<u8>> = (0..131_072).map(|i| vec![i as u8; 256]).collect();
    let top = chunks.pop();
    drop(chunks);
    let before = rss();
    assert!(
        resilience_host::heap::release(),
        "free pages were handed back"
    );
    let after = rss();
    assert!(
        before.saturating_sub(after) >= 8 << 20,
        "resident memory went from {before} to {after} bytes"
    );
    drop(top);
}

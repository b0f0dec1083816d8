//! How a program that runs the kernels should set up the system allocator.

/// Bytes below which glibc serves a block from its heap instead of mapping fresh pages: 32 MiB,
/// glibc's own ceiling for the threshold it adapts by itself.
const MMAP_THRESHOLD: i32 = 32 << 20;

/// Has the C allocator keep memory that tensors free and hand it to the next ones, instead of
/// mapping fresh pages for each large tensor and returning them when it is freed. A training
/// step allocates and frees the same tensor sizes over and over; a fresh mapping costs a page
/// fault and a cleared page per 4 KiB on first touch, about 8% of an NB201 step and half the
/// time of an elementwise op on a 4 MiB tensor (`nasr bench ops`). The peak memory stays the
/// same; the resident memory stays at its peak instead of shrinking between steps. All threads
/// share one heap.
///
/// Process-wide: a binary calls it once, first thing (the `nasr` command does). On other C
/// libraries than glibc it does nothing.
pub fn reuse_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets the allocator's parameters, which glibc allows at any time.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
        // Never give the top of the heap back: the next step wants it again.
        libc::mallopt(libc::M_TRIM_THRESHOLD, i32::MAX);
        // One heap for every thread: tensors are made on one pool worker and freed on
        // another, and per-thread heaps would each keep their own freed blocks (an NB201 step
        // grew memory by 546 MiB with them, 508 MiB with one).
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

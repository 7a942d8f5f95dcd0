//! Keeping freed memory in the process: a training step allocates and frees the same large
//! tensors (hundreds of KiB to MiB each) every step. glibc's `malloc` serves blocks above its
//! mmap threshold (128 KiB to start with) with fresh `mmap`s and trims the top of its heap past
//! 128 KiB of free memory, so those blocks go back to the kernel on every free and come back
//! through page faults (zeroed pages) on the next step. Measured with `backend_bench` on flex
//! (docs/performance.md, Appendix C) this costs 25-45% of the training throughput. Raising both
//! thresholds keeps the memory in the process, as PyTorch's caching CPU allocator does.
//!
//! Threads other than the main one allocate from arenas of their own, made of heaps of at most
//! 64 MiB, and glibc unmaps such a heap as soon as all of it is free, whatever the trim
//! threshold, unless the top pad is larger than the room left in the heap before it. `fit` runs
//! its loop on one of rayon's threads (`ops::on_kernel_threads`): a step whose buffers outgrow
//! one heap (a 2048² product's 16 MiB matrices) mapped a new heap and faulted in every page of
//! it each time, 17 times the page faults and a fifth of that product's speed (measured). A top
//! pad of a whole heap keeps every heap; it is address space, not memory, until used.

/// The mmap threshold set by [`keep_freed_memory`]: glibc's largest (32 MiB on 64-bit).
pub const MMAP_THRESHOLD_BYTES: i32 = 32 << 20;
/// The trim threshold set by [`keep_freed_memory`]: free memory at the top of the heap kept
/// before it is returned to the kernel.
pub const TRIM_THRESHOLD_BYTES: i32 = 512 << 20;
/// The top pad set by [`keep_freed_memory`]: address space added to every heap growth and kept
/// free at the top of a heap rather than returned; as large as a thread arena's heap, so that no
/// such heap is unmapped when it empties (a smaller pad, 16 MiB, still let some go, and with them
/// a 2048² matmul's speed, in one run out of two).
pub const TOP_PAD_BYTES: i32 = 64 << 20;

/// Tells the C allocator to keep freed tensor memory for the next step instead of returning it to
/// the kernel (`mallopt` of `M_MMAP_THRESHOLD`, `M_TRIM_THRESHOLD` and `M_TOP_PAD`). Call it once
/// at the start of a program that trains or runs models on a CPU backend; the examples do.
///
/// Returns whether the settings were applied: `true` on Linux with glibc; elsewhere there is
/// nothing to set (other allocators, e.g. musl's, macOS's or `mimalloc` as the global
/// allocator, do not work this way) and it returns `false`. The cost is memory: up to
/// [`TRIM_THRESHOLD_BYTES`] of freed memory stays mapped to the process, and up to
/// [`TOP_PAD_BYTES`] more in each thread's arena.
pub fn keep_freed_memory() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: `mallopt` only changes tuning parameters of glibc's allocator; it is safe to
        // call at any time, from any thread, and returns 0 when a value is refused.
        unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) == 1
                && libc::mallopt(libc::M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES) == 1
                && libc::mallopt(libc::M_TOP_PAD, TOP_PAD_BYTES) == 1
        }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glibc_accepts_the_settings() {
        let applied = keep_freed_memory();
        assert_eq!(applied, cfg!(all(target_os = "linux", target_env = "gnu")));
    }
}

//! The counting global allocator of the allocation tests: forwards every call unchanged to the
//! system allocator and counts allocations (`alloc`, `alloc_zeroed`, `realloc`) per thread and
//! over all threads. A test measures a window as the difference of a count across it.
//!
//! Include it with `#[path = "common/counting_alloc.rs"] mod counting_alloc;`: it installs
//! itself as the binary's global allocator.
#![allow(dead_code)] // each test binary uses part of it
#![allow(unsafe_code)] // a GlobalAlloc is unsafe to implement

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

struct Counting;

static ALL: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static THREAD: Cell<u64> = const { Cell::new(0) };
}

fn note() {
    ALL.fetch_add(1, Ordering::Relaxed);
    // `try_with`: the thread-local may already be gone while a thread shuts down.
    let _ = THREAD.try_with(|c| c.set(c.get() + 1));
}

// SAFETY: forwards every call unchanged to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made by the calling thread so far (test threads run in parallel: theirs do not
/// count here).
pub fn thread_allocs() -> u64 {
    THREAD.with(|c| c.get())
}

/// Allocations made by every thread so far (for code that runs work on threads of its own).
pub fn all_allocs() -> u64 {
    ALL.load(Ordering::SeqCst)
}

/// Runs `f` and returns its result with the calling thread's allocations meanwhile.
pub fn counted<R>(f: impl FnOnce() -> R) -> (R, u64) {
    let before = thread_allocs();
    let r = f();
    (r, thread_allocs() - before)
}

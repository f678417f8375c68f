//! A global allocator that refuses any single allocation above a cap.
//!
//! Install it in a loader test binary:
//! `#[global_allocator] static ALLOC: CappedAllocator = CappedAllocator::new(1 << 30);`
//! A loader that believes a header's declared size and asks for more than
//! the cap gets a null pointer, and Rust aborts the test binary with
//! "memory allocation of N bytes failed": the campaign fails loudly
//! instead of passing on a machine that happened to have the memory.

use std::alloc::{GlobalAlloc, Layout, System};

pub struct CappedAllocator {
    cap: usize,
}

impl CappedAllocator {
    pub const fn new(cap: usize) -> Self {
        Self { cap }
    }
}

// SAFETY: forwards to the system allocator; refusing (null) is allowed.
unsafe impl GlobalAlloc for CappedAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() > self.cap { std::ptr::null_mut() } else { unsafe { System.alloc(layout) } }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.size() > self.cap { std::ptr::null_mut() } else { unsafe { System.alloc_zeroed(layout) } }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > self.cap { std::ptr::null_mut() } else { unsafe { System.realloc(ptr, layout, new_size) } }
    }
}

//! Test support shared by every reprolab crate (a dev-dependency only):
//!
//! - [`loader`]: the fuzz campaign every file loader runs (truncations at
//!   every offset, bit flips, random bytes, crafted cases), checking that
//!   a damaged file gives one user error naming it, never a panic or a hang;
//! - [`CappedAllocator`]: a global allocator for loader tests that refuses
//!   any single allocation above a cap, so a header claiming 10^12 elements
//!   that is believed aborts the test instead of passing by luck;
//! - [`npy`]: hand-made `.npy` bytes (any dtype, any declared shape);
//! - [`kill`]: SIGKILL a running command at seeded points and check what it
//!   left behind;
//! - [`battery`]: the bad inputs derived from a command's fixture
//!   ([`reprolab_core::battery`]) and the checks applied to each.
//!
//! The campaign sizes scale with `REPROLAB_FUZZ_SCALE` (default 1: seconds
//! in CI); the long campaign is `REPROLAB_FUZZ_SCALE=100 cargo test
//! --workspace --test loaders -- --nocapture`.

pub mod alloc;
pub mod battery;
pub mod kill;
pub mod loader;
pub mod npy;

pub use alloc::CappedAllocator;

/// The campaign scale from `REPROLAB_FUZZ_SCALE` (at least 1).
pub fn fuzz_scale() -> usize {
    std::env::var("REPROLAB_FUZZ_SCALE").ok().and_then(|v| v.parse().ok()).unwrap_or(1).max(1)
}

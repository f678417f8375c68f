//! Seeded randomness. Every random choice in reprolab draws from a
//! [`SeededRng`] derived from the run's seed, so one seed reproduces a run on
//! the same backend. Streams for independent purposes are split with
//! [`derive_seed`] instead of sharing one generator, so adding a draw in one
//! place does not shift every other draw.

use rand::SeedableRng;

/// The generator used everywhere: ChaCha8 (fast, portable, reproducible
/// across platforms, unlike `StdRng` whose algorithm may change).
pub type SeededRng = rand_chacha::ChaCha8Rng;

/// A generator for `seed`.
pub fn rng(seed: u64) -> SeededRng {
    SeededRng::seed_from_u64(seed)
}

/// A child seed for an independent stream named `stream` (SplitMix64 of the
/// parent mixed with an FNV-1a hash of the name).
pub fn derive_seed(seed: u64, stream: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in stream.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    splitmix64(seed ^ h)
}

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A standard normal draw (Box-Muller), for host-side initialisations and
/// generators that must not depend on burn's global generator.
pub fn standard_normal(r: &mut SeededRng) -> f32 {
    use rand::RngExt;
    let (u1, u2): (f64, f64) = (r.random::<f64>().max(1e-12), r.random());
    ((-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()) as f32
}

/// Seeds burn's global generator (parameter initialisation, `Tensor::random`).
pub fn seed_burn(seed: u64) {
    crate::device::seed(seed);
}

/// Unit tests that seed burn's one global generator and then draw from it
/// hold this lock, so tests running in parallel threads do not reseed it
/// between another test's seed and its draw.
#[cfg(test)]
pub(crate) fn global_seed_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::RngExt;

    #[test]
    fn same_seed_same_stream() {
        let a: Vec<u32> = (0..5).map(|_| 0).scan(rng(7), |r, _: u32| Some(r.random::<u32>())).collect();
        let b: Vec<u32> = (0..5).map(|_| 0).scan(rng(7), |r, _: u32| Some(r.random::<u32>())).collect();
        assert_eq!(a, b);
    }

    #[test]
    fn derived_streams_differ() {
        assert_ne!(derive_seed(1, "split"), derive_seed(1, "init"));
        assert_ne!(derive_seed(1, "split"), derive_seed(2, "split"));
        assert_eq!(derive_seed(3, "x"), derive_seed(3, "x"));
    }
}

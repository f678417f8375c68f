//! Shuffled mini-batches of row indices, reshuffled every epoch from the
//! run's seeded generator.

use crate::rng::SeededRng;
use rand::seq::SliceRandom;

/// Index batches for one epoch over `n` rows. The last, smaller batch is
/// kept unless `drop_last` (useful when batch statistics need full batches).
pub fn shuffled_batches(n: usize, batch_size: usize, drop_last: bool, rng: &mut SeededRng) -> Vec<Vec<usize>> {
    let mut idx: Vec<usize> = (0..n).collect();
    idx.shuffle(rng);
    idx.chunks(batch_size.max(1)).filter(|c| !drop_last || c.len() == batch_size).map(<[usize]>::to_vec).collect()
}

/// Batches in order, for evaluation.
pub fn sequential_batches(n: usize, batch_size: usize) -> impl Iterator<Item = Vec<usize>> {
    (0..n).step_by(batch_size.max(1)).map(move |s| (s..(s + batch_size).min(n)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_cover_all_rows_once() {
        let mut r = crate::rng::rng(0);
        let b = shuffled_batches(10, 4, false, &mut r);
        assert_eq!(b.iter().map(Vec::len).collect::<Vec<_>>(), vec![4, 4, 2]);
        let mut all: Vec<usize> = b.concat();
        all.sort();
        assert_eq!(all, (0..10).collect::<Vec<_>>());
        assert_eq!(shuffled_batches(10, 4, true, &mut r).len(), 2);
        assert_eq!(sequential_batches(5, 2).collect::<Vec<_>>(), vec![vec![0, 1], vec![2, 3], vec![4]]);
    }
}

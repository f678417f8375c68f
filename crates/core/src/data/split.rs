//! Seeded splits: random, stratified (class proportions kept), grouped (no
//! group on both sides) and k-fold. They return index lists so the same
//! split can be applied to any parallel arrays.

use crate::rng::rng;
use anyhow::Result;
use rand::seq::SliceRandom;
use std::collections::BTreeMap;

/// Row indices of a train/test split.
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    pub train: Vec<usize>,
    pub test: Vec<usize>,
}

fn check_fraction(test_fraction: f64) -> Result<()> {
    if !(test_fraction > 0.0 && test_fraction < 1.0) {
        crate::user_bail!("test fraction must be strictly between 0 and 1, got {test_fraction}");
    }
    Ok(())
}

/// Shuffles `0..n` and holds out `round(n * test_fraction)` rows (at least
/// one on each side).
pub fn random_split(n: usize, test_fraction: f64, seed: u64) -> Result<Split> {
    check_fraction(test_fraction)?;
    if n < 2 {
        crate::user_bail!("cannot split {n} rows into train and test");
    }
    let mut idx: Vec<usize> = (0..n).collect();
    idx.shuffle(&mut rng(seed));
    let n_test = ((n as f64 * test_fraction).round() as usize).clamp(1, n - 1);
    let test = idx.split_off(n - n_test);
    Ok(Split { train: idx, test })
}

/// Holds out `test_fraction` of each class separately, so class proportions
/// match on both sides (classes with one row go to train).
pub fn stratified_split(labels: &[usize], test_fraction: f64, seed: u64) -> Result<Split> {
    check_fraction(test_fraction)?;
    let mut r = rng(seed);
    let mut split = Split { train: Vec::new(), test: Vec::new() };
    for (_, mut members) in by_key(labels) {
        members.shuffle(&mut r);
        let n_test = if members.len() < 2 {
            0
        } else {
            ((members.len() as f64 * test_fraction).round() as usize).clamp(1, members.len() - 1)
        };
        let test = members.split_off(members.len() - n_test);
        split.train.extend(members);
        split.test.extend(test);
    }
    if split.test.is_empty() {
        crate::user_bail!("stratified split left the test side empty: every class has fewer than two rows");
    }
    split.train.shuffle(&mut r);
    split.test.shuffle(&mut r);
    Ok(split)
}

/// Holds out whole groups (about `test_fraction` of the groups) so no group
/// appears on both sides.
pub fn group_split(groups: &[usize], test_fraction: f64, seed: u64) -> Result<Split> {
    check_fraction(test_fraction)?;
    let by_group = by_key(groups);
    if by_group.len() < 2 {
        crate::user_bail!("group split needs at least two groups, got {}", by_group.len());
    }
    let mut ids: Vec<usize> = by_group.keys().copied().collect();
    ids.shuffle(&mut rng(seed));
    let n_test = ((ids.len() as f64 * test_fraction).round() as usize).clamp(1, ids.len() - 1);
    let test_ids = &ids[ids.len() - n_test..];
    let mut split = Split { train: Vec::new(), test: Vec::new() };
    for (g, members) in by_group {
        if test_ids.contains(&g) { split.test.extend(members) } else { split.train.extend(members) }
    }
    Ok(split)
}

/// `k` folds over shuffled `0..n`; fold `i` is the test side of split `i`.
pub fn k_fold(n: usize, k: usize, seed: u64) -> Result<Vec<Split>> {
    if k < 2 || k > n {
        crate::user_bail!("k-fold needs 2 <= k <= rows, got k = {k} for {n} rows");
    }
    let mut idx: Vec<usize> = (0..n).collect();
    idx.shuffle(&mut rng(seed));
    Ok(folds_of(&idx, k))
}

/// `k` folds with class proportions kept in every fold (rows of each class
/// dealt round-robin over the folds).
pub fn stratified_k_fold(labels: &[usize], k: usize, seed: u64) -> Result<Vec<Split>> {
    if k < 2 || k > labels.len() {
        crate::user_bail!("k-fold needs 2 <= k <= rows, got k = {k} for {} rows", labels.len());
    }
    let mut r = rng(seed);
    let mut dealt = Vec::with_capacity(labels.len());
    for (_, mut members) in by_key(labels) {
        members.shuffle(&mut r);
        dealt.extend(members);
    }
    // Dealing the class-sorted order round-robin spreads every class evenly.
    let mut folds: Vec<Vec<usize>> = vec![Vec::new(); k];
    for (j, i) in dealt.into_iter().enumerate() {
        folds[j % k].push(i);
    }
    Ok(splits_from_folds(folds))
}

fn folds_of(idx: &[usize], k: usize) -> Vec<Split> {
    let n = idx.len();
    let folds: Vec<Vec<usize>> = (0..k).map(|f| idx[f * n / k..(f + 1) * n / k].to_vec()).collect();
    splits_from_folds(folds)
}

fn splits_from_folds(folds: Vec<Vec<usize>>) -> Vec<Split> {
    (0..folds.len())
        .map(|f| Split {
            test: folds[f].clone(),
            train: folds.iter().enumerate().filter(|(g, _)| *g != f).flat_map(|(_, v)| v.iter().copied()).collect(),
        })
        .collect()
}

fn by_key(keys: &[usize]) -> BTreeMap<usize, Vec<usize>> {
    let mut m: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (i, &k) in keys.iter().enumerate() {
        m.entry(k).or_default().push(i);
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(mut v: Vec<usize>) -> Vec<usize> {
        v.sort();
        v
    }

    #[test]
    fn random_split_partitions_and_is_seeded() {
        let s = random_split(10, 0.3, 1).unwrap();
        assert_eq!(s.test.len(), 3);
        let mut all = s.train.clone();
        all.extend(&s.test);
        assert_eq!(sorted(all), (0..10).collect::<Vec<_>>());
        assert_eq!(s, random_split(10, 0.3, 1).unwrap());
        assert_ne!(s, random_split(10, 0.3, 2).unwrap());
    }

    #[test]
    fn stratified_split_keeps_class_proportions() {
        let labels: Vec<usize> = (0..100).map(|i| usize::from(i >= 80)).collect();
        let s = stratified_split(&labels, 0.25, 7).unwrap();
        let test_pos = s.test.iter().filter(|&&i| labels[i] == 1).count();
        assert_eq!(s.test.len(), 25);
        assert_eq!(test_pos, 5);
    }

    #[test]
    fn group_split_never_shares_a_group() {
        let groups: Vec<usize> = (0..60).map(|i| i / 6).collect();
        let s = group_split(&groups, 0.3, 3).unwrap();
        for &i in &s.test {
            assert!(s.train.iter().all(|&j| groups[j] != groups[i]));
        }
        assert_eq!(s.test.len(), 18);
    }

    #[test]
    fn k_fold_tests_cover_every_row_once() {
        let folds = k_fold(11, 3, 0).unwrap();
        let mut all: Vec<usize> = folds.iter().flat_map(|f| f.test.clone()).collect();
        assert_eq!(sorted(all.clone()), (0..11).collect::<Vec<_>>());
        all.dedup();
        for f in &folds {
            assert_eq!(f.train.len() + f.test.len(), 11);
        }
        let labels: Vec<usize> = (0..30).map(|i| i % 3).collect();
        for f in stratified_k_fold(&labels, 5, 0).unwrap() {
            for c in 0..3 {
                assert_eq!(f.test.iter().filter(|&&i| labels[i] == c).count(), 2);
            }
        }
    }

    #[test]
    fn bad_arguments_are_errors() {
        assert!(random_split(10, 1.5, 0).is_err());
        assert!(random_split(1, 0.5, 0).is_err());
        assert!(k_fold(3, 5, 0).is_err());
        assert!(group_split(&[1, 1, 1], 0.5, 0).is_err());
    }
}

//! Statistics that decide verdicts: summaries over seeds, bootstrap
//! intervals and paired tests, each matching scipy (golden-tested in
//! tests/stats_golden.rs).

use crate::error::check_same_len;
use crate::rng::rng;
use anyhow::Result;
use rand::RngExt;
use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, Normal, StudentsT};

/// Arithmetic mean (NaN for an empty slice).
pub fn mean(x: &[f64]) -> f64 {
    x.iter().sum::<f64>() / x.len() as f64
}

/// Sample standard deviation (ddof = 1, `np.std(x, ddof=1)`); 0 for fewer
/// than two values so a single-seed run still reports a number.
pub fn std(x: &[f64]) -> f64 {
    if x.len() < 2 {
        return 0.0;
    }
    let m = mean(x);
    (x.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (x.len() - 1) as f64).sqrt()
}

/// The 95% Student-t interval of the mean over seeds,
/// `mean ± t(0.975, n - 1) std / sqrt(n)` (`scipy.stats.t.interval(0.95,
/// n - 1, loc=mean, scale=sem)`); `None` for fewer than two values.
pub fn mean_ci95(x: &[f64]) -> Option<(f64, f64)> {
    if x.len() < 2 || x.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let t = StudentsT::new(0.0, 1.0, (x.len() - 1) as f64).ok()?.inverse_cdf(0.975);
    let half = t * std(x) / (x.len() as f64).sqrt();
    Some((mean(x) - half, mean(x) + half))
}

/// Ranks 1..=n with ties given their average rank (`scipy.stats.rankdata`).
pub fn average_ranks(x: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..x.len()).collect();
    order.sort_by(|&a, &b| x[a].total_cmp(&x[b]));
    let mut ranks = vec![0.0; x.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        while end < order.len() && x[order[end]] == x[order[start]] {
            end += 1;
        }
        let avg = (start + end + 1) as f64 / 2.0; // mean of ranks start+1..=end
        for &i in &order[start..end] {
            ranks[i] = avg;
        }
        start = end;
    }
    ranks
}

/// A confidence interval.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct Interval {
    pub low: f64,
    pub high: f64,
}

/// Percentile bootstrap interval of the mean at `level` (e.g. 0.95), from
/// `resamples` resamples drawn with `seed`.
pub fn bootstrap_mean_ci(x: &[f64], level: f64, resamples: usize, seed: u64) -> Result<Interval> {
    if x.is_empty() {
        crate::user_bail!("bootstrap_mean_ci: no values");
    }
    if !(0.0..1.0).contains(&level) || resamples == 0 {
        crate::user_bail!("bootstrap_mean_ci: level must be in (0, 1) and resamples > 0");
    }
    let mut r = rng(seed);
    let n = x.len();
    let mut means: Vec<f64> =
        (0..resamples).map(|_| (0..n).map(|_| x[r.random_range(0..n)]).sum::<f64>() / n as f64).collect();
    means.sort_by(f64::total_cmp);
    let alpha = (1.0 - level) / 2.0;
    Ok(Interval { low: quantile_sorted(&means, alpha), high: quantile_sorted(&means, 1.0 - alpha) })
}

/// Linear-interpolated quantile of sorted data (numpy's default method).
pub fn quantile_sorted(sorted: &[f64], q: f64) -> f64 {
    let pos = q.clamp(0.0, 1.0) * (sorted.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// A test statistic with its two-sided p-value.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct TestResult {
    pub statistic: f64,
    pub p_value: f64,
}

/// Paired Student t-test, two-sided (`scipy.stats.ttest_rel(a, b)`).
pub fn paired_t_test(a: &[f64], b: &[f64]) -> Result<TestResult> {
    check_same_len("paired_t_test", a.len(), b.len())?;
    if a.len() < 2 {
        crate::user_bail!("paired_t_test: needs at least two pairs");
    }
    let d: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    let sd = std(&d);
    let n = d.len() as f64;
    if sd == 0.0 {
        crate::user_bail!("paired_t_test: all differences are equal, the test is undefined");
    }
    let t = mean(&d) / (sd / n.sqrt());
    let dist = StudentsT::new(0.0, 1.0, n - 1.0).expect("n - 1 >= 1 degrees of freedom");
    Ok(TestResult { statistic: t, p_value: (2.0 * dist.cdf(-t.abs())).min(1.0) })
}

/// Wilcoxon signed-rank test on paired samples, two-sided, with scipy's
/// defaults (`scipy.stats.wilcoxon(a, b)`, scipy >= 1.15): zero differences
/// are dropped from the ranks (`zero_method="wilcox"`); the p-value is
/// exact when there are no ties or zeros and n <= 50, an exact sign-flip
/// permutation test when there are ties or zeros and n <= 13, and otherwise
/// the normal approximation with tie correction and no continuity
/// correction. The statistic is min(W+, W-).
pub fn wilcoxon_signed_rank(a: &[f64], b: &[f64]) -> Result<TestResult> {
    check_same_len("wilcoxon_signed_rank", a.len(), b.len())?;
    let d: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    let nonzero: Vec<f64> = d.iter().copied().filter(|v| *v != 0.0).collect();
    if nonzero.is_empty() {
        crate::user_bail!("wilcoxon_signed_rank: all differences are zero");
    }
    let ranks = average_ranks(&nonzero.iter().map(|v| v.abs()).collect::<Vec<_>>());
    let w_plus: f64 = nonzero.iter().zip(&ranks).filter(|(v, _)| **v > 0.0).map(|(_, r)| r).sum();
    let total: f64 = ranks.iter().sum();
    let statistic = w_plus.min(total - w_plus);
    let has_ties = has_ties(&ranks);
    let has_zeros = nonzero.len() < d.len();
    let p_value = if !has_ties && !has_zeros && d.len() <= 50 {
        exact_signed_rank_p(nonzero.len(), w_plus)
    } else if d.len() <= 13 {
        sign_flip_p(&nonzero, &ranks, w_plus)
    } else {
        normal_signed_rank_p(&ranks, w_plus)
    };
    Ok(TestResult { statistic, p_value })
}

/// One-sided exact sign test: the probability of at least `successes`
/// successes in `trials` fair coin flips, `P(X >= k)` for
/// `X ~ Binomial(trials, 1/2)` (`scipy.stats.binomtest(k, n, 0.5,
/// alternative="greater").pvalue`). For "most seeds go one way": count the
/// seeds that do, out of those that go either way (ties dropped).
pub fn sign_test_greater(successes: usize, trials: usize) -> Result<f64> {
    if successes > trials {
        crate::user_bail!("sign_test_greater: {successes} successes in {trials} trials");
    }
    if trials == 0 {
        crate::user_bail!("sign_test_greater: no trials");
    }
    // C(n, j) / 2^n summed for j >= k, with the binomials built as f64
    // (exact for the seed counts a verdict sees, n <= 60).
    let mut c = 1.0f64;
    let mut tail = 0.0;
    for j in 0..=trials {
        if j >= successes {
            tail += c;
        }
        c = c * (trials - j) as f64 / (j + 1) as f64;
    }
    Ok(tail / 2f64.powi(trials as i32))
}

fn has_ties(ranks: &[f64]) -> bool {
    ranks.iter().any(|r| r.fract() != 0.0) || {
        let mut s = ranks.to_vec();
        s.sort_by(f64::total_cmp);
        s.windows(2).any(|w| w[0] == w[1])
    }
}

/// Exact null distribution of W+ for ranks 1..=n (no ties): count subsets
/// of {1..n} by their sum.
fn exact_signed_rank_p(n: usize, w_plus: f64) -> f64 {
    let max = n * (n + 1) / 2;
    let mut counts = vec![0f64; max + 1];
    counts[0] = 1.0;
    for k in 1..=n {
        for s in (k..=max).rev() {
            counts[s] += counts[s - k];
        }
    }
    let total = 2f64.powi(n as i32);
    let w = w_plus.round() as usize;
    let cdf: f64 = counts[..=w].iter().sum::<f64>() / total;
    let sf: f64 = counts[w..].iter().sum::<f64>() / total;
    (2.0 * cdf.min(sf)).min(1.0)
}

/// Exact permutation p-value: every assignment of signs to the nonzero
/// differences is equally likely under the null (zeros cannot change W+).
fn sign_flip_p(nonzero: &[f64], ranks: &[f64], w_plus: f64) -> f64 {
    let n = nonzero.len();
    let tol = 1e-12 * w_plus.abs().max(1.0);
    let (mut ge, mut le) = (0u64, 0u64);
    for mask in 0u64..(1 << n) {
        let w: f64 = (0..n).filter(|i| mask >> i & 1 == 1).map(|i| ranks[i]).sum();
        ge += u64::from(w >= w_plus - tol);
        le += u64::from(w <= w_plus + tol);
    }
    let total = (1u64 << n) as f64;
    (2.0 * (ge as f64 / total).min(le as f64 / total)).min(1.0)
}

/// Normal approximation with the tie correction of the variance.
fn normal_signed_rank_p(ranks: &[f64], w_plus: f64) -> f64 {
    let n = ranks.len() as f64;
    let mean_w = n * (n + 1.0) / 4.0;
    let mut var = n * (n + 1.0) * (2.0 * n + 1.0) / 24.0;
    let mut sorted = ranks.to_vec();
    sorted.sort_by(f64::total_cmp);
    let mut i = 0;
    while i < sorted.len() {
        let j = sorted[i..].iter().take_while(|&&r| r == sorted[i]).count();
        let t = j as f64;
        var -= (t * t * t - t) / 48.0;
        i += j;
    }
    let z = (w_plus - mean_w) / var.sqrt();
    let normal = Normal::new(0.0, 1.0).expect("standard normal");
    2.0 * normal.cdf(-z.abs())
}

#[cfg(test)]
mod tests {

    #[test]
    fn mean_ci95_matches_scipy_t_interval() {
        // scipy.stats.t.interval(0.95, 2, loc=2, scale=1/sqrt(3)) = (-0.48413771, 4.48413771)
        let (lo, hi) = mean_ci95(&[1.0, 2.0, 3.0]).unwrap();
        assert!((lo + 0.484_137_71).abs() < 1e-7 && (hi - 4.484_137_71).abs() < 1e-7, "{lo} {hi}");
        assert!(mean_ci95(&[1.0]).is_none() && mean_ci95(&[1.0, f64::NAN]).is_none());
    }

    use super::*;

    #[test]
    fn ranks_average_ties() {
        assert_eq!(average_ranks(&[3.0, 1.0, 3.0, 2.0]), vec![3.5, 1.0, 3.5, 2.0]);
    }

    #[test]
    fn bootstrap_interval_brackets_mean_and_is_reproducible() {
        let x = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let a = bootstrap_mean_ci(&x, 0.95, 2000, 3).unwrap();
        let b = bootstrap_mean_ci(&x, 0.95, 2000, 3).unwrap();
        assert_eq!(a, b);
        assert!(a.low < 3.5 && 3.5 < a.high, "{a:?}");
        assert!(a.low >= 1.0 && a.high <= 6.0);
    }

    /// scipy.stats.binomtest(k, n, 0.5, alternative="greater").pvalue.
    #[test]
    fn sign_test_matches_scipy_binomtest() {
        for (k, n, want) in [(5, 5, 0.03125), (4, 5, 0.1875), (3, 3, 0.125), (7, 10, 0.171_875), (0, 4, 1.0)] {
            let p = sign_test_greater(k, n).unwrap();
            assert!((p - want).abs() < 1e-12, "{k}/{n}: {p} vs {want}");
        }
        assert!(sign_test_greater(3, 2).is_err() && sign_test_greater(0, 0).is_err());
    }

    #[test]
    fn single_value_std_is_zero() {
        assert_eq!(std(&[4.2]), 0.0);
    }
}

//! The uncertainty of a TPR-at-low-FPR comparison between two arms scored
//! on the same pool: a paired bootstrap over the pool's examples.
//!
//! Why this shape. Every arm of the experiment pools one score per
//! (target model, pool example), and the arms compared with each other
//! (LiRA against the loss attack on one population; a defence against its
//! no-defence population, which shares its halves and initial weights)
//! score the same examples. A replicate draws the pool's examples with
//! replacement and gives every pooled score of a drawn example that
//! example's multiplicity, in both arms at once: the comparison stays
//! paired, and the scores of one example under different targets (which
//! are correlated) move together, as a cluster bootstrap requires. It
//! measures the evaluation sample's noise within one training run, not
//! training noise: that needs seeds (the experiment's rule uses an
//! interval over seeds when there are at least 3).

use anyhow::Result;
use rand::RngExt;
use reprolab_core::metrics::{Roc, roc_curve};
use reprolab_core::stats::quantile_sorted;
use serde::{Deserialize, Serialize};

/// One arm's membership scores pooled over targets, target-major: score
/// `t * n_examples + j` is target `t`'s on pool example `j`, with its
/// IN/OUT label in `members`.
#[derive(Debug, Clone, PartialEq)]
pub struct Pooled {
    pub n_examples: usize,
    pub scores: Vec<f64>,
    pub members: Vec<bool>,
}

impl Pooled {
    /// Checks the layout: as many labels as scores, a whole number of
    /// targets, finite scores.
    pub fn new(n_examples: usize, scores: Vec<f64>, members: Vec<bool>) -> Result<Self> {
        anyhow::ensure!(
            n_examples > 0 && scores.len() == members.len() && scores.len().is_multiple_of(n_examples),
            "pooled scores: {} scores and {} labels are not whole targets of {n_examples} examples",
            scores.len(),
            members.len()
        );
        anyhow::ensure!(scores.iter().all(|s| s.is_finite()), "pooled scores: NaN or infinite score");
        Ok(Self { n_examples, scores, members })
    }

    /// The ROC of the unweighted pool (each score once).
    pub fn roc(&self) -> Result<Roc> {
        roc_curve(&self.members, &self.scores)
    }

    /// Score indices from the highest score to the lowest.
    fn order(&self) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.scores.len()).collect();
        order.sort_by(|&a, &b| self.scores[b].total_cmp(&self.scores[a]));
        order
    }

    /// How many IN and OUT scores each example has over the targets.
    fn counts(&self) -> Vec<(f64, f64)> {
        let mut counts = vec![(0.0, 0.0); self.n_examples];
        for (i, &m) in self.members.iter().enumerate() {
            let c = &mut counts[i % self.n_examples];
            if m { c.0 += 1.0 } else { c.1 += 1.0 }
        }
        counts
    }

    /// The ROC when every score of example `j` counts `weight[j]` times,
    /// walked along `order` (see [`Pooled::order`]) with `counts` (see
    /// [`Pooled::counts`]), up to and including its first point with an
    /// FPR above `up_to` (what [`Roc::tpr_at`] reads at FPRs up to
    /// `up_to`; the walk stops there, which keeps a replicate cheap). With
    /// unit weights and `up_to` = 1 it is [`roc_curve`]'s curve, point for
    /// point. `None` when a class has no weight.
    fn weighted_roc(&self, order: &[usize], counts: &[(f64, f64)], weight: &[f64], up_to: f64) -> Option<Roc> {
        let pos: f64 = weight.iter().zip(counts).map(|(w, c)| w * c.0).sum();
        let neg: f64 = weight.iter().zip(counts).map(|(w, c)| w * c.1).sum();
        if pos == 0.0 || neg == 0.0 {
            return None;
        }
        let (mut tp, mut fp) = (0.0, 0.0);
        let mut roc = Roc { fpr: vec![0.0], tpr: vec![0.0], thresholds: Vec::new() };
        // the score of the tie group being summed (scores of undrawn
        // examples are skipped, so no point repeats)
        let mut group: Option<f64> = None;
        for &i in order {
            let w = weight[i % self.n_examples];
            if w == 0.0 {
                continue;
            }
            let s = self.scores[i];
            if let Some(g) = group
                && g != s
            {
                roc.fpr.push(fp / neg);
                roc.tpr.push(tp / pos);
                roc.thresholds.push(g);
                if fp / neg > up_to {
                    return Some(roc);
                }
            }
            group = Some(s);
            if self.members[i] { tp += w } else { fp += w }
        }
        if let Some(g) = group {
            roc.fpr.push(fp / neg);
            roc.tpr.push(tp / pos);
            roc.thresholds.push(g);
        }
        Some(roc)
    }
}

/// How many replicates and which two-sided level the interval has.
#[derive(Debug, Clone, Copy)]
pub struct Bootstrap {
    pub resamples: usize,
    pub level: f64,
}

/// The experiment's bootstrap: 1,000 replicates, 95% percentile interval.
pub const BOOTSTRAP_95: Bootstrap = Bootstrap { resamples: 1000, level: 0.95 };

/// A difference with its interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Difference {
    /// On the pool as measured.
    pub estimate: f64,
    pub low: f64,
    pub high: f64,
}

/// `TPR_a - factor * TPR_b` at `fpr` (each read off its ROC with
/// [`Roc::tpr_at`], the report's rule), with its percentile bootstrap
/// interval from resampling the pool's examples in both arms at once
/// (see the module docs). `factor` is 1 for "a lowers b" and 10 for "a
/// is at least 10 times b". Replicates in which an arm has no member or no
/// non-member are dropped; fewer than half left is an error.
pub fn tpr_difference(a: &Pooled, b: &Pooled, factor: f64, fpr: f64, boot: Bootstrap, seed: u64) -> Result<Difference> {
    anyhow::ensure!(
        a.n_examples == b.n_examples,
        "paired arms must score the same pool ({} vs {} examples)",
        a.n_examples,
        b.n_examples
    );
    anyhow::ensure!(boot.resamples > 0 && boot.level > 0.0 && boot.level < 1.0, "bootstrap: bad settings {boot:?}");
    let statistic = |ra: &Roc, rb: &Roc| ra.tpr_at(fpr) - factor * rb.tpr_at(fpr);
    let estimate = statistic(&a.roc()?, &b.roc()?);
    let (order_a, order_b) = (a.order(), b.order());
    let (counts_a, counts_b) = (a.counts(), b.counts());
    let n = a.n_examples;
    let mut rng = reprolab_core::rng::rng(seed);
    let mut weight = vec![0.0; n];
    let mut replicates = Vec::with_capacity(boot.resamples);
    for _ in 0..boot.resamples {
        weight.iter_mut().for_each(|w| *w = 0.0);
        for _ in 0..n {
            weight[rng.random_range(0..n)] += 1.0;
        }
        if let (Some(ra), Some(rb)) =
            (a.weighted_roc(&order_a, &counts_a, &weight, fpr), b.weighted_roc(&order_b, &counts_b, &weight, fpr))
        {
            replicates.push(statistic(&ra, &rb));
        }
    }
    anyhow::ensure!(
        replicates.len() * 2 >= boot.resamples,
        "bootstrap: only {} of {} replicates had both members and non-members",
        replicates.len(),
        boot.resamples
    );
    replicates.sort_by(f64::total_cmp);
    let tail = (1.0 - boot.level) / 2.0;
    Ok(Difference { estimate, low: quantile_sorted(&replicates, tail), high: quantile_sorted(&replicates, 1.0 - tail) })
}

/// The interval a verdict reads from per-seed differences, and how it was
/// made: with at least 3 seeds, the 95% Student-t interval of the mean of
/// the per-seed estimates (training noise included, as the project's
/// statistics rules ask); with 1 or 2, each seed's paired bootstrap
/// interval, and over 2 seeds the hull of both (a side of 0 must hold in
/// every seed). `None` without seeds.
pub fn over_seeds(diffs: &[Difference]) -> Option<(Difference, String)> {
    let estimates: Vec<f64> = diffs.iter().map(|d| d.estimate).collect();
    let estimate = reprolab_core::stats::mean(&estimates);
    match diffs.len() {
        0 => None,
        n if n >= 3 => {
            let (low, high) = reprolab_core::stats::mean_ci95(&estimates)?;
            Some((Difference { estimate, low, high }, format!("t interval over {n} seeds")))
        }
        n => {
            let low = diffs.iter().map(|d| d.low).fold(f64::INFINITY, f64::min);
            let high = diffs.iter().map(|d| d.high).fold(f64::NEG_INFINITY, f64::max);
            let how = if n == 1 {
                "paired bootstrap over examples, 1 seed"
            } else {
                "paired bootstrap over examples, hull of 2 seeds"
            };
            Some((Difference { estimate, low, high }, how.into()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two targets on a pool of 4 examples.
    fn toy(scores: [f64; 8]) -> Pooled {
        Pooled::new(4, scores.to_vec(), vec![true, false, true, false, false, true, false, true]).unwrap()
    }

    #[test]
    fn unit_weights_give_the_plain_roc_point_for_point() {
        let p = toy([0.9, 0.1, 0.5, 0.5, 0.3, 0.8, 0.2, 0.5]);
        let full = p.weighted_roc(&p.order(), &p.counts(), &[1.0; 4], 1.0).unwrap();
        assert_eq!(full, p.roc().unwrap());
        // cut after the first point above FPR 0.25: the same tpr_at up to it
        let cut = p.weighted_roc(&p.order(), &p.counts(), &[1.0; 4], 0.25).unwrap();
        assert!(cut.fpr.len() < full.fpr.len() && cut.fpr[cut.fpr.len() - 1] > 0.25, "{cut:?}");
        assert_eq!(cut.fpr[..], full.fpr[..cut.fpr.len()]);
        for f in [0.0, 0.1, 0.25] {
            assert_eq!(cut.tpr_at(f), full.tpr_at(f), "at {f}");
        }
    }

    /// Example 0 drawn twice, 2 once, 1 and 3 never: by hand, the pool is
    /// target 0's example 0 (member, 0.9) twice and 2 (member, 0.5), and
    /// target 1's example 0 (non-member, 0.3) twice and 2 (non-member, 0.2).
    #[test]
    fn weights_count_every_score_of_an_example() {
        let p = toy([0.9, 0.1, 0.5, 0.5, 0.3, 0.8, 0.2, 0.5]);
        let roc = p.weighted_roc(&p.order(), &p.counts(), &[2.0, 0.0, 1.0, 0.0], 1.0).unwrap();
        let by_hand = roc_curve(&[true, true, true, false, false, false], &[0.9, 0.9, 0.5, 0.3, 0.3, 0.2]).unwrap();
        assert_eq!(roc, by_hand);
        // nothing drawn: no ROC
        assert!(p.weighted_roc(&p.order(), &p.counts(), &[0.0; 4], 1.0).is_none());
    }

    /// A pool where arm `a` separates members perfectly and `b` is
    /// uninformative: the difference of TPR@10%FPR is about 0.9 and its
    /// interval excludes 0; an arm against itself gives exactly 0.
    #[test]
    fn the_interval_excludes_zero_for_a_clear_difference_and_is_zero_for_no_difference() {
        let n = 400;
        let members: Vec<bool> = (0..2 * n).map(|i| (i * 7 + i / n) % 2 == 0).collect();
        let perfect: Vec<f64> =
            members.iter().enumerate().map(|(i, &m)| f64::from(u8::from(m)) + i as f64 * 1e-6).collect();
        let noise: Vec<f64> = (0..2 * n).map(|i| ((i * 7919) % 1013) as f64).collect();
        let a = Pooled::new(n, perfect, members.clone()).unwrap();
        let b = Pooled::new(n, noise, members).unwrap();
        let d = tpr_difference(&a, &b, 1.0, 0.1, BOOTSTRAP_95, 7).unwrap();
        assert!((d.estimate - (1.0 - b.roc().unwrap().tpr_at(0.1))).abs() < 1e-12, "{d:?}");
        assert!(d.low > 0.7 && d.low <= d.estimate && d.estimate <= d.high, "{d:?}");
        let same = tpr_difference(&b, &b, 1.0, 0.1, BOOTSTRAP_95, 7).unwrap();
        assert_eq!(same, Difference { estimate: 0.0, low: 0.0, high: 0.0 });
        // factor 10: 1 - 10 * TPR_b
        let tenfold = tpr_difference(&a, &b, 10.0, 0.1, BOOTSTRAP_95, 7).unwrap();
        assert!((tenfold.estimate - (1.0 - 10.0 * b.roc().unwrap().tpr_at(0.1))).abs() < 1e-12);
        // the same seed gives the same interval
        assert_eq!(tpr_difference(&a, &b, 1.0, 0.1, BOOTSTRAP_95, 7).unwrap(), d);
    }

    /// One seed: its bootstrap interval; two: the hull; three: scipy's
    /// `t.interval(0.95, 2, loc=mean, scale=sem)` of the estimates
    /// (estimates 0.01, 0.02, 0.06: mean 0.03, sem 0.015275252316519466,
    /// interval [-0.03572410607728428, 0.09572410607728428]).
    #[test]
    fn over_seeds_uses_the_bootstrap_below_3_seeds_and_a_t_interval_from_3() {
        let d = |estimate, low, high| Difference { estimate, low, high };
        assert!(over_seeds(&[]).is_none());
        let (one, how) = over_seeds(&[d(0.02, 0.01, 0.03)]).unwrap();
        assert_eq!((one, how.as_str()), (d(0.02, 0.01, 0.03), "paired bootstrap over examples, 1 seed"));
        let (two, how) = over_seeds(&[d(0.02, 0.01, 0.03), d(0.04, 0.005, 0.05)]).unwrap();
        assert_eq!((two.low, two.high), (0.005, 0.05));
        assert!((two.estimate - 0.03).abs() < 1e-15 && how.contains("hull of 2 seeds"));
        let (three, how) = over_seeds(&[d(0.01, 0.005, 0.02), d(0.02, 0.01, 0.03), d(0.06, 0.05, 0.07)]).unwrap();
        assert_eq!(how, "t interval over 3 seeds");
        assert!((three.estimate - 0.03).abs() < 1e-15);
        assert!((three.low - -0.03572410607728428).abs() < 1e-12, "{three:?}");
        assert!((three.high - 0.09572410607728428).abs() < 1e-12, "{three:?}");
    }

    #[test]
    fn mismatched_pools_are_refused() {
        let p = toy([0.0; 8]);
        let q = Pooled::new(2, vec![0.0; 4], vec![true, false, true, false]).unwrap();
        assert!(tpr_difference(&p, &q, 1.0, 0.01, BOOTSTRAP_95, 0).is_err());
        assert!(Pooled::new(3, vec![0.0; 4], vec![true; 4]).is_err());
        assert!(Pooled::new(2, vec![f64::NAN, 0.0], vec![true, false]).is_err());
    }
}

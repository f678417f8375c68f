//! An empirical lower bound on the differential-privacy epsilon that a
//! membership attack's success implies, for `reprolab membership audit`.
//!
//! **The formula.** If training is (epsilon, delta)-differentially private,
//! every membership test, at any threshold, has `TPR <= e^epsilon * FPR +
//! delta` (the hypothesis-testing view of DP, Kairouz, Oh & Viswanath
//! 2015). So a test that reaches TPR at FPR shows
//! `epsilon >= ln((TPR - delta) / FPR)`. With rates measured on finitely
//! many examples, the bound takes the Clopper-Pearson lower limit of TPR
//! and upper limit of FPR, as in Jagielski, Ullman & Oprea, "Auditing
//! Differentially Private Machine Learning: How Private is Private SGD?"
//! (NeurIPS 2020, Algorithm 2) and Nasr et al., "Adversary Instantiation:
//! Lower Bounds for Differentially Private Machine Learning" (IEEE S&P
//! 2021):
//!
//! `epsilon_lo = ln((TPR_lo - delta) / FPR_hi)`, and 0 when that is not
//! positive (no evidence against any epsilon).
//!
//! Each limit is one side of a two-sided Clopper-Pearson interval at level
//! `1 - alpha`, so each fails with probability at most `alpha / 2` and the
//! bound holds with probability at least `1 - alpha`. An audit reports one
//! bound per attack; the `alpha` of each is divided by the number of
//! attacks (Bonferroni), so all of them, and their largest, hold together
//! at `1 - alpha`.
//!
//! **The threshold.** A threshold picked on the same examples it is
//! counted on fixes the false-positive count by construction (it is then
//! not binomial, and the interval means nothing). So the audited examples
//! are split in two by a fixed seed: the threshold is the attack's at
//! [`THRESHOLD_FPR`] on the first half (the largest FPR not above it), and
//! the counts come from the second half.
//!
//! **What it is not.** Jagielski et al. count one decision per trained
//! model. Here each audited example of one model is a trial, which treats
//! the examples' membership decisions as independent; that holds only
//! approximately (Steinke, Nasr & Jagielski, "Privacy Auditing with One (1)
//! Training Run", NeurIPS 2023, analyse such one-run audits and need
//! examples included independently at random). Read the number as an
//! empirical estimate of how much the model leaks, not as a certified
//! audit of a DP guarantee.

use anyhow::Result;
use rand::seq::SliceRandom;
use reprolab_core::metrics::roc_curve;
use serde::Serialize;
use statrs::distribution::{Beta, ContinuousCDF};

/// The audit's delta (the experiment's DP-SGD delta; below 1/n for the
/// pools people audit).
pub const DELTA: f64 = 1e-5;
/// The audit's joint level: all its bounds hold together with probability
/// at least `1 - ALPHA`.
pub const ALPHA: f64 = 0.05;
/// The FPR at which the threshold is chosen on the first half.
pub const THRESHOLD_FPR: f64 = 0.01;
/// The seed of the split into a threshold half and a counting half.
pub const SPLIT_SEED: u64 = 0;

/// The two-sided Clopper-Pearson interval of a binomial proportion at
/// level `1 - alpha` from `k` successes in `n` trials:
/// `[Beta(k, n - k + 1).ppf(alpha / 2), Beta(k + 1, n - k).ppf(1 - alpha / 2)]`,
/// with 0 and 1 at the ends (`statsmodels`'s `proportion_confint(k, n,
/// alpha, method="beta")`).
pub fn clopper_pearson(k: usize, n: usize, alpha: f64) -> Result<(f64, f64)> {
    anyhow::ensure!(k <= n && n > 0, "clopper_pearson: {k} successes in {n} trials");
    anyhow::ensure!(alpha > 0.0 && alpha < 1.0, "clopper_pearson: alpha must be in (0, 1), got {alpha}");
    let (k, n) = (k as f64, n as f64);
    let low = if k == 0.0 { 0.0 } else { Beta::new(k, n - k + 1.0)?.inverse_cdf(alpha / 2.0) };
    let high = if k == n { 1.0 } else { Beta::new(k + 1.0, n - k)?.inverse_cdf(1.0 - alpha / 2.0) };
    Ok((low, high))
}

/// One attack's bound and the counts behind it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EpsilonBound {
    /// Chosen on the first half at [`THRESHOLD_FPR`] ("member" when score >= it;
    /// `null` in JSON when no threshold reaches an FPR that low).
    pub threshold: f64,
    /// Counts on the second half.
    pub members: usize,
    pub non_members: usize,
    pub true_positives: usize,
    pub false_positives: usize,
    pub tpr_low: f64,
    pub fpr_high: f64,
    /// The two-sided level of each Clopper-Pearson interval (after the
    /// Bonferroni division).
    pub interval_level: f64,
    pub epsilon: f64,
}

/// `ln((tpr_low - delta) / fpr_high)` from the counts, 0 when not positive.
pub fn bound_from_counts(
    tp: usize,
    members: usize,
    fp: usize,
    non_members: usize,
    delta: f64,
    alpha: f64,
) -> Result<(f64, f64, f64)> {
    let (tpr_low, _) = clopper_pearson(tp, members, alpha)?;
    let (_, fpr_high) = clopper_pearson(fp, non_members, alpha)?;
    let epsilon = if tpr_low - delta > fpr_high { ((tpr_low - delta) / fpr_high).ln() } else { 0.0 };
    Ok((tpr_low, fpr_high, epsilon))
}

/// The rows of the threshold half and of the counting half (a fixed-seed
/// shuffle, cut in the middle).
pub fn halves(n: usize) -> (Vec<usize>, Vec<usize>) {
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut reprolab_core::rng::rng(SPLIT_SEED));
    let counting = order.split_off(n / 2);
    (order, counting)
}

/// The lowest threshold whose FPR on (`members`, `scores`) is not above
/// `fpr` (the largest such FPR, LiRA's rule); infinity when even the top
/// score is above it.
fn threshold_at(members: &[bool], scores: &[f64], fpr: f64) -> Result<f64> {
    let roc = roc_curve(members, scores)?;
    // point i > 0 of the curve comes from thresholds[i - 1]
    let i = roc.fpr.partition_point(|&f| f <= fpr) - 1;
    Ok(if i == 0 { f64::INFINITY } else { roc.thresholds[i - 1] })
}

/// One attack's bound from its scores on the audited examples and their
/// membership, with `alpha` for each interval (see the module docs).
pub fn attack_bound(members: &[bool], scores: &[f64], delta: f64, alpha: f64) -> Result<EpsilonBound> {
    let (pick, count) = halves(members.len());
    let take = |rows: &[usize]| -> (Vec<bool>, Vec<f64>) { rows.iter().map(|&i| (members[i], scores[i])).unzip() };
    let (pick_m, pick_s) = take(&pick);
    let (count_m, count_s) = take(&count);
    let threshold = threshold_at(&pick_m, &pick_s, THRESHOLD_FPR)?;
    let n_members = count_m.iter().filter(|&&m| m).count();
    let non_members = count_m.len() - n_members;
    anyhow::ensure!(n_members > 0 && non_members > 0, "the counting half needs members and non-members");
    let predicted = |want: bool| count_m.iter().zip(&count_s).filter(|&(&m, &s)| m == want && s >= threshold).count();
    let (tp, fp) = (predicted(true), predicted(false));
    let (tpr_low, fpr_high, epsilon) = bound_from_counts(tp, n_members, fp, non_members, delta, alpha)?;
    Ok(EpsilonBound {
        threshold,
        members: n_members,
        non_members,
        true_positives: tp,
        false_positives: fp,
        tpr_low,
        fpr_high,
        interval_level: 1.0 - alpha,
        epsilon,
    })
}

/// The audit's epsilon section: one bound per attack, all holding together
/// at `1 - ALPHA`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EpsilonReport {
    pub delta: f64,
    /// The joint level of all bounds.
    pub confidence: f64,
    pub threshold_fpr: f64,
    pub method: &'static str,
    /// The attack with the largest bound and that bound.
    pub best_attack: String,
    pub epsilon: f64,
    pub attacks: std::collections::BTreeMap<String, EpsilonBound>,
}

/// How the bound is computed, in one line (report.json and summary.md).
pub const METHOD: &str = "epsilon >= ln((TPR_lo - delta) / FPR_hi), Clopper-Pearson limits (Jagielski et al. 2020, Nasr et al. 2021), threshold chosen at 1% FPR on one half of the examples and counted on the other, Bonferroni over the attacks";

/// Every attack's bound (`scores`: attack name and per-example scores) at
/// [`DELTA`] and joint level `1 - ALPHA`. `None` when the counting half
/// lacks members or non-members.
pub fn audit_bounds(members: &[bool], scores: &[(String, Vec<f64>)]) -> Result<Option<EpsilonReport>> {
    if scores.is_empty() {
        return Ok(None);
    }
    let alpha = ALPHA / scores.len() as f64;
    let mut attacks = std::collections::BTreeMap::new();
    for (name, s) in scores {
        match attack_bound(members, s, DELTA, alpha) {
            Ok(b) => attacks.insert(name.clone(), b),
            Err(_) => return Ok(None),
        };
    }
    let (best_attack, epsilon) = attacks
        .iter()
        .map(|(a, b)| (a.clone(), b.epsilon))
        .fold((String::new(), f64::NEG_INFINITY), |best, x| if x.1 > best.1 { x } else { best });
    Ok(Some(EpsilonReport {
        delta: DELTA,
        confidence: 1.0 - ALPHA,
        threshold_fpr: THRESHOLD_FPR,
        method: METHOD,
        best_attack,
        epsilon,
        attacks,
    }))
}

/// The report's epsilon line.
pub fn summary_line(e: &EpsilonReport) -> String {
    let b = &e.attacks[&e.best_attack];
    format!(
        "Empirical epsilon lower bound: epsilon >= {:.3} at delta {:e} ({:.0}% confidence, jointly over {} attacks), from {} \
         (TPR >= {:.4}: {} of {} members; FPR <= {:.4}: {} of {} non-members, on the counting half). {}.",
        e.epsilon,
        e.delta,
        100.0 * e.confidence,
        e.attacks.len(),
        e.best_attack,
        b.tpr_low,
        b.true_positives,
        b.members,
        b.fpr_high,
        b.false_positives,
        b.non_members,
        e.method
    )
}

/// The summary's epsilon section: the line, then each attack's counts.
pub fn summary_markdown(e: &EpsilonReport) -> String {
    let mut s = format!(
        "{}\n\n| attack | threshold | TP / members | FP / non-members | TPR lower | FPR upper | epsilon >= |\n|---|---|---|---|---|---|---|\n",
        summary_line(e)
    );
    for (name, b) in &e.attacks {
        s += &format!(
            "| {name} | {:.4} | {} / {} | {} / {} | {:.4} | {:.4} | {:.3} |\n",
            b.threshold,
            b.true_positives,
            b.members,
            b.false_positives,
            b.non_members,
            b.tpr_low,
            b.fpr_high,
            b.epsilon
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (k, n, alpha, lower, upper) from scipy 1.17.1:
    /// `beta.ppf(alpha / 2, k, n - k + 1)`, `beta.ppf(1 - alpha / 2, k + 1, n - k)`.
    const SCIPY: [(usize, usize, f64, f64, f64); 10] = [
        (0, 10, 0.05, 0.0, 0.3084971078187607),
        (3, 10, 0.05, 0.06673951117773447, 0.6524528500599973),
        (10, 10, 0.05, 0.6915028921812392, 1.0),
        (5, 500, 0.05, 0.0032547214070242523, 0.02318138806965964),
        (0, 500, 0.05, 0.0, 0.007350610051907784),
        (45, 449, 0.05, 0.07404587894868926, 0.1318032819040215),
        (1, 1000, 0.05, 2.531748749129404e-05, 0.005558924279826672),
        (999, 1000, 0.05, 0.9944410757201734, 0.9999746825125088),
        (7, 450, 0.05 / 7.0, 0.004269762419433507, 0.03880137562690644),
        (120, 449, 0.05 / 7.0, 0.21293084768263307, 0.32705174677192106),
    ];

    #[test]
    fn clopper_pearson_matches_scipy_beta_ppf() {
        for (k, n, alpha, lo, hi) in SCIPY {
            let (l, h) = clopper_pearson(k, n, alpha).unwrap();
            assert!((l - lo).abs() <= 1e-9 * lo.max(1e-300) + 1e-15, "{k}/{n} lower: {l} vs scipy {lo}");
            assert!((h - hi).abs() <= 1e-9 * hi, "{k}/{n} upper: {h} vs scipy {hi}");
        }
        assert!(clopper_pearson(3, 2, 0.05).is_err());
        assert!(clopper_pearson(0, 0, 0.05).is_err());
        assert!(clopper_pearson(1, 2, 0.0).is_err());
    }

    /// (tp, members, fp, non-members, alpha, epsilon) from scipy, with
    /// delta 1e-5: `log((tpr_lo - delta) / fpr_hi)`, 0 when not positive.
    #[test]
    fn the_bound_matches_scipy_and_is_zero_without_evidence() {
        let cases = [
            (45, 449, 5, 450, 0.05, 1.0565823176513334),
            (120, 449, 7, 450, 0.05 / 7.0, 1.702464789220148),
            (300, 1000, 0, 1000, 0.05, 4.30126054589152),
            // TPR = FPR: an attack no better than a coin
            (10, 1000, 10, 1000, 0.05, 0.0),
        ];
        for (tp, p, fp, n, alpha, eps) in cases {
            let (_, _, e) = bound_from_counts(tp, p, fp, n, 1e-5, alpha).unwrap();
            assert!((e - eps).abs() < 1e-9, "{tp}/{p} vs {fp}/{n}: {e} vs scipy {eps}");
        }
        // delta eats a tiny TPR: 1 of 1000 members (TPR_lo 2.5e-5) with delta 0.1
        assert_eq!(bound_from_counts(1, 1000, 0, 1000, 0.1, 0.05).unwrap().2, 0.0);
    }

    /// A score of 1 for members and 0 for the rest: the first half's
    /// threshold at 1% FPR is 1, which lets every member and no non-member
    /// of the second half through, so the bound is the one of those
    /// counts; a constant score gives no threshold at 1% FPR and no
    /// evidence (0).
    #[test]
    fn a_perfect_attack_gets_the_bound_of_its_counts_and_a_blind_one_gets_zero() {
        let n = 2000;
        let members: Vec<bool> = (0..n).map(|i| i % 2 == 0).collect();
        let perfect: Vec<f64> = members.iter().map(|&m| f64::from(u8::from(m))).collect();
        let b = attack_bound(&members, &perfect, DELTA, 0.05).unwrap();
        assert_eq!(b.members + b.non_members, n - n / 2);
        assert_eq!((b.true_positives, b.false_positives), (b.members, 0), "{b:?}");
        let (_, _, expected) = bound_from_counts(b.members, b.members, 0, b.non_members, DELTA, 0.05).unwrap();
        assert_eq!(b.epsilon, expected);
        assert_eq!(b.threshold, 1.0);
        assert!(b.epsilon > 4.0, "{b:?}");
        let blind = attack_bound(&members, &vec![0.5; n], DELTA, 0.05).unwrap();
        assert_eq!((blind.threshold, blind.true_positives, blind.epsilon), (f64::INFINITY, 0, 0.0), "{blind:?}");
        // 1% FPR on the first half lets about 1% of the second half's
        // non-members through when their scores are distinct
        let graded: Vec<f64> = members.iter().enumerate().map(|(i, &m)| if m { 1e4 } else { i as f64 }).collect();
        let g = attack_bound(&members, &graded, DELTA, 0.05).unwrap();
        assert!((1..=25).contains(&g.false_positives) && g.true_positives == g.members, "{g:?}");
        // the threshold half and the counting half partition the rows
        let (a, c) = halves(11);
        let mut all: Vec<usize> = a.iter().chain(&c).copied().collect();
        all.sort_unstable();
        assert_eq!((a.len(), all), (5, (0..11).collect::<Vec<_>>()));
    }

    #[test]
    fn the_report_divides_alpha_over_the_attacks_and_names_the_largest() {
        let n = 1000;
        let members: Vec<bool> = (0..n).map(|i| i % 3 == 0).collect();
        let strong: Vec<f64> =
            members.iter().enumerate().map(|(i, &m)| f64::from(u8::from(m)) * 3.0 + (i % 7) as f64 * 0.1).collect();
        let weak: Vec<f64> = (0..n).map(|i| ((i * 37) % 101) as f64).collect();
        let scores = vec![("strong".to_string(), strong), ("weak".to_string(), weak)];
        let r = audit_bounds(&members, &scores).unwrap().unwrap();
        assert_eq!(r.best_attack, "strong");
        assert_eq!(r.attacks["strong"].interval_level, 1.0 - 0.025);
        assert_eq!(r.epsilon, r.attacks["strong"].epsilon);
        assert!(r.epsilon > r.attacks["weak"].epsilon);
        let line = summary_line(&r);
        assert!(
            line.starts_with(&format!("Empirical epsilon lower bound: epsilon >= {:.3} at delta 1e-5", r.epsilon)),
            "{line}"
        );
        assert!(line.contains("jointly over 2 attacks") && line.contains("Jagielski"), "{line}");
        let md = summary_markdown(&r);
        let strong = &r.attacks["strong"];
        let row = format!(
            "| strong | {:.4} | {} / {} | {} / {} |",
            strong.threshold, strong.true_positives, strong.members, strong.false_positives, strong.non_members
        );
        assert!(md.starts_with(&line) && md.contains(&row), "{md}");
    }
}

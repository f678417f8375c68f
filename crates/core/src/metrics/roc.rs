//! ROC analysis for membership-inference style evaluation: the full curve,
//! its area, the TPR at a fixed (low) FPR and the attack advantage.

use crate::error::check_same_len;
use anyhow::Result;
use serde::{Deserialize, Serialize};

/// A ROC curve with one point per distinct score threshold, starting at
/// (0, 0) (`sklearn.metrics.roc_curve(..., drop_intermediate=False)`;
/// `thresholds` omits sklearn's leading `inf`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Roc {
    pub fpr: Vec<f64>,
    pub tpr: Vec<f64>,
    /// `thresholds[i]` produced point `i + 1`: predict positive when score >= it.
    pub thresholds: Vec<f64>,
}

/// The ROC curve of `scores` (higher means "positive") against `positive`.
/// Errors when either class is missing or a score is not finite.
pub fn roc_curve(positive: &[bool], scores: &[f64]) -> Result<Roc> {
    check_same_len("roc_curve", positive.len(), scores.len())?;
    if scores.iter().any(|s| !s.is_finite()) {
        crate::user_bail!("roc_curve: scores contain NaN or infinite values");
    }
    let n_pos = positive.iter().filter(|&&p| p).count() as f64;
    let n_neg = positive.len() as f64 - n_pos;
    if n_pos == 0.0 || n_neg == 0.0 {
        crate::user_bail!(
            "roc_curve: needs both positive and negative examples (got {n_pos} positive, {n_neg} negative)"
        );
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let (mut tp, mut fp) = (0.0, 0.0);
    let mut roc = Roc { fpr: vec![0.0], tpr: vec![0.0], thresholds: Vec::new() };
    for (k, &i) in order.iter().enumerate() {
        if positive[i] {
            tp += 1.0
        } else {
            fp += 1.0
        }
        let last_of_tie = order.get(k + 1).is_none_or(|&j| scores[j] != scores[i]);
        if last_of_tie {
            roc.fpr.push(fp / n_neg);
            roc.tpr.push(tp / n_pos);
            roc.thresholds.push(scores[i]);
        }
    }
    Ok(roc)
}

/// Area under the ROC curve by the trapezoid rule over the tie-grouped curve
/// (`sklearn.metrics.roc_auc_score`; ties count one half).
pub fn roc_auc(positive: &[bool], scores: &[f64]) -> Result<f64> {
    Ok(roc_curve(positive, scores)?.auc())
}

impl Roc {
    /// Trapezoid area under this curve.
    pub fn auc(&self) -> f64 {
        self.fpr.windows(2).zip(self.tpr.windows(2)).map(|(f, t)| (f[1] - f[0]) * (t[0] + t[1]) / 2.0).sum()
    }

    /// TPR at `target_fpr`: the TPR of the last curve point whose FPR is not
    /// above the target, i.e. at the largest FPR <= target the highest TPR
    /// reached there. This is ML Privacy Meter's
    /// `tpr[np.where(fpr <= target)[0][-1]]`, the low-FPR number LiRA-style
    /// evaluations report: an operating point some threshold achieves,
    /// never a linear interpolation between two of them (which credits the
    /// attack with a TPR no threshold gives). Two differences from the
    /// reference scripts, both documented rather than copied: LiRA's
    /// `plot.py` writes `fpr < target` (the same unless an FPR lands exactly
    /// on the target, e.g. 1 false positive in 1,000 at 0.1%), and both
    /// call sklearn's `roc_curve` with `drop_intermediate=True`, which can
    /// drop an achievable point lying on a straight segment of the curve;
    /// this curve keeps every threshold.
    pub fn tpr_at(&self, target_fpr: f64) -> f64 {
        let target = target_fpr.clamp(0.0, 1.0);
        // fpr is non-decreasing and starts at 0, so at least one point qualifies.
        let k = self.fpr.partition_point(|&f| f <= target);
        self.tpr[k.max(1) - 1]
    }

    /// max |TPR - FPR| over the curve: the membership advantage of the best
    /// threshold (Yeom et al.).
    pub fn advantage(&self) -> f64 {
        self.fpr.iter().zip(&self.tpr).map(|(f, t)| (t - f).abs()).fold(0.0, f64::max)
    }
}

/// TPR at a fixed FPR, see [`Roc::tpr_at`].
pub fn tpr_at_fpr(positive: &[bool], scores: &[f64], target_fpr: f64) -> Result<f64> {
    Ok(roc_curve(positive, scores)?.tpr_at(target_fpr))
}

/// Membership advantage max |TPR - FPR|, see [`Roc::advantage`].
pub fn advantage(positive: &[bool], scores: &[f64]) -> Result<f64> {
    Ok(roc_curve(positive, scores)?.advantage())
}

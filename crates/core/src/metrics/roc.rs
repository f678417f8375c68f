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

    /// TPR at `target_fpr` by linear interpolation on the curve's upper
    /// envelope (at an FPR reached by several points, the highest TPR). This
    /// is `np.interp(target, fpr_unique, max_tpr_per_fpr)`, the low-FPR
    /// number LiRA-style evaluations report.
    pub fn tpr_at(&self, target_fpr: f64) -> f64 {
        let target = target_fpr.clamp(0.0, 1.0);
        let mut xs: Vec<f64> = Vec::new();
        let mut ys: Vec<f64> = Vec::new();
        for (&f, &t) in self.fpr.iter().zip(&self.tpr) {
            match xs.last() {
                Some(&last) if last == f => *ys.last_mut().unwrap() = ys.last().unwrap().max(t),
                _ => {
                    xs.push(f);
                    ys.push(t);
                }
            }
        }
        let k = xs.partition_point(|&x| x <= target);
        if k == 0 {
            return ys[0];
        }
        if k == xs.len() {
            return ys[k - 1];
        }
        let (x0, x1, y0, y1) = (xs[k - 1], xs[k], ys[k - 1], ys[k]);
        y0 + (y1 - y0) * (target - x0) / (x1 - x0)
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

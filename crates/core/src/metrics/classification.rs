//! Classification metrics with scikit-learn's definitions.

use crate::error::check_same_len;
use anyhow::Result;

/// Fraction of exact matches (`sklearn.metrics.accuracy_score`).
pub fn accuracy(y_true: &[usize], y_pred: &[usize]) -> Result<f64> {
    check_same_len("accuracy", y_true.len(), y_pred.len())?;
    let hits = y_true.iter().zip(y_pred).filter(|(t, p)| t == p).count();
    Ok(hits as f64 / y_true.len() as f64)
}

/// Confusion matrix `m[true][pred]` over classes `0..n_classes`
/// (`sklearn.metrics.confusion_matrix` with `labels=range(n_classes)`).
pub fn confusion_matrix(y_true: &[usize], y_pred: &[usize], n_classes: usize) -> Result<Vec<Vec<usize>>> {
    check_same_len("confusion_matrix", y_true.len(), y_pred.len())?;
    let mut m = vec![vec![0usize; n_classes]; n_classes];
    for (&t, &p) in y_true.iter().zip(y_pred) {
        if t >= n_classes || p >= n_classes {
            crate::user_bail!("confusion_matrix: label {} is outside 0..{n_classes}", t.max(p));
        }
        m[t][p] += 1;
    }
    Ok(m)
}

/// Per-class counts over the union of labels seen in either input, the label
/// set scikit-learn uses for `average="macro"`.
struct PerClass {
    true_pos: Vec<f64>,
    support: Vec<f64>,
    predicted: Vec<f64>,
}

fn per_class(y_true: &[usize], y_pred: &[usize]) -> PerClass {
    let n = y_true.iter().chain(y_pred).max().map_or(0, |m| m + 1);
    let mut pc = PerClass { true_pos: vec![0.0; n], support: vec![0.0; n], predicted: vec![0.0; n] };
    for (&t, &p) in y_true.iter().zip(y_pred) {
        pc.support[t] += 1.0;
        pc.predicted[p] += 1.0;
        if t == p {
            pc.true_pos[t] += 1.0;
        }
    }
    pc
}

/// Labels present in either input (absent labels do not count in macro averages).
fn present(pc: &PerClass) -> impl Iterator<Item = usize> + '_ {
    (0..pc.support.len()).filter(|&c| pc.support[c] > 0.0 || pc.predicted[c] > 0.0)
}

fn ratio(num: f64, den: f64) -> f64 {
    if den > 0.0 { num / den } else { 0.0 } // sklearn's zero_division=0
}

/// Macro-averaged F1 (`f1_score(average="macro", zero_division=0)`): the
/// unweighted mean of per-class F1 over every label that appears in
/// `y_true` or `y_pred`.
pub fn macro_f1(y_true: &[usize], y_pred: &[usize]) -> Result<f64> {
    check_same_len("macro_f1", y_true.len(), y_pred.len())?;
    let pc = per_class(y_true, y_pred);
    let f1s: Vec<f64> = present(&pc).map(|c| ratio(2.0 * pc.true_pos[c], pc.support[c] + pc.predicted[c])).collect();
    Ok(f1s.iter().sum::<f64>() / f1s.len() as f64)
}

/// Unweighted average recall (`recall_score(average="macro", zero_division=0)`),
/// the metric speech and dialogue papers call UAR. Labels that are only
/// predicted count with recall 0, unlike [`balanced_accuracy`].
pub fn uar(y_true: &[usize], y_pred: &[usize]) -> Result<f64> {
    check_same_len("uar", y_true.len(), y_pred.len())?;
    let pc = per_class(y_true, y_pred);
    let recalls: Vec<f64> = present(&pc).map(|c| ratio(pc.true_pos[c], pc.support[c])).collect();
    Ok(recalls.iter().sum::<f64>() / recalls.len() as f64)
}

/// Balanced accuracy (`balanced_accuracy_score`): mean recall over the
/// classes present in `y_true` only.
pub fn balanced_accuracy(y_true: &[usize], y_pred: &[usize]) -> Result<f64> {
    check_same_len("balanced_accuracy", y_true.len(), y_pred.len())?;
    let pc = per_class(y_true, y_pred);
    let recalls: Vec<f64> =
        (0..pc.support.len()).filter(|&c| pc.support[c] > 0.0).map(|c| pc.true_pos[c] / pc.support[c]).collect();
    Ok(recalls.iter().sum::<f64>() / recalls.len() as f64)
}

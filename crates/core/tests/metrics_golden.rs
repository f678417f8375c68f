//! Metrics against golden values from scikit-learn 1.9.1 and scipy 1.17.1.
//! The inputs and the script that produced every number are in
//! tests/golden/make_golden.py.

use reprolab_core::error::is_user_error;
use reprolab_core::metrics::*;

fn close(a: f64, b: f64) {
    assert!((a - b).abs() < 1e-12, "{a} != {b}");
}

const Y_TRUE: [usize; 12] = [0, 1, 2, 2, 1, 0, 0, 2, 1, 1, 2, 0];
const Y_PRED: [usize; 12] = [0, 2, 2, 2, 1, 0, 1, 1, 1, 0, 0, 0];

#[test]
fn classification_matches_sklearn() {
    close(accuracy(&Y_TRUE, &Y_PRED).unwrap(), 0.5833333333333334);
    close(balanced_accuracy(&Y_TRUE, &Y_PRED).unwrap(), 0.5833333333333334);
    close(macro_f1(&Y_TRUE, &Y_PRED).unwrap(), 0.5793650793650793);
    close(uar(&Y_TRUE, &Y_PRED).unwrap(), 0.5833333333333334);
    assert_eq!(confusion_matrix(&Y_TRUE, &Y_PRED, 3).unwrap(), vec![vec![3, 1, 0], vec![1, 2, 1], vec![1, 1, 2]]);
}

#[test]
fn label_only_predicted_counts_in_macro_f1_and_uar_not_balanced_accuracy() {
    let (t, p) = ([0, 0, 1, 1], [0, 2, 1, 1]);
    close(macro_f1(&t, &p).unwrap(), 0.5555555555555555);
    close(uar(&t, &p).unwrap(), 0.5);
    close(balanced_accuracy(&t, &p).unwrap(), 0.75);
}

const LABELS: [u8; 12] = [1, 0, 1, 1, 0, 0, 1, 0, 1, 0, 0, 1];
const SCORES: [f64; 12] = [0.9, 0.8, 0.8, 0.7, 0.6, 0.6, 0.6, 0.3, 0.2, 0.2, 0.1, 0.05];

fn positives() -> Vec<bool> {
    LABELS.iter().map(|&l| l == 1).collect()
}

#[test]
fn roc_curve_with_ties_matches_sklearn() {
    let roc = roc_curve(&positives(), &SCORES).unwrap();
    let fpr =
        [0.0, 0.0, 0.16666666666666666, 0.16666666666666666, 0.5, 0.6666666666666666, 0.8333333333333334, 1.0, 1.0];
    let tpr = [
        0.0,
        0.16666666666666666,
        0.3333333333333333,
        0.5,
        0.6666666666666666,
        0.6666666666666666,
        0.8333333333333334,
        0.8333333333333334,
        1.0,
    ];
    let thr = [0.9, 0.8, 0.7, 0.6, 0.3, 0.2, 0.1, 0.05];
    assert_eq!(roc.fpr.len(), fpr.len());
    for i in 0..fpr.len() {
        close(roc.fpr[i], fpr[i]);
        close(roc.tpr[i], tpr[i]);
    }
    assert_eq!(roc.thresholds, thr);
    close(roc_auc(&positives(), &SCORES).unwrap(), 0.6111111111111112);
}

/// The TPR at the largest FPR not above the target (no interpolation): the
/// old linear interpolation gave 0.3667 at 0.1 and 0.5417 at 0.25.
#[test]
fn tpr_at_fixed_fpr_takes_the_largest_fpr_not_above_it() {
    let roc = roc_curve(&positives(), &SCORES).unwrap();
    for (target, want) in [
        (0.0, 0.16666666666666666),
        (0.1, 0.16666666666666666),
        (0.16666666666666666, 0.5),
        (0.25, 0.5),
        (0.5, 0.6666666666666666),
        (0.9, 0.8333333333333334),
        (1.0, 1.0),
    ] {
        close(roc.tpr_at(target), want);
    }
    close(tpr_at_fpr(&positives(), &SCORES, 0.1).unwrap(), 0.16666666666666666);
    close(advantage(&positives(), &SCORES).unwrap(), 0.33333333333333337);
}

/// A hand-made ROC at the 0.1% FPR a membership audit reports: 1,000
/// negatives, 10 positives. By score: 4 positives, 1 negative, 3 positives,
/// a tie of one positive and one negative, 2 positives, then 998 negatives.
/// Points: (0, 0.4), (0.001, 0.4), (0.001, 0.7), (0.002, 0.8), (0.002, 1).
/// The old linear interpolation said 0.6997 at 0.0999% and 0.85 at 0.15%;
/// no threshold achieves either.
#[test]
fn tpr_at_fpr_on_a_hand_made_roc() {
    let mut scores = vec![10.0, 9.0, 8.0, 7.0, 6.5, 6.0, 5.0, 4.0, 3.0, 3.0, 2.0, 1.5];
    let mut positive = vec![true, true, true, true, false, true, true, true, true, false, true, true];
    scores.extend((0..998).map(|i| -(i as f64)));
    positive.extend(std::iter::repeat_n(false, 998));
    let roc = roc_curve(&positive, &scores).unwrap();
    close(roc.tpr_at(0.0), 0.4);
    close(roc.tpr_at(0.000999), 0.4);
    // an FPR exactly at the target counts (one false positive in 1,000)
    close(roc.tpr_at(0.001), 0.7);
    close(roc.tpr_at(0.0015), 0.7);
    close(roc.tpr_at(0.002), 1.0);
    close(roc.tpr_at(0.01), 1.0);
}

#[test]
fn perfect_and_inverted_scores() {
    let pos = [true, true, false, false];
    close(roc_auc(&pos, &[0.9, 0.8, 0.2, 0.1]).unwrap(), 1.0);
    close(roc_auc(&pos, &[0.1, 0.2, 0.8, 0.9]).unwrap(), 0.0);
    close(roc_auc(&pos, &[0.5; 4]).unwrap(), 0.5);
}

const X: [f64; 10] = [1.0, 2.0, 2.0, 3.5, 4.0, 4.0, 4.0, 7.0, 8.5, 10.0];
const Y: [f64; 10] = [2.1, 1.9, 3.0, 3.0, 5.5, 4.0, 6.1, 6.1, 9.0, 8.0];

#[test]
fn correlations_with_ties_match_scipy() {
    close(pearson(&X, &Y).unwrap(), 0.9145049349019218);
    close(spearman(&X, &Y).unwrap(), 0.93812095999547);
    close(kendall_tau_b(&X, &Y).unwrap(), 0.8335696394016967);
}

#[test]
fn levenshtein_hand_computed() {
    assert_eq!(levenshtein_str("kitten", "sitting"), 3);
    assert_eq!(levenshtein_str("", "abc"), 3);
    assert_eq!(levenshtein_str("flaw", "lawn"), 2);
    assert_eq!(levenshtein_str("same", "same"), 0);
    assert_eq!(levenshtein(&["o--o", "----"], &["----", "o--o", "----"]), 1);
}

#[test]
fn fairness_gaps_hand_computed() {
    // s=0: preds 1,1,0,0 -> 0.5; s=1: preds 1,0,0,0 -> 0.25
    let pred = [true, true, false, false, true, false, false, false];
    let sens = [false, false, false, false, true, true, true, true];
    let y = [true, false, true, false, true, true, false, false];
    close(demographic_parity_gap(&pred, &sens).unwrap(), 0.25);
    // y=1,s=0: items 0,2 -> preds 1,0 -> 0.5; y=1,s=1: items 4,5 -> 1,0 -> 0.5
    close(equal_opportunity_gap(&pred, &y, &sens).unwrap(), 0.0);
}

#[test]
fn bad_inputs_are_user_errors_not_panics() {
    for err in [
        accuracy(&[0, 1], &[0]).unwrap_err(),
        accuracy(&[], &[]).unwrap_err(),
        roc_auc(&[true, true], &[0.1, 0.2]).unwrap_err(),
        roc_auc(&[true, false], &[f64::NAN, 0.2]).unwrap_err(),
        pearson(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0]).unwrap_err(),
        demographic_parity_gap(&[true, false], &[false, false]).unwrap_err(),
        confusion_matrix(&[0, 3], &[0, 1], 2).unwrap_err(),
    ] {
        assert!(is_user_error(&err), "{err}");
    }
    let msg = roc_auc(&[true, true], &[0.1, 0.2]).unwrap_err().to_string();
    assert!(msg.contains("both positive and negative"), "{msg}");
}

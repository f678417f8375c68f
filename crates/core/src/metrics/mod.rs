//! Metrics, one module per family. Each follows the reference library's
//! definition (scikit-learn or scipy, named in the function's doc) and is
//! tested against golden values that library produced (tests/metrics_golden.rs).
//!
//! Inputs are plain slices so metrics work on anything, tensors included
//! (read them back with `into_data`). Length mismatches and empty inputs are
//! user errors, never panics.

pub mod classification;
pub mod correlation;
pub mod edit;
pub mod fairness;
pub mod roc;

pub use classification::{accuracy, balanced_accuracy, confusion_matrix, macro_f1, uar};
pub use correlation::{kendall_tau_b, pearson, spearman};
pub use edit::{levenshtein, levenshtein_str};
pub use fairness::{demographic_parity_gap, equal_opportunity_gap};
pub use roc::{Roc, advantage, roc_auc, roc_curve, tpr_at_fpr};

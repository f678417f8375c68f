//! LiRA offline, both ways, against scipy: the reference code's two-sided
//! score `-norm.logpdf(phi, mu_out, sd_out + 1e-30)` (`generate_ours_offline`
//! in LiRA's `mi_lira_2021/plot.py`, which its published offline numbers
//! use) and the paper's one-sided z-score.
//!
//! Golden values from scipy 1.17.1 / numpy:
//! ```python
//! import numpy as np, scipy.stats as st
//! o1 = np.array([-1.0, 0.5, 2.0, 0.25]); o2 = np.array([1.0, 1.5, 0.0, 4.0])
//! sdf = np.std(np.concatenate([o1, o2]))  # fixed variance: all OUT values
//! for o, phi in [(o1, 3.0), (o2, -4.0)]:
//!     mu, sd = np.median(o), np.std(o)
//!     print(-st.norm.logpdf(phi, mu, sd + 1e-30), (phi - mu) / (sd + 1e-30),
//!           -st.norm.logpdf(phi, mu, sdf + 1e-30), (phi - mu) / (sdf + 1e-30))
//! ```

use membership::attacks::{Variance, lira_offline, lira_offline_one_sided};
use membership::shadow::ModelOutputs;

/// Five models (the target 0 and four shadows, OUT for both examples) on
/// two examples of class 0 with two classes; logits `[phi, 0]` make LiRA's
/// phi exactly `phi` (all values are exact in f32).
fn outputs() -> ModelOutputs {
    let phis = [[3.0f32, -4.0], [-1.0, 1.0], [0.5, 1.5], [2.0, 0.0], [0.25, 4.0]];
    let logits = phis.iter().flat_map(|m| m.iter().flat_map(|&p| [p, 0.0])).collect();
    let mut members = vec![true, false];
    members.extend([false; 8]);
    ModelOutputs {
        n_models: 5,
        n_examples: 2,
        n_classes: 2,
        logits,
        members,
        labels: vec![0, 0],
        robustness: vec![],
        n_queries: 0,
        query_logits: vec![],
    }
}

fn close(got: &[f64], want: [f64; 2]) {
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() < 1e-12, "{got:?} vs {want:?}");
    }
}

#[test]
fn two_sided_offline_matches_scipy_norm_logpdf() {
    let o = outputs();
    close(&lira_offline(&o, 0, Variance::PerExample), [4.013939279602185, 7.652057699097377]);
    close(&lira_offline(&o, 0, Variance::Fixed), [2.9840065150379966, 8.134371478541645]);
}

#[test]
fn one_sided_offline_is_the_z_score() {
    let o = outputs();
    close(&lira_offline_one_sided(&o, 0, Variance::PerExample), [2.4620836033943068, -3.562393504655878]);
    close(&lira_offline_one_sided(&o, 0, Variance::Fixed), [1.8529912688234034, -3.7059825376468067]);
}

/// The two tests disagree on a phi far below the OUT Gaussian: the
/// reference code's score calls it the more likely member, the paper's
/// one-sided test the less likely one.
#[test]
fn the_two_offline_scores_rank_a_low_phi_oppositely() {
    let o = outputs();
    let two = lira_offline(&o, 0, Variance::PerExample);
    let one = lira_offline_one_sided(&o, 0, Variance::PerExample);
    assert!(two[1] > two[0], "{two:?}");
    assert!(one[1] < one[0], "{one:?}");
}

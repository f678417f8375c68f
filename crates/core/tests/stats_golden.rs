//! Statistics against golden values from scipy 1.17.1 / numpy
//! (tests/golden/make_golden.py has the inputs and the script).

#![allow(clippy::approx_constant)] // 3.14 below is a measurement, not an approximation of pi

use reprolab_core::stats::*;

fn close(a: f64, b: f64, tol: f64) {
    assert!((a - b).abs() < tol, "{a} != {b}");
}

const A: [f64; 8] = [0.81, 0.79, 0.84, 0.80, 0.83, 0.78, 0.85, 0.82];
const B: [f64; 8] = [0.78, 0.80, 0.80, 0.77, 0.81, 0.78, 0.80, 0.79];

#[test]
fn mean_and_sample_std_match_numpy() {
    close(mean(&A), 0.815, 1e-12);
    close(std(&A), 0.024494897427831747, 1e-12);
}

#[test]
fn paired_t_test_matches_scipy_ttest_rel() {
    let r = paired_t_test(&A, &B).unwrap();
    close(r.statistic, 3.3662796326244813, 1e-9);
    close(r.p_value, 0.01198105049902875, 1e-9);
}

#[test]
fn wilcoxon_exact_matches_scipy() {
    let c = [1.83, 0.50, 1.62, 2.48, 1.68, 1.88, 1.55, 3.06, 1.30];
    let d = [0.878, 0.647, 0.598, 2.05, 1.06, 1.29, 1.06, 3.14, 1.29];
    let r = wilcoxon_signed_rank(&c, &d).unwrap();
    close(r.statistic, 5.0, 1e-12);
    close(r.p_value, 0.0390625, 1e-12);
}

#[test]
fn wilcoxon_ties_and_zeros_small_n_is_a_permutation_test_like_scipy() {
    let e = [3.0, 5.0, 6.0, 2.0, 8.0, 7.0, 4.0, 9.0, 5.0, 6.0, 3.0, 7.0];
    let f = [2.0, 5.0, 4.0, 1.0, 5.0, 6.0, 4.0, 6.0, 3.0, 6.0, 1.0, 5.0];
    let r = wilcoxon_signed_rank(&e, &f).unwrap();
    close(r.statistic, 0.0, 1e-12);
    close(r.p_value, 0.00390625, 1e-12);
}

#[test]
fn wilcoxon_ties_large_n_uses_normal_approximation_like_scipy() {
    let g = [0.5, -1.2, 2.0, 0.5, 1.5, -0.5, 2.0, 3.1, 0.8, -0.3, 1.1, 0.5, 2.2, -1.0, 0.7, 1.9, 0.0, 1.2, 0.5, -0.8];
    let zeros = [0.0; 20];
    let r = wilcoxon_signed_rank(&g, &zeros).unwrap();
    close(r.statistic, 36.0, 1e-12);
    close(r.p_value, 0.01732037778564803, 1e-9);
}

#[test]
fn degenerate_tests_are_errors() {
    assert!(paired_t_test(&[1.0], &[2.0]).is_err());
    assert!(paired_t_test(&[1.0, 2.0], &[0.0, 1.0]).is_err()); // constant differences
    assert!(wilcoxon_signed_rank(&[1.0, 2.0], &[1.0, 2.0]).is_err());
}

#[test]
fn percentile_bootstrap_interval_matches_scipy_within_monte_carlo_error() {
    // scipy.stats.bootstrap((x,), np.mean, method="percentile", n_resamples=200000)
    // gives [0.8065, 0.8375] for random_state 0 and 1 alike; the resampling
    // streams differ, so agreement is up to Monte Carlo error.
    let x = [
        0.81, 0.79, 0.84, 0.80, 0.83, 0.78, 0.85, 0.82, 0.90, 0.76, 0.88, 0.81, 0.79, 0.83, 0.86, 0.80, 0.84, 0.77,
        0.82, 0.85,
    ];
    let ci = bootstrap_mean_ci(&x, 0.95, 200_000, 11).unwrap();
    close(ci.low, 0.8065, 1.5e-3);
    close(ci.high, 0.8375, 1.5e-3);
}

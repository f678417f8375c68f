//! The two claims' rules on hand-made results: a pass and the ways each
//! can fail, with the numbers chosen so every comparison is exact.

use offline_rl::experiment::{SWEEP_ALPHAS, mode_seeking_verdict, route_preferences, weighting_verdict};
use reprolab_core::report::{Outcome, Results};

/// Per-seed values of (arm, metric) cells.
fn table(cells: &[(&str, &str, &[f64])]) -> Results {
    let mut r = Results::default();
    for &(arm, metric, values) in cells {
        for &v in values {
            r.record(arm, metric, v);
        }
    }
    r
}

/// E2 over 3 seeds: td3-rkl's values against a best global arm at
/// 25 / 30 / 35 (mean 30, std 5) and a weaker one.
fn e2(rkl: &[f64]) -> Results {
    table(&[
        ("td3-bc", "normalised return", &[0.0, 10.0, 20.0]),
        ("td3-rkl-global alpha=1", "normalised return", &[25.0, 30.0, 35.0]),
        ("td3-rkl", "normalised return", rkl),
        ("td3-rkl-oracle", "success", &[1.0, 1.0, 1.0]),
    ])
}

#[test]
fn weighting_passes_only_with_a_lead_above_the_larger_std() {
    // 40 / 50 / 60: mean 50, std 10; lead 20 > max(10, 5).
    let c = weighting_verdict(&e2(&[40.0, 50.0, 60.0]), &SWEEP_ALPHAS).unwrap();
    assert_eq!(c.outcome, Outcome::Supported, "{}", c.text);
    assert!(c.text.contains("best global arm 'td3-rkl-global alpha=1' 30.0 +- 5.0"), "{}", c.text);
    // 30 / 40 / 50: lead 10, exactly the larger std: not more than it.
    let c = weighting_verdict(&e2(&[30.0, 40.0, 50.0]), &SWEEP_ALPHAS).unwrap();
    assert_eq!(c.outcome, Outcome::NotSupported, "{}", c.text);
    // A lead of 12 over the best mean but a std of 15 (the method's own spread counts).
    let c = weighting_verdict(&e2(&[27.0, 42.0, 57.0]), &SWEEP_ALPHAS).unwrap();
    assert_eq!(c.outcome, Outcome::NotSupported, "{}", c.text);
}

/// The bar is the best global arm of the whole sweep, whichever it is.
#[test]
fn weighting_compares_against_the_best_global_arm_of_the_sweep() {
    let mut r = e2(&[40.0, 50.0, 60.0]);
    for v in [44.0, 45.0, 46.0] {
        r.record("td3-bc alpha=10", "normalised return", v);
    }
    let c = weighting_verdict(&r, &SWEEP_ALPHAS).unwrap();
    assert_eq!(c.outcome, Outcome::NotSupported, "{}", c.text);
    assert!(c.text.contains("'td3-bc alpha=10' 45.0 +- 1.0"), "{}", c.text);
}

/// TD3+BC's E1 success over 5 seeds: mean 0.1, std 0.1.
const BC: [f64; 5] = [0.0, 0.2, 0.1, 0.0, 0.2];

/// E1 over `n` seeds: td3-rkl success and OOD, td3-bc success and OOD, the
/// oracle arm at 1.
fn e1(n: usize, rkl_success: f64, rkl_ood: f64) -> Results {
    e1_with_bc(n, rkl_success, rkl_ood, &BC)
}

fn e1_with_bc(n: usize, rkl_success: f64, rkl_ood: f64, bc: &[f64]) -> Results {
    table(&[
        ("td3-rkl", "success", &vec![rkl_success; n]),
        ("td3-rkl", "OOD rate", &vec![rkl_ood; n]),
        ("td3-bc", "success", &bc[..n]),
        ("td3-bc", "OOD rate", &vec![0.9; n]),
        ("td3-rkl-oracle", "success", &vec![1.0; n]),
    ])
}

/// E1-up with td3-rkl's per-seed upper-route share and success.
fn e1_up(upper: &[f64], success: &[f64]) -> Results {
    table(&[
        ("td3-rkl", "upper route share", upper),
        ("td3-rkl", "success", success),
        ("td3-rkl-oracle", "success", &vec![1.0; upper.len()]),
    ])
}

#[test]
fn mode_seeking_passes_when_every_part_of_the_rule_holds() {
    let up = e1_up(&[1.0; 5], &[1.0; 5]);
    let c = mode_seeking_verdict(&e1(5, 0.9, 0.05), Some(&up)).unwrap();
    assert_eq!(c.outcome, Outcome::Supported, "{}", c.text);
    // 5 of 5: p = 0.5^5 = 0.031.
    assert!(
        c.text.contains("5 of the 5 seed(s) with a route preference") && c.text.contains("p = 0.031"),
        "{}",
        c.text
    );
}

#[test]
fn mode_seeking_fails_on_each_part_of_the_rule() {
    let up = e1_up(&[1.0; 5], &[1.0; 5]);
    for (success, ood, why) in [(0.7, 0.05, "success below 0.8"), (0.9, 0.2, "OOD above 0.1")] {
        let c = mode_seeking_verdict(&e1(5, success, ood), Some(&up)).unwrap();
        assert_eq!(c.outcome, Outcome::NotSupported, "{why}: {}", c.text);
    }
    // TD3+BC at 0.85 +- 0.1: td3-rkl's 0.9 is not above it by its std.
    let c = mode_seeking_verdict(&e1_with_bc(5, 0.9, 0.05, &[0.75, 0.95, 0.85, 0.75, 0.95]), Some(&up)).unwrap();
    assert_eq!(c.outcome, Outcome::NotSupported, "{}", c.text);
    // 4 of 5 seeds prefer the upper route: p = 6/32 = 0.1875, not below 0.05.
    let c = mode_seeking_verdict(&e1(5, 0.9, 0.05), Some(&e1_up(&[1.0, 1.0, 0.0, 1.0, 1.0], &[1.0; 5]))).unwrap();
    assert_eq!(c.outcome, Outcome::NotSupported, "{}", c.text);
    assert!(c.text.contains("p = 0.188"), "{}", c.text);
}

/// The old rule passed on the mean upper-route share >= 0.5: three seeds
/// of five going up (share 0.6) "preferred" it. A sign test of 3 of 5 has
/// p = 0.5: no preference shown.
#[test]
fn three_seeds_of_five_are_no_preference() {
    let up = e1_up(&[1.0, 1.0, 1.0, 0.0, 0.0], &[1.0; 5]);
    let c = mode_seeking_verdict(&e1(5, 0.9, 0.05), Some(&up)).unwrap();
    assert_eq!(c.outcome, Outcome::NotSupported, "{}", c.text);
    assert!(c.text.contains("3 of the 5") && c.text.contains("p = 0.500"), "{}", c.text);
}

/// A seed without a success, or split exactly in half, shows no route
/// preference: it is left out, not counted as a lower-route seed; with
/// fewer than 5 seeds left the sign test cannot reach 0.05 and the claim
/// is inconclusive, saying why.
#[test]
fn seeds_without_a_preference_are_left_out_and_too_few_are_inconclusive() {
    let p = route_preferences(&e1_up(&[1.0, 1.0, 0.0, 1.0, 0.5], &[1.0, 1.0, 1.0, 0.5, 1.0])).unwrap();
    assert_eq!((p.seeds, p.upper, p.either), (5, 3, 4));
    // P(X >= 3), X ~ Bin(4, 1/2) = 5/16.
    assert!((p.p_value.unwrap() - 0.3125).abs() < 1e-12);
    // The old metric records a seed without success as share 0.
    let p = route_preferences(&e1_up(&[1.0, 1.0, 0.0, 1.0, 1.0], &[1.0, 1.0, 0.0, 1.0, 1.0])).unwrap();
    assert_eq!((p.upper, p.either), (4, 4));
    let c =
        mode_seeking_verdict(&e1(5, 0.9, 0.05), Some(&e1_up(&[1.0, 1.0, 0.0, 1.0, 1.0], &[1.0, 1.0, 0.0, 1.0, 1.0])))
            .unwrap();
    assert_eq!(c.outcome, Outcome::Inconclusive, "{}", c.text);
    assert!(c.text.contains("E1-up: 4 seed(s) with a route preference, the sign test needs >= 5"), "{}", c.text);
    let none = route_preferences(&e1_up(&[0.0, 0.0, 0.0], &[0.0, 0.0, 0.0])).unwrap();
    assert_eq!((none.either, none.p_value), (0, None));
}

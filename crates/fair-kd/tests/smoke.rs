//! The fair-kd experiment end to end at the smoke preset (synthetic graph):
//! every arm is measured, metrics are in range, the verdict follows the rule.

use fair_kd::METHOD;
use reprolab_core::registry::{Preset, RunOptions, run_method};
use reprolab_core::report::Outcome;

#[test]
fn smoke_experiment_measures_every_arm() {
    let dir = tempfile::tempdir().unwrap();
    let opts = RunOptions { preset: Some(Preset::Smoke), out_dir: dir.path().into(), ..Default::default() };
    let report = run_method(&METHOD, &opts).unwrap();
    let arms = &report.results.arms;
    // 2 teachers x (teacher + 3 students x (vanilla + 2 objectives x (1 alpha + proxy)))
    assert_eq!(arms.len(), 2 * (1 + 3 * 5), "{arms:?}");
    assert!(arms.contains(&"GCN -> PLP: RELIANT-EO alpha 100 + proxy".to_string()), "{arms:?}");
    for arm in arms {
        for metric in ["accuracy", "AUC", "F1", "delta SP", "delta EO"] {
            let v = report.results.require(arm, &format!("synthetic {metric}")).unwrap().mean;
            assert!((0.0..=1.0).contains(&v), "{arm} {metric} = {v}");
        }
    }
    // One seed: the rule's seed precondition fails, so the verdict is
    // inconclusive and says why, with the measured rules.
    assert_eq!(report.verdict.outcome, Outcome::Inconclusive, "{}", report.verdict.evidence);
    assert!(report.verdict.evidence.contains("fewer than 3 seeds (synthetic has 1)"), "{}", report.verdict.evidence);
    assert!(report.verdict.evidence.contains("(1) bias inherited"), "{}", report.verdict.evidence);
    assert_eq!(report.figures.len(), 2);
}

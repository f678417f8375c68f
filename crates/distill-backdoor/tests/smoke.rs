//! The distill-backdoor experiment end to end at the smoke preset: every
//! arm is distilled and evaluated, metrics are shares, the verdict is
//! inconclusive (one seed), the figures are there.

use distill_backdoor::METHOD;
use reprolab_core::registry::{Preset, RunOptions, run_method};
use reprolab_core::report::Outcome;

#[test]
fn smoke_experiment_measures_every_arm() {
    let dir = tempfile::tempdir().unwrap();
    let opts = RunOptions { preset: Some(Preset::Smoke), out_dir: dir.path().into(), ..Default::default() };
    let report = run_method(&METHOD, &opts).unwrap();
    let arms = &report.results.arms;
    assert_eq!(
        arms,
        &["DC clean", "DC NAIVEATTACK 5%", "DC DOORPING 5%", "DM clean", "DM NAIVEATTACK 5%", "DM DOORPING 5%"]
    );
    for arm in arms {
        for metric in ["CTA", "ASR", "ASR incl. target"] {
            let v = report.results.require(arm, metric).unwrap().mean;
            assert!((0.0..=1.0).contains(&v), "{arm} {metric} = {v}");
        }
    }
    // One seed: the rule's seed precondition fails, so the verdict is
    // inconclusive, with the measured numbers and the command for full.
    assert_eq!(report.verdict.outcome, Outcome::Inconclusive, "{}", report.verdict.evidence);
    let evidence = &report.verdict.evidence;
    assert!(evidence.starts_with("5%: DOORPING ASR"), "{evidence}");
    assert!(evidence.contains("DC clean has 1 seeds (< 3)") && evidence.contains("--preset full"), "{evidence}");
    let names: Vec<&str> = report.figures.iter().map(|f| f.name.as_str()).collect();
    assert!(
        names.contains(&"trigger")
            && names.contains(&"asr-cta-dc")
            && names.contains(&"asr-cta-dm")
            && names.contains(&"synthetic-dc-doorping-5pct"),
        "{names:?}"
    );
}

//! The distill-backdoor experiment end to end at the smoke preset: every
//! arm is distilled and evaluated, and the directions that hold even at
//! this scale are checked: DM's synthetic set teaches the classes,
//! DOORPING updates the trigger once per iteration on both methods, the
//! verdict is inconclusive on one seed, and (with the pre-activation read)
//! DOORPING plants a backdoor that neither clean distillation nor
//! NAIVEATTACK at 5% plants.

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
    let asr = |arm: &str| report.results.require(arm, "ASR").unwrap().mean;
    let cta = |arm: &str| report.results.require(arm, "CTA").unwrap().mean;
    // DM's 5 iterations already teach the classes (chance is 0.1); DC's 2
    // do not yet, which is why the DOORPING direction is checked below on
    // the arm that shows it at this scale.
    assert!(cta("DM clean") > 0.25, "DM clean CTA {}", cta("DM clean"));
    for arm in arms {
        assert!(cta(arm).is_finite() && asr(arm).is_finite(), "{arm}");
    }
    // Trigger updates per iteration: DC outer_loop - 1 = 1, DM 1 (it was 2).
    let table = &report.tables.iter().find(|t| t.title == "DOORPING trigger updates").expect("trigger table").results;
    for (arm, per_iteration) in [("DC DOORPING 5%", 1.0), ("DM DOORPING 5%", 1.0)] {
        assert_eq!(table.require(arm, "updates per iteration").unwrap().mean, per_iteration, "{arm}");
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

/// DOORPING plants a backdoor at smoke scale: with the pre-activation read
/// (the ablation; under the official post-ReLU read DC's 2 smoke iterations
/// start every update on an inactive neuron, so they stop at once) DC
/// DOORPING's ASR is far above both clean DC's base rate and NAIVEATTACK's
/// at the same 5% and the same seeds.
#[test]
fn smoke_doorping_plants_a_backdoor_that_naiveattack_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("pre.toml");
    std::fs::write(&config, "methods = [\"dc\"]\n[attack]\nneuron = \"pre_activation\"\n").unwrap();
    let opts = RunOptions {
        preset: Some(Preset::Smoke),
        out_dir: dir.path().join("run"),
        config_file: Some(config),
        ..Default::default()
    };
    let report = run_method(&METHOD, &opts).unwrap();
    let asr = |arm: &str| report.results.require(arm, "ASR").unwrap().mean;
    let (door, naive, clean) = (asr("DC DOORPING 5%"), asr("DC NAIVEATTACK 5%"), asr("DC clean"));
    assert!(
        door >= 0.5 && door > naive + 0.3 && door > clean + 0.3,
        "DOORPING {door}, NAIVEATTACK {naive}, clean {clean}"
    );
    let table = &report.tables.iter().find(|t| t.title == "DOORPING trigger updates").expect("trigger table").results;
    // pre-activation updates never start at a zero target
    assert_eq!(table.require("DC DOORPING 5%", "share that stop at once").unwrap().mean, 0.0);
}

//! The smoke preset end to end: every experiment and arm runs, the report
//! has its tables, figures and a verdict, and every metric is finite.

use reprolab_core::registry::{Preset, RunOptions, run_method};
use reprolab_core::report::Outcome;

#[test]
fn smoke_preset_runs_every_experiment() {
    let dir = tempfile::tempdir().unwrap();
    let opts = RunOptions { preset: Some(Preset::Smoke), out_dir: dir.path().into(), ..Default::default() };
    let r = run_method(&offline_rl::METHOD, &opts).unwrap();
    assert!(r.results.all_finite(), "{:?}", r.results);
    for arm in ["bc", "td3-bc", "td3-rkl-global", "td3-mse-adaptive", "td3-rkl", "td3-rkl-oracle", "iql"] {
        for m in
            ["success", "collision", "OOD rate", "normalised return", "best normalised return", "upper route share"]
        {
            assert_eq!(r.results.require(arm, m).unwrap().values.len(), 1, "{arm} {m}");
        }
    }
    let titles: Vec<&str> = r.tables.iter().map(|t| t.title.as_str()).collect();
    for want in ["E1-up", "E2", "E3", "Behaviour model", "Pendulum"] {
        assert!(titles.iter().any(|t| t.starts_with(want)), "{want} in {titles:?}");
    }
    for t in &r.tables {
        assert!(t.results.all_finite(), "{}", t.title);
    }
    let e2 = &r.tables.iter().find(|t| t.title.starts_with("E2")).unwrap().results;
    assert!(e2.arms.iter().any(|a| a == "td3-rkl-global alpha=1"), "{:?}", e2.arms);
    let figures: Vec<&str> = r.figures.iter().map(|f| f.name.as_str()).collect();
    for want in ["e1_trajectories", "e2_weight", "e2_alpha_sweep", "e2_curves", "pendulum_curves"] {
        assert!(figures.contains(&want), "{want} in {figures:?}");
    }
    assert!(
        r.verdict.evidence.contains("claim (a)") && r.verdict.evidence.contains("claim (b)"),
        "{}",
        r.verdict.evidence
    );
    // One seed cannot give the rules' std comparisons: both claims are
    // inconclusive (the precondition), never "not supported".
    assert_eq!(r.verdict.outcome, Outcome::Inconclusive, "{}", r.verdict.evidence);
    assert!(r.verdict.evidence.contains("1 seed(s)"), "{}", r.verdict.evidence);
    assert!(r.verdict.evidence.contains("--preset full"), "{}", r.verdict.evidence);
    assert!(r.notes.iter().any(|n| n.contains("per-state weight w(s)")), "{:?}", r.notes);
    // w(s)'s quantiles per experiment, Pendulum included; mean 1 over each
    // batch, so the median is at most its batch's maximum and min <= 1 <= max.
    let w = &r.tables.iter().find(|t| t.title == offline_rl::experiment::WEIGHT_TABLE).unwrap().results;
    for row in ["e1", "e2", "pendulum random+expert"] {
        let q = |m: &str| w.require(row, m).unwrap().mean;
        assert!(q("min") <= 1.0 && 1.0 <= q("max") && q("median") <= q("99%"), "{row}: {w:?}");
    }
    // One row per experiment in the behaviour-model table (each seed has
    // its own dataset and size) and each seed's Pendulum references.
    let models = &r.tables.iter().find(|t| t.title.starts_with("Behaviour model")).unwrap().results;
    assert!(models.require("e1", "transitions").unwrap().mean > 100.0, "{models:?}");
    let behaviours =
        &r.tables.iter().find(|t| t.title == offline_rl::experiment::PENDULUM_BEHAVIOURS_TABLE).unwrap().results;
    assert_eq!(behaviours.arms, ["random", "medium", "expert"]);
    // 200-step episodes of Pendulum's reward, in [-16.3, 0] per step.
    assert!(behaviours.cells["random"]["return"].values.iter().all(|v| (-3300.0..0.0).contains(v)), "{behaviours:?}");
}

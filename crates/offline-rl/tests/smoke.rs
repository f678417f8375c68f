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
    for arm in ["bc", "td3-bc", "td3-rkl-global", "td3-mse-adaptive", "td3-rkl", "td3-rkl-oracle"] {
        for m in ["success", "collision", "OOD rate", "normalised return", "upper route share"] {
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
}

//! The IQL baseline in the experiment: which presets' experiments carry
//! the `iql` arm, that a config naming an unknown baseline fails naming
//! the field, and (E1 at the smoke preset's scale) that the arm trains in
//! the experiment and every arm's "best" score is its best curve point.

use offline_rl::experiment::{Config, METHOD, layout, pendulum_arms, point_arms, run_point};
use offline_rl::td3::Algo;
use reprolab_core::registry::{Preset, RunContext, preset_config};

#[test]
fn every_preset_with_the_iql_baseline_runs_it_in_every_experiment() {
    for p in Preset::ALL {
        let cfg: Config = preset_config("offline-rl", p).unwrap();
        let want = cfg.baselines.iter().any(|b| b == "iql");
        for e in ["e1", "e1-up", "e2", "e3"] {
            let arms = point_arms(e, &cfg);
            let iql: Vec<_> = arms.iter().filter(|a| a.algo == Algo::Iql).collect();
            assert_eq!(iql.len(), usize::from(want), "{} {e}", p.name());
            if want {
                assert_eq!(iql[0].label, "iql");
            }
        }
        assert_eq!(pendulum_arms(&cfg).contains(&Algo::Iql), want, "{}", p.name());
    }
    // The registered presets carry it (quick measured within its budget).
    for p in [Preset::Smoke, Preset::Quick, Preset::Full] {
        let cfg: Config = preset_config("offline-rl", p).unwrap();
        assert_eq!(cfg.baselines, ["iql"], "{}", p.name());
        assert_eq!((cfg.td3.iql.expectile, cfg.td3.iql.beta, cfg.td3.iql.max_weight), (0.7, 3.0, 100.0));
    }
}

#[test]
fn an_unknown_or_repeated_baseline_is_a_user_error_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    for (text, want) in [
        ("baselines = [\"cql\"]\n", "baselines: unknown baseline 'cql'"),
        ("baselines = [\"iql\", \"iql\"]\n", "baselines lists 'iql' twice"),
        ("[td3.iql]\nexpectile = 1.5\n", "td3.iql.expectile must be in (0, 1)"),
    ] {
        std::fs::write(&file, text).unwrap();
        let ctx = RunContext::with_config_file(&METHOD, Preset::Smoke, &file).unwrap();
        let e = ctx.config::<Config>().unwrap_err();
        assert!(reprolab_core::is_user_error(&e), "{text}: {e}");
        assert!(e.to_string().contains(want), "{text}: {e}");
    }
}

/// E1, one seed, at the smoke preset's scale: the iql arm trains and is
/// scored like every other arm, and each arm's "best normalised return" is
/// the maximum of its learning curve (CORL's "best"), which the final
/// curve point cannot exceed.
#[test]
fn the_iql_arm_runs_in_e1_and_best_is_the_best_curve_point() {
    let cfg: Config = preset_config("offline-rl", Preset::Smoke).unwrap();
    let bar = indicatif::ProgressBar::hidden();
    let o = run_point("e1", layout("e1").unwrap(), &cfg, 0, &bar).unwrap();
    let iql = o.runs.iter().find(|r| r.arm == "iql").expect("an iql arm");
    assert_eq!(iql.trained.agent.algo, Algo::Iql);
    assert_eq!(iql.trained.agent.updates, cfg.steps);
    for run in &o.runs {
        let best = run.metrics.iter().find(|m| m.0 == "best normalised return").map(|m| m.1);
        let curve_max = run.curve.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
        assert_eq!(best, Some(curve_max), "{}", run.arm);
        assert!(curve_max >= run.curve.last().unwrap().1 && curve_max.is_finite(), "{}", run.arm);
        assert_eq!(run.curve.len(), cfg.steps / cfg.eval_every, "{}", run.arm);
    }
    let cell = o.results.require("iql", "normalised return").unwrap();
    assert!(cell.mean.is_finite());
}

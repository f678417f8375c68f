//! The membership experiment end to end at the smoke preset: every attack
//! is scored on both datasets, metrics are finite and in range, the model
//! outputs are saved and reload, and the verdict uses the written rule.

use membership::METHOD;
use membership::shadow::ModelOutputs;
use reprolab_core::registry::{Preset, RunOptions, run_method};
use reprolab_core::report::Outcome;

#[test]
fn smoke_experiment_reports_every_attack_with_finite_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let opts = RunOptions { preset: Some(Preset::Smoke), out_dir: dir.path().into(), ..Default::default() };
    let report = run_method(&METHOD, &opts).unwrap();
    let attacks = [
        "loss",
        "confidence",
        "entropy",
        "modified entropy",
        "correctness",
        "loss, per-class threshold",
        "LiRA offline",
        "LiRA offline, fixed variance",
        "LiRA online",
        "LiRA online, fixed variance",
        "LiRA online, fixed variance, 2 noisy queries",
        "label-only boundary (noise robustness)",
        "RMIA",
        "shadow classifier (top-3, global)",
        "shadow classifier (per class)",
    ];
    for attack in attacks {
        for ds in ["digits", "breast-cancer"] {
            for metric in ["AUC", "TPR@0.1%FPR", "TPR@1%FPR"] {
                let v = report.results.require(attack, &format!("{ds} {metric}")).unwrap().mean;
                assert!((0.0..=1.0).contains(&v), "{attack} {ds} {metric} = {v}");
            }
            let balanced = report.results.require(attack, &format!("{ds} balanced accuracy")).unwrap().mean;
            assert!((0.5..=1.0).contains(&balanced), "{attack} {ds} balanced accuracy = {balanced}");
        }
    }
    let acc = report.results.require("models (utility)", "digits test accuracy").unwrap().mean;
    assert!(acc > 0.5, "smoke models should still learn digits: {acc}");
    assert!(report.verdict.rule.contains("10x"));
    // 6 models per pool are fewer than the rule's 32: the rule's shadow-count
    // precondition fails, so the verdict is inconclusive whatever was measured.
    assert_eq!(report.verdict.outcome, Outcome::Inconclusive, "{}", report.verdict.evidence);
    assert!(
        report.verdict.evidence.contains("digits: 6 models, fewer than the rule's 32"),
        "{}",
        report.verdict.evidence
    );
    assert!(report.verdict.evidence.ends_with("--preset full --jobs 2` (or --executor slurm)."));
    assert!(report.verdict.evidence.contains("digits: LiRA TPR@0.1%"), "{}", report.verdict.evidence);
    assert_eq!(report.figures.len(), 4);
    let defences = &report.tables[0].results;
    assert_eq!(defences.arms.len(), 10, "{:?}", defences.arms);
    assert_eq!(
        defences.arms[..5],
        ["no defence", "L2 0.01", "dropout 0.5", "label smoothing 0.1", "early stopping (patience 2)"]
    );
    assert!(defences.arms[5].starts_with("DP-SGD (sigma 1, C 1, epsilon "), "{}", defences.arms[5]);
    assert_eq!(defences.arms[6..9], ["top-1 probability only", "label only", "no defence (distillation pool)"]);
    assert!(defences.arms[9].starts_with("knowledge distillation ("), "{}", defences.arms[9]);
    for arm in &defences.arms {
        for metric in ["test accuracy", "LiRA AUC", "LiRA TPR@0.1%FPR", "loss AUC"] {
            let v = defences.require(arm, metric).unwrap().mean;
            assert!((0.0..=1.0).contains(&v), "{arm} {metric} = {v}");
        }
    }
    // masking the outputs keeps the arg-max: no accuracy cost
    assert_eq!(defences.require("label only", "accuracy cost").unwrap().mean, 0.0);
    assert_eq!(defences.require("top-1 probability only", "accuracy cost").unwrap().mean, 0.0);
    assert!(report.verdict.evidence.contains("defences") || report.verdict.evidence.contains("not lowered"));
    let cnn = &report.tables[2].results;
    assert_eq!(cnn.arms, ["CNN [16, 32] on digits"]);
    assert!(
        cnn.require("CNN [16, 32] on digits", "test accuracy").unwrap().mean > 0.3,
        "the smoke CNN should learn something"
    );
    let generative = &report.tables[1].results;
    assert_eq!(generative.arms, ["reconstruction error", "reconstruction error, calibrated on shadows"]);
    for arm in &generative.arms {
        for metric in ["AUC", "TPR@0.1%FPR", "TPR@1%FPR"] {
            assert!((0.0..=1.0).contains(&generative.require(arm, metric).unwrap().mean), "{arm} {metric}");
        }
    }

    let saved = ModelOutputs::load_npz(&dir.path().join("membership/digits-seed0-outputs.npz")).unwrap();
    assert_eq!(saved.robustness.len(), 6 * 1797, "boundary queries are stored with the logits");
    assert!(saved.robustness.iter().all(|r| (0.0..=1.0).contains(r)));
    assert_eq!((saved.n_models, saved.n_examples, saved.n_classes), (6, 1797, 10));
    assert_eq!((saved.n_queries, saved.query_logits.len()), (2, 6 * 2 * 1797 * 10), "query logits are stored");
    // each model trained on exactly half of the pool
    for m in 0..saved.n_models {
        assert_eq!(saved.members_of(m).iter().filter(|&&x| x).count(), 1797 / 2);
    }
}

#[test]
fn any_csv_with_a_label_column_can_be_the_pool() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("pool.csv");
    let mut text = String::from("a,b,c,outcome\n");
    for i in 0..120 {
        let y = i % 2;
        let (a, b, c) = ((i * 7 % 11) as f32 / 11.0 + y as f32, (i * 3 % 5) as f32, (i % 13) as f32 / 13.0);
        text += &format!("{a},{b},{c},{}\n", if y == 1 { "yes" } else { "no" });
    }
    std::fs::write(&csv, text).unwrap();
    let cfg = dir.path().join("cfg.toml");
    std::fs::write(&cfg, format!("datasets = [\"csv:{}:outcome\"]\n", csv.display())).unwrap();
    let opts = RunOptions {
        preset: Some(Preset::Smoke),
        config_file: Some(cfg.clone()),
        out_dir: dir.path().into(),
        ..Default::default()
    };
    let report = run_method(&METHOD, &opts).unwrap();
    // reported under the file's stem, and the model outputs saved under it too
    let auc = report.results.require("LiRA online", "pool AUC").unwrap().mean;
    assert!(dir.path().join("membership/pool-seed0-outputs.npz").exists());
    assert!((0.0..=1.0).contains(&auc), "{auc}");

    std::fs::write(&cfg, "datasets = [\"csv:nolabel\"]\n").unwrap();
    let err = run_method(&METHOD, &opts).unwrap_err();
    assert!(err.to_string().contains("write csv:PATH:LABEL_COLUMN"), "{err}");
}

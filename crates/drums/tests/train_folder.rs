//! `reprolab drums train`'s output folder: config.toml, report.json and
//! metrics.jsonl beside the model; a used folder is refused unless
//! `--overwrite`; and logging does not change what is trained.

use drums::cli::Command;
use drums::config::PretrainConfig;
use drums::lm::{LmConfig, LmTrainConfig};
use drums::model::{Recipe, train_transformer};
use drums::tokens;
use reprolab_core::cli::MethodCli;
use reprolab_core::run_folder::TrainRecord;
use reprolab_core::train::metrics_log::MetricRecord;
use reprolab_core::train::{MetricsLog, OptimizerConfig};
use std::path::Path;
use std::sync::Mutex;

/// burn's random generator is one per process: tests that seed it and
/// compare runs take turns.
static RNG: Mutex<()> = Mutex::new(());

fn train(args: &[&str]) -> anyhow::Result<()> {
    let cmd: Command = reprolab_core::cli::parse(&[&["train", "--preset", "smoke"][..], args].concat()).unwrap();
    cmd.run().map(|_| ())
}

/// `(step, value)` of every record named `name`.
fn series(records: &[MetricRecord], name: &str) -> Vec<(usize, f64)> {
    records.iter().filter(|r| r.name == name).map(|r| (r.step, r.value.expect("a finite value"))).collect()
}

/// Every file under `dir` (the checkpoint folder's too), by its path under `dir`.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut all = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let path = e.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            all.extend(files(&path).into_iter().map(|(n, b)| (format!("{name}/{n}"), b)));
        } else {
            all.push((name, std::fs::read(&path).unwrap()));
        }
    }
    all.sort();
    all
}

#[test]
fn train_writes_its_settings_metrics_and_record_and_refuses_a_used_folder() {
    let _turn = RNG.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    let grooves = tmp.path().join("grooves");
    std::fs::create_dir(&grooves).unwrap();
    // 40 ten-measure grooves: 5 batches of 8 in each of the smoke preset's 20
    // epochs (a folder has no dev split: no early stopping)
    for k in 0..40 {
        let hit = if k % 2 == 0 { "o--o--" } else { "--o-o-" };
        let measure = format!("{hit}\n") + &"----o-\n".repeat(15 - k % 4) + &"o-----\n".repeat(k % 4);
        std::fs::write(grooves.join(format!("g{k}.txt")), measure.repeat(10)).unwrap();
    }
    let out = tmp.path().join("model");
    let (g, o) = (grooves.to_str().unwrap(), out.to_str().unwrap());
    train(&["--grooves", g, "--out", o, "--seed", "3"]).unwrap();

    let config: toml::Table = std::fs::read_to_string(out.join("config.toml")).unwrap().parse().unwrap();
    assert_eq!(config["preset"].as_str(), Some("smoke"));
    assert_eq!((config["seed"].as_integer(), config["pretrained"].as_bool()), (Some(3), Some(false)));
    assert_eq!(config["grooves"].as_str(), Some(g));
    assert_eq!(config["model"]["d_model"].as_integer(), Some(32), "the preset's resolved model");
    assert_eq!(config["train"]["batch_size"].as_integer(), Some(8));
    assert_eq!(config["train"]["optimizer"]["lr"].as_float(), Some(0.005));
    assert!(!config.contains_key("pretrain"), "no pre-training settings without --pretrained");

    let record = TrainRecord::read(&out).unwrap();
    assert_eq!(
        (record.method.as_str(), record.command.as_str(), record.seeds.as_slice()),
        ("drums", "train", &[3][..])
    );
    assert!(record.provenance.finished.is_some(), "the run finished");
    assert_eq!(record.result["grooves"], 40);
    assert_eq!(record.result["skipped"], 0);
    let final_loss = record.result["final_loss"].as_f64().unwrap();
    assert!(final_loss.is_finite() && final_loss > 0.0, "{final_loss}");
    assert_eq!(record.config["model"]["n_layers"], 1);

    let records = MetricsLog::read(&out.join("metrics.jsonl")).unwrap();
    let loss = series(&records, "finetune/loss");
    assert_eq!(
        loss.iter().map(|s| s.0).collect::<Vec<_>>(),
        (0..100).collect::<Vec<_>>(),
        "one loss per optimiser step"
    );
    // a fresh model's loss is near ln(VOCAB) = 5.8 and falls; the last epoch's mean is the final loss
    assert!(loss[0].1 > 4.0 && loss[0].1 < 10.0 && loss[99].1 < loss[0].1 / 2.0, "{loss:?}");
    let mean = loss[95..].iter().map(|s| s.1).sum::<f64>() / 5.0;
    assert!((mean - final_loss).abs() < 1e-5, "{mean} vs {final_loss}");
    assert_eq!(series(&records, "finetune/lr"), (0..20).map(|e| (5 * e, 0.005)).collect::<Vec<_>>());
    assert!(records.iter().all(|r| r.name.starts_with("finetune/")), "no pre-training without --pretrained");
    // the model is where it was, loadable
    assert!(out.join("state.json").exists());
    drums::model::load(&out, &reprolab_core::device::default_device()).unwrap();

    let before = files(&out);
    // The checkpoint after the last of the 20 epochs of 5 steps stays beside the model.
    assert!(
        before.iter().any(|(n, _)| n == "checkpoint/step-00000100/state.json"),
        "{:?}",
        before.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    let err = train(&["--grooves", g, "--out", o, "--seed", "4"]).unwrap_err();
    assert!(reprolab_core::is_user_error(&err), "{err:#}");
    assert_eq!(err.to_string(), format!("{o}: exists and is not empty; pass --overwrite to write into it"));
    assert_eq!(files(&out), before, "a refused run leaves the folder as it was");

    train(&["--grooves", g, "--out", o, "--seed", "4", "--overwrite"]).unwrap();
    let again = TrainRecord::read(&out).unwrap();
    assert_eq!(again.seeds, vec![4]);
    assert!(again.provenance.finished.is_some());
    let config: toml::Table = std::fs::read_to_string(out.join("config.toml")).unwrap().parse().unwrap();
    assert_eq!(config["seed"].as_integer(), Some(4));
    assert_eq!(series(&MetricsLog::read(&out.join("metrics.jsonl")).unwrap(), "finetune/loss").len(), 100);
}

/// Pre-training then fine-tuning with a log: both phases' losses and
/// learning rates on one step count, the held-out text loss before and
/// after pre-training, and the same model and numbers as without a log.
#[test]
fn the_log_records_both_phases_and_changes_nothing() {
    let _turn = RNG.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    let corpus = tmp.path().join("corpus.txt");
    let sentence = "Drummers keep time; the kick falls on one and the snare on two and four. ";
    // 1600 bytes to pre-train on, then 9216 held out
    std::fs::write(&corpus, sentence.repeat((1600 + 9216) / sentence.len() + 1)).unwrap();
    let model = LmConfig { d_model: 16, n_heads: 2, n_layers: 1, context: 40 };
    let train = LmTrainConfig { epochs: 2, batch_size: 4, optimizer: OptimizerConfig::adam(1e-3) };
    // 1600 bytes: 40 windows of 40 bytes, 3 batches of 16 per epoch
    let pretrain = PretrainConfig {
        corpus: corpus.display().to_string(),
        max_bytes: 1600,
        window: 40,
        train: LmTrainConfig { batch_size: 16, ..train.clone() },
    };
    let recipe = Recipe { model: &model, train: &train, pretrain: Some(&pretrain), patience: 3 };
    // Longer than the 34-token prompt, which the loss skips.
    let grooves: Vec<Vec<usize>> =
        (0..6).map(|k| (0..40).map(|i| tokens::LINE0 + (i * (k + 1)) % 5).collect()).collect();
    let dev = &grooves[..2];
    let ad = reprolab_core::device::default_device().autodiff();
    let path = tmp.path().join("metrics.jsonl");
    let mut log = MetricsLog::create(&path).unwrap();
    let logged = train_transformer(&recipe, &grooves, Some(dev), 5, &ad, "logged", Some(&mut log)).unwrap();
    let plain = train_transformer(&recipe, &grooves, Some(dev), 5, &ad, "plain", None).unwrap();
    assert_eq!(logged.losses, plain.losses, "logging must not change the training");
    assert_eq!(logged.dev_losses, plain.dev_losses);
    assert!(logged.losses.iter().chain(&logged.dev_losses).all(|l| l.is_finite()), "{:?}", logged.losses);
    assert_eq!(logged.pretrain_held_out, plain.pretrain_held_out);

    let records = MetricsLog::read(&path).unwrap();
    let series = |name: &str| series(&records, name);
    let steps = |name: &str| series(name).iter().map(|s| s.0).collect::<Vec<_>>();
    assert_eq!(steps("pretrain/loss"), (0..6).collect::<Vec<_>>());
    assert_eq!(steps("pretrain/lr"), vec![0, 3]);
    // 6 grooves in batches of 4: 2 steps per epoch, after pre-training's 6
    assert_eq!(steps("finetune/loss"), (6..10).collect::<Vec<_>>());
    assert_eq!(steps("finetune/lr"), vec![6, 8]);
    assert!(series("finetune/lr").iter().all(|&(_, lr)| lr == 1e-3));
    let (before, after) = logged.pretrain_held_out.unwrap();
    assert_eq!(series("pretrain/eval/held_out_loss"), vec![(0, before), (6, after)]);
    // an epoch's mean loss is the batch-size-weighted mean of its steps
    let finetune = series("finetune/loss");
    let epoch0 = (finetune[0].1 * 4.0 + finetune[1].1 * 2.0) / 6.0;
    assert!((epoch0 - logged.losses[0]).abs() < 1e-6, "{epoch0} vs {}", logged.losses[0]);
    // the dev loss after each fine-tuning epoch, at the step it was measured
    assert_eq!(series("finetune/eval/dev_loss"), vec![(8, logged.dev_losses[0]), (10, logged.dev_losses[1])]);
    assert_eq!(records.len(), 6 + 2 + 4 + 2 + 2 + 2);
}

//! `reprolab export --format pytorch`: the errors a user can make, the
//! method read from `report.json`, and, where the bench venv has torch
//! (`$REPROLAB_BENCH_VENV`, default `~/.cache/reprolab-bench-venv`), the
//! exported files loaded by bench/export/load.py with
//! `load_state_dict(strict=True)` giving the Rust models' outputs.

use assert_cmd::Command;
use burn::tensor::{Int, Tensor, TensorData};
use drums::lm::{LmConfig, LmTrainConfig};
use offline_rl::dataset::Normaliser;
use offline_rl::eval::Policy;
use offline_rl::nets::Actor;
use offline_rl::td3::Algo;
use offline_rl::tools::PolicyMeta;
use reprolab_core::train::checkpoint::TrainState;
use reprolab_core::train::{Checkpoint, OptimizerConfig};
use std::path::{Path, PathBuf};

fn reprolab() -> Command {
    let mut cmd = Command::cargo_bin("reprolab").unwrap();
    cmd.env_remove("REPROLAB_DEVICE").arg("--quiet");
    cmd
}

/// Runs `args`, expects exit 2 with one stderr line containing `needle`.
fn fails_with(args: &[&str], needle: &str) {
    let out = reprolab().args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "args {args:?}: stderr {stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "not one line: {stderr}");
    assert!(stderr.contains(needle), "{needle:?} not in {stderr:?}");
    assert!(!stderr.contains("panicked") && !stderr.contains("internal error"), "{stderr}");
}

/// A stochastic (tanh-Gaussian) or deterministic actor checkpointed as
/// `offline-rl train` does, with a normaliser and action bounds that are
/// not the identity (so the exported buffers matter).
fn actor_checkpoint(dir: &Path, stochastic: bool) {
    let dev = reprolab_core::device::default_device();
    dev.seed(11);
    let actor = Actor::new(3, 2, &[16, 16], stochastic, &dev);
    let meta = PolicyMeta {
        env: None,
        algo: if stochastic { Algo::Td3Rkl } else { Algo::Td3Bc },
        obs_dim: 3,
        act_dim: 2,
        hidden: vec![16, 16],
        stochastic,
        norm: Normaliser { mean: vec![0.5, -1.0, 2.0], std: vec![1.5, 0.25, 3.0] },
        action_scale: vec![2.0, 0.5],
        datasets: vec![],
        curve: vec![],
        behaviour_validation_log_likelihood: None,
    };
    let state = TrainState { step: 3, extra: serde_json::to_value(&meta).unwrap(), ..Default::default() };
    Checkpoint::new(dir).save(&actor, None, &state).unwrap();
}

const LM: LmConfig = LmConfig { d_model: 16, n_heads: 2, n_layers: 2, context: 12 };

/// A small groove LM trained a few steps (so its LayerNorm scales and
/// shifts are no longer 1 and 0), saved as `drums train` saves it.
fn lm_checkpoint(dir: &Path) {
    let dev = reprolab_core::device::default_device();
    dev.seed(5);
    let ad = dev.clone().autodiff();
    let seqs: Vec<Vec<usize>> = (0..4).map(|k| (0..12).map(|i| 256 + (i * 5 + k * 3) % 66).collect()).collect();
    let cfg = LmTrainConfig { epochs: 4, batch_size: 2, optimizer: OptimizerConfig::adam(1e-2) };
    let (model, _) = drums::lm::train(LM.init(&ad), &seqs, &cfg, 0, &ad, "test", None).unwrap();
    drums::model::save(&model, &LM, dir).unwrap();
}

fn export(dir: &Path, out: &Path, method: &str) {
    let args = ["export", "--checkpoint", dir.to_str().unwrap(), "--format", "pytorch"];
    let o = reprolab().args(args).args(["--out", out.to_str().unwrap(), "--method", method]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("loads into bench/export/reprolab_torch.py:"));
}

#[test]
fn export_errors_are_one_line_user_errors() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = d.join("x.safetensors");
    let out_s = out.to_str().unwrap();
    let missing = d.join("none");
    let base = |ck: &Path| -> Vec<String> {
        ["export", "--checkpoint", ck.to_str().unwrap(), "--format", "pytorch", "--out", out_s]
            .map(String::from)
            .to_vec()
    };
    let with = |ck: &Path, extra: &[&str]| -> Vec<String> {
        base(ck).into_iter().chain(extra.iter().map(|s| s.to_string())).collect()
    };
    let run =
        |args: Vec<String>, needle: &str| fails_with(&args.iter().map(String::as_str).collect::<Vec<_>>(), needle);

    run(with(&missing, &["--method", "drums"]), &format!("{}: no such checkpoint directory", missing.display()));
    let lm = d.join("lm");
    lm_checkpoint(&lm);
    run(with(&lm, &[]), &format!("{}: missing; pass --method", lm.join("report.json").display()));
    run(
        with(&lm, &["--method", "fair-kd"]),
        "'fair-kd' saves no model checkpoint to export (methods that do: offline-rl, drums)",
    );
    run(with(&lm, &["--method", "nope"]), "unknown method 'nope'");
    run(with(&lm, &["--method", "offline-rl"]), "not an offline-rl policy");
    let actor = d.join("actor");
    actor_checkpoint(&actor, false);
    run(with(&actor, &["--method", "drums"]), "has no model config");
    let empty = d.join("empty");
    std::fs::create_dir(&empty).unwrap();
    run(with(&empty, &["--method", "offline-rl"]), "not a checkpoint written by `offline-rl train`");
    std::fs::write(empty.join("report.json"), "{\"command\": \"train\"}").unwrap();
    run(with(&empty, &[]), "has no \"method\" field");
    let own = lm.join("model.safetensors");
    let mut args = base(&lm);
    args[6] = own.to_str().unwrap().into();
    args.extend(["--method".into(), "drums".into()]);
    run(args, "is the checkpoint's own model");
    assert!(!out.exists(), "nothing written on an error");
    // --format takes only pytorch (clap's error, exit 2)
    let mut args = base(&lm);
    args[4] = "onnx".into();
    run(args, "invalid value 'onnx' for '--format <FORMAT>'");
}

#[test]
fn the_method_comes_from_the_checkpoints_report_json() {
    let dir = tempfile::tempdir().unwrap();
    let ck = dir.path().join("run");
    lm_checkpoint(&ck);
    std::fs::write(ck.join("report.json"), r#"{"method": "drums", "command": "train", "seeds": [0]}"#).unwrap();
    let out = dir.path().join("sub/lm.safetensors");
    let o = reprolab()
        .args(["export", "--checkpoint", ck.to_str().unwrap(), "--format", "pytorch", "--out", out.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let line = String::from_utf8(o.stdout).unwrap();
    assert_eq!(line.lines().count(), 1, "{line}");
    assert!(line.starts_with(&out.display().to_string()) && line.contains("38 tensors"), "{line}");
    let back = reprolab_core::export::TorchExport::read(&out).unwrap();
    assert_eq!(back.metadata["reprolab.method"], "drums");
    assert_eq!(back.metadata["reprolab.checkpoint"], ck.canonicalize().unwrap().display().to_string());
    assert_eq!(back.metadata["pytorch.module"], "bench/export/reprolab_torch.py:Lm");
}

/// The bench venv's python when torch and safetensors import there.
fn torch_python() -> Option<PathBuf> {
    let venv = std::env::var_os("REPROLAB_BENCH_VENV").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/reprolab-bench-venv")
    });
    let python = venv.join("bin/python");
    let ok = std::process::Command::new(&python)
        .args(["-c", "import torch, safetensors"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("skipped: no torch venv at {} (its python imports no torch or safetensors)", venv.display());
    }
    ok.then_some(python)
}

/// Runs bench/export/load.py on `file` with `inputs`; its outputs, flattened.
fn torch_outputs(python: &Path, file: &Path, inputs: &serde_json::Value) -> (Vec<f32>, serde_json::Value) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bench/export/load.py");
    let input_file = file.with_extension("inputs.json");
    std::fs::write(&input_file, inputs.to_string()).unwrap();
    let o =
        std::process::Command::new(python).arg(&script).arg(file).arg("--inputs").arg(&input_file).output().unwrap();
    assert!(o.status.success(), "load.py failed: {}", String::from_utf8_lossy(&o.stderr));
    let json: serde_json::Value = serde_json::from_slice(&o.stdout).expect("load.py prints one JSON object");
    fn flatten(v: &serde_json::Value, out: &mut Vec<f32>) {
        match v {
            serde_json::Value::Array(items) => items.iter().for_each(|x| flatten(x, out)),
            x => out.push(x.as_f64().expect("numbers") as f32),
        }
    }
    let mut values = Vec::new();
    flatten(&json["outputs"], &mut values);
    (values, json)
}

fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

#[test]
fn an_exported_actor_acts_in_pytorch_as_in_rust() {
    let Some(python) = torch_python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let obs: Vec<Vec<f32>> =
        (0..6).map(|i| (0..3).map(|j| ((i * 3 + j) as f32 * 0.7).sin() * 3.0 + j as f32 - 1.0).collect()).collect();
    for stochastic in [true, false] {
        let ck = dir.path().join(format!("actor-{stochastic}"));
        actor_checkpoint(&ck, stochastic);
        let out = dir.path().join(format!("actor-{stochastic}.safetensors"));
        export(&ck, &out, "offline-rl");
        let (torch, json) = torch_outputs(&python, &out, &serde_json::json!({ "obs": obs }));
        assert_eq!(json["module"], "bench/export/reprolab_torch.py:Actor");
        let (actor, meta) = offline_rl::tools::load_policy(&ck).unwrap();
        let dev = reprolab_core::device::default_device();
        let policy = Policy { actor: &actor, norm: &meta.norm, action_scale: &meta.action_scale, device: &dev };
        let rust: Vec<f32> = policy.act(&obs).into_iter().flatten().collect();
        // the normaliser and the action bounds matter: without them the actions differ
        let identity = Normaliser { mean: vec![0.0; 3], std: vec![1.0; 3] };
        let bare = Policy { actor: &actor, norm: &identity, action_scale: &[1.0, 1.0], device: &dev };
        let bare: Vec<f32> = bare.act(&obs).into_iter().flatten().collect();
        assert!(max_abs_diff(&rust, &bare) > 0.05, "{rust:?} vs {bare:?}");
        let diff = max_abs_diff(&rust, &torch);
        assert!(diff < 1e-5, "stochastic {stochastic}: PyTorch differs from Rust by {diff}\n{rust:?}\n{torch:?}");
    }
}

#[test]
fn an_exported_lm_gives_pytorch_the_rust_logits() {
    let Some(python) = torch_python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let ck = dir.path().join("lm");
    lm_checkpoint(&ck);
    let out = dir.path().join("lm.safetensors");
    export(&ck, &out, "drums");
    // text bytes, groove lines, SEP and END: every part of the vocabulary
    let tokens: Vec<Vec<i64>> =
        vec![vec![72, 105, 256, 300, 319, 320, 257, 321, 3, 260], vec![320, 280, 281, 282, 0, 255, 321, 256, 256, 301]];
    let (torch, json) = torch_outputs(&python, &out, &serde_json::json!({ "tokens": tokens }));
    assert_eq!(json["module"], "bench/export/reprolab_torch.py:Lm");
    let dev = reprolab_core::device::default_device();
    let (model, _) = drums::model::load(&ck, &dev).unwrap();
    let ids = Tensor::<2, Int>::from_data(TensorData::new(tokens.concat(), [2, 10]), &dev);
    let rust: Vec<f32> = model.forward(ids).into_data().try_to_vec().unwrap();
    assert_eq!(rust.len(), 2 * 10 * drums::tokens::VOCAB);
    let gamma: Vec<f32> = model.blocks[0].norm1.gamma.val().into_data().try_to_vec().unwrap();
    assert!(gamma.iter().any(|g| (g - 1.0).abs() > 1e-3), "training moved the LayerNorm scales");
    let diff = max_abs_diff(&rust, &torch);
    assert!(diff < 1e-5, "PyTorch logits differ from Rust by {diff}");
}

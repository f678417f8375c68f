//! Issue 23 for `reprolab drums train`: a run killed with SIGKILL at
//! seeded points leaves only complete files and, resumed with `--resume`,
//! finishes with exactly the uninterrupted run's weights (tensor by
//! tensor), report result and `metrics.jsonl`; a NaN injected at a step
//! stops training naming that step, keeps the last good checkpoint, and
//! that checkpoint loads and generates through `drums generate`; a bad
//! `--resume` is one line and exit 2.

use assert_cmd::Command;
use reprolab_testkit::kill::{assert_files_complete, run_killed_after, seeded_delays};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// 12 text grooves of 16 measures: a seeded one-measure pattern each,
/// repeated with a few flipped hits (an LCG, so no dependency).
fn grooves(dir: &Path) -> PathBuf {
    let g = dir.join("grooves");
    std::fs::create_dir_all(&g).unwrap();
    let mut state: u64 = 23;
    let mut next = move || {
        state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) as f64 / (1u64 << 31) as f64
    };
    for k in 0..12 {
        let base: Vec<Vec<bool>> = (0..16).map(|_| (0..6).map(|_| next() < 0.3).collect()).collect();
        let mut text = String::new();
        for _ in 0..16 {
            for line in &base {
                let mut line = line.clone();
                if next() < 0.1 {
                    let at = (next() * 6.0) as usize % 6;
                    line[at] = !line[at];
                }
                text.extend(line.iter().map(|&hit| if hit { 'o' } else { '-' }));
                text.push('\n');
            }
        }
        std::fs::write(g.join(format!("g{k}.txt")), text).unwrap();
    }
    g
}

/// The smoke preset's Transformer on the grooves: 20 epochs of 2 steps,
/// a checkpoint after each.
fn train(grooves: &Path, out: &Path) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_reprolab"));
    cmd.args(["--quiet", "drums", "train", "--preset", "smoke", "--seed", "3", "--grooves"])
        .arg(grooves)
        .arg("--out")
        .arg(out);
    cmd
}

fn resume(out: &Path) -> std::process::Output {
    Command::cargo_bin("reprolab").unwrap().args(["--quiet", "drums", "train", "--resume"]).arg(out).output().unwrap()
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every tensor of a safetensors file by name (the header's order is not
/// fixed from one save to the next; the values are).
fn tensors(path: &Path) -> BTreeMap<String, (Vec<usize>, Vec<u8>)> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    st.tensors().into_iter().map(|(name, view)| (name, (view.shape().to_vec(), view.data().to_vec()))).collect()
}

/// The report's result without its `out` (the folders differ).
fn result(dir: &Path) -> serde_json::Value {
    let mut r = json(&dir.join("report.json"))["result"].clone();
    r.as_object_mut().expect("a finished run's result").remove("out");
    r
}

fn stderr_line(o: &std::process::Output) -> String {
    let text = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(text.trim_end().lines().count(), 1, "one line: {text:?}");
    text
}

#[test]
fn a_killed_train_resumes_to_the_uninterrupted_result() {
    let tmp = tempfile::tempdir().unwrap();
    let g = grooves(tmp.path());
    let reference = tmp.path().join("reference");
    let start = Instant::now();
    assert!(train(&g, &reference).output().unwrap().status.success());
    let took = start.elapsed();
    let want = tensors(&reference.join("model.safetensors"));
    assert!(want.len() > 5, "{:?}", want.keys());
    let want_result = result(&reference);
    assert_eq!(want_result["grooves"], 12);
    assert!(want_result["final_loss"].as_f64().unwrap() > 0.0, "{want_result}");
    let want_metrics = read(&reference.join("metrics.jsonl"));
    assert_eq!(want_metrics.lines().filter(|l| l.contains("\"finetune/loss\"")).count(), 40, "2 steps x 20 epochs");

    let delays = seeded_delays(31, 3, took.mul_f64(0.25), took.mul_f64(0.85));
    let mut killed = 0;
    let mut resumed_from = Vec::new();
    for (i, delay) in delays.into_iter().enumerate() {
        let out = tmp.path().join(format!("killed-{i}"));
        let status = run_killed_after(&mut train(&g, &out), delay);
        killed += usize::from(status.is_none());
        let files = assert_files_complete(&out);
        assert!(files.iter().any(|f| f.ends_with("report.json")), "{files:?}");
        resumed_from.push(
            std::fs::read_dir(out.join("checkpoint"))
                .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect::<Vec<_>>())
                .unwrap_or_default(),
        );
        let o = resume(&out);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert_eq!(tensors(&out.join("model.safetensors")), want, "weights after resuming kill {i} ({delay:?})");
        assert_eq!(result(&out), want_result, "kill {i}");
        assert_eq!(read(&out.join("metrics.jsonl")), want_metrics, "kill {i}");
    }
    assert!(killed >= 1, "no run was killed before it finished ({took:?}); checkpoints seen: {resumed_from:?}");

    // A finished run says so and changes nothing.
    let o = resume(&reference);
    assert!(o.status.success());
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("already finished") && text.contains("nothing to resume"), "{text}");
    assert_eq!(tensors(&reference.join("model.safetensors")), want);
}

#[test]
fn a_nan_stops_training_at_its_step_and_the_last_checkpoint_generates() {
    let tmp = tempfile::tempdir().unwrap();
    let g = grooves(tmp.path());
    let out = tmp.path().join("nan");
    // Steps count from 0, two an epoch: step 13 is the seventh epoch's second, and the
    // checkpoint after six epochs (12 steps) is the last good one.
    let o = train(&g, &out).env("REPROLAB_FAULT_NAN_STEP", "13").output().unwrap();
    assert!(!o.status.success());
    let text = stderr_line(&o);
    assert!(text.contains("loss became NaN at step 13"), "{text}");
    assert_files_complete(&out);
    assert!(json(&out.join("report.json"))["result"].is_null(), "the run did not finish");
    assert!(!out.join("model.safetensors").exists(), "no final model");
    let checkpoints: Vec<String> = std::fs::read_dir(out.join("checkpoint"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(checkpoints, ["step-00000012"]);
    let state = json(&out.join("checkpoint/step-00000012/state.json"));
    assert_eq!((state["step"].as_u64(), state["epoch"].as_u64()), (Some(12), Some(6)));
    let midi = tmp.path().join("gen.mid");
    let o = Command::cargo_bin("reprolab")
        .unwrap()
        .args(["--quiet", "drums", "generate", "--measures", "2", "--seed", "1", "--model"])
        .arg(out.join("checkpoint/step-00000012"))
        .arg("--prompt")
        .arg(g.join("g0.txt"))
        .arg("--out")
        .arg(&midi)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let groove = read(&midi.with_extension("txt"));
    assert!(groove.lines().count() >= 32, "the prompt and what followed: {groove}");
    assert!(std::fs::read(&midi).unwrap().starts_with(b"MThd"));
}

#[test]
fn a_bad_resume_is_one_line_and_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let o = resume(tmp.path());
    assert_eq!(o.status.code(), Some(2));
    let text = stderr_line(&o);
    assert!(text.contains("not a `drums train` folder to resume"), "{text}");
    // Another command's train folder (a one-iteration distillation, under a second).
    let other = tmp.path().join("other");
    let o = Command::cargo_bin("reprolab")
        .unwrap()
        .args(["--quiet", "distill-backdoor", "distill", "--method", "dm", "--ipc", "1", "--iterations", "1", "--out"])
        .arg(&other)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = resume(&other);
    assert_eq!(o.status.code(), Some(2));
    let text = stderr_line(&o);
    assert!(text.contains("not a `drums train` folder") && text.contains("distill-backdoor distill"), "{text}");
    // Settings beside --resume.
    let o = Command::cargo_bin("reprolab")
        .unwrap()
        .args(["--quiet", "drums", "train", "--seed", "4", "--resume"])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let text = stderr_line(&o);
    assert!(text.contains("--resume") && text.contains("--seed"), "{text}");
}

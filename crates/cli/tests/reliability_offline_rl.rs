//! Issue 23 for `reprolab offline-rl train`: a run killed with SIGKILL at
//! seeded points leaves only complete files and, resumed with `--resume`,
//! finishes with exactly the uninterrupted run's weights, evaluations,
//! report and metrics; a NaN injected at a step stops training naming that
//! step and keeps the last good checkpoint, which `eval` still scores; a
//! bad `--resume` is one line and exit 2.

use assert_cmd::Command;
use reprolab_testkit::kill::{assert_files_complete, run_killed_after, seeded_delays};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Tiny settings: the paper's method (a fitted behaviour model, the
/// stochastic actor, target-policy noise: every random stream is used),
/// 8 checkpoints.
const SETTINGS: [&str; 14] = [
    "--env",
    "point-obstacle",
    "--steps",
    "400",
    "--hidden",
    "16",
    "--mdn-steps",
    "40",
    "--eval-every",
    "50",
    "--eval-episodes",
    "2",
    "--seed",
    "3",
];

fn dataset(dir: &Path) -> PathBuf {
    let data = dir.join("d.npz");
    Command::cargo_bin("reprolab")
        .unwrap()
        .args(["--quiet", "offline-rl", "dataset", "--env", "point-obstacle", "--out"])
        .arg(&data)
        .assert()
        .success();
    data
}

fn train(data: &Path, out: &Path) -> std::process::Command {
    train_with(data, out, &SETTINGS)
}

fn train_with(data: &Path, out: &Path, settings: &[&str]) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_reprolab"));
    cmd.args(["--quiet", "offline-rl", "train", "--dataset"]).arg(data).args(settings).arg("--out").arg(out);
    cmd
}

fn resume(out: &Path) -> std::process::Output {
    Command::cargo_bin("reprolab")
        .unwrap()
        .args(["--quiet", "offline-rl", "train", "--resume"])
        .arg(out)
        .output()
        .unwrap()
}

/// Kills the command `cmd` builds after `delay`; when the run ended first
/// (the machine ran faster than the reference run), it must have succeeded,
/// and the kill is retried at 0.6 times the delay, until one lands.
fn killed_before_the_end(out: &Path, mut delay: Duration, cmd: impl Fn() -> std::process::Command) {
    for _ in 0..6 {
        match run_killed_after(&mut cmd(), delay) {
            None => return,
            Some(status) => {
                assert!(status.success(), "{status}");
                std::fs::remove_dir_all(out).unwrap();
                delay = delay.mul_f64(0.6);
            }
        }
    }
    panic!("every kill came after the run ended");
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
}

/// The report's result without the folder's own path.
fn result(out: &Path) -> serde_json::Value {
    let mut r = json(&out.join("report.json"))["result"].clone();
    r.as_object_mut().expect("a finished run's result").remove("checkpoint");
    r
}

/// The checkpoint's actor weights and biases, as `eval` loads them (the
/// safetensors bytes are not compared: their header's order is not fixed).
fn weights(out: &Path) -> Vec<f32> {
    let (actor, _) = offline_rl::tools::load_policy(out).unwrap();
    let mut flat = Vec::new();
    for l in &actor.net.layers {
        flat.extend(l.weight.val().into_data().try_to_vec::<f32>().unwrap());
        if let Some(b) = &l.bias {
            flat.extend(b.val().into_data().try_to_vec::<f32>().unwrap());
        }
    }
    assert!(!flat.is_empty());
    flat
}

fn stderr_line(o: &std::process::Output) -> String {
    let text = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(text.trim_end().lines().count(), 1, "one line: {text:?}");
    text
}

#[test]
fn a_killed_train_resumes_to_the_uninterrupted_result() {
    let tmp = tempfile::tempdir().unwrap();
    let data = dataset(tmp.path());
    let reference = tmp.path().join("reference");
    let start = Instant::now();
    assert!(train(&data, &reference).output().unwrap().status.success());
    let took = start.elapsed();
    let model = weights(&reference);
    let metrics = std::fs::read_to_string(reference.join("metrics.jsonl")).unwrap();
    assert_eq!(result(&reference)["evaluations"].as_array().unwrap().len(), 8);

    let delays = seeded_delays(23, 3, took.mul_f64(0.25), took.mul_f64(0.85));
    let mut from_a_checkpoint = 0;
    for (i, delay) in delays.into_iter().enumerate() {
        let out = tmp.path().join(format!("killed-{i}"));
        killed_before_the_end(&out, delay, || train(&data, &out));
        assert!(!assert_files_complete(&out).is_empty(), "kill {i}: the folder holds its record");
        assert!(json(&out.join("report.json"))["result"].is_null(), "a killed run is not finished");
        if out.join("resume/latest.json").exists() {
            from_a_checkpoint += 1;
        }
        let o = resume(&out);
        assert!(o.status.success(), "resume {i}: {}", String::from_utf8_lossy(&o.stderr));
        assert_files_complete(&out);
        assert!(weights(&out) == model, "kill {i}: the weights differ");
        assert_eq!(result(&out), result(&reference), "kill {i}");
        assert_eq!(std::fs::read_to_string(out.join("metrics.jsonl")).unwrap(), metrics, "kill {i}: metrics.jsonl");
        assert_eq!(
            std::fs::read(out.join("curve.csv")).unwrap(),
            std::fs::read(reference.join("curve.csv")).unwrap(),
            "kill {i}"
        );
        // Resuming a finished run says so and changes nothing.
        let again = resume(&out);
        assert!(again.status.success());
        assert!(String::from_utf8_lossy(&again.stdout).contains("already finished"), "{again:?}");
    }
    assert!(from_a_checkpoint >= 2, "only {from_a_checkpoint} kills came after a checkpoint");
}

#[test]
fn a_nan_stops_training_at_its_step_and_the_last_checkpoint_evaluates() {
    let tmp = tempfile::tempdir().unwrap();
    let data = dataset(tmp.path());
    let out = tmp.path().join("nan");
    let o = Command::from_std(train(&data, &out)).env("REPROLAB_FAULT_NAN_STEP", "120").output().unwrap();
    assert_eq!(o.status.code(), Some(1), "{o:?}");
    let line = stderr_line(&o);
    assert!(line.contains("training stopped: loss became NaN at step 120 (td3-rkl critic loss)"), "{line}");
    assert_files_complete(&out);
    let record = json(&out.join("report.json"));
    assert!(record["result"].is_null() && record["provenance"]["finished"].is_null(), "{record}");
    assert_eq!(json(&out.join("state.json"))["step"], 100, "the checkpoint of step 100 is kept");
    let e = Command::cargo_bin("reprolab")
        .unwrap()
        .args(["--quiet", "offline-rl", "eval", "--env", "point-obstacle", "--episodes", "2", "--json", "--checkpoint"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(e.status.success(), "{}", String::from_utf8_lossy(&e.stderr));
    let s: serde_json::Value = serde_json::from_slice(&e.stdout).unwrap();
    assert!(s["mean_return"].as_f64().unwrap().is_finite() && s["episodes"] == 2, "{s}");
}

#[test]
fn a_bad_resume_is_one_line_and_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let empty = tmp.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let o = resume(&empty);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr_line(&o).contains("report.json: cannot read"), "{o:?}");

    // A folder of another command: a real record, its method changed.
    let data = dataset(tmp.path());
    let small = tmp.path().join("small");
    let settings =
        ["--env", "point-obstacle", "--steps", "4", "--hidden", "4", "--mdn-steps", "2", "--eval-every", "2"];
    assert!(train_with(&data, &small, &settings).output().unwrap().status.success());
    let other = tmp.path().join("other");
    std::fs::create_dir_all(&other).unwrap();
    let mut record = json(&small.join("report.json"));
    record["method"] = "fair-kd".into();
    record["result"] = serde_json::Value::Null;
    std::fs::write(other.join("report.json"), record.to_string()).unwrap();
    let o = resume(&other);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr_line(&o).contains("not a `offline-rl train` folder (its report.json is from `fair-kd train`)"),
        "{o:?}"
    );

    // Other settings beside --resume.
    let o = Command::cargo_bin("reprolab")
        .unwrap()
        .args(["offline-rl", "train", "--steps", "10", "--resume"])
        .arg(&small)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr_line(&o).contains("'--steps <STEPS>' cannot be used with '--resume <DIR>'"), "{o:?}");
}

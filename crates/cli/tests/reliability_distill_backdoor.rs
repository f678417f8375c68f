//! Issue 23 for `reprolab distill-backdoor distill`: a distillation killed
//! with SIGKILL at seeded points leaves only complete files and, resumed
//! with `--resume`, finishes with exactly the uninterrupted run's synthetic
//! set, trigger, `distill.json`, report result and `metrics.jsonl`; a NaN
//! injected at an image update stops it naming that update, keeps the last
//! good checkpoint, and `evaluate` reads and scores that checkpoint; a bad
//! `--resume` is one line and exit 2.

use assert_cmd::Command;
use reprolab_testkit::kill::{assert_files_complete, run_killed_after, seeded_delays};
use std::path::Path;
use std::time::Instant;

/// DM under DOORPING on the embedded digits: every part of the state is
/// used (images and their momentum, the sampling stream with its
/// augmentations, the trigger and the poisoned images carrying it).
fn distill(out: &Path, iterations: usize) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_reprolab"));
    cmd.args(["--quiet", "distill-backdoor", "distill", "--method", "dm", "--attack", "doorping", "--ratio", "0.05"])
        .args(["--ipc", "2", "--seed", "3", "--iterations", &iterations.to_string(), "--out"])
        .arg(out);
    cmd
}

fn resume(out: &Path) -> std::process::Output {
    Command::cargo_bin("reprolab")
        .unwrap()
        .args(["--quiet", "distill-backdoor", "distill", "--resume"])
        .arg(out)
        .output()
        .unwrap()
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
}

fn bytes(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
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

const OUTPUTS: [&str; 5] = ["synthetic.npy", "labels.npy", "trigger.npy", "distill.json", "metrics.jsonl"];

#[test]
fn a_killed_distillation_resumes_to_the_uninterrupted_result() {
    let tmp = tempfile::tempdir().unwrap();
    let reference = tmp.path().join("reference");
    let start = Instant::now();
    assert!(distill(&reference, 20).output().unwrap().status.success());
    let took = start.elapsed();
    let want: Vec<Vec<u8>> = OUTPUTS.iter().map(|f| bytes(&reference.join(f))).collect();
    let want_result = result(&reference);
    assert_eq!((want_result["iterations"].as_u64(), want_result["trigger_updates"].as_u64()), (Some(20), Some(20)));
    let loss = json(&reference.join("distill.json"))["loss"].as_array().unwrap().len();
    assert_eq!(loss, 20);

    let delays = seeded_delays(37, 3, took.mul_f64(0.25), took.mul_f64(0.85));
    let mut killed = 0;
    for (i, delay) in delays.into_iter().enumerate() {
        let out = tmp.path().join(format!("killed-{i}"));
        let status = run_killed_after(&mut distill(&out, 20), delay);
        killed += usize::from(status.is_none());
        let files = assert_files_complete(&out);
        assert!(files.iter().any(|f| f.ends_with("report.json")), "{files:?}");
        let o = resume(&out);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        for (f, want) in OUTPUTS.iter().zip(&want) {
            assert!(bytes(&out.join(f)) == *want, "{f} after resuming kill {i} ({delay:?})");
        }
        assert_eq!(result(&out), want_result, "kill {i}");
    }
    assert!(killed >= 1, "no run was killed before it finished ({took:?})");

    let o = resume(&reference);
    assert!(o.status.success());
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("already finished") && text.contains("nothing to resume"), "{text}");
}

#[test]
fn a_nan_stops_distillation_at_its_update_and_the_last_checkpoint_evaluates() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("nan");
    // DM makes one image update an iteration, counted from 1: update 4 is the
    // fourth iteration's, and the checkpoint after three is the last good one.
    let o = distill(&out, 10).env("REPROLAB_FAULT_NAN_STEP", "4").output().unwrap();
    assert!(!o.status.success());
    let text = stderr_line(&o);
    assert!(text.contains("loss became NaN at step 4"), "{text}");
    assert_files_complete(&out);
    assert!(json(&out.join("report.json"))["result"].is_null(), "the run did not finish");
    assert!(!out.join("synthetic.npy").exists(), "no final set");
    let checkpoints: Vec<String> = std::fs::read_dir(out.join("checkpoint"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(checkpoints, ["iteration-000003"]);
    let state = json(&out.join("checkpoint/iteration-000003/state.json"));
    assert_eq!(state["extra"]["set"]["loss"].as_array().map(Vec::len), Some(3));
    let o = Command::cargo_bin("reprolab")
        .unwrap()
        .args(["--quiet", "distill-backdoor", "evaluate", "--networks", "1", "--json", "--synthetic"])
        .arg(out.join("checkpoint/iteration-000003"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let m: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!((m["method"].as_str(), m["attack"].as_str()), (Some("dm"), Some("doorping")));
    // Three DM iterations already teach a fresh network far above chance (0.1).
    assert!(m["cta"].as_f64().unwrap() > 0.3, "{m}");
}

#[test]
fn a_bad_resume_is_one_line_and_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let o = resume(tmp.path());
    assert_eq!(o.status.code(), Some(2));
    let text = stderr_line(&o);
    assert!(text.contains("not a `distill-backdoor distill` folder to resume"), "{text}");
    let o = Command::cargo_bin("reprolab")
        .unwrap()
        .args(["--quiet", "distill-backdoor", "distill", "--ipc", "3", "--resume"])
        .arg(tmp.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let text = stderr_line(&o);
    assert!(text.contains("--resume") && text.contains("--ipc"), "{text}");
    // A finished folder of another command is refused by name.
    std::fs::write(
        tmp.path().join("report.json"),
        serde_json::json!({"method": "drums", "command": "train"}).to_string(),
    )
    .unwrap();
    let o = resume(tmp.path());
    assert_eq!(o.status.code(), Some(2));
    let text = stderr_line(&o);
    assert!(text.contains("report.json"), "{text}");
}

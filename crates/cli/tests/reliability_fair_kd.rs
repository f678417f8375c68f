//! Issue 23 for `reprolab fair-kd train`: a run killed with SIGKILL at
//! seeded points leaves only complete files and, resumed with `--resume`,
//! finishes with exactly the uninterrupted run's predictions, report and
//! metrics; a NaN injected at a step (teacher or student) stops training
//! naming that step, keeps the last good checkpoint, and that checkpoint
//! loads and evaluates through `fair_kd::train::evaluate_checkpoint`; a bad
//! `--resume` is one line and exit 2.

use assert_cmd::Command;
use reprolab_testkit::kill::{assert_files_complete, run_killed_after, seeded_delays};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A 300-node graph: two features and a ring plus chords; the label follows
/// the first feature, the sensitive attribute the node's half.
fn graph(dir: &Path) -> (PathBuf, PathBuf) {
    let (nodes, edges) = (dir.join("nodes.csv"), dir.join("edges.csv"));
    let mut text = String::from("id,x,z,w,s,y\n");
    for i in 0..300 {
        let x = ((i * 37) % 101) as f32 / 50.0 - 1.0;
        let z = ((i * 17) % 13) as f32 / 6.0 - 1.0;
        let w = ((i * 7) % 5) as f32;
        text += &format!("n{i},{x},{z},{w},{},{}\n", u8::from(i >= 150), u8::from(x + 0.3 * z > 0.0));
    }
    std::fs::write(&nodes, text).unwrap();
    let mut e = String::from("a,b\n");
    for i in 0..300 {
        e += &format!("n{i},n{}\nn{i},n{}\n", (i + 1) % 300, (i * 11 + 5) % 300);
    }
    std::fs::write(&edges, e).unwrap();
    (nodes, edges)
}

/// A GCN teacher (dropout: burn's generator) and an MLP student with the
/// SP regulariser and the proxy (every part of the state is used).
fn train(nodes: &Path, edges: &Path, out: &Path) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_reprolab"));
    cmd.args(["--quiet", "fair-kd", "train", "--label", "y", "--sensitive", "s", "--proxy", "--seed", "2", "--nodes"])
        .arg(nodes)
        .arg("--edges")
        .arg(edges)
        .arg("--out")
        .arg(out);
    cmd
}

fn resume(out: &Path) -> std::process::Output {
    Command::cargo_bin("reprolab").unwrap().args(["--quiet", "fair-kd", "train", "--resume"]).arg(out).output().unwrap()
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

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn stderr_line(o: &std::process::Output) -> String {
    let text = String::from_utf8_lossy(&o.stderr).into_owned();
    assert_eq!(text.trim_end().lines().count(), 1, "one line: {text:?}");
    text
}

#[test]
fn a_killed_train_resumes_to_the_uninterrupted_result() {
    let tmp = tempfile::tempdir().unwrap();
    let (nodes, edges) = graph(tmp.path());
    let reference = tmp.path().join("reference");
    let start = Instant::now();
    assert!(train(&nodes, &edges, &reference).output().unwrap().status.success());
    let took = start.elapsed();
    let result = json(&reference.join("report.json"))["result"].clone();
    assert!(result["student"]["accuracy"].as_f64().unwrap() > 0.0, "{result}");

    let delays = seeded_delays(29, 3, took.mul_f64(0.3), took.mul_f64(0.85));
    let mut phases = Vec::new();
    for (i, delay) in delays.into_iter().enumerate() {
        let out = tmp.path().join(format!("killed-{i}"));
        killed_before_the_end(&out, delay, || train(&nodes, &edges, &out));
        assert!(!assert_files_complete(&out).is_empty(), "kill {i}: the folder holds its record");
        assert!(json(&out.join("report.json"))["result"].is_null(), "a killed run is not finished");
        phases.push(if out.join("resume/student/latest.json").exists() {
            "student"
        } else if out.join("resume/teacher/latest.json").exists() {
            "teacher"
        } else {
            "none"
        });
        let o = resume(&out);
        assert!(o.status.success(), "resume {i}: {}", String::from_utf8_lossy(&o.stderr));
        assert_files_complete(&out);
        assert_eq!(read(&out.join("predictions.csv")), read(&reference.join("predictions.csv")), "kill {i}");
        assert_eq!(json(&out.join("report.json"))["result"], result, "kill {i}");
        assert_eq!(read(&out.join("metrics.jsonl")), read(&reference.join("metrics.jsonl")), "kill {i}");
        let again = resume(&out);
        assert!(again.status.success());
        assert!(String::from_utf8_lossy(&again.stdout).contains("already finished"), "{again:?}");
    }
    assert!(phases.iter().filter(|p| **p != "none").count() >= 2, "kills before any checkpoint: {phases:?}");
}

#[test]
fn a_nan_stops_training_at_its_step_and_the_last_checkpoint_evaluates() {
    let tmp = tempfile::tempdir().unwrap();
    let (nodes, edges) = graph(tmp.path());
    // The teacher trains 200 epochs (steps 0-199), the student's epochs are steps 200-279.
    for (step, context, phase, epoch) in [(25, "GCN teacher", "teacher", 20), (215, "student", "student", 10)] {
        let out = tmp.path().join(format!("nan-{step}"));
        let o = Command::from_std(train(&nodes, &edges, &out))
            .env("REPROLAB_FAULT_NAN_STEP", step.to_string())
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1), "{o:?}");
        let line = stderr_line(&o);
        assert!(line.contains(&format!("training stopped: loss became NaN at step {step} ({context}")), "{line}");
        assert_files_complete(&out);
        let record = json(&out.join("report.json"));
        assert!(record["result"].is_null() && record["provenance"]["finished"].is_null(), "{record}");
        assert!(!out.join("predictions.csv").exists());
        let e = fair_kd::train::evaluate_checkpoint(&out).unwrap();
        assert_eq!((e.phase.as_str(), e.epoch), (phase, epoch), "step {step}");
        assert!((0.0..=1.0).contains(&e.metrics.accuracy) && e.metrics.auc.is_finite(), "{e:?}");
    }
}

#[test]
fn a_bad_resume_is_one_line_and_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let empty = tmp.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let o = resume(&empty);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr_line(&o).contains("report.json: cannot read"), "{o:?}");

    let o = resume(&tmp.path().join("missing"));
    assert_eq!(o.status.code(), Some(2));
    stderr_line(&o);

    let o = Command::cargo_bin("reprolab")
        .unwrap()
        .args(["fair-kd", "train", "--label", "y", "--resume"])
        .arg(&empty)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr_line(&o).contains("'--label <COL>' cannot be used with '--resume <DIR>'"), "{o:?}");
}

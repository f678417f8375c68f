//! `reproduce` killed with SIGKILL at seeded points (issue 23, point 2):
//! every file it left is complete (atomic renames), and `--resume` gives
//! the uninterrupted run's results and verdicts.

use reprolab_testkit::kill::{assert_files_complete, run_killed_after, seeded_delays};
use std::path::Path;
use std::process::Command;
use std::time::Instant;

const ONLY: &str = "fair-kd,membership,selfcheck";

fn reproduce(out: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_reprolab"));
    cmd.args(["--quiet", "reproduce", "--preset", "smoke", "--jobs", "1", "--only", ONLY, "--out"]).arg(out);
    cmd
}

/// Each method's results and verdict: what a resumed run must reproduce
/// (provenance and timings differ by design).
fn outcome(dir: &Path) -> Vec<serde_json::Value> {
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
    json["reports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| serde_json::json!({ "method": r["method"], "results": r["results"], "verdict": r["verdict"] }))
        .collect()
}

#[test]
fn a_killed_reproduce_leaves_complete_files_and_resumes_to_the_same_results() {
    let dir = tempfile::tempdir().unwrap();
    let whole = dir.path().join("whole");
    let start = Instant::now();
    assert!(reproduce(&whole).status().unwrap().success());
    let took = start.elapsed();
    let expected = outcome(&whole);
    assert_eq!(expected.len(), 3);
    let mut killed = 0;
    for (k, delay) in seeded_delays(23, 4, took.mul_f64(0.1), took.mul_f64(0.9)).into_iter().enumerate() {
        let out = dir.path().join(format!("killed-{k}"));
        if run_killed_after(&mut reproduce(&out), delay).is_some() {
            continue; // finished before the kill point (a fast machine): nothing to check
        }
        killed += 1;
        assert_files_complete(&out);
        let mut resume = Command::new(env!("CARGO_BIN_EXE_reprolab"));
        let status = resume.args(["--quiet", "reproduce", "--resume"]).arg(&out).status().unwrap();
        assert!(status.success(), "resume after a kill at {delay:?} failed");
        assert_eq!(outcome(&out), expected, "resumed after a kill at {delay:?}");
    }
    assert!(killed >= 3, "only {killed} of 4 kill points hit a running reproduce ({took:?} uninterrupted)");
}

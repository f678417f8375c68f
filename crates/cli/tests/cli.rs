//! The `reprolab` binary as a user meets it: commands, outputs, and every
//! bad-input path (exit code 2, one line naming the problem, no panic).

use assert_cmd::Command;
use predicates::prelude::*;
use std::path::Path;

fn reprolab() -> Command {
    let mut cmd = Command::cargo_bin("reprolab").unwrap();
    cmd.env_remove("REPROLAB_DEVICE").arg("--quiet");
    cmd
}

/// Runs and checks the user-error contract: exit 2, one stderr line
/// containing `needle`, nothing on stdout.
fn fails_with(args: &[&str], needle: &str) {
    let out = reprolab().args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "args {args:?}: stderr {stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "not one line: {stderr}");
    assert!(stderr.contains(needle), "{needle:?} not in {stderr:?}");
    assert!(!stderr.contains("panicked") && !stderr.contains("internal error"), "{stderr}");
    assert!(out.stdout.is_empty(), "stdout should be empty on error");
}

#[test]
fn list_shows_the_ten_papers_and_their_status() {
    let out = reprolab().arg("list").assert().success().get_output().stdout.clone();
    let text = String::from_utf8(out).unwrap();
    for name in [
        "offline-rl",
        "satisfaction",
        "membership",
        "mim-distill",
        "fusion3d",
        "distill-backdoor",
        "iqa",
        "drums",
        "fewshot-seg",
        "fair-kd",
        "selfcheck",
    ] {
        assert!(text.contains(name), "{name} missing from list");
    }
}

#[test]
fn list_json_is_one_json_object() {
    let out = reprolab().args(["list", "--json"]).assert().success().get_output().stdout.clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    let papers = v["papers"].as_array().unwrap();
    assert_eq!(papers.len(), 10);
    assert!(papers.iter().all(|p| p["implemented"].is_boolean() && p["method"].is_string()));
    assert_eq!(v["other_experiments"][0]["method"], "selfcheck");
}

#[test]
fn reproduce_smoke_writes_markdown_json_and_single_file_html() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    reprolab()
        .args(["reproduce", "--preset", "smoke", "--out"])
        .arg(&out)
        .assert()
        .success()
        .stdout(predicate::str::contains("selfcheck").and(predicate::str::contains("REPORT.md")));
    let md = std::fs::read_to_string(out.join("REPORT.md")).unwrap();
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert!(md.contains("## Summary") && md.contains("| selfcheck |"));
    assert!(
        md.contains("Verdict: supported")
            || md.contains("Verdict: not supported")
            || md.contains("Verdict: inconclusive")
    );
    assert!(html.contains("<svg") && html.contains("data:image/png;base64,"), "plots must be inline");
    assert!(!html.contains("src=\"figures/"), "index.html must not depend on other files");
    let reports = json["reports"].as_array().unwrap();
    let methods: Vec<&str> = reports.iter().map(|r| r["method"].as_str().unwrap()).collect();
    assert_eq!(methods, ["membership", "selfcheck"], "every registered method runs, papers first");
    let report = reports.iter().find(|r| r["method"] == "selfcheck").unwrap();
    assert_eq!(report["preset"], "smoke");
    let acc = report["results"]["cells"]["MLP"]["accuracy"]["values"].as_array().unwrap();
    assert_eq!(acc.len(), 2, "smoke preset runs two seeds");
    assert!(acc.iter().all(|v| v.as_f64().unwrap().is_finite()));
    for placeholder in ["TODO", "TBD", "lorem", "placeholder"] {
        assert!(!md.contains(placeholder) && !html.contains(placeholder), "{placeholder} in report");
    }
    assert!(Path::new(&out.join("figures/selfcheck-loss.svg")).exists());
}

#[test]
fn run_json_prints_only_one_json_object() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("fast.toml");
    std::fs::write(&cfg, "[fit]\nepochs = 1\nbatch_size = 128\n[fit.optimizer]\nkind = \"adam\"\nlr = 0.001\n")
        .unwrap();
    let out = reprolab()
        .args(["run", "selfcheck", "--preset", "smoke", "--seeds", "1", "--json", "--config"])
        .arg(&cfg)
        .arg("--out")
        .arg(dir.path().join("o"))
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(v["reports"][0]["seeds"], serde_json::json!([0]));
    assert!(v["reports"][0]["notes"][1].as_str().unwrap().contains("1 epochs"));
}

#[test]
fn unknown_and_unimplemented_methods() {
    fails_with(&["run", "nosuch"], "unknown method 'nosuch'");
    fails_with(&["run", "drums"], "method 'drums' is not implemented yet");
    fails_with(&["reproduce", "--only", "selfcheck,nosuch"], "unknown method 'nosuch'");
}

#[test]
fn unknown_preset_and_bad_seed_count() {
    fails_with(&["run", "selfcheck", "--preset", "huge"], "unknown preset 'huge'");
    fails_with(&["run", "selfcheck", "--preset", "smoke", "--seeds", "0"], "--seeds must be at least 1");
}

#[test]
fn config_file_problems_name_the_file_or_key() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.toml");
    fails_with(&["run", "selfcheck", "--config", missing.to_str().unwrap()], "missing.toml: no such file");
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "hidden = [256,\n").unwrap();
    fails_with(&["run", "selfcheck", "--preset", "smoke", "--config", bad.to_str().unwrap()], "bad.toml: invalid TOML");
    let typo = dir.path().join("typo.toml");
    std::fs::write(&typo, "hiden = [8]\n").unwrap();
    fails_with(&["run", "selfcheck", "--preset", "smoke", "--config", typo.to_str().unwrap()], "hiden");
    let wrong_type = dir.path().join("type.toml");
    std::fs::write(&wrong_type, "test_fraction = \"half\"\n").unwrap();
    fails_with(&["run", "selfcheck", "--preset", "smoke", "--config", wrong_type.to_str().unwrap()], "type.toml");
}

#[test]
fn devices_not_compiled_in_or_unknown_are_user_errors() {
    fails_with(&["--device", "tpu", "list"], "unknown device 'tpu'");
    fails_with(&["--device", "vulkan", "list"], "rebuild with");
    let out = Command::cargo_bin("reprolab").unwrap().env("REPROLAB_DEVICE", "nope").arg("list").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn missing_data_directory_is_a_user_error() {
    fails_with(
        &["run", "selfcheck", "--data", "/nonexistent/reprolab-data"],
        "/nonexistent/reprolab-data: no such file or directory",
    );
}

#[test]
fn bad_arguments_exit_2_via_clap() {
    let out = reprolab().args(["run"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = reprolab().args(["frobnicate"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    reprolab().arg("--help").assert().success().stdout(predicate::str::contains("reproduce"));
}

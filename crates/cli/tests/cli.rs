//! The `reprolab` binary as a user meets it: commands, outputs, and every
//! bad-input path (exit code 2, one line naming the problem, no panic).

use assert_cmd::Command;
use predicates::prelude::*;
use std::path::Path;

fn reprolab() -> Command {
    let mut cmd = Command::cargo_bin("reprolab").unwrap();
    cmd.env_remove("REPROLAB_DEVICE").arg("--quiet");
    // CI's REPROLAB_DATA is relative to the workspace root; tests run in the crate folder.
    match reprolab_core::data::test_data_dir(env!("CARGO_MANIFEST_DIR")) {
        Some(dir) => cmd.env("REPROLAB_DATA", dir),
        None => cmd.env_remove("REPROLAB_DATA"),
    };
    cmd
}

/// Runs `cmd`, expects success, and parses stdout as one JSON object.
fn stdout_json(cmd: &mut Command) -> serde_json::Value {
    let out = cmd.assert().success().get_output().stdout.clone();
    serde_json::from_slice(&out).expect("stdout is one JSON object")
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
    let v = stdout_json(reprolab().args(["list", "--json"]));
    let papers = v["papers"].as_array().unwrap();
    assert_eq!(papers.len(), 10);
    assert!(
        papers.iter().all(|p| p["implemented"].is_boolean() && p["complete"].is_boolean() && p["method"].is_string())
    );
    for method in ["offline-rl", "membership", "distill-backdoor", "drums", "fair-kd"] {
        let paper = papers.iter().find(|p| p["method"] == method).unwrap();
        assert_eq!((paper["implemented"].as_bool(), paper["complete"].as_bool()), (Some(true), Some(true)), "{method}");
    }
    let planned = papers.iter().find(|p| p["method"] == "satisfaction").unwrap();
    assert_eq!(planned["implemented"].as_bool(), Some(false));
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
    assert_eq!(
        methods,
        ["offline-rl", "membership", "distill-backdoor", "drums", "fair-kd", "selfcheck"],
        "every registered method runs, papers first"
    );
    let report = reports.iter().find(|r| r["method"] == "selfcheck").unwrap();
    assert_eq!(report["preset"], "smoke");
    let acc = report["results"]["cells"]["MLP"]["accuracy"]["values"].as_array().unwrap();
    assert_eq!(acc.len(), 2, "smoke preset runs two seeds");
    assert!(acc.iter().all(|v| v.as_f64().unwrap().is_finite()));
    // The page's text, without its base64 images (their letters can spell anything).
    let text: String = html
        .split("base64,")
        .enumerate()
        .map(|(i, part)| {
            if i == 0 {
                part
            } else {
                part.trim_start_matches(|c: char| c.is_ascii_alphanumeric() || "+/=".contains(c))
            }
        })
        .collect();
    // "iVBORw0KGgo" is the base64 of PNG's signature: every image is cut out.
    assert!(html.contains("iVBORw0KGgo") && !text.contains("iVBORw0KGgo"), "the images were cut out of the page");
    for placeholder in ["TODO", "TBD", "lorem", "placeholder"] {
        assert!(!md.contains(placeholder) && !text.contains(placeholder), "{placeholder} in report");
    }
    assert!(Path::new(&out.join("figures/selfcheck-loss.svg")).exists());
    // Every chart has its PNG and the CSV of its numbers beside its SVG.
    for entry in std::fs::read_dir(out.join("figures")).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|x| x == "svg") {
            for ext in ["png", "csv"] {
                assert!(p.with_extension(ext).exists(), "{} has no .{ext} beside it", p.display());
            }
        }
    }
    let csv = std::fs::read_to_string(out.join("figures/selfcheck-loss.csv")).unwrap();
    assert!(csv.starts_with("series,x,y,low,high\n"), "{csv}");
}

/// A run records what produced it, and the merged config reruns it exactly.
#[test]
fn a_run_records_its_provenance_and_a_config_that_reruns_it() {
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("first");
    let v = stdout_json(
        reprolab().args(["run", "selfcheck", "--preset", "smoke", "--seeds", "2", "--json", "--out"]).arg(&first),
    );
    let p = &v["provenance"];
    assert_eq!(p["version"], env!("CARGO_PKG_VERSION"));
    assert!(!p["git_commit"].as_str().unwrap().is_empty());
    assert_eq!(p["backend"], "flex");
    assert!(p["threads"].as_u64().unwrap() >= 1 && !p["cpu"].as_str().unwrap().is_empty());
    let args: Vec<&str> = p["command_line"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
    assert_eq!(args[1..6], ["--quiet", "run", "selfcheck", "--preset", "smoke"]);
    assert!(p["finished"].as_str().unwrap() >= p["started"].as_str().unwrap());
    let md = std::fs::read_to_string(first.join("REPORT.md")).unwrap();
    assert!(md.contains("Run: reprolab ") && md.contains("threads on"), "{md}");
    let config = first.join("selfcheck/config.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains("seeds = 2") && text.contains("test_fraction"), "{text}");
    // The saved config alone (no --seeds) reproduces the tables.
    let again = stdout_json(
        reprolab()
            .args(["run", "selfcheck", "--preset", "smoke", "--json", "--config"])
            .arg(&config)
            .arg("--out")
            .arg(dir.path().join("again")),
    );
    assert_eq!(again["reports"][0]["results"], v["reports"][0]["results"]);
    let version = reprolab().arg("--version").assert().success().get_output().stdout.clone();
    let version = String::from_utf8(version).unwrap();
    assert!(version.starts_with(&format!("reprolab {} (commit ", env!("CARGO_PKG_VERSION"))), "{version}");
}

#[test]
fn a_used_out_folder_is_refused_unless_overwrite_or_resume() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o");
    let run = |extra: &[&str]| {
        let mut cmd = reprolab();
        cmd.args(["run", "selfcheck", "--preset", "smoke", "--seeds", "1", "--jobs", "1", "--out"])
            .arg(&out)
            .args(extra);
        cmd
    };
    run(&[]).assert().success();
    let shown = out.display().to_string();
    fails_with(
        &["run", "selfcheck", "--preset", "smoke", "--out", &shown],
        &format!("{shown}: exists and is not empty; pass --overwrite"),
    );
    run(&["--overwrite"]).assert().success();
    // An empty folder is fine.
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    reprolab().args(["run", "selfcheck", "--preset", "smoke", "--seeds", "1", "--out"]).arg(&empty).assert().success();
}

/// `--seed-list` runs chosen seeds, and seed S of a list computes what seed S
/// of `--seeds N` computes; the saved config reruns the list.
#[test]
fn a_seed_list_runs_the_chosen_seeds_as_a_seed_count_would() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str], out: &str| {
        stdout_json(
            reprolab()
                .args(["run", "selfcheck", "--preset", "smoke", "--jobs", "1", "--json"])
                .args(args)
                .arg("--out")
                .arg(dir.path().join(out)),
        )
    };
    let counted = run(&["--seeds", "2"], "counted");
    let listed = run(&["--seed-list", "1"], "listed");
    assert_eq!(listed["reports"][0]["seeds"], serde_json::json!([1]));
    let cell = |v: &serde_json::Value| v["reports"][0]["results"]["cells"]["MLP"]["accuracy"]["values"].clone();
    assert_eq!(cell(&listed)[0], cell(&counted)[1], "seed 1 alone = seed 1 of 0..2");
    let config = dir.path().join("listed/selfcheck/config.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(text.contains("seeds = [1]"), "{text}");
    let again = run(&["--config", config.to_str().unwrap()], "again");
    assert_eq!(again["reports"][0]["seeds"], serde_json::json!([1]));
    assert_eq!(cell(&again), cell(&listed));
    fails_with(&["run", "selfcheck", "--seed-list", "3,3"], "--seed-list must name distinct seeds");
    fails_with(&["run", "selfcheck", "--seed-list", "x"], "invalid value 'x' for '--seed-list");
    fails_with(&["run", "selfcheck", "--seeds", "2", "--seed-list", "1"], "cannot be used with");
    let bad = dir.path().join("bad-seeds.toml");
    std::fs::write(&bad, "seeds = [2, -1]\n").unwrap();
    fails_with(
        &["run", "selfcheck", "--preset", "smoke", "--config", bad.to_str().unwrap()],
        "'seeds' must be a positive count or a list of distinct non-negative seeds, got [2, -1]",
    );
}

/// Completions and man pages come from the parsed command line, method
/// commands included, and leave out the workers' hidden `unit` command.
#[test]
fn completions_and_man_pages_cover_every_command() {
    let stdout = |args: &[&str]| {
        String::from_utf8(reprolab().args(args).assert().success().get_output().stdout.clone()).unwrap()
    };
    let bash = stdout(&["completions", "bash"]);
    assert!(bash.contains("_reprolab()") && bash.contains("complete -F _reprolab"), "{}", &bash[..200]);
    for word in ["reproduce", "drums", "--seed-list", "--overwrite", "offline-rl"] {
        assert!(bash.contains(word), "{word} not completed");
    }
    assert!(stdout(&["completions", "zsh"]).starts_with("#compdef reprolab"));
    assert!(stdout(&["completions", "fish"]).contains("complete -c reprolab"));
    fails_with(&["completions", "tcsh"], "invalid value 'tcsh'");
    let page = stdout(&["man"]);
    assert!(page.starts_with(".ie \\n(.g .ds Aq") && page.contains(".TH reprolab 1"), "{}", &page[..200]);
    assert!(page.contains("reprolab\\-reproduce") && !page.contains("reprolab\\-unit"), "{page}");
    let dir = tempfile::tempdir().unwrap();
    reprolab().args(["man", "--out"]).arg(dir.path()).assert().success();
    for name in ["reprolab.1", "reprolab-run.1", "reprolab-drums-train.1", "reprolab-offline-rl-eval.1"] {
        let text = std::fs::read_to_string(dir.path().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(text.contains(".TH "), "{name}");
    }
    assert!(!dir.path().join("reprolab-unit.1").exists());
}

#[test]
fn run_json_prints_only_one_json_object() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("fast.toml");
    std::fs::write(&cfg, "[fit]\nepochs = 1\nbatch_size = 128\n[fit.optimizer]\nkind = \"adam\"\nlr = 0.001\n")
        .unwrap();
    let v = stdout_json(
        reprolab()
            .args(["run", "selfcheck", "--preset", "smoke", "--seeds", "1", "--json", "--config"])
            .arg(&cfg)
            .arg("--out")
            .arg(dir.path().join("o")),
    );
    assert_eq!(v["reports"][0]["seeds"], serde_json::json!([0]));
    assert!(v["reports"][0]["notes"][1].as_str().unwrap().contains("1 epochs"));
}

#[test]
fn unknown_and_unimplemented_methods() {
    fails_with(&["run", "nosuch"], "unknown method 'nosuch'");
    fails_with(&["run", "satisfaction"], "method 'satisfaction' is not implemented yet");
    fails_with(&["reproduce", "--only", "selfcheck,nosuch"], "unknown method 'nosuch'");
}

#[test]
fn unknown_preset_and_bad_seed_count() {
    fails_with(
        &["run", "selfcheck", "--preset", "huge"],
        "invalid value 'huge' for '--preset <PRESET>' [possible values: smoke, quick, full, paper]",
    );
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
fn bad_arguments_exit_2_via_clap_in_one_line() {
    fails_with(&["run"], "the following required arguments were not provided: <METHOD>");
    fails_with(&["frobnicate"], "unrecognized subcommand 'frobnicate'");
    // A method's own command, parsed by its crate's clap enum.
    fails_with(&["drums", "decode", "x.txt"], "the following required arguments were not provided: --out <FILE.mid>");
    let out = reprolab().arg("drums").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Usage: reprolab drums"), "{out:?}");
    fails_with(&["drums", "train", "--out", "m", "--preset", "huge"], "invalid value 'huge' for '--preset <PRESET>'");
}

#[test]
fn help_lists_the_workbench_and_every_method_command() {
    let out = reprolab().arg("--help").assert().success().get_output().stdout.clone();
    let help = String::from_utf8(out).unwrap();
    for command in
        ["list", "run", "reproduce", "plan", "offline-rl", "membership", "distill-backdoor", "drums", "fair-kd"]
    {
        assert!(help.contains(&format!("  {command} ")), "{command} missing from --help:\n{help}");
    }
    assert!(help.contains("Paper 8 tools"), "{help}");
    assert!(!help.contains("  unit "), "the worker command is hidden: {help}");
    let out = reprolab().args(["drums", "--help"]).assert().success().get_output().stdout.clone();
    let help = String::from_utf8(out).unwrap();
    for command in ["eval", "encode", "train", "generate", "decode"] {
        assert!(help.contains(&format!("  {command} ")), "{command} missing from drums --help:\n{help}");
    }
}

/// 12 examples, 3 classes; sklearn: roc_auc_score(member, log p_y) = 0.75,
/// max(tpr - fpr) = 0.6667; the correctness attack has AUC 0.5.
const AUDIT_CSV: &str = "id,label,member,logit_0,logit_1,logit_2
0,0,1,2.0,0.1,-1.0
1,1,0,0.3,1.2,0.1
2,2,1,-0.5,0.2,1.9
3,0,0,1.1,1.0,0.2
4,1,1,0.0,2.5,0.3
5,2,1,0.2,0.1,0.4
6,0,0,3.0,-1.0,0.0
7,2,0,0.5,0.4,0.6
8,0,1,1.5,0.2,0.1
9,1,0,-1.0,0.5,0.4
10,2,1,0.1,0.1,2.2
11,1,0,0.9,1.1,1.0
";

#[test]
fn membership_audit_matches_sklearn_and_names_skipped_attacks() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("model.csv");
    std::fs::write(&input, AUDIT_CSV).unwrap();
    let out = dir.path().join("audit");
    let v =
        stdout_json(reprolab().args(["membership", "audit", "--json", "--input"]).arg(&input).arg("--out").arg(&out));
    let close = |a: &serde_json::Value, b: f64| assert!((a.as_f64().unwrap() - b).abs() < 1e-9, "{a} vs {b}");
    close(&v["attacks"]["loss"]["auc"], 0.75);
    close(&v["attacks"]["loss"]["advantage"], 0.6666666666666667);
    close(&v["attacks"]["loss"]["balanced_accuracy"], (1.0 + 0.6666666666666667) / 2.0);
    close(&v["attacks"]["confidence"]["auc"], 0.75);
    close(&v["attacks"]["entropy"]["auc"], 0.75);
    close(&v["attacks"]["correctness"]["auc"], 0.5);
    for key in ["loss", "confidence", "entropy", "modified_entropy", "correctness"] {
        for m in ["auc", "balanced_accuracy", "advantage", "tpr_at_fpr_0.001", "tpr_at_fpr_0.01"] {
            assert!(v["attacks"][key][m].is_number(), "{key}.{m}");
        }
    }
    assert!(v["skipped"]["lira_online"].as_str().unwrap().contains("--shadows"));
    let on_disk: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(on_disk["attacks"], v["attacks"]);
    assert!(out.join("roc.svg").exists() && out.join("summary.md").exists() && out.join("scores.csv").exists());
    assert!(out.join("roc.png").exists() && out.join("roc.csv").exists(), "the ROC's PNG and CSV");
}

/// A population made by hand: example j has its own difficulty b_j (from
/// -4 to 4) and every model's logit-scaled confidence on it is b_j + 3 when
/// the model trained on it and b_j otherwise (plus a small per-model
/// jitter). The audited model is model 0; each example is IN for exactly 2
/// of the 4 shadows. A global loss threshold confuses easy non-members with
/// members (its AUC is the Mann-Whitney count below), while LiRA, which
/// calibrates per example on the shadows, separates them exactly (AUC 1),
/// and its epsilon lower bound is far above the loss attack's.
#[test]
fn membership_audit_with_shadows_runs_lira() {
    let dir = tempfile::tempdir().unwrap();
    let n = 400;
    let phi = |m: usize, j: usize, member: bool| {
        let b = -4.0 + 8.0 * j as f64 / (n - 1) as f64;
        b + if member { 3.0 } else { 0.0 } + 0.1 * (((m * 7 + j * 3) % 5) as f64 - 2.0)
    };
    let member = |m: usize, j: usize| if m == 0 { j.is_multiple_of(2) } else { (j + m) % 4 < 2 };
    let label = |j: usize| usize::from(j.is_multiple_of(3));
    let mut files = Vec::new();
    for m in 0..5 {
        let mut text = String::from("id,label,member,logit_0,logit_1\n");
        for j in 0..n {
            // the label's logit is phi, the other's 0: log(p_y / (1 - p_y)) = phi
            let (z, y) = (phi(m, j, member(m, j)), label(j));
            let logits = if y == 0 { [z, 0.0] } else { [0.0, z] };
            text += &format!("{j},{y},{},{},{}\n", u8::from(member(m, j)), logits[0], logits[1]);
        }
        let p = dir.path().join(format!("model{m}.csv"));
        std::fs::write(&p, text).unwrap();
        files.push(p);
    }
    let v = stdout_json(
        reprolab()
            .args(["membership", "audit", "--json", "--input"])
            .arg(&files[0])
            .arg("--shadows")
            .args(&files[1..])
            .arg("--out")
            .arg(dir.path().join("o")),
    );
    assert_eq!(v["n_shadows"], 4);
    // the loss attack ranks by phi: count member-over-non-member pairs
    let (ins, outs): (Vec<usize>, Vec<usize>) = (0..n).partition(|&j| member(0, j));
    let mut wins = 0.0;
    for &i in &ins {
        for &o in &outs {
            let (a, b) = (phi(0, i, true), phi(0, o, false));
            wins += if a > b {
                1.0
            } else if a == b {
                0.5
            } else {
                0.0
            };
        }
    }
    let loss_auc = wins / (ins.len() * outs.len()) as f64;
    let auc = |key: &str| v["attacks"][key]["auc"].as_f64().unwrap_or_else(|| panic!("no AUC for {key}: {v}"));
    assert!((auc("loss") - loss_auc).abs() < 1e-12, "loss AUC {} vs {loss_auc} by hand", auc("loss"));
    assert!(loss_auc < 0.85, "the hand-made pool must fool a global threshold: {loss_auc}");
    for key in ["lira_online", "lira_online_fixed_variance", "lira_offline", "lira_offline_fixed_variance"] {
        assert_eq!(auc(key), 1.0, "{key}");
        assert_eq!(v["attacks"][key]["tpr_at_fpr_0.01"].as_f64(), Some(1.0), "{key}");
    }
    assert!(v["skipped"].get("lira_online").is_none(), "{}", v["skipped"]);
    // the epsilon bound: LiRA lets no non-member of the counting half
    // through, the loss attack gives far less evidence
    let eps = &v["epsilon"];
    assert_eq!(eps["delta"].as_f64(), Some(1e-5));
    assert_eq!(eps["confidence"].as_f64(), Some(0.95));
    let lira = &eps["attacks"]["lira_online_fixed_variance"];
    assert_eq!(lira["false_positives"].as_u64(), Some(0), "{lira}");
    let (lira_eps, loss_eps) = (lira["epsilon"].as_f64().unwrap(), eps["attacks"]["loss"]["epsilon"].as_f64().unwrap());
    assert!(lira_eps > 2.0 && loss_eps < lira_eps - 1.0, "LiRA {lira_eps}, loss {loss_eps}");
    assert_eq!(
        eps["epsilon"].as_f64().unwrap(),
        eps["attacks"][eps["best_attack"].as_str().unwrap()]["epsilon"].as_f64().unwrap()
    );
    let summary = std::fs::read_to_string(dir.path().join("o/summary.md")).unwrap();
    assert!(summary.contains("Empirical epsilon lower bound: epsilon >= "), "{summary}");
}

#[test]
fn membership_audit_rejects_malformed_input_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "id,label,member,prob_0,prob_1\n1,0,1,0.9,0.3\n2,1,0,0.5,0.5\n").unwrap();
    fails_with(
        &["membership", "audit", "--input", bad.to_str().unwrap()],
        "bad.csv: line 2: probabilities sum to 1.200000",
    );
    fails_with(
        &["membership", "audit", "--input", "/nonexistent/outputs.csv"],
        "/nonexistent/outputs.csv: no such file",
    );
    let one_class = dir.path().join("one.csv");
    std::fs::write(&one_class, "id,label,member,logit_0,logit_1\n1,0,1,0,1\n2,1,1,1,0\n").unwrap();
    fails_with(&["membership", "audit", "--input", one_class.to_str().unwrap()], "single class");
    let no_member_shadow = dir.path().join("shadow.csv");
    std::fs::write(&no_member_shadow, "id,label,logit_0,logit_1\n1,0,0,1\n2,1,1,0\n").unwrap();
    let ok = dir.path().join("ok.csv");
    std::fs::write(&ok, "id,label,member,logit_0,logit_1\n1,0,1,0,1\n2,1,0,1,0\n").unwrap();
    fails_with(
        &["membership", "audit", "--input", ok.to_str().unwrap(), "--shadows", no_member_shadow.to_str().unwrap()],
        "shadow.csv: a shadow file needs a 'member' column",
    );
}

/// A 48-line groove: measures A, B, A, where B adds one hit.
fn write_groove(dir: &Path, name: &str) -> std::path::PathBuf {
    let a = "------\n".repeat(16);
    let b = "o-----\n".to_string() + &"------\n".repeat(15);
    let path = dir.join(name);
    std::fs::write(&path, format!("{a}{b}{a}")).unwrap();
    path
}

#[test]
fn drums_eval_json_and_midi_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let groove = write_groove(dir.path(), "g_120_beat_4-4.txt");
    let v = stdout_json(reprolab().args(["drums", "eval", "--json"]).arg(dir.path()));
    assert_eq!(v["grooves"], 1);
    assert_eq!(v["mean_stability"], 1.0);
    assert_eq!((v["centre_gap"].as_f64(), v["spread"].as_f64()), (Some(0.0), Some(0.0)));

    let mid = dir.path().join("g.mid");
    reprolab()
        .args(["drums", "decode"])
        .arg(&groove)
        .arg("--out")
        .arg(&mid)
        .assert()
        .success()
        .stdout(predicate::str::contains("48 lines at 120 bpm"));
    let text = reprolab().args(["drums", "encode"]).arg(&mid).assert().success().get_output().stdout.clone();
    // 16 measures of 4/4: the decoded 3 measures, then 13 empty ones.
    let original = std::fs::read_to_string(&groove).unwrap();
    assert_eq!(String::from_utf8(text).unwrap(), original + &"------\n".repeat(256 - 48));
}

#[test]
fn drums_commands_reject_bad_input_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.txt");
    std::fs::write(&bad, "oo--o-\nnot a line\n").unwrap();
    fails_with(&["drums", "decode", bad.to_str().unwrap(), "--out", "x.mid"], "bad.txt: line 2 is not six");
    fails_with(&["drums", "encode", bad.to_str().unwrap()], "bad.txt: not a MIDI file");
    fails_with(&["drums", "eval", "/nonexistent/grooves"], "/nonexistent/grooves: no such file or folder");
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    fails_with(&["drums", "eval", empty.to_str().unwrap()], "no .txt grooves in this folder");
}

#[test]
fn drums_train_then_generate_writes_a_playable_groove() {
    let dir = tempfile::tempdir().unwrap();
    let grooves = dir.path().join("grooves");
    std::fs::create_dir(&grooves).unwrap();
    // two 10-measure grooves (more than the paper's 8-measure minimum)
    for (k, hit) in ["o--o--", "--o-o-"].iter().enumerate() {
        let measure = format!("{hit}\n") + &"----o-\n".repeat(15);
        std::fs::write(grooves.join(format!("g{k}.txt")), measure.repeat(10)).unwrap();
    }
    let model = dir.path().join("model");
    reprolab()
        .args(["drums", "train", "--preset", "smoke", "--grooves"])
        .arg(&grooves)
        .arg("--out")
        .arg(&model)
        .assert()
        .success()
        .stdout(predicate::str::contains("Trained on 2 grooves (0 skipped"));
    let out = dir.path().join("new.mid");
    reprolab()
        .args(["drums", "generate", "--measures", "2", "--seed", "3", "--model"])
        .arg(&model)
        .arg("--prompt")
        .arg(grooves.join("g0.txt"))
        .arg("--out")
        .arg(&out)
        .assert()
        .success()
        .stdout(predicate::str::contains("new.txt"));
    // the MIDI file is a valid drum file that encodes back to its text
    let text = reprolab().args(["drums", "encode"]).arg(&out).assert().success().get_output().stdout.clone();
    let written = std::fs::read_to_string(dir.path().join("new.txt")).unwrap();
    assert!(String::from_utf8(text).unwrap().starts_with(&written), "MIDI and text disagree");
    fails_with(
        &[
            "drums",
            "generate",
            "--model",
            model.to_str().unwrap(),
            "--prompt",
            out.to_str().unwrap(),
            "--measures",
            "15",
            "--out",
            "x.mid",
        ],
        "--measures must be 1..14",
    );
}

#[test]
fn distill_backdoor_distils_and_evaluates() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("syn");
    reprolab()
        .args([
            "distill-backdoor",
            "distill",
            "--attack",
            "doorping",
            "--ratio",
            "0.05",
            "--ipc",
            "2",
            "--iterations",
            "1",
            "--out",
        ])
        .arg(&out)
        .assert()
        .success()
        .stdout(predicate::str::contains("DC DOORPING on digits: 2 images per class"));
    for f in ["synthetic.npy", "labels.npy", "synthetic.png", "trigger.npy", "trigger.png", "distill.json"] {
        assert!(out.join(f).exists(), "{f} missing");
    }
    let v = stdout_json(
        reprolab().args(["distill-backdoor", "evaluate", "--json", "--networks", "1", "--synthetic"]).arg(&out),
    );
    assert_eq!((v["method"].as_str(), v["attack"].as_str()), (Some("dc"), Some("doorping")));
    for k in ["cta", "asr", "asr_with_target"] {
        let x = v[k].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&x), "{k}: {x}");
    }
    fails_with(
        &["distill-backdoor", "distill", "--attack", "badnets"],
        "invalid value 'badnets' for '--attack <ATTACK>' [possible values: none, naive, doorping]",
    );
    fails_with(
        &["distill-backdoor", "evaluate", "--synthetic", dir.path().to_str().unwrap()],
        "distill.json: cannot read",
    );
    fails_with(&["distill-backdoor", "distill", "--data", dir.path().to_str().unwrap()], "no MNIST-style IDX files");
}

#[test]
fn fair_kd_bias_reports_gaps_and_rejects_bad_files() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("pred.csv");
    std::fs::write(&p, "label,sensitive,prediction\n1,0,1\n0,0,1\n1,1,0\n0,1,0\n").unwrap();
    let v = stdout_json(reprolab().args(["fair-kd", "bias", "--json", "--predictions"]).arg(&p));
    assert_eq!(v["n"], 4);
    assert_eq!(
        (v["accuracy"].as_f64(), v["delta_sp"].as_f64(), v["delta_eo"].as_f64()),
        (Some(0.5), Some(1.0), Some(1.0))
    );
    std::fs::write(&p, "label,sensitive\n1,0\n").unwrap();
    fails_with(
        &["fair-kd", "bias", "--predictions", p.to_str().unwrap()],
        "needs a 'prediction' (0/1) or a 'probability' column",
    );
    fails_with(&["fair-kd", "bias", "--predictions", "/nonexistent/p.csv"], "/nonexistent/p.csv: no such file");
}

#[test]
fn fair_kd_train_on_a_user_graph() {
    let dir = tempfile::tempdir().unwrap();
    let nodes = dir.path().join("nodes.csv");
    let edges = dir.path().join("edges.csv");
    // 40 nodes on a ring; the label follows x, the sensitive attribute alternates.
    let mut text = String::from("id,x,s,y\n");
    for i in 0..40 {
        text += &format!("n{i},{},{},{}\n", i as f32 / 10.0, i % 2, u8::from(i >= 20));
    }
    std::fs::write(&nodes, text).unwrap();
    let ring: String = (0..40).map(|i| format!("n{i},n{}\n", (i + 1) % 40)).collect();
    std::fs::write(&edges, format!("a,b\n{ring}")).unwrap();
    let out = dir.path().join("run");
    let v = stdout_json(
        reprolab()
            .args(["fair-kd", "train", "--json", "--label", "y", "--sensitive", "s", "--student", "sgc", "--nodes"])
            .arg(&nodes)
            .arg("--edges")
            .arg(&edges)
            .arg("--out")
            .arg(&out),
    );
    assert_eq!((v["nodes"].as_u64(), v["edges"].as_u64()), (Some(40), Some(40)));
    for model in ["teacher", "student"] {
        let acc = v[model]["accuracy"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&acc), "{model}: {acc}");
    }
    let predictions = std::fs::read_to_string(out.join("predictions.csv")).unwrap();
    assert_eq!(predictions.lines().count(), 41);
    // Nodes keep the user's ids.
    assert!(
        predictions.starts_with("id,label,sensitive,split,teacher_probability,probability\nn0,0,0,"),
        "{predictions}"
    );
    assert!(predictions.lines().nth(40).unwrap().starts_with("n39,1,1,"), "{predictions}");
    assert!(out.join("report.json").exists());
    std::fs::write(&edges, "a,b\nn1,n1\n").unwrap();
    fails_with(
        &[
            "fair-kd",
            "train",
            "--label",
            "y",
            "--sensitive",
            "s",
            "--nodes",
            nodes.to_str().unwrap(),
            "--edges",
            edges.to_str().unwrap(),
        ],
        "edges.csv: line 2: self-loop on node 'n1'",
    );
    fails_with(
        &[
            "fair-kd",
            "train",
            "--label",
            "y",
            "--sensitive",
            "s",
            "--teacher",
            "gat",
            "--nodes",
            nodes.to_str().unwrap(),
            "--edges",
            edges.to_str().unwrap(),
        ],
        "invalid value 'gat' for '--teacher <TEACHER>' [possible values: gcn, sage]",
    );
}

#[test]
fn offline_rl_writes_a_dataset_trains_from_it_and_evaluates() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("e1.hdf5");
    let ck = dir.path().join("ck");
    let d = data.to_str().unwrap();
    let c = ck.to_str().unwrap();
    reprolab().args(["offline-rl", "dataset", "--env", "point-obstacle", "--out", d]).assert().success();
    reprolab()
        .args(["offline-rl", "train", "--env", "point-obstacle", "--dataset", d, "--algo", "td3-rkl"])
        .args(["--steps", "60", "--hidden", "16", "--mdn-steps", "20", "--eval-every", "30", "--eval-episodes", "2"])
        .args(["--out", c])
        .assert()
        .success()
        .stdout(predicate::str::contains("td3-rkl on point-obstacle: 60 updates"));
    for f in ["model.safetensors", "state.json", "curve.svg"] {
        assert!(ck.join(f).exists(), "{f}");
    }
    let v = stdout_json(reprolab().args([
        "offline-rl",
        "eval",
        "--checkpoint",
        c,
        "--env",
        "point-obstacle",
        "--episodes",
        "3",
        "--json",
    ]));
    assert_eq!(v["episodes"], 3);
    assert!(
        v["mean_return"].as_f64().unwrap().is_finite() && v["normalised_score"].as_f64().unwrap().is_finite(),
        "{v}"
    );
    // A pendulum dataset does not fit a point-mass environment.
    let pend = dir.path().join("p.npz");
    let p = pend.to_str().unwrap();
    reprolab().args(["offline-rl", "dataset", "--env", "pendulum", "--episodes", "1", "--out", p]).assert().success();
    fails_with(
        &["offline-rl", "train", "--env", "point-gap", "--dataset", p, "--steps", "5"],
        "have 3/1 columns but 'point-gap' has 2/2",
    );
    fails_with(&["offline-rl", "eval", "--checkpoint", c, "--env", "pendulum"], "which differ from 'pendulum'");
}

#[test]
fn offline_rl_rejects_bad_inputs_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.hdf5");
    std::fs::write(&bad, b"not hdf5").unwrap();
    let b = bad.to_str().unwrap();
    fails_with(&["offline-rl", "train", "--env", "point-gap", "--dataset", b], "bad.hdf5: not a readable HDF5 file");
    fails_with(&["offline-rl", "train", "--env", "point-gap", "--dataset", "missing.npz"], "missing.npz");
    fails_with(&["offline-rl", "dataset", "--env", "hopper", "--out", "x.npz"], "unknown environment 'hopper'");
    let d = dir.path().join("d.npz");
    let ds = d.to_str().unwrap();
    reprolab().args(["offline-rl", "dataset", "--env", "point-gap", "--out", ds]).assert().success();
    fails_with(
        &["offline-rl", "train", "--env", "point-gap", "--dataset", ds, "--algo", "cql"],
        "invalid value 'cql' for '--algo <ALGO>' [possible values: bc, td3-bc, td3-rkl, td3-rkl-global, td3-mse-adaptive, iql]",
    );
    fails_with(&["offline-rl", "train", "--env", "hopper", "--dataset", ds], "unknown environment 'hopper'");
    fails_with(
        &["offline-rl", "eval", "--checkpoint", dir.path().to_str().unwrap(), "--env", "point-gap"],
        "not a checkpoint",
    );
}

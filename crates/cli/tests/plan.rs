//! The run plan as a user meets it: the same tables from one process, a
//! pool of worker processes and Slurm; a killed run resumes computing only
//! what is missing; cluster scripts are written without submitting.

use assert_cmd::Command;
use std::path::Path;

fn reprolab() -> Command {
    let mut cmd = Command::cargo_bin("reprolab").unwrap();
    cmd.env_remove("REPROLAB_DEVICE").env_remove("REPROLAB_ABORT_IN_UNIT").arg("--quiet");
    match reprolab_core::data::test_data_dir(env!("CARGO_MANIFEST_DIR")) {
        Some(dir) => cmd.env("REPROLAB_DATA", dir),
        None => cmd.env_remove("REPROLAB_DATA"),
    };
    cmd
}

/// Methods small enough at smoke for the executor tests (seconds each).
const FAST: &str = "fair-kd,selfcheck";

/// The parts of a report that must not depend on how units ran: every
/// table, the verdict, the figure names, the notes (wall time excluded;
/// the run directory, which notes name, replaced by `RUN`).
fn tables(report_json: &Path) -> Vec<serde_json::Value> {
    let run_dir = report_json.parent().unwrap().display().to_string();
    let text = std::fs::read_to_string(report_json).unwrap().replace(&run_dir, "RUN");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["reports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let figures: Vec<&serde_json::Value> =
                r["figures"].as_array().unwrap().iter().map(|f| &f["name"]).collect();
            serde_json::json!({
                "method": r["method"], "results": r["results"], "tables": r["tables"],
                "verdict": r["verdict"], "figures": figures, "notes": r["notes"],
            })
        })
        .collect()
}

fn reproduce(out: &Path, extra: &[&str]) -> std::process::Output {
    reprolab().args(["reproduce", "--preset", "smoke", "--only", FAST, "--out"]).arg(out).args(extra).output().unwrap()
}

#[test]
fn jobs_1_and_jobs_2_give_identical_tables() {
    let dir = tempfile::tempdir().unwrap();
    let (one, two) = (dir.path().join("one"), dir.path().join("two"));
    let a = reproduce(&one, &["--jobs", "1"]);
    assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
    let b = reproduce(&two, &["--jobs", "2"]);
    assert!(b.status.success(), "{}", String::from_utf8_lossy(&b.stderr));
    let (ta, tb) = (tables(&one.join("report.json")), tables(&two.join("report.json")));
    assert_eq!(ta.len(), 2);
    assert_eq!(ta, tb, "--jobs 1 and --jobs 2 differ");
    // Workers wrote one log per unit.
    assert!(std::fs::read_dir(two.join("logs")).unwrap().count() >= 4);
}

#[test]
fn a_killed_run_resumes_computing_only_the_missing_units() {
    let dir = tempfile::tempdir().unwrap();
    let whole = dir.path().join("whole");
    let killed = dir.path().join("killed");
    assert!(reproduce(&whole, &["--jobs", "1"]).status.success());

    // The process aborts (as under SIGKILL) at the start of selfcheck's second seed.
    let out = reprolab()
        .args(["reproduce", "--preset", "smoke", "--only", FAST, "--jobs", "1", "--out"])
        .arg(&killed)
        .env("REPROLAB_ABORT_IN_UNIT", "selfcheck:seed1")
        .output()
        .unwrap();
    assert!(!out.status.success(), "the abort must end the run");
    assert!(!killed.join("report.json").exists(), "no report from a killed run");
    let cached = |d: &Path| std::fs::read_dir(d.join("units/selfcheck")).map_or(0, |r| r.count());
    let fair_before = std::fs::read_dir(killed.join("units/fair-kd")).map_or(0, |r| r.count());
    assert_eq!(cached(&killed), 1, "seed 0 finished before the abort");
    assert!(fair_before >= 1, "fair-kd ran before selfcheck");
    let seed0 = std::fs::read_dir(killed.join("units/selfcheck")).unwrap().next().unwrap().unwrap().path();
    let stamp = std::fs::metadata(&seed0).unwrap().modified().unwrap();

    let out = reprolab().args(["reproduce", "--resume"]).arg(&killed).args(["--jobs", "1"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let total = fair_before + 2;
    assert!(stderr.contains(&format!("{total} units, {} cached, 1 to compute", total - 1)), "{stderr}");
    assert_eq!(std::fs::metadata(&seed0).unwrap().modified().unwrap(), stamp, "a cached unit was rewritten");
    assert_eq!(tables(&killed.join("report.json")), tables(&whole.join("report.json")));

    // A worker process killed mid-run fails its unit; resuming finishes it.
    let pooled = dir.path().join("pooled");
    let out = reprolab()
        .args(["reproduce", "--preset", "smoke", "--only", "selfcheck", "--jobs", "2", "--out"])
        .arg(&pooled)
        .env("REPROLAB_ABORT_IN_UNIT", "selfcheck:seed1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("worker(s) failed") && stderr.contains("seed 1"), "{stderr}");
    let out = reprolab().args(["reproduce", "--resume"]).arg(&pooled).args(["--jobs", "2"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("2 units, 1 cached, 1 to compute"), "{stderr}");
}

#[test]
fn resume_refuses_other_options_and_a_missing_directory() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("r");
    let out = reprolab()
        .args(["run", "selfcheck", "--preset", "smoke", "--seeds", "1", "--jobs", "1", "--out"])
        .arg(&run)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = reprolab().args(["run", "selfcheck", "--preset", "quick", "--resume"]).arg(&run).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("started with --preset smoke"), "{stderr}");
    // Same options: everything is cached, nothing recomputed.
    let out = reprolab().args(["run", "selfcheck", "--resume"]).arg(&run).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("1 units, 1 cached, 0 to compute"), "{stderr}");
    let out = reprolab().args(["reproduce", "--resume"]).arg(dir.path().join("nope")).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no such file or directory"));
    // A command that fails on its arguments leaves no run directory behind.
    let typo = dir.path().join("typo.toml");
    std::fs::write(&typo, "hiden = [3]\n").unwrap();
    let never = dir.path().join("never");
    let out = reprolab()
        .args(["run", "selfcheck", "--preset", "smoke", "--config"])
        .arg(&typo)
        .arg("--out")
        .arg(&never)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(!never.exists(), "a failed command left {}", never.display());
}

#[test]
fn plan_writes_slurm_array_scripts_without_submitting() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("p");
    let out = reprolab()
        .args([
            "plan",
            "--executor",
            "slurm",
            "--preset",
            "smoke",
            "--only",
            "selfcheck",
            "--sbatch-arg=--partition=cpu",
            "--out",
        ])
        .arg(&run)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let script = std::fs::read_to_string(run.join("slurm/selfcheck-main.sbatch")).unwrap();
    for line in [
        "#SBATCH --array=0-1",
        "#SBATCH --cpus-per-task=1",
        "#SBATCH --partition=cpu",
        "unit --run-dir",
        "--method selfcheck --stage main --index \"$SLURM_ARRAY_TASK_ID\"",
    ] {
        assert!(script.contains(line), "{line:?} not in {script}");
    }
    let submit = std::fs::read_to_string(run.join("slurm/submit.sh")).unwrap();
    assert!(submit.contains("sbatch --parsable selfcheck-main.sbatch"), "{submit}");
    assert!(std::fs::read_to_string(run.join("slurm/README.md")).unwrap().contains("reproduce --resume"));
    assert!(run.join("plan/selfcheck.json").exists());
    assert!(!run.join("report.json").exists(), "plan runs nothing");

    // A worker runs one unit of the written plan, as an array task would.
    let out = reprolab()
        .args(["unit", "--run-dir"])
        .arg(&run)
        .args(["--method", "selfcheck", "--index", "1"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(std::fs::read_dir(run.join("units/selfcheck")).unwrap().count(), 1);
    let out = reprolab()
        .args(["unit", "--run-dir"])
        .arg(&run)
        .args(["--method", "selfcheck", "--index", "7"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("has 2 units, no index 7"));
    let out = reprolab().args(["plan", "--preset", "smoke"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--executor slurm"));
}

/// A real Slurm (CI starts a one-node cluster; see .ci/run): the smoke
/// reproduce of every method through job arrays gives the local tables.
#[test]
fn slurm_executor_gives_the_local_tables() {
    let have_slurm = std::process::Command::new("sinfo").arg("-h").output().is_ok_and(|o| o.status.success());
    if !have_slurm {
        eprintln!("SKIPPED slurm_executor_gives_the_local_tables: no running Slurm (sinfo failed); .ci/run starts one");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (local, slurm) = (dir.path().join("local"), dir.path().join("slurm"));
    let all = "offline-rl,membership,distill-backdoor,drums,fair-kd,selfcheck";
    let a = reprolab()
        .args(["reproduce", "--preset", "smoke", "--only", all, "--jobs", "1", "--out"])
        .arg(&local)
        .output()
        .unwrap();
    assert!(a.status.success(), "{}", String::from_utf8_lossy(&a.stderr));
    let b = reprolab()
        .args([
            "reproduce",
            "--preset",
            "smoke",
            "--only",
            all,
            "--executor",
            "slurm",
            "--slurm-poll-ms",
            "300",
            "--out",
        ])
        .arg(&slurm)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&b.stderr);
    assert!(b.status.success(), "{stderr}");
    assert!(stderr.contains("as job "), "{stderr}");
    assert_eq!(tables(&local.join("report.json")), tables(&slurm.join("report.json")), "Slurm and local differ");

    // A failed array task is reported with its exit code and log; resuming resubmits only it.
    let failing = dir.path().join("failing");
    let slurm_run = |extra: &[&str], env: Option<&str>| {
        let mut cmd = reprolab();
        cmd.args(["reproduce", "--executor", "slurm", "--slurm-poll-ms", "300"]).args(extra);
        if let Some(unit) = env {
            cmd.env("REPROLAB_ABORT_IN_UNIT", unit);
        }
        cmd.output().unwrap()
    };
    let out = slurm_run(
        &["--preset", "smoke", "--only", "selfcheck", "--out", failing.to_str().unwrap()],
        Some("selfcheck:seed1"),
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("task 1 (seed 1): FAILED, exit code") && stderr.contains("selfcheck-main_"), "{stderr}");
    let out = slurm_run(&["--resume", failing.to_str().unwrap()], None);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("2 units, 1 cached, 1 to compute") && stderr.contains("(1 array tasks)"), "{stderr}");
}

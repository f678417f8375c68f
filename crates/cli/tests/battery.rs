//! The bad-input battery (issue 23, point 4): one test code applied to
//! every user-facing command of every registered method, the way
//! scikit-learn's `check_estimator` checks every estimator.
//!
//! `reprolab fixtures --dir DIR` (hidden) writes each command's valid
//! inputs and lists the commands; for each input the battery derives the
//! bad versions its format allows (missing, empty, a folder where a file
//! is expected, truncated, garbage, header only, one row, NaN, inf, wrong
//! dtype, wrong shape, unknown column, duplicate ids, missing array; for
//! folders: empty, a file instead, truncated or garbage files inside), an
//! unwritable --out for each output, and a non-UTF-8 path for each file,
//! and checks exit code 2, one stderr line naming the bad file, no panic
//! and no output left behind (the non-UTF-8 path must simply work).

use reprolab_core::battery::{Arg, Fixture, Format};
use std::path::{Path, PathBuf};

fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_reprolab"))
}

fn write_fixtures(dir: &Path) -> (Vec<Fixture>, Vec<String>) {
    let status = std::process::Command::new(binary())
        .args(["--quiet", "fixtures", "--dir"])
        .arg(dir)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "reprolab fixtures failed");
    let listing: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("fixtures.json")).unwrap()).unwrap();
    let fixtures: Vec<Fixture> = serde_json::from_value(listing["fixtures"].clone()).unwrap();
    let commands: Vec<String> = serde_json::from_value(listing["commands"].clone()).unwrap();
    (fixtures, commands)
}

#[test]
fn every_command_refuses_every_bad_input_in_one_line_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let (fixtures, commands) = write_fixtures(&dir.path().join("fixtures"));
    let covered: Vec<&str> = fixtures.iter().map(|f| f.command.as_str()).collect();
    let missing: Vec<&String> = commands.iter().filter(|c| !covered.contains(&c.as_str())).collect();
    assert!(
        missing.is_empty(),
        "commands without a battery fixture (add one to the method's fixtures.rs): {missing:?}"
    );
    let rows = reprolab_testkit::battery::run(&binary(), &fixtures, &dir.path().join("cases"), &[]);
    let table = reprolab_testkit::battery::table(&rows);
    println!("{table}");
    println!("battery: {} bad inputs over {} commands, 0 panics", rows.len(), fixtures.len());
    // Every file input gets at least missing, empty, a directory, garbage,
    // truncated and a non-UTF-8 path; every folder five; every output one.
    for f in &fixtures {
        let least: usize = f
            .args
            .iter()
            .map(|a| match a {
                Arg::Input { format: Format::Folder, .. } => 5,
                Arg::Input { .. } => 6,
                Arg::Out { .. } => 1,
                Arg::Text { .. } => 0,
            })
            .sum();
        let tried = rows.iter().filter(|r| r.command == f.command).count();
        assert!(tried >= least, "{}: {tried} bad inputs tried, expected at least {least}", f.command);
    }
}

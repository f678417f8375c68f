//! The bad-input battery's fixtures for paper 1's commands
//! ([`reprolab_core::battery`]): a point-gap dataset, a policy trained on it
//! for a few updates, and the command lines that run on them.

use crate::cli::Command;
use anyhow::Result;
use reprolab_core::battery::{Fixture, Format, arg, run_command};
use std::path::Path;

const TINY: [&str; 10] =
    ["--steps", "20", "--hidden", "16", "--mdn-steps", "10", "--eval-every", "10", "--eval-episodes", "1"];

pub fn fixtures(dir: &Path) -> Result<Vec<Fixture>> {
    let data = dir.join("point-gap.npz");
    let policy = dir.join("policy");
    run_command::<Command>(&["dataset", "--env", "point-gap", "--out", arg(&data)])?;
    let mut train = vec!["train", "--env", "point-gap", "--dataset", arg(&data), "--out", arg(&policy)];
    train.extend(TINY);
    run_command::<Command>(&train)?;
    Ok(vec![
        Fixture::new("offline-rl dataset").text(&["--env", "point-gap", "--out"]).out(dir.join("new.npz")),
        Fixture::new("offline-rl train")
            .text(&["--env", "point-gap", "--dataset"])
            .input(&data, Format::Npz)
            .text(&TINY)
            .text(&["--out"])
            .out(dir.join("trained")),
        Fixture::new("offline-rl eval")
            .text(&["--env", "point-gap", "--episodes", "1", "--checkpoint"])
            .input(&policy, Format::Folder),
    ])
}

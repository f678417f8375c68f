//! The bad-input battery's fixtures for paper 6's commands
//! ([`reprolab_core::battery`]): a synthetic set distilled for one
//! iteration on the embedded digits, and the command lines.

use crate::cli::Command;
use anyhow::Result;
use reprolab_core::battery::{Fixture, Format, arg, run_command};
use std::path::Path;

const TINY: [&str; 6] = ["--attack", "doorping", "--ipc", "2", "--iterations", "1"];

pub fn fixtures(dir: &Path) -> Result<Vec<Fixture>> {
    let synthetic = dir.join("synthetic");
    let mut distill = vec!["distill", "--out", arg(&synthetic)];
    distill.extend(TINY);
    run_command::<Command>(&distill)?;
    Ok(vec![
        Fixture::new("distill-backdoor distill").text(&TINY).text(&["--out"]).out(dir.join("distilled")),
        Fixture::new("distill-backdoor evaluate")
            .text(&["--networks", "1", "--synthetic"])
            .input(&synthetic, Format::Folder),
    ])
}

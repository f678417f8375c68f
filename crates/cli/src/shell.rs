//! Shell completions and man pages, generated from the same clap command
//! the binary parses (method commands included), so they never drift from
//! the flags.

use anyhow::Result;
use std::path::Path;
use std::process::ExitCode;

/// `reprolab completions SHELL`: the completion script on stdout, e.g.
/// `reprolab completions bash > ~/.local/share/bash-completion/completions/reprolab`.
pub fn completions(shell: clap_complete::Shell, mut cmd: clap::Command) -> Result<ExitCode> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, "reprolab", &mut script);
    reprolab_core::cli::emit(&String::from_utf8(script)?)?;
    Ok(ExitCode::SUCCESS)
}

/// `reprolab man`: `reprolab.1` on stdout; with `--out DIR`, one page per
/// visible command (`reprolab.1`, `reprolab-run.1`, `reprolab-drums-train.1`,
/// ...) in DIR, for `MANPATH`.
pub fn man(cmd: clap::Command, out: Option<&Path>) -> Result<ExitCode> {
    match out {
        None => {
            let mut page = Vec::new();
            clap_mangen::Man::new(cmd).render(&mut page)?;
            reprolab_core::cli::emit(&String::from_utf8(page)?)?;
        }
        Some(dir) => {
            let cannot = |e: std::io::Error| {
                reprolab_core::user_error(format!("{}: cannot write man pages there ({e})", dir.display()))
            };
            std::fs::create_dir_all(dir).map_err(cannot)?;
            clap_mangen::generate_to(cmd, dir).map_err(cannot)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

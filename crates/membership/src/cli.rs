//! The membership crate's own commands, `reprolab membership <command>`:
//! today one, `audit`, which runs the attacks on a user's own model
//! outputs (see [`crate::audit`]).

use anyhow::Result;
use reprolab_core::cli::{MethodCli, default_out, emit_json_or_text, existing};
use std::path::PathBuf;
use std::process::ExitCode;

/// `reprolab membership ...`.
#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Run every applicable membership-inference attack on a model's per-example outputs.
    ///
    /// FILE is CSV (columns id, label, optional member 0/1, and logit_0.. or prob_0..) or NPZ
    /// (arrays id, label, optional member, logits or probs). Shadow files use the same format
    /// with member; they enable the calibrated, LiRA and RMIA attacks. Rows with an optional
    /// population column (array) set to 1 are data no model trained on: RMIA's population,
    /// not scored.
    Audit {
        /// The audited model's outputs.
        #[arg(long, value_name = "FILE")]
        input: PathBuf,
        /// Outputs of shadow models on the same examples (repeatable).
        #[arg(long, value_name = "FILE", num_args = 1..)]
        shadows: Vec<PathBuf>,
        /// Output directory (default: runs/<UTC timestamp>-audit).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Print the report as one JSON object on stdout.
        #[arg(long)]
        json: bool,
    },
}

impl MethodCli for Command {
    fn run(self) -> Result<ExitCode> {
        match self {
            Command::Audit { input, shadows, out, json } => audit(input, &shadows, out, json),
        }
    }
}

/// `reprolab membership audit`: checks the files exist, runs the audit into
/// `out` (default `runs/<UTC time>-audit`) and prints its report.
fn audit(input: PathBuf, shadows: &[PathBuf], out: Option<PathBuf>, json: bool) -> Result<ExitCode> {
    existing(std::iter::once(input.as_path()).chain(shadows.iter().map(PathBuf::as_path)))?;
    let out = out.unwrap_or_else(|| default_out("audit"));
    let audit = crate::audit::audit(&input, shadows, &out)?;
    emit_json_or_text(json, &audit, || {
        format!("{}\nWritten to {}\n", crate::audit::summary_markdown(&audit), out.display())
    })?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    fn parse(args: &[&str]) -> Result<Command, clap::Error> {
        reprolab_core::cli::parse(args)
    }

    #[test]
    fn audit_parses_its_flags_and_defaults() {
        let Command::Audit { input, shadows, out, json } = parse(&["audit", "--input", "m.csv"]).unwrap();
        assert_eq!(input, PathBuf::from("m.csv"));
        assert!(shadows.is_empty() && out.is_none() && !json);
        let Command::Audit { shadows, out, json, .. } =
            parse(&["audit", "--input", "m.csv", "--shadows", "a.csv", "b.npz", "--out", "o", "--json"]).unwrap();
        assert_eq!(shadows, [PathBuf::from("a.csv"), PathBuf::from("b.npz")]);
        assert_eq!(out, Some(PathBuf::from("o")));
        assert!(json);
    }

    #[test]
    fn audit_refuses_a_missing_input_flag_and_unknown_flags() {
        assert!(parse(&["audit"]).is_err());
        assert!(parse(&["audit", "--input", "m.csv", "--shadow", "a.csv"]).is_err());
        assert!(parse(&[]).is_err(), "a subcommand is required");
    }

    #[test]
    fn a_missing_input_file_is_a_user_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.csv");
        let cmd =
            Command::Audit { input: missing.clone(), shadows: vec![], out: Some(dir.path().join("o")), json: true };
        let err = cmd.run().unwrap_err();
        assert!(reprolab_core::is_user_error(&err), "{err}");
        assert!(err.to_string().contains("nope.csv: no such file"), "{err}");
        assert!(!dir.path().join("o").exists(), "nothing is written before the inputs are checked");
    }
}

//! How a method describes its commands to the bad-input battery
//! (`crates/cli/tests/battery.rs`), the way scikit-learn's
//! `check_estimator` runs one set of checks on every estimator.
//!
//! A method with commands gives [`crate::cli::Commands::with_fixtures`] a
//! function that writes small valid inputs into a folder and returns, per
//! command, the argument list that runs successfully on them, with each
//! file argument marked as an [`Arg::Input`] of a [`Format`] and each output
//! as an [`Arg::Out`]. The battery derives the bad inputs from the format
//! (missing, empty, a folder, truncated, garbage, header only, NaN, wrong
//! shape, ...), runs the binary on each and checks exit code 2, one line
//! naming the file, no panic and no output left behind. A command added
//! later is checked as soon as it has a fixture; the battery fails for a
//! command without one.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// One command that succeeds on the inputs its fixture wrote.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Fixture {
    /// `<method> <subcommand>`, as typed after `reprolab` (e.g. `fair-kd train`).
    pub command: String,
    /// The arguments after the command words.
    pub args: Vec<Arg>,
    /// Bad inputs the command handles without an error, by design, with
    /// the reason the README table shows (e.g. a groove text is free text).
    #[serde(default)]
    pub accepts: Vec<Accepted>,
}

/// One argument of a [`Fixture`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Arg {
    /// A flag or value given as is.
    Text { value: String },
    /// A file or folder the command reads.
    Input { path: PathBuf, format: Format },
    /// A file or folder the command writes (it must not exist yet).
    Out { path: PathBuf },
}

/// What an input is, so the battery knows which bad versions to make.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "format", rename_all = "snake_case")]
pub enum Format {
    /// A CSV with a header. `numeric` are columns that must hold finite
    /// numbers; `named` are columns the command names on its command line
    /// (renaming one gives "unknown column"); `id` is a column whose values
    /// must be unique.
    Csv { numeric: Vec<String>, named: Vec<String>, id: Option<String> },
    /// A NumPy `.npz` archive of float arrays with one row per example.
    Npz,
    /// Any other binary file (MIDI, HDF5, IDX, safetensors).
    Binary,
    /// A text file with a grammar of its own (groove text, TOML).
    Text,
    /// A folder a command wrote (a model or a distilled set).
    Folder,
}

/// A bad input a command accepts, and why.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Accepted {
    /// The bad input's name in the battery (e.g. `one_row`).
    pub bad: String,
    /// The index in [`Fixture::args`] of the input it applies to.
    pub arg: usize,
    pub why: String,
}

impl Fixture {
    pub fn new(command: &str) -> Self {
        Self { command: command.to_string(), args: Vec::new(), accepts: Vec::new() }
    }

    /// Adds flags or values given as they are.
    pub fn text(mut self, values: &[&str]) -> Self {
        self.args.extend(values.iter().map(|v| Arg::Text { value: v.to_string() }));
        self
    }

    /// Adds an input path.
    pub fn input(mut self, path: impl Into<PathBuf>, format: Format) -> Self {
        self.args.push(Arg::Input { path: path.into(), format });
        self
    }

    /// Adds an output path.
    pub fn out(mut self, path: impl Into<PathBuf>) -> Self {
        self.args.push(Arg::Out { path: path.into() });
        self
    }

    /// Declares a bad input of the input added last that the command
    /// accepts by design.
    pub fn accepts(mut self, bad: &str, why: &str) -> Self {
        let arg = self.args.iter().rposition(|a| matches!(a, Arg::Input { .. })).expect("accepts() follows an input()");
        self.accepts.push(Accepted { bad: bad.to_string(), arg, why: why.to_string() });
        self
    }
}

impl Format {
    /// A CSV format (see [`Format::Csv`]).
    pub fn csv(numeric: &[&str], named: &[&str], id: Option<&str>) -> Self {
        let own = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
        Format::Csv { numeric: own(numeric), named: own(named), id: id.map(str::to_string) }
    }
}

/// Runs one of a method's own commands from its fixture function (to make
/// the folders other commands read, e.g. a trained model for `eval`), as
/// the binary would run `reprolab <method> ARGS`.
pub fn run_command<C: crate::cli::MethodCli>(args: &[&str]) -> anyhow::Result<()> {
    let command = crate::cli::parse::<C>(args).map_err(|e| anyhow::anyhow!("fixture command {args:?}: {e}"))?;
    command.run().map(drop)
}

/// A path as a fixture's argument (fixture folders are made by the battery
/// and have UTF-8 names).
pub fn arg(path: &std::path::Path) -> &str {
    path.to_str().expect("fixture paths are UTF-8")
}

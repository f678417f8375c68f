//! What every method's commands share: how a method crate hands its clap
//! subcommands to the `reprolab` binary ([`Commands`]), stdout that
//! survives a closed pipe, JSON-or-text output, and the default run folder.
//!
//! A method crate writes its commands in its own `src/cli.rs` as a
//! `#[derive(clap::Subcommand)]` enum implementing [`MethodCli`], and puts
//! `commands: Some(Commands::of::<cli::Command>("..."))` in its `METHOD`;
//! the binary then offers them as `reprolab <method> <command>`.

use anyhow::Result;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// A method's subcommands, as clap parses them.
pub trait MethodCli: clap::Subcommand + Sized {
    /// Runs the parsed command.
    fn run(self) -> Result<ExitCode>;
}

/// A method's commands, type-erased so `Method` stays a plain constant.
#[derive(Clone, Copy, Debug)]
pub struct Commands {
    /// One line for `reprolab --help` (e.g. "Paper 8 tools: ...").
    pub about: &'static str,
    /// The clap command holding the method's subcommands.
    pub build: fn() -> clap::Command,
    /// Parses the matches of `build` and runs the command.
    pub run: fn(&clap::ArgMatches) -> Result<ExitCode>,
    /// Writes small valid inputs for every command into the folder and
    /// returns the commands that run on them, for the bad-input battery
    /// ([`crate::battery`]); the battery fails for a command left out.
    pub fixtures: fn(&Path) -> Result<Vec<crate::battery::Fixture>>,
}

impl Commands {
    /// The commands of the subcommand enum `C`.
    pub const fn of<C: MethodCli>(about: &'static str) -> Self {
        Self { about, build: build::<C>, run: run::<C>, fixtures: no_fixtures }
    }

    /// The same commands with the battery's fixtures ([`crate::battery`]).
    pub const fn with_fixtures(self, fixtures: fn(&Path) -> Result<Vec<crate::battery::Fixture>>) -> Self {
        Self { fixtures, ..self }
    }

    /// The clap command `reprolab <name>`.
    pub fn command(&self, name: &'static str) -> clap::Command {
        // clap drops the full stop of doc-comment abouts; match them.
        (self.build)().name(name).about(self.about.trim_end_matches('.'))
    }
}

/// Parses `args` (without the program and method names) as the binary
/// would after `reprolab <method>`: what a method's tests of its own
/// command line call.
pub fn parse<C: clap::Subcommand>(args: &[&str]) -> Result<C, clap::Error> {
    let matches = build::<C>().try_get_matches_from(std::iter::once("method").chain(args.iter().copied()))?;
    C::from_arg_matches(&matches)
}

/// Refuses a path that is not UTF-8 for a command that records its
/// settings (a train folder's config.toml, a run's plan and report): TOML
/// and JSON hold only UTF-8, and a record that cannot name its input
/// cannot repeat the run. One line, exit code 2, instead of a serializer's
/// "path contains invalid UTF-8 characters" at exit code 1.
pub fn require_utf8(path: &Path) -> Result<()> {
    if path.to_str().is_none() {
        crate::user_bail!(
            "{}: not a UTF-8 path; reprolab records the paths a run used (config.toml, report.json) so it can be repeated, and those files hold UTF-8 only: rename it",
            path.display()
        );
    }
    Ok(())
}

fn no_fixtures(_: &Path) -> Result<Vec<crate::battery::Fixture>> {
    Ok(Vec::new())
}

fn build<C: clap::Subcommand>() -> clap::Command {
    C::augment_subcommands(clap::Command::new("method")).subcommand_required(true).arg_required_else_help(true)
}

fn run<C: MethodCli>(matches: &clap::ArgMatches) -> Result<ExitCode> {
    let command = C::from_arg_matches(matches).map_err(|e| crate::user_error(e.to_string().trim().to_string()))?;
    command.run()
}

/// Writes to stdout; a closed pipe (`reprolab list | head`) ends output
/// quietly instead of panicking like `println!` would.
pub fn emit(text: &str) -> Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// `value` as one JSON line when `json`, else the text `text()` builds.
pub fn emit_json_or_text<T: serde::Serialize>(json: bool, value: &T, text: impl FnOnce() -> String) -> Result<()> {
    if json { emit(&format!("{}\n", serde_json::to_string(value)?)) } else { emit(&text()) }
}

/// The current UTC time, RFC 3339 to the second.
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

/// `runs/<UTC time to the millisecond>-<suffix>` (colons replaced, so it is
/// a valid folder name everywhere): where a command writes when `--out` is
/// not given.
pub fn default_out(suffix: &str) -> PathBuf {
    PathBuf::from("runs").join(format!("{}-{suffix}", unique_stamp()))
}

/// `runs/<UTC time to the millisecond>`, a fresh folder for `run` and
/// `reproduce` without `--out`.
pub fn default_run_dir() -> PathBuf {
    PathBuf::from("runs").join(unique_stamp())
}

/// The UTC time to the millisecond, `:` replaced by `-`; a suffix of the
/// process id keeps two commands started in the same millisecond apart.
fn unique_stamp() -> String {
    let now = humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string().replace(':', "-");
    format!("{now}-{}", std::process::id())
}

/// Checks that each path a user passed exists (a user error naming it).
pub fn existing<'a>(paths: impl IntoIterator<Item = &'a Path>) -> Result<()> {
    for p in paths {
        crate::registry::existing_path(p)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(clap::Subcommand, Debug, PartialEq)]
    enum Toy {
        /// Adds one.
        Inc {
            #[arg(long)]
            n: u32,
        },
    }

    impl MethodCli for Toy {
        fn run(self) -> Result<ExitCode> {
            let Toy::Inc { n } = self;
            if n == 0 {
                crate::user_bail!("--n must be at least 1");
            }
            Ok(ExitCode::SUCCESS)
        }
    }

    #[test]
    fn commands_parse_and_run_their_subcommands() {
        let c = Commands::of::<Toy>("Toy tools");
        let cmd = c.command("toy");
        assert_eq!(cmd.get_name(), "toy");
        let m = cmd.clone().try_get_matches_from(["toy", "inc", "--n", "2"]).unwrap();
        assert_eq!((c.run)(&m).unwrap(), ExitCode::SUCCESS);
        let m = cmd.clone().try_get_matches_from(["toy", "inc", "--n", "0"]).unwrap();
        assert!(crate::is_user_error(&(c.run)(&m).unwrap_err()));
        assert!(cmd.try_get_matches_from(["toy", "inc", "--n", "x"]).is_err());
        assert_eq!(parse::<Toy>(&["inc", "--n", "3"]).unwrap(), Toy::Inc { n: 3 });
        assert!(parse::<Toy>(&["inc"]).is_err());
    }

    #[test]
    fn default_out_is_a_timestamped_folder_under_runs() {
        let p = default_out("audit");
        assert!(p.starts_with("runs"));
        let name = p.file_name().unwrap().to_string_lossy();
        assert!(name.ends_with("-audit") && !name.contains(':'), "{name}");
        assert!(name.contains('.'), "milliseconds in {name}");
        assert_ne!(default_run_dir(), p);
    }
}

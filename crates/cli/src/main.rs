//! `reprolab`: list the papers, run one experiment, reproduce them all.
//!
//! The CLI holds no method logic: it parses arguments, picks methods from
//! the registry in `methods.rs`, runs them through
//! `reprolab_core::registry` and writes reports with
//! `reprolab_core::report`. Each method's own commands (`reprolab drums
//! encode`, ...) live in its crate's `cli.rs` and are only dispatched here.
//! User errors exit with code 2 and one line.

mod commands;
mod export;
mod fixtures;
mod methods;
mod runner;
mod shell;

/// mimalloc keeps freed tensor buffers for reuse; glibc's malloc returns
/// every buffer above 128 KiB to the OS and faults it in again next step.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use reprolab_core::registry::{Method, Preset};
use std::path::PathBuf;
use std::process::ExitCode;

/// The git commit this binary was built from (build.rs; "unknown" outside a checkout).
const GIT_COMMIT: &str = env!("REPROLAB_GIT_COMMIT");
/// `reprolab --version`: the crate version and the commit.
const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("REPROLAB_GIT_COMMIT"), ")");

#[derive(Parser, Debug)]
#[command(
    name = "reprolab",
    version = VERSION,
    about = "Faithful Rust implementations of ten ML papers, each with an honest laptop-scale check of its central claim.",
    long_about = "Faithful Rust implementations of ten ML papers, each with an honest laptop-scale check of its central claim.\n\n\
Start with `reprolab list` to see the papers, `reprolab run selfcheck --preset smoke` to try the pipeline, and \
`reprolab reproduce` to run every implemented claim check and write a report. Each method's own tools are \
under `reprolab <method>` (e.g. `reprolab drums --help`)."
)]
struct Cli {
    /// The workbench's commands; `None` when a method's own command ran
    /// (those are added from the registry, see [`command_line`]).
    #[command(subcommand)]
    command: Option<Command>,
    /// Compute backend: `flex` (CPU, default) or a GPU backend compiled in with a cargo feature (e.g. `vulkan`).
    #[arg(long, global = true, env = "REPROLAB_DEVICE")]
    device: Option<String>,
    /// Hide progress bars.
    #[arg(long, short, global = true)]
    quiet: bool,
    /// More log output on stderr (-v info, -vv debug). RUST_LOG overrides.
    #[arg(long, short, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// List the ten papers, their method names and whether each is implemented.
    List {
        /// Print one JSON object on stdout instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Run one method's claim check and write its report.
    Run {
        /// Method name, as `reprolab list` shows it (e.g. selfcheck, offline-rl).
        method: String,
        #[command(flatten)]
        common: RunArgs,
        /// Number of seeds (0..N), overriding the preset's.
        #[arg(long, conflicts_with = "seed_list")]
        seeds: Option<usize>,
        /// Run these seeds instead of 0..N (e.g. 3,7); a unit's data and
        /// initialisation come from its seed.
        #[arg(long, value_name = "S,S,...", value_delimiter = ',')]
        seed_list: Option<Vec<u64>>,
        /// TOML file overriding any of the preset's hyper-parameters.
        #[arg(long, value_name = "FILE.toml")]
        config: Option<PathBuf>,
    },
    /// Run every implemented claim check; write REPORT.md, report.json and index.html.
    Reproduce {
        #[command(flatten)]
        common: RunArgs,
        /// Only these methods (comma-separated names).
        #[arg(long, value_delimiter = ',')]
        only: Vec<String>,
    },
    /// Write the plan and the cluster scripts of a run without running it (submit them by hand).
    Plan {
        #[command(flatten)]
        common: RunArgs,
        /// Only these methods (comma-separated names).
        #[arg(long, value_delimiter = ',')]
        only: Vec<String>,
    },
    /// Print a shell completion script (e.g. `reprolab completions bash > /etc/bash_completion.d/reprolab`).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (reprolab.1), or write one page per command into --out DIR.
    Man {
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Convert a model checkpoint (a train command's --out) for another framework.
    ///
    /// `--format pytorch` writes safetensors that the matching module of
    /// bench/export/reprolab_torch.py loads with load_state_dict(strict=True).
    Export {
        /// The checkpoint directory (holding model.safetensors and state.json).
        #[arg(long, value_name = "DIR")]
        checkpoint: PathBuf,
        #[arg(long, value_enum)]
        format: export::Format,
        /// The file to write (e.g. actor.safetensors).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// The method that wrote the checkpoint (default: the "method" of DIR/report.json).
        #[arg(long)]
        method: Option<String>,
    },
    /// Run one unit of a written plan (what `--jobs N` workers and Slurm array tasks call).
    #[command(hide = true)]
    Unit {
        /// The run directory holding plan/<method>.json.
        #[arg(long, value_name = "DIR")]
        run_dir: PathBuf,
        #[arg(long)]
        method: String,
        /// shared or main.
        #[arg(long, default_value = "main")]
        stage: String,
        /// The unit's index within its stage.
        #[arg(long)]
        index: usize,
    },
    /// Write every command's bad-input battery fixtures into DIR (tests/battery.rs).
    #[command(hide = true)]
    Fixtures {
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
    },
}

/// The whole command line: the workbench's commands, then every
/// registered method's own commands as `reprolab <method> ...`.
fn command_line(methods: &[Method]) -> clap::Command {
    let mut cmd = Cli::command().subcommand_required(true).arg_required_else_help(true);
    for m in methods {
        if let Some(commands) = &m.commands {
            cmd = cmd.subcommand(commands.command(m.name));
        }
    }
    cmd
}

#[derive(clap::Args, Debug)]
struct RunArgs {
    /// Experiment scale: smoke (seconds), quick (a fast look, default), full (the registered evidence), paper (the paper's scale).
    #[arg(long, value_enum)]
    preset: Option<Preset>,
    /// Output directory (default: runs/<UTC timestamp>).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Write into an --out directory that already holds files (finished units with the same options are reused).
    #[arg(long)]
    overwrite: bool,
    /// Continue the run in DIR: finished units are read from its cache, the rest computed (same options as it started with).
    #[arg(long, value_name = "DIR")]
    resume: Option<PathBuf>,
    /// Units at once on this machine (worker processes; default: one per core). 1 runs them in this process.
    #[arg(long, short = 'j')]
    jobs: Option<usize>,
    /// Where units run: local (this machine) or slurm (job arrays through sbatch).
    #[arg(long, value_enum)]
    executor: Option<runner::ExecutorKind>,
    /// Extra sbatch option for every array job (repeatable), e.g. --sbatch-arg=--partition=cpu.
    #[arg(long, value_name = "ARG", allow_hyphen_values = true)]
    sbatch_arg: Vec<String>,
    /// Milliseconds between two squeue polls.
    #[arg(long, default_value_t = 1000, hide = true)]
    slurm_poll_ms: u64,
    /// Directory with real datasets (default: $REPROLAB_DATA).
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Print one JSON object on stdout (the report) instead of the summary table.
    #[arg(long)]
    json: bool,
}

fn init_logging(verbose: u8) {
    let level = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level));
    let _ =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).try_init();
}

/// Panics are bugs: report them in one line, not a backtrace dump.
fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        let at = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
        eprintln!("reprolab: internal error (a bug, please report it): {}{at}", msg.lines().next().unwrap_or(""));
    }));
}

fn main() -> ExitCode {
    install_panic_hook();
    reprolab_core::provenance::set_build_commit(GIT_COMMIT);
    let methods = methods::all();
    let parsed = command_line(&methods).try_get_matches().and_then(|m| Ok((Cli::from_arg_matches(&m)?, m)));
    let (cli, matches) = match parsed {
        Ok(parsed) => parsed,
        Err(e) if e.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print(); // `reprolab` or `reprolab drums` alone: the help, on stderr
            return ExitCode::from(2);
        }
        Err(e) if e.use_stderr() => {
            eprintln!("reprolab: {}", clap_one_line(&e));
            return ExitCode::from(2);
        }
        Err(e) => {
            let _ = e.print(); // --help, --version
            return ExitCode::SUCCESS;
        }
    };
    init_logging(cli.verbose);
    reprolab_core::progress::set_quiet(cli.quiet);
    // The hook above already reported a panic; nothing is used after one.
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        reprolab_core::device::choose(cli.device.as_deref())?;
        let Some(command) = cli.command else { return run_method_command(&methods, &matches) };
        match command {
            Command::List { json } => commands::list(&methods, json),
            Command::Run { method, common, seeds, seed_list, config } => {
                let seeds = chosen_seeds(seeds, seed_list)?;
                runner::execute(&common.to_request(vec![method], seeds, config)?, common.json, true)
            }
            Command::Reproduce { common, only } => {
                runner::execute(&common.to_request(only, None, None)?, common.json, false)
            }
            Command::Plan { common, only } => runner::plan(&common.to_request(only, None, None)?),
            Command::Completions { shell } => shell::completions(shell, command_line(&methods)),
            Command::Man { out } => shell::man(command_line(&methods), out.as_deref()),
            Command::Export { checkpoint, format, out, method } => {
                export::export(&methods, &checkpoint, format, &out, method.as_deref())
            }
            Command::Unit { run_dir, method, stage, index } => runner::unit(&run_dir, &method, stage.parse()?, index),
            Command::Fixtures { dir } => fixtures::write(&methods, &dir),
        }
    }));
    match result {
        Ok(Ok(code)) => code,
        Ok(Err(err)) if reprolab_core::is_user_error(&err) => {
            eprintln!("reprolab: {}", one_line(&err));
            ExitCode::from(2)
        }
        Ok(Err(err)) => {
            eprintln!("reprolab: error: {}", one_line(&err));
            ExitCode::from(1)
        }
        Err(_) => ExitCode::from(101),
    }
}

/// `reprolab <method> <command>`: hands the method's matches to its crate.
fn run_method_command(methods: &[Method], matches: &clap::ArgMatches) -> anyhow::Result<ExitCode> {
    let (name, sub) = matches.subcommand().ok_or_else(|| anyhow::anyhow!("no command given"))?;
    let commands = methods
        .iter()
        .find(|m| m.name == name)
        .and_then(|m| m.commands)
        .ok_or_else(|| anyhow::anyhow!("'{name}' is not a method with commands"))?;
    (commands.run)(sub)
}

/// A command-line error on one line, like every other user error: clap's
/// message with its hints ("[possible values: ...]", the usage), without
/// the "For more information" footer.
fn clap_one_line(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let lines: Vec<&str> =
        text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with("For more information")).collect();
    lines.join(" ").trim_start_matches("error: ").to_string()
}

/// The error chain on one line ("context: cause").
fn one_line(err: &anyhow::Error) -> String {
    let parts: Vec<String> = err.chain().map(|e| e.to_string().replace('\n', " ")).collect();
    let mut out: Vec<String> = Vec::new();
    for p in parts {
        if !out.iter().any(|o| o.contains(&p)) {
            out.push(p);
        }
    }
    out.join(": ")
}

/// `--seeds N` (0..N) or `--seed-list S,S,...` as the list of seeds.
fn chosen_seeds(count: Option<usize>, list: Option<Vec<u64>>) -> anyhow::Result<Option<Vec<u64>>> {
    match (count, list) {
        (Some(0), _) => reprolab_core::user_bail!("--seeds must be at least 1"),
        (Some(n), _) => Ok(Some((0..n as u64).collect())),
        (None, Some(list)) => {
            if list.is_empty()
                || !reprolab_core::registry::all_distinct(&list)
                || list.iter().any(|&s| s > i64::MAX as u64)
            {
                reprolab_core::user_bail!("--seed-list must name distinct seeds below 2^63, got {list:?}");
            }
            Ok(Some(list))
        }
        (None, None) => Ok(None),
    }
}

impl RunArgs {
    fn to_request(
        &self,
        only: Vec<String>,
        seeds: Option<Vec<u64>>,
        config: Option<PathBuf>,
    ) -> anyhow::Result<runner::Request> {
        let preset = self.preset;
        for p in [&self.data, &config, &self.resume].into_iter().flatten() {
            reprolab_core::registry::existing_path(p)?;
        }
        for p in [&self.data, &config, &self.resume, &self.out].into_iter().flatten() {
            reprolab_core::cli::require_utf8(p)?;
        }
        if self.jobs == Some(0) {
            reprolab_core::user_bail!("--jobs must be at least 1");
        }
        Ok(runner::Request {
            preset,
            only,
            seeds,
            config,
            data: self.data.clone(),
            out: self.out.clone(),
            resume: self.resume.clone(),
            overwrite: self.overwrite,
            jobs: self.jobs,
            executor: self.executor,
            sbatch_args: self.sbatch_arg.clone(),
            poll_ms: self.slurm_poll_ms,
        })
    }
}

#[cfg(test)]
mod tests {
    /// clap's own consistency checks over the whole command line, method
    /// commands included (a flag clashing with a global one fails here).
    #[test]
    fn the_command_line_is_consistent() {
        super::command_line(&super::methods::all()).debug_assert();
    }
}

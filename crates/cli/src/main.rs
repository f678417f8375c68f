//! `reprolab`: list the papers, run one experiment, reproduce them all.
//!
//! The CLI holds no method logic: it parses arguments, picks methods from
//! the registry in `methods.rs`, runs them through
//! `reprolab_core::registry` and writes reports with
//! `reprolab_core::report`. User errors exit with code 2 and one line.

mod commands;
mod methods;
mod runner;

/// mimalloc keeps freed tensor buffers for reuse; glibc's malloc returns
/// every buffer above 128 KiB to the OS and faults it in again next step.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "reprolab",
    version,
    about = "Faithful Rust implementations of ten ML papers, each with an honest laptop-scale check of its central claim.",
    long_about = "Faithful Rust implementations of ten ML papers, each with an honest laptop-scale check of its central claim.\n\n\
Start with `reprolab list` to see the papers, `reprolab run selfcheck --preset smoke` to try the pipeline, and \
`reprolab reproduce` to run every implemented claim check and write a report."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
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
        #[arg(long)]
        seeds: Option<usize>,
        /// TOML file overriding any of the preset's hyper-parameters.
        #[arg(long, value_name = "FILE.toml")]
        config: Option<PathBuf>,
    },
    /// Paper 1 tools: write a behaviour dataset, train an offline RL policy from dataset files, evaluate it.
    OfflineRl {
        #[command(subcommand)]
        command: OfflineRlCommand,
    },
    /// Paper 3 tools: audit your own model's outputs for membership leakage.
    Membership {
        #[command(subcommand)]
        command: MembershipCommand,
    },
    /// Paper 6 tools: distil a dataset (optionally backdoored) and evaluate a synthetic set.
    DistillBackdoor {
        #[command(subcommand)]
        command: DistillBackdoorCommand,
    },
    /// Paper 8 tools: the groove text codec and the structural evaluation.
    Drums {
        #[command(subcommand)]
        command: DrumsCommand,
    },
    /// Paper 10 tools: group-fairness gaps of a classifier's predictions.
    FairKd {
        #[command(subcommand)]
        command: FairKdCommand,
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
}

#[derive(Subcommand, Debug)]
enum MembershipCommand {
    /// Run every applicable membership-inference attack on a model's per-example outputs.
    ///
    /// FILE is CSV (columns id, label, optional member 0/1, and logit_0.. or prob_0..) or NPZ
    /// (arrays id, label, optional member, logits or probs). Shadow files use the same format
    /// with member; they enable the calibrated and LiRA attacks.
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

#[derive(Subcommand, Debug)]
enum DrumsCommand {
    /// Structural metrics of text grooves (the paper's table): mean measure stability, gap between
    /// the 2-means centres and spread within clusters.
    Eval {
        /// Groove text files, or folders of .txt grooves.
        #[arg(required = true, value_name = "DIR_OR_FILES")]
        paths: Vec<PathBuf>,
        /// Print one JSON object {"grooves", "mean_stability", "centre_gap", "spread"}.
        #[arg(long)]
        json: bool,
    },
    /// Encode a drum MIDI file as the paper's text (16 measures of 16th-note lines).
    Encode {
        /// A drum MIDI file in an x/4 time signature.
        #[arg(value_name = "FILE.mid")]
        input: PathBuf,
        /// Write the text here (default: stdout).
        #[arg(long, value_name = "FILE.txt")]
        out: Option<PathBuf>,
    },
    /// Train the groove Transformer of the experiment (optionally pre-trained on English text) and save it.
    Train {
        /// Where to save the model (safetensors + state.json).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Model and training settings of this experiment preset: smoke, quick or paper.
        #[arg(long, default_value = "quick")]
        preset: String,
        /// Pre-train on natural-language text first (the preset's corpus).
        #[arg(long)]
        pretrained: bool,
        /// Train on this folder of .mid or .txt grooves instead of the paper's 372.
        #[arg(long, value_name = "DIR")]
        grooves: Option<PathBuf>,
        /// Directory with real datasets, holding groove/ (default: $REPROLAB_DATA).
        #[arg(long, value_name = "DIR")]
        data: Option<PathBuf>,
        #[arg(long, default_value_t = 0)]
        seed: u64,
    },
    /// Continue a groove's first two measures with a trained model and write a playable MIDI file.
    Generate {
        /// A model saved by `drums train`.
        #[arg(long, value_name = "DIR")]
        model: PathBuf,
        /// The prompt: a drum MIDI file or a text groove (its first two non-empty measures are used).
        #[arg(long, value_name = "FILE.mid|FILE.txt")]
        prompt: PathBuf,
        /// Measures to add.
        #[arg(long, default_value_t = 14)]
        measures: usize,
        #[arg(long, default_value_t = 0.9)]
        temperature: f64,
        /// Nucleus sampling threshold (1 = off).
        #[arg(long, default_value_t = 1.0)]
        top_p: f64,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Tempo (default: from the prompt's file name, else 120).
        #[arg(long)]
        bpm: Option<f64>,
        /// The MIDI file to write (the text groove goes next to it, as .txt).
        #[arg(long, value_name = "FILE.mid")]
        out: PathBuf,
    },
    /// Decode a text groove into a playable MIDI file (General MIDI drums, channel 10).
    Decode {
        /// A groove in the paper's text format (SEP / END lines are allowed).
        #[arg(value_name = "FILE.txt")]
        input: PathBuf,
        #[arg(long, value_name = "FILE.mid")]
        out: PathBuf,
        /// Tempo (default: from a Groove MIDI Dataset file name, else 120).
        #[arg(long)]
        bpm: Option<f64>,
    },
}

#[derive(Subcommand, Debug)]
enum OfflineRlCommand {
    /// Write the behaviour dataset of an environment (.npz or .hdf5, D4RL keys).
    ///
    /// Point-mass environments: their scripted behaviour policies (the experiment's data);
    /// pendulum: uniform random episodes.
    Dataset {
        #[arg(long)]
        env: String,
        /// Episodes (pendulum only; point-mass datasets have their fixed trajectory counts).
        #[arg(long, default_value_t = 20)]
        episodes: usize,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        #[arg(long, value_name = "FILE.npz|FILE.hdf5")]
        out: PathBuf,
    },
    /// Train a policy offline from D4RL/Minari HDF5 or .npz files (several files are mixed).
    ///
    /// Writes a checkpoint (model.safetensors + state.json) at every evaluation and curve.svg.
    Train {
        #[command(flatten)]
        args: commands::OfflineRlTrain,
    },
    /// Roll a checkpoint out and print its mean return and normalised score.
    Eval {
        /// A directory written by `offline-rl train`.
        #[arg(long, value_name = "DIR")]
        checkpoint: PathBuf,
        #[arg(long)]
        env: String,
        #[arg(long, default_value_t = 20)]
        episodes: usize,
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Print one JSON object {"mean_return", "normalised_score", ...}.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
enum DistillBackdoorCommand {
    /// Distil a dataset into a few synthetic images per class, optionally under an attack.
    ///
    /// Writes synthetic.npy, labels.npy, synthetic.png (one row per class), trigger.npy and
    /// trigger.png for attacks, and distill.json.
    Distill {
        #[command(flatten)]
        args: commands::DistillArgs,
    },
    /// Train fresh networks on a `distill` folder; print clean accuracy and attack success.
    Evaluate {
        /// A folder written by `distill`.
        #[arg(long, value_name = "DIR")]
        synthetic: PathBuf,
        /// MNIST/Fashion-MNIST IDX or CIFAR-10 binary folder (default: the embedded digits).
        #[arg(long, value_name = "DIR")]
        data: Option<PathBuf>,
        /// Fresh networks to train and average.
        #[arg(long, default_value_t = 5)]
        networks: usize,
        /// Print one JSON object {"cta", "asr", "asr_with_target", ...}.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
enum FairKdCommand {
    /// Train a GNN teacher and a RELIANT student on your graph; write predictions.csv and report.json.
    ///
    /// NODES is a CSV with numeric features, a 0/1 label column, a 0/1 sensitive column and an
    /// optional id column; EDGES a CSV of node-id pairs (undirected).
    Train {
        #[command(flatten)]
        args: commands::FairKdTrain,
        /// Print the report as one JSON object on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Delta SP, delta EO and accuracy of binary predictions.
    ///
    /// FILE is a CSV with columns label (0/1), sensitive (0/1) and prediction (0/1) or
    /// probability (positive when >= 0.5).
    Bias {
        #[arg(long, value_name = "FILE")]
        predictions: PathBuf,
        /// Print one JSON object {"n", "accuracy", "delta_sp", "delta_eo"}.
        #[arg(long)]
        json: bool,
    },
}

#[derive(clap::Args, Debug)]
struct RunArgs {
    /// Experiment scale: smoke (seconds), quick (a fast look, default), full (the registered evidence), paper (the paper's scale).
    #[arg(long)]
    preset: Option<String>,
    /// Output directory (default: runs/<UTC timestamp>).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
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
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    init_logging(cli.verbose);
    reprolab_core::progress::set_quiet(cli.quiet);
    let result = std::panic::catch_unwind(|| {
        reprolab_core::device::choose(cli.device.as_deref())?;
        match cli.command {
            Command::List { json } => commands::list(json),
            Command::Run { method, common, seeds, config } => {
                runner::execute(&common.to_request(vec![method], seeds, config)?, common.json, true)
            }
            Command::Membership { command: MembershipCommand::Audit { input, shadows, out, json } } => {
                commands::membership_audit(&input, &shadows, out, json)
            }
            Command::Drums { command } => match command {
                DrumsCommand::Eval { paths, json } => commands::drums_eval(&paths, json),
                DrumsCommand::Encode { input, out } => commands::drums_encode(&input, out.as_deref()),
                DrumsCommand::Decode { input, out, bpm } => commands::drums_decode(&input, &out, bpm),
                DrumsCommand::Train { out, preset, pretrained, grooves, data, seed } => {
                    commands::drums_train(&preset, data.as_deref(), grooves.as_deref(), pretrained, seed, &out)
                }
                DrumsCommand::Generate { model, prompt, measures, temperature, top_p, seed, bpm, out } => {
                    let sample = drums::lm::SampleConfig { temperature, top_p, max_tokens: measures * 17 };
                    commands::drums_generate(&model, &prompt, measures, &sample, seed, bpm, &out)
                }
            },
            Command::OfflineRl { command } => match command {
                OfflineRlCommand::Dataset { env, episodes, seed, out } => {
                    commands::offline_rl_dataset(&env, episodes, seed, &out)
                }
                OfflineRlCommand::Train { args } => commands::offline_rl_train(args),
                OfflineRlCommand::Eval { checkpoint, env, episodes, seed, json } => {
                    commands::offline_rl_eval(&checkpoint, &env, episodes, seed, json)
                }
            },
            Command::DistillBackdoor { command: DistillBackdoorCommand::Distill { args } } => {
                commands::distill_backdoor_distill(args)
            }
            Command::DistillBackdoor {
                command: DistillBackdoorCommand::Evaluate { synthetic, data, networks, json },
            } => commands::distill_backdoor_evaluate(&synthetic, data.as_deref(), networks, json),
            Command::FairKd { command: FairKdCommand::Bias { predictions, json } } => {
                commands::fair_kd_bias(&predictions, json)
            }
            Command::FairKd { command: FairKdCommand::Train { args, json } } => commands::fair_kd_train(args, json),
            Command::Reproduce { common, only } => {
                runner::execute(&common.to_request(only, None, None)?, common.json, false)
            }
            Command::Plan { common, only } => runner::plan(&common.to_request(only, None, None)?),
            Command::Unit { run_dir, method, stage, index } => runner::unit(&run_dir, &method, stage.parse()?, index),
        }
    });
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

impl RunArgs {
    fn to_request(
        &self,
        only: Vec<String>,
        seeds: Option<usize>,
        config: Option<PathBuf>,
    ) -> anyhow::Result<runner::Request> {
        let preset = self.preset.as_deref().map(str::parse::<reprolab_core::registry::Preset>).transpose()?;
        for p in [&self.data, &config, &self.resume].into_iter().flatten() {
            reprolab_core::registry::existing_path(p)?;
        }
        if self.jobs == Some(0) {
            reprolab_core::user_bail!("--jobs must be at least 1");
        }
        if seeds == Some(0) {
            reprolab_core::user_bail!("--seeds must be at least 1");
        }
        Ok(runner::Request {
            preset,
            only,
            seeds,
            config,
            data: self.data.clone(),
            out: self.out.clone(),
            resume: self.resume.clone(),
            jobs: self.jobs,
            executor: self.executor,
            sbatch_args: self.sbatch_arg.clone(),
            poll_ms: self.slurm_poll_ms,
        })
    }
}

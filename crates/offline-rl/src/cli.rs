//! The `reprolab offline-rl ...` commands: `dataset` writes a behaviour
//! dataset, `train` learns a policy offline from dataset files, `eval`
//! scores a checkpoint. Parsing and output only; the work is in
//! [`crate::tools`].

use crate::behaviour::MdnConfig;
use crate::td3::{Algo, Td3Config};
use crate::tools;
use anyhow::Result;
use reprolab_core::cli::{MethodCli, default_out, emit, emit_json_or_text, existing};
use std::path::PathBuf;
use std::process::ExitCode;

/// Paper 1's commands.
#[derive(clap::Subcommand, Debug)]
pub enum Command {
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
    /// Writes into --out: config.toml (the settings) and report.json (provenance, then the
    /// summary) first, a checkpoint (model.safetensors + state.json) at every evaluation,
    /// metrics.jsonl (losses and evaluations as they happen) and curve.svg.
    Train {
        #[command(flatten)]
        args: TrainArgs,
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

/// The arguments of `reprolab offline-rl train`, as typed.
#[derive(clap::Args, Debug)]
pub struct TrainArgs {
    /// Environment to evaluate in while training: point-obstacle, point-obstacle-up, point-gap,
    /// point-obstacle-gap, pendulum. Leave it out for a task without a simulator here (e.g. a
    /// MuJoCo dataset): the policy then trains from the files alone and is checkpointed unevaluated.
    #[arg(long)]
    pub env: Option<String>,
    /// Dataset file(s), .hdf5/.h5 (D4RL, Minari) or .npz; several are concatenated into a mixed dataset.
    #[arg(long, required_unless_present = "resume", num_args = 1.., value_name = "FILE")]
    pub dataset: Vec<PathBuf>,
    /// bc, td3-bc, td3-rkl (the paper's method), td3-rkl-global, td3-mse-adaptive or iql (implicit
    /// Q-learning with CORL's settings; --alpha and --mdn-steps do not apply to it).
    #[arg(long, value_enum, default_value_t = Algo::Td3Rkl)]
    pub algo: Algo,
    /// Gradient updates.
    #[arg(long, default_value_t = 100_000)]
    pub steps: usize,
    /// TD3+BC's alpha (lambda = alpha / mean|Q|).
    #[arg(long, default_value_t = 2.5)]
    pub alpha: f64,
    /// Hidden layer width of actor, critics and behaviour model (two layers; CORL: 256).
    #[arg(long, default_value_t = 256)]
    pub hidden: usize,
    /// Behaviour model (MDN) fitting steps.
    #[arg(long, default_value_t = 10_000)]
    pub mdn_steps: usize,
    /// Evaluate and checkpoint every this many updates.
    #[arg(long, default_value_t = 5_000)]
    pub eval_every: usize,
    #[arg(long, default_value_t = 10)]
    pub eval_episodes: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output directory (default: runs/<UTC timestamp>-offline-rl).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Write into a non-empty --out.
    #[arg(long)]
    pub overwrite: bool,
    /// Continue the killed run in DIR (a `train` --out) from its last checkpoint, with the
    /// settings DIR records; no other setting may be given with it.
    #[arg(long, value_name = "DIR", conflicts_with_all = [
        "env", "dataset", "algo", "steps", "alpha", "hidden", "mdn_steps", "eval_every",
        "eval_episodes", "seed", "out", "overwrite",
    ])]
    pub resume: Option<PathBuf>,
}

impl MethodCli for Command {
    fn run(self) -> Result<ExitCode> {
        match self {
            Command::Dataset { env, episodes, seed, out } => dataset(&env, episodes, seed, &out),
            Command::Train { args } => train(args),
            Command::Eval { checkpoint, env, episodes, seed, json } => eval(&checkpoint, &env, episodes, seed, json),
        }
    }
}

/// `reprolab offline-rl dataset`.
fn dataset(env: &str, episodes: usize, seed: u64, out: &std::path::Path) -> Result<ExitCode> {
    let d = tools::dataset_command(env, episodes, seed, out)?;
    emit(&format!(
        "{env}: {} transitions ({} episodes) written to {}\n",
        d.len(),
        d.episode_returns().len(),
        out.display()
    ))?;
    Ok(ExitCode::SUCCESS)
}

/// `reprolab offline-rl train`.
fn train(a: TrainArgs) -> Result<ExitCode> {
    if let Some(dir) = &a.resume {
        existing([dir.as_path()])?;
        let req = match tools::resume_request(dir)? {
            tools::ResumeRequest::Finished => {
                emit(&format!("{}: the run already finished; nothing to resume\n", dir.display()))?;
                return Ok(ExitCode::SUCCESS);
            }
            tools::ResumeRequest::Continue(req) => req,
        };
        existing(req.datasets.iter().map(PathBuf::as_path))?;
        let meta = tools::resume_command(&req)?;
        return report_trained(&req, &meta);
    }
    existing(a.dataset.iter().map(PathBuf::as_path))?;
    if a.steps == 0 || a.hidden == 0 {
        reprolab_core::user_bail!("--steps and --hidden must be at least 1");
    }
    let out = a.out.unwrap_or_else(|| default_out("offline-rl"));
    let req = tools::TrainRequest {
        env: a.env,
        datasets: a.dataset,
        algo: a.algo,
        steps: a.steps,
        seed: a.seed,
        td3: Td3Config { alpha: a.alpha, hidden: vec![a.hidden; 2], ..Default::default() },
        mdn: MdnConfig { hidden: vec![a.hidden; 2], steps: a.mdn_steps, ..Default::default() },
        eval_every: a.eval_every,
        eval_episodes: a.eval_episodes,
        out: out.clone(),
        overwrite: a.overwrite,
    };
    let meta = tools::train_command(&req)?;
    report_trained(&req, &meta)
}

/// What `train` prints once it finished.
fn report_trained(req: &tools::TrainRequest, meta: &tools::PolicyMeta) -> Result<ExitCode> {
    let out = &req.out;
    let what = match (&meta.env, meta.curve.last()) {
        (Some(env), Some((_, ret))) => format!("on {env}: {} updates, last evaluation return {ret:.2}", req.steps),
        _ => format!("on {}: {} updates, not evaluated (no --env)", meta.datasets.join(" + "), req.steps),
    };
    emit(&format!("{} {what}; checkpoint, metrics.jsonl and curve.svg in {}\n", meta.algo.name(), out.display()))?;
    Ok(ExitCode::SUCCESS)
}

/// `reprolab offline-rl eval`.
fn eval(checkpoint: &std::path::Path, env: &str, episodes: usize, seed: u64, json: bool) -> Result<ExitCode> {
    existing([checkpoint])?;
    let s = tools::eval_command(checkpoint, env, episodes, seed)?;
    emit_json_or_text(json, &s, || {
        format!(
            "{} on {}: mean return {:.2} +- {:.2} over {} episodes, normalised score {:.1} (0 = {:.1}, 100 = {:.1})\n",
            s.algo, s.env, s.mean_return, s.std_return, s.episodes, s.normalised_score, s.references.0, s.references.1
        )
    })?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    fn parse(args: &[&str]) -> Result<Command, clap::Error> {
        reprolab_core::cli::parse(args)
    }

    /// `train`'s defaults are the paper's method with TD3+BC's settings.
    #[test]
    fn train_defaults_to_the_papers_method_and_td3_bc_settings() {
        let Command::Train { args } = parse(&["train", "--dataset", "d.npz"]).unwrap() else { panic!("not train") };
        assert_eq!(args.algo, Algo::Td3Rkl);
        assert_eq!((args.alpha, args.hidden, args.steps), (2.5, 256, 100_000));
        assert_eq!((args.mdn_steps, args.eval_every, args.eval_episodes, args.seed), (10_000, 5_000, 10, 0));
        assert!(args.env.is_none() && args.out.is_none() && !args.overwrite);
        let Command::Train { args } =
            parse(&["train", "--dataset", "a.npz", "b.npz", "--algo", "td3-bc", "--overwrite"]).unwrap()
        else {
            panic!("not train")
        };
        assert_eq!((args.algo, args.dataset.len(), args.overwrite), (Algo::Td3Bc, 2, true));
    }

    /// An algorithm a user cannot train (unknown, or one of the
    /// experiment's own arms) is refused while parsing.
    #[test]
    fn unknown_algorithms_are_refused_with_the_offered_ones() {
        for bad in ["cql", "td3-rkl-oracle", "td3"] {
            let e = parse(&["train", "--dataset", "d.npz", "--algo", bad]).unwrap_err();
            assert_eq!(e.kind(), clap::error::ErrorKind::InvalidValue, "{bad}");
            let text = e.to_string();
            assert!(text.contains("bc, td3-bc, td3-rkl, td3-rkl-global, td3-mse-adaptive"), "{text}");
        }
        assert!(parse(&["train"]).is_err(), "--dataset is required");
    }

    /// `train` leaves its settings, provenance, summary and per-step
    /// metrics beside the checkpoint, and writes into a used folder only
    /// with --overwrite.
    #[test]
    fn train_records_its_folder_and_refuses_a_used_one() {
        use reprolab_core::run_folder::TrainRecord;
        use reprolab_core::train::MetricsLog;
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("d.npz");
        tools::dataset_command("point-obstacle", 0, 0, &data).unwrap();
        let out = dir.path().join("run");
        let commands = crate::METHOD.commands.unwrap();
        let train = |steps: &str, extra: &[&str]| {
            let mut args = vec!["offline-rl", "train", "--env", "point-obstacle", "--dataset", data.to_str().unwrap()];
            args.extend(["--steps", steps, "--hidden", "8", "--mdn-steps", "10", "--eval-every", "10"]);
            args.extend(["--eval-episodes", "2", "--seed", "3", "--alpha", "1.5", "--out", out.to_str().unwrap()]);
            args.extend_from_slice(extra);
            (commands.run)(&commands.command("offline-rl").try_get_matches_from(args).unwrap())
        };
        train("20", &[]).unwrap();
        let config: toml::Table = std::fs::read_to_string(out.join("config.toml")).unwrap().parse().unwrap();
        assert_eq!((config["steps"].as_integer(), config["algo"].as_str()), (Some(20), Some("td3-rkl")));
        assert_eq!((config["td3"]["alpha"].as_float(), config["td3"]["batch"].as_integer()), (Some(1.5), Some(256)));
        assert_eq!(
            (config["mdn"]["steps"].as_integer(), config["mdn"]["components"].as_integer()),
            (Some(10), Some(5))
        );
        let record = TrainRecord::read(&out).unwrap();
        assert_eq!(
            (record.method.as_str(), record.command.as_str(), record.seeds.as_slice()),
            ("offline-rl", "train", &[3][..])
        );
        assert!(record.provenance.finished.is_some());
        let result: tools::TrainSummary = serde_json::from_value(record.result.clone()).unwrap();
        assert_eq!((result.algo, result.updates, result.env.as_deref()), (Algo::Td3Rkl, 20, Some("point-obstacle")));
        assert_eq!(result.evaluations.iter().map(|e| e.0).collect::<Vec<_>>(), [10, 20]);
        assert!(
            result.last_normalised_score.unwrap().is_finite() && result.behaviour_validation_log_likelihood.is_some()
        );
        let log = MetricsLog::read(&out.join("metrics.jsonl")).unwrap();
        let steps = |name: &str| -> Vec<usize> { log.iter().filter(|r| r.name == name).map(|r| r.step).collect() };
        assert_eq!(steps("behaviour/loss"), (1..=10).collect::<Vec<_>>());
        assert_eq!(steps("behaviour/validation_log_likelihood"), [10]);
        // Actor and targets update every second step (policy_freq 2): losses are logged there.
        let even: Vec<usize> = (1..=10).map(|k| 2 * k).collect();
        for name in ["critic/loss", "actor/loss", "actor/regulariser", "actor/weight_std", "actor/weight_max"] {
            assert_eq!(steps(name), even, "{name}");
        }
        assert_eq!((steps("actor/lr"), steps("critic/lr"), steps("eval/return")), (vec![0], vec![0], vec![10, 20]));
        assert_eq!(steps("eval/normalised_score"), [10, 20]);
        assert!(log.iter().all(|r| r.value.is_some_and(f64::is_finite)), "{log:?}");
        let returns: Vec<f64> = log.iter().filter(|r| r.name == "eval/return").map(|r| r.value.unwrap()).collect();
        assert_eq!(returns, result.evaluations.iter().map(|e| e.1).collect::<Vec<_>>());
        let weight_max = log.iter().find(|r| r.name == "actor/weight_max").unwrap().value.unwrap();
        assert!(weight_max >= 1.0, "w(s) has mean 1, so its largest value is at least 1: {weight_max}");
        for f in ["model.safetensors", "state.json", "curve.svg"] {
            assert!(out.join(f).exists(), "{f}");
        }

        let before: Vec<Vec<u8>> = ["report.json", "metrics.jsonl", "config.toml"]
            .iter()
            .map(|f| std::fs::read(out.join(f)).unwrap())
            .collect();
        let err = train("10", &[]).unwrap_err();
        assert!(reprolab_core::is_user_error(&err));
        assert!(err.to_string().contains("exists and is not empty; pass --overwrite"), "{err}");
        let after: Vec<Vec<u8>> = ["report.json", "metrics.jsonl", "config.toml"]
            .iter()
            .map(|f| std::fs::read(out.join(f)).unwrap())
            .collect();
        assert!(before == after, "a refused run left the first run's files as they were");
        train("10", &["--overwrite"]).unwrap();
        let again = TrainRecord::read(&out).unwrap();
        assert_eq!(again.result["updates"], 10);
        assert!(again.provenance.finished.is_some());
    }

    /// The registry's commands are these, under the method's name.
    #[test]
    fn the_method_offers_these_commands() {
        let commands = crate::METHOD.commands.expect("offline-rl has commands");
        assert!(commands.about.starts_with("Paper 1 tools"));
        let cmd = commands.command("offline-rl");
        let names: Vec<&str> = cmd.get_subcommands().map(|c| c.get_name()).collect();
        assert_eq!(names, ["dataset", "train", "eval"]);
        let m = cmd.try_get_matches_from(["offline-rl", "eval", "--checkpoint", "ck", "--env", "point-gap"]).unwrap();
        let (name, sub) = m.subcommand().unwrap();
        assert_eq!((name, sub.get_one::<usize>("episodes")), ("eval", Some(&20)));
    }
}

//! The commands `reprolab distill-backdoor distill` (distil a dataset,
//! optionally under NAIVEATTACK or DOORPING, into a folder) and
//! `reprolab distill-backdoor evaluate` (train fresh networks on such a
//! folder and measure clean accuracy and attack success); what they run is
//! in [`crate::tools`].

use crate::attack::AttackKind;
use crate::distill::Method;
use crate::tools::{DistillRequest, distill_command, evaluate_command};
use anyhow::Result;
use reprolab_core::cli::{MethodCli, default_out, emit, emit_json_or_text, existing};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `reprolab distill-backdoor <command>`.
#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Distil a dataset into a few synthetic images per class, optionally under an attack.
    ///
    /// Writes into --out: config.toml (the settings) and report.json (provenance, then the
    /// summary) first, metrics.jsonl (matching and trigger losses as they happen), then
    /// synthetic.npy, labels.npy, synthetic.png (one row per class), trigger.npy and
    /// trigger.png for attacks, and distill.json.
    Distill {
        #[command(flatten)]
        args: DistillArgs,
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

/// The arguments of `reprolab distill-backdoor distill`, as typed.
#[derive(clap::Args, Debug)]
pub struct DistillArgs {
    /// MNIST/Fashion-MNIST IDX or CIFAR-10 binary folder (default: the embedded digits).
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// dc (gradient matching) or dm (distribution matching).
    #[arg(long, value_enum, default_value_t = Method::Dc)]
    pub method: Method,
    /// Synthetic images per class.
    #[arg(long, default_value_t = 10)]
    pub ipc: usize,
    /// none, naive (NAIVEATTACK) or doorping.
    #[arg(long, value_enum, default_value_t = AttackKind::None)]
    pub attack: AttackKind,
    /// Share of the training images poisoned.
    #[arg(long, default_value_t = 0.01)]
    pub ratio: f64,
    /// Distillation iterations (default: the quick preset's, 6 for DC and 100 for DM).
    #[arg(long)]
    pub iterations: Option<usize>,
    /// Seed of the data split, the poisoning and the distillation.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output directory (default: runs/<UTC timestamp>-distill-backdoor).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Write into a non-empty --out.
    #[arg(long)]
    pub overwrite: bool,
    /// Continue the killed distillation in DIR from its last checkpoint (DIR/checkpoint, one after
    /// every iteration), with the settings DIR records (no other flag).
    #[arg(
        long,
        value_name = "DIR",
        conflicts_with_all = ["data", "method", "ipc", "attack", "ratio", "iterations", "seed", "out", "overwrite"]
    )]
    pub resume: Option<PathBuf>,
}

impl MethodCli for Command {
    fn run(self) -> Result<ExitCode> {
        match self {
            Command::Distill { args } => distill(args),
            Command::Evaluate { synthetic, data, networks, json } => {
                evaluate(&synthetic, data.as_deref(), networks, json)
            }
        }
    }
}

/// `reprolab distill-backdoor distill`.
fn distill(a: DistillArgs) -> Result<ExitCode> {
    if let Some(dir) = &a.resume {
        existing([dir.as_path()])?;
        return match crate::tools::resume_command(dir)? {
            crate::tools::Resumed::Distilled(set) => {
                print_distilled(&set, dir)?;
                Ok(ExitCode::SUCCESS)
            }
            crate::tools::Resumed::Finished(result) => {
                emit(&format!(
                    "{}: the distillation already finished (final matching loss {}); nothing to resume\n",
                    dir.display(),
                    result["final_loss"].as_f64().map_or("unknown".into(), |l| format!("{l:.3}"))
                ))?;
                Ok(ExitCode::SUCCESS)
            }
        };
    }
    existing(a.data.as_deref())?;
    let out = a.out.unwrap_or_else(|| default_out("distill-backdoor"));
    let set = distill_command(&DistillRequest {
        data_dir: a.data,
        method: a.method,
        ipc: a.ipc,
        attack: a.attack,
        ratio: a.ratio,
        iterations: a.iterations,
        seed: a.seed,
        out: out.clone(),
        overwrite: a.overwrite,
    })?;
    print_distilled(&set, &out)?;
    Ok(ExitCode::SUCCESS)
}

fn print_distilled(set: &crate::tools::SyntheticSet, out: &Path) -> Result<()> {
    emit(&format!(
        "{} {} on {}: {} images per class written to {} (final matching loss {:.3})\n",
        set.method.name(),
        set.attack.kind.name(),
        set.data,
        set.ipc,
        out.display(),
        set.loss.last().copied().unwrap_or(f64::NAN)
    ))
}

/// `reprolab distill-backdoor evaluate`.
fn evaluate(synthetic: &Path, data: Option<&Path>, networks: usize, json: bool) -> Result<ExitCode> {
    existing([synthetic])?;
    let (set, m) = evaluate_command(synthetic, data, networks)?;
    let obj = serde_json::json!({
        "data": set.data,
        "method": set.method,
        "attack": set.attack.kind,
        "networks": networks.max(1),
        "cta": m.cta,
        "asr": m.asr,
        "asr_with_target": m.asr_with_target,
    });
    emit_json_or_text(json, &obj, || {
        format!(
            "{} {} on {}, {} fresh networks: CTA {:.3}, ASR {:.3} (incl. target-class images {:.3})\n",
            set.method.name(),
            set.attack.kind.name(),
            set.data,
            networks.max(1),
            m.cta,
            m.asr,
            m.asr_with_target
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

    #[test]
    fn distill_defaults_are_clean_dc_with_ten_images_per_class() {
        let Command::Distill { args } = parse(&["distill"]).unwrap() else { panic!("not distill") };
        assert_eq!((args.method, args.attack, args.ipc, args.seed), (Method::Dc, AttackKind::None, 10, 0));
        assert_eq!(args.ratio, 0.01);
        assert!(args.data.is_none() && args.iterations.is_none() && args.out.is_none() && !args.overwrite);
        assert!(args.resume.is_none());
        let Command::Distill { args } = parse(&["distill", "--resume", "d"]).unwrap() else { panic!("not distill") };
        assert_eq!(args.resume, Some(PathBuf::from("d")));
        for extra in [&["--seed", "1"][..], &["--out", "n"], &["--overwrite"], &["--method", "dm"], &["--ipc", "2"]] {
            let mut a = vec!["distill", "--resume", "d"];
            a.extend_from_slice(extra);
            assert_eq!(parse(&a).unwrap_err().kind(), clap::error::ErrorKind::ArgumentConflict, "{extra:?}");
        }
        let Command::Distill { args } =
            parse(&["distill", "--method", "dm", "--attack", "doorping", "--overwrite"]).unwrap()
        else {
            panic!("not distill")
        };
        assert_eq!((args.method, args.attack, args.overwrite), (Method::Dm, AttackKind::Doorping, true));
        let Command::Evaluate { networks, json, .. } = parse(&["evaluate", "--synthetic", "x"]).unwrap() else {
            panic!("not evaluate")
        };
        assert_eq!((networks, json), (5, false));
    }

    #[test]
    fn unknown_methods_and_attacks_are_refused_with_the_known_ones() {
        let err = parse(&["distill", "--attack", "badnets"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::InvalidValue);
        let text = err.to_string();
        assert!(text.contains("badnets") && text.contains("none, naive, doorping"), "{text}");
        let err = parse(&["distill", "--method", "dd"]).unwrap_err();
        assert!(err.to_string().contains("dc, dm"), "{err}");
        assert!(parse(&["evaluate"]).is_err(), "--synthetic is required");
    }

    /// `distill` leaves its settings, provenance, summary and per-update
    /// metrics beside the synthetic set, and writes into a used folder only
    /// with --overwrite.
    #[test]
    fn distill_records_its_folder_and_refuses_a_used_one() {
        use reprolab_core::run_folder::TrainRecord;
        use reprolab_core::train::MetricsLog;
        let commands = crate::METHOD.commands.expect("distill-backdoor has commands");
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("syn");
        let run = |iterations: &str, extra: &[&str]| {
            let mut args = vec!["distill-backdoor", "distill", "--method", "dm", "--attack", "doorping"];
            args.extend(["--ratio", "0.05", "--ipc", "1", "--iterations", iterations, "--seed", "4"]);
            args.extend(["--out", out.to_str().unwrap()]);
            args.extend_from_slice(extra);
            (commands.run)(&commands.command("distill-backdoor").try_get_matches_from(args).unwrap())
        };
        run("3", &[]).unwrap();
        let config: toml::Table = std::fs::read_to_string(out.join("config.toml")).unwrap().parse().unwrap();
        assert_eq!((config["method"].as_str(), config["seed"].as_integer()), (Some("dm"), Some(4)));
        assert_eq!(
            (config["distill"]["iterations"].as_integer(), config["distill"]["ipc"].as_integer()),
            (Some(3), Some(1))
        );
        // Defaults filled in from the quick preset.
        assert_eq!(config["distill"]["dm_images"]["lr"].as_float(), Some(1.0));
        assert_eq!(
            (config["attack"]["kind"].as_str(), config["attack"]["ratio"].as_float()),
            (Some("doorping"), Some(0.05))
        );
        assert_eq!(
            (config["attack"]["max_steps"].as_integer(), config["net"]["side"].as_integer()),
            (Some(1000), Some(8))
        );
        let record = TrainRecord::read(&out).unwrap();
        assert_eq!(
            (record.method.as_str(), record.command.as_str(), record.seeds.as_slice()),
            ("distill-backdoor", "distill", &[4][..])
        );
        assert!(record.provenance.finished.is_some());
        let summary: crate::tools::DistillSummary = serde_json::from_value(record.result.clone()).unwrap();
        assert_eq!(
            (summary.method, summary.attack, summary.ipc, summary.iterations),
            (Method::Dm, AttackKind::Doorping, 1, 3)
        );
        // DOORPING on DM updates the trigger once an iteration, after the
        // image update, against the iteration's network (it was twice).
        assert_eq!((summary.data.as_str(), summary.trigger_updates), ("digits", 3));
        let set: crate::tools::SyntheticSet =
            serde_json::from_slice(&std::fs::read(out.join("distill.json")).unwrap()).unwrap();
        assert_eq!(summary.final_loss, *set.loss.last().unwrap());
        let log = MetricsLog::read(&out.join("metrics.jsonl")).unwrap();
        let values = |name: &str| -> Vec<(usize, f64)> {
            log.iter().filter(|r| r.name == name).map(|r| (r.step, r.value.expect("finite"))).collect()
        };
        // DM: one image update per iteration, so `loss` is distill.json's per-iteration loss.
        assert_eq!(values("loss"), set.loss.iter().enumerate().map(|(i, l)| (i + 1, *l)).collect::<Vec<_>>());
        assert_eq!(values("lr"), [(1, 1.0), (2, 1.0), (3, 1.0)]);
        assert!(values("net/lr").is_empty(), "DM has no inner network loop");
        for name in ["trigger/loss", "trigger/initial_loss", "trigger/steps"] {
            assert_eq!(values(name).iter().map(|v| v.0).collect::<Vec<_>>(), [1, 2, 3], "{name}");
        }
        assert!(values("trigger/steps").iter().all(|(_, s)| (0.0..=1000.0).contains(s) && s.fract() == 0.0));
        for f in ["synthetic.npy", "labels.npy", "synthetic.png", "trigger.npy", "trigger.png"] {
            assert!(out.join(f).exists(), "{f}");
        }

        let files = ["report.json", "metrics.jsonl", "config.toml", "distill.json"];
        let before: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(out.join(f)).unwrap()).collect();
        let err = run("1", &[]).unwrap_err();
        assert!(reprolab_core::is_user_error(&err));
        assert!(err.to_string().contains("exists and is not empty; pass --overwrite"), "{err}");
        let after: Vec<Vec<u8>> = files.iter().map(|f| std::fs::read(out.join(f)).unwrap()).collect();
        assert!(before == after, "a refused run left the first run's files as they were");
        run("1", &["--overwrite"]).unwrap();
        let again = TrainRecord::read(&out).unwrap();
        assert_eq!((again.result["iterations"].as_u64(), again.provenance.finished.is_some()), (Some(1), true));
    }

    /// DC logs every synthetic-image update (`outer_loop` per iteration)
    /// and both learning rates.
    #[test]
    fn dc_logs_every_image_update() {
        use reprolab_core::train::MetricsLog;
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("dc");
        let set = distill_command(&DistillRequest {
            data_dir: None,
            method: Method::Dc,
            ipc: 1,
            attack: AttackKind::None,
            ratio: 0.0,
            iterations: Some(1),
            seed: 0,
            out: out.clone(),
            overwrite: false,
        })
        .unwrap();
        let log = MetricsLog::read(&out.join("metrics.jsonl")).unwrap();
        let steps = |name: &str| -> Vec<usize> { log.iter().filter(|r| r.name == name).map(|r| r.step).collect() };
        // The quick preset's outer loop: 10 image updates in the iteration.
        assert_eq!(steps("loss"), (1..=10).collect::<Vec<_>>());
        assert_eq!((steps("lr"), steps("net/lr")), (vec![1], vec![1]));
        assert!(steps("trigger/loss").is_empty());
        let losses: Vec<f64> = log.iter().filter(|r| r.name == "loss").map(|r| r.value.unwrap()).collect();
        let mean = losses.iter().sum::<f64>() / losses.len() as f64;
        assert!((mean - set.loss[0]).abs() < 1e-9 * mean.abs().max(1.0), "{mean} vs {}", set.loss[0]);
    }

    #[test]
    fn the_registered_commands_run_and_report_user_errors() {
        let commands = crate::METHOD.commands.expect("distill-backdoor has commands");
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("o");
        let m = commands
            .command("distill-backdoor")
            .try_get_matches_from(["distill-backdoor", "distill", "--ipc", "0", "--out", out.to_str().unwrap()])
            .unwrap();
        let err = (commands.run)(&m).unwrap_err();
        assert!(reprolab_core::is_user_error(&err) && err.to_string().contains("--ipc"), "{err}");
        let missing = dir.path().join("missing");
        let m = commands
            .command("distill-backdoor")
            .try_get_matches_from(["distill-backdoor", "evaluate", "--synthetic", missing.to_str().unwrap()])
            .unwrap();
        assert!(reprolab_core::is_user_error(&(commands.run)(&m).unwrap_err()));
    }
}

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
    /// Writes synthetic.npy, labels.npy, synthetic.png (one row per class), trigger.npy and
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
    })?;
    emit(&format!(
        "{} {} on {}: {} images per class written to {} (final matching loss {:.3})\n",
        a.method.name(),
        a.attack.name(),
        set.data,
        set.ipc,
        out.display(),
        set.loss.last().copied().unwrap_or(f64::NAN)
    ))?;
    Ok(ExitCode::SUCCESS)
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
        assert!(args.data.is_none() && args.iterations.is_none() && args.out.is_none());
        let Command::Distill { args } = parse(&["distill", "--method", "dm", "--attack", "doorping"]).unwrap() else {
            panic!("not distill")
        };
        assert_eq!((args.method, args.attack), (Method::Dm, AttackKind::Doorping));
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

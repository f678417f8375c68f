//! The `reprolab fair-kd` commands: `train` (a teacher and a RELIANT
//! student on a user's graph, [`crate::train`]) and `bias` (the
//! group-fairness gaps of any predictions file, [`crate::bias`]).

use crate::reliant::{Metrics, Objective};
use crate::students::StudentKind;
use crate::teachers::TeacherKind;
use anyhow::Result;
use reprolab_core::cli::{MethodCli, default_out, emit_json_or_text, existing};
use std::path::PathBuf;
use std::process::ExitCode;

/// The fair-kd subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum Command {
    /// Train a GNN teacher and a RELIANT student on your graph; write predictions.csv, config.toml,
    /// metrics.jsonl and report.json.
    ///
    /// NODES is a CSV with numeric features, a 0/1 label column, a 0/1 sensitive column and an
    /// optional id column; EDGES a CSV of node-id pairs (undirected).
    Train {
        #[command(flatten)]
        args: TrainOptions,
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

/// The arguments of `reprolab fair-kd train`, as typed.
#[derive(clap::Args, Debug)]
pub struct TrainOptions {
    #[arg(long, value_name = "FILE", required_unless_present = "resume")]
    pub nodes: Option<PathBuf>,
    #[arg(long, value_name = "FILE", required_unless_present = "resume")]
    pub edges: Option<PathBuf>,
    #[arg(long, value_name = "COL", required_unless_present = "resume")]
    pub label: Option<String>,
    #[arg(long, value_name = "COL", required_unless_present = "resume")]
    pub sensitive: Option<String>,
    /// gcn or sage.
    #[arg(long, value_enum, default_value = "gcn")]
    pub teacher: TeacherKind,
    /// mlp, sgc or plp.
    #[arg(long, value_enum, default_value = "mlp")]
    pub student: StudentKind,
    /// sp, eo or none (plain distillation).
    #[arg(long, value_enum, default_value = "sp")]
    pub objective: Objective,
    /// The regulariser's weight (default 1e3, the official default for the
    /// CPF student, on the scale of the un-averaged Frobenius KD loss).
    #[arg(long, default_value_t = 1000.0)]
    pub alpha: f64,
    /// Train the adversarial proxy of the last two feature columns (the
    /// official configuration of RELIANT is the regulariser with it).
    #[arg(long)]
    pub proxy: bool,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output directory (default: runs/<UTC timestamp>-fair-kd).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Write into a non-empty --out.
    #[arg(long)]
    pub overwrite: bool,
    /// Continue the killed run in DIR (a `train` --out) from its last checkpoint, with the
    /// settings DIR records; no other setting may be given with it.
    #[arg(long, value_name = "DIR", conflicts_with_all = [
        "nodes", "edges", "label", "sensitive", "teacher", "student", "objective", "alpha", "proxy",
        "seed", "out", "overwrite",
    ])]
    pub resume: Option<PathBuf>,
}

impl MethodCli for Command {
    fn run(self) -> Result<ExitCode> {
        match self {
            Command::Train { args, json } => train(args, json),
            Command::Bias { predictions, json } => bias(&predictions, json),
        }
    }
}

/// `reprolab fair-kd bias`.
fn bias(predictions: &std::path::Path, json: bool) -> Result<ExitCode> {
    existing([predictions])?;
    let b = crate::bias::bias_of_file(predictions)?;
    emit_json_or_text(json, &b, || {
        format!(
            "| n | accuracy | delta SP | delta EO |\n|---|---|---|---|\n| {} | {:.4} | {:.4} | {:.4} |\n",
            b.n, b.accuracy, b.delta_sp, b.delta_eo
        )
    })?;
    Ok(ExitCode::SUCCESS)
}

/// `reprolab fair-kd train`.
fn train(a: TrainOptions, json: bool) -> Result<ExitCode> {
    if let Some(dir) = &a.resume {
        existing([dir.as_path()])?;
        let (args, teacher, student) = match crate::train::resume_request(dir)? {
            crate::train::ResumeRequest::Finished => {
                reprolab_core::cli::emit(&format!("{}: the run already finished; nothing to resume\n", dir.display()))?;
                return Ok(ExitCode::SUCCESS);
            }
            crate::train::ResumeRequest::Continue(parts) => *parts,
        };
        existing([args.nodes.as_path(), args.edges.as_path()])?;
        let report = crate::train::resume_command(&args, &teacher, &student)?;
        return print_report(json, &report, &args.out);
    }
    let (Some(nodes), Some(edges), Some(label), Some(sensitive)) = (a.nodes, a.edges, a.label, a.sensitive) else {
        reprolab_core::user_bail!("--nodes, --edges, --label and --sensitive are required (or --resume DIR)");
    };
    existing([nodes.as_path(), edges.as_path()])?;
    if !(a.alpha.is_finite() && a.alpha >= 0.0) {
        reprolab_core::user_bail!("--alpha must be a non-negative number, got {}", a.alpha);
    }
    let out = a.out.unwrap_or_else(|| default_out("fair-kd"));
    let args = crate::train::TrainArgs {
        nodes,
        edges,
        label,
        sensitive,
        teacher: a.teacher,
        student: a.student,
        objective: a.objective,
        alpha: a.alpha,
        proxy: a.proxy,
        seed: a.seed,
        out: out.clone(),
        overwrite: a.overwrite,
    };
    let report = crate::train::train_command(&args)?;
    print_report(json, &report, &out)
}

/// What `train` prints once it finished.
fn print_report(json: bool, report: &crate::train::TrainReport, out: &std::path::Path) -> Result<ExitCode> {
    emit_json_or_text(json, report, || {
        let row = |name: &str, m: &Metrics| {
            format!(
                "| {name} | {:.4} | {:.4} | {:.4} | {:.4} | {:.4} |\n",
                m.accuracy, m.auc, m.f1, m.delta_sp, m.delta_eo
            )
        };
        format!(
            "{} nodes, {} edges, {} test nodes\n| model | accuracy | AUC | F1 | delta SP | delta EO |\n|---|---|---|---|---|---|\n{}{}Written to {}\n",
            report.nodes,
            report.edges,
            report.test_nodes,
            row("teacher", &report.teacher),
            row("student", &report.student),
            out.display()
        )
    })?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{FromArgMatches, Subcommand};

    fn parse(args: &[&str]) -> std::result::Result<Command, clap::Error> {
        reprolab_core::cli::parse(args)
    }

    const GRAPH: [&str; 8] = ["train", "--nodes", "n.csv", "--edges", "e.csv", "--label", "y", "--sensitive"];

    #[test]
    fn train_defaults_are_a_gcn_teacher_and_an_mlp_student_with_reliant_sp() {
        let Command::Train { args, json } = parse(&[&GRAPH[..], &["s"]].concat()).unwrap() else { panic!("not train") };
        assert!(!json);
        assert_eq!((args.teacher, args.student, args.objective), (TeacherKind::Gcn, StudentKind::Mlp, Objective::Sp));
        assert_eq!((args.alpha, args.proxy, args.seed, args.out, args.overwrite), (1000.0, false, 0, None, false));
        let Command::Train { args, .. } = parse(
            &[&GRAPH[..], &["s", "--teacher", "sage", "--student", "plp", "--objective", "none", "--overwrite"]]
                .concat(),
        )
        .unwrap() else {
            panic!("not train")
        };
        assert_eq!(
            (args.teacher, args.student, args.objective, args.overwrite),
            (TeacherKind::Sage, StudentKind::Plp, Objective::None, true)
        );
        assert!(parse(&[&GRAPH[..], &["s", "--overwrite=yes"]].concat()).is_err(), "--overwrite takes no value");
    }

    #[test]
    fn unknown_models_and_objectives_are_refused() {
        for (flag, value) in [("--teacher", "gat"), ("--student", "gcn"), ("--objective", "dp")] {
            let err = parse(&[&GRAPH[..], &["s", flag, value]].concat()).unwrap_err();
            assert_eq!(err.kind(), clap::error::ErrorKind::InvalidValue, "{flag} {value}");
            let text = err.to_string();
            assert!(text.contains(&format!("invalid value '{value}' for '{flag}")), "{text}");
        }
        assert!(parse(&["bias"]).is_err(), "bias needs --predictions");
    }

    #[test]
    fn a_negative_alpha_is_a_user_error() {
        let dir = tempfile::tempdir().unwrap();
        let (nodes, edges) = (dir.path().join("n.csv"), dir.path().join("e.csv"));
        std::fs::write(&nodes, "x,s,y\n").unwrap();
        std::fs::write(&edges, "a,b\n").unwrap();
        let cmd = Command::augment_subcommands(clap::Command::new("fair-kd"));
        let m = cmd
            .try_get_matches_from([
                "fair-kd",
                "train",
                "--label",
                "y",
                "--sensitive",
                "s",
                "--alpha=-1",
                "--nodes",
                nodes.to_str().unwrap(),
                "--edges",
                edges.to_str().unwrap(),
            ])
            .unwrap();
        let err = Command::from_arg_matches(&m).unwrap().run().unwrap_err();
        assert!(reprolab_core::is_user_error(&err));
        assert_eq!(err.to_string(), "--alpha must be a non-negative number, got -1");
        reprolab_core::cli::Commands::of::<Command>("fair-kd").command("fair-kd").debug_assert();
    }
}

//! `reprolab fair-kd train`: a teacher and a RELIANT student on a user's
//! graph, with the experiment preset's hyper-parameters; writes the
//! per-node predictions, the settings (`config.toml`), the training curves
//! (`metrics.jsonl`) and the record with the report (`report.json`).

use crate::data::from_user_files_with_ids;
use crate::experiment::Config;
use crate::reliant::{
    DistillConfig, DistillSetup, Metrics, Objective, StudentSpec, evaluate_student, metrics, train_student,
};
use crate::students::StudentKind;
use crate::teachers::{TeacherConfig, TeacherKind};
use anyhow::Result;
use reprolab_core::registry::{Preset, preset_config};
use reprolab_core::run_folder::TrainFolder;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// What to train.
#[derive(Debug, Clone)]
pub struct TrainArgs {
    /// The node CSV (see [`crate::data::from_user_files`]).
    pub nodes: PathBuf,
    /// The edge CSV of node-id pairs.
    pub edges: PathBuf,
    /// The 0/1 label column of `nodes`.
    pub label: String,
    /// The 0/1 sensitive column of `nodes`.
    pub sensitive: String,
    pub teacher: TeacherKind,
    pub student: StudentKind,
    pub objective: Objective,
    /// The regulariser's weight (unused with [`Objective::None`]).
    pub alpha: f64,
    /// Train the adversarial proxy of the last two feature columns.
    pub proxy: bool,
    /// Seeds the split, the teacher and the student.
    pub seed: u64,
    /// Where predictions.csv, config.toml, metrics.jsonl and report.json go.
    pub out: PathBuf,
    /// Write into `out` even when it holds files.
    pub overwrite: bool,
}

/// The preset whose models and training `fair-kd train` uses.
const PRESET: Preset = Preset::Quick;

/// `config.toml` of a `fair-kd train` folder: the flags, and the preset's
/// teacher and student training the run filled in.
#[derive(Debug, Serialize)]
struct TrainSettings<'a> {
    nodes: &'a Path,
    edges: &'a Path,
    label: &'a str,
    sensitive: &'a str,
    teacher: TeacherKind,
    student: StudentKind,
    objective: Objective,
    /// `--alpha` as given.
    alpha: f64,
    /// The weight the student trained with (0 with objective `none`).
    alpha_used: f64,
    proxy: bool,
    seed: u64,
    out: &'a Path,
    /// Whose hyper-parameters these are.
    preset: Preset,
    teacher_training: &'a TeacherConfig,
    student_training: &'a DistillConfig,
}

/// What `fair-kd train` reports (stdout, and `result` in `out/report.json`).
#[derive(Debug, Clone, Serialize)]
pub struct TrainReport {
    pub nodes: usize,
    pub edges: usize,
    pub test_nodes: usize,
    pub teacher: Metrics,
    pub student: Metrics,
}

/// Trains the teacher and the student of `args` with the quick preset's
/// models and training, writes `out/predictions.csv`, `out/config.toml`,
/// `out/metrics.jsonl` and `out/report.json`, and returns the report.
/// `out` must be empty or new unless `args.overwrite`; it is claimed once
/// the graph is read, before any training.
pub fn train_command(args: &TrainArgs) -> Result<TrainReport> {
    let cfg: Config = preset_config("fair-kd", PRESET)?;
    let (g, ids) = from_user_files_with_ids(&args.nodes, &args.edges, &args.label, &args.sensitive)?;
    let split = g.split(args.seed)?;
    let alpha = if args.objective == Objective::None { 0.0 } else { args.alpha };
    let settings = TrainSettings {
        nodes: &args.nodes,
        edges: &args.edges,
        label: &args.label,
        sensitive: &args.sensitive,
        teacher: args.teacher,
        student: args.student,
        objective: args.objective,
        alpha: args.alpha,
        alpha_used: alpha,
        proxy: args.proxy,
        seed: args.seed,
        out: &args.out,
        preset: PRESET,
        teacher_training: &cfg.teacher,
        student_training: &cfg.student,
    };
    let folder = TrainFolder::open(crate::METHOD.name, "train", &args.out, args.overwrite, &settings, &[args.seed])?;
    let mut log = folder.metrics()?;
    let tp = {
        let mut teacher_log = log.phase("teacher", 0);
        crate::experiment::teacher_probability(
            &g,
            &split,
            args.teacher,
            &cfg.teacher,
            args.seed,
            Some(&mut teacher_log),
        )?
    };
    // The student's steps follow the teacher's, one per epoch each.
    let mut student_log = log.phase("student", cfg.teacher.epochs);
    let setup = DistillSetup { graph: &g, split: &split, teacher_p: &tp, config: &cfg.student };
    let spec = StudentSpec { kind: args.student, objective: args.objective, alpha, proxy: args.proxy };
    let trained = train_student(&setup, &spec, args.seed, Some(&mut student_log))?;
    let student = evaluate_student(&setup, &trained)?;
    let report = TrainReport {
        nodes: g.n,
        edges: g.edges.len(),
        test_nodes: split.test.len(),
        teacher: metrics(&g, &tp, &split.test)?,
        student: student.metrics,
    };
    let predictions = Predictions { ids: &ids, teacher: &tp, student: &student.probability };
    write_predictions(&args.out.join("predictions.csv"), &g, &split, &predictions)?;
    folder.finish(&report)?;
    Ok(report)
}

/// Both models' P(y = 1) per node, and the nodes' ids.
struct Predictions<'a> {
    ids: &'a [String],
    teacher: &'a [f32],
    student: &'a [f32],
}

/// Per node: the user's id, label, sensitive value, split, and both
/// models' P(y = 1). csv::Writer quotes ids with commas or quotes.
fn write_predictions(
    path: &Path,
    g: &crate::data::FairGraph,
    split: &crate::data::NodeSplit,
    p: &Predictions,
) -> Result<()> {
    let mut part = vec!["train"; g.n];
    split.validation.iter().for_each(|&i| part[i] = "validation");
    split.test.iter().for_each(|&i| part[i] = "test");
    reprolab_core::report::write_atomic(path, |w| {
        let mut out = csv::Writer::from_writer(w);
        out.write_record(["id", "label", "sensitive", "split", "teacher_probability", "probability"])?;
        for (i, part) in part.iter().enumerate() {
            out.write_record([
                p.ids[i].clone(),
                u8::from(g.labels[i]).to_string(),
                u8::from(g.sensitive[i]).to_string(),
                part.to_string(),
                p.teacher[i].to_string(),
                p.student[i].to_string(),
            ])?;
        }
        out.flush()?;
        Ok(())
    })
}

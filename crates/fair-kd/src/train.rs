//! `reprolab fair-kd train`: a teacher and a RELIANT student on a user's
//! graph, with the experiment preset's hyper-parameters; writes the
//! per-node predictions and a JSON report.

use crate::data::from_user_files_with_ids;
use crate::experiment::Config;
use crate::reliant::{DistillSetup, Metrics, Objective, StudentSpec, distill, metrics};
use crate::students::StudentKind;
use crate::teachers::TeacherKind;
use anyhow::Result;
use reprolab_core::registry::{Preset, preset_config};
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
    /// Where predictions.csv and report.json go.
    pub out: PathBuf,
}

/// The report written to `out/report.json`.
#[derive(Debug, Clone, Serialize)]
pub struct TrainReport {
    pub nodes: usize,
    pub edges: usize,
    pub test_nodes: usize,
    pub teacher: Metrics,
    pub student: Metrics,
}

/// Trains the teacher and the student of `args` with the quick preset's
/// models and training, writes `out/predictions.csv` and
/// `out/report.json`, and returns the report.
pub fn train_command(args: &TrainArgs) -> Result<TrainReport> {
    let cfg: Config = preset_config("fair-kd", Preset::Quick)?;
    let (g, ids) = from_user_files_with_ids(&args.nodes, &args.edges, &args.label, &args.sensitive)?;
    let split = g.split(args.seed)?;
    let tp = crate::experiment::teacher_probability(&g, &split, args.teacher, &cfg.teacher, args.seed)?;
    let alpha = if args.objective == Objective::None { 0.0 } else { args.alpha };
    let setup = DistillSetup { graph: &g, split: &split, teacher_p: &tp, config: &cfg.student };
    let spec = StudentSpec { kind: args.student, objective: args.objective, alpha, proxy: args.proxy };
    let student = distill(&setup, &spec, args.seed)?;
    let report = TrainReport {
        nodes: g.n,
        edges: g.edges.len(),
        test_nodes: split.test.len(),
        teacher: metrics(&g, &tp, &split.test)?,
        student: student.metrics,
    };
    std::fs::create_dir_all(&args.out)
        .map_err(|e| reprolab_core::user_error(format!("{}: cannot create ({e})", args.out.display())))?;
    let predictions = Predictions { ids: &ids, teacher: &tp, student: &student.probability };
    write_predictions(&args.out.join("predictions.csv"), &g, &split, &predictions)?;
    reprolab_core::report::write_bytes_atomic(&args.out.join("report.json"), serde_json::to_string_pretty(&report)?)?;
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

//! `reprolab fair-kd train`: a teacher and a RELIANT student on a user's
//! graph, with the experiment preset's hyper-parameters; writes the
//! per-node predictions and a JSON report.

use crate::data::from_user_files;
use crate::experiment::Config;
use crate::reliant::{Metrics, Objective, distill, metrics};
use crate::students::StudentKind;
use crate::teachers::TeacherKind;
use anyhow::Result;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// What to train.
#[derive(Debug, Clone)]
pub struct TrainArgs {
    pub nodes: PathBuf,
    pub edges: PathBuf,
    pub label: String,
    pub sensitive: String,
    pub teacher: TeacherKind,
    pub student: StudentKind,
    pub objective: Objective,
    pub alpha: f64,
    pub proxy: bool,
    pub seed: u64,
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

pub fn train_command(args: &TrainArgs) -> Result<TrainReport> {
    let opts = reprolab_core::registry::RunOptions {
        preset: Some(reprolab_core::registry::Preset::Quick),
        out_dir: args.out.clone(),
        ..Default::default()
    };
    let ctx = reprolab_core::registry::RunContext::new(&crate::METHOD, &opts)?;
    let cfg: Config = ctx.config()?;
    let g = from_user_files(&args.nodes, &args.edges, &args.label, &args.sensitive)?;
    let split = g.split(args.seed)?;
    let tp = crate::experiment::teacher_probability(&g, &split, args.teacher, &cfg.teacher, args.seed)?;
    let alpha = if args.objective == Objective::None { 0.0 } else { args.alpha };
    let student = distill(&g, &split, &tp, args.student, args.objective, alpha, args.proxy, &cfg.student, args.seed)?;
    let report = TrainReport {
        nodes: g.n,
        edges: g.edges.len(),
        test_nodes: split.test.len(),
        teacher: metrics(&g, &tp, &split.test)?,
        student: student.metrics,
    };
    std::fs::create_dir_all(&args.out)
        .map_err(|e| reprolab_core::user_error(format!("{}: cannot create ({e})", args.out.display())))?;
    write_predictions(&args.out.join("predictions.csv"), &g, &split, &tp, &student.probability)?;
    reprolab_core::report::write_bytes_atomic(&args.out.join("report.json"), serde_json::to_string_pretty(&report)?)?;
    Ok(report)
}

/// Per node: its index, label, sensitive value, split, and both models' P(y = 1).
fn write_predictions(
    path: &Path,
    g: &crate::data::FairGraph,
    split: &crate::data::NodeSplit,
    teacher: &[f32],
    student: &[f32],
) -> Result<()> {
    let mut part = vec!["train"; g.n];
    split.validation.iter().for_each(|&i| part[i] = "validation");
    split.test.iter().for_each(|&i| part[i] = "test");
    reprolab_core::report::write_atomic(path, |w| {
        use std::io::Write;
        writeln!(w, "node,label,sensitive,split,teacher_probability,probability")?;
        for i in 0..g.n {
            writeln!(
                w,
                "{i},{},{},{},{},{}",
                u8::from(g.labels[i]),
                u8::from(g.sensitive[i]),
                part[i],
                teacher[i],
                student[i]
            )?;
        }
        Ok(())
    })
}

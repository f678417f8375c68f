//! `reprolab fair-kd train`: a teacher and a RELIANT student on a user's
//! graph, with the experiment preset's hyper-parameters; writes the
//! per-node predictions, the settings (`config.toml`), the training curves
//! (`metrics.jsonl`) and the record with the report (`report.json`).

use crate::data::from_user_files_with_ids;
use crate::experiment::Config;
use crate::reliant::{
    DistillConfig, DistillSetup, Metrics, Objective, StudentSpec, evaluate_student, metrics, train_student_resumable,
};
use crate::students::StudentKind;
use crate::teachers::{
    GraphTensors, LoopCheckpoints, TeacherConfig, TeacherInputs, TeacherKind, init_gcn, init_sage,
    positive_probability, train_teacher_resumable,
};
use anyhow::Result;
use reprolab_core::registry::{Preset, preset_config};
use reprolab_core::rng::derive_seed;
use reprolab_core::run_folder::TrainFolder;
use reprolab_core::train::metrics_log::MetricRecord;
use serde::{Deserialize, Serialize};
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
    run_train(args, &cfg.teacher, &cfg.student, false)
}

/// The sub-folder of a `train` folder with the checkpoints `--resume`
/// continues from: `teacher/` and `student/` (see
/// [`crate::teachers::LoopCheckpoints`]) and `teacher.json` (the finished
/// teacher's probabilities, so a resumed student phase does not retrain it).
pub const RESUME_DIR: &str = "resume";

/// Checkpoint cadence of both loops, in epochs: cheap (the models are a
/// few thousand parameters) and at most this many epochs are redone.
pub const CHECKPOINT_EVERY: usize = 10;

/// The settings `--resume` reads back from a folder's record.
#[derive(Debug, Deserialize)]
struct RecordedSettings {
    nodes: PathBuf,
    edges: PathBuf,
    label: String,
    sensitive: String,
    teacher: TeacherKind,
    student: StudentKind,
    objective: Objective,
    alpha: f64,
    proxy: bool,
    seed: u64,
    teacher_training: TeacherConfig,
    student_training: DistillConfig,
}

/// What `train --resume DIR` found in DIR.
pub enum ResumeRequest {
    /// The run finished (its report.json has a result): nothing to do.
    Finished,
    /// The run's arguments and its teacher and student training, to continue with.
    Continue(Box<(TrainArgs, TeacherConfig, DistillConfig)>),
}

/// Reads the settings of the `fair-kd train` run in `dir` (a user error
/// when `dir` is not such a folder).
pub fn resume_request(dir: &Path) -> Result<ResumeRequest> {
    use reprolab_core::run_folder::{Resume, TrainRecord};
    let s: RecordedSettings = match TrainRecord::for_resume(dir, crate::METHOD.name, "train")? {
        Resume::Finished(_) => return Ok(ResumeRequest::Finished),
        Resume::Unfinished(s, _) => s,
    };
    let args = TrainArgs {
        nodes: s.nodes,
        edges: s.edges,
        label: s.label,
        sensitive: s.sensitive,
        teacher: s.teacher,
        student: s.student,
        objective: s.objective,
        alpha: s.alpha,
        proxy: s.proxy,
        seed: s.seed,
        out: dir.to_path_buf(),
        overwrite: true,
    };
    Ok(ResumeRequest::Continue(Box::new((args, s.teacher_training, s.student_training))))
}

/// `fair-kd train --resume`: continues the run of `args` from its last
/// complete checkpoint (from the start when it was killed before its
/// first); the finished folder holds what the uninterrupted run leaves.
pub fn resume_command(args: &TrainArgs, teacher: &TeacherConfig, student: &DistillConfig) -> Result<TrainReport> {
    run_train(args, teacher, student, true)
}

/// The two loops' checkpoint folders of a run in `out`.
fn loop_checkpoints(out: &Path, seed: u64, teacher_epochs: usize) -> (LoopCheckpoints, LoopCheckpoints) {
    let state = out.join(RESUME_DIR);
    let at = |name: &'static str, first_step| LoopCheckpoints {
        dir: state.join(name),
        every: CHECKPOINT_EVERY,
        seed,
        stream: name,
        first_step,
    };
    (at("teacher", 0), at("student", teacher_epochs))
}

/// The finished teacher's P(y = 1) per node.
#[derive(Serialize, Deserialize)]
struct TeacherDone {
    probability: Vec<f32>,
}

/// What [`evaluate_checkpoint`] measured.
#[derive(Debug, Clone, Serialize)]
pub struct CheckpointEval {
    /// `teacher` or `student`: the newest loop with a checkpoint.
    pub phase: String,
    /// Its epochs done.
    pub epoch: usize,
    /// The checkpoint's model (its best so far) on the test nodes.
    pub metrics: Metrics,
}

/// Loads the newest checkpoint of the `fair-kd train` folder `dir` (a
/// stopped or killed run's last good one) and measures its model on the
/// test nodes: the student's when the student phase has one, else the
/// teacher's best so far.
pub fn evaluate_checkpoint(dir: &Path) -> Result<CheckpointEval> {
    let record = reprolab_core::run_folder::TrainRecord::read(dir)?;
    let s: RecordedSettings = serde_json::from_value(record.config)
        .map_err(|e| reprolab_core::user_error(format!("{}: not a fair-kd train folder ({e})", dir.display())))?;
    let (g, _) = from_user_files_with_ids(&s.nodes, &s.edges, &s.label, &s.sensitive)?;
    let split = g.split(s.seed)?;
    let (teacher_ck, student_ck) = loop_checkpoints(dir, s.seed, s.teacher_training.epochs);
    let done = dir.join(RESUME_DIR).join("teacher.json");
    if done.exists() {
        let tp: TeacherDone = serde_json::from_slice(&std::fs::read(&done)?)?;
        let alpha = if s.objective == Objective::None { 0.0 } else { s.alpha };
        let setup = DistillSetup { graph: &g, split: &split, teacher_p: &tp.probability, config: &s.student_training };
        let spec = StudentSpec { kind: s.student, objective: s.objective, alpha, proxy: s.proxy };
        if let Some(trained) = crate::reliant::load_student_checkpoint(&setup, &spec, s.seed, &student_ck)? {
            let epoch = student_ck.latest()?.map_or(0, |st| st.epoch);
            let metrics = evaluate_student(&setup, &trained)?.metrics;
            return Ok(CheckpointEval { phase: "student".into(), epoch, metrics });
        }
    }
    let Some(st) = teacher_ck.latest()? else {
        reprolab_core::user_bail!("{}: holds no checkpoint yet", dir.display());
    };
    let plain = reprolab_core::device::default_device();
    let eval = GraphTensors::new(&g, &plain)?;
    let part = teacher_ck.part(st.epoch, if st.has_best { "best" } else { "model" });
    let p = match s.teacher {
        TeacherKind::Gcn => positive_probability(&part.load_model(init_gcn(g.d, &s.teacher_training, &plain))?, &eval),
        TeacherKind::Sage => {
            positive_probability(&part.load_model(init_sage(g.d, &s.teacher_training, &plain))?, &eval)
        }
    };
    Ok(CheckpointEval { phase: "teacher".into(), epoch: st.epoch, metrics: metrics(&g, &p, &split.test)? })
}

/// The teacher's P(y = 1), trained as the experiment trains it
/// ([`crate::experiment`]'s `teacher_probability`) but checkpointed.
fn resumable_teacher(
    g: &crate::data::FairGraph,
    split: &crate::data::NodeSplit,
    kind: TeacherKind,
    cfg: &TeacherConfig,
    seed: u64,
    log: Option<crate::teachers::StepLog>,
    ckpt: &LoopCheckpoints,
) -> Result<Vec<f32>> {
    let plain = reprolab_core::device::default_device();
    let ad = plain.clone().autodiff();
    ad.seed(derive_seed(seed, "teacher"));
    let (graph, eval) = (GraphTensors::new(g, &ad)?, GraphTensors::new(g, &plain)?);
    let inputs = TeacherInputs { graph: g, train_graph: &graph, eval_graph: &eval, split };
    let label = format!("{} teacher on {}", kind.name(), g.name);
    Ok(match kind {
        TeacherKind::Gcn => {
            let m = init_gcn(g.d, cfg, &ad);
            positive_probability(&train_teacher_resumable(m, &inputs, cfg, &label, log, Some(ckpt))?, &eval)
        }
        TeacherKind::Sage => {
            let m = init_sage(g.d, cfg, &ad);
            positive_probability(&train_teacher_resumable(m, &inputs, cfg, &label, log, Some(ckpt))?, &eval)
        }
    })
}

fn run_train(
    args: &TrainArgs,
    teacher_cfg: &TeacherConfig,
    student_cfg: &DistillConfig,
    resume: bool,
) -> Result<TrainReport> {
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
        teacher_training: teacher_cfg,
        student_training: student_cfg,
    };
    let (teacher_ck, student_ck) = loop_checkpoints(&args.out, args.seed, teacher_cfg.epochs);
    let done_path = args.out.join(RESUME_DIR).join("teacher.json");
    // What a resumed run keeps of the killed run's metrics.jsonl: the lines
    // logged before its newest checkpoint (the loops log them again after it).
    let (teacher_at, student_at) = if resume {
        let teacher_at =
            if done_path.exists() { Some(teacher_cfg.epochs) } else { teacher_ck.latest()?.map(|s| s.epoch) };
        (teacher_at, if done_path.exists() { student_ck.latest()?.map(|s| s.epoch) } else { None })
    } else {
        (None, None)
    };
    let kept = kept_metrics(&args.out.join("metrics.jsonl"), |r| {
        match (r.name.strip_prefix("teacher/"), r.name.strip_prefix("student/")) {
            (Some(name), _) => {
                teacher_at.is_some_and(|e| r.step < e || (r.step == e && name == "eval/validation_accuracy"))
            }
            (_, Some(_)) => student_at.is_some_and(|e| r.step < teacher_cfg.epochs + e),
            _ => false,
        }
    });
    let folder =
        TrainFolder::open(crate::METHOD.name, "train", &args.out, args.overwrite || resume, &settings, &[args.seed])?;
    let state_dir = args.out.join(RESUME_DIR);
    if !resume && state_dir.exists() {
        // An earlier run's checkpoints must not be continued by a later --resume.
        std::fs::remove_dir_all(&state_dir)
            .map_err(|e| reprolab_core::user_error(format!("{}: cannot remove ({e})", state_dir.display())))?;
    }
    std::fs::create_dir_all(&state_dir)?;
    let mut log = folder.metrics()?;
    for r in &kept {
        log.log(r.step, &r.name, r.value.unwrap_or(f64::NAN))?;
    }
    let tp = match resume.then(|| std::fs::read(&done_path).ok()).flatten() {
        Some(bytes) => {
            let done: TeacherDone = serde_json::from_slice(&bytes).map_err(|e| {
                reprolab_core::user_error(format!("{}: corrupt teacher state ({e})", done_path.display()))
            })?;
            done.probability
        }
        None => {
            let mut teacher_log = log.phase("teacher", 0);
            let tp = resumable_teacher(
                &g,
                &split,
                args.teacher,
                teacher_cfg,
                args.seed,
                Some(&mut teacher_log),
                &teacher_ck,
            )?;
            reprolab_core::report::write_bytes_atomic(
                &done_path,
                serde_json::to_vec(&TeacherDone { probability: tp.clone() })?,
            )?;
            tp
        }
    };
    // The student's steps follow the teacher's, one per epoch each.
    let mut student_log = log.phase("student", teacher_cfg.epochs);
    let setup = DistillSetup { graph: &g, split: &split, teacher_p: &tp, config: student_cfg };
    let spec = StudentSpec { kind: args.student, objective: args.objective, alpha, proxy: args.proxy };
    let trained = train_student_resumable(&setup, &spec, args.seed, Some(&mut student_log), Some(&student_ck))?;
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

/// The records of an old `metrics.jsonl` that `keep` accepts (a torn last
/// line of a killed run is dropped).
fn kept_metrics(path: &Path, keep: impl Fn(&MetricRecord) -> bool) -> Vec<MetricRecord> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines().filter_map(|l| serde_json::from_str::<MetricRecord>(l).ok()).filter(|r| keep(r)).collect()
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

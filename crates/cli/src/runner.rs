//! `run`, `reproduce`, `plan` and `unit`: resolve the run directory (a new
//! one, or the one `--resume` names, with the options it was started with),
//! prepare each method's plan, run the units that are not cached on the
//! chosen executor, and summarise each method as soon as its units are in.
//! Everything here is generic: the methods' science lives in their crates.

use crate::commands::finish;
use crate::methods;
use anyhow::Result;
use reprolab_core::cli::{emit, now_rfc3339};
use reprolab_core::plan::Stage;
use reprolab_core::plan::executor::{self, LocalPool, Prepared, Progress};
use reprolab_core::plan::slurm::{self, SlurmOptions};
use reprolab_core::provenance::Provenance;
use reprolab_core::registry::{self, Method, Preset, RunOptions};
use reprolab_core::report::{Report, Reproduction};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

/// Where units run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExecutorKind {
    /// This machine: in this process (`--jobs 1`) or on N worker processes.
    Local,
    /// Slurm job arrays (`sbatch`, `squeue`, `scontrol` on PATH).
    Slurm,
}

/// What the user asked for on the command line (None: not given).
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub preset: Option<Preset>,
    pub only: Vec<String>,
    pub seeds: Option<Vec<u64>>,
    pub config: Option<PathBuf>,
    pub data: Option<PathBuf>,
    pub out: Option<PathBuf>,
    pub resume: Option<PathBuf>,
    /// Write into a non-empty `--out`.
    pub overwrite: bool,
    pub jobs: Option<usize>,
    pub executor: Option<ExecutorKind>,
    pub sbatch_args: Vec<String>,
    pub poll_ms: u64,
}

/// A run record's `seeds`: the list, or the count older records hold
/// (`"seeds": 2` = seeds 0 and 1), so their runs still resume.
fn seeds_or_count<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Vec<u64>>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Seeds {
        Count(u64),
        List(Vec<u64>),
    }
    Ok(Option::<Seeds>::deserialize(d)?.map(|s| match s {
        Seeds::Count(n) => (0..n).collect(),
        Seeds::List(list) => list,
    }))
}

/// The options a run was started with, kept in `RUN_DIR/run.json` so that
/// `--resume RUN_DIR` continues the same experiment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct RunRecord {
    preset: Preset,
    only: Vec<String>,
    #[serde(deserialize_with = "seeds_or_count")]
    seeds: Option<Vec<u64>>,
    config: Option<PathBuf>,
    data: Option<PathBuf>,
    started: String,
}

const RECORD: &str = "run.json";

/// Resolves the run directory and the options: a resumed run reads them
/// back and refuses options that contradict them. Nothing is written here:
/// a command that fails on its arguments leaves no run directory behind.
fn resolve(req: &Request) -> Result<(PathBuf, RunRecord)> {
    let Some(dir) = &req.resume else {
        let started = now_rfc3339();
        let dir = match &req.out {
            Some(out) => {
                reprolab_core::run_folder::claim(out, req.overwrite, reprolab_core::run_folder::Reuse::Resumable)?;
                out.clone()
            }
            None => reprolab_core::cli::default_run_dir(),
        };
        let record = RunRecord {
            preset: req.preset.unwrap_or(Preset::Quick),
            only: req.only.clone(),
            seeds: req.seeds.clone(),
            config: req.config.as_ref().map(std::path::absolute).transpose()?,
            data: req.data.as_ref().map(std::path::absolute).transpose()?,
            started,
        };
        return Ok((dir, record));
    };
    if req.out.is_some() {
        reprolab_core::user_bail!("--resume and --out both name a run directory: give one");
    }
    let path = dir.join(RECORD);
    let text = std::fs::read_to_string(&path).map_err(|e| {
        reprolab_core::user_error(format!("{}: cannot read ({e}); --resume takes a run directory", path.display()))
    })?;
    let mut rec: RunRecord = serde_json::from_str(&text)
        .map_err(|e| reprolab_core::user_error(format!("{}: not a reprolab run record ({e})", path.display())))?;
    let conflict = |what: &str, given: String, recorded: String| -> Result<()> {
        reprolab_core::user_bail!(
            "{} was started with {what} {recorded}; resume it without {what} or with the same value (given: {given})",
            dir.display()
        )
    };
    if let Some(p) = req.preset
        && p != rec.preset
    {
        conflict("--preset", p.name().into(), rec.preset.name().into())?;
    }
    if req.seeds.is_some() && req.seeds != rec.seeds {
        conflict("--seeds", format!("{:?}", req.seeds), format!("{:?}", rec.seeds))?;
    }
    if let Some(d) = &req.data
        && Some(std::path::absolute(d)?) != rec.data
    {
        conflict("--data", d.display().to_string(), format!("{:?}", rec.data))?;
    }
    if let Some(c) = &req.config
        && Some(std::path::absolute(c)?) != rec.config
    {
        conflict("--config", c.display().to_string(), format!("{:?}", rec.config))?;
    }
    if !req.only.is_empty() {
        rec.only = req.only.clone();
    }
    Ok((dir.clone(), rec))
}

/// Records the options of a run in its directory (once its methods are
/// prepared), so that `--resume` continues the same experiment.
fn record(dir: &Path, rec: &RunRecord) -> Result<()> {
    std::fs::create_dir_all(dir)
        .map_err(|e| reprolab_core::user_error(format!("{}: cannot create the run directory ({e})", dir.display())))?;
    reprolab_core::report::write_bytes_atomic(&dir.join(RECORD), serde_json::to_string_pretty(rec)?)
}

fn chosen<'a>(all: &'a [Method], only: &[String]) -> Result<Vec<&'a Method>> {
    if only.is_empty() { Ok(all.iter().collect()) } else { only.iter().map(|n| registry::find(all, n)).collect() }
}

fn run_options(rec: &RunRecord, dir: &Path) -> RunOptions {
    RunOptions {
        preset: Some(rec.preset),
        seeds: rec.seeds.clone(),
        config_file: rec.config.clone(),
        data_dir: rec.data.clone(),
        out_dir: dir.to_path_buf(),
    }
}

/// Prepares every chosen method. With `strict` (one method asked for by
/// name, or a plan to write) the first error ends the command; otherwise a
/// method that cannot be prepared is a failure, not the end of the run.
fn prepare_all(
    methods: &[&Method],
    rec: &RunRecord,
    dir: &Path,
    repro: &mut Reproduction,
    strict: bool,
) -> Result<Vec<Prepared>> {
    let mut preps = Vec::new();
    for m in methods {
        let prepared = if m.presets().contains(&rec.preset) {
            executor::prepare(m, &run_options(rec, dir))
        } else {
            Err(reprolab_core::user_error(format!("method '{}' has no '{}' preset", m.name, rec.preset.name())))
        };
        match prepared {
            Ok(p) => preps.push(p),
            Err(e) if strict => return Err(e),
            Err(e) => repro.failures.push((m.name.into(), format!("{e:#}"))),
        }
    }
    Ok(preps)
}

/// The one line printed as soon as a method's verdict is known.
fn verdict_line(r: &Report) -> String {
    format!(
        "{}: {} ({} preset, {} seeds, {:.0} s of compute): {}",
        r.method,
        r.verdict.outcome,
        r.preset,
        r.seeds.len(),
        r.wall_time_s,
        r.verdict.evidence.chars().take(160).collect::<String>()
    )
}

/// A run ready to execute: its directory, its methods in the order asked
/// for, the report collection (failures of methods that could not be
/// prepared already in it) and the prepared methods.
struct Started {
    dir: PathBuf,
    methods: Vec<Method>,
    repro: Reproduction,
    preps: Vec<Prepared>,
}

/// What `run`, `reproduce` and `plan` share: resolve the run directory and
/// options, choose the methods, prepare them (`strict`: the first error ends
/// the command), then record the options for `--resume`.
fn start(req: &Request, strict: bool) -> Result<Started> {
    let all = methods::all();
    let (dir, rec) = resolve(req)?;
    let methods: Vec<Method> = chosen(&all, &rec.only)?.into_iter().copied().collect();
    let mut repro = Reproduction {
        preset: rec.preset.name().into(),
        started: rec.started.clone(),
        reports: vec![],
        failures: vec![],
        provenance: Some(Provenance::now()),
    };
    let refs: Vec<&Method> = methods.iter().collect();
    let preps = prepare_all(&refs, &rec, &dir, &mut repro, strict)?;
    record(&dir, &rec)?;
    Ok(Started { dir, methods, repro, preps })
}

/// Notes a method that failed: one line now, an entry in the report.
fn fail(progress: &Progress, repro: &mut Reproduction, method: &str, e: &anyhow::Error) {
    progress.line(&format!("{method}: failed: {e:#}"));
    repro.failures.push((method.into(), format!("{e:#}")));
}

/// The current `reprolab` binary, for worker processes and Slurm tasks.
fn this_program() -> Result<PathBuf> {
    Ok(std::env::current_exe()?)
}

/// `reprolab run` and `reprolab reproduce`.
pub fn execute(req: &Request, json: bool, single: bool) -> Result<ExitCode> {
    let Started { dir, methods, mut repro, preps } = start(req, single)?;
    let refs: Vec<&Prepared> = preps.iter().collect();
    let progress = Progress::new(&refs);
    let summarise = |prep: &Prepared, repro: &mut Reproduction, failed: Vec<String>| {
        for f in &failed {
            progress.line(&format!("{}: {f}", prep.method.name));
        }
        match executor::summarise(prep) {
            Ok(report) => {
                progress.line(&verdict_line(&report));
                repro.reports.push(report);
            }
            Err(e) => fail(&progress, repro, prep.method.name, &e),
        }
    };
    match req.executor.unwrap_or(ExecutorKind::Local) {
        ExecutorKind::Local => {
            let jobs = req.jobs.unwrap_or_else(executor::default_jobs).max(1);
            let pool = LocalPool { jobs, worker: Some((this_program()?, vec![])) };
            for prep in &preps {
                match executor::run_local(prep, &pool, &progress) {
                    Ok(()) => summarise(prep, &mut repro, vec![]),
                    Err(e) => fail(&progress, &mut repro, prep.method.name, &e),
                }
            }
        }
        ExecutorKind::Slurm => {
            let opts = slurm_options(req)?;
            slurm::run_slurm(&refs, &opts, &progress, |prep, failed| summarise(prep, &mut repro, failed))?;
        }
    }
    progress.finish();
    // Reports in the order the methods were asked for, whatever finished first.
    repro.reports.sort_by_key(|r| methods.iter().position(|m| m.name == r.method));
    if single && let Some((_, e)) = repro.failures.first() {
        anyhow::bail!("{e}");
    }
    if let Some(p) = &mut repro.provenance {
        p.finish();
    }
    finish(&repro, &dir, json)?;
    Ok(if repro.failures.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn slurm_options(req: &Request) -> Result<SlurmOptions> {
    Ok(SlurmOptions {
        program: this_program()?,
        sbatch_args: req.sbatch_args.clone(),
        poll: Duration::from_millis(req.poll_ms.max(100)),
    })
}

/// `reprolab plan`: writes the plans and the Slurm scripts of a run without
/// submitting anything.
pub fn plan(req: &Request) -> Result<ExitCode> {
    if req.executor != Some(ExecutorKind::Slurm) {
        reprolab_core::user_bail!("plan writes cluster scripts: pass --executor slurm");
    }
    let Started { dir, preps, .. } = start(req, true)?;
    let opts = slurm_options(req)?;
    let mut scripts = Vec::new();
    for prep in &preps {
        scripts.extend(slurm::write_scripts(prep, &opts)?);
    }
    let resume = format!("{} reproduce --resume {}", opts.program.display(), std::path::absolute(&dir)?.display());
    let submit = slurm::write_submit_files(&dir, &scripts, &resume)?;
    let tasks: usize = scripts.iter().map(|s| s.indices.len()).sum();
    emit(&format!(
        "Wrote {} array scripts ({tasks} tasks) under {}.\nSubmit: {}\nThen summarise: {resume}\nSee {} for details.\n",
        scripts.len(),
        slurm::slurm_dir(&dir).display(),
        submit.display(),
        slurm::slurm_dir(&dir).join("README.md").display()
    ))?;
    Ok(ExitCode::SUCCESS)
}

/// `reprolab unit`: one worker task.
pub fn unit(run_dir: &Path, method: &str, stage: Stage, index: usize) -> Result<ExitCode> {
    executor::run_worker(&methods::all(), run_dir, method, stage, index)?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_record_reads_a_seed_list_and_the_count_older_records_hold() {
        let record = |seeds: &str| {
            let text = format!(
                r#"{{"preset": "smoke", "only": [], "seeds": {seeds}, "config": null, "data": null, "started": "t"}}"#
            );
            serde_json::from_str::<RunRecord>(&text).unwrap().seeds
        };
        assert_eq!(record("[3, 7]"), Some(vec![3, 7]));
        assert_eq!(record("2"), Some(vec![0, 1]));
        assert_eq!(record("null"), None);
        let written = RunRecord {
            preset: Preset::Smoke,
            only: vec![],
            seeds: Some(vec![5]),
            config: None,
            data: None,
            started: "t".into(),
        };
        let back: RunRecord = serde_json::from_str(&serde_json::to_string(&written).unwrap()).unwrap();
        assert_eq!(back, written);
    }
}

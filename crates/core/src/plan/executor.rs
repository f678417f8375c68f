//! Running a plan: prepare each method (its context, its units, its plan
//! file), run the units that are not cached yet (in this process, on a pool
//! of `reprolab unit` worker processes, or through Slurm), then summarise
//! from the cache alone.

use super::cache::{self, Entry};
use super::{Outputs, Stage, Unit};
use crate::registry::{Method, PlanFile, RunContext, RunOptions};
use crate::report::Report;
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Environment variable naming one unit (`METHOD:FILE_STEM`, e.g.
/// `selfcheck:seed1`) at whose start the process aborts: fault injection
/// for the resume tests (a worker killed mid-run).
pub const ABORT_ENV: &str = "REPROLAB_ABORT_IN_UNIT";

/// One method ready to run: its context, its units, how many are cached.
pub struct Prepared {
    pub method: Method,
    pub ctx: RunContext,
    pub units: Vec<Unit>,
}

impl Prepared {
    /// The units of `stage` with their index within the stage (the index a
    /// worker and a Slurm array task take).
    pub fn stage_units(&self, stage: Stage) -> Vec<(usize, &Unit)> {
        self.units.iter().filter(|u| u.stage == stage).enumerate().collect()
    }

    /// Units of `stage` without a cache entry, with their stage index.
    pub fn pending(&self, stage: Stage) -> Vec<(usize, &Unit)> {
        self.stage_units(stage).into_iter().filter(|(_, u)| !cache::path(&self.ctx, u).exists()).collect()
    }
}

/// Where a method's plan file lives.
pub fn plan_path(run_dir: &Path, method: &str) -> PathBuf {
    run_dir.join("plan").join(format!("{method}.json"))
}

/// Builds the context and the unit list of `method` and writes its plan
/// file under the run directory.
pub fn prepare(method: &Method, opts: &RunOptions) -> Result<Prepared> {
    let ctx = RunContext::new(method, opts)?;
    let units = (method.units)(&ctx)?;
    for (i, u) in units.iter().enumerate() {
        if units[..i].iter().any(|v| v.key == u.key && v.stage == u.stage) {
            anyhow::bail!("{}: unit '{}' is planned twice", method.name, u.key);
        }
    }
    if let Some(pos) = units.iter().position(|u| u.stage == Stage::Main)
        && units[pos..].iter().any(|u| u.stage == Stage::Shared)
    {
        anyhow::bail!("{}: shared-stage units must come before main units", method.name);
    }
    let plan = ctx.plan_file(units.clone());
    let path = plan_path(&ctx.run_dir, method.name);
    std::fs::create_dir_all(path.parent().expect("plan files live in a folder"))
        .with_context(|| format!("{}: cannot create the run directory", ctx.run_dir.display()))?;
    crate::report::write_bytes_atomic(&path, serde_json::to_string_pretty(&plan)?)?;
    write_config(&ctx)?;
    Ok(Prepared { method: *method, ctx, units })
}

/// `RUN_DIR/<method>/config.toml`: the fully merged config the run used
/// (preset + the user's file, with `seeds`), to rerun or compare it with.
fn write_config(ctx: &RunContext) -> Result<()> {
    let mut table = ctx.config_table().clone();
    table.insert("seeds".into(), crate::registry::seeds_value(&ctx.seeds));
    let text = format!(
        "# {} at preset {} ({}); rerun with --config this file.\n{}",
        ctx.method,
        ctx.preset.name(),
        ctx.config_source(),
        toml::to_string(&table)?
    );
    std::fs::create_dir_all(&ctx.out_dir)
        .with_context(|| format!("{}: cannot create the method's folder", ctx.out_dir.display()))?;
    crate::report::write_bytes_atomic(&ctx.out_dir.join("config.toml"), text)
}

/// Computes one unit in this process and stores it in the cache.
pub fn compute_unit(method: &Method, ctx: &RunContext, unit: &Unit) -> Result<Entry> {
    if let Ok(target) = std::env::var(ABORT_ENV)
        && target == format!("{}:{}", ctx.method, unit.key.file_stem())
    {
        eprintln!("{ABORT_ENV}: aborting at the start of {} {}", ctx.method, unit.key);
        std::process::abort();
    }
    // Units are pure functions of their key: burn's global generator starts
    // from the unit's seed, whatever ran before in this process.
    crate::rng::seed_burn(unit.key.seed);
    let start = Instant::now();
    // User errors (a bad file, a bad config) keep their one-line message.
    let output = (method.run_unit)(ctx, unit)
        .map_err(|e| if crate::is_user_error(&e) { e } else { e.context(format!("{} {}", ctx.method, unit.key)) })?;
    cache::store(ctx, unit, output, start.elapsed().as_secs_f64())
}

/// `reprolab unit`: a worker runs unit `index` of `stage` of `method`'s plan
/// under `run_dir` (a cached unit is not recomputed).
pub fn run_worker(methods: &[Method], run_dir: &Path, method: &str, stage: Stage, index: usize) -> Result<()> {
    let method = crate::registry::find(methods, method)?;
    let path = plan_path(run_dir, method.name);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| crate::user_error(format!("{}: cannot read the plan ({e})", path.display())))?;
    let plan: PlanFile = serde_json::from_str(&text)
        .map_err(|e| crate::user_error(format!("{}: not a plan file ({e})", path.display())))?;
    let ctx = RunContext::from_plan(method, &plan, run_dir)?;
    let stage_units: Vec<&Unit> = plan.units.iter().filter(|u| u.stage == stage).collect();
    let Some(unit) = stage_units.get(index) else {
        crate::user_bail!(
            "{}: the {} stage has {} units, no index {index}",
            path.display(),
            stage.name(),
            stage_units.len()
        );
    };
    if cache::load(&ctx, unit)?.is_none() {
        compute_unit(method, &ctx, unit)?;
    }
    Ok(())
}

/// Reads every unit of `prep` from the cache and summarises them. The
/// report's wall time is the units' compute time plus the summary's.
pub fn summarise(prep: &Prepared) -> Result<Report> {
    let start = Instant::now();
    let mut outputs = Outputs::default();
    let mut compute_s = 0.0;
    let mut missing = Vec::new();
    for unit in &prep.units {
        match cache::load(&prep.ctx, unit)? {
            Some(e) => {
                compute_s += e.wall_s;
                outputs.units.push((unit.clone(), e.output));
            }
            None => missing.push(unit.key.to_string()),
        }
    }
    if !missing.is_empty() {
        anyhow::bail!("{}: {} unit(s) did not finish: {}", prep.method.name, missing.len(), missing.join(", "));
    }
    let mut report = (prep.method.summarise)(&prep.ctx, &outputs)?;
    report.wall_time_s = compute_s + start.elapsed().as_secs_f64();
    if !report.results.all_finite() {
        tracing::warn!(method = prep.method.name, "report contains non-finite metric values");
    }
    Ok(report)
}

/// Units done / total with an ETA, shared by every method of one run: a bar
/// on a terminal, plain lines on stderr otherwise (CI logs, pipes).
pub struct Progress {
    state: Mutex<ProgressState>,
    bar: Option<indicatif::ProgressBar>,
}

struct ProgressState {
    total: usize,
    done: usize,
    to_compute: usize,
    computed: usize,
    started: Instant,
}

impl Progress {
    /// Progress over `preps`' units (cached ones count as done at once).
    pub fn new(preps: &[&Prepared]) -> Self {
        let total: usize = preps.iter().map(|p| p.units.len()).sum();
        let to_compute: usize =
            preps.iter().map(|p| p.pending(Stage::Shared).len() + p.pending(Stage::Main).len()).sum();
        let terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
        let bar = (terminal && !crate::progress::is_quiet()).then(|| {
            let b = indicatif::ProgressBar::new(total as u64);
            b.set_style(
                indicatif::ProgressStyle::with_template("{msg:>24} [{bar:30}] {pos}/{len} units, eta {eta}")
                    .expect("static template")
                    .progress_chars("=> "),
            );
            b.set_position((total - to_compute) as u64);
            b.set_message("reproduce");
            b
        });
        let p = Self {
            state: Mutex::new(ProgressState {
                total,
                done: total - to_compute,
                to_compute,
                computed: 0,
                started: Instant::now(),
            }),
            bar,
        };
        p.line(&format!("{total} units, {} cached, {to_compute} to compute", total - to_compute));
        p
    }

    /// Prints a line above the bar (or on stderr without one).
    pub fn line(&self, text: &str) {
        match &self.bar {
            Some(b) => b.println(text),
            None => eprintln!("{text}"),
        }
    }

    /// One unit finished computing in `wall_s` seconds.
    pub fn unit_done(&self, method: &str, unit: &Unit, wall_s: f64) {
        let mut s = self.state.lock().expect("progress lock");
        s.done += 1;
        s.computed += 1;
        let elapsed = s.started.elapsed().as_secs_f64();
        let eta = elapsed / s.computed as f64 * (s.to_compute - s.computed) as f64;
        let text = format!(
            "[{}/{}] {method} {}: {:.1} s (eta {})",
            s.done,
            s.total,
            unit.key,
            wall_s,
            humantime::format_duration(Duration::from_secs(eta.round() as u64))
        );
        drop(s);
        match &self.bar {
            Some(b) => {
                b.inc(1);
                b.set_message(method.to_string());
            }
            None if !crate::progress::is_quiet() => eprintln!("{text}"),
            None => {}
        }
    }

    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

/// How the local executor runs units.
#[derive(Debug, Clone)]
pub struct LocalPool {
    /// Worker processes at once; 1 runs units in this process.
    pub jobs: usize,
    /// The `reprolab` binary and the arguments before `unit` (global flags).
    pub worker: Option<(PathBuf, Vec<String>)>,
}

/// Threads each of `jobs` workers gets so that together they use every core
/// once (rayon's pool reads `RAYON_NUM_THREADS`).
pub fn threads_per_worker(jobs: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (cores / jobs.max(1)).max(1)
}

/// Default `--jobs`: one worker per core, so every core is busy even when
/// units are small (each worker then runs single-threaded).
pub fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Runs every pending unit of `prep`, stage by stage, on `pool`.
pub fn run_local(prep: &Prepared, pool: &LocalPool, progress: &Progress) -> Result<()> {
    for stage in [Stage::Shared, Stage::Main] {
        let pending = prep.pending(stage);
        if pending.is_empty() {
            continue;
        }
        match (&pool.worker, pool.jobs) {
            (Some(worker), jobs) if jobs > 1 => run_pool(prep, stage, &pending, worker, jobs, progress)?,
            _ => {
                for (_, unit) in pending {
                    let entry = compute_unit(&prep.method, &prep.ctx, unit)?;
                    progress.unit_done(prep.method.name, unit, entry.wall_s);
                }
            }
        }
    }
    Ok(())
}

/// Where a worker's stdout and stderr go.
fn worker_log(prep: &Prepared, unit: &Unit) -> PathBuf {
    prep.ctx.run_dir.join("logs").join(format!(
        "{}-{}-{}.log",
        prep.method.name,
        unit.stage.name(),
        unit.key.file_stem()
    ))
}

fn run_pool(
    prep: &Prepared,
    stage: Stage,
    pending: &[(usize, &Unit)],
    worker: &(PathBuf, Vec<String>),
    jobs: usize,
    progress: &Progress,
) -> Result<()> {
    let threads = threads_per_worker(jobs);
    let mut queue = pending.iter();
    let mut running: Vec<(Child, &Unit, Instant)> = Vec::new();
    let mut failures: Vec<String> = Vec::new();
    loop {
        while running.len() < jobs && failures.is_empty() {
            let Some((index, unit)) = queue.next() else { break };
            let log = worker_log(prep, unit);
            std::fs::create_dir_all(log.parent().expect("logs live in a folder"))?;
            let file = std::fs::File::create(&log).with_context(|| format!("{}: cannot create", log.display()))?;
            let child = Command::new(&worker.0)
                .args(&worker.1)
                .args(["--quiet", "unit", "--run-dir"])
                .arg(&prep.ctx.run_dir)
                .args(["--method", prep.method.name, "--stage", stage.name(), "--index", &index.to_string()])
                .env("RAYON_NUM_THREADS", threads.to_string())
                .stdin(Stdio::null())
                .stdout(file.try_clone()?)
                .stderr(file)
                .spawn()
                .with_context(|| format!("cannot start the worker {}", worker.0.display()))?;
            running.push((child, unit, Instant::now()));
        }
        if running.is_empty() {
            break;
        }
        let mut i = 0;
        while i < running.len() {
            if let Some(status) = running[i].0.try_wait()? {
                let (_, unit, started) = running.swap_remove(i);
                if status.success() && cache::path(&prep.ctx, unit).exists() {
                    progress.unit_done(prep.method.name, unit, started.elapsed().as_secs_f64());
                } else {
                    let log = worker_log(prep, unit);
                    let tail = std::fs::read_to_string(&log).unwrap_or_default();
                    let last = tail.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").to_string();
                    failures.push(format!("{} ({status}; log {}): {last}", unit.key, log.display()));
                }
            } else {
                i += 1;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    if !failures.is_empty() {
        anyhow::bail!("{}: {} worker(s) failed: {}", prep.method.name, failures.len(), failures.join("; "));
    }
    Ok(())
}

/// Runs `method` under `opts` in this process (no cache reuse unless the
/// run directory already holds units) and returns its report: what tests
/// and library users call.
pub fn run_method(method: &Method, opts: &RunOptions) -> Result<Report> {
    let prep = prepare(method, opts)?;
    let progress = Progress::new(&[&prep]);
    run_local(&prep, &LocalPool { jobs: 1, worker: None }, &progress)?;
    progress.finish();
    summarise(&prep)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Outputs, Resources, UnitKey, UnitOutput, cache};
    use crate::registry::Preset;
    use crate::report::Verdict;

    /// A toy with a shared stage: the shared unit "fits" a scale, every main
    /// unit reads it by key.
    fn units(ctx: &RunContext) -> Result<Vec<Unit>> {
        let mut u = vec![Unit::shared("scale", 0)];
        u.extend(ctx.seeds.iter().map(|&s| Unit::main("", s)));
        Ok(u)
    }

    fn run_unit(ctx: &RunContext, unit: &Unit) -> Result<UnitOutput> {
        let scale: f64 = ctx.config_table()["scale"].as_float().unwrap();
        let mut out = UnitOutput::default();
        match unit.stage {
            Stage::Shared => out = out.with_data(&(scale * 2.0))?,
            Stage::Main => {
                let fitted: f64 = ctx.shared(&UnitKey::new("scale", 0))?.data()?;
                out.record("arm", "value", fitted + unit.key.seed as f64);
            }
        }
        Ok(out)
    }

    fn summarise(ctx: &RunContext, outputs: &Outputs) -> Result<Report> {
        Ok(ctx.report(outputs.results(""), Verdict::inconclusive("r", "e".into())))
    }

    /// Its preset is in the registry's test presets.
    const TOY: Method = Method {
        name: "toy-shared",
        about: Some("p"),
        claim: "c",
        units,
        run_unit,
        summarise,
        resources: Resources::SMALL,
        complete: true,
        commands: None,
        export: None,
    };

    fn opts(dir: &Path) -> RunOptions {
        RunOptions { preset: Some(Preset::Smoke), out_dir: dir.into(), ..Default::default() }
    }

    #[test]
    fn shared_units_run_first_and_main_units_read_them() {
        // compute_unit seeds burn's global generator: keep clear of tests that draw from it.
        let _seeding = crate::rng::global_seed_lock();
        let dir = tempfile::tempdir().unwrap();
        let report = run_method(&TOY, &opts(dir.path())).unwrap();
        assert_eq!(report.results.require("arm", "value").unwrap().values, &[3.0, 4.0, 5.0]);
        assert!(plan_path(dir.path(), "toy-shared").exists());
    }

    #[test]
    fn cache_round_trips_and_a_changed_config_is_a_different_unit() {
        // compute_unit seeds burn's global generator: keep clear of tests that draw from it.
        let _seeding = crate::rng::global_seed_lock();
        let dir = tempfile::tempdir().unwrap();
        let prep = prepare(&TOY, &opts(dir.path())).unwrap();
        assert_eq!(prep.pending(Stage::Main).len(), 3);
        let unit = prep.units[1].clone();
        let mut out = UnitOutput::default();
        out.record("a", "m", f64::NAN);
        out.note("n");
        cache::store(&prep.ctx, &unit, out.clone(), 1.5).unwrap();
        let back = cache::load(&prep.ctx, &unit).unwrap().unwrap();
        assert_eq!(back.wall_s, 1.5);
        assert_eq!(back.output.notes, out.notes);
        assert!(back.output.records[0].value.is_nan());
        assert_eq!(prep.pending(Stage::Main).len(), 2);

        // Another config (a user file changing `scale`) hashes differently.
        let f = dir.path().join("c.toml");
        std::fs::write(&f, "scale = 2.5\n").unwrap();
        let other = prepare(&TOY, &RunOptions { config_file: Some(f), ..opts(dir.path()) }).unwrap();
        assert_ne!(cache::unit_hash(&prep.ctx, &unit), cache::unit_hash(&other.ctx, &unit));
        assert!(cache::load(&other.ctx, &unit).unwrap().is_none(), "a stale unit was reused");
        // Another preset name with the same values is another unit too.
        let mut ctx = prep.ctx.clone();
        ctx.preset = Preset::Quick;
        assert_ne!(cache::unit_hash(&prep.ctx, &unit), cache::unit_hash(&ctx, &unit));
        // A truncated cache file is an error naming it, not a silent recompute.
        std::fs::write(cache::path(&prep.ctx, &unit), "{\"method\":").unwrap();
        let err = cache::load(&prep.ctx, &unit).unwrap_err().to_string();
        assert!(err.contains("not a unit result") && err.contains(".json"), "{err}");
    }

    #[test]
    fn a_worker_rebuilds_the_context_from_the_plan_file() {
        // compute_unit seeds burn's global generator: keep clear of tests that draw from it.
        let _seeding = crate::rng::global_seed_lock();
        let dir = tempfile::tempdir().unwrap();
        let prep = prepare(&TOY, &opts(dir.path())).unwrap();
        run_worker(&[TOY], dir.path(), "toy-shared", Stage::Shared, 0).unwrap();
        run_worker(&[TOY], dir.path(), "toy-shared", Stage::Main, 2).unwrap();
        assert_eq!(prep.pending(Stage::Main).len(), 2);
        let entry = cache::load(&prep.ctx, &prep.units[3]).unwrap().unwrap();
        assert_eq!(entry.output.records[0].value, 5.0);
        let err = run_worker(&[TOY], dir.path(), "toy-shared", Stage::Main, 3).unwrap_err().to_string();
        assert!(err.contains("has 3 units, no index 3"), "{err}");
    }
}

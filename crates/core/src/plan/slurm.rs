//! The Slurm executor: one `sbatch --array` script per (method, stage),
//! the main stage submitted with `--dependency=afterok:` on the shared one,
//! waiting by polling `squeue`, failed array tasks reported with their
//! exit codes and log paths. Each array task runs `reprolab unit` on one
//! unit of the plan file, so the run directory must be on a filesystem the
//! compute nodes share.

use super::Stage;
use super::executor::{Prepared, Progress};
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// How scripts are written and jobs watched.
#[derive(Debug, Clone)]
pub struct SlurmOptions {
    /// The `reprolab` binary the array tasks run (must be reachable from
    /// the compute nodes).
    pub program: PathBuf,
    /// Extra `#SBATCH` lines' arguments, e.g. `--partition=gpu`.
    pub sbatch_args: Vec<String>,
    /// Seconds between two `squeue` polls.
    pub poll: Duration,
}

/// One written array script.
#[derive(Debug, Clone)]
pub struct Script {
    pub method: String,
    pub stage: Stage,
    pub path: PathBuf,
    /// The stage indices the array covers (the pending units).
    pub indices: Vec<usize>,
}

/// Where scripts and task logs go.
pub fn slurm_dir(run_dir: &Path) -> PathBuf {
    run_dir.join("slurm")
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Slurm's array syntax for `indices` (`0-3,7,9-10`).
fn array_spec(indices: &[usize]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < indices.len() {
        let start = indices[i];
        let mut end = start;
        while i + 1 < indices.len() && indices[i + 1] == end + 1 {
            i += 1;
            end = indices[i];
        }
        parts.push(if start == end { start.to_string() } else { format!("{start}-{end}") });
        i += 1;
    }
    parts.join(",")
}

/// Writes one array script per stage of `prep` that has pending units.
pub fn write_scripts(prep: &Prepared, opts: &SlurmOptions) -> Result<Vec<Script>> {
    let dir = slurm_dir(&prep.ctx.run_dir);
    std::fs::create_dir_all(dir.join("logs")).with_context(|| format!("{}: cannot create", dir.display()))?;
    let run_dir = std::path::absolute(&prep.ctx.run_dir)?;
    let cwd = std::env::current_dir()?;
    let r = prep.method.resources;
    let mut scripts = Vec::new();
    for stage in [Stage::Shared, Stage::Main] {
        let indices: Vec<usize> = prep.pending(stage).into_iter().map(|(i, _)| i).collect();
        if indices.is_empty() {
            continue;
        }
        let name = format!("{}-{}", prep.method.name, stage.name());
        let mut text = format!(
            "#!/bin/bash\n\
             # reprolab: {} units of {}'s {} stage ({} preset). Each array task runs one unit;\n\
             # its result lands in {}/units/{}/.\n\
             #SBATCH --job-name=reprolab-{name}\n\
             #SBATCH --array={}\n\
             #SBATCH --cpus-per-task={}\n\
             #SBATCH --mem={}M\n\
             #SBATCH --time={}\n\
             #SBATCH --output={}/logs/{name}_%A_%a.out\n\
             #SBATCH --chdir={}\n\
             #SBATCH --kill-on-invalid-dep=yes\n",
            indices.len(),
            prep.method.name,
            stage.name(),
            prep.ctx.preset.name(),
            run_dir.display(),
            prep.method.name,
            array_spec(&indices),
            r.cpus,
            r.mem_mb,
            r.time_min,
            std::path::absolute(&dir)?.display(),
            cwd.display(),
        );
        for a in &opts.sbatch_args {
            text += &format!("#SBATCH {a}\n");
        }
        text += &format!(
            "export RAYON_NUM_THREADS=\"${{SLURM_CPUS_PER_TASK:-1}}\"\n\
             exec {} --quiet unit --run-dir {} --method {} --stage {} --index \"$SLURM_ARRAY_TASK_ID\"\n",
            quote(&opts.program.display().to_string()),
            quote(&run_dir.display().to_string()),
            prep.method.name,
            stage.name(),
        );
        let path = dir.join(format!("{name}.sbatch"));
        crate::report::write_bytes_atomic(&path, text)?;
        scripts.push(Script { method: prep.method.name.into(), stage, path, indices });
    }
    Ok(scripts)
}

/// Writes `submit.sh` (shared stages first, main stages depending on them)
/// and a README for submitting by hand.
pub fn write_submit_files(run_dir: &Path, scripts: &[Script], resume_cmd: &str) -> Result<PathBuf> {
    let dir = slurm_dir(run_dir);
    let mut sh = String::from(
        "#!/bin/bash\n# Submits every reprolab array job of this run; main stages wait for their shared stage.\nset -euo pipefail\ncd \"$(dirname \"$0\")\"\n",
    );
    for s in scripts {
        let file = s.path.file_name().expect("script has a name").to_string_lossy();
        let var = format!("jid_{}", s.method.replace('-', "_"));
        match s.stage {
            Stage::Shared => sh += &format!("{var}=$(sbatch --parsable {file})\necho \"{file}: job ${var}\"\n"),
            Stage::Main => {
                let dep_exists = scripts.iter().any(|o| o.method == s.method && o.stage == Stage::Shared);
                if dep_exists {
                    sh += &format!("echo \"{file}: job $(sbatch --parsable --dependency=afterok:${var} {file})\"\n");
                } else {
                    sh += &format!("echo \"{file}: job $(sbatch --parsable {file})\"\n");
                }
            }
        }
    }
    let submit = dir.join("submit.sh");
    crate::report::write_bytes_atomic(&submit, &sh)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&submit, std::fs::Permissions::from_mode(0o755))?;
    }
    let listing: String = scripts
        .iter()
        .map(|s| {
            format!(
                "- `{}`: {} array tasks ({} stage of {})\n",
                s.path.file_name().unwrap().to_string_lossy(),
                s.indices.len(),
                s.stage.name(),
                s.method
            )
        })
        .collect();
    let readme = format!(
        "# Slurm scripts of this reprolab run\n\n\
         Each `*.sbatch` is one job array; each task runs one unit of the plan in `../plan/` and writes its result\n\
         to `../units/` (atomically, so a failed or killed task leaves nothing half-written). Task logs go to `logs/`.\n\n\
         {listing}\n\
         Submit them all, shared stages first (main stages wait with `--dependency=afterok`):\n\n\
         ```sh\n{}\n```\n\n\
         Watch with `squeue -u $USER`. When the jobs have finished, summarise (units already computed are read,\n\
         not recomputed; failed ones are computed locally):\n\n\
         ```sh\n{resume_cmd}\n```\n\n\
         The run directory must be on a filesystem every compute node sees, and the `reprolab` binary named in the\n\
         scripts must run there. Resources per task (`--cpus-per-task`, `--mem`, `--time`) are the method's own;\n\
         add site options (partition, account) with `--sbatch-arg` when writing the plan.\n",
        submit.display(),
    );
    crate::report::write_bytes_atomic(&dir.join("README.md"), readme)?;
    Ok(submit)
}

fn run_tool(cmd: &mut Command) -> Result<String> {
    let shown = format!("{cmd:?}");
    let out = cmd.output().with_context(|| format!("cannot run {shown} (is Slurm installed and on PATH?)"))?;
    if !out.status.success() {
        anyhow::bail!("{shown} failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Submits `script` (after `dependency`, a job id) and returns its job id.
pub fn submit(script: &Script, dependency: Option<&str>) -> Result<String> {
    let mut cmd = Command::new("sbatch");
    cmd.arg("--parsable");
    if let Some(dep) = dependency {
        cmd.arg(format!("--dependency=afterok:{dep}"));
    }
    cmd.arg(&script.path);
    let out = run_tool(&mut cmd)?;
    // --parsable prints "jobid" or "jobid;cluster".
    let id = out.trim().split(';').next().unwrap_or("").to_string();
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) {
        anyhow::bail!("sbatch {}: unexpected answer '{}'", script.path.display(), out.trim());
    }
    Ok(id)
}

/// True while `job` has tasks in the queue.
fn in_queue(job: &str) -> Result<bool> {
    let out = run_tool(Command::new("squeue").args(["-h", "-j", job, "-o", "%i"]))?;
    Ok(out.lines().any(|l| !l.trim().is_empty()))
}

/// `(array task id, state, exit code)` of every task `scontrol` still knows.
fn task_states(job: &str) -> Vec<(usize, String, String)> {
    let Ok(out) = run_tool(Command::new("scontrol").args(["-o", "show", "job", job])) else {
        return Vec::new();
    };
    out.lines()
        .filter_map(|line| {
            let field =
                |k: &str| line.split_whitespace().find_map(|f| f.strip_prefix(&format!("{k}="))).map(str::to_string);
            Some((field("ArrayTaskId")?.parse().ok()?, field("JobState")?, field("ExitCode")?))
        })
        .collect()
}

/// One submitted method: its scripts' job ids.
struct Submitted<'a> {
    prep: &'a Prepared,
    jobs: Vec<(Script, String)>,
}

/// Writes, submits and waits for every pending unit of `preps`, calling
/// `on_done` for each method as soon as its jobs have left the queue (it
/// summarises and prints the verdict). Failed tasks are reported with their
/// exit codes and logs; the method's summary then names the missing units.
pub fn run_slurm(
    preps: &[&Prepared],
    opts: &SlurmOptions,
    progress: &Progress,
    mut on_done: impl FnMut(&Prepared, Vec<String>),
) -> Result<()> {
    let mut waiting: Vec<Submitted> = Vec::new();
    for prep in preps {
        let mut jobs = Vec::new();
        let mut shared_job: Option<String> = None;
        for script in write_scripts(prep, opts)? {
            let id = submit(&script, if script.stage == Stage::Main { shared_job.as_deref() } else { None })?;
            progress.line(&format!(
                "{}: submitted {} ({} array tasks) as job {id}",
                prep.method.name,
                script.path.display(),
                script.indices.len()
            ));
            if script.stage == Stage::Shared {
                shared_job = Some(id.clone());
            }
            jobs.push((script, id));
        }
        waiting.push(Submitted { prep, jobs });
    }
    let mut reported: Vec<(String, usize)> = Vec::new();
    while !waiting.is_empty() {
        let mut i = 0;
        while i < waiting.len() {
            // Count newly finished units for the progress display.
            let w = &waiting[i];
            for (script, _) in &w.jobs {
                let units = w.prep.stage_units(script.stage);
                for &idx in &script.indices {
                    let unit = units[idx].1;
                    let tag = (format!("{}/{}", w.prep.method.name, script.stage.name()), idx);
                    if !reported.contains(&tag) && super::cache::path(&w.prep.ctx, unit).exists() {
                        reported.push(tag);
                        let wall = super::cache::load(&w.prep.ctx, unit)?.map_or(0.0, |e| e.wall_s);
                        progress.unit_done(w.prep.method.name, unit, wall);
                    }
                }
            }
            let mut busy = false;
            for (_, job) in &w.jobs {
                busy |= in_queue(job)?;
            }
            if busy {
                i += 1;
                continue;
            }
            let w = waiting.remove(i);
            on_done(w.prep, failed_tasks(&w));
        }
        if !waiting.is_empty() {
            std::thread::sleep(opts.poll);
        }
    }
    Ok(())
}

/// The tasks of `w` whose unit has no result, with state, exit code and log.
fn failed_tasks(w: &Submitted) -> Vec<String> {
    let mut failures = Vec::new();
    for (script, job) in &w.jobs {
        let units = w.prep.stage_units(script.stage);
        let states = task_states(job);
        for &idx in &script.indices {
            let unit = units[idx].1;
            if super::cache::path(&w.prep.ctx, unit).exists() {
                continue;
            }
            let log = slurm_dir(&w.prep.ctx.run_dir).join("logs").join(format!(
                "{}-{}_{job}_{idx}.out",
                w.prep.method.name,
                script.stage.name()
            ));
            let state = states
                .iter()
                .find(|(t, _, _)| *t == idx)
                .map_or("state unknown (scontrol has forgotten the job)".to_string(), |(_, s, c)| {
                    format!("{s}, exit code {c}")
                });
            failures.push(format!("job {job} task {idx} ({}): {state}; log {}", unit.key, log.display()));
        }
    }
    failures
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn array_specs_compress_runs() {
        assert_eq!(array_spec(&[0, 1, 2, 3]), "0-3");
        assert_eq!(array_spec(&[0, 2, 3, 4, 7]), "0,2-4,7");
        assert_eq!(array_spec(&[5]), "5");
    }

    #[test]
    fn quoting_survives_single_quotes() {
        assert_eq!(quote("a'b c"), r"'a'\''b c'");
    }
}

//! What the `offline-rl` commands ([`crate::cli`]) do: `dataset` writes a
//! behaviour dataset of an environment, `train` learns a policy from
//! dataset files and checkpoints it, `eval` rolls a checkpoint out and
//! scores it.

use crate::behaviour::{MdnConfig, fit_behaviour};
use crate::dataset::{Dataset, Normaliser, collect_env, collect_point};
use crate::env::{self, Env, point::Layout};
use crate::eval::{Policy, mean_return, normalised_score, rollouts};
use crate::experiment::references;
use crate::nets::Actor;
use crate::td3::{Algo, Td3Config};
use crate::train::{Behaviour, EvalPlan, OfflineRun, TrainLog, action_scale, train_offline_resumable};
use anyhow::Result;
use reprolab_core::report::plot::{Series, lines_with_bands};
use reprolab_core::report::write_figure;
use reprolab_core::run_folder::TrainFolder;
use reprolab_core::train::Checkpoint;
use reprolab_core::train::checkpoint::TrainState;
use reprolab_core::train::metrics_log::MetricRecord;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Pendulum's D4RL-style references: the uniform random policy's mean
/// return (measured by 100 rollouts) and this expert return, the level a
/// well-trained TD3/SAC policy reaches (as D4RL fixes REF_MAX_SCORE).
pub const PENDULUM_EXPERT_RETURN: f64 = -150.0;

/// The references (score 0, score 100) of an environment.
pub fn score_references(env_id: &str) -> Result<(f64, f64)> {
    let probe = env::make(env_id)?;
    if let Some(layout) = Layout::by_id(env_id) {
        let r = references(&layout);
        return Ok((r.behaviour, r.optimal));
    }
    let space = probe.action_space();
    let make = || env::make(env_id).expect("made above");
    let random = std::cell::RefCell::new(reprolab_core::rng::rng(7));
    let act = |obs: &[Vec<f32>]| obs.iter().map(|_| space.sample(&mut random.borrow_mut())).collect::<Vec<_>>();
    Ok((mean_return(&rollouts(&make, 100, 7, &act)), PENDULUM_EXPERT_RETURN))
}

/// `offline-rl dataset`: the scripted behaviour data of a point-mass
/// environment, or `episodes` uniform-random Pendulum episodes.
pub fn dataset_command(env_id: &str, episodes: usize, seed: u64, out: &Path) -> Result<Dataset> {
    let mut e = env::make(env_id)?;
    let data = match Layout::by_id(env_id) {
        Some(layout) => collect_point(&layout, seed),
        None => {
            let space = e.action_space();
            collect_env(e.as_mut(), episodes, seed, "random", |_, r| space.sample(r))
        }
    };
    crate::io::save(&data, out)?;
    Ok(data)
}

/// What `train` stores beside the actor's weights (in the checkpoint state).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PolicyMeta {
    /// The environment it was evaluated in while training (None: trained
    /// from files alone, e.g. a MuJoCo dataset).
    pub env: Option<String>,
    pub algo: Algo,
    pub obs_dim: usize,
    pub act_dim: usize,
    pub hidden: Vec<usize>,
    pub stochastic: bool,
    pub norm: Normaliser,
    pub action_scale: Vec<f32>,
    pub datasets: Vec<String>,
    pub curve: Vec<(usize, f64)>,
    pub behaviour_validation_log_likelihood: Option<f64>,
}

/// What `train` is asked to do, with every default filled in; it is also
/// the folder's `config.toml` (and `--resume` reads it back from `report.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainRequest {
    /// Evaluate in this environment while training (None: no evaluation).
    pub env: Option<String>,
    pub datasets: Vec<PathBuf>,
    pub algo: Algo,
    pub steps: usize,
    pub seed: u64,
    pub td3: Td3Config,
    pub mdn: MdnConfig,
    pub eval_every: usize,
    pub eval_episodes: usize,
    pub out: PathBuf,
    /// Write into a non-empty `out`.
    pub overwrite: bool,
}

/// What `train` printed, as `report.json`'s result.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainSummary {
    pub algo: Algo,
    pub env: Option<String>,
    pub datasets: Vec<String>,
    pub updates: usize,
    /// `(update, mean evaluation return)` at each evaluation.
    pub evaluations: Vec<(usize, f64)>,
    pub last_return: Option<f64>,
    pub last_normalised_score: Option<f64>,
    pub behaviour_validation_log_likelihood: Option<f64>,
    /// The folder holding the checkpoint.
    pub checkpoint: PathBuf,
}

/// `offline-rl train`: checks the data against the environment, claims
/// `out` (config.toml, report.json), fits the behaviour model when the
/// algorithm needs one, trains, checkpoints the actor at every evaluation
/// (a later NaN keeps the last good one), logs losses and evaluations to
/// `metrics.jsonl`, writes `curve.svg` and records the summary.
pub fn train_command(req: &TrainRequest) -> Result<PolicyMeta> {
    train_command_with(req, false)
}

/// The sub-folder of a `train` folder holding the full training state
/// (every network, target and optimiser, the sampler's position) that
/// `--resume` continues from; written at every evaluation.
pub const RESUME_DIR: &str = "resume";

/// What `train --resume DIR` found in DIR.
pub enum ResumeRequest {
    /// The run in DIR finished (its report.json has a result): nothing to do.
    Finished,
    /// The run's settings, to continue with.
    Continue(Box<TrainRequest>),
}

/// Reads the settings of the `offline-rl train` run in `dir`; a user error
/// when `dir` is not such a folder.
pub fn resume_request(dir: &Path) -> Result<ResumeRequest> {
    use reprolab_core::run_folder::{Resume, TrainRecord};
    let mut req: TrainRequest = match TrainRecord::for_resume(dir, crate::METHOD.name, "train")? {
        Resume::Finished(_) => return Ok(ResumeRequest::Finished),
        Resume::Unfinished(req, _) => req,
    };
    req.out = dir.to_path_buf();
    Ok(ResumeRequest::Continue(Box::new(req)))
}

/// `offline-rl train --resume`: continues the run `req` (from
/// [`resume_request`]) from its last complete checkpoint, or from the start
/// when it was killed before its first; the finished folder is the one the
/// uninterrupted run leaves (same weights, evaluations and report result).
pub fn resume_command(req: &TrainRequest) -> Result<PolicyMeta> {
    train_command_with(req, true)
}

/// The records of an old `metrics.jsonl` that `keep` accepts (a torn last
/// line of a killed run is dropped).
fn kept_metrics(path: &Path, keep: impl Fn(&MetricRecord) -> bool) -> Vec<MetricRecord> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines().filter_map(|l| serde_json::from_str::<MetricRecord>(l).ok()).filter(|r| keep(r)).collect()
}

fn train_command_with(req: &TrainRequest, resume: bool) -> Result<PolicyMeta> {
    let data = crate::io::load_mixed(&req.datasets)?;
    if req.algo == Algo::Td3RklOracle || req.algo == Algo::Td3 {
        reprolab_core::user_bail!(
            "--algo {} is for the experiments; use bc, td3-bc, td3-rkl, td3-rkl-global, td3-mse-adaptive or iql",
            req.algo.name()
        );
    }
    let (od, ad) = (data.obs_dim, data.act_dim);
    let scale = match &req.env {
        Some(id) => {
            let probe = env::make(id)?;
            let (eo, ea) = (probe.observation_space().dim(), probe.action_space().dim());
            if (od, ad) != (eo, ea) {
                reprolab_core::user_bail!(
                    "{}: observations/actions have {od}/{ad} columns but '{id}' has {eo}/{ea}",
                    req.datasets[0].display()
                );
            }
            action_scale(probe.as_ref())
        }
        None => data_action_scale(&data),
    };
    let state_dir = req.out.join(RESUME_DIR);
    let resumed_at = if resume { crate::train::saved_step(&state_dir)? } else { None };
    let old_metrics = match resumed_at {
        Some(step) => {
            kept_metrics(&req.out.join("metrics.jsonl"), |r| r.name.starts_with("behaviour/") || r.step <= step)
        }
        None => Vec::new(),
    };
    let folder = TrainFolder::open(crate::METHOD.name, "train", &req.out, req.overwrite || resume, req, &[req.seed])?;
    if !resume && state_dir.exists() {
        // An earlier run's state must not be continued by a later --resume.
        std::fs::remove_dir_all(&state_dir)
            .map_err(|e| reprolab_core::user_error(format!("{}: cannot remove ({e})", state_dir.display())))?;
    }
    let mut metrics = folder.metrics()?;
    for r in &old_metrics {
        metrics.log(r.step, &r.name, r.value.unwrap_or(f64::NAN))?;
    }
    let references = req.env.as_deref().map(score_references).transpose()?;
    let dev = reprolab_core::device::default_device().autodiff();
    let fitted = if req.algo.needs_behaviour() {
        // Refitted on resume (it is seeded, so the same model); its log lines are kept from the first run.
        let log = if resumed_at.is_some() { None } else { Some(&mut metrics) };
        Some(fit_behaviour(&data, &req.mdn, &scale, req.seed, &dev, log)?)
    } else {
        None
    };
    let behaviour = fitted.as_ref().map_or(Behaviour::None, Behaviour::Fitted);
    let env_id = req.env.clone().unwrap_or_default();
    let make = move || env::make(&env_id).expect("checked above");
    let make_env: Option<&dyn Fn() -> Box<dyn Env>> = if req.env.is_some() { Some(&make) } else { None };
    let plan = EvalPlan { make_env, every: req.eval_every.max(1), episodes: req.eval_episodes };
    let ckpt = Checkpoint::new(&req.out);
    let meta_of = |t: &crate::train::Trained| PolicyMeta {
        env: req.env.clone(),
        algo: req.algo,
        obs_dim: od,
        act_dim: ad,
        hidden: req.td3.hidden.clone(),
        stochastic: t.agent.actor.stochastic,
        norm: t.norm.clone(),
        action_scale: scale.clone(),
        datasets: req.datasets.iter().map(|p| p.display().to_string()).collect(),
        curve: t.curve.clone(),
        behaviour_validation_log_likelihood: fitted.as_ref().map(|f| f.validation_log_likelihood),
    };
    let bar = reprolab_core::progress::bar(req.steps as u64, &format!("{} on {}", req.algo.name(), meta_name(req)));
    let mut save = |t: &crate::train::Trained| -> Result<()> {
        let state =
            TrainState { step: t.agent.updates, extra: serde_json::to_value(meta_of(t))?, ..Default::default() };
        ckpt.save(&t.agent.actor, None, &state)?;
        bar.set_position(t.agent.updates as u64);
        Ok(())
    };
    let run = OfflineRun {
        algo: req.algo,
        td3: &req.td3,
        data: &data,
        action_scale: &scale,
        behaviour,
        steps: req.steps,
        seed: req.seed,
        eval: Some(&plan),
    };
    let resumable = crate::train::Resumable { dir: state_dir };
    let log = Some(TrainLog { metrics: &mut metrics, references });
    let trained = train_offline_resumable(&run, &dev, &mut save, log, Some(&resumable))?;
    bar.finish_and_clear();
    let meta = meta_of(&trained);
    let series = vec![Series {
        name: req.algo.name().into(),
        x: meta.curve.iter().map(|c| c.0 as f64).collect(),
        mean: meta.curve.iter().map(|c| c.1).collect(),
        std: vec![],
    }];
    // curve.svg, with curve.png and curve.csv (its numbers) beside it.
    let curve =
        lines_with_bands(&format!("{} on {}", req.algo.name(), meta_name(req)), "update", "mean return", &series)?;
    write_figure(&req.out, "curve", &curve)?;
    let last_return = meta.curve.last().map(|c| c.1);
    folder.finish(&TrainSummary {
        algo: req.algo,
        env: req.env.clone(),
        datasets: meta.datasets.clone(),
        updates: req.steps,
        evaluations: meta.curve.clone(),
        last_return,
        last_normalised_score: last_return.zip(references).map(|(r, (low, high))| normalised_score(r, low, high)),
        behaviour_validation_log_likelihood: meta.behaviour_validation_log_likelihood,
        checkpoint: req.out.clone(),
    })?;
    Ok(meta)
}

fn meta_name(req: &TrainRequest) -> String {
    req.env.clone().unwrap_or_else(|| req.datasets[0].display().to_string())
}

/// The action bound of a dataset without an environment: 1 per dimension
/// (D4RL's and Minari's MuJoCo actions lie in [-1, 1]) unless its actions
/// reach beyond, then their largest magnitude.
pub fn data_action_scale(data: &Dataset) -> Vec<f32> {
    let mut scale = vec![1.0f32; data.act_dim];
    for (i, a) in data.actions.iter().enumerate() {
        let d = i % data.act_dim;
        scale[d] = scale[d].max(a.abs());
    }
    scale
}

/// Checks a checkpoint's policy description before an actor is built from
/// it: the sizes must be positive and the actor they describe must fit in
/// the weights file (4 bytes a parameter), so a damaged `state.json`
/// claiming a 10^9-wide layer is refused instead of allocated; the
/// normaliser and action scales must match the sizes and be finite (the
/// policy divides by `std` and multiplies by the scales).
fn check_policy_meta(meta: &PolicyMeta, weights: &Path, shown: &str) -> Result<()> {
    if meta.obs_dim == 0 || meta.act_dim == 0 || meta.hidden.contains(&0) {
        reprolab_core::user_bail!("{shown}: the policy's sizes must be positive");
    }
    let out = if meta.stochastic { 2 * meta.act_dim as u128 } else { meta.act_dim as u128 };
    let dims: Vec<u128> =
        std::iter::once(meta.obs_dim as u128).chain(meta.hidden.iter().map(|&h| h as u128)).chain([out]).collect();
    let params: u128 =
        dims.windows(2).map(|w| w[0].saturating_mul(w[1]).saturating_add(w[1])).fold(0, u128::saturating_add);
    let bytes = std::fs::metadata(weights).map(|m| u128::from(m.len())).unwrap_or(0);
    if params.saturating_mul(4) > bytes {
        reprolab_core::user_bail!(
            "{shown}: the policy it describes has {params} parameters, more than {} holds",
            weights.display()
        );
    }
    let finite = |v: &[f32]| v.iter().all(|x| x.is_finite());
    if meta.norm.mean.len() != meta.obs_dim
        || meta.norm.std.len() != meta.obs_dim
        || !finite(&meta.norm.mean)
        || !meta.norm.std.iter().all(|s| s.is_finite() && *s > 0.0)
    {
        reprolab_core::user_bail!(
            "{shown}: the observation normaliser needs {} finite means and positive stds",
            meta.obs_dim
        );
    }
    if meta.action_scale.len() != meta.act_dim || !finite(&meta.action_scale) {
        reprolab_core::user_bail!("{shown}: 'action_scale' needs {} finite values", meta.act_dim);
    }
    Ok(())
}

/// A checkpoint's policy, ready to act.
pub fn load_policy(dir: &Path) -> Result<(Actor, PolicyMeta)> {
    let ckpt = Checkpoint::new(dir);
    let Some(state) = ckpt.state()? else {
        reprolab_core::user_bail!(
            "{}: not a checkpoint written by `offline-rl train` (no state.json/model.safetensors)",
            dir.display()
        );
    };
    let shown = ckpt.dir.join("state.json").display().to_string();
    let meta: PolicyMeta = serde_json::from_value(state.extra).map_err(|e| {
        reprolab_core::user_error(format!("{shown}: checkpoint state is not an offline-rl policy ({e})"))
    })?;
    check_policy_meta(&meta, &ckpt.model_path(), &shown)?;
    let dev = reprolab_core::device::default_device();
    // The weights' error names model.safetensors; the state file is named too, since it described them.
    let actor = ckpt
        .load_model(Actor::new(meta.obs_dim, meta.act_dim, &meta.hidden, meta.stochastic, &dev))
        .map_err(|e| reprolab_core::user_error(format!("{shown}: the policy it describes does not load ({e:#})")))?;
    Ok((actor, meta))
}

/// What `eval` measured.
#[derive(Debug, Clone, Serialize)]
pub struct EvalSummary {
    pub env: String,
    pub algo: String,
    pub episodes: usize,
    pub mean_return: f64,
    pub std_return: f64,
    pub normalised_score: f64,
    /// (score 0, score 100) returns.
    pub references: (f64, f64),
}

/// `offline-rl eval`.
pub fn eval_command(dir: &Path, env_id: &str, episodes: usize, seed: u64) -> Result<EvalSummary> {
    let (actor, meta) = load_policy(dir)?;
    let probe = env::make(env_id)?;
    if (probe.observation_space().dim(), probe.action_space().dim()) != (meta.obs_dim, meta.act_dim) {
        reprolab_core::user_bail!(
            "{}: the policy has observation/action sizes {}/{}, which differ from '{env_id}'",
            dir.display(),
            meta.obs_dim,
            meta.act_dim
        );
    }
    if episodes == 0 {
        reprolab_core::user_bail!("--episodes must be at least 1");
    }
    let dev = reprolab_core::device::default_device();
    let policy = Policy { actor: &actor, norm: &meta.norm, action_scale: &meta.action_scale, device: &dev };
    let id = env_id.to_string();
    let make = move || -> Box<dyn Env> { env::make(&id).expect("checked above") };
    let eps = rollouts(&make, episodes, seed, &|obs| policy.act(obs));
    let rets: Vec<f64> = eps.iter().map(|e| e.ret).collect();
    let refs = score_references(env_id)?;
    let m = mean_return(&eps);
    Ok(EvalSummary {
        env: env_id.into(),
        algo: meta.algo.name().into(),
        episodes,
        mean_return: m,
        std_return: reprolab_core::stats::std(&rets),
        normalised_score: normalised_score(m, refs.0, refs.1),
        references: refs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(dir: &Path, data: PathBuf, algo: Algo) -> TrainRequest {
        TrainRequest {
            env: Some("point-obstacle".into()),
            datasets: vec![data],
            algo,
            steps: 30,
            seed: 0,
            td3: Td3Config { hidden: vec![8, 8], batch: 32, ..Default::default() },
            mdn: MdnConfig { hidden: vec![8, 8], steps: 10, ..Default::default() },
            eval_every: 10,
            eval_episodes: 2,
            out: dir.join("ck"),
            overwrite: false,
        }
    }

    #[test]
    fn train_checkpoints_and_eval_reloads_the_same_policy() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("d.npz");
        dataset_command("point-obstacle", 0, 0, &data).unwrap();
        let meta = train_command(&request(dir.path(), data, Algo::Td3Rkl)).unwrap();
        assert_eq!(meta.curve.len(), 3);
        assert!(meta.stochastic && meta.behaviour_validation_log_likelihood.is_some());
        let (actor, back) = load_policy(&dir.path().join("ck")).unwrap();
        assert_eq!(back.norm, meta.norm);
        let e = eval_command(&dir.path().join("ck"), "point-obstacle", 4, 1).unwrap();
        assert!(e.mean_return.is_finite() && e.references.1 > e.references.0);
        let _ = actor;
    }

    /// Rewards of 1e38 overflow the critic's loss: training stops with the
    /// guard's message at the first check, before any checkpoint is written.
    #[test]
    fn a_diverging_loss_stops_training_with_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let mut d = collect_point(&Layout::obstacle(5.0), 0);
        d.rewards.iter_mut().for_each(|r| *r = 1e38);
        let data = dir.path().join("big.npz");
        crate::io::save(&d, &data).unwrap();
        let err = train_command(&request(dir.path(), data, Algo::Td3Bc)).unwrap_err().to_string();
        assert!(err.contains("training stopped") && err.contains("td3-bc critic loss"), "{err}");
        assert!(!dir.path().join("ck/state.json").exists());
    }

    /// Without an environment (a dataset of a task we cannot simulate) the
    /// policy trains from the file alone and is checkpointed, with no curve.
    #[test]
    fn training_without_an_environment_checkpoints_without_evaluating() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("p.npz");
        let d = dataset_command("pendulum", 2, 0, &data).unwrap();
        let largest = d.actions.iter().fold(0f32, |m, a| m.max(a.abs()));
        let req = TrainRequest { env: None, ..request(dir.path(), data, Algo::Td3Bc) };
        let meta = train_command(&req).unwrap();
        assert!(meta.curve.is_empty() && meta.env.is_none());
        // Pendulum's torques reach beyond 1, so their largest magnitude scales them.
        assert!(largest > 1.9 && meta.action_scale == vec![largest], "{:?}", meta.action_scale);
        let (_, back) = load_policy(&dir.path().join("ck")).unwrap();
        assert_eq!((back.obs_dim, back.act_dim), (3, 1));
        let e = eval_command(&dir.path().join("ck"), "pendulum", 2, 0).unwrap();
        assert!(e.mean_return.is_finite());
    }
}

//! Training loops: offline ([`train_offline`]: any algorithm on a fixed
//! dataset) and online TD3 ([`train_online`]: how Pendulum's behaviour
//! policies of three qualities are obtained).

use crate::behaviour::{FittedMdn, Oracle};
use crate::dataset::{Dataset, Normaliser, Prepared};
use crate::env::Env;
use crate::eval::{Policy, mean_return, normalised_score, rollouts};
use crate::nets::Actor;
use crate::td3::{Agent, Algo, BehaviourTerms, Td3Config};
use crate::validate::{nested, non_negative};
use anyhow::Result;
use burn::module::Module;
use burn::tensor::Device;
use reprolab_core::registry::Validate;
use reprolab_core::report::write_bytes_atomic;
use reprolab_core::rng::{SeededRng, derive_seed, rng, standard_normal};
use reprolab_core::train::checkpoint::TrainState;
use reprolab_core::train::fault::{is_poisoned, poison_batch};
use reprolab_core::train::{Checkpoint, MetricsLog, OptimizerConfig, check_finite};

/// A learning curve: `(update, value)` points.
pub type Curve = Vec<(usize, f64)>;
/// An arm's name and its learning curve per seed.
pub type ArmCurves = (String, Vec<Curve>);

/// Where the regulariser's behaviour density comes from.
#[derive(Clone, Copy)]
pub enum Behaviour<'a> {
    None,
    Fitted(&'a FittedMdn),
    Oracle(&'a Oracle),
}

impl Behaviour<'_> {
    fn terms(&self, b: &crate::dataset::Batch) -> BehaviourTerms {
        match self {
            Behaviour::None => BehaviourTerms { mixture: None, weight: None },
            Behaviour::Fitted(m) => m.terms(b),
            Behaviour::Oracle(o) => o.terms(b),
        }
    }
}

/// Checkpoints during training, every `every` updates (and at the end),
/// each after evaluating `episodes` episodes when there is an environment.
pub struct EvalPlan<'a> {
    pub make_env: Option<&'a dyn Fn() -> Box<dyn Env>>,
    pub every: usize,
    pub episodes: usize,
}

/// A trained policy with what is needed to act and what was logged.
pub struct Trained {
    pub agent: Agent,
    pub norm: Normaliser,
    pub action_scale: Vec<f32>,
    /// `(update, mean evaluation return)`.
    pub curve: Vec<(usize, f64)>,
    /// Per-state weights seen over training (a sample, for their distribution).
    pub weights: Vec<f32>,
}

impl Trained {
    pub fn act(&self, obs: &[Vec<f32>], device: &Device) -> Vec<Vec<f32>> {
        let actor = self.agent.policy();
        Policy { actor: &actor, norm: &self.norm, action_scale: &self.action_scale, device }.act(obs)
    }
}

/// The action bound of each dimension (boxes are symmetric here).
pub fn action_scale(env: &dyn Env) -> Vec<f32> {
    env.action_space().high.clone()
}

/// One offline training run: which algorithm, on which data, for how long.
pub struct OfflineRun<'a> {
    pub algo: Algo,
    pub td3: &'a Td3Config,
    pub data: &'a Dataset,
    /// The action bound per dimension (actions are divided by it).
    pub action_scale: &'a [f32],
    /// The behaviour density of the regulariser (None for MSE-only algorithms).
    pub behaviour: Behaviour<'a>,
    /// Gradient updates.
    pub steps: usize,
    pub seed: u64,
    /// When to evaluate and call `on_eval` (None: never).
    pub eval: Option<&'a EvalPlan<'a>>,
}

/// How often a loop of `steps` steps writes its losses to `metrics.jsonl`:
/// every step up to 1000 steps, else about 1000 times, so a log stays a
/// few thousand lines and reading the losses (a device sync) stays rare.
pub fn log_every(steps: usize) -> usize {
    (steps / 1000).max(1)
}

/// Where [`train_offline`] writes its metrics (the `train` command's
/// `metrics.jsonl`): `critic/loss`, `actor/loss`, `actor/regulariser`
/// (the behaviour term), `actor/weight_std` and `actor/weight_max` (the
/// per-state weight `w(s)` of the adaptive algorithms; its batch mean is 1),
/// `value/loss` (IQL's expectile loss; its `actor/weight_*` are the clipped
/// advantage weights `exp(beta A)`), `actor/lr` and `critic/lr` at step 0
/// (IQL's actor rate then follows a cosine), and at every evaluation
/// `eval/return` and, given the references, `eval/normalised_score`.
pub struct TrainLog<'a> {
    pub metrics: &'a mut MetricsLog,
    /// (score 0, score 100) returns of the evaluation environment.
    pub references: Option<(f64, f64)>,
}

/// Trains `run.algo` for `run.steps` updates on `run.data`, calling
/// `on_eval` at every checkpoint of `run.eval` and writing its losses and
/// evaluations to `train_log` (the experiments pass None: logging only reads
/// values, so their runs are the same either way).
pub fn train_offline(
    run: &OfflineRun,
    device: &Device,
    on_eval: &mut dyn FnMut(&Trained) -> Result<()>,
    train_log: Option<TrainLog>,
) -> Result<Trained> {
    train_offline_resumable(run, device, on_eval, train_log, None)
}

/// [`train_offline`] that also writes its full state to `resumable.dir`
/// at every evaluation (after `on_eval`) and, given a saved state, continues
/// from it: the `train` command's `--resume`. At each of those checkpoints
/// burn's global generator (target-policy noise, the stochastic actor's
/// samples) is reseeded from the run seed and the step, since its state
/// cannot be saved; a resumed run reseeds it the same way, so it continues
/// exactly as the uninterrupted run. Without `resumable` nothing is reseeded,
/// so the experiments' runs are unchanged.
pub fn train_offline_resumable(
    run: &OfflineRun,
    device: &Device,
    on_eval: &mut dyn FnMut(&Trained) -> Result<()>,
    mut train_log: Option<TrainLog>,
    resumable: Option<&Resumable>,
) -> Result<Trained> {
    let OfflineRun { algo, td3: cfg, data, action_scale, behaviour, steps, seed, eval } = *run;
    reprolab_core::rng::seed_burn(derive_seed(seed, algo.name()));
    let norm = Normaliser::fit(data);
    let prepared = Prepared::new(data, &norm, action_scale);
    let mut agent = Agent::new(algo, cfg.clone(), data.obs_dim, data.act_dim, device);
    agent.plan_updates(steps);
    let mut r = rng(derive_seed(seed, "batches"));
    let mut curve = Vec::new();
    let mut first = 1;
    if let Some(res) = resumable
        && let Some(saved) = load_full_state(&res.dir, &mut agent)?
    {
        r = saved.rng.restore()?;
        curve = saved.curve;
        first = saved.step + 1;
        reprolab_core::rng::seed_burn(resume_seed(seed, saved.step));
    }
    let mut trained = Trained { agent, norm, action_scale: action_scale.to_vec(), curve, weights: Vec::new() };
    let inner = device.clone().inner();
    // A multiple of the actor's update period, so every logged step has an actor loss.
    let period = if algo.uses_critic() { cfg.policy_freq.max(1) } else { 1 };
    let every = log_every(steps).div_ceil(period) * period;
    if let Some(l) = train_log.as_mut()
        && first == 1
    {
        l.metrics.log(0, "actor/lr", cfg.actor_lr)?;
        if algo.uses_critic() {
            l.metrics.log(0, "critic/lr", cfg.critic_lr)?;
        }
    }
    for step in first..=steps {
        let mut batch = prepared.sample(cfg.batch, &mut r, device);
        batch.obs = poison_batch(batch.obs, step);
        // Losses are read (a device sync) every 1000 updates and before every
        // evaluation, so a checkpoint written there is never of a diverged
        // policy; and at a step the fault injection poisons, so the guard
        // names that step.
        let eval_due = eval.is_some_and(|p| step % p.every == 0);
        let log = step % 1000 == 0 || step == steps || eval_due || is_poisoned(step);
        let losses = trained.agent.update(&batch, &|b| behaviour.terms(b));
        if let Some(l) = train_log.as_mut()
            && (step % every == 0 || step == steps)
        {
            log_losses(l.metrics, step, &losses)?;
        }
        if log && let Some(w) = losses.weight {
            trained.weights.extend(w.into_data().try_to_vec::<f32>().unwrap_or_default());
        }
        if log {
            for (name, loss) in
                [("critic loss", losses.critic), ("actor loss", losses.actor), ("value loss", losses.value)]
            {
                if let Some(l) = loss {
                    check_finite(l.into_scalar::<f32>(), step, &format!("{} {name}", algo.name()))?;
                }
            }
        }
        if let Some(plan) = eval
            && (step % plan.every == 0 || step == steps)
        {
            if let Some(make_env) = plan.make_env {
                let ret =
                    evaluate(&trained, make_env, plan.episodes, derive_seed(seed, &format!("eval-{step}")), &inner);
                trained.curve.push((step, ret));
                if let Some(l) = train_log.as_mut() {
                    l.metrics.log(step, "eval/return", ret)?;
                    if let Some((low, high)) = l.references {
                        l.metrics.log(step, "eval/normalised_score", normalised_score(ret, low, high))?;
                    }
                }
            }
            on_eval(&trained)?;
            if let Some(res) = resumable {
                save_full_state(&res.dir, &trained, &r, step)?;
                reprolab_core::rng::seed_burn(resume_seed(seed, step));
            }
        }
    }
    Ok(trained)
}

/// Where a resumable [`train_offline_resumable`] keeps its full state:
/// `dir/step-N/<part>/` (one core [`Checkpoint`] per network, with its
/// optimiser) and `dir/latest.json`, written last and atomically, naming
/// the newest complete `step-N`; older ones are removed after it.
pub struct Resumable {
    pub dir: std::path::PathBuf,
}

/// burn's generator's seed after the checkpoint at `step`.
fn resume_seed(seed: u64, step: usize) -> u64 {
    derive_seed(seed, &format!("resume-{step}"))
}

/// The batch sampler's ChaCha8 state: key, stream and word position
/// (a string: JSON numbers do not hold a u128).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RngState {
    pub seed: [u8; 32],
    pub stream: u64,
    pub word_pos: String,
}

impl RngState {
    pub fn of(r: &SeededRng) -> Self {
        Self { seed: r.get_seed(), stream: r.get_stream(), word_pos: r.get_word_pos().to_string() }
    }

    /// The generator, at the same position.
    pub fn restore(&self) -> Result<SeededRng> {
        use rand::SeedableRng;
        let mut r = SeededRng::from_seed(self.seed);
        r.set_stream(self.stream);
        let pos: u128 = self.word_pos.parse().map_err(|e| anyhow::anyhow!("corrupt sampler position ({e})"))?;
        r.set_word_pos(pos);
        Ok(r)
    }
}

/// `latest.json` of a resumable run's state folder.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct SavedState {
    /// Updates done.
    pub step: usize,
    pub rng: RngState,
    pub curve: Curve,
    /// IQL's actor steps (its cosine schedule's position).
    pub iql_actor_steps: Option<usize>,
}

const LATEST: &str = "latest.json";

fn step_dir(dir: &std::path::Path, step: usize) -> std::path::PathBuf {
    dir.join(format!("step-{step:09}"))
}

/// Writes the agent's every network and optimiser under `dir/step-N`, then
/// `latest.json`, then removes the older `step-*` folders.
fn save_full_state(dir: &std::path::Path, t: &Trained, r: &SeededRng, step: usize) -> Result<()> {
    let a = &t.agent;
    let at = step_dir(dir, step);
    let state = TrainState { step, ..Default::default() };
    let critic_opt = a.algo.uses_critic().then_some(&a.critic_opt);
    Checkpoint::new(at.join("actor")).save(&a.actor, Some(&a.actor_opt), &state)?;
    Checkpoint::new(at.join("critic")).save(&a.critic, critic_opt, &state)?;
    Checkpoint::new(at.join("actor_target")).save(&a.actor_target, None, &state)?;
    Checkpoint::new(at.join("critic_target")).save(&a.critic_target, None, &state)?;
    if let Some(p) = &a.iql {
        Checkpoint::new(at.join("value")).save(&p.value, Some(&p.value_opt), &state)?;
        if let Some(ls) = &p.log_std {
            Checkpoint::new(at.join("log_std")).save(ls, Some(&p.log_std_opt), &state)?;
        }
    }
    let saved = SavedState {
        step,
        rng: RngState::of(r),
        curve: t.curve.clone(),
        iql_actor_steps: a.iql.as_ref().map(|p| p.actor_steps),
    };
    write_bytes_atomic(&dir.join(LATEST), serde_json::to_vec_pretty(&saved)?)?;
    for entry in std::fs::read_dir(dir)?.flatten() {
        let path = entry.path();
        if path != at && entry.file_name().to_string_lossy().starts_with("step-") {
            let _ = std::fs::remove_dir_all(&path);
        }
    }
    Ok(())
}

/// The step a resumable run's state folder holds (None: no complete state).
pub fn saved_step(dir: &std::path::Path) -> Result<Option<usize>> {
    Ok(read_latest(dir)?.map(|s| s.step))
}

fn read_latest(dir: &std::path::Path) -> Result<Option<SavedState>> {
    let path = dir.join(LATEST);
    if !path.exists() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(&path)
        .map_err(|e| reprolab_core::user_error(format!("{}: cannot read ({e})", path.display())))?;
    let saved = serde_json::from_str(&text)
        .map_err(|e| reprolab_core::user_error(format!("{}: corrupt training state ({e})", path.display())))?;
    Ok(Some(saved))
}

/// Loads the state `dir` holds into `agent` (built as the run builds it);
/// None when there is none yet.
fn load_full_state(dir: &std::path::Path, agent: &mut Agent) -> Result<Option<SavedState>> {
    let Some(saved) = read_latest(dir)? else { return Ok(None) };
    let at = step_dir(dir, saved.step);
    let part = |name: &str| Checkpoint::new(at.join(name));
    let cfg = agent.cfg.clone();
    agent.actor = part("actor").load_model(agent.actor.clone())?;
    let opt = std::mem::replace(&mut agent.actor_opt, OptimizerConfig::adam(cfg.actor_lr).build());
    agent.actor_opt = part("actor").load_optimizer(opt)?;
    agent.critic = part("critic").load_model(agent.critic.clone())?;
    if agent.algo.uses_critic() {
        let opt = std::mem::replace(&mut agent.critic_opt, OptimizerConfig::adam(cfg.critic_lr).build());
        agent.critic_opt = part("critic").load_optimizer(opt)?;
    }
    agent.actor_target = part("actor_target").load_model(agent.actor_target.clone())?.no_grad();
    agent.critic_target = part("critic_target").load_model(agent.critic_target.clone())?.no_grad();
    if let Some(p) = agent.iql.as_mut() {
        p.value = part("value").load_model(p.value.clone())?;
        let opt = std::mem::replace(&mut p.value_opt, OptimizerConfig::adam(cfg.iql.value_lr).build());
        p.value_opt = part("value").load_optimizer(opt)?;
        if let Some(ls) = p.log_std.take() {
            p.log_std = Some(part("log_std").load_model(ls)?);
            let opt = std::mem::replace(&mut p.log_std_opt, OptimizerConfig::adam(3e-4).build());
            p.log_std_opt = part("log_std").load_optimizer(opt)?;
        }
        p.actor_steps = saved.iql_actor_steps.unwrap_or(saved.step);
    }
    agent.updates = saved.step;
    Ok(Some(saved))
}

/// Writes one update's losses (reading them syncs the device; the tensors
/// are cloned, so the caller's checks read them as before).
fn log_losses(metrics: &mut MetricsLog, step: usize, losses: &crate::td3::UpdateLosses) -> Result<()> {
    let scalar = |t: &Option<burn::tensor::Tensor<1>>| t.as_ref().map(|t| f64::from(t.clone().into_scalar::<f32>()));
    let mut values = Vec::new();
    for (name, value) in [
        ("critic/loss", scalar(&losses.critic)),
        ("actor/loss", scalar(&losses.actor)),
        ("actor/regulariser", scalar(&losses.regulariser)),
        ("value/loss", scalar(&losses.value)),
    ] {
        values.extend(value.map(|v| (name, v)));
    }
    if let Some(w) = &losses.weight {
        let w: Vec<f64> =
            w.clone().into_data().try_to_vec::<f32>().unwrap_or_default().into_iter().map(f64::from).collect();
        values.push(("actor/weight_std", reprolab_core::stats::std(&w)));
        values.push(("actor/weight_max", w.iter().copied().fold(f64::NEG_INFINITY, f64::max)));
    }
    metrics.log_all(step, &values)
}

fn evaluate(t: &Trained, make_env: &dyn Fn() -> Box<dyn Env>, episodes: usize, seed: u64, inner: &Device) -> f64 {
    let act = |obs: &[Vec<f32>]| t.act(obs, inner);
    mean_return(&rollouts(make_env, episodes, seed, &act))
}

/// Online TD3's settings (Fujimoto et al. 2018: exploration noise 0.1,
/// uniform random actions for the first steps). Online TD3 is ours: it
/// trains the medium and expert behaviour policies of the Pendulum
/// experiment, which stands in for the paper's D4RL MuJoCo datasets.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OnlineConfig {
    /// Environment steps (paper: not stated; ours 20,000 by default).
    pub steps: usize,
    /// Uniform random actions for this many first steps, no updates
    /// (paper: not stated; TD3 uses a random warm-up).
    pub start_steps: usize,
    /// Gaussian exploration noise, a share of the action bound (paper: not
    /// stated; TD3's 0.1).
    pub exploration_noise: f32,
    /// Evaluate (and snapshot) the policy every this many steps (paper: not stated).
    pub eval_every: usize,
    /// Episodes per evaluation (paper: not stated; ours 5).
    pub eval_episodes: usize,
    /// The learner's hyper-parameters (paper: TD3's, as in the offline arms).
    pub td3: Td3Config,
}

impl Default for OnlineConfig {
    fn default() -> Self {
        Self {
            steps: 20_000,
            start_steps: 1_000,
            exploration_noise: 0.1,
            eval_every: 1_000,
            eval_episodes: 5,
            td3: Td3Config::default(),
        }
    }
}

impl Validate for OnlineConfig {
    /// Field names are relative (`steps`); the experiment's config calls
    /// them `pendulum.online.steps`.
    fn validate(&self) -> Result<()> {
        anyhow::ensure!(self.steps >= 1, "steps must be at least 1, got {}", self.steps);
        anyhow::ensure!(
            self.start_steps < self.steps,
            "start_steps must be below steps ({}), got {}",
            self.steps,
            self.start_steps
        );
        non_negative("exploration_noise", self.exploration_noise as f64)?;
        anyhow::ensure!(
            (1..=self.steps).contains(&self.eval_every),
            "eval_every must be in [1, steps = {}], got {}",
            self.steps,
            self.eval_every
        );
        anyhow::ensure!(self.eval_episodes >= 1, "eval_episodes must be at least 1, got {}", self.eval_episodes);
        nested("td3", self.td3.validate())
    }
}

/// What online training produced: a snapshot of the policy the first time
/// its evaluation return reached each threshold, and the final policy.
pub struct Online {
    /// `(threshold, policy, its evaluation return)`, None if never reached.
    pub snapshots: Vec<Option<(Actor, f64)>>,
    pub last: (Actor, f64),
    pub curve: Vec<(usize, f64)>,
}

/// Online TD3 from scratch in `make_env`'s environment.
pub fn train_online(
    make_env: &dyn Fn() -> Box<dyn Env>,
    cfg: &OnlineConfig,
    thresholds: &[f64],
    seed: u64,
    device: &Device,
) -> Result<Online> {
    reprolab_core::rng::seed_burn(derive_seed(seed, "online-td3"));
    let mut env = make_env();
    let (od, ad) = (env.observation_space().dim(), env.action_space().dim());
    let scale = action_scale(env.as_ref());
    let identity = Normaliser { mean: vec![0.0; od], std: vec![1.0; od] };
    let mut agent = Agent::new(Algo::Td3, cfg.td3.clone(), od, ad, device);
    let mut buffer = Dataset::new(od, ad);
    let mut prepared = Prepared::new(&buffer, &identity, &scale);
    let inner = device.clone().inner();
    let mut r = rng(derive_seed(seed, "online"));
    let mut snapshots: Vec<Option<(Actor, f64)>> = vec![None; thresholds.len()];
    let mut curve = Vec::new();
    let mut episode = 0u64;
    let mut s = env.reset(derive_seed(seed, "episode-0"));
    let mut last_ret = f64::NEG_INFINITY;
    let bar = reprolab_core::progress::bar(cfg.steps as u64, "online TD3");
    for step in 1..=cfg.steps {
        let a: Vec<f32> = if step <= cfg.start_steps {
            env.action_space().sample(&mut r)
        } else {
            let actor = agent.policy();
            let mean =
                Policy { actor: &actor, norm: &identity, action_scale: &scale, device: &inner }.act(&[s.clone()]);
            mean[0]
                .iter()
                .zip(&scale)
                .map(|(v, m)| (v + m * cfg.exploration_noise * standard_normal(&mut r)).clamp(-m, *m))
                .collect()
        };
        let st = env.step(&a);
        let from = buffer.len();
        buffer.push(&s, &a, &st, 0);
        prepared.extend(&buffer, from, &identity, &scale);
        s = st.obs;
        if st.terminated || st.truncated {
            episode += 1;
            s = env.reset(derive_seed(seed, &format!("episode-{episode}")));
        }
        if step > cfg.start_steps {
            let batch = prepared.sample(cfg.td3.batch, &mut r, device);
            let losses = agent.update(&batch, &|_| BehaviourTerms { mixture: None, weight: None });
            if step % 1000 == 0
                && let Some(l) = losses.critic
            {
                check_finite(l.into_scalar::<f32>(), step, "online TD3 critic loss")?;
            }
        }
        if step % cfg.eval_every == 0 {
            let actor = agent.policy();
            let act = |obs: &[Vec<f32>]| {
                Policy { actor: &actor, norm: &identity, action_scale: &scale, device: &inner }.act(obs)
            };
            last_ret = mean_return(&rollouts(
                make_env,
                cfg.eval_episodes,
                derive_seed(seed, &format!("online-eval-{step}")),
                &act,
            ));
            curve.push((step, last_ret));
            for (i, th) in thresholds.iter().enumerate() {
                if snapshots[i].is_none() && last_ret >= *th {
                    snapshots[i] = Some((actor.clone(), last_ret));
                }
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(Online { snapshots, last: (agent.policy(), last_ret), curve })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::behaviour::{MdnConfig, fit_behaviour};
    use crate::dataset::collect_point;
    use crate::env::point::Layout;

    /// The actor's weights and biases, flattened.
    fn flat(a: &Actor) -> Vec<f32> {
        let mut out = Vec::new();
        for l in &a.net.layers {
            out.extend(l.weight.val().into_data().try_to_vec::<f32>().unwrap());
            if let Some(b) = &l.bias {
                out.extend(b.val().into_data().try_to_vec::<f32>().unwrap());
            }
        }
        out
    }

    /// Training 40 updates straight equals training them with a "kill"
    /// after the checkpoint of update 20 (the callback fails at 30) and a
    /// resume from that checkpoint: every network, the optimisers, the
    /// sampler and burn's reseeded generator continue exactly.
    #[test]
    fn a_resumed_run_equals_the_uninterrupted_one() {
        let data = collect_point(&Layout::obstacle(5.0), 0);
        let dev = reprolab_core::device::default_device().autodiff();
        let scale = vec![1.0f32; data.act_dim];
        let mdn = MdnConfig { hidden: vec![8, 8], steps: 5, ..Default::default() };
        let fitted = fit_behaviour(&data, &mdn, &scale, 1, &dev, None).unwrap();
        for algo in [Algo::Td3Bc, Algo::Td3Rkl, Algo::Iql] {
            let cfg = Td3Config { hidden: vec![8, 8], batch: 16, ..Default::default() };
            let behaviour = if algo.needs_behaviour() { Behaviour::Fitted(&fitted) } else { Behaviour::None };
            let plan = EvalPlan { make_env: None, every: 10, episodes: 1 };
            let run = OfflineRun {
                algo,
                td3: &cfg,
                data: &data,
                action_scale: &scale,
                behaviour,
                steps: 40,
                seed: 4,
                eval: Some(&plan),
            };
            let tmp = tempfile::tempdir().unwrap();
            let straight_dir = Resumable { dir: tmp.path().join("a") };
            let straight = train_offline_resumable(&run, &dev, &mut |_| Ok(()), None, Some(&straight_dir)).unwrap();
            let killed = Resumable { dir: tmp.path().join("b") };
            let mut fail_at_30 = |t: &Trained| if t.agent.updates == 30 { anyhow::bail!("killed") } else { Ok(()) };
            assert!(train_offline_resumable(&run, &dev, &mut fail_at_30, None, Some(&killed)).is_err());
            assert_eq!(saved_step(&killed.dir).unwrap(), Some(20));
            let resumed = train_offline_resumable(&run, &dev, &mut |_| Ok(()), None, Some(&killed)).unwrap();
            assert_eq!(resumed.agent.updates, 40);
            let (wa, wb) = (flat(&straight.agent.policy()), flat(&resumed.agent.policy()));
            assert!(!wa.is_empty());
            let max_diff = wa.iter().zip(&wb).map(|(p, q)| (p - q).abs()).fold(0.0f32, f32::max);
            assert!(wa == wb, "{}: the actors differ by up to {max_diff}", algo.name());
        }
    }
}

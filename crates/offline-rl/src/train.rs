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
use burn::tensor::Device;
use reprolab_core::registry::Validate;
use reprolab_core::rng::{derive_seed, rng, standard_normal};
use reprolab_core::train::{MetricsLog, check_finite};

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
    mut train_log: Option<TrainLog>,
) -> Result<Trained> {
    let OfflineRun { algo, td3: cfg, data, action_scale, behaviour, steps, seed, eval } = *run;
    reprolab_core::rng::seed_burn(derive_seed(seed, algo.name()));
    let norm = Normaliser::fit(data);
    let prepared = Prepared::new(data, &norm, action_scale);
    let mut agent = Agent::new(algo, cfg.clone(), data.obs_dim, data.act_dim, device);
    agent.plan_updates(steps);
    let mut trained =
        Trained { agent, norm, action_scale: action_scale.to_vec(), curve: Vec::new(), weights: Vec::new() };
    let mut r = rng(derive_seed(seed, "batches"));
    let inner = device.clone().inner();
    // A multiple of the actor's update period, so every logged step has an actor loss.
    let period = if algo.uses_critic() { cfg.policy_freq.max(1) } else { 1 };
    let every = log_every(steps).div_ceil(period) * period;
    if let Some(l) = train_log.as_mut() {
        l.metrics.log(0, "actor/lr", cfg.actor_lr)?;
        if algo.uses_critic() {
            l.metrics.log(0, "critic/lr", cfg.critic_lr)?;
        }
    }
    for step in 1..=steps {
        let batch = prepared.sample(cfg.batch, &mut r, device);
        // Losses are read (a device sync) every 1000 updates and before every
        // evaluation, so a checkpoint written there is never of a diverged policy.
        let eval_due = eval.is_some_and(|p| step % p.every == 0);
        let log = step % 1000 == 0 || step == steps || eval_due;
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
        }
    }
    Ok(trained)
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

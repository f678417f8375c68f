//! The one TD3 core every algorithm shares (Fujimoto et al. 2018, with the
//! CORL defaults of TD3+BC): twin critics with clipped double-Q targets,
//! target-policy smoothing, delayed actor and target updates, Polyak
//! averaging. The algorithms differ only in the actor's loss
//! ([`Agent::actor_loss`]), which reads top to bottom:
//!
//! - `bc`: `mean (pi(s) - a)^2` (no critic).
//! - `td3-bc`: `-lambda Q(s, pi(s)) + mean (pi(s) - a)^2`, `lambda = alpha / mean|Q|`.
//! - `td3-rkl-global`: `-lambda Q(s, a~pi) + [log pi(a|s) - log beta(a|s)]`.
//! - `td3-mse-adaptive`: `-lambda Q + w(s) mean_d (pi(s) - a)^2`.
//! - `td3-rkl` (the paper's method): `-lambda Q + w(s) [log pi - log beta]`.
//! - `td3-rkl-oracle`: the same with the true behaviour density.
//! - `td3` (online, to train Pendulum's behaviour policies): `-Q`.
//!
//! `iql` (implicit Q-learning, a baseline) shares the networks, batches and
//! loop but not the TD3 update: [`Agent::update`] hands it to
//! [`crate::iql::update`] (expectile value, advantage-weighted actor).

use crate::dataset::Batch;
use crate::nets::{Actor, Mixture, TwinCritic};
use crate::validate::{non_negative, positive, positive_widths};
use burn::module::Module;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Distribution, Tensor};
use reprolab_core::registry::Validate;
use reprolab_core::train::{OptimizerConfig, polyak_update};
use serde::{Deserialize, Serialize};

/// Which actor loss (the module docs give each one's equation). The
/// command line's `--algo` takes the offline algorithms a user trains
/// (`bc`, `td3-bc`, `td3-rkl`, `td3-rkl-global`, `td3-mse-adaptive`,
/// `iql`); the oracle-density arm and online TD3 are the experiment's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Algo {
    /// Behaviour cloning: `mean (pi(s) - a)^2`, no critic.
    #[value(name = "bc")]
    Bc,
    /// TD3+BC: the global MSE behaviour-cloning weight.
    #[value(name = "td3-bc")]
    Td3Bc,
    /// The paper's method: reverse KL weighted per state by the behaviour's coverage.
    #[value(name = "td3-rkl")]
    Td3Rkl,
    /// Reverse KL with one global weight.
    #[value(name = "td3-rkl-global")]
    Td3RklGlobal,
    /// MSE behaviour cloning with the per-state weight.
    #[value(name = "td3-mse-adaptive")]
    Td3MseAdaptive,
    /// Implicit Q-learning (CORL's iql.py), a baseline: [`crate::iql`].
    #[value(name = "iql")]
    Iql,
    /// The paper's method with the true behaviour density (point mass only).
    #[value(skip)]
    Td3RklOracle,
    /// Online TD3 (Pendulum's behaviour policies).
    #[value(skip)]
    Td3,
}

/// The behaviour-cloning term of an actor loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Regulariser {
    None,
    Mse,
    ReverseKl,
}

impl Algo {
    pub const OFFLINE: [Algo; 7] =
        [Algo::Bc, Algo::Td3Bc, Algo::Td3RklGlobal, Algo::Td3MseAdaptive, Algo::Td3Rkl, Algo::Td3RklOracle, Algo::Iql];

    pub fn name(self) -> &'static str {
        match self {
            Algo::Bc => "bc",
            Algo::Td3Bc => "td3-bc",
            Algo::Td3RklGlobal => "td3-rkl-global",
            Algo::Td3MseAdaptive => "td3-mse-adaptive",
            Algo::Td3Rkl => "td3-rkl",
            Algo::Td3RklOracle => "td3-rkl-oracle",
            Algo::Iql => "iql",
            Algo::Td3 => "td3",
        }
    }

    pub fn regulariser(self) -> Regulariser {
        match self {
            Algo::Bc | Algo::Td3Bc | Algo::Td3MseAdaptive => Regulariser::Mse,
            Algo::Td3RklGlobal | Algo::Td3Rkl | Algo::Td3RklOracle => Regulariser::ReverseKl,
            // IQL's actor loss is its own (crate::iql), not a TD3 actor loss.
            Algo::Td3 | Algo::Iql => Regulariser::None,
        }
    }

    /// Whether the regulariser carries the per-state weight `w(s)`.
    pub fn adaptive(self) -> bool {
        matches!(self, Algo::Td3MseAdaptive | Algo::Td3Rkl | Algo::Td3RklOracle)
    }

    /// Whether it needs a behaviour density (fitted or oracle).
    pub fn needs_behaviour(self) -> bool {
        self.regulariser() == Regulariser::ReverseKl || self.adaptive()
    }

    pub fn uses_critic(self) -> bool {
        self != Algo::Bc
    }
}

impl std::fmt::Display for Algo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// TD3's hyper-parameters, defaulted to CORL's TD3+BC. The paper builds on
/// TD3+BC and its full text was not available, so the "paper" values below
/// are TD3+BC's (Fujimoto & Gu 2021, as CORL runs it), which the method
/// inherits unchanged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Td3Config {
    /// Hidden layer widths of the actor and of each critic (paper: 256, 256).
    pub hidden: Vec<usize>,
    /// Transitions per update (paper: 256).
    pub batch: usize,
    /// Adam learning rate of the actor (paper: 3e-4).
    pub actor_lr: f64,
    /// Adam learning rate of the critics (paper: 3e-4).
    pub critic_lr: f64,
    /// Discount factor (paper: 0.99).
    pub gamma: f64,
    /// Polyak averaging rate of the target networks (paper: 0.005).
    pub tau: f64,
    /// Std of the target-policy smoothing noise, in [-1, 1] action units (paper: 0.2).
    pub policy_noise: f64,
    /// Clip of the target-policy smoothing noise (paper: 0.5).
    pub noise_clip: f64,
    /// Actor and target updates every this many critic updates (paper: 2).
    pub policy_freq: usize,
    /// TD3+BC's alpha: `lambda = alpha / mean|Q|` (paper: 2.5, one fixed
    /// value for the adaptive method).
    pub alpha: f64,
    /// Use the deterministic (Dirac) actor for the reverse-KL algorithms:
    /// then KL(pi || beta) is `-log beta(mu(s)|s)` up to a constant
    /// (paper: false, a stochastic tanh-Gaussian actor; the Dirac actor is
    /// the variant it also allows).
    pub deterministic_rkl: bool,
    /// IQL's own settings (the `iql` algorithm only; defaults CORL's).
    pub iql: crate::iql::IqlConfig,
}

impl Default for Td3Config {
    fn default() -> Self {
        Self {
            hidden: vec![256, 256],
            batch: 256,
            actor_lr: 3e-4,
            critic_lr: 3e-4,
            gamma: 0.99,
            tau: 0.005,
            policy_noise: 0.2,
            noise_clip: 0.5,
            policy_freq: 2,
            alpha: 2.5,
            deterministic_rkl: false,
            iql: crate::iql::IqlConfig::default(),
        }
    }
}

impl Validate for Td3Config {
    /// Field names are relative (`batch`); a parent config prefixes its own
    /// (`td3.batch`, `pendulum.online.td3.batch`) with
    /// [`crate::validate::nested`].
    fn validate(&self) -> anyhow::Result<()> {
        positive_widths("hidden", &self.hidden)?;
        anyhow::ensure!(self.batch >= 1, "batch must be at least 1, got {}", self.batch);
        positive("actor_lr", self.actor_lr)?;
        positive("critic_lr", self.critic_lr)?;
        anyhow::ensure!((0.0..=1.0).contains(&self.gamma), "gamma must be in [0, 1], got {}", self.gamma);
        anyhow::ensure!(self.tau > 0.0 && self.tau <= 1.0, "tau must be in (0, 1], got {}", self.tau);
        non_negative("policy_noise", self.policy_noise)?;
        non_negative("noise_clip", self.noise_clip)?;
        anyhow::ensure!(self.policy_freq >= 1, "policy_freq must be at least 1, got {}", self.policy_freq);
        positive("alpha", self.alpha)?;
        crate::validate::nested("iql", self.iql.validate())
    }
}

/// What the behaviour density gives the actor loss for a batch: the mixture
/// at its states (constant tensors) and the per-state weight.
pub struct BehaviourTerms {
    pub mixture: Option<Mixture>,
    /// `w(s)`, `[batch, 1]`, mean 1 over the batch (None: global weight 1).
    pub weight: Option<Tensor<2>>,
}

/// The learner: actor, critics, their targets and optimisers.
pub struct Agent {
    pub algo: Algo,
    pub cfg: Td3Config,
    pub actor: Actor,
    pub critic: TwinCritic,
    pub(crate) actor_target: Actor,
    pub(crate) critic_target: TwinCritic,
    pub(crate) actor_opt: ModuleOptimizer,
    pub(crate) critic_opt: ModuleOptimizer,
    pub updates: usize,
    /// IQL's value net and log-std (the `iql` algorithm only).
    pub iql: Option<crate::iql::IqlParts>,
}

/// Losses of one update (device tensors: reading them syncs).
pub struct UpdateLosses {
    pub critic: Option<Tensor<1>>,
    pub actor: Option<Tensor<1>>,
    /// The per-sample weights the actor's loss used (the adaptive
    /// algorithms' w(s) on actor updates; IQL's clipped `exp(beta A)`), for
    /// logging their distribution.
    pub weight: Option<Tensor<2>>,
    /// The behaviour term of the actor's loss as it entered it (MSE or
    /// reverse KL, weighted where the algorithm is adaptive; actor updates
    /// of the regularised TD3 algorithms only), for the `train` command's log.
    pub regulariser: Option<Tensor<1>>,
    /// IQL's expectile value loss (IQL only).
    pub value: Option<Tensor<1>>,
}

impl Agent {
    /// `device` must be an autodiff device.
    pub fn new(algo: Algo, cfg: Td3Config, obs_dim: usize, act_dim: usize, device: &Device) -> Self {
        let stochastic = algo.regulariser() == Regulariser::ReverseKl && !cfg.deterministic_rkl;
        let actor = Actor::new(obs_dim, act_dim, &cfg.hidden, stochastic, device);
        let critic = TwinCritic::new(obs_dim, act_dim, &cfg.hidden, device);
        let iql =
            (algo == Algo::Iql).then(|| crate::iql::IqlParts::new(&cfg.iql, obs_dim, act_dim, &cfg.hidden, device));
        Self {
            algo,
            actor_target: actor.clone().no_grad(),
            critic_target: critic.clone().no_grad(),
            actor,
            critic,
            actor_opt: OptimizerConfig::adam(cfg.actor_lr).build(),
            critic_opt: OptimizerConfig::adam(cfg.critic_lr).build(),
            cfg,
            updates: 0,
            iql,
        }
    }

    /// The number of updates the run will make: IQL's actor learning rate
    /// is cosine-annealed over it (CORL: over `max_timesteps`); the TD3
    /// algorithms ignore it.
    pub fn plan_updates(&mut self, updates: usize) {
        if let Some(p) = self.iql.as_mut() {
            p.horizon = updates.max(1);
        }
    }

    /// One TD3 update: the critic every call, the actor and the targets every
    /// `policy_freq` calls (every call for BC, which has no critic).
    pub fn update(&mut self, batch: &Batch, behaviour: &dyn Fn(&Batch) -> BehaviourTerms) -> UpdateLosses {
        if self.algo == Algo::Iql {
            return crate::iql::update(self, batch);
        }
        self.updates += 1;
        let critic = self.algo.uses_critic().then(|| self.critic_step(batch));
        let actor_due = !self.algo.uses_critic() || self.updates.is_multiple_of(self.cfg.policy_freq);
        let mut weight = None;
        let mut regulariser = None;
        let actor = actor_due.then(|| {
            let terms = if self.algo.needs_behaviour() {
                behaviour(batch)
            } else {
                BehaviourTerms { mixture: None, weight: None }
            };
            let (loss, reg) = self.actor_loss_parts(batch, &terms);
            regulariser = reg;
            weight = terms.weight.filter(|_| self.algo.adaptive());
            let grads = GradientsParams::from_grads(loss.backward(), &self.actor);
            self.actor = self.actor_opt.step(self.cfg.actor_lr, self.actor.clone(), grads);
            if self.algo.uses_critic() {
                self.actor_target = polyak_update(self.actor_target.clone(), &self.actor, self.cfg.tau);
                self.critic_target = polyak_update(self.critic_target.clone(), &self.critic, self.cfg.tau);
            }
            loss.detach()
        });
        UpdateLosses { critic, actor, weight, regulariser, value: None }
    }

    fn critic_step(&mut self, b: &Batch) -> Tensor<1> {
        let [n, d] = b.actions.dims();
        let device = b.obs.device();
        let noise = Tensor::<2>::random([n, d], Distribution::Normal(0.0, self.cfg.policy_noise), &device)
            .clamp(-self.cfg.noise_clip, self.cfg.noise_clip);
        let next_action = (self.actor_target.mean_action(b.next_obs.clone()) + noise).clamp(-1.0, 1.0);
        let (t1, t2) = self.critic_target.both(b.next_obs.clone(), next_action);
        let target = (b.rewards.clone() + b.not_done.clone() * t1.min_pair(t2).mul_scalar(self.cfg.gamma)).detach();
        let (q1, q2) = self.critic.both(b.obs.clone(), b.actions.clone());
        let loss = (q1 - target.clone()).square().mean() + (q2 - target).square().mean();
        let grads = GradientsParams::from_grads(loss.backward(), &self.critic);
        self.critic = self.critic_opt.step(self.cfg.critic_lr, self.critic.clone(), grads);
        loss.detach()
    }

    /// The actor's loss on a batch (the module docs list each algorithm's).
    /// The paper's (`td3-rkl`), per state `s` and averaged over the batch:
    /// `L(s) = -lambda Q(s, a~pi) + w(s) [log pi(a|s) - log beta(a|s)]`,
    /// from [`q_term`], [`reverse_kl`], [`regulariser_mean`] and
    /// [`state_weights`].
    pub fn actor_loss(&self, b: &Batch, terms: &BehaviourTerms) -> Tensor<1> {
        self.actor_loss_parts(b, terms).0
    }

    /// [`Agent::actor_loss`] and, for the regularised TD3 algorithms, its
    /// behaviour term (detached), so the `train` command can log it. The
    /// loss is the same expression either way.
    fn actor_loss_parts(&self, b: &Batch, terms: &BehaviourTerms) -> (Tensor<1>, Option<Tensor<1>>) {
        let weight = terms.weight.as_ref().filter(|_| self.algo.adaptive());
        match self.algo.regulariser() {
            Regulariser::None => {
                (-self.critic.first(b.obs.clone(), self.actor.mean_action(b.obs.clone())).mean(), None)
            }
            Regulariser::Mse => {
                let pi = self.actor.mean_action(b.obs.clone());
                let mse = mse_bc(pi.clone(), b.actions.clone());
                if self.algo == Algo::Bc {
                    return (mse.mean(), None);
                }
                let q = q_term(self.critic.first(b.obs.clone(), pi), self.cfg.alpha);
                let reg = regulariser_mean(mse, weight);
                (q + reg.clone(), Some(reg.detach()))
            }
            Regulariser::ReverseKl => {
                let mixture = terms.mixture.as_ref().expect("reverse KL needs a behaviour density");
                let sample = self.actor.sample(b.obs.clone());
                let kl = reverse_kl(sample.log_prob, sample.action.clone(), mixture);
                let q = q_term(self.critic.first(b.obs.clone(), sample.action), self.cfg.alpha);
                let reg = regulariser_mean(kl, weight);
                (q + reg.clone(), Some(reg.detach()))
            }
        }
    }

    /// The policy for acting: the deterministic action, without autodiff.
    pub fn policy(&self) -> Actor {
        self.actor.valid()
    }
}

/// TD3+BC's RL term of the actor loss: `-lambda mean_batch Q(s, a)` with
/// `lambda = alpha / mean_batch |Q(s, a)|`, the scale held constant
/// (gradient-stopped), so one `alpha` suits any reward scale.
pub fn q_term(q: Tensor<2>, alpha: f64) -> Tensor<1> {
    let lambda = q.clone().abs().mean().detach().recip().mul_scalar(alpha);
    -(q.mean() * lambda)
}

/// MSE behaviour cloning per state, `mean_d (pi(s)_d - a_d)^2`, `[batch, 1]`
/// (mean seeking: where `a` is multi-modal its minimiser is the modes' average).
pub fn mse_bc(pi: Tensor<2>, actions: Tensor<2>) -> Tensor<2> {
    (pi - actions).square().mean_dim(1)
}

/// The one-sample reparameterised estimate of the reverse KL per state,
/// `KL(pi || beta)(s) ~ log pi(a|s) - log beta(a|s)` with `a ~ pi(.|s)`,
/// `[batch, 1]` (mode seeking: `pi` is pushed off actions where `beta` is
/// small, so it commits to one mode of a multi-modal behaviour). For a
/// Dirac actor `log pi` is 0 and this is `-log beta(mu(s)|s)`.
pub fn reverse_kl(log_pi: Tensor<2>, action: Tensor<2>, beta: &Mixture) -> Tensor<2> {
    log_pi - beta.log_density(action)
}

/// The behaviour term's batch mean: `mean_batch w(s) R(s)` with the
/// per-state weight ([`state_weights`], adaptive algorithms), else the
/// global `mean_batch R(s)`; `R` is [`mse_bc`] or [`reverse_kl`].
pub fn regulariser_mean(per_state: Tensor<2>, weight: Option<&Tensor<2>>) -> Tensor<1> {
    match weight {
        Some(w) => (per_state * w.clone()).mean(),
        None => per_state.mean(),
    }
}

/// The per-state weight of the behaviour term,
/// `w(s) = (1 / coverage(s)) / mean_batch(1 / coverage)`, `[batch, 1]`,
/// gradient-stopped: monotone decreasing in the coverage (strong behaviour
/// cloning where the behaviour's actions are narrow, more RL where they are
/// wide), mean 1 over the batch. `coverage` is [`Mixture::coverage`],
/// `sum_k w_k(s) mean_d sigma_kd(s)`. The paper asks for a monotone
/// decreasing map normalised to mean 1; `1/coverage` is ours. Not bounded:
/// its largest value is the batch's coverage ratio, which the MDN's log-std
/// floor (`e^-5`) keeps finite; measured on Pendulum's clipped actions it
/// stays below 6 (the crate docs, "The weight's range").
pub fn state_weights(coverage: Tensor<2>) -> Tensor<2> {
    let inv = coverage.recip();
    let [n, _] = inv.dims();
    let mean = inv.clone().mean().reshape([1, 1]).repeat_dim(0, n);
    (inv / mean).detach()
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::TensorData;

    /// w(s) falls as coverage grows and has mean 1 over the batch.
    #[test]
    fn state_weights_are_monotone_decreasing_with_mean_one() {
        let dev = reprolab_core::device::default_device();
        let cov = Tensor::<2>::from_data(TensorData::new(vec![0.05f32, 0.1, 0.3, 0.6], [4, 1]), &dev);
        let w: Vec<f32> = state_weights(cov).into_data().try_to_vec().unwrap();
        assert!(w.windows(2).all(|p| p[0] > p[1]), "{w:?}");
        assert!((w.iter().sum::<f32>() / 4.0 - 1.0).abs() < 1e-5);
        // 1/coverage: the ratios are exact.
        assert!((w[0] / w[1] - 2.0).abs() < 1e-4 && (w[1] / w[3] - 6.0).abs() < 1e-3);
    }

    /// An actor whose output ignores the state: mean `u0` before the tanh
    /// and (stochastic actors) std 0.1: the last layer's weights zero, its
    /// bias `[u0, ln 0.1]`.
    fn constant_actor(agent: &mut Agent, u0: f32, dev: &Device) {
        let last = agent.actor.net.layers.last_mut().unwrap();
        let [i, o] = last.weight.val().dims();
        last.weight = last
            .weight
            .clone()
            .map(|_| Tensor::from_data(TensorData::new(vec![0f32; i * o], [i, o]), dev).require_grad());
        // A deterministic actor has one output per action, the mean.
        let bias: Vec<f32> = [u0, 0.1f32.ln()].into_iter().take(o).collect();
        last.bias =
            last.bias.clone().map(|p| p.map(|_| Tensor::from_data(TensorData::new(bias, [o]), dev).require_grad()));
    }

    /// The gradient of the actor loss in the pre-tanh mean, at a batch of
    /// one state repeated, where the behaviour has two narrow modes at
    /// +-0.5 (equal weights, sigma 0.1) and the dataset's actions are those
    /// modes' (half each). alpha is tiny, so the critic's term adds nothing.
    fn mean_gradient(algo: Algo, start: f32) -> f32 {
        let dev = reprolab_core::device::default_device().autodiff();
        let n = 4096;
        let cfg = Td3Config { hidden: vec![8], alpha: 1e-9, ..Default::default() };
        let mut agent = Agent::new(algo, cfg, 1, 1, &dev);
        constant_actor(&mut agent, start.atanh(), &dev);
        let t2 = |v: Vec<f32>, d: usize| Tensor::<2>::from_data(TensorData::new(v, [n, d]), &dev);
        let actions: Vec<f32> = (0..n).map(|i| if i % 2 == 0 { 0.5 } else { -0.5 }).collect();
        let batch = Batch {
            obs: t2(vec![0.0; n], 1),
            actions: t2(actions, 1),
            rewards: t2(vec![0.0; n], 1),
            next_obs: t2(vec![0.0; n], 1),
            not_done: t2(vec![1.0; n], 1),
            rows: (0..n).collect(),
        };
        let t3 = |v: Vec<f32>| Tensor::<3>::from_data(TensorData::new(v, [n, 2, 1]), &dev);
        let mixture = Mixture {
            log_weights: t2(vec![0.5f32.ln(); 2 * n], 2),
            means: t3([0.5f32, -0.5].repeat(n)),
            log_stds: t3(vec![0.1f32.ln(); 2 * n]),
        };
        let terms = BehaviourTerms { mixture: Some(mixture), weight: None };
        reprolab_core::rng::seed_burn(7);
        let grads = agent.actor_loss(&batch, &terms).backward();
        let bias = agent.actor.net.layers.last().unwrap().bias.as_ref().unwrap();
        let g: Vec<f32> = bias.grad(&grads).unwrap().into_data().try_to_vec().unwrap();
        g[0]
    }

    /// The reverse-KL actor loss is mode seeking: from a mean action of
    /// +0.15 its gradient moves the mean up, toward the nearer mode +0.5,
    /// and from -0.15 down, toward -0.5, where MSE cloning (TD3+BC's
    /// term) moves it toward the modes' average 0 from either side. By hand,
    /// at a = 0.15 the mode +0.5 is 3.5 sigma away and -0.5 is 6.5, so
    /// d log beta / da is about (0.5 - 0.15) / 0.01 = 35 > 0.
    #[test]
    fn reverse_kl_gradient_moves_the_mean_toward_the_nearer_mode() {
        for start in [0.15f32, -0.15] {
            let rkl = mean_gradient(Algo::Td3RklGlobal, start);
            // Gradient descent moves the mean by -gradient: toward the sign of `start`.
            assert!(rkl * start.signum() < 0.0, "reverse KL from {start}: gradient {rkl}");
            let mse = mean_gradient(Algo::Td3Bc, start);
            assert!(mse * start.signum() > 0.0, "MSE from {start}: gradient {mse}");
        }
    }

    /// The command line's spellings are the names the reports use, and only
    /// the six a user trains are offered.
    #[test]
    fn command_line_names_are_the_report_names() {
        use clap::ValueEnum;
        let offered: Vec<String> =
            Algo::value_variants().iter().map(|a| a.to_possible_value().unwrap().get_name().to_string()).collect();
        assert_eq!(offered, ["bc", "td3-bc", "td3-rkl", "td3-rkl-global", "td3-mse-adaptive", "iql"]);
        for a in Algo::value_variants() {
            assert_eq!(Algo::from_str(a.name(), false).unwrap(), *a);
            assert_eq!(a.to_string(), a.name());
        }
        assert!(Algo::from_str("td3-rkl-oracle", false).is_err() && Algo::from_str("cql", false).is_err());
        assert!(Algo::Td3Rkl.adaptive() && !Algo::Td3RklGlobal.adaptive() && Algo::Td3MseAdaptive.needs_behaviour());
    }

    #[test]
    fn td3_config_defaults_validate_and_bad_values_name_their_field() {
        assert!(Td3Config::default().validate().is_ok());
        let bad = Td3Config { tau: 0.0, ..Default::default() };
        let e = crate::validate::nested("td3", bad.validate()).unwrap_err().to_string();
        assert!(e.starts_with("td3.tau must be in (0, 1]"), "{e}");
        let e = Td3Config { hidden: vec![], ..Default::default() }.validate().unwrap_err().to_string();
        assert!(e.starts_with("hidden must list"), "{e}");
    }

    /// One update of every offline algorithm on a tiny batch gives finite
    /// losses and changes the actor.
    #[test]
    fn every_algorithm_updates() {
        use crate::behaviour::Oracle;
        use crate::dataset::{Normaliser, Prepared, collect_point};
        use crate::env::point::Layout;
        let layout = Layout::obstacle(5.0);
        let data = collect_point(&layout, 0);
        let states: Vec<[f32; 2]> = (0..data.len()).map(|i| [data.obs(i)[0], data.obs(i)[1]]).collect();
        let oracle = Oracle::new(&layout, states, &data.source);
        let dev = reprolab_core::device::default_device().autodiff();
        let prepared = Prepared::new(&data, &Normaliser::fit(&data), &[1.0, 1.0]);
        let mut r = reprolab_core::rng::rng(0);
        for algo in Algo::OFFLINE {
            let cfg = Td3Config { hidden: vec![8, 8], batch: 16, policy_freq: 1, ..Default::default() };
            let mut agent = Agent::new(algo, cfg, 2, 2, &dev);
            let before: Vec<f32> = agent.actor.net.layers[0].weight.val().into_data().try_to_vec().unwrap();
            let batch = prepared.sample(16, &mut r, &dev);
            let losses = agent.update(&batch, &|b| oracle.terms(b));
            let actor_loss = losses.actor.unwrap().into_scalar::<f32>();
            assert!(actor_loss.is_finite(), "{}", algo.name());
            assert_eq!(losses.critic.is_some(), algo.uses_critic());
            let after: Vec<f32> = agent.actor.net.layers[0].weight.val().into_data().try_to_vec().unwrap();
            assert_ne!(before, after, "{}", algo.name());
        }
    }
}

//! Implicit Q-learning (IQL; Kostrikov, Nair & Levine, "Offline
//! Reinforcement Learning with Implicit Q-Learning", ICLR 2022), the
//! baseline users of CORL and d3rlpy expect next to TD3+BC, written after
//! CORL's `algorithms/offline/iql.py` (itself from gwthomas/IQL-PyTorch)
//! on this crate's TD3 harness: the same batches ([`Batch`]), twin critic
//! ([`TwinCritic`]) with its Polyak-averaged target, actor network
//! ([`crate::nets::Actor`]), Adam, training loop ([`crate::train::train_offline`]),
//! evaluation and checkpoints. It is the `iql` algorithm
//! ([`crate::td3::Algo::Iql`]); [`crate::td3::Agent::update`] hands its
//! updates to [`update`].
//!
//! **Why it suits mixed datasets.** IQL never evaluates the critic at an
//! action outside the dataset: the value `V(s)` is an upper expectile of
//! `Q(s, a)` over the dataset's own actions, and the actor is a weighted
//! regression onto the dataset's actions, weighted up where an action beats
//! `V(s)`. On data from several policies it picks out the better ones'
//! actions without a behaviour model and without one global BC weight.
//!
//! **One update** (CORL's `ImplicitQLearning.train`, in its order):
//!
//! 1. `next_v = V(s')` with the value net before this update's step.
//! 2. Value: `L_V = mean |tau - 1(u < 0)| u^2`, `u = min_i Q'_i(s, a) - V(s)`
//!    ([`expectile_loss`]; `Q'` the target critic, `tau` = expectile 0.7).
//! 3. Critic: `L_Q = (1/2) sum_i mean (Q_i(s, a) - r - gamma (1 - done) next_v)^2`,
//!    then `Q' <- (1 - 0.005) Q' + 0.005 Q` (every update).
//! 4. Actor, advantage-weighted regression with step 2's `u` (taken before
//!    V's step): `L_pi = mean w(s, a) nll(a | s)`,
//!    `w = min(exp(beta u), 100)` ([`advantage_weights`], beta 3, constant in
//!    the gradient), `nll` the Gaussian policy's negative log-likelihood of
//!    the dataset action ([`gaussian_nll`]) or, for the deterministic actor,
//!    `sum_d (pi(s)_d - a_d)^2`. The actor's learning rate is cosine-annealed
//!    from its base value to 0 over the run (PyTorch's `CosineAnnealingLR`).
//!
//! **What follows CORL** (its script defaults, [`IqlConfig::default`]):
//! expectile 0.7, beta 3.0, the exp-advantage clip 100, discount 0.99, soft
//! update 0.005 of the twin Q target every update, Adam 3e-4 for V, Q and
//! the actor, batch 256, two hidden layers for V, both Q and the actor,
//! states normalised by the dataset's mean and std (+1e-3), rewards as they
//! are (`normalize_reward = False`), the Gaussian actor
//! `Normal(tanh(net(s)), exp(log_std))` with one state-independent
//! `log_std` per action dimension (initialised at 0, clamped to [-20, 2])
//! that acts with its mean `tanh(net(s))` (times the action bound), and the
//! actor learning rate's cosine schedule.
//!
//! **Where we deviate.** (1) Scale: the presets' networks and update counts
//! (e.g. 64-64 MLPs and 4,000 updates at `full`, CORL: 256-256 and 1M),
//! shared with every other arm through [`crate::td3::Td3Config`] (hidden,
//! batch, `actor_lr`, `critic_lr` = CORL's `qf_lr`, gamma, tau); the cosine
//! schedule anneals over the run's updates, as CORL's does over its
//! `max_timesteps`. (2) One setting everywhere: CORL's per-dataset YAMLs
//! tune IQL (e.g. hopper-medium-v2: deterministic actor, soft update 0.001,
//! normalised rewards; hopper-medium-expert-v2: beta 6, expectile 0.5);
//! here every experiment runs the script defaults, chosen before any run,
//! since tuning per experiment on evaluation returns would favour the
//! baseline over the arms that are not tuned. (3) The mean network is the
//! crate's deterministic [`crate::nets::Actor`] (`tanh(net(s))`, what acts, is
//! checkpointed and exported) and the log-std lives beside it in
//! [`IqlParts`], with its own Adam at the actor's scheduled rate (Adam's
//! state is per parameter, so this is one Adam over the policy). (4) No
//! actor dropout (CORL uses it on Adroit only). (5) `done` is the dataset's
//! terminal flag, as for every other arm (D4RL's `qlearning_dataset` gives
//! CORL the same).

use crate::dataset::Batch;
use crate::nets::TwinCritic;
use crate::td3::{Agent, UpdateLosses};
use crate::validate::positive;
use burn::module::{Module, Param};
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Tensor};
use reprolab_core::nn::{Mlp, MlpConfig};
use reprolab_core::registry::Validate;
use reprolab_core::train::{OptimizerConfig, Schedule, polyak_update};
use serde::{Deserialize, Serialize};

/// Bounds of the Gaussian actor's log-std (CORL's `LOG_STD_MIN`, `LOG_STD_MAX`).
pub const LOG_STD_MIN: f64 = -20.0;
pub const LOG_STD_MAX: f64 = 2.0;
/// CORL's cosine schedule runs over `max_timesteps` (1M); an agent whose
/// run length was never given ([`Agent::plan_updates`]) anneals over this.
pub const DEFAULT_HORIZON: usize = 1_000_000;
const HALF_LOG_2PI: f64 = 0.918_938_533_204_672_7;

/// IQL's own settings (the rest it shares with the TD3 arms through
/// [`crate::td3::Td3Config`]: hidden widths, batch, `actor_lr`,
/// `critic_lr` for the twin Q, gamma and tau). Defaults are CORL's
/// `iql.py` defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IqlConfig {
    /// Expectile of the value loss (CORL: `iql_tau` 0.7; 0.5 is the mean,
    /// i.e. SARSA on the behaviour; towards 1 the max over dataset actions).
    pub expectile: f64,
    /// Inverse temperature of the advantage weights (CORL: `beta` 3.0;
    /// 0 is behaviour cloning, large values chase the critic).
    pub beta: f64,
    /// Upper clip of `exp(beta A)` (CORL: `EXP_ADV_MAX` 100).
    pub max_weight: f64,
    /// Deterministic actor with a squared-error regression (CORL:
    /// `iql_deterministic` false, the Gaussian actor).
    pub deterministic: bool,
    /// Adam learning rate of the value net (CORL: `vf_lr` 3e-4).
    pub value_lr: f64,
}

impl Default for IqlConfig {
    fn default() -> Self {
        Self { expectile: 0.7, beta: 3.0, max_weight: 100.0, deterministic: false, value_lr: 3e-4 }
    }
}

impl Validate for IqlConfig {
    /// Field names are relative (`beta`); [`crate::td3::Td3Config`] calls
    /// them `iql.beta` (and the experiment `td3.iql.beta`).
    fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.expectile > 0.0 && self.expectile < 1.0,
            "expectile must be in (0, 1), got {}",
            self.expectile
        );
        crate::validate::non_negative("beta", self.beta)?;
        positive("max_weight", self.max_weight)?;
        positive("value_lr", self.value_lr)
    }
}

/// The Gaussian actor's state-independent log-std, one per action dimension.
#[derive(Module, Debug)]
pub struct LogStd {
    pub value: Param<Tensor<1>>,
}

/// What IQL keeps beside the TD3 agent's actor (the mean network), twin
/// critic and its target: the value net, the Gaussian actor's log-std, their
/// optimisers, and the cosine schedule's position.
pub struct IqlParts {
    /// `V(s)`: the observation through the hidden widths to one output.
    pub value: Mlp,
    pub(crate) value_opt: ModuleOptimizer,
    /// None for the deterministic actor.
    pub log_std: Option<LogStd>,
    pub(crate) log_std_opt: ModuleOptimizer,
    /// Updates the actor's cosine schedule anneals over.
    pub horizon: usize,
    /// Actor steps taken (the schedule's position).
    pub actor_steps: usize,
}

impl IqlParts {
    /// The value net and log-std, drawn from burn's generator after the
    /// agent's actor and critic (so a seed fixes all of them).
    pub fn new(cfg: &IqlConfig, obs_dim: usize, act_dim: usize, hidden: &[usize], device: &Device) -> Self {
        let dims: Vec<usize> = std::iter::once(obs_dim).chain(hidden.iter().copied()).chain([1]).collect();
        let log_std =
            (!cfg.deterministic).then(|| LogStd { value: Param::from_tensor(Tensor::zeros([act_dim], device)) });
        Self {
            value: MlpConfig::new(&dims).init(device),
            value_opt: OptimizerConfig::adam(cfg.value_lr).build(),
            log_std,
            // Its rate is the actor's scheduled one, given at each step.
            log_std_opt: OptimizerConfig::adam(3e-4).build(),
            horizon: DEFAULT_HORIZON,
            actor_steps: 0,
        }
    }

    /// The actor's learning rate at its next step: `CosineAnnealingLR` with
    /// `T_max` = the horizon and `eta_min` 0, `lr (1 + cos(pi k / T)) / 2`.
    pub fn actor_lr(&self, base: f64) -> f64 {
        Schedule::Cosine { total: self.horizon, warmup: 0, min_factor: 0.0 }.lr_at(base, self.actor_steps)
    }
}

/// IQL's value loss, the asymmetric squared error
/// `mean |tau - 1(u < 0)| u^2` of `u = Q(s, a) - V(s)` (CORL's
/// `asymmetric_l2_loss`): with `tau` above 0.5, a `V` below `Q` costs more
/// than one above it, so the minimiser is the `tau`-expectile of `Q(s, .)`
/// over the dataset's actions, an upper estimate of the best of them.
pub fn expectile_loss(u: Tensor<2>, tau: f64) -> Tensor<1> {
    let below = u.clone().lower_elem(0.0).float();
    // tau where u >= 0, 1 - tau where u < 0.
    let weight = below.mul_scalar(1.0 - 2.0 * tau).add_scalar(tau);
    (weight * u.square()).mean()
}

/// The actor's per-sample weights `min(exp(beta A), max_weight)`,
/// gradient-stopped (the regression is weighted, the weights are not
/// trained): `A = Q'(s, a) - V(s)`, so dataset actions better than the
/// value's expectile are imitated more. The clip keeps a few large
/// advantages from dominating a batch.
pub fn advantage_weights(advantage: Tensor<2>, beta: f64, max_weight: f64) -> Tensor<2> {
    advantage.detach().mul_scalar(beta).exp().clamp_max(max_weight)
}

/// `-sum_d log N(a_d; mean_d, exp(log_std_d))` per row, `[batch, 1]`:
/// CORL's `-policy_out.log_prob(actions).sum(-1)` for its Gaussian actor;
/// `log_std` (`[act]`, shared by every state) is clamped to
/// [[`LOG_STD_MIN`], [`LOG_STD_MAX`]] first.
pub fn gaussian_nll(mean: Tensor<2>, log_std: Tensor<1>, actions: Tensor<2>) -> Tensor<2> {
    let [b, d] = mean.dims();
    let log_std = log_std.clamp(LOG_STD_MIN, LOG_STD_MAX).unsqueeze_dim::<2>(0).repeat_dim(0, b);
    let z = (actions - mean) / log_std.clone().exp();
    (z.square().mul_scalar(0.5) + log_std).sum_dim(1).add_scalar(d as f64 * HALF_LOG_2PI)
}

/// One IQL update of `agent` (an [`crate::td3::Algo::Iql`] agent) on a
/// batch, in CORL's order (the module docs): value, critic and its target,
/// actor. The losses' `critic` is `L_Q`, `value` is `L_V`, `actor` is
/// `L_pi`, and `weight` the batch's advantage weights.
pub fn update(agent: &mut Agent, b: &Batch) -> UpdateLosses {
    agent.updates += 1;
    let (gamma, tau, actor_lr, critic_lr) = (agent.cfg.gamma, agent.cfg.tau, agent.cfg.actor_lr, agent.cfg.critic_lr);
    let icfg = agent.cfg.iql.clone();
    let parts = agent.iql.as_mut().expect("an IQL agent carries its value net");
    let next_v = parts.value.forward(b.next_obs.clone()).detach();

    let advantage = target_min_q(&agent.critic_target, b) - parts.value.forward(b.obs.clone());
    let value_loss = expectile_loss(advantage.clone(), icfg.expectile);
    let grads = GradientsParams::from_grads(value_loss.backward(), &parts.value);
    parts.value = parts.value_opt.step(icfg.value_lr, parts.value.clone(), grads);

    let target = (b.rewards.clone() + b.not_done.clone() * next_v.mul_scalar(gamma)).detach();
    let (q1, q2) = agent.critic.both(b.obs.clone(), b.actions.clone());
    let critic_loss = ((q1 - target.clone()).square().mean() + (q2 - target).square().mean()).mul_scalar(0.5);
    let grads = GradientsParams::from_grads(critic_loss.backward(), &agent.critic);
    agent.critic = agent.critic_opt.step(critic_lr, agent.critic.clone(), grads);
    agent.critic_target = polyak_update(agent.critic_target.clone(), &agent.critic, tau);

    let weight = advantage_weights(advantage, icfg.beta, icfg.max_weight);
    let pi = agent.actor.mean_action(b.obs.clone());
    let per_sample = match &parts.log_std {
        Some(log_std) => gaussian_nll(pi, log_std.value.val(), b.actions.clone()),
        None => (pi - b.actions.clone()).square().sum_dim(1),
    };
    let actor_loss = (weight.clone() * per_sample).mean();
    let lr = parts.actor_lr(actor_lr);
    let mut grads = actor_loss.backward();
    let actor_grads = GradientsParams::from_module(&mut grads, &agent.actor);
    agent.actor = agent.actor_opt.step(lr, agent.actor.clone(), actor_grads);
    if let Some(log_std) = parts.log_std.take() {
        let g = GradientsParams::from_module(&mut grads, &log_std);
        parts.log_std = Some(parts.log_std_opt.step(lr, log_std, g));
    }
    parts.actor_steps += 1;
    UpdateLosses {
        critic: Some(critic_loss.detach()),
        actor: Some(actor_loss.detach()),
        weight: Some(weight),
        regulariser: None,
        value: Some(value_loss.detach()),
    }
}

/// `min_i Q'_i(s, a)` of the target critic at the dataset's actions (CORL's
/// `q_target(observations, actions)`), gradient-stopped.
fn target_min_q(target: &TwinCritic, b: &Batch) -> Tensor<2> {
    let (t1, t2) = target.both(b.obs.clone(), b.actions.clone());
    t1.min_pair(t2).detach()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::td3::{Algo, BehaviourTerms, Td3Config};
    use burn::tensor::TensorData;
    use reprolab_core::nn::Mlp;

    /// Layer `l` of net `k`: torch's `weight[o, i] = 0.3 sin(0.7 (o+1) +
    /// 1.3 (i+1) + 2.1 l + k)`, `bias[o] = 0.1 cos(0.5 (o+1) + l + k)`
    /// (burn stores the weight transposed, `[in, out]`).
    fn fix_weights(mlp: &mut Mlp, k: f64, dev: &Device) {
        for (l, layer) in mlp.layers.iter_mut().enumerate() {
            let [n_in, n_out] = layer.weight.val().dims();
            let mut w = vec![0f32; n_in * n_out];
            for i in 0..n_in {
                for o in 0..n_out {
                    w[i * n_out + o] =
                        (0.3 * (0.7 * (o + 1) as f64 + 1.3 * (i + 1) as f64 + 2.1 * l as f64 + k).sin()) as f32;
                }
            }
            let b: Vec<f32> = (0..n_out).map(|o| (0.1 * (0.5 * (o + 1) as f64 + l as f64 + k).cos()) as f32).collect();
            layer.weight = Param::from_tensor(Tensor::from_data(TensorData::new(w, [n_in, n_out]), dev));
            layer.bias = Some(Param::from_tensor(Tensor::from_data(TensorData::new(b, [n_out]), dev)));
        }
    }

    fn t2(v: Vec<f32>, shape: [usize; 2], dev: &Device) -> Tensor<2> {
        Tensor::from_data(TensorData::new(v, shape), dev)
    }

    fn close(got: &[f32], want: &[f64], what: &str) {
        for (g, w) in got.iter().zip(want) {
            assert!((*g as f64 - w).abs() < 2e-5 * (1.0 + w.abs()), "{what}: {got:?} vs {want:?}");
        }
    }

    /// Three updates from fixed weights on a fixed batch give CORL's
    /// losses, value and policy to f32 precision: the order of the updates
    /// (V before Q, both from the pre-step V; the actor's advantages from
    /// before V's step), the twin-Q target and its soft update, the
    /// advantage weights and their clip (low here, 1.2, so updates 2 and 3
    /// clip), the Gaussian and the deterministic actor's losses, Adam and
    /// the cosine schedule (T = 4). The golden values are from CORL's
    /// `iql.py` functions transcribed in float64 PyTorch 2.15 (the script
    /// below): 2-4-1 / 3-4-1 nets, lr 0.05 everywhere, soft update 0.5,
    /// gamma 0.99, beta 3, expectile 0.7.
    ///
    /// ```text
    /// import copy, math, torch, torch.nn as nn, torch.nn.functional as F
    /// from torch.distributions import Normal
    /// from torch.optim.lr_scheduler import CosineAnnealingLR
    /// torch.set_default_dtype(torch.float64)
    ///
    /// def asymmetric_l2_loss(u, tau):  # CORL's
    ///     return torch.mean(torch.abs(tau - (u < 0).float()) * u**2)
    ///
    /// def mlp(dims, k, out_tanh=False):  # CORL's MLP with fixed weights
    ///     layers = []
    ///     for l in range(len(dims) - 1):
    ///         lin = nn.Linear(dims[l], dims[l + 1])
    ///         with torch.no_grad():
    ///             for o in range(dims[l + 1]):
    ///                 for i in range(dims[l]):
    ///                     lin.weight[o, i] = 0.3 * math.sin(0.7 * (o + 1) + 1.3 * (i + 1) + 2.1 * l + k)
    ///                 lin.bias[o] = 0.1 * math.cos(0.5 * (o + 1) + l + k)
    ///         layers += [lin] + ([nn.ReLU()] if l < len(dims) - 2 else [])
    ///     return nn.Sequential(*layers, *([nn.Tanh()] if out_tanh else []))
    ///
    /// def run(deterministic, lr=0.05, tau=0.5, gamma=0.99, beta=3.0, iql_tau=0.7, exp_adv_max=1.2, T=4):
    ///     vf, q1, q2, actor = mlp([2, 4, 1], 0.0), mlp([3, 4, 1], 1.0), mlp([3, 4, 1], 2.0), mlp([2, 4, 1], 3.0, True)
    ///     q1t, q2t = copy.deepcopy(q1), copy.deepcopy(q2)
    ///     log_std = nn.Parameter(torch.zeros(1))
    ///     vopt = torch.optim.Adam(vf.parameters(), lr=lr)
    ///     qopt = torch.optim.Adam([*q1.parameters(), *q2.parameters()], lr=lr)
    ///     aopt = torch.optim.Adam([*actor.parameters()] + ([] if deterministic else [log_std]), lr=lr)
    ///     sched = CosineAnnealingLR(aopt, T)
    ///     obs = torch.tensor([[0.5, -1.0], [1.5, 0.2], [-0.7, 0.9], [0.1, 0.3]])
    ///     act = torch.tensor([[0.4], [-0.8], [0.9], [0.0]])
    ///     rew = torch.tensor([1.0, -0.5, 0.3, 2.0])
    ///     nxt = torch.tensor([[0.6, -0.8], [1.2, 0.4], [-0.5, 1.1], [0.3, 0.1]])
    ///     done = torch.tensor([0.0, 1.0, 0.0, 0.0])
    ///     sa = torch.cat([obs, act], 1)
    ///     for _ in range(3):  # ImplicitQLearning.train
    ///         with torch.no_grad():
    ///             next_v = vf(nxt).squeeze(-1)
    ///             target_q = torch.min(q1t(sa).squeeze(-1), q2t(sa).squeeze(-1))
    ///         adv = target_q - vf(obs).squeeze(-1)
    ///         v_loss = asymmetric_l2_loss(adv, iql_tau)
    ///         vopt.zero_grad(); v_loss.backward(); vopt.step()
    ///         targets = rew + (1.0 - done) * gamma * next_v
    ///         q_loss = sum(F.mse_loss(q(sa).squeeze(-1), targets) for q in (q1, q2)) / 2
    ///         qopt.zero_grad(); q_loss.backward(); qopt.step()
    ///         with torch.no_grad():
    ///             for t, s in ((q1t, q1), (q2t, q2)):
    ///                 for tp, sp in zip(t.parameters(), s.parameters()):
    ///                     tp.data.copy_((1 - tau) * tp.data + tau * sp.data)
    ///         exp_adv = torch.exp(beta * adv.detach()).clamp(max=exp_adv_max)
    ///         mean = actor(obs)
    ///         if deterministic:
    ///             bc = torch.sum((mean - act) ** 2, dim=1)
    ///         else:
    ///             bc = -Normal(mean, torch.exp(log_std.clamp(-20.0, 2.0))).log_prob(act).sum(-1)
    ///         p_loss = torch.mean(exp_adv * bc)
    ///         aopt.zero_grad(); p_loss.backward(); aopt.step(); sched.step()
    ///         print("  losses", v_loss.item(), q_loss.item(), p_loss.item())
    ///     with torch.no_grad():
    ///         print("  v", vf(obs).squeeze(-1).tolist())
    ///         print("  pi", actor(obs).squeeze(-1).tolist(), "log_std", log_std.item())
    ///
    /// for det in (False, True):
    ///     print("deterministic" if det else "gaussian"); run(det)
    /// ```
    #[test]
    fn three_updates_match_corls_iql() {
        let dev = reprolab_core::device::default_device().autodiff();
        let golden_value_losses = [0.000_786_404_404_177_202_7, 0.003_727_537_580_152_041, 0.004_884_924_950_652_908_5];
        let golden_q_losses = [1.351_641_666_746_476_6, 1.190_632_249_230_973, 1.189_725_881_794_873_7];
        let golden_v = [
            0.027_662_404_658_708_117,
            -0.000_883_468_826_697_056_4,
            0.031_496_672_810_532_67,
            0.021_894_374_018_379_913,
        ];
        let cases: [(bool, [f64; 3], [f64; 4], f64); 2] = [
            (
                false,
                [1.038_089_752_742_698, 1.156_369_964_384_874_2, 1.020_771_350_300_767_2],
                [
                    0.092_933_435_096_039_34,
                    -0.138_732_237_163_700_56,
                    0.408_650_730_906_029_6,
                    0.099_512_631_303_760_47,
                ],
                -0.117_610_318_396_671_13,
            ),
            (
                true,
                [0.350_430_660_170_100_16, 0.317_526_924_122_269_74, 0.237_385_882_686_870_7],
                [
                    0.091_844_922_489_163_76,
                    -0.138_483_493_222_781_06,
                    0.408_358_285_347_799_6,
                    0.099_493_508_723_789_79,
                ],
                0.0,
            ),
        ];
        for (deterministic, actor_losses, pi, log_std) in cases {
            let iql = IqlConfig { expectile: 0.7, beta: 3.0, max_weight: 1.2, deterministic, value_lr: 0.05 };
            let cfg = Td3Config {
                hidden: vec![4],
                actor_lr: 0.05,
                critic_lr: 0.05,
                tau: 0.5,
                gamma: 0.99,
                iql,
                ..Default::default()
            };
            let mut agent = Agent::new(Algo::Iql, cfg, 2, 1, &dev);
            agent.plan_updates(4);
            fix_weights(&mut agent.actor.net, 3.0, &dev);
            fix_weights(&mut agent.critic.q1, 1.0, &dev);
            fix_weights(&mut agent.critic.q2, 2.0, &dev);
            agent.critic_target = agent.critic.clone().no_grad();
            fix_weights(&mut agent.iql.as_mut().unwrap().value, 0.0, &dev);
            let obs = t2(vec![0.5, -1.0, 1.5, 0.2, -0.7, 0.9, 0.1, 0.3], [4, 2], &dev);
            let batch = Batch {
                obs: obs.clone(),
                actions: t2(vec![0.4, -0.8, 0.9, 0.0], [4, 1], &dev),
                rewards: t2(vec![1.0, -0.5, 0.3, 2.0], [4, 1], &dev),
                next_obs: t2(vec![0.6, -0.8, 1.2, 0.4, -0.5, 1.1, 0.3, 0.1], [4, 2], &dev),
                not_done: t2(vec![1.0, 0.0, 1.0, 1.0], [4, 1], &dev),
                rows: vec![0, 1, 2, 3],
            };
            let scalar = |t: Option<Tensor<1>>| t.unwrap().into_scalar::<f32>();
            for step in 0..3 {
                let l = agent.update(&batch, &|_| BehaviourTerms { mixture: None, weight: None });
                let what = format!("deterministic {deterministic}, update {}", step + 1);
                close(&[scalar(l.value)], &[golden_value_losses[step]], &format!("{what}: value loss"));
                close(&[scalar(l.critic)], &[golden_q_losses[step]], &format!("{what}: Q loss"));
                close(&[scalar(l.actor)], &[actor_losses[step]], &format!("{what}: actor loss"));
            }
            let parts = agent.iql.as_ref().unwrap();
            let v: Vec<f32> = parts.value.forward(obs.clone()).into_data().try_to_vec().unwrap();
            close(&v, &golden_v, "V after 3 updates");
            let p: Vec<f32> = agent.actor.mean_action(obs).into_data().try_to_vec().unwrap();
            close(&p, &pi, "policy mean after 3 updates");
            let ls = parts.log_std.as_ref().map_or(0.0, |l| l.value.val().into_data().try_to_vec::<f32>().unwrap()[0]);
            close(&[ls], &[log_std], "log-std after 3 updates");
            assert_eq!((agent.updates, parts.actor_steps), (3, 3));
        }
    }
}

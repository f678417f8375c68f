//! Paper 1: "TD3 with Reverse KL Regularizer for Offline Reinforcement
//! Learning from Mixed Datasets" (Cai, Zhang, Zhao, Shen, Zhang, Song, Bian,
//! Qin, Liu; ICDM 2022, arXiv 2212.02125).
//!
//! **The problem.** An offline dataset collected by several behaviour
//! policies defeats TD3+BC (Fujimoto & Gu 2021) twice: (1) one global
//! trade-off `alpha` between the RL and the behaviour-cloning signal, where
//! the right trade-off differs per state (narrow action coverage needs
//! strong cloning, wide coverage allows more RL improvement); (2) MSE
//! behaviour cloning is mean seeking: where the behaviour's actions are
//! multi-modal it picks the modes' average, an out-of-distribution action.
//!
//! **The method.** TD3 (twin critics, target-policy smoothing 0.2 clipped
//! at 0.5, actor and targets every 2 critic updates, Polyak 0.005, gamma
//! 0.99) whose actor minimises, per state `s`,
//!
//! `L(s) = -lambda Q(s, a~pi) + w(s) [log pi(a|s) - log beta(a|s)]`,
//! `lambda = alpha / mean|Q|` (TD3+BC's normalisation, alpha 2.5),
//!
//! with `beta` a behaviour density fitted to the dataset and `w(s)` large
//! where the behaviour's action coverage at `s` is narrow, small where it
//! is wide. In code: [`td3::Agent::actor_loss`] (with [`td3::q_term`],
//! [`td3::reverse_kl`], [`td3::regulariser_mean`]), the weight
//! [`td3::state_weights`] and the coverage [`nets::Mixture::coverage`].
//! Defaults are TD3+BC's as CORL runs them: 256-256 MLPs, Adam 3e-4,
//! batch 256, states normalised by the dataset's mean and std.
//!
//! **What is the paper's and what is ours.** No official code is public and
//! the paper's full text was not available; the method is reconstructed
//! from its abstract. The paper's: TD3 with a reverse-KL behaviour
//! regulariser (mode seeking) against a fitted behaviour density, weighted
//! per state by the behaviour's action coverage, on top of TD3+BC's
//! `lambda = alpha / mean|Q|`, evaluated on mixed datasets. Ours: the
//! behaviour model as a K-component Gaussian mixture density network on
//! the [-1, 1]-scaled actions (not squashed); the coverage
//! `sum_k w_k(s) mean_d sigma_kd(s)` (the responsibility-weighted component
//! width, which does not grow at a two-mode state as the total mixture
//! variance would, exactly where cloning must stay strong); the weight
//! `w(s) = (1/coverage(s)) / mean_batch(1/coverage)`; a one-sample
//! reparameterised estimate of `KL(pi || beta)`; the tanh-Gaussian actor
//! whose mean action is used for acting and for TD3's target (a Dirac
//! actor, for which the KL is `-log beta(mu(s)|s)` up to a constant, is an
//! ablation arm); the baselines side by side (behaviour cloning, TD3+BC,
//! TD3+RKL with a global weight, TD3+MSE with the adaptive weight, the
//! full method, and the full method with the true behaviour density where
//! the environment knows it, which separates density-fit error from the
//! method); the point-mass environments and their behaviour policies; and
//! Pendulum in place of MuJoCo locomotion.
//!
//! **The experiment** (written before any run; [`experiment`] has the
//! claims' pass rules and preconditions). E1, mode seeking: a 2-D point
//! mass (`s in [0,10]^2`, `a in [-1,1]^2`, `s' = s + 0.5 a + N(0, 0.02^2)`,
//! reward -0.1 per step, +10 in the goal radius 0.5, -10 and the end on a
//! collision, horizon 40) from (1, 5) to (9, 5) around the box
//! [4,6] x [3.5,6.5], with two scripted behaviours (noise 0.1) passing above
//! via (5, 8) and below via (5, 2), 50 trajectories each; MSE cloning
//! should average the modes into the box, the reverse KL commit to one
//! route. E1-up raises the goal to (9, 6.5): the method should prefer the
//! upper route. E2, per-state weighting: a wall at x = 5 with a gap
//! y in [4.7, 5.3], 400 wide meandering trajectories (sigma 0.6) on the left
//! and 50 narrow expert ones (sigma 0.05) through the gap; the global alpha
//! is swept over {0.1, 0.3, 1, 2.5, 10} and the adaptive method with its
//! one alpha must beat the best of them by more than one std across seeds.
//! E3 joins the obstacle and the gap (mean +- std and a paired comparison).
//! Pendulum: random, medium and expert datasets from online TD3, mixed.
//!
//! **Anchor numbers** (D4RL normalised score `100 (R - R_random) /
//! (R_expert - R_random)`, CORL's "last" scores; what a `train` run from
//! D4RL files can be compared with, since the experiment here does not run
//! MuJoCo):
//!
//! | task | TD3+BC | CQL | IQL |
//! |---|---|---|---|
//! | halfcheetah-medium-v2 | 48.10 | 47.04 | 48.31 |
//! | halfcheetah-medium-replay-v2 | 44.84 | 45.04 | 44.46 |
//! | halfcheetah-medium-expert-v2 | 90.78 | 95.63 | 94.74 |
//! | hopper-medium-v2 | 60.37 | 59.08 | 67.53 |
//! | hopper-medium-replay-v2 | 64.42 | 95.11 | 97.43 |
//! | hopper-medium-expert-v2 | 101.17 | 99.26 | 107.42 |
//! | walker2d-medium-v2 | 82.71 | 80.75 | 80.91 |
//! | walker2d-medium-replay-v2 | 85.62 | 73.09 | 82.15 |
//! | walker2d-medium-expert-v2 | 110.03 | 109.56 | 111.72 |
//! | average | 76.45 | 78.28 | 81.63 |
//!
//! **Modules.**
//! - [`env`]: the [`env::Env`] interface, the point-mass suite (E1-E3) with
//!   scripted behaviour policies of known density, Gymnasium's Pendulum.
//! - [`dataset`]: D4RL-layout transitions, mixing, normalisation, sampling,
//!   collection; [`io`]: D4RL/Minari HDF5 and `.npz` files.
//! - [`nets`]: tanh-Gaussian / deterministic actor, twin critic, Gaussian
//!   mixtures and the mixture density network.
//! - [`behaviour`]: fitting the behaviour model; the oracle density.
//! - [`td3`]: the TD3 core and the six actor losses; [`train`]: offline and
//!   online loops; [`eval`]: lockstep rollouts, D4RL normalised score.
//! - [`experiment`]: the registered claim check; [`outcome`]: what its
//!   arms produced; [`figures`]: its figures.
//! - [`cli`]: the `reprolab offline-rl` commands `dataset`, `train` and
//!   `eval`; [`tools`]: what they do; [`export`]: a checkpoint's policy for
//!   PyTorch (`reprolab export`).

pub mod behaviour;
pub mod cli;
pub mod dataset;
pub mod env;
pub mod eval;
pub mod experiment;
pub mod export;
pub mod figures;
pub mod io;
pub mod nets;
pub mod outcome;
pub mod td3;
pub mod tools;
pub mod train;
mod validate;
pub use experiment::METHOD;

//! Paper 1: "TD3 with Reverse KL Regularizer for Offline Reinforcement
//! Learning from Mixed Datasets" (Cai, Zhang, Zhao, Shen, Zhang, Song, Bian,
//! Qin, Liu; ICDM 2022, arXiv 2212.02125).
//!
//! - [`env`]: the [`env::Env`] interface, the point-mass suite (E1-E3) with
//!   scripted behaviour policies of known density, Gymnasium's Pendulum.
//! - [`dataset`]: D4RL-layout transitions, mixing, normalisation, sampling,
//!   collection; [`io`]: D4RL/Minari HDF5 and `.npz` files.
//! - [`nets`]: tanh-Gaussian / deterministic actor, twin critic, Gaussian
//!   mixtures and the mixture density network.
//! - [`behaviour`]: fitting the behaviour model; the oracle density.
//! - [`td3`]: the TD3 core and the six actor losses; [`train`]: offline and
//!   online loops; [`eval`]: lockstep rollouts, D4RL normalised score.
//! - [`experiment`]: the registered claim check; [`tools`]: the CLI's
//!   `train`, `eval` and `dataset`.
//!
//! **What is the paper's and what is ours.** No official code is public and
//! the full text was not available; the method is reconstructed from the
//! abstract (see `papers/01-offline-rl.md`). The paper's: TD3 with a reverse
//! KL behaviour regulariser (mode seeking) against a fitted behaviour
//! density, weighted per state by the behaviour's action coverage, on top of
//! TD3+BC's normalisation `lambda = alpha / mean|Q|`, evaluated on mixed
//! datasets. Ours (the spec's reconstruction): the behaviour model as a
//! K-component Gaussian mixture density network on the [-1, 1]-scaled
//! actions (not squashed), the coverage `sum_k w_k(s) mean_d sigma_kd(s)`,
//! the weight `w(s) = (1/coverage) / mean_batch(1/coverage)`, a one-sample
//! reparameterised estimate of `KL(pi || beta)`, the tanh-Gaussian actor
//! whose mean action is used for acting and for TD3's target, the
//! point-mass environments and their behaviour policies, and Pendulum in
//! place of MuJoCo locomotion.

pub mod behaviour;
pub mod dataset;
pub mod env;
pub mod eval;
pub mod experiment;
pub mod figures;
pub mod io;
pub mod nets;
pub mod td3;
pub mod tools;
pub mod train;
pub use experiment::METHOD;

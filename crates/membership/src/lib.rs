//! Paper 3: "Membership Inference Attacks on Machine Learning: A Survey"
//! (Hu, Salcic, Sun, Dobbie, Yu, Zhang; ACM Computing Surveys 2022, arXiv
//! 2103.07853), built as a membership-inference auditing toolkit.
//!
//! A survey proposes no single method. What this crate implements comes from
//! the survey's taxonomy and the papers it cites, each named where it is
//! defined:
//! - [`scores`]: the per-example statistics the metric attacks threshold
//!   (Song & Mittal 2021: correctness, confidence, entropy, modified
//!   entropy, loss) and LiRA's logit-scaled confidence (Carlini et al. 2022).
//! - [`attacks`]: metric attacks (global and per-class thresholds), the
//!   shadow-model attack classifier (Shokri et al. 2017; the top-3 global
//!   variant of Salem et al. 2019), LiRA online/offline with per-example
//!   and fixed variance as in the LiRA reference code, optionally averaged
//!   over query augmentations, and RMIA (Zarifzadeh et al. 2024).
//! - [`shadow`]: many models, each trained on a random half of a data pool,
//!   with every model's logits on every example and its IN/OUT mask. MLP
//!   populations train as one stacked model (core's `MlpStack` and
//!   `fit_stack`), with each model's own half, initial weights and batches.
//! - [`defences`]: L2, dropout, label smoothing, early stopping, DP-SGD,
//!   confidence masking and knowledge distillation ([`distill`]), each
//!   measured on its own matched population.
//! - [`experiment`]: the laptop-scale claim check (its module docs give the
//!   claim, the pass rule, its preconditions and the anchor numbers). Each
//!   model is the target in turn and the others are its shadows; scores
//!   are pooled over targets, so 0.1% FPR has thousands of negatives
//!   behind it.
//! - [`generative`]: attacks on autoencoders by reconstruction error,
//!   plain and calibrated on shadows.
//! - [`dp`]: DP-SGD and its RDP accountant.
//! - [`audit`]: the attacks run on a user's own model outputs, the
//!   `reprolab membership audit` command of [`cli`].
//!
//! The central equations, one function each with the equation in its docs:
//! - LiRA's logit-scaled confidence `phi = log(p_y / (1 - p_y))`:
//!   [`scores::lira_phi`];
//! - LiRA online, `log N(phi; mu_in, sd_in^2) - log N(phi; mu_out, sd_out^2)`:
//!   [`attacks::lira_online_score`]; LiRA offline, the one-sided z-score
//!   against the OUT Gaussian: [`attacks::lira_offline_score`];
//! - RMIA, `Pr_z[LR(x, z) >= gamma]`: [`attacks::rmia_ratio`] and
//!   [`attacks::rmia_score`];
//! - Song & Mittal's modified entropy: [`scores::neg_modified_entropy`];
//! - DP-SGD's clipped, noised gradient: [`dp::clip_factor`] and
//!   [`dp::dp_sgd_step`]; its RDP accountant: [`dp::rdp_sampled_gaussian`],
//!   [`dp::rdp_to_epsilon`] and [`dp::epsilon`].
//!
//! Ours, not the paper's: the experiment's scale (small MLPs on digits and
//! breast cancer instead of wide ResNets on CIFAR-10), the pass rule and
//! its preconditions (see [`experiment`]), the choice of which LiRA variant
//! the rule reads (online, fixed variance: the strongest at low FPR both in
//! LiRA's own CIFAR-10 numbers and in a pilot on digits), the query
//! augmentations (Gaussian noise copies: our pools are tabular, where
//! LiRA's image flips and shifts do not apply), and the upper-bound
//! balanced accuracy at the best threshold.

pub mod attacks;
pub mod audit;
pub mod cli;
pub mod defences;
pub mod distill;
pub mod dp;
pub mod experiment;
pub mod generative;
mod pool;
pub mod scores;
pub mod shadow;

pub use experiment::METHOD;

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
//! - [`attacks`]: metric attacks (global and per-class thresholds, for all
//!   five), the shadow-model attack classifier (Shokri et al. 2017; the
//!   top-3 global variant of Salem et al. 2019), LiRA online/offline with
//!   per-example and fixed variance as in the LiRA reference code (offline
//!   both two-sided, the reference code's score, and one-sided, the
//!   paper's), optionally averaged over query augmentations, and RMIA
//!   (Zarifzadeh et al. 2024) online and offline, against a population no
//!   model trained on.
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
//! - [`epsilon`]: the audit's empirical epsilon lower bound from TPR and
//!   FPR with Clopper-Pearson limits (Jagielski et al. 2020).
//! - [`paired`]: the paired bootstrap over pool examples behind the rule's
//!   intervals of TPR differences.
//!
//! The central equations, one function each with the equation in its docs:
//! - LiRA's logit-scaled confidence `phi = log(p_y / (1 - p_y))`:
//!   [`scores::lira_phi`];
//! - LiRA online, `log N(phi; mu_in, sd_in^2) - log N(phi; mu_out, sd_out^2)`:
//!   [`attacks::lira_online_score`]; LiRA offline, `-log N(phi; mu_out,
//!   sd_out^2)` (two-sided, the reference code): [`attacks::lira_offline_score`],
//!   and the paper's one-sided z-score: [`attacks::lira_offline_one_sided_score`];
//! - RMIA, `Pr_z[LR(x, z) >= gamma]`: [`attacks::rmia_ratio`] and
//!   [`attacks::rmia_score`]; offline, `p(x) = ((1 + a) p_OUT(x) + (1 - a)) / 2`:
//!   [`attacks::RmiaMode`] and [`attacks::rmia_offline_tuned`];
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
pub mod epsilon;
pub mod experiment;
pub mod fixtures;
pub mod generative;
pub mod paired;
mod pool;
pub mod scores;
pub mod shadow;

pub use experiment::METHOD;

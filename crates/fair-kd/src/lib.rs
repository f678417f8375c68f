//! Paper 10: "RELIANT: Fair Knowledge Distillation for Graph Neural
//! Networks" (Dong, Zhang, Yuan, Zou, Wang, Li; SDM 2023, arXiv
//! 2301.01150).
//!
//! - [`graph`]: the similarity graphs of bail and credit, built with the
//!   official loaders' rule, blockwise and in parallel.
//! - [`fairness`]: RELIANT's Legendre surrogate H(p) and the disparity
//!   regulariser R_SP / R_EO, differentiable.
//! - [`data`]: bail / credit graphs from CSV and an embedded synthetic
//!   stochastic-block-model graph with known bias; the seeded split.
//! - [`teachers`]: 2-layer GCN and GraphSAGE (mean) teachers, full-batch
//!   training with the best-validation epoch kept.
//! - [`bias`]: delta SP / delta EO / accuracy of any predictions file
//!   (`reprolab fair-kd bias`).
//! - [`students`]: MLP, SGC and PLP-style students; [`reliant`]: the
//!   distillation with RELIANT's regulariser and the adversarial proxy;
//!   [`experiment`]: the registered claim check.
//!
//! - [`train`]: `reprolab fair-kd train` on a user's node and edge CSV files;
//!   [`cli`]: the `reprolab fair-kd` commands (`train`, `bias`).
//!
//! The central equations, one function each: the surrogate H(p)
//! ([`fairness::h`]), the regulariser R ([`fairness::disparity`], over
//! [`fairness::parity_groups`] for R_SP and
//! [`fairness::opportunity_groups`] for R_EO), the student's objective
//! L = L_KD + alpha R ([`reliant::reliant_loss`], L_KD in
//! [`reliant::kd_loss`]) and the proxy's L = -alpha R
//! ([`reliant::proxy_loss`]). The claim, the rule and the paper's anchor
//! numbers are in [`experiment`].
//!
//! Following the official code (yushundong/RELIANT): the distillation
//! loss (`my_loss`, the Frobenius norm over the non-training nodes), the
//! proxy (uniform start, Adam at the student's settings, the regulariser
//! only with it in the official configuration), bail's row normalisation,
//! bail's and credit's split sizes, the student kept at its best validation
//! epoch.
//!
//! Ours, not the paper's:
//! credit's standardised features (the official credit loader reads a
//! preprocessed `.npz` that its repository does not ship), the synthetic graph and its split (stratified 50/25/25), per-seed
//! shuffles of the official split sizes, the PLP-style student (a
//! parameterised propagation, not CPF's exact PLP), teacher pseudo-labels
//! for R_EO on unlabelled nodes (the official code reads the true labels
//! there). The paper's own formulation of the proxy was not retrieved; we
//! follow the official code's.

pub mod bias;
pub mod cli;
pub mod data;
pub mod experiment;
pub mod fairness;
pub mod fixtures;
pub mod graph;
pub mod reliant;
pub mod students;
pub mod teachers;
pub mod train;

pub use experiment::METHOD;

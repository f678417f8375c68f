//! Paper 10: "RELIANT: Fair Knowledge Distillation for Graph Neural
//! Networks" (Dong, Zhang, Yuan, Zou, Wang, Li; SDM 2023, arXiv
//! 2301.01150). Work in progress (issue 5): so far the pieces every later
//! step needs.
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
//!
//! Not yet built: the MLP / SGC / PLP
//! students, the distillation loss and the adversarial proxy, the
//! experiment and `fair-kd train`. The paper's own formulation of the
//! proxy was not retrieved; the spec describes the official code's.

pub mod bias;
pub mod data;
pub mod experiment;
pub mod fairness;
pub mod graph;
pub mod reliant;
pub mod students;
pub mod teachers;

pub use experiment::METHOD;

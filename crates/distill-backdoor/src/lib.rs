//! Paper 6: "Backdoor Attacks Against Dataset Distillation" (Liu, Li,
//! Backes, Shen, Zhang; NDSS 2023, arXiv 2301.01197).
//!
//! - [`net`]: the distillation ConvNet as a function of host-side parameters.
//! - [`matching`]: DC's per-row cosine gradient-matching distance and its gradient.
//! - [`second_order`]: the finite-difference identity for DC's second-order term.
//! - [`distill`]: DC and DM on a (poisoned) training set.
//! - [`attack`]: NAIVEATTACK and DOORPING (neuron selection, trigger optimisation, stamping).
//! - [`train`]: SGD, the evaluation networks, accuracy.
//! - [`defences`]: fine-tuning, trigger reverse engineering, spectral test.
//! - [`experiment`]: the registered claim check; [`tools`]: the CLI's
//!   `distill` and `evaluate`.
//! - [`data`]: the embedded digits (and MNIST-style IDX / CIFAR-10 binary
//!   folders), normalised as the official code normalises.
//!
//! The paper's (official code's): the matching distance, the loops and
//! optimisers of DC, both attacks' update rules and patch position, the
//! evaluation schedule. Ours: the second-order term by finite differences
//! (burn has no double backward; the identity is exact, the difference is
//! O(eps^2); gradient rows that are exactly zero, units no synthetic image
//! activates, are left out of the difference's direction, which is exact
//! because their derivative is zero, and keeps their -a/1e-6 entries from
//! swamping the step), the defences' settings and the class-level spectral
//! test, the laptop ConvNet size, DM as a third method and DOORPING on
//! DM, the digits split (stratified 75/25).

pub mod adam;
pub mod attack;
pub mod data;
pub mod defences;
pub mod distill;
pub mod experiment;
pub mod matching;
pub mod net;
pub mod second_order;
pub mod tools;
pub mod train;
pub use experiment::METHOD;

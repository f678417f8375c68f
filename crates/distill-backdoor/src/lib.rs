//! Paper 6: "Backdoor Attacks Against Dataset Distillation" (Liu, Li,
//! Backes, Shen, Zhang; NDSS 2023, arXiv 2301.01197).
//!
//! - [`net`]: the distillation ConvNet as a function of host-side parameters.
//! - [`matching`]: DC's per-row cosine gradient-matching distance and its gradient.
//! - [`second_order`]: the finite-difference identity for DC's second-order term.
//! - [`distill`]: DC and DM on a (poisoned) training set; [`dsa`]: DM's
//!   differentiable Siamese augmentation.
//! - [`attack`]: NAIVEATTACK and DOORPING (neuron selection, trigger optimisation, stamping).
//! - [`train`]: SGD, the evaluation networks, accuracy.
//! - [`defences`]: fine-tuning, trigger reverse engineering, spectral test.
//! - [`experiment`]: the registered claim check (the claim, the pass rule
//!   and what is the paper's and what ours are in its docs).
//! - [`cli`]: the commands `reprolab distill-backdoor distill` and
//!   `evaluate`; [`tools`]: what they run.
//! - [`data`]: the embedded digits (and MNIST-style IDX / CIFAR-10 binary
//!   folders), normalised as the official code normalises.
//!
//! The central equations, one function each (the equation in its docs):
//! DC's gradient-matching distance [`matching::gradient_matching_distance`]
//! and its per-class loss [`distill::dc_class_step`], with the second-order
//! term [`second_order::mixed_second_derivative`]; DM's
//! [`distill::distribution_matching_loss`]; both attacks' stamping
//! [`attack::stamp`]; DOORPING's neuron selection [`attack::select_neuron`]
//! and trigger loss [`attack::trigger_loss`], minimised by
//! [`attack::optimise_trigger`].
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
pub mod cli;
pub mod data;
pub mod defences;
pub mod distill;
pub mod dsa;
pub mod experiment;
pub mod fixtures;
pub mod matching;
pub mod net;
pub mod second_order;
pub mod tools;
pub mod train;

use reprolab_core::plan::Resources;
use reprolab_core::registry::Method;

/// The registry entry: the plan of [`experiment`] and the commands of
/// [`cli`]; the paper's reference and the presets
/// (`configs/distill-backdoor/*.toml`) are found by the name.
pub const METHOD: Method = Method {
    name: "distill-backdoor",
    about: None,
    claim: experiment::CLAIM,
    units: experiment::units,
    run_unit: experiment::run_unit,
    summarise: experiment::summarise,
    resources: Resources::SMALL,
    complete: true,
    commands: Some(
        reprolab_core::cli::Commands::of::<cli::Command>(
            "Paper 6 tools: distil a dataset (optionally backdoored) and evaluate a synthetic set.",
        )
        .with_fixtures(crate::fixtures::fixtures),
    ),
    export: None,
};

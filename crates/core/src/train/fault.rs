//! Fault injection for the numerical-fault tests: with
//! `REPROLAB_FAULT_NAN_STEP=N` in the environment, the training loops that
//! call [`poison_batch`] turn step N's input batch into NaN, so a test can
//! check, through the real binary, that training stops with a message
//! naming the step and that the last good checkpoint still loads and
//! evaluates. Without the variable (always, outside tests) it is a no-op
//! costing one cached lookup.

use burn::tensor::Tensor;
use std::sync::OnceLock;

/// The environment variable naming the step whose batch becomes NaN.
pub const NAN_STEP_VAR: &str = "REPROLAB_FAULT_NAN_STEP";

/// The step the environment asks to poison, read once per process.
pub fn nan_step() -> Option<usize> {
    static STEP: OnceLock<Option<usize>> = OnceLock::new();
    *STEP.get_or_init(|| std::env::var(NAN_STEP_VAR).ok().and_then(|v| v.trim().parse().ok()))
}

/// `batch` unchanged, or all NaN when `step` is the poisoned step.
pub fn poison_batch<const D: usize>(batch: Tensor<D>, step: usize) -> Tensor<D> {
    if is_poisoned(step) { batch.add_scalar(f32::NAN) } else { batch }
}

/// Whether `step` is the one [`NAN_STEP_VAR`] names (for loops whose batch
/// is host data rather than a tensor).
pub fn is_poisoned(step: usize) -> bool {
    nan_step() == Some(step)
}

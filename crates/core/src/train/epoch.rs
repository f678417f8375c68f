//! One epoch of mini-batch training with any loss: the loop every trainer
//! shares (the classifier fit, autoencoders, distilled students), so batching,
//! the non-finite guard and the optimiser step live in one place.

use super::check_finite;
use anyhow::Result;
use burn::module::Module;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::Tensor;

/// Trains `model` over `batches` (row indices, in order). For each batch,
/// `loss(&model, rows)` builds a scalar loss; a NaN or infinite value stops
/// with [`super::NonFiniteLoss`] naming `*step` and `context`; otherwise the
/// optimiser steps at learning rate `lr(*step)` and `*step` advances.
/// Returns the model and the mean loss weighted by batch size.
pub fn train_epoch<M: Module>(
    mut model: M,
    optim: &mut ModuleOptimizer,
    batches: Vec<Vec<usize>>,
    step: &mut usize,
    lr: impl Fn(usize) -> f64,
    context: &str,
    mut loss: impl FnMut(&M, &[usize]) -> Tensor<1>,
) -> Result<(M, f64)> {
    let (mut total, mut count) = (0.0, 0usize);
    for rows in batches {
        let batch_loss = loss(&model, &rows);
        let value: f32 = batch_loss.clone().into_scalar();
        check_finite(value, *step, context)?;
        let grads = GradientsParams::from_grads(batch_loss.backward(), &model);
        model = optim.step(lr(*step), model, grads);
        total += f64::from(value) * rows.len() as f64;
        count += rows.len();
        *step += 1;
    }
    Ok((model, total / count.max(1) as f64))
}

//! A mini-batch cross-entropy fit loop for classifiers, shared by the
//! workbench self-check, the benchmark and methods that train many small
//! models (membership inference shadows). It seeds its batches, follows
//! the schedule, guards against non-finite losses and shows progress.

use super::{OptimizerConfig, Schedule, check_finite};
use crate::data::Dataset;
use crate::data::batch::{sequential_batches, shuffled_batches};
use crate::nn::Mlp;
use anyhow::Result;
use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

/// Anything that maps a feature batch to class logits.
pub trait Classifier: Module {
    fn logits(&self, x: Tensor<2>) -> Tensor<2>;
}

impl Classifier for Mlp {
    fn logits(&self, x: Tensor<2>) -> Tensor<2> {
        self.forward(x)
    }
}

/// How to fit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FitConfig {
    pub epochs: usize,
    pub batch_size: usize,
    pub optimizer: OptimizerConfig,
    #[serde(default)]
    pub schedule: Schedule,
}

/// Mean training loss per epoch.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FitHistory {
    pub epoch_loss: Vec<f64>,
}

/// One optimisation step on the rows `idx`; returns the loss. The
/// building block of [`fit`], exposed for benchmarks.
pub fn train_step<M: Classifier>(
    model: M,
    optim: &mut burn::optim::ModuleOptimizer,
    lr: f64,
    x: Tensor<2>,
    y: Tensor<1, burn::tensor::Int>,
) -> (M, Tensor<1>) {
    let loss = CrossEntropyLossConfig::new().init(&x.device()).forward(model.logits(x), y);
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    (optim.step(lr, model, grads), loss)
}

/// Trains `model` on `data` rows `idx`; `device` must be an autodiff device.
pub fn fit<M: Classifier>(
    mut model: M,
    data: &Dataset,
    idx: &[usize],
    cfg: &FitConfig,
    seed: u64,
    device: &Device,
    label: &str,
) -> Result<(M, FitHistory)> {
    if idx.is_empty() {
        crate::user_bail!("{}: no training rows", data.name);
    }
    let mut optim = cfg.optimizer.build();
    let mut rng = crate::rng::rng(crate::rng::derive_seed(seed, "batches"));
    let mut history = FitHistory::default();
    let bar = crate::progress::bar(cfg.epochs as u64, label);
    let mut step = 0;
    for epoch in 0..cfg.epochs {
        let (mut total, mut count) = (0.0, 0usize);
        for batch in shuffled_batches(idx.len(), cfg.batch_size, false, &mut rng) {
            let rows: Vec<usize> = batch.iter().map(|&b| idx[b]).collect();
            let x = data.features_tensor(&rows, device);
            let y = data.labels_tensor(&rows, device);
            let lr = cfg.schedule.lr_at(cfg.optimizer.lr(), step);
            let (next, loss) = train_step(model, &mut optim, lr, x, y);
            model = next;
            let loss: f32 = loss.into_scalar();
            check_finite(loss, step, &format!("{label}, epoch {epoch}"))?;
            total += f64::from(loss) * rows.len() as f64;
            count += rows.len();
            step += 1;
        }
        history.epoch_loss.push(total / count as f64);
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok((model, history))
}

/// Row-major logits `[idx.len(), n_classes]` of rows `idx`, without gradients.
pub fn predict_logits<M: Classifier>(model: &M, data: &Dataset, idx: &[usize], device: &Device) -> Vec<f32> {
    let model = model.valid();
    let plain = device.clone().without_autodiff();
    let mut out = Vec::new();
    for batch in sequential_batches(idx.len(), 1024) {
        let rows: Vec<usize> = batch.iter().map(|&b| idx[b]).collect();
        let logits = model.logits(data.features_tensor(&rows, &plain));
        out.extend(logits.into_data().try_to_vec::<f32>().expect("f32 logits"));
    }
    out
}

/// Arg-max class per row of row-major `logits` with `n_classes` columns.
pub fn argmax_rows(logits: &[f32], n_classes: usize) -> Vec<usize> {
    logits
        .chunks(n_classes)
        .map(|row| {
            row.iter()
                .enumerate()
                .fold((0, f32::NEG_INFINITY), |best, (i, &v)| if v > best.1 { (i, v) } else { best })
                .0
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::MlpConfig;

    #[test]
    fn fitting_separable_data_drives_loss_down_and_accuracy_up() {
        let dev = crate::device::default_device();
        dev.seed(0);
        // two Gaussian-ish blobs on a line
        let xs: Vec<f32> =
            (0..80).map(|i| if i < 40 { -1.0 - (i % 7) as f32 * 0.1 } else { 1.0 + (i % 5) as f32 * 0.1 }).collect();
        let ys: Vec<usize> = (0..80).map(|i| usize::from(i >= 40)).collect();
        let data = Dataset::classification("blobs", xs, 1, ys, vec!["a".into(), "b".into()]).unwrap();
        let idx: Vec<usize> = (0..80).collect();
        let ad = dev.clone().autodiff();
        let model = MlpConfig::new(&[1, 8, 2]).init(&ad);
        let cfg = FitConfig {
            epochs: 30,
            batch_size: 16,
            optimizer: OptimizerConfig::adam(0.05),
            schedule: Schedule::Constant,
        };
        let (model, hist) = fit(model, &data, &idx, &cfg, 0, &ad, "test").unwrap();
        assert!(hist.epoch_loss.last().unwrap() < &(hist.epoch_loss[0] * 0.5), "{:?}", hist.epoch_loss);
        let pred = argmax_rows(&predict_logits(&model, &data, &idx, &ad), 2);
        assert_eq!(crate::metrics::accuracy(data.labels(), &pred).unwrap(), 1.0);
    }

    #[test]
    fn exploding_learning_rate_stops_with_a_clear_error() {
        // A purely linear model (no ReLU to absorb NaN) with lr 1e30, on two
        // copies of one input with different labels: whatever the random
        // initialisation, one of them is confidently wrong, so the gradient is
        // non-zero, the weights overflow to inf, and the next loss is NaN.
        let dev = crate::device::default_device().autodiff();
        let data =
            Dataset::classification("tiny", vec![1e20, 1e20], 1, vec![0, 1], vec!["a".into(), "b".into()]).unwrap();
        let model = MlpConfig::new(&[1, 2]).init(&dev);
        let cfg = FitConfig {
            epochs: 50,
            batch_size: 2,
            optimizer: OptimizerConfig::Sgd {
                lr: 1e30,
                momentum: 0.0,
                nesterov: false,
                weight_decay: 0.0,
                grad_clip_norm: None,
            },
            schedule: Schedule::Constant,
        };
        let err = fit(model, &data, &[0, 1], &cfg, 0, &dev, "boom").map(|_| ()).unwrap_err();
        assert!(err.to_string().contains("training stopped: loss became"), "{err}");
        assert!(err.to_string().contains("boom, epoch"), "{err}");
    }
}

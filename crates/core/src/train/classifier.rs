//! A mini-batch cross-entropy fit loop for classifiers, shared by the
//! workbench self-check, the benchmark and methods that train many small
//! models (membership inference shadows). It seeds its batches, follows
//! the schedule, guards against non-finite losses and shows progress.

use super::early_stop::Decision;
use super::{EarlyStopping, Goal, OptimizerConfig, Schedule, train_epoch};
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

impl Classifier for crate::nn::ConvNet {
    fn logits(&self, x: Tensor<2>) -> Tensor<2> {
        self.forward(x)
    }
}

/// How to fit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FitConfig {
    /// Maximum number of epochs (each method's config says its paper's).
    pub epochs: usize,
    /// Rows per mini-batch; the last batch of an epoch may be smaller.
    pub batch_size: usize,
    /// Optimiser and its hyper-parameters, PyTorch's defaults where unset.
    pub optimizer: OptimizerConfig,
    /// Learning-rate schedule over steps (default: constant).
    #[serde(default)]
    pub schedule: Schedule,
    /// Label smoothing of the cross-entropy, PyTorch's `label_smoothing`
    /// (the target is `(1 - a) onehot + a / C`); 0 = none.
    #[serde(default)]
    pub label_smoothing: f32,
    /// Stop when the loss on a held-out share of the training rows has not
    /// improved for `patience` epochs, and keep the best epoch's model.
    #[serde(default)]
    pub early_stopping: Option<EarlyStopConfig>,
}

/// Validation-based early stopping.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EarlyStopConfig {
    /// Share of the training rows held out for validation.
    pub validation_fraction: f64,
    /// Epochs without improvement before stopping.
    pub patience: usize,
}

/// What happened during fitting.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FitHistory {
    /// Mean training loss per epoch.
    pub epoch_loss: Vec<f64>,
    /// Validation loss per epoch (early stopping only).
    pub validation_loss: Vec<f64>,
    /// The epoch (1-based) whose model was kept, when early stopping chose one.
    pub best_epoch: Option<usize>,
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
    train_step_smoothed(model, optim, lr, x, y, 0.0)
}

/// [`train_step`] with label smoothing `smoothing` (0 = none).
pub fn train_step_smoothed<M: Classifier>(
    model: M,
    optim: &mut burn::optim::ModuleOptimizer,
    lr: f64,
    x: Tensor<2>,
    y: Tensor<1, burn::tensor::Int>,
    smoothing: f32,
) -> (M, Tensor<1>) {
    let loss_fn =
        CrossEntropyLossConfig::new().with_smoothing((smoothing > 0.0).then_some(smoothing)).init(&x.device());
    let loss = loss_fn.forward(model.logits(x), y);
    let grads = GradientsParams::from_grads(loss.backward(), &model);
    (optim.step(lr, model, grads), loss)
}

/// Mean cross-entropy (no smoothing, no gradients) of rows `idx`.
fn mean_loss<M: Classifier>(model: &M, data: &Dataset, idx: &[usize], device: &Device) -> f64 {
    mean_cross_entropy(&predict_logits(model, data, idx, device), data, idx)
}

/// Mean cross-entropy of row-major `logits` (one row per entry of `idx`)
/// against the labels of rows `idx`, in f64.
pub(crate) fn mean_cross_entropy(logits: &[f32], data: &Dataset, idx: &[usize]) -> f64 {
    let c = data.n_classes();
    let total: f64 = idx
        .iter()
        .zip(logits.chunks(c))
        .map(|(&i, z)| {
            let max = z.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
            let lse = max + z.iter().map(|&v| (v as f64 - max).exp()).sum::<f64>().ln();
            lse - z[data.labels()[i]] as f64
        })
        .sum();
    total / idx.len() as f64
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
    let (train, validation) = validation_split(idx, cfg, seed)?;
    let mut stopper = cfg.early_stopping.as_ref().map(|es| EarlyStopping::new(Goal::Minimise, es.patience, 0.0));
    let mut best: Option<M> = None;
    let mut optim = cfg.optimizer.build();
    let mut rng = crate::rng::rng(crate::rng::derive_seed(seed, "batches"));
    let mut history = FitHistory::default();
    let bar = crate::progress::bar(cfg.epochs as u64, label);
    let mut step = 0;
    let loss_fn = CrossEntropyLossConfig::new()
        .with_smoothing((cfg.label_smoothing > 0.0).then_some(cfg.label_smoothing))
        .init(device);
    for epoch in 0..cfg.epochs {
        let batches = shuffled_batches(train.len(), cfg.batch_size, false, &mut rng)
            .into_iter()
            .map(|b| b.iter().map(|&k| train[k]).collect())
            .collect();
        let (next, mean) = train_epoch(
            model,
            &mut optim,
            batches,
            &mut step,
            |s| cfg.schedule.lr_at(cfg.optimizer.lr(), s),
            &format!("{label}, epoch {epoch}"),
            |m, rows| loss_fn.forward(m.logits(data.features_tensor(rows, device)), data.labels_tensor(rows, device)),
        )?;
        model = next;
        history.epoch_loss.push(mean);
        bar.inc(1);
        if let Some(stopper) = stopper.as_mut() {
            let val = mean_loss(&model, data, &validation, device);
            history.validation_loss.push(val);
            match stopper.update(val) {
                Decision::Improved => {
                    best = Some(model.clone());
                    history.best_epoch = Some(epoch + 1);
                }
                Decision::Stop => break,
                Decision::Continue => {}
            }
        }
    }
    bar.finish_and_clear();
    Ok((best.unwrap_or(model), history))
}

/// Rows `idx` split into (training, validation) rows: the validation share
/// is held out, with a split seeded by `seed`, only when `cfg` early-stops.
pub(crate) fn validation_split(idx: &[usize], cfg: &FitConfig, seed: u64) -> Result<(Vec<usize>, Vec<usize>)> {
    Ok(match &cfg.early_stopping {
        Some(es) => {
            let split = crate::data::split::random_split(
                idx.len(),
                es.validation_fraction,
                crate::rng::derive_seed(seed, "validation"),
            )?;
            (split.train.iter().map(|&k| idx[k]).collect(), split.test.iter().map(|&k| idx[k]).collect())
        }
        None => (idx.to_vec(), Vec::new()),
    })
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

impl crate::registry::Validate for FitConfig {
    fn validate(&self) -> Result<()> {
        anyhow::ensure!(self.epochs >= 1, "fit.epochs must be at least 1");
        anyhow::ensure!(self.batch_size >= 1, "fit.batch_size must be at least 1");
        anyhow::ensure!(
            (0.0..1.0).contains(&self.label_smoothing),
            "fit.label_smoothing must be in [0, 1), got {}",
            self.label_smoothing
        );
        if let Some(e) = &self.early_stopping {
            anyhow::ensure!(
                e.validation_fraction > 0.0 && e.validation_fraction < 1.0,
                "fit.early_stopping.validation_fraction must be in (0, 1), got {}",
                e.validation_fraction
            );
            anyhow::ensure!(e.patience >= 1, "fit.early_stopping.patience must be at least 1");
        }
        crate::registry::Validate::validate(&self.optimizer)
    }
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
            label_smoothing: 0.0,
            early_stopping: None,
        };
        let (model, hist) = fit(model, &data, &idx, &cfg, 0, &ad, "test").unwrap();
        assert!(hist.epoch_loss.last().unwrap() < &(hist.epoch_loss[0] * 0.5), "{:?}", hist.epoch_loss);
        let pred = argmax_rows(&predict_logits(&model, &data, &idx, &ad), 2);
        assert_eq!(crate::metrics::accuracy(data.labels(), &pred).unwrap(), 1.0);
    }

    /// PyTorch: F.cross_entropy(z, y, label_smoothing=a) =
    /// -(1 - a) log p_y - (a / C) sum_i log p_i.
    #[test]
    fn label_smoothing_matches_pytorchs_definition() {
        let dev = crate::device::default_device().autodiff();
        let model = MlpConfig::new(&[2, 3]).init(&dev);
        let x = Tensor::<2>::from_data(burn::tensor::TensorData::new(vec![0.5f32, -1.0], [1, 2]), &dev);
        let y = Tensor::<1, burn::tensor::Int>::from_data(burn::tensor::TensorData::new(vec![2i64], [1]), &dev);
        let z: Vec<f32> = model.forward(x.clone()).into_data().try_to_vec().unwrap();
        let lse = z.iter().map(|&v| (v as f64).exp()).sum::<f64>().ln();
        let logp: Vec<f64> = z.iter().map(|&v| v as f64 - lse).collect();
        let a = 0.1;
        let want = -(1.0 - a) * logp[2] - a / 3.0 * logp.iter().sum::<f64>();
        let mut opt = OptimizerConfig::adam(0.0).build();
        let (_, loss) = train_step_smoothed(model, &mut opt, 0.0, x, y, a as f32);
        let got: f32 = loss.into_scalar();
        assert!((got as f64 - want).abs() < 1e-5, "{got} vs {want}");
    }

    #[test]
    fn early_stopping_stops_on_noise_and_keeps_the_best_epoch() {
        let dev = crate::device::default_device().autodiff();
        // labels independent of the features: validation loss cannot keep improving
        let xs: Vec<f32> = (0..120).map(|i| ((i * 37) % 11) as f32 / 11.0).collect();
        let ys: Vec<usize> = (0..120).map(|i| (i * 7 / 3) % 2).collect();
        let data = Dataset::classification("noise", xs, 1, ys, vec!["a".into(), "b".into()]).unwrap();
        let idx: Vec<usize> = (0..120).collect();
        let cfg = FitConfig {
            epochs: 200,
            batch_size: 16,
            optimizer: OptimizerConfig::adam(0.05),
            schedule: Schedule::Constant,
            label_smoothing: 0.0,
            early_stopping: Some(EarlyStopConfig { validation_fraction: 0.25, patience: 3 }),
        };
        let model = MlpConfig::new(&[1, 32, 2]).init(&dev);
        let (_, hist) = fit(model, &data, &idx, &cfg, 0, &dev, "es").unwrap();
        let ran = hist.epoch_loss.len();
        assert!(ran < 200, "never stopped");
        assert_eq!(hist.validation_loss.len(), ran);
        let best = hist.best_epoch.unwrap();
        assert_eq!(ran, best + 3, "stops exactly `patience` epochs after the best");
        let min = hist.validation_loss.iter().copied().fold(f64::INFINITY, f64::min);
        assert_eq!(hist.validation_loss[best - 1], min);
    }

    #[test]
    fn dropout_is_random_in_training_and_off_in_evaluation() {
        let dev = crate::device::default_device().autodiff();
        let model = MlpConfig::new(&[4, 64, 2]).with_dropout(0.5).init(&dev);
        let x = Tensor::<2>::ones([1, 4], &dev);
        let a: Vec<f32> = model.forward(x.clone()).into_data().try_to_vec().unwrap();
        let b: Vec<f32> = model.forward(x.clone()).into_data().try_to_vec().unwrap();
        assert_ne!(a, b, "dropout should change training-mode outputs");
        let eval = model.valid();
        let plain = Tensor::<2>::ones([1, 4], &crate::device::default_device());
        let c: Vec<f32> = eval.forward(plain.clone()).into_data().try_to_vec().unwrap();
        let d: Vec<f32> = eval.forward(plain).into_data().try_to_vec().unwrap();
        assert_eq!(c, d);
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
            label_smoothing: 0.0,
            early_stopping: None,
        };
        let err = fit(model, &data, &[0, 1], &cfg, 0, &dev, "boom").map(|_| ()).unwrap_err();
        assert!(err.to_string().contains("training stopped: loss became"), "{err}");
        assert!(err.to_string().contains("boom, epoch"), "{err}");
    }
}

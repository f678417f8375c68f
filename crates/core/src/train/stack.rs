//! Fitting a population of same-shaped MLP classifiers at once, each on its
//! own rows, with the semantics of calling [`fit`](super::classifier::fit)
//! on each: the same validation split, batch order, schedule, label
//! smoothing and early stopping per model, because every per-model random
//! stream is derived from that model's seed exactly as `fit` derives it.
//!
//! The models run as one [`MlpStack`]: at each step model k gets its own
//! next batch, the logits of all models come from one batched forward pass,
//! and the loss is the sum of the models' mean cross-entropies, so each
//! model's gradient is the one it would get alone.

use super::classifier::{FitConfig, FitHistory, mean_cross_entropy, validation_split};
use super::early_stop::Decision;
use super::{EarlyStopping, Goal, train_epoch};
use crate::data::Dataset;
use crate::data::batch::shuffled_batches;
use crate::nn::{Mlp, MlpStack};
use anyhow::Result;
use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::tensor::{Device, Tensor};

/// Trains `models[k]` on rows `rows[k]` of `data` with batches seeded by
/// `seeds[k]`; `device` must be an autodiff device. All row sets must have
/// the same size (every step advances each model by one batch). Returns
/// the trained models (each the best epoch's under early stopping) and
/// their histories; `epoch_loss` is the mean over models.
pub fn fit_stack(
    models: Vec<Mlp>,
    data: &Dataset,
    rows: &[Vec<usize>],
    cfg: &FitConfig,
    seeds: &[u64],
    device: &Device,
    label: &str,
) -> Result<(Vec<Mlp>, Vec<FitHistory>)> {
    let k = models.len();
    if k == 0 || rows.len() != k || seeds.len() != k {
        anyhow::bail!(
            "fit_stack: {k} models, {} row sets and {} seeds must match and be non-empty",
            rows.len(),
            seeds.len()
        );
    }
    if rows.iter().any(|r| r.len() != rows[0].len()) || rows[0].is_empty() {
        crate::user_bail!("{}: stacked models need equally sized, non-empty training sets", data.name);
    }
    if cfg.optimizer.grad_clip_norm().is_some() {
        // A norm over a stacked tensor would mix the models' gradients.
        crate::user_bail!("{label}: gradient-norm clipping is not supported when training models as a stack");
    }
    let splits = rows.iter().zip(seeds).map(|(r, &s)| validation_split(r, cfg, s)).collect::<Result<Vec<_>>>()?;
    let mut batch_rngs: Vec<_> =
        seeds.iter().map(|&s| crate::rng::rng(crate::rng::derive_seed(s, "batches"))).collect();
    let mut stoppers: Vec<Option<EarlyStopping>> = (0..k)
        .map(|_| cfg.early_stopping.as_ref().map(|es| EarlyStopping::new(Goal::Minimise, es.patience, 0.0)))
        .collect();
    let mut stopped = vec![false; k];
    let mut best: Vec<Option<Mlp>> = vec![None; k];
    let mut histories = vec![FitHistory::default(); k];

    let mut stack = MlpStack::from_mlps(&models);
    drop(models);
    let mut optim = cfg.optimizer.build();
    let loss_fn = CrossEntropyLossConfig::new()
        .with_smoothing((cfg.label_smoothing > 0.0).then_some(cfg.label_smoothing))
        .init(device);
    let n_train = splits[0].0.len();
    let bar = crate::progress::bar(cfg.epochs as u64, label);
    let mut step = 0;
    for epoch in 0..cfg.epochs {
        // Per model, this epoch's batches (as `fit` draws them); step t
        // stacks every model's batch t, model-major.
        let per_model: Vec<Vec<Vec<usize>>> = splits
            .iter()
            .zip(&mut batch_rngs)
            .map(|((train, _), rng)| {
                shuffled_batches(n_train, cfg.batch_size, false, rng)
                    .into_iter()
                    .map(|b| b.iter().map(|&i| train[i]).collect())
                    .collect()
            })
            .collect();
        let batches: Vec<Vec<usize>> =
            (0..per_model[0].len()).map(|t| per_model.iter().flat_map(|m| m[t].iter().copied()).collect()).collect();
        let (next, mean) = train_epoch(
            stack,
            &mut optim,
            batches,
            &mut step,
            |s| cfg.schedule.lr_at(cfg.optimizer.lr(), s),
            &format!("{label}, epoch {epoch}"),
            |m, stacked_rows| {
                let b = stacked_rows.len() / k;
                let x = data.features_tensor(stacked_rows, device).reshape([k, b, data.n_features]);
                let logits = m.forward(x).reshape([k * b, data.n_classes()]);
                // Sum over models of each model's mean loss.
                loss_fn.forward(logits, data.labels_tensor(stacked_rows, device)) * (k as f32)
            },
        )?;
        stack = next;
        let mean = mean / k as f64;
        histories.iter_mut().for_each(|h| h.epoch_loss.push(mean));
        bar.inc(1);
        if cfg.early_stopping.is_some() {
            let validation: Vec<&[usize]> = splits.iter().map(|(_, v)| v.as_slice()).collect();
            let losses = validation_losses(&stack, data, &validation, device);
            for (m, loss) in losses.into_iter().enumerate() {
                if stopped[m] {
                    continue;
                }
                histories[m].validation_loss.push(loss);
                match stoppers[m].as_mut().expect("a stopper per model").update(loss) {
                    Decision::Improved => {
                        best[m] = Some(stack.model(m));
                        histories[m].best_epoch = Some(epoch + 1);
                    }
                    Decision::Stop => stopped[m] = true,
                    Decision::Continue => {}
                }
            }
            if stopped.iter().all(|&s| s) {
                break;
            }
        }
    }
    bar.finish_and_clear();
    let trained = best.into_iter().enumerate().map(|(m, b)| b.unwrap_or_else(|| stack.model(m))).collect();
    Ok((trained, histories))
}

/// Each model's mean cross-entropy on its own validation rows (no dropout,
/// no gradients).
fn validation_losses(stack: &MlpStack, data: &Dataset, validation: &[&[usize]], device: &Device) -> Vec<f64> {
    let k = validation.len();
    let v = validation[0].len();
    if v == 0 {
        return vec![f64::NAN; k];
    }
    let plain = device.clone().without_autodiff();
    let rows: Vec<usize> = validation.iter().flat_map(|r| r.iter().copied()).collect();
    let x: Tensor<3> = data.features_tensor(&rows, &plain).reshape([k, v, data.n_features]);
    let logits: Vec<f32> = stack.valid().forward(x).into_data().try_to_vec().expect("f32 logits");
    let per_model = v * data.n_classes();
    validation
        .iter()
        .enumerate()
        .map(|(m, r)| mean_cross_entropy(&logits[m * per_model..][..per_model], data, r))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::MlpConfig;
    use crate::train::classifier::{EarlyStopConfig, fit, predict_logits};
    use crate::train::{OptimizerConfig, Schedule};

    /// Three models trained as a stack end where three separate `fit`
    /// calls with the same seeds end (up to float summation order),
    /// including dropout-free early stopping and weight decay.
    #[test]
    fn stacked_fit_equals_separate_fits() {
        let data = crate::data::embedded::digits().unwrap();
        let dev = crate::device::default_device();
        let ad = dev.clone().autodiff();
        let cfg = FitConfig {
            epochs: 4,
            batch_size: 64,
            optimizer: OptimizerConfig::Adam {
                lr: 1e-3,
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-8,
                weight_decay: 1e-3,
                grad_clip_norm: None,
            },
            schedule: Schedule::Constant,
            label_smoothing: 0.1,
            early_stopping: Some(EarlyStopConfig { validation_fraction: 0.2, patience: 1 }),
        };
        let _seeding = crate::rng::global_seed_lock();
        let seeds = [11u64, 12, 13];
        let rows: Vec<Vec<usize>> = (0..3).map(|m| (m * 100..m * 100 + 300).collect()).collect();
        let init = |s: u64| {
            ad.seed(s);
            MlpConfig::new(&[64, 32, 10]).init(&ad)
        };
        let (stacked, histories) =
            fit_stack(seeds.iter().map(|&s| init(s)).collect(), &data, &rows, &cfg, &seeds, &ad, "stack").unwrap();
        let probe: Vec<usize> = (1000..1100).collect();
        for (m, &seed) in seeds.iter().enumerate() {
            let (alone, history) = fit(init(seed), &data, &rows[m], &cfg, seed, &ad, "alone").unwrap();
            assert_eq!(histories[m].best_epoch, history.best_epoch, "model {m}");
            for (a, b) in histories[m].validation_loss.iter().zip(&history.validation_loss) {
                assert!((a - b).abs() < 1e-4, "model {m}: validation loss {a} vs {b}");
            }
            let a = predict_logits(&stacked[m], &data, &probe, &ad);
            let b = predict_logits(&alone, &data, &probe, &ad);
            let worst = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
            assert!(worst < 1e-3, "model {m}: logits differ by {worst}");
        }
    }

    #[test]
    fn unequal_row_sets_are_refused() {
        let data = crate::data::embedded::digits().unwrap();
        let ad = crate::device::default_device().autodiff();
        let models = (0..2).map(|_| MlpConfig::new(&[64, 10]).init(&ad)).collect();
        let cfg = FitConfig {
            epochs: 1,
            batch_size: 8,
            optimizer: OptimizerConfig::adam(1e-3),
            schedule: Schedule::Constant,
            label_smoothing: 0.0,
            early_stopping: None,
        };
        let err = fit_stack(models, &data, &[vec![0, 1], vec![2]], &cfg, &[1, 2], &ad, "x").unwrap_err();
        assert!(err.to_string().contains("equally sized"), "{err}");
    }
}

//! Membership inference against a generative model, the survey's other
//! target family: a population of autoencoders, each trained on a random
//! half of the pool to reconstruct its inputs. Members reconstruct better,
//! so the score is the negative reconstruction error (Hilprecht et al.
//! 2019 use the same signal for VAEs). The calibrated variant subtracts the
//! shadows' mean error on the same example, so inherently easy examples
//! stop looking like members (difficulty calibration, Watson et al. 2022).

use crate::shadow::random_half;
use anyhow::Result;
use burn::tensor::Tensor;
use reprolab_core::data::Dataset;
use reprolab_core::data::batch::shuffled_batches;
use reprolab_core::nn::{Mlp, MlpConfig};
use reprolab_core::registry::Validate;
use reprolab_core::rng::{derive_seed, rng};
use reprolab_core::train::{OptimizerConfig, train_epoch};
use serde::Deserialize;

/// The autoencoder population.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenerativeConfig {
    /// Embedded dataset (or `csv:PATH:LABEL_COLUMN`) whose features are
    /// reconstructed (paper: not stated; presets: digits).
    pub dataset: String,
    /// Autoencoders, each on a random half, each the target in turn, at
    /// least 2 (paper: not stated; presets: 3 smoke, 8 quick, 16 full, 32
    /// paper).
    pub n_models: usize,
    /// Hidden widths, bottleneck in the middle (paper: not stated; presets:
    /// `[64, 8, 64]` smoke, `[128, 16, 128]` otherwise).
    pub hidden: Vec<usize>,
    /// Training epochs (paper: not stated; presets: 5 smoke, 50 quick, 100
    /// full, 200 paper).
    pub epochs: usize,
    /// Minibatch size (paper: not stated; presets: 128).
    pub batch_size: usize,
    /// Optimiser of the reconstruction loss (paper: not stated; presets:
    /// Adam 1e-3).
    pub optimizer: OptimizerConfig,
}

impl Validate for GenerativeConfig {
    fn validate(&self) -> Result<()> {
        crate::pool::check_spec(&self.dataset)?;
        crate::pool::check_models(self.n_models)?;
        anyhow::ensure!(
            !self.hidden.is_empty() && self.hidden.iter().all(|&h| h > 0),
            "hidden must list positive widths, got {:?}",
            self.hidden
        );
        anyhow::ensure!(self.epochs >= 1, "epochs must be at least 1, got {}", self.epochs);
        anyhow::ensure!(self.batch_size >= 1, "batch_size must be at least 1, got {}", self.batch_size);
        self.optimizer.validate()
    }
}

/// Per-model, per-example reconstruction errors and IN masks.
pub struct Reconstructions {
    pub n_models: usize,
    pub n_examples: usize,
    /// Row-major `[model][example]` mean squared error.
    pub errors: Vec<f64>,
    pub members: Vec<bool>,
}

fn train_autoencoder(data: &Dataset, rows: &[usize], cfg: &GenerativeConfig, seed: u64) -> Result<Mlp> {
    let device = reprolab_core::device::default_device();
    device.seed(derive_seed(seed, "init"));
    let ad = device.autodiff();
    let d = data.n_features;
    let mut dims = vec![d];
    dims.extend(&cfg.hidden);
    dims.push(d);
    let mut model = MlpConfig::new(&dims).init(&ad);
    let mut optim = cfg.optimizer.build();
    let mut r = rng(derive_seed(seed, "batches"));
    let mut step = 0;
    for epoch in 0..cfg.epochs {
        let batches = shuffled_batches(rows.len(), cfg.batch_size, false, &mut r)
            .into_iter()
            .map(|b| b.iter().map(|&k| rows[k]).collect())
            .collect();
        (model, _) = train_epoch(
            model,
            &mut optim,
            batches,
            &mut step,
            |_| cfg.optimizer.lr(),
            &format!("autoencoder, epoch {epoch}"),
            |m, idx| {
                let x = data.features_tensor(idx, &ad);
                (m.forward(x.clone()) - x).square().mean()
            },
        )?;
    }
    Ok(model)
}

/// Mean squared reconstruction error of every example under `model`.
fn errors(model: &Mlp, data: &Dataset) -> Vec<f64> {
    use burn::module::Module;
    let plain = reprolab_core::device::default_device();
    let model = model.valid();
    let all: Vec<usize> = (0..data.len()).collect();
    let x: Tensor<2> = data.features_tensor(&all, &plain);
    let err: Vec<f32> = (model.forward(x.clone()) - x).square().mean_dim(1).into_data().try_to_vec().expect("f32");
    err.into_iter().map(f64::from).collect()
}

/// Trains the population and measures every model on every example.
pub fn train_autoencoders(data: &Dataset, cfg: &GenerativeConfig, seed: u64) -> Result<Reconstructions> {
    let n = data.len();
    let mut out = Reconstructions { n_models: cfg.n_models, n_examples: n, errors: Vec::new(), members: Vec::new() };
    let bar = reprolab_core::progress::bar(cfg.n_models as u64, "autoencoders");
    for m in 0..cfg.n_models {
        let model_seed = derive_seed(seed, &format!("autoencoder-{m}"));
        let (train, member) = random_half(n, model_seed);
        let model = train_autoencoder(data, &train, cfg, model_seed)?;
        out.errors.extend(errors(&model, data));
        out.members.extend(member);
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(out)
}

impl Reconstructions {
    fn error(&self, m: usize, j: usize) -> f64 {
        self.errors[m * self.n_examples + j]
    }

    /// The target's IN mask.
    pub fn members_of(&self, m: usize) -> &[bool] {
        &self.members[m * self.n_examples..(m + 1) * self.n_examples]
    }

    /// Negative reconstruction error of `target` (global threshold).
    pub fn reconstruction_scores(&self, target: usize) -> Vec<f64> {
        (0..self.n_examples).map(|j| -self.error(target, j)).collect()
    }

    /// The same, minus the shadows' mean error on each example.
    pub fn calibrated_scores(&self, target: usize) -> Vec<f64> {
        let shadows = (self.n_models - 1).max(1) as f64;
        (0..self.n_examples)
            .map(|j| {
                let mean: f64 =
                    (0..self.n_models).filter(|&m| m != target).map(|m| self.error(m, j)).sum::<f64>() / shadows;
                mean - self.error(target, j)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_by_hand() {
        // 3 models x 2 examples
        let r = Reconstructions {
            n_models: 3,
            n_examples: 2,
            errors: vec![0.1, 0.5, 0.3, 0.2, 0.5, 0.8],
            members: vec![true, false, false, true, true, false],
        };
        assert_eq!(r.reconstruction_scores(0), vec![-0.1, -0.5]);
        // example 0: shadows 0.3, 0.5 -> mean 0.4 - 0.1; example 1: shadows 0.2, 0.8 -> 0.5 - 0.5
        let c = r.calibrated_scores(0);
        assert!((c[0] - 0.3).abs() < 1e-12 && c[1].abs() < 1e-12, "{c:?}");
        assert_eq!(r.members_of(1), &[false, true]);
    }

    #[test]
    fn an_autoencoder_reconstructs_its_training_rows_better() {
        let mut data = reprolab_core::data::embedded::digits().unwrap();
        data.features.iter_mut().for_each(|v| *v /= 16.0);
        let data = data.subset(&(0..200).collect::<Vec<_>>());
        let cfg = GenerativeConfig {
            dataset: "digits".into(),
            n_models: 1,
            hidden: vec![64, 8, 64],
            epochs: 150,
            batch_size: 50,
            optimizer: OptimizerConfig::adam(1e-3),
        };
        let r = train_autoencoders(&data, &cfg, 3).unwrap();
        let mean = |member: bool| {
            let v: Vec<f64> = (0..200).filter(|&j| r.members[j] == member).map(|j| r.errors[j]).collect();
            v.iter().sum::<f64>() / v.len() as f64
        };
        assert!(mean(true) < mean(false), "members {} vs non-members {}", mean(true), mean(false));
    }
}

//! Training networks on a (synthetic) set with SGD, as the official code
//! does: the inner loop of distillation (SGD lr 0.01, batch 256, one pass
//! per inner step) and the evaluation of a synthetic set (fresh networks,
//! SGD lr 0.01 momentum 0.9 weight decay 5e-4, the learning rate cut 10x
//! after half the epochs), then clean test accuracy and attack success.

use crate::net::{NetConfig, Params, cross_entropy, gradients, predict};
use anyhow::{Context, Result};
use reprolab_core::registry::Validate;
use reprolab_core::rng::rng;
use serde::{Deserialize, Serialize};

/// SGD with PyTorch's momentum and weight decay semantics. Its paper
/// values depend on what it optimises; the fields that hold one say them.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SgdConfig {
    /// Learning rate, positive.
    pub lr: f64,
    /// Momentum in [0, 1) (default 0, none).
    #[serde(default)]
    pub momentum: f64,
    /// L2 weight decay added to the gradient, non-negative (default 0).
    #[serde(default)]
    pub weight_decay: f64,
}

/// The checks of one optimiser's settings; its place in the config
/// (`distill.dc_images`, `eval.sgd`, ...) is added by the parent.
impl Validate for SgdConfig {
    fn validate(&self) -> Result<()> {
        anyhow::ensure!(self.lr.is_finite() && self.lr > 0.0, "lr must be a positive number, got {}", self.lr);
        anyhow::ensure!((0.0..1.0).contains(&self.momentum), "momentum must be in [0, 1), got {}", self.momentum);
        anyhow::ensure!(
            self.weight_decay.is_finite() && self.weight_decay >= 0.0,
            "weight_decay must be non-negative, got {}",
            self.weight_decay
        );
        Ok(())
    }
}

/// One optimiser's state.
pub struct Sgd {
    pub cfg: SgdConfig,
    buffers: Option<Params>,
}

impl Sgd {
    pub fn new(cfg: SgdConfig) -> Self {
        Self { cfg, buffers: None }
    }

    /// An optimiser continuing with saved momentum `buffers` (`None`: before
    /// its first step), what a resumed `distill` restores.
    pub fn with_buffers(cfg: SgdConfig, buffers: Option<Params>) -> Self {
        Self { cfg, buffers }
    }

    /// The momentum buffers (`None` before the first step), for checkpoints.
    pub fn buffers(&self) -> Option<&Params> {
        self.buffers.as_ref()
    }

    /// `g += wd p; b = momentum b + g (b = g at first); p -= lr b`.
    pub fn step(&mut self, params: &mut Params, grads: &[Vec<f32>], lr: f64) {
        let (mu, wd) = (self.cfg.momentum, self.cfg.weight_decay);
        let first = self.buffers.is_none();
        let buffers = self.buffers.get_or_insert_with(|| grads.iter().map(|g| vec![0.0; g.len()]).collect());
        for ((p, g), b) in params.iter_mut().zip(grads).zip(buffers.iter_mut()) {
            for ((pv, gv), bv) in p.iter_mut().zip(g).zip(b.iter_mut()) {
                let d = f64::from(*gv) + wd * f64::from(*pv);
                let buf = if first || mu == 0.0 { d } else { mu * f64::from(*bv) + d };
                *bv = buf as f32;
                *pv -= (lr * buf) as f32;
            }
        }
    }
}

/// What one epoch passes over: the rows `x` (row-major images) with their
/// labels `y`, in batches of `batch` in an order shuffled from `seed`.
#[derive(Debug, Clone, Copy)]
pub struct EpochData<'a> {
    pub x: &'a [f32],
    pub y: &'a [usize],
    pub batch: usize,
    pub seed: u64,
}

/// One pass over `data` in shuffled batches at learning rate `lr`; returns
/// the mean loss.
pub fn epoch(net: &NetConfig, params: &mut Params, opt: &mut Sgd, lr: f64, data: EpochData) -> Result<f32> {
    use rand::seq::SliceRandom;
    let EpochData { x, y, batch, seed } = data;
    let len = net.image_len();
    let mut order: Vec<usize> = (0..y.len()).collect();
    order.shuffle(&mut rng(seed));
    let mut total = 0.0;
    for chunk in order.chunks(batch.max(1)) {
        let bx: Vec<f32> = chunk.iter().flat_map(|&i| x[i * len..(i + 1) * len].iter().copied()).collect();
        let by: Vec<usize> = chunk.iter().map(|&i| y[i]).collect();
        let g = gradients(net, params, &bx, false, |p, xt| cross_entropy(net.logits(p, xt), &by));
        reprolab_core::train::check_finite(g.loss, 0, "network training")?;
        opt.step(params, &g.params, lr);
        total += g.loss * chunk.len() as f32;
    }
    Ok(total / y.len().max(1) as f32)
}

/// How a synthetic set is evaluated.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvalConfig {
    /// Fresh networks trained and averaged per synthetic set (the laptop
    /// experiment: 5).
    pub networks: usize,
    /// Training epochs of each fresh network; the learning rate is cut 10x
    /// after half of them (paper: 300).
    pub epochs: usize,
    /// Batch size (official code: 256).
    pub batch: usize,
    /// The fresh networks' optimiser (official code: lr 0.01, momentum 0.9,
    /// weight decay 5e-4).
    pub sgd: SgdConfig,
}

impl Validate for EvalConfig {
    fn validate(&self) -> Result<()> {
        anyhow::ensure!(self.networks >= 1, "eval.networks must be at least 1");
        anyhow::ensure!(self.epochs >= 1, "eval.epochs must be at least 1");
        anyhow::ensure!(self.batch >= 1, "eval.batch must be at least 1");
        self.sgd.validate().context("eval.sgd")
    }
}

/// Trains a fresh network (initialised from `seed`) on `(x, y)`.
pub fn train_fresh(net: &NetConfig, x: &[f32], y: &[usize], cfg: &EvalConfig, seed: u64) -> Result<Params> {
    let mut params = net.init(reprolab_core::rng::derive_seed(seed, "eval-net"));
    let mut opt = Sgd::new(cfg.sgd);
    let decay_at = cfg.epochs / 2 + 1;
    for e in 0..=cfg.epochs {
        // The official schedule cuts the rate after epoch `decay_at` and
        // rebuilds the optimiser (dropping its momentum).
        if e == decay_at + 1 {
            opt = Sgd::new(cfg.sgd);
        }
        let lr = if e > decay_at { cfg.sgd.lr * 0.1 } else { cfg.sgd.lr };
        let epoch_seed = reprolab_core::rng::derive_seed(seed, &format!("epoch-{e}"));
        epoch(net, &mut params, &mut opt, lr, EpochData { x, y, batch: cfg.batch, seed: epoch_seed })?;
    }
    Ok(params)
}

/// Share of rows of `x` classified as `labels` says.
pub fn accuracy(net: &NetConfig, params: &Params, x: &[f32], labels: &[usize]) -> f64 {
    let logits = predict(net, params, x);
    let pred = reprolab_core::train::classifier::argmax_rows(&logits, net.classes);
    pred.iter().zip(labels).filter(|(a, b)| a == b).count() as f64 / labels.len().max(1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sgd_follows_pytorch_semantics() {
        let mut p = vec![vec![1.0f32]];
        let mut opt = Sgd::new(SgdConfig { lr: 0.1, momentum: 0.9, weight_decay: 0.5 });
        opt.step(&mut p, &[vec![2.0]], 0.1);
        // d = 2 + 0.5 = 2.5; b = 2.5; p = 1 - 0.25
        assert!((p[0][0] - 0.75).abs() < 1e-6);
        opt.step(&mut p, &[vec![2.0]], 0.1);
        // d = 2 + 0.375 = 2.375; b = 0.9 * 2.5 + 2.375 = 4.625; p = 0.75 - 0.4625
        assert!((p[0][0] - 0.2875).abs() < 1e-6, "{}", p[0][0]);
    }

    #[test]
    fn a_fresh_network_learns_digits() {
        let data = crate::data::digits(0).unwrap();
        let net = NetConfig { channels: 1, side: 8, width: 8, depth: 1, hidden: 32, classes: 10, instance_norm: false };
        let cfg = EvalConfig {
            networks: 1,
            epochs: 10,
            batch: 64,
            sgd: SgdConfig { lr: 0.05, momentum: 0.9, weight_decay: 0.0 },
        };
        let idx: Vec<usize> = (0..600).collect();
        let params = train_fresh(&net, &data.train.gather(&idx), &data.train.labels[..600], &cfg, 0).unwrap();
        let acc = accuracy(&net, &params, &data.test.values, &data.test.labels);
        assert!(acc > 0.85, "{acc}");
    }
}

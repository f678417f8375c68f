//! Defences a victim could apply to a model trained on a synthetic set, or
//! to the synthetic set itself, and what they leave of the backdoor.
//!
//! - Fine-tuning: more SGD on a small clean set (the first defence the
//!   paper evaluates).
//! - Trigger reverse engineering after Neural Cleanse (Wang et al. 2019,
//!   with its tanh bounds on mask and pattern): for every class, the
//!   smallest mask (L1) and pattern that send clean images to it; a
//!   backdoored class needs a much smaller mask.
//!   The anomaly index of each class is (median - L1) / (1.4826 MAD); a
//!   class with index > 2 is flagged.
//! - Spectral signature on the synthetic set (after Tran et al. 2018, ours
//!   at the class level: the synthetic set has no per-image ground truth):
//!   per class, the share of the penultimate representations' variance on
//!   their top singular direction; a class mixing two populations (clean
//!   images and images carrying the trigger) has a dominant direction. The
//!   class with the largest MAD-score above 2 is flagged.
//! - Input clipping (in the experiment): triggered test inputs clipped to
//!   the pixel range a real image can have, the simplest input-level check.

use crate::adam::Adam;
use crate::data::ImageData;
use crate::net::{NetConfig, Params, cross_entropy, gradients};
use crate::train::{EpochData, Sgd, SgdConfig, epoch};
use anyhow::{Context, Result};
use reprolab_core::registry::Validate;
use reprolab_core::rng::{derive_seed, rng};
use serde::{Deserialize, Serialize};

/// The defences' settings (ours: the paper names the defences, not these
/// values).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DefenceConfig {
    /// Clean training images per class for fine-tuning and reverse
    /// engineering (paper: not stated).
    pub clean_per_class: usize,
    /// Fine-tuning epochs on the clean set, 0 for none (paper: not stated).
    pub finetune_epochs: usize,
    /// Fine-tuning's optimiser (paper: not stated).
    pub finetune: SgdConfig,
    /// Adam steps of the reverse engineering, per class (paper: not stated).
    pub cleanse_steps: usize,
    /// Weight of the mask's L1 norm (Neural Cleanse's initial cost; paper:
    /// not stated).
    pub cleanse_cost: f64,
    /// Adam's learning rate of the reverse engineering (paper: not stated).
    pub cleanse_lr: f64,
}

impl Validate for DefenceConfig {
    fn validate(&self) -> Result<()> {
        anyhow::ensure!(self.clean_per_class >= 1, "defence.clean_per_class must be at least 1");
        self.finetune.validate().context("defence.finetune")?;
        anyhow::ensure!(self.cleanse_steps >= 1, "defence.cleanse_steps must be at least 1");
        anyhow::ensure!(
            self.cleanse_cost.is_finite() && self.cleanse_cost >= 0.0,
            "defence.cleanse_cost must be non-negative, got {}",
            self.cleanse_cost
        );
        anyhow::ensure!(
            self.cleanse_lr.is_finite() && self.cleanse_lr > 0.0,
            "defence.cleanse_lr must be a positive number, got {}",
            self.cleanse_lr
        );
        Ok(())
    }
}

/// Continues training `params` on clean `(x, y)`.
pub fn fine_tune(
    net: &NetConfig,
    params: &Params,
    x: &[f32],
    y: &[usize],
    cfg: &DefenceConfig,
    seed: u64,
) -> Result<Params> {
    let mut p = params.clone();
    let mut opt = Sgd::new(cfg.finetune);
    for e in 0..cfg.finetune_epochs {
        let data = EpochData { x, y, batch: 64, seed: derive_seed(seed, &format!("finetune-{e}")) };
        epoch(net, &mut p, &mut opt, cfg.finetune.lr, data)?;
    }
    Ok(p)
}

/// The median and the consistency-scaled median absolute deviation.
fn median_mad(values: &[f64]) -> (f64, f64) {
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        let n = v.len();
        if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 }
    };
    let m = median(&mut values.to_vec());
    let mad = median(&mut values.iter().map(|v| (v - m).abs()).collect());
    (m, 1.4826 * mad)
}

/// Per class: the reversed mask's L1 norm and its anomaly index.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cleanse {
    pub mask_l1: Vec<f64>,
    pub anomaly: Vec<f64>,
    /// Classes with an anomaly index above 2 (small masks only).
    pub flagged: Vec<usize>,
    /// Per class the reversed pattern as pixel intensities, `[c, side,
    /// side]`, each in [0, 1] by construction.
    pub patterns: Vec<Vec<f64>>,
}

/// Neural Cleanse's epsilon in its tanh maps (Keras' `K.epsilon()`).
const TANH_EPS: f64 = 1e-7;

/// Neural Cleanse's bounded parameterisation, `tanh(v) / 2 + 0.5`, in
/// [0, 1] for every real `v` (the mask, and the pattern as a pixel
/// intensity). The original writes `tanh(v) / (2 - eps) + 0.5` (times 255
/// for the pattern), which overshoots the range by `eps / 4` at saturation;
/// dividing by 2 keeps the bound exact and `eps` stays in the inverse,
/// where it keeps `arctanh` finite at 0 and 1.
fn unit_interval(v: f64) -> f64 {
    v.tanh() / 2.0 + 0.5
}

/// The inverse of [`unit_interval`] (the original's `arctanh((m - 0.5) (2 - eps))`).
fn from_unit_interval(u: f64) -> f64 {
    ((u - 0.5) * (2.0 - TANH_EPS)).atanh()
}

/// The anomaly index of each class's mask L1 norm, Neural Cleanse's
/// `(median - l1) / (1.4826 MAD)` (positive for masks smaller than the
/// median; the original flags classes below the median with index > 2).
pub fn anomaly_index(mask_l1: &[f64]) -> Vec<f64> {
    let (median, mad) = median_mad(mask_l1);
    mask_l1.iter().map(|v| (median - v) / mad.max(1e-12)).collect()
}

/// Reverse-engineers a trigger for every class from clean images `x`, as
/// Neural Cleanse (Wang et al. 2019, `bolunwang/backdoor`) parameterises
/// it: `x' = (1 - m) x + m p` with the mask `m = tanh(a) / (2 - eps) + 0.5`
/// per pixel (shared over channels) and the pattern's pixel intensity
/// `tanh(b) / (2 - eps) + 0.5`, so both stay in the valid range, the
/// pattern normalised as the data (`data`'s mean and std) before it is
/// stamped; mask and pattern start uniform in [0, 1] as the original's;
/// minimise CE(f(x'), class) + cost |m|_1 with Adam (the original's betas
/// 0.5, 0.9). Ours: the cost is fixed (the original adapts it), all of `x`
/// is one batch.
pub fn neural_cleanse(
    net: &NetConfig,
    params: &Params,
    x: &[f32],
    data: &ImageData,
    cfg: &DefenceConfig,
    seed: u64,
) -> Cleanse {
    use rand::RngExt;
    let plane = net.side * net.side;
    let len = net.image_len();
    let n = x.len() / len;
    let mut mask_l1 = Vec::with_capacity(net.classes);
    let mut patterns = Vec::with_capacity(net.classes);
    for class in 0..net.classes {
        let mut r = rng(derive_seed(seed, &format!("cleanse-{class}")));
        let mut a: Vec<f64> = (0..plane).map(|_| from_unit_interval(r.random::<f64>())).collect();
        let mut b: Vec<f64> = (0..len).map(|_| from_unit_interval(r.random::<f64>())).collect();
        let mut adam_a = Adam::new(plane, 0.5, 0.9, 1e-8);
        let mut adam_b = Adam::new(len, 0.5, 0.9, 1e-8);
        let labels = vec![class; n];
        let std: Vec<f64> = (0..len).map(|j| f64::from(data.std[j / plane])).collect();
        for _ in 0..cfg.cleanse_steps {
            let m: Vec<f64> = a.iter().map(|&v| unit_interval(v)).collect();
            let p: Vec<f64> = b
                .iter()
                .enumerate()
                .map(|(j, &v)| f64::from(data.normalised(j / plane, unit_interval(v) as f32)))
                .collect();
            let stamped: Vec<f32> = (0..n * len)
                .map(|k| {
                    let (j, px) = (k % len, k % plane);
                    ((1.0 - m[px]) * f64::from(x[k]) + m[px] * p[j]) as f32
                })
                .collect();
            let g = gradients(net, params, &stamped, true, |pp, xt| cross_entropy(net.logits(pp, xt), &labels)).input;
            let mut ga = vec![0f64; plane];
            let mut gb = vec![0f64; len];
            for k in 0..n * len {
                let (j, px) = (k % len, k % plane);
                let gk = f64::from(g[k]);
                ga[px] += gk * (p[j] - f64::from(x[k]));
                gb[j] += gk * m[px];
            }
            // d (tanh(v) / 2) / dv = (1 - tanh(v)^2) / 2
            let dtanh = |v: f64| (1.0 - v.tanh().powi(2)) / 2.0;
            for px in 0..plane {
                // the L1 term: d/dm [cost * m] = cost (m > 0 always)
                ga[px] = (ga[px] + cfg.cleanse_cost) * dtanh(a[px]);
            }
            for j in 0..len {
                gb[j] *= dtanh(b[j]) / std[j];
            }
            for (v, u) in a.iter_mut().zip(adam_a.updates(&ga, cfg.cleanse_lr)) {
                *v -= u;
            }
            for (v, u) in b.iter_mut().zip(adam_b.updates(&gb, cfg.cleanse_lr)) {
                *v -= u;
            }
        }
        mask_l1.push(a.iter().map(|&v| unit_interval(v)).sum());
        patterns.push(b.iter().map(|&v| unit_interval(v)).collect());
    }
    let anomaly = anomaly_index(&mask_l1);
    let flagged = (0..net.classes).filter(|&k| anomaly[k] > 2.0).collect();
    Cleanse { mask_l1, anomaly, flagged, patterns }
}

/// Per class: the top singular direction's share of the centred
/// representations' variance, its MAD-score, and the flagged class.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Spectral {
    pub top_share: Vec<f64>,
    pub score: Vec<f64>,
    pub flagged: Option<usize>,
}

/// The spectral test on a synthetic set `(x, y)` with a network trained on it.
pub fn spectral(net: &NetConfig, params: &Params, x: &[f32], y: &[usize]) -> Spectral {
    let device = reprolab_core::device::default_device();
    let p = net.tensors(params, &device, false);
    let reps: Vec<f32> = burn::tensor::activation::relu(net.penultimate(&p, net.images(x, &device)))
        .into_data()
        .try_to_vec()
        .expect("f32");
    let d = net.hidden;
    let top_share: Vec<f64> = (0..net.classes)
        .map(|class| {
            let rows: Vec<&[f32]> =
                (0..y.len()).filter(|&i| y[i] == class).map(|i| &reps[i * d..(i + 1) * d]).collect();
            top_variance_share(&rows, d)
        })
        .collect();
    let (median, mad) = median_mad(&top_share);
    let score: Vec<f64> = top_share.iter().map(|v| (v - median) / mad.max(1e-12)).collect();
    let best = (0..net.classes).max_by(|&a, &b| score[a].total_cmp(&score[b]));
    Spectral { flagged: best.filter(|&k| score[k] > 2.0), top_share, score }
}

/// Largest eigenvalue of the centred rows' covariance over its trace, by
/// power iteration on the `d x d` covariance.
fn top_variance_share(rows: &[&[f32]], d: usize) -> f64 {
    if rows.len() < 2 {
        return 0.0;
    }
    let n = rows.len() as f64;
    let mean: Vec<f64> = (0..d).map(|j| rows.iter().map(|r| f64::from(r[j])).sum::<f64>() / n).collect();
    let mut cov = vec![0f64; d * d];
    for r in rows {
        for a in 0..d {
            let da = f64::from(r[a]) - mean[a];
            for b in 0..d {
                cov[a * d + b] += da * (f64::from(r[b]) - mean[b]) / n;
            }
        }
    }
    let trace: f64 = (0..d).map(|j| cov[j * d + j]).sum();
    if trace <= 0.0 {
        return 0.0;
    }
    let mut v = vec![1.0 / (d as f64).sqrt(); d];
    let mut lambda = 0.0;
    for _ in 0..200 {
        let w: Vec<f64> = (0..d).map(|a| (0..d).map(|b| cov[a * d + b] * v[b]).sum()).collect();
        let norm = w.iter().map(|x| x * x).sum::<f64>().sqrt();
        if norm == 0.0 {
            return 0.0;
        }
        lambda = norm;
        v = w.into_iter().map(|x| x / norm).collect();
    }
    lambda / trace
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A network trained with a BadNets backdoor into class 0 and one
    /// trained on the clean set: reverse engineering flags class 0 (index
    /// above 2, the smallest mask) on the backdoored network and not on the
    /// clean one, and every reversed pattern is a valid image.
    #[test]
    fn reverse_engineering_flags_a_planted_target_and_not_a_clean_one() {
        use crate::attack::{AttackConfig, AttackKind, Poisoned};
        use crate::train::{EvalConfig, train_fresh};
        let data = crate::data::digits(0).unwrap();
        let net =
            NetConfig { channels: 1, side: 8, width: 16, depth: 1, hidden: 64, classes: 10, instance_norm: false };
        let ec = EvalConfig {
            networks: 1,
            epochs: 30,
            batch: 64,
            sgd: SgdConfig { lr: 0.05, momentum: 0.9, weight_decay: 0.0 },
        };
        let cfg = DefenceConfig {
            clean_per_class: 10,
            finetune_epochs: 0,
            finetune: SgdConfig { lr: 0.01, momentum: 0.9, weight_decay: 0.0 },
            cleanse_steps: 200,
            cleanse_cost: 0.01,
            cleanse_lr: 0.1,
        };
        let idx: Vec<usize> = data.train.by_class().iter().flat_map(|v| v[..10].to_vec()).collect();
        let clean_x = data.train.gather(&idx);
        for (kind, planted) in [(AttackKind::Naive, true), (AttackKind::None, false)] {
            let p = Poisoned::new(&data, &AttackConfig::new(kind, 0.1), 0).unwrap();
            let params = train_fresh(&net, &p.train.values, &p.train.labels, &ec, 0).unwrap();
            let c = neural_cleanse(&net, &params, &clean_x, &data, &cfg, 0);
            for pattern in &c.patterns {
                assert!(pattern.iter().all(|v| (0.0..=1.0).contains(v)), "{kind:?}: pattern out of [0, 1]");
            }
            if planted {
                let smallest = (0..10).min_by(|&a, &b| c.mask_l1[a].total_cmp(&c.mask_l1[b])).unwrap();
                assert_eq!(smallest, 0, "{c:?}");
                assert!(c.anomaly[0] > 2.0 && c.flagged.contains(&0), "{:?}", c.anomaly);
            } else {
                assert!(c.anomaly[0] < 2.0 && !c.flagged.contains(&0), "{:?}", c.anomaly);
            }
        }
    }

    /// The tanh maps keep any parameter in (0, 1) and invert each other.
    #[test]
    fn tanh_parameterisation_is_bounded_and_invertible() {
        for v in [-1e6, -30.0, -1.0, 0.0, 0.3, 30.0, 1e6] {
            let u = unit_interval(v);
            assert!((0.0..=1.0).contains(&u), "{v} -> {u}");
        }
        for u in [0.0, 0.01, 0.25, 0.5, 0.9, 1.0] {
            let v = from_unit_interval(u);
            assert!(v.is_finite() && (unit_interval(v) - u).abs() < 1e-7, "{u} -> {v}");
        }
    }

    /// Neural Cleanse's MAD anomaly index by hand: L1 norms 1, 5, 6, 7, 8
    /// have median 6 and absolute deviations 5, 1, 0, 1, 2 (median 1), so
    /// MAD = 1.4826 and the index of the norm 1 is 5 / 1.4826 = 3.3725 (a
    /// flag), of 8 it is -2 / 1.4826.
    #[test]
    fn anomaly_index_by_hand() {
        let idx = anomaly_index(&[1.0, 5.0, 6.0, 7.0, 8.0]);
        let want = [5.0, 1.0, 0.0, -1.0, -2.0].map(|d| d / 1.4826);
        for (a, b) in idx.iter().zip(want) {
            assert!((a - b).abs() < 1e-12, "{idx:?}");
        }
        assert!((idx[0] - 3.372_453_8).abs() < 1e-6);
    }

    #[test]
    fn median_and_mad_by_hand() {
        let (m, mad) = median_mad(&[1.0, 2.0, 3.0, 4.0, 100.0]);
        assert_eq!(m, 3.0);
        assert!((mad - 1.4826).abs() < 1e-12);
    }

    #[test]
    fn top_share_of_a_rank_one_cloud_is_one() {
        let rows: Vec<Vec<f32>> = (0..6).map(|i| vec![i as f32, 2.0 * i as f32, 0.0]).collect();
        let refs: Vec<&[f32]> = rows.iter().map(|r| r.as_slice()).collect();
        assert!((top_variance_share(&refs, 3) - 1.0).abs() < 1e-9);
        let iso: Vec<Vec<f32>> = vec![vec![1.0, 0.0], vec![-1.0, 0.0], vec![0.0, 1.0], vec![0.0, -1.0]];
        let refs: Vec<&[f32]> = iso.iter().map(|r| r.as_slice()).collect();
        assert!((top_variance_share(&refs, 2) - 0.5).abs() < 1e-9);
    }
}

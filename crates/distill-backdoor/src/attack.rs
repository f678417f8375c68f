//! The two attacks on distillation.
//!
//! - NAIVEATTACK (BadNets before distillation): a random share of the
//!   training images gets a full-intensity square patch and the target
//!   label; distillation then runs on the poisoned set.
//! - DOORPING: the patch holds a trigger that is re-optimised during
//!   distillation. After every inner loop of network updates, the trigger
//!   is driven to make the penultimate neuron with the largest incoming
//!   weight mass fire at `alpha` times its current value (Adam lr 0.08,
//!   betas (0.9, 0.99), at most 1000 steps, stop when the MSE < 0.5, the
//!   gradient masked to the patch), and the poisoned images are re-stamped.
//!   The neuron's value is read after the ReLU, as the official code reads
//!   it: its forward hook on the first classifier layer keeps that layer's
//!   output tensor, which the in-place `ReLU(inplace=True)` after it then
//!   overwrites ([`NeuronValue`]; the pre-activation is an option).
//!
//! The patch sits where the official code puts it: rows and columns
//! `side - 1 - size .. side - 1`, one pixel in from the bottom-right corner.

use crate::data::{ImageData, Images};
use crate::net::{NetConfig, Params};
use anyhow::Result;
use burn::tensor::Tensor;
use reprolab_core::registry::Validate;
use reprolab_core::rng::{derive_seed, rng};
use serde::{Deserialize, Serialize};

/// Which attack (`--attack none|naive|doorping`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum AttackKind {
    /// No attack: clean distillation.
    #[default]
    None,
    /// NAIVEATTACK: BadNets patches stamped before distillation.
    Naive,
    /// DOORPING: the trigger is re-optimised during distillation.
    Doorping,
}

/// Which value of the selected neuron DOORPING reads (`attack.neuron`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NeuronValue {
    /// The official behaviour: the code hooks the first classifier layer,
    /// whose output the in-place ReLU after it overwrites, so the update
    /// reads (and differentiates through) `relu(z)`; a neuron at or below
    /// 0 on the trigger gives target 0 and loss 0, and the update stops at
    /// once.
    #[default]
    PostRelu,
    /// The pre-activation `z` (what the spec's text says; the earlier
    /// behaviour of this crate), kept as an ablation.
    PreActivation,
}

/// An attack's settings (the official defaults).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttackConfig {
    /// Which attack; the experiment sets it per arm, so a config leaves it
    /// out (default: none).
    #[serde(default)]
    pub kind: AttackKind,
    /// Share of the training images poisoned, in [0, 1]; set per arm from
    /// the experiment's `ratios` (paper: 1% by default; the laptop
    /// experiment: 1% and 5%).
    #[serde(default)]
    pub ratio: f64,
    /// Side of the square patch in pixels (paper: s x s, the laptop
    /// experiment 2x2 on 8x8 digits).
    pub size: usize,
    /// The target class the poisoned images are relabelled to (paper: 0).
    pub target: usize,
    /// DOORPING: the selected neuron is driven to `alpha` x its value at
    /// the update's first step (paper: 10).
    pub alpha: f32,
    /// DOORPING: Adam's learning rate on the trigger (paper: 0.08; betas
    /// (0.9, 0.99) are fixed).
    pub lr: f64,
    /// DOORPING: most Adam steps per trigger update (paper: 1000).
    pub max_steps: usize,
    /// DOORPING: an update stops once the trigger loss is below this
    /// (paper: 0.5).
    pub stop_below: f32,
    /// DOORPING: which value of the neuron the update reads (official:
    /// post-ReLU, the default).
    #[serde(default)]
    pub neuron: NeuronValue,
}

impl Validate for AttackConfig {
    fn validate(&self) -> Result<()> {
        anyhow::ensure!((0.0..=1.0).contains(&self.ratio), "attack.ratio must be in [0, 1], got {}", self.ratio);
        anyhow::ensure!(self.size >= 1, "attack.size must be at least 1");
        anyhow::ensure!(self.alpha.is_finite(), "attack.alpha must be a finite number, got {}", self.alpha);
        anyhow::ensure!(self.lr.is_finite() && self.lr > 0.0, "attack.lr must be a positive number, got {}", self.lr);
        anyhow::ensure!(self.max_steps >= 1, "attack.max_steps must be at least 1");
        anyhow::ensure!(
            self.stop_below.is_finite() && self.stop_below >= 0.0,
            "attack.stop_below must be a non-negative number, got {}",
            self.stop_below
        );
        Ok(())
    }
}

impl AttackKind {
    pub fn name(self) -> &'static str {
        match self {
            AttackKind::None => "clean",
            AttackKind::Naive => "NAIVEATTACK",
            AttackKind::Doorping => "DOORPING",
        }
    }
}

impl AttackConfig {
    pub fn new(kind: AttackKind, ratio: f64) -> Self {
        Self {
            kind,
            ratio,
            size: 2,
            target: 0,
            alpha: 10.0,
            lr: 0.08,
            max_steps: 1000,
            stop_below: 0.5,
            neuron: NeuronValue::PostRelu,
        }
    }
}

/// The patch's mask over one image (1 inside, 0 outside), all channels.
pub fn patch_mask(channels: usize, side: usize, size: usize) -> Result<Vec<f32>> {
    if size == 0 || size + 1 > side {
        reprolab_core::user_bail!("trigger size {size} does not fit a {side}x{side} image (needs 1..={})", side - 1);
    }
    let lo = side - 1 - size;
    let mut mask = vec![0f32; channels * side * side];
    for c in 0..channels {
        for y in lo..side - 1 {
            for x in lo..side - 1 {
                mask[c * side * side + y * side + x] = 1.0;
            }
        }
    }
    Ok(mask)
}

/// Stamping a trigger, both attacks' poisoning of an image:
/// `x <- x (1 - m) + m t`, with `m` the patch mask (1 inside, 0 outside)
/// and `t` the trigger image (NAIVEATTACK: a full-intensity patch;
/// DOORPING: the optimised trigger).
pub fn stamp(image: &mut [f32], mask: &[f32], trigger: &[f32]) {
    for ((v, m), t) in image.iter_mut().zip(mask).zip(trigger) {
        *v = *v * (1.0 - m) + m * t;
    }
}

/// The images a poisoning touches: the first `ratio * n` of a seeded
/// permutation (as the official code draws them).
pub fn poisoned_indices(n: usize, ratio: f64, seed: u64) -> Vec<usize> {
    use rand::seq::SliceRandom;
    let mut idx: Vec<usize> = (0..n).collect();
    idx.shuffle(&mut rng(seed));
    idx.truncate((n as f64 * ratio) as usize);
    idx.sort_unstable();
    idx
}

/// A training set under attack: the poisoned copy, which images carry the
/// trigger, the mask and the current trigger image.
#[derive(Debug, Clone)]
pub struct Poisoned {
    pub train: Images,
    pub indices: Vec<usize>,
    pub mask: Vec<f32>,
    /// A whole image whose patch is the trigger (the background is a zero
    /// intensity, as in the official code's trigger image).
    pub trigger: Vec<f32>,
    pub config: AttackConfig,
}

impl Poisoned {
    /// Poisons `data.train` (a clean copy when the attack is `None`).
    pub fn new(data: &ImageData, cfg: &AttackConfig, seed: u64) -> Result<Self> {
        let train = &data.train;
        if cfg.target >= train.classes {
            reprolab_core::user_bail!("target class {} is not among the {} classes", cfg.target, train.classes);
        }
        if !(0.0..=1.0).contains(&cfg.ratio) {
            reprolab_core::user_bail!("poison ratio {} is not in [0, 1]", cfg.ratio);
        }
        let mask = patch_mask(train.channels, train.side, cfg.size)?;
        let plane = train.side * train.side;
        let background: Vec<f32> = (0..train.image_len()).map(|k| data.normalised(k / plane, 0.0)).collect();
        let trigger = match cfg.kind {
            // BadNets: a full-intensity patch.
            AttackKind::None | AttackKind::Naive => {
                let mut t = background;
                stamp(
                    &mut t,
                    &mask,
                    &(0..train.image_len()).map(|k| data.normalised(k / plane, 1.0)).collect::<Vec<_>>(),
                );
                t
            }
            // DOORPING: random intensities 1..255 in the patch.
            AttackKind::Doorping => {
                use rand::RngExt;
                let mut r = rng(derive_seed(seed, "doorping-trigger"));
                let random: Vec<f32> = (0..train.image_len())
                    .map(|k| data.normalised(k / plane, r.random_range(1..256) as f32 / 255.0))
                    .collect();
                let mut t = background;
                stamp(&mut t, &mask, &random);
                t
            }
        };
        let indices = match cfg.kind {
            AttackKind::None => Vec::new(),
            _ => poisoned_indices(train.len(), cfg.ratio, derive_seed(seed, "poison")),
        };
        let mut out = Self { train: train.clone(), indices, mask, trigger, config: cfg.clone() };
        for &i in &out.indices {
            out.train.labels[i] = cfg.target;
        }
        out.restamp();
        Ok(out)
    }

    /// Writes the current trigger into every poisoned image.
    pub fn restamp(&mut self) {
        let len = self.train.image_len();
        for &i in &self.indices {
            stamp(&mut self.train.values[i * len..(i + 1) * len], &self.mask, &self.trigger);
        }
    }

    /// DOORPING's update against network `params`, then the re-stamp.
    pub fn update_trigger(&mut self, net: &NetConfig, params: &Params) -> TriggerUpdate {
        let update = optimise_trigger(net, params, &mut self.trigger, &self.mask, &self.config);
        self.restamp();
        update
    }

    /// `images` with the trigger stamped on each.
    pub fn triggered(&self, images: &[f32]) -> Vec<f32> {
        let mut out = images.to_vec();
        for chunk in out.chunks_mut(self.mask.len()) {
            stamp(chunk, &self.mask, &self.trigger);
        }
        out
    }
}

/// DOORPING's neuron selection: the row of the penultimate weight matrix
/// `W` (FC1, `hidden x flat`) with the largest incoming weight mass,
/// `j* = argmax_j sum_i |W_ji|` (the first such row on ties).
pub fn select_neuron(net: &NetConfig, params: &Params) -> usize {
    let k = net.penultimate_weight();
    let row_len = params[k].len() / net.hidden;
    (0..net.hidden)
        .map(|j| (j, params[k][j * row_len..(j + 1) * row_len].iter().map(|w| w.abs()).sum::<f32>()))
        .fold((0, f32::MIN), |best, (j, s)| if s > best.1 { (j, s) } else { best })
        .0
}

/// What one trigger optimisation did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TriggerUpdate {
    pub neuron: usize,
    pub steps: usize,
    pub initial_loss: f32,
    pub final_loss: f32,
}

/// DOORPING's trigger loss: the squared error between the selected
/// neuron's value (post-ReLU by default, see [`NeuronValue`]) on the
/// trigger image and its target,
/// `L(t) = (f_j*(t) - alpha f_j*(t_0))^2`, where `f_j*(t_0)` is the
/// neuron's value at the update's first step and `target` is
/// `alpha f_j*(t_0)` (the official code's MSE over the one value).
pub fn trigger_loss(activation: Tensor<1>, target: f32) -> Tensor<1> {
    (activation.sub_scalar(target)).powi_scalar(2).mean()
}

/// DOORPING's trigger update, the official rule: select the neuron `j*`
/// ([`select_neuron`]), then minimise [`trigger_loss`] with Adam on the
/// trigger image with the gradient masked to the patch,
/// `t <- t - Adam(m * dL/dt)`, for at most `max_steps` steps, stopping
/// once `L < stop_below` (at step 0 when the neuron starts at or below 0
/// post-ReLU, or within `sqrt(stop_below) / (alpha - 1)` of 0).
pub fn optimise_trigger(
    net: &NetConfig,
    params: &Params,
    trigger: &mut [f32],
    mask: &[f32],
    cfg: &AttackConfig,
) -> TriggerUpdate {
    let neuron = select_neuron(net, params);
    let device = reprolab_core::device::default_device().autodiff();
    let p = net.tensors(params, &device, false);
    let mut adam = crate::adam::Adam::new(trigger.len(), 0.9, 0.99, 1e-8);
    let mut target = 0f32;
    let mut loss = f32::NAN;
    let mut initial_loss = f32::NAN;
    let mut steps = 0;
    for step in 0..cfg.max_steps {
        let x = net.images(trigger, &device).require_grad();
        let z = net.penultimate(&p, x.clone());
        let z = match cfg.neuron {
            NeuronValue::PostRelu => burn::tensor::activation::relu(z),
            NeuronValue::PreActivation => z,
        };
        let out: Tensor<1> = z.narrow(1, neuron, 1).reshape([1]);
        if step == 0 {
            target = cfg.alpha * out.clone().into_scalar::<f32>();
        }
        let l = trigger_loss(out, target);
        loss = l.clone().into_scalar();
        if step == 0 {
            initial_loss = loss;
        }
        if loss < cfg.stop_below || !loss.is_finite() {
            break;
        }
        let grads = l.backward();
        let g: Vec<f32> = x.grad(&grads).expect("trigger gradient").into_data().try_to_vec().expect("f32");
        steps = step + 1;
        let masked: Vec<f64> = g.iter().zip(mask).map(|(gi, mi)| f64::from(gi * mi)).collect();
        for (t, u) in trigger.iter_mut().zip(adam.updates(&masked, cfg.lr)) {
            *t -= u as f32;
        }
    }
    TriggerUpdate { neuron, steps, initial_loss, final_loss: loss }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_sits_one_pixel_in_from_the_corner() {
        let m = patch_mask(1, 8, 2).unwrap();
        let on: Vec<usize> = (0..64).filter(|&k| m[k] == 1.0).collect();
        assert_eq!(on, vec![5 * 8 + 5, 5 * 8 + 6, 6 * 8 + 5, 6 * 8 + 6]);
        assert!(patch_mask(1, 8, 8).unwrap_err().to_string().contains("does not fit"));
        let mut img = vec![1.0; 64];
        stamp(&mut img, &m, &vec![-2.0; 64]);
        assert_eq!(img.iter().filter(|&&v| v == -2.0).count(), 4);
        assert_eq!(img[63], 1.0);
    }

    #[test]
    fn neuron_with_the_largest_incoming_weight_mass() {
        // 3 channels: padding 1, 4x4 -> pool 2x2, rows of 4.
        let net = NetConfig { channels: 3, side: 4, width: 1, depth: 1, hidden: 3, classes: 2, instance_norm: false };
        let mut p = net.init(0);
        let k = net.penultimate_weight();
        assert_eq!(p[k].len(), 12);
        p[k] = vec![0.1, -0.1, 0.1, 0.1, /* row 1 */ -0.5, 0.5, -0.2, 0.0, /* row 2 */ 0.3, 0.3, 0.3, 0.3];
        // |row| sums 0.4, 1.2, 1.2 -> the first maximum
        assert_eq!(select_neuron(&net, &p), 1);
    }

    #[test]
    fn naive_poisoning_relabels_and_stamps() {
        let data = crate::data::digits(0).unwrap();
        let p = Poisoned::new(&data, &AttackConfig::new(AttackKind::Naive, 0.05), 1).unwrap();
        assert_eq!(p.indices.len(), (data.train.len() as f64 * 0.05) as usize);
        let white = data.normalised(0, 1.0);
        for &i in &p.indices {
            assert_eq!(p.train.labels[i], 0);
            assert_eq!(p.train.image(i)[5 * 8 + 5], white);
        }
        let clean = (0..data.train.len()).find(|i| !p.indices.contains(i)).unwrap();
        assert_eq!(p.train.image(clean), data.train.image(clean));
        assert!(
            Poisoned::new(&data, &AttackConfig { target: 10, ..AttackConfig::new(AttackKind::Naive, 0.05) }, 1)
                .is_err()
        );
    }

    /// The official post-ReLU read: a neuron that starts below 0 gives
    /// target 0 and loss 0, so the update stops at once and leaves the
    /// trigger; the pre-activation variant drives the same neuron (toward
    /// alpha x its negative start).
    #[test]
    fn post_relu_update_stops_at_once_on_an_inactive_neuron() {
        let data = crate::data::digits(0).unwrap();
        let net = NetConfig { channels: 1, side: 8, width: 8, depth: 1, hidden: 16, classes: 10, instance_norm: false };
        let mut params = net.init(4);
        let k = net.penultimate_weight();
        params[k + 1].iter_mut().for_each(|b| *b = -3.0);
        let cfg = |neuron| AttackConfig { max_steps: 20, neuron, ..AttackConfig::new(AttackKind::Doorping, 0.05) };
        let mut post = Poisoned::new(&data, &cfg(NeuronValue::PostRelu), 2).unwrap();
        let before = post.trigger.clone();
        let u = post.update_trigger(&net, &params);
        assert_eq!((u.steps, u.initial_loss), (0, 0.0), "{u:?}");
        assert_eq!(post.trigger, before);
        let mut pre = Poisoned::new(&data, &cfg(NeuronValue::PreActivation), 2).unwrap();
        let u = pre.update_trigger(&net, &params);
        assert!(u.steps > 0 && u.initial_loss > 100.0, "{u:?}");
        assert_ne!(pre.trigger, before);
    }

    /// The optimisation raises the chosen neuron toward alpha x its start
    /// and only touches the patch.
    #[test]
    fn trigger_optimisation_drives_the_neuron_inside_the_patch() {
        let data = crate::data::digits(0).unwrap();
        let net = NetConfig { channels: 1, side: 8, width: 8, depth: 1, hidden: 16, classes: 10, instance_norm: false };
        let mut params = net.init(4);
        // Start the neuron away from zero (near zero the official rule stops
        // at once: (9 f0)^2 < 0.5).
        let k = net.penultimate_weight();
        params[k + 1].iter_mut().for_each(|b| *b = 1.0);
        let mut p = Poisoned::new(&data, &AttackConfig::new(AttackKind::Doorping, 0.05), 2).unwrap();
        let before = p.trigger.clone();
        let u = p.update_trigger(&net, &params);
        assert!(u.steps > 0 && u.final_loss < 0.9 * u.initial_loss, "{u:?}");
        for ((m, t), b) in p.mask.iter().zip(&p.trigger).zip(&before) {
            if *m == 0.0 {
                assert_eq!(t, b);
            }
        }
        assert_ne!(p.trigger, before);
        let i = p.indices[0];
        assert_eq!(p.train.image(i)[5 * 8 + 5], p.trigger[5 * 8 + 5]);
    }
}

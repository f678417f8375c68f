//! Dataset distillation: dataset condensation with gradient matching (DC,
//! Zhao et al. 2021, the method the paper attacks) and distribution
//! matching (DM, Zhao & Bilen 2023, first-order, our third method), both
//! on a possibly poisoned training set, with DOORPING's trigger updates
//! where the attack asks for them.
//!
//! DC as the official code runs it: per iteration a fresh network; per
//! outer step, for every class, match the parameter gradients of a real
//! batch and of the class's synthetic images ([`crate::matching`]) and move
//! the synthetic images along the exact gradient of that distance
//! ([`crate::second_order`]), SGD lr 0.1 momentum 0.5; then `inner_loop`
//! passes of SGD (lr 0.01) on the synthetic set, then (DOORPING) the
//! trigger update and re-stamp.
//!
//! DM as the official DM code (`VICO-UoE/DatasetCondensation`,
//! `main_DM.py`) runs it: per iteration a fresh network and one image
//! update: for every class, the same differentiable Siamese augmentation
//! ([`crate::dsa`]) of a real batch and of the class's synthetic images,
//! then the synthetic images move so that the class's mean embedding (the
//! conv features) matches the real batch's, SGD lr 1 momentum 0.5 (the
//! experiment gives DM the official instance-norm ConvNet). DOORPING on DM
//! (ours: the paper attacks DD and DC): one trigger update per iteration,
//! after the image update, against the iteration's network.

use crate::attack::{AttackKind, Poisoned, TriggerUpdate};
use crate::dsa::{Augmentation, Strategy};
use crate::matching::gradient_matching_distance;
use crate::net::{NetConfig, Params, cross_entropy, gradients};
use crate::second_order::mixed_second_derivative;
use crate::train::{EpochData, Sgd, SgdConfig, epoch};
use anyhow::{Context, Result};
use burn::tensor::Tensor;
use rand::seq::SliceRandom;
use reprolab_core::registry::Validate;
use reprolab_core::rng::{derive_seed, rng, standard_normal};
use reprolab_core::train::MetricsLog;
use serde::{Deserialize, Serialize};

/// Which distillation (`--method dc|dm`, `methods = ["dc", "dm"]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// Dataset condensation with gradient matching (the method the paper attacks).
    Dc,
    /// Distribution matching (ours, beyond the paper).
    Dm,
}

impl Method {
    pub fn name(self) -> &'static str {
        match self {
            Method::Dc => "DC",
            Method::Dm => "DM",
        }
    }
}

/// How the synthetic images start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Init {
    /// Standard normal noise (the official default).
    Noise,
    /// Random real images of the class.
    Real,
}

/// DC's (and DM's) loops and optimisers.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistillConfig {
    /// Synthetic images per class (paper: 1, 10 and 50; the laptop
    /// experiment: 10).
    pub ipc: usize,
    /// DC's iterations, a fresh network each (the laptop experiment: 200;
    /// DM's count is the experiment's `dm_iterations`).
    pub iterations: usize,
    /// DC's outer loop: image updates per iteration (official code: 1, 10,
    /// 50 at 1, 10, 50 images per class; the laptop experiment: 10).
    pub outer_loop: usize,
    /// DC's inner loop: network passes over the synthetic set between image
    /// updates (official code: 1, 50, 10 at 1, 10, 50 images per class; the
    /// laptop experiment: 10).
    pub inner_loop: usize,
    /// How the synthetic images start (official default: noise).
    pub init: Init,
    /// Synthetic-image optimiser of DC (paper: lr 0.1, momentum 0.5).
    pub dc_images: SgdConfig,
    /// Synthetic-image optimiser of DM (the DM paper's lr 1, momentum 0.5;
    /// not in this paper).
    pub dm_images: SgdConfig,
    /// DM's differentiable Siamese augmentation of the real batch and the
    /// synthetic images before matching (official DM:
    /// `"color_crop_cutout_flip_scale_rotate"`; `"none"` for none); DC runs
    /// without, as the paper's DC.
    pub dm_dsa: Strategy,
    /// Inner-loop network optimiser (paper: lr 0.01).
    pub net: SgdConfig,
    /// Real images per class in each matching step (paper: 256).
    pub batch_real: usize,
    /// Batch size of the inner-loop network passes (official code: 256).
    pub batch_train: usize,
}

impl Validate for DistillConfig {
    fn validate(&self) -> Result<()> {
        anyhow::ensure!(self.ipc >= 1, "distill.ipc must be at least 1");
        anyhow::ensure!(self.iterations >= 1, "distill.iterations must be at least 1");
        anyhow::ensure!(self.outer_loop >= 1, "distill.outer_loop must be at least 1");
        anyhow::ensure!(self.inner_loop >= 1, "distill.inner_loop must be at least 1");
        self.dc_images.validate().context("distill.dc_images")?;
        self.dm_images.validate().context("distill.dm_images")?;
        self.net.validate().context("distill.net")?;
        anyhow::ensure!(self.batch_real >= 1, "distill.batch_real must be at least 1");
        anyhow::ensure!(self.batch_train >= 1, "distill.batch_train must be at least 1");
        Ok(())
    }
}

/// A synthetic set and how it was made.
#[derive(Debug, Clone)]
pub struct Distilled {
    /// `[classes * ipc, c, side, side]`, class-major.
    pub images: Vec<f32>,
    pub labels: Vec<usize>,
    /// Matching loss per iteration.
    pub loss: Vec<f64>,
    /// DOORPING: the trigger image after each iteration.
    pub triggers: Vec<Vec<f32>>,
    pub trigger_updates: Vec<TriggerUpdate>,
    /// DOORPING: trigger updates in each iteration (DC: `outer_loop - 1`,
    /// DM: 1; 0 without DOORPING).
    pub updates_per_iteration: Vec<usize>,
}

/// Distils `poisoned.train` into `cfg.ipc` images per class; DOORPING
/// updates `poisoned`'s trigger on the way. `log` (the `distill` command's
/// `metrics.jsonl`; the experiment passes None, and logging only reads
/// values, so its runs are the same either way) gets, at each
/// synthetic-image update `step` (DC: `iteration * outer_loop + outer step
/// + 1`; DM: the iteration + 1), the class-mean matching `loss`; at each
/// iteration's first update the images' `lr` and DC's inner-loop `net/lr`;
/// and after each DOORPING trigger update `trigger/loss` (its final trigger
/// loss), `trigger/initial_loss` and `trigger/steps` (Adam steps taken).
pub fn distill(
    method: Method,
    net: &NetConfig,
    cfg: &DistillConfig,
    poisoned: &mut Poisoned,
    seed: u64,
    progress: &indicatif::ProgressBar,
    log: Option<&mut MetricsLog>,
) -> Result<Distilled> {
    distill_with(method, net, cfg, poisoned, seed, progress, log, None)
}

/// Where a distillation stood after an iteration: everything the next
/// iterations read (each iteration's network is fresh from its own seed,
/// so nothing of it needs keeping).
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    /// Iterations done.
    pub iterations: usize,
    pub images: Vec<f32>,
    /// The synthetic-image optimiser's momentum buffer (`None` before its first step).
    pub momentum: Option<Vec<f32>>,
    /// The sampling stream's position (real batches, augmentations), in 32-bit words.
    pub rng_word_pos: u128,
    /// The trigger image (DOORPING updates it; the poisoned images carry it).
    pub trigger: Vec<f32>,
    pub loss: Vec<f64>,
    pub triggers: Vec<Vec<f32>>,
    pub trigger_updates: Vec<SavedUpdate>,
    pub updates_per_iteration: Vec<usize>,
}

/// A [`TriggerUpdate`] as a checkpoint stores it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SavedUpdate {
    pub neuron: usize,
    pub steps: usize,
    pub initial_loss: f32,
    pub final_loss: f32,
}

impl From<TriggerUpdate> for SavedUpdate {
    fn from(u: TriggerUpdate) -> Self {
        Self { neuron: u.neuron, steps: u.steps, initial_loss: u.initial_loss, final_loss: u.final_loss }
    }
}

impl From<SavedUpdate> for TriggerUpdate {
    fn from(u: SavedUpdate) -> Self {
        Self { neuron: u.neuron, steps: u.steps, initial_loss: u.initial_loss, final_loss: u.final_loss }
    }
}

/// Checkpoints a distillation after every iteration and hands back the
/// last one (the `distill` command; the experiment passes none).
pub trait IterationHook {
    /// The progress to continue from; `None`: start afresh.
    fn restore(&mut self) -> Result<Option<Progress>>;
    /// Saves the progress after an iteration.
    fn save(&mut self, progress: &Progress) -> Result<()>;
}

/// [`distill`], checkpointed after every iteration through `hook` and
/// continued from its last checkpoint when it has one: the synthetic
/// images, their optimiser's momentum, the sampling stream's position, the
/// trigger (re-stamped into the poisoned images) and the per-iteration
/// records are restored, so the resumed distillation equals the
/// uninterrupted one. With `REPROLAB_FAULT_NAN_STEP=k` the real batches of
/// image update k (the metrics' step) are NaN
/// ([`reprolab_core::train::fault`]), and distillation stops there with
/// an error naming update k.
#[allow(clippy::too_many_arguments)]
pub fn distill_with(
    method: Method,
    net: &NetConfig,
    cfg: &DistillConfig,
    poisoned: &mut Poisoned,
    seed: u64,
    progress: &indicatif::ProgressBar,
    mut log: Option<&mut MetricsLog>,
    mut hook: Option<&mut dyn IterationHook>,
) -> Result<Distilled> {
    net.validate().map_err(|e| reprolab_core::user_error(format!("{e:#}")))?;
    let classes = poisoned.train.classes;
    let len = net.image_len();
    if poisoned.train.image_len() != len || classes != net.classes {
        reprolab_core::user_bail!("the network expects {len} values and {} classes per image", net.classes);
    }
    let by_class = poisoned.train.by_class();
    if let Some(c) = by_class.iter().position(Vec::is_empty) {
        reprolab_core::user_bail!("class {c} has no training images");
    }
    let mut r = rng(derive_seed(seed, "distill"));
    let labels: Vec<usize> = (0..classes).flat_map(|c| std::iter::repeat_n(c, cfg.ipc)).collect();
    let mut images: Vec<f32> = match cfg.init {
        Init::Noise => (0..labels.len() * len).map(|_| standard_normal(&mut r)).collect(),
        Init::Real => (0..classes)
            .flat_map(|c| {
                let mut idx = by_class[c].clone();
                idx.shuffle(&mut r);
                (0..cfg.ipc).flat_map(|k| poisoned.train.image(idx[k % idx.len()]).to_vec()).collect::<Vec<_>>()
            })
            .collect(),
    };
    let mut image_opt = Sgd::new(match method {
        Method::Dc => cfg.dc_images,
        Method::Dm => cfg.dm_images,
    });
    let mut out = Distilled {
        images: Vec::new(),
        labels: labels.clone(),
        loss: Vec::new(),
        triggers: Vec::new(),
        trigger_updates: Vec::new(),
        updates_per_iteration: vec![0; cfg.iterations],
    };
    let doorping = poisoned.config.kind == AttackKind::Doorping;
    let mut start = 0;
    if let Some(saved) = hook.as_deref_mut().map(|h| h.restore()).transpose()?.flatten() {
        if saved.images.len() != images.len() || saved.trigger.len() != poisoned.trigger.len() {
            reprolab_core::user_bail!("the checkpoint holds another number of synthetic values than the settings give");
        }
        start = saved.iterations.min(cfg.iterations);
        images = saved.images;
        image_opt = Sgd::with_buffers(image_opt.cfg, saved.momentum.map(|m| vec![m]));
        r.set_word_pos(saved.rng_word_pos);
        if doorping {
            poisoned.trigger = saved.trigger;
            poisoned.restamp();
        }
        out.loss = saved.loss;
        out.triggers = saved.triggers;
        out.trigger_updates = saved.trigger_updates.into_iter().map(TriggerUpdate::from).collect();
        out.updates_per_iteration[..start].copy_from_slice(&saved.updates_per_iteration[..start]);
        progress.inc(start as u64);
    }
    for it in start..cfg.iterations {
        let mut params = net.init(derive_seed(seed, &format!("net-{it}")));
        let mut net_opt = Sgd::new(cfg.net);
        let mut loss_sum = 0.0;
        let outer = match method {
            Method::Dc => cfg.outer_loop,
            Method::Dm => 1,
        };
        for ol in 0..outer {
            let update = it * outer + ol + 1;
            if ol == 0
                && let Some(l) = log.as_deref_mut()
            {
                l.log(update, "lr", image_opt.cfg.lr)?;
                if method == Method::Dc {
                    l.log(update, "net/lr", cfg.net.lr)?;
                }
            }
            let mut update_loss = 0.0;
            let mut grad = vec![0f32; images.len()];
            for c in 0..classes {
                let mut idx = by_class[c].clone();
                idx.shuffle(&mut r);
                idx.truncate(cfg.batch_real);
                let mut real = poisoned.train.gather(&idx);
                if reprolab_core::train::fault::is_poisoned(update) {
                    real.iter_mut().for_each(|v| *v = f32::NAN);
                }
                let syn = &images[c * cfg.ipc * len..(c + 1) * cfg.ipc * len];
                let (loss, g) = match method {
                    Method::Dc => dc_class_step(net, &params, &real, syn, c),
                    Method::Dm => {
                        // One Siamese draw per class step, as the official DM.
                        let aug = Augmentation::draw(&cfg.dm_dsa, net.channels, net.side, &mut r);
                        let (loss, g) = dm_class_step(net, &params, &aug.apply(&real), &aug.apply(syn));
                        (loss, aug.transpose(&g))
                    }
                };
                loss_sum += loss;
                update_loss += loss;
                grad[c * cfg.ipc * len..(c + 1) * cfg.ipc * len].copy_from_slice(&g);
            }
            if let Some(l) = log.as_deref_mut() {
                l.log(update, "loss", update_loss / classes as f64)?;
            }
            reprolab_core::train::check_finite(update_loss as f32, update, "distillation, image update")?;
            let mut as_params = vec![std::mem::take(&mut images)];
            image_opt.step(&mut as_params, &[grad], image_opt.cfg.lr);
            images = as_params.pop().expect("one tensor");
            if method == Method::Dc && ol + 1 == outer {
                break;
            }
            if method == Method::Dc {
                for il in 0..cfg.inner_loop {
                    let s = derive_seed(seed, &format!("inner-{it}-{ol}-{il}"));
                    let data = EpochData { x: &images, y: &labels, batch: cfg.batch_train, seed: s };
                    epoch(net, &mut params, &mut net_opt, cfg.net.lr, data)?;
                }
            }
            // DC: after each inner loop but the last outer step's (the
            // official placement); DM: once per iteration, after its one
            // image update, against the iteration's network.
            if doorping {
                let u = poisoned.update_trigger(net, &params);
                log_trigger(log.as_deref_mut(), update, &u)?;
                out.trigger_updates.push(u);
                out.updates_per_iteration[it] += 1;
            }
        }
        if doorping {
            out.triggers.push(poisoned.trigger.clone());
        }
        out.loss.push(loss_sum / (classes * outer) as f64);
        progress.inc(1);
        if let Some(h) = hook.as_deref_mut() {
            h.save(&Progress {
                iterations: it + 1,
                images: images.clone(),
                momentum: image_opt.buffers().map(|b| b[0].clone()),
                rng_word_pos: r.get_word_pos(),
                trigger: poisoned.trigger.clone(),
                loss: out.loss.clone(),
                triggers: out.triggers.clone(),
                trigger_updates: out.trigger_updates.iter().copied().map(SavedUpdate::from).collect(),
                updates_per_iteration: out.updates_per_iteration[..=it].to_vec(),
            })?;
        }
    }
    out.images = images;
    Ok(out)
}

fn log_trigger(log: Option<&mut MetricsLog>, step: usize, u: &TriggerUpdate) -> Result<()> {
    match log {
        Some(l) => l.log_all(
            step,
            &[
                ("trigger/loss", f64::from(u.final_loss)),
                ("trigger/initial_loss", f64::from(u.initial_loss)),
                ("trigger/steps", u.steps as f64),
            ],
        ),
        None => Ok(()),
    }
}

/// DC for one class `c`: the class's term of DC's loss,
/// `L_c = D(grad_theta l(T_c; theta), grad_theta l(S_c; theta))` with `D`
/// the [`gradient_matching_distance`], `l` the cross-entropy against `c`,
/// `T_c` the real batch and `S_c` the class's synthetic images, and its
/// gradient with respect to `S_c`, `(d g_S / d S_c)^T dD/dg_S`, by the
/// [`mixed_second_derivative`].
pub fn dc_class_step(net: &NetConfig, params: &Params, real: &[f32], syn: &[f32], class: usize) -> (f64, Vec<f32>) {
    let ce = |n: usize| {
        let labels = vec![class; n];
        move |p: &[burn::tensor::Tensor<1>], x: burn::tensor::Tensor<4>| cross_entropy(net.logits(p, x), &labels)
    };
    let n_syn = syn.len() / net.image_len();
    let g_real = gradients(net, params, real, false, ce(real.len() / net.image_len())).params;
    let g_syn = gradients(net, params, syn, false, ce(n_syn)).params;
    let (d, v) = gradient_matching_distance(&net.layout(), &g_real, &g_syn);
    let grad = mixed_second_derivative(params, &v, |p| gradients(net, p, syn, true, ce(n_syn)).input);
    (d, grad)
}

/// DM's distribution-matching loss for one class: the squared distance
/// between the mean embeddings (the conv features `psi`) of the synthetic
/// images and of a real batch,
/// `L_c = | (1/|S_c|) sum_{s in S_c} psi(s) - (1/|T_c|) sum_{x in T_c} psi(x) |^2`;
/// `syn_mean` and `real_mean` are the two means, `[1, features]`.
pub fn distribution_matching_loss(syn_mean: Tensor<2>, real_mean: Tensor<2>) -> Tensor<1> {
    (syn_mean - real_mean).powi_scalar(2).sum()
}

/// DM for one class: [`distribution_matching_loss`] and its gradient with
/// respect to the synthetic images.
pub fn dm_class_step(net: &NetConfig, params: &Params, real: &[f32], syn: &[f32]) -> (f64, Vec<f32>) {
    let device = reprolab_core::device::default_device();
    let p = net.tensors(params, &device, false);
    let real_mean = net.embed(&p, net.images(real, &device)).mean_dim(0);
    let dims = real_mean.dims();
    let real_mean: Vec<f32> = real_mean.into_data().try_to_vec().expect("f32");
    let g = gradients(net, params, syn, true, |p, x| {
        let target = Tensor::<2>::from_data(burn::tensor::TensorData::new(real_mean, dims), &x.device());
        distribution_matching_loss(net.embed(p, x).mean_dim(0), target)
    });
    (f64::from(g.loss), g.input)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attack::AttackConfig;

    /// DOORPING's trigger updates per iteration: DC updates after every
    /// inner loop but the last outer step's (`outer_loop - 1`, the official
    /// placement); DM once per iteration (it was twice against the same
    /// network before).
    #[test]
    fn trigger_updates_per_iteration_dc_and_dm() {
        let data = crate::data::digits(0).unwrap();
        let net = NetConfig { channels: 1, side: 8, width: 4, depth: 1, hidden: 8, classes: 10, instance_norm: false };
        let cfg = DistillConfig {
            ipc: 1,
            iterations: 2,
            outer_loop: 3,
            inner_loop: 1,
            init: Init::Noise,
            dc_images: SgdConfig { lr: 0.1, momentum: 0.5, weight_decay: 0.0 },
            dm_images: SgdConfig { lr: 1.0, momentum: 0.5, weight_decay: 0.0 },
            dm_dsa: Strategy::try_from(crate::dsa::OFFICIAL.to_string()).unwrap(),
            net: SgdConfig { lr: 0.01, momentum: 0.0, weight_decay: 0.0 },
            batch_real: 16,
            batch_train: 16,
        };
        let attack = AttackConfig { max_steps: 2, ..AttackConfig::new(AttackKind::Doorping, 0.05) };
        let bar = indicatif::ProgressBar::hidden();
        for (method, per_iteration) in [(Method::Dc, 2), (Method::Dm, 1)] {
            let mut poisoned = Poisoned::new(&data, &attack, 0).unwrap();
            let out = distill(method, &net, &cfg, &mut poisoned, 0, &bar, None).unwrap();
            assert_eq!(out.updates_per_iteration, vec![per_iteration; 2], "{method:?}");
            assert_eq!(out.trigger_updates.len(), 2 * per_iteration, "{method:?}");
            assert_eq!(out.triggers.len(), 2);
            assert!(out.images.iter().all(|v| v.is_finite()));
        }
        // Without DOORPING no update runs.
        let mut clean = Poisoned::new(&data, &AttackConfig::new(AttackKind::None, 0.0), 0).unwrap();
        let out = distill(Method::Dm, &net, &cfg, &mut clean, 0, &bar, None).unwrap();
        assert_eq!((out.updates_per_iteration, out.trigger_updates.len()), (vec![0, 0], 0));
    }

    /// The DC gradient with respect to the synthetic images (through the
    /// finite-difference identity) against a central difference of the
    /// whole matching loss, on a tiny ConvNet.
    #[test]
    fn dc_gradient_matches_a_finite_difference_of_the_matching_loss() {
        let net = NetConfig { channels: 1, side: 4, width: 3, depth: 1, hidden: 5, classes: 3, instance_norm: false };
        let params = net.init(7);
        let real: Vec<f32> = (0..4 * 16).map(|i| ((i * 13 % 17) as f32 / 8.0) - 1.0).collect();
        let syn: Vec<f32> = (0..2 * 16).map(|i| ((i * 5 % 11) as f32 / 5.0) - 1.0).collect();
        let (_, grad) = dc_class_step(&net, &params, &real, &syn, 1);
        let matching = |s: &[f32]| dc_class_step(&net, &params, &real, s, 1).0;
        let mut worst = 0f64;
        let scale = grad.iter().map(|g| f64::from(*g).abs()).fold(0.0, f64::max);
        for j in [0, 5, 10, 17, 31] {
            let h = 1e-2f32;
            let (mut plus, mut minus) = (syn.clone(), syn.clone());
            plus[j] += h;
            minus[j] -= h;
            let fd = (matching(&plus) - matching(&minus)) / f64::from(2.0 * h);
            worst = worst.max((fd - f64::from(grad[j])).abs() / scale);
        }
        assert!(worst < 2e-2, "largest error {worst} relative to the largest gradient {scale}");
    }
}

//! Behaviour densities for the regulariser: the mixture density network
//! fitted by maximum likelihood ([`fit_mdn`]), and the oracle density of the
//! point-mass suite ([`Oracle`]), both as a [`Mixture`] per batch state.

use crate::dataset::{Batch, Dataset, Normaliser, Prepared};
use crate::env::point::{Layout, truncated_normal_log_pdf};
use crate::nets::{Mdn, Mixture};
use crate::td3::{BehaviourTerms, state_weights};
use crate::train::log_every;
use crate::validate::{positive, positive_widths};
use anyhow::Result;
use burn::module::Module;
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor, TensorData};
use rand::seq::SliceRandom;
use reprolab_core::registry::Validate;
use reprolab_core::rng::{derive_seed, rng};
use reprolab_core::train::{MetricsLog, OptimizerConfig, check_finite};
use serde::{Deserialize, Serialize};

/// The behaviour model's hyper-parameters: a state-conditioned mixture of
/// `components` diagonal Gaussians, fitted by maximum likelihood. The paper
/// states the model (a K-Gaussian mixture fitted to the dataset) but none of
/// these values; ours are sized like the networks of TD3+BC.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MdnConfig {
    /// Mixture components K (paper: not stated; ours 5).
    pub components: usize,
    /// Hidden layer widths of the mixture density network (paper: not stated; ours 256, 256).
    pub hidden: Vec<usize>,
    /// Adam steps of the maximum-likelihood fit (paper: not stated).
    pub steps: usize,
    /// Transitions per fitting step (paper: not stated; ours 256).
    pub batch: usize,
    /// Adam learning rate of the fit (paper: not stated; ours 1e-3).
    pub lr: f64,
    /// Share of rows held out for the validation log-likelihood (paper: not
    /// stated; ours 0.1).
    pub validation: f64,
}

impl Default for MdnConfig {
    fn default() -> Self {
        Self { components: 5, hidden: vec![256, 256], steps: 10_000, batch: 256, lr: 1e-3, validation: 0.1 }
    }
}

impl Validate for MdnConfig {
    /// Field names are relative (`steps`); the experiment's config calls
    /// them `mdn.steps`.
    fn validate(&self) -> Result<()> {
        anyhow::ensure!(self.components >= 1, "components must be at least 1, got {}", self.components);
        positive_widths("hidden", &self.hidden)?;
        anyhow::ensure!(self.steps >= 1, "steps must be at least 1, got {}", self.steps);
        anyhow::ensure!(self.batch >= 1, "batch must be at least 1, got {}", self.batch);
        positive("lr", self.lr)?;
        // 0 would leave no held-out rows, and the log-likelihood NaN.
        anyhow::ensure!(
            self.validation > 0.0 && self.validation < 1.0,
            "validation must be in (0, 1), got {}",
            self.validation
        );
        Ok(())
    }
}

/// A fitted behaviour model and its held-out mean log-likelihood (nats per
/// transition, in the [-1, 1]-scaled action space).
pub struct FittedMdn {
    /// On the autodiff device with gradients off: the actor's loss
    /// differentiates `log beta` in the action only.
    pub mdn: Mdn,
    pub validation_log_likelihood: f64,
}

/// Fits the behaviour model of a dataset: states normalised by its
/// [`Normaliser`], actions divided by `action_scale` (as the learner sees them).
pub fn fit_behaviour(
    data: &Dataset,
    cfg: &MdnConfig,
    action_scale: &[f32],
    seed: u64,
    device: &Device,
    log: Option<&mut MetricsLog>,
) -> Result<FittedMdn> {
    fit_mdn(&Prepared::new(data, &Normaliser::fit(data), action_scale), cfg, seed, device, log)
}

/// Fits the MDN by maximum likelihood with Adam on minibatches (the
/// initialisation, the held-out split and the minibatches all from `seed`),
/// writing to
/// `log` (the `train` command's `metrics.jsonl`; the experiments pass None
/// and fit the same model) `behaviour/lr` at step 0, the minibatch negative
/// log-likelihood `behaviour/loss` every [`log_every`] steps and
/// `behaviour/validation_log_likelihood` after the last.
pub fn fit_mdn(
    data: &Prepared,
    cfg: &MdnConfig,
    seed: u64,
    device: &Device,
    mut log: Option<&mut MetricsLog>,
) -> Result<FittedMdn> {
    let mut r = rng(derive_seed(seed, "mdn"));
    let mut rows: Vec<usize> = (0..data.len()).collect();
    rows.shuffle(&mut r);
    let n_val = ((data.len() as f64 * cfg.validation) as usize).min(data.len().saturating_sub(1));
    let (val, train) = rows.split_at(n_val);
    // The initialisation draws from burn's global generator: start it from
    // the seed here, so the model does not depend on what drew from it before
    // (the arms a unit trained earlier, another command's work).
    reprolab_core::rng::seed_burn(derive_seed(seed, "mdn-init"));
    let mut mdn = Mdn::new(data.obs_dim, data.act_dim, cfg.components, &cfg.hidden, device);
    let mut opt = OptimizerConfig::adam(cfg.lr).build();
    use rand::RngExt;
    let every = log_every(cfg.steps);
    if let Some(l) = log.as_deref_mut() {
        l.log(0, "behaviour/lr", cfg.lr)?;
    }
    for step in 0..cfg.steps {
        let pick: Vec<usize> = (0..cfg.batch).map(|_| train[r.random_range(0..train.len())]).collect();
        let b = data.batch(pick, device);
        let nll = -mdn.mixture(b.obs).log_density(b.actions).mean();
        if step % 500 == 0 {
            check_finite(nll.clone().into_scalar::<f32>(), step, "behaviour model negative log-likelihood")?;
        }
        if let Some(l) = log.as_deref_mut()
            && ((step + 1) % every == 0 || step + 1 == cfg.steps)
        {
            l.log(step + 1, "behaviour/loss", f64::from(nll.clone().into_scalar::<f32>()))?;
        }
        let grads = GradientsParams::from_grads(nll.backward(), &mdn);
        mdn = opt.step(cfg.lr, mdn, grads);
    }
    let validation_log_likelihood = if val.is_empty() {
        f64::NAN
    } else {
        let inner = mdn.valid();
        let mut total = 0.0;
        for chunk in val.chunks(4096) {
            let b = data.batch(chunk.to_vec(), &device.clone().inner());
            total += inner.mixture(b.obs).log_density(b.actions).sum().into_scalar::<f32>() as f64;
        }
        total / val.len() as f64
    };
    if let Some(l) = log {
        l.log(cfg.steps, "behaviour/validation_log_likelihood", validation_log_likelihood)?;
    }
    Ok(FittedMdn { mdn: mdn.no_grad(), validation_log_likelihood })
}

impl FittedMdn {
    /// The mixture at the batch's states and `w(s)` from its coverage.
    pub fn terms(&self, b: &Batch) -> BehaviourTerms {
        let mixture = self.mdn.mixture(b.obs.clone());
        let mixture = Mixture {
            log_weights: mixture.log_weights.detach(),
            means: mixture.means.detach(),
            log_stds: mixture.log_stds.detach(),
        };
        let weight = state_weights(mixture.coverage());
        BehaviourTerms { mixture: Some(mixture), weight: Some(weight) }
    }
}

/// The true behaviour density of a point-mass dataset: the scripted
/// policies' exact truncated-Gaussian densities, mixed with the share of
/// each policy among the dataset's states in the same 0.25 x 0.25 cell
/// (3 x 3 neighbourhood): the posterior probability that a state was
/// visited by each policy. Only the mixture weights are estimated.
pub struct Oracle {
    layout: Layout,
    /// Raw (unnormalised) states of the dataset rows.
    states: Vec<[f32; 2]>,
    /// `share[cell][policy]`.
    share: Vec<Vec<f64>>,
}

const CELLS: usize = 40;

fn cell(s: [f32; 2]) -> (usize, usize) {
    let c = |v: f32| ((v / 10.0 * CELLS as f32) as usize).min(CELLS - 1);
    (c(s[0]), c(s[1]))
}

impl Oracle {
    pub fn new(layout: &Layout, states: Vec<[f32; 2]>, sources: &[u16]) -> Self {
        let m = layout.behaviours.len();
        let mut counts = vec![vec![0f64; m]; CELLS * CELLS];
        for (s, &src) in states.iter().zip(sources) {
            let (i, j) = cell(*s);
            counts[i * CELLS + j][src as usize] += 1.0;
        }
        let totals: Vec<f64> = layout
            .behaviours
            .iter()
            .enumerate()
            .map(|(k, _)| sources.iter().filter(|&&s| s as usize == k).count() as f64)
            .collect();
        let n: f64 = totals.iter().sum();
        let share = (0..CELLS * CELLS)
            .map(|c| {
                let (i, j) = ((c / CELLS) as i64, (c % CELLS) as i64);
                let mut acc = vec![0f64; m];
                for di in -1..=1 {
                    for dj in -1..=1 {
                        let (a, b) = (i + di, j + dj);
                        if (0..CELLS as i64).contains(&a) && (0..CELLS as i64).contains(&b) {
                            for k in 0..m {
                                acc[k] += counts[(a as usize) * CELLS + b as usize][k];
                            }
                        }
                    }
                }
                let t: f64 = acc.iter().sum();
                if t > 0.0 { acc.iter().map(|v| v / t).collect() } else { totals.iter().map(|v| v / n).collect() }
            })
            .collect();
        Self { layout: layout.clone(), states, share }
    }

    /// Policy shares at `s`.
    pub fn shares(&self, s: [f32; 2]) -> &[f64] {
        let (i, j) = cell(s);
        &self.share[i * CELLS + j]
    }

    /// The true behaviour's log-density of `a` at `s`: the scripted
    /// policies' truncated-Gaussian densities mixed with the shares at `s`
    /// (a policy with no data near `s` has share 0 and adds nothing).
    pub fn log_density(&self, s: [f32; 2], a: [f32; 2]) -> f64 {
        self.layout.mixture_log_density(self.shares(s), s, a)
    }

    /// The 3-sigma level of the true behaviour density at `s`, as a
    /// log-density: the level below which the behaviour mixture puts the
    /// mass [`ood_tail_mass`] (`e^{-9/2}`, what a 2-D Gaussian puts beyond
    /// Mahalanobis distance 3). For one untruncated Gaussian policy it is
    /// the density on its 3-sigma circle; for a mixture it bounds the
    /// highest-density region of the same mass, so a second mode counts
    /// only as much as its share.
    ///
    /// Computed by quadrature, deterministically: each policy with a
    /// positive share is cut into [`OOD_RINGS`] rings of width
    /// [`OOD_RING_WIDTH`] sigma (out to 6 sigma) and [`OOD_ANGLES`] sectors,
    /// each a point at its centre carrying the ring's exact Gaussian mass
    /// (`e^{-r0^2/2} - e^{-r1^2/2}`) over the sectors, times the share;
    /// points outside the action box are dropped and the rest renormalised
    /// (the truncation). The points sorted by their mixture density give
    /// the mass below each level (each point's mass counted half below its
    /// own density), and the level is interpolated where it crosses the
    /// tail mass.
    pub fn ood_log_level(&self, s: [f32; 2]) -> f64 {
        let parts = self.parts_at(s);
        let mut points: Vec<(f64, f64)> = Vec::with_capacity(parts.len() * OOD_RINGS * OOD_ANGLES);
        for p in &parts {
            let mut own = Vec::with_capacity(OOD_RINGS * OOD_ANGLES);
            for i in 0..OOD_RINGS {
                let (r0, r1) = (i as f64 * OOD_RING_WIDTH, (i + 1) as f64 * OOD_RING_WIDTH);
                let mass = ((-0.5 * r0 * r0).exp() - (-0.5 * r1 * r1).exp()) / OOD_ANGLES as f64;
                let r = 0.5 * (r0 + r1) * p.sigma;
                for j in 0..OOD_ANGLES {
                    let theta = (j as f64 + 0.5) / OOD_ANGLES as f64 * std::f64::consts::TAU;
                    let a = [p.mean[0] + r * theta.cos(), p.mean[1] + r * theta.sin()];
                    if a.iter().all(|x| (-1.0..=1.0).contains(x)) {
                        own.push((a, mass));
                    }
                }
            }
            let inside: f64 = own.iter().map(|(_, m)| m).sum();
            let share = p.log_share.exp();
            points.extend(own.into_iter().map(|(a, m)| (log_density_of(&parts, a), share * m / inside)));
        }
        points.sort_by(|a, b| a.0.total_cmp(&b.0));
        let tail = ood_tail_mass();
        // (level, mass below it) with each point's own mass half counted.
        let mut below = 0.0;
        let mut prev: Option<(f64, f64)> = None;
        for &(level, w) in &points {
            let here = below + 0.5 * w;
            if here >= tail {
                return match prev {
                    Some((l0, f0)) if here > f0 => l0 + (tail - f0) / (here - f0) * (level - l0),
                    _ => level,
                };
            }
            prev = Some((level, here));
            below += w;
        }
        points.last().map_or(f64::NEG_INFINITY, |p| p.0)
    }

    /// Whether `a` is out of distribution at `s`: its true behaviour
    /// density is below the 3-sigma level [`Oracle::ood_log_level`].
    pub fn is_ood(&self, s: [f32; 2], a: [f32; 2]) -> bool {
        self.log_density(s, a) < self.ood_log_level(s)
    }

    /// The policies with a positive share at `s`, ready to evaluate.
    fn parts_at(&self, s: [f32; 2]) -> Vec<PolicyAt> {
        self.layout
            .behaviours
            .iter()
            .zip(self.shares(s))
            .filter(|(_, share)| **share > 0.0)
            .map(|(p, share)| {
                let m = p.mean(s);
                let mean = [m[0] as f64, m[1] as f64];
                let sigma = (p.sigma as f64).max(1e-6);
                // The truncated normal's log-density at its mean, minus the
                // quadratic term: log N(m; m, sigma) - log mass, per dim.
                let log_norm = (0..2).map(|d| truncated_normal_log_pdf(mean[d], mean[d], sigma)).sum();
                PolicyAt { log_share: share.ln(), mean, sigma, log_norm }
            })
            .collect()
    }
}

/// The behaviour mass beyond the 3-sigma contour: `P(chi2_2 > 9) = e^{-9/2}`.
pub fn ood_tail_mass() -> f64 {
    (-4.5f64).exp()
}

/// Rings per policy in [`Oracle::ood_log_level`], each [`OOD_RING_WIDTH`]
/// sigma wide: out to 6 sigma, beyond which a Gaussian has mass `e^{-18}`.
pub const OOD_RINGS: usize = 120;
/// Width of a ring, in sigma.
pub const OOD_RING_WIDTH: f64 = 0.05;
/// Sectors per ring in [`Oracle::ood_log_level`].
pub const OOD_ANGLES: usize = 36;

/// One scripted policy at one state: what its truncated-Gaussian density
/// needs, with its share in the mixture.
struct PolicyAt {
    log_share: f64,
    mean: [f64; 2],
    sigma: f64,
    log_norm: f64,
}

/// `log sum_k share_k TN_k(a)` for an action inside the box (the same
/// value as [`Layout::mixture_log_density`], without its per-call CDFs).
fn log_density_of(parts: &[PolicyAt], a: [f64; 2]) -> f64 {
    let terms: Vec<f64> = parts
        .iter()
        .map(|p| {
            let z2: f64 = (0..2).map(|d| ((a[d] - p.mean[d]) / p.sigma).powi(2)).sum();
            p.log_share + p.log_norm - 0.5 * z2
        })
        .collect();
    crate::env::point::log_sum_exp(&terms)
}

impl Oracle {
    /// The mixture at the given dataset rows: component k is policy k with
    /// its truncation mass folded into the log-weight (the density is exact
    /// inside the action box, where tanh actions live).
    pub fn mixture(&self, rows: &[usize], device: &Device) -> Mixture {
        let (n, k) = (rows.len(), self.layout.behaviours.len());
        let (mut lw, mut mu, mut ls) =
            (Vec::with_capacity(n * k), Vec::with_capacity(n * k * 2), Vec::with_capacity(n * k * 2));
        for &row in rows {
            let s = self.states[row];
            let shares = self.shares(s);
            for (p, share) in self.layout.behaviours.iter().zip(shares) {
                let m = p.mean(s);
                let sigma = p.sigma as f64;
                // log N(m; m, sigma) - log TN(m; m, sigma) = log(mass) per dim.
                let log_mass: f64 = (0..2)
                    .map(|d| {
                        let plain = -0.5 * (2.0 * std::f64::consts::PI).ln() - sigma.ln();
                        plain - truncated_normal_log_pdf(m[d] as f64, m[d] as f64, sigma)
                    })
                    .sum();
                lw.push((share.max(1e-12).ln() - log_mass) as f32);
                mu.extend_from_slice(&m);
                ls.extend_from_slice(&[sigma.ln() as f32; 2]);
            }
        }
        Mixture {
            log_weights: Tensor::from_data(TensorData::new(lw, [n, k]), device),
            means: Tensor::from_data(TensorData::new(mu, [n, k, 2]), device),
            log_stds: Tensor::from_data(TensorData::new(ls, [n, k, 2]), device),
        }
    }

    pub fn terms(&self, b: &Batch) -> BehaviourTerms {
        let mixture = self.mixture(&b.rows, &b.obs.device());
        let weight = state_weights(mixture.coverage());
        BehaviourTerms { mixture: Some(mixture), weight: Some(weight) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::collect_point;
    use crate::env::Step;

    /// The oracle mixture's density equals the shares-weighted sum of the
    /// scripted policies' exact truncated-Gaussian densities.
    #[test]
    fn oracle_density_is_the_share_weighted_policy_density() {
        let layout = Layout::obstacle(5.0);
        let data = collect_point(&layout, 0);
        let states: Vec<[f32; 2]> = (0..data.len()).map(|i| [data.obs(i)[0], data.obs(i)[1]]).collect();
        let oracle = Oracle::new(&layout, states.clone(), &data.source);
        let dev = reprolab_core::device::default_device();
        let row = 0; // an upper-route start state: both routes start there
        let s = states[row];
        let shares = oracle.shares(s).to_vec();
        assert!(shares.iter().all(|p| *p > 0.2), "{shares:?}");
        assert!((shares.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        for a in [[0.6f32, 0.4], [0.6, -0.4], [0.0, 0.0]] {
            let m = oracle.mixture(&[row], &dev);
            let got =
                m.log_density(Tensor::from_data(TensorData::new(a.to_vec(), [1, 2]), &dev)).into_scalar::<f32>() as f64;
            let want = layout.mixture_log_density(&shares, s, a);
            assert!((got - want).abs() < 1e-3, "{a:?}: {got} vs {want}");
        }
    }

    /// An oracle over E1's map whose dataset has `rows` states at `s`
    /// from each listed policy.
    fn oracle_at(s: [f32; 2], rows: &[(u16, usize)]) -> (Layout, Oracle) {
        let layout = Layout::obstacle(5.0);
        let (mut states, mut sources) = (Vec::new(), Vec::new());
        for &(src, n) in rows {
            states.extend(std::iter::repeat_n(s, n));
            sources.extend(std::iter::repeat_n(src, n));
        }
        let oracle = Oracle::new(&layout, states, &sources);
        (layout, oracle)
    }

    /// With one policy at a state, the 3-sigma level is its 3-sigma
    /// ellipse: an action 2.9 sigma from its mean is in distribution, 3.1
    /// sigma is out, and the level is the density at Mahalanobis 3 (within
    /// the grid's and the truncation's error).
    #[test]
    fn the_ood_level_of_one_policy_is_its_three_sigma_contour() {
        let s = [3.0f32, 5.0];
        let (layout, oracle) = oracle_at(s, &[(0, 20)]);
        assert_eq!(oracle.shares(s), &[1.0, 0.0]);
        let p = &layout.behaviours[0];
        let (m, sigma) = (p.mean(s), p.sigma);
        // log N2 at z^2 = 9 for sigma 0.1: -9/2 - ln(2 pi) - 2 ln 0.1.
        let contour = -4.5 - (2.0 * std::f64::consts::PI).ln() - 2.0 * (sigma as f64).ln();
        let level = oracle.ood_log_level(s);
        assert!((level - contour).abs() < 0.1, "{level} vs {contour}");
        for (z, ood) in [(2.9f32, false), (3.1, true)] {
            for dir in [[1.0f32, 0.0], [0.0, -1.0], [-0.6, 0.8]] {
                let a = [m[0] + z * sigma * dir[0], m[1] + z * sigma * dir[1]];
                assert_eq!(oracle.is_ood(s, a), ood, "z {z} dir {dir:?}");
            }
        }
    }

    /// The OOD test reads the true behaviour mixture at the state: where
    /// only the upper route has data, the lower route's mean action is out
    /// of distribution (the old rule, "beyond 3 sigma of every policy's
    /// mean", called it in distribution because the lower policy's mean is
    /// there, though that policy never visits the state). Where both routes
    /// have data it is in distribution, and the modes' average is out in both.
    #[test]
    fn a_policy_without_data_at_a_state_does_not_make_its_actions_in_distribution() {
        let s = [3.0f32, 5.0];
        let (layout, upper_only) = oracle_at(s, &[(0, 20)]);
        let (_, both) = oracle_at(s, &[(0, 10), (1, 10)]);
        let (up, down) = (layout.behaviours[0].mean(s), layout.behaviours[1].mean(s));
        assert!(!layout.is_ood(s, down), "the old rule");
        assert!(upper_only.is_ood(s, down));
        assert!(!upper_only.is_ood(s, up));
        assert!(!both.is_ood(s, down) && !both.is_ood(s, up));
        let average = [(up[0] + down[0]) / 2.0, (up[1] + down[1]) / 2.0];
        assert!(upper_only.is_ood(s, average) && both.is_ood(s, average));
        // The fast density of the level's grid is the layout's density.
        let parts = both.parts_at(s);
        for a in [up, down, average, [0.0, 0.0]] {
            let fast = log_density_of(&parts, [a[0] as f64, a[1] as f64]);
            assert!((fast - both.log_density(s, a)).abs() < 1e-9, "{a:?}");
        }
    }

    /// On two narrow action modes (+-0.5, sigma 0.05) the fitted MDN
    /// reaches close to the true log-likelihood (0.88 nats) and its coverage
    /// stays narrow: two modes do not make it look wide.
    #[test]
    fn mdn_fits_a_bimodal_behaviour_and_its_coverage_stays_narrow() {
        let mut r = reprolab_core::rng::rng(1);
        let mut d = Dataset::new(1, 1);
        for i in 0..4000 {
            let s = (i % 100) as f32 / 100.0;
            let mode = if i % 2 == 0 { 0.5 } else { -0.5 };
            let a = mode + 0.05 * reprolab_core::rng::standard_normal(&mut r);
            d.push(&[s], &[a], &Step { obs: vec![s], reward: 0.0, terminated: false, truncated: false }, 0);
        }
        let p = Prepared::new(&d, &Normaliser::fit(&d), &[1.0]);
        let cfg = MdnConfig { components: 3, hidden: vec![32, 32], steps: 1500, batch: 256, lr: 3e-3, validation: 0.1 };
        let dev = reprolab_core::device::default_device().autodiff();
        let fit = fit_mdn(&p, &cfg, 0, &dev, None).unwrap();
        assert!(fit.validation_log_likelihood > 0.6, "{}", fit.validation_log_likelihood);
        let b = p.batch((0..8).collect(), &dev);
        let cov: Vec<f32> = fit.terms(&b).mixture.unwrap().coverage().into_data().try_to_vec().unwrap();
        assert!(cov.iter().all(|c| *c < 0.15), "{cov:?}");
    }
}

//! The networks: the tanh-Gaussian (or deterministic) actor, TD3's twin
//! critic, and the Gaussian-mixture log-density shared by the mixture
//! density network and the oracle behaviour density.

use burn::module::Module;
use burn::tensor::activation::{log_softmax, softplus};
use burn::tensor::{Device, Tensor};
use reprolab_core::nn::{Mlp, MlpConfig};

/// Bounds of the actor's log standard deviation (SAC's usual -5 .. 2).
pub const LOG_STD_MIN: f64 = -5.0;
pub const LOG_STD_MAX: f64 = 2.0;
const HALF_LOG_2PI: f64 = 0.918_938_533_204_672_7;

/// The policy. Actions live in [-1, 1]^d (the environment's box rescaled).
#[derive(Module, Debug)]
pub struct Actor {
    pub net: Mlp,
    /// Stochastic (tanh-Gaussian: the net outputs mean and log-std) or
    /// deterministic (`tanh(net(s))`, TD3's actor).
    #[module(skip)]
    pub stochastic: bool,
    #[module(skip)]
    pub act_dim: usize,
}

/// A reparameterised draw of the actor and what the losses need of it.
pub struct ActorSample {
    /// `tanh(u)`, `[batch, act]`.
    pub action: Tensor<2>,
    /// `log pi(action | s)` with the exact tanh correction, `[batch, 1]`
    /// (zeros for a deterministic actor, whose density is a Dirac).
    pub log_prob: Tensor<2>,
}

impl Actor {
    pub fn new(obs_dim: usize, act_dim: usize, hidden: &[usize], stochastic: bool, device: &Device) -> Self {
        let out = if stochastic { 2 * act_dim } else { act_dim };
        let dims: Vec<usize> = std::iter::once(obs_dim).chain(hidden.iter().copied()).chain([out]).collect();
        Self { net: MlpConfig::new(&dims).init(device), stochastic, act_dim }
    }

    /// Pre-squash mean and clamped log-std.
    fn heads(&self, obs: Tensor<2>) -> (Tensor<2>, Option<Tensor<2>>) {
        let out = self.net.forward(obs);
        if !self.stochastic {
            return (out, None);
        }
        let mut parts = out.split(self.act_dim, 1);
        let log_std = parts.pop().unwrap().clamp(LOG_STD_MIN, LOG_STD_MAX);
        (parts.pop().unwrap(), Some(log_std))
    }

    /// The deterministic action `tanh(mean)` (evaluation, TD3 targets, MSE BC).
    pub fn mean_action(&self, obs: Tensor<2>) -> Tensor<2> {
        self.heads(obs).0.tanh()
    }

    /// `a = tanh(mu + sigma eps)` with `eps ~ N(0, I)` drawn by the caller
    /// (so tests can fix it) and `log pi(a|s)`.
    pub fn sample_with(&self, obs: Tensor<2>, eps: Tensor<2>) -> ActorSample {
        let (mu, log_std) = self.heads(obs);
        match log_std {
            None => {
                let action = mu.tanh();
                let zeros = action.clone().sum_dim(1).mul_scalar(0.0);
                ActorSample { action, log_prob: zeros }
            }
            Some(log_std) => squash(mu, log_std, eps),
        }
    }

    pub fn sample(&self, obs: Tensor<2>) -> ActorSample {
        let [b, _] = obs.dims();
        let eps = Tensor::random([b, self.act_dim], burn::tensor::Distribution::Normal(0.0, 1.0), &obs.device());
        self.sample_with(obs, eps)
    }
}

/// `a = tanh(mu + sigma eps)` and its log-density: the Gaussian's, minus
/// the log-determinant of the squash, `sum_d log(1 - tanh(u)^2)`.
pub fn squash(mu: Tensor<2>, log_std: Tensor<2>, eps: Tensor<2>) -> ActorSample {
    let u = mu + log_std.clone().exp() * eps.clone();
    let action = u.clone().tanh();
    let log_prob = gaussian_log_prob(eps, log_std) - tanh_log_det(u);
    ActorSample { action, log_prob }
}

/// `sum_d log N(u; mu, sigma)` written with `eps = (u - mu) / sigma`.
fn gaussian_log_prob(eps: Tensor<2>, log_std: Tensor<2>) -> Tensor<2> {
    let [_, d] = eps.dims();
    (eps.square().mul_scalar(-0.5) - log_std).sum_dim(1).sub_scalar(d as f64 * HALF_LOG_2PI)
}

/// `sum_d log(1 - tanh(u)^2)`, computed stably as `2 (log 2 - u - softplus(-2u))`.
fn tanh_log_det(u: Tensor<2>) -> Tensor<2> {
    (softplus(u.clone().mul_scalar(-2.0), 1.0) + u).mul_scalar(-2.0).add_scalar(2.0 * std::f64::consts::LN_2).sum_dim(1)
}

/// TD3's twin critic: two independent Q networks on `[obs, action]`.
#[derive(Module, Debug)]
pub struct TwinCritic {
    pub q1: Mlp,
    pub q2: Mlp,
}

impl TwinCritic {
    pub fn new(obs_dim: usize, act_dim: usize, hidden: &[usize], device: &Device) -> Self {
        let dims: Vec<usize> = std::iter::once(obs_dim + act_dim).chain(hidden.iter().copied()).chain([1]).collect();
        let cfg = MlpConfig::new(&dims);
        Self { q1: cfg.init(device), q2: cfg.init(device) }
    }

    pub fn both(&self, obs: Tensor<2>, act: Tensor<2>) -> (Tensor<2>, Tensor<2>) {
        let x = Tensor::cat(vec![obs, act], 1);
        (self.q1.forward(x.clone()), self.q2.forward(x))
    }

    pub fn first(&self, obs: Tensor<2>, act: Tensor<2>) -> Tensor<2> {
        self.q1.forward(Tensor::cat(vec![obs, act], 1))
    }
}

/// A state-conditioned diagonal Gaussian mixture over actions, per state of
/// a batch: `log_weights [b, K]` (log-softmaxed), `means` and `log_stds`
/// `[b, K, d]`. Both the fitted behaviour model and the oracle give one.
#[derive(Clone, Debug)]
pub struct Mixture {
    pub log_weights: Tensor<2>,
    pub means: Tensor<3>,
    pub log_stds: Tensor<3>,
}

impl Mixture {
    /// `log sum_k w_k N(a; mu_k, diag sigma_k^2)`, `[b, 1]`; differentiable in `a`.
    pub fn log_density(&self, action: Tensor<2>) -> Tensor<2> {
        let [_, k, d] = self.means.dims();
        let a = action.unsqueeze_dim::<3>(1).repeat_dim(1, k);
        let z = (a - self.means.clone()) / self.log_stds.clone().exp();
        let per_component: Tensor<2> = (z.square().mul_scalar(-0.5) - self.log_stds.clone())
            .sum_dim(2)
            .squeeze_dim::<2>(2)
            .sub_scalar(d as f64 * HALF_LOG_2PI)
            + self.log_weights.clone();
        log_sum_exp_rows(per_component)
    }

    /// The behaviour's action coverage at each state, the
    /// responsibility-weighted component width
    /// `coverage(s) = sum_k w_k(s) mean_d sigma_kd(s)`, `[b, 1]` (ours: the
    /// paper asks for a coverage measure, [`crate::td3::state_weights`]
    /// turns it into `w(s)`). It is small where every mode is narrow, even
    /// when there are several modes (the total mixture variance is not: it
    /// grows with the distance between modes, exactly where cloning must
    /// stay strong). The weights are renormalised (softmax), so
    /// unnormalised log-weights work too.
    pub fn coverage(&self) -> Tensor<2> {
        burn::tensor::activation::softmax(self.log_weights.clone(), 1)
            .unsqueeze_dim::<3>(2)
            .repeat_dim(2, self.means.dims()[2])
            .mul(self.log_stds.clone().exp())
            .mean_dim(2)
            .squeeze_dim::<2>(2)
            .sum_dim(1)
    }
}

/// Row-wise log-sum-exp of `[b, k]`, `[b, 1]`.
pub fn log_sum_exp_rows(x: Tensor<2>) -> Tensor<2> {
    let [_, k] = x.dims();
    let m = x.clone().max_dim(1).detach();
    (x - m.clone().repeat_dim(1, k)).exp().sum_dim(1).log() + m
}

/// The mixture density network of the behaviour policy: an MLP from the
/// (normalised) state to K weights, K means and K log-stds per action dim.
#[derive(Module, Debug)]
pub struct Mdn {
    pub net: Mlp,
    #[module(skip)]
    pub components: usize,
    #[module(skip)]
    pub act_dim: usize,
}

/// Bounds of the behaviour components' log-std: below e^-5 a component
/// collapses onto single data points.
pub const MDN_LOG_STD_MIN: f64 = -5.0;
pub const MDN_LOG_STD_MAX: f64 = 1.0;

impl Mdn {
    pub fn new(obs_dim: usize, act_dim: usize, components: usize, hidden: &[usize], device: &Device) -> Self {
        let out = components * (1 + 2 * act_dim);
        let dims: Vec<usize> = std::iter::once(obs_dim).chain(hidden.iter().copied()).chain([out]).collect();
        Self { net: MlpConfig::new(&dims).init(device), components, act_dim }
    }

    pub fn mixture(&self, obs: Tensor<2>) -> Mixture {
        let [b, _] = obs.dims();
        let (k, d) = (self.components, self.act_dim);
        let out = self.net.forward(obs);
        let logits = out.clone().narrow(1, 0, k);
        let means = out.clone().narrow(1, k, k * d).reshape([b, k, d]);
        let log_stds = out.narrow(1, k + k * d, k * d).reshape([b, k, d]).clamp(MDN_LOG_STD_MIN, MDN_LOG_STD_MAX);
        Mixture { log_weights: log_softmax(logits, 1), means, log_stds }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::TensorData;

    fn dev() -> Device {
        reprolab_core::device::default_device()
    }

    fn t2(v: Vec<f32>, shape: [usize; 2]) -> Tensor<2> {
        Tensor::from_data(TensorData::new(v, shape), &dev())
    }

    fn t3(v: Vec<f32>, shape: [usize; 3]) -> Tensor<3> {
        Tensor::from_data(TensorData::new(v, shape), &dev())
    }

    fn vec1(t: Tensor<2>) -> Vec<f32> {
        t.into_data().try_to_vec().unwrap()
    }

    /// 0.3 N(0, 1) + 0.7 N(1, 0.5^2) at a = 0.5, by hand:
    /// 0.3 * 0.352065 + 0.7 * 0.483941 = 0.444379.
    #[test]
    fn mixture_log_density_matches_a_hand_computation() {
        let m = Mixture {
            log_weights: t2(vec![0.3f32.ln(), 0.7f32.ln()], [1, 2]),
            means: t3(vec![0.0, 1.0], [1, 2, 1]),
            log_stds: t3(vec![0.0, 0.5f32.ln()], [1, 2, 1]),
        };
        let v = vec1(m.log_density(t2(vec![0.5], [1, 1])))[0];
        let want = (0.3f64 * 0.352_065_3 + 0.7 * 0.483_941_4).ln();
        assert!((v as f64 - want).abs() < 1e-5, "{v} vs {want}");
        // Two dimensions factorise: log N2 = sum of the 1-D logs.
        let m = Mixture {
            log_weights: t2(vec![0.0], [1, 1]),
            means: t3(vec![0.0, 1.0], [1, 1, 2]),
            log_stds: t3(vec![0.0, 0.5f32.ln()], [1, 1, 2]),
        };
        let v = vec1(m.log_density(t2(vec![0.5, 0.5], [1, 2])))[0];
        assert!((v as f64 - (0.352_065_3f64 * 0.483_941_4).ln()).abs() < 1e-5, "{v}");
    }

    /// A batch of two states, two components in two action dimensions, each
    /// row with its own weights: the log-density and its gradient in the
    /// action against the formulas written out in f64,
    /// `log sum_k w_k prod_d N(a_d; mu_kd, s_kd)` and
    /// `d/da_d = sum_k r_k (mu_kd - a_d) / s_kd^2` (`r_k` the responsibilities).
    #[test]
    fn batched_mixture_log_density_and_its_action_gradient_match_the_formulas() {
        let w = [[0.25f64, 0.75], [0.9, 0.1]];
        let mu = [[[0.0f64, 0.0], [1.0, -1.0]], [[-0.3, 0.2], [0.4, 0.4]]];
        let sd = [[[1.0f64, 1.0], [0.5, 2.0]], [[0.2, 0.3], [1.0, 0.1]]];
        let a = [[0.5f64, -0.5], [0.1, 0.3]];
        let pdf =
            |x: f64, m: f64, s: f64| (-0.5 * ((x - m) / s).powi(2)).exp() / (s * (2.0 * std::f64::consts::PI).sqrt());
        // Row 0, component 0 by hand: 0.352065^2 = 0.123950; component 1:
        // 0.483941 * 0.193334 = 0.093563; 0.25 * 0.123950 + 0.75 * 0.093563 = 0.101160.
        assert!(
            (pdf(0.5, 0.0, 1.0).powi(2) * 0.25 + pdf(0.5, 1.0, 0.5) * pdf(-0.5, -1.0, 2.0) * 0.75 - 0.101_160).abs()
                < 1e-5
        );
        let flat3 = |v: &[[[f64; 2]; 2]; 2]| v.iter().flatten().flatten().map(|x| *x as f32).collect::<Vec<_>>();
        let ad = dev().autodiff();
        let m = Mixture {
            log_weights: Tensor::from_data(
                TensorData::new(w.iter().flatten().map(|x| x.ln() as f32).collect(), [2, 2]),
                &ad,
            ),
            means: Tensor::from_data(TensorData::new(flat3(&mu), [2, 2, 2]), &ad),
            log_stds: Tensor::from_data(TensorData::new(flat3(&sd).iter().map(|s| s.ln()).collect(), [2, 2, 2]), &ad),
        };
        let action =
            Tensor::<2>::from_data(TensorData::new(a.iter().flatten().map(|x| *x as f32).collect(), [2, 2]), &ad)
                .require_grad();
        let lp = m.log_density(action.clone());
        let got: Vec<f32> = lp.clone().into_data().try_to_vec().unwrap();
        let grads = lp.sum().backward();
        let grad: Vec<f32> = action.grad(&grads).unwrap().into_data().try_to_vec().unwrap();
        for b in 0..2 {
            let comp: Vec<f64> = (0..2)
                .map(|k| w[b][k] * (0..2).map(|d| pdf(a[b][d], mu[b][k][d], sd[b][k][d])).product::<f64>())
                .collect();
            let total: f64 = comp.iter().sum();
            assert!((got[b] as f64 - total.ln()).abs() < 1e-5, "row {b}: {} vs {}", got[b], total.ln());
            for d in 0..2 {
                let want: f64 = (0..2).map(|k| comp[k] / total * (mu[b][k][d] - a[b][d]) / sd[b][k][d].powi(2)).sum();
                assert!(
                    (grad[b * 2 + d] as f64 - want).abs() < 1e-4 * want.abs().max(1.0),
                    "row {b} dim {d}: {} vs {want}",
                    grad[b * 2 + d]
                );
            }
        }
    }

    /// The tanh-Gaussian density integrates to 1 over (-1, 1) and equals the
    /// change-of-variables density N(atanh a; mu, s) / (1 - a^2) pointwise.
    #[test]
    fn tanh_gaussian_density_integrates_to_one() {
        let (mu, s) = (0.4f32, 0.8f32);
        let n = 20_000;
        let h = 2.0 / n as f64;
        let a: Vec<f64> = (0..n).map(|i| -1.0 + (i as f64 + 0.5) * h).collect();
        let eps: Vec<f32> = a.iter().map(|&a| ((a.atanh() as f32) - mu) / s).collect();
        let out = squash(t2(vec![mu; n], [n, 1]), t2(vec![s.ln(); n], [n, 1]), t2(eps, [n, 1]));
        let lp = vec1(out.log_prob);
        let total: f64 = lp.iter().map(|l| (*l as f64).exp() * h).sum();
        assert!((total - 1.0).abs() < 2e-3, "{total}");
        let i = n / 3;
        let u = a[i].atanh();
        let direct = (-0.5 * ((u - mu as f64) / s as f64).powi(2)).exp()
            / (s as f64 * (2.0 * std::f64::consts::PI).sqrt())
            / (1.0 - a[i] * a[i]);
        assert!(((lp[i] as f64).exp() - direct).abs() / direct < 1e-4);
    }

    /// The one-sample reverse-KL estimate log pi(a) - log beta(a), averaged,
    /// recovers KL(N1 || N2) = log(s2/s1) + (s1^2 + (m1-m2)^2) / (2 s2^2) - 1/2
    /// (KL is invariant under the shared tanh squash).
    #[test]
    fn reverse_kl_estimator_matches_the_gaussian_closed_form() {
        let (m1, s1, m2, s2) = (0.3f64, 0.4f64, -0.2f64, 0.7f64);
        let n = 40_000;
        let eps = Tensor::<2>::random([n, 1], burn::tensor::Distribution::Normal(0.0, 1.0), &dev());
        let out = squash(t2(vec![m1 as f32; n], [n, 1]), t2(vec![s1.ln() as f32; n], [n, 1]), eps);
        let a = vec1(out.action);
        let lp = vec1(out.log_prob);
        let mut est = 0.0;
        for (a, lp) in a.iter().zip(&lp) {
            let a = (*a as f64).clamp(-1.0 + 1e-7, 1.0 - 1e-7);
            let u = a.atanh();
            let log_beta =
                -0.5 * ((u - m2) / s2).powi(2) - s2.ln() - 0.5 * (2.0 * std::f64::consts::PI).ln() - (1.0 - a * a).ln();
            est += *lp as f64 - log_beta;
        }
        est /= n as f64;
        let exact = (s2 / s1).ln() + (s1 * s1 + (m1 - m2).powi(2)) / (2.0 * s2 * s2) - 0.5;
        assert!((est - exact).abs() < 0.01, "{est} vs {exact}");
    }

    /// Coverage is the weighted component width: two narrow modes far apart
    /// cover as little as one narrow mode (the total variance would not).
    #[test]
    fn coverage_does_not_grow_with_the_number_of_modes() {
        let one = Mixture {
            log_weights: t2(vec![0.0, -30.0], [1, 2]),
            means: t3(vec![0.0, 0.0], [1, 2, 1]),
            log_stds: t3(vec![0.1f32.ln(); 2], [1, 2, 1]),
        };
        let two = Mixture {
            log_weights: t2(vec![0.5f32.ln(); 2], [1, 2]),
            means: t3(vec![-0.6, 0.6], [1, 2, 1]),
            log_stds: t3(vec![0.1f32.ln(); 2], [1, 2, 1]),
        };
        let wide = Mixture { log_stds: t3(vec![0.6f32.ln(); 2], [1, 2, 1]), ..one.clone() };
        let c = |m: &Mixture| vec1(m.coverage())[0];
        assert!((c(&one) - 0.1).abs() < 1e-5 && (c(&two) - 0.1).abs() < 1e-5);
        assert!((c(&wide) - 0.6).abs() < 1e-5);
    }
}

//! Optimiser configs whose defaults are PyTorch's, not burn's (burn's Adam
//! epsilon is 1e-5 where PyTorch's is 1e-8; burn's SGD momentum has
//! dampening 0.1 where PyTorch's has 0; burn's AdamW decay is 1e-4 where
//! PyTorch's is 1e-2). Every value is set explicitly when building.

use burn::optim::decay::WeightDecayConfig;
use burn::optim::grad_clipping::GradientClippingConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, AdamWConfig, ModuleOptimizer, SgdConfig};
use serde::{Deserialize, Serialize};

/// Which optimiser, with its hyper-parameters (TOML: `kind = "adam"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum OptimizerConfig {
    /// `torch.optim.Adam`; `weight_decay` is the L2 term added to the gradient.
    Adam {
        /// Learning rate.
        lr: f64,
        /// First-moment decay (PyTorch: 0.9).
        #[serde(default = "beta1")]
        beta1: f32,
        /// Second-moment decay (PyTorch: 0.999).
        #[serde(default = "beta2")]
        beta2: f32,
        /// Denominator term (PyTorch: 1e-8; burn's own default is 1e-5).
        #[serde(default = "eps")]
        eps: f32,
        /// L2 penalty added to the gradient (PyTorch: 0).
        #[serde(default)]
        weight_decay: f32,
        /// Clip the global gradient norm to this value.
        #[serde(default)]
        grad_clip_norm: Option<f32>,
    },
    /// `torch.optim.AdamW` (decoupled weight decay, default 0.01).
    Adamw {
        /// Learning rate.
        lr: f64,
        /// First-moment decay (PyTorch: 0.9).
        #[serde(default = "beta1")]
        beta1: f32,
        /// Second-moment decay (PyTorch: 0.999).
        #[serde(default = "beta2")]
        beta2: f32,
        /// Denominator term (PyTorch: 1e-8).
        #[serde(default = "eps")]
        eps: f32,
        /// Decoupled weight decay (PyTorch: 0.01; burn's own default is 1e-4).
        #[serde(default = "adamw_decay")]
        weight_decay: f32,
        /// Clip the global gradient norm to this value.
        #[serde(default)]
        grad_clip_norm: Option<f32>,
    },
    /// `torch.optim.SGD` (momentum 0, dampening 0, no Nesterov by default).
    Sgd {
        /// Learning rate.
        lr: f64,
        /// Momentum (PyTorch: 0, no dampening; burn's dampening is 0.1).
        #[serde(default)]
        momentum: f64,
        /// Nesterov momentum (PyTorch: off).
        #[serde(default)]
        nesterov: bool,
        /// L2 penalty added to the gradient (PyTorch: 0).
        #[serde(default)]
        weight_decay: f32,
        /// Clip the global gradient norm to this value.
        #[serde(default)]
        grad_clip_norm: Option<f32>,
    },
}

fn beta1() -> f32 {
    0.9
}
fn beta2() -> f32 {
    0.999
}
fn eps() -> f32 {
    1e-8
}
fn adamw_decay() -> f32 {
    0.01
}

impl OptimizerConfig {
    /// Adam with PyTorch defaults at learning rate `lr`.
    pub fn adam(lr: f64) -> Self {
        OptimizerConfig::Adam {
            lr,
            beta1: beta1(),
            beta2: beta2(),
            eps: eps(),
            weight_decay: 0.0,
            grad_clip_norm: None,
        }
    }

    /// The base learning rate.
    pub fn lr(&self) -> f64 {
        match self {
            OptimizerConfig::Adam { lr, .. } | OptimizerConfig::Adamw { lr, .. } | OptimizerConfig::Sgd { lr, .. } => {
                *lr
            }
        }
    }

    /// The gradient-norm clipping threshold, if any.
    pub fn grad_clip_norm(&self) -> Option<f32> {
        match self {
            OptimizerConfig::Adam { grad_clip_norm, .. }
            | OptimizerConfig::Adamw { grad_clip_norm, .. }
            | OptimizerConfig::Sgd { grad_clip_norm, .. } => *grad_clip_norm,
        }
    }

    /// The burn optimiser.
    pub fn build(&self) -> ModuleOptimizer {
        let clip = |c: &Option<f32>| c.map(GradientClippingConfig::Norm);
        match self {
            OptimizerConfig::Adam { beta1, beta2, eps, weight_decay, grad_clip_norm, .. } => AdamConfig::new()
                .with_beta_1(*beta1)
                .with_beta_2(*beta2)
                .with_epsilon(*eps)
                .with_weight_decay((*weight_decay > 0.0).then(|| WeightDecayConfig::new(*weight_decay)))
                .with_grad_clipping(clip(grad_clip_norm))
                .init(),
            OptimizerConfig::Adamw { beta1, beta2, eps, weight_decay, grad_clip_norm, .. } => AdamWConfig::new()
                .with_beta_1(*beta1)
                .with_beta_2(*beta2)
                .with_epsilon(*eps)
                .with_weight_decay(*weight_decay)
                .with_grad_clipping(clip(grad_clip_norm))
                .init(),
            OptimizerConfig::Sgd { momentum, nesterov, weight_decay, grad_clip_norm, .. } => SgdConfig::new()
                .with_momentum((*momentum > 0.0).then(|| {
                    MomentumConfig::new().with_momentum(*momentum).with_dampening(0.0).with_nesterov(*nesterov)
                }))
                .with_weight_decay((*weight_decay > 0.0).then(|| WeightDecayConfig::new(*weight_decay)))
                .with_gradient_clipping(clip(grad_clip_norm))
                .init(),
        }
    }
}

impl crate::registry::Validate for OptimizerConfig {
    fn validate(&self) -> anyhow::Result<()> {
        let (lr, decay) = match self {
            OptimizerConfig::Adam { lr, beta1, beta2, eps, weight_decay, .. }
            | OptimizerConfig::Adamw { lr, beta1, beta2, eps, weight_decay, .. } => {
                for (name, b) in [("beta1", beta1), ("beta2", beta2)] {
                    anyhow::ensure!((0.0..1.0).contains(b), "optimizer.{name} must be in [0, 1), got {b}");
                }
                anyhow::ensure!(*eps > 0.0, "optimizer.eps must be positive, got {eps}");
                (*lr, *weight_decay)
            }
            OptimizerConfig::Sgd { lr, momentum, weight_decay, .. } => {
                anyhow::ensure!((0.0..1.0).contains(momentum), "optimizer.momentum must be in [0, 1), got {momentum}");
                (*lr, *weight_decay)
            }
        };
        anyhow::ensure!(lr.is_finite() && lr > 0.0, "optimizer.lr must be a positive number, got {lr}");
        anyhow::ensure!(decay >= 0.0, "optimizer.weight_decay must be non-negative, got {decay}");
        if let Some(c) = self.grad_clip_norm() {
            anyhow::ensure!(c > 0.0, "optimizer.grad_clip_norm must be positive, got {c}");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::module::Module;
    use burn::nn::{Linear, LinearConfig};
    use burn::optim::GradientsParams;
    use burn::tensor::{Tensor, TensorData};

    /// One Adam step on f(w) = sum(w * x) from w = 1: the gradient is x, and
    /// PyTorch's first Adam step moves each weight by lr * g / (|g| + eps),
    /// i.e. by lr * sign(g) up to eps: torch gives w = 1 - 0.1 = 0.9 for g > 0.
    #[test]
    fn first_adam_step_matches_pytorch() {
        let dev = crate::device::default_device().autodiff();
        let mut lin: Linear = LinearConfig::new(2, 1).with_bias(false).init(&dev);
        lin.weight =
            lin.weight.clone().map(|_| Tensor::from_data(TensorData::new(vec![1f32, 1.], [2, 1]), &dev).require_grad());
        let x = Tensor::<2>::from_data(TensorData::new(vec![3f32, -2.], [1, 2]), &dev);
        let loss = lin.forward(x).sum();
        let grads = GradientsParams::from_grads(loss.backward(), &lin);
        let mut opt = OptimizerConfig::adam(0.1).build();
        let lin = opt.step(0.1, lin, grads);
        let w: Vec<f32> = lin.weight.val().into_data().try_to_vec().unwrap();
        assert!((w[0] - 0.9).abs() < 1e-6 && (w[1] - 1.1).abs() < 1e-6, "{w:?}");
        let _ = lin.num_params();
    }

    /// Gradient of sum(w * x) is x = [30, -40] (norm 50); clipping the norm
    /// to 5 scales it to [3, -4], so one SGD step with lr 1 moves w by that.
    #[test]
    fn gradient_norm_clipping_rescales_the_gradient() {
        let dev = crate::device::default_device().autodiff();
        let mut lin: Linear = LinearConfig::new(2, 1).with_bias(false).init(&dev);
        lin.weight =
            lin.weight.clone().map(|_| Tensor::from_data(TensorData::new(vec![0f32, 0.], [2, 1]), &dev).require_grad());
        let x = Tensor::<2>::from_data(TensorData::new(vec![30f32, -40.], [1, 2]), &dev);
        let grads = GradientsParams::from_grads(lin.forward(x).sum().backward(), &lin);
        let cfg = OptimizerConfig::Sgd {
            lr: 1.0,
            momentum: 0.0,
            nesterov: false,
            weight_decay: 0.0,
            grad_clip_norm: Some(5.0),
        };
        let lin = cfg.build().step(1.0, lin, grads);
        let w: Vec<f32> = lin.weight.val().into_data().try_to_vec().unwrap();
        assert!((w[0] + 3.0).abs() < 1e-4 && (w[1] - 4.0).abs() < 1e-4, "{w:?}");
    }

    #[test]
    fn toml_config_uses_pytorch_defaults_and_rejects_typos() {
        let c: OptimizerConfig = toml::from_str("kind = \"adam\"\nlr = 0.001").unwrap();
        assert_eq!(c, OptimizerConfig::adam(0.001));
        assert!(toml::from_str::<OptimizerConfig>("kind = \"adam\"\nlr = 0.1\nbeta = 0.5").is_err());
        let c: OptimizerConfig = toml::from_str("kind = \"adamw\"\nlr = 0.001").unwrap();
        assert!(matches!(c, OptimizerConfig::Adamw { weight_decay, eps, .. } if weight_decay == 0.01 && eps == 1e-8));
    }
}

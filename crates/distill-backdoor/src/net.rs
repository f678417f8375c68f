//! The ConvNet of dataset distillation (DC's `ConvNet`, scaled to the data):
//! `depth` blocks of [3x3 conv (padding 1; the first conv of a 1-channel
//! input padding 3, as the official net), optional instance norm, ReLU,
//! 2x2 average pool], then FC -> `hidden` -> ReLU -> FC -> classes.
//!
//! Written as a function of an explicit parameter list held on the host
//! rather than as a burn `Module`: dataset condensation perturbs the
//! parameters along a direction (the finite-difference second-order term),
//! compares gradients layer by layer, and DOORPING reads one weight matrix;
//! all of that is plain arithmetic on these vectors. Tensors are built per
//! call; the networks are small enough that the copies cost little.

use burn::tensor::activation::{log_softmax, relu};
use burn::tensor::module::{avg_pool2d, conv2d};
use burn::tensor::ops::{AvgPoolOptions, ConvOptions};
use burn::tensor::{Device, Tensor, TensorData};
use reprolab_core::registry::Validate;
use reprolab_core::rng::{SeededRng, rng};
use serde::{Deserialize, Serialize};

/// The architecture.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetConfig {
    /// Input channels, the data's (paper: 1 for MNIST-style data and the
    /// digits, 3 for CIFAR-10).
    pub channels: usize,
    /// Images are `side x side`; every block halves it (paper: 28 or 32;
    /// the laptop experiment's digits: 8).
    pub side: usize,
    /// Channels of every conv block (paper: 128; the laptop ConvNet: 16).
    pub width: usize,
    /// Conv blocks (paper: 3; the laptop ConvNet: 1).
    pub depth: usize,
    /// Units of the penultimate layer, DOORPING's neurons (paper's ConvNet:
    /// FC 192; the laptop ConvNet: 64).
    pub hidden: usize,
    /// Output classes, the data's (paper: 10).
    pub classes: usize,
    /// Instance norm after each conv (DC's default network has it; the
    /// paper's network and the laptop ConvNet do not; default false).
    #[serde(default)]
    pub instance_norm: bool,
}

impl Validate for NetConfig {
    fn validate(&self) -> anyhow::Result<()> {
        anyhow::ensure!(self.channels >= 1, "net.channels must be at least 1");
        let halved = u32::try_from(self.depth).ok().and_then(|d| self.first_side().checked_shr(d)).unwrap_or(0);
        anyhow::ensure!(
            self.side >= 1 && halved >= 1,
            "net.side {} cannot be halved net.depth = {} times (every conv block halves it; the first conv's maps are {} wide)",
            self.side,
            self.depth,
            self.first_side()
        );
        anyhow::ensure!(self.width >= 1, "net.width must be at least 1");
        anyhow::ensure!(self.hidden >= 1, "net.hidden must be at least 1");
        anyhow::ensure!(self.classes >= 2, "net.classes must be at least 2, got {}", self.classes);
        Ok(())
    }
}

/// What a parameter is; only matrices (conv kernels, FC weights) enter the
/// gradient-matching distance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    ConvWeight,
    Bias,
    NormScale,
    LinearWeight,
}

/// One parameter's place in the list.
#[derive(Debug, Clone, PartialEq)]
pub struct Slot {
    pub role: Role,
    pub shape: Vec<usize>,
}

impl Slot {
    pub fn len(&self) -> usize {
        self.shape.iter().product()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `(rows, row length)` as the matching distance reads it: conv kernels
    /// `out x (in*h*w)`, FC weights `out x in`; `None` for 1-D parameters.
    pub fn rows(&self) -> Option<(usize, usize)> {
        match self.role {
            Role::ConvWeight | Role::LinearWeight => Some((self.shape[0], self.len() / self.shape[0])),
            Role::Bias | Role::NormScale => None,
        }
    }
}

/// Parameters as host vectors, in [`NetConfig::layout`] order.
pub type Params = Vec<Vec<f32>>;

impl NetConfig {
    /// Input values per image.
    pub fn image_len(&self) -> usize {
        self.channels * self.side * self.side
    }

    /// The first conv's padding: 3 for 1-channel inputs, else 1, as the
    /// official ConvNet (`padding=3 if channel == 1 and d == 0 else 1`; on
    /// 28x28 MNIST it makes the 32x32 maps the rest of the net is built for;
    /// on the 8x8 digits 12x12).
    pub fn first_padding(&self) -> usize {
        if self.channels == 1 { 3 } else { 1 }
    }

    /// Side of the first conv's output maps (`side + 2 padding - 2`).
    fn first_side(&self) -> usize {
        self.side + 2 * self.first_padding() - 2
    }

    fn flat_features(&self) -> usize {
        let s = self.first_side() >> self.depth;
        self.width * s * s
    }

    /// The parameter list: per block conv weight, conv bias (and norm
    /// scale, shift), then FC1 weight, bias, FC2 weight, bias.
    pub fn layout(&self) -> Vec<Slot> {
        let mut slots = Vec::new();
        let mut c_in = self.channels;
        for _ in 0..self.depth {
            slots.push(Slot { role: Role::ConvWeight, shape: vec![self.width, c_in, 3, 3] });
            slots.push(Slot { role: Role::Bias, shape: vec![self.width] });
            if self.instance_norm {
                slots.push(Slot { role: Role::NormScale, shape: vec![self.width] });
                slots.push(Slot { role: Role::Bias, shape: vec![self.width] });
            }
            c_in = self.width;
        }
        slots.push(Slot { role: Role::LinearWeight, shape: vec![self.hidden, self.flat_features()] });
        slots.push(Slot { role: Role::Bias, shape: vec![self.hidden] });
        slots.push(Slot { role: Role::LinearWeight, shape: vec![self.classes, self.hidden] });
        slots.push(Slot { role: Role::Bias, shape: vec![self.classes] });
        slots
    }

    /// Index of the penultimate weight matrix (FC1, `hidden x flat`).
    pub fn penultimate_weight(&self) -> usize {
        self.layout().len() - 4
    }

    /// PyTorch's default initialisation: weights and biases uniform in
    /// +-1/sqrt(fan_in); norm scales 1, shifts 0.
    pub fn init(&self, seed: u64) -> Params {
        let mut r: SeededRng = rng(seed);
        let layout = self.layout();
        let mut fan_in = 0;
        let mut params = Vec::with_capacity(layout.len());
        for slot in &layout {
            let values = match slot.role {
                Role::ConvWeight | Role::LinearWeight => {
                    fan_in = slot.len() / slot.shape[0];
                    uniform(&mut r, slot.len(), fan_in)
                }
                Role::Bias if !params.is_empty() && layout[params.len() - 1].role == Role::NormScale => {
                    vec![0.0; slot.len()]
                }
                Role::Bias => uniform(&mut r, slot.len(), fan_in),
                Role::NormScale => vec![1.0; slot.len()],
            };
            params.push(values);
        }
        params
    }

    /// Parameters as tensors on `device` (tracked when `device` is autodiff
    /// and `track` is set).
    pub fn tensors(&self, params: &Params, device: &Device, track: bool) -> Vec<Tensor<1>> {
        params
            .iter()
            .map(|p| {
                let t = Tensor::<1>::from_data(TensorData::new(p.clone(), [p.len()]), device);
                if track { t.require_grad() } else { t }
            })
            .collect()
    }

    /// The flattened output of the conv blocks, `[batch, flat]`.
    pub fn embed(&self, p: &[Tensor<1>], x: Tensor<4>) -> Tensor<2> {
        let layout = self.layout();
        let mut x = x;
        let mut k = 0;
        for d in 0..self.depth {
            let w = p[k].clone().reshape(as4(&layout[k].shape));
            let pad = if d == 0 { self.first_padding() } else { 1 };
            x = conv2d(x, w, Some(p[k + 1].clone()), ConvOptions::new([1, 1], [pad, pad], [1, 1], 1));
            k += 2;
            if self.instance_norm {
                x = instance_norm(x, p[k].clone(), p[k + 1].clone());
                k += 2;
            }
            x = avg_pool2d(relu(x), AvgPoolOptions::new([2, 2]));
        }
        let [b, ..] = x.dims();
        x.reshape([b, self.flat_features()])
    }

    /// The penultimate layer's pre-activations `[batch, hidden]` (the
    /// neurons DOORPING drives).
    pub fn penultimate(&self, p: &[Tensor<1>], x: Tensor<4>) -> Tensor<2> {
        let k = self.penultimate_weight();
        linear(self.embed(p, x), p[k].clone(), p[k + 1].clone(), self.hidden)
    }

    /// Class logits `[batch, classes]`.
    pub fn logits(&self, p: &[Tensor<1>], x: Tensor<4>) -> Tensor<2> {
        let k = self.penultimate_weight() + 2;
        linear(relu(self.penultimate(p, x)), p[k].clone(), p[k + 1].clone(), self.classes)
    }

    /// Images as a `[n, c, side, side]` tensor from row-major values.
    pub fn images(&self, values: &[f32], device: &Device) -> Tensor<4> {
        let n = values.len() / self.image_len();
        Tensor::from_data(TensorData::new(values.to_vec(), [n, self.channels, self.side, self.side]), device)
    }
}

fn uniform(r: &mut SeededRng, n: usize, fan_in: usize) -> Vec<f32> {
    use rand::RngExt;
    let bound = 1.0 / (fan_in.max(1) as f32).sqrt();
    (0..n).map(|_| (r.random::<f32>() * 2.0 - 1.0) * bound).collect()
}

fn as4(shape: &[usize]) -> [usize; 4] {
    [shape[0], shape[1], shape[2], shape[3]]
}

/// `x W^T + b` with `W` stored `out x in` (PyTorch's layout, whose rows the
/// matching distance compares).
fn linear(x: Tensor<2>, w: Tensor<1>, b: Tensor<1>, out: usize) -> Tensor<2> {
    let [_, d_in] = x.dims();
    x.matmul(w.reshape([out, d_in]).transpose()) + b.reshape([1, out])
}

fn instance_norm(x: Tensor<4>, scale: Tensor<1>, shift: Tensor<1>) -> Tensor<4> {
    let [_, c, _, _] = x.dims();
    let mean = x.clone().mean_dim(3).mean_dim(2);
    let centred = x - mean;
    let var = centred.clone().powi_scalar(2).mean_dim(3).mean_dim(2);
    centred / var.add_scalar(1e-5).sqrt() * scale.reshape([1, c, 1, 1]) + shift.reshape([1, c, 1, 1])
}

/// Mean cross-entropy of `logits` against `labels`.
pub fn cross_entropy(logits: Tensor<2>, labels: &[usize]) -> Tensor<1> {
    let [n, k] = logits.dims();
    let mut onehot = vec![0f32; n * k];
    for (i, &y) in labels.iter().enumerate() {
        onehot[i * k + y] = 1.0;
    }
    let onehot = Tensor::<2>::from_data(TensorData::new(onehot, [n, k]), &logits.device());
    (log_softmax(logits, 1) * onehot).sum().neg().div_scalar(n as f32)
}

/// Gradients of a scalar loss built from the parameters and the inputs.
pub struct Grads {
    pub loss: f32,
    pub params: Params,
    /// `d loss / d x`, row-major like the inputs; empty unless asked for.
    pub input: Vec<f32>,
}

/// Runs `loss(params, x)` on an autodiff device and returns its gradients
/// with respect to every parameter and, with `want_input`, the inputs.
pub fn gradients(
    cfg: &NetConfig,
    params: &Params,
    x: &[f32],
    want_input: bool,
    loss: impl FnOnce(&[Tensor<1>], Tensor<4>) -> Tensor<1>,
) -> Grads {
    let device = reprolab_core::device::default_device().autodiff();
    let p = cfg.tensors(params, &device, true);
    let xt = cfg.images(x, &device);
    let xt = if want_input { xt.require_grad() } else { xt };
    let l = loss(&p, xt.clone());
    let value: f32 = l.clone().into_scalar();
    let grads = l.backward();
    let to_vec = |t: Option<Tensor<1>>, n: usize| -> Vec<f32> {
        t.map_or_else(|| vec![0.0; n], |g| g.into_data().try_to_vec().expect("f32 gradient"))
    };
    let params_grad = p.iter().zip(params).map(|(t, v)| to_vec(t.grad(&grads), v.len())).collect();
    let input = if want_input {
        xt.grad(&grads).map_or_else(|| vec![0.0; x.len()], |g| g.into_data().try_to_vec().expect("f32 gradient"))
    } else {
        Vec::new()
    };
    Grads { loss: value, params: params_grad, input }
}

/// Logits of `x` without gradients, row-major `[n, classes]`.
pub fn predict(cfg: &NetConfig, params: &Params, x: &[f32]) -> Vec<f32> {
    let device = reprolab_core::device::default_device();
    let p = cfg.tensors(params, &device, false);
    cfg.logits(&p, cfg.images(x, &device)).into_data().try_to_vec().expect("f32 logits")
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn tiny() -> NetConfig {
        NetConfig { channels: 1, side: 4, width: 2, depth: 1, hidden: 3, classes: 2, instance_norm: false }
    }

    #[test]
    fn layout_and_shapes() {
        let cfg =
            NetConfig { channels: 1, side: 8, width: 16, depth: 1, hidden: 64, classes: 10, instance_norm: false };
        let shapes: Vec<Vec<usize>> = cfg.layout().into_iter().map(|s| s.shape).collect();
        // 1 channel: the first conv pads 3 (official), 8x8 -> 12x12 -> pool 6x6.
        assert_eq!(shapes, vec![vec![16, 1, 3, 3], vec![16], vec![64, 16 * 6 * 6], vec![64], vec![10, 64], vec![10]]);
        let rgb = NetConfig { channels: 3, ..cfg.clone() };
        assert_eq!(rgb.layout()[2].shape, vec![64, 16 * 4 * 4]);
        assert_eq!(cfg.penultimate_weight(), 2);
        let p = cfg.init(0);
        let logits = predict(&cfg, &p, &vec![0.5; 3 * 64]);
        assert_eq!(logits.len(), 30);
        assert!(logits.iter().all(|v| v.is_finite()));
        // the init is PyTorch's bound: 1/sqrt(fan_in)
        assert!(p[0].iter().all(|v| v.abs() <= 1.0 / 3.0) && p[2].iter().all(|v| v.abs() <= 1.0 / 16.0));
        let with_norm = NetConfig { instance_norm: true, ..cfg };
        assert_eq!(with_norm.layout().len(), 8);
        assert!(predict(&with_norm, &with_norm.init(0), &vec![0.5; 64]).iter().all(|v| v.is_finite()));
    }

    /// The parameter gradients from `gradients` against central finite
    /// differences of the loss.
    #[test]
    fn gradients_match_finite_differences() {
        let cfg = tiny();
        let params = cfg.init(3);
        let x: Vec<f32> = (0..32).map(|i| ((i * 5) % 7) as f32 / 3.0 - 1.0).collect();
        let y = [0usize, 1];
        let loss_of = |p: &Params| -> f64 {
            let logits = predict(&cfg, p, &x);
            let mut total = 0.0;
            for (i, &yi) in y.iter().enumerate() {
                let row = &logits[i * 2..i * 2 + 2];
                let m = row.iter().cloned().fold(f32::MIN, f32::max);
                let lse = m + row.iter().map(|v| (v - m).exp()).sum::<f32>().ln();
                total += f64::from(lse - row[yi]);
            }
            total / 2.0
        };
        let g = gradients(&cfg, &params, &x, true, |p, xt| cross_entropy(cfg.logits(p, xt), &y));
        for (k, slot) in params.iter().enumerate() {
            for j in [0, slot.len() - 1] {
                let mut plus = params.clone();
                plus[k][j] += 1e-2;
                let mut minus = params.clone();
                minus[k][j] -= 1e-2;
                let fd = (loss_of(&plus) - loss_of(&minus)) / 2e-2;
                assert!((fd - f64::from(g.params[k][j])).abs() < 2e-3, "param {k}[{j}]: fd {fd} vs {}", g.params[k][j]);
            }
        }
        assert_eq!(g.input.len(), x.len());
    }
}

//! A multilayer perceptron.

use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig};
use burn::tensor::activation;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

/// Hidden-layer non-linearity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    #[default]
    Relu,
    Gelu,
    Tanh,
}

impl Activation {
    pub fn apply<const D: usize>(self, x: Tensor<D>) -> Tensor<D> {
        match self {
            Activation::Relu => activation::relu(x),
            Activation::Gelu => activation::gelu(x),
            Activation::Tanh => activation::tanh(x),
        }
    }
}

/// `dims = [input, hidden..., output]`; the activation (then dropout, if
/// any) follows every layer but the last (the output is linear: logits,
/// Q-values, means).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MlpConfig {
    pub dims: Vec<usize>,
    #[serde(default)]
    pub activation: Activation,
    /// Dropout probability after each hidden activation (0 = none). Active
    /// only while training on an autodiff device; `.valid()` turns it off.
    #[serde(default)]
    pub dropout: f64,
}

impl MlpConfig {
    pub fn new(dims: &[usize]) -> Self {
        Self { dims: dims.to_vec(), activation: Activation::Relu, dropout: 0.0 }
    }

    pub fn with_dropout(mut self, dropout: f64) -> Self {
        self.dropout = dropout;
        self
    }

    pub fn with_activation(mut self, activation: Activation) -> Self {
        self.activation = activation;
        self
    }

    /// Layers initialised like PyTorch's `nn.Linear` (Kaiming-uniform with
    /// a = sqrt(5): weights and biases ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in))),
    /// burn's default too.
    pub fn init(&self, device: &Device) -> Mlp {
        assert!(self.dims.len() >= 2, "an MLP needs at least input and output sizes");
        let layers: Vec<Linear> = self.dims.windows(2).map(|w| LinearConfig::new(w[0], w[1]).init(device)).collect();
        // burn initialises parameters lazily, drawing from the device RNG on
        // first use; draw now, so the weights depend only on the RNG state at
        // `init` (several models seeded then stacked must not share a stream).
        for layer in &layers {
            let _ = layer.weight.val();
            if let Some(bias) = &layer.bias {
                let _ = bias.val();
            }
        }
        let dropout = (self.dropout > 0.0).then(|| DropoutConfig::new(self.dropout).init());
        Mlp { layers, activation: self.activation, dropout }
    }
}

/// A stack of linear layers.
#[derive(Module, Debug)]
pub struct Mlp {
    pub layers: Vec<Linear>,
    #[module(skip)]
    pub activation: Activation,
    pub dropout: Option<Dropout>,
}

impl Mlp {
    /// `[batch, input] -> [batch, output]` (any leading dims work).
    pub fn forward<const D: usize>(&self, mut x: Tensor<D>) -> Tensor<D> {
        let last = self.layers.len() - 1;
        for (i, layer) in self.layers.iter().enumerate() {
            x = layer.forward(x);
            if i < last {
                x = self.activation.apply(x);
                if let Some(dropout) = &self.dropout {
                    x = dropout.forward(x);
                }
            }
        }
        x
    }

    /// Multiply-accumulate count of one forward pass per example (for FLOP/s).
    pub fn macs_per_example(&self) -> usize {
        self.layers
            .iter()
            .map(|l| {
                let [i, o] = l.weight.dims();
                i * o
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::TensorData;

    #[test]
    fn forward_matches_a_hand_computation() {
        let dev = crate::device::default_device();
        let mut mlp = MlpConfig::new(&[2, 2, 1]).init(&dev);
        // W1 = [[1, -1], [2, 0.5]] (burn stores [in, out]), b1 = [0, -3]; W2 = [[1], [2]], b2 = [0.5]
        let set = |l: &mut Linear, w: Vec<f32>, shape: [usize; 2], b: Vec<f32>| {
            l.weight = l.weight.clone().map(|_| Tensor::from_data(TensorData::new(w, shape), &dev));
            let n = b.len();
            l.bias = l.bias.clone().map(|p| p.map(|_| Tensor::from_data(TensorData::new(b, [n]), &dev)));
        };
        set(&mut mlp.layers[0], vec![1., -1., 2., 0.5], [2, 2], vec![0., -3.]);
        set(&mut mlp.layers[1], vec![1., 2.], [2, 1], vec![0.5]);
        // x = [1, 2]: h = relu([1*1+2*2, -1+1-3]) = relu([5, -3]) = [5, 0]; y = 5 + 0 + 0.5
        let x = Tensor::<2>::from_data(TensorData::new(vec![1f32, 2.], [1, 2]), &dev);
        let y: f32 = mlp.forward(x).into_scalar();
        assert!((y - 5.5).abs() < 1e-6, "{y}");
        assert_eq!(mlp.macs_per_example(), 4 + 2);
    }
}

//! K independent MLPs of one shape run as one module, so that a population
//! of small models (membership-inference shadows, ensembles) trains with one
//! batched matrix product per layer instead of K small ones.
//!
//! Model k only ever sees slice k of the input `[K, batch, features]`, and
//! the summed loss has no cross terms, so each model's gradient, and with a
//! per-element optimiser (SGD, Adam, AdamW) each model's update, is exactly
//! what training it alone on the same batches would give. The speed comes
//! from fewer, larger kernels; the results stay reproducible because one
//! thread drives every kernel in a fixed order (unlike training separate
//! models on concurrent threads, where burn's threaded kernels reorder sums).

use super::mlp::{Activation, Mlp};
use burn::module::{Module, Param};
use burn::nn::{Dropout, DropoutConfig, Linear};
use burn::tensor::Tensor;

/// A stack of `n_models` MLPs with the same layer sizes.
#[derive(Module, Debug)]
pub struct MlpStack {
    /// Per layer: `[n_models, input, output]`.
    pub weights: Vec<Param<Tensor<3>>>,
    /// Per layer: `[n_models, 1, output]` (broadcast over the batch).
    pub biases: Vec<Param<Tensor<3>>>,
    #[module(skip)]
    pub activation: Activation,
    pub dropout: Option<Dropout>,
}

impl MlpStack {
    /// Stacks `mlps` (same layer sizes, all with biases), keeping their
    /// weights: model k of the stack starts exactly where `mlps[k]` is.
    pub fn from_mlps(mlps: &[Mlp]) -> Self {
        let first = mlps.first().expect("an MLP stack needs at least one model");
        let n_layers = first.layers.len();
        assert!(mlps.iter().all(|m| m.layers.len() == n_layers), "stacked MLPs must have the same depth");
        let stack_layer = |l: usize| {
            let weights: Vec<Tensor<2>> = mlps.iter().map(|m| m.layers[l].weight.val()).collect();
            let biases: Vec<Tensor<2>> = mlps
                .iter()
                .map(|m| m.layers[l].bias.as_ref().expect("stacked MLP layers need biases").val().unsqueeze_dim(0))
                .collect();
            (
                Param::from_tensor(Tensor::stack(weights, 0).detach()),
                Param::from_tensor(Tensor::stack(biases, 0).detach()),
            )
        };
        let (weights, biases) = (0..n_layers).map(stack_layer).unzip();
        let dropout = first.dropout.as_ref().map(|d| DropoutConfig::new(d.prob).init());
        Self { weights, biases, activation: first.activation, dropout }
    }

    pub fn n_models(&self) -> usize {
        self.weights[0].dims()[0]
    }

    /// `[n_models, batch, input] -> [n_models, batch, output]`: model k maps slice k.
    pub fn forward(&self, mut x: Tensor<3>) -> Tensor<3> {
        let last = self.weights.len() - 1;
        for (i, (w, b)) in self.weights.iter().zip(&self.biases).enumerate() {
            x = x.matmul(w.val()) + b.val();
            if i < last {
                x = self.activation.apply(x);
                if let Some(dropout) = &self.dropout {
                    x = dropout.forward(x);
                }
            }
        }
        x
    }

    /// Model `k` as a plain [`Mlp`] (its current weights, detached from the stack).
    pub fn model(&self, k: usize) -> Mlp {
        let layers = self
            .weights
            .iter()
            .zip(&self.biases)
            .map(|(w, b)| {
                let [_, input, output] = w.dims();
                // Detach last: burn's autodiff tracks ops on detached inputs
                // again, and a parameter must be a leaf.
                let weight = w.val().narrow(0, k, 1).reshape([input, output]).detach();
                let bias = b.val().narrow(0, k, 1).reshape([output]).detach();
                Linear { weight: Param::from_tensor(weight), bias: Some(Param::from_tensor(bias)) }
            })
            .collect();
        let dropout = self.dropout.as_ref().map(|d| DropoutConfig::new(d.prob).init());
        Mlp { layers, activation: self.activation, dropout }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::MlpConfig;
    use burn::tensor::Distribution;

    #[test]
    fn each_slice_is_its_own_model_and_unstacking_round_trips() {
        let dev = crate::device::default_device();
        dev.seed(3);
        let mlps: Vec<Mlp> = (0..3).map(|_| MlpConfig::new(&[4, 5, 2]).init(&dev)).collect();
        let stack = MlpStack::from_mlps(&mlps);
        assert_eq!(stack.n_models(), 3);
        let x = Tensor::<3>::random([3, 6, 4], Distribution::Normal(0.0, 1.0), &dev);
        let y = stack.forward(x.clone());
        for (k, mlp) in mlps.iter().enumerate() {
            let xk: Tensor<2> = x.clone().narrow(0, k, 1).reshape([6, 4]);
            let yk: Tensor<2> = y.clone().narrow(0, k, 1).reshape([6, 2]);
            let values = |t: Tensor<2>| t.into_data().try_to_vec::<f32>().unwrap();
            let (stacked, alone, unstacked) =
                (values(yk), values(mlp.forward(xk.clone())), values(stack.model(k).forward(xk)));
            for ((a, b), c) in stacked.iter().zip(&alone).zip(&unstacked) {
                assert!((a - b).abs() < 1e-5 && (a - c).abs() < 1e-5, "model {k}: {a} {b} {c}");
            }
        }
    }
}

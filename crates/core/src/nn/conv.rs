//! Convolutional unit: 3x3 conv (padding 1) -> optional instance norm ->
//! ReLU -> optional 2x2 average pool. Stacked, this is the ConvNet that
//! dataset-distillation papers (DC, DSA, DOORPING) use.

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::pool::{AvgPool2d, AvgPool2dConfig};
use burn::nn::{InstanceNorm, InstanceNormConfig, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

/// Normalisation after the convolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Norm {
    None,
    /// Instance norm with affine parameters (the DC ConvNet's default).
    Instance,
}

#[derive(Debug, Clone, Copy)]
pub struct ConvBlockConfig {
    pub in_channels: usize,
    pub out_channels: usize,
    pub norm: Norm,
    pub pool: bool,
}

impl ConvBlockConfig {
    pub fn new(in_channels: usize, out_channels: usize) -> Self {
        Self { in_channels, out_channels, norm: Norm::Instance, pool: true }
    }

    pub fn init(&self, device: &Device) -> ConvBlock {
        ConvBlock {
            conv: Conv2dConfig::new([self.in_channels, self.out_channels], [3, 3])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(device),
            norm: (self.norm == Norm::Instance).then(|| InstanceNormConfig::new(self.out_channels).init(device)),
            pool: self.pool.then(|| AvgPool2dConfig::new([2, 2]).init()),
        }
    }
}

#[derive(Module, Debug)]
pub struct ConvBlock {
    pub conv: Conv2d,
    pub norm: Option<InstanceNorm>,
    pub pool: Option<AvgPool2d>,
}

impl ConvBlock {
    /// `[batch, in, h, w] -> [batch, out, h/2, w/2]` (or `h, w` without pooling).
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let mut x = self.conv.forward(x);
        if let Some(norm) = &self.norm {
            x = norm.forward(x);
        }
        x = relu(x);
        match &self.pool {
            Some(pool) => pool.forward(x),
            None => x,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Distribution;

    #[test]
    fn halves_the_spatial_size() {
        let dev = crate::device::default_device();
        let block = ConvBlockConfig::new(1, 4).init(&dev);
        let x = Tensor::<4>::random([2, 1, 8, 8], Distribution::Normal(0.0, 1.0), &dev);
        let y = block.forward(x);
        assert_eq!(y.dims(), [2, 4, 4, 4]);
        let min: f32 = y.min().into_scalar();
        assert!(min >= 0.0, "ReLU output must be non-negative");
    }
}

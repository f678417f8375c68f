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

/// A small ConvNet for square images given as flat feature rows
/// (`channels * side * side` values, channel-major): conv blocks that halve
/// the side, then a linear head. For 8x8 digits with widths [16, 32]:
/// 1x8x8 -> 16x4x4 -> 32x2x2 -> 10 logits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConvNetConfig {
    pub channels: usize,
    pub side: usize,
    pub widths: Vec<usize>,
    pub n_classes: usize,
}

impl ConvNetConfig {
    pub fn init(&self, device: &Device) -> ConvNet {
        let mut blocks = Vec::new();
        let mut c = self.channels;
        for &w in &self.widths {
            blocks.push(ConvBlockConfig::new(c, w).init(device));
            c = w;
        }
        let side = self.side >> self.widths.len();
        assert!(side >= 1, "too many pooling blocks for a {0}x{0} image", self.side);
        ConvNet {
            blocks,
            head: burn::nn::LinearConfig::new(c * side * side, self.n_classes).init(device),
            channels: self.channels,
            side: self.side,
        }
    }
}

#[derive(Module, Debug)]
pub struct ConvNet {
    pub blocks: Vec<ConvBlock>,
    pub head: burn::nn::Linear,
    pub channels: usize,
    pub side: usize,
}

impl ConvNet {
    /// `[batch, channels * side * side] -> [batch, n_classes]`.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let [b, _] = x.dims();
        let mut h = x.reshape([b, self.channels, self.side, self.side]);
        for block in &self.blocks {
            h = block.forward(h);
        }
        let [b, c, hh, ww] = h.dims();
        self.head.forward(h.reshape([b, c * hh * ww]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Distribution;

    #[test]
    fn convnet_maps_flat_8x8_images_to_logits() {
        let dev = crate::device::default_device();
        let net = ConvNetConfig { channels: 1, side: 8, widths: vec![4, 8], n_classes: 10 }.init(&dev);
        let x = Tensor::<2>::random([3, 64], Distribution::Normal(0.0, 1.0), &dev);
        assert_eq!(net.forward(x).dims(), [3, 10]);
        assert_eq!(net.head.weight.dims(), [8 * 2 * 2, 10]);
    }

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

//! Pre-norm transformer encoder block (ViT / GPT-2 style):
//! x + Attn(LN(x)), then x + MLP(LN(x)) with a GELU MLP of width `mlp_ratio * d`.

use super::attention::{Attention, AttentionConfig, KvCache};
use super::mlp::{Activation, Mlp, MlpConfig};
use burn::module::Module;
use burn::nn::{LayerNorm, LayerNormConfig};
use burn::tensor::{Bool, Device, Tensor};

#[derive(Debug, Clone, Copy)]
pub struct EncoderBlockConfig {
    pub d_model: usize,
    pub n_heads: usize,
    pub mlp_ratio: usize,
}

impl EncoderBlockConfig {
    pub fn new(d_model: usize, n_heads: usize) -> Self {
        Self { d_model, n_heads, mlp_ratio: 4 }
    }

    pub fn init(&self, device: &Device) -> EncoderBlock {
        EncoderBlock {
            norm1: LayerNormConfig::new(self.d_model).with_epsilon(1e-6).init(device),
            attention: AttentionConfig::new(self.d_model, self.n_heads).init(device),
            norm2: LayerNormConfig::new(self.d_model).with_epsilon(1e-6).init(device),
            mlp: MlpConfig::new(&[self.d_model, self.d_model * self.mlp_ratio, self.d_model])
                .with_activation(Activation::Gelu)
                .init(device),
        }
    }
}

#[derive(Module, Debug)]
pub struct EncoderBlock {
    pub norm1: LayerNorm,
    pub attention: Attention,
    pub norm2: LayerNorm,
    pub mlp: Mlp,
}

/// A block's output and its attention internals.
pub struct EncoderOutput {
    pub hidden: Tensor<3>,
    pub attention: super::AttentionOutput,
}

impl EncoderBlock {
    /// `[batch, tokens, d_model] -> same`, with the block's attention maps.
    pub fn forward(&self, x: Tensor<3>, mask: Option<Tensor<3, Bool>>) -> EncoderOutput {
        let h = self.norm1.forward(x.clone());
        let attention = self.attention.forward(h.clone(), h, mask);
        self.finish(x, attention)
    }

    /// [`EncoderBlock::forward`] for new tokens after cached ones (see
    /// [`Attention::forward_cached`]): incremental decoding.
    pub fn forward_cached(
        &self,
        x: Tensor<3>,
        cache: Option<KvCache>,
        mask: Option<Tensor<3, Bool>>,
    ) -> (EncoderOutput, KvCache) {
        let (attention, cache) = self.attention.forward_cached(self.norm1.forward(x.clone()), cache, mask);
        (self.finish(x, attention), cache)
    }

    /// The residual around attention, then the MLP half.
    fn finish(&self, x: Tensor<3>, attention: super::AttentionOutput) -> EncoderOutput {
        let x = x + attention.context.clone();
        let hidden = x.clone() + self.mlp.forward(self.norm2.forward(x));
        EncoderOutput { hidden, attention }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Distribution;

    #[test]
    fn block_keeps_shape_and_exposes_attention() {
        let dev = crate::device::default_device();
        let block = EncoderBlockConfig::new(16, 4).init(&dev);
        let x = Tensor::<3>::random([2, 7, 16], Distribution::Normal(0.0, 1.0), &dev);
        let out = block.forward(x, None);
        assert_eq!(out.hidden.dims(), [2, 7, 16]);
        assert_eq!(out.attention.weights.dims(), [2, 4, 7, 7]);
    }
}

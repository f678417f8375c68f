//! Multi-head scaled dot-product attention that returns what relation
//! distillation and attention visualisation need: the attention maps and
//! the per-head Q, K, V.

use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::softmax;
use burn::tensor::{Bool, Device, Tensor};

#[derive(Debug, Clone, Copy)]
pub struct AttentionConfig {
    pub d_model: usize,
    pub n_heads: usize,
}

impl AttentionConfig {
    pub fn new(d_model: usize, n_heads: usize) -> Self {
        Self { d_model, n_heads }
    }

    pub fn init(&self, device: &Device) -> Attention {
        assert!(self.d_model.is_multiple_of(self.n_heads), "d_model must be divisible by n_heads");
        let lin = || LinearConfig::new(self.d_model, self.d_model).init(device);
        Attention { query: lin(), key: lin(), value: lin(), output: lin(), n_heads: self.n_heads }
    }
}

#[derive(Module, Debug)]
pub struct Attention {
    pub query: Linear,
    pub key: Linear,
    pub value: Linear,
    pub output: Linear,
    pub n_heads: usize,
}

/// Everything one attention call computed.
pub struct AttentionOutput {
    /// `[batch, n_query, d_model]`, after the output projection.
    pub context: Tensor<3>,
    /// Softmax attention maps `[batch, heads, n_query, n_key]`.
    pub weights: Tensor<4>,
    /// Per-head projections `[batch, heads, n, d_head]`.
    pub q: Tensor<4>,
    pub k: Tensor<4>,
    pub v: Tensor<4>,
}

impl Attention {
    fn heads(&self, x: Tensor<3>) -> Tensor<4> {
        let [b, n, d] = x.dims();
        x.reshape([b, n, self.n_heads, d / self.n_heads]).swap_dims(1, 2)
    }

    /// Attention of `x_q` over `x_kv`. `mask` (`[batch, n_query, n_key]`,
    /// true = blocked) keeps a query from attending to masked keys; every
    /// query must keep at least one key (masked scores are -inf, which
    /// also spares the exponential its slow underflow path).
    pub fn forward(&self, x_q: Tensor<3>, x_kv: Tensor<3>, mask: Option<Tensor<3, Bool>>) -> AttentionOutput {
        let q = self.heads(self.query.forward(x_q));
        let k = self.heads(self.key.forward(x_kv.clone()));
        let v = self.heads(self.value.forward(x_kv));
        self.attend(q, k, v, mask)
    }

    /// Self-attention of new tokens `x` (`[batch, n_new, d]`) over the
    /// cached tokens and themselves, for incremental decoding: the keys and
    /// values of earlier tokens are reused, not recomputed. `mask` is
    /// `[batch, n_new, cached + n_new]` (none needed for one new token).
    /// Returns the output and the cache extended by the new tokens.
    pub fn forward_cached(
        &self,
        x: Tensor<3>,
        cache: Option<KvCache>,
        mask: Option<Tensor<3, Bool>>,
    ) -> (AttentionOutput, KvCache) {
        let q = self.heads(self.query.forward(x.clone()));
        let mut k = self.heads(self.key.forward(x.clone()));
        let mut v = self.heads(self.value.forward(x));
        if let Some(cache) = cache {
            k = Tensor::cat(vec![cache.k, k], 2);
            v = Tensor::cat(vec![cache.v, v], 2);
        }
        let out = self.attend(q, k.clone(), v.clone(), mask);
        (out, KvCache { k, v })
    }

    /// softmax(q k^T / sqrt(d_head), masked) v, heads merged and projected.
    fn attend(&self, q: Tensor<4>, k: Tensor<4>, v: Tensor<4>, mask: Option<Tensor<3, Bool>>) -> AttentionOutput {
        let [b, heads, n_q, d_head] = q.dims();
        let mut scores = q.clone().matmul(k.clone().swap_dims(2, 3)).div_scalar((d_head as f64).sqrt());
        if let Some(mask) = mask {
            let [mb, mq, mk] = mask.dims();
            let mask = mask.reshape([mb, 1, mq, mk]).expand([mb, self.n_heads, mq, mk]);
            scores = scores.mask_fill(mask, f32::NEG_INFINITY);
        }
        let weights = softmax(scores, 3);
        let context = weights.clone().matmul(v.clone()).swap_dims(1, 2).reshape([b, n_q, heads * d_head]);
        AttentionOutput { context: self.output.forward(context), weights, q, k, v }
    }

    /// Self-attention.
    pub fn self_attention(&self, x: Tensor<3>) -> AttentionOutput {
        self.forward(x.clone(), x, None)
    }
}

/// Per-head keys and values of the tokens decoded so far,
/// `[batch, heads, tokens, d_head]` each.
#[derive(Debug, Clone)]
pub struct KvCache {
    pub k: Tensor<4>,
    pub v: Tensor<4>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::{Distribution, TensorData};

    #[test]
    fn shapes_and_rows_of_attention_sum_to_one() {
        let dev = crate::device::default_device();
        let att = AttentionConfig::new(8, 2).init(&dev);
        let x = Tensor::<3>::random([3, 5, 8], Distribution::Normal(0.0, 1.0), &dev);
        let out = att.self_attention(x);
        assert_eq!(out.context.dims(), [3, 5, 8]);
        assert_eq!(out.weights.dims(), [3, 2, 5, 5]);
        assert_eq!(out.q.dims(), [3, 2, 5, 4]);
        let sums: Vec<f32> = out.weights.sum_dim(3).into_data().try_to_vec().unwrap();
        assert!(sums.iter().all(|s| (s - 1.0).abs() < 1e-5));
    }

    #[test]
    fn masked_keys_get_zero_weight() {
        let dev = crate::device::default_device();
        let att = AttentionConfig::new(4, 1).init(&dev);
        let x = Tensor::<3>::random([1, 3, 4], Distribution::Normal(0.0, 1.0), &dev);
        // block key 2 for every query
        let mask = Tensor::<3, Bool>::from_data(
            TensorData::new(vec![false, false, true, false, false, true, false, false, true], [1, 3, 3]),
            &dev,
        );
        let w: Vec<f32> = att.forward(x.clone(), x, Some(mask)).weights.into_data().try_to_vec().unwrap();
        assert!(w[2] < 1e-6 && w[5] < 1e-6 && w[8] < 1e-6, "{w:?}");
    }

    /// Decoding token by token with the cache gives the causal attention
    /// of the whole sequence at once.
    #[test]
    fn cached_decoding_equals_causal_attention() {
        let dev = crate::device::default_device();
        let att = AttentionConfig::new(8, 2).init(&dev);
        let x = Tensor::<3>::random([2, 4, 8], Distribution::Normal(0.0, 1.0), &dev);
        let causal: Vec<bool> = (0..16).map(|k| k % 4 > k / 4).collect();
        let mask = Tensor::<3, Bool>::from_data(TensorData::new(causal, [1, 4, 4]), &dev).expand([2, 4, 4]);
        let full: Vec<f32> = att.forward(x.clone(), x.clone(), Some(mask)).context.into_data().try_to_vec().unwrap();
        let mut cache = None;
        let mut steps = Vec::new();
        for t in 0..4 {
            let (out, next) = att.forward_cached(x.clone().slice([0..2, t..t + 1]), cache, None);
            steps.push(out.context);
            cache = Some(next);
        }
        let cached: Vec<f32> = Tensor::cat(steps, 1).into_data().try_to_vec().unwrap();
        for (a, b) in full.iter().zip(&cached) {
            assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        }
    }
}

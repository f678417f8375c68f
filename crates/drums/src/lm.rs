//! A small decoder-only Transformer language model (GPT-2 layout: token and
//! learned position embeddings, pre-norm blocks with causal self-attention,
//! a final layer norm and a linear head), its training loop and sampling
//! with temperature and top-p.

use crate::tokens::{PAD, VOCAB};
use anyhow::Result;
use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::nn::{Embedding, EmbeddingConfig, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::tensor::{Bool, Device, Int, Tensor, TensorData};
use reprolab_core::nn::{EncoderBlock, EncoderBlockConfig, KvCache};
use reprolab_core::train::OptimizerConfig;
use serde::{Deserialize, Serialize};

/// Model size (the paper's models were GPT-3 davinci and ada, whose sizes
/// it does not state; these are ours).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LmConfig {
    /// Width of the embeddings and blocks (paper: not stated; ours 32 to 128).
    pub d_model: usize,
    /// Attention heads per block; must divide `d_model` (paper: not stated).
    pub n_heads: usize,
    /// Transformer blocks (paper: not stated; ours 1 to 4).
    pub n_layers: usize,
    /// Longest sequence in tokens: a groove of the paper's LM format is at
    /// most 272 tokens, 256 lines, 15 SEP and END (paper: GPT-3's own
    /// context; ours 288).
    pub context: usize,
}

impl LmConfig {
    pub fn init(&self, device: &Device) -> Lm {
        Lm {
            tokens: EmbeddingConfig::new(VOCAB, self.d_model).init(device),
            positions: EmbeddingConfig::new(self.context, self.d_model).init(device),
            blocks: (0..self.n_layers)
                .map(|_| EncoderBlockConfig::new(self.d_model, self.n_heads).init(device))
                .collect(),
            norm: LayerNormConfig::new(self.d_model).init(device),
            head: LinearConfig::new(self.d_model, VOCAB).init(device),
        }
    }
}

#[derive(Module, Debug)]
pub struct Lm {
    pub tokens: Embedding,
    pub positions: Embedding,
    pub blocks: Vec<EncoderBlock>,
    pub norm: LayerNorm,
    pub head: Linear,
}

impl Lm {
    /// Next-token logits `[batch, t, VOCAB]` for tokens `[batch, t]`.
    pub fn forward(&self, tokens: Tensor<2, Int>) -> Tensor<3> {
        // A whole sequence is the cached pass with nothing cached yet.
        self.forward_cached(tokens, 0, Vec::new()).0
    }

    /// Logits of new tokens `[batch, n]` at positions `start..start + n`
    /// after the cached ones (one cache per block; empty = none yet), and
    /// the extended caches: decoding one token costs one token's work.
    pub fn forward_cached(
        &self,
        tokens: Tensor<2, Int>,
        start: usize,
        caches: Vec<KvCache>,
    ) -> (Tensor<3>, Vec<KvCache>) {
        let [b, n] = tokens.dims();
        let device = tokens.device();
        let positions =
            Tensor::<1, Int>::arange(start as i64..(start + n) as i64, &device).reshape([1, n]).expand([b, n]);
        let mut x = self.tokens.forward(tokens) + self.positions.forward(positions);
        // New tokens see every cached token and the new ones up to themselves.
        let mask = (n > 1).then(|| {
            let total = start + n;
            let data: Vec<bool> = (0..n * total).map(|k| k % total > start + k / total).collect();
            Tensor::<3, Bool>::from_data(TensorData::new(data, [1, n, total]), &device).expand([b, n, total])
        });
        let mut caches = caches.into_iter().map(Some).chain(std::iter::repeat(None));
        let mut next = Vec::with_capacity(self.blocks.len());
        for block in &self.blocks {
            let (out, cache) = block.forward_cached(x, caches.next().flatten(), mask.clone());
            x = out.hidden;
            next.push(cache);
        }
        (self.head.forward(self.norm.forward(x)), next)
    }

    pub fn context(&self) -> usize {
        self.positions.weight.dims()[0]
    }
}

/// How to train (the paper fine-tuned through OpenAI's API and states no
/// training settings).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LmTrainConfig {
    /// Passes over the sequences (paper: not stated).
    pub epochs: usize,
    /// Sequences per optimiser step (paper: not stated; ours 16).
    pub batch_size: usize,
    /// Optimiser and learning rate (paper: not stated; ours Adam, 1e-3).
    pub optimizer: OptimizerConfig,
}

/// `[rows, t]` token tensor from `seqs` (each cut to `t`, padded with PAD).
fn batch_tensor(seqs: &[&[usize]], t: usize, device: &Device) -> Tensor<2, Int> {
    let mut data = Vec::with_capacity(seqs.len() * t);
    for s in seqs {
        data.extend(s.iter().take(t).map(|&x| x as i64));
        data.extend(std::iter::repeat_n(PAD as i64, t.saturating_sub(s.len())));
    }
    Tensor::from_data(TensorData::new(data, [seqs.len(), t]), device)
}

/// The training objective, the mean next-token cross-entropy of `seqs`
/// over the non-padding targets:
///
/// `L = -(1 / |T|) * sum_{(j, t) in T} log p_theta(x_{j,t} | x_{j,<t})`,
///
/// T the positions `t >= 1` of every sequence j (cut at `context + 1`
/// tokens) whose token is not `PAD`. `device` must match the model's.
pub fn sequence_loss(model: &Lm, seqs: &[&[usize]], device: &Device) -> Tensor<1> {
    let t = seqs.iter().map(|s| s.len()).max().unwrap_or(1).min(model.context() + 1);
    let all = batch_tensor(seqs, t, device);
    let b = seqs.len();
    let inputs = all.clone().slice([0..b, 0..t - 1]);
    let targets = all.slice([0..b, 1..t]).reshape([b * (t - 1)]);
    let logits = model.forward(inputs).reshape([b * (t - 1), VOCAB]);
    CrossEntropyLossConfig::new().with_pad_tokens(Some(vec![PAD])).init(device).forward(logits, targets)
}

/// Mean next-token loss of `seqs` without gradients (batches of 16).
pub fn evaluate(model: &Lm, seqs: &[Vec<usize>], device: &Device) -> f64 {
    let model = model.valid();
    let plain = device.clone().without_autodiff();
    let (mut total, mut n) = (0.0, 0usize);
    for chunk in seqs.chunks(16) {
        let refs: Vec<&[usize]> = chunk.iter().map(Vec::as_slice).collect();
        let loss: f32 = sequence_loss(&model, &refs, &plain).into_scalar();
        total += f64::from(loss) * chunk.len() as f64;
        n += chunk.len();
    }
    total / n.max(1) as f64
}

/// The unigram floor of the preconditions: the loss [`evaluate`] would
/// report for a unigram model, the token frequencies of `train` add-one
/// smoothed over the ids in `support`,
///
/// `p(v) = (c(v) + 1) / sum_{u in support} (c(u) + 1)` (a target outside
/// the support counts as `c = 0`),
///
/// scored on the same targets as [`evaluate`] (each sequence's tokens after
/// the first, cut at `context + 1`, `PAD` skipped) with the same batching:
///
/// `L = sum_b n_b * (-(1 / |T_b|) * sum_{x in T_b} log p(x)) / sum_b n_b`
///
/// over batches b of 16 sequences (`n_b` sequences, targets `T_b`). A
/// model whose loss is not below it has learnt nothing about the order of
/// the tokens.
pub fn unigram_loss(train: &[Vec<usize>], eval: &[Vec<usize>], support: std::ops::Range<usize>, context: usize) -> f64 {
    let mut counts = vec![1.0f64; support.len()];
    for &tok in train.iter().flatten() {
        if support.contains(&tok) {
            counts[tok - support.start] += 1.0;
        }
    }
    let total: f64 = counts.iter().sum();
    let (mut sum, mut n) = (0.0, 0usize);
    for chunk in eval.chunks(16) {
        let targets: Vec<usize> =
            chunk.iter().flat_map(|s| s.iter().take(context + 1).skip(1).copied()).filter(|&tok| tok != PAD).collect();
        // Targets outside the support get the smallest smoothed count.
        let nll: f64 = targets
            .iter()
            .map(|&tok| {
                let c = if support.contains(&tok) { counts[tok - support.start] } else { 1.0 };
                -(c / total).ln()
            })
            .sum();
        sum += nll / targets.len().max(1) as f64 * chunk.len() as f64;
        n += chunk.len();
    }
    sum / n.max(1) as f64
}

/// Where a training loop reports what it measured: `(step, name, value)`,
/// `step` the optimiser steps taken before the value was measured (`drums
/// train` writes them to `metrics.jsonl`; the experiment passes none, so
/// its numbers do not depend on logging).
pub type StepLog<'a> = &'a mut dyn FnMut(usize, &str, f64) -> Result<()>;

/// Optimiser steps [`train`] takes on `n` sequences: every epoch covers
/// them in batches of `cfg.batch_size`, the last one possibly smaller.
pub fn steps(n: usize, cfg: &LmTrainConfig) -> usize {
    cfg.epochs * n.div_ceil(cfg.batch_size.max(1))
}

/// Trains `model` on `seqs` (whole sequences, shuffled each epoch) and
/// returns it with the mean loss of each epoch. `device` must be autodiff.
/// With `log`, reports `lr` at the start of each epoch and every batch's
/// `loss` at its step (one extra read of a scalar per step; the training
/// is the same).
pub fn train(
    mut model: Lm,
    seqs: &[Vec<usize>],
    cfg: &LmTrainConfig,
    seed: u64,
    device: &Device,
    label: &str,
    mut log: Option<StepLog>,
) -> Result<(Lm, Vec<f64>)> {
    if seqs.is_empty() {
        reprolab_core::user_bail!("{label}: no training sequences");
    }
    let mut optim = cfg.optimizer.build();
    let mut rng = reprolab_core::rng::rng(reprolab_core::rng::derive_seed(seed, "lm-batches"));
    let bar = reprolab_core::progress::bar(cfg.epochs as u64, label);
    let (mut step, mut losses) = (0, Vec::new());
    for epoch in 0..cfg.epochs {
        let batches = reprolab_core::data::batch::shuffled_batches(seqs.len(), cfg.batch_size, false, &mut rng);
        if let Some(log) = log.as_mut() {
            log(step, "lr", cfg.optimizer.lr())?;
        }
        // train_epoch holds the step counter while it runs; the loss
        // closure counts its own calls, one per step.
        let (mut batch_step, mut failed) = (step, None);
        let (next, mean) = reprolab_core::train::train_epoch(
            model,
            &mut optim,
            batches,
            &mut step,
            |_| cfg.optimizer.lr(),
            &format!("{label}, epoch {epoch}"),
            |m, rows| {
                let loss = sequence_loss(m, &rows.iter().map(|&r| seqs[r].as_slice()).collect::<Vec<_>>(), device);
                if let Some(log) = log.as_mut() {
                    let value: f32 = loss.clone().into_scalar();
                    if let Err(e) = log(batch_step, "loss", f64::from(value)) {
                        failed.get_or_insert(e);
                    }
                    batch_step += 1;
                }
                loss
            },
        )?;
        if let Some(e) = failed {
            return Err(e);
        }
        model = next;
        losses.push(mean);
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok((model, losses))
}

/// Sampling settings (the paper sampled GPT-3 at temperature 0.9).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SampleConfig {
    /// Softmax temperature T (paper: 0.9).
    pub temperature: f64,
    /// Nucleus sampling: keep the smallest set of tokens whose probability
    /// reaches `top_p` (1 = off; paper: not stated, so off).
    pub top_p: f64,
    /// Most tokens to generate; generation also stops at `END` (paper:
    /// stop at END, no limit stated; ours 240, enough for a completion:
    /// 14 measures of 16 lines and a SEP, then END).
    pub max_tokens: usize,
}

/// Draws one token from `logits` (host values) under `cfg`, restricted to
/// `allowed` ids: temperature softmax then nucleus (top-p) truncation,
///
/// `p_i = exp((z_i - max_j z_j) / T) / sum_{j in allowed} exp((z_j - max z) / T)`,
///
/// keep the most probable tokens (ties by smaller id) until their mass
/// reaches `top_p`, renormalise, and return the first token whose
/// cumulative probability exceeds the uniform draw `u`.
pub fn sample_token(logits: &[f32], allowed: &[usize], cfg: &SampleConfig, u: f64) -> usize {
    let temperature = cfg.temperature.max(1e-6);
    let max = allowed.iter().map(|&i| f64::from(logits[i])).fold(f64::NEG_INFINITY, f64::max);
    let mut probs: Vec<(usize, f64)> =
        allowed.iter().map(|&i| (i, ((f64::from(logits[i]) - max) / temperature).exp())).collect();
    let total: f64 = probs.iter().map(|p| p.1).sum();
    probs.iter_mut().for_each(|p| p.1 /= total);
    probs.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut kept = 0.0;
    let mut cut = probs.len();
    for (k, p) in probs.iter().enumerate() {
        kept += p.1;
        if kept >= cfg.top_p {
            cut = k + 1;
            break;
        }
    }
    let probs = &probs[..cut];
    let mass: f64 = probs.iter().map(|p| p.1).sum();
    let mut acc = 0.0;
    for p in probs {
        acc += p.1 / mass;
        if u < acc {
            return p.0;
        }
    }
    probs[probs.len() - 1].0
}

/// Continues every prompt (all the same length) until `END` or
/// `cfg.max_tokens`, sampling only groove tokens (lines, `SEP`, `END`).
/// Returns the generated tokens of each prompt.
pub fn generate(model: &Lm, prompts: &[Vec<usize>], cfg: &SampleConfig, seed: u64, device: &Device) -> Vec<Vec<usize>> {
    use rand::RngExt;
    let model = model.valid();
    let plain = device.clone().without_autodiff();
    let allowed: Vec<usize> = (crate::tokens::LINE0..=crate::tokens::END).collect();
    let mut rng = reprolab_core::rng::rng(reprolab_core::rng::derive_seed(seed, "sampling"));
    let mut seqs: Vec<Vec<usize>> = prompts.to_vec();
    let mut done = vec![false; prompts.len()];
    let start = prompts.iter().map(Vec::len).max().unwrap_or(0);
    let b = seqs.len();
    // The prompts go in at once; then one token per step, with the cache.
    let refs: Vec<&[usize]> = seqs.iter().map(Vec::as_slice).collect();
    let (mut logits, mut caches) = model.forward_cached(batch_tensor(&refs, start, &plain), 0, Vec::new());
    for _ in 0..cfg.max_tokens {
        let t = seqs[0].len();
        if done.iter().all(|&d| d) || t >= model.context() {
            break;
        }
        let n = logits.dims()[1];
        let last: Vec<f32> = logits.slice([0..b, n - 1..n]).into_data().try_to_vec().expect("f32 logits");
        for (k, seq) in seqs.iter_mut().enumerate() {
            let u: f64 = rng.random();
            let token = if done[k] {
                crate::tokens::PAD
            } else {
                sample_token(&last[k * VOCAB..(k + 1) * VOCAB], &allowed, cfg, u)
            };
            done[k] |= token == crate::tokens::END;
            seq.push(token);
        }
        let newest: Vec<&[usize]> = seqs.iter().map(|s| &s[t..]).collect();
        (logits, caches) = model.forward_cached(batch_tensor(&newest, 1, &plain), t, caches);
    }
    seqs.into_iter().map(|s| s[start..].iter().copied().take_while(|&x| x != crate::tokens::PAD).collect()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_unigram_floor_is_the_cross_entropy_of_smoothed_frequencies() {
        // train: token 0 three times, token 1 once; add-one over {0, 1}: p = 4/6, 2/6
        let train = vec![vec![0, 0, 0, 1]];
        let eval = vec![vec![9, 0, 1]]; // the first token is not a target
        let want = -((4.0f64 / 6.0).ln() + (2.0f64 / 6.0).ln()) / 2.0;
        assert!((unigram_loss(&train, &eval, 0..2, 16) - want).abs() < 1e-12);
        // cut at context + 1 tokens: only the target 0 remains
        assert!((unigram_loss(&train, &eval, 0..2, 1) + (4.0f64 / 6.0).ln()).abs() < 1e-12);
    }

    #[test]
    fn top_p_keeps_the_nucleus_and_temperature_sharpens() {
        let cfg = SampleConfig { temperature: 1.0, top_p: 0.5, max_tokens: 1 };
        // probabilities ~ 0.64, 0.24, 0.09, 0.03: top-p 0.5 keeps only the first
        let logits = [3.0f32, 2.0, 1.0, 0.0];
        for u in [0.0, 0.5, 0.99] {
            assert_eq!(sample_token(&logits, &[0, 1, 2, 3], &cfg, u), 0);
        }
        let full = SampleConfig { top_p: 1.0, ..cfg.clone() };
        assert_eq!(sample_token(&logits, &[0, 1, 2, 3], &full, 0.99), 3);
        assert_eq!(sample_token(&logits, &[1, 2], &full, 0.0), 1, "only allowed ids");
    }

    #[test]
    fn the_model_is_causal_and_learns_a_repeating_sequence() {
        let device = reprolab_core::device::default_device();
        device.seed(1);
        let ad = device.clone().autodiff();
        let cfg = LmConfig { d_model: 32, n_heads: 2, n_layers: 1, context: 16 };
        let model = cfg.init(&ad);
        // changing a later token must not change earlier logits
        let a = Tensor::<2, Int>::from_data(TensorData::new(vec![1i64, 2, 3, 4], [1, 4]), &device);
        let b = Tensor::<2, Int>::from_data(TensorData::new(vec![1i64, 2, 3, 9], [1, 4]), &device);
        let plain = model.valid();
        let la: Vec<f32> = plain.forward(a).slice([0..1, 0..3]).into_data().try_to_vec().unwrap();
        let lb: Vec<f32> = plain.forward(b).slice([0..1, 0..3]).into_data().try_to_vec().unwrap();
        assert!(la.iter().zip(&lb).all(|(x, y)| (x - y).abs() < 1e-5));
        let seq: Vec<usize> = (0..16).map(|i| [300, 301, 320][i % 3]).collect();
        let train_cfg = LmTrainConfig { epochs: 150, batch_size: 4, optimizer: OptimizerConfig::adam(3e-3) };
        let (model, losses) = train(model, &vec![seq.clone(); 4], &train_cfg, 0, &ad, "test", None).unwrap();
        assert!(losses.last().unwrap() < &0.1, "{losses:?}");
        // the cached forward pass gives the full pass's logits
        let plain = model.valid();
        let ids = Tensor::<2, Int>::from_data(TensorData::new(vec![300i64, 301, 320, 300, 301], [1, 5]), &device);
        let full: Vec<f32> = plain.forward(ids.clone()).into_data().try_to_vec().unwrap();
        let (head, caches) = plain.forward_cached(ids.clone().slice([0..1, 0..3]), 0, Vec::new());
        let (tail, _) = plain.forward_cached(ids.slice([0..1, 3..5]), 3, caches);
        let cached: Vec<f32> = Tensor::cat(vec![head, tail], 1).into_data().try_to_vec().unwrap();
        assert!(full.iter().zip(&cached).all(|(a, b)| (a - b).abs() < 1e-4));
        let sample = SampleConfig { temperature: 0.9, top_p: 1.0, max_tokens: 6 };
        let out = generate(&model, &[seq[..4].to_vec()], &sample, 0, &ad);
        assert_eq!(out[0], seq[4..10].to_vec());
    }
}

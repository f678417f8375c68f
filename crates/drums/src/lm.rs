//! A small decoder-only Transformer language model (GPT-2 layout: token and
//! learned position embeddings, pre-norm blocks with causal self-attention,
//! a final layer norm and a linear head), its training loop and sampling
//! with temperature and top-p.

use crate::tokens::{PAD, VOCAB};
use anyhow::Result;
use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::nn::{Embedding, EmbeddingConfig, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::optim::ModuleOptimizer;
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
        let (hidden, caches) = self.hidden_cached(tokens, start, caches);
        (self.head.forward(hidden), caches)
    }

    /// The final-layer-norm hidden states `[batch, t, d_model]` of a whole
    /// sequence (what the head reads).
    pub fn hidden(&self, tokens: Tensor<2, Int>) -> Tensor<3> {
        self.hidden_cached(tokens, 0, Vec::new()).0
    }

    /// [`Lm::forward_cached`] before the head.
    fn hidden_cached(&self, tokens: Tensor<2, Int>, start: usize, caches: Vec<KvCache>) -> (Tensor<3>, Vec<KvCache>) {
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
        (self.norm.forward(x), next)
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
/// over the scored targets:
///
/// `L = -(1 / |T|) * sum_{(j, t) in T} log p_theta(x_{j,t} | x_{j,<t})`,
///
/// T the positions `t >= max(1, loss_from)` of every sequence j (cut at
/// `context + 1` tokens) whose token is not `PAD`. `loss_from` > 0 leaves
/// the prompt out of the loss: a groove's first [`crate::config::PROMPT_TOKENS`]
/// tokens are its 2-measure prompt, which the model is given, not asked
/// to write (OpenAI's fine-tuning trained on the completion; its
/// `prompt_loss_weight` defaulted to 0.01). `device` must match the
/// model's.
pub fn sequence_loss(model: &Lm, seqs: &[&[usize]], loss_from: usize, device: &Device) -> Tensor<1> {
    let t = seqs.iter().map(|s| s.len()).max().unwrap_or(1).min(model.context() + 1);
    let b = seqs.len();
    let inputs = batch_tensor(seqs, t - 1, device);
    let targets: Vec<i64> = seqs
        .iter()
        .flat_map(|s| (1..t).map(move |p| if p >= loss_from && p < s.len() { s[p] } else { PAD }))
        .map(|x| x as i64)
        .collect();
    let targets = Tensor::from_data(TensorData::new(targets, [b * (t - 1)]), device);
    let logits = model.forward(inputs).reshape([b * (t - 1), VOCAB]);
    CrossEntropyLossConfig::new().with_pad_tokens(Some(vec![PAD])).init(device).forward(logits, targets)
}

/// The scored targets of `seq` in [`sequence_loss`] (cut at `context + 1`
/// tokens, from `max(1, loss_from)`, `PAD` skipped).
fn scored_targets(seq: &[usize], loss_from: usize, context: usize) -> impl Iterator<Item = usize> + '_ {
    seq.iter().take(context + 1).skip(loss_from.max(1)).copied().filter(|&tok| tok != PAD)
}

/// Mean next-token loss of `seqs` (targets from `loss_from`, as
/// [`sequence_loss`]) without gradients, in batches of 16 weighted by
/// their sequences; a batch with no scored target is skipped.
pub fn evaluate(model: &Lm, seqs: &[Vec<usize>], loss_from: usize, device: &Device) -> f64 {
    let model = model.valid();
    let plain = device.clone().without_autodiff();
    let (mut total, mut n) = (0.0, 0usize);
    for chunk in seqs.chunks(16) {
        if chunk.iter().all(|s| scored_targets(s, loss_from, model.context()).next().is_none()) {
            continue;
        }
        let refs: Vec<&[usize]> = chunk.iter().map(Vec::as_slice).collect();
        let loss: f32 = sequence_loss(&model, &refs, loss_from, &plain).into_scalar();
        total += f64::from(loss) * chunk.len() as f64;
        n += chunk.len();
    }
    total / n.max(1) as f64
}

/// The unigram floor of the preconditions: the loss [`evaluate`] would
/// report for a unigram model, the frequencies of the tokens of `train`
/// from position `loss_from` on, add-one smoothed over the ids in
/// `support`,
///
/// `p(v) = (c(v) + 1) / sum_{u in support} (c(u) + 1)` (a target outside
/// the support counts as `c = 0`),
///
/// scored on the same targets as [`evaluate`] (each sequence's tokens from
/// position `max(1, loss_from)`, cut at `context + 1`, `PAD` skipped) with
/// the same batching:
///
/// `L = sum_b n_b * (-(1 / |T_b|) * sum_{x in T_b} log p(x)) / sum_b n_b`
///
/// over batches b of 16 sequences (`n_b` sequences, targets `T_b`; a batch
/// without targets skipped). A model whose loss is not below it has learnt
/// nothing about the order of the tokens.
pub fn unigram_loss(
    train: &[Vec<usize>],
    eval: &[Vec<usize>],
    support: std::ops::Range<usize>,
    context: usize,
    loss_from: usize,
) -> f64 {
    let mut counts = vec![1.0f64; support.len()];
    for &tok in train.iter().flat_map(|s| s.iter().skip(loss_from)) {
        if support.contains(&tok) {
            counts[tok - support.start] += 1.0;
        }
    }
    let total: f64 = counts.iter().sum();
    let (mut sum, mut n) = (0.0, 0usize);
    for chunk in eval.chunks(16) {
        let targets: Vec<usize> = chunk.iter().flat_map(|s| scored_targets(s, loss_from, context)).collect();
        if targets.is_empty() {
            continue;
        }
        // Targets outside the support get the smallest smoothed count.
        let nll: f64 = targets
            .iter()
            .map(|&tok| {
                let c = if support.contains(&tok) { counts[tok - support.start] } else { 1.0 };
                -(c / total).ln()
            })
            .sum();
        sum += nll / targets.len() as f64 * chunk.len() as f64;
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

/// Trains `model` on `seqs` (whole sequences, shuffled each epoch, every
/// target scored) for `cfg.epochs` epochs and returns it with the mean
/// loss of each epoch: [`fit`] without a prompt or a dev split.
pub fn train(
    model: Lm,
    seqs: &[Vec<usize>],
    cfg: &LmTrainConfig,
    seed: u64,
    device: &Device,
    label: &str,
    log: Option<StepLog>,
) -> Result<(Lm, Vec<f64>)> {
    let run = Run { cfg, seed, label, loss_from: 0, dev: None };
    let fitted = fit(model, seqs, &run, device, log)?;
    Ok((fitted.model, fitted.train_losses))
}

/// One training run: settings, what the loss scores and how it stops.
#[derive(Debug, Clone, Copy)]
pub struct Run<'a> {
    pub cfg: &'a LmTrainConfig,
    pub seed: u64,
    /// Progress-bar and error label.
    pub label: &'a str,
    /// First scored target position (see [`sequence_loss`]); the dev loss
    /// scores the same positions.
    pub loss_from: usize,
    /// Early stopping: the dev sequences, scored after every epoch, and the
    /// patience (epochs without a lower dev loss before stopping; at most
    /// `cfg.epochs` epochs in all). `None`: every epoch, the last weights.
    pub dev: Option<(&'a [Vec<usize>], usize)>,
}

/// What [`fit`] returns.
pub struct Fitted {
    /// The weights of the epoch with the lowest dev loss (the last epoch's
    /// without a dev split).
    pub model: Lm,
    /// Mean training loss over each epoch's batches.
    pub train_losses: Vec<f64>,
    /// Dev loss after each epoch (empty without a dev split).
    pub dev_losses: Vec<f64>,
    /// The epoch (1-based) whose weights were kept.
    pub best_epoch: usize,
}

/// Where a [`fit`] stood after an epoch: what a checkpoint keeps beside the
/// model and the optimiser so that a resumed fit continues exactly (same
/// batches, same early-stopping decisions, same kept weights).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct FitState {
    /// Epochs done.
    pub epochs: usize,
    /// Optimiser steps taken.
    pub step: usize,
    /// The batch shuffler's position in its ChaCha8 stream, in 32-bit words
    /// (a decimal string: a u128 does not fit a JSON number).
    pub rng_word_pos: String,
    pub train_losses: Vec<f64>,
    pub dev_losses: Vec<f64>,
    /// The epoch (1-based) whose weights are the best so far; 0: none yet.
    pub best_epoch: usize,
    /// Early stopping ended the fit.
    pub stopped: bool,
}

/// Checkpoints a [`fit`] after every epoch and hands back the last one
/// (`drums train`; the experiment passes none, so its runs do not depend
/// on checkpointing).
pub trait EpochHook {
    /// The saved fit to continue from, its model, optimiser and best
    /// weights loaded into the fresh ones given; `None` beside them: start
    /// afresh.
    #[allow(clippy::type_complexity)]
    fn restore(
        &mut self,
        model: Lm,
        optim: ModuleOptimizer,
    ) -> Result<(Lm, ModuleOptimizer, Option<(FitState, Option<Lm>)>)>;
    /// Saves the fit after an epoch; `best` the kept weights so far (with a
    /// dev split).
    fn save(&mut self, model: &Lm, optim: &ModuleOptimizer, state: &FitState, best: Option<&Lm>) -> Result<()>;
}

/// Trains `model` on `seqs` (whole sequences, shuffled each epoch) under
/// `run`, keeping the best dev epoch's weights. `device` must be autodiff.
/// With `log`, reports `lr` at the start of each epoch, every batch's
/// `loss` at its step (one extra read of a scalar per step; the training
/// is the same) and `eval/dev_loss` after each epoch.
pub fn fit(model: Lm, seqs: &[Vec<usize>], run: &Run, device: &Device, log: Option<StepLog>) -> Result<Fitted> {
    fit_with(model, seqs, run, device, log, None)
}

/// [`fit`], checkpointed after every epoch through `hook` and continued
/// from its last checkpoint when it has one. The batch shuffler's stream
/// position, the optimiser's moments, the step and epoch counters, the
/// losses and the best weights are restored; early stopping is restored
/// by replaying the dev losses (its decisions depend on nothing else), so
/// the resumed fit equals the uninterrupted one. With
/// `REPROLAB_FAULT_NAN_STEP=k` the loss of step k is NaN
/// ([`reprolab_core::train::fault`]; the batch is integer tokens, so the
/// fault goes on its loss) and the fit stops there, naming the step.
pub fn fit_with(
    mut model: Lm,
    seqs: &[Vec<usize>],
    run: &Run,
    device: &Device,
    mut log: Option<StepLog>,
    mut hook: Option<&mut dyn EpochHook>,
) -> Result<Fitted> {
    use reprolab_core::train::early_stop::{Decision, EarlyStopping, Goal};
    let Run { cfg, seed, label, loss_from, dev } = *run;
    if seqs.is_empty() {
        reprolab_core::user_bail!("{label}: no training sequences");
    }
    let mut optim = cfg.optimizer.build();
    let mut rng = reprolab_core::rng::rng(reprolab_core::rng::derive_seed(seed, "lm-batches"));
    let bar = reprolab_core::progress::bar(cfg.epochs as u64, label);
    let mut state = FitState::default();
    // min_delta 0: any lower dev loss is an improvement.
    let mut stopper = dev.map(|(_, patience)| EarlyStopping::new(Goal::Minimise, patience.max(1), 0.0));
    let mut best = None;
    if let Some(h) = hook.as_deref_mut() {
        let (m, o, saved) = h.restore(model, optim)?;
        (model, optim) = (m, o);
        if let Some((saved, saved_best)) = saved {
            let pos: u128 = saved.rng_word_pos.parse().map_err(|_| {
                reprolab_core::user_error(format!(
                    "{label}: corrupt checkpoint (rng position {:?})",
                    saved.rng_word_pos
                ))
            })?;
            rng.set_word_pos(pos);
            if let Some(stopper) = stopper.as_mut() {
                saved.dev_losses.iter().for_each(|&d| {
                    stopper.update(d);
                });
            }
            best = saved_best;
            bar.inc(saved.epochs as u64);
            state = saved;
        }
    }
    while state.epochs < cfg.epochs && !state.stopped {
        let epoch = state.epochs;
        let batches = reprolab_core::data::batch::shuffled_batches(seqs.len(), cfg.batch_size, false, &mut rng);
        if let Some(log) = log.as_mut() {
            log(state.step, "lr", cfg.optimizer.lr())?;
        }
        // train_epoch holds the step counter while it runs; the loss
        // closure counts its own calls, one per step.
        let (mut batch_step, mut failed) = (state.step, None);
        let (next, mean) = reprolab_core::train::train_epoch(
            model,
            &mut optim,
            batches,
            &mut state.step,
            |_| cfg.optimizer.lr(),
            &format!("{label}, epoch {epoch}"),
            |m, rows| {
                let refs: Vec<&[usize]> = rows.iter().map(|&r| seqs[r].as_slice()).collect();
                let loss =
                    reprolab_core::train::fault::poison_batch(sequence_loss(m, &refs, loss_from, device), batch_step);
                if let Some(log) = log.as_mut() {
                    let value: f32 = loss.clone().into_scalar();
                    if let Err(e) = log(batch_step, "loss", f64::from(value)) {
                        failed.get_or_insert(e);
                    }
                }
                batch_step += 1;
                loss
            },
        )?;
        if let Some(e) = failed {
            return Err(e);
        }
        model = next;
        state.train_losses.push(mean);
        state.epochs += 1;
        bar.inc(1);
        if let (Some((dev_seqs, _)), Some(stopper)) = (dev, stopper.as_mut()) {
            let dev_loss = evaluate(&model, dev_seqs, loss_from, device);
            state.dev_losses.push(dev_loss);
            if let Some(log) = log.as_mut() {
                log(state.step, "eval/dev_loss", dev_loss)?;
            }
            match stopper.update(dev_loss) {
                Decision::Improved => {
                    best = Some(model.clone());
                    state.best_epoch = epoch + 1;
                }
                Decision::Continue => {}
                Decision::Stop => state.stopped = true,
            }
        }
        if let Some(h) = hook.as_deref_mut() {
            state.rng_word_pos = rng.get_word_pos().to_string();
            h.save(&model, &optim, &state, best.as_ref())?;
        }
    }
    bar.finish_and_clear();
    let best_epoch = if best.is_some() { state.best_epoch } else { cfg.epochs };
    Ok(Fitted {
        model: best.unwrap_or(model),
        train_losses: state.train_losses,
        dev_losses: state.dev_losses,
        best_epoch,
    })
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
        assert!((unigram_loss(&train, &eval, 0..2, 16, 0) - want).abs() < 1e-12);
        // cut at context + 1 tokens: only the target 0 remains
        assert!((unigram_loss(&train, &eval, 0..2, 1, 0) + (4.0f64 / 6.0).ln()).abs() < 1e-12);
    }

    #[test]
    fn the_loss_skips_the_prompt_targets() {
        let device = reprolab_core::device::default_device();
        device.seed(2);
        let cfg = LmConfig { d_model: 16, n_heads: 2, n_layers: 1, context: 16 };
        let model = cfg.init(&device);
        let seq: Vec<usize> = vec![300, 301, 302, 303, 304, 305, 306, 307, 308, 309];
        // by hand: log-softmax of the logits at input positions 3..9 for targets seq[4..10]
        let ids =
            Tensor::<2, Int>::from_data(TensorData::new(seq[..9].iter().map(|&x| x as i64).collect(), [1, 9]), &device);
        let logits: Vec<f32> = model.forward(ids).into_data().try_to_vec().unwrap();
        let nll = |p: usize| {
            let row = &logits[p * VOCAB..(p + 1) * VOCAB];
            let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let lse = max + row.iter().map(|z| (z - max).exp()).sum::<f32>().ln();
            f64::from(lse - row[seq[p + 1]])
        };
        let want_from_4 = (3..9).map(nll).sum::<f64>() / 6.0;
        let want_all = (0..9).map(nll).sum::<f64>() / 9.0;
        let got: f32 = sequence_loss(&model, &[&seq], 4, &device).into_scalar();
        assert!((f64::from(got) - want_from_4).abs() < 1e-4, "{got} vs {want_from_4}");
        let got: f32 = sequence_loss(&model, &[&seq], 0, &device).into_scalar();
        assert!((f64::from(got) - want_all).abs() < 1e-4, "{got} vs {want_all}");
        assert!((evaluate(&model, std::slice::from_ref(&seq), 4, &device) - want_from_4).abs() < 1e-4);
        // the unigram floor scores (and counts) the same positions
        let train = vec![vec![0, 0, 0, 1, 1]];
        // from position 3: train counts {1: 2} -> p = (1 + 1) / 4, (2 + 1) / 4; eval targets 0, 1
        let want = -((1.0f64 / 4.0).ln() + (3.0f64 / 4.0).ln()) / 2.0;
        assert!((unigram_loss(&train, &[vec![1, 1, 1, 0, 1]], 0..2, 16, 3) - want).abs() < 1e-12);
    }

    #[test]
    fn early_stopping_keeps_the_best_dev_epoch() {
        let device = reprolab_core::device::default_device();
        device.seed(4);
        let ad = device.clone().autodiff();
        let model = LmConfig { d_model: 16, n_heads: 2, n_layers: 1, context: 16 }.init(&ad);
        // train on one cycle, score on its reverse: the dev loss falls while
        // the model learns which tokens occur, then rises as it learns the order
        let train_seq: Vec<usize> = (0..16).map(|i| [300, 301, 302][i % 3]).collect();
        let dev_seq: Vec<usize> = (0..16).map(|i| [302, 301, 300][i % 3]).collect();
        let cfg = LmTrainConfig { epochs: 80, batch_size: 4, optimizer: OptimizerConfig::adam(3e-3) };
        let dev = vec![dev_seq];
        let run = Run { cfg: &cfg, seed: 0, label: "test", loss_from: 0, dev: Some((&dev, 2)) };
        let fitted = fit(model, &vec![train_seq; 4], &run, &ad, None).unwrap();
        let d = &fitted.dev_losses;
        let best = d.iter().copied().enumerate().min_by(|a, b| a.1.total_cmp(&b.1)).unwrap().0;
        assert_eq!(fitted.best_epoch, best + 1, "{d:?}");
        assert!(d.len() < 80 && d.len() == fitted.best_epoch + 2, "stops 2 epochs after the best: {d:?}");
        assert_eq!(fitted.train_losses.len(), d.len());
        // the returned weights are the best epoch's, not the last one's
        let again = evaluate(&fitted.model, &dev, 0, &ad);
        assert!((again - d[best]).abs() < 1e-6 && d[d.len() - 1] > d[best], "{again} vs {d:?}");
    }

    /// Checkpoints to disk; its `save` fails after `stop_after` epochs,
    /// as a killed run would stop there.
    struct Disk {
        dir: std::path::PathBuf,
        stop_after: Option<usize>,
        saved: Option<FitState>,
    }

    impl EpochHook for Disk {
        fn restore(
            &mut self,
            model: Lm,
            optim: ModuleOptimizer,
        ) -> Result<(Lm, ModuleOptimizer, Option<(FitState, Option<Lm>)>)> {
            use reprolab_core::train::Checkpoint;
            let Some(state) = self.saved.clone() else { return Ok((model, optim, None)) };
            let ck = Checkpoint::new(self.dir.join("last"));
            let (model, optim) = (ck.load_model(model)?, ck.load_optimizer(optim)?);
            let best = match state.best_epoch {
                0 => None,
                _ => Some(Checkpoint::new(self.dir.join("best")).load_model(model.clone())?),
            };
            Ok((model, optim, Some((state, best))))
        }

        fn save(&mut self, model: &Lm, optim: &ModuleOptimizer, state: &FitState, best: Option<&Lm>) -> Result<()> {
            use reprolab_core::train::{Checkpoint, checkpoint::TrainState};
            if let Some(best) = best {
                Checkpoint::new(self.dir.join("best")).save(best, None, &TrainState::default())?;
            }
            Checkpoint::new(self.dir.join("last")).save(model, Some(optim), &TrainState::default())?;
            self.saved = Some(state.clone());
            if self.stop_after == Some(state.epochs) {
                anyhow::bail!("stopped after epoch {}", state.epochs);
            }
            Ok(())
        }
    }

    /// A fit stopped after its second epoch and continued from the
    /// checkpoint into a model of other weights ends exactly as the
    /// uninterrupted fit: same weights (the best dev epoch's), losses,
    /// early-stopping epoch; the batch order, Adam's moments and the
    /// stopper's state came back.
    #[test]
    fn a_fit_resumed_from_its_checkpoint_equals_the_uninterrupted_one() {
        let device = reprolab_core::device::default_device();
        let ad = device.clone().autodiff();
        let cfg = LmConfig { d_model: 16, n_heads: 2, n_layers: 1, context: 16 };
        device.seed(4);
        let init = cfg.init(&ad);
        let other = cfg.init(&ad);
        let train_seqs: Vec<Vec<usize>> =
            (0..6).map(|k| (0..16).map(|i| [300, 301, 302][(i + k) % 3]).collect()).collect();
        let dev = vec![(0..16).map(|i| [302, 301, 300][i % 3]).collect::<Vec<usize>>()];
        let train_cfg = LmTrainConfig { epochs: 40, batch_size: 4, optimizer: OptimizerConfig::adam(3e-3) };
        let run = Run { cfg: &train_cfg, seed: 1, label: "test", loss_from: 0, dev: Some((&dev, 2)) };
        let straight = fit(init.clone(), &train_seqs, &run, &ad, None).unwrap();
        assert!(straight.dev_losses.len() > 3, "{:?}", straight.dev_losses);

        let tmp = tempfile::tempdir().unwrap();
        let mut disk = Disk { dir: tmp.path().to_path_buf(), stop_after: Some(2), saved: None };
        let err = fit_with(init, &train_seqs, &run, &ad, None, Some(&mut disk)).err().expect("stopped");
        assert!(err.to_string().contains("after epoch 2"), "{err}");
        disk.stop_after = None;
        let resumed = fit_with(other, &train_seqs, &run, &ad, None, Some(&mut disk)).unwrap();
        assert_eq!(resumed.train_losses, straight.train_losses);
        assert_eq!(resumed.dev_losses, straight.dev_losses);
        assert_eq!(resumed.best_epoch, straight.best_epoch);
        let w = |m: &Lm| -> Vec<f32> { m.head.weight.val().into_data().try_to_vec().unwrap() };
        assert_eq!(w(&resumed.model), w(&straight.model));
        let saved = disk.saved.unwrap();
        assert_eq!((saved.epochs, saved.stopped), (straight.dev_losses.len(), true));
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

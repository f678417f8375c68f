//! Every knob of the drums experiment and of `reprolab drums train`, and
//! the checks each makes of its values ([`Validate`]), whatever the source
//! (a preset `configs/drums/*.toml`, a `--config` file, a worker's plan).
//!
//! The paper fine-tuned GPT-3 (davinci and ada) through OpenAI's API, so
//! most model and training settings here are ours and the paper states
//! none; each field says which value, if any, is the paper's.

use crate::codec::MEASURE;
use crate::lm::{LmConfig, LmTrainConfig, SampleConfig};
use anyhow::Result;
use reprolab_core::registry::Validate;
use serde::{Deserialize, Serialize};

/// Every knob of the experiment.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Sampling seeds per trained model: each model continues every test
    /// prompt once per sampling seed (paper: not stated; its table has one
    /// generation per prompt and model; full and paper presets: 5).
    pub sampling_seeds: usize,
    /// Test prompts used, the first of `gpt3_test.jsonl` (paper: all 37).
    pub max_prompts: usize,
    /// Training grooves used, the first of `gpt3_train.jsonl` (paper: all
    /// 372).
    pub max_train: usize,
    /// Measures of context of the measure n-gram baseline (paper: no
    /// n-gram baseline; ours, 2).
    pub ngram_order: usize,
    /// Size of the Transformer (paper: GPT-3 davinci and ada, sizes not
    /// comparable; ours a small decoder-only Transformer).
    pub model: LmConfig,
    /// Fine-tuning on the training grooves (paper: OpenAI's fine-tuning
    /// API, settings not stated); `train.epochs` is the most epochs, see
    /// `patience`.
    pub train: LmTrainConfig,
    /// Early stopping of fine-tuning: epochs without a lower loss on the
    /// 47 dev grooves before stopping; the best dev epoch's weights are
    /// kept (paper: not stated; ours 3).
    pub patience: usize,
    /// Natural-language pre-training before fine-tuning, for the
    /// pre-trained arm (paper: GPT-3's own pre-training).
    pub pretrain: PretrainConfig,
    /// Sampling of the continuations (paper: temperature 0.9, stop at END).
    pub sample: SampleConfig,
}

/// Natural-language pre-training.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PretrainConfig {
    /// `cargo-readmes` (the README files of the crates in Cargo.lock, from
    /// the cargo registry) or a path to a text file or folder (paper:
    /// GPT-3's web-scale text corpus; ours `cargo-readmes`).
    pub corpus: String,
    /// Bytes of the corpus used for pre-training; the windows after them
    /// are held out to measure it (paper: not applicable, GPT-3's own
    /// pre-training; ours 20 KB to 3 MB by preset).
    pub max_bytes: usize,
    /// Bytes per pre-training sequence, at most `model.context` (paper:
    /// not applicable; ours 64: shorter windows give several times more
    /// optimiser steps per byte and cheaper attention, and a small model
    /// learns most of what it can about text within 64 bytes).
    pub window: usize,
    /// Epochs, batch size and optimiser of pre-training (paper: not
    /// stated).
    pub train: LmTrainConfig,
}

/// Tokens of the 2-measure prompt: 16 lines and a `SEP` per measure.
pub const PROMPT_TOKENS: usize = 2 * (MEASURE + 1);

/// `result` with its error message prefixed by the field path `prefix`
/// (`train` + `epochs must ...` -> `train.epochs must ...`).
fn within(prefix: &str, result: Result<()>) -> Result<()> {
    result.map_err(|e| anyhow::anyhow!("{prefix}.{e:#}"))
}

impl Validate for Config {
    fn validate(&self) -> Result<()> {
        anyhow::ensure!(self.sampling_seeds >= 1, "sampling_seeds must be at least 1, got {}", self.sampling_seeds);
        anyhow::ensure!(self.max_prompts >= 1, "max_prompts must be at least 1, got {}", self.max_prompts);
        anyhow::ensure!(self.max_train >= 1, "max_train must be at least 1, got {}", self.max_train);
        anyhow::ensure!(self.ngram_order >= 1, "ngram_order must be at least 1, got {}", self.ngram_order);
        anyhow::ensure!(self.patience >= 1, "patience must be at least 1, got {}", self.patience);
        within("model", self.model.validate())?;
        anyhow::ensure!(
            self.model.context >= PROMPT_TOKENS,
            "model.context must hold the 2-measure prompt ({PROMPT_TOKENS} tokens), got {}",
            self.model.context
        );
        within("train", self.train.validate())?;
        within("pretrain", self.pretrain.validate())?;
        anyhow::ensure!(
            self.pretrain.window <= self.model.context,
            "pretrain.window must be at most model.context ({}), got {}",
            self.model.context,
            self.pretrain.window
        );
        within("sample", self.sample.validate())
    }
}

impl Validate for PretrainConfig {
    fn validate(&self) -> Result<()> {
        anyhow::ensure!(
            !self.corpus.trim().is_empty(),
            "corpus must be `cargo-readmes` or a path, got an empty string"
        );
        anyhow::ensure!(self.max_bytes >= 1, "max_bytes must be at least 1, got {}", self.max_bytes);
        anyhow::ensure!(self.window >= 2, "window must be at least 2 bytes, got {}", self.window);
        within("train", self.train.validate())
    }
}

impl Validate for LmConfig {
    fn validate(&self) -> Result<()> {
        anyhow::ensure!(self.d_model >= 1, "d_model must be at least 1, got {}", self.d_model);
        anyhow::ensure!(self.n_heads >= 1, "n_heads must be at least 1, got {}", self.n_heads);
        anyhow::ensure!(
            self.d_model.is_multiple_of(self.n_heads),
            "d_model must be a multiple of n_heads, got d_model {} and n_heads {}",
            self.d_model,
            self.n_heads
        );
        anyhow::ensure!(self.n_layers >= 1, "n_layers must be at least 1, got {}", self.n_layers);
        anyhow::ensure!(self.context >= 1, "context must be at least 1, got {}", self.context);
        Ok(())
    }
}

impl Validate for LmTrainConfig {
    fn validate(&self) -> Result<()> {
        anyhow::ensure!(self.epochs >= 1, "epochs must be at least 1, got {}", self.epochs);
        anyhow::ensure!(self.batch_size >= 1, "batch_size must be at least 1, got {}", self.batch_size);
        // The optimiser's own messages already start with `optimizer.`.
        self.optimizer.validate()
    }
}

impl Validate for SampleConfig {
    fn validate(&self) -> Result<()> {
        anyhow::ensure!(
            self.temperature.is_finite() && self.temperature > 0.0,
            "temperature must be a positive number, got {}",
            self.temperature
        );
        anyhow::ensure!(self.top_p > 0.0 && self.top_p <= 1.0, "top_p must be in (0, 1], got {}", self.top_p);
        anyhow::ensure!(self.max_tokens >= 1, "max_tokens must be at least 1, got {}", self.max_tokens);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reprolab_core::registry::{Preset, RunContext, preset_config};

    #[test]
    fn every_shipped_preset_validates() {
        for preset in Preset::ALL {
            let cfg: Config = preset_config("drums", preset).unwrap_or_else(|e| panic!("{}: {e:#}", preset.name()));
            assert_eq!(cfg.sample.temperature, 0.9, "the paper's sampling temperature");
        }
    }

    /// The error of `--config FILE.toml` holding `text` over the smoke preset.
    fn override_error(text: &str) -> anyhow::Error {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bad.toml");
        std::fs::write(&file, text).unwrap();
        let ctx = RunContext::with_config_file(&crate::METHOD, Preset::Smoke, &file).unwrap();
        ctx.config::<Config>().unwrap_err()
    }

    #[test]
    fn a_bad_override_is_a_user_error_naming_the_field() {
        for (text, field) in [
            ("sampling_seeds = 0", "sampling_seeds must be at least 1, got 0"),
            ("patience = 0", "patience must be at least 1, got 0"),
            ("[sample]\ntop_p = 1.5", "sample.top_p must be in (0, 1], got 1.5"),
            ("[model]\nn_heads = 3", "model.d_model must be a multiple of n_heads"),
            ("[model]\ncontext = 20", "model.context must hold the 2-measure prompt (34 tokens), got 20"),
            ("[pretrain.train]\nepochs = 0", "pretrain.train.epochs must be at least 1, got 0"),
            ("[pretrain]\nwindow = 300", "pretrain.window must be at most model.context (288), got 300"),
            ("[train.optimizer]\nlr = 0.0", "train.optimizer.lr must be a positive number, got 0"),
        ] {
            let err = override_error(text);
            assert!(reprolab_core::is_user_error(&err), "{text}: {err:#}");
            let msg = format!("{err:#}");
            assert!(msg.contains(field) && msg.contains("bad.toml"), "{text}: {msg}");
        }
    }
}

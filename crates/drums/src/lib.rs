//! Paper 8: "Language Models are Drummers: Drum Composition with Natural
//! Language Pre-Training" (Zhang & Callison-Burch, AAAI-23 workshop, arXiv
//! 2301.01162).
//!
//! - [`codec`]: the paper's groove text encoding, byte-exact against the
//!   paper's `data_text/` files, its language-model format (`gpt3_*.jsonl`),
//!   and decoding back to playable MIDI.
//! - [`structure`]: the paper's structural evaluation (measure stability
//!   by Levenshtein distance, 1-D 2-means per groove) with the random and
//!   repeat baselines; [`eval`] applies it to any folder of text grooves.
//! - [`gmd`]: the full Groove MIDI Dataset index with its official split.
//! - [`tokens`]: one vocabulary for text bytes and groove lines.
//! - [`lm`]: a small decoder-only Transformer, its training loop and
//!   KV-cached sampling with temperature and top-p; [`ngram`]: a
//!   measure-level n-gram baseline; [`corpus`]: the natural-language
//!   pre-training text; [`model`]: train / save / load / generate;
//!   [`export`]: a saved model for PyTorch (`reprolab export`);
//!   [`transfer`]: groove tokens start from their bytes' pre-trained
//!   weights.
//! - [`data`]: the paper's language-model files (`gpt3_*.jsonl`);
//!   [`config`]: every knob of the experiment and `drums train`, with
//!   their checks and the paper's values.
//! - [`experiment`]: the registered claim check (its docs hold the claim,
//!   the pass rule and the paper's numbers); [`cli`]: the `reprolab drums`
//!   commands (`eval`, `encode`, `decode`, `train`, `generate`).
//!
//! The paper's: the encoding, the metrics, the data, the prompt format (2
//! measures, SEP / END), sampling at temperature 0.9, the claim. Ours: the
//! models (the paper fine-tuned GPT-3 davinci and ada through OpenAI's API;
//! here a 2-layer Transformer is pre-trained on 0.3 to 0.6 MB of English text (crate READMEs), a
//! laptop-scale stand-in for "natural-language pre-training"), one token
//! per groove line (GPT-3's BPE spends 3.2 tokens per line on the paper's
//! files; see [`tokens`]) whose pre-trained embedding starts from the
//! pre-trained model's reading of its bytes ([`transfer`]), fine-tuning on the completion tokens with
//! early stopping on the dev grooves, the n-gram baseline, the exact 1-D 2-means (the paper ran scikit-learn's
//! KMeans; the golden test shows they agree on the paper's table), the pass
//! rule, and the decoder (the official decoder writes the columns in
//! another order than the encoder reads them; ours inverts the encoder).

pub mod cli;
pub mod codec;
pub mod config;
pub mod corpus;
pub mod data;
pub mod eval;
pub mod experiment;
pub mod export;
pub mod fixtures;
pub mod gmd;
pub mod lm;
pub mod model;
pub mod ngram;
pub mod structure;
pub mod tokens;
pub mod transfer;

pub use experiment::METHOD;

//! Paper 8: "Language Models are Drummers: Drum Composition with Natural
//! Language Pre-Training" (Zhang & Callison-Burch, AAAI-23 workshop, arXiv
//! 2301.01162).
//!
//! - [`codec`]: the paper's groove text encoding, byte-exact against the
//!   paper's `data_text/` files, its language-model format, and decoding
//!   back to playable MIDI.
//! - [`structure`]: the paper's structural evaluation (measure stability
//!   by Levenshtein distance, 1-D 2-means per groove) with the random and
//!   repeat baselines.
//! - [`eval`]: the evaluation of a folder of text grooves (`reprolab drums
//!   eval`).
//! - [`gmd`]: the full Groove MIDI Dataset index with its official split.
//!
//! The paper's: the encoding, the metrics, the data. Ours: the exact 1-D
//! 2-means (the paper used scikit-learn's KMeans, a local search) and the
//! decoder (the official decoder writes the columns in another order than
//! the encoder reads them; ours inverts the encoder).

pub mod codec;
pub mod corpus;
pub mod eval;
pub mod experiment;
pub mod gmd;
pub mod lm;
pub mod model;
pub mod ngram;
pub mod structure;
pub mod tokens;

pub use experiment::METHOD;

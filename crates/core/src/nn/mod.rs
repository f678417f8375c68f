//! Blocks several papers share, built on burn 0.22 modules.
//!
//! - [`mlp::Mlp`]: fully connected network (classifiers, actors, critics).
//! - [`attention::Attention`]: multi-head attention that also returns its
//!   attention maps and Q, K, V (TinyMIM distils relations between them;
//!   burn's own `MultiHeadAttention` does not expose Q, K, V).
//! - [`transformer::EncoderBlock`]: pre-norm transformer encoder block.
//! - [`conv::ConvBlock`]: conv -> norm -> ReLU -> average pool (the
//!   dataset-distillation ConvNet's unit).
//! - [`gcn::GraphConv`]: graph convolution over a sparse normalised adjacency.

pub mod attention;
pub mod conv;
pub mod gcn;
pub mod mlp;
pub mod transformer;

pub use attention::{Attention, AttentionConfig, AttentionOutput};
pub use conv::{ConvBlock, ConvBlockConfig, ConvNet, ConvNetConfig, Norm};
pub use gcn::{GraphConv, NormalisedAdjacency};
pub use mlp::{Activation, Mlp, MlpConfig};
pub use transformer::{EncoderBlock, EncoderBlockConfig};

//! Blocks several papers share, built on burn 0.22 modules.
//!
//! - [`mlp::Mlp`]: fully connected network (classifiers, actors, critics).
//! - [`mlp_stack::MlpStack`]: K same-shaped MLPs trained as one batched model.
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
pub mod mlp_stack;
pub mod transformer;

pub use attention::{Attention, AttentionConfig, AttentionOutput, KvCache};
pub use conv::{ConvBlock, ConvBlockConfig, ConvNet, ConvNetConfig, Norm};
pub use gcn::{GraphConv, NormalisedAdjacency};
pub use mlp::{Activation, Mlp, MlpConfig};
pub use mlp_stack::MlpStack;
pub use transformer::{EncoderBlock, EncoderBlockConfig};

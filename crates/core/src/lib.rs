//! reprolab-core: what every reprolab method shares.
//!
//! Data flows one way: a loader or generator makes a [`data::Dataset`], a
//! method trains on it with the [`nn`] blocks and [`train`] utilities,
//! evaluates with [`metrics`], summarises seeds with [`stats`], and returns a
//! [`report::Report`]. Methods plug into the CLI through [`registry`] (registration) and
//! [`cli`] (their own commands).

pub mod battery;
pub mod cli;
pub mod data;
pub mod device;
pub mod error;
pub mod export;
pub mod metrics;
pub mod nn;
pub mod plan;
pub mod progress;
pub mod provenance;
pub mod registry;
pub mod report;
pub mod rng;
pub mod run_folder;
pub mod selfcheck;
pub mod stats;
pub mod train;

pub use error::{UserError, is_user_error, user_error};

//! Training utilities every method shares: optimiser configs with
//! PyTorch's defaults, learning-rate schedules, gradient clipping (inside
//! the optimiser config), Polyak target updates, early stopping, the
//! non-finite loss guard, the per-step metrics log, checkpoints with resume, and a classifier fit loop.

pub mod checkpoint;
pub mod classifier;
pub mod early_stop;
pub mod epoch;
pub mod fault;
pub mod guard;
pub mod metrics_log;
pub mod optim;
pub mod polyak;
pub mod schedule;
pub mod stack;

pub use checkpoint::Checkpoint;
pub use early_stop::{EarlyStopping, Goal};
pub use epoch::train_epoch;
pub use guard::{NonFiniteLoss, check_finite};
pub use metrics_log::MetricsLog;
pub use optim::OptimizerConfig;
pub use polyak::polyak_update;
pub use schedule::Schedule;
pub use stack::fit_stack;

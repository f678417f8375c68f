//! Learning-rate schedules as pure functions of the step, so they are
//! trivially reproducible, resumable and testable.

use serde::{Deserialize, Serialize};

/// A schedule multiplies the base learning rate by a factor in (0, 1].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum Schedule {
    /// Constant learning rate.
    #[default]
    Constant,
    /// `torch.optim.lr_scheduler.StepLR`: times `gamma` every `step_size` steps.
    Step { step_size: usize, gamma: f64 },
    /// Linear warm-up over `warmup` steps, then cosine decay to
    /// `min_factor * lr` at `total` steps (timm / MAE style).
    Cosine {
        total: usize,
        #[serde(default)]
        warmup: usize,
        #[serde(default)]
        min_factor: f64,
    },
}

impl Schedule {
    /// Learning rate at step `step` (0-based) for base rate `lr`.
    pub fn lr_at(&self, lr: f64, step: usize) -> f64 {
        match *self {
            Schedule::Constant => lr,
            Schedule::Step { step_size, gamma } => lr * gamma.powi((step / step_size.max(1)) as i32),
            Schedule::Cosine { total, warmup, min_factor } => {
                if step < warmup {
                    return lr * (step + 1) as f64 / warmup as f64;
                }
                let span = total.saturating_sub(warmup).max(1) as f64;
                let progress = ((step - warmup) as f64 / span).min(1.0);
                lr * (min_factor + (1.0 - min_factor) * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_schedule_matches_steplr() {
        let s = Schedule::Step { step_size: 10, gamma: 0.5 };
        assert_eq!(s.lr_at(1.0, 9), 1.0);
        assert_eq!(s.lr_at(1.0, 10), 0.5);
        assert_eq!(s.lr_at(1.0, 25), 0.25);
    }

    #[test]
    fn cosine_warms_up_then_decays_to_min() {
        let s = Schedule::Cosine { total: 110, warmup: 10, min_factor: 0.1 };
        assert!((s.lr_at(1.0, 0) - 0.1).abs() < 1e-12);
        assert!((s.lr_at(1.0, 9) - 1.0).abs() < 1e-12);
        assert!((s.lr_at(1.0, 10) - 1.0).abs() < 1e-12);
        assert!((s.lr_at(1.0, 60) - 0.55).abs() < 1e-12); // halfway: 0.1 + 0.9 * 0.5
        assert!((s.lr_at(1.0, 110) - 0.1).abs() < 1e-12);
        assert!((s.lr_at(1.0, 500) - 0.1).abs() < 1e-12);
    }
}

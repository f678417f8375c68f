//! Early stopping on a validation metric.

/// Whether larger or smaller is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Goal {
    Maximise,
    Minimise,
}

/// Stops after `patience` evaluations without an improvement of more than
/// `min_delta` over the best value seen.
#[derive(Debug, Clone)]
pub struct EarlyStopping {
    pub goal: Goal,
    pub patience: usize,
    pub min_delta: f64,
    best: Option<f64>,
    bad: usize,
}

/// What [`EarlyStopping::update`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// New best: save a checkpoint.
    Improved,
    Continue,
    Stop,
}

impl EarlyStopping {
    pub fn new(goal: Goal, patience: usize, min_delta: f64) -> Self {
        Self { goal, patience, min_delta, best: None, bad: 0 }
    }

    pub fn best(&self) -> Option<f64> {
        self.best
    }

    pub fn update(&mut self, value: f64) -> Decision {
        let better = match (self.best, self.goal) {
            (None, _) => true,
            (Some(b), Goal::Maximise) => value > b + self.min_delta,
            (Some(b), Goal::Minimise) => value < b - self.min_delta,
        };
        if better {
            self.best = Some(value);
            self.bad = 0;
            Decision::Improved
        } else {
            self.bad += 1;
            if self.bad >= self.patience { Decision::Stop } else { Decision::Continue }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_after_patience_without_improvement() {
        let mut es = EarlyStopping::new(Goal::Minimise, 2, 0.01);
        assert_eq!(es.update(1.0), Decision::Improved);
        assert_eq!(es.update(0.995), Decision::Continue); // within min_delta
        assert_eq!(es.update(0.5), Decision::Improved);
        assert_eq!(es.update(0.6), Decision::Continue);
        assert_eq!(es.update(0.7), Decision::Stop);
        assert_eq!(es.best(), Some(0.5));
    }
}

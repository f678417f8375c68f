//! What training the arms of one (experiment, seed) produced: each arm's
//! run ([`ArmRun`]) and, for a point-mass experiment, everything its
//! figures are drawn from ([`PointOutcome`]). [`crate::experiment`] makes
//! them and [`crate::figures`] draws them; neither of those two modules
//! imports the other's items through here.

use crate::behaviour::FittedMdn;
use crate::dataset::Dataset;
use crate::env::point::Layout;
use crate::eval::Episode;
use crate::train::Trained;
use reprolab_core::report::Results;

/// One trained arm of one seed: its final metrics, its learning curve in
/// normalised return, the trained policy and its final evaluation episodes
/// (the first seed's figures and notes).
pub struct ArmRun {
    pub arm: String,
    pub metrics: Vec<(&'static str, f64)>,
    pub curve: Vec<(usize, f64)>,
    pub trained: Trained,
    pub episodes: Vec<Episode>,
}

/// What one point-mass experiment produced for one seed.
pub struct PointOutcome {
    pub layout: Layout,
    /// This seed's metrics, one value per cell.
    pub results: Results,
    /// Every arm's run, in arm order.
    pub runs: Vec<ArmRun>,
    pub dataset: Dataset,
    pub behaviour_ll: f64,
    pub mdn: FittedMdn,
}

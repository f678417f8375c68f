//! Environments: the [`Env`] interface, the point-mass navigation suite of
//! the experiment ([`point`]) and Gymnasium's Pendulum ([`pendulum`]), and
//! [`make`] from the ids the CLI takes.

pub mod pendulum;
pub mod point;

use anyhow::Result;

/// An axis-aligned box of allowed values (observations or actions).
#[derive(Debug, Clone, PartialEq)]
pub struct BoxSpace {
    pub low: Vec<f32>,
    pub high: Vec<f32>,
}

impl BoxSpace {
    pub fn dim(&self) -> usize {
        self.low.len()
    }

    /// A uniform draw from the box (the random behaviour policy, online
    /// TD3's warm-up actions).
    pub fn sample(&self, r: &mut reprolab_core::rng::SeededRng) -> Vec<f32> {
        use rand::RngExt;
        self.low.iter().zip(&self.high).map(|(lo, hi)| r.random_range(*lo..*hi)).collect()
    }

    /// `x` clipped into the box.
    pub fn clip(&self, x: &[f32]) -> Vec<f32> {
        x.iter().zip(self.low.iter().zip(&self.high)).map(|(v, (lo, hi))| v.clamp(*lo, *hi)).collect()
    }
}

/// What one step returns (Gymnasium's 5-tuple without `info`).
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub obs: Vec<f32>,
    pub reward: f32,
    /// The episode ended inside the MDP (goal, collision): no bootstrap.
    pub terminated: bool,
    /// The time limit ended it: bootstrap from `obs`.
    pub truncated: bool,
}

/// A continuous-control environment with Gymnasium's semantics.
pub trait Env: Send {
    fn observation_space(&self) -> BoxSpace;
    /// Actions are clipped into this box before they act.
    fn action_space(&self) -> BoxSpace;
    /// Starts an episode; the seed fixes its start state and noise.
    fn reset(&mut self, seed: u64) -> Vec<f32>;
    fn step(&mut self, action: &[f32]) -> Step;
    /// Steps after which an episode is truncated.
    fn horizon(&self) -> usize;
}

/// The environment ids the CLI and experiments take.
pub const IDS: [&str; 5] = ["point-obstacle", "point-obstacle-up", "point-gap", "point-obstacle-gap", "pendulum"];

/// A fresh environment of `id`, or a user error listing the ids.
pub fn make(id: &str) -> Result<Box<dyn Env>> {
    if id == "pendulum" {
        return Ok(Box::new(pendulum::Pendulum::new()));
    }
    match point::Layout::by_id(id) {
        Some(layout) => Ok(Box::new(point::PointMass::new(layout))),
        None => reprolab_core::user_bail!("unknown environment '{id}' (known: {})", IDS.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_id_makes_an_environment_and_unknown_ids_are_user_errors() {
        for id in super::IDS {
            let mut env = super::make(id).unwrap();
            let obs = env.reset(0);
            assert_eq!(obs.len(), env.observation_space().dim(), "{id}");
        }
        let err = super::make("hopper").err().unwrap();
        assert!(reprolab_core::is_user_error(&err) && err.to_string().contains("point-gap"), "{err}");
    }
}

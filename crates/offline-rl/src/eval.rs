//! Policy evaluation: episodes run in lockstep so the actor acts on the
//! whole batch of live episodes in one forward pass.

use crate::dataset::Normaliser;
use crate::env::Env;
use crate::nets::Actor;
use burn::tensor::{Device, Tensor, TensorData};
use reprolab_core::rng::derive_seed;

/// One finished episode.
#[derive(Debug, Clone, PartialEq)]
pub struct Episode {
    pub ret: f64,
    pub steps: usize,
    pub terminated: bool,
    /// The reward of the last step (goal +10 or collision -10 on the point mass).
    pub last_reward: f32,
    /// Observations before each step, then the final one.
    pub states: Vec<Vec<f32>>,
    pub actions: Vec<Vec<f32>>,
}

/// The deterministic policy `action_scale * tanh(mean(normalise(s)))`.
pub struct Policy<'a> {
    pub actor: &'a Actor,
    pub norm: &'a Normaliser,
    pub action_scale: &'a [f32],
    pub device: &'a Device,
}

impl Policy<'_> {
    /// Actions for a batch of raw observations (row-major).
    pub fn act(&self, obs: &[Vec<f32>]) -> Vec<Vec<f32>> {
        let d = self.norm.mean.len();
        let flat: Vec<f32> = obs.iter().flat_map(|o| self.norm.apply(o)).collect();
        let x = Tensor::<2>::from_data(TensorData::new(flat, [obs.len(), d]), self.device);
        let a: Vec<f32> = self.actor.mean_action(x).into_data().try_to_vec().expect("f32 actions");
        let k = self.action_scale.len();
        a.chunks(k).map(|c| c.iter().zip(self.action_scale).map(|(v, s)| v * s).collect()).collect()
    }
}

/// A batched policy: actions for a batch of raw observations.
pub type ActFn<'a> = dyn Fn(&[Vec<f32>]) -> Vec<Vec<f32>> + 'a;

/// Runs `episodes` episodes of fresh environments from `make_env`, seeded
/// from `seed`, acting with `act` on all live episodes at once.
pub fn rollouts(make_env: &dyn Fn() -> Box<dyn Env>, episodes: usize, seed: u64, act: &ActFn) -> Vec<Episode> {
    let mut envs: Vec<Box<dyn Env>> = (0..episodes).map(|_| make_env()).collect();
    let mut eps: Vec<Episode> = envs
        .iter_mut()
        .enumerate()
        .map(|(i, e)| {
            let s = e.reset(derive_seed(seed, &format!("eval-{i}")));
            Episode { ret: 0.0, steps: 0, terminated: false, last_reward: 0.0, states: vec![s], actions: vec![] }
        })
        .collect();
    let mut live: Vec<usize> = (0..episodes).collect();
    while !live.is_empty() {
        let obs: Vec<Vec<f32>> = live.iter().map(|&i| eps[i].states.last().unwrap().clone()).collect();
        let actions = act(&obs);
        let mut still = Vec::with_capacity(live.len());
        for (&i, a) in live.iter().zip(actions) {
            let st = envs[i].step(&a);
            let ep = &mut eps[i];
            ep.ret += st.reward as f64;
            ep.steps += 1;
            ep.last_reward = st.reward;
            ep.terminated = st.terminated;
            ep.actions.push(a);
            ep.states.push(st.obs);
            if !(st.terminated || st.truncated) {
                still.push(i);
            }
        }
        live = still;
    }
    eps
}

pub fn mean_return(eps: &[Episode]) -> f64 {
    eps.iter().map(|e| e.ret).sum::<f64>() / eps.len().max(1) as f64
}

/// D4RL's normalised score: `100 (R - R_random) / (R_expert - R_random)`.
pub fn normalised_score(ret: f64, reference_low: f64, reference_high: f64) -> f64 {
    100.0 * (ret - reference_low) / (reference_high - reference_low)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::pendulum::Pendulum;

    #[test]
    fn lockstep_rollouts_equal_one_by_one_episodes() {
        let make = || -> Box<dyn Env> { Box::new(Pendulum::new()) };
        let act = |obs: &[Vec<f32>]| obs.iter().map(|o| vec![-2.0 * o[1]]).collect::<Vec<_>>();
        let eps = rollouts(&make, 3, 5, &act);
        assert_eq!(eps.len(), 3);
        for (i, ep) in eps.iter().enumerate() {
            let mut env = Pendulum::new();
            let mut s = env.reset(derive_seed(5, &format!("eval-{i}")));
            let mut ret = 0.0;
            for _ in 0..200 {
                let st = env.step(&[-2.0 * s[1]]);
                ret += st.reward as f64;
                s = st.obs;
            }
            assert!((ret - ep.ret).abs() < 1e-6 && ep.steps == 200);
        }
    }

    #[test]
    fn normalised_score_is_d4rls() {
        assert_eq!(normalised_score(-150.0, -1200.0, -150.0), 100.0);
        assert_eq!(normalised_score(-1200.0, -1200.0, -150.0), 0.0);
        assert!((normalised_score(-675.0, -1200.0, -150.0) - 50.0).abs() < 1e-9);
    }
}

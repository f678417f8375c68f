//! Gymnasium's `Pendulum-v1`, equation for equation: the first "real"
//! benchmark of the mixed-dataset experiment.
//!
//! `thdot' = clip(thdot + (3 g / (2 l) sin th + 3 / (m l^2) u) dt, -8, 8)`,
//! `th' = th + thdot' dt`, reward `-(norm(th)^2 + 0.1 thdot^2 + 0.001 u^2)`
//! with `u` clipped to [-2, 2], g = 10, m = l = 1, dt = 0.05; starts at
//! th ~ U(-pi, pi), thdot ~ U(-1, 1); never terminates; 200 steps.

use super::{BoxSpace, Env, Step};
use rand::RngExt;
use reprolab_core::rng::{SeededRng, rng};
use std::f32::consts::PI;

pub const MAX_SPEED: f32 = 8.0;
pub const MAX_TORQUE: f32 = 2.0;
pub const DT: f32 = 0.05;
pub const G: f32 = 10.0;
pub const M: f32 = 1.0;
pub const L: f32 = 1.0;
pub const HORIZON: usize = 200;

/// The angle mapped into [-pi, pi) (Gymnasium's `angle_normalize`).
pub fn angle_normalize(x: f32) -> f32 {
    (x + PI).rem_euclid(2.0 * PI) - PI
}

pub struct Pendulum {
    th: f32,
    thdot: f32,
    t: usize,
    rng: SeededRng,
}

impl Default for Pendulum {
    fn default() -> Self {
        Self::new()
    }
}

impl Pendulum {
    pub fn new() -> Self {
        Self { th: 0.0, thdot: 0.0, t: 0, rng: rng(0) }
    }

    /// Sets the internal state (tests, and Gymnasium's `env.unwrapped.state`).
    pub fn set_state(&mut self, th: f32, thdot: f32) {
        self.th = th;
        self.thdot = thdot;
        self.t = 0;
    }

    fn obs(&self) -> Vec<f32> {
        vec![self.th.cos(), self.th.sin(), self.thdot]
    }
}

impl Env for Pendulum {
    fn observation_space(&self) -> BoxSpace {
        BoxSpace { low: vec![-1.0, -1.0, -MAX_SPEED], high: vec![1.0, 1.0, MAX_SPEED] }
    }

    fn action_space(&self) -> BoxSpace {
        BoxSpace { low: vec![-MAX_TORQUE], high: vec![MAX_TORQUE] }
    }

    fn reset(&mut self, seed: u64) -> Vec<f32> {
        self.rng = rng(seed);
        self.th = self.rng.random_range(-PI..PI);
        self.thdot = self.rng.random_range(-1.0f32..1.0);
        self.t = 0;
        self.obs()
    }

    fn step(&mut self, action: &[f32]) -> Step {
        let u = action[0].clamp(-MAX_TORQUE, MAX_TORQUE);
        let (th, thdot) = (self.th, self.thdot);
        let cost = angle_normalize(th).powi(2) + 0.1 * thdot * thdot + 0.001 * u * u;
        let new_thdot =
            (thdot + (3.0 * G / (2.0 * L) * th.sin() + 3.0 / (M * L * L) * u) * DT).clamp(-MAX_SPEED, MAX_SPEED);
        self.th = th + new_thdot * DT;
        self.thdot = new_thdot;
        self.t += 1;
        Step { obs: self.obs(), reward: -cost, terminated: false, truncated: self.t >= HORIZON }
    }

    fn horizon(&self) -> usize {
        HORIZON
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hand computation of Gymnasium's step from th = 1, thdot = 0.5, u = 3
    /// (clipped to 2): cost = 1 + 0.025 + 0.004 = 1.029; thdot' = 0.5 +
    /// (15 sin 1 + 6) 0.05 = 1.431 103..., th' = 1 + 0.05 thdot'.
    #[test]
    fn one_step_matches_gymnasium_equations() {
        let mut p = Pendulum::new();
        p.set_state(1.0, 0.5);
        let s = p.step(&[3.0]);
        let thdot = 0.5 + (15.0 * 1f32.sin() + 6.0) * 0.05;
        assert!((thdot - 1.431_103).abs() < 1e-5, "{thdot}");
        let th = 1.0 + 0.05 * thdot;
        assert!((s.reward + 1.029).abs() < 1e-6, "{}", s.reward);
        assert!((s.obs[0] - th.cos()).abs() < 1e-6 && (s.obs[1] - th.sin()).abs() < 1e-6);
        assert!((s.obs[2] - thdot).abs() < 1e-6);
        assert!(!s.terminated && !s.truncated);
    }

    /// Five steps from th = 2.5, thdot = -3 with torques 1.5, -2, 0.3, 5
    /// (clipped to 2), -0.7, against gymnasium 1.x `Pendulum-v1` (values
    /// printed by `env.unwrapped.state = [2.5, -3.0]; env.step(...)`).
    #[test]
    fn five_steps_match_gymnasium_golden_values() {
        let golden: [([f32; 3], f32); 5] = [
            ([-0.726_281_2, 0.687_397_7, -2.326_146], -7.152_25),
            ([-0.649_834_4, 0.760_075_9, -2.110_597_6], -6.227_086_4),
            ([-0.591_235_2, 0.806_499_2, -1.495_540_7], -5.635_578),
            ([-0.567_162_2, 0.823_606_1, -0.590_666_3], -5.082_573),
            ([-0.563_947_4, 0.825_810_7, -0.077_961_7], -4.761_013),
        ];
        let mut p = Pendulum::new();
        p.set_state(2.5, -3.0);
        for (u, (obs, reward)) in [1.5f32, -2.0, 0.3, 5.0, -0.7].iter().zip(golden) {
            let s = p.step(&[*u]);
            for d in 0..3 {
                assert!((s.obs[d] - obs[d]).abs() < 1e-5, "u {u}: {:?} vs {obs:?}", s.obs);
            }
            assert!((s.reward - reward).abs() < 1e-4, "u {u}: {} vs {reward}", s.reward);
        }
    }

    /// The angle in the cost is normalised (th = 3 pi costs pi^2) and the
    /// speed is clipped at 8.
    #[test]
    fn angle_is_normalised_and_speed_clipped() {
        assert!((angle_normalize(3.0 * PI).abs() - PI).abs() < 1e-5);
        assert!((angle_normalize(-0.5) + 0.5).abs() < 1e-6);
        let mut p = Pendulum::new();
        p.set_state(0.0, 7.95);
        let s = p.step(&[2.0]);
        assert_eq!(s.obs[2], 8.0);
        assert!((s.reward + 0.1 * 7.95 * 7.95 + 0.004).abs() < 1e-4);
    }

    #[test]
    fn episodes_are_truncated_after_200_steps_and_starts_are_seeded() {
        let mut p = Pendulum::new();
        let a = p.reset(7);
        let mut last = None;
        for _ in 0..HORIZON {
            last = Some(p.step(&[0.0]));
        }
        assert!(last.unwrap().truncated);
        assert_eq!(p.reset(7), a);
        assert_ne!(p.reset(8), a);
    }
}

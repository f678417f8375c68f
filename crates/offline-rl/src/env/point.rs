//! The point-mass navigation suite of the experiment (E1-E3, ours; the
//! paper runs D4RL MuJoCo): a point in
//! [0,10]^2 moved by `s' = s + 0.5 a + N(0, 0.02^2)`, actions in [-1,1]^2,
//! reward -0.1 per step, +10 and the end of the episode inside the goal
//! radius 0.5, -10 and the end on collision, 40 steps.
//!
//! Each layout carries its scripted behaviour policies. Their actions are
//! truncated Gaussians on the action box around a state-only mean (the
//! target waypoint is chosen from the position alone), so the exact action
//! log-density of every behaviour policy is known at every state: OOD rates
//! are measured against the true behaviour, and the oracle-beta arm uses it.

use super::{BoxSpace, Env, Step};
use rand::RngExt;
use reprolab_core::rng::{SeededRng, rng, standard_normal};

/// Position noise of the dynamics (the experiment design's 0.02).
pub const DYNAMICS_NOISE: f32 = 0.02;
/// How far one unit action moves the point.
pub const STEP_SCALE: f32 = 0.5;
pub const GOAL_RADIUS: f32 = 0.5;
pub const HORIZON: usize = 40;
pub const STEP_REWARD: f32 = -0.1;
pub const GOAL_REWARD: f32 = 10.0;
pub const COLLISION_REWARD: f32 = -10.0;

/// An axis-aligned rectangle `[x0,x1] x [y0,y1]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rect {
    pub x0: f32,
    pub x1: f32,
    pub y0: f32,
    pub y1: f32,
}

impl Rect {
    pub fn contains(&self, p: [f32; 2]) -> bool {
        p[0] >= self.x0 && p[0] <= self.x1 && p[1] >= self.y0 && p[1] <= self.y1
    }
}

/// A vertical wall at `x` with an opening for `gap.0 <= y <= gap.1`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Wall {
    pub x: f32,
    pub gap: (f32, f32),
}

/// A scripted behaviour policy: heads at `speed` for the first target whose
/// `until_x` the point has not reached, with truncated-Gaussian noise `sigma`.
#[derive(Debug, Clone, PartialEq)]
pub struct Scripted {
    pub name: &'static str,
    /// `(target, until_x)`: aim at `target` while `x < until_x`.
    pub targets: Vec<([f32; 2], f32)>,
    pub speed: f32,
    pub sigma: f32,
    /// Trajectories this policy contributes to the dataset.
    pub trajectories: usize,
    /// Start states of its trajectories: uniform in this rectangle.
    pub starts: Rect,
}

impl Scripted {
    /// The mean action at `s` (each component within [-speed, speed]).
    pub fn mean(&self, s: [f32; 2]) -> [f32; 2] {
        let target =
            self.targets.iter().find(|(_, until)| s[0] < *until).map_or(self.targets.last().unwrap().0, |t| t.0);
        let d = [target[0] - s[0], target[1] - s[1]];
        let n = (d[0] * d[0] + d[1] * d[1]).sqrt().max(1e-6);
        [self.speed * d[0] / n, self.speed * d[1] / n]
    }

    /// Exact log-density of `a` at `s`: a product of Gaussians truncated to [-1, 1].
    pub fn log_density(&self, s: [f32; 2], a: [f32; 2]) -> f64 {
        let m = self.mean(s);
        (0..2).map(|d| truncated_normal_log_pdf(a[d] as f64, m[d] as f64, self.sigma as f64)).sum()
    }

    /// Squared Mahalanobis distance of `a` from the mean at `s`.
    pub fn z2(&self, s: [f32; 2], a: [f32; 2]) -> f64 {
        let m = self.mean(s);
        (0..2).map(|d| ((a[d] - m[d]) as f64 / self.sigma as f64).powi(2)).sum()
    }

    pub fn sample(&self, s: [f32; 2], r: &mut SeededRng) -> [f32; 2] {
        let m = self.mean(s);
        [truncated_normal_sample(m[0], self.sigma, r), truncated_normal_sample(m[1], self.sigma, r)]
    }
}

/// log N(x; mu, sigma^2) renormalised to [-1, 1] (x outside: -inf).
pub fn truncated_normal_log_pdf(x: f64, mu: f64, sigma: f64) -> f64 {
    if !(-1.0..=1.0).contains(&x) {
        return f64::NEG_INFINITY;
    }
    let z = (x - mu) / sigma;
    let mass = std_normal_cdf((1.0 - mu) / sigma) - std_normal_cdf((-1.0 - mu) / sigma);
    -0.5 * z * z - 0.5 * (2.0 * std::f64::consts::PI).ln() - sigma.ln() - mass.ln()
}

fn std_normal_cdf(z: f64) -> f64 {
    0.5 * (1.0 + statrs::function::erf::erf(z / std::f64::consts::SQRT_2))
}

/// A draw from N(mu, sigma^2) truncated to [-1, 1] (rejection; the means
/// here stay inside the box, so few draws are rejected).
pub fn truncated_normal_sample(mu: f32, sigma: f32, r: &mut SeededRng) -> f32 {
    for _ in 0..1000 {
        let x = mu + sigma * standard_normal(r);
        if (-1.0..=1.0).contains(&x) {
            return x;
        }
    }
    mu.clamp(-1.0, 1.0)
}

/// One map of the suite with its behaviour policies.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    pub id: &'static str,
    pub start: [f32; 2],
    pub goal: [f32; 2],
    pub obstacle: Option<Rect>,
    pub wall: Option<Wall>,
    pub behaviours: Vec<Scripted>,
    /// The scripted optimal controller (normalised return 100).
    pub optimal: Scripted,
    /// The decision region of the mode-seeking metrics: `x in [2,4]`, `|y-5| < 1`.
    pub decision: Rect,
}

const OBSTACLE: Rect = Rect { x0: 4.0, x1: 6.0, y0: 3.5, y1: 6.5 };
const DECISION: Rect = Rect { x0: 2.0, x1: 4.0, y0: 4.0, y1: 6.0 };
const START_BOX: Rect = Rect { x0: 0.8, x1: 1.2, y0: 4.8, y1: 5.2 };
const INF: f32 = f32::INFINITY;

/// The two routes around the box obstacle: via (5, 8) or (5, 2), then past
/// the box's far corner, then `after` (the goal, or a gap first).
fn routes(after: &[([f32; 2], f32)], sigma: f32, speed: f32, trajectories: usize) -> [Scripted; 2] {
    let route = |name, y_way: f32, y_past: f32| {
        let mut targets = vec![([5.0, y_way], 4.8), ([6.5, y_past], 6.3)];
        targets.extend_from_slice(after);
        Scripted { name, targets, speed, sigma, trajectories, starts: START_BOX }
    };
    [route("upper route", 8.0, 7.5), route("lower route", 2.0, 2.5)]
}

impl Layout {
    /// E1: start (1,5), goal (9,5) (`point-obstacle`) or (9,6.5)
    /// (`point-obstacle-up`), box [4,6]x[3.5,6.5], two routes, 50 each.
    pub fn obstacle(goal_y: f32) -> Self {
        let goal = [9.0, goal_y];
        let [upper, lower] = routes(&[(goal, INF)], 0.1, 0.8, 50);
        // The optimal controller takes the shorter route (the upper one when
        // the goal is raised; either when it is centred) at full speed.
        let optimal = Scripted { name: "optimal", sigma: 0.0, speed: 1.0, trajectories: 0, ..upper.clone() };
        Self {
            id: if goal_y > 5.0 { "point-obstacle-up" } else { "point-obstacle" },
            start: [1.0, 5.0],
            goal,
            obstacle: Some(OBSTACLE),
            wall: None,
            behaviours: vec![upper, lower],
            optimal,
            decision: DECISION,
        }
    }

    /// E2: wall at x=5 with a gap y in [4.7,5.3]; 400 wide meandering
    /// trajectories (sigma 0.6, speed 0.3, about (3, 5)) on the left, 50 narrow expert
    /// trajectories (sigma 0.05) through the gap and on the right.
    pub fn gap() -> Self {
        let goal = [9.0, 5.0];
        let meander = Scripted {
            name: "meandering",
            // It wanders about the middle of the left region. (Aimed at the
            // gap entrance instead, as in our first run, it lingered there and
            // crowded the gap with wide data, where the design has only the
            // narrow expert's.)
            targets: vec![([3.0, 5.0], INF)],
            speed: 0.3,
            sigma: 0.6,
            trajectories: 400,
            starts: Rect { x0: 0.5, x1: 2.0, y0: 3.0, y1: 7.0 },
        };
        let expert = Scripted {
            name: "expert",
            targets: vec![([4.6, 5.0], 4.5), (goal, INF)],
            speed: 0.8,
            sigma: 0.05,
            trajectories: 50,
            starts: Rect { x0: 3.5, x1: 4.5, y0: 4.2, y1: 5.8 },
        };
        let optimal = Scripted { name: "optimal", sigma: 0.0, speed: 1.0, trajectories: 0, ..expert.clone() };
        Self {
            id: "point-gap",
            start: [1.0, 5.0],
            goal,
            obstacle: None,
            wall: Some(Wall { x: 5.0, gap: (4.7, 5.3) }),
            behaviours: vec![meander, expert],
            optimal,
            decision: DECISION,
        }
    }

    /// E3: the box obstacle and a wall at x=7.75 with a gap y in [4.7,5.3];
    /// the two routes of E1 continue through the gap.
    pub fn obstacle_gap() -> Self {
        let goal = [9.0, 5.0];
        let after = [([7.0, 5.0], 6.95), (goal, INF)];
        let [upper, lower] = routes(&after, 0.1, 0.8, 50);
        let optimal = Scripted { name: "optimal", sigma: 0.0, speed: 1.0, trajectories: 0, ..upper.clone() };
        Self {
            id: "point-obstacle-gap",
            start: [1.0, 5.0],
            goal,
            obstacle: Some(OBSTACLE),
            wall: Some(Wall { x: 7.75, gap: (4.7, 5.3) }),
            behaviours: vec![upper, lower],
            optimal,
            decision: DECISION,
        }
    }

    pub fn by_id(id: &str) -> Option<Self> {
        match id {
            "point-obstacle" => Some(Self::obstacle(5.0)),
            "point-obstacle-up" => Some(Self::obstacle(6.5)),
            "point-gap" => Some(Self::gap()),
            "point-obstacle-gap" => Some(Self::obstacle_gap()),
            _ => None,
        }
    }

    /// Whether moving from `a` to `b` hits the obstacle or the wall.
    pub fn collides(&self, a: [f32; 2], b: [f32; 2]) -> bool {
        if let Some(r) = self.obstacle {
            // Steps are at most ~0.7 long and the box is 2 x 3: checking
            // 8 points along the segment finds every crossing of it.
            if (0..=8).any(|i| {
                let t = i as f32 / 8.0;
                r.contains([a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])])
            }) {
                return true;
            }
        }
        if let Some(w) = self.wall {
            let (da, db) = (a[0] - w.x, b[0] - w.x);
            if da * db <= 0.0 && a[0] != b[0] {
                let t = da / (da - db);
                let y = a[1] + t * (b[1] - a[1]);
                if y < w.gap.0 || y > w.gap.1 {
                    return true;
                }
            }
        }
        false
    }

    /// True behaviour log-density of `a` at `s` under the policy mixture with
    /// the given per-policy weights (they sum to 1).
    pub fn mixture_log_density(&self, weights: &[f64], s: [f32; 2], a: [f32; 2]) -> f64 {
        let terms: Vec<f64> = self.behaviours.iter().zip(weights).map(|(b, w)| w.ln() + b.log_density(s, a)).collect();
        log_sum_exp(&terms)
    }

    /// An action is out of distribution when it lies more than 3 standard
    /// deviations (Mahalanobis) from the mean of every behaviour policy.
    pub fn is_ood(&self, s: [f32; 2], a: [f32; 2]) -> bool {
        self.behaviours.iter().all(|b| b.z2(s, a) > 9.0)
    }
}

pub fn log_sum_exp(x: &[f64]) -> f64 {
    let m = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if m == f64::NEG_INFINITY {
        return m;
    }
    m + x.iter().map(|v| (v - m).exp()).sum::<f64>().ln()
}

/// The point-mass environment of one [`Layout`].
pub struct PointMass {
    pub layout: Layout,
    pos: [f32; 2],
    t: usize,
    rng: SeededRng,
}

impl PointMass {
    pub fn new(layout: Layout) -> Self {
        let start = layout.start;
        Self { layout, pos: start, t: 0, rng: rng(0) }
    }

    /// Starts at `pos` instead of the layout's start (data collection).
    pub fn reset_at(&mut self, pos: [f32; 2], seed: u64) -> Vec<f32> {
        self.rng = rng(seed);
        self.pos = pos;
        self.t = 0;
        pos.to_vec()
    }
}

impl Env for PointMass {
    fn observation_space(&self) -> BoxSpace {
        BoxSpace { low: vec![0.0; 2], high: vec![10.0; 2] }
    }

    fn action_space(&self) -> BoxSpace {
        BoxSpace { low: vec![-1.0; 2], high: vec![1.0; 2] }
    }

    fn reset(&mut self, seed: u64) -> Vec<f32> {
        let start = self.layout.start;
        self.reset_at(start, seed)
    }

    fn step(&mut self, action: &[f32]) -> Step {
        let a = [action[0].clamp(-1.0, 1.0), action[1].clamp(-1.0, 1.0)];
        let prev = self.pos;
        let mut next = [0.0f32; 2];
        for d in 0..2 {
            let noise = DYNAMICS_NOISE * standard_normal(&mut self.rng);
            next[d] = (prev[d] + STEP_SCALE * a[d] + noise).clamp(0.0, 10.0);
        }
        self.pos = next;
        self.t += 1;
        let truncated = self.t >= HORIZON;
        if self.layout.collides(prev, next) {
            return Step { obs: next.to_vec(), reward: COLLISION_REWARD, terminated: true, truncated: false };
        }
        let g = self.layout.goal;
        let reached = ((next[0] - g[0]).powi(2) + (next[1] - g[1]).powi(2)).sqrt() < GOAL_RADIUS;
        let reward = STEP_REWARD + if reached { GOAL_REWARD } else { 0.0 };
        Step { obs: next.to_vec(), reward, terminated: reached, truncated: truncated && !reached }
    }

    fn horizon(&self) -> usize {
        HORIZON
    }
}

/// A start state uniform in `r`.
pub fn sample_start(r: &Rect, g: &mut SeededRng) -> [f32; 2] {
    [r.x0 + (r.x1 - r.x0) * g.random::<f32>(), r.y0 + (r.y1 - r.y0) * g.random::<f32>()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_step_moves_half_the_action_plus_small_noise_and_pays_the_step_cost() {
        let mut env = PointMass::new(Layout::obstacle(5.0));
        env.reset(3);
        let s = env.step(&[1.0, -0.4]);
        assert!((s.obs[0] - 1.5).abs() < 0.1 && (s.obs[1] - 4.8).abs() < 0.1, "{:?}", s.obs);
        assert_eq!(s.reward, -0.1);
        assert!(!s.terminated && !s.truncated);
        // Actions outside the box are clipped: 5 acts as 1.
        let before = s.obs.clone();
        let s = env.step(&[5.0, 0.0]);
        assert!((s.obs[0] - before[0] - 0.5).abs() < 0.1);
    }

    #[test]
    fn hitting_the_box_ends_with_minus_ten_and_the_goal_with_plus_ten() {
        let mut env = PointMass::new(Layout::obstacle(5.0));
        env.reset_at([3.7, 5.0], 0);
        let s = env.step(&[1.0, 0.0]);
        assert!(s.terminated && s.reward == -10.0);
        env.reset_at([8.3, 5.0], 0);
        let s = env.step(&[1.0, 0.0]);
        assert!(s.terminated && (s.reward - 9.9).abs() < 1e-6, "{s:?}");
    }

    #[test]
    fn the_wall_stops_a_crossing_outside_the_gap_only() {
        let l = Layout::gap();
        assert!(l.collides([4.8, 6.0], [5.2, 6.0]));
        assert!(!l.collides([4.8, 5.0], [5.2, 5.1]));
        assert!(!l.collides([4.0, 6.0], [4.5, 6.0]));
    }

    #[test]
    fn truncation_comes_at_the_horizon() {
        let mut env = PointMass::new(Layout::gap());
        env.reset(0);
        let last = (0..HORIZON).map(|_| env.step(&[0.0, 0.0])).last().unwrap();
        assert!(last.truncated && !last.terminated);
    }

    /// The truncated normal integrates to 1 on [-1, 1] and equals the plain
    /// normal density divided by its mass inside the box.
    #[test]
    fn truncated_normal_density_is_normalised() {
        for (mu, sigma) in [(0.8, 0.6), (0.0, 0.1), (-0.5, 0.3)] {
            let n = 20_000;
            let h = 2.0 / n as f64;
            let total: f64 =
                (0..n).map(|i| truncated_normal_log_pdf(-1.0 + (i as f64 + 0.5) * h, mu, sigma).exp() * h).sum();
            assert!((total - 1.0).abs() < 1e-4, "{mu} {sigma}: {total}");
        }
        // mu = 0, sigma = 1: mass 0.682689..., so the density at 0 is 0.398942 / 0.682689.
        let v = truncated_normal_log_pdf(0.0, 0.0, 1.0).exp();
        assert!((v - 0.398_942_28 / 0.682_689_49).abs() < 1e-6, "{v}");
        assert_eq!(truncated_normal_log_pdf(1.5, 0.0, 1.0), f64::NEG_INFINITY);
    }

    #[test]
    fn scripted_routes_split_at_the_start_and_are_safe_without_noise() {
        let l = Layout::obstacle(5.0);
        let up = l.behaviours[0].mean([1.0, 5.0]);
        let down = l.behaviours[1].mean([1.0, 5.0]);
        assert!(up[1] > 0.4 && down[1] < -0.4 && (up[0] - down[0]).abs() < 1e-6);
        // A noiseless rollout of each behaviour and of the optimal controller reaches the goal.
        for id in ["point-obstacle", "point-obstacle-up", "point-gap", "point-obstacle-gap"] {
            let l = Layout::by_id(id).unwrap();
            let mut policies: Vec<Scripted> = l.behaviours.iter().filter(|b| b.sigma < 0.2).cloned().collect();
            policies.push(l.optimal.clone());
            for p in policies {
                let mut env = PointMass::new(l.clone());
                let mut s = env.reset(0);
                let mut reached = false;
                for _ in 0..HORIZON {
                    let m = p.mean([s[0], s[1]]);
                    let st = env.step(&m);
                    s = st.obs;
                    if st.terminated {
                        reached = st.reward > 0.0;
                        break;
                    }
                }
                assert!(reached, "{id} {}: ended at {s:?}", p.name);
            }
        }
    }

    #[test]
    fn ood_means_beyond_three_sigma_of_every_behaviour() {
        let l = Layout::obstacle(5.0);
        let s = [3.0, 5.0];
        let up = l.behaviours[0].mean(s);
        assert!(!l.is_ood(s, up));
        // The average of the two modes (a_y ~ 0) is ~5 sigma from both.
        let avg = [up[0], 0.0];
        assert!(l.is_ood(s, avg));
        let w = [0.5, 0.5];
        assert!(l.mixture_log_density(&w, s, up) > l.mixture_log_density(&w, s, avg) + 10.0);
    }
}

//! Offline datasets of transitions in D4RL's layout (observations, actions,
//! rewards, terminals, timeouts, next_observations), how they are mixed,
//! normalised, sampled, and collected from scripted behaviour policies.

use crate::env::point::{Layout, PointMass, sample_start};
use crate::env::{Env, Step, point};
use anyhow::Result;
use burn::tensor::{Device, Tensor, TensorData};
use rand::RngExt;
use reprolab_core::rng::{SeededRng, derive_seed, rng};

/// Transitions, row-major. `source[i]` names which behaviour policy (index
/// into `sources`) produced row `i`, where that is known. Serialises
/// losslessly (the experiment's shared stage hands datasets to its units as
/// JSON).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Dataset {
    pub obs_dim: usize,
    pub act_dim: usize,
    #[serde(with = "exact_f32s")]
    pub observations: Vec<f32>,
    #[serde(with = "exact_f32s")]
    pub actions: Vec<f32>,
    #[serde(with = "exact_f32s")]
    pub rewards: Vec<f32>,
    #[serde(with = "exact_f32s")]
    pub next_observations: Vec<f32>,
    /// 1 where the episode ended inside the MDP (no bootstrap).
    #[serde(with = "exact_f32s")]
    pub terminals: Vec<f32>,
    /// 1 where the time limit ended the episode.
    #[serde(with = "exact_f32s")]
    pub timeouts: Vec<f32>,
    pub source: Vec<u16>,
    pub sources: Vec<String>,
}

impl Dataset {
    pub fn new(obs_dim: usize, act_dim: usize) -> Self {
        Self { obs_dim, act_dim, ..Default::default() }
    }

    pub fn len(&self) -> usize {
        self.rewards.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rewards.is_empty()
    }

    /// Appends the transition from `obs` by `act` to `step`.
    pub fn push(&mut self, obs: &[f32], act: &[f32], step: &Step, src: u16) {
        self.observations.extend_from_slice(obs);
        self.actions.extend_from_slice(act);
        self.rewards.push(step.reward);
        self.next_observations.extend_from_slice(&step.obs);
        self.terminals.push(f32::from(u8::from(step.terminated)));
        self.timeouts.push(f32::from(u8::from(step.truncated)));
        self.source.push(src);
    }

    pub fn obs(&self, i: usize) -> &[f32] {
        &self.observations[i * self.obs_dim..(i + 1) * self.obs_dim]
    }

    pub fn action(&self, i: usize) -> &[f32] {
        &self.actions[i * self.act_dim..(i + 1) * self.act_dim]
    }

    /// Checks lengths and finiteness; `what` names the file in errors.
    pub fn validate(&self, what: &str) -> Result<()> {
        let n = self.len();
        if n == 0 {
            reprolab_core::user_bail!("{what}: the dataset has no transitions");
        }
        let checks: [(&str, usize, usize); 5] = [
            ("observations", self.observations.len(), n * self.obs_dim),
            ("actions", self.actions.len(), n * self.act_dim),
            ("next_observations", self.next_observations.len(), n * self.obs_dim),
            ("terminals", self.terminals.len(), n),
            ("timeouts", self.timeouts.len(), n),
        ];
        for (name, got, want) in checks {
            if got != want {
                reprolab_core::user_bail!("{what}: '{name}' has {got} values, expected {want} ({n} transitions)");
            }
        }
        let arrays: [(&str, &[f32]); 4] = [
            ("observations", &self.observations),
            ("actions", &self.actions),
            ("rewards", &self.rewards),
            ("next_observations", &self.next_observations),
        ];
        for (name, v) in arrays {
            if let Some(i) = v.iter().position(|x| !x.is_finite()) {
                reprolab_core::user_bail!("{what}: '{name}' has a non-finite value at flat index {i}");
            }
        }
        Ok(())
    }

    /// The datasets one after another (the paper's "mixed datasets").
    pub fn concat(parts: &[Dataset]) -> Result<Dataset> {
        let Some(first) = parts.first() else { reprolab_core::user_bail!("no datasets to mix") };
        let mut out = Dataset::new(first.obs_dim, first.act_dim);
        for p in parts {
            if (p.obs_dim, p.act_dim) != (out.obs_dim, out.act_dim) {
                reprolab_core::user_bail!(
                    "cannot mix datasets with observation/action sizes {}/{} and {}/{}",
                    out.obs_dim,
                    out.act_dim,
                    p.obs_dim,
                    p.act_dim
                );
            }
            let offset = out.sources.len() as u16;
            out.observations.extend_from_slice(&p.observations);
            out.actions.extend_from_slice(&p.actions);
            out.rewards.extend_from_slice(&p.rewards);
            out.next_observations.extend_from_slice(&p.next_observations);
            out.terminals.extend_from_slice(&p.terminals);
            out.timeouts.extend_from_slice(&p.timeouts);
            out.source.extend(p.source.iter().map(|s| s + offset));
            out.sources.extend(p.sources.iter().cloned());
        }
        Ok(out)
    }

    /// Returns of the complete episodes (an episode ends at a terminal or a timeout).
    pub fn episode_returns(&self) -> Vec<f64> {
        let mut out = Vec::new();
        let mut acc = 0.0;
        for i in 0..self.len() {
            acc += self.rewards[i] as f64;
            if self.terminals[i] > 0.5 || self.timeouts[i] > 0.5 {
                out.push(acc);
                acc = 0.0;
            }
        }
        out
    }
}

/// Serde for `Vec<f32>` that round-trips every bit pattern of a finite
/// value: each is written as the `f64` it widens to (exact), read back as an
/// `f64` (exact with serde_json's `float_roundtrip`) and narrowed (exact),
/// avoiding the double rounding of parsing an `f32`'s shortest decimal as an
/// `f64` first. Non-finite values are written as "NaN", "inf", "-inf".
mod exact_f32s {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    #[serde(transparent)]
    struct Wide(#[serde(with = "reprolab_core::plan::json_f64")] f64);

    pub fn serialize<S: Serializer>(v: &[f32], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(v.iter().map(|&x| Wide(f64::from(x))))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f32>, D::Error> {
        Ok(Vec::<Wide>::deserialize(d)?.into_iter().map(|w| w.0 as f32).collect())
    }
}

/// State normalisation by the dataset's mean and std (TD3+BC: std + 1e-3).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Normaliser {
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
}

impl Normaliser {
    pub fn fit(data: &Dataset) -> Self {
        let (n, d) = (data.len(), data.obs_dim);
        let mut mean = vec![0f64; d];
        for i in 0..n {
            for (j, m) in mean.iter_mut().enumerate() {
                *m += data.observations[i * d + j] as f64;
            }
        }
        mean.iter_mut().for_each(|m| *m /= n as f64);
        let mut var = vec![0f64; d];
        for i in 0..n {
            for j in 0..d {
                var[j] += (data.observations[i * d + j] as f64 - mean[j]).powi(2);
            }
        }
        Self {
            mean: mean.iter().map(|&m| m as f32).collect(),
            std: var.iter().map(|v| ((v / n as f64).sqrt() + 1e-3) as f32).collect(),
        }
    }

    pub fn apply(&self, obs: &[f32]) -> Vec<f32> {
        let d = self.mean.len();
        obs.iter().enumerate().map(|(i, x)| (x - self.mean[i % d]) / self.std[i % d]).collect()
    }
}

/// The dataset as the learner sees it: states normalised by
/// [`Normaliser`], actions divided by the action bound into [-1, 1]. Kept on
/// the host; [`Prepared::batch`] copies the sampled rows to the device.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub obs_dim: usize,
    pub act_dim: usize,
    pub obs: Vec<f32>,
    pub actions: Vec<f32>,
    pub rewards: Vec<f32>,
    pub next_obs: Vec<f32>,
    pub not_done: Vec<f32>,
}

/// One sampled minibatch on the device.
pub struct Batch {
    pub obs: Tensor<2>,
    pub actions: Tensor<2>,
    pub rewards: Tensor<2>,
    pub next_obs: Tensor<2>,
    pub not_done: Tensor<2>,
    /// The dataset rows (the oracle density looks their raw states up).
    pub rows: Vec<usize>,
}

impl Prepared {
    pub fn new(data: &Dataset, norm: &Normaliser, action_scale: &[f32]) -> Self {
        let mut p = Self {
            obs_dim: data.obs_dim,
            act_dim: data.act_dim,
            obs: Vec::new(),
            actions: Vec::new(),
            rewards: Vec::new(),
            next_obs: Vec::new(),
            not_done: Vec::new(),
        };
        p.extend(data, 0, norm, action_scale);
        p
    }

    /// Appends rows `from..` of `data` (the online learner's growing buffer).
    pub fn extend(&mut self, data: &Dataset, from: usize, norm: &Normaliser, action_scale: &[f32]) {
        let (od, ad) = (data.obs_dim, data.act_dim);
        self.obs.extend(norm.apply(&data.observations[from * od..]));
        self.next_obs.extend(norm.apply(&data.next_observations[from * od..]));
        self.actions.extend(data.actions[from * ad..].iter().enumerate().map(|(i, x)| x / action_scale[i % ad]));
        self.rewards.extend_from_slice(&data.rewards[from..]);
        self.not_done.extend(data.terminals[from..].iter().map(|d| 1.0 - d));
    }

    pub fn len(&self) -> usize {
        self.rewards.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rewards.is_empty()
    }

    /// `batch` rows drawn uniformly with replacement.
    pub fn sample(&self, batch: usize, r: &mut SeededRng, device: &Device) -> Batch {
        let rows: Vec<usize> = (0..batch).map(|_| r.random_range(0..self.len())).collect();
        self.batch(rows, device)
    }

    pub fn batch(&self, rows: Vec<usize>, device: &Device) -> Batch {
        let n = rows.len();
        let gather = |v: &[f32], d: usize| {
            let mut out = Vec::with_capacity(n * d);
            for &i in &rows {
                out.extend_from_slice(&v[i * d..(i + 1) * d]);
            }
            Tensor::<2>::from_data(TensorData::new(out, [n, d]), device)
        };
        Batch {
            obs: gather(&self.obs, self.obs_dim),
            actions: gather(&self.actions, self.act_dim),
            rewards: gather(&self.rewards, 1),
            next_obs: gather(&self.next_obs, self.obs_dim),
            not_done: gather(&self.not_done, 1),
            rows,
        }
    }
}

/// The point-mass dataset of a layout: each behaviour policy's trajectories
/// from its start rectangle, to the goal, a collision or the horizon.
pub fn collect_point(layout: &Layout, seed: u64) -> Dataset {
    let mut data = Dataset::new(2, 2);
    data.sources = layout.behaviours.iter().map(|b| b.name.to_string()).collect();
    let mut env = PointMass::new(layout.clone());
    for (src, policy) in layout.behaviours.iter().enumerate() {
        let mut r = rng(derive_seed(seed, policy.name));
        for _ in 0..policy.trajectories {
            let start = sample_start(&policy.starts, &mut r);
            let mut s = env.reset_at(start, r.random());
            for _ in 0..point::HORIZON {
                let a = policy.sample([s[0], s[1]], &mut r);
                let st = env.step(&a);
                data.push(&s, &a, &st, src as u16);
                s = st.obs;
                if st.terminated || st.truncated {
                    break;
                }
            }
        }
    }
    data
}

/// Episodes of `policy` (a function of the raw observation) in `env`.
pub fn collect_env(
    env: &mut dyn Env,
    episodes: usize,
    seed: u64,
    source: &str,
    mut policy: impl FnMut(&[f32], &mut SeededRng) -> Vec<f32>,
) -> Dataset {
    let mut data = Dataset::new(env.observation_space().dim(), env.action_space().dim());
    data.sources = vec![source.to_string()];
    let mut r = rng(derive_seed(seed, source));
    for ep in 0..episodes {
        let mut s = env.reset(derive_seed(seed, &format!("{source}-{ep}")));
        loop {
            let a = env.action_space().clip(&policy(&s, &mut r));
            let st = env.step(&a);
            data.push(&s, &a, &st, 0);
            s = st.obs;
            if st.terminated || st.truncated {
                break;
            }
        }
    }
    data
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn point_datasets_have_every_trajectory_and_valid_rows() {
        let layout = Layout::obstacle(5.0);
        let d = collect_point(&layout, 0);
        d.validate("e1").unwrap();
        assert_eq!(d.episode_returns().len(), 100);
        // Both routes' data, and they mostly reach the goal.
        assert!(d.source.contains(&0) && d.source.contains(&1));
        let wins = d.episode_returns().iter().filter(|r| **r > 0.0).count();
        assert!(wins >= 90, "{wins}");
        let e2 = collect_point(&Layout::gap(), 0);
        assert_eq!(e2.episode_returns().len(), 450);
    }

    #[test]
    fn validation_names_the_bad_array() {
        let mut d = collect_point(&Layout::obstacle(5.0), 1);
        d.rewards[3] = f32::NAN;
        assert!(d.validate("f.npz").unwrap_err().to_string().contains("'rewards' has a non-finite"));
        let mut d = collect_point(&Layout::obstacle(5.0), 1);
        d.actions.pop();
        assert!(d.validate("f.npz").unwrap_err().to_string().contains("'actions' has"));
    }

    #[test]
    fn json_round_trip_is_bit_exact() {
        let mut d = collect_point(&Layout::obstacle(5.0), 1);
        d.rewards[0] = f32::from_bits(0x3f80_0001);
        d.actions[0] = 1e-40;
        let back: Dataset = serde_json::from_str(&serde_json::to_string(&d).unwrap()).unwrap();
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        for (a, b) in [
            (&d.observations, &back.observations),
            (&d.actions, &back.actions),
            (&d.rewards, &back.rewards),
            (&d.next_observations, &back.next_observations),
            (&d.terminals, &back.terminals),
            (&d.timeouts, &back.timeouts),
        ] {
            assert_eq!(bits(a), bits(b));
        }
        assert_eq!(back, d);
    }

    #[test]
    fn concat_keeps_sources_apart_and_checks_sizes() {
        let a = collect_point(&Layout::obstacle(5.0), 1);
        let b = collect_point(&Layout::gap(), 1);
        let m = Dataset::concat(&[a.clone(), b.clone()]).unwrap();
        assert_eq!(m.len(), a.len() + b.len());
        assert_eq!(m.sources.len(), 4);
        assert_eq!(m.source[a.len()], 2);
        let other = Dataset::new(3, 1);
        assert!(Dataset::concat(&[a, other]).is_err());
    }

    #[test]
    fn normaliser_centres_and_scales() {
        let mut d = Dataset::new(1, 1);
        for x in [1.0f32, 3.0] {
            d.push(&[x], &[0.0], &Step { obs: vec![x], reward: 0.0, terminated: false, truncated: false }, 0);
        }
        let n = Normaliser::fit(&d);
        assert_eq!(n.mean, vec![2.0]);
        assert!((n.std[0] - 1.001).abs() < 1e-6);
        assert!((n.apply(&[3.0])[0] - 1.0 / 1.001).abs() < 1e-6);
    }
}

//! The experiment's protocol: each seed draws its own data (so the std
//! over seeds and the paired tests measure data and training noise), and
//! the OOD metric reads the true behaviour mixture at the state.

use offline_rl::behaviour::Oracle;
use offline_rl::env::point::Layout;
use offline_rl::eval::Episode;
use offline_rl::experiment::{Config, pendulum_behaviours, point_metrics, references, run_point};
use reprolab_core::registry::{Preset, preset_config};

/// Held by every test here: training draws from burn's one global
/// generator, so two tests training at once in two threads would change
/// each other's draws (and the determinism checked below).
fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// The smoke preset cut to a few updates: only the data matters here.
fn tiny() -> Config {
    let mut cfg: Config = preset_config("offline-rl", Preset::Smoke).unwrap();
    cfg.steps = 2;
    cfg.eval_every = 2;
    cfg.eval_episodes = 1;
    cfg.mdn.steps = 2;
    cfg
}

#[test]
fn each_seed_of_a_point_mass_experiment_has_its_own_dataset() {
    let _guard = one_at_a_time();
    let cfg = tiny();
    let bar = indicatif::ProgressBar::hidden();
    let run = |seed| run_point("e1", Layout::obstacle(5.0), &cfg, seed, &bar).unwrap();
    let (a, b, again) = (run(0), run(1), run(0));
    assert_ne!(a.dataset.observations, b.dataset.observations);
    assert_ne!(a.dataset.actions, b.dataset.actions);
    assert_eq!(a.dataset, again.dataset);
}

#[test]
fn each_seed_of_pendulum_has_its_own_online_run_and_datasets() {
    let _guard = one_at_a_time();
    let cfg = tiny();
    let (a, b) = (pendulum_behaviours(&cfg, 0).unwrap(), pendulum_behaviours(&cfg, 1).unwrap());
    assert_ne!(a.random.actions, b.random.actions);
    assert_ne!(a.expert.actions, b.expert.actions);
    assert_ne!(a.online_curve, b.online_curve);
    assert_eq!(pendulum_behaviours(&cfg, 0).unwrap().expert, a.expert);
}

/// An episode that steps through E1's decision region with the lower
/// route's mean action at a state only the upper route visits in the data:
/// OOD (the old rule, beyond 3 sigma of every policy's mean, said no).
#[test]
fn the_ood_rate_counts_actions_of_a_policy_absent_at_the_state() {
    let _guard = one_at_a_time();
    let layout = Layout::obstacle(5.0);
    let s = [3.0f32, 5.5];
    let oracle = Oracle::new(&layout, vec![s; 30], &[0; 30]);
    let (up, down) = (layout.behaviours[0].mean(s), layout.behaviours[1].mean(s));
    let episode = |a: [f32; 2]| Episode {
        ret: 0.0,
        steps: 1,
        terminated: false,
        last_reward: -0.1,
        states: vec![s.to_vec(), s.to_vec()],
        actions: vec![a.to_vec()],
    };
    let refs = references(&layout);
    let ood = |a| point_metrics(&layout, &oracle, &[episode(a)], &refs).iter().find(|m| m.0 == "OOD rate").unwrap().1;
    assert!(!layout.is_ood(s, down));
    assert_eq!(ood(down), 1.0);
    assert_eq!(ood(up), 0.0);
}

//! IQL (crates/offline-rl/src/iql.rs): its losses against hand
//! computations, the advantage weight's clip, the expectile loss's
//! gradient, and on a one-step bandit that it learns the expectile value
//! and moves the policy to the better action where behaviour cloning
//! averages the two. (One update against CORL's PyTorch code is the unit
//! test `iql::tests::three_updates_match_corls_iql`.)

use burn::tensor::{Device, Tensor, TensorData};
use offline_rl::dataset::Dataset;
use offline_rl::env::Step;
use offline_rl::iql::{IqlConfig, IqlParts, advantage_weights, expectile_loss, gaussian_nll};
use offline_rl::td3::{Algo, Td3Config};
use offline_rl::train::{Behaviour, OfflineRun, train_offline};
use reprolab_core::registry::Validate;

fn dev() -> Device {
    reprolab_core::device::default_device()
}

fn col(v: &[f32], device: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(v.to_vec(), [v.len(), 1]), device)
}

fn values(t: Tensor<2>) -> Vec<f32> {
    t.into_data().try_to_vec().unwrap()
}

/// `mean |tau - 1(u < 0)| u^2` by hand: u = (-2, -0.5, 1, 3) at tau 0.7
/// weighs the negative residuals by 0.3 and the positive ones by 0.7:
/// (0.3 * 4 + 0.3 * 0.25 + 0.7 * 1 + 0.7 * 9) / 4 = 8.275 / 4 = 2.06875;
/// at tau 0.5 every weight is 0.5: 14.25 / 8 = 1.78125.
#[test]
fn expectile_loss_matches_a_hand_computation() {
    let u = col(&[-2.0, -0.5, 1.0, 3.0], &dev());
    let l = expectile_loss(u.clone(), 0.7).into_scalar::<f32>();
    assert!((l - 2.06875).abs() < 1e-6, "{l}");
    let l = expectile_loss(u, 0.5).into_scalar::<f32>();
    assert!((l - 1.78125).abs() < 1e-6, "{l}");
    // Asymmetric: V one below Q (u = +1) costs 0.7, one above (u = -1) 0.3.
    let above = expectile_loss(col(&[1.0], &dev()), 0.7).into_scalar::<f32>();
    let below = expectile_loss(col(&[-1.0], &dev()), 0.7).into_scalar::<f32>();
    assert!((above - 0.7).abs() < 1e-6 && (below - 0.3).abs() < 1e-6, "{above} {below}");
}

/// The gradient in V of the expectile loss of Q samples {0, 1}:
/// `dL/dV = -mean 2 w (x - V)`, at V = 0.2 `-(2*0.3*(-0.2) + 2*0.7*0.8)/2
/// = -0.5`, and 0 at V = 0.7, the 0.7-expectile of {0, 1} (where
/// `0.7 (1 - V) = 0.3 V`); autodiff agrees with both and with a central
/// difference.
#[test]
fn expectile_loss_gradient_vanishes_at_the_expectile() {
    let ad = dev().autodiff();
    let grad_at = |v: f32| -> f32 {
        let x = col(&[0.0, 1.0], &ad);
        let v_t = col(&[v, v], &ad).require_grad();
        let g = expectile_loss(x - v_t.clone(), 0.7).backward();
        let g = v_t.grad(&g).unwrap();
        g.into_data().try_to_vec::<f32>().unwrap().iter().sum()
    };
    let loss_at = |v: f64| -> f64 {
        let x = col(&[0.0, 1.0], &dev());
        expectile_loss(x.sub_scalar(v), 0.7).into_scalar::<f32>() as f64
    };
    assert!((grad_at(0.2) + 0.5).abs() < 1e-5, "{}", grad_at(0.2));
    assert!(grad_at(0.7).abs() < 1e-5, "{}", grad_at(0.7));
    for v in [0.2, 0.9] {
        let h = 1e-2;
        let fd = (loss_at(v + h) - loss_at(v - h)) / (2.0 * h);
        assert!((grad_at(v as f32) as f64 - fd).abs() < 1e-3, "{v}: {} vs {fd}", grad_at(v as f32));
    }
    // Above the expectile the loss rises, below it falls: the minimum.
    assert!(grad_at(0.8) > 0.0 && grad_at(0.6) < 0.0);
}

/// `min(exp(beta A), max)`: A = (-1, 0, 0.5, 2) at beta 3 gives e^-3, 1,
/// e^1.5 and e^6 = 403 clipped to CORL's 100; the weights are constants
/// in the actor's gradient (d/dA of sum w A is w, not w (1 + beta A)).
#[test]
fn advantage_weights_are_clipped_and_gradient_stopped() {
    let ad = dev().autodiff();
    let a = col(&[-1.0, 0.0, 0.5, 2.0], &ad).require_grad();
    let w = advantage_weights(a.clone(), 3.0, 100.0);
    let got = values(w.clone());
    let want = [(-3.0f64).exp(), 1.0, 1.5f64.exp(), 100.0];
    for (g, w) in got.iter().zip(want) {
        assert!((*g as f64 - w).abs() < 1e-4 * w, "{got:?}");
    }
    let grads = (w * a.clone()).sum().backward();
    let g: Vec<f32> = a.grad(&grads).unwrap().into_data().try_to_vec().unwrap();
    for (g, w) in g.iter().zip(&got) {
        assert!((g - w).abs() < 1e-4 * w, "{g} vs {w}");
    }
    // A lower clip binds earlier; beta 0 is behaviour cloning (all 1).
    assert_eq!(values(advantage_weights(col(&[0.5, 2.0], &dev()), 3.0, 2.0)), vec![2.0, 2.0]);
    assert_eq!(values(advantage_weights(col(&[-4.0, 4.0], &dev()), 0.0, 100.0)), vec![1.0, 1.0]);
}

/// The Gaussian actor's negative log-likelihood by hand: mean 0.2, std 0.5,
/// a = 0.7 (z = 1): 0.5 + ln 0.5 + ln sqrt(2 pi) = 0.725791; two
/// dimensions add; a log-std below -20 is clamped to -20 (CORL's bound).
#[test]
fn gaussian_nll_matches_a_hand_computation() {
    let d = dev();
    let one = |m: f32, ls: f32, a: f32| {
        values(gaussian_nll(col(&[m], &d), Tensor::from_data(TensorData::new(vec![ls], [1]), &d), col(&[a], &d)))[0]
    };
    let want = 0.5 + 0.5f64.ln() + 0.5 * (2.0 * std::f64::consts::PI).ln();
    assert!((one(0.2, 0.5f32.ln(), 0.7) as f64 - want).abs() < 1e-6, "{}", one(0.2, 0.5f32.ln(), 0.7));
    let two = gaussian_nll(
        Tensor::from_data(TensorData::new(vec![0.2f32, 0.0], [1, 2]), &d),
        Tensor::from_data(TensorData::new(vec![0.5f32.ln(), 0.0], [2]), &d),
        Tensor::from_data(TensorData::new(vec![0.7f32, 0.0], [1, 2]), &d),
    );
    let second = 0.5 * (2.0 * std::f64::consts::PI).ln();
    assert!((values(two)[0] as f64 - want - second).abs() < 1e-5);
    assert_eq!(one(0.0, -30.0, 0.0), one(0.0, -20.0, 0.0));
    assert!(one(0.0, -30.0, 0.0) < -18.0);
}

/// The actor's rate follows PyTorch's `CosineAnnealingLR(T_max = T)` with
/// `eta_min` 0: lr, lr (1 + cos(pi/4)) / 2 at step T/4, lr / 2 at T/2, 0 at T.
#[test]
fn actor_learning_rate_is_cosine_annealed_over_the_run() {
    let mut p = IqlParts::new(&IqlConfig::default(), 2, 1, &[4], &dev().autodiff());
    p.horizon = 100;
    let at = |p: &mut IqlParts, k: usize| {
        p.actor_steps = k;
        p.actor_lr(3e-4)
    };
    assert!((at(&mut p, 0) - 3e-4).abs() < 1e-12);
    assert!((at(&mut p, 25) - 3e-4 * (1.0 + std::f64::consts::FRAC_PI_4.cos()) / 2.0).abs() < 1e-12);
    assert!((at(&mut p, 50) - 1.5e-4).abs() < 1e-12);
    assert!(at(&mut p, 100).abs() < 1e-12);
}

#[test]
fn iql_settings_default_to_corls_and_bad_values_name_their_field() {
    let c = IqlConfig::default();
    assert_eq!((c.expectile, c.beta, c.max_weight, c.deterministic, c.value_lr), (0.7, 3.0, 100.0, false, 3e-4));
    for (bad, want) in [
        (IqlConfig { expectile: 1.0, ..c.clone() }, "iql.expectile must be in (0, 1), got 1"),
        (IqlConfig { beta: -1.0, ..c.clone() }, "iql.beta must be a non-negative number"),
        (IqlConfig { max_weight: 0.0, ..c.clone() }, "iql.max_weight must be a positive number"),
    ] {
        let e = Td3Config { iql: bad, ..Default::default() }.validate().unwrap_err().to_string();
        assert!(e.starts_with(want), "{e}");
    }
    // A preset's [td3.iql] table fills the rest from the defaults.
    let cfg: Td3Config = toml::from_str("[iql]\nbeta = 10.0\n").unwrap();
    assert_eq!((cfg.iql.beta, cfg.iql.expectile), (10.0, 0.7));
    assert!(toml::from_str::<Td3Config>("[iql]\ntemperature = 1.0\n").is_err());
}

/// A one-step bandit, the same at every state: at each of 128 random
/// states the dataset plays a = +0.5 for reward 1 and a = -0.5 for reward
/// 0 (one row each), then the episode ends.
fn bandit() -> Dataset {
    let mut d = Dataset::new(2, 1);
    let mut r = reprolab_core::rng::rng(7);
    for _ in 0..128 {
        let s = [rand::RngExt::random::<f32>(&mut r), rand::RngExt::random::<f32>(&mut r)];
        for (a, reward) in [(0.5f32, 1.0f32), (-0.5, 0.0)] {
            let step = Step { obs: s.to_vec(), reward, terminated: true, truncated: false };
            d.push(&s, &[a], &step, 0);
        }
    }
    d
}

/// On the bandit, IQL's fixed point is known by hand: Q(s, +0.5) = 1,
/// Q(s, -0.5) = 0; V(s) = their 0.7-expectile, 0.7; the advantage
/// weights' ratio exp(beta (1 - 0)) = e^3, so the weighted regression's
/// mean action is 0.5 (e^3 - 1) / (e^3 + 1) = 0.5 tanh(1.5) = 0.4526.
/// Behaviour cloning averages the two actions to 0. (Faster rates and soft
/// updates than CORL's, so the fixed point is reached in a test's time;
/// measured: action 0.4526, V 0.73-0.74 at the three states.)
#[test]
fn iql_recovers_the_better_of_two_actions_where_cloning_averages() {
    const STEPS: usize = 4000;
    let data = bandit();
    let ad = dev().autodiff();
    let cfg = Td3Config {
        hidden: vec![32, 32],
        batch: 128,
        actor_lr: 3e-3,
        critic_lr: 3e-3,
        tau: 0.05,
        iql: IqlConfig { value_lr: 3e-3, ..Default::default() },
        ..Default::default()
    };
    let run = |algo| {
        let run = OfflineRun {
            algo,
            td3: &cfg,
            data: &data,
            action_scale: &[1.0],
            behaviour: Behaviour::None,
            steps: STEPS,
            seed: 3,
            eval: None,
        };
        train_offline(&run, &ad, &mut |_| Ok(()), None).unwrap()
    };
    let states: Vec<Vec<f32>> = vec![vec![0.2, 0.3], vec![0.5, 0.5], vec![0.8, 0.1]];
    let inner = dev();
    let iql = run(Algo::Iql);
    let mean = |acts: Vec<Vec<f32>>| acts.iter().map(|a| a[0] as f64).sum::<f64>() / acts.len() as f64;
    let iql_action = mean(iql.act(&states, &inner));
    let want = 0.5 * 1.5f64.tanh();
    assert!((iql_action - want).abs() < 0.02, "IQL action {iql_action} vs {want}");
    let parts = iql.agent.iql.as_ref().unwrap();
    assert_eq!((parts.horizon, parts.actor_steps, iql.agent.updates), (STEPS, STEPS, STEPS));
    let flat: Vec<f32> = states.iter().flat_map(|s| iql.norm.apply(s)).collect();
    let obs = Tensor::<2>::from_data(TensorData::new(flat, [3, 2]), &ad);
    let v = values(parts.value.forward(obs.clone()));
    for v in &v {
        // The mean (a symmetric loss) would be 0.5.
        assert!((v - 0.7).abs() < 0.08, "V {v:?} vs the 0.7-expectile 0.7");
    }
    let q = |a: f32| values(iql.agent.critic.first(obs.clone(), col(&[a; 3], &ad)));
    assert!(q(0.5).iter().all(|q| (q - 1.0).abs() < 0.1), "{:?}", q(0.5));
    assert!(q(-0.5).iter().all(|q| q.abs() < 0.1), "{:?}", q(-0.5));
    let bc_action = mean(run(Algo::Bc).act(&states, &inner));
    assert!(bc_action.abs() < 0.06, "BC action {bc_action}");
}

//! The registered claim check of paper 1 (E1-E3 on the point-mass suite and
//! the mixed-dataset Pendulum experiment), with the two claims decided
//! separately by rules fixed before the run:
//!
//! - claim (b), mode seeking (E1): the full method (`td3-rkl`) succeeds in
//!   at least 80% of E1 episodes with a decision-region OOD rate of at
//!   most 0.1, its
//!   success exceeds TD3+BC's by more than TD3+BC's std across seeds, and
//!   on the raised goal (E1-up) at least half of its successful episodes
//!   take the upper route.
//! - claim (a), per-state weighting (E2): the full method with its one
//!   fixed alpha beats the best global-weight arm (TD3+BC and TD3+RKL with
//!   a global weight, alpha swept, the best chosen by oracle on evaluation)
//!   in mean normalised return by more than one std across seeds (the
//!   larger of the two arms' stds).

use crate::behaviour::{FittedMdn, MdnConfig, Oracle, fit_behaviour};
use crate::dataset::{Dataset, Normaliser, collect_env, collect_point};
use crate::env::Env;
use crate::env::pendulum::Pendulum;
use crate::env::point::{Layout, PointMass};
use crate::eval::{Episode, Policy, mean_return, normalised_score, rollouts};
use crate::td3::{Algo, Td3Config};
use crate::train::{ArmCurves, Behaviour, EvalPlan, OnlineConfig, Trained, train_offline, train_online};
use anyhow::Result;
use burn::tensor::Device;
use reprolab_core::registry::{Method, Preset, RunContext};
use reprolab_core::report::{Report, Results, Verdict};
use reprolab_core::rng::derive_seed;
use reprolab_core::stats;
use serde::Deserialize;

pub const CLAIM: &str = "TD3 with a reverse-KL behaviour regulariser weighted per state by the behaviour's action coverage \
(a) beats the best single global BC weight on mixed data and (b) commits to one behaviour mode where MSE behaviour cloning averages modes into out-of-distribution actions.";

pub const METHOD: Method = Method {
    name: "offline-rl",
    paper: "Cai et al., ICDM 2022, arXiv 2212.02125: TD3 with Reverse KL Regularizer for Offline RL from Mixed Datasets",
    claim: CLAIM,
    presets: &[
        (Preset::Smoke, include_str!("../../../configs/offline-rl/smoke.toml")),
        (Preset::Quick, include_str!("../../../configs/offline-rl/quick.toml")),
        (Preset::Paper, include_str!("../../../configs/offline-rl/paper.toml")),
    ],
    run,
    complete: true,
};

/// Every hyper-parameter of the experiment (the preset files set them all).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Offline updates per arm and seed.
    pub steps: usize,
    /// Evaluation episodes at the end of training (and per curve point).
    pub eval_episodes: usize,
    /// Learning-curve points every this many updates.
    pub eval_every: usize,
    /// The global-weight sweep of E2 (the spec's {0.1, 0.3, 1, 2.5, 10}).
    pub alphas: Vec<f64>,
    /// Which experiments: e1, e1-up, e2, e3, pendulum.
    pub experiments: Vec<String>,
    pub td3: Td3Config,
    pub mdn: MdnConfig,
    pub pendulum: PendulumConfig,
}

/// The mixed-dataset Pendulum experiment.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PendulumConfig {
    pub online: OnlineConfig,
    /// The "medium" policy: the first online policy whose evaluation return reaches this.
    pub medium_return: f64,
    /// Episodes (200 steps each) per behaviour dataset.
    pub episodes: usize,
    /// Gaussian action noise (share of the torque bound) of the medium and expert behaviour.
    pub behaviour_noise: f32,
    /// Mixtures to train on, e.g. "random+expert".
    pub mixtures: Vec<String>,
    pub steps: usize,
}

/// The arms of the point-mass experiments.
const POINT_ARMS: [Algo; 6] =
    [Algo::Bc, Algo::Td3Bc, Algo::Td3RklGlobal, Algo::Td3MseAdaptive, Algo::Td3Rkl, Algo::Td3RklOracle];
const PENDULUM_ARMS: [Algo; 5] = [Algo::Bc, Algo::Td3Bc, Algo::Td3RklGlobal, Algo::Td3MseAdaptive, Algo::Td3Rkl];

/// Normalisation references of a layout: the behaviour average (0) and the
/// scripted optimal controller (100), from 200 rollouts each.
pub struct References {
    pub behaviour: f64,
    pub optimal: f64,
}

pub fn references(layout: &Layout) -> References {
    let make = || -> Box<dyn Env> { Box::new(PointMass::new(layout.clone())) };
    let run = |p: &crate::env::point::Scripted, seed: u64| {
        let r = std::cell::RefCell::new(reprolab_core::rng::rng(seed));
        let act = |obs: &[Vec<f32>]| {
            obs.iter().map(|o| p.sample([o[0], o[1]], &mut r.borrow_mut()).to_vec()).collect::<Vec<_>>()
        };
        mean_return(&rollouts(&make, 200, seed, &act))
    };
    let starting: Vec<_> = layout.behaviours.iter().filter(|b| b.starts.contains(layout.start)).collect();
    let behaviour = starting.iter().map(|b| run(b, 11)).sum::<f64>() / starting.len().max(1) as f64;
    References { behaviour, optimal: run(&layout.optimal, 12) }
}

/// The point-mass metrics of a set of evaluation episodes.
pub fn point_metrics(layout: &Layout, eps: &[Episode], refs: &References) -> Vec<(&'static str, f64)> {
    let n = eps.len() as f64;
    let success = eps.iter().filter(|e| e.terminated && e.last_reward > 0.0).count() as f64 / n;
    let collision = eps.iter().filter(|e| e.terminated && e.last_reward < 0.0).count() as f64 / n;
    let ret = mean_return(eps);
    let (mut in_region, mut ood, mut ay) = (0usize, 0usize, 0.0f64);
    for e in eps {
        for (s, a) in e.states.iter().zip(&e.actions) {
            let (s, a) = ([s[0], s[1]], [a[0].clamp(-1.0, 1.0), a[1].clamp(-1.0, 1.0)]);
            if layout.decision.contains(s) {
                in_region += 1;
                ood += usize::from(layout.is_ood(s, a));
                ay += a[1].abs() as f64;
            }
        }
    }
    let wins: Vec<&Episode> = eps.iter().filter(|e| e.terminated && e.last_reward > 0.0).collect();
    let upper = wins.iter().filter(|e| e.states.iter().any(|s| s[0] >= 4.0 && s[0] <= 6.0 && s[1] > 5.0)).count()
        as f64
        / wins.len().max(1) as f64;
    vec![
        ("success", success),
        ("collision", collision),
        ("return", ret),
        ("normalised return", normalised_score(ret, refs.behaviour, refs.optimal)),
        ("OOD rate", if in_region > 0 { ood as f64 / in_region as f64 } else { 0.0 }),
        ("mean |a_y| in region", if in_region > 0 { ay / in_region as f64 } else { 0.0 }),
        ("upper route share", upper),
    ]
}

/// Final metrics of an arm from its evaluation episodes.
pub type MetricsFn<'a> = dyn Fn(&[Episode]) -> Vec<(&'static str, f64)> + 'a;

/// One trained arm of one seed: its final metrics, its learning curve in
/// normalised return, and the trained policy (kept for seed 0's figures).
pub struct ArmRun {
    pub arm: String,
    pub metrics: Vec<(&'static str, f64)>,
    pub curve: Vec<(usize, f64)>,
    pub trained: Trained,
    pub episodes: Vec<Episode>,
}

fn device() -> Device {
    reprolab_core::device::default_device().autodiff()
}

/// Trains one arm and evaluates it with `metrics`.
#[allow(clippy::too_many_arguments)]
fn run_arm(
    name: String,
    algo: Algo,
    td3: &Td3Config,
    steps: usize,
    data: &Dataset,
    action_scale: &[f32],
    behaviour: Behaviour,
    cfg: &Config,
    make_env: &dyn Fn() -> Box<dyn Env>,
    seed: u64,
    metrics: &MetricsFn,
    score: &dyn Fn(f64) -> f64,
) -> Result<ArmRun> {
    let plan = EvalPlan { make_env: Some(make_env), every: cfg.eval_every, episodes: cfg.eval_episodes };
    let dev = device();
    let trained =
        train_offline(algo, td3, data, action_scale, behaviour, steps, seed, Some(&plan), &dev, &mut |_| Ok(()))?;
    let inner = dev.inner();
    let actor = trained.agent.policy();
    let act = |obs: &[Vec<f32>]| {
        Policy { actor: &actor, norm: &trained.norm, action_scale: &trained.action_scale, device: &inner }.act(obs)
    };
    let episodes = rollouts(make_env, cfg.eval_episodes, derive_seed(seed, "final-eval"), &act);
    let curve = trained.curve.iter().map(|(s, r)| (*s, score(*r))).collect();
    Ok(ArmRun { arm: name, metrics: metrics(&episodes), curve, trained, episodes })
}

/// Everything one point-mass experiment produced over the seeds.
pub struct PointOutcome {
    pub layout: Layout,
    pub results: Results,
    /// Seed 0's runs (figures).
    pub first_seed: Vec<ArmRun>,
    /// Learning curves: arm -> per seed.
    pub curves: Vec<ArmCurves>,
    pub dataset: Dataset,
    pub behaviour_ll: Vec<f64>,
    pub mdn_seed0: Option<FittedMdn>,
}

/// One arm of a point-mass experiment.
#[derive(Debug, Clone)]
pub struct Arm {
    pub label: String,
    pub algo: Algo,
    pub alpha: f64,
    /// The Dirac-actor variant of the reverse KL (an ablation: then
    /// KL(pi || beta) is -log beta(mu(s)|s), which seeks the densest mode,
    /// where the stochastic actor seeks the mode with the most mass).
    pub deterministic: bool,
}

/// The arms of a point-mass experiment: the six algorithms at the preset's
/// alpha, the deterministic-actor ablation of the full method, and for E2
/// the global-weight sweep of TD3+BC and TD3+RKL.
pub fn point_arms(experiment: &str, cfg: &Config) -> Vec<Arm> {
    let alpha = cfg.td3.alpha;
    let arm = |label: String, algo, alpha, deterministic| Arm { label, algo, alpha, deterministic };
    let mut arms: Vec<Arm> = POINT_ARMS.iter().map(|a| arm(a.name().to_string(), *a, alpha, false)).collect();
    arms.push(arm("td3-rkl-det".into(), Algo::Td3Rkl, alpha, true));
    if experiment == "e2" {
        for &a in &cfg.alphas {
            for algo in [Algo::Td3Bc, Algo::Td3RklGlobal] {
                if a != alpha {
                    arms.push(arm(format!("{} alpha={a}", algo.name()), algo, a, false));
                }
            }
        }
    }
    arms
}

pub fn run_point(
    experiment: &str,
    layout: Layout,
    cfg: &Config,
    seeds: &[u64],
    bar: &indicatif::ProgressBar,
) -> Result<PointOutcome> {
    let refs = references(&layout);
    let data = collect_point(&layout, 0);
    let states: Vec<[f32; 2]> = (0..data.len()).map(|i| [data.obs(i)[0], data.obs(i)[1]]).collect();
    let oracle = Oracle::new(&layout, states, &data.source);
    let scale = [1.0f32, 1.0];
    let make = || -> Box<dyn Env> { Box::new(PointMass::new(layout.clone())) };
    let arms = point_arms(experiment, cfg);
    let mut results = Results::default();
    let mut curves: Vec<ArmCurves> = arms.iter().map(|a| (a.label.clone(), Vec::new())).collect();
    let mut first_seed = Vec::new();
    let mut behaviour_ll = Vec::new();
    let mut mdn_seed0 = None;
    for &seed in seeds {
        let mdn = fit_behaviour(&data, &cfg.mdn, &scale, seed, &device())?;
        behaviour_ll.push(mdn.validation_log_likelihood);
        for (i, Arm { label, algo, alpha, deterministic }) in arms.iter().enumerate() {
            let td3 = Td3Config {
                alpha: *alpha,
                deterministic_rkl: *deterministic || cfg.td3.deterministic_rkl,
                ..cfg.td3.clone()
            };
            let behaviour = match algo {
                Algo::Td3RklOracle => Behaviour::Oracle(&oracle),
                a if a.needs_behaviour() => Behaviour::Fitted(&mdn),
                _ => Behaviour::None,
            };
            let metrics = |eps: &[Episode]| point_metrics(&layout, eps, &refs);
            let score = |r: f64| normalised_score(r, refs.behaviour, refs.optimal);
            let run = run_arm(
                label.clone(),
                *algo,
                &td3,
                cfg.steps,
                &data,
                &scale,
                behaviour,
                cfg,
                &make,
                seed,
                &metrics,
                &score,
            )?;
            for (m, v) in &run.metrics {
                results.record(label, m, *v);
            }
            curves[i].1.push(run.curve.clone());
            if seed == seeds[0] {
                first_seed.push(run);
            }
            bar.inc(1);
        }
        if seed == seeds[0] {
            mdn_seed0 = Some(mdn);
        }
    }
    Ok(PointOutcome { layout, results, first_seed, curves, dataset: data, behaviour_ll, mdn_seed0 })
}

/// What the Pendulum experiment produced.
pub struct PendulumOutcome {
    pub results: Results,
    pub references: (f64, f64),
    /// Behaviour datasets: (name, mean episode return).
    pub behaviours: Vec<(String, f64)>,
    pub curves: Vec<ArmCurves>,
    pub online_curve: Vec<(usize, f64)>,
}

/// Pendulum: online TD3 gives a medium and an expert policy, which with the
/// uniform random policy collect three datasets; each mixture is learned
/// offline by every arm and scored with D4RL's normalisation.
pub fn run_pendulum(cfg: &Config, seeds: &[u64], bar: &indicatif::ProgressBar) -> Result<PendulumOutcome> {
    let p = &cfg.pendulum;
    let make = || -> Box<dyn Env> { Box::new(Pendulum::new()) };
    let online = train_online(&make, &p.online, &[p.medium_return], 0, &device())?;
    let inner = device().inner();
    let scale = [crate::env::pendulum::MAX_TORQUE];
    let identity = Normaliser { mean: vec![0.0; 3], std: vec![1.0; 3] };
    let noisy = |actor: &crate::nets::Actor, name: &str| {
        let mut env = Pendulum::new();
        collect_env(&mut env, p.episodes, 1, name, |o, r| {
            let a = Policy { actor, norm: &identity, action_scale: &scale, device: &inner }.act(&[o.to_vec()]);
            vec![a[0][0] + scale[0] * p.behaviour_noise * reprolab_core::rng::standard_normal(r)]
        })
    };
    let random = {
        let mut env = Pendulum::new();
        let space = env.action_space();
        collect_env(&mut env, p.episodes, 1, "random", |_, r| space.sample(r))
    };
    let expert = noisy(&online.last.0, "expert");
    let medium = match &online.snapshots[0] {
        Some((actor, _)) => noisy(actor, "medium"),
        None => reprolab_core::user_bail!(
            "pendulum: online TD3 never reached the medium return {} in {} steps; raise pendulum.online.steps",
            p.medium_return,
            p.online.steps
        ),
    };
    let mean_ret = |d: &Dataset| stats::mean(&d.episode_returns());
    let (r_random, r_expert) = (mean_ret(&random), mean_ret(&expert));
    let behaviours = vec![
        ("random".to_string(), r_random),
        ("medium".to_string(), mean_ret(&medium)),
        ("expert".to_string(), r_expert),
    ];
    let by_name = |n: &str| -> Result<&Dataset> {
        match n {
            "random" => Ok(&random),
            "medium" => Ok(&medium),
            "expert" => Ok(&expert),
            _ => reprolab_core::user_bail!("pendulum: unknown dataset '{n}' in a mixture (random, medium, expert)"),
        }
    };
    let mut results = Results::default();
    let mut curves = Vec::new();
    let score = |r: f64| normalised_score(r, r_random, r_expert);
    for mix in &p.mixtures {
        let parts: Vec<Dataset> = mix.split('+').map(|n| by_name(n.trim()).cloned()).collect::<Result<_>>()?;
        let data = Dataset::concat(&parts)?;
        let mut arm_curves: Vec<ArmCurves> =
            PENDULUM_ARMS.iter().map(|a| (format!("{mix} {}", a.name()), Vec::new())).collect();
        for &seed in seeds {
            let mdn = fit_behaviour(&data, &cfg.mdn, &scale, seed, &device())?;
            results.record(
                &format!("{mix} behaviour model"),
                "validation log-likelihood",
                mdn.validation_log_likelihood,
            );
            for (i, algo) in PENDULUM_ARMS.iter().enumerate() {
                let behaviour = if algo.needs_behaviour() { Behaviour::Fitted(&mdn) } else { Behaviour::None };
                let metrics = |eps: &[Episode]| {
                    let r = mean_return(eps);
                    vec![("return", r), ("normalised score", score(r))]
                };
                let run = run_arm(
                    arm_curves[i].0.clone(),
                    *algo,
                    &cfg.td3,
                    p.steps,
                    &data,
                    &scale,
                    behaviour,
                    cfg,
                    &make,
                    seed,
                    &metrics,
                    &score,
                )?;
                for (m, v) in &run.metrics {
                    results.record(&run.arm, m, *v);
                }
                arm_curves[i].1.push(run.curve);
                bar.inc(1);
            }
        }
        curves.extend(arm_curves);
    }
    Ok(PendulumOutcome { results, references: (r_random, r_expert), behaviours, curves, online_curve: online.curve })
}

/// Mean and std of (arm, metric), for evidence lines.
fn ms(r: &Results, arm: &str, metric: &str) -> (f64, f64) {
    r.cell(arm, metric).map_or((f64::NAN, f64::NAN), |c| (c.mean, c.std))
}

/// Claim (b) from E1 and E1-up (rule in the module docs).
pub fn mode_seeking_verdict(e1: &Results, e1_up: Option<&Results>) -> (bool, String) {
    let (s, _) = ms(e1, "td3-rkl", "success");
    let (ood, _) = ms(e1, "td3-rkl", "OOD rate");
    let (bc_s, bc_sd) = ms(e1, "td3-bc", "success");
    let (bc_ood, _) = ms(e1, "td3-bc", "OOD rate");
    let upper = e1_up.map(|r| ms(r, "td3-rkl", "upper route share").0);
    let pass = s >= 0.8 && ood <= 0.1 && s - bc_s > bc_sd && upper.is_some_and(|u| u >= 0.5);
    let up_text = upper.map_or("E1-up not run".to_string(), |u| format!("E1-up upper-route share {u:.2}"));
    let evidence = format!(
        "E1: td3-rkl success {s:.2}, OOD {ood:.2} vs td3-bc success {bc_s:.2} +- {bc_sd:.2}, OOD {bc_ood:.2}; {up_text}"
    );
    (pass, evidence)
}

/// Claim (a) from E2 (rule in the module docs). Returns the best global arm too.
pub fn weighting_verdict(e2: &Results) -> (bool, String) {
    let metric = "normalised return";
    let global = e2.arms.iter().filter(|a| a.starts_with("td3-bc") || a.starts_with("td3-rkl-global"));
    let best = global.max_by(|a, b| e2.mean(a, metric).total_cmp(&e2.mean(b, metric))).cloned().unwrap_or_default();
    let (m, sd) = ms(e2, "td3-rkl", metric);
    let (bm, bsd) = ms(e2, &best, metric);
    let pass = m - bm > sd.max(bsd);
    (pass, format!("E2 normalised return: td3-rkl {m:.1} +- {sd:.1} vs best global arm '{best}' {bm:.1} +- {bsd:.1}"))
}

fn run(ctx: &RunContext) -> Result<Report> {
    let cfg: Config = ctx.config()?;
    let seeds = ctx.seeds.clone();
    let wants = |e: &str| cfg.experiments.iter().any(|x| x == e);
    for e in &cfg.experiments {
        if !["e1", "e1-up", "e2", "e3", "pendulum"].contains(&e.as_str()) {
            reprolab_core::user_bail!("offline-rl: unknown experiment '{e}' (e1, e1-up, e2, e3, pendulum)");
        }
    }
    let layouts: Vec<(&str, Layout)> = [
        ("e1", Layout::obstacle(5.0)),
        ("e1-up", Layout::obstacle(6.5)),
        ("e2", Layout::gap()),
        ("e3", Layout::obstacle_gap()),
    ]
    .into_iter()
    .filter(|(e, _)| wants(e))
    .collect();
    let total: usize = layouts.iter().map(|(e, _)| point_arms(e, &cfg).len()).sum::<usize>() * seeds.len()
        + if wants("pendulum") { cfg.pendulum.mixtures.len() * PENDULUM_ARMS.len() * seeds.len() } else { 0 };
    let bar = reprolab_core::progress::bar(total as u64, "offline-rl arms");
    let mut outcomes = Vec::new();
    for (e, layout) in layouts {
        outcomes.push((e, run_point(e, layout, &cfg, &seeds, &bar)?));
    }
    let pendulum = if wants("pendulum") { Some(run_pendulum(&cfg, &seeds, &bar)?) } else { None };
    bar.finish_and_clear();
    let get = |e: &str| outcomes.iter().find(|(x, _)| *x == e).map(|(_, o)| o);

    let rule_b = "claim (b): E1 td3-rkl success >= 0.8, decision-region OOD <= 0.1, success above td3-bc's by more than td3-bc's std; E1-up: >= 50% of its successful episodes take the upper route";
    let rule_a = "claim (a): E2 td3-rkl mean normalised return above the best global-weight arm (td3-bc / td3-rkl-global, alpha swept, best chosen on evaluation) by more than the larger std";
    let b = get("e1").map(|o| mode_seeking_verdict(&o.results, get("e1-up").map(|o| &o.results)));
    let a = get("e2").map(|o| weighting_verdict(&o.results));
    let word = |p: bool| if p { "supported" } else { "NOT supported at this scale" };
    let rule = format!("{rule_a}; {rule_b}; the paper's claim is supported when both are");
    let verdict = match (&a, &b) {
        (Some((pa, ea)), Some((pb, eb))) => Verdict::from_rule(
            *pa && *pb,
            &rule,
            format!("claim (a) {}: {ea}. claim (b) {}: {eb}", word(*pa), word(*pb)),
        ),
        _ => Verdict::inconclusive(&rule, "this preset does not run both E1 and E2".into()),
    };
    let main = get("e1").or(outcomes.first().map(|(_, o)| o)).map(|o| o.results.clone()).unwrap_or_default();
    let mut report = Report::new(ctx.method, METHOD.paper, CLAIM, ctx.preset.name(), seeds.clone(), main, verdict);
    if let Some((pa, ea)) = &a {
        report = report.note(format!("Claim (a), per-state weighting: {}. {ea}.", word(*pa)));
    }
    if let Some((pb, eb)) = &b {
        report = report.note(format!("Claim (b), mode seeking: {}. {eb}.", word(*pb)));
    }
    let titles = [
        ("e1-up", "E1-up: goal raised to (9, 6.5): the upper route is shorter"),
        ("e2", "E2: wall with a gap; wide meandering data on the left, narrow expert data at the gap (alpha sweep)"),
        ("e3", "E3: obstacle and gap together"),
    ];
    for (e, title) in titles {
        if let Some(o) = get(e) {
            report = report.table(title, o.results.clone());
        }
    }
    let mut models = Results::default();
    for (e, o) in &outcomes {
        for v in &o.behaviour_ll {
            models.record(&format!("{e} ({} transitions)", o.dataset.len()), "validation log-likelihood", *v);
        }
    }
    report = report
        .table("Behaviour model (MDN) held-out log-likelihood per transition, nats, actions scaled to [-1,1]", models);
    if let Some(o) = get("e3") {
        let x = o.results.values("td3-rkl", "normalised return");
        let y = o.results.values("td3-bc", "normalised return");
        if let Ok(t) = stats::paired_t_test(x, y) {
            report = report.note(format!(
                "E3 paired comparison of normalised return, td3-rkl vs td3-bc over seeds: mean difference {:.1}, paired t-test p = {:.3}.",
                stats::mean(x) - stats::mean(y),
                t.p_value
            ));
        }
    }
    for (e, o) in &outcomes {
        if let Some(arm) = o.first_seed.iter().find(|r| r.arm == "td3-rkl") {
            let mut w = arm.trained.weights.clone();
            if !w.is_empty() {
                w.sort_by(f32::total_cmp);
                let q = |p: f64| w[((w.len() - 1) as f64 * p) as usize];
                report = report.note(format!(
                    "{e}: per-state weight w(s) of td3-rkl (seed {}, sampled batches): min {:.2}, 10% {:.2}, median {:.2}, 90% {:.2}, max {:.2}.",
                    seeds[0],
                    q(0.0),
                    q(0.1),
                    q(0.5),
                    q(0.9),
                    q(1.0)
                ));
            }
        }
    }
    if let Some(p) = &pendulum {
        report = report.table(
            &format!(
                "Pendulum mixed datasets (D4RL score: 0 = random {:.0}, 100 = expert {:.0}; behaviour returns {})",
                p.references.0,
                p.references.1,
                p.behaviours.iter().map(|(n, r)| format!("{n} {r:.0}")).collect::<Vec<_>>().join(", ")
            ),
            p.results.clone(),
        );
    }
    report = crate::figures::add_figures(report, &outcomes, pendulum.as_ref(), &cfg)?;
    report = report.note(format!(
        "Setup: {} updates per arm ({} for Pendulum), {}x{} MLPs, batch {}, alpha {} for every arm but the sweep; behaviour MDN K = {} fitted {} steps per seed; {} evaluation episodes. Normalised return on the point mass: 0 = behaviour average, 100 = scripted optimal controller.",
        cfg.steps,
        cfg.pendulum.steps,
        cfg.td3.hidden.first().copied().unwrap_or(0),
        cfg.td3.hidden.len(),
        cfg.td3.batch,
        cfg.td3.alpha,
        cfg.mdn.components,
        cfg.mdn.steps,
        cfg.eval_episodes
    ));
    Ok(report)
}

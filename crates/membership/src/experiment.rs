//! The claim check (the attack half of the survey's message): measured at
//! low FPR, the likelihood-ratio attack (LiRA) exposes far more members
//! than the classic loss-threshold attack, and the survey's defences lower
//! that exposure at a measurable accuracy cost.
//!
//! **Setup.** On each attacked pool (by default the embedded digits, 1,797
//! x 64, and breast cancer, 569 x 30) a stratified `rmia.population_share`
//! (default 0.2) is first held out as RMIA's population, rows no model
//! trains on (ML Privacy Meter's default); on the rest a population of
//! `population.n_models` small MLPs trains, each on its own random half.
//! Each model is the target
//! in turn and the others are its shadows; every attack's scores are pooled
//! over all targets, so 0.1% FPR has thousands of non-members behind it.
//! Every attack reports AUC, TPR at 0.1% and 1% FPR and balanced accuracy at
//! its best threshold. The defences each train (or mask) their own
//! population of `defences.n_models` on `defences.dataset` and are compared
//! with a no-defence population of the same size.
//!
//! **Pass rule** ([`RULE`], in words). The claim is supported when, on every
//! attacked pool, LiRA (online, fixed variance) has a TPR at 0.1% FPR more
//! than 10 times the global loss-threshold attack's, and every defence
//! lowers LiRA's TPR at 0.1% FPR below that of the no-defence population it
//! is paired with (the accuracy cost is reported beside it, not judged).
//! Each of these is a paired difference (`TPR_LiRA - 10 TPR_loss`;
//! `TPR_defence - TPR_baseline`) judged by its 95% interval, never by two
//! numbers: with at least 3 seeds the Student-t interval over the per-seed
//! differences, with fewer each seed's paired bootstrap over the pool's
//! examples ([`crate::paired`]; it measures the evaluation sample's noise,
//! not training noise, which is why 3 seeds take over when there are 3).
//! The quick preset runs 1 seed (3 would not fit its 3 minutes), full and
//! paper run 3. The claim is not supported when an interval lies on the
//! wrong side of 0, and inconclusive when one includes 0. It is also
//! inconclusive, with the command that can decide, when a precondition
//! fails: fewer than 32 models in a pool, fewer than 1,000
//! pooled non-member scores behind 0.1% FPR, targets that did not learn
//! (mean held-out accuracy below halfway from the majority-class rate to
//! 1), or a no-defence population whose LiRA TPR at 0.1% FPR is not above
//! the random guess's 0.1% (no leakage for a defence to lower). The
//! constants are documented at [`MIN_MODELS`].
//!
//! **Anchor numbers.** LiRA's reference implementation (Carlini et al.
//! 2022, CIFAR-10, 16 shadow wide ResNets): online AUC 0.668, TPR@0.1%FPR
//! 1.69%; online with fixed variance 0.686, 5.93%; offline with fixed
//! variance 0.555, 2.99%; global loss threshold 0.592, 0.09%. A numpy pilot
//! of this experiment on digits (64-128-10 MLPs, 32 models on random
//! halves, each the target in turn): loss attack AUC 0.529, TPR@0.1% 0.06%;
//! LiRA online fixed-variance AUC 0.617, TPR@0.1% 3.1%; with L2 0.01 as a
//! defence LiRA's TPR@0.1% fell to 0.3% for about 3 points of test
//! accuracy.
//!
//! **The paper's and ours.** The survey (Hu et al. 2022) runs no
//! experiment: the attacks, defences and metrics are the ones it surveys,
//! each from the paper that defined it (named in the crate docs); the
//! scale, the datasets, the hyper-parameters of every preset, the pass rule
//! and its thresholds are ours. Outside the rule, the report also measures
//! a generative target (autoencoders, [`crate::generative`]) and a CNN
//! target population.
//!
//! The experiment is a map over independent units and a reduce: one unit
//! per (attacked pool of `datasets`, seed), named by the dataset spec, then
//! one per seed each for the defence populations (`defences`), the
//! autoencoders (`generative`) and the CNN population (`cnn`). `summarise`
//! applies the rule and draws the figures from their outputs alone.

use crate::attacks::{self, AttackFeatures, METRICS, NamedScores, Variance};
use crate::defences::{DefenceConfig, run_defences};
use crate::generative::{GenerativeConfig, train_autoencoders};
use crate::paired::{BOOTSTRAP_95, Difference, Pooled, over_seeds, tpr_difference};
use crate::pool::{check_models, check_spec, csv_spec, standardised};
use crate::shadow::{
    Architecture, ModelOutputs, PopulationConfig, split_population, train_population, train_population_with,
};
use anyhow::{Context, Result};
use reprolab_core::cli::Commands;
use reprolab_core::data::Dataset;
use reprolab_core::metrics::{Roc, roc_curve};
use reprolab_core::plan::{Outputs, Resources, Unit, UnitOutput};
use reprolab_core::registry::{Method, Preset, RunContext, Validate};
use reprolab_core::report::plot::{Bars, grouped_bars, roc_log_log, scatter};
use reprolab_core::report::{Report, Results, Verdict};
use reprolab_core::rng::derive_seed;
use reprolab_core::train::classifier::FitConfig;
use serde::{Deserialize, Serialize};

pub const CLAIM: &str = "Evaluated at low false-positive rates, the likelihood-ratio attack (LiRA) identifies far more training members than the loss-threshold attack.";
pub const RULE: &str = "Supported when, on every dataset, LiRA (online, fixed variance) TPR at 0.1% FPR exceeds 10x the global loss attack's (the 95% interval of TPR_LiRA - 10 TPR_loss lies above 0), and every implemented defence lowers LiRA TPR@0.1% below the no-defence population of the same size it is paired with (the 95% interval of the paired difference lies below 0; its accuracy cost is reported). Intervals: Student t over the per-seed differences with at least 3 seeds; with fewer, each seed's paired bootstrap over the pool's examples (1,000 resamples, both arms resampled together). Not supported when an interval lies on the wrong side of 0 (LiRA below 10x the loss attack, or a defence that raises the TPR). Inconclusive when an interval includes 0, or when a precondition fails: every attacked pool has at least 32 models (the registered population: 31 shadows per target) and at least 1,000 pooled non-member scores behind 0.1% FPR; every target population (each pool's and each no-defence population of the defences) reaches a mean held-out accuracy at least halfway from the majority-class rate to 1 (the targets learned their task); every no-defence population's LiRA TPR@0.1% is above 0.1%, the random-guess TPR at that FPR (there is leakage for a defence to lower).";

/// The rule's preconditions (see [`RULE`]). Thresholds come from the
/// experiment's design and the method, not from any run:
/// - 32 models per attacked pool: the experiment trains 32-64 small MLPs,
///   each the target with the others as its shadows. LiRA fits its IN/OUT
///   Gaussians on those shadows (about 15 of each per example at 32) and
///   weakens with fewer (Carlini et al. 2022), so a shortfall with fewer
///   would measure the shadow budget, not the attack.
/// - 1,000 pooled non-members: 0.1% FPR needs at least ~1,000 negatives
///   behind it; with fewer, 0.1% FPR is below one false positive.
/// - learned targets: membership leakage of models that did not learn their
///   task is not what the claim is about. "Well above chance" is taken as
///   halfway from always predicting the majority class to perfect accuracy
///   (digits: 0.55, breast cancer: 0.81; the pilot's MLPs reach 0.97).
/// - baseline leakage: a defence can only lower a TPR that is above what a
///   random guess gets at that FPR (TPR = FPR = 0.1%).
pub const MIN_MODELS: usize = 32;
/// The FPR the rule reads TPRs at.
pub const RULE_FPR: f64 = 0.001;
/// How many times the loss attack's TPR LiRA's must exceed.
pub const LIRA_FACTOR: f64 = 10.0;
/// Pooled non-member scores needed behind 0.1% FPR (see [`MIN_MODELS`]).
pub const MIN_NEGATIVES: usize = 1000;
/// A random guess's TPR at 0.1% FPR (see [`MIN_MODELS`]).
pub const RANDOM_GUESS_TPR: f64 = 0.001;

/// The accuracy a target population must reach to count as having learned:
/// halfway from the majority-class rate to 1.
fn learned_accuracy(majority_rate: f64) -> f64 {
    majority_rate + (1.0 - majority_rate) / 2.0
}

/// The fraction of the pool in its most frequent class.
fn majority_rate(data: &Dataset) -> f64 {
    let mut counts = vec![0usize; data.n_classes().max(1)];
    for &y in data.labels() {
        counts[y] += 1;
    }
    counts.iter().copied().max().unwrap_or(0) as f64 / data.len().max(1) as f64
}

/// The registry entry.
pub const METHOD: Method = Method {
    name: "membership",
    about: None,
    claim: CLAIM,
    units,
    run_unit,
    summarise,
    resources: Resources::SMALL,
    complete: true,
    commands: Some(
        Commands::of::<crate::cli::Command>("Paper 3 tools: audit your own model's outputs for membership leakage.")
            .with_fixtures(crate::fixtures::fixtures),
    ),
    export: None,
};

/// Every knob of the experiment. The survey runs no experiment, so no value
/// here is the paper's; each field says what the presets use.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Pools to attack: embedded (`digits`, `breast-cancer`) or
    /// `csv:PATH:LABEL_COLUMN` (paper: not stated, a survey; presets:
    /// digits and breast-cancer).
    pub datasets: Vec<String>,
    /// The attacked populations: model count, architecture, training and
    /// the extra queries of the boundary attack and LiRA.
    pub population: PopulationConfig,
    /// The shadow attack classifier (Shokri et al. 2017) and its training.
    pub attack_model: AttackModelConfig,
    /// The defence sweep, on its own populations.
    pub defences: DefenceConfig,
    /// Attacks on a generative model (autoencoders), reported outside the rule.
    pub generative: GenerativeConfig,
    /// A CNN target population, reported outside the rule.
    pub cnn: CnnConfig,
    /// RMIA's population split (absent: the default share).
    #[serde(default)]
    pub rmia: attacks::RmiaConfig,
}

/// The CNN population: a small ConvNet on an image dataset (8x8 digits).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CnnConfig {
    /// Embedded dataset of square single-channel images (paper: not stated;
    /// presets: digits).
    pub dataset: String,
    /// Models, each on a random half, each the target in turn (paper: not
    /// stated; presets: 3 smoke, 8 quick, 16 full, 32 paper).
    pub n_models: usize,
    /// Channels of each conv block, each halving the image side (paper: not
    /// stated; presets: `[16, 32]`).
    pub widths: Vec<usize>,
    /// Epochs, batch size and optimiser of each CNN (paper: not stated;
    /// presets: Adam 1e-3, batch 128, 3 to 80 epochs).
    pub fit: FitConfig,
}

/// The shadow attack classifiers' MLP (one hidden layer) and its training.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttackModelConfig {
    /// Width of the attack MLP's one hidden layer (paper: not stated;
    /// Shokri et al. use a small MLP; presets: 64).
    pub hidden: usize,
    /// Its training on the shadows' outputs labelled IN/OUT (paper: not
    /// stated; presets: Adam 1e-3, batch 256, 1 to 5 epochs).
    pub fit: FitConfig,
}

impl Validate for Config {
    fn validate(&self) -> Result<()> {
        anyhow::ensure!(!self.datasets.is_empty(), "datasets must name at least one pool");
        for spec in &self.datasets {
            check_spec(spec).context("datasets")?;
        }
        self.population.validate().context("population")?;
        self.attack_model.validate().context("attack_model")?;
        self.defences.validate().context("defences")?;
        self.generative.validate().context("generative")?;
        self.cnn.validate().context("cnn")?;
        self.rmia.validate().context("rmia")
    }
}

impl Validate for CnnConfig {
    fn validate(&self) -> Result<()> {
        check_spec(&self.dataset)?;
        check_models(self.n_models)?;
        anyhow::ensure!(
            !self.widths.is_empty() && self.widths.iter().all(|&w| w > 0),
            "widths must list positive channel counts, got {:?}",
            self.widths
        );
        self.fit.validate()
    }
}

impl Validate for AttackModelConfig {
    fn validate(&self) -> Result<()> {
        anyhow::ensure!(self.hidden >= 1, "hidden must be at least 1, got {}", self.hidden);
        self.fit.validate()
    }
}

/// Attack names in report order; the LiRA variant the rule uses is `LIRA`.
const LOSS: &str = "loss";
const LIRA: &str = "LiRA online, fixed variance";
/// The arm holding each pool's mean held-out accuracy of its models.
const UTILITY: &str = "models (utility)";
/// The defence table's metrics the rule reads.
const DEFENCE_TPR: &str = "LiRA TPR@0.1%FPR";
const DEFENCE_ACCURACY: &str = "test accuracy";

/// Every attack's membership scores for one target model.
/// `population` holds the same models' outputs on RMIA's population (rows
/// none of them trained on).
fn attack_scores(
    out: &ModelOutputs,
    population: &ModelOutputs,
    target: usize,
    am: &AttackModelConfig,
    seed: u64,
) -> Result<NamedScores> {
    let mut all: NamedScores =
        METRICS.iter().map(|(name, stat)| (name.to_string(), attacks::metric(out, target, *stat))).collect();
    for (name, stat) in METRICS {
        all.push((format!("{name}, per-class threshold"), attacks::metric_per_class(out, target, stat)));
    }
    // Offline LiRA: the reference code's two-sided score, and the paper's one-sided test.
    all.push(("LiRA offline".into(), attacks::lira_offline(out, target, Variance::PerExample)));
    all.push(("LiRA offline, fixed variance".into(), attacks::lira_offline(out, target, Variance::Fixed)));
    all.push(("LiRA offline, one-sided".into(), attacks::lira_offline_one_sided(out, target, Variance::PerExample)));
    all.push((
        "LiRA offline, one-sided, fixed variance".into(),
        attacks::lira_offline_one_sided(out, target, Variance::Fixed),
    ));
    all.push(("LiRA online".into(), attacks::lira_online(out, target, Variance::PerExample)));
    all.push((LIRA.into(), attacks::lira_online(out, target, Variance::Fixed)));
    if let Some(scores) = attacks::lira_online_queries(out, target, Variance::Fixed) {
        all.push((format!("LiRA online, fixed variance, {} noisy queries", out.n_queries), scores));
    }
    if let Some(robustness) = attacks::boundary(out, target) {
        all.push(("label-only boundary (noise robustness)".into(), robustness));
    }
    let z = attacks::Population::Disjoint(population);
    all.push(("RMIA".into(), attacks::rmia(out, target, z, attacks::RmiaMode::Online, 1.0)));
    all.push(("RMIA offline".into(), attacks::rmia_offline_tuned(out, target, z, 1.0).2));
    let seed = derive_seed(seed, &format!("attack-{target}"));
    for (name, kind) in [
        ("shadow classifier (top-3, global)", AttackFeatures::Top3Sorted),
        ("shadow classifier (per class)", AttackFeatures::FullVectorPerClass),
    ] {
        all.push((name.into(), attacks::shadow_classifier(out, target, kind, am.hidden, &am.fit, seed)?));
    }
    Ok(all)
}

/// Pooled ROC of every attack over all targets (each model in turn), its
/// count of non-member scores and the pooled scores themselves.
fn pooled_rocs(
    out: &ModelOutputs,
    population: &ModelOutputs,
    am: &AttackModelConfig,
    seed: u64,
) -> Result<Vec<(String, Roc, usize, Pooled)>> {
    let mut pooled: Vec<(String, Vec<f64>, Vec<bool>)> = Vec::new();
    let bar = reprolab_core::progress::bar(out.n_models as u64, "attacks (each target)");
    for target in 0..out.n_models {
        bar.inc(1);
        for (k, (name, scores)) in attack_scores(out, population, target, am, seed)?.into_iter().enumerate() {
            if pooled.len() <= k {
                pooled.push((name, Vec::new(), Vec::new()));
            }
            pooled[k].1.extend(scores);
            pooled[k].2.extend_from_slice(out.members_of(target));
        }
    }
    pooled
        .into_iter()
        .map(|(name, scores, members)| {
            let negatives = members.iter().filter(|m| !**m).count();
            let pooled = Pooled::new(out.n_examples, scores, members)?;
            Ok((name, pooled.roc()?, negatives, pooled))
        })
        .collect()
}

/// A ROC thinned to a log-spaced FPR grid, so the SVG stays small.
fn thinned(roc: &Roc) -> (Vec<f64>, Vec<f64>) {
    let fpr: Vec<f64> = (0..=120).map(|i| 10f64.powf(-5.0 + 5.0 * i as f64 / 120.0)).collect();
    let tpr = fpr.iter().map(|&f| roc.tpr_at(f)).collect();
    (fpr, tpr)
}

/// Parts of the units outside the attacked pools (whose parts are the
/// dataset specs of `datasets`).
const DEFENCES: &str = "defences";
const GENERATIVE: &str = "generative";
const CNN: &str = "cnn";

/// The attacks drawn in each pool's ROC figure.
const SHOWN: [&str; 8] = [
    "loss",
    "loss, per-class threshold",
    "shadow classifier (per class)",
    "LiRA offline, fixed variance",
    "LiRA online",
    LIRA,
    "RMIA",
    "RMIA offline",
];

fn defence_title(cfg: &Config) -> String {
    format!(
        "Defences on {} ({} models per population, each the target in turn; LiRA online with fixed variance)",
        cfg.defences.dataset, cfg.defences.n_models
    )
}

fn generative_title(cfg: &Config) -> String {
    format!(
        "Attacks on a generative model: {} autoencoders {:?} on {}, each on a random half, pooled over targets (not part of the rule)",
        cfg.generative.n_models, cfg.generative.hidden, cfg.generative.dataset
    )
}

fn cnn_title(cfg: &Config) -> String {
    format!(
        "A CNN target: {} models, each on a random half, pooled over targets (not part of the rule)",
        cfg.cnn.n_models
    )
}

/// What a pool unit hands to `summarise` besides its records.
#[derive(Debug, Serialize, Deserialize)]
struct PoolData {
    /// The dataset's own name (a CSV's file stem), used in metric names.
    name: String,
    n_models: usize,
    /// Fewest pooled non-member scores behind any attack's ROC.
    min_negatives: usize,
    /// The pool's majority-class rate (the learned-targets precondition).
    majority_rate: f64,
    /// The thinned ROCs (attack, FPR grid, TPR) of the attacks in [`SHOWN`].
    curves: Vec<(String, Vec<f64>, Vec<f64>)>,
    /// LiRA's TPR@0.1% minus [`LIRA_FACTOR`] times the loss attack's, with
    /// its paired bootstrap interval over the pool's examples.
    lira_vs_loss: Difference,
}

/// The map, in the order the tables are replayed: one unit per (dataset
/// spec, seed) for the attacked pools, dataset outer; then one per seed for
/// the defence populations (`defences`), the autoencoders (`generative`) and
/// the CNN population (`cnn`).
pub fn units(ctx: &RunContext) -> Result<Vec<Unit>> {
    let cfg: Config = ctx.config()?;
    let mut units = Vec::new();
    for spec in &cfg.datasets {
        csv_spec(spec)?;
        units.extend(ctx.seeds.iter().map(|&s| Unit::main(spec.as_str(), s)));
    }
    for part in [DEFENCES, GENERATIVE, CNN] {
        units.extend(ctx.seeds.iter().map(|&s| Unit::main(part, s)));
    }
    Ok(units)
}

/// One unit: a population trained and attacked (its records, and for a
/// pool its note and ROC data).
pub fn run_unit(ctx: &RunContext, unit: &Unit) -> Result<UnitOutput> {
    let cfg: Config = ctx.config()?;
    let seed = unit.key.seed;
    match unit.key.part.as_str() {
        DEFENCES => defences_unit(&cfg, seed),
        GENERATIVE => generative_unit(&cfg, seed),
        CNN => cnn_unit(&cfg, seed),
        spec => pool_unit(ctx, &cfg, spec, seed),
    }
}

/// Every attack on one pool's population of `seed`.
fn pool_unit(ctx: &RunContext, cfg: &Config, spec: &str, seed: u64) -> Result<UnitOutput> {
    let full = standardised(spec)?;
    // Reports and files use the dataset's own name (a CSV's file stem).
    let name = &full.name;
    let mut results = UnitOutput::default();
    // RMIA's population: rows no model trains on, held out of the attacked pool.
    let (data, population) = split_population(&full, cfg.rmia.population_share, derive_seed(seed, name))?;
    let (out, pop) = train_population_with(&data, Some(&population), &cfg.population, derive_seed(seed, name))?;
    let pop = pop.context("the population's outputs were recorded")?;
    let npz = ctx.out_dir.join(format!("{name}-seed{seed}-outputs.npz"));
    out.save_npz(&npz)?;
    pop.save_npz(&ctx.out_dir.join(format!("{name}-seed{seed}-population-outputs.npz")))?;
    let rmia_a: Vec<f64> = (0..out.n_models)
        .map(|t| attacks::rmia_offline_tuned(&out, t, attacks::Population::Disjoint(&pop), 1.0).0)
        .collect();
    let acc: Vec<f64> = (0..out.n_models).map(|m| out.out_accuracy(m)).collect();
    results.record(UTILITY, &format!("{name} test accuracy"), reprolab_core::stats::mean(&acc));
    let rocs = pooled_rocs(&out, &pop, &cfg.attack_model, derive_seed(seed, name))?;
    let mut min_negatives = usize::MAX;
    for (attack, roc, negatives, _) in &rocs {
        min_negatives = min_negatives.min(*negatives);
        results.record(attack, &format!("{name} AUC"), roc.auc());
        results.record(attack, &format!("{name} TPR@0.1%FPR"), roc.tpr_at(0.001));
        results.record(attack, &format!("{name} TPR@1%FPR"), roc.tpr_at(0.01));
        // At the best threshold: balanced accuracy = (1 + advantage) / 2.
        results.record(attack, &format!("{name} balanced accuracy"), (1.0 + roc.advantage()) / 2.0);
    }
    let curves = rocs
        .iter()
        .filter(|(a, _, _, _)| SHOWN.contains(&a.as_str()))
        .map(|(a, roc, _, _)| {
            let (f, t) = thinned(roc);
            (a.clone(), f, t)
        })
        .collect();
    results.note(format!(
        "{name}: {} examples attacked and {} held out as RMIA's population (no model trains on them), {} models (each on a random half of the attacked rows), mean test accuracy on held-out halves {:.3}; scores pooled over all {} targets. RMIA offline's a, chosen per target by AUC on a shadow from 0, 0.1, ..., 1: mean {:.2}, range {:.1} to {:.1}. RMIA's score is the share of the {} population rows an example beats, so a non-member beats them all with chance 1/{}: below an FPR of about {:.2}% RMIA cannot rank, and its TPR@0.1%FPR is near 0 whenever the population has fewer than ~1,000 rows (ML Privacy Meter's CIFAR-10 population has 10,000). Model outputs saved to {}.",
        data.len(),
        population.len(),
        out.n_models,
        reprolab_core::stats::mean(&acc),
        out.n_models,
        reprolab_core::stats::mean(&rmia_a),
        rmia_a.iter().copied().fold(f64::INFINITY, f64::min),
        rmia_a.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        population.len(),
        population.len() + 1,
        100.0 / (population.len() + 1) as f64,
        npz.display()
    ));
    let majority_rate = majority_rate(&data);
    let pooled = |attack: &str| {
        rocs.iter().find(|r| r.0 == attack).map(|r| &r.3).with_context(|| format!("no pooled scores for '{attack}'"))
    };
    let lira_vs_loss = tpr_difference(
        pooled(LIRA)?,
        pooled(LOSS)?,
        LIRA_FACTOR,
        RULE_FPR,
        BOOTSTRAP_95,
        derive_seed(seed, &format!("{name}-bootstrap")),
    )?;
    results.with_data(&PoolData {
        name: name.clone(),
        n_models: out.n_models,
        min_negatives,
        majority_rate,
        curves,
        lira_vs_loss,
    })
}

/// What the defences unit hands to `summarise` besides its records.
#[derive(Debug, Serialize, Deserialize)]
struct DefenceData {
    /// (defence, the no-defence population it is judged against)
    baselines: Vec<(String, String)>,
    /// (defence, its LiRA TPR@0.1% minus its baseline's, with the paired
    /// bootstrap interval over the pool's examples)
    differences: Vec<(String, Difference)>,
    /// The defence dataset's majority-class rate.
    majority_rate: f64,
}

/// Defences: one population per defence on one dataset. Its data: the
/// (defence, the no-defence population it is judged against) pairs.
fn defences_unit(cfg: &Config, seed: u64) -> Result<UnitOutput> {
    let title = defence_title(cfg);
    let defence_data = standardised(&cfg.defences.dataset)?;
    let measured = run_defences(&defence_data, &cfg.population, &cfg.defences, derive_seed(seed, "defences"))?;
    let mut out = UnitOutput::default();
    let mut baselines: Vec<(String, String)> = Vec::new();
    let mut differences = Vec::new();
    for m in &measured {
        let base = m.compared_to.as_deref().unwrap_or(&m.name);
        let reference = measured.iter().find(|b| b.name == base);
        let base_accuracy = reference.map_or(f64::NAN, |b| b.test_accuracy);
        if let Some(b) = &m.compared_to
            && !baselines.iter().any(|(a, _)| a == &m.name)
        {
            baselines.push((m.name.clone(), b.clone()));
            let reference = reference.with_context(|| format!("defence '{}': no population '{b}'", m.name))?;
            let boot_seed = derive_seed(seed, &format!("bootstrap-{}", m.name));
            let d = tpr_difference(&m.lira, &reference.lira, 1.0, RULE_FPR, BOOTSTRAP_95, boot_seed)?;
            differences.push((m.name.clone(), d));
        }
        out.record_in(&title, &m.name, DEFENCE_ACCURACY, m.test_accuracy);
        out.record_in(&title, &m.name, "accuracy cost", base_accuracy - m.test_accuracy);
        out.record_in(&title, &m.name, "LiRA AUC", m.lira_auc);
        out.record_in(&title, &m.name, DEFENCE_TPR, m.lira_tpr_at_0_001);
        out.record_in(&title, &m.name, "loss AUC", m.loss_auc);
    }
    out.with_data(&DefenceData { baselines, differences, majority_rate: majority_rate(&defence_data) })
}

/// Generative-model attacks: not part of the rule, reported as evidence
/// that the survey's second target family leaks too.
fn generative_unit(cfg: &Config, seed: u64) -> Result<UnitOutput> {
    let title = generative_title(cfg);
    let gen_data = standardised(&cfg.generative.dataset)?;
    let recon = train_autoencoders(&gen_data, &cfg.generative, derive_seed(seed, "generative"))?;
    let (mut plain, mut calibrated, mut members) = (Vec::new(), Vec::new(), Vec::new());
    for t in 0..recon.n_models {
        plain.extend(recon.reconstruction_scores(t));
        calibrated.extend(recon.calibrated_scores(t));
        members.extend_from_slice(recon.members_of(t));
    }
    let mut out = UnitOutput::default();
    for (arm, scores) in [("reconstruction error", plain), ("reconstruction error, calibrated on shadows", calibrated)]
    {
        let roc = roc_curve(&members, &scores)?;
        out.record_in(&title, arm, "AUC", roc.auc());
        out.record_in(&title, arm, "TPR@0.1%FPR", roc.tpr_at(0.001));
        out.record_in(&title, arm, "TPR@1%FPR", roc.tpr_at(0.01));
    }
    Ok(out)
}

/// The same attacks on a CNN target population (outside the rule).
fn cnn_unit(cfg: &Config, seed: u64) -> Result<UnitOutput> {
    let title = cnn_title(cfg);
    let cnn_data = standardised(&cfg.cnn.dataset)?;
    let side = (cnn_data.n_features as f64).sqrt().round() as usize;
    let cnn_population = PopulationConfig {
        n_models: cfg.cnn.n_models,
        architecture: Architecture::Cnn { side, widths: cfg.cnn.widths.clone() },
        hidden: vec![],
        dropout: 0.0,
        fit: cfg.cnn.fit.clone(),
        boundary: None,
        dp_sgd: None,
        lira_queries: None,
    };
    let out = train_population(&cnn_data, &cnn_population, derive_seed(seed, "cnn"))?;
    let m = crate::defences::measure("CNN", None, &out)?;
    let loss_tpr = {
        let (mut scores, mut members) = (Vec::new(), Vec::new());
        for t in 0..out.n_models {
            scores.extend(attacks::metric(&out, t, METRICS[0].1));
            members.extend_from_slice(out.members_of(t));
        }
        roc_curve(&members, &scores)?.tpr_at(0.001)
    };
    let arm = format!("CNN {:?} on {}", cfg.cnn.widths, cnn_data.name);
    let mut rec = UnitOutput::default();
    rec.record_in(&title, &arm, "test accuracy", m.test_accuracy);
    rec.record_in(&title, &arm, "LiRA AUC", m.lira_auc);
    rec.record_in(&title, &arm, "LiRA TPR@0.1%FPR", m.lira_tpr_at_0_001);
    rec.record_in(&title, &arm, "loss AUC", m.loss_auc);
    rec.record_in(&title, &arm, "loss TPR@0.1%FPR", loss_tpr);
    Ok(rec)
}

/// The rule's inputs for one attacked pool (means over seeds; counts the
/// fewest over seeds).
#[derive(Debug, Clone)]
struct PoolCheck {
    name: String,
    /// LiRA (online, fixed variance) and loss-attack TPR@0.1%FPR.
    lira: f64,
    loss: f64,
    n_models: usize,
    min_negatives: usize,
    /// Mean held-out accuracy of the pool's models.
    accuracy: f64,
    majority_rate: f64,
    /// Per seed: LiRA's TPR@0.1% minus 10 times the loss attack's.
    lira_vs_loss: Vec<Difference>,
}

/// The rule's inputs for one defence and the no-defence population it is
/// judged against.
#[derive(Debug, Clone)]
struct DefenceCheck {
    arm: String,
    tpr: f64,
    base: String,
    base_tpr: f64,
    base_accuracy: f64,
    /// Per seed: the defence's LiRA TPR@0.1% minus its baseline's.
    differences: Vec<Difference>,
}

/// Where a difference's interval lies against 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Above,
    Below,
    Across,
}

/// The rule's interval of per-seed differences ([`over_seeds`]), where it
/// lies, and its text `estimate [low, high]`.
fn judged(diffs: &[Difference]) -> Option<(Side, String, String)> {
    let (d, how) = over_seeds(diffs)?;
    let side = if d.low > 0.0 {
        Side::Above
    } else if d.high < 0.0 {
        Side::Below
    } else {
        Side::Across
    };
    Some((side, format!("{:+.4} [{:+.4}, {:+.4}]", d.estimate, d.low, d.high), how))
}

/// The command that can decide when a precondition fails at `preset`.
fn decide(preset: Preset) -> &'static str {
    match preset {
        Preset::Smoke | Preset::Quick => "run `reprolab run membership --preset full --jobs 2` (or --executor slurm)",
        Preset::Full => "run `reprolab run membership --preset paper --jobs 4` (or --executor slurm)",
        Preset::Paper => {
            "run `reprolab run membership --preset paper --config MORE.toml` with more models (population.n_models) or epochs (population.fit.epochs)"
        }
    }
}

/// The rule (see [`RULE`]): its preconditions first, then the pass
/// criterion on each interval's side of 0.
fn judge(pools: &[PoolCheck], defences: &[DefenceCheck], defence_majority: f64, preset: Preset) -> Verdict {
    let mut failed = Vec::new();
    let mut passes = Vec::new();
    let mut fails = Vec::new();
    let mut unclear = Vec::new();
    let mut how_judged = Vec::new();
    let mut evidence = Vec::new();
    for p in pools {
        let ratio = if p.loss > 0.0 { format!("{:.1}x", p.lira / p.loss) } else { "loss TPR 0".into() };
        let mut text = format!("{}: LiRA TPR@0.1% {:.4} vs loss {:.4} ({ratio})", p.name, p.lira, p.loss);
        match judged(&p.lira_vs_loss) {
            Some((side, interval, how)) => {
                text += &format!(", LiRA - 10x loss {interval}");
                how_judged.push(how);
                match side {
                    Side::Above => passes.push(p.name.clone()),
                    Side::Below => fails.push(format!("{}: LiRA below 10x the loss attack", p.name)),
                    Side::Across => unclear.push(format!("{}: LiRA vs 10x loss", p.name)),
                }
            }
            None => failed.push(format!("{}: no LiRA-vs-loss interval", p.name)),
        }
        evidence.push(text);
    }
    let mut changes = Vec::new();
    for d in defences {
        match judged(&d.differences) {
            Some((side, interval, how)) => {
                changes.push(format!("{} {:.4} ({interval})", d.arm, d.tpr));
                how_judged.push(how);
                match side {
                    Side::Below => passes.push(d.arm.clone()),
                    Side::Above => fails.push(format!("{} raised LiRA TPR@0.1%", d.arm)),
                    Side::Across => unclear.push(d.arm.clone()),
                }
            }
            None => failed.push(format!("defences, {}: no interval of its TPR change", d.arm)),
        }
    }
    if !changes.is_empty() {
        evidence.push(format!("LiRA TPR@0.1% change vs no defence: {}", changes.join(", ")));
    }
    how_judged.dedup();
    let mut evidence = evidence.join("; ");
    if !how_judged.is_empty() {
        evidence += &format!(" (95% intervals: {})", how_judged.join("; "));
    }

    for p in pools {
        if p.n_models < MIN_MODELS {
            failed.push(format!(
                "{}: {} models, fewer than the rule's {MIN_MODELS} (too few shadows for LiRA)",
                p.name, p.n_models
            ));
        }
        if p.min_negatives < MIN_NEGATIVES {
            failed.push(format!(
                "{}: only {} pooled non-members, fewer than {MIN_NEGATIVES} (0.1% FPR is not measurable)",
                p.name, p.min_negatives
            ));
        }
        let need = learned_accuracy(p.majority_rate);
        if p.accuracy.is_nan() || p.accuracy < need {
            failed.push(format!(
                "{}: mean test accuracy {:.3} below {need:.3} (majority class {:.3}): the targets did not learn",
                p.name, p.accuracy, p.majority_rate
            ));
        }
    }
    let mut seen: Vec<&str> = Vec::new();
    for d in defences {
        if seen.contains(&d.base.as_str()) {
            continue;
        }
        seen.push(&d.base);
        let need = learned_accuracy(defence_majority);
        if d.base_accuracy.is_nan() || d.base_accuracy < need {
            failed.push(format!(
                "defences, {}: mean test accuracy {:.3} below {need:.3} (majority class {defence_majority:.3}): the targets did not learn",
                d.base, d.base_accuracy
            ));
        }
        if d.base_tpr.is_nan() || d.base_tpr <= RANDOM_GUESS_TPR {
            failed.push(format!(
                "defences, {}: LiRA TPR@0.1% {:.4}, not above the random guess's {RANDOM_GUESS_TPR} (no leakage to lower)",
                d.base, d.base_tpr
            ));
        }
    }
    if !failed.is_empty() {
        return Verdict::inconclusive(
            RULE,
            format!("precondition failed: {}. Measured: {evidence}. To decide, {}.", failed.join("; "), decide(preset)),
        );
    }
    if !fails.is_empty() {
        let open =
            if unclear.is_empty() { String::new() } else { format!("; interval includes 0: {}", unclear.join(", ")) };
        return Verdict::from_rule(false, RULE, format!("{evidence}. Fails: {}{open}.", fails.join(", ")));
    }
    if !unclear.is_empty() {
        return Verdict::inconclusive(
            RULE,
            format!("{evidence}. Interval includes 0: {}. To decide, {}.", unclear.join(", "), decide(preset)),
        );
    }
    Verdict::from_rule(true, RULE, format!("{evidence}. All {} intervals on the rule's side of 0.", passes.len()))
}

/// The bars of the TPR@0.1%FPR chart: the loss, modified-entropy and
/// LiRA (offline and online, fixed variance) attacks on each pool `names`
/// (the datasets' own names), mean and std over seeds.
fn tpr_bars(results: &Results, names: &[String]) -> Result<Vec<Bars>> {
    results
        .arms
        .iter()
        .filter(|a| ["loss", "modified entropy", "LiRA offline, fixed variance", LIRA].contains(&a.as_str()))
        .map(|a| {
            let cells: Vec<_> =
                names.iter().map(|d| results.require(a, &format!("{d} TPR@0.1%FPR"))).collect::<Result<_>>()?;
            Ok(Bars {
                name: a.clone(),
                mean: cells.iter().map(|c| c.mean).collect(),
                std: cells.iter().map(|c| c.std).collect(),
            })
        })
        .collect()
}

/// The reduce: the rule on the pooled attacks and the defences, the
/// figures (each pool's ROC from its first seed) and the notes.
pub fn summarise(ctx: &RunContext, outputs: &Outputs) -> Result<Report> {
    let cfg: Config = ctx.config()?;
    let results = outputs.results("");
    let mut figures = Vec::new();
    let mut pool_checks = Vec::new();
    let mut names = Vec::new();
    for spec in &cfg.datasets {
        let pools: Vec<PoolData> = outputs.of_part(spec).map(|(_, o)| o.data()).collect::<Result<_>>()?;
        let Some(first) = pools.first() else { anyhow::bail!("membership: no unit for dataset '{spec}'") };
        let name = &first.name;
        names.push(name.clone());
        figures.push((
            format!("roc-{name}"),
            format!(
                "{name}: ROC of the attacks pooled over {} targets (log-log; the diagonal is chance).",
                first.n_models
            ),
            roc_log_log(&format!("Membership attacks on {name}"), &first.curves, 1e-5)?,
        ));
        pool_checks.push(PoolCheck {
            name: name.clone(),
            lira: results.require(LIRA, &format!("{name} TPR@0.1%FPR"))?.mean,
            loss: results.require(LOSS, &format!("{name} TPR@0.1%FPR"))?.mean,
            n_models: pools.iter().map(|p| p.n_models).min().unwrap_or(0),
            min_negatives: pools.iter().map(|p| p.min_negatives).min().unwrap_or(0),
            accuracy: results.require(UTILITY, &format!("{name} test accuracy"))?.mean,
            majority_rate: first.majority_rate,
            lira_vs_loss: pools.iter().map(|p| p.lira_vs_loss).collect(),
        });
    }

    let defence_title = defence_title(&cfg);
    let defence_results = outputs.results(&defence_title);
    // (defence, the no-defence population it is judged against)
    let mut baselines: Vec<(String, String)> = Vec::new();
    // (defence, its TPR difference from its baseline in each seed)
    let mut differences: Vec<(String, Vec<Difference>)> = Vec::new();
    let mut defence_majority = f64::NAN;
    for (_, o) in outputs.of_part(DEFENCES) {
        let data: DefenceData = o.data()?;
        defence_majority = data.majority_rate;
        for (arm, base) in data.baselines {
            if !baselines.iter().any(|(a, _)| a == &arm) {
                baselines.push((arm, base));
            }
        }
        for (arm, d) in data.differences {
            match differences.iter_mut().find(|(a, _)| a == &arm) {
                Some((_, seeds)) => seeds.push(d),
                None => differences.push((arm, vec![d])),
            }
        }
    }
    let seeds_of = |arm: &str| differences.iter().find(|(a, _)| a == arm).map_or(Vec::new(), |(_, d)| d.clone());
    let tpr = |arm: &str| Ok::<_, anyhow::Error>(defence_results.require(arm, DEFENCE_TPR)?.mean);
    let accuracy = |arm: &str| Ok::<_, anyhow::Error>(defence_results.require(arm, DEFENCE_ACCURACY)?.mean);
    let defence_checks: Vec<DefenceCheck> = baselines
        .iter()
        .map(|(arm, base)| {
            Ok(DefenceCheck {
                arm: arm.clone(),
                tpr: tpr(arm)?,
                base: base.clone(),
                base_tpr: tpr(base)?,
                base_accuracy: accuracy(base)?,
                differences: seeds_of(arm),
            })
        })
        .collect::<Result<_>>()?;
    let verdict = judge(&pool_checks, &defence_checks, defence_majority, ctx.preset);
    let points: Vec<(String, Vec<(f64, f64)>)> =
        defence_results.arms.iter().map(|a| Ok((a.clone(), vec![(accuracy(a)?, tpr(a)?)]))).collect::<Result<_>>()?;
    figures.push((
        "privacy-utility".into(),
        format!(
            "{}: test accuracy vs LiRA TPR at 0.1% FPR for each defence (lower right is better).",
            cfg.defences.dataset
        ),
        scatter("Defences: utility vs privacy risk", "test accuracy", "LiRA TPR @ 0.1% FPR", &points)?,
    ));

    let bars = tpr_bars(&results, &names)?;
    let bar_chart = grouped_bars("TPR at 0.1% FPR by attack", "TPR @ 0.1% FPR", &names, &bars)?;

    let generative_title = generative_title(&cfg);
    let cnn_title = cnn_title(&cfg);
    let mut report = ctx
        .report(results, verdict)
        .table(&defence_title, defence_results)
        .table(&generative_title, outputs.results(&generative_title))
        .table(&cnn_title, outputs.results(&cnn_title));
    for (name, caption, fig) in figures {
        report = report.figure(&name, &caption, fig);
    }
    report = report.figure("tpr-bars", "TPR at 0.1% FPR of the loss, modified-entropy and LiRA attacks.", bar_chart);
    for n in outputs.notes() {
        report = report.note(n);
    }
    Ok(report
        .note(format!(
            "MLP {:?} hidden, {} epochs, batch {}, {:?}.",
            cfg.population.hidden,
            cfg.population.fit.epochs,
            cfg.population.fit.batch_size,
            cfg.population.fit.optimizer
        ))
        .note(
            "Training: each MLP population (every defence but DP-SGD included) trains as one stacked model, one batched \
             matrix product per layer for all its models, each with its own half, initial weights and batch order; the \
             DP-SGD, CNN, autoencoder and distilled-student models train one at a time.",
        )
        .note(
            "Balanced accuracy is at each attack's best threshold over the pooled scores, (1 + advantage) / 2: an upper \
             bound on what a threshold fixed in advance achieves.",
        ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use reprolab_core::data::embedded;
    use reprolab_core::report::Outcome;

    /// A difference `estimate [low, high]` of one seed.
    fn diff(estimate: f64, low: f64, high: f64) -> Difference {
        Difference { estimate, low, high }
    }

    /// A pool that meets every precondition: 32 models, 28k non-members,
    /// accurate targets; LiRA 12.7x the loss attack, and LiRA - 10x loss
    /// +0.0060 with a bootstrap interval above 0.
    fn pool() -> PoolCheck {
        PoolCheck {
            name: "digits".into(),
            lira: 0.028,
            loss: 0.0022,
            n_models: 32,
            min_negatives: 28_768,
            accuracy: 0.97,
            majority_rate: 0.10,
            lira_vs_loss: vec![diff(0.006, 0.001, 0.011)],
        }
    }

    /// A defence whose one seed moved LiRA's TPR by `d` (with `low`, `high`).
    fn defence(tpr: f64, d: Difference) -> DefenceCheck {
        DefenceCheck {
            arm: "L2 0.01".into(),
            tpr,
            base: "no defence".into(),
            base_tpr: 0.019,
            base_accuracy: 0.97,
            differences: vec![d],
        }
    }

    fn lowered() -> DefenceCheck {
        defence(0.010, diff(-0.009, -0.014, -0.004))
    }

    #[test]
    fn the_rule_passes_when_every_interval_is_on_its_side_of_zero() {
        let v = judge(&[pool()], &[lowered()], 0.10, Preset::Quick);
        assert_eq!(v.outcome, Outcome::Supported, "{}", v.evidence);
        assert!(v.evidence.contains("LiRA - 10x loss +0.0060 [+0.0010, +0.0110]"), "{}", v.evidence);
        assert!(v.evidence.contains("L2 0.01 0.0100 (-0.0090 [-0.0140, -0.0040])"), "{}", v.evidence);
        assert!(v.evidence.contains("paired bootstrap over examples, 1 seed"), "{}", v.evidence);
    }

    /// The old rule passed on two numbers (L2 1.94% vs 1.96% would fail,
    /// 1.96% vs 1.94% pass); now a defence lowers the TPR only when its
    /// interval lies below 0, and one whose interval lies above 0 fails.
    #[test]
    fn a_defence_counts_only_when_its_interval_excludes_zero() {
        // lower by two numbers, but the interval includes 0: inconclusive
        let close = defence(0.0188, diff(-0.0002, -0.004, 0.0035));
        let v = judge(&[pool()], &[close], 0.10, Preset::Quick);
        assert_eq!(v.outcome, Outcome::Inconclusive, "{}", v.evidence);
        assert!(
            v.evidence.contains("Interval includes 0: L2 0.01. To decide, run `reprolab run membership --preset full")
        );
        // raised, with an interval above 0: not supported
        let raised = DefenceCheck { arm: "label smoothing 0.1".into(), ..defence(0.041, diff(0.022, 0.012, 0.031)) };
        let v = judge(&[pool()], &[lowered(), raised], 0.10, Preset::Quick);
        assert_eq!(v.outcome, Outcome::NotSupported, "{}", v.evidence);
        assert!(v.evidence.contains("Fails: label smoothing 0.1 raised LiRA TPR@0.1%."), "{}", v.evidence);
    }

    #[test]
    fn the_attack_half_needs_lira_above_10x_the_loss_attack_by_its_interval() {
        // 12.7x by the means, but LiRA - 10x loss has an interval across 0
        let unsure = PoolCheck { lira_vs_loss: vec![diff(0.006, -0.002, 0.014)], ..pool() };
        let v = judge(&[unsure], &[lowered()], 0.10, Preset::Quick);
        assert_eq!(v.outcome, Outcome::Inconclusive, "{}", v.evidence);
        assert!(v.evidence.contains("Interval includes 0: digits: LiRA vs 10x loss."), "{}", v.evidence);
        // breast cancer at 2.8x: the interval lies below 0
        let weak = PoolCheck {
            name: "breast-cancer".into(),
            lira: 0.0027,
            loss: 0.0009,
            lira_vs_loss: vec![diff(-0.0063, -0.009, -0.003)],
            ..pool()
        };
        let v = judge(&[pool(), weak], &[lowered()], 0.10, Preset::Quick);
        assert_eq!(v.outcome, Outcome::NotSupported, "{}", v.evidence);
        assert!(v.evidence.contains("Fails: breast-cancer: LiRA below 10x the loss attack."), "{}", v.evidence);
    }

    /// With 3 seeds the interval is Student t over the per-seed estimates:
    /// three seeds each lowering the TPR by its own bootstrap interval, but
    /// with estimates -0.009, -0.001 and +0.004 (scipy t interval [-0.0183,
    /// +0.0143]), do not show that the defence lowers it.
    #[test]
    fn three_seeds_judge_on_the_t_interval_over_seeds() {
        let seeds = vec![diff(-0.009, -0.014, -0.004), diff(-0.001, -0.002, -0.0005), diff(0.004, 0.001, 0.007)];
        let d = DefenceCheck { differences: seeds, ..lowered() };
        let p = PoolCheck { lira_vs_loss: vec![diff(0.006, 0.001, 0.011); 3], ..pool() };
        let v = judge(std::slice::from_ref(&p), &[d], 0.10, Preset::Full);
        assert_eq!(v.outcome, Outcome::Inconclusive, "{}", v.evidence);
        assert!(v.evidence.contains("t interval over 3 seeds"), "{}", v.evidence);
        assert!(v.evidence.contains("-0.0020 [-0.0183, +0.0143]"), "{}", v.evidence);
        assert!(v.evidence.contains("--preset paper"), "{}", v.evidence);
        let steady = vec![diff(-0.009, -0.014, -0.004), diff(-0.008, -0.012, -0.003), diff(-0.010, -0.015, -0.005)];
        let v = judge(&[p], &[DefenceCheck { differences: steady, ..lowered() }], 0.10, Preset::Full);
        assert_eq!(v.outcome, Outcome::Supported, "{}", v.evidence);
    }

    #[test]
    fn a_failed_precondition_is_inconclusive_with_its_numbers_and_the_command() {
        let cases = [
            (PoolCheck { n_models: 6, ..pool() }, lowered(), "digits: 6 models, fewer than the rule's 32"),
            (PoolCheck { min_negatives: 900, ..pool() }, lowered(), "only 900 pooled non-members"),
            (PoolCheck { accuracy: 0.40, ..pool() }, lowered(), "mean test accuracy 0.400 below 0.550"),
            (pool(), DefenceCheck { base_tpr: 0.001, ..lowered() }, "no defence: LiRA TPR@0.1% 0.0010, not above"),
            (pool(), DefenceCheck { base_accuracy: 0.3, ..lowered() }, "no defence: mean test accuracy 0.300"),
            (pool(), DefenceCheck { differences: vec![], ..lowered() }, "L2 0.01: no interval of its TPR change"),
        ];
        for (p, d, reason) in cases {
            let v = judge(&[p], &[d], 0.10, Preset::Quick);
            assert_eq!(v.outcome, Outcome::Inconclusive, "{reason}: {}", v.evidence);
            assert!(v.evidence.contains(reason), "{reason}: {}", v.evidence);
            assert!(v.evidence.contains("digits: LiRA TPR@0.1% 0.0280"), "{}", v.evidence);
            assert!(v.evidence.ends_with("--preset full --jobs 2` (or --executor slurm)."), "{}", v.evidence);
        }
        // the breast-cancer threshold sits halfway from its majority class (0.627)
        let bc = PoolCheck { name: "breast-cancer".into(), accuracy: 0.80, majority_rate: 0.627, ..pool() };
        let v = judge(&[bc], &[lowered()], 0.10, Preset::Full);
        assert_eq!(v.outcome, Outcome::Inconclusive, "{}", v.evidence);
        assert!(v.evidence.contains("below 0.814"), "{}", v.evidence);
        assert!(v.evidence.contains("--preset paper"), "{}", v.evidence);
    }

    #[test]
    fn every_shipped_preset_validates() {
        for preset in Preset::ALL {
            let cfg: Config = reprolab_core::registry::preset_config(METHOD.name, preset)
                .unwrap_or_else(|e| panic!("{}: {e:#}", preset.name()));
            assert_eq!(cfg.datasets, ["digits", "breast-cancer"], "{}", preset.name());
        }
    }

    /// The config of the smoke preset with `overrides` merged in as a
    /// `--config` file would be.
    fn smoke_with(overrides: &str) -> Result<Config> {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("override.toml");
        std::fs::write(&file, overrides).unwrap();
        RunContext::with_config_file(&METHOD, Preset::Smoke, &file)?.config()
    }

    #[test]
    fn a_bad_value_from_a_config_file_is_a_user_error_naming_the_field() {
        let cases = [
            ("[population]\nn_models = 1\n", "population: n_models must be at least 2"),
            ("[population]\ndropout = 1.5\n", "population: dropout must be in [0, 1)"),
            (
                "[population.lira_queries]\ncopies = 0\nnoise_std = 0.1\n",
                "population: lira_queries: copies must be at least 1",
            ),
            (
                "[population.boundary]\nqueries = 5\nnoise_std = -1.0\n",
                "population: boundary: noise_std must be positive",
            ),
            ("[population.fit]\nepochs = 0\nbatch_size = 128\n", "population: fit.epochs must be at least 1"),
            ("[attack_model]\nhidden = 0\n", "attack_model: hidden must be at least 1"),
            ("[defences.dp_sgd]\ndelta = 2.0\n", "defences: dp_sgd: delta must be in (0, 1)"),
            ("[defences.dp_sgd]\nmax_grad_norm = 0.0\n", "defences: dp_sgd: max_grad_norm must be positive"),
            ("[defences.distillation]\ntemperature = 0.0\n", "defences: distillation: temperature must be positive"),
            ("[defences]\nlabel_smoothing = 1.0\n", "defences: label_smoothing must be in [0, 1)"),
            ("[generative]\nhidden = []\n", "generative: hidden must list positive widths"),
            ("[cnn]\nwidths = [16, 0]\n", "cnn: widths must list positive channel counts"),
            ("datasets = []\n", "datasets must name at least one pool"),
            ("datasets = [\"digitz\"]\n", "datasets: unknown embedded dataset 'digitz'"),
            ("[defences]\ndataset = \"csv:nolabel\"\n", "defences: dataset 'csv:nolabel': write csv:PATH:LABEL_COLUMN"),
        ];
        for (overrides, needle) in cases {
            let err = smoke_with(overrides).unwrap_err();
            assert!(reprolab_core::is_user_error(&err), "{overrides}: {err:#}");
            let msg = format!("{err:#}");
            assert!(msg.contains(needle) && msg.contains("override.toml"), "{overrides}: {msg}");
        }
        assert!(smoke_with("[population]\nn_models = 2\n").is_ok());
    }

    #[test]
    fn the_tpr_bars_read_every_pool_and_fail_on_a_missing_cell() {
        let mut results = Results::default();
        for (arm, v) in [(LOSS, 0.002), (LIRA, 0.03), ("RMIA", 0.01)] {
            results.record(arm, "digits TPR@0.1%FPR", v);
        }
        results.record(UTILITY, "digits test accuracy", 0.97);
        let bars = tpr_bars(&results, &["digits".into()]).unwrap();
        let names: Vec<&str> = bars.iter().map(|b| b.name.as_str()).collect();
        assert_eq!(names, [LOSS, LIRA]);
        assert_eq!(bars[1].mean, [0.03]);
        let Err(err) = tpr_bars(&results, &["digits".into(), "pool".into()]) else {
            panic!("a missing cell must fail")
        };
        let err = err.to_string();
        assert!(err.contains("metric 'pool TPR@0.1%FPR'"), "{err}");
    }

    #[test]
    fn majority_rate_counts_the_most_frequent_class() {
        let data = embedded::by_name("breast-cancer").unwrap();
        assert!((majority_rate(&data) - 357.0 / 569.0).abs() < 1e-12);
        assert!((learned_accuracy(0.1) - 0.55).abs() < 1e-12);
    }
}

//! The claim check of papers/03-membership.md (the attack half):
//! measured at low FPR, the likelihood-ratio attack (LiRA) exposes far more
//! members than the classic loss-threshold attack.

use crate::attacks::{self, AttackFeatures, METRICS, NamedScores, Variance};
use crate::defences::{DefenceConfig, run_defences};
use crate::generative::{GenerativeConfig, train_autoencoders};
use crate::shadow::{Architecture, ModelOutputs, PopulationConfig, train_population};
use anyhow::Result;
use reprolab_core::data::csv::{LabelKind, load_csv};
use reprolab_core::data::{Dataset, embedded, scale::Standardiser};
use reprolab_core::metrics::{Roc, roc_curve};
use reprolab_core::registry::{Method, Preset, RunContext};
use reprolab_core::report::plot::{Bars, grouped_bars, roc_log_log, scatter};
use reprolab_core::report::{Report, Results, Verdict};
use reprolab_core::rng::derive_seed;
use serde::Deserialize;

pub const PAPER: &str = "Hu, Salcic, Sun, Dobbie, Yu, Zhang. Membership Inference Attacks on Machine Learning: A Survey. ACM CSUR 54(11s), 2022, arXiv 2103.07853";
pub const CLAIM: &str = "Evaluated at low false-positive rates, the likelihood-ratio attack (LiRA) identifies far more training members than the loss-threshold attack.";
const RULE: &str = "Supported when, on every dataset, LiRA (online, fixed variance) TPR at 0.1% FPR is at least 10x the global loss attack's and above 0, with at least 1,000 pooled non-member scores behind it (otherwise inconclusive), and every implemented defence lowers LiRA TPR@0.1% below the no-defence population of the same size it is paired with (its accuracy cost is reported).";

/// The registry entry.
pub const METHOD: Method = Method {
    name: "membership",
    paper: PAPER,
    claim: CLAIM,
    presets: &[
        (Preset::Smoke, include_str!("../../../configs/membership/smoke.toml")),
        (Preset::Quick, include_str!("../../../configs/membership/quick.toml")),
        (Preset::Paper, include_str!("../../../configs/membership/paper.toml")),
    ],
    run,
    complete: true,
};

/// Every knob of the experiment.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Pools to attack: embedded (`digits`, `breast-cancer`) or
    /// `csv:PATH:LABEL_COLUMN`.
    pub datasets: Vec<String>,
    pub population: PopulationConfig,
    pub attack_model: AttackModelConfig,
    pub defences: DefenceConfig,
    /// Attacks on a generative model (autoencoders), reported outside the rule.
    pub generative: GenerativeConfig,
    /// A CNN target population, reported outside the rule.
    pub cnn: CnnConfig,
}

/// The CNN population: a small ConvNet on an image dataset (8x8 digits).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CnnConfig {
    pub dataset: String,
    pub n_models: usize,
    /// Channels of each conv block (each halves the image side).
    pub widths: Vec<usize>,
    pub fit: reprolab_core::train::classifier::FitConfig,
}

/// The shadow attack classifiers' MLP (one hidden layer) and its training.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttackModelConfig {
    pub hidden: usize,
    pub fit: reprolab_core::train::classifier::FitConfig,
}

/// Attack names in report order; the LiRA variant the rule uses is `LIRA`.
const LOSS: &str = "loss";
const LIRA: &str = "LiRA online, fixed variance";

/// Every attack's membership scores for one target model.
fn attack_scores(out: &ModelOutputs, target: usize, am: &AttackModelConfig, seed: u64) -> Result<NamedScores> {
    let mut all: NamedScores =
        METRICS.iter().map(|(name, stat)| (name.to_string(), attacks::metric(out, target, *stat))).collect();
    all.push(("loss, per-class threshold".into(), attacks::metric_per_class(out, target, METRICS[0].1)));
    all.push(("LiRA offline".into(), attacks::lira_offline(out, target, Variance::PerExample)));
    all.push(("LiRA offline, fixed variance".into(), attacks::lira_offline(out, target, Variance::Fixed)));
    all.push(("LiRA online".into(), attacks::lira_online(out, target, Variance::PerExample)));
    all.push((LIRA.into(), attacks::lira_online(out, target, Variance::Fixed)));
    if let Some(scores) = attacks::lira_online_queries(out, target, Variance::Fixed) {
        all.push((format!("LiRA online, fixed variance, {} noisy queries", out.n_queries), scores));
    }
    if let Some(robustness) = attacks::boundary(out, target) {
        all.push(("label-only boundary (noise robustness)".into(), robustness));
    }
    // With gamma fixed, RMIA's score is monotone in p(x|target) / p(x), so
    // the population only sets the resolution: the whole pool serves.
    let population: Vec<usize> = (0..out.n_examples).collect();
    all.push(("RMIA".into(), attacks::rmia(out, target, &population, 1.0)));
    let seed = derive_seed(seed, &format!("attack-{target}"));
    for (name, kind) in [
        ("shadow classifier (top-3, global)", AttackFeatures::Top3Sorted),
        ("shadow classifier (per class)", AttackFeatures::FullVectorPerClass),
    ] {
        all.push((name.into(), attacks::shadow_classifier(out, target, kind, am.hidden, &am.fit, seed)?));
    }
    Ok(all)
}

/// Pooled ROC of every attack over all targets (each model in turn).
fn pooled_rocs(out: &ModelOutputs, am: &AttackModelConfig, seed: u64) -> Result<Vec<(String, Roc, usize)>> {
    let mut pooled: Vec<(String, Vec<f64>, Vec<bool>)> = Vec::new();
    let bar = reprolab_core::progress::bar(out.n_models as u64, "attacks (each target)");
    for target in 0..out.n_models {
        bar.inc(1);
        for (k, (name, scores)) in attack_scores(out, target, am, seed)?.into_iter().enumerate() {
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
            Ok((name, roc_curve(&members, &scores)?, negatives))
        })
        .collect()
}

/// A data pool by name: an embedded dataset (`digits`, `breast-cancer`) or
/// `csv:PATH:LABEL_COLUMN` for any CSV with numeric features and a class
/// column. Features are standardised over the pool.
fn standardised(name: &str) -> Result<Dataset> {
    let mut data = match name.strip_prefix("csv:") {
        Some(spec) => {
            let Some((path, label)) = spec.rsplit_once(':') else {
                reprolab_core::user_bail!("dataset '{name}': write csv:PATH:LABEL_COLUMN");
            };
            load_csv(std::path::Path::new(path), label, LabelKind::Classes)?
        }
        None => embedded::by_name(name)?,
    };
    // The pool's statistics are public knowledge to the attacker; every
    // model sees the same preprocessing.
    Standardiser::fit(&data.features, data.n_features).transform(&mut data.features);
    Ok(data)
}

/// A ROC thinned to a log-spaced FPR grid, so the SVG stays small.
fn thinned(roc: &Roc) -> (Vec<f64>, Vec<f64>) {
    let fpr: Vec<f64> = (0..=120).map(|i| 10f64.powf(-5.0 + 5.0 * i as f64 / 120.0)).collect();
    let tpr = fpr.iter().map(|&f| roc.tpr_at(f)).collect();
    (fpr, tpr)
}

/// Runs the experiment at `ctx`'s preset.
pub fn run(ctx: &RunContext) -> Result<Report> {
    let cfg: Config = ctx.config()?;
    let mut results = Results::default();
    let mut figures = Vec::new();
    let mut notes = Vec::new();
    let mut checks = Vec::new();
    let mut min_negatives = usize::MAX;
    let mut names = Vec::new();
    for spec in &cfg.datasets {
        let data = standardised(spec)?;
        // Reports and files use the dataset's own name (a CSV's file stem).
        let name = &data.name;
        names.push(name.clone());
        for &seed in &ctx.seeds {
            let out = train_population(&data, &cfg.population, derive_seed(seed, name))?;
            out.save_npz(&ctx.out_dir.join(format!("{name}-seed{seed}-outputs.npz")))?;
            let acc: Vec<f64> = (0..out.n_models).map(|m| out.out_accuracy(m)).collect();
            results.record("models (utility)", &format!("{name} test accuracy"), reprolab_core::stats::mean(&acc));
            let rocs = pooled_rocs(&out, &cfg.attack_model, derive_seed(seed, name))?;
            for (attack, roc, negatives) in &rocs {
                min_negatives = min_negatives.min(*negatives);
                results.record(attack, &format!("{name} AUC"), roc.auc());
                results.record(attack, &format!("{name} TPR@0.1%FPR"), roc.tpr_at(0.001));
                results.record(attack, &format!("{name} TPR@1%FPR"), roc.tpr_at(0.01));
                // At the best threshold: balanced accuracy = (1 + advantage) / 2.
                results.record(attack, &format!("{name} balanced accuracy"), (1.0 + roc.advantage()) / 2.0);
            }
            if seed == ctx.seeds[0] {
                let shown = [
                    "loss",
                    "loss, per-class threshold",
                    "shadow classifier (per class)",
                    "LiRA offline, fixed variance",
                    "LiRA online",
                    LIRA,
                    "RMIA",
                ];
                let curves: Vec<_> = rocs
                    .iter()
                    .filter(|(a, _, _)| shown.contains(&a.as_str()))
                    .map(|(a, roc, _)| {
                        let (f, t) = thinned(roc);
                        (a.clone(), f, t)
                    })
                    .collect();
                figures.push((
                    format!("roc-{name}"),
                    format!(
                        "{name}: ROC of the attacks pooled over {} targets (log-log; the diagonal is chance).",
                        out.n_models
                    ),
                    roc_log_log(&format!("Membership attacks on {name}"), &curves, 1e-5)?,
                ));
            }
            notes.push(format!(
                "{name}: {} examples, {} models (each on a random half), mean test accuracy on held-out halves {:.3}; scores pooled over all {} targets. Model outputs saved to {}.",
                data.len(),
                out.n_models,
                reprolab_core::stats::mean(&acc),
                out.n_models,
                ctx.out_dir.join(format!("{name}-seed{seed}-outputs.npz")).display()
            ));
        }
        let lira = results.mean(LIRA, &format!("{name} TPR@0.1%FPR"));
        let loss = results.mean(LOSS, &format!("{name} TPR@0.1%FPR"));
        checks.push((name.clone(), lira, loss));
    }

    // Defences: one population per defence on one dataset, same seeds.
    let mut defence_results = Results::default();
    // (defence, the no-defence population it is judged against)
    let mut baselines: Vec<(String, String)> = Vec::new();
    let defence_data = standardised(&cfg.defences.dataset)?;
    for &seed in &ctx.seeds {
        let measured = run_defences(&defence_data, &cfg.population, &cfg.defences, derive_seed(seed, "defences"))?;
        for m in &measured {
            let base = m.compared_to.as_deref().unwrap_or(&m.name);
            let base_accuracy = measured.iter().find(|b| b.name == base).map_or(f64::NAN, |b| b.test_accuracy);
            if let Some(b) = &m.compared_to
                && !baselines.iter().any(|(a, _)| a == &m.name)
            {
                baselines.push((m.name.clone(), b.clone()));
            }
            defence_results.record(&m.name, "test accuracy", m.test_accuracy);
            defence_results.record(&m.name, "accuracy cost", base_accuracy - m.test_accuracy);
            defence_results.record(&m.name, "LiRA AUC", m.lira_auc);
            defence_results.record(&m.name, "LiRA TPR@0.1%FPR", m.lira_tpr_at_0_001);
            defence_results.record(&m.name, "loss AUC", m.loss_auc);
        }
    }
    // Generative-model attacks: not part of the rule, reported as evidence
    // that the survey's second target family leaks too.
    let mut generative_results = Results::default();
    let gen_data = standardised(&cfg.generative.dataset)?;
    for &seed in &ctx.seeds {
        let recon = train_autoencoders(&gen_data, &cfg.generative, derive_seed(seed, "generative"))?;
        let (mut plain, mut calibrated, mut members) = (Vec::new(), Vec::new(), Vec::new());
        for t in 0..recon.n_models {
            plain.extend(recon.reconstruction_scores(t));
            calibrated.extend(recon.calibrated_scores(t));
            members.extend_from_slice(recon.members_of(t));
        }
        for (arm, scores) in
            [("reconstruction error", plain), ("reconstruction error, calibrated on shadows", calibrated)]
        {
            let roc = roc_curve(&members, &scores)?;
            generative_results.record(arm, "AUC", roc.auc());
            generative_results.record(arm, "TPR@0.1%FPR", roc.tpr_at(0.001));
            generative_results.record(arm, "TPR@1%FPR", roc.tpr_at(0.01));
        }
    }

    let not_lowered: Vec<String> = baselines
        .iter()
        .filter(|(arm, base)| {
            defence_results.mean(arm, "LiRA TPR@0.1%FPR") >= defence_results.mean(base, "LiRA TPR@0.1%FPR")
        })
        .map(|(arm, _)| arm.clone())
        .collect();

    let mut evidence = checks
        .iter()
        .map(|(name, lira, loss)| {
            let ratio = if *loss > 0.0 { format!("{:.1}x", lira / loss) } else { "loss TPR 0".into() };
            format!("{name}: LiRA TPR@0.1% {:.4} vs loss {:.4} ({ratio})", lira, loss)
        })
        .collect::<Vec<_>>()
        .join("; ");
    evidence += &if not_lowered.is_empty() {
        format!("; all {} defences lowered LiRA TPR@0.1% below their no-defence population", baselines.len())
    } else {
        format!("; LiRA TPR@0.1% not lowered by: {}", not_lowered.join(", "))
    };
    let attacks_pass = checks.iter().all(|(_, lira, loss)| *lira > 0.0 && *lira >= 10.0 * loss);
    let verdict = if min_negatives < 1000 {
        Verdict::inconclusive(
            RULE,
            format!("only {min_negatives} pooled non-members: 0.1% FPR is not measurable. {evidence}"),
        )
    } else {
        Verdict::from_rule(attacks_pass && not_lowered.is_empty(), RULE, evidence)
    };
    let points: Vec<(String, Vec<(f64, f64)>)> = defence_results
        .arms
        .iter()
        .map(|a| {
            (a.clone(), vec![(defence_results.mean(a, "test accuracy"), defence_results.mean(a, "LiRA TPR@0.1%FPR"))])
        })
        .collect();
    figures.push((
        "privacy-utility".into(),
        format!(
            "{}: test accuracy vs LiRA TPR at 0.1% FPR for each defence (lower right is better).",
            cfg.defences.dataset
        ),
        scatter("Defences: utility vs privacy risk", "test accuracy", "LiRA TPR @ 0.1% FPR", &points)?,
    ));

    let attack_arms: Vec<String> = results.arms.iter().filter(|a| *a != "models (utility)").cloned().collect();
    let bars: Vec<Bars> = attack_arms
        .iter()
        .filter(|a| ["loss", "modified entropy", "LiRA offline, fixed variance", LIRA].contains(&a.as_str()))
        .map(|a| Bars {
            name: a.clone(),
            mean: names.iter().map(|d| results.mean(a, &format!("{d} TPR@0.1%FPR"))).collect(),
            std: cfg
                .datasets
                .iter()
                .map(|d| results.cell(a, &format!("{d} TPR@0.1%FPR")).map_or(0.0, |c| c.std))
                .collect(),
        })
        .collect();
    let bar_chart = grouped_bars("TPR at 0.1% FPR by attack", "TPR @ 0.1% FPR", &names, &bars)?;

    let defence_title = format!(
        "Defences on {} ({} models per population, each the target in turn; LiRA online with fixed variance)",
        cfg.defences.dataset, cfg.defences.n_models
    );
    // The same attacks on a CNN target population (outside the rule).
    let mut cnn_results = Results::default();
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
    for &seed in &ctx.seeds {
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
        cnn_results.record(&arm, "test accuracy", m.test_accuracy);
        cnn_results.record(&arm, "LiRA AUC", m.lira_auc);
        cnn_results.record(&arm, "LiRA TPR@0.1%FPR", m.lira_tpr_at_0_001);
        cnn_results.record(&arm, "loss AUC", m.loss_auc);
        cnn_results.record(&arm, "loss TPR@0.1%FPR", loss_tpr);
    }

    let generative_title = format!(
        "Attacks on a generative model: {} autoencoders {:?} on {}, each on a random half, pooled over targets (not part of the rule)",
        cfg.generative.n_models, cfg.generative.hidden, cfg.generative.dataset
    );
    let mut report = Report::new(METHOD.name, PAPER, CLAIM, ctx.preset.name(), ctx.seeds.clone(), results, verdict)
        .table(&defence_title, defence_results)
        .table(&generative_title, generative_results)
        .table(
            &format!(
                "A CNN target: {} models, each on a random half, pooled over targets (not part of the rule)",
                cfg.cnn.n_models
            ),
            cnn_results,
        );
    for (name, caption, fig) in figures {
        report = report.figure(&name, &caption, fig);
    }
    report = report.figure("tpr-bars", "TPR at 0.1% FPR of the loss, modified-entropy and LiRA attacks.", bar_chart);
    for n in notes {
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

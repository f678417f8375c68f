//! The workbench's own claim check (not a paper): the shared MLP, data
//! pipeline and fit loop learn. A 64-256-256-10 MLP (the architecture the
//! membership-inference paper and the benchmark use) trained on a
//! stratified split of the embedded digits must beat the majority-class
//! baseline by a wide, seed-robust margin. It exercises every piece of the
//! core end to end (data, splits, standardisation, nn, optimiser, metrics,
//! statistics, figures) in seconds, so `reproduce --preset smoke` and the
//! tests have a real experiment to run before any paper is implemented.

use crate::data::{Dataset, embedded, scale::Standardiser, split::stratified_split};
use crate::metrics::{accuracy, macro_f1};
use crate::nn::MlpConfig;
use crate::plan::{Outputs, Resources, Unit, UnitOutput};
use crate::registry::{Method, RunContext, Validate};
use crate::report::plot::{Bars, Series, grouped_bars, image_grid, lines_with_bands};
use crate::report::{Report, Verdict};
use crate::rng::derive_seed;
use crate::stats;
use crate::train::classifier::{FitConfig, argmax_rows, fit, predict_logits};
use anyhow::Result;
use serde::Deserialize;

pub const CLAIM: &str = "A 64-256-256-10 MLP trained with reprolab's shared loop classifies held-out digits far above the majority-class baseline.";
const RULE: &str = "Supported when the MLP's mean test accuracy is at least 0.90 and its worst seed beats the majority baseline's best seed by at least 0.5.";

/// The registry entry.
pub const METHOD: Method = Method {
    name: "selfcheck",
    about: Some("reprolab workbench self-check (not a paper): shared data, nn, training and report pipeline"),
    claim: CLAIM,
    units,
    run_unit,
    summarise,
    resources: Resources::SMALL,
    complete: true,
    commands: None,
    export: None,
};

/// Every hyper-parameter of the check.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Embedded dataset: `digits` or `breast-cancer` (presets: digits).
    pub dataset: String,
    /// Hidden layer widths (presets: 256, 256, the membership paper's MLP).
    pub hidden: Vec<usize>,
    /// Held-out share, split stratified by class (presets: 0.25).
    pub test_fraction: f64,
    /// Epochs, batch size and optimiser of the shared fit loop.
    pub fit: FitConfig,
}

impl Validate for Config {
    fn validate(&self) -> Result<()> {
        embedded::by_name(&self.dataset)?;
        anyhow::ensure!(
            !self.hidden.is_empty() && self.hidden.iter().all(|&h| h > 0),
            "hidden must list positive widths"
        );
        anyhow::ensure!(
            self.test_fraction > 0.0 && self.test_fraction < 1.0,
            "test_fraction must be in (0, 1), got {}",
            self.test_fraction
        );
        self.fit.validate()
    }
}

struct SeedResult {
    mlp_acc: f64,
    mlp_f1: f64,
    majority_acc: f64,
    majority_f1: f64,
    epoch_loss: Vec<f64>,
}

fn run_seed(cfg: &Config, data: &Dataset, seed: u64) -> Result<SeedResult> {
    let split = stratified_split(data.labels(), cfg.test_fraction, derive_seed(seed, "split"))?;
    let mut data = data.clone();
    let scaler = Standardiser::fit(&data.subset(&split.train).features, data.n_features);
    scaler.transform(&mut data.features);

    let device = crate::device::default_device();
    device.seed(derive_seed(seed, "init"));
    let ad = device.autodiff();
    let mut dims = vec![data.n_features];
    dims.extend(&cfg.hidden);
    dims.push(data.n_classes());
    let model = MlpConfig::new(&dims).init(&ad);
    let (model, history) = fit(model, &data, &split.train, &cfg.fit, seed, &ad, &format!("selfcheck seed {seed}"))?;

    let y_test: Vec<usize> = split.test.iter().map(|&i| data.labels()[i]).collect();
    let pred = argmax_rows(&predict_logits(&model, &data, &split.test, &ad), data.n_classes());
    let majority = majority_class(&split.train.iter().map(|&i| data.labels()[i]).collect::<Vec<_>>());
    let base = vec![majority; y_test.len()];
    Ok(SeedResult {
        mlp_acc: accuracy(&y_test, &pred)?,
        mlp_f1: macro_f1(&y_test, &pred)?,
        majority_acc: accuracy(&y_test, &base)?,
        majority_f1: macro_f1(&y_test, &base)?,
        epoch_loss: history.epoch_loss,
    })
}

fn majority_class(labels: &[usize]) -> usize {
    let mut counts = std::collections::BTreeMap::new();
    labels.iter().for_each(|&l| *counts.entry(l).or_insert(0usize) += 1);
    counts.into_iter().max_by_key(|&(l, c)| (c, std::cmp::Reverse(l))).map_or(0, |(l, _)| l)
}

/// The map: one unit per seed (a split, a model, its evaluation).
pub fn units(ctx: &RunContext) -> Result<Vec<Unit>> {
    let _: Config = ctx.config()?; // a bad config fails while planning
    Ok(ctx.seeds.iter().map(|&s| Unit::main("", s)).collect())
}

/// One seed: train on its split, score both arms, keep the loss curve.
pub fn run_unit(ctx: &RunContext, unit: &Unit) -> Result<UnitOutput> {
    let cfg: Config = ctx.config()?;
    let data = embedded::by_name(&cfg.dataset)?;
    let r = run_seed(&cfg, &data, unit.key.seed)?;
    let mut out = UnitOutput::default();
    out.record("majority class", "accuracy", r.majority_acc);
    out.record("majority class", "macro-F1", r.majority_f1);
    out.record("MLP", "accuracy", r.mlp_acc);
    out.record("MLP", "macro-F1", r.mlp_f1);
    out.with_data(&r.epoch_loss)
}

/// The reduce: the rule on the per-seed accuracies, the figures.
pub fn summarise(ctx: &RunContext, outputs: &Outputs) -> Result<Report> {
    let cfg: Config = ctx.config()?;
    let data = embedded::by_name(&cfg.dataset)?;
    let results = outputs.results("");
    let curves: Vec<Vec<f64>> = outputs.units.iter().map(|(_, o)| o.data()).collect::<Result<_>>()?;
    let mlp = &results.require("MLP", "accuracy")?.values;
    let base = &results.require("majority class", "accuracy")?.values;
    let worst_mlp = mlp.iter().copied().fold(f64::INFINITY, f64::min);
    let best_base = base.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let passed = stats::mean(mlp) >= 0.90 && worst_mlp - best_base >= 0.5;
    let evidence = format!(
        "MLP accuracy {:.3} ± {:.3} (worst seed {:.3}) vs majority {:.3} (best seed {:.3}), {} seeds",
        stats::mean(mlp),
        stats::std(mlp),
        worst_mlp,
        stats::mean(base),
        best_base,
        mlp.len()
    );
    let verdict = Verdict::from_rule(passed, RULE, evidence);

    let epochs = curves.iter().map(Vec::len).min().unwrap_or(0);
    let per_epoch: Vec<Vec<f64>> = (0..epochs).map(|e| curves.iter().map(|c| c[e]).collect()).collect();
    let loss_curve = lines_with_bands(
        "Training loss (mean ± std over seeds)",
        "epoch",
        "cross-entropy",
        &[Series {
            name: "MLP".into(),
            x: (1..=epochs).map(|e| e as f64).collect(),
            mean: per_epoch.iter().map(|v| stats::mean(v)).collect(),
            std: per_epoch.iter().map(|v| stats::std(v)).collect(),
        }],
    )?;
    let metrics: Vec<String> = results.metrics.clone();
    let bars: Vec<Bars> = results
        .arms
        .iter()
        .map(|arm| -> Result<Bars> {
            let cells: Vec<&crate::report::Cell> =
                metrics.iter().map(|m| results.require(arm, m)).collect::<Result<_>>()?;
            Ok(Bars {
                name: arm.clone(),
                mean: cells.iter().map(|c| c.mean).collect(),
                std: cells.iter().map(|c| c.std).collect(),
            })
        })
        .collect::<Result<_>>()?;
    let bar_chart = grouped_bars("Held-out metrics (± std over seeds)", "score", &metrics, &bars)?;

    let mut report = ctx
        .report(results, verdict)
        .figure("loss", "Training loss of the MLP per epoch, mean ± std over seeds.", loss_curve)
        .figure("metrics", "Held-out accuracy and macro-F1 of each arm.", bar_chart)
        .note(format!(
            "{}: {} rows, {} features, {} classes; stratified {:.0}% test split per seed; features standardised on the training rows.",
            data.name,
            data.len(),
            data.n_features,
            data.n_classes(),
            cfg.test_fraction * 100.0
        ))
        .note(format!("MLP {:?} hidden, {} epochs, batch {}, {:?}.", cfg.hidden, cfg.fit.epochs, cfg.fit.batch_size, cfg.fit.optimizer));
    if data.n_features == 64 {
        let images: Vec<Vec<f32>> = (0..20).map(|i| data.row(i).iter().map(|v| v / 16.0).collect()).collect();
        report = report.figure(
            "digits",
            "The first 20 digits of the dataset (8x8, grey levels 0-16).",
            image_grid(&images, 8, 8, 1, 10, 4)?,
        );
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn majority_class_breaks_ties_towards_the_smaller_label() {
        assert_eq!(majority_class(&[2, 1, 2, 1, 0]), 1);
        assert_eq!(majority_class(&[3, 3, 0]), 3);
    }
}

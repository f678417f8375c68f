//! Defences against membership inference, each measured the same way on
//! its own model population: test accuracy (utility), and LiRA (online,
//! fixed variance) AUC and TPR@0.1%FPR plus the loss attack's AUC (risk),
//! pooled over every model as the target.
//!
//! Training-time defences retrain the population with one change:
//! L2 penalty, dropout, label smoothing, validation-based early stopping,
//! DP-SGD.
//! Output-time defences (confidence masking) keep the no-defence
//! population's models and change only what they release: the top-1
//! probability, or the label alone. Both keep the arg-max, so accuracy is
//! unchanged, and an attacker sees only the masked outputs.
//!
//! Early stopping holds out `validation_fraction` of each model's half to
//! pick the epoch; those rows never give a gradient, so they are scored as
//! non-members (OUT) of that model, for the target and for the shadows
//! alike. Counting them IN (the whole half) would make the defence look
//! better than it is: members the model never fitted would lower its TPR.
//! Its test accuracy is read on the rows outside the half only, because
//! the epoch was chosen on the validation rows.
//!
//! DP-SGD (Abadi et al. 2016) trains with per-example clipping and Gaussian
//! noise; its epsilon comes from the RDP accountant in [`crate::dp`].
//!
//! Knowledge distillation ([`crate::distill`]) needs a reference set
//! outside the evaluated pool, so it has its own no-defence baseline on the
//! reduced pool; `Measured::compared_to` names each defence's baseline.

use crate::attacks::{self, METRICS, Variance};
use crate::paired::Pooled;
use crate::shadow::{ModelOutputs, PopulationConfig, random_half, train_population};
use anyhow::{Context, Result};
use reprolab_core::data::Dataset;
use reprolab_core::metrics::roc_curve;
use reprolab_core::registry::Validate;
use reprolab_core::rng::derive_seed;
use reprolab_core::train::OptimizerConfig;
use reprolab_core::train::classifier::EarlyStopConfig;
use serde::Deserialize;

/// The defence sweep's settings. The survey lists the defences but runs
/// none, so no value here is the paper's.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DefenceConfig {
    /// Embedded dataset (or `csv:PATH:LABEL_COLUMN`) the defences are
    /// measured on (paper: not stated; presets: digits).
    pub dataset: String,
    /// Models per population, each the target in turn (paper: not stated;
    /// presets: 4 smoke, 8 quick, 16 full, 32 paper).
    pub n_models: usize,
    /// L2 penalty added to the gradient, non-negative (paper: not stated;
    /// the digits pilot: 0.01; presets: 0.01).
    pub l2: f32,
    /// Dropout probability after each hidden layer, in [0, 1) (paper: not
    /// stated; presets: 0.5).
    pub dropout: f64,
    /// Label smoothing of the cross-entropy, in [0, 1) (paper: not stated;
    /// presets: 0.1).
    pub label_smoothing: f32,
    /// Validation-based early stopping: held-out share in (0, 1) and
    /// patience in epochs (paper: not stated; presets: 0.1, patience 2
    /// smoke, 3 quick and full, 5 paper).
    pub early_stopping: EarlyStopConfig,
    /// DP-SGD's clipping, noise, batches and accounting.
    pub dp_sgd: crate::dp::DpConfig,
    /// The knowledge-distillation defence's reference set and temperature.
    pub distillation: crate::distill::DistillationConfig,
}

impl Validate for DefenceConfig {
    fn validate(&self) -> Result<()> {
        crate::pool::check_spec(&self.dataset)?;
        crate::pool::check_models(self.n_models)?;
        anyhow::ensure!(self.l2.is_finite() && self.l2 >= 0.0, "l2 must be non-negative, got {}", self.l2);
        anyhow::ensure!((0.0..1.0).contains(&self.dropout), "dropout must be in [0, 1), got {}", self.dropout);
        anyhow::ensure!(
            (0.0..1.0).contains(&self.label_smoothing),
            "label_smoothing must be in [0, 1), got {}",
            self.label_smoothing
        );
        let e = &self.early_stopping;
        anyhow::ensure!(
            e.validation_fraction > 0.0 && e.validation_fraction < 1.0,
            "early_stopping.validation_fraction must be in (0, 1), got {}",
            e.validation_fraction
        );
        anyhow::ensure!(e.patience >= 1, "early_stopping.patience must be at least 1");
        self.dp_sgd.validate().context("dp_sgd")?;
        self.distillation.validate().context("distillation")
    }
}

/// One defence's measurements.
#[derive(Debug, Clone)]
pub struct Measured {
    pub name: String,
    /// The no-defence population this defence is judged against (`None`
    /// for a no-defence population itself).
    pub compared_to: Option<String>,
    pub test_accuracy: f64,
    pub lira_auc: f64,
    pub lira_tpr_at_0_001: f64,
    pub loss_auc: f64,
    /// LiRA's scores pooled over the targets, for paired comparisons
    /// ([`crate::paired`]).
    pub lira: Pooled,
}

/// What an output-masking defence releases, as log-probabilities (zeros
/// become 1e-30 so every attack can still take logs).
fn mask_outputs(out: &ModelOutputs, keep_probability: bool) -> ModelOutputs {
    let mut masked = out.clone();
    let rows = masked.logits.chunks_mut(out.n_classes).chain(masked.query_logits.chunks_mut(out.n_classes));
    for row in rows {
        let p = crate::scores::softmax(row);
        let top = p.iter().enumerate().fold(0, |b, (i, &v)| if v > p[b] { i } else { b });
        for (i, z) in row.iter_mut().enumerate() {
            let released = if i != top {
                0.0
            } else if keep_probability {
                p[top]
            } else {
                1.0
            };
            *z = released.max(1e-30).ln() as f32;
        }
    }
    masked
}

/// Pools LiRA and loss scores over all targets and measures them; the
/// test accuracy is the models' mean on the rows each did not train on.
pub fn measure(name: &str, compared_to: Option<&str>, out: &ModelOutputs) -> Result<Measured> {
    measure_with_accuracy(name, compared_to, out, held_out_accuracy(out))
}

/// The models' mean accuracy on the rows marked OUT for each.
fn held_out_accuracy(out: &ModelOutputs) -> f64 {
    let accuracy: Vec<f64> = (0..out.n_models).map(|m| out.out_accuracy(m)).collect();
    reprolab_core::stats::mean(&accuracy)
}

/// [`measure`] with the test accuracy given (early stopping reads it on
/// other rows than the ones it scores as OUT).
fn measure_with_accuracy(name: &str, compared_to: Option<&str>, out: &ModelOutputs, accuracy: f64) -> Result<Measured> {
    let (mut lira, mut loss, mut members) = (Vec::new(), Vec::new(), Vec::new());
    for t in 0..out.n_models {
        lira.extend(attacks::lira_online(out, t, Variance::Fixed));
        loss.extend(attacks::metric(out, t, METRICS[0].1));
        members.extend_from_slice(out.members_of(t));
    }
    let lira = Pooled::new(out.n_examples, lira, members)?;
    let lira_roc = lira.roc()?;
    Ok(Measured {
        name: name.into(),
        compared_to: compared_to.map(str::to_string),
        test_accuracy: accuracy,
        lira_auc: lira_roc.auc(),
        lira_tpr_at_0_001: lira_roc.tpr_at(0.001),
        loss_auc: roc_curve(&lira.members, &loss)?.auc(),
        lira,
    })
}

/// The rows each model of an early-stopped population held out for
/// validation, drawn as core's `fit` and `fit_stack` draw them: model `m`
/// trains on `random_half(n, derive_seed(seed, "model-{m}"))` (as
/// [`train_population`] seeds it) and holds out
/// `random_split(half.len(), validation_fraction, derive_seed(model seed,
/// "validation"))` of that half. Two tests pin this to the code it mirrors.
pub fn validation_rows(n: usize, n_models: usize, seed: u64, es: &EarlyStopConfig) -> Result<Vec<Vec<usize>>> {
    (0..n_models)
        .map(|m| {
            let model_seed = derive_seed(seed, &format!("model-{m}"));
            let (half, _) = random_half(n, model_seed);
            let split = reprolab_core::data::split::random_split(
                half.len(),
                es.validation_fraction,
                derive_seed(model_seed, "validation"),
            )?;
            Ok(split.test.iter().map(|&k| half[k]).collect())
        })
        .collect()
}

/// The early-stopping population of `base` trained with `seed`, its
/// validation rows marked OUT, and its test accuracy on the rows outside
/// each model's half (the epoch was chosen on the validation rows).
pub fn early_stopped(
    data: &Dataset,
    base: &PopulationConfig,
    es: &EarlyStopConfig,
    seed: u64,
) -> Result<(ModelOutputs, f64)> {
    let mut early = base.clone();
    early.fit.early_stopping = Some(es.clone());
    let trained = train_population(data, &early, seed)?;
    let accuracy = held_out_accuracy(&trained);
    let rows = validation_rows(data.len(), early.n_models, seed, es)?;
    Ok((validation_rows_out(trained, &rows), accuracy))
}

/// Marks every model's validation rows OUT (see the module docs).
fn validation_rows_out(mut out: ModelOutputs, rows: &[Vec<usize>]) -> ModelOutputs {
    for (m, rows) in rows.iter().enumerate() {
        for &j in rows {
            out.members[m * out.n_examples + j] = false;
        }
    }
    out
}

fn with_l2(mut opt: OptimizerConfig, l2: f32) -> OptimizerConfig {
    match &mut opt {
        OptimizerConfig::Adam { weight_decay, .. }
        | OptimizerConfig::Adamw { weight_decay, .. }
        | OptimizerConfig::Sgd { weight_decay, .. } => *weight_decay = l2,
    }
    opt
}

/// Trains and measures the no-defence population and every defence on
/// `data`, all with `cfg.n_models` models built from `base`. The first
/// entry is the no-defence reference.
pub fn run_defences(data: &Dataset, base: &PopulationConfig, cfg: &DefenceConfig, seed: u64) -> Result<Vec<Measured>> {
    let base = PopulationConfig { n_models: cfg.n_models, ..base.clone() };
    let population = |pc: &PopulationConfig, what: &str| train_population(data, pc, derive_seed(seed, what));
    // Every population draws the same halves and initial weights (same seed),
    // so defences differ from the reference only by the defence.
    let reference = population(&base, "defences")?;
    const NONE: &str = "no defence";
    let mut out = vec![measure(NONE, None, &reference)?];

    let mut l2 = base.clone();
    l2.fit.optimizer = with_l2(l2.fit.optimizer, cfg.l2);
    out.push(measure(&format!("L2 {}", cfg.l2), Some(NONE), &population(&l2, "defences")?)?);

    let dropout = PopulationConfig { dropout: cfg.dropout, ..base.clone() };
    out.push(measure(&format!("dropout {}", cfg.dropout), Some(NONE), &population(&dropout, "defences")?)?);

    let mut smoothing = base.clone();
    smoothing.fit.label_smoothing = cfg.label_smoothing;
    out.push(measure(
        &format!("label smoothing {}", cfg.label_smoothing),
        Some(NONE),
        &population(&smoothing, "defences")?,
    )?);

    let (stopped, accuracy) = early_stopped(data, &base, &cfg.early_stopping, derive_seed(seed, "defences"))?;
    out.push(measure_with_accuracy(
        &format!("early stopping (patience {}, validation rows OUT)", cfg.early_stopping.patience),
        Some(NONE),
        &stopped,
        accuracy,
    )?);

    let dp = PopulationConfig { dp_sgd: Some(cfg.dp_sgd.clone()), ..base.clone() };
    let (_, _, eps) = crate::dp::budget(&cfg.dp_sgd, data.len() / 2);
    out.push(measure(
        &format!(
            "DP-SGD (sigma {}, C {}, epsilon {:.1} at delta {:e})",
            cfg.dp_sgd.noise_multiplier, cfg.dp_sgd.max_grad_norm, eps, cfg.dp_sgd.delta
        ),
        Some(NONE),
        &population(&dp, "defences")?,
    )?);

    out.push(measure("top-1 probability only", Some(NONE), &mask_outputs(&reference, true))?);
    out.push(measure("label only", Some(NONE), &mask_outputs(&reference, false))?);

    // Knowledge distillation needs a reference set outside the evaluated
    // pool, so it is judged against its own no-defence population on the
    // reduced pool (same size, same halves, same initial weights).
    let kd = &cfg.distillation;
    let split = reprolab_core::data::split::random_split(
        data.len(),
        kd.reference_size as f64 / data.len() as f64,
        derive_seed(seed, "kd-reference"),
    )?;
    let (pool, reference) = (data.subset(&split.train), data.subset(&split.test));
    const KD_NONE: &str = "no defence (distillation pool)";
    let kd_seed = derive_seed(seed, "distillation");
    out.push(measure(KD_NONE, None, &train_population(&pool, &base, kd_seed)?)?);
    out.push(measure(
        &format!("knowledge distillation ({} reference rows, T {})", reference.len(), kd.temperature),
        Some(KD_NONE),
        &crate::distill::distilled_population(&pool, &reference, &base, kd, kd_seed)?,
    )?);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reprolab_core::train::classifier::FitConfig;

    /// A small MLP population on breast cancer (569 rows).
    fn small(n_models: usize, epochs: usize) -> (Dataset, PopulationConfig) {
        let data = crate::pool::standardised("breast-cancer").unwrap();
        let pc = PopulationConfig {
            n_models,
            architecture: Default::default(),
            hidden: vec![16],
            dropout: 0.0,
            fit: FitConfig {
                epochs,
                batch_size: 64,
                optimizer: OptimizerConfig::adam(1e-2),
                schedule: Default::default(),
                label_smoothing: 0.0,
                early_stopping: None,
            },
            boundary: None,
            dp_sgd: None,
            lira_queries: None,
        };
        (data, pc)
    }

    const ES: EarlyStopConfig = EarlyStopConfig { validation_fraction: 0.1, patience: 2 };

    /// The validation rows `validation_rows` names are the ones core's
    /// `fit_stack` validates on: after one epoch each model's recorded
    /// validation loss is its mean cross-entropy on exactly those rows.
    #[test]
    fn validation_rows_are_the_rows_fit_stack_validates_on() {
        let (data, pc) = small(2, 1);
        let seed = 11;
        let rows = validation_rows(data.len(), 2, seed, &ES).unwrap();
        let seeds: Vec<u64> = (0..2).map(|m| derive_seed(seed, &format!("model-{m}"))).collect();
        let halves: Vec<Vec<usize>> = seeds.iter().map(|&s| random_half(data.len(), s).0).collect();
        let device = reprolab_core::device::default_device();
        let ad = device.clone().autodiff();
        let dims = crate::shadow::mlp_dims(&data, &pc.hidden);
        let models = seeds.iter().map(|_| reprolab_core::nn::MlpConfig::new(&dims).init(&ad)).collect();
        let fit = FitConfig { early_stopping: Some(ES), ..pc.fit.clone() };
        let (models, histories) =
            reprolab_core::train::fit_stack(models, &data, &halves, &fit, &seeds, &ad, "test").unwrap();
        for m in 0..2 {
            assert_eq!(rows[m].len(), 28, "round(0.1 * 284) rows held out");
            assert!(rows[m].iter().all(|j| halves[m].contains(j)), "validation rows come from the half");
            let logits = reprolab_core::train::classifier::predict_logits(&models[m], &data, &rows[m], &ad);
            let ce = -rows[m]
                .iter()
                .zip(logits.chunks(data.n_classes()))
                .map(|(&j, z)| crate::scores::neg_loss(z, data.labels()[j]))
                .sum::<f64>()
                / rows[m].len() as f64;
            let recorded = histories[m].validation_loss[0];
            assert!((ce - recorded).abs() < 1e-5, "model {m}: {ce} on our rows vs {recorded} recorded");
        }
    }

    /// `validation_rows` seeds model `m` as `train_population` does: its
    /// halves are the population's IN masks.
    #[test]
    fn validation_rows_use_the_population_model_seeds() {
        let (data, pc) = small(2, 1);
        let out = train_population(&data, &pc, 5).unwrap();
        for m in 0..2 {
            let (_, member) = random_half(data.len(), derive_seed(5, &format!("model-{m}")));
            assert_eq!(out.members_of(m), member.as_slice(), "model {m}");
        }
    }

    /// Validation rows are scored as non-members: every model keeps 256 of
    /// its 284 half rows IN, none of its validation rows and nothing outside
    /// its half; the test accuracy is read outside the half.
    #[test]
    fn early_stopping_scores_validation_rows_as_non_members() {
        let (data, pc) = small(3, 30);
        let seed = 3;
        let (out, accuracy) = early_stopped(&data, &pc, &ES, seed).unwrap();
        let rows = validation_rows(data.len(), 3, seed, &ES).unwrap();
        let mut test_acc = Vec::new();
        for (m, rows) in rows.iter().enumerate() {
            let (half, _) = random_half(data.len(), derive_seed(seed, &format!("model-{m}")));
            let members = out.members_of(m);
            assert_eq!(members.iter().filter(|&&x| x).count(), 284 - 28, "model {m}");
            assert!(rows.iter().all(|&j| !members[j]), "model {m}: a validation row is IN");
            assert!((0..data.len()).all(|j| !members[j] || half.contains(&j)), "model {m}: IN outside the half");
            let outside: Vec<usize> = (0..data.len()).filter(|j| !half.contains(j)).collect();
            let hits = outside.iter().filter(|&&j| crate::scores::correctness(out.logits(m, j), out.labels[j]) == 1.0);
            test_acc.push(hits.count() as f64 / outside.len() as f64);
        }
        // test accuracy is read outside the halves, not on the validation rows
        assert!((accuracy - reprolab_core::stats::mean(&test_acc)).abs() < 1e-12);
    }

    #[test]
    fn masking_keeps_the_argmax_and_hides_the_rest() {
        let out = ModelOutputs {
            n_models: 1,
            n_examples: 1,
            n_classes: 3,
            logits: vec![0.0, 2.0, 1.0],
            members: vec![true],
            labels: vec![0],
            robustness: vec![],
            n_queries: 0,
            query_logits: vec![],
        };
        let p = crate::scores::softmax(&out.logits);
        let top1 = mask_outputs(&out, true);
        assert!((top1.logits[1] as f64 - p[1].ln()).abs() < 1e-6);
        assert!(top1.logits[0] < -60.0 && top1.logits[2] < -60.0);
        let label = mask_outputs(&out, false);
        assert_eq!(label.logits[1], 0.0);
        assert_eq!(crate::scores::correctness(&label.logits, 1), 1.0);
    }
}

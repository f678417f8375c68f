//! The knowledge-distillation defence (Distillation for Membership Privacy,
//! Shejwalkar & Houmansadr 2021): a teacher trains on the private half; the
//! released student learns only the teacher's soft labels on a separate
//! reference set, so it never sees a private example.
//!
//! The reference set is carved out of the data once (seeded) and is never
//! part of the evaluated pool. Students never train on an evaluated
//! non-member, which would flatter the defence.

use crate::shadow::{ModelOutputs, PopulationConfig, mlp_dims, random_half};
use anyhow::Result;
use burn::tensor::activation::{log_softmax, softmax};
use burn::tensor::{Tensor, TensorData};
use reprolab_core::data::Dataset;
use reprolab_core::data::batch::shuffled_batches;
use reprolab_core::nn::{Mlp, MlpConfig};
use reprolab_core::registry::Validate;
use reprolab_core::rng::{derive_seed, rng};
use reprolab_core::train::classifier::{fit, predict_logits};
use reprolab_core::train::train_epoch;
use serde::Deserialize;

/// The defence's settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DistillationConfig {
    /// Rows held out of the pool as the (unlabelled) reference set, at
    /// least 1 and fewer than the pool (paper: not stated; presets: 300
    /// smoke, 400 otherwise).
    pub reference_size: usize,
    /// Softmax temperature of the teacher's soft labels (and the student's
    /// loss), positive (paper: not stated; presets: 1.0).
    pub temperature: f32,
}

impl Validate for DistillationConfig {
    fn validate(&self) -> Result<()> {
        anyhow::ensure!(self.reference_size >= 1, "reference_size must be at least 1, got {}", self.reference_size);
        anyhow::ensure!(
            self.temperature.is_finite() && self.temperature > 0.0,
            "temperature must be positive, got {}",
            self.temperature
        );
        Ok(())
    }
}

/// Trains `student` on `reference` rows to match `soft` targets (row-major
/// `[n, C]` probabilities): cross-entropy with soft labels at temperature T.
fn fit_soft(
    mut student: Mlp,
    reference: &Dataset,
    soft: &[f32],
    base: &PopulationConfig,
    t: f32,
    seed: u64,
) -> Result<Mlp> {
    let device = reprolab_core::device::default_device().autodiff();
    let c = soft.len() / reference.len();
    let mut optim = base.fit.optimizer.build();
    let mut r = rng(derive_seed(seed, "student-batches"));
    let mut step = 0;
    for epoch in 0..base.fit.epochs {
        let batches = shuffled_batches(reference.len(), base.fit.batch_size, false, &mut r);
        (student, _) = train_epoch(
            student,
            &mut optim,
            batches,
            &mut step,
            |_| base.fit.optimizer.lr(),
            &format!("student, epoch {epoch}"),
            |model, batch| {
                let x = reference.features_tensor(batch, &device);
                let targets: Vec<f32> = batch.iter().flat_map(|&i| soft[i * c..(i + 1) * c].iter().copied()).collect();
                let targets = Tensor::<2>::from_data(TensorData::new(targets, [batch.len(), c]), &device);
                let log_p = log_softmax(model.forward(x).div_scalar(t), 1);
                (targets * log_p).sum_dim(1).mean().neg()
            },
        )?;
    }
    Ok(student)
}

/// A population of distilled students on `pool`: model m's teacher trains
/// on the same random half a `train_population` call with `seed` would
/// draw, so the two populations are directly comparable.
pub fn distilled_population(
    pool: &Dataset,
    reference: &Dataset,
    base: &PopulationConfig,
    cfg: &DistillationConfig,
    seed: u64,
) -> Result<ModelOutputs> {
    let n = pool.len();
    let device = reprolab_core::device::default_device();
    let ad = device.clone().autodiff();
    let dims = mlp_dims(pool, &base.hidden);
    let all: Vec<usize> = (0..n).collect();
    let reference_rows: Vec<usize> = (0..reference.len()).collect();
    let mut out = ModelOutputs::empty(base.n_models, pool);
    let bar = reprolab_core::progress::bar(base.n_models as u64, "distilled students");
    for m in 0..base.n_models {
        let model_seed = derive_seed(seed, &format!("model-{m}"));
        let (train, member) = random_half(n, model_seed);
        device.seed(derive_seed(model_seed, "init"));
        let teacher = MlpConfig::new(&dims).init(&ad);
        let (teacher, _) = fit(teacher, pool, &train, &base.fit, model_seed, &ad, "teacher")?;
        let logits = predict_logits(&teacher, reference, &reference_rows, &ad);
        let c = pool.n_classes();
        let soft: Vec<f32> = logits
            .chunks(c)
            .flat_map(|z| {
                let z = Tensor::<1>::from_data(TensorData::new(z.to_vec(), [c]), &device).div_scalar(cfg.temperature);
                softmax(z, 0).into_data().try_to_vec::<f32>().expect("f32")
            })
            .collect();
        device.seed(derive_seed(model_seed, "student-init"));
        let student = fit_soft(MlpConfig::new(&dims).init(&ad), reference, &soft, base, cfg.temperature, model_seed)?;
        out.logits.extend(predict_logits(&student, pool, &all, &ad));
        out.members.extend(member);
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reprolab_core::train::OptimizerConfig;
    use reprolab_core::train::classifier::{FitConfig, argmax_rows};

    #[test]
    fn a_student_learns_its_teachers_labels_from_soft_targets_alone() {
        let mut data = reprolab_core::data::embedded::digits().unwrap();
        data.features.iter_mut().for_each(|v| *v /= 16.0);
        let (pool, reference) =
            (data.subset(&(0..400).collect::<Vec<_>>()), data.subset(&(400..700).collect::<Vec<_>>()));
        let base = PopulationConfig {
            architecture: Default::default(),
            n_models: 1,
            hidden: vec![64],
            dropout: 0.0,
            fit: FitConfig {
                epochs: 30,
                batch_size: 64,
                optimizer: OptimizerConfig::adam(3e-3),
                schedule: Default::default(),
                label_smoothing: 0.0,
                early_stopping: None,
            },
            boundary: None,
            dp_sgd: None,
            lira_queries: None,
        };
        let cfg = DistillationConfig { reference_size: 300, temperature: 1.0 };
        let students = distilled_population(&pool, &reference, &base, &cfg, 7).unwrap();
        // the student, never shown a label, still classifies the pool well
        let pred = argmax_rows(&students.logits, 10);
        let acc = reprolab_core::metrics::accuracy(pool.labels(), &pred).unwrap();
        assert!(acc > 0.8, "student accuracy {acc}");
        assert_eq!(students.members.iter().filter(|&&m| m).count(), 200);
    }
}

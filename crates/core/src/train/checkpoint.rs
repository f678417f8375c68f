//! Checkpoints a run can resume from: the model as safetensors (readable
//! from Python), the optimiser state (burn's record format) and a small
//! JSON training state. Every file is written to a temporary name and
//! renamed; `state.json` is written last, so a checkpoint without it is
//! incomplete and ignored.
//!
//! burn keys optimiser state by parameter id, and safetensors stores names,
//! not ids: `state.json` therefore records the model's parameter ids in
//! traversal order and [`Checkpoint::load_model`] gives them back, so a
//! reloaded optimiser finds its moments and a resumed run continues exactly.

use crate::report::write_bytes_atomic;
use anyhow::{Context, Result};
use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::optim::ModuleOptimizer;
use burn::store::{ModuleSnapshot, SafetensorsStore};
use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Where training stood when the checkpoint was written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct TrainState {
    pub step: usize,
    pub epoch: usize,
    /// Best validation metric so far, if tracked.
    pub best: Option<f64>,
    /// Anything else the method wants back on resume.
    #[serde(default)]
    pub extra: serde_json::Value,
    /// The model's parameter ids in traversal order (filled by [`Checkpoint::save`]).
    #[serde(default)]
    pub param_ids: Vec<u64>,
}

struct CollectIds(Vec<u64>);

impl ModuleVisitor for CollectIds {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.0.push(param.id.val());
    }
}

struct RestoreIds<'a>(std::slice::Iter<'a, u64>);

impl ModuleMapper for RestoreIds<'_> {
    fn map_float<const D: usize>(&mut self, mut param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        if let Some(&id) = self.0.next() {
            param.id = ParamId::from(id);
        }
        param
    }
}

/// Counts parameters holding a NaN or an infinity (see [`Checkpoint::load_model`]).
struct NonFinite(usize);

impl ModuleVisitor for NonFinite {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let values: Vec<f32> = param.val().into_data().try_to_vec().unwrap_or_default();
        if values.iter().any(|v| !v.is_finite()) {
            self.0 += 1;
        }
    }
}

fn param_ids<M: Module>(model: &M) -> Vec<u64> {
    let mut ids = CollectIds(Vec::new());
    model.visit(&mut ids);
    ids.0
}

/// A checkpoint directory.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    pub dir: PathBuf,
}

impl Checkpoint {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    pub fn model_path(&self) -> PathBuf {
        self.dir.join("model.safetensors")
    }

    fn optimizer_path(&self) -> PathBuf {
        self.dir.join("optimizer.bpk")
    }

    fn state_path(&self) -> PathBuf {
        self.dir.join("state.json")
    }

    /// Saves the model, the optimiser (if given) and the state.
    pub fn save<M: Module>(&self, model: &M, optimizer: Option<&ModuleOptimizer>, state: &TrainState) -> Result<()> {
        std::fs::create_dir_all(&self.dir)
            .with_context(|| format!("{}: cannot create checkpoint directory", self.dir.display()))?;
        let _ = std::fs::remove_file(self.state_path()); // incomplete until state.json is back
        let tmp = temp_sibling(&self.model_path());
        let mut store = SafetensorsStore::from_file(&tmp).overwrite(true);
        model
            .valid()
            .save_into(&mut store)
            .map_err(|e| anyhow::anyhow!("{}: cannot save model: {e}", tmp.display()))?;
        std::fs::rename(&tmp, self.model_path())?;
        if let Some(opt) = optimizer {
            let tmp = temp_sibling(&self.optimizer_path());
            opt.save(&tmp).map_err(|e| anyhow::anyhow!("{}: cannot save optimiser: {e:?}", tmp.display()))?;
            std::fs::rename(&tmp, self.optimizer_path())?;
        }
        let state = TrainState { param_ids: param_ids(model), ..state.clone() };
        let json = serde_json::to_vec_pretty(&state)?;
        write_bytes_atomic(&self.state_path(), json)
    }

    /// The saved state, or `None` when there is no complete checkpoint.
    pub fn state(&self) -> Result<Option<TrainState>> {
        let path = self.state_path();
        if !path.exists() || !self.model_path().exists() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(&path)
            .map_err(|e| crate::user_error(format!("{}: cannot read checkpoint state ({e})", path.display())))?;
        let state = serde_json::from_str(&text)
            .map_err(|e| crate::user_error(format!("{}: corrupt checkpoint state ({e})", path.display())))?;
        Ok(Some(state))
    }

    /// Loads the saved weights into `model` (same architecture).
    pub fn load_model<M: Module>(&self, mut model: M) -> Result<M> {
        let path = self.model_path();
        if !path.exists() {
            crate::user_bail!("{}: no such checkpoint", path.display());
        }
        let mut store = SafetensorsStore::from_file(&path);
        let applied = model
            .load_from(&mut store)
            .map_err(|e| crate::user_error(format!("{}: cannot load ({e})", path.display())))?;
        if !applied.errors.is_empty() || !applied.missing.is_empty() {
            crate::user_bail!(
                "{}: does not match the model (missing {:?}, errors {:?})",
                path.display(),
                applied.missing,
                applied.errors
            );
        }
        // A damaged file (a flipped exponent bit) or a run saved after it
        // diverged: weights that are not finite would only evaluate to NaN.
        let mut bad = NonFinite(0);
        model.visit(&mut bad);
        if bad.0 > 0 {
            crate::user_bail!("{}: {} tensors hold NaN or infinite weights", path.display(), bad.0);
        }
        match self.state()? {
            Some(state) if state.param_ids.len() == param_ids(&model).len() => {
                Ok(model.map(&mut RestoreIds(state.param_ids.iter())))
            }
            _ => Ok(model),
        }
    }

    /// Loads the saved optimiser state into `optimizer`.
    pub fn load_optimizer(&self, optimizer: ModuleOptimizer) -> Result<ModuleOptimizer> {
        let path = self.optimizer_path();
        optimizer
            .load(&path)
            .map_err(|e| crate::user_error(format!("{}: cannot load optimiser state ({e:?})", path.display())))
    }
}

fn temp_sibling(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::MlpConfig;

    #[test]
    fn round_trip_restores_weights_exactly() {
        let dev = crate::device::default_device();
        let dir = tempfile::tempdir().unwrap();
        let ck = Checkpoint::new(dir.path().join("ck"));
        assert!(ck.state().unwrap().is_none());
        let a = MlpConfig::new(&[4, 8, 3]).init(&dev);
        let state = TrainState {
            step: 12,
            epoch: 2,
            best: Some(0.9),
            extra: serde_json::json!({"note": 1}),
            param_ids: vec![],
        };
        ck.save(&a, None, &state).unwrap();
        let saved = ck.state().unwrap().unwrap();
        assert_eq!(saved, TrainState { param_ids: param_ids(&a), ..state });
        let b = ck.load_model(MlpConfig::new(&[4, 8, 3]).init(&dev)).unwrap();
        let wa: Vec<f32> = a.layers[1].weight.val().into_data().try_to_vec().unwrap();
        let wb: Vec<f32> = b.layers[1].weight.val().into_data().try_to_vec().unwrap();
        assert_eq!(wa, wb);
        let entries: Vec<_> = std::fs::read_dir(&ck.dir).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert!(entries.iter().all(|n| !n.to_string_lossy().contains(".tmp-")), "{entries:?}");
    }

    /// Training 6 steps straight equals training 3, checkpointing model and
    /// Adam state, reloading both into fresh objects and training 3 more.
    #[test]
    fn resume_from_checkpoint_continues_exactly() {
        use crate::train::OptimizerConfig;
        use crate::train::classifier::train_step;
        use burn::tensor::{Int, Tensor, TensorData};
        let dev = crate::device::default_device();
        let ad = dev.clone().autodiff();
        let x = Tensor::<2>::from_data(
            TensorData::new((0..24).map(|i| (i as f32 * 0.37).sin()).collect::<Vec<_>>(), [6, 4]),
            &ad,
        );
        let y = Tensor::<1, Int>::from_data(TensorData::new(vec![0i64, 1, 2, 0, 1, 2], [6]), &ad);
        let steps = |mut m: crate::nn::Mlp, opt: &mut burn::optim::ModuleOptimizer, n: usize| {
            for _ in 0..n {
                m = train_step(m, opt, 0.01, x.clone(), y.clone()).0;
            }
            m
        };
        dev.seed(5);
        let init = MlpConfig::new(&[4, 8, 3]).init(&ad);
        let mut opt = OptimizerConfig::adam(0.01).build();
        let straight = steps(init.clone(), &mut opt, 6);

        let mut opt = OptimizerConfig::adam(0.01).build();
        let half = steps(init, &mut opt, 3);
        let dir = tempfile::tempdir().unwrap();
        let ck = Checkpoint::new(dir.path());
        ck.save(&half, Some(&opt), &TrainState { step: 3, ..Default::default() }).unwrap();
        let fresh_model = ck.load_model(MlpConfig::new(&[4, 8, 3]).init(&ad)).unwrap();
        let mut fresh_opt = ck.load_optimizer(OptimizerConfig::adam(0.01).build()).unwrap();
        assert_eq!(ck.state().unwrap().unwrap().step, 3);
        let resumed = steps(fresh_model, &mut fresh_opt, 3);

        let a: Vec<f32> = straight.layers[0].weight.val().into_data().try_to_vec().unwrap();
        let b: Vec<f32> = resumed.layers[0].weight.val().into_data().try_to_vec().unwrap();
        let max_diff = a.iter().zip(&b).map(|(p, q)| (p - q).abs()).fold(0.0f32, f32::max);
        assert!(max_diff < 1e-6, "resumed run diverged by {max_diff}");
    }

    #[test]
    fn mismatched_architecture_is_an_error() {
        let dev = crate::device::default_device();
        let dir = tempfile::tempdir().unwrap();
        let ck = Checkpoint::new(dir.path());
        ck.save(&MlpConfig::new(&[4, 8, 3]).init(&dev), None, &TrainState::default()).unwrap();
        assert!(ck.load_model(MlpConfig::new(&[4, 5, 3]).init(&dev)).is_err());
    }
}

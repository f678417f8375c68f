//! `reprolab export --format pytorch` of an `offline-rl train` checkpoint:
//! the actor as `bench/export/reprolab_torch.py:Actor`, a whole policy
//! (raw observation in, action in the environment's units out).
//!
//! The network's layers `net.layers.{i}` become `net.{2 i}`, the indices
//! of an `nn.Sequential` with a ReLU between Linear layers (CORL's TD3+BC
//! actor is named the same way), and the normaliser and action bounds of the
//! checkpoint's state travel as the module's buffers `obs_mean`, `obs_std`
//! and `action_scale`, so the PyTorch module acts exactly as
//! [`crate::eval::Policy::act`].

use crate::tools::load_policy;
use anyhow::Result;
use reprolab_core::export::TorchExport;
use std::path::Path;

/// The PyTorch class the file loads into.
pub const TORCH_MODULE: &str = "bench/export/reprolab_torch.py:Actor";

/// The actor checkpointed in `dir` in PyTorch's names and layouts.
pub fn torch_export(dir: &Path) -> Result<TorchExport> {
    let (actor, meta) = load_policy(dir)?;
    let mut export = TorchExport::of_module(&actor)?;
    for i in 0..actor.net.layers.len() {
        export.rename_prefix(&format!("net.layers.{i}."), &format!("net.{}.", 2 * i))?;
    }
    let (od, ad) = (meta.obs_dim, meta.act_dim);
    export.insert("obs_mean", vec![od], meta.norm.mean.clone());
    export.insert("obs_std", vec![od], meta.norm.std.clone());
    export.insert("action_scale", vec![ad], meta.action_scale.clone());
    let config = serde_json::json!({
        "obs_dim": od,
        "act_dim": ad,
        "hidden": meta.hidden,
        "stochastic": meta.stochastic,
    });
    export.describe("offline-rl", dir, TORCH_MODULE, &config);
    export.metadata.insert("reprolab.algo".into(), meta.algo.name().into());
    Ok(export)
}

/// [`reprolab_core::registry::Method::export`] of offline-rl.
pub fn export_pytorch(dir: &Path, out: &Path) -> Result<String> {
    let export = torch_export(dir)?;
    export.write(out)?;
    Ok(export.summary(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::Normaliser;
    use crate::nets::Actor;
    use crate::td3::Algo;
    use crate::tools::PolicyMeta;
    use reprolab_core::export::{META_CONFIG, META_METHOD, META_MODULE, transpose};
    use reprolab_core::train::Checkpoint;
    use reprolab_core::train::checkpoint::TrainState;

    /// A freshly initialised actor checkpointed as `offline-rl train` does.
    fn checkpoint(dir: &Path, stochastic: bool) -> Actor {
        let dev = reprolab_core::device::default_device();
        let actor = Actor::new(3, 2, &[8, 6], stochastic, &dev);
        let meta = PolicyMeta {
            env: None,
            algo: Algo::Td3Bc,
            obs_dim: 3,
            act_dim: 2,
            hidden: vec![8, 6],
            stochastic,
            norm: Normaliser { mean: vec![0.5, -1.0, 2.0], std: vec![1.5, 0.25, 3.0] },
            action_scale: vec![2.0, 0.5],
            datasets: vec![],
            curve: vec![],
            behaviour_validation_log_likelihood: None,
        };
        let state = TrainState { step: 7, extra: serde_json::to_value(&meta).unwrap(), ..Default::default() };
        Checkpoint::new(dir).save(&actor, None, &state).unwrap();
        actor
    }

    #[test]
    fn the_actor_exports_under_sequential_names_with_transposed_weights() {
        let dir = tempfile::tempdir().unwrap();
        let actor = checkpoint(dir.path(), true);
        let out = dir.path().join("actor.safetensors");
        let line = export_pytorch(dir.path(), &out).unwrap();
        assert!(line.contains("9 tensors") && line.contains(TORCH_MODULE), "{line}");
        let back = TorchExport::read(&out).unwrap();
        let shapes: Vec<(&str, &[usize])> =
            back.tensors.iter().map(|(n, t)| (n.as_str(), t.shape.as_slice())).collect();
        let want: Vec<(&str, &[usize])> = vec![
            ("action_scale", &[2]),
            ("net.0.bias", &[8]),
            ("net.0.weight", &[8, 3]),
            ("net.2.bias", &[6]),
            ("net.2.weight", &[6, 8]),
            ("net.4.bias", &[4]),
            ("net.4.weight", &[4, 6]),
            ("obs_mean", &[3]),
            ("obs_std", &[3]),
        ];
        assert_eq!(shapes, want);
        for (i, layer) in actor.net.layers.iter().enumerate() {
            let [fan_in, fan_out] = layer.weight.dims();
            let w: Vec<f32> = layer.weight.val().into_data().try_to_vec().unwrap();
            assert_eq!(back.tensors[&format!("net.{}.weight", 2 * i)].data, transpose(&w, fan_in, fan_out));
            let b: Vec<f32> = layer.bias.as_ref().unwrap().val().into_data().try_to_vec().unwrap();
            assert_eq!(back.tensors[&format!("net.{}.bias", 2 * i)].data, b);
        }
        assert_eq!(back.tensors["obs_std"].data, vec![1.5, 0.25, 3.0]);
        assert_eq!(back.tensors["action_scale"].data, vec![2.0, 0.5]);
        assert_eq!(back.metadata[META_METHOD], "offline-rl");
        assert_eq!(back.metadata[META_MODULE], TORCH_MODULE);
        let config: serde_json::Value = serde_json::from_str(&back.metadata[META_CONFIG]).unwrap();
        assert_eq!(config, serde_json::json!({"obs_dim": 3, "act_dim": 2, "hidden": [8, 6], "stochastic": true}));
        assert_eq!(back.metadata["reprolab.algo"], "td3-bc");
    }

    #[test]
    fn a_missing_or_foreign_checkpoint_is_a_user_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("x.safetensors");
        let missing = dir.path().join("none");
        let err = export_pytorch(&missing, &out).unwrap_err();
        assert!(
            reprolab_core::is_user_error(&err) && err.to_string().contains(&missing.display().to_string()),
            "{err}"
        );
        // another method's checkpoint: a model whose state is not a policy
        let other = dir.path().join("other");
        let dev = reprolab_core::device::default_device();
        let mlp = reprolab_core::nn::MlpConfig::new(&[4, 2]).init(&dev);
        let state = TrainState { extra: serde_json::json!({"d_model": 16}), ..Default::default() };
        Checkpoint::new(&other).save(&mlp, None, &state).unwrap();
        let err = export_pytorch(&other, &out).unwrap_err();
        assert!(reprolab_core::is_user_error(&err) && err.to_string().contains("not an offline-rl policy"), "{err}");
        assert!(!out.exists());
    }
}

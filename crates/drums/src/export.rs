//! `reprolab export --format pytorch` of a `drums train` model: the groove
//! Transformer as `bench/export/reprolab_torch.py:Lm`, whose parameter
//! names are burn's own (`blocks.0.attention.query.weight`,
//! `blocks.0.mlp.layers.1.bias`, ...); only the layouts change (Linear
//! weights to `[out, in]`, LayerNorm `gamma`/`beta` to `weight`/`bias`).
//! The token and position embeddings are `[num, d_model]` in both.

use crate::tokens::VOCAB;
use anyhow::Result;
use reprolab_core::export::TorchExport;
use std::path::Path;

/// The PyTorch class the file loads into.
pub const TORCH_MODULE: &str = "bench/export/reprolab_torch.py:Lm";

/// The model saved in `dir` in PyTorch's names and layouts.
pub fn torch_export(dir: &Path) -> Result<TorchExport> {
    let (model, cfg) = crate::model::load(dir, &reprolab_core::device::default_device())?;
    let mut export = TorchExport::of_module(&model)?;
    let config = serde_json::json!({
        "vocab": VOCAB,
        "d_model": cfg.d_model,
        "n_heads": cfg.n_heads,
        "n_layers": cfg.n_layers,
        "context": cfg.context,
    });
    export.describe("drums", dir, TORCH_MODULE, &config);
    Ok(export)
}

/// [`reprolab_core::registry::Method::export`] of drums.
pub fn export_pytorch(dir: &Path, out: &Path) -> Result<String> {
    let export = torch_export(dir)?;
    export.write(out)?;
    Ok(export.summary(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lm::LmConfig;
    use reprolab_core::export::{META_CONFIG, META_METHOD, transpose};

    #[test]
    fn the_lm_exports_every_layer_in_pytorch_layout() {
        let dev = reprolab_core::device::default_device();
        let cfg = LmConfig { d_model: 8, n_heads: 2, n_layers: 2, context: 12 };
        let model = cfg.init(&dev);
        let dir = tempfile::tempdir().unwrap();
        crate::model::save(&model, &cfg, dir.path()).unwrap();
        let out = dir.path().join("lm.safetensors");
        let line = export_pytorch(dir.path(), &out).unwrap();
        assert!(line.contains(TORCH_MODULE), "{line}");
        let back = TorchExport::read(&out).unwrap();
        let shape = |n: &str| back.tensors.get(n).map(|t| t.shape.clone()).unwrap_or_else(|| panic!("no {n}"));
        // 2 embeddings, 2 x 16 per block, final norm and head
        assert_eq!(back.tensors.len(), 2 + 2 * 16 + 4);
        assert_eq!(shape("tokens.weight"), vec![VOCAB, 8]);
        assert_eq!(shape("positions.weight"), vec![12, 8]);
        assert_eq!(shape("head.weight"), vec![VOCAB, 8], "[out, in]");
        assert_eq!(shape("norm.weight"), vec![8]);
        assert_eq!(shape("blocks.1.mlp.layers.0.weight"), vec![32, 8]);
        assert_eq!(shape("blocks.1.mlp.layers.1.weight"), vec![8, 32]);
        for p in ["query", "key", "value", "output"] {
            assert_eq!(shape(&format!("blocks.0.attention.{p}.weight")), vec![8, 8]);
            assert_eq!(shape(&format!("blocks.0.attention.{p}.bias")), vec![8]);
        }
        for n in ["norm1", "norm2"] {
            assert_eq!(shape(&format!("blocks.1.{n}.weight")), vec![8]);
            assert_eq!(shape(&format!("blocks.1.{n}.bias")), vec![8]);
        }
        let data = |t: &burn::tensor::Tensor<2>| -> Vec<f32> { t.clone().into_data().try_to_vec().unwrap() };
        let head = data(&model.head.weight.val());
        assert_eq!(back.tensors["head.weight"].data, transpose(&head, 8, VOCAB));
        let query = data(&model.blocks[1].attention.query.weight.val());
        assert_eq!(back.tensors["blocks.1.attention.query.weight"].data, transpose(&query, 8, 8));
        let fc2 = data(&model.blocks[0].mlp.layers[1].weight.val());
        assert_eq!(back.tensors["blocks.0.mlp.layers.1.weight"].data, transpose(&fc2, 32, 8));
        assert_eq!(
            back.tensors["tokens.weight"].data,
            data(&model.tokens.weight.val()),
            "embeddings are not transposed"
        );
        let beta: Vec<f32> = model.norm.beta.as_ref().unwrap().val().into_data().try_to_vec().unwrap();
        assert_eq!(back.tensors["norm.bias"].data, beta);
        assert_eq!(back.metadata[META_METHOD], "drums");
        let config: serde_json::Value = serde_json::from_str(&back.metadata[META_CONFIG]).unwrap();
        assert_eq!(
            config,
            serde_json::json!({"vocab": VOCAB, "d_model": 8, "n_heads": 2, "n_layers": 2, "context": 12})
        );
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
        let other = dir.path().join("other");
        let dev = reprolab_core::device::default_device();
        let mlp = reprolab_core::nn::MlpConfig::new(&[4, 2]).init(&dev);
        let state = reprolab_core::train::checkpoint::TrainState {
            extra: serde_json::json!({"obs_dim": 3, "act_dim": 1}),
            ..Default::default()
        };
        reprolab_core::train::Checkpoint::new(&other).save(&mlp, None, &state).unwrap();
        let err = export_pytorch(&other, &out).unwrap_err();
        assert!(reprolab_core::is_user_error(&err) && err.to_string().contains("no model config"), "{err}");
        assert!(!out.exists());
    }
}

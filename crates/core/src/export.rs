//! A model written for PyTorch users: safetensors whose tensor names and
//! layouts are what `load_state_dict(strict=True)` of the matching PyTorch
//! module (bench/export/reprolab_torch.py) expects.
//!
//! burn and PyTorch disagree in two places, both handled by burn's own
//! `BurnToPyTorchAdapter` as the model is collected: a `Linear` weight is
//! `[in, out]` in burn and `[out, in]` in PyTorch (transposed), and a norm
//! layer's `gamma`/`beta` are PyTorch's `weight`/`bias` (renamed; burn's
//! adapter misses `InstanceNorm`, which [`InstanceNormNames`] adds).
//! `Embedding` (`[num, dim]`) and `Conv2d` (`[out, in / groups, k, k]`)
//! weights have the same layout in both. (A `BatchNorm` would still lack
//! PyTorch's `num_batches_tracked` buffer; no exported model has one.) Anything else (a PyTorch
//! `nn.Sequential`'s numbering, buffers the PyTorch module keeps) is the
//! method's to rename or add, since only it knows its module.
//!
//! The file's `__metadata__` names the method, the source checkpoint and the
//! PyTorch module with its constructor arguments, so a loader can build the
//! module from the file alone.

use anyhow::{Context, Result};
use burn::module::Module;
use burn::store::burn_pack::Tensor as PackTensor;
use burn::store::{BurnToPyTorchAdapter, ModuleAdapter, ModuleContext, ModuleSnapshot, SafetensorsStore};
use safetensors::{Dtype, SafeTensors, tensor::TensorView};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// Metadata key of the method that trained the model.
pub const META_METHOD: &str = "reprolab.method";
/// Metadata key of the checkpoint directory the file was exported from.
pub const META_CHECKPOINT: &str = "reprolab.checkpoint";
/// Metadata key of the PyTorch class ("bench/export/reprolab_torch.py:Lm").
pub const META_MODULE: &str = "pytorch.module";
/// Metadata key of the class's constructor arguments, a JSON object.
pub const META_CONFIG: &str = "pytorch.config";

/// Renames an `InstanceNorm`'s `gamma`/`beta` to PyTorch's `weight`/`bias`
/// (`nn.InstanceNorm2d(affine=True)`), which `BurnToPyTorchAdapter` leaves.
#[derive(Debug, Clone, Copy)]
pub struct InstanceNormNames;

impl ModuleAdapter for InstanceNormNames {
    fn adapt(&self, mut tensor: PackTensor, ctx: ModuleContext<'_>) -> PackTensor {
        if ctx.module_type() == Some("Struct:InstanceNorm") {
            let (head, param) = tensor.name.rsplit_once('.').unwrap_or(("", tensor.name.as_str()));
            let renamed = match param {
                "gamma" => "weight",
                "beta" => "bias",
                _ => return tensor,
            };
            tensor.name = if head.is_empty() { renamed.to_string() } else { format!("{head}.{renamed}") };
        }
        tensor
    }

    fn clone_box(&self) -> Box<dyn ModuleAdapter> {
        Box::new(*self)
    }
}

/// One float tensor in PyTorch's layout (row-major).
#[derive(Debug, Clone, PartialEq)]
pub struct TorchTensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

/// A state dict on its way to a safetensors file.
#[derive(Debug, Clone, Default)]
pub struct TorchExport {
    /// Name -> tensor; sorted, as PyTorch's `state_dict` keys are compared as a set.
    pub tensors: BTreeMap<String, TorchTensor>,
    pub metadata: BTreeMap<String, String>,
}

impl TorchExport {
    /// The parameters of `model` under their burn paths (`blocks.0.norm1.weight`),
    /// Linear weights transposed to `[out, in]`, norm `gamma`/`beta` renamed
    /// `weight`/`bias`.
    pub fn of_module<M: Module>(model: &M) -> Result<Self> {
        let adapter = BurnToPyTorchAdapter.chain(InstanceNormNames);
        let mut store = SafetensorsStore::from_bytes(None).with_to_adapter(adapter);
        model.valid().save_into(&mut store).map_err(|e| anyhow::anyhow!("cannot collect the model's tensors: {e}"))?;
        let bytes = store.get_bytes().map_err(|e| anyhow::anyhow!("cannot collect the model's tensors: {e}"))?;
        let parsed = SafeTensors::deserialize(&bytes)?;
        let mut tensors = BTreeMap::new();
        for (name, view) in parsed.tensors() {
            if view.dtype() != Dtype::F32 {
                anyhow::bail!("{name}: {:?} tensors are not exported (only f32)", view.dtype());
            }
            let data = view.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
            tensors.insert(name, TorchTensor { shape: view.shape().to_vec(), data });
        }
        Ok(Self { tensors, metadata: BTreeMap::new() })
    }

    /// Renames every tensor whose name starts with `from` to start with `to`
    /// instead; an error when none does (the model is not the one assumed).
    pub fn rename_prefix(&mut self, from: &str, to: &str) -> Result<()> {
        let names: Vec<String> = self.tensors.keys().filter(|n| n.starts_with(from)).cloned().collect();
        if names.is_empty() {
            anyhow::bail!("no tensor named {from}* to rename (tensors: {:?})", self.tensors.keys().collect::<Vec<_>>());
        }
        for name in names {
            let tensor = self.tensors.remove(&name).expect("listed above");
            self.tensors.insert(format!("{to}{}", &name[from.len()..]), tensor);
        }
        Ok(())
    }

    /// Adds a tensor (a buffer of the PyTorch module, e.g. a normaliser).
    pub fn insert(&mut self, name: &str, shape: Vec<usize>, data: Vec<f32>) {
        debug_assert_eq!(shape.iter().product::<usize>(), data.len(), "{name}");
        self.tensors.insert(name.to_string(), TorchTensor { shape, data });
    }

    /// Sets the metadata naming the method, the checkpoint `dir`, the
    /// PyTorch class `module` and its constructor arguments `config`.
    pub fn describe(&mut self, method: &str, dir: &Path, module: &str, config: &serde_json::Value) {
        let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
        let entries = [
            // What Hugging Face loaders check a safetensors file for.
            ("format", "pt".to_string()),
            (META_METHOD, method.to_string()),
            (META_CHECKPOINT, dir.display().to_string()),
            (META_MODULE, module.to_string()),
            (META_CONFIG, config.to_string()),
            ("reprolab.version", format!("{} ({})", env!("CARGO_PKG_VERSION"), crate::provenance::build_commit())),
        ];
        self.metadata.extend(entries.into_iter().map(|(k, v)| (k.to_string(), v)));
    }

    /// The safetensors bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>> {
        let bytes: Vec<(String, Vec<u8>)> = self
            .tensors
            .iter()
            .map(|(name, t)| (name.clone(), t.data.iter().flat_map(|v| v.to_le_bytes()).collect()))
            .collect();
        let views = bytes
            .iter()
            .zip(self.tensors.values())
            .map(|((name, b), t)| Ok((name.as_str(), TensorView::new(Dtype::F32, t.shape.clone(), b)?)))
            .collect::<Result<Vec<_>>>()?;
        let metadata: HashMap<String, String> = self.metadata.clone().into_iter().collect();
        Ok(safetensors::serialize(views, Some(metadata))?)
    }

    /// Writes the file atomically (a reader never sees half of it).
    pub fn write(&self, path: &Path) -> Result<()> {
        crate::report::write_bytes_atomic(path, self.to_bytes()?)
            .with_context(|| format!("{}: cannot write", path.display()))
    }

    /// A file written by [`TorchExport::write`], read back (tests, tools).
    ///
    /// Errors are one-line user errors naming the file: the safetensors
    /// crate checks the header against the file's length before anything
    /// is allocated, and tensors other than float32 (what `write` stores)
    /// are refused rather than reinterpreted as f32 bytes.
    pub fn read(path: &Path) -> Result<Self> {
        let shown = path.display();
        let bytes = std::fs::read(path).map_err(|e| crate::user_error(format!("{shown}: cannot read ({e})")))?;
        let bad = |e: safetensors::SafeTensorError| crate::user_error(format!("{shown}: not a safetensors file ({e})"));
        let (_, header) = SafeTensors::read_metadata(&bytes).map_err(bad)?;
        let parsed = SafeTensors::deserialize(&bytes).map_err(bad)?;
        let mut out = TorchExport {
            metadata: header.metadata().clone().unwrap_or_default().into_iter().collect(),
            ..Default::default()
        };
        for (name, view) in parsed.tensors() {
            if view.dtype() != Dtype::F32 {
                crate::user_bail!("{shown}: tensor '{name}' is {:?}, not F32", view.dtype());
            }
            let data = view.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
            out.insert(&name, view.shape().to_vec(), data);
        }
        Ok(out)
    }

    /// One line on what was written.
    pub fn summary(&self, path: &Path) -> String {
        let params: usize = self.tensors.values().map(|t| t.data.len()).sum();
        let module = self.metadata.get(META_MODULE).map(String::as_str).unwrap_or("?");
        format!("{}: {} tensors, {params} values, loads into {module}", path.display(), self.tensors.len())
    }
}

/// A `[rows, cols]` row-major matrix transposed (tests compare burn's
/// `[in, out]` Linear weights with the exported `[out, in]`).
pub fn transpose(data: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    (0..cols).flat_map(|j| (0..rows).map(move |i| data[i * cols + j])).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::EncoderBlockConfig;

    /// Every kind of layer in a transformer block (Linear, LayerNorm) gets
    /// PyTorch's name and layout, values unchanged, and the file round-trips.
    #[test]
    fn linear_weights_are_transposed_and_norms_renamed() {
        let dev = crate::device::default_device();
        let block = EncoderBlockConfig::new(8, 2).init(&dev);
        let mut export = TorchExport::of_module(&block).unwrap();
        let names: Vec<&str> = export.tensors.keys().map(String::as_str).collect();
        let mut want = vec![
            "attention.key.bias",
            "attention.key.weight",
            "attention.output.bias",
            "attention.output.weight",
            "attention.query.bias",
            "attention.query.weight",
            "attention.value.bias",
            "attention.value.weight",
            "mlp.layers.0.bias",
            "mlp.layers.0.weight",
            "mlp.layers.1.bias",
            "mlp.layers.1.weight",
            "norm1.bias",
            "norm1.weight",
            "norm2.bias",
            "norm2.weight",
        ];
        want.sort();
        assert_eq!(names, want);
        let burn_w: Vec<f32> = block.mlp.layers[0].weight.val().into_data().try_to_vec().unwrap();
        let ours = &export.tensors["mlp.layers.0.weight"];
        assert_eq!(ours.shape, vec![32, 8], "[out, in]");
        assert_eq!(ours.data, transpose(&burn_w, 8, 32));
        let gamma: Vec<f32> = block.norm1.gamma.val().into_data().try_to_vec().unwrap();
        assert_eq!(export.tensors["norm1.weight"].data, gamma);

        export.rename_prefix("mlp.layers.", "mlp.").unwrap();
        assert!(export.tensors.contains_key("mlp.1.weight") && !export.tensors.contains_key("mlp.layers.1.weight"));
        assert!(export.rename_prefix("nothing.", "x.").is_err());
        export.insert("scale", vec![2], vec![1.0, 2.0]);
        let dir = tempfile::tempdir().unwrap();
        export.describe("toy", dir.path(), "m.py:Block", &serde_json::json!({"d": 8}));
        let path = dir.path().join("b.safetensors");
        export.write(&path).unwrap();
        let back = TorchExport::read(&path).unwrap();
        assert_eq!(back.tensors, export.tensors);
        assert_eq!(back.metadata[META_CONFIG], r#"{"d":8}"#);
        assert_eq!(back.metadata["format"], "pt");
    }

    /// Conv2d weights keep their `[out, in, k, k]` layout; the instance
    /// norm after them is renamed too.
    #[test]
    fn conv_weights_keep_their_layout_and_instance_norms_are_renamed() {
        let dev = crate::device::default_device();
        let block = crate::nn::ConvBlockConfig::new(3, 4).init(&dev);
        let export = TorchExport::of_module(&block).unwrap();
        let names: Vec<&str> = export.tensors.keys().map(String::as_str).collect();
        assert_eq!(names, ["conv.bias", "conv.weight", "norm.bias", "norm.weight"]);
        let w: Vec<f32> = block.conv.weight.val().into_data().try_to_vec().unwrap();
        assert_eq!(export.tensors["conv.weight"], TorchTensor { shape: vec![4, 3, 3, 3], data: w });
    }

    #[test]
    fn transpose_of_a_2x3() {
        assert_eq!(transpose(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 2, 3), vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
    }
}
